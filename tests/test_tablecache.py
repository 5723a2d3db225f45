"""The on-disk table store (kinship.tablecache): a second model of the same
definition reads the tables the first wrote, bit for bit, without computing them;
anything that changes a value changes the key; a damaged entry is never used."""
from __future__ import annotations

import stat
import sys
from pathlib import Path

import numpy as np
import pytest

import kinship
import kinship.search as ks
from kinship.search import ScoringModel
from kinship.tablecache import TableStore

sys.path.insert(0, str(Path(__file__).parent / "engine"))

LOCI = ("TPOX", "TH01", "D3S1358")


def _model(store, theta=0.0, rate=0.002, freqs=None):
    ft = freqs or kinship.FrequencyTable.load("nist1036_all")
    mut = kinship.MutationModel(kinship.Stepwise(rate=rate, rate2=1e-6, range=0.1))
    m = ScoringModel(ft, LOCI, mutation=mut, theta=theta)
    m.table_store = store
    return m


def _no_compute(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("computed a table the store holds")

    monkeypatch.setattr(ks, "pair_table", boom)
    import kinship.likelihood as kl

    monkeypatch.setattr(kl, "locus_likelihood", boom)


def _same(a, b):
    assert len(a) == len(b)
    for (W1, I1), (W2, I2) in zip(a, b):
        assert W1.tobytes() == W2.tobytes() and I1.tobytes() == I2.tobytes()


def test_second_model_reads_the_tables(tmp_path, monkeypatch):
    store = TableStore(tmp_path / "tc")
    first = _model(store)
    pc = first.pair_tables("parent-child", "female")
    fs = first.pair_tables("full-sibling", "male", ref_dropout=0.1)
    sr = first.single_relative_tables("paternal-uncle", "male")
    files = sorted((tmp_path / "tc").rglob("*.tab")) + sorted((tmp_path / "tc").rglob("*.json"))
    assert len(files) == 6
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE((tmp_path / "tc").stat().st_mode) == 0o700
    _no_compute(monkeypatch)
    second = _model(store)
    _same(second.pair_tables("parent-child", "female"), pc)
    _same(second.pair_tables("full-sibling", "male", ref_dropout=0.1), fs)
    _same(second.single_relative_tables("paternal-uncle", "male"), sr)
    # and the model without a store computes the same values
    monkeypatch.undo()
    _same(_model(None).pair_tables("parent-child", "female"), pc)


@pytest.mark.parametrize("change", ["theta", "rate", "sex", "dropout", "freqs", "relationship"])
def test_a_change_of_model_is_a_new_key(tmp_path, change):
    store = TableStore(tmp_path / "tc")
    base = _model(store)
    base.pair_tables("parent-child", "male")
    key = ("parent-child", "male", "paternal")
    assert base._load_stored("pair", key) is not None
    if change == "theta":
        m = _model(store, theta=0.01)
    elif change == "rate":
        m = _model(store, rate=0.003)
    elif change == "freqs":
        m = _model(store, freqs=kinship.FrequencyTable.load("fbi2015_caucasian"))
    else:
        m = _model(store)
        key = {"sex": ("parent-child", "female", "paternal"),
               "dropout": ("parent-child", "male", "paternal", 0.05, 0.0, 0.0),
               "relationship": ("full-sibling", "male", "paternal")}[change]
    assert m._load_stored("pair", key) is None


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-data", "description", "shape"])
def test_damaged_entry_is_rebuilt_not_used(tmp_path, damage):
    import json

    store = TableStore(tmp_path / "tc")
    good = _model(store).pair_tables("parent-child", "male")
    (f,) = list((tmp_path / "tc").rglob("*.tab"))
    (meta,) = list((tmp_path / "tc").rglob("*.json"))
    desc = json.loads(meta.read_text())
    data = bytearray(f.read_bytes())
    if damage == "flip":          # one byte inside the second locus's W
        data[desc["arrays"][2]["offset"] + 17] ^= 0x01
        f.write_bytes(bytes(data))
    elif damage == "truncate":
        f.write_bytes(bytes(data[:-100]))
    elif damage == "no-data":
        f.unlink()
    elif damage == "description":
        meta.write_text("{not json")
    else:
        desc["arrays"][0]["shape"] = [3, 3]
        meta.write_text(json.dumps(desc))
    again = _model(store).pair_tables("parent-child", "male")
    _same(again, good)
    # the damaged file was replaced by a good one: the next model reads it
    assert _model(store)._load_stored("pair", ("parent-child", "male", "paternal")) is not None


@pytest.mark.parametrize("where", ["first", "last-W", "an-I", "last"])
def test_a_flipped_bit_anywhere_is_found(tmp_path, where):
    """Every byte of every array is checked (the first and last byte of the file,
    the last of a W array, one of an I array): the entry is not used."""
    import json

    store = TableStore(tmp_path / "tc")
    _model(store).pair_tables("parent-child", "male")
    (f,) = list((tmp_path / "tc").rglob("*.tab"))
    (meta,) = list((tmp_path / "tc").rglob("*.json"))
    arrs = json.loads(meta.read_text())["arrays"]

    def end(a):          # offset of the array's last byte
        return a["offset"] + int(np.prod(a["shape"])) * np.dtype(a["dtype"]).itemsize - 1

    pos = {"first": 0, "last-W": end(arrs[-2]), "an-I": arrs[3]["offset"] + 1,
           "last": end(arrs[-1])}[where]
    data = bytearray(f.read_bytes())
    data[pos] ^= 0x80
    f.write_bytes(bytes(data))
    key = ("parent-child", "male", "paternal")
    assert _model(store)._load_stored("pair", key) is None       # refused and removed
    assert not f.exists()


def test_checksums_are_zlibs_crc32(tmp_path):
    """The stored checksums are zlib's CRC-32 (computed with ISA-L, the same
    function): entries written before keep their meaning."""
    import json
    import zlib

    store = TableStore(tmp_path / "tc")
    _model(store).pair_tables("half-sibling", "female")
    (f,) = list((tmp_path / "tc").rglob("*.tab"))
    (meta,) = list((tmp_path / "tc").rglob("*.json"))
    data = f.read_bytes()
    for a in json.loads(meta.read_text())["arrays"]:
        n = int(np.prod(a["shape"])) * np.dtype(a["dtype"]).itemsize
        assert a["crc32"] == zlib.crc32(data[a["offset"]:a["offset"] + n])
    # and the fast implementation is the one used where it is installed
    import importlib.util

    import kinship.tablecache as tc

    if importlib.util.find_spec("isal") is not None:
        assert tc._crc32.__module__.startswith("isal")


def test_stored_tables_are_read_only_and_equal(tmp_path):
    store = TableStore(tmp_path / "tc")
    built = _model(store).pair_tables("full-sibling", "male")
    read = _model(store).pair_tables("full-sibling", "male")
    _same(read, built)
    for W, I in read:
        assert W.dtype == np.float64 and I.dtype == np.uint8
        assert not W.flags.writeable and not I.flags.writeable
        assert type(W) is np.ndarray


def test_engine_results_same_with_and_without_store(tmp_path):
    import engine
    import formats
    from enginelib import make_job, simulate

    profs, _ = simulate(n_cases=4, n_unrelated=6, n_unrelated_references=2, seed=9)
    formats.write_profiles(tmp_path / "ds", profs)
    out = {}
    for name, tc in (("off", "off"), ("cold", str(tmp_path / "tc")), ("warm", str(tmp_path / "tc"))):
        engine.run(make_job(tmp_path / "ds", tmp_path / name, ["case", "full-sibling"],
                            execution__table_cache=tc))
        out[name] = (tmp_path / name / "hits.parquet").read_bytes()
    assert out["off"] == out["cold"] == out["warm"]
    assert list((tmp_path / "tc").rglob("*.tab"))


def test_consistency_claimed_tables_from_the_store(tmp_path, monkeypatch):
    """The reference-consistency check's claimed-relationship tables (per shape of the
    pair's connecting pedigree) are kept in the store too: a second checker of the
    same model reads them without computing, bit for bit, and excluded flags as bool."""
    from kinship.consistency import ConsistencyChecker
    from kinship.pedigree import Pedigree, Person

    ped = Pedigree([Person("F", None, None, "male"), Person("M", None, None, "female"),
                    Person("K1", "F", "M", "female"), Person("K2", "F", "M", "male")])
    store = TableStore(tmp_path / "tc")
    first = ConsistencyChecker(_model(store)).claimed_tables(ped, "K1", "K2")
    plain = ConsistencyChecker(_model(None)).claimed_tables(ped, "K1", "K2")
    _no_compute(monkeypatch)
    second = ConsistencyChecker(_model(store)).claimed_tables(ped, "K1", "K2")
    for (W1, E1), (W2, E2), (W3, E3) in zip(first, second, plain):
        assert W1.tobytes() == W2.tobytes() == W3.tobytes()
        assert E2.dtype == bool and (E1 == E2).all() and (E2 == E3).all()


def test_without_isal_zlibs_crc32_reads_the_same_store(tmp_path):
    """Where isal is not installed (an environment older than the dependency) the
    store falls back to zlib's CRC-32 and reads, unchanged, the entries written
    with ISA-L's (a fresh interpreter in which ``import isal`` fails)."""
    import subprocess

    store = TableStore(tmp_path / "tc")
    want = _model(store).pair_tables("parent-child", "male")
    code = f"""
import sys, zlib
sys.modules["isal"] = None               # import isal... raises ImportError
sys.path.insert(0, {str(Path(__file__).parent)!r})
import kinship.tablecache as tc
assert tc._crc32 is zlib.crc32, tc._crc32
import kinship.search as ks
from test_tablecache import _model
def boom(*a, **k):
    raise AssertionError("recomputed: the stored entry was refused")
ks.pair_table = boom
m = _model(tc.TableStore({str(tmp_path / "tc")!r}))
out = m.pair_tables("parent-child", "male")
sys.stdout.buffer.write(b"".join(W.tobytes() + I.tobytes() for W, I in out))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert r.stdout == b"".join(W.tobytes() + I.tobytes() for W, I in want)


def test_store_keeps_to_its_size_removing_the_least_recently_used(tmp_path):
    """Past ``max_bytes`` the entries least recently used (written or read) are removed
    after a write, never one this store object used; a read marks an entry used."""
    import os
    import time

    from kinship.tablecache import TableStore

    W = np.full((4, 4), 0.5)
    I = np.zeros((4, 4), dtype=np.uint8)
    one = TableStore(tmp_path / "tc")
    for k in ("a" * 64, "b" * 64, "c" * 64):
        one.save(k, [(W, I)] * 8)
    sizes = {k: s for _, s, k in one.entries()}
    assert len(sizes) == 3
    entry = next(iter(sizes.values()))
    # another process later: a store that fits two entries; "a" read (used) an hour
    # ago, "b" two hours ago, "c" three
    for k, age in (("a", 1), ("b", 2), ("c", 3)):
        tab = tmp_path / "tc" / (k * 2) / f"{k * 64}.tab"
        t = time.time() - 3600 * age
        os.utime(tab, (t, t))
    old = tmp_path / "tc" / "ab" / ("ab" + "0" * 62 + ".npz")   # a first-format entry
    old.parent.mkdir()
    old.write_bytes(b"x" * 1000)
    two = TableStore(tmp_path / "tc", max_bytes=2 * entry + 1)
    assert two.load("c" * 64, [(4, 4)] * 8) is not None      # used by this store: kept
    two.save("d" * 64, [(W, I)] * 8)                          # 4 entries: two removed
    left = {k[0] for _, _, k in two.entries()}
    assert left == {"c", "d"}                 # b and a (least recently used) went first
    assert not old.exists()                   # never read since format 2: removed
    # a store whose own entries exceed its size removes none of them
    three = TableStore(tmp_path / "tc", max_bytes=1)
    assert three.load("c" * 64, [(4, 4)] * 8) is not None
    three.save("e" * 64, [(W, I)] * 8)
    assert {k[0] for _, _, k in three.entries()} == {"c", "e"}
    assert three.load("e" * 64, [(4, 4)] * 8) is not None


def test_table_cache_size_job_key(tmp_path):
    from engine.errors import JobError
    from engine.job import load_job

    job = tmp_path / "job.toml"
    for value, ok in (('"2GiB"', True), ("1000000", True), ('"0"', False), ('"lots"', False),
                      ("true", False)):
        job.write_text(f'[inputs]\nqueries = "q"\n[search]\nmodes = ["duplicates"]\n[output]\npath = "o"\n'
                       f'[execution]\ntable_cache_size = {value}\n')
        if ok:
            load_job(job)
        else:
            with pytest.raises(JobError, match="table_cache_size"):
                load_job(job)
