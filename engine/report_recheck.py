"""The re-check round trip of the HTML report, with no server.

Every hit is re-checked by an analyst before a family is contacted.  A hit page
of the report (:mod:`engine.report_html`) has a form (reviewer, decision,
comment); its button downloads the entries as a **re-check file**, and
``kinship report RESULTS/ --recheck FILE`` reads it back into the results.

Re-check file (CSV, UTF-8, comma-separated, one header row; Excel's UTF-8 BOM
and a semicolon separator are accepted)::

    hit_key,mode,query_id,case_id,reference_id,reviewer,decision,comment,timestamp
    3f2a...,case,C0000-Q,C0000,,A. Analyst,confirmed,"two analysts, 2 kits",2026-12-05T14:03:11Z

* ``hit_key`` (required): the hit's key, shown on its page (:func:`hit_key`:
  the first 16 hex digits of the SHA-256 of mode, query, case and reference).
* ``reviewer`` (required), ``decision`` (required: one of :data:`DECISIONS`),
  ``comment`` (optional, free text), ``timestamp`` (optional: ISO 8601, when
  the entry was made; the page fills it in).
* ``mode``, ``query_id``, ``case_id``, ``reference_id`` (optional): for people
  reading the file; where given they must be the hit's.

A bad file is refused whole with one line naming the file and the row (the
header is row 1): an unknown hit key, a decision that is not a decision word, a
missing reviewer, a timestamp that is not ISO 8601, a missing column.

Accepted entries are stored in ``RESULTS/recheck.json`` (a private file, written
atomically): one import per file, with the file's name, SHA-256, row count, who
imported it and when, and the run (``run_id``, ``job_key``) it was checked
against; nothing is ever overwritten, later imports are added.  A hit's current
decision is its last entry: the latest import, and within a file the latest
timestamp (then the later row).
"""
from __future__ import annotations

import csv
import datetime as _dt
import difflib
import getpass
import hashlib
import io
import json
from pathlib import Path
from typing import Mapping

from .errors import InputError

__all__ = ["DECISIONS", "COLUMNS", "RECHECK_FILE", "hit_key", "read_recheck", "store_recheck",
           "load_recheck", "current_decisions"]

#: The decision words of a re-check, with what each means.
DECISIONS = {
    "confirmed": "the hit holds after re-checking the profiles, the pedigree and the LR",
    "rejected": "the hit does not hold (a wrong relation, a sample mix-up, a chance hit)",
    "inconclusive": "more references or loci are needed before deciding",
    "pending": "not decided yet",
}
#: Columns of a re-check file, in the order the report writes them.
COLUMNS = ("hit_key", "mode", "query_id", "case_id", "reference_id", "reviewer", "decision",
           "comment", "timestamp")
_REQUIRED = ("hit_key", "reviewer", "decision")
RECHECK_FILE = "recheck.json"
FORMAT = "strkin-recheck"


