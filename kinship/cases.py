"""Reference cases: the one pedigree model of a family, and the relation words.

A **case** (:class:`Case`) is one family as a pedigree: persons with father,
mother and sex (:class:`kinship.pedigree.Pedigree`), one or more **missing
persons** (the persons a query may be), and the **typed persons** linked to the
sample ids of their profiles.  Every package uses this model: the importers
(``formats``) build it from a samples manifest, a pedigree file or a Familias
``.fam`` file; the core compiles it (:meth:`kinship.search.ScoringModel.compile_cases`);
the engine searches it and writes it back out.

Relation words
--------------
A relation word says how one typed reference is related to the missing person
M of its case.  It is a shorthand that :func:`case_from_relations` expands into
the pedigree; :data:`RELATIONS` is the vocabulary, defined here once and used by
``formats`` (manifests, importers, shard validation) and ``engine`` alike.  Both
sides of the family have their own words; the words without a side are kept as
aliases of the paternal ones (:data:`ALIASES`; a manifest that says
``grandfather`` gets ``paternal-grandfather``, and says so in the import notes).

==========================  ===========================================================
relation                    placement in the case pedigree
==========================  ===========================================================
``self``                    a direct sample of M (identity mode; no pedigree)
``father`` / ``mother``     M's father / mother
``full-sibling``            a child of M's father and mother
``paternal-half-sibling``   a child of M's father and the father's partner
``maternal-half-sibling``   a child of M's mother and the mother's partner
``father-partner``          the father's partner: the mother of M's paternal half-siblings
``mother-partner``          the mother's partner: the father of M's maternal half-siblings
``child``                   a child of M and M's partner (needs M's sex)
``partner``                 M's partner: the other parent of M's children
``paternal-grandfather``    father / mother of M's father
``paternal-grandmother``
``maternal-grandfather``    father / mother of M's mother
``maternal-grandmother``
``paternal-great-grandfather``  father / mother of the paternal grandfather
``paternal-great-grandmother``
``maternal-great-grandfather``  father / mother of the maternal grandfather
``maternal-great-grandmother``
``paternal-uncle`` / ``-aunt``  a full sibling of M's father (child of the paternal grandparents)
``maternal-uncle`` / ``-aunt``  a full sibling of M's mother
``paternal-first-cousin``   a child of a full brother of M's father (and his partner)
``maternal-first-cousin``   a child of a full sister of M's mother (and her partner)
``nephew`` / ``niece``      a child of a full sibling of M (and the sibling's partner)
==========================  ===========================================================

Untyped connecting persons are added as needed and shared: every full sibling
of M has M's parents, every paternal uncle the paternal grandparents, every
paternal half-sibling the same father's partner, every cousin of one side the
same uncle or aunt, every nephew or niece the same sibling of M.  A family that
is not drawn this way (two half-siblings by different partners, cousins through
different uncles, several missing persons, a grandchild, loops) is given as a
pedigree (:meth:`Case.from_pedigree`; a ped file or a ``.fam`` file).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple

from .pedigree import _SEX as _PEDIGREE_SEX
from .pedigree import Pedigree, PedigreeError, Person

__all__ = [
    "RELATIONS", "ALIASES", "Relation", "CASE_RELATIONS", "Case", "CaseError", "MISSING",
    "case_pedigree", "case_from_relations", "RelationCase", "relation_case", "normalize_relation",
    "relation_info",
    "inconsistencies", "consistency_error", "consistency_note",
]

MISSING = "M"


class CaseError(ValueError):
    """A family that cannot be placed on one pedigree, naming the case and persons."""


@dataclass(frozen=True)
class Relation:
    """One relation word: the sex it fixes for the reference (``None``: either),
    whether the expansion needs M's sex, and the meioses between the reference
    and M along the paternal (Y) line when they share it (``None``: they do not,
    or not for certain: a ``child`` shares M's Y only if M is male, which the
    Y-lineage mode checks itself)."""

    word: str
    description: str
    sex: str | None = None
    needs_missing_sex: bool = False
    y_meioses: int | None = None
    #: the pairwise engine mode that relates the reference alone to M, and its
    #: linking line (``None``: no pairwise mode is this relation, e.g. ``child``,
    #: where the pair table has the reference as the parent)
    pair_mode: str | None = None
    line: str | None = None


def _r(word, description, sex=None, needs=False, y=None, mode=None, line=None):
    return Relation(word, description, sex, needs, y, mode, line)


#: The vocabulary: relation word -> :class:`Relation` (see the module doc).
RELATIONS: dict[str, Relation] = {r.word: r for r in (
    _r("self", "a direct sample of the missing person (identity mode)", y=0, mode="identity"),
    _r("father", "the missing person's father", "male", y=1, mode="parent-child"),
    _r("mother", "the missing person's mother", "female", mode="parent-child"),
    _r("full-sibling", "a child of the missing person's father and mother", y=2, mode="full-sibling"),
    _r("paternal-half-sibling", "a child of the missing person's father and the father's partner", y=2,
       mode="half-sibling", line="paternal"),
    _r("maternal-half-sibling", "a child of the missing person's mother and the mother's partner",
       mode="half-sibling", line="maternal"),
    _r("father-partner", "the father's partner: mother of the paternal half-siblings", "female"),
    _r("mother-partner", "the mother's partner: father of the maternal half-siblings", "male"),
    _r("child", "a child of the missing person and the missing person's partner", needs=True, y=1),
    _r("partner", "the missing person's partner: other parent of the missing person's children"),
    _r("paternal-grandfather", "the father of the missing person's father", "male", y=2,
       mode="grandparent", line="paternal"),
    _r("paternal-grandmother", "the mother of the missing person's father", "female",
       mode="grandparent", line="paternal"),
    _r("maternal-grandfather", "the father of the missing person's mother", "male",
       mode="grandparent", line="maternal"),
    _r("maternal-grandmother", "the mother of the missing person's mother", "female",
       mode="grandparent", line="maternal"),
    _r("paternal-great-grandfather", "the father of the paternal grandfather", "male", y=3),
    _r("paternal-great-grandmother", "the mother of the paternal grandfather", "female"),
    _r("maternal-great-grandfather", "the father of the maternal grandfather", "male"),
    _r("maternal-great-grandmother", "the mother of the maternal grandfather", "female"),
    _r("paternal-uncle", "a full brother of the missing person's father", "male", y=3,
       mode="avuncular", line="paternal"),
    _r("paternal-aunt", "a full sister of the missing person's father", "female",
       mode="avuncular", line="paternal"),
    _r("maternal-uncle", "a full brother of the missing person's mother", "male",
       mode="avuncular", line="maternal"),
    _r("maternal-aunt", "a full sister of the missing person's mother", "female",
       mode="avuncular", line="maternal"),
    _r("paternal-first-cousin", "a child of a full brother of the missing person's father", y=4,
       mode="first-cousin", line="paternal"),
    _r("maternal-first-cousin", "a child of a full sister of the missing person's mother",
       mode="first-cousin", line="maternal"),
    _r("nephew", "a son of a full sibling of the missing person", "male"),
    _r("niece", "a daughter of a full sibling of the missing person", "female"),
)}

#: Words without a side, and other spellings: read as the word they stand for.
ALIASES: dict[str, str] = {
    "half-sibling": "paternal-half-sibling",
    "grandfather": "paternal-grandfather",
    "grandmother": "paternal-grandmother",
    "great-grandfather": "paternal-great-grandfather",
    "great-grandmother": "paternal-great-grandmother",
    "uncle": "paternal-uncle",
    "aunt": "paternal-aunt",
    "first-cousin": "paternal-first-cousin",
    "cousin": "paternal-first-cousin",
    "sibling": "full-sibling",
    "brother": "full-sibling",
    "sister": "full-sibling",
    "son": "child",
    "daughter": "child",
    "spouse": "partner",
    "husband": "partner",
    "wife": "partner",
}

#: relations that place a reference on a case pedigree (all but ``self``)
CASE_RELATIONS: tuple = tuple(w for w in RELATIONS if w != "self")


def relation_info(word: str) -> Relation:
    return RELATIONS[normalize_relation(word)]


def normalize_relation(value) -> str:
    """The canonical relation word: case and separators are free (``"Maternal
    grandfather"``, ``"maternal_grandfather"``), aliases are resolved, ``""`` stays
    ``""``; an unknown word is a ValueError with the closest words."""
    v = re.sub(r"[\s_]+", "-", str(value if value is not None else "").strip().lower())
    if v == "" or v in RELATIONS:
        return v
    if v in ALIASES:
        return ALIASES[v]
    words = list(RELATIONS) + list(ALIASES)
    close = difflib.get_close_matches(v, words, n=2)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    raise ValueError(f"unknown relation {str(value)[:40]!r}{hint}: expected one of {', '.join(RELATIONS)}")


def _sex(s) -> str:
    """``"male"``/``"female"``/``"unknown"`` from any spelling the pedigree model
    reads (:data:`kinship.pedigree._SEX`: ``M``, ``female``, ``1``...); anything
    else is unknown."""
    return _PEDIGREE_SEX.get("none" if s is None else str(s).strip().lower(), "unknown")


# ---------------------------------------------------------------------------
# the case model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One family: ``pedigree`` (every person, typed or not, missing persons
    included), ``missing`` (the missing persons' ids), ``samples`` (typed person id
    -> sample id) and, for a case written with relation words, ``relations``
    (sample id -> relation word).  ``source`` says where it came from."""

    id: str
    pedigree: Pedigree
    missing: tuple
    samples: Mapping[str, str]
    relations: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        ped = self.pedigree
        if not self.missing:
            raise CaseError(f"case {self.id!r}: no missing person is marked")
        if len(set(self.missing)) != len(self.missing):
            raise CaseError(f"case {self.id!r}: a missing person is marked twice")
        for m in self.missing:
            if m not in ped:
                raise CaseError(f"case {self.id!r}: missing person {m!r} is not in the pedigree")
            if m in self.samples:
                raise CaseError(f"case {self.id!r}: person {m!r} is marked missing but linked to "
                                f"a sample; a missing person is untyped (a direct sample of them "
                                f"is an identity reference, relation 'self')")
        seen = {}
        for pid, sid in self.samples.items():
            if pid not in ped:
                raise CaseError(f"case {self.id!r}: typed person {pid!r} (sample {sid!r}) is not in "
                                f"the pedigree")
            if sid in seen:
                raise CaseError(f"case {self.id!r}: sample {sid!r} is linked to two persons "
                                f"({seen[sid]!r} and {pid!r})")
            seen[sid] = pid

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_pedigree(cls, case_id: str, records, missing, samples: Mapping[str, str],
                      source: str = "") -> "Case":
        """A case from pedigree records (``{"id", "father", "mother", "sex"}``),
        the missing person ids and ``{person id: sample id}`` of the typed persons.
        Pedigree errors (a parent of the wrong sex, a cycle, a parent not in the
        pedigree) become :class:`CaseError` naming the case."""
        if isinstance(missing, str):
            missing = (missing,)
        try:
            ped = Pedigree.from_records(records)
        except PedigreeError as e:
            raise CaseError(f"case {case_id!r}: {e}") from None
        return cls(str(case_id), ped, tuple(str(m) for m in missing),
                   {str(k): str(v) for k, v in samples.items()}, {}, source)

    # -- views ----------------------------------------------------------------------
    @property
    def typed(self) -> list:
        """Typed person ids, in pedigree order."""
        return [p for p in self.pedigree.order if p in self.samples]

    @property
    def sample_ids(self) -> list:
        return [self.samples[p] for p in self.typed]

    def person_of(self, sample_id: str) -> str:
        for p, s in self.samples.items():
            if s == sample_id:
                return p
        raise KeyError(sample_id)

    def sex_of(self, person: str) -> str:
        return self.pedigree.persons[person].sex

    def describe_relatives(self) -> str:
        """``"S1 (father), S2 (maternal-grandfather)"`` for relation-word cases,
        ``"S1 (person F1), ..."`` for pedigree cases."""
        out = []
        for p in self.typed:
            s = self.samples[p]
            rel = self.relations.get(s)
            out.append(f"{s} ({rel})" if rel else (f"{s} (person {p})" if p != s else s))
        return ", ".join(out)

    def structure_key(self, missing: str) -> tuple:
        """A key that identifies the case's shape with ``missing`` as the person a
        query is compared as: the pedigree with typed persons named by their order
        in :attr:`typed`, the others by their place in the pedigree order.  Two
        cases with equal keys give equal tables for equal calls."""
        typed = self.typed
        name = {p: f"t{i}" for i, p in enumerate(typed)}
        k = 0
        for p in self.pedigree.order:
            if p not in name:
                name[p] = "x" if p == missing else f"u{k}"
                k += (p != missing)
        recs = tuple((name[p.id], name.get(p.father), name.get(p.mother), p.sex)
                     for p in (self.pedigree.persons[i] for i in self.pedigree.order))
        return (recs, tuple(sorted(name[m] for m in self.missing)), name[missing])

    def hypotheses(self, query_id: str = "Q", missing: str | None = None) -> tuple:
        """``(H1, H2)`` pedigree records for a query: H1 is the case pedigree with
        the query in the place of the missing person ``missing`` (default: the
        first), whose own node stays as an unlinked untyped person; H2 is the case
        pedigree with the query an unrelated founder.  Both hold the same persons,
        as :func:`kinship.likelihood_ratio` needs; this is the LR that case mode
        computes (the relatives keep their places under both hypotheses)."""
        m = missing if missing is not None else self.missing[0]
        if m not in self.missing:
            raise CaseError(f"case {self.id!r}: {m!r} is not a missing person of the case")
        if query_id in self.pedigree:
            raise CaseError(f"case {self.id!r}: the query id {query_id!r} is a person of the case")
        recs = self.pedigree.records()
        sub = {m: query_id}
        h1 = [{"id": r["id"], "father": sub.get(r["father"], r["father"]),
               "mother": sub.get(r["mother"], r["mother"]), "sex": r["sex"]}
              if r["id"] != m else {"id": m, "father": None, "mother": None, "sex": r["sex"]}
              for r in recs]
        mrec = next(r for r in recs if r["id"] == m)
        h1.append({"id": query_id, "father": mrec["father"], "mother": mrec["mother"],
                   "sex": mrec["sex"]})
        h2 = [dict(r) for r in recs] + [{"id": query_id, "father": None, "mother": None,
                                         "sex": mrec["sex"]}]
        return h1, h2

    # -- serialisation (JSON: no pickle) -------------------------------------------
    def to_dict(self) -> dict:
        return {"id": self.id, "pedigree": self.pedigree.records(), "missing": list(self.missing),
                "samples": dict(sorted(self.samples.items())),
                "relations": dict(sorted(self.relations.items())), "source": self.source}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Case":
        try:
            ped = Pedigree.from_records(d["pedigree"])
            return cls(str(d["id"]), ped, tuple(d["missing"]), dict(d["samples"]),
                       dict(d.get("relations") or {}), str(d.get("source") or ""))
        except (KeyError, TypeError) as e:
            raise CaseError(f"a stored case is malformed (missing or wrong field {e})") from None
        except PedigreeError as e:
            raise CaseError(f"case {d.get('id')!r}: {e}") from None

    def fingerprint(self) -> str:
        """SHA-256 of the case's content (pedigree, missing, samples, relations)."""
        d = self.to_dict()
        d.pop("source")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()

    # -- checks ---------------------------------------------------------------------
    def check_sexes(self, sample_sex: Mapping[str, str]) -> None:
        """A typed person whose recorded sex (``"M"``/``"F"``/``"male"``..., e.g. from
        amelogenin) contradicts their sex in the pedigree is an error naming the
        case, person and sample.  Unknown sexes are not checked."""
        for p, s in self.samples.items():
            rec = _sex(sample_sex.get(s, ""))
            ped = self.pedigree.persons[p].sex
            if rec != "unknown" and ped != "unknown" and rec != ped:
                where = f"relation {self.relations[s]!r}" if s in self.relations else f"person {p!r}"
                raise CaseError(
                    f"case {self.id!r}: sample {s!r} is recorded as {rec} but placed as {where}, "
                    f"who is {ped}. Fix: correct the sample's sex (amelogenin) or its place in the "
                    f"family")


# ---------------------------------------------------------------------------
# relation words -> pedigree
# ---------------------------------------------------------------------------

# connecting persons: key -> (sex, the parent pair they are a child of, if any)
_CONNECT = {
    "F": ("male", "PG"), "Mo": ("female", "MG"),
    "PGF": ("male", "PGG"), "PGM": ("female", None),
    "MGF": ("male", "MGG"), "MGM": ("female", None),
    "PGGF": ("male", None), "PGGM": ("female", None),
    "MGGF": ("male", None), "MGGM": ("female", None),
    "FP": ("female", None), "MoP": ("male", None),          # the parents' other partners
    "P": (None, None),                                      # M's partner (sex: opposite of M)
    "PU": ("male", "PG"), "PUP": ("female", None),          # father's brother and partner
    "MA": ("female", "MG"), "MAP": ("male", None),          # mother's sister and partner
    "S": ("male", "MP"), "SP": ("female", None),            # M's brother and partner
}
#: parent pairs: key -> (father key, mother key), and the pair's child on the line to M
_PAIRS = {"PG": ("PGF", "PGM"), "MG": ("MGF", "MGM"), "PGG": ("PGGF", "PGGM"),
          "MGG": ("MGGF", "MGGM"), "MP": ("F", "Mo")}
_LINEAL = {"PG": "F", "MG": "Mo", "PGG": "PGF", "MGG": "MGF", "MP": None}
#: connectors who always have their parents (an uncle is a child of the grandparents)
_WITH_PARENTS = {"PU", "MA", "S"}

# relation -> (connector it *is*, or None) and (father key, mother key) of its parents
_PLACE = {
    "father": ("F", None), "mother": ("Mo", None),
    "paternal-grandfather": ("PGF", None), "paternal-grandmother": ("PGM", None),
    "maternal-grandfather": ("MGF", None), "maternal-grandmother": ("MGM", None),
    "paternal-great-grandfather": ("PGGF", None), "paternal-great-grandmother": ("PGGM", None),
    "maternal-great-grandfather": ("MGGF", None), "maternal-great-grandmother": ("MGGM", None),
    "father-partner": ("FP", None), "mother-partner": ("MoP", None), "partner": ("P", None),
    "full-sibling": (None, ("F", "Mo")),
    "paternal-half-sibling": (None, ("F", "FP")),
    "maternal-half-sibling": (None, ("MoP", "Mo")),
    "paternal-uncle": (None, ("PGF", "PGM")), "paternal-aunt": (None, ("PGF", "PGM")),
    "maternal-uncle": (None, ("MGF", "MGM")), "maternal-aunt": (None, ("MGF", "MGM")),
    "paternal-first-cousin": (None, ("PU", "PUP")),
    "maternal-first-cousin": (None, ("MAP", "MA")),
    "nephew": (None, ("S", "SP")), "niece": (None, ("S", "SP")),
    "child": (None, "M+P"),
}


#: the case of each shape of relation words (``(relation, sex)`` of each reference,
#: the missing person's sex and id), built once with placeholder sample ids
#: (:func:`case_from_relations`); False: the shape is refused (built again to say why)
_SHAPES: dict = {}
_SHAPES_MAX = 4096


def case_from_relations(case_id: str, relatives: Iterable, missing_sex: str = "unknown",
                        missing_id: str = MISSING) -> Case:
    """The case pedigree of references given by relation words:
    ``relatives = [(sample_id, relation, sex), ...]`` (sex ``"male"``/``"female"``/
    ``"M"``/``"F"``/``""``; a relation that fixes the sex fills an unknown one and
    contradicts a wrong one).  Typed persons keep their sample ids as person ids;
    the missing person is ``missing_id``; connecting persons get ids starting
    with ``_`` (renamed if a sample id takes them).  See the module doc for the
    placements; :class:`CaseError` names the case and references at fault.

    A run places thousands of cases of a few shapes: the case of each shape
    (relation words and sexes in order, the missing person's sex and id) is built
    once with placeholder sample ids and renamed for each case with those sample
    ids (the same persons, order and dicts as building it, ``tests/test_case_pedigrees.py``);
    sample ids that could meet a connecting person's id (starting with ``_``) or
    the missing person's, a sample twice, or a refused shape are built in full.
    :func:`relation_case` gives the shape's case and the renaming without
    renaming."""
    x = relation_case(case_id, relatives, missing_sex, missing_id)
    return x.case() if isinstance(x, RelationCase) else x


class RelationCase(NamedTuple):
    """A case written with relation words, unrenamed: ``shape``, the case of its
    shape built once with placeholder sample ids (id ``""``), and ``names``
    (``{placeholder: sample id}``, in the order of the relatives).  :meth:`case`
    is the case :func:`case_from_relations` returns; code that handles many cases
    of a few shapes (:meth:`kinship.consistency.ConsistencyChecker.check_cases`)
    works on ``shape`` once and renames only what it reports.  (A named tuple:
    thousands are made per run.)"""

    id: str
    shape: Case
    names: Mapping[str, str]

    def case(self) -> Case:
        t, names = self.shape, self.names
        return Case(self.id, t.pedigree.renamed(names), t.missing,
                    {names[p]: names[s] for p, s in t.samples.items()},
                    {names[p]: w for p, w in t.relations.items()}, t.source)


def relation_case(case_id: str, relatives: Iterable, missing_sex: str = "unknown",
                  missing_id: str = MISSING) -> "RelationCase | Case":
    """:func:`case_from_relations` without renaming: a :class:`RelationCase` where
    the shape's case serves (checked and placed once per shape: a refused shape
    or a case that cannot be placed is built in full, raising its
    :class:`CaseError`), else the case built in full."""
    relatives = [(str(s), r, x) for s, r, x in relatives]
    ids = [r[0] for r in relatives]
    shape = tuple([(r, x) for _, r, x in relatives])
    key = (shape, missing_sex, missing_id)
    try:
        t = _SHAPES.get(key)        # a shape seen before: its words and sexes are strings
    except TypeError:               # unhashable: built in full
        t = False
    if t is None and not (all(isinstance(v, str) or v is None for rx in shape for v in rx) and
                          isinstance(missing_sex, str)):
        t = False
    if t is not False and len(set(ids)) == len(ids) and missing_id not in ids and \
            not any(i.startswith("_") for i in ids):
        if t is None:
            try:
                t = _build_case("", [(k, r, x) for k, (r, x) in zip(_placeholders(len(shape)), shape)],
                                missing_sex, missing_id)
            except CaseError:
                t = False
            if len(_SHAPES) >= _SHAPES_MAX:
                _SHAPES.clear()
            _SHAPES[key] = t
        if t:
            return RelationCase(str(case_id), t, dict(zip(_placeholders(len(ids)), ids)))
    return _build_case(case_id, relatives, missing_sex, missing_id)


def _placeholders(n: int) -> tuple:
    """The placeholder sample ids of a shape's case (``"\\x00k"``, k = 0 .. n-1)."""
    ph = _PLACEHOLDERS.get(n)
    if ph is None:
        ph = _PLACEHOLDERS[n] = tuple(f"\x00{k}" for k in range(n))
    return ph


_PLACEHOLDERS: dict = {}


def _build_case(case_id: str, relatives: list, missing_sex: str, missing_id: str) -> Case:
    """:func:`case_from_relations` built in full."""
    ids = [r[0] for r in relatives]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise CaseError(f"case {case_id!r}: reference {dup[0]!r} appears twice in the case")
    if missing_id in ids:
        raise CaseError(f"case {case_id!r}: reference id {missing_id!r} is the missing person's id "
                        f"in the case pedigree; rename the sample")
    ms = _sex(missing_sex)
    rel_of, sex_of = {}, {}
    for sid, rel, sx in relatives:
        try:
            word = normalize_relation(rel)
        except ValueError as e:
            raise CaseError(f"case {case_id!r}, reference {sid!r}: {e}") from None
        if word == "":
            raise CaseError(f"case {case_id!r}, reference {sid!r}: no relation given")
        if word == "self":
            raise CaseError(
                f"case {case_id!r}, reference {sid!r} is a direct sample of the missing person "
                f"(relation 'self'): score it in identity mode, not on a pedigree")
        info = RELATIONS[word]
        s = _sex(sx)
        if info.sex is not None:
            if s not in ("unknown", info.sex):
                raise CaseError(f"case {case_id!r}, reference {sid!r}: relation {word!r} needs sex "
                                f"{info.sex}, recorded {s}")
            s = info.sex
        if info.needs_missing_sex and ms == "unknown":
            raise CaseError(
                f"case {case_id!r}: a case with a {word!r} reference needs the missing person's "
                f"sex (is M the child's father or mother?)")
        if word == "partner" and ms != "unknown":
            want = "female" if ms == "male" else "male"
            if s not in ("unknown", want):
                raise CaseError(f"case {case_id!r}, reference {sid!r}: M's partner must be {want} "
                                f"(M is {ms}), recorded {s}")
            s = want
        rel_of[sid] = word
        sex_of[sid] = s

    # connectors a typed person *is*; at most one reference per such slot
    typed_slot: dict = {}
    for sid, word in rel_of.items():
        slot = _PLACE[word][0]
        if slot is not None:
            if slot in typed_slot:
                raise CaseError(f"case {case_id!r}: references {typed_slot[slot]!r} and {sid!r} "
                                f"both have relation {word!r}")
            typed_slot[slot] = sid

    # which connectors exist: the typed slots, the parents of typed relatives, and
    # everyone on the line from them to M
    needed = set(typed_slot)
    for word in rel_of.values():
        par = _PLACE[word][1]
        if par == "M+P":
            needed.add("P")
        elif par is not None:
            needed |= set(par)
    while True:
        before = len(needed)
        for k in list(needed):
            if k in _WITH_PARENTS:
                needed |= set(_PAIRS[_CONNECT[k][1]])
        for pk, (a, b) in _PAIRS.items():
            if a in needed or b in needed:
                needed |= {a, b}
                if _LINEAL[pk] is not None:
                    needed.add(_LINEAL[pk])
        if len(needed) == before:
            break
    active = {pk for pk, (a, b) in _PAIRS.items() if a in needed}

    taken = set(ids) | {missing_id}
    name = {}
    for key in sorted(needed):
        if key in typed_slot:
            name[key] = typed_slot[key]
        else:
            n = "_" + key
            while n in taken:
                n = "_" + n
            taken.add(n)
            name[key] = n
    persons: list[Person] = []
    for key in sorted(needed):
        sex, pk = _CONNECT[key]
        if key == "P":
            sex = {"male": "female", "female": "male"}.get(ms) or (
                sex_of[typed_slot["P"]] if "P" in typed_slot else "unknown")
        fa = mo = None
        if pk is not None and pk in active:
            fa, mo = (name[k] for k in _PAIRS[pk])
        persons.append(Person(name[key], fa, mo, sex))
    if "MP" in active:
        persons.append(Person(missing_id, name["F"], name["Mo"], ms))
    else:
        persons.append(Person(missing_id, None, None, ms))
    for sid, word in rel_of.items():
        par = _PLACE[word][1]
        if par is None:
            continue
        if par == "M+P":
            fa, mo = (missing_id, name["P"]) if ms == "male" else (name["P"], missing_id)
        else:
            fa, mo = name[par[0]], name[par[1]]
        persons.append(Person(sid, fa, mo, sex_of[sid]))
    try:
        ped = Pedigree(persons)
    except PedigreeError as e:   # pragma: no cover - the expansion is built consistent
        raise CaseError(f"case {case_id!r}: {e}") from None
    return Case(str(case_id), ped, (missing_id,), {sid: sid for sid in rel_of},
                dict(rel_of), "relations")


def case_pedigree(relatives, missing_sex: str = "unknown") -> Pedigree:
    """Pedigree around missing person ``"M"`` from ``[(ref_id, relation, sex), ...]``
    (:func:`case_from_relations`; typed persons keep their ids)."""
    return case_from_relations("", relatives, missing_sex).pedigree


# ---------------------------------------------------------------------------
# does the family fit its typed profiles?
# ---------------------------------------------------------------------------

def inconsistencies(case: Case, genotypes: Mapping[str, Mapping[str, tuple]]) -> dict:
    """Loci where the typed persons of ``case`` cannot be related as drawn without
    mutation: ``{locus: [(sample, sample), ...]}`` naming each pair of typed
    persons that is excluded by itself (the pedigree with only those two typed
    has likelihood 0), or ``[tuple of all typed samples]`` where only the whole
    set is (e.g. a child who has an allele of neither typed parent ... and of no
    pair alone).  ``genotypes``: ``{sample id: {locus: (a, b)}}`` (allele labels).

    Zero or not does not depend on the allele frequencies (any positive ones), so
    none are needed; silent alleles are not considered (a lab with silent alleles
    sees them as inconsistencies to review).  Nothing here names an allele."""
    from .likelihood import locus_likelihood

    by_locus: dict = {}
    for p in case.typed:
        for locus, gt in (genotypes.get(case.samples[p]) or {}).items():
            if gt is not None and len(gt) == 2 and all(a not in (None, "") for a in gt):
                by_locus.setdefault(locus, {})[p] = (str(gt[0]), str(gt[1]))
    out = {}
    for locus, calls in sorted(by_locus.items()):
        if len(calls) < 2:
            continue
        alleles = sorted({a for c in calls.values() for a in c})
        idx = {a: i for i, a in enumerate(alleles)}
        A = len(alleles)
        freqs = [1.0 / A] * A

        def lik(persons):
            ic = {p: (idx[calls[p][0]], idx[calls[p][1]]) for p in persons}
            return locus_likelihood(case.pedigree, ic, A, freqs)

        if lik(list(calls)) > 0:
            continue
        pairs = [(case.samples[a], case.samples[b])
                 for a, b in _pairs(sorted(calls, key=case.typed.index)) if lik([a, b]) == 0]
        out[locus] = pairs or [tuple(case.samples[p] for p in sorted(calls, key=case.typed.index))]
    return out


def _pairs(xs):
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            yield xs[i], xs[j]


def consistency_error(case: Case, found: dict, min_loci: int = 2) -> str | None:
    """The message for :func:`inconsistencies` ``found`` when some pair (or set) of
    typed persons is excluded at ``min_loci`` loci or more (one locus alone may be
    a mutation: it is reported by :func:`consistency_note`), else None.  Names the
    case, the samples and the loci; never an allele."""
    count: dict = {}
    for locus, groups in found.items():
        for g in groups:
            count.setdefault(g, []).append(locus)
    bad = {g: ls for g, ls in count.items() if len(ls) >= min_loci}
    if not bad:
        return None
    g, ls = max(bad.items(), key=lambda kv: len(kv[1]))
    who = " and ".join(repr(s) for s in g)
    rel = ", ".join(f"{s} is {case.relations[s]}" for s in g if s in case.relations)
    return (f"case {case.id!r}: {who}{f' ({rel})' if rel else ''} cannot be related as the "
            f"pedigree says without mutation at {len(ls)} loci ({', '.join(ls[:6])}"
            f"{', ...' if len(ls) > 6 else ''}): a sample mix-up or a wrong relation. Fix: check "
            f"the samples and the relation or pedigree of the case")


def consistency_note(case: Case, found: dict) -> str | None:
    """A note for loci where a pair is excluded at one locus only (a possible
    mutation), or None."""
    if not found:
        return None
    return (f"case {case.id!r}: {len(found)} loci where typed relatives are inconsistent without "
            f"mutation ({', '.join(sorted(found)[:6])}{', ...' if len(found) > 6 else ''}); a "
            f"mutation can explain one such locus per pair, and the search uses the mutation model")
