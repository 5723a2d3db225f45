"""The single-step mutation model along a paternal line: P(d | m).

In each meiosis a Y-STR allele stays put with probability ``1 - mu``, gains one
repeat with probability ``mu/2`` and loses one with probability ``mu/2``. Two
men ``m`` meioses apart on the same paternal line (father-son: 1; brothers,
grandfather-grandson: 2; uncle-nephew: 3; first cousins: 4) differ at a locus by
``d``, the net of ``m`` independent steps. Conditioning on the number ``k`` of
mutations (binomial) and then on how many of them go up (a symmetric walk),

    P(d | m) = sum_{k = |d|, |d|+2, ..., <= m}  C(m, k) mu^k (1 - mu)^(m-k)
                                                * C(k, (k + |d|)/2) / 2^k

Worked values (``mu = 0.1``), checked as doctests:

===  =====================  ===============================  ===========
m    P(0 | m)               P(+-1 | m), each                 P(+-2 | m)
===  =====================  ===============================  ===========
1    1 - mu = 0.9           mu/2 = 0.05                      0
2    (1-mu)^2 + mu^2/2      mu (1-mu) = 0.09                 mu^2/4
     = 0.815                                                 = 0.0025
===  =====================  ===============================  ===========

>>> round(step_probability(0, 2, 0.1), 12), round(step_probability(1, 2, 0.1), 12)
(0.815, 0.09)
>>> round(step_probability(-2, 2, 0.1), 12), step_probability(3, 2, 0.1)
(0.0025, 0.0)

The tests compare the closed form with the ``m``-th power of the one-meiosis
transition matrix (an independent computation).
"""
from __future__ import annotations

from math import comb

import numpy as np

__all__ = ["step_probability", "step_probability_table"]


def step_probability(d: int, m: int, mu: float) -> float:
    """P(net change of ``d`` repeats after ``m`` meioses) at per-meiosis rate ``mu``.

    ``d`` must be an integer number of repeats; a difference that is not whole
    (a microvariant against a full repeat) cannot arise by single steps and has
    probability 0 here (handled by the callers). ``m = 0`` gives 1 for ``d = 0``.
    """
    if m < 0 or int(m) != m:
        raise ValueError(f"meioses must be a non-negative integer, got {m!r}")
    if not 0.0 <= mu <= 1.0:
        raise ValueError(f"mutation rate must be in [0, 1], got {mu!r}")
    d = abs(int(d))
    m = int(m)
    if d > m:
        return 0.0
    total = 0.0
    for k in range(d, m + 1, 2):
        total += comb(m, k) * mu**k * (1.0 - mu) ** (m - k) * comb(k, (k + d) // 2) / 2.0**k
    return total


def step_probability_table(mu, meioses) -> np.ndarray:
    """``T[s, j, a] = P(|d| = a as a signed value d | meioses[j], mu[s])`` for a = 0..max(meioses).

    The entry is the probability of one signed difference (``+a`` or ``-a``, which
    are equally likely), not of ``|d| = a``. Shape ``(len(mu), len(meioses), max+1)``.
    """
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    ms = [int(m) for m in meioses]
    if any(m < 0 for m in ms):
        raise ValueError(f"meioses must be non-negative, got {ms}")
    if np.any((mu < 0) | (mu > 1)):
        raise ValueError("mutation rates must be in [0, 1]")
    dmax = max(ms) if ms else 0
    out = np.zeros((mu.size, len(ms), dmax + 1))
    for j, m in enumerate(ms):
        for d in range(0, m + 1):
            acc = np.zeros(mu.size)
            for k in range(d, m + 1, 2):
                acc += comb(m, k) * mu**k * (1.0 - mu) ** (m - k) * (comb(k, (k + d) // 2) / 2.0**k)
            out[:, j, d] = acc
    return out
