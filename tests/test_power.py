"""Power of a case's reference set and the relative to sample next (kinship.power).

Independent checks: a hand-computed one-locus case, brute simulation of whole
families (kinship.simulate.FamilySimulator, LRs by kinship.likelihood_ratio),
and the placement of added relatives by kinship coefficients computed here.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import kinship
from kinship.cases import Case, CaseError, case_from_relations
from kinship.power import (SUGGESTIBLE, NotAddable, add_relative, addable_relatives, case_power,
                           power_model)
from kinship.simulate import FamilySimulator, load_nist_genotypes

LOCI6 = ("D3S1358", "vWA", "TH01", "D8S1179", "D21S11", "FGA")
MUT = kinship.MutationModel(kinship.Stepwise(rate=0.005, rate2=1e-6, range=0.1))


@pytest.fixture(scope="module")
def ft():
    return kinship.FrequencyTable.load()


# ---------------------------------------------------------------------------
# hand case
# ---------------------------------------------------------------------------

def test_hand_parent_child_one_locus():
    # One locus, alleles 6, 7, 8, 9 with p = .1, .2, .3, .4; the father is typed
    # 6/7; no mutation, theta 0.  M's paternal allele is 6 or 7 (1/2 each), the
    # maternal one a population draw, so M's law q and the LR = q / P_HW are
    #   6/6: q = .5*.1 = .05            LR = .05/.01 = 5
    #   7/7: q = .5*.2 = .10            LR = .10/.04 = 2.5
    #   6/7: q = .5*.2 + .5*.1 = .15     LR = .15/.04 = 3.75
    #   6/8: q = .5*.3 = .15            LR = .15/.06 = 2.5
    #   6/9: q = .5*.4 = .20            LR = .20/.08 = 2.5
    #   7/8: q = .5*.3 = .15            LR = .15/.12 = 1.25
    #   7/9: q = .5*.4 = .20            LR = .20/.16 = 1.25      (sum q = 1)
    # power(t=3) = .05 + .15 = .20; power(t=2) = .20 + .10 + .15 + .20 = .65;
    # power(t=1.1) = 1.  Unrelated: P_HW(LR >= 3) = .01 + .04 = .05, and
    # P_HW(LR >= 2) = .05 + .04 + .06 + .08 = .23.
    ft = kinship.FrequencyTable.from_dict({"TH01": {"6": 0.1, "7": 0.2, "8": 0.3, "9": 0.4}})
    case = case_from_relations("H", [("F", "father", "M")])
    geno = {"F": {"TH01": ("6", "7")}}
    model = power_model(ft, geno)
    mean = (.05 * math.log10(5) + .10 * math.log10(2.5) + .15 * math.log10(3.75)
            + .35 * math.log10(2.5) + .35 * math.log10(1.25))
    for t, want, chance in ((3.0, 0.20, 0.05), (2.0, 0.65, 0.23), (1.1, 1.0, None)):
        r = case_power(case, geno, model, t, n_database=1000, relatives=(), resolution=1e-3)
        assert r.power == pytest.approx(want, abs=1e-9)
        assert r.power_lower <= want + 1e-9 and r.power_upper >= want - 1e-9
        assert r.mean_log10_lr == pytest.approx(mean, rel=1e-12)
        if chance is not None:
            assert r.p_chance == pytest.approx(chance, rel=1e-9)
            assert r.expected_chance_hits == pytest.approx(1000 * chance, rel=1e-9)
        m = case_power(case, geno, model, t, relatives=(), method="mc", n_sim=4000, seed=1)
        assert abs(m.power - want) <= 4 * m.stderr + 1e-12


def test_compiled_tables_and_law_equal_the_pedigree_likelihood(ft):
    # the LR table behind the power is the engine's compiled case table; it and
    # M's law (T x P_HW at theta 0) equal kinship.tables.case_table and the
    # likelihood with M left free (the general route, used at theta > 0)
    from kinship.power import _base_locus, _calls, _compiled

    sim = FamilySimulator(ft, LOCI6, mutation=MUT, founders=load_nist_genotypes(), seed=5)
    case = case_from_relations("T", [("T-pgf", "paternal-grandfather", ""), ("T-s", "full-sibling", "")])
    _, refs, _ = sim.case_family(case)
    geno = {r.sample_id: r.genotypes for r in refs}
    model = power_model(ft, geno, LOCI6, MUT)
    calls = _calls(case, geno, model)
    row = _compiled(case, "M", calls, model)
    theta_model = power_model(ft, geno, LOCI6, MUT, theta=1e-12)
    for l in range(len(model.loci)):
        T, q, _ = _base_locus(model, l, case.pedigree, "M", calls[l])
        o = model.offsets[l]
        np.testing.assert_allclose(row[o:o + len(T)], T, rtol=1e-10)
        T2, q2, _ = _base_locus(theta_model, l, case.pedigree, "M", calls[l])
        np.testing.assert_allclose(q, q2, rtol=1e-6, atol=1e-15)
        assert q.sum() == pytest.approx(1.0)


def test_theta_zero_shortcut_equals_general_denominator(ft):
    from kinship.power import _base_locus, _calls, _pair_locus

    sim = FamilySimulator(ft, LOCI6[:2], mutation=MUT, founders=load_nist_genotypes(), seed=6)
    case = case_from_relations("S", [("S-s", "full-sibling", "")])
    _, refs, _ = sim.case_family(case)
    geno = {r.sample_id: r.genotypes for r in refs}
    model = power_model(ft, geno, LOCI6[:2], MUT)
    calls = _calls(case, geno, model)
    for word in ("mother", "paternal-uncle"):
        ped, r = add_relative(case, word)
        for l in range(2):
            Tb = _base_locus(model, l, case.pedigree, "M", calls[l])[0]
            a = _pair_locus(model, l, ped, "M", r, calls[l], Tb)
            b = _pair_locus(model, l, ped, "M", r, calls[l], Tb, general=True)
            np.testing.assert_allclose(a[0], b[0], rtol=1e-10)
            np.testing.assert_allclose(a[1], b[1], rtol=1e-12)


# ---------------------------------------------------------------------------
# against brute simulation of whole families
# ---------------------------------------------------------------------------

def _augmented(case, ped, r, sample):
    samples = dict(case.samples)
    samples[r] = sample
    return Case(case.id, ped, case.missing, samples, {}, "test")


def _lr(case, geno_by_person, q_geno, ft, mutation):
    h1, h2 = case.hypotheses("QQ")
    g = dict(geno_by_person)
    g["QQ"] = q_geno
    return kinship.likelihood_ratio(h1, h2, g, ft, mutation=mutation).total


def test_power_and_next_relative_equal_brute_simulation(ft):
    # Unconditionally over families: E[power(refs)] = P(LR(true M) >= t), and
    # E[expected power with R typed] = P(LR'(true M) >= t) with R simulated too.
    # The difference of the two estimates over K families has standard error
    # sd(indicator - exact) / sqrt(K).
    loci = LOCI6[:5]
    sim = FamilySimulator(ft, loci, mutation=MUT, seed=11)
    case = case_from_relations("B", [("B-s", "full-sibling", "")])
    ped, r = add_relative(case, "mother")
    aug = _augmented(case, ped, r, "B-R")
    t = 30.0
    K = 100
    diffs, diffs_r, ind = [], [], []
    model = power_model(ft, {}, loci, MUT)
    for _ in range(K):
        g = sim.pedigree_genotypes(ped)
        typed = {"B-s": g["B-s"]}
        res = case_power(case, typed, model, t, relatives=("mother",), resolution=1e-3)
        hit = _lr(case, {"B-s": g["B-s"]}, g["M"], ft, MUT) >= t
        hit_r = _lr(aug, {"B-s": g["B-s"], r: g[r]}, g["M"], ft, MUT) >= t
        diffs.append(hit - res.power)
        diffs_r.append(hit_r - res.suggestions[0].power)
        ind.append(hit)
    for d in (np.array(diffs), np.array(diffs_r)):
        se = d.std(ddof=1) / math.sqrt(K)
        assert abs(d.mean()) <= 4 * se + 1e-3, (d.mean(), se)
    assert 0.05 < np.mean(ind) < 0.95    # the threshold is not trivial for this family


def test_chance_hits_equal_brute_simulation(ft):
    loci = LOCI6[:4]
    sim = FamilySimulator(ft, loci, seed=12)
    case = case_from_relations("U", [("U-f", "father", "")])
    _, refs, _ = sim.case_family(case)
    geno = {r.sample_id: r.genotypes for r in refs}
    model = power_model(ft, geno, loci)
    t = 20.0
    res = case_power(case, geno, model, t, n_database=10_000, relatives=())
    n = 1500
    hits = sum(_lr(case, {"U-f": geno["U-f"]}, sim.founder(), ft, None) >= t for _ in range(n))
    p = res.p_chance
    assert 0.005 < p < 0.5
    assert abs(hits / n - p) <= 4 * math.sqrt(p * (1 - p) / n)
    assert res.expected_chance_hits == pytest.approx(10_000 * p)


def test_mc_method_agrees_with_exact(ft):
    sim = FamilySimulator(ft, LOCI6, mutation=MUT, founders=load_nist_genotypes(), seed=13)
    case = case_from_relations("G", [("G-g", "paternal-grandfather", ""), ("G-h", "paternal-grandmother", "")])
    _, refs, _ = sim.case_family(case)
    geno = {r.sample_id: r.genotypes for r in refs}
    model = power_model(ft, geno, LOCI6, MUT)
    ex = case_power(case, geno, model, 10.0, relatives=("mother", "full-sibling"), resolution=1e-3)
    mc = case_power(case, geno, model, 10.0, relatives=("mother", "full-sibling"), method="mc",
                    n_sim=20000, seed=3)
    assert ex.power_lower <= ex.power <= ex.power_upper
    assert abs(mc.power - ex.power) <= 4 * mc.stderr + (ex.power_upper - ex.power_lower)
    for a in ex.suggestions:
        b = next(s for s in mc.suggestions if s.relation == a.relation)
        assert abs(a.power - b.power) <= 4 * b.stderr + (a.upper - a.lower)
    assert mc.details == {"n_sim": 20000, "seed": 3}


def test_adding_a_relative_never_lowers_expected_power(ft):
    sim = FamilySimulator(ft, LOCI6, mutation=MUT, founders=load_nist_genotypes(), seed=14)
    case = case_from_relations("A", [("A-u", "paternal-uncle", ""), ("A-m", "mother", "")],
                               missing_sex="male")
    _, refs, _ = sim.case_family(case)
    geno = {r.sample_id: r.genotypes for r in refs}
    model = power_model(ft, geno, LOCI6, MUT)
    res = case_power(case, geno, model, 100.0, resolution=1e-3)
    assert 0.01 < res.power < 0.99
    words = [s.relation for s in res.suggestions]
    assert "mother" not in words                     # already typed
    assert {"father", "full-sibling", "child", "paternal-grandfather"} <= set(words)
    for s in res.suggestions:
        assert s.upper >= res.power_lower, s
    assert [s.power for s in res.suggestions] == sorted((s.power for s in res.suggestions), reverse=True)
    assert res.best.relation == "father"             # the other parent is the best next sample
    assert res.best.power > res.power + 0.05


# ---------------------------------------------------------------------------
# placement of added relatives, checked by kinship coefficients
# ---------------------------------------------------------------------------

def _kinship(ped, a, b, memo=None):
    """Kinship coefficient phi(a, b) by the classical recursion (Karigl 1981)."""
    memo = {} if memo is None else memo
    order = {p: i for i, p in enumerate(ped.order)}

    def phi(x, y):
        if order[x] < order[y]:
            x, y = y, x
        key = (x, y)
        if key in memo:
            return memo[key]
        px = ped.persons[x]
        if x == y:
            v = Fraction(1, 2) * (1 + (phi(px.father, px.mother) if px.father else 0))
        elif px.father is None:
            v = Fraction(0)
        else:
            v = (phi(px.father, y) + phi(px.mother, y)) / 2
        memo[key] = v
        return v

    return phi(a, b)


@pytest.mark.parametrize("word,phi", [
    ("father", Fraction(1, 4)), ("mother", Fraction(1, 4)), ("full-sibling", Fraction(1, 4)),
    ("paternal-half-sibling", Fraction(1, 8)), ("maternal-half-sibling", Fraction(1, 8)),
    ("paternal-grandfather", Fraction(1, 8)), ("maternal-grandmother", Fraction(1, 8)),
    ("paternal-uncle", Fraction(1, 8)), ("maternal-aunt", Fraction(1, 8)), ("child", Fraction(1, 4)),
])
def test_added_relative_has_the_relations_kinship(word, phi):
    for rels in ([], [("S", "paternal-grandmother", "")], [("S", "full-sibling", "")]):
        case = case_from_relations("K", rels or [("S", "maternal-first-cousin", "")], missing_sex="female")
        ped, r = add_relative(case, word)
        assert _kinship(ped, r, "M") == phi
        # every typed person keeps their kinship with M
        for p in case.typed:
            assert _kinship(ped, p, "M") == _kinship(case.pedigree, p, "M")
        assert set(case.pedigree.persons) <= set(ped.persons)


def test_typed_relatives_are_not_suggested_and_errors():
    case = case_from_relations("E", [("F", "father", ""), ("GF", "paternal-grandfather", "")])
    with pytest.raises(NotAddable):
        add_relative(case, "father")
    with pytest.raises(NotAddable):
        add_relative(case, "paternal-grandfather")
    words = [w for w, _, _ in addable_relatives(case)]
    assert "father" not in words and "paternal-grandfather" not in words
    assert "child" not in words                  # M's sex unknown
    assert "paternal-grandmother" in words
    assert set(words) <= set(SUGGESTIBLE) <= set(kinship.cases.RELATIONS)
    with pytest.raises(CaseError):
        add_relative(case, "self")
    with pytest.raises(CaseError):
        add_relative(case, "father", missing="F")


def test_inconsistent_family_without_mutation_is_nan_with_a_named_reason():
    ft = kinship.FrequencyTable.from_dict({"TH01": {"6": 0.1, "7": 0.2, "8": 0.3, "9": 0.4},
                                           "vWA": {"14": 0.5, "15": 0.5}})
    case = case_from_relations("X", [("F", "father", "M"), ("GF", "paternal-grandfather", "M")])
    geno = {"F": {"TH01": ("6", "7"), "vWA": ("14", "14")}, "GF": {"TH01": ("8", "9"), "vWA": ("14", "15")}}
    r = case_power(case, geno, power_model(ft, geno), 10.0)
    assert math.isnan(r.power) and "TH01" in r.error and "vWA" not in r.error
    for a in ("6", "7", "8", "9"):
        assert f"'{a}'" not in r.error
    with pytest.raises(ValueError):
        case_power(case, geno, power_model(ft, geno), -1.0)
    with pytest.raises(ValueError):
        case_power(case, geno, power_model(ft, geno), 10.0, method="bogus")


def test_silent_allele_power_equals_enumeration_with_likelihood_ratio():
    # With a silent allele s, M's call law and LRs by brute enumeration through
    # kinship.likelihood_ratio: P(M's call g | father) = L(father, M = g) / L(father)
    # (the pedigree likelihoods of the library's LR), LR(g) its ratio; a candidate
    # who is s/s shows nothing (factor 1) and has the remaining probability.
    ft = kinship.FrequencyTable.from_dict({"TH01": {"6": 0.3, "7": 0.3, "8": 0.3}}, silent=0.1)
    case = case_from_relations("Z", [("F", "father", "M")])
    geno = {"F": {"TH01": ("6", "6")}}
    model = power_model(ft, geno)
    h1, h2 = case.hypotheses("Q")
    one = [{"id": "F", "father": None, "mother": None, "sex": "male"},
           {"id": "Q", "father": None, "mother": None, "sex": "unknown"}]
    calls = [("6", "6"), ("7", "7"), ("8", "8"), ("6", "7"), ("6", "8"), ("7", "8")]
    p_f = kinship.likelihood_ratio(one, one, {"F": geno["F"]}, ft).likelihood_h1["TH01"]
    law, lrs = [], []
    for g in calls:
        r = kinship.likelihood_ratio(h1, h2, {"F": geno["F"], "Q": {"TH01": g}}, ft)
        law.append(r.likelihood_h1["TH01"] / p_f)
        lrs.append(r.total)
    nothing = 1.0 - sum(law)
    assert 0 < nothing < 0.1
    for t in (0.5, 1.5, 3.0, 5.0):
        want = sum(q for q, lr in zip(law, lrs) if lr >= t) + (nothing if t <= 1 else 0.0)
        r = case_power(case, geno, model, t, relatives=(), resolution=1e-4)
        assert r.power == pytest.approx(want, abs=1e-9), t


def _between(values):
    """Thresholds strictly between consecutive distinct LR values (no ties)."""
    v = sorted({float(f"{x:.9g}") for x in values if x > 0})
    return [math.sqrt(a * b) for a, b in zip(v, v[1:])]


def test_theta_power_and_ranking_equal_the_reference_pedigree_likelihood():
    # theta > 0, one locus, father 6/7: M's law and LRs, and the joint law of
    # (mother, M) with the augmented case's LRs, from the slow reference
    # implementation (tests/reference_pedigree.py, brute force over allele
    # assignments with the Balding-Nichols urn); the power is the mass of the
    # LRs at or above t.
    import itertools
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from reference_pedigree import pedigree_likelihood

    th = 0.05
    alleles, freqs = ["6", "7", "8", "9"], [0.1, 0.2, 0.3, 0.4]
    ft = kinship.FrequencyTable.from_dict({"TH01": dict(zip(alleles, freqs))})
    case = case_from_relations("R", [("F", "father", "M")])
    geno = {"F": {"TH01": ("6", "7")}}
    model = power_model(ft, geno, theta=th)
    gts = list(itertools.combinations_with_replacement(alleles, 2))

    def lik(recs, g):     # the reference wants a sex for everyone (none matters here)
        recs = [dict(x, sex="male" if x["sex"] == "unknown" else x["sex"]) for x in recs]
        return pedigree_likelihood(recs, g, alleles, freqs, theta=th)

    def unrelated(recs, q):
        return [dict(x) for x in recs] + [{"id": q, "father": None, "mother": None, "sex": "male"}]

    base = case.pedigree.records()
    law, lrs = [], []
    for g in gts:
        law.append(lik(base, {"F": ("6", "7"), "M": g}))
        lrs.append(law[-1] / lik(unrelated(base, "Q"), {"F": ("6", "7"), "Q": g}))
    law = [x / sum(law) for x in law]
    ped, r = add_relative(case, "mother")
    aug = ped.records()
    jl, jlr = [], []
    for gr, g in itertools.product(gts, gts):
        jl.append(lik(aug, {"F": ("6", "7"), r: gr, "M": g}))
        jlr.append(jl[-1] / lik(unrelated(aug, "Q"), {"F": ("6", "7"), r: gr, "Q": g}))
    jl = [x / sum(jl) for x in jl]
    for t in _between(lrs)[::2]:
        res = case_power(case, geno, model, t, relatives=("mother",), resolution=1e-4)
        assert res.power == pytest.approx(sum(q for q, x in zip(law, lrs) if x >= t), abs=1e-9)
    for t in _between(jlr)[::7]:
        res = case_power(case, geno, model, t, relatives=("mother",), resolution=1e-4)
        want = sum(q for q, x in zip(jl, jlr) if x >= t)
        assert res.suggestions[0].power == pytest.approx(want, abs=1e-9)


def test_theta_ranking_is_bounded_by_its_cost_estimate(ft):
    loci = LOCI6[:2]
    sim = FamilySimulator(ft, loci, mutation=MUT, founders=load_nist_genotypes(), seed=21)
    case = case_from_relations("TH", [("TH-f", "father", "")])
    _, refs, _ = sim.case_family(case)
    geno = {r.sample_id: r.genotypes for r in refs}
    model = power_model(ft, geno, loci, MUT, theta=0.02)
    r = case_power(case, geno, model, 5.0, relatives=("mother",))
    assert [s.relation for s in r.suggestions] == ["mother"] and "not_ranked" not in r.details
    r0 = case_power(case, geno, model, 5.0, relatives=("mother", "full-sibling"), max_rank_seconds=0.0)
    assert r0.suggestions == [] and set(r0.details["not_ranked"]) == {"mother", "full-sibling"}
    assert "estimated" in r0.details["not_ranked"]["mother"]
