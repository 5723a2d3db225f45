"""The fast implementation (``kinship.likelihood_ratio``) against the slow reference.

The reference (tests/reference_pedigree.py) shares no code with ``kinship``;
its correctness is established in tests/test_reference_selfcheck.py.  Only the
public API is used here:

    kinship.likelihood_ratio(h1, h2, genotypes={pid: {locus: (a, b)}},
                             frequencies=kinship.FrequencyTable.from_dict({locus: {allele: p}}),
                             mutation=None | kinship.MutationModel(...), theta=...)
    r.per_locus[locus]  -> the single-locus LR

Comparison rule (``assert_matches``): relative tolerance 1e-9; an exclusion in
the reference (LR exactly 0) must be exactly 0.0; nan (0/0) must be nan; inf
(x/0) must be inf.

Frequencies are multiples of 1/64, so they sum to exactly 1.0 in binary
floating point and no renormalisation can blur the comparison.

If the public API cannot be imported yet, the whole module is skipped (the
reason, with the ImportError, is shown by ``pytest -ra``).
"""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_pedigree import (
    ref_equal,
    ref_extended_stepwise,
    ref_lr,
    ref_proportional,
    ref_stepwise,
)

try:
    from kinship import (
        Equal,
        ExtendedStepwise,
        FrequencyTable,
        MutationModel,
        Proportional,
        Stepwise,
        likelihood_ratio,
    )
except ImportError as exc:  # the fast implementation is not there yet
    _API_ERROR = exc
else:
    _API_ERROR = None

pytestmark = pytest.mark.skipif(
    _API_ERROR is not None,
    reason=f"public kinship API not importable yet: {_API_ERROR!r}",
)

LOCUS = "D3S1358"

#: Allele labels: integers and microvariants of two groups (.3 and .1).
LABEL_POOL = ["8", "9", "9.3", "10", "10.3", "11", "12", "12.1"]

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])


# ---------------------------------------------------------------------------
# Mutation specifications -> API objects and reference matrices
# ---------------------------------------------------------------------------
# A spec is None (no mutation) or a tuple:
#   ("equal", rate) | ("proportional", rate) | ("stepwise", rate, rate2, range)
#   | ("extended", rate, rate2, range)

def api_model(spec):
    kind = spec[0]
    if kind == "equal":
        return Equal(rate=spec[1])
    if kind == "proportional":
        return Proportional(rate=spec[1])
    if kind == "stepwise":
        return Stepwise(rate=spec[1], rate2=spec[2], range=spec[3])
    if kind == "extended":
        return ExtendedStepwise(rate=spec[1], rate2=spec[2], range=spec[3])
    raise AssertionError(kind)


def ref_matrix(spec, alleles, freqs):
    if spec is None:
        return None
    kind = spec[0]
    if kind == "equal":
        return ref_equal(alleles, spec[1])
    if kind == "proportional":
        return ref_proportional(alleles, freqs, spec[1])
    if kind == "stepwise":
        return ref_stepwise(alleles, spec[1], spec[2], spec[3])
    if kind == "extended":
        return ref_extended_stepwise(alleles, spec[1], spec[2], spec[3])
    raise AssertionError(kind)


def api_mutation(female, male, one_object):
    """The ``mutation=`` argument.  A None spec for one sex becomes Equal(rate=0)."""
    if female is None and male is None:
        return None
    if one_object:
        assert female == male
        return MutationModel(api_model(female))
    return MutationModel(female=api_model(female or ("equal", 0.0)),
                         male=api_model(male or ("equal", 0.0)))


RATES = st.sampled_from([0.0, 0.001, 0.005, 0.02, 0.05])
RATES2 = st.sampled_from([0.0, 0.0005, 0.002, 0.01])
RANGES = st.sampled_from([0.1, 0.5, 1.0])


@st.composite
def mutation_spec(draw):
    kind = draw(st.sampled_from([None, "equal", "proportional", "stepwise", "extended"]))
    if kind is None:
        return None
    if kind in ("equal", "proportional"):
        return (kind, draw(RATES))
    return (kind, draw(RATES), draw(RATES2), draw(RANGES))


@st.composite
def mutation_pair(draw):
    """(female spec, male spec, use MutationModel(model) for both sexes?)."""
    if draw(st.booleans()):
        spec = draw(mutation_spec())
        return spec, spec, spec is not None and draw(st.booleans())
    return draw(mutation_spec()), draw(mutation_spec()), False


