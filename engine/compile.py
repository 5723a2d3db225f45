"""Compile a block of reference units into LR tables (see ``DESIGN-NOTES.md``).

``T[c, l, g] = P(g | case c, H1) / P(g | H2)`` over every genotype ``g`` of
locus ``l``, computed by :mod:`kinship.search`; a pair then costs one lookup per
locus.  Which table a unit gets:

==========================  ===================================================
unit                        table
==========================  ===================================================
pairwise mode ``rel``       the row ``W_rel[g_R]`` of the exact pair table of
                            ``rel`` (:meth:`ScoringModel.compile_pairwise`)
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

from .inputs import SEX_WORD

__all__ = ["TableGroup", "BlockTables", "compile_block", "cached_block", "SINGLE_RELATIONS"]

#: relations of single-relative cases compiled with the case pedigree's pair table
#: (father and mother alone are duos: the core's parent-child closed form)
SINGLE_RELATIONS = (
    "full-sibling", "half-sibling", "maternal-half-sibling", "grandfather", "grandmother",
    "maternal-grandfather", "maternal-grandmother", "uncle", "aunt", "maternal-uncle",
    "maternal-aunt", "child",
)


@dataclass
class TableGroup:
    """Tables of some units of a block, for the queries of one sex (``sex`` None:
    every query)."""

    sex: str | None
    units: np.ndarray          # block unit index of each table row
    lr: np.ndarray             # [C, S] float64
    log_tab: np.ndarray        # [C, S] float64, log10
    incons: np.ndarray         # [C, S] uint8
    typed: np.ndarray          # [C, L] uint8
    offsets: np.ndarray        # [L] int64
    loci: tuple
    #: the screening form of the tables, built on first use per identity/other
    #: (:func:`engine.kernels.packed_group`)
    packed: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.units)


@dataclass
class BlockTables:
    groups: list
    notes: list = field(default_factory=list)
    nbytes: int = 0


_PAIR_LOCK = threading.Lock()


def _pair_tables(model, rel, sex, line):
    """Build the model's pair tables of ``rel`` once, even when several threads
    start tasks of that mode at the same time (the model caches them)."""
    if (rel, sex, line) in model._pair_cache:
        return
    with _PAIR_LOCK:
        model.pair_tables(rel, sex, line)


def _group(sex, units, tables) -> TableGroup:
    lr = np.ascontiguousarray(tables.lr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_tab = np.log10(lr)
    offsets = np.ascontiguousarray(tables.offsets, dtype=np.int64)
    return TableGroup(sex, np.asarray(units, dtype=np.int64), lr, log_tab,
                      np.ascontiguousarray(tables.inconsistent, dtype=np.uint8),
                      np.ascontiguousarray(tables.typed, dtype=np.uint8), offsets, tuple(tables.loci))


def _stack(parts, loci, offsets):
    """One CaseTables-like object from row-aligned pieces."""
    from kinship.search import CaseTables

    lr = np.concatenate([p.lr for p in parts])
    inc = np.concatenate([p.inconsistent for p in parts])
    typed = np.concatenate([p.typed for p in parts])
    ids = [i for p in parts for i in p.ids]
    return CaseTables(ids, lr, inc, typed, offsets, loci, "case")


def compile_block(model, sex_dep: bool, mode: str, block, line: str = "paternal",
                  queries=None) -> BlockTables:
    """Compile the tables of one block for ``mode``."""
    notes = []
    if block.kind == "persons":
        n = len(block)
        sexes = [SEX_WORD.get(s, "unknown") for s in block.sexes] if sex_dep else ["male"] * n
        for sx in sorted({"female" if s == "female" else "male" for s in sexes}):
            _pair_tables(model, mode, sx, line)
        t = model.compile_pairwise(mode, block.unit_ids, block.codes, sexes, line=line)
        notes.extend(t.notes)
        groups = [_group(None, np.arange(n), t)]
    elif block.kind == "queries":
        _pair_tables(model, "identity", "male", "paternal")
        codes = queries.codes[block.query_rows]
        t = model.compile_pairwise("identity", block.unit_ids, codes, None)
        groups = [_group(None, np.arange(len(block)), t)]
    else:
        groups = _compile_cases(model, sex_dep, block.cases)
    # packed screening tables (built on first use): 2 bytes per table entry
    nbytes = sum(g.lr.nbytes + g.log_tab.nbytes + g.incons.nbytes + g.lr.size * 2 for g in groups)
    return BlockTables(groups, sorted(set(notes)), nbytes)


def _compile_cases(model, sex_dep, cases) -> list:
    """Table groups of a block of cases: one for every query, and, where M's sex
    decides the pedigree (a 'child' relative, sex-dependent mutation), one per sex."""
    by_group = {None: [], "M": [], "F": []}
    for u, case in enumerate(cases):
        if case["needs_sex"] and sex_dep:
            by_group["M"].append((u, "male"))
            by_group["F"].append((u, "female"))
        else:
            by_group[None].append((u, "male" if case["needs_sex"] else "unknown"))
    groups = []
    for sx, items in by_group.items():
        if items:
            t = _compile_generic(model, [(cases[u], ms) for u, ms in items])
            groups.append(_group(sx, [u for u, _ in items], t))
    return groups


def _is_closed_form(rels) -> bool:
    kinds = sorted(r[1] for r in rels)
    return kinds in (["father", "mother"], ["father"], ["mother"])


def _compile_generic(model, items):
    """Tables of cases; couples and duos by the core's closed forms, every other
    shape locus by locus with :func:`kinship.tables.case_table` on the case
    pedigree, memoised (see :func:`_locus_table`)."""
    from kinship.search import CaseTables

    closed = [(i, c, ms) for i, (c, ms) in enumerate(items) if _is_closed_form(c["relatives"])]
    single = [(i, c, ms) for i, (c, ms) in enumerate(items)
              if len(c["relatives"]) == 1 and c["relatives"][0][1] in SINGLE_RELATIONS]
    C = len(items)
    lr = np.ones((C, model.size))
    inc = np.zeros((C, model.size), dtype=np.uint8)
    typed = np.zeros((C, len(model.loci)), dtype=bool)
    if closed:
        t = model.compile_cases([{"id": c["id"], "missing_sex": ms, "relatives": c["relatives"]}
                                 for _, c, ms in closed])
        rows = [i for i, _, _ in closed]
        lr[rows], inc[rows], typed[rows] = t.lr, t.inconsistent, t.typed
    done = {i for i, _, _ in closed}
    for i, case, ms in single:
        _, rel, _, codes = case["relatives"][0]
        W = _single_tables(model, rel, ms)
        g = model.genotype_indices(np.asarray(codes)[None])[0]
        for l, (Wl, Il) in enumerate(W):
            if g[l] < 0:
                continue
            o = model.offsets[l]
            lr[i, o:o + Wl.shape[1]] = Wl[g[l]]
            inc[i, o:o + Wl.shape[1]] = Il[g[l]]
            typed[i, l] = True
        done.add(i)
    for i, (case, ms) in enumerate(items):
        if i in done:
            continue
        rels = case["relatives"]
        for l in range(len(model.loci)):
            calls = []
            for rid, rel, sex, codes in rels:
                a, b = int(codes[l][0]), int(codes[l][1])
                calls.append((rel, sex, (min(a, b), max(a, b)) if a >= 0 and b >= 0 else None))
            if all(c[2] is None for c in calls):
                continue
            tl, ti = _locus_table(model, l, ms, tuple(sorted(calls, key=_call_key)))
            o = model.offsets[l]
            lr[i, o:o + len(tl)] = tl
            inc[i, o:o + len(tl)] = ti
            typed[i, l] = True
    return CaseTables([c["id"] for c, _ in items], lr, inc, typed, model.offsets, model.loci, "case")


_SINGLE: dict = {}
_SINGLE_LOCK = threading.Lock()


def _single_tables(model, relation: str, missing_sex: str) -> list:
    """Per locus ``(W, I)``, ``[G, G]`` over (the relative's genotype, M's genotype):
    the LR table of the case pedigree with one relative, for every genotype of
    the relative at once.

    ``W[g_R, g] = P(R = g_R, M = g | case pedigree) / P(R = g_R, Q = g | pedigree
    + Q unrelated)``, the quantity :func:`kinship.tables.case_table` computes for
    one call of R, here with R left open (``free``) like
    :func:`kinship.tables.pair_table` does; ``I`` marks H1 likelihood zero without
    mutation.  A relative's own sex never matters here (a sibling, an uncle or a
    child is a leaf of the pedigree; a grandparent's sex is its relation's).
    """
    key = (_model_key(model), relation, missing_sex)
    hit = _SINGLE.get(key)
    if hit is not None:
        return hit
    with _SINGLE_LOCK:
        hit = _SINGLE.get(key)
        if hit is not None:
            return hit
        from kinship.cases import MISSING, case_pedigree
        from kinship.frequencies import SILENT
        from kinship.likelihood import locus_likelihood
        from kinship.pedigree import Person
        from kinship.tables import fold_calls

        ped = case_pedigree([("r0", relation, "unknown")], missing_sex=missing_sex)
        h2 = ped.with_person(Person("__candidate__", None, None, "unknown"))
        out = []
        for s in model.systems:
            fM = mM = None
            if model.mutation is not None:
                fM, mM = model.mutation.matrices(s)
            silent = s.alleles.index(SILENT) if s.silent else None
            args = dict(n_alleles=s.n_alleles, freqs=s.freqs, theta=model.theta, silent=silent)

            def fold(J):
                return fold_calls(fold_calls(J, 0, silent), 1, silent)

            N = fold(locus_likelihood(ped, {}, free=["r0", MISSING], female_M=fM, male_M=mM, **args))
            D = fold(locus_likelihood(h2, {}, free=["r0", "__candidate__"], female_M=fM, male_M=mM,
                                      **args))
            N0 = N if fM is None and mM is None else fold(
                locus_likelihood(ped, {}, free=["r0", MISSING], **args))
            with np.errstate(divide="ignore", invalid="ignore"):
                W = N / D
            W.setflags(write=False)
            I = (N0 == 0.0).astype(np.uint8)
            I.setflags(write=False)
            out.append((W, I))
        _SINGLE[key] = out
        return out


def _call_key(c):
    return (c[0], c[1], (-1, -1) if c[2] is None else c[2])


# -- per-locus memo of pedigree tables: a table depends only on the case's shape
# -- (relations, sexes, M's sex) and the relatives' calls at the locus, and cases
# -- of one shape share calls often (a single sibling: one table per genotype).
_LOCUS_MEMO: "OrderedDict[tuple, tuple]" = OrderedDict()
_LOCUS_MEMO_BYTES = [0]
_LOCUS_MEMO_LIMIT = int(float(__import__("os").environ.get("STRKIN_ENGINE_TABLE_MEMO_MB", "256")) * 2**20)
_LOCUS_LOCK = threading.Lock()
_PEDIGREES: dict = {}


def _model_key(model) -> str:
    k = getattr(model, "_strkin_key", None)
    if k is None:
        from .job import stable_hash

        k = stable_hash({"describe": model.describe(),
                         "systems": [[s.locus, list(s.alleles), [repr(float(x)) for x in s.freqs]]
                                     for s in model.systems]})
        model._strkin_key = k
    return k


def _locus_table(model, l: int, missing_sex: str, calls: tuple):
    """(lr, inconsistent) of one locus of a case, relatives in canonical order
    ``r0, r1, ...`` (the order of ``calls``, which is sorted), so every case with the
    same shape and calls gets the very same numbers."""
    from kinship.cases import MISSING, case_pedigree
    from kinship.tables import case_table

    key = (_model_key(model), l, missing_sex, calls)
    with _LOCUS_LOCK:
        hit = _LOCUS_MEMO.get(key)
        if hit is not None:
            _LOCUS_MEMO.move_to_end(key)
            return hit
    shape = (missing_sex, tuple((c[0], c[1]) for c in calls))
    ped = _PEDIGREES.get(shape)
    if ped is None:
        ped = case_pedigree([(f"r{k}", rel, sex) for k, (rel, sex, _) in enumerate(calls)],
                            missing_sex=missing_sex)
        _PEDIGREES[shape] = ped
    s = model.systems[l]
    labels = {f"r{k}": (s.alleles[c[2][0]], s.alleles[c[2][1]])
              for k, c in enumerate(calls) if c[2] is not None}
    t = case_table(ped, MISSING, labels, s, model.mutation, model.theta)
    val = (np.ascontiguousarray(t.lr), np.ascontiguousarray(t.inconsistent, dtype=np.uint8))
    for a in val:
        a.setflags(write=False)
    with _LOCUS_LOCK:
        if key not in _LOCUS_MEMO:
            _LOCUS_MEMO[key] = val
            _LOCUS_MEMO_BYTES[0] += val[0].nbytes + val[1].nbytes
            while _LOCUS_MEMO_BYTES[0] > _LOCUS_MEMO_LIMIT and _LOCUS_MEMO:
                _, old = _LOCUS_MEMO.popitem(last=False)
                _LOCUS_MEMO_BYTES[0] -= old[0].nbytes + old[1].nbytes
    return val


# -- per-process cache: a block's tables are compiled once and shared by the tasks
# -- that score its query chunks (tasks are submitted block by block)
_CACHE: "OrderedDict[tuple, BlockTables]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict = {}
CACHE_BLOCKS = 8


def cached_block(ctx, mode, block, queries=None) -> BlockTables:
    from .model import get_model

    key = (ctx.model.key, mode, ctx.line, block.key)
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
                           queries)
        with _CACHE_LOCK:
            _CACHE[key] = bt
            while len(_CACHE) > CACHE_BLOCKS:
                _CACHE.popitem(last=False)
            _KEY_LOCKS.pop(key, None)
        return bt
