"""Bulk scoring kernel: LR(Q, C) = prod_l T[C, l, g_Q,l] as a sum of log10 values.

Branch and bound: loci are visited in a fixed order; after each locus the
running sum plus ``suffix[c, k+1]`` (the largest value the remaining loci can
add, never below 0 since an untyped locus adds 0) is an upper bound on the
pair's final score.  Once the bound is below the threshold the pair cannot be
a hit and is dropped.  The bound is exact arithmetic on the same table values,
so pruning changes the speed, never the result.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .._numba import jit


@jit()
def score_block(log_tab, incons, offsets, order, qg, suffix, log_t, max_skip, cap,
                out_case, out_score, out_nskip, out_n):
    Q = qg.shape[0]
    C = log_tab.shape[0]
    L = order.shape[0]
    for q in range(Q):
        out_n[q] = 0
    # cases in tiles whose tables stay in cache while every query passes by
    tile = max(1, min(C, 262144 // max(1, log_tab.shape[1])))
    for t0 in range(0, C, tile):
        t1 = min(C, t0 + tile)
        _score_tile(log_tab, incons, offsets, order, qg, suffix, log_t, max_skip, cap,
                    out_case, out_score, out_nskip, out_n, t0, t1)


@jit(parallel=True)
def _score_tile(log_tab, incons, offsets, order, qg, suffix, log_t, max_skip, cap,
                out_case, out_score, out_nskip, out_n, t0, t1):
    Q = qg.shape[0]
    L = order.shape[0]
    for q in prange(Q):
        n = out_n[q]
        for c in range(t0, t1):
            acc = 0.0
            nskip = 0
            alive = True
            for k in range(L):
                l = order[k]
                g = qg[q, l]
                if g >= 0:
                    j = offsets[l] + g
                    if max_skip > 0 and incons[c, j] != 0 and nskip < max_skip:
                        nskip += 1
                    else:
                        acc += log_tab[c, j]
                if acc + suffix[c, k + 1] < log_t:
                    alive = False
                    break
            if alive and acc >= log_t:
                if n < cap:
                    out_case[q, n] = c
                    out_score[q, n] = acc
                    out_nskip[q, n] = nskip
                n += 1
        out_n[q] = n


@jit(parallel=True)
def score_all(log_tab, offsets, qg, out):
    """Exhaustive log10 LR of every (query, case) pair (no pruning): the plain
    reference the pruned kernel is tested against, and a benchmark baseline."""
    Q = qg.shape[0]
    C = log_tab.shape[0]
    L = offsets.shape[0]
    for q in prange(Q):
        for c in range(C):
            acc = 0.0
            for l in range(L):
                g = qg[q, l]
                if g >= 0:
                    acc += log_tab[c, offsets[l] + g]
            out[q, c] = acc
