"""The run's memory budget (``[execution] memory``): estimate, plan, refuse.

Before any profile is read, :func:`plan` estimates the peak resident memory of
the run from its sizes (queries, reference persons and case units, loci, modes,
threads, block and chunk sizes), chooses the execution settings that fit the
budget, and refuses with one line (what is needed, what was given, the fix)
when even the smallest settings do not.  The estimate is recorded in the
manifest (``run.memory``).  Execution settings never change results
(:meth:`engine.job.Job.key_material`), so a run under a tight budget writes the
same bytes as one without (``tests/engine/test_engine_memory.py``).

The model (bytes; ``L`` loci, ``G`` genotypes summed over the loci, ``T``
threads; the coefficients were measured with ``benchmarks/scale_table.py``,
``docs/engine.md`` section Memory and ``benchmarks/README.md``):

* ``base``: the interpreter, NumPy, Arrow, numba and the compiled kernels, the
  model's tables (:data:`BASE`);
* ``queries``: what is held per query for the whole run: fingerprints, rank,
  dropout, the sample id as a Python string and pointers to sex and kit
  (:data:`QUERY_FIXED`); and ``query_genotypes``, held through the load and the
  search and released before the results are written
  (:meth:`engine.inputs.QuerySet.release_genotypes`): int16 model codes ``4 L``,
  int32 genotype indices ``4 L``, the kernels' int16 table columns ``2 L`` (one
  layout: every autosomal mode's tables have the same locus offsets);
  :func:`query_bytes` is their sum;
* ``query load``: one shard being read (queries are read shard by shard,
  :func:`engine.inputs.load_queries`): its Arrow table and arrays before only the
  compact columns above are kept (:data:`LOAD_ROW_BYTES` + ``16 L`` per row);
* ``references``: per reference person its ids, case, relation, fingerprints
  and place (:data:`REF_BYTES`), plus one reference shard's genotypes while the
  blocks are streamed;
* ``cases``: per case unit (case mode) the pedigree and the consistency check
  of its relatives (:data:`CASE_BYTES`), and the checker's tables
  (:data:`CASE_FIXED`);
* ``model_rows``: the model's flat pair tables that reference persons' blocks
  are gathered from (:class:`kinship.search.PairRows`: LR, log10 and flag, 17
  bytes per pair-table entry, ``sum_l G_l^2`` entries per table, and
  :data:`ROWS_BYTES_PER_ROW` per table row; the model's per-locus pair tables are
  views of them, not a second copy): per pairwise mode one table for each sex
  the references' tables need (``table_sexes``: 2 under a sex-dependent mutation
  model with references of both sexes, else 1; identity and duplicates 1), for
  each reference dropout value and each query dropout value (the dropout model:
  ``ref_dropouts``, ``query_dropouts``; duplicates: the queries' values twice);
* ``kept_tables``: a warm worker's reference tables kept between jobs
  (``kinship worker start --keep-tables SIZE``): up to SIZE, held through the run;
* ``tables``: compiled reference tables, for the blocks in flight (up to
  ``in_flight`` tasks) and the per-process block cache (:data:`CACHE_BLOCKS`):
  a case unit's are its own (``20 G`` bytes: LR, log10, flags, the 16- and
  8-bit packed screens), a reference person's (and a query's in duplicates
  mode) are rows of the model's tables and the packed screens (``3 G + 19 L``:
  :data:`GATHERED_BYTES_PER_GENOTYPE`, :data:`GATHERED_BYTES_PER_LOCUS`), but
  with dropout, where a block whose persons' dropouts differ is materialised,
  ``20 G`` as a case unit's;
* ``chunks``: per task in flight, its query chunk's columns and ranks;
* ``hits``: hit rows before the merge (:data:`HIT_ROW_BYTES` each), at most
  ``top_k`` per query and ``case_top_k`` per unit, estimated at
  :data:`HIT_RATE` per pair at threshold 10^4 (scaled by 10^4 / threshold);
* ``results``: writing the run state (one row per query and unit:
  :data:`STATE_ROW_BYTES`);
* ``relationship_tables``: the report's alternative relationships
  (``[report] relationships``, :mod:`engine.alternatives`) read the hits' values
  from each relationship's pair table, one at a time and not kept
  (:data:`PAIR_TABLE_BYTES_PER_ENTRY` per entry), after the search.

The load, search and write phases do not overlap, so the peak is the held part
plus the largest of the three phases' parts.
"""
from __future__ import annotations

