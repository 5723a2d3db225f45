"""Search thresholds from the mutation rates: how many relatives a threshold keeps.

Two men ``m`` meioses apart on one paternal line differ at slot ``s`` by ``d_s``,
independent over slots, with ``P(d_s | m)`` from :mod:`kinship.ystr.stepwise` at
the slot's rate. The *recall* of thresholds ``(K, T)`` at ``m`` is

    P( #{s : d_s != 0} <= K  and  sum_s |d_s| <= T  |  m ),

computed exactly by a dynamic programme over slots (state: mismatches so far,
steps so far). Multi-copy markers are treated copy by copy here; the search
aligns their copies sorted, which differs only when mutations make the copies
cross (the simulation in :mod:`kinship.ystr.simulate` measures it with that
effect included).

:func:`auto_thresholds` picks the smallest ``K``, then the smallest ``T``, whose
recall is at least ``target`` for every ``m`` in ``meioses``: the default of
:func:`kinship.ystr.lineage_search` is ``target = 0.99`` for ``m = 1..6``.
"""
from __future__ import annotations

import numpy as np

from .stepwise import step_probability_table

__all__ = ["recall", "recall_table", "auto_thresholds", "exact_match_miss_rate"]


def _dp(slot_rates, m: int, kmax: int, tmax: int) -> np.ndarray:
    """P[k, t] = P(k mismatches, t steps) with k capped at kmax+1 and t at tmax+1."""
    mu = np.asarray(slot_rates, dtype=float)
    tab = step_probability_table(mu, [m])[:, 0, :]  # (S, m+1): P(d = +a) for a = 0..m
    P = np.zeros((kmax + 2, tmax + 2))
    P[0, 0] = 1.0
    for s in range(mu.size):
        new = P * tab[s, 0]
        for a in range(1, tab.shape[1]):
            w = 2.0 * tab[s, a]  # +a and -a
            if w == 0.0:
                continue
            shifted = np.zeros_like(P)
            # k -> min(k+1, kmax+1); t -> min(t+a, tmax+1)
            src = P
            tmp = np.zeros_like(P)
            tmp[1:, :] = src[:-1, :]
            tmp[-1, :] += src[-1, :]
            if a <= tmax + 1:
                shifted[:, a:] = tmp[:, : tmp.shape[1] - a]
                shifted[:, -1] += tmp[:, tmp.shape[1] - a:].sum(axis=1)
            else:
                shifted[:, -1] = tmp.sum(axis=1)
            new += w * shifted
        P = new
    return P


def recall(slot_rates, m: int, max_mismatches: int, max_steps: int) -> float:
    """P(a relative ``m`` meioses away passes ``(max_mismatches, max_steps)``)."""
    P = _dp(slot_rates, int(m), int(max_mismatches), int(max_steps))
    return float(P[: max_mismatches + 1, : max_steps + 1].sum())


def recall_table(slot_rates, meioses, max_mismatches: int, max_steps: int) -> dict:
    """``{m: recall}`` for each ``m``."""
    return {int(m): recall(slot_rates, m, max_mismatches, max_steps) for m in meioses}


def exact_match_miss_rate(slot_rates, m: int) -> float:
    """Share of relatives ``m`` meioses apart that an exact-match search misses."""
    return 1.0 - recall(slot_rates, m, 0, 0)


def auto_thresholds(slot_rates, meioses=range(1, 7), target: float = 0.99) -> tuple[int, int]:
    """Smallest ``K``, then smallest ``T``, with recall >= ``target`` for all ``meioses``.

    >>> auto_thresholds([0.0] * 10)
    (0, 0)
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target recall must be in (0, 1), got {target!r}")
    mu = np.asarray(slot_rates, dtype=float)
    ms = [int(m) for m in meioses]
    S = mu.size
    for K in range(0, S + 1):
        if all(recall(mu, m, K, K * max(ms)) >= target for m in ms):
            break
    for T in range(K, K * max(ms) + 1):
        if all(recall(mu, m, K, T) >= target for m in ms):
            return K, T
    return K, K * max(ms)
