"""Exact pedigree likelihoods at one locus, and likelihood ratios.

Model
-----
Each person carries an ordered pair of alleles (paternal, maternal).

* Founder alleles are drawn from one subpopulation pool with the
  Balding–Nichols sampling formula (NRC II 4.10): the k-th founder allele is
  ``a`` with probability ``(c_a θ + (1-θ) p_a) / (1 + (k-2) θ)``, where ``c_a``
  counts earlier founder alleles equal to ``a``.  All founders of a hypothesis,
  including persons unrelated under H2, share the pool.  With θ = 0 this is
  ``p_a``, independently.
* A child receives from each parent one of the parent's two alleles with
  probability 1/2 each, mutated by the parent's sex-specific mutation matrix:
  ``P(child's paternal allele = c) = ½ M_male[f_p, c] + ½ M_male[f_m, c]``.
* A typed person with call ``a/b`` has the unordered genotype ``{a, b}``; with a
  silent allele ``s`` at the locus, a homozygous call ``a/a`` also admits
  ``{a, s}``.

Computation
-----------
The likelihood is a sum over all allele assignments of a product of factors:
one per transmission (a 3-index tensor over the parent's two alleles and the
child's allele), one per typed person (an indicator over their two alleles),
and the founder pool.  Persons who are untyped and have no typed descendant sum
out to 1 and are removed first.  The sum is evaluated by tensor contraction
(``numpy.einsum`` with an optimised contraction order), which is variable
elimination (peeling) for any pedigree, loops included.

With θ > 0 the founder pool couples all founder alleles.  Typed founders have
known alleles; their sequence probability is a number.  The draws of the
untyped founders are expanded with the Chinese-restaurant identity

    Π_j (w_{x_j} + θ #{i<j : x_i = x_j})
        = Σ over set partitions π of the draws  Π_{blocks B} θ^{|B|-1} (|B|-1)!  w_{x_B}

(with every draw of a block equal to x_B, blocks not forced to differ), where
``w_a = c_a θ + (1-θ) p_a`` counts the typed founders' alleles.  Each partition
is a θ = 0-style contraction with merged variables, so the result is exact.
The number of partitions is the Bell number of the number of unknown founder
alleles (an untyped founder with a single child passes on one allele and counts
once): 2, 15, 203, 4140 for 2, 4, 6, 8 draws; more is refused with a clear error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np
import opt_einsum as oe

from .frequencies import SILENT, FrequencyTable, LocusAlleles, MissingAlleleError
from .markers import AlleleError, LocusError, is_amelogenin, normalize_allele
from .mutation import MutationModel
from .pedigree import Pedigree, PedigreeError

__all__ = [
    "locus_likelihood",
    "likelihood_ratio",
    "LRResult",
    "GenotypeError",
    "posterior",
    "MAX_FOUNDER_DRAWS_THETA",
]

#: With θ > 0, at most this many unknown founder alleles (draws) per hypothesis
#: and locus (Bell(8) = 4140 partitions).  An untyped founder with one child
#: counts one draw, with more children two.
MAX_FOUNDER_DRAWS_THETA = 8


class GenotypeError(ValueError):
    """A genotype that cannot be used, naming person, locus and allele."""


# ---------------------------------------------------------------------------
# factor construction
# ---------------------------------------------------------------------------


def _transmission(M: np.ndarray | None, A: int) -> np.ndarray:
    """T[f1, f2, c] = ½ M[f1, c] + ½ M[f2, c] (M = identity without mutation)."""
    if M is None:
        M = np.eye(A)
    return 0.5 * (M[:, None, :] + M[None, :, :])


def _evidence(call: tuple[int, int], A: int, silent: int | None) -> np.ndarray:
    a, b = call
    E = np.zeros((A, A))
    E[a, b] = 1.0
    E[b, a] = 1.0
    if a == b and silent is not None:
        E[a, silent] = 1.0
        E[silent, a] = 1.0
    return E


def _founder_options(call, silent):
    """Unordered genotypes a typed founder may have, with their ordering count."""
    a, b = call
    if a != b:
        return [((a, b), 2)]
    opts = [((a, a), 1)]
    if silent is not None:
        opts.append(((a, silent), 2))
    return opts


@lru_cache(maxsize=64)
def _set_partitions(m: int) -> tuple:
    """All set partitions of range(m) as tuples of block ids (restricted growth strings)."""
    out = []

    def rec(i, labels, nblocks):
        if i == m:
            out.append(tuple(labels))
            return
        for b in range(nblocks + 1):
            labels.append(b)
            rec(i + 1, labels, max(nblocks, b + 1))
            labels.pop()

    rec(0, [], 0)
    return tuple(out)


_PATH_CACHE: dict = {}


def _dedupe(op, sub):
    """Take the diagonal of an operand whose labels repeat (merged draws), so that
    every operand has distinct labels and the contraction can use BLAS."""
    if len(set(sub)) == len(sub):
        return op, tuple(sub)
    uniq = tuple(dict.fromkeys(sub))
    return np.einsum(op, list(sub), list(uniq)), uniq


def _contract(operands, sublists, out):
    """Tensor contraction (einsum, sublist form) with a cached contraction order.

    opt_einsum chooses the order (variable elimination) and contracts pairwise
    with BLAS; numpy's own greedy order falls back to one large multi-operand
    contraction for pedigrees such as avuncular, thousands of times slower.
    """
    pairs = [_dedupe(o, s) for o, s in zip(operands, sublists)]
    operands = [p[0] for p in pairs]
    sublists = [p[1] for p in pairs]
    key = (tuple(sublists), tuple(o.shape for o in operands), tuple(out))
    path = _PATH_CACHE.get(key)
    args = []
    for o, s in zip(operands, sublists):
        args.append(o)
        args.append(list(s))
    args.append(list(out))
    if path is None:
        path = oe.contract_path(*args, optimize="greedy")[0]
        if len(_PATH_CACHE) > 8192:
            _PATH_CACHE.clear()
        _PATH_CACHE[key] = path
    return oe.contract(*args, optimize=path)


def _relevant(ped: Pedigree, keep: set[str]) -> list[str]:
    """Persons that matter: remove untyped leaves repeatedly (they sum to 1)."""
    alive = set(ped.persons)
    changed = True
    while changed:
        changed = False
        for pid in list(alive):
            if pid in keep:
                continue
            if not any(c in alive for c in ped.children[pid]):
                alive.discard(pid)
                changed = True
    # a non-founder's parents must stay with it (they carry its alleles)
    return [pid for pid in ped.order if pid in alive]


def locus_likelihood(
    ped: Pedigree,
    calls: Mapping[str, tuple[int, int]],
    n_alleles: int,
    freqs: np.ndarray,
    female_M: np.ndarray | None = None,
    male_M: np.ndarray | None = None,
    theta: float = 0.0,
    silent: int | None = None,
    free: Sequence[str] = (),
):
    """Likelihood of the calls at one locus.

    ``calls`` maps typed persons to allele-index pairs.  ``free`` persons are
    left open: the result is then an array over their ordered alleles, axes
    (p1 paternal, p1 maternal, p2 paternal, ...), giving the joint probability
    of the calls and those alleles.  Without ``free`` the result is a float.
    """
    A = n_alleles
    p = np.asarray(freqs, dtype=np.float64)
    free = list(free)
    for f in free:
        if f in calls:
            raise ValueError(f"person {f!r} cannot be both typed and free")
    persons = _relevant(ped, set(calls) | set(free))
    lab = {pid: (2 * i, 2 * i + 1) for i, pid in enumerate(persons)}
    out_labels = [l for f in free for l in lab[f]]

    Tm = _transmission(male_M, A)
    Tf = _transmission(female_M, A)
    # An untyped founder with one child passes on one allele: by exchangeability of
    # the founder's two alleles, ½M[f1,c] + ½M[f2,c] summed against a symmetric
    # distribution of (f1, f2) equals M[f1,c] with f2 summed out.  Such a founder
    # then contributes one draw instead of two.
    alive = set(persons)
    single = {
        pid for pid in persons
        if ped.persons[pid].father is None and pid not in calls and pid not in free
        and sum(1 for c in ped.children[pid] if c in alive) == 1
    }
    Mm_ = np.eye(A) if male_M is None else male_M
    Mf_ = np.eye(A) if female_M is None else female_M

    base_ops: list[np.ndarray] = []
    base_subs: list[tuple] = []
    founders_typed: list[str] = []
    founders_untyped: list[str] = []
    for pid in persons:
        per = ped.persons[pid]
        pl, ml = lab[pid]
        if per.father is None:
            if pid in calls:
                founders_typed.append(pid)
            else:
                founders_untyped.append(pid)
            continue
        fl = lab[per.father]
        mol = lab[per.mother]
        if per.father in single:
            base_ops.append(Mm_)
            base_subs.append((fl[0], pl))
        else:
            base_ops.append(Tm)
            base_subs.append((fl[0], fl[1], pl))
        if per.mother in single:
            base_ops.append(Mf_)
            base_subs.append((mol[0], ml))
        else:
            base_ops.append(Tf)
            base_subs.append((mol[0], mol[1], ml))
        if pid in calls:
            base_ops.append(_evidence(calls[pid], A, silent))
            base_subs.append((pl, ml))

    if theta == 0.0:
        ops = list(base_ops)
        subs = list(base_subs)
        for pid in founders_typed:
            pl, ml = lab[pid]
            ops.append(_evidence(calls[pid], A, silent) * np.outer(p, p))
            subs.append((pl, ml))
        for pid in founders_untyped:
            pl, ml = lab[pid]
            if pid in single:
                ops.append(p)
                subs.append((pl,))
            else:
                ops += [p, p]
                subs += [(pl,), (ml,)]
        res = _contract_or_scalar(ops, subs, out_labels)
        return res if free else float(res)

    if not (0.0 <= theta < 1.0):
        raise ValueError(f"theta must be in [0, 1), got {theta}")
    n_draws = sum(1 if pid in single else 2 for pid in founders_untyped)
    if n_draws > MAX_FOUNDER_DRAWS_THETA:
        raise NotImplementedError(
            f"theta > 0 with {len(founders_untyped)} untyped founders that have typed "
            f"relatives ({n_draws} unknown founder alleles): the exact sum has "
            f"Bell({n_draws}) terms, more than this implementation evaluates (limit "
            f"{MAX_FOUNDER_DRAWS_THETA} unknown founder alleles). Type more relatives, or "
            f"use theta=0 for this pedigree."
        )

    draws = [l for pid in founders_untyped for l in (lab[pid][:1] if pid in single else lab[pid])]
    m = len(draws)
    parts = _set_partitions(m)
    total = 0.0
    # typed founders: enumerate genotype options (more than one only with a silent allele)
    option_lists = [_founder_options(calls[pid], silent) for pid in founders_typed]
    for combo in _product(option_lists):
        mult = 1.0
        typed_alleles: list[int] = []
        ops = list(base_ops)
        subs = list(base_subs)
        for pid, ((a, b), k) in zip(founders_typed, combo):
            mult *= k
            typed_alleles += [a, b]
            pl, ml = lab[pid]
            ops += [_onehot(a, A), _onehot(b, A)]
            subs += [(pl,), (ml,)]
        # probability of the typed founder alleles as a sequence from the pool
        counts = np.zeros(A)
        seq_prob = 1.0
        for k, a in enumerate(typed_alleles):
            seq_prob *= (counts[a] * theta + (1 - theta) * p[a]) / (1 + (k - 1) * theta)
            counts[a] += 1
        n = len(typed_alleles)
        if seq_prob == 0.0:
            continue
        w = counts * theta + (1 - theta) * p
        denom = 1.0
        for j in range(m):
            denom *= 1 + (n + j - 1) * theta
        acc = None
        for part in parts:
            nb = max(part) + 1 if part else 0
            sizes = [0] * nb
            for b in part:
                sizes[b] += 1
            weight = 1.0
            for s in sizes:
                weight *= theta ** (s - 1) * math.factorial(s - 1)
            # merge every draw of a block onto the block's first label
            rep = {}
            first = {}
            for lbl, b in zip(draws, part):
                if b not in first:
                    first[b] = lbl
                rep[lbl] = first[b]
            p_ops = list(ops)
            p_subs = [tuple(rep.get(l, l) for l in s) for s in subs]
            for b in range(nb):
                p_ops.append(w)
                p_subs.append((first[b],))
            mapped_out = [rep.get(l, l) for l in out_labels]
            val = _contract_free(p_ops, p_subs, mapped_out, A) * weight
            acc = val if acc is None else acc + val
        if acc is None:  # no untyped draws: a single empty partition
            acc = _contract_free(ops, subs, out_labels, A)
        total = total + mult * seq_prob * acc / denom
    if free:
        return total if not np.isscalar(total) else np.zeros((A,) * len(out_labels))
    return float(total)


def _product(lists):
    if not lists:
        yield ()
        return
    first, rest = lists[0], lists[1:]
    for x in first:
        for r in _product(rest):
            yield (x,) + r


def _onehot(i, A):
    v = np.zeros(A)
    v[i] = 1.0
    return v


def _contract_or_scalar(ops, subs, out):
    if not ops:
        return 1.0
    return _contract(ops, subs, out)


def _contract_free(ops, subs, out_labels, A):
    """Contract with possibly repeated output labels (merged draws): the result is
    placed on the corresponding diagonal of the full output array."""
    if not out_labels:
        return float(_contract_or_scalar(ops, subs, []))
    uniq = list(dict.fromkeys(out_labels))
    # every output label must occur in some operand
    present = {l for s in subs for l in s}
    ops = list(ops)
    subs = list(subs)
    for l in uniq:
        if l not in present:
            ops.append(np.ones(A))
            subs.append((l,))
    res = _contract(ops, subs, uniq)
    if len(uniq) == len(out_labels):
        return res
    full = np.zeros((A,) * len(out_labels))
    grid = np.indices((A,) * len(uniq))
    pos = {l: i for i, l in enumerate(uniq)}
    full[tuple(grid[pos[l]] for l in out_labels)] = res
    return full


# ---------------------------------------------------------------------------
# genotypes and the public LR
# ---------------------------------------------------------------------------


def _parse_call(pid, locus, value):
    """Normalise one person's call at one locus: None (untyped) or (a, b)."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = [x for x in value.replace(",", "/").replace(" ", "/").split("/") if x != ""]
        value = tuple(parts)
    try:
        vals = list(value)
    except TypeError:
        raise GenotypeError(f"person {pid!r}, locus {locus}: genotype {value!r} is not a pair of alleles") from None
    if all(v is None or (isinstance(v, str) and v.strip() == "") for v in vals):
        return None
    if len(vals) == 1:
        raise GenotypeError(
            f"person {pid!r}, locus {locus}: one allele given ({vals[0]!r}); write a "
            f"homozygote twice, e.g. ({vals[0]!r}, {vals[0]!r})"
        )
    if len(vals) != 2:
        raise GenotypeError(
            f"person {pid!r}, locus {locus}: {len(vals)} alleles given ({', '.join(map(str, vals))}); "
            f"a single-source STR profile has at most two alleles per locus (tri-allelic calls "
            f"and mixtures are not supported: leave the locus untyped for this person)"
        )
    out = []
    for v in vals:
        if v is None or (isinstance(v, str) and v.strip() == ""):
            raise GenotypeError(
                f"person {pid!r}, locus {locus}: one allele missing in {tuple(vals)!r}; give both "
                f"alleles or leave the locus untyped"
            )
        try:
            out.append(normalize_allele(v))
        except AlleleError as e:
            raise GenotypeError(f"person {pid!r}, locus {locus}: {e}") from None
    return tuple(sorted(out, key=lambda a: (float(a), a)))


