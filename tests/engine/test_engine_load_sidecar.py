"""Loading the queries from shard sidecars (formats.sidecar): the same QuerySet as
the load of the ProfileArrays path that came before (kept below as the reference),
whatever the sidecars' state (written, missing, stale, altered, a read-only
directory), every check of the shard load kept, and the same output bytes."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import engine
import formats
import kinship
from engine.inputs import QuerySet, fingerprints, load_queries, typed_counts
from engine.model import ModelSpec, Recoder, get_model
from formats import sidecar
from kinship.tables import genotype_indices

from enginelib import LOCI, make_job, simulate


def reference_load(dataset, recoder, dropout=None) -> QuerySet:
    """The load of the queries as it was before the sidecars (ProfileArrays per
    shard, one NumPy/numba pass per array, ids as Python strings)."""
    ids, sex, kit, codes, gidx, nt, gfp, fp, d, src = ([] for _ in range(10))
    for arr in dataset.iter_shards(kind="query", loci=recoder.load_loci):
        if len(arr) == 0:
            continue
        c = recoder.codes(arr)
        s = arr.sex.astype(object)
        i = arr.sample_id.astype(object)
        g = fingerprints(c, s)
        f = g
        if dropout is not None:
            from engine.dropout import fingerprint_sex

            dd, ss = dropout(i, c)
            d.append(np.asarray(dd, dtype=np.float64))
            src.append(np.asarray(ss, dtype=object))
            if np.any(dd):
                f = fingerprints(c, fingerprint_sex(s, dd))
        ids.append(i)
        sex.append(s)
        kit.append(arr.kit.astype(object))
        codes.append(c)
        gidx.append(genotype_indices(c))
        nt.append(typed_counts(c))
        gfp.append(g)
        fp.append(f)
    cat = np.concatenate
    return QuerySet(cat(ids), cat(sex), cat(kit), cat(codes), cat(gidx), cat(fp),
                    dropout=cat(d) if d else None, dropout_src=cat(src) if src else None,
                    gfp=cat(gfp), n_typed=cat(nt))


def assert_same(q: QuerySet, ref: QuerySet):
    assert len(q) == len(ref)
    assert q.ids.tolist() == ref.ids.tolist()
    assert q.id_array.to_pylist() == ref.ids.tolist()
    assert q.ids_at(np.array([len(q) - 1, 0])).tolist() == [ref.ids[-1], ref.ids[0]]
    for name in ("sex", "kit"):
        assert getattr(q, name).tolist() == getattr(ref, name).tolist(), name
    for name in ("codes", "gidx", "n_typed", "fp", "gfp", "rank", "dropout"):
        a, b = getattr(q, name), getattr(ref, name)
        assert a.dtype == b.dtype and a.shape == b.shape and (a == b).all(), name
    if ref.dropout_src is not None:
        assert q.dropout_src.tolist() == ref.dropout_src.tolist()


def _model(ds):
    ft = kinship.FrequencyTable.load("nist1036_all")
    loci = sorted((ft.resolve_locus(l) for l in ds.loci), key=str.lower)
    extra = {l: sorted(ds.alleles.get(l, ())) for l in loci}
    return loci, get_model(ModelSpec(ft, tuple(loci), None, 0.0, extra))


def _load(path, dropout=None, threads=None):
    ds = formats.open_dataset(path)
    loci, model = _model(ds)
    rec = Recoder(ds, loci, model.systems)
    return (load_queries(ds, rec, dropout=dropout, threads=threads),
            reference_load(formats.open_dataset(path), rec, dropout))


def sidecars(path) -> list:
    return sorted(Path(path).glob("*" + sidecar.SUFFIX))


@pytest.fixture
def two_shards(tmp_path):
    """Two shards with queries and references mixed, unsorted non-ASCII ids, a
    locus only the second shard types, and a kit only some profiles name."""
    profs, _ = simulate(n_cases=6, n_unrelated=9, n_unrelated_references=3, seed=5)
    rng = np.random.default_rng(3)
    for k, p in enumerate(profs):
        p.sample_id = f"{'zäöΩ'[k % 4]}{rng.integers(10**6)}-{k}"
        p.kit = "GlobalFiler" if k % 3 else ""
    half = len(profs) // 2
    first = [formats.Profile(p.sample_id, {l: g for l, g in p.genotypes.items() if l != "vWA"},
                             p.kind, p.case_id, p.relation, p.sex, p.kit) for p in profs[:half]]
    d = tmp_path / "ds"
    formats.write_profiles(d, first)
    formats.write_profiles(d, profs[half:])
    for s in sidecars(d):      # as if written by an older strkin: none yet
        s.unlink()
    return d


def test_load_equals_the_reference_with_and_without_sidecars(two_shards):
    q, ref = _load(two_shards)            # decoded; the sidecars are written
    assert_same(q, ref)
    assert len(sidecars(two_shards)) == 2
    for s in sidecars(two_shards):
        assert (s.stat().st_mode & 0o777) == formats.perms.file_mode()
    q2, _ = _load(two_shards)             # from the sidecars
    # the ids only become Python strings when asked for
    assert q2.__dict__["_ids"] is None and isinstance(q2.id_array, pa.Array)
    assert_same(q2, ref)


def test_load_with_dropout_equals_the_reference(two_shards):
    def dropout(ids, codes):
        d = np.where(np.arange(len(ids)) % 2 == 0, 0.0, 0.1)
        return d, np.array(["job"] * len(ids), dtype=object)

    _load(two_shards)
    q, ref = _load(two_shards, dropout=dropout)
    assert_same(q, ref)
    assert (q.fp != q.gfp).any()


def test_stale_altered_missing_sidecars_are_not_used(two_shards):
    _, ref = _load(two_shards)
    side = sidecars(two_shards)
    good = side[1].read_bytes()
    # altered (the header kept): a code, an id, the order; the CRC-32 no longer matches
    for column in ("codes", "sample_id", "order", "sex"):
        _alter(side[1], column)
        sha = json.loads(_table(side[1]).schema.metadata[b"strkin.sidecar"])["shard_sha256"]
        assert sidecar.read_sidecar(formats.open_dataset(two_shards).shards[1], sha) is None
        q, _ = _load(two_shards)
        assert_same(q, ref)
        assert side[1].read_bytes() == good          # rebuilt from the shard
    # stale: a sidecar built from other bytes (another shard's, under this name)
    shutil.copy(side[0], side[1])
    q, _ = _load(two_shards)
    assert_same(q, ref)
    # missing
    side[0].unlink()
    q, _ = _load(two_shards)
    assert_same(q, ref)
    assert len(sidecars(two_shards)) == 2
    # an altered header (what it says of the codes): not used, rebuilt
    t = _table(side[0])
    h = json.loads(t.schema.metadata[b"strkin.sidecar"])
    h["max_code"] = {k: 0 for k in h["max_code"]}
    _write(side[0], t, h)
    assert sidecar.read_sidecar(formats.open_dataset(two_shards).shards[0],
                                h["shard_sha256"]) is None
    q, _ = _load(two_shards)
    assert_same(q, ref)


def _table(path) -> pa.Table:
    import pyarrow.ipc as ipc

    with pa.memory_map(str(path)) as src:
        return ipc.open_file(src).read_all()


def _write(path, table, header):
    import pyarrow.ipc as ipc

    meta = {b"strkin.sidecar": json.dumps(header).encode()}
    table = table.replace_schema_metadata(meta)
    with ipc.new_file(str(path) + ".x", table.schema) as w:
        w.write_table(table)
    os.replace(str(path) + ".x", path)


def _alter(path, column):
    """Change one value of ``column`` of a sidecar, its header (and CRC) kept."""
    t = _table(path)
    h = json.loads(t.schema.metadata[b"strkin.sidecar"])
    col = t.column(column).combine_chunks()
    if column == "codes":
        flat = col.flatten().to_numpy().copy()
        flat[3] = flat[3] + 1 if flat[3] < 2 else 0
        col = pa.FixedSizeListArray.from_arrays(pa.array(flat), col.type.list_size)
    elif column == "sample_id":
        v = col.to_pylist()
        v[1] = v[1] + "x"
        col = pa.array(v, pa.string())
    else:
        v = col.to_numpy().copy()
        v[[0, 1]] = v[[1, 0]] if v[0] != v[1] else (v[0] + 1) % 2
        col = pa.array(v, pa.int32())
    _write(path, t.set_column(t.schema.get_field_index(column), column, col), h)


def test_altered_shard_is_refused_with_a_sidecar(two_shards):
    _load(two_shards)
    shard = formats.open_dataset(two_shards).shards[1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(formats.CorruptShardError, match="sha256"):
        _load(two_shards)


def test_manifest_row_count_and_dictionary_still_checked(two_shards):
    _load(two_shards)
    m = json.loads((two_shards / "_dataset.json").read_text())
    m["shards"][0]["n_profiles"] += 1
    (two_shards / "_dataset.json").write_text(json.dumps(m))
    with pytest.raises(formats.CorruptShardError, match="rows but"):
        _load(two_shards)
    m["shards"][0]["n_profiles"] -= 1
    m["alleles"]["TH01"] = m["alleles"]["TH01"][::-1]
    (two_shards / "_dataset.json").write_text(json.dumps(m))
    with pytest.raises(formats.CorruptShardError, match="allele dictionary"):
        _load(two_shards)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory(two_shards):
    os.chmod(two_shards, 0o500)
    try:
        q, ref = _load(two_shards)
    finally:
        os.chmod(two_shards, 0o700)
    assert_same(q, ref)
    assert not sidecars(two_shards)


def test_no_sidecar_written_when_switched_off(two_shards, monkeypatch):
    monkeypatch.setenv(sidecar.ENV, "0")
    q, ref = _load(two_shards)
    assert_same(q, ref)
    assert not sidecars(two_shards)


def test_unwritable_sidecar_is_not_an_error(two_shards, monkeypatch):
    """A directory the load cannot write to (as a read-only one, also for root):
    the queries load from the shards, nothing is written, nothing is left."""
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sidecar.os, "open", refuse)
    q, ref = _load(two_shards)
    assert_same(q, ref)
    assert not sidecars(two_shards) and not list(two_shards.glob(".*tmp*"))


def _set_ids(d, k, ids):
    """Rewrite the sample ids of shard ``k`` of dataset ``d`` (its footer kept) and
    its manifest entry: a dataset whose ids a writer would have refused."""
    import pyarrow.parquet as pq

    shard = formats.open_dataset(d).shards[k]
    t = pq.read_table(shard)
    t = t.set_column(0, "sample_id", pa.array(ids, pa.string()))
    pq.write_table(t, shard)
    m = json.loads((d / "_dataset.json").read_text())
    m["shards"][k]["sha256"] = formats.dataset.sha256_file(shard)
    (d / "_dataset.json").write_text(json.dumps(m))


@pytest.mark.parametrize("where", ["across", "within"])
def test_duplicate_ids_refused_with_their_message(tmp_path, where):
    profs, _ = simulate(n_cases=3, n_unrelated=4, n_unrelated_references=2, seed=9)
    d = tmp_path / "ds"
    formats.write_profiles(d, profs[:8])
    formats.write_profiles(d, profs[8:])
    ids = [p.sample_id for p in profs[8:]]
    ids[-1] = profs[0].sample_id if where == "across" else ids[0]
    _set_ids(d, 1, ids)
    with pytest.raises(formats.DuplicateSampleError) as old:
        list(formats.open_dataset(d).iter_shards(kind="query"))
    for s in sidecars(d):
        s.unlink()
    for _ in range(2):        # decoded, then (the first shard) from its sidecar
        with pytest.raises(formats.DuplicateSampleError) as new:
            _load(d)
        assert str(new.value) == str(old.value)


def test_id_order_and_merge_match_python_sorting():
    rng = np.random.default_rng(1)
    words = ["", "a", "ab", "b", "Z", "é", "ée", "Ω", "a\u00ff", "a\u0100", "zz", "ä1", "10", "9"]
    ids = [words[i] + str(j) for j, i in enumerate(rng.integers(len(words), size=300))]
    parts, start = [], 0
    for size in (0, 120, 1, 179):
        chunk = pa.array(ids[start:start + size], pa.string())
        order = np.array(sorted(range(size), key=lambda k: ids[start + k]), dtype=np.int32)
        assert sidecar.check_order(chunk, order) == -1
        if size > 1:
            assert sidecar.check_order(chunk, order[::-1].copy()) == -2
            assert sidecar.check_order(chunk, np.zeros(size, np.int32)) == -2
        parts.append((chunk, order))
        start += size
    rows, tag, dup = sidecar.merged_order(parts)
    assert dup is None
    base = np.cumsum([0] + [len(p[0]) for p in parts])
    got = [parts[t][0][int(r - base[t])].as_py() for r, t in zip(rows, tag)]
    assert got == sorted(ids)
    # a duplicate across parts is found, one within a part too
    dup_parts = parts + [(pa.array([ids[5]]), np.zeros(1, np.int32))]
    assert sidecar.merged_order(dup_parts)[2] is not None
    twice = pa.array(["b", "a", "b"])
    assert sidecar.check_order(twice, np.array([1, 0, 2], np.int32)) == 1


def test_same_output_bytes_with_and_without_sidecars(tmp_path, monkeypatch):
    profs, _ = simulate(n_cases=10, n_unrelated=10, n_unrelated_references=4, seed=21)
    formats.write_profiles(tmp_path / "ds", profs[:20])
    formats.write_profiles(tmp_path / "ds", profs[20:])
    modes = ["case", "parent-child", "identity"]
    for s in sidecars(tmp_path / "ds"):
        s.unlink()
    monkeypatch.setenv(sidecar.ENV, "0")
    engine.run(make_job(tmp_path / "ds", tmp_path / "a", modes))    # decoded
    assert not sidecars(tmp_path / "ds")
    monkeypatch.delenv(sidecar.ENV)
    engine.run(make_job(tmp_path / "ds", tmp_path / "b", modes))    # decoded, sidecars written
    assert len(sidecars(tmp_path / "ds")) == 2
    engine.run(make_job(tmp_path / "ds", tmp_path / "c", modes))    # from the sidecars
    assert (tmp_path / "a" / "hits.parquet").stat().st_size > 1000
    for name in ("hits.parquet", "summary.txt"):
        first = (tmp_path / "a" / name).read_bytes()
        assert (tmp_path / "b" / name).read_bytes() == first, name
        assert (tmp_path / "c" / name).read_bytes() == first, name


def test_count_kind_from_the_footer_equals_the_count(tmp_path, two_shards):
    """count_kind reads a shard's kind column only when its footer's statistics do
    not settle the count (a row group of mixed kinds)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from engine.inputs import _count_from_statistics, count_kind

    profs, _ = simulate(n_cases=4, n_unrelated=6, n_unrelated_references=2, seed=2)
    pure = tmp_path / "pure"
    formats.write_profiles(pure, [p for p in profs if p.kind == "query"])
    formats.write_profiles(pure, [p for p in profs if p.kind == "reference"])
    for d in (pure, two_shards):
        ds = formats.open_dataset(d)
        for kind in ("query", "reference"):
            per = [int(pc.sum(pc.equal(pq.read_table(p, columns=["kind"]).column("kind")
                                       .cast(pa.string()), kind)).as_py() or 0)
                   for p in ds.shards]
            assert count_kind(ds, kind) == (sum(per), max(per))
    settled = [_count_from_statistics(pq.ParquetFile(p).metadata, "query")
               for p in formats.open_dataset(pure).shards]
    assert settled == [sum(p.kind == "query" for p in profs), 0]
    assert all(_count_from_statistics(pq.ParquetFile(p).metadata, "query") is None
               for p in formats.open_dataset(two_shards).shards)


