"""Silent (null) alleles set in a job (issue 15, item 2): ``[model] silent`` and the
silent-allele flags of a Familias ``.fam`` frequency file.

Every reported LR equals ``kinship.likelihood_ratio`` with the same
``FrequencyTable(silent=...)``, in every autosomal mode; a homozygous pair that is
an exclusion without a silent allele (R 14/14, Q 15/15 for parent-child) is
explained by one.
"""
from __future__ import annotations

import json
import math

import pytest

import engine
import formats
import kinship
from kinship.cases import case_pedigree
from formats.familias import write_fam
from kinship.tables import relationship_pedigrees

from enginelib import make_job, simulate

LOCI6 = ("TPOX", "CSF1PO", "TH01", "D5S818", "D13S317", "D16S539")
SEXW = {"M": "male", "F": "female", "": "unknown"}


def _dataset(tmp_path, seed=11):
    profs, _ = simulate(n_cases=8, n_unrelated=4, n_unrelated_references=2, seed=seed,
                        loci=LOCI6)
    # a father and son who look excluded at TH01 without a silent allele (both carry one)
    g = {l: ("8", "11") for l in LOCI6}
    profs.append(formats.Profile("NULL-father", dict(g, TH01=("7", "7")), "reference", "NULLCASE",
                                 "father", "M"))
    profs.append(formats.Profile("NULL-son", dict(g, TH01=("9", "9")), "query", sex="M"))
    profs.append(formats.Profile("NULL-son-again", dict(g, TH01=("9", "9")), "query", sex="M"))
    # a direct sample of the son (identity mode), homozygous at TH01
    profs.append(formats.Profile("NULL-self", dict(g, TH01=("9", "9")), "reference", "SELFCASE",
                                 "self", "M"))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    return ds, {p.sample_id: p for p in profs}


def _pair_lr(hit, mode, by_id, ft):
    r = by_id[hit["reference_id"]]
    h1, h2 = relationship_pedigrees(mode, SEXW[r.sex] or "male", "paternal")
    return kinship.likelihood_ratio(h1, h2, {"R": r.genotypes, "Q": by_id[hit["query_id"]].genotypes},
                                    ft)


def _case_lr(hit, by_id, ft):
    q = by_id[hit["query_id"]]
    refs = [p for p in by_id.values() if p.kind == "reference" and p.case_id == hit["case_id"]
            and p.relation not in ("self", "")]
    h1 = case_pedigree([(p.sample_id, p.relation, SEXW[p.sex]) for p in refs],
                       missing_sex=SEXW[q.sex] or "male").records()
    h2 = []
    for rec in h1:
        rec = dict(rec)
        rec.update({k: ("M_case" if rec[k] == "M" else rec[k]) for k in ("id", "father", "mother")})
        h2.append(rec)
    h2.append({"id": "M", "father": None, "mother": None, "sex": "unknown"})
    g = {p.sample_id: p.genotypes for p in refs}
    g["M"] = q.genotypes
    return kinship.likelihood_ratio(h1, h2, g, ft)


def _identity_locus_lr(call, la):
    """1 / P(a person's call is ``call``) with the silent allele s (θ = 0): a
    homozygous call a/a is a/a or a/s."""
    p = dict(zip(la.alleles, la.freqs))
    a, b = call
    if a != b:
        return 1.0 / (2 * p[a] * p[b])
    return 1.0 / (p[a] ** 2 + 2 * p[a] * p.get("silent", 0.0))


def _check_hits(hits, by_id, ft, modes):
    for mode in modes:
        rows = [h for h in hits if h["mode"] == mode]
        assert rows, mode
        for h in rows[:25]:
            per = json.loads(h["per_locus_lr"])
            if mode in ("identity", "duplicates"):
                q = by_id[h["query_id"]]
                for l, v in per.items():
                    la = ft.locus_alleles(l)
                    assert v == pytest.approx(_identity_locus_lr(tuple(sorted(q.genotypes[l])), la),
                                              rel=1e-9)
                continue
            ref = _case_lr(h, by_id, ft) if mode == "case" else _pair_lr(h, mode, by_id, ft)
            for l, v in per.items():
                assert v == pytest.approx(ref.per_locus[l], rel=1e-9, abs=1e-300), (mode, l)
            want = sum(math.log10(ref.per_locus[l]) for l in per)
            assert h["log10_lr"] == pytest.approx(want, rel=1e-9, abs=1e-9)


MODES = ["case", "parent-child", "full-sibling", "identity", "duplicates"]


