"""The task function: one block of reference units x one chunk of queries.

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
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .compile import cached_block

__all__ = ["TaskContext", "Task", "TaskResult", "run_task", "HIT_SCHEMA", "topk_mask",
           "work_of", "PAIR_WORK", "COMPILE_WORK", "CHANCE_WORK"]

# -- work units (the progress bar's total and ETA) ------------------------------------
# The bar counts work, not pairs: a task's time is its pairs (the kernel, about 1e8
# pairs/s per thread: benchmarks/README.md) plus, for the first task of a block, the
# compilation of the block's tables, and for a chance task the exceedance of each unit.
# Both are expressed as the number of pairs the kernel scores in the same time
# (measured on the demo job, 2 shared cores, 2026-12: a case of 2-4 relatives with
# theta and mutation compiles in 50-140 ms, its chance values take about 120 ms; a
# reference person's pairwise tables compile in about 0.1 ms).  Without these the
# demo's bar, which counted pairs only, sat at 64-68 % while the compile- and
# chance-heavy tasks ran and its ETA swung from seconds to minutes.
#: work of one pair, per mode (Y screening runs about 10x faster than the autosomal
#: kernel: one unit per 10 pairs)
PAIR_WORK = {"y-lineage": 0.1}
#: work of compiling one reference unit's tables, per mode (default: a pairwise mode)
COMPILE_WORK = {"case": 10_000_000, "duplicates": 50_000}
_COMPILE_DEFAULT = 10_000
#: work of one unit's chance-hit exceedance, per mode
CHANCE_WORK = {"case": 12_000_000, "parent-child": 4_000_000, "full-sibling": 1_500_000,
               "identity": 800_000, "duplicates": 500_000}
_CHANCE_DEFAULT = 3_000_000


def work_of(mode: str, kind: str, n_units: int, n_queries: int, compiles: bool) -> int:
    """Work units of one task (an integer, so that a bar's parts add up to its total
    exactly): ``kind`` "score" or "chance"; ``compiles``: this task is the first of
    its block and compiles the block's tables (never for y-lineage, which has none)."""
    w = 0
    if compiles and mode != "y-lineage":
        w += COMPILE_WORK.get(mode, _COMPILE_DEFAULT) * n_units
    if kind == "chance":
        w += CHANCE_WORK.get(mode, _CHANCE_DEFAULT) * n_units
    else:
        w += math.ceil(PAIR_WORK.get(mode, 1) * n_units * n_queries)
    return int(w)

HIT_SCHEMA = pa.schema([
    pa.field("mode", pa.string(), nullable=False),
    pa.field("query_id", pa.string(), nullable=False),
    pa.field("case_id", pa.string(), nullable=False),
    pa.field("reference_id", pa.string(), nullable=False),
    pa.field("relatives", pa.string(), nullable=False),
    pa.field("log10_lr", pa.float64(), nullable=False),
    pa.field("loci_compared", pa.int32(), nullable=False),
    pa.field("loci_inconsistent", pa.int32(), nullable=False),
    pa.field("per_locus_lr", pa.string(), nullable=False),
])


@dataclass
class TaskContext:
    """Settings shared by every task of a run (small and picklable)."""

    model: object               # engine.model.ModelSpec
    threshold: float
    top_k: int
    case_top_k: int
    max_inconsistent: int
    line: str = "paternal"
    tile: int = 2048
    chance: object = None       # engine.chance.ChanceSpec, or None (no chance hits)
    y: object = None            # engine.ylineage.YContext (mode y-lineage), or None
    device: str = "cpu"         # "gpu": screen on a CUDA device (engine.kernels.score_tile)
    #: a pair compared on fewer loci is not reported (search.min_loci)
    min_loci: int = 1
    #: per mode, pairs never scored as relatives (a query that is also a reference):
    #: keys ``"query_id\x1f<reference id, or case id in case mode>"``
    exclude: dict = None


@dataclass
class Task:
    key: str
    mode: str
    block: object               # engine.inputs.RefBlock
    query_rows: np.ndarray      # indices into the QuerySet
    label: str = ""
    kind: str = "score"         # "score": pairs; "chance": chance-hit exceedance of the block's units
    #: this task is the first of its block: it compiles the block's tables
    compiles: bool = False

    @property
    def n_pairs(self) -> int:
        return len(self.block) * len(self.query_rows)

    @property
    def work(self) -> int:
        """Work units of this task (:func:`work_of`): what it adds to the progress bar."""
        return work_of(self.mode, self.kind, len(self.block), len(self.query_rows), self.compiles)


@dataclass
class TaskResult:
    key: str
    mode: str
    table: pa.Table
    query_counts: dict          # query id -> pairs at or above the threshold
    ref_counts: dict            # ref key -> pairs at or above the threshold
    stats: dict = field(default_factory=dict)