# ---------------------------------------------------------------------------
# Loci
# ---------------------------------------------------------------------------

@st.composite
def locus(draw):
    """(alleles, freqs) with 3-4 alleles and frequencies k/64 (k >= 4)."""
    n = draw(st.integers(3, 4))
    alleles = draw(st.lists(st.sampled_from(LABEL_POOL), min_size=n, max_size=n, unique=True))
    counts, left = [], 64
    for i in range(n - 1):
        k = draw(st.integers(4, left - 4 * (n - 1 - i)))
        counts.append(k)
        left -= k
    counts.append(left)
    return alleles, [k / 64 for k in counts]


THETAS = st.sampled_from([0.0, 0.01, 0.03])


# ---------------------------------------------------------------------------
# Running both sides
# ---------------------------------------------------------------------------

def api_lr(h1, h2, genotypes, alleles, freqs, female, male, one_object, theta):
    result = likelihood_ratio(
        h1, h2,
        genotypes={pid: {LOCUS: tuple(g)} for pid, g in genotypes.items()},
        frequencies=FrequencyTable.from_dict({LOCUS: dict(zip(alleles, freqs))}),
        mutation=api_mutation(female, male, one_object),
        theta=theta,
    )
    return float(result.per_locus[LOCUS])


def assert_matches(api_value, ref_value, context=""):
    if math.isnan(ref_value):
        assert math.isnan(api_value), (api_value, ref_value, context)
    elif ref_value == 0.0:
        assert api_value == 0.0, (api_value, ref_value, context)
    elif math.isinf(ref_value):
        assert api_value == ref_value, (api_value, ref_value, context)
    else:
        assert api_value == pytest.approx(ref_value, rel=1e-9, abs=0.0), \
            (api_value, ref_value, context)


def check(h1, h2, genotypes, alleles, freqs, female, male, one_object, theta):
    Mf = ref_matrix(female, alleles, freqs)
    Mm = ref_matrix(male, alleles, freqs)
    _, _, expected = ref_lr(h1, h2, genotypes, alleles, freqs, Mf, Mm, theta)
    got = api_lr(h1, h2, genotypes, alleles, freqs, female, male, one_object, theta)
    assert_matches(got, expected, dict(h1=h1, h2=h2, genotypes=genotypes, alleles=alleles,
                                       freqs=freqs, female=female, male=male, theta=theta))


# ---------------------------------------------------------------------------
# Genotypes: random, or dropped through the pedigree (to get few exclusions)
# ---------------------------------------------------------------------------

def draw_genotypes(draw, pedigree, typed, alleles):
    if draw(st.booleans()):
        return {pid: (draw(st.sampled_from(alleles)), draw(st.sampled_from(alleles)))
                for pid in typed}
    genes = {}
    remaining = list(pedigree)
    while remaining:               # parents before children
        for person in list(remaining):
            f, m = person["father"], person["mother"]
            if (f is None or f in genes) and (m is None or m in genes):
                pat = (draw(st.sampled_from(genes[f])) if f is not None
                       else draw(st.sampled_from(alleles)))
                mat = (draw(st.sampled_from(genes[m])) if m is not None
                       else draw(st.sampled_from(alleles)))
                genes[person["id"]] = (pat, mat)
                remaining.remove(person)
    return {pid: genes[pid] for pid in typed}


def person(pid, father=None, mother=None, sex="male"):
    return {"id": pid, "father": father, "mother": mother, "sex": sex}


# ---------------------------------------------------------------------------
# 1. Random small pedigrees
# ---------------------------------------------------------------------------

def _random_links(draw, ids, sexes):
    """Each person is a founder or (3 times in 4) a child of earlier persons."""
    ped = []
    for pid in ids:
        fathers = [q["id"] for q in ped if q["sex"] == "male"]
        mothers = [q["id"] for q in ped if q["sex"] == "female"]
        if fathers and mothers and draw(st.sampled_from([True, True, True, False])):
            ped.append(person(pid, draw(st.sampled_from(fathers)),
                              draw(st.sampled_from(mothers)), sexes[pid]))
        else:
            ped.append(person(pid, None, None, sexes[pid]))
    return ped


def _untyped_founders(ped, typed):
    return [q["id"] for q in ped if q["father"] is None and q["id"] not in typed]