def test_set_fingerprint_of_arrow_ids_equals_the_strings():
    from engine.inputs import set_fingerprint

    rng = np.random.default_rng(4)
    ids = np.array([f"{'aZéΩ'[k % 4]}{rng.integers(10**5)}-{k}" for k in range(500)], dtype=object)
    fps = rng.integers(0, 2**63, size=(500, 2), dtype=np.uint64).view("S16").reshape(500)
    order = np.argsort(ids.astype(str), kind="stable")
    rank = np.empty(500, np.int64)
    rank[order] = np.arange(500)
    want = set_fingerprint(ids, fps)
    arrow = pa.array(ids.tolist(), pa.string())
    assert set_fingerprint(arrow, fps) == want
    assert set_fingerprint(arrow, fps, rank) == want
    assert set_fingerprint(arrow.slice(10, 100), fps[10:110]) == set_fingerprint(ids[10:110], fps[10:110])
    assert set_fingerprint(pa.array([], pa.string()), fps[:0]) == set_fingerprint(ids[:0], fps[:0])


def test_rows_of_equals_a_dict_of_every_id(two_shards):
    q, ref = _load(two_shards)
    every = {str(x): i for i, x in enumerate(ref.ids)}
    ask = [ref.ids[3], ref.ids[-1], "not-a-query", ref.ids[3]]
    assert q.rows_of(ask) == {k: every[k] for k in ask if k in every}
    assert q.rows_of([]) == {}
    assert q.__dict__["_ids"] is None          # without a Python string per query


