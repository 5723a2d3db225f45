"""``kinship.chance`` with loci left out (``max_inconsistent``): the identity search
that tolerates mistyped loci, against enumeration of every genotype vector.

The reference here is written out independently: for each genotype vector of a
small panel, its probability (p_a^2, 2 p_a p_b by hand) and its identity LR with
up to ``k`` differing loci left out (factor 1), LR 0 when more differ.
"""
import itertools
import math

import numpy as np
import pytest

import kinship
from kinship.chance import exceedance, expected_chance_hits
from kinship.search import ScoringModel
from kinship.tables import genotype_index

SMALL = {
    "L1": {"8": 0.1, "9": 0.2, "10": 0.3, "11": 0.4},
    "L2": {"12": 0.05, "13": 0.25, "14": 0.3, "15": 0.25, "16": 0.15},
    "L3": {"6": 0.5, "7": 0.2, "9.3": 0.3},
    "L4": {"20": 0.15, "21": 0.35, "22": 0.2, "23": 0.3},
}


def _model(theta=0.0):
    return ScoringModel(kinship.FrequencyTable.from_dict(SMALL), list(SMALL), None, theta)


def _enumerate(model, tables, c, thresholds, k):
    per_locus = []
    for l, s in enumerate(model.systems):
        p = list(s.freqs)
        vals = []
        for a in range(len(p)):
            for b in range(a, len(p)):
                pr = p[a] ** 2 if a == b else 2 * p[a] * p[b]
                vals.append((pr, float(tables.lr[c, model.offsets[l] + genotype_index(a, b)])))
        per_locus.append(vals)
    out = np.zeros(len(thresholds))
    for combo in itertools.product(*per_locus):
        pr = math.prod(x[0] for x in combo)
        skipped = sum(1 for x in combo if x[1] == 0.0)
        if skipped > k:
            continue
        lr = math.prod(x[1] for x in combo if x[1] != 0.0)
        out += pr * (lr >= np.asarray(thresholds))
    return out


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("theta", [0.0, 0.03])
def test_identity_with_loci_left_out_equals_enumeration(k, theta):
    model = _model(theta)
    rng = np.random.default_rng(11)
    codes = np.zeros((3, 4, 2), dtype=np.int16)
    for l, s in enumerate(model.systems):
        codes[:, l] = rng.choice(s.n_alleles, size=(3, 2), p=s.freqs / s.freqs.sum())
    tab = model.compile_pairwise("identity", ["a", "b", "c"], codes)
    th = 10.0 ** np.array([-0.5, 0.37, 1.13, 2.21, 3.07, 4.3])
    for c in range(3):
        truth = _enumerate(model, tab, c, th, k)
        e = exceedance(tab, c, th, model=model, resolution=1e-3, max_inconsistent=k)
        assert np.all(e.lower <= truth * (1 + 1e-9) + 1e-15)
        assert np.all(truth <= e.upper * (1 + 1e-9) + 1e-15)
        fine = exceedance(tab, c, th, model=model, resolution=1e-6, max_inconsistent=k)
        assert fine.estimate == pytest.approx(truth, rel=1e-9, abs=1e-15)
    # leaving loci out can only add chance hits
    if k:
        a = exceedance(tab, 0, th, model=model, max_inconsistent=k).estimate
        b = exceedance(tab, 0, th, model=model, max_inconsistent=k - 1).estimate
        assert np.all(a >= b) and a[0] > b[0]


def test_max_inconsistent_zero_is_the_plain_method():
    model = _model()
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, size=(4, 4, 2)).astype(np.int16)
    for rel in ("identity", "parent-child"):
        tab = model.compile_pairwise(rel, list("abcd"), codes)
        th = [0.3, 10.0, 1e3]
        a = expected_chance_hits(tab, 10, th, model=model, max_cases=None)
        b = expected_chance_hits(tab, 10, th, model=model, max_cases=None, max_inconsistent=0)
        assert np.array_equal(a.expected, b.expected) and np.array_equal(a.upper, b.upper)


def test_max_inconsistent_needs_the_exact_method():
    model = _model()
    tab = model.compile_pairwise("identity", ["a"], np.zeros((1, 4, 2), dtype=np.int16))
    with pytest.raises(ValueError, match="method='exact'"):
        exceedance(tab, 0, [10.0], model=model, method="is", max_inconsistent=1)
    with pytest.raises(ValueError, match="max_inconsistent"):
        exceedance(tab, 0, [10.0], model=model, max_inconsistent=-1)
