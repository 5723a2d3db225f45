"""Round trips are exact: profiles -> file -> import -> Parquet -> export -> import.

Hypothesis generates the profiles (microvariants, homozygotes, partial profiles,
IDs with spaces, commas, '#', accents and CJK characters).
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from formats_testlib import genotype_sets, profiles, sample_ids
from hypothesis import HealthCheck, given, settings

from formats import export_profiles, import_file, open_dataset, write_profiles

SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# format -> (export name, import name, carries kind/case/relation/sex itself)
CASES = {
    "csv": ("csv", "csv", False),
    "wide": ("wide", "wide", True),
    "genemapper": ("genemapper", "genemapper", False),
    "cmf": ("cmf", "cmf", False),
    "familias": ("familias", "familias", False),
}


def meta(ps):
    return {p.sample_id: (p.kind, p.case_id, p.relation, p.sex) for p in ps}


def roundtrip(ps, fmt, d: Path, with_manifest: bool):
    exp, imp, _ = CASES[fmt]
    write_profiles(d / "ds0", ps)
    f1 = d / f"one.{fmt}"
    export_profiles(d / "ds0", f1, format=exp)
    man = None
    if with_manifest:
        man = d / "manifest.csv"
        export_profiles(d / "ds0", man, format="manifest")
    r1 = import_file(f1, format=imp, manifest=man)
    assert r1.n_rejected == 0 and r1.n_imported == r1.n_read
    write_profiles(d / "ds1", r1.profiles, provenance=r1.provenance)
    f2 = d / f"two.{fmt}"
    export_profiles(d / "ds1", f2, format=exp)
    r2 = import_file(f2, format=imp, manifest=man)
    return r1, r2


@pytest.mark.parametrize("fmt", ["csv", "wide", "genemapper"])
@SETTINGS
@given(ps=profiles())
def test_roundtrip_text_formats(fmt, ps):
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        r1, r2 = roundtrip(ps, fmt, d, with_manifest=not CASES[fmt][2])
        want = genotype_sets(ps)
        assert genotype_sets(r1.profiles) == want
        assert genotype_sets(r2.profiles) == want
        # the case structure comes back too (from the manifest, or the wide table itself)
        assert meta(r2.profiles) == meta(p.normalized() for p in ps)
        loaded = open_dataset(d / "ds1").load()
        assert genotype_sets(loaded.to_profiles()) == want


@SETTINGS
@given(ps=profiles(ids=sample_ids))
def test_roundtrip_cmf(ps):
    with tempfile.TemporaryDirectory() as t:
        r1, r2 = roundtrip(ps, "cmf", Path(t), with_manifest=True)
        want = genotype_sets(ps)
        assert genotype_sets(r1.profiles) == want == genotype_sets(r2.profiles)
        assert meta(r2.profiles) == meta(p.normalized() for p in ps)


@SETTINGS
@given(ps=profiles())
def test_roundtrip_familias(ps):
    with tempfile.TemporaryDirectory() as t:
        r1, r2 = roundtrip(ps, "familias", Path(t), with_manifest=True)
        want = genotype_sets(ps)
        assert genotype_sets(r1.profiles) == want == genotype_sets(r2.profiles)


def test_familias_export_with_frequency_table(tmp_path, nist):
    from formats import Profile, read_frequencies

    ps = [Profile("AF", {"vWA": ("16", "25"), "TH01": ("9.3", "6")}, sex="M")]
    f = tmp_path / "x.fam"
    export_profiles(ps, f, format="familias", frequencies=nist)
    back = import_file(f, format="familias").profiles
    assert genotype_sets(back) == genotype_sets(ps)
    t = read_frequencies(f, format="fam")
    # the database written is the allele system of the case (locus_alleles), which
    # sums to 1: at TH01 nothing is added (9.3 and 6 are in NIST), so 9.3 is the
    # table's value divided by the table's TH01 sum (1 only to ~1e-10)
    th01 = math.fsum(nist.alleles("TH01").values())
    assert t.frequency("TH01", "9.3") == pytest.approx(nist.frequency("TH01", "9.3") / th01, rel=1e-15)
    assert math.fsum(t.alleles("vWA").values()) == pytest.approx(1.0, abs=1e-12)
    assert "25" in t.alleles("vWA")  # absent from NIST: written with the minimum frequency


@pytest.mark.parametrize("rel, fmt", [
    ("genemapper/databaseESX17.txt", "genemapper"),
    ("familias-fam/exclusionExample.fam", "familias"),
    ("codis-cmf/Codis-Single-Profile.xml", "cmf"),
    ("familias-fam/dvi-import-tables/Exercise-Helicopter-PM-Data.txt", "wide"),
])
def test_real_file_roundtrip(real, tmp_path, rel, fmt):
    r1 = import_file(real / rel, format=fmt, mode="lenient")
    write_profiles(tmp_path / "ds", r1.profiles)
    exp = {"wide": "wide", "genemapper": "genemapper", "familias": "familias", "cmf": "cmf"}[fmt]
    out = tmp_path / f"back.{fmt}"
    export_profiles(tmp_path / "ds", out, format=exp)
    r2 = import_file(out, format=fmt, mode="strict")
    assert genotype_sets(r2.profiles) == genotype_sets(r1.profiles)
    # and via the long CSV
    out2 = tmp_path / "back.csv"
    export_profiles(tmp_path / "ds", out2, format="csv")
    assert genotype_sets(import_file(out2, format="csv").profiles) == genotype_sets(r1.profiles)
