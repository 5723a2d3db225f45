"""Reference blocks' tables gathered from the model's pair tables (``engine.compile``,
``kinship.search.PairRows``, ``kinship.kernels.score.pack_rows``).

A block of reference persons keeps only each person's row of the model's flat pair
tables (``base``, ``ridx``) and its packed screen.  Checked here against the tables
of before, materialised by ``ScoringModel.compile_pairwise``: every value bit for
bit, the packed screen byte for byte (``pack_tables`` on the materialised log10
table), the tile extremes against a NumPy reduction, and the kernel's hits.
"""
from __future__ import annotations

import numpy as np
import pytest

import kinship
from engine.compile import compile_block, table_group
from engine.inputs import RefBlock
from engine.kernels import packed_group, score_tile, scores_numpy
from kinship.kernels.score import flat_tables, pack_tables, query_columns, row_extremes
from kinship.markers import CODIS_CORE_20
from kinship.search import ScoringModel

LOCI = list(CODIS_CORE_20)[:8]


@pytest.fixture(scope="module")
def model():
    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                                male=kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))
    return ScoringModel(kinship.FrequencyTable.load(), LOCI, mut, 0.0)


def _codes(model, n, seed, untyped=0.1):
    rng = np.random.default_rng(seed)
    out = np.empty((n, len(LOCI), 2), np.int16)
    for l, s in enumerate(model.systems):
        out[:, l, :] = rng.integers(0, s.n_alleles, size=(n, 2))
    out[rng.random((n, len(LOCI))) < untyped] = -1
    return out


def _packed_bytes(pk):
    return [np.ascontiguousarray(a).tobytes() for a in (pk.rows, pk.lo, pk.scale, pk.exact, pk.rows8, pk.lo8,
                                                       pk.scale8)]


@pytest.fixture(scope="module")
def plain_model():
    return ScoringModel(kinship.FrequencyTable.load(), LOCI, None, 0.0)


@pytest.mark.parametrize("mode", ["parent-child", "full-sibling", "identity"])
@pytest.mark.parametrize("dropout", ["none", "one", "mixed", "no mutation"])
def test_gathered_block_equals_materialised_tables(model, plain_model, mode, dropout):
    """A block of 150 references of both sexes (and unknown), some loci untyped; with
    one reference dropout for all and a query dropout and drop-in (``one``), with
    two reference dropouts (``mixed``: the block is materialised instead), or a model
    without mutation (one table for both sexes): the group's LR, log10 and
    inconsistency tables are compile_pairwise's, bit for bit; its packed screen is
    pack_tables' of those tables, byte for byte, for identity with and without
    skipping; the kernel finds the same hits with the same values."""
    n = 150
    if dropout == "no mutation":
        model = plain_model
    codes = _codes(model, n, 1)
    sexes = np.array(["M", "F", "", "M", "F"] * 30)
    words = {"M": "male", "F": "female", "": "unknown"}
    drops = {"one": np.full(n, 0.05), "mixed": np.where(np.arange(n) % 3 == 0, 0.05, 0.0)}.get(
        dropout, np.zeros(n))
    kw = dict(query_dropout=0.02, dropin=0.01) if dropout in ("one", "mixed") else {}
    ids = [f"R{i}" for i in range(n)]
    blk = RefBlock("persons", ids, "blk", case_ids=[""] * n, sexes=list(sexes), codes=codes, dropouts=drops)
    bt = compile_block(model, True, mode, blk, query_dropout=kw.get("query_dropout", 0.0),
                       dropin=kw.get("dropin", 0.0))
    (g,) = bt.groups
    assert (g.gathered is None) == (dropout == "mixed")
    if dropout != "mixed":
        # one flat table per relationship and dropout: the sexes' tables where they differ
        assert len(g.gathered.rows.lr) == (2 if mode != "identity" and dropout != "no mutation" else 1) * \
            sum(int(model.offsets[l + 1] - model.offsets[l]) ** 2 if l + 1 < len(LOCI)
                else int(model.size - model.offsets[l]) ** 2 for l in range(len(LOCI)))
    want = model.compile_pairwise(mode, ids, codes, [words[s] for s in sexes], ref_dropout=drops, **kw)
    assert sorted(bt.notes) == sorted(set(want.notes))
    with np.errstate(divide="ignore", invalid="ignore"):
        want_log = np.log10(want.lr)
    assert g.lr.tobytes() == want.lr.tobytes()
    assert g.log_tab.tobytes() == want_log.tobytes()
    assert g.incons.tobytes() == want.inconsistent.astype(np.uint8).tobytes()
    assert (g.typed == want.typed).all()
    for skip in (False, True):
        got = packed_group(g, int(skip))
        ref = pack_tables(want_log, want.inconsistent, want.typed, want.offsets, skip)
        assert _packed_bytes(got) == _packed_bytes(ref)
    qg = model.genotype_indices(_codes(model, 300, 2))
    qg[5] = model.genotype_indices(codes[7:8])[0]          # a query equal to a reference
    skip = 1 if mode == "identity" else 0
    full = scores_numpy(want_log, want.inconsistent, want.typed, want.offsets, qg, skip)
    fin = np.sort(full[np.isfinite(full)])
    thr = float(fin[-min(40, len(fin))])
    q, c, s, nc, ni = score_tile(g, query_columns(qg, g.offsets), np.arange(300), np.arange(300),
                                 np.arange(n), False, thr, skip, np.zeros(1, np.int64))
    assert len(q) > 0
    assert {(int(a), int(b)): float(x) for a, b, x in zip(q, c, s)} == \
        {(i, j): full[i, j] for i, j in zip(*np.nonzero(full >= thr))}
    # the per-locus LRs of the hits, read through each reference's row
    cols = g.offsets[None, :] + np.maximum(qg[q], 0)
    assert g.lr_at(c, cols).tobytes() == want.lr[c[:, None], cols].tobytes()


