"""The score task kind of the autosomal modes: one block of reference units x one
chunk of queries.

The same function runs in a thread of the in-process executor and on a Dask
worker.  It compiles the block's tables (cached per process, so the chunks of a
block share them), screens and scores every pair with the kernel of
:mod:`engine.kernels`, and keeps, of the pairs at or above the threshold, the
``top_k`` best of each query and the ``case_top_k`` best of each reference unit
(a case, a reference person, or a query in ``duplicates`` mode).

Why keeping only these is exact: the final top-k of a query over all
references is contained in the union of its top-k within each block, and the
same holds for a case over query chunks, provided every stage ranks with one
total order -- by log10 LR descending, then by the id of the other side
(``ref_key`` for a query's list, ``query_id`` for a case's list).  The merge
(:mod:`engine.merge`) uses the same order.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .compile import cached_block
from .taskbase import HIT_SCHEMA, TaskResult, compile_work, count_keys, topk_mask

__all__ = ["run_score_task", "describe_case"]


def _ranks(strings) -> np.ndarray:
    a = np.asarray(strings, dtype=object)
    order = np.argsort(a, kind="stable")
    r = np.empty(len(a), dtype=np.int64)
    r[order] = np.arange(len(a))
    return r


def _dropout_groups(qd: np.ndarray, rows: np.ndarray) -> list:
    """``[(d, rows with dropout d)]`` for each distinct dropout ``d`` of a chunk's
    queries (ascending; ``qd[i]`` the dropout of ``rows[i]``).  One value (the usual
    case: no dropout, or one for every sample) is found without sorting the chunk."""
    if len(qd) == 0:
        return []
    if qd.min() == qd.max():
        return [(float(qd[0]), rows)]
    return [(float(d), rows[qd == d]) for d in np.unique(qd)]


def _take(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a[rows]`` for strictly increasing ``rows`` (a task's query rows: a range or
    ``np.nonzero`` of a mask, and subsets of them in order): a view when they are
    consecutive (a query chunk), instead of a copy of the chunk's rows for every
    block.  Strictly increasing rows spanning ``n - 1`` are consecutive."""
    n = len(rows)
    if n and int(rows[-1]) - int(rows[0]) == n - 1:
        return a[int(rows[0]):int(rows[0]) + n]
    return a[rows]


def run_score_task(ctx, task, queries, progress=None) -> TaskResult:
    """Screen and score the pairs of one autosomal task (:mod:`engine.taskbase`);
    ``progress(work)`` as its work is done."""
    from .kernels import score_tile

    mode = task.mode
    block = task.block
    rows_all = np.asarray(task.query_rows, dtype=np.int64)
    # queries of different dropout are scored against tables folded with their own
    # dropout (engine.dropout): one set of tables per distinct value in the chunk
    qd = np.asarray(queries.dropout, dtype=np.float64)[rows_all]
    groups = []
    for d, sel in _dropout_groups(qd, rows_all):
        bt_d = cached_block(ctx, mode, block, queries, d)
        groups.extend((grp, sel) for grp in bt_d.groups)
    bt = _Groups([g for g, _ in groups])
    if progress is not None and task.compiles:
        progress(compile_work(mode) * len(block))
    log_t = math.log10(ctx.threshold)
    max_skip = ctx.max_inconsistent if mode in ("identity", "duplicates") else 0
    canonical = mode == "duplicates"
    stats = np.zeros(1, dtype=np.int64)
    if canonical:
        unit_rank = queries.rank[block.query_rows]
    else:
        unit_rank = _ranks(block.unit_ids)
    parts = []
    not_compared = 0
    pairs = 0
    for gi, (grp, rows_d) in enumerate(groups):
        rows = rows_d
        if grp.sex is not None:
            sx = queries.sex[rows_d]
            rows = rows_d[sx == grp.sex]
            if grp.sex == "M":  # each such case is in the M and the F group: count once
                not_compared += int(np.count_nonzero(sx == "")) * len(grp)
        c_rank = unit_rank[grp.units]
        qcol = _take(queries.columns(grp.offsets), rows)
        q_rank = _take(queries.rank, rows)
        for a in range(0, len(rows), ctx.tile):
            b = a + ctx.tile
            q, c, s, nc, ni = score_tile(grp, qcol[a:b], rows[a:b], q_rank[a:b], c_rank, canonical,
                                         log_t, max_skip, stats, device=ctx.device)
            if len(q):
                parts.append((gi, q, c, s, nc, ni))
            n_tile = len(rows[a:b]) * len(grp)
            pairs += n_tile
            if progress is not None:
                progress(n_tile)
    return _collect(ctx, task, bt, parts, queries, unit_rank,
                    {"pairs": int(task.n_pairs), "pairs_scored": int(pairs),
                     "locus_lookups": int(stats[0]), "pairs_not_compared_sex": int(not_compared)})


