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

from .alternatives import alternatives_text
from .chance import fmt_count
from .consistency import consistency_text
from .joint import joint_text
from .power import summary_lines as power_summary_lines

__all__ = ["summary_text", "hits_table_text"]


def _fmt_log(x: float) -> str:
    """A log10 value; an LR of 0 is ``-inf``."""
    return "-inf" if x == -math.inf else _fmt_lr(x)


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
        ref = cols["reference_id"][i]
        if mode == "case":
            ref = cols["case_id"][i] + (f"/{ref}" if ref else "")
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
    ]
    y = info.get("y_lineage")
    if any(m != "y-lineage" for m in info["modes"]):
        lines += [
            f"frequencies       {info['frequencies']}",
            f"model             theta = {info['theta']}, mutation = {info['mutation']}",
            f"loci              {len(info['loci'])}: {', '.join(info['loci'])}",
            f"queries           {info['n_queries']}",
            f"references        {info['n_references']} persons in {info['n_cases']} cases",
            f"threshold         LR >= {s['threshold']:g} (log10 {math.log10(s['threshold']):.2f}); "
            f"top {s['top_k']} per query, top {s['case_top_k']} per case/reference",
        ]
    if y:
        lines += y_header(y, s)
    lines += [f"prior             {s['prior']}: that the sought person is among the candidates "
              f"compared, spread evenly over them (posterior column)", ""]
    chance = info.get("chance") or {}
    for mode in info["modes"]:
        t = hits.filter(pc.equal(hits.column("mode"), mode))
        nq = len(set(t.column("query_id").to_pylist())) if t.num_rows else 0
        lines.append(f"mode {mode}: {t.num_rows} hits, {nq} queries with a hit")
        if mode == "y-lineage":
            lines.extend(y_hits_table_text(hits, max_rows=max_rows))
        else:
            lines.extend(chance_text(chance.get(mode), t, info.get("chance_method", "exact")))
            lines.extend(hits_table_text(hits, mode, max_rows=max_rows))
            lines.extend(alternatives_text(t, mode))
        lines.append("")
    lines.extend(consistency_text(info.get("consistency")))
    lines.extend(joint_text(info.get("joint_table"), info.get("joint")))
    lines.extend(power_summary_lines(info.get("power")))
    notes = info.get("notes") or []
    if notes:
        lines.append("notes")
        lines.extend(f"  - {n}" for n in notes)
        lines.append("")
    if any(m != "y-lineage" for m in info["modes"]):
        lines.append("Each hit: log10 LR; posterior: the probability that this candidate, among "
                     "all those the query was compared with, is the one, given the prior above and "
                     "every candidate's LR (those not listed counted at 1 each; posterior_min in "
                     "hits.parquet bounds them by the threshold instead: a lower bound); expected "
                     "chance hits (unrelated pairs with at least this LR expected in this search); "
                     "loci compared (typed in both), loci inconsistent without mutation; per-locus "
                     "LRs are in hits.parquet (per_locus_lr).")
    if y:
        lines.append("y-lineage hits: log10 of the prior-weighted lineage LR, mismatched loci and "
                     "summed repeat steps, loci compared, match probability of the query's "
                     "haplotype, and the LR combined with an autosomal hit of the same pedigree "
                     "(Y and autosomal transmissions are independent: the LRs multiply; see "
                     "combined_with in hits.parquet). LR per m and the differing loci are in "
                     "hits.parquet (y_lr_per_m, y_differences).")
    return "\n".join(lines) + "\n"


def y_header(y: dict, s: dict) -> list:
    """The job-level lines of the y-lineage search."""
    how = (f"auto: keeps >= {y['recall_target']} of relatives at m = "
           f"{', '.join(str(m) for m in y['meioses'])}" if y["thresholds"] == "auto" else "given")
    rec = ", ".join(f"m={m} {r:.4f}" for m, r in y["recall"].items())
    return [
        f"Y panel           {y['panel']}: {len(y['loci'])} loci",
        f"Y queries         {y['n_queries']} men; Y references {y['n_references']} men",
        f"Y screen          <= {y['max_mismatches']} mismatched loci and <= {y['max_steps']} "
        f"repeat steps ({how}); expected recall {rec}",
        f"Y evidence        LR(m) for m = {', '.join(str(m) for m in y['meioses'])}, ranked by "
        f"the prior-weighted LR; match probability: {y['estimator']} in "
        f"{y['population_size']} haplotypes ({y['population']}); LR >= {y['threshold']:g}; "
        f"top {s['top_k']} per query, top {s['case_top_k']} per reference",
    ]


def y_hits_table_text(hits: pa.Table, max_rows: int | None = 30) -> list:
    """The y-lineage hits, best per query (the combined LR where there is one)."""
    t = hits.filter(pc.equal(hits.column("mode"), "y-lineage"))
    t = t.filter(pc.equal(t.column("rank"), 1))
    if t.num_rows == 0:
        return ["  chance hits: not computed for y-lineage (the match probability is the "
                "evidence against a chance match)", "  (no hits)"]
    key = list(zip((-x for x in t.column("log10_lr").to_pylist()), t.column("query_id").to_pylist(),
                   t.column("reference_id").to_pylist()))
    t = t.take(pa.array(sorted(range(len(key)), key=key.__getitem__), type=pa.int64()))
    head = (f"  {'query':<16} {'reference':<18} {'log10 LR':>9} {'mism.':>5} {'steps':>5} "
            f"{'loci':>5} {'match prob.':>11} {'combined':>9}  relatives")
    lines = ["  chance hits: not computed for y-lineage (the match probability is the evidence "
             "against a chance match)", head, "  " + "-" * (len(head) - 2)]
    n = t.num_rows if max_rows is None else min(max_rows, t.num_rows)
    cols = {c: t.column(c).to_pylist()[:n] for c in
            ("query_id", "reference_id", "log10_lr", "y_mismatches", "y_steps", "loci_compared",
             "y_match_probability", "combined_log10_lr", "relatives")}
    for i in range(n):
        comb = cols["combined_log10_lr"][i]
        lines.append(f"  {cols['query_id'][i]:<16} {cols['reference_id'][i]:<18} "
                     f"{_fmt_log(cols['log10_lr'][i]):>9} {cols['y_mismatches'][i]:>5} "
                     f"{cols['y_steps'][i]:>5} {cols['loci_compared'][i]:>5} "
                     f"{cols['y_match_probability'][i]:>11.3g} "
                     f"{'-' if comb is None else _fmt_log(comb):>9}  {cols['relatives'][i]}")
    if t.num_rows > n:
        lines.append(f"  ... {t.num_rows - n} more queries with a hit (see hits.parquet)")
    return lines


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
