"""Reference consistency and the one-to-one joint picture through engine.run:
consistency.parquet and joint.parquet, the inconsistent_cases setting, the hits'
joint columns, the summary sections and the manifest."""
from __future__ import annotations

import json
import os
import stat

import pyarrow.parquet as pq
import pytest

import engine
import formats
import kinship
from kinship.simulate import FamilySimulator

from enginelib import make_job, read

LOCI = ("CSF1PO", "D13S317", "D16S539", "D18S51", "D21S11", "D3S1358", "D5S818", "D7S820",
        "D8S1179", "FGA", "TH01", "TPOX", "vWA", "D2S1338", "D19S433")


def _profiles():
    """Families around missing children, all with a query:

    * OK1 -- father, mother (correct), OK2 -- father and full sibling (correct);
    * BAD -- the "father" is an unrelated man beside a full sibling of the child;
    * DUPA / DUPB -- the same woman is the mother in both cases (two children of one
      mother recorded as two cases: the same person in two cases);
    * JA -- both parents of child C1; JB -- the paternal grandparents of C1 and of
      its cousin C2 (also a query): C1 hits both families."""
    ft = kinship.FrequencyTable.load("nist1036_all")
    sim = FamilySimulator(ft, LOCI, seed=4)
    P = []

    def add(sid, g, kind, case="", rel="", sex="M"):
        P.append(formats.Profile(sid, sim._observe(g), kind, case, rel, sex, ""))

    for cid in ("OK1", "OK2", "BAD"):
        fa, mo = sim.founder(), sim.founder()
        add(f"{cid}-Q", sim.child(fa, mo), "query")
        add(f"{cid}-father", sim.founder() if cid == "BAD" else fa, "reference", cid, "father")
        if cid == "OK1":
            add(f"{cid}-mother", mo, "reference", cid, "mother", "F")
        else:
            add(f"{cid}-sib", sim.child(fa, mo), "reference", cid, "full-sibling", "F")
    mo = sim.founder()
    for cid in ("DUPA", "DUPB"):
        fa = sim.founder()
        add(f"{cid}-Q", sim.child(fa, mo), "query")
        add(f"{cid}-mother", mo, "reference", cid, "mother", "F")
        add(f"{cid}-father", fa, "reference", cid, "father")
    gf, gm = sim.founder(), sim.founder()
    s1, s2, w1, w2 = sim.child(gf, gm), sim.child(gf, gm), sim.founder(), sim.founder()
    add("C1-Q", sim.child(s1, w1), "query")
    add("C2-Q", sim.child(s2, w2), "query")
    add("JA-father", s1, "reference", "JA", "father")
    add("JA-mother", w1, "reference", "JA", "mother", "F")
    add("JB-pgf", gf, "reference", "JB", "paternal-grandfather")
    add("JB-pgm", gm, "reference", "JB", "paternal-grandmother", "F")
    return P


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cons")
    ds = d / "profiles"
    formats.write_profiles(ds, _profiles())
    out = {}
    for setting in ("report", "exclude"):
        job = make_job(ds, d / f"out-{setting}", ["case"], search__inconsistent_cases=setting,
                       search__threshold=10.0, search__top_k=3)
        out[setting] = engine.run(job)
    return out


def test_consistency_table(runs):
    res = runs["report"]
    t = pq.read_table(res.path / "consistency.parquet").to_pylist()
    status = {r["case_id"]: r["status"] for r in t}
    assert status["OK1"] == "consistent" and status["OK2"] in ("consistent", "note")
    assert status["BAD"] == "inconsistent"
    assert status["DUPA"] == status["DUPB"] == "duplicate"
    bad = next(r for r in t if r["case_id"] == "BAD" and r["finding"])
    assert bad["finding"] == "excluded" and bad["claimed"] == "parent-child"
    assert {bad["sample_a"], bad["sample_b"]} == {"BAD-father", "BAD-sib"}
    assert "unrelated" in bad["explanation"] and bad["fix"]
    same = [r for r in t if r["finding"] == "same-person"]
    assert {(r["sample_a"], r["sample_b"]) for r in same} == {("DUPA-mother", "DUPB-mother")}
    # every pair of every case checked: OK1, OK2, BAD, DUPA, DUPB, JA, JB one pair each
    assert sum(r["finding"] not in ("same-person", "sex") for r in t) == 7
    for r in t:
        if r["relationship_lrs"]:
            d = json.loads(r["relationship_lrs"])
            assert set(d) == {"identity", "parent-child", "full-sibling", "half-sibling",
                              "grandparent", "avuncular", "first-cousin", "unrelated"}
    assert "reference consistency: 7 cases checked: 1 inconsistent, 2 sharing a person" in res.summary
    assert "BAD [inconsistent]" in res.summary
    m = res.manifest
    assert m["consistency"]["inconsistent"] == 1 and m["consistency"]["excluded"] == 0
    assert m["outputs"]["consistency"]["file"] == "consistency.parquet"
    assert stat.S_IMODE(os.stat(res.path / "consistency.parquet").st_mode) == 0o600
    assert "strkin.search" in {k.decode() for k in
                               pq.read_schema(res.path / "consistency.parquet").metadata}


