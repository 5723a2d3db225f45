"""The numba screening kernel against a slow, obviously correct reference."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinship.ystr import YHaplotypes, get_panel, screen
from kinship.ystr.haplotypes import DUPLICATED, MISSING, NULL
from kinship.ystr.screen import iter_screen

YFP = get_panel("Yfiler Plus")


def naive_pairs(q: YHaplotypes, db: YHaplotypes, K, T, min_c=1):
    """Slow reference: loop over every pair and slot of the comparison values."""
    cq, cd = q.comparison_values(), db.comparison_values()
    out = {}
    for i in range(len(q)):
        for j in range(len(db)):
            mm = st_ = nc = 0
            for s in range(cq.shape[1]):
                a, b = int(cq[i, s]), int(cd[j, s])
                if a == MISSING or b == MISSING:
                    continue
                nc += 1
                if a == b:
                    continue
                mm += 1
                if a == NULL or b == NULL:
                    st_ += 1
                else:
                    st_ += abs(a // 10 - b // 10) + (1 if a % 10 != b % 10 else 0)
            if mm <= K and st_ <= T and nc >= max(1, min_c):
                out[(i, j)] = (mm, st_, nc)
    return out


def random_haplotypes(rng, n, panel=YFP, p_missing=0.05, p_null=0.01, p_micro=0.03, spread=2):
    """Random profiles near a common centre (so that near matches are frequent)."""
    S = panel.n_slots
    centre = rng.integers(10, 30, S)
    x = (centre + rng.integers(-spread, spread + 1, (n, S))) * 10
    micro = rng.random((n, S)) < p_micro
    x = np.where(micro, x + rng.choice([1, 2, 3, 4], (n, S)), x)
    x = np.where(rng.random((n, S)) < p_null, NULL, x)
    d1, d2 = panel.dys389_slots()
    x[:, d2] = np.where(x[:, d1] >= 0, x[:, d1], 0) + 160 + rng.integers(-1, 2, n) * 10
    x[:, d2] = np.where(x[:, d1] < 0, 300, x[:, d2])
    extra = {}
    for name, g in panel.multicopy_groups():
        g = list(g)
        x[:, g] = np.sort(x[:, g], axis=1)
        miss = rng.random(n) < p_missing
        x[np.ix_(miss, g)] = MISSING
        dup = np.flatnonzero(rng.random(n) < 0.02)
        for r in dup:
            x[r, g] = DUPLICATED
            extra[(int(r), name)] = (100, 110, 120)
    single = [s for s in range(S) if s not in {i for _, g in panel.multicopy_groups() for i in g}]
    m = rng.random((n, len(single))) < p_missing
    xs = x[:, single]
    xs[m] = MISSING
    x[:, single] = xs
    return YHaplotypes(panel, x, [f"p{i}" for i in range(n)], extra=extra)


@pytest.mark.parametrize("K,T", [(0, 0), (2, 3), (4, 8)])
def test_kernel_equals_naive(K, T):
    rng = np.random.default_rng(K)
    db = random_haplotypes(rng, 700)  # not a multiple of the block size
    q = random_haplotypes(rng, 23)
    q = YHaplotypes.concat([q, db[:5]])
    ref = naive_pairs(q, db, K, T)
    hits = screen(q, db, max_mismatches=K, max_steps=T, block=256, n_threads=1)
    got = {(int(i), int(j)): (int(a), int(b), int(c)) for i, j, a, b, c in zip(
        hits.query_index, hits.database_index, hits.mismatches, hits.steps, hits.loci_compared)}
    assert got == ref
    assert len(ref) > 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), K=st.integers(0, 6), T=st.integers(0, 10),
       prefix=st.integers(1, 27), check_every=st.integers(1, 5), min_c=st.integers(0, 27))
def test_kernel_equals_naive_random_settings(seed, K, T, prefix, check_every, min_c):
    rng = np.random.default_rng(seed)
    db = random_haplotypes(rng, 150, p_missing=0.2)
    q = random_haplotypes(rng, 9, p_missing=0.2)
    ref = naive_pairs(q, db, K, T, min_c)
    hits = screen(q, db, max_mismatches=K, max_steps=T, min_loci_compared=min_c, block=64,
                  prefix=prefix, check_every=check_every, n_threads=1)
    got = set(zip(hits.query_index.tolist(), hits.database_index.tolist()))
    assert got == set(ref)


def test_kernel_without_exact_pass_never_loses_hits():
    # the uint8 codes merge decimals .3 and above: the kernel may over-report, never miss
    rng = np.random.default_rng(5)
    db = random_haplotypes(rng, 400, p_micro=0.3)
    q = random_haplotypes(rng, 12, p_micro=0.3)
    ref = set(naive_pairs(q, db, 3, 4))
    loose = screen(q, db, max_mismatches=3, max_steps=4, exact=False, n_threads=1)
    got = set(zip(loose.query_index.tolist(), loose.database_index.tolist()))
    assert ref <= got


def test_shards_threads_and_slot_order_do_not_change_results():
    rng = np.random.default_rng(11)
    db = random_haplotypes(rng, 1500)
    q = random_haplotypes(rng, 40)
    base = screen(q, db, max_mismatches=3, max_steps=5, n_threads=1)
    shards = [db[:400], db[400:1100], db[1100:]]
    sh = screen(q, shards, max_mismatches=3, max_steps=5, n_threads=2, query_tile=16)
    rev = screen(q, db, max_mismatches=3, max_steps=5, order=np.arange(YFP.n_slots)[::-1], n_threads=1)
    for other in (sh, rev):
        for f in ("query_index", "database_index", "mismatches", "steps", "loci_compared"):
            assert np.array_equal(getattr(base, f), getattr(other, f)), f
    offs = [o for o, _, _ in iter_screen(q, shards, max_mismatches=1, max_steps=1)]
    assert offs == [0, 400, 1100]


def test_query_on_smaller_panel_is_compared_on_its_slots():
    rng = np.random.default_rng(3)
    db = random_haplotypes(rng, 300, p_missing=0.0, p_null=0, p_micro=0)
    q = db[:3].to_panel("Yfiler", drop_typed=True)
    hits = screen(q, db, max_mismatches=0, max_steps=0, n_threads=1)
    first = hits.query_index == 0
    assert 0 in hits.database_index[first].tolist()
    assert set(hits.loci_compared[first].tolist()) <= set(range(1, 18))


def test_bad_thresholds():
    rng = np.random.default_rng(0)
    db = random_haplotypes(rng, 10)
    with pytest.raises(ValueError, match="max_mismatches"):
        screen(db, db, max_mismatches=-1, max_steps=0)
    with pytest.raises(ValueError, match="max_steps"):
        screen(db, db, max_mismatches=1, max_steps=1.5)
