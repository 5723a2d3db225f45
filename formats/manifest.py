"""The samples manifest: ``sample_id,kind,case_id,relation,sex[,kit][,dropout]`` (CSV).

Comma-separated; a semicolon- or tab-separated file (what spreadsheets write in
some locales) is read too, since the header names make the delimiter plain.

It attaches the case structure to genotypes imported from any format: which
samples are queries (persons of unknown identity) and which are references, the
case of each reference and its relation to the missing person of that case.

The optional ``dropout`` column states the sample's allelic dropout probability
(a lab's validated value for a degraded sample, ``docs/dropout.md``): a number in
[0, 1), or empty for the job's setting. ``kinship import`` stores it with the
dataset (:func:`formats.write_sample_dropout`) and every search of the dataset
uses it (engine.dropout: a job's ``dropout_samples`` file still comes first).

Rules, checked per row (a bad row is rejected with its line and a fix):

* ``sample_id`` is required and unique (a sample listed twice with different
  fields is rejected on every line; listed twice identically is accepted);
* ``kind`` is ``query`` or ``reference``;
* a reference needs ``case_id`` and a ``relation`` from
  :data:`formats.profile.RELATIONS`; a query has no relation (its ``case_id`` is
  optional);
* ``sex`` is ``M``/``F`` (also ``male``/``female``) or empty.
"""
from __future__ import annotations

import math

import os
from dataclasses import dataclass, field

from .errors import HeaderError, Reject
from .profile import RELATIONS, normalize_kind, normalize_relation, normalize_sex
from .textio import first_line, header_excerpt, header_key, iter_rows, read_text, sniff_delimiter

__all__ = ["ManifestEntry", "Manifest", "read_manifest"]

_ALIASES = {
    "sample_id": ("sampleid", "sample", "samplename", "id"),
    "kind": ("kind", "type", "role"),
    "case_id": ("caseid", "case", "casenumber", "family"),
    "relation": ("relation", "relationship", "relationtomissing"),
    "sex": ("sex", "gender"),
    "kit": ("kit", "panel"),
    "dropout": ("dropout", "dropoutprobability", "dropoutrate"),
}


@dataclass(frozen=True)
class ManifestEntry:
    sample_id: str
    kind: str
    case_id: str
    relation: str
    sex: str
    kit: str
    line: int
    #: the sample's allelic dropout probability stated by the lab (``docs/dropout.md``);
    #: None when the column is absent or empty (the job's setting applies)
    dropout: float | None = None


@dataclass
class Manifest:
    file: str
    sha256: str
    entries: dict = field(default_factory=dict)            # sample -> ManifestEntry
    rejects: list = field(default_factory=list)            # list[Reject]
    rejected_samples: dict = field(default_factory=dict)   # sample -> first line
    lines: dict = field(default_factory=dict)              # sample -> [lines]
    n_read: int = 0
    encoding: str = "utf-8"


def _columns(header: list[str]) -> dict:
    keys = [header_key(h) for h in header]
    out = {}
    for name, aliases in _ALIASES.items():
        for i, k in enumerate(keys):
            if k in aliases or k == header_key(name):
                out[name] = i
                break
    return out


