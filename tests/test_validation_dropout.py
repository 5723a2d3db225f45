"""The validation simulator's dropout model (issue 15, item 2; ``docs/dropout.md``):
each allele copy drops with d (a heterozygote shows one allele with 2d(1 - d), a
homozygote loses the locus with d²) and each absent allele drops in with c·p_a."""
from __future__ import annotations

import numpy as np

import kinship
from validation.simulate import PopulationSimulator

LOCI = ("TPOX", "TH01", "D5S818")


def _sim(**kw):
    return PopulationSimulator(kinship.FrequencyTable.load("nist1036_all"), LOCI, founders=None,
                               seed=3, **kw)


def test_dropout_per_copy():
    sim = _sim(query_dropout=0.3)
    rng = np.random.default_rng(0)
    n = 200_000
    g = np.zeros((n, len(LOCI), 2), dtype=np.int16)
    g[:, :, 1] = 1                              # heterozygotes 0/1
    g[: n // 2, :, 1] = 0                       # half of them homozygotes 0/0
    obs = sim.observe(g, rng, 0.3)
    het, hom = obs[n // 2:], obs[: n // 2]
    d = 0.3
    untyped = (het[:, :, 0] < 0).mean()
    one = ((het[:, :, 0] >= 0) & (het[:, :, 0] == het[:, :, 1])).mean()
    assert abs(untyped - d * d) < 4 * np.sqrt(d * d / (n / 2 * 3))
    assert abs(one - 2 * d * (1 - d)) < 4 * np.sqrt(0.5 / (n / 2 * 3))
    # the homozygote shows a/a or nothing
    assert abs((hom[:, :, 0] < 0).mean() - d * d) < 0.005
    assert set(np.unique(hom[hom >= 0]).tolist()) == {0}
    # an untyped locus is untyped in both fields; calls are sorted
    assert np.array_equal(obs[:, :, 0] < 0, obs[:, :, 1] < 0)
    assert (obs[:, :, 0] <= obs[:, :, 1]).all()


def test_dropin_with_allele_frequencies():
    c = 0.2
    sim = _sim(dropin=c)
    rng = np.random.default_rng(1)
    n = 100_000
    g = np.zeros((n, len(LOCI), 2), dtype=np.int16)   # homozygotes 0/0, no dropout
    obs = sim.observe(g, rng, 0.0)
    for j in range(len(LOCI)):
        p = np.diff(np.r_[0.0, sim.cum_p[j]]) / sim.cum_p[j][-1]
        # a/b shown (b dropped in, no other allele): c p_b Π_{x≠a,b} (1 - c p_x)
        b = int(np.argmax(p[1:])) + 1
        want = c * p[b] * np.prod([1 - c * p[x] for x in range(len(p)) if x not in (0, b)])
        got = ((obs[:, j, 0] == 0) & (obs[:, j, 1] == b)).mean()
        assert abs(got - want) < 4 * np.sqrt(want / n) + 1e-4


def test_no_dropout_is_the_simulation_of_before():
    a, b = _sim(), _sim(query_dropout=0.0, reference_dropout=0.0, dropin=0.0)
    ba = next(a.blocks(50, 10))
    bb = next(b.blocks(50, 10))
    assert np.array_equal(ba.genotypes, bb.genotypes)
