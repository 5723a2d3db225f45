"""Recall, false hits and the calibration of posteriors, through the engine.

:func:`posterior_calibration` answers, per mode, on a simulated database with
planted relatives and partial profiles: how many planted relatives reach the
threshold (recall, full and partial profiles apart), how many hits land on a
wrong unit (false hits per query), and whether the ``posterior`` and
``posterior_min`` columns of ``hits.parquet`` mean what they say: of the hits
with posterior near p, are about p true?

1. **Data** (in memory with :class:`validation.simulate.PopulationSimulator`,
   written once with :func:`formats.write_profiles`): ``n_cases`` families with
   a missing child (the *query*; structures both-parents, father, mother,
   parent-sibling, grandparents, siblings, sibling, half-sibling),
   ``n_unrelated`` unrelated queries and ``n_unrelated_cases`` unrelated
   one-father cases; NIST 1036 founders first, the suite's stepwise mutation,
   CODIS 20 loci.  A fraction ``partial_fraction`` of every profile (queries and
   references alike) is made *partial*: a random 30-60 % of its loci are
   dropped (written untyped).
2. **Search**: :func:`engine.run`, modes ``case``, ``parent-child`` and
   ``full-sibling``, threshold ``1e4``, ``search.min_loci`` at its default (8),
   ``top_k`` 10; once at the default ``search.prior`` (0.5), and once per mode
   at the *calibrated* prior: the proportion of queries whose sought relative
   (their case; a parent; a full sibling) is in the database.
3. **Truth**: a hit is *true* when its unit is the query's planted relative in
   that mode: ``case`` -- the query's case; ``parent-child`` -- a reference
   that is a parent of the query; ``full-sibling`` -- a full sibling.  Every
   other hit is *false*, counted apart when it lands on another relative of
   the query's family (a sibling in parent-child mode, a parent or a half
   sibling in full-sibling mode).

What the posterior assumes (``docs/engine.md``, "The posterior of a hit"):
with probability ``prior`` exactly one of the N candidates compared is the
sought person, each equally likely, and every other candidate is unrelated.
In this simulation that holds for ``case`` mode.  In the pairwise modes a
query may have two true candidates (both parents; two siblings) and other
relatives (parents score high in full-sibling mode): there the posterior's
model is wrong by construction, and the tables show by how much.
"""
from __future__ import annotations

import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["CALIBRATION_MODES", "POSTERIOR_BINS", "DEFAULT_STRUCTURES", "simulate_partial_dataset",
           "posterior_calibration", "calibration_markdown", "write_calibration"]

CALIBRATION_MODES = ("case", "parent-child", "full-sibling")

#: posterior bins [lo, hi); the last is closed
POSTERIOR_BINS = (0.0, 0.1, 0.5, 0.9, 0.99, 1.0)

DEFAULT_STRUCTURES = {"both-parents": 0.3, "father": 0.15, "mother": 0.1, "parent-sibling": 0.1,
                      "grandparents": 0.1, "siblings": 0.1, "sibling": 0.1, "half-sibling": 0.05}

