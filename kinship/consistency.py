"""Do a family's typed relatives fit the pedigree drawn for them?

Before a search hit of a case is trusted, the references of the case are
checked against each other: a reference "father" who is not the father of the
full sibling typed beside him (a sample mix-up, a swapped sample, a family
secret), a half sibling labelled full, the same person typed twice.  Every
hit of such a case is then wrong or weaker than it looks.

For each pair (A, B) of typed persons of a case (:class:`kinship.cases.Case`):

* the **claimed** relationship is the case pedigree itself: the LR of the pair
  ``P(g_A, g_B | the pedigree, only A and B typed) / P(g_A) P(g_B)`` per locus,
  exactly (mutation, θ, silent allele), from the part of the pedigree that
  connects them (their ancestors); its name (:func:`pair_relationship`) is one
  of :data:`kinship.tables.RELATIONSHIPS`, ``unrelated``, or ``pedigree`` for
  any other connection (the LR is exact whatever the name);
* the **alternatives** are the pairwise relationships of
  :data:`kinship.tables.RELATIONSHIPS` (the search's own pair tables,
  :meth:`kinship.search.ScoringModel.pair_tables`) and ``unrelated`` (LR 1),
  each the largest over its orientations (who is the parent, grandparent,
  uncle) and lines (paternal, maternal);
* the loci where the pair is **excluded** as claimed without mutation.

Decision rule (the defaults; :class:`ConsistencyChecker` takes others):

* a pair is **excluded** when it cannot be related as claimed without mutation
  at :data:`MIN_EXCLUDED_LOCI` (2) loci or more (one locus alone may be a
  mutation: a note, as at import, :func:`kinship.cases.consistency_error`);
* a pair is **better explained** when an alternative other than the claimed
  relationship has an LR at least :data:`RATIO` (10^2) times the claimed one.
  For a family that is as drawn, ``LR_alt / LR_claimed`` is a likelihood ratio
  of a false hypothesis against the true one, so
  ``P(LR_alt / LR_claimed >= K) <= 1 / K`` (Markov's inequality; E = 1): at most
  16 / K per pair over the 16 sub-hypotheses (orientations and lines) of the
  alternatives, 16 % at K = 10^2 as a bound; the measured rate is far lower
  (0.25 % of true full-sibling pairs, ``docs/engine.md``), and a half sibling
  labelled full, whose median ratio is 10^2.2 at 29 loci, needs a K this low;
* a reference whose recorded sex (amelogenin) contradicts its place is a
  **sex** finding;
* across the whole database, two references whose profiles are identical on at
  least :data:`IDENTITY_MIN_LOCI` (8) loci typed in both, with an identity LR
  ``prod_l 1 / P(g_l)`` of at least :data:`IDENTITY_LR` (10^10), are **the same
  person**: in two cases, or under two ids (:func:`identities`).

A case with an excluded or better-explained pair, or a sex finding, is
**inconsistent**; with a single excluded locus only it has a **note**; a case
whose reference is the same person as another case's reference is reported as
a **duplicate** (the same mother of two missing children may be legitimate).
:func:`explain` names the suspect sample (the one in most flagged pairs), the
likely explanation (an unrelated "father" or a swapped sample, a half sibling
labelled full, one person under two ids) and the fix.  Nothing here names an
allele.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ._blas import one_blas_thread
from .cases import Case, RelationCase, _sex
from .frequencies import SILENT
from .pedigree import Pedigree, Person
from .tables import RELATIONSHIPS, fold_pair, unrelated_table

__all__ = [
    "RATIO", "MIN_EXCLUDED_LOCI", "IDENTITY_LR", "IDENTITY_MIN_LOCI", "ALTERNATIVES",
    "PairCheck", "CaseCheck", "IdentityPair", "ConsistencyChecker", "pair_relationship",
    "identities", "explain",
]

#: an alternative at least this many times the claimed relationship's LR flags a pair
RATIO = 1e2
#: a pair excluded without mutation at this many loci or more is flagged
MIN_EXCLUDED_LOCI = 2
#: identity LR from which two references are the same person
IDENTITY_LR = 1e10
#: least number of loci typed in both for the identity of two references
IDENTITY_MIN_LOCI = 8
#: the alternatives of a pair, in reporting (and tie-breaking) order
ALTERNATIVES = tuple(RELATIONSHIPS) + ("unrelated",)
#: relationships whose pair table is asymmetric (R is the parent, grandparent, uncle)
_ASYMMETRIC = ("parent-child", "grandparent", "avuncular")
#: relationships whose pair table depends on the linking parent's line
_LINED = ("half-sibling", "grandparent", "avuncular", "first-cousin")


def pair_relationship(ped: Pedigree, a: str, b: str) -> str:
    """The name of the relationship of persons ``a`` and ``b`` in ``ped``: one of
    :data:`kinship.tables.RELATIONSHIPS` when the pedigree connects them exactly
    so (and no other way), ``unrelated`` when they have no common ancestor and
    neither descends from the other, ``pedigree`` otherwise (a double
    relationship, inbreeding, a great-grandparent ...)."""
    P = ped.persons

    def parents(x):
        p = P[x]
        return () if p.father is None else (p.father, p.mother)

    anc_a, anc_b = ped.ancestors(a), ped.ancestors(b)
    if a == b:
        return "identity"
    if not ((anc_a | {a}) & (anc_b | {b})):
        return "unrelated"
    pa, pb = parents(a), parents(b)
    # parent-child: one is a parent of the other, no other common ancestry
    for x, y, py in ((a, b, pb), (b, a, pa)):
        if x in py:
            other = [p for p in py if p != x][0]
            if not ((ped.ancestors(x) | {x}) & (ped.ancestors(other) | {other})):
                return "parent-child"
            return "pedigree"
    if pa and pb:
        common = set(pa) & set(pb)
        rest_a = [p for p in pa if p not in common]
        rest_b = [p for p in pb if p not in common]

        def unrelated_to_all(xs, ys):
            return all(not ((ped.ancestors(x) | {x}) & (ped.ancestors(y) | {y})) for x in xs for y in ys)

        if len(common) == 2 and unrelated_to_all(pa[:1], pa[1:]):
            return "full-sibling"
        if len(common) == 1 and unrelated_to_all(rest_a, rest_b) and \
                unrelated_to_all(rest_a + rest_b, list(common)):
            return "half-sibling"
    # grandparent / avuncular: x's relation to a parent q of y
    for x, y, py in ((a, b, pb), (b, a, pa)):
        for q in py:
            other = [p for p in py if p != q][0]
            clean = not ((ped.ancestors(other) | {other}) & (ped.ancestors(x) | ped.ancestors(q) | {x, q}))
            if not clean:
                continue
            pq = parents(q)
            px = parents(x)
            if x in pq:
                o = [p for p in pq if p != x][0]
                if not ((ped.ancestors(x) | {x}) & (ped.ancestors(o) | {o})):
                    return "grandparent"
            if px and pq and set(px) == set(pq) and \
                    not ((ped.ancestors(px[0]) | {px[0]}) & (ped.ancestors(px[1]) | {px[1]})):
                return "avuncular"
    # first cousins: a parent of a and a parent of b are full siblings
    if pa and pb:
        for qa in pa:
            for qb in pb:
                oa = [p for p in pa if p != qa][0]
                ob = [p for p in pb if p != qb][0]
                g1, g2 = parents(qa), parents(qb)
                if g1 and g2 and set(g1) == set(g2) and qa != qb:
                    lines = [(ped.ancestors(z) | {z}) for z in (oa, ob, g1[0], g1[1])]
                    if not (lines[0] & lines[1]) and not ((lines[0] | lines[1]) & (
                            ped.ancestors(qa) | ped.ancestors(qb) | {qa, qb})) \
                            and not (lines[2] & lines[3]):
                        return "first-cousin"
    return "pedigree"


@dataclass
class PairCheck:
    """One pair of typed relatives of a case, checked against the case pedigree."""

    sample_a: str
    sample_b: str
    claimed: str                  # the pedigree's relationship of the pair (its name)
    loci_compared: int
    log10_lr_claimed: float       # claimed vs unrelated, exact on the case pedigree
    alternatives: dict            # relationship -> log10 LR vs unrelated (max over sub-hypotheses)
    loci_excluded: list           # loci excluded as claimed without mutation
    best: str = ""                # the alternative with the highest LR other than the claimed one
    log10_best_vs_claimed: float = 0.0
    finding: str = ""             # "", "excluded", "better-explained", "note"


@dataclass
class IdentityPair:
    """Two references that are the same person (identity LR over the threshold)."""

    sample_a: str
    case_a: str
    sample_b: str
    case_b: str
    log10_lr: float
    loci_compared: int


@dataclass
class CaseCheck:
    """The consistency of one case: every pair, sex findings, and the verdict."""

    case_id: str
    pairs: list = field(default_factory=list)
    sex: list = field(default_factory=list)            # [(sample, recorded, placed as, required)]
    identities: list = field(default_factory=list)     # IdentityPair involving the case
    relations: dict = field(default_factory=dict)      # sample -> relation word or "person X"
    status: str = "consistent"   # consistent | note | inconsistent | duplicate
    suspect: str = ""
    explanation: str = ""
    fix: str = ""


class ConsistencyChecker:
    """Checks cases against a :class:`kinship.search.ScoringModel` (its allele
    systems, mutation, θ and pair tables).  Genotypes are genotype indices of the
    model (:func:`kinship.tables.genotype_indices`, ``-1`` untyped) per locus."""

    def __init__(self, model, ratio: float = RATIO, min_excluded_loci: int = MIN_EXCLUDED_LOCI):
        if not ratio > 1:
            raise ValueError(f"ratio must be > 1, got {ratio}")
        self.model = model
        self.log_ratio = math.log10(ratio)
        self.min_excluded = int(min_excluded_loci)
        self._claimed: dict = {}
        self._flats: dict = {}
        self._shapes: dict = {}

    # -- tables ------------------------------------------------------------------------
    @staticmethod
    def _claimed_key(ped: Pedigree, a: str, b: str) -> tuple:
        """The connecting pedigree of ``a`` and ``b`` (their ancestors), renamed: a key
        shared by every pair with the same shape."""
        keep = ped.ancestors(a) | ped.ancestors(b) | {a, b}
        name = {a: "A", b: "B"}
        for p in ped.order:
            if p in keep and p not in name:
                name[p] = f"x{len(name)}"
        return tuple(sorted((name[p], name.get(ped.persons[p].father), name.get(ped.persons[p].mother),
                             ped.persons[p].sex) for p in ped.order if p in keep))

    def claimed_tables(self, ped: Pedigree, a: str, b: str) -> list:
        """Per locus ``(W, excluded)`` over ``(g_a, g_b)``: the LR of the pair related as
        in ``ped`` vs unrelated founders (exact: mutation, θ, silent allele), and where
        that relationship is impossible without mutation.  Built once per shape of the
        connecting pedigree (the pair's ancestors)."""
        recs = self._claimed_key(ped, a, b)
        hit = self._claimed.get(recs)
        if hit is not None:
            return hit
        m = self.model
        if getattr(m, "table_store", None) is not None:     # kept on disk between runs
            stored = m._load_stored("claimed", (recs,))
            if stored is not None:
                out = [(W, I.view(bool)) for W, I in stored]
                self._remember(recs, out)
                return out
        sub = Pedigree([Person(r[0], r[1], r[2], r[3]) for r in recs])
        from .likelihood import locus_likelihood

        with one_blas_thread() as one:   # the same bits whoever builds it (kinship._blas)
            out = []
            for l, la in enumerate(m.systems):
                fM, mM = m._mats[l]
                silent = la.alleles.index(SILENT) if la.silent else None
                args = dict(n_alleles=la.n_alleles, freqs=la.freqs, theta=m.theta, silent=silent,
                            free=["A", "B"])

                def fold(J):
                    return fold_pair(J, silent)

                N = fold(locus_likelihood(sub, {}, female_M=fM, male_M=mM, **args))
                # H2, A and B unrelated founders: the same for every claim (kept per locus model)
                D = unrelated_table(la, m.theta)
                N0 = N if fM is None and mM is None else fold(locus_likelihood(sub, {}, **args))
                with np.errstate(divide="ignore", invalid="ignore"):
                    out.append((N / D, N0 == 0.0))
        if getattr(m, "table_store", None) is not None:
            m._save_stored("claimed", (recs,), out, one)
        self._remember(recs, out)
        return out

    def _remember(self, recs, out) -> None:
        if len(self._claimed) > 512:
            self._claimed.clear()
        self._claimed[recs] = out

    def alternatives(self, ga: np.ndarray, gb: np.ndarray, sex_a: str, sex_b: str) -> dict:
        """``{relationship: log10 LR}`` of each alternative for the pair (genotype
        indices ``ga``, ``gb`` over the model's loci), the largest over orientations
        and lines; ``unrelated`` 0."""
        both = (ga >= 0) & (gb >= 0)
        loci = np.nonzero(both)[0]
        sx = {"A": _table_sex(sex_a), "B": _table_sex(sex_b)}
        out = {}
        for rel in RELATIONSHIPS:
            best = -math.inf
            orients = (("A", ga, gb), ("B", gb, ga)) if rel in _ASYMMETRIC else (("A", ga, gb),)
            for who, gr, gq in orients:
                for line in (("paternal", "maternal") if rel in _LINED else ("paternal",)):
                    v = _lookup(self._flat(("pair", rel, sx[who], line)), gr, gq, loci)
                    best = max(best, v)
            out[rel] = best
        out["unrelated"] = 0.0
        return out

    def _flat(self, key, ped=None, a=None, b=None):
        """``(log10 W of every locus flattened, offsets, sizes G, excluded flattened)``
        of a pair table (``("pair", rel, sex, line)``) or a claimed table: one
        vector lookup per pair instead of one per locus."""
        hit = self._flats.get(key)
        if hit is not None:
            return hit
        if key[0] == "pair":
            tabs = self.model.pair_tables(key[1], key[2], key[3])
        else:
            tabs = self.claimed_tables(ped, a, b)
        sizes = np.array([t[0].shape[1] for t in tabs], dtype=np.int64)
        offs = np.concatenate([[0], np.cumsum(sizes * sizes)[:-1]]).astype(np.int64)
        with np.errstate(divide="ignore"):
            logs = np.concatenate([np.log10(t[0]).ravel() for t in tabs]) if tabs else np.zeros(0)
        exc = np.concatenate([t[1].ravel() for t in tabs]) if tabs else np.zeros(0, dtype=bool)
        if len(self._flats) > 1024:
            self._flats.clear()
        self._flats[key] = out = (logs, offs, sizes, exc)
        return out

    # -- cases ---------------------------------------------------------------------------
    def _shape(self, case: Case) -> "_Shape":
        """The pairs' names and claimed keys of ``case`` (a case, or a relation case's
        shape case), found once per case object (:class:`_Shape`)."""
        hit = self._shapes.get(id(case))
        if hit is not None and hit.case is case:
            return hit
        if len(self._shapes) > 4096:
            self._shapes.clear()
        self._shapes[id(case)] = sh = _Shape(case, self)
        return sh

    def check_case(self, case: Case, genotypes: Mapping[str, np.ndarray],
                   sexes: Mapping[str, str] | None = None) -> CaseCheck:
        """Check ``case``: ``genotypes`` ``{sample id: genotype indices [L]}`` of its
        typed persons (a sample without genotypes is skipped), ``sexes`` ``{sample
        id: recorded sex}`` (``M``/``F``/``male``...; unknown is not checked)."""
        return self.check_cases([(case, genotypes, sexes)])[0]

    def check_cases(self, items: Sequence) -> list:
        """:meth:`check_case` of each ``(case, genotypes, sexes)`` of ``items``, in
        order.  The table lookups of every pair of every case are done together:
        one array per claimed relationship (its table) and per recorded sexes (the
        alternatives' tables), each pair summed with the pairs typed at as many loci
        (a run checks thousands of cases; one lookup per pair and table was most of
        its time).  Each pair's sums are those of the per-pair lookup to the bit (the
        same values summed in the same order; ``tests/test_consistency.py`` compares
        them with the per-pair check).  Memory: two ``[pairs, loci]`` arrays of
        each kind; the engine passes the cases in slices (``engine.consistency``)."""
        loci = self.model.loci
        out = []
        pairs = []          # (check, sample a, sample b, claimed name)
        ga_rows, gb_rows = [], []
        by_claim: dict = {}     # claimed key -> pair indices
        by_sex: dict = {}       # the pair's table sexes -> pair indices
        reps: dict = {}         # claimed key -> (pedigree, a, b) that builds its table
        sex_of: dict = {}       # recorded sex as given -> (_sex, _table_sex)
        for case, genotypes, sexes in items:
            sexes = sexes or {}
            # a case written with relation words is checked on its shape's case (its
            # pairs' names and tables found once per shape), with its sample ids
            if isinstance(case, RelationCase):
                t, ren = case.shape, case.names
            else:
                t, ren = case, None
            shape = self._shape(t)
            if ren is None:
                people = shape.people
            else:
                people = [(ren.get(p, p), ren[s], w, placed) for p, s, w, placed in shape.people]
            chk = CaseCheck(case.id, relations={
                s: w or f"person {p}" for p, s, w, _ in people})
            here = {}           # typed person of the shape -> its sample id, if genotyped
            for (p, s, w, placed), tp in zip(people, shape.people):
                x = sexes.get(s, "")
                sx = sex_of.get(x)
                if sx is None:
                    sx = sex_of[x] = (_sex(x), _table_sex(x))
                if sx[0] != "unknown" and placed != "unknown" and sx[0] != placed:
                    chk.sex.append((s, sx[0], chk.relations[s], placed))
                if s in genotypes:
                    here[tp[0]] = (s, sx[1])
            typed = [p for p in shape.typed if p in here]
            for i in range(len(typed)):
                for j in range(i + 1, len(typed)):
                    a, b = typed[i], typed[j]
                    (sa, xa), (sb, xb) = here[a], here[b]
                    ckey, claimed = shape.pair(a, b)
                    reps.setdefault(ckey, (t.pedigree, a, b))
                    by_claim.setdefault(ckey, []).append(len(pairs))
                    by_sex.setdefault((xa, xb), []).append(len(pairs))
                    pairs.append((chk, sa, sb, claimed))
                    ga_rows.append(genotypes[sa])
                    gb_rows.append(genotypes[sb])
            out.append(chk)
        if not pairs:
            return out
        GA = np.stack(ga_rows).astype(np.int64, copy=False)
        GB = np.stack(gb_rows).astype(np.int64, copy=False)
        rows = _Rows(GA, GB)
        n = len(pairs)
        lr = np.zeros(n)
        excluded = [None] * n
        for ckey, idx in by_claim.items():
            idx = np.asarray(idx, dtype=np.int64)
            tabs = self.claimed_tables(*reps[ckey])
            lr[idx] = rows.sums(tabs, idx)
            hit = rows.cells(tabs, idx, 1) & rows.both[idx]
            for k in idx.tolist():
                excluded[k] = []
            for r in np.nonzero(hit.any(axis=1))[0]:
                excluded[int(idx[r])] = [loci[l] for l in np.nonzero(hit[r])[0]]
        # the alternatives: the largest over orientations and lines (Python's max: a
        # later value replaces the best only when larger)
        alts = {rel: np.full(n, -math.inf) for rel in RELATIONSHIPS}
        for (sx_a, sx_b), idx in by_sex.items():
            idx = np.asarray(idx, dtype=np.int64)
            sx = {"A": sx_a, "B": sx_b}
            for rel in RELATIONSHIPS:
                best = alts[rel][idx]
                for who in (("A", "B") if rel in _ASYMMETRIC else ("A",)):
                    for line in (("paternal", "maternal") if rel in _LINED else ("paternal",)):
                        v = rows.sums(self.model.pair_tables(rel, sx[who], line), idx,
                                      swap=who == "B")
                        best = np.where(v > best, v, best)
                alts[rel][idx] = best
        # every pair's best alternative other than its claimed relationship and the gap,
        # all at once (_best and _diff of each; a pair with a NaN LR takes them one by one)
        V = np.column_stack([alts[rel] for rel in RELATIONSHIPS] + [np.zeros(n)])
        col = {r: c for c, r in enumerate(ALTERNATIVES)}
        ci = np.array([col.get(p[3], -1) for p in pairs], dtype=np.int64)
        others = np.arange(V.shape[1])[None, :] != ci[:, None]
        top = np.max(np.where(others, V, -np.inf), axis=1)
        k = np.argmax(others & (V >= (top - 1e-9)[:, None]), axis=1)
        grp = np.array([_IBD_GROUP[r] for r in ALTERNATIVES], dtype=np.int64)
        same = others & (grp[None, :] == grp[k][:, None]) & (V >= (top - 1.0)[:, None])
        best_i = np.where(grp[k] >= 0, np.argmax(same, axis=1), k)
        with np.errstate(invalid="ignore"):
            gap = np.where(np.isneginf(lr), np.where(top > -np.inf, np.inf, 0.0), top - lr)
        slow = np.isnan(V).any(axis=1).tolist()
        best_l, gap_l = best_i.tolist(), gap.tolist()
        alts = [alts[rel].tolist() for rel in RELATIONSHIPS]
        names = list(RELATIONSHIPS)
        for k, (chk, sa, sb, claimed), lr_k, both in zip(range(n), pairs, lr.tolist(),
                                                          rows.k.tolist()):
            excl = excluded[k]
            alt = dict(zip(names, [a[k] for a in alts]))
            alt["unrelated"] = 0.0
            pc = PairCheck(sa, sb, claimed, both, lr_k, alt, excl)
            if slow[k]:
                others_k = {r: v for r, v in alt.items() if r != claimed}
                top_k = max(others_k.values())
                pc.best = _best(others_k, top_k)
                pc.log10_best_vs_claimed = _diff(top_k, pc.log10_lr_claimed)
            else:
                pc.best = ALTERNATIVES[best_l[k]]
                pc.log10_best_vs_claimed = gap_l[k]
            if len(excl) >= self.min_excluded:
                pc.finding = "excluded"
            elif pc.log10_best_vs_claimed >= self.log_ratio:
                pc.finding = "better-explained"
            elif excl:
                pc.finding = "note"
            chk.pairs.append(pc)
        return out


class _Shape:
    """What :meth:`ConsistencyChecker.check_cases` needs of a case that does not
    depend on its genotypes or sample ids: ``people`` (``(person, sample, relation
    word or "", placed sex)`` of each typed person, in ``case.samples`` order),
    ``typed`` (typed persons in pedigree order), and each pair's claimed key and
    name (:meth:`pair`, found on first use)."""

    def __init__(self, case: Case, chk: ConsistencyChecker):
        self.case = case
        ped = case.pedigree
        self.people = [(p, s, case.relations.get(s) or "", ped.persons[p].sex)
                       for p, s in case.samples.items()]
        self.typed = case.typed
        self._pairs: dict = {}
        self._chk = chk

    def pair(self, a: str, b: str) -> tuple:
        hit = self._pairs.get((a, b))
        if hit is None:
            ped = self.case.pedigree
            hit = self._pairs[(a, b)] = (self._chk._claimed_key(ped, a, b),
                                         pair_relationship(ped, a, b))
        return hit


def _half_sibling(chk: CaseCheck, flagged: list) -> str:
    """``"paternal"``/``"maternal"`` when the suspect is a ``full-sibling`` whose
    flagged pairs are all with one typed parent (and, if typed, the other parent
    fits): a half sibling labelled full; else ``""``."""
    s = chk.suspect
    rel = chk.relations
    if not s or rel.get(s) != "full-sibling":
        return ""
    others = {p.sample_b if p.sample_a == s else p.sample_a for p in flagged}
    words = {rel.get(o) for o in others}
    if not words <= {"mother", "father", "full-sibling"}:
        return ""
    words -= {"full-sibling"}
    if words == {"mother"}:
        return "paternal"
    if words == {"father"}:
        return "maternal"
    return ""


#: each alternative's group of equal IBD coefficients (:func:`_best`), -1: none
_IBD_GROUP = {r: (list(dict.fromkeys(RELATIONSHIPS.values())).index(RELATIONSHIPS[r])
                  if r in RELATIONSHIPS else -1) for r in ALTERNATIVES}


def _best(others: dict, top: float) -> str:
    """The best alternative: the highest LR; relationships with the same IBD
    coefficients (half-sibling, grandparent, avuncular), which only the mutation
    model tells apart, within a factor 10 of the highest are named by the first
    of them in :data:`ALTERNATIVES` order."""
    k = next(k for k in ALTERNATIVES if k in others and others[k] >= top - 1e-9)
    ibd = RELATIONSHIPS.get(k)
    if ibd is not None:
        for x in ALTERNATIVES:
            if x in others and RELATIONSHIPS.get(x) == ibd and others[x] >= top - 1.0:
                return x
    return k


def _lookup(flat, gr, gq, loci) -> float:
    """Summed log10 W[g_r, g_q] over ``loci`` of a flattened table."""
    logs, offs, sizes, _ = flat
    loci = np.asarray(loci, dtype=np.int64)
    if len(loci) == 0:
        return 0.0
    return float(logs[offs[loci] + gr[loci] * sizes[loci] + gq[loci]].sum())


class _Rows:
    """The genotype indices ``ga``, ``gb`` ``[pairs, L]`` of many pairs, for
    :func:`_lookup` of all of them at once (:meth:`ConsistencyChecker.check_cases`)."""

    def __init__(self, ga: np.ndarray, gb: np.ndarray):
        self.both = (ga >= 0) & (gb >= 0)
        # untyped: any cell (its value is never used)
        self.ga, self.gb = np.where(self.both, ga, 0), np.where(self.both, gb, 0)
        self.k = self.both.sum(axis=1)
        # each row's loci typed in both first, in locus order
        self.perm = np.argsort(~self.both, axis=1, kind="stable")
        self._flat: dict = {}       # (table sizes, swap) -> flat cell index [L, pairs]

    def _index(self, tabs, part: int, swap: bool) -> np.ndarray:
        """Each pair's cell in each locus's table, as an index into the table's
        flattened cells (``g_r * G + g_q``), locus by locus (contiguous rows): made
        once per orientation and table sizes."""
        sizes = tuple(t[part].shape[1] for t in tabs)
        hit = self._flat.get((sizes, swap))
        if hit is None:
            gr, gq = (self.gb, self.ga) if swap else (self.ga, self.gb)
            G = np.asarray(sizes, dtype=np.int64)[:, None]
            hit = self._flat[(sizes, swap)] = np.ascontiguousarray(gr.T) * G + gq.T
        return hit

    def cells(self, tabs, idx, part: int = 0, swap: bool = False) -> np.ndarray:
        """``tabs[l][part][g_r, g_q]`` for the pairs ``idx`` at every locus ``l``
        (``swap``: ``g_r`` is the pair's second person)."""
        n = len(idx)
        if not tabs:
            return np.empty((n, self.ga.shape[1]))
        flat = self._index(tabs, part, swap)
        if n != flat.shape[1] or not np.array_equal(idx, np.arange(n)):
            flat = flat[:, idx]
        out = np.empty((len(tabs), n), dtype=tabs[0][part].dtype)
        for l, t in enumerate(tabs):
            np.take(t[part].ravel(), flat[l], out=out[l])
        return out.T

    def sums(self, tabs, idx, swap: bool = False) -> np.ndarray:
        """:func:`_lookup` of the pairs ``idx`` on the tables ``tabs`` (``[(W, ...)]``
        per locus): the sum of log10 W over the loci typed in both, to the bit.
        Only the cells looked up are taken to log10 (elementwise, the values
        :meth:`ConsistencyChecker._flat` holds); the pairs with ``k`` such loci are
        summed together over their ``k`` values in locus order, as :func:`_lookup`
        sums its vector (NumPy's pairwise sum along a contiguous row)."""
        out = np.zeros(len(idx))
        if not len(idx):
            return out
        w = np.take_along_axis(self.cells(tabs, idx, 0, swap), self.perm[idx], axis=1)
        k = self.k[idx]
        for kk in np.unique(k):
            if kk == 0:
                continue
            sel = np.nonzero(k == kk)[0]
            with np.errstate(divide="ignore"):
                v = np.ascontiguousarray(np.log10(w[sel, :kk]))
            out[sel] = v.sum(axis=1)
        return out


def _diff(x: float, y: float) -> float:
    if math.isinf(y) and y < 0:
        return math.inf if x > -math.inf else 0.0
    return x - y


def _table_sex(s) -> str:
    v = _sex(s)
    return v if v in ("male", "female") else "male"


# ---------------------------------------------------------------------------
# the same person in two cases or under two ids
# ---------------------------------------------------------------------------

def identities(ids: Sequence[str], case_ids: Sequence[str], gidx: np.ndarray, model,
               threshold: float = IDENTITY_LR, min_loci: int = IDENTITY_MIN_LOCI,
               block: int = 3) -> list:
    """Pairs of references (rows of ``gidx`` ``[n, L]``, genotype indices of
    ``model``, -1 untyped) that are the same person: identical on every locus both
    typed, at least ``min_loci`` such loci, identity LR ``prod 1 / P(g)`` (the
    identity pair table, with θ) at least ``threshold``.  Every such pair that both
    typed some block of ``block`` consecutive loci whole is found: two identical
    profiles agree on every block that both typed whole, so the candidates are the
    pairs sharing the genotypes of a block (hashing, not all pairs), split again by
    the next two blocks where both typed them whole (the groups of one block hold
    about n^2 / 10^3 pairs: 10^9 at 10^6 references), each then checked on every
    locus."""
    g = np.asarray(gidx, dtype=np.int64)
    n, L = g.shape if g.ndim == 2 else (0, 0)
    if n < 2:
        return []
    typed = g >= 0
    # compared in the narrowest integer type that holds them (less memory traffic)
    M = int(g.max()) + 1 if g.size else 1
    gc = g.astype(np.int16) if M - 1 <= np.iinfo(np.int16).max else g
    # the identical pairs (few) are kept; the candidates themselves (pairs sharing a
    # block's genotypes: about 10^-3 of all pairs at 23 loci, 10^7 for 10^5
    # references: held as a set they took a case run at 10^5 references to 9 GB) are
    # checked group by group in bounded arrays (_identical_pairs), never held
    found = set()
    starts = list(range(0, L, block))
    for bi, s in enumerate(starts):
        cols = g[:, s:s + block]
        full = (cols >= 0).all(axis=1)
        rows = np.nonzero(full)[0]
        if len(rows) < 2:
            continue
        inv, cnt = _groups(cols[rows], M)
        # the rows of each group with more than one row, from one stable sort (a scan of
        # every row per group was quadratic in the references), ascending within a group
        order = np.argsort(inv, kind="stable")
        multi = cnt[inv[order]] > 1
        rm, gm = rows[order[multi]], inv[order[multi]]
        if len(starts) < 2 or len(rm) < 2:
            _identical_pairs(gc, typed, rm, gm, min_loci, found)
            continue
        # each group split by the genotypes of the next block: two rows that typed all of
        # it and are identical on every locus both typed agree there too, so only pairs
        # within a split group are candidates (at 10^6 references the groups of one
        # block held about 10^9 pairs: 70 s); a row that did not type all of the next
        # block is checked against every other row of its group (_cross_pairs). The
        # same pairs are found as by checking every pair of each group.
        s2 = starts[(bi + 1) % len(starts)]
        c2 = g[rm, s2:s2 + block]
        full2 = (c2 >= 0).all(axis=1)
        if full2.any():
            f_rows, f_grp = rm[full2], gm[full2]
            inv2, cnt2 = _groups(c2[full2], M, f_grp)
            order2 = np.argsort(inv2, kind="stable")
            multi2 = cnt2[inv2[order2]] > 1
            _identical_pairs(gc, typed, f_rows[order2[multi2]], inv2[order2[multi2]], min_loci, found)
        if not full2.all():
            # the rows P that did not type all of the next block, against their group:
            # where a row of P and its partner both typed all of the block after it, the
            # partner must have the same genotypes there (split again); every other
            # partner is checked
            part = ~full2
            s3 = starts[(bi + 2) % len(starts)]
            c3 = g[rm, s3:s3 + block]
            full3 = (c3 >= 0).all(axis=1)
            sub = np.full(len(rm), -1, dtype=np.int64)
            if full3.any():
                sub[full3] = _groups(c3[full3], M, gm[full3])[0]
            p3 = part & full3
            _cross_pairs(gc, typed, rm[part & ~full3], gm[part & ~full3], rm, gm, min_loci, found)
            _cross_pairs(gc, typed, rm[p3], gm[p3], rm[~full3], gm[~full3], min_loci, found)
            _cross_pairs(gc, typed, rm[p3], sub[p3], rm[full3], sub[full3], min_loci, found)
    tabs = model.pair_tables("identity", "male", "paternal")
    out = []
    lt = math.log10(threshold)
    for i, j in sorted(found):
        both = typed[i] & typed[j]
        v = float(sum(math.log10(tabs[l][0][g[i, l], g[i, l]]) for l in np.nonzero(both)[0]))
        if v >= lt:
            out.append(IdentityPair(str(ids[i]), str(case_ids[i]), str(ids[j]), str(case_ids[j]),
                                    v, int(both.sum())))
    return out


def _groups(c: np.ndarray, M: int, within: np.ndarray | None = None) -> tuple:
    """``(group of each row, rows per group)`` of the rows of ``c`` (non-negative
    integers below ``M``), groups numbered in the rows' sorted order; ``within``:
    an earlier group of each row (the groups split, never merged)."""
    top = 1 if within is None else int(within.max()) + 1
    if top * M ** c.shape[1] < 2 ** 62:
        # one integer per row (the values as digits base M after the earlier group):
        # the same groups as np.unique of the rows, in the same order, from a
        # one-dimensional sort
        key = np.zeros(len(c), dtype=np.int64) if within is None else within.astype(np.int64)
        for x in c.T:
            key = key * M + x
        _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    else:
        rows = c if within is None else np.column_stack([within, c])
        _, inv, cnt = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    return inv.reshape(-1), cnt


def _probe_cols(g, typed) -> list:
    """A few loci's genotypes (-1 untyped), for the candidates' first, narrow check."""
    L = g.shape[1]
    probe = np.unique(np.linspace(0, L - 1, min(L, 6)).round().astype(np.int64)) if L else \
        np.zeros(0, np.int64)
    return [np.where(typed[:, l], g[:, l], -1) for l in probe.tolist()]


def _check_pairs(g, typed, i, j, probe_cols, min_loci: int, found: set) -> None:
    """Add to ``found`` the candidate pairs ``(i[k], j[k])`` (``i < j``) identical on
    every locus both typed, with at least ``min_loci`` such loci."""
    # a necessary condition first, on a few loci (narrow gathers): most candidates
    # differ there; the survivors are checked on every locus
    for col in probe_cols:      # one locus at a time: each keeps about a tenth
        x, y = col[i], col[j]
        keep = (x == y) | (x < 0) | (y < 0)
        i, j = i[keep], j[keep]
    both = typed[i] & typed[j]
    same = ((g[i] == g[j]) | ~both).all(axis=1) & (both.sum(axis=1) >= min_loci)
    found.update(zip(i[same].tolist(), j[same].tolist()))


def _cross_pairs(g, typed, left, left_grp, right, right_grp, min_loci: int, found: set,
                 cells: int = 1 << 24) -> None:
    """Add to ``found`` the pairs of each row of ``left`` with every row of ``right``
    in the same group (``*_grp``: each row's group; a row is never its own partner)
    that are identical on every locus both typed (at least ``min_loci``), checked in
    slices of about ``cells`` bytes per array."""
    if not len(left) or not len(right):
        return
    L = g.shape[1]
    o = np.argsort(right_grp, kind="stable")
    right, right_grp = right[o], right_grp[o]
    lo = np.searchsorted(right_grp, left_grp, side="left")     # each left row's partners:
    cnt = np.searchsorted(right_grp, left_grp, side="right") - lo   # right[lo : lo + cnt]
    per = max(1, cells // max(1, 8 * L))
    probe_cols = _probe_cols(g, typed)
    ends = np.cumsum(cnt)
    k = 0
    while k < len(left):
        done = int(ends[k - 1]) if k else 0
        m = min(len(left), max(k + 1, int(np.searchsorted(ends, done + per, side="right"))))
        c = cnt[k:m]
        tot = int(c.sum())
        if tot:
            at = np.repeat(np.arange(k, m), c)
            off = np.arange(tot) - np.repeat(np.cumsum(c) - c, c)
            i, j = left[at], right[lo[at] + off]
            keep = i != j
            i, j = i[keep], j[keep]
            _check_pairs(g, typed, np.minimum(i, j), np.maximum(i, j), probe_cols, min_loci, found)
        k = m


def _identical_pairs(g, typed, r, group, min_loci: int, found: set, cells: int = 1 << 24) -> None:
    """Add to ``found`` the pairs ``(r[a], r[b])``, ``a < b`` in one group, of the
    rows ``r`` of ``g`` (genotypes; ``typed`` their typed loci), laid out group
    after group (``group``: each row's group, consecutive; ascending rows within a
    group), that are identical on every locus both typed, with at least
    ``min_loci`` such loci.  Every pair of every group is checked, vectorised, in
    slices of about ``cells`` bytes per array (Python only for the pairs found)."""
    n = len(r)
    if n < 2:
        return
    L = g.shape[1]
    start = np.r_[0, np.nonzero(group[1:] != group[:-1])[0] + 1]
    length = np.diff(np.r_[start, n])
    pos = np.arange(n) - np.repeat(start, length)         # index of each row in its group
    after = np.repeat(length, length) - pos - 1            # its partners: the next `after` rows
    per = max(1, cells // max(1, 8 * L))       # pairs per slice: each gathered array <= `cells` bytes
    probe_cols = _probe_cols(g, typed)
    ends = np.cumsum(after)
    a = 0
    while a < n:
        # rows a .. b-1 as the first of their pairs: at most `per` pairs (one row at least)
        done = int(ends[a - 1]) if a else 0
        b = min(n, max(a + 1, int(np.searchsorted(ends, done + per, side="right"))))
        cnt = after[a:b]
        tot = int(cnt.sum())
        if tot:
            left = np.repeat(np.arange(a, b), cnt)
            right = left + 1 + (np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt))
            _check_pairs(g, typed, r[left], r[right], probe_cols, min_loci, found)
        a = b


# ---------------------------------------------------------------------------
# the verdict of a case: status, suspect, explanation, fix
# ---------------------------------------------------------------------------

def explain(chk: CaseCheck) -> CaseCheck:
    """Fill ``status``, ``suspect``, ``explanation`` and ``fix`` of ``chk`` from its
    findings (see the module doc)."""
    rel = chk.relations
    flagged = [p for p in chk.pairs if p.finding in ("excluded", "better-explained")]
    parts, fixes = [], []
    if chk.sex:
        for s, rec, where, placed in chk.sex:
            parts.append(f"{s} is recorded {rec} but placed as {where}, who is {placed}")
        fixes.append("correct the sample's sex (amelogenin) or its relation")
    if flagged:
        count: dict = {}
        for p in flagged:
            for s in (p.sample_a, p.sample_b):
                count[s] = count.get(s, 0) + 1
        top = max(count.values())
        lead = sorted(s for s, c in count.items() if c == top)
        # one sample in every flagged pair, and more than one pair flagged (else the
        # two of a pair are equally suspect)
        chk.suspect = lead[0] if len(lead) == 1 and top > 1 else ""
        if not chk.suspect:
            # a full sibling in every flagged pair, excluded by one parent who is a
            # parent of another typed child as claimed: the sibling is the suspect
            for s in lead:
                if rel.get(s) != "full-sibling" or any(s not in (p.sample_a, p.sample_b) for p in flagged):
                    continue
                par = {p.sample_b if p.sample_a == s else p.sample_a for p in flagged}
                if all(any(q.claimed == "parent-child" and not q.finding and x in (q.sample_a, q.sample_b)
                           for q in chk.pairs) for x in par):
                    chk.suspect = s
                    break
        for p in flagged:
            why = (f"excluded without mutation at {len(p.loci_excluded)} loci"
                   if p.finding == "excluded" else
                   f"{p.best} fits 10^{p.log10_best_vs_claimed:.1f} times better")
            parts.append(f"{p.sample_a} ({rel.get(p.sample_a, '')}) and {p.sample_b} "
                         f"({rel.get(p.sample_b, '')}) as {p.claimed}: {why}")
        bests = {p.best for p in flagged}
        who = chk.suspect or " or ".join(sorted({s for p in flagged for s in (p.sample_a, p.sample_b)}))
        half = _half_sibling(chk, flagged)
        if half:
            parts.append(f"likely a {half} half sibling labelled full ({chk.suspect}): consistent "
                         f"with the {'father' if half == 'paternal' else 'mother'}, not the other "
                         f"parent")
            fixes.append(f"correct the relation of {chk.suspect} to {half}-half-sibling (or check "
                         f"its sample) and re-import the case")
        elif bests == {"identity"}:
            parts.append("likely one person typed under two ids")
            fixes.append("keep one sample of the person and remove the duplicate")
        elif "unrelated" in bests or all(p.finding == "excluded" for p in flagged):
            what = rel.get(chk.suspect, "")
            noun = f'an unrelated "{what}"' if chk.suspect and what and not what.startswith("person") \
                else "an unrelated reference"
            parts.append(f"likely {noun} or a swapped sample ({who})")
            fixes.append(f"check the sample and chain of custody of {who}, re-sample it, or "
                         f"correct its relation; leave it out of the case until then")
        else:
            alt = sorted({p.best for p in flagged if p.best != "unrelated"})
            claimed = sorted({p.claimed for p in flagged})
            label = {("half-sibling", "full-sibling"): "a half sibling labelled full"}.get(
                (alt[0], claimed[0]) if len(alt) == 1 and len(claimed) == 1 else None, "")
            kind = label or ", ".join(alt) + " labelled " + ", ".join(claimed)
            if "half-sibling" in alt:
                kind += " (or another second-degree relative: grandparent, avuncular)"
            parts.append(f"likely a wrong relation ({kind}; {who})")
            fixes.append(f"correct the relation of {who} (to {', '.join(alt)}) and re-import the case")
        chk.status = "inconsistent"
    elif chk.sex:
        chk.status = "inconsistent"
    elif any(p.finding == "note" for p in chk.pairs):
        chk.status = "note"
        n = [p for p in chk.pairs if p.finding == "note"]
        parts.append(f"{len(n)} pairs excluded without mutation at one locus (a mutation can "
                     f"explain one)")
    if chk.identities:
        for ip in chk.identities:
            a, b = (ip.sample_a, ip.sample_b)
            where = (f"in cases {ip.case_a!r} and {ip.case_b!r}" if ip.case_a != ip.case_b
                     else "under two ids in this case")
            parts.append(f"{a} and {b} are the same person {where} (identity log10 LR "
                         f"{ip.log10_lr:.1f} on {ip.loci_compared} loci)")
        fixes.append("if it is one person in two families, draw them as one pedigree; else a "
                     "sample was duplicated or swapped: check both samples")
        if chk.status in ("consistent", "note"):
            chk.status = "duplicate"
    chk.explanation = "; ".join(parts)
    chk.fix = "; ".join(dict.fromkeys(fixes))
    return chk
