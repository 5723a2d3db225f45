"""The memory budget (``[execution] memory``, :mod:`engine.memory`, issue 18 item 3):
sizes parsed, the estimate's parts, settings chosen to fit a tight budget
without changing a byte of the results, and a budget too small refused up
front in one line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import engine
import formats
from engine.errors import InputError, JobError
from engine.inputs import count_kind, load_queries
from engine.memory import (BASE, MIN_BLOCK_SIZE, MIN_QUERY_CHUNK, estimate, parse_size, plan,
                           query_bytes)

from enginelib import make_job, simulate

ROOT = Path(__file__).resolve().parents[2]
MODES = ["case", "parent-child", "identity"]
FILES = ("hits.parquet", "summary.txt")


def test_parse_size():
    assert parse_size("8GiB") == 8 * 2**30
    assert parse_size("512 MiB") == 512 * 2**20
    assert parse_size("16GB") == 16 * 10**9
    assert parse_size("1.5g") == 1_500_000_000
    assert parse_size(4096) == 4096
    for bad in ("", "8 parsecs", "-1GiB", "0", 0, -5, True, "GiB", float("nan")):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_job_validates_memory(tmp_path):
    from engine.job import Job

    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"], execution__memory="8 bananas")
    with pytest.raises(JobError, match="execution.memory must be"):
        Job.from_dict(job)
    Job.from_dict(make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"],
                           execution__memory="8GiB"))


SIZES = dict(n_queries=10_000_000, n_refs=100_000, n_cases=0, n_loci=23, n_genotypes=4279,
             n_pair_entries=2_676_343, modes=["parent-child"], query_shard_rows=1_000_000, ref_shard_rows=100_000,
             top_k=10, case_top_k=10, threshold=1e4)


def test_estimate_parts_by_hand():
    # 1e7 queries x 1e5 references, 23 loci, parent-child, 2 threads, default settings
    e = estimate(threads=2, block_size=256, query_chunk=65536, in_flight=4, **SIZES)
    L = 23
    # held per query: codes 4L + indices 4L + one table layout's columns 2L + 128
    assert query_bytes(L) == 10 * L + 128 == 358
    # ids, fingerprints, rank... for the whole run; codes, indices and columns
    # (10 L) through load and search only
    assert e["held"]["queries"] == 10_000_000 * 128
    assert e["search"]["query_genotypes"] == e["load"]["query_genotypes"] == 10_000_000 * 230
    # tables: (4 in flight + 8 cached) blocks of 256 reference persons, each its packed
    # screens (3 bytes x 4279 genotypes) and its rows (19 bytes x 23 loci) ...
    assert e["search"]["tables"] == 12 * 256 * (3 * 4279 + 19 * 23)
    # ... of the model's flat pair tables, one per reference sex (the default: both
    # sexes, a sex-dependent mutation model): 17 bytes an entry, 50 a row (start,
    # length, extremes for two packings)
    assert e["held"]["model_rows"] == 2 * (17 * 2_676_343 + 50 * 4279)
    # one sex (no sex-dependent mutation, or references all men): one table; each
    # query dropout value and reference dropout value its own tables
    assert estimate(threads=2, block_size=256, query_chunk=65536, in_flight=4,
                    **dict(SIZES, table_sexes=1))["held"]["model_rows"] == 17 * 2_676_343 + 50 * 4279
    assert estimate(threads=2, block_size=256, query_chunk=65536, in_flight=4,
                    **dict(SIZES, query_dropouts=3, ref_dropouts=2))["held"]["model_rows"] == \
        2 * 3 * 2 * (17 * 2_676_343 + 50 * 4279)
    # a worker's kept tables (--keep-tables) are held through the run
    assert e["held"]["kept_tables"] == 0
    assert estimate(threads=2, block_size=256, query_chunk=65536, in_flight=4,
                    **dict(SIZES, kept_tables=2**30))["total"] == e["total"] + 2**30
    # case units' tables are their own: 20 bytes x 4279 genotypes
    ec = estimate(threads=2, block_size=256, query_chunk=65536, in_flight=4,
                  **dict(SIZES, n_cases=100_000, modes=["case"]))
    assert ec["search"]["tables"] == 12 * 256 * 20 * 4279 and ec["held"]["model_rows"] == 0
    # hits: 1e12 pairs x 1e-6 at threshold 1e4, 600 bytes each
    assert e["expected_hit_rows"] == 1_000_000
    assert e["search"]["hits"] == 600_000_000
    assert e["total"] == sum(e["held"].values()) + max(
        sum(e[p].values()) for p in ("load", "search", "write"))
    # the national run fits 8 GiB by the estimate
    assert e["total"] < 8 * 2**30
    # queries dominate: ten times the queries do not fit
    e10 = estimate(threads=2, block_size=256, query_chunk=65536, in_flight=4,
                   **dict(SIZES, n_queries=100_000_000))
    assert e10["total"] > 30 * 2**30


def test_plan_halves_settings_then_refuses():
    ex = {"threads": 2, "block_size": 256, "query_chunk": 65536}
    # 1e5 queries against 1e5 cases: the search phase (tables, chunks) is the largest
    # transient part (reference persons' tables are too small for that: rows of the
    # model's tables and the packed screens)
    sizes = dict(SIZES, n_queries=100_000, query_shard_rows=100_000, n_cases=100_000, modes=["case"])
    big = plan("1TiB", sizes, ex)
    assert not big["changed"] and big["chosen"]["in_flight"] == 4
    smallest = estimate(threads=2, block_size=MIN_BLOCK_SIZE, query_chunk=MIN_QUERY_CHUNK,
                        in_flight=2, **sizes)["total"]
    p = plan(smallest, sizes, ex)
    assert p["chosen"] == {"query_chunk": MIN_QUERY_CHUNK, "block_size": MIN_BLOCK_SIZE,
                           "in_flight": 2}
    assert p["estimate"]["total"] <= smallest
    with pytest.raises(InputError) as e:
        plan(smallest - 1, sizes, ex)
    msg = str(e.value)
    assert "\n" not in msg and "needs about" in msg and "is given" in msg and "Fix:" in msg
    assert "queries" in msg


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("mem")
    # more reference units than the smallest block size (32) several times over, so that
    # smaller blocks change the estimate of the tables held
    profs, _ = simulate(n_cases=60, n_unrelated=40, n_unrelated_references=120, seed=5)
    formats.write_profiles(d / "ds", profs, shard_size=60)      # several shards
    return d / "ds"


def test_queries_read_shard_by_shard_are_the_whole_load(dataset):
    from engine.model import ModelSpec, Recoder, get_model
    import kinship

    ds = formats.open_dataset(dataset)
    assert len(ds.shards) > 2
    n, most = count_kind(ds, "query")
    arr = ds.load(kind="query")
    assert n == len(arr) and 0 < most < n
    ft = kinship.FrequencyTable.load("nist1036_all")
    loci = tuple(ds.loci)
    spec = ModelSpec(ft, loci, None, 0.0, {l: list(ds.alleles[l]) for l in loci})
    model = get_model(spec)
    rec = Recoder(ds, loci, model.systems)
    q = load_queries(ds, rec)
    codes = rec.codes(arr)
    assert np.array_equal(q.codes, codes)
    assert np.array_equal(q.gidx, model.genotype_indices(codes))
    assert list(q.ids) == list(arr.sample_id)
    assert q.fp is q.gfp and len(set(q.fp.tolist())) == n


def test_tight_budget_same_bytes(dataset, tmp_path):
    kw = dict(search__top_k=3, search__threshold=10.0, search__max_inconsistent=1)
    free = engine.run(make_job(dataset, tmp_path / "free", MODES, **kw))
    mem = free.manifest["run"]["memory"]
    assert mem["setting"] == "auto" and not mem["changed"]
    assert mem["estimate_bytes"] >= BASE and mem["budget_bytes"] > mem["estimate_bytes"]
    sizes = dict(mem["sizes"])
    smallest = estimate(block_size=MIN_BLOCK_SIZE, query_chunk=MIN_QUERY_CHUNK,
                        in_flight=sizes["threads"], **sizes)["total"]
    # between the smallest settings' estimate and the defaults': the plan must shrink them
    budget = (smallest + mem["estimate_bytes"]) // 2
    tight = engine.run(make_job(dataset, tmp_path / "tight", MODES, execution__memory=budget, **kw))
    tm = tight.manifest["run"]["memory"]
    assert tm["changed"] and tm["estimate_bytes"] <= budget == tm["budget_bytes"]
    assert tm["chosen"]["block_size"] < 256 or tm["chosen"]["query_chunk"] < 65536
    assert free.hits.num_rows > 10
    for name in FILES:
        assert (tmp_path / "tight" / name).read_bytes() == (tmp_path / "free" / name).read_bytes()
    # too small: refused before anything is written
    with pytest.raises(InputError, match="needs about"):
        engine.run(make_job(dataset, tmp_path / "small", MODES, execution__memory=smallest - 1, **kw))
    assert not (tmp_path / "small" / "hits.parquet").exists()


def test_cli_refuses_in_one_line(dataset, tmp_path):
    from engine.demo import _write_job_toml

    job = make_job(dataset, tmp_path / "out", ["parent-child"], execution__memory="100MiB")
    _write_job_toml(tmp_path / "job.toml", job)
    r = subprocess.run([sys.executable, "-m", "engine.cli", "search", str(tmp_path / "job.toml")],
                       capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert r.returncode != 0
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert "needs about" in lines[0] and "100 MiB is given" in lines[0] and "Fix:" in lines[0]
    assert "Traceback" not in r.stderr


def test_auto_budget_too_small_runs_with_a_note(dataset, tmp_path, monkeypatch):
    """Under ``memory = "auto"`` (no budget stated) a run whose estimate exceeds three
    quarters of the machine is not refused (a small container, where the estimate's
    fixed part alone can exceed it, still runs its small jobs): it keeps the smallest
    settings, says so in the summary and the manifest, and its hits are those of a run
    with room to spare. A stated budget is still refused (test above)."""
    import engine.memory as M

    kw = dict(search__top_k=3, search__threshold=10.0, search__max_inconsistent=1)
    free = engine.run(make_job(dataset, tmp_path / "free", MODES, **kw))
    monkeypatch.setattr(M, "default_budget", lambda: 64 * 2**20)
    small = engine.run(make_job(dataset, tmp_path / "small", MODES, **kw))
    mem = small.manifest["run"]["memory"]
    assert mem["setting"] == "auto" and mem["over_budget"] and mem["budget_bytes"] == 64 * 2**20
    assert mem["chosen"]["block_size"] == MIN_BLOCK_SIZE
    assert mem["chosen"]["query_chunk"] == MIN_QUERY_CHUNK
    assert "more than 64 MiB (auto: three quarters" in small.summary
    assert not free.manifest["run"]["memory"]["over_budget"]
    assert (tmp_path / "small" / "hits.parquet").read_bytes() == \
        (tmp_path / "free" / "hits.parquet").read_bytes()