def hit_key(mode: str, query_id: str, case_id: str, reference_id: str) -> str:
    """The stable key of one hit: the first 16 hex digits of the SHA-256 of its
    mode, query, case and reference (unit separator between them)."""
    text = "\x1f".join(str(v or "") for v in (mode, query_id, case_id, reference_id))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _timestamp(value: str) -> str | None:
    v = value.strip()
    if not v:
        return ""
    try:
        t = _dt.datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith(("Z", "z")) else v)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_recheck(path, hits: Mapping[str, Mapping]) -> list:
    """The entries of re-check file ``path``, validated against ``hits``
    (``{hit key: {"mode", "query_id", "case_id", "reference_id"}}``): a list of
    ``{"hit_key", "mode", "query_id", "case_id", "reference_id", "reviewer",
    "decision", "comment", "timestamp", "row"}``.  Raises :class:`InputError`
    (one line: the file, the row, the problem and the fix)."""
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"re-check file {path} does not exist") from None
    except OSError as e:
        raise InputError(f"re-check file {path}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"re-check file {name}: not UTF-8 text (a CSV file downloaded from the "
                         f"report's page is). Fix: save it as CSV UTF-8") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"re-check file {name}: empty (expected a header row: {','.join(COLUMNS)})")
    delim = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(f"re-check file {name}, row 1: missing column(s) {', '.join(missing)} "
                         f"(the header must name {', '.join(_REQUIRED)}; the report writes "
                         f"{','.join(COLUMNS)})")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        sug = difflib.get_close_matches(unknown[0], COLUMNS, n=1)
        raise InputError(f"re-check file {name}, row 1: unknown column {unknown[0]!r}"
                         f"{f' (did you mean {sug[0]!r}?)' if sug else ''}; columns are "
                         f"{', '.join(COLUMNS)}")
    out = []
    for rowno, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            raise InputError(f"re-check file {name}, row {rowno}: {len(cells)} cells for "
                             f"{len(header)} columns (quote a comment that holds the separator)")
        d = {c: "" for c in COLUMNS}
        for h, v in zip(header, cells):
            d[h] = v.strip() if h != "comment" else v
        key = d["hit_key"].strip().lower()
        if not key:
            raise InputError(f"re-check file {name}, row {rowno}: no hit_key")
        if key not in hits:
            raise InputError(f"re-check file {name}, row {rowno}: hit_key {key[:40]!r} is not a hit "
                             f"of these results (a file of another run, or a damaged key). Fix: "
                             f"export the entries from this run's report")
        h = hits[key]
        for c in ("mode", "query_id", "case_id", "reference_id"):
            if d[c] and d[c] != str(h.get(c) or ""):
                raise InputError(f"re-check file {name}, row {rowno}: {c} {d[c][:40]!r} is not that "
                                 f"of hit {key} ({str(h.get(c) or '')!r})")
            d[c] = str(h.get(c) or "")
        dec = d["decision"].strip().lower()
        if dec not in DECISIONS:
            sug = difflib.get_close_matches(dec, DECISIONS, n=1)
            raise InputError(f"re-check file {name}, row {rowno}: decision {d['decision'][:30]!r} is "
                             f"not one of {', '.join(DECISIONS)}"
                             f"{f' (did you mean {sug[0]!r}?)' if sug else ''}")
        if not d["reviewer"]:
            raise InputError(f"re-check file {name}, row {rowno}: no reviewer (who re-checked the hit)")
        ts = _timestamp(d["timestamp"])
        if ts is None:
            raise InputError(f"re-check file {name}, row {rowno}: timestamp {d['timestamp'][:40]!r} is "
                             f"not ISO 8601 (e.g. 2026-12-05T14:03:11Z)")
        d.update(hit_key=key, decision=dec, timestamp=ts, row=rowno)
        out.append(d)
    if not out:
        raise InputError(f"re-check file {name}: no entries (only a header row)")
    return out


def load_recheck(results) -> dict:
    """``RESULTS/recheck.json`` (``{"imports": []}`` when there is none)."""
    p = Path(results) / RECHECK_FILE
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": FORMAT, "format_version": 1, "imports": []}
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{p} is damaged (not JSON). Fix: restore it from a backup, or move it "
                         f"away and import the re-check files again") from None
    if d.get("format") != FORMAT or not isinstance(d.get("imports"), list):
        raise InputError(f"{p} is not a strkin re-check store (format {d.get('format')!r})")
    return d


def store_recheck(results, path, entries: list, run: Mapping) -> dict:
    """Add the entries of re-check file ``path`` to ``RESULTS/recheck.json``
    (private, atomic) with their provenance; returns the import record."""
    from formats.dataset import _write_json_atomic

    results = Path(results)
    data = load_recheck(results)
    raw = Path(path).read_bytes()
    rec = {
        "file": Path(path).name,
        "path": str(Path(path).resolve()),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "rows": len(entries),
        "imported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "imported_by": _user(),
        "run_id": run.get("run_id"),
        "job_key": run.get("job_key"),
        "entries": [{k: e[k] for k in COLUMNS + ("row",)} for e in entries],
    }
    data["imports"].append(rec)
    _write_json_atomic(results / RECHECK_FILE, data)
    return rec


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def current_decisions(data: Mapping) -> dict:
    """``{hit key: entry}``: each hit's last entry (latest import; within one file
    the latest timestamp, then the later row), with ``source`` (the file name)
    and ``imported`` added."""
    out = {}
    for imp in data.get("imports", []):
        ordered = sorted(imp.get("entries", []), key=lambda e: (e.get("timestamp") or "", e.get("row", 0)))
        for e in ordered:
            out[e["hit_key"]] = dict(e, source=imp.get("file", ""), imported=imp.get("imported", ""))
    return out
