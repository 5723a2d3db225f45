"""Profile datasets: schema, append-only dictionary, atomic writes, typed errors."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import formats
from kinship.markers import LocusError
from formats import (
    CorruptShardError,
    DatasetError,
    DuplicateSampleError,
    MissingLocusError,
    Profile,
    ProfileArrays,
    ProfileValidationError,
    SchemaTooNewError,
    SchemaTooOldError,
    open_dataset,
    write_profiles,
)
from formats.dataset import MANIFEST_NAME, genotype_column_names

P1 = Profile("S1", {"VWA": ("17", "16"), "THO1": ("9.3", "6")}, sex="F")
P2 = Profile("S2", {"vWA": ("14", "14")}, kind="reference", case_id="C1", relation="father", sex="M")
P3 = Profile("S3", {"vWA": ("11", "15"), "D3S1358": ("15", "16")}, kit="GlobalFiler")


def test_write_and_load_roundtrip(tmp_path):
    shards = write_profiles(tmp_path / "ds", [P1, P2], provenance={"note": "unit"})
    assert len(shards) == 1 and shards[0].exists()
    ds = open_dataset(tmp_path / "ds")
    assert ds.loci == ("TH01", "vWA")  # canonical names, sorted on first write
    assert ds.alleles == {"TH01": ("6", "9.3"), "vWA": ("14", "16", "17")}
    a = ds.load()
    assert a.genotypes.dtype == np.int16 and a.genotypes.shape == (2, 2, 2)
    assert list(a.sample_id) == ["S1", "S2"] and a.sample_id.dtype == object
    assert list(a.kind) == ["query", "reference"]
    assert list(a.case_id) == ["", "C1"] and list(a.relation) == ["", "father"]
    assert list(a.sex) == ["F", "M"] and list(a.kit) == ["", ""]
    # S2 untyped at TH01: both alleles -1
    assert a.genotypes[1, 0].tolist() == [-1, -1]
    assert a.labels(0, "vWA") == ("16", "17") and a.labels(1, "vWA") == ("14", "14")
    back = {p.sample_id: p for p in a.to_profiles()}
    assert back["S1"].genotypes == {"TH01": ("6", "9.3"), "vWA": ("16", "17")}
    assert back["S2"].relation == "father"


def test_append_keeps_codes_and_writes_new_shard(tmp_path):
    d = tmp_path / "ds"
    first = write_profiles(d, [P1, P2])
    before = open_dataset(d)
    codes_before = before.load().genotypes.copy()
    sha_before = hashlib.sha256(first[0].read_bytes()).hexdigest()
    second = write_profiles(d, [P3], kit="ESX17")
    assert second[0] != first[0]
    # the old shard is byte-identical (never rewritten)
    assert hashlib.sha256(first[0].read_bytes()).hexdigest() == sha_before
    ds = open_dataset(d)
    # append-only dictionary: old labels keep their codes, new ones are appended
    assert ds.alleles["vWA"][:3] == ("14", "16", "17")
    assert set(ds.alleles["vWA"][3:]) == {"11", "15"}
    assert ds.loci == ("TH01", "vWA", "D3S1358")
    a = ds.load()
    np.testing.assert_array_equal(a.genotypes[:2, :2], codes_before)
    assert a.genotypes[:2, 2].tolist() == [[-1, -1], [-1, -1]]  # D3S1358 absent in shard 1
    assert a.kit[2] == "GlobalFiler"  # kit= only fills empty kits
    assert len(ds.shards) == 2 and ds.n_profiles == 3


def test_kind_and_loci_selection_and_iter_shards(tmp_path):
    d = tmp_path / "ds"
    write_profiles(d, [P1, P2])
    write_profiles(d, [P3])
    ds = open_dataset(d)
    refs = ds.load(kind="reference")
    assert list(refs.sample_id) == ["S2"]
    q = ds.load(kind="query", loci=["VWA"])
    assert q.loci == ("vWA",) and list(q.sample_id) == ["S1", "S3"]
    assert q.alleles == {"vWA": ds.alleles["vWA"]}
    parts = list(ds.iter_shards())
    assert [len(p) for p in parts] == [2, 1]
    assert all(p.alleles == ds.alleles for p in parts)
    with pytest.raises(LocusError, match="FGA"):
        ds.load(loci=["FGA"])
    with pytest.raises(ValueError, match="unknown kind"):
        ds.load(kind="suspect")


def test_checksums_and_verify(tmp_path):
    d = tmp_path / "ds"
    shards = write_profiles(d, [P1, P2])
    ds = open_dataset(d)
    sums = ds.checksums()
    assert sums == {shards[0].name: hashlib.sha256(shards[0].read_bytes()).hexdigest()}
    ds.verify()
    data = bytearray(shards[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    shards[0].write_bytes(bytes(data))
    with pytest.raises(CorruptShardError, match=rf"{shards[0].name}.*sha256.*differs"):
        open_dataset(d).verify()


def test_provenance_in_footer_and_manifest(tmp_path):
    d = tmp_path / "ds"
    prov = {"sources": [{"file": "run42.txt", "sha256": "ab" * 32}], "command": "test"}
    shard = write_profiles(d, [P1], provenance=prov)[0]
    md = pq.read_schema(shard).metadata
    assert md[b"strkin.schema_version"] == b"1"
    assert md[b"strkin.format"] == b"strkin-profiles"
    p = json.loads(md[b"strkin.provenance"])
    assert p["software"] == "strkin" and p["version"] == formats.dataset._software_version()
    assert p["sources"][0]["file"] == "run42.txt" and "created" in p
    m = json.loads((d / MANIFEST_NAME).read_text())
    assert m["schema_version"] == 1 and m["shards"][0]["sha256"] == hashlib.sha256(
        shard.read_bytes()).hexdigest()
    assert open_dataset(d).provenance()[0]["command"] == "test"


def test_int16_columns_and_schema(tmp_path):
    shard = write_profiles(tmp_path / "ds", [P1, P2])[0]
    schema = pq.read_schema(shard)
    assert schema.names[:6] == ["sample_id", "kind", "case_id", "relation", "sex", "kit"]
    for l in ("TH01", "vWA"):
        for c in genotype_column_names(l):
            assert schema.field(c).type == pa.int16()
    assert genotype_column_names("Penta D") == ("Penta D:1", "Penta D:2")


def test_duplicate_sample_across_shards_names_shard(tmp_path):
    d = tmp_path / "ds"
    first = write_profiles(d, [P1])[0]
    with pytest.raises(DuplicateSampleError,
                       match=rf"sample .S1. is already in shard {first.name}.*the new shard "
                             r"part-00001-[0-9a-f]{8}.parquet \(from run2.csv\) would hold it again"):
        write_profiles(d, [Profile("S1", {"vWA": ("12", "13")})],
                       provenance={"sources": [{"file": "run2.csv"}]})
    assert len(open_dataset(d).shards) == 1


def test_duplicate_sample_within_batch(tmp_path):
    with pytest.raises(DuplicateSampleError, match=r"'S1' appears twice.*positions 0 and 1"):
        write_profiles(tmp_path / "ds", [P1, Profile("S1", {"vWA": ("12", "13")})])
    assert not (tmp_path / "ds" / MANIFEST_NAME).exists()


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    d = tmp_path / "ds"
    write_profiles(d, [P1])
    before = sorted(os.listdir(d))
    manifest_before = (d / MANIFEST_NAME).read_text()
    real = pq.write_table

    def boom(table, where, **kw):
        real(table, where, **kw)          # half of the work is done ...
        raise OSError("disk full")        # ... then the disk fills up

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        write_profiles(d, [P2, P3], shard_size=1)
    assert sorted(os.listdir(d)) == before
    assert (d / MANIFEST_NAME).read_text() == manifest_before


def test_failed_manifest_update_removes_new_shards(tmp_path, monkeypatch):
    d = tmp_path / "ds"
    write_profiles(d, [P1])
    before = sorted(os.listdir(d))

    def fail(*a, **k):
        raise OSError("read-only file system")

    monkeypatch.setattr(formats.dataset, "_write_json_atomic", fail)
    with pytest.raises(OSError):
        write_profiles(d, [P2])
    assert sorted(os.listdir(d)) == before


def test_truncated_shard_is_corrupt_shard_error(tmp_path):
    d = tmp_path / "ds"
    shard = write_profiles(d, [P1, P2])[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptShardError, match=rf"shard {shard.name} .*truncated or corrupt.*"
                                                 r"Restore it from a backup"):
        open_dataset(d).load()


def test_garbage_and_missing_shard(tmp_path):
    d = tmp_path / "ds"
    shard = write_profiles(d, [P1])[0]
    shard.write_bytes(b"PAR1" + os.urandom(300) + b"PAR1")
    with pytest.raises(CorruptShardError, match=shard.name):
        open_dataset(d).load()
    shard.unlink()
    with pytest.raises(CorruptShardError, match=rf"{shard.name} is missing"):
        open_dataset(d).load()


def test_out_of_range_codes_detected(tmp_path):
    d = tmp_path / "ds"
    shard = write_profiles(d, [P1])[0]
    t = pq.read_table(shard)
    md = t.schema.metadata
    col = pa.array([99], type=pa.int16())
    t = t.set_column(t.column_names.index("vWA:1"), pa.field("vWA:1", pa.int16(), nullable=False), col)
    pq.write_table(t.replace_schema_metadata(md), shard)
    with pytest.raises(CorruptShardError, match=r"locus vWA: allele code 99 is outside"):
        open_dataset(d).load()


def _rewrite_version(shard, version: bytes):
    t = pq.read_table(shard)
    md = dict(t.schema.metadata)
    md[b"strkin.schema_version"] = version
    pq.write_table(t.replace_schema_metadata(md), shard)


def test_schema_too_new(tmp_path):
    d = tmp_path / "ds"
    shard = write_profiles(d, [P1])[0]
    _rewrite_version(shard, b"2")
    with pytest.raises(SchemaTooNewError, match=r"version 2, newer.*Upgrade strkin") as ei:
        open_dataset(d).load()
    assert ei.value.found == 2 and isinstance(ei.value, formats.SchemaVersionError)


def test_schema_too_old(tmp_path):
    d = tmp_path / "ds"
    shard = write_profiles(d, [P1])[0]
    _rewrite_version(shard, b"0")
    with pytest.raises(SchemaTooOldError, match=r"version 0, older.*Re-import the source files"):
        open_dataset(d).load()


def test_manifest_schema_too_new(tmp_path):
    d = tmp_path / "ds"
    write_profiles(d, [P1])
    m = json.loads((d / MANIFEST_NAME).read_text())
    m["schema_version"] = 7
    (d / MANIFEST_NAME).write_text(json.dumps(m))
    with pytest.raises(SchemaTooNewError, match=r"dataset manifest .* version 7"):
        open_dataset(d)


def test_corrupt_manifest_and_rebuild(tmp_path):
    d = tmp_path / "ds"
    write_profiles(d, [P1, P2])
    write_profiles(d, [P3])
    expected = open_dataset(d).load()
    (d / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(CorruptShardError, match="not valid JSON.*rebuild_manifest"):
        open_dataset(d)
    (d / MANIFEST_NAME).unlink()
    with pytest.raises(DatasetError, match="no _dataset.json.*rebuild_manifest"):
        open_dataset(d)
    formats.rebuild_manifest(d)
    got = open_dataset(d).load()
    np.testing.assert_array_equal(got.genotypes, expected.genotypes)
    assert got.alleles == expected.alleles


def test_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not a profile dataset"):
        open_dataset(tmp_path)
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1]}), other)
    with pytest.raises(CorruptShardError, match="not a strkin profile shard"):
        open_dataset(other)


def test_single_shard_file_opens(tmp_path):
    shard = write_profiles(tmp_path / "ds", [P1, P2])[0]
    a = open_dataset(shard).load()
    assert list(a.sample_id) == ["S1", "S2"]


def test_validation_errors(tmp_path):
    d = tmp_path / "ds"
    with pytest.raises(ProfileValidationError, match="reference needs a case_id"):
        write_profiles(d, [Profile("R", {"vWA": ("1", "2")}, kind="reference", relation="father")])
    with pytest.raises(ProfileValidationError, match="a query has no relation"):
        write_profiles(d, [Profile("Q", {}, relation="father")])
    with pytest.raises(ProfileValidationError, match=r"unknown relation 'second-cousin'"):
        write_profiles(d, [Profile("R", {}, kind="reference", case_id="c", relation="second-cousin")])
    with pytest.raises(ProfileValidationError, match=r"sample 'Q', locus vWA: malformed allele '1O'"):
        write_profiles(d, [Profile("Q", {"vWA": ("1O", "12")})])
    with pytest.raises(ProfileValidationError, match="pair of alleles"):
        write_profiles(d, [Profile("Q", {"vWA": ("12",)})])
    with pytest.raises(ProfileValidationError, match="leading or trailing spaces"):
        write_profiles(d, [Profile(" Q", {})])
    with pytest.raises(ProfileValidationError, match="amelogenin"):
        write_profiles(d, [Profile("Q", {"AMEL": ("X", "Y")})])
    assert not d.exists() or not (d / MANIFEST_NAME).exists()


def test_profile_arrays_write_path_matches_profile_path(tmp_path, nist):
    arr = ProfileArrays.from_profiles([P1, P2, P3])
    write_profiles(tmp_path / "a", arr)
    write_profiles(tmp_path / "b", [P1, P2, P3])
    a = open_dataset(tmp_path / "a").load()
    b = open_dataset(tmp_path / "b").load()
    assert [p.genotypes for p in a.to_profiles()] == [p.genotypes for p in b.to_profiles()]
    bad = ProfileArrays.from_profiles([P1])
    bad.genotypes[0, 0, 0] = -1  # one allele missing, one present
    with pytest.raises(ProfileValidationError, match="one allele missing"):
        write_profiles(tmp_path / "c", bad)


def test_to_table_indices(tmp_path, nist):
    d = tmp_path / "ds"
    write_profiles(d, [P1, P2])
    write_profiles(d, [P3, Profile("S4", {"vWA": ("25", "16")})])  # 25: absent from NIST vWA
    ds = open_dataset(d)
    a = ds.load()
    codes, systems = a.to_table_indices(nist)
    assert codes.dtype == np.int16 and codes.shape == a.genotypes.shape
    for i in range(len(a)):
        for j, locus in enumerate(a.loci):
            lab = a.labels(i, locus)
            if lab is None:
                assert codes[i, j].tolist() == [-1, -1]
            else:
                assert tuple(systems[j].alleles[c] for c in codes[i, j]) == lab
    vwa = systems[a.loci.index("vWA")]
    assert "25" in vwa.alleles and "25" in vwa.added
    # the same allele system whichever part of the dataset is loaded
    part = next(ds.iter_shards())
    _, systems_part = part.to_table_indices(nist)
    assert [s.alleles for s in systems_part] == [s.alleles for s in systems]


def test_to_table_indices_missing_locus(tmp_path):
    import kinship

    write_profiles(tmp_path / "ds", [P1, P2])
    table = kinship.FrequencyTable.from_dict({"vWA": {"14": 0.5, "16": 0.3, "17": 0.2}},
                                             min_allele_freq=0.01)
    with pytest.raises(MissingLocusError, match=r"has no locus TH01, which 1 of the 2 profiles"):
        open_dataset(tmp_path / "ds").load().to_table_indices(table)
    codes, systems = open_dataset(tmp_path / "ds").load(loci=["vWA"]).to_table_indices(table)
    assert systems[0].alleles == ("14", "16", "17")


def test_empty_write_is_noop(tmp_path):
    assert write_profiles(tmp_path / "ds", []) == []


def test_stale_temporary_files_are_removed(tmp_path):
    d = tmp_path / "ds"
    write_profiles(d, [P1])
    stale = d / ".part-00001-deadbeef.parquet.tmp-999999"
    stale.write_bytes(b"half a shard")
    write_profiles(d, [P2])
    assert not stale.exists()
    assert len(open_dataset(d).load()) == 2


def test_codes_match_the_scoring_model(tmp_path, nist):
    """to_table_indices gives the allele systems of kinship.search.ScoringModel built
    with the dataset's alleles, so its codes feed the scoring kernels directly."""
    search = pytest.importorskip("kinship.search")
    write_profiles(tmp_path / "ds", [P1, P2, P3, Profile("S4", {"vWA": ("25", "16")})])
    a = open_dataset(tmp_path / "ds").load()
    codes, systems = a.to_table_indices(nist)
    model = search.ScoringModel(nist, a.loci, extra_alleles=a.alleles)
    assert [s.alleles for s in model.allele_systems()] == [s.alleles for s in systems]
    np.testing.assert_array_equal(codes, model.encode([p.genotypes for p in a.to_profiles()]))


