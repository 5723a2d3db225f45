"""Frequency-table readers: every format becomes a :class:`kinship.FrequencyTable`.

``format="csv"``
    The project format of ``kinship/data/frequencies/`` and ``shared/data/frequencies/``:
    ``# key=value`` comment lines (``n=``, ``n_by_marker=``...), then
    ``marker,allele,frequency`` (read by :meth:`kinship.FrequencyTable.from_csv`).
``format="familias"``
    The Familias / pedtools "list" format: a marker name on its own line, then one
    ``allele<TAB>frequency`` line per allele, a blank line between markers
    (``NorskDB_v2023.txt``, ``*.freq``).
``format="strider"``
    STRidER-style wide tables, alleles as rows and markers as columns, first column
    ``Allele`` (tab, comma or semicolon separated, quoted or not; empty, ``NA`` and
    ``0`` cells = allele not observed; a row labelled ``N`` gives sample sizes).  A
    strvalidator table with ``Database`` and ``N`` columns holds several
    populations: pick one with ``population=``.
``format="fam"``
    The database section of a Familias ``.fam`` file (``DatabaseSize`` per locus
    gives N; a locus whose silent-allele flag is set gets its silent allele with the
    file's frequency, unless ``silent=`` says otherwise: a number replaces them at
    every locus, a mapping ``{locus: frequency}`` updates them, 0 removes one).  Non-numeric alleles such as Familias' pooled ``"Rest allele"`` are
    dropped and listed in ``provenance["dropped_alleles"]`` (the locus then sums
    below 1: pass ``renormalise=True`` to rescale, see :mod:`kinship.frequencies`).

Amelogenin columns/markers are skipped.  Extra keyword arguments go to
:class:`kinship.FrequencyTable` (``renormalise``, ``min_allele_freq``,
``silent``...).  Every table records the file name and its sha256 in
``provenance``.
"""
from __future__ import annotations

import os
import re

from kinship.frequencies import FrequencyTable
from kinship.markers import AlleleError, is_amelogenin, normalize_allele

from .errors import HeaderError, InputFormatError
from .textio import first_line, header_excerpt, header_key, iter_rows, read_text, sniff_delimiter

__all__ = ["read_frequencies", "FREQUENCY_FORMATS"]

FREQUENCY_FORMATS = ("csv", "familias", "strider", "fam")


def _num(s: str, fname, line, what) -> float:
    v = s.strip().strip('"')
    try:
        f = float(v)
    except ValueError:
        try:
            f = float(v.replace(",", "."))
        except ValueError:
            raise InputFormatError(f"{what} {v[:30]!r} is not a number", file=fname, line=line,
                                   fix="write frequencies as decimal numbers such as 0.123") from None
    if f != f or f in (float("inf"), float("-inf")) or f < 0:
        raise InputFormatError(f"{what} {v[:30]!r} must be a finite number >= 0", file=fname,
                               line=line, fix="correct the frequency")
    return f


def _name(path) -> str:
    return os.path.splitext(os.path.basename(os.fspath(path)))[0]


