"""Compile a block of reference units into LR tables (see ``docs/design-notes.md``).

``T[c, l, g] = P(g | case c, H1) / P(g | H2)`` over every genotype ``g`` of
locus ``l``, computed by :meth:`kinship.search.ScoringModel.compile_pairwise` and
:meth:`~kinship.search.ScoringModel.compile_cases`; a pair then costs one lookup per
locus.  Which table a unit gets:

==========================  ===================================================
unit                        table
==========================  ===================================================
pairwise mode ``rel``       the row ``W_rel[g_R]`` of the exact pair table of
                            ``rel``, in place in the model's flat tables
                            (:meth:`ScoringModel.gather_pairwise`; a block whose
                            persons' dropouts differ: copied,
                            :meth:`ScoringModel.compile_pairwise`)
case: father + mother       the couple (trio) closed form, with mutation and θ
case: one parent            the parent-child row (duo)
case: any other single      the row ``W[g_R]`` of the *case pedigree's* pair table:
relative (sibling, half     the likelihood of the case pedigree with the relative
sibling, grandparent,       and M both left open, over every pair of genotypes,
uncle, aunt, child)         computed once per relation and locus
                            (:func:`_single_tables`); equal to the pedigree table
                            of each case (tested), at the cost of a lookup
any other set of relatives  the exact pedigree likelihood of the case pedigree
                            (:func:`kinship.tables.case_table`), one locus at a
                            time, memoised by (case shape, calls at the locus)
==========================  ===================================================

A reference person's table is not materialised: its block keeps, per person and
locus, where the person's row starts in the model's flat pair tables
(:class:`kinship.search.PairRows`, built and taken to log10 once per model), and
the packed screen (:class:`TableGroup`, "gathered"); the kernels read the rows in
place.  Cases' tables are materialised.

A case with a ``child`` reference depends on the missing person's sex (is M the
child's father or mother?) when the female and male mutation models differ; it
is then compiled twice, and a query is scored against the version of its own
sex.  A query of unknown sex is not compared with such a case (counted in the
run's notes).  Without mutation, or with one model for both sexes, the sex of a
parent changes no LR and one table serves every query.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from kinship.search import SINGLE_RELATIONS

from .memory import CACHE_BLOCKS   # blocks kept per process (the memory estimate counts them)
from .inputs import SEX_WORD

__all__ = ["TableGroup", "BlockTables", "table_group", "compile_block", "cached_block", "kept_block",
           "prefetch_tables", "table_sexes", "keep_tables", "keep_budget", "kept_tables",
           "prefetch_in_background",
           "SINGLE_RELATIONS"]


@dataclass
class TableGroup:
    """Tables of some units of a block, for the queries of one sex (``sex`` None:
    every query), in the kernels' form (:func:`kinship.kernels.score.flat_tables`):
    the log10 LR of unit ``c`` at table column ``j`` of locus ``l`` is
    ``vals[base[c, l] + j]``, its LR ``lrs[...]`` and its inconsistency flag
    ``inc[...]`` at the same place.

    Reference persons (and duplicates mode's queries) are *gathered*: ``vals``,
    ``lrs`` and ``inc`` are the model's flat pair tables (``rows``, a
    :class:`kinship.search.PairRows`, shared by every block) and ``base`` points at
    each unit's row, so a block holds only its row indices and its packed screen.
    Cases are materialised: ``[C, S]`` tables of their own, flattened."""

    sex: str | None
    units: np.ndarray          # block unit index of each table row
    vals: np.ndarray           # float64, flat: log10 LR
    lrs: np.ndarray            # float64, flat: LR
    inc: np.ndarray            # uint8, flat: inconsistent without mutation
    base: np.ndarray           # [C, L] int64
    typed: np.ndarray          # [C, L] uint8
    offsets: np.ndarray        # [L] int64
    loci: tuple
    #: gathered groups: the model's rows and each unit's row ids ``[C, L]``
    #: (:class:`kinship.search.GatheredTables`), for the screen's tile extremes
    gathered: object = None
    #: the screening form of the tables, built on first use per identity/other
    #: (:func:`engine.kernels.packed_group`)
    packed: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.units)

    @property
    def width(self) -> int:
        """Table columns (genotypes summed over the loci)."""
        return int(self.gathered.rows.S) if self.gathered is not None else self.vals.size // max(1, len(self))

    def extremes(self, skip: bool) -> tuple:
        """``(lowest, highest, has +inf)``, each ``[C, L]``, of each unit's row at
        each locus as the packing sees them (:func:`kinship.kernels.score.row_extremes`):
        gathered from the model's per-row values, or computed from the table."""
        from kinship.kernels.score import row_extremes

        C, L = self.base.shape
        if self.gathered is not None:
            lo, hi, inf = self.gathered.rows.extremes(skip)
            r = self.gathered.ridx
            return lo[r], hi[r], inf[r]
        sizes = np.diff(np.append(self.offsets, self.width))
        lo, hi, inf = row_extremes(self.vals, self.inc, self.base + self.offsets[None, :],
                                   np.broadcast_to(sizes, (C, L)), skip)
        return lo.reshape(C, L), hi.reshape(C, L), inf.reshape(C, L)

    def lr_at(self, cs: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The LRs of units ``cs [n]`` at table columns ``cols [n, L]`` (``lr[cs[:, None],
        cols]``; a locus the unit did not type: 1)."""
        out = self.lrs[self.base[cs] + cols]
        out[self.typed[cs] == 0] = 1.0
        return out

    def _full(self, which: str) -> np.ndarray:
        if self.gathered is not None:
            return self.gathered.materialise(which)
        return {"lr": self.lrs, "log": self.vals, "inc": self.inc}[which].reshape(len(self), -1)

    # the [C, S] tables, materialised on demand (chance values, benchmarks' baselines)
    @property
    def lr(self) -> np.ndarray:
        return self._full("lr")

    @property
    def log_tab(self) -> np.ndarray:
        return self._full("log")

    @property
    def incons(self) -> np.ndarray:
        return self._full("inc")

    @property
    def nbytes(self) -> int:
        """Bytes this group holds of its own (a gathered group's model rows are the
        model's), its packed screens (built on first use) counted: ``2 (S + 1)`` and
        ``S + L`` bytes a unit, the 8-bit floors."""
        C, L = self.base.shape
        t32, t64 = -(-C // 32), -(-C // 64)
        packed = t32 * 64 * (self.width + 1) + t64 * (64 * (self.width + L) + 8 * L)
        own = self.base.nbytes + self.typed.nbytes + packed
        if self.gathered is not None:
            return own + self.gathered.ridx.nbytes + self.gathered.typed.nbytes
        return own + self.vals.nbytes + self.lrs.nbytes + self.inc.nbytes


@dataclass
class BlockTables:
    groups: list
    notes: list = field(default_factory=list)
    nbytes: int = 0


def _group(sex, units, tables) -> TableGroup:
    """A materialised group (:class:`kinship.search.CaseTables`)."""
    lr = np.ascontiguousarray(tables.lr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_tab = np.log10(lr)
    return table_group(log_tab, tables.inconsistent, tables.typed, tables.offsets, tuple(tables.loci), lr,
                       sex, units)


def table_group(log_tab, incons, typed, offsets, loci=(), lr=None, sex=None, units=None) -> TableGroup:
    """A materialised group of the tables ``log_tab [C, S]`` (log10 LR), ``incons``,
    ``typed [C, L]`` (``lr``: the LRs, default ``10 ** log_tab``; ``units``: default
    ``0 .. C - 1``)."""
    from kinship.kernels.score import flat_tables

    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    vals, inc, base = flat_tables(log_tab, incons, len(offsets))
    if lr is None:
        lr = 10.0 ** vals
    C = base.shape[0]
    return TableGroup(sex, np.arange(C, dtype=np.int64) if units is None else np.asarray(units, dtype=np.int64),
                      vals, np.ascontiguousarray(lr, dtype=np.float64).reshape(-1), inc, base,
                      np.ascontiguousarray(typed, dtype=np.uint8), offsets, tuple(loci))


def _persons_group(model, rel, ids, codes, sexes, line, ref_dropout, drop, notes,
                   sexes_of_tables=None) -> TableGroup:
    """The group of a block of persons: gathered from the model's tables
    (:meth:`kinship.search.ScoringModel.gather_pairwise`, with a table for each sex of
    ``sexes_of_tables``), or, where the persons' dropouts differ, materialised
    (:meth:`~kinship.search.ScoringModel.compile_pairwise`)."""
    n = len(ids)
    g = model.gather_pairwise(rel, codes, sexes, line=line, ref_dropout=ref_dropout, **drop,
                              table_sexes=sexes_of_tables)
    if g is not None:
        notes.extend(g.notes)
        return _gathered_group(None, np.arange(n), g, model)
    t = model.compile_pairwise(rel, ids, codes, sexes, line=line, ref_dropout=ref_dropout, **drop)
    notes.extend(t.notes)
    return _group(None, np.arange(n), t)


def _gathered_group(sex, units, g, model) -> TableGroup:
    """A gathered group (:meth:`kinship.search.ScoringModel.gather_pairwise`)."""
    return TableGroup(sex, np.asarray(units, dtype=np.int64), g.rows.log, g.rows.lr, g.rows.inc,
                      np.ascontiguousarray(g.base(), dtype=np.int64),
                      np.ascontiguousarray(g.typed, dtype=np.uint8),
                      np.ascontiguousarray(model.offsets, dtype=np.int64), tuple(model.loci), gathered=g)


def _stack(parts, loci, offsets):
    """One CaseTables-like object from row-aligned pieces."""
    from kinship.search import CaseTables

    lr = np.concatenate([p.lr for p in parts])
    inc = np.concatenate([p.inconsistent for p in parts])
    typed = np.concatenate([p.typed for p in parts])
    ids = [i for p in parts for i in p.ids]
    return CaseTables(ids, lr, inc, typed, offsets, loci, "case")


def compile_block(model, sex_dep: bool, mode: str, block, line: str = "paternal",
                  queries=None, query_dropout: float = 0.0, dropin: float = 0.0,
                  sexes_of_tables=None) -> BlockTables:
    """Compile the tables of one block for ``mode``, for queries of dropout
    ``query_dropout`` (with the references' own dropout and the run's ``dropin``:
    ``docs/dropout.md``; all 0: the tables without the dropout model).
    ``sexes_of_tables``: the run's :func:`table_sexes` (None: both sexes' tables)."""
    notes = []
    drop = dict(query_dropout=query_dropout, dropin=dropin)
    if block.kind == "persons":
        # the references' sexes where the model's mutation depends on the sex (else male)
        sexes = [SEX_WORD.get(s, "unknown") for s in block.sexes] if sex_dep else None
        groups = [_persons_group(model, mode, block.unit_ids, block.codes, sexes, line, block.dropouts, drop,
                                 notes, sexes_of_tables)]
    elif block.kind == "queries":
        codes = queries.codes[block.query_rows]
        qd = getattr(queries, "dropout", None)
        groups = [_persons_group(model, "identity", block.unit_ids, codes, None, "paternal",
                                 None if qd is None else qd[block.query_rows], drop, notes)]
    else:
        groups = _compile_cases(model, sex_dep, block.cases, **drop)
    # the packed screening tables (built on first use) counted at 3 bytes per entry
    return BlockTables(groups, sorted(set(notes)), sum(g.nbytes for g in groups))


def _case_groups(cases, sex_dep) -> dict:
    """Group (None: every query; "M"/"F": queries of that sex) -> [(case index, M's
    sex)]: a case whose pedigree M's sex decides (a 'child' relative) under a
    sex-dependent mutation model is compiled once per sex."""
    by_group = {None: [], "M": [], "F": []}
    for u, case in enumerate(cases):
        if case["needs_sex"] and sex_dep:
            by_group["M"].append((u, "male"))
            by_group["F"].append((u, "female"))
        else:
            by_group[None].append((u, "male" if case["needs_sex"] else "unknown"))
    return by_group


def table_sexes(sex_values) -> tuple:
    """The sexes (``"female"``, ``"male"``) whose pair tables reference persons of
    these sex values (the datasets' ``M``, ``F``, empty) point into under a
    sex-dependent mutation model: a person of unknown sex uses the male model
    (:meth:`kinship.search.ScoringModel.gather_pairwise`).  A run whose references
    are all men builds no women's tables."""
    words = {SEX_WORD.get(str(s), "unknown") for s in set(np.asarray(sex_values, dtype=object).tolist())}
    return tuple(sorted({"female" if w == "female" else "male" for w in words})) or ("male",)


def prefetch_tables(model, sex_dep: bool, modes, line: str = "paternal", refs=None, cases=None,
                    gather: bool = False):
    """Build the per-model tables the run's blocks will need (pair tables of the
    pairwise modes and of duo cases, single-relative case tables), so that the
    tasks only gather rows from them.  Run by :func:`engine.run` in a background
    thread while the queries load; the tables are the model's own caches, built
    once whoever asks first (thread-safe), so this changes timing, never results.
    ``gather`` (a run without dropout): the pairwise modes' flat tables that the
    reference persons' blocks are gathered from, as the blocks ask for them
    (:meth:`kinship.search.ScoringModel.gather_pairwise` of no reference, a table
    for each sex of the references: :func:`table_sexes`), with their rows'
    extremes for the screen.  With dropout (not ``gather``) the pairwise tables are
    those of each sample's dropout, known once the queries are read: the tasks
    build them (the tables without dropout would be held for nothing)."""
    from .job import PAIRWISE_MODES

    _adopt_kept_rows(model)
    none = np.zeros((0, len(model.loci), 2), dtype=np.int16)
    have = table_sexes(refs.sex) if refs is not None else None
    for mode in modes:
        if mode not in PAIRWISE_MODES or not gather:
            continue
        rows = model.gather_pairwise(mode, none, [] if sex_dep else None, line=line,
                                     table_sexes=have).rows
        if mode != "identity":
            rows.extremes(False)
    if "duplicates" in modes and gather:
        model.gather_pairwise("identity", none)
    if "case" in modes and cases is not None and refs is not None and len(cases):
        light = [{"needs_sex": bool(cases.needs_sex[u]),
                  "relatives": [(None, str(refs.relation[i]), None, None) for i in cases.members[u]],
                  "case": cases.pedigrees[u] if cases.pedigrees else None}
                 for u in range(len(cases))]
        items = [(light[u], ms) for group in _case_groups(light, sex_dep).values() for u, ms in group]
        model.prepare_cases([{"missing_sex": ms, "relatives": c["relatives"], "case": c["case"]}
                             for c, ms in items])


def _adopt_kept_rows(model) -> None:
    """Hand ``model`` the flat tables that this process's kept blocks of the same
    model key point into (a worker's blocks kept from an earlier job, whose model
    was dropped since): the new model uses them instead of building a second copy.
    A process that keeps no tables between jobs (:func:`keep_budget` 0) drops the
    cached blocks of other models (an earlier run's in the same process): this run
    cannot use them, and they would hold that model's flat tables, which its
    memory plan does not count."""
    mk = getattr(model, "_strkin_key", None)
    if not mk:
        return
    with _CACHE_LOCK:
        if not _KEEP["bytes"]:
            for k in [k for k in _CACHE if k[0] != mk]:
                del _CACHE[k]
        rows = {id(g.gathered.rows): g.gathered.rows for k, bt in _CACHE.items() if k[0] == mk
                for g in bt.groups if g.gathered is not None}
    for r in rows.values():
        model.adopt_pair_rows(r)


def in_background(name: str, fn, *args) -> threading.Thread:
    """``fn(*args)`` in a daemon thread (started) that does work ahead of time; an
    error is left for the task that needs the result to raise and report."""
    def work():
        try:
            fn(*args)
        except Exception:  # pragma: no cover - the tasks report it
            pass

    t = threading.Thread(target=work, name=name, daemon=True)
    t.start()
    return t


def prefetch_in_background(*args) -> threading.Thread:
    """:func:`prefetch_tables` in a background thread (:func:`in_background`)."""
    return in_background("strkin-tables", prefetch_tables, *args)


def _compile_cases(model, sex_dep, cases, query_dropout=0.0, dropin=0.0) -> list:
    """Table groups of a block of cases: one for every query, and, where M's sex
    decides the pedigree (a 'child' relative, sex-dependent mutation), one per sex."""
    by_group = _case_groups(cases, sex_dep)
    groups = []
    for sx, items in by_group.items():
        if items:
            t = _compile_generic(model, [(cases[u], ms) for u, ms in items], query_dropout, dropin)
            groups.append(_group(sx, [u for u, _ in items], t))
    return groups


def _compile_generic(model, items, query_dropout=0.0, dropin=0.0):
    """Tables of cases ``items = [(case, missing_sex), ...]``: the core's case
    compiler (:meth:`kinship.search.ScoringModel.compile_cases`: closed forms for
    couples and duos, the case pedigree's table for a single relative, memoised
    exact pedigree tables for every other shape; with dropout, see there)."""
    return model.compile_cases([{"id": c["id"], "missing_sex": ms, "relatives": c["relatives"],
                                 "case": c.get("case"), "missing": c.get("missing"),
                                 "dropout": c.get("dropout")}
                                for c, ms in items], query_dropout=query_dropout, dropin=dropin)


# -- per-process cache: a block's tables are compiled once and shared by the tasks
# -- that score its query chunks (tasks are submitted block by block)
_CACHE: "OrderedDict[tuple, BlockTables]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict = {}
#: bytes of block tables the cache may keep beyond its :data:`CACHE_BLOCKS` blocks
#: (``kinship worker start --keep-tables``: a warm worker's later jobs against the same
#: references and model reuse them; 0, the default: none)
_KEEP = {"bytes": 0}


def keep_tables(nbytes: int) -> None:
    """Keep up to ``nbytes`` of block tables between jobs (a worker's
    ``--keep-tables``; least recently used dropped first, the model tables they
    point into counted: :func:`_cached_bytes`), and let a job's block cache keep
    that much beyond its :data:`CACHE_BLOCKS` blocks; 0: nothing kept.  Called
    between jobs, so no block is in use: what is kept is trimmed to ``nbytes``,
    however few blocks that leaves (the memory plan of the next job counts
    ``nbytes``: :func:`keep_budget`)."""
    with _CACHE_LOCK:
        _KEEP["bytes"] = max(0, int(nbytes))
        _trim(blocks=0)


def keep_budget() -> int:
    """Bytes of block tables this process keeps between jobs (:func:`keep_tables`;
    0 but in a worker started with ``--keep-tables``)."""
    return int(_KEEP["bytes"])


def kept_tables() -> tuple[int, int]:
    """``(blocks, bytes)`` in the block cache."""
    with _CACHE_LOCK:
        return len(_CACHE), _cached_bytes()


def _cached_bytes() -> int:
    """Bytes the block cache holds: its blocks' own, and once each the model's flat
    tables that gathered blocks point into (they stay alive with the blocks, also
    after the model that built them is dropped) (under ``_CACHE_LOCK``)."""
    shared = {}
    for bt in _CACHE.values():
        for g in bt.groups:
            if g.gathered is not None:
                shared[id(g.gathered.rows)] = g.gathered.rows.nbytes
    return sum(bt.nbytes for bt in _CACHE.values()) + sum(shared.values())


def _trim(blocks: int = CACHE_BLOCKS) -> None:
    """Drop least recently used blocks while there are more than ``blocks`` and
    more than the bytes kept (under ``_CACHE_LOCK``)."""
    while len(_CACHE) > blocks and _cached_bytes() > _KEEP["bytes"]:
        _CACHE.popitem(last=False)


def _key(ctx, mode, block_key, query_dropout) -> tuple:
    return (ctx.model.key, mode, ctx.line, block_key) + ((float(query_dropout),) if query_dropout else ())


def kept_block(ctx, mode, block_key: str, dropouts) -> dict | None:
    """The tables this process keeps of the block ``block_key`` for queries of each
    dropout in ``dropouts`` (``{cache key: BlockTables}``, the block's entries made
    most recently used), or None unless it keeps all of them: a warm worker's job
    whose blocks are all kept (``--keep-tables``) need not read the references'
    genotypes (:func:`engine.inputs.stream_blocks`)."""
    keys = [_key(ctx, mode, block_key, d) for d in dropouts]
    with _CACHE_LOCK:
        if not all(k in _CACHE for k in keys):
            return None
        for k in keys:
            _CACHE.move_to_end(k)
        return {k: _CACHE[k] for k in keys}


def cached_block(ctx, mode, block, queries=None, query_dropout: float = 0.0) -> BlockTables:
    """The block's tables for queries of dropout ``query_dropout`` (those the block
    carries, :func:`kept_block`; else compiled once per process and kept for the
    other query chunks of the block)."""
    from .model import get_model

    key = _key(ctx, mode, block.key, query_dropout)
    if block.tables is not None and key in block.tables:
        return block.tables[key]
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                return hit
        bt = compile_block(get_model(ctx.model), ctx.model.sex_dependent, mode, block, ctx.line,
                           queries, float(query_dropout), float(ctx.model.dropin),
                           getattr(ctx, "ref_sexes", None))
        with _CACHE_LOCK:
            _CACHE[key] = bt
            _trim()
            _KEY_LOCKS.pop(key, None)
        return bt
