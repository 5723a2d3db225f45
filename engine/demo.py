"""``kinship demo``: a multi-mode search on demo data derived from real genotypes.

The demo dataset is generated deterministically from a seed in a few seconds
(:func:`build_demo`): founders are the bundled NIST 1036 U.S. population
genotypes (public domain, ``kinship/data/genotypes``), and
:class:`kinship.simulate.FamilySimulator` builds missing-child families around
them (trios, duos, a parent and a sibling, grandparents, two siblings) with
stepwise mutation.  On top of the families the demo adds

* unrelated queries and unrelated reference cases (no planted child),
* mother's-side families written with relation words (mother and maternal
  grandfather, mother and maternal half-sibling, both maternal grandparents,
  father with a maternal uncle and aunt), and a family drawn as a pedigree
  (stored with the dataset) with two missing children, their sister, mother and
  maternal grandmother: each query is compared as each missing child;
* a chance hit: a degraded sample of an unrelated man typed at 9 loci who shares
  the rarer allele of a planted child at each -- a case-mode hit at a high LR
  with a posterior near 0, because the child's own family explains the data;
* direct samples of two missing persons (relation ``self``, e.g. a toothbrush)
  of two otherwise unrelated queries: identity hits,
* three queries typed twice, the second time with an allele dropped out at one
  locus: duplicate hits (``max_inconsistent = 1``);
* a degraded sample: a child's remains typed with heavy allelic dropout (the
  paternal allele lost at 8 loci, nothing at 4 more), stated with dropout 0.3 in
  the demo's ``dropout.csv`` (``[model] dropout_samples``, ``docs/dropout.md``):
  against its typed parents it is an exclusion at 8 loci without the dropout
  model (missed) and a case-mode hit with it;
* a full sibling of a reference as a query, drawn so that it hits in
  ``parent-child`` mode (LR >= 10^4.5) while full siblings explain the pair
  better: the summary flags it (``best_relationship``, :mod:`engine.alternatives`);
* a mixed-up family (``MIX01``): the "father" is an unrelated man (a swapped
  sample) typed beside the real father's brother (``paternal-uncle``); the pair
  is not excluded at import (brothers share no obligate allele), and the
  reference consistency check flags the case (:mod:`engine.consistency`);
* a child who hits two families: ``JNT-C1-Q`` is the missing child of case
  ``JNT-A`` (both parents typed) and a grandchild of the paternal grandparents
  typed in case ``JNT-B``, whose own missing child ``JNT-C2-Q`` (C1's first
  cousin) is also among the queries; drawn so that both children hit ``JNT-B``
  (LR >= 10^4.5).  The one-to-one joint picture (:mod:`engine.joint`) assigns
  C1 to JNT-A and C2 to JNT-B, and leaves C1 -> JNT-B out;
* Y-STR haplotypes (Yfiler Plus) of the men: a simulated paternal population
  (:func:`kinship.ystr.simulate.simulate_population`, shipped mutation rates)
  gives each planted family's paternal line and the unrelated men; a male
  missing child's haplotype is his father's, grandfather's or brother's after
  the meioses between them (``profiles-y/``, population sample ``y-population/``).

The search runs every mode the demo needs (``case``, ``parent-child``,
``full-sibling``, ``identity``, ``duplicates``, ``y-lineage``) and the truth
table says which hits were planted; Y hits of a father or grandfather show the
LR combined with the case-mode LR.
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
#: mother's-side families of the demo (relation words of the samples manifest)
_MATERNAL = (
    (("mo", "mother"), ("mgf", "maternal-grandfather")),
    (("mo", "mother"), ("mhs", "maternal-half-sibling")),
    (("mgf", "maternal-grandfather"), ("mgm", "maternal-grandmother")),
    (("fa", "father"), ("mu", "maternal-uncle"), ("ma", "maternal-aunt")),
)
#: the demo's family drawn as a pedigree: two missing children K1, K2 of an untyped
#: father and a typed mother MO, their typed sister S and maternal grandmother GM
_TWO_MISSING = [
    {"id": "GF", "sex": "male"}, {"id": "GM", "sex": "female"},
    {"id": "MO", "father": "GF", "mother": "GM", "sex": "female"}, {"id": "FA", "sex": "male"},
    {"id": "K1", "father": "FA", "mother": "MO", "sex": "male"},
    {"id": "K2", "father": "FA", "mother": "MO", "sex": "female"},
    {"id": "S", "father": "FA", "mother": "MO", "sex": "female"},
]
_SEX = {"male": "M", "female": "F"}
#: the dropout probability stated for the demo's degraded sample (its dropout.csv)
DEGRADED_DROPOUT = 0.3
#: the demo's per-sample dropout file (``[model] dropout_samples``)
DROPOUT_SAMPLES = "dropout.csv"


def build_demo(directory, seed: int = 2024, n_cases: int = 30, n_unrelated: int = 30,
               n_unrelated_references: int = 10) -> dict:
    """Write the demo profile dataset and job into ``directory``; returns the truth
    table ``{query_id: {"mode": ..., "target": ...}}``."""
    import numpy as np

    import formats
    import kinship
    import kinship.cases
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
    # mother's-side families, written with relation words
    for k, words in enumerate(_MATERNAL):
        cid = f"MAT{k:02d}"
        q, refs = sim.relation_family(cid, words)
        for x in [q] + refs:
            profiles.append(formats.Profile(x.sample_id, x.genotypes, x.kind, x.case_id, x.relation,
                                            _SEX[x.sex], "GlobalFiler"))
        truth[q.sample_id] = {"mode": "case", "target": cid,
                              "structure": " + ".join(w for _, w in words)}
    # a family drawn as a pedigree, with two missing children
    fam = kinship.cases.Case.from_pedigree("FAM01", _TWO_MISSING, ("K1", "K2"),
                                           {p: f"FAM01-{p}" for p in ("MO", "GM", "S")},
                                           source="demo pedigree")
    qs, refs, missing_of = sim.case_family(fam)
    for x in qs + refs:
        profiles.append(formats.Profile(x.sample_id, x.genotypes, x.kind, x.case_id, x.relation,
                                        _SEX[x.sex], "GlobalFiler"))
    for q in qs:
        truth[q.sample_id] = {"mode": "case", "target": "FAM01", "missing": missing_of[q.sample_id],
                              "structure": "pedigree: mother, maternal grandmother, sister; two "
                                           "missing children"}
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
    # a full sibling of a reference as a query: in parent-child mode a hit that the
    # alternatives explain better as full siblings (engine.alternatives)
    q, r, lrs = _sibling_pair(sim, ft, mut)
    profiles.append(formats.Profile(q[0], q[1], "query", "", "", q[2], "GlobalFiler"))
    profiles.append(formats.Profile(r[0], r[1], "reference", "SIB01", "full-sibling", r[2],
                                    "GlobalFiler"))
    truth[q[0]] = {"mode": "parent-child", "target": r[0], "best": "full-sibling",
                   "structure": "a full sibling of the reference: parent-child LR >= 1e4, better "
                                "explained as full siblings",
                   "planted_log10_lr": {k: round(v, 2) for k, v in lrs.items()}}
    # a chance hit: a degraded sample of an unrelated man, typed at 9 loci, who shares
    # an allele with a planted child at each (the rarest ones): a case-mode hit at a
    # high LR whose posterior is low, because the child's own family explains the data
    _decoy(profiles, truth, truth_cases, sim, ft)
    _degraded(directory, profiles, truth, sim)
    _mixed_up(profiles, truth, sim)
    _two_families(profiles, truth, sim, ft, mut)
    _demo_y(directory, profiles, truth, truth_cases, seed)
    ds = directory / "profiles"
    formats.write_profiles(ds, profiles, provenance={"demo": {"seed": seed, "n_cases": n_cases,
                                                              "founders": "NIST 1036 U.S. population"}})
    formats.write_cases(ds, [fam])
    return truth


def _sibling_pair(sim, ft, mut, tries: int = 500):
    """Two full siblings (drawn by ``sim`` from one couple) whose parent-child LR is
    at least 10^4.5 and whose full-sibling LR is at least 10 times that (so that the
    search reports the pair in parent-child mode and the alternatives flag it);
    ``((query id, genotypes, sex), (reference id, genotypes, sex), {relationship:
    log10 LR})`` under the demo model's pair tables."""
    from kinship.search import ScoringModel

    from .alternatives import pair_alternatives

    model = ScoringModel(ft, DEMO_LOCI, mutation=mut,
                         extra_alleles={l: sim.systems[l].alleles for l in sim.loci})
    sexes = ["M", "F"]
    for _ in range(tries):
        fa, mo = sim.founder(), sim.founder()
        a, b = sim._observe(sim.child(fa, mo)), sim._observe(sim.child(fa, mo))
        g = model.genotype_indices(model.encode([b, a]))
        v = pair_alternatives(model, g[:1], g[1:], ["male"], rels=("parent-child", "full-sibling"))
        pc, fs = float(v["parent-child"][0]), float(v["full-sibling"][0])
        if pc >= 4.5 and fs >= pc + 1.0:
            sx = [sexes[int(sim.rng.integers(2))] for _ in range(2)]
            return (("SIB01-Q", a, sx[0]), ("SIB01-sib", b, sx[1]),
                    {"parent-child": pc, "full-sibling": fs})
    raise RuntimeError("no sibling pair with a parent-child LR >= 10^4.5 was drawn")  # pragma: no cover