import math
import os
import re

from .errors import InputError

__all__ = ["parse_size", "machine_memory", "default_budget", "estimate", "plan", "format_size",
           "BASE", "QUERY_BYTES", "MIN_QUERY_CHUNK", "MIN_BLOCK_SIZE", "MemoryPlan"]

MiB = 1 << 20
GiB = 1 << 30

#: interpreter, libraries, compiled kernels and model tables (peak RSS of a
#: 10^4-query run: 588 MiB)
BASE = 640 * MiB
#: per query beyond the ``10 L`` bytes of codes, indices and one table layout:
#: fingerprint 16, rank 8, dropout 8, loci typed 4, sex and kit pointers 16, the
#: sample id (pointer 8 + a Python str of ~10 characters, 59), array slack
QUERY_FIXED = 128
#: per query at 23 loci, one autosomal mode (see :func:`query_bytes`)
QUERY_BYTES = 10 * 23 + QUERY_FIXED
#: per row of the shard being read, beyond ``16 L``: the sample id's string and
#: pointer, the other metadata pointers, the fingerprint's word buffer
LOAD_ROW_BYTES = 260
#: per reference person (RefPersons) and per row of the reference shard streamed
REF_BYTES = 400
REF_ROW_BYTES = 260
#: per case unit: its pedigree and the consistency check of its relatives; and
#: the consistency checker's own tables once case mode is on (measured peaks, 10^4
#: queries: 1,180 MiB with 667 cases, 1,290 MiB with 66,667 cases, against 370-450
#: MiB for parent-child on the same data: about 800 MiB plus 2 KiB a case)
CASE_BYTES = 4 * 1024
CASE_FIXED = 900 * MiB
#: per hit row before the merge (ids, LR, per-locus JSON)
HIT_ROW_BYTES = 600
#: hits per pair at threshold 10^4 assumed by the estimate: unrelated pairs at 23
#: loci gave 3-7e-7 (parent-child, case) in the scaling runs; with fewer loci
#: there are more and the estimate is low
HIT_RATE = 1e-6
#: per query and unit in the run state written at the end (units.parquet, built
#: from arrays: engine.inputs.units_table; measured +70 bytes per query at 10^7)
STATE_ROW_BYTES = 100
#: compiled table bytes per case unit and genotype: LR 8, log10 8, flag 1, the 16- and
#: 8-bit packed screens 3 (engine.compile.TableGroup, materialised)
TABLE_BYTES_PER_GENOTYPE = 20
#: a reference person's (gathered group): the packed screens, per genotype ...
GATHERED_BYTES_PER_GENOTYPE = 3
#: ... and per locus: its row id and table offset (int64 each), two typed flags, the 8-bit
#: screen's row of an untyped locus
GATHERED_BYTES_PER_LOCUS = 19
#: the model's flat pair tables per pair-table entry (kinship.search.PairRows): LR,
#: log10, flag
ROWS_BYTES_PER_ENTRY = 17
#: ... and per table row (one per genotype of each locus): its start and length
#: (int64 each) and its extremes for the screen, for up to two packings (lowest and
#: highest float64, has +inf uint8: 17 bytes each)
ROWS_BYTES_PER_ROW = 16 + 2 * 17
#: one relationship's per-locus pair tables (kinship.search.ScoringModel.pair_tables):
#: LR float64 and flag, per entry
PAIR_TABLE_BYTES_PER_ENTRY = 9

MIN_QUERY_CHUNK = 4096
MIN_BLOCK_SIZE = 32

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 1000 ** 2, "mb": 1000 ** 2,
          "mib": MiB, "g": 1000 ** 3, "gb": 1000 ** 3, "gib": GiB, "t": 1000 ** 4, "tb": 1000 ** 4,
          "tib": 1 << 40}


#: blocks of compiled tables each process keeps (:func:`engine.compile.cached_block`)
CACHE_BLOCKS = 8


def parse_size(value) -> int:
    """Bytes of ``"8GiB"``, ``"512 MiB"``, ``"8GB"``, ``"8G"`` (decimal: G = 10^9) or a
    number of bytes; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"not a positive size: {value!r}")
        return int(value)
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {value!r}")
    n = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if n <= 0:
        raise ValueError(f"not a positive size: {value!r}")
    return int(n)


def format_size(n: float) -> str:
    return f"{n / GiB:.2f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


def machine_memory() -> int:
    """Physical memory of this machine, or the cgroup's limit when lower (bytes)."""
    total = 0
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        pass
    for p in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(p) as f:
                t = f.read().strip()
        except OSError:
            continue
        if t.isdigit() and 0 < int(t) < (total or 1 << 62):
            total = int(t)
    return total or 8 * GiB


