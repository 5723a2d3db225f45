"""Search mode ``y-lineage``: find the paternal relatives of query men in a database.

Pipeline of :func:`lineage_search`:

1. **Screen** (:func:`kinship.ystr.screen.iter_screen`): every database profile
   within ``max_mismatches`` mismatched slots and ``max_steps`` summed repeat
   steps of a query, on the slots both typed (at least ``min_loci_compared``).
   With ``"auto"`` thresholds (default) they are the smallest that keep a share
   ``recall_target`` (0.99) of relatives at every ``m`` in ``meioses`` under the
   shipped mutation rates (:func:`kinship.ystr.thresholds.auto_thresholds`); for
   Yfiler Plus that is 3 mismatches and 3 steps (see ``docs/ystr.md`` for the
   table and the simulation that checks it). An exact-match search (0, 0) would
   miss about 35% of paternal uncle-nephew pairs with Yfiler Plus.
2. **Evidence** (:mod:`kinship.ystr.lineage`): per candidate the numerator
   ``P(h_Q | h_C, m)`` for each ``m``, and the match probability of the query on
   the compared slots by the chosen estimator (:mod:`kinship.ystr.estimators`),
   counted in ``population`` (default: the database itself).
3. **Rank** by the prior-weighted LR ``sum_m pi(m) LR(m)`` (``prior``; equal
   weights over ``meioses`` when None), highest first; keep ``top_k`` per query
   when given.

Memory: the database may be a list of shards (or any sequence that loads shards
on access); with ``top_k`` only ``top_k`` candidates per query and slot set are
kept between shards, so memory does not grow with the database.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .estimators import HaplotypeCounts, get_estimator
from .haplotypes import YHaplotypes
from .lineage import normalise_prior, pair_numerators
from .screen import _as_shards, iter_screen
from .thresholds import auto_thresholds

__all__ = ["YLineageResults", "lineage_search", "MODE"]

MODE = "y-lineage"


@dataclass
class YLineageResults:
    """Candidates of a ``y-lineage`` search, ranked per query (columnar arrays).

    One entry per (query, candidate); entries are sorted by query, then rank.
    ``lr`` has one column per value of ``meioses``; ``lr_prior`` is the
    prior-weighted LR used for ranking.
    """

    query_index: np.ndarray
    database_index: np.ndarray
    query_id: np.ndarray
    database_id: np.ndarray
    rank: np.ndarray
    mismatches: np.ndarray
    steps: np.ndarray
    loci_compared: np.ndarray
    loci_inconsistent: np.ndarray
    match_probability: np.ndarray
    match_count: np.ndarray
    population_size: np.ndarray
    match_method: np.ndarray
    lr: np.ndarray
    lr_prior: np.ndarray
    meioses: tuple
    prior: np.ndarray
    estimator: str
    params: dict = field(default_factory=dict)

    mode = MODE

    def __len__(self) -> int:
        return int(self.query_index.shape[0])

    @property
    def log10_lr_prior(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log10(self.lr_prior)

    def lr_for(self, m: int) -> np.ndarray:
        """LR column for ``m`` meioses."""
        return self.lr[:, self.meioses.index(int(m))]

    def for_query(self, i: int) -> "YLineageResults":
        return self.take(np.flatnonzero(self.query_index == i))

    def take(self, idx) -> "YLineageResults":
        f = {k: getattr(self, k)[idx] for k in (
            "query_index", "database_index", "query_id", "database_id", "rank", "mismatches",
            "steps", "loci_compared", "loci_inconsistent", "match_probability", "match_count",
            "population_size", "match_method", "lr", "lr_prior")}
        return YLineageResults(**f, meioses=self.meioses, prior=self.prior, estimator=self.estimator,
                               params=self.params)

    def to_records(self) -> list[dict]:
        recs = []
        for i in range(len(self)):
            r = {
                "mode": MODE,
                "query_id": self.query_id[i], "database_id": self.database_id[i],
                "rank": int(self.rank[i]), "mismatches": int(self.mismatches[i]),
                "steps": int(self.steps[i]), "loci_compared": int(self.loci_compared[i]),
                "loci_inconsistent": int(self.loci_inconsistent[i]),
                "estimator": self.estimator, "match_method": self.match_method[i],
                "match_probability": float(self.match_probability[i]),
                "match_count": int(self.match_count[i]),
                "population_size": int(self.population_size[i]),
                "lr": float(self.lr_prior[i]),
            }
            for j, m in enumerate(self.meioses):
                r[f"lr_m{m}"] = float(self.lr[i, j])
            recs.append(r)
        return recs

    def to_arrow(self):
        """A ``pyarrow.Table`` (one row per candidate; parameters in the schema metadata)."""
        import pyarrow as pa

        n = len(self)
        cols = {
            "mode": pa.array([MODE] * n, pa.string()),
            "query_id": pa.array([str(x) for x in self.query_id], pa.string()),
            "database_id": pa.array([str(x) for x in self.database_id], pa.string()),
            "query_index": pa.array(self.query_index, pa.int64()),
            "database_index": pa.array(self.database_index, pa.int64()),
            "rank": pa.array(self.rank, pa.int32()),
            "mismatches": pa.array(self.mismatches, pa.int16()),
            "steps": pa.array(self.steps, pa.int16()),
            "loci_compared": pa.array(self.loci_compared, pa.int16()),
            "loci_inconsistent": pa.array(self.loci_inconsistent, pa.int16()),
            "estimator": pa.array([self.estimator] * n, pa.string()),
            "match_method": pa.array([str(x) for x in self.match_method], pa.string()),
            "match_probability": pa.array(self.match_probability, pa.float64()),
            "match_count": pa.array(self.match_count, pa.int64()),
            "population_size": pa.array(self.population_size, pa.int64()),
            "lr": pa.array(self.lr_prior, pa.float64()),
        }
        for j, m in enumerate(self.meioses):
            cols[f"lr_m{m}"] = pa.array(self.lr[:, j], pa.float64())
        meta = {"mode": MODE, "params": json.dumps(self.params, default=str)}
        return pa.table(cols).replace_schema_metadata(meta)


def _prune_top(keys_q, keys_mask, score, dbi, k):
    """Indices keeping the ``k`` best scores per (query, mask); ties by database index."""
    order = np.lexsort((dbi, -score, keys_mask, keys_q))
    q, mk = keys_q[order], keys_mask[order]
    new_group = np.ones(order.size, bool)
    new_group[1:] = (q[1:] != q[:-1]) | (mk[1:] != mk[:-1])
    start = np.maximum.accumulate(np.where(new_group, np.arange(order.size), 0))
    pos = np.arange(order.size) - start
    return order[pos < k]


def lineage_search(
    queries: YHaplotypes,
    database,
    *,
    max_mismatches="auto",
    max_steps="auto",
    recall_target: float = 0.99,
    meioses=range(1, 7),
    prior=None,
    rates=None,
    estimator="augmented_count",
    population=None,
    min_loci_compared: int = 1,
    top_k: int | None = None,
    **screen_kwargs,
) -> YLineageResults:
    """Search ``database`` for paternal relatives of each query (mode ``y-lineage``).

    ``database``/``population``: a :class:`YHaplotypes` or a sequence of shards
    on one panel. ``rates``: a :class:`~kinship.ystr.rates.YMutationRates`
    (default: the shipped yhrd.org/malan counts). ``estimator``: a name or an
    estimator object (:mod:`kinship.ystr.estimators`). Other keyword arguments go
    to :func:`~kinship.ystr.screen.iter_screen` (``n_threads``, ``block`` ...).
    """
    from .rates import YMutationRates

    shards = _as_shards(database)
    first = shards[0]
    panel = first.panel
    rates = rates or YMutationRates.load()
    mu = rates.slot_rates(panel)
    ms = tuple(int(m) for m in meioses)
    if not ms or min(ms) < 1:
        raise ValueError(f"meioses must be positive integers, got {ms}")
    w = normalise_prior(prior, ms)
    auto = None
    if max_mismatches == "auto" or max_steps == "auto":
        auto = auto_thresholds(mu, ms, recall_target)
    K = auto[0] if max_mismatches == "auto" else int(max_mismatches)
    T = auto[1] if max_steps == "auto" else int(max_steps)
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    est = get_estimator(estimator)
    q = queries.to_panel(panel, drop_typed=True)
    qcmp = q.comparison_values()
    qmask = q.typed_mask()

    keep = {k: [] for k in ("q", "r", "mm", "st", "nc", "inc", "mask", "num", "rid")}

    def _cat(name, dtype):
        return np.concatenate(keep[name]) if keep[name] else np.zeros(0, dtype)

    for offset, shard, hits in iter_screen(
        q, shards, max_mismatches=K, max_steps=T, min_loci_compared=min_loci_compared, **screen_kwargs
    ):
        if shard.panel.slots != panel.slots:
            raise ValueError("all database shards must share one panel")
        if not len(hits):
            continue
        local = hits.database_index - offset
        cr = shard.comparison_values()[local]
        num, incons = pair_numerators(qcmp[hits.query_index], cr, panel, mu, ms)
        mask = qmask[hits.query_index] & shard.typed_mask()[local]
        keep["q"].append(hits.query_index)
        keep["r"].append(hits.database_index)
        keep["mm"].append(hits.mismatches)
        keep["st"].append(hits.steps)
        keep["nc"].append(hits.loci_compared)
        keep["inc"].append(incons.astype(np.int16))
        keep["mask"].append(mask)
        keep["num"].append(num)
        keep["rid"].append(shard.profile_id[local])
        if top_k is not None:
            qq, mk, rr = _cat("q", np.int64), _cat("mask", np.uint64), _cat("r", np.int64)
            nn = np.concatenate(keep["num"])
            sel = _prune_top(qq, mk, nn @ w, rr, top_k)
            for k in keep:
                arr = np.concatenate(keep[k]) if k != "num" else nn
                keep[k] = [arr[sel]]

    qi, ri = _cat("q", np.int64), _cat("r", np.int64)
    n = qi.size
    num = np.concatenate(keep["num"]) if keep["num"] else np.zeros((0, len(ms)))
    mask = _cat("mask", np.uint64)
    if n:
        counts = HaplotypeCounts(population if population is not None else shards)
        pairs = np.stack([qi.astype(np.uint64), mask], axis=1)
        upairs, inv = np.unique(pairs, axis=0, return_inverse=True)
        inv = inv.ravel()
        mp = est.estimate(qcmp[upairs[:, 0].astype(np.int64)], upairs[:, 1], counts)
        mpv, mpx, mpn, mpm = mp.value[inv], mp.count[inv], mp.population_size[inv], mp.method[inv]
    else:
        mpv = np.zeros(0)
        mpx = mpn = np.zeros(0, np.int64)
        mpm = np.zeros(0, dtype=object)
    lr = num / mpv[:, None] if n else np.zeros((0, len(ms)))
    lrp = lr @ w
    order = np.lexsort((ri, -lrp, qi))
    qs = qi[order]
    first_of_q = np.ones(n, bool)
    first_of_q[1:] = qs[1:] != qs[:-1]
    start = np.maximum.accumulate(np.where(first_of_q, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    rank = (np.arange(n) - start + 1).astype(np.int32)
    if top_k is not None:
        sel = rank <= top_k
        order, rank = order[sel], rank[sel]
    params = dict(
        mode=MODE, max_mismatches=K, max_steps=T, thresholds="auto" if auto else "given",
        recall_target=recall_target if auto else None, meioses=list(ms), prior=w.tolist(),
        estimator=est.name, min_loci_compared=max(1, int(min_loci_compared)), top_k=top_k,
        panel=panel.name, slots=list(panel.compare_slots), rates_source=rates.source,
        population="database" if population is None else "given",
    )
    from .. import __version__ as _v

    params["software"] = f"strkin {_v}"
    rid = np.concatenate(keep["rid"]) if keep["rid"] else np.zeros(0, dtype=object)
    return YLineageResults(
        query_index=qi[order], database_index=ri[order], query_id=q.profile_id[qi[order]],
        database_id=rid[order], rank=rank,
        mismatches=_cat("mm", np.int16)[order], steps=_cat("st", np.int16)[order],
        loci_compared=_cat("nc", np.int16)[order], loci_inconsistent=_cat("inc", np.int16)[order],
        match_probability=mpv[order], match_count=mpx[order], population_size=mpn[order],
        match_method=mpm[order], lr=lr[order], lr_prior=lrp[order], meioses=ms, prior=w,
        estimator=est.name, params=params,
    )
