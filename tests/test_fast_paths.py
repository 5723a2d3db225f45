"""Every fast path against the exact pedigree likelihood (and closed forms).

* pair tables (every pairwise relationship) against ``likelihood_ratio`` on the
  same two persons, with mutation and theta;
* pair tables without mutation and theta against the IBD closed form
  k0 + k1 Φ1 + k2 Φ2, computed here from first principles;
* the couple and duo closed-form compilers against the generic case compiler;
* the generic case compiler against ``likelihood_ratio``;
* the screened scoring kernel against an exhaustive scan.
"""
import numpy as np
import pytest
from ibd import ibd_closed_form
from hypothesis import given, settings, strategies as st

import kinship
from kinship.search import ScoringModel, score, score_exhaustive
from kinship.tables import RELATIONSHIPS, genotype_index, pair_table, relationship_pedigrees

LOC = "L1"
ALLELES = ["8", "9", "9.3", "10", "11"]
FREQ = {LOC: {"8": 0.125, "9": 0.25, "9.3": 0.0625, "10": 0.3125, "11": 0.25}}
MUT = kinship.MutationModel(
    female=kinship.Stepwise(rate=0.01, rate2=0.001, range=0.3),
    male=kinship.Stepwise(rate=0.03, rate2=0.002, range=0.5),
)

genotype = st.tuples(st.sampled_from(ALLELES), st.sampled_from(ALLELES))


def _ft():
    return kinship.FrequencyTable.from_dict(FREQ)


_TABLES = {}


def _pair_table_cached(rel, theta, sex):
    key = (rel, theta, sex)
    if key not in _TABLES:
        _TABLES[key] = pair_table(rel, _ft().locus_alleles(LOC), MUT, theta, ref_sex=sex)
    return _TABLES[key]


@pytest.mark.parametrize("rel", [r for r in RELATIONSHIPS if r != "identity"])
@pytest.mark.parametrize("theta", [0.0, 0.02])
@settings(max_examples=6, deadline=None)
@given(gr=genotype, gq=genotype)
def test_pair_table_equals_exact_lr(rel, theta, gr, gq):
    ft = _ft()
    la = ft.locus_alleles(LOC)
    for sex in ("male", "female"):
        W, I = _pair_table_cached(rel, theta, sex)
        h1, h2 = relationship_pedigrees(rel, sex)
        r = kinship.likelihood_ratio(h1.records(), h2.records(), {"R": {LOC: gr}, "Q": {LOC: gq}},
                                     ft, MUT, theta)
        i = {a: k for k, a in enumerate(la.alleles)}
        gi, gj = genotype_index(i[gr[0]], i[gr[1]]), genotype_index(i[gq[0]], i[gq[1]])
        assert W[gi, gj] == pytest.approx(r.total, rel=1e-9)
        assert bool(I[gi, gj]) == (LOC in r.inconsistent)


@pytest.mark.parametrize("rel", list(RELATIONSHIPS))
def test_pair_table_matches_ibd_formula(rel):
    ft = _ft()
    la = ft.locus_alleles(LOC)
    W, _ = pair_table(rel, la, None, 0.0)
    p = dict(zip(la.alleles, la.freqs))
    for x in range(len(ALLELES)):
        for y in range(x, len(ALLELES)):
            for u in range(len(ALLELES)):
                for v in range(u, len(ALLELES)):
                    gr = (la.alleles[x], la.alleles[y])
                    gq = (la.alleles[u], la.alleles[v])
                    want = ibd_closed_form(RELATIONSHIPS[rel], gr, gq, p)
                    got = W[genotype_index(x, y), genotype_index(u, v)]
                    assert got == pytest.approx(want, rel=1e-12), (rel, gr, gq)


def _model(theta, loci=("D3S1358", "vWA", "TH01", "D21S11")):
    return ScoringModel(kinship.FrequencyTable.load(), loci, MUT, theta)


