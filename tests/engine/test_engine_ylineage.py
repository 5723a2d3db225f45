"""Mode ``y-lineage`` in the engine.

* Its hits equal :func:`kinship.ystr.lineage_search` called directly on the same
  haplotypes (every estimator; a separate population sample; a marker subset).
* Dask, resume after SIGKILL and incremental runs give the output of an
  uninterrupted full run, byte for byte.
* Y and autosomal evidence for one pedigree are combined (the LRs multiply).
* Bad Y input is reported before any work, naming the problem and the fix.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import engine
import formats
from kinship.ystr import lineage_search

from enginelib import make_job, simulate
from ylib import MU, PANEL, population, write_y, y_data

ROOT = Path(__file__).resolve().parents[2]


def _yjob(yds, out, modes=("y-lineage",), **kw):
    job = {"inputs": {"y_queries": str(yds), "y_references": str(yds)},
           "search": {"modes": list(modes), "top_k": 100, "case_top_k": 1000},
           "output": {"path": str(out)},
           "execution": {"threads": 2, "progress": False, "y_block_size": 16, "query_chunk": 7}}
    for k, v in kw.items():
        sec, key = k.split("__")
        job.setdefault(sec, {})[key] = v
    return job


@pytest.fixture(scope="module")
def ydata(tmp_path_factory):
    d = tmp_path_factory.mktemp("y")
    refs, meta, q, truth = y_data(n_refs=60, n_unrelated=10, seed=3)
    write_y(d / "yds", refs, meta, q)
    formats.write_y_haplotypes(d / "ypop", population(n_men=300, seed=9), kind="query")
    return d, truth


def _direct(d, estimator, population=None, loci=None):
    ds = formats.open_y_dataset(d / "yds")
    q, _ = ds.load(kind="query")
    r, _ = ds.load(kind="reference")
    pop = None
    if population is not None:
        pop, _ = formats.open_y_dataset(population).load()
    if loci is not None:
        from kinship.ystr import YPanel

        p = YPanel("sub", tuple(r.panel.marker(m) for m in r.panel.marker_names if m in loci))
        r = r.to_panel(p, drop_typed=True)
        pop = pop.to_panel(p, drop_typed=True) if pop is not None else None
    return lineage_search(q, r, estimator=estimator, population=pop)


@pytest.mark.parametrize("estimator, population, loci", [
    ("augmented_count", None, None),
    ("kappa", None, None),
    ("clopper_pearson", "ypop", None),
    ("discrete_laplace", None, None),
    ("augmented_count", "ypop", ["DYS19", "DYS389I", "DYS389II", "DYS390", "DYS391", "DYS392",
                                 "DYS393", "DYS385", "DYS438", "DYS439"]),
])
def test_hits_equal_lineage_search(ydata, estimator, population, loci):
    d, truth = ydata
    kw = {"y_lineage__estimator": estimator}
    if population:
        kw["inputs__y_population"] = str(d / population)
    if loci:
        kw["y_lineage__loci"] = loci
    res = engine.run(_yjob(d / "yds", d / f"out-{estimator}-{population}-{bool(loci)}", **kw))
    want = _direct(d, estimator, d / population if population else None, loci)
    got = {(h["query_id"], h["reference_id"]): h for h in res.hits.to_pylist()}
    assert len(got) == len(want) > len(truth)
    for i in range(len(want)):
        h = got[(want.query_id[i], want.database_id[i])]
        per_m = json.loads(h["y_lr_per_m"])
        for j, m in enumerate(want.meioses):
            assert per_m[str(m)] == pytest.approx(want.lr[i, j], rel=1e-12, abs=1e-300)
        if want.lr_prior[i] > 0:
            assert h["log10_lr"] == pytest.approx(math.log10(want.lr_prior[i]), rel=1e-12, abs=1e-12)
        else:
            assert h["log10_lr"] == -math.inf
        assert (h["y_mismatches"], h["y_steps"], h["loci_compared"], h["loci_inconsistent"]) == (
            want.mismatches[i], want.steps[i], want.loci_compared[i], want.loci_inconsistent[i])
        assert h["y_match_probability"] == pytest.approx(want.match_probability[i], rel=1e-12)
        assert (h["y_match_count"], h["y_population_size"], h["y_estimator"]) == (
            want.match_count[i], want.population_size[i], want.match_method[i])
        assert h["mode"] == "y-lineage" and h["case_id"].startswith("K")
    # the ranking is the lineage search's (ties by reference id instead of database row,
    # which is the same order here)
    for qid in set(want.query_id):
        mine = sorted((h for h in got.values() if h["query_id"] == qid), key=lambda h: h["rank"])
        theirs = [want.database_id[i] for i in np.argsort(want.rank) if want.query_id[i] == qid]
        assert [h["reference_id"] for h in mine] == theirs
    m = res.manifest["y_lineage"]
    assert (m["max_mismatches"], m["max_steps"]) == (want.params["max_mismatches"], want.params["max_steps"])
    # planted relatives are found, mostly first
    best = {h["query_id"]: h["reference_id"] for h in got.values() if h["rank"] == 1}
    if not loci:
        assert sum(best.get(q) == r for q, (r, _) in truth.items()) >= 0.6 * len(truth)
    assert "mode y-lineage" in res.summary and "Y screen" in res.summary


def _bytes_equal(a: Path, b: Path):
    assert (a / "hits.parquet").read_bytes() == (b / "hits.parquet").read_bytes()
    assert (a / "summary.txt").read_text() == (b / "summary.txt").read_text()


def test_dask_and_resume_equal_in_process(ydata):
    distributed = pytest.importorskip("distributed")
    d, _ = ydata
    kw = dict(execution__y_block_size=8, execution__query_chunk=5, execution__threads=1)
    local = engine.run(_yjob(d / "yds", d / "r-local", **kw))
    assert local.manifest["run"]["tasks"] > 10
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        res = engine.run(_yjob(d / "yds", d / "r-dask", execution__scheduler=cluster.scheduler_address,
                               **kw))
    assert res.manifest["run"]["executor"]["executor"] == "dask"
    _bytes_equal(d / "r-dask", d / "r-local")
    # killed after the third checkpoint, then resumed
    job = _yjob(d / "yds", d / "r-killed", **kw)
    jf = d / "yjob.json"
    jf.write_text(json.dumps(job))
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); import engine; "
            f"engine.run(json.load(open({str(jf)!r})))")
    p = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, STRKIN_ENGINE_KILL_AT="task-3"),
                       capture_output=True, timeout=240)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    with pytest.raises(engine.OutputError, match="--resume"):
        engine.run(job)
    r = engine.run(job, resume=True)
    assert r.manifest["run"]["tasks_resumed"] >= 3
    _bytes_equal(d / "r-killed", d / "r-local")


def test_incremental_equals_full(tmp_path):
    refs, meta, q, _ = y_data(n_refs=40, n_unrelated=8, seed=5)
    write_y(tmp_path / "yds", refs, meta, q)
    formats.write_y_haplotypes(tmp_path / "ypop", population(n_men=200, seed=4), kind="query")
    kw = dict(inputs__y_population=str(tmp_path / "ypop"), search__top_k=2, search__case_top_k=2,
              execution__y_block_size=8, execution__query_chunk=5)
    inc = tmp_path / "inc"
    engine.run(_yjob(tmp_path / "yds", inc, **kw))
    more_r, more_m, more_q, _ = y_data(n_refs=15, n_unrelated=4, seed=6, ref_prefix="NR",
                                       query_prefix="NQ")
    more_m["case_id"] = [f"N{c}" for c in more_m["case_id"]]
    write_y(tmp_path / "yds", more_r, more_m, more_q)
    r2 = engine.run(_yjob(tmp_path / "yds", inc, **kw))
    full = engine.run(_yjob(tmp_path / "yds", tmp_path / "full", **kw))
    st = r2.manifest["run"]["modes"]["y-lineage"]
    assert st["incremental"] and st["references_new"] == 15 and st["queries_new"] == len(more_q)
    assert r2.manifest["run"]["pairs_total"] < full.manifest["run"]["pairs_total"]
    _bytes_equal(inc, tmp_path / "full")
    # the match probability counted in the references: new references change every LR,
    # so every pair is compared again -- and the output still equals a full run
    kw2 = {k: v for k, v in kw.items() if k != "inputs__y_population"}
    engine.run(_yjob(tmp_path / "yds", tmp_path / "inc2", **kw2))
    extra_r, extra_m, extra_q, _ = y_data(n_refs=5, n_unrelated=2, seed=7, ref_prefix="XR",
                                          query_prefix="XQ")
    extra_m["case_id"] = [f"X{c}" for c in extra_m["case_id"]]
    write_y(tmp_path / "yds", extra_r, extra_m, extra_q)
    r3 = engine.run(_yjob(tmp_path / "yds", tmp_path / "inc2", **kw2))
    assert any("compared again" in n for n in r3.manifest["run"]["notes"])
    engine.run(_yjob(tmp_path / "yds", tmp_path / "full2", **kw2))
    _bytes_equal(tmp_path / "inc2", tmp_path / "full2")


def test_combined_with_autosomal_evidence(tmp_path):
    """Fathers typed on both panels: the case-mode LR of the query as the missing
    child times the Y LR for one meiosis; also listed with the parent-child hit."""
    profs, truth = simulate(n_cases=8, n_unrelated=4, n_unrelated_references=2, seed=13,
                            proportions={"father": 0.5, "both-parents": 0.5})
    formats.write_profiles(tmp_path / "ds", profs)
    rng = np.random.default_rng(1)
    db = population(n_men=300, seed=2).comparison_values()
    from kinship.ystr.simulate import haplotypes_from_comparison, mutate

    fathers = [p for p in profs if p.relation == "father"]
    queries = [p for p in profs if p.kind == "query"]
    fy = db[rng.choice(len(db), len(fathers), replace=False)]
    by_case = {p.case_id: i for i, p in enumerate(fathers)}
    qy = []
    for p in queries:
        c = truth.get(p.sample_id, (None, None))[0]   # the query's own case (planted child)
        base = fy[by_case[c]] if c in by_case else db[rng.integers(len(db))]
        qy.append(mutate(base[None], MU, rng, PANEL, 1)[0])
    refs = haplotypes_from_comparison(PANEL, fy, [p.sample_id for p in fathers])
    formats.write_y_haplotypes(tmp_path / "yds", refs, {"kind": "reference",
                                                       "case_id": [p.case_id for p in fathers],
                                                       "relation": "father"})
    # a man recorded as another relation in the Y dataset than in the autosomal one
    other = next(p for p in profs if p.relation == "mother")
    formats.write_y_haplotypes(tmp_path / "yds", haplotypes_from_comparison(PANEL, db[:1], [other.sample_id]),
                               {"kind": "reference", "case_id": other.case_id, "relation": "father"})
    formats.write_y_haplotypes(tmp_path / "yds", haplotypes_from_comparison(
        PANEL, np.array(qy), [p.sample_id for p in queries]), {"kind": "query"})
    job = make_job(tmp_path / "ds", tmp_path / "out", ["case", "parent-child", "y-lineage"],
                   inputs__y_queries=str(tmp_path / "yds"), inputs__y_references=str(tmp_path / "yds"),
                   search__threshold=10.0, search__top_k=20, search__case_top_k=50)
    res = engine.run(job)
    hits = res.hits.to_pylist()
    case = {(h["query_id"], h["case_id"]): h["log10_lr"] for h in hits if h["mode"] == "case"}
    pc = {(h["query_id"], h["reference_id"]): h["log10_lr"] for h in hits if h["mode"] == "parent-child"}
    n = 0
    for h in hits:
        if h["mode"] != "y-lineage":
            assert h["combined_log10_lr"] is None and h["combined_with"] is None
            assert h["y_mismatches"] is None and h["y_lr_per_m"] is None
            continue
        y1 = json.loads(h["y_lr_per_m"])["1"]
        key = (h["query_id"], h["case_id"])
        entries = json.loads(h["combined_with"]) if h["combined_with"] else []
        if key in case:
            n += 1
            assert h["combined_log10_lr"] == pytest.approx(case[key] + math.log10(y1), rel=1e-12)
            assert entries[0]["with"] == f"case {h['case_id']}" and entries[0]["m"] == 1
        elif (h["query_id"], h["reference_id"]) in pc:
            assert h["combined_log10_lr"] == pytest.approx(
                pc[(h["query_id"], h["reference_id"])] + math.log10(y1), rel=1e-12)
        else:
            assert h["combined_log10_lr"] is None
        if (h["query_id"], h["reference_id"]) in pc:
            e = next(e for e in entries if e["with"] == "parent-child")
            assert e["m"] == 1 and e["log10_lr"] == pytest.approx(
                pc[(h["query_id"], h["reference_id"])] + math.log10(y1), rel=1e-12)
    assert n >= 4
    assert "combined" in res.summary
    assert f"another case or relation in the autosomal references" in res.summary
    assert all(h["combined_with"] is None for h in hits if h["reference_id"] == other.sample_id)


def _fails(job, cls, *words):
    with pytest.raises(cls) as e:
        engine.run(job)
    for w in words:
        assert w in str(e.value), str(e.value)
    return str(e.value)


def test_bad_y_input(tmp_path, ydata):
    d, _ = ydata
    profs, _ = simulate(n_cases=2, n_unrelated=2, n_unrelated_references=0, seed=3)
    formats.write_profiles(tmp_path / "ds", profs)
    out = tmp_path / "out"
    _fails(_yjob(tmp_path / "nope", out), engine.InputError, "inputs.y_queries", "does not exist",
           "kinship import-y")
    _fails(_yjob(tmp_path / "ds", out), engine.InputError, "autosomal profile dataset")
    _fails(_yjob(d / "yds", out, y_lineage__loci=["DYS19", "DYS3899"]), engine.InputError,
           "DYS3899", "not a Y-STR marker")
    _fails(_yjob(d / "yds", out, y_lineage__loci=["DYS19", "DYS570"]), engine.InputError,
           "DYS570", "not typed")
    _fails(_yjob(d / "yds", out, y_lineage__rates={"DYS1999": 0.002}), engine.InputError,
           "y_lineage.rates", "DYS1999")
    only_refs = tmp_path / "refs-only"
    refs, meta, _, _ = y_data(n_refs=5, n_unrelated=0, planted=())
    formats.write_y_haplotypes(only_refs, refs, meta)
    _fails(_yjob(only_refs, out), engine.InputError, "no query haplotypes", "kind 'query'")
    for kw, words in ((dict(y_lineage__max_mismatches=-1), ["y_lineage.max_mismatches"]),
                      (dict(y_lineage__estimator="kapa"), ["y_lineage.estimator", "kappa"]),
                      (dict(y_lineage__meioses=[0, 1]), ["y_lineage.meioses"]),
                      (dict(y_lineage__prior=[1, 2]), ["y_lineage.prior"]),
                      (dict(y_lineage__maxsteps=3), ["y_lineage.maxsteps", "max_steps"])):
        _fails(_yjob(d / "yds", out, **kw), engine.JobError, *words)
    _fails({"inputs": {"queries": str(tmp_path / "ds")}, "search": {"modes": ["y-lineage"]},
            "output": {"path": str(out)}}, engine.JobError, "inputs.y_queries is required")
    assert not out.exists()  # nothing written
    # the messages and the summary never show haplotypes
    res = engine.run(_yjob(d / "yds", tmp_path / "ok"))
    text = res.summary + json.dumps(res.manifest)
    q, _ = formats.open_y_dataset(d / "yds").load(kind="query")
    for rec in q.to_records()[:5]:
        for m, v in rec.items():
            if m != "sample" and "," in str(v):
                assert str(v) not in text
