"""Each bad input of issue 3 is reported with file, line, sample, locus and a fix.

Strict mode raises on the first bad row; lenient mode imports the good rows and
accounts for every row (imported + rejected = read).
"""
from __future__ import annotations

import csv
import re

import pytest
from formats_testlib import write

from formats import (
    DelimiterError,
    EncodingError,
    HeaderError,
    InputFormatError,
    InvalidRowError,
    XMLSecurityError,
    import_file,
)

GM_HEADER = "Sample Name\tMarker\tAllele 1\tAllele 2\tHeight 1\n"


def gm(tmp_path, body: str, name="run.txt"):
    return write(tmp_path / name, GM_HEADER + body)


def long_csv(tmp_path, body: str, name="g.csv"):
    return write(tmp_path / name, "sample_id,locus,allele1,allele2\n" + body)


def strict_error(path, **kw) -> InvalidRowError:
    with pytest.raises(InvalidRowError) as ei:
        import_file(path, mode="strict", **kw)
    return ei.value


def assert_accounting(res):
    assert res.n_imported + res.n_rejected == res.n_read
    assert res.n_rejected == len({(r.file, r.line) for r in res.rejects
                                  if r.file == res.source})


# ---------------------------------------------------------------- malformed alleles
@pytest.mark.parametrize("label, reason, fix", [
    ("1O", r"malformed allele '1O'", r"did you mean '10'\?"),
    ("9..3", r"malformed allele '9\.\.3'", r"did you mean '9\.3'\?"),
    ("-1", r"malformed allele '-1': repeat numbers cannot be negative", r"without a sign"),
    ("abc", r"malformed allele 'abc'", r"a repeat number such as '15'"),
])
def test_malformed_allele(tmp_path, label, reason, fix):
    p = gm(tmp_path, f"S1\tD3S1358\t15\t16\t100\nS1\tvWA\t{label}\t17\t100\n")
    e = strict_error(p, format="genemapper")
    assert (e.file, e.line, e.sample, e.locus) == (str(p), 3, "S1", "vWA")
    assert e.value == label
    msg = str(e)
    assert msg.startswith("run.txt, line 3, sample 'S1', locus vWA: ")
    assert re.search(reason, msg), msg
    assert re.search(r"Fix: .*" + fix, msg), msg
    # no genotype beyond the offending label is printed
    assert "17" not in msg.replace("line 3", "")


def test_empty_allele_before_called_one(tmp_path):
    p = gm(tmp_path, "S1\tvWA\t\t17\t100\n")
    e = strict_error(p, format="genemapper")
    assert e.line == 2 and e.locus == "vWA"
    assert "empty allele" in str(e) and "Fix: move the alleles into the first allele columns" in str(e)


def test_empty_allele_long_csv(tmp_path):
    p = long_csv(tmp_path, "S1,vWA,,\n")
    e = strict_error(p, format="csv")
    assert "g.csv, line 2, sample 'S1', locus vWA: no allele given (empty allele)" in str(e)
    assert "delete the row to leave the locus untyped" in str(e)


def test_empty_allele_cmf(real):
    e = strict_error(real / "codis-cmf/errorhandling/broken-allele.xml", format="cmf")
    assert e.sample == "ABCD1234NL#01" and e.locus == "D21S11"
    assert "empty allele: an ALLELE without ALLELEVALUE" in str(e)


@pytest.mark.parametrize("label", ["OL", "<8", ">27"])
def test_off_ladder_allele(tmp_path, label):
    p = long_csv(tmp_path, f"S1,D18S51,{label},14\nS1,TH01,6,7\n")
    # issue 15: by default the locus is left untyped for the sample, with a note
    res = import_file(p, format="csv", mode="strict")
    assert (res.n_read, res.n_imported, res.n_rejected, res.n_untyped) == (2, 2, 0, 0)
    assert res.profiles[0].genotypes == {"TH01": ("6", "7")}
    (note,) = res.left_out
    assert note.startswith(f"g.csv, line 2, sample 'S1', locus D18S51: off-ladder allele '{label}'")
    assert note in res.provenance["import"]["notes"]
    assert "1 off-ladder or multi-allele calls imported as an untyped locus" in res.summary()
    # off_ladder="error": the row is rejected
    e = strict_error(p, format="csv", off_ladder="error")
    assert f"off-ladder allele '{label}'" in str(e)
    assert "re-designate the allele against the allelic ladder" in str(e)
    assert (e.line, e.sample, e.locus) == (2, "S1", "D18S51")


