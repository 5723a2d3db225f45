"""Family pedigrees through the engine: stored with the dataset, searched in case
mode, every hit equal to ``kinship.likelihood_ratio`` on the explicit pedigree;
a family with two missing children compares each query as each of them."""
from __future__ import annotations

import json

import numpy as np
import pytest

import engine
import formats
import kinship
from kinship.cases import Case

from pathlib import Path

from enginelib import make_job, read

_OUT = {}


def family_run_out():
    return _OUT["out"]

LOCI = ("TPOX", "CSF1PO", "TH01", "D5S818", "D13S317", "D16S539", "D3S1358", "vWA")
MUT = {"female": {"model": "stepwise", "rate": 0.001, "rate2": 1e-6, "range": 0.1},
       "male": {"model": "stepwise", "rate": 0.003, "rate2": 1e-6, "range": 0.1}}


def _rec(pid, fa=None, mo=None, sex="male"):
    return {"id": pid, "father": fa, "mother": mo, "sex": sex}


FAMILIES = {
    # the mother and her father typed, the father's son by another partner and that
    # partner typed; one missing child
    "FAM-A": ([_rec("GF"), _rec("GM", sex="female"), _rec("MO", "GF", "GM", "female"), _rec("FA"),
               _rec("W", sex="female"), _rec("HB", "FA", "W"), _rec("K", "FA", "MO")],
              ("K",), ("MO", "GF", "HB", "W")),
    # two missing children of an untyped couple; their typed sister and maternal aunt
    "FAM-B": ([_rec("GF"), _rec("GM", sex="female"), _rec("MO", "GF", "GM", "female"),
               _rec("AU", "GF", "GM", "female"), _rec("FA"), _rec("K1", "FA", "MO"),
               _rec("K2", "FA", "MO", "female"), _rec("S", "FA", "MO", "female")],
              ("K1", "K2"), ("S", "AU")),
}


def _drop_genes(recs, ft, rng):
    """Genotypes of every person by gene dropping (no mutation)."""
    ped = kinship.Pedigree.from_records(recs)
    out = {}
    for pid in ped.order:
        p = ped.persons[pid]
        g = {}
        for l in LOCI:
            la = ft.locus_alleles(l)
            if p.father is None:
                a = rng.choice(la.alleles, size=2, p=la.freqs / la.freqs.sum())
            else:
                a = (out[p.father][l][rng.integers(2)], out[p.mother][l][rng.integers(2)])
            g[l] = (str(a[0]), str(a[1]))
        out[pid] = g
    return out


@pytest.fixture(scope="module")
def family_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fam")
    ft = kinship.FrequencyTable.load("nist1036_all")
    rng = np.random.default_rng(12)
    profs, cases, truth = [], [], {}
    for cid, (recs, missing, typed) in FAMILIES.items():
        g = _drop_genes(recs, ft, rng)
        sexes = {r["id"]: r["sex"] for r in recs}
        for p in typed:
            profs.append(formats.Profile(f"{cid}-{p}", g[p], "reference", cid, "",
                                         {"male": "M", "female": "F"}[sexes[p]]))
        for m in missing:
            profs.append(formats.Profile(f"Q-{cid}-{m}", g[m], "query", sex={"male": "M", "female": "F"}[sexes[m]]))
            truth[f"Q-{cid}-{m}"] = (cid, m)
        cases.append(Case.from_pedigree(cid, recs, missing, {p: f"{cid}-{p}" for p in typed}))
    for i in range(6):
        g = _drop_genes([_rec("U")], ft, rng)["U"]
        profs.append(formats.Profile(f"U{i}", g, "query", sex="M"))
    ds = tmp / "ds"
    formats.write_profiles(ds, profs)
    formats.write_cases(ds, cases)
    out = tmp / "out"
    _OUT["out"] = out
    engine.run(make_job(ds, out, ["case"], search__threshold=1e-30, search__top_k=50,
                        search__case_top_k=50, model__mutation=MUT))
    return read(out).to_pylist(), {p.sample_id: p for p in profs}, truth, ft


def test_each_missing_person_is_a_unit_and_the_true_one_ranks_first(family_run):
    hits, _, truth, _ = family_run
    assert {(h["case_id"], h["reference_id"]) for h in hits} == {("FAM-A", ""), ("FAM-B", "K1"),
                                                                 ("FAM-B", "K2")}
    for q, (cid, m) in truth.items():
        best = [h for h in hits if h["query_id"] == q and h["rank"] == 1][0]
        assert best["case_id"] == cid
        if cid == "FAM-B":   # a full brother and sister: the pedigree cannot tell them
            assert best["reference_id"] in ("K1", "K2")
    fam_b = [h for h in hits if h["case_id"] == "FAM-B"]
    assert all("compared as K" in h["relatives"] for h in fam_b)