@dataclass
class _Groups:
    """The table groups a task scored (those of every query dropout), as ``bt.groups``."""

    groups: list


def _collect(ctx, task, bt, parts, queries, unit_rank, stats) -> TaskResult:
    mode = task.mode
    block = task.block
    if parts:
        gi = np.concatenate([np.full(len(p[1]), p[0], dtype=np.int64) for p in parts])
        q = np.concatenate([p[1] for p in parts])
        c = np.concatenate([p[2] for p in parts])
        s = np.concatenate([p[3] for p in parts])
        nc = np.concatenate([p[4] for p in parts])
        ni = np.concatenate([p[5] for p in parts])
    else:
        gi = q = c = np.zeros(0, dtype=np.int64)
        s = np.zeros(0)
        nc = ni = np.zeros(0, dtype=np.int32)
    unit = np.zeros(len(c), dtype=np.int64)      # each pair's reference unit in the block
    for g in np.unique(gi).tolist():
        at = gi == g
        unit[at] = bt.groups[g].units[c[at]]
    src = np.arange(len(q))
    if mode == "duplicates":
        # the other query of each pair; emit both directions with the same values
        other = block.query_rows[unit] if len(unit) else np.zeros(0, dtype=np.int64)
        qq = np.concatenate([q, other])
        rr = np.concatenate([other, q])
        ref_rank = queries.rank[rr]
        ref_key = queries.ids_at(rr)
        src = np.concatenate([src, src])
        s2 = np.concatenate([s, s])
    else:
        qq = q
        ref_rank = unit_rank[unit]
        ref_key = np.asarray(block.unit_ids, dtype=object)[unit] if len(unit) else np.zeros(0, dtype=object)
        s2 = s
    qid = queries.ids_at(qq) if len(qq) else np.zeros(0, dtype=object)
    if ctx.min_loci > 1 and len(qq):
        # pairs compared on too few loci mean nothing: out before the top-k
        ok = nc[src] >= ctx.min_loci
        if not ok.all():
            qq, src, s2, qid, ref_rank, ref_key = (x[ok] for x in (qq, src, s2, qid, ref_rank,
                                                                   np.asarray(ref_key, dtype=object)))
    ex = (ctx.exclude or {}).get(mode)
    if ex and len(qq):
        # a query that is also a reference is not its own relative: out before the top-k
        other = ([block.cases[int(u)]["case_id"] for u in unit] if mode == "case" else
                 [str(k) for k in ref_key])
        ok = np.array([f"{a}\x1f{b}" not in ex for a, b in zip(qid, other)], dtype=bool)
        if not ok.all():
            qq, src, s2, qid, ref_rank, ref_key = (x[ok] for x in (qq, src, s2, qid, ref_rank,
                                                                   np.asarray(ref_key, dtype=object)))
    # pairs at or above the threshold, per query and per reference unit
    query_counts = count_keys(qid)
    ref_counts = count_keys(ref_key)
    keep = topk_mask(qq, s2, ref_rank, ctx.top_k) | topk_mask(ref_rank, s2, queries.rank[qq], ctx.case_top_k)
    idx = np.nonzero(keep)[0]
    js = src[idx]                      # the scored pair of each kept row
    uu = unit[js]                      # its reference unit in the block
    n = len(idx)
    if mode == "case":
        # the columns of each case of the block that has a kept row, taken per row
        cols = {}
        for u in np.unique(uu).tolist():
            cu = block.cases[u]
            cols[u] = (cu["case_id"], cu["missing_label"], describe_case(cu))
        per_unit = [cols[u] for u in uu.tolist()]
        case_id = [t[0] for t in per_unit]
        reference_id = [t[1] for t in per_unit]
        relatives = [t[2] for t in per_unit]
    elif mode == "duplicates":
        case_id = relatives = pa.nulls(n, pa.string()).fill_null("")
        reference_id = [str(k) for k in np.asarray(ref_key, dtype=object)[idx]]
    else:
        ids = np.asarray(block.unit_ids, dtype=object)
        case_id = np.asarray(block.case_ids, dtype=object)[uu]
        reference_id = ids[uu]
        if block.relations is None:
            relatives = pa.nulls(n, pa.string()).fill_null("")
        else:
            rel = [f"{a} ({r})" if r else "" for a, r in zip(ids.tolist(), block.relations)]
            relatives = np.asarray(rel, dtype=object)[uu]
    # the per-locus LRs of each kept pair, made once per pair (duplicates: a pair
    # gives two rows)
    pj, first = np.unique(js, return_inverse=True)
    per_locus = _per_locus_json(bt, gi, c, q, pj, queries).take(pa.array(first))
    table = pa.Table.from_arrays([
        pa.array(np.full(n, mode, dtype=object), pa.string()),
        pa.array([str(x) for x in qid[idx]], pa.string()),
        pa.array(case_id, pa.string()),
        pa.array(reference_id, pa.string()),
        pa.array(relatives, pa.string()),
        pa.array(s[js], pa.float64()),
        pa.array(nc[js], pa.int32()),
        pa.array(ni[js], pa.int32()),
        per_locus,
    ], schema=HIT_SCHEMA)
    stats["hits"] = int(len(qq))
    return TaskResult(task.key, mode, table, query_counts, ref_counts, stats)


