"""In-process runs interleave the tasks of several blocks (engine.api.Run.execute):
never more blocks at once than the per-process block cache
(engine.memory.CACHE_BLOCKS) keeps, or a block's tables are evicted between its
query chunks and compiled again for each (with many threads: 16 threads, 4
chunks, about twice the compilations; at θ > 0 in case mode compilation is most
of a run's time)."""
from __future__ import annotations

import threading
import time
import zlib

import formats
import engine
import engine.compile as ec

from enginelib import make_job, simulate


def test_each_block_compiled_once_with_many_threads(tmp_path, monkeypatch):
    profs, _ = simulate(n_cases=10, n_unrelated=40, n_unrelated_references=60, seed=3)
    formats.write_profiles(tmp_path / "ds", profs)
    calls: dict = {}
    lock = threading.Lock()
    real = ec.compile_block

    def counted(model, sex_dependent, mode, block, *a, **kw):
        with lock:
            calls[block.key] = calls.get(block.key, 0) + 1
        # compilation times that differ from block to block (as real blocks' do)
        time.sleep(0.002 * (zlib.crc32(str(block.key).encode()) % 25))
        return real(model, sex_dependent, mode, block, *a, **kw)

    monkeypatch.setattr(ec, "compile_block", counted)
    ec._CACHE.clear()
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"], execution__threads=16,
                   execution__block_size=2, execution__query_chunk=8,
                   report__chance_method="none")   # chance tasks come after every block
    res = engine.run(job)
    assert res.manifest["run"]["tasks"] > 4 * len(calls) > 0
    again = {k: n for k, n in calls.items() if n > 1}
    assert not again, f"{len(again)} of {len(calls)} blocks compiled more than once"


def test_each_block_compiled_once_with_four_query_dropouts(tmp_path, monkeypatch):
    """A chunk whose queries have four dropout values needs four sets of a block's
    tables (one per value, engine.dropout): four cache entries a block."""
    profs, _ = simulate(n_cases=10, n_unrelated=40, n_unrelated_references=60, seed=3)
    formats.write_profiles(tmp_path / "ds", profs)
    q = [p.sample_id for p in profs if p.kind == "query"]
    (tmp_path / "d.csv").write_text("sample_id,dropout\n" + "".join(
        f"{s},{(0.0, 0.1, 0.2, 0.3)[i % 4]}\n" for i, s in enumerate(q)))
    calls = _count_compiles(monkeypatch)
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"], execution__threads=16,
                   execution__block_size=2, execution__query_chunk=8,
                   report__chance_method="none", model__dropout_samples=str(tmp_path / "d.csv"))
    engine.run(job)
    assert len(calls) == 4 * len({k for k, _ in calls})
    again = {k: n for k, n in calls.items() if n > 1}
    assert calls and not again, f"{len(again)} of {len(calls)} block tables compiled more than once"


def _count_compiles(monkeypatch) -> dict:
    calls: dict = {}
    lock = threading.Lock()
    real = ec.compile_block

    def counted(model, sex_dependent, mode, block, line, queries, d, *a):
        with lock:
            calls[(block.key, d)] = calls.get((block.key, d), 0) + 1
        time.sleep(0.002 * (zlib.crc32(str(block.key).encode()) % 25))
        return real(model, sex_dependent, mode, block, line, queries, d, *a)

    monkeypatch.setattr(ec, "compile_block", counted)
    ec._CACHE.clear()
    return calls


def test_kept_blocks_are_not_read_again(tmp_path, monkeypatch):
    """Blocks whose tables the process keeps (``--keep-tables``,
    engine.compile.kept_block) are not read from the reference shards again: the
    second run's blocks carry their tables and no genotypes, and write the bytes
    of the first run (parent-child, case mode, and four query dropout values)."""
    import engine.inputs as ei

    profs, _ = simulate(n_cases=10, n_unrelated=40, n_unrelated_references=60, seed=3)
    formats.write_profiles(tmp_path / "ds", profs)
    q = [p.sample_id for p in profs if p.kind == "query"]
    (tmp_path / "d.csv").write_text("sample_id,dropout\n" + "".join(
        f"{s},{(0.0, 0.1, 0.2, 0.3)[i % 4]}\n" for i, s in enumerate(q)))
    made = []
    real = ei._make_block

    def spy(kind, units, refs, cases, held, tables=None):
        import traceback

        if any(f.name == "task_stream" for f in traceback.extract_stack()):   # the search's blocks
            made.append((kind, held is None, tables is not None))
        return real(kind, units, refs, cases, held, tables)

    monkeypatch.setattr(ei, "_make_block", spy)
    saved = dict(ec._KEEP)
    ec._CACHE.clear()
    ec.keep_tables(1 << 30)
    try:
        for dropout in (None, str(tmp_path / "d.csv")):
            kw = dict(execution__threads=2, execution__block_size=3, execution__query_chunk=8,
                      report__chance_method="none", model__dropout_samples=dropout)
            runs = []
            for i in (1, 2):
                made.clear()
                runs.append(engine.run(make_job(tmp_path / "ds", tmp_path / f"out{i}-{bool(dropout)}",
                                                ["parent-child", "case"], **kw)))
                if i == 1:
                    assert made and not any(none for _, none, _ in made)
                else:    # every block from the kept tables, none read from the shards
                    assert {k for k, _, _ in made} == {"persons", "cases"}
                    assert all(none and has for _, none, has in made)
            a, b = (tmp_path / f"out{i}-{bool(dropout)}" / "hits.parquet" for i in (1, 2))
            assert a.read_bytes() == b.read_bytes() and runs[0].hits.num_rows > 0
            assert runs[1].manifest["run"]["modes"] == runs[0].manifest["run"]["modes"]
    finally:
        ec._CACHE.clear()
        ec._KEEP.update(saved)
