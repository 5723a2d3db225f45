"""The simulator and the validation suite (validation/).

* the simulator: reproducible from the seed and independent of the shard size;
  the truth table matches the dataset; Mendelian transmission, mutation,
  dropout and error rates as specified; real founders used first;
* the suite on small populations: its recall and false-hit counts at every
  threshold against LRs computed here pair by pair with the exact pedigree
  likelihood (``kinship.likelihood_ratio``), independent of the compiled tables
  and the search kernels;
* the command line.
"""
import math

import numpy as np
import pytest

import formats
import kinship
from kinship.simulate import load_nist_genotypes
from validation import PopulationSimulator, read_truth, simulate_dataset
from validation.simulate import STRUCTURES
from validation.suite import SuiteConfig, engine_available, run_mode

LOCI4 = ("D3S1358", "vWA", "FGA", "TH01")
MUT = kinship.MutationModel(female=kinship.Stepwise(rate=0.0005, rate2=1e-6, range=0.1),
                            male=kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1))


def _load(path):
    ds = formats.open_dataset(path)
    return ds.load()


def _genotypes(arr):
    """{sample_id: {locus: sorted label pair}}."""
    out = {}
    for i, sid in enumerate(arr.sample_id):
        out[sid] = {l: tuple(sorted(arr.labels(i, l), key=float)) for l in arr.loci}
    return out


# -- the simulator -------------------------------------------------------------------
def test_reproducible_and_independent_of_shard_size(tmp_path):
    kw = dict(proportions="both-parents=1,father=1,siblings=1,grandparents=1,half-sibling=1",
              loci=LOCI4, mutation=MUT, seed=7, error_rate=0.01, dropout_rate=0.01)
    a = simulate_dataset(tmp_path / "a", 300, 50, n_unrelated_cases=20, shard_size=10 ** 6, **kw)
    b = simulate_dataset(tmp_path / "b", 300, 50, n_unrelated_cases=20, shard_size=97, **kw)
    c = simulate_dataset(tmp_path / "c", 300, 50, n_unrelated_cases=20, shard_size=10 ** 6,
                         **dict(kw, seed=8))
    assert len(a.shards) == 1 and len(b.shards) > 5
    ga, gb, gc = (_genotypes(_load(r.path)) for r in (a, b, c))
    assert ga == gb
    assert ga != gc
    ta, tb = read_truth(a.truth), read_truth(b.truth)
    assert all(np.array_equal(ta[k], tb[k]) for k in ta)


def test_truth_table_describes_the_dataset(tmp_path):
    props = {"both-parents": 0.3, "father": 0.2, "parent-sibling": 0.1, "grandparents": 0.1,
             "siblings": 0.1, "sibling": 0.1, "half-sibling": 0.1}
    r = simulate_dataset(tmp_path / "d", 400, 30, proportions=props, n_unrelated_cases=10, loci=LOCI4,
                         seed=3, truth=tmp_path / "truth.parquet")
    arr = _load(r.path)
    truth = read_truth(r.truth)
    assert len(truth["sample_id"]) == len(arr) == r.n_profiles
    assert sorted(truth["sample_id"]) == sorted(arr.sample_id)
    row = {s: i for i, s in enumerate(arr.sample_id)}
    refs_of = {}
    for s, kind, case, role, st in zip(truth["sample_id"], truth["kind"], truth["case_id"],
                                       truth["role"], truth["structure"]):
        i = row[s]
        assert arr.kind[i] == kind
        if kind == "query":
            assert arr.case_id[i] == ""  # the dataset does not give the answer away
            assert (role == "missing") == (case != "") and (role == "unrelated") == (st == "unrelated")
        else:
            assert arr.case_id[i] == case
            refs_of.setdefault(case, []).append((role, arr.relation[i], st))
    # every planted family has exactly the references of its structure
    for s, case, role, st in zip(truth["sample_id"], truth["case_id"], truth["role"], truth["structure"]):
        if role == "missing":
            got = sorted((ro, rel) for ro, rel, _ in refs_of[case])
            assert got == sorted(STRUCTURES[st])
    assert sum(r.structures.values()) == 400
    n_unrel_cases = sum(1 for v in refs_of.values() if v[0][2] == "unrelated-case")
    assert n_unrel_cases == 10
    # query IDs do not reveal the family number
    q = [s for s, ro in zip(truth["sample_id"], truth["role"]) if ro == "missing"]
    assert q != sorted(q)


