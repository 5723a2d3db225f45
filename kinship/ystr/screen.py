"""Mismatch-bounded screening of query haplotypes against a database.

:func:`screen` returns every (query, database profile) pair with at most
``max_mismatches`` mismatched slots and at most ``max_steps`` summed repeat
steps, compared on the slots both typed (at least ``min_loci_compared`` of them,
and at least one). Distances (see :func:`kinship.ystr.haplotypes.exact_distance`):

* a slot counts when both men typed it (null alleles count as typed);
* mismatch: the comparison values differ (DYS389II compared as II-I;
  multi-copy markers compared copy by copy in sorted order, which is the
  assignment of copies with the fewest summed steps);
* steps: ``|whole repeats difference|``, plus one when the decimals differ
  (``14.2`` vs ``15``: 1 step; ``14.2`` vs ``14``: 1), one for a null allele
  against a call.

The kernel works on uint8 codes that merge decimals ``.3`` and above; it can only
under-count, so the driver recounts every candidate from the exact values
(``exact=True``, default) and the result never depends on that packing.

Memory is bounded: the database is processed shard by shard (pass a list of
:class:`~kinship.ystr.haplotypes.YHaplotypes` shards, or any sequence that loads
them lazily), queries in tiles, and only hits are kept.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from .haplotypes import CODE_MISSING, YHaplotypes, exact_distance

__all__ = ["YScreenHits", "screen", "iter_screen", "slot_order"]


@dataclass
class YScreenHits:
    """Candidate pairs from :func:`screen` (one entry per pair, sorted by query then database index)."""

    query_index: np.ndarray      # int64, row in the query set
    database_index: np.ndarray   # int64, global row in the database (over all shards)
    mismatches: np.ndarray       # int16
    steps: np.ndarray            # int16
    loci_compared: np.ndarray    # int16 (slots compared)
    params: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.query_index.shape[0])

    @classmethod
    def empty(cls, params=None) -> "YScreenHits":
        z = np.zeros(0, np.int64)
        s = np.zeros(0, np.int16)
        return cls(z, z.copy(), s, s.copy(), s.copy(), dict(params or {}))

    @classmethod
    def concat(cls, parts: Sequence["YScreenHits"], params=None) -> "YScreenHits":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty(params)
        out = cls(
            np.concatenate([p.query_index for p in parts]),
            np.concatenate([p.database_index for p in parts]),
            np.concatenate([p.mismatches for p in parts]),
            np.concatenate([p.steps for p in parts]),
            np.concatenate([p.loci_compared for p in parts]),
            dict(params or parts[0].params),
        )
        order = np.lexsort((out.database_index, out.query_index))
        return out.take(order)

    def take(self, idx) -> "YScreenHits":
        return YScreenHits(
            self.query_index[idx], self.database_index[idx], self.mismatches[idx],
            self.steps[idx], self.loci_compared[idx], self.params,
        )


def slot_order(codes: np.ndarray, sample: int = 200_000) -> np.ndarray:
    """Slots ordered most-diverse first (lowest chance that two typed men agree).

    Estimated on up to ``sample`` evenly spaced rows. Only the kernel's speed
    depends on this order, never its result.
    """
    n, S = codes.shape
    if n == 0:
        return np.arange(S)
    step = max(1, n // sample)
    c = codes[::step]
    agree = np.ones(S)
    for s in range(S):
        v = c[:, s]
        v = v[v != CODE_MISSING]
        if v.size:
            f = np.bincount(v, minlength=256) / v.size
            agree[s] = float((f * f).sum())
    return np.argsort(agree, kind="stable")


def _drop_layouts(h: YHaplotypes, kind: str):
    # keep only the most recent layout of each kind: a database is screened with one order
    for k in [k for k in h._cache if isinstance(k, tuple) and k and k[0] == kind]:
        del h._cache[k]


def _blocks(h: YHaplotypes, order: np.ndarray, B: int):
    """Block layout: ``(n_blocks, S, B)`` uint8 codes, slot-major within a block, and
    ``(n_blocks, S)`` flags of blocks in which some profile lacks the slot."""
    key = ("blocks", tuple(int(i) for i in order), B)
    blk = h._cache.get(key)
    if blk is None:
        codes = h.screen_codes()[:, order]
        n, S = codes.shape
        nb = max(1, -(-n // B))
        pad = np.full((nb * B, S), CODE_MISSING, np.uint8)
        pad[:n] = codes
        blk = np.ascontiguousarray(pad.reshape(nb, B, S).transpose(0, 2, 1))
        blk = (blk, (blk == CODE_MISSING).any(axis=2))
        _drop_layouts(h, "blocks")
        h._cache[key] = blk
    return blk


def _as_shards(database) -> Sequence[YHaplotypes]:
    if isinstance(database, YHaplotypes):
        return [database]
    return database


def _check_thresholds(max_mismatches, max_steps, min_loci_compared):
    for name, v, hi in (("max_mismatches", max_mismatches, 64), ("max_steps", max_steps, 10**6),
                        ("min_loci_compared", min_loci_compared, 64)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 0 <= v <= hi:
            raise ValueError(f"{name} must be an integer in [0, {hi}], got {v!r}")


def iter_screen(
    queries: YHaplotypes,
    database,
    *,
    max_mismatches: int,
    max_steps: int,
    min_loci_compared: int = 1,
    order: np.ndarray | None = None,
    n_threads: int | None = None,
    query_tile: int = 256,
    block: int = 1024,
    prefix: int | None = None,
    check_every: int | None = None,
    exact: bool = True,
) -> Iterator[tuple[int, YHaplotypes, YScreenHits]]:
    """Screen shard by shard: yields ``(offset, shard, hits)`` with global database indices.

    ``queries`` are laid out on each shard's panel (slots the shard lacks are not
    compared). ``order``: slot order for the kernel (default: most diverse first,
    estimated on the first shard). ``block`` (profiles per block, a multiple of
    64), ``prefix`` and ``check_every`` (early-exit checkpoints, see
    :mod:`kinship.ystr._kernels`) tune speed only.
    """
    from . import _kernels

    _check_thresholds(max_mismatches, max_steps, min_loci_compared)
    if block <= 0 or block % 64:
        raise ValueError(f"block must be a positive multiple of 64, got {block}")
    min_c = max(1, int(min_loci_compared))
    if n_threads is None:
        env = os.environ.get("KINSHIP_NUM_THREADS")
        n_threads = int(env) if env else min(os.cpu_count() or 1, 8)
    offset = 0
    params = dict(max_mismatches=int(max_mismatches), max_steps=int(max_steps),
                  min_loci_compared=min_c)
    pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
    try:
        for shard in _as_shards(database):
            q = queries.to_panel(shard.panel, drop_typed=True)
            if order is None:
                order = slot_order(shard.screen_codes())
            order = np.asarray(order, dtype=np.int64)
            S = shard.n_slots
            if sorted(order.tolist()) != list(range(S)):
                raise ValueError(f"order must be a permutation of the {S} slots")
            qc = np.ascontiguousarray(q.screen_codes()[:, order])
            pre = prefix if prefix is not None else (S if S <= 12 else max(8, S // 3))
            every = check_every if check_every is not None else 4
            blk, blk_missing = _blocks(shard, order, block)
            tiles = [(t0, min(len(q), t0 + query_tile)) for t0 in range(0, len(q), query_tile)]

            def run(t, n_refs=len(shard), pre=pre, every=every):
                t0, t1 = t
                nq = t1 - t0
                cap = 1024
                while True:
                    bufs = (np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int16),
                            np.empty(cap, np.int32), np.empty(cap, np.int16))
                    pad = -(-nq // 4) * 4
                    qt = np.full((pad, S), CODE_MISSING, np.uint8)
                    qt[:nq] = qc[t0:t1]
                    n = _kernels.screen_tile(qt, nq, blk, blk_missing, n_refs, int(max_mismatches),
                                             int(max_steps), min_c, int(pre), int(every), *bufs)
                    if n <= cap:
                        break
                    cap = int(n)
                qi, ri, mm, st, nc = (b[:n] for b in bufs)
                return YScreenHits(qi + t0, ri, mm.astype(np.int16), st.astype(np.int16),
                                   nc, params)

            parts = list(pool.map(run, tiles)) if pool is not None else [run(t) for t in tiles]
            hits = YScreenHits.concat(parts, params)
            if exact and len(hits):
                mm, st, nc = exact_distance(
                    q.comparison_values()[hits.query_index], shard.comparison_values()[hits.database_index]
                )
                keep = (mm <= max_mismatches) & (st <= max_steps) & (nc >= min_c)
                hits = YScreenHits(hits.query_index[keep], hits.database_index[keep],
                                   mm[keep].astype(np.int16), st[keep].astype(np.int16),
                                   nc[keep].astype(np.int16), params)
            hits.database_index = hits.database_index + offset
            yield offset, shard, hits
            offset += len(shard)
    finally:
        if pool is not None:
            pool.shutdown()


def screen(queries: YHaplotypes, database, **kwargs) -> YScreenHits:
    """All pairs within the thresholds (see the module docstring and :func:`iter_screen`).

    >>> from kinship.ystr import YHaplotypes
    >>> db = YHaplotypes.from_records(
    ...     [{"sample": "a", "DYS19": 14, "DYS390": 23}, {"sample": "b", "DYS19": 15, "DYS390": 21}])
    >>> hits = screen(db[:1], db, max_mismatches=1, max_steps=1)
    >>> hits.database_index.tolist(), hits.mismatches.tolist()
    ([0], [0])
    """
    parts = [h for _, _, h in iter_screen(queries, database, **kwargs)]
    return YScreenHits.concat(parts, parts[0].params if parts else None)
