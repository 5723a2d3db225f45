"""Haplotype match probability: how often an unrelated man has the query's haplotype.

All estimators work on the slots compared for a pair (the slots both men
typed), so a Yfiler-typed candidate is judged on the Yfiler slots only. The
population sample ("database", size ``N`` = its profiles typed on those slots)
is the search database unless another is given. ``x`` is the number of
population haplotypes identical to the query on those slots.

===================  ==========================================================
estimator            match probability
===================  ==========================================================
``augmented_count``  ``(x + a) / (N + a)``, the database augmented with the query
                     (``a = 1``, default) or with query and candidate (``a = 2``)
``clopper_pearson``  upper one-sided ``confidence`` (0.95) Clopper-Pearson bound
                     of ``x / N``: the ``confidence`` quantile of
                     Beta(``x + 1``, ``N - x``); ``1 - (1 - confidence)^(1/N)``
                     when ``x = 0``; 1 when ``x = N``
``kappa``            Brenner (2010, FSI:Genetics 4:281-291): for a haplotype
                     not in the database, ``(1 - kappa) / n`` with ``n = N + 1``
                     the database extended by the query and ``kappa`` the share
                     of that extended database made of singletons (haplotypes
                     seen once). The kappa method is for unseen haplotypes; for
                     ``x >= 1`` the augmented count ``(x + 1) / (N + 1)`` is
                     returned (the ``method`` column says which was used)
``discrete_laplace`` the probability under a discrete Laplace mixture fitted to
                     the population (:mod:`kinship.ystr.disclap`), summed over
                     clusters, with untyped slots marginalised
===================  ==========================================================

Worked values (checked in the tests): ``N = 100``, ``x = 0``:
augmented count 1/101 = 0.00990; Clopper-Pearson 95%: ``1 - 0.05^(1/100)`` =
0.02951. A database of 10 with haplotype counts ``{A: 3, B: 2, C..G: 1 each}``
(5 singletons) and an unseen query: extended ``n = 11`` with 6 singletons,
``kappa = 6/11``, match probability ``(5/11)/11 = 0.04132``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .haplotypes import YHaplotypes

__all__ = [
    "AugmentedCount",
    "ClopperPearson",
    "BrennerKappa",
    "DiscreteLaplace",
    "HaplotypeCounts",
    "MatchProbabilities",
    "get_estimator",
    "match_probability",
]


def _mask_slots(mask: int, S: int) -> np.ndarray:
    return np.array([s for s in range(S) if (int(mask) >> s) & 1], dtype=np.int64)


_FNV_PRIME = np.uint64(1099511628211)
_FNV_OFFSET = np.uint64(14695981039346656037)


def _row_hash(rows: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a style hash of int16 rows (wrapping uint64 arithmetic)."""
    h = np.full(rows.shape[0], _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for s in range(rows.shape[1]):
            h ^= rows[:, s].astype(np.uint16).astype(np.uint64)
            h *= _FNV_PRIME
    return h


def _distinct(rows: np.ndarray, weights: np.ndarray | None = None):
    """Distinct rows, their total weights (counts) and hashes, sorted by hash.

    Rows are grouped by a 64-bit hash and every group is checked row by row, so a
    hash collision cannot merge different haplotypes (it falls back to an exact
    lexicographic ``np.unique``).
    """
    n = rows.shape[0]
    w = np.ones(n, np.int64) if weights is None else np.asarray(weights, np.int64)
    if n == 0:
        return rows[:0], w[:0], np.zeros(0, np.uint64)
    h = _row_hash(rows)
    order = np.argsort(h, kind="stable")
    hs, rs, ws = h[order], rows[order], w[order]
    same_h = hs[1:] == hs[:-1]
    same_row = (rs[1:] == rs[:-1]).all(axis=1)
    if np.any(same_h & ~same_row):  # a collision: exact path
        u, inv = np.unique(rows, axis=0, return_inverse=True)
        c = np.bincount(inv.ravel(), weights=w, minlength=u.shape[0]).astype(np.int64)
        hu = _row_hash(u)
        o = np.argsort(hu, kind="stable")
        return u[o], c[o], hu[o]
    start = np.concatenate([[True], ~same_h])
    idx = np.flatnonzero(start)
    return rs[idx], np.add.reduceat(ws, idx), hs[idx]


class HaplotypeCounts:
    """Exact haplotype counts of a population on any set of slots (cached per set).

    ``population``: a :class:`YHaplotypes` or a sequence of shards on one panel.
    For a slot set (bit mask) ``M`` it counts the profiles typed on all of ``M``
    (``N``), the distinct haplotypes on ``M`` and how often each occurs. Rows are
    grouped by a 64-bit hash and then compared value by value, so counts are
    exact; one pass over the shards per slot set.
    """

    def __init__(self, population):
        self.shards = [population] if isinstance(population, YHaplotypes) else population
        if len(self.shards) == 0:
            raise ValueError("empty population")
        self.panel = self.shards[0].panel
        self._cache: dict[int, tuple] = {}

    def table(self, mask: int):
        """``(distinct rows on M, their counts, their hashes (sorted), N)``."""
        mask = int(mask)
        hit = self._cache.get(mask)
        if hit is not None:
            return hit
        slots = _mask_slots(mask, self.panel.n_slots)
        parts, N = [], 0
        m64 = np.uint64(mask)
        for sh in self.shards:
            if sh.panel.slots != self.panel.slots:
                raise ValueError("population shards must share one panel")
            ok = (sh.typed_mask() & m64) == m64
            rows = np.ascontiguousarray(sh.comparison_values()[ok][:, slots])
            N += int(ok.sum())
            parts.append(_distinct(rows)[:2])
        if len(parts) == 1:
            u, c = parts[0]
            hsh = _row_hash(u)
        else:
            u, c, hsh = _distinct(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        out = (u, c, hsh, N)
        self._cache[mask] = out
        return out

    def count(self, rows: np.ndarray, mask: int):
        """``(x, N, singletons)``: counts of each query row on slot mask ``M``."""
        u, c, hsh, N = self.table(mask)
        slots = _mask_slots(mask, self.panel.n_slots)
        q = np.ascontiguousarray(np.asarray(rows)[:, slots]).astype(np.int16)
        x = np.zeros(q.shape[0], np.int64)
        if u.shape[0]:
            qh = _row_hash(q)
            lo = np.searchsorted(hsh, qh, "left")
            hi = np.searchsorted(hsh, qh, "right")
            one = hi - lo == 1
            pos = np.minimum(lo, hsh.size - 1)
            hit = one & (u[pos] == q).all(axis=1)
            x[hit] = c[pos[hit]]
            for i in np.flatnonzero(hi - lo > 1):  # a hash shared by several haplotypes
                for j in range(lo[i], hi[i]):
                    if (u[j] == q[i]).all():
                        x[i] = c[j]
                        break
        return x, N, int((c == 1).sum())


@dataclass
class MatchProbabilities:
    """Match probabilities of query rows, with what they were computed from."""

    estimator: str
    value: np.ndarray
    count: np.ndarray          # x (-1 where not a count-based estimate)
    population_size: np.ndarray  # N
    method: np.ndarray         # per row: which formula was used (str)


class _Estimator:
    name = ""

    def estimate(self, rows, masks, counts: HaplotypeCounts) -> MatchProbabilities:
        rows = np.asarray(rows)
        masks = np.asarray(masks, dtype=np.uint64)
        n = rows.shape[0]
        x = np.zeros(n, np.int64)
        N = np.zeros(n, np.int64)
        sing = np.zeros(n, np.int64)
        for mk in np.unique(masks):
            sel = masks == mk
            xx, NN, ss = counts.count(rows[sel], int(mk))
            x[sel], N[sel], sing[sel] = xx, NN, ss
        v, method = self._from_counts(x, N, sing)
        return MatchProbabilities(self.name, v, x, N, method)

    def _from_counts(self, x, N, singletons):  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class AugmentedCount(_Estimator):
    """``(x + augment) / (N + augment)``."""

    augment: int = 1
    name: str = field(default="augmented_count", init=False)

    def __post_init__(self):
        if self.augment not in (1, 2):
            raise ValueError("augment must be 1 (the query) or 2 (query and candidate)")

    def _from_counts(self, x, N, singletons):
        v = (x + self.augment) / (N + self.augment)
        return v, np.full(x.shape, self.name, dtype=object)


@dataclass
class ClopperPearson(_Estimator):
    """Upper one-sided Clopper-Pearson bound of ``x / N`` at ``confidence``."""

    confidence: float = 0.95
    name: str = field(default="clopper_pearson", init=False)

    def __post_init__(self):
        if not 0.0 < self.confidence < 1.0:
            raise ValueError("confidence must be in (0, 1)")

    def _from_counts(self, x, N, singletons):
        from scipy.stats import beta

        x = np.asarray(x, dtype=float)
        N = np.asarray(N, dtype=float)
        v = np.ones(x.shape)
        ok = (N > 0) & (x < N)
        v[ok] = beta.ppf(self.confidence, x[ok] + 1.0, N[ok] - x[ok])
        return v, np.full(x.shape, self.name, dtype=object)


@dataclass
class BrennerKappa(_Estimator):
    """Brenner's kappa method for unseen haplotypes; augmented count otherwise."""

    name: str = field(default="kappa", init=False)

    def _from_counts(self, x, N, singletons):
        x = np.asarray(x)
        n_ext = N + 1.0
        kappa = (singletons + 1.0) / n_ext
        v = np.where(x == 0, (1.0 - kappa) / n_ext, (x + 1.0) / (N + 1.0))
        method = np.where(x == 0, "kappa", "augmented_count").astype(object)
        return v, method


@dataclass
class DiscreteLaplace(_Estimator):
    """Probability under a discrete Laplace mixture (fitted on the population if not given).

    ``model``: a fitted :class:`~kinship.ystr.disclap.DiscreteLaplaceMixture` on the
    panel's compare slots. Otherwise one is fitted on up to ``fit_sample``
    population profiles (evenly spaced rows, so reproducible), the number of
    clusters chosen by BIC (``clusters="adaptive"``: 1, 2, ... until BIC stops
    improving; or an iterable of numbers). The fitted model is kept on the
    estimator (``.model``, all fits in ``.fits``) and reused.
    """

    model: object = None
    clusters: object = "adaptive"
    max_clusters: int = 30
    fit_sample: int = 10_000
    n_init: int = 2
    seed: int = 0
    name: str = field(default="discrete_laplace", init=False)

    def fitted(self, counts: HaplotypeCounts):
        if self.model is None:
            from .disclap import fit_discrete_laplace, values_for_model

            rows = np.concatenate([s.comparison_values() for s in counts.shards])
            step = max(1, rows.shape[0] // self.fit_sample)
            x = values_for_model(rows[::step])
            self.model, self.fits = fit_discrete_laplace(
                x, self.clusters, n_init=self.n_init, seed=self.seed, loci=counts.panel.compare_slots,
                max_clusters=self.max_clusters,
            )
        return self.model

    def estimate(self, rows, masks, counts: HaplotypeCounts) -> MatchProbabilities:
        from .disclap import values_for_model

        model = self.fitted(counts)
        rows = np.asarray(rows)
        masks = np.asarray(masks, dtype=np.uint64)
        S = rows.shape[1]
        if model.n_loci != S:
            raise ValueError(f"discrete Laplace model has {model.n_loci} loci, haplotypes have {S} slots")
        x = values_for_model(rows)
        bits = ((masks[:, None] >> np.arange(S, dtype=np.uint64)) & np.uint64(1)).astype(bool)
        x[~bits] = np.nan
        v = model.probability(x)
        n = rows.shape[0]
        return MatchProbabilities(self.name, v, np.full(n, -1), np.full(n, model.n_obs),
                                  np.full(n, self.name, dtype=object))


_NAMES = {
    "augmented_count": AugmentedCount,
    "augmented": AugmentedCount,
    "count": AugmentedCount,
    "clopper_pearson": ClopperPearson,
    "clopper-pearson": ClopperPearson,
    "kappa": BrennerKappa,
    "brenner_kappa": BrennerKappa,
    "discrete_laplace": DiscreteLaplace,
    "disclap": DiscreteLaplace,
}


def get_estimator(estimator) -> _Estimator:
    """An estimator object from a name or an instance."""
    if isinstance(estimator, _Estimator):
        return estimator
    try:
        return _NAMES[str(estimator).lower()]()
    except KeyError:
        raise ValueError(
            f"unknown match-probability estimator {estimator!r}; choose one of "
            "'augmented_count', 'clopper_pearson', 'kappa', 'discrete_laplace' "
            "(or pass an AugmentedCount/ClopperPearson/BrennerKappa/DiscreteLaplace object)"
        ) from None


def match_probability(queries: YHaplotypes, population, estimator="augmented_count", masks=None,
                      counts: HaplotypeCounts | None = None) -> MatchProbabilities:
    """Match probability of each query on ``masks`` (default: the query's own typed slots).

    >>> from kinship.ystr import YHaplotypes
    >>> pop = YHaplotypes.from_records([{"sample": i, "DYS19": 14 + (i % 2)} for i in range(9)])
    >>> mp = match_probability(pop[:1], pop, "augmented_count")
    >>> mp.count.tolist(), mp.population_size.tolist(), round(float(mp.value[0]), 6)
    ([5], [9], 0.6)
    """
    counts = counts or HaplotypeCounts(population)
    q = queries.to_panel(counts.panel, drop_typed=True)
    if masks is None:
        masks = q.typed_mask()
    est = get_estimator(estimator)
    return est.estimate(q.comparison_values(), masks, counts)
