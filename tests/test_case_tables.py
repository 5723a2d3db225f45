"""kinship.search.CaseTables' per-pair views, checked by hand on a tiny table."""
from __future__ import annotations

import numpy as np

from kinship.search import CaseTables


def _tables():
    # 3 loci with 2, 3 and 1 genotypes: offsets 0, 2, 5; two cases
    lr = np.array([[2.0, 0.0, 1.5, 4.0, 0.5, 9.0],
                   [1.0, 3.0, 0.0, 0.0, 2.0, 7.0]])
    inc = (lr == 0).astype(np.uint8)            # LR 0 without mutation: inconsistent
    typed = np.array([[True, True, False], [True, True, True]])
    return CaseTables(["a", "b"], lr, inc, typed, np.array([0, 2, 5]), ("L1", "L2", "L3"), "x")


def test_counts_by_hand():
    t = _tables()
    # case 0, query genotypes (1, 0, 0): L1 LR 0 (inconsistent), L2 LR 1.5, L3 not typed by the case
    assert t.counts(0, np.array([1, 0, 0])) == (2, 1)
    # case 1, query (0, 1, 0): L1 1.0, L2 entry 2 + 1 = 3: 0.0 (inconsistent), L3 7.0
    assert t.counts(1, np.array([0, 1, 0])) == (3, 1)
    # the query did not type L2 (-1): not compared
    assert t.counts(1, np.array([1, -1, 0])) == (2, 0)


def test_per_locus_by_hand():
    t = _tables()
    assert t.per_locus(0, np.array([1, 0, 0])) == {"L1": 0.0, "L2": 1.5}
    assert t.per_locus(1, np.array([0, 1, 0])) == {"L1": 1.0, "L2": 0.0, "L3": 7.0}
    assert t.per_locus(1, np.array([0, 2, 0])) == {"L1": 1.0, "L2": 2.0, "L3": 7.0}
    assert t.per_locus(1, np.array([1, -1, 0])) == {"L1": 3.0, "L3": 7.0}
