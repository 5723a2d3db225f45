"""The validation suite: what a hit is worth, measured on simulated populations.

For each panel and mode the suite simulates families with a missing child
(:mod:`validation.simulate`) plus unrelated persons, writes them as profile
shards, searches every query against every case, and reports per threshold

* **recall**: the fraction of planted relatives (the missing child against his
  own case) with ``LR >= t``, beside the **expected recall** computed without
  simulation (``P_H1(LR >= t)`` by exact convolution, :mod:`kinship.chance`);
* **false hits per query**: unrelated pairs with ``LR >= t`` divided by the
  number of queries, beside the number :func:`kinship.chance.expected_chance_hits`
  predicts for the same search;
* the distributions of log10 LR for true and unrelated pairs (Tippett plots);
* checks of the theory: the mean LR over unrelated pairs against its exact value
  ``E_H2[LR] = prod_l sum_g P(g) T[g]`` (1 for a proper LR), the truncated means
  ``mean(LR 1(LR < t))`` against ``E_H2[LR] P_H1(LR < t)``, and the fraction of
  unrelated pairs with ``LR >= t`` against Markov's bound ``E_H2[LR] / t``;
* the chance hits to expect in a search of any size: ``n_comparisons x
  P_H2(LR >= t)`` averaged over cases (e.g. 10^12 comparisons).

Modes
-----
================  ========================  ==========================
mode              family simulated          references of the case
================  ========================  ==========================
``duo``           ``father`` / ``mother``   one parent (half of each)
``couple``        ``both-parents``          father and mother
``full-sibling``  ``sibling``               one full sibling
``half-sibling``  ``half-sibling``          one paternal half sibling
================  ========================  ==========================

The search is the engine's when :mod:`engine` exposes ``run`` (see
:func:`engine_available`), otherwise :func:`kinship.search.score`, the
screened kernel the engine is built on; either way its hits are checked
against an exhaustive scan of every pair (:func:`kinship.search.score_exhaustive`),
which also gives the distributions.
"""
from __future__ import annotations

import json
import math
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

import kinship
from kinship.chance import exceedance, expected_chance_hits, format_lr

from .simulate import read_truth, simulate_dataset

__all__ = [
    "CODIS20", "PANELS", "MODES", "DEFAULT_THRESHOLDS", "default_mutation", "SuiteConfig",
    "ModeResult", "run_mode", "run_suite", "load_results", "compile_mode", "engine_available",
    "write_outputs",
]

# the panels and modes (their own light module: the command line lists them
# without importing this one)
from .names import CODIS20, MODES, PANELS  # noqa: E402

DEFAULT_THRESHOLDS = tuple(float(10 ** k) for k in range(0, 13))


def default_mutation() -> kinship.MutationModel:
    """Stepwise mutation, male rate 0.002, female 0.0005 per meiosis (about the
    average autosomal STR rates, paternal about four times maternal), rate2 1e-6
    for microvariant changes, range 0.1.  The same model simulates and scores."""
    return kinship.MutationModel(female=kinship.Stepwise(rate=0.0005, rate2=1e-6, range=0.1),
                                 male=kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1))


@dataclass
class SuiteConfig:
    """What the suite simulates and how it searches (see ``docs/validation.md``)."""

    panels: Sequence[str] = ("codis20", "vfp23")
    modes: Sequence[str] = tuple(MODES)
    n_cases: int = 1000
    n_unrelated: int = 1000
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS
    frequencies: str = "nist1036_all"
    founders: str | None = "nist"
    mutation: object = "default"
    theta: float = 0.0
    error_rate: float = 0.0
    dropout_rate: float = 0.0
    #: the dropout model (docs/dropout.md): simulated *and* scored with
    query_dropout: float = 0.0
    reference_dropout: float = 0.0
    dropin: float = 0.0
    seed: int = 1
    chance_method: str = "exact"
    chance_cases: int | None = 100
    resolution: float = 2e-3
    search_threshold: float = 100.0
    runner: str = "auto"
    comparisons: Sequence[float] = (1e9, 1e12)
    work_dir: str | None = None
    keep_data: bool = False

    def mutation_model(self):
        if isinstance(self.mutation, str):
            if self.mutation == "default":
                return default_mutation()
            if self.mutation == "none":
                return None
            raise ValueError(f"mutation must be 'default', 'none' or a MutationModel, got {self.mutation!r}")
        return self.mutation

    def check(self):
        for p in self.panels:
            _panel(p)
        for m in self.modes:
            if m not in MODES:
                raise ValueError(f"unknown mode {m!r}; known: {', '.join(MODES)}")
        if self.runner not in ("auto", "engine", "direct"):
            raise ValueError(f"runner must be auto, engine or direct, got {self.runner!r}")
        if self.runner == "engine" and not engine_available():
            raise RuntimeError("runner='engine' but the engine package has no run(); use runner='direct'")
        if self.n_cases < 1 or self.n_unrelated < 0:
            raise ValueError("n_cases must be >= 1 and n_unrelated >= 0")

    def describe(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("mutation", "work_dir", "keep_data")}
        m = self.mutation_model()
        d["mutation"] = None if m is None else m.describe()
        d["panels"] = {name: list(loci) for name, loci in map(_panel, self.panels)}
        d["modes"] = {m: MODES[m] for m in self.modes}
        d["thresholds"] = [float(t) for t in self.thresholds]
        return d


