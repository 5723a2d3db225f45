"""Chance hits (kinship.chance) against brute force.

* ``naive_exceedance``: every genotype vector of a small panel enumerated, its
  population probability computed here from the allele frequencies by hand
  (p_a^2, 2 p_a p_b) and its LR from the table: the slow, obviously correct
  reference.  The exact method's bracket must contain it; importance sampling
  and plain simulation must agree within their standard errors.
* On 20 real loci, where enumeration is impossible: candidates simulated here
  from the allele frequencies (brute force) at moderate thresholds, and the
  exact method against importance sampling in the far tail.
* Theory: each locus of a proper LR table has sum_g P(g) T[g] = 1 (so E[LR] = 1
  and P(LR >= t) <= 1/t, Markov).
* ``expected_chance_hits`` against the count of chance hits in a simulated
  search scored exhaustively.
"""
import itertools
import math

import numba
import numpy as np
import pytest

import kinship
from kinship.chance import (_ROUND_EPS, ChanceHits, exceedance, expected_chance_hits, format_lr,
                            genotype_probabilities, grid_index)
from kinship.search import ScoringModel, score_exhaustive
from kinship.tables import genotype_index

MUT = kinship.MutationModel(female=kinship.Stepwise(rate=0.01, rate2=0.001, range=0.3),
                            male=kinship.Stepwise(rate=0.03, rate2=0.002, range=0.5))

SMALL = {
    "L1": {"8": 0.1, "9": 0.2, "10": 0.3, "11": 0.4},
    "L2": {"12": 0.05, "13": 0.25, "14": 0.3, "15": 0.25, "16": 0.15},
    "L3": {"6": 0.5, "7": 0.2, "9.3": 0.3},
    "L4": {"20": 0.15, "21": 0.35, "22": 0.2, "23": 0.3},
}
# thresholds away from the (finitely many) LR values a tiny panel can take
T_SMALL = 10.0 ** np.array([-1.37, 0.23, 1.13, 2.07, 3.31, 4.41])


def small_model(mutation=MUT, theta=0.0):
    ft = kinship.FrequencyTable.from_dict(SMALL)
    return ScoringModel(ft, list(SMALL), mutation, theta)


def random_codes(model, n, rng):
    codes = np.zeros((n, len(model.loci), 2), dtype=np.int16)
    for l, s in enumerate(model.systems):
        codes[:, l] = rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum())
    return codes


def naive_population(model):
    """Per locus: {genotype index: probability}, by hand from the frequencies."""
    out = []
    for s in model.systems:
        p = {i: f for i, f in enumerate(s.freqs)}
        d = {}
        for a in p:
            for b in p:
                if a <= b:
                    d[int(genotype_index(a, b))] = p[a] ** 2 if a == b else 2 * p[a] * p[b]
        out.append(d)
    return out


def naive_exceedance(tables, c, model, thresholds, under="H2"):
    """Sum of P(g) over every genotype vector g with prod_l T >= t."""
    pops = naive_population(model)
    per_locus = []
    for l, pop in enumerate(pops):
        o = model.offsets[l]
        vals = [(pr, tables.lr[c, o + g]) for g, pr in pop.items()]
        if under == "H1":  # the candidate's law given the case: P(g) T[g], normalised
            z = sum(pr * v for pr, v in vals)
            vals = [(pr * v / z, v) for pr, v in vals]
        per_locus.append(vals)
    tot = np.zeros(len(thresholds))
    for combo in itertools.product(*per_locus):
        pr = math.prod(x[0] for x in combo)
        lr = math.prod(x[1] for x in combo)
        tot += pr * (lr >= np.asarray(thresholds))
    return tot


