"""GPU screening throughput: pairs/s and locus-evaluations/s of the packed screen
on a CUDA device (:mod:`kinship.kernels.gpu`), with the counted work beside it.

    python benchmarks/gpu_scale.py --queries 1000000 --cases 4096      # on a GPU
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_scale.py --tiny       # check it runs

Per mode (duo = parent-child pair tables, couple case tables, full-sibling pair
tables; 23 loci, NIST 1036 frequencies, stepwise mutation, threshold LR 1e4):
random unrelated queries against compiled tables, screened on the device; the
exact scores of the candidates (on the host) are timed apart.  Reported beside
the rates, the work the kernel does per pair, counted from the code: per
(query, 32-case tile) thread, L row reads of 64 bytes and 8 L 64-bit integer
additions, i.e. 2 L bytes and L/4 additions per pair; with the query's columns
(2 L bytes per query, shared by the tiles of a block).  The roofline is then
bytes/pair x pairs/s against the device's memory and cache bandwidth, and
additions/pair x pairs/s against its integer throughput; the script prints
both figures so that they can be set beside the measured ceilings.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import kinship  # noqa: E402
from kinship.kernels import gpu  # noqa: E402
from kinship.kernels.score import flat_tables, query_columns, score_candidates  # noqa: E402
from kinship.search import ScoringModel, packed  # noqa: E402

LOCI = tuple(sorted(kinship.markers.CODIS_CORE_20 + ("Penta D", "Penta E", "SE33"), key=str.lower))


def codes(sm, n, rng):
    c = np.zeros((n, len(sm.loci), 2), dtype=np.int16)
    for l, s in enumerate(sm.systems):
        c[:, l, :] = np.sort(rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum()), axis=1)
    return c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=1_000_000)
    ap.add_argument("--cases", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="a few hundred pairs (simulator check)")
    args = ap.parse_args(argv)
    if args.tiny:
        args.queries, args.cases, args.reps = 40, 40, 1
    if not gpu.available():
        sys.exit("no CUDA device is usable (set NUMBA_ENABLE_CUDASIM=1 with --tiny to check the script)")
    rng = np.random.default_rng(1)
    mut = kinship.MutationModel(kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1))
    sm = ScoringModel(kinship.FrequencyTable.load("nist1036_all"), LOCI, mut, 0.0)
    refs = codes(sm, 2 * args.cases, rng)
    qg = sm.genotype_indices(codes(sm, args.queries, rng))
    cases = [{"id": i, "relatives": [("F", "father", "male", refs[2 * i]),
                                     ("M", "mother", "female", refs[2 * i + 1])]} for i in range(args.cases)]
    blocks = {
        "duo (parent-child)": sm.compile_pairwise("parent-child", list(range(args.cases)), refs[:args.cases]),
        "case (couple)": sm.compile_cases(cases),
        "full-sibling": sm.compile_pairwise("full-sibling", list(range(args.cases)), refs[:args.cases]),
    }
    L = len(LOCI)
    log_t = 4.0
    sim = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    print(f"# {'CUDA simulator' if sim else 'device'}; {args.queries} queries x {args.cases} cases, "
          f"{L} loci; work per pair: {2 * L} bytes of table rows, {L / 4:g} 64-bit additions")
    print("| mode | pairs | screen s (device, incl. transfers) | pairs/s | locus-evals/s | table bytes/s "
          "| additions/s | candidates | exact s (host) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, tab in blocks.items():
        pk = packed(tab, 0)
        qcol = query_columns(qg, tab.offsets)
        gpu.screen_candidates(pk, qcol[:64], log_t)          # compile outside the timing
        best = math.inf
        for _ in range(args.reps):
            t0 = time.perf_counter()
            cq, ct, cm = gpu.screen_candidates(pk, qcol, log_t)
            best = min(best, time.perf_counter() - t0)
        pairs = args.queries * args.cases
        t0 = time.perf_counter()
        out = [np.empty(4 * len(cq) + 16, np.int64), np.empty(4 * len(cq) + 16, np.int64),
               np.empty(4 * len(cq) + 16), np.empty(4 * len(cq) + 16, np.int32),
               np.empty(4 * len(cq) + 16, np.int32)]
        r = np.zeros(max(args.queries, args.cases), np.int64)
        score_candidates(*flat_tables(tab.log10(), tab.inconsistent, L),
                         tab.typed.astype(np.uint8), qcol, cq, ct, cm, r, r, False, log_t, 0, *out)
        ex = time.perf_counter() - t0
        print(f"| {name} | {pairs:.3g} | {best:.3g} | {pairs / best:.3g} | {pairs * L / best:.3g} | "
              f"{2 * L * pairs / best:.3g} | {L / 4 * pairs / best:.3g} | {len(cq)} | {ex:.3g} |")


if __name__ == "__main__":
    main()
