"""The loci each query typed, counted once at load (``QuerySet.n_typed``,
``engine.inputs.typed_counts``), and the loci each kit typed
(``_add_kit_loci``): equal to the plain NumPy formulas they replace."""
from __future__ import annotations

import numpy as np

from engine.inputs import QuerySet, _add_kit_loci, typed_counts


def _codes(rng, n, L):
    codes = rng.integers(0, 9, size=(n, L, 2)).astype(np.int16)
    untyped = rng.random((n, L)) < 0.3
    codes[untyped] = -1
    return codes


def test_typed_counts_equal_the_numpy_count():
    rng = np.random.default_rng(3)
    for n, L in ((0, 5), (1, 1), (7, 23), (500, 30)):
        codes = _codes(rng, n, L)
        want = (codes[:, :, 0] >= 0).sum(axis=1)
        got = typed_counts(codes)
        assert got.dtype == np.int32 and got.tolist() == want.tolist()
        # a strided view counts the same
        assert typed_counts(codes[::2]).tolist() == want[::2].tolist()


def test_queryset_counts_its_queries_typed_loci():
    rng = np.random.default_rng(4)
    codes = _codes(rng, 50, 12)
    q = QuerySet(np.array([f"q{i}" for i in range(50)], dtype=object), np.array(["M"] * 50, dtype=object),
                 np.array([""] * 50, dtype=object), codes, np.zeros((50, 12), np.int16),
                 np.zeros(50, dtype="S16"))
    assert q.n_typed.tolist() == (codes[:, :, 0] >= 0).sum(axis=1).tolist()


def _kit_loci_numpy(kits, codes):
    out = {}
    typed = codes[:, :, 0] >= 0
    text = np.asarray(kits, dtype=object).astype(str)
    for k in sorted(set(text.tolist()) - {""}):
        out[k] = typed[text == k].any(axis=0)
    return out


def test_kit_loci_equal_the_numpy_formula():
    rng = np.random.default_rng(5)
    for kits in (["GlobalFiler"] * 40, ["A", "B", "", "A", "C"] * 8, [""] * 40, ["A", "B"] * 20):
        codes = _codes(rng, 40, 9)
        codes[np.asarray(kits) == "C", 4] = -1          # a kit that never typed locus 4
        got: dict = {}
        _add_kit_loci(got, np.asarray(kits, dtype=object), codes)
        want = _kit_loci_numpy(kits, codes)
        assert sorted(got) == sorted(want)
        for k in want:
            assert got[k].dtype == bool and got[k].tolist() == want[k].tolist()
        if "C" in want:
            assert not got["C"][4]
        # a second call (the next shard) ORs into what is there
        more = _codes(rng, 40, 9)
        _add_kit_loci(got, np.asarray(kits, dtype=object), more)
        for k, m in _kit_loci_numpy(kits, more).items():
            assert got[k].tolist() == (want[k] | m).tolist()
