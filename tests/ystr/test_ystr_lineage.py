"""Lineage LR numerators: hand values, and a forward-enumeration reference for copies."""
import itertools
import math

import pytest

from kinship.ystr import (
    PATERNAL_MEIOSES,
    YHaplotypes,
    YMutationRates,
    YPanel,
    combine_with_autosomal,
    get_panel,
    lineage_lr,
    step_probability,
)
from kinship.ystr.haplotypes import MISSING, NULL
from kinship.ystr.lineage import normalise_prior, pair_numerators

YFP = get_panel("Yfiler Plus")
RATES = YMutationRates.load()
MU = RATES.slot_rates(YFP)


def base_record(sample="q"):
    vals = dict(zip(YFP.marker_names, [15] * len(YFP.markers)))
    vals.update({"DYS385": "11,14", "DYF387S1": "35,37", "DYS389I": 13, "DYS389II": 29, "sample": sample})
    return vals


def test_single_step_difference_by_hand():
    q = YHaplotypes.from_records([base_record()], YFP)
    c = YHaplotypes.from_records([{**base_record("c"), "DYS19": 16}], YFP)
    m_dys19 = 36 / 16090
    # m = 1: every other slot unchanged (1 - mu), DYS19 one step up (mu / 2)
    others = [MU[s] for s in range(YFP.n_slots) if YFP.slots[s] != "DYS19"]
    expected_m1 = math.prod(1 - u for u in others) * m_dys19 / 2
    r = lineage_lr(q, c, match_probability=1e-3, rates=RATES, meioses=[1, 2])
    assert r.numerator[0] == pytest.approx(expected_m1, rel=1e-12)
    assert r.lr[0] == pytest.approx(expected_m1 / 1e-3, rel=1e-12)
    # m = 2 from the hand formulas P(0|2) = (1-mu)^2 + mu^2/2, P(1|2) = mu (1 - mu)
    expected_m2 = math.prod((1 - u) ** 2 + u * u / 2 for u in others) * m_dys19 * (1 - m_dys19)
    assert r.numerator[1] == pytest.approx(expected_m2, rel=1e-12)
    assert (r.mismatches, r.steps, r.loci_compared, r.loci_inconsistent) == (1, 1, 27, 0)
    assert r.lr_prior == pytest.approx(r.lr.mean())


def test_dys389_one_mutation_in_segment_i_counts_once():
    # DYS389I 13 -> 14 and DYS389II 29 -> 30: only the I segment changed
    q = YHaplotypes.from_records([base_record()], YFP)
    c = YHaplotypes.from_records([{**base_record("c"), "DYS389I": 14, "DYS389II": 30}], YFP)
    r = lineage_lr(q, c, match_probability=1.0, rates=RATES, meioses=[1])
    assert (r.mismatches, r.steps) == (1, 1)
    i1 = YFP.slot_index("DYS389I")
    assert r.factors[i1, 0] == pytest.approx(RATES.rate("DYS389I") / 2)


def forward_multicopy_probability(x, y, mu, m):
    """Slow reference: enumerate the net change of each (labelled) copy of the father
    haplotype x, sort the son's copies, and add up the probability of observing y."""
    rng = range(-m, m + 1)
    tot = 0.0
    for ds in itertools.product(rng, repeat=len(x)):
        son = tuple(sorted(a + d for a, d in zip(x, ds)))
        if son == tuple(sorted(y)):
            tot += math.prod(step_probability(d, m, mu) for d in ds)
    return tot


@pytest.mark.parametrize("x,y", [((11, 14), (11, 14)), ((11, 14), (12, 14)), ((11, 12), (12, 12)),
                                 ((12, 12), (12, 13)), ((11, 12), (12, 11)), ((11, 14), (13, 13)),
                                 ((11, 13), (12, 12))])
@pytest.mark.parametrize("m", [1, 2, 4])
def test_multicopy_factor_equals_forward_enumeration(x, y, m):
    p = YPanel.custom("one", ["DYS385"])
    mu = 0.05  # large, so that every term matters
    q = YHaplotypes(p, [sorted(v * 10 for v in x)])
    c = YHaplotypes(p, [sorted(v * 10 for v in y)])
    num, inc = pair_numerators(q.comparison_values(), c.comparison_values(), p, [mu, mu], [m])
    assert num[0, 0] == pytest.approx(forward_multicopy_probability(x, y, mu, m), rel=1e-12, abs=1e-300)


