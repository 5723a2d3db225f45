"""The simulated families' structures: the typed relatives of a case as ``(role,
relation)`` pairs, by name (:class:`kinship.simulate.FamilySimulator` builds
them; :mod:`kinship.simulate` re-exports :data:`STRUCTURES`).

A module of its own, without numpy, so that the ``kinship simulate`` parser
(:mod:`validation.cli`) lists the names without importing the simulator."""
from __future__ import annotations

__all__ = ["STRUCTURES"]

STRUCTURES = {
    "both-parents": [("father", "father"), ("mother", "mother")],
    "father": [("father", "father")],
    "mother": [("mother", "mother")],
    "parent-sibling": [("father", "father"), ("sib", "full-sibling")],
    "grandparents": [("pgf", "grandfather"), ("pgm", "grandmother")],
    "siblings": [("sib", "full-sibling"), ("sib2", "full-sibling")],
    "half-sibling": [("hsib", "half-sibling")],
}
