"""Chance hits in every run: how many unrelated pairs a search of this size
expects at each LR, computed from the compiled tables (:mod:`kinship.chance`).

For a mode with reference units ``u`` (cases, reference persons, or the queries
themselves in ``duplicates`` mode) and the queries compared with them, the
expected number of unrelated pairs with ``LR >= t`` is

    E(t) = sum over units u of  w_u  P_H2(LR_u >= t),

``P_H2(LR_u >= t)`` the exceedance of the unit's compiled table for a candidate
drawn from the population (:func:`kinship.chance.exceedance`: exact convolution
over loci with a certified bracket) and ``w_u`` the number of queries compared
with the unit: every query; for a case compiled per sex of the missing person,
the queries of that sex (one table per sex); in ``duplicates`` mode, where each
unordered pair of queries is compared once, ``(n - 1) / 2`` per query (each
pair's two directions averaged).  The number of comparisons is ``sum_u w_u``.

Identity and duplicates leave up to ``search.max_inconsistent`` loci out of the
LR; their exceedance counts that (``max_inconsistent`` of
:func:`kinship.chance.exceedance`).

Which units are computed
------------------------
Every unit when a mode has at most ``report.chance_units`` of them (then the
expectation is exact and ``lower``/``upper`` are the certified bracket).
Otherwise a simple random sample of ``chance_units`` units, chosen
deterministically: the units whose hash of ``(kind, id)`` is smallest (bottom-k
sampling), so the sample depends only on the set of units -- not on blocks,
threads, the executor, resumption or the order of arrival -- and is a uniform
random subset.  The estimate is ``N/m sum_sample y_u`` with
``y_u = sum over the unit's tables of w P``; its standard error is the
finite-population one, ``N sqrt((1 - m/N) s^2 / m)`` with ``s^2`` the sample
variance of ``y_u``; ``lower``/``upper`` are the scaled-up bracket sums minus /
plus 4 standard errors.

Thresholds
----------
Each unit is evaluated once at a fixed grid, ``10^(k/20)`` (20 points per factor
of 10) from the smallest of the job threshold and ``report.chance_thresholds``
up to ``10^100``, plus those thresholds exactly.  The summary reads the
thresholds; each hit's ``expected_chance_hits`` is read at the largest grid
point not above its LR (within ``1e-9`` in log10), so it can only overstate, by
at most the decline of the expectation over a factor ``10^0.05`` (12%) of LR.

Determinism, resume, incremental
--------------------------------
Per-unit values are computed in tasks of their own (``kind="chance"``) through
the same executor and checkpoints as the scoring tasks, and kept in the run
state (``_state/chance.parquet``, with each unit's fingerprint).  An incremental
run reuses the values of unchanged sampled units and computes the rest, so the
numbers equal those of a full run; they are summed in a fixed order (units by
id), so the outputs are byte-identical.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .job import Y_MODE
from .taskbase import TaskResult, chance_work, compile_work

__all__ = ["ChanceSpec", "make_spec", "ModeChance", "sample_mask", "run_chance_task",
           "group_label", "query_dropout_tag", "chance_fp",
           "aggregate", "annotate", "mode_chances", "CHANCE_SCHEMA", "rows_from_table", "GRID_PER_DECADE"]

GRID_PER_DECADE = 20
GRID_TOP = 100.0

CHANCE_SCHEMA = pa.schema([
    pa.field("mode", pa.string(), nullable=False),
    pa.field("unit", pa.string(), nullable=False),
    pa.field("group", pa.string(), nullable=False),      # "" every query; "M"/"F": queries of that sex
    pa.field("estimate", pa.list_(pa.float64()), nullable=False),
    pa.field("lower", pa.list_(pa.float64()), nullable=False),
    pa.field("upper", pa.list_(pa.float64()), nullable=False),
    pa.field("mean_lr", pa.float64(), nullable=False),
    pa.field("error", pa.string(), nullable=False),
])


@dataclass(frozen=True)
class ChanceSpec:
    """The chance-hit settings of a run (part of the task context)."""

    method: str
    resolution: float
    units: int
    population: str
    thresholds: tuple           # every threshold computed per unit (sorted)
    summary: tuple              # thresholds shown in the summary (sorted)

    def key(self) -> dict:
        return {"method": self.method, "resolution": self.resolution, "units": self.units,
                "population": self.population, "n_thresholds": len(self.thresholds),
                "first": self.thresholds[0], "summary": list(self.summary)}


def make_spec(search: dict, report: dict) -> ChanceSpec | None:
    """The run's :class:`ChanceSpec` from the job's ``search`` and ``report``
    sections (None when ``report.chance_method = "none"``)."""
    if report["chance_method"] == "none":
        return None
    summary = sorted({float(search["threshold"])} | {float(t) for t in report["chance_thresholds"]})
    lo = math.floor(GRID_PER_DECADE * math.log10(summary[0]))
    top = int(GRID_TOP * GRID_PER_DECADE)
    grid = {10.0 ** (k / GRID_PER_DECADE) for k in range(lo, top + 1)}
    thresholds = tuple(sorted(grid | set(summary)))
    return ChanceSpec(report["chance_method"], float(report["chance_resolution"]),
                      int(report["chance_units"]), report["chance_population"], thresholds,
                      tuple(summary))


def _unit_hash(kind: str, uid: str) -> bytes:
    return hashlib.blake2b(f"{kind}\x1f{uid}".encode(), digest_size=8).digest()


def sample_mask(kind: str, ids, m: int) -> np.ndarray:
    """The units whose values are computed: all of them if at most ``m``, else
    the ``m`` with the smallest hash of ``(kind, id)`` (a uniform random subset
    that depends only on the set of ids)."""
    n = len(ids)
    mask = np.zeros(n, dtype=bool)
    if n <= m:
        mask[:] = True
        return mask
    keys = sorted((_unit_hash(kind, str(u)), str(u), i) for i, u in enumerate(ids))
    mask[[k[2] for k in keys[:m]]] = True
    return mask


# -- per-unit exceedance (in a task) -----------------------------------------------
_PG_CACHE: dict = {}


def group_label(sex_group: str, query_dropout: float) -> str:
    """The ``group`` of a unit's chance row: the queries' sex group (``""``, ``"M"``,
    ``"F"``) and, where it is not 0, their dropout probability (queries of another
    dropout are compared with other tables: ``docs/dropout.md``)."""
    return sex_group if not query_dropout else f"{sex_group}|d={float(query_dropout)!r}"


def query_dropout_tag(queries) -> str:
    """The distinct dropout probabilities of the queries, as text ("" when all are 0)."""
    d = np.asarray(getattr(queries, "dropout", None) if queries is not None else None,
                   dtype=np.float64) if getattr(queries, "dropout", None) is not None else np.zeros(0)
    vals = np.unique(d).tolist()
    return "" if not any(vals) else ",".join(repr(v) for v in vals)


def chance_fp(fp, tag: str) -> bytes:
    """A unit's fingerprint for its chance values: its own, and the queries' dropout
    values when there are any (its tables per query dropout depend on them)."""
    if not tag:
        return bytes(fp)
    return hashlib.blake2b(bytes(fp) + b"\x1f" + tag.encode(), digest_size=16).digest()


def run_chance_task(ctx, task, queries, progress=None):
    """Exceedance of every table of the block's units: a TaskResult whose table
    has :data:`CHANCE_SCHEMA` rows (one per unit and query-sex group).
    ``progress(work)``: called after the compilation and after each unit's values
    (work units of :func:`engine.taskbase.work_of`)."""
    from kinship.chance import exceedance
    from kinship.search import CaseTables

    from .compile import cached_block
    from .model import get_model

    spec = ctx.chance
    mode = task.mode
    block = task.block
    # the block's tables for each dropout of the queries (one set without dropout)
    qd = getattr(queries, "dropout", None)
    dvals = np.unique(np.asarray(qd, dtype=np.float64)).tolist() if qd is not None and len(qd) else [0.0]
    dc = float(getattr(ctx.model, "dropin", 0.0))
    groups = [(d, grp) for d in dvals for grp in cached_block(ctx, mode, block, queries, d).groups]
    if progress is not None and task.compiles:
        progress(compile_work(mode) * len(block))
    # a unit in two query-sex groups is computed twice: the block's work spread over both
    n_entries = sum(len(g.units) for _, g in groups) or 1
    per_entry = chance_work(mode) * len(block) // n_entries
    model = get_model(ctx.model)
    skip = ctx.max_inconsistent if mode in ("identity", "duplicates") else 0
    th = np.asarray(spec.thresholds)
    rows = {k: [] for k in CHANCE_SCHEMA.names}
    for d, grp in groups:
        ids = [block.unit_ids[int(u)] for u in grp.units]
        tabs = CaseTables(ids, grp.lr, grp.incons, grp.typed, grp.offsets, grp.loci, mode)
        # the population law of the candidate's *observed* genotype under H2 (with
        # the queries' dropout and drop-in: docs/dropout.md)
        kw = dict(dropout=d, dropin=dc) if (d or dc) else {}
        for c in range(len(ids)):
            err = ""
            try:
                e = exceedance(tabs, c, th, model=model, method="exact", h2=spec.population,
                               resolution=spec.resolution, max_inconsistent=int(skip), **kw)
                est, lo, hi, mlr = e.estimate, e.lower, e.upper, e.mean_lr
            except ValueError as ex:  # a table that is not a finite LR where P > 0
                err = str(ex)
                est = lo = hi = np.zeros(0)
                mlr = float("nan")
            nz = np.nonzero(hi > 0)[0]
            n = int(nz[-1]) + 1 if len(nz) else 0
            rows["mode"].append(mode)
            rows["unit"].append(ids[c])
            rows["group"].append(group_label(grp.sex or "", d))
            rows["estimate"].append(est[:n].tolist())
            rows["lower"].append(lo[:n].tolist())
            rows["upper"].append(hi[:n].tolist())
            rows["mean_lr"].append(float(mlr))
            rows["error"].append(err)
            if progress is not None:
                progress(per_entry)
    table = pa.Table.from_pydict(rows, schema=CHANCE_SCHEMA)
    return TaskResult(task.key, mode, table, {}, {}, {"units": len(rows["unit"])})


def rows_from_table(t: pa.Table) -> dict:
    """``{(mode, unit): [(group, estimate, lower, upper, mean_lr, error), ...]}``."""
    out: dict = {}
    cols = [t.column(c).to_pylist() for c in CHANCE_SCHEMA.names]
    for mode, unit, group, est, lo, hi, mlr, err in zip(*cols):
        out.setdefault((mode, unit), []).append((group, est, lo, hi, mlr, err))
    return out


def rows_to_table(rows: dict, fps: dict) -> pa.Table:
    """The run-state table: :data:`CHANCE_SCHEMA` plus each unit's fingerprint."""
    cols = {k: [] for k in CHANCE_SCHEMA.names}
    fp_col = []
    for (mode, unit) in sorted(rows):
        for group, est, lo, hi, mlr, err in sorted(rows[(mode, unit)], key=lambda r: r[0]):
            for k, v in zip(CHANCE_SCHEMA.names, (mode, unit, group, est, lo, hi, mlr, err)):
                cols[k].append(v)
            fp_col.append(bytes(fps[(mode, unit)]))
    t = pa.Table.from_pydict(cols, schema=CHANCE_SCHEMA)
    return t.append_column(pa.field("fp", pa.binary(), nullable=False), pa.array(fp_col, pa.binary()))