def _panel(p) -> tuple[str, tuple]:
    """``"codis20"`` or ``(name, loci)`` -> ``(name, loci)``."""
    if isinstance(p, str):
        if p not in PANELS:
            raise ValueError(f"unknown panel {p!r}; known: {', '.join(PANELS)} (or give (name, loci))")
        return p, tuple(PANELS[p])
    name, loci = p
    return str(name), tuple(loci)


#: bins of the stored log10 LR histograms: (first edge, last edge, width); values
#: beyond are counted in the end bins, LR = 0 apart
HIST_RANGE = (-160.0, 60.0, 0.25)


def hist_edges(r=HIST_RANGE) -> np.ndarray:
    lo, hi, w = r
    return lo + w * np.arange(int(round((hi - lo) / w)) + 1)


@dataclass
class ModeResult:
    """Everything measured for one panel and mode (lists run over ``thresholds``).

    Counts at thresholds ``>= search_threshold`` come from the search under test
    (the same pairs with the same LRs as the exhaustive scan: ``search_matches_exhaustive``); below it
    from the exhaustive scan.  ``*_expected`` are computed without simulation by
    :mod:`kinship.chance` (exact convolution) on ``chance_cases`` cases, with
    ``*_lower``/``*_upper`` the certified brackets of the mean over those cases
    and ``*_se`` the error of using a sample of the cases (0 when all are used).
    ``trunc_mean_*``: the mean over unrelated pairs of
    ``LR 1(LR < t)``, whose exact value is ``E_H2[LR] P_H1(LR < t)``.
    """

    panel: str
    mode: str
    loci: list
    n_cases: int
    n_queries: int
    n_true_pairs: int
    n_unrelated_pairs: int
    thresholds: list
    search_threshold: float
    recall: list
    recall_expected: list
    recall_expected_lower: list
    recall_expected_upper: list
    recall_expected_se: list
    false_hits: list
    false_hits_expected: list
    false_hits_expected_se: list
    unrelated_fraction: list
    unrelated_fraction_expected: list
    unrelated_fraction_lower: list
    unrelated_fraction_upper: list
    trunc_mean_observed: list
    trunc_mean_se: list
    trunc_mean_expected: list
    trunc_mean_expected_lower: list
    trunc_mean_expected_upper: list
    mean_lr_unrelated: float
    mean_lr_unrelated_se: float
    mean_lr_exact: float
    chance_cases: int
    log10_lr_true: list
    hist_unrelated: list
    hist_range: list
    zero_lr_unrelated: int
    runner: str
    search_matches_exhaustive: bool
    seconds: dict = field(default_factory=dict)
    simulation: dict = field(default_factory=dict)

    @property
    def false_hits_per_query(self) -> np.ndarray:
        return np.asarray(self.false_hits, dtype=float) / max(1, self.n_queries)

    def chance_hits(self, n_comparisons: float) -> np.ndarray:
        """Expected chance hits at each threshold in a search of ``n_comparisons``."""
        return float(n_comparisons) * np.asarray(self.unrelated_fraction_expected)

    def lr_for_one_chance_hit(self, n_comparisons: float) -> float:
        """The LR that unrelated pairs reach about once in ``n_comparisons``
        (log-linear interpolation between thresholds); ``0`` when fewer than one
        pair is expected even at the smallest threshold, ``inf`` when more than one
        is expected at the largest."""
        e = np.log10(np.maximum(self.chance_hits(n_comparisons), 1e-300))
        x = np.log10(np.asarray(self.thresholds))
        if e[0] < 0:
            return 0.0
        if e[-1] >= 0:
            return float("inf")
        k = int(np.nonzero(e < 0)[0][0])
        f = e[k - 1] / (e[k - 1] - e[k])
        return float(10 ** (x[k - 1] + f * (x[k] - x[k - 1])))

    def checks(self) -> dict:
        """The theory checks with the numbers behind them.

        Each compares an observed value with the certified bracket of its exact
        value: ``z`` is the distance outside the bracket (0 inside) in units of
        the sampling noise (Poisson, binomial or the sample's own standard error,
        and the case-sampling error); |z| above about 4 deserves a look.
        """
        t = np.asarray(self.thresholds)
        n_u = max(1, self.n_unrelated_pairs)
        cnt = np.asarray(self.false_hits, dtype=float)
        bound = self.mean_lr_exact / t
        # Markov: P(LR >= t) <= E[LR] / t; the observed fraction may exceed it only by
        # sampling error (one-sided, about 3 Poisson standard errors)
        markov_ok = bool(np.all((cnt - 3.1 * np.sqrt(cnt)) / n_u <= bound))
        exact_ok = bool(np.all(np.asarray(self.unrelated_fraction_lower) <= bound * (1 + 1e-9)))
        exp = np.asarray(self.false_hits_expected)
        flo = np.asarray(self.unrelated_fraction_lower) * n_u
        fhi = np.asarray(self.unrelated_fraction_upper) * n_u
        zf = _outside(cnt, flo, fhi, np.maximum(exp, 1.0) + np.asarray(self.false_hits_expected_se) ** 2)
        use = exp >= 5
        n = max(1, self.n_true_pairs)
        rec = np.asarray(self.recall) * n
        p = np.asarray(self.recall_expected)
        zr = _outside(rec, np.asarray(self.recall_expected_lower) * n, np.asarray(self.recall_expected_upper) * n,
                      np.maximum(n * p * (1 - p), 0.25) + (np.asarray(self.recall_expected_se) * n) ** 2)
        # E[LR 1(LR < t)] is carried by pairs with LR just below t: compare only where
        # the sample holds many pairs at or above t (expected count >= 10)
        tse = np.asarray(self.trunc_mean_se)
        tuse = (exp >= 10) & (tse > 0)
        zt = _outside(np.asarray(self.trunc_mean_observed), np.asarray(self.trunc_mean_expected_lower),
                      np.asarray(self.trunc_mean_expected_upper), np.where(tse > 0, tse, 1.0) ** 2)[tuse]
        return {
            "mean_lr": {"observed": self.mean_lr_unrelated, "stderr": self.mean_lr_unrelated_se,
                        "exact": self.mean_lr_exact},
            "truncated_mean": {"max_abs_z": float(np.max(np.abs(zt))) if len(zt) else 0.0,
                               "thresholds_compared": int(tuse.sum())},
            "markov": {"max_t_fraction": float(np.max(cnt / n_u * t)),
                       "max_t_exact": float(np.max(np.asarray(self.unrelated_fraction_expected) * t)),
                       "mean_lr_exact": self.mean_lr_exact, "observed_ok": markov_ok, "exact_ok": exact_ok},
            "false_hits_vs_expected": {"max_abs_z": float(np.max(np.abs(zf[use]))) if use.any() else 0.0,
                                       "thresholds_compared": int(use.sum())},
            "recall_vs_expected": {"max_abs_z": float(np.max(np.abs(zr)))},
        }


