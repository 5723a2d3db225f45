"""Discrete Laplace mixture model of Y-STR haplotype frequencies.

Model (Andersen, Eriksen & Morling 2013, "The discrete Laplace exponential
family and estimation of Y-STR haplotype frequencies", J Theor Biol 329:39-51;
R package *disclapmix*): a haplotype ``x`` over loci ``l = 1..L`` comes from one
of ``J`` clusters (think: sub-lineages) with weights ``tau_j``; within cluster
``j`` the loci are independent and discrete-Laplace around a central haplotype
``y_j``:

    P(x) = sum_j tau_j prod_l DL(x_l - y_jl; p_jl),
    DL(k; p) = (1 - p) / (1 + p) * p^|k|,        0 < p < 1,

with the dispersions linked additively on the log scale,
``log p_jl = alpha_j + beta_l`` (a cluster effect plus a locus effect, as in
disclapmix). Parameters: ``J*L`` centres, ``L + J - 1`` dispersion
coefficients, ``J - 1`` weights; ``BIC = -2 log L + k log n`` on the marginal
likelihood, and the number of clusters is the one with the smallest BIC.

Fitting (expectation / conditional maximisation; every step increases the
likelihood):

* E-step: posterior cluster probabilities ``v_ij``.
* CM-steps: ``tau_j = mean_i v_ij``; each centre ``y_jl`` is the ``v``-weighted
  median of ``x_il`` (it minimises ``sum_i v_ij |x_il - y|``, which maximises the
  likelihood because ``log p < 0``); then ``alpha, beta`` by Newton's method on
  the weighted discrete-Laplace log-likelihood, a natural exponential family in
  ``|x - y|`` with natural parameter ``log p`` (so the problem is concave).
* Start: centres from k-medoids under L1 (PAM, as disclapmix recommends), and
  ``n_init - 1`` further seeded starts spread by L1 distance (k-means++ style); the best final likelihood is kept, preferring fits in which
  every cluster holds at least ``min_cluster_size`` (3) haplotypes: a cluster on a
  single outlying haplotype with dispersion near 0 raises the likelihood without
  describing the population (the usual singularity of mixture likelihoods), and
  such *degenerate* fits are never chosen by BIC when another fit exists.

disclapmix keeps the centres fixed during EM and moves them afterwards; the
fixed point (weighted medians, EM-stationary weights and dispersions) is the
same. Dispersions are kept in ``[1e-6, 0.999]``.

Missing values (``nan``) are left out of the product (marginalised), both when
fitting and when computing probabilities: the probability of a haplotype on a
subset of loci is the same formula over that subset. Microvariant and null
alleles are not whole repeats; :func:`values_for_model` turns them into ``nan``
(so they are marginalised), which is documented in ``docs/ystr.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DiscreteLaplaceMixture", "fit_discrete_laplace", "values_for_model", "disclap_pmf"]

_ETA_MIN = np.log(1e-6)
_ETA_MAX = np.log(0.999)


def disclap_pmf(k, p):
    """``DL(k; p) = (1-p)/(1+p) p^|k|``."""
    k = np.abs(np.asarray(k, dtype=float))
    p = np.asarray(p, dtype=float)
    return (1 - p) / (1 + p) * p**k


def values_for_model(cmp: np.ndarray) -> np.ndarray:
    """Comparison values (tenths) -> float repeats; missing, null, microvariants -> nan."""
    cmp = np.asarray(cmp)
    x = cmp.astype(float) / 10.0
    bad = (cmp < 0) | (cmp % 10 != 0)
    x[bad] = np.nan
    return x


def _A(eta):
    """Log-partition ``log((1+p)/(1-p))`` with ``p = exp(eta)``."""
    p = np.exp(eta)
    return np.log1p(p) - np.log1p(-p)


def _mean(eta):
    p = np.exp(eta)
    return 2 * p / (1 - p * p)


def _var(eta):
    p = np.exp(eta)
    return 2 * p * (1 + p * p) / (1 - p * p) ** 2


@dataclass
class DiscreteLaplaceMixture:
    """A fitted discrete Laplace mixture (see the module docstring)."""

    y: np.ndarray          # (J, L) central haplotypes (repeats)
    p: np.ndarray          # (J, L) dispersions
    tau: np.ndarray        # (J,)
    loglik: float = float("nan")
    n_obs: int = 0
    converged: bool = False
    iterations: int = 0
    loci: tuple = ()
    degenerate: bool = False
    history: list = field(default_factory=list, repr=False)

    @property
    def n_clusters(self) -> int:
        return self.tau.shape[0]

    @property
    def n_loci(self) -> int:
        return self.y.shape[1]

    @property
    def n_params(self) -> int:
        J, L = self.y.shape
        return J * L + (L + J - 1) + (J - 1)

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.n_params * np.log(self.n_obs)

    def _logdens(self, x):
        """(n, J) log of tau_j * prod_l DL over typed loci."""
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[None, :]
        typed = ~np.isnan(x)
        xz = np.where(typed, x, 0.0)
        logc = np.log((1 - self.p) / (1 + self.p))  # (J, L)
        logp = np.log(self.p)
        d = np.abs(xz[:, None, :] - self.y[None, :, :])  # (n, J, L)
        t = (logc[None] + d * logp[None]) * typed[:, None, :]
        return np.log(self.tau)[None, :] + t.sum(axis=2)

    def log_probability(self, x) -> np.ndarray:
        """log P(x) for rows of repeats (nan = marginalised)."""
        ld = self._logdens(x)
        mx = ld.max(axis=1, keepdims=True)
        return (mx + np.log(np.exp(ld - mx).sum(axis=1, keepdims=True)))[:, 0]

    def probability(self, x) -> np.ndarray:
        return np.exp(self.log_probability(x))

    def cluster_probabilities(self, x) -> np.ndarray:
        ld = self._logdens(x)
        ld -= ld.max(axis=1, keepdims=True)
        e = np.exp(ld)
        return e / e.sum(axis=1, keepdims=True)

    # -- fitting -----------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        x,
        clusters: int,
        *,
        n_init: int = 5,
        max_iter: int = 1000,
        tol: float = 1e-10,
        seed: int = 0,
        init_y=None,
        loci: tuple = (),
        min_cluster_size: float = 3.0,
    ) -> "DiscreteLaplaceMixture":
        """Fit ``clusters`` components to rows of repeats ``x`` (nan = missing).

        A fit in which a cluster holds fewer than ``min_cluster_size`` haplotypes
        (expected count ``n * tau_j``) is *degenerate*: such a cluster sits on one
        or two haplotypes with a dispersion near 0, which inflates the likelihood
        without describing the population. Non-degenerate starts are preferred;
        :func:`fit_discrete_laplace` never picks a degenerate fit when another exists.
        """
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError("x must be a non-empty (n, L) array")
        ok = ~np.isnan(x)
        if np.any(x[ok] != np.round(x[ok])):
            raise ValueError("the discrete Laplace model takes whole repeat numbers (use values_for_model)")
        J = int(clusters)
        if J < 1:
            raise ValueError("clusters must be >= 1")
        keep = ~np.isnan(x).all(axis=1)
        x = x[keep]
        if x.shape[0] < J:
            raise ValueError(f"{x.shape[0]} haplotypes cannot fit {J} clusters")
        rng = np.random.default_rng(seed)
        best = None
        if init_y is not None:
            starts = [np.asarray(init_y, dtype=float)]
        else:
            starts = [_pam_centres(x, J, rng)]
            starts += [_init_centres(x, J, rng) for _ in range(max(0, n_init - 1) if J > 1 else 0)]
        for y0 in starts:
            m = _em(x, y0, max_iter, tol)
            m.degenerate = bool((m.tau * m.n_obs).min() < min_cluster_size)
            if best is None or (best.degenerate, -best.loglik) > (m.degenerate, -m.loglik):
                best = m
        best.loci = tuple(loci)
        return best


def _init_centres(x, J, rng):
    n = x.shape[0]
    xz = np.where(np.isnan(x), np.nanmedian(x, axis=0), x)
    idx = [int(rng.integers(n))]
    d = np.abs(xz - xz[idx[0]]).sum(1)
    for _ in range(1, J):
        w = d**2
        if w.sum() <= 0:
            i = int(rng.integers(n))
        else:
            i = int(rng.choice(n, p=w / w.sum()))
        idx.append(i)
        d = np.minimum(d, np.abs(xz - xz[i]).sum(1))
    return xz[idx].copy()


def _pam_centres(x, J, rng, max_points: int = 1000, max_swaps: int = 50):
    """k-medoids under L1 (PAM: greedy BUILD, then best-improvement SWAP) on the
    distinct haplotypes (weighted by their counts; at most ``max_points`` of them,
    the most frequent first)."""
    xz = np.where(np.isnan(x), np.nanmedian(x, axis=0), x)
    u, c = np.unique(xz, axis=0, return_counts=True)
    if u.shape[0] > max_points:
        keep = np.argsort(-c, kind="stable")[:max_points]
        u, c = u[keep], c[keep]
    w = c.astype(float)
    D = np.abs(u[:, None, :] - u[None, :, :]).sum(2)
    k = u.shape[0]
    J = min(J, k)
    med = [int(np.argmin(w @ D))]
    best = D[:, med[0]].copy()
    for _ in range(1, J):
        gain = (w[:, None] * np.maximum(best[:, None] - D, 0)).sum(0)
        gain[med] = -1
        j = int(np.argmax(gain))
        med.append(j)
        best = np.minimum(best, D[:, j])
    cost = float(w @ best)
    for _ in range(max_swaps):
        improved = False
        for pos in range(J):
            others = [m for i, m in enumerate(med) if i != pos]
            base = D[:, others].min(1) if others else np.full(k, np.inf)
            cand = (w[:, None] * np.minimum(base[:, None], D)).sum(0)
            j = int(np.argmin(cand))
            if cand[j] < cost - 1e-9 and j not in med:
                med[pos] = j
                cost = float(cand[j])
                improved = True
        if not improved:
            break
    y = u[med]
    if y.shape[0] < J:  # fewer distinct haplotypes than clusters
        y = np.vstack([y, _init_centres(x, J - y.shape[0], rng)])
    return y.astype(float)


def _newton_dispersion(W, D, alpha, beta, iters=100):
    """Maximise sum_jl D_jl eta_jl - W_jl A(eta_jl), eta = alpha_j + beta_l (beta_0 = 0)."""
    J, L = W.shape

    def obj(a, b):
        eta = np.clip(a[:, None] + b[None, :], _ETA_MIN, _ETA_MAX)
        return float((D * eta - W * _A(eta)).sum())

    def unpack(th):
        return th[:J], np.concatenate([[0.0], th[J:]])

    th = np.concatenate([alpha, beta[1:]])
    cur = obj(*unpack(th))
    for _ in range(iters):
        a, b = unpack(th)
        eta = np.clip(a[:, None] + b[None, :], _ETA_MIN, _ETA_MAX)
        r = D - W * _mean(eta)          # d/deta
        h = W * _var(eta)               # -d2/deta2
        g = np.concatenate([r.sum(1), r.sum(0)[1:]])
        H = np.zeros((J + L - 1, J + L - 1))
        H[np.arange(J), np.arange(J)] = h.sum(1)
        H[J + np.arange(L - 1), J + np.arange(L - 1)] = h.sum(0)[1:]
        H[:J, J:] = h[:, 1:]
        H[J:, :J] = h[:, 1:].T
        H += 1e-10 * np.eye(H.shape[0])
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        while t > 1e-8:
            new = th + t * step
            val = obj(*unpack(new))
            if val >= cur - 1e-12:
                break
            t *= 0.5
        if t <= 1e-8:
            break
        gain = val - cur
        th, cur = new, val
        if abs(gain) < 1e-12 * (1 + abs(cur)) or np.abs(t * step).max() < 1e-10:
            break
    return unpack(th)


def _em(x, y0, max_iter, tol) -> DiscreteLaplaceMixture:
    """EM with CM-steps. Every per-observation sum goes through a sparse one-hot
    matrix of (locus, value) indicators, so an iteration costs O(n L J) multiply-adds
    in two sparse products instead of sorting each (cluster, locus) column."""
    from scipy import sparse

    n, L = x.shape
    J = y0.shape[0]
    typed = ~np.isnan(x)
    xi = np.where(typed, x, 0).astype(np.int64)
    lo = np.array([xi[typed[:, l], l].min() if typed[:, l].any() else 0 for l in range(L)])
    hi = np.array([xi[typed[:, l], l].max() if typed[:, l].any() else 0 for l in range(L)])
    V = hi - lo + 1
    off = np.concatenate([[0], np.cumsum(V)[:-1]])
    G = int(V.sum())
    rows, cols = np.nonzero(typed)
    O = sparse.csr_matrix((np.ones(rows.size), (rows, off[cols] + xi[rows, cols] - lo[cols])), shape=(n, G))
    OT = O.T.tocsr()
    loc = np.repeat(np.arange(L), V)
    vals = (lo[loc] + np.concatenate([np.arange(v) for v in V])).astype(float)
    y = np.array(y0, dtype=float)
    alpha = np.full(J, np.log(0.3))
    beta = np.zeros(L)
    tau = np.full(J, 1.0 / J)
    p = np.exp(np.clip(alpha[:, None] + beta[None, :], _ETA_MIN, _ETA_MAX))
    ll_old = -np.inf
    hist = []
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        # E-step: log tau_j + sum_l log DL(x_il - y_jl), via the one-hot table
        logc = np.log((1 - p) / (1 + p))
        logp = np.log(p)
        T = (logc[:, loc] + np.abs(vals[None, :] - y[:, loc]) * logp[:, loc]).T  # (G, J)
        ld = np.asarray(O @ T) + np.log(tau)[None, :]
        mx = ld.max(axis=1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(ld - mx).sum(axis=1))
        ll = float(lse.sum())
        hist.append(ll)
        v = np.exp(ld - lse[:, None])
        if it > 1 and ll - ll_old < tol * (1.0 + abs(ll)):
            converged = True
            break
        ll_old = ll
        # CM-steps: weights, centres (weighted medians), dispersions (Newton)
        tau = np.maximum(v.mean(axis=0), 1e-300)
        tau /= tau.sum()
        H = np.asarray(OT @ v)  # (G, J): weight of each (locus, value) per cluster
        for l in range(L):
            Hl = H[off[l]:off[l] + V[l]]
            cum = np.cumsum(Hl, axis=0)
            tot = cum[-1]
            idx = np.argmax(cum >= 0.5 * tot[None, :], axis=0)
            y[:, l] = np.where(tot > 0, lo[l] + idx, y[:, l])
        W = np.add.reduceat(H, off, axis=0).T                                   # (J, L)
        D = np.add.reduceat(H * np.abs(vals[:, None] - y[:, loc].T), off, axis=0).T
        alpha, beta = _newton_dispersion(W, D, alpha, beta)
        p = np.exp(np.clip(alpha[:, None] + beta[None, :], _ETA_MIN, _ETA_MAX))
    m = DiscreteLaplaceMixture(y.copy(), p, tau)
    m.loglik = float(m.log_probability(x).sum())
    m.n_obs = n
    m.converged = converged
    m.iterations = it
    m.history = hist
    return m


def fit_discrete_laplace(
    x, clusters="adaptive", *, n_init: int = 5, seed: int = 0, loci: tuple = (),
    max_clusters: int = 30, patience: int = 2, **kwargs
) -> tuple[DiscreteLaplaceMixture, dict]:
    """Fit several numbers of clusters; return the fit with the smallest BIC and ``{J: fit}``.

    ``clusters``: an iterable of cluster numbers, or ``"adaptive"`` (as disclapmix's
    ``disclapmix_adaptive``): 1, 2, 3, ... until the BIC has not improved for
    ``patience`` consecutive numbers, or ``max_clusters``.
    """
    fits = {}

    def one(J):
        fits[J] = DiscreteLaplaceMixture.fit(x, J, n_init=n_init, seed=seed, loci=loci, **kwargs)
        return fits[J]

    if isinstance(clusters, str):
        if clusters != "adaptive":
            raise ValueError("clusters must be 'adaptive' or an iterable of integers")
        best_bic, worse = float("inf"), 0
        for J in range(1, int(max_clusters) + 1):
            f = one(J)
            if not f.degenerate and f.bic < best_bic:
                best_bic, worse = f.bic, 0
            else:
                worse += 1
                if worse >= patience:
                    break
    else:
        for J in clusters:
            one(int(J))
    best = min(fits.values(), key=lambda f: (f.degenerate, f.bic))
    return best, fits
