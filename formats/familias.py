"""Familias ``.fam`` files: persons, genotypes and the frequency database.

Layout (as written by Familias 3 and read by ``pedFamilias::readFam``): a header,
the standard-module persons (name, flags, sex ``#TRUE#`` = male, the number of
genotypes and one ``allele index, allele index, marker index`` triple per
genotype, 0-based into the database), ``"Known relations"`` and the pedigrees, a
line ``#FALSE# (#Databases: 1 ;Theta/Kinship/Fst: 0 )``, the database (per locus:
name, mutation parameters, ``n<TAB>(DatabaseSize = ...)`` and ``n`` allele /
frequency pairs), then optionally a ``[DVI]`` section whose persons carry allele
labels (``SystemName=``, ``Allele1=``, ``Allele2=``).

How persons become profiles
---------------------------
* A standard-module person with genotypes: ``sample_id`` = its name, sex from
  the file, kind from the manifest or ``default_kind``.
* DVI unidentified persons: ``kind="query"``.
* DVI reference-family persons with DNA data: ``kind="reference"``,
  ``case_id`` = the family name, ``sample_id`` = ``"<family>/<name>"`` (the same
  name, e.g. ``"F [Father]"``, is reused across families), and ``relation`` read
  from a bracketed label in the name (``[Father]`` -> ``father``, ``[Sister]`` ->
  ``full-sibling``, ``[Maternal grandfather]`` -> ``maternal-grandfather``,
  ``[Grandfather]`` -> ``paternal-grandfather``...; see
  :func:`relation_from_label`); other labels leave the relation empty (give it in
  the manifest).  Persons without DNA data (the missing persons) are not profiles.

Pedigrees, cases and settings
-----------------------------
* The standard module's pedigrees (``"Known relations"`` and the hypotheses,
  e.g. ``H1``/``H2``) become :class:`FamPedigree` records
  (``ImportResult.pedigrees``): every listed person, Familias' extra persons
  (``extra_1``, ``extra_ped2_1``) and, for a person the file gives one parent,
  an added untyped founder of the other sex (``added_1``; Familias draws that
  allele from the population, the case model needs both parents).  Each
  relation line is ``parent index, child index``; the parent's sex says father
  or mother.  A pedigree that cannot be a pedigree (a child with two mothers, a
  cycle) is left out with a note; the profiles still import.
* A standard-module file gives a case (``ImportResult.cases``, id = file name)
  when an untyped person has a missing person's name (:data:`MISSING_NAME`:
  ``Missing ...``, ``MP``, ``M1``...): the first pedigree that links such a
  person to a typed person, cut to the persons linked to them; its typed persons
  become references of that case.  A paternity file (H1 "AF is the father", H2
  unrelated) has no missing person and gives pedigrees only.
* Each DVI reference family gives a case (id = family name; with several
  pedigrees besides ``Reference pedigree``, one case per pedigree, id
  ``"<family> [<pedigree>]"``): the family's pedigree (``Reference pedigree``
  is used only when it is the only one), with the persons only named in it
  (Familias' ``Missing person``) added -- a parent of unknown sex takes the sex
  opposite to the other parent's.  The missing persons are the untyped persons
  with a missing person's name that are linked to a typed reference; typed
  persons are linked to their sample ids ``"<family>/<name>"``; persons linked
  to no missing person (Familias' listed but unused ``Missing female 1``) are
  left out, with a note.
* θ and the per-locus mutation settings are read into :class:`FamSettings`
  (``ImportResult.settings``, summarised in the import notes);
  :func:`fam_mutation_model` makes the :class:`kinship.MutationModel`.
* :func:`write_fam_case` writes a case (and a query) as a complete file.

A row in the import accounting is one genotype (one triple, or one
``SystemName``/``Allele1``/``Allele2`` group); its line is the first line of it.
Familias writes CRLF line endings; CR, LF and CRLF are all read.  ``.fam`` files
are ASCII in practice; a Windows-1252 file needs ``encoding="cp1252"``.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputFormatError, Reject
from .parsed import Call, Parsed
from .profile import allele_sort_key
from .textio import read_text

__all__ = ["parse_fam", "read_fam", "read_fam_database", "relation_from_label", "write_fam",
           "write_fam_case", "case_hypotheses", "fam_mutation_model", "FamLocus", "FamPedigree",
           "FamSettings", "MODEL_CODES", "MISSING_NAME"]

#: Familias-specific spellings -> a word of the :mod:`kinship.cases` vocabulary or
#: one of its side-less aliases; everything else goes through
#: :func:`kinship.cases.normalize_relation` (the one vocabulary).
_FAM_SPELLINGS = {
    "daugther": "child", "fullsib": "full-sibling", "full sib": "full-sibling",
    "full sibling": "full-sibling", "full brother": "full-sibling", "full sister": "full-sibling",
    "halfsib": "half-sibling", "half sib": "half-sibling", "half sibling": "half-sibling",
    "half brother": "half-sibling", "half sister": "half-sibling",
    "first cousin": "first-cousin", "great grandfather": "great-grandfather",
    "great grandmother": "great-grandmother",
    "missing person": "self", "direct": "self",
}
_SIDES = ("paternal", "maternal")


def relation_from_label(label: str) -> str:
    """The relation word (:data:`kinship.cases.RELATIONS`) of a Familias person
    label (``"Father"``, ``"F [Father]"``, ``"GF [Maternal grandfather]"``), or
    ``""`` when the label names no relation.

    A label that names a side keeps it (``"Maternal grandfather"`` ->
    ``maternal-grandfather``, ``"Maternal half sister"`` ->
    ``maternal-half-sibling``); a side-less word is read as its alias in
    :data:`kinship.cases.ALIASES` (``"Grandfather"`` -> ``paternal-grandfather``,
    ``"Uncle"`` -> ``paternal-uncle``).  A side with a word that has no sides
    (``"Maternal father"``) gives ``""``."""
    from kinship.cases import RELATIONS, normalize_relation

    m = re.search(r"\[([^\]]*)\]\s*$", label or "")
    word = (m.group(1) if m else label or "").strip().lower()
    word = re.sub(r"[\s_\-]+", " ", word).strip()
    side = ""
    first, _, rest = word.partition(" ")
    if first in _SIDES and rest:
        side, word = first, rest
    word = _FAM_SPELLINGS.get(word, word)
    try:
        canon = normalize_relation(word)
    except ValueError:
        return ""
    if not side:
        return canon
    # a side given: the side-less word's sided form, never the alias's side
    base = re.sub(r"^(paternal|maternal)-", "", canon)
    sided = f"{side}-{base}"
    if canon != base and sided in RELATIONS:
        return sided
    return ""


@dataclass
class FamLocus:
    name: str
    alleles: list
    freqs: list
    database_size: int | None = None
    line: int = 0


@dataclass
class _Person:
    name: str
    line: int
    sex: str = ""
    triples: list = field(default_factory=list)   # (line, a1, a2, marker)


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return s[1:-1]
    return s.replace('"', "")


class _Cursor:
    def __init__(self, lines: list[str], fname: str):
        self.lines = lines
        self.i = 0
        self.fname = fname

    def err(self, what: str, found=None, line=None):
        ln = line if line is not None else self.i
        if found is None:
            raise InputFormatError(
                f"unexpected end of file while reading {what}", file=self.fname, line=ln,
                fix="the .fam file is truncated; save it again from Familias")
        raise InputFormatError(
            f"expected {what}, found {found[:60]!r}", file=self.fname, line=ln,
            fix="the .fam file is damaged or was edited by hand; save it again from Familias")

    def next(self, what: str) -> tuple[int, str]:
        if self.i >= len(self.lines):
            self.err(what)
        self.i += 1
        return self.i, self.lines[self.i - 1]

    def peek(self) -> str | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def int(self, what: str, lo: int = 0, hi: int | None = None) -> int:
        ln, s = self.next(what)
        v = _unquote(s).strip()
        if not re.fullmatch(r"-?\d{1,9}", v):
            self.err(f"{what} (a whole number)", s, ln)
        n = int(v)
        if n < lo or (hi is not None and n > hi):
            self.err(f"{what} (a whole number from {lo} to {hi})", s, ln)
        return n

    def float(self, what: str) -> float:
        ln, s = self.next(what)
        try:
            v = float(_unquote(s).strip())
        except ValueError:
            self.err(f"{what} (a number)", s, ln)
        if v != v or v in (float("inf"), float("-inf")):
            self.err(f"{what} (a finite number)", s, ln)
        return v

    def remaining(self) -> int:
        return len(self.lines) - self.i


def _split_lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


# ---------------------------------------------------------------------------
# the file's structure: persons, pedigrees, database and settings
# ---------------------------------------------------------------------------

#: Familias mutation model codes (see ``docs/mutation-models.md`` §4)
MODEL_CODES = {0: "equal", 1: "proportional", 2: "stepwise", 3: "stepwise-stationary",
               4: "stepwise-extended"}

#: names that mark an untyped person as a missing person: Familias' ``Missing
#: person`` / ``Missing male 1`` / ``Missing female 2``, and ``MP``, ``MP2``,
#: ``M``, ``M1`` (the names of the Familias exercises and of strkin's cases)
MISSING_NAME = re.compile(r"^\s*(missing\b.*|mp\s*\d*|m\s*\d*)\s*$", re.IGNORECASE)


@dataclass
class FamPedigree:
    """One pedigree of a ``.fam`` file: a hypothesis of the standard module
    (``"H1"``, ``"H2: not father"``) or a pedigree of a DVI reference family.

    ``records`` are :mod:`kinship.pedigree` records (``{"id", "father", "mother",
    "sex"}``) of every person of the pedigree: the listed persons (typed or not),
    Familias' extra persons (``extra_1``..., ``extra_ped2_1``...) and
    placeholders such as ``Missing person``.  ``added`` names the parents strkin
    added where the file gives a person one parent (Familias allows it, the case
    model does not): an untyped founder of the other sex, ``added_1``...
    (as ``pedFamilias``).  ``line`` is the line of the pedigree's name."""

    name: str
    records: list
    added: tuple = ()
    line: int = 0

    @property
    def ids(self) -> list:
        return [r["id"] for r in self.records]

    def pedigree(self):
        from kinship.pedigree import Pedigree

        return Pedigree.from_records(self.records)

    def to_case(self, case_id: str, missing, samples, source: str = ""):
        """The :class:`kinship.cases.Case` of this pedigree with the given missing
        persons and ``{person: sample id}`` of the typed persons."""
        from kinship.cases import Case

        return Case.from_pedigree(case_id, self.records, missing, samples, source)


