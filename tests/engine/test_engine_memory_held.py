"""What a run really holds against what its memory plan counts (issue 18 item 3).

The memory estimate (:mod:`engine.memory`, ``run.memory`` in the manifest) counts
the model's flat pair tables that reference persons' blocks point into
(``model_rows``) and a worker's kept tables (``kept_tables``). Each test below
compares that count with the bytes of the distinct NumPy buffers that are really
held after a run (:func:`held_bytes`, views counted once, by their base array):
the model's per-locus pair tables are views of its flat tables, not a second copy;
no table is built for a sex no reference has; each query dropout value's tables
are counted; and a worker keeps no more than ``--keep-tables`` of another model's
tables between jobs, which the next job's plan counts.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import engine
import engine.compile as ec
import engine.model as em
import formats
from engine.memory import pair_table_bytes
from engine.worker import release_job_memory

from enginelib import make_job, simulate

#: female and male stepwise models that differ: the parent-child table depends on
#: the reference's sex (engine.model.sex_dependent)
SEX_MUTATION = {"female": {"model": "stepwise", "rate": 0.001, "rate2": 1e-6, "range": 0.1},
                "male": {"model": "stepwise", "rate": 0.003, "rate2": 1e-6, "range": 0.1}}


def held_bytes(*objs) -> int:
    """Bytes of the distinct arrays reachable from ``objs`` (through dicts, lists,
    tuples and objects' attributes); a view counts as its base array, once."""
    seen, visited = {}, set()

    def walk(o, depth):
        if depth > 8 or id(o) in visited:
            return
        visited.add(id(o))
        if isinstance(o, np.ndarray):
            while isinstance(o.base, np.ndarray):
                o = o.base
            seen[id(o)] = o.nbytes
        elif isinstance(o, dict):
            for v in o.values():
                walk(v, depth + 1)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v, depth + 1)
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            for v in vars(o).values():
                walk(v, depth + 1)

    for o in objs:
        walk(o, 0)
    return sum(seen.values())


def test_held_bytes_counts_a_view_once():
    a = np.zeros(1000)
    assert held_bytes([a, a[10:], a.reshape(10, 100)], {"x": (a[::2],)}) == 8000
    assert held_bytes([a, np.zeros(10, dtype=np.uint8)]) == 8010


def _dataset(path, all_male_refs=False):
    profs, _ = simulate(n_cases=20, n_unrelated=30, n_unrelated_references=40, seed=8)
    if all_male_refs:
        for p in profs:
            if p.kind == "reference":
                p.sex = "M"
    formats.write_profiles(path, profs, shard_size=100)
    return path, profs


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    return _dataset(tmp_path_factory.mktemp("held") / "ds")


@pytest.fixture(scope="module")
def men(tmp_path_factory):
    return _dataset(tmp_path_factory.mktemp("held_m") / "ds", all_male_refs=True)


@pytest.fixture
def fresh(monkeypatch):
    """A process state without other runs' models and blocks."""
    monkeypatch.setattr(em, "_CACHE", {})
    monkeypatch.setattr(ec, "_CACHE", OrderedDict())
    monkeypatch.setitem(ec._KEEP, "bytes", 0)


def _run(ds, out, **kw):
    kw.setdefault("report__relationships", "none")
    r = engine.run(make_job(ds, out, ["parent-child"], model__mutation=SEX_MUTATION, **kw))
    return r, em._CACHE[r.manifest["model_key"]]


