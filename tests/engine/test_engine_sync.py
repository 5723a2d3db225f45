"""The write phase forces its result files to disk in one pass (engine.output.SyncBatch)
before the manifest, the run's commit point, is written: every file the manifest
names is on disk first (recorded through os.fsync), and each is forced once."""
from __future__ import annotations

import os

import engine
import formats

from enginelib import make_job, simulate


def test_results_forced_to_disk_before_the_manifest(tmp_path, monkeypatch):
    profs, _ = simulate(n_cases=3, n_unrelated=5, n_unrelated_references=2, seed=4)
    formats.write_profiles(tmp_path / "ds", profs)
    job = make_job(tmp_path / "ds", tmp_path / "out", ["case", "parent-child"])
    synced = []
    real = os.fsync

    def spy(fd):
        try:
            synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:
            synced.append("?")
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    engine.run(job)
    man = [i for i, n in enumerate(synced) if n.startswith(".manifest.json.tmp")]
    assert len(man) == 1
    for name in ("hits.parquet", "summary.txt", "units.parquet", "counts.parquet",
                 "consistency.parquet"):
        at = [i for i, n in enumerate(synced) if n == name]
        assert len(at) == 1 and at[0] < man[0], (name, synced)
    assert (tmp_path / "out" / "manifest.json").exists()


def test_units_state_encoded_ahead_is_the_file_written_in_place(tmp_path, monkeypatch):
    """The run state's units.parquet is encoded on a thread beside the merge
    (engine.state.UnitsAhead): the same bytes as encoding it in the write phase
    (write_state without it), the same rows, the file private."""
    import stat

    import pyarrow.parquet as pq

    import engine.api

    profs, _ = simulate(n_cases=4, n_unrelated=5, n_unrelated_references=2, seed=8)
    formats.write_profiles(tmp_path / "ds", profs)
    engine.run(make_job(tmp_path / "ds", tmp_path / "a", ["case", "parent-child"]))
    ahead = (tmp_path / "a" / "_state" / "units.parquet").read_bytes()
    made = []
    real = engine.api.UnitsAhead

    def count(*args):
        made.append(1)
        return real(*args)

    monkeypatch.setattr(engine.api, "UnitsAhead", count)
    engine.run(make_job(tmp_path / "ds", tmp_path / "b", ["case", "parent-child"]))
    assert made == [1]
    monkeypatch.setattr(engine.api, "UnitsAhead", lambda *a: None)   # encoded in write_state
    engine.run(make_job(tmp_path / "ds", tmp_path / "c", ["case", "parent-child"]))
    for d in ("b", "c"):
        assert (tmp_path / d / "_state" / "units.parquet").read_bytes() == ahead
    t = pq.read_table(tmp_path / "a" / "_state" / "units.parquet")
    # the fingerprints (random bytes) stored uncompressed, without statistics; the kind
    # and id columns compressed (engine.state.units_parquet)
    md = pq.ParquetFile(tmp_path / "a" / "_state" / "units.parquet").metadata.row_group(0)
    cols = {md.column(i).path_in_schema: md.column(i) for i in range(md.num_columns)}
    assert cols["fp"].compression == "UNCOMPRESSED" and not cols["fp"].is_stats_set
    assert cols["id"].compression == "ZSTD" and not cols["id"].is_stats_set
    assert cols["kind"].compression == "ZSTD" and cols["kind"].is_stats_set
    kinds = t.column("kind").to_pylist()
    assert kinds.count("query") == sum(p.kind == "query" for p in profs)
    assert set(kinds) == {"query", "person", "case"}
    mode = stat.S_IMODE(os.stat(tmp_path / "a" / "_state" / "units.parquet").st_mode)
    assert mode == 0o600


def test_units_ahead_raises_what_its_thread_raised():
    from engine.state import UnitsAhead

    u = UnitsAhead(None, None, None, ["case"], None)
    try:
        u.result()
    except AttributeError:
        pass
    else:
        raise AssertionError("the thread's error was not raised")
