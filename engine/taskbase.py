"""What every task kind shares: a task, the run's settings every task reads, a
task's result, the work units the progress bar counts, the ranking order of hits,
and the columns a task writes.

A run (:mod:`engine.api`) cuts its work into tasks, one block of reference units
x one chunk of queries each; a task has a *kind*: ``"score"`` (the pairs of a
block and a chunk: :mod:`engine.score` for the autosomal modes,
:func:`engine.ylineage.run_y_task` for y-lineage) or ``"chance"`` (the chance-hit
exceedance of a block's units: :func:`engine.chance.run_chance_task`).
:func:`engine.task.run_task` dispatches a task to its kind.  The kinds import
this module, never the dispatcher or each other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

__all__ = ["TaskContext", "Task", "TaskResult", "HIT_SCHEMA", "Y_FIELDS", "COMBINED_FIELDS",
           "TASK_SCHEMA", "topk_mask", "count_keys", "work_of", "compile_work", "chance_work",
           "PAIR_WORK", "COMPILE_WORK", "CHANCE_WORK"]

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


def compile_work(mode: str) -> int:
    """Work units of compiling one reference unit's tables in ``mode``."""
    return COMPILE_WORK.get(mode, _COMPILE_DEFAULT)


def chance_work(mode: str) -> int:
    """Work units of one unit's chance-hit exceedance in ``mode``."""
    return CHANCE_WORK.get(mode, _CHANCE_DEFAULT)


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


# -- the columns a task writes ----------------------------------------------------------
#: the columns of an autosomal hit, as a task writes it
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

#: Y columns of every task output (null for autosomal rows)
Y_FIELDS = [
    pa.field("y_mismatches", pa.int32(), nullable=True),
    pa.field("y_steps", pa.int32(), nullable=True),
    pa.field("y_estimator", pa.string(), nullable=True),
    pa.field("y_match_probability", pa.float64(), nullable=True),
    pa.field("y_match_count", pa.int64(), nullable=True),
    pa.field("y_population_size", pa.int64(), nullable=True),
    pa.field("y_lr_per_m", pa.string(), nullable=True),
    pa.field("y_differences", pa.string(), nullable=True),
]
#: filled in after the merge (:func:`engine.ylineage.combine`)
COMBINED_FIELDS = [
    pa.field("combined_log10_lr", pa.float64(), nullable=True),
    pa.field("combined_with", pa.string(), nullable=True),
]
#: what a task writes: the columns of every mode, then the y-lineage ones (null elsewhere)
TASK_SCHEMA = pa.schema(list(HIT_SCHEMA) + Y_FIELDS)


@dataclass
class TaskContext:
    """Settings shared by every task of a run (small and picklable)."""

    model: object               # engine.model.ModelSpec
    threshold: float
    top_k: int
    case_top_k: int
    max_inconsistent: int
    line: str = "paternal"
    #: queries per kernel call: each call costs ~0.1 ms of Python and NumPy around the
    #: kernel (argument checks, thresholds, output arrays, the hits' sort), 2,048 a call
    #: spent about a third of a parent-child search there (1e6 x 1e4, 23 loci); 65,536
    #: a call (a whole chunk of the default 262,144 in four calls) is 4-8 % faster than
    #: 16,384 against a block of 256 parent-child references (the kernel keeps no per-call
    #: arrays of the queries)
    tile: int = 65536
    chance: object = None       # engine.chance.ChanceSpec, or None (no chance hits)
    y: object = None            # engine.ylineage.YContext (mode y-lineage), or None
    device: str = "cpu"         # "gpu": screen on a CUDA device (engine.kernels.score_tile)
    #: a pair compared on fewer loci is not reported (search.min_loci)
    min_loci: int = 1
    #: per mode, pairs never scored as relatives (a query that is also a reference):
    #: keys ``"query_id\x1f<reference id, or case id in case mode>"``
    exclude: dict = None
    #: the sexes whose pair tables reference persons' blocks point into under a
    #: sex-dependent mutation model (:func:`engine.compile.table_sexes` of the run's
    #: references); None: both
    ref_sexes: tuple = None


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


def count_keys(keys) -> dict:
    """How many times each key occurs (``{str(key): n}``, keys sorted)."""
    if len(keys) == 0:
        return {}
    u, n = np.unique(np.asarray(keys, dtype=object).astype(str), return_counts=True)
    return {str(a): int(b) for a, b in zip(u, n)}
