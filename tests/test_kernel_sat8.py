"""The saturating 8-bit first pass on real kinship tables.

Parent-child and full-sibling tables (stepwise mutation: no -inf, full siblings
never below LR 1/4 a locus), couple cases and identity, 23 loci, compiled by
:class:`kinship.search.ScoringModel` for 300 references (five 64-case tiles:
one group of four screened together, one alone).  Queries are unrelated
profiles, relatives planted by copying a reference and changing alleles at a
few loci (so that many pairs sit near any threshold), and near-copies of
references (for identity); loci are left untyped on either side.  The
engine's kernel (``engine.kernels.score_tile``) must return exactly the hits
and values of the plain NumPy scan of every pair (``engine.kernels.
scores_numpy``), at thresholds placed on a pair's score and one ulp either
side, with identity's ``max_skip``; so must the library's parallel kernel
(``kinship.search.score``, against ``score_exhaustive``).  The first pass must
also do its job on these tables: it lets through few lanes.  And the packing
and the test, by hand, on values that lie on the grid.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kinship
from engine.compile import table_group
from engine.kernels import score_tile, scores_numpy
from kinship.kernels.score import lane_masks8, pack_tables, query_columns
from kinship.markers import CODIS_CORE_20
from kinship.search import ScoringModel, packed, score, score_exhaustive

N_REFS = 300
MODES = ["parent-child", "full-sibling", "case", "identity"]


def _codes(sm, n, rng):
    c = np.zeros((n, len(sm.loci), 2), dtype=np.int16)
    for l, s in enumerate(sm.systems):
        c[:, l, :] = rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum())
    return c


@pytest.fixture(scope="module")
def world():
    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                                male=kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))
    sm = ScoringModel(kinship.FrequencyTable.load(), list(CODIS_CORE_20) + ["Penta D", "Penta E", "SE33"],
                      mut, 0.0)
    rng = np.random.default_rng(11)
    refs = _codes(sm, 2 * N_REFS, rng)
    # queries: 150 unrelated, 150 copies of a reference with 0-6 loci redrawn and
    # one allele of each locus at random, 40 copies with 0-2 loci redrawn
    q = _codes(sm, 300, rng)
    for i in range(150, 300):
        r = refs[rng.integers(N_REFS)].copy()
        redo = rng.choice(len(sm.loci), size=rng.integers(0, 7), replace=False)
        r[redo] = q[i, redo]
        swap = rng.random(len(sm.loci)) < 0.5          # one allele of each locus from elsewhere
        r[swap, 1] = q[i, swap, 1]
        q[i] = r
    same = refs[rng.integers(N_REFS, size=40)].copy()   # 40 copies with 0-2 loci redrawn
    for i in range(40):
        redo = rng.choice(len(sm.loci), size=i % 3, replace=False)
        same[i, redo] = _codes(sm, 1, rng)[0, redo]
    q = np.concatenate([q, same])
    qg = sm.genotype_indices(q).astype(np.int32)
    qg[rng.random(qg.shape) < 0.05] = -1
    tabs = {}
    compiled = {}
    for mode in MODES:
        if mode == "case":
            ct = sm.compile_cases([{"id": i, "relatives": [("F", "father", "male", refs[2 * i]),
                                                           ("M", "mother", "female", refs[2 * i + 1])]}
                                   for i in range(N_REFS)])
        else:
            ct = sm.compile_pairwise(mode, list(range(N_REFS)), refs[:N_REFS])
        compiled[mode] = ct
        typed = np.ascontiguousarray(ct.typed, dtype=np.uint8)
        typed[rng.random(typed.shape) < 0.05] = 0
        tabs[mode] = SimpleNamespace(log_tab=np.ascontiguousarray(ct.log10()),
                                     incons=np.ascontiguousarray(ct.inconsistent, dtype=np.uint8),
                                     typed=typed, offsets=np.asarray(ct.offsets, dtype=np.int64))
    return tabs, qg, compiled


@settings(max_examples=40, deadline=None)
@given(mode=st.sampled_from(MODES), max_skip=st.integers(0, 2), rank=st.floats(0, 1),
       thr=st.floats(-2, 12), where=st.sampled_from(["score", "below", "above", "free"]))
def test_screen_equals_exhaustive_on_kinship_tables(world, mode, max_skip, rank, thr, where):
    tabs, qg, _ = world
    t = tabs[mode]
    if mode != "identity":
        max_skip = 0
    with np.errstate(invalid="ignore"):
        full = scores_numpy(t.log_tab, t.incons, t.typed, t.offsets, qg, max_skip)
    fin = np.sort(full[np.isfinite(full)])
    if where != "free" and fin.size:
        x = float(fin[-1 - int(rank * min(400, len(fin) - 1))])     # one of the 400 highest scores
        thr = {"score": x, "below": float(np.nextafter(x, -np.inf)), "above": float(np.nextafter(x, np.inf))}[where]
    tab = table_group(t.log_tab, t.incons, t.typed, t.offsets)
    stats = np.zeros(1, dtype=np.int64)
    Q, C = full.shape
    q, c, s, _, _ = score_tile(tab, query_columns(qg, t.offsets), np.arange(Q), np.arange(Q), np.arange(C),
                               False, thr, max_skip, stats, cap=8)
    with np.errstate(invalid="ignore"):
        want = {(i, j): full[i, j] for i, j in zip(*np.nonzero(full >= thr))}
    assert {(int(a), int(b)): float(x) for a, b, x in zip(q, c, s)} == want


@pytest.mark.parametrize("mode", MODES)
def test_first_pass_screens_kinship_tables(world, mode):
    """At LR 1e4 every tile's first pass is on and lets through under 1 % of
    the lanes of unrelated queries (it used to pass most full-sibling lanes)."""
    tabs, qg, _ = world
    t = tabs[mode]
    skip = mode == "identity"
    pk = pack_tables(t.log_tab, t.incons, t.typed, t.offsets, skip=skip)
    tp = pk.thresholds8(4.0, int(skip))
    assert (tp > 0).all()
    unrelated = query_columns(qg[:150], t.offsets)
    masks = np.zeros((150, pk.rows8.shape[0]), dtype=np.uint64)
    lane_masks8(pk.rows8, tp, unrelated, t.log_tab.shape[1], masks)
    passed = sum(bin(int(m)).count("1") for m in masks.ravel())
    assert passed < 0.01 * 150 * N_REFS


def test_packing_by_hand():
    """Values on the grid: 3 loci of values k/16 in [-0.5, 0.5] (and one -inf,
    one NaN, one +inf, one untyped locus).  The finest grid, s = 16, fits
    (ceil(16 x 8) = 128 units for thresholds up to LR 1e8, plus floors of 8
    units a locus: 128 + 32 + 8 + 8 <= 255); a locus's floor is its lowest
    value (-8 units) or, with -inf (or NaN) at locus 0, the 2-log10 depth (-32
    units); every field is 16 v - lo exactly, 0 for -inf and NaN, 255 for +inf,
    -lo where untyped; the row S + l of an untyped query locus holds -lo_l.  The
    test for a threshold x is floor(16 x - 1e-6) - sum(lo): a pair whose exact
    score is x has field sum 16 x - sum(lo), one unit above it."""
    rng = np.random.default_rng(5)
    C, L, n = 64, 3, 4
    offsets = np.arange(L, dtype=np.int64) * n
    v = rng.integers(-8, 9, size=(C, L * n)) / 16.0
    v[:, 0] = -0.5                                     # every locus reaches -0.5 = -8 units
    v[:, n] = -0.5
    v[:, 2 * n] = -0.5
    v[1, 1], v[2, 2], v[3, 3] = -np.inf, np.nan, np.inf
    typed = np.ones((C, L), np.uint8)
    typed[4, 2] = 0
    pk = pack_tables(v, np.zeros(v.shape, np.uint8), typed, offsets, skip=False)
    assert pk.scale8.tolist() == [16.0]
    assert pk.lo8.tolist() == [[-32, -8, -8]]
    lo = np.repeat([-32, -8, -8], n)
    rows = pk.rows8[0].reshape(L * n + L, 64).astype(np.int64)
    with np.errstate(invalid="ignore"):
        want = (16 * v - lo[None, :]).T                # [S, lanes]
    want[1, 1] = want[2, 2] = 0
    want[3, 3] = 255
    want[2 * n:3 * n, 4] = 8                            # untyped locus of case 4: the value 0
    assert np.array_equal(rows[:L * n], want)
    assert rows[L * n:].tolist() == [[32] * 64, [8] * 64, [8] * 64]
    for x in (0.0, 0.75, 1.0625, -0.3125):
        assert pk.thresholds8(x).tolist() == [int(np.floor(16 * x - 1e-6)) + 48]
    assert pk.thresholds8(8.0).tolist() == [128 - 1 + 48]
    assert pk.thresholds8(13.0).tolist() == [255]              # the largest test 8 bits can count
    assert pk.thresholds8(13.0 + 1 / 16).tolist() == [-1]      # 256: the first pass is off
    assert pk.thresholds8(-3.0).tolist() == [-1]               # <= 0: every lane passes anyway
    # a query whose exact score is x passes the first pass at threshold x, not at
    # x + 2/16; an untyped query locus (-1) counts as the value 0 at its own floor
    # (row S + l: 32 units at locus 0, 8 at locus 2), the other loci as typed
    for g in ([2, 3, 1], [2, 3, -1], [-1, 3, 1], [-1, -1, 1]):
        qg = np.array([g], dtype=np.int32)
        qcol = query_columns(qg, offsets)
        for c in (0, 5, 63):
            x = float(sum(v[c, offsets[l] + g[l]] for l in range(L) if g[l] >= 0))
            masks = np.zeros((1, 1), dtype=np.uint64)
            lane_masks8(pk.rows8, pk.thresholds8(x), qcol, L * n, masks)
            assert (int(masks[0, 0]) >> c) & 1
            masks[:] = 0
            lane_masks8(pk.rows8, pk.thresholds8(x + 2 / 16), qcol, L * n, masks)
            assert not (int(masks[0, 0]) >> c) & 1


@pytest.mark.parametrize("mode", MODES)
def test_library_score_equals_exhaustive(world, mode):
    """:func:`kinship.search.score` (queries in parallel blocks, the same passes)
    on the same tables: the hits and values of the exhaustive scan, each
    query's cases in order, at thresholds from the highest scores down."""
    tabs, qg, compiled = world
    ct = compiled[mode]
    skip = 1 if mode == "identity" else 0
    full = score_exhaustive(ct, qg)
    if skip:          # identity with max_skip: the kernel's NumPy reference leaves the loci out
        full = scores_numpy(np.ascontiguousarray(ct.log10()), ct.inconsistent.astype(np.uint8),
                            ct.typed.astype(np.uint8), np.asarray(ct.offsets), qg, skip)
    top = np.sort(full[np.isfinite(full)])[::-1]
    assert len(top) > 30
    for log_t in (top[0], top[5], top[30], top[len(top) // 2], 4.0, 0.0):
        t = 10.0 ** float(log_t)
        log_t = math.log10(t)                       # the threshold as score() sees it
        hits = score(ct, qg, threshold=t, max_skip=skip)
        got = list(zip(hits.query.tolist(), hits.case.tolist(), hits.log10_lr.tolist()))
        with np.errstate(invalid="ignore"):
            want = [(i, j, full[i, j]) for i, j in zip(*np.nonzero(full >= log_t))]
        assert got == want
    # the low thresholds let most queries through: each call switched the first
    # pass off on its own copy, never on the block's cached screening form, so a
    # later call does not depend on the calls before it
    assert packed(ct, skip).use8.all()
