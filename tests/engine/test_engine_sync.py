"""The write phase forces its result files to disk in one pass (engine.output.SyncBatch)
before the manifest, the run's commit point, is written: every file the manifest
names is on disk first (recorded through os.fsync), and each is forced once."""
from __future__ import annotations

import os

import engine
import formats

from enginelib import make_job, simulate


def test_results_forced_to_disk_before_the_manifest(tmp_path, monkeypatch):
    profs, _ = simulate(n_cases=3, n_unrelated=5, n_unrelated_references=2, seed=4)
    formats.write_profiles(tmp_path / "ds", profs)
    job = make_job(tmp_path / "ds", tmp_path / "out", ["case", "parent-child"])
    synced = []
    real = os.fsync

    def spy(fd):
        try:
            synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:
            synced.append("?")
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    engine.run(job)
    man = [i for i, n in enumerate(synced) if n.startswith(".manifest.json.tmp")]
    assert len(man) == 1
    for name in ("hits.parquet", "summary.txt", "units.parquet", "counts.parquet",
                 "consistency.parquet"):
        at = [i for i, n in enumerate(synced) if n == name]
        assert len(at) == 1 and at[0] < man[0], (name, synced)
    assert (tmp_path / "out" / "manifest.json").exists()
