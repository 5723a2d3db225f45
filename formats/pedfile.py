"""Pedigree (ped) files: reference cases as a plain table.

The layout follows pedtools' ped files, with columns for the case model
(:class:`kinship.cases.Case`)::

    # case  id   fid  mid  sex  sample   missing
    fam1    GF   0    0    1             0
    fam1    GM   0    0    2             0
    fam1    F    GF   GM   1             0
    fam1    Mo   0    0    2    S-0017   0
    fam1    MP   F    Mo   1             1
    fam1    B    F    Mo   1    S-0018   0

* A header line is required; column names are case-insensitive.  Columns:
  ``id``, ``fid``, ``mid``, ``sex`` (``1`` = male, ``2`` = female, ``0`` =
  unknown; ``male``/``female``/``m``/``f`` are read too), ``sample`` (the sample
  id of a typed person; empty, ``NA``, ``-`` or ``.`` for an untyped one),
  ``missing`` (``1``/``true``/``yes`` for a missing person; ``0``/``false``/
  ``no``/empty otherwise; ``2``, ``3``... also mark missing persons and give
  their order in :attr:`Case.missing`, the first being the default one), optional ``case`` (several cases in one file;
  without it every row belongs to the case id the caller gives, or to the file
  name) and optional ``relation`` (the relation word of a typed person's
  sample, :data:`kinship.cases.RELATIONS`; kept in :attr:`Case.relations`).
* No parent: ``0``, ``NA`` or empty.  A person has both parents or none (add an
  untyped founder for an unknown parent).
* Tab-separated when the header holds a tab, else comma-separated when it holds
  a comma (double quotes allowed), else separated by white space (then an empty
  cell must be written ``NA``).  Lines starting with ``#`` and blank lines are
  skipped.
* The rows of a case need not be in order (parents may follow children), and
  the cases' rows may be interleaved.  One sample may be linked in several
  cases, but only once in a case.

Errors are :class:`formats.errors.InputFormatError` naming the file, the line,
the case and the person; they never quote genotypes (a ped file holds none).
:func:`write_ped` writes the same format (tab-separated, with a ``case``
column); ``read_ped(write_ped(cases))`` gives the cases back exactly.
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

from .errors import InputFormatError
from .textio import read_text

__all__ = ["read_ped", "write_ped", "PED_COLUMNS"]

#: the columns :func:`write_ped` writes, in order
PED_COLUMNS = ("case", "id", "fid", "mid", "sex", "sample", "missing", "relation")
_REQUIRED = ("id", "fid", "mid", "sex", "sample", "missing")
_NONE = {"", "0", "na", "n/a"}
_NO_SAMPLE = {"", "na", "n/a", "-", "."}
_SEX = {"1": "male", "2": "female", "0": "unknown", "m": "male", "male": "male",
        "f": "female", "female": "female", "u": "unknown", "unknown": "unknown", "na": "unknown",
        "": "unknown"}
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", "", "na"}
_SEX_CODE = {"male": "1", "female": "2", "unknown": "0"}


def _split(line: str, sep: str | None) -> list:
    if sep == "\t":
        return [c.strip() for c in line.split("\t")]
    if sep == ",":
        return [c.strip() for c in next(csv.reader([line]))]
    return line.split()


def _err(fname, line, reason, fix):
    return InputFormatError(reason, file=fname, line=line, fix=fix)


def read_ped(path, case_id: str | None = None, *, encoding: str | None = None) -> list:
    """The cases of a ped file, as :class:`kinship.cases.Case` objects in the
    order of their first rows.  ``case_id``: the id of the case of a file
    without a ``case`` column (default: the file name without extension)."""
    from kinship.cases import Case, CaseError, normalize_relation
    from kinship.pedigree import Pedigree, PedigreeError, Person

    t = read_text(path, encoding, what="pedigree file")
    fname = os.fspath(path)
    base = os.path.basename(fname)
    lines = re.split(r"\r\n|\r|\n", t.text)
    header = None
    rows = []
    for i, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if header is None:
            sep = "\t" if "\t" in raw else ("," if "," in raw else None)
            cols = [c.strip().lower() for c in _split(raw, sep)]
            header = cols
            missing_cols = [c for c in _REQUIRED if c not in cols]
            if missing_cols:
                raise _err(fname, i, f"the header lacks the column(s) {', '.join(missing_cols)} "
                                     f"(found {', '.join(cols)[:120]})",
                           "the first line must name the columns: id, fid, mid, sex, sample, "
                           "missing and optionally case and relation")
            dup = sorted({c for c in cols if cols.count(c) > 1})
            if dup:
                raise _err(fname, i, f"the header names column {dup[0]!r} twice",
                           "name every column once")
            continue
        cells = _split(raw, sep)
        if len(cells) != len(header):
            raise _err(fname, i, f"{len(cells)} columns, the header has {len(header)}",
                       "give every row one value per header column"
                       + ("" if sep else " (write an empty value as NA)"))
        rows.append((i, dict(zip(header, cells))))
    if header is None:
        raise _err(fname, None, "the file has no header line and no rows",
                   "write a header line (id, fid, mid, sex, sample, missing) and one row per person")
    has_case = "case" in header
    default_case = case_id if case_id is not None else os.path.splitext(base)[0]

    by_case: dict = {}
    for ln, r in rows:
        cid = r["case"] if has_case else default_case
        if not cid:
            raise _err(fname, ln, "empty case id", "fill in the case column of every row")
        by_case.setdefault(cid, []).append((ln, r))

    out = []
    for cid, crow in by_case.items():
        where = f"case {cid!r}"
        line_of, persons, missing, samples, relations, sample_line = {}, [], [], {}, {}, {}
        for ln, r in crow:
            pid = r["id"]
            if pid.lower() in _NONE:
                raise _err(fname, ln, f"{where}: empty or reserved person id {pid!r} (0 and NA "
                                      f"mean 'no parent')", "give every person an id")
            if pid in line_of:
                raise _err(fname, ln, f"{where}, person {pid!r}: the id is used twice (lines "
                                      f"{line_of[pid]} and {ln})",
                           "give every person of a case a different id")
            line_of[pid] = ln
            sx = r["sex"].strip().lower()
            if sx not in _SEX:
                raise _err(fname, ln, f"{where}, person {pid!r}: sex {r['sex'][:20]!r} is not "
                                      f"1, 2 or 0", "write 1 for male, 2 for female, 0 if unknown")
            fa = None if r["fid"].lower() in _NONE else r["fid"]
            mo = None if r["mid"].lower() in _NONE else r["mid"]
            persons.append((ln, pid, fa, mo, _SEX[sx]))
            miss = r["missing"].strip().lower()
            if miss in _TRUE:
                rank = 1
            elif re.fullmatch(r"[1-9]\d{0,5}", miss):
                rank = int(miss)
            elif miss in _FALSE:
                rank = 0
            else:
                raise _err(fname, ln, f"{where}, person {pid!r}: missing {r['missing'][:20]!r} "
                                      f"is not 1 or 0", "write 1 for a missing person, else 0")
            sid = r["sample"]
            typed = sid.lower() not in _NO_SAMPLE
            if rank:
                if typed:
                    raise _err(fname, ln, f"{where}, person {pid!r} is marked missing and linked "
                                          f"to sample {sid!r}",
                               "a missing person is untyped: clear the sample, or the missing "
                               "mark (a direct sample of the missing person is an identity "
                               "reference)")
                missing.append((rank, len(missing), pid))
            if typed:
                if sid in sample_line:
                    raise _err(fname, ln, f"{where}, person {pid!r}: sample {sid!r} is linked "
                                          f"twice (also on line {sample_line[sid]})",
                               "link each sample to one person of the case")
                sample_line[sid] = ln
                samples[pid] = sid
            rel = r.get("relation", "") or ""
            if rel.strip() and rel.strip().lower() not in _NO_SAMPLE:
                if not typed:
                    raise _err(fname, ln, f"{where}, person {pid!r}: a relation is given for an "
                                          f"untyped person", "give relations of typed persons only")
                try:
                    relations[sid] = normalize_relation(rel)
                except ValueError as e:
                    raise _err(fname, ln, f"{where}, person {pid!r}: {e}",
                               "use a relation word of the vocabulary, or leave it empty") from None
        ids = set(line_of)
        for ln, pid, fa, mo, sx in persons:
            if (fa is None) != (mo is None):
                given = "father" if fa is not None else "mother"
                raise _err(fname, ln, f"{where}, person {pid!r}: only the {given} is given",
                           f"add an untyped {'mother' if fa is not None else 'father'} (a "
                           f"founder row with sample and missing empty/0) and name it in the "
                           f"{'mid' if fa is not None else 'fid'} column")
            for role, par, need in (("father", fa, "male"), ("mother", mo, "female")):
                if par is None:
                    continue
                if par == pid:
                    raise _err(fname, ln, f"{where}, person {pid!r} is given as their own "
                                          f"{role}", "correct the fid/mid column")
                if par not in ids:
                    raise _err(fname, ln, f"{where}, person {pid!r}: {role} {par!r} is not a "
                                          f"person of the case",
                               f"add a row for {par!r} (an untyped founder if unknown) or correct "
                               f"the {'fid' if role == 'father' else 'mid'} column")
                psex = next(p[4] for p in persons if p[1] == par)
                if psex != need:
                    raise _err(fname, ln, f"{where}, person {pid!r}: {role} {par!r} (line "
                                          f"{line_of[par]}) has sex {psex}, a {role} must be "
                                          f"{need}", f"correct the sex of {par!r} or the parents "
                                                     f"of {pid!r}")
        # cycles, with the line of a person on the cycle
        parents = {pid: [q for q in (fa, mo) if q is not None] for _, pid, fa, mo, _ in persons}
        state: dict = {}
        for start in parents:
            if state.get(start):
                continue
            stack = [(start, iter(parents[start]))]
            path = [start]
            state[start] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                    continue
                if state.get(nxt) == 1:
                    cyc = path[path.index(nxt):] + [nxt]
                    raise _err(fname, line_of[nxt], f"{where}: the pedigree has a cycle: "
                                                    f"{' -> '.join(cyc)} (person {nxt!r} is "
                                                    f"their own ancestor)",
                               "correct the fid/mid columns")
                if not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, iter(parents[nxt])))
                    path.append(nxt)
        if not missing:
            raise _err(fname, crow[0][0], f"{where}: no missing person is marked",
                       "write 1 in the missing column of the missing person(s)")
        try:
            ped = Pedigree([Person(pid, fa, mo, sx) for _, pid, fa, mo, sx in persons])
            case = Case(str(cid), ped, tuple(m for _, _, m in sorted(missing)), samples, relations,
                        f"{base}, lines {crow[0][0]}-{crow[-1][0]}")
        except (PedigreeError, CaseError) as e:   # pragma: no cover - checked above
            raise _err(fname, crow[0][0], f"{where}: {e}", "correct the case's rows") from None
        out.append(case)
    return out


def _cell(v: str, what: str, case_id) -> str:
    if v is None:
        return ""
    v = str(v)
    if re.search(r"[\t\r\n]", v) or v != v.strip():
        raise ValueError(f"case {case_id!r}: {what} {v!r} cannot be written to a ped file (tab, "
                         f"line break or leading/trailing space)")
    return v


def write_ped(path_or_file, cases) -> str | None:
    """Write cases as a tab-separated ped file (columns :data:`PED_COLUMNS`).
    ``path_or_file``: a path, or a text file object.  Returns the path."""
    buf = io.StringIO()
    buf.write("\t".join(PED_COLUMNS) + "\n")
    for case in cases:
        cid = _cell(case.id, "case id", case.id)
        if not cid or cid.startswith("#"):
            raise ValueError(f"case id {case.id!r} cannot be written to a ped file (empty or "
                             f"starting with '#')")
        miss = {m: i + 1 for i, m in enumerate(case.missing)}
        for pid in case.pedigree.order:
            p = case.pedigree.persons[pid]
            if pid.lower() in _NONE:
                raise ValueError(f"case {case.id!r}: person id {pid!r} reads as 'no parent' in a "
                                 f"ped file; rename the person")
            sid = case.samples.get(pid, "")
            if sid and sid.lower() in _NO_SAMPLE:
                raise ValueError(f"case {case.id!r}: sample id {sid!r} reads as 'untyped' in a "
                                 f"ped file; rename the sample")
            rel = case.relations.get(sid, "") if sid else ""
            row = [cid, _cell(pid, "person id", case.id), _cell(p.father or "0", "id", case.id),
                   _cell(p.mother or "0", "id", case.id), _SEX_CODE[p.sex],
                   _cell(sid, "sample id", case.id), str(miss.get(pid, 0)), rel]
            buf.write("\t".join(row) + "\n")
    text = buf.getvalue()
    if hasattr(path_or_file, "write"):
        path_or_file.write(text)
        return getattr(path_or_file, "name", None)
    from .dataset import _atomic_write_bytes

    _atomic_write_bytes(Path(path_or_file), text.encode("utf-8"))   # private, atomic
    return os.fspath(path_or_file)