def read_manifest(path, encoding: str | None = None, delimiter: str | None = None) -> Manifest:
    """Read and check a samples manifest (see module doc)."""
    t = read_text(path, encoding, what="manifest")
    fname = os.fspath(path)
    m = Manifest(fname, t.sha256, encoding=t.encoding)
    head = first_line(t.text)

    def ok(h):
        c = _columns(h)
        return "sample_id" in c and "kind" in c

    # comma, or the semicolon/tab that spreadsheets write in some locales: the header
    # names are distinctive, so any of them is unambiguous
    d = sniff_delimiter(head, ok, (",", ";", "\t"), fname, "samples manifest", delimiter)
    if not d:
        raise HeaderError(
            f"the first line is not the manifest header (expected columns "
            f"sample_id,kind,case_id,relation,sex; found {header_excerpt(head)})", file=fname, line=1,
            fix="start the manifest with the line 'sample_id,kind,case_id,relation,sex'",
        )
    rows = iter_rows(t.text, d, fname)
    _, header = next(rows)
    cols = _columns(header)
    seen: dict[str, ManifestEntry] = {}
    bad_lines: dict[str, list[int]] = {}
    for line, row in rows:
        m.n_read += 1

        def get(name):
            i = cols.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        sid = get("sample_id")
        m.lines.setdefault(sid, []).append(line)
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            m.rejects.append(Reject(fname, line, sid, "", "the row has more fields than the header",
                                    "remove the extra fields, or quote a field that contains a comma"))
            bad_lines.setdefault(sid, []).append(line)
            continue
        if not sid:
            m.rejects.append(Reject(fname, line, "", "", "empty sample_id",
                                    "fill in the sample_id, or delete the row"))
            continue
        try:
            kind = normalize_kind(get("kind"))
        except ValueError as e:
            m.rejects.append(Reject(fname, line, sid, "", str(e),
                                    "write 'query' (unknown identity) or 'reference' (relative)",
                                    get("kind")))
            bad_lines.setdefault(sid, []).append(line)
            continue
        try:
            relation = normalize_relation(get("relation"))
        except ValueError as e:
            m.rejects.append(Reject(fname, line, sid, "", str(e),
                                    f"use one of: {', '.join(RELATIONS)}", get("relation")))
            bad_lines.setdefault(sid, []).append(line)
            continue
        try:
            sex = normalize_sex(get("sex"))
        except ValueError as e:
            m.rejects.append(Reject(fname, line, sid, "", str(e), "write M, F or leave it empty",
                                    get("sex")))
            bad_lines.setdefault(sid, []).append(line)
            continue
        case_id = get("case_id")
        reason = fix = None
        if kind == "reference" and not case_id:
            reason = "a reference needs a case_id"
            fix = "fill in the case of the missing person this relative belongs to"
        elif kind == "reference" and not relation:
            reason = "a reference needs a relation to the missing person"
            fix = f"fill in one of: {', '.join(RELATIONS)}"
        elif kind == "query" and relation:
            reason = f"a query has no relation (found {relation!r})"
            fix = "clear the relation, or set kind to 'reference' if this is a relative"
        if reason:
            m.rejects.append(Reject(fname, line, sid, "", reason, fix))
            bad_lines.setdefault(sid, []).append(line)
            continue
        raw_d = get("dropout")
        dropout = None
        if raw_d:
            try:
                dropout = float(raw_d)
            except ValueError:
                dropout = float("nan")
            if not (math.isfinite(dropout) and 0.0 <= dropout < 1.0):
                m.rejects.append(Reject(fname, line, sid, "",
                                        "dropout must be a probability in [0, 1)",
                                        "write the lab's dropout probability for this sample (e.g. "
                                        "0.05), or leave it empty to use the job's setting", raw_d))
                bad_lines.setdefault(sid, []).append(line)
                continue
        e = ManifestEntry(sid, kind, case_id, relation, sex, get("kit"), line, dropout)
        if sid in seen:
            prev = seen[sid]
            if (prev.kind, prev.case_id, prev.relation, prev.sex, prev.kit, prev.dropout) != (
                    e.kind, e.case_id, e.relation, e.sex, e.kit, e.dropout):
                bad_lines.setdefault(sid, []).append(line)
                m.rejects.append(Reject(
                    fname, line, sid, "",
                    f"sample listed twice with different fields (also on line {prev.line})",
                    "keep one row per sample"))
            continue
        seen[sid] = e
    for sid, lines in bad_lines.items():
        m.rejected_samples[sid] = lines[0]
        if sid in seen:
            e = seen.pop(sid)
            if not any(r.line == e.line for r in m.rejects):
                m.rejects.append(Reject(
                    fname, e.line, sid, "",
                    f"another row of this sample (line {lines[0]}) disagrees or was rejected",
                    "keep one correct row per sample"))
    m.entries = seen
    m.rejects.sort(key=lambda r: r.line or 0)
    return m