def default_budget() -> int:
    """``memory = "auto"``: three quarters of the machine's memory (the rest for the
    operating system, the page cache of the shards and other processes)."""
    return int(machine_memory() * 0.75)


def query_bytes(n_loci: int, layouts: int = 1, dropout: bool = False) -> int:
    """Bytes held per query for the run (:data:`QUERY_BYTES` at 23 loci, one layout)."""
    return 8 * n_loci + 2 * n_loci * max(1, layouts) + QUERY_FIXED + (16 if dropout else 0)


def pair_table_bytes(n_pair_entries: int, n_genotypes: int) -> int:
    """Bytes of one table of the model's flat pair tables (:class:`kinship.search.PairRows`)."""
    return ROWS_BYTES_PER_ENTRY * n_pair_entries + ROWS_BYTES_PER_ROW * n_genotypes


def pair_tables(pairwise_modes, table_sexes: int = 2, ref_dropouts: int = 1,
                query_dropouts: int = 1) -> int:
    """How many flat pair tables the reference persons' blocks of these pairwise modes
    point into: per mode, one per sex (identity and duplicates: one), reference
    dropout value and query dropout value (duplicates: the queries are the references)."""
    n = 0
    for m in pairwise_modes:
        sexes = 1 if m in ("identity", "duplicates") else max(1, int(table_sexes))
        refs = query_dropouts if m == "duplicates" else ref_dropouts
        n += sexes * max(1, int(refs)) * max(1, int(query_dropouts))
    return n


