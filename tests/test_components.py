"""kinship.kernels.components: connected components by union-find, checked by hand
and against SciPy's connected_components (the partition; SciPy numbers the
components its own way)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinship.kernels.components import components


def _same_partition(x, y) -> bool:
    """Two labellings of the same nodes give the same partition."""
    pairs = set(zip(np.asarray(x).tolist(), np.asarray(y).tolist()))
    return len(pairs) == len(set(np.asarray(x).tolist())) == len(set(np.asarray(y).tolist()))


def test_by_hand():
    # 0-1-2 (a chain given backwards), 3 alone, 4-5 with a repeated edge, 6-6 a loop
    a = [2, 1, 4, 5, 6]
    b = [1, 0, 5, 4, 6]
    assert components(a, b, 7).tolist() == [0, 0, 0, 3, 4, 4, 6]
    assert components([], [], 3).tolist() == [0, 1, 2]
    assert components([], [], 0).tolist() == []


def test_long_chain_and_star():
    n = 20000
    chain = components(np.arange(1, n), np.arange(n - 1), n)     # edges i -- i-1
    assert (chain == 0).all()
    star = components(np.full(n - 1, n - 1), np.arange(n - 1), n)
    assert (star == 0).all()


def test_bad_edges_are_refused():
    with pytest.raises(ValueError, match="nodes 0 .. 2"):
        components([0], [3], 3)
    with pytest.raises(ValueError, match="nodes 0 .. 2"):
        components([-1], [0], 3)
    with pytest.raises(ValueError, match="same length"):
        components([0, 1], [0], 3)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=90))))
def test_equals_scipy(graph):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, edges = graph
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    got = components(a, b, n)
    _, want = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)),
                                   directed=False)
    assert _same_partition(got, want)
    # each label is the smallest node of its component
    for lab in set(got.tolist()):
        assert lab == int(np.flatnonzero(got == lab).min())