#: the roles of a query's family that are a true candidate, per pairwise mode
_TRUE_ROLES = {"parent-child": ("father", "mother"), "full-sibling": ("sib", "sib2")}


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------
def simulate_partial_dataset(out, n_cases: int, n_unrelated: int, n_unrelated_cases: int, *,
                             loci=None, proportions=None, mutation="default", partial_fraction: float = 0.2,
                             drop=(0.3, 0.6), seed: int = 1) -> dict:
    """Simulate (in memory) and write a profile dataset at ``out``; a random
    ``partial_fraction`` of the profiles lose a random ``drop[0]..drop[1]`` share
    of their loci.  Returns the truth as arrays (``sample_id``, ``kind``,
    ``case_id`` (a planted query's true case), ``role``, ``structure``,
    ``family``, ``partial``, ``typed`` (bool, profiles x loci)) and counts."""
    import formats
    import kinship

    from .simulate import PopulationSimulator, _concat
    from .suite import CODIS20, default_mutation

    t0 = time.perf_counter()
    loci = tuple(loci or CODIS20)
    mut = default_mutation() if mutation == "default" else mutation
    ft = kinship.FrequencyTable.load("nist1036_all")
    sim = PopulationSimulator(ft, loci, mut, "nist", seed)
    blk = _concat(list(sim.blocks(n_cases, n_unrelated, proportions or DEFAULT_STRUCTURES, n_unrelated_cases)))
    n, L = len(blk), len(sim.loci)
    rng = np.random.default_rng([seed, 77])
    partial = rng.random(n) < partial_fraction
    g = blk.genotypes.copy()
    typed = np.ones((n, L), dtype=bool)
    idx = np.nonzero(partial)[0]
    k_drop = np.rint(rng.uniform(drop[0], drop[1], size=len(idx)) * L).astype(int)
    for i, k in zip(idx.tolist(), k_drop.tolist()):
        gone = rng.choice(L, size=k, replace=False)
        typed[i, gone] = False
        g[i, gone, :] = -1
    t_sim = time.perf_counter() - t0
    arr = formats.ProfileArrays(blk.sample_id, blk.kind, np.where(blk.kind == "query", "", blk.case_id),
                                blk.relation, blk.sex, np.full(n, "", dtype=object), sim.loci, sim.alleles, g)
    formats.write_profiles(out, arr, provenance={"simulation": {"calibration": True, **sim.describe()}})
    t_write = time.perf_counter() - t0 - t_sim
    return {"sample_id": blk.sample_id, "kind": blk.kind, "case_id": blk.case_id, "role": blk.role,
            "structure": blk.structure, "family": blk.family, "partial": partial, "typed": typed,
            "loci": list(sim.loci), "n_profiles": int(n), "seconds_simulate": round(t_sim, 2),
            "seconds_write": round(t_write, 2), "describe": sim.describe()}


# --------------------------------------------------------------------------------------
# truth per mode
# --------------------------------------------------------------------------------------
class _Truth:
    """Lookups from the simulated truth: queries, references and cases."""

    def __init__(self, t: dict):
        self.t = t
        q = t["kind"] == "query"
        r = ~q
        self.q_ids = t["sample_id"][q]
        self.q_row = {s: i for i, s in enumerate(t["sample_id"].tolist())}
        self.n_queries = int(q.sum())
        self.ref_rows = np.nonzero(r)[0]
        self.case_rows: dict = {}
        for i in self.ref_rows.tolist():
            self.case_rows.setdefault(t["case_id"][i], []).append(i)
        # references of each family by role
        self.fam_refs: dict = {}
        for i in self.ref_rows.tolist():
            f = int(t["family"][i])
            if f >= 0:
                self.fam_refs.setdefault(f, []).append(i)

    def units(self, mode):
        """Reference units of a mode: case ids, or reference sample ids."""
        if mode == "case":
            return list(self.case_rows)
        return self.t["sample_id"][self.ref_rows].tolist()

    def true_units(self, mode, qi):
        """The query's true units in ``mode`` (a list, possibly empty)."""
        t = self.t
        f = int(t["family"][qi])
        if f < 0:
            return []
        if mode == "case":
            return [t["case_id"][qi]]
        roles = _TRUE_ROLES[mode]
        return [t["sample_id"][i] for i in self.fam_refs.get(f, []) if t["role"][i] in roles]

    def related_unit(self, mode, qi, unit) -> bool:
        """``unit`` belongs to the query's family (a relative of the query)."""
        t = self.t
        f = int(t["family"][qi])
        if f < 0:
            return False
        if mode == "case":
            return unit == t["case_id"][qi]
        ri = self.q_row.get(unit)
        return ri is not None and int(t["family"][ri]) == f

    def unit_typed(self, mode, unit):
        t = self.t
        if mode == "case":
            rows = self.case_rows[unit]
            return t["typed"][rows].any(axis=0), bool(t["partial"][rows].any())
        i = self.q_row[unit]
        return t["typed"][i], bool(t["partial"][i])


