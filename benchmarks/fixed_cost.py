"""A run's fixed cost: ``kinship search`` on a tiny job, beyond starting Python.

Run::

    python benchmarks/fixed_cost.py                    # 5 runs of each setting, a table
    python benchmarks/fixed_cost.py --runs 9 --markdown
    python benchmarks/fixed_cost.py --modes parent-child --store warm --runs 3
    python benchmarks/fixed_cost.py --baseline main      # the same against git main, alternated

Definition (issue 18 item 2): the **fixed cost** of a run is the wall time of
``python -m engine.cli search job.toml`` (the ``kinship search`` command, a fresh
process) on a tiny job minus the wall time of ``python -c pass`` measured in the
same session, with numba's on-disk cache and Python's bytecode cache of the
project warm (a run of the same job before the clock starts; the children run
without ``PYTHONDONTWRITEBYTECODE``, which this project's build machine sets and
which makes every command compile the project's sources: ``--no-bytecode``) and, for "warm", the model's table store (``execution.table_cache``)
holding the job's tables; "cold" runs each time on an empty table store.  Both are
medians of ``--runs`` runs, alternated.

The tiny job: 20 query profiles x 20 reference profiles (10 families: trios,
fathers, siblings) at 23 loci drawn from the NIST 1036 frequencies (the data of
``scale_engine.py``), stepwise mutation, threshold 1e4, and for ``y-lineage`` 20
query and 20 reference Yfiler Plus haplotypes with a population sample of 200
men; each mode alone, and the six modes (case, parent-child, full-sibling,
identity, duplicates, y-lineage) together.  Default report settings.

The breakdown by phase comes from the run's manifest (``run.timings_s``: prepare,
plan, search, merge, consistency, joint, write; consistency and joint run
beside the merge, so the phases may add up to more than the run) and from the process's own
clock: "start" is the time from the process start to ``engine.run`` (imports,
parsing the arguments), "end" from the end of ``engine.run`` to the exit (the
hit table printed, the interpreter shut down).  CPU seconds are the child's
user + system time (``os.wait4``).  ``--baseline REV`` runs every setting also on
the tree of git revision ``REV`` (exported to a temporary directory, its own numba
cache and table store), alternating with this tree, for same-session ratios.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIX = ("case", "parent-child", "full-sibling", "identity", "duplicates", "y-lineage")
PHASES = ("prepare_s", "plan_s", "search_s", "merge_s", "consistency_s", "joint_s", "write_s")

# Started in the child instead of ``-m engine.cli``: the same command, plus the times at
# which engine.run began and ended (written to a side file, read by this script).  It
# sets the collector as the command's main() does before anything is imported, then
# imports engine.api (to time engine.run) before main() would.
_CHILD = r"""
import sys, time, json, os
t_start = time.perf_counter()
import engine.cli as _cli
# what main() does first, before a command imports anything (a tree without it: nothing)
getattr(_cli, "_collector_for_a_command", lambda: None)()
import engine.api as _api
_orig = _api.run
marks = {}
def _timed(*a, **k):
    marks["run_start"] = time.perf_counter()
    try:
        return _orig(*a, **k)
    finally:
        marks["run_end"] = time.perf_counter()
_api.run = _timed
import engine
engine.run = _timed
from engine.cli import main
marks_path = sys.argv[1]
sys.argv = ["kinship"] + sys.argv[2:]      # main() reads them, as the kinship command does
rc = main()
marks["main_end"] = time.perf_counter()
marks["start"] = t_start
with open(marks_path, "w") as f:
    json.dump(marks, f)
