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


# ---------------------------------------------------------------------------
# screening with allele-presence bitsets
# ---------------------------------------------------------------------------
#
# For a case c, a typed relative r and a locus l, a query that carries none of
# r's alleles at l ("non-sharing with r") scores at most nomax[c, r, l] = the
# largest log T over such genotypes there.  With mx[c, l] = max(0, max_g log T),
# the deficit d = mx - nomax >= 0, and a query with k loci non-sharing with r
# scores at most  sum_l mx[c, l] - (sum of the k smallest deficits of (c, r)).
# ``kmin[c, r]`` is the smallest k for which that bound is below the threshold:
# a query reaching it for any relative r cannot be a hit.  Each relative gives a
# valid bound on its own, so a couple is screened against father and mother.  Counting k
# for 64 queries at a time takes a few word operations per locus (allele
# bitsets and a bit-sliced counter); only the survivors are scored.


@jit()
def build_bitsets(qg_codes, n_alleles_max, out_has, out_miss):
    """out_has[w, l, a]: bit j set if query 64w+j carries allele a at locus l;
    out_miss[w, l]: the query is untyped at l.  Word-major, so that the bits one
    word of queries needs lie together in cache."""
    Q = qg_codes.shape[0]
    L = qg_codes.shape[1]
    for q in range(Q):
        w = q >> 6
        bit = np.uint64(1) << np.uint64(q & 63)
        for l in range(L):
            a = qg_codes[q, l, 0]
            b = qg_codes[q, l, 1]
            if a < 0 or b < 0:
                out_miss[w, l] |= bit
            else:
                out_has[w, l, a] |= bit
                out_has[w, l, b] |= bit


@jit()
def nonshare_max(log_tab, offsets, n_alleles, share, out):
    """out[c, r, l] = max of log T over genotypes carrying no allele of relative
    r's alleles share[c, r, l, :] at locus l."""
    C = log_tab.shape[0]
    R = share.shape[1]
    L = offsets.shape[0]
    S = share.shape[3]
    for c in range(C):
        for r in range(R):
            for l in range(L):
                A = n_alleles[l]
                best = -np.inf
                g = 0
                for hi in range(A):
                    for lo in range(hi + 1):
                        ok = True
                        for s in range(S):
                            x = share[c, r, l, s]
                            if x >= 0 and (x == hi or x == lo):
                                ok = False
                                break
                        if ok:
                            v = log_tab[c, offsets[l] + g]
                            if v > best:  # nan never wins; nan entries are not hits
                                best = v
                        g += 1
                out[c, r, l] = best


@jit(parallel=True)
def score_screened(log_tab, incons, offsets, order, qg, suffix, log_t, max_skip, cap,
                   has, miss, share, kmin, out_case, out_score, out_nskip, out_n):
    Q = qg.shape[0]
    C = log_tab.shape[0]
    L = order.shape[0]
    R = share.shape[1]
    S = share.shape[3]
    W = (Q + 63) // 64
    for q in range(Q):
        out_n[q] = 0
    tile = max(1, min(C, 262144 // max(1, log_tab.shape[1])))
    for t0 in range(0, C, tile):
        t1 = min(C, t0 + tile)
        for w in prange(W):
            for c in range(t0, t1):
                alive = ~np.uint64(0)
                for r in range(R):
                    K = kmin[c, r] + max_skip
                    if K > L:
                        continue
                    # bit-sliced count of typed loci sharing no allele with relative r
                    c0 = np.uint64(0)
                    c1 = np.uint64(0)
                    c2 = np.uint64(0)
                    c3 = np.uint64(0)
                    c4 = np.uint64(0)
                    c5 = np.uint64(0)
                    for l in range(L):
                        sh = miss[w, l]
                        for s in range(S):
                            x = share[c, r, l, s]
                            if x >= 0:
                                sh |= has[w, l, x]
                        x = ~sh
                        t = c0 & x
                        c0 ^= x
                        x = t
                        t = c1 & x
                        c1 ^= x
                        x = t
                        t = c2 & x
                        c2 ^= x
                        x = t
                        t = c3 & x
                        c3 ^= x
                        x = t
                        t = c4 & x
                        c4 ^= x
                        x = t
                        c5 ^= x
                    # alive &= (count < K)
                    lt = np.uint64(0)
                    eq = ~np.uint64(0)
                    planes = (c5, c4, c3, c2, c1, c0)
                    for i in range(6):
                        bitk = (K >> (5 - i)) & 1
                        p = planes[i]
                        if bitk == 1:
                            lt |= eq & ~p
                            eq &= p
                        else:
                            eq &= ~p
                    alive &= lt
                    if alive == 0:
                        break
                if alive == 0:
                    continue
                for j in range(64):
                    if (alive >> np.uint64(j)) & np.uint64(1) == 0:
                        continue
                    q = w * 64 + j
                    if q >= Q:
                        break
                    acc = 0.0
                    nskip = 0
                    ok = True
                    for k in range(L):
                        l = order[k]
                        g = qg[q, l]
                        if g >= 0:
                            idx = offsets[l] + g
                            if max_skip > 0 and incons[c, idx] != 0 and nskip < max_skip:
                                nskip += 1
                            else:
                                acc += log_tab[c, idx]
                        if acc + suffix[c, k + 1] < log_t:
                            ok = False
                            break
                    if ok and acc >= log_t:
                        n = out_n[q]
                        if n < cap:
                            out_case[q, n] = c
                            out_score[q, n] = acc
                            out_nskip[q, n] = nskip
                        out_n[q] = n + 1
