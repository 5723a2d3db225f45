"""The same task function on Dask distributed gives output identical to the
in-process run (a local cluster; workers are separate processes)."""
from __future__ import annotations

import pytest

import engine
import formats

from enginelib import make_job, read, simulate

distributed = pytest.importorskip("distributed")

MODES = ["case", "parent-child", "identity", "duplicates"]


def test_dask_equals_in_process(tmp_path):
    profs, _ = simulate(n_cases=10, n_unrelated=10, n_unrelated_references=3, seed=31)
    formats.write_profiles(tmp_path / "ds", profs)
    kw = dict(execution__block_size=5, execution__query_chunk=7, search__top_k=3,
              search__max_inconsistent=1)
    local = engine.run(make_job(tmp_path / "ds", tmp_path / "local", MODES, **kw))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        job = make_job(tmp_path / "ds", tmp_path / "dask", MODES, execution__scheduler=cluster.scheduler_address, **kw)
        res = engine.run(job)
    assert res.manifest["run"]["executor"]["executor"] == "dask"
    assert res.manifest["run"]["tasks"] == local.manifest["run"]["tasks"] > 4
    assert read(tmp_path / "dask").equals(read(tmp_path / "local"))
    assert (tmp_path / "dask" / "hits.parquet").read_bytes() == (tmp_path / "local" / "hits.parquet").read_bytes()
    assert (tmp_path / "dask" / "summary.txt").read_text() == (tmp_path / "local" / "summary.txt").read_text()


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    profs, _ = simulate(n_cases=2, n_unrelated=2, n_unrelated_references=0, seed=3)
    formats.write_profiles(tmp_path / "ds", profs)
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"],
                   execution__scheduler="tcp://127.0.0.1:9")
    with pytest.raises(engine.TaskError, match="cannot connect to the Dask scheduler"):
        engine.run(job)