def test_tri_allelic_genemapper(tmp_path):
    p = write(tmp_path / "t.txt", "Sample Name\tMarker\tAllele 1\tAllele 2\tAllele 3\n"
                                  "S1\tTPOX\t8\t9\t10\n")
    e = strict_error(p, format="genemapper")
    assert "3 alleles at one locus (a tri-allelic pattern or a mixture)" in str(e)
    assert (e.line, e.sample, e.locus) == (2, "S1", "TPOX")
    assert "delete the row to leave the locus untyped" in str(e)


def test_tri_allelic_long_csv_extra_field(tmp_path):
    p = long_csv(tmp_path, "S1,TPOX,8,9,10\n")
    e = strict_error(p, format="csv")
    assert "3 values where the header has 2 allele columns (a tri-allelic call" in str(e)
    assert e.line == 2 and e.locus == "TPOX"


def test_homozygote_written_once_long_csv(tmp_path):
    p = long_csv(tmp_path, "S1,vWA,16,\n")
    e = strict_error(p, format="csv")
    assert "one allele given (homozygote written once?)" in str(e)
    assert "write the allele twice (e.g. 16,16)" in str(e)
    assert "single_allele='homozygote'" in str(e)
    res = import_file(p, format="csv", single_allele="homozygote")
    assert res.profiles[0].genotypes == {"vWA": ("16", "16")}


def test_homozygote_once_is_genemapper_convention(tmp_path):
    p = gm(tmp_path, "S1\tvWA\t16\t\t100\n")
    assert import_file(p, format="genemapper").profiles[0].genotypes == {"vWA": ("16", "16")}
    e = strict_error(p, format="genemapper", single_allele="error")
    assert "homozygote written once" in str(e)


def test_unknown_locus(tmp_path):
    p = long_csv(tmp_path, "S1,D3S135B,15,16\n")
    e = strict_error(p, format="csv")
    assert "unknown locus 'D3S135B'; did you mean 'D3S1358'" in str(e)
    assert "--extra-locus" in str(e) and e.line == 2
    res = import_file(p, format="csv", extra_loci=["D3S135B"])
    assert res.profiles[0].genotypes == {"D3S135B": ("15", "16")}


def test_same_sample_twice_different_genotypes(tmp_path):
    p = long_csv(tmp_path, "S1,vWA,16,17\nS1,TH01,6,7\nS1,vWA,16,18\nS2,vWA,14,15\n")
    e = strict_error(p, format="csv")
    assert "lines 2, 4 give different genotypes for this sample and locus" in str(e)
    assert (e.sample, e.locus) == ("S1", "vWA")
    res = import_file(p, format="csv", mode="lenient")
    assert_accounting(res)
    assert (res.n_read, res.n_imported, res.n_rejected) == (4, 2, 2)
    assert {r.line for r in res.rejects} == {2, 4}
    got = {q.sample_id: q.genotypes for q in res.profiles}
    assert got == {"S1": {"TH01": ("6", "7")}, "S2": {"vWA": ("14", "15")}}


def test_identical_repeat_is_merged(tmp_path):
    p = long_csv(tmp_path, "S1,vWA,16,17\nS1,vWA,17,16\n")
    res = import_file(p, format="csv")
    assert res.n_duplicate == 1 and res.n_imported == 2 and len(res.profiles) == 1


MANIFEST = "sample_id,kind,case_id,relation,sex\nS1,query,,,\nR1,reference,C7,father,M\nR2,reference,C7,mother,F\n"


def test_sample_not_in_manifest(tmp_path):
    m = write(tmp_path / "manifest.csv", MANIFEST)
    p = long_csv(tmp_path, "S1,vWA,16,17\nR1,vWA,16,16\nR2,vWA,17,18\nX9,vWA,11,12\n")
    e = strict_error(p, format="csv", manifest=m)
    assert "g.csv, line 5, sample 'X9'" in str(e)
    assert "sample is not in the manifest manifest.csv" in str(e)
    assert "add a row for it to the manifest" in str(e)


def test_manifest_sample_not_in_genotypes(tmp_path):
    m = write(tmp_path / "manifest.csv", MANIFEST)
    p = long_csv(tmp_path, "S1,vWA,16,17\nR1,vWA,16,16\n")
    e = strict_error(p, format="csv", manifest=m)
    assert "manifest.csv, line 4, sample 'R2'" in str(e)
    assert "sample is in the manifest but not in the genotype file g.csv" in str(e)
    res = import_file(p, format="csv", manifest=m, mode="lenient")
    assert (res.manifest_read, res.manifest_used, res.manifest_rejected) == (3, 2, 1)
    assert res.n_rejected == 0 and len(res.profiles) == 2
    by = {q.sample_id: q for q in res.profiles}
    assert (by["R1"].kind, by["R1"].case_id, by["R1"].relation, by["R1"].sex) == (
        "reference", "C7", "father", "M")