# --------------------------------------------------------------------------------------
# measures
# --------------------------------------------------------------------------------------
def _bins(post: np.ndarray, true: np.ndarray, edges=POSTERIOR_BINS) -> list[dict]:
    out = []
    for k in range(len(edges) - 1):
        lo, hi = edges[k], edges[k + 1]
        m = (post >= lo) & ((post < hi) if k < len(edges) - 2 else (post <= hi))
        n = int(m.sum())
        nt = int(true[m].sum())
        f = nt / n if n else float("nan")
        se = math.sqrt(f * (1 - f) / n) if n else float("nan")
        out.append({"lo": lo, "hi": hi, "hits": n, "true": nt, "fraction_true": f, "se": se,
                    "mean_posterior": float(post[m].mean()) if n else float("nan")})
    return out


def _calibration(post, true) -> dict:
    post = np.asarray(post, dtype=float)
    true = np.asarray(true, dtype=bool)
    exp = float(post.sum())
    var = float((post * (1 - post)).sum())
    return {"bins": _bins(post, true), "hits": int(len(post)), "true": int(true.sum()),
            "expected_true": exp, "z": (int(true.sum()) - exp) / math.sqrt(var) if var > 0 else 0.0,
            "brier": float(np.mean((post - true) ** 2)) if len(post) else float("nan")}


def _mode_measures(mode, hits, truth: _Truth, threshold, n_units, min_loci=8) -> dict:
    """Recall, false hits and calibration of one mode's hits (a pyarrow table)."""
    t = truth.t
    lt = math.log10(threshold)
    qid = hits.column("query_id").to_pylist()
    unit = hits.column("case_id" if mode == "case" else "reference_id").to_pylist()
    l10 = hits.column("log10_lr").to_numpy()
    post = hits.column("posterior").to_numpy()
    pmin = hits.column("posterior_min").to_numpy()
    qrows = np.array([truth.q_row[q] for q in qid], dtype=np.int64)
    true_sets = {}
    is_true = np.zeros(len(qid), dtype=bool)
    on_rel = np.zeros(len(qid), dtype=bool)
    for k, (qi, u) in enumerate(zip(qrows.tolist(), unit)):
        if qi not in true_sets:
            true_sets[qi] = set(truth.true_units(mode, qi))
        is_true[k] = u in true_sets[qi]
        on_rel[k] = (not is_true[k]) and truth.related_unit(mode, qi, u)
    hit_at = {(qi, u) for qi, u, s in zip(qrows.tolist(), unit, l10.tolist()) if s >= lt}
    # recall over planted (query, true unit) pairs
    q_all = np.nonzero(t["kind"] == "query")[0]
    rows = {"full": [0, 0], "partial": [0, 0]}
    below_min = 0
    n_true_cand = np.zeros(len(t["kind"]), dtype=np.int64)
    for qi in q_all.tolist():
        tu = truth.true_units(mode, qi)
        n_true_cand[qi] = len(tu)
        for u in tu:
            typed_u, part_u = truth.unit_typed(mode, u)
            part = bool(t["partial"][qi]) or part_u
            key = "partial" if part else "full"
            rows[key][0] += 1
            rows[key][1] += int((qi, u) in hit_at)
            if int((t["typed"][qi] & typed_u).sum()) < min_loci:
                below_min += 1
    n_q = truth.n_queries
    n_with = int((n_true_cand[q_all] > 0).sum())
    n_false = int((~is_true).sum())
    multi = n_true_cand[qrows] >= 2
    res = {
        "mode": mode, "n_queries": n_q, "n_units": int(n_units),
        "queries_with_relative": n_with, "queries_with_two_or_more": int((n_true_cand[q_all] >= 2).sum()),
        "calibrated_prior": n_with / n_q,
        "planted_pairs_full": rows["full"][0], "recall_full": rows["full"][1] / max(rows["full"][0], 1),
        "planted_pairs_partial": rows["partial"][0],
        "recall_partial": rows["partial"][1] / max(rows["partial"][0], 1),
        "planted_pairs_below_min_loci": below_min,
        "recall": (rows["full"][1] + rows["partial"][1]) / max(rows["full"][0] + rows["partial"][0], 1),
        "hits": int(len(qid)), "true_hits": int(is_true.sum()),
        "false_hits": n_false, "false_hits_on_relatives": int(on_rel.sum()),
        "false_hits_per_query": n_false / n_q,
        "false_hits_unrelated_per_query": (n_false - int(on_rel.sum())) / n_q,
        "posterior": _calibration(post, is_true), "posterior_min": _calibration(pmin, is_true),
        "posterior_one_relative": _calibration(post[~multi & ~on_rel], is_true[~multi & ~on_rel]),
    }
    return res


