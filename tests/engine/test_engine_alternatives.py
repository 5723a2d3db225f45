"""Which relationship (engine.alternatives): the LR of each alternative relationship
for every hit, and the best supported one.

* one locus, worked by hand from the IBD coefficients (no code of the project);
* an engine run with a planted full sibling of a reference, found in
  ``parent-child`` mode and flagged as better explained by full siblings;
* the reported values equal :func:`kinship.likelihood_ratio` on explicit pedigrees:
  pairwise (``kinship.tables.relationship_pedigrees``, stepwise mutation, so that
  half-sibling, grandparent and avuncular differ) and case mode (pedigrees written
  out by hand below).
"""
from __future__ import annotations

import json
import math

import pytest

import engine
import formats
import kinship
from engine.alternatives import PAIR_ALTERNATIVES, best_of, pair_alternatives
from kinship.search import ScoringModel
from kinship.simulate import FamilySimulator
from kinship.tables import relationship_pedigrees

from enginelib import make_job, simulate

MUT = {"model": "stepwise", "rate": 0.002, "rate2": 1e-6, "range": 0.1}


def _log10(res) -> float:
    """log10 of a :class:`kinship.LRResult`'s total, summed over its loci."""
    return math.fsum(math.log10(v) if v > 0 else -math.inf for v in res.per_locus.values())


# -- one locus by hand ------------------------------------------------------------------
def test_one_locus_by_hand():
    """R = 12/14, Q = 12/14, p12 = 0.1, p14 = 0.2, no mutation, theta 0.

    With IBD coefficients (k0, k1, k2), LR = k0 + k1 Phi1 + k2 Phi2, where Phi_j =
    P(Q | R, j alleles IBD) / P(Q):

    * P(Q = 12/14) = 2 p12 p14 = 0.04;
    * Phi2: Q is R's genotype for sure: 1 / 0.04 = 25;
    * Phi1: the shared allele is 12 or 14 (1/2 each), Q's other allele is then 14
      or 12 from the population: (p14/2 + p12/2) / 0.04 = 0.15 / 0.04 = 3.75
      (= 1/4 (1/p12 + 1/p14));

    identity (0, 0, 1): 25; parent-child (0, 1, 0): 3.75; full siblings (1/4, 1/2,
    1/4): 1/4 + 3.75/2 + 25/4 = 8.375; half siblings, grandparent, avuncular (1/2,
    1/2, 0): 1/2 + 3.75/2 = 2.375; first cousins (3/4, 1/4, 0): 3/4 + 3.75/4 =
    1.6875; unrelated: 1.  Best: identity.
    """
    ft = kinship.FrequencyTable({"TH01": {"12": 0.1, "14": 0.2, "15": 0.7}}, name="hand")
    model = ScoringModel(ft, ["TH01"])
    g = model.genotype_indices(model.encode([{"TH01": ("12", "14")}, {"TH01": ("12", "14")}]))
    got = pair_alternatives(model, g[:1], g[1:], ["male"])
    want = {"identity": 25.0, "parent-child": 3.75, "full-sibling": 8.375, "half-sibling": 2.375,
            "grandparent": 2.375, "avuncular": 2.375, "first-cousin": 1.6875, "unrelated": 1.0}
    assert set(got) == set(PAIR_ALTERNATIVES)
    for rel, v in want.items():
        assert 10 ** got[rel][0] == pytest.approx(v, rel=1e-12), rel
    d = {k: float(v[0]) for k, v in got.items()}
    assert best_of(d, "parent-child") == "identity"
    # R = 12/14, Q = 12/15: one allele shared. Phi1 = P(Q = 12/15 | 12 shared) / P(Q)
    # = (1/2 p15) / (2 p12 p15) = 1 / (4 p12) = 2.5; Phi2 = 0.  parent-child 2.5, full
    # siblings 1/4 + 2.5/2 = 1.5, half siblings 1/2 + 1.25 = 1.75, cousins 3/4 + 2.5/4 =
    # 1.375, identity 0: best parent-child.
    g = model.genotype_indices(model.encode([{"TH01": ("12", "14")}, {"TH01": ("12", "15")}]))
    got = {k: float(v[0]) for k, v in pair_alternatives(model, g[:1], g[1:], ["male"]).items()}
    want = {"parent-child": 2.5, "full-sibling": 1.5, "half-sibling": 1.75,
            "first-cousin": 1.375, "unrelated": 1.0}
    for rel, v in want.items():
        assert 10 ** got[rel] == pytest.approx(v, rel=1e-12), rel
    assert got["identity"] == -math.inf
    assert best_of(got, "full-sibling") == "parent-child"
    # ties go to the searched relationship: without mutation half sibling = grandparent
    assert best_of({"half-sibling": 1.0, "grandparent": 1.0 + 1e-12, "unrelated": 0.0},
                   "grandparent") == "grandparent"
    assert best_of({"half-sibling": 1.0, "grandparent": 1.0, "unrelated": 0.0},
                   "first-cousin") == "half-sibling"