def test_verify_reports_sidecars(tmp_path, capsys):
    """``kinship verify`` counts a dataset's sidecars (valid, stale, missing) and warns,
    without changing its exit status, of a sidecar left without its shard and of one
    that others may read; no line names a sample."""
    from formats.cli import main as cli_main

    profs, _ = simulate(n_cases=4, n_unrelated=4, seed=11)
    d = tmp_path / "ds"
    formats.write_profiles(d, profs[:12], shard_size=6)
    shards = sorted(d.glob("part-*.parquet"))
    assert len(shards) == 2
    ds = formats.open_dataset(d)
    st = ds.sidecar_status()
    assert sorted(st["valid"]) == sorted(sidecar.sidecar_path(p).name for p in shards)
    assert st["stale"] == st["missing"] == st["orphans"] == st["open"] == []

    # one damaged (a byte of its codes changed), one missing, one orphan left open to others
    s0, s1 = (sidecar.sidecar_path(p) for p in shards)
    orphan = d / "part-00077-0badf00d.sidecar.arrow"
    shutil.copy(s1, orphan)
    os.chmod(orphan, 0o644)
    raw = bytearray(s0.read_bytes())
    table = pa.ipc.open_file(pa.py_buffer(bytes(raw))).read_all()
    ids0 = table.column("sample_id").to_pylist()
    i = raw.index(ids0[0].encode())
    raw[i] ^= 0x01
    s0.write_bytes(bytes(raw))
    s1.unlink()
    st = formats.open_dataset(d).sidecar_status()
    assert st == {"valid": [], "stale": [s0.name], "missing": [shards[1].name],
                  "orphans": [orphan.name], "open": [orphan.name]}

    capsys.readouterr()
    assert cli_main(["verify", str(d)]) == 0
    out, err = capsys.readouterr()
    assert "sidecars: 0 valid, 1 stale or damaged" in out and "1 missing" in out
    assert orphan.name in err and "without their shard" in err and "chmod 600" in err
    for p in profs[:12]:
        assert p.sample_id not in out + err