# --------------------------------------------------------------------------------------
# the whole measurement
# --------------------------------------------------------------------------------------
def _run_engine(data, out, modes, prior, threshold, top_k, mutation, chance, threads):
    import engine

    from .suite import _mutation_value

    job = {"inputs": {"queries": str(data), "references": str(data), "frequencies": "nist1036_all"},
           "model": {"theta": 0.0, "mutation": _mutation_value(mutation)},
           "search": {"modes": list(modes), "threshold": float(threshold), "top_k": int(top_k),
                      "prior": float(prior)},
           "report": {"relationships": "none", "chance_method": "exact" if chance else "none"},
           "output": {"path": str(out), "overwrite": True},
           "execution": {"progress": False, **({"threads": int(threads)} if threads else {})}}
    t0 = time.perf_counter()
    res = engine.run(job)
    return res, time.perf_counter() - t0


def posterior_calibration(n_cases: int = 15_000, n_unrelated: int = 40_000, n_unrelated_cases: int = 25_000, *,
                          modes=CALIBRATION_MODES, threshold: float = 1e4, top_k: int = 10,
                          partial_fraction: float = 0.2, drop=(0.3, 0.6), proportions=None,
                          mutation="default", seed: int = 1, work=None, threads=None,
                          progress=print) -> dict:
    """Simulate, search and measure (see the module doc); returns a JSON-able dict.

    Defaults: 15,000 families, 40,000 unrelated queries and 25,000 unrelated
    cases: about 104,000 profiles on CODIS 20."""
    import pyarrow.compute as pc

    from .suite import default_mutation

    mut = default_mutation() if mutation == "default" else mutation
    say = progress or (lambda *a, **k: None)
    t_all = time.perf_counter()
    tmp = tempfile.TemporaryDirectory() if work is None else None
    root = Path(work if work is not None else tmp.name)
    try:
        data = root / "profiles"
        sim = simulate_partial_dataset(data, n_cases, n_unrelated, n_unrelated_cases,
                                       proportions=proportions, mutation=mut,
                                       partial_fraction=partial_fraction, drop=drop, seed=seed)
        say(f"simulated {sim['n_profiles']} profiles in {sim['seconds_simulate']} s, "
            f"written in {sim['seconds_write']} s")
        truth = _Truth(sim)
        n_units = {m: len(truth.units(m)) for m in modes}
        # the calibrated prior of each mode: queries whose sought relative is in the data
        cal = {}
        for m in modes:
            n_with = sum(1 for qi in np.nonzero(sim["kind"] == "query")[0].tolist() if truth.true_units(m, qi))
            cal[m] = n_with / truth.n_queries
        runs = []
        res, secs = _run_engine(data, root / "results-prior-0.5", modes, 0.5, threshold, top_k, mut, True,
                                threads)
        say(f"engine, prior 0.5, modes {', '.join(modes)}: {secs:.1f} s")
        runs.append({"prior": "0.5", "modes": list(modes), "seconds": round(secs, 1),
                     "timings_s": res.manifest.get("run", {}).get("timings_s")})
        base = {m: res.hits.filter(pc.equal(res.hits.column("mode"), m)) for m in modes}
        chance = res.manifest.get("chance_hits", {})
        per_mode = {}
        for m in modes:
            r = _mode_measures(m, base[m], truth, threshold, n_units[m])
            ch = chance.get(m, {})
            r["expected_chance_hits_per_query"] = _chance_at(ch, threshold, truth.n_queries)
            r["prior_0.5"] = {k: r.pop(k) for k in ("posterior", "posterior_min", "posterior_one_relative")}
            res_c, secs = _run_engine(data, root / f"results-{m}-calibrated", [m], cal[m], threshold, top_k,
                                      mut, False, threads)
            say(f"engine, mode {m}, calibrated prior {cal[m]:.4f}: {secs:.1f} s")
            runs.append({"prior": "calibrated", "modes": [m], "value": cal[m], "seconds": round(secs, 1),
                         "timings_s": res_c.manifest.get("run", {}).get("timings_s")})
            hc = res_c.hits.filter(pc.equal(res_c.hits.column("mode"), m))
            same = (hc.num_rows == base[m].num_rows
                    and np.array_equal(hc.column("log10_lr").to_numpy(), base[m].column("log10_lr").to_numpy()))
            rc = _mode_measures(m, hc, truth, threshold, n_units[m])
            r["calibrated"] = {k: rc[k] for k in ("posterior", "posterior_min", "posterior_one_relative")}
            r["calibrated"]["prior"] = cal[m]
            r["same_hits_both_priors"] = bool(same)
            per_mode[m] = r
    finally:
        if tmp is not None:
            tmp.cleanup()
    return {"config": {"n_cases": n_cases, "n_unrelated": n_unrelated, "n_unrelated_cases": n_unrelated_cases,
                       "modes": list(modes), "threshold": threshold, "top_k": top_k, "min_loci": 8,
                       "partial_fraction": partial_fraction, "drop": list(drop),
                       "proportions": proportions or DEFAULT_STRUCTURES, "seed": seed,
                       "loci": sim["loci"], "mutation": None if mut is None else mut.describe(),
                       "frequencies": "nist1036_all", "founders": "nist (then drawn)"},
            "n_profiles": sim["n_profiles"], "n_queries": truth.n_queries,
            "n_references": int(len(truth.ref_rows)), "n_partial": int(sim["partial"].sum()),
            "modes": per_mode, "runs": runs,
            "seconds": {"simulate": sim["seconds_simulate"], "write": sim["seconds_write"],
                        "total": round(time.perf_counter() - t_all, 1)},
            "machine": _machine()}


