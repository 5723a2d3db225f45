"""Validation scenario: planted mix-ups and children related to two cases.

``python -m validation.joint --out DIR [--seed 1] [--families 200] [--cousins 40]
[--mixups 10]`` simulates a reference database (:class:`kinship.simulate.FamilySimulator`,
founders from the bundled NIST 1036 genotypes, 22 loci, stepwise mutation):

* ``--families`` ordinary missing-child families (trios, duos, a parent and a
  sibling, grandparents, two siblings) with their missing child as a query, and
  as many unrelated queries;
* ``--cousins`` pairs of families around two first cousins: case ``A`` types
  the father and mother of cousin C1, case ``B`` the paternal grandparents that
  C1 and cousin C2 share (C2 is B's missing child).  Both cousins are queries in
  half of the pairs; in the other half only C1 is (B's child is not in the
  database).  C1 is related to two cases: its hit with B is a true relative in
  the wrong family;
* ``--mixups`` families of each planted mix-up (father, mother and two full
  siblings typed): a swapped sample (the fathers of two families exchanged), an
  unrelated "father", and a paternal half sibling labelled full.

It runs the case-mode search (``engine.run``, threshold 10^4) and reports
(``joint-validation.json`` and ``joint-validation.md`` in ``DIR``):

* the case-mode hits, true (a query and its own family) and false (any other);
* how many false hits the one-to-one joint picture leaves out of the best
  assignment, and how many true hits it loses (a true hit not assigned);
* of the planted mix-up cases, how many the reference consistency check flags
  (with the suspect it names), and how many correct cases it flags.

The numbers of the shipped run are in ``docs/validation/joint.md``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["run_scenario", "main"]

_SEX = {"male": "M", "female": "F"}


def _profiles(seed: int, n_families: int, n_cousins: int, n_mixups: int):
    import numpy as np

    import formats
    import kinship
    from engine.demo import DEMO_LOCI, DEMO_MUTATION
    from engine.job import parse_mutation
    from kinship.cases import case_from_relations
    from kinship.simulate import FamilySimulator, load_nist_genotypes

    ft = kinship.FrequencyTable.load("nist1036_all")
    mut = parse_mutation(DEMO_MUTATION)
    sim = FamilySimulator(ft, DEMO_LOCI, mutation=mut, founders=load_nist_genotypes(), seed=seed)
    rng = np.random.default_rng(seed)
    samples, truth_cases = sim.population(n_families, n_unrelated=n_families,
                                          proportions={"both-parents": 0.3, "father": 0.15,
                                                       "mother": 0.1, "parent-sibling": 0.15,
                                                       "grandparents": 0.15, "siblings": 0.15})
    P = [formats.Profile(s.sample_id, s.genotypes, s.kind, s.case_id, s.relation, _SEX[s.sex], "")
         for s in samples]
    truth = {q: c for q, (c, _) in truth_cases.items()}      # query -> its own case
    sx = ["M", "F"]

    def add(sid, g, kind, case="", rel="", sex=None):
        P.append(formats.Profile(sid, sim._observe(g), kind, case, rel,
                                 sex or sx[int(rng.integers(2))], ""))

    two = []
    for k in range(n_cousins):
        gf, gm = sim.founder(), sim.founder()
        s1, s2, w1, w2 = sim.child(gf, gm), sim.child(gf, gm), sim.founder(), sim.founder()
        a, b = f"JA{k:03d}", f"JB{k:03d}"
        add(f"{a}-C1", sim.child(s1, w1), "query")
        truth[f"{a}-C1"] = a
        two.append(f"{a}-C1")
        if k % 2 == 0:
            add(f"{b}-C2", sim.child(s2, w2), "query")
            truth[f"{b}-C2"] = b
        add(f"{a}-father", s1, "reference", a, "father", "M")
        add(f"{a}-mother", w1, "reference", a, "mother", "F")
        add(f"{b}-pgf", gf, "reference", b, "paternal-grandfather", "M")
        add(f"{b}-pgm", gm, "reference", b, "paternal-grandmother", "F")
    words = [("father", "father", "M"), ("mother", "mother", "F"), ("sib", "full-sibling", None),
             ("sib2", "full-sibling", None)]
    planted = {}
    fams = []
    for kind in ("swapped", "unrelated", "halfsib"):
        for k in range(n_mixups):
            cid = f"MX-{kind}-{k:02d}"
            case = case_from_relations(cid, [(f"{cid}-{r}", w, "") for r, w, _ in words])
            g = sim.pedigree_genotypes(case.pedigree)
            typed = {r: g[f"{cid}-{r}"] for r, _, _ in words}
            if kind == "unrelated":
                typed["father"] = sim.founder()
            elif kind == "halfsib":
                typed["sib2"] = sim.child(g[f"{cid}-father"], sim.founder())
            fams.append((cid, typed, g["M"]))
            planted[cid] = (kind, f"{cid}-sib2" if kind == "halfsib" else f"{cid}-father")
    # swapped: the fathers of consecutive swapped families exchanged
    sw = [f for f in fams if "-swapped-" in f[0]]
    for i in range(0, len(sw) - 1, 2):
        sw[i][1]["father"], sw[i + 1][1]["father"] = sw[i + 1][1]["father"], sw[i][1]["father"]
    for cid, typed, child in fams:
        add(f"{cid}-Q", child, "query")
        truth[f"{cid}-Q"] = cid
        for r, w, s in words:
            add(f"{cid}-{r}", typed[r], "reference", cid, w, s)
    return P, truth, two, planted


def run_scenario(out, seed: int = 1, n_families: int = 200, n_cousins: int = 40,
                 n_mixups: int = 10, threads: int | None = None) -> dict:
    """Simulate, search and measure (see the module doc); returns the numbers."""
    import time

    import pyarrow.parquet as pq

    import engine
    import formats
    from engine.demo import DEMO_MUTATION

    out = Path(out)
    t0 = time.perf_counter()
    P, truth, two, planted = _profiles(seed, n_families, n_cousins, n_mixups)
    ds = out / "profiles"
    formats.write_profiles(ds, P, provenance={"validation": {"scenario": "joint", "seed": seed}})
    job = {"inputs": {"queries": str(ds), "references": str(ds), "frequencies": "nist1036_all"},
           "model": {"theta": 0.0, "mutation": dict(DEMO_MUTATION)},
           "search": {"modes": ["case"], "threshold": 1e4, "top_k": 5},
           "report": {"relationships": "none"},
           "output": {"path": str(out / "results"), "overwrite": True},
           "execution": {"progress": False, **({"threads": threads} if threads else {})}}
    res = engine.run(job)
    hits = pq.read_table(res.path / "joint.parquet").to_pylist()
    cons = pq.read_table(res.path / "consistency.parquet").to_pylist()
    true = [h for h in hits if truth.get(h["query_id"]) == h["case_id"]]
    false = [h for h in hits if truth.get(h["query_id"]) != h["case_id"]]
    status = {}
    suspect = {}
    for r in cons:
        status[r["case_id"]] = r["status"]
        suspect[r["case_id"]] = r["suspect"]
    by_kind = {}
    for cid, (kind, who) in planted.items():
        d = by_kind.setdefault(kind, {"planted": 0, "flagged": 0, "suspect_named": 0})
        d["planted"] += 1
        d["flagged"] += status.get(cid) == "inconsistent"
        d["suspect_named"] += suspect.get(cid) == who
    correct = [c for c in status if c not in planted]
    two_rows = [h for h in hits if h["query_id"] in two]
    numbers = {
        "seed": seed, "families": n_families, "cousin_pairs": n_cousins, "mixups_per_kind": n_mixups,
        "queries": sum(1 for p in P if p.kind == "query"),
        "references": sum(1 for p in P if p.kind == "reference"),
        "cases": len(status), "case_hits": len(hits), "true_hits": len(true),
        "false_hits": len(false),
        "false_hits_removed": sum(1 for h in false if not h["assigned"]),
        "false_hits_kept": sum(1 for h in false if h["assigned"]),
        "true_hits_lost": sum(1 for h in true if not h["assigned"]),
        "true_hits_undisputed": sum(1 for h in true if h["undisputed"]),
        "false_hits_undisputed": sum(1 for h in false if h["undisputed"]),
        "children_related_to_two_cases": len(two),
        "of_them_hitting_both": len({h["query_id"] for h in two_rows
                                     if h["case_id"].startswith("JB")}),
        "their_wrong_family_hits_removed": sum(1 for h in two_rows if h["case_id"].startswith("JB")
                                               and not h["assigned"]),
        "parts": res.manifest["joint"]["parts"],
        "contested_parts": res.manifest["joint"]["contested_parts"],
        "consistency": {"planted": by_kind,
                        "correct_cases": len(correct),
                        "correct_cases_flagged": sum(1 for c in correct
                                                     if status[c] == "inconsistent"),
                        "correct_cases_note": sum(1 for c in correct if status[c] == "note")},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    from formats.perms import make_dir

    make_dir(out)
    (out / "joint-validation.json").write_text(json.dumps(numbers, indent=1) + "\n")
    (out / "joint-validation.md").write_text(markdown(numbers))
    return numbers


def markdown(n: dict) -> str:
    c = n["consistency"]
    lines = [
        f"Seed {n['seed']}: {n['families']} families, {n['cousin_pairs']} cousin pairs, "
        f"{n['mixups_per_kind']} mix-ups of each kind; {n['queries']} queries, "
        f"{n['references']} references, {n['cases']} cases (22 loci, stepwise mutation, "
        f"threshold 10^4).", "",
        "| | count |", "|---|---|",
        f"| case-mode hits | {n['case_hits']} |",
        f"| true hits (a query and its own family) | {n['true_hits']} |",
        f"| false hits | {n['false_hits']} |",
        f"| false hits the joint picture leaves out of the best assignment | {n['false_hits_removed']} |",
        f"| false hits still assigned | {n['false_hits_kept']} |",
        f"| true hits lost (not assigned) | {n['true_hits_lost']} |",
        f"| true / false hits undisputed (dvir's rule) | {n['true_hits_undisputed']} / "
        f"{n['false_hits_undisputed']} |",
        f"| children related to two cases / hitting both | {n['children_related_to_two_cases']} / "
        f"{n['of_them_hitting_both']} |",
        f"| their wrong-family hits removed | {n['their_wrong_family_hits_removed']} |",
        f"| parts / contested parts | {n['parts']} / {n['contested_parts']} |", "",
        "| planted mix-up | cases | flagged inconsistent | suspect named |", "|---|---|---|---|",
    ]
    for kind, d in c["planted"].items():
        lines.append(f"| {kind} | {d['planted']} | {d['flagged']} | {d['suspect_named']} |")
    lines += ["", f"Correct cases: {c['correct_cases']}, flagged inconsistent: "
                  f"{c['correct_cases_flagged']} (with a one-locus note: {c['correct_cases_note']}).",
              "", f"Run time: {n['seconds']} s."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m validation.joint",
                                description="planted mix-ups and children related to two cases: "
                                            "reference consistency and the one-to-one joint picture")
    p.add_argument("--out", required=True, help="directory to create (dataset, results, report)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--families", type=int, default=200)
    p.add_argument("--cousins", type=int, default=40)
    p.add_argument("--mixups", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    n = run_scenario(a.out, a.seed, a.families, a.cousins, a.mixups, a.threads)
    print(markdown(n), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