def _outside(obs, lo, hi, var):
    """Signed distance of ``obs`` outside ``[lo, hi]`` in standard deviations."""
    d = np.where(obs < lo, obs - lo, np.where(obs > hi, obs - hi, 0.0))
    return d / np.sqrt(np.maximum(var, 1e-300))


# --------------------------------------------------------------------------------------
# the search
# --------------------------------------------------------------------------------------
def engine_available() -> bool:
    """True when the engine exposes ``run`` (``engine/api.py`` or ``engine/__init__.py``)."""
    try:
        import engine
    except ImportError:
        return False
    if hasattr(engine, "run"):
        return True
    try:
        from engine import api  # noqa: F401
    except ImportError:
        return False
    return hasattr(api, "run")


def compile_mode(model, mode: str, cases: list[dict], **dropout):
    """Tables of the cases of ``mode`` (``cases`` as for
    :meth:`ScoringModel.compile_cases`): the core's case compiler, so the LR is
    ``P(g | case, H1) / P(g | H2)`` with the relatives kept in their places in the
    case pedigree under both hypotheses, as in the engine's ``case`` mode (see
    ``kinship/tables.py``, "Two conventions": a single sibling's pairwise table
    differs from its case table under non-stationary mutation)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    return model.compile_cases(cases, **dropout)


def _sex_word(s: str) -> str:
    return {"M": "male", "F": "female"}.get(s, "unknown")


def load_search_inputs(path, truth_path, frequencies, mutation, theta):
    """Queries, cases and the truth of a simulated dataset, coded for a
    :class:`~kinship.search.ScoringModel`."""
    import formats
    from kinship.search import ScoringModel

    ds = formats.open_dataset(path)
    q = ds.load(kind="query")
    r = ds.load(kind="reference")
    model = ScoringModel(frequencies, ds.loci, mutation, theta, extra_alleles=ds.alleles)
    qcodes, _ = q.to_table_indices(frequencies)
    rcodes, _ = r.to_table_indices(frequencies)
    order = np.argsort(r.case_id, kind="stable")
    case_ids, first = np.unique(r.case_id[order], return_index=True)
    bounds = list(first) + [len(order)]
    cases = []
    for k, cid in enumerate(case_ids.tolist()):
        rows = order[bounds[k]:bounds[k + 1]]
        cases.append({"id": cid, "missing_sex": "unknown",
                      "relatives": [(str(r.sample_id[i]), str(r.relation[i]), _sex_word(r.sex[i]), rcodes[i])
                                    for i in rows]})
    truth = read_truth(truth_path)
    planted = {s: c for s, c, role in zip(truth["sample_id"], truth["case_id"], truth["role"]) if role == "missing"}
    cindex = {c["id"]: k for k, c in enumerate(cases)}
    true_case = np.array([cindex.get(planted.get(s, ""), -1) for s in q.sample_id], dtype=np.int64)
    return model, q, qcodes, cases, true_case


def _mutation_value(m) -> dict | str:
    """A :class:`kinship.MutationModel` as the engine job's ``model.mutation`` value."""
    if m is None:
        return "none"
    d = m.describe()
    if d.get("per_locus"):
        raise ValueError("the engine job format has no per-locus mutation models; use runner='direct'")

    def one(x):
        if x is None:
            return {"model": "equal", "rate": 0.0}
        name = {"extendedstepwise": "extended-stepwise"}.get(x["model"], x["model"])
        if name not in ("equal", "proportional", "stepwise", "extended-stepwise"):
            raise ValueError(f"mutation model {x['model']!r} cannot be written in an engine job")
        return {"model": name, **{k: v for k, v in x.items() if k != "model"}}

    return {"female": one(d["female"]), "male": one(d["male"])}


