"""Dropout and drop-in (docs/dropout.md): hand values, a brute-force sum over the
true genotypes, bit-identity at d = c = 0, and the compiled tables.

The brute force shares no code with ``kinship``: P(observed | true) is summed
over the generative events themselves (each allele copy survives or drops out,
each allele of the locus drops in or not), and the pedigree probability of the
true genotypes comes from ``tests/reference_pedigree.py``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import kinship
from kinship.likelihood import estimate_dropout, evidence_matrix, locus_likelihood
from kinship.pedigree import Pedigree
from kinship.tables import case_table, genotype_index, pair_table, relationship_pedigrees
from reference_pedigree import pedigree_likelihood, ref_equal

LOC = "D3S1358"


def P(pid, father=None, mother=None, sex="male"):
    return {"id": pid, "father": father, "mother": mother, "sex": sex}


DUO_H1 = [P("AF"), P("MO", sex="female"), P("CH", "AF", "MO")]
DUO_H2 = [P("AF"), P("CH")]


# ---------------------------------------------------------------------------
# the independent brute force
# ---------------------------------------------------------------------------

def ref_observation_probability(observed, true, freqs, d, c):
    """P(observed allele set | true genotype), summed over every dropout pattern of
    the two copies and every drop-in pattern of the alleles (definition)."""
    A = len(freqs)
    total = 0.0
    for survive in itertools.product((True, False), repeat=2):
        ps = 1.0
        seen = set()
        for copy, alive in zip(true, survive):
            ps *= (1 - d) if alive else d
            if alive:
                seen.add(copy)
        for dropped_in in itertools.product((True, False), repeat=A):
            pz = 1.0
            z = set()
            for a, yes in enumerate(dropped_in):
                pz *= c * freqs[a] if yes else 1 - c * freqs[a]
                if yes:
                    z.add(a)
            if seen | z == set(observed):
                total += ps * pz
    return total


def ref_likelihood(ped, calls, alleles, freqs, dropout, dropin, M=None, theta=0.0):
    """Σ over every true unordered genotype of every typed person of
    Π P(call | true) × P(true genotypes | pedigree) (reference_pedigree)."""
    A = len(alleles)
    genos = [(i, j) for i in range(A) for j in range(i, A)]
    typed = list(calls)
    total = 0.0
    for combo in itertools.product(genos, repeat=len(typed)):
        w = 1.0
        for pid, t in zip(typed, combo):
            obs = {alleles.index(a) for a in calls[pid]}
            w *= ref_observation_probability(obs, t, freqs, dropout.get(pid, 0.0), dropin)
            if w == 0.0:
                break
        if w == 0.0:
            continue
        tg = {pid: (alleles[t[0]], alleles[t[1]]) for pid, t in zip(typed, combo)}
        total += w * pedigree_likelihood(ped, tg, alleles, freqs, M, M, theta)
    return total


def ref_lr(h1, h2, calls, alleles, freqs, dropout, dropin, M=None, theta=0.0):
    l1 = ref_likelihood(h1, calls, alleles, freqs, dropout, dropin, M, theta)
    l2 = ref_likelihood(h2, calls, alleles, freqs, dropout, dropin, M, theta)
    return l1 / l2 if l2 else (math.nan if l1 == 0 else math.inf)


# ---------------------------------------------------------------------------
# hand values
# ---------------------------------------------------------------------------

FREQ = {LOC: {"10": 0.1, "11": 0.2, "12": 0.3, "13": 0.4}}


def ft(d=FREQ, **kw):
    return kinship.FrequencyTable.from_dict(d, **kw)


@pytest.mark.parametrize("d", [0.0, 0.05, 0.1, 0.3, 0.5])
def test_duo_apparent_homozygous_child_hand_value(d):
    # docs/dropout.md, "Hand values": father b/c, child seen as a/a (a not in {b, c}).
    # LR = d / (p_a (1 + d) + 2 (1 - p_a) d); 0 without dropout.
    g = {"AF": {LOC: ("11", "12")}, "CH": {LOC: ("10", "10")}}
    r = kinship.likelihood_ratio(DUO_H1, DUO_H2, g, ft(), dropout={"CH": d})
    pa = 0.1
    want = d / (pa * (1 + d) + 2 * (1 - pa) * d)
    if d == 0.0:
        assert r.total == 0.0
        assert r.inconsistent == [LOC]
    else:
        assert r.total == pytest.approx(want, rel=1e-12)
        assert r.total > 0
        assert r.inconsistent == []
    assert r.dropout == {"AF": 0.0, "CH": d}


@pytest.mark.parametrize("d,c", [(0.1, 0.05), (0.3, 0.02), (0.0, 0.05)])
def test_duo_with_dropin_hand_value(d, c):
    # docs/dropout.md: father b/c, child seen a/a, dropout d and drop-in c in the
    # child's sample.  With r_x = 1 - c p_x (the factor K = Π r_x cancels):
    #   E(a | a/a) ∝ (1 - r_a d²)
    #   E(a | a/x) ∝ (1 - r_a d) d          (x ≠ a)
    #   E(a | x/y) ∝ (1 - r_a) d²           (x, y ≠ a)
    # H1: child = (paternal b or c, maternal m ~ p).
    p = {"10": 0.1, "11": 0.2, "12": 0.3, "13": 0.4}
    pa = p["10"]
    ra = 1 - c * pa
    e_aa, e_ax, e_xy = 1 - ra * d * d, (1 - ra * d) * d, (1 - ra) * d * d
    # H1: paternal allele x in {b, c} (≠ a); maternal a (p_a) → a/x; else x/y
    h1 = pa * e_ax + (1 - pa) * e_xy
    # H2: child's genotype from the population
    h2 = pa * pa * e_aa + 2 * pa * (1 - pa) * e_ax + (1 - pa) ** 2 * e_xy
    g = {"AF": {LOC: ("11", "12")}, "CH": {LOC: ("10", "10")}}
    r = kinship.likelihood_ratio(DUO_H1, DUO_H2, g, ft(), dropout={"CH": d}, dropin=c)
    assert r.total == pytest.approx(h1 / h2, rel=1e-12)


def test_evidence_matrix_cases():
    # c = 0: het both seen (1-d)², one dropped d(1-d), hom seen 1 - d²
    d = 0.2
    A = 4
    E = evidence_matrix((0, 1), A, None, None, d, 0.0)
    assert E[0, 1] == E[1, 0] == pytest.approx((1 - d) ** 2)
    assert E[0, 0] == 0.0 and E[0, 2] == 0.0
    E = evidence_matrix((0, 0), A, None, None, d, 0.0)
    assert E[0, 0] == pytest.approx(1 - d * d)
    assert E[0, 2] == E[2, 0] == pytest.approx(d * (1 - d))
    assert E[1, 2] == 0.0
    # with a silent allele s: a/s is seen as a/a with 1 - d
    E = evidence_matrix((0, 0), A, 3, None, d, 0.0)
    assert E[0, 3] == pytest.approx(1 - d)
    # the observation probabilities of a true genotype sum to 1 over every
    # observable set, the empty one included
    f = np.array([0.1, 0.2, 0.3, 0.4])
    c = 0.07
    genos = [(i, j) for i in range(A) for j in range(i, A)]
    tot = np.zeros((A, A))
    for g in genos:
        tot += evidence_matrix(g, A, None, f, d, c)
    # sets of size 0, 3, 4 (not a call) by the independent brute force
    for x in range(A):
        for y in range(A):
            rest = sum(ref_observation_probability(set(s), (x, y), f, d, c)
                       for k in (0, 3, 4) for s in itertools.combinations(range(A), k))
            assert tot[x, y] + rest == pytest.approx(1.0, abs=1e-14)
            for g in genos:
                assert evidence_matrix(g, A, None, f, d, c)[x, y] == pytest.approx(
                    ref_observation_probability(set(g), (x, y), f, d, c), rel=1e-12, abs=1e-300)


# ---------------------------------------------------------------------------
# brute force over the true genotypes, random pedigrees
# ---------------------------------------------------------------------------

ALLELES = ["10", "11", "12"]

CASES = {
    "duo": (DUO_H1, DUO_H2, ["AF", "CH"]),
    "trio": ([P("AF"), P("MO", sex="female"), P("CH", "AF", "MO")],
             [P("AF"), P("MO", sex="female"), P("CH")], ["AF", "MO", "CH"]),
    "full-siblings": ([P("F"), P("M", sex="female"), P("S1", "F", "M"), P("S2", "F", "M")],
                      [P("S1"), P("S2")], ["S1", "S2"]),
    "three-generations": ([P("GF"), P("GM", sex="female"), P("PA", "GF", "GM"),
                           P("W", sex="female"), P("CH", "PA", "W")],
                          [P("GF"), P("PA"), P("CH")], ["GF", "PA", "CH"]),
    "half-sib-and-uncle": ([P("GF"), P("GM", sex="female"), P("U", "GF", "GM"),
                            P("PA", "GF", "GM"), P("W", sex="female"), P("CH", "PA", "W")],
                           [P("U"), P("CH")], ["U", "CH"]),
}


def _random_setting(rng, typed, theta_choices=(0.0, 0.02)):
    w = rng.integers(4, 30, size=len(ALLELES)).astype(float)
    w = np.round(w / w.sum() * 64)
    w[-1] = 64 - w[:-1].sum()
    freqs = w / 64
    calls = {}
    for pid in typed:
        a, b = sorted(rng.choice(len(ALLELES), size=2))
        calls[pid] = (ALLELES[a], ALLELES[b])
    dropout = {pid: float(rng.choice([0.0, 0.05, 0.2, 0.45])) for pid in typed}
    dropin = float(rng.choice([0.0, 0.0, 0.05]))
    theta = float(rng.choice(theta_choices))
    mut = rng.random() < 0.4
    return freqs, calls, dropout, dropin, theta, mut


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_brute_force_over_true_genotypes(name):
    h1, h2, typed = CASES[name]
    rng = np.random.default_rng(len(name))
    n_done = 0
    for _ in range(6):
        freqs, calls, dropout, dropin, theta, mut = _random_setting(rng, typed)
        f = ft({LOC: dict(zip(ALLELES, map(float, freqs)))})
        model = kinship.MutationModel(kinship.Equal(rate=0.02)) if mut else None
        M = ref_equal(ALLELES, 0.02) if mut else None
        r = kinship.likelihood_ratio(h1, h2, {pid: {LOC: calls[pid]} for pid in typed}, f, model,
                                     theta, dropout=dropout, dropin=dropin)
        # the allele system is the table's (all alleles given), so freqs are equal
        la = f.locus_alleles(LOC)
        assert list(la.alleles) == ALLELES
        want1 = ref_likelihood(h1, calls, ALLELES, list(la.freqs), dropout, dropin, M, theta)
        want2 = ref_likelihood(h2, calls, ALLELES, list(la.freqs), dropout, dropin, M, theta)
        assert r.likelihood_h1[LOC] == pytest.approx(want1, rel=1e-9, abs=1e-300)
        assert r.likelihood_h2[LOC] == pytest.approx(want2, rel=1e-9, abs=1e-300)
        n_done += 1
    assert n_done == 6


def test_theta_typed_founders_with_dropin_take_the_draw_path():
    # trio under H2: three typed founders; with drop-in every genotype is possible
    # for each, so they become founder draws (m = 6) under θ > 0.
    h1, h2, typed = CASES["trio"]
    freqs = [0.25, 0.375, 0.375]
    f = ft({LOC: dict(zip(ALLELES, freqs))})
    calls = {"AF": ("10", "11"), "MO": ("12", "12"), "CH": ("11", "11")}
    dropout = {"AF": 0.1, "MO": 0.3, "CH": 0.2}
    for dropin, theta in [(0.05, 0.03), (0.0, 0.03)]:
        r = kinship.likelihood_ratio(h1, h2, {p: {LOC: calls[p]} for p in typed}, f, None, theta,
                                     dropout=dropout, dropin=dropin)
        for h, got in ((h1, r.likelihood_h1[LOC]), (h2, r.likelihood_h2[LOC])):
            want = ref_likelihood(h, calls, ALLELES, freqs, dropout, dropin, None, theta)
            assert got == pytest.approx(want, rel=1e-9)


# ---------------------------------------------------------------------------
# d = c = 0 is today's computation, bit for bit
# ---------------------------------------------------------------------------

BIG = {LOC: {"9": 0.05, "9.3": 0.1, "10": 0.15, "11": 0.2, "12": 0.25, "13": 0.15, "14": 0.1}}


@pytest.mark.parametrize("name", list(CASES))
def test_zero_dropout_is_bit_identical(name):
    h1, h2, typed = CASES[name]
    rng = np.random.default_rng(7 + len(name))
    alleles = list(BIG[LOC])
    for silent in (False, True):
        f = ft(BIG, silent={LOC: 0.01}) if silent else ft(BIG)
        for theta in (0.0, 0.02):
            for mut in (None, kinship.MutationModel(kinship.Stepwise(rate=0.005))):
                g = {}
                for pid in typed:
                    a, b = rng.choice(alleles, size=2)
                    g[pid] = {LOC: (a, b)}
                base = kinship.likelihood_ratio(h1, h2, g, f, mut, theta)
                for kw in (dict(dropout=0.0), dict(dropout={}), dict(dropout={typed[0]: 0.0}),
                           dict(dropin=0.0), dict(dropout=0, dropin=0)):
                    r = kinship.likelihood_ratio(h1, h2, g, f, mut, theta, **kw)
                    assert r.likelihood_h1 == base.likelihood_h1
                    assert r.likelihood_h2 == base.likelihood_h2
                    assert r.inconsistent == base.inconsistent
                    assert (np.array(list(r.per_locus.values())).tobytes()
                            == np.array(list(base.per_locus.values())).tobytes())


def test_zero_dropout_evidence_is_the_indicator():
    from kinship.likelihood import _evidence
    for call in [(0, 1), (2, 2)]:
        for silent in (None, 4):
            a = evidence_matrix(call, 5, silent, np.full(5, 0.2), 0.0, 0.0)
            assert a.tobytes() == _evidence(call, 5, silent).tobytes()


# ---------------------------------------------------------------------------
# the compiled tables
# ---------------------------------------------------------------------------

def _idx(la, g):
    i = {a: k for k, a in enumerate(la.alleles)}
    return int(genotype_index(i[g[0]], i[g[1]]))


@pytest.mark.parametrize("theta", [0.0, 0.02])
@pytest.mark.parametrize("mut", [False, True])
def test_case_table_equals_likelihood_ratio(theta, mut):
    f = ft()
    la = f.locus_alleles(LOC)
    model = kinship.MutationModel(kinship.Equal(rate=0.01)) if mut else None
    ped = [P("F"), P("Mo", sex="female"), P("M", "F", "Mo"), P("S", "F", "Mo", sex="female")]
    calls = {"F": ("11", "12"), "S": ("10", "10")}
    rel_d = {"F": 0.0, "S": 0.25}
    dq, c = 0.3, 0.04
    T = case_table(ped, "M", calls, la, model, theta, dropout=dq, relative_dropout=rel_d, dropin=c)
    # without dropout it is the plain table
    plain = case_table(ped, "M", calls, la, model, theta)
    zero = case_table(ped, "M", calls, la, model, theta, dropout=0.0, relative_dropout={}, dropin=0.0)
    assert zero.lr.tobytes() == plain.lr.tobytes()
    h1 = [P("F"), P("Mo", sex="female"), P("Q", "F", "Mo"), P("S", "F", "Mo", sex="female")]
    h2 = ped + [P("Q")]
    genos = [(a, b) for i, a in enumerate(la.alleles) for b in la.alleles[i:]]
    for gq in genos:
        g = {pid: {LOC: v} for pid, v in calls.items()}
        g["Q"] = {LOC: gq}
        r = kinship.likelihood_ratio(h1, h2, g, f, model, theta,
                                     dropout={**rel_d, "Q": dq}, dropin=c)
        assert T.lr[_idx(la, gq)] == pytest.approx(r.total, rel=1e-9)
        assert bool(T.inconsistent[_idx(la, gq)]) == (LOC in r.inconsistent)


@pytest.mark.parametrize("rel", ["identity", "parent-child", "full-sibling", "half-sibling"])
@pytest.mark.parametrize("theta", [0.0, 0.02])
def test_pair_table_equals_likelihood_ratio(rel, theta):
    f = ft()
    la = f.locus_alleles(LOC)
    dr, dq, c = 0.1, 0.35, 0.03
    W, I = pair_table(rel, la, None, theta, ref_dropout=dr, query_dropout=dq, dropin=c)
    W0, _ = pair_table(rel, la, None, theta)
    Wz, _ = pair_table(rel, la, None, theta, ref_dropout=0.0, query_dropout=0.0, dropin=0.0)
    assert Wz.tobytes() == W0.tobytes()
    h1, h2 = relationship_pedigrees(rel)
    genos = [(a, b) for i, a in enumerate(la.alleles) for b in la.alleles[i:]]
    for gr in genos:
        for gq in genos[::3]:
            g = {"R": {LOC: gr}, "Q": {LOC: gq}}
            if rel == "identity":
                # two samples of one person X, each observed with its own dropout:
                # a sum over X's true ordered genotype
                A = la.n_alleles
                EN = sum(
                    evidence_matrix(_pair(la, gr), A, None, la.freqs, dr, c)[x, y]
                    * evidence_matrix(_pair(la, gq), A, None, la.freqs, dq, c)[x, y]
                    * _founder_pair_prob(la.freqs, x, y, theta)
                    for x in range(A) for y in range(A))
                r = kinship.likelihood_ratio([P("R"), P("Q")], [P("R"), P("Q")], g, f, None, theta,
                                             dropout={"R": dr, "Q": dq}, dropin=c)
                want = EN / r.likelihood_h2[LOC]
            else:
                r = kinship.likelihood_ratio(h1.records(), h2.records(), g, f, None, theta,
                                             dropout={"R": dr, "Q": dq}, dropin=c)
                want = r.total
            assert W[_idx(la, gr), _idx(la, gq)] == pytest.approx(want, rel=1e-9)


def _pair(la, g):
    i = {a: k for k, a in enumerate(la.alleles)}
    return (i[g[0]], i[g[1]])


def _founder_pair_prob(p, x, y, theta):
    # Balding–Nichols: first allele p_x, second (θ [y = x] + (1 - θ) p_y) / 1
    return p[x] * ((theta if x == y else 0.0) + (1 - theta) * p[y])


def test_identity_with_dropout_admits_a_dropped_allele():
    f = ft()
    la = f.locus_alleles(LOC)
    W, I = pair_table("identity", la, None, 0.0, query_dropout=0.2)
    i = _idx(la, ("10", "11"))
    j = _idx(la, ("10", "10"))
    k = _idx(la, ("12", "12"))
    assert W[i, j] > 0 and not I[i, j]
    assert W[i, k] == 0.0 and I[i, k]


# ---------------------------------------------------------------------------
# estimate_dropout
# ---------------------------------------------------------------------------

def test_estimate_dropout_method_of_moments():
    f = ft({f"L{k}": {"10": 0.25, "11": 0.25, "12": 0.25, "13": 0.25} for k in range(10)})
    # h = 1/4 per locus; 10 loci; H homozygotes: u = (H - 2.5) / 7.5, d = u / (2 - u)
    def prof(H):
        return {f"L{k}": ("10", "10") if k < H else ("10", "11") for k in range(10)}
    assert estimate_dropout(prof(0), f) == 0.0
    assert estimate_dropout(prof(2), f) == 0.0
    u = (5 - 2.5) / 7.5
    assert estimate_dropout(prof(5), f) == pytest.approx(u / (2 - u), rel=1e-12)
    assert estimate_dropout(prof(10), f) == 0.5
    # the estimate inverts the expectation: H = Σh + Σ(1-h) 2d/(1+d) gives d back
    H = 4  # u = 1.5 / 7.5 = 0.2, d = 0.2 / 1.8
    d = estimate_dropout(prof(H), f)
    assert 2.5 + 7.5 * 2 * d / (1 + d) == pytest.approx(H, rel=1e-12)
    # "estimate" in likelihood_ratio uses it per person
    g = {"AF": prof(5), "CH": prof(0)}
    r = kinship.likelihood_ratio(DUO_H1, DUO_H2, g, f, dropout="estimate")
    assert r.dropout == {"AF": pytest.approx(u / (2 - u)), "CH": 0.0}


# ---------------------------------------------------------------------------
# the values pinned by pedprobr's tests (magnusdv/pedprobr,
# tests/testthat/test-dropout.R): dropout d, a homozygote's d², no drop-in
# ---------------------------------------------------------------------------

def test_pedprobr_dropout_values():
    p, d = 0.2, 0.1
    f = kinship.FrequencyTable.from_dict({LOC: {"1": p, "2": p, "3": 1 - 2 * p}})
    la = f.locus_alleles(LOC)
    A = la.n_alleles
    i1, i2 = la.alleles.index("1"), la.alleles.index("2")
    L = (1 - d * d) * p * p + d * (1 - d) * 2 * p * (1 - p)
    one = Pedigree.from_records([P("X")])
    assert locus_likelihood(one, {"X": (i1, i1)}, A, la.freqs, dropout=d) == pytest.approx(L, rel=1e-12)
    assert locus_likelihood(one, {"X": (i1, i1)}, A, la.freqs, dropout=0.0) == pytest.approx(p * p)
    trio = Pedigree.from_records([P("fa"), P("mo", sex="female"), P("ch", "fa", "mo")])
    assert locus_likelihood(trio, {"ch": (i1, i1)}, A, la.freqs, dropout=d) == pytest.approx(L, rel=1e-12)
    assert locus_likelihood(trio, {"ch": (i1, i1)}, A, la.freqs,
                            dropout={"fa": d}) == pytest.approx(p * p, rel=1e-12)
    calls = {"fa": (i1, i1), "mo": (i2, i2)}
    assert locus_likelihood(trio, calls, A, la.freqs, dropout=d) == pytest.approx(L * L, rel=1e-12)
    assert locus_likelihood(trio, calls, A, la.freqs, dropout={"fa": d}) == pytest.approx(L * p * p, rel=1e-12)
    # a child of a mother and her son (f = 1/4), seen as 1/1
    fi = 0.25
    Lf = (1 - d * d) * (fi * p + (1 - fi) * p * p) + d * (1 - d) * (1 - fi) * 2 * p * (1 - p)
    inbred = Pedigree.from_records([P("1"), P("2", sex="female"), P("3", "1", "2"), P("4", "3", "2")])
    assert locus_likelihood(inbred, {"3": (i1, i1)}, A, la.freqs, dropout=d) == pytest.approx(L, rel=1e-12)
    assert locus_likelihood(inbred, {"4": (i1, i1)}, A, la.freqs, dropout=d) == pytest.approx(Lf, rel=1e-12)
