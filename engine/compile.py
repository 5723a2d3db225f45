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
case: one full sibling,     without mutation: the row of the exact pair table of
half sibling, grandparent,  the same pedigree (``full-sibling``, ``half-sibling``,
uncle or aunt               ``grandparent``, ``avuncular``; ``maternal-``
                            relations use the maternal line), equal to the
                            pedigree table (tested); with mutation: as below
any other set of relatives  the exact pedigree likelihood of the case pedigree
                            (:func:`kinship.cases.case_pedigree`), one locus at a time
==========================  ===================================================

A case with a ``child`` reference depends on the missing person's sex (is M the
child's father or mother?) when the female and male mutation models differ; it
is then compiled twice, and a query is scored against the version of its own
sex.  A query of unknown sex is not compared with such a case (counted in the
run's notes).  Without mutation, or with one model for both sexes, the sex of a
parent changes no LR and one table serves every query.

Why the single-relative shortcut is limited to no mutation: a pair table's H2
makes the reference an unrelated *founder*, while the case pedigree's H2 keeps
a sibling or an uncle as the child of untyped founders.  With a mutation model
that is not stationary (stepwise), the reference's own genotype probability then
differs between the two, and so does the LR (by ~0.1-1 % per locus); without
mutation both give the same table.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .inputs import SEX_WORD
from .kernels import suffix_bounds, visit_order

__all__ = ["TableGroup", "BlockTables", "compile_block", "cached_block", "FAST_CASES"]

#: single-relative cases scored with a pair table of the same pedigree:
#: relation -> (pairwise relationship, reference sex or None = the profile's, line)
FAST_CASES = {
    "full-sibling": ("full-sibling", None, "paternal"),
    "half-sibling": ("half-sibling", None, "paternal"),
    "maternal-half-sibling": ("half-sibling", None, "maternal"),
    "grandfather": ("grandparent", "male", "paternal"),
    "grandmother": ("grandparent", "female", "paternal"),
    "maternal-grandfather": ("grandparent", "male", "maternal"),
    "maternal-grandmother": ("grandparent", "female", "maternal"),
    "uncle": ("avuncular", "male", "paternal"),
    "aunt": ("avuncular", "female", "paternal"),
    "maternal-uncle": ("avuncular", "male", "maternal"),
    "maternal-aunt": ("avuncular", "female", "maternal"),
}


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
    order: np.ndarray          # [L] int64
    suffix: np.ndarray         # [C, L+1]
    loci: tuple

    def __len__(self):
        return len(self.units)


@dataclass
class BlockTables:
    groups: list
    notes: list = field(default_factory=list)
    nbytes: int = 0


def _group(sex, units, tables) -> TableGroup:
    lr = np.ascontiguousarray(tables.lr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_tab = np.log10(lr)
    offsets = np.ascontiguousarray(tables.offsets, dtype=np.int64)
    order = visit_order(offsets, lr.shape[1])
    return TableGroup(sex, np.asarray(units, dtype=np.int64), lr, log_tab,
                      np.ascontiguousarray(tables.inconsistent, dtype=np.uint8),
                      np.ascontiguousarray(tables.typed, dtype=np.uint8), offsets, order,
                      suffix_bounds(log_tab, offsets, order), tuple(tables.loci))


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
        t = model.compile_pairwise(mode, block.unit_ids, block.codes, sexes, line=line)
        notes.extend(t.notes)
        groups = [_group(None, np.arange(n), t)]
    elif block.kind == "queries":
        codes = queries.codes[block.query_rows]
        t = model.compile_pairwise("identity", block.unit_ids, codes, None)
        groups = [_group(None, np.arange(len(block)), t)]
    else:
        groups = _compile_cases(model, sex_dep, block.cases)
    nbytes = sum(g.lr.nbytes + g.log_tab.nbytes + g.incons.nbytes for g in groups)
    return BlockTables(groups, sorted(set(notes)), nbytes)


def _compile_cases(model, sex_dep, cases) -> list:
    no_mutation = model.mutation is None or model.mutation.is_null
    any_units, fast, generic = [], {}, []
    by_sex = {"M": [], "F": []}
    for u, case in enumerate(cases):
        rels = case["relatives"]
        if case["needs_sex"]:
            if sex_dep:
                by_sex["M"].append(u)
                by_sex["F"].append(u)
            else:
                generic.append((u, "male"))
            continue
        if len(rels) == 1 and rels[0][1] in FAST_CASES and no_mutation:
            rel, rsex, line = FAST_CASES[rels[0][1]]
            fast.setdefault((rel, line), []).append((u, rsex or "male"))
            continue
        generic.append((u, "unknown"))
    groups = []
    parts, order_units = [], []
    for (rel, line), items in sorted(fast.items()):
        us = [u for u, _ in items]
        codes = np.stack([np.asarray(cases[u]["relatives"][0][3]) for u in us])
        sexes = [s for _, s in items]
        t = model.compile_pairwise(rel, [cases[u]["id"] for u in us], codes, sexes, line=line)
        parts.append(t)
        order_units.extend(us)
    if generic:
        t = model.compile_cases([
            {"id": cases[u]["id"], "missing_sex": ms, "relatives": cases[u]["relatives"]}
            for u, ms in generic
        ])
        parts.append(t)
        order_units.extend(u for u, _ in generic)
    if parts:
        groups.append(_group(None, order_units, _stack(parts, model.loci, model.offsets)))
    for sx, word in (("M", "male"), ("F", "female")):
        us = by_sex[sx]
        if us:
            t = model.compile_cases([
                {"id": cases[u]["id"], "missing_sex": word, "relatives": cases[u]["relatives"]}
                for u in us
            ])
            groups.append(_group(sx, us, t))
    return groups


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