#: relations whose Y haplotype a male missing child shares, with the meioses between them
_Y_RELATIONS = (("father", 1), ("grandfather", 2), ("full-sibling", 2), ("uncle", 3))


def _demo_y(directory: Path, profiles, truth, truth_cases, seed):
    """Y haplotypes of the demo's men (see the module doc)."""
    import numpy as np

    import formats
    from kinship.ystr import YMutationRates, get_panel
    from kinship.ystr.simulate import haplotypes_from_comparison, mutate, simulate_population

    panel = get_panel("Yfiler Plus")
    mu = YMutationRates.load().slot_rates(panel)
    pop = simulate_population(panel, mu, n_men=30_000, generations=1, n_founders=30_000, keep=1,
                              seed=seed)
    men = pop.cmp[0]
    rng = np.random.default_rng(seed + 2)
    order = rng.permutation(len(men))
    take = iter(order.tolist())
    by_id = {p.sample_id: p for p in profiles}
    refs, ref_meta, queries = [], {"case_id": [], "relation": []}, []
    for q, (case, _st) in sorted(truth_cases.items()):
        if by_id[q].sex != "M":
            continue
        rel = [p for p in profiles if p.kind == "reference" and p.case_id == case and p.sex == "M"]
        pick = next(((p, m) for r, m in _Y_RELATIONS for p in rel if p.relation == r), None)
        if pick is None:
            continue
        p, m = pick
        h = men[next(take)]
        refs.append((p.sample_id, h))
        ref_meta["case_id"].append(case)
        ref_meta["relation"].append(p.relation)
        queries.append((q, mutate(h[None], mu, rng, panel, m)[0]))
        truth[q]["y_target"] = p.sample_id
    for p in profiles:  # the other men: unrelated haplotypes
        if p.sex == "M" and p.kind == "query" and p.sample_id not in dict(queries):
            queries.append((p.sample_id, men[next(take)]))
    for i in range(300):  # unrelated reference men (a database)
        refs.append((f"YDB{i:04d}", men[next(take)]))
        ref_meta["case_id"].append(f"YDB{i:04d}")
        ref_meta["relation"].append("")
    yds = directory / "profiles-y"
    formats.write_y_haplotypes(
        yds, haplotypes_from_comparison(panel, np.array([h for _, h in refs]), [i for i, _ in refs]),
        {"kind": "reference", **ref_meta}, kit="Yfiler Plus")
    formats.write_y_haplotypes(
        yds, haplotypes_from_comparison(panel, np.array([h for _, h in queries]),
                                        [i for i, _ in queries]), {"kind": "query"}, kit="Yfiler Plus")
    rest = [next(take) for _ in range(1000)]
    formats.write_y_haplotypes(
        directory / "y-population",
        haplotypes_from_comparison(panel, men[rest], [f"P{i:04d}" for i in range(len(rest))]),
        {"kind": "reference", "case_id": "population"}, kit="Yfiler Plus")


