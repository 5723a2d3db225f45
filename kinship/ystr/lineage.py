"""The lineage likelihood ratio: same paternal line, ``m`` meioses apart, vs unrelated.

For a query man Q (the found boy) and a candidate C,

    H1(m): Q and C are on the same paternal line, m meioses apart
           (father-son 1; brothers, grandfather-grandson 2; uncle-nephew 3;
           first cousins 4; ...).
    H2:    Q and C are unrelated (C's haplotype tells nothing about Q's).

    LR(m) = P(h_Q | h_C, H1(m)) / P(h_Q | H2)
          = prod over compared slots s of P(d_s | m, mu_s)  /  MP(h_Q)

where ``d_s`` is the difference at slot ``s`` (:mod:`kinship.ystr.stepwise`) and
``MP(h_Q)`` is the match probability of Q's haplotype on the compared slots, by
the chosen estimator (:mod:`kinship.ystr.estimators`). With a prior ``pi(m)``
over the number of meioses (the relationship is unknown),

    LR(prior) = sum_m pi(m) LR(m).

Per-slot numerator factors (both men typed the slot):

=============================================  =================================
case                                           factor
=============================================  =================================
equal values                                   P(0 | m)
whole-repeat difference ``d``                  P(d | m)  (0 when ``|d| > m``)
decimals differ (``14.2`` vs ``15``)           0: single steps cannot do it
null allele in both                            1 (nothing to mutate)
null allele in one only                        0
multi-copy marker (``DYS385 = {x1, x2}`` vs    sum over assignments of C's copies
``{y1, y2}``)                                  to Q's: ``P(y1-x1)P(y2-x2) +
                                               P(y2-x1)P(y1-x2)`` (one term when
                                               ``y1 = y2``)
slot untyped in either man                     1 (not compared)
=============================================  =================================

A zero factor makes the LR 0 for that ``m``; such slots are counted in
``loci_inconsistent`` and reported next to the LR (as the autosomal code reports
Mendelian inconsistencies), never hidden.

Combining with autosomal evidence
---------------------------------
Y-STRs pass father to son apart from the autosomes, so given a pedigree the Y
and autosomal transmissions are independent and their LRs for the *same*
pedigree multiply: :func:`combine_with_autosomal`. The autosomal LR must be for
the pedigree with the same number of meioses on the paternal line
(:data:`PATERNAL_MEIOSES` maps relationship names to ``m``).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np

from .haplotypes import MISSING, NULL, YHaplotypes
from .loci import YPanel
from .stepwise import step_probability_table

__all__ = [
    "PATERNAL_MEIOSES",
    "normalise_prior",
    "pair_numerators",
    "LineageLR",
    "lineage_lr",
    "combine_with_autosomal",
]

#: Meioses between two men on one paternal line, by relationship.
PATERNAL_MEIOSES = {
    "father-son": 1,
    "paternal grandfather-grandson": 2,
    "full brothers": 2,
    "paternal half brothers": 2,
    "paternal uncle-nephew": 3,
    "paternal great-grandfather-great-grandson": 3,
    "paternal first cousins": 4,
    "paternal great-uncle-great-nephew": 4,
    "paternal first cousins once removed": 5,
    "paternal second cousins": 6,
}


def normalise_prior(prior, meioses) -> np.ndarray:
    """Prior weights over ``meioses`` (a mapping ``m -> weight`` or a sequence), summing to 1.

    None gives equal weights.
    """
    ms = [int(m) for m in meioses]
    if prior is None:
        w = np.ones(len(ms))
    elif isinstance(prior, dict):
        unknown = sorted(set(int(k) for k in prior) - set(ms))
        if unknown:
            raise ValueError(f"prior names meioses {unknown} that are not in meioses={ms}")
        w = np.array([float(prior.get(m, 0.0)) for m in ms])
    else:
        w = np.asarray(prior, dtype=float)
        if w.shape != (len(ms),):
            raise ValueError(f"prior must have one weight per meioses value {ms}, got {w.shape}")
    if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"prior weights must be non-negative and not all zero, got {w.tolist()}")
    return w / w.sum()


def _slot_factor(a, b, tab):
    """Numerator factors for arrays of values.

    ``a``, ``b``: (n, k) comparison values of k slots; ``tab``: (k, M, D+1) step
    probabilities of those slots. Returns (n, k, M).
    """
    k, M, D1 = tab.shape
    both = (a != MISSING) & (b != MISSING)
    nulla, nullb = a == NULL, b == NULL
    av, bv = np.maximum(a, 0), np.maximum(b, 0)
    d = np.abs(av - bv) // 10
    usable = both & ((av % 10) == (bv % 10)) & ~nulla & ~nullb & (d < D1)
    dd = np.where(usable, d, 0)
    f = tab[np.arange(k)[None, :], :, dd]  # (n, k, M)
    f = np.where(usable[:, :, None], f, 0.0)
    f = np.where((nulla & nullb)[:, :, None], 1.0, f)
    f = np.where(both[:, :, None], f, 1.0)
    return f


def pair_numerators(cq, cr, panel: YPanel, slot_rates, meioses, per_slot: bool = False,
                    chunk: int = 16384):
    """Numerators ``P(h_Q | h_C, H1(m))`` for pairs of comparison-value rows.

    Returns ``(num, inconsistent)`` with ``num`` of shape ``(n, len(meioses))`` and
    ``inconsistent`` the number of compared slots whose factor is 0 for every ``m``
    (all slots of a multi-copy marker whose joint factor is 0); with
    ``per_slot=True`` also the ``(n, S, M)`` factors (a multi-copy marker's joint
    factor is put on its first slot, 1 on the others).
    """
    cq = np.atleast_2d(np.asarray(cq, dtype=np.int32))
    cr = np.atleast_2d(np.asarray(cr, dtype=np.int32))
    n, S = cq.shape
    ms = [int(m) for m in meioses]
    M = len(ms)
    tab = step_probability_table(np.asarray(slot_rates, dtype=float), ms)  # (S, M, D+1)
    multi = [list(g) for _, g in panel.multicopy_groups()]
    in_multi = set(i for g in multi for i in g)
    single = np.array([s for s in range(S) if s not in in_multi], dtype=np.int64)
    num = np.ones((n, M))
    incons = np.zeros(n, np.int64)
    factors = np.ones((n, S, M)) if per_slot else None
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        x, y = cq[c0:c1], cr[c0:c1]
        if single.size:
            f = _slot_factor(x[:, single], y[:, single], tab[single])
            num[c0:c1] *= f.prod(axis=1)
            incons[c0:c1] += (f == 0.0).all(axis=2).sum(axis=1)
            if per_slot:
                factors[c0:c1, single, :] = f
        for g in multi:
            c = len(g)
            xg, yg = x[:, g], y[:, g]
            typed = (xg != MISSING).all(1) & (yg != MISSING).all(1)
            tot = np.zeros((c1 - c0, M))
            for perm in permutations(range(c)):
                f = _slot_factor(xg, yg[:, list(perm)], tab[g])
                tot += f.prod(axis=1)
            # distinct assignments only: divide by the multiplicities of C's values
            mult = np.ones(c1 - c0)
            ys = np.sort(yg, axis=1)
            run = np.ones(c1 - c0)
            for i in range(1, c):
                same = ys[:, i] == ys[:, i - 1]
                run = np.where(same, run + 1, 1)
                mult *= np.where(same, run, 1)
            tot = np.where(typed[:, None], tot / mult[:, None], 1.0)
            num[c0:c1] *= tot
            incons[c0:c1] += (tot == 0.0).all(axis=1) * c
            if per_slot:
                factors[c0:c1, g[0], :] = tot
                factors[c0:c1, g[1:], :] = 1.0
    if per_slot:
        return num, incons, factors
    return num, incons


@dataclass
class LineageLR:
    """Lineage LR of one pair, with the per-slot review table."""

    meioses: tuple
    lr: np.ndarray              # per m
    lr_prior: float
    prior: np.ndarray
    numerator: np.ndarray       # per m
    match_probability: float
    slots: tuple                # compare-slot names
    factors: np.ndarray         # (S, M) per-slot numerator factors
    mismatches: int
    steps: int
    loci_compared: int
    loci_inconsistent: int

    def per_m(self) -> dict:
        return {m: float(v) for m, v in zip(self.meioses, self.lr)}


def lineage_lr(
    query: YHaplotypes,
    candidate: YHaplotypes,
    *,
    match_probability: float,
    rates=None,
    meioses=range(1, 7),
    prior=None,
) -> LineageLR:
    """The lineage LR of one pair (row 0 of ``query`` and of ``candidate``).

    ``match_probability``: ``MP(h_Q)`` on the compared slots, from
    :func:`kinship.ystr.match_probability` or any estimate the analyst defends.
    """
    from .haplotypes import exact_distance
    from .rates import YMutationRates

    if not (0.0 < match_probability <= 1.0):
        raise ValueError(f"match_probability must be in (0, 1], got {match_probability!r}")
    q = query[:1]
    c = candidate[:1].to_panel(q.panel, drop_typed=True)
    rates = rates or YMutationRates.load()
    mu = rates.slot_rates(q.panel)
    ms = tuple(int(m) for m in meioses)
    w = normalise_prior(prior, ms)
    cq, cr = q.comparison_values(), c.comparison_values()
    num, incons, fac = pair_numerators(cq, cr, q.panel, mu, ms, per_slot=True)
    mm, st, nc = exact_distance(cq, cr)
    lr = num[0] / match_probability
    return LineageLR(
        ms, lr, float((w * lr).sum()), w, num[0], float(match_probability),
        q.panel.compare_slots, fac[0], int(mm[0]), int(st[0]), int(nc[0]), int(incons[0]),
    )


def combine_with_autosomal(y_lr, autosomal_lr, meioses: int | None = None) -> float:
    """Total LR of independent Y and autosomal evidence for the same pedigree.

    ``y_lr``: a number, or a :class:`LineageLR` together with ``meioses`` (its LR
    for that ``m`` is used). ``autosomal_lr``: a number or an object with
    ``.total`` (a :class:`kinship.LRResult`). Both must be for the same hypotheses:
    the same pedigree (so the same number of paternal meioses) against unrelated.

    >>> combine_with_autosomal(250.0, 40.0)
    10000.0
    """
    if isinstance(y_lr, LineageLR):
        if meioses is None:
            raise ValueError(
                "give meioses=m: the autosomal LR is for one pedigree, so the Y LR must be "
                "the one for the same number of meioses"
            )
        y = y_lr.per_m()[int(meioses)]
    else:
        y = float(y_lr)
    a = float(getattr(autosomal_lr, "total", autosomal_lr))
    if a < 0 or y < 0 or a != a or y != y:
        raise ValueError(f"likelihood ratios must be non-negative numbers, got {y!r} and {a!r}")
    return y * a
