"""Tabular genotype formats: GeneMapper exports, the long CSV, and wide tables.

GeneMapper / GeneMapper ID-X genotype table (``format="genemapper"``)
    Tab- or comma-separated, one row per sample and marker, columns
    ``Sample Name``, ``Marker``, ``Allele 1`` ... ``Allele N``; every other column
    (Size, Height, Dye, Panel, ADO, UD1 ...) is ignored (``Panel`` fills ``kit``).
    Column names are matched ignoring case, spaces, dots and underscores, so the
    R-rewritten ``Sample.Name``/``Allele.1`` and EuroForMix ``SampleName``/``Allele1``
    are read too.  GeneMapper writes a homozygote as one allele and a no-call as
    an empty row: they are read as a homozygote and as an untyped locus.  An export
    without ``Sample Name`` (UD1 holds the ID in some LIMS exports) needs
    ``sample_column="UD1"``.

Long CSV (``format="csv"``)
    Comma-separated ``sample_id,locus,allele1,allele2`` with that header (also
    ``sample``/``marker``); extra columns are ignored.  Both alleles are written,
    a homozygote twice.

Wide table (``format="wide"``)
    One row per sample: a sample column (``sample_id``, ``Sample Name``,
    ``Sample id``...), optional ``kind``, ``case_id``, ``relation``, ``sex``, ``kit``
    columns, and two columns per locus, ``<locus> 1`` and ``<locus> 2`` (what
    :func:`formats.export.write_wide` writes, and the Familias DVI import tables).
    A GeneMapper "wide" export, with one column per marker holding
    ``"11, 12, , "``, is read as well.  For wide tables one *row* in the accounting
    is one sample x locus cell group.
"""
from __future__ import annotations

import os
import re

from kinship.markers import LocusError, canonical_locus

from .errors import HeaderError, Reject
from .parsed import Call, Parsed
from .textio import first_line, header_excerpt, header_key, iter_rows, read_text, sniff_delimiter

__all__ = ["parse_genemapper", "parse_long_csv", "parse_wide"]

_ALLELE_COL = re.compile(r"^allele(\d+)$")
_SAMPLE_KEYS = ("samplename", "sampleid", "sample", "id")


def _allele_columns(keys: list[str]) -> list[int]:
    found = []
    for i, k in enumerate(keys):
        m = _ALLELE_COL.match(k)
        if m:
            found.append((int(m.group(1)), i))
        elif k in ("a1", "a2"):
            found.append((int(k[1]), i))
    return [i for _, i in sorted(found)]


def _too_long(row, header, line, file, sample, locus) -> Reject | None:
    if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
        return Reject(file, line, sample, locus,
                      f"the row has {len(row)} fields but the header has {len(header)}",
                      "remove the extra fields; a field that contains the delimiter must be "
                      "quoted", row[len(header)].strip())
    return None


