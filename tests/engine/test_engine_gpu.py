"""``execution.device = "gpu"``: the same output as the CPU path (run under numba's
CUDA simulator in a subprocess, so CI needs no GPU), and a clear error where no
device is usable."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import engine
import formats

from enginelib import make_job, read, simulate

MODES = ["case", "parent-child", "full-sibling", "identity", "duplicates"]
HERE = Path(__file__).resolve().parent


def test_gpu_run_equals_cpu_run_under_the_cuda_simulator(tmp_path):
    pytest.importorskip("numba.cuda")
    profs, _ = simulate(n_cases=6, n_unrelated=6, n_unrelated_references=2, seed=41)
    formats.write_profiles(tmp_path / "ds", profs)
    kw = dict(execution__block_size=40, search__top_k=3, search__max_inconsistent=1,
              search__threshold=10.0, report__chance_method="none")
    engine.run(make_job(tmp_path / "ds", tmp_path / "cpu", MODES, **kw))
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import engine
        from enginelib import make_job
        job = make_job({str(tmp_path / "ds")!r}, {str(tmp_path / "gpu")!r}, {MODES!r},
                       execution__device="gpu", **{kw!r})
        res = engine.run(job)
        print("OK", res.manifest["run"]["pairs_total"])
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    cpu, gpu = read(tmp_path / "cpu"), read(tmp_path / "gpu")
    assert cpu.num_rows > 0
    assert gpu.equals(cpu)
    assert (tmp_path / "gpu" / "hits.parquet").read_bytes() == (tmp_path / "cpu" / "hits.parquet").read_bytes()


def test_gpu_without_a_device_is_a_clear_error(tmp_path, monkeypatch):
    from kinship.kernels import gpu

    monkeypatch.setattr(gpu, "available", lambda: False)
    profs, _ = simulate(n_cases=2, n_unrelated=2, n_unrelated_references=0, seed=3)
    formats.write_profiles(tmp_path / "ds", profs)
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"], execution__device="gpu")
    with pytest.raises(engine.JobError, match="no CUDA device is usable"):
        engine.run(job)
    assert not (tmp_path / "out" / "hits.parquet").exists()


def test_unknown_device_is_a_clear_error(tmp_path):
    profs, _ = simulate(n_cases=2, n_unrelated=2, n_unrelated_references=0, seed=3)
    formats.write_profiles(tmp_path / "ds", profs)
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"], execution__device="tpu")
    with pytest.raises(engine.JobError, match='execution.device must be "cpu" or "gpu"'):
        engine.run(job)
