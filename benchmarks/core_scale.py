"""Pairs/s and locus-evaluations/s of the scoring kernels on this machine.

    python benchmarks/core_scale.py [--queries 200000] [--refs 256]
    python benchmarks/core_scale.py --kernel [--queries 50000] [--refs 8192] [--baseline REV]

``--kernel``: the kernel alone as the engine calls it (``engine.kernels.score_tile``
on query chunks, one per task, in two threads: packing excluded, 23 loci, the
four screening modes); ``--baseline REV`` runs the same measurement on the
kernel of git revision REV (exported to a temporary directory, its own numba
cache) in alternating processes and prints the medians of both and their ratio.

Compares, in one run: the screened kernel (packed integer upper-bound screen,
then the exact score of the survivors: what the engine uses), the exhaustive
numba kernel, and a plain NumPy gather-and-sum baseline.  ``--threads`` sets
numba's thread count (default: all cores).
Threshold LR 1e4, 20 CODIS core loci, NIST 1036 frequencies, stepwise mutation.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
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


KERNEL_MODES = ["parent-child", "case", "full-sibling", "identity"]


def kernel_worker(n_refs, n_queries, reps, threads, modes=KERNEL_MODES):
    """{mode: [(pairs/s, pairs per CPU-second, hits), ...]} of ``score_tile`` in
    ``threads`` threads, tables packed before the clock starts."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from engine.kernels import score_tile
    try:
        from engine.compile import table_group
    except ImportError:     # a --baseline revision before it
        table_group = None
    from kinship.kernels.score import query_columns
    from kinship.markers import CODIS_CORE_20

    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                                male=kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))
    loci = list(CODIS_CORE_20) + ["Penta D", "Penta E", "SE33"]
    sm = ScoringModel(kinship.FrequencyTable.load(), loci, mut, 0.0)
    refs = random_codes(sm, 2 * n_refs, 1)
    qg = sm.genotype_indices(random_codes(sm, n_queries, 2))
    out = {}
    for mode in modes:
        if mode == "case":
            ct = sm.compile_cases([{"id": i, "relatives": [("F", "father", "male", refs[2 * i]),
                                                           ("M", "mother", "female", refs[2 * i + 1])]}
                                   for i in range(n_refs)])
        else:
            ct = sm.compile_pairwise(mode, list(range(n_refs)), refs[:n_refs])
        if table_group is not None:
            tab = table_group(ct.log10(), ct.inconsistent, ct.typed, ct.offsets, ct.loci, ct.lr)
        else:       # a --baseline revision before engine.compile.table_group
            tab = SimpleNamespace(log_tab=np.ascontiguousarray(ct.log10()),
                                  incons=np.ascontiguousarray(ct.inconsistent, dtype=np.uint8),
                                  typed=np.ascontiguousarray(ct.typed, dtype=np.uint8),
                                  offsets=np.asarray(ct.offsets, dtype=np.int64), packed={})
        skip = 1 if mode == "identity" else 0
        qcol = query_columns(qg, tab.offsets)
        chunks = np.array_split(np.arange(n_queries), 8 * threads)
        c_rank = np.arange(n_refs)

        def task(ix):
            st = np.zeros(2, dtype=np.int64)
            return len(score_tile(tab, qcol[ix], ix, ix, c_rank, False, 4.0, skip, st)[0])

        task(chunks[0][:64])          # compile or load, and pack the tables
        runs = []
        for _ in range(reps):
            w, c = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(threads) as pool:
                hits = sum(pool.map(task, chunks))
            w, c = time.perf_counter() - w, time.process_time() - c
            runs.append((n_refs * n_queries / w, n_refs * n_queries / c, hits))
        out[mode] = runs
    return out


def kernel_main(args):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [sys.executable, os.path.abspath(__file__), "--kernel-worker", "--refs", str(args.refs),
           "--queries", str(args.queries), "--reps", str(args.reps), "--threads", str(args.threads or 2),
           "--modes", ",".join(args.modes)]
    sides = {"this tree": here}
    tmp = None
    if args.baseline:
        tmp = tempfile.TemporaryDirectory(prefix="strkin-baseline-")
        archive = subprocess.run(["git", "-C", here, "archive", args.baseline, "kinship", "engine",
                                  "formats"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp.name], input=archive, check=True)
        sides[f"baseline {args.baseline}"] = tmp.name
    res = {k: {m: [] for m in args.modes} for k in sides}
    for _ in range(args.rounds):            # alternate the two sides: the load changes under us
        for name, root in sides.items():
            cache = os.path.join(tmp.name, "numba") if tmp and root == tmp.name else None
            env = dict(os.environ, PYTHONPATH=root)
            if cache:                       # the baseline's compiled kernels apart from this tree's
                env["NUMBA_CACHE_DIR"] = cache
            got = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True,
                                            cwd=root).stdout.splitlines()[-1])
            for m in args.modes:
                res[name][m] += got[m]
    load = os.getloadavg()
    print(f"# kernel alone: {cpu_model()}, {os.cpu_count()} cores, {args.threads or 2} threads; "
          f"{args.queries} queries x {args.refs} references, 23 loci, threshold 1e4; "
          f"medians of {args.rounds} x {args.reps} runs; "
          f"load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    names = list(sides)
    head = "| mode | " + " | ".join(f"{n}: pairs/s | {n}: pairs per CPU-s"
                                    for n in names)
    print(head + (" | ratio (CPU-s) |" if len(names) > 1 else " |"))
    print("|---" * (1 + 2 * len(names) + (len(names) > 1)) + "|")
    for m in args.modes:
        cells, per_cpu = [], []
        for n in names:
            r = res[n][m]
            hits = {h for *_, h in r}
            assert len(hits) == 1, (n, m, hits)
            per_cpu.append(statistics.median(x[1] for x in r))
            cells += [f"{statistics.median(x[0] for x in r):.3g}", f"{per_cpu[-1]:.3g}"]
        hit_sets = {res[n][m][0][2] for n in names}
        assert len(hit_sets) == 1, (m, hit_sets)   # both kernels find the same number of hits
        ratio = f" {per_cpu[0] / per_cpu[1]:.2f} |" if len(names) > 1 else ""
        print(f"| {m} | " + " | ".join(cells) + " |" + ratio)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=None)
    ap.add_argument("--refs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--kernel", action="store_true", help="the kernel alone (see the module docstring)")
    ap.add_argument("--baseline", default="", help="with --kernel: a git revision to compare with")
    ap.add_argument("--reps", type=int, default=3, help="with --kernel: timed runs per process")
    ap.add_argument("--rounds", type=int, default=2, help="with --kernel: processes per side")
    ap.add_argument("--modes", default=",".join(KERNEL_MODES), help="with --kernel: modes, comma-separated")
    ap.add_argument("--kernel-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.modes = args.modes.split(",")
    if args.kernel_worker:
        print(json.dumps(kernel_worker(args.refs, args.queries, args.reps, args.threads or 2, args.modes)))
        return
    if args.kernel:
        args.queries = args.queries or 50000
        args.refs = args.refs or 8192
        kernel_main(args)
        return
    args.queries = args.queries or 100000
    args.refs = args.refs or 256
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