def demo_job(directory) -> dict:
    directory = Path(directory)
    return {
        "inputs": {"queries": str(directory / "profiles"), "references": str(directory / "profiles"),
                   "frequencies": "nist1036_all", "y_queries": str(directory / "profiles-y"),
                   "y_references": str(directory / "profiles-y"),
                   "y_population": str(directory / "y-population")},
        "model": {"theta": 0.0, "mutation": dict(DEMO_MUTATION),
                  "dropout_samples": str(directory / DROPOUT_SAMPLES)},
        "search": {"modes": ["case", "parent-child", "full-sibling", "identity", "duplicates",
                             "y-lineage"],
                   "threshold": 1e4, "top_k": 3, "max_inconsistent": 1},
        "report": {"power": "exact"},
        "output": {"path": str(directory / "results")},
    }


def _write_job_toml(path: Path, job: dict):
    lines = []
    for sec, d in job.items():
        lines.append(f"[{sec}]")
        for k, x in d.items():
            lines.append(f"{k} = {_toml(x)}")
        lines.append("")
    _write_private(path, "\n".join(lines))


def _write_private(path: Path, text: str) -> None:
    """Write a demo file with the private file mode (:mod:`formats.perms`)."""
    from formats.dataset import _atomic_write_bytes

    _atomic_write_bytes(Path(path), text.encode("utf-8"))


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
        for name in ("profiles", "profiles-y", "y-population", "results"):
            shutil.rmtree(out / name, ignore_errors=True)
    from formats.perms import make_dir

    make_dir(out)
    truth = build_demo(out, seed=seed, n_cases=n_cases)
    job = demo_job(out.resolve())
    _write_job_toml(out / "job.toml", {**job, "output": {"path": "results"},
                                       "model": {**job["model"], "dropout_samples": DROPOUT_SAMPLES},
                                       "inputs": {**job["inputs"], "queries": "profiles",
                                                  "references": "profiles",
                                                  "y_queries": "profiles-y",
                                                  "y_references": "profiles-y",
                                                  "y_population": "y-population"}})
    _write_private(marker, json.dumps({"seed": seed, "n_cases": n_cases}) + "\n")
    _write_private(out / "truth.json", json.dumps(truth, indent=1, sort_keys=True) + "\n")
    res = run(out / "job.toml", progress=progress)
    return res, truth


