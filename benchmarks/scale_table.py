"""The scaling table of the search: wall time, peak memory, pairs/s and pairs per
CPU-second from 10^4 to 10^7 queries and 10^3 to 10^6 references (issue 18 item 5).

Run::

    python benchmarks/scale_table.py                                  # the default grid
    python benchmarks/scale_table.py --grid 10000x1000,100000x1000 --modes parent-child
    python benchmarks/scale_table.py --grid 1000000x1000 --memory 2GiB   # under a budget
    python benchmarks/scale_table.py --grid 100000x10000 --report default   # the default report

Each cell is one ``kinship search`` in its own process (``engine.cli`` run as
``__main__``), so its peak memory is that process's peak resident set (``VmHWM``
at exit) and its CPU time is user + system of the process, all threads
(``os.wait4``).  The datasets are simulated once (vectorised: about a second per
10^6 profiles plus the Parquet write) and cached under ``--cache`` (default
``$STRKIN_SCALE_CACHE`` or ``/tmp/strkin-scale-cache``, never the repository): one
query dataset per query count and one reference dataset per reference count,
written in shards of 10^6 profiles.  ``--clean`` deletes the cache afterwards.

Data: 23 loci (CODIS 20 + Penta D, Penta E, SE33), NIST 1036 frequencies, 2 % of
loci untyped; references are families (half trios, a quarter father-only, a
quarter sibling-only), 10 % of the queries are planted children of the first
families, the rest unrelated.  Model: stepwise mutation, θ = 0, threshold 10^4,
top 10, ``report.chance_method = "none"`` and ``report.relationships = "none"``
(the search itself; both add a cost per run that does not grow with the queries: at
most ``report.chance_units`` units and ``report.chance_partial_max`` and
``report.relationships_max`` hits per mode).  ``--report default`` runs the cells
with the job's default report instead, to measure that cost.

The NumPy baseline (:func:`scale_engine.numpy_rate`: gather every pair's table
values and sum over loci, no screening) is measured in the same invocation, one
thread, on one block of 256 compiled reference units x 2,048 queries of the
smallest cell.  The machine (CPU model, cores, load average before and after
each cell) is printed with the table.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "benchmarks")):
    if p not in sys.path:
        sys.path.insert(0, p)

import formats  # noqa: E402
import kinship  # noqa: E402
from formats import ProfileArrays  # noqa: E402

from scale_engine import LOCI, MUTATION  # noqa: E402

SHARD = 1_000_000
DEFAULT_GRID = ("10000x1000", "100000x1000", "1000000x1000", "10000000x1000",
                "100000x10000", "1000000x10000", "10000x100000", "100000x100000", "10000x1000000")


def _systems():
    ft = kinship.FrequencyTable.load("nist1036_all")
    return [ft.locus_alleles(l) for l in LOCI]


def _founders(rng, systems, n):
    """``[n, L, 2]`` int16 allele indices drawn from each locus' frequencies
    (inverse CDF of uniform draws: vectorised over profiles)."""
    g = np.empty((n, len(systems), 2), np.int16)
    for j, s in enumerate(systems):
        cdf = np.cumsum(s.freqs / s.freqs.sum())
        g[:, j, :] = np.minimum(np.searchsorted(cdf, rng.random((n, 2)), side="right"),
                                s.n_alleles - 1)
    return g


def _child(rng, f, m):
    n, L = f.shape[:2]
    pf = rng.integers(0, 2, size=(n, L, 1))
    pm = rng.integers(0, 2, size=(n, L, 1))
    return np.concatenate([np.take_along_axis(f, pf, 2), np.take_along_axis(m, pm, 2)], axis=2)


FAM_CHUNK = 100_000


def _families(systems, c: int, seed: int):
    """Families ``c * FAM_CHUNK ..`` (father, mother, child, sibling, shape), the
    same whichever dataset asks for them (seeded by the chunk)."""
    rng = np.random.default_rng([seed, c])
    fa, mo = _founders(rng, systems, FAM_CHUNK), _founders(rng, systems, FAM_CHUNK)
    kid, sib = _child(rng, fa, mo), _child(rng, fa, mo)
    shape = rng.choice(3, size=FAM_CHUNK, p=[0.5, 0.25, 0.25])   # trio, father, sibling
    return fa, mo, kid, sib, shape


def _arrays(ids, kind, case, rel, sex, g, systems, rng) -> ProfileArrays:
    g = g.copy()
    g[rng.random(g.shape[:2]) < 0.02] = -1
    obj = lambda x: np.asarray(x, dtype=object)  # noqa: E731
    n = len(ids)
    return ProfileArrays(obj(ids), np.full(n, kind, dtype=object), obj(case), obj(rel), obj(sex),
                         np.full(n, "GlobalFiler", dtype=object), LOCI,
                         {l: s.alleles for l, s in zip(LOCI, systems)}, g)


def reference_dataset(cache: Path, n_refs: int, seed: int = 7) -> Path:
    """About ``n_refs`` reference persons (families until the count is reached)."""
    path = cache / f"refs-{n_refs}-s{seed}"
    if (path / ".complete").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    systems = _systems()
    # persons per family: trio 2, father 1, sibling 1 -> 1.5 on average
    n_fam = max(1, int(round(n_refs / 1.5)))
    buf, made = [], 0
    for c in range(0, (n_fam + FAM_CHUNK - 1) // FAM_CHUNK):
        fa, mo, _, sib, shape = _families(systems, c, seed)
        k = min(FAM_CHUNK, n_fam - c * FAM_CHUNK)
        fa, mo, sib, shape = fa[:k], mo[:k], sib[:k], shape[:k]
        fid = np.arange(c * FAM_CHUNK, c * FAM_CHUNK + k)
        cid = np.array([f"C{f:08d}" for f in fid], dtype=object)
        trio, fonly, sonly = shape == 0, shape == 1, shape == 2
        father = trio | fonly
        parts = [
            (np.char.add(cid[father].astype(str), "-F"), cid[father], "father", "M", fa[father]),
            (np.char.add(cid[trio].astype(str), "-M"), cid[trio], "mother", "F", mo[trio]),
            (np.char.add(cid[sonly].astype(str), "-S"), cid[sonly], "full-sibling", "F", sib[sonly]),
        ]
        for ids, cs, rel, sx, g in parts:
            buf.append((ids.astype(object), cs, np.full(len(ids), rel, dtype=object),
                        np.full(len(ids), sx, dtype=object), g))
            made += len(ids)
        if sum(len(b[0]) for b in buf) >= SHARD or c == (n_fam - 1) // FAM_CHUNK:
            _flush(path, buf, "reference", systems, seed, c)
            buf = []
    (path / ".complete").write_text(str(made))
    return path


def _flush(path, buf, kind, systems, seed, c):
    rng = np.random.default_rng([seed, c, 99])
    cat = lambda i: np.concatenate([b[i] for b in buf])  # noqa: E731
    formats.write_profiles(path, _arrays(cat(0), kind, cat(1), cat(2), cat(3), cat(4), systems, rng),
                           shard_size=SHARD)


def query_dataset(cache: Path, n_queries: int, n_refs_planted: int, seed: int = 7) -> Path:
    """``n_queries`` queries: children of the first families of the reference
    dataset of ``n_refs_planted`` references (10 % of the queries, at most one per
    family), the rest unrelated."""
    path = cache / f"queries-{n_queries}-p{n_refs_planted}-s{seed}"
    if (path / ".complete").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    systems = _systems()
    n_fam = max(1, int(round(n_refs_planted / 1.5)))
    n_planted = min(n_fam, n_queries // 10)
    done = 0
    for c in range(0, (n_planted + FAM_CHUNK - 1) // FAM_CHUNK):
        k = min(FAM_CHUNK, n_planted - c * FAM_CHUNK)
        kid = _families(systems, c, seed)[2][:k]
        ids = np.array([f"C{f:08d}-Q" for f in range(c * FAM_CHUNK, c * FAM_CHUNK + k)], dtype=object)
        _flush(path, [(ids, np.full(k, "", dtype=object), np.full(k, "", dtype=object),
                       np.full(k, "M", dtype=object), kid)], "query", systems, seed, 10_000 + c)
        done += k
    rest = n_queries - done
    for a in range(0, rest, SHARD):
        k = min(SHARD, rest - a)
        rng = np.random.default_rng([seed, 20_000 + a // SHARD])
        ids = np.array([f"U{i:08d}" for i in range(a, a + k)], dtype=object)
        _flush(path, [(ids, np.full(k, "", dtype=object), np.full(k, "", dtype=object),
                       np.full(k, "F", dtype=object), _founders(rng, systems, k))],
               "query", systems, seed, 30_000 + a // SHARD)
    (path / ".complete").write_text(str(n_queries))
    return path


def machine() -> dict:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "ram_gib": round(mem / 2**30, 1),
            "python": sys.version.split()[0], "numpy": np.__version__}


#: ``kinship search`` (``python -m engine.cli``) that writes its peak resident set
#: (``VmHWM``, KiB) to ``$STRKIN_HWM_FILE`` at exit
_HWM_WRAPPER = """
import atexit, os, runpy, sys
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            with open(os.environ["STRKIN_HWM_FILE"], "w") as f:
                f.write(line.split()[1])
