"""One-to-one: the joint picture of the hits between queries and missing persons.

Hits are not independent: a child may hit two families (two sets of
grandparents both fit a grandchild), one family may hit two children.  A
query is at most one missing person, and a missing person at most one query.
The hits form a bipartite graph (queries -- missing persons); this module
takes one connected **part** of it and gives:

* the **best assignment**: a set of matches (query, missing person) with no
  query or missing person twice, "not in the database" allowed for both,
  maximising the joint LR.  The LR of an assignment is the product of its
  matches' LRs, an unmatched query or missing person counting 1 -- the
  independent-pairs approximation of dvir's pairwise approach (each match's
  LR is computed on its own family; the LRs of different families are
  multiplied as if their evidence were independent, which holds for the
  families' own relatives and ignores that a query identified in one family
  could become a reference of another).  The maximum is found exactly by
  :func:`scipy.optimize.linear_sum_assignment` on the log10 LRs (non-hits and
  LRs below 1 never improve an assignment);
* for every hit, ``log10 LR vs alternative``: the best assignment that contains
  the match over the best one that does not (positive: the match is in the best
  assignment, by that margin; negative: how much worse the best assignment with
  it is).  Exact (two assignment problems per hit) for parts of at most
  ``exact_max`` persons (queries + missing persons); in larger parts a stated
  lower bound: for a match in the best assignment ``w - r_q - c_m`` (``r_q``,
  ``c_m``: the largest other LR of the query and of the missing person, at
  least 1), for a match outside it ``w - a_q - a_m`` (the LRs of their own
  matches), both in log10 -- never a silent cut;
* which matches are **undisputed** in the sense of dvir's ``findUndisputed``:
  ``LR >= T`` and ``LR >= T x`` every other LR of the same query or the same
  missing person (the non-strict rule; pairs that are not hits count as LR 1),
  repeated on the part with the undisputed queries and missing persons removed
  until none is found (``step``, as dvir's iteration; the LRs are not
  recomputed: a pairwise LR here does not condition on identified persons);
* the joint log10 LR of the best assignment and its margin over the next-best
  assignment (the best that differs from it).

A part whose query x missing-person matrix exceeds ``dense_max`` cells
(:data:`DENSE_MAX`) gets the greedy assignment (matches by decreasing LR), whose
joint log10 LR G is at least half the best one's, the bounds above per hit
(outside the assignment ``w - a_q - a_m - G``: the best assignment exceeds the
greedy one by at most G) and no margin over the next best (``vs_next`` 0) --
stated, never silent.

The graph holds the hits only (LR at least the search threshold); every other
pair is "not a match" (LR counted as 1 when left unmatched).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["EXACT_MAX", "Part", "parts", "best_assignment", "solve_part", "single_hits", "column_parts",
           "brute_force"]

#: parts with at most this many persons (queries + missing persons) get exact alternatives
EXACT_MAX = 200
#: parts whose query x missing-person matrix has more cells get a greedy assignment
DENSE_MAX = 4_000_000


def parts(queries, units) -> np.ndarray:
    """The connected part of each edge (``queries[i]``, ``units[i]``), numbered from 0
    in order of first appearance."""
    from .kernels.components import components

    q = np.asarray(queries, dtype=object).astype(str)
    u = np.asarray(units, dtype=object).astype(str)
    if len(q) == 0:
        return np.zeros(0, dtype=np.int64)
    qs, qi = np.unique(q, return_inverse=True)
    us, ui = np.unique(u, return_inverse=True)
    lab = components(qi, len(qs) + ui, len(qs) + len(us))   # union-find (about 1 ms)
    lab_e = lab[qi]
    _, first = np.unique(lab_e, return_index=True)
    order = np.argsort(first)
    renum = np.empty(len(order), dtype=np.int64)
    renum[order] = np.arange(len(order))
    return renum[np.searchsorted(np.unique(lab_e), lab_e)]


def _linear_sum_assignment():
    """``scipy.optimize.linear_sum_assignment``: taken from its extension module
    ``scipy.optimize._lsap`` loaded by itself (:func:`kinship._scipy.extension_alone`)
    when ``scipy.optimize`` is not imported yet, which would import most of SciPy
    (0.25-0.45 s of a case run's merge in a fresh process) for this one function;
    the public import otherwise.  The same function either way."""
    from ._scipy import extension_alone

    ext = extension_alone("scipy.optimize", "_lsap")
    if ext is not None and callable(getattr(ext, "linear_sum_assignment", None)):
        return ext.linear_sum_assignment
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment


def best_assignment(W: np.ndarray) -> tuple[float, list]:
    """``(total, [(i, j), ...])``: the assignment of rows (queries) to columns
    (missing persons) maximising the summed weight, each used at most once,
    unmatched allowed at 0; ``W`` holds log10 LRs, ``-inf`` where there is no hit.
    Only positive weights are matched."""
    linear_sum_assignment = _linear_sum_assignment()
    if W.size == 0:
        return 0.0, []
    P = np.where(np.isfinite(W) & (W > 0), W, 0.0)
    r, c = linear_sum_assignment(P, maximize=True)
    pairs = [(int(i), int(j)) for i, j in zip(r, c) if P[i, j] > 0]
    return float(math.fsum(W[i, j] for i, j in pairs)), pairs


def greedy_assignment(rows, cols, w) -> tuple[float, list]:
    """Matches taken by decreasing LR (ties: row, column), skipping used rows and
    columns: a maximal matching whose summed log10 LR is at least half the best
    one's (every match of the best assignment shares a row or a column with a
    greedy match at least as large)."""
    order = sorted(range(len(w)), key=lambda k: (-w[k], rows[k], cols[k]))
    used_r, used_c, pairs = set(), set(), []
    for k in order:
        if w[k] <= 0:
            break
        i, j = int(rows[k]), int(cols[k])
        if i not in used_r and j not in used_c:
            used_r.add(i)
            used_c.add(j)
            pairs.append((i, j))
    return float(math.fsum(w[k] for k in order if (int(rows[k]), int(cols[k])) in set(pairs))), pairs


def brute_force(W: np.ndarray) -> tuple[float, list]:
    """Every assignment enumerated (tests): ``(best total, [all (total, pairs)])``."""
    n, m = W.shape
    out = []

    def rec(i, used, acc, pairs):
        if i == n:
            out.append((math.fsum(acc), list(pairs)))
            return
        rec(i + 1, used, acc, pairs)            # row i unmatched
        for j in range(m):
            if j not in used and np.isfinite(W[i, j]):
                rec(i + 1, used | {j}, acc + [W[i, j]], pairs + [(i, j)])

    rec(0, frozenset(), [], [])
    return max(t for t, _ in out), out


@dataclass
class Part:
    """The joint picture of one part: per edge (the order given) ``assigned``,
    ``vs_alternative`` (log10), ``exact`` and ``undisputed``/``step``; the part's
    ``best`` joint log10 LR and ``vs_next`` (log10 margin over the next best)."""

    assigned: np.ndarray
    vs_alternative: np.ndarray
    exact: bool
    undisputed: np.ndarray
    step: np.ndarray
    best: float
    vs_next: float


def solve_part(rows, cols, w, threshold: float, exact_max: int = EXACT_MAX,
               dense_max: int = DENSE_MAX) -> Part:
    """The joint picture of one part given its edges: ``rows[k]``, ``cols[k]``
    (query and missing-person indices from 0), ``w[k]`` (log10 LR of the hit);
    ``threshold`` the T of the undisputed rule."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    n, m = int(rows.max()) + 1, int(cols.max()) + 1
    if n * m > dense_max:
        return _greedy_part(rows, cols, w, threshold)
    if m == 1:
        res = _column_part(rows, w, threshold, exact_max)
        if res is not None:
            return res
    return _dense_part(rows, cols, w, threshold, exact_max, n, m)


