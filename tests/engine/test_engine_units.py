"""Building blocks: top-k selection, the merge's total order, re-coding by label,
the single-relative shortcut, the posterior."""
from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import formats
import kinship
from engine.compile import SINGLE_RELATIONS, compile_block
from engine.inputs import RefBlock
from engine.merge import merge_hits, posterior
from engine.model import Recoder, genotype_indices
from engine.taskbase import HIT_SCHEMA, topk_mask
from kinship.search import ScoringModel

from enginelib import make_job, simulate



def _naive_topk(group, score, tie, k):
    keep = np.zeros(len(group), dtype=bool)
    for g in set(group.tolist()):
        idx = [i for i in range(len(group)) if group[i] == g]
        idx.sort(key=lambda i: (-score[i], tie[i]))
        keep[idx[:k]] = True
    return keep


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from([0.0, 1.5, 2.0, 7.25])), max_size=40),
       st.integers(1, 4))
def test_topk_mask_equals_sorting(rows, k):
    group = np.array([r[0] for r in rows], dtype=np.int64)
    score = np.array([r[1] for r in rows])
    tie = np.arange(len(rows))[::-1].copy()   # unique per row: a total order
    assert (topk_mask(group, score, tie, k) == _naive_topk(group, score, tie, k)).all()


def _rows(n, seed):
    rng = random.Random(seed)
    out = {k: [] for k in HIT_SCHEMA.names}
    seen = set()
    while len(out["mode"]) < n:
        mode = rng.choice(["case", "parent-child"])
        q, r = f"Q{rng.randrange(6)}", f"R{rng.randrange(6)}"
        if (mode, q, r) in seen:
            continue
        seen.add((mode, q, r))
        out["mode"].append(mode)
        out["query_id"].append(q)
        out["case_id"].append(r if mode == "case" else "C" + r)
        out["reference_id"].append("" if mode == "case" else r)
        out["relatives"].append("")
        out["log10_lr"].append(rng.choice([4.0, 5.5, 6.0]))   # many ties
        out["loci_compared"].append(10)
        out["loci_inconsistent"].append(0)
        out["per_locus_lr"].append("{}")
    return pa.Table.from_pydict(out, schema=HIT_SCHEMA)


def test_merge_is_independent_of_task_order_and_splitting():
    t = _rows(50, 1)
    ref = merge_hits([t], 2, 3, 0.5)
    for seed in range(5):
        perm = np.random.default_rng(seed).permutation(t.num_rows)
        parts = np.array_split(perm, 4)
        tables = [t.take(pa.array(p)) for p in parts]
        # a pair reported by two tasks (overlap) is kept once
        tables.append(t.take(pa.array(parts[0][:3])))
        assert merge_hits(tables, 2, 3, 0.5).equals(ref)
    # ranks follow the documented order
    rows = ref.to_pylist()
    for r in rows:
        assert r["rank"] is not None or r["case_rank"] is not None
    q0 = [r for r in rows if r["mode"] == "case" and r["query_id"] == "Q0" and r["rank"]]
    assert [r["rank"] for r in q0] == list(range(1, len(q0) + 1))
    key = [(-r["log10_lr"], r["case_id"]) for r in q0]
    assert key == sorted(key)


def test_truncating_per_task_keeps_the_global_top_k():
    """The per-task top-k (by query and by reference unit) loses nothing."""
    t = _rows(60, 2)
    full = merge_hits([t], 2, 2, 0.5)
    perm = np.random.default_rng(9).permutation(t.num_rows)
    tasks = []
    for p in np.array_split(perm, 5):
        part = t.take(pa.array(p))
        tasks.append(merge_hits([part], 2, 2, 0.5))   # what a task keeps
    assert merge_hits(tasks, 2, 2, 0.5).equals(full)


def test_posterior_matches_kinship():
    for x in (-3.0, 0.0, 4.0, 12.5, 400.0):
        for prior in (0.5, 0.01, 1e-6):
            want = kinship.posterior(10.0 ** x if x < 300 else float("inf"), prior)
            assert posterior(np.array([x]), prior)[0] == pytest.approx(want, rel=1e-12)


def test_recoder_equals_to_table_indices(tmp_path, nist):
    profs, _ = simulate(n_cases=4, n_unrelated=4, seed=71)
    profs.append(formats.Profile("odd", {"TPOX": ("8", "30"), "TH01": ("9.3", "13.3")}, "query"))
    formats.write_profiles(tmp_path / "ds", profs)
    ds = formats.open_dataset(tmp_path / "ds")
    arr = ds.load()
    codes, systems = arr.to_table_indices(nist)
    m = ScoringModel(nist, ds.loci, extra_alleles=ds.alleles)
    assert [s.alleles for s in systems] == [s.alleles for s in m.systems]
    assert (Recoder(ds, ds.loci, m.systems).codes(arr) == codes).all()
    assert (genotype_indices(codes) == m.genotype_indices(codes)).all()


