"""Off-ladder and out-of-range calls (issue 15, item 3), under the documented policy
of :mod:`formats.importing` (``OFF_LADDER_POLICY``):

* ``OL``, ``<6``, ``>17``: the locus is left out of that sample (imported as
  untyped) with a note, never a failed file (``off_ladder="error"`` rejects);
* three or more alleles in CODIS CMF (which stores such calls): the same;
* a rare microvariant (``9.1``): an allele of its own, with the table's minimum
  allele frequency where the table lacks it.

The CMF 3.2 Appendix A example (tests/formats/data, provenance in its README)
imports in strict mode.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import kinship
from formats import InvalidRowError, import_file, open_dataset, write_profiles
from formats.cmf import write_cmf
from formats_testlib import write

DATA = Path(__file__).parent / "data"
APPX_A = DATA / "CODIS-32.AppendixAexample.xml"
LEFT_OUT_B = {"CSF1PO": 165, "D13S317": 176, "D16S539": 187, "D21S11": 212, "Penta D": 325}


def test_cmf_appendix_a_imports_in_strict_mode():
    res = import_file(APPX_A, format="cmf", mode="strict")
    assert (res.n_read, res.n_imported, res.n_rejected) == (29, 29, 0)
    by = {p.sample_id: p for p in res.profiles}
    assert set(by) == {"IMP_0001A", "IMP_0001B"}
    a, b = by["IMP_0001A"], by["IMP_0001B"]
    assert len(a.genotypes) == 13 and a.genotypes["FGA"] == ("24", "25")
    # IMP_0001B: <6 (CSF1PO), >15 (D13S317), >17 (Penta D) and the 4- and 3-allele
    # calls (D16S539, D21S11) leave those loci untyped; the others import as given
    assert not set(LEFT_OUT_B) & set(b.genotypes)
    assert b.genotypes["D18S51"] == ("11", "11")          # one ALLELE: a homozygote
    assert b.genotypes["Penta E"] == ("15", "16") and b.sex == "M"
    assert len(b.genotypes) == 10
    assert len(res.left_out) == 5
    for (locus, line), note in zip(LEFT_OUT_B.items(), res.left_out):
        assert note.startswith(f"CODIS-32.AppendixAexample.xml, line {line}, sample 'IMP_0001B', "
                               f"locus {locus}: ")
        assert note.endswith("the locus is left untyped for this sample")
    assert "off-ladder allele '<6'" in res.left_out[0]
    assert "4 alleles at one locus" in res.left_out[2]
    assert all(n in res.provenance["import"]["notes"] for n in res.left_out)


def test_cmf_appendix_a_old_policy_is_still_available():
    with pytest.raises(InvalidRowError, match="off-ladder allele '<6'"):
        import_file(APPX_A, format="cmf", off_ladder="error")
    with pytest.raises(InvalidRowError, match="4 alleles at one locus"):
        import_file(APPX_A, format="cmf", multi_allele="error")
    res = import_file(APPX_A, format="cmf", mode="lenient", off_ladder="error",
                      multi_allele="error")
    assert (res.n_imported, res.n_rejected) == (24, 5)
    with pytest.raises(ValueError, match="off_ladder"):
        import_file(APPX_A, format="cmf", off_ladder="allele")


def test_cmf_appendix_a_round_trip(tmp_path):
    """import -> dataset -> CMF export -> import gives the same profiles."""
    res = import_file(APPX_A, format="cmf")
    write_profiles(tmp_path / "ds", res.profiles, provenance=res.provenance)
    loaded = open_dataset(tmp_path / "ds").load().to_profiles()
    want = {p.sample_id: p.genotypes for p in res.profiles}
    assert {p.sample_id: p.genotypes for p in loaded} == want
    out = tmp_path / "again.xml"
    write_cmf(loaded, out)
    back = import_file(out, format="cmf", manifest=None, mode="strict", default_kind="query")
    assert {p.sample_id: p.genotypes for p in back.profiles} == want
    assert not back.left_out


def test_tri_allelic_in_other_formats_is_still_an_error_unless_asked(tmp_path):
    p = write(tmp_path / "t.txt", "Sample Name\tMarker\tAllele 1\tAllele 2\tAllele 3\n"
                                  "S1\tTPOX\t8\t9\t10\nS1\tTH01\t6\t7\t\n")
    with pytest.raises(InvalidRowError, match="3 alleles at one locus"):
        import_file(p, format="genemapper")
    res = import_file(p, format="genemapper", multi_allele="untyped")
    assert res.profiles[0].genotypes == {"TH01": ("6", "7")} and len(res.left_out) == 1


def test_a_sample_of_off_ladder_calls_only_is_not_a_person(tmp_path):
    p = write(tmp_path / "g.csv", "sample_id,locus,allele1,allele2\nS1,TPOX,OL,8\n"
                                  "S1,TH01,<5,7\nS2,TH01,6,7\n")
    res = import_file(p, format="csv", mode="lenient")
    assert [q.sample_id for q in res.profiles] == ["S2"]
    assert any(r.sample == "S1" and r.reason.startswith("no typed locus") for r in res.rejects)


def test_rare_microvariant_is_an_allele_with_the_minimum_frequency(tmp_path):
    p = write(tmp_path / "g.csv", "sample_id,locus,allele1,allele2\nS1,TH01,9.1,7\n")
    res = import_file(p, format="csv", mode="strict")
    assert res.profiles[0].genotypes == {"TH01": ("7", "9.1")} and not res.left_out
    ft = kinship.FrequencyTable.load("nist1036_all")
    assert "9.1" not in ft.alleles("TH01")
    la = ft.locus_alleles("TH01", extra_alleles=["9.1"])
    assert dict(zip(la.alleles, la.freqs))["9.1"] == pytest.approx(ft.min_allele_frequency("TH01"))
    # the dataset stores it, and the model adds it to the allele system
    write_profiles(tmp_path / "ds", res.profiles)
    codes, systems = open_dataset(tmp_path / "ds").load().to_table_indices(ft)
    assert "9.1" in systems[list(open_dataset(tmp_path / "ds").load().loci).index("TH01")].alleles
