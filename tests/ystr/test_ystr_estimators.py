"""Match-probability estimators: hand values, scipy's exact interval, disclapmix-style fits."""
import numpy as np
import pytest
from scipy import optimize, stats

from kinship.ystr import (
    AugmentedCount,
    BrennerKappa,
    ClopperPearson,
    DiscreteLaplace,
    DiscreteLaplaceMixture,
    HaplotypeCounts,
    YHaplotypes,
    YPanel,
    fit_discrete_laplace,
    match_probability,
)
from kinship.ystr.disclap import disclap_pmf, values_for_model
from kinship.ystr.haplotypes import MISSING

P2 = YPanel.custom("two", ["DYS19", "DYS390"])


def population(counts: dict) -> YHaplotypes:
    rows = [list(h) for h, c in counts.items() for _ in range(c)]
    return YHaplotypes(P2, np.array(rows) * 10)


# database of 10: A x3, B x2, five singletons (hand example of the estimators module)
DB10 = population({(14, 23): 3, (15, 23): 2, (13, 21): 1, (13, 22): 1, (16, 24): 1, (17, 25): 1, (12, 20): 1})


def test_augmented_count_by_hand():
    q = YHaplotypes(P2, [[140, 230], [110, 110]])
    mp = match_probability(q, DB10, AugmentedCount())
    assert mp.count.tolist() == [3, 0] and mp.population_size.tolist() == [10, 10]
    assert mp.value.tolist() == pytest.approx([4 / 11, 1 / 11])
    assert match_probability(q, DB10, AugmentedCount(2)).value.tolist() == pytest.approx([5 / 12, 2 / 12])


def test_clopper_pearson_zero_count_closed_form():
    pop = YHaplotypes(P2, np.tile([150, 230], (100, 1)))
    q = YHaplotypes(P2, [[110, 110]])
    v = match_probability(q, pop, ClopperPearson(0.95)).value[0]
    assert v == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-10)  # 0.0295130...
    assert v == pytest.approx(0.029513, abs=1e-6)


@pytest.mark.parametrize("x,N", [(1, 50), (3, 10), (7, 200), (10, 10)])
def test_clopper_pearson_equals_scipy_exact_interval(x, N):
    # one-sided 95% upper bound = upper end of the two-sided 90% exact interval
    expected = stats.binomtest(x, N).proportion_ci(confidence_level=0.90, method="exact").high
    v, _ = ClopperPearson(0.95)._from_counts(np.array([x]), np.array([N]), np.array([0]))
    assert v[0] == pytest.approx(expected, rel=1e-9)


def test_kappa_by_hand():
    q = YHaplotypes(P2, [[110, 110], [140, 230]])
    mp = match_probability(q, DB10, BrennerKappa())
    # unseen: extended database n = 11 with 5 + 1 singletons -> kappa = 6/11, (1 - kappa)/n
    assert mp.value[0] == pytest.approx((5 / 11) / 11)
    assert mp.method[0] == "kappa"
    # seen three times: the kappa method does not apply; augmented count
    assert mp.value[1] == pytest.approx(4 / 11) and mp.method[1] == "augmented_count"


def test_counts_on_the_compared_slots_only():
    pop = YHaplotypes(P2, [[140, 230], [140, MISSING], [140, 240], [150, 230]])
    counts = HaplotypeCounts(pop)
    q = np.array([[140, 230]])
    x, N, _ = counts.count(q, 0b11)
    assert (x[0], N) == (1, 3)     # the profile without DYS390 is not in N
    x, N, _ = counts.count(q, 0b01)
    assert (x[0], N) == (3, 4)     # on DYS19 alone
    sharded = HaplotypeCounts([pop[:2], pop[2:]])
    assert sharded.count(q, 0b01)[:2] == counts.count(q, 0b01)[:2]


# -- discrete Laplace ----------------------------------------------------------------------------
def rdisclap(rng, n, p):
    """Discrete Laplace draws: the difference of two geometric(1 - p) counts."""
    return rng.geometric(1 - p, n) - rng.geometric(1 - p, n)


def test_disclap_pmf_sums_to_one():
    k = np.arange(-200, 201)
    assert disclap_pmf(k, 0.4).sum() == pytest.approx(1.0)
    assert disclap_pmf(0, 0.4) == pytest.approx(0.6 / 1.4)


def test_one_cluster_fit_equals_closed_form():
    # single cluster: centre = median, p solves E|X - y| = 2p/(1 - p^2):
    # p = (sqrt(1 + mu^2) - 1) / mu with mu the mean absolute deviation
    rng = np.random.default_rng(1)
    x = np.column_stack([rdisclap(rng, 3000, 0.3) + 13, rdisclap(rng, 3000, 0.5) + 20]).astype(float)
    f = DiscreteLaplaceMixture.fit(x, 1)
    for l in range(2):
        y = np.median(x[:, l])
        mu = np.mean(np.abs(x[:, l] - y))
        assert f.y[0, l] == y
        assert f.p[0, l] == pytest.approx((np.sqrt(1 + mu**2) - 1) / mu, rel=1e-6)
    ll = np.log(disclap_pmf(x - f.y[0], f.p[0])).sum()
    assert f.loglik == pytest.approx(ll, rel=1e-10)