@pytest.fixture(scope="module")
def small_tables():
    model = small_model()
    rng = np.random.default_rng(4)
    refs = random_codes(model, 3, rng)
    out = {rel: model.compile_pairwise(rel, ["a", "b", "c"], refs)
           for rel in ("parent-child", "full-sibling", "half-sibling")}
    fa, mo = random_codes(model, 2, rng)
    out["couple"] = model.compile_cases([{"id": "k", "relatives": [("F", "father", "male", fa),
                                                                   ("M", "mother", "female", mo)]}])
    return model, out


def test_genotype_probabilities_are_hardy_weinberg_by_hand():
    model = small_model()
    pg = genotype_probabilities(model)
    pops = naive_population(model)
    for l, pop in enumerate(pops):
        o = model.offsets[l]
        for g, pr in pop.items():
            assert pg[o + g] == pytest.approx(pr, rel=1e-12)
    # theta: P(a/a) = p (θ + (1-θ) p), P(a/b) = 2 (1-θ) p_a p_b; L3 has p = 0.5, 0.2, 0.3
    m = small_model(theta=0.1)
    pt = genotype_probabilities(m, h2="theta")
    o = m.offsets[2]
    assert pt[o + genotype_index(0, 0)] == pytest.approx(0.5 * (0.1 + 0.9 * 0.5))
    assert pt[o + genotype_index(0, 2)] == pytest.approx(2 * 0.9 * 0.5 * 0.3)


def test_genotype_probabilities_cached_on_the_model_read_only():
    """Asked for once per unit and partial hit: computed once per model and law."""
    m = small_model(theta=0.1)
    hw, th = genotype_probabilities(m), genotype_probabilities(m, h2="theta")
    assert genotype_probabilities(m) is hw and genotype_probabilities(m, h2="theta") is th
    assert not hw.flags.writeable and not np.array_equal(hw, th)
    assert genotype_probabilities(small_model(theta=0.1)) is not hw     # another model: its own


def test_silent_allele_calls_fold_into_homozygotes():
    ft = kinship.FrequencyTable.from_dict({"L1": {"8": 0.3, "9": 0.6}}, silent=0.1)
    m = ScoringModel(ft, ["L1"])
    pg = genotype_probabilities(m)
    # alleles 8, 9, silent with frequencies 0.3, 0.6, 0.1
    p8, p9, ps = 0.3, 0.6, 0.1
    assert pg[genotype_index(0, 0)] == pytest.approx(p8 ** 2 + 2 * p8 * ps)
    assert pg[genotype_index(1, 1)] == pytest.approx(p9 ** 2 + 2 * p9 * ps)
    assert pg[genotype_index(0, 1)] == pytest.approx(2 * p8 * p9)
    assert pg[genotype_index(0, 2)] == 0 and pg[genotype_index(1, 2)] == 0
    assert pg[genotype_index(2, 2)] == pytest.approx(ps ** 2)  # nothing seen: untyped
    assert pg.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("rel", ["parent-child", "full-sibling", "half-sibling", "couple"])