def _posterior_or_nan(x):
    return x


@dataclass
class LRResult:
    """Likelihood ratio of H1 versus H2, per locus and in total.

    ``total`` is the product over loci (0.0 for an exclusion, nan where a locus is
    0/0).  ``per_locus`` maps each locus to its LR; ``likelihood_h1`` /
    ``likelihood_h2`` hold the likelihoods; ``inconsistent`` lists the loci whose
    H1 likelihood is zero without mutation (Mendelian inconsistencies, reported
    beside every LR); ``skipped`` lists loci not evaluated and why.
    """

    per_locus: dict
    likelihood_h1: dict
    likelihood_h2: dict
    inconsistent: list
    skipped: dict = field(default_factory=dict)

    @property
    def total(self) -> float:
        t = 1.0
        for v in self.per_locus.values():
            t *= v
        return float(t)

    @property
    def log10_total(self) -> float:
        vals = list(self.per_locus.values())
        if any(math.isnan(v) for v in vals):
            return math.nan
        if any(v == 0 for v in vals):
            return -math.inf if not any(math.isinf(v) for v in vals) else math.nan
        return float(sum(math.log10(v) for v in vals))

    @property
    def n_inconsistent(self) -> int:
        return len(self.inconsistent)

    @property
    def loci(self) -> list:
        return list(self.per_locus)

    def posterior(self, prior: float = 0.5) -> float:
        return posterior(self.total, prior)


