"""Expected chance hits of a partial profile are computed on the loci it was
compared on (issue 13): an identity hit on k loci of a panel of 10.

By hand: at θ = 0 the identity LR of a candidate at a locus is 1 / P(g) if it has
the reference's genotype g and 0 otherwise, so over the k compared loci the LR is
either 0 or LR_hit = prod 1 / P(g_l), and P_H2(LR >= LR_hit) = prod P(g_l) =
1 / LR_hit.  The expected number of chance hits of that size in the search is
n_comparisons / LR_hit -- far more than the mode-wide value for complete profiles.
"""
from __future__ import annotations

import pytest

import engine
import formats

from enginelib import LOCI, make_job, simulate


def test_partial_identity_hit_gets_the_chance_of_its_own_loci(tmp_path):
    profs, _ = simulate(n_cases=0, n_unrelated=12, n_unrelated_references=6, seed=5)
    refs = [p for p in profs if p.kind == "reference"]
    r = refs[0]
    part = {l: r.genotypes[l] for l in LOCI[:8]}           # 8 of the 10 loci, identical
    full = dict(refs[1].genotypes)                          # all 10 loci, identical
    profs += [formats.Profile("PART-Q", part, "query", sex=r.sex),
              formats.Profile("FULL-Q", full, "query", sex=refs[1].sex)]
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    res = engine.run(make_job(ds, tmp_path / "out", ["identity"], search__min_loci=8))
    hits = {h["query_id"]: h for h in res.hits.to_pylist() if h["mode"] == "identity"}
    n_comp = res.manifest["chance_hits"]["identity"]["comparisons"]
    h = hits["PART-Q"]
    assert h["loci_compared"] == 8 and h["reference_id"] == r.sample_id
    assert h["expected_chance_hits"] == pytest.approx(n_comp * 10 ** -h["log10_lr"], rel=1e-6)
    # the complete profile keeps the mode-wide expectation (candidates typed at every locus)
    f = hits["FULL-Q"]
    assert f["loci_compared"] == 10
    assert f["expected_chance_hits"] < h["expected_chance_hits"]


def test_partial_chance_same_values_on_one_or_more_threads(tmp_path):
    """The partial hits' convolutions run on the run's threads: the values written
    do not depend on the thread count (each value goes to its own hit)."""
    profs, _ = simulate(n_cases=0, n_unrelated=12, n_unrelated_references=6, seed=5)
    refs = [p for p in profs if p.kind == "reference"]
    for k, r in enumerate(refs[:5]):                 # five partial identity hits
        part = {l: r.genotypes[l] for l in LOCI[:8 + (k % 2)]}
        profs.append(formats.Profile(f"PART-{k}", part, "query", sex=r.sex))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    out = {}
    for t in (1, 2, 3):
        res = engine.run(make_job(ds, tmp_path / f"out{t}", ["identity"], search__min_loci=8,
                                  execution__threads=t))
        part = [h for h in res.hits.to_pylist() if h["query_id"].startswith("PART-")]
        assert len(part) == 5 and all(h["loci_compared"] < 10 for h in part)
        out[t] = (tmp_path / f"out{t}" / "hits.parquet").read_bytes()
    assert out[1] == out[2] == out[3]
