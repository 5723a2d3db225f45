"""Scoring kernels: one tile of queries against one block of compiled tables.

The LR of a pair is ``prod_l T[c, l, g_q,l]``; the engine works with
``log_tab = log10 T`` (``-inf`` for an exclusion) and adds one value per locus
that both the query and the case typed.

Screening (why it never changes a result)
-----------------------------------------
Loci are visited in ``order``.  After ``k`` loci the running sum plus
``suffix[c, k]`` -- the sum over the loci still to come of
``max(0, max_g log_tab[c, l, g])``, the most any of them can add (an untyped
locus adds 0) -- is an upper bound on the pair's final log10 LR.  As soon as
the bound is below ``log_screen`` the pair is dropped: its LR provably cannot
reach the threshold.  ``log_screen`` is the log10 threshold minus ``1e-9``, far
more than the rounding difference between two summation orders of at most a
few dozen terms, so a pair whose exact value reaches the threshold is never
dropped.

Every surviving pair is then scored *exactly* in the canonical order (loci
``0 .. L-1``, one float64 addition per compared locus, the same operations as
:func:`scores_numpy`), and reported if that value reaches ``log_t``.  The
reported value therefore does not depend on the screening, the tile or the
block a pair was scored in, and a screened scan returns exactly the pairs and
values of an exhaustive one (tested in ``tests/engine/test_engine_screening.py``).

Identity (``max_skip > 0``): up to ``max_skip`` loci where the genotypes differ
are left out of the LR and reported in ``loci_inconsistent``; a pair with more
is excluded.

Kernels are serial and release the GIL (``nogil``); the engine runs one task
per thread.  They are compiled on first use (numba, on-disk cache): importing
:mod:`engine` compiles nothing.
"""
from __future__ import annotations

import numpy as np

__all__ = ["suffix_bounds", "visit_order", "score_tile", "scores_numpy"]

SCREEN_MARGIN = 1e-9

_KERNEL = None


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        from ._numba_kernels import score_pairs

        _KERNEL = score_pairs
    return _KERNEL


def visit_order(offsets: np.ndarray, size: int) -> np.ndarray:
    """Loci with more genotypes first (their values spread most)."""
    sizes = np.diff(np.append(offsets, size))
    return np.argsort(-sizes, kind="stable").astype(np.int64)


def suffix_bounds(log_tab: np.ndarray, offsets: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``suffix[c, k] = sum_{j >= k} max(0, max_g log_tab[c, order[j], g])``."""
    C, S = log_tab.shape
    L = len(order)
    ends = np.append(offsets[1:], S)
    mx = np.zeros((C, L))
    for k, l in enumerate(order):
        blk = log_tab[:, offsets[l]:ends[l]]
        if blk.shape[1]:
            m = blk.max(axis=1)
            m = np.where(np.isnan(m), np.inf, m)  # a NaN entry: no bound, never prune
            mx[:, k] = np.maximum(m, 0.0)
    suffix = np.zeros((C, L + 1))
    suffix[:, :L] = np.cumsum(mx[:, ::-1], axis=1)[:, ::-1]
    return suffix


def score_tile(tab, qg: np.ndarray, q_rows: np.ndarray, q_rank: np.ndarray, c_rank: np.ndarray,
               canonical: bool, log_t: float, max_skip: int, stats: np.ndarray, cap: int = 4096):
    """Pairs of (``q_rows`` x every case of ``tab``) with exact log10 LR >= ``log_t``.

    ``tab``: a compiled table group (``log_tab``, ``incons``, ``typed``, ``offsets``,
    ``order``, ``suffix``).  ``canonical``: only pairs with ``q_rank[q] >
    c_rank[c]`` (duplicates mode scores each unordered pair once).  Returns arrays
    ``(q, c, log10_lr, loci_compared, loci_inconsistent)``.
    """
    k = _kernel()
    q_rows = np.ascontiguousarray(q_rows, dtype=np.int64)
    while True:
        out_q = np.empty(cap, dtype=np.int64)
        out_c = np.empty(cap, dtype=np.int64)
        out_s = np.empty(cap, dtype=np.float64)
        out_nc = np.empty(cap, dtype=np.int32)
        out_ni = np.empty(cap, dtype=np.int32)
        st = np.zeros(1, dtype=np.int64)
        n = k(tab.log_tab, tab.incons, tab.typed, tab.offsets, tab.order, tab.suffix, qg, q_rows,
              q_rank, c_rank, bool(canonical), float(log_t) - SCREEN_MARGIN, float(log_t),
              int(max_skip), out_q, out_c, out_s, out_nc, out_ni, st)
        if n <= cap:
            stats[0] += st[0]
            return out_q[:n], out_c[:n], out_s[:n], out_nc[:n], out_ni[:n]
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