def search_with_engine(data, cfg, threshold, q, cases):
    """The engine's hits at ``LR >= threshold`` in its ``case`` mode, every hit kept
    (``top_k`` = the number of cases): (query row, case row, log10 LR)."""
    import pyarrow.compute as pc
    from engine.api import run

    out = Path(data).parent / f"{Path(data).name}-results"
    job = {
        "inputs": {"queries": str(data), "references": str(data), "frequencies": cfg.frequencies},
        "model": {"theta": float(cfg.theta), "mutation": _mutation_value(cfg.mutation_model()),
                  "dropout": {"queries": float(cfg.query_dropout),
                              "references": float(cfg.reference_dropout)},
                  "dropin": float(cfg.dropin)},
        "search": {"modes": ["case"], "threshold": float(threshold), "top_k": max(1, len(cases)),
                   "case_top_k": max(1, len(q))},
        "output": {"path": str(out), "overwrite": True},
        "execution": {"progress": False},
    }
    res = run(job)
    h = res.hits.filter(pc.equal(res.hits.column("mode"), "case"))
    qrow = {s: i for i, s in enumerate(q.sample_id.tolist())}
    crow = {c["id"]: k for k, c in enumerate(cases)}
    hq = np.array([qrow[s] for s in h.column("query_id").to_pylist()], dtype=np.int64)
    hc = np.array([crow[c] for c in h.column("case_id").to_pylist()], dtype=np.int64)
    return hq, hc, h.column("log10_lr").to_numpy()


def _search_direct(tables, model, qcodes, t_min):
    from kinship.search import score

    qg = model.genotype_indices(qcodes)
    h = score(tables, qg, threshold=t_min)
    return h.query, h.case, h.log10_lr