def read_frequencies(path, format: str = "csv", *, population: str | None = None,
                     encoding: str | None = None, **kw) -> FrequencyTable:
    """Read a frequency table file (see module doc) into a FrequencyTable."""
    fmt = format.lower()
    fname = os.fspath(path)
    if fmt == "csv":
        t = read_text(path, encoding, what="frequency table")  # typed encoding errors
        if t.encoding.lower().replace("-", "") in ("utf8", "utf8sig", "ascii"):
            return FrequencyTable.from_csv(path, **kw)
        return FrequencyTable.from_text(t.text, fname, **kw)
    if fmt in ("familias", "list"):
        return _read_list(path, encoding, **kw)
    if fmt in ("strider", "wide"):
        return _read_wide(path, encoding, population, **kw)
    if fmt == "fam":
        from .familias import read_fam_database

        loci, prov, settings = read_fam_database(path, encoding, settings=True)
        table, n_by, dropped = {}, {}, []
        for loc in loci:
            if is_amelogenin(loc.name):
                continue
            d = {}
            for a, f in zip(loc.alleles, loc.freqs):
                try:
                    d[normalize_allele(a)] = f
                except AlleleError:
                    dropped.append(f"{loc.name}:{a}")
            if loc.name in table:
                raise InputFormatError(f"locus {loc.name} appears twice in the database",
                                       file=fname, line=loc.line, fix="remove the duplicate")
            table[loc.name] = d
            if loc.database_size:
                n_by[loc.name] = loc.database_size
        prov["dropped_alleles"] = ";".join(dropped)
        kw["silent"] = _fam_silent(loci, settings, kw.get("silent"))
        if kw["silent"]:
            prov["silent"] = ";".join(f"{k}={v!r}" for k, v in kw["silent"].items())
        else:
            kw.pop("silent")
        kw.setdefault("name", _name(path))
        kw.setdefault("n_by_locus", n_by)
        kw.setdefault("provenance", prov)
        return FrequencyTable(table, **kw)
    raise ValueError(f"unknown frequency format {format!r}: expected one of "
                     f"{', '.join(FREQUENCY_FORMATS)}")


def _fam_silent(loci, settings, given) -> dict:
    """The silent alleles of a ``.fam`` table: the file's own (a locus whose
    silent-allele flag is set, with its frequency), replaced at every locus by a
    number ``given``, or updated per locus by a mapping ``given``; a frequency of 0
    means no silent allele."""
    names = [l.name for l in loci if not is_amelogenin(l.name)]
    if given is not None and not isinstance(given, dict) and not hasattr(given, "items"):
        out = {n: float(given) for n in names}
    else:
        out = {}
        for n in names:
            st = (settings.loci if settings is not None else {}).get(n) or {}
            if st.get("silent") and st.get("silent_frequency", 0.0) > 0:
                out[n] = float(st["silent_frequency"])
        if given is not None:
            from kinship.markers import LocusError, canonical_locus

            def key(k):
                try:
                    return canonical_locus(k, extra=tuple(names))
                except LocusError:
                    return str(k).strip()

            bykey = {key(n): n for n in names}
            for k, v in given.items():
                out[bykey.get(key(k), k)] = float(v)
    return {k: v for k, v in out.items() if v > 0}