def test_mendelian_transmission_and_real_founders(tmp_path):
    r = simulate_dataset(tmp_path / "m", 300, 0, proportions="both-parents=1", loci=LOCI4, seed=5)
    arr = _load(r.path)
    g = _genotypes(arr)
    truth = read_truth(r.truth)
    parents = {}
    for s, case, role in zip(truth["sample_id"], truth["case_id"], truth["role"]):
        parents.setdefault(case, {})[role] = s
    nist = {tuple(sorted((l, tuple(sorted(v[l], key=float))) for l in LOCI4))
            for v in load_nist_genotypes().values() if all(l in v for l in LOCI4)}
    n_real = 0
    for case, p in parents.items():
        child, fa, mo = g[p["missing"]], g[p["father"]], g[p["mother"]]
        for l in LOCI4:
            a, b = child[l]
            assert (a in fa[l] and b in mo[l]) or (b in fa[l] and a in mo[l])
        n_real += tuple(sorted(fa.items())) in nist
    # 600 founders, the 1036 NIST genotypes are used first (each at most once)
    assert r.real_founders == 600 and r.drawn_founders == 0
    assert n_real == 300


def test_mutation_dropout_and_error_rates():
    ft = kinship.FrequencyTable.load()
    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.05, rate2=0.01, range=0.5),
                                male=kinship.Stepwise(rate=0.2, rate2=0.0, range=0.5))
    sim = PopulationSimulator(ft, ["TH01"], mut, founders=None, seed=1)
    rng = np.random.default_rng(0)
    n = 200_000
    i = sim.labels[0].index("7")
    parent = np.full((n, 1, 2), i, dtype=np.int16)
    # Stepwise: allele 7 of TH01 (alleles 5-11 and 9.3) leaves with rate + rate2
    for sex, rate in (("M", 0.2), ("F", 0.06)):
        moved = np.mean(sim.transmit(parent, sex, rng)[:, 0] != i)
        assert abs(moved - rate) < 4 * math.sqrt(rate * (1 - rate) / n)
    het = np.zeros((n, 1, 2), dtype=np.int16)
    het[:, 0, 0], het[:, 0, 1] = i, i + 2
    obs = PopulationSimulator(ft, ["TH01"], None, founders=None, seed=1, dropout_rate=0.3).observe(het, rng)
    assert abs(np.mean(obs[:, 0, 0] == obs[:, 0, 1]) - 0.3) < 0.005
    obs = PopulationSimulator(ft, ["TH01"], None, founders=None, seed=1, error_rate=0.1).observe(het, rng)
    changed = (obs[:, 0, 0] != i).astype(int) + (obs[:, 0, 1] != i + 2).astype(int)
    assert abs(changed.mean() - 0.2) < 0.005  # two alleles, each replaced with probability 0.1
    assert set(np.unique(obs[:, 0, 0])) <= {i - 1, i, i + 1}


def test_bad_input_is_explained(tmp_path):
    with pytest.raises(ValueError, match="unknown family structure 'cousins'"):
        simulate_dataset(tmp_path / "x", 10, proportions="cousins=1", loci=LOCI4)
    simulate_dataset(tmp_path / "y", 5, loci=LOCI4)
    with pytest.raises(FileExistsError, match="already holds a dataset"):
        simulate_dataset(tmp_path / "y", 5, loci=LOCI4)


# -- the suite against pair-by-pair exact likelihoods ---------------------------------------
def _reference_lr(mode, q, refs, ft, mut):
    """LR of query genotype q for a case, from explicit pedigrees (kinship.likelihood_ratio)."""
    P = lambda i, s, f=None, m=None: {"id": i, "father": f, "mother": m, "sex": s}  # noqa: E731
    g = {"Q": q}
    if mode == "couple":
        h1 = [P("F", "male"), P("M", "female"), P("Q", "male", "F", "M")]
        h2 = [P("F", "male"), P("M", "female"), P("Q", "male")]
        g.update(F=refs["father"], M=refs["mother"])
    elif mode == "duo":
        (rel, gr), = refs.items()
        if rel == "father":
            h1 = [P("R", "male"), P("X", "female"), P("Q", "male", "R", "X")]
        else:
            h1 = [P("X", "male"), P("R", "female"), P("Q", "male", "X", "R")]
        h2 = [P("R", "male" if rel == "father" else "female"), P("Q", "male")]
        g["R"] = gr
    else:
        # the case pedigree under both hypotheses (kinship/tables.py, "Two conventions"):
        # R keeps its parents; under H2 the candidate Q is an unrelated founder
        (rel, gr), = refs.items()
        other = "Mo" if mode == "full-sibling" else "O"  # R's mother
        h1 = [P("F", "male"), P("Mo", "female"), P("R", "male", "F", other), P("Q", "male", "F", "Mo")]
        h2 = [P("F", "male"), P(other, "female"), P("R", "male", "F", other), P("Q", "male")]
        if other == "O":
            h1.insert(2, P("O", "female"))
        g["R"] = gr
    return kinship.likelihood_ratio(h1, h2, g, ft, mut, 0.0).total


