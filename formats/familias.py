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
  ``full-sibling``, ``[Grandfather]`` -> ``grandfather``...; see
  :func:`relation_from_label`); other labels leave the relation empty (give it in
  the manifest).  Persons without DNA data (the missing persons) are not profiles.

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

from .errors import InputFormatError, Reject
from .importing import Call, Parsed
from .profile import allele_sort_key
from .textio import read_text

__all__ = ["parse_fam", "read_fam_database", "relation_from_label", "write_fam", "FamLocus"]

_REL_WORDS = {
    "father": "father", "mother": "mother",
    "son": "child", "daughter": "child", "daugther": "child", "child": "child",
    "brother": "full-sibling", "sister": "full-sibling", "sibling": "full-sibling",
    "full sibling": "full-sibling", "full-sibling": "full-sibling", "fullsib": "full-sibling",
    "half brother": "half-sibling", "half sister": "half-sibling", "half sibling": "half-sibling",
    "half-brother": "half-sibling", "half-sister": "half-sibling", "half-sibling": "half-sibling",
    "halfsib": "half-sibling",
    "grandfather": "grandfather", "grandmother": "grandmother",
    "paternal grandfather": "grandfather", "maternal grandfather": "grandfather",
    "paternal grandmother": "grandmother", "maternal grandmother": "grandmother",
    "uncle": "uncle", "aunt": "aunt",
    "self": "self", "missing person": "self", "direct": "self",
}


def relation_from_label(label: str) -> str:
    """Relation from a Familias person label (``"Father"``, ``"F [Father]"``); ``""``
    when the label names no relation of :data:`formats.profile.RELATIONS`."""
    m = re.search(r"\[([^\]]*)\]\s*$", label or "")
    word = (m.group(1) if m else label or "").strip().lower()
    word = re.sub(r"\s+", " ", word)
    return _REL_WORDS.get(word, "")


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


