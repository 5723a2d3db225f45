"""Scoring: one tile of queries against one block of compiled tables.

The LR of a pair is ``prod_l T[c, l, g_q,l]``; the engine works with
``log_tab = log10 T`` (``-inf`` for an exclusion) and adds one value per locus
that both the query and the case typed.  The kernels read a table group in the
form ``vals[base[c, l] + j]`` (:class:`engine.compile.TableGroup`): a reference
person's values in place in the model's flat pair tables, a case's in its own
table.

The work is done by the project's one scoring kernel,
:func:`kinship.kernels.score.score_rows`: two exact integer upper-bound
screens over the block's packed tables (first 64 cases per 64-byte row in
saturating 8-bit fields, then, for the 32-case halves with a case left, 32
cases per row in 16-bit fields), then the exact float64 score, loci ``0 .. L-1``, of every pair
that passes both.  The screen only removes pairs whose LR provably cannot
reach the threshold, and the reported value is the exact score, so a screened
scan returns exactly the pairs and values of an exhaustive one (the same
operations as :func:`scores_numpy`; tested in
``tests/engine/test_engine_screening.py``).  See :mod:`kinship.kernels.score`
for the bound and why it is exact.

Identity (``max_skip > 0``): loci where the genotypes are inconsistent are left
out of the LR and reported in ``loci_inconsistent``; a pair with more than
``max_skip`` of them is excluded.

The kernel is serial and releases the GIL (``nogil``); the engine runs one task
per thread.  It is compiled on first use (numba, on-disk cache): importing
:mod:`engine` compiles nothing.
"""
from __future__ import annotations


import numpy as np

__all__ = ["packed_group", "score_tile", "scores_numpy", "warm_up"]


def warm_up():
    """Load the scoring kernels in a background thread (returned, started).

    numba's first call in a process costs about a second (its compiler and
    target set-up, then loading the cached machine code), whatever the kernel.
    :func:`engine.run` starts this while it reads the inputs, so the search does
    not wait for it.  It scores a tiny table of the engine's own types through
    :func:`score_tile` (so the same compiled versions are loaded); any failure is
    left for the real call to report."""
    from .compile import in_background

    return in_background("strkin-warm-up", _warm)


def _warm():
    from kinship.kernels.score import query_columns
    from kinship.search import CaseTables

    from .compile import _group

    L, S = 2, 6
    lr = np.ones((1, 2 * S))
    tab = _group(None, [0], CaseTables(["w"], lr, np.zeros(lr.shape, np.uint8), np.ones((1, L), np.uint8),
                                       np.array([0, S]), ("a", "b"), "identity"))
    qcol = query_columns(np.zeros((1, L), np.int16), tab.offsets)
    for skip in (0, 1):
        score_tile(tab, qcol, np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64),
                   False, 0.0, skip, np.zeros(1, np.int64))


def packed_group(tab, max_skip: int):
    """The packed screening tables of a table group (built once per group and
    identity/non-identity use, kept on the group)."""
    from kinship.kernels.score import pack_rows

    key = max_skip > 0
    cache = tab.packed
    if key not in cache:
        cache[key] = pack_rows(tab.vals, tab.inc, tab.base, tab.typed, tab.offsets, tab.width, key,
                               *tab.extremes(key))
    return cache[key]


