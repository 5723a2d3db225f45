"""Chance hits: how often an unrelated person reaches an LR threshold.

A search of ``n_queries`` candidates against ``C`` compiled cases makes
``n_queries x C`` comparisons.  If no candidate is related to a case, the
number of pairs with ``LR >= t`` has expectation

    E[chance hits at t] = n_queries * sum over cases c of  P_H2(LR_c >= t),

where ``LR_c(g) = prod_l T[c, l, g_l]`` is the case's compiled table
(:class:`kinship.search.CaseTables`) and, under H2, the candidate's genotype
vector ``g`` is drawn from the population.  :func:`expected_chance_hits`
computes this for a block of compiled tables, :func:`exceedance` gives
``P_H2(LR_c >= t)`` for one case.  At 10^12 comparisons an LR of 10^6 is
expected by chance; these numbers say how often.

The population under H2 (``h2=``)
---------------------------------
The candidate's genotypes are independent over loci with

* ``h2="hw"`` (default): Hardy–Weinberg proportions at the model's allele
  frequencies ``p`` (each locus divided by its sum): ``P(a/a) = p_a^2``,
  ``P(a/b) = 2 p_a p_b``;
* ``h2="theta"``: genotype frequencies of a subpopulation with coancestry θ
  (the model's θ): ``P(a/a) = p_a (θ + (1-θ) p_a)``, ``P(a/b) = 2 (1-θ) p_a p_b``.

Neither conditions the candidate on the case's own alleles.  The tables'
denominator does (Balding–Nichols, see :mod:`kinship.tables`), so with θ > 0
the table is conservative for a candidate from the general population:
``E_H2[LR]`` is then at most about 1 rather than exactly 1.  With θ = 0 and no
silent allele each locus has ``sum_g P(g) T[g] = 1`` exactly, so
``E_H2[LR] = 1`` and, by Markov's inequality, ``P_H2(LR >= t) <= 1/t``.  The
exact ``E_H2[LR] = prod_l Z_l`` with ``Z_l = sum_g P(g) T[c, l, g]`` is reported
as ``mean_lr`` in every result, whatever θ.

With a silent allele ``s`` the candidate's *call* is what the table is indexed
by: the mass of ``{a, s}`` goes to the call ``a/a``, and ``{s, s}`` (no allele
seen) leaves the locus untyped (factor 1).  A candidate is assumed to be typed
at every locus the case is typed at.

Methods (``method=``)
---------------------
``"exact"``: convolution of the per-locus distributions of ``log10 T`` on a grid
of width ``resolution`` (log10 units), three times: every value rounded up
(a certified upper bound: the rounded sum is never below the true one), rounded
down (a certified lower bound) and rounded to nearest (the estimate).  Partial
sums that cannot reach the smallest threshold even if every remaining locus
takes its largest value are dropped, which is exact.  The bracket is
``P(LR >= t) <= upper <= P(LR >= t 10^(-L resolution))`` and likewise below,
so its width shrinks with ``resolution``; the sums are of non-negative terms
(no FFT), so probabilities of 10^-30 are as accurate as those of 10^-3.  Cost:
about ``L x (distinct values per locus) x (grid span)``; a 23-locus case takes
a fraction of a second.

``"is"``: importance sampling by exponential tilting.  Each locus' genotype is
drawn from ``q_s(g) = P(g) T[g]^s / M_l(s)``, independently over loci, and

    P_H2(LR >= t) = E_{q_s}[ 1(LR >= t) M(s) / LR^s ],   M(s) = prod_l M_l(s),

an unbiased estimate with its standard error.  ``s = 1`` (``tilt=1``) draws
from H1 (``q_1(g) = P(g | case, H1)`` when the table is a proper LR, the
classical ``P_H2(LR >= t) = E_H1[1(LR >= t) / LR]``); each term is at most
``M(1)/t``.  ``tilt="auto"`` (default) chooses, per threshold, the ``s`` whose
tilted mean of ``log10 LR`` is ``log10 t`` (the saddle point), so that about
half the draws reach the threshold however far out it is.

``"mc"``: plain simulation from H2 (``s = 0``), for checking; useless in the
far tail.

Loci left out (``max_inconsistent=k``)
--------------------------------------
The identity search may leave up to ``k`` loci where the genotypes differ out of
the LR (a mistyped locus; the engine's ``max_inconsistent``).  With
``max_inconsistent=k > 0`` a locus whose table value is 0 for the candidate's
genotype contributes factor 1 and counts as left out, and a candidate with more
than ``k`` such loci has LR 0:

    P_H2( prod_{l not left out} T_l >= t  and  #{l : T_l = 0} <= k ).

The exact method carries one distribution per number of loci left out
(``0..k``); the bracket and its guarantees are unchanged.  Only the exact method
supports it.  ``mean_lr`` stays the mean of the plain product.

Use by the engine
-----------------
Every engine run evaluates :func:`exceedance` on the compiled tables of each
mode's reference units (:mod:`engine.chance`) and reports the expectation per
mode and per hit.  For a search outside the engine, with the compiled tables
and the number of query profiles compared::

    ch = expected_chance_hits(tables, n_queries, [1e4, 1e6, 1e8], model=model)
    ch.expected            # per threshold
    ch.sentence(3e6)       # "LR 3x10^6; about 0.2 chance hits of this size expected ..."

See ``docs/validation.md`` and ``docs/engine.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ._numba import jit

__all__ = [
    "Exceedance",
    "ChanceHits",
    "genotype_probabilities",
    "locus_distributions",
    "exceedance",
    "expected_chance_hits",
    "format_lr",
]

METHODS = ("exact", "is", "mc")
#: relative margin of the grid rounding (far above floating-point error of
#: ``log10 T / resolution``, far below one grid step)
_ROUND_EPS = 1e-7


# --------------------------------------------------------------------------------------
# the population distribution of the candidate's genotype
# --------------------------------------------------------------------------------------
def genotype_probabilities(model, h2: str = "hw", dropout: float = 0.0,
                           dropin: float = 0.0) -> np.ndarray:
    """``P(g)`` for every genotype call of every locus of ``model`` (a
    :class:`kinship.search.ScoringModel`), flat and aligned with
    ``model.offsets`` like a row of :attr:`CaseTables.lr`.

    Each locus sums to 1.  The entry of the silent homozygote ``{s, s}`` holds the
    probability that nothing is seen at the locus (its LR factor is taken as 1);
    other genotypes containing ``s`` have probability 0 (their mass is in the
    call ``a/a``).

    With ``dropout`` d or ``dropin`` c (the candidate's sample, ``docs/dropout.md``)
    it is the law of the *observed* call: ``P(g_obs) = Σ_{x,y} E[g_obs, x, y] P(x, y)``
    over the true ordered genotype (:func:`kinship.tables.evidence_stack`).  A
    locus then sums to less than 1: the rest is the probability that nothing is
    seen (or, with drop-in, more than two alleles: not a single-source call),
    where the locus is untyped (factor 1); :func:`locus_distributions` puts it at
    LR 1.  d = c = 0 gives the values above exactly.

    The array is read-only and cached on the model (the same for every unit of a
    run: the exact method asks for it once per unit and partial hit).
    """
    from .frequencies import SILENT
    from .tables import genotype_index, genotype_pairs

    if h2 not in ("hw", "theta"):
        raise ValueError(f"h2 must be 'hw' or 'theta', got {h2!r}")
    if dropout or dropin:
        return _observed_probabilities(model, h2, float(dropout), float(dropin))
    cache = model.__dict__.setdefault("_pg_cache", {})
    hit = cache.get(("_pg", h2))
    if hit is not None:
        return hit
    theta = float(model.theta) if h2 == "theta" else 0.0
    out = np.zeros(model.size)
    for l, s in enumerate(model.systems):
        p = np.asarray(s.freqs, dtype=float)
        p = p / p.sum()
        a, b = genotype_pairs(s.n_alleles)
        het = a != b
        P = np.where(het, 2.0 * (1.0 - theta) * p[a] * p[b], p[a] * (theta + (1.0 - theta) * p[a]))
        if s.silent:
            si = s.alleles.index(SILENT)
            with_s = ((a == si) | (b == si)) & het
            other = np.where(a == si, b, a)
            P = P.copy()
            np.add.at(P, genotype_index(other[with_s], other[with_s]), P[with_s])
            P[with_s] = 0.0
        o = model.offsets[l]
        out[o:o + len(P)] = P / P.sum()
    out.setflags(write=False)
    cache[("_pg", h2)] = out
    return out


def _observed_probabilities(model, h2: str, d: float, c: float) -> np.ndarray:
    """:func:`genotype_probabilities` with dropout ``d`` and drop-in ``c`` (cached on
    the model: the same for every unit of a run)."""
    from .frequencies import SILENT
    from .tables import evidence_stack, genotype_pairs

    key = ("_observed_pg", h2, d, c)
    cache = model.__dict__.setdefault("_pg_cache", {})
    hit = cache.get(key)
    if hit is not None:
        return hit
    theta = float(model.theta) if h2 == "theta" else 0.0
    out = np.zeros(model.size)
    for l, s in enumerate(model.systems):
        p = np.asarray(s.freqs, dtype=float)
        p = p / p.sum()
        # ordered true genotype (x, y): HW, or the subpopulation's with θ
        P2 = (1.0 - theta) * np.outer(p, p)
        P2[np.diag_indices_from(P2)] += theta * p
        E = evidence_stack(s, d, c)                     # [G, A, A]
        P = np.tensordot(E, P2, axes=([1, 2], [0, 1]))
        if s.silent:
            si = s.alleles.index(SILENT)
            a, b = genotype_pairs(s.n_alleles)
            P = np.where((a == si) | (b == si), 0.0, P)   # a silent allele is never seen
        o = model.offsets[l]
        out[o:o + len(P)] = P
    out.setflags(write=False)
    cache[key] = out
    return out


def _population(model, h2, dropout=0.0, dropin=0.0) -> np.ndarray:
    if isinstance(model, np.ndarray):
        return np.asarray(model, dtype=float)
    return genotype_probabilities(model, h2, dropout, dropin)


def locus_distributions(tables, c: int, pg: np.ndarray, silent_index=None,
                        under: str = "H2") -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(log10 T, P), ...]`` over the genotypes of each locus typed in case ``c``
    with ``P > 0`` (``-inf`` where ``T = 0``): the law of each locus' log10 LR
    under H2, or under H1 (``under="H1"``: masses ``P T / sum(P T)``, the
    candidate's genotype law given the case when the table is a proper LR).
    Loci the case did not type are left out (factor 1)."""
    sizes = np.diff(np.append(tables.offsets, tables.lr.shape[1]))
    out = []
    for l in range(len(tables.loci)):
        if not tables.typed[c, l]:
            continue
        o, G = int(tables.offsets[l]), int(sizes[l])
        P = pg[o:o + G]
        T = np.array(tables.lr[c, o:o + G], dtype=float)
        keep = P > 0
        if silent_index is not None and silent_index[l] >= 0:
            T[silent_index[l]] = 1.0  # nothing seen: the locus is skipped
        rest = 1.0 - float(P.sum())
        P, T = P[keep], T[keep]
        if rest > 1e-12:
            # nothing seen at the locus (observed-genotype law with dropout): untyped,
            # factor 1
            P, T = np.append(P, rest), np.append(T, 1.0)
        if np.any(np.isnan(T)) or np.any(T < 0) or np.any(np.isinf(T)):
            bad = T[np.isnan(T) | (T < 0) | np.isinf(T)][0]
            raise ValueError(
                f"case {tables.ids[c]!r}, locus {tables.loci[l]}: table value {bad} for a genotype "
                f"with population probability > 0; a table must be finite and non-negative there"
            )
        with np.errstate(divide="ignore"):
            out.append((np.log10(T), P.copy()))
    return out if under == "H2" else _tilt_to_h1(out)


def _tilt_to_h1(locs):
    out = []
    for lv, P in locs:
        w = P * 10.0 ** lv
        keep = w > 0
        out.append((lv[keep], w[keep] / w.sum()))
    return out


def _silent_index(model) -> list[int] | None:
    if isinstance(model, np.ndarray):
        return None
    from .frequencies import SILENT
    from .tables import genotype_index

    res = []
    for s in model.systems:
        if s.silent:
            si = s.alleles.index(SILENT)
            res.append(int(genotype_index(si, si)))
        else:
            res.append(-1)
    return res if any(r >= 0 for r in res) else None


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass
class Exceedance:
    """``P_H2(LR >= t)`` for one case at each threshold ``t``.

    ``estimate``; ``stderr`` (importance sampling and simulation; 0 for exact);
    ``lower``/``upper``: a certified bracket (exact method), else
    ``estimate -/+ 4 stderr`` clipped at 0.  ``mean_lr``: the exact ``E_H2[LR]``
    (1 for a proper LR, see the module doc).  ``details``: the tilts, sample
    counts or grid resolution used.
    """

    thresholds: np.ndarray
    estimate: np.ndarray
    stderr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    method: str
    mean_lr: float
    details: dict = field(default_factory=dict)


def format_lr(x: float) -> str:
    """``3e6`` -> ``"3x10^6"``, ``1e6`` -> ``"10^6"``, ``250`` -> ``"250"``."""
    if not math.isfinite(x):
        return str(x)
    if x <= 0:
        return "0"
    if x < 1e4:
        return f"{x:.4g}"
    e = int(math.floor(math.log10(x)))
    m = x / 10 ** e
    if m >= 9.95:
        m, e = 1.0, e + 1
    return f"10^{e}" if abs(m - 1.0) < 0.05 else f"{m:.1f}x10^{e}".replace(".0x", "x")


def _fmt_count(x: float) -> str:
    if x == 0:
        return "0"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 0.01:
        return f"{x:.2g}"
    return f"{x:.1e}"


@dataclass
class ChanceHits:
    """Expected chance hits of a search at each threshold.

    ``expected[i]``: expected number of (query, case) pairs with ``LR >=
    thresholds[i]`` among ``n_comparisons = n_queries x n_cases`` if every query
    is unrelated to every case; ``stderr``; ``lower``/``upper`` (certified when
    ``method="exact"`` and every case was used, else ``expected -/+ 4 stderr``);
    ``per_comparison = expected / n_comparisons``; ``per_case`` (``[n_cases_used,
    T]`` exceedance probabilities), ``per_case_lower``/``per_case_upper`` (their
    brackets), ``cases`` (their row numbers) and ``per_case_mean_lr`` (each case's
    exact ``E_H2[LR]``) when asked for;
    ``cases_used`` (all cases, or a random subset of ``max_cases`` whose sampling
    error is in ``stderr``).
    """

    thresholds: np.ndarray
    expected: np.ndarray
    stderr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_queries: int
    n_cases: int
    cases_used: int
    method: str
    h2: str
    mean_lr: float
    per_case: np.ndarray | None = None
    cases: np.ndarray | None = None
    per_case_mean_lr: np.ndarray | None = None
    per_case_lower: np.ndarray | None = None
    per_case_upper: np.ndarray | None = None

    @property
    def n_comparisons(self) -> int:
        return int(self.n_queries) * int(self.n_cases)

    @property
    def per_comparison(self) -> np.ndarray:
        return self.expected / max(1, self.n_comparisons)

    def at(self, lr: float) -> float:
        """Expected chance hits with ``LR >= lr``, read from the computed
        thresholds: the value at the largest threshold ``<= lr`` (an overstatement,
        since fewer pairs reach a larger LR); ``nan`` below the smallest."""
        t = np.asarray(self.thresholds)
        k = np.nonzero(t <= lr)[0]
        if len(k) == 0:
            return float("nan")
        # estimates at larger thresholds are never allowed to exceed smaller ones
        mono = np.minimum.accumulate(self.expected)
        return float(mono[k[-1]])

    def sentence(self, lr: float) -> str:
        """``"LR 3x10^6; about 0.2 chance hits of this size expected in this search
        (1.0x10^12 comparisons)"``."""
        e = self.at(lr)
        head = f"LR {format_lr(lr)}"
        if math.isnan(e):
            return f"{head}; below the smallest threshold with a chance-hit estimate"
        return (f"{head}; about {_fmt_count(e)} chance hits of this size expected in this search "
                f"({format_lr(float(self.n_comparisons))} comparisons)")

    def rows(self) -> list[dict]:
        """One dict per threshold (for tables, JSON summaries)."""
        return [
            {"threshold": float(t), "expected": float(e), "stderr": float(s), "lower": float(lo),
             "upper": float(hi), "per_comparison": float(e) / max(1, self.n_comparisons)}
            for t, e, s, lo, hi in zip(self.thresholds, self.expected, self.stderr, self.lower, self.upper)
        ]

    def to_dict(self) -> dict:
        return {
            "method": self.method, "h2": self.h2, "n_queries": int(self.n_queries),
            "n_cases": int(self.n_cases), "cases_used": int(self.cases_used),
            "n_comparisons": self.n_comparisons, "mean_lr": float(self.mean_lr),
            "thresholds": self.rows(),
        }


# --------------------------------------------------------------------------------------
# exact: convolution on a grid with directed rounding
# --------------------------------------------------------------------------------------
def grid_index(lv: np.ndarray, delta: float, how: str):
    """``(k, finite)``: the grid index (step ``delta``) of every finite value of
    ``lv``, rounded ``"up"``, ``"down"`` or to the nearest; a margin of
    ``_ROUND_EPS`` keeps a value that is a grid point within floating-point error
    on the safe side.  ``finite`` marks the values indexed."""
    fin = np.isfinite(lv)
    x = lv[fin] / delta
    if how == "up":
        k = np.ceil(x + _ROUND_EPS * np.maximum(1.0, np.abs(x)))
    elif how == "down":
        k = np.floor(x - _ROUND_EPS * np.maximum(1.0, np.abs(x)))
    else:
        k = np.rint(x)
    return k.astype(np.int64), fin


#: the rounding of :func:`grid_index` as :func:`_bin_kernel` takes it
_HOW = {"up": 1, "down": -1, "near": 0}


def _bin_loci(lv: np.ndarray, P: np.ndarray, starts: np.ndarray, delta: float, how: str):
    """The loci ``lv[starts[l]:starts[l + 1]]`` (log10 T, masses ``P``) on the grid of
    step ``delta``, rounded as :func:`grid_index`: ``(values, masses, starts)``, every
    locus in one pair of arrays (locus ``l``: ``starts[l]:starts[l + 1]`` of the
    returned ``starts``; the arrays may be longer), its distinct grid values ascending
    with the masses of its genotypes with a finite value summed on each."""
    uk = np.empty(len(lv), dtype=np.int64)
    ms = np.empty(len(lv))
    out = np.empty(len(starts), dtype=np.int64)
    _bin_kernel(lv, P, starts, float(delta), _HOW[how], uk, ms, out)
    return uk, ms, out


@jit()
def _bin_kernel(lv, P, starts, delta, how, uk, ms, out_starts):
    """:func:`_bin_loci`, the same bits as ``np.unique`` and ``np.bincount`` (with
    weights) on :func:`grid_index`, locus by locus: each finite value's grid index by
    the same operations, one value at a time; each genotype's mass added to its
    index's sum, which starts at 0, in the order of the genotypes (as ``bincount``
    adds them); the distinct indices ascending.  A locus whose indices span at most
    ``4 x genotypes + 4096`` grid points keeps one sum per point of its range (no
    sort); a wider one sorts its genotypes by index, stably."""
    kk = np.empty(len(lv), dtype=np.int64)
    o = 0
    out_starts[0] = 0
    for l in range(len(starts) - 1):
        a = starts[l]
        b = starts[l + 1]
        kmin = 0
        kmax = -1
        for i in range(a, b):
            if np.isfinite(lv[i]):
                x = lv[i] / delta
                if how > 0:
                    k = np.ceil(x + _ROUND_EPS * max(1.0, abs(x)))
                elif how < 0:
                    k = np.floor(x - _ROUND_EPS * max(1.0, abs(x)))
                else:
                    k = np.rint(x)
                kk[i] = np.int64(k)
                if kmax < kmin:
                    kmin = kmax = kk[i]
                else:
                    kmin = min(kmin, kk[i])
                    kmax = max(kmax, kk[i])
        if kmax < kmin:                      # no finite value
            out_starts[l + 1] = o
            continue
        span = kmax - kmin + 1
        if span <= 4 * (b - a) + 4096:
            # one counter per grid point of the locus' range: each mass added to its
            # point's in the order of the genotypes, the points in order
            acc = np.zeros(span)
            seen = np.zeros(span, dtype=np.bool_)
            for i in range(a, b):
                if np.isfinite(lv[i]):
                    acc[kk[i] - kmin] += P[i]
                    seen[kk[i] - kmin] = True
            for j in range(span):
                if seen[j]:
                    uk[o] = kmin + j
                    ms[o] = acc[j]
                    o += 1
        else:
            # a range far wider than the locus has genotypes: its genotypes sorted by
            # index, stably, so that the masses of each index are still added in the
            # order of the genotypes
            fin = np.empty(b - a, dtype=np.int64)
            nf = 0
            for i in range(a, b):
                if np.isfinite(lv[i]):
                    fin[nf] = i
                    nf += 1
            fin = fin[:nf]
            fin = fin[np.argsort(kk[fin], kind="mergesort")]     # stable
            for j in range(nf):
                i = fin[j]
                if j == 0 or kk[i] != uk[o - 1]:
                    uk[o] = kk[i]
                    ms[o] = 0.0
                    o += 1
                ms[o - 1] += P[i]
        out_starts[l + 1] = o


def _convolve_tail(locs, kappas: np.ndarray, zeros=None, max_skip: int = 0) -> np.ndarray:
    """``P(sum_l K_l >= kappa)`` for integer-valued independent ``K_l`` given as
    ``(values, masses)``; dense arrays, partial sums that cannot reach the
    smallest kappa are dropped.

    ``zeros[l]``, ``max_skip``: with ``max_skip > 0``, the mass ``zeros[l]`` of
    locus ``l`` (its LR-0 genotypes) contributes 0 and counts one locus left out;
    paths with more than ``max_skip`` of them are dropped (one distribution per
    count).

    The work is done by :func:`_convolve_kernel`, one call for every locus."""
    starts = np.zeros(len(locs) + 1, dtype=np.int64)
    np.cumsum([len(uk) for uk, _ in locs], out=starts[1:])
    if len(locs):
        uk = np.concatenate([uk for uk, _ in locs]).astype(np.int64, copy=False)
        ms = np.concatenate([m for _, m in locs]).astype(np.float64, copy=False)
    else:
        uk, ms = np.zeros(0, dtype=np.int64), np.zeros(0)
    return _convolve_arrays(uk, ms, starts, kappas, zeros, max_skip)


def _convolve_arrays(uk, ms, starts, kappas, zeros=None, max_skip: int = 0) -> np.ndarray:
    """:func:`_convolve_tail` for the loci as one array of grid values and one of
    masses, locus ``l`` at ``starts[l]:starts[l + 1]`` (as :func:`_bin_loci` gives them)."""
    if max_skip <= 0 or zeros is None:
        max_skip = 0
        z = np.zeros(len(starts) - 1)
    else:
        z = np.asarray(zeros, dtype=np.float64)
    out = np.zeros(len(kappas))
    _convolve_kernel(uk, ms, starts, z, int(max_skip), np.ascontiguousarray(kappas, dtype=np.int64),
                     out)
    return out


#: columns of a distribution that :func:`_convolve_kernel` updates at a time (8 KiB of
#: float64: the block stays in the first-level cache while every value of the locus
#: is added to it)
_SHIFT_BLOCK = 1024


@jit()
def _shift_add_row(out, src, ks, ms, shift):
    """``out[k - shift:k - shift + n] += m * src`` for each ``(k, m)`` of ``(ks, ms)`` in
    turn, the columns below 0 or past the end of ``out`` left out."""
    n = len(src)
    w = len(out)
    B = _SHIFT_BLOCK
    for j0 in range(0, w, B):
        j1 = min(j0 + B, w)
        for t in range(len(ks)):
            kv = ks[t] - shift               # column of out that gets src[0]
            mv = ms[t]
            a = max(j0, kv)
            b = min(j1, kv + n)
            if a >= b:
                continue
            o = out[a:b]                     # views: the loop is vectorised
            s = src[a - kv:b - kv]
            for j in range(b - a):
                o[j] += mv * s[j]


@jit()
def _convolve_kernel(uk, ms, starts, zeros, max_skip, kappas, out):
    """:func:`_convolve_tail` for loci given as one array of grid values ``uk`` and
    one of masses ``ms`` (locus ``l``: ``starts[l]:starts[l + 1]``); writes
    ``P(sum >= kappas[j])`` into ``out[j]`` (left as it is, zeros, when no sum
    reaches the smallest kappa).

    The distribution of the partial sum over ``K = max_skip + 1`` counts of loci
    left out is kept as ``K`` rows of a window of consecutive grid points from
    ``lo`` on.  Each locus ``(k, m)`` adds ``m * dist`` shifted by ``k`` to a new
    window, then ``z * dist`` (its LR-0 mass) one row down, unshifted, then the
    window is trimmed: below ``cut``, the sums that cannot reach the smallest kappa
    even if every remaining locus takes its largest value, and the columns that are
    zero in every row at either end.  Every value receives its terms in the same
    order as the former NumPy loop ``new[:, k:k + n] += m * dist`` over the values
    in turn, then ``new[1:, s] += z * dist[:-1]`` (each product rounded, then added
    to a sum that starts at 0), so the results are the same bits; they are tested
    against that implementation (``tests/test_chance.py``).  What is new: the
    columns below ``cut`` are never computed (in a 23-locus case convolution they
    were about two thirds of the products), the windows live in two buffers
    allocated once, and there is no Python step per locus.

    Columns are taken :data:`_SHIFT_BLOCK` at a time and every ``(k, m)`` in turn
    adds its part to the block, so that the block being added to stays in the
    first-level cache (the order of the terms of each value is unchanged)."""
    L = len(starts) - 1
    K = max_skip + 1
    base = np.zeros(L, dtype=np.int64)       # smallest and largest shift of each locus
    top = np.zeros(L, dtype=np.int64)
    for l in range(L):
        a = starts[l]
        b = starts[l + 1]
        skip = max_skip > 0 and zeros[l] > 0
        if a == b and not skip:
            return                           # a locus where every genotype has LR 0
        lo_l = uk[a] if a < b else 0
        hi_l = lo_l
        for t in range(a, b):
            lo_l = min(lo_l, uk[t])
            hi_l = max(hi_l, uk[t])
        if skip:                             # its LR-0 mass: shift 0
            lo_l = min(lo_l, 0)
            hi_l = max(hi_l, 0)
        base[l] = lo_l
        top[l] = hi_l
    rest = np.zeros(L + 1, dtype=np.int64)   # rest[i] = sum_{j >= i} top[j]
    for l in range(L - 1, -1, -1):
        rest[l] = rest[l + 1] + top[l]
    if len(kappas) == 0:
        return
    kmin = kappas[0]
    for j in range(1, len(kappas)):
        kmin = min(kmin, kappas[j])
    if rest[0] < kmin:
        return
    width = 1
    for l in range(L):
        width += top[l] - base[l]
    cur = np.empty((K, width))               # the window: columns off .. off + n - 1
    nxt = np.empty((K, width))
    for r in range(K):
        cur[r, 0] = 0.0
    cur[0, 0] = 1.0
    off = 0
    n = 1
    lo = 0                                   # grid point of the window's first column
    for l in range(L):
        bl = base[l]
        lo += bl
        # new column c is old-style column c + c0 (grid point lo + c0 + c); the old
        # columns below cut were computed and dropped, they are now skipped
        cut = kmin - rest[l + 1] - lo
        c0 = max(cut, 0)
        w = n + (top[l] - bl) - c0
        if w <= 0:    # never: the window's first column reached the previous cut
            return
        for r in range(K):
            nxt[r, :w] = 0.0
        for r in range(K):
            _shift_add_row(nxt[r, :w], cur[r, off:off + n], uk[starts[l]:starts[l + 1]],
                           ms[starts[l]:starts[l + 1]], bl + c0)
        if max_skip > 0 and zeros[l] > 0:
            z = zeros[l]
            for r in range(1, K):
                for s in range(n):
                    c = s - bl - c0
                    if c >= 0:
                        nxt[r, c] += z * cur[r - 1, off + s]
        first = -1
        for c in range(w):
            for r in range(K):
                if nxt[r, c] != 0.0:
                    first = c
                    break
            if first >= 0:
                break
        if first < 0:
            return
        last = first
        for c in range(w - 1, first, -1):
            hit = False
            for r in range(K):
                if nxt[r, c] != 0.0:
                    hit = True
                    break
            if hit:
                last = c
                break
        lo += c0 + first
        off = first
        n = last - first + 1
        cur, nxt = nxt, cur
    # tail[j] = P(sum >= lo + j): the rows added in order (NumPy's dist.sum(axis=0)),
    # then summed from the top one value at a time (np.cumsum(flat[::-1])[::-1])
    tail = nxt[0, :n]
    for j in range(n):
        tail[j] = cur[0, off + j]
    for r in range(1, K):
        for j in range(n):
            tail[j] = tail[j] + cur[r, off + j]
    for j in range(n - 2, -1, -1):
        tail[j] = tail[j + 1] + tail[j]
    for j in range(len(kappas)):
        idx = kappas[j] - lo
        out[j] = tail[0] if idx <= 0 else (tail[idx] if idx < n else 0.0)


def _exact(locs, taus: np.ndarray, resolution: float, bracket: bool = True, max_skip: int = 0):
    d = float(resolution)
    zeros = [float(P[~np.isfinite(lv)].sum()) for lv, P in locs] if max_skip else None
    t = taus
    res = {}
    passes = (("up", np.ceil(t / d - _ROUND_EPS * np.maximum(1.0, np.abs(t / d)))),
              ("down", np.ceil(t / d + _ROUND_EPS * np.maximum(1.0, np.abs(t / d)))),
              ("near", np.ceil(t / d)))
    if len(locs):
        starts = np.zeros(len(locs) + 1, dtype=np.int64)
        np.cumsum([len(lv) for lv, _ in locs], out=starts[1:])
        lv_all = np.concatenate([lv for lv, _ in locs]).astype(np.float64, copy=False)
        P_all = np.concatenate([P for _, P in locs]).astype(np.float64, copy=False)
    for how, kap in (passes if bracket else passes[2:]):
        if len(locs):
            uk, ms, st = _bin_loci(lv_all, P_all, starts, d, how)
            res[how] = _convolve_arrays(uk, ms, st, kap.astype(np.int64), zeros, max_skip)
        else:
            res[how] = (t <= 0).astype(float)
    if not bracket:
        nan = np.full(len(taus), np.nan)
        return res["near"], np.zeros(len(taus)), nan, nan
    # floating-point summation of non-negative terms: relative error far below 1e-12
    lower = res["down"] * (1 - 1e-12)
    upper = np.minimum(1.0, res["up"] * (1 + 1e-12))
    est = np.clip(res["near"], lower, upper)
    return est, np.zeros_like(est), lower, upper


# --------------------------------------------------------------------------------------
# importance sampling by exponential tilting
# --------------------------------------------------------------------------------------
def _stack(locs):
    """Loci padded into ``[L, Gmax]`` arrays: log10 T (0 where not finite), a flag
    for finite values, log10 P (-inf in the padding)."""
    G = max(len(lv) for lv, _ in locs)
    L = len(locs)
    lv = np.zeros((L, G))
    fin = np.zeros((L, G), dtype=bool)
    lp = np.full((L, G), -np.inf)
    for i, (v, P) in enumerate(locs):
        f = np.isfinite(v)
        lv[i, :len(v)] = np.where(f, v, 0.0)
        fin[i, :len(v)] = f
        with np.errstate(divide="ignore"):
            lp[i, :len(v)] = np.log10(P)
    zero_lr = bool(np.any(~fin & np.isfinite(lp)))
    return lv, fin, lp, zero_lr


def _tilted(stack, s: float):
    """Tilted laws ``q_s = P T^s / M_l(s)`` per locus ``[L, Gmax]`` and log10 M(s)."""
    lv, fin, lp, _ = stack
    lw = np.where(fin, lp + s * lv, -np.inf) if s != 0 else lp
    mx = lw.max(axis=1, keepdims=True)
    q = 10.0 ** (lw - mx)
    z = q.sum(axis=1, keepdims=True)
    return q / z, float(np.sum(mx) + np.sum(np.log10(z)))


def _tilted_mean(stack, s: float) -> float:
    """E_{q_s}[log10 LR] (= d log10 M(s) / ds)."""
    if s == 0 and stack[3]:
        return -np.inf
    q, _ = _tilted(stack, s)
    return float(np.sum(q * stack[0]))


def _choose_tilt(stack, tau: float, s_max: float = 64.0) -> float:
    """The tilt whose tilted mean of log10 LR is ``tau`` (0 when ``tau`` is no tail)."""
    if _tilted_mean(stack, 0.0) >= tau:
        return 0.0
    lo, hi = 0.0, 1.0
    while _tilted_mean(stack, hi) < tau:
        lo, hi = hi, hi * 2
        if hi > s_max:
            return s_max
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if _tilted_mean(stack, mid) < tau:
            lo = mid
        else:
            hi = mid
    return hi


def _draw(stack, s: float, n: int, rng):
    """n tilted draws: (log10 LR, log10 M(s))."""
    lv, fin, lp, _ = stack
    q, logM = _tilted(stack, s)
    score = np.zeros(n)
    for i in range(q.shape[0]):
        cum = np.cumsum(q[i])
        idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
        np.minimum(idx, q.shape[1] - 1, out=idx)
        v = lv[i, idx]
        score += np.where(fin[i, idx], v, -np.inf)
    return score, logM


def _weighted_tail(score, logM, s, tau):
    """Mean and standard error of ``1(score >= tau) 10^(logM - s score)``."""
    n = len(score)
    ind = score >= tau
    if not ind.any():
        return 0.0, 0.0, 0
    lw = np.full(n, -np.inf)
    lw[ind] = logM - (s * score[ind] if s != 0 else 0.0)
    ref = float(np.max(lw[ind]))
    w = np.where(ind, 10.0 ** (lw - ref), 0.0)
    mean = float(w.mean())
    se = float(w.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    scale = 10.0 ** ref
    return mean * scale, se * scale, int(ind.sum())


def _sampled(locs, taus, n_samples, tilt, rng):
    T = len(taus)
    est = np.zeros(T)
    se = np.zeros(T)
    tilts = np.zeros(T)
    hits = np.zeros(T, dtype=np.int64)
    if not locs:
        est[:] = (taus <= 0).astype(float)
        return est, se, tilts, hits
    smax = float(sum(float(np.max(lv)) for lv, _ in locs))
    stack = _stack(locs)
    cache: dict[float, tuple] = {}
    for j, tau in enumerate(taus.tolist()):
        if tau > smax + 1e-9:
            continue  # above the largest possible LR: exactly 0
        s = _choose_tilt(stack, tau) if tilt == "auto" else float(tilt)
        tilts[j] = s
        if s not in cache:
            cache[s] = _draw(stack, s, n_samples, rng)
        score, logM = cache[s]
        est[j], se[j], hits[j] = _weighted_tail(score, logM, s, tau)
    return est, se, tilts, hits


# --------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------
def _log_thresholds(thresholds) -> tuple[np.ndarray, np.ndarray]:
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if t.ndim != 1 or len(t) == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"thresholds must be finite positive LRs, got {thresholds!r}")
    return t, np.log10(t)


def _prepare(tables, model, h2, dropout=0.0, dropin=0.0):
    pg = _population(model, h2, dropout, dropin)
    if pg.shape != (tables.lr.shape[1],):
        raise ValueError(f"population probabilities have shape {pg.shape}; the tables have "
                         f"{tables.lr.shape[1]} genotype columns: use the model that compiled them")
    return pg, _silent_index(model)


def _case(tables, c, t, taus, pg, silent, method, resolution, n_samples, tilt, seed,
          under="H2", bracket=True, max_skip=0) -> Exceedance:
    locs = locus_distributions(tables, c, pg, silent)
    mean_lr = float(np.prod([np.sum(P * 10.0 ** lv) for lv, P in locs])) if locs else 1.0
    if under == "H1":
        locs = _tilt_to_h1(locs)
    if method == "exact":
        est, se, lo, hi = _exact(locs, taus, resolution, bracket, max_skip)
        details = {"resolution": float(resolution), "loci": len(locs)}
        if max_skip:
            details["max_inconsistent"] = int(max_skip)
        return Exceedance(t, est, se, lo, hi, method, mean_lr, details)
    rng = np.random.default_rng(seed)
    est, se, tilts, hits = _sampled(locs, taus, n_samples, 0.0 if method == "mc" else tilt, rng)
    lo = np.maximum(0.0, est - 4 * se)
    hi = np.minimum(1.0, est + 4 * se)
    return Exceedance(t, est, se, lo, hi, method, mean_lr,
                      {"n_samples": n_samples, "tilt": tilts.tolist(), "draws_reaching": hits.tolist(),
                       "loci": len(locs)})


def _check_args(method, resolution, n_samples, tilt, max_skip=0):
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(max_skip, (int, np.integer)) or isinstance(max_skip, bool) or max_skip < 0:
        raise ValueError(f"max_inconsistent must be an integer >= 0, got {max_skip!r}")
    if max_skip and method != "exact":
        raise ValueError(f"max_inconsistent > 0 needs method='exact' (got {method!r}): tilted "
                         f"sampling cannot draw the loci that are left out")
    if method == "exact" and not resolution > 0:
        raise ValueError(f"resolution must be > 0, got {resolution}")
    if method != "exact" and int(n_samples) < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    if tilt != "auto" and not (isinstance(tilt, (int, float)) and tilt >= 0):
        raise ValueError(f"tilt must be 'auto' or a number >= 0, got {tilt!r}")


def exceedance(tables, c: int, thresholds: Sequence[float], *, model, method: str = "exact",
               h2: str = "hw", resolution: float = 1e-3, n_samples: int = 4000, tilt="auto",
               seed=None, under: str = "H2", bracket: bool = True,
               max_inconsistent: int = 0, dropout: float = 0.0,
               dropin: float = 0.0) -> Exceedance:
    """``P_H2(LR >= t)`` for case ``c`` of ``tables`` at each threshold ``t``.

    ``under="H1"`` gives ``P_H1(LR >= t)`` instead, the chance that a true
    relative of the case reaches ``t`` (the expected recall), with the
    candidate's genotype law ``P(g) T[g]`` normalised per locus; ``mean_lr``
    stays ``E_H2[LR]``.  ``bracket=False`` (exact method): the estimate only, a
    third of the work; ``lower``/``upper`` are then NaN.
    ``model``: the :class:`~kinship.search.ScoringModel` that compiled the tables
    (for the population frequencies), or the flat array of
    :func:`genotype_probabilities`.  ``method``: ``"exact"`` (certified bracket,
    grid ``resolution`` in log10 units), ``"is"`` (importance sampling,
    ``n_samples`` per tilt, ``tilt="auto"`` or a number; ``1`` = draw from H1) or
    ``"mc"`` (plain simulation).  See the module doc for the H2 population.
    ``max_inconsistent``: up to this many loci with table value 0 are left out of
    the LR (identity search with mistyped loci; exact method only, see the
    module doc).  ``dropout``, ``dropin``: the candidate's dropout and drop-in
    probabilities, for tables compiled with them (:func:`genotype_probabilities`).
    """
    _check_args(method, resolution, n_samples, tilt, max_inconsistent)
    if under not in ("H1", "H2"):
        raise ValueError(f"under must be 'H1' or 'H2', got {under!r}")
    if not 0 <= c < len(tables):
        raise IndexError(f"case index {c} out of range for {len(tables)} tables")
    t, taus = _log_thresholds(thresholds)
    pg, silent = _prepare(tables, model, h2, dropout, dropin)
    return _case(tables, c, t, taus, pg, silent, method, resolution, int(n_samples), tilt, seed, under,
                 bracket, int(max_inconsistent))


def expected_chance_hits(tables, n_queries: int, thresholds: Sequence[float], *, model,
                         method: str = "exact", h2: str = "hw", max_cases: int | None = 100,
                         n_samples: int = 2000, tilt="auto", resolution: float = 2e-3,
                         seed: int = 0, per_case: bool = False,
                         max_inconsistent: int = 0, dropout: float = 0.0,
                         dropin: float = 0.0) -> ChanceHits:
    """Expected number of unrelated (query, case) pairs reaching each threshold
    in a search of ``n_queries`` candidates against every case of ``tables``:
    ``n_queries x sum_c P_H2(LR_c >= t)``.

    ``max_cases``: with more cases, a random subset of this many (seeded) is
    computed and scaled up; the case-sampling error is in ``stderr`` (``None``:
    every case).  Other arguments as :func:`exceedance`.
    """
    _check_args(method, resolution, n_samples, tilt, max_inconsistent)
    t, taus = _log_thresholds(thresholds)
    if n_queries < 0:
        raise ValueError(f"n_queries must be >= 0, got {n_queries}")
    C = len(tables)
    if C == 0:
        z = np.zeros(len(t))
        e = ((np.zeros((0, len(t))), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros((0, len(t))),
              np.zeros((0, len(t)))) if per_case else (None,) * 5)
        return ChanceHits(t, z, z, z, z, int(n_queries), 0, 0, method, h2, 1.0, *e)
    pg, silent = _prepare(tables, model, h2, dropout, dropin)
    rng = np.random.default_rng(seed)
    if max_cases is not None and C > max_cases:
        cases = np.sort(rng.choice(C, size=int(max_cases), replace=False))
    else:
        cases = np.arange(C)
    m = len(cases)
    P, SE, LO, HI = (np.zeros((m, len(t))) for _ in range(4))
    mlr = np.zeros(m)
    seeds = rng.integers(0, 2 ** 63 - 1, size=m)
    for i, c in enumerate(cases.tolist()):
        e = _case(tables, c, t, taus, pg, silent, method, resolution, int(n_samples), tilt, int(seeds[i]),
                  max_skip=int(max_inconsistent))
        P[i], SE[i], LO[i], HI[i], mlr[i] = e.estimate, e.stderr, e.lower, e.upper, e.mean_lr
    nq = float(n_queries)
    if m == C:
        expected = nq * P.sum(axis=0)
        stderr = nq * np.sqrt((SE ** 2).sum(axis=0))
        if method == "exact":
            lower, upper = nq * LO.sum(axis=0), nq * HI.sum(axis=0)
        else:
            lower, upper = np.maximum(0.0, expected - 4 * stderr), expected + 4 * stderr
    else:
        expected = nq * C / m * P.sum(axis=0)
        between = P.var(axis=0, ddof=1) / m * (1 - m / C) if m > 1 else np.zeros(len(t))
        within = (SE ** 2).sum(axis=0) / m ** 2
        stderr = nq * C * np.sqrt(between + within)
        lower, upper = np.maximum(0.0, expected - 4 * stderr), expected + 4 * stderr
    return ChanceHits(t, expected, stderr, lower, upper, int(n_queries), C, m, method, h2,
                      float(mlr.mean()), *((P, cases, mlr, LO, HI) if per_case else (None,) * 5))
