"""The human-readable summary of a run (``summary.txt``, printed by ``kinship demo``).

It is a pure function of the hits and the run description, with no timings or
dates, so that a resumed, distributed or incremental run writes the same
summary as an uninterrupted full run.  It never shows genotypes.
"""
from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["summary_text", "hits_table_text"]


def _fmt_lr(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "0"
    return f"{x:.2f}"


def hits_table_text(hits: pa.Table, mode: str, max_rows: int | None = 30, best_only: bool = True) -> list:
    """Lines of a fixed-width table of one mode's hits (rank 1 per query by default)."""
    t = hits.filter(pc.equal(hits.column("mode"), mode))
    if best_only:
        t = t.filter(pc.equal(t.column("rank"), 1))
    if t.num_rows == 0:
        return ["  (no hits)"]
    key = list(zip((-x for x in t.column("log10_lr").to_pylist()), t.column("query_id").to_pylist(),
                   t.column("case_id").to_pylist(), t.column("reference_id").to_pylist()))
    t = t.take(pa.array(sorted(range(len(key)), key=key.__getitem__), type=pa.int64()))
    other = "case" if mode == "case" else ("other query" if mode == "duplicates" else "reference")
    head = f"  {'query':<16} {other:<18} {'log10 LR':>9} {'posterior':>10} {'loci':>5} {'incons.':>7}  relatives"
    lines = [head, "  " + "-" * (len(head) - 2)]
    n = t.num_rows if max_rows is None else min(max_rows, t.num_rows)
    cols = {c: t.column(c).to_pylist()[:n] for c in
            ("query_id", "case_id", "reference_id", "log10_lr", "posterior", "loci_compared",
             "loci_inconsistent", "relatives")}
    for i in range(n):
        ref = cols["case_id"][i] if mode == "case" else cols["reference_id"][i]
        rel = cols["relatives"][i]
        if len(rel) > 60:
            rel = rel[:57] + "..."
        lines.append(f"  {cols['query_id'][i]:<16} {ref:<18} {_fmt_lr(cols['log10_lr'][i]):>9} "
                     f"{cols['posterior'][i]:>10.6f} {cols['loci_compared'][i]:>5} "
                     f"{cols['loci_inconsistent'][i]:>7}  {rel}")
    if t.num_rows > n:
        lines.append(f"  ... {t.num_rows - n} more queries with a hit (see hits.parquet)")
    return lines


def summary_text(hits: pa.Table, info: dict, max_rows: int = 30) -> str:
    """``info``: job-level facts (software, model, input counts, threshold, notes)."""
    s = info["search"]
    lines = [
        "strkin kinship search",
        "=====================",
        f"software          strkin {info['version']}",
        f"frequencies       {info['frequencies']}",
        f"model             theta = {info['theta']}, mutation = {info['mutation']}",
        f"loci              {len(info['loci'])}: {', '.join(info['loci'])}",
        f"queries           {info['n_queries']}",
        f"references        {info['n_references']} persons in {info['n_cases']} cases",
        f"threshold         LR >= {s['threshold']:g} (log10 {math.log10(s['threshold']):.2f}); "
        f"top {s['top_k']} per query, top {s['case_top_k']} per case/reference",
        f"prior             {s['prior']} (posterior column)",
        "",
    ]
    for mode in info["modes"]:
        t = hits.filter(pc.equal(hits.column("mode"), mode))
        nq = len(set(t.column("query_id").to_pylist())) if t.num_rows else 0
        lines.append(f"mode {mode}: {t.num_rows} hits, {nq} queries with a hit")
        lines.extend(hits_table_text(hits, mode, max_rows=max_rows))
        lines.append("")
    notes = info.get("notes") or []
    if notes:
        lines.append("notes")
        lines.extend(f"  - {n}" for n in notes)
        lines.append("")
    lines.append("Each hit: log10 LR, posterior at the prior, loci compared (typed in both), loci "
                 "inconsistent without mutation; per-locus LRs are in hits.parquet (per_locus_lr).")
    return "\n".join(lines) + "\n"