def _degraded(directory: Path, profiles, truth, sim, n_dropped: int = 8, n_lost: int = 4):
    """Add the demo's degraded sample (see :func:`build_demo`): a child of a typed
    father and mother whose paternal allele dropped out at ``n_dropped`` loci (where
    the father does not carry the maternal allele: an apparent exclusion) and who
    shows nothing at ``n_lost`` more; its dropout is stated in ``dropout.csv``."""
    import formats

    fa, mo = sim.founder(), sim.founder()
    child = sim.child(fa, mo)           # (paternal, maternal) allele per locus
    g, dropped, lost = {}, [], []
    for l in DEMO_LOCI:
        p, m = child[l]
        if len(dropped) < n_dropped and p != m and m not in fa[l]:
            g[l] = (m, m)
            dropped.append(l)
        elif len(lost) < n_lost and len(dropped) >= n_dropped // 2:
            lost.append(l)
        else:
            g[l] = tuple(sorted((p, m), key=float))
    sex = ("M", "F")[int(sim.rng.integers(2))]
    profiles.append(formats.Profile("DEG01-remains", g, "query", "", "", sex, "GlobalFiler"))
    for who, geno, rel, sx in (("father", fa, "father", "M"), ("mother", mo, "mother", "F")):
        profiles.append(formats.Profile(f"DEG01-{who}", dict(geno), "reference", "DEG01", rel, sx,
                                        "GlobalFiler"))
    truth["DEG01-remains"] = {"mode": "case", "target": "DEG01", "dropout": DEGRADED_DROPOUT,
                              "structure": f"both parents; the child's remains with dropout "
                                           f"{DEGRADED_DROPOUT}: paternal allele lost at "
                                           f"{len(dropped)} loci, nothing at {len(lost)}"}
    _write_private(directory / DROPOUT_SAMPLES,
                   f"sample_id,dropout\nDEG01-remains,{DEGRADED_DROPOUT}\n")


