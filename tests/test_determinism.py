"""The same tables, bit for bit, in every process and thread.

The exact likelihood contracts tensors in an order searched once per structure.
opt_einsum's greedy searches, given einsum letters, break ties by the iteration
order of sets of strings, which depends on the process's string-hash seed: two
processes (two runs, a Dask worker) took different orders and differed in the
last digit of some LRs.  The orders are now searched on integer labels
(``kinship.likelihood._search_order``).  These tests compute tables in
subprocesses with different ``PYTHONHASHSEED`` values, and in two threads at
once, and compare the bytes.
"""
from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = r"""
import hashlib, sys, threading
import kinship
from kinship.cases import case_from_relations
from kinship.tables import case_table, pair_table

ft = kinship.FrequencyTable.load("nist1036_all")
mut = kinship.MutationModel(kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1))
loci = ["TPOX"]
fam = case_from_relations("X", [("U", "paternal-uncle", "M"), ("H", "maternal-half-sibling", "F")])

def tables(theta):
    out = []
    for l in loci:
        la = ft.locus_alleles(l)
        for rel in ("full-sibling", "half-sibling", "avuncular", "first-cousin", "grandparent"):
            out.append(pair_table(rel, la, mut, theta)[0].tobytes())
        calls = {p: (la.alleles[k], la.alleles[k + 1]) for k, p in enumerate(fam.typed)}
        out.append(case_table(fam.pedigree, fam.missing[0], calls, la, mut, theta).lr.tobytes())
    return hashlib.sha256(b"".join(out)).hexdigest()

res = {}
if sys.argv[1] == "threads":
    ths = [threading.Thread(target=lambda t=t: res.__setitem__(t, tables(t))) for t in (0.0, 0.01)]
    for t in ths: t.start()
    for t in ths: t.join()
else:
    for t in (0.0, 0.01):
        res[t] = tables(t)
print(res[0.0], res[0.01])
"""


def _run(seed: str, how: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    out = subprocess.run([sys.executable, "-c", SCRIPT, how], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_tables_identical_across_hash_seeds_and_threads():
    first = _run("1", "serial")
    assert _run("2", "serial") == first
    assert _run("3", "threads") == first


def test_order_search_ignores_other_users_of_random():
    """Another thread drawing from Python's global random generator during a search
    (a Dask worker's event loop does) leaves the order unchanged, and the search
    leaves the global generator alone."""
    import random
    import threading

    from kinship.likelihood import _search_order

    subs = [(0, 1), (1, 2, 3), (3, 4), (4, 5, 0), (2, 5), (6, 1), (6, 4)]
    sizes = {l: 16 for s in subs for l in s}
    first = _search_order(subs, (0,), sizes)
    stop = threading.Event()

    def noise():
        while not stop.is_set():
            random.random()

    t = threading.Thread(target=noise)
    t.start()
    try:
        for _ in range(30):
            assert _search_order(subs, (0,), sizes) == first
    finally:
        stop.set()
        t.join()
    random.seed(5)
    a = random.random()
    random.seed(5)
    _search_order(subs, (0,), sizes)
    assert random.random() == a
