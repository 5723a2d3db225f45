"""Engine hits equal the core's single-case ``kinship.likelihood_ratio`` for the
same pairs, in every mode and case shape, with sex-specific mutation and θ.

The reference value of each reported pair is recomputed from the profiles'
allele labels with the exact pedigree likelihood of the two hypotheses:

* pairwise modes: ``kinship.tables.relationship_pedigrees(mode, ref_sex, line)``;
* case mode: H1 = the case pedigree (``kinship.cases.case_pedigree``) with the
  query as the missing person M; H2 = the same pedigree with M untyped and the
  query an unrelated founder;
* identity: the NRC II 4.10 match probability, written out by hand below.
"""
from __future__ import annotations

import json
import math
import random

import pytest

import engine
import formats
import kinship
from kinship.cases import case_pedigree
from kinship.tables import relationship_pedigrees

from enginelib import make_job, simulate

LOCI6 = ("TPOX", "CSF1PO", "TH01", "D5S818", "D13S317", "D16S539")
MUT = {"female": {"model": "stepwise", "rate": 0.001, "rate2": 1e-6, "range": 0.1},
       "male": {"model": "stepwise", "rate": 0.003, "rate2": 1e-6, "range": 0.1}}
SEXW = {"M": "male", "F": "female", "": "unknown"}


def _dataset(tmp_path, seed=5):
    mut = engine.job.parse_mutation(MUT)
    profs, _ = simulate(n_cases=14, n_unrelated=6, n_unrelated_references=2, seed=seed,
                        loci=LOCI6, mutation=mut)
    rng = random.Random(seed)
    # leave loci untyped in some profiles: skipped and counted
    for p in profs:
        if rng.random() < 0.3:
            del p.genotypes[rng.choice(sorted(p.genotypes))]
    # a case with a 'child' reference (M's sex decides the pedigree) and queries of each sex
    child = dict(profs[0].genotypes)
    profs.append(formats.Profile("K1-child", child, "reference", "K1", "child", "F"))
    profs.append(formats.Profile("QX-unknown-sex", dict(profs[2].genotypes), "query", sex=""))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    return ds, {p.sample_id: p for p in profs}


def _reference_case(hit, by_id, ft, mut, theta):
    q = by_id[hit["query_id"]]
    refs = [p for p in by_id.values() if p.kind == "reference" and p.case_id == hit["case_id"]
            and p.relation not in ("self", "")]
    rels = [(p.sample_id, p.relation, SEXW[p.sex]) for p in refs]
    msex = SEXW[q.sex] if q.sex else "male"
    h1 = case_pedigree(rels, missing_sex=msex).records()
    h2 = []
    for r in h1:
        r = dict(r)
        if r["id"] == "M":
            r["id"] = "M_case"
        for k in ("father", "mother"):
            if r[k] == "M":
                r[k] = "M_case"
        h2.append(r)
    h2.append({"id": "M", "father": None, "mother": None, "sex": "unknown"})
    g = {p.sample_id: p.genotypes for p in refs}
    g["M"] = q.genotypes
    return kinship.likelihood_ratio(h1, h2, g, ft, mutation=mut, theta=theta)


def _reference_pair(hit, mode, by_id, ft, mut, theta, line):
    r = by_id[hit["reference_id"]]
    h1, h2 = relationship_pedigrees(mode, SEXW[r.sex] if r.sex else "male", line)
    g = {"R": r.genotypes, "Q": by_id[hit["query_id"]].genotypes}
    return kinship.likelihood_ratio(h1, h2, g, ft, mutation=mut, theta=theta)


def _identity_lr(a, b, ft, locus, theta):
    """NRC II 4.10: LR = 1 / P(Q = g | R = g) with the Balding-Nichols formula,
    at the frequencies of the allele system: the table's value divided by the
    locus sum (the bundled tables sum to 1 only to ~1e-10; the simulated
    profiles carry no allele absent from the table, so nothing else is added)."""
    total = math.fsum(ft.alleles(locus).values())
    pa, pb = ft.frequency(locus, a) / total, ft.frequency(locus, b) / total
    t = theta
    if a == b:
        p = (2 * t + (1 - t) * pa) * (3 * t + (1 - t) * pa) / ((1 + t) * (1 + 2 * t))
    else:
        p = 2 * (t + (1 - t) * pa) * (t + (1 - t) * pb) / ((1 + t) * (1 + 2 * t))
    return 1.0 / p


def _check(hit, ref, query=None):
    per = json.loads(hit["per_locus_lr"])
    both = {l: v for l, v in ref.per_locus.items() if l in per}
    assert set(per) == set(both), (hit["query_id"], hit["case_id"], hit["reference_id"])
    for l, v in per.items():
        assert v == pytest.approx(ref.per_locus[l], rel=1e-9, abs=1e-300)
    assert hit["loci_compared"] == len(per)
    assert hit["loci_inconsistent"] == len([l for l in ref.inconsistent if l in per])
    # a locus the query did not type has LR 1 in the reference too, so skipping it
    # changes nothing -- where the reference is a founder under H1 (case mode, parent-
    # child, grandparent).  Where it is not (siblings, avuncular), the reference's own
    # genotype probability differs between the hypotheses under a non-stationary
    # mutation model and the reference LR of such a locus is ~0.998, not 1; the search
    # skips the locus all the same (the core's loci policy).  A locus no relative typed
    # is not compared either.
    if query is not None and hit["mode"] in ("case", "parent-child", "grandparent"):
        others = [v for l, v in ref.per_locus.items() if l not in per and l not in query.genotypes]
        assert all(v == pytest.approx(1.0, rel=1e-9) for v in others), (others, hit["query_id"])
    want = sum(math.log10(ref.per_locus[l]) for l in per)
    assert hit["log10_lr"] == pytest.approx(want, rel=1e-9, abs=1e-9)
    # the search's posterior (tests/engine/test_engine_posterior.py) is bounded below
    assert 0.0 <= hit["posterior_min"] <= hit["posterior"] <= 1.0