@pytest.mark.parametrize("queries_only", [False, True])
def test_encode_in_parts_equals_one_pass(tmp_path, two_shards, monkeypatch, queries_only):
    """The shards' rows encoded in parts side by side (engine.inputs._encode_parts:
    here 3 parts of a shard) write what one pass writes: the rows a shard's
    queries are taken from (queries and references mixed) and a shard of queries
    only (every row)."""
    import engine.inputs as inputs

    path = two_shards
    if queries_only:
        profs, _ = simulate(n_cases=0, n_unrelated=40, n_unrelated_references=0, seed=8)
        path = tmp_path / "q"
        formats.write_profiles(path, [p for p in profs if p.kind == "query"])
    one, ref = _load(path)
    monkeypatch.setattr(inputs, "_ENCODE_SPLIT", 2)
    calls = []
    real = inputs._encode_rows

    def counted(*a):
        calls.append(a[-1])
        return real(*a)

    monkeypatch.setattr(inputs, "_encode_rows", counted)
    parts, _ = _load(path, threads=3)
    assert len(calls) >= 3 and len(set(calls)) == len(calls)     # several parts, each its own rows
    assert_same(parts, ref)
    assert_same(parts, one)
    calls.clear()
    single, _ = _load(path, threads=1)              # [execution] threads = 1: one part a shard
    assert len(calls) == len(formats.open_dataset(path).shards)
    assert_same(single, ref)


