"""The y-lineage search end to end, its thresholds, and recall on simulated lineages."""
import subprocess
import sys

import numpy as np
import pytest

from kinship.ystr import (
    YMutationRates,
    auto_thresholds,
    exact_match_miss_rate,
    get_panel,
    lineage_search,
    match_probability,
    recall,
    screen,
)
from kinship.ystr.lineage import pair_numerators
from kinship.ystr.simulate import mutate, relative_pairs, simulate_population

YFP = get_panel("Yfiler Plus")
RATES = YMutationRates.load()
MU = RATES.slot_rates(YFP)


@pytest.fixture(scope="module")
def wf():
    pop = simulate_population(YFP, MU, n_men=3000, generations=40, n_founders=1500, keep=7, seed=2)
    db, offs = pop.all_men()
    return pop, db, offs


def test_import_compiles_nothing():
    code = "import sys, kinship, kinship.ystr; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_auto_thresholds_for_shipped_panels():
    # from the exact recall computation with the shipped rates (docs/ystr.md, table)
    assert auto_thresholds(MU) == (3, 3)
    assert auto_thresholds(RATES.slot_rates(get_panel("Yfiler"))) == (2, 2)
    assert auto_thresholds(RATES.slot_rates(get_panel("PowerPlex Y23"))) == (3, 3)


def test_exact_match_search_misses_about_35_percent_of_uncle_nephew_pairs():
    miss = exact_match_miss_rate(MU, 3)
    # by hand: no net change in 3 meioses = no mutation, or two that cancel
    p0 = [(1 - u) ** 3 + 3 * u * u * (1 - u) / 2 for u in MU]
    assert miss == pytest.approx(1 - np.prod(p0), rel=1e-12)
    assert 0.33 < miss < 0.37


def test_recall_dp_equals_monte_carlo():
    # independent check of the dynamic programme: mutate haplotypes m times and count
    rng = np.random.default_rng(0)
    n = 40_000
    base = np.full((n, YFP.n_slots), 150, np.int32)
    for m in (2, 5):
        after = mutate(base, MU * 20, rng, YFP, m)  # rates x20 so that differences are common
        # slot-wise differences (sorting copies cannot matter: all copies start equal)
        d = np.abs(after - base) // 10
        mm, stp = (d > 0).sum(1), d.sum(1)
        for K, T in ((0, 0), (2, 3), (4, 6)):
            emp = np.mean((mm <= K) & (stp <= T))
            assert recall(MU * 20, m, K, T) == pytest.approx(emp, abs=4 * np.sqrt(emp * (1 - emp) / n) + 1e-3)


def test_recall_on_fisher_wright_pedigrees(wf):
    """Relatives drawn from the simulated pedigree are found at the auto thresholds at the
    rate the exact computation predicts (which is >= 0.99 for m <= 6)."""
    pop, db, offs = wf
    n = 300
    for m in range(1, 7):
        pr = relative_pairs(pop, m, n, seed=10 + m)
        qa = offs[pr[:, 0]] + pr[:, 1]
        gb = offs[pr[:, 2]] + pr[:, 3]
        hits = screen(db[qa], db, max_mismatches=3, max_steps=3, n_threads=1)
        found = set(zip(hits.query_index.tolist(), hits.database_index.tolist()))
        got = np.mean([(i, int(b)) in found for i, b in enumerate(gb)])
        exp = recall(MU, m, 3, 3)
        assert exp >= 0.99
        assert got >= exp - 4 * np.sqrt(exp * (1 - exp) / n) - 0.01, (m, got, exp)


def test_lineage_search_ranks_by_prior_weighted_lr(wf):
    pop, db, offs = wf
    q = db[np.arange(offs[-3], offs[-3] + 40)]
    res = lineage_search(q, db, n_threads=1)
    assert res.params["max_mismatches"] == 3 and res.params["max_steps"] == 3
    assert len(res) > 40
    for i in range(len(q)):
        r = res.for_query(i)
        assert (np.diff(r.lr_prior) <= 0).all()
        assert r.rank.tolist() == list(range(1, len(r) + 1))
        assert offs[-3] + i in r.database_index.tolist()  # the man himself (0 mismatches)
    # LR = numerator / match probability, recomputed directly
    k = 7
    cq = q.comparison_values()[res.query_index[:k]]
    cr = db.comparison_values()[res.database_index[:k]]
    num, _ = pair_numerators(cq, cr, YFP, MU, range(1, 7))
    assert np.allclose(res.lr[:k], num / res.match_probability[:k, None])
    assert np.allclose(res.lr_prior, res.lr.mean(axis=1))
    mp = match_probability(q[:1], db, "augmented_count")
    first = res.query_index == 0
    full = res.loci_compared[first] == 27
    assert np.allclose(res.match_probability[first][full], mp.value[0])


def test_top_k_and_shards_give_the_same_ranking(wf):
    pop, db, offs = wf
    q = db[np.arange(offs[-2], offs[-2] + 25)]
    full = lineage_search(q, db, n_threads=1, estimator="kappa")
    top = lineage_search(q, [db[:7000], db[7000:15000], db[15000:]], n_threads=1, estimator="kappa", top_k=3)
    exp = full.take(np.flatnonzero(full.rank <= 3))
    for f in ("query_index", "database_index", "rank", "mismatches", "steps", "loci_compared"):
        assert np.array_equal(getattr(exp, f), getattr(top, f)), f
    assert np.allclose(exp.lr, top.lr)


def test_results_table_and_estimators(wf):
    pop, db, offs = wf
    q = db[np.arange(offs[-2], offs[-2] + 5)]
    for est in ("augmented_count", "clopper_pearson", "kappa"):
        res = lineage_search(q, db, n_threads=1, estimator=est, meioses=[1, 2, 3], prior={1: 0.5, 3: 0.5})
        t = res.to_arrow()
        assert t.column("mode").to_pylist()[0] == "y-lineage"
        assert t.column("estimator").to_pylist()[0] == est
        for c in ("mismatches", "steps", "loci_compared", "lr", "lr_m1", "lr_m2", "lr_m3",
                  "match_probability", "loci_inconsistent"):
            assert c in t.column_names
        assert np.allclose(res.lr_prior, 0.5 * res.lr[:, 0] + 0.5 * res.lr[:, 2])
        assert res.to_records()[0]["mode"] == "y-lineage"


def test_explicit_thresholds_and_exact_search(wf):
    pop, db, offs = wf
    q = db[np.arange(offs[-2], offs[-2] + 20)]
    res = lineage_search(q, db, max_mismatches=0, max_steps=0, n_threads=1)
    assert (res.mismatches == 0).all() and res.params["thresholds"] == "given"
    with pytest.raises(ValueError, match="top_k"):
        lineage_search(q, db, top_k=0)
