"""Pairs/s and locus-evaluations/s of the scoring kernels on this machine.

    python benchmarks/core_scale.py [--queries 200000] [--refs 256]

Compares, in one run: the screened kernel (packed integer upper-bound screen,
then the exact score of the survivors: what the engine uses), the exhaustive
numba kernel, and a plain NumPy gather-and-sum baseline.  ``--threads`` sets
numba's thread count (default: all cores).
Threshold LR 1e4, 20 CODIS core loci, NIST 1036 frequencies, stepwise mutation.
"""
import argparse
import os
import platform
import time

import numpy as np

import kinship
from kinship.markers import CODIS_CORE_20
from kinship.search import ScoringModel, score, score_exhaustive

import numba


def random_codes(sm, n, seed):
    rng = np.random.default_rng(seed)
    c = np.zeros((n, len(sm.loci), 2), dtype=np.int16)
    for l, s in enumerate(sm.systems):
        c[:, l, :] = rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum())
    return c


def naive_numpy(log_tab, offsets, qg):
    cols = offsets[None, :] + np.where(qg < 0, 0, qg)
    vals = log_tab[:, cols]
    vals = np.where((qg < 0)[None], 0.0, vals)
    return vals.sum(axis=2).T


def timeit(fn, *a, reps=3):
    """(best wall seconds, CPU seconds of that run, all threads) over ``reps`` runs."""
    best = (float("inf"), 0.0)
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn(*a)
        w = time.perf_counter() - t
        if w < best[0]:
            best = (w, time.process_time() - c)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=100000)
    ap.add_argument("--refs", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                                male=kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))
    sm = ScoringModel(kinship.FrequencyTable.load(), CODIS_CORE_20, mut, 0.0)
    refs = random_codes(sm, 2 * args.refs, 1)
    qcodes = random_codes(sm, args.queries, 2)
    qg = sm.genotype_indices(qcodes)
    L = len(sm.loci)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numba threads {numba.get_num_threads()}; {args.queries} queries x {args.refs} references, {L} loci")
    print("| mode | kernel | pairs/s | locus-evaluations/s | pairs per CPU-second |")
    print("|---|---|---|---|---|")
    cases = [{"id": i, "relatives": [("F", "father", "male", refs[2 * i]), ("M", "mother", "female", refs[2 * i + 1])]}
             for i in range(args.refs)]
    blocks = {
        "duo (parent-child)": sm.compile_pairwise("parent-child", list(range(args.refs)), refs[:args.refs]),
        "case (couple)": sm.compile_cases(cases),
        "full-sibling": sm.compile_pairwise("full-sibling", list(range(args.refs)), refs[:args.refs]),
        "identity": sm.compile_pairwise("identity", list(range(args.refs)), refs[:args.refs]),
    }
    for name, tab in blocks.items():
        skip = 1 if name == "identity" else 0
        score(tab, qg[:100], 1e4, skip)
        score_exhaustive(tab, qg[:100])
        pairs = len(tab) * len(qg)
        t, c = timeit(score, tab, qg, 1e4, skip)
        label = "screened (threshold 1e4" + (", 1 locus may differ)" if skip else ")")
        print(f"| {name} | {label} | {pairs / t:.3g} | {pairs * L / t:.3g} | {pairs / c:.3g} |")
        t, c = timeit(score_exhaustive, tab, qg)
        print(f"| {name} | exhaustive numba | {pairs / t:.3g} | {pairs * L / t:.3g} | {pairs / c:.3g} |")
        nq = min(len(qg), 5000)
        t, c = timeit(naive_numpy, tab.log10(), tab.offsets, qg[:nq])
        print(f"| {name} | plain NumPy | {len(tab) * nq / t:.3g} | {len(tab) * nq * L / t:.3g} | "
              f"{len(tab) * nq / c:.3g} |")


if __name__ == "__main__":
    main()