def _machine() -> dict:
    import importlib.metadata as md

    out = {"platform": platform.platform(), "python": platform.python_version(),
           "cpus": os.cpu_count()}
    try:
        out["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        pass
    for pkg in ("strkin", "numpy", "numba", "pyarrow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            out[pkg] = None
    return out


def _chance_at(ch: dict, threshold, n_queries):
    for row in ch.get("thresholds", ch.get("rows", [])) or []:
        if abs(float(row.get("threshold", row.get("lr", -1))) - threshold) <= 1e-9 * threshold:
            e = row.get("expected")
            return None if e is None else float(e) / n_queries
    return None


# --------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------
def _f(x, nd=3):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _bin_label(b):
    return f"[{b['lo']:g}, {b['hi']:g}{']' if b['hi'] >= 1.0 else ')'}"


def _cal_table(c: dict) -> list[str]:
    lines = ["| posterior | hits | true | fraction true ± se | mean posterior |", "|---|---|---|---|---|"]
    for b in c["bins"]:
        ft = "–" if not b["hits"] else f"{b['fraction_true']:.3f} ± {b['se']:.3f}"
        lines.append(f"| {_bin_label(b)} | {b['hits']} | {b['true']} | {ft} | {_f(b['mean_posterior'])} |")
    lines.append(f"| all | {c['hits']} | {c['true']} | sum of posteriors {c['expected_true']:.1f} "
                 f"(z {c['z']:+.1f}) | Brier {_f(c['brier'])} |")
    return lines


def calibration_markdown(r: dict) -> str:
    cfg = r["config"]
    m0 = next(iter(r["modes"].values()))
    lines = [
        "# Recall, false hits and calibrated posteriors, through the engine", "",
        f"`kinship validate --calibration` (`validation/calibration.py`): {r['n_profiles']:,} simulated "
        f"profiles on {len(cfg['loci'])} loci (CODIS 20), {r['n_queries']:,} queries and "
        f"{r['n_references']:,} references: {cfg['n_cases']:,} families with a planted missing child "
        f"(structures {', '.join(f'{k} {v:g}' for k, v in cfg['proportions'].items())}), "
        f"{cfg['n_unrelated']:,} unrelated queries, {cfg['n_unrelated_cases']:,} unrelated one-father cases; "
        f"{r['n_partial']:,} profiles ({cfg['partial_fraction']:.0%} of queries and references) partial: "
        f"{cfg['drop'][0]:.0%}–{cfg['drop'][1]:.0%} of their loci dropped. NIST 1036 founders, stepwise "
        f"mutation (simulated and scored), seed {cfg['seed']}. Engine: threshold {cfg['threshold']:g}, "
        f"`min_loci` {cfg['min_loci']}, `top_k` {cfg['top_k']}.", "",
        "A hit is *true* when its unit is the query's planted relative in that mode (case: the query's "
        "case; parent-child: a parent; full-sibling: a full sibling). *Calibrated prior*: the proportion "
        "of queries whose sought relative is in the database.", "",
        "## Recall and false hits", "",
        "| mode | candidates N | planted pairs full / partial | recall full | recall partial "
        "(pairs < min_loci) | false hits per query: all / on unrelated | expected chance hits per query "
        "(engine) |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, v in r["modes"].items():
        lines.append(
            f"| {m} | {v['n_units']:,} | {v['planted_pairs_full']:,} / {v['planted_pairs_partial']:,} | "
            f"{v['recall_full']:.3f} | {v['recall_partial']:.3f} ({v['planted_pairs_below_min_loci']}) | "
            f"{v['false_hits_per_query']:.2e} / {v['false_hits_unrelated_per_query']:.2e} | "
            f"{_e(v.get('expected_chance_hits_per_query'))} |")
    lines += ["", "False hits on relatives (the rest): another relative of the query's family "
              "(a sibling in parent-child mode, a parent or half sibling in full-sibling mode). The "
              "engine's expectation assumes fully typed candidates.", ""]
    for m, v in r["modes"].items():
        lines += [f"## {m}", "",
                  f"{v['hits']:,} hits, {v['true_hits']:,} true, {v['false_hits_on_relatives']:,} on other "
                  f"relatives; {v['queries_with_relative']:,} of {v['n_queries']:,} queries have a sought "
                  f"relative in the database ({v['queries_with_two_or_more']:,} have two); calibrated prior "
                  f"{v['calibrated']['prior']:.4f}.", ""]
        for key, title in (("prior_0.5", "prior 0.5 (default)"),
                           ("calibrated", f"calibrated prior {v['calibrated']['prior']:.4f}")):
            for col, what in (("posterior", "`posterior`"), ("posterior_min", "`posterior_min`"),
                              ("posterior_one_relative", "`posterior`, hits of queries with at most one "
                                                         "sought relative, not on another relative")):
                if col == "posterior_min" and key == "calibrated":
                    what += " (hardly depends on the prior)"
                lines += [f"**{what}, {title}**", ""] + _cal_table(v[key][col]) + [""]
    lines += ["## Time", "", f"Simulation {r['seconds']['simulate']} s, writing {r['seconds']['write']} s; "
              "engine runs: " + "; ".join(f"{', '.join(x['modes'])} at prior "
                                          f"{x['prior'] if x['prior'] == '0.5' else round(x['value'], 4)}: "
                                          f"{x['seconds']} s" for x in r["runs"])
              + f"; total {r['seconds']['total']} s. Machine: {r['machine']['platform']}, "
              f"{r['machine'].get('cpus_usable', r['machine']['cpus'])} CPUs usable, strkin "
              f"{r['machine'].get('strkin')}.", ""]
    del m0
    return "\n".join(lines)


def _e(x):
    return "–" if x is None else f"{x:.2e}"


def write_calibration(r: dict, out) -> list[Path]:
    """``calibration.json`` and ``calibration.md`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pj, pm = out / "calibration.json", out / "calibration.md"
    pj.write_text(json.dumps(r, indent=1, default=_json_default, allow_nan=True) + "\n", encoding="utf-8")
    pm.write_text(calibration_markdown(r), encoding="utf-8")
    return [pm, pj]


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x))
