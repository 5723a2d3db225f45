"""The 8-bit first pass of the screening kernel (64 cases a row) on its own.

Its lane masks are compared with two things computed here independently of
the kernel: the field sums unpacked from the packed rows with NumPy (bit set
iff the sum reaches the tile's test: the SWAR arithmetic and the bit gathering),
and the exhaustive exact scores of ``engine.kernels.scores_numpy`` (every pair
whose exact LR reaches the threshold keeps its bit: the bound).  Tables are
adversarial: values exactly on and one ulp beside the grids' steps, -inf, NaN,
+inf, untyped loci on either side, all-untyped queries, identity's skipped loci,
many loci, thresholds placed exactly on pairs' scores.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compile import table_group
from engine.kernels import score_tile, scores_numpy
from kinship.kernels.score import LANES8, lane_masks8, pack_tables, query_columns


def _tables(rng, C, L, A, spread, odd):
    """log10 tables whose values sit on, or one ulp beside, multiples of 1/24 and 1/32."""
    sizes = np.full(L, A * (A + 1) // 2)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    S = int(sizes.sum())
    steps = rng.choice([24.0, 32.0, 5.0, 1.0], size=(C, S))
    v = rng.integers(-int(3 * spread * 32), int(spread * 32), size=(C, S)) / 32.0
    v = np.round(v * steps) / steps
    nudge = rng.random((C, S))
    v = np.where(nudge < 0.2, np.nextafter(v, np.inf), np.where(nudge < 0.4, np.nextafter(v, -np.inf), v))
    incons = (rng.random((C, S)) < 0.3).astype(np.uint8)
    v[(incons == 1) & (rng.random((C, S)) < 0.3)] = -np.inf        # exclusions
    typed = (rng.random((C, L)) < 0.85).astype(np.uint8)
    typed[rng.random(C) < 0.05] = 0                                 # cases with no locus typed
    for c in range(C):
        for l in range(L):
            if not typed[c, l]:
                v[c, offsets[l]:offsets[l] + sizes[l]] = 0.0
                incons[c, offsets[l]:offsets[l] + sizes[l]] = 0
    if odd:
        v[rng.random((C, S)) < 0.02] = np.nan
        if rng.random() < 0.5:
            v[rng.integers(C), rng.integers(S)] = np.inf
    t = table_group(v, incons, typed, offsets)
    return t, sizes


def _field_sums(pk, qcol, S):
    """[Q, T8 * 64] field sums of the 8-bit pass (not saturated), unpacked with NumPy."""
    T8 = pk.rows8.shape[0]
    L = qcol.shape[1]
    qs = np.where(qcol < 0, S + np.arange(L)[None, :], qcol).astype(np.int64)
    b = pk.rows8.reshape(T8, S + L, 64).astype(np.int64)      # lane k = byte k of a row
    return b[:, qs, :].sum(axis=2).transpose(1, 0, 2).reshape(len(qcol), T8 * 64)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), thr=st.floats(-4, 8), max_skip=st.integers(0, 2),
       C=st.integers(1, 600), Q=st.integers(1, 30), L=st.sampled_from([1, 3, 8, 15, 23, 40]),
       spread=st.sampled_from([0.3, 1.0, 3.0]), odd=st.booleans(), on_a_score=st.sampled_from([0, 1, 2, 3]))
def test_first_pass_is_an_exact_upper_bound(seed, thr, max_skip, C, Q, L, spread, odd, on_a_score):
    rng = np.random.default_rng(seed)
    t, sizes = _tables(rng, C, L, 3, spread, odd)
    S = t.log_tab.shape[1]
    qg = rng.integers(0, sizes[0], size=(Q, L)).astype(np.int32)
    qg[rng.random((Q, L)) < 0.1] = -1
    qg[rng.random(Q) < 0.1] = -1                                     # queries with no locus typed
    with np.errstate(invalid="ignore"):
        full = scores_numpy(t.log_tab, t.incons, t.typed, t.offsets, qg, max_skip)
    fin = full[np.isfinite(full)]
    if on_a_score and fin.size:  # on a score, or one ulp either side of it
        x = float(rng.choice(fin))
        thr = [x, float(np.nextafter(x, -np.inf)), float(np.nextafter(x, np.inf))][on_a_score - 1]
    pk = pack_tables(t.log_tab, t.incons, t.typed, t.offsets, skip=max_skip > 0)
    T8 = pk.rows8.shape[0]
    assert T8 == math.ceil(C / LANES8)
    tp = pk.thresholds8(thr, max_skip)
    qcol = query_columns(qg, t.offsets)
    masks = np.zeros((Q, T8), dtype=np.uint64)
    lane_masks8(pk.rows8, tp, qcol, S, masks)
    bits = ((masks[:, :, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(bool)
    bits = bits.reshape(Q, T8 * 64)
    sums = np.minimum(_field_sums(pk, qcol, S), 255)                 # saturated at 255
    tpl = np.repeat(tp, 64)[None, :]
    assert ((tp == -1) | ((tp >= 1) & (tp <= 255))).all()
    want_bits = np.where(tpl > 0, sums >= tpl, True)
    assert np.array_equal(bits, want_bits)
    with np.errstate(invalid="ignore"):
        hit = full >= thr
    assert bits[:, :C][hit].all()                                    # never drops a hit
    # the whole kernel (first pass, 16-bit pass, exact pass) = the exhaustive scan
    stats = np.zeros(1, dtype=np.int64)
    q, c, s, _, _ = score_tile(t, qcol, np.arange(Q), np.arange(Q), np.arange(C), False, thr, max_skip,
                               stats, cap=2)
    assert {(int(a), int(b)): float(x) for a, b, x in zip(q, c, s)} == \
        {(i, j): full[i, j] for i, j in zip(*np.nonzero(hit))}


def test_first_pass_prunes_unrelated_pairs_and_keeps_the_order():
    """On tables like a duo search (small positive values, exclusions near -2.5)
    the first pass is active and removes nearly every pair; hits come in the
    order (32-case tile, query, case)."""
    rng = np.random.default_rng(7)
    C, L, A = 300, 23, 6
    sizes = np.full(L, A * (A + 1) // 2)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    S = int(sizes.sum())
    share = rng.random((C, S)) < 0.5
    v = np.where(share, rng.uniform(0.0, 1.0, (C, S)), rng.uniform(-3.0, -2.0, (C, S)))
    t = table_group(v, (~share).astype(np.uint8), np.ones((C, L), np.uint8), offsets)
    qg = rng.integers(0, sizes[0], size=(400, L)).astype(np.int32)
    qg[5] = np.argmax(v[17].reshape(L, -1), axis=1)                  # query 5: a planted match of case 17
    pk = pack_tables(t.log_tab, t.incons, t.typed, t.offsets, skip=False)
    assert (pk.thresholds8(4.0) > 0).all()                           # the first pass tests every tile
    masks = np.zeros((400, pk.rows8.shape[0]), dtype=np.uint64)
    lane_masks8(pk.rows8, pk.thresholds8(4.0), query_columns(qg, offsets), S, masks)
    passed = sum(bin(int(m)).count("1") for m in masks.ravel())
    assert passed < 0.03 * 400 * C
    full = scores_numpy(t.log_tab, t.incons, t.typed, offsets, qg)
    stats = np.zeros(1, dtype=np.int64)
    q, c, s, _, _ = score_tile(t, query_columns(qg, offsets), np.arange(400), np.arange(400),
                               np.arange(C), False, 4.0, 0, stats)
    assert (5, 17) in set(zip(q.tolist(), c.tolist()))
    want = sorted(((j // 32, i, j) for i, j in zip(*np.nonzero(full >= 4.0))))
    assert [(b // 32, a, b) for a, b in zip(q.tolist(), c.tolist())] == want
    assert stats[0] < 400 * math.ceil(C / 32) * L                    # fewer rows than the 16-bit pass alone
    # a threshold that most pairs reach: the first pass is switched off tile by tile
    # after 64 queries, for that call only (each call switches on its own copy, so
    # what a call reads does not depend on the calls before it, on any thread); the
    # hits are unchanged
    reads = []
    for _ in range(2):
        before = int(stats[0])
        q, c, s, _, _ = score_tile(t, query_columns(qg, offsets), np.arange(400), np.arange(400),
                                   np.arange(C), False, -12.0, 0, stats)
        reads.append(int(stats[0]) - before)
        want = sorted(((j // 32, i, j, full[i, j]) for i, j in zip(*np.nonzero(full >= -12.0))))
        assert [(b // 32, a, b, x) for a, b, x in zip(q.tolist(), c.tolist(), s.tolist())] == want
    assert reads[0] == reads[1]
    assert t.packed[False].use8.all()
    # the kernel itself switches the tiles off in the array it is given
    from kinship._numba import call_slp
    from kinship.kernels.score import score_rows

    pk2 = t.packed[False]
    use8 = np.ones_like(pk2.use8)
    out = [np.empty(400 * C, np.int64), np.empty(400 * C, np.int64), np.empty(400 * C),
           np.empty(400 * C, np.int32), np.empty(400 * C, np.int32)]
    call_slp(score_rows, pk2.rows, pk2.lo, pk2.exact, pk2.thresholds(-12.0), pk2.rows8,
             pk2.thresholds8(-12.0, 0), use8, t.vals, t.inc, t.base, t.typed,
             query_columns(qg, offsets), np.arange(400), np.arange(C), False, -12.0, 0, pk2.skip,
             *out, np.zeros(2, np.int64))
    assert not use8.any()


def test_saturation_many_loci_inf_and_tests_out_of_range():
    """Saturating fields put no limit on the loci: 60 loci of wide values get a
    grid (the floors shrink to fit), a +inf entry packs as 255 (its lane always
    passes), and the test is -1 (every lane passes) for ``screen=False``, an
    infinite threshold, or one above what 8 bits can count on the tile's grid."""
    rng = np.random.default_rng(1)
    C, L = 70, 60
    offsets = np.arange(L, dtype=np.int64) * 3
    v = rng.uniform(-3, 10, (C, 3 * L))
    v[3, 4] = np.inf
    v[5, 7] = -np.inf
    pk = pack_tables(v, np.zeros(v.shape, np.uint8), np.ones((C, L), np.uint8), offsets, skip=False)
    assert pk.rows8[0, 4 * 64 + 3] == 255 and pk.rows8[0, 7 * 64 + 5] == 0
    assert (np.ceil(pk.scale8 * 8.0) - pk.lo8.sum(axis=1) <= 255).all()   # LR 1e8 still fits
    assert (pk.thresholds8(2.0) > 0).all()
    assert pk.thresholds8(2.0, screen=False).tolist() == [-1, -1]
    assert pk.thresholds8(-math.inf).tolist() == [-1, -1]
    assert pk.thresholds8(math.inf).tolist() == [-1, -1]
    assert pk.thresholds8(1e7).tolist() == [-1, -1]
    assert pk.thresholds8(-1e7).tolist() == [-1, -1]
    top = (255 + pk.lo8.sum(axis=1)) / pk.scale8                     # the largest log10 threshold that fits
    assert (pk.thresholds8(float(top.min()) - 1e-3) > 0).all()
    assert (pk.thresholds8(float(top.max()) + 1.0) == -1).all()
    # the whole kernel still equals the exhaustive scan, also at a threshold no 8-bit test can count
    qg = rng.integers(0, 3, size=(40, L)).astype(np.int32)
    t = table_group(v, np.zeros(v.shape, np.uint8), np.ones((C, L), np.uint8), offsets)
    full = scores_numpy(t.log_tab, t.incons, t.typed, offsets, qg)
    for thr in (150.0, float(np.sort(full.ravel())[-30]), 1e4):
        stats = np.zeros(1, dtype=np.int64)
        q, c, s, _, _ = score_tile(t, query_columns(qg, offsets), np.arange(40), np.arange(40),
                                   np.arange(C), False, thr, 0, stats)
        assert {(int(a), int(b)): float(x) for a, b, x in zip(q, c, s)} == \
            {(i, j): full[i, j] for i, j in zip(*np.nonzero(full >= thr))}
