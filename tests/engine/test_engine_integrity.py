"""Issue 17: what is searched is what was imported; the engine's failures are one line."""
from __future__ import annotations

import errno
import json
import os
import socket
import stat
import threading
import time
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engine
import formats
from engine.errors import InputError, OutputError, SecurityWarning, TaskError
from engine.execute import DaskExecutor, security_warning

from enginelib import make_job, simulate


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("integrity")
    profs, truth = simulate(n_cases=6, n_unrelated=6, seed=5)
    formats.write_profiles(d / "ds", profs)
    return d, profs


def _tamper(shard):
    t = pq.read_table(shard)
    md = t.schema.metadata
    name = next(c for c in t.column_names if c.endswith(":1"))
    col = t.column(name).to_pylist()
    i = next(k for k, v in enumerate(col) if v >= 0)
    col[i] = 0 if col[i] != 0 else 1
    t = t.set_column(t.schema.get_field_index(name), t.schema.field(name),
                     pa.array(col, pa.int16())).replace_schema_metadata(md)
    pq.write_table(t, shard, compression="zstd")


def test_results_cite_checksums_read_and_tampering_is_refused(tmp_path, data):
    src, profs = data
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    res = engine.run(make_job(ds, tmp_path / "out", ["case", "parent-child"]))
    shard = formats.open_dataset(ds).shards[0]
    cited = res.manifest["inputs"]["queries"]["shards"][0]
    assert cited["sha256"] == formats.dataset.sha256_file(shard)
    prov = json.loads(pq.read_schema(tmp_path / "out" / "hits.parquet").metadata[b"strkin.search"])
    assert prov["inputs"]["references"][0]["sha256"] == cited["sha256"]
    # a shard changed between import and search
    _tamper(shard)
    with pytest.raises((InputError, formats.CorruptShardError), match=shard.name):
        engine.run(make_job(ds, tmp_path / "out2", ["case", "parent-child"]))
    assert not (tmp_path / "out2" / "hits.parquet").exists()


def test_query_that_is_a_reference_is_never_its_own_relative(tmp_path, data):
    _, profs = data
    ref = next(p for p in profs if p.kind == "reference" and p.relation == "father")
    q_same_profile = formats.Profile("Q-copy", dict(ref.genotypes), "query", sex=ref.sex)
    qds = tmp_path / "q"
    formats.write_profiles(qds, [q_same_profile] + [p for p in profs if p.kind == "query"][:3])
    rds = tmp_path / "r"
    formats.write_profiles(rds, [p for p in profs if p.kind == "reference"])
    job = make_job(qds, tmp_path / "out", ["case", "parent-child", "full-sibling", "identity"],
                   search__threshold=1.0)
    job["inputs"]["references"] = str(rds)
    res = engine.run(job)
    rows = res.hits.to_pylist()
    for r in rows:
        if r["query_id"] == "Q-copy":
            if r["mode"] == "case":
                assert r["case_id"] != ref.case_id
            elif r["mode"] != "identity":
                assert r["reference_id"] != ref.sample_id
    assert any(r["mode"] == "identity" and r["query_id"] == "Q-copy"
               and r["reference_id"] == ref.sample_id for r in rows)
    notes = " ".join(res.manifest["run"]["notes"]) + res.summary
    assert f"Q-copy = {ref.sample_id}" in notes
    # the same sample id as query and reference
    qds2 = tmp_path / "q2"
    formats.write_profiles(qds2, [formats.Profile(ref.sample_id, dict(ref.genotypes), "query",
                                                  sex=ref.sex)])
    job["inputs"]["queries"] = str(qds2)
    job["output"]["path"] = str(tmp_path / "out2")
    res = engine.run(job)
    assert not [r for r in res.hits.to_pylist() if r["reference_id"] == ref.sample_id]
    assert "same sample id" in res.summary


def test_overwrite_discards_an_interrupted_run_and_stale_temps_go(tmp_path, data):
    src, _ = data
    out = tmp_path / "out"
    job = make_job(src / "ds", out, ["parent-child"])
    engine.run(job)
    runj = json.loads((out / "_state" / "run.json").read_text())
    runj.update(status="running", run_id="x")
    (out / "_state" / "run.json").write_text(json.dumps(runj))
    (out / ".hits.parquet.tmp-1-abcdef12").write_bytes(b"half")
    with pytest.raises(OutputError, match="--resume"):
        engine.run(job)
    job["output"]["overwrite"] = True
    engine.run(job)
    assert not list(out.glob(".*.tmp-*"))


