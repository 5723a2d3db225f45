"""Which relationship: the LR of each alternative relationship for every hit.

A hit says "Q is related to R as the mode asks, with LR x"; it does not say that
another relationship would explain the data better.  A full sibling of a
reference can reach LR 10^5 in ``parent-child`` mode, and a parent-child pair can
reach a high LR in ``full-sibling`` mode.  After the merge, every hit therefore
gets (as forrel's ``checkPairwise`` does for pairs and Familias for pedigrees)
the LR versus unrelated of each alternative, on the same loci, with the run's
model (frequencies, mutation, θ), and the best supported one:

* **pairwise modes** (``parent-child``, ``full-sibling``, ``half-sibling``,
  ``grandparent``, ``avuncular``, ``first-cousin``, ``identity``, ``duplicates``):
  ``identity``, ``parent-child``, ``full-sibling``, ``half-sibling``,
  ``grandparent``, ``avuncular``, ``first-cousin`` and ``unrelated`` (LR 1).  Each
  is the product over the loci both typed of ``W_rel[g_R, g_Q]``, the pair table
  the search itself uses (:meth:`kinship.search.ScoringModel.pair_tables`, with
  the reference's sex where the mutation model is sex-specific, and
  ``search.line``).  Without mutation half-sibling, grandparent and avuncular
  have one IBD distribution (k0, k1, k2) = (1/2, 1/2, 0) and equal LRs; with
  mutation they differ (the meioses differ), so they are reported separately as
  in :data:`kinship.tables.RELATIONSHIPS`.  For ``identity`` and ``duplicates``
  hits, the loci left out of the identity LR (``max_inconsistent``) are left out
  of every alternative.
* **case mode**: the query's place in the case pedigree: the missing person M
  itself (``missing-person``, the hit's LR), M's ``parent`` (in the place of M's
  untyped father or mother of the query's sex, or as a new parent where M has
  none; not where that parent is typed), M's ``child`` (with an untyped new
  partner), M's ``full-sibling`` (a child of M's parents, new untyped ones where
  M has none), or ``unrelated``.  Each is the exact pedigree likelihood of the
  case pedigree with the query in that place, over the same pedigree with the
  query an unrelated founder (:func:`kinship.tables.case_table`), on the loci
  the hit compared.  Where the query's (or M's) sex is unknown, both placements
  are computed and the larger LR is reported.  Only for the hits ranked among a
  query's ``top_k`` (null for the rows kept for ``case_rank`` only).

``relationship_lrs`` is JSON ``{relationship: log10 LR}`` (``-Infinity`` for an
LR of 0); the value of the searched relationship is the hit's ``log10_lr``.
``best_relationship`` is the alternative with the highest LR; ties (within
1e-9 in log10) go to the searched one, then to the first in the order above.
Both are null for y-lineage.

At θ > 0 the exact pair tables of ``avuncular`` and ``first-cousin`` (and the
pedigrees of some case alternatives) need the expansion over unknown founder
alleles, which may cost minutes per locus; an alternative whose table the core
estimates above :data:`THETA_BUDGET_S` seconds (all loci), or cannot compute,
is left out of ``relationship_lrs`` with a note.

The values depend only on the hit's two profiles (or its case) and the model,
so resumed, distributed and incremental runs write the same bytes.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kinship.tables import RELATIONSHIPS

from .job import PAIRWISE_MODES

__all__ = ["ALT_FIELDS", "PAIR_ALTERNATIVES", "CASE_ALTERNATIVES", "SEARCHED",
           "add_alternatives", "pair_alternatives", "alternatives_text", "best_of"]

#: the two result columns (appended to :data:`engine.merge.RESULT_SCHEMA`)
ALT_FIELDS = [
    pa.field("relationship_lrs", pa.string(), nullable=True),
    pa.field("best_relationship", pa.string(), nullable=True),
]

#: alternatives of a pairwise hit, in reporting (and tie-breaking) order
PAIR_ALTERNATIVES = tuple(RELATIONSHIPS) + ("unrelated",)
#: alternatives of a case hit: the query's place relative to the missing person M
CASE_ALTERNATIVES = ("missing-person", "parent", "child", "full-sibling", "unrelated")
#: the relationship each mode searches for
SEARCHED = {**{m: m for m in PAIRWISE_MODES}, "duplicates": "identity", "case": "missing-person"}
#: log10 difference within which two alternatives are tied
TIE = 1e-9
#: θ > 0: an alternative whose tables the core estimates above this (seconds, all
#: loci) is left out
THETA_BUDGET_S = 60.0


def best_of(lrs: dict, searched: str) -> str:
    """The best supported relationship of ``{relationship: log10 LR}``: the highest
    LR; ties (within :data:`TIE`) go to ``searched``, then to the first listed."""
    vals = [v for v in lrs.values() if not math.isnan(v)]
    if not vals:
        return searched
    top = max(vals)
    if searched in lrs and lrs[searched] >= top - TIE:
        return searched
    return next(k for k, v in lrs.items() if v >= top - TIE)


def _dumps(d: dict) -> str:
    return json.dumps({k: float(v) for k, v in d.items()}, allow_nan=True)


# -- pairwise -------------------------------------------------------------------------
def pair_alternatives(model, g_ref: np.ndarray, g_q: np.ndarray, ref_sex, line: str = "paternal",
                      skip: np.ndarray | None = None, rels=PAIR_ALTERNATIVES[:-1],
                      ref_dropout=None, query_dropout=None, dropin: float = 0.0) -> dict:
    """``{relationship: log10 LR array}`` for pairs of genotype-index rows
    ``g_ref``, ``g_q`` (``[n, L]``, -1 untyped) of the model: the sum over the loci
    both typed (and not in ``skip``, ``[n, L]`` bool) of ``log10 W_rel[g_R, g_Q]``,
    loci in order; ``ref_sex``: per pair ``"male"``/``"female"`` (the pair table's
    ``ref_sex``).  ``ref_dropout``, ``query_dropout``: per pair, the two samples'
    dropout, ``dropin`` every sample's (the tables with the dropout model, as the
    search's: ``docs/dropout.md``).  ``unrelated`` is 0."""
    g_ref = np.asarray(g_ref, dtype=np.int64)
    g_q = np.asarray(g_q, dtype=np.int64)
    n, L = g_q.shape
    both = (g_ref >= 0) & (g_q >= 0)
    if skip is not None:
        both &= ~skip
    ref_sex = np.asarray(ref_sex, dtype=object)
    dr = np.zeros(n) if ref_dropout is None else np.asarray(ref_dropout, dtype=np.float64)
    dq = np.zeros(n) if query_dropout is None else np.asarray(query_dropout, dtype=np.float64)
    kinds = sorted(set(zip(dr.tolist(), dq.tolist())))
    out = {}
    for rel in rels:
        acc = np.zeros(n)
        for sex in ("male", "female"):
            for a, b in kinds:
                rows = np.nonzero((ref_sex == sex) & (dr == a) & (dq == b))[0]
                if not len(rows):
                    continue
                # one relationship's table at a time: one not held by the model
                # (the search's) is dropped once its values are read
                tabs = model.pair_tables(rel, sex, line, a, b, dropin, keep=False)
                for l in range(L):
                    r = rows[both[rows, l]]
                    if len(r):
                        W = tabs[l][0]
                        with np.errstate(divide="ignore"):
                            acc[r] += np.log10(W[g_ref[r, l], g_q[r, l]])
                del tabs
        out[rel] = acc
    out["unrelated"] = np.zeros(n)
    return out