def test_kit_loci_from_the_shards_equal_those_from_the_kit_column(tmp_path, two_shards):
    """The kits' typed loci found from each shard's kit codes while it is read
    (QuerySet.kit_loci) are those _add_kit_loci finds from the kit of every query,
    merged into the references' in the same order: kits in some shards only, a kit
    only references carry, profiles without a kit, a locus only one shard types."""
    from engine.inputs import _add_kit_loci, merge_kit_loci

    profs, _ = simulate(n_cases=6, n_unrelated=12, n_unrelated_references=4, seed=11)
    kits = ["PowerPlex Fusion", "", "GlobalFiler", "Identifiler"]
    for k, p in enumerate(profs):
        p.kit = "RefOnlyKit" if p.kind == "reference" else kits[k % 4]
    third = len(profs) // 3
    d = tmp_path / "kits"
    formats.write_profiles(d, [formats.Profile(p.sample_id, {l: g for l, g in p.genotypes.items()
                                                             if l not in ("TH01", "vWA")},
                                               p.kind, p.case_id, p.relation, p.sex, p.kit)
                               for p in profs[:third]])
    formats.write_profiles(d, profs[third:2 * third])
    formats.write_profiles(d, [p for p in profs[2 * third:] if p.kit != "Identifiler"])
    for path in (two_shards, d):
        for _ in range(2):                       # decoded, then from the sidecars
            q, _ = _load(path)
            assert q.kit_loci is not None
            want, got = {"Aaa": np.zeros(q.codes.shape[1], bool)}, {"Aaa": np.zeros(q.codes.shape[1], bool)}
            want["Aaa"][0] = got["Aaa"][0] = True          # a kit the references added before
            _add_kit_loci(want, q.kit, q.codes)
            merge_kit_loci(got, q.kit_loci)
            assert list(got) == list(want)
            assert all((got[k] == want[k]).all() for k in want)
    assert "RefOnlyKit" not in q.kit_loci and "" not in q.kit_loci
    assert {"PowerPlex Fusion", "GlobalFiler", "Identifiler"} <= set(q.kit_loci)