# --------------------------------------------------------------------------------------
# one panel and mode
# --------------------------------------------------------------------------------------
def _exhaustive(tables, qg, true_case, log_t, t_search_log, block: int = 4096):
    """Every pair, a block of queries at a time (memory: block x cases): the true
    pairs' scores, the unrelated pairs' histogram, counts, truncated sums, and
    the pairs at or above the search threshold."""
    from kinship.search import score_exhaustive

    T = len(log_t)
    C = len(tables)
    cnt = np.zeros(T, dtype=np.int64)
    s1 = np.zeros(T)
    s2 = np.zeros(T)
    m1 = m2 = 0.0
    edges = hist_edges()
    hist = np.zeros(len(edges) - 1, dtype=np.int64)
    zeros = 0
    n_unrel = 0
    true_scores = []
    keys = []
    vals = []
    for q0 in range(0, qg.shape[0], block):
        S = score_exhaustive(tables, qg[q0:q0 + block])
        tc = true_case[q0:q0 + block]
        rows = np.nonzero(tc >= 0)[0]
        true_scores.append(S[rows, tc[rows]])
        hq, hc = np.nonzero(S >= t_search_log)
        keys.append((hq + q0).astype(np.int64) * C + hc)
        vals.append(S[hq, hc])
        S[rows, tc[rows]] = np.nan  # leave the true pairs out of the unrelated ones
        u = S[~np.isnan(S)]
        n_unrel += u.size
        fin = np.isfinite(u)
        zeros += int(np.count_nonzero(~fin))
        hist += np.histogram(np.clip(u[fin], edges[0], edges[-1] - 1e-9), bins=edges)[0]
        lr = np.power(10.0, u)
        m1 += float(lr.sum())
        m2 += float((lr * lr).sum())
        us = np.sort(u)
        pos = np.searchsorted(us, log_t, side="left")  # u[:pos] < log t
        cnt += us.size - pos
        lrs = np.power(10.0, us)
        c1 = np.concatenate([[0.0], np.cumsum(lrs)])
        c2 = np.concatenate([[0.0], np.cumsum(lrs * lrs)])
        s1 += c1[pos]
        s2 += c2[pos]
    true_scores = np.concatenate(true_scores) if true_scores else np.zeros(0)
    keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    vals = np.concatenate(vals) if vals else np.zeros(0)
    o = np.argsort(keys, kind="stable")
    return dict(true=true_scores, n_unrel=n_unrel, cnt=cnt, s1=s1, s2=s2, m1=m1, m2=m2, hist=hist,
                zeros=zeros, keys=keys[o], vals=vals[o])


def _mean_se(s1, s2, n):
    n = max(1, n)
    mean = s1 / n
    var = np.maximum(s2 / n - mean ** 2, 0.0) * n / max(1, n - 1)
    return mean, np.sqrt(var / n)


