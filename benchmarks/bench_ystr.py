"""Benchmarks of the Y-STR lineage search (kinship.ystr).

Two ways to run:

* ``pytest benchmarks/bench_ystr.py --benchmark-enable`` -- pytest-benchmark timings of
  the screening kernel and of the full ``y-lineage`` search on small synthetic sets;
* ``python benchmarks/bench_ystr.py [--full] [--markdown FILE]`` -- the numbers of
  ``benchmarks/ystr_README_section.md``: screening throughput in pairs/s for 27 loci
  (Yfiler Plus) against a database streamed in shards, peak memory, the end-to-end
  search, and the recall of the default thresholds on Fisher-Wright pedigrees.

The databases here are *synthetic*: haplogroup-like clusters of founder haplotypes
(discrete-Laplace scatter around centres near the kit ladders' middle alleles) and
paternal families grown from each founder with the shipped mutation rates. They
are made to have realistic per-locus diversity (the mean chance that two men
share a slot value is printed), not to match any real population. Each shard is
generated on access from its own seed, so a 10^7-man database never sits in
memory at once.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from collections.abc import Sequence

import numpy as np

from kinship.ystr import (
    YMutationRates,
    auto_thresholds,
    exact_match_miss_rate,
    get_panel,
    lineage_search,
    recall,
    screen,
)
from kinship.ystr.simulate import _ladder_centres, haplotypes_from_comparison, mutate, relative_pairs, simulate_population
from kinship.ystr.screen import iter_screen

PANEL = get_panel("Yfiler Plus")
RATES = YMutationRates.load()
MU = RATES.slot_rates(PANEL)


class SyntheticShards(Sequence):
    """A database of ``n`` men in shards of ``shard_size``, each generated on access."""

    def __init__(self, n: int, shard_size: int, seed: int = 0, n_clusters: int = 8,
                 centre_spread: float = 0.35, within: float = 0.22, panel=PANEL, mu=MU):
        self.n, self.shard_size, self.seed = int(n), int(shard_size), seed
        self.panel, self.mu = panel, mu
        rng = np.random.default_rng(seed)
        S = panel.n_slots
        self.centres = _ladder_centres(panel) + _dl(rng, (n_clusters, S), centre_spread)
        self.weights = rng.dirichlet(np.ones(n_clusters) * 2)
        self.within = within

    def __len__(self):
        return -(-self.n // self.shard_size)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        m = min(self.shard_size, self.n - i * self.shard_size)
        return synthetic_men(m, self.centres, self.weights, self.within, self.panel, self.mu,
                             seed=(self.seed, i), prefix=f"s{i}_")


def _dl(rng, shape, p):
    return rng.geometric(1 - p, shape) - rng.geometric(1 - p, shape)


def synthetic_men(n, centres, weights, within, panel, mu, seed, prefix=""):
    """``n`` men: founders around cluster centres, each with a paternal family (1-4 meioses)."""
    rng = np.random.default_rng(seed)
    S = panel.n_slots
    n_fam = max(1, n // 3)
    z = rng.choice(len(weights), n_fam, p=weights)
    founders = np.clip(centres[z] + _dl(rng, (n_fam, S), within), 1, 62) * 10
    for _, g in panel.multicopy_groups():
        founders[:, list(g)] = np.sort(founders[:, list(g)], axis=1)
    fam = rng.integers(0, n_fam, n)
    fam[:n_fam] = np.arange(n_fam)  # every founder is in the database
    x = founders[fam].astype(np.int32)
    rel = np.arange(n) >= n_fam
    steps = rng.integers(1, 5, n)
    for m in range(1, 5):
        sel = rel & (steps == m)
        if sel.any():
            x[sel] = mutate(x[sel], mu, rng, panel, m)
    return haplotypes_from_comparison(panel, x, [f"{prefix}{i}" for i in range(n)])


def slot_agreement(h) -> float:
    c = h.comparison_values()
    vals = []
    for s in range(c.shape[1]):
        v = c[:, s][c[:, s] >= 0]
        f = np.bincount(v - v.min()) / v.size
        vals.append(float(f @ f))
    return float(np.mean(vals))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# -- pytest-benchmark ---------------------------------------------------------------------
def test_screen_27_loci(benchmark):
    db = SyntheticShards(200_000, 200_000, seed=1)[0]
    q = SyntheticShards(256, 256, seed=2)[0]
    screen(q[:4], db, max_mismatches=3, max_steps=3, n_threads=1)  # compile
    hits = benchmark(screen, q, db, max_mismatches=3, max_steps=3, n_threads=1)
    assert len(hits) >= 0


def test_lineage_search_end_to_end(benchmark):
    db = SyntheticShards(100_000, 100_000, seed=3)[0]
    q = db[np.arange(0, 100_000, 1000)]
    lineage_search(q[:2], db, n_threads=1)
    res = benchmark(lineage_search, q, db, n_threads=1)
    assert len(res) >= len(q)


# -- script -------------------------------------------------------------------------------
def queries_for(shards, n_q, seed):
    """Half new men, half relatives (1-6 meioses) of men of the first shard."""
    rng = np.random.default_rng(seed)
    new = synthetic_men(n_q - n_q // 2, shards.centres, shards.weights, shards.within, PANEL, MU,
                        seed=(seed, 1), prefix="new")
    base = shards[0].comparison_values()[rng.integers(0, shards.shard_size, n_q // 2)].astype(np.int32)
    m = rng.integers(1, 7, base.shape[0])
    for k in range(1, 7):
        base[m == k] = mutate(base[m == k], MU, rng, PANEL, k)
    rel = haplotypes_from_comparison(PANEL, base, [f"rel{i}" for i in range(base.shape[0])])
    from kinship.ystr import YHaplotypes

    return YHaplotypes.concat([new, rel])


def bench_screen(n_db, n_q, shard_size, threads, K=3, T=3, seed=0):
    shards = SyntheticShards(n_db, shard_size, seed=seed)
    q = queries_for(shards, n_q, seed + 17)
    screen(q[:8], shards[0][:5000], max_mismatches=K, max_steps=T, n_threads=1)  # compile / load cache
    t_gen = t_scr = 0.0
    n_hits = 0
    agree = None
    it = iter(range(len(shards)))
    order = None
    for i in it:
        t0 = time.perf_counter()
        sh = shards[i]
        sh.screen_codes()
        t_gen += time.perf_counter() - t0
        if agree is None:
            agree = slot_agreement(sh)
        t0 = time.perf_counter()
        for _, _, hits in iter_screen(q, sh, max_mismatches=K, max_steps=T, n_threads=threads, order=order):
            n_hits += len(hits)
        t_scr += time.perf_counter() - t0
        del sh
    pairs = n_db * n_q
    return dict(n_db=n_db, n_q=n_q, shard=shard_size, threads=threads, K=K, T=T, seconds=t_scr,
                gen_seconds=t_gen, pairs=pairs, pairs_per_s=pairs / t_scr, hits=n_hits,
                hits_per_query=n_hits / n_q, agree=agree, rss_mb=peak_rss_mb())


def bench_search(n_db, n_q, threads, estimator="augmented_count", seed=5):
    db = SyntheticShards(n_db, n_db, seed=seed)[0]
    q = db[np.linspace(0, n_db - 1, n_q).astype(int)]
    lineage_search(q[:2], db, n_threads=threads, estimator=estimator)
    t0 = time.perf_counter()
    res = lineage_search(q, db, n_threads=threads, estimator=estimator)
    dt = time.perf_counter() - t0
    return dict(n_db=n_db, n_q=n_q, threads=threads, estimator=estimator, seconds=dt,
                pairs_per_s=n_db * n_q / dt, candidates=len(res), per_query=len(res) / n_q)


def bench_recall(panel_name, n_men, generations, n_pairs, seed=0):
    panel = get_panel(panel_name)
    mu = RATES.slot_rates(panel)
    K, T = auto_thresholds(mu)
    pop = simulate_population(panel, mu, n_men=n_men, generations=generations,
                              n_founders=n_men // 2, keep=7, seed=seed)
    db, offs = pop.all_men()
    rows = []
    for m in range(1, 7):
        pr = relative_pairs(pop, m, n_pairs, seed=100 + m)
        qa = offs[pr[:, 0]] + pr[:, 1]
        gb = offs[pr[:, 2]] + pr[:, 3]
        hits = screen(db[qa], db, max_mismatches=K, max_steps=T, n_threads=1)
        found = set(zip(hits.query_index.tolist(), hits.database_index.tolist()))
        got = float(np.mean([(i, int(b)) in found for i, b in enumerate(gb)]))
        exact = screen(db[qa], db, max_mismatches=0, max_steps=0, n_threads=1)
        found0 = set(zip(exact.query_index.tolist(), exact.database_index.tolist()))
        got0 = float(np.mean([(i, int(b)) in found0 for i, b in enumerate(gb)]))
        rows.append(dict(m=m, sim=got, exact=recall(mu, m, K, T), sim_exact_match=got0,
                         exact_match=1 - exact_match_miss_rate(mu, m)))
    return dict(panel=panel.name, slots=panel.n_slots, K=K, T=T, sum_mu=float(mu.sum()),
                n_men=n_men, generations=generations, n_pairs=n_pairs, rows=rows, db=len(db))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="10^7-man database (takes minutes)")
    ap.add_argument("--markdown", help="write the markdown section to this file")
    args = ap.parse_args(argv)
    out = []
    p = out.append
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(l.split(":", 1)[1].strip() for l in fh if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import numba

    p("## Y-STR")
    p("")
    p(f"Machine: {cpu}, {os.cpu_count()} cores (shared with other jobs while measured), "
      f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}. "
      "Script: `python benchmarks/bench_ystr.py" + (" --full" if args.full else "") + "`.")
    p("")
    n_db = 10_000_000 if args.full else 1_000_000
    n_q = 1024
    p("### Screening throughput (27 loci, Yfiler Plus, thresholds 3 mismatches / 3 steps)")
    p("")
    p("Synthetic database streamed in shards of 10^6 men (generated on access); pairs/s "
      "counts every (query, database man) pair screened, exact recount of candidates included.")
    p("")
    p("| database | queries | threads | pairs | screen time | pairs/s | candidates/query | peak RSS |")
    p("|---:|---:|---:|---:|---:|---:|---:|---:|")
    agree = None
    rates = []
    for thr in (1, 2):
        r = bench_screen(n_db, n_q, 1_000_000, thr)
        agree = r["agree"]
        rates.append(r["pairs_per_s"])
        p(f"| {r['n_db']:.0e} | {r['n_q']} | {thr} | {r['pairs']:.2e} | {r['seconds']:.1f} s | "
          f"**{r['pairs_per_s']:.2e}** | {r['hits_per_query']:.1f} | {r['rss_mb']:.0f} MB |")
        print(out[-1], file=sys.stderr, flush=True)
    p("")
    p(f"Half of the queries are relatives (1-6 meioses) of database men, half are new men. "
      f"Mean chance that two database men share a slot value: {agree:.2f} (per slot, averaged "
      "over the 27 slots). Peak RSS is that of the whole process (shards are generated, "
      "screened and dropped one at a time).")
    p("")
    best = max(rates)
    p(f"At {best:.2e} pairs/s, the issue's full search (10^6 queries x 10^7 men = 10^13 pairs) "
      f"takes about {1e13 / best / 3600:.1f} hours on this machine; the work splits by query tile "
      "and by shard, so it divides over machines without changing results.")
    p("")
    p("### End-to-end `y-lineage` search (screen + LR for m = 1..6 + augmented count + ranking)")
    p("")
    p("| database | queries | threads | time | pairs/s | candidates/query |")
    p("|---:|---:|---:|---:|---:|---:|")
    r = bench_search(1_000_000, 1000, 1)
    p(f"| {r['n_db']:.0e} | {r['n_q']} | 1 | {r['seconds']:.1f} s | {r['pairs_per_s']:.2e} | {r['per_query']:.1f} |")
    print(out[-1], file=sys.stderr, flush=True)
    p("")
    p("### Recall of the default thresholds on Fisher-Wright pedigrees")
    p("")
    for name in ("Yfiler", "PowerPlex Y23", "Yfiler Plus"):
        r = bench_recall(name, 20_000 if args.full else 8_000, 60, 2000 if args.full else 1000)
        p(f"**{r['panel']}** ({r['slots']} slots, sum of rates {r['sum_mu']:.4f}): auto thresholds "
          f"{r['K']} mismatches / {r['T']} steps (recall >= 0.99 for m = 1..6). "
          f"Wright-Fisher: {r['n_men']} men x {r['generations']} generations, last 7 kept "
          f"({r['db']} men searched), {r['n_pairs']} pedigree pairs per m.")
        p("")
        p("| m | recall, simulated | recall, exact | exact-match search, simulated | exact-match, exact |")
        p("|---:|---:|---:|---:|---:|")
        for row in r["rows"]:
            p(f"| {row['m']} | {row['sim']:.3f} | {row['exact']:.4f} | {row['sim_exact_match']:.3f} | {row['exact_match']:.4f} |")
        p("")
        print(f"recall {name} done", file=sys.stderr, flush=True)
    text = "\n".join(out) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