def _feasible_pair_rels(model, line: str, notes: list, searched=()) -> list:
    """The pairwise alternatives whose tables can be built at the model's θ (all of
    them at θ = 0): at θ > 0 the relationships the run searched (``searched``:
    their tables are needed anyway) and those whose tables are estimated within
    :data:`THETA_BUDGET_S`.  Decided from the model and the searched modes only,
    never from what this process happens to have built already: a Dask run (whose
    tables were built on the workers) must leave out the same alternatives as an
    in-process run."""
    rels = list(PAIR_ALTERNATIVES[:-1])
    if model.theta <= 0:
        return rels
    from kinship.likelihood import theta_cost
    from kinship.tables import relationship_pedigrees

    A = int(max(s.n_alleles for s in model.systems)) if model.systems else 2
    left = []
    for rel in rels:
        if rel == "identity" or rel in searched:
            continue
        h1, _ = relationship_pedigrees(rel, "male", line)
        c = theta_cost(h1, {}, free=["R", "Q"], n_alleles=A)
        if not c["feasible"] or c["seconds"] * len(model.systems) > THETA_BUDGET_S:
            left.append(rel)
    if left:
        notes.append(f"which relationship: at theta = {model.theta:g} the {', '.join(left)} "
                     f"alternatives were not computed (their exact pair tables are estimated over "
                     f"{THETA_BUDGET_S:g} s or beyond the core's limit); relationship_lrs leaves "
                     f"them out")
    return [r for r in rels if r not in left]


