"""Search mode ``y-lineage``: paternal relatives by Y-STR haplotypes, in the engine.

The science is :mod:`kinship.ystr` (``docs/ystr.md``); this module runs it
through the engine's planner, tasks, checkpoints, Dask and merge, so that Y hits
land in the same ``hits.parquet`` as the autosomal modes.

Inputs (``[inputs]``): ``y_queries`` and ``y_references`` are Y haplotype
datasets (:func:`formats.open_y_dataset`, ``kinship import-y``); their
``kind=query`` and ``kind=reference`` haplotypes are compared.  ``y_population``
(optional) is the population sample of the match probability; by default the Y
reference haplotypes (as :func:`kinship.ystr.lineage_search` does).  Everything
is laid out on the reference dataset's panel (restricted to ``[y_lineage] loci``
when given): query markers it lacks are not compared.  Y data are small (27
int16 values per man) and are held in memory.

A task (a block of reference men x a chunk of query men) does what
:func:`kinship.ystr.lineage_search` does for them:

1. screen (:func:`kinship.ystr.screen.screen`): every pair within
   ``max_mismatches`` mismatched loci and ``max_steps`` summed repeat steps on
   the loci both men typed (at least ``min_loci_compared``); ``"auto"``
   thresholds are the smallest keeping ``recall_target`` of relatives at every
   ``m`` in ``meioses`` (:func:`kinship.ystr.auto_thresholds`);
2. numerators ``P(h_Q | h_C, m)`` per ``m`` (:func:`kinship.ystr.lineage.pair_numerators`)
   and the match probability of the query on the compared loci, by the estimator,
   counted in the population (exact counts, the same for every task);
3. ``LR(m) = numerator / MP``; the ranking LR is ``sum_m prior(m) LR(m)``
   (``log10_lr``); pairs with that LR at least ``[y_lineage] threshold`` (default
   0: every screened candidate) are kept, top-k per query and per reference man.

Rows have the columns of every mode (``log10_lr`` the prior-weighted LR,
``loci_compared`` the loci both typed, ``loci_inconsistent`` the loci whose
numerator is 0 for every ``m``; ``per_locus_lr`` is empty: a haplotype LR is not
a product over loci) plus ``y_mismatches``, ``y_steps``, ``y_estimator`` (the
formula used: ``kappa`` falls back to ``augmented_count`` for seen haplotypes),
``y_match_probability``, ``y_match_count`` (x), ``y_population_size`` (N),
``y_lr_per_m`` (JSON ``{"m": LR(m)}``) and ``y_differences`` (JSON ``{locus:
query minus reference, in repeats}`` over the loci that differ; ``"null"`` for a
null allele against a call).

Combination with autosomal evidence (:func:`combine`)
----------------------------------------------------
Y and autosomal transmissions are independent given a pedigree, so for one
hypothesis the LRs multiply.  For a Y hit of query Q and reference man R, an
autosomal hit in the same results is combined when its hypothesis puts R on Q's
paternal line ``m`` meioses away (Q a man, R a man):

* ``case`` mode, the hit of Q with R's case (``case_id`` of R in the Y dataset),
  when R's relation to the missing person is ``father`` or ``child`` (m = 1),
  ``full-sibling``, ``half-sibling`` (the paternal one), ``grandfather`` (the
  paternal one) (m = 2), ``uncle`` (the paternal one) (m = 3): Q is the missing
  person of that case;
* a pairwise mode, the hit of Q with R (same ``reference_id``): ``parent-child``
  (R is Q's father, m = 1), ``full-sibling`` (m = 2), and with ``search.line =
  "paternal"`` ``half-sibling`` (m = 2), ``grandparent`` (m = 2), ``avuncular``
  (m = 3), ``first-cousin`` (m = 4).

``combined_with`` lists every such combination (JSON: ``with``, ``m``,
``autosomal_log10_lr``, ``y_log10_lr`` = log10 LR(m), ``log10_lr`` the sum);
``combined_log10_lr`` is the one for R's declared relation: the case-mode hit if
there is one, else the pairwise mode of that relation (``father`` ->
parent-child, ``full-sibling``, ``half-sibling``, ``grandfather`` ->
grandparent, ``uncle`` -> avuncular).  Only hits present in the results are
combined; an ``m`` outside ``y_lineage.meioses`` is not.  Combine one Y
reference per case: two Y relatives of one case share their paternal line, so
their Y LRs are not independent of each other.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from kinship.cases import RELATIONS, normalize_relation

from .errors import InputError
from .inputs import open_input
from .job import Y_MODE
from .taskbase import TASK_SCHEMA, TaskResult, count_keys, topk_mask

__all__ = ["YContext", "YInputs", "load_y_inputs", "y_blocks",
           "run_y_task", "combine", "relation_clashes", "RELATION_MEIOSES", "MODE_MEIOSES"]

MODE = Y_MODE

#: relation of a Y reference to the case's missing person -> paternal meioses
#: (the vocabulary's :attr:`kinship.cases.Relation.y_meioses`)
RELATION_MEIOSES = {w: r.y_meioses for w, r in RELATIONS.items()
                    if r.y_meioses is not None and w != "self"}
#: the pairwise mode of a relation that shares M's Y line (``child`` has none:
#: parent-child is R the parent)
RELATION_MODE = {w: r.pair_mode for w, r in RELATIONS.items()
                 if w in RELATION_MEIOSES and r.pair_mode is not None}
#: pairwise mode -> paternal meioses between Q and R (lines other than paternal: None)
MODE_MEIOSES = {"parent-child": 1, "full-sibling": 2, "half-sibling": 2, "grandparent": 2,
                "avuncular": 3, "first-cousin": 4}
_LINE_FREE = ("parent-child", "full-sibling")


def mode_meioses(mode: str, line: str):
    if mode not in MODE_MEIOSES:
        return None
    if mode not in _LINE_FREE and line != "paternal":
        return None
    return MODE_MEIOSES[mode]


# -- inputs ----------------------------------------------------------------------------
@dataclass
class YContext:
    """What a y-lineage task needs (shipped once to Dask workers with the run context)."""

    panel: object
    queries: object               # YHaplotypes of the query men, on ``panel``
    q_rank: np.ndarray            # rank of each query id in sorted order
    population: object            # YHaplotypes, on ``panel``
    estimator: object
    mu: np.ndarray
    meioses: tuple
    prior: np.ndarray
    max_mismatches: int
    max_steps: int
    min_loci_compared: int
    threshold: float
    key: str


@dataclass
class YInputs:
    ctx: YContext
    q_ids: np.ndarray
    q_fp: np.ndarray
    r_ids: np.ndarray
    r_fp: np.ndarray
    r_case: np.ndarray
    r_relation: np.ndarray
    references: object            # YHaplotypes of the reference men, on the panel
    info: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    datasets: dict = field(default_factory=dict)
    auto_relation: dict = field(default_factory=dict)   # autosomal reference id -> (case, relation)

    def relation_of(self) -> dict:
        return {str(i): (str(c), str(r)) for i, c, r in zip(self.r_ids, self.r_case, self.r_relation)}


def _load(ds, which, kind):
    import formats

    try:
        return ds.load(kind=kind)
    except (formats.FormatError, ValueError) as e:
        raise InputError(f"inputs.{which}: {e}") from None


def _marker(name, where):
    from kinship.ystr import canonical_y_marker
    from kinship.ystr.loci import YLocusError

    try:
        return canonical_y_marker(name)
    except (YLocusError, KeyError, ValueError) as e:
        import re

        hint = re.search(r"Did you mean [^?]*\?", str(e))
        raise InputError(f"{where} names {name!r}, which is not a Y-STR marker"
                         f"{' (' + hint.group(0)[0].lower() + hint.group(0)[1:] + ')' if hint else ''}. "
                         f"Fix: correct the marker name (kinship.ystr.known_y_markers() lists "
                         f"them)") from None


def _fingerprints(h, extra_cols=()) -> np.ndarray:
    """16-byte fingerprint per man: his compared values, flags, duplicated values and
    ``extra_cols`` (case, relation)."""
    n = len(h)
    rows = np.ascontiguousarray(np.concatenate(
        [np.ascontiguousarray(h.comparison_values()).view(np.uint8).reshape(n, -1),
         np.ascontiguousarray(h.flags).reshape(n, -1)], axis=1)) if n else np.zeros((0, 0), np.uint8)
    tail = [b""] * n
    for (r, m), v in sorted(h.extra.items()):
        tail[r] += f"\x1e{m}:{tuple(v)}".encode()
    for c in extra_cols:
        for i in range(n):
            tail[i] += b"\x1f" + str(c[i]).encode()
    out = np.empty(n, dtype="S16")
    blake = hashlib.blake2b
    for i in range(n):
        out[i] = blake(rows[i].tobytes() + tail[i], digest_size=16).digest()
    return out


def _population_digest(h) -> str:
    """Fingerprint of a whole population sample (its order included)."""
    d = hashlib.blake2b(digest_size=16)
    d.update(repr(h.panel.slots).encode())
    d.update(np.ascontiguousarray(h.allele).tobytes())
    d.update(np.ascontiguousarray(h.flags).tobytes())
    d.update("\x1f".join(str(x) for x in h.profile_id).encode())
    d.update(repr(sorted(h.extra.items())).encode())
    return d.hexdigest()


def _ranks(ids) -> np.ndarray:
    a = np.asarray(ids, dtype=object).astype(str)
    order = np.argsort(a, kind="stable")
    r = np.empty(len(a), dtype=np.int64)
    r[order] = np.arange(len(a))
    return r


def load_y_inputs(job) -> YInputs:
    """Open and check the Y inputs of a job; every problem is an :class:`InputError`
    naming the input and the fix, raised before any work starts."""
    from kinship.ystr import YMutationRates, YPanel, auto_thresholds, recall_table
    from kinship.ystr.estimators import DiscreteLaplace, HaplotypeCounts, get_estimator
    from kinship.ystr.haplotypes import YHaplotypeError
    from kinship.ystr.lineage import normalise_prior
    from kinship.ystr.rates import RateError

    from .job import stable_hash

    yv = job["y_lineage"]
    qds = open_input(job, "y_queries", y=True)
    rds = open_input(job, "y_references", y=True)
    qh, qmeta = _load(qds, "y_queries", "query")
    if len(qh) == 0:
        raise InputError(
            f"inputs.y_queries: Y dataset {qds.path} has no query haplotypes (kind=query). Fix: "
            f"import the men to search with kind 'query', or point inputs.y_queries at the "
            f"dataset that holds them")
    rh, rmeta = _load(rds, "y_references", "reference")
    if len(rh) == 0:
        raise InputError(
            f"inputs.y_references: Y dataset {rds.path} has no reference haplotypes "
            f"(kind=reference). Fix: import the database men with kind 'reference' (and case_id, "
            f"relation), or point inputs.y_references at the dataset that holds them")
    panel = rh.panel
    notes = []
    if yv["loci"]:
        wanted = []
        for raw in yv["loci"]:
            m = _marker(raw, "y_lineage.loci")
            if m not in panel.marker_names:
                raise InputError(
                    f"y_lineage.loci names {raw!r}, but the Y reference dataset is not typed at "
                    f"{m} (its markers: {', '.join(panel.marker_names)}). Fix: correct the marker "
                    f"or remove it")
            if m not in wanted:
                wanted.append(m)
        from kinship.ystr.loci import DYS389I, DYS389II

        if DYS389II in wanted and DYS389I not in wanted:
            raise InputError("y_lineage.loci has DYS389II but not DYS389I: DYS389II is compared "
                             "as DYS389I and the II-I segment. Fix: add DYS389I")
        panel = YPanel("y_lineage.loci", tuple(panel.marker(m) for m in panel.marker_names
                                               if m in wanted), "job")
        rh = rh.to_panel(panel, drop_typed=True)
    shared = [m for m in qh.panel.marker_names if m in panel.marker_names]
    if not shared:
        raise InputError(
            f"the Y queries ({qh.panel.name}: {', '.join(qh.panel.marker_names)}) and the Y "
            f"references ({', '.join(panel.marker_names)}) share no marker; nothing can be "
            f"compared. Fix: use datasets typed with overlapping kits")
    dropped = [m for m in qh.panel.marker_names if m not in panel.marker_names]
    try:
        qh = qh.to_panel(panel, drop_typed=True)
    except YHaplotypeError as e:
        raise InputError(f"inputs.y_queries: {e}") from None
    if dropped:
        notes.append(f"y-lineage: query markers not compared (not in the reference panel or "
                     f"y_lineage.loci): {', '.join(dropped)}")
    pop_src = "y_references"
    if job["inputs"]["y_population"] is not None:
        pds = open_input(job, "y_population", y=True)
        ph, _ = _load(pds, "y_population", None)
        if len(ph) == 0:
            raise InputError(f"inputs.y_population: Y dataset {pds.path} holds no haplotypes. Fix: "
                             f"give a population sample, or leave y_population out to count in "
                             f"the Y references")
        try:
            ph = ph.to_panel(panel, drop_typed=True)
        except YHaplotypeError as e:
            raise InputError(f"inputs.y_population: {e}") from None
        pop_src = "y_population"
    else:
        pds = None
        ph = rh
    rates = YMutationRates.load()
    if yv["rates"]:
        over = {}
        for k, r in yv["rates"].items():
            if k.upper().replace(" ", "") in ("DYS389II-I", "DYS389B"):
                over["DYS389II-I"] = r
            else:
                over[_marker(k, "y_lineage.rates")] = r
        rates = rates.override(over, source="job y_lineage.rates")
    try:
        mu = np.asarray(rates.slot_rates(panel), dtype=float)
    except RateError as e:
        raise InputError(f"y-lineage: {e}. Fix: give the rate in the job, [y_lineage] rates = "
                         f"{{MARKER = 0.002}}, or leave the marker out with y_lineage.loci") from None
    ms = tuple(int(m) for m in yv["meioses"])
    w = normalise_prior(yv["prior"], ms)
    auto = None
    if yv["max_mismatches"] == "auto" or yv["max_steps"] == "auto":
        auto = auto_thresholds(mu, ms, yv["recall_target"])
    K = auto[0] if yv["max_mismatches"] == "auto" else int(yv["max_mismatches"])
    T = auto[1] if yv["max_steps"] == "auto" else int(yv["max_steps"])
    est = get_estimator(yv["estimator"])
    if isinstance(est, DiscreteLaplace):
        est.fitted(HaplotypeCounts(ph))  # fitted once here (seeded), shipped to the tasks
    key = stable_hash({
        "panel": list(panel.slots), "mu": [repr(float(x)) for x in mu], "meioses": list(ms),
        "prior": [repr(float(x)) for x in w], "K": K, "T": T, "threshold": yv["threshold"],
        "min_loci": yv["min_loci_compared"], "estimator": est.name, "rates": rates.source,
        "population": _population_digest(ph),
    })
    ctx = YContext(panel, qh, _ranks(qh.profile_id), ph, est, mu, ms, w, int(K), int(T),
                   int(yv["min_loci_compared"]), float(yv["threshold"]), key)
    q_ids = np.asarray(qh.profile_id, dtype=object)
    r_ids = np.asarray(rh.profile_id, dtype=object)
    rec = recall_table(mu, ms, K, T)
    info = {
        "panel": panel.name, "loci": list(panel.compare_slots), "n_queries": len(qh),
        "n_references": len(rh), "max_mismatches": int(K), "max_steps": int(T),
        "thresholds": "auto" if auto else "given",
        "recall_target": yv["recall_target"] if auto else None,
        "recall": {str(m): rec[m] for m in ms},
        "meioses": list(ms), "prior": [float(x) for x in w], "estimator": est.name,
        "population": pop_src, "population_size": len(ph), "rates_source": rates.source,
        "threshold": float(yv["threshold"]), "min_loci_compared": int(yv["min_loci_compared"]),
    }
    ds = {"y_queries": qds, "y_references": rds}
    if pds is not None:
        ds["y_population"] = pds
    return YInputs(ctx, q_ids, _fingerprints(qh), r_ids,
                   _fingerprints(rh, [rmeta.case_id, rmeta.relation]),
                   np.asarray(rmeta.case_id, dtype=object),
                   np.array([normalize_relation(r) for r in rmeta.relation], dtype=object),
                   rh, info, notes, ds)


def y_blocks(yin: YInputs, selections, block_size: int):
    """``(selection index, RefBlock)`` of reference men (kind ``"ypersons"``)."""
    from .inputs import RefBlock, _block_key

    for si, sel in enumerate(selections):
        u = np.nonzero(sel)[0]
        for a in range(0, len(u), block_size):
            rows = u[a:a + block_size]
            ids = [str(yin.r_ids[i]) for i in rows]
            yield si, RefBlock("ypersons", ids, _block_key("ypersons", ids, yin.r_fp[rows]),
                               case_ids=[str(yin.r_case[i]) for i in rows],
                               relations=[str(yin.r_relation[i]) for i in rows],
                               haplotypes=yin.references[rows])


# -- the task --------------------------------------------------------------------------
_COUNTS: dict = {}
_COUNTS_LOCK = threading.Lock()


def _counts(y: YContext):
    from kinship.ystr.estimators import HaplotypeCounts

    c = _COUNTS.get(y.key)
    if c is None:
        with _COUNTS_LOCK:
            c = _COUNTS.get(y.key)
            if c is None:
                c = HaplotypeCounts(y.population)
                _COUNTS.clear()  # one run at a time per process
                _COUNTS[y.key] = c
    return c


def _differences(cq: np.ndarray, cr: np.ndarray, slots) -> str:
    from kinship.ystr.haplotypes import MISSING, NULL

    out = {}
    for s, (a, b) in enumerate(zip(cq.tolist(), cr.tolist())):
        if a == MISSING or b == MISSING or a == b:
            continue
        if a == NULL or b == NULL:
            out[slots[s]] = "null"
        else:
            out[slots[s]] = round((a - b) / 10.0, 1)
    return json.dumps(out)


def run_y_task(ctx, task):
    """Screen and score one block of reference men against a chunk of query men."""
    from kinship.ystr.lineage import pair_numerators
    from kinship.ystr.screen import screen


    y = ctx.y
    block = task.block
    db = block.haplotypes
    rows = np.asarray(task.query_rows, dtype=np.int64)
    q = y.queries[rows]
    hits = screen(q, db, max_mismatches=y.max_mismatches, max_steps=y.max_steps,
                  min_loci_compared=y.min_loci_compared, n_threads=1)
    qi = rows[hits.query_index]                     # global query rows
    ri = np.asarray(hits.database_index, dtype=np.int64)  # rows of the block
    qcmp_all = y.queries.comparison_values()
    cq = qcmp_all[qi]
    cr = db.comparison_values()[ri]
    M = len(y.meioses)
    n = len(qi)
    if n:
        num, incons = pair_numerators(cq, cr, y.panel, y.mu, y.meioses)
        mask = y.queries.typed_mask()[qi] & db.typed_mask()[ri]
        pairs = np.stack([qi.astype(np.uint64), mask], axis=1)
        up, inv = np.unique(pairs, axis=0, return_inverse=True)
        inv = inv.ravel()
        mp = y.estimator.estimate(qcmp_all[up[:, 0].astype(np.int64)], up[:, 1], _counts(y))
        mpv, mpx, mpn, mpm = mp.value[inv], mp.count[inv], mp.population_size[inv], mp.method[inv]
        lr = num / mpv[:, None]
        lrp = np.zeros(n)
        for j in range(M):                          # fixed order: the same value in every task
            lrp = lrp + lr[:, j] * y.prior[j]
    else:
        num = lr = np.zeros((0, M))
        incons = np.zeros(0, np.int64)
        lrp = mpv = np.zeros(0)
        mpx = mpn = np.zeros(0, np.int64)
        mpm = np.zeros(0, dtype=object)
    keep = lrp >= y.threshold
    idx0 = np.nonzero(keep)[0]
    with np.errstate(divide="ignore"):
        s = np.log10(lrp[idx0])
    q_rank = y.q_rank[qi[idx0]]
    r_local = _ranks(block.unit_ids)[ri[idx0]]
    qid = np.asarray(y.queries.profile_id, dtype=object)[qi[idx0]]
    rkey = np.asarray(block.unit_ids, dtype=object)[ri[idx0]] if len(idx0) else np.zeros(0, object)
    query_counts = count_keys(qid)
    ref_counts = count_keys(rkey)
    sel = topk_mask(qi[idx0], s, r_local, ctx.top_k) | topk_mask(r_local, s, q_rank, ctx.case_top_k)
    slots = y.panel.compare_slots
    out = {k: [] for k in TASK_SCHEMA.names}
    for k in np.nonzero(sel)[0]:
        i = int(idx0[k])
        u = int(ri[i])
        rel = block.relations[u]
        out["mode"].append(MODE)
        out["query_id"].append(str(qid[k]))
        out["case_id"].append(block.case_ids[u])
        out["reference_id"].append(block.unit_ids[u])
        out["relatives"].append(f"{block.unit_ids[u]} ({rel})" if rel else "")
        out["log10_lr"].append(float(s[k]))
        out["loci_compared"].append(int(hits.loci_compared[i]))
        out["loci_inconsistent"].append(int(incons[i]))
        out["per_locus_lr"].append("")
        out["y_mismatches"].append(int(hits.mismatches[i]))
        out["y_steps"].append(int(hits.steps[i]))
        out["y_estimator"].append(str(mpm[i]))
        out["y_match_probability"].append(float(mpv[i]))
        out["y_match_count"].append(int(mpx[i]))
        out["y_population_size"].append(int(mpn[i]))
        out["y_lr_per_m"].append(json.dumps({str(m): float(lr[i, j]) for j, m in enumerate(y.meioses)}))
        out["y_differences"].append(_differences(cq[i], cr[i], slots))
    table = pa.Table.from_pydict(out, schema=TASK_SCHEMA)
    stats = {"pairs": int(task.n_pairs), "pairs_scored": int(task.n_pairs), "locus_lookups": 0,
             "pairs_not_compared_sex": 0, "hits": int(len(idx0)), "screened": int(n)}
    return TaskResult(task.key, MODE, table, query_counts, ref_counts, stats)


# -- combination with autosomal evidence -------------------------------------------------
def relation_clashes(relation_of: dict, auto_relation_of: dict) -> list:
    """Reference men whose case or relation differ between the Y and the autosomal
    references (the same sample id is taken to be the same man)."""
    return sorted(r for r, cr in relation_of.items()
                  if r in auto_relation_of and auto_relation_of[r] != cr)


def combine(hits: pa.Table, relation_of: dict, line: str, auto_relation_of: dict | None = None
            ) -> pa.Table:
    """Fill ``combined_log10_lr`` and ``combined_with`` of the y-lineage rows
    (see the module doc).  ``relation_of``: Y reference id -> (case id, relation);
    ``auto_relation_of``: the same from the autosomal references; a man whose case
    or relation differ between the two datasets is not combined
    (:func:`relation_clashes`, noted by the run)."""
    if hits.num_rows == 0:
        return hits
    clash = set(relation_clashes(relation_of, auto_relation_of or {}))
    cols = {c: hits.column(c).to_pylist() for c in ("mode", "query_id", "case_id", "reference_id",
                                                    "log10_lr", "y_lr_per_m")}
    case_lr, pair_lr = {}, {}
    for mode, q, c, r, s in zip(cols["mode"], cols["query_id"], cols["case_id"],
                                cols["reference_id"], cols["log10_lr"]):
        if mode == "case":
            case_lr[(q, c)] = s
        elif mode in MODE_MEIOSES:
            pair_lr[(mode, q, r)] = s
    comb, comb_with = [], []
    for i, mode in enumerate(cols["mode"]):
        if mode != MODE:
            comb.append(None)
            comb_with.append(None)
            continue
        q, r = cols["query_id"][i], cols["reference_id"][i]
        if r in clash:
            comb.append(None)
            comb_with.append(None)
            continue
        per_m = json.loads(cols["y_lr_per_m"][i])
        case_id, rel = relation_of.get(r, ("", ""))
        entries = []
        declared = None

        def add(what, m, a, rel_desc):
            ym = per_m.get(str(m))
            if ym is None:
                return None
            yl = math.log10(ym) if ym > 0 else -math.inf
            e = {"with": what, "relationship": rel_desc, "m": m, "autosomal_log10_lr": a,
                 "y_log10_lr": yl, "log10_lr": a + yl}
            entries.append(e)
            return e

        if rel in RELATION_MEIOSES and (q, case_id) in case_lr:
            e = add(f"case {case_id}", RELATION_MEIOSES[rel], case_lr[(q, case_id)],
                    f"query is the missing person; {r} is his {rel}")
            declared = e
        for pm in MODE_MEIOSES:
            m = mode_meioses(pm, line)
            if m is None or (pm, q, r) not in pair_lr:
                continue
            e = add(pm, m, pair_lr[(pm, q, r)], f"{r} {pm} of the query ({line} line)"
                    if pm not in _LINE_FREE else f"{r} {pm} of the query")
            if declared is None and RELATION_MODE.get(rel) == pm:
                declared = e
        comb.append(None if declared is None else declared["log10_lr"])
        comb_with.append(json.dumps([{k: _json_num(v) for k, v in e.items()} for e in entries])
                         if entries else None)
    out = hits
    for name, vals, typ in (("combined_log10_lr", comb, pa.float64()),
                            ("combined_with", comb_with, pa.string())):
        j = out.schema.get_field_index(name)
        out = out.set_column(j, out.schema.field(j), pa.array(vals, typ))
    return out


def _json_num(x):
    """Strict JSON: an LR of 0 (log10 -inf) is written as the string "-inf"."""
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("-inf" if x < 0 else "inf")
    return x