def run_mode(panel, mode: str, cfg: SuiteConfig, work: Path, seed: int | None = None) -> ModeResult:
    """Simulate, search and measure one panel (a name of :data:`PANELS`, or
    ``(name, loci)``) and mode."""
    panel, loci = _panel(panel)
    secs = {}
    t0 = time.time()
    import formats

    freqs = formats.read_frequencies(cfg.frequencies)    # a file of any format, or a bundled name
    mutation = cfg.mutation_model()
    seed = cfg.seed if seed is None else seed
    data = work / f"{panel}-{mode}"
    if data.exists():
        shutil.rmtree(data)
    sim = simulate_dataset(data, cfg.n_cases, cfg.n_unrelated, proportions=MODES[mode], loci=loci,
                           frequencies=freqs, founders=cfg.founders, mutation=mutation,
                           error_rate=cfg.error_rate, dropout_rate=cfg.dropout_rate, seed=seed,
                           query_dropout=cfg.query_dropout, reference_dropout=cfg.reference_dropout,
                           dropin=cfg.dropin)
    secs["simulate"] = time.time() - t0
    t0 = time.time()
    model, q, qcodes, cases, true_case = load_search_inputs(data, sim.truth, freqs, mutation, cfg.theta)
    drop = {}
    if cfg.query_dropout or cfg.reference_dropout or cfg.dropin:
        # scored with the model that simulated the observations
        for c in cases:
            c["dropout"] = {r[0]: cfg.reference_dropout for r in c["relatives"]}
        drop = {"dropout": cfg.query_dropout, "dropin": cfg.dropin}
    tables = compile_mode(model, mode, cases, **({"query_dropout": cfg.query_dropout,
                                                   "dropin": cfg.dropin} if drop else {}))
    secs["compile"] = time.time() - t0
    thresholds = np.asarray(sorted(float(t) for t in cfg.thresholds))
    log_t = np.log10(thresholds)
    t_search = float(cfg.search_threshold)
    Q, C = len(q), len(tables)

    # every pair, exhaustively: the distributions and the reference for the search
    t0 = time.time()
    qg = model.genotype_indices(qcodes)
    ex = _exhaustive(tables, qg, true_case, log_t, math.log10(t_search))
    secs["exhaustive"] = time.time() - t0

    # the search under test
    t0 = time.time()
    runner = "engine" if (cfg.runner == "engine" or (cfg.runner == "auto" and engine_available())) else "direct"
    if runner == "engine":
        hq, hc, hs = search_with_engine(data, cfg, t_search, q, cases)
    else:
        hq, hc, hs = _search_direct(tables, model, qcodes, t_search)
    secs["search"] = time.time() - t0
    # the same pairs, with the same log10 LR (up to summation order)
    hk = hq.astype(np.int64) * C + hc
    o = np.argsort(hk, kind="stable")
    matches = bool(np.array_equal(hk[o], ex["keys"])
                   and np.all(np.abs(hs[o] - ex["vals"]) <= 1e-9 * np.maximum(1.0, np.abs(ex["vals"]))))
    is_true = true_case[hq] == hc
    n_true = len(ex["true"])
    recall, false_hits = [], []
    for k, lt in enumerate(log_t):
        if thresholds[k] >= t_search:
            recall.append(float(np.count_nonzero(hs[is_true] >= lt)) / max(1, n_true))
            false_hits.append(int(np.count_nonzero(hs[~is_true] >= lt)))
        else:
            recall.append(float(np.count_nonzero(ex["true"] >= lt)) / max(1, n_true))
            false_hits.append(int(ex["cnt"][k]))

    # theory without simulation: chance hits (H2) and recall (H1), exact, per case
    t0 = time.time()
    ch = expected_chance_hits(tables, 1, thresholds, model=model, method=cfg.chance_method,
                              max_cases=cfg.chance_cases, resolution=cfg.resolution, seed=seed, per_case=True,
                              **drop)
    h1 = [exceedance(tables, int(c), thresholds, model=model, method="exact", resolution=cfg.resolution,
                     under="H1", **drop) for c in ch.cases]
    m = len(ch.cases)
    fpc = math.sqrt(1 - m / C) if m < C else 0.0

    def sample_se(x):
        return x.std(axis=0, ddof=1) / math.sqrt(m) * fpc if m > 1 else np.zeros(x.shape[1])

    p1, p1_lo, p1_hi = (np.array([getattr(e, k) for e in h1]) for k in ("estimate", "lower", "upper"))
    z = ch.per_case_mean_lr[:, None]
    frac = ch.per_case.mean(axis=0)
    secs["theory"] = time.time() - t0

    tm, tse = _mean_se(ex["s1"], ex["s2"], ex["n_unrel"])
    mean_lr, mean_se = _mean_se(np.array([ex["m1"]]), np.array([ex["m2"]]), ex["n_unrel"])
    return ModeResult(
        panel=panel, mode=mode, loci=list(model.loci), n_cases=C, n_queries=Q,
        n_true_pairs=int(n_true), n_unrelated_pairs=int(ex["n_unrel"]),
        thresholds=thresholds.tolist(), search_threshold=t_search,
        recall=recall, recall_expected=p1.mean(axis=0).tolist(), recall_expected_lower=p1_lo.mean(axis=0).tolist(),
        recall_expected_upper=p1_hi.mean(axis=0).tolist(), recall_expected_se=sample_se(p1).tolist(),
        false_hits=false_hits, false_hits_expected=(frac * ex["n_unrel"]).tolist(),
        false_hits_expected_se=(sample_se(ch.per_case) * ex["n_unrel"]).tolist(),
        unrelated_fraction=[f / max(1, ex["n_unrel"]) for f in false_hits],
        unrelated_fraction_expected=frac.tolist(),
        unrelated_fraction_lower=ch.per_case_lower.mean(axis=0).tolist(),
        unrelated_fraction_upper=ch.per_case_upper.mean(axis=0).tolist(),
        trunc_mean_observed=tm.tolist(), trunc_mean_se=tse.tolist(),
        trunc_mean_expected=(z * (1.0 - p1)).mean(axis=0).tolist(),
        trunc_mean_expected_lower=(z * (1.0 - p1_hi)).mean(axis=0).tolist(),
        trunc_mean_expected_upper=(z * (1.0 - p1_lo)).mean(axis=0).tolist(),
        mean_lr_unrelated=float(mean_lr[0]), mean_lr_unrelated_se=float(mean_se[0]),
        mean_lr_exact=float(ch.mean_lr), chance_cases=int(m),
        log10_lr_true=[float(x) for x in ex["true"]], hist_unrelated=ex["hist"].tolist(),
        hist_range=list(HIST_RANGE),
        zero_lr_unrelated=int(ex["zeros"]), runner=runner, search_matches_exhaustive=matches,
        seconds={k: round(v, 2) for k, v in secs.items()},
        simulation={"seed": seed, "real_founders": sim.real_founders, "drawn_founders": sim.drawn_founders,
                    "n_profiles": sim.n_profiles},
    )


