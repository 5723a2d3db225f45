"""Profiles in Python: the :class:`Profile` record and the case vocabulary.

A profile is one sample: who it is (``sample_id``), what it is (``kind``: a
``query`` of unknown identity, or a ``reference`` relative who gave a sample),
which case it belongs to and how the reference is related to the missing person
of that case (``relation``), ``sex`` and ``kit``, and its genotypes
``{locus: (allele, allele)}`` with canonical locus names and normalised allele
labels (see :mod:`kinship.markers`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from kinship.cases import RELATIONS as _CASE_RELATIONS
from kinship.cases import normalize_relation as _normalize_relation
from kinship.markers import (
    AlleleError,
    LocusError,
    allele_value,
    canonical_locus,
    is_amelogenin,
    normalize_allele,
)

from .errors import ProfileValidationError

__all__ = [
    "Profile",
    "KINDS",
    "RELATIONS",
    "SEXES",
    "normalize_kind",
    "normalize_relation",
    "normalize_sex",
    "validate_profile",
    "allele_sort_key",
]

#: ``query``: a person of unknown identity; ``reference``: a relative who gave a sample.
KINDS = ("query", "reference")

#: Relation of a reference to the missing person of its case: the one vocabulary
#: of :mod:`kinship.cases` (``self`` = a direct sample of the missing person, e.g.
#: from a toothbrush).  Words without a side (``grandfather``) are read as their
#: paternal form (:data:`kinship.cases.ALIASES`).
RELATIONS = tuple(_CASE_RELATIONS)

#: Stored sex codes: ``M``, ``F``, or ``""`` (unknown).
SEXES = ("M", "F", "")

_SEX_WORDS = {
    "m": "M", "male": "M", "man": "M", "xy": "M",
    "f": "F", "female": "F", "woman": "F", "xx": "F",
    "": "", "u": "", "unknown": "", "na": "", "?": "",
}

_CTRL = re.compile(r"[\x00-\x1f\x7f]")


def allele_sort_key(label: str):
    """Order allele labels by repeat number (``9 < 9.3 < 10``)."""
    try:
        return (0, allele_value(label), label)
    except ValueError:
        return (1, 0.0, label)


def normalize_kind(value: str) -> str:
    """``"Query"`` -> ``"query"``; ValueError with a suggestion otherwise."""
    v = str(value).strip().lower()
    if v in KINDS:
        return v
    raise ValueError(f"unknown kind {str(value)!r}: expected one of {', '.join(KINDS)}")


def normalize_relation(value: str) -> str:
    """Accept case and separator variants (``"Full sibling"``, ``"full_sibling"``)
    and the aliases of :mod:`kinship.cases` (``"grandfather"`` ->
    ``"paternal-grandfather"``)."""
    return _normalize_relation(value)


def normalize_sex(value: str) -> str:
    """``male``/``M``/``m`` -> ``"M"``, ``female``/``F`` -> ``"F"``, unknown -> ``""``."""
    v = str(value).strip().lower()
    if v in _SEX_WORDS:
        return _SEX_WORDS[v]
    raise ValueError(f"unknown sex {str(value)!r}: expected M, F or empty (unknown)")


@dataclass
class Profile:
    """One sample with its genotypes.

    ``genotypes`` maps a locus name to a pair of allele labels; a homozygote is
    ``("12", "12")``.  Untyped loci are simply absent.  Fields that are not known
    are ``""``.
    """

    sample_id: str
    genotypes: dict = field(default_factory=dict)
    kind: str = "query"
    case_id: str = ""
    relation: str = ""
    sex: str = ""
    kit: str = ""

    def normalized(self, extra_loci=()) -> "Profile":
        """A copy with canonical loci, normalised alleles (each pair sorted by repeat
        number) and normalised kind/relation/sex.  Raises
        :class:`ProfileValidationError` naming the sample and locus."""
        return validate_profile(self, extra_loci=extra_loci)

    def genotype_set(self) -> dict:
        """``{locus: sorted pair}``: the form used to compare genotypes."""
        return {l: tuple(sorted(p, key=allele_sort_key)) for l, p in self.genotypes.items()}


def _check_text(name: str, value, sample) -> str:
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ProfileValidationError(
            f"sample {sample!r}: {name} is not valid Unicode text (lone surrogate)"
        ) from None
    if _CTRL.search(value):
        raise ProfileValidationError(
            f"sample {sample!r}: {name} contains a control character (tab, newline...); "
            f"remove it"
        )
    if value != value.strip():
        raise ProfileValidationError(
            f"sample {sample!r}: {name} {value!r} has leading or trailing spaces; strip them"
        )
    return value


def validate_profile(p: Profile, extra_loci=()) -> Profile:
    """Check and normalise one profile (see :meth:`Profile.normalized`)."""
    sid = p.sample_id
    if not isinstance(sid, str) or sid.strip() == "":
        raise ProfileValidationError(f"empty sample_id {sid!r}: every profile needs an ID")
    sid = _check_text("sample_id", sid, sid)
    try:
        kind = normalize_kind(p.kind)
        relation = normalize_relation(p.relation or "")
        sex = normalize_sex(p.sex or "")
    except ValueError as e:
        raise ProfileValidationError(f"sample {sid!r}: {e}") from None
    case_id = _check_text("case_id", p.case_id or "", sid)
    kit = _check_text("kit", p.kit or "", sid)
    if kind == "query" and relation:
        raise ProfileValidationError(
            f"sample {sid!r}: a query has no relation (got {relation!r}); a relation "
            f"describes a reference's tie to the missing person, so set kind='reference'"
        )
    if kind == "reference" and not case_id:
        raise ProfileValidationError(
            f"sample {sid!r}: a reference needs a case_id (the case of the missing person "
            f"it is related to)"
        )
    genos: dict[str, tuple[str, str]] = {}
    for raw_locus, pair in (p.genotypes or {}).items():
        try:
            locus = canonical_locus(raw_locus, extra=tuple(extra_loci) or None)
        except LocusError as e:
            raise ProfileValidationError(f"sample {sid!r}: {e}") from None
        if is_amelogenin(locus):
            raise ProfileValidationError(
                f"sample {sid!r}: amelogenin is not stored as a genotype; set sex='M'/'F'"
            )
        if isinstance(pair, str) or len(pair) != 2:
            raise ProfileValidationError(
                f"sample {sid!r}, locus {locus}: a genotype is a pair of alleles, got "
                f"{len(pair) if not isinstance(pair, str) else 1} value(s); write a homozygote "
                f"as ('12', '12')"
            )
        try:
            a, b = (normalize_allele(x) for x in pair)
        except AlleleError as e:
            raise ProfileValidationError(f"sample {sid!r}, locus {locus}: {e}") from None
        if locus in genos:
            raise ProfileValidationError(
                f"sample {sid!r}: locus {locus} given twice (as {raw_locus!r} and another spelling)"
            )
        genos[locus] = tuple(sorted((a, b), key=allele_sort_key))
    return Profile(sid, genos, kind, case_id, relation, sex, kit)