@st.composite
def random_case(draw):
    alleles, freqs = draw(locus())
    n = draw(st.integers(3, 6))
    ids = [f"p{i}" for i in range(n)]
    # p0, p1 a couple (so children are possible early), the rest random
    sexes = {pid: draw(st.sampled_from(["male", "female"])) for pid in ids}
    sexes["p0"], sexes["p1"] = "male", "female"
    h1 = _random_links(draw, ids, sexes)
    typed = set(draw(st.lists(st.sampled_from(ids), min_size=2, unique=True)))
    mode = draw(st.sampled_from(["h2 unrelated", "h1 unrelated", "two pedigrees"]))
    if mode == "two pedigrees":
        h2 = _random_links(draw, ids, sexes)
    else:
        h2 = None
    # keep the reference quick: at most 3 untyped founders per hypothesis
    for ped in (h1, h2):
        if ped is None:
            continue
        while len(_untyped_founders(ped, typed)) > 3:
            typed.add(_untyped_founders(ped, typed)[0])
    typed = sorted(typed)
    if h2 is None:
        h2 = [person(pid, None, None, sexes[pid]) for pid in typed]
        if mode == "h1 unrelated":
            h1, h2 = h2, h1
    genotypes = draw_genotypes(draw, h1 if mode != "h1 unrelated" else h2, typed, alleles)
    female, male, one_object = draw(mutation_pair())
    theta = draw(THETAS)
    return h1, h2, genotypes, alleles, freqs, female, male, one_object, theta


@settings(max_examples=150, **SETTINGS)
@given(random_case())
def test_random_pedigrees_agree_with_reference(case):
    check(*case)


# ---------------------------------------------------------------------------
# 2. Standard relationships against unrelated
# ---------------------------------------------------------------------------
# Typed persons are X and Y (and MO in the trio); everybody else is untyped.

def M(pid, f=None, m=None):
    return person(pid, f, m, "male")


def F(pid, f=None, m=None):
    return person(pid, f, m, "female")


STANDARD = {
    # Father-child duo.  A child needs both parents or none, so the mother is
    # an untyped founder; she is in H1 only (H2 = X, Y unrelated) or, in the
    # next entry, also in H2 as an unrelated untyped founder.
    "duo, untyped mother in H1 only": [M("X"), F("MO"), M("Y", "X", "MO")],
    "duo, untyped mother in H1 and H2": [M("X"), F("MO"), F("Y", "X", "MO")],
    "paternal half siblings": [M("FA"), F("M1"), F("M2"), M("X", "FA", "M1"), F("Y", "FA", "M2")],
    "maternal half siblings": [M("F1"), M("F2"), F("MO"), M("X", "F1", "MO"), M("Y", "F2", "MO")],
    "full siblings": [M("FA"), F("MO"), M("X", "FA", "MO"), F("Y", "FA", "MO")],
    "grandfather, paternal line": [M("X"), F("XW"), M("P", "X", "XW"), F("PW"), M("Y", "P", "PW")],
    "grandmother, maternal line": [M("XH"), F("X"), F("P", "XH", "X"), M("PH"), F("Y", "PH", "P")],
    "avuncular": [M("GF"), F("GM"), M("X", "GF", "GM"), F("S", "GF", "GM"), M("SH"),
                  M("Y", "SH", "S")],
    "first cousins": [M("GF"), F("GM"), M("S1", "GF", "GM"), F("S2", "GF", "GM"), F("W1"),
                      M("H2"), M("X", "S1", "W1"), F("Y", "H2", "S2")],
}
SEX = {name: {q["id"]: q["sex"] for q in ped} for name, ped in STANDARD.items()}


@st.composite
def standard_case(draw, name):
    h1 = STANDARD[name]
    h2_ids = ("X", "MO", "Y") if name == "duo, untyped mother in H1 and H2" else ("X", "Y")
    h2 = [person(pid, None, None, SEX[name][pid]) for pid in h2_ids]
    alleles, freqs = draw(locus())
    genotypes = draw_genotypes(draw, h1, ["X", "Y"], alleles)
    female, male, one_object = draw(mutation_pair())
    theta = draw(THETAS)
    return h1, h2, genotypes, alleles, freqs, female, male, one_object, theta


