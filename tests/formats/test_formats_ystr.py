"""Y-STR haplotypes: import (GeneMapper, long CSV, CMF) -> Parquet Y dataset -> load.

Round trips are checked against kinship.ystr's own reading of the same records
(``YHaplotypes.from_records``): hypothesis draws haplotypes with microvariants,
null alleles, multi-copy markers, flagged duplications and DYS389I/II, writes them
in each lab format, imports, stores and loads them.  Every bad-input case of the
issue is asserted with its message (file, line, sample, locus, fix).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pyarrow.parquet as pq
import pytest
from kinship.cases import normalize_relation
from formats_testlib import sample_ids, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formats
from formats import (
    CorruptShardError,
    DatasetError,
    DuplicateSampleError,
    InputFormatError,
    InvalidRowError,
    ProfileValidationError,
    SchemaTooNewError,
    YSampleMeta,
    import_y_file,
    open_y_dataset,
    write_y_haplotypes,
)
from formats.cli import register
from formats.dataset import MANIFEST_NAME
from kinship.ystr import YHaplotypes, get_panel
from kinship.ystr.haplotypes import DUPLICATED, FLAG_COPIES_ASSUMED_EQUAL, FLAG_DUPLICATION

PANEL = get_panel("Yfiler Plus")
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# spellings labs use in exports (resolved by kinship.ystr.loci)
SPELLINGS = {
    "DYS389I": ["DYS389I", "DYS389 I"],
    "DYS389II": ["DYS389II", "DYS389 II"],
    "YGATAH4": ["YGATAH4", "Y GATA H4", "Y-GATA-H4"],
    "DYS385": ["DYS385", "DYS385a/b", "DYS385 a/b"],
    "DYF387S1": ["DYF387S1", "DYF387S1a/b"],
}


# --------------------------------------------------------------------------------------
# Strategies and writers
# --------------------------------------------------------------------------------------
value = st.one_of(
    st.integers(6, 40).map(str),
    st.tuples(st.integers(6, 40), st.integers(1, 3)).map(lambda t: f"{t[0]}.{t[1]}"),
    st.just("null"),
)


@st.composite
def y_record(draw, sid):
    """{marker: [labels]} for one man (untyped markers absent) + export spellings."""
    rec, spell = {}, {}
    for m in PANEL.markers:
        if m.name in ("DYS389I", "DYS389II"):
            continue
        kind = draw(st.sampled_from(["untyped", "call", "call", "call", "dup"]))
        if kind == "untyped":
            continue
        if m.copies == 1:
            vals = [draw(value)] if kind == "call" else draw(
                st.lists(value, min_size=2, max_size=2, unique=True))
        else:
            n = m.copies if kind == "call" else m.copies + 1
            vals = draw(st.lists(value, min_size=n, max_size=n))
        rec[m.name] = vals
        spell[m.name] = draw(st.sampled_from(SPELLINGS.get(m.name, [m.name])))
    if not rec:  # a man with no typed marker has no row in any format
        rec["DYS19"], spell["DYS19"] = [draw(value)], "DYS19"
    if draw(st.booleans()):  # DYS389I and raw DYS389II (longer)
        i = draw(st.integers(9, 17))
        rec["DYS389I"] = [str(i)]
        rec["DYS389II"] = [str(i + draw(st.integers(10, 19)))]
        for k in ("DYS389I", "DYS389II"):
            spell[k] = draw(st.sampled_from(SPELLINGS[k]))
    return sid, rec, spell


@st.composite
def y_sets(draw, max_size=5):
    n = draw(st.integers(1, max_size))
    ids = draw(st.lists(sample_ids, min_size=n, max_size=n, unique=True))
    out = []
    for sid in ids:
        s, rec, spell = draw(y_record(sid))
        kind = draw(st.sampled_from(["query", "reference"]))
        case, rel = ("", "") if kind == "query" else (
            draw(st.sampled_from(["C1", "2024/17"])),
            draw(st.sampled_from(["father", "full-sibling", "uncle", "self"])))
        sex = draw(st.sampled_from(["M", ""]))
        per_copy = draw(st.booleans())
        out.append({"sid": s, "rec": rec, "spell": spell, "kind": kind, "case": case,
                    "rel": rel, "sex": sex, "per_copy": per_copy})
    return out


def expected(samples) -> YHaplotypes:
    recs = [{"sample": s["sid"], **{m: ",".join(v) for m, v in s["rec"].items()}} for s in samples]
    return YHaplotypes.from_records(recs, PANEL)


def write_manifest(samples, path):
    lines = ["sample_id,kind,case_id,relation,sex"]
    for s in samples:
        lines.append(",".join([s["sid"], s["kind"], s["case"], s["rel"], s["sex"]]))
    return write(path, "\n".join(lines) + "\n")


def write_genemapper(samples, path):
    lines = ["Sample Name\tMarker\tAllele 1\tAllele 2\tAllele 3\tDye"]
    n = 0
    for s in samples:
        for m in PANEL.markers:
            vals = s["rec"].get(m.name)
            if vals is None:   # GeneMapper writes a no-call as an empty row
                if m.name == "DYS19":
                    lines.append(f"{s['sid']}\tDYS19\t\t\t\tB")
                    n += 1
                continue
            cells = list(vals) + [""] * (3 - len(vals))
            lines.append("\t".join([s["sid"], s["spell"][m.name]] + cells + ["B"]))
            n += 1
    write(path, "\n".join(lines) + "\n", newline="\r\n")
    return n


def write_long_csv(samples, path):
    w = ["sample_id,locus,allele1,allele2"]
    for s in samples:
        for m in PANEL.markers:
            vals = s["rec"].get(m.name)
            if vals is None:
                continue
            if m.copies > 1 and len(vals) == m.copies and s["per_copy"]:
                for k, v in enumerate(vals):   # one row per copy: DYS385a, DYS385b
                    w.append(f"{s['sid']},{m.name}{'ab'[k]},{v},")
                continue
            if m.copies == 1 and len(vals) == 1 and s["per_copy"]:
                vals = vals * 2                # diploid-style export: 14,14 = one call
            cells = list(vals) + [""] * (2 - len(vals))
            w.append(",".join([s["sid"], s["spell"][m.name]] + cells))  # 3rd value past header
    write(path, "\n".join(w) + "\n")
    return len(w) - 1


def write_cmf(samples, path):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<CODISImportFile xmlns="urn:CODISImportFile-schema">',
           "  <HEADERVERSION>3.2</HEADERVERSION>", "  <KIT>Yfiler Plus</KIT>"]
    n = 0
    for s in samples:
        out.append(f"  <SPECIMEN><SPECIMENID>{escape(s['sid'])}</SPECIMENID>"
                   f"<SPECIMENCATEGORY>Other</SPECIMENCATEGORY>")
        for m in PANEL.markers:
            vals = s["rec"].get(m.name)
            if vals is None:
                continue
            al = "".join(f"<ALLELE><ALLELEVALUE>{v}</ALLELEVALUE></ALLELE>" for v in vals)
            out.append(f"    <LOCUS><LOCUSNAME>{escape(s['spell'][m.name])}</LOCUSNAME>{al}</LOCUS>")
            n += 1
        out.append("  </SPECIMEN>")
    out.append("</CODISImportFile>")
    write(path, "\n".join(out) + "\n")
    return n


WRITERS = {"genemapper": write_genemapper, "csv": write_long_csv, "cmf": write_cmf}


def assert_same(h: YHaplotypes, want: YHaplotypes):
    assert h.panel.slots == want.panel.slots
    assert list(h.profile_id) == list(want.profile_id)
    np.testing.assert_array_equal(h.allele, want.allele)
    np.testing.assert_array_equal(h.flags, want.flags)
    assert h.extra == want.extra


# --------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["genemapper", "csv", "cmf"])
@SETTINGS
@given(samples=y_sets())
def test_roundtrip_import_parquet_load(fmt, samples):
    want = expected(samples)
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        n_rows = WRITERS[fmt](samples, d / f"y.{fmt}")
        man = write_manifest(samples, d / "manifest.csv")
        res = import_y_file(d / f"y.{fmt}", format=fmt, manifest=man, panel="Yfiler Plus")
        assert res.n_read == n_rows and res.n_imported == n_rows
        assert res.n_rejected == 0 and res.n_skipped == 0 and not res.rejects
        assert_same(res.haplotypes, want)
        write_y_haplotypes(d / "ydb", res)
        ds = open_y_dataset(d / "ydb")
        h, meta = ds.load()
        assert_same(h, want)
        assert h.panel == PANEL                        # the shipped panel object comes back
        assert list(meta.sample_id) == [s["sid"] for s in samples]
        assert list(meta.kind) == [s["kind"] for s in samples]
        assert list(meta.case_id) == [s["case"] for s in samples]
        # the manifest's words come back in canonical form ('uncle' -> 'paternal-uncle')
        assert list(meta.relation) == [normalize_relation(s["rel"]) for s in samples]
        assert list(meta.sex) == [s["sex"] for s in samples]
        # the duplication flag survives and the dataset is searchable as is
        dup = h.allele == DUPLICATED
        assert ((h.flags & FLAG_DUPLICATION) > 0)[dup].all()
        assert ds.provenance()[0]["sources"][0]["format"] == fmt


def test_roundtrip_auto_format_and_inferred_panel(tmp_path):
    gm = write(tmp_path / "y.txt",
               "Sample Name\tMarker\tAllele 1\tAllele 2\n"
               "S1\tDYS19\t14\t\nS1\tDYS385\t11\t14\nS1\tDYS389I\t13\t\nS1\tDYS389II\t29\t\n")
    r = import_y_file(gm)                             # auto: GeneMapper; panel inferred
    assert r.format == "genemapper" and r.panel.name == "Yfiler"
    gm2 = write(tmp_path / "y2.txt", "Sample Name\tMarker\tAllele 1\tAllele 2\n"
                                     "S2\tDYS449\t30\t\nS2\tDYS19\t14\t\n")
    assert import_y_file(gm2).panel.name == "Yfiler Plus"
    gm3 = write(tmp_path / "y3.txt", "Sample Name\tMarker\tAllele 1\nS3\tDYS549\t12\n")
    assert import_y_file(gm3).panel.name == "PowerPlex Y23"
    gm4 = write(tmp_path / "y4.txt", "Sample Name\tMarker\tAllele 1\nS4\tDYS447\t24\n")
    p4 = import_y_file(gm4).panel
    assert p4.name == "inferred" and p4.slots == ("DYS447",)
    c = write(tmp_path / "y.csv", "sample_id,locus,allele1,allele2\nS1,DYS19,14,14\n")
    assert import_y_file(c).format == "csv"


def test_equal_copies_written_once_all_copies_flagged(tmp_path):
    # GeneMapper shows equal DYS385 copies as one peak: with the option it is read as
    # both copies and flagged, and the flag survives Parquet
    gm = write(tmp_path / "y.txt", "Sample Name\tMarker\tAllele 1\tAllele 2\n"
                                   "S1\tDYS385\t14\t\nS1\tDYS19\t15\t\n")
    r = import_y_file(gm, single_value_multicopy="all_copies", panel="Yfiler")
    assert r.n_copies_assumed_equal == 1 and "copies assumed equal" in r.summary()
    write_y_haplotypes(tmp_path / "ydb", r)
    h, _ = open_y_dataset(tmp_path / "ydb").load()
    i, j = h.panel.slot_index("DYS385a"), h.panel.slot_index("DYS385b")
    assert h.allele[0, i] == h.allele[0, j] == 140
    assert h.flags[0, i] & FLAG_COPIES_ASSUMED_EQUAL and h.flags[0, j] & FLAG_COPIES_ASSUMED_EQUAL
    assert h.profile(0) == {"DYS19": ("15",), "DYS385": ("14", "14")}


def test_codis_cmflist_y_locus_names(tmp_path, real):
    """Every Y locus name of the FBI's CmfList.xml (DYS389 I, DYS385 a/b, Yindel, ...) is
    read: Y-STRs into their slots, the Yindel counted as skipped."""
    import re

    text = (real / "codis-cmf" / "CmfList.xml").read_text(encoding="utf-8")
    names = re.findall(r"<(?:Item|Name)>((?:DY|YG|Yi)[^<]*)</(?:Item|Name)>", text)
    assert {"DYS389 I", "DYS389 II", "DYS385 a/b", "Yindel", "YGATAH4", "DYF387S1"} <= set(names)
    loci = []
    for k, n in enumerate(dict.fromkeys(names)):
        two = n.startswith(("DYS385", "DYF387S1"))
        v = (11, 14) if two else ((2,) if n == "Yindel" else (10 + k,))
        al = "".join(f"<ALLELE><ALLELEVALUE>{x}</ALLELEVALUE></ALLELE>" for x in v)
        loci.append(f"<LOCUS><LOCUSNAME>{n}</LOCUSNAME>{al}</LOCUS>")
    x = write(tmp_path / "y.xml", "<CODISImportFile><SPECIMEN><SPECIMENID>S1</SPECIMENID>\n"
              + "\n".join(loci) + "\n</SPECIMEN></CODISImportFile>\n")
    r = import_y_file(x, format="cmf")
    assert r.n_rejected == 0 and r.n_skipped == 1 and r.n_duplicate == 1  # DYS385 twice
    got = r.haplotypes.profile(0)
    assert set(PANEL.marker_names) <= set(got) and got["DYS385"] == ("11", "14")
    assert r.panel.name == "inferred" and {"DYS549", "DYS643"} <= set(r.panel.marker_names)


# --------------------------------------------------------------------------------------
# Bad input: every case with its message
# --------------------------------------------------------------------------------------
HEAD = "Sample Name\tMarker\tAllele 1\tAllele 2\tAllele 3\n"


def gm(tmp_path, body, name="run.txt"):
    return write(tmp_path / name, HEAD + body)


def strict_error(path, **kw) -> InvalidRowError:
    with pytest.raises(InvalidRowError) as ei:
        import_y_file(path, **kw)
    return ei.value


def test_multicopy_three_values_flag_or_error(tmp_path):
    g = gm(tmp_path, "S1\tDYS19\t14\t\t\nS1\tDYS385\t11\t14\t15\n")
    r = import_y_file(g, format="genemapper", panel="Yfiler")     # default: flagged
    assert r.n_flagged == 1 and r.n_imported == 2 and r.n_rejected == 0
    i = r.haplotypes.panel.slot_index("DYS385a")
    assert r.haplotypes.allele[0, i] == DUPLICATED
    assert r.haplotypes.extra == {(0, "DYS385"): (110, 140, 150)}
    assert "1 markers flagged as duplications" in r.summary()
    e = strict_error(g, format="genemapper", duplications="error")
    assert str(e).startswith("run.txt, line 3, sample 'S1', locus DYS385: DYS385 has 3 values "
                             "where 2 are expected (a duplication, or a mixture?). Fix: ")
    assert "duplications='flag'" in str(e) and "--duplications flag" in str(e)
    assert e.value == "15" and (e.file, e.line, e.sample, e.locus) == (str(g), 3, "S1", "DYS385")
    # a single-copy marker with two different values: the same policy
    g2 = gm(tmp_path, "S1\tDYS19\t14\t15\t\n", "two.txt")
    assert import_y_file(g2).haplotypes.extra == {(0, "DYS19"): (140, 150)}
    e = strict_error(g2, duplications="error")
    assert "locus DYS19: single-copy marker DYS19 has 2 different values" in str(e)


def test_dys385_single_value_without_saying_so(tmp_path):
    g = gm(tmp_path, "S1\tDYS19\t14\t\t\nS1\tDYS385\t14\t\t\n")
    e = strict_error(g, format="genemapper")
    assert str(e).startswith(
        "run.txt, line 3, sample 'S1', locus DYS385: DYS385 has 2 copies but one value was "
        "given, without saying that the copies are equal. Fix: if every copy carries it write "
        "it 2 times (e.g. 14,14)")
    assert "single_value_multicopy='all_copies'" in str(e)
    assert "--single-value-multicopy all-copies" in str(e)
    # and in CMF, one ALLELE at DYS385
    x = write(tmp_path / "y.xml",
              '<CODISImportFile><SPECIMEN><SPECIMENID>S9</SPECIMENID>\n'
              '<LOCUS><LOCUSNAME>DYS385</LOCUSNAME><ALLELE><ALLELEVALUE>13</ALLELEVALUE></ALLELE></LOCUS>\n'
              '</SPECIMEN></CODISImportFile>\n')
    e = strict_error(x, format="cmf")
    assert "y.xml, line 2, sample 'S9', locus DYS385: DYS385 has 2 copies but one value" in str(e)


def test_one_copy_only(tmp_path):
    c = write(tmp_path / "y.csv", "sample_id,locus,allele1,allele2\nS1,DYS385a,11,\nS1,DYS19,14,14\n")
    e = strict_error(c, format="csv")
    assert ("y.csv, line 2, sample 'S1', locus DYS385: only DYS385a of the 2-copy marker DYS385 "
            "is given (copies DYS385a, DYS385b)") in str(e)


def test_unknown_y_locus(tmp_path):
    g = gm(tmp_path, "S1\tDYS19\t14\t\t\nS1\tDYS3899\t13\t\t\n")
    e = strict_error(g)
    assert str(e).startswith("run.txt, line 3, sample 'S1', locus DYS3899: unknown Y-STR marker "
                             "'DYS3899'; did you mean 'DYS389I'")
    assert "Fix: correct the marker name" in str(e) and e.value == "DYS3899"
    g2 = gm(tmp_path, "S1\tFOO\t13\t\t\n", "foo.txt")
    assert "locus FOO: unknown locus 'FOO': neither a Y-STR marker nor a known autosomal" in str(
        strict_error(g2))


def test_female_in_manifest(tmp_path):
    g = gm(tmp_path, "M1\tDYS19\t14\t\t\nF1\tDYS19\t15\t\t\nF1\tDYS390\t22\t\t\n")
    m = write(tmp_path / "manifest.csv",
              "sample_id,kind,case_id,relation,sex\nM1,query,,,M\nF1,reference,C1,mother,F\n")
    e = strict_error(g, manifest=m)
    assert str(e).startswith(
        "run.txt, line 3, sample 'F1', locus DYS19: sample is recorded as female in the manifest "
        "manifest.csv (line 3) but has Y-STR rows; a female sample has no Y haplotype. Fix: "
        "check for a sample swap")
    r = import_y_file(g, manifest=m, mode="lenient")
    assert list(r.haplotypes.profile_id) == ["M1"] and list(r.meta.sex) == ["M"]
    assert r.n_rejected == 2 and r.n_imported == 1 and r.n_read == 3
    assert [x.locus for x in r.rejects[:2]] == ["DYS19", "DYS390"]
    # the manifest side says why F1 is not in the output
    assert r.rejects[-1].file.endswith("manifest.csv") and r.rejects[-1].sample == "F1"
    assert "no Y-STR row of this sample could be imported" in r.rejects[-1].reason


def test_amelogenin_female_and_amely_deletion(tmp_path):
    g = gm(tmp_path, "S1\tAMEL\tX\t\t\nS1\tDYS19\t14\t\t\n")
    e = strict_error(g)
    assert ("run.txt, line 2, sample 'S1', locus AMEL: amelogenin (line 2) shows X only (female) "
            "but the sample has Y-STR calls; a female sample has no Y haplotype") in str(e)
    r = import_y_file(g, mode="lenient")                     # every row of the sample
    assert len(r.haplotypes) == 0 and [x.locus for x in r.rejects] == ["AMEL", "DYS19"]
    m = write(tmp_path / "m.csv", "sample_id,kind,case_id,relation,sex\nS1,query,,,M\n")
    r = import_y_file(g, manifest=m, mode="lenient")         # AMELY deletion: manifest says M
    assert len(r.haplotypes) == 1 and r.n_rejected == 1 and r.rejects[0].locus == "AMEL"
    assert "AMELY deletion" in r.rejects[0].fix
    g2 = gm(tmp_path, "S2\tAMEL\tX\tY\t\nS2\tDYS19\t14\t\t\n", "xy.txt")
    assert list(import_y_file(g2).meta.sex) == ["M"]


def test_dys389ii_shorter_than_dys389i(tmp_path):
    g = gm(tmp_path, "S1\tDYS389I\t13\t\t\nS1\tDYS389II\t12\t\t\nS1\tDYS19\t14\t\t\n")
    e = strict_error(g)
    assert str(e).startswith(           # both rows are rejected; the first one is raised
        "run.txt, line 2, sample 'S1', locus DYS389I: DYS389II (line 3) is not longer than "
        "DYS389I (line 2); DYS389II contains DYS389I. Fix: check for swapped DYS389I/DYS389II "
        "rows, or for DYS389II recorded as II-I")
    assert e.value == "12"
    r = import_y_file(g, mode="lenient")
    assert r.n_rejected == 2 and r.n_imported == 1
    assert {x.locus for x in r.rejects} == {"DYS389I", "DYS389II"}
    assert r.haplotypes.profile(0) == {"DYS19": ("14",)}


def test_other_row_problems(tmp_path):
    cases = [
        ("S1\tDYS19\tOL\t\t\n", "locus DYS19: off-ladder allele 'OL'", "re-designate"),
        ("S1\tDYS19\t1O\t\t\n", "malformed allele '1O'", "did you mean '10'?"),
        ("S1\tDYS19\t\t14\t\n", "empty allele", "first allele columns"),
        ("S1\tvWA\t14\t16\t\n", "locus vWA: autosomal locus vWA in a Y-STR import",
         "--skip-autosomal"),
        ("S1\tDYS19\t14\t\t\nS1\tDYS19\t15\t\t\n", "locus DYS19: lines 2, 3 give different values",
         "keep the correct row"),
        ("S1\tDYS19\t70\t\t\n", "allele 70 is above 62.9 repeats", "base pairs"),
        ("S1\tDYS385\t11\t14\t\nS1\tDYS385a\t11\t\t\n",
         "locus DYS385: DYS385 is given both as one row and per copy", "keep either"),
    ]
    for k, (body, msg, fix) in enumerate(cases):
        g = gm(tmp_path, body, f"c{k}.txt")
        e = strict_error(g)
        assert msg in str(e) and fix in e.fix, (body, str(e))
    # a marker outside the given panel
    g = gm(tmp_path, "S1\tDYS449\t30\t\t\n", "p.txt")
    assert "locus DYS449: marker DYS449 is not in panel 'Yfiler'" in str(strict_error(g, panel="Yfiler"))
    # skip_autosomal and the Yfiler Plus "Y indel": counted as skipped, not lost
    g = gm(tmp_path, "S1\tvWA\t14\t16\t\nS1\tY indel\t2\t\t\nS1\tDYS19\t14\t\t\n", "s.txt")
    r = import_y_file(g, skip_autosomal=True)
    assert (r.n_read, r.n_imported, r.n_rejected, r.n_skipped) == (3, 1, 0, 2)
    assert "skipped 2" in r.summary() and "Y indel" in r.provenance["import"]["notes"][0]
    # exact repeats are merged
    g = gm(tmp_path, "S1\tDYS19\t14\t\t\nS1\tDYS19\t14\t\t\n", "rep.txt")
    assert import_y_file(g).n_duplicate == 1


def test_long_csv_third_value_and_no_call(tmp_path):
    c = write(tmp_path / "y.csv", "sample_id,locus,allele1,allele2\n"
                                  "S1,DYS385,11,14,15\nS1,DYS19,,\n")
    e = strict_error(c, format="csv")
    assert "y.csv, line 3, sample 'S1', locus DYS19: no allele given (empty allele)" in str(e)
    r = import_y_file(c, format="csv", mode="lenient")
    assert r.haplotypes.extra == {(0, "DYS385"): (110, 140, 150)}
    assert (r.n_read, r.n_imported, r.n_rejected) == (2, 1, 1)


def test_manifest_join(tmp_path):
    g = gm(tmp_path, "S1\tDYS19\t14\t\t\nX9\tDYS19\t15\t\t\n")
    m = write(tmp_path / "manifest.csv", "sample_id,kind,case_id,relation,sex\n"
                                         "S1,reference,C7,father,M\nR2,reference,C7,uncle,\n")
    e = strict_error(g, manifest=m)
    assert str(e).startswith("run.txt, line 3, sample 'X9', locus DYS19: sample is not in the "
                             "manifest manifest.csv. Fix: add a row for it")
    r = import_y_file(g, manifest=m, mode="lenient")
    assert list(r.meta.relation) == ["father"] and list(r.meta.case_id) == ["C7"]
    last = r.rejects[-1]
    assert last.sample == "R2" and "not in the genotype file run.txt" in last.reason


def test_lenient_accounting_and_rejects_file(tmp_path):
    body = ("S1\tDYS19\t14\t\t\n"       # ok
            "S1\tDYS385\t14\t\t\n"      # one value at DYS385
            "S1\tDYS3899\t13\t\t\n"     # unknown Y marker
            "S1\tDYS389I\t13\t\t\n"     # DYS389II shorter
            "S1\tDYS389II\t12\t\t\n"
            "S2\tDYS19\tOL\t\t\n"       # off-ladder
            "S2\tDYS390\t22\t\t\n"      # ok
            "S2\tY indel\t2\t\t\n"      # skipped
            "\tDYS19\t14\t\t\n")        # no sample
    g = gm(tmp_path, body)
    rj = tmp_path / "rejects.csv"
    r = import_y_file(g, mode="lenient", rejects_path=rj)
    assert r.n_read == 9
    assert r.n_imported + r.n_rejected + r.n_skipped == r.n_read
    assert (r.n_imported, r.n_rejected, r.n_skipped) == (2, 6, 1)
    rows = list(csv.DictReader(open(rj, encoding="utf-8")))
    assert [x["line"] for x in rows] == ["3", "4", "5", "6", "7", "10"]
    assert set(rows[0]) == {"file", "line", "sample", "locus", "value", "reason", "fix"}
    assert rows[0]["value"] == "14" and rows[1]["value"] == "DYS3899"
    # no genotype in any reason (only the offending field is in 'value')
    for x in rows:
        assert "13" not in x["reason"] and "22" not in x["reason"]
    assert r.haplotypes.profile(0) == {"DYS19": ("14",)}
    assert r.haplotypes.profile(1) == {"DYS390": ("22",)}


def test_file_level_errors(tmp_path):
    c = write(tmp_path / "wide.csv", "sample_id,DYS19 1,DYS19 2\nS1,14,14\n")
    with pytest.raises(InputFormatError, match="wide"):
        import_y_file(c)
    with pytest.raises(InputFormatError, match="Sample Name"):
        import_y_file(write(tmp_path / "x.txt", "foo\tbar\n1\t2\n"), format="genemapper")
    with pytest.raises(ValueError, match="duplications"):
        import_y_file(c, format="csv", duplications="keep")


# --------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------
def small(ids=("A", "B"), panel="Yfiler"):
    recs = [{"sample": s, "DYS19": 14 + k, "DYS385": "11,14", "DYS389I": 13, "DYS389II": 29}
            for k, s in enumerate(ids)]
    return YHaplotypes.from_records(recs, panel)


def test_dataset_layout_footer_and_columns(tmp_path):
    h = small()
    shards = write_y_haplotypes(tmp_path / "ydb", h, {"kind": ["query", "reference"],
                                                       "case_id": ["", "C1"],
                                                       "relation": ["", "uncle"]},
                                provenance={"note": "unit"}, kit="Yfiler")
    pf = pq.ParquetFile(shards[0])
    md = pf.schema_arrow.metadata
    assert md[b"strkin.format"] == b"strkin-y-haplotypes" and md[b"strkin.schema_version"] == b"1"
    assert json.loads(md[b"strkin.y_panel"])["name"] == "Yfiler"
    names = pf.schema_arrow.names
    assert names[:6] == ["sample_id", "kind", "case_id", "relation", "sex", "kit"]
    cols = h.to_columns()
    for slot in h.panel.slots:
        assert pf.schema_arrow.field(f"allele.{slot}").type == "int16"
        assert pf.schema_arrow.field(f"flags.{slot}").type == "uint8"
        np.testing.assert_array_equal(pq.read_table(shards[0], columns=[f"allele.{slot}"])
                                      .column(0).to_numpy(), cols[f"allele.{slot}"])
    assert names[-1] == "extra" and not any(pf.schema_arrow.field(n).nullable for n in names)
    man = json.loads((tmp_path / "ydb" / MANIFEST_NAME).read_text())
    assert man["format"] == "strkin-y-haplotypes" and man["panel"]["name"] == "Yfiler"
    ds = open_y_dataset(tmp_path / "ydb")
    _, meta = ds.load()
    assert list(meta.kit) == ["Yfiler", "Yfiler"] and list(meta.relation) == ["", "uncle"]
    ds.verify()
    assert ds.provenance()[0]["note"] == "unit"
    h1, m1 = ds.load(kind="reference")
    assert list(h1.profile_id) == ["B"] and list(m1.case_id) == ["C1"]
    write_y_haplotypes(tmp_path / "q", small(("Q",)))
    h0, m0 = open_y_dataset(tmp_path / "q").load(kind="reference")     # nothing matches
    assert len(h0) == 0 and len(m0) == 0 and h0.panel.name == "Yfiler"
    [(hs, ms)] = list(open_y_dataset(tmp_path / "q").iter_shards())
    assert list(hs.profile_id) == ["Q"] and list(ms.kind) == ["query"]
    single, _ = open_y_dataset(shards[0]).load()          # a shard file alone
    assert_same(single, h)


def test_append_panel_union_and_old_shard_untouched(tmp_path):
    d = tmp_path / "ydb"
    first = write_y_haplotypes(d, small(("A", "B"), "Yfiler"))
    sha = hashlib.sha256(first[0].read_bytes()).hexdigest()
    plus = YHaplotypes.from_records([{"sample": "C", "DYS449": 30, "DYS19": 15,
                                      "DYF387S1": "35,38"}], "Yfiler Plus")
    write_y_haplotypes(d, plus)
    assert hashlib.sha256(first[0].read_bytes()).hexdigest() == sha
    ds = open_y_dataset(d)
    assert ds.panel.name == "Yfiler+Yfiler Plus" and ds.n_profiles == 3
    assert set(ds.panel.marker_names) == set(PANEL.marker_names)
    h, _ = ds.load()
    assert h.profile(0)["DYS385"] == ("11", "14") and h.profile(2)["DYF387S1"] == ("35", "38")
    assert "DYS449" not in h.profile(0)
    hp, _ = ds.load(panel="Yfiler Plus")                  # re-laid on a shipped panel
    assert hp.panel == PANEL and hp.profile(2)["DYS449"] == ("30",)
    with pytest.raises(ValueError, match="not in panel 'Yfiler'"):
        ds.load(panel="Yfiler")                            # DYS449 typed, not in Yfiler
    # rebuild the manifest from the footers
    (d / MANIFEST_NAME).unlink()
    with pytest.raises(DatasetError, match="rebuild_y_manifest"):
        open_y_dataset(d)
    formats.rebuild_y_manifest(d)
    assert_same(open_y_dataset(d).load()[0], h)


def test_duplicate_sample_rejected_naming_shards(tmp_path):
    d = tmp_path / "ydb"
    first = write_y_haplotypes(d, small(("A", "B")))
    before = sorted(p.name for p in d.iterdir())
    with pytest.raises(DuplicateSampleError) as ei:
        write_y_haplotypes(d, small(("C", "B")), provenance={"sources": [{"file": "run2.txt"}]})
    msg = str(ei.value)
    assert f"sample 'B' is already in shard {first[0].name}" in msg
    assert "(from run2.txt)" in msg and "Nothing was written" in msg
    assert sorted(p.name for p in d.iterdir()) == before
    with pytest.raises(DuplicateSampleError, match="appears twice"):
        write_y_haplotypes(tmp_path / "other", small(("A", "A")))


def test_write_validation(tmp_path):
    with pytest.raises(ProfileValidationError, match="recorded as female"):
        write_y_haplotypes(tmp_path / "y", small(("A",)), {"sex": ["F"]})
    with pytest.raises(ProfileValidationError, match="a reference needs a case_id"):
        write_y_haplotypes(tmp_path / "y", small(("A",)), {"kind": ["reference"]})
    with pytest.raises(ProfileValidationError, match="differs from the haplotype's profile_id"):
        write_y_haplotypes(tmp_path / "y", small(("A",)),
                           YSampleMeta.build(["Z"], {"kind": ["query"]}))
    assert not (tmp_path / "y").exists() or not any((tmp_path / "y").glob("*.parquet"))


def test_failed_write_leaves_dataset_unchanged(tmp_path, monkeypatch):
    d = tmp_path / "ydb"
    write_y_haplotypes(d, small(("A",)))
    man = (d / MANIFEST_NAME).read_bytes()
    calls = {"n": 0}
    real = pq.write_table

    def boom(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        write_y_haplotypes(d, small(("B", "C")), shard_size=1)
    assert (d / MANIFEST_NAME).read_bytes() == man
    assert len(list(d.glob("*.parquet"))) == 1 and not list(d.glob(".part-*"))


def test_corrupt_and_foreign_shards(tmp_path):
    d = tmp_path / "ydb"
    [shard] = write_y_haplotypes(d, small())
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])               # truncated
    with pytest.raises(CorruptShardError) as ei:
        open_y_dataset(d).load()
    assert f"shard {shard.name} in {d} is truncated or corrupt" in str(ei.value)
    assert "Restore it from a backup" in str(ei.value)
    shard.write_bytes(data)
    bad = bytearray(data)
    bad[len(bad) // 3] ^= 0xFF                              # one flipped byte
    shard.write_bytes(bytes(bad))
    with pytest.raises(CorruptShardError, match=f"shard {shard.name}"):
        open_y_dataset(d).verify()
    shard.write_bytes(data)
    open_y_dataset(d).verify()
    # a newer schema version
    t = pq.read_table(shard)
    md = dict(t.schema.metadata)
    md[b"strkin.schema_version"] = b"2"
    pq.write_table(t.replace_schema_metadata(md), shard)
    with pytest.raises(SchemaTooNewError, match="Y haplotype schema version 2.*Upgrade strkin"):
        open_y_dataset(d).load()
    # an autosomal dataset is not a Y dataset, and the other way round
    formats.write_profiles(tmp_path / "auto", [formats.Profile("P1", {"vWA": ("14", "16")})])
    with pytest.raises(DatasetError, match="autosomal profile dataset.*formats.open_dataset"):
        open_y_dataset(tmp_path / "auto")
    with pytest.raises(DatasetError, match="autosomal profile dataset"):
        write_y_haplotypes(tmp_path / "auto", small(("Z",)))
    before = sorted(p.name for p in d.iterdir())
    with pytest.raises(DatasetError):               # the autosomal writer refuses a Y dataset
        formats.write_profiles(d, [formats.Profile("P2", {"vWA": ("14", "16")})])
    assert sorted(p.name for p in d.iterdir()) == before
    auto_shard = next((tmp_path / "auto").glob("part-*.parquet"))
    with pytest.raises(DatasetError, match="autosomal profile shard"):
        open_y_dataset(auto_shard)
    with pytest.raises(DatasetError, match="not a Y haplotype dataset"):
        open_y_dataset(tmp_path / "auto" / "..")


def test_tampered_panel_metadata(tmp_path):
    d = tmp_path / "ydb"
    [shard] = write_y_haplotypes(d, small())
    t = pq.read_table(shard)
    md = dict(t.schema.metadata)
    p = json.loads(md[b"strkin.y_panel"])
    p["markers"] = [["DYS999", 1]] + p["markers"]
    p["name"] = "x"
    md[b"strkin.y_panel"] = json.dumps(p).encode()
    pq.write_table(t.replace_schema_metadata(md), shard)
    with pytest.raises(CorruptShardError, match="dataset panel .* lacks it"):
        open_y_dataset(d).load()


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def run(argv):
    parser = argparse.ArgumentParser(prog="kinship")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def test_cli_import_y(tmp_path, capsys):
    g = gm(tmp_path, "S1\tDYS19\t14.2\t\t\nS1\tDYS385\t11\t13\t\nS2\tDYS19\t15\t\t\n")
    out = tmp_path / "ydb"
    assert run(["import-y", g, "--format", "genemapper", "--out", out, "--panel", "Yfiler"]) == 0
    text = capsys.readouterr().out
    assert "run.txt: read 3 rows, imported 3, rejected 0; 2 Y haplotypes (panel 'Yfiler'" in text
    assert "14.2" not in text and "wrote 2 Y haplotypes" in text
    h, _ = open_y_dataset(out).load()
    assert h.profile(0) == {"DYS19": ("14.2",), "DYS385": ("11", "13")}
    assert open_y_dataset(out).provenance()[0]["command"] == "kinship import-y"
    # strict failure: exit 1, message with file/line/sample/locus, nothing written
    bad = gm(tmp_path, "S3\tDYS385\t12\t\t\n", "bad.txt")
    out2 = tmp_path / "ydb2"
    assert run(["import-y", bad, "--out", out2]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kinship: error: bad.txt, line 2, sample 'S3', locus DYS385: DYS385 "
                          "has 2 copies but one value was given")
    assert not out2.exists()
    # the same with the option, and lenient mode with the default rejects path
    assert run(["import-y", bad, "--out", out2, "--single-value-multicopy", "all-copies"]) == 0
    capsys.readouterr()
    mixed = gm(tmp_path, "S4\tDYS19\t14\t\t\nS4\tDYS3899\t13\t\t\n", "mixed.txt")
    assert run(["import-y", mixed, "--out", out2, "--mode", "lenient"]) == 0
    text = capsys.readouterr().out
    assert "read 2 rows, imported 1, rejected 1" in text
    assert len(list((out2 / "_rejects").glob("mixed-*.csv"))) == 1
    assert open_y_dataset(out2).n_profiles == 2
    # a custom panel given as a marker list; writing into an autosomal dataset fails cleanly
    assert run(["import-y", mixed, "--out", tmp_path / "y3", "--mode", "lenient",
                "--panel", "DYS19,DYS390", "--dry-run"]) == 0
    assert "panel 'custom', 2 slots" in capsys.readouterr().out