# -- the mode's expectation ----------------------------------------------------------
@dataclass
class ModeChance:
    """Expected chance hits of one mode at every computed threshold."""

    mode: str
    thresholds: np.ndarray
    expected: np.ndarray
    stderr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_comparisons: float
    comparisons: str            # how they were counted, in words
    n_units: int
    units_used: int
    unit_word: str
    summary_thresholds: tuple
    spec: ChanceSpec
    mean_lr: float
    max_inconsistent: int = 0
    errors: list = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.units_used == self.n_units

    def at_many(self, log10_lr) -> np.ndarray:
        """Expected chance hits with LR at least the largest computed threshold not
        above ``10^log10_lr`` (within 1e-9 in log10): an overstatement by
        construction; nan below the smallest threshold."""
        x = np.asarray(log10_lr, dtype=float)
        lt = np.log10(self.thresholds)
        k = np.searchsorted(lt, x + 1e-9, side="right") - 1
        mono = np.minimum.accumulate(self.expected)  # never more at a larger threshold
        out = mono[np.clip(k, 0, len(mono) - 1)]
        return np.where((k < 0) | np.isnan(x), np.nan, out)

    def at(self, log10_lr: float) -> float:
        return float(self.at_many([log10_lr])[0])

    def rows(self) -> list:
        out = []
        for t in self.summary_thresholds:
            k = int(np.searchsorted(self.thresholds, t))
            out.append({"threshold": float(t), "expected": float(self.expected[k]),
                        "stderr": float(self.stderr[k]), "lower": float(self.lower[k]),
                        "upper": float(self.upper[k]),
                        "per_comparison": float(self.expected[k]) / max(1.0, self.n_comparisons)})
        return out

    def sentence(self, log10_lr: float) -> str:
        from kinship.chance import format_lr

        e = self.at(log10_lr)
        lr = 10.0 ** log10_lr if log10_lr < 308 else float("inf")
        return (f"LR {format_lr(lr)}; about {fmt_count(e)} chance hits of this size expected in "
                f"this search ({format_lr(float(self.n_comparisons))} comparisons)")

    def to_dict(self) -> dict:
        return {
            "method": self.spec.method, "population": self.spec.population,
            "resolution": self.spec.resolution, "grid_points_per_decade": GRID_PER_DECADE,
            "comparisons": self.n_comparisons, "comparisons_counted": self.comparisons,
            "units": self.n_units, "units_used": self.units_used,
            "sample": "all units" if self.exact else
            f"deterministic random subset of {self.units_used} of {self.n_units} units",
            "bracket": "certified" if self.exact else "estimate +/- 4 standard errors",
            "max_inconsistent": self.max_inconsistent,
            "mean_lr": self.mean_lr, "thresholds": self.rows(),
            "errors": list(self.errors),
        }