def parse_genemapper(path, encoding=None, delimiter=None, sample_column=None) -> Parsed:
    t = read_text(path, encoding, what="GeneMapper export")
    fname = os.fspath(path)
    head = first_line(t.text)
    skey = header_key(sample_column) if sample_column else None

    def cols_ok(h):
        keys = [header_key(x) for x in h]
        has_sample = (skey in keys) if skey else ("samplename" in keys)
        return has_sample and "marker" in keys and bool(_allele_columns(keys))

    d = sniff_delimiter(head, cols_ok, ("\t", ","), fname, "GeneMapper export", delimiter)
    header = None
    if d:
        header = next(iter_rows(t.text, d, fname), (1, []))[1]
    if not d or not cols_ok(header):
        keys = {header_key(x) for x in re.split(r"[\t,;|]", head)}
        if skey is None and "samplename" not in keys and "ud1" in keys and "marker" in keys:
            fix = ("this export keeps the sample ID in another column: pass sample_column='UD1' "
                   "(command line: --sample-column UD1)")
        elif {"sampleid", "locus"} <= keys or {"sample", "locus"} <= keys:
            fix = "this looks like the long CSV format: use format='csv' (--format csv)"
        elif "samplename" in keys and "marker" not in keys:
            fix = ("this looks like a wide GeneMapper export (one column per marker): use "
                   "format='wide' (--format wide)")
        else:
            fix = ("export the GeneMapper genotype table with the columns Sample Name, Marker, "
                   "Allele 1, Allele 2 (tab- or comma-separated)")
        want = f"'{sample_column}'" if sample_column else "'Sample Name'"
        raise HeaderError(
            f"the header does not have the columns {want}, 'Marker' and 'Allele 1' "
            f"(found: {header_excerpt(head)})", file=fname, line=1, fix=fix)
    keys = [header_key(x) for x in header]
    si = keys.index(skey if skey else "samplename")
    mi = keys.index("marker")
    ai = _allele_columns(keys)
    pi = keys.index("panel") if "panel" in keys else None
    p = Parsed(fname, "genemapper", t.sha256, t.encoding, single_allele="homozygote",
               no_call="untyped")
    rows = iter_rows(t.text, d, fname)
    next(rows)
    need = max([si, mi] + ai)
    for line, row in rows:
        sample = row[si].strip() if si < len(row) else ""
        locus = row[mi].strip() if mi < len(row) else ""
        r = _too_long(row, header, line, fname, sample, locus)
        if r is None and len(row) <= need and len(row) < len(header):
            r = Reject(fname, line, sample, locus,
                       f"the row has {len(row)} fields but the header has {len(header)} "
                       f"(truncated row?)", "restore the complete row from the original export")
        if r is not None:
            p.rejects.append(r)
            continue
        alleles = [row[i] if i < len(row) else "" for i in ai]
        p.calls.append(Call(line, sample, locus, alleles))
        if pi is not None and pi < len(row) and row[pi].strip() and sample:
            p.hints.setdefault(sample, {})["kit"] = row[pi].strip()
    return p



def _long_csv_header(t, head: str, fname: str, delimiter, cols_ok):
    """Delimiter and header row of a long genotype CSV (one row per sample and locus);
    ``cols_ok(header)`` says whether a header has the columns needed.  Raises
    :class:`HeaderError` naming the file when no delimiter gives such a header."""
    d = sniff_delimiter(head, cols_ok, (",",), fname, "genotype CSV", delimiter)
    header = next(iter_rows(t.text, d, fname), (1, []))[1] if d else None
    if not d or not cols_ok(header):
        raise HeaderError(
            f"expected the header 'sample_id,locus,allele1,allele2', found {header_excerpt(head)}",
            file=fname, line=1,
            fix="add the header line 'sample_id,locus,allele1,allele2' (for a GeneMapper "
                "export use format='genemapper')")
    return d, header

def parse_long_csv(path, encoding=None, delimiter=None) -> Parsed:
    t = read_text(path, encoding, what="genotype CSV")
    fname = os.fspath(path)
    head = first_line(t.text)

    def find(h):
        keys = [header_key(x) for x in h]
        si = next((keys.index(k) for k in _SAMPLE_KEYS if k in keys), None)
        li = next((keys.index(k) for k in ("locus", "marker") if k in keys), None)
        return keys, si, li, _allele_columns(keys)

    def cols_ok(h):
        _, si, li, ai = find(h)
        return si is not None and li is not None and len(ai) >= 1

    d, header = _long_csv_header(t, head, fname, delimiter, cols_ok)
    keys, si, li, ai = find(header)
    p = Parsed(fname, "csv", t.sha256, t.encoding, single_allele="error", no_call="error")
    rows = iter_rows(t.text, d, fname)
    next(rows)
    for line, row in rows:
        sample = row[si].strip() if si < len(row) else ""
        locus = row[li].strip() if li < len(row) else ""
        extra = [c.strip() for c in row[len(header):] if c.strip()]
        if extra:
            p.rejects.append(Reject(
                fname, line, sample, locus,
                f"{len([row[i] for i in ai if i < len(row) and row[i].strip()]) + len(extra)} "
                f"values where the header has {len(ai)} allele columns (a tri-allelic call, or "
                f"a field with an unquoted comma)",
                "a kinship profile holds two alleles per locus: for a tri-allelic pattern delete "
                "the row to leave the locus untyped; quote fields that contain commas",
                extra[0]))
            continue
        alleles = [row[i] if i < len(row) else "" for i in ai]
        p.calls.append(Call(line, sample, locus, alleles))
    return p


