"""Reference consistency, within and across cases, before the search is trusted.

Run by :func:`engine.run` once the cases are built (case mode), before any
task: every case's typed relatives are checked against the case pedigree
(:class:`kinship.consistency.ConsistencyChecker`: each pair's LR of the claimed
relationship vs unrelated and vs the alternative relationships, the loci where
the pair is excluded without mutation, recorded sexes against places), and the
whole reference database for the same person in two cases or under two ids
(:func:`kinship.consistency.identities`).  The decision rule and its error
rates are stated in ``docs/engine.md`` (Reference consistency).

Results: ``consistency.parquet`` (:data:`CONSISTENCY_SCHEMA`, one row per pair
of typed relatives, per sex finding and per identity, with the case's status,
explanation and fix), a section of ``summary.txt``, and the manifest's
``consistency`` counts.  With ``[search] inconsistent_cases = "exclude"`` the
inconsistent cases are left out of case mode (listed in the notes); the
default ``"report"`` only reports them.  Nothing here names an allele.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

__all__ = ["CONSISTENCY_SCHEMA", "ConsistencyResult", "check_references", "exclude_cases",
           "consistency_text"]

CONSISTENCY_SCHEMA = pa.schema([
    pa.field("case_id", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),        # the case's: consistent, note, inconsistent, duplicate
    pa.field("finding", pa.string(), nullable=False),       # this row's: "", note, excluded, better-explained, sex, same-person
    pa.field("sample_a", pa.string(), nullable=False),
    pa.field("relation_a", pa.string(), nullable=False),
    pa.field("sample_b", pa.string(), nullable=False),
    pa.field("relation_b", pa.string(), nullable=False),
    pa.field("claimed", pa.string(), nullable=False),       # the pedigree's relationship of the pair
    pa.field("loci_compared", pa.int32(), nullable=False),
    pa.field("log10_lr_claimed", pa.float64(), nullable=True),
    pa.field("relationship_lrs", pa.string(), nullable=True),   # JSON {relationship: log10 LR}
    pa.field("best_alternative", pa.string(), nullable=True),
    pa.field("log10_best_vs_claimed", pa.float64(), nullable=True),
    pa.field("loci_excluded", pa.string(), nullable=False),     # comma-separated locus names
    pa.field("suspect", pa.string(), nullable=False),
    pa.field("explanation", pa.string(), nullable=False),
    pa.field("fix", pa.string(), nullable=False),
])


#: cases checked together (kinship.consistency.ConsistencyChecker.check_cases): their
#: pairs' genotype arrays, about 1 KB a pair at 23 loci, bounded
CHECK_SLICE = 20_000


@dataclass
class ConsistencyResult:
    table: pa.Table
    checks: dict = field(default_factory=dict)       # case id -> kinship.consistency.CaseCheck
    identities: list = field(default_factory=list)
    excluded: list = field(default_factory=list)     # case ids left out of case mode
    setting: str = "report"
    ratio: float = 100.0
    identity_lr: float = 1e10

    def counts(self) -> dict:
        st = [c.status for c in self.checks.values()]
        return {"cases_checked": len(st), **{k: st.count(k) for k in
                                             ("consistent", "note", "inconsistent", "duplicate")},
                "same_person_pairs": len(self.identities), "excluded": len(self.excluded),
                "inconsistent_cases": self.setting, "ratio": self.ratio,
                "identity_lr": self.identity_lr}


def check_references(model, refs, cases, rds, recoder, ratio: float,
                     identity_lr: float) -> ConsistencyResult:
    """Check every case of ``cases`` (:class:`engine.inputs.Cases`) and the identity
    of all reference persons ``refs`` (genotypes read from ``rds``)."""
    from kinship.cases import relation_case
    from kinship.consistency import ConsistencyChecker, explain, identities
    from .inputs import SEX_WORD, _strs

    chk = ConsistencyChecker(model, ratio=ratio)
    checks: dict = {}
    with_cases = cases is not None and len(cases) > 0
    with_ids = refs is not None and len(refs) > 1
    # every reference person's genotype indices, read once: the cases' relatives and
    # the identity of all references
    gidx = None
    if with_cases or with_ids:
        gidx = _reference_genotypes(rds, recoder, refs)
        ids, case_of = _strs(refs.ids), _strs(refs.case_id)
    if with_cases and gidx is not None:
        row_of = {x: k for k, x in enumerate(ids)}
        # each reference's id, relation and sex word, once
        r_ids = _strs(refs.ids)
        r_rel = _strs(refs.relation)
        r_sex = [SEX_WORD.get(x, "unknown") for x in _strs(refs.sex)]
        g_rows = list(gidx)             # one view per row, made once
        g_of = [g_rows[row_of[x]] for x in r_ids]
        items = []
        for u in range(len(cases)):
            cid = cases.case_ids[u] if cases.case_ids else str(cases.ids[u])
            if cid in checks:        # a family with several missing persons: one check
                continue
            members = np.asarray(cases.members[u]).tolist()
            sexes = {r_ids[i]: r_sex[i] for i in members}
            fam = cases.pedigrees[u] if cases.pedigrees else None
            if fam is None and cases.relation_cases:
                fam = cases.relation_cases[u]       # placed by build_cases
            if fam is None:
                # the case unrenamed: checked on its shape's case (kinship.consistency)
                fam = relation_case(cid, [(r_ids[i], r_rel[i], r_sex[i]) for i in members],
                                    missing_sex="male" if cases.needs_sex[u] else "unknown")
            checks[cid] = None
            items.append((cid, fam, {r_ids[i]: g_of[i] for i in members}, sexes))
        for a in range(0, len(items), CHECK_SLICE):
            part = items[a:a + CHECK_SLICE]
            for (cid, *_), c in zip(part, chk.check_cases([it[1:] for it in part])):
                checks[cid] = c
    # the same person in two cases or under two ids: every reference person
    same = []
    if with_ids:
        if gidx is not None:
            same = identities(ids, case_of, gidx, model, threshold=identity_lr)
        for ip in same:
            for c in {ip.case_a, ip.case_b}:
                if c in checks:
                    checks[c].identities.append(ip)
    for c in checks.values():
        explain(c)
    return ConsistencyResult(_table(checks, same, refs), checks, same, ratio=ratio,
                             identity_lr=identity_lr)


def _reference_genotypes(rds, recoder, refs) -> np.ndarray | None:
    """Every reference person's genotype indices ``[persons, loci]`` (``-1`` untyped),
    in the order of ``refs`` (its persons are in shard order), read shard by shard
    as :func:`engine.inputs.stream_blocks` reads them, without making blocks."""
    from kinship.tables import genotype_indices

    out = None
    shard = np.asarray(refs.shard)
    for s, arr in enumerate(rds.iter_shards(kind="reference", loci=recoder.load_loci)):
        here = np.nonzero(shard == s)[0]
        if len(here):
            g = genotype_indices(np.asarray(recoder.codes(arr.take(refs.row[here]))))
            if out is None:
                out = np.full((len(refs), g.shape[1]), -1, dtype=np.int64)
            out[here] = g
    return out


def _table(checks: dict, same: list, refs) -> pa.Table:
    rel_of = {}
    if refs is not None:
        rel_of = {str(i): str(r) for i, r in zip(refs.ids, refs.relation)}
    rows = []      # one tuple per row, in CONSISTENCY_SCHEMA order
    alt_rows = []  # the rows with relationship LRs, and those LRs

    def add(c, finding, sa, ra, sb, rb, claimed="", n=0, lr=None, alts=None, best=None, gap=None,
            excl=()):
        if alts is not None:
            alt_rows.append((len(rows), alts))
        rows.append((c.case_id if c is not None else "", c.status if c is not None else "duplicate",
                     finding, sa, ra, sb, rb, claimed, int(n), None if lr is None else float(lr),
                     None, best, None if gap is None else float(gap), ",".join(excl),
                     c.suspect if c is not None else "", c.explanation if c is not None else "",
                     c.fix if c is not None else ""))

    for cid in sorted(checks):
        c = checks[cid]
        for p in c.pairs:
            add(c, p.finding, p.sample_a, c.relations.get(p.sample_a, ""), p.sample_b,
                c.relations.get(p.sample_b, ""), p.claimed, p.loci_compared, p.log10_lr_claimed,
                p.alternatives, p.best, p.log10_best_vs_claimed, p.loci_excluded)
        for s, rec, where, placed in c.sex:
            add(c, "sex", s, where, "", f"recorded {rec}, placed {placed}")
        for ip in c.identities:
            add(c, "same-person", ip.sample_a, rel_of.get(ip.sample_a, ""), ip.sample_b,
                rel_of.get(ip.sample_b, ""), "identity", ip.loci_compared, ip.log10_lr)
    # identities of references outside the checked cases (direct samples, no relation)
    for ip in same:
        if ip.case_a not in checks and ip.case_b not in checks:
            add(None, "same-person", ip.sample_a, rel_of.get(ip.sample_a, ""), ip.sample_b,
                rel_of.get(ip.sample_b, ""), "identity", ip.loci_compared, ip.log10_lr)
    cols = [list(col) for col in zip(*rows)] if rows else [[] for _ in CONSISTENCY_SCHEMA]
    arrays = [pa.array(col, f.type) for f, col in zip(CONSISTENCY_SCHEMA, cols)]
    j = CONSISTENCY_SCHEMA.get_field_index("relationship_lrs")
    arrays[j] = _relationship_json(len(rows), alt_rows)
    return pa.Table.from_arrays(arrays, schema=CONSISTENCY_SCHEMA)


def _relationship_json(n: int, alt_rows: list) -> pa.Array:
    """The ``relationship_lrs`` column of ``n`` rows: row ``i`` of ``alt_rows`` (``(i,
    {relationship: log10 LR})``) is ``json.dumps({k: float(x) ...}, allow_nan=True)``,
    made for all rows with the same relationships at once
    (:func:`engine.score.per_locus_json`: the same text); the other rows null."""
    from .score import per_locus_json

    out = np.full(n, None, dtype=object)
    by_keys: dict = {}
    for i, alts in alt_rows:
        by_keys.setdefault(tuple(alts), []).append((i, alts))
    for keys, items in by_keys.items():
        vals = np.array([[float(x) for x in a.values()] for _, a in items],
                        dtype=np.float64).reshape(len(items), len(keys))
        text = per_locus_json(keys, vals, np.ones(vals.shape, dtype=bool))
        out[[i for i, _ in items]] = text.to_numpy(zero_copy_only=False)
    return pa.array(out, pa.string())


def exclude_cases(cases, excluded: set):
    """``cases`` (:class:`engine.inputs.Cases`) without the units of the case ids in
    ``excluded``."""
    if not excluded or cases is None or not len(cases):
        return cases
    from dataclasses import replace

    keep = np.array([c not in excluded for c in (cases.case_ids or list(cases.ids))], dtype=bool)
    idx = np.nonzero(keep)[0]
    pick = (lambda xs: [xs[i] for i in idx] if xs else xs)
    return replace(cases, ids=cases.ids[idx], members=[cases.members[i] for i in idx],
                   fp=cases.fp[idx], last_shard=cases.last_shard[idx],
                   needs_sex=cases.needs_sex[idx], pedigrees=pick(cases.pedigrees),
                   missing=pick(cases.missing), case_ids=pick(cases.case_ids),
                   relation_cases=pick(cases.relation_cases))


def consistency_text(res: ConsistencyResult | None, max_rows: int = 20) -> list:
    """The summary section: counts, the rule, and the inconsistent cases with their
    explanation and fix."""
    if res is None:
        return []
    n = res.counts()
    lines = [f"reference consistency: {n['cases_checked']} cases checked: {n['inconsistent']} "
             f"inconsistent, {n['duplicate']} sharing a person with another case, {n['note']} with "
             f"a note, {n['consistent']} consistent; {n['same_person_pairs']} pairs of references "
             f"are one person (consistency.parquet)",
             f"  rule: a pair of typed relatives excluded as drawn without mutation at >= 2 loci, "
             f"or explained >= {res.ratio:g} times better by another relationship (or unrelated); "
             f"a sex against the place; two references identical on >= 8 loci with identity LR "
             f">= {res.identity_lr:g}"]
    if res.setting == "exclude":
        lines.append(f"  inconsistent_cases = \"exclude\": {len(res.excluded)} cases left out of "
                     f"case mode")
    else:
        lines.append("  inconsistent_cases = \"report\": every case was searched; check these "
                     "before trusting their hits")
    bad = [c for c in sorted(res.checks.values(), key=lambda c: c.case_id)
           if c.status in ("inconsistent", "duplicate")]
    for c in bad[:max_rows]:
        lines.append(f"  {c.case_id} [{c.status}]: {c.explanation}")
        if c.fix:
            lines.append(f"    fix: {c.fix}")
    if len(bad) > max_rows:
        lines.append(f"  ... {len(bad) - max_rows} more (consistency.parquet)")
    return lines + [""]
