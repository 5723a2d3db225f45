"""The one-to-one joint picture of a run's case-mode hits (:mod:`kinship.joint`).

After the merge, the case-mode hits form a bipartite graph between queries and
missing persons (a case, or ``case/person`` for a family with several); each
connected part gets its best consistent assignment (no query assigned to two
missing persons, no missing person to two queries, "not in the database"
allowed for both), each hit its log10 LR against the best alternative
assignment, and dvir's undisputed rule (``docs/engine.md``, One-to-one).

Nothing is hidden: every hit stays in ``hits.parquet``, annotated with
``joint_part``, ``joint_assigned`` and ``joint_undisputed`` (:data:`JOINT_FIELDS`,
null outside case mode), and ``joint.parquet`` (:data:`JOINT_SCHEMA`) holds one
row per case-mode hit with the part's numbers.  Queries that ``duplicates`` mode found to be one person (a sample typed
twice) are one node (:func:`same_person`; without duplicates mode they are two
and compete for their family).  Only case mode is joined: in
the pairwise modes a query may have several true relatives, and identity hits
are direct samples compared in their own mode.
"""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["JOINT_FIELDS", "JOINT_SCHEMA", "add_joint", "joint_text", "same_person"]

#: columns of the hits (appended to :data:`engine.merge.RESULT_SCHEMA`)
JOINT_FIELDS = [
    pa.field("joint_part", pa.int32(), nullable=True),
    pa.field("joint_assigned", pa.bool_(), nullable=True),
    pa.field("joint_undisputed", pa.bool_(), nullable=True),
]

JOINT_SCHEMA = pa.schema([
    pa.field("part", pa.int32(), nullable=False),
    pa.field("query_id", pa.string(), nullable=False),
    pa.field("case_id", pa.string(), nullable=False),
    pa.field("reference_id", pa.string(), nullable=False),   # the missing person ("" if the only one)
    pa.field("log10_lr", pa.float64(), nullable=False),
    pa.field("assigned", pa.bool_(), nullable=False),
    pa.field("undisputed", pa.bool_(), nullable=False),
    pa.field("undisputed_step", pa.int32(), nullable=False),
    pa.field("log10_lr_vs_alternative", pa.float64(), nullable=False),
    pa.field("alternative_exact", pa.bool_(), nullable=False),
    pa.field("person", pa.string(), nullable=False),         # the query's node: itself, or the
                                                             # first id of its duplicates
    pa.field("part_queries", pa.int32(), nullable=False),
    pa.field("part_missing", pa.int32(), nullable=False),
    pa.field("part_log10_lr", pa.float64(), nullable=False),
    pa.field("part_log10_lr_vs_next", pa.float64(), nullable=True),
])