@pytest.mark.parametrize("mode", ["duo", "couple", "full-sibling", "half-sibling"])
def test_suite_counts_equal_exact_pairwise_lrs(tmp_path, mode):
    thresholds = [1e-2, 0.3, 1.0, 7.0, 50.0, 1e3, 2e4]
    cfg = SuiteConfig(n_cases=8, n_unrelated=6, thresholds=thresholds, mutation=MUT, chance_cases=None,
                      resolution=1e-3, search_threshold=1.0, runner="direct", seed=2)
    r = run_mode(("four", LOCI4), mode, cfg, tmp_path, seed=31)
    arr = _load(tmp_path / f"four-{mode}")
    truth = read_truth(tmp_path / f"four-{mode}" / "_truth.csv")
    g = _genotypes(arr)
    ft = kinship.FrequencyTable.load()
    cases = {}
    for s, case, role in zip(truth["sample_id"], truth["case_id"], truth["role"]):
        if role not in ("missing", "unrelated"):
            cases.setdefault(case, {})[role] = g[s]
    planted = {c: s for s, c, role in zip(truth["sample_id"], truth["case_id"], truth["role"]) if role == "missing"}
    queries = [s for s, k in zip(truth["sample_id"], truth["kind"]) if k == "query"]
    true_lr, unrel_lr = [], []
    for case, refs in cases.items():
        for qs in queries:
            lr = _reference_lr(mode, g[qs], refs, ft, MUT)
            (true_lr if planted.get(case) == qs else unrel_lr).append(lr)
    true_lr, unrel_lr = np.array(true_lr), np.array(unrel_lr)
    allv = np.concatenate([true_lr, unrel_lr])
    assert r.n_true_pairs == len(true_lr) == 8 and r.n_unrelated_pairs == len(unrel_lr) == 8 * 13
    for k, t in enumerate(thresholds):
        assert not np.any(np.isclose(allv, t, rtol=1e-6))  # no pair sits on a threshold
        assert r.recall[k] == pytest.approx(np.mean(true_lr >= t)), t
        assert r.false_hits[k] == int(np.sum(unrel_lr >= t)), t
    assert r.search_matches_exhaustive
    # the sample mean of the unrelated pairs' LRs, and the truncated means, from the same pairs
    assert r.mean_lr_unrelated == pytest.approx(np.mean(unrel_lr), rel=1e-9)
    for k, t in enumerate(thresholds):
        assert r.trunc_mean_observed[k] == pytest.approx(np.mean(np.where(unrel_lr < t, unrel_lr, 0.0)),
                                                         rel=1e-9, abs=1e-300)
    # case tables are proper LRs: sum_g P(g) T[g] = 1 at every locus, so E[LR] = 1
    assert r.mean_lr_exact == pytest.approx(1.0, abs=1e-8)


@pytest.mark.skipif(not engine_available(), reason="the engine has not landed")
@pytest.mark.parametrize("mode", ["duo", "couple", "full-sibling", "half-sibling"])
def test_engine_runner_gives_the_exhaustive_results(tmp_path, mode):
    cfg = SuiteConfig(n_cases=20, n_unrelated=200, thresholds=[1.0, 10.0, 100.0, 1e4], mutation=MUT,
                      chance_cases=3, search_threshold=1.0, seed=4)
    rd = run_mode("codis20", mode, SuiteConfig(**dict(cfg.__dict__, runner="direct")), tmp_path / "d", seed=5)
    re_ = run_mode("codis20", mode, SuiteConfig(**dict(cfg.__dict__, runner="engine")), tmp_path / "e", seed=5)
    assert re_.runner == "engine" and rd.runner == "direct"
    assert rd.search_matches_exhaustive
    assert re_.search_matches_exhaustive
    assert re_.recall == rd.recall and re_.false_hits == rd.false_hits