def single_hits(w, threshold: float, exact_max: int = EXACT_MAX):
    """:func:`solve_part` of many parts of one hit each (one query, one missing
    person: most parts of a run), all at once: ``(ok, vs_alternative, undisputed,
    vs_next)`` per part of log10 LR ``w``; where ``ok``, the part's hit is assigned,
    exact, ``step`` 1 if undisputed (else 0), ``best`` its LR -- the numbers of
    :func:`_column_part` for one query (``tests/test_joint.py``); elsewhere (an LR
    not finite or not positive, ``exact_max`` < 2) :func:`solve_part` is to be
    called."""
    w = np.asarray(w, dtype=np.float64)
    ok = np.isfinite(w) & (w > 0) & (exact_max >= 2)
    vs = (w + 0.0) - 0.0
    und = (w >= math.log10(threshold)) & ok
    return ok, vs, und, w - 0.0


def column_parts(w, starts, distinct, threshold: float, exact_max: int = EXACT_MAX,
                 dense_max: int = DENSE_MAX):
    """:func:`_column_part` of many parts at once: the parts with one missing person
    (most contested parts of a run), their edges laid out part after part (``w``:
    log10 LRs; part ``p`` is ``w[starts[p]:starts[p + 1]]``, ``starts`` ending with
    ``len(w)``); ``distinct[p]``: the part's queries are distinct (one hit each).
    Returns ``(ok, assigned, vs_alternative, undisputed, best, vs_next)``: ``ok``
    per part (where :func:`_column_part` gives its closed form: distinct queries,
    small enough for exact alternatives, every LR finite, the largest positive and
    unique), the rest per edge (``best``, ``vs_next``: the part's, per edge); the
    same numbers, bit for bit, as :func:`solve_part` of each (``tests/test_joint.py``):
    the same maxima, sums and comparisons, elementwise."""
    w = np.asarray(w, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    n = np.diff(starts)
    P, E = len(n), len(w)
    if P == 0 or E == 0:
        z = np.zeros(E)
        return np.zeros(P, dtype=bool), np.zeros(E, dtype=bool), z, np.zeros(E, dtype=bool), z, z
    part = np.repeat(np.arange(P), n)
    first = starts[:-1]
    fin = np.isfinite(w)
    safe = np.where(fin, w, -np.inf)
    best = np.maximum.reduceat(safe, first)                       # the largest LR of each part
    n_best = np.add.reduceat((w == best[part]).astype(np.int64), first)
    ok = (np.asarray(distinct, dtype=bool) & (n + 1 <= exact_max) & (n > 0) & (n <= dense_max) &
          (np.add.reduceat(fin.astype(np.int64), first) == n) & (best > 0) & (n_best == 1))
    top = (w == best[part]) & ok[part]                            # the assigned hit of each part
    rest = np.where(top, -np.inf, safe)
    rest_max = np.maximum.reduceat(rest, first)                   # -inf: the part has one hit
    pos = np.where(rest > 0, rest, -np.inf)
    second = np.maximum.reduceat(pos, first)
    second = np.where(second > 0, second, 0.0)                    # no other positive LR: 0
    b_e, s_e = best[part], second[part]
    log_t = math.log10(threshold)
    other = np.where(top, rest_max[part], b_e)
    with np.errstate(invalid="ignore"):        # inf - inf in parts that are not ok
        vs = np.where(top, (b_e + 0.0) - s_e, (w + 0.0) - b_e)
        und = (w >= log_t) & (w >= other + log_t) & ok[part]
        nxt = b_e - s_e
    return ok, top, vs, und, b_e, nxt


def _column_part(rows, w, threshold: float, exact_max: int) -> Part | None:
    """:func:`solve_part` of a part with one missing person hit by distinct queries
    (a case hit by one or several queries: most parts of a run), in closed form:
    the same numbers, bit for bit, as the assignment problems of
    :func:`_dense_part` give (``tests/test_joint.py`` compares them), without
    solving them.  None (the general path) unless every query ``0 .. n-1`` has one
    hit, every LR is finite, the largest is positive and unique (no tie for the
    assignment) and the part is small enough for exact alternatives.

    With one column the best assignment is the largest LR ``w_a`` alone (an
    assignment holds at most one match); the best without it the second largest
    positive one ``s`` (0: nobody assigned); the best containing query ``i``'s
    match is that match alone.  So ``vs_alternative`` is ``w_a - s`` for the
    assigned query and ``w_i - w_a`` for the others, ``vs_next`` is ``w_a - s``;
    the undisputed rule (one column: one step) holds for query ``i`` when
    ``w_i >= log10 T`` and ``w_i >= max_{k != i} w_k + log10 T``."""
    n = len(rows)
    if n + 1 > exact_max or n == 0:
        return None
    order = np.argsort(rows, kind="stable")
    if not np.array_equal(rows[order], np.arange(n)):
        return None                       # a query twice, or a query index without a hit
    x = w[order]                          # the LR of query i, i = 0 .. n-1
    if not np.isfinite(x).all():
        return None
    a = int(np.argmax(x))
    best = float(x[a])
    if not best > 0 or int(np.count_nonzero(x == best)) != 1:
        return None
    rest = np.delete(x, a)
    pos = rest[rest > 0]
    second = float(pos.max()) if len(pos) else 0.0
    # the exact path's cache_with (w_i + the empty assignment's 0.0) less cache_without
    vs = (x + 0.0) - best
    vs[a] = (best + 0.0) - second
    log_t = math.log10(threshold)
    # the largest other LR of each query: the best for all but the best, else the
    # largest of the rest (v + log T is monotone in v: max then add is exact)
    other = np.full(n, best)
    other[a] = float(rest.max()) if len(rest) else -math.inf     # alone: no other LR
    und = (x >= log_t) & (x >= other + log_t)
    assigned = np.zeros(n, dtype=bool)
    assigned[a] = True
    return Part(assigned[rows], vs[rows], True, und[rows], und[rows].astype(np.int32), best,
                best - second)


def _dense_part(rows, cols, w, threshold: float, exact_max: int, n: int, m: int) -> Part:
    """:func:`solve_part` on the part's dense LR matrix (assignment problems)."""
    W = np.full((n, m), -np.inf)
    for i, j, x in zip(rows, cols, w):
        W[i, j] = max(W[i, j], x)
    best, pairs = best_assignment(W)
    mate_r = {i: j for i, j in pairs}
    mate_c = {j: i for i, j in pairs}
    assigned = np.array([mate_r.get(int(i)) == int(j) for i, j in zip(rows, cols)], dtype=bool)
    exact = n + m <= exact_max
    vs = np.empty(len(w))
    without_best = -np.inf           # the best assignment lacking one of the best's matches
    if exact:
        cache_with, cache_without = {}, {}
        for k, (i, j) in enumerate(zip(rows, cols)):
            i, j = int(i), int(j)
            if (i, j) not in cache_with:
                sub = np.delete(np.delete(W, i, axis=0), j, axis=1)
                cache_with[(i, j)] = W[i, j] + best_assignment(sub)[0]
                if (i, j) in pairs:
                    W2 = W.copy()
                    W2[i, j] = -np.inf
                    cache_without[(i, j)] = best_assignment(W2)[0]
                else:
                    cache_without[(i, j)] = best
            vs[k] = cache_with[(i, j)] - cache_without[(i, j)]
        if cache_without and any(p in cache_without for p in pairs):
            without_best = max(cache_without[p] for p in pairs if p in cache_without)
    else:
        P = np.where(np.isfinite(W), np.maximum(W, 0.0), 0.0)
        for k, (i, j) in enumerate(zip(rows, cols)):
            i, j = int(i), int(j)
            if assigned[k]:
                r_q = max(0.0, max((P[i, x] for x in range(m) if x != j), default=0.0))
                c_m = max(0.0, max((P[x, j] for x in range(n) if x != i), default=0.0))
                vs[k] = W[i, j] - r_q - c_m
            else:
                a_q = W[i, mate_r[i]] if i in mate_r else 0.0
                a_m = W[mate_c[j], j] if j in mate_c else 0.0
                vs[k] = min(0.0, W[i, j] - a_q - a_m)
        without_best = -np.inf if not pairs else best - min(
            vs[k] for k in range(len(w)) if assigned[k])
    # a match added between an unmatched query and an unmatched missing person
    add = [W[i, j] for i, j in zip(rows, cols)
           if int(i) not in mate_r and int(j) not in mate_c and np.isfinite(W[i, j])]
    nxt = max([without_best] + [best + x for x in add])
    vs_next = best - nxt if np.isfinite(nxt) else math.inf
    und, step = _undisputed(W, rows, cols, math.log10(threshold))
    return Part(assigned, vs, exact, und, step, best, vs_next)


def _greedy_part(rows, cols, w, threshold) -> Part:
    """A part too large for a dense assignment problem: the greedy assignment
    (:func:`greedy_assignment`, ``best`` then a lower bound of the best joint
    log10 LR, which is at most twice it), the bounds of the module doc per hit,
    ``vs_next`` 0 (unknown), and the undisputed rule evaluated on the hits."""
    best, pairs = greedy_assignment(rows, cols, w)
    mate_r = {i: j for i, j in pairs}
    mate_c = {j: i for i, j in pairs}
    key = {}
    for i, j, x in zip(rows, cols, w):
        key[(int(i), int(j))] = max(key.get((int(i), int(j)), -np.inf), float(x))
    r_top: dict = {}
    c_top: dict = {}
    for (i, j), x in key.items():
        r_top.setdefault(i, []).append((max(x, 0.0), j))
        c_top.setdefault(j, []).append((max(x, 0.0), i))
    for d in (r_top, c_top):
        for k in d:
            d[k] = sorted(d[k], reverse=True)[:2]

    def other(d, k, excl):
        return max([v for v, o in d.get(k, []) if o != excl] + [0.0])

    assigned = np.array([mate_r.get(int(i)) == int(j) for i, j in zip(rows, cols)], dtype=bool)
    vs = np.empty(len(w))
    for k, (i, j) in enumerate(zip(rows, cols)):
        i, j = int(i), int(j)
        if assigned[k]:
            vs[k] = key[(i, j)] - other(r_top, i, j) - other(c_top, j, i)
        else:
            a_q = key[(i, mate_r[i])] if i in mate_r else 0.0
            a_m = key[(mate_c[j], j)] if j in mate_c else 0.0
            # the best assignment exceeds the greedy one by at most the greedy's value
            vs[k] = min(0.0, key[(i, j)] - a_q - a_m - best)
    und, step = _undisputed_sparse(key, rows, cols, math.log10(threshold))
    return Part(assigned, vs, False, und, step, best, 0.0)


def _undisputed_sparse(key: dict, rows, cols, log_t: float):
    """:func:`_undisputed` on a dict of hits (pairs that are not hits: LR 1)."""
    alive_r = {i for i, _ in key}
    alive_c = {j for _, j in key}
    by_r: dict = {}
    by_c: dict = {}
    for (i, j), x in key.items():
        by_r.setdefault(i, []).append((j, x))
        by_c.setdefault(j, []).append((i, x))
    found = {}
    step = 0
    while True:
        step += 1
        new = []
        for (i, j), x in key.items():
            if i not in alive_r or j not in alive_c or x < log_t:
                continue
            o = [max(v, 0.0) for y, v in by_r[i] if y != j and y in alive_c] + \
                [max(v, 0.0) for y, v in by_c[j] if y != i and y in alive_r]
            if all(x >= v + log_t for v in o):
                new.append((i, j))
        if not new:
            break
        for i, j in new:
            found[(i, j)] = step
            alive_r.discard(i)
            alive_c.discard(j)
    und = np.array([(int(i), int(j)) in found for i, j in zip(rows, cols)], dtype=bool)
    st = np.array([found.get((int(i), int(j)), 0) for i, j in zip(rows, cols)], dtype=np.int32)
    return und, st


def _undisputed(W: np.ndarray, rows, cols, log_t: float):
    """dvir's findUndisputed on the part's LR matrix (non-strict rule), iterated.
    Each step looks at every alive cell at once: ``x >= v + log T`` for every
    other LR ``v`` of its row and column (non-hits 0) is ``x >= max v + log T``
    (``v + log T`` is monotone in ``v``), the largest other of a row being its
    largest LR, or its second where the cell holds the largest (a tie counts
    twice); the per-cell loop it replaces is kept in ``tests/test_joint.py``."""
    n, m = W.shape
    fin = np.isfinite(W)
    P = np.where(fin, W, 0.0)
    alive_r = np.ones(n, dtype=bool)
    alive_c = np.ones(m, dtype=bool)
    found = {}
    step = 0
    while True:
        step += 1
        live = alive_r[:, None] & alive_c[None, :]
        A = np.where(live, P, -np.inf)
        r_other = _others(A)
        c_other = _others(A.T).T
        with np.errstate(invalid="ignore"):     # -inf + inf (log T infinite): no match
            ok = live & fin & (W >= log_t) & (W >= r_other + log_t) & (W >= c_other + log_t)
        new = list(zip(*(x.tolist() for x in np.nonzero(ok))))
        if not new:
            break
        for i, j in new:
            found[(i, j)] = step
            alive_r[i] = False
            alive_c[j] = False
    und = np.array([(int(i), int(j)) in found for i, j in zip(rows, cols)], dtype=bool)
    st = np.array([found.get((int(i), int(j)), 0) for i, j in zip(rows, cols)], dtype=np.int32)
    return und, st


def _others(A: np.ndarray) -> np.ndarray:
    """For each cell, the largest other value of its row (``-inf`` if none)."""
    if A.shape[1] < 2:
        return np.full(A.shape, -np.inf)
    top = np.argmax(A, axis=1)
    srt = np.sort(A, axis=1)
    first, second = srt[:, -1], srt[:, -2]
    out = np.repeat(first[:, None], A.shape[1], axis=1)
    out[np.arange(A.shape[0]), top] = second
    return out
