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


def test_arrow_texts_are_repr_on_many_values():
    """The values' texts come from Arrow's cast where it writes ``repr``'s text
    (engine.score._texts): random bit patterns, log-uniform values over the range
    where ``repr`` switches to an exponent on both sides, short decimals, integral
    values and every special value, against ``json.dumps``."""
    import engine.score as es

    rng = np.random.default_rng(18)
    n = 60_000
    x = np.concatenate([
        rng.integers(0, 2 ** 63, n, dtype=np.int64).view(np.float64),
        10 ** rng.uniform(-7, 18, n),
        np.floor(10 ** rng.uniform(-5, 17, n) * 1e3) / 1e3,
        np.floor(10 ** rng.uniform(0, 17, 1000)),
        [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-4, 1e16, 9999999999999998.0, 5e-324],
    ])
    x = np.concatenate([x, -x])
    loci = ["L1", "L2", "L3", "L4"]
    x = x[: len(x) // 4 * 4].reshape(-1, 4)
    use = np.ones(x.shape, dtype=bool)
    use[::7, 2] = False
    assert es._arrow_matches_repr()
    t = es.pc.cast(es.pa.array(x[use]), es.pa.string())
    assert es._arrow_usable(x[use], t).sum() > 100_000     # the most of the values in range
    assert per_locus_json(loci, x, use).to_pylist() == _reference(loci, x, use)


def test_repr_for_every_value_when_arrow_writes_otherwise(monkeypatch):
    """A pyarrow whose float text is not ``repr``'s (the check at first use) gets
    ``repr`` for every value: the same column."""
    import engine.score as es

    monkeypatch.setattr(es, "_ARROW_OK", [False])
    loci = ["A", "B", "C"]
    rng = np.random.default_rng(3)
    pool = np.array([0.5, 2.0, -0.0, 0.0, math.inf, math.nan, 1 / 3, 1e-300, 7.25, 1e16, 1.5e-5])
    vals = rng.choice(pool, (40, 3))
    use = rng.random((40, 3)) < 0.8
    assert per_locus_json(loci, vals, use).to_pylist() == _reference(loci, vals, use)
