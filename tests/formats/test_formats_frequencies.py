"""Frequency-table readers on the real files (counts: README "Facts"; values read
off the files by hand)."""
from __future__ import annotations

import pytest
from formats_testlib import write

import kinship
from formats import EncodingError, InputFormatError, read_frequencies


def n_values(t) -> int:
    return sum(len(t.alleles(l)) for l in t.loci)


@pytest.mark.parametrize("name, fmt, kw, markers, values", [
    ("NorskDB_v2023.txt", "familias", {}, 50, 800),
    ("reconstruct-fathers.freq", "familias", {}, 24, 352),          # CRLF, Penta_D
    ("GHEP-STR-freq.txt", "strider", {}, 17, 185),                  # tab, empty cells
    ("frequencies22Markers.txt", "strider", {}, 22, 206),           # NA cells
    ("ESX17_Norway.csv", "strider", {}, 16, 239),                   # comma
    ("NGM_Holland.csv", "strider", {}, 15, 217),                    # semicolon
    ("Identifiler_Caucasian.csv", "strider", {}, 15, 232),          # 6.06E-05
    ("STRBASE_frequencies_2015-02-09_Europe.csv", "strider", {}, 16, 300),  # quoted
    # strvalidator: two stacked databases, 419 values incl. 2 x AMEL X/Y
    ("database.txt", "strider", {"population": "SGM Norway"}, 10, 119),
    ("database.txt", "strider", {"population": "ESX 17 Hill"}, 16, 296),
])
def test_counts(real, name, fmt, kw, markers, values):
    t = read_frequencies(real / "frequency-formats" / name, format=fmt, **kw)
    assert isinstance(t, kinship.FrequencyTable)
    assert (len(t.loci), n_values(t)) == (markers, values)
    assert t.provenance["file"] == name and len(t.provenance["file_sha256"]) == 64


def test_values(real):
    ff = real / "frequency-formats"
    t = read_frequencies(ff / "NorskDB_v2023.txt", format="familias")
    assert t.frequency("D1S1656", "11") == 0.073863          # line 3
    assert "Penta E" in t.loci                                # marker name with a space
    t = read_frequencies(ff / "reconstruct-fathers.freq", format="familias")
    assert t.frequency("CSF1PO", "7") == 0.03796203796
    assert "Penta D" in t.loci                                # Penta_D -> canonical
    t = read_frequencies(ff / "ESX17_Norway.csv", format="strider")
    assert t.frequency("TH01", "5") == 0.00259844093543874
    assert "vWA" in t.loci                                    # VWA -> canonical
    t = read_frequencies(ff / "NGM_Holland.csv", format="strider")
    assert t.frequency("TH01", "5") == 0.007194245
    t = read_frequencies(ff / "STRBASE_frequencies_2015-02-09_Europe.csv", format="strider")
    assert t.frequency("TH01", "5") == 7.72499e-4
    t = read_frequencies(ff / "Identifiler_Caucasian.csv", format="strider")
    assert t.frequency("D18S51", "1") == 6.06e-05
    t = read_frequencies(ff / "GHEP-STR-freq.txt", format="strider")
    assert t.frequency("Penta D", "2.2") == 0.008
    t = read_frequencies(ff / "database.txt", format="strider", population="SGM Norway")
    assert t.frequency("TH01", "5") == 0.005 and t.n == 1000


def test_multi_population_needs_choice(real):
    with pytest.raises(InputFormatError, match=r"holds 2 populations \(ESX 17 Hill, SGM Norway\)"
                                               r".*population="):
        read_frequencies(real / "frequency-formats/database.txt", format="strider")


def test_fam_database(real):
    t = read_frequencies(real / "familias-fam/NorskDB_2023.fam", format="fam")
    assert (len(t.loci), n_values(t)) == (50, 800)
    # paternity.fam D3S1358: "17" 0.2040480415, DatabaseSize = 1000
    t = read_frequencies(real / "familias-fam/paternity.fam", format="fam")
    assert t.frequency("D3S1358", "17") == 0.2040480415 and t.n_for("D3S1358") == 1000
    # halfsib_case.fam pools 0.5 in a "Rest allele": dropped, then the sum is off
    with pytest.raises(kinship.FrequencyError, match="sum to 0.5"):
        read_frequencies(real / "familias-fam/halfsib_case.fam", format="fam")
    t = read_frequencies(real / "familias-fam/halfsib_case.fam", format="fam", renormalise=True)
    assert "vWA:Rest allele" in t.provenance["dropped_alleles"]


def test_project_csv(shared_data):
    t = read_frequencies(shared_data / "frequencies/nist1036_all.csv", format="csv")
    ref = kinship.FrequencyTable.load("nist1036_all")
    assert t.checksum() == ref.checksum()


def test_list_format_errors(tmp_path):
    p = write(tmp_path / "bad.txt", "TH01\n6\t0.5\n7\tabc\n")
    with pytest.raises(InputFormatError, match=r"bad.txt, line 3: cannot read '7' as an allele"):
        read_frequencies(p, format="familias")
    p = write(tmp_path / "bad2.txt", "6\t0.5\n")
    with pytest.raises(InputFormatError, match=r"line 1: an allele/frequency line before any marker"):
        read_frequencies(p, format="familias")
    p = tmp_path / "gbk.txt"
    p.write_bytes("TH01 数据\n6\t1.0\n".encode("gbk"))
    with pytest.raises(EncodingError, match="GBK"):
        read_frequencies(p, format="familias")


def test_strider_errors(tmp_path):
    p = write(tmp_path / "w.csv", "Allele,TH01\n6,0.5\n7,x\n")
    with pytest.raises(InputFormatError, match=r"w.csv, line 3: frequency of allele 7 at TH01 'x'"):
        read_frequencies(p, format="strider")
    p = write(tmp_path / "w2.csv", "Marker,TH01\n6,0.5\n")
    with pytest.raises(InputFormatError, match="no 'Allele' column"):
        read_frequencies(p, format="strider")