def test_results_are_private(tmp_path, data, monkeypatch):
    monkeypatch.delenv("STRKIN_SHARE_GROUP", raising=False)
    src, _ = data
    out = tmp_path / "out"
    engine.run(make_job(src / "ds", out, ["parent-child"]))
    for p in [out, out / "_state"]:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o700
    for p in ["hits.parquet", "summary.txt", "manifest.json", "_state/run.json"]:
        assert stat.S_IMODE(os.stat(out / p).st_mode) == 0o600, p


def test_disk_full_during_search_is_one_line_and_resume_is_identical(tmp_path, data, monkeypatch):
    src, _ = data
    job = make_job(src / "ds", tmp_path / "ref", ["case", "parent-child"], execution__block_size=2)
    want = pq.read_table(engine.run(job).path / "hits.parquet")
    import engine.output as O

    real = O.pq.write_table
    calls = [0]

    def flaky(table, where, **kw):
        calls[0] += 1
        if calls[0] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kw)

    monkeypatch.setattr(O.pq, "write_table", flaky)
    job["output"]["path"] = str(tmp_path / "out")
    with pytest.raises(OutputError) as ei:
        engine.run(job)
    msg = str(ei.value)
    assert "disk is full" in msg and "intact" in msg and "--resume" in msg and "\n" not in msg
    monkeypatch.setattr(O.pq, "write_table", real)
    got = pq.read_table(engine.run(job, resume=True).path / "hits.parquet")
    assert got.equals(want)


def test_read_only_output_is_one_line(tmp_path, data, monkeypatch):
    src, _ = data
    import engine.api as A

    def ro(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(A, "make_dir", ro)
    with pytest.raises(OutputError, match="read-only; nothing was written. Fix: give an"):
        engine.run(make_job(src / "ds", tmp_path / "out", ["parent-child"]))


def test_not_a_dask_scheduler_fails_within_seconds():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]
    conns = []

    def accept():
        try:
            while True:
                c, _ = srv.accept()
                conns.append(c)         # silent, like an HTTP server waiting for a request
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    t0 = time.time()
    with pytest.raises(TaskError, match="is not a Dask scheduler"):
        DaskExecutor(f"tcp://127.0.0.1:{port}").start()
    assert time.time() - t0 < 10
    srv.close()


def test_security_warning_for_plain_tcp_off_loopback():
    assert security_warning("tcp://127.0.0.1:8786") is None
    assert security_warning("tls://10.1.2.3:8786") is None
    w = security_warning("tcp://10.1.2.3:8786")
    assert w and "without TLS" in w and "Fix:" in w
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with pytest.raises(TaskError):
            DaskExecutor("tcp://192.0.2.1:1").start()      # TEST-NET: unreachable
    assert any(issubclass(r.category, SecurityWarning) for r in rec)


def test_membership_helpers_match_brute_force():
    """The hash-based membership tests that find queries which are also references
    (engine.selfpairs.isin_ids, isin_fp) agree with plain Python on random data,
    trailing zero bytes and shared first halves included."""
    import numpy as np

    from engine.selfpairs import isin_fp as _isin_fp
    from engine.selfpairs import isin_ids as _isin_ids

    rng = np.random.default_rng(3)
    raw = rng.integers(0, 4, size=(300, 16), dtype=np.uint8)
    raw[::7, 8:] = 0                                   # trailing zeros
    raw[1::5, :8] = raw[0, :8]                         # same first 8 bytes
    fps = np.array([bytes(r) for r in raw], dtype="S16")
    a, b = fps[:200], fps[150:] if len(fps) > 150 else fps
    b = np.concatenate([b, fps[rng.integers(0, 300, 40)]])
    want = np.array([x in set(b.tolist()) for x in a.tolist()])
    assert (_isin_fp(a, b) == want).all() and want.any() and not want.all()
    ids = np.array([f"S{i % 97}" for i in range(250)], dtype=object)
    other = np.array([f"S{i}" for i in range(50, 200, 3)], dtype=object)
    assert (_isin_ids(ids, other) == np.array([x in set(other) for x in ids])).all()
    assert not _isin_ids(ids, other[:0]).any() and len(_isin_fp(a[:0], b)) == 0