def test_exact_bracket_contains_enumeration(small_tables, rel):
    model, tabs = small_tables
    t = tabs[rel]
    for c in range(len(t)):
        truth = naive_exceedance(t, c, model, T_SMALL)
        e = exceedance(t, c, T_SMALL, model=model, method="exact", resolution=1e-3)
        assert np.all(e.lower <= truth * (1 + 1e-9) + 1e-300)
        assert np.all(truth <= e.upper * (1 + 1e-9) + 1e-300)
        assert np.all((e.lower <= e.estimate) & (e.estimate <= e.upper))
        # and the bracket is tight where the rounding cannot cross an LR value
        fine = exceedance(t, c, T_SMALL, model=model, method="exact", resolution=1e-5)
        np.testing.assert_allclose(fine.estimate, truth, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("rel", ["parent-child", "full-sibling", "couple"])
def test_importance_sampling_and_simulation_agree_with_enumeration(small_tables, rel):
    model, tabs = small_tables
    t = tabs[rel]
    truth = naive_exceedance(t, 0, model, T_SMALL)
    for method, tilt, seed in (("is", "auto", 1), ("is", 1.0, 2), ("mc", "auto", 3)):
        e = exceedance(t, 0, T_SMALL, model=model, method=method, tilt=tilt, n_samples=20000, seed=seed)
        ok = truth > 0
        z = (e.estimate[ok] - truth[ok]) / np.maximum(e.stderr[ok], 1e-300)
        # the standard error itself is estimated; where no draw reached t it is 0
        reached = e.stderr[ok] > 0
        assert np.all(np.abs(z[reached]) < 5), (method, tilt, z)
        if method == "is" and tilt == "auto":
            assert reached.all()


def test_h1_exceedance_is_the_relative_law(small_tables):
    model, tabs = small_tables
    t = tabs["full-sibling"]
    truth = naive_exceedance(t, 1, model, T_SMALL, under="H1")
    e = exceedance(t, 1, T_SMALL, model=model, method="exact", resolution=1e-5, under="H1")
    np.testing.assert_allclose(e.estimate, truth, rtol=1e-9)


def test_loci_the_case_did_not_type_are_left_out():
    model = small_model()
    refs = random_codes(model, 1, np.random.default_rng(3))
    refs[0, 1] = -1  # reference untyped at L2: factor 1 for every candidate
    t = model.compile_pairwise("full-sibling", ["a"], refs)
    assert not t.typed[0, 1]
    truth = naive_exceedance(t, 0, model, T_SMALL)  # L2 contributes T = 1 at every genotype
    e = exceedance(t, 0, T_SMALL, model=model, method="exact", resolution=1e-5)
    np.testing.assert_allclose(e.estimate, truth, rtol=1e-9, atol=1e-15)
    assert e.details["loci"] == 3


def test_mean_lr_and_markov_bound(small_tables):
    # parent-child: the reference is a founder, so sum_g P(g) T[g] = sum_g P(g | R, H1) = 1
    # at every locus (with mutation): E[LR] = 1 and P(LR >= t) <= 1/t
    model, tabs = small_tables
    t = tabs["parent-child"]
    for c in range(len(t)):
        e = exceedance(t, c, T_SMALL, model=model, method="exact")
        assert e.mean_lr == pytest.approx(1.0, abs=1e-12)
        assert np.all(naive_exceedance(t, c, model, T_SMALL) <= 1.0 / T_SMALL + 1e-15)
        assert np.all(e.lower <= 1.0 / T_SMALL)


def test_zero_lrs_without_mutation():
    model = small_model(mutation=None)
    refs = random_codes(model, 1, np.random.default_rng(9))
    t = model.compile_pairwise("parent-child", ["a"], refs)
    assert (t.lr == 0).any()
    truth = naive_exceedance(t, 0, model, T_SMALL)
    e = exceedance(t, 0, T_SMALL, model=model, method="exact", resolution=1e-5)
    np.testing.assert_allclose(e.estimate, truth, rtol=1e-9, atol=1e-15)
    # LR > 0 (any tiny threshold): the probability of sharing an allele at every locus
    share = 1.0
    for l, s in enumerate(model.systems):
        p = s.freqs
        a, b = refs[0, l]
        q = p[a] + (p[b] if b != a else 0.0)
        share *= 1 - (1 - q) ** 2
    e0 = exceedance(t, 0, [1e-100], model=model, method="exact")
    assert e0.estimate[0] == pytest.approx(share, rel=1e-9)


# -- 20 real loci ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def codis():
    ft = kinship.FrequencyTable.load()
    loci = ["CSF1PO", "D1S1656", "D2S441", "D2S1338", "D3S1358", "D5S818", "D7S820", "D8S1179",
            "D10S1248", "D12S391", "D13S317", "D16S539", "D18S51", "D19S433", "D21S11", "D22S1045",
            "FGA", "TH01", "TPOX", "vWA"]
    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.0005, rate2=1e-6, range=0.1),
                                male=kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1))
    model = ScoringModel(ft, loci, mut)
    refs = random_codes(model, 40, np.random.default_rng(12))
    return model, refs


