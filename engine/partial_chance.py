"""Expected chance hits of a hit compared on fewer loci than the run's panel.

The mode-wide expectation of :mod:`engine.chance` assumes every candidate typed
at every locus its unit is typed at.  A partial profile (a degraded sample, a
candidate typed with a smaller kit) is compared on fewer loci, where chance
matches are far more likely: an identity match on 3 loci is common in any large
database.  For such a hit (``loci_compared`` below the number of loci of the run)
the expected number of unrelated pairs with at least its LR is computed on the
loci it was actually compared on:

    E = n_comparisons(mode) x P_H2(LR_u >= LR_hit | the loci compared)

with ``u`` the hit's own reference unit (its table restricted to those loci,
:func:`kinship.chance.exceedance`, exact method) -- as if every comparison of the
mode had been made on those loci, an upper value for a search where most
profiles are complete.  It replaces ``expected_chance_hits`` of that hit; at most
``report.chance_partial_max`` hits per mode (the highest LRs first) get it, the
others keep the mode-wide value and a note counts them.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

__all__ = ["partial_chance"]


def partial_chance(hits: pa.Table, chance: dict, spec, queries, reader, n_loci: int, notes: list,
                   max_hits: int = 200, line: str = "paternal", threads: int = 1) -> pa.Table:
    """``hits`` with ``expected_chance_hits`` recomputed on the loci compared for
    the hits compared on fewer than ``n_loci`` loci (see the module doc).  The hits'
    tables are compiled in turn; their exact convolutions (independent, mostly in
    numba without the GIL) run on ``threads`` threads, each value written to its
    own hit, so the result does not depend on the thread count."""
    from kinship.chance import exceedance

    from .inputs import SEX_WORD
    from .model import get_model

    if hits.num_rows == 0 or not chance:
        return hits
    mode = np.asarray(hits.column("mode").to_pylist(), dtype=object).astype(str)
    nc = hits.column("loci_compared").to_numpy()
    score = hits.column("log10_lr").to_numpy()
    part = (nc < n_loci) & np.isin(mode, [m for m, ch in chance.items() if ch is not None
                                          and not ch.errors and m != "y-lineage"])
    idx = np.nonzero(part)[0]
    if not len(idx):
        return hits
    keep, left = [], 0
    for m in sorted(set(mode[idx].tolist())):
        sel = idx[mode[idx] == m]
        order = sel[np.argsort(-score[sel], kind="stable")]
        keep.extend(order[:max_hits].tolist())
        left += max(0, len(sel) - max_hits)
    keep = sorted(keep)
    model = get_model(spec)
    qid = hits.column("query_id").to_pylist()
    cid = hits.column("case_id").to_pylist()
    rid = hits.column("reference_id").to_pylist()
    per = hits.column("per_locus_lr").to_pylist()
    vals = hits.column("expected_chance_hits").to_numpy(zero_copy_only=False).astype(float)
    loci = list(model.loci)
    # the units' genotypes (engine.inputs.UnitReader: one read shared with the alternatives)
    person_ids = sorted({str(rid[i]) for i in keep if mode[i] not in ("case", "duplicates")})
    unit_ids = sorted({cid[i] if not rid[i] else f"{cid[i]}/{rid[i]}" for i in keep if mode[i] == "case"})
    persons, units = reader.persons(person_ids), reader.cases(unit_ids)
    q_row = queries.rows_of([qid[i] for i in keep] + [rid[i] for i in keep if rid[i]])
    qdrop = np.asarray(queries.dropout, dtype=np.float64)
    refs = getattr(reader, "refs", None)
    r_drop = ({str(x): float(d) for x, d in zip(refs.ids, refs.dropout) if d}
              if refs is not None and refs.dropout is not None and np.any(refs.dropout) else {})
    dc = float(getattr(spec, "dropin", 0.0))
    jobs = []
    for i in keep:
        m = mode[i]
        jq = q_row.get(str(qid[i]))
        qd = float(qdrop[jq]) if jq is not None else 0.0
        drop = dict(query_dropout=qd, dropin=dc) if (qd or dc or r_drop) else {}
        try:
            if m == "case":
                cu = units.get(cid[i] if not rid[i] else f"{cid[i]}/{rid[i]}")
                if cu is None:
                    continue
                j = q_row.get(str(qid[i]))
                qs = SEX_WORD.get(str(queries.sex[j]), "unknown") if j is not None else "unknown"
                # as the search compiled it (engine.compile._case_groups)
                ms = (qs if spec.sex_dependent else "male") if cu["needs_sex"] else "unknown"
                tables = model.compile_cases([{"id": cu["id"], "missing_sex": ms,
                                               "relatives": cu["relatives"], "case": cu.get("case"),
                                               "missing": cu.get("missing"),
                                               "dropout": cu.get("dropout")}], **drop)
            else:
                if m == "duplicates":
                    j = q_row.get(str(rid[i]))
                    if j is None:
                        continue
                    codes, sex = queries.codes[j], str(queries.sex[j])
                    rd = float(qdrop[j])
                else:
                    if str(rid[i]) not in persons:
                        continue
                    codes, sex = persons[str(rid[i])]
                    rd = r_drop.get(str(rid[i]), 0.0)
                rel = "identity" if m == "duplicates" else m
                sx = SEX_WORD.get(str(sex), "unknown") if spec.sex_dependent else "male"
                if drop or rd:
                    drop = dict(ref_dropout=[rd], query_dropout=qd, dropin=dc)
                tables = model.compile_pairwise(rel, [str(rid[i])], np.asarray(codes)[None], [sx],
                                                line=line, **drop)
        except (ValueError, KeyError, NotImplementedError):
            continue
        compared = set(json.loads(per[i]).keys())
        for l, name in enumerate(loci):
            if name not in compared:
                tables.typed[0, l] = False
        skip = chance[m].max_inconsistent if m in ("identity", "duplicates") else 0
        jobs.append((i, m, tables, skip, qd))

    def one(job):
        i, m, tables, skip, qd = job
        ex = exceedance(tables, 0, [10.0 ** float(score[i])], model=model, method="exact",
                        bracket=False, max_inconsistent=skip,
                        **({"dropout": qd, "dropin": dc} if (qd or dc) else {}))
        return i, float(chance[m].n_comparisons) * float(ex.estimate[0])

    if threads > 1 and len(jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(int(threads), len(jobs)),
                                thread_name_prefix="strkin-partial") as pool:
            results = list(pool.map(one, jobs))
    else:
        results = [one(j) for j in jobs]
    for i, v in results:
        vals[i] = v
    if left:
        notes.append(f"chance hits on the loci compared: {left} partial hits beyond the {max_hits} "
                     f"highest per mode keep the mode-wide value (report.chance_partial_max)")
    j = hits.schema.get_field_index("expected_chance_hits")
    return hits.set_column(j, hits.schema.field(j), pa.array(vals, pa.float64(), mask=np.isnan(vals)))
