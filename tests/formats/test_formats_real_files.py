"""Importers on files written by the real tools (shared/data/real-files).

Expected counts are the "Facts" of shared/data/real-files/README.md (checked there
against pedFamilias::readFam); genotype values were read off the files by hand
(line numbers in the comments).
"""
from __future__ import annotations

import pytest

from formats import import_file


def ok(path, **kw):
    res = import_file(path, mode="lenient", **kw)
    assert res.n_imported + res.n_rejected == res.n_read
    return res


def test_genemapper_database_esx17(real):
    # README: 77 persons x 17 markers (ESX 17 + AMEL) = 1309 rows, CRLF, "VWA" upper case
    res = ok(real / "genemapper/databaseESX17.txt", format="genemapper")
    assert (res.n_read, res.n_imported, res.n_rejected) == (1309, 1309, 0)
    assert len(res.profiles) == 77
    p = res.profiles[0]
    assert p.sample_id == "00-JP0001-14_20142342311_NO-3241"
    # lines 2-4: D3S1358 14/15, TH01 7/9.3, D21S11 29/30; VWA 17/18; AMEL X/Y
    assert p.genotypes["D3S1358"] == ("14", "15") and p.genotypes["TH01"] == ("7", "9.3")
    assert p.genotypes["D21S11"] == ("29", "30") and p.genotypes["vWA"] == ("17", "18")
    assert p.sex == "M" and len(p.genotypes) == 16


def test_genemapper_ref3_homozygotes(real):
    # A2 writes homozygotes twice, F2 once (Allele.2 empty), R-style header names
    res = ok(real / "genemapper/ref3.txt", format="genemapper")
    assert (res.n_read, res.n_rejected) == (51, 0)
    by = {p.sample_id: p for p in res.profiles}
    assert set(by) == {"A2", "F2", "bc"}
    assert by["A2"].genotypes["TH01"] == ("8", "8")          # "A2 TH01 8 8"
    assert by["F2"].genotypes["D10S1248"] == ("14", "14")    # "F2 D10S1248 14 <empty>"
    assert by["F2"].genotypes["TH01"] == ("8", "9.3")
    assert by["A2"].sex == "F" and by["F2"].sex == "M"        # AMEL X X / X Y


def test_genemapper_set3_full_run(real):
    # a whole GeneMapper ID-X run: ladders, controls, OL calls, NA cells, 680 rows
    res = ok(real / "genemapper/set3.txt", format="genemapper")
    assert res.n_read == 680
    # README: 100 rows have no allele; 51 of them belong to the negative control and an
    # empty sample, which are not profiles of persons and are rejected whole (issue 13)
    assert res.n_untyped == 49
    # OL calls leave the locus untyped for that sample (issue 15), with a note
    assert any("off-ladder allele 'OL'" in n for n in res.left_out)
    assert not any("off-ladder" in r.reason for r in res.rejects)
    assert not any("Ladder" in p.sample_id or "Neg" in p.sample_id for p in res.profiles)
    # the ladders (more than two alleles at every STR) are mixtures of every allele
    ladder = {r.reason.split(":")[0] for r in res.rejects if "Ladder" in r.sample and not r.locus}
    assert ladder and all("called loci have three or more alleles" in x for x in ladder)
    neg = {r.reason for r in res.rejects if "Neg" in r.sample}
    assert any(x.startswith("no typed locus") for x in neg)


def test_genemapper_variants(real):
    # comma-separated with alternating Allele/Height columns; a mixture (rejected loci)
    res = ok(real / "genemapper/5716083_RAAK1234NL.txt", format="genemapper")
    assert res.n_read == 16 and res.profiles[0].sample_id == "5716083_RABF6347NL#01"
    assert res.profiles[0].genotypes["vWA"] == ("17", "18")
    # CR-only line endings (classic Mac), no final newline
    res = ok(real / "genemapper/mixture.txt", format="genemapper")
    assert res.n_read == 22
    # tab-separated although named .csv, 13 allele columns
    assert ok(real / "genemapper/GF_evid.csv", format="genemapper").n_read == 21
    # UD1 holds the sample ID
    res = ok(real / "genemapper/eDNASample.csv", format="genemapper", sample_column="UD1")
    assert res.n_read == 16 and res.profiles[0].sample_id == "sampleid"
    assert res.profiles[0].genotypes["D10S1248"] == ("14", "14")
    assert res.profiles[0].kit == "NGM_Select"


def test_genemapper_wide_exports(real):
    res = ok(real / "genemapper/GeneMapperExample.txt", format="wide")
    # its four samples show three or more alleles at 5 to 10 of their 15 loci: mixtures,
    # which are not imported as (partial) single-source profiles even in lenient mode
    assert res.n_read == 64 and not res.profiles
    whole = [r for r in res.rejects if "called loci have three or more alleles" in r.reason]
    assert len({r.sample for r in whole}) == 4
    # by hand from the file's first sample: D16S539, D8S1179, D21S11, FGA, D2S441, D3S1358,
    # D12S391 (three alleles) and D18S51 (four) of its 15 STR loci
    assert any(r.sample == "0000001_00000000000_AAAA0000NL#01" and r.reason.startswith("8 of its 15")
               for r in whole)
    res = ok(real / "genemapper/GeneMapperExampleWithHeightsAndOL.txt", format="wide")
    assert res.n_read == 16 and any("off-ladder allele 'OL'" in n for n in res.left_out)
    res = ok(real / "genemapper/GeneMapperExampleWithHeightsAndOL.txt", format="wide",
             off_ladder="error")
    assert any("off-ladder allele 'OL'" in r.reason for r in res.rejects)