def describe_case(cu: dict) -> str:
    """The ``relatives`` column of a case hit: ``"S1 (father), S2 (maternal-grandfather)"``;
    for a family pedigree the typed persons, and the missing person compared as
    where the family has several."""
    fam = cu.get("case")
    if fam is None:
        return ", ".join(f"{r[0]} ({r[1]})" for r in cu["relatives"])
    present = {r[0] for r in cu["relatives"]}
    parts = []
    for p in fam.typed:
        s = fam.samples[p]
        if s in present:
            parts.append(s if p == s else f"{s} (person {p})")
    out = ", ".join(parts)
    if cu.get("missing_label"):
        out += f"; compared as {cu['missing_label']}"
    return out


def _per_locus_json(bt, gi, c, q, js, queries) -> pa.Array:
    """The per-locus column of the scored pairs ``js`` (pair ``j``: table group
    ``gi[j]``, case ``c[j]``, query ``q[j]``): ``{locus: LR}`` over the loci both
    sides typed, as JSON (:func:`per_locus_json`; an identity locus left out of
    the LR shows its LR 0).  Each group's values are gathered at once, as
    :func:`kinship.search.per_locus_lrs_many` gathers them."""
    L = len(bt.groups[0].loci) if bt.groups else 0
    vals = np.zeros((len(js), L))
    use = np.zeros((len(js), L), dtype=bool)
    g_of = gi[js]
    for g in np.unique(g_of).tolist():
        at = np.nonzero(g_of == g)[0]
        grp = bt.groups[g]
        cs, qg = c[js[at]], queries.gidx[q[js[at]]].astype(np.int64)
        use[at] = (qg >= 0) & (grp.typed[cs] != 0)
        vals[at] = grp.lr_at(cs, grp.offsets[None, :] + np.maximum(qg, 0))
    return per_locus_json(bt.groups[0].loci if bt.groups else (), vals, use)


_SPECIAL = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _float_text(x: float) -> str:
    """A float as ``json.dumps`` writes it (``allow_nan``): ``float.__repr__``,
    ``NaN``, ``Infinity``, ``-Infinity``."""
    if x != x:
        return "NaN"
    return _SPECIAL.get(x) or float.__repr__(x)