# -- an engine run with a planted full sibling -----------------------------------------
LOCI = ("CSF1PO", "D13S317", "D16S539", "D18S51", "D21S11", "D3S1358", "D5S818", "D7S820",
        "D8S1179", "FGA", "TH01", "TPOX", "vWA", "D2S1338", "D19S433")


def _sibling_dataset(tmp_path):
    ft = kinship.FrequencyTable.load("nist1036_all")
    mut = engine.job.parse_mutation(MUT)
    profs, _ = simulate(n_cases=6, n_unrelated=6, n_unrelated_references=3, seed=11, loci=LOCI,
                        mutation=mut)
    sim = FamilySimulator(ft, LOCI, mutation=mut, seed=3)
    from engine.demo import _sibling_pair

    q, r, _ = _sibling_pair(sim, ft, mut)
    profs.append(formats.Profile("SIBQ", q[1], "query", "", "", "F"))
    profs.append(formats.Profile("SIBR", r[1], "reference", "S1", "full-sibling", "M"))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    return ds, {p.sample_id: p for p in profs}, ft, mut


@pytest.fixture(scope="module")
def sib_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("alt")
    ds, by_id, ft, mut = _sibling_dataset(tmp)
    job = make_job(ds, tmp / "out", ["case", "parent-child", "full-sibling", "avuncular"],
                   model__mutation=MUT, search__top_k=3, search__threshold=1e3,
                   report__relationships="ranked")
    return engine.run(job), by_id, ft, mut


def test_planted_sibling_flagged_in_parent_child_mode(sib_run):
    res, _, _, _ = sib_run
    rows = [h for h in res.hits.to_pylist() if h["mode"] == "parent-child"
            and h["query_id"] == "SIBQ" and h["reference_id"] == "SIBR"]
    assert len(rows) == 1
    h = rows[0]
    assert h["log10_lr"] >= 4
    d = json.loads(h["relationship_lrs"])
    assert list(d) == list(PAIR_ALTERNATIVES)
    assert d["parent-child"] == h["log10_lr"]
    assert h["best_relationship"] == "full-sibling"
    assert d["full-sibling"] > d["parent-child"] + 1
    assert "which relationship:" in res.summary
    assert "SIBQ -> SIBR: best full-sibling" in res.summary
    # report.relationships = "ranked": every ranked hit has the columns (the default,
    # "best", gives them to each query's first-ranked hit per mode)
    for r in res.hits.to_pylist():
        if r["rank"] is not None or r["mode"] != "case":
            assert r["relationship_lrs"] is not None and r["best_relationship"] is not None
    # the same pair in full-sibling mode: best full-sibling, its own LR
    fs = [h for h in res.hits.to_pylist() if h["mode"] == "full-sibling"
          and h["query_id"] == "SIBQ" and h["reference_id"] == "SIBR"][0]
    assert fs["best_relationship"] == "full-sibling"
    assert json.loads(fs["relationship_lrs"])["full-sibling"] == fs["log10_lr"]


