"""The demo's degraded sample (issue 15, item 3): a child's remains with heavy
dropout, found in case mode with its parents only with the dropout model on."""
from __future__ import annotations

import engine
from engine.demo import DEGRADED_DROPOUT, build_demo, demo_job


def _case_hits(res, q):
    return [h for h in res.hits.to_pylist() if h["mode"] == "case" and h["query_id"] == q]


def test_degraded_sample_found_only_with_the_dropout_model(tmp_path):
    truth = build_demo(tmp_path, n_cases=4)
    t = truth["DEG01-remains"]
    assert t["dropout"] == DEGRADED_DROPOUT
    job = demo_job(tmp_path)
    job["search"] = dict(job["search"], modes=["case", "parent-child"], threshold=1e4)
    job["report"] = {"chance_method": "none", "relationships": "none"}
    on = engine.run(dict(job, output={"path": str(tmp_path / "on")}))
    found = [h for h in _case_hits(on, "DEG01-remains") if h["case_id"] == "DEG01"]
    assert found and found[0]["rank"] == 1 and found[0]["loci_inconsistent"] == 0
    assert found[0]["log10_lr"] >= 4
    # the dropout used is recorded per sample
    assert "DEG01-remains,query,0.3,file" in (tmp_path / "on" / "dropout.csv").read_text()
    off_job = dict(job, model={k: v for k, v in job["model"].items() if k != "dropout_samples"},
                   output={"path": str(tmp_path / "off")})
    off = engine.run(off_job)
    assert not [h for h in _case_hits(off, "DEG01-remains") if h["case_id"] == "DEG01"]
    # the other planted families are found either way
    assert {h["query_id"] for h in on.hits.to_pylist() if h["mode"] == "case" and h["rank"] == 1} \
        >= {h["query_id"] for h in off.hits.to_pylist() if h["mode"] == "case" and h["rank"] == 1}
