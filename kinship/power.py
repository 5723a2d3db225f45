"""The power of a family's reference set, and which relative to sample next.

For a case (:class:`kinship.cases.Case`: a pedigree, its missing person M and
the typed relatives with their genotypes) and an LR threshold ``t``:

* **power**: the probability that the true missing person reaches the
  threshold, ``P_H1(LR >= t | typed relatives)``, where M's genotype is drawn
  from its law given the typed relatives on the case pedigree;
* **chance hits**: the expected number of unrelated persons reaching ``t`` in a
  database of ``N`` profiles, ``N x P_H2(LR >= t)``
  (:func:`kinship.chance.exceedance` on the case's compiled table: the same
  number the engine reports per case);
* **next relative**: for each relative the family could still give
  (:data:`SUGGESTIBLE`, words of :data:`kinship.cases.RELATIONS` that can be
  added to the case pedigree), the expected power with that relative typed,
  averaged over the relative's genotype given the typed family; ranked.

Method (``docs/power.md``)
--------------------------
Loci are independent given the pedigree.  At locus ``l`` let ``c`` be the typed
relatives' calls and ``T_l[g]`` the case's compiled LR for a candidate with
genotype ``g`` (:func:`kinship.tables.case_table`, mutation and θ as in the
model).  M's genotype law given the typed relatives under H1 is exact:

    q_l(g) = L_l(c, M = g) / sum_g' L_l(c, M = g'),

``L_l`` the pedigree likelihood (:func:`kinship.likelihood.locus_likelihood`
with M left free).  Then ``log10 LR = sum_l log10 T_l[g_l]`` is a sum of
independent discrete variables and

    power = P( sum_l log10 T_l[g_l] >= log10 t ),   g_l ~ q_l independently,

computed by the convolution of :mod:`kinship.chance` on a grid of width
``resolution`` with a certified bracket (``method="exact"``), or by simulation
with its binomial standard error (``method="mc"``).

With one more relative R placed on the pedigree (the augmented case), the
joint law of (R's call, M's call) at each locus given the typed family is again
exact, ``N_l[r, g] = L_l(c, R = r, M = g)`` normalised, and so is the augmented
case's table ``T'_l[r, g] = N_l[r, g] / D_l[r, g]`` (``D``: the same with M's
place taken by an unrelated candidate, the case convention of
:mod:`kinship.tables`).  The expected power with R typed,

    E_r[ P(LR' >= t | r) ] = P( sum_l log10 T'_l[r_l, g_l] >= log10 t ),
    (r_l, g_l) ~ N_l  independently over loci,

is the same convolution over the pairs: exact up to the grid, no simulation of
R needed (``method="mc"`` simulates R and M jointly instead).

Conventions: a silent allele is never called: a candidate (or R) whose true
genotype is silent/silent shows nothing at the locus (factor 1, or the case
without R there); ``{a, silent}`` is seen as ``a/a``.  The candidate and an
added relative are assumed typed at every locus of the model.  A locus where the
typed relatives are impossible without mutation under a model without mutation
makes the power undefined (NaN, with the loci named in ``error``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .cases import RELATIONS, Case, CaseError
from .chance import _ROUND_EPS, exceedance, grid_index
from .frequencies import SILENT
from .likelihood import _parse_call, locus_likelihood
from .pedigree import Pedigree, Person
from .search import CaseTables, ScoringModel
from .tables import case_table, fold_calls, fold_pair, genotype_pairs

__all__ = ["CasePower", "Suggestion", "SUGGESTIBLE", "NotAddable", "add_relative",
           "addable_relatives", "case_power", "power_model", "METHODS"]

METHODS = ("exact", "mc")


class NotAddable(CaseError):
    """A relative that cannot be added to the case (already typed there)."""


# ---------------------------------------------------------------------------
# placing one more relative on a case pedigree
# ---------------------------------------------------------------------------

class _Builder:
    """Records of a pedigree being extended around the missing person."""

    def __init__(self, case: Case, missing: str):
        self.recs = {r["id"]: dict(r) for r in case.pedigree.records()}
        self.typed = set(case.typed)
        self.m = missing
        self.n = 0

    def new_id(self, stem: str) -> str:
        while True:
            self.n += 1
            pid = f"_{stem}{self.n}"
            if pid not in self.recs:
                return pid

    def add(self, stem, sex, father=None, mother=None) -> str:
        pid = self.new_id(stem)
        self.recs[pid] = {"id": pid, "father": father, "mother": mother, "sex": sex}
        return pid

    def parents(self, pid: str) -> tuple:
        r = self.recs[pid]
        if r["father"] is None:
            r["father"] = self.add("fa", "male")
            r["mother"] = self.add("mo", "female")
        return r["father"], r["mother"]

    def existing(self, pid: str, word: str) -> str:
        if pid in self.typed:
            raise NotAddable(f"the {word} is already typed in the case")
        return pid


def _place(b: _Builder, word: str, missing_sex: str) -> str:
    m = b.m
    if word in ("father", "mother"):
        return b.existing(b.parents(m)[word == "mother"], word)
    if word == "full-sibling":
        fa, mo = b.parents(m)
        return b.add("sib", "unknown", fa, mo)
    if word == "paternal-half-sibling":
        fa = b.parents(m)[0]
        return b.add("hsib", "unknown", fa, b.add("fp", "female"))
    if word == "maternal-half-sibling":
        mo = b.parents(m)[1]
        return b.add("hsib", "unknown", b.add("mp", "male"), mo)
    side, _, rest = word.partition("-")
    if side in ("paternal", "maternal") and rest in ("grandfather", "grandmother", "uncle", "aunt"):
        parent = b.parents(m)[side == "maternal"]
        gf, gm = b.parents(parent)
        if rest in ("grandfather", "grandmother"):
            return b.existing(gf if rest == "grandfather" else gm, word)
        return b.add("unc", "male" if rest == "uncle" else "female", gf, gm)
    if word == "child":
        if missing_sex not in ("male", "female"):
            raise NotAddable("a child needs the missing person's sex")
        other = b.add("partner", "female" if missing_sex == "male" else "male")
        fa, mo = (m, other) if missing_sex == "male" else (other, m)
        return b.add("child", "unknown", fa, mo)
    raise NotAddable(f"relation {word!r} is not placed by the power module")  # pragma: no cover


#: Relation words (of :data:`kinship.cases.RELATIONS`) that :func:`add_relative`
#: places and that :func:`case_power` ranks: the relatives a family can usually
#: still give (parents, siblings, half-siblings, grandparents, uncles and aunts,
#: a child of the missing person).
SUGGESTIBLE = tuple(w for w in RELATIONS if w in (
    "father", "mother", "full-sibling", "paternal-half-sibling", "maternal-half-sibling",
    "paternal-grandfather", "paternal-grandmother", "maternal-grandfather",
    "maternal-grandmother", "paternal-uncle", "paternal-aunt", "maternal-uncle",
    "maternal-aunt", "child"))


def add_relative(case: Case, word: str, missing: str | None = None) -> tuple[Pedigree, str]:
    """``(pedigree, person)``: the case pedigree with one more relative ``word``
    (a :data:`SUGGESTIBLE` relation word) of the missing person ``missing``
    (default: the case's first), and the id of the person who would be typed.

    A parent or grandparent already in the pedigree and untyped is that person;
    one already typed cannot be added (:class:`NotAddable`).  A missing person
    (or parent) without parents in the pedigree gets two untyped founders as
    parents.  A sibling, half-sibling, uncle, aunt or child is a new person (a
    half-sibling and a child with a new untyped other parent)."""
    m = missing if missing is not None else case.missing[0]
    if m not in case.missing:
        raise CaseError(f"case {case.id!r}: {m!r} is not a missing person of the case")
    if word not in SUGGESTIBLE:
        raise CaseError(f"relation {word!r} cannot be suggested; known: {', '.join(SUGGESTIBLE)}")
    b = _Builder(case, m)
    pid = _place(b, word, case.pedigree.persons[m].sex)
    return Pedigree.from_records(list(b.recs.values())), pid


def addable_relatives(case: Case, missing: str | None = None, words=SUGGESTIBLE) -> list:
    """``[(word, pedigree, person), ...]`` for every relation word of ``words``
    that can be added to the case (:func:`add_relative`)."""
    out = []
    for w in words:
        try:
            ped, pid = add_relative(case, w, missing)
        except NotAddable:
            continue
        out.append((w, ped, pid))
    return out


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------

@dataclass
class Suggestion:
    """The expected power of the case with one more relative typed."""

    relation: str
    person: str            # the pedigree person who would be typed (new ids start with "_")
    power: float
    lower: float
    upper: float
    stderr: float

    def to_dict(self) -> dict:
        return {"relation": self.relation, "person": self.person, "power": _num(self.power),
                "lower": _num(self.lower), "upper": _num(self.upper), "stderr": _num(self.stderr)}


@dataclass
class CasePower:
    """Power and chance hits of one case at one threshold.

    ``power``: ``P_H1(LR >= threshold)`` for the true missing person given the
    typed relatives; ``power_lower``/``power_upper``: the certified bracket of
    the exact method (``threshold`` moved by the grid, see
    :func:`kinship.chance.exceedance`) or the estimate -/+ 4 standard errors of
    the simulation; ``stderr`` 0 for exact.  ``p_chance``: ``P_H2(LR >=
    threshold)`` for an unrelated candidate (``p_chance_upper`` its certified
    upper bound); ``expected_chance_hits`` = ``n_database x p_chance``.
    ``mean_log10_lr``: ``E_H1[log10 LR]`` (NaN if an LR can be 0).
    ``suggestions``: relatives to sample next, best first.  ``error``: why the
    power is undefined (NaN), else ``""``.  ``seconds``: the time taken."""

    case: str
    missing: str
    threshold: float
    n_database: int
    method: str
    power: float
    power_lower: float
    power_upper: float
    stderr: float
    p_chance: float
    p_chance_upper: float
    expected_chance_hits: float
    mean_log10_lr: float
    loci: int
    typed: list
    details: dict = field(default_factory=dict)
    suggestions: list = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def best(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None

    def to_dict(self) -> dict:
        return {
            "case": self.case, "missing": self.missing, "threshold": self.threshold,
            "n_database": int(self.n_database), "method": self.method, "power": _num(self.power),
            "power_lower": _num(self.power_lower), "power_upper": _num(self.power_upper),
            "stderr": _num(self.stderr), "p_chance": _num(self.p_chance),
            "p_chance_upper": _num(self.p_chance_upper),
            "expected_chance_hits": _num(self.expected_chance_hits),
            "mean_log10_lr": _num(self.mean_log10_lr), "loci": self.loci,
            "typed": list(self.typed), "details": self.details,
            "suggestions": [s.to_dict() for s in self.suggestions], "error": self.error,
            "seconds": round(self.seconds, 3),
        }


def _num(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


# ---------------------------------------------------------------------------
# per-locus laws
# ---------------------------------------------------------------------------

def power_model(frequencies, genotypes: Mapping[str, Mapping[str, tuple]], loci=None,
                mutation=None, theta: float = 0.0) -> ScoringModel:
    """A :class:`kinship.search.ScoringModel` for :func:`case_power`: ``loci``
    (default: every locus of the table typed in some profile of ``genotypes``),
    with the profiles' alleles added to the allele systems."""
    extra: dict = {}
    typed_loci = []
    for sample, prof in genotypes.items():
        for raw, gt in (prof or {}).items():
            try:
                locus = frequencies.resolve_locus(raw)
            except Exception:
                continue
            call = _parse_call(sample, locus, gt)
            if call is None:
                continue
            extra.setdefault(locus, set()).update(call)
            if locus not in typed_loci:
                typed_loci.append(locus)
    if loci is None:
        loci = [l for l in frequencies.loci if l in typed_loci]
    loci = [frequencies.resolve_locus(l) for l in loci]
    return ScoringModel(frequencies, loci, mutation, theta,
                        {l: sorted(extra.get(l, ())) for l in loci})


def _calls(case: Case, genotypes, model: ScoringModel) -> list[dict]:
    """Per model locus: ``{person: (a, b) allele labels}`` of the typed persons."""
    out = [dict() for _ in model.loci]
    pos = {l: i for i, l in enumerate(model.loci)}
    for p in case.typed:
        s = case.samples[p]
        for raw, gt in (genotypes.get(s) or {}).items():
            try:
                locus = model.frequencies.resolve_locus(raw)
            except Exception:
                continue
            if locus not in pos:
                continue
            call = _parse_call(s, locus, gt)
            if call is not None:
                out[pos[locus]][p] = call
    return out


def _valid_calls(s) -> np.ndarray:
    """Per genotype index: 0 never called ({a, silent}), 1 a call, 2 silent/silent
    (nothing seen)."""
    a, b = genotype_pairs(s.n_alleles)
    v = np.ones(len(a), dtype=np.int8)
    if s.silent:
        si = s.alleles.index(SILENT)
        v[((a == si) | (b == si)) & (a != b)] = 0
        v[(a == si) & (b == si)] = 2
    return v


def _args(model, l):
    s = model.systems[l]
    silent = s.alleles.index(SILENT) if s.silent else None
    fM, mM = model._mats[l]
    return s, silent, dict(n_alleles=s.n_alleles, freqs=s.freqs, theta=model.theta, silent=silent,
                           female_M=fM, male_M=mM)


def _base_locus(model, l, ped, m, labels, T=None):
    """(T over M's calls, q = M's law over calls given the typed relatives, the
    likelihood of the typed relatives).  ``T``: the case's compiled table at this
    locus (computed by :func:`kinship.tables.case_table` when not given).  At
    θ = 0 without a silent allele ``q ∝ T P_HW`` (the candidate of the
    denominator is an independent founder); otherwise ``q`` is the likelihood
    with M left free."""
    s, silent, args = _args(model, l)
    if T is None:
        T = case_table(ped, m, labels, s, model.mutation, model.theta).lr
    T = np.array(T, dtype=float)
    v = _valid_calls(s)
    if model.theta == 0.0 and silent is None:
        with np.errstate(invalid="ignore"):
            q = np.where(np.isnan(T), 0.0, T) * _hw_calls(s)
    else:
        idx = {a: i for i, a in enumerate(s.alleles)}
        icalls = {p: (idx[a], idx[b]) for p, (a, b) in labels.items()}
        q = fold_calls(locus_likelihood(ped, icalls, free=[m], **args), 0, silent)
        q = np.where(v == 0, 0.0, q)
    T = np.where(v == 2, 1.0, T)
    tot = q.sum()
    return T, (q / tot if tot > 0 else q), tot


def _compiled(case: Case, m: str, calls: list, model: ScoringModel) -> np.ndarray:
    """The case's compiled LR table row (:meth:`ScoringModel.compile_cases`:
    memoised in the model, so a run's search has usually built it already)."""
    person_geno = {}
    for l, c in enumerate(calls):
        for p, gt in c.items():
            person_geno.setdefault(p, {})[model.loci[l]] = gt
    typed = [p for p in case.typed if p in person_geno]
    codes = model.encode([person_geno[p] for p in typed]) if typed else np.zeros((0, len(model.loci), 2))
    rels = [(case.samples[p], case.relations.get(case.samples[p], ""),
             case.pedigree.persons[p].sex, codes[i]) for i, p in enumerate(typed)]
    words_only = case.source == "relations" and len(case.missing) == 1 and all(r[1] for r in rels) \
        and len(rels) == len(case.typed)
    d = {"id": case.id, "relatives": rels,
         "missing_sex": case.pedigree.persons[m].sex}
    if not words_only:
        d.update(case=case, missing=m)
    return model.compile_cases([d]).lr[0]


def _hw_calls(s) -> np.ndarray:
    """Hardy-Weinberg probability of every genotype call (no silent allele)."""
    p = np.asarray(s.freqs, dtype=float)
    a, b = genotype_pairs(s.n_alleles)
    return np.where(a == b, p[a] * p[a], 2.0 * p[a] * p[b])


def _pair_locus(model, l, ped, m, r, labels, T_base, general=False):
    """(T' over (R's call, M's call), joint law of the two given the typed family)."""
    s, silent, args = _args(model, l)
    idx = {a: i for i, a in enumerate(s.alleles)}
    icalls = {p: (idx[a], idx[b]) for p, (a, b) in labels.items()}

    def fold2(J):
        return fold_pair(J, silent)

    qid = "__candidate__"
    while qid in ped:
        qid += "_"
    N = fold2(locus_likelihood(ped, icalls, free=[r, m], **args))
    if model.theta == 0.0 and silent is None and not general:
        # the candidate is an independent founder: D[r, g] = P(c, R = r) P_HW(g)
        D = np.outer(N.sum(axis=1), _hw_calls(s))
    else:
        D = fold2(locus_likelihood(ped.with_person(Person(qid, None, None, "unknown")), icalls,
                                   free=[r, qid], **args))
    with np.errstate(divide="ignore", invalid="ignore"):
        T = N / D
    v = _valid_calls(s)
    N = N * (v != 0)[:, None] * (v != 0)[None, :]
    T = np.where((v == 2)[None, :], 1.0, T)
    if (v == 2).any():                                   # R shows nothing: the case without R
        T[v == 2, :] = T_base[None, :]
    tot = N.sum()
    return T, (N / tot if tot > 0 else N)


def _rank_cost(model, ped: Pedigree, calls: list, m: str, r: str) -> float | None:
    """Estimated seconds of the θ > 0 likelihoods of one augmented case over the
    loci (:func:`kinship.likelihood.theta_cost`), or None if a locus is beyond
    what :func:`~kinship.likelihood.locus_likelihood` evaluates."""
    from .likelihood import theta_cost

    qid = "__candidate__"
    while qid in ped:
        qid += "_"
    h2 = ped.with_person(Person(qid, None, None, "unknown"))
    tot = 0.0
    for l, c in enumerate(calls):
        A = model.systems[l].n_alleles
        for pd, free in ((ped, [r, m]), (h2, [r, qid])):
            cost = theta_cost(pd, c, free, A)
            if not cost["feasible"]:
                return None
            tot += cost["seconds"]
    return tot


def _shape(ped: Pedigree, typed: list, m: str, r: str, sex_free: bool) -> tuple:
    """A key equal for two augmented pedigrees whose power computations are the
    same: the structure (:meth:`Case.structure_key`) with the typed persons named
    by their place, which original person (or the added one) each typed place
    holds, and the sexes dropped when the female and male mutation models are
    the same (then a grandfather and a grandmother give one number)."""
    tmp = Case("shape", ped, (m,), {p: p for p in list(typed) + [r]})
    recs, miss, name = tmp.structure_key(m)
    if sex_free:
        recs = tuple(x[:3] for x in recs)
    return recs, miss, name, tuple(tmp.typed)


def _law(T: np.ndarray, P: np.ndarray):
    """(log10 T, P) over the entries with P > 0."""
    T = np.ravel(T)
    P = np.ravel(P)
    keep = P > 0
    with np.errstate(divide="ignore"):
        return np.log10(T[keep]), P[keep]


# ---------------------------------------------------------------------------
# tails
# ---------------------------------------------------------------------------

#: absolute margin added to the bracket for the floating-point error of the FFT
#: convolution (its error is about 1e-16 x sqrt(grid size) x loci)
FFT_MARGIN = 1e-10


def _bin(lv: np.ndarray, P: np.ndarray, d: float, how: str):
    """Grid index of every finite value, rounded as ``how`` says (the rounding of
    :func:`kinship.chance.exceedance`: a margin of ``_ROUND_EPS`` keeps a value
    that is a grid point within floating-point error on the safe side)."""
    k, fin = grid_index(lv, d, how)
    return k, P[fin]


def _fftconvolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy import fft

    n = len(a) + len(b) - 1
    size = fft.next_fast_len(n, real=True)
    return fft.irfft(fft.rfft(a, size) * fft.rfft(b, size), size)[:n]


def _grid_tail(locs, log_t: float, resolution: float):
    """(estimate, lower, upper) of P(sum_l V_l >= log_t) for independent discrete
    V_l given as (values, masses) (-inf: LR 0, never reaches a threshold > 0).

    Each value is put on the grid of width ``resolution`` three times, as in
    :func:`kinship.chance.exceedance` (rounded up: an upper bound; down: a lower
    bound; to nearest: the estimate; :func:`_bin`); the binned laws are convolved
    pairwise by FFT (scipy.fft), which is accurate in absolute terms (what a power
    needs; the chance side needs relative accuracy far out in the tail and sums
    non-negative terms instead)."""
    d = float(resolution)
    x = log_t / d
    eps = _ROUND_EPS * max(1.0, abs(x))
    out = {}
    for how, kappa in (("up", math.ceil(x - eps)), ("down", math.ceil(x + eps)),
                       ("near", math.ceil(x))):
        vecs, lo = [], 0
        for lv, P in locs:
            k, mass = _bin(lv, P, d, how)
            if len(k) == 0:
                vecs = None
                break
            k0 = int(k.min())
            vecs.append(np.bincount(k - k0, weights=mass))
            lo += k0
        if vecs is None:
            out[how] = 0.0
            continue
        n = sum(len(v) - 1 for v in vecs) + 1
        while len(vecs) > 1:            # pairwise, smallest first: about log2(L) full-size FFTs
            vecs.sort(key=len)
            a, b = vecs.pop(0), vecs.pop(0)
            vecs.append(_fftconvolve(a, b) if min(len(a), len(b)) > 64 else np.convolve(a, b))
        dist = vecs[0]
        i = kappa - lo
        out[how] = float(np.clip(dist[max(i, 0):].sum(), 0.0, 1.0)) if i < n else 0.0
    lower = max(0.0, out["down"] - FFT_MARGIN)
    upper = min(1.0, out["up"] + FFT_MARGIN)
    return min(max(out["near"], lower), upper), lower, upper


def _tail(locs, log_t: float, method: str, resolution: float, n_sim: int, rng):
    """(estimate, lower, upper, stderr) of P(sum of the loci's log10 values >= log_t)."""
    if not locs:
        p = 1.0 if log_t <= 0 else 0.0
        return p, p, p, 0.0
    if method == "exact":
        est, lo, hi = _grid_tail(locs, log_t, resolution)
        return est, lo, hi, 0.0
    tot = np.zeros(n_sim)
    for lv, P in locs:
        cum = np.cumsum(P)
        k = np.searchsorted(cum, rng.random(n_sim) * cum[-1], side="right")
        tot += lv[np.minimum(k, len(lv) - 1)]
    p = float(np.mean(tot >= log_t - 1e-12))
    se = math.sqrt(max(p * (1 - p), 1.0 / n_sim) / n_sim)
    return p, max(0.0, p - 4 * se), min(1.0, p + 4 * se), se


def case_power(case: Case, genotypes: Mapping[str, Mapping[str, tuple]], model: ScoringModel,
               threshold: float = 1e4, n_database: int = 1, *, missing: str | None = None,
               method: str = "exact", resolution: float = 0.002, n_sim: int = 2000,
               seed: int = 0, relatives=SUGGESTIBLE, h2: str = "hw",
               max_rank_seconds: float = 300.0) -> CasePower:
    """Power of ``case``'s typed relatives at ``threshold``, the expected chance
    hits in a database of ``n_database`` unrelated profiles, and the relatives to
    sample next (see the module doc).

    ``genotypes``: ``{sample id: {locus: (a, b)}}`` for the case's typed persons
    (their :attr:`Case.samples`); a typed person without a profile counts as
    untyped.  ``model``: the :class:`~kinship.search.ScoringModel` (frequencies,
    loci, mutation, θ; :func:`power_model` builds one).  ``method``: ``"exact"``
    (convolution on a log10 grid of width ``resolution``, certified bracket) or
    ``"mc"`` (``n_sim`` simulations, binomial standard error, ``seed``).
    ``relatives``: the relation words to rank (``()`` for none).  ``h2``: the
    unrelated population of the chance hits (``"hw"`` or ``"theta"``,
    :func:`kinship.chance.genotype_probabilities`).  ``max_rank_seconds``: at
    θ > 0, a relative whose likelihoods :func:`kinship.likelihood.theta_cost`
    estimates above this (summed over loci) is not ranked; it is listed in
    ``details["not_ranked"]`` with the estimate.
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not (isinstance(threshold, (int, float)) and threshold > 0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite positive LR, got {threshold!r}")
    if n_database < 0:
        raise ValueError(f"n_database must be >= 0, got {n_database}")
    if method == "exact" and not resolution > 0:
        raise ValueError(f"resolution must be > 0, got {resolution}")
    if method == "mc" and int(n_sim) < 2:
        raise ValueError(f"n_sim must be at least 2, got {n_sim}")
    m = missing if missing is not None else case.missing[0]
    if m not in case.missing:
        raise CaseError(f"case {case.id!r}: {m!r} is not a missing person of the case")
    ped = case.pedigree
    log_t = math.log10(threshold)
    rng = np.random.default_rng(seed)
    calls = _calls(case, genotypes, model)
    typed = sorted({case.samples[p] for c in calls for p in c}, key=str)
    L = len(model.loci)
    lr = np.ones((1, model.size))
    typed_loci = np.zeros((1, L), dtype=bool)
    base_T, locs, bad = [None] * L, [], []
    row = _compiled(case, m, calls, model) if any(calls) else None
    for l in range(L):
        if not calls[l]:
            continue
        o, G = int(model.offsets[l]), len(genotype_pairs(model.systems[l].n_alleles)[0])
        T, q, tot = _base_locus(model, l, ped, m, calls[l], row[o:o + G])
        if tot <= 0:
            bad.append(model.loci[l])
            continue
        base_T[l] = T
        o = model.offsets[l]
        lr[0, o:o + len(T)] = T
        typed_loci[0, l] = True
        locs.append(_law(T, q))
    details = ({"resolution": float(resolution)} if method == "exact" else
               {"n_sim": int(n_sim), "seed": int(seed)})
    nan = math.nan
    if bad:
        return CasePower(case.id, m, float(threshold), int(n_database), method, nan, nan, nan, nan,
                         nan, nan, nan, nan, len(locs), typed, details, [],
                         f"case {case.id!r}: the typed relatives cannot be related as the pedigree "
                         f"says at {len(bad)} loci ({', '.join(bad[:6])}) without mutation and the "
                         f"model has none: power undefined. Fix: check the samples and relations, "
                         f"or use a mutation model", time.perf_counter() - t0)
    power, lo, hi, se = _tail(locs, log_t, method, resolution, int(n_sim), rng)
    mean = float(sum(np.sum(P * lv) for lv, P in locs)) if all(
        np.all(np.isfinite(lv)) for lv, _ in locs) else nan
    tables = CaseTables([case.id], lr, np.zeros_like(lr, dtype=np.uint8), typed_loci,
                        model.offsets, model.loci, "case")
    ex = exceedance(tables, 0, [threshold], model=model, h2=h2, method="exact",
                    resolution=min(float(resolution), 0.005))
    p_chance, p_up = float(ex.estimate[0]), float(ex.upper[0])
    sugg = []
    sex_free = all(f is None and g is None or (f is not None and g is not None and np.array_equal(f, g))
                   for f, g in model._mats)
    have = [p for p in case.typed if any(p in c for c in calls)]
    done: dict = {}
    for word, aped, r in addable_relatives(case, m, tuple(relatives)):
        key = _shape(aped, have, m, r, sex_free)
        if key in done:                  # the same computation as an earlier word
            p, plo, phi, pse = done[key]
            sugg.append(Suggestion(word, r, p, plo, phi, pse))
            continue
        if model.theta > 0:
            est = _rank_cost(model, aped, calls, m, r)
            if est is None or est > max_rank_seconds:
                details.setdefault("not_ranked", {})[word] = (
                    "too large for the exact theta > 0 likelihood" if est is None else
                    f"estimated {est:.0f} s at theta > 0 (max_rank_seconds {max_rank_seconds:g})")
                continue
        plocs = []
        for l in range(L):
            Tb = base_T[l] if base_T[l] is not None else np.ones(
                len(genotype_pairs(model.systems[l].n_alleles)[0]))
            T2, N = _pair_locus(model, l, aped, m, r, calls[l], Tb)
            plocs.append(_law(T2, N))
        p, plo, phi, pse = _tail(plocs, log_t, method, resolution, int(n_sim), rng)
        done[key] = (p, plo, phi, pse)
        sugg.append(Suggestion(word, r, p, plo, phi, pse))
    sugg.sort(key=lambda s: (-s.power, SUGGESTIBLE.index(s.relation)))
    return CasePower(case.id, m, float(threshold), int(n_database), method, power, lo, hi, se,
                     p_chance, p_up, float(n_database) * p_chance, mean, len(locs), typed, details,
                     sugg, "", time.perf_counter() - t0)