def test_row_extremes_by_numpy():
    """Each row's lowest value (NaN and, skipping, inconsistent entries as -inf),
    highest value leaving +inf out, and whether it has +inf, against NumPy."""
    rng = np.random.default_rng(4)
    vals = rng.normal(0, 3, 400)
    vals[rng.random(400) < 0.05] = np.nan
    vals[rng.random(400) < 0.05] = -np.inf
    vals[[17, 230]] = np.inf
    inc = (rng.random(400) < 0.2).astype(np.uint8)
    starts = np.array([0, 7, 7, 100, 200, 390])
    lens = np.array([7, 1, 50, 100, 190, 10])
    for skip in (False, True):
        lo, hi, inf = row_extremes(vals, inc, starts, lens, skip)
        for i, (a, n) in enumerate(zip(starts, lens)):
            v = vals[a:a + n].copy()
            v[np.isnan(v) | ((inc[a:a + n] != 0) & skip)] = -np.inf
            assert lo[i] == v.min()
            assert hi[i] == np.where(v == np.inf, 0.0, v).max()
            assert inf[i] == (v == np.inf).any()


def test_flat_tables_address_every_value():
    """``vals[base[c, l] + j]`` is ``log_tab[c, j]`` for every column ``j`` (any locus)."""
    rng = np.random.default_rng(0)
    log_tab = rng.normal(size=(5, 12))
    inc = (rng.random((5, 12)) < 0.5).astype(np.uint8)
    vals, flat_inc, base = flat_tables(log_tab, inc, 3)
    assert base.shape == (5, 3)
    for c in range(5):
        for l in range(3):
            for j in range(12):
                assert vals[base[c, l] + j] == log_tab[c, j]
                assert flat_inc[base[c, l] + j] == inc[c, j]
    g = table_group(log_tab, inc, np.ones((5, 3), np.uint8), [0, 4, 8])
    assert g.log_tab.tobytes() == log_tab.tobytes() and g.width == 12