_META = {
    "kind": ("kind",),
    "case_id": ("caseid", "case", "family"),
    "relation": ("relation", "relationship"),
    "sex": ("sex", "gender"),
    "kit": ("kit", "panel"),
}
_PAIR_COL = re.compile(r"^(.+?)[\s._\-]+\(?([12])\)?$")
_BRACKET = re.compile(r"^\s*\[\s*(.*?)\s*\]\s*$")


def _relation_word(v: str) -> str:
    from .familias import relation_from_label

    m = _BRACKET.match(v)
    if m:
        return relation_from_label(m.group(1))
    return relation_from_label(v) or v


def parse_wide(path, encoding=None, delimiter=None, sample_column=None) -> Parsed:
    t = read_text(path, encoding, what="wide genotype table")
    fname = os.fspath(path)
    head = first_line(t.text)
    skey = header_key(sample_column) if sample_column else None

    def sample_idx(keys):
        if skey:
            return keys.index(skey) if skey in keys else None
        return next((keys.index(k) for k in _SAMPLE_KEYS if k in keys), None)

    def cols_ok(h):
        return sample_idx([header_key(x) for x in h]) is not None and len(h) > 1

    d = sniff_delimiter(head, cols_ok, ("\t", ","), fname, "wide genotype table", delimiter)
    header = next(iter_rows(t.text, d, fname), (1, []))[1] if d else None
    if not d or not cols_ok(header):
        raise HeaderError(
            f"no sample column ('sample_id' or 'Sample Name') in the header {header_excerpt(head)}",
            file=fname, line=1,
            fix="name the sample column 'sample_id', or pass sample_column= (--sample-column)")
    keys = [header_key(x) for x in header]
    si = sample_idx(keys)
    meta = {}
    for name, aliases in _META.items():
        for i, k in enumerate(keys):
            if k in aliases and i != si:
                meta[name] = i
                break
    pairs: dict[str, dict[int, int]] = {}   # locus label -> {1: col, 2: col}
    lists: dict[str, int] = {}              # GeneMapper wide: locus -> col with "a, b, , "
    order: list[str] = []
    taken = {si, *meta.values()}
    for i, h in enumerate(header):
        if i in taken or not h.strip():
            continue
        m = _PAIR_COL.match(h.strip())
        if m:
            loc = m.group(1).strip()
            if loc not in pairs:
                pairs[loc] = {}
                order.append(loc)
            pairs[loc][int(m.group(2))] = i
            continue
        try:
            canonical_locus(h.strip())
        except LocusError:
            continue
        if h.strip() not in lists:
            lists[h.strip()] = i
            order.append(h.strip())
    if not order:
        raise HeaderError(
            f"no locus columns ('<locus> 1', '<locus> 2') in the header {header_excerpt(head)}",
            file=fname, line=1,
            fix="name the allele columns like 'D3S1358 1' and 'D3S1358 2'")
    p = Parsed(fname, "wide", t.sha256, t.encoding, single_allele="error", no_call="untyped")
    rows = iter_rows(t.text, d, fname)
    next(rows)
    for line, row in rows:
        sample = row[si].strip() if si < len(row) else ""
        r = _too_long(row, header, line, fname, sample, "")
        if r is not None:
            p.rejects.append(r)
            continue
        if sample:
            h = p.hints.setdefault(sample, {})
            for name, i in meta.items():
                v = row[i].strip() if i < len(row) else ""
                if v:
                    h[name] = _relation_word(v) if name == "relation" else v
            if "relation" in h and "kind" not in h:
                h["kind"] = "reference"
        for ci, loc in enumerate(order):
            if loc in pairs:
                cols = pairs[loc]
                alleles = [row[cols[k]] if k in cols and cols[k] < len(row) else ""
                           for k in (1, 2)]
                single = None
            else:
                cell = row[lists[loc]] if lists[loc] < len(row) else ""
                alleles = [a for a in cell.split(",")]
                single = "homozygote"
            p.calls.append(Call(line, sample, loc, alleles, key=(line, ci), single=single))
    return p