def test_four_copy_marker_equals_forward_enumeration():
    p = YPanel.custom("one", ["DYS464"])
    x, y = (12, 14, 15, 15), (12, 14, 15, 16)
    q = YHaplotypes(p, [[v * 10 for v in x]])
    c = YHaplotypes(p, [[v * 10 for v in y]])
    num, _ = pair_numerators(q.comparison_values(), c.comparison_values(), p, [0.05] * 4, [2])
    assert num[0, 0] == pytest.approx(forward_multicopy_probability(x, y, 0.05, 2), rel=1e-12)


def test_null_microvariant_and_missing_rules():
    p = YPanel.custom("t", ["DYS19", "DYS390", "DYS391", "DYS392", "DYS393"])
    mu = [0.01] * 5
    q = YHaplotypes(p, [[NULL, NULL, 142, 150, MISSING]])
    c = YHaplotypes(p, [[NULL, 150, 152, 150, 160]])
    num, inc, fac = pair_numerators(q.comparison_values(), c.comparison_values(), p, mu, [1, 3],
                                    per_slot=True)
    assert fac[0, 0].tolist() == [1.0, 1.0]        # null in both: nothing to mutate
    assert fac[0, 1].tolist() == [0.0, 0.0]        # null vs call: impossible by steps
    assert fac[0, 2, 0] == pytest.approx(0.005)    # 14.2 -> 15.2: one step
    assert fac[0, 3, 1] == pytest.approx(step_probability(0, 3, 0.01))
    assert fac[0, 4].tolist() == [1.0, 1.0]        # not typed in the query
    assert num[0].tolist() == [0.0, 0.0] and inc[0] == 1
    c2 = YHaplotypes(p, [[NULL, NULL, 150, 150, 160]])
    _, inc2, fac2 = pair_numerators(q.comparison_values(), c2.comparison_values(), p, mu, [1],
                                    per_slot=True)
    assert fac2[0, 2, 0] == 0.0 and inc2[0] == 1    # 14.2 vs 15: decimals differ


def test_difference_beyond_reach_is_zero():
    p = YPanel.custom("t", ["DYS19"])
    q, c = YHaplotypes(p, [[140]]), YHaplotypes(p, [[170]])
    num, inc = pair_numerators(q.comparison_values(), c.comparison_values(), p, [0.1], [1, 2, 3])
    assert num[0, :2].tolist() == [0.0, 0.0] and num[0, 2] == pytest.approx(0.05**3)
    assert inc[0] == 0  # possible at m = 3


def test_prior_weighting():
    w = normalise_prior({1: 1, 3: 3}, [1, 2, 3])
    assert w.tolist() == [0.25, 0.0, 0.75]
    q = YHaplotypes.from_records([base_record()], YFP)
    c = YHaplotypes.from_records([{**base_record("c"), "DYS19": 16}], YFP)
    r = lineage_lr(q, c, match_probability=0.01, meioses=[1, 2, 3], prior={1: 1, 3: 3})
    assert r.lr_prior == pytest.approx(0.25 * r.lr[0] + 0.75 * r.lr[2])
    with pytest.raises(ValueError, match="not in meioses"):
        normalise_prior({7: 1}, [1, 2])


def test_combine_with_autosomal():
    from kinship.likelihood import LRResult

    q = YHaplotypes.from_records([base_record()], YFP)
    r = lineage_lr(q, q, match_probability=0.01, meioses=[1, 2, 3])
    auto = LRResult(per_locus={"D8S1179": 2.0, "TH01": 5.0}, likelihood_h1={}, likelihood_h2={},
                    inconsistent=[])
    m = PATERNAL_MEIOSES["paternal uncle-nephew"]
    assert m == 3
    assert combine_with_autosomal(r, auto, meioses=m) == pytest.approx(r.per_m()[3] * 10.0)
    with pytest.raises(ValueError, match="meioses"):
        combine_with_autosomal(r, auto)
    assert combine_with_autosomal(1e4, 1e3) == 1e7
