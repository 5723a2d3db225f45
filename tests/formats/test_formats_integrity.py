"""Issue 17: data integrity and privacy of the formats package.

Messages never carry genotypes, shards are verified as they are read, sample IDs
are unique at load, encodings are detected (never garbled silently), files are
private, failed writes leave nothing behind, implausible alleles are flagged.
"""
from __future__ import annotations

import errno
import json
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formats
from formats import (CorruptShardError, DuplicateSampleError, EncodingError, InputFormatError,
                     Profile, import_file, open_dataset, write_profiles)
from formats.cli import main as cli_main

P1 = Profile("S1", {"vWA": ("16", "17"), "TH01": ("6", "9.3")})
P2 = Profile("S2", {"vWA": ("14", "18"), "TH01": ("7", "8")})

# distinctive microvariant alleles (valid labels that appear nowhere in a message)
SECRET = ["31.2", "32.1", "33.3", "34.2", "35.1", "36.3", "37.2", "38.1"]


def _messages(res_or_exc) -> list[str]:
    if isinstance(res_or_exc, Exception):
        return [str(res_or_exc)]
    out = [res_or_exc.summary()]
    for r in res_or_exc.rejects:
        out += [r.message(), r.sample, r.value, r.reason, r.fix]
    out += list(res_or_exc.provenance.get("import", {}).get("notes", []))
    return out


# ----------------------------------------------------------------------------------
# 1. an unclosed quote: nothing of the rest of the file in the message
# ----------------------------------------------------------------------------------
def test_unclosed_quote_is_a_file_error_without_content(tmp_path):
    rows = [f"S{i},vWA,{SECRET[i % 8]},{SECRET[(i + 1) % 8]}" for i in range(87)]
    p = tmp_path / "g.csv"
    p.write_text("sample_id,locus,allele1,allele2\n\"S0,vWA,16,17\n" + "\n".join(rows) + "\n")
    for mode in ("strict", "lenient"):
        with pytest.raises(InputFormatError) as ei:
            import_file(p, format="csv", mode=mode, rejects_path=tmp_path / "r.csv")
        msg = str(ei.value)
        assert "line 2" in msg and "double quote" in msg and "Fix:" in msg
        assert len(msg) < 600 and not any(a in msg for a in SECRET)
        assert not (tmp_path / "r.csv").exists()


