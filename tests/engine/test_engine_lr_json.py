"""The hits' per-locus column is written by ``engine.score.per_locus_json``: row by
row the same text as ``json.dumps(d, allow_nan=True)`` of ``{locus: LR}`` over the
loci used, for every value a table can hold."""
from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.score import per_locus_json

_names = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=12)
_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308,
                                     0.1, 1 / 3, 2.5e-17, 1e16, 123456789.0]))


def _reference(loci, vals, use) -> list:
    return [json.dumps({loc: float(v) for loc, v, u in zip(loci, row, m) if u}, allow_nan=True)
            for row, m in zip(vals, use)]


@st.composite
def _tables(draw):
    loci = draw(st.lists(_names, min_size=1, max_size=8, unique=True))
    n = draw(st.integers(0, 12))
    vals = np.array([[draw(_values) for _ in loci] for _ in range(n)], dtype=np.float64).reshape(n, len(loci))
    use = np.array([[draw(st.booleans()) for _ in loci] for _ in range(n)], dtype=bool).reshape(n, len(loci))
    return loci, vals, use


@settings(max_examples=300, deadline=None)
@given(_tables())
def test_per_locus_json_is_json_dumps(t):
    loci, vals, use = t
    assert per_locus_json(loci, vals, use).to_pylist() == _reference(loci, vals, use)


def test_zero_signs_specials_and_empty_rows():
    loci = ["A", "B", "C", 'D"1\\', "E, "]
    vals = np.array([[0.0, -0.0, math.nan, 2.0, 1.5],
                     [-0.0, 0.0, math.inf, -math.inf, 3.0],
                     [1.0, 1.0, 1.0, 1.0, 1.0]])
    use = np.array([[True, True, True, True, True],
                    [True, False, True, True, False],
                    [False, False, False, False, False]])
    got = per_locus_json(loci, vals, use).to_pylist()
    assert got[0] == '{"A": 0.0, "B": -0.0, "C": NaN, "D\\"1\\\\": 2.0, "E, ": 1.5}'
    assert got[1] == '{"A": -0.0, "C": Infinity, "D\\"1\\\\": -Infinity}'
    assert got[2] == "{}"
    assert got == _reference(loci, vals, use)
    assert per_locus_json(loci, np.zeros((0, 5)), np.zeros((0, 5), bool)).to_pylist() == []


def test_remembered_texts_when_the_memory_is_full(monkeypatch):
    import engine.score as es

    monkeypatch.setattr(es, "_KNOWN", (np.zeros(0, dtype=np.int64), es.pa.array([], es.pa.string())))
    monkeypatch.setattr(es, "_KNOWN_MAX", 6)
    loci = ["A", "B", "C"]
    rng = np.random.default_rng(3)
    pool = np.array([0.5, 2.0, -0.0, 0.0, math.inf, math.nan, 1 / 3, 1e-300, 7.25, 1e16])
    for _ in range(30):      # values seen before, new ones, and more than it keeps
        vals = rng.choice(pool, (5, 3))
        use = rng.random((5, 3)) < 0.8
        assert per_locus_json(loci, vals, use).to_pylist() == _reference(loci, vals, use)
        assert len(es._KNOWN[0]) <= 6 + 15