def estimate(*, n_queries: int, n_refs: int, n_cases: int, n_loci: int, n_genotypes: int,
             modes, threads: int, block_size: int, query_chunk: int, in_flight: int,
             query_shard_rows: int, ref_shard_rows: int, top_k: int, case_top_k: int,
             threshold: float, dropout: bool = False, n_pair_entries: int = 0,
             table_sexes: int = 2, ref_dropouts: int = 1, query_dropouts: int = 1,
             kept_tables: int = 0, relationships: bool = False) -> dict:
    """The estimated peak (bytes) and its parts; see the module docstring."""
    L = n_loci
    auto = [m for m in modes if m != "y-lineage"]
    pairwise = [m for m in auto if m not in ("case",)]
    n_units = {m: (n_cases if m == "case" else n_queries if m == "duplicates" else n_refs)
               for m in auto}
    # table layouts whose query columns are kept: every autosomal mode's tables have
    # the same locus offsets (one column per query genotype), so one
    layouts = 1
    # the queries' genotypes (codes, indices, table columns) are released once the
    # hits are scored (QuerySet.release_genotypes): held through load and search,
    # not while the results are written
    genotypes = n_queries * (8 * L + 2 * L * layouts)
    held = {
        "base": BASE,
        "queries": n_queries * query_bytes(L, layouts, dropout) - genotypes,
        "references": (n_refs * REF_BYTES) if (pairwise or "case" in auto) else 0,
        "cases": CASE_FIXED + n_cases * CASE_BYTES if "case" in auto else 0,
        "model_rows": pair_table_bytes(n_pair_entries, n_genotypes) * pair_tables(
            pairwise, table_sexes, ref_dropouts, query_dropouts),
        "kept_tables": int(kept_tables),
    }
    # a block of persons whose dropouts differ is materialised (engine.compile): with
    # dropout, counted as a case unit's
    unit_tables = {m: (TABLE_BYTES_PER_GENOTYPE * n_genotypes if m == "case" or dropout else
                       GATHERED_BYTES_PER_GENOTYPE * n_genotypes + GATHERED_BYTES_PER_LOCUS * L)
                   for m in auto}
    unit_table = max(unit_tables.values() or [0])
    biggest_block = max([min(block_size, n_units[m]) for m in auto] or [0])
    # blocks held at once: those of the tasks in flight and the block cache, at most
    # as many as the run has
    n_blocks = sum(-(-n_units[m] // max(block_size, 1)) for m in auto)
    blocks = min(in_flight + CACHE_BLOCKS, n_blocks)
    pairs = sum(n_queries * n_units[m] / (2 if m == "duplicates" else 1) for m in auto)
    rate = HIT_RATE * min(1.0, 1e4 / max(float(threshold), 1.0))
    hit_rows = min(pairs * rate, sum(n_queries * top_k + n_units[m] * case_top_k for m in auto))
    search = {
        "query_genotypes": genotypes,
        "tables": blocks * biggest_block * unit_table,
        "chunks": in_flight * min(query_chunk, max(n_queries, 1)) * (2 * L + 32),
        "reference_stream": ref_shard_rows * (4 * L + REF_ROW_BYTES) if auto else 0,
        "hits": int(hit_rows * HIT_ROW_BYTES),
    }
    load = {"query_genotypes": genotypes,
            "query_load": min(query_shard_rows, n_queries) * (16 * L + LOAD_ROW_BYTES)}
    write = {"results": (n_queries + n_refs + n_cases) * STATE_ROW_BYTES + int(hit_rows * HIT_ROW_BYTES),
             "relationship_tables": PAIR_TABLE_BYTES_PER_ENTRY * n_pair_entries
             if relationships and auto else 0}
    phases = {"load": sum(load.values()), "search": sum(search.values()),
              "write": sum(write.values())}
    total = sum(held.values()) + max(phases.values())
    return {"total": int(total), "held": {k: int(v) for k, v in held.items()},
            "load": {k: int(v) for k, v in load.items()},
            "search": {k: int(v) for k, v in search.items()}, "write": write,
            "peak_phase": max(phases, key=phases.get), "expected_hit_rows": int(hit_rows),
            "pairs": int(pairs)}


class MemoryPlan(dict):
    """What :func:`plan` chose: ``budget``, ``estimate`` (bytes and parts), the
    execution settings it chose and the job's (for the manifest)."""


def plan(budget_setting, sizes: dict, execution: dict) -> MemoryPlan:
    """Settings that fit the budget, or :class:`InputError` (one line) when a stated
    budget cannot be met; under ``"auto"`` the run keeps the smallest settings
    instead, with ``over_budget`` set and a ``note`` for the summary.

    ``budget_setting``: ``[execution] memory`` (``"auto"`` or a size);
    ``sizes``: the arguments of :func:`estimate` other than the execution
    settings; ``execution``: the job's ``threads``, ``block_size``,
    ``query_chunk``.  Tries the job's settings, then halves the query chunk and
    the block size (down to :data:`MIN_QUERY_CHUNK` and :data:`MIN_BLOCK_SIZE`) and
    keeps one task in flight per thread."""
    auto = budget_setting in (None, "auto")
    budget = default_budget() if auto else parse_size(budget_setting)
    threads = int(execution["threads"])
    chunk = int(execution["query_chunk"])
    block = int(execution["block_size"])
    in_flight = 2 * threads
    given = {"query_chunk": chunk, "block_size": block, "in_flight": in_flight}
    tried = []
    while True:
        est = estimate(threads=threads, block_size=block, query_chunk=chunk, in_flight=in_flight,
                       **sizes)
        tried.append(est["total"])
        if est["total"] <= budget:
            break
        if in_flight > threads:
            in_flight = threads
        elif chunk > MIN_QUERY_CHUNK:
            chunk = max(MIN_QUERY_CHUNK, chunk // 2)
        elif block > MIN_BLOCK_SIZE:
            block = max(MIN_BLOCK_SIZE, block // 2)
        elif auto:
            # no budget was stated: the run goes ahead with the smallest settings and
            # says so (the machine may have more than the estimate's fixed part
            # assumes; a stated budget is refused instead, below)
            break
        else:
            need = est["total"]
            parts = dict(est["held"], **est[est["peak_phase"]])
            parts.pop("base")
            big = max(parts, key=parts.get)
            raise InputError(
                f"[execution] memory: this run needs about {format_size(need)} (estimated: "
                f"{sizes['n_queries']} queries, {sizes['n_refs']} reference persons, "
                f"{sizes['n_cases']} case units, {sizes['n_loci']} loci; the largest part, "
                f"{big}, {format_size(parts[big])}) even with the smallest blocks and query "
                f"chunks, and {format_size(budget)} is given"
                f"{' (auto: three quarters of this machine)' if auto else ''}. Fix: set "
                f"[execution] memory to at least {format_size(need)} on a machine that has it, "
                f"or split the queries into several datasets and search them in separate runs"
            )
    chosen = {"query_chunk": chunk, "block_size": block, "in_flight": in_flight}
    over = est["total"] > budget
    note = ""
    if over:
        note = (f"[execution] memory: this run is estimated at {format_size(est['total'])}, more "
                f"than {format_size(budget)} (auto: three quarters of this machine's memory); it "
                f"ran with the smallest blocks and query chunks. Set [execution] memory to a size "
                f"to have such a run refused up front instead")
    return MemoryPlan(budget=budget, setting="auto" if auto else str(budget_setting),
                      estimate=est, chosen=chosen, given=given, changed=chosen != given,
                      over_budget=over, note=note,
                      sizes=dict(sizes, modes=list(sizes.get("modes", ())), threads=threads))


def plan_run(job, query_count, refs, cases, model, dropout: bool = False,
             query_dropouts: int = 1, table_sexes: int = 2, kept_tables: int = 0) -> MemoryPlan:
    """:func:`plan` for a run, before its queries are read: the sizes from the
    query dataset's ``kind`` column (``query_count``: ``(queries, rows of the
    largest shard)``, :func:`engine.inputs.count_kind`), the references scanned
    and the cases built; ``query_dropouts``: with the dropout model, the most
    distinct dropout values the queries can have
    (:meth:`engine.dropout.Dropout.values_bound`); ``table_sexes``: the sexes
    whose pair tables the references need (1 or 2: :func:`engine.compile.table_sexes`
    under a sex-dependent mutation model, else 1); ``kept_tables``: the bytes of
    tables this process keeps between jobs (:func:`engine.compile.keep_budget`).
    Applies the chosen ``block_size`` and
    ``query_chunk`` to the job's execution settings (they never change results)
    and returns the plan (``chosen["in_flight"]``: tasks in flight, for the
    executor)."""
    import numpy as np

    v = job.values
    ex, search = v["execution"], v["search"]
    modes = [m for m in job.modes]
    nq, q_rows = query_count
    n_refs = len(refs) if refs is not None else 0
    ref_rows = 0
    ref_drops = 1
    if n_refs:
        ref_rows = int(np.bincount(np.asarray(refs.shard, dtype=np.int64)).max())
        if dropout and getattr(refs, "dropout", None) is not None:
            ref_drops = len(np.unique(np.asarray(refs.dropout, dtype=np.float64)))
    systems = getattr(model, "systems", ())
    gens = [int(s.n_alleles) * (int(s.n_alleles) + 1) // 2 for s in systems]
    sizes = dict(n_queries=nq, n_refs=n_refs, n_cases=len(cases) if cases is not None else 0,
                 n_loci=len(model.loci), n_genotypes=sum(gens), n_pair_entries=sum(g * g for g in gens),
                 modes=modes, query_shard_rows=q_rows,
                 ref_shard_rows=ref_rows, top_k=search["top_k"], case_top_k=search["case_top_k"],
                 threshold=search["threshold"], dropout=dropout, table_sexes=int(table_sexes),
                 ref_dropouts=ref_drops,
                 query_dropouts=min(max(1, int(query_dropouts)), max(1, nq)) if dropout else 1,
                 kept_tables=int(kept_tables),
                 relationships=v["report"]["relationships"] != "none")
    threads = int(ex["threads"] or os.cpu_count() or 1)
    p = plan(ex["memory"], sizes, {"threads": threads, "block_size": ex["block_size"],
                                   "query_chunk": ex["query_chunk"]})
    ex["block_size"] = p["chosen"]["block_size"]
    ex["query_chunk"] = p["chosen"]["query_chunk"]
    return p


def describe(p: MemoryPlan) -> dict:
    """The plan as the manifest records it (``run.memory``): sizes in bytes."""
    e = p["estimate"]
    return {"setting": p["setting"], "budget_bytes": int(p["budget"]),
            "estimate_bytes": int(e["total"]), "peak_phase": e["peak_phase"],
            "estimate_parts": {k: v for part in ("held", "load", "search", "write")
                               for k, v in e[part].items()},
            "expected_hit_rows": e["expected_hit_rows"],
            "chosen": dict(p["chosen"]), "given": dict(p["given"]), "changed": bool(p["changed"]),
            "over_budget": bool(p.get("over_budget", False)),
            "sizes": dict(p["sizes"])}