# --------------------------------------------------------------------------------------
# the suite
# --------------------------------------------------------------------------------------
def _provenance(cfg: SuiteConfig) -> dict:
    import numba
    import pyarrow

    return {
        "software": "strkin", "version": kinship.__version__, "python": platform.python_version(),
        "numpy": np.__version__, "numba": numba.__version__, "pyarrow": pyarrow.__version__,
        "platform": platform.platform(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": cfg.describe(),
    }


def load_results(path) -> list[ModeResult]:
    """The results of a run from its ``results.json`` (to redraw or re-tabulate)."""
    names = set(ModeResult.__dataclass_fields__)
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [ModeResult(**{k: v for k, v in r.items() if k in names}) for r in data["results"]]


def run_suite(cfg: SuiteConfig | None = None, out=None, plots: bool = True, progress=print) -> list[ModeResult]:
    """Run every panel and mode of ``cfg``; with ``out``, write the tables, the
    JSON and (``plots=True``, needs matplotlib) the PNG plots there."""
    cfg = cfg or SuiteConfig()
    cfg.check()
    if plots and out is not None:
        from .plots import require_matplotlib

        require_matplotlib()
    if out is not None:
        # bad input before any work: the frequency table, then an output directory
        # that cannot be made (the suite takes minutes)
        import formats

        formats.read_frequencies(cfg.frequencies)
        Path(out).mkdir(parents=True, exist_ok=True)
    own = cfg.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="strkin-validation-")) if own else Path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for pi, panel in enumerate(cfg.panels):
            for mi, mode in enumerate(cfg.modes):
                t0 = time.time()
                r = run_mode(panel, mode, cfg, work, seed=cfg.seed * 1000 + pi * 10 + mi)
                results.append(r)
                if progress:
                    progress(f"{panel:8s} {mode:13s} {r.n_queries} queries x {r.n_cases} cases: "
                             f"{time.time() - t0:.1f} s ({r.runner})")
    finally:
        if own and not cfg.keep_data:
            shutil.rmtree(work, ignore_errors=True)
    if out is not None:
        write_outputs(results, cfg, out, plots=plots)
    return results


# --------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------
def _e(x: float) -> str:
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2e}" if (abs(x) < 1e-2 or abs(x) >= 1e4) else f"{x:.4g}"


def results_rows(results: list[ModeResult], comparisons=(1e9, 1e12)) -> list[dict]:
    """One row per panel, mode and threshold (the columns of ``results.csv``)."""
    rows = []
    for r in results:
        for k, t in enumerate(r.thresholds):
            row = {
                "panel": r.panel, "mode": r.mode, "n_loci": len(r.loci), "n_queries": r.n_queries,
                "n_cases": r.n_cases, "threshold": t, "from_search": t >= r.search_threshold,
                "recall": r.recall[k], "recall_expected": r.recall_expected[k],
                "recall_expected_se": r.recall_expected_se[k],
                "false_hits": r.false_hits[k], "false_hits_per_query": r.false_hits[k] / max(1, r.n_queries),
                "false_hits_expected": r.false_hits_expected[k],
                "false_hits_expected_se": r.false_hits_expected_se[k],
                "unrelated_fraction": r.unrelated_fraction[k],
                "p_h2_expected": r.unrelated_fraction_expected[k],
                "p_h2_lower": r.unrelated_fraction_lower[k], "p_h2_upper": r.unrelated_fraction_upper[k],
                "markov_bound": r.mean_lr_exact / t,
                "truncated_mean_observed": r.trunc_mean_observed[k],
                "truncated_mean_se": r.trunc_mean_se[k],
                "truncated_mean_expected": r.trunc_mean_expected[k],
            }
            for n in comparisons:
                row[f"chance_hits_in_{n:.0e}"] = n * r.unrelated_fraction_expected[k]
            rows.append(row)
    return rows


def write_outputs(results: list[ModeResult], cfg: SuiteConfig, out, plots: bool = True) -> list[Path]:
    """``results.csv`` (one row per panel, mode and threshold), ``summary.md``,
    ``results.json`` (everything, with provenance) and the plots."""
    import csv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    rows = results_rows(results, cfg.comparisons)
    p = out / "results.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for row in rows:
            w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    written.append(p)
    p = out / "results.json"
    payload = {"provenance": _provenance(cfg),
               "results": [dict(asdict(r), checks=r.checks(),
                                lr_for_one_chance_hit={f"{n:.0e}": r.lr_for_one_chance_hit(n)
                                                       for n in cfg.comparisons})
                           for r in results]}
    p.write_text(json.dumps(payload, indent=1, default=float), encoding="utf-8")
    written.append(p)
    p = out / "summary.md"
    p.write_text(summary_markdown(results, cfg), encoding="utf-8")
    written.append(p)
    if plots:
        from .plots import plot_all

        written += plot_all(results, out)
    return written


