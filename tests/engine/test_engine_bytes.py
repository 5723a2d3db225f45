"""The same output bytes whichever way a run goes: in-process with one or two
task threads, and on Dask with two worker processes (each with its own
string-hash seed and one BLAS thread), on a run with many tasks per worker,
theta > 0 and stepwise mutation (the exact pedigree likelihoods whose
contraction orders once differed from process to process)."""
from __future__ import annotations

import pytest

import engine
import formats

from enginelib import make_job, simulate

distributed = pytest.importorskip("distributed")

MODES = ["case", "parent-child", "full-sibling", "identity"]
FILES = ("hits.parquet", "summary.txt")


def test_same_bytes_threads_and_dask(tmp_path):
    profs, _ = simulate(n_cases=24, n_unrelated=24, n_unrelated_references=6, seed=77)
    formats.write_profiles(tmp_path / "ds", profs)
    kw = dict(execution__block_size=4, execution__query_chunk=8, search__top_k=3, search__threshold=10.0,
              search__max_inconsistent=1, model__theta=0.01,
              model__mutation={"model": "stepwise", "rate": 0.002, "rate2": 1e-6, "range": 0.1})
    one = engine.run(make_job(tmp_path / "ds", tmp_path / "t1", MODES, execution__threads=1, **kw))
    engine.run(make_job(tmp_path / "ds", tmp_path / "t2", MODES, execution__threads=2, **kw))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        res = engine.run(make_job(tmp_path / "ds", tmp_path / "dask", MODES,
                                  execution__scheduler=cluster.scheduler_address, **kw))
    assert res.manifest["run"]["executor"]["executor"] == "dask"
    assert one.manifest["run"]["tasks"] >= 20
    assert one.hits.num_rows > 20
    for name in FILES:
        first = (tmp_path / "t1" / name).read_bytes()
        assert (tmp_path / "t2" / name).read_bytes() == first, name
        assert (tmp_path / "dask" / name).read_bytes() == first, name
