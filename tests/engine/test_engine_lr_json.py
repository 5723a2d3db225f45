"""The hits' per-locus column is written by ``engine.score.lr_json``: the same
text as ``json.dumps(d, allow_nan=True)`` for every value a table can hold."""
from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.score import lr_json

_names = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=12)
_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308,
                                     0.1, 1 / 3, 2.5e-17, 1e16, 123456789.0]))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_names, _values, max_size=30))
def test_lr_json_is_json_dumps(d):
    assert lr_json(d) == json.dumps(d, allow_nan=True)
    assert lr_json(d) == json.dumps(d, allow_nan=True)       # again, from the remembered texts


def test_zero_signs_and_specials_after_their_equals_were_seen():
    # 0.0 and -0.0 are one dict key; NaN is never equal to itself
    assert lr_json({"A": 0.0}) == '{"A": 0.0}'
    assert lr_json({"A": -0.0}) == '{"A": -0.0}'
    assert lr_json({"A": math.nan, "B": math.inf, "C": -math.inf}) == '{"A": NaN, "B": Infinity, "C": -Infinity}'
    assert lr_json({}) == "{}"
    assert lr_json({'D"1\\': 2.0}) == json.dumps({'D"1\\': 2.0})
