"""Benchmarks of the formats package (pytest-benchmark).

Run (the project's pytest options disable benchmarks by default)::

    pytest benchmarks/bench_formats.py --benchmark-enable -p no:cacheprovider
    STRKIN_BENCH_N=100000 pytest benchmarks/bench_formats.py --benchmark-enable  # smaller

The dataset is simulated: N profiles x 23 loci (CODIS 20 + Penta D, Penta E,
SE33) with alleles drawn from the NIST 1036 frequencies, 2% untyped loci, 20%
references, written once per session with :func:`formats.write_profiles`.
``extra_info`` of each benchmark holds profiles/s and MB/s (bytes of Parquet on
disk read per second) so that they appear in ``--benchmark-json`` output.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import kinship
from formats import ProfileArrays, import_file, open_dataset, write_profiles

N = int(os.environ.get("STRKIN_BENCH_N", "1000000"))
LOCI = tuple(sorted(kinship.markers.CODIS_CORE_20 + ("Penta D", "Penta E", "SE33"), key=str.lower))


def simulate(n: int, seed: int = 1) -> ProfileArrays:
    ft = kinship.FrequencyTable.load("nist1036_all")
    rng = np.random.default_rng(seed)
    alleles, g = {}, np.empty((n, len(LOCI), 2), np.int16)
    for j, l in enumerate(LOCI):
        la = ft.locus_alleles(l)
        alleles[l] = la.alleles
        g[:, j, :] = rng.choice(len(la.alleles), size=(n, 2), p=la.freqs / la.freqs.sum())
    g[rng.random((n, len(LOCI))) < 0.02] = -1
    ids = np.array([f"S{i:09d}" for i in range(n)], dtype=object)
    ref = rng.random(n) < 0.2
    kind = np.where(ref, "reference", "query").astype(object)
    case = np.where(ref, np.char.add("CASE-", (np.arange(n) // 3).astype(str)), "").astype(object)
    rel = np.where(ref, "father", "").astype(object)
    e = np.full(n, "", dtype=object)
    return ProfileArrays(ids, kind, case, rel, e, np.full(n, "GlobalFiler", dtype=object),
                         LOCI, alleles, g)


@pytest.fixture(scope="module")
def dataset():
    with tempfile.TemporaryDirectory() as t:
        d = Path(t) / "profiles"
        arr = simulate(N)
        t0 = time.perf_counter()
        write_profiles(d, arr)
        print(f"\nwrote {N} profiles in {time.perf_counter() - t0:.2f} s")
        yield d
    # the temporary directory is removed here


def _info(benchmark, ds, n_profiles, n_loci=len(LOCI)):
    """profiles/s; MB/s of Parquet read (on disk, compressed) and of int16 genotype
    array produced (n_profiles x n_loci x 2 x 2 bytes)."""
    size = sum(p.stat().st_size for p in ds.shards)
    out = n_profiles * n_loci * 2 * 2
    t = benchmark.stats.stats.min if benchmark.stats else None
    benchmark.extra_info["n_profiles"] = n_profiles
    benchmark.extra_info["parquet_MB"] = round(size / 1e6, 2)
    if t:
        benchmark.extra_info["profiles_per_s"] = round(n_profiles / t)
        benchmark.extra_info["MB_per_s"] = round(size / 1e6 / t, 1)
        benchmark.extra_info["array_MB_per_s"] = round(out / 1e6 / t, 1)


def test_load_all(benchmark, dataset):
    ds = open_dataset(dataset)
    a = benchmark.pedantic(ds.load, rounds=5, iterations=1, warmup_rounds=1)
    assert a.genotypes.shape == (N, len(LOCI), 2)
    _info(benchmark, ds, N)


def test_load_references_only(benchmark, dataset):
    ds = open_dataset(dataset)
    a = benchmark.pedantic(lambda: ds.load(kind="reference"), rounds=5, iterations=1)
    _info(benchmark, ds, N)
    benchmark.extra_info["n_selected"] = len(a)
    if benchmark.stats:  # the array holds only the selected profiles
        benchmark.extra_info["array_MB_per_s"] = round(
            a.genotypes.nbytes / 1e6 / benchmark.stats.stats.min, 1)


def test_load_five_loci(benchmark, dataset):
    ds = open_dataset(dataset)
    benchmark.pedantic(lambda: ds.load(loci=LOCI[:5]), rounds=5, iterations=1)
    _info(benchmark, ds, N, n_loci=5)


def test_to_table_indices(benchmark, dataset):
    ft = kinship.FrequencyTable.load("nist1036_all")
    a = open_dataset(dataset).load()
    codes, _ = benchmark.pedantic(lambda: a.to_table_indices(ft), rounds=5, iterations=1)
    assert codes.shape == a.genotypes.shape
    benchmark.extra_info["profiles_per_s"] = round(N / benchmark.stats.stats.min) if benchmark.stats else None


def test_write_arrays(benchmark):
    n = min(N, 200_000)
    arr = simulate(n, seed=2)

    def run():
        with tempfile.TemporaryDirectory() as t:
            write_profiles(Path(t) / "ds", arr)

    benchmark.pedantic(run, rounds=3, iterations=1)
    if benchmark.stats:
        benchmark.extra_info["profiles_per_s"] = round(n / benchmark.stats.stats.min)


def test_import_genemapper(benchmark, tmp_path):
    n_samples = 5_000
    arr = simulate(n_samples, seed=3)
    lines = ["Sample Name\tMarker\tAllele 1\tAllele 2\tHeight 1\tHeight 2"]
    for p in arr.to_profiles():
        for l, (a, b) in p.genotypes.items():
            lines.append(f"{p.sample_id}\t{l}\t{a}\t{'' if a == b else b}\t1000\t900")
    f = tmp_path / "run.txt"
    f.write_text("\n".join(lines) + "\n")
    res = benchmark.pedantic(lambda: import_file(f, format="genemapper"), rounds=3, iterations=1)
    assert res.n_rejected == 0
    if benchmark.stats:
        benchmark.extra_info["rows_per_s"] = round(res.n_read / benchmark.stats.stats.min)
        benchmark.extra_info["rows"] = res.n_read