sys.exit(rc)
"""


def make_data(work: Path) -> None:
    import formats
    from kinship.ystr import YMutationRates, get_panel
    from kinship.ystr.simulate import haplotypes_from_comparison, simulate_population
    from scale_engine import simulate

    formats.write_profiles(work / "profiles", simulate(20, 20, seed=11))
    panel = get_panel("Yfiler Plus")
    mu = YMutationRates.load().slot_rates(panel)
    men = simulate_population(panel, mu, n_men=2000, generations=1, n_founders=2000, keep=1,
                              seed=5).cmp[0]
    ids = [f"Y{i:03d}" for i in range(40)]
    formats.write_y_haplotypes(work / "profiles-y",
                               haplotypes_from_comparison(panel, men[:20], ids[:20]),
                               {"kind": "reference", "case_id": ids[:20], "relation": [""] * 20},
                               kit="Yfiler Plus")
    formats.write_y_haplotypes(work / "profiles-y",
                               haplotypes_from_comparison(panel, men[20:40], ids[20:]),
                               {"kind": "query"}, kit="Yfiler Plus")
    formats.write_y_haplotypes(work / "y-population",
                               haplotypes_from_comparison(panel, men[40:240],
                                                          [f"P{i:03d}" for i in range(200)]),
                               {"kind": "reference", "case_id": "population"}, kit="Yfiler Plus")


def write_job(work: Path, name: str, modes, store: Path) -> Path:
    inputs = {"queries": "profiles", "references": "profiles"}
    if "y-lineage" in modes:
        inputs.update(y_queries="profiles-y", y_references="profiles-y",
                      y_population="y-population")
    lines = ["[inputs]"] + [f'{k} = "{v}"' for k, v in inputs.items()]
    lines += ["[model]", "theta = 0.0",
              'mutation = {model = "stepwise", rate = 0.002, rate2 = 1e-06, range = 0.1}',
              "[search]", "modes = [" + ", ".join(f'"{m}"' for m in modes) + "]",
              "threshold = 10000.0", "top_k = 3", "max_inconsistent = 1",
              "[output]", f'path = "out-{name}"',
              "[execution]", "progress = false", f'table_cache = "{store}"']
    p = work / f"job-{name}.toml"
    p.write_text("\n".join(lines) + "\n")
    return p


def run_child(work: Path, job: Path, env) -> dict:
    out = work / ("out-" + job.stem[4:])
    shutil.rmtree(out, ignore_errors=True)
    marks = work / "marks.json"
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", _CHILD, str(marks), "search", str(job)],
                         cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"run failed ({job.name}): {err.decode(errors='replace')[-2000:]}")
    m = json.loads((out / "manifest.json").read_text())
    mk = json.loads(marks.read_text())
    t = m["run"]["timings_s"]
    row = {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
           "start": mk["run_start"] - mk["start"], "run": mk["run_end"] - mk["run_start"],
           "end": mk["main_end"] - mk["run_end"]}
    row.update({k: t.get(k, 0.0) for k in PHASES})
    return row


def python_pass(env, n) -> float:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per setting (median)")
    ap.add_argument("--modes", default="each,six",
                    help="comma-separated modes, 'each' (every mode of the six alone), 'six' "
                         "(the six together)")
    ap.add_argument("--store", default="warm,cold", help="table store: warm, cold or both")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--keep", help="keep the data and results in this directory")
    ap.add_argument("--baseline", help="git revision to compare with (alternating runs)")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE=1 (every command compiles the project's "
                         "sources unless __pycache__ already holds them)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    work = Path(args.keep or tempfile.mkdtemp(prefix="strkin-fixed-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "profiles").exists():
        make_data(work)
    trees = {"this tree": ROOT}
    if args.baseline:
        base_root = work / "baseline"
        if not base_root.exists():
            base_root.mkdir()
            arch = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline],
                                  check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base_root)], input=arch, check=True)
        trees[f"baseline {args.baseline}"] = base_root
    envs = {t: dict(os.environ, PYTHONPATH=str(r)) for t, r in trees.items()}
    for e in envs.values():
        # the project's bytecode cached (written by the priming run), as an installed
        # package has it; --no-bytecode measures a tree whose sources are compiled by
        # every command (PYTHONDONTWRITEBYTECODE=1 and no __pycache__)
        if args.no_bytecode:
            e["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            e.pop("PYTHONDONTWRITEBYTECODE", None)
    env = envs["this tree"]
    settings = []
    for m in args.modes.split(","):
        m = m.strip()
        if m == "each":
            settings += [(x, (x,)) for x in SIX]
        elif m == "six":
            settings.append(("six", SIX))
        elif m:
            settings.append((m, (m,)))
    stores = [s.strip() for s in args.store.split(",") if s.strip()]
    jobs = {}
    for t in trees:
        tag = "" if t == "this tree" else "-base"
        warm_store = work / f"store-warm{tag}"
        for name, modes in settings:
            for s in stores:
                store = warm_store if s == "warm" else work / f"store-cold{tag}"
                jobs[t, name, s] = write_job(work, f"{name}-{s}{tag}", modes, store)
            # numba's cache and the warm store filled before the clock starts
            run_child(work, write_job(work, f"{name}-prime{tag}", modes, warm_store), envs[t])
    base = python_pass(env, max(3, args.runs))
    rows = {k: [] for k in jobs}
    load0 = os.getloadavg()[0]
    t_begin = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for _ in range(args.runs):
        for (t, name, s), job in jobs.items():
            if s == "cold":
                shutil.rmtree(work / ("store-cold" + ("" if t == "this tree" else "-base")),
                              ignore_errors=True)
            r = run_child(work, job, envs[t])
            rows[t, name, s].append(r)
            print(json.dumps({"tree": t, "setting": name, "store": s,
                              **{k: round(v, 4) for k, v in r.items()}}), file=sys.stderr)
    base2 = python_pass(env, max(3, args.runs))
    load1 = os.getloadavg()[0]
    med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in rows.items()}
    pyb = statistics.median([base, base2])
    cols = ["start", *PHASES, "end"]
    if args.markdown:
        print(f"{t_begin}, {args.runs} runs each (median), `python -c pass` {pyb:.3f} s, "
              f"1-minute load average {load0:.1f} at the start, {load1:.1f} at the end; "
              f"CPU: {_cpu_model()}\n")
        print("| tree | job | table store | fixed cost s (wall - python) | CPU s | "
              + " | ".join(c.replace("_s", "") for c in cols) + " |")
        print("|---|---|---|---:|---:|" + "---:|" * len(cols))
        for (t, name, s), d in med.items():
            print(f"| {t} | {name} | {s} | **{d['wall'] - pyb:.2f}** | {d['cpu']:.2f} | "
                  + " | ".join(f"{d[c]:.2f}" for c in cols) + " |")
    else:
        for (t, name, s), d in med.items():
            print(json.dumps({"tree": t, "setting": name, "store": s, "fixed_cost_s": d["wall"] - pyb,
                              "python_pass_s": pyb, **d}))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} CPUs"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()