@pytest.mark.parametrize("layout", ["grouped", "interleaved", "one-kind"])
def test_loading_one_kind_reads_only_its_row_groups(tmp_path, monkeypatch, layout):
    """load(kind=...) reads the kind column, then only the row groups that hold
    that kind: the same profiles, in the same order, as filtering a full load."""
    import formats.dataset as fd

    monkeypatch.setattr(fd, "ROW_GROUP_ROWS", 4)
    rng = np.random.default_rng(7)
    kinds = {"grouped": ["reference"] * 6 + ["query"] * 9 + ["reference"] * 3,
             "interleaved": ["query", "reference"] * 9, "one-kind": ["query"] * 11}[layout]
    profs = [Profile(f"S{i:02d}", {"vWA": (str(rng.integers(14, 19)), str(rng.integers(14, 19))),
                                   "TH01": ("6", "9.3")}, kind=k,
                     case_id=f"C{i}" if k == "reference" else "",
                     relation="father" if k == "reference" else "", sex="M")
             for i, k in enumerate(kinds)]
    d = tmp_path / "ds"
    write_profiles(d, profs)
    ds = open_dataset(d)
    assert pq.ParquetFile(d / ds.manifest["shards"][0]["file"]).metadata.num_row_groups == \
        (len(profs) + 3) // 4
    full = ds.load()
    for kind in ("reference", "query"):
        part = ds.load(kind=kind)
        rows = np.nonzero(full.kind == kind)[0]
        assert list(part.sample_id) == list(full.sample_id[rows])
        assert np.array_equal(part.genotypes, full.genotypes[rows])
        assert list(part.case_id) == list(full.case_id[rows])
        assert part.genotypes.shape == (len(rows), 2, 2)