def test_gathered_block_holds_a_fraction_of_the_bytes(model):
    """The block keeps row indices and the packed screen (about 3 bytes per table
    entry), not the 17 bytes per entry of materialised LR, log10 and flag tables."""
    n = 64
    codes = _codes(model, n, 3)
    blk = RefBlock("persons", [f"R{i}" for i in range(n)], "b", case_ids=[""] * n, sexes=["M"] * n,
                   codes=codes, dropouts=np.zeros(n))
    bt = compile_block(model, True, "parent-child", blk)
    assert bt.nbytes < 4 * n * model.size
    packed_group(bt.groups[0], 0)
    pk = bt.groups[0].packed[False]
    assert pk.rows.nbytes + pk.rows8.nbytes <= 3 * n * model.size + 64 * (len(LOCI) + 8)


def test_kept_bytes_count_the_shared_model_tables_once(model, monkeypatch):
    """The block cache's bytes (``--keep-tables``) are its blocks' own and, once, the
    model's flat tables the gathered blocks point into (they stay alive with them)."""
    import engine.compile as ec
    from collections import OrderedDict

    monkeypatch.setattr(ec, "_CACHE", OrderedDict())
    monkeypatch.setitem(ec._KEEP, "bytes", 1 << 40)
    n = 40
    blk = RefBlock("persons", [f"R{i}" for i in range(n)], "b", case_ids=[""] * n, sexes=["M", "F"] * (n // 2),
                   codes=_codes(model, n, 5), dropouts=np.zeros(n))
    bts = [compile_block(model, True, "parent-child", blk) for _ in range(ec.CACHE_BLOCKS + 2)]
    rows = bts[0].groups[0].gathered.rows
    assert all(bt.groups[0].gathered.rows is rows for bt in bts)
    for i, bt in enumerate(bts):
        ec._CACHE[("k", i)] = bt
    assert ec.kept_tables() == (len(bts), sum(bt.nbytes for bt in bts) + rows.nbytes)
    # between jobs (a worker's release_job_memory) what is kept is trimmed to the
    # bytes, however few blocks that leaves: the least recently used go first
    ec.keep_tables(3 * bts[0].nbytes + rows.nbytes)
    assert ec.kept_tables() == (3, 3 * bts[0].nbytes + rows.nbytes)
    assert list(ec._CACHE) == [("k", i) for i in range(len(bts) - 3, len(bts))]
    ec.keep_tables(0)
    assert ec.kept_tables() == (0, 0)
    # during a job the cache keeps CACHE_BLOCKS blocks whatever their bytes
    for i, bt in enumerate(bts):
        ec._CACHE[("k", i)] = bt
        ec._trim()
    assert ec.kept_tables() == (ec.CACHE_BLOCKS, ec.CACHE_BLOCKS * bts[0].nbytes + rows.nbytes)
    assert list(ec._CACHE) == [("k", i) for i in range(2, len(bts))]


def test_a_new_model_adopts_the_kept_blocks_flat_tables(monkeypatch):
    """A worker drops the job's model after each job but may keep its block tables
    (``--keep-tables``): the next job's model of the same key takes the flat tables
    those blocks point into instead of building a second copy (and equal values)."""
    import engine.compile as ec
    from collections import OrderedDict

    from engine.job import parse_mutation
    from engine.model import ModelSpec

    spec = ModelSpec(kinship.FrequencyTable.load("nist1036_all"), tuple(LOCI),
                     parse_mutation({"female": {"model": "stepwise", "rate": 0.001, "range": 0.1},
                                     "male": {"model": "stepwise", "rate": 0.003, "range": 0.1}}), 0.0, {})
    first = spec.build()
    first._strkin_key = spec.key
    n = 20
    blk = RefBlock("persons", [f"R{i}" for i in range(n)], "b", case_ids=[""] * n, sexes=["M", "F"] * 10,
                   codes=_codes(first, n, 6), dropouts=np.zeros(n))
    bt = compile_block(first, True, "parent-child", blk)
    monkeypatch.setattr(ec, "_CACHE", OrderedDict({(spec.key, "parent-child", "paternal", "b"): bt}))
    second = spec.build()
    second._strkin_key = spec.key
    ec.prefetch_tables(second, True, ["parent-child"], "paternal", None, None, True)
    kept = bt.groups[0].gathered.rows
    assert second.gather_pairwise("parent-child", blk.codes, ["male", "female"] * 10).rows is kept
    assert not second._pair_cache                  # nothing built for it
    other = spec.build()                           # another key: its own
    other._strkin_key = "another"
    ec.prefetch_tables(other, True, ["parent-child"], "paternal", None, None, True)
    mine = other.gather_pairwise("parent-child", blk.codes, ["male", "female"] * 10).rows
    assert mine is not kept and mine.log.tobytes() == kept.log.tobytes()


@pytest.mark.parametrize("drops", ["none", "one", "mixed"])
def test_memory_estimate_counts_a_block_of_persons_as_held(model, drops):
    """The memory estimate's tables of a block of reference persons are at least what
    the block holds (its own bytes, packed screens counted): gathered rows without
    dropout or with one dropout for the block, and materialised tables where the
    persons' dropouts differ (a run with dropout may have such blocks)."""
    from engine.memory import estimate

    n = 128
    d = {"none": np.zeros(n), "one": np.full(n, 0.05), "mixed": np.where(np.arange(n) % 2, 0.05, 0.0)}[drops]
    blk = RefBlock("persons", [f"R{i}" for i in range(n)], "b", case_ids=[""] * n, sexes=["M", "F"] * (n // 2),
                   codes=_codes(model, n, 9), dropouts=d)
    bt = compile_block(model, True, "parent-child", blk)
    assert (bt.groups[0].gathered is None) == (drops == "mixed")
    e = estimate(n_queries=1000, n_refs=n, n_cases=0, n_loci=len(LOCI), n_genotypes=model.size,
                 n_pair_entries=0, modes=["parent-child"], threads=1, block_size=n, query_chunk=1000,
                 in_flight=1, query_shard_rows=1000, ref_shard_rows=n, top_k=10, case_top_k=10,
                 threshold=1e4, dropout=drops != "none")
    assert bt.nbytes <= 1.01 * e["search"]["tables"]


@pytest.mark.parametrize("mode,line", [("parent-child", "paternal"), ("half-sibling", "maternal"),
                                       ("grandparent", "paternal")])
def test_gathered_block_equals_materialised_tables_at_theta(mode, line):
    """θ > 0 and a maternal line: a gathered block of references of both sexes (and
    unknown), some loci untyped, holds compile_pairwise's values bit for bit, and
    its packed screen is pack_tables' of them."""
    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                                male=kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))
    sm = ScoringModel(kinship.FrequencyTable.load(), LOCI[:5], mut, 0.02)
    n = 70
    rng = np.random.default_rng(11)
    codes = np.empty((n, 5, 2), np.int16)
    for l, s in enumerate(sm.systems):
        codes[:, l, :] = rng.integers(0, s.n_alleles, size=(n, 2))
    codes[rng.random((n, 5)) < 0.2] = -1
    sexes = list(rng.choice(["M", "F", ""], n))
    ids = [f"R{i}" for i in range(n)]
    blk = RefBlock("persons", ids, "b", case_ids=[""] * n, sexes=sexes, codes=codes, dropouts=np.zeros(n))
    bt = compile_block(sm, True, mode, blk, line=line)
    (g,) = bt.groups
    assert g.gathered is not None
    want = sm.compile_pairwise(mode, ids, codes, [{"M": "male", "F": "female", "": "unknown"}[s] for s in sexes],
                               line=line)
    assert g.lr.tobytes() == want.lr.tobytes()
    assert g.incons.tobytes() == want.inconsistent.astype(np.uint8).tobytes()
    assert sorted(bt.notes) == sorted(set(want.notes))
    with np.errstate(divide="ignore", invalid="ignore"):
        want_log = np.log10(want.lr)
    assert _packed_bytes(packed_group(g, 0)) == _packed_bytes(pack_tables(want_log, want.inconsistent, want.typed,
                                                                         want.offsets, False))
