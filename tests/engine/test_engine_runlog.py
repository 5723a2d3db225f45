"""Operations (issue 16, item 3): ``-v``/``-vv`` and ``--log-file`` show the log
without genotypes, and every search keeps a private run log beside its results."""
from __future__ import annotations

import csv
import io
import os
import re
import stat

import pytest

from engine.cli import main
from engine.runlog import RUN_LOG


def _genotype_strings(capsys, dataset) -> set:
    """Every way a genotype of ``dataset`` could be written into a log line."""
    assert main(["export", str(dataset)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) > 100
    out = set()
    for r in rows:
        a, b = r["allele1"], r["allele2"]
        if not a or not b:
            continue
        for x, y in ((a, b), (b, a)):
            out |= {f"{x}/{y}", f"{x},{y}", f"('{x}', '{y}')", f'["{x}", "{y}"]',
                    f"{r['locus']}={x}", f"{r['locus']}: {x}"}
    return out


@pytest.fixture()
def demo_vv(demo_run):
    """The session's demo run (tests/engine/conftest.py: ``kinship -vv demo ...
    --log-file``): its directory, log file and stderr."""
    return demo_run.root, demo_run.log, demo_run.stderr


def test_vv_log_has_no_genotypes(demo_vv, capsys):
    d, log, err = demo_vv
    texts = {"--log-file": log.read_text(), "stderr": err,
             "run.log": (d / "demo" / "results" / RUN_LOG).read_text()}
    # the log is there at -vv: phases, every task (DEBUG), with times in the file
    assert "phase search" in texts["--log-file"] and " DEBUG engine: task " in texts["--log-file"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO ", texts["--log-file"].splitlines()[1])
    assert "kinship: INFO: phase search" in err and "kinship: DEBUG: task " in err
    alleles = _genotype_strings(capsys, d / "demo" / "profiles")
    for name, text in texts.items():
        found = sorted(a for a in alleles if a in text)
        assert not found, f"{name} quotes genotypes: {found[:5]}"


def test_run_log_records_who_when_what_and_outcome(demo_vv):
    d, _, _ = demo_vv
    path = d / "demo" / "results" / RUN_LOG
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    lines = text.splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  ", ln) for ln in lines)
    for want in ("== run ", "started (fresh)", "user: ", "command: kinship -vv demo --out",
                 "software: strkin ", "job: ", "sha256", "input queries: ", "input y_population: ",
                 "frequencies: nist1036_all (bundled)", "parameters: {", "phase prepare: ",
                 "phase search: ", "phase merge: ", "phase write: ", "outcome: completed: "):
        assert want in text, want
    import json

    params = json.loads(text.split("parameters: ", 1)[1].splitlines()[0])
    assert params["search"]["modes"][0] == "case"


def test_run_log_is_appended_and_records_failures(demo_run, tmp_path, monkeypatch):
    """A failed run's outcome is recorded; the next run (--resume) appends its block."""
    import engine.api as api
    from engine.errors import TaskError

    # the demo's job on its data (a copy of the session's demo, without its results)
    job = demo_run.copy(tmp_path / "demo", results=False) / "job.toml"
    out = tmp_path / "demo" / "results"

    # a task that fails (fault injection: the executor raises as it does when a task fails)
    def boom(*a, **k):
        raise TaskError("task case block [C0000 .. C0002] (3 units) x 10 queries failed: test")

    monkeypatch.setattr(api.InProcessExecutor, "run", boom)
    with pytest.raises(TaskError):
        api.run(job, progress=False)
    text = (out / RUN_LOG).read_text()
    assert "outcome: failed: TaskError: task case block" in text
    assert "phase prepare: " in text and "phase search" not in text
    monkeypatch.undo()
    api.run(job, resume=True, progress=False)
    text = (out / RUN_LOG).read_text()
    assert text.count("== run ") == 2 and "started (resume)" in text
    assert text.rstrip().splitlines()[-1].split("  ", 1)[1].startswith("outcome: completed: ")


def test_log_file_that_cannot_be_written_is_one_line(tmp_path, capsys):
    assert main(["--log-file", "/nonexistent/dir/x.log", "demo", "--out", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "cannot write the log file" in err and len(err.strip().splitlines()) == 1