def _lr_or(v: float) -> str:
    if v == 0:
        return "< 1 (none expected at LR 1)"
    if math.isinf(v):
        return "> largest threshold"
    return format_lr(v)


def summary_markdown(results: list[ModeResult], cfg: SuiteConfig) -> str:
    """The tables of ``summary.md``."""
    prov = _provenance(cfg)
    mut = cfg.mutation_model()
    mut_text = ("none" if mut is None else "stepwise, male 0.002, female 0.0005 per meiosis"
                if cfg.mutation == "default" else "custom (see results.json)")
    L = ["# Validation results\n",
         f"Generated by `kinship validate` (strkin {prov['version']}, {prov['created']}, seed {cfg.seed}). "
         f"Per panel and mode: {cfg.n_cases} families with a missing child and {cfg.n_unrelated} unrelated "
         f"queries; frequencies `{cfg.frequencies}`, founders `{cfg.founders}`, theta {cfg.theta}, mutation "
         f"{mut_text} (the same model simulates and scores), genotyping error {cfg.error_rate}, dropout "
         f"{cfg.dropout_rate}; dropout model (simulated and scored): queries {cfg.query_dropout}, "
         f"references {cfg.reference_dropout}, drop-in {cfg.dropin}. Expected values: `kinship.chance`, method `{cfg.chance_method}`, resolution "
         f"{cfg.resolution} log10 units. Thresholds from LR {format_lr(cfg.search_threshold)} up: hits of the "
         f"search; below: the exhaustive scan. Method: `docs/validation.md`.\n",
         "## Checks\n",
         "| panel | mode | search = exhaustive scan | mean LR of unrelated pairs (± se) | exact E[LR] | "
         "truncated means, max abs z | max over t of t x P(LR >= t), observed / exact | "
         "false hits vs expected, max abs z | recall vs expected, max abs z |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r.checks()
        fz = c["false_hits_vs_expected"]
        L.append(f"| {r.panel} | {r.mode} | {'yes' if r.search_matches_exhaustive else '**NO**'} | "
                 f"{_e(r.mean_lr_unrelated)} ± {_e(r.mean_lr_unrelated_se)} | {r.mean_lr_exact:.4f} | "
                 f"{c['truncated_mean']['max_abs_z']:.2f} ({c['truncated_mean']['thresholds_compared']}) | "
                 f"{c['markov']['max_t_fraction']:.3f} / "
                 f"{c['markov']['max_t_exact']:.3f} | {fz['max_abs_z']:.2f} ({fz['thresholds_compared']} "
                 f"thresholds) | {c['recall_vs_expected']['max_abs_z']:.2f} |")
    L.append("")
    L.append("## The LR that unrelated pairs reach about once\n")
    L.append("| panel | mode | " + " | ".join(f"{format_lr(n)} comparisons" for n in cfg.comparisons) + " |")
    L.append("|---|---|" + "---|" * len(cfg.comparisons))
    for r in results:
        L.append(f"| {r.panel} | {r.mode} | "
                 + " | ".join(_lr_or(r.lr_for_one_chance_hit(n)) for n in cfg.comparisons) + " |")
    L.append("")
    for r in results:
        L.append(f"## {r.panel} ({len(r.loci)} loci), {r.mode}\n")
        L.append(f"{r.n_queries:,} queries x {r.n_cases:,} cases = {r.n_queries * r.n_cases:,} comparisons "
                 f"({r.n_true_pairs:,} true pairs, {r.n_unrelated_pairs:,} unrelated); search: {r.runner}; "
                 f"expected values from {r.chance_cases} cases.\n")
        L.append("| LR >= | recall | expected | false hits / query | expected | "
                 "P(unrelated LR >= t): observed | exact [bracket] | "
                 + " | ".join(f"chance hits in {format_lr(n)}" for n in cfg.comparisons) + " |")
        L.append("|---|---|---|---|---|---|---|" + "---|" * len(cfg.comparisons))
        for k, t in enumerate(r.thresholds):
            fq = r.false_hits[k] / max(1, r.n_queries)
            eq = r.false_hits_expected[k] / max(1, r.n_queries)
            L.append(
                f"| {format_lr(t)} | {r.recall[k]:.3f} | {r.recall_expected[k]:.3f} | {_e(fq)} | {_e(eq)} | "
                f"{_e(r.unrelated_fraction[k])} | {_e(r.unrelated_fraction_expected[k])} "
                f"[{_e(r.unrelated_fraction_lower[k])}, {_e(r.unrelated_fraction_upper[k])}] | "
                + " | ".join(_e(n * r.unrelated_fraction_expected[k]) for n in cfg.comparisons) + " |")
        L.append("")
    return "\n".join(L) + "\n"
