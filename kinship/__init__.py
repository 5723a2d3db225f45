"""kinship: exact forensic STR kinship likelihood ratios.

Public API (stable):

    import kinship
    freqs = kinship.FrequencyTable.load()             # NIST 1036 U.S. (default)
    r = kinship.likelihood_ratio(h1, h2, genotypes=..., frequencies=freqs,
                                 mutation=kinship.MutationModel(kinship.Stepwise(rate=0.002)),
                                 theta=0.01)
    r.total, r.per_locus, r.inconsistent

Numba kernels live in ``kinship.kernels`` and are imported lazily: ``import
kinship`` compiles nothing, and imports none of its modules until one of their
names is used (PEP 562, :mod:`kinship._lazy`).
"""
from ._lazy import lazy_attributes

__version__ = "0.1.0"

# loaded on first use (kinship._lazy): ``import kinship`` imports no numpy
__getattr__, __dir__ = lazy_attributes(__name__, {
    "frequencies": ("FrequencyError", "FrequencyTable", "MissingAlleleError", "populations"),
    "likelihood": ("GenotypeError", "LRResult", "likelihood_ratio", "posterior"),
    "markers": ("AlleleError", "LocusError", "canonical_locus", "get_kit", "kits",
                "normalize_allele"),
    "mutation": ("Custom", "Equal", "ExtendedStepwise", "MutationModel", "Proportional",
                 "Stepwise"),
    "pedigree": ("Pedigree", "PedigreeError"),
}, globals())

__all__ = [
    "AlleleError", "Custom", "Equal", "ExtendedStepwise", "FrequencyError", "FrequencyTable",
    "GenotypeError", "LRResult", "LocusError", "MissingAlleleError", "MutationModel", "Pedigree",
    "PedigreeError", "Proportional", "Stepwise", "canonical_locus", "get_kit", "kits",
    "likelihood_ratio", "normalize_allele", "populations", "posterior", "__version__",
]