def test_job_silent_equals_likelihood_ratio(tmp_path):
    ds, by_id = _dataset(tmp_path)
    job = make_job(ds, tmp_path / "out", MODES, model__silent=0.01, search__threshold=1e-12,
                   search__top_k=100, search__case_top_k=100, inputs__loci=list(LOCI6))
    res = engine.run(job)
    ft = kinship.FrequencyTable.load("nist1036_all", silent=0.01)
    hits = res.hits.to_pylist()
    _check_hits(hits, by_id, ft, MODES)
    # the apparent exclusion at TH01 is explained by a silent allele in father and son
    for mode, other in (("parent-child", "reference_id"), ("case", "case_id")):
        h = next(h for h in hits if h["mode"] == mode and h["query_id"] == "NULL-son"
                 and h[other] in ("NULL-father", "NULLCASE"))
        assert json.loads(h["per_locus_lr"])["TH01"] > 0
        assert h["loci_inconsistent"] == 0          # consistent: the silent allele explains it
    # without a silent allele the same pair is an exclusion
    res0 = engine.run(make_job(ds, tmp_path / "out0", ["parent-child"], search__threshold=1e-300,
                               search__top_k=100, inputs__loci=list(LOCI6)))
    assert not [h for h in res0.hits.to_pylist()
                if h["query_id"] == "NULL-son" and h["reference_id"] == "NULL-father"]
    # the silent allele is part of the model: another job key, another table checksum
    assert res.manifest["job_key"] != res0.manifest["job_key"]


def test_silent_allele_sum_error_names_the_job_key(tmp_path):
    ds, _ = _dataset(tmp_path)
    job = make_job(ds, tmp_path / "out", ["parent-child"], model__silent=0.05)
    with pytest.raises(engine.InputError, match="model.silent"):
        engine.run(job)


def test_job_silent_per_locus(tmp_path):
    ds, by_id = _dataset(tmp_path)
    sil = {"TH01": 0.015, "TPOX": 0.0}
    job = make_job(ds, tmp_path / "out", ["parent-child"], model__silent=sil,
                   search__threshold=1e-12, search__top_k=100, inputs__loci=list(LOCI6))
    hits = engine.run(job).hits.to_pylist()
    ft = kinship.FrequencyTable.load("nist1036_all", silent={"TH01": 0.015})
    assert ft.silent_frequency("TPOX") == 0.0
    _check_hits(hits, by_id, ft, ["parent-child"])


@pytest.mark.parametrize("bad", [-0.1, 1.0, "x", {"TH01": 2}, True])
def test_job_silent_validation(tmp_path, bad):
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"], model__silent=bad)
    with pytest.raises(engine.JobError, match="model.silent"):
        engine.Job.from_dict(job)


def test_fam_frequency_file_brings_its_silent_alleles(tmp_path):
    """A .fam database with the silent-allele flag set: the job's table has the silent
    allele (read_frequencies(format="fam")), and the LRs are those of that table."""
    ds, by_id = _dataset(tmp_path)
    nist = kinship.FrequencyTable.load("nist1036_all")
    seen = {l: sorted({a for p in by_id.values() for a in p.genotypes.get(l, ())}) for l in LOCI6}
    table = {l: {a: nist.frequency(l, a) for a in seen[l]} for l in LOCI6}
    src = kinship.FrequencyTable(table, renormalise=True, silent=0.01, name="src")
    fam = tmp_path / "db.fam"
    write_fam(list(by_id.values()), fam, frequencies=src)
    ft = formats.read_frequencies(fam, format="fam")
    for l in LOCI6:
        assert ft.silent_frequency(l) == pytest.approx(0.01)
    assert "silent" in ft.provenance
    # silent= overrides the file's: a table updates it per locus, 0 removes one
    ft2 = formats.read_frequencies(fam, format="fam", silent={"TH01": 0.0, "TPOX": 0.02})
    assert ft2.silent_frequency("TH01") == 0.0 and ft2.silent_frequency("TPOX") == 0.02
    assert ft2.silent_frequency("CSF1PO") == pytest.approx(0.01)
    job = make_job(ds, tmp_path / "out", MODES, inputs__frequencies=str(fam),
                   inputs__frequencies_format="fam", search__threshold=1e-12, search__top_k=100,
                   search__case_top_k=100, inputs__loci=list(LOCI6))
    hits = engine.run(job).hits.to_pylist()
    _check_hits(hits, by_id, ft, MODES)
    # the job's [model] silent = 0 turns them off
    job = make_job(ds, tmp_path / "out2", ["parent-child"], inputs__frequencies=str(fam),
                   inputs__frequencies_format="fam", model__silent=0, search__threshold=1e-300,
                   search__top_k=100, inputs__loci=list(LOCI6))
    hits = engine.run(job).hits.to_pylist()
    assert not [h for h in hits if h["query_id"] == "NULL-son" and h["reference_id"] == "NULL-father"]
