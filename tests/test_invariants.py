"""Metamorphic and edge-semantics tests of ``kinship.likelihood_ratio``.

Every metamorphic test transforms its input for real (hypothesis draws cases in
which the transformation changes something) and compares the two results:

* allele order within every genotype reversed;
* pedigree records listed in another order (children before parents);
* all person ids relabelled; locus names written as aliases;
* father's and mother's genotypes swapped in a trio (same model for both sexes:
  unchanged; different female/male rates at an inconsistent locus: changed);
* theta = 0 / mutation rate 0 against the no-theta / no-mutation call;
* the total against the product of the per-locus values.

Hand-derived values (exclusion, mutation, 0/0, x/0, theta) carry their
derivation in a comment.  Frequencies are multiples of 1/64 so that every
locus sums to exactly 1.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import kinship
from kinship import (
    Custom,
    Equal,
    FrequencyTable,
    MutationModel,
    Proportional,
    Stepwise,
    likelihood_ratio,
)

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

D3, TH, VWA = "D3S1358", "TH01", "vWA"
TABLE = {
    D3: {"14": 8 / 64, "15": 16 / 64, "16": 24 / 64, "17": 16 / 64},
    TH: {"6": 16 / 64, "7": 16 / 64, "9.3": 24 / 64, "10": 8 / 64},
    VWA: {"16": 32 / 64, "17": 16 / 64, "18": 16 / 64},
}
FREQS = FrequencyTable.from_dict(TABLE)
ALIASES = {D3: "d3s1358", TH: "THO1", VWA: "VWA"}


def M(pid, father=None, mother=None):
    return {"id": pid, "father": father, "mother": mother, "sex": "male"}


def F(pid, father=None, mother=None):
    return {"id": pid, "father": father, "mother": mother, "sex": "female"}


# (H1, H2, persons that may be typed: in both hypotheses)
CASES = {
    "paternity": (
        [M("AF"), F("MO"), M("C", "AF", "MO")],
        [M("AF"), F("MO"), M("X"), M("C", "X", "MO")],
        ["AF", "MO", "C"],
    ),
    "full_sibs": (
        [M("FA"), F("MO"), M("S1", "FA", "MO"), F("S2", "FA", "MO")],
        [M("S1"), F("S2")],
        ["S1", "S2"],
    ),
    "half_sibs": (
        [M("FA"), F("M1"), F("M2"), M("S1", "FA", "M1"), M("S2", "FA", "M2")],
        [M("S1"), M("S2")],
        ["S1", "S2"],
    ),
    "grandparent": (
        [M("GF"), F("GM"), M("P", "GF", "GM"), F("Q"), F("C", "P", "Q")],
        [M("GF"), F("C")],
        ["GF", "C"],
    ),
    "avuncular": (
        [M("GF"), F("GM"), M("U", "GF", "GM"), M("P", "GF", "GM"), F("Q"), M("C", "P", "Q")],
        [M("U"), M("C")],
        ["U", "C"],
    ),
    "first_cousin_child": (
        # inbred child K of first cousins C1 x C2 (a loop)
        [M("GF"), F("GM"), M("A", "GF", "GM"), F("B", "GF", "GM"), F("X"), M("Y"),
         M("C1", "A", "X"), F("C2", "Y", "B"), M("K", "C1", "C2")],
        [M("GF"), M("K")],
        ["GF", "K"],
    ),
}

#: theta > 0 only where few founder alleles are unknown: with theta the exact
#: sum has Bell(#unknown founder alleles) terms, and every new pedigree layout
#: (record order, ids) costs a fresh contraction-path search (seconds for the
#: avuncular and cousin pedigrees), which would blow the time budget.
THETA_CASES = {"paternity", "grandparent", "full_sibs"}

MODELS = {
    "none": None,
    "equal": MutationModel(Equal(0.01)),
    "proportional": MutationModel(Proportional(0.005)),
    "stepwise_by_sex": MutationModel(female=Equal(0.004), male=Stepwise(0.01, 0.002, 0.5)),
}


def lr(h1, h2, g, mutation=None, theta=0.0, freqs=FREQS):
    return likelihood_ratio(h1, h2, g, freqs, mutation=mutation, theta=theta)


def same_value(a, b, rel=1e-12):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b) or a == 0.0 or b == 0.0:
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b))


def assert_same_result(r1, r2, rel=1e-12):
    assert set(r1.per_locus) == set(r2.per_locus)
    for locus in r1.per_locus:
        assert same_value(r1.per_locus[locus], r2.per_locus[locus], rel), (locus, r1, r2)
        assert same_value(r1.likelihood_h1[locus], r2.likelihood_h1[locus], rel), locus
        assert same_value(r1.likelihood_h2[locus], r2.likelihood_h2[locus], rel), locus
    assert set(r1.inconsistent) == set(r2.inconsistent)
    assert same_value(r1.total, r2.total, rel * 10)


# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------


@st.composite
def genotype_at(draw, locus):
    alleles = sorted(TABLE[locus])
    a = draw(st.sampled_from(alleles))
    b = draw(st.sampled_from(alleles))
    return (a, b)


@st.composite
def genotypes_for(draw, persons):
    g = {}
    for pid in persons:
        calls = {}
        for locus in TABLE:
            if draw(st.integers(0, 5)) == 0:
                continue  # untyped at this locus
            calls[locus] = draw(genotype_at(locus))
        g[pid] = calls
    return g


@st.composite
def case(draw, with_theta=True, names=None):
    name = draw(st.sampled_from(sorted(names or CASES)))
    h1, h2, candidates = CASES[name]
    typed = draw(
        st.lists(st.sampled_from(candidates), min_size=1, max_size=len(candidates), unique=True)
    )
    g = draw(genotypes_for(typed))
    model = MODELS[draw(st.sampled_from(sorted(MODELS)))]
    theta = draw(st.sampled_from([0.0, 0.02])) if with_theta and name in THETA_CASES else 0.0
    return name, h1, h2, g, model, theta


# ---------------------------------------------------------------------------
# metamorphic tests
# ---------------------------------------------------------------------------


@SETTINGS
@given(case())
def test_allele_order_within_genotypes(c):
    _, h1, h2, g, model, theta = c
    swapped = {pid: {l: (b, a) for l, (a, b) in calls.items()} for pid, calls in g.items()}
    assume(swapped != g)  # at least one heterozygote: the input really changes
    assert_same_result(lr(h1, h2, g, model, theta), lr(h1, h2, swapped, model, theta), rel=0.0)


@SETTINGS
@given(case(), st.randoms(use_true_random=False))
def test_record_order(c, rnd):
    _, h1, h2, g, model, theta = c
    # children before parents (reverse of the listing), then a random shuffle
    rev1, rev2 = list(reversed(h1)), list(reversed(h2))
    sh1, sh2 = list(h1), list(h2)
    rnd.shuffle(sh1)
    rnd.shuffle(sh2)
    base = lr(h1, h2, g, model, theta)
    assert_same_result(base, lr(rev1, rev2, g, model, theta))
    assert_same_result(base, lr(sh1, sh2, g, model, theta))
    # and H1 / H2 are swapped: the LR is inverted (0 <-> inf, nan stays nan)
    inv = lr(h2, h1, g, model, theta)
    for locus, v in base.per_locus.items():
        w = inv.per_locus[locus]
        if math.isnan(v):
            assert math.isnan(w)
        elif v == 0.0:
            assert w == math.inf
        elif math.isinf(v):
            assert w == 0.0
        else:
            assert w == pytest.approx(1.0 / v, rel=1e-12)


IDS = st.text(alphabet="abcdefghijkXYZ_-.", min_size=1, max_size=6).filter(lambda s: s != "0")


@SETTINGS
@given(case(), st.data())
def test_relabel_person_ids(c, data):
    _, h1, h2, g, model, theta = c
    old = sorted({r["id"] for r in h1} | {r["id"] for r in h2})
    new = data.draw(st.lists(IDS, min_size=len(old), max_size=len(old), unique=True))
    assume(new != old)
    ren = dict(zip(old, new))

    def relabel(records):
        return [
            {"id": ren[r["id"]], "father": ren.get(r["father"]), "mother": ren.get(r["mother"]), "sex": r["sex"]}
            for r in records
        ]

    g2 = {ren[pid]: calls for pid, calls in g.items()}
    assert_same_result(lr(h1, h2, g, model, theta), lr(relabel(h1), relabel(h2), g2, model, theta))


@SETTINGS
@given(case())
def test_locus_aliases(c):
    _, h1, h2, g, model, theta = c
    g2 = {pid: {ALIASES[l]: call for l, call in calls.items()} for pid, calls in g.items()}
    assume(any(calls for calls in g.values()))
    r1, r2 = lr(h1, h2, g, model, theta), lr(h1, h2, g2, model, theta)
    assert_same_result(r1, r2, rel=0.0)


TRIO = [M("F"), F("MO"), M("C", "F", "MO")]
TRIO_H2 = [M("F"), F("MO"), M("C")]  # all unrelated: symmetric in the parents


@SETTINGS
@given(
    st.data(),
    st.sampled_from(["none", "equal", "proportional", "stepwise", "custom"]),
    st.sampled_from([0.0, 0.02]),
)
def test_trio_swapping_parents_genotypes_same_model_both_sexes(data, model_name, theta):
    # With one model for both sexes, the trio likelihood is symmetric in the
    # parents (the child's genotype is unordered), and so is H2 (all three
    # unrelated): swapping the father's and the mother's genotypes leaves the
    # LR unchanged, at consistent and inconsistent loci alike.
    model = {
        "none": None,
        "equal": Equal(0.01),
        "proportional": Proportional(0.01),
        "stepwise": Stepwise(0.01, 0.002, 0.5),
        "custom": None,
    }[model_name]
    if model_name == "custom":
        # asymmetric custom matrix on D3S1358 only: 14 -> 15 only upwards
        model = Custom({"14": {"14": 0.9, "15": 0.1}, "15": {"15": 0.8, "16": 0.2}})
    g = {pid: {l: data.draw(genotype_at(l)) for l in TABLE} for pid in ("F", "MO", "C")}
    swapped = dict(g, F=g["MO"], MO=g["F"])
    assume(g["F"] != g["MO"])
    mm = None if model is None else MutationModel(model)
    assert_same_result(lr(TRIO, TRIO_H2, g, mm, theta), lr(TRIO, TRIO_H2, swapped, mm, theta), rel=1e-12)


def test_trio_swapping_parents_with_sex_specific_rates_changes_lr():
    # Equal model, 4 alleles at D3S1358, female rate mf = 0.001, male mm = 0.004.
    # Father 14/14, mother 16/16, child 14/17 (17 needs a mutation).
    # Child (pat, mat):
    #   (14, 17): father passes 14 (1 - mm), mother 16 -> 17 (mf/3)
    #   (17, 14): father 14 -> 17 (mm/3), mother 16 -> 14 (mf/3)
    #   P = (1 - mm) mf/3 + mm mf/9
    # Swapped (father 16/16, mother 14/14): roles exchange:
    #   P' = (1 - mf) mm/3 + mm mf/9
    # H2 (all unrelated): parents' probabilities are the same products after
    # the swap, child 2 p14 p17, so LR = P / (2 p14 p17).
    mf, mm = 0.001, 0.004
    mut = MutationModel(female=Equal(mf), male=Equal(mm))
    p14, p17 = TABLE[D3]["14"], TABLE[D3]["17"]
    g = {"F": {D3: ("14", "14")}, "MO": {D3: ("16", "16")}, "C": {D3: ("14", "17")}}
    swapped = dict(g, F=g["MO"], MO=g["F"])
    r = lr(TRIO, TRIO_H2, g, mut)
    rs = lr(TRIO, TRIO_H2, swapped, mut)
    exp = ((1 - mm) * mf / 3 + mm * mf / 9) / (2 * p14 * p17)
    exp_s = ((1 - mf) * mm / 3 + mm * mf / 9) / (2 * p14 * p17)
    assert r.per_locus[D3] == pytest.approx(exp, rel=1e-12)
    assert rs.per_locus[D3] == pytest.approx(exp_s, rel=1e-12)
    assert rs.per_locus[D3] != pytest.approx(r.per_locus[D3], rel=1e-3)  # it changes
    assert r.inconsistent == [D3] and rs.inconsistent == [D3]
    # with equal rates the swap changes nothing (control)
    same = MutationModel(female=Equal(mm), male=Equal(mm))
    assert lr(TRIO, TRIO_H2, g, same).per_locus[D3] == pytest.approx(
        lr(TRIO, TRIO_H2, swapped, same).per_locus[D3], rel=1e-12
    )


@SETTINGS
@given(case(with_theta=False))
def test_zero_theta_and_zero_rates_are_exactly_the_plain_result(c):
    _, h1, h2, g, _, _ = c
    plain = lr(h1, h2, g)  # no theta argument, mutation=None
    assert_same_result(plain, lr(h1, h2, g, None, 0.0), rel=0.0)
    assert_same_result(plain, lr(h1, h2, g, None, 0), rel=0.0)
    for zero in (
        MutationModel(Stepwise(rate=0, rate2=0)),
        MutationModel(Equal(0)),
        MutationModel(Proportional(0.0)),
        MutationModel(female=Equal(0.0), male=Stepwise(0.0, 0.0, 0.3)),
        Equal(0.0),  # a bare model is accepted as well
    ):
        assert_same_result(plain, lr(h1, h2, g, zero, 0.0), rel=0.0)
    # an explicit identity matrix is a (non-null) model that mutates nothing
    ident = MutationModel(Custom({}))
    assert_same_result(plain, lr(h1, h2, g, ident), rel=1e-12)


@SETTINGS
@given(case(with_theta=False, names=THETA_CASES))
def test_tiny_theta_is_close_to_zero_theta(c):
    # continuity of the Balding-Nichols sampling formula at theta = 0
    _, h1, h2, g, model, _ = c
    r0 = lr(h1, h2, g, model, 0.0)
    r1 = lr(h1, h2, g, model, 1e-10)
    for locus, v in r0.per_locus.items():
        w = r1.per_locus[locus]
        if math.isnan(v) or math.isinf(v) or v == 0.0:
            continue  # exclusions: the tiny theta keeps a zero a zero
        assert w == pytest.approx(v, rel=1e-6)


@SETTINGS
@given(case())
def test_total_is_product_of_per_locus(c):
    _, h1, h2, g, model, theta = c
    r = lr(h1, h2, g, model, theta)
    prod = 1.0
    for v in r.per_locus.values():
        prod *= v
    assert same_value(r.total, prod, rel=1e-15)
    typed_loci = {l for calls in g.values() for l in calls}
    assert set(r.per_locus) == typed_loci
    for locus, v in r.per_locus.items():
        assert same_value(v, _ratio(r.likelihood_h1[locus], r.likelihood_h2[locus]), rel=1e-15)


def _ratio(a, b):
    if b == 0.0:
        return math.nan if a == 0.0 else math.inf
    return a / b


# ---------------------------------------------------------------------------
# exclusions, mutations, 0/0, x/0 (hand values)
# ---------------------------------------------------------------------------

DUO_H1 = [M("AF"), F("MO"), M("C", "AF", "MO")]  # mother untyped
DUO_H2 = [M("AF"), M("C")]


def test_exclusion_without_mutation_is_exactly_zero():
    # Father 14/14, child 16/16: the child's paternal 16 cannot come from 14.
    g = {"AF": {D3: ("14", "14"), VWA: ("16", "17")}, "C": {D3: ("16", "16"), VWA: ("16", "16")}}
    r = lr(DUO_H1, DUO_H2, g)
    assert r.per_locus[D3] == 0.0
    assert r.likelihood_h1[D3] == 0.0
    assert r.inconsistent == [D3]
    assert r.n_inconsistent == 1
    # vWA is consistent: father 16/17, child 16/16: LR = 1/(2 p16) = 1/(2 * 1/2) = 1
    assert r.per_locus[VWA] == pytest.approx(1.0, rel=1e-12)
    assert r.total == 0.0
    assert r.log10_total == -math.inf


def test_exclusion_with_mutation_is_positive_and_still_listed():
    # docs/mutation-models.md §7, duo with an untyped mother, Equal model with
    # male rate mm and female rate mf, 4 alleles:
    #   LR = mm/3 * (p16 (1 - mf) + (1 - p16) mf/3) / p16^2
    # (the untyped mother's transmitted allele is distributed as pM, not p).
    mm, mf = 0.003, 0.001
    p16 = TABLE[D3]["16"]
    g = {"AF": {D3: ("14", "14")}, "C": {D3: ("16", "16")}}
    r = lr(DUO_H1, DUO_H2, g, MutationModel(female=Equal(mf), male=Equal(mm)))
    exp = mm / 3 * (p16 * (1 - mf) + (1 - p16) * mf / 3) / p16**2
    assert r.per_locus[D3] > 0.0
    assert r.per_locus[D3] == pytest.approx(exp, rel=1e-12)
    assert r.inconsistent == [D3]


def test_one_step_paternal_mutation_hand_value():
    # Trio, Stepwise(rate 0.01, range 0.5), D3S1358 alleles 14..17 (integers).
    # Father 14/14, mother 16/16, child 15/16.
    # Row 14 of M: same-group targets 15, 16, 17 with weights 0.5, 0.25, 0.125
    # (sum 0.875): M[14,15] = 0.01*0.5/0.875, M[14,16] = 0.01*0.25/0.875.
    # Row 16: targets 14 (0.25), 15 (0.5), 17 (0.5), sum 1.25: M[16,15] = 0.004.
    # Child (pat, mat): (15, 16): M[14,15] * M[16,16]; (16, 15): M[14,16] * M[16,15].
    # H2 all unrelated: child 2 p15 p16.
    m1415 = 0.01 * 0.5 / 0.875
    m1416 = 0.01 * 0.25 / 0.875
    m1615 = 0.01 * 0.5 / 1.25
    m1616 = 0.99
    g = {"F": {D3: ("14", "14")}, "MO": {D3: ("16", "16")}, "C": {D3: ("15", "16")}}
    r = lr(TRIO, TRIO_H2, g, MutationModel(Stepwise(0.01, 0.0, 0.5)))
    exp = (m1415 * m1616 + m1416 * m1615) / (2 * TABLE[D3]["15"] * TABLE[D3]["16"])
    assert r.per_locus[D3] == pytest.approx(exp, rel=1e-12)
    assert r.inconsistent == [D3]


def test_zero_over_zero_is_nan():
    # H1: AF is the father (trio); H2: X is the father.  Mother and child are
    # typed references, inconsistent with each other (mother 14/14, child
    # 16/16), so both likelihoods are 0 without mutation: 0/0 = nan.
    g = {"AF": {D3: ("15", "16")}, "MO": {D3: ("14", "14")}, "C": {D3: ("16", "16")}}
    h1, h2, _ = CASES["paternity"]
    r = lr(h1, h2, g)
    assert r.likelihood_h1[D3] == 0.0 and r.likelihood_h2[D3] == 0.0
    assert math.isnan(r.per_locus[D3])
    assert math.isnan(r.total)
    assert math.isnan(r.log10_total)
    assert r.inconsistent == [D3]


def test_x_over_zero_is_inf():
    # H1: AF unrelated to C; H2: AF is C's father, and AF 14/14 vs C 16/16
    # excludes H2: L1 = p14^2 * p16^2 > 0, L2 = 0 -> inf.  H1 is consistent,
    # so the locus is not listed as inconsistent.
    g = {"AF": {D3: ("14", "14")}, "C": {D3: ("16", "16")}}
    r = lr(DUO_H2, DUO_H1, g)
    p14, p16 = TABLE[D3]["14"], TABLE[D3]["16"]
    assert r.likelihood_h1[D3] == pytest.approx(p14**2 * p16**2, rel=1e-12)
    assert r.likelihood_h2[D3] == 0.0
    assert r.per_locus[D3] == math.inf
    assert r.total == math.inf
    assert r.inconsistent == []
    assert r.posterior(0.5) == 1.0


def test_paternity_index_with_theta_hand_value():
    # docs/mutation-models.md §6: father ab, child aa, mother untyped, no
    # mutation: LR = (1 + 2θ) / (2 (2θ + (1 - θ) p_a)); at θ = 0, 1/(2 p_a).
    # a = 15 (p = 1/4), b = 16 at D3S1358.
    pa = TABLE[D3]["15"]
    g = {"AF": {D3: ("15", "16")}, "C": {D3: ("15", "15")}}
    for theta in (0.0, 0.01, 0.03, 0.1):
        r = lr(DUO_H1, DUO_H2, g, theta=theta)
        exp = (1 + 2 * theta) / (2 * (2 * theta + (1 - theta) * pa))
        assert r.per_locus[D3] == pytest.approx(exp, rel=1e-12), theta