@dataclass
class FamSettings:
    """θ and the per-locus mutation settings of a ``.fam`` database.

    ``loci[locus]`` is a dict with ``female_rate``, ``male_rate``,
    ``female_model``, ``male_model`` (Familias codes 0-4, :data:`MODEL_CODES`),
    ``female_range``, ``male_range``, ``female_rate2``, ``male_rate2``,
    ``silent`` (the silent-allele flag), ``silent_frequency``, and the
    database's ``database_size`` and ``numeric`` (every allele a repeat number
    >= 1 with at most one decimal: a stepwise model can use it)."""

    theta: float = 0.0
    loci: dict = field(default_factory=dict)
    database: str = ""

    def mutation_model(self, loci=None, *, stationary: str = "stepwise"):
        """:func:`fam_mutation_model` of these settings."""
        return fam_mutation_model(self, loci, stationary=stationary)

    def describe(self) -> list:
        """Lines for the import notes: θ, and the mutation settings grouped by loci."""
        out = [f"theta (Theta/Kinship/Fst) {self.theta:g}: read into ImportResult.settings, "
               f"not applied by the import (give it to the analysis)"]
        groups: dict = {}
        for name, s in self.loci.items():
            groups.setdefault(_describe_locus(s), []).append(name)
        for text, names in groups.items():
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            out.append(f"mutation {text} at {len(names)} loci ({shown})")
        return out


def _describe_locus(s: dict) -> str:
    def one(sex):
        code = s[f"{sex}_model"]
        t = f"{MODEL_CODES.get(code, code)} rate {s[f'{sex}_rate']:g}"
        if code >= 2:
            t += f" range {s[f'{sex}_range']:g} rate2 {s[f'{sex}_rate2']:g}"
        return t

    f, m = one("female"), one("male")
    t = f"{f} (female and male)" if f == m else f"female {f}, male {m}"
    if s.get("silent"):
        t += f", silent allele {s['silent_frequency']:g}"
    return t


def _locus_key(name: str) -> str:
    from kinship.markers import LocusError, canonical_locus

    try:
        return canonical_locus(name)
    except LocusError:
        return str(name).strip()