def brute_force_candidates(model, n, rng):
    """Genotype indices of n unrelated candidates drawn allele by allele."""
    out = np.empty((n, len(model.loci)), dtype=np.int32)
    for l, s in enumerate(model.systems):
        p = s.freqs / s.freqs.sum()
        a = rng.choice(len(p), size=n, p=p)
        b = rng.choice(len(p), size=n, p=p)
        out[:, l] = genotype_index(a, b)
    return out


def test_exact_and_importance_sampling_agree_with_brute_force_on_20_loci(codis):
    model, refs = codis
    t = model.compile_pairwise("half-sibling", ["r"], refs[:1])
    thr = np.array([1.0, 10.0, 100.0])
    qg = brute_force_candidates(model, 200_000, np.random.default_rng(5))
    s = score_exhaustive(t, qg)[:, 0]
    sim = np.array([(s >= math.log10(x)).mean() for x in thr])
    e = exceedance(t, 0, thr, model=model, method="exact", resolution=1e-3)
    i = exceedance(t, 0, thr, model=model, method="is", n_samples=20000, seed=3)
    se_sim = np.sqrt(sim * (1 - sim) / len(s))
    assert np.all(sim * len(s) >= 30)  # the brute force has seen enough hits to compare
    assert np.all(np.abs(e.estimate - sim) < 4 * se_sim + (e.upper - e.lower))
    assert np.all(np.abs(i.estimate - e.estimate) < 5 * i.stderr + (e.upper - e.lower))


@pytest.mark.parametrize("rel", ["parent-child", "full-sibling"])
def test_far_tail_exact_against_importance_sampling(codis, rel):
    model, refs = codis
    t = model.compile_pairwise(rel, ["r"], refs[1:2])
    thr = np.array([1e6, 1e9, 1e12])
    e = exceedance(t, 0, thr, model=model, method="exact", resolution=5e-4)
    i = exceedance(t, 0, thr, model=model, method="is", n_samples=20000, seed=8)
    assert np.all(e.estimate > 0) and np.all(e.estimate < 1e-5)
    # agreement up to the IS error and the bracket width
    assert np.all(np.abs(i.estimate - e.estimate) <= 5 * i.stderr + (e.upper - e.lower)), (i.estimate, e.estimate)
    assert np.all(e.lower <= e.mean_lr / thr)  # Markov


def test_expected_chance_hits_against_an_exhaustive_search(codis):
    """Unrelated candidates simulated here, scored against 40 half-sibling
    references exhaustively: the count of pairs at or above each threshold is
    Poisson-binomial with the expected value of expected_chance_hits."""
    model, refs = codis
    t = model.compile_pairwise("half-sibling", [f"r{i}" for i in range(len(refs))], refs)
    nq = 20000
    qg = brute_force_candidates(model, nq, np.random.default_rng(21))
    S = score_exhaustive(t, qg)
    thr = np.array([10.0, 100.0, 1000.0])
    observed = np.array([(S >= math.log10(x)).sum() for x in thr])
    ch = expected_chance_hits(t, nq, thr, model=model, method="exact", max_cases=None, per_case=True)
    assert ch.n_comparisons == nq * len(refs)
    assert np.all(observed >= 20)
    z = (observed - ch.expected) / np.sqrt(ch.expected)
    assert np.all(np.abs(z) < 4), (observed, ch.expected)
    # the sum over cases is the per-case probabilities times the number of queries
    np.testing.assert_allclose(ch.expected, nq * ch.per_case.sum(axis=0), rtol=1e-12)
    # a random subset of cases: unbiased, with its sampling error in stderr
    sub = expected_chance_hits(t, nq, thr, model=model, max_cases=15, seed=2)
    assert sub.cases_used == 15
    assert np.all(np.abs(sub.expected - ch.expected) < 5 * sub.stderr)