@pytest.mark.parametrize("name, persons, calls", [
    # README "Facts": samples or persons with genotypes; genotype calls
    ("paternity.fam", 2, 20), ("halfsib.fam", 3, 147), ("halfsib-test.fam", 2, 16),
    ("Missing-son-conditioned.fam", 1, 21), ("Solution_4_9_2.fam", 7, 147),
    ("exclusionExample.fam", 63, 945), ("KETPex497.fam", 8, 184), ("Solution3_3.fam", 13, 195),
    ("kinship-riddle.fam", 2, 30), ("Exercise-Helicopter-solved.fam", 8, 168),
    ("halfsib_case.fam", 2, 4), ("KETPex498.fam", 4, 64), ("NorskDB_2023.fam", 0, 0),
    ("Exercise-Screening-Freq.fam", 0, 0),
])
def test_familias_counts(real, name, persons, calls):
    res = ok(real / "familias-fam" / name, format="familias")
    assert (res.n_read, res.n_imported, len(res.profiles)) == (calls, calls, persons)


def test_familias_paternity_values(real):
    res = ok(real / "familias-fam/paternity.fam", format="familias")
    by = {p.sample_id: p for p in res.profiles}
    # AF: triple (7, 7, 0) -> D3S1358 alleles[7] = "17"; (1, 5, 1) -> TH01 "6", "9"
    assert by["AF"].genotypes["D3S1358"] == ("17", "17")
    assert by["AF"].genotypes["TH01"] == ("6", "9")
    # CH: (6, 7, 0) -> "16", "17"; (1, 6, 1) -> "6", "9.3"
    assert by["CH"].genotypes["D3S1358"] == ("16", "17")
    assert by["CH"].genotypes["TH01"] == ("6", "9.3")
    assert by["AF"].sex == "M" and by["CH"].sex == "M"


def test_familias_dvi_families(real):
    res = ok(real / "familias-fam/Solution3_3.fam", format="familias")
    by = {p.sample_id: p for p in res.profiles}
    # two families each have a typed "Brother": qualified by family
    assert {"Family 2/Brother", "Family 5/Brother"} <= set(by)
    b = by["Family 2/Brother"]
    assert (b.kind, b.case_id, b.relation) == ("reference", "Family 2", "full-sibling")
    assert by["PM1"].kind == "query"
    res = ok(real / "familias-fam/exclusionExample.fam", format="familias")
    rel = {p.sample_id: p.relation for p in res.profiles}
    assert rel["0108/GMI-221970 [Daughter]"] == "child"
    assert rel["0159/GMI-221970 [Sister]"] == "full-sibling"


def test_familias_dvi_example_defines_its_locus(real):
    # L1 is not a known locus, but the file's own database defines it (issue 15)
    p = real / "familias-fam/dvi-example.fam"
    res = import_file(p, format="familias", mode="strict")
    assert res.n_rejected == 0 and res.extra_loci == ("L1",)
    assert {q.sample_id: q.genotypes["L1"] for q in res.profiles} == {
        "V1": ("1", "1"), "V2": ("2", "2"), "V3": ("1", "2"), "Reference family 1/R": ("1", "1")}


def test_familias_dvi_import_tables(real):
    res = ok(real / "familias-fam/dvi-import-tables/Exercise-Helicopter-AM-Data.txt", format="wide")
    by = {p.sample_id: p for p in res.profiles}
    assert (by["F"].case_id, by["F"].relation, by["F"].kind) == ("F1", "father", "reference")
    res = ok(real / "familias-fam/dvi-import-tables/Exercise-Helicopter-PM-Data.txt", format="wide")
    assert len(res.profiles) == 7 and res.n_untyped > 0  # " " cells: partial profiles PM5, PM6


def test_cmf_examples(real):
    res = ok(real / "codis-cmf/CODIS-32.AppendixAexample.xml", format="cmf")
    assert res.n_read == 29 and {p.sample_id for p in res.profiles} == {"IMP_0001A", "IMP_0001B"}
    a = {p.sample_id: p for p in res.profiles}["IMP_0001A"]
    assert a.genotypes["CSF1PO"] == ("10", "11") and a.genotypes["D13S317"] == ("8", "9")
    assert a.case_id == "FL2004_10_04_ABC" and a.kit == "PowerPlex 16"
    res = ok(real / "codis-cmf/Codis-Single-Profile.xml", format="cmf")
    p = res.profiles[0]
    assert res.n_rejected == 0 and p.sample_id == "ABCD1234NL#01"
    assert p.genotypes["vWA"] == ("16", "16") and p.sex == "M"   # homozygote written once
    res = ok(real / "codis-cmf/Codis-Mix-Profile-With-BOM-Header.xml", format="cmf")
    # 'Forensic Mixture' does not say query or reference (issue 17: an unknown category
    # no longer becomes a query silently); with a manifest the sample imports
    assert res.n_read == 16 and res.n_rejected == 16 and not res.profiles
    assert "SPECIMENCATEGORY 'Forensic Mixture'" in res.rejects[0].reason


def test_shared_long_csv(shared_data, tmp_path):
    # the NIST 1036 genotypes in the long layout (sample,marker,allele1,allele2)
    src = shared_data / "genotypes/nist1036_genotypes.csv"
    head = src.read_text().splitlines()[:301]
    p = tmp_path / "nist_head.csv"
    p.write_text("\n".join(head) + "\n")
    res = ok(p, format="csv")
    assert res.n_read == 300 and res.n_rejected == 0
    assert res.profiles[0].genotypes["CSF1PO"] == ("11", "12")  # "GT37019,CSF1PO,11,12"


def test_auto_detection(real):
    assert import_file(real / "genemapper/databaseESX17.txt").format == "genemapper"
    assert import_file(real / "familias-fam/paternity.fam").format == "familias"
    assert import_file(real / "codis-cmf/Codis-Single-Profile.xml").format == "cmf"
