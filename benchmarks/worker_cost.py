"""A run through the warm local worker (``kinship search JOB --worker``) against a fresh process.

Run::

    python benchmarks/worker_cost.py --runs 9
    python benchmarks/worker_cost.py --runs 3 --big /path/job-parent-child-1e5.toml

The tiny job is ``fixed_cost.py``'s (20 x 20 profiles, 23 loci, stepwise mutation,
parent-child, the table store warm).  For each of ``--runs`` rounds, alternated:
``python -c pass``, ``python -m engine.cli search job.toml`` (a fresh process) and
``python -m engine.cli search job.toml --worker SOCKET`` (the client; the job runs in
a worker started once, before the clock, and warmed by one run of the job); the
results directory is removed before each run.  The fixed cost is the median wall
time minus the median of ``python -c pass`` (issue 18 item 2's definition, see
``fixed_cost.py``).  ``--big JOB`` also runs that job (its ``output.path`` removed
before each run) both ways and reports pairs per second of the whole command
(``run.pairs_total`` of the manifest / the client's wall time).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))


def _wall(cmd, cwd, env) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed: {p.stderr.decode()[-2000:]}")
    return dt


def _out_dir(job: Path) -> Path:
    import tomllib

    return job.parent / tomllib.loads(job.read_text())["output"]["path"]


def start_worker(sock: Path, env, log: Path, keep_tables=None):
    t0 = time.perf_counter()
    extra = ["--keep-tables", keep_tables] if keep_tables else []
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker", "start", "--socket",
                             str(sock), *extra], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"))
    while "listening at" not in log.read_text():
        if proc.poll() is not None:
            raise SystemExit(f"the worker ended: {log.read_text()}")
        time.sleep(0.05)
    return proc, time.perf_counter() - t0


def main(argv=None):
    from fixed_cost import _cpu_model, make_data, write_job

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big", help="a larger job file, run both ways (pairs/s)")
    ap.add_argument("--big-runs", type=int, default=1)
    ap.add_argument("--keep", help="keep the data in this directory")
    ap.add_argument("--keep-tables", metavar="SIZE",
                    help="start the worker with --keep-tables SIZE (the big job's block tables "
                         "stay in the worker between its runs)")
    args = ap.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="strkin-worker-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "profiles").exists():
        make_data(work)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("STRKIN_WORKER", None)
    job = write_job(work, "parent-child", ("parent-child",), work / "store-warm")
    out = _out_dir(job)
    py = [sys.executable, "-m", "engine.cli", "search"]
    _wall(py + [str(job)], work, env)                  # numba's cache, the table store
    sock = Path(tempfile.mkdtemp(prefix="strkin-w-")) / "w.sock"
    proc, ready = start_worker(sock, env, work / "worker.log", args.keep_tables)
    try:
        shutil.rmtree(out, ignore_errors=True)
        first = _wall(py + [str(job), "--worker", str(sock)], work, env)
        load0 = os.getloadavg()[0]
        t_begin = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        rows = {"python -c pass": [], "fresh process": [], "worker": []}
        for _ in range(args.runs):
            rows["python -c pass"].append(_wall([sys.executable, "-c", "pass"], work, env))
            shutil.rmtree(out, ignore_errors=True)
            rows["fresh process"].append(_wall(py + [str(job)], work, env))
            shutil.rmtree(out, ignore_errors=True)
            rows["worker"].append(_wall(py + [str(job), "--worker", str(sock)], work, env))
            print(json.dumps({k: round(v[-1], 4) for k, v in rows.items()}), file=sys.stderr)
        load1 = os.getloadavg()[0]
        med = {k: statistics.median(v) for k, v in rows.items()}
        pyb = med["python -c pass"]
        print(f"{t_begin}, {args.runs} runs each (median, alternated), `python -c pass` "
              f"{pyb:.3f} s, 1-minute load average {load0:.1f} at the start, {load1:.1f} at the "
              f"end; CPU: {_cpu_model()}; the worker started in {ready:.1f} s, its first run of the "
              f"job took {first:.2f} s\n")
        print("| tiny parent-child job | wall s (median) | fixed cost s (wall - python) | min .. max |")
        print("|---|---:|---:|---|")
        for k in ("fresh process", "worker"):
            print(f"| {k} | {med[k]:.3f} | **{med[k] - pyb:.3f}** | {min(rows[k]):.3f} .. "
                  f"{max(rows[k]):.3f} |")
        if args.big:
            big = Path(args.big).resolve()
            bout = _out_dir(big)
            res = {"fresh process": [], "worker": []}
            for _ in range(args.big_runs):
                for k, extra in (("fresh process", []), ("worker", ["--worker", str(sock)])):
                    shutil.rmtree(bout, ignore_errors=True)
                    w = _wall(py + [str(big)] + extra, big.parent, env)
                    m = json.loads((bout / "manifest.json").read_text())["run"]
                    res[k].append((w, m["pairs_total"], m["timings_s"].get("search_s", 0.0)))
                    print(json.dumps({k: round(w, 3)}), file=sys.stderr)
            print(f"\n| {big.name} | wall s (median) | pairs | pairs/s whole command | search phase s |")
            print("|---|---:|---:|---:|---:|")
            for k, v in res.items():
                w = statistics.median(x[0] for x in v)
                print(f"| {k} | {w:.2f} | {v[0][1]:.3g} | **{v[0][1] / w:.3g}** | "
                      f"{statistics.median(x[2] for x in v):.2f} |")
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(sock.parent, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