@pytest.mark.parametrize("name", list(STANDARD))
@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_standard_relationships_agree_with_reference(name, data):
    check(*data.draw(standard_case(name)))


TRIO_H1 = [M("AF"), F("MO"), M("CH", "AF", "MO")]
TRIO_H2_RANDOM_MAN = [M("AF"), F("MO"), M("TF"), M("CH", "TF", "MO")]
TRIO_H2_UNRELATED = [M("AF"), F("MO"), M("CH")]


@settings(max_examples=40, **SETTINGS)
@given(data=st.data())
def test_trio_agrees_with_reference(data):
    alleles, freqs = data.draw(locus())
    genotypes = draw_genotypes(data.draw, TRIO_H1, ["AF", "MO", "CH"], alleles)
    female, male, one_object = data.draw(mutation_pair())
    theta = data.draw(THETAS)
    h2 = data.draw(st.sampled_from([TRIO_H2_RANDOM_MAN, TRIO_H2_UNRELATED]))
    check(TRIO_H1, h2, genotypes, alleles, freqs, female, male, one_object, theta)


# ---------------------------------------------------------------------------
# 3. A few fixed cases (easy to read when they fail)
# ---------------------------------------------------------------------------

def test_fixed_paternity_index():
    # father 15/16, child 16/16, p16 = 0.25 -> LR = 2 (derivation in the selfcheck)
    alleles, freqs = ["15", "16", "17"], [0.25, 0.25, 0.5]
    h1 = [M("AF"), F("MO"), M("CH", "AF", "MO")]
    h2 = [M("AF"), M("CH")]
    g = {"AF": ("15", "16"), "CH": ("16", "16")}
    assert_matches(api_lr(h1, h2, g, alleles, freqs, None, None, False, 0.0), 2.0)


def test_fixed_exclusion_and_mutation():
    alleles, freqs = ["15", "16", "17"], [0.25, 0.25, 0.5]
    h1 = [M("AF"), F("MO"), M("CH", "AF", "MO")]
    h2 = [M("AF"), M("CH")]
    g = {"AF": ("15", "15"), "CH": ("16", "16")}
    assert api_lr(h1, h2, g, alleles, freqs, None, None, False, 0.0) == 0.0
    for spec in [("equal", 0.002), ("proportional", 0.002), ("stepwise", 0.002, 0.0, 0.5),
                 ("extended", 0.002, 0.0001, 0.5)]:
        check(h1, h2, g, alleles, freqs, None, spec, False, 0.0)
        check(h1, h2, g, alleles, freqs, spec, spec, True, 0.01)


def test_fixed_nan_and_inf():
    alleles, freqs = ["15", "16", "17"], [0.25, 0.25, 0.5]
    duo = [M("AF"), F("MO"), M("CH", "AF", "MO")]
    duo2 = [M("AF"), F("M2"), M("CH", "AF", "M2")]
    unrel = [M("AF"), M("CH")]
    g = {"AF": ("15", "15"), "CH": ("16", "16")}
    check(duo, duo2, g, alleles, freqs, None, None, False, 0.0)      # 0/0 -> nan
    check(unrel, duo, g, alleles, freqs, None, None, False, 0.0)     # x/0 -> inf


@pytest.mark.parametrize("kind", ["stepwise", "extended"])
@pytest.mark.parametrize("alleles, father, child", [
    # 9.5 and 10.5 share the fractional part .5: an integer step (rate), not a
    # rate2 move.  (pedmut's round() would split them by parity; we do not.)
    (["9.5", "10", "10.5", "11"], ("9.5", "9.5"), ("10.5", "10.5")),
    # 7.3 and 8.3: the floating-point trap of old pedmut / Familias R.
    (["7.3", "8", "8.3", "9"], ("7.3", "7.3"), ("8.3", "8.3")),
])
def test_fixed_microvariant_groups(kind, alleles, father, child):
    freqs = [0.25, 0.25, 0.25, 0.25]
    h1 = [M("AF"), F("MO"), M("CH", "AF", "MO")]
    h2 = [M("AF"), M("CH")]
    spec = (kind, 0.01, 0.0, 0.5)           # rate2 = 0: only same-group moves possible
    Mm = ref_matrix(spec, alleles, freqs)
    assert Mm[0, 2] > 0                      # the reference sees one group
    check(h1, h2, {"AF": father, "CH": child}, alleles, freqs, None, spec, False, 0.0)
