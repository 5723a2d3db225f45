"""The merge ranks ids through Arrow (``engine.merge._codes``, ``ref_keys``): the
same codes and unit keys as the plain NumPy definitions they replaced."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.merge import _codes, ref_keys

# ids as the inputs allow them (no control characters), with shared prefixes and non-ASCII
_ids = st.text(alphabet=st.sampled_from(list("ab/Z_é中0") + ["\U0001F600"]), max_size=4)


def _numpy_codes(*cols) -> np.ndarray:
    key = np.array(["\x00".join(t) for t in zip(*cols)], dtype=object) if len(cols) > 1 \
        else np.asarray(cols[0], dtype=object)
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(key.astype(str), return_inverse=True)[1].reshape(-1)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: st.lists(st.tuples(*[_ids] * k), max_size=40)))
def test_codes_are_the_sorted_order_of_the_tuples(rows):
    k = len(rows[0]) if rows else 1
    cols = [[r[i] for r in rows] for i in range(k)]
    got = _codes(*[pa.array(c, pa.string()) for c in cols])
    assert got.tolist() == _numpy_codes(*cols).tolist()
    assert _codes(*cols).tolist() == got.tolist()          # plain lists too


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["case", "parent-child", "identity"]), _ids, _ids),
                max_size=30))
def test_ref_keys(rows):
    mode = np.array([r[0] for r in rows], dtype=object).astype(str)
    case = np.array([r[1] for r in rows], dtype=object).astype(str)
    ref = np.array([r[2] for r in rows], dtype=object).astype(str)
    # the definition: "<case>/<ref>" (or the case alone) in case mode, the reference otherwise
    want = [(c if r == "" else f"{c}/{r}") if m == "case" else r for m, c, r in zip(mode, case, ref)]
    t = pa.table({"mode": pa.array(list(mode), pa.string()), "case_id": pa.array(list(case), pa.string()),
                  "reference_id": pa.array(list(ref), pa.string())})
    assert ref_keys(t).tolist() == want
