"""Merge task outputs (and earlier results) into the ranked hits of a run.

Ranking, one total order everywhere (see :mod:`engine.score`):

* ``rank``: position among the hits of the same query and mode, by log10 LR
  descending, then by the id of the reference unit (``case_id`` in case mode,
  ``reference_id`` otherwise); set for the ``top_k`` best, null beyond.
* ``case_rank``: position among the hits of the same reference unit and mode, by
  log10 LR descending, then by ``query_id``; set for the ``case_top_k`` best.

``expected_chance_hits`` is left null here and filled in by
:func:`engine.chance.annotate` once the run's chance-hit expectations are known;
likewise ``combined_log10_lr`` and ``combined_with`` (:func:`engine.ylineage.combine`).
The y-lineage columns (``y_*``) are null for the autosomal modes.

A row is kept when either rank is set.  Rows are sorted by ``mode``, ``query_id``,
``rank`` (nulls last), then log10 LR descending and the reference ids, so the
output does not depend on task order, threads, the executor or resumption.
"""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .alternatives import ALT_FIELDS
from .joint import JOINT_FIELDS
from .taskbase import COMBINED_FIELDS, HIT_SCHEMA, TASK_SCHEMA, Y_FIELDS, topk_mask

__all__ = ["RESULT_SCHEMA", "TASK_SCHEMA", "merge_hits", "ref_keys", "posterior", "search_posteriors"]


def _hit(*names) -> list:
    return [HIT_SCHEMA.field(n) for n in names]


#: a task's columns, with the ranks, posterior and chance-hit expectation the merge adds
RESULT_SCHEMA = pa.schema(
    _hit("mode", "query_id", "case_id", "reference_id", "relatives", "log10_lr")
    + [pa.field("posterior", pa.float64(), nullable=False),
       pa.field("posterior_min", pa.float64(), nullable=False),
       pa.field("expected_chance_hits", pa.float64(), nullable=True),
       pa.field("rank", pa.int32(), nullable=True),
       pa.field("case_rank", pa.int32(), nullable=True)]
    + _hit("loci_compared", "loci_inconsistent", "per_locus_lr")
    + Y_FIELDS + COMBINED_FIELDS + ALT_FIELDS + JOINT_FIELDS)


def _task_columns(t: pa.Table) -> pa.Table:
    """A task's (or earlier results') table with exactly :data:`TASK_SCHEMA`'s
    columns; the y-lineage columns are null where a table has none."""
    for f in Y_FIELDS:
        if f.name not in t.column_names:
            t = t.append_column(f, pa.nulls(t.num_rows, f.type))
    return t.select(TASK_SCHEMA.names).cast(TASK_SCHEMA)


def posterior(log10_lr: np.ndarray, prior: float) -> np.ndarray:
    """P(H1 | LR) at prior ``prior``: ``LR p / (LR p + 1 - p)`` (as :func:`kinship.posterior`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        lr = np.power(10.0, np.asarray(log10_lr, dtype=np.float64))
        num = lr * prior
        post = num / (num + (1.0 - prior))
    return np.where(np.isinf(lr), 1.0, post)


def ref_keys(table: pa.Table) -> np.ndarray:
    """The reference unit of each hit: the case (``"<case>/<missing person>"`` for a
    family with several missing persons) in case mode, the reference otherwise."""
    mode, case, ref = (table.column(n).combine_chunks() for n in ("mode", "case_id", "reference_id"))
    return _unit_keys(mode, case, ref).to_numpy(zero_copy_only=False).astype(object)


def _unit_keys(mode: pa.Array, case: pa.Array, ref: pa.Array) -> pa.Array:
    """:func:`ref_keys` of the columns ``mode``, ``case_id`` and ``reference_id``."""
    unit = pc.if_else(pc.equal(ref, ""), case, pc.binary_join_element_wise(case, ref, "/"))
    return pc.if_else(pc.equal(mode, "case"), unit, ref)


def _rank(col) -> np.ndarray:
    """Integer codes of strings in sorted (code point) order: Arrow's dense rank
    (UTF-8 byte order, which is code point order), from 0."""
    if not isinstance(col, (pa.Array, pa.ChunkedArray)):
        col = pa.array(np.asarray(col, dtype=object), pa.string())
    if len(col) == 0:
        return np.zeros(0, dtype=np.int64)
    return pc.rank(col, sort_keys="ascending", tiebreaker="dense").to_numpy().astype(np.int64) - 1


def _combine(*codes) -> np.ndarray:
    """Integer codes of tuples of codes, in the tuples' order."""
    code = codes[0]
    for c in codes[1:]:
        if len(c) == 0:
            return np.zeros(0, dtype=np.int64)
        _, code = np.unique(code * (int(c.max()) + 1) + c, return_inverse=True)
        code = code.reshape(-1).astype(np.int64)
    return code


def _codes(*cols) -> np.ndarray:
    """Integer codes of string tuples, in sorted (code point) order."""
    return _combine(*(_rank(c) for c in cols))