def test_every_hit_equals_the_explicit_pedigree_lr(family_run):
    hits, by_id, _, ft = family_run
    mut = engine.job.parse_mutation(MUT)
    for h in hits:
        recs, missing, typed = FAMILIES[h["case_id"]]
        m = h["reference_id"] or missing[0]
        h1 = [dict(r, id="Q" if r["id"] == m else r["id"],
                   father="Q" if r["father"] == m else r["father"],
                   mother="Q" if r["mother"] == m else r["mother"]) for r in recs]
        h2 = recs + [_rec("Q")]
        g = {p: by_id[f"{h['case_id']}-{p}"].genotypes for p in typed}
        g["Q"] = by_id[h["query_id"]].genotypes
        r = kinship.likelihood_ratio(h1, h2, g, ft, mut, 0.0, loci=LOCI)
        per = json.loads(h["per_locus_lr"])
        assert set(per) == set(LOCI)
        for l in LOCI:
            assert per[l] == pytest.approx(r.per_locus[l], rel=1e-9, abs=0)
        assert h["log10_lr"] == pytest.approx(r.log10_total, rel=1e-9, abs=1e-12)


def test_a_hit_exported_to_familias_reads_back_to_the_same_lr(family_run, tmp_path):
    """kinship export RESULTS --query Q --format familias: the .fam file holds H1
    (Q as the missing person it was compared as), H2, genotypes, frequencies,
    mutation and θ; this project's reader gives back the hit's LR."""
    from formats.cli import register
    import argparse

    hits, _, _, ft = family_run
    for h in hits:
        if h["case_id"] == "FAM-B" and h["rank"] == 1 and h["query_id"].startswith("Q-FAM-B"):
            break
    out_dir = Path(family_run_out())
    parser = argparse.ArgumentParser(prog="kinship")
    register(parser.add_subparsers(dest="command"))
    for fmt, name in (("familias", "hit.fam"), ("ped", "hit.ped")):
        args = parser.parse_args(["export", str(out_dir), "--query", h["query_id"], "--missing",
                                  h["reference_id"], "--format", fmt, "--out", str(tmp_path / name)])
        assert args.func(args) == 0
    peds, _, settings = formats.familias.read_fam(tmp_path / "hit.fam")
    byname = {p.name: p for p in peds}
    g = {p.sample_id: p.genotypes for p in formats.import_file(tmp_path / "hit.fam",
                                                               format="familias").profiles}
    r = kinship.likelihood_ratio(byname["H1"].records, byname["H2"].records, g, ft,
                                 settings.mutation_model(), settings.theta)
    assert r.log10_total == pytest.approx(h["log10_lr"], rel=1e-12)
    lines = (tmp_path / "hit.ped").read_text().splitlines()
    assert lines[0].split("\t")[:4] == ["id", "fid", "mid", "sex"]
    rows = {l.split("\t")[0]: l.split("\t") for l in lines[1:]}
    assert h["query_id"] in rows and rows[h["query_id"]][1:3] == ["FA", "MO"]


def test_theta_cases_beyond_the_exact_expansion_are_refused_up_front(tmp_path):
    """θ > 0: a case whose exact table cannot be computed (too many unknown founder
    alleles), or a job over its compile budget, is refused before any work, with
    the estimate and the fix."""
    from engine.errors import InputError

    g = {"vWA": ("14", "16"), "TH01": ("6", "7")}
    profs = [formats.Profile("Q1", g, "query", sex="M")]
    for sid, rel in (("A", "paternal-first-cousin"), ("B", "maternal-first-cousin"), ("C", "nephew")):
        profs.append(formats.Profile(sid, g, "reference", "WIDE", rel, "M"))
    for sid, rel in (("D", "child"), ("E", "paternal-uncle"), ("F", "paternal-half-sibling"),
                     ("G", "full-sibling")):
        profs.append(formats.Profile(sid, g, "reference", "FOUR", rel, "M"))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    job = make_job(ds, tmp_path / "out", ["case"], model__theta=0.01)
    with pytest.raises(InputError, match=r"case 'WIDE' cannot be compiled exactly at theta = 0.01: "
                                         r"\d+ unknown founder alleles.*Fix: search with model.theta = 0"):
        engine.run(job)
    formats.write_profiles(tmp_path / "ds2", [p for p in profs if p.case_id != "WIDE"])
    job = make_job(tmp_path / "ds2", tmp_path / "out2", ["case"], model__theta=0.01,
                   execution__max_compile_hours=1e-6)
    with pytest.raises(InputError, match=r"estimated at .* hours on one core .*case 'FOUR'.*"
                                         r"execution.max_compile_hours"):
        engine.run(job)
