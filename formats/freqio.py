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
``format="strider-xml"``
    The STRidER XML export (``https://strider.online/frequencies/xml``; the layout
    read by euroformix's ``freqImport(xml=TRUE)``)::

        <frequencies created_timestamp="..." validity="...">
          <marker><name>VWA</name><alleles>11, 12, ...</alleles>
            <origin name="AUSTRIA" n="222">
              <frequency allele="18">2.59009e-1</frequency> ...
            </origin> ...
          </marker> ...
        </frequencies>

    One table per ``origin`` (a country, "Europe", "Entire Database"): pick one
    with ``population=`` (case-insensitive) when the file holds several.  ``n`` is
    the origin's number of individuals at that marker (in the country origins of
    the 2015 export every frequency is a count over ``2n`` alleles, e.g. AUSTRIA
    VWA 18: 115/444 = 2.59009e-1), so it becomes the table's N per locus.  Markers
    without any origin (an empty ``<alleles/>``) are skipped.  The XML is read with
    :mod:`formats.xmlsafe` (no DOCTYPE or entities).
``format="auto"``
    Detected from the file's first bytes (:func:`detect_frequency_format`); when
    the file fits none of the formats, the error shows what its first line holds
    and lists the formats.
``format="fam"``
    The database section of a Familias ``.fam`` file (``DatabaseSize`` per locus
    gives N; a locus whose silent-allele flag is set gets its silent allele with the
    file's frequency, unless ``silent=`` says otherwise: a number replaces them at
    every locus, a mapping ``{locus: frequency}`` updates them, 0 removes one).  Non-numeric alleles such as Familias' pooled ``"Rest allele"`` are
    dropped and listed in ``provenance["dropped_alleles"]`` (the locus then sums
    below 1: pass ``renormalise=True`` to rescale, see :mod:`kinship.frequencies`).

A path that is not a file but names a bundled population (``nist1036_all``,
``nist1036_all.csv``; :func:`kinship.populations`) gives that table, with
``format`` "auto" or "csv".

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

__all__ = ["read_frequencies", "detect_frequency_format", "FREQUENCY_FORMATS"]

#: the formats of a frequency file, each with the words a message uses for it
#: (defined in :mod:`formats.names`)
from .names import FORMAT_WORDS, FREQUENCY_FORMATS  # noqa: E402


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


def _bundled(path) -> str | None:
    """The bundled population that ``path`` names (``nist1036_all`` or
    ``nist1036_all.csv``, no directory), when no such file exists."""
    from kinship.frequencies import populations

    p = os.fspath(path)
    if os.path.exists(p) or os.sep in p or (os.altsep and os.altsep in p):
        return None
    stem = p[:-4] if p.lower().endswith(".csv") else p
    return stem if stem in populations() else None


def _missing(path):
    import difflib

    from kinship.frequencies import populations

    p = os.fspath(path)
    close = difflib.get_close_matches(os.path.basename(p).removesuffix(".csv"), populations(), n=3)
    raise InputFormatError(
        "no such frequency file, and no bundled population of that name"
        + (f" (did you mean {', '.join(close)}?)" if close else ""), file=p,
        fix="give the path of a frequency file, or a bundled population name "
            "(kinship.populations() lists them, e.g. nist1036_all)")


def _root_tag(head: str) -> str:
    m = re.search(r"<([A-Za-z_][\w:.-]*)", re.sub(r"<[?!][^>]*>", "", head))
    return m.group(1)[:40] if m else "?"


def detect_frequency_format(path, encoding: str | None = None) -> str:
    """The format of a frequency file, from its first bytes and lines; raises
    :class:`~formats.errors.InputFormatError` showing the first line and listing
    :data:`FREQUENCY_FORMATS` when it fits none."""
    fname = os.fspath(path)
    t = read_text(path, encoding, what="frequency table")
    text = t.text.lstrip("\ufeff")
    head = text.lstrip()[:4096]
    if head.startswith("<"):
        if re.search(r"<frequencies[\s>]", head):
            return "strider-xml"
        raise InputFormatError(
            f"the file is XML but not a STRidER frequency export (its root element is "
            f"<{_root_tag(head)}>, not <frequencies>)", file=fname, line=1,
            fix="give a STRidER XML export, or one of the formats: "
                + "; ".join(FORMAT_WORDS.values()))
    lines = [ln.strip() for ln in re.split(r"\r\n|\r|\n", text)[:200]]
    if any("[familias" in ln.lower() or ln.strip('"').lower().startswith("output from familias")
           for ln in lines[:3]):
        return "fam"
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    if not body:
        raise InputFormatError("the frequency file is empty", file=fname,
                               fix="give a file with frequencies")
    first = body[0]
    keys = [header_key(x) for x in re.split(r"[\t,;]", first)]
    if keys[:3] == ["marker", "allele", "frequency"]:
        return "csv"
    if "allele" in keys and len(keys) >= 2:
        return "strider"
    if len(body) > 1:
        nxt = body[1].replace("\t", " ").split()
        if not re.search(r"[\t,;]", first) and len(nxt) == 2:
            try:
                normalize_allele(nxt[0])
                float(nxt[1].replace(",", "."))
                return "familias"
            except (AlleleError, ValueError):
                pass
    raise InputFormatError(
        f"cannot tell the frequency table's format: its first line is {header_excerpt(first)}",
        file=fname, line=1,
        fix="give the format (job: inputs.frequencies_format; command line: "
            "--frequencies-format), one of: " + "; ".join(FORMAT_WORDS.values()))