def test_bad_manifest_rows(tmp_path):
    m = write(tmp_path / "manifest.csv",
              "sample_id,kind,case_id,relation,sex\nR1,reference,,father,\nR2,reference,C1,second-cousin,\n"
              "Q1,query,,father,\nQ2,suspect,,,\n")
    e = strict_error(long_csv(tmp_path, "R1,vWA,1,2\n"), format="csv", manifest=m)
    assert "manifest.csv, line 2, sample 'R1': a reference needs a case_id" in str(e)
    res = import_file(long_csv(tmp_path, "R1,vWA,1,2\nR2,vWA,1,2\nQ1,vWA,1,2\nQ2,vWA,1,2\n"),
                      format="csv", manifest=m, mode="lenient")
    reasons = [r.reason for r in res.rejects if r.file.endswith("manifest.csv")]
    assert reasons[1].startswith("unknown relation 'second-cousin'") and "full-sibling" in reasons[1]
    assert reasons[2] == "a query has no relation (found 'father')"
    assert reasons[3].startswith("unknown kind 'suspect'")
    assert res.profiles == [] and res.n_rejected == res.n_read == 4
    assert {r.reason for r in res.rejects if r.file.endswith("g.csv")} == {
        f"the manifest row of this sample (line {n}) was rejected" for n in (2, 3, 4, 5)}


def test_wrong_delimiter_genemapper(tmp_path):
    p = write(tmp_path / "semi.txt", "Sample Name;Marker;Allele 1;Allele 2\nS1;vWA;16;17\n")
    with pytest.raises(DelimiterError) as ei:
        import_file(p, format="genemapper")
    msg = str(ei.value)
    assert msg.startswith("semi.txt, line 1: the columns are separated by semicolons")
    assert "pass delimiter=';'" in msg and "--delimiter ';'" in msg
    assert import_file(p, format="genemapper", delimiter=";").profiles[0].genotypes == {
        "vWA": ("16", "17")}


def test_wrong_delimiter_long_csv(tmp_path):
    p = write(tmp_path / "tabs.csv", "sample_id\tlocus\tallele1\tallele2\nS1\tvWA\t16\t17\n")
    with pytest.raises(DelimiterError, match=r"separated by tabs, but a genotype CSV is "
                                             r"comma-separated"):
        import_file(p, format="csv")


def test_missing_columns(tmp_path):
    p = write(tmp_path / "x.txt", "Name\tLocus\tA\tB\nS1\tvWA\t16\t17\n")
    with pytest.raises(HeaderError, match=r"x.txt, line 1: the header does not have the columns "
                                          r"'Sample Name', 'Marker' and 'Allele 1'"):
        import_file(p, format="genemapper")