def fmt_count(x: float) -> str:
    """:func:`kinship.chance._fmt_count`, with ``"n/a"`` for NaN."""
    from kinship.chance import _fmt_count

    return "n/a" if x != x else _fmt_count(x)


def _pad(v, n):
    a = np.zeros(n)
    a[:len(v)] = v
    return a


def aggregate(spec: ChanceSpec, mode: str, unit_ids, sample: np.ndarray, rows: dict,
              weights: dict, n_comparisons: float, comparisons: str, unit_word: str,
              max_inconsistent: int = 0) -> ModeChance:
    """Expected chance hits of ``mode`` from the per-unit rows of the sampled units.

    ``rows``: ``{unit id: [(group, estimate, lower, upper, mean_lr, error), ...]}``
    for every sampled unit; ``weights``: ``{group: queries compared}``."""
    T = len(spec.thresholds)
    N = len(unit_ids)
    used = sorted(str(u) for u, s in zip(unit_ids, sample) if s)
    m = len(used)
    Y, YL, YU = (np.zeros((m, T)) for _ in range(3))
    mlr = []
    errors = []
    for i, u in enumerate(used):
        for group, est, lo, hi, mean_lr, err in sorted(rows[u], key=lambda r: r[0]):
            if err:
                errors.append(f"{u}: {err}")
                continue
            w = float(weights.get(group, 0.0))
            Y[i] += w * _pad(est, T)
            YL[i] += w * _pad(lo, T)
            YU[i] += w * _pad(hi, T)
            mlr.append(mean_lr)
    if m == 0:
        z = np.zeros(T)
        exp, se, lower, upper = z, z, z, z
    elif m == N:
        exp, se = Y.sum(axis=0), np.zeros(T)
        lower, upper = YL.sum(axis=0), YU.sum(axis=0)
    else:
        f = N / m
        exp = f * Y.sum(axis=0)
        var = Y.var(axis=0, ddof=1) if m > 1 else np.zeros(T)
        se = N * np.sqrt((1.0 - m / N) * var / m)
        lower = np.maximum(0.0, f * YL.sum(axis=0) - 4 * se)
        upper = f * YU.sum(axis=0) + 4 * se
    return ModeChance(mode, np.asarray(spec.thresholds), exp, se, lower, upper, float(n_comparisons),
                      comparisons, N, m, unit_word, spec.summary, spec,
                      float(np.mean(mlr)) if mlr else float("nan"), int(max_inconsistent), errors)