def _sizes(model):
    gens = [int(s.n_alleles) * (int(s.n_alleles) + 1) // 2 for s in model.systems]
    return sum(g * g for g in gens), sum(gens)


def test_model_pair_tables_are_held_once_and_counted(mixed, tmp_path, fresh):
    """Item 1: the model's per-locus pair tables are views of the flat tables the
    blocks point into (one copy, not two), so what the model holds is what the plan
    counts: a table of each sex (the references are men and women)."""
    ds, _ = mixed
    r, model = _run(ds, tmp_path / "out")
    counted = r.manifest["run"]["memory"]["estimate_parts"]["model_rows"]
    held = held_bytes(model._pair_cache, model._rows_cache)
    n_pairs, n_gen = _sizes(model)
    assert counted == 2 * pair_table_bytes(n_pairs, n_gen)
    assert 0 < held <= counted <= 1.1 * held
    (rows,) = model._rows_cache.values()
    assert len(model._pair_cache) == 2
    for tabs in model._pair_cache.values():
        for W, I in tabs:
            assert np.shares_memory(W, rows.lr) and np.shares_memory(I, rows.inc)


def test_men_only_build_no_womens_tables(men, mixed, tmp_path, fresh):
    """Item 4: with a sex-dependent mutation model and references who are all men,
    only the men's table is built (and counted); the hits are those of the
    materialised tables (every block's rows are rows of the men's table)."""
    ds, profs = men
    r, model = _run(ds, tmp_path / "out")
    assert list(model._pair_cache) == [("parent-child", "male", "paternal")]
    (rows,) = model._rows_cache.values()
    assert rows.key[2] == (("male", 0.0),)
    n_pairs, n_gen = _sizes(model)
    one = pair_table_bytes(n_pairs, n_gen)
    counted = r.manifest["run"]["memory"]["estimate_parts"]["model_rows"]
    held = held_bytes(model._pair_cache, model._rows_cache)
    assert counted == one and held <= one
    assert r.hits.num_rows > 0
    # the same LRs as the tables compile_pairwise materialises for these men
    refs = [p for p in profs if p.kind == "reference"]
    codes = model.encode([p.genotypes for p in refs])
    g = model.gather_pairwise("parent-child", codes, ["male"] * len(refs), table_sexes=("male",))
    want = model.compile_pairwise("parent-child", [p.sample_id for p in refs], codes,
                                  ["male"] * len(refs))
    assert g.materialise("lr").tobytes() == want.lr.tobytes()
    with pytest.raises(ValueError, match="not among the table sexes"):
        model.gather_pairwise("parent-child", codes[:2], ["male", "female"], table_sexes=("male",))


def test_each_query_dropout_value_tables_counted(mixed, tmp_path, fresh):
    """Item 2: one set of flat tables per distinct query dropout value (and
    reference dropout value): the plan counts as many as the queries can have
    (known before they are read: the values stated per sample, here three, and the
    job's own, 0)."""
    ds, profs = mixed
    queries = [p.sample_id for p in profs if p.kind == "query"]
    f = tmp_path / "d.csv"
    f.write_text("sample_id,dropout\n" + "".join(
        f"{q},{(0.05, 0.1, 0.2)[i % 3]}\n" for i, q in enumerate(queries)))
    r, model = _run(ds, tmp_path / "out", model__dropout_samples=str(f))
    assert len(model._rows_cache) == 3          # one flat table set per query dropout value
    counted = r.manifest["run"]["memory"]["estimate_parts"]["model_rows"]
    held = held_bytes(model._pair_cache, model._rows_cache)
    n_pairs, n_gen = _sizes(model)
    assert counted == 4 * 2 * pair_table_bytes(n_pairs, n_gen)
    assert held <= counted


def test_worker_keeps_at_most_its_budget_and_the_next_job_counts_it(mixed, tmp_path, fresh):
    """Item 3: between jobs a worker keeps no more than ``--keep-tables`` bytes of
    block tables, the model tables they point into counted (however few blocks
    that leaves); the next job, here with another model, counts that budget in
    its plan (``kept_tables``): the first model's tables kept alive by the blocks."""
    ds, _ = mixed
    ec.keep_tables(1 << 40)
    _run(ds, tmp_path / "a")
    blocks, everything = ec.kept_tables()
    assert blocks >= 1 and everything > 0
    keep = everything // 2
    release_job_memory(keep)
    assert ec.kept_tables()[1] <= keep
    r, _ = _run(ds, tmp_path / "b", model__theta=0.01)
    assert r.manifest["run"]["memory"]["estimate_parts"]["kept_tables"] == keep
    assert ec.kept_tables()[1] <= keep + max(everything, 1)
    release_job_memory(keep)
    assert ec.kept_tables()[1] <= keep


def test_a_run_drops_other_models_blocks_when_nothing_is_kept(mixed, tmp_path, fresh):
    """Without ``--keep-tables`` a process's block cache holds no blocks of an
    earlier run's model once a run of another model starts (they would hold that
    model's flat tables, which no plan counts)."""
    ds, _ = mixed
    a, _ = _run(ds, tmp_path / "a")
    first = {k[0] for k in ec._CACHE}
    assert len(first) == 1
    _run(ds, tmp_path / "b", model__theta=0.01)
    assert first.isdisjoint(k[0] for k in ec._CACHE) and ec._CACHE


def test_alternative_relationships_keep_no_tables(mixed, tmp_path, fresh, monkeypatch):
    """The report's alternative relationships (``[report] relationships``) read each
    relationship's pair table once, one at a time, and keep none: after the run
    the model holds the searched relationship's tables only (what the plan counts),
    and the write phase counts the one table alive at a time."""
    ds, _ = mixed
    r, model = _run(ds, tmp_path / "out", report__relationships="ranked")
    alt = [x for x in r.hits.column("relationship_lrs").to_pylist() if x]
    assert alt and all("full-sibling" in x and "first-cousin" in x for x in alt)
    assert sorted(model._pair_cache) == [("parent-child", "female", "paternal"),
                                         ("parent-child", "male", "paternal")]
    parts = r.manifest["run"]["memory"]["estimate_parts"]
    n_pairs, _ = _sizes(model)
    assert parts["relationship_tables"] == 9 * n_pairs
    assert held_bytes(model._pair_cache, model._rows_cache) <= parts["model_rows"]
    # the same bytes as with every relationship's tables kept by the model
    from engine.alternatives import PAIR_ALTERNATIVES
    from kinship.search import ScoringModel

    build = ScoringModel.pair_tables
    monkeypatch.setattr(ScoringModel, "pair_tables",
                        lambda self, *a, keep=True, **k: build(self, *a, keep=True, **k))
    again, kept = _run(ds, tmp_path / "again", report__relationships="ranked")
    assert len(kept._pair_cache) == 2 * (len(PAIR_ALTERNATIVES) - 1)
    assert (tmp_path / "out" / "hits.parquet").read_bytes() == \
        (tmp_path / "again" / "hits.parquet").read_bytes()
