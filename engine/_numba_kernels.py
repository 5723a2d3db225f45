"""Numba kernel of :mod:`engine.kernels` (imported lazily, compiled on first use).

Kept apart from the public functions so that ``import engine`` compiles nothing;
see :mod:`engine.kernels` for what it computes and why screening is exact.
"""
from kinship._numba import jit


@jit
def score_pairs(log_tab, incons, typed, offsets, order, suffix, qg, q_rows, q_rank, c_rank,
                canonical, log_screen, log_t, max_skip,
                out_q, out_c, out_s, out_nc, out_ni, stats):
    """Screen then score exactly; see :func:`engine.kernels.score_tile`."""
    C = log_tab.shape[0]
    L = order.shape[0]
    cap = out_q.shape[0]
    n = 0
    lookups = 0
    for c in range(C):
        for i in range(q_rows.shape[0]):
            q = q_rows[i]
            if canonical and q_rank[q] <= c_rank[c]:
                continue
            acc = 0.0
            nskip = 0
            alive = True
            for k in range(L):
                l = order[k]
                g = qg[q, l]
                if g >= 0:
                    j = offsets[l] + g
                    lookups += 1
                    if max_skip > 0 and incons[c, j] != 0 and nskip < max_skip:
                        nskip += 1
                    else:
                        acc += log_tab[c, j]
                if acc + suffix[c, k + 1] < log_screen:
                    alive = False
                    break
            if not alive:
                continue
            # exact value, canonical order
            s = 0.0
            nc = 0
            ni = 0
            for l in range(L):
                g = qg[q, l]
                if g < 0 or typed[c, l] == 0:
                    continue
                j = offsets[l] + g
                nc += 1
                if incons[c, j] != 0:
                    ni += 1
                    if max_skip > 0:
                        continue
                s += log_tab[c, j]
            if max_skip > 0 and ni > max_skip:
                continue
            if s >= log_t:
                if n < cap:
                    out_q[n] = q
                    out_c[n] = c
                    out_s[n] = s
                    out_nc[n] = nc
                    out_ni[n] = ni
                n += 1
    stats[0] += lookups
    return n
