"""kinship: exact forensic STR kinship likelihood ratios.

Public API (stable):

    import kinship
    freqs = kinship.FrequencyTable.load()             # NIST 1036 U.S. (default)
    r = kinship.likelihood_ratio(h1, h2, genotypes=..., frequencies=freqs,
                                 mutation=kinship.MutationModel(kinship.Stepwise(rate=0.002)),
                                 theta=0.01)
    r.total, r.per_locus, r.inconsistent

Numba kernels live in ``kinship.kernels`` and are imported lazily: ``import
kinship`` compiles nothing.
"""
from .frequencies import FrequencyError, FrequencyTable, MissingAlleleError, populations
from .likelihood import GenotypeError, LRResult, likelihood_ratio, posterior
from .markers import AlleleError, LocusError, canonical_locus, get_kit, kits, normalize_allele
from .mutation import Custom, Equal, ExtendedStepwise, MutationModel, Proportional, Stepwise
from .pedigree import Pedigree, PedigreeError

__version__ = "0.1.0"

__all__ = [
    "AlleleError", "Custom", "Equal", "ExtendedStepwise", "FrequencyError", "FrequencyTable",
    "GenotypeError", "LRResult", "LocusError", "MissingAlleleError", "MutationModel", "Pedigree",
    "PedigreeError", "Proportional", "Stepwise", "canonical_locus", "get_kit", "kits",
    "likelihood_ratio", "normalize_allele", "populations", "posterior", "__version__",
]
