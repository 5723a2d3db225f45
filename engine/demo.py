"""``kinship demo``: a multi-mode search on demo data derived from real genotypes.

The demo dataset is generated deterministically from a seed in a few seconds
(:func:`build_demo`): founders are the bundled NIST 1036 U.S. population
genotypes (public domain, ``kinship/data/genotypes``), and
:class:`kinship.simulate.FamilySimulator` builds missing-child families around
them (trios, duos, a parent and a sibling, grandparents, two siblings) with
stepwise mutation.  On top of the families the demo adds

* unrelated queries and unrelated reference cases (no planted child),
* direct samples of two missing persons (relation ``self``, e.g. a toothbrush)
  of two otherwise unrelated queries: identity hits,
* three queries typed twice, the second time with an allele dropped out at one
  locus: duplicate hits (``max_inconsistent = 1``).

The search runs every mode the demo needs (``case``, ``parent-child``,
``full-sibling``, ``identity``, ``duplicates``) and the truth table says which
hits were planted.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["build_demo", "run_demo", "DEMO_LOCI", "DEMO_MUTATION"]

#: CODIS core 20 plus Penta D and Penta E: typed in every NIST 1036 profile
DEMO_LOCI = (
    "CSF1PO", "D10S1248", "D12S391", "D13S317", "D16S539", "D18S51", "D19S433", "D1S1656",
    "D21S11", "D22S1045", "D2S1338", "D2S441", "D3S1358", "D5S818", "D7S820", "D8S1179", "FGA",
    "Penta D", "Penta E", "TH01", "TPOX", "vWA",
)
DEMO_MUTATION = {"model": "stepwise", "rate": 0.002, "rate2": 1e-6, "range": 0.1}
_MARKER = "strkin-demo.json"
_SEX = {"male": "M", "female": "F"}


def build_demo(directory, seed: int = 2024, n_cases: int = 30, n_unrelated: int = 30,
               n_unrelated_references: int = 10) -> dict:
    """Write the demo profile dataset and job into ``directory``; returns the truth
    table ``{query_id: {"mode": ..., "target": ...}}``."""
    import numpy as np

    import formats
    import kinship
    from kinship.simulate import FamilySimulator, load_nist_genotypes

    directory = Path(directory)
    ft = kinship.FrequencyTable.load("nist1036_all")
    from .job import parse_mutation

    mut = parse_mutation(DEMO_MUTATION)
    sim = FamilySimulator(ft, DEMO_LOCI, mutation=mut, founders=load_nist_genotypes(), seed=seed)
    samples, truth_cases = sim.population(n_cases, n_unrelated=n_unrelated,
                                          n_unrelated_references=n_unrelated_references)
    rng = np.random.default_rng(seed + 1)
    profiles = [formats.Profile(s.sample_id, s.genotypes, s.kind, s.case_id, s.relation,
                                _SEX[s.sex], "GlobalFiler") for s in samples]
    truth = {q: {"mode": "case", "target": c, "structure": st} for q, (c, st) in truth_cases.items()}
    unrelated = [p for p in profiles if p.kind == "query" and p.sample_id.startswith("U")]
    # direct samples (relation 'self') of two missing persons
    for k, p in enumerate(unrelated[:2]):
        cid = f"T{k:02d}"
        profiles.append(formats.Profile(f"{cid}-self", dict(p.genotypes), "reference", cid, "self",
                                        p.sex, "GlobalFiler"))
        truth[p.sample_id] = {"mode": "identity", "target": f"{cid}-self"}
    # three queries typed twice; the second typing lost an allele at one locus
    planted = [p for p in profiles if p.kind == "query" and p.sample_id in truth_cases]
    for p in planted[:3]:
        g = dict(p.genotypes)
        het = [l for l, (a, b) in sorted(g.items()) if a != b]
        if het:
            l = het[int(rng.integers(len(het)))]
            g[l] = (g[l][0], g[l][0])
        dup = f"{p.sample_id}-retyped"
        profiles.append(formats.Profile(dup, g, "query", "", "", p.sex, "GlobalFiler"))
        truth[dup] = {"mode": "duplicates", "target": p.sample_id}
    ds = directory / "profiles"
    formats.write_profiles(ds, profiles, provenance={"demo": {"seed": seed, "n_cases": n_cases,
                                                              "founders": "NIST 1036 U.S. population"}})
    return truth


def demo_job(directory) -> dict:
    directory = Path(directory)
    return {
        "inputs": {"queries": str(directory / "profiles"), "references": str(directory / "profiles"),
                   "frequencies": "nist1036_all"},
        "model": {"theta": 0.0, "mutation": dict(DEMO_MUTATION)},
        "search": {"modes": ["case", "parent-child", "full-sibling", "identity", "duplicates"],
                   "threshold": 1e4, "top_k": 3, "max_inconsistent": 1},
        "output": {"path": str(directory / "results")},
    }


def _write_job_toml(path: Path, job: dict):
    lines = []
    for sec, d in job.items():
        lines.append(f"[{sec}]")
        for k, x in d.items():
            lines.append(f"{k} = {_toml(x)}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _toml(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float)):
        return repr(x)
    if isinstance(x, str):
        return json.dumps(x)
    if isinstance(x, list):
        return "[" + ", ".join(_toml(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in x.items()) + "}"
    raise TypeError(type(x))


def run_demo(out="demo-results", seed: int = 2024, n_cases: int = 30, progress=None):
    """Generate (or regenerate) the demo under ``out`` and run the search.

    Returns ``(RunResult, truth)``.  ``out`` must be new, empty, or an earlier demo
    directory (recognised by its ``strkin-demo.json``); nothing else is deleted.
    """
    from .api import run
    from .errors import OutputError

    out = Path(out)
    marker = out / _MARKER
    if out.exists() and any(out.iterdir()):
        if not marker.exists():
            raise OutputError(
                f"{out} exists and is not a demo directory; give kinship demo --out a new or "
                f"empty directory"
            )
        for name in ("profiles", "results"):
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    truth = build_demo(out, seed=seed, n_cases=n_cases)
    job = demo_job(out.resolve())
    _write_job_toml(out / "job.toml", {**job, "output": {"path": "results"},
                                       "inputs": {**job["inputs"], "queries": "profiles",
                                                  "references": "profiles"}})
    marker.write_text(json.dumps({"seed": seed, "n_cases": n_cases}) + "\n", encoding="utf-8")
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    res = run(out / "job.toml", progress=progress)
    return res, truth


def truth_report(hits, truth: dict) -> list:
    """How many planted relationships the search ranked first."""
    rows = hits.to_pylist()
    best = {}
    for r in rows:
        if r["rank"] == 1:
            best[(r["mode"], r["query_id"])] = r["case_id"] if r["mode"] == "case" else r["reference_id"]
    lines = []
    for mode in ("case", "identity", "duplicates"):
        planted = {q: t for q, t in truth.items() if t["mode"] == mode}
        found = sum(1 for q, t in planted.items() if best.get((mode, q)) == t["target"])
        lines.append(f"{mode}: {found} of {len(planted)} planted relationships ranked first")
    return lines