def _read_list(path, encoding, **kw) -> FrequencyTable:
    t = read_text(path, encoding, what="frequency table")
    fname = os.fspath(path)
    table: dict[str, dict[str, float]] = {}
    marker = None
    for i, raw in enumerate(re.split(r"\r\n|\r|\n", t.text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "\t" in line:
            parts = [x.strip() for x in line.split("\t") if x.strip() != ""]
        else:
            parts = line.split()
        is_allele = False
        if len(parts) == 2:
            try:
                float(parts[1].replace(",", "."))
                normalize_allele(parts[0])
                is_allele = True
            except (ValueError, AlleleError):
                is_allele = False
        if is_allele:
            if marker is None:
                raise InputFormatError(
                    "an allele/frequency line before any marker name", file=fname, line=i,
                    fix="start each block with the marker name on its own line")
            a = normalize_allele(parts[0])
            if a in table[marker]:
                raise InputFormatError(f"allele {a} of {marker} is listed twice", file=fname,
                                       line=i, fix="remove the duplicate line")
            table[marker][a] = _num(parts[1], fname, i, "frequency")
            continue
        if len(parts) >= 2 and "\t" in line:
            raise InputFormatError(
                f"cannot read {parts[0][:20]!r} as an allele", file=fname, line=i,
                fix="write 'allele<TAB>frequency' with a numeric allele label such as 9.3")
        marker = line.strip('"')
        if marker in table:
            raise InputFormatError(f"marker {marker} appears twice", file=fname, line=i,
                                   fix="merge the two blocks")
        table[marker] = {}
    table = {m: d for m, d in table.items() if not is_amelogenin(m)}
    empty = [m for m, d in table.items() if not d]
    if empty:
        raise InputFormatError(f"marker {empty[0]} has no alleles", file=fname,
                               fix="remove the marker or add its alleles")
    if not table:
        raise InputFormatError("no markers found", file=fname,
                               fix="check the format (marker line, then allele<TAB>frequency lines)")
    kw.setdefault("name", _name(path))
    kw.setdefault("provenance", {"file": os.path.basename(fname), "file_sha256": t.sha256,
                                 "format": "familias"})
    return FrequencyTable(table, **kw)


def _read_wide(path, encoding, population, **kw) -> FrequencyTable:
    t = read_text(path, encoding, what="frequency table")
    fname = os.fspath(path)
    head = first_line(t.text)

    def ok(h):
        return "allele" in [header_key(x) for x in h] and len(h) >= 2

    d = sniff_delimiter(head, ok, ("\t", ",", ";"), fname, "frequency table")
    if not d:
        raise HeaderError(f"no 'Allele' column in the header {header_excerpt(head)}", file=fname, line=1,
                          fix="the first column of a STRidER-style table is 'Allele', then one "
                              "column per marker")
    rows = iter_rows(t.text, d, fname)
    _, header = next(rows)
    keys = [header_key(h) for h in header]
    ai = keys.index("allele")
    di = keys.index("database") if "database" in keys else None
    ni = keys.index("n") if "n" in keys else None
    markers = [(i, h.strip().strip('"')) for i, h in enumerate(header)
               if i not in (ai, di, ni) and h.strip() and not is_amelogenin(h.strip().strip('"'))]
    pops: dict[str, dict] = {}
    for line, row in rows:
        pop = row[di].strip() if di is not None and di < len(row) else ""
        entry = pops.setdefault(pop, {"table": {m: {} for _, m in markers}, "n": None, "n_by": {}})
        if ni is not None and ni < len(row) and row[ni].strip():
            entry["n"] = int(_num(row[ni], fname, line, "N"))
        label = row[ai].strip().strip('"') if ai < len(row) else ""
        if label.upper() in ("N", "N (INDIVIDUALS)", "SAMPLE SIZE"):
            for i, m in markers:
                if i < len(row) and row[i].strip() not in ("", "NA"):
                    entry["n_by"][m] = int(_num(row[i], fname, line, "sample size"))
            continue
        if label.upper() in ("X", "Y"):
            continue
        cells = [(m, row[i].strip().strip('"') if i < len(row) else "") for i, m in markers]
        cells = [(m, c) for m, c in cells if c not in ("", "NA", "na", "-")]
        if not cells:
            continue
        try:
            a = normalize_allele(label)
        except AlleleError as e:
            raise InputFormatError(f"{e}", file=fname, line=line,
                                   fix="correct the allele label in the first column") from None
        for m, c in cells:
            f = _num(c, fname, line, f"frequency of allele {a} at {m}")
            if f == 0:
                continue
            if a in entry["table"][m]:
                raise InputFormatError(f"allele {a} of {m} is listed twice", file=fname,
                                       line=line, fix="remove the duplicate row")
            entry["table"][m][a] = f
    if not pops:
        raise InputFormatError("the table has no allele rows", file=fname,
                               fix="check the file")
    if population is None:
        if len(pops) > 1:
            raise InputFormatError(
                f"the table holds {len(pops)} populations ({', '.join(sorted(pops))})",
                file=fname, fix="choose one with population='...'")
        population = next(iter(pops))
    if population not in pops:
        raise InputFormatError(f"no population {population!r} in the table (it has "
                               f"{', '.join(sorted(pops))})", file=fname,
                               fix="choose one of the populations listed")
    e = pops[population]
    table = {m: dd for m, dd in e["table"].items() if dd}
    kw.setdefault("name", population or _name(path))
    kw.setdefault("n", e["n"])
    if e["n_by"]:
        kw.setdefault("n_by_locus", e["n_by"])
    kw.setdefault("provenance", {"file": os.path.basename(fname), "file_sha256": t.sha256,
                                 "format": "strider", "population": population})
    return FrequencyTable(table, **kw)