def test_exclude_keeps_inconsistent_cases_out(runs):
    rep, exc = runs["report"], runs["exclude"]
    assert exc.manifest["consistency"]["excluded"] == 1
    cases_exc = set(read(exc.path).column("case_id").to_pylist())
    assert "BAD" not in cases_exc
    assert any("left out of case mode (BAD" in n for n in exc.manifest["run"]["notes"])
    # the other cases' hits are the same
    a = [r for r in read(rep.path).to_pylist() if r["case_id"] != "BAD"]
    b = read(exc.path).to_pylist()
    key = lambda r: (r["query_id"], r["case_id"], r["log10_lr"])
    assert sorted(map(key, a)) == sorted(map(key, b))


def test_joint_picture(runs):
    res = runs["report"]
    hits = read(res.path)
    j = pq.read_table(res.path / "joint.parquet")
    # every case hit is in the joint table, annotated in the hits
    assert j.num_rows == hits.num_rows
    rows = {(r["query_id"], r["case_id"]): r for r in j.to_pylist()}
    assert rows[("C1-Q", "JA")]["assigned"] and not rows[("C1-Q", "JB")]["assigned"]
    assert rows[("C2-Q", "JB")]["assigned"]
    assert rows[("C1-Q", "JA")]["part"] == rows[("C2-Q", "JB")]["part"]
    assert rows[("C1-Q", "JB")]["log10_lr_vs_alternative"] < 0
    for r in hits.to_pylist():
        x = rows[(r["query_id"], r["case_id"])]
        assert r["joint_part"] == x["part"] and r["joint_assigned"] == x["assigned"]
        assert r["joint_undisputed"] == x["undisputed"]
    # one query per missing person and one missing person per query in each part
    asg = [r for r in j.to_pylist() if r["assigned"]]
    assert len({r["query_id"] for r in asg}) == len(asg) == len({r["case_id"] for r in asg})
    assert "one-to-one (case mode):" in res.summary and "C1-Q -> JB" in res.summary
    assert res.manifest["joint"]["not_assigned"] >= 1
    assert res.manifest["outputs"]["joint"]["file"] == "joint.parquet"


def test_job_keys():
    from engine.errors import JobError

    base = {"inputs": {"queries": "q", "references": "r"}, "search": {"modes": ["case"]},
            "output": {"path": "out"}}
    with pytest.raises(JobError, match="inconsistent_cases must be .*did you mean 'exclude'"):
        engine.Job.from_dict({**base, "search": {"modes": ["case"], "inconsistent_cases": "exlude"}})
    with pytest.raises(JobError, match="report.consistency_ratio must be a number > 1"):
        engine.Job.from_dict({**base, "report": {"consistency_ratio": 0.5}})
    with pytest.raises(JobError, match="report.joint_exact_max"):
        engine.Job.from_dict({**base, "report": {"joint_exact_max": -1}})
    j = engine.Job.from_dict(base)
    assert j.values["search"]["inconsistent_cases"] == "report"
    assert j.values["report"]["consistency_ratio"] == 100.0


def test_cases_checked_in_slices_give_the_same_table(runs, tmp_path, monkeypatch):
    """The engine checks the cases in slices (engine.consistency.CHECK_SLICE, bounding
    the pairs' arrays): one case per slice gives the same consistency.parquet."""
    import engine.consistency

    monkeypatch.setattr(engine.consistency, "CHECK_SLICE", 1)
    res = runs["report"]
    job = make_job(res.path.parent / "profiles", tmp_path / "out", ["case"],
                   search__inconsistent_cases="report", search__threshold=10.0, search__top_k=3)
    again = engine.run(job)
    a = pq.read_table(res.path / "consistency.parquet")
    b = pq.read_table(again.path / "consistency.parquet")
    assert a.num_rows > 7 and a.equals(b)


def test_relationship_lrs_column_is_json_dumps_of_each_rows_lrs():
    """consistency.parquet's relationship_lrs, made for all rows with the same
    relationships at once (engine.consistency._relationship_json): row by row the
    text of json.dumps, null where a row has none, whatever the key sets."""
    import math

    from engine.consistency import _relationship_json

    a = {"full-sibling": 1.25, "parent-child": -math.inf, "unrelated": 0.0}
    b = {"identity": float("nan"), "unrelated": 0.0}
    c = {"full-sibling": 3.0000000000000004e-05, "parent-child": 12.5, "unrelated": 0.0}
    rows = [(0, a), (2, b), (3, c), (5, dict(a))]
    got = _relationship_json(7, rows).to_pylist()
    want = [None] * 7
    for i, d in rows:
        want[i] = json.dumps({k: float(x) for k, x in d.items()}, allow_nan=True)
    assert got == want
    assert _relationship_json(0, []).to_pylist() == []