def fam_mutation_model(settings: FamSettings, loci=None, *, stationary: str = "stepwise"):
    """A :class:`kinship.MutationModel` from the settings of a ``.fam`` file: one
    per-locus female and male model for every locus of ``settings`` (or of
    ``loci``, the loci of the analysis: a model for a locus the frequency table
    lacks is refused by the likelihood).

    Codes: 0 :class:`~kinship.Equal` (rate), 1 :class:`~kinship.Proportional`
    (rate), 2 :class:`~kinship.Stepwise` (rate, rate2, range), 4
    :class:`~kinship.ExtendedStepwise` (rate, rate2, range).  Code 3, Familias'
    "Stepwise (stationary)", is not implemented: ``stationary="stepwise"`` uses
    the unstationary stepwise matrix (code 2) instead, ``stationary="error"``
    refuses it.  A stepwise code at a locus with non-numeric alleles (e.g. a
    "Rest allele") falls back to Equal with the same rate, as pedFamilias does.
    """
    from kinship.mutation import (Equal, ExtendedStepwise, MutationError, MutationModel,
                                  Proportional, Stepwise)

    if stationary not in ("stepwise", "error"):
        raise ValueError("stationary must be 'stepwise' or 'error'")
    want = None if loci is None else {_locus_key(l) for l in loci}

    def build(name, s, sex):
        code, rate = s[f"{sex}_model"], s[f"{sex}_rate"]
        if code == 0:
            return Equal(rate)
        if code == 1:
            return Proportional(rate)
        if not s.get("numeric", True):
            return Equal(rate)
        if code == 3 and stationary == "error":
            raise MutationError(f"locus {name}: the {sex} model is Familias' stationary stepwise "
                                f"model (code 3), which strkin does not implement")
        cls = ExtendedStepwise if code == 4 else Stepwise
        try:
            return cls(rate, s[f"{sex}_rate2"], s[f"{sex}_range"])
        except MutationError as e:
            raise MutationError(f"locus {name}, {sex} model: {e}") from None

    per = {}
    for name, s in settings.loci.items():
        key = _locus_key(name)
        if want is not None and key not in want:
            continue
        per[key] = MutationModel(female=build(name, s, "female"), male=build(name, s, "male"))
    return MutationModel(per_locus=per)


@dataclass
class _FamFile:
    persons: list
    loci: list
    dvi: int | None
    version: str
    theta: float
    lines: list
    known: tuple = (0, 0, [])          # (extra females, extra males, [(line, parent, child)])
    peds: list = field(default_factory=list)  # dicts: index, name, line, nf, nm, rels
    settings: FamSettings | None = None


class _PedProblem(InputFormatError):
    """A pedigree of the file that cannot be used (the pedigree is left out, with
    a note; the profiles still import)."""


def _relation_index(c: _Cursor, what: str) -> int:
    ln, s = c.next(what)
    v = _unquote(s).strip()
    if "direct" in v.lower():
        raise InputFormatError(
            "the pedigree holds a 'Direct' relation (identical twins), which strkin does not "
            "read", file=c.fname, line=ln, fix="remove the twin relation in Familias")
    if not re.fullmatch(r"\d{1,9}", v):
        c.err(f"{what} (a person index)", s, ln)
    return int(v)