def test_chance_hits_reporting():
    ch = ChanceHits(np.array([1e4, 1e6, 1e8]), np.array([30.0, 0.2, 0.25]), np.zeros(3), np.zeros(3),
                    np.zeros(3), n_queries=10 ** 6, n_cases=10 ** 6, cases_used=100, method="exact",
                    h2="hw", mean_lr=1.0)
    assert ch.n_comparisons == 10 ** 12
    assert ch.at(3e6) == 0.2          # the value at the largest threshold <= 3e6
    assert ch.at(1e9) == 0.2          # never more than at a smaller threshold
    assert math.isnan(ch.at(10))
    assert ch.sentence(3e6) == ("LR 3x10^6; about 0.2 chance hits of this size expected in this "
                                "search (10^12 comparisons)")
    assert format_lr(3e6) == "3x10^6" and format_lr(1e6) == "10^6" and format_lr(250) == "250"
    assert format_lr(2.5e7) == "2.5x10^7"


def test_bad_arguments_are_explained(small_tables):
    model, tabs = small_tables
    t = tabs["parent-child"]
    with pytest.raises(ValueError, match="method must be one of"):
        exceedance(t, 0, [10], model=model, method="magic")
    for bad in ([-1], [0.0], [float("inf")], []):
        with pytest.raises(ValueError, match="thresholds must be finite positive LRs"):
            exceedance(t, 0, bad, model=model)
    with pytest.raises(ValueError, match="use the model that compiled them"):
        exceedance(t, 0, [10], model=np.ones(3))
    with pytest.raises(IndexError):
        exceedance(t, 7, [10], model=model)


# --------------------------------------------------------------------------------------
# the exact method's convolution and binning as they were before they became numba
# kernels (kinship/chance.py at 767d078, copied verbatim but for the names): the
# reference of the same-bits tests below
# --------------------------------------------------------------------------------------
_REF_SHIFT_BLOCK = 1024


@numba.njit(cache=False)
def _ref_shift_add(new, dist, ks, ms):
    K, n = dist.shape
    W = new.shape[1]
    B = _REF_SHIFT_BLOCK
    for r in range(K):
        src = dist[r]
        for j0 in range(0, W, B):
            j1 = min(j0 + B, W)
            for i in range(len(ks)):
                kv = ks[i]
                mv = ms[i]
                a = max(j0, kv)            # columns a .. b - 1 of the block get src[a - kv ..]
                b = min(j1, kv + n)
                if a >= b:
                    continue
                out = new[r, a:b]          # views: the loop is vectorised
                s = src[a - kv:b - kv]
                for j in range(b - a):
                    out[j] += mv * s[j]


def _ref_bin_locus(lv, P, delta, how):
    k, fin = grid_index(lv, delta, how)
    uk, inv = np.unique(k, return_inverse=True)
    m = np.bincount(inv.ravel(), weights=P[fin], minlength=len(uk))
    return uk, m