@pytest.mark.parametrize("relation", SINGLE_RELATIONS)
def test_single_relative_table_equals_the_pedigree_table(relation, nist):
    """The case pedigree's pair table, row of the relative's genotype, equals the
    pedigree table the core compiles for that one case (sex-specific stepwise
    mutation and theta), at every genotype of the candidate."""
    loci = ("TPOX", "TH01", "D5S818")
    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                                male=kinship.Stepwise(rate=0.004, rate2=1e-6, range=0.1))
    m = ScoringModel(nist, loci, mutation=mut, theta=0.02)
    rng = np.random.default_rng(len(relation))
    codes = np.stack([rng.integers(0, s.n_alleles, size=2) for s in m.systems])[None].astype(np.int16)
    codes[0, 1] = -1  # untyped at TH01
    for ms in (("male", "female") if relation == "child" else ("unknown",)):
        case = {"id": "c", "relatives": [("r", relation, "unknown", codes[0])],
                "needs_sex": relation == "child"}
        grp = compile_block(m, True, "case", RefBlock("cases", ["c"], "k", cases=[case])).groups
        grp = grp[0] if ms == "unknown" else next(g for g in grp if g.sex == ms[0].upper())
        slow = m.compile_cases([{"id": "c", "missing_sex": ms, "relatives": case["relatives"]}])
        np.testing.assert_allclose(grp.lr, slow.lr, rtol=1e-10, atol=0)
        assert (grp.incons == slow.inconsistent).all()
        assert (grp.typed.astype(bool) == slow.typed).all()


def test_queries_and_references_in_two_datasets(tmp_path):
    """Two datasets have two allele dictionaries (in another order); the engine
    re-codes both by allele label into one allele system: same hits as one dataset."""
    from enginelib import make_job

    import engine

    profs, _ = simulate(n_cases=6, n_unrelated=6, n_unrelated_references=2, seed=81)
    formats.write_profiles(tmp_path / "one", profs)
    refs = [p for p in profs if p.kind == "reference"]
    qs = [p for p in profs if p.kind == "query"]
    formats.write_profiles(tmp_path / "q", qs[::-1])
    formats.write_profiles(tmp_path / "r", refs[::-1])
    assert formats.open_dataset(tmp_path / "q").alleles != formats.open_dataset(tmp_path / "r").alleles
    modes = ["case", "parent-child", "duplicates"]
    a = engine.run(make_job(tmp_path / "one", tmp_path / "out1", modes)).hits
    job = make_job(tmp_path / "q", tmp_path / "out2", modes)
    job["inputs"]["references"] = str(tmp_path / "r")
    b = engine.run(job).hits
    assert a.num_rows > 0 and a.equals(b)


def test_profile_fingerprints():
    """Any change of a profile's codes or sex changes its fingerprint; the values
    are pinned, since run states keep them between versions (change the function
    only together with engine.inputs.FINGERPRINT_VERSION)."""
    from engine.inputs import FINGERPRINT_VERSION, fingerprints, set_fingerprint

    rng = np.random.default_rng(5)
    codes = rng.integers(-1, 30, size=(200, 23, 2)).astype(np.int16)
    sex = np.array(["M", "F", ""] * 66 + ["M", "F"], dtype=object)
    fp = fingerprints(codes, sex)
    assert fp.dtype == np.dtype("S16") and len(set(fp.tolist())) == 200
    for i in range(200):
        c2 = codes.copy()
        c2[i, rng.integers(23), rng.integers(2)] += 1
        s2 = sex.copy()
        s2[(i + 1) % 200] = "F" if sex[(i + 1) % 200] != "F" else "M"
        f2, f3 = fingerprints(c2, sex), fingerprints(codes, s2)
        assert (f2 != fp).sum() == 1 and f2[i] != fp[i]
        assert (f3 != fp).sum() == 1 and f3[(i + 1) % 200] != fp[(i + 1) % 200]
    assert fingerprints(codes[:0], sex[:0]).shape == (0,)
    c = np.arange(12, dtype=np.int16).reshape(2, 3, 2) - 1
    assert FINGERPRINT_VERSION == 2
    assert fingerprints(c, np.array(["M", ""], dtype=object)).tolist() == PINNED
    # a set's fingerprint does not depend on the order of its units
    ids = np.array([f"q{i}" for i in range(200)], dtype=object)
    p = rng.permutation(200)
    assert set_fingerprint(ids, fp) == set_fingerprint(ids[p], fp[p])
    assert set_fingerprint(ids, fp) != set_fingerprint(ids[:-1], fp[:-1])


PINNED = [b"-0'?\xc7]\t^\x9b]\xdf\xa5\x9cL\xdd\xfa",
          b"\x17&L[\xa9J_\x0b\xf2\x89\xae\x11\xf3\x19\xbc\xae"]


