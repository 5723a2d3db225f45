"""The one-to-one joint picture (kinship.joint) against brute-force enumeration."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinship.joint import best_assignment, brute_force, parts, solve_part


@st.composite
def small_parts(draw):
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 4))
    cells = [(i, j) for i in range(n) for j in range(m)]
    chosen = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=len(cells), unique=True))
    w = draw(st.lists(st.floats(-2, 30, allow_nan=False).map(lambda x: round(x, 3)),
                      min_size=len(chosen), max_size=len(chosen)))
    rows = [c[0] for c in chosen]
    cols = [c[1] for c in chosen]
    return rows, cols, w


def _matrix(rows, cols, w):
    W = np.full((max(rows) + 1, max(cols) + 1), -np.inf)
    for i, j, x in zip(rows, cols, w):
        W[i, j] = x
    return W


@settings(max_examples=300, deadline=None)
@given(small_parts())
def test_assignment_equals_brute_force(part):
    rows, cols, w = part
    W = _matrix(rows, cols, w)
    best, pairs = best_assignment(W)
    bf_best, every = brute_force(W)
    assert best == pytest.approx(bf_best, abs=1e-9)
    # one query per missing person and vice versa
    assert len({i for i, _ in pairs}) == len(pairs) == len({j for _, j in pairs})
    res = solve_part(rows, cols, w, threshold=1e4)
    assert res.best == pytest.approx(bf_best, abs=1e-9)
    for k, (i, j) in enumerate(zip(rows, cols)):
        with_ = max(t for t, p in every if (i, j) in p)
        without = max(t for t, p in every if (i, j) not in p)
        assert res.vs_alternative[k] == pytest.approx(with_ - without, abs=1e-9)
        assert res.assigned[k] == ((i, j) in pairs)
        if res.assigned[k]:
            assert res.vs_alternative[k] >= -1e-9
    # next best: the best assignment that differs from the best one
    others = [t for t, p in every if sorted(p) != sorted(pairs)]
    if others:
        assert res.vs_next == pytest.approx(bf_best - max(others), abs=1e-9)
    else:
        assert res.vs_next == math.inf


@settings(max_examples=200, deadline=None)
@given(small_parts())
def test_large_part_bound_is_a_lower_bound(part):
    """Parts over exact_max get a lower bound of the exact value."""
    rows, cols, w = part
    exact = solve_part(rows, cols, w, threshold=1e4)
    bound = solve_part(rows, cols, w, threshold=1e4, exact_max=0)
    assert not bound.exact and exact.exact
    assert (bound.assigned == exact.assigned).all()
    assert (bound.vs_alternative <= exact.vs_alternative + 1e-9).all()
    assert bound.vs_next <= exact.vs_next + 1e-9


def _dvir_undisputed(W, log_t):
    """dvir's findUndisputed rule, written from its documentation: LR_ij >= T and
    LR_ij >= T x every other LR of row i and column j (non-hits at LR 1), iterated
    with the undisputed rows and columns removed."""
    n, m = W.shape
    L = np.where(np.isfinite(W), W, 0.0)
    R, C = set(range(n)), set(range(m))
    out = {}
    step = 1
    while True:
        new = [(i, j) for i in R for j in C if np.isfinite(W[i, j]) and W[i, j] >= log_t
               and all(W[i, j] - log_t >= L[i, y] for y in C if y != j)
               and all(W[i, j] - log_t >= L[x, j] for x in R if x != i)]
        if not new:
            return out
        for i, j in new:
            out[(i, j)] = step
            R.discard(i)
            C.discard(j)
        step += 1


@settings(max_examples=300, deadline=None)
@given(small_parts())
def test_undisputed_is_dvirs_rule(part):
    rows, cols, w = part
    res = solve_part(rows, cols, w, threshold=1e4)
    ref = _dvir_undisputed(_matrix(rows, cols, w), 4.0)
    for k, (i, j) in enumerate(zip(rows, cols)):
        assert res.undisputed[k] == ((i, j) in ref)
        assert res.step[k] == ref.get((i, j), 0)


def test_undisputed_need_not_be_the_best_assignment():
    """dvir's rule is pairwise: Q0 -> B (10^18) is at least 10^4 times Q0's other LR
    (10^14) and B's (10^5), so undisputed; jointly Q0 -> C and Q2 -> B (10^19) beat
    it.  Both are reported."""
    rows, cols, w = [0, 0, 1], [1, 2, 1], [18.0, 14.0, 5.0]
    res = solve_part(rows, cols, w, threshold=1e4)
    assert res.undisputed.tolist() == [True, False, False]
    assert res.assigned.tolist() == [False, True, True]
    assert res.vs_alternative[0] == pytest.approx(18.0 - 19.0)


def test_child_hitting_two_families():
    """Q1 hits families A (its parents, 10^20) and B (grandparents, 10^6); Q2 is B's
    child (10^7): the best assignment keeps Q1 -> A and Q2 -> B, and Q1 -> B is out."""
    rows, cols, w = [0, 0, 1], [0, 1, 1], [20.0, 6.0, 7.0]
    res = solve_part(rows, cols, w, threshold=1e4)
    assert res.assigned.tolist() == [True, False, True]
    assert res.best == pytest.approx(27.0)
    # Q1 -> B instead: Q1's 10^20 and Q2's 10^7 are lost, 10^6 gained
    assert res.vs_alternative[1] == pytest.approx(6.0 - 27.0)
    assert res.vs_alternative[0] == pytest.approx(27.0 - 7.0)   # without Q1->A: Q2->B only
    assert res.vs_alternative[2] == pytest.approx(27.0 - 20.0)
    # undisputed: Q1 -> A (10^20 vs 10^6 in its row); Q2 -> B is disputed by Q1's
    # 10^6 at first (10^7 / 10^6 < 10^4), undisputed once Q1 is identified (step 2)
    assert res.undisputed.tolist() == [True, False, True]
    assert res.step.tolist() == [1, 0, 2]


def test_parts_numbering():
    q = ["Q1", "Q1", "Q2", "Q3", "Q4"]
    u = ["A", "B", "B", "C", "C"]
    assert parts(q, u).tolist() == [0, 0, 0, 1, 1]


@settings(max_examples=200, deadline=None)
@given(small_parts())
def test_greedy_part_bounds(part):
    """Parts too large for a dense problem: the greedy assignment's joint LR is at
    least half the best (in log10, positive weights) and the undisputed rule is the
    same as on the matrix."""
    rows, cols, w = part
    exact = solve_part(rows, cols, w, threshold=1e4)
    big = solve_part(rows, cols, w, threshold=1e4, dense_max=0)
    assert not big.exact
    assert big.best <= exact.best + 1e-9 and big.best >= exact.best / 2 - 1e-9
    assert (big.undisputed == exact.undisputed).all() and (big.step == exact.step).all()
    assert (big.vs_alternative <= exact.vs_alternative + 1e-9).all()
    mates = [(i, j) for k, (i, j) in enumerate(zip(rows, cols)) if big.assigned[k]]
    assert len({i for i, _ in mates}) == len(mates) == len({j for _, j in mates})


def _same_part(a, b):
    """Two Part results equal to the bit (NaN-free floats compared by their bytes)."""
    assert a.exact == b.exact
    assert np.array_equal(a.assigned, b.assigned) and a.assigned.dtype == b.assigned.dtype
    assert np.array_equal(a.undisputed, b.undisputed)
    assert np.array_equal(np.asarray(a.step, np.int32), np.asarray(b.step, np.int32))
    assert np.asarray(a.vs_alternative, np.float64).tobytes() == \
        np.asarray(b.vs_alternative, np.float64).tobytes()
    assert np.float64(a.best).tobytes() == np.float64(b.best).tobytes()
    assert np.float64(a.vs_next).tobytes() == np.float64(b.vs_next).tobytes()


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 9), st.data(), st.sampled_from([1e4, 10.0, 1.0, 0.5]))
def test_one_missing_person_closed_form_is_the_assignment_problem(n, data, threshold):
    """A part with one missing person (one column) takes a closed form
    (kinship.joint._column_part); it gives the numbers of the assignment problems
    (kinship.joint._dense_part) to the bit, or declines (ties, no positive LR)."""
    from kinship.joint import _column_part, _dense_part

    w = data.draw(st.lists(st.one_of(st.floats(-3, 40, allow_nan=False, allow_infinity=False),
                                     st.sampled_from([0.0, 4.0, 4.5, 12.25])),
                           min_size=n, max_size=n))
    rows = np.asarray(data.draw(st.permutations(range(n))), dtype=np.int64)
    cols = np.zeros(n, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    fast = _column_part(rows, w, threshold, 200)
    slow = _dense_part(rows, cols, w, threshold, 200, n, 1)
    if fast is None:
        x = np.sort(w)
        assert not x[-1] > 0 or (n > 1 and x[-1] == x[-2])
    else:
        _same_part(fast, slow)
    _same_part(solve_part(rows, cols, w, threshold), slow)


def test_one_missing_person_declines_what_it_does_not_cover():
    from kinship.joint import _column_part

    assert _column_part(np.array([0, 0]), np.array([5.0, 6.0]), 1e4, 200) is None    # a query twice
    assert _column_part(np.array([0, 2]), np.array([5.0, 6.0]), 1e4, 200) is None    # a gap
    assert _column_part(np.array([0, 1]), np.array([6.0, 6.0]), 1e4, 200) is None    # a tie
    assert _column_part(np.array([0]), np.array([np.inf]), 1e4, 200) is None
    assert _column_part(np.array([0, 1]), np.array([5.0, 6.0]), 1e4, 2) is None      # not exact
    res = _column_part(np.array([1, 0]), np.array([5.0, 9.0]), 1e4, 200)
    # by hand: the assignment keeps query 0 (log10 LR 9) alone; without it query 1 (5):
    # 9 - 5 = 4 for the kept hit, 5 - 9 = -4 for the other; 9 >= 4 and 9 >= 5 + 4:
    # undisputed (dvir's rule at T = 10^4)
    assert list(res.assigned) == [False, True] and list(res.vs_alternative) == [-4.0, 4.0]
    assert list(res.undisputed) == [False, True] and res.best == 9.0 and res.vs_next == 4.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=False), st.sampled_from([0.0, -0.0, 4.0, math.inf,
                                                                         -math.inf])),
                min_size=1, max_size=30),
       st.sampled_from([1e4, 10.0, 1.0, 0.5]), st.sampled_from([200, 2, 1, 0]))
def test_single_hit_parts_at_once_equal_solve_part(w, threshold, exact_max):
    """Parts of one hit solved together (kinship.joint.single_hits) give what
    solve_part gives each, to the bit, where they say they apply."""
    from kinship.joint import single_hits

    ok, vs, und, nxt = single_hits(w, threshold, exact_max)
    for k, x in enumerate(w):
        if not ok[k]:
            assert not (math.isfinite(x) and x > 0 and exact_max >= 2)
            continue
        res = solve_part([0], [0], [x], threshold, exact_max)
        _same_part(res, type(res)(np.array([True]), np.array([vs[k]]), True, np.array([und[k]]),
                                  np.array([int(und[k])], np.int32), float(x), float(nxt[k])))


_LRS = st.one_of(st.floats(-3, 40, allow_nan=False, allow_infinity=False),
                 st.sampled_from([0.0, -0.0, 4.0, 4.5, 12.25, math.inf, -math.inf, math.nan]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 7), st.booleans()), min_size=1, max_size=12), st.data(),
       st.sampled_from([1e4, 10.0, 1.0, 0.5]), st.sampled_from([200, 5, 2, 1]))
def test_column_parts_at_once_equal_solve_part(shapes, data, threshold, exact_max):
    """Parts of one missing person solved together (kinship.joint.column_parts)
    give what solve_part gives each (the assignment problems of _dense_part where
    _column_part declines), to the bit, where they say they apply; where they do
    not, the part has a query twice, a tie for the largest LR, no positive LR, an
    LR not finite, or too many queries for exact alternatives."""
    from kinship.joint import column_parts

    ws, rows, distinct = [], [], []
    for n, dup in shapes:
        w = data.draw(st.lists(_LRS, min_size=n, max_size=n))
        r = list(data.draw(st.permutations(range(n))))
        if dup and n > 1:
            r[0] = r[1]             # a query with two hits
        ws.append(np.asarray(w, dtype=np.float64))
        rows.append(np.asarray(r, dtype=np.int64))
        distinct.append(len(set(r)) == n)
    starts = np.r_[0, np.cumsum([len(w) for w in ws])]
    ok, top, vs, und, best, nxt = column_parts(np.concatenate(ws), starts, distinct, threshold,
                                               exact_max)
    for p, (w, r) in enumerate(zip(ws, rows)):
        a, b = starts[p], starts[p + 1]
        if not ok[p]:
            x = np.sort(w)
            assert (not distinct[p] or len(w) + 1 > exact_max or not np.isfinite(w).all()
                    or not x[-1] > 0 or (len(w) > 1 and x[-1] == x[-2]))
            continue
        want = solve_part(r, np.zeros(len(w), np.int64), w, threshold, exact_max)
        got = type(want)(top[a:b], vs[a:b], True, und[a:b], und[a:b].astype(np.int32),
                         float(best[a]), float(nxt[a]))
        _same_part(got, want)
        assert len(set(best[a:b].tolist())) == 1 and len(set(nxt[a:b].tolist())) == 1


def _add_joint_reference(hits, threshold, exact_max):
    """engine.joint.add_joint's per-edge numbers as solve_part gives each part, one
    part at a time (the reference of the parts solved together)."""
    q = np.asarray(hits.column("query_id").to_pylist(), dtype=object)
    c = np.asarray(hits.column("case_id").to_pylist(), dtype=object)
    r = np.asarray(hits.column("reference_id").to_pylist(), dtype=object)
    w = hits.column("log10_lr").to_numpy()
    unit = np.array([f"{a}/{b}" if b else a for a, b in zip(c, r)], dtype=object)
    part = parts(q, unit)
    out = {}
    for p in np.unique(part):
        e = np.nonzero(part == p)[0]
        qs, us = sorted(set(q[e])), sorted(set(unit[e]))
        res = solve_part([qs.index(x) for x in q[e]], [us.index(x) for x in unit[e]], w[e],
                         threshold, exact_max)
        for k, i in enumerate(e):
            out[i] = (int(p), bool(res.assigned[k]), bool(res.undisputed[k]), int(res.step[k]),
                      np.float64(res.vs_alternative[k]).tobytes(), bool(res.exact), len(qs),
                      len(us), np.float64(res.best).tobytes(),
                      None if not np.isfinite(res.vs_next) else np.float64(res.vs_next).tobytes())
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 6), st.sampled_from(["", "", "m2"]),
                          _LRS), min_size=1, max_size=40),
       st.sampled_from([1e4, 10.0]), st.sampled_from([200, 3]))
def test_add_joint_equals_each_part_solved_alone(edges, threshold, exact_max):
    """engine.joint.add_joint (single-hit parts and parts of one missing person
    solved together, the rest one by one) gives every case-mode hit the numbers
    solve_part gives its part alone, to the bit; hits of other modes are left out."""
    import pyarrow as pa

    from engine.joint import add_joint

    seen, rows = set(), []
    for qi, ci, ref, x in edges:
        if (qi, ci, ref) not in seen:
            seen.add((qi, ci, ref))
            rows.append((f"Q{qi}", f"C{ci}", ref, x))
    rows.append(("Q99", "C99", "", 8.0))
    hits = pa.table({"mode": ["case"] * (len(rows) - 1) + ["full-sibling"],
                     "query_id": [r[0] for r in rows], "case_id": [r[1] for r in rows],
                     "reference_id": [r[2] for r in rows],
                     "log10_lr": pa.array([r[3] for r in rows], pa.float64())})
    _, table, info = add_joint(hits, threshold, exact_max)
    case = hits.slice(0, len(rows) - 1)
    want = _add_joint_reference(case, threshold, exact_max)
    got = {}
    key = {(a, b, c): i for i, (a, b, c, _) in enumerate(rows[:-1])}
    for t in table.to_pylist():
        i = key[(t["query_id"], t["case_id"], t["reference_id"])]
        nx = t["part_log10_lr_vs_next"]
        got[i] = (t["part"], t["assigned"], t["undisputed"], t["undisputed_step"],
                  np.float64(t["log10_lr_vs_alternative"]).tobytes(), t["alternative_exact"],
                  t["part_queries"], t["part_missing"], np.float64(t["part_log10_lr"]).tobytes(),
                  None if nx is None else np.float64(nx).tobytes())
    assert got == want
    assert info["parts"] == len({v[0] for v in want.values()})
    assert info["largest_part"] == max(v[6] + v[7] for v in want.values())
    per_part = {v[0]: v for v in want.values()}.values()
    assert info["contested_parts"] == sum(v[6] > 1 or v[7] > 1 for v in per_part)
    assert info["bounded_parts"] == sum(not v[5] for v in per_part)
    assert info["hits"] == len(rows) - 1


def _undisputed_reference(W, rows, cols, log_t):
    """kinship.joint._undisputed as it was: every alive cell against every other LR
    of its row and column, one at a time (the reference of the vectorised step)."""
    n, m = W.shape
    alive_r = np.ones(n, dtype=bool)
    alive_c = np.ones(m, dtype=bool)
    found = {}
    step = 0
    while True:
        step += 1
        new = []
        for i in np.nonzero(alive_r)[0]:
            for j in np.nonzero(alive_c)[0]:
                x = W[i, j]
                if not np.isfinite(x) or x < log_t:
                    continue
                o_r = [W[i, y] if np.isfinite(W[i, y]) else 0.0
                       for y in np.nonzero(alive_c)[0] if y != j]
                o_c = [W[y, j] if np.isfinite(W[y, j]) else 0.0
                       for y in np.nonzero(alive_r)[0] if y != i]
                if all(x >= v + log_t for v in o_r + o_c):
                    new.append((int(i), int(j)))
        if not new:
            break
        for i, j in new:
            found[(i, j)] = step
            alive_r[i] = False
            alive_c[j] = False
    und = np.array([(int(i), int(j)) in found for i, j in zip(rows, cols)], dtype=bool)
    st = np.array([found.get((int(i), int(j)), 0) for i, j in zip(rows, cols)], dtype=np.int32)
    return und, st


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.data(),
       st.sampled_from([4.0, 1.0, 0.0, -0.5, math.inf, -math.inf]))
def test_undisputed_steps_equal_the_cell_by_cell_rule(n, m, data, log_t):
    """kinship.joint._undisputed (each step on every cell at once) finds the same
    undisputed matches at the same steps as the cell-by-cell rule: ties, non-hits
    (-inf), infinite and NaN LRs, LRs below 1."""
    from kinship.joint import _undisputed

    vals = st.one_of(st.floats(-3, 12, allow_nan=False).map(lambda x: round(x, 1)),
                     st.sampled_from([4.0, 8.0, 0.0, -np.inf, np.inf, np.nan]))
    W = np.array(data.draw(st.lists(vals, min_size=n * m, max_size=n * m)),
                 dtype=np.float64).reshape(n, m)
    rows, cols = np.nonzero(np.isfinite(W) | np.isnan(W))
    got = _undisputed(W, rows, cols, log_t)
    want = _undisputed_reference(W, rows, cols, log_t)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_assignment_from_scipy_without_scipy_optimize():
    """``best_assignment`` takes SciPy's ``linear_sum_assignment`` from its extension
    module loaded alone (kinship._scipy.extension_alone) in a process that has not
    imported ``scipy.optimize``: the same function object a later ``import
    scipy.optimize`` gives, the same answers, and ``scipy.optimize`` not imported
    by it."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = """
import json, sys
import numpy as np
from kinship.joint import best_assignment
W = np.array([[3.0, 1.0, -np.inf], [2.5, 2.0, 0.5], [-np.inf, 4.0, 1.0]])
total, pairs = best_assignment(W)
before = "scipy.optimize" in sys.modules
from kinship.joint import _linear_sum_assignment
import scipy.optimize
print(json.dumps({"total": total, "pairs": pairs, "optimize_before": before,
                  "same": _linear_sum_assignment() is scipy.optimize.linear_sum_assignment}))
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(root)), timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    # by hand: rows 0, 1, 2 to columns 0, 2, 1: 3.0 + 0.5 + 4.0 = 7.5 (row 1 to column 1
    # instead would leave column 2 to row 2: 3.0 + 2.0 + 1.0 = 6.0)
    assert out == {"total": 7.5, "pairs": [[0, 0], [1, 2], [2, 1]], "optimize_before": False,
                   "same": True}