def _ref_convolve_tail(locs, kappas, zeros=None, max_skip=0):
    if max_skip <= 0 or zeros is None:
        zeros = [0.0] * len(locs)
        max_skip = 0
    if any(len(uk) == 0 and not (max_skip and z > 0) for (uk, _), z in zip(locs, zeros)):
        return np.zeros(len(kappas))  # a locus where every genotype has LR 0
    shifts = []
    for (uk, _), z in zip(locs, zeros):
        cand = ([int(uk.min()), int(uk.max())] if len(uk) else []) + ([0] if max_skip and z > 0 else [])
        shifts.append((min(cand), max(cand)))
    kmax = np.array([hi for _, hi in shifts], dtype=np.int64)
    rest = np.concatenate([np.cumsum(kmax[::-1])[::-1], [0]])  # rest[i] = sum_{j >= i} kmax[j]
    kmin_needed = int(kappas.min())
    if rest[0] < kmin_needed:
        return np.zeros(len(kappas))
    K = max_skip + 1
    lo = 0
    dist = np.zeros((K, 1))
    dist[0, 0] = 1.0
    for i, ((uk, m), z) in enumerate(zip(locs, zeros)):
        base, top = shifts[i]
        span = top - base
        n = dist.shape[1]
        new = np.zeros((K, n + span))
        _ref_shift_add(new, dist, np.ascontiguousarray(uk - base, dtype=np.int64),
                       np.ascontiguousarray(m, dtype=np.float64))
        if max_skip and z > 0:
            new[1:, -base:-base + n] += z * dist[:-1]
        lo += base
        cut = kmin_needed - int(rest[i + 1]) - lo
        if cut > 0:
            new = new[:, cut:]
            lo += cut
        nz = np.nonzero(new.any(axis=0))[0]
        if len(nz) == 0:
            return np.zeros(len(kappas))
        new = new[:, nz[0]:nz[-1] + 1]
        lo += int(nz[0])
        dist = new
    flat = dist[0] if K == 1 else dist.sum(axis=0)
    tail = np.cumsum(flat[::-1])[::-1]  # tail[j] = P(K >= lo + j)
    out = np.zeros(len(kappas))
    for j, kap in enumerate(kappas.tolist()):
        idx = kap - lo
        out[j] = tail[0] if idx <= 0 else (tail[idx] if idx < len(tail) else 0.0)
    return out


def _ref_exact(locs, taus, resolution, bracket=True, max_skip=0):
    d = float(resolution)
    zeros = [float(P[~np.isfinite(lv)].sum()) for lv, P in locs] if max_skip else None
    t = taus
    res = {}
    passes = (("up", np.ceil(t / d - _ROUND_EPS * np.maximum(1.0, np.abs(t / d)))),
              ("down", np.ceil(t / d + _ROUND_EPS * np.maximum(1.0, np.abs(t / d)))),
              ("near", np.ceil(t / d)))
    for how, kap in (passes if bracket else passes[2:]):
        binned = [_ref_bin_locus(lv, P, d, how) for lv, P in locs]
        res[how] = (_ref_convolve_tail(binned, kap.astype(np.int64), zeros, max_skip) if len(locs)
                    else (t <= 0).astype(float))
    if not bracket:
        nan = np.full(len(taus), np.nan)
        return res["near"], np.zeros(len(taus)), nan, nan
    lower = res["down"] * (1 - 1e-12)
    upper = np.minimum(1.0, res["up"] * (1 + 1e-12))
    est = np.clip(res["near"], lower, upper)
    return est, np.zeros_like(est), lower, upper