def _relations(c: _Cursor) -> list:
    n = c.int("the number of relations", 0, c.remaining() // 2)
    out = []
    for _ in range(n):
        ln = c.i + 1
        par = _relation_index(c, "a parent index")
        child = _relation_index(c, "a child index")
        out.append((ln, par, child))
    return out


def _is_numeric_ladder(alleles) -> bool:
    for a in alleles:
        try:
            v = float(a)
        except ValueError:
            return False
        if v < 1 or round(v, 1) != v:
            return False
    return True


def _parse_structure(text: str, fname: str) -> _FamFile:
    """Parse a .fam text: persons, pedigrees, database and settings."""
    lines = _split_lines(text)
    c = _Cursor(lines, fname)
    ln, first = c.next("the Familias header")
    if not _unquote(first).startswith("Output from Familias"):
        raise InputFormatError(
            f"not a Familias .fam file (line 1 is {first[:60]!r}, expected \"Output from "
            f"Familias, version ...\")", file=fname, line=1,
            fix="give a .fam file saved by Familias, or choose the right format")
    c.next("the second header line")
    _, version = c.next("the Familias version")
    version = _unquote(version)
    if _unquote(c.peek() or "x") == "":
        c.next("an empty line")
    nid = c.int("the number of persons", 0, c.remaining())
    persons: list[_Person] = []
    for _ in range(nid):
        ln, name = c.next("a person name")
        p = _Person(_unquote(name), ln)
        c.next("person flags")
        c.next("person flags")
        c.next("person flags")
        _, sx = c.next("the person's sex")
        p.sex = "M" if sx.strip() == "#TRUE#" else "F"
        ng = c.int(f"the number of genotypes of {p.name!r}", 0, c.remaining() // 3)
        for _ in range(ng):
            gl = c.i + 1
            a1 = c.int("an allele index", 0)
            a2 = c.int("an allele index", 0)
            m = c.int("a marker index", 0)
            p.triples.append((gl, a1, a2, m))
        persons.append(p)
    ln, kr = c.next('"Known relations"')
    if _unquote(kr) != "Known relations":
        c.err('"Known relations"', kr, ln)
    nf = c.int("the number of extra females", 0)
    nm = c.int("the number of extra males", 0)
    known = (nf, nm, _relations(c))
    nped = c.int("the number of pedigrees", 0, c.remaining())
    peds = []
    for _ in range(nped):
        idx = c.int("a pedigree index", 0)
        pl, pname = c.next("a pedigree name")
        pf = c.int("the number of extra females", 0)
        pm = c.int("the number of extra males", 0)
        peds.append({"index": idx, "name": _unquote(pname), "line": pl, "nf": pf, "nm": pm,
                     "rels": _relations(c)})
    loci: list[FamLocus] = []
    settings = FamSettings()
    theta = 0.0
    dvi = None
    if c.peek() is not None and c.peek().strip() != "":
        ln, dbline = c.next("the database header")
        if dbline.strip().startswith("#TRUE#"):
            raise InputFormatError(
                "the file holds precomputed probabilities, which strkin does not read",
                file=fname, line=ln,
                fix="save the case again in Familias without computed results")
        if not dbline.strip().startswith("#FALSE#"):
            c.err("the database header '#FALSE# (#Databases: ...)'", dbline, ln)
        m = re.search(r"Theta/Kinship/Fst:\s*([0-9.eE+-]+)", dbline)
        if m:
            try:
                theta = float(m.group(1))
            except ValueError:
                theta = 0.0
        settings.theta = theta
        nloc = c.int("the number of loci", 0, c.remaining())
        _, info = c.next("the database-name flag")
        if info.strip() == "#TRUE#":
            settings.database = _unquote(c.next("the database name")[1])
        for _ in range(nloc):
            ln, name = c.next("a locus name")
            loc = FamLocus(_unquote(name), [], [], line=ln)
            s = {"female_rate": c.float("the female mutation rate"),
                 "male_rate": c.float("the male mutation rate"),
                 "female_model": c.int("the female mutation model", 0, 4),
                 "male_model": c.int("the male mutation model", 0, 4)}
            c.int("the number of alleles", 0)
            for what in ("female range", "male range", "female rate2", "male rate2"):
                s[what.replace(" ", "_")] = c.float(f"the {what}")
            s["silent"] = c.next("the silent-allele flag")[1].strip() == "#TRUE#"
            s["silent_frequency"] = c.float("the silent-allele frequency")
            ln2, nline = c.next("the number of alleles of the locus")
            mm = re.match(r"\s*(\d{1,6})", nline)
            if not mm:
                c.err("the number of alleles (n<TAB>(DatabaseSize = ...))", nline, ln2)
            nal = int(mm.group(1))
            ds = re.search(r"DatabaseSize\s*=\s*(\d+)", nline)
            loc.database_size = int(ds.group(1)) if ds else None
            if nal > c.remaining() // 2:
                c.err(f"{nal} allele/frequency pairs", nline, ln2)
            for _ in range(nal):
                _, a = c.next("an allele name")
                loc.alleles.append(_unquote(a).strip())
                loc.freqs.append(c.float("an allele frequency"))
            s["database_size"] = loc.database_size
            s["numeric"] = _is_numeric_ladder(loc.alleles)
            settings.loci[loc.name] = s
            loci.append(loc)
    for j in range(c.i, len(lines)):
        if lines[j].strip() == "[DVI]":
            dvi = j
            break
    return _FamFile(persons, loci, dvi, version, theta, lines, known, peds, settings)


# ---------------------------------------------------------------------------
# pedigrees -> records, cases
# ---------------------------------------------------------------------------


def _fresh(base: str, taken: set) -> str:
    n = base
    while n in taken:
        n = "_" + n
    taken.add(n)
    return n


def _complete_parents(ids, sex, father, mother, taken) -> tuple:
    """Records with a founder of the other sex added for every person with one
    parent (``added_1``, ``added_2``... as pedFamilias)."""
    recs, extra, added = [], [], []
    k = 0
    for pid in ids:
        fa, mo = father.get(pid), mother.get(pid)
        if (fa is None) != (mo is None):
            k += 1
            new = _fresh(f"added_{k}", taken)
            added.append(new)
            if fa is None:
                fa = new
                extra.append({"id": new, "father": None, "mother": None, "sex": "male"})
            else:
                mo = new
                extra.append({"id": new, "father": None, "mother": None, "sex": "female"})
        recs.append({"id": pid, "father": fa, "mother": mo, "sex": sex[pid]})
    return recs + extra, tuple(added)


def _check_pedigree(ped: FamPedigree, fname, where: str):
    from kinship.pedigree import PedigreeError

    try:
        ped.pedigree()
    except PedigreeError as e:
        raise _PedProblem(f"{where}pedigree {ped.name!r}: {e}", file=fname, line=ped.line,
                          fix="correct the pedigree in Familias") from None


def _set_parent(father: dict, mother: dict, male: bool, child: str, parent: str, where: str,
                fname, ln) -> None:
    """Record ``parent`` as the father (``male``) or mother of ``child``; a second,
    different parent of the same role is an error naming both."""
    role = father if male else mother
    if role.get(child, parent) != parent:
        raise _PedProblem(
            f"{where}: person {child!r} is given two {'fathers' if male else 'mothers'} "
            f"({role[child]!r} and {parent!r})", file=fname, line=ln,
            fix="correct the pedigree in Familias")
    role[child] = parent


def _standard_pedigrees(ff: _FamFile, fname: str, notes: list) -> list:
    """The pedigrees of the standard module as :class:`FamPedigree` (the known
    relations of the file are in every one)."""
    names = [p.name for p in ff.persons]
    seen = {}
    for p in ff.persons:
        if p.name in seen:
            raise InputFormatError(f"person name {p.name!r} is used twice (lines {seen[p.name]} "
                                   f"and {p.line})", file=fname, line=p.line,
                                   fix="give the persons different names in Familias")
        seen[p.name] = p.line
    sexes = ["male" if p.sex == "M" else "female" for p in ff.persons]
    nf, nm, krels = ff.known
    taken = set(names)
    ids = names + [_fresh(f"extra_{i + 1}", taken) for i in range(nf + nm)]
    sexes = sexes + ["female"] * nf + ["male"] * nm
    peds = ff.peds
    if not peds and krels:
        peds = [{"index": 0, "name": "Known relations", "line": 0, "nf": 0, "nm": 0, "rels": []}]
    out = []
    for pd in peds:
        try:
            out.append(_standard_pedigree(pd, ids, sexes, krels, fname))
        except _PedProblem as e:
            notes.append(f"pedigree {pd['name']!r} left out: {e}")
    return out


def _standard_pedigree(pd, ids, sexes, krels, fname) -> FamPedigree:
    if True:
        t = set(ids)
        pids = ids + [_fresh(f"extra_ped{pd['index'] + 1}_{i + 1}", t)
                      for i in range(pd["nf"] + pd["nm"])]
        psex = sexes + ["female"] * pd["nf"] + ["male"] * pd["nm"]
        father, mother = {}, {}
        for ln, par, child in list(krels) + list(pd["rels"]):
            for what, i in (("parent", par), ("child", child)):
                if i >= len(pids):
                    raise InputFormatError(
                        f"pedigree {pd['name']!r}: {what} index {i} is outside the "
                        f"{len(pids)} persons", file=fname, line=ln,
                        fix="the file is damaged; save it again from Familias")
            _set_parent(father, mother, psex[par] == "male", pids[child], pids[par],
                        f"pedigree {pd['name']!r}", fname, ln)
        sex = dict(zip(pids, psex))
        recs, added = _complete_parents(pids, sex, father, mother, set(pids))
        fp = FamPedigree(pd["name"], recs, added, pd["line"])
        _check_pedigree(fp, fname, "")
        return fp


def _components(records) -> dict:
    """person -> component number (persons linked by parent-child edges)."""
    up = {r["id"]: r["id"] for r in records}

    def find(x):
        while up[x] != x:
            up[x] = up[up[x]]
            x = up[x]
        return x

    for r in records:
        for par in (r["father"], r["mother"]):
            if par is not None:
                up[find(par)] = find(r["id"])
    return {r["id"]: find(r["id"]) for r in records}


def _prune_case(records, typed, missing_cand):
    """Keep the components holding a missing person and a typed person: (records,
    missing, typed kept, persons dropped)."""
    comp = _components(records)
    good = {comp[m] for m in missing_cand} & {comp[t] for t in typed}
    keep = [r for r in records if comp[r["id"]] in good]
    kept = {r["id"] for r in keep}
    return (keep, [m for m in missing_cand if m in kept], [t for t in typed if t in kept],
            [r["id"] for r in records if r["id"] not in kept])


def _standard_case(p: Parsed, ff: _FamFile, fname: str):
    """A case from the standard module when an untyped person has a missing
    person's name (:data:`MISSING_NAME`): the first pedigree in which such a
    person is linked to a typed person, cut to the linked persons."""
    typed = [q.name for q in ff.persons if q.triples]
    cand = [q.name for q in ff.persons if not q.triples and MISSING_NAME.match(q.name)]
    if not cand or not typed:
        return
    stem = os.path.splitext(os.path.basename(fname))[0]
    for ped in p.pedigrees:
        recs, missing, refs, dropped = _prune_case(ped.records, typed, cand)
        if not missing:
            continue
        case = FamPedigree(ped.name, recs, ped.added, ped.line).to_case(
            stem, missing, {t: t for t in refs},
            f"{os.path.basename(fname)}: pedigree {ped.name!r}")
        p.cases.append(case)
        for t in refs:
            p.hints.setdefault(t, {}).update(kind="reference", case_id=stem)
        p.notes.append(
            f"case {stem!r} from pedigree {ped.name!r}: missing {', '.join(missing)}; "
            f"references {', '.join(refs)}" + (f"; left out (not linked): {', '.join(dropped)}"
                                               if dropped else ""))
        return


_GENDER = {"male": "male", "female": "female"}


def _dvi_cases(fams: list, fname: str, p: Parsed):
    base = os.path.basename(fname)
    for fam in fams:
        fname_ = fam["name"]
        listed = {}
        for q in fam["persons"]:
            if q["name"] in listed:
                raise InputFormatError(
                    f"DVI family {fname_!r}: person {q['name']!r} is listed twice",
                    file=fname, line=q["line"], fix="give the persons different names")
            listed[q["name"]] = q
        peds = [d for d in fam["peds"] if d["name"] != "Reference pedigree"] or fam["peds"]
        if not peds:
            p.notes.append(f"DVI family {fname_!r}: no pedigree, no case")
            continue
        for pd in peds:
            cid = fname_ if len(peds) == 1 else f"{fname_} [{pd['name']}]"
            src = f"{base}: DVI family {fname_!r}, pedigree {pd['name']!r}"
            try:
                case = _dvi_case(cid, fam, listed, pd, fname, p.notes, src)
            except _PedProblem as e:
                p.notes.append(f"no case for DVI family {fname_!r}: {e}")
                continue
            if case is not None:
                p.cases.append(case)


def _dvi_case(cid, fam, listed, pd, fname, notes, source):
    """The case of one pedigree of a DVI reference family: the persons linked to
    a missing person (an untyped person, listed or only named in the pedigree
    like Familias' ``Missing person``, whose name is a missing person's name,
    :data:`MISSING_NAME`), typed persons linked to ``"<family>/<name>"``."""
    where = f"DVI family {fam['name']!r}, pedigree {pd['name']!r}"
    in_rel = []
    for _, a, b in pd["rels"]:
        for n in (a, b):
            if n not in in_rel:
                in_rel.append(n)
    sex = {n: _GENDER.get(q.get("gender", "").lower(), "unknown") for n, q in listed.items()}
    typed = {n for n, q in listed.items() if q["typed"]}
    order = list(listed)
    holders = [n for n in in_rel if n not in listed]
    for h in holders:
        sex.setdefault(h, "unknown")
        order.append(h)
    rels = pd["rels"]
    # a parent of unknown sex (Familias' "Missing person") takes the sex opposite
    # to the other parent's
    for _ in range(len(rels) + 1):
        changed = False
        for ln, par, child in rels:
            if sex[par] != "unknown":
                continue
            co = {sex[q] for _, q, ch in rels if ch == child and q != par} - {"unknown"}
            if len(co) == 1:
                sex[par] = "female" if co.pop() == "male" else "male"
                changed = True
        if not changed:
            break
    father, mother = {}, {}
    for ln, par, child in rels:
        if par == child:
            raise _PedProblem(f"{where}: person {par!r} is given as their own parent",
                              file=fname, line=ln, fix="correct the pedigree in Familias")
        if sex[par] == "unknown":
            raise _PedProblem(
                f"{where}: cannot tell whether {par!r} is the father or the mother of "
                f"{child!r} (no sex, and no other parent of known sex)", file=fname, line=ln,
                fix="give the person a sex in Familias")
        _set_parent(father, mother, sex[par] == "male", child, par, where, fname, ln)
    recs, added = _complete_parents(order, sex, father, mother, set(order))
    draft = FamPedigree(pd["name"], recs, added, pd["line"])
    _check_pedigree(draft, fname, f"DVI family {fam['name']!r}, ")
    cand = [n for n in order if n not in typed and MISSING_NAME.match(n)]
    keep, missing, refs, dropped = _prune_case(recs, sorted(typed), cand)
    if not missing:
        why = ("no untyped person has a missing person's name ('Missing ...', 'MP', 'M1')"
               if not cand else "no missing person is linked to a typed reference")
        notes.append(f"{where}: no case ({why})")
        return None
    notes.append(f"case {cid!r}: missing {', '.join(missing)}; references "
                 f"{', '.join(refs)}" + (f"; left out (not linked): {', '.join(dropped)}"
                                         if dropped else ""))
    return FamPedigree(pd["name"], keep, added, pd["line"]).to_case(
        cid, missing, {r: f"{fam['name']}/{r}" for r in refs}, source)


# ---------------------------------------------------------------------------
# the DVI section
# ---------------------------------------------------------------------------


def _parse_dvi(lines: list[str], start: int, fname: str, p: Parsed, fams: list | None = None):
    """Profiles of the DVI section into ``p``; the reference families (persons
    and pedigrees) into ``fams``."""
    stack: list[str] = []
    person = None
    family = ""
    fam = None
    ped = None
    fams = [] if fams is None else fams

    def flush():
        nonlocal person
        if person is None:
            return
        pend = person.get("pending")
        if pend is not None:
            person["rows"].append(pend)
        name = person.get("name", "").strip()
        if person["ref"] and fam is not None:
            fam["persons"].append({"name": name, "gender": person.get("gender", ""),
                                   "typed": bool(person["rows"]), "line": person["line"]})
        if person["rows"]:
            if person["ref"]:
                sid = f"{person['family']}/{name}" if name else ""
                hint = {"kind": "reference", "case_id": person["family"],
                        "relation": relation_from_label(name)}
            else:
                sid = name
                hint = {"kind": "query"}
            g = person.get("gender", "").lower()
            if g in ("male", "female"):
                hint["sex"] = "M" if g == "male" else "F"
            if sid:
                p.hints[sid] = hint
            for (ln, system, a1, a2) in person["rows"]:
                if a1 is None or a2 is None:
                    p.rejects.append(Reject(
                        fname, ln, sid, system or "",
                        "incomplete genotype: SystemName without Allele1 and Allele2",
                        "save the file again from Familias"))
                    continue
                p.calls.append(Call(ln, sid, system, [a1, a2]))
        person = None

    for idx in range(start + 1, len(lines)):
        s = lines[idx].strip()
        ln = idx + 1
        if not s:
            continue
        if s.startswith("["):
            depth = len(s) - len(s.lstrip("["))
            name = s.strip("[]").strip()
            if depth <= 1:
                break
            if person is not None and depth <= person["depth"]:
                flush()
            stack = stack[: depth - 2] + [""] * max(0, depth - 2 - len(stack)) + [name]
            in_un = len(stack) >= 2 and stack[0] == "Unidentified persons" and len(stack) == 2
            in_ref = (len(stack) == 4 and stack[0] == "Reference Families"
                      and stack[2] == "Persons")
            if (in_un or in_ref) and name.startswith("Person"):
                person = {"depth": depth, "ref": in_ref, "family": family if in_ref else "",
                          "rows": [], "pending": None, "line": ln}
            if len(stack) == 2 and stack[0] == "Reference Families" and name.startswith("Family"):
                family = ""
                fam = {"name": "", "line": ln, "persons": [], "peds": []}
                fams.append(fam)
            ped = None
            if (len(stack) == 4 and stack[0] == "Reference Families" and stack[2] == "Pedigrees"
                    and name.startswith("Pedigree") and fam is not None):
                ped = {"name": "", "line": ln, "rels": [], "parent": None}
                fam["peds"].append(ped)
            continue
        key, sep, val = s.partition("=")
        key, val = key.strip(), val.strip()
        if not sep:
            continue
        if (len(stack) == 2 and stack[0] == "Reference Families" and key == "Name"):
            family = val
            if fam is not None:
                fam["name"] = val
            continue
        if ped is not None:
            if key == "Name" and not ped["name"]:
                ped["name"] = val
                ped["line"] = ln
            elif key == "Parent":
                ped["parent"] = (ln, val)
            elif key == "Child":
                if ped["parent"] is None:
                    raise InputFormatError(
                        f"DVI family {family!r}, pedigree {ped['name']!r}: 'Child= {val}' "
                        f"without a 'Parent=' line before it", file=fname, line=ln,
                        fix="the file is damaged; save it again from Familias")
                pl, par = ped["parent"]
                ped["rels"].append((pl, par, val))
                ped["parent"] = None
            continue
        if person is None:
            continue
        if key == "Name" and "name" not in person:
            person["name"] = val
        elif key == "Gender":
            person["gender"] = val
        elif key == "SystemName":
            if person["pending"] is not None:
                person["rows"].append(person["pending"])
            person["pending"] = [ln, val, None, None]
        elif key in ("Allele1", "Allele2") and person["pending"] is not None:
            person["pending"][2 if key == "Allele1" else 3] = val
            if key == "Allele2":
                person["rows"].append(person["pending"])
                person["pending"] = None
    flush()
    return fams


def parse_fam(path, encoding=None) -> Parsed:
    """Parse a ``.fam`` file: the genotype rows and hints for the import, the
    pedigrees (:class:`FamPedigree`, ``Parsed.pedigrees``), the cases
    (``Parsed.cases``) and the settings (:class:`FamSettings`, ``Parsed.settings``).

    Cases: every DVI reference family gives one (see :func:`_dvi_case`); a
    standard-module file gives one when an untyped person has a missing
    person's name (:data:`MISSING_NAME`)."""
    t = read_text(path, encoding, what="Familias file")
    fname = os.fspath(path)
    ff = _parse_structure(t.text, fname)
    loci = ff.loci
    p = Parsed(fname, "familias", t.sha256, t.encoding, single_allele="error", no_call="error")
    p.notes.append(f"Familias version {ff.version}")
    p.settings = ff.settings
    if loci:
        p.notes += ff.settings.describe()
    p.extra_loci = _file_loci(loci)
    for name in p.extra_loci:
        p.notes.append(f"locus {name!r} is not a known locus; accepted for this file because its "
                       f"frequency database defines it (its frequencies: "
                       f"read_frequencies(file, format='fam'))")
    p.pedigrees = _standard_pedigrees(ff, fname, p.notes)
    for ped in p.pedigrees:
        if ped.added:
            p.notes.append(f"pedigree {ped.name!r}: added untyped parents {', '.join(ped.added)} "
                           f"where the file gives one parent")
    for person in ff.persons:
        if not person.triples:
            continue
        p.hints[person.name] = {"sex": person.sex}
        for (ln, a1, a2, m) in person.triples:
            if m >= len(loci):
                p.rejects.append(Reject(
                    fname, ln, person.name, "",
                    f"marker index {m} is outside the database ({len(loci)} loci)",
                    "the file is damaged; save it again from Familias", str(m)))
                continue
            loc = loci[m]
            bad = next((a for a in (a1, a2) if a >= len(loc.alleles)), None)
            if bad is not None:
                p.rejects.append(Reject(
                    fname, ln, person.name, loc.name,
                    f"allele index {bad} is outside the database of the locus "
                    f"({len(loc.alleles)} alleles)",
                    "the file is damaged; save it again from Familias", str(bad)))
                continue
            p.calls.append(Call(ln, person.name, loc.name, [loc.alleles[a1], loc.alleles[a2]]))
    _standard_case(p, ff, fname)
    if ff.dvi is not None:
        fams = _parse_dvi(ff.lines, ff.dvi, fname, p)
        _dvi_cases(fams, fname, p)
    return p


def _file_loci(loci) -> tuple:
    """The loci of a ``.fam`` database that are not known loci (``L1`` of dvir's
    ``dvi-example.fam``): a file's own database defines them, so its import
    accepts them (as ``extra_loci``)."""
    from kinship.markers import LocusError, canonical_locus, is_amelogenin

    out = []
    for loc in loci:
        if is_amelogenin(loc.name):
            continue
        try:
            canonical_locus(loc.name)
        except LocusError:
            name = loc.name.strip()
            if name and name not in out:
                out.append(name)
    return tuple(out)


def read_fam(path, encoding=None):
    """The pedigrees, cases and settings of a ``.fam`` file without importing
    profiles: ``(pedigrees, cases, settings)``."""
    p = parse_fam(path, encoding)
    return p.pedigrees, p.cases, p.settings


def read_fam_database(path, encoding=None, *, settings: bool = False):
    """The frequency database of a ``.fam`` file: (loci, provenance), and its
    :class:`FamSettings` (θ, mutation, silent alleles) with ``settings=True``."""
    t = read_text(path, encoding, what="Familias file")
    ff = _parse_structure(t.text, os.fspath(path))
    if not ff.loci:
        raise InputFormatError("the .fam file has no frequency database", file=path,
                               fix="save the database in Familias, or use another source")
    prov = {"file": os.path.basename(os.fspath(path)), "file_sha256": t.sha256,
            "familias_version": ff.version, "theta": ff.theta}
    if settings:
        return ff.loci, prov, ff.settings
    return ff.loci, prov


# ---------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------


def _fam_name(s: str, what: str) -> str:
    if '"' in s or re.search(r"[\r\n]", s):
        raise ValueError(f"{what} {s!r} cannot be written to a .fam file (it contains a "
                         f"double quote or a line break)")
    return f'"{s}"'


def _num(v) -> str:
    return repr(float(v))


def _header() -> list:
    from kinship import __version__

    return ['"Output from Familias, version 3.2.8"',
            f'"(Actually produced by strkin {__version__}, {_dt.date.today().isoformat()})"',
            "3.2.8", '""']


def _database(loci, alleles_seen, frequencies):
    """[(locus, alleles, freqs, silent frequency)] of the loci: a table's allele
    system with the alleles seen (:meth:`FrequencyTable.locus_alleles`), or equal
    frequencies over the alleles seen."""
    db = []
    for l in loci:
        extra = sorted(alleles_seen.get(l, ()), key=allele_sort_key)
        if frequencies is not None:
            la = frequencies.locus_alleles(l, extra_alleles=extra)
            labs = [a for a in la.alleles if a != "silent"]
            fr = [float(f) for a, f in zip(la.alleles, la.freqs) if a != "silent"]
            sil = next((float(f) for a, f in zip(la.alleles, la.freqs) if a == "silent"), 0.0)
        else:
            labs = extra
            fr = [1.0 / len(extra)] * len(extra)
            sil = 0.0
        db.append((l, labs, fr, sil))
    return db


def _mutation_params(model) -> tuple:
    """(rate, Familias code, range, rate2) of one sex's model at one locus."""
    from kinship.mutation import Custom, Equal, ExtendedStepwise, Proportional, Stepwise

    if model is None:
        return 0.0, 0, 0.1, 0.0
    if isinstance(model, ExtendedStepwise):
        return model.rate, 4, model.range, model.rate2
    if isinstance(model, Stepwise):
        # as pedFamilias' writeFam: the stepwise model with rate2 is Familias'
        # "Extended stepwise" (code 4), without it "Stepwise (unstationary)" (2)
        return model.rate, (4 if model.rate2 else 2), model.range, model.rate2
    if isinstance(model, Proportional):
        return model.rate, 1, 0.1, 0.0
    if isinstance(model, Equal):
        return model.rate, 0, 0.1, 0.0
    if isinstance(model, Custom):
        raise ValueError("a Custom mutation matrix cannot be written to a .fam file (Familias "
                         "reads its models from codes and rates)")
    raise TypeError(f"unknown mutation model {model!r}")


def _database_lines(db, frequencies, database_name, database_size=None, mutation=None,
                    theta=0.0) -> list:
    out = [f"#FALSE# (#Databases: 1 ;Theta/Kinship/Fst: {_num(theta) if theta else '0'} )",
           str(len(db)), "#TRUE#", _fam_name(database_name, "database name")]
    for l, labs, fr, sil in db:
        n = database_size or (frequencies.n_for(l) if frequencies is not None else None) or 0
        if mutation is not None:
            mm = mutation.for_locus(l)
            fr_, fc, fg, f2 = _mutation_params(mm.female)
            mr, mc, mg, m2 = _mutation_params(mm.male)
        else:
            fr_, fc, fg, f2 = mr, mc, mg, m2 = (0.0, 0, 0.1, 0.0)
        out += [_fam_name(l, "locus"), _num(fr_) if fr_ else "0", _num(mr) if mr else "0",
                str(fc), str(mc), str(len(labs) + (1 if sil else 0)), _num(fg), _num(mg),
                _num(f2) if f2 else "0", _num(m2) if m2 else "0",
                "#TRUE#" if sil else "#FALSE#", _num(sil) if sil else "0",
                f"{len(labs)}\t(DatabaseSize = {n} , Dropout probability = 0 , Minor allele "
                f"frequency = 0 )"]
        for a, f in zip(labs, fr):
            out += [f'"{a}"', _num(f)]
    return out


def _person_lines(name, male, genos, idx) -> list:
    from kinship.markers import normalize_allele

    out = [_fam_name(name, "person name"), "#FALSE#", "-1", "#FALSE#",
           "#TRUE#" if male else "#FALSE#", str(len(genos))]
    for l, (a, b) in genos.items():
        d, j = idx[l]
        out += [str(d[normalize_allele(a)]), str(d[normalize_allele(b)]), str(j)]
    return out


def _write(path, out) -> str:
    """Write the lines atomically, private (:mod:`formats.perms`)."""
    from .dataset import _atomic_write_bytes

    _atomic_write_bytes(Path(path), ("\r\n".join(out) + "\r\n").encode("utf-8"))
    return os.fspath(path)


def write_fam(profiles, path, frequencies=None, database_name: str = "strkin export",
              database_size: int | None = None) -> str:
    """Write profiles as a Familias ``.fam`` file (standard-module persons, no
    pedigrees) with a database covering every allele of the profiles.

    Frequencies come from ``frequencies`` (a :class:`kinship.FrequencyTable`; alleles
    it lacks get its minimum allele frequency) or, without a table, are equal
    (1/number of alleles) -- a placeholder to replace in Familias.
    """
    profiles = list(profiles)
    loci: list[str] = []
    alle: dict[str, set] = {}
    for p in profiles:
        for l, pair in p.genotypes.items():
            if l not in alle:
                alle[l] = set()
                loci.append(l)
            alle[l].update(pair)
    db = _database(loci, alle, frequencies)
    idx = {l: ({a: i for i, a in enumerate(labs)}, j) for j, (l, labs, _, _) in enumerate(db)}
    out = _header() + [str(len(profiles))]
    for p in profiles:
        out += _person_lines(p.sample_id, p.sex == "M", p.genotypes, idx)
    out += ['"Known relations"', "0", "0", "0", "0"]
    out += _database_lines(db, frequencies, database_name, database_size)
    return _write(path, out)


def case_hypotheses(case, query_id: str, missing: str | None = None) -> tuple:
    """H1 and H2 records of a case and a query (:meth:`kinship.cases.Case.hypotheses`);
    a ValueError where the missing person or the query id does not fit."""
    return case.hypotheses(query_id, missing)


def write_fam_case(path, case, genotypes, frequencies, loci=None, mutation=None,
                   theta: float = 0.0, query=None, *, missing: str | None = None,
                   database_name: str | None = None) -> str:
    """Write a case as a complete Familias ``.fam`` file.

    Persons: every person of the case pedigree (typed persons named by their
    sample ids, untyped persons by their person ids; a missing person whose id
    Familias-readers would not recognise as missing is written as ``"Missing
    <id>"``) and, with ``query = (sample_id, {locus: (a1, a2)})``, the query.
    Pedigrees: with a query ``"H1"`` (the query in the place of the missing
    person, :func:`case_hypotheses`) and ``"H2"`` (the query unrelated);
    without one the case pedigree alone.  ``genotypes``: ``{sample_id: {locus:
    (a1, a2)}}`` of the typed persons.  The database holds the allele system of
    ``frequencies`` at each locus of ``loci`` (default: the loci typed in
    someone) with the alleles seen in the data, the per-locus female and male
    parameters of ``mutation`` (a :class:`kinship.MutationModel`; Custom matrices
    cannot be written) and θ.

    Familias knows no unknown sex: a person of unknown sex (never a parent) is
    written as female.  :func:`parse_fam` reads the file back with the same
    persons, genotypes, pedigrees, θ and mutation settings."""
    from kinship.markers import normalize_allele

    if mutation is not None and not hasattr(mutation, "for_locus"):
        from kinship.mutation import MutationModel

        mutation = MutationModel(mutation)
    m = missing if missing is not None else case.missing[0]
    qid = None
    if query is not None:
        qid, qgen = query
        qid = str(qid)
    # names in the file
    taken = set(case.samples.values()) | ({qid} if qid else set())
    name = {}
    for pid in case.pedigree.order:
        if pid in case.samples:
            name[pid] = case.samples[pid]
            continue
        n = pid
        if pid in case.missing and not MISSING_NAME.match(pid):
            n = f"Missing {pid}"
        name[pid] = _fresh(n, taken)
    order = list(case.pedigree.order)
    data = {}
    for pid in order:
        if pid in case.samples:
            data[pid] = {l: g for l, g in (genotypes.get(case.samples[pid]) or {}).items()
                         if g is not None}
    if qid is not None:
        if qid in case.pedigree:
            raise ValueError(f"the query id {qid!r} is a person id of case {case.id!r}")
        data[qid] = {l: g for l, g in (qgen or {}).items() if g is not None}
    # loci and database
    res = frequencies.resolve_locus
    if loci is None:
        typed_loci = {res(l) for g in data.values() for l in g}
        loci = [l for l in frequencies.loci if l in typed_loci]
    else:
        loci = [res(l) for l in loci]
    seen: dict = {l: set() for l in loci}
    for pid, g in data.items():
        data[pid] = {res(l): (normalize_allele(a), normalize_allele(b))
                     for l, (a, b) in g.items() if res(l) in seen}
        for l, pair in data[pid].items():
            seen[l].update(pair)
    db = _database(loci, seen, frequencies)
    idx = {l: ({a: i for i, a in enumerate(labs)}, j) for j, (l, labs, _, _) in enumerate(db)}
    # persons
    sex = {pid: case.sex_of(pid) for pid in order}
    persons = [(name[pid], sex[pid] == "male", data.get(pid, {})) for pid in order]
    pos = {pid: i for i, pid in enumerate(order)}
    if qid is not None:
        persons.append((qid, sex[m] == "male", data[qid]))
        pos[qid] = len(order)
    out = _header() + [str(len(persons))]
    for n, male, g in persons:
        out += _person_lines(n, male, g, idx)
    out += ['"Known relations"', "0", "0", "0"]
    if qid is not None:
        h1, h2 = case_hypotheses(case, qid, m)
        peds = [("H1", h1), ("H2", h2)]
    else:
        peds = [(case.id, case.pedigree.records())]
    out.append(str(len(peds)))
    for k, (pname, recs) in enumerate(peds):
        pairs = [(pos[r[par]], pos[r["id"]]) for r in recs for par in ("father", "mother")
                 if r[par] is not None]
        out += [str(k), _fam_name(pname, "pedigree name"), "0", "0", str(len(pairs))]
        for a, b in pairs:
            out += [str(a), str(b)]
    out += _database_lines(db, frequencies, database_name or f"strkin case {case.id}"[:80],
                           None, mutation, theta)
    return _write(path, out)