def _decoy(profiles, truth, truth_cases, sim, ft, n_loci: int = 9):
    """Add the demo's chance hit (see :func:`build_demo`)."""
    import formats

    q = next(p for p in profiles if p.kind == "query" and truth_cases.get(p.sample_id, ("", ""))[1]
             == "both-parents")
    rare = sorted(q.genotypes, key=lambda l: min(ft.frequency(l, a) for a in q.genotypes[l]))[:n_loci]
    other = sim.founder()
    g = {}
    for l in rare:
        a = min(q.genotypes[l], key=lambda x: ft.frequency(l, x))
        g[l] = (a, other[l][0])
    profiles.append(formats.Profile("DECOY-father", g, "reference", "DECOY", "father", "M",
                                    "GlobalFiler"))
    truth["_chance_hit"] = {"mode": "chance-demo", "query": q.sample_id, "target": "DECOY",
                            "own_case": truth_cases[q.sample_id][0],
                            "structure": f"an unrelated man typed at {n_loci} loci sharing the "
                                         f"query's rarer allele at each"}


def _mixed_up(profiles, truth, sim):
    """The demo's mixed-up family (see :func:`build_demo`)."""
    import formats

    gf, gm = sim.founder(), sim.founder()
    fa, uncle = sim.child(gf, gm), sim.child(gf, gm)
    child = sim.child(fa, sim.founder())
    stranger = sim.founder()
    for sid, g, kind, rel, sex in (("MIX01-Q", child, "query", "", "M"),
                                   ("MIX01-father", stranger, "reference", "father", "M"),
                                   ("MIX01-uncle", uncle, "reference", "paternal-uncle", "M")):
        profiles.append(formats.Profile(sid, sim._observe(g), kind, "MIX01" if kind == "reference"
                                        else "", rel, sex, "GlobalFiler"))
    truth["_mixed_up"] = {"mode": "consistency", "target": "MIX01", "suspect": "MIX01-father",
                          "structure": "an unrelated 'father' (a swapped sample) beside the real "
                                       "father's brother"}


def _two_families(profiles, truth, sim, ft, mut, tries: int = 200):
    """The demo's child who hits two families (see :func:`build_demo`)."""
    import formats
    import kinship
    from kinship.cases import case_from_relations

    fa_b = case_from_relations("JNT-B", [("GF", "paternal-grandfather", "M"),
                                         ("GM", "paternal-grandmother", "F")])
    h1, h2 = fa_b.hypotheses("Q")
    for _ in range(tries):
        gf, gm = sim.founder(), sim.founder()
        s1, s2 = sim.child(gf, gm), sim.child(gf, gm)
        w1, w2 = sim.founder(), sim.founder()
        c1, c2 = sim.child(s1, w1), sim.child(s2, w2)
        obs = {k: sim._observe(g) for k, g in (("GF", gf), ("GM", gm), ("S1", s1), ("W1", w1),
                                               ("C1", c1), ("C2", c2))}
        lr = [kinship.likelihood_ratio(h1, h2, {"GF": obs["GF"], "GM": obs["GM"], "Q": obs[c]},
                                       ft, mutation=mut).total for c in ("C1", "C2")]
        if min(lr) >= 10 ** 4.5:
            break
    else:  # pragma: no cover
        raise RuntimeError("no pair of cousins hitting their grandparents' case was drawn")
    sex = ["M", "F"]
    for sid, k, kind, case, rel, sx in (
            ("JNT-C1-Q", "C1", "query", "", "", sex[int(sim.rng.integers(2))]),
            ("JNT-C2-Q", "C2", "query", "", "", sex[int(sim.rng.integers(2))]),
            ("JNT-A-father", "S1", "reference", "JNT-A", "father", "M"),
            ("JNT-A-mother", "W1", "reference", "JNT-A", "mother", "F"),
            ("JNT-B-pgf", "GF", "reference", "JNT-B", "paternal-grandfather", "M"),
            ("JNT-B-pgm", "GM", "reference", "JNT-B", "paternal-grandmother", "F")):
        profiles.append(formats.Profile(sid, obs[k], kind, case, rel, sx, "GlobalFiler"))
    truth["JNT-C1-Q"] = {"mode": "joint", "target": "JNT-A", "also_hits": "JNT-B",
                         "structure": "missing child of JNT-A; a grandchild of JNT-B's typed "
                                      "grandparents"}
    truth["JNT-C2-Q"] = {"mode": "joint", "target": "JNT-B",
                         "structure": "missing child of JNT-B (a first cousin of JNT-C1-Q)"}