def merge_hits(tables, top_k: int, case_top_k: int, prior: float) -> pa.Table:
    """The ranked hits from task tables (``HIT_SCHEMA`` columns at least)."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return RESULT_SCHEMA.empty_table()
    # consecutive tables of one schema (the tasks of a mode) concatenated, then brought
    # to TASK_SCHEMA's columns once per run of them instead of once per task
    runs: list = []
    for x in tables:
        if runs and runs[-1][-1].schema.equals(x.schema, check_metadata=True):
            runs[-1].append(x)
        else:
            runs.append([x])
    t = pa.concat_tables([_task_columns(pa.concat_tables(r)) for r in runs])
    mode, qid, case, ref = (t.column(n).combine_chunks()
                            for n in ("mode", "query_id", "case_id", "reference_id"))
    # the same pair from two tasks (incremental overlap, resumed duplicates): keep one
    pair = _codes(mode, qid, case, ref)
    _, first = np.unique(pair, return_index=True)
    first.sort()
    take = pa.array(first)
    mode, qid, case, ref = (a.take(take) for a in (mode, qid, case, ref))
    rkey = _unit_keys(mode, case, ref)
    score = t.column("log10_lr").to_numpy()[first]
    # each column's codes keep the ids' order, in every subset of the rows too
    m_code, q_code, c_code, f_code, rrank = (_rank(a) for a in (mode, qid, case, ref, rkey))
    qrank = q_code
    qgroup = _combine(m_code, q_code)
    rgroup = _combine(m_code, rrank)
    qkeep = topk_mask(qgroup, score, rrank, top_k)
    ckeep = topk_mask(rgroup, score, qrank, case_top_k)
    rank = _positions(qgroup, score, rrank, qkeep)
    crank = _positions(rgroup, score, qrank, ckeep)
    keep = np.nonzero(qkeep | ckeep)[0]
    r = rank[keep].astype(np.int64)
    r[r == 0] = np.iinfo(np.int64).max  # rank null: after the ranked rows
    # the rows kept, in the output's order: taken from the tasks' table once
    keep = keep[np.lexsort((f_code[keep], c_code[keep], -score[keep], r, q_code[keep], m_code[keep]))]
    t = t.take(pa.array(first[keep]))
    out = pa.table({
        "mode": t.column("mode"),
        "query_id": t.column("query_id"),
        "case_id": t.column("case_id"),
        "reference_id": t.column("reference_id"),
        "relatives": t.column("relatives"),
        "log10_lr": t.column("log10_lr"),
        "posterior": pa.array(posterior(score[keep], prior), type=pa.float64()),
        "posterior_min": pa.array(posterior(score[keep], prior), type=pa.float64()),
        "expected_chance_hits": pa.nulls(len(keep), pa.float64()),
        "rank": pa.array(rank[keep], type=pa.int32(), mask=rank[keep] == 0),
        "case_rank": pa.array(crank[keep], type=pa.int32(), mask=crank[keep] == 0),
        "loci_compared": t.column("loci_compared"),
        "loci_inconsistent": t.column("loci_inconsistent"),
        "per_locus_lr": t.column("per_locus_lr"),
        **{f.name: t.column(f.name) for f in Y_FIELDS},
        **{f.name: pa.nulls(len(keep), f.type) for f in COMBINED_FIELDS + ALT_FIELDS + JOINT_FIELDS},
    }, schema=RESULT_SCHEMA)
    return out.combine_chunks()


def _positions(group, score, tie, keep) -> np.ndarray:
    """1-based position within the group for kept rows, 0 otherwise."""
    n = len(group)
    out = np.zeros(n, dtype=np.int32)
    if n == 0:
        return out
    order = np.lexsort((tie, -score, group))
    g = group[order]
    start = np.r_[True, g[1:] != g[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    pos = (np.arange(n) - first + 1).astype(np.int32)
    out[order] = pos
    out[~keep] = 0
    return out


#: modes where at most one candidate can be the sought one (a query is the missing
#: person of one family, or one person); in the other modes a query may have
#: several true relatives among the candidates (both parents, siblings)
EXCLUSIVE_MODES = ("case", "identity")


def search_posteriors(hits: pa.Table, n_candidates: dict, prior: float, threshold: float,
                      top_k: int) -> pa.Table:
    """``hits`` with ``posterior`` and ``posterior_min`` for the search that was run.

    In ``case`` and ``identity`` mode (:data:`EXCLUSIVE_MODES`: at most one
    candidate is the sought one) as below.  In the other modes a query may have
    several true relatives among the candidates (both parents, siblings), so each
    candidate is related or not on its own, with prior ``prior / N``:
    ``P(i related | data) = q LR_i / (q LR_i + 1 - q)``, ``q = prior / N``
    (``prior``: the expected number of the query's relatives among them, at most
    1), the same in both columns.

    For a query compared with the N candidates of a mode (cases, reference
    persons, other queries), with prior probability ``prior`` that the person it
    is related to as the mode asks (or the person it is) is among them, spread
    evenly (pi_j = prior / N, pi_0 = 1 - prior), the posterior of candidate i is

        P(i | data) = pi_i LR_i / (pi_0 + sum_j pi_j LR_j),

    the sum over every candidate compared.  The results hold the exact LR of the
    query's kept hits; every other candidate is

    * below the threshold t (the screen's exact bound), when the query has fewer
      than ``top_k`` ranked hits;
    * at most the LR of its ``top_k``-th hit, when it has ``top_k`` (others at or
      above t may have been cut).

    ``posterior`` counts each other candidate at 1 (or at the bound, if lower),
    the largest value of the expectation E_H2[LR 1(LR < t)] = P_H1(LR < t) of an
    unrelated candidate below the threshold (an estimate on the safe side; hits cut by the top-k are not
    in it: raise ``top_k`` to count them); ``posterior_min`` at its bound (t or
    the ``top_k``-th LR): a guaranteed lower bound of the posterior.  Both depend
    only on the kept hits, so resumed, incremental and distributed runs give the
    same values.  ``n_candidates``: ``{mode: N}``; a mode without N keeps the
    per-pair posterior at the prior.
    """
    if hits.num_rows == 0:
        return hits
    mode = hits.column("mode").to_numpy(zero_copy_only=False).astype(str)
    qid = hits.column("query_id").to_numpy(zero_copy_only=False).astype(str)
    score = hits.column("log10_lr").to_numpy()
    ranked = ~np.asarray(hits.column("rank").is_null().to_numpy(zero_copy_only=False), dtype=bool)
    with np.errstate(over="ignore"):
        lr = np.power(10.0, score)
    post = hits.column("posterior").to_numpy().copy()
    pmin = post.copy()
    t = float(threshold)
    # the rows of each (mode, query), from one sort: every value below is the
    # formula of the docstring, computed for all rows at once
    n = len(mode)
    modes, m_code = np.unique(mode, return_inverse=True)
    _, q_code = np.unique(qid, return_inverse=True)
    group = m_code.astype(np.int64) * (int(q_code.max()) + 1) + q_code
    order = np.argsort(group, kind="stable")
    g_sorted = group[order]
    starts = np.r_[0, np.nonzero(np.diff(g_sorted))[0] + 1]
    size = np.diff(np.r_[starts, n])
    gid = np.empty(n, dtype=np.int64)
    gid[order] = np.repeat(np.arange(len(starts)), size)      # each row's group
    N_mode = np.array([int(n_candidates.get(m, 0) or 0) for m in modes], dtype=np.int64)
    N = N_mode[m_code]
    excl_mode = np.isin(modes, EXCLUSIVE_MODES)[m_code]
    # the pairwise modes: each candidate on its own
    pw = (N > 0) & ~excl_mode
    if pw.any():
        qq = prior / N[pw]
        x = lr[pw]
        with np.errstate(invalid="ignore", over="ignore"):
            val = qq * x / (qq * x + (1.0 - qq))
        val = np.where(np.isinf(x), 1.0, val)
        post[pw] = val
        pmin[pw] = val
    ex = (N > 0) & excl_mode
    if ex.any():
        # per group: the exact sum of the kept LRs (math.fsum; one row: the LR itself),
        # the smallest ranked LR, the number of ranked and of infinite LRs
        lr_s = lr[order]
        kept = lr_s[starts].copy()
        for k in np.nonzero(size > 1)[0]:
            kept[k] = math.fsum(lr_s[starts[k]:starts[k] + size[k]])
        rk = ranked[order]
        n_ranked = np.add.reduceat(rk.astype(np.int64), starts)
        low = np.minimum.reduceat(np.where(rk, lr_s, np.inf), starts)
        n_inf = np.add.reduceat(np.isinf(lr_s).astype(np.int64), starts)
        full = n_ranked >= top_k
        if (full & (n_ranked == 0)).any():
            raise ValueError("search_posteriors: top_k must be at least 1")
        # max(t, lowest ranked LR) as Python's max: t unless the LR is larger
        bound = np.where(full & (low > t), low, t)
        g = gid[ex]
        x = lr[ex]
        Ne = N[ex]
        others = np.maximum(Ne - size[g], 0)
        w = prior / Ne
        inf_share = 1.0 / np.maximum(n_inf[g], 1)
        for col, per in ((post, np.where(bound < 1.0, bound, 1.0)), (pmin, bound)):
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                # 0 others x an infinite bound is NaN, as the Python floats of the
                # per-group loop gave, without a RuntimeWarning on the run's stderr
                den = (1.0 - prior) + w * (kept[g] + others * per[g])
                val = w * x / den
            val = np.where(np.isinf(x), inf_share, val)
            col[ex] = np.where(np.isinf(den) & ~np.isinf(x), 0.0, val)
    i_post = hits.schema.get_field_index("posterior")
    i_min = hits.schema.get_field_index("posterior_min")
    hits = hits.set_column(i_post, hits.schema.field(i_post), pa.array(post, pa.float64()))
    return hits.set_column(i_min, hits.schema.field(i_min), pa.array(pmin, pa.float64()))