atexit.register(_hwm)
sys.argv = ["kinship"] + sys.argv[1:]
runpy.run_module("engine.cli", run_name="__main__", alter_sys=True)
"""


#: the report settings of a cell: ``"none"`` (the default of these benchmarks: the hits
#: alone) or ``"default"`` (the job's own defaults: the expected chance hits and the
#: alternative relationships, :mod:`engine.chance` and :mod:`engine.alternatives`)
REPORTS = {"none": {"chance_method": "none", "relationships": "none"}, "default": {}}
#: each of :data:`REPORTS` as the table's heading states it
REPORT_WORDS = {"none": "none (the hits alone)",
                "default": "the job defaults (expected chance hits, alternative relationships)"}


def run_cell(qpath: Path, rpath: Path, mode: str, threads: int, memory=None, work=None,
             extra_execution=None, report: str = "none") -> dict:
    """One ``kinship search`` in its own process; its wall time, CPU time, peak RSS
    and the manifest's counts.  ``report``: a key of :data:`REPORTS`."""
    work = Path(work or tempfile.mkdtemp(prefix="strkin-cell-"))
    out = work / "results"
    shutil.rmtree(out, ignore_errors=True)
    ex = {"threads": threads, "progress": False, **(extra_execution or {})}
    if memory is not None:
        ex["memory"] = memory
    job = {"inputs": {"queries": str(qpath), "references": str(rpath)},
           "model": {"theta": 0.0, "mutation": dict(MUTATION)},
           "search": {"modes": [mode], "threshold": 1e4, "top_k": 10, "max_inconsistent": 1},
           "output": {"path": str(out)}, "execution": ex}
    if REPORTS[report]:
        job["report"] = dict(REPORTS[report])
    from engine.demo import _write_job_toml

    toml = work / "job.toml"
    _write_job_toml(toml, job)
    load0 = os.getloadavg()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    hwm = work / "hwm"
    env["STRKIN_HWM_FILE"] = str(hwm)
    p = subprocess.Popen([sys.executable, "-c", _HWM_WRAPPER, "search", str(toml)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(ROOT))
    # read the pipes while waiting (a full pipe would block the child)
    import threading

    bufs = {}

    def _read(name, f):
        bufs[name] = f.read()

    ts = [threading.Thread(target=_read, args=(n, f)) for n, f in (("out", p.stdout), ("err", p.stderr))]
    for t in ts:
        t.start()
    _, status, ru = os.wait4(p.pid, 0)
    for t in ts:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()
    # the process's own peak (VmHWM at exit): ru_maxrss of a child also counts the
    # parent's resident set at the fork (Linux records the pre-exec memory's peak)
    peak = int(hwm.read_text()) / 1024 if hwm.exists() else ru.ru_maxrss / 1024
    row = {"mode": mode, "memory": memory, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
           "peak_rss_mib": peak, "load_before": load0[0], "load_after": load1[0],
           "rc": p.returncode}
    if p.returncode != 0:
        row["error"] = bufs.get("err", b"").decode(errors="replace").strip().splitlines()[-1:]
        return row
    m = json.loads((out / "manifest.json").read_text())
    st = m["run"]["modes"][mode]
    row.update(pairs=st["pairs"], search_s=m["run"]["timings_s"]["search_s"],
               timings=m["run"]["timings_s"], n_queries=m["inputs"]["queries"]["n_queries"],
               n_references=m["inputs"]["references"]["n_references"],
               n_units=(m["inputs"]["references"]["n_cases"] if mode == "case"
                        else m["inputs"]["references"]["n_references"]),
               hits=m["outputs"]["hits"]["rows"], memory_plan=m["run"].get("memory"),
               hits_sha256=m["outputs"]["hits"]["sha256"])
    row["pairs_per_s"] = row["pairs"] / wall
    row["pairs_per_cpu_s"] = row["pairs"] / row["cpu_s"]
    row["search_pairs_per_s"] = row["pairs"] / max(row["search_s"], 1e-9)
    shutil.rmtree(out, ignore_errors=True)
    return row


def numpy_baseline(qpath: Path, rpath: Path, mode: str, n_queries: int = 2048) -> float:
    """Pairs/s of the plain NumPy scan (one thread) on 256 compiled reference units x
    ``n_queries`` queries, the tables the engine compiles."""
    from engine.compile import compile_block
    from engine.inputs import RefBlock
    from engine.job import parse_mutation
    from engine.kernels import scores_numpy
    from engine.model import ModelSpec, Recoder, get_model

    ft = kinship.FrequencyTable.load("nist1036_all")
    qds, rds = formats.open_dataset(qpath), formats.open_dataset(rpath)
    spec = ModelSpec(ft, LOCI, parse_mutation(dict(MUTATION)), 0.0,
                     {l: sorted(set(qds.alleles[l]) | set(rds.alleles[l])) for l in LOCI})
    model = get_model(spec)
    q = qds.load(kind="query")
    qc = Recoder(qds, model.loci, model.systems).codes(q)[:n_queries]
    r = rds.load(kind="reference")
    rc = Recoder(rds, model.loci, model.systems).codes(r)
    if mode == "case":
        cases = {}
        for i in range(len(r)):
            cases.setdefault(r.case_id[i], []).append(
                (r.sample_id[i], r.relation[i], {"M": "male", "F": "female"}[r.sex[i]], rc[i]))
            if len(cases) > 256:
                break
        ids = sorted(cases)[:256]
        blk = RefBlock("cases", ids, "b", cases=[{"id": c, "relatives": cases[c], "needs_sex": False}
                                                 for c in ids])
    else:
        blk = RefBlock("persons", [str(x) for x in r.sample_id[:256]], "b", case_ids=[""] * 256,
                       sexes=list(r.sex[:256]), codes=rc[:256])
    bt = compile_block(model, spec.sex_dependent, mode, blk)
    g = bt.groups[0]
    qg = model.genotype_indices(qc)
    log_tab, incons = g.log_tab, g.incons     # materialised before the clock (gathered rows)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        scores_numpy(log_tab, incons, g.typed, g.offsets, qg, 1 if mode == "identity" else 0)
        best = max(best, len(qg) * len(g) / (time.perf_counter() - t0))
    return best


#: cells beyond this machine, extrapolated by :func:`extrapolate`
PAPER = ("10000000x100000", "1000000x1000000", "10000000x1000000")


def extrapolate(rows, cells=PAPER, threads: int = 2) -> list:
    """Rows for ``cells`` from the measured ``rows`` of one mode, on paper:

    * CPU seconds by least squares on ``a + b Q + c R + d Q R`` (a fixed cost, a
      cost per query, per reference, per pair; non-negative), in relative errors
      (each row weighted by one over its CPU seconds: a grid whose rows span four
      orders of magnitude is otherwise fitted to its largest row alone);
    * peak memory by least squares on ``p0 + pq Q + pr R`` (measured peaks, relative
      errors as well), and
      beside it the run's own estimate (:func:`engine.memory.estimate`, 2 threads,
      default settings), which is what ``[execution] memory`` compares;
    * wall time = CPU seconds / ``threads`` (free cores).
    """
    from scipy.optimize import nnls

    from engine.job import SCHEMA
    from engine.memory import estimate

    ok = [r for r in rows if not r.get("rc")]
    if len(ok) < 4:
        return []
    Q = np.array([r["n_queries"] for r in ok], float)
    R = np.array([r["n_units"] for r in ok], float)
    cpu = np.array([r["cpu_s"] for r in ok])
    A = np.stack([np.ones_like(Q), Q, R, Q * R], axis=1)
    sc = A.max(axis=0)
    w = 1.0 / np.maximum(cpu, 1e-9)
    coef_t = nnls(A / sc * w[:, None], cpu * w)[0] / sc
    peak = np.array([r["peak_rss_mib"] for r in ok])
    B = A[:, :3]
    wm = 1.0 / np.maximum(peak, 1e-9)
    coef_m = nnls(B / B.max(axis=0) * wm[:, None], peak * wm)[0] / B.max(axis=0)
    plan = ok[-1].get("memory_plan") or {}
    sizes = dict(plan.get("sizes") or {})
    out = []
    for c in cells:
        nq, nr = (int(float(x)) for x in c.split("x"))
        mode = ok[0]["mode"]
        units = nr * 2 / 3 if mode == "case" else nr       # cases: 1.5 persons each
        t = float(coef_t @ [1, nq, units, nq * units])
        m = float(coef_m @ [1, nq, units])
        est = None
        if sizes:
            sz = dict(sizes, n_queries=nq, n_refs=nr, n_cases=int(units) if mode == "case" else 0,
                      query_shard_rows=min(nq, 1_000_000), ref_shard_rows=min(nr, 1_000_000))
            sz.pop("threads", None)
            ex = SCHEMA["execution"]          # the job's default block and chunk sizes
            est = estimate(threads=threads, block_size=ex["block_size"][0],
                           query_chunk=ex["query_chunk"][0], in_flight=2 * threads,
                           **sz)["total"] / 2**20
        out.append({"mode": mode, "queries": nq, "references": nr, "pairs": nq * units,
                    "cpu_s": t, "wall_s": t / threads, "peak_rss_mib": m, "estimate_mib": est,
                    "coef_cpu": coef_t.tolist(), "coef_peak": coef_m.tolist()})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", default=",".join(DEFAULT_GRID),
                    help="comma-separated QUERIESxREFERENCES cells")
    ap.add_argument("--modes", default="parent-child,case")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--memory", default=None, help="[execution] memory of every run (default: unset)")
    ap.add_argument("--cache", default=os.environ.get("STRKIN_SCALE_CACHE", "/tmp/strkin-scale-cache"))
    ap.add_argument("--clean", action="store_true", help="delete the cached datasets at the end")
    ap.add_argument("--json", help="append every row as a JSON line to this file")
    ap.add_argument("--from-json", help="print the tables of the rows in this file (no runs)")
    ap.add_argument("--report", choices=sorted(REPORTS), default="none",
                    help="none: the hits alone (report.chance_method and report.relationships "
                         "\"none\", the default); default: the job's default report (expected "
                         "chance hits, alternative relationships)")
    args = ap.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(json.dumps({"machine": info}), file=sys.stderr)
    cells = [tuple(int(float(x)) for x in c.split("x")) for c in args.grid.split(",") if c]
    modes = [m for m in args.modes.split(",") if m]
    rows = []
    baseline = {}
    if args.from_json:
        rows = [json.loads(line) for line in open(args.from_json) if line.strip()]
        cells = []
        modes = sorted({r["mode"] for r in rows}, key=[r["mode"] for r in rows].index)
        baseline = {r["mode"]: r.get("numpy_pairs_per_s", float("nan")) for r in rows}
    for nq, nr in cells:
        t0 = time.perf_counter()
        rp = reference_dataset(cache, nr)
        qp = query_dataset(cache, nq, nr)
        gen = time.perf_counter() - t0
        for mode in modes:
            if mode not in baseline:
                baseline[mode] = numpy_baseline(qp, rp, mode)
            row = dict(run_cell(qp, rp, mode, args.threads, args.memory, report=args.report),
                       report=args.report, queries=nq, references=nr,
                       generate_s=round(gen, 1), numpy_pairs_per_s=baseline[mode])
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
    print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, "
          f"Python {info['python']}, numpy {info['numpy']}; {args.threads} threads; report: "
          f"{REPORT_WORDS[args.report]}.")
    print()
    print("| mode | queries | references | units | pairs | wall s | CPU s | peak RSS MiB | estimate MiB "
          "| pairs/s (wall) | pairs per CPU-s | search pairs/s | NumPy pairs/s (1 thread) "
          "| load 1-min before/after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if r.get("rc"):
            print(f"| {r['mode']} | {r['queries']:.0e} | {r['references']:.0e} | failed: "
                  f"{' '.join(r.get('error', []))} |")
            continue
        print(f"| {r['mode']} | {r['queries']:.0e} | {r['references']:.0e} | {r['n_units']} | "
              f"{r['pairs']:.3g} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mib']:.0f} | "
              f"{(r.get('memory_plan') or {}).get('estimate_bytes', float('nan')) / 2**20:.0f} | "
              f"{r['pairs_per_s']:.3g} | {r['pairs_per_cpu_s']:.3g} | {r['search_pairs_per_s']:.3g} | "
              f"{r.get('numpy_pairs_per_s', baseline.get(r['mode'], float('nan'))):.3g} | "
              f"{r['load_before']:.1f} / {r['load_after']:.1f} |")
    for mode in modes:
        ex = extrapolate([r for r in rows if r["mode"] == mode], threads=args.threads)
        if not ex:
            continue
        a, b, c, d = ex[0]["coef_cpu"]
        p0, pq, pr = ex[0]["coef_peak"]
        print()
        print(f"{mode}, on paper (not run): CPU s = {a:.3g} + {b * 1e6:.3g} us x queries + "
              f"{c * 1e6:.3g} us x units + {d * 1e9:.3g} ns x pairs; peak MiB = {p0:.0f} + "
              f"{pq * 1e6:.3g} x queries / 10^6 + {pr * 1e6:.3g} x units / 10^6 (least squares "
              f"over the rows above); wall = CPU s / {args.threads} free cores")
        print()
        print("| mode | queries | references | pairs | CPU s (fit) | wall s on free cores (fit) | "
              "peak RSS MiB (fit) | the run's own estimate MiB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in ex:
            print(f"| {r['mode']} | {r['queries']:.0e} | {r['references']:.0e} | {r['pairs']:.3g} | "
                  f"{r['cpu_s']:.3g} | {r['wall_s']:.3g} | {r['peak_rss_mib']:.0f} | "
                  f"{r['estimate_mib']:.0f} |")
    if args.clean:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