def truth_report(hits, truth: dict, summary: str | None = None, consistency=None, joint=None) -> list:
    """How many planted relationships the search ranked first, and whether the
    planted sibling of a parent-child hit was flagged (its best relationship is
    full-sibling; ``summary``: the run's summary text, which lists it); with the
    run's ``consistency`` and ``joint`` tables, whether the mixed-up family was
    flagged and the child who hits two families resolved."""
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
    planted = {q: t["y_target"] for q, t in truth.items() if "y_target" in t}
    found = sum(1 for q, r in planted.items() if best.get(("y-lineage", q)) == r)
    lines.append(f"y-lineage: {found} of {len(planted)} planted paternal relatives ranked first")
    for q, t in sorted(truth.items()):
        if "best" not in t:
            continue
        hit = next((r for r in rows if r["mode"] == t["mode"] and r["query_id"] == q
                    and r["reference_id"] == t["target"]), None)
        if hit is None:
            lines.append(f"which relationship: {q} -> {t['target']} (planted {t['best']}) was not "
                         f"found in {t['mode']} mode")
            continue
        flagged = "yes" if hit["best_relationship"] == t["best"] != t["mode"] else "no"
        if flagged == "yes" and summary is not None:
            flagged += (" (listed)" if f"{q} -> {t['target']}: best {t['best']}" in summary
                        else " (counted, not among the hits listed)")
        lines.append(f"which relationship: {q} -> {t['target']} (a planted {t['best']}) hit in "
                     f"{t['mode']} mode at log10 LR {hit['log10_lr']:.2f}; best relationship "
                     f"{hit['best_relationship']}; flagged in the summary: {flagged}")
    t = truth.get("_chance_hit")
    if t is not None:
        q = t["query"]
        hit = next((r for r in rows if r["mode"] == "case" and r["query_id"] == q
                    and r["case_id"] == t["target"]), None)
        own = next((r for r in rows if r["mode"] == "case" and r["query_id"] == q
                    and r["case_id"] == t["own_case"]), None)
        if hit is None:
            lines.append(f"chance hit: {q} -> case {t['target']} not reported")
        else:
            own_lr = f"{own['log10_lr']:.2f}" if own is not None else "-"
            ch = hit["expected_chance_hits"]
            lines.append(
                f"chance hit: {q} -> case {t['target']} ({t['structure']}) at log10 LR "
                f"{hit['log10_lr']:.2f} on {hit['loci_compared']} loci: posterior "
                f"{hit['posterior']:.2g} (its own family, case {t['own_case']}, log10 LR {own_lr}, "
                f"explains the data); about {'-' if ch is None else f'{ch:.2g}'} chance hits of "
                f"this size expected on those loci")
    t = truth.get("_mixed_up")
    if t is not None and consistency is not None:
        rows = [r for r in consistency.to_pylist() if r["case_id"] == t["target"]]
        st = rows[0]["status"] if rows else "not checked"
        lines.append(f"mixed-up family: case {t['target']} ({t['structure']}): reference "
                     f"consistency says {st}"
                     + (f": {rows[0]['explanation']}" if rows and rows[0]["explanation"] else ""))
    planted = {q: t for q, t in truth.items() if t["mode"] == "joint"}
    if planted and joint is not None:
        rows = joint.to_pylist()
        for q, t in sorted(planted.items()):
            mine = [r for r in rows if r["query_id"] == q]
            got = [r["case_id"] for r in mine if r["assigned"]]
            hit = sorted(r["case_id"] for r in mine)
            ok = got == [t["target"]]
            lines.append(f"one-to-one: {q} hits {', '.join(hit) or 'no case'}; assigned to "
                         f"{', '.join(got) or 'none'} (planted {t['target']}): "
                         f"{'resolved' if ok else 'not resolved'}")
    return lines
