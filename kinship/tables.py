"""Compiled LR tables: the form in which the engine scores candidates in bulk.

For a reference case C (typed relatives on a pedigree around a missing person M)
and a locus, the LR that candidate Q is M depends only on Q's genotype g:

    T[g] = P(Q = g, case | H1: Q is M) / P(Q = g, case | H2: Q unrelated)

Under H2 the pedigree keeps M (untyped) and adds Q as an unrelated founder, so
that θ conditions Q's alleles on every founder allele of the case.  The table is
computed exactly by :func:`kinship.likelihood.locus_likelihood` with M (and Q)
left free, for every genotype at once.  Bulk scoring is then one lookup per
locus: ``LR(Q, C) = Π_l T[C, l, g_Q,l]``.

Genotype index
--------------
An unordered genotype {a, b} (allele indices a <= b into the locus allele
system) has index ``b (b + 1) / 2 + a``; a locus with A alleles has
``A (A + 1) / 2`` genotypes.  :func:`genotype_index` and :func:`genotype_pairs`
convert.  Entries for genotypes that contain the silent allele are never looked
up (a silent allele is never called).

Pairwise relationships
----------------------
:data:`RELATIONSHIPS` defines each pairwise mode as a pedigree template over the
reference R and the candidate Q; :func:`pair_table` gives the full table
``W[g_R, g_Q]`` per locus, so a reference's case table is the row ``W[g_R]``.

Two conventions, on purpose
---------------------------
A pairwise table is the LR of two explicit hypotheses, as an analyst would set
them up in :func:`kinship.likelihood_ratio`: H1 places R and Q on the template
pedigree (a sibling R descends from untyped parents), H2 makes R and Q unrelated
*founders*.  A case table instead conditions on the case as it stands: under
both hypotheses the relatives keep their places in the case pedigree and only Q
moves (``T[g] = P(g | case, H1) / P(g | H2)``, as in docs/design-notes.md).  Under
a mutation model that is not stationary for the allele frequencies (stepwise,
equal), a person who descends from untyped founders has genotype probabilities
``p M`` rather than ``p``, so for a single non-founder reference (a sibling,
an uncle) the two differ by the factor ``P_H1(R) / P_H2(R)`` at each locus
(about 0.998 per locus for typical stepwise rates).  Without mutation, or with
a stationary model, they agree exactly.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

from ._numba import jit
from .frequencies import SILENT, FrequencyTable, LocusAlleles
from .likelihood import evidence_matrix, locus_likelihood
from .mutation import MutationModel
from .pedigree import Pedigree, Person

__all__ = [
    "genotype_index",
    "genotype_pairs",
    "n_genotypes",
    "fold_calls",
    "fold_pair",
    "evidence_stack",
    "fold_evidence",
    "RELATIONSHIPS",
    "relationship_pedigrees",
    "pair_table",
    "unrelated_table",
    "case_table",
    "LocusTable",
]


def n_genotypes(n_alleles: int) -> int:
    return n_alleles * (n_alleles + 1) // 2


def genotype_index(a, b):
    """Index of the unordered genotype {a, b} (works on ints and numpy arrays)."""
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    return hi * (hi + 1) // 2 + lo


def genotype_indices(codes: np.ndarray) -> np.ndarray:
    """Genotype index (:func:`genotype_index`) per (profile, locus) of allele codes
    ``[..., 2]``, ``-1`` where an allele is untyped: int16 when every index fits
    (loci with up to 255 alleles; half the memory traffic in the scoring kernel),
    else int32.  One pass in numba (millions of profiles load in a fraction of a
    second)."""
    codes = np.ascontiguousarray(codes)
    g = np.empty(codes.shape[:-1], dtype=np.int32)
    top = _genotype_indices(codes.reshape(-1, 2), g.reshape(-1)) if g.size else -1
    return g.astype(np.int16) if top <= np.iinfo(np.int16).max else g


@jit()
def _genotype_indices(calls, out):
    top = -1
    for i in range(calls.shape[0]):
        a = np.int32(calls[i, 0])
        b = np.int32(calls[i, 1])
        if a < 0 or b < 0:
            out[i] = -1
            continue
        if a > b:
            a, b = b, a
        v = b * (b + 1) // 2 + a
        out[i] = v
        if v > top:
            top = v
    return top


@lru_cache(maxsize=256)
def genotype_pairs(n_alleles: int) -> tuple[np.ndarray, np.ndarray]:
    """Arrays (a, b), a <= b, listing the genotypes in index order."""
    a = []
    b = []
    for hi in range(n_alleles):
        for lo in range(hi + 1):
            a.append(lo)
            b.append(hi)
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)


def fold_calls(J: np.ndarray, axis: int, silent: int | None) -> np.ndarray:
    """Fold two adjacent axes (axis, axis+1) over ordered alleles into one axis
    over genotype calls: call {a, b} = J[a, b] + J[b, a] (a != b), J[a, a]; with a
    silent allele s, a homozygous call a/a also collects J[a, s] + J[s, a].

    One pass in numba (:func:`_fold_kernel`), the additions of the former fancy-
    indexing form in its order, so the same bits: ``J[a, b] + J[b, a]`` (``J[a, a]
    + 0.0`` on the diagonal), then, with a silent allele, ``+ (J[a, s] + J[s, a])``
    on homozygous calls and ``+ 0.0`` elsewhere.  The result is C-contiguous."""
    J = np.asarray(J, dtype=np.float64)
    A = J.shape[axis]
    pre = int(np.prod(J.shape[:axis], dtype=np.int64))
    post = int(np.prod(J.shape[axis + 2:], dtype=np.int64))
    X = J.reshape(pre, A, A, post)    # a view where the strides allow it, else a copy
    out = np.empty((pre, n_genotypes(A), post))
    _fold_kernel(X, -1 if silent is None else int(silent), out)
    return out.reshape(J.shape[:axis] + (n_genotypes(A),) + J.shape[axis + 2:])


@jit()
def _fold_kernel(X, silent, out):
    """``out[i, g, k]`` = call g of ``X[i, :, :, k]`` (:func:`fold_calls`)."""
    A = X.shape[1]
    for i in range(X.shape[0]):
        g = 0
        for b in range(A):
            for a in range(b + 1):
                for k in range(X.shape[3]):
                    out[i, g, k] = _call(X, i, a, b, k, silent)
                g += 1


@jit()
def _call(X, i, a, b, k, silent):
    """Call {a, b} (a <= b) of ``X[i, :, :, k]``, in the order of the additions of
    the former fancy-indexing :func:`fold_calls`: ``X[a, b] + np.where(a != b,
    X[b, a], 0.0)``, then ``+ extra`` with extra = ``X[a, s] + X[s, a]`` on the
    homozygous calls of non-silent alleles and 0.0 elsewhere (adding 0.0 is kept:
    it turns a -0.0 into 0.0)."""
    v = X[i, a, b, k] + (X[i, b, a, k] if a != b else 0.0)
    if silent >= 0:
        v = v + (X[i, a, silent, k] + X[i, silent, a, k] if a == b and a != silent else 0.0)
    return v


def fold_pair(J: np.ndarray, silent: int | None) -> np.ndarray:
    """``fold_calls(fold_calls(J, 0, silent), 1, silent)`` for the joint
    ``J[r1, r2, q1, q2]`` of two persons' ordered alleles (``[A, A, A, A]``): the
    ``[G, G]`` table over their calls (R's call first), the same bits, in one
    pass without the ``[G, A, A]`` intermediate (:func:`_fold_pair_kernel`).

    Every entry is the sum the two folds compute: R's axes folded first,
    ``Y[gR, x, y]`` (the additions of :func:`_call` over R's alleles at Q's
    ordered alleles x, y), then Q's axes folded over ``Y`` (the same additions).
    Only the order in which the entries are visited follows the memory layout of
    ``J`` (the joints of :func:`kinship.likelihood.locus_likelihood` are often
    transposed views): the persons' pair of axes with the longer strides is the
    outer loop, so each step reads ``A`` runs of ``A`` neighbouring values."""
    J = np.asarray(J, dtype=np.float64)
    if J.ndim != 4 or len(set(J.shape)) != 1:
        raise ValueError(f"fold_pair takes an [A, A, A, A] joint, got shape {J.shape}")
    A = J.shape[0]
    G = n_genotypes(A)
    out = np.empty((G, G))
    st = [abs(x) for x in J.strides]
    r_outer = min(st[0], st[1]) >= min(st[2], st[3])
    # within a step, the faster of the inner pair's two axes runs innermost
    inner_last = st[3] <= st[2] if r_outer else st[1] <= st[0]
    _fold_pair_kernel(J, r_outer, inner_last, -1 if silent is None else int(silent), out)
    return out


@jit()
def _fold_pair_kernel(J, r_outer, inner_last, silent, out):
    """``out[gR, gQ]`` of :func:`fold_pair`.

    ``r_outer``: for each R call {a, b}, ``Y[x, y]`` over Q's ordered alleles
    (R's axes folded), then Q's axes of ``Y`` folded into the row ``out[gR]``.
    Otherwise, for each Q call {c, d}: ``Y[gR, x, y]`` for the few (x, y) that
    call reads ((c, d), (d, c), and with a silent allele s (c, s), (s, c)), each
    a fold of R's axes of ``J[:, :, x, y]``, then the column ``out[:, gQ]``."""
    A = J.shape[0]
    G = out.shape[0]
    if r_outer:
        Y = np.empty((A, A))
        gR = 0
        for b in range(A):
            for a in range(b + 1):
                if inner_last:
                    for x in range(A):
                        for y in range(A):
                            Y[x, y] = _call_r(J, a, b, x, y, silent)
                else:
                    for y in range(A):
                        for x in range(A):
                            Y[x, y] = _call_r(J, a, b, x, y, silent)
                gQ = 0
                for d in range(A):
                    for c in range(d + 1):
                        v = Y[c, d] + (Y[d, c] if c != d else 0.0)
                        if silent >= 0:
                            v = v + (Y[c, silent] + Y[silent, c] if c == d and c != silent else 0.0)
                        out[gR, gQ] = v
                        gQ += 1
                gR += 1
    else:
        Z = np.empty((4, G))
        gQ = 0
        for d in range(A):
            for c in range(d + 1):
                _fold_r(J, c, d, silent, inner_last, Z[0])
                if c != d:
                    _fold_r(J, d, c, silent, inner_last, Z[1])
                extra = silent >= 0 and c == d and c != silent
                if extra:
                    _fold_r(J, c, silent, silent, inner_last, Z[2])
                    _fold_r(J, silent, c, silent, inner_last, Z[3])
                for gR in range(G):
                    v = Z[0, gR] + (Z[1, gR] if c != d else 0.0)
                    if silent >= 0:
                        v = v + (Z[2, gR] + Z[3, gR] if extra else 0.0)
                    out[gR, gQ] = v
                gQ += 1


@jit()
def _call_r(J, a, b, x, y, silent):
    """``Y[{a, b}, x, y]`` (a <= b): R's axes of ``J`` folded into call {a, b} at
    Q's ordered alleles (x, y), the additions of :func:`_call`."""
    v = J[a, b, x, y] + (J[b, a, x, y] if a != b else 0.0)
    if silent >= 0:
        v = v + (J[a, silent, x, y] + J[silent, a, x, y] if a == b and a != silent else 0.0)
    return v


@jit()
def _fold_r(J, x, y, silent, inner_last, z):
    """``z[gR] = Y[gR, x, y]`` for every R call (:func:`_call_r`), visiting the
    slab ``J[:, :, x, y]`` along its faster axis (``inner_last``: R's second)."""
    A = J.shape[0]
    if inner_last:
        for a in range(A):
            for b in range(a, A):
                z[b * (b + 1) // 2 + a] = _call_r(J, a, b, x, y, silent)
    else:
        for b in range(A):
            for a in range(b + 1):
                z[b * (b + 1) // 2 + a] = _call_r(J, a, b, x, y, silent)


def evidence_stack(la: LocusAlleles, dropout: float = 0.0, dropin: float = 0.0) -> np.ndarray:
    """``E[g, x, y]`` = P(observed call g | true ordered genotype (x, y)) for every
    genotype index g of the locus (:func:`kinship.likelihood.evidence_matrix`;
    ``docs/dropout.md``).  Rows of calls that contain the silent allele are
    never looked up."""
    A = la.n_alleles
    silent = la.alleles.index(SILENT) if la.silent else None
    key = (la.alleles, np.asarray(la.freqs, dtype=np.float64).tobytes(), float(dropout), float(dropin))
    out = _EVIDENCE_STACKS.get(key)
    if out is not None:
        return out
    a, b = genotype_pairs(A)
    out = np.empty((len(a), A, A))
    for g, (x, y) in enumerate(zip(a, b)):
        out[g] = evidence_matrix((int(x), int(y)), A, silent, la.freqs, dropout, dropin)
    out.setflags(write=False)
    if len(_EVIDENCE_STACKS) > 256:
        _EVIDENCE_STACKS.clear()
    _EVIDENCE_STACKS[key] = out
    return out


#: evidence stacks per (allele system, frequencies, d, c): the same for every case
_EVIDENCE_STACKS: dict = {}


def fold_evidence(J: np.ndarray, axis: int, E: np.ndarray) -> np.ndarray:
    """Fold two adjacent axes (axis, axis+1) over a person's true ordered alleles
    into one axis over their observed call: ``Σ_{x,y} E[g, x, y] J[..., x, y, ...]``
    (:func:`fold_calls` is the case E = indicator)."""
    out = np.tensordot(J, E, axes=([axis, axis + 1], [1, 2]))
    return np.moveaxis(out, -1, axis)


def _fold(J, axis, silent, E):
    return fold_calls(J, axis, silent) if E is None else fold_evidence(J, axis, E)


def _stack_or_none(la, dropout, dropin):
    d = 0.0 if dropout is None else float(dropout)
    c = float(dropin)
    if d == 0.0 and c == 0.0:
        return None
    return evidence_stack(la, d, c)


def _ratio_table(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den


# ---------------------------------------------------------------------------
# pairwise relationships as pedigree templates over R (reference) and Q
# ---------------------------------------------------------------------------

def _p(pid, sex, father=None, mother=None):
    return Person(pid, father, mother, sex)


def _templates(rel: str, ref_sex: str, line: str):
    """H1 pedigree (persons) relating R and Q.  ``line`` ('paternal'/'maternal')
    chooses the sex of the linking parent where the relationship has one."""
    other = "female" if ref_sex == "male" else "male"
    lsex = "male" if line == "paternal" else "female"
    lother = "female" if lsex == "male" else "male"
    if rel == "parent-child":
        # R is the parent of Q
        return [_p("R", ref_sex), _p("X", other), _p("Q", "unknown", *(("R", "X") if ref_sex == "male" else ("X", "R")))]
    if rel == "full-sibling":
        return [_p("F", "male"), _p("M", "female"), _p("R", ref_sex, "F", "M"), _p("Q", "unknown", "F", "M")]
    if rel == "half-sibling":
        # common parent of sex `lsex`
        cp = _p("C", lsex)
        o1 = _p("O1", lother)
        o2 = _p("O2", lother)
        par = ("C", "O1") if lsex == "male" else ("O1", "C")
        par2 = ("C", "O2") if lsex == "male" else ("O2", "C")
        return [cp, o1, o2, _p("R", ref_sex, *par), _p("Q", "unknown", *par2)]
    if rel == "grandparent":
        # R is a grandparent of Q through Q's parent P of sex `lsex`
        rp = _p("S", other)
        par = ("R", "S") if ref_sex == "male" else ("S", "R")
        pp = _p("P", lsex, *par)
        sp = _p("T", lother)
        qpar = ("P", "T") if lsex == "male" else ("T", "P")
        return [_p("R", ref_sex), rp, pp, sp, _p("Q", "unknown", *qpar)]
    if rel == "avuncular":
        # R is a full sibling of Q's parent P (sex `lsex`): uncle/aunt - nephew/niece
        gp = [_p("GF", "male"), _p("GM", "female")]
        pp = _p("P", lsex, "GF", "GM")
        sp = _p("T", lother)
        qpar = ("P", "T") if lsex == "male" else ("T", "P")
        return gp + [_p("R", ref_sex, "GF", "GM"), pp, sp, _p("Q", "unknown", *qpar)]
    if rel == "first-cousin":
        # R's parent PR and Q's parent PQ are full siblings (both of sex `lsex`)
        gp = [_p("GF", "male"), _p("GM", "female")]
        pr = _p("PR", lsex, "GF", "GM")
        pq = _p("PQ", lsex, "GF", "GM")
        sr = _p("SR", lother)
        sq = _p("SQ", lother)
        rpar = ("PR", "SR") if lsex == "male" else ("SR", "PR")
        qpar = ("PQ", "SQ") if lsex == "male" else ("SQ", "PQ")
        return gp + [pr, pq, sr, sq, _p("R", ref_sex, *rpar), _p("Q", "unknown", *qpar)]
    raise KeyError(rel)


#: Pairwise relationships with their IBD coefficients (k0, k1, k2) for
#: non-inbred relatives (used for the closed-form checks without mutation).
RELATIONSHIPS = {
    "identity": (0.0, 0.0, 1.0),
    "parent-child": (0.0, 1.0, 0.0),
    "full-sibling": (0.25, 0.5, 0.25),
    "half-sibling": (0.5, 0.5, 0.0),
    "grandparent": (0.5, 0.5, 0.0),
    "avuncular": (0.5, 0.5, 0.0),
    "first-cousin": (0.75, 0.25, 0.0),
}


def relationship_pedigrees(rel: str, ref_sex: str = "male", line: str = "paternal"):
    """(H1, H2) pedigrees relating reference ``R`` and candidate ``Q``.

    H2 has R and Q as unrelated founders.  For ``identity`` H1 is ``None`` (R and
    Q are the same person; see :func:`pair_table`).
    """
    if rel not in RELATIONSHIPS:
        raise KeyError(f"unknown relationship {rel!r}; known: {', '.join(RELATIONSHIPS)}")
    if ref_sex not in ("male", "female"):
        raise ValueError("ref_sex must be 'male' or 'female'")
    if line not in ("paternal", "maternal"):
        raise ValueError("line must be 'paternal' or 'maternal'")
    h2 = Pedigree([_p("R", ref_sex), _p("Q", "unknown")])
    if rel == "identity":
        return None, h2
    return Pedigree(_templates(rel, ref_sex, line)), h2


@dataclass(frozen=True)
class LocusTable:
    """A compiled table at one locus: ``lr[g]`` and ``inconsistent[g]`` (true where
    H1 is impossible without mutation), over the genotype index of ``alleles``."""

    locus: str
    alleles: LocusAlleles
    lr: np.ndarray
    inconsistent: np.ndarray


def _locus_inputs(la: LocusAlleles, mutation: MutationModel | None):
    fM = mM = None
    if mutation is not None:
        fM, mM = mutation.matrices(la)
    silent = la.alleles.index(SILENT) if la.silent else None
    return fM, mM, silent


def pair_table(
    rel: str,
    la: LocusAlleles,
    mutation: MutationModel | None = None,
    theta: float = 0.0,
    ref_sex: str = "male",
    line: str = "paternal",
    ref_dropout: float | None = None,
    query_dropout: float | None = None,
    dropin: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(W, inconsistent)``, both ``[G, G]`` over (g_R, g_Q): the LR of ``rel``
    versus unrelated for every pair of genotypes at one locus, exactly (mutation,
    θ, silent allele).  ``inconsistent[gR, gQ]`` is true where the H1 likelihood is
    zero without mutation.

    ``ref_dropout`` / ``query_dropout``: the dropout probability of R's / Q's
    sample, ``dropin`` the drop-in probability of both (``docs/dropout.md``):
    ``W[gR, gQ] = Σ P(gR | xR) P(gQ | xQ) P(xR, xQ | H1) / Σ (same under H2)``
    over the true genotypes.  For ``identity`` R and Q are two samples of one
    person.  With all three 0 (the default) the table is the one without."""
    if mutation is not None and not isinstance(mutation, MutationModel):
        mutation = MutationModel(mutation)
    fM, mM, silent = _locus_inputs(la, mutation)
    A = la.n_alleles
    args = dict(n_alleles=A, freqs=la.freqs, theta=float(theta), silent=silent)
    h1, h2 = relationship_pedigrees(rel, ref_sex, line)
    ER = _stack_or_none(la, ref_dropout, dropin)
    EQ = _stack_or_none(la, query_dropout, dropin)
    if ER is not None or EQ is not None:
        return _pair_table_dropout(rel, h1, h2, ref_sex, args, fM, mM, silent, ER, EQ, la,
                                   _joint_key(rel, la, mutation, theta, ref_sex, line))
    D = unrelated_table(la, theta)
    if rel == "identity":
        one = Pedigree([_p("R", ref_sex)])
        v = fold_calls(locus_likelihood(one, {}, free=["R"], **args), 0, silent)
        N = np.diag(v)
        N0 = N
    else:
        J1 = locus_likelihood(h1, {}, free=["R", "Q"], female_M=fM, male_M=mM, **args)
        N = fold_pair(J1, silent)
        if fM is None and mM is None:
            N0 = N
        else:
            J0 = locus_likelihood(h1, {}, free=["R", "Q"], **args)
            N0 = fold_pair(J0, silent)
    inconsistent = N0 == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(N, D, out=N), inconsistent     # N is this call's own: W in its place


def unrelated_table(la: LocusAlleles, theta: float = 0.0) -> np.ndarray:
    """``D[g1, g2]``: the probability of two unrelated founders' calls at one locus
    (θ, silent allele), the denominator of every pair table of ``la``.

    It is :func:`fold_pair` of :func:`kinship.likelihood.locus_likelihood` of two
    founders left free, the computation :func:`pair_table` did for each
    relationship: it depends on the allele system, the frequencies and θ only
    (founders have no transmission, so neither the mutation model nor the sexes
    enter), so it is computed once and kept (read-only) for the relationships
    and pairs of the same locus model: the same bits."""
    freqs = np.asarray(la.freqs, dtype=np.float64)
    key = (la.alleles, freqs.tobytes(), float(theta))
    hit = _UNRELATED.get(key)
    if hit is not None:
        return hit
    silent = la.alleles.index(SILENT) if la.silent else None
    h2 = Pedigree([_p("R", "unknown"), _p("Q", "unknown")])
    D = fold_pair(locus_likelihood(h2, {}, free=["R", "Q"], n_alleles=la.n_alleles, freqs=la.freqs,
                                   theta=float(theta), silent=silent), silent)
    D.setflags(write=False)
    with _UNRELATED_LOCK:
        size = sum(x.nbytes for x in _UNRELATED.values())
        while _UNRELATED and size + D.nbytes > _UNRELATED_BYTES:
            size -= _UNRELATED.pop(next(iter(_UNRELATED))).nbytes     # the oldest first
        _UNRELATED[key] = D
    return D


#: unrelated_table per (alleles, frequencies, θ), oldest first
_UNRELATED: dict = {}
_UNRELATED_LOCK = threading.Lock()
#: at most this many bytes kept (SE33 with 53 alleles: 16 MB; a 23-locus model about 20 MB)
_UNRELATED_BYTES = 64 << 20


def _unordered(J: np.ndarray) -> np.ndarray:
    """``[A, A, A, A]`` over two persons' ordered true genotypes -> ``[Gt, Gt]`` over
    their unordered true genotypes (the orderings summed; no silent-allele rule:
    these are true genotypes, not calls)."""
    return fold_pair(J, None)


def _evidence_unordered(la: LocusAlleles, E: np.ndarray | None):
    """``E[g_obs, x, y]`` as a sparse ``[G, Gt]`` matrix over the unordered true
    genotype (E is symmetric in x, y: it depends on the allele counts only), or the
    indicator of the calls (with the silent-allele rule) when ``E`` is None."""
    from scipy import sparse

    A = la.n_alleles
    if E is None:
        silent = la.alleles.index(SILENT) if la.silent else None
        E = evidence_stack(la, 0.0, 0.0) if silent is None else _indicator_stack(A, silent)
    a, b = genotype_pairs(A)
    Eu = E[:, a, b]
    # without drop-in a call has few true genotypes (sparse); with drop-in every one
    return sparse.csr_matrix(Eu) if np.count_nonzero(Eu) < 0.05 * Eu.size else Eu


def _indicator_stack(A, silent):
    from .likelihood import evidence_matrix

    a, b = genotype_pairs(A)
    out = np.empty((len(a), A, A))
    for g, (x, y) in enumerate(zip(a, b)):
        out[g] = evidence_matrix((int(x), int(y)), A, silent, np.full(A, 1.0 / A), 0.0, 0.0)
    return out


#: joint tables over the unordered true genotypes of R and Q, per relationship and
#: locus model: the same for every dropout, so a run with several dropout values
#: computes them once (keyed by everything they depend on)
_JOINTS: dict = {}


def _joint_key(rel, la, mutation, theta, ref_sex, line):
    import json

    mut = None if mutation is None else json.dumps(mutation.describe(), sort_keys=True, default=str)
    return (rel, la.locus, la.alleles, np.asarray(la.freqs, dtype=np.float64).tobytes(), mut,
            float(theta), ref_sex, line)


def _pair_table_dropout(rel, h1, h2, ref_sex, args, fM, mM, silent, ER, EQ, la=None, key=None):
    """The pair table with the dropout model: ``W = (E_R N E_Q^T) / (E_R D E_Q^T)``
    with ``N``, ``D`` the joint probabilities of R's and Q's unordered true
    genotypes under H1 and H2 and ``E`` the evidence over them (sparse without
    drop-in); the joints are computed once per relationship and locus model."""
    joints = _JOINTS.get(key) if key is not None else None
    if joints is None:
        D = _unordered(locus_likelihood(h2, {}, free=["R", "Q"], **args))
        if rel == "identity":
            # two samples of one person: Σ_x P(gR | x) P(gQ | x) P(x)
            one = Pedigree([_p("R", ref_sex)])
            v = fold_calls(locus_likelihood(one, {}, free=["R"], **args), 0, None)
            N = N0 = np.diag(v)
        else:
            N = _unordered(locus_likelihood(h1, {}, free=["R", "Q"], female_M=fM, male_M=mM, **args))
            N0 = N if fM is None and mM is None else _unordered(
                locus_likelihood(h1, {}, free=["R", "Q"], **args))
        joints = (D, N, N0)
        if key is not None:
            if len(_JOINTS) > 128:
                _JOINTS.clear()
            _JOINTS[key] = joints
    D, N, N0 = joints
    eR, eQ = _evidence_unordered(la, ER), _evidence_unordered(la, EQ)

    def fold2(J):
        return np.asarray(eQ @ np.asarray(eR @ J).T).T

    Nf = fold2(N)
    N0f = Nf if N0 is N else fold2(N0)
    return _ratio_table(Nf, fold2(D)), N0f == 0.0


def case_table(
    pedigree,
    missing: str,
    calls: Mapping[str, tuple[str, str]],
    la: LocusAlleles,
    mutation: MutationModel | None = None,
    theta: float = 0.0,
    dropout: float | None = None,
    relative_dropout=None,
    dropin: float = 0.0,
) -> LocusTable:
    """Compile one locus of a reference case.

    ``pedigree``: the case pedigree including the missing person ``missing``;
    ``calls``: typed relatives' calls at this locus as allele labels.  Returns
    the table over the candidate's genotype index.

    Dropout (``docs/dropout.md``): ``dropout`` is the candidate's dropout
    probability, ``relative_dropout`` the relatives' (one number or
    ``{person: d}``), ``dropin`` the drop-in probability of every sample.  The
    candidate's is folded in over its true genotype g:
    ``T[g_obs] = Σ_g P(g_obs | g) P(g, case | H1) / Σ_g P(g_obs | g) P(g, case | H2)``.
    With all of them 0 (the default) the table is the one without.
    """
    ped = Pedigree.from_records(pedigree)
    if missing not in ped:
        raise KeyError(f"missing person {missing!r} is not in the case pedigree")
    if missing in calls:
        raise ValueError(f"the missing person {missing!r} cannot be typed in the case")
    if mutation is not None and not isinstance(mutation, MutationModel):
        mutation = MutationModel(mutation)
    idx = {a: i for i, a in enumerate(la.alleles)}
    icalls = {pid: (idx[a], idx[b]) for pid, (a, b) in calls.items()}
    fM, mM, silent = _locus_inputs(la, mutation)
    A = la.n_alleles
    args = dict(n_alleles=A, freqs=la.freqs, theta=float(theta), silent=silent)
    if relative_dropout is not None or float(dropin) != 0.0:
        args.update(dropout=relative_dropout, dropin=dropin)
    EQ = _stack_or_none(la, dropout, dropin)
    qid = "__candidate__"
    while qid in ped:
        qid += "_"
    h2 = ped.with_person(Person(qid, None, None, "unknown"))
    num = _fold(locus_likelihood(ped, icalls, free=[missing], female_M=fM, male_M=mM, **args), 0, silent, EQ)
    den = _fold(locus_likelihood(h2, icalls, free=[qid], female_M=fM, male_M=mM, **args), 0, silent, EQ)
    if fM is None and mM is None:
        num0 = num
    else:
        num0 = _fold(locus_likelihood(ped, icalls, free=[missing], **args), 0, silent, EQ)
    return LocusTable(la.locus, la, _ratio_table(num, den), num0 == 0.0)