def test_long_field_is_cut_in_messages_and_rejects(tmp_path):
    p = tmp_path / "g.csv"
    long = "9" * 3000 + "X"
    p.write_text(f"sample_id,locus,allele1,allele2\nS1,vWA,{long},17\nS2,{'D' * 500},16,17\n")
    res = import_file(p, format="csv", mode="lenient", rejects_path=tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text()
    assert len(text) < 2500 and "9" * 100 not in text and "D" * 100 not in text
    for r in res.rejects:
        assert len(r.value) < 60 and len(r.message()) < 1200


# ----------------------------------------------------------------------------------
# fuzz: no allele of the input in any message, for every importer
# ----------------------------------------------------------------------------------
def _gm(rows):
    return "Sample Name\tMarker\tAllele 1\tAllele 2\n" + "".join(
        f"{s}\t{l}\t{a}\t{b}\n" for s, l, a, b in rows)


def _csv(rows):
    return "sample_id,locus,allele1,allele2\n" + "".join(f"{s},{l},{a},{b}\n" for s, l, a, b in rows)


def _wide(rows):
    loci = sorted({l for _, l, _, _ in rows})
    by = {}
    for s, l, a, b in rows:
        by.setdefault(s, {})[l] = (a, b)
    head = "sample_id," + ",".join(f"{l} 1,{l} 2" for l in loci) + "\n"
    return head + "".join(s + "," + ",".join(",".join(g.get(l, ("", ""))) for l in loci) + "\n"
                          for s, g in by.items())


def _cmf(rows):
    out = ['<?xml version="1.0"?>', "<CODISImportFile>"]
    by = {}
    for s, l, a, b in rows:
        by.setdefault(s, []).append((l, a, b))
    for s, ls in by.items():
        out.append(f"<SPECIMEN><SPECIMENID>{s}</SPECIMENID>"
                   f"<SPECIMENCATEGORY>Forensic, Unknown</SPECIMENCATEGORY>")
        for l, a, b in ls:
            out.append(f"<LOCUS><LOCUSNAME>{l}</LOCUSNAME><ALLELE><ALLELEVALUE>{a}</ALLELEVALUE>"
                       f"</ALLELE><ALLELE><ALLELEVALUE>{b}</ALLELEVALUE></ALLELE></LOCUS>")
        out.append("</SPECIMEN>")
    out.append("</CODISImportFile>")
    return "\n".join(out) + "\n"


WRITERS = {"genemapper": _gm, "csv": _csv, "wide": _wide, "cmf": _cmf}
CORRUPT = ["", '"', "\x00", "\ufffd", ",,,,", "\t\t", "<", "OL", "1O", "-1", "999", "&", "]]>"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(fmt=st.sampled_from(sorted(WRITERS)), data=st.data())
def test_fuzz_importers_never_quote_genotypes(tmp_path_factory, fmt, data):
    n = data.draw(st.integers(2, 8))
    loci = ["vWA", "TH01", "FGA", "D8S1179"]
    rows = [(f"S{i}", loci[j], data.draw(st.sampled_from(SECRET)), data.draw(st.sampled_from(SECRET)))
            for i in range(n) for j in range(data.draw(st.integers(1, 4)))]
    text = WRITERS[fmt](rows)
    lines = text.split("\n")
    # corrupt one line (not a secret-bearing field of another row) by inserting junk
    k = data.draw(st.integers(1, max(1, len(lines) - 2)))
    pos = data.draw(st.integers(0, len(lines[k])))
    junk = data.draw(st.sampled_from(CORRUPT)) * data.draw(st.integers(1, 3))
    bad_line = lines[k][:pos] + junk + lines[k][pos:]
    lines[k] = bad_line
    text = "\n".join(lines)
    # alleles of the lines left intact must never appear in a message
    intact = set()
    for i, line in enumerate(lines):
        if i != k:
            intact.update(a for a in SECRET if a in line)
    touched = {a for a in SECRET if a in bad_line}
    secrets = intact - touched
    d = tmp_path_factory.mktemp("fz")
    p = d / f"in.{'xml' if fmt == 'cmf' else 'txt'}"
    p.write_bytes(text.encode("utf-8", "surrogatepass"))
    for mode in ("strict", "lenient"):
        try:
            out = import_file(p, format=fmt, mode=mode, rejects_path=d / "rej.csv")
        except (formats.FormatError, ValueError) as e:
            out = e
        msgs = _messages(out)
        if (d / "rej.csv").exists():
            msgs.append((d / "rej.csv").read_text(encoding="utf-8"))
        for m in msgs:
            assert not any(a in m for a in secrets), (fmt, mode, m[:300])
            assert len(m) < 4000


# ----------------------------------------------------------------------------------
# 2. checksums verified when read; kinship verify
# ----------------------------------------------------------------------------------
def _tamper(shard):
    """Change one genotype code in place, keeping a valid Parquet file."""
    import pyarrow.parquet as pq

    t = pq.read_table(shard)
    md = t.schema.metadata
    col = t.column("vWA:1").to_pylist()
    col[0] = 0 if col[0] != 0 else 1
    import pyarrow as pa

    t = t.set_column(t.schema.get_field_index("vWA:1"), t.schema.field("vWA:1"),
                     pa.array(col, pa.int16())).replace_schema_metadata(md)
    pq.write_table(t, shard, compression="zstd")


def test_tampered_shard_is_refused_when_read(tmp_path, capsys):
    d = tmp_path / "ds"
    shard = write_profiles(d, [P1, P2])[0]
    ds = open_dataset(d)
    ds.load()
    assert ds.read_checksums() == ds.checksums()
    _tamper(shard)
    with pytest.raises(CorruptShardError, match=rf"shard {shard.name} .*sha256"):
        open_dataset(d).load()
    with pytest.raises(CorruptShardError):
        list(open_dataset(d).iter_shards(kind="reference"))
    assert cli_main(["verify", str(d)]) == 1
    assert shard.name in capsys.readouterr().err


def test_edited_manifest_counts_are_refused(tmp_path, capsys):
    d = tmp_path / "ds"
    write_profiles(d, [P1, P2])
    assert cli_main(["verify", str(d)]) == 0
    m = json.loads((d / "_dataset.json").read_text())
    m["shards"][0]["n_profiles"] = 3
    (d / "_dataset.json").write_text(json.dumps(m))
    with pytest.raises(CorruptShardError, match="holds 2 rows but _dataset.json records 3"):
        open_dataset(d).load()


# ----------------------------------------------------------------------------------
# 3. duplicate sample IDs at load
# ----------------------------------------------------------------------------------
def test_duplicate_sample_id_is_refused_at_load(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_profiles(a, [P1])
    write_profiles(b, [Profile("S1", {"vWA": ("16", "17")}, "reference", "C1", "father")])
    # a shard copied in from another dataset, its manifest entry too (same alleles)
    sb = open_dataset(b).shards[0]
    ma, mb = (json.loads((x / "_dataset.json").read_text()) for x in (a, b))
    (a / sb.name.replace("part-00000", "part-00001")).write_bytes(sb.read_bytes())
    e = dict(mb["shards"][0], file=sb.name.replace("part-00000", "part-00001"))
    ma["shards"].append(e)
    (a / "_dataset.json").write_text(json.dumps(ma))
    for load in (lambda: open_dataset(a).load(kind="query"),
                 lambda: list(open_dataset(a).iter_shards(kind="reference"))):
        with pytest.raises(DuplicateSampleError, match="'S1' appears in shards"):
            load()


# ----------------------------------------------------------------------------------
# 4. encodings
# ----------------------------------------------------------------------------------
def test_latin1_is_detected_and_wrong_encoding_is_an_error(tmp_path):
    p = tmp_path / "lat.csv"
    p.write_bytes("sample_id,locus,allele1,allele2\nM\xfcller-Q,vWA,16,17\n".encode("latin-1"))
    with pytest.raises(EncodingError, match=r"Windows-1252/Latin-1 .*charset-normalizer"):
        import_file(p, format="csv")
    with pytest.raises(EncodingError, match=r"decoding the file as gbk gives an unlikely .*U\+"):
        import_file(p, format="csv", encoding="gbk")
    res = import_file(p, format="csv", encoding="cp1252")
    assert res.profiles[0].sample_id == "Müller-Q" and "encoding" in res.summary()


def test_encoding_applies_to_the_manifest(tmp_path):
    g = tmp_path / "g.csv"
    g.write_bytes("sample_id,locus,allele1,allele2\nJos\xe9,vWA,16,17\n".encode("cp1252"))
    m = tmp_path / "m.csv"
    m.write_bytes("sample_id,kind,case_id,relation,sex\nJos\xe9,query,,,\n".encode("cp1252"))
    out = tmp_path / "ds"
    assert cli_main(["import", str(g), "--format", "csv", "--manifest", str(m), "--out", str(out),
                     "--encoding", "cp1252"]) == 0
    assert list(open_dataset(out).load().sample_id) == ["José"]


# ----------------------------------------------------------------------------------
# 5. permissions; temporary files
# ----------------------------------------------------------------------------------
def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_files_are_private_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("STRKIN_SHARE_GROUP", raising=False)
    d = tmp_path / "ds"
    shard = write_profiles(d, [P1])[0]
    assert _mode(d) == 0o700 and _mode(shard) == 0o600 and _mode(d / "_dataset.json") == 0o600
    g = tmp_path / "g.csv"
    g.write_text("sample_id,locus,allele1,allele2\nS1,vWA,16\n")
    res = import_file(g, format="csv", mode="lenient", rejects_path=tmp_path / "rj" / "r.csv")
    assert res.n_rejected == 1
    assert _mode(tmp_path / "rj") == 0o700 and _mode(tmp_path / "rj" / "r.csv") == 0o600
    formats.export_profiles(d, tmp_path / "x.csv")
    assert _mode(tmp_path / "x.csv") == 0o600
    monkeypatch.setenv("STRKIN_SHARE_GROUP", "1")
    d2 = tmp_path / "ds2"
    shard = write_profiles(d2, [P1])[0]
    assert _mode(d2) == 0o750 and _mode(shard) == 0o640


def test_disk_full_during_write_leaves_nothing(tmp_path, monkeypatch):
    d = tmp_path / "ds"
    write_profiles(d, [P1])
    before = sorted(os.listdir(d))
    import formats.dataset as D

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(D.pq, "write_table", full)
    with pytest.raises(formats.DatasetError) as ei:
        write_profiles(d, [P2])
    msg = str(ei.value)
    assert "disk is full" in msg and "nothing was written" in msg and "\n" not in msg
    assert sorted(os.listdir(d)) == before


# ----------------------------------------------------------------------------------
# 8. allele plausibility; CMF categories
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("allele", ["0", "999"])
def test_implausible_alleles_warn_or_refuse(tmp_path, allele):
    g = tmp_path / "g.csv"
    g.write_text(f"sample_id,locus,allele1,allele2\nS1,vWA,{allele},17\nS1,TH01,6,7\n")
    res = import_file(g, format="csv")
    assert len(res.warnings) == 1 and "WARNING" in res.summary()
    assert "plausible range at vWA" in res.warnings[0]
    with pytest.raises(formats.InvalidRowError, match=r"line 2.*vWA.*plausible range.*Fix:"):
        import_file(g, format="csv", allele_check="strict")


def test_unknown_cmf_category_needs_a_manifest(tmp_path):
    x = tmp_path / "c.xml"
    x.write_text(_cmf([("S1", "vWA", "16", "17")]).replace("Forensic, Unknown", "Forensic Mixture"))
    with pytest.raises(formats.InvalidRowError, match="SPECIMENCATEGORY 'Forensic Mixture'"):
        import_file(x, format="cmf")
    m = tmp_path / "m.csv"
    m.write_text("sample_id,kind,case_id,relation,sex\nS1,query,,,\n")
    assert import_file(x, format="cmf", manifest=m).profiles[0].kind == "query"


def test_import_y_applies_encoding_to_the_manifest_too(tmp_path):
    """--encoding applies to every file of an import (kinship import-y included)."""
    import argparse

    from formats.cli import register

    (tmp_path / "y.csv").write_text("sample_id,locus,allele1,allele2\nMüller-Q,DYS19,14\n",
                                    encoding="latin-1")
    (tmp_path / "m.csv").write_text("sample_id,kind,case_id,relation,sex\nMüller-Q,query,,,M\n",
                                    encoding="latin-1")
    p = argparse.ArgumentParser(prog="kinship")
    register(p.add_subparsers(dest="command"))
    a = p.parse_args(["import-y", str(tmp_path / "y.csv"), "--format", "csv", "--manifest",
                      str(tmp_path / "m.csv"), "--encoding", "latin-1", "--panel", "Yfiler",
                      "--out", str(tmp_path / "ydb")])
    assert a.func(a) == 0
    _, meta = formats.open_y_dataset(tmp_path / "ydb").load()
    assert list(meta.sample_id) == ["Müller-Q"]
