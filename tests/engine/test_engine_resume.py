"""A run killed at any moment (SIGKILL) and restarted with ``resume`` finishes with
output identical to an uninterrupted run; readers never see half-written files."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import engine
import formats

from enginelib import make_job, simulate

ROOT = Path(__file__).resolve().parents[2]
MODES = ["case", "parent-child", "full-sibling", "duplicates"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    profs, _ = simulate(n_cases=12, n_unrelated=14, n_unrelated_references=4, seed=21)
    formats.write_profiles(d / "ds", profs)
    base = make_job(d / "ds", d / "baseline", MODES, execution__block_size=4,
                    execution__query_chunk=8, execution__threads=1, search__top_k=3)
    engine.run(base)
    return d


def _job(data, name, **kw):
    return make_job(data / "ds", data / name, MODES, execution__block_size=4,
                    execution__query_chunk=8, execution__threads=1, search__top_k=3, **kw)


def _tasks_kept(out: Path) -> dict:
    from engine.output import Checkpoints

    return Checkpoints(out / "_state" / "tasks").done()


def _spawn(job: dict, tmp: Path, env_extra=None) -> subprocess.Popen:
    jf = tmp / f"job-{time.monotonic_ns()}.json"
    jf.write_text(json.dumps(job))
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); import engine; "
            f"engine.run(json.load(open({str(jf)!r})))")
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _same_as_baseline(data, name):
    out = data / name
    base = data / "baseline"
    assert (out / "hits.parquet").read_bytes() == (base / "hits.parquet").read_bytes()
    assert (out / "summary.txt").read_text() == (base / "summary.txt").read_text()
    m = json.loads((out / "manifest.json").read_text())
    assert m["outputs"]["hits"]["sha256"] == json.loads((base / "manifest.json").read_text())["outputs"]["hits"]["sha256"]
    assert not list(out.glob(".*tmp*")) and not list((out / "_state").glob(".*tmp*"))
    assert not (out / "_state" / "tasks").exists()


@pytest.mark.parametrize("point", ["task-1", "task-5", "hits", "manifest"])
def test_kill_and_resume_gives_identical_output(data, point):
    name = f"killed-{point}"
    job = _job(data, name)
    p = _spawn(job, data, {"STRKIN_ENGINE_KILL_AT": point})
    _, err = p.communicate(timeout=240)
    assert p.returncode == -signal.SIGKILL, err.decode()[-2000:]
    out = data / name
    if point.startswith("task"):
        # the tasks kept were written as one batch before the kill (a run this short
        # reaches no checkpoint_every)
        n = int(point.split("-")[1])
        assert len(list((out / "_state" / "tasks").glob("*.parquet"))) == 1
        assert len(_tasks_kept(out)) == n
        # no outputs yet; a plain rerun refuses and says how to continue
        assert not (out / "hits.parquet").exists()
        with pytest.raises(engine.OutputError, match="--resume"):
            engine.run(job)
    res = engine.run(job, resume=True)
    if point.startswith("task"):
        assert res.manifest["run"]["tasks_resumed"] == int(point.split("-")[1])
    _same_as_baseline(data, name)


def test_kill_at_a_random_moment(data):
    name = "killed-random"
    job = _job(data, name, execution__checkpoint_every=0)     # a checkpoint file per task
    p = _spawn(job, data)
    tasks = data / name / "_state" / "tasks"
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None:
        if tasks.exists() and len(list(tasks.glob("*.parquet"))) >= 3:
            break
        time.sleep(0.02)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    engine.run(job, resume=True)
    _same_as_baseline(data, name)


def test_readers_see_whole_files_only(data):
    """Every file in the results directory reads back completely while a run goes on."""
    name = "reader"
    job = _job(data, name)
    p = _spawn(job, data)
    out = data / name
    seen = 0
    while p.poll() is None:
        for f in list(out.glob("*.parquet")) + list((out / "_state" / "tasks").glob("*.parquet")):
            try:
                pq.read_table(f)
                seen += 1
            except FileNotFoundError:
                pass  # moved away between listing and reading: fine
        time.sleep(0.01)
    assert p.returncode == 0
    _same_as_baseline(data, name)


def test_damaged_checkpoint_is_done_again(data):
    """Checkpoints are forced to disk in batches; after a power failure the last
    ones may be empty or cut short. ``--resume`` finds them damaged
    (engine.output.checkpoint_ok), removes them and does those tasks again."""
    name = "damaged"
    job = _job(data, name, execution__checkpoint_every=0)     # a checkpoint file per task
    p = _spawn(job, data, {"STRKIN_ENGINE_KILL_AT": "task-5"})
    p.communicate(timeout=240)
    assert p.returncode == -signal.SIGKILL
    files = sorted((data / name / "_state" / "tasks").glob("*.parquet"))
    assert len(files) >= 5
    files[0].write_bytes(b"")                                  # never reached the disk
    files[1].write_bytes(files[1].read_bytes()[: 100])         # cut short
    res = engine.run(job, resume=True)
    assert res.manifest["run"]["tasks_resumed"] == len(files) - 2
    _same_as_baseline(data, name)


def test_checkpoint_ok(tmp_path):
    import pyarrow as pa

    from engine.output import Checkpoints, atomic_write_parquet, checkpoint_ok

    ck = Checkpoints(tmp_path, every=0)
    ck.add("k1", pa.table({"x": [1, 2]}), {})
    good = next(tmp_path.glob("*.parquet"))
    assert checkpoint_ok(good)
    other = tmp_path / "other.parquet"
    atomic_write_parquet(other, pa.table({"x": [1]}))          # not a task checkpoint
    assert not checkpoint_ok(other) and not other.exists()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-10])
    assert not checkpoint_ok(cut) and not cut.exists()
    assert not checkpoint_ok(tmp_path / "missing.parquet")


def test_checkpoints_are_written_in_batches_and_read_back(tmp_path):
    import pyarrow as pa

    from engine.output import Checkpoints

    d = tmp_path / "tasks"
    d.mkdir()
    ck = Checkpoints(d, every=3600)
    tables = {f"key{i}": pa.table({"a": pa.array([i, i + 1], pa.int64()), "s": ["x", f"y{i}"]})
              for i in range(5)}
    tables["empty"] = pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    for i, (k, t) in enumerate(tables.items()):
        ck.add(k, t, {"n": i})
    assert not list(d.glob("*.parquet"))            # none before the interval or write()
    ck.write()
    ck.write()                                      # nothing kept: no second file
    assert len(list(d.glob("*.parquet"))) == 1
    ck.add("late", tables["key1"], {})
    Checkpoints(d, every=0).add("alone", tables["key2"], {"n": 9})   # its own file
    again = Checkpoints(d)
    assert sorted(again.done()) == sorted(list(tables) + ["alone"])   # "late" never written
    for i, (k, t) in enumerate(tables.items()):
        got, meta = again.load(k)
        assert got.equals(t) and got.schema == t.schema and meta == {"n": i}
    assert again.load("alone")[1] == {"n": 9}
    # a file cut short (a power failure before its fsync) is removed: its tasks are done again
    batch = max(d.glob("*.parquet"), key=lambda p: p.stat().st_size)
    batch.write_bytes(batch.read_bytes()[:200])
    assert sorted(Checkpoints(d).done()) == ["alone"] and not batch.exists()
