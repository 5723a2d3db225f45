"""Scale benchmark of the search engine: pairs/s and locus evaluations/s per mode.

Run::

    python benchmarks/scale_engine.py                         # 20k queries x 5k references
    python benchmarks/scale_engine.py --queries 100000 --references 20000 --threads 2
    python benchmarks/scale_engine.py --markdown              # a table for benchmarks/README.md

What it does, per mode (case, parent-child, full-sibling, identity, duplicates):

1. simulates a dataset (vectorised, seconds): founders drawn from the NIST 1036
   frequencies at 23 loci (CODIS 20 + Penta D, Penta E, SE33), 2 % of loci
   untyped; references are families (trio, father-only and sibling-only cases),
   10 % of the queries are their planted missing children, the rest unrelated;
2. runs ``engine.run`` on it in-process (``--threads``), stepwise mutation,
   threshold 1e4, and reads pairs, locus lookups and the search time from the
   run manifest;
3. measures, in the same process, a plain NumPy implementation (gather the
   table values of every pair and locus, sum over loci: no screening, the same
   arithmetic) on one block of the same compiled tables, and reports its rate.

"pairs/s" counts (query, reference unit) pairs decided per second of search
time, compilation of the reference tables included; "locus-evals/s" is
pairs/s x loci (the work a full scan does per pair); "lookups/pair" is how many
table values the screening kernel actually read per pair.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import formats  # noqa: E402
import kinship  # noqa: E402
from formats import ProfileArrays  # noqa: E402

LOCI = tuple(sorted(kinship.markers.CODIS_CORE_20 + ("Penta D", "Penta E", "SE33"), key=str.lower))
MODES = ("case", "parent-child", "full-sibling", "identity", "duplicates")
MUTATION = {"model": "stepwise", "rate": 0.002, "rate2": 1e-6, "range": 0.1}


def simulate(n_queries: int, n_references: int, seed: int = 7, shapes: str = "mixed") -> ProfileArrays:
    """``shapes``: "mixed" (half trio, a quarter father-only, a quarter sibling-only
    cases) or "couples" (every case a trio: both parents typed)."""
    ft = kinship.FrequencyTable.load("nist1036_all")
    rng = np.random.default_rng(seed)
    systems = [ft.locus_alleles(l) for l in LOCI]
    L = len(LOCI)

    def founders(n):
        g = np.empty((n, L, 2), np.int16)
        for j, s in enumerate(systems):
            g[:, j, :] = rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum())
        return g

    def child(f, m):
        n = f.shape[0]
        pick_f = rng.integers(0, 2, size=(n, L))
        pick_m = rng.integers(0, 2, size=(n, L))
        c = np.empty_like(f)
        c[:, :, 0] = np.take_along_axis(f, pick_f[:, :, None], 2)[:, :, 0]
        c[:, :, 1] = np.take_along_axis(m, pick_m[:, :, None], 2)[:, :, 0]
        return c

    n_fam = max(1, n_references // 2)
    fa, mo = founders(n_fam), founders(n_fam)
    kids = child(fa, mo)
    sib = child(fa, mo)
    p_kind = [0.5, 0.25, 0.25] if shapes == "mixed" else [1.0, 0.0, 0.0]
    kind_of = rng.choice(3, size=n_fam, p=p_kind)  # trio, father, sibling
    ids, kinds, cases, rels, sexes, genos = [], [], [], [], [], []

    def add(i, k, c, r, s, g):
        ids.append(i)
        kinds.append(k)
        cases.append(c)
        rels.append(r)
        sexes.append(s)
        genos.append(g)

    for f in range(n_fam):
        cid = f"C{f:08d}"
        if kind_of[f] == 0:
            add(f"{cid}-F", "reference", cid, "father", "M", fa[f])
            add(f"{cid}-M", "reference", cid, "mother", "F", mo[f])
        elif kind_of[f] == 1:
            add(f"{cid}-F", "reference", cid, "father", "M", fa[f])
        else:
            add(f"{cid}-S", "reference", cid, "full-sibling", "F", sib[f])
    n_planted = min(n_fam, n_queries // 10)
    for f in range(n_planted):
        add(f"C{f:08d}-Q", "query", "", "", "M", kids[f])
    rest = founders(n_queries - n_planted)
    for i in range(len(rest)):
        add(f"U{i:08d}", "query", "", "", "F", rest[i])
    g = np.stack(genos)
    g[rng.random(g.shape[:2]) < 0.02] = -1
    obj = lambda x: np.array(x, dtype=object)  # noqa: E731
    return ProfileArrays(obj(ids), obj(kinds), obj(cases), obj(rels), obj(sexes),
                         obj(["GlobalFiler"] * len(ids)), LOCI,
                         {l: s.alleles for l, s in zip(LOCI, systems)}, g)


def numpy_rate(res, mode, threads_note=True, n_queries=2048):
    """Pairs/s of the plain NumPy scan on one block of the run's own tables."""
    import engine
    from engine.compile import compile_block
    from engine.inputs import RefBlock
    from engine.kernels import scores_numpy
    from engine.model import Recoder, get_model

    m = res.manifest
    ft = kinship.FrequencyTable.load("nist1036_all")
    ds = formats.open_dataset(m["inputs"]["queries"]["path"])
    spec = _spec(m, ft, ds)
    model = get_model(spec)
    arr = ds.load()
    codes = Recoder(ds, model.loci, model.systems).codes(arr)
    q = np.nonzero(arr.kind == "query")[0][:n_queries]
    r = np.nonzero(arr.kind == "reference")[0][:256]
    qg = model.genotype_indices(codes[q])
    if mode == "case":
        cases = {}
        for i in np.nonzero(arr.kind == "reference")[0]:
            cases.setdefault(arr.case_id[i], []).append(
                (arr.sample_id[i], arr.relation[i], {"M": "male", "F": "female"}[arr.sex[i]], codes[i]))
            if len(cases) > 256:
                break
        ids = sorted(cases)[:256]
        blk = RefBlock("cases", ids, "b", cases=[{"id": c, "relatives": cases[c], "needs_sex": False}
                                                 for c in ids])
    elif mode == "duplicates":
        class _Q:
            pass
        qs = _Q()
        qs.codes = codes[q]
        blk = RefBlock("queries", [str(x) for x in arr.sample_id[q[:256]]], "b",
                       query_rows=np.arange(min(256, len(q))))
        bt = compile_block(model, False, "duplicates", blk, queries=qs)
    else:
        blk = RefBlock("persons", [str(x) for x in arr.sample_id[r]], "b",
                       case_ids=[""] * len(r), sexes=list(arr.sex[r]), codes=codes[r])
    if mode != "duplicates":
        bt = compile_block(model, spec.sex_dependent, mode, blk)
    g = bt.groups[0]
    log_tab, incons = g.log_tab, g.incons     # materialised before the clock (gathered rows)
    t0 = time.perf_counter()
    scores_numpy(log_tab, incons, g.typed, g.offsets, qg, 1 if mode in ("identity", "duplicates") else 0)
    dt = time.perf_counter() - t0
    return len(q) * len(g) / dt