def test_utf8_bom_is_read(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes(b"\xef\xbb\xbf" + (GM_HEADER + "Sébastien\tvWA\t16\t17\t1\n").encode("utf-8"))
    res = import_file(p, format="genemapper")
    assert res.profiles[0].sample_id == "Sébastien"
    assert res.profiles[0].genotypes == {"vWA": ("16", "17")}


def test_utf16_excel_unicode_text_is_read(tmp_path):
    p = tmp_path / "u16.txt"
    p.write_bytes((GM_HEADER + "S1\tvWA\t16\t17\t1\n").encode("utf-16"))
    assert import_file(p, format="genemapper").profiles[0].sample_id == "S1"


def test_gbk_encoding(tmp_path):
    p = tmp_path / "gbk.txt"
    p.write_bytes((GM_HEADER + "S1\tvWA\t16\t17\t1\n张三\tvWA\t15\t16\t1\n").encode("gbk"))
    with pytest.raises(EncodingError) as ei:
        import_file(p, format="genemapper")
    msg = str(ei.value)
    assert msg.startswith("gbk.txt, line 3: not valid utf-8 text (byte 0xD5 at column 1)")
    assert "it looks like GBK/GB18030" in msg and "encoding='gbk'" in msg
    res = import_file(p, format="genemapper", encoding="gbk")
    assert [q.sample_id for q in res.profiles] == ["S1", "张三"]


def test_cp1252_encoding(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("sample_id,locus,allele1,allele2\nJos\xe9,vWA,16,17\n".encode("cp1252"))
    with pytest.raises(EncodingError, match=r"line 2: .*Windows-1252.*encoding='cp1252'"):
        import_file(p, format="csv")
    assert import_file(p, format="csv", encoding="cp1252").profiles[0].sample_id == "José"


def test_excel_workbook_refused(tmp_path):
    p = tmp_path / "run.xlsx"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(InputFormatError, match=r"zip archive \(an Excel .xlsx workbook\?\)"):
        import_file(p, format="genemapper")


def test_truncated_row(tmp_path):
    p = gm(tmp_path, "S1\tvWA\t16\t17\t100\nS2\tvWA\n")
    e = strict_error(p, format="genemapper")
    assert e.line == 3 and "truncated row?" in str(e)


def test_xml_doctype_and_entities_refused(tmp_path):
    p = write(tmp_path / "evil.xml", '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">]>\n'
                                     "<CODISImportFile><SPECIMEN/></CODISImportFile>\n")
    with pytest.raises(XMLSecurityError, match=r"evil.xml, line 2: the XML declares a DOCTYPE"):
        import_file(p, format="cmf")
    p2 = write(tmp_path / "xxe.xml", '<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "file:///etc/passwd">\n<x/>\n')
    with pytest.raises(XMLSecurityError):
        import_file(p2, format="cmf")


def test_malformed_xml(tmp_path):
    p = write(tmp_path / "bad.xml", "<CODISImportFile>\n<SPECIMEN>\n")
    with pytest.raises(InputFormatError, match=r"bad.xml, line 3: malformed XML"):
        import_file(p, format="cmf")


def test_cmf_broken_locus_and_no_profiles(real):
    e = strict_error(real / "codis-cmf/errorhandling/broken-locus.xml", format="cmf")
    assert "LOCUS without LOCUSNAME" in str(e) and e.sample == "ABCD1234NL#01"
    with pytest.raises(InputFormatError, match="no SPECIMEN"):
        import_file(real / "codis-cmf/errorhandling/no-profiles.xml", format="cmf")


def test_lenient_mode_rejects_file_and_counts(tmp_path):
    p = gm(tmp_path, "S1\tvWA\t16\t17\t1\nS1\tTH01\t1O\t7\t1\nS2\tvWA\tOL\t14\t1\n"
                     "S2\tTPOX\t8\t\t1\nS3\tFOO\t1\t2\t1\n")
    rej = tmp_path / "out" / "rejects.csv"
    res = import_file(p, format="genemapper", mode="lenient", rejects_path=rej,
                      off_ladder="error")
    assert_accounting(res)
    assert (res.n_read, res.n_imported, res.n_rejected) == (5, 2, 3)
    assert [q.sample_id for q in res.profiles] == ["S1", "S2"]
    rows = list(csv.DictReader(open(rej, encoding="utf-8")))
    assert [r["line"] for r in rows] == ["3", "4", "6"]
    assert rows[0]["file"] == "run.txt" and rows[0]["sample"] == "S1" and rows[0]["locus"] == "TH01"
    assert rows[0]["value"] == "1O" and rows[0]["fix"].startswith("did you mean '10'")
    assert rows[2]["reason"].startswith("unknown locus 'FOO'")
    assert set(rows[0]) == {"file", "line", "sample", "locus", "value", "reason", "fix"}


def test_genemapper_no_call_is_untyped(tmp_path):
    p = gm(tmp_path, "S1\tvWA\t\t\t\nS1\tTH01\t6\t7\t1\nS1\tAMEL\tX\tY\t1\n")
    res = import_file(p, format="genemapper")
    assert res.n_untyped == 1 and res.n_imported == 3
    assert res.profiles[0].genotypes == {"TH01": ("6", "7")} and res.profiles[0].sex == "M"


def test_amelogenin_conflicts_with_manifest(tmp_path):
    m = write(tmp_path / "m.csv", "sample_id,kind,case_id,relation,sex\nR1,reference,C1,mother,F\n")
    p = gm(tmp_path, "R1\tAMEL\tX\tY\t1\nR1\tvWA\t16\t17\t1\n")
    e = strict_error(p, format="genemapper", manifest=m)
    assert "amelogenin indicates male but the manifest says female" in str(e)
    assert "check for a sample swap" in str(e)


def test_bad_amelogenin(tmp_path):
    p = gm(tmp_path, "S1\tAMEL\tX\tZ\t1\n")
    e = strict_error(p, format="genemapper")
    assert "amelogenin alleles must be X and/or Y" in str(e) and e.value == "Z"


def test_manifest_from_a_semicolon_locale_spreadsheet(tmp_path):
    m = tmp_path / "m.csv"
    m.write_bytes(b"\xef\xbb\xbfsample_id;kind;case_id;relation;sex\r\nR1;Reference;C1;Full sibling;f\r\n")
    res = import_file(long_csv(tmp_path, "R1,vWA,16,17\n"), format="csv", manifest=m)
    p = res.profiles[0]
    assert (p.kind, p.case_id, p.relation, p.sex) == ("reference", "C1", "full-sibling", "F")
