"""The names the validation commands offer: the suite's locus panels and search
modes, and the simulated family structures.

A module of its own, without numpy, so that the ``kinship simulate`` /
``kinship validate`` parser (:mod:`validation.cli`) can list them without
importing :mod:`validation.suite` or :mod:`validation.simulate`, which
re-export them."""
from __future__ import annotations

from kinship.structures import STRUCTURES as _FAMILY_STRUCTURES

__all__ = ["CODIS20", "PANELS", "MODES", "STRUCTURES"]

#: Family structures: the references of the case as ``(role, relation)``; the
#: structures of :mod:`kinship.simulate` plus ``sibling`` (one full sibling).
STRUCTURES: dict[str, list[tuple[str, str]]] = {
    **_FAMILY_STRUCTURES,
    "sibling": [("sib", "full-sibling")],
}

#: The 20 CODIS core loci (FBI, since 2017).
CODIS20 = ("CSF1PO", "D1S1656", "D2S441", "D2S1338", "D3S1358", "D5S818", "D7S820", "D8S1179",
           "D10S1248", "D12S391", "D13S317", "D16S539", "D18S51", "D19S433", "D21S11", "D22S1045",
           "FGA", "TH01", "TPOX", "vWA")

#: Panels by name: loci typed in the NIST 1036 genotypes.
PANELS = {
    "codis20": CODIS20,
    # the autosomal loci of VeriFiler Plus / PowerPlex Fusion: CODIS 20 + D6S1043, Penta D, Penta E
    "vfp23": CODIS20 + ("D6S1043", "Penta D", "Penta E"),
    # every locus of the NIST 1036 genotypes
    "nist29": CODIS20 + ("D6S1043", "Penta D", "Penta E", "SE33", "F13A01", "F13B", "FESFPS", "LPL",
                         "Penta_C"),
}

MODES = {
    "duo": {"father": 0.5, "mother": 0.5},
    "couple": {"both-parents": 1.0},
    "full-sibling": {"sibling": 1.0},
    "half-sibling": {"half-sibling": 1.0},
}