def _ratio(l1: float, l2: float) -> float:
    if l2 == 0.0:
        return math.nan if l1 == 0.0 else math.inf
    return l1 / l2


def posterior(lr: float, prior: float = 0.5) -> float:
    """Posterior probability of H1 from the LR and the prior probability of H1.

    >>> posterior(1e4, 0.5)  # doctest: +ELLIPSIS
    0.99990000999...
    >>> posterior(0.0, 0.5), posterior(float('inf'), 0.01)
    (0.0, 1.0)
    """
    if not (0.0 <= prior <= 1.0):
        raise ValueError(f"prior must be a probability in [0, 1], got {prior}")
    if math.isnan(lr):
        return math.nan
    if math.isinf(lr):
        return 1.0 if prior > 0 else math.nan
    num = lr * prior
    den = num + (1.0 - prior)
    return math.nan if den == 0 else num / den


def _genotypes_by_locus(genotypes, frequencies: FrequencyTable, persons: set[str]):
    by_locus: dict[str, dict[str, tuple]] = {}
    for pid, loci in genotypes.items():
        pid = str(pid)
        if pid not in persons:
            raise PedigreeError(
                f"genotypes are given for {pid!r}, who is not in the pedigrees; add "
                f"{pid!r} to both hypotheses (as an unrelated founder under H2)"
            )
        if not isinstance(loci, Mapping):
            raise GenotypeError(f"person {pid!r}: genotypes must be a dict {{locus: (a, b)}}")
        for raw_locus, value in loci.items():
            if is_amelogenin(raw_locus):
                continue  # read for sex elsewhere, never an LR locus
            try:
                locus = frequencies.resolve_locus(raw_locus)
            except LocusError as e:
                raise LocusError(f"person {pid!r}: {e}") from None
            call = _parse_call(pid, locus, value)
            if call is None:
                continue
            d = by_locus.setdefault(locus, {})
            if pid in d and d[pid] != call:
                raise GenotypeError(
                    f"person {pid!r}, locus {locus}: two different genotypes given "
                    f"({'/'.join(d[pid])} and {'/'.join(call)})"
                )
            d[pid] = call
    return by_locus


