"""Which pairs a run must score: everything (a first run), or new-vs-all.

Units are what the results are about: queries, reference persons (pairwise
modes) and cases (case mode); each has a fingerprint of its content
(:func:`engine.inputs.fingerprints`).  An incremental run compares the current
units with those of the last completed run, for each mode:

* ``Q_sub``: queries that are new or changed, and ``R_sub``: reference units that
  are new or changed, are scored against *everything*;
* the pairs of two unchanged units are taken from the earlier results;
* rows of earlier results that involve a removed or changed unit are dropped.

Earlier results keep only each query's top-k and each unit's top-k, so a
dropped row may have been hiding the (k+1)-th hit of a surviving unit.  Such a
unit -- it lost a row from its top-k *and* it had more than k hits at or above
the threshold -- is scored again against everything as well.  The count of hits
per unit is kept in the run state for this purpose; it may over-count after a
removal (never under-count), which can only cause an extra re-scoring.

Then the merged results equal a full re-run, because for every unit the
earlier top-k restricted to unchanged partners is exactly the top-k over those
partners, and every pair with a new partner is scored now (tested in
``tests/engine/test_engine_incremental.py``).

Duplicates mode has queries on both sides: one set ``S`` (new, changed or to be
re-scored) plays both roles; the kernel scores each unordered pair once.

``y-lineage`` has its own units (``yquery``, ``yperson``: Y haplotypes).  Its
LRs depend on the whole population sample of the match probability, so when
that sample (or any Y setting) changed since the last run every y-lineage pair
is compared again (the caller passes no earlier state for the mode).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .merge import ref_keys

__all__ = ["ModePlan", "plan_mode", "PrevState"]


@dataclass
class PrevState:
    """The last completed run: hits, unit fingerprints and per-unit hit counts."""

    hits: pa.Table
    units: dict          # kind -> {id: fp bytes}
    counts: dict         # (mode, side) -> {id: n}
    chance: dict = field(default_factory=dict)   # (mode, unit) -> (fp bytes, chance rows)
    fingerprint_version: int = 1                  # engine.inputs.FINGERPRINT_VERSION of the state


@dataclass
class ModePlan:
    mode: str
    r_sub: np.ndarray                 # bool over reference units: score against every query
    q_sub: np.ndarray                 # bool over queries: score against every reference unit
    kept: pa.Table | None             # earlier rows still valid
    base_counts: dict                 # side -> {id: n} carried over
    stats: dict = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return bool(self.r_sub.all()) and self.kept is None


def _status(ids, fps, prev: dict):
    """(new, changed) masks and the ids that are gone or changed."""
    n = len(ids)
    new = np.zeros(n, dtype=bool)
    changed = np.zeros(n, dtype=bool)
    present = set()
    for i in range(n):
        k = str(ids[i])
        present.add(k)
        f = prev.get(k)
        if f is None:
            new[i] = True
        elif bytes(f) != bytes(fps[i]):
            changed[i] = True
    gone = {k for k in prev if k not in present}
    gone |= {str(ids[i]) for i in np.nonzero(changed)[0]}
    return new, changed, gone


def plan_mode(mode: str, q_ids, q_fp, r_ids, r_fp, r_kind: str, prev: PrevState | None,
              top_k: int, case_top_k: int, q_kind: str = "query") -> ModePlan:
    nq, nr = len(q_ids), len(r_ids)
    if prev is None:
        return ModePlan(mode, np.ones(nr, dtype=bool), np.zeros(nq, dtype=bool), None, {},
                        {"incremental": False})
    q_new, q_chg, q_gone = _status(q_ids, q_fp, prev.units.get(q_kind, {}))
    if mode == "duplicates":
        r_new, r_chg, r_gone = q_new, q_chg, q_gone
    else:
        r_new, r_chg, r_gone = _status(r_ids, r_fp, prev.units.get(r_kind, {}))
    rows = _mode_rows(prev.hits, mode)
    qcol = np.asarray(rows.column("query_id").to_numpy(zero_copy_only=False), dtype=object)
    rk = ref_keys(rows) if rows.num_rows else np.zeros(0, dtype=object)
    q_dead = np.isin(qcol.astype(str), list(q_gone)) if q_gone else np.zeros(len(qcol), bool)
    r_dead = np.isin(rk.astype(str), list(r_gone)) if r_gone else np.zeros(len(rk), bool)
    drop = q_dead | r_dead
    rank_set = ~np.asarray(rows.column("rank").is_null().to_numpy(zero_copy_only=False), dtype=bool)
    crank_set = ~np.asarray(rows.column("case_rank").is_null().to_numpy(zero_copy_only=False), dtype=bool)
    qc = dict(prev.counts.get((mode, "query"), {}))
    rc = dict(prev.counts.get((mode, "ref"), {}))
    # surviving units that lost a row: their counts drop; re-score those that were truncated
    q_rec, r_rec = set(), set()
    for i in np.nonzero(drop & ~q_dead)[0]:
        k = str(qcol[i])
        if rank_set[i] and qc.get(k, 0) > top_k:
            q_rec.add(k)
        qc[k] = qc.get(k, 0) - 1
    for i in np.nonzero(drop & ~r_dead)[0]:
        k = str(rk[i])
        if crank_set[i] and rc.get(k, 0) > case_top_k:
            r_rec.add(k)
        rc[k] = rc.get(k, 0) - 1
    qid_s = np.asarray(q_ids, dtype=object).astype(str)
    rid_s = np.asarray(r_ids, dtype=object).astype(str)
    q_sub = q_new | q_chg | (np.isin(qid_s, list(q_rec)) if q_rec else False)
    if mode == "duplicates":
        s = q_sub | (np.isin(qid_s, list(r_rec)) if r_rec else False)
        q_sub = r_sub = s
    else:
        r_sub = r_new | r_chg | (np.isin(rid_s, list(r_rec)) if r_rec else False)
    # counts of re-scored units come entirely from this run's tasks
    for k in q_gone | set(qid_s[q_sub].tolist()):
        qc.pop(k, None)
    r_drop = (q_gone | set(qid_s[r_sub].tolist())) if mode == "duplicates" else (r_gone | set(rid_s[r_sub].tolist()))
    for k in r_drop:
        rc.pop(k, None)
    kept = rows.filter(pa.array(~drop)) if rows.num_rows else rows
    stats = {
        "incremental": True,
        "queries_new": int(q_new.sum()), "queries_changed": int(q_chg.sum()),
        "queries_removed": int(len(q_gone) - q_chg.sum()),
        "references_new": int(r_new.sum()), "references_changed": int(r_chg.sum()),
        "references_removed": int(len(r_gone) - r_chg.sum()),
        "queries_rescored": len(q_rec), "references_rescored": len(r_rec),
        "earlier_rows_dropped": int(drop.sum()), "earlier_rows_kept": int((~drop).sum()),
    }
    return ModePlan(mode, np.asarray(r_sub, dtype=bool), np.asarray(q_sub, dtype=bool), kept,
                    {"query": qc, "ref": rc}, stats)


def _mode_rows(hits: pa.Table, mode: str) -> pa.Table:
    if hits is None or hits.num_rows == 0:
        from .merge import RESULT_SCHEMA

        return RESULT_SCHEMA.empty_table()
    return hits.filter(pc.equal(hits.column("mode"), mode))
