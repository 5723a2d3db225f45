"""Y haplotype test data: a simulated paternal population (kinship.ystr.simulate),
reference men with cases, query men who are relatives (m meioses) or unrelated."""
from __future__ import annotations

import numpy as np

import formats
from kinship.ystr import YHaplotypes, YMutationRates, get_panel
from kinship.ystr.simulate import haplotypes_from_comparison, mutate, simulate_population

PANEL = get_panel("Yfiler")
MU = YMutationRates.load().slot_rates(PANEL)


def population(n_men=400, seed=3):
    pop = simulate_population(PANEL, MU, n_men=n_men, generations=30, n_founders=n_men // 2,
                              keep=2, seed=seed)
    return pop.all_men()[0]


def y_data(n_refs=60, n_unrelated=12, planted=((1, 4), (2, 3), (3, 3)), seed=3, mu_factor=8.0,
           ref_prefix="YR", query_prefix="YQ", relation="father", cases=True):
    """``(refs, ref_meta, queries, truth)``: reference men (case ``K<i>``, the given
    relation), query men: for each ``(m, n)`` of ``planted``, ``n`` relatives ``m``
    meioses from a reference man (rates x ``mu_factor``, so that they differ), and
    unrelated men of the same population."""
    rng = np.random.default_rng(seed)
    db = population(seed=seed)
    order = rng.permutation(len(db))
    refs_rows = order[:n_refs]
    unrel_rows = order[n_refs:n_refs + n_unrelated]
    cmp = db.comparison_values()
    rid = [f"{ref_prefix}{i:03d}" for i in range(n_refs)]
    refs = haplotypes_from_comparison(PANEL, cmp[refs_rows], rid)
    meta = {"kind": ["reference"] * n_refs,
            "case_id": [f"K{i:03d}" if cases else "" for i in range(n_refs)],
            "relation": [relation] * n_refs}
    qcmp, qid, truth = [], [], {}
    k = 0
    for m, n in planted:
        for _ in range(n):
            j = int(rng.integers(n_refs))
            qcmp.append(mutate(cmp[refs_rows[j]][None], MU * mu_factor, rng, PANEL, m)[0])
            q = f"{query_prefix}{k:03d}"
            qid.append(q)
            truth[q] = (rid[j], m)
            k += 1
    for r in unrel_rows:
        qcmp.append(cmp[r])
        qid.append(f"{query_prefix}{k:03d}")
        k += 1
    queries = haplotypes_from_comparison(PANEL, np.array(qcmp).reshape(len(qcmp), PANEL.n_slots), qid)
    return refs, meta, queries, truth


def write_y(path, refs, meta, queries):
    formats.write_y_haplotypes(path, refs, meta)
    formats.write_y_haplotypes(path, queries, {"kind": ["query"] * len(queries)})
    return path
