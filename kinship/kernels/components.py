"""Connected components of an undirected graph given as an edge list (union-find).

The joint picture (:func:`kinship.joint.parts`) needs the connected parts of the
bipartite graph of the hits (queries -- missing persons): some 10^4 edges in a
national case run.  SciPy's :func:`scipy.sparse.csgraph.connected_components`
gives the same partition, but importing ``scipy.sparse`` and its array-API layer
took about 0.2 s of every case run on this project's 2-core machine, against
about a millisecond for the union-find below; the tests check this function
against SciPy's on random graphs.
"""
from __future__ import annotations

import numpy as np

from kinship._numba import jit

__all__ = ["components"]


@jit()
def _root(parent, x):
    """The root of ``x``, halving the path on the way (each node visited points to
    its grandparent)."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@jit()
def _components(a, b, n):
    parent = np.arange(n)
    for i in range(a.shape[0]):
        x = _root(parent, a[i])
        y = _root(parent, b[i])
        if x < y:                    # the smaller node becomes the root: no ranks needed for
            parent[y] = x            # correctness; path halving keeps the trees shallow
        elif y < x:
            parent[x] = y
    for v in range(n):
        parent[v] = _root(parent, v)
    return parent


def components(a, b, n: int) -> np.ndarray:
    """The component of each of the nodes ``0 .. n - 1`` of the undirected graph with
    edges ``(a[i], b[i])``: the smallest node of its component (a node without edges
    is its own)."""
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("components: a and b must be 1-d arrays of the same length")
    if len(a) and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n):
        raise ValueError(f"components: edge ends must be nodes 0 .. {n - 1}")
    return _components(a, b, int(n))
