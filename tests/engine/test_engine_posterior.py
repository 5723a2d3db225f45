"""The posterior of a hit accounts for the search (issue 13): brute force over a
small database.

P(candidate i | data) = pi LR_i / (pi_0 + sum_j pi LR_j) over every candidate
compared (pi = prior / N, pi_0 = 1 - prior).  The brute force computes every
pair's LR with ``kinship.likelihood_ratio`` on the case pedigrees and the sum
exactly; the engine run with a threshold that keeps every pair must give exactly
that, and a run with a real threshold and a small top_k must give a
``posterior_min`` at or below it (a lower bound) and a ``posterior`` that counts
the unseen candidates at 1 each.
"""
from __future__ import annotations

import math

import pytest

import engine
import formats
import kinship
from kinship.cases import case_from_relations

from enginelib import LOCI, make_job, simulate

SEXW = {"M": "male", "F": "female", "": "unknown"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("post")
    profs, _ = simulate(n_cases=6, n_unrelated=6, n_unrelated_references=0, seed=77,
                        proportions={"both-parents": 0.5, "father": 0.5})
    ds = tmp / "ds"
    formats.write_profiles(ds, profs)
    ft = kinship.FrequencyTable.load("nist1036_all")
    refs = [p for p in profs if p.kind == "reference"]
    cases = {}
    for p in refs:
        cases.setdefault(p.case_id, []).append(p)
    queries = [p for p in profs if p.kind == "query"]
    lr = {}
    for q in queries:
        for cid, members in cases.items():
            case = case_from_relations(cid, [(p.sample_id, p.relation, SEXW[p.sex]) for p in members])
            h1, h2 = case.hypotheses("QQ")
            g = {p.sample_id: p.genotypes for p in members}
            g["QQ"] = q.genotypes
            lr[(q.sample_id, cid)] = kinship.likelihood_ratio(h1, h2, g, ft, loci=LOCI).total
    return tmp, ds, lr, len(cases)


def _exact(lr, q, c, n, prior):
    total = math.fsum(v for (qq, _), v in lr.items() if qq == q)
    return (prior / n) * lr[(q, c)] / ((1 - prior) + (prior / n) * total)


@pytest.mark.parametrize("prior", [0.5, 0.01])
def test_every_pair_kept_gives_the_brute_force_posterior(data, prior):
    tmp, ds, lr, n = data
    out = tmp / f"all-{prior}"
    r = engine.run(make_job(ds, out, ["case"], search__threshold=1e-300, search__top_k=50,
                            search__case_top_k=50, search__prior=prior))
    hits = r.hits.to_pylist()
    assert len(hits) == sum(1 for v in lr.values() if v > 0)
    for h in hits:
        want = _exact(lr, h["query_id"], h["case_id"], n, prior)
        assert h["posterior"] == pytest.approx(want, rel=1e-9)
        assert h["posterior_min"] == pytest.approx(want, rel=1e-9)


def test_a_real_threshold_bounds_the_posterior_from_below(data):
    tmp, ds, lr, n = data
    r = engine.run(make_job(ds, tmp / "t", ["case"], search__threshold=10.0, search__top_k=1,
                            search__case_top_k=1))
    hits = r.hits.to_pylist()
    assert hits
    for h in hits:
        want = _exact(lr, h["query_id"], h["case_id"], n, 0.5)
        assert h["posterior_min"] <= want * (1 + 1e-12)
        # the estimate counts each candidate the results do not hold at 1
        n_others = sum(1 for (q, c) in lr if q == h["query_id"]) - sum(
            1 for k in hits if k["query_id"] == h["query_id"])
        kept = math.fsum(10 ** k["log10_lr"] for k in hits if k["query_id"] == h["query_id"])
        w = 0.5 / n
        est = w * 10 ** h["log10_lr"] / (0.5 + w * (kept + n_others))
        assert h["posterior"] == pytest.approx(est, rel=1e-9)


def test_pairwise_modes_treat_each_candidate_on_its_own(data):
    """A query may have both parents among the references: in parent-child mode each
    candidate is related or not on its own, P = q LR / (q LR + 1 - q), q = prior / N
    (N reference persons)."""
    tmp, ds, _, _ = data
    r = engine.run(make_job(ds, tmp / "pc", ["parent-child"], search__threshold=10.0))
    n_refs = len([p for p in formats.open_dataset(ds).load(kind="reference").sample_id])
    q = 0.5 / n_refs
    hits = r.hits.to_pylist()
    assert hits
    for h in hits:
        lr = 10 ** h["log10_lr"]
        assert h["posterior"] == pytest.approx(q * lr / (q * lr + 1 - q), rel=1e-12)
        assert h["posterior_min"] == h["posterior"]