def read_frequencies(path, format: str = "auto", *, population: str | None = None,
                     encoding: str | None = None, **kw) -> FrequencyTable:
    """Read a frequency table file (see module doc) into a FrequencyTable."""
    fmt = format.lower()
    fname = os.fspath(path)
    if fmt not in FREQUENCY_FORMATS + ("auto", "list", "wide", "xml"):
        raise ValueError(f"unknown frequency format {format!r}: expected one of "
                         f"{', '.join(FREQUENCY_FORMATS)} or auto")
    if not os.path.exists(fname):
        name = _bundled(fname) if fmt in ("auto", "csv") else None
        if name is not None:
            return FrequencyTable.load(name, **kw)
        if fmt in ("auto", "csv"):
            _missing(fname)
    if fmt == "auto":
        fmt = detect_frequency_format(path, encoding)
    if fmt == "csv":
        t = read_text(path, encoding, what="frequency table")  # typed encoding errors
        try:
            if t.encoding.lower().replace("-", "") in ("utf8", "utf8sig", "ascii"):
                return FrequencyTable.from_csv(path, **kw)
            return FrequencyTable.from_text(t.text, fname, **kw)
        except ValueError as e:
            if "expected the header" not in str(e):
                raise
            try:
                seen = detect_frequency_format(path, encoding)
            except InputFormatError as d:
                raise d from None
            raise InputFormatError(
                f"not the csv format (no header 'marker,allele,frequency'): the file looks like "
                f"{FORMAT_WORDS[seen]}", file=fname, line=1,
                fix=f"give format {seen!r} (job: inputs.frequencies_format = \"{seen}\"; "
                    f"command line: --frequencies-format {seen}), or auto") from None
    if fmt in ("strider-xml", "xml"):
        return _read_strider_xml(path, population, **kw)
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


def _read_strider_xml(path, population, **kw) -> FrequencyTable:
    import hashlib

    from .xmlsafe import parse_xml

    fname = os.fspath(path)
    try:
        with open(fname, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise InputFormatError(f"cannot read the frequency file: {e.strerror}", file=fname,
                               fix="check the path and its permissions") from None
    sha = hashlib.sha256(data).hexdigest()
    root = parse_xml(data, fname)
    if root.tag != "frequencies":
        raise InputFormatError(f"the XML's root element is <{root.tag}>, not <frequencies>",
                               file=fname, line=root.line,
                               fix="give a STRidER XML export (https://strider.online/frequencies/xml)")
    pops: dict[str, dict] = {}
    for m in root.findall("marker"):
        name = (m.findtext("name") or "").strip()
        if not name or is_amelogenin(name):
            continue
        for o in m.findall("origin"):
            pop = o.attrib.get("name", "").strip()
            e = pops.setdefault(pop, {"table": {}, "n_by": {}})
            if name in e["table"]:
                raise InputFormatError(f"marker {name} appears twice for origin {pop!r}",
                                       file=fname, line=o.line, fix="remove the duplicate")
            d = e["table"][name] = {}
            if o.attrib.get("n", "").strip():
                e["n_by"][name] = int(_num(o.attrib["n"], fname, o.line, "origin n"))
            for f in o.findall("frequency"):
                label = f.attrib.get("allele", "")
                try:
                    a = normalize_allele(label)
                except AlleleError as ex:
                    raise InputFormatError(f"{ex}", file=fname, line=f.line,
                                           fix="correct the allele attribute") from None
                if a in d:
                    raise InputFormatError(f"allele {a} of {name} is listed twice for origin "
                                           f"{pop!r}", file=fname, line=f.line,
                                           fix="remove the duplicate")
                v = _num(f.text, fname, f.line, f"frequency of allele {a} at {name}")
                if v > 0:
                    d[a] = v
    pops = {k: v for k, v in pops.items() if any(v["table"].values())}
    if not pops:
        raise InputFormatError("the STRidER XML has no <origin> with frequencies", file=fname,
                               fix="export the frequencies again from STRidER")
    key = _pick_population(pops, population, fname)
    e = pops[key]
    kw.setdefault("name", key)
    kw.setdefault("n_by_locus", e["n_by"])
    kw.setdefault("provenance", {"file": os.path.basename(fname), "file_sha256": sha,
                                 "format": "strider-xml", "population": key,
                                 "created": root.attrib.get("created_timestamp", ""),
                                 "validity": root.attrib.get("validity", "")})
    return FrequencyTable({m: d for m, d in e["table"].items() if d}, **kw)


def _pick_population(pops: dict, population, fname) -> str:
    """The population (origin, database) of a stacked table: the one asked for
    (case-insensitive), or the only one."""
    names = sorted(pops)
    if population is None:
        if len(pops) > 1:
            raise InputFormatError(
                f"the table holds {len(pops)} populations ({', '.join(names[:30])}"
                f"{', ...' if len(names) > 30 else ''})", file=fname,
                fix="choose one with population='...' (job: inputs.population; command line: "
                    "--population)")
        return names[0]
    want = str(population).strip().lower()
    for n in names:
        if n.lower() == want:
            return n
    import difflib

    low = {n.lower(): n for n in names}
    close = [low[c] for c in difflib.get_close_matches(want, list(low), n=3)]
    raise InputFormatError(
        f"no population {population!r} in the table"
        + (f" (did you mean {', '.join(close)}?)" if close else "")
        + f"; it has {', '.join(names[:30])}{', ...' if len(names) > 30 else ''}", file=fname,
        fix="choose one of the populations listed")


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
    population = _pick_population(pops, population, fname)
    e = pops[population]
    table = {m: dd for m, dd in e["table"].items() if dd}
    kw.setdefault("name", population or _name(path))
    kw.setdefault("n", e["n"])
    if e["n_by"]:
        kw.setdefault("n_by_locus", e["n_by"])
    kw.setdefault("provenance", {"file": os.path.basename(fname), "file_sha256": t.sha256,
                                 "format": "strider", "population": population})
    return FrequencyTable(table, **kw)
