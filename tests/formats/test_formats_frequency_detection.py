"""Frequency tables (issue 16, item 4): the STRidER XML export, format detection
with a clear message, stacked tables' populations, bundled names everywhere, and a
frequency-only ``.fam`` given to ``kinship import``.  Values read off the files by
hand (the first bytes of strider-2015.xml: ``<marker><name>VWA</name>...<origin
name="AUSTRIA" n="222"><frequency allele="18">2.59009e-1``)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kinship
from formats import FREQUENCY_FORMATS, InputFormatError, detect_frequency_format, read_frequencies

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
XML = DATA / "strider-2015.xml"
ORIGINS = ["AUSTRIA", "BELGIUM", "BOSNIA AND HERZEGOWINA", "CZECH REPUBLIC", "DENMARK",
           "Entire Database", "Europe", "FINLAND", "FRANCE", "GERMANY", "GREECE", "HUNGARY",
           "IRELAND", "MONTENEGRO", "NORWAY", "POLAND", "SLOVAKIA", "SLOVENIA", "SPAIN", "SWEDEN",
           "SWITZERLAND"]


def n_values(t) -> int:
    return sum(len(t.alleles(l)) for l in t.loci)


def test_strider_xml_values():
    t = read_frequencies(XML, population="AUSTRIA")
    assert t.name == "AUSTRIA" and len(t.loci) == 16
    assert t.frequency("vWA", "18") == 0.259009          # VWA -> vWA; 115 of 2 x 222 alleles
    assert t.n_for("vWA") == 222
    p = t.provenance
    assert (p["format"], p["population"], p["file"]) == ("strider-xml", "AUSTRIA", XML.name)
    assert p["file_sha256"] == "a80d91ae334a830f929e1296ea00975a1fad257e734e47f4f7b52807fe79ca35"
    assert p["created"] == "2020-01-14T13:41:03+01:00"
    # every frequency element of the file, over its 21 origins (README: 4159)
    assert sum(n_values(read_frequencies(XML, population=o)) for o in ORIGINS) == 4159
    # the pretty-printed CRLF export with one origin: no population needed
    t = read_frequencies(DATA / "str_base_validation_file.xml")
    assert (t.name, len(t.loci), n_values(t)) == ("Entire Database", 16, 299)
    assert t.frequency("TH01", "5") == 7.72499e-04


def test_strider_xml_populations():
    with pytest.raises(InputFormatError, match=r"holds 21 populations \(AUSTRIA, BELGIUM.*"
                                               r"inputs.population.*--population"):
        read_frequencies(XML)
    assert read_frequencies(XML, population="norway").name == "NORWAY"   # case-insensitive
    with pytest.raises(InputFormatError, match=r"no population 'Norwey'.*did you mean NORWAY"):
        read_frequencies(XML, population="Norwey")


@pytest.mark.parametrize("name, fmt", [
    ("strider-2015.xml", "strider-xml"), ("str_base_validation_file.xml", "strider-xml"),
    ("paternity.fam", "fam"), ("Exercise-Screening-Freq.fam", "fam"),
])
def test_detect_real_files(name, fmt):
    assert detect_frequency_format(DATA / name) == fmt


def test_detect_written_formats(tmp_path):
    bundled = Path(kinship.__file__).parent / "data" / "frequencies" / "nist1036_all.csv"
    assert detect_frequency_format(bundled) == "csv"
    lst = tmp_path / "list.txt"
    lst.write_text("D3S1358\n15\t0.25\n16\t0.75\n\nTH01\n6\t1.0\n")
    assert detect_frequency_format(lst) == "familias"
    wide = tmp_path / "wide.csv"
    wide.write_text("Allele;D3S1358;TH01\n15;0.25;\n16;0.75;\n6;;1.0\n")
    assert detect_frequency_format(wide) == "strider"
    # read with format="auto" (the default): the same tables as with the format named
    for p, fmt in ((lst, "familias"), (wide, "strider"), (bundled, "csv")):
        assert read_frequencies(p).checksum() == read_frequencies(p, format=fmt).checksum()


def test_unknown_format_says_what_it_saw_and_lists_the_formats(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("Population study of the county, 2019\nsee table 2\n")
    with pytest.raises(InputFormatError) as e:
        read_frequencies(p)
    msg = str(e.value)
    assert "cannot tell the frequency table's format" in msg and "Population study" in msg
    for f in FREQUENCY_FORMATS:
        assert f in msg
    # XML that is not a STRidER export names its root element
    with pytest.raises(InputFormatError, match=r"root element is <CODISImportFile>"):
        read_frequencies(DATA / "CODIS-32.AppendixAexample.xml")


def test_wrong_format_named_says_which_it_looks_like():
    with pytest.raises(InputFormatError, match=r"not the csv format.*looks like strider-xml.*"
                                               r"frequencies_format = \"strider-xml\""):
        read_frequencies(XML, format="csv")


def test_bundled_names():
    a = read_frequencies("nist1036_all")
    assert a.checksum() == kinship.FrequencyTable.load("nist1036_all").checksum()
    assert read_frequencies("nist1036_cauc.csv").name == "nist1036_cauc"
    with pytest.raises(InputFormatError, match=r"no bundled population.*did you mean nist1036_all"):
        read_frequencies("nist1036_al")


def run(*argv):
    return subprocess.run([sys.executable, "-m", "engine.cli", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_takes_bundled_names_and_strider_xml(tmp_path):
    csv = tmp_path / "g.csv"
    csv.write_text("sample_id,locus,allele1,allele2\nS1,D3S1358,15,16\nS1,TH01,6,7\n")
    assert run("import", str(csv), "--out", str(tmp_path / "ds")).returncode == 0
    p = run("export", str(tmp_path / "ds"), "--format", "familias", "--frequencies",
            "nist1036_all", "--out", str(tmp_path / "x.fam"))
    assert p.returncode == 0, p.stderr
    assert "D3S1358" in (tmp_path / "x.fam").read_text(errors="replace")
    p = run("lr", "--relation", "father", "--ref", "D3S1358=15/16", "--query", "D3S1358=16/16",
            "--frequencies", str(XML), "--population", "NORWAY", "--json")
    assert p.returncode == 0, p.stderr
    import json

    # father 15/16, child 16/16, no mutation: LR = 1 / (2 p16), with p16 = 2.62376e-1 (NORWAY,
    # D3S1358) scaled by the locus sum as every table is (README, Frequencies: p / sum p)
    import re

    text = XML.read_text()
    locus = text[text.index("<name>D3S1358</name>"):]
    locus = locus[:locus.index("</marker>")]
    norway = locus[locus.index('name="NORWAY"'):]
    norway = norway[:norway.index("</origin>")]
    freqs = {a: float(f) for a, f in re.findall(r'allele="([^"]+)">([^<]+)<', norway)}
    assert freqs["16"] == 0.262376
    r = json.loads(p.stdout)
    assert r["total"] == pytest.approx(sum(freqs.values()) / (2 * 0.262376), rel=1e-12)
    p = run("lr", "--relation", "father", "--ref", "D3S1358=15/16", "--query", "D3S1358=16/16",
            "--frequencies", str(XML))
    assert p.returncode == 1 and "holds 21 populations" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_frequency_only_fam_is_not_profiles(tmp_path):
    p = run("import", str(DATA / "Exercise-Screening-Freq.fam"), "--out", str(tmp_path / "ds"))
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "holds no persons" in p.stderr and "frequency table" in p.stderr
    assert "--frequencies" in p.stderr and "every row was rejected" not in p.stderr
    # and as a frequency table it reads
    t = read_frequencies(DATA / "Exercise-Screening-Freq.fam")
    assert len(t.loci) == 16 and t.n_for(t.loci[0]) == 2500


def test_a_frequency_table_given_to_import_says_so(tmp_path):
    from formats import import_file

    bundled = Path(kinship.__file__).parent / "data" / "frequencies" / "nist1036_all.csv"
    for p, fmt in ((XML, "strider-xml"), (bundled, "csv")):
        with pytest.raises(InputFormatError, match=rf"is a frequency table \({fmt} .*not "
                                                   r"profiles.*inputs.frequencies"):
            import_file(p)
    # a profile table of no known layout: the message shows its header (no genotypes)
    w = tmp_path / "w.csv"
    w.write_text("id;D3S1358;TH01\nX1;15/16;6/7\n")
    with pytest.raises(InputFormatError, match=r"first line 'id, D3S1358, TH01'") as e:
        import_file(w)
    assert "15/16" not in str(e.value)