@pytest.mark.parametrize("mutation", [
    {"model": "stepwise", "rate": 0.0021, "rate2": 1e-6, "range": 0.1},
    {"female": {"model": "stepwise", "rate": 0.0007, "range": 0.1},
     "male": {"model": "stepwise", "rate": 0.0023, "range": 0.1}},
])
def test_prefetched_tables_are_the_ones_the_blocks_use(tmp_path, monkeypatch, mutation):
    """engine.run builds the model's pair and single-relative tables while the
    queries load (engine.compile.prefetch_tables); the blocks then build none of
    their own: the prefetch predicts exactly what compilation needs."""
    import engine
    import engine.api as api
    import engine.compile as ec

    seen = {}

    def sync(model, *args):                 # run it in the foreground and note its tables
        ec.prefetch_tables(model, *args)
        seen["model"] = model
        seen["pair"] = set(model._pair_cache)
        seen["single"] = set(model._single_cache)
        seen["rows"] = set(model._rows_cache)

    monkeypatch.setattr(api, "prefetch_in_background", sync)
    alternatives = api.add_alternatives

    def at_merge(*args, **kw):              # the tables once the search is done (the
        m = seen["model"]                   # alternatives of the hits build more after it)
        seen["searched"] = (set(m._pair_cache), set(m._single_cache), set(m._rows_cache))
        return alternatives(*args, **kw)

    monkeypatch.setattr(api, "add_alternatives", at_merge)
    profs, _ = simulate(n_cases=14, n_unrelated=4, seed=61)
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    modes = ["case", "parent-child", "half-sibling", "duplicates"]
    engine.run(make_job(ds, tmp_path / "out", modes, model__mutation=mutation))
    assert seen["pair"] and seen["single"] and seen["rows"]
    # the flat tables the reference persons' blocks are gathered from too
    assert seen["searched"] == (seen["pair"], seen["single"], seen["rows"])


def test_units_table_fingerprints_are_bytes_of_each_value():
    """``units.parquet`` holds ``bytes(x)`` of each S16 fingerprint (trailing NUL
    bytes dropped: the value the incremental plan compares with); rows with 0 to 16
    trailing NULs, and a NUL inside a value, which stays."""
    from engine.inputs import units_table
    from engine.state import units_parquet

    rng = np.random.default_rng(5)
    raw = rng.integers(1, 256, size=(40, 16), dtype=np.uint8)
    for i in range(17):                 # row i: its last i bytes NUL
        raw[i, 16 - i:] = 0
    raw[20, 3] = 0                      # a NUL inside: kept
    raw[21, 14] = 0                     # ... and before a trailing one
    raw[21, 15] = 0
    fps = raw.view("S16").reshape(-1)
    ids = np.array([f"Q{i}" for i in range(40)], dtype=object)
    want = [bytes(x) for x in fps]
    assert [len(w) for w in want[:17]] == list(range(16, -1, -1))
    t = units_table("query", ids, fps)
    assert t.column("fp").to_pylist() == want
    assert t.column("id").to_pylist() == ids.tolist()
    no_short = raw[22:].view("S16").reshape(-1)          # no value ends in NUL
    assert units_table("query", ids[22:], no_short).column("fp").to_pylist() == \
        [bytes(x) for x in no_short]

    class Q:    # what units_parquet reads of a query set
        id_array = pa.array(ids.tolist(), pa.string())
        fp = fps
    import pyarrow.parquet as pq

    back = pq.read_table(pa.BufferReader(units_parquet(Q, None, None, [])))
    assert back.column("fp").to_pylist() == want
    assert back.column("kind").to_pylist() == ["query"] * 40


def test_query_chunks_fingerprinted_in_threads_equal_one_by_one():
    """The plan's query chunks fingerprinted side by side (engine.api._query_chunks
    with threads) are the chunks, in order, that one thread makes; Arrow ids and
    Python ids give the same fingerprints."""
    from engine.api import _query_chunks

    rng = np.random.default_rng(4)
    n = 1000
    ids = np.array([f"Q{rng.integers(10**9)}-{i}" for i in range(n)], dtype=object)
    fps = rng.integers(0, 256, size=(n, 16), dtype=np.uint8).view("S16").reshape(-1)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(ids.astype(str), kind="stable")] = np.arange(n)
    for rows in (np.arange(n), np.sort(rng.choice(n, 377, replace=False))):
        one = _query_chunks(ids, fps, rows, 64, rank)
        assert len(one) == -(-len(rows) // 64)
        for got in (_query_chunks(ids, fps, rows, 64, rank, threads=3),
                    _query_chunks(pa.array(ids.tolist(), pa.string()), fps, rows, 64, rank, threads=2)):
            assert [f for _, f in got] == [f for _, f in one]
            assert all((a == b).all() for (a, _), (b, _) in zip(got, one))