def _random_codes(sm, n, rng):
    c = np.zeros((n, len(sm.loci), 2), dtype=np.int16)
    for l, s in enumerate(sm.systems):
        c[:, l, :] = rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum())
    return c


@pytest.mark.parametrize("theta", [0.0, 0.03])
def test_couple_and_duo_closed_forms_equal_generic(theta):
    sm = _model(theta)
    rng = np.random.default_rng(11)
    for _ in range(3):
        F, Mo = _random_codes(sm, 2, rng)
        Mo[1] = -1  # one parent untyped at one locus: the couple falls back to a duo there
        cases = [
            {"id": "couple", "relatives": [("F", "father", "male", F), ("Mo", "mother", "female", Mo)]},
            {"id": "duo-f", "relatives": [("F", "father", "male", F)]},
            {"id": "duo-m", "relatives": [("Mo", "mother", "female", Mo)]},
        ]
        fast = sm.compile_cases(cases)
        lr = np.ones_like(fast.lr)
        inc = np.zeros_like(fast.inconsistent)
        typed = np.zeros_like(fast.typed)
        for ci, case in enumerate(cases):
            sm._compile_generic(case, ci, lr, inc, typed)
        np.testing.assert_allclose(fast.lr, lr, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(fast.inconsistent, inc)
        np.testing.assert_array_equal(fast.typed, typed)


@pytest.mark.parametrize("mut", [MUT, None])
def test_couple_closed_form_at_theta0_is_the_numpy_form_bit_for_bit(mut):
    """θ = 0: the kernel that makes each couple's transmission rows
    (kinship.search._couple_fill_theta0) gives the bits of the NumPy expressions of
    the closed form, written here: ``tF = ½(Mm[f1] + Mm[f2])`` (``p Mm`` where the
    father is untyped), the same without mutation for the inconsistency flags, and
    ``p_a p_b`` (x 2 if a != b) below."""
    from kinship.tables import genotype_pairs

    sm = ScoringModel(kinship.FrequencyTable.load(), ("D3S1358", "vWA", "TH01", "D21S11", "FGA"), mut, 0.0)
    rng = np.random.default_rng(7)
    n = 40
    F, Mo = _random_codes(sm, n, rng), _random_codes(sm, n, rng)
    F[::5, 1] = -1          # the father untyped at a locus
    Mo[::7, 2] = -1         # the mother
    F[3, 4] = Mo[3, 4] = -1  # both: the locus untyped
    cases = [{"id": f"c{i}", "relatives": [("F", "father", "male", F[i]), ("Mo", "mother", "female", Mo[i])]}
             for i in range(n)]
    got = sm.compile_cases(cases)
    lr = np.ones_like(got.lr)
    inc = np.zeros_like(got.inconsistent)
    for l, s in enumerate(sm.systems):
        f1, f2, m1, m2 = (x.astype(np.int64) for x in (F[:, l, 0], F[:, l, 1], Mo[:, l, 0], Mo[:, l, 1]))
        ft, mt = (f1 >= 0) & (f2 >= 0), (m1 >= 0) & (m2 >= 0)
        sel = ft | mt
        A, p = s.n_alleles, s.freqs
        fM, mM = sm._mats[l]
        E = np.eye(A)
        Mm, Mf = (E if mM is None else mM), (E if fM is None else fM)
        ftc, mtc = ft[:, None], mt[:, None]
        tF = np.where(ftc, 0.5 * (Mm[f1] + Mm[f2]), p @ Mm)
        tM = np.where(mtc, 0.5 * (Mf[m1] + Mf[m2]), p @ Mf)
        tF0 = np.where(ftc, 0.5 * (E[f1] + E[f2]), p)
        tM0 = np.where(mtc, 0.5 * (E[m1] + E[m2]), p)
        a, b = genotype_pairs(A)
        het = a != b
        num = tF[:, a] * tM[:, b] + np.where(het, tF[:, b] * tM[:, a], 0.0)
        num0 = tF0[:, a] * tM0[:, b] + np.where(het, tF0[:, b] * tM0[:, a], 0.0)
        den = np.where(het, 2 * (p[a] * p[b]), p[a] * p[b])
        o = sm.offsets[l]
        lr[sel, o:o + len(a)] = (num / den)[sel]
        inc[sel, o:o + len(a)] = (num0 == 0.0)[sel]
    assert got.lr.tobytes() == lr.tobytes()
    np.testing.assert_array_equal(got.inconsistent, inc)


def _labels(sm, codes):
    return {s.locus: (s.alleles[codes[l, 0]], s.alleles[codes[l, 1]])
            for l, s in enumerate(sm.systems) if codes[l, 0] >= 0}


@pytest.mark.parametrize("theta", [0.0, 0.02])
def test_generic_case_equals_likelihood_ratio(theta):
    # grandparents + an uncle: compiled table lookup vs the public LR
    sm = _model(theta, loci=("D3S1358", "TH01"))
    rng = np.random.default_rng(5)
    gf, gm, un, q = _random_codes(sm, 4, rng)
    case = {"id": "c", "relatives": [("GF", "grandfather", "male", gf), ("GM", "grandmother", "female", gm),
                                     ("UN", "uncle", "male", un)]}
    tab = sm.compile_cases([case])
    qg = sm.genotype_indices(q[None])[0]
    h1 = [{"id": "GF", "sex": "male"}, {"id": "GM", "sex": "female"},
          {"id": "FA", "father": "GF", "mother": "GM", "sex": "male"},
          {"id": "UN", "father": "GF", "mother": "GM", "sex": "male"},
          {"id": "MO", "sex": "female"}, {"id": "Q", "father": "FA", "mother": "MO", "sex": "male"}]
    h2 = [{"id": "GF", "sex": "male"}, {"id": "GM", "sex": "female"},
          {"id": "UN", "father": "GF", "mother": "GM", "sex": "male"}, {"id": "Q", "sex": "male"}]
    g = {"GF": _labels(sm, gf), "GM": _labels(sm, gm), "UN": _labels(sm, un), "Q": _labels(sm, q)}
    r = kinship.likelihood_ratio(h1, h2, g, sm.frequencies, MUT, theta)
    per = tab.per_locus(0, qg)
    for locus in r.per_locus:
        assert per[locus] == pytest.approx(r.per_locus[locus], rel=1e-9)


@pytest.mark.parametrize("rel", ["parent-child", "full-sibling", "identity"])
def test_screened_kernel_equals_exhaustive(rel):
    sm = _model(0.0)
    rng = np.random.default_rng(3)
    refs = _random_codes(sm, 40, rng)
    queries = np.concatenate([_random_codes(sm, 300, rng), refs[:5]])  # plant identical profiles
    queries[3, 1] = -1  # an untyped locus
    tab = sm.compile_pairwise(rel, [f"r{i}" for i in range(len(refs))], refs)
    qg = sm.genotype_indices(queries)
    ex = score_exhaustive(tab, qg)
    for t in (0.5, 1.0, 10.0, 100.0, 1e4):
        want = {tuple(x) for x in np.argwhere(ex >= np.log10(t)).tolist()}
        for kw in ({}, {"screen": False}):  # packed screen, then exact; every pair exact
            hits = score(tab, qg, threshold=t, **kw)
            got = set(zip(hits.query.tolist(), hits.case.tolist()))
            assert got == want, (t, kw.keys())
            # the same float64 sum in the same locus order: identical values
            assert hits.log10_lr.tolist() == ex[hits.query, hits.case].tolist()


@pytest.mark.parametrize("theta", [0.0, 0.02])
def test_screened_case_mode_equals_exhaustive(theta):
    # couples, duos and a grandparent case with planted children; screening on
    sm = _model(theta)
    rng = np.random.default_rng(21)
    par = _random_codes(sm, 40, rng)
    cases = []
    for i in range(0, 36, 2):
        cases.append({"id": f"c{i}", "relatives": [("F", "father", "male", par[i]), ("M", "mother", "female", par[i + 1])]})
    cases.append({"id": "duo", "relatives": [("F", "father", "male", par[36])]})
    cases.append({"id": "gp", "relatives": [("GF", "grandfather", "male", par[37]), ("GM", "grandmother", "female", par[38])]})
    tab = sm.compile_cases(cases)
    kids = []
    for i in range(0, 36, 2):  # a child of each couple (no mutation)
        k = np.stack([par[i][:, rng.integers(2, size=1)[0]], par[i + 1][:, rng.integers(2, size=1)[0]]], axis=1)
        kids.append(np.sort(k, axis=1))
    queries = np.concatenate([_random_codes(sm, 400, rng), np.array(kids, dtype=np.int16)])
    qg = sm.genotype_indices(queries)
    ex = score_exhaustive(tab, qg)
    for t in (1.0, 100.0, 1e4):
        want = {tuple(x) for x in np.argwhere(ex >= np.log10(t)).tolist()}
        hits = score(tab, qg, threshold=t)
        assert set(zip(hits.query.tolist(), hits.case.tolist())) == want


def test_identity_tolerates_stated_inconsistent_loci():
    sm = _model(0.0)
    rng = np.random.default_rng(9)
    refs = _random_codes(sm, 3, rng)
    q = refs[0].copy()
    s0 = sm.systems[0]
    q[0] = [(q[0, 0] + 1) % s0.n_alleles, (q[0, 0] + 1) % s0.n_alleles]  # one locus differs
    tab = sm.compile_pairwise("identity", ["a", "b", "c"], refs)
    qg = sm.genotype_indices(q[None])
    assert len(score(tab, qg, threshold=10.0, max_skip=0)) == 0
    hits = score(tab, qg, threshold=10.0, max_skip=1)
    assert hits.case.tolist() == [0] and hits.skipped.tolist() == [1]
    # the LR is the product over the three consistent loci
    per = tab.per_locus(0, qg[0])
    want = sum(np.log10(v) for k, v in per.items() if k != sm.loci[0])
    assert hits.log10_lr[0] == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("theta", [0.0, 0.02])
def test_couple_with_a_parent_untyped_at_a_locus_is_that_parents_duo(theta):
    # at θ = 0 the couple closed form treats the untyped parent as a founder
    # transmitting p M; it must equal the parent-child pair table (at θ > 0 the
    # pair table itself is used)
    sm = _model(theta)
    rng = np.random.default_rng(17)
    F, M = _random_codes(sm, 20, rng), _random_codes(sm, 20, rng)
    F[rng.random(F.shape[:2]) < 0.25] = -1
    M[rng.random(M.shape[:2]) < 0.25] = -1
    cases = [{"id": i, "relatives": [("F", "father", "male", F[i]), ("M", "mother", "female", M[i])]}
             for i in range(20)]
    t = sm.compile_cases(cases)
    pf = sm.compile_pairwise("parent-child", list(range(20)), F, ["male"] * 20)
    pm = sm.compile_pairwise("parent-child", list(range(20)), M, ["female"] * 20)
    checked = 0
    for i in range(20):
        for l in range(len(sm.loci)):
            o = sm.offsets[l]
            G = (sm.offsets[l + 1] if l + 1 < len(sm.loci) else sm.size) - o
            ft, mt = F[i, l, 0] >= 0, M[i, l, 0] >= 0
            if ft == mt:
                continue
            ref = pf if ft else pm
            np.testing.assert_allclose(t.lr[i, o:o + G], ref.lr[i, o:o + G], rtol=1e-12, atol=0)
            assert (t.inconsistent[i, o:o + G] == ref.inconsistent[i, o:o + G]).all()
            assert t.typed[i, l]
            checked += 1
    assert checked > 20
