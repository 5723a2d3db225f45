"""``kinship search JOB.toml [--resume]`` and ``kinship demo``."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import formats
from engine.cli import main

from enginelib import simulate

JOB = """
[inputs]
queries = "profiles/"
references = "profiles/"
frequencies = "nist1036_all"
[model]
theta = 0.0
mutation = {{model = "stepwise", rate = 0.002, rate2 = 1e-6, range = 0.1}}
[search]
modes = {modes}
threshold = 1e4
top_k = 10
[output]
path = "results/"
[execution]
threads = 2
"""


@pytest.fixture()
def workdir(tmp_path):
    profs, _ = simulate(n_cases=6, n_unrelated=6, n_unrelated_references=2, seed=61)
    formats.write_profiles(tmp_path / "profiles", profs)
    (tmp_path / "job.toml").write_text(JOB.format(modes='["case", "parent-child", "full-sibling", "identity"]'))
    return tmp_path


def test_search_writes_results_and_manifest(workdir, capsys):
    assert main(["search", str(workdir / "job.toml")]) == 0
    out = capsys.readouterr().out
    assert "hits written to" in out and "pairs scored" in out
    res = workdir / "results"
    t = pq.read_table(res / "hits.parquet")
    for c in ("query_id", "mode", "case_id", "reference_id", "log10_lr", "rank", "loci_compared",
              "loci_inconsistent", "posterior", "per_locus_lr"):
        assert c in t.column_names
    m = json.loads((res / "manifest.json").read_text())
    assert m["software"]["strkin"] and m["job"]["search"]["modes"][0] == "case"
    assert m["inputs"]["frequencies"]["table_sha256"] and m["inputs"]["queries"]["shards"][0]["sha256"]
    assert {"prepare_s", "search_s", "merge_s", "total_s"} <= set(m["run"]["timings_s"])
    prov = json.loads(t.schema.metadata[b"strkin.search"])
    assert prov["job_key"] == m["job_key"] and prov["model"]["loci"] == m["model"]["loci"]
    assert "mode case:" in (res / "summary.txt").read_text()
    # a second run with nothing new scores nothing and says so
    assert main(["search", str(workdir / "job.toml"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_search_error_exit_code(workdir, capsys):
    (workdir / "job.toml").write_text(JOB.format(modes='["case", "siblings"]'))
    assert main(["search", str(workdir / "job.toml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kinship: error:") and "unknown mode 'siblings'" in err


def test_resume_flag(workdir, capsys):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, STRKIN_ENGINE_KILL_AT="task-1")
    p = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r}); "
                        f"from engine.cli import main; main(['search', {str(workdir / 'job.toml')!r}])"],
                       env=env, capture_output=True)
    assert p.returncode == -signal.SIGKILL
    assert main(["search", str(workdir / "job.toml")]) == 1
    assert "--resume" in capsys.readouterr().err
    assert main(["search", str(workdir / "job.toml"), "--resume"]) == 0
    assert "1 resumed" in capsys.readouterr().out


def test_demo(demo_run, tmp_path, capsys):
    out = demo_run.stdout                   # kinship demo --cases 8 (the session's run)
    assert "mode case:" in out and "mode duplicates:" in out and "mode identity:" in out
    # 8 simulated families, 4 mother's-side families, the two missing children of the
    # family drawn as a pedigree and the degraded child's remains (the dropout model)
    assert demo_run.CASES == 8 and "case: 15 of 15 planted relationships ranked first" in out
    assert "identity: 2 of 2" in out and "duplicates: 3 of 3" in out
    assert "mode y-lineage:" in out and "planted paternal relatives ranked first" in out
    # run again into the same demo directory (a copy of it): regenerated, the same hits
    # (the new shards have new names and checksums, so only the provenance differs)
    first = pq.read_table(demo_run.results / "hits.parquet")
    demo = demo_run.copy(tmp_path / "demo")
    assert main(["demo", "--out", str(demo), "--cases", "8"]) == 0
    again = pq.read_table(demo / "results" / "hits.parquet")
    assert again.replace_schema_metadata(None).equals(first.replace_schema_metadata(None))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    assert main(["demo", "--out", str(tmp_path / "other")]) == 1


def test_the_issue_example_job_as_written(workdir, capsys):
    """The job file of the issue, verbatim except the scheduler line (no cluster
    here): 'nist1036_all.csv' without such a file is the bundled table."""
    from test_engine_job import MINIMAL

    text = MINIMAL.replace('scheduler = "tcp://127.0.0.1:8786"', "threads = 2")
    (workdir / "job.toml").write_text(text)
    assert main(["search", str(workdir / "job.toml"), "--quiet"]) == 0
    m = json.loads((workdir / "results" / "manifest.json").read_text())
    assert m["inputs"]["frequencies"]["bundled"] and "nist1036_all" in m["inputs"]["frequencies"]["note"]
    t = pq.read_table(workdir / "results" / "hits.parquet")
    assert set(t.column("mode").to_pylist()) <= {"case", "parent-child", "full-sibling", "identity"}
    assert t.num_rows > 0