def annotate(hits: pa.Table, chance: dict) -> pa.Table:
    """``hits`` with the ``expected_chance_hits`` column filled in from ``chance``
    (``{mode: ModeChance or None}``; null where a mode has none)."""
    if hits.num_rows == 0:
        return hits
    modes = np.asarray(hits.column("mode").to_numpy(zero_copy_only=False)).astype(str)
    lr = hits.column("log10_lr").to_numpy()
    vals = np.full(len(lr), np.nan)
    for m, ch in chance.items():
        if ch is None or ch.errors:
            continue
        sel = modes == m
        if sel.any():
            vals[sel] = ch.at_many(lr[sel])
    i = hits.schema.get_field_index("expected_chance_hits")
    return hits.set_column(i, hits.schema.field(i),
                           pa.array(vals, pa.float64(), mask=np.isnan(vals)))


def mode_chances(cspec, plans, units, sampled, chance_rows, queries, cases, spec, search, notes,
                 qd_tag=""):
    """Each mode's expected chance hits (:func:`engine.chance.aggregate`) and the
    state table of the per-unit values.  Queries of different dropout are compared
    with different tables: each (sex group, query dropout) group of a unit has its
    own exceedance (:func:`engine.chance.group_label`), weighted by its queries."""
    nq = len(queries)
    qd = np.asarray(queries.dropout, dtype=np.float64)
    dvals = np.unique(qd).tolist() or [0.0]
    sex = np.asarray(queries.sex, dtype=object)
    out, keep, fps = {}, {}, {}
    for p in plans:
        if p.mode == Y_MODE:
            continue
        kind, r_ids, r_fp = units[p.mode]
        N = len(r_ids)
        rows = {}
        for i in np.nonzero(sampled[p.mode])[0]:
            u = str(r_ids[i])
            rows[u] = chance_rows[(p.mode, u)]
            keep[(p.mode, u)] = rows[u]
            fps[(p.mode, u)] = chance_fp(r_fp[i], qd_tag)
        n_m = int(np.count_nonzero(sex == "M"))
        n_f = int(np.count_nonzero(sex == "F"))
        weights = {}
        for d in dvals:
            at = qd == d
            n_d = int(at.sum())
            if p.mode == "case":
                weights[group_label("", d)] = n_d
                weights[group_label("M", d)] = int(np.count_nonzero(at & (sex == "M")))
                weights[group_label("F", d)] = int(np.count_nonzero(at & (sex == "F")))
            elif p.mode == "duplicates":
                # each unordered pair once: (n - 1) / 2 per query, spread over the
                # queries' dropout groups in proportion
                weights[group_label("", d)] = ((nq - 1) / 2.0 if n_d == nq else
                                               (nq - 1) / 2.0 * n_d / nq)
            else:
                weights[group_label("", d)] = n_d
        if p.mode == "case":
            split = cases.needs_sex & spec.sex_dependent
            n_split = int(split.sum())
            ncomp = nq * (N - n_split) + (n_m + n_f) * n_split
            words = f"{nq} queries x {N} cases"
            if n_split:
                words += (f" ({n_split} cases with a 'child' reference compared with the "
                          f"{n_m + n_f} queries of known sex)")
            unit_word = "cases"
        elif p.mode == "duplicates":
            ncomp = nq * (nq - 1) / 2.0
            words = f"each of the {nq * (nq - 1) // 2} pairs of {nq} queries once"
            unit_word = "queries"
        else:
            ncomp = nq * N
            words = f"{nq} queries x {N} reference persons"
            unit_word = "reference persons"
        skip = search["max_inconsistent"] if p.mode in ("identity", "duplicates") else 0
        ch = aggregate(cspec, p.mode, r_ids, sampled[p.mode], rows, weights, ncomp, words,
                       unit_word, skip)
        if ch.errors:
            notes.append(f"{p.mode}: chance hits not computed: {len(ch.errors)} tables are not "
                         f"finite likelihood ratios where the population has mass (first: "
                         f"{ch.errors[0][:200]})")
        out[p.mode] = ch
    return out, rows_to_table(keep, fps)