def _sample(rows, n, seed):
    rows = sorted(rows, key=lambda r: (r["mode"], r["query_id"], r["case_id"], r["reference_id"]))
    return rows if len(rows) <= n else random.Random(seed).sample(rows, n)


def test_every_mode_equals_likelihood_ratio(tmp_path, nist):
    ds, by_id = _dataset(tmp_path)
    modes = ["case", "parent-child", "full-sibling", "identity"]
    theta = 0.01
    job = make_job(ds, tmp_path / "out", modes, model__theta=theta, model__mutation=MUT,
                   search__threshold=1e-12, search__top_k=100, search__case_top_k=100,
                   inputs__loci=list(LOCI6))
    res = engine.run(job)
    mut = engine.job.parse_mutation(MUT)
    hits = res.hits.to_pylist()
    seen_shapes = set()
    for mode in modes:
        rows = [h for h in hits if h["mode"] == mode]
        assert rows, mode
        for h in _sample(rows, 10 if mode not in ("case", "identity") else 20, len(mode)):
            if mode == "case":
                rels = tuple(sorted(r.split(" (")[1][:-1] for r in h["relatives"].split(", ")))
                seen_shapes.add(rels)
                _check(h, _reference_case(h, by_id, nist, mut, theta), by_id[h['query_id']])
            elif mode == "identity":
                per = json.loads(h["per_locus_lr"])
                q, r = by_id[h["query_id"]], by_id[h["reference_id"]]
                for l, v in per.items():
                    if tuple(sorted(q.genotypes[l])) == tuple(sorted(r.genotypes[l])):
                        assert v == pytest.approx(_identity_lr(*q.genotypes[l], nist, l, theta), rel=1e-9)
                    else:
                        assert v == 0.0
            else:
                _check(h, _reference_pair(h, mode, by_id, nist, mut, theta, "paternal"), by_id[h['query_id']])
    # the case shapes exercised: trio (closed form), duo, pedigree tables, fast pair-table cases
    assert ("father", "mother") in seen_shapes
    assert any(len(s) == 1 for s in seen_shapes)
    assert any(s not in {("father", "mother"), ("father",), ("mother",)} for s in seen_shapes)
    # the child case is compiled per sex; the query of unknown sex is not compared with it
    case_rows = [h for h in hits if h["mode"] == "case" and h["case_id"] == "K1"]
    assert "QX-unknown-sex" not in {h["query_id"] for h in case_rows}
    assert any("not compared" in n for n in res.manifest["run"]["notes"])
    assert "queries of unknown sex are not compared" in res.summary
    for h in case_rows[:6]:
        _check(h, _reference_case(h, by_id, nist, mut, theta), by_id[h['query_id']])


def test_more_relationships_and_maternal_line(tmp_path, nist):
    ds, by_id = _dataset(tmp_path, seed=8)
    modes = ["first-cousin", "half-sibling", "grandparent", "avuncular"]
    job = make_job(ds, tmp_path / "out", modes, model__mutation=MUT, search__threshold=1e-6,
                   search__top_k=50, search__line="maternal", inputs__loci=list(LOCI6))
    res = engine.run(job)
    mut = engine.job.parse_mutation(MUT)
    for mode in modes:
        rows = [h for h in res.hits.to_pylist() if h["mode"] == mode]
        assert rows
        for h in _sample(rows, 8, 3):
            _check(h, _reference_pair(h, mode, by_id, nist, mut, 0.0, "maternal"))


def test_identity_allows_stated_inconsistent_loci(tmp_path, nist):
    """A direct sample of M with one locus mistyped: with max_inconsistent = 1 the
    locus is left out of the LR (reported with LR 0) and counted."""
    profs, _ = simulate(n_cases=3, n_unrelated=4, n_unrelated_references=0, seed=2, loci=LOCI6)
    q = next(p for p in profs if p.sample_id.startswith("U"))
    g = dict(q.genotypes)
    g["TH01"] = ("6", "6") if g["TH01"] != ("6", "6") else ("7", "7")
    profs.append(formats.Profile("S-self", g, "reference", "S", "self", q.sex))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    for k, expect in ((0, 0), (1, 1)):
        job = make_job(ds, tmp_path / f"out{k}", ["identity"], search__max_inconsistent=k)
        hits = engine.run(job).hits.to_pylist()
        mine = [h for h in hits if h["reference_id"] == "S-self"]
        assert len(mine) == expect
    h = mine[0]
    assert h["query_id"] == q.sample_id and h["loci_inconsistent"] == 1 and h["loci_compared"] == 6
    per = json.loads(h["per_locus_lr"])
    assert per["TH01"] == 0.0
    want = sum(math.log10(_identity_lr(*q.genotypes[l], nist, l, 0.0)) for l in LOCI6 if l != "TH01")
    assert h["log10_lr"] == pytest.approx(want, rel=1e-12)