def score_tile(tab, qcol: np.ndarray, q_ids: np.ndarray, q_rank: np.ndarray, c_rank: np.ndarray,
               canonical: bool, log_t: float, max_skip: int, stats: np.ndarray, cap: int = 4096,
               device: str = "cpu"):
    """Pairs of (a tile of queries x every case of ``tab``) with exact log10 LR >= ``log_t``.

    ``tab``: a compiled table group (:class:`engine.compile.TableGroup`: ``vals``,
    ``inc``, ``base``, ``typed``, ``offsets``, ``packed``).  The tile's queries: ``qcol`` their table columns
    (:func:`kinship.kernels.score.query_columns` with ``tab.offsets``), ``q_ids``
    what to report for each, ``q_rank`` their ranks.  ``canonical``: only pairs
    with ``q_rank[q] > c_rank[c]`` (duplicates mode scores each unordered pair
    once).  ``stats[0]`` is increased by the table values read (packed rows and
    exact lookups).  Returns arrays ``(q_id, c, log10_lr, loci_compared,
    loci_inconsistent)``.  ``device="gpu"``: the screen runs on a CUDA device
    (:mod:`kinship.kernels.gpu`), the exact scores here; the same pairs, values
    and order.
    """
    from kinship._numba import call_slp
    from kinship.kernels.score import score_rows

    pk = packed_group(tab, max_skip)
    thr = pk.thresholds(float(log_t))
    thr8 = pk.thresholds8(float(log_t), int(max_skip))
    q_ids = np.asarray(q_ids, dtype=np.int64)
    qcol = np.ascontiguousarray(qcol)
    q_rank = np.ascontiguousarray(q_rank, dtype=np.int64)
    if device == "gpu":
        return _score_tile_gpu(tab, pk, qcol, q_ids, q_rank, c_rank, canonical, log_t, max_skip,
                               stats, cap)
    st = np.zeros(2, dtype=np.int64)
    while True:
        out_q = np.empty(cap, dtype=np.int64)
        out_c = np.empty(cap, dtype=np.int64)
        out_s = np.empty(cap, dtype=np.float64)
        out_nc = np.empty(cap, dtype=np.int32)
        out_ni = np.empty(cap, dtype=np.int32)
        st[:] = 0
        # this call's own copy of the first pass's switches: a tile switched off here is
        # switched off for this call only, so what a call reads (the manifest's
        # locus_lookups) does not depend on which calls of other threads ran first
        use8 = pk.use8.copy()
        n = call_slp(score_rows, pk.rows, pk.lo, pk.exact, thr, pk.rows8, thr8, use8, tab.vals,
                     tab.inc, tab.base, tab.typed, qcol, q_rank, c_rank, bool(canonical), float(log_t),
                     int(max_skip), pk.skip,
                     out_q, out_c, out_s, out_nc, out_ni, st)
        if n <= cap:
            stats[0] += st[0]
            # one order whichever passes ran: 32-case tile, query, case
            o = np.lexsort((out_c[:n], out_q[:n], out_c[:n] // 32))
            return q_ids[out_q[:n][o]], out_c[:n][o], out_s[:n][o], out_nc[:n][o], out_ni[:n][o]
        cap = int(n)


def _score_tile_gpu(tab, pk, qcol, q_ids, q_rank_tile, c_rank, canonical, log_t, max_skip, stats, cap):
    from kinship.kernels.gpu import screen_candidates
    from kinship.kernels.score import score_candidates

    cq, ct, cm = screen_candidates(pk, qcol, float(log_t), int(max_skip))
    order = np.lexsort((cq, ct))           # the CPU path's order: 32-case tile, query (then case)
    cq, ct, cm = cq[order], ct[order], cm[order]
    stats[0] += len(cq) * qcol.shape[1]    # rows read on the device are not counted here
    while True:
        out = [np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.float64),
               np.empty(cap, np.int32), np.empty(cap, np.int32)]
        n = score_candidates(tab.vals, tab.inc, tab.base, tab.typed, qcol, cq, ct, cm, q_rank_tile, c_rank,
                             bool(canonical), float(log_t), int(max_skip), *out)
        if n <= cap:
            q, c, s, nc, ni = (a[:n] for a in out)
            return q_ids[q], c, s, nc, ni
        cap = int(n)


def scores_numpy(log_tab: np.ndarray, incons: np.ndarray, typed: np.ndarray, offsets: np.ndarray,
                 qg: np.ndarray, max_skip: int = 0) -> np.ndarray:
    """Exhaustive log10 LR of every (query, case) pair, ``[Q, C]``: the plain NumPy
    implementation (no screening) that the kernel is tested and benchmarked against.
    Same arithmetic as the kernel's exact pass: loci added in order ``0 .. L-1``."""
    Q, L = qg.shape
    C = log_tab.shape[0]
    acc = np.zeros((Q, C))
    ninc = np.zeros((Q, C), dtype=np.int32)
    for l in range(L):
        g = qg[:, l]
        ok = g >= 0
        j = offsets[l] + np.where(ok, g, 0)
        v = log_tab[:, j].T                       # [Q, C]
        use = ok[:, None] & (typed[:, l][None, :] != 0)
        if max_skip > 0:
            inc = (incons[:, j].T != 0) & use
            ninc += inc
            use = use & ~inc
        acc = acc + np.where(use, v, 0.0)
    if max_skip > 0:
        acc[ninc > max_skip] = -np.inf
    return acc