def topk_mask(group: np.ndarray, score: np.ndarray, tie: np.ndarray, k: int) -> np.ndarray:
    """Rows among the ``k`` best of their group (score descending, then ``tie``
    ascending): a total order when ``tie`` is unique within each group."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((tie, -score, group))
    g = group[order]
    start = np.r_[True, g[1:] != g[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    keep = np.zeros(n, dtype=bool)
    keep[order[(np.arange(n) - first) < k]] = True
    return keep


def _ranks(strings) -> np.ndarray:
    a = np.asarray(strings, dtype=object)
    order = np.argsort(a, kind="stable")
    r = np.empty(len(a), dtype=np.int64)
    r[order] = np.arange(len(a))
    return r


def run_task(ctx: TaskContext, task: Task, queries, progress=None) -> TaskResult:
    """Score one task; ``progress(work)`` is called as its work is done (the block's
    compilation, each tile of pairs, each chance unit), adding up to exactly
    ``task.work`` when it returns.  A task of kind ``"chance"`` computes its units'
    chance-hit exceedance instead (:func:`engine.chance.run_chance_task`)."""
    if progress is None:
        return _run_task(ctx, task, queries, None)
    total = task.work
    done = [0]

    def report(n):
        n = min(int(n), total - done[0])
        if n > 0:
            done[0] += n
            progress(n)

    res = _run_task(ctx, task, queries, report)
    report(total - done[0])
    return res


def _run_task(ctx, task, queries, progress):
    if task.kind == "chance":
        from .chance import run_chance_task

        return run_chance_task(ctx, task, queries, progress)
    if task.mode == "y-lineage":
        from .ylineage import run_y_task

        return run_y_task(ctx, task)
    from .kernels import score_tile

    mode = task.mode
    block = task.block
    rows_all = np.asarray(task.query_rows, dtype=np.int64)
    # queries of different dropout are scored against tables folded with their own
    # dropout (engine.dropout): one set of tables per distinct value in the chunk
    qd = np.asarray(queries.dropout, dtype=np.float64)[rows_all]
    groups = []
    for d in sorted(set(qd.tolist())):
        bt_d = cached_block(ctx, mode, block, queries, d)
        sel = rows_all[qd == d]
        groups.extend((grp, sel) for grp in bt_d.groups)
    bt = _Groups([g for g, _ in groups])
    if progress is not None and task.compiles:
        progress(COMPILE_WORK.get(mode, _COMPILE_DEFAULT) * len(block))
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
        qcol = queries.columns(grp.offsets)[rows]
        q_rank = queries.rank[rows]
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
    unit = np.array([bt.groups[g].units[cc] for g, cc in zip(gi, c)], dtype=np.int64)
    src = np.arange(len(q))
    if mode == "duplicates":
        # the other query of each pair; emit both directions with the same values
        other = block.query_rows[unit] if len(unit) else np.zeros(0, dtype=np.int64)
        qq = np.concatenate([q, other])
        rr = np.concatenate([other, q])
        ref_rank = queries.rank[rr]
        ref_key = queries.ids[rr]
        src = np.concatenate([src, src])
        s2 = np.concatenate([s, s])
    else:
        qq = q
        ref_rank = unit_rank[unit]
        ref_key = np.asarray(block.unit_ids, dtype=object)[unit] if len(unit) else np.zeros(0, dtype=object)
        s2 = s
    qid = queries.ids[qq] if len(qq) else np.zeros(0, dtype=object)
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
    query_counts = _count(qid)
    ref_counts = _count(ref_key)
    keep = topk_mask(qq, s2, ref_rank, ctx.top_k) | topk_mask(ref_rank, s2, queries.rank[qq], ctx.case_top_k)
    idx = np.nonzero(keep)[0]
    per_locus = {}
    rows = {k: [] for k in HIT_SCHEMA.names}
    for i in idx:
        j = int(src[i])
        if j not in per_locus:
            per_locus[j] = _per_locus_json(bt.groups[int(gi[j])], int(c[j]), queries.gidx[int(q[j])])
        u = int(unit[j])
        rows["mode"].append(mode)
        rows["query_id"].append(str(qid[i]))
        if mode == "case":
            cu = block.cases[u]
            rows["case_id"].append(cu["case_id"])
            rows["reference_id"].append(cu["missing_label"])
            rows["relatives"].append(describe_case(cu))
        elif mode == "duplicates":
            rows["case_id"].append("")
            rows["reference_id"].append(str(ref_key[i]))
            rows["relatives"].append("")
        else:
            rows["case_id"].append(block.case_ids[u])
            rows["reference_id"].append(block.unit_ids[u])
            rel = block.relations[u] if block.relations is not None else ""
            rows["relatives"].append(f"{block.unit_ids[u]} ({rel})" if rel else "")
        rows["log10_lr"].append(float(s[j]))
        rows["loci_compared"].append(int(nc[j]))
        rows["loci_inconsistent"].append(int(ni[j]))
        rows["per_locus_lr"].append(per_locus[j])
    table = pa.Table.from_pydict(rows, schema=HIT_SCHEMA)
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


def _count(keys) -> dict:
    if len(keys) == 0:
        return {}
    u, n = np.unique(np.asarray(keys, dtype=object).astype(str), return_counts=True)
    return {str(a): int(b) for a, b in zip(u, n)}


def _per_locus_json(grp, c: int, qg_row: np.ndarray) -> str:
    """``{locus: LR}`` over the loci both sides typed (JSON; an identity locus left
    out of the LR shows its LR 0)."""
    out = {}
    for l, locus in enumerate(grp.loci):
        g = int(qg_row[l])
        if g < 0 or not grp.typed[c, l]:
            continue
        out[locus] = float(grp.lr[c, grp.offsets[l] + g])
    return json.dumps(out, allow_nan=True)