def _same_bits(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def test_reference_shift_add_is_the_numpy_loop():
    """The reference's ``_shift_add`` (its columns a block at a time) against the NumPy
    loop it stands for, ``new[:, k:k + n] += m * dist`` for each ``(k, m)`` in turn, bit
    for bit, on rows shorter and longer than a block and shifts past a block's edge."""
    rng = np.random.default_rng(61)
    for trial in range(60):
        K = int(rng.integers(1, 4))
        n = int(rng.integers(1, 3 * _REF_SHIFT_BLOCK))
        m = int(rng.integers(1, 80))
        ks = np.unique(rng.integers(0, int(rng.integers(1, 2 * _REF_SHIFT_BLOCK)), size=m)).astype(np.int64)
        ms = rng.random(len(ks)) ** 4
        dist = rng.random((K, n)) ** 3
        dist[:, rng.random(n) < 0.1] = 0.0
        want = np.zeros((K, n + int(ks.max())))
        for k, mv in zip(ks.tolist(), ms.tolist()):
            want[:, k:k + n] += mv * dist
        got = np.zeros_like(want)
        _ref_shift_add(got, dist, ks, ms)
        assert _same_bits(got, want), trial


def _random_convolution(rng, L, nv, span):
    """Loci with random grid values (ascending, distinct, negative and positive, as
    binning gives them) and masses (some exactly 0, at the top too), LR-0 masses,
    ``max_skip`` and kappas below, inside and beyond the reachable range."""
    locs = []
    for _ in range(L):
        if rng.random() < 0.04:
            uk = np.zeros(0, dtype=np.int64)       # every genotype LR 0
        else:
            w = int(rng.integers(0, span + 1))
            lo = int(rng.integers(-w, w // 4 + 2))
            uk = np.unique(rng.integers(lo, lo + w + 1, size=int(rng.integers(1, nv + 1))))
        m = rng.random(len(uk)) ** 3 * 0.9 ** len(uk)
        m[rng.random(len(uk)) < 0.05] = 0.0
        if len(uk) > 1 and rng.random() < 0.15:
            m[-1] = 0.0                             # the largest value has no mass
        locs.append((uk.astype(np.int64), m))
    max_skip = int(rng.choice([0, 0, 1, 2]))
    zeros = [float(rng.random() * 0.3) if rng.random() < 0.6 else 0.0 for _ in range(L)]
    if rng.random() < 0.1:
        zeros = None
    lo_sum = sum(int(uk.min()) for uk, _ in locs if len(uk))
    hi_sum = sum(int(uk.max()) for uk, _ in locs if len(uk))
    how = rng.random()
    n_k = int(rng.integers(1, 40))
    if how < 0.6:        # inside the range, with some below and beyond it
        kap = rng.integers(lo_sum - 20, hi_sum + 20, size=n_k, endpoint=True)
    elif how < 0.75:     # every kappa beyond the largest sum
        kap = rng.integers(hi_sum + 1, hi_sum + 100, size=n_k)
    elif how < 0.9:      # near the top: partial sums cut on the way
        kap = rng.integers(hi_sum - span, hi_sum + 1, size=n_k, endpoint=True)
    else:                # every kappa at or below the smallest sum
        kap = rng.integers(lo_sum - 100, lo_sum + 1, size=n_k, endpoint=True)
    return locs, kap.astype(np.int64), zeros, max_skip


def test_convolution_same_bits_as_the_former_implementation():
    """``_convolve_tail`` (one numba kernel over the loci, the columns below the cut never
    computed) against the former implementation (``_ref_convolve_tail``), bit for bit,
    on random loci: 0 to 23 of them, empty ones, masses 0 at the ends, one to three
    rows (``max_skip`` 0, 1, 2, LR-0 masses, ``zeros=None``), kappas anywhere; and on
    convolutions of the size of a real case (23 loci of up to 150 values over up to
    1800 grid points, the engine's threshold grid)."""
    from kinship.chance import _convolve_tail

    rng = np.random.default_rng(2027)
    seen = {"zero": 0, "positive": 0, "rows": 0, "one": 0}
    for trial in range(1500):
        L = int(rng.choice([0, 1, 2, 3, 4, 6, 9, 14, 23]))
        locs, kap, zeros, max_skip = _random_convolution(rng, L, int(rng.integers(1, 30)),
                                                         int(rng.integers(0, 300)))
        want = _ref_convolve_tail(locs, kap, zeros, max_skip)
        got = _convolve_tail(locs, kap, zeros, max_skip)
        assert _same_bits(got, want), trial
        seen["zero"] += not want.any()
        seen["positive"] += bool(want.any())
        seen["one"] += bool(np.any(want == 1.0))
        seen["rows"] += bool(want.any() and max_skip and zeros is not None)
    assert min(seen.values()) >= 50, seen   # every kind of outcome was compared
    # the size of a real case: 23 loci, the engine's grid 10^(k/20) from 10^4 on at
    # resolution 0.005 (kappa 800 ..) and thresholds below 1
    grid = np.ceil(np.arange(80, 2001) / 20 / 0.005).astype(np.int64)
    for trial in range(6):
        locs, _, zeros, max_skip = _random_convolution(rng, 23, 150, 1800)
        for kap in (grid, np.array([-300, 0, 5, 801], dtype=np.int64)):
            want = _ref_convolve_tail(locs, kap, zeros, max_skip)
            got = _convolve_tail(locs, kap, zeros, max_skip)
            assert _same_bits(got, want), trial


def test_binning_same_bits_as_unique_and_bincount():
    """``_bin_loci`` (every locus in one kernel) against ``np.unique`` and ``np.bincount``
    on :func:`grid_index` (the former ``_bin_locus``), bit for bit: values on grid
    points, half-way between (ties of rounding to nearest), LR 0 (``-inf``), loci with
    no finite value or no genotype, and ranges wide enough to be sorted instead of
    counted on a grid, with many genotypes on one grid point."""
    from kinship.chance import _bin_loci

    rng = np.random.default_rng(77)
    for trial in range(300):
        delta = float(rng.choice([0.1, 5e-3, 1e-3, 1e-6]))
        L = int(rng.integers(1, 12))
        lvs, Ps = [], []
        for _ in range(L):
            G = int(rng.choice([0, 1, 3, 10, 55, 300]))
            scale = float(rng.choice([0.5, 4.0, 40.0]))
            x = (rng.random(G) * 2 - 1.2) * scale
            if rng.random() < 0.3:      # few distinct values, far apart: ties when sorted
                x = rng.choice(np.append(x[:8], [-scale * 100, scale * 50]), size=G) if G else x
            kind = rng.random(G)
            x = np.where(kind < 0.2, np.round(x / delta) * delta, x)            # grid points
            x = np.where((kind >= 0.2) & (kind < 0.3), (np.floor(x / delta) + 0.5) * delta, x)
            x = np.where((kind >= 0.3) & (kind < 0.4), -np.inf, x)              # LR 0
            if G and rng.random() < 0.05:
                x[:] = -np.inf
            lvs.append(x)
            Ps.append(rng.random(G) ** 2)
        starts = np.zeros(L + 1, dtype=np.int64)
        np.cumsum([len(x) for x in lvs], out=starts[1:])
        lv_all, P_all = np.concatenate(lvs), np.concatenate(Ps)
        for how in ("up", "down", "near"):
            uk, ms, st = _bin_loci(lv_all, P_all, starts, delta, how)
            for l in range(L):
                wk, wm = _ref_bin_locus(lvs[l], Ps[l], delta, how)
                assert np.array_equal(uk[st[l]:st[l + 1]], wk), (trial, how, l)
                assert _same_bits(ms[st[l]:st[l + 1]], wm), (trial, how, l)


@pytest.mark.parametrize("rel", ["parent-child", "half-sibling", "identity"])
def test_exact_same_bits_as_the_former_implementation_on_20_loci(codis, rel, monkeypatch):
    """The whole exact method on 20 real loci, with the engine's thresholds and
    resolution, with loci left out (``max_inconsistent``), without the bracket and
    under H1: the same bits as with the former binning and convolution."""
    import kinship.chance as chance

    model, refs = codis
    t = model.compile_pairwise(rel, ["a", "b", "c"], refs[2:5])
    th = np.concatenate([[0.3, 1.0, 37.0], 10.0 ** (np.arange(80, 2001) / 20)])
    runs = [dict(resolution=5e-3), dict(resolution=1e-3, bracket=False),
            dict(resolution=5e-3, under="H1")]
    runs += [dict(resolution=5e-3, max_inconsistent=k) for k in (1, 2)]
    new_exact = chance._exact
    for c in range(3):
        for kw in runs:
            monkeypatch.setattr(chance, "_exact", _ref_exact)
            want = exceedance(t, c, th, model=model, **kw)
            monkeypatch.setattr(chance, "_exact", new_exact)
            got = exceedance(t, c, th, model=model, **kw)
            for f in ("estimate", "lower", "upper"):
                assert _same_bits(getattr(got, f), getattr(want, f)), (c, kw, f)
            assert want.estimate[0] > 0, (c, kw)