# -- command line and plots ---------------------------------------------------------------------
def test_cli_simulate_and_register(tmp_path, capsys):
    import argparse

    from validation.cli import main, register

    sub = argparse.ArgumentParser(prog="kinship").add_subparsers(dest="command")
    register(sub)
    assert {"simulate", "validate"} <= set(sub.choices)
    assert main(["simulate", str(tmp_path / "s"), "--cases", "20", "--unrelated", "5", "--panel", "codis20",
                 "--structures", "father=1", "--seed", "9"]) == 0
    out = capsys.readouterr().out
    assert '"n_profiles": 45' in out
    ds = formats.open_dataset(tmp_path / "s")
    assert len(ds.loci) == 20 and ds.n_profiles == 45


def test_outputs_and_plots_written_or_explained(tmp_path, monkeypatch):
    from validation import plots

    cfg = SuiteConfig(n_cases=10, n_unrelated=20, thresholds=[1.0, 100.0, 1e4], chance_cases=3,
                      runner="direct")
    r = run_mode(("four", LOCI4), "full-sibling", cfg, tmp_path, seed=1)
    from validation.suite import load_results, write_outputs

    write_outputs([r], cfg, tmp_path / "w", plots=False)
    assert {p.name for p in (tmp_path / "w").iterdir()} == {"results.csv", "results.json", "summary.md"}
    back = load_results(tmp_path / "w" / "results.json")
    assert back[0].recall == r.recall and back[0].hist_unrelated == r.hist_unrelated
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r'pip install "strkin\[plots\]"'):
            plots.plot_all([r], tmp_path / "p")
        return
    files = plots.plot_all([r], tmp_path / "p")
    assert {f.name for f in files} == {"tippett-four.png", "recall.png", "chance-hits.png",
                                       "lr-distributions-four.png"}
    assert all(f.stat().st_size > 10_000 for f in files)
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "strkin\[plots\]"'):
        plots.require_matplotlib()


def test_mothers_side_recall_is_the_true_pedigree_recall():
    """Issue 12's measurement, repeated: 40 families of 15 loci, no mutation, mother +
    maternal grandfather.  The engine finds exactly the children whose true-pedigree
    LR reaches 10^4; the recall agrees with the exact expectation; placing the
    grandfather on the father's side (what a side-less vocabulary did) loses children."""
    from validation.families import family_recall

    r = family_recall("mother + maternal grandfather", n_families=40, mutation=None, seed=3,
                      n_unrelated=5)
    assert r["engine_found"] == [x >= 4 for x in r["log10_lr_true"]]
    assert r["recall_engine"] == r["recall_true_pedigree"]
    assert abs(r["z"]) < 4
    assert r["recall_wrong_side"] < r["recall_true_pedigree"]


def test_posterior_calibration_runs_and_adds_up(tmp_path):
    """validation.calibration on about 2,000 profiles: recall of full profiles is high,
    the calibration tables count every hit once, the two priors give the same hits,
    and the case-mode posteriors at the calibrated prior sum to about the true hits."""
    from validation.calibration import POSTERIOR_BINS, posterior_calibration, write_calibration

    r = posterior_calibration(n_cases=300, n_unrelated=1000, n_unrelated_cases=400, seed=5,
                              work=tmp_path / "w", progress=None)
    assert r["n_profiles"] >= 2000 and r["n_partial"] > 0.1 * r["n_profiles"]
    assert set(r["modes"]) == {"case", "parent-child", "full-sibling"}
    assert r["modes"]["case"]["recall_full"] > 0.75
    assert r["modes"]["parent-child"]["recall_full"] > 0.95
    assert r["modes"]["case"]["recall_partial"] < r["modes"]["case"]["recall_full"]
    for m, v in r["modes"].items():
        assert v["same_hits_both_priors"]
        assert v["true_hits"] + v["false_hits"] == v["hits"]
        assert 0 < v["calibrated"]["prior"] < 0.5
        for key in ("prior_0.5", "calibrated"):
            for col in ("posterior", "posterior_min"):
                c = v[key][col]
                assert len(c["bins"]) == len(POSTERIOR_BINS) - 1
                assert sum(b["hits"] for b in c["bins"]) == c["hits"] == v["hits"]
                assert sum(b["true"] for b in c["bins"]) == c["true"] == v["true_hits"]
            # posterior_min is a lower bound of posterior
            assert v[key]["posterior_min"]["expected_true"] <= v[key]["posterior"]["expected_true"] + 1e-9
    case = r["modes"]["case"]
    assert case["false_hits_on_relatives"] == 0
    assert abs(case["calibrated"]["posterior"]["z"]) < 5
    files = write_calibration(r, tmp_path / "out")
    assert {f.name for f in files} == {"calibration.md", "calibration.json"}
    assert "## full-sibling" in files[0].read_text()