#: the float64 values whose Arrow text is ``float.__repr__``'s (see :func:`_texts`): in
#: the range where ``repr`` writes digits and a point without an exponent
_POSITIONAL = (1e-4, 1e16)
#: values (every digit count, both signs, near both ends of the range) on which the
#: Arrow text is checked against ``repr`` once per process before it is used
_PROBE = np.array([0.1, 1 / 3, 2 / 3, 15.039901955818197, 15.039901955818198, 0.000123,
                   1.0001e-4, 9999999999999998.0 / 3, 1.5e15, 123456789.125, 0.30000000000000004,
                   5e-4, 2.5, 7.0e-3, 1.234567890123e12, 3.14159, 1e-4 * 1.5, 0.1 + 0.2])
_ARROW_OK: list = []


def _arrow_matches_repr() -> bool:
    """Whether this pyarrow writes, for the probe values in the range, the text that
    ``repr`` writes (checked once per process; a pyarrow whose float formatting
    differs gets ``repr`` for every value)."""
    if not _ARROW_OK:
        x = np.concatenate([_PROBE, -_PROBE])
        t = pc.cast(pa.array(x), pa.string()).to_pylist()
        use = _arrow_usable(x, pa.array(t))
        _ARROW_OK.append(bool(use.any()) and all(
            a == float.__repr__(v) for a, v, u in zip(t, x.tolist(), use) if u))
    return _ARROW_OK[0]


def _arrow_usable(x: np.ndarray, t: pa.Array) -> np.ndarray:
    """Where Arrow's text ``t`` of ``x`` is ``repr``'s: both write the shortest digits
    that read back as the same float (tested on 8 million values); in the range
    where ``repr`` writes a point and no exponent, Arrow's text with a point and no
    exponent is the same text (an integral value, which ``repr`` writes with
    ``.0``, or one Arrow writes with an exponent, is left to ``repr``)."""
    with np.errstate(invalid="ignore"):
        ax = np.abs(x)
        ok = (ax >= _POSITIONAL[0]) & (ax < _POSITIONAL[1])
    return (ok & pc.match_substring(t, ".").to_numpy(zero_copy_only=False)
            & ~pc.match_substring(t, "e").to_numpy(zero_copy_only=False))


def _texts(x: np.ndarray) -> pa.Array:
    """:func:`_float_text` of each float64 value of ``x``: Arrow's cast
    to text where it writes what ``repr`` writes (:func:`_arrow_usable`), ``repr``
    for the others (zero, integral, tiny, huge and non-finite values)."""
    if not len(x):
        return pa.array([], pa.string())
    t = pc.cast(pa.array(x), pa.string())
    use = _arrow_usable(x, t) if _arrow_matches_repr() else np.zeros(len(x), dtype=bool)
    if use.all():
        return t
    rest = np.nonzero(~use)[0]
    return pc.replace_with_mask(t, pa.array(~use),
                                pa.array([_float_text(v) for v in x[rest].tolist()], pa.string()))


def per_locus_json(loci, vals: np.ndarray, use: np.ndarray) -> pa.Array:
    """Row ``i``: ``json.dumps({loci[l]: vals[i, l] for l where use[i, l]},
    allow_nan=True)``, the same text (keys as JSON strings, ``", "`` and ``": "``
    separators, floats by ``float.__repr__``, ``NaN``, ``Infinity``,
    ``-Infinity``), made in Arrow: each used entry is its key's text and its
    value's, and a row's entries are joined as a list; the values' texts are
    Arrow's where it writes ``repr``'s text (:func:`_texts`)."""
    n = vals.shape[0]
    use = np.asarray(use, dtype=bool)
    x = np.ascontiguousarray(vals, dtype=np.float64)[use]     # row by row
    keys = pa.array([json.dumps(locus) + ": " for locus in loci], pa.string())
    locus = np.broadcast_to(np.arange(len(loci), dtype=np.int64), use.shape)[use]
    entries = pc.binary_join_element_wise(keys.take(pa.array(locus)), _texts(x), "")
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(use.sum(axis=1), out=offsets[1:])
    rows = pa.ListArray.from_arrays(pa.array(offsets), entries)
    return pc.binary_join_element_wise("{", pc.binary_join(rows, ", "), "}", "")