def test_pairwise_values_equal_likelihood_ratio(sib_run):
    res, by_id, ft, mut = sib_run
    rows = [h for h in res.hits.to_pylist() if h["mode"] in ("parent-child", "avuncular")]
    rows.sort(key=lambda h: (h["mode"], h["query_id"], h["reference_id"]))
    assert len(rows) >= 4
    for h in rows[:: max(1, len(rows) // 5)][:6]:
        d = json.loads(h["relationship_lrs"])
        r, q = by_id[h["reference_id"]], by_id[h["query_id"]]
        both = [l for l in LOCI if l in r.genotypes and l in q.genotypes]
        for rel in PAIR_ALTERNATIVES:
            if rel in ("identity", "unrelated"):
                continue
            h1, h2 = relationship_pedigrees(rel, {"M": "male", "F": "female"}.get(r.sex, "male"),
                                            "paternal")
            want = kinship.likelihood_ratio(h1, h2, {"R": r.genotypes, "Q": q.genotypes}, ft,
                                            mutation=mut, loci=both)
            assert d[rel] == pytest.approx(_log10(want), abs=1e-9), (h["query_id"], rel)
        # identity: LR 0 unless every compared locus is the same genotype
        same = all(tuple(sorted(r.genotypes[l])) == tuple(sorted(q.genotypes[l])) for l in both)
        assert (d["identity"] == -math.inf) == (not same)
        assert d["unrelated"] == 0.0
    # with mutation the three (1/2, 1/2, 0) relationships differ
    d = json.loads(rows[0]["relationship_lrs"])
    assert len({d["half-sibling"], d["grandparent"], d["avuncular"]}) > 1


def _case_hyps(case_rel, ref, q_sex):
    """Hand-written pedigrees of a case with one typed relative ``ref`` of M
    (relation 'father' or 'full-sibling'): {alternative: H_alt}, and H2 (the query
    an unrelated founder).  M's parents: FA, MO; the query is Q."""
    fa = ref if case_rel == "father" else "FA"
    base = [{"id": fa, "father": None, "mother": None, "sex": "male"},
            {"id": "MO", "father": None, "mother": None, "sex": "female"},
            {"id": "M", "father": fa, "mother": "MO", "sex": "male"}]
    if case_rel == "full-sibling":
        base.append({"id": ref, "father": fa, "mother": "MO", "sex": "unknown"})
    h2 = base + [{"id": "Q", "father": None, "mother": None, "sex": q_sex}]
    alts = {
        "full-sibling": base + [{"id": "Q", "father": fa, "mother": "MO", "sex": q_sex}],
        "child": base + [{"id": "P", "father": None, "mother": None, "sex": "female"},
                         {"id": "Q", "father": "M", "mother": "P", "sex": q_sex}],
    }
    # parent: Q in the place of M's untyped parent of Q's sex
    if q_sex == "female":
        alts["parent"] = [{**r, "id": "Q"} if r["id"] == "MO" else
                          ({**r, "mother": "Q"} if r.get("mother") == "MO" else r) for r in base]
    elif case_rel == "full-sibling":
        alts["parent"] = [{**r, "id": "Q"} if r["id"] == "FA" else
                          ({**r, "father": "Q"} if r.get("father") == "FA" else r) for r in base]
    return alts, h2


def test_case_values_equal_likelihood_ratio(tmp_path, nist):
    """Cases with one relative (father / full sibling): the alternatives equal the
    exact LR of hand-written pedigrees (the child alternative: M is male here, the
    mutation model is the same for both sexes)."""
    mut = engine.job.parse_mutation(MUT)
    sim = FamilySimulator(nist, LOCI, mutation=mut, seed=21)
    profs = []
    for k, (rel, qsex) in enumerate((("father", "F"), ("father", "M"),
                                     ("full-sibling", "F"), ("full-sibling", "M"))):
        fa, mo = sim.founder(), sim.founder()
        m, sib = sim._observe(sim.child(fa, mo)), sim._observe(sim.child(fa, mo))
        ref = sim._observe(fa) if rel == "father" else sib
        profs.append(formats.Profile(f"K{k}-Q", m, "query", "", "", qsex))
        profs.append(formats.Profile(f"K{k}-R", ref, "reference", f"K{k}", rel,
                                     "M" if rel == "father" else "M"))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    res = engine.run(make_job(ds, tmp_path / "out", ["case"], model__mutation=MUT,
                              search__threshold=1e2))
    by_id = {p.sample_id: p for p in profs}
    hits = [h for h in res.hits.to_pylist() if h["query_id"] == h["case_id"] + "-Q"]
    assert len(hits) == 4
    for h in hits:
        d = json.loads(h["relationship_lrs"])
        q = by_id[h["query_id"]]
        r = by_id[h["case_id"] + "-R"]
        rel = r.relation
        q_sex = "female" if q.sex == "F" else "male"
        alts, h2 = _case_hyps(rel, r.sample_id, q_sex)
        assert set(d) == {"missing-person", "unrelated"} | set(alts), (rel, q_sex, d)
        assert d["missing-person"] == h["log10_lr"]
        g = {r.sample_id: r.genotypes, "Q": q.genotypes}
        for name, h1 in alts.items():
            want = kinship.likelihood_ratio(h1, h2, g, nist, mutation=mut)
            assert d[name] == pytest.approx(_log10(want), abs=1e-9), (rel, q_sex, name)
        # the planted missing person: best explained as M (or tied with a sibling of M
        # where the relative is a sibling: same pedigree place)
        assert h["best_relationship"] == "missing-person", (rel, d)


def test_duplicates_leave_out_the_same_loci(tmp_path):
    """A query typed twice with one allele dropped out: the identity LR leaves the
    locus out (max_inconsistent = 1), and so does every alternative."""
    profs, _ = simulate(n_cases=3, n_unrelated=3, n_unrelated_references=1, seed=4, loci=LOCI)
    q = next(p for p in profs if p.sample_id.startswith("U"))
    g = dict(q.genotypes)
    l = next(l for l in sorted(g) if g[l][0] != g[l][1])
    g[l] = (g[l][0], g[l][0])
    profs.append(formats.Profile(q.sample_id + "-again", g, "query", "", "", q.sex))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    res = engine.run(make_job(ds, tmp_path / "out", ["duplicates"], search__max_inconsistent=1))
    rows = [h for h in res.hits.to_pylist() if h["mode"] == "duplicates"]
    assert len(rows) == 2
    ft = kinship.FrequencyTable.load("nist1036_all")
    for h in rows:
        d = json.loads(h["relationship_lrs"])
        assert d["identity"] == h["log10_lr"] and h["best_relationship"] == "identity"
        a = q.genotypes if h["query_id"] == q.sample_id else g
        b = g if a is q.genotypes else q.genotypes
        both = [x for x in LOCI if x != l]
        h1, h2 = relationship_pedigrees("full-sibling", "male", "paternal")
        want = kinship.likelihood_ratio(h1, h2, {"R": b, "Q": a}, ft, loci=both)
        assert d["full-sibling"] == pytest.approx(_log10(want), abs=1e-9)


def test_default_gives_the_alternatives_to_each_querys_best_hit(tmp_path):
    ds, _, _, _ = _sibling_dataset(tmp_path)
    res = engine.run(make_job(ds, tmp_path / "out", ["parent-child"], model__mutation=MUT,
                              search__top_k=3, search__threshold=1e3))
    rows = res.hits.to_pylist()
    assert rows
    for r in rows:
        assert (r["relationship_lrs"] is not None) == (r["rank"] == 1)
    res = engine.run(make_job(ds, tmp_path / "out2", ["parent-child"], model__mutation=MUT,
                              search__top_k=3, search__threshold=1e3, report__relationships_max=1))
    rows = res.hits.to_pylist()
    assert sum(r["relationship_lrs"] is not None for r in rows) == 1
    if sum(r["rank"] == 1 for r in rows) > 1:
        assert "report.relationships_max" in json.dumps(res.manifest)
