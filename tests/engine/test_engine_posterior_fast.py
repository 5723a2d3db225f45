"""engine.merge.search_posteriors computes every group's posterior at once; the
per-(mode, query) loop it replaced is kept here as the reference, and both must
agree to the bit on random hits (ties, infinite LRs, unranked rows, modes without
a candidate count, pairwise and exclusive modes)."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from engine.merge import EXCLUSIVE_MODES, search_posteriors


def _reference(hits, n_candidates, prior, threshold, top_k):
    """The loop over each (mode, query) group (engine.merge before it was
    vectorised), word for word."""
    mode = hits.column("mode").to_numpy(zero_copy_only=False).astype(str)
    qid = hits.column("query_id").to_numpy(zero_copy_only=False).astype(str)
    score = hits.column("log10_lr").to_numpy()
    ranked = ~np.asarray(hits.column("rank").is_null().to_numpy(zero_copy_only=False), dtype=bool)
    with np.errstate(over="ignore"):
        lr = np.power(10.0, score)
    post = hits.column("posterior").to_numpy().copy()
    pmin = post.copy()
    groups: dict = {}
    for i, key in enumerate(zip(mode, qid)):
        groups.setdefault(key, []).append(i)
    t = float(threshold)
    for (m, q), rows in groups.items():
        N = int(n_candidates.get(m, 0) or 0)
        if N <= 0:
            continue
        rows = np.asarray(rows)
        if m not in EXCLUSIVE_MODES:
            qq = prior / N
            with np.errstate(invalid="ignore", over="ignore"):
                val = qq * lr[rows] / (qq * lr[rows] + (1.0 - qq))
            val = np.where(np.isinf(lr[rows]), 1.0, val)
            post[rows] = val
            pmin[rows] = val
            continue
        kept = math.fsum(lr[rows])
        r_ranked = rows[ranked[rows]]
        full = len(r_ranked) >= top_k
        bound = max(t, float(lr[r_ranked].min())) if full else t
        others = max(N - len(rows), 0)
        w = prior / N
        for col, per in ((post, min(1.0, bound)), (pmin, bound)):
            den = (1.0 - prior) + w * (kept + others * per)
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                val = w * lr[rows] / den
            val = np.where(np.isinf(lr[rows]), 1.0 / max(int(np.isinf(lr[rows]).sum()), 1), val)
            col[rows] = np.where(np.isinf(den) & ~np.isinf(lr[rows]), 0.0, val)
    return post, pmin


def _hits(rng, n):
    modes = np.array(["case", "identity", "parent-child", "full-sibling", "duplicates"])
    mode = modes[rng.integers(0, len(modes), n)]
    qid = np.array([f"Q{i}" for i in rng.integers(0, max(1, n // 3), n)])
    score = rng.choice(np.r_[rng.normal(5, 4, 50), [4.0, 4.0, 400.0, np.inf, 0.0, -1.0]], n)
    rank = rng.integers(0, 4, n)
    return pa.table({"mode": mode, "query_id": qid, "log10_lr": score,
                     "rank": pa.array(rank, pa.int32(), mask=rank == 0),
                     "posterior": pa.array(rng.random(n)),
                     "posterior_min": pa.array(rng.random(n))})


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_posteriors_equal_the_loop(seed):
    rng = np.random.default_rng(seed)
    hits = _hits(rng, int(rng.integers(1, 300)))
    n_cand = {"case": int(rng.integers(1, 50)), "identity": int(rng.integers(0, 3)),
              "parent-child": int(rng.integers(1, 1000)), "duplicates": 0}
    prior = float(rng.choice([0.5, 1.0, 1e-3]))
    thr = float(rng.choice([1.0, 1e4, 0.5]))
    top_k = int(rng.integers(1, 4))
    post, pmin = _reference(hits, n_cand, prior, thr, top_k)
    out = search_posteriors(hits, n_cand, prior, thr, top_k)
    assert out.column("posterior").to_numpy().tobytes() == post.tobytes()
    assert out.column("posterior_min").to_numpy().tobytes() == pmin.tobytes()
    # "full-sibling" has no candidate count: its posteriors are left as they were
    fs = hits.column("mode").to_numpy(zero_copy_only=False) == "full-sibling"
    assert (out.column("posterior").to_numpy()[fs] == hits.column("posterior").to_numpy()[fs]).all()


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_posteriors_nan_zero_and_infinite_bounds(seed):
    """LRs of 0 (log10 -inf) and 0/0 (NaN), an infinite threshold and queries whose
    every candidate is a hit with an infinite top-k bound (0 others x an infinite
    bound): the same bits as the loop, and no RuntimeWarning on the run's stderr
    (the loop's Python floats gave none)."""
    import warnings

    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(20, 200))
    hits = _hits(rng, n)
    score = rng.choice(np.r_[rng.normal(5, 4, 20), [np.nan, -np.inf, np.inf, np.inf, 0.0]], n)
    hits = hits.set_column(hits.schema.get_field_index("log10_lr"), "log10_lr", pa.array(score))
    n_q = len(set(hits.column("query_id").to_pylist()))
    n_cand = {"case": 1, "identity": n_q, "parent-child": 3}
    for thr in (np.inf, 1.0, np.nan):
        post, pmin = _reference(hits, n_cand, 0.5, thr, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = search_posteriors(hits, n_cand, 0.5, thr, 1)
        assert out.column("posterior").to_numpy().tobytes() == post.tobytes()
        assert out.column("posterior_min").to_numpy().tobytes() == pmin.tobytes()
