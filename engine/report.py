"""The human-readable summary of a run (``summary.txt``, printed by ``kinship demo``).

It is a pure function of the hits and the run description, with no timings or
dates, so that a resumed, distributed or incremental run writes the same
summary as an uninterrupted full run.  It never shows genotypes.

Per mode it states the number of comparisons and the expected number of chance
hits (unrelated pairs) at the job threshold and at ``report.chance_thresholds``
(:mod:`engine.chance`), the sentence for the mode's best hit, and, for every
listed hit, the expected chance hits with an LR at least that hit's.
"""
from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc

from .chance import fmt_count

__all__ = ["summary_text", "hits_table_text"]


def _fmt_lr(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "0"
    return f"{x:.2f}"


def hits_table_text(hits: pa.Table, mode: str, max_rows: int | None = 30, best_only: bool = True) -> list:
    """Lines of a fixed-width table of one mode's hits (rank 1 per query by default);
    column ``chance``: the expected chance hits at the hit's LR in this search."""
    t = hits.filter(pc.equal(hits.column("mode"), mode))
    if best_only:
        t = t.filter(pc.equal(t.column("rank"), 1))
    if t.num_rows == 0:
        return ["  (no hits)"]
    key = list(zip((-x for x in t.column("log10_lr").to_pylist()), t.column("query_id").to_pylist(),
                   t.column("case_id").to_pylist(), t.column("reference_id").to_pylist()))
    t = t.take(pa.array(sorted(range(len(key)), key=key.__getitem__), type=pa.int64()))
    other = "case" if mode == "case" else ("other query" if mode == "duplicates" else "reference")
    head = (f"  {'query':<16} {other:<18} {'log10 LR':>9} {'posterior':>10} {'chance':>8} {'loci':>5} "
            f"{'incons.':>7}  relatives")
    lines = [head, "  " + "-" * (len(head) - 2)]
    n = t.num_rows if max_rows is None else min(max_rows, t.num_rows)
    cols = {c: t.column(c).to_pylist()[:n] for c in
            ("query_id", "case_id", "reference_id", "log10_lr", "posterior", "loci_compared",
             "loci_inconsistent", "relatives", "expected_chance_hits")}
    for i in range(n):
        ref = cols["case_id"][i] if mode == "case" else cols["reference_id"][i]
        rel = cols["relatives"][i]
        if len(rel) > 60:
            rel = rel[:57] + "..."
        ch = cols["expected_chance_hits"][i]
        lines.append(f"  {cols['query_id'][i]:<16} {ref:<18} {_fmt_lr(cols['log10_lr'][i]):>9} "
                     f"{cols['posterior'][i]:>10.6f} {'-' if ch is None else fmt_count(ch):>8} "
                     f"{cols['loci_compared'][i]:>5} {cols['loci_inconsistent'][i]:>7}  {rel}")
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
    chance = info.get("chance") or {}
    for mode in info["modes"]:
        t = hits.filter(pc.equal(hits.column("mode"), mode))
        nq = len(set(t.column("query_id").to_pylist())) if t.num_rows else 0
        lines.append(f"mode {mode}: {t.num_rows} hits, {nq} queries with a hit")
        lines.extend(chance_text(chance.get(mode), t, info.get("chance_method", "exact")))
        lines.extend(hits_table_text(hits, mode, max_rows=max_rows))
        lines.append("")
    notes = info.get("notes") or []
    if notes:
        lines.append("notes")
        lines.extend(f"  - {n}" for n in notes)
        lines.append("")
    lines.append("Each hit: log10 LR, posterior at the prior, expected chance hits (unrelated pairs "
                 "with at least this LR expected in this search), loci compared (typed in both), "
                 "loci inconsistent without mutation; per-locus LRs are in hits.parquet "
                 "(per_locus_lr).")
    return "\n".join(lines) + "\n"


def chance_text(ch, mode_hits: pa.Table, method: str = "exact") -> list:
    """The summary lines of one mode's chance hits (``ch``: an
    :class:`engine.chance.ModeChance`, or None)."""
    from kinship.chance import format_lr

    if ch is None:
        return ["  chance hits: not computed (report.chance_method = \"none\")"] if method == "none" else []
    out = [f"  comparisons: {ch.n_comparisons:,.0f} ({ch.comparisons})"]
    if ch.errors:
        out.append(f"  chance hits: not computed ({len(ch.errors)} tables are not finite LRs)")
        return out
    how = (f"exact over all {ch.n_units} {ch.unit_word}, certified bracket" if ch.exact else
           f"exact on a deterministic random subset of {ch.units_used} of {ch.n_units} "
           f"{ch.unit_word}; +- one standard error, bracket +- 4")
    if ch.max_inconsistent:
        how += (f"; up to {ch.max_inconsistent} {'locus' if ch.max_inconsistent == 1 else 'loci'} "
                f"left out")
    out.append(f"  chance hits expected (unrelated pairs reaching the LR; {how}):")
    for r in ch.rows():
        se = "" if ch.exact else f" +- {fmt_count(r['stderr'])}"
        out.append(f"    LR >= {format_lr(r['threshold']):<10} {fmt_count(r['expected']):>9}{se}  "
                   f"[{fmt_count(r['lower'])}, {fmt_count(r['upper'])}]")
    if mode_hits.num_rows:
        best = max(mode_hits.column("log10_lr").to_pylist())
        out.append(f"  best hit: {ch.sentence(best)}")
    return out