def same_person(hits: pa.Table) -> dict:
    """``{query id: representative id}`` of the queries that ``duplicates`` mode found
    to be one person (every duplicates hit, transitively; the representative is the
    smallest id): one node of the joint picture."""
    if hits.num_rows == 0:
        return {}
    d = hits.filter(pc.equal(hits.column("mode"), "duplicates"))
    parent: dict = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in zip(d.column("query_id").to_pylist(), d.column("reference_id").to_pylist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def add_joint(hits: pa.Table, threshold: float, exact_max: int, same: dict | None = None) -> tuple:
    """``(hits annotated, joint table, info)``; ``threshold``: T of the undisputed
    rule; ``exact_max``: parts up to this many persons get exact alternatives;
    ``same``: ``{query id: representative}`` of queries that are one person
    (:func:`same_person`): one node, its hits the edges of that node."""
    from kinship.joint import DENSE_MAX, column_parts, parts, single_hits, solve_part

    n = hits.num_rows
    part_col = np.full(n, -1, dtype=np.int64)
    asg = np.zeros(n, dtype=bool)
    und = np.zeros(n, dtype=bool)
    mode = np.asarray(hits.column("mode").to_pylist(), dtype=object) if n else np.zeros(0, object)
    idx = np.nonzero(mode == "case")[0]
    info = {"parts": 0, "contested_parts": 0, "hits": int(len(idx)), "assigned": 0,
            "not_assigned": 0, "undisputed": 0, "bounded_parts": 0, "greedy_parts": 0, "largest_part": 0,
            "threshold": float(threshold), "exact_max": int(exact_max)}
    cols = {f.name: [] for f in JOINT_SCHEMA}
    if len(idx):
        q = np.asarray(hits.column("query_id").to_pylist(), dtype=object)[idx].astype(str)
        c = np.asarray(hits.column("case_id").to_pylist(), dtype=object)[idx].astype(str)
        r = np.asarray(hits.column("reference_id").to_pylist(), dtype=object)[idx].astype(str)
        w = hits.column("log10_lr").to_numpy()[idx]
        unit = np.array([f"{a}/{b}" if b else a for a, b in zip(c, r)], dtype=object)
        same = same or {}
        node = np.array([same.get(x, x) for x in q], dtype=object)
        info["queries_merged"] = int(len(set(q)) - len(set(node)))
        part = parts(node, unit)
        n_e = len(idx)
        p_vs = np.empty(n_e)
        p_asg = np.zeros(n_e, dtype=bool)
        p_und = np.zeros(n_e, dtype=bool)
        p_step = np.zeros(n_e, dtype=np.int32)
        p_exact = np.zeros(n_e, dtype=bool)
        p_nq = np.zeros(n_e, dtype=np.int32)
        p_nm = np.zeros(n_e, dtype=np.int32)
        p_best = np.empty(n_e)
        p_next = np.empty(n_e)
        # the edges of each part (ascending), from one stable sort
        order = np.argsort(part, kind="stable")
        bounds = np.r_[0, np.nonzero(np.diff(part[order]))[0] + 1, n_e]
        # the parts of one hit (one query, one missing person), all at once
        one = order[bounds[:-1][np.diff(bounds) == 1]]
        ok, vs1, und1, next1 = single_hits(w[one], threshold, exact_max)
        e1 = one[ok]
        p_asg[e1] = True
        p_und[e1] = und1[ok]
        p_step[e1] = und1[ok]
        p_vs[e1] = vs1[ok]
        p_exact[e1] = True
        p_nq[e1] = 1
        p_nm[e1] = 1
        p_best[e1] = w[e1]
        p_next[e1] = next1[ok]
        if len(e1):
            info["parts"] += len(e1)
            info["largest_part"] = 2
        done = np.zeros(n_e, dtype=bool)
        done[e1] = True
        # the parts of one missing person hit by distinct queries, all at once
        # (kinship.joint.column_parts: the closed form of solve_part)
        _, u_code = np.unique(unit.astype(str), return_inverse=True)
        _, q_code = np.unique(node.astype(str), return_inverse=True)
        u_code, q_code = u_code.reshape(-1), q_code.reshape(-1)
        sizes = np.diff(bounds)
        rest = np.nonzero(~done[order[bounds[:-1]]] & (sizes > 1))[0]     # parts left, by number
        if len(rest):
            pe = np.repeat(rest, sizes[rest])                  # each of their edges' part
            st = np.r_[0, np.cumsum(sizes[rest])]
            ee = order[np.arange(st[-1]) - np.repeat(st[:-1] - bounds[rest], sizes[rest])]
            one_unit = np.logical_and.reduceat(u_code[ee] == np.repeat(u_code[ee[st[:-1]]],
                                                                       sizes[rest]), st[:-1])
            # distinct queries: no two edges of a part with the same node
            k = np.lexsort((q_code[ee], pe))
            twice = np.zeros(len(rest), dtype=bool)
            dup = (q_code[ee][k][1:] == q_code[ee][k][:-1]) & (pe[k][1:] == pe[k][:-1])
            twice[np.searchsorted(rest, pe[k][1:][dup])] = True
            ok, top, vs_c, und_c, best_c, next_c = column_parts(w[ee], st, ~twice & one_unit,
                                                                threshold, exact_max)
            good = ok[np.searchsorted(rest, pe)]
            ec = ee[good]
            p_asg[ec] = top[good]
            p_und[ec] = und_c[good]
            p_step[ec] = und_c[good]
            p_vs[ec] = vs_c[good]
            p_exact[ec] = True
            p_nq[ec] = sizes[pe[good]]
            p_nm[ec] = 1
            p_best[ec] = best_c[good]
            p_next[ec] = next_c[good]
            done[ec] = True
            if ok.any():
                info["parts"] += int(ok.sum())
                info["contested_parts"] += int(ok.sum())
                info["largest_part"] = max(info["largest_part"], int(sizes[rest[ok]].max()) + 1)
        for p in range(len(bounds) - 1):
            e = order[bounds[p]:bounds[p + 1]]
            if done[e[0]]:
                continue
            qs = sorted(set(node[e]))
            us = sorted(set(unit[e]))
            qi = {x: i for i, x in enumerate(qs)}
            ui = {x: i for i, x in enumerate(us)}
            res = solve_part([qi[x] for x in node[e]], [ui[x] for x in unit[e]], w[e],
                             threshold, exact_max)
            info["parts"] += 1
            info["contested_parts"] += int(len(qs) > 1 or len(us) > 1)
            info["bounded_parts"] += int(not res.exact)
            info["greedy_parts"] += int(len(qs) * len(us) > DENSE_MAX)
            info["largest_part"] = max(info["largest_part"], len(qs) + len(us))
            p_asg[e] = res.assigned
            p_und[e] = res.undisputed
            p_step[e] = res.step
            p_vs[e] = res.vs_alternative
            p_exact[e] = res.exact
            p_nq[e] = len(qs)
            p_nm[e] = len(us)
            p_best[e] = res.best
            p_next[e] = res.vs_next
        part_col[idx] = part
        asg[idx] = p_asg
        und[idx] = p_und
        cols = {"part": part, "query_id": q, "case_id": c, "reference_id": r, "log10_lr": w,
                "assigned": p_asg, "undisputed": p_und, "undisputed_step": p_step,
                "log10_lr_vs_alternative": p_vs, "alternative_exact": p_exact, "person": node,
                "part_queries": p_nq, "part_missing": p_nm, "part_log10_lr": p_best,
                "part_log10_lr_vs_next": pa.array(p_next, pa.float64(), mask=~np.isfinite(p_next))}
        info["assigned"] = int(asg[idx].sum())
        info["not_assigned"] = int(len(idx) - asg[idx].sum())
        info["undisputed"] = int(und[idx].sum())
    table = pa.table(cols, schema=JOINT_SCHEMA)
    if table.num_rows:
        order = np.lexsort((table.column("reference_id").to_numpy(zero_copy_only=False).astype(str),
                            table.column("case_id").to_numpy(zero_copy_only=False).astype(str),
                            table.column("query_id").to_numpy(zero_copy_only=False).astype(str),
                            table.column("part").to_numpy()))
        table = table.take(pa.array(order))
    case = mode == "case"
    vals = {"joint_part": pa.array(part_col, pa.int32(), mask=~case),
            "joint_assigned": pa.array(asg, pa.bool_(), mask=~case),
            "joint_undisputed": pa.array(und, pa.bool_(), mask=~case)}
    for f in JOINT_FIELDS:
        j = hits.schema.get_field_index(f.name)
        if j >= 0:
            hits = hits.set_column(j, hits.schema.field(j), vals[f.name])
    return hits, table, info


def joint_text(table: pa.Table | None, info: dict | None, max_parts: int = 10) -> list:
    """The summary section: counts, then the contested parts (several queries or
    missing persons) with each hit's place in the best assignment."""
    if table is None or info is None or "case" not in info.get("modes", ["case"]):
        return []
    lines = [f"one-to-one (case mode): {info['hits']} hits in {info['parts']} parts, "
             f"{info['contested_parts']} contested (a query hitting several missing persons or a "
             f"missing person hit by several queries); the best assignment keeps "
             f"{info['assigned']} and leaves {info['not_assigned']} out; {info['undisputed']} "
             f"undisputed (dvir's rule, T = {info['threshold']:g}) (joint.parquet)"]
    if info.get("queries_merged"):
        lines.append(f"  {info['queries_merged']} queries are duplicates of another query "
                     f"(duplicates mode) and count as that person (column person)")
    if info["bounded_parts"]:
        lines.append(f"  {info['bounded_parts']} parts have more than {info['exact_max']} queries "
                     f"and missing persons: their LR vs the alternative is a lower bound "
                     f"(alternative_exact = false; report.joint_exact_max)")
    if info.get("greedy_parts"):
        lines.append(f"  {info['greedy_parts']} parts are too large for an exact assignment: their "
                     f"assignment is greedy (its joint log10 LR at least half the best's)")
    if table.num_rows == 0:
        return lines + [""]
    contested = table.filter(pc.or_(pc.greater(table.column("part_queries"), 1),
                                    pc.greater(table.column("part_missing"), 1)))
    shown = 0
    for p in sorted(set(contested.column("part").to_pylist())):
        if shown == max_parts:
            rest = len(set(contested.column("part").to_pylist())) - max_parts
            lines.append(f"  ... {rest} more contested parts (joint.parquet)")
            break
        rows = contested.filter(pc.equal(contested.column("part"), p)).to_pylist()
        nx = rows[0]["part_log10_lr_vs_next"]
        lines.append(f"  part {p}: {rows[0]['part_queries']} queries, {rows[0]['part_missing']} "
                     f"missing persons; best assignment log10 LR {rows[0]['part_log10_lr']:.2f}, "
                     f"{'no other' if nx is None else f'{nx:.2f} above the next best'}")
        for r in sorted(rows, key=lambda r: (not r["assigned"], -r["log10_lr"])):
            unit = r["case_id"] + (f"/{r['reference_id']}" if r["reference_id"] else "")
            what = "assigned" if r["assigned"] else "not assigned"
            if r["undisputed"]:
                what += ", undisputed"
            bound = "" if r["alternative_exact"] else " (bound)"
            lines.append(f"    {r['query_id']} -> {unit}: log10 LR {r['log10_lr']:.2f}, {what}; "
                         f"vs the best alternative {r['log10_lr_vs_alternative']:+.2f}{bound}")
        shown += 1
    return lines + [""]