def _spec(m, ft, ds):
    from engine.job import parse_mutation
    from engine.model import ModelSpec

    loci = m["model"]["loci"]
    return ModelSpec(ft, tuple(loci), parse_mutation(m["job"]["model"]["mutation"]),
                     m["job"]["model"]["theta"], {l: list(ds.alleles[l]) for l in loci})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=20000)
    ap.add_argument("--references", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--keep", help="directory to keep the dataset and results in")
    ap.add_argument("--case-shapes", default="mixed", choices=("mixed", "couples"),
                    help="reference cases: mixed (trio, father-only, sibling-only) or couples only")
    ap.add_argument("--chance", default="exact", choices=("exact", "none"),
                    help="report.chance_method of the runs (none: time the search alone; the "
                         "chance-hit expectation costs a fixed time per mode, report.chance_units "
                         "tables)")
    ap.add_argument("--dropout", default="off",
                    help="comma-separated [model] dropout settings, each run on the same data: "
                         "off, a number (every sample), estimate (each sample's own estimate); "
                         "e.g. off,0.05,estimate: the speed with the dropout model on and off")
    args = ap.parse_args(argv)
    import engine

    work = Path(args.keep or tempfile.mkdtemp(prefix="strkin-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    ds = work / "profiles"
    if not ds.exists():
        t0 = time.perf_counter()
        formats.write_profiles(ds, simulate(args.queries, args.references, shapes=args.case_shapes))
        print(f"simulated and wrote {args.queries} queries + ~{args.references} references in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows = []
    settings = [d.strip() for d in args.dropout.split(",") if d.strip()]
    for mode, drop in [(m, d) for m in args.modes.split(",") for d in settings]:
        out = work / f"results-{mode}"
        shutil.rmtree(out, ignore_errors=True)
        dmodel = {} if drop == "off" else {"dropout": drop if drop == "estimate" else float(drop)}
        job = {"inputs": {"queries": str(ds), "references": str(ds)},
               "model": {"theta": 0.0, "mutation": dict(MUTATION), **dmodel},
               "search": {"modes": [mode], "threshold": 1e4, "top_k": 10, "max_inconsistent": 1},
               "output": {"path": str(out)},
               "execution": {"threads": args.threads, "progress": False},
               "report": {"chance_method": args.chance}}
        cpu0, wall0 = time.process_time(), time.perf_counter()
        res = engine.run(job)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        st = res.manifest["run"]["modes"][mode]
        secs = res.manifest["run"]["timings_s"]["search_s"]
        L = res.manifest["run"]["loci"]
        np_rate = numpy_rate(res, mode)
        rows.append({
            "mode": mode, "dropout": drop, "pairs": st["pairs"], "search_s": secs,
            "pairs_per_s": st["pairs"] / secs, "locus_evals_per_s": st["pairs"] * L / secs,
            "lookups_per_pair": st["locus_lookups"] / max(1, st["pairs_scored"]),
            "numpy_pairs_per_s_1thread": np_rate, "numpy_locus_evals_per_s": np_rate * L,
            "hits": int(sum(1 for h in res.hits.column("mode").to_pylist() if h == mode)),
            # CPU seconds the whole run got (all threads) per second of its wall time: on a
            # shared machine below the thread count; pairs per CPU-second x cores is what
            # free cores would give
            "run_wall_s": wall, "run_cpu_s": cpu, "cpu_share": cpu / wall,
            # the rest of the whole run: loading the inputs, planning, writing the results
            **{k: res.manifest["run"]["timings_s"].get(k) for k in ("prepare_s", "plan_s", "write_s")},
            "pairs_per_cpu_s": st["pairs"] / cpu,
        })
        print(json.dumps(rows[-1]), file=sys.stderr)
    if args.markdown:
        print(f"| mode | dropout | pairs | search s | pairs/s | locus-evals/s | lookups/pair | CPU share | "
              f"pairs per CPU-s | NumPy pairs/s (1 thread) | NumPy locus-evals/s | "
              f"speed-up vs NumPy x{args.threads} threads | whole run s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['mode']} | {r['dropout']} | {r['pairs']:.3g} | {r['search_s']:.1f} | {r['pairs_per_s']:.3g} | "
                  f"{r['locus_evals_per_s']:.3g} | {r['lookups_per_pair']:.2f} | {r['cpu_share']:.2f} | "
                  f"{r['pairs_per_cpu_s']:.3g} | "
                  f"{r['numpy_pairs_per_s_1thread']:.3g} | {r['numpy_locus_evals_per_s']:.3g} | "
                  f"{r['pairs_per_s'] / (r['numpy_pairs_per_s_1thread'] * args.threads):.1f} | "
                  f"{r['run_wall_s']:.1f} |")
    else:
        for r in rows:
            print(json.dumps(r))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