def _pairwise(hits, idx, model, spec, queries, reader, line, notes):
    """Values of the pairwise hits ``idx`` (row numbers of ``hits``)."""
    from kinship.tables import genotype_indices

    from .inputs import SEX_WORD

    mode = np.asarray(hits.column("mode").to_pylist(), dtype=object)[idx]
    qid = np.asarray(hits.column("query_id").to_pylist(), dtype=object)[idx]
    rid = np.asarray(hits.column("reference_id").to_pylist(), dtype=object)[idx]
    lr_hit = hits.column("log10_lr").to_numpy()[idx]
    q_row = queries.rows_of(list(qid) + list(rid[mode == "duplicates"]))
    L = queries.gidx.shape[1] if queries.gidx.ndim == 2 else 0
    g_q = np.full((len(idx), L), -1, dtype=np.int64)
    g_r = np.full((len(idx), L), -1, dtype=np.int64)
    sex_r = np.full(len(idx), "", dtype=object)
    ok = np.zeros(len(idx), dtype=bool)
    qdrop = np.asarray(queries.dropout, dtype=np.float64)
    d_q, d_r = np.zeros(len(idx)), np.zeros(len(idx))
    r_drop = _ref_dropouts(reader)
    for i, q in enumerate(qid):
        j = q_row.get(str(q))
        if j is not None:
            g_q[i] = queries.gidx[j]
            d_q[i] = qdrop[j]
            ok[i] = True
    dup = mode == "duplicates"
    for i in np.nonzero(dup)[0]:
        j = q_row.get(str(rid[i]))
        if j is None:
            ok[i] = False
            continue
        g_r[i] = queries.gidx[j]
        sex_r[i] = str(queries.sex[j])
        d_r[i] = qdrop[j]
    person = ~dup
    found = reader.persons(np.asarray(rid[person], dtype=object).astype(str)) if person.any() else {}
    for i in np.nonzero(person)[0]:
        hit = found.get(str(rid[i]))
        if hit is None:
            ok[i] = False
            continue
        g_r[i], sex_r[i] = genotype_indices(np.asarray(hit[0])[None])[0], hit[1]
        d_r[i] = r_drop.get(str(rid[i]), 0.0)
    dc = float(getattr(spec, "dropin", 0.0))
    sex_dep = spec.sex_dependent
    tab_sex = np.array(["female" if sex_dep and SEX_WORD.get(str(s), "unknown") == "female"
                        else "male" for s in sex_r], dtype=object)
    # identity / duplicates: the loci left out of the identity LR are left out of all
    skip = np.zeros_like(g_q, dtype=bool)
    ident = (mode == "identity") | dup
    if ident.any():
        for a, b in sorted(set(zip(d_r[ident].tolist(), d_q[ident].tolist()))):
            tabs = model.pair_tables("identity", "male", "paternal", a, b, dc)
            for l in range(L):
                r = np.nonzero(ident & (d_r == a) & (d_q == b) & (g_r[:, l] >= 0)
                               & (g_q[:, l] >= 0))[0]
                if len(r):
                    skip[r, l] = tabs[l][1][g_r[r, l], g_q[r, l]].astype(bool)
    searched = set(hits.column("mode").to_pylist())
    rels = _feasible_pair_rels(model, line, notes, searched)
    vals = pair_alternatives(model, g_r, g_q, tab_sex, line, skip, rels, d_r, d_q, dc)
    out_json = [None] * len(idx)
    out_best = [None] * len(idx)
    for i in range(len(idx)):
        if not ok[i]:
            continue
        searched = SEARCHED[mode[i]]
        d = {}
        for rel in PAIR_ALTERNATIVES:
            if rel == searched:
                d[rel] = float(lr_hit[i])
            elif rel in vals:
                d[rel] = float(vals[rel][i])
        out_json[i] = _dumps(d)
        out_best[i] = best_of(d, searched)
    return out_json, out_best


