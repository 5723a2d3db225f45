"""The scoring kernel's helpers: query columns, threaded packing, SLP dispatch."""
from __future__ import annotations

import numpy as np
import pytest

from kinship._numba import call_slp
from kinship.kernels.score import flat_tables, pack_tables, query_columns, score_rows


def _reference_columns(qg, offsets):
    return np.where(qg >= 0, qg.astype(np.int64) + offsets[None, :], -1)


@pytest.mark.parametrize("top,dtype", [(300, np.int16), (40000, np.int32)])
def test_query_columns(top, dtype):
    rng = np.random.default_rng(1)
    offsets = np.array([0, 10, 200, 1000])
    qg = rng.integers(-1, top, size=(500, 4)).astype(np.int32)
    col = query_columns(qg, offsets)
    assert col.dtype == dtype
    assert np.array_equal(col, _reference_columns(qg, offsets))
    assert query_columns(np.zeros((0, 4), np.int16), offsets).shape == (0, 4)
    with pytest.raises(ValueError, match="do not match 3 loci"):
        query_columns(qg, offsets[:3])


def test_threaded_packing_equals_serial(monkeypatch):
    rng = np.random.default_rng(2)
    C, L, S = 64 * 32 * 3 + 5, 3, 12        # 193 tiles: packed in 3 threads
    log_tab = rng.normal(0, 2, size=(C, S))
    log_tab[rng.random((C, S)) < 0.05] = -np.inf
    inc = (rng.random((C, S)) < 0.1).astype(np.uint8)
    typed = (rng.random((C, L)) < 0.9).astype(np.uint8)
    offsets = np.array([0, 4, 8])
    monkeypatch.setenv("KINSHIP_NUM_THREADS", "1")
    one = pack_tables(log_tab, inc, typed, offsets, skip=True)
    monkeypatch.setenv("KINSHIP_NUM_THREADS", "3")
    three = pack_tables(log_tab, inc, typed, offsets, skip=True)
    for name in ("rows", "lo", "scale", "exact", "rows8", "lo8", "scale8"):
        assert np.array_equal(getattr(one, name), getattr(three, name)), name


def test_call_slp_dispatches_each_argument_type():
    """The cheap dispatch key tells int16 from int32 query columns (and so types
    and compiles each once); both give the same hits."""
    rng = np.random.default_rng(3)
    C, L = 40, 3
    offsets = np.array([0, 6, 12])
    log_tab = rng.normal(0, 1, size=(C, 18))
    inc = np.zeros((C, 18), np.uint8)
    typed = np.ones((C, L), np.uint8)
    pk = pack_tables(log_tab, inc, typed, offsets, skip=False)
    qg = rng.integers(0, 6, size=(25, L))
    results = []
    for dt in (np.int16, np.int32, np.int16):
        qcol = query_columns(qg, offsets).astype(dt)
        out = [np.empty(2000, np.int64), np.empty(2000, np.int64), np.empty(2000), np.empty(2000, np.int32),
               np.empty(2000, np.int32)]
        n = call_slp(score_rows, pk.rows, pk.lo, pk.exact, pk.thresholds(-1.0), pk.rows8,
                     pk.thresholds8(-1.0), pk.use8, *flat_tables(log_tab, inc, L), typed,
                     qcol, np.arange(25), np.arange(C), False, -1.0, 0, False, *out,
                     np.zeros(2, np.int64))
        results.append(sorted(zip(out[0][:n].tolist(), out[1][:n].tolist(), out[2][:n].tolist())))
    full = log_tab[:, offsets + qg].sum(-1)   # [C, Q]: loci summed in order
    want = sorted((q, c, float(full[c, q])) for c in range(C) for q in range(25) if full[c, q] >= -1.0)
    assert results[0] == results[1] == results[2]
    assert [(q, c) for q, c, _ in results[0]] == [(q, c) for q, c, _ in want]
    assert np.allclose([s for *_, s in results[0]], [s for *_, s in want], rtol=0, atol=1e-12)


def test_genotype_indices_by_hand():
    """{a, b} with a <= b has index b (b + 1) / 2 + a: 0/0 -> 0, 0/1 -> 1, 1/1 -> 2,
    0/2 -> 3, 2/1 -> 4; an untyped allele gives -1; int32 once an index passes 32767."""
    from kinship.tables import genotype_indices

    codes = np.array([[[0, 0], [1, 0], [1, 1]], [[0, 2], [2, 1], [-1, 3]]], dtype=np.int16)
    g = genotype_indices(codes)
    assert g.dtype == np.int16 and g.tolist() == [[0, 1, 2], [3, 4, -1]]
    big = genotype_indices(np.array([[[255, 255], [256, 0]]], dtype=np.int16))
    assert big.dtype == np.int32 and big.tolist() == [[255 * 256 // 2 + 255, 256 * 257 // 2]]
    assert genotype_indices(np.zeros((0, 4, 2), np.int16)).shape == (0, 4)
