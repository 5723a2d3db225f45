"""Mutation matrices (kinship.mutation) against docs/mutation-models.md.

Every expected matrix below is written out by hand from the formulas and worked
examples of docs/mutation-models.md (section cited beside each test), not
computed by the code under test.  The allele systems are built through the
public route, ``FrequencyTable.locus_alleles``; ``LocusAlleles`` is built
directly only where a label that the public route would reject is needed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import kinship
from kinship import (
    Custom,
    Equal,
    ExtendedStepwise,
    FrequencyTable,
    MutationModel,
    Proportional,
    Stepwise,
)
from kinship.frequencies import LocusAlleles
from kinship.mutation import MutationError

LOCUS = "D3S1358"


def system(alleles, freqs=None, silent=None, locus=LOCUS):
    """The allele system of one locus with the given labels (uniform by default)."""
    if freqs is None:
        freqs = [1.0 / len(alleles)] * len(alleles)
    t = FrequencyTable.from_dict({locus: dict(zip(alleles, freqs))}, silent=silent)
    return t.locus_alleles(locus)


def assert_matrix(M, expected, rel=1e-12):
    expected = np.asarray(expected, dtype=float)
    assert M.shape == expected.shape
    np.testing.assert_allclose(M, expected, rtol=rel, atol=1e-15)


def assert_rows_sum_to_one(M):
    np.testing.assert_allclose(M.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    assert np.all(M >= 0.0)


# ---------------------------------------------------------------------------
# §1 Equal
# ---------------------------------------------------------------------------


def test_equal_worked_example():
    # docs/mutation-models.md §1: 3 alleles, r = 0.01 -> diagonal 0.99,
    # off-diagonal r/(n-1) = 0.005
    M = Equal(0.01).matrix(system(["9", "10", "11"]))
    assert_matrix(M, [[0.99, 0.005, 0.005], [0.005, 0.99, 0.005], [0.005, 0.005, 0.99]])
    assert_rows_sum_to_one(M)


def test_equal_five_alleles():
    # §1 with n = 5, r = 0.02: off-diagonal 0.02/4 = 0.005, diagonal 0.98
    M = Equal(0.02).matrix(system(["12", "13", "14", "15", "16"]))
    exp = np.full((5, 5), 0.005)
    np.fill_diagonal(exp, 0.98)
    assert_matrix(M, exp)


def test_single_allele_is_identity():
    # §1/§3: with a single allele M = [1]
    for model in (Equal(0.1), Proportional(0.1), Stepwise(0.1, 0.01), ExtendedStepwise(0.1)):
        assert_matrix(model.matrix(system(["15"])), [[1.0]])


# ---------------------------------------------------------------------------
# §2 Proportional
# ---------------------------------------------------------------------------


def test_proportional_worked_example():
    # §2: p = (0.2, 0.3, 0.5), r = 0.01; sum p(1-p) = 0.16 + 0.21 + 0.25 = 0.62,
    # alpha = 0.01/0.62; M_ij = alpha p_j (j != i), M_ii = 1 - alpha + alpha p_i
    a = 0.01 / 0.62
    exp = [
        [1 - a + a * 0.2, a * 0.3, a * 0.5],
        [a * 0.2, 1 - a + a * 0.3, a * 0.5],
        [a * 0.2, a * 0.3, 1 - a + a * 0.5],
    ]
    M = Proportional(0.01).matrix(system(["9", "10", "11"], [0.2, 0.3, 0.5]))
    assert_matrix(M, exp)
    # the printed 8-digit table of the doc
    doc = [
        [0.98709677, 0.00483871, 0.00806452],
        [0.00322581, 0.98870968, 0.00806452],
        [0.00322581, 0.00483871, 0.99193548],
    ]
    np.testing.assert_allclose(M, doc, atol=5e-9)
    assert_rows_sum_to_one(M)
    # stationary (pM = p) and the frequency-weighted rate is r
    p = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(p @ M, p, atol=1e-15)
    assert float(np.sum(p * (1 - np.diag(M)))) == pytest.approx(0.01, rel=1e-12)


def test_proportional_rate_too_large_raises():
    # §2 validity: rate <= (1 - sum p^2) / (1 - min p) = 0.62 / 0.8 = 0.775
    la = system(["9", "10", "11"], [0.2, 0.3, 0.5])
    M = Proportional(0.77).matrix(la)  # just below the limit: valid
    assert_rows_sum_to_one(M)
    with pytest.raises(MutationError) as ei:
        Proportional(0.78).matrix(la)
    msg = str(ei.value)
    assert "locus D3S1358" in msg and "rate 0.78" in msg and "reduce the rate" in msg


# ---------------------------------------------------------------------------
# §3 Stepwise
# ---------------------------------------------------------------------------

EXAMPLE_A = [
    # alleles 9, 9.3, 10, 11; r = 0.01, r2 = 0.002, R = 0.5 (§3 Example A)
    # row 9: same group {10, 11} weights 0.5, 0.25 (sum 0.75); 9.3 gets r2/1
    [1 - 0.012, 0.002, 0.01 * 0.5 / 0.75, 0.01 * 0.25 / 0.75],
    # row 9.3: alone in its group -> diagonal 1 - r2, others r2/3
    [0.002 / 3, 1 - 0.002, 0.002 / 3, 0.002 / 3],
    # row 10: same group {9, 11} both one step: 0.005 each
    [0.005, 0.002, 1 - 0.012, 0.005],
    # row 11: 10 is one step (0.5), 9 two steps (0.25)
    [0.01 * 0.25 / 0.75, 0.002, 0.01 * 0.5 / 0.75, 1 - 0.012],
]


@pytest.mark.parametrize("model_cls", [Stepwise, ExtendedStepwise])
def test_stepwise_example_a(model_cls):
    M = model_cls(rate=0.01, rate2=0.002, range=0.5).matrix(system(["9", "9.3", "10", "11"]))
    assert_matrix(M, EXAMPLE_A)
    assert_rows_sum_to_one(M)


def test_stepwise_example_b():
    # §3 Example B: 9, 9.3, 10, 10.3 -> diagonals 0.988, the one same-group
    # target 0.01, the two other-group targets 0.002/2 = 0.001
    M = Stepwise(0.01, 0.002, 0.5).matrix(system(["9", "9.3", "10", "10.3"]))
    exp = [
        [0.988, 0.001, 0.01, 0.001],
        [0.001, 0.988, 0.001, 0.01],
        [0.01, 0.001, 0.988, 0.001],
        [0.001, 0.01, 0.001, 0.988],
    ]
    assert_matrix(M, exp)


def test_stepwise_example_c():
    # §3 Example C: 9, 10, 11, 12, r = 0.01, r2 = 0, R = 0.1
    # row 9: weights 0.1, 0.01, 0.001 (sum 0.111); row 10: 0.1, 0.1, 0.01 (0.21)
    exp = [
        [0.99, 0.01 * 0.1 / 0.111, 0.01 * 0.01 / 0.111, 0.01 * 0.001 / 0.111],
        [0.01 * 0.1 / 0.21, 0.99, 0.01 * 0.1 / 0.21, 0.01 * 0.01 / 0.21],
        [0.01 * 0.01 / 0.21, 0.01 * 0.1 / 0.21, 0.99, 0.01 * 0.1 / 0.21],
        [0.01 * 0.001 / 0.111, 0.01 * 0.01 / 0.111, 0.01 * 0.1 / 0.111, 0.99],
    ]
    M = Stepwise(0.01, 0.0, 0.1).matrix(system(["9", "10", "11", "12"]))
    assert_matrix(M, exp)
    doc = [
        [0.99, 0.00900901, 0.0009009, 0.00009009],
        [0.0047619, 0.99, 0.0047619, 0.00047619],
        [0.00047619, 0.0047619, 0.99, 0.0047619],
        [0.00009009, 0.0009009, 0.00900901, 0.99],
    ]
    np.testing.assert_allclose(M, doc, atol=5e-9)


def test_stepwise_exponent_is_repeat_difference_not_list_distance():
    # §3: the exponent is |x_i - x_j| in repeat units.  Alleles 9, 10, 13
    # (gap): row 9 weights 0.5^1 (to 10), 0.5^4 (to 13): sum 0.5625.
    M = Stepwise(0.01, 0.0, 0.5).matrix(system(["9", "10", "13"]))
    assert M[0, 1] == pytest.approx(0.01 * 0.5 / 0.5625, rel=1e-12)
    assert M[0, 2] == pytest.approx(0.01 * 0.0625 / 0.5625, rel=1e-12)


def test_stepwise_microvariant_groups_with_8_7():
    # §3 groups by fractional part: {9, 10}, {9.3, 10.3}, {8.7}.
    # Sorted labels: 8.7, 9, 9.3, 10, 10.3.  r = 0.01, r2 = 0.002, R = 0.5.
    # 8.7 is alone in its group: diagonal 1 - r2 = 0.998, r2/4 = 0.0005 each.
    # 9: same group {10} gets r = 0.01; other groups {8.7, 9.3, 10.3} r2/3 each;
    #    diagonal 1 - r - r2 = 0.988.  Likewise for 9.3, 10, 10.3.
    t = 0.002 / 3
    exp = [
        [0.998, 0.0005, 0.0005, 0.0005, 0.0005],
        [t, 0.988, t, 0.01, t],
        [t, t, 0.988, t, 0.01],
        [t, 0.01, t, 0.988, t],
        [t, t, 0.01, t, 0.988],
    ]
    la = system(["9", "9.3", "10", "10.3", "8.7"])
    assert la.alleles == ("8.7", "9", "9.3", "10", "10.3")
    M = Stepwise(0.01, 0.002, 0.5).matrix(la)
    assert_matrix(M, exp)
    assert_rows_sum_to_one(M)


def test_stepwise_rate2_spread_over_every_other_group_allele():
    # §3: 9 -> 9.3 and 9 -> 15.3 get the same rate2 share; 9.3 -> 10.1 is rate2.
    # Alleles 9, 9.3, 10.1, 15.3: groups {9}, {9.3, 15.3}, {10.1}.
    # Row 9: alone -> 1 - r2, others r2/3.
    # Row 9.3: same group {15.3} gets all of r (one member); others {9, 10.1} r2/2.
    r, r2 = 0.01, 0.003
    M = Stepwise(r, r2, 0.5).matrix(system(["9", "9.3", "10.1", "15.3"]))
    assert_matrix(M[0], [1 - r2, r2 / 3, r2 / 3, r2 / 3])
    assert_matrix(M[1], [r2 / 2, 1 - r - r2, r2 / 2, r])


def test_stepwise_integer_only_diagonal_is_one_minus_rate():
    # §3: all alleles in one group -> diagonal 1 - r (rate2 unused)
    M = Stepwise(0.01, 0.002, 0.5).matrix(system(["14", "15", "16"]))
    np.testing.assert_allclose(np.diag(M), 0.99, rtol=0, atol=1e-15)
    assert_rows_sum_to_one(M)


def test_stepwise_floating_point_trap_7_3_and_8_3_same_group():
    # §3 "Floating-point trap": 7.3 and 8.3 (also 31.2 / 32.2) must share a
    # group.  Alleles 7.3, 8.3, 15.1, 16.1: with r2 = 0 each allele's whole r
    # goes to its single same-group partner.
    M = Stepwise(0.01, 0.0, 0.5).matrix(system(["7.3", "8.3", "15.1", "16.1"]))
    exp = [
        [0.99, 0.01, 0, 0],
        [0.01, 0.99, 0, 0],
        [0, 0, 0.99, 0.01],
        [0, 0, 0.01, 0.99],
    ]
    assert_matrix(M, exp)
    M = Stepwise(0.01, 0.0, 0.5).matrix(system(["31.2", "32.2"]))
    assert_matrix(M, [[0.99, 0.01], [0.01, 0.99]])


def test_stepwise_point_five_alleles_share_a_group():
    # §3: we put 9.5 and 10.5 in the same group (pedmut splits them)
    M = Stepwise(0.01, 0.0, 0.5).matrix(system(["9.5", "10.5"]))
    assert_matrix(M, [[0.99, 0.01], [0.01, 0.99]])


@pytest.mark.parametrize(
    "alleles",
    [["9", "9.3", "10", "11"], ["9", "9.3", "10", "10.3"], ["6", "7", "8", "9", "9.3", "10"],
     ["12", "13.2", "14", "14.2", "15", "16.3", "17"]],
)
@pytest.mark.parametrize("params", [(0.01, 0.002, 0.5), (0.005, 0.0, 0.1), (0.2, 0.1, 0.9)])
def test_extended_stepwise_equals_stepwise(alleles, params):
    # §4: "ExtendedStepwise(rate, rate2, range) and Stepwise(rate, rate2, range)
    # therefore give the same matrix"
    la = system(alleles)
    A = Stepwise(*params).matrix(la)
    B = ExtendedStepwise(*params).matrix(la)
    np.testing.assert_array_equal(A, B)
    assert_rows_sum_to_one(A)


def test_stepwise_non_numeric_label_raises():
    # labels that the public route would reject cannot reach the model, so
    # build the allele system directly
    la = LocusAlleles(LOCUS, ("9", "X"), np.array([0.5, 0.5]))
    with pytest.raises(MutationError) as ei:
        Stepwise(0.01).matrix(la)
    msg = str(ei.value)
    assert "locus D3S1358" in msg and "numeric allele labels" in msg and "'X'" in msg
    with pytest.raises(MutationError, match="numeric allele labels"):
        ExtendedStepwise(0.01).matrix(la)
    # Equal and Proportional do not need numeric labels
    assert_matrix(Equal(0.02).matrix(la), [[0.98, 0.02], [0.02, 0.98]])


# ---------------------------------------------------------------------------
# rows sum to 1, parameters
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [Equal(0.0), Equal(0.3), Proportional(0.0), Proportional(0.05), Stepwise(0.0), Stepwise(0.02, 0.001, 0.5),
     Stepwise(0.3, 0.2, 2.0), ExtendedStepwise(0.01, 0.001, 0.25)],
)
def test_rows_sum_to_one(model):
    la = system(["8", "9", "9.3", "10", "11", "12.2", "13"],
                [4 / 64, 8 / 64, 12 / 64, 16 / 64, 12 / 64, 4 / 64, 8 / 64])
    M = model.matrix(la)
    assert M.shape == (7, 7)
    assert_rows_sum_to_one(M)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: Equal(-0.1), "Equal: rate must be a number in [0, 1], got -0.1"),
        (lambda: Equal(1.5), "Equal: rate must be a number in [0, 1], got 1.5"),
        (lambda: Equal(None), "got None"),
        (lambda: Equal("0.1"), "got '0.1'"),
        (lambda: Equal(True), "got True"),
        (lambda: Equal(float("nan")), "got nan"),
        (lambda: Proportional(2), "Proportional: rate must be a number in [0, 1], got 2"),
        (lambda: Stepwise(-0.01), "Stepwise: rate must be"),
        (lambda: Stepwise(0.01, rate2=1.2), "Stepwise: rate2 must be"),
        (lambda: Stepwise(0.6, 0.5), "Stepwise: rate + rate2 must be <= 1, got 1.1"),
        (lambda: Stepwise(0.01, range=0), "Stepwise: range must be a positive number, got 0"),
        (lambda: Stepwise(0.01, range=-1), "got -1"),
        (lambda: Stepwise(0.01, range="0.5"), "got '0.5'"),
        (lambda: Stepwise(0.01, range=float("nan")), "got nan"),
        (lambda: ExtendedStepwise(0.01, range=0), "range must be a positive number"),
    ],
)
def test_invalid_parameters_raise(make, fragment):
    with pytest.raises(MutationError) as ei:
        make()
    assert fragment in str(ei.value)


def test_mutation_error_is_value_error():
    with pytest.raises(ValueError):
        Equal(2.0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_stepwise_infinite_range_rejected():
    with pytest.raises(MutationError, match="range"):
        m = Stepwise(0.01, range=float("inf"))
        # if construction is accepted, the matrix must at least be a valid one
        M = m.matrix(system(["9", "10", "11"]))
        assert np.all(np.isfinite(M))


def test_custom_matrix():
    # named rows; alleles not named get identity rows
    M = Custom({"9": {"9": 0.9, "10": 0.1}}).matrix(system(["9", "10", "11"]))
    assert_matrix(M, [[0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(MutationError, match="row 9 sums to"):
        Custom({"9": {"9": 0.9, "10": 0.2}}).matrix(system(["9", "10"]))
    with pytest.raises(MutationError, match="square"):
        Custom([[1.0, 0.0]], alleles=["9", "10"]).matrix(system(["9", "10"]))


# ---------------------------------------------------------------------------
# silent allele
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", [Equal(0.01), Proportional(0.01), Stepwise(0.01, 0.002, 0.5), ExtendedStepwise(0.02, 0.0, 0.3)]
)
def test_silent_allele_row_and_column_are_identity(model):
    # §5: matrices are built over the non-silent alleles; silent row and
    # column stay those of the identity
    alleles = ["9", "9.3", "10", "11"]
    freqs = [16 / 64, 8 / 64, 24 / 64, 16 / 64]
    plain = model.matrix(system(alleles, freqs))
    la = system(alleles, freqs, silent=1 / 64)
    assert la.alleles[-1] == "silent"
    M = model.matrix(la)
    assert M.shape == (5, 5)
    np.testing.assert_array_equal(M[4], [0, 0, 0, 0, 1.0])
    np.testing.assert_array_equal(M[:, 4], [0, 0, 0, 0, 1.0])
    np.testing.assert_array_equal(M[:4, :4], plain)
    assert_rows_sum_to_one(M)


def test_silent_equal_counts_non_silent_alleles_only():
    # §5: Equal uses r / (n_non_silent - 1): 2 real alleles -> off-diagonal r
    M = Equal(0.01).matrix(system(["9", "10"], [0.5, 0.5], silent=1 / 64))
    assert_matrix(M, [[0.99, 0.01, 0.0], [0.01, 0.99, 0.0], [0.0, 0.0, 1.0]])


def test_silent_proportional_hand_values():
    # §5 / §2 over the non-silent alleles 9, 10, 11 with p = 1/4, 1/4, 1/2
    # (they sum to 1, so q = p): sum p(1-p) = 3/16 + 3/16 + 1/4 = 5/8,
    # alpha = 0.01 / (5/8) = 0.016; off-diagonal alpha p_j = 0.004, 0.004, 0.008
    M = Proportional(0.01).matrix(system(["9", "10", "11"], [0.25, 0.25, 0.5], silent=0.01))
    exp = [
        [0.988, 0.004, 0.008, 0.0],
        [0.004, 0.988, 0.008, 0.0],
        [0.004, 0.004, 0.992, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
    assert_matrix(M, exp)


# ---------------------------------------------------------------------------
# MutationModel: sexes and per-locus overrides
# ---------------------------------------------------------------------------


def test_one_model_for_both_sexes():
    la = system(["9", "10", "11"])
    f, m = MutationModel(Equal(0.01)).matrices(la)
    np.testing.assert_array_equal(f, m)
    assert f[0, 0] == pytest.approx(0.99)


def test_female_and_male_models_are_kept_apart():
    la = system(["9", "10", "11"])
    mm = MutationModel(female=Equal(0.01), male=Equal(0.04))
    f, m = mm.matrices(la)
    # female: 1 - 0.01, 0.01/2; male: 1 - 0.04, 0.04/2
    assert_matrix(f, [[0.99, 0.005, 0.005], [0.005, 0.99, 0.005], [0.005, 0.005, 0.99]])
    assert_matrix(m, [[0.96, 0.02, 0.02], [0.02, 0.96, 0.02], [0.02, 0.02, 0.96]])


def test_null_model_gives_none():
    la = system(["9", "10"])
    assert MutationModel(female=None, male=Equal(0.01)).matrices(la)[0] is None
    assert MutationModel(Stepwise(0.0, 0.0)).matrices(la) == (None, None)
    assert MutationModel(Stepwise(0.0, 0.0)).is_null
    assert MutationModel(Equal(0.0)).is_null
    assert not MutationModel(Equal(0.0), per_locus={LOCUS: Equal(0.1)}).is_null


def test_per_locus_override_picks_its_matrix():
    base = MutationModel(Equal(0.01), per_locus={
        "vWA": Equal(0.5),
        "TH01": MutationModel(female=Equal(0.02), male=Equal(0.06)),
    })
    vwa = system(["16", "17"], locus="vWA")
    th = system(["6", "7", "8"], locus="TH01")
    d3 = system(["14", "15"], locus=LOCUS)
    f, m = base.matrices(vwa)
    assert_matrix(f, [[0.5, 0.5], [0.5, 0.5]])
    assert_matrix(m, [[0.5, 0.5], [0.5, 0.5]])
    f, m = base.matrices(th)
    assert f[0, 0] == pytest.approx(0.98) and f[0, 1] == pytest.approx(0.01)
    assert m[0, 0] == pytest.approx(0.94) and m[0, 1] == pytest.approx(0.03)
    f, m = base.matrices(d3)  # no override: the base model
    assert_matrix(f, [[0.99, 0.01], [0.01, 0.99]])


def test_per_locus_override_accepts_alias_names():
    mm = MutationModel(Equal(0.01), per_locus={"VWA": Equal(0.5)})
    f, m = mm.matrices(system(["16", "17"], locus="vWA"))
    assert_matrix(m, [[0.5, 0.5], [0.5, 0.5]])


def test_model_arguments_checked():
    with pytest.raises(ValueError, match="either one model for both sexes or female= and male="):
        MutationModel(Equal(0.01), female=Equal(0.02))
    with pytest.raises(TypeError, match="male mutation model must be"):
        MutationModel(male=0.01)


def test_male_and_female_rates_drive_the_right_transmission():
    # Through the public LR: trio, father 14/14, mother 16/16, child 15/16.
    # Equal model, 4 alleles (14, 15, 16, 17), female rate mf, male rate mm.
    # Ordered child (pat, mat):
    #   (15, 16): father mutates 14->15: mm/3; mother passes 16: 1 - mf
    #   (16, 15): father mutates 14->16: mm/3; mother mutates 16->15: mf/3
    # P(child | parents) = mm/3 (1 - mf) + mm mf / 9.
    # H2: all three unrelated: P(child) = 2 p15 p16; parents cancel.
    p = {"14": 16 / 64, "15": 8 / 64, "16": 24 / 64, "17": 16 / 64}
    freqs = FrequencyTable.from_dict({LOCUS: p})
    h1 = [
        {"id": "F", "sex": "male"},
        {"id": "M", "sex": "female"},
        {"id": "C", "father": "F", "mother": "M", "sex": "female"},
    ]
    h2 = [{"id": "F", "sex": "male"}, {"id": "M", "sex": "female"}, {"id": "C", "sex": "female"}]
    g = {"F": {LOCUS: ("14", "14")}, "M": {LOCUS: ("16", "16")}, "C": {LOCUS: ("15", "16")}}
    mf, mm = 0.002, 0.008
    r = kinship.likelihood_ratio(h1, h2, g, freqs, mutation=MutationModel(female=Equal(mf), male=Equal(mm)))
    expected = (mm / 3 * (1 - mf) + mm * mf / 9) / (2 * p["15"] * p["16"])
    assert r.per_locus[LOCUS] == pytest.approx(expected, rel=1e-12)
    assert r.inconsistent == [LOCUS]


def test_custom_matrix_labels_are_normalised():
    la = system(["9", "10"])
    M = Custom({"09": {"09": 0.5, "10": 0.5}}).matrix(la)
    assert_matrix(M, [[0.5, 0.5], [0.0, 1.0]])
