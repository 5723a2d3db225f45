"""``kinship power`` and the power table of a run (engine.power, job keys report.power*)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine
import formats
import kinship
from engine.cli import main
from engine.errors import JobError
from kinship.cases import case_from_relations
from kinship.power import case_power, power_model

sys.path.insert(0, str(Path(__file__).resolve().parent / "engine"))
from enginelib import LOCI, make_job, simulate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "formats" / "data"
STRUCT = {"father": 0.3, "grandparents": 0.3, "half-sibling": 0.2, "siblings": 0.2}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("power")
    profs, truth = simulate(n_cases=8, n_unrelated=6, n_unrelated_references=1, seed=4,
                            proportions=STRUCT)
    formats.write_profiles(d / "ds", profs)
    job = make_job(d / "ds", d / "out", ["case"], report__power="exact",
                   report__power_suggest_below=1.0, search__threshold=1e3)
    res = engine.run(job)
    (d / "job.json").write_text(json.dumps(job))
    (d / "truth.json").write_text(json.dumps(truth))
    return d, profs, job, res


def _family(profs, case_id):
    refs = [p for p in profs if p.kind == "reference" and p.case_id == case_id]
    case = case_from_relations(case_id, [(p.sample_id, p.relation, p.sex) for p in refs])
    return case, {p.sample_id: p.genotypes for p in refs}


def test_run_power_table_equals_the_library(run):
    d, profs, job, res = run
    pj = res.manifest["power"]
    n_queries = res.manifest["inputs"]["queries"]["n_queries"]
    assert pj["n_database"] == n_queries and pj["method"] == "exact" and pj["threshold"] == 1e3
    cases = {c["unit"]: c for c in pj["cases"]}
    assert len(cases) == res.manifest["inputs"]["references"]["n_cases"]
    ft = kinship.FrequencyTable.load("nist1036_all")
    for cid in sorted(cases)[:3]:
        fam, geno = _family(profs, cid)
        ref = case_power(fam, geno, power_model(ft, geno, LOCI), 1e3, n_queries)
        got = cases[cid]
        assert got["power"] == pytest.approx(ref.power, abs=1e-9)
        assert got["expected_chance_hits"] == pytest.approx(ref.expected_chance_hits, rel=1e-9)
        assert [s["relation"] for s in got["suggestions"]][:3] == \
            [s.relation for s in ref.suggestions][:3]
        assert got["suggestions"][0]["power"] == pytest.approx(ref.suggestions[0].power, abs=1e-9)
    summ = res.summary
    assert "power of each family's references" in summ and "next relative" in summ
    assert "seconds" not in summ.split("power of each family's references")[1].split("\n")[1]
    assert (d / "out" / "summary.txt").read_text() == summ


def test_power_none_leaves_it_out(tmp_path):
    profs, _ = simulate(n_cases=2, n_unrelated=2, n_unrelated_references=0, seed=5,
                        proportions={"father": 1.0})
    formats.write_profiles(tmp_path / "ds", profs)
    res = engine.run(make_job(tmp_path / "ds", tmp_path / "out", ["case"]))
    assert "power" not in res.manifest and "power of each family" not in res.summary


def _toml(job, path):
    lines = []
    for sec, kv in job.items():
        lines.append(f"[{sec}]")
        for k, v in kv.items():
            lines.append(f"{k} = {json.dumps(v)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_command_job_and_dataset(run, capsys):
    d, profs, job, res = run
    jobfile = _toml(job, d / "job.toml")
    assert main(["power", str(jobfile), "--json", "--suggest-below", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    run_cases = {c["unit"]: c for c in res.manifest["power"]["cases"]}
    for c in out["cases"]:
        assert c["power"] == pytest.approx(run_cases[c["unit"]]["power"], abs=1e-12)
        assert c["suggestions"][0]["relation"] == run_cases[c["unit"]]["suggestions"][0]["relation"]
    cid = sorted(run_cases)[0]
    assert main(["power", "--dataset", str(d / "ds"), "--case", cid, "--threshold", "1000",
                 "--database", "5"]) == 0
    text = capsys.readouterr().out
    assert cid in text and "s per case" in text and "chance hits among 5 unrelated" in text
    for p in profs:                                     # no genotype is printed
        if p.case_id == cid:
            assert "/".join(next(iter(p.genotypes.values()))) not in text


def test_command_fam_and_ped(capsys, tmp_path):
    assert main(["power", str(DATA / "Missing-son-conditioned.fam"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["cases"]) == 1 and 0 <= out["cases"][0]["power"] <= 1
    (tmp_path / "f.ped").write_text("case\tid\tfid\tmid\tsex\tsample\tmissing\n"
                                    "c1\tAF\t0\t0\t1\tS-AF\t0\n"
                                    "c1\tMO\t0\t0\t2\t\t0\n"
                                    "c1\tCH\tAF\tMO\t1\t\t1\n")
    (tmp_path / "g.csv").write_text("sample_id,locus,allele1,allele2\n"
                                    "S-AF,D3S1358,15,16\nS-AF,vWA,14,17\nS-AF,TH01,6,9.3\n")
    assert main(["power", "--ped", str(tmp_path / "f.ped"), "--genotypes", str(tmp_path / "g.csv"),
                 "--threshold", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    c = out["cases"][0]
    ft = kinship.FrequencyTable.load("nist1036_all")
    geno = {"S-AF": {"D3S1358": ("15", "16"), "vWA": ("14", "17"), "TH01": ("6", "9.3")}}
    fam = case_from_relations("c1", [("S-AF", "father", "M")])
    ref = case_power(fam, geno, power_model(ft, geno), 5.0, 10 ** 6)
    assert c["power"] == pytest.approx(ref.power, abs=1e-12)
    assert c["suggestions"][0]["relation"] == "mother" == ref.best.relation


@pytest.mark.parametrize("argv, words", [
    ([], "give one input"),
    (["/nonexistent/x.fam"], "no such file"),
    (["/nonexistent/x.txt"], "expected a job file"),
    (["/nonexistent/job.toml"], "job.toml"),
    ([str(DATA / "paternity.fam")], "no family with a missing person"),
    ([str(DATA / "Missing-son-conditioned.fam"), "--method", "bogus"], "--method"),
    ([str(DATA / "Missing-son-conditioned.fam"), "--case", "nope"], "no such case"),
    ([str(DATA / "Missing-son-conditioned.fam"), "--threshold", "-3"], "--threshold"),
    ([str(DATA / "Missing-son-conditioned.fam"), "--relatives", "cousin"], "cannot be ranked"),
    ([str(DATA / "Missing-son-conditioned.fam"), "--relatives", "frother"], "--relatives"),
    (["--dataset", "/nonexistent/ds"], "does not exist"),
])
def test_command_bad_input_is_one_line(argv, words):
    p = subprocess.run([sys.executable, "-m", "engine.cli", "power", *argv], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and words in p.stderr, p.stderr


@pytest.mark.parametrize("key, value, words", [
    ("power", "bogus", "report.power"), ("power_simulations", 1, "power_simulations"),
    ("power_database", -1, "power_database"), ("power_suggest_below", 2, "power_suggest_below"),
    ("power_cases", 0, "power_cases"),
])
def test_job_keys_are_checked(tmp_path, key, value, words):
    with pytest.raises(JobError, match=words):
        engine.Job.from_dict(make_job(tmp_path, tmp_path / "o", ["case"], **{f"report__{key}": value}))


def test_hit_review_report_has_the_power_table(run, tmp_path):
    from engine.report_html import write_report

    d, profs, job, res = run
    info = write_report(d / "out", out=tmp_path / "report")
    html = Path(info["index"]).read_text()
    assert "Power of each family" in html
    for c in res.manifest["power"]["cases"]:
        assert f"<td>{c['unit']}</td>" in html


def test_run_with_simulation_states_its_error(tmp_path):
    profs, _ = simulate(n_cases=2, n_unrelated=3, n_unrelated_references=0, seed=6,
                        proportions={"grandparents": 1.0})
    formats.write_profiles(tmp_path / "ds", profs)
    res = engine.run(make_job(tmp_path / "ds", tmp_path / "out", ["case"], report__power="mc",
                              report__power_simulations=400, report__power_database=1000,
                              search__threshold=1e3))
    pj = res.manifest["power"]
    assert pj["method"] == "mc" and pj["n_sim"] == 400 and pj["n_database"] == 1000
    ft = kinship.FrequencyTable.load("nist1036_all")
    for c in pj["cases"]:
        assert c["details"] == {"n_sim": 400, "seed": 0} and 0 < c["stderr"] < 0.05
        fam, geno = _family(profs, c["unit"])
        ex = case_power(fam, geno, power_model(ft, geno, LOCI), 1e3, 1000, relatives=())
        assert abs(c["power"] - ex.power) <= 4 * c["stderr"] + 1e-3
        assert c["expected_chance_hits"] == pytest.approx(ex.expected_chance_hits, rel=1e-9)
    assert "400 simulations" in res.summary


def test_threads_do_not_change_the_numbers(run):
    from engine.power import _from_job, evaluate

    d, profs, job, res = run
    units, model, thr, n_db, _ = _from_job(engine.Job.from_dict(job))
    one = evaluate(units, model, thr, n_db, suggest_below=1.0, threads=1)
    two = evaluate(units, model, thr, n_db, suggest_below=1.0, threads=2)
    assert [u for u, _, _ in one] == [u for u, _, _ in two]
    for (_, a, _), (_, b, _) in zip(one, two):
        da, db = a.to_dict(), b.to_dict()
        da.pop("seconds"), db.pop("seconds")
        assert da == db


def test_planted_children_reach_the_threshold_as_often_as_the_power_says(run):
    # end to end: the search's own case-mode LR of each planted child against its
    # family; the number reaching the threshold has mean sum(power) and variance
    # sum(power (1 - power)) over the families (independent draws of the children)
    d, profs, job, res = run
    power = {c["unit"]: c["power"] for c in res.manifest["power"]["cases"]}
    hits = res.hits.to_pylist()
    reached, p = 0, []
    truth = json.loads((d / "truth.json").read_text())
    for q, (cid, _) in truth.items():
        reached += any(h["mode"] == "case" and h["query_id"] == q and h["case_id"] == cid
                       and h["log10_lr"] >= 3 for h in hits)
        p.append(power[cid])
    mean, var = sum(p), sum(x * (1 - x) for x in p)
    assert len(p) == 8 and 0.5 < var      # some families are below a certain hit
    assert abs(reached - mean) <= 4 * var ** 0.5 + 0.5, (reached, mean, var)


def test_command_ranks_the_relatives_asked_for(capsys):
    fam = str(DATA / "Missing-son-conditioned.fam")
    argv = ["power", fam, "--threshold", "1e9", "--suggest-below", "1"]
    assert main(argv + ["--relatives", "full-sibling,mother,grandfather", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["cases"][0]["suggestions"]
    assert {s["relation"] for s in got} == {"mother", "full-sibling", "paternal-grandfather"}
    assert [s["power"] for s in got] == sorted((s["power"] for s in got), reverse=True)
    assert main(argv + ["--relatives", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cases"][0]["suggestions"] == []
    assert main(argv + ["--relatives", "mother,full-sibling"]) == 0
    text = capsys.readouterr().out
    assert "relatives to sample next for" in text and "full-sibling" in text