def _ref_dropouts(reader) -> dict:
    """``{reference id: d}`` of the run's references with dropout (engine.dropout)."""
    refs = getattr(reader, "refs", None)
    if refs is None or getattr(refs, "dropout", None) is None or not np.any(refs.dropout):
        return {}
    return {str(x): float(d) for x, d in zip(refs.ids, refs.dropout) if d}


# -- case mode ------------------------------------------------------------------------
def _placements(fam, m: str, q_sex: str, m_sex: str, sex_dependent: bool = True) -> dict:
    """``{alternative: [(pedigree records, person the query is), ...]}`` for the
    query's places relative to the missing person ``m`` of case ``fam`` (every
    placement of an alternative is computed; the largest LR is reported)."""
    from kinship.pedigree import Pedigree

    ped = fam.pedigree
    recs = [dict(r) for r in ped.records()]
    by = {r["id"]: r for r in recs}
    taken = set(by)

    def new(stem):
        x = f"__{stem}__"
        while x in taken:
            x += "_"
        taken.add(x)
        return x

    mrec = by[m]
    out = {}
    msex = mrec["sex"] if mrec["sex"] != "unknown" else m_sex
    # parent: the query in the place of M's father or mother (of the query's sex)
    par = []
    for role, sex in (("father", "male"), ("mother", "female")):
        if q_sex not in ("unknown", sex):
            continue
        if mrec["father"] is None:
            f, mo = new("f"), new("m")
            r2 = [dict(r) for r in recs] + [{"id": f, "father": None, "mother": None, "sex": "male"},
                                            {"id": mo, "father": None, "mother": None,
                                             "sex": "female"}]
            for r in r2:
                if r["id"] == m:
                    r["father"], r["mother"] = f, mo
            par.append((r2, f if role == "father" else mo))
        elif mrec[role] not in fam.samples:
            par.append((recs, mrec[role]))
    if par:
        out["parent"] = par
    # child: a child of M and a new untyped partner
    ch = []
    # M's sex matters only as a transmitting parent under sex-specific mutation
    for sex in (("male", "female") if msex == "unknown" and sex_dependent else
                ("male" if msex == "unknown" else msex,)):
        p, c = new("partner"), new("child")
        r2 = [dict(r) for r in recs]
        for r in r2:
            if r["id"] == m:
                r["sex"] = sex
        r2.append({"id": p, "father": None, "mother": None,
                   "sex": "female" if sex == "male" else "male"})
        fa, mo = (m, p) if sex == "male" else (p, m)
        r2.append({"id": c, "father": fa, "mother": mo, "sex": q_sex})
        try:
            Pedigree.from_records(r2)
        except ValueError:      # M is a parent of the other sex already
            continue
        ch.append((r2, c))
    if ch:
        out["child"] = ch
    # full sibling: a child of M's parents (new untyped ones where M has none)
    s = new("sib")
    r2 = [dict(r) for r in recs]
    if mrec["father"] is None:
        f, mo = new("sf"), new("sm")
        r2 += [{"id": f, "father": None, "mother": None, "sex": "male"},
               {"id": mo, "father": None, "mother": None, "sex": "female"}]
        for r in r2:
            if r["id"] == m:
                r["father"], r["mother"] = f, mo
    else:
        f, mo = mrec["father"], mrec["mother"]
    r2.append({"id": s, "father": f, "mother": mo, "sex": q_sex})
    out["full-sibling"] = [(r2, s)]
    return out


