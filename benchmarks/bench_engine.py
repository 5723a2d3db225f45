"""Benchmarks of the search engine (pytest-benchmark).

Run (the project's pytest options disable benchmarks by default)::

    pytest benchmarks/bench_engine.py --benchmark-enable -p no:cacheprovider
    STRKIN_BENCH_Q=2048 pytest benchmarks/bench_engine.py --benchmark-enable   # smaller

Per mode (case with trios, parent-child, full-sibling, identity), on one block
of 256 compiled reference units x ``STRKIN_BENCH_Q`` queries (default 8192),
23 loci (CODIS 20 + Penta D, Penta E, SE33), NIST 1036 frequencies, stepwise
mutation, threshold 1e4:

* ``kernel``: the engine's screening kernel, one thread (the engine runs one
  task per thread);
* ``numpy``: a plain NumPy implementation of the same scan (gather every pair's
  table values, add them locus by locus), measured in the same run.

``extra_info`` holds ``pairs_per_s`` and ``locus_evals_per_s`` (pairs x loci per
second: the work of a full scan) so that they appear in ``--benchmark-json``.
``test_run_end_to_end`` times ``engine.run`` on a simulated dataset (compile,
screening, merge and writing included) for each mode.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import kinship  # noqa: E402
from engine.compile import compile_block  # noqa: E402
from engine.inputs import RefBlock  # noqa: E402
from engine.kernels import score_tile, scores_numpy  # noqa: E402
from kinship.kernels.score import query_columns  # noqa: E402
from kinship.search import ScoringModel  # noqa: E402

Q = int(os.environ.get("STRKIN_BENCH_Q", "8192"))
R = 256
LOCI = tuple(sorted(kinship.markers.CODIS_CORE_20 + ("Penta D", "Penta E", "SE33"), key=str.lower))
MODES = ("case", "parent-child", "full-sibling", "identity")


@pytest.fixture(scope="module")
def setup():
    ft = kinship.FrequencyTable.load("nist1036_all")
    mut = kinship.MutationModel(kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1))
    m = ScoringModel(ft, LOCI, mutation=mut)
    rng = np.random.default_rng(1)

    def draw(n):
        c = np.empty((n, len(LOCI), 2), np.int16)
        for j, s in enumerate(m.systems):
            c[:, j, :] = rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum())
        return c

    fathers, mothers = draw(R), draw(R)
    qg = m.genotype_indices(draw(Q))
    tables = {}
    for mode in MODES:
        if mode == "case":
            cases = [{"id": f"c{i}", "needs_sex": False,
                      "relatives": [(f"f{i}", "father", "male", fathers[i]),
                                    (f"m{i}", "mother", "female", mothers[i])]} for i in range(R)]
            blk = RefBlock("cases", [c["id"] for c in cases], "b", cases=cases)
        else:
            blk = RefBlock("persons", [f"r{i}" for i in range(R)], "b", case_ids=[""] * R,
                           sexes=["M"] * R, codes=fathers)
        tables[mode] = compile_block(m, False, mode, blk).groups[0]
    # compile the kernel outside the timings
    g = tables["identity"]
    score_tile(g, query_columns(qg[:8], g.offsets), np.arange(8), np.arange(8), np.arange(R), False,
               4.0, 0, np.zeros(1, np.int64))
    return qg, tables


def _info(benchmark, pairs):
    s = benchmark.stats.stats.mean
    benchmark.extra_info["pairs"] = pairs
    benchmark.extra_info["pairs_per_s"] = pairs / s
    benchmark.extra_info["locus_evals_per_s"] = pairs * len(LOCI) / s


@pytest.mark.parametrize("mode", MODES)
def test_kernel(benchmark, setup, mode):
    qg, tables = setup
    g = tables[mode]
    skip = 1 if mode == "identity" else 0
    rows = np.arange(Q)
    qcol = query_columns(qg, g.offsets)   # the engine computes these once per run
    stats = np.zeros(1, np.int64)

    def run(stats=stats):
        for a in range(0, Q, 2048):
            b = a + 2048
            score_tile(g, qcol[a:b], rows[a:b], rows[a:b], np.arange(R), False, 4.0, skip, stats)

    one = np.zeros(1, np.int64)
    run(one)
    benchmark(run)
    _info(benchmark, Q * R)
    benchmark.extra_info["lookups_per_pair"] = float(one[0]) / (Q * R)


@pytest.mark.parametrize("mode", MODES)
def test_numpy(benchmark, setup, mode):
    qg, tables = setup
    g = tables[mode]
    skip = 1 if mode == "identity" else 0
    log_tab, incons = g.log_tab, g.incons     # materialised once (a block's rows are gathered)

    def run():
        for a in range(0, Q, 2048):
            s = scores_numpy(log_tab, incons, g.typed, g.offsets, qg[a:a + 2048], skip)
            np.nonzero(s >= 4.0)

    benchmark(run)
    _info(benchmark, Q * R)


@pytest.mark.parametrize("dropout", ["off", 0.05, "estimate"])
@pytest.mark.parametrize("mode", MODES + ("duplicates",))
def test_run_end_to_end(benchmark, mode, dropout):
    """A whole run; ``dropout``: off, 0.05 for every sample, or each sample's
    estimate (several query groups): the same data, so the ratios to "off" are the
    cost of the dropout model (docs/dropout.md)."""
    import engine

    from scale_engine import simulate

    import formats

    work = Path(tempfile.mkdtemp(prefix="strkin-bench-"))
    try:
        formats.write_profiles(work / "profiles", simulate(4000, 1000))
        n = [0]

        def run():
            out = work / f"out{n[0]}"
            n[0] += 1
            return engine.run({
                "inputs": {"queries": str(work / "profiles"), "references": str(work / "profiles")},
                "model": {"mutation": {"model": "stepwise", "rate": 0.002, "rate2": 1e-6, "range": 0.1},
                          **({} if dropout == "off" else {"dropout": dropout})},
                "search": {"modes": [mode], "max_inconsistent": 1},
                "output": {"path": str(out)}, "execution": {"progress": False}})

        res = benchmark.pedantic(run, rounds=2, iterations=1)
        _info(benchmark, res.manifest["run"]["pairs_total"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
