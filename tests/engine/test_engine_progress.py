"""The progress bar reaches its total in every mode, compile- and chance-heavy
tasks included (issue 16, item 3: the demo's bar stopped at 64-68 % because the
y-lineage tasks never reported and compilation and chance values were not
counted; its ETA swung from seconds to minutes)."""
from __future__ import annotations

import re

import engine.api as api
from engine.job import MODES
from engine.taskbase import COMPILE_WORK, CHANCE_WORK, work_of


class Recorder(api.Progress):
    bars: list = []

    def __init__(self, total, enabled="auto", desc="search"):
        super().__init__(total, enabled, desc)
        self.total = total
        self.calls = 0
        Recorder.bars.append(self)

    def __call__(self, n):
        assert n > 0
        self.calls += 1
        super().__call__(n)


def test_demo_bar_reaches_its_total_in_every_mode(demo_run, tmp_path, monkeypatch, capsys):
    # the demo's job on its data (a copy of the session's demo, without its results)
    job = demo_run.copy(tmp_path / "demo", results=False) / "job.toml"
    Recorder.bars = []
    monkeypatch.setattr(api, "Progress", Recorder)
    res = api.run(job, progress=True)
    modes = set(res.manifest["run"]["modes"])
    assert modes == {"case", "parent-child", "full-sibling", "identity", "duplicates", "y-lineage"}
    (bar,) = Recorder.bars
    assert bar.done == bar.total
    # the total is the pairs plus the compilation and chance work, not the pairs alone
    pairs = res.manifest["run"]["pairs_total"]
    assert bar.total > pairs + COMPILE_WORK["case"]
    # every task reported at least once (several reports per task: compile, tiles, units)
    assert bar.calls >= res.manifest["run"]["tasks"]
    err = capsys.readouterr().err
    last = [ln for ln in re.split(r"[\r\n]", err) if ln.startswith("search:")][-1]
    assert "100%" in last, last


def test_work_of_counts_compile_and_chance_once():
    # a pair is one unit; y-lineage screening one per ten pairs (rounded up)
    assert work_of("parent-child", "score", 10, 7, False) == 70
    assert work_of("y-lineage", "score", 10, 7, True) == 7
    assert work_of("case", "score", 3, 5, True) == 15 + 3 * COMPILE_WORK["case"]
    assert work_of("case", "chance", 3, 0, False) == 3 * CHANCE_WORK["case"]
    for m in MODES:
        assert work_of(m, "score", 1, 1, False) >= 1


def test_resumed_tasks_count_their_work(demo_run, tmp_path, monkeypatch):
    """A rerun after an interruption starts the bar at the resumed tasks' work and
    still ends at its total."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = demo_run.copy(tmp_path / "demo", results=False)    # the demo's job, no results yet
    job = out / "job.toml"
    env = dict(os.environ, STRKIN_ENGINE_KILL_AT="task-3")
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, "-m", "engine.cli", "search", str(job), "--progress",
                        "off"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    Recorder.bars = []
    monkeypatch.setattr(api, "Progress", Recorder)
    res = api.run(job, resume=True, progress=False)
    (bar,) = Recorder.bars
    assert res.manifest["run"]["tasks_resumed"] == 3
    assert bar.done == bar.total