def _parse_structure(text: str, fname: str):
    """Parse a .fam text: (persons, loci, dvi_start_index, version, theta)."""
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
    c.int("the number of extra females", 0)
    c.int("the number of extra males", 0)
    nrel = c.int("the number of relations", 0, c.remaining() // 2)
    for _ in range(2 * nrel):
        c.next("a relation")
    nped = c.int("the number of pedigrees", 0, c.remaining())
    for _ in range(nped):
        c.next("a pedigree index")
        c.next("a pedigree name")
        c.int("the number of extra females", 0)
        c.int("the number of extra males", 0)
        nr = c.int("the number of relations", 0, c.remaining() // 2)
        for _ in range(2 * nr):
            c.next("a relation")
    loci: list[FamLocus] = []
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
        nloc = c.int("the number of loci", 0, c.remaining())
        _, info = c.next("the database-name flag")
        if info.strip() == "#TRUE#":
            c.next("the database name")
        for _ in range(nloc):
            ln, name = c.next("a locus name")
            loc = FamLocus(_unquote(name), [], [], line=ln)
            c.float("the female mutation rate")
            c.float("the male mutation rate")
            c.int("the female mutation model", 0, 4)
            c.int("the male mutation model", 0, 4)
            c.int("the number of alleles", 0)
            for what in ("female range", "male range", "female rate2", "male rate2"):
                c.float(f"the {what}")
            c.next("the silent-allele flag")
            c.float("the silent-allele frequency")
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
            loci.append(loc)
    for j in range(c.i, len(lines)):
        if lines[j].strip() == "[DVI]":
            dvi = j
            break
    return persons, loci, dvi, version, theta, lines


def _parse_dvi(lines: list[str], start: int, fname: str, p: Parsed):
    stack: list[str] = []
    person = None
    family = ""

    def flush():
        nonlocal person
        if person is None:
            return
        pend = person.get("pending")
        if pend is not None:
            person["rows"].append(pend)
        name = person.get("name", "").strip()
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
            continue
        key, sep, val = s.partition("=")
        key, val = key.strip(), val.strip()
        if not sep:
            continue
        if (len(stack) == 2 and stack[0] == "Reference Families" and key == "Name"):
            family = val
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


def parse_fam(path, encoding=None) -> Parsed:
    t = read_text(path, encoding, what="Familias file")
    fname = os.fspath(path)
    persons, loci, dvi, version, theta, lines = _parse_structure(t.text, fname)
    p = Parsed(fname, "familias", t.sha256, t.encoding, single_allele="error", no_call="error")
    p.notes.append(f"Familias version {version}")
    if theta:
        p.notes.append(f"theta {theta} in the file is not imported (set it in the analysis)")
    for person in persons:
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
    if dvi is not None:
        _parse_dvi(lines, dvi, fname, p)
    return p


def read_fam_database(path, encoding=None):
    """The frequency database of a ``.fam`` file: (loci, provenance)."""
    t = read_text(path, encoding, what="Familias file")
    _, loci, _, version, theta, _ = _parse_structure(t.text, os.fspath(path))
    if not loci:
        raise InputFormatError("the .fam file has no frequency database", file=path,
                               fix="save the database in Familias, or use another source")
    return loci, {"file": os.path.basename(os.fspath(path)), "file_sha256": t.sha256,
                  "familias_version": version, "theta": theta}


def _fam_name(s: str, what: str) -> str:
    if '"' in s or re.search(r"[\r\n]", s):
        raise ValueError(f"{what} {s!r} cannot be written to a .fam file (it contains a "
                         f"double quote or a line break)")
    return f'"{s}"'


def write_fam(profiles, path, frequencies=None, database_name: str = "strkin export",
              database_size: int | None = None) -> str:
    """Write profiles as a Familias ``.fam`` file (standard-module persons, no
    pedigrees) with a database covering every allele of the profiles.

    Frequencies come from ``frequencies`` (a :class:`kinship.FrequencyTable`; alleles
    it lacks get its minimum allele frequency) or, without a table, are equal
    (1/number of alleles) -- a placeholder to replace in Familias.
    """
    from kinship.markers import normalize_allele
    from kinship import __version__

    profiles = list(profiles)
    loci: list[str] = []
    alle: dict[str, set] = {}
    for p in profiles:
        for l, pair in p.genotypes.items():
            if l not in alle:
                alle[l] = set()
                loci.append(l)
            alle[l].update(pair)
    db = []
    for l in loci:
        extra = sorted(alle[l], key=allele_sort_key)
        if frequencies is not None:
            la = frequencies.locus_alleles(l, extra_alleles=extra)
            labs = [a for a in la.alleles if a != "silent"]
            fr = [float(f) for a, f in zip(la.alleles, la.freqs) if a != "silent"]
        else:
            labs = extra
            fr = [1.0 / len(extra)] * len(extra)
        db.append((l, labs, fr))
    idx = {l: ({a: i for i, a in enumerate(labs)}, j) for j, (l, labs, _) in enumerate(db)}
    out = ['"Output from Familias, version 3.2.8"',
           f'"(Actually produced by strkin {__version__}, {_dt.date.today().isoformat()})"',
           "3.2.8", '""', str(len(profiles))]
    for p in profiles:
        out.append(_fam_name(p.sample_id, "sample ID"))
        out += ["#FALSE#", "-1", "#FALSE#", "#TRUE#" if p.sex == "M" else "#FALSE#"]
        out.append(str(len(p.genotypes)))
        for l, (a, b) in p.genotypes.items():
            d, j = idx[l]
            out += [str(d[normalize_allele(a)]), str(d[normalize_allele(b)]), str(j)]
    out += ['"Known relations"', "0", "0", "0", "0",
            "#FALSE# (#Databases: 1 ;Theta/Kinship/Fst: 0 )", str(len(db)), "#TRUE#",
            _fam_name(database_name, "database name")]
    for l, labs, fr in db:
        n = database_size or (frequencies.n_for(l) if frequencies is not None else None) or 0
        out += [_fam_name(l, "locus"), "0", "0", "0", "0", str(len(labs)), "0.1", "0.1", "0",
                "0", "#FALSE#", "0",
                f"{len(labs)}\t(DatabaseSize = {n} , Dropout probability = 0 , Minor allele "
                f"frequency = 0 )"]
        for a, f in zip(labs, fr):
            out += [f'"{a}"', repr(float(f))]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\r\n".join(out) + "\r\n")
    return os.fspath(path)