def likelihood_ratio(
    h1,
    h2,
    genotypes: Mapping[str, Mapping[str, tuple]],
    frequencies: FrequencyTable,
    mutation: MutationModel | None = None,
    theta: float = 0.0,
    loci: Sequence[str] | None = None,
) -> LRResult:
    """LR of two pedigree hypotheses given the genotypes of typed persons.

    ``h1``, ``h2``: lists of person records (see :mod:`kinship.pedigree`); every
    typed person must be in both.  ``genotypes``: ``{person: {locus: (a1, a2)}}``;
    a locus missing for a person, or ``None``, means untyped there.  ``loci``
    restricts the loci evaluated (default: every locus typed in someone).
    ``mutation``: a :class:`~kinship.mutation.MutationModel`, or one model used for
    both sexes, or None.  ``theta``: the Balding–Nichols coancestry coefficient.

    Per locus, LR = L(H1) / L(H2), with 0/0 = nan and x/0 = inf.
    """
    ped1 = Pedigree.from_records(h1)
    ped2 = Pedigree.from_records(h2)
    if mutation is not None and not isinstance(mutation, MutationModel):
        mutation = MutationModel(mutation)
    if not isinstance(frequencies, FrequencyTable):
        raise TypeError("frequencies must be a kinship.FrequencyTable")
    if not (0.0 <= float(theta) < 1.0):
        raise ValueError(f"theta must be in [0, 1), got {theta}")
    typed_ids = {str(k) for k in genotypes}
    for pid in typed_ids:
        for name, ped in (("H1", ped1), ("H2", ped2)):
            if pid not in ped:
                raise PedigreeError(
                    f"genotypes are given for {pid!r}, who is not in {name}; every typed "
                    f"person must appear in both hypotheses"
                )
    by_locus = _genotypes_by_locus(genotypes, frequencies, typed_ids)
    if mutation is not None:
        mutation.check_loci(frequencies.loci)
    if loci is not None:
        wanted = [frequencies.resolve_locus(l) for l in loci]
        by_locus = {l: by_locus.get(l, {}) for l in wanted}
    per, l1s, l2s, inc, skipped = {}, {}, {}, [], {}
    for locus, calls in by_locus.items():
        if not calls:
            skipped[locus] = "nobody typed"
            continue
        observed = sorted({a for c in calls.values() for a in c})
        try:
            la = frequencies.locus_alleles(locus, observed)
        except MissingAlleleError as e:
            who = [pid for pid, c in calls.items() if any(a not in frequencies.alleles(locus) for a in c)]
            raise MissingAlleleError(f"{e} (typed in: {', '.join(who)})") from None
        idx = {a: i for i, a in enumerate(la.alleles)}
        icalls = {pid: (idx[a], idx[b]) for pid, (a, b) in calls.items()}
        silent = la.alleles.index(SILENT) if la.silent else None
        fM = mM = None
        if mutation is not None:
            fM, mM = mutation.matrices(la)
        args = dict(n_alleles=la.n_alleles, freqs=la.freqs, theta=float(theta), silent=silent)
        L1 = locus_likelihood(ped1, icalls, female_M=fM, male_M=mM, **args)
        L2 = locus_likelihood(ped2, icalls, female_M=fM, male_M=mM, **args)
        if fM is None and mM is None:
            L1_nomut = L1
        else:
            L1_nomut = locus_likelihood(ped1, icalls, **args)
        if L1_nomut == 0.0:
            inc.append(locus)
        per[locus] = _ratio(L1, L2)
        l1s[locus] = L1
        l2s[locus] = L2
    return LRResult(per, l1s, l2s, inc, skipped)
