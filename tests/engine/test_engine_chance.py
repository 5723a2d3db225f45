"""Chance hits in every run (``expected_chance_hits``, the summary, the manifest).

* The engine's expectation equals :func:`kinship.chance.expected_chance_hits`
  computed directly on tables compiled here with the core (every mode).
* On a tiny panel with many unrelated queries the observed number of pairs at or
  above each threshold agrees with the expectation (brute force).
* A random subset of units gives the full answer within its stated error; the
  column and the summary are identical after an incremental run; bad
  ``[report]`` values are errors that name the key.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

import engine
import formats
import kinship
from kinship.chance import expected_chance_hits
from kinship.search import ScoringModel

from enginelib import LOCI, make_job, prefixed, simulate

RES = 0.005


def _by_mode(res, mode):
    return {r["threshold"]: r for r in res.manifest["chance_hits"][mode]["thresholds"]}


def _encode(model, profs):
    return model.encode([p.genotypes for p in profs])


def test_expectation_equals_kinship_chance(tmp_path, nist):
    profs, _ = simulate(n_cases=10, n_unrelated=12, n_unrelated_references=4, seed=61)
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    modes = ["parent-child", "full-sibling", "identity", "duplicates", "case"]
    res = engine.run(make_job(ds, tmp_path / "out", modes, search__max_inconsistent=1,
                              report__chance_thresholds=[1e5, 1e7]))
    model = ScoringModel(nist, LOCI)
    queries = [p for p in profs if p.kind == "query"]
    refs = sorted([p for p in profs if p.kind == "reference"], key=lambda p: p.sample_id)
    th = [1e4, 1e5, 1e7]
    nq = len(queries)
    sx = ["male" if p.sex == "M" else "female" for p in refs]
    for mode in ("parent-child", "full-sibling", "identity"):
        tabs = model.compile_pairwise(mode, [p.sample_id for p in refs], _encode(model, refs), sx)
        want = expected_chance_hits(tabs, nq, th, model=model, resolution=RES, max_cases=None,
                                    max_inconsistent=1 if mode == "identity" else 0)
        got = _by_mode(res, mode)
        for t, e, lo, hi in zip(th, want.expected, want.lower, want.upper):
            assert got[t]["expected"] == pytest.approx(e, rel=1e-12, abs=1e-300)
            assert got[t]["lower"] == pytest.approx(lo, rel=1e-12, abs=1e-300)
            assert got[t]["upper"] == pytest.approx(hi, rel=1e-12, abs=1e-300)
        assert res.manifest["chance_hits"][mode]["comparisons"] == nq * len(refs)
        assert res.manifest["chance_hits"][mode]["units_used"] == len(refs)
    # duplicates: every unordered pair once; each query's identity table, (n - 1)/2 each
    tabs = model.compile_pairwise("identity", [p.sample_id for p in queries], _encode(model, queries))
    want = expected_chance_hits(tabs, 1, th, model=model, resolution=RES, max_cases=None,
                                max_inconsistent=1)
    got = _by_mode(res, "duplicates")
    for t, e in zip(th, want.expected):
        assert got[t]["expected"] == pytest.approx(e * (nq - 1) / 2, rel=1e-12, abs=1e-300)
    assert res.manifest["chance_hits"]["duplicates"]["comparisons"] == nq * (nq - 1) / 2
    # case mode: the core's case compiler (closed forms, pedigree tables)
    cases = {}
    for p in refs:
        if p.relation and p.relation != "self":
            cases.setdefault(p.case_id, []).append(p)
    ctabs = model.compile_cases([
        {"id": cid, "missing_sex": "unknown",
         "relatives": [(p.sample_id, p.relation, "male" if p.sex == "M" else "female",
                        _encode(model, [p])[0]) for p in rel]}
        for cid, rel in sorted(cases.items())])
    want = expected_chance_hits(ctabs, nq, th, model=model, resolution=RES, max_cases=None)
    got = _by_mode(res, "case")
    for t, e, lo, hi in zip(th, want.expected, want.lower, want.upper):
        assert got[t]["expected"] == pytest.approx(e, rel=1e-6, abs=1e-300)
        assert lo * (1 - 1e-6) <= got[t]["expected"] <= hi * (1 + 1e-6)
    # every hit carries the expectation at its LR, read at a computed threshold not above it
    for h in res.hits.to_pylist():
        e = h["expected_chance_hits"]
        assert e is not None and e >= 0
        if h["mode"] == "parent-child" and h["log10_lr"] < 5:
            assert e <= _by_mode(res, "parent-child")[1e4]["expected"] * (1 + 1e-12)
    assert "chance hits expected" in res.summary and "best hit: LR" in res.summary


def _tiny(tmp_path, n_queries, n_refs, seed):
    """Few alleles at three loci: unrelated pairs reach moderate LRs often."""
    freqs = {"TH01": {"6": 0.3, "7": 0.25, "8": 0.2, "9": 0.15, "9.3": 0.1},
             "TPOX": {"8": 0.45, "9": 0.1, "10": 0.1, "11": 0.25, "12": 0.1},
             "D3S1358": {"14": 0.15, "15": 0.3, "16": 0.25, "17": 0.2, "18": 0.1}}
    ft = kinship.FrequencyTable.from_dict(freqs)
    (tmp_path / "freqs.csv").write_text(ft.to_csv())
    rng = np.random.default_rng(seed)

    def draw():
        g = {}
        for l, d in freqs.items():
            a = list(d)
            p = np.array([d[x] for x in a])
            i, j = rng.choice(len(a), size=2, p=p / p.sum())
            g[l] = (a[i], a[j])
        return g

    profs = [formats.Profile(f"Q{i:05d}", draw(), "query", sex="M") for i in range(n_queries)]
    profs += [formats.Profile(f"R{i:03d}", draw(), "reference", f"K{i:03d}", "father", "M")
              for i in range(n_refs)]
    formats.write_profiles(tmp_path / "ds", profs)
    return tmp_path / "ds", str(tmp_path / "freqs.csv")


def test_brute_force_count_of_unrelated_pairs(tmp_path):
    """3,000 HW queries x 12 references: observed pairs at each threshold against
    the expectation, with the between-query variance of the observed count."""
    ds, fr = _tiny(tmp_path, 3000, 12, seed=5)
    th = [1.0, 3.0, 10.0, 30.0, 100.0, 300.0]
    job = make_job(ds, tmp_path / "out", ["parent-child", "identity"], inputs__frequencies=fr,
                   search__threshold=1.0, search__top_k=20, search__case_top_k=5000,
                   search__max_inconsistent=1,
                   report__chance_resolution=1e-4, report__chance_thresholds=th[1:])
    res = engine.run(job)
    hits = res.hits.to_pylist()
    checked = 0
    for mode in ("parent-child", "identity"):
        got = _by_mode(res, mode)
        lr = {}
        for h in hits:
            if h["mode"] == mode:
                lr.setdefault(h["query_id"], []).append(h["log10_lr"])
        for t in th:
            e = got[t]["expected"]
            if e < 5:  # too few to test (parent-child above 30, identity below 30 is flat)
                continue
            per_q = np.array([sum(x >= math.log10(t) - 1e-12 for x in v) for v in lr.values()]
                             + [0] * (3000 - len(lr)), dtype=float)
            obs = per_q.sum()
            se = math.sqrt(max(per_q.var(ddof=1) * len(per_q), 1.0))
            assert abs(obs - e) < 4 * se, (mode, t, obs, e, se)
            checked += 1
        # every pair at the threshold was kept (no top-k truncation)
        assert all(len(v) < 20 for v in lr.values())
    assert checked >= 9


def test_random_subset_and_incremental(tmp_path):
    first, _ = simulate(n_cases=8, n_unrelated=10, n_unrelated_references=6, seed=71)
    ds = tmp_path / "ds"
    formats.write_profiles(ds, first)
    kw = dict(report__chance_units=6, search__threshold=100.0, execution__block_size=4,
              execution__query_chunk=7)
    modes = ["parent-child", "case"]
    inc = engine.run(make_job(ds, tmp_path / "inc", modes, **kw))
    full_all = engine.run(make_job(ds, tmp_path / "all", modes, report__chance_units=1000,
                                   search__threshold=100.0))
    for mode in modes:
        s, a = inc.manifest["chance_hits"][mode], full_all.manifest["chance_hits"][mode]
        assert s["units_used"] == 6 < s["units"] == a["units_used"]
        assert "random subset" in s["sample"] and a["sample"] == "all units"
        for rs, ra in zip(s["thresholds"], a["thresholds"]):
            if ra["expected"] > 0:
                assert abs(rs["expected"] - ra["expected"]) < 4 * rs["stderr"] + 1e-12 * ra["expected"]
                assert rs["lower"] <= ra["expected"] <= rs["upper"]
    assert "+-" in inc.summary and "random subset of 6 of" in inc.summary
    # new profiles: the incremental run reuses the per-unit values it can and equals a full run
    new = prefixed(simulate(n_cases=4, n_unrelated=3, n_unrelated_references=2, seed=72, prefix="N")[0],
                   "N")
    formats.write_profiles(ds, new)
    r2 = engine.run(make_job(ds, tmp_path / "inc", modes, **kw))
    full = engine.run(make_job(ds, tmp_path / "full", modes, **kw))
    st = r2.manifest["run"]["modes"]["parent-child"]
    assert st["incremental"] and st["chance_units_reused"] >= 1
    assert st["chance_units_computed"] < full.manifest["run"]["modes"]["parent-child"]["chance_units_computed"]
    assert (tmp_path / "inc" / "hits.parquet").read_bytes() == (tmp_path / "full" / "hits.parquet").read_bytes()
    assert (tmp_path / "inc" / "summary.txt").read_text() == (tmp_path / "full" / "summary.txt").read_text()
    assert r2.manifest["chance_hits"] == full.manifest["chance_hits"]
    col = pq.read_table(tmp_path / "inc" / "hits.parquet").column("expected_chance_hits")
    assert col.null_count == 0
    meta = json.loads(pq.read_schema(tmp_path / "inc" / "hits.parquet").metadata[b"strkin.search"])
    assert meta["chance_hits"]["case"]["units_used"] == 6


def test_chance_off_and_bad_report_keys(tmp_path):
    profs, _ = simulate(n_cases=3, n_unrelated=3, n_unrelated_references=0, seed=2)
    formats.write_profiles(tmp_path / "ds", profs)
    res = engine.run(make_job(tmp_path / "ds", tmp_path / "out", ["case"], search__threshold=1.0,
                              report__chance_method="none"))
    assert res.hits.num_rows and res.hits.column("expected_chance_hits").null_count == res.hits.num_rows
    assert res.manifest["chance_hits"] == {} and "not computed" in res.summary
    assert not (tmp_path / "out" / "_state" / "chance.parquet").exists()
    for kw, words in ((dict(report__chance_method="exakt"), ["report.chance_method", "exact"]),
                      (dict(report__chance_units=1), ["report.chance_units"]),
                      (dict(report__chance_thresholds=[1e4, -1]), ["report.chance_thresholds"]),
                      (dict(report__chance_resolution=0.5), ["report.chance_resolution"]),
                      (dict(report__chance_population="nrc"), ["report.chance_population"]),
                      (dict(report__chance_treshold=[1e4]), ["report.chance_treshold",
                                                            "chance_thresholds"])):
        with pytest.raises(engine.JobError) as e:
            engine.run(make_job(tmp_path / "ds", tmp_path / "o2", ["case"], **kw))
        for w in words:
            assert w in str(e.value)


def test_chance_values_do_not_depend_on_the_units_tasks(tmp_path, monkeypatch):
    """The sampled units' chance values are computed in several tasks (eighths of
    the units, ``engine.api.CHANCE_TASKS``) so that they spread over the threads:
    the hits' column and the manifest's expectations are the same as from one
    task for all of them, and the run reports the tasks it ran."""
    import engine.api as api
    import engine.task as task

    profs, _ = simulate(n_cases=12, n_unrelated=10, n_unrelated_references=6, seed=17)
    formats.write_profiles(tmp_path / "ds", profs)
    out = {}
    ran = []
    real = task.run_chance_task

    def counted(ctx, t, queries, progress=None):
        ran.append(len(t.block.unit_ids))
        return real(ctx, t, queries, progress)

    monkeypatch.setattr(task, "run_chance_task", counted)
    for n in (1, 8):
        monkeypatch.setattr(api, "CHANCE_TASKS", n)
        ran.clear()
        res = engine.run(make_job(tmp_path / "ds", tmp_path / f"out{n}", ["parent-child", "case"],
                                  execution__threads=2))
        out[n] = (res.manifest["chance_hits"],
                  (tmp_path / f"out{n}" / "hits.parquet").read_bytes())
        computed = sum(res.manifest["run"]["modes"][m]["chance_units_computed"]
                       for m in ("parent-child", "case"))
        assert computed > 8 and sum(ran) == computed
        # per mode: one task, or blocks of an eighth of the units (at most eight)
        if n == 1:
            assert len(ran) == 2
        else:
            assert 8 < len(ran) <= 16
    assert out[1] == out[8]