def two_cluster_data(seed=1, N=1000):
    # the simulation design of disclapmix's own tests (tests/testthat/test-disclapmix.R):
    # centres (13,19,20) and (13,20,22), weights 0.2/0.8, p = (0.3,0.2,0.4) + (0.1, 0)
    rng = np.random.default_rng(seed)
    ps_loc, ps_ys = np.array([0.3, 0.2, 0.4]), np.array([0.1, 0.0])
    ys = np.array([[13, 19, 20], [13, 20, 22]])
    z = rng.choice(2, N, p=[0.2, 0.8])
    x = np.column_stack([
        np.array([rdisclap(rng, 1, ps_loc[k] + ps_ys[zi])[0] for zi in z]) + ys[z, k] for k in range(3)
    ]).astype(float)
    return x, ys, np.add.outer(ps_ys, ps_loc)


def test_two_cluster_fit_recovers_simulated_parameters_and_bic_picks_two():
    x, ys, ptrue = two_cluster_data()
    best, fits = fit_discrete_laplace(x, clusters=(1, 2, 3), n_init=2)
    assert best.n_clusters == 2
    f = fits[2]
    order = np.lexsort(f.y.T[::-1])
    assert np.array_equal(f.y[order], ys)                      # as disclapmix's test: exact centres
    assert np.allclose(f.p[order], ptrue, atol=0.1)            # and p within 0.1
    assert np.allclose(np.sort(f.tau), [0.2, 0.8], atol=0.06)
    assert f.converged
    assert all(np.diff(f.history) >= -1e-7 * abs(f.history[-1]))  # EM never goes down


def test_em_optimum_equals_direct_numerical_maximisation():
    # independent computation: with the fitted centres held fixed, maximise the
    # marginal likelihood over (alpha, beta, tau) directly with scipy
    x, _, _ = two_cluster_data(seed=7, N=600)
    f = DiscreteLaplaceMixture.fit(x, 2, n_init=2)
    J, L = f.y.shape

    def negll(th):
        a, b = th[:J], np.concatenate([[0.0], th[J:J + L - 1]])
        t1 = 1 / (1 + np.exp(-th[-1]))
        p = np.clip(np.exp(a[:, None] + b[None, :]), 1e-9, 0.999999)
        m = DiscreteLaplaceMixture(f.y, p, np.array([t1, 1 - t1]))
        return -m.log_probability(x).sum()

    start = np.concatenate([np.log(f.p[:, 0]) + 0.3, np.zeros(L - 1) + 0.1, [0.0]])
    res = optimize.minimize(negll, start, method="Nelder-Mead",
                            options=dict(maxiter=20000, xatol=1e-9, fatol=1e-10))
    assert -res.fun == pytest.approx(f.loglik, abs=1e-4)
    # EM stops once a step gains less than 1e-9 relative (|logL| * 1e-9 ~ 3e-6 here)
    assert f.loglik >= -res.fun - 1e-5


def test_marginal_probability_sums_over_the_missing_locus():
    x, _, _ = two_cluster_data(seed=3, N=400)
    f = DiscreteLaplaceMixture.fit(x, 2, n_init=1)
    h = np.array([[13.0, 20.0, np.nan]])
    full = np.array([[13.0, 20.0, v] for v in range(-60, 100)])
    assert f.probability(h)[0] == pytest.approx(f.probability(full).sum(), rel=1e-9)


def test_discrete_laplace_estimator_on_haplotypes():
    x, _, _ = two_cluster_data(seed=5, N=500)
    p3 = YPanel.custom("three", ["DYS19", "DYS390", "DYS391"])
    pop = YHaplotypes(p3, (x * 10).astype(int))
    est = DiscreteLaplace(clusters=(1, 2), n_init=1)
    q = pop[:4]
    mp = match_probability(q, pop, est)
    model = est.model
    assert mp.value == pytest.approx(model.probability(values_for_model(q.comparison_values())))
    # on two slots only: the marginal over the third
    mp2 = match_probability(q, pop, est, masks=np.full(4, 0b011, np.uint64))
    xx = values_for_model(q.comparison_values())
    xx[:, 2] = np.nan
    assert mp2.value == pytest.approx(model.probability(xx))
    assert (mp2.value >= mp.value).all()


def test_counts_stay_exact_when_hashes_collide(monkeypatch):
    from kinship.ystr import estimators

    pop = YHaplotypes(P2, np.array([[140, 230], [140, 230], [150, 230], [160, 240], [160, 240], [160, 240]]))
    q = np.array([[140, 230], [160, 240], [170, 250]])
    honest = HaplotypeCounts(pop).count(q, 0b11)
    monkeypatch.setattr(estimators, "_row_hash", lambda rows: np.zeros(rows.shape[0], np.uint64))
    colliding = HaplotypeCounts(pop).count(q, 0b11)
    assert honest[0].tolist() == [2, 3, 0] and honest[1:] == (6, 1)
    assert colliding[0].tolist() == honest[0].tolist() and colliding[1:] == honest[1:]