class _CaseAlt:
    """Case-mode alternatives at one locus: ``P(calls, Q = g | Q placed) / P(calls,
    Q = g | Q unrelated)`` with the query typed (a scalar pedigree likelihood, about
    20 times cheaper than the table over every genotype); ``P(calls)`` of a case is
    computed once per locus.  With a silent allele in the system the table of
    :func:`kinship.tables.case_table` is used (its folding of the calls)."""

    def __init__(self, model, notes: list, dropin: float = 0.0):
        self.model = model
        self.notes = notes
        self.p_calls = {}
        self.dropin = float(dropin)
        #: per-person dropout of the current hit (docs/dropout.md), or None
        self.dropout = None
        self.A = int(max(s.n_alleles for s in model.systems)) if model.systems else 2

    def _too_costly(self, ped, person, calls) -> bool:
        if self.model.theta <= 0:
            return False
        from kinship.likelihood import theta_cost

        c = theta_cost(ped, dict(calls, **{person: None}), n_alleles=self.A)
        return not c["feasible"] or c["seconds"] * len(self.model.systems) > THETA_BUDGET_S

    def _lik(self, ped, calls, l):
        from kinship.likelihood import locus_likelihood

        s = self.model.systems[l]
        fM, mM = self.model._mats[l]
        kw = {}
        if self.dropout is not None:
            kw = dict(dropout={p: d for p, d in self.dropout.items()
                               if p is not None and p in calls and d} or None,
                      dropin=self.dropin)
        return float(locus_likelihood(ped, calls, n_alleles=s.n_alleles, freqs=s.freqs,
                                      female_M=fM, male_M=mM, theta=self.model.theta, **kw))

    def log10_lr(self, recs, person, calls_by_locus, q_calls, unit_key, base_ped) -> float:
        """log10 LR of the query in the place of ``person`` on ``recs``, over the
        loci of ``calls_by_locus`` (``{l: {person: (i, j)}}`` allele indices of the
        model, loci the query typed); ``q_calls[l]``: the query's (i, j)."""
        from kinship.pedigree import Pedigree, Person
        from kinship.tables import case_table

        model = self.model
        ped = Pedigree.from_records(recs)
        qid = "__query__"
        while qid in base_ped:
            qid += "_"
        h2 = None
        total = 0.0
        for l, calls in calls_by_locus.items():
            if self._too_costly(ped, person, calls):
                return math.nan
            qc = q_calls[l]
            s = model.systems[l]
            drop = self.dropout
            try:
                if s.silent:
                    labels = {p: (s.alleles[a], s.alleles[b]) for p, (a, b) in calls.items()}
                    g = int(qc[1] * (qc[1] + 1) // 2 + qc[0])
                    kw = {} if drop is None else dict(
                        dropout=drop.get(None, 0.0), dropin=self.dropin,
                        relative_dropout={p: d for p, d in drop.items()
                                          if p is not None and p in calls and d} or None)
                    lr = float(case_table(ped, person, labels, s, model.mutation, model.theta,
                                          **kw).lr[g])
                else:
                    if drop is not None:
                        # the query's dropout under its place, and as an unrelated founder
                        drop[person] = drop[qid] = drop.get(None, 0.0)
                    num = self._lik(ped, dict(calls, **{person: qc}), l)
                    if model.theta > 0 or drop is not None:
                        if h2 is None:
                            h2 = base_ped.with_person(Person(qid, None, None, "unknown"))
                        den = self._lik(h2, dict(calls, **{qid: qc}), l)
                    else:
                        key = (unit_key, l)
                        pc_ = self.p_calls.get(key)
                        if pc_ is None:
                            pc_ = self.p_calls[key] = self._lik(base_ped, calls, l)
                        f = s.freqs
                        a, b = qc
                        den = pc_ * (f[a] * f[a] if a == b else 2.0 * f[a] * f[b])
                    lr = num / den if den > 0 else math.nan
            except NotImplementedError:
                return math.nan
            with np.errstate(divide="ignore"):
                total += float(np.log10(lr))
        return total


def _case_rows(hits, idx, model, spec, queries, reader, notes):
    from kinship.cases import case_from_relations

    from .inputs import SEX_WORD

    qid = hits.column("query_id").to_pylist()
    cid = hits.column("case_id").to_pylist()
    rid = hits.column("reference_id").to_pylist()
    lr_hit = hits.column("log10_lr").to_numpy()
    out_json = [None] * len(idx)
    out_best = [None] * len(idx)
    unit_of = {i: (cid[i] if not rid[i] else f"{cid[i]}/{rid[i]}") for i in idx}
    units = reader.cases(sorted(set(unit_of.values())))
    q_row = queries.rows_of(qid[i] for i in idx)
    alt = _CaseAlt(model, notes, getattr(spec, "dropin", 0.0))
    systems = model.systems
    qdrop = np.asarray(queries.dropout, dtype=np.float64)
    drop_on = bool(np.any(qdrop) or getattr(spec, "dropin", 0.0) or _ref_dropouts(reader))
    n_left = 0
    for k, i in enumerate(idx):
        cu = units.get(unit_of[i])
        j = q_row.get(str(qid[i]))
        if cu is None or j is None:
            continue
        q_sex = SEX_WORD.get(str(queries.sex[j]), "unknown")
        fam = cu.get("case")
        if fam is not None:
            m = cu.get("missing") or fam.missing[0]
            person = {fam.samples[p]: p for p in fam.typed}
        else:
            rels = [(r[0], r[1], r[2]) for r in cu["relatives"]]
            msex = q_sex if q_sex != "unknown" else ("male" if cu["needs_sex"] else "unknown")
            fam = case_from_relations(cu["case_id"], rels, missing_sex=msex)
            m = fam.missing[0]
            person = {s: p for p, s in fam.samples.items()}
        if drop_on:
            # the dropout of each typed person of the case and of the query
            alt.dropout = {person[sid]: float(d) for sid, d in (cu.get("dropout") or {}).items()
                           if sid in person}
            alt.dropout[None] = float(qdrop[j])     # the query's own
        q_codes = queries.codes[j]
        by_locus, q_calls = {}, {}
        for l in range(len(systems)):
            qa, qb = int(q_codes[l][0]), int(q_codes[l][1])
            if qa < 0 or qb < 0:
                continue
            calls = {}
            for r in cu["relatives"]:
                p = person.get(r[0])
                c = r[3][l]
                if p is None or c[0] < 0 or c[1] < 0:
                    continue
                calls[p] = (min(int(c[0]), int(c[1])), max(int(c[0]), int(c[1])))
            if calls:
                by_locus[l] = calls
                q_calls[l] = (min(qa, qb), max(qa, qb))
        d = {"missing-person": float(lr_hit[i])}
        for name, places in _placements(fam, m, q_sex, "unknown", spec.sex_dependent).items():
            vals = [alt.log10_lr(recs, p, by_locus, q_calls, cu["id"], fam.pedigree)
                    for recs, p in places]
            vals = [v for v in vals if not math.isnan(v)]
            if vals:
                d[name] = max(vals)
            else:
                n_left += 1
        d["unrelated"] = 0.0
        d = {a: d[a] for a in CASE_ALTERNATIVES if a in d}
        out_json[k] = _dumps(d)
        out_best[k] = best_of(d, "missing-person")
    if n_left:
        notes.append(f"which relationship: {n_left} case-mode alternatives were not computed at "
                     f"theta = {model.theta:g} (their exact pedigree tables are estimated over "
                     f"{THETA_BUDGET_S:g} s or beyond the core's limit)")
    return out_json, out_best


# -- the run's entry point ------------------------------------------------------------
def add_alternatives(hits: pa.Table, spec, queries, reader, line: str = "paternal",
                     notes: list | None = None, which: str = "best",
                     max_hits: int | None = None) -> pa.Table:
    """``hits`` with ``relationship_lrs`` and ``best_relationship`` filled in (see
    the module doc) for each query's first-ranked hit per mode (``which="best"``),
    every ranked hit (``"ranked"``) or none; ``spec``: the run's
    :class:`engine.model.ModelSpec`.  A case-mode hit costs about 4 ms at 23 loci
    (the exact pedigree likelihood of each placement), a pairwise hit a few table
    lookups."""
    if hits.num_rows == 0 or "relationship_lrs" not in hits.column_names or which == "none":
        return hits
    from .model import get_model

    notes = notes if notes is not None else []
    model = get_model(spec)
    n = hits.num_rows
    mode = np.asarray(hits.column("mode").to_pylist(), dtype=object)
    lrs = [None] * n
    best = [None] * n
    rank = hits.column("rank").to_numpy(zero_copy_only=False)
    if which == "best":
        chosen = np.array([r == 1 for r in rank], dtype=bool)
    else:
        chosen = ~np.asarray(hits.column("rank").is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if max_hits is not None:
        # at most max_hits per mode, the highest LRs first (ties: the table's order)
        score = hits.column("log10_lr").to_numpy()
        left_out = 0
        for m in set(mode[chosen].astype(str).tolist()):
            idx = np.nonzero(chosen & (mode.astype(str) == m))[0]
            if len(idx) > max_hits:
                keep = idx[np.argsort(-score[idx], kind="stable")[:max_hits]]
                chosen[np.setdiff1d(idx, keep)] = False
                left_out += len(idx) - max_hits
        if left_out:
            notes.append(f"which relationship: {left_out} hits beyond the {max_hits} highest per mode "
                         f"have no alternatives computed (report.relationships_max)")
    pair = np.nonzero(np.isin(mode.astype(str), [m for m in SEARCHED if m != "case"]) & chosen)[0]
    if len(pair):
        js, bs = _pairwise(hits, pair, model, spec, queries, reader, line, notes)
        for k, i in enumerate(pair):
            lrs[i], best[i] = js[k], bs[k]
    case = np.nonzero((mode == "case") & chosen)[0]
    if len(case):
        js, bs = _case_rows(hits, case, model, spec, queries, reader, notes)
        for k, i in enumerate(case):
            lrs[i], best[i] = js[k], bs[k]
    for f, vals in zip(ALT_FIELDS, (lrs, best)):
        j = hits.schema.get_field_index(f.name)
        hits = hits.set_column(j, hits.schema.field(j), pa.array(vals, pa.string()))
    return hits


# -- summary --------------------------------------------------------------------------
def alternatives_text(mode_hits: pa.Table, mode: str, max_rows: int = 10) -> list:
    """Summary lines of one mode: how many hits have a best relationship other
    than the one searched for, and the first ``max_rows`` of them, the largest
    difference of log10 LR first (no genotypes)."""
    if mode not in SEARCHED or mode_hits.num_rows == 0 or \
            "best_relationship" not in mode_hits.column_names:
        return []
    searched = SEARCHED[mode]
    t = mode_hits.filter(pc.and_(pc.is_valid(mode_hits.column("best_relationship")),
                                 pc.not_equal(mode_hits.column("best_relationship"), searched)))
    n_all = mode_hits.filter(pc.is_valid(mode_hits.column("best_relationship"))).num_rows
    what = "the missing person" if mode == "case" else searched
    if t.num_rows == 0:
        return [f"  which relationship: every hit with alternatives ({n_all}) is best explained as "
                f"{what}"]
    rows = t.to_pylist()
    for r in rows:
        d = json.loads(r["relationship_lrs"])
        r["_gap"] = d[r["best_relationship"]] - d[searched]
    # the most clearly better explained first
    rows.sort(key=lambda r: (-r["_gap"], r["query_id"], r["case_id"], r["reference_id"]))
    out = [f"  which relationship: {t.num_rows} of {n_all} hits are better explained by another "
           f"relationship than {what} (relationship_lrs in hits.parquet):"]
    for r in rows[:max_rows]:
        d = json.loads(r["relationship_lrs"])
        other = (r["case_id"] + (f"/{r['reference_id']}" if r["reference_id"] else "")
                 if mode == "case" else r["reference_id"])
        b = r["best_relationship"]
        out.append(f"    {r['query_id']} -> {other}: best {b} (log10 LR {_f(d[b])} vs "
                   f"{_f(d[searched])} for {searched})")
    if len(rows) > max_rows:
        out.append(f"    ... {len(rows) - max_rows} more")
    return out


def _f(x: float) -> str:
    return "-inf" if x == -math.inf else f"{x:.2f}"
