"""Loading the queries of a run in a warm process (``engine.inputs.load_queries``).

Run::

    python benchmarks/load_queries.py DATASET [--references REFS] [--runs 7]
    python benchmarks/load_queries.py DATASET --no-sidecars     # decode the shards every time

``DATASET`` is a profile dataset with ``kind=query`` profiles (for instance
``/tmp/strkin-scale-cache/queries-1000000-p10000-s7`` of ``scale_table.py``; copy
it first if it must stay as it is: the first load writes the shards' sidecars
beside them, ``docs/formats.md``).  The model is the one ``kinship search`` builds
for it: NIST 1036 frequencies, the loci of the datasets, their alleles
(``--references``: the reference dataset whose alleles the model adds).  One load
warms numba and the page cache, then ``--runs`` loads, each from a freshly opened
dataset as ``Run.prepare`` does; prints the median and minimum CPU seconds
(``time.process_time``, this process's threads) and wall seconds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--references", default=None)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-sidecars", action="store_true",
                    help="STRKIN_SIDECARS=0 and the existing sidecars ignored (decoded every time)")
    a = ap.parse_args(argv)
    if a.no_sidecars:
        os.environ["STRKIN_SIDECARS"] = "0"
    import formats
    import kinship
    from engine.inputs import load_queries
    from engine.model import ModelSpec, Recoder, get_model

    if a.no_sidecars:
        from formats import sidecar

        sidecar.read_sidecar = lambda shard, sha: None     # as if there were none
    qds = formats.open_dataset(a.dataset)
    rds = formats.open_dataset(a.references) if a.references else None
    ft = kinship.FrequencyTable.load("nist1036_all")
    names = list(dict.fromkeys(list(qds.loci) + (list(rds.loci) if rds else [])))
    loci = sorted((ft.resolve_locus(l) for l in names), key=str.lower)
    extra = {l: sorted(set(qds.alleles.get(l, ())) | set(rds.alleles.get(l, ()) if rds else ()))
             for l in loci}
    model = get_model(ModelSpec(ft, tuple(loci), None, 0.0, extra))

    def once():
        ds = formats.open_dataset(a.dataset)
        c, w = time.process_time(), time.perf_counter()
        q = load_queries(ds, Recoder(ds, loci, model.systems))
        return time.process_time() - c, time.perf_counter() - w, len(q)

    once()
    runs = [once() for _ in range(a.runs)]
    cpu = [r[0] for r in runs]
    wall = [r[1] for r in runs]
    load = os.getloadavg()[0]
    print(f"{runs[0][2]} queries, {len(loci)} loci, sidecars {'off' if a.no_sidecars else 'on'}: "
          f"CPU s median {statistics.median(cpu):.3f} (min {min(cpu):.3f}), wall s median "
          f"{statistics.median(wall):.3f}; {a.runs} runs, load average {load:.2f}")


if __name__ == "__main__":
    main()
