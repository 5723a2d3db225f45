"""Bulk scoring: compile references into tables, score candidates against them.

This is the layer the batch engine calls.  Profiles enter as dense codes
``[n_profiles, n_loci, 2]`` (int, indices into each locus' allele system as
given by :meth:`ScoringModel.allele_systems`, negative = untyped).

* :meth:`ScoringModel.compile_pairwise` — one table per reference person for a
  pairwise relationship (identity, parent-child, full-sibling, ...), as rows of
  the exact per-locus pair tables :func:`kinship.tables.pair_table`;
  :meth:`ScoringModel.gather_pairwise` the same tables without copying them: each
  person's row index into the model's flat pair tables (:class:`PairRows`).
* :meth:`ScoringModel.compile_cases` — one table per reference case (relatives
  around a missing person): couples and duos by vectorised closed forms, every
  other case shape by the exact pedigree likelihood (:func:`kinship.tables.case_table`);
  the closed forms are tested against the latter.
* :func:`score` — every query against every table, returning the pairs whose
  log10 LR reaches the threshold: an exact integer upper-bound screen over
  packed tables, then the exact score of each survivor
  (see :mod:`kinship.kernels.score`).
* :meth:`CaseTables.per_locus` — the exact per-locus LRs of one pair, for reports.

Loci policy: a locus untyped in the query is skipped (factor 1) and not
counted as compared; a locus with no typed relative in a case has a table of
ones and is not counted as compared either.
"""
from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ._blas import one_blas_thread
from ._numba import jit
from .cases import CASE_RELATIONS, MISSING, case_pedigree, normalize_relation
from .frequencies import SILENT, FrequencyTable, LocusAlleles
from .mutation import MutationModel
from .tables import (case_table, genotype_index, genotype_indices, genotype_pairs, n_genotypes,
                     pair_table)

__all__ = ["ScoringModel", "CaseTables", "Hits", "SINGLE_RELATIONS", "score", "score_exhaustive",
           "per_locus_lrs", "per_locus_lrs_many"]


@dataclass
class CaseTables:
    """Compiled tables of a block of references or cases.

    ``lr[c, offsets[l] + g]`` is the LR at locus ``l`` for candidate genotype
    ``g``; ``inconsistent`` marks H1 likelihood zero without mutation;
    ``typed[c, l]`` says whether the case has information at locus ``l``.
    """

    ids: list
    lr: np.ndarray
    inconsistent: np.ndarray
    typed: np.ndarray
    offsets: np.ndarray
    loci: tuple
    mode: str
    notes: list = field(default_factory=list)

    def __len__(self):
        return len(self.ids)

    def log10(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(self.lr)

    def per_locus(self, c: int, qg_row: np.ndarray) -> dict:
        """Exact per-locus LRs of case ``c`` for a query's genotype indices
        (:func:`per_locus_lrs`)."""
        return per_locus_lrs(self, c, qg_row)

    def counts(self, c: int, qg_row: np.ndarray) -> tuple[int, int]:
        """(loci compared, loci inconsistent without mutation) for one pair."""
        comp = inc = 0
        for l in range(len(self.loci)):
            g = int(qg_row[l])
            if g < 0 or not self.typed[c, l]:
                continue
            comp += 1
            inc += int(self.inconsistent[c, self.offsets[l] + g])
        return comp, inc


def per_locus_lrs(tables, c: int, qg_row: np.ndarray) -> dict:
    """``{locus: LR}`` of case ``c`` of compiled ``tables`` (anything with ``loci``,
    ``typed [C, L]``, ``lr [C, S]`` and ``offsets``, as :class:`CaseTables`) for a
    query's genotype indices ``qg_row``; loci the query or case did not type are
    left out (:func:`per_locus_lrs_many` for one pair)."""
    return per_locus_lrs_many(tables, [c], np.asarray(qg_row)[None, :])[0]


def per_locus_lrs_many(tables, cs, qg_rows: np.ndarray) -> list:
    """:func:`per_locus_lrs` of the pairs (case ``cs[i]``, query genotype indices
    ``qg_rows[i]``), the values gathered for every pair at once."""
    cs = np.asarray(cs, dtype=np.int64)
    if len(cs) == 0:
        return []
    qg = np.asarray(qg_rows, dtype=np.int64)
    offsets = np.asarray(tables.offsets, dtype=np.int64)
    use = (qg >= 0) & (np.asarray(tables.typed)[cs] != 0)
    vals = np.asarray(tables.lr)[cs[:, None], offsets[None, :] + np.maximum(qg, 0)]
    loci = tables.loci
    return [{locus: x for locus, x, u in zip(loci, v, m) if u}
            for v, m in zip(vals.tolist(), use.tolist())]


#: :class:`PairRows` a model keeps (each 43.6 MiB a sex at 23 loci): one per pairwise mode and
#: dropout value of a run (the model's per-locus pair tables are views of them; one dropped
#: from here stays alive while blocks or those views point into it)
_ROWS_KEPT = 16


class PairRows:
    """The pair tables of one relationship for ``V`` variants (reference sex and
    dropout), flat: locus ``l``'s table ``W [G_l, G_l]`` of variant ``v`` (row: the
    reference's genotype, column: the candidate's) at ``v N + lbase[l]`` (``N =
    sum_l G_l^2``), row-major, in three parallel arrays: ``lr`` (the LRs), ``log``
    (their log10, taken once here) and ``inc`` (inconsistent without mutation).

    Row ``r = v S + offsets[l] + g`` (``S = sum_l G_l``) is the row of genotype
    ``g`` at locus ``l``; it starts at ``row_start[r]``.  A reference's value at
    table column ``j`` of locus ``l`` (candidate genotype ``j - offsets[l]``) is
    ``log[row_start[r] - offsets[l] + j]``: the kernels' ``base[c, l] =
    row_start[r] - offsets[l]`` (:func:`kinship.kernels.score.flat_tables`).

    Why three arrays: the kernels read ``log`` (screen and exact score), the hits'
    per-locus values read ``lr`` (:meth:`engine.compile.TableGroup.lr_at`; ``10 **
    log`` would not give the same bits) and the inconsistency counts ``inc``.  The
    model's per-locus tables of these variants become views of ``lr`` and ``inc``
    (:meth:`tables`, :meth:`ScoringModel.pair_rows`): one copy is held, 17 bytes an
    entry (:data:`engine.memory.ROWS_BYTES_PER_ENTRY`)."""

    def __init__(self, variants: list, offsets, size: int):
        offsets = np.asarray(offsets, dtype=np.int64)
        sizes = np.diff(np.append(offsets, size))
        lbase = np.concatenate([[0], np.cumsum(sizes * sizes)[:-1]]).astype(np.int64)
        N = int((sizes * sizes).sum())
        V = len(variants)
        self.S = int(size)
        self.N = N               # entries of one variant's tables
        self.offsets = offsets
        self.lr = np.empty(V * N)
        self.inc = np.empty(V * N, dtype=np.uint8)
        for v, tabs in enumerate(variants):
            for l, (W, I) in enumerate(tabs):
                a = v * N + int(lbase[l])
                n = int(sizes[l]) ** 2
                self.lr[a:a + n] = np.asarray(W).reshape(-1)
                self.inc[a:a + n] = np.asarray(I).reshape(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.log = np.log10(self.lr)
        per_locus = [int(lbase[l]) + np.arange(sizes[l], dtype=np.int64) * sizes[l] for l in range(len(sizes))]
        one = np.concatenate(per_locus) if per_locus else np.zeros(0, dtype=np.int64)
        self.row_start = np.concatenate([v * N + one for v in range(V)]) if V else one
        self.row_len = np.tile(np.repeat(sizes, sizes), V)
        self._extremes: dict = {}
        self._lock = threading.Lock()
        #: what :meth:`ScoringModel.pair_rows` built these for
        self.key: tuple = ()

    @property
    def nbytes(self) -> int:
        """Bytes held: the three flat arrays, the rows' starts and lengths, and the
        rows' extremes computed so far (:meth:`extremes`)."""
        with self._lock:
            ext = sum(a.nbytes for e in self._extremes.values() for a in e)
        return (self.lr.nbytes + self.log.nbytes + self.inc.nbytes + self.row_start.nbytes
                + self.row_len.nbytes + ext)

    def tables(self, v: int, like) -> list:
        """Variant ``v``'s per-locus tables ``[(W, I), ...]`` as views of ``lr`` and
        ``inc``, shaped and typed as ``like`` (the tables this variant was copied
        from), so that the model's cache can hold these instead of a second copy;
        None where a table's type does not allow a view (not float64, or a flag
        wider than a byte)."""
        sizes = np.diff(np.append(self.offsets, self.S))
        out, a = [], v * self.N
        for l, (W, I) in enumerate(like):
            W, I = np.asarray(W), np.asarray(I)
            n = int(sizes[l]) ** 2
            if W.dtype != np.float64 or I.dtype.itemsize != 1 or W.size != n or I.size != n:
                return None
            out.append((self.lr[a:a + n].reshape(W.shape), self.inc[a:a + n].view(I.dtype).reshape(I.shape)))
            a += n
        return out

    def row_ids(self, variant: np.ndarray, gidx: np.ndarray) -> np.ndarray:
        """``[C, L]`` the row of each reference (variant ``variant[c]``, genotype
        indices ``gidx [C, L]``) at each locus (an untyped locus: the row of
        genotype 0, never read)."""
        return (np.asarray(variant, dtype=np.int64)[:, None] * self.S + self.offsets[None, :]
                + np.maximum(np.asarray(gidx, dtype=np.int64), 0))

    def extremes(self, skip: bool) -> tuple:
        """Per row, :func:`kinship.kernels.score.row_extremes` (computed once)."""
        key = bool(skip)
        with self._lock:
            if key not in self._extremes:
                from .kernels.score import row_extremes

                self._extremes[key] = row_extremes(self.log, self.inc, self.row_start, self.row_len, key)
            return self._extremes[key]


@dataclass
class GatheredTables:
    """A block of references' tables as rows of a model's :class:`PairRows`:
    ``ridx [C, L]`` (:meth:`PairRows.row_ids`), ``typed [C, L]``."""

    rows: PairRows
    ridx: np.ndarray
    typed: np.ndarray
    notes: list = field(default_factory=list)

    def base(self) -> np.ndarray:
        """The kernels' ``base [C, L]``: ``log[base[c, l] + j]`` is the value at table column ``j``."""
        return self.rows.row_start[self.ridx] - self.rows.offsets[None, :]

    def materialise(self, which: str = "lr") -> np.ndarray:
        """The ``[C, S]`` table (``"lr"``, ``"log"`` or ``"inc"``; an untyped locus:
        LR 1, log10 0, consistent), as :meth:`ScoringModel.compile_pairwise` builds it."""
        flat = getattr(self.rows, which)
        S = self.rows.S
        col_locus = np.repeat(np.arange(len(self.rows.offsets)),
                              np.diff(np.append(self.rows.offsets, S)))
        b = self.base()
        out = flat[b[:, col_locus] + np.arange(S)[None, :]]
        fill = {"lr": 1.0, "log": 0.0, "inc": 0}[which]
        out[~np.asarray(self.typed, dtype=bool)[:, col_locus]] = fill
        return out


class ScoringModel:
    """Frequencies, mutation model, θ and locus set for a bulk search.

    ``extra_alleles``: ``{locus: alleles seen in the data}``, added to the
    allele systems with the table's minimum-allele-frequency policy, so every
    profile allele has an index.
    """

    def __init__(
        self,
        frequencies: FrequencyTable,
        loci: Sequence[str],
        mutation: MutationModel | None = None,
        theta: float = 0.0,
        extra_alleles: Mapping[str, Sequence[str]] | None = None,
    ):
        if mutation is not None and not isinstance(mutation, MutationModel):
            mutation = MutationModel(mutation)
        self.frequencies = frequencies
        self.mutation = mutation
        self.theta = float(theta)
        if not (0.0 <= self.theta < 1.0):
            raise ValueError(f"theta must be in [0, 1), got {theta}")
        self.loci = tuple(frequencies.resolve_locus(l) for l in loci)
        if mutation is not None:
            mutation.check_loci(frequencies.loci)
        extra = {frequencies.resolve_locus(k): v for k, v in (extra_alleles or {}).items()}
        self.systems: list[LocusAlleles] = [
            frequencies.locus_alleles(l, extra.get(l, ())) for l in self.loci
        ]
        self.n_alleles = np.array([s.n_alleles for s in self.systems], dtype=np.int64)
        sizes = np.array([n_genotypes(a) for a in self.n_alleles], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.size = int(sizes.sum())
        self._pair_cache: dict = {}
        self._single_cache: dict = {}
        self._single_joints: dict = {}     # (relation, M's sex, locus) -> unordered joints
        self._locus_memo: "OrderedDict[tuple, tuple]" = OrderedDict()
        self._locus_memo_bytes = 0
        self._pedigrees: dict = {}
        self._rows_cache: dict = {}         # PairRows by (rel, line, variants, dropouts)
        self._lock = threading.RLock()
        #: a :class:`kinship.tablecache.TableStore` to keep the pair and
        #: single-relative tables on disk between runs (None: memory only)
        self.table_store = None
        # (female, male) mutation matrices per locus, built once
        self._mats = [(None, None) if mutation is None else mutation.matrices(s) for s in self.systems]

    # -- profiles -------------------------------------------------------------------
    def allele_systems(self) -> list[LocusAlleles]:
        return self.systems

    def encode(self, genotypes: Sequence[Mapping[str, tuple]]) -> np.ndarray:
        """Codes ``[n, L, 2]`` from a list of ``{locus: (a, b)}`` dicts (labels)."""
        out = np.full((len(genotypes), len(self.loci), 2), -1, dtype=np.int16)
        index = [{a: i for i, a in enumerate(s.alleles)} for s in self.systems]
        for i, gt in enumerate(genotypes):
            for raw, pair in gt.items():
                l = self.loci.index(self.frequencies.resolve_locus(raw)) if raw not in self.loci else self.loci.index(raw)
                if pair is None:
                    continue
                out[i, l, 0] = index[l][pair[0]]
                out[i, l, 1] = index[l][pair[1]]
        return out

    def genotype_indices(self, codes: np.ndarray) -> np.ndarray:
        """Genotype index per (profile, locus), -1 where untyped: ``int32 [n, L]``
        (:func:`kinship.tables.genotype_indices`)."""
        return genotype_indices(np.asarray(codes)).astype(np.int32, copy=False)

    def describe(self) -> dict:
        return {
            "loci": list(self.loci),
            "theta": self.theta,
            "mutation": None if self.mutation is None else self.mutation.describe(),
            "frequencies": self.frequencies.name,
            "frequencies_sha256": self.frequencies.checksum(),
            "alleles_added": {s.locus: list(s.added) for s in self.systems if s.added},
        }

    # -- compilation ----------------------------------------------------------------
    def pair_tables(self, rel: str, ref_sex: str = "male", line: str = "paternal",
                    ref_dropout: float = 0.0, query_dropout: float = 0.0, dropin: float = 0.0,
                    keep: bool = True):
        """Per locus, the pair table of ``rel`` (:func:`kinship.tables.pair_table`);
        built once per model (thread-safe).  ``ref_dropout`` / ``query_dropout`` /
        ``dropin``: the dropout model of the two samples (``docs/dropout.md``),
        folded into the table; all 0 (the default) is the table without.
        ``keep=False``: a table the model does not hold yet is built (or read from
        the table store) and returned without being kept (a one-off use: the
        report's alternative relationships), the same values."""
        drop = _drop_key(ref_dropout, query_dropout, dropin)
        key = (rel, ref_sex, line) + drop
        hit = self._pair_cache.get(key)
        if hit is not None:
            return hit
        with self._lock:
            if key not in self._pair_cache:
                stored = self._load_stored("pair", key)
                if stored is not None:
                    if keep:
                        self._pair_cache[key] = stored
                    return stored
                kw = {} if not drop else dict(ref_dropout=drop[0], query_dropout=drop[1],
                                              dropin=drop[2])
                with one_blas_thread() as one:   # the same bits whoever builds it (kinship._blas)
                    tabs = [pair_table(rel, s, self.mutation, self.theta, ref_sex=ref_sex, line=line, **kw)
                            for s in self.systems]
                self._save_stored("pair", key, tabs, one)
                if not keep:
                    return tabs
                self._pair_cache[key] = tabs
            return self._pair_cache[key]

    # -- the on-disk table store (kinship.tablecache; off unless table_store is set) --
    def _load_stored(self, kind: str, params: tuple):
        if self.table_store is None:
            return None
        from .tablecache import table_key

        shapes = [(n_genotypes(int(a)),) * 2 for a in self.n_alleles]
        return self.table_store.load(table_key(kind, params, self.systems, self._mats, self.theta),
                                     shapes)

    def _save_stored(self, kind: str, params: tuple, tables, one_thread: bool) -> None:
        """Keep ``tables`` in the store, if they were built with one BLAS thread
        (``one_thread``, from :func:`kinship._blas.one_blas_thread`): a product over
        two threads can round otherwise, and what a run reads must not depend on
        who filled the store."""
        if self.table_store is not None and one_thread:
            from .tablecache import table_key

            self.table_store.save(table_key(kind, params, self.systems, self._mats, self.theta),
                                  tables)

    def compile_pairwise(self, rel: str, ids, codes, sexes=None, line: str = "paternal",
                         ref_dropout=None, query_dropout: float = 0.0,
                         dropin: float = 0.0) -> CaseTables:
        """Tables for ``rel`` between each reference (rows of ``codes``) and any
        candidate.  ``sexes``: reference sexes (the transmitting parent's mutation
        model where the reference is a parent or on the linking line);
        ``"unknown"`` uses the male model and is noted.  ``ref_dropout``: one
        number or one per reference, ``query_dropout`` the candidates' (one number:
        the tables are for candidates of that dropout), ``dropin`` every sample's
        (``docs/dropout.md``; rows of :meth:`pair_tables` with that dropout)."""
        codes = np.asarray(codes)
        R = codes.shape[0]
        lr = np.ones((R, self.size))
        inc = np.zeros((R, self.size), dtype=np.uint8)
        gidx = self.genotype_indices(codes)
        typed = gidx >= 0
        norm, notes = self._reference_sexes(rel, sexes, R)
        rd = _per_row(ref_dropout, R)
        for sex in ("male", "female"):
            for d in sorted(set(rd.tolist())):
                rows = np.nonzero((norm == sex) & (rd == d))[0]
                if len(rows) == 0:
                    continue
                tabs = self.pair_tables(rel, sex, line, d, query_dropout, dropin)
                for l, (W, I) in enumerate(tabs):
                    o = self.offsets[l]
                    G = W.shape[1]
                    sel = rows[typed[rows, l]]
                    if len(sel):
                        lr[sel, o:o + G] = W[gidx[sel, l]]
                        inc[sel, o:o + G] = I[gidx[sel, l]]
        return CaseTables(list(ids), lr, inc, typed, self.offsets, self.loci, rel, sorted(set(notes)))

    def _reference_sexes(self, rel: str, sexes, R: int) -> tuple:
        """(each reference's sex word, ``"male"`` or ``"female"``, as an array; the
        notes): an unknown sex uses the male model, noted where it matters."""
        notes = []
        sexes = list(sexes) if sexes is not None else ["male"] * R
        norm = []
        for s in sexes:
            s = (s or "unknown").lower()
            s = {"m": "male", "f": "female"}.get(s, s)
            if s not in ("male", "female"):
                s = "male"
                if rel != "identity" and self.mutation is not None:
                    notes.append("reference sex unknown: male mutation model used")
            norm.append(s)
        return np.array(norm, dtype=object), notes

    def gather_pairwise(self, rel: str, codes, sexes=None, line: str = "paternal", ref_dropout=None,
                        query_dropout: float = 0.0, dropin: float = 0.0,
                        table_sexes=None) -> "GatheredTables | None":
        """The tables of :meth:`compile_pairwise` without materialising them: each
        reference's row of the pair table of its sex, as an index into the model's
        flat tables (:meth:`pair_rows`: one per relationship and dropout, holding the
        table of each sex in ``table_sexes`` where the sex can change a value:
        ``sexes`` given, a mutation model, not identity).  ``table_sexes``: the
        sexes (``"female"``, ``"male"``) of every reference the caller will gather
        (a run's, so that all its blocks point into one set of flat tables, with no
        table for a sex no reference has); None: both.  The same values, bit for bit
        (tested against :meth:`compile_pairwise`).  None where the references'
        dropouts differ (each value its own tables: :meth:`compile_pairwise` then)."""
        codes = np.asarray(codes)
        R = codes.shape[0]
        rd = _per_row(ref_dropout, R)
        if R and rd.min() != rd.max():
            return None
        d = float(rd[0]) if R else 0.0
        gidx = self.genotype_indices(codes)
        norm, notes = self._reference_sexes(rel, sexes, R)
        if sexes is not None and rel != "identity" and self.mutation is not None:
            have = ("female", "male") if table_sexes is None else tuple(sorted(set(table_sexes)))
            other = set(norm.tolist()) - set(have)
            if other or not have or not set(have) <= {"female", "male"}:
                raise ValueError(f"gather_pairwise: reference sexes {sorted(other)} not among the "
                                 f"table sexes {list(have)}")
            variants = tuple((sx, d) for sx in have)
            variant = (norm == "male").astype(np.int64) if len(have) == 2 else np.zeros(R, dtype=np.int64)
        else:     # the sex changes no value: one table
            variants = (("male", d),)
            variant = np.zeros(R, dtype=np.int64)
        rows = self.pair_rows(rel, variants, line, query_dropout, dropin)
        return GatheredTables(rows, rows.row_ids(variant, gidx), gidx >= 0, sorted(set(notes)))

    def pair_rows(self, rel: str, variants: tuple, line: str = "paternal", query_dropout: float = 0.0,
                  dropin: float = 0.0) -> "PairRows":
        """The pair tables of ``rel`` for each ``(reference sex, reference dropout)``
        of ``variants``, laid out flat with their log10 taken once
        (:class:`PairRows`); built once per model (thread-safe; the few most
        recently used are kept)."""
        key = (rel, line, tuple(variants), float(query_dropout), float(dropin))
        with self._lock:
            hit = self._rows_cache.pop(key, None)
            if hit is None:
                tabs = [self.pair_tables(rel, sx, line, d, query_dropout, dropin) for sx, d in variants]
                hit = PairRows(tabs, self.offsets, self.size)
                hit.key = key
                # the model's per-locus tables become views of the flat copy: one copy
                # held, not two (the same values, bit for bit)
                for v, ((sx, d), like) in enumerate(zip(variants, tabs)):
                    views = hit.tables(v, like)
                    if views is not None:
                        self._pair_cache[(rel, sx, line) + _drop_key(d, query_dropout, dropin)] = views
                del tabs
            self._keep_rows(hit)
            return hit

    def adopt_pair_rows(self, rows: "PairRows") -> None:
        """Use ``rows`` (built by :meth:`pair_rows` of a model with the same
        frequencies, loci, mutation model, θ and alleles: the caller's promise) for
        its key instead of building them again (a worker's next job against the
        block tables it kept)."""
        with self._lock:
            if rows.key not in self._rows_cache:
                self._keep_rows(rows)

    def _keep_rows(self, rows) -> None:
        self._rows_cache.pop(rows.key, None)
        self._rows_cache[rows.key] = rows          # most recently used last
        while len(self._rows_cache) > _ROWS_KEPT:
            self._rows_cache.pop(next(iter(self._rows_cache)))

    def compile_cases(self, cases: Sequence[dict], query_dropout: float = 0.0,
                      dropin: float = 0.0) -> CaseTables:
        """Tables for reference cases.  Each case is ``{"id": case_id, "missing_sex":
        ..., "relatives": [(ref_id, relation, sex, codes[L, 2]), ...]}``, optionally
        with ``"dropout": {ref_id: d}`` (the relatives' dropout probabilities; not
        named: 0).  ``query_dropout``: the candidates' dropout (the tables are for
        candidates of that dropout, folded over their true genotype), ``dropin``:
        every sample's drop-in probability (``docs/dropout.md``).  A case with any
        dropout or drop-in is compiled with it: duos by the parent-child pair table
        with the dropout folded in, single relatives by the case pedigree's table
        folded over both samples' true genotypes, couples and every other shape by
        the exact pedigree likelihood (:func:`kinship.tables.case_table`); without
        (the default) the tables are exactly those of before.

        Couples (both parents) by a closed form vectorised over the cases; one
        parent by the parent-child pair tables; one other relative (a sibling,
        grandparent, uncle, ...; :data:`SINGLE_RELATIONS`) by the case pedigree's
        table over every genotype of the relative (:meth:`single_relative_tables`);
        every other shape locus by locus with the exact pedigree likelihood
        (:func:`kinship.tables.case_table`), memoised per (shape, calls).  The
        closed forms are tested against the pedigree likelihood."""
        cases = [_canonical(c) for c in cases]
        C = len(cases)
        lr = np.ones((C, self.size))
        inc = np.zeros((C, self.size), dtype=np.uint8)
        typed = np.zeros((C, len(self.loci)), dtype=bool)
        notes: list = []
        qd, dc = float(query_dropout or 0.0), float(dropin or 0.0)
        couples, duos, singles, generic = self._classify(cases)
        drop_couples = [ci for ci in couples if qd or dc or _rel_drop(cases[ci])]
        if drop_couples:
            couples = [ci for ci in couples if ci not in set(drop_couples)]
            if self.theta > 0:
                # θ > 0: the exact pedigree likelihood (the closed form is for θ = 0)
                generic = sorted(generic + drop_couples)
            else:
                self._compile_couples_dropout(cases, drop_couples, lr, inc, typed, qd, dc)
        if couples:
            self._compile_couples(cases, couples, lr, inc, typed)
        for sex, rows in duos.items():
            if rows:
                rd = [_rel_drop(cases[i]).get(cases[i]["relatives"][0][0], 0.0) for i in rows]
                t = self.compile_pairwise("parent-child", [cases[i]["id"] for i in rows],
                                          np.stack([np.asarray(cases[i]["relatives"][0][3]) for i in rows]),
                                          [sex] * len(rows), ref_dropout=rd, query_dropout=qd,
                                          dropin=dc)
                lr[rows], inc[rows], typed[rows] = t.lr, t.inconsistent, t.typed
        by_shape: dict = {}
        for ci in singles:
            r0 = cases[ci]["relatives"][0]
            key = (r0[1], cases[ci].get("missing_sex", "unknown"), _rel_drop(cases[ci]).get(r0[0], 0.0))
            by_shape.setdefault(key, []).append(ci)
        for (rel, ms, rd), rows in by_shape.items():
            self._compile_singles(rel, ms, [np.asarray(cases[i]["relatives"][0][3]) for i in rows],
                                  np.asarray(rows, dtype=np.int64), lr, inc, typed,
                                  _drop_key(rd, qd, dc))
        for ci in generic:
            drop = (qd, dc) if (qd or dc or _rel_drop(cases[ci])) else None
            if cases[ci].get("case") is not None:
                self._compile_pedigree(cases[ci], ci, lr, inc, typed, drop)
            else:
                self._compile_generic(cases[ci], ci, lr, inc, typed, drop)
        return CaseTables([c["id"] for c in cases], lr, inc, typed, self.offsets, self.loci, "case", notes)

    def _classify(self, cases):
        """Which compiler each case gets: (couples, duos by parent sex, single
        relatives, generic), as lists of case indices."""
        silent_any = any(s.silent for s in self.systems)
        couples, duos, singles, generic = [], {"male": [], "female": []}, [], []
        for ci, case in enumerate(cases):
            rels = case["relatives"]
            if case.get("case") is not None:     # a family pedigree
                generic.append(ci)
                continue
            kinds = sorted(r[1] for r in rels)
            if kinds == ["father", "mother"] and not silent_any:
                couples.append(ci)
            elif kinds in (["father"], ["mother"]):
                duos["male" if kinds == ["father"] else "female"].append(ci)
            elif len(rels) == 1 and rels[0][1] in SINGLE_RELATIONS:
                singles.append(ci)
            else:
                generic.append(ci)
        return couples, duos, singles, generic

    def prepare_cases(self, cases: Sequence[dict]) -> None:
        """Build the per-model tables that :meth:`compile_cases` will need for these
        cases (the parent-child pair tables of duos, the single-relative tables),
        so that compiling them later only gathers rows.  Only the relations are
        read (``relatives[i][1]``) and ``missing_sex``; the genotypes may be absent.
        Thread-safe; a table is built once."""
        cases = [_canonical(c) for c in cases]
        _, duos, singles, _ = self._classify(cases)
        for sex, rows in duos.items():
            if rows:
                self.pair_tables("parent-child", sex)
        for key in sorted({(cases[ci]["relatives"][0][1], cases[ci].get("missing_sex", "unknown"))
                           for ci in singles}):
            self.single_relative_tables(*key)

    # single-relative cases --------------------------------------------------------
    def single_relative_tables(self, relation: str, missing_sex: str = "unknown",
                               ref_dropout: float = 0.0, query_dropout: float = 0.0,
                               dropin: float = 0.0) -> list:
        """Per locus ``(W, I)``, ``[G, G]`` over (the relative's genotype, M's
        genotype): the LR table of the case pedigree with one relative ``relation``
        of the missing person M, for every genotype of the relative at once.

        ``W[g_R, g] = P(R = g_R, M = g | case pedigree) / P(R = g_R, Q = g |
        pedigree + Q unrelated)``: what :func:`kinship.tables.case_table` computes
        for one call of R, with R left open (``free``) as
        :func:`kinship.tables.pair_table` does.  R keeps its place in the case
        pedigree under both hypotheses (the case convention of
        :mod:`kinship.tables`).  ``I`` marks H1 likelihood zero without mutation.
        Built once per model, relation and M's sex (thread-safe).  With dropout
        (``ref_dropout`` of R's sample, ``query_dropout`` of the candidate's,
        ``dropin``) both axes are folded over the true genotypes with
        :func:`kinship.tables.evidence_stack` instead of the indicator."""
        if relation not in SINGLE_RELATIONS:
            raise ValueError(f"unknown single relation {relation!r}; known: {', '.join(SINGLE_RELATIONS)}")
        drop = _drop_key(ref_dropout, query_dropout, dropin)
        key = (relation, missing_sex) + drop
        hit = self._single_cache.get(key)
        if hit is not None:
            return hit
        with self._lock:
            hit = self._single_cache.get(key)
            if hit is not None:
                return hit
            hit = self._load_stored("single", key)
            if hit is not None:
                self._single_cache[key] = hit
                return hit
            from .likelihood import locus_likelihood
            from .pedigree import Person
            from .tables import _evidence_unordered, _stack_or_none, _unordered, fold_pair

            ped = case_pedigree([("r0", relation, "unknown")], missing_sex=missing_sex)
            h2 = ped.with_person(Person("__candidate__", None, None, "unknown"))
            with one_blas_thread() as one:   # the same bits whoever builds it (kinship._blas)
                out = []
                for l, s in enumerate(self.systems):
                    fM, mM = self._mats[l]
                    silent = s.alleles.index(SILENT) if s.silent else None
                    args = dict(n_alleles=s.n_alleles, freqs=s.freqs, theta=self.theta, silent=silent)
                    if drop:
                        # the joint over both persons' unordered true genotypes, once per
                        # relation and locus, folded with each dropout's evidence
                        jk = (relation, missing_sex, l)
                        J3 = self._single_joints.get(jk)
                        if J3 is None:
                            J3 = self._single_joints[jk] = tuple(_unordered(x) for x in (
                                locus_likelihood(ped, {}, free=["r0", MISSING], female_M=fM,
                                                 male_M=mM, **args),
                                locus_likelihood(h2, {}, free=["r0", "__candidate__"], female_M=fM,
                                                 male_M=mM, **args),
                                locus_likelihood(ped, {}, free=["r0", MISSING], **args)))
                        eR = _evidence_unordered(s, _stack_or_none(s, drop[0], drop[2]))
                        eQ = _evidence_unordered(s, _stack_or_none(s, drop[1], drop[2]))

                        def fold2(J, eR=eR, eQ=eQ):
                            return np.asarray(eQ @ np.asarray(eR @ J).T).T

                        N, D = fold2(J3[0]), fold2(J3[1])
                        N0 = N if fM is None and mM is None else fold2(J3[2])
                    else:
                        def fold(J, silent=silent):
                            return fold_pair(J, silent)

                        N = fold(locus_likelihood(ped, {}, free=["r0", MISSING], female_M=fM, male_M=mM,
                                                  **args))
                        D = fold(locus_likelihood(h2, {}, free=["r0", "__candidate__"], female_M=fM,
                                                  male_M=mM, **args))
                        N0 = N if fM is None and mM is None else fold(
                            locus_likelihood(ped, {}, free=["r0", MISSING], **args))
                    with np.errstate(divide="ignore", invalid="ignore"):
                        W = N / D
                    W.setflags(write=False)
                    I = (N0 == 0.0).astype(np.uint8)
                    I.setflags(write=False)
                    out.append((W, I))
            self._single_cache[key] = out
            self._save_stored("single", key, out, one)
            return out

    def _compile_singles(self, relation, missing_sex, codes, rows, lr, inc, typed, drop=()):
        """Cases ``rows`` with one relative ``relation`` each (``codes``: theirs);
        ``drop``: (relative's, candidate's dropout, drop-in) or ``()``."""
        W = self.single_relative_tables(relation, missing_sex, *drop)
        g = self.genotype_indices(np.stack(codes))
        for l, (Wl, Il) in enumerate(W):
            sel = g[:, l] >= 0
            if not sel.any():
                continue
            r = rows[sel]
            o = self.offsets[l]
            lr[r, o:o + Wl.shape[1]] = Wl[g[sel, l]]
            inc[r, o:o + Wl.shape[1]] = Il[g[sel, l]]
            typed[r, l] = True

    # any other case shape ------------------------------------------------------------
    def _compile_generic(self, case, ci, lr, inc, typed, drop=None):
        """Locus by locus with the exact pedigree likelihood of the case pedigree
        (relatives renamed ``r0, r1, ..`` in a canonical order, so that cases of one
        shape with the same calls share one memoised table).  ``drop``: None, or
        (candidate's dropout, drop-in) with the relatives' in ``case["dropout"]``."""
        ms = case.get("missing_sex", "unknown")
        rels = case["relatives"]
        rd = _rel_drop(case)
        for l in range(len(self.loci)):
            calls = []
            for rid, rel, sex, codes in rels:
                a, b = int(codes[l][0]), int(codes[l][1])
                call = (rel, sex, (min(a, b), max(a, b)) if a >= 0 and b >= 0 else None)
                calls.append(call if drop is None else call + (float(rd.get(rid, 0.0)),))
            if all(c[2] is None for c in calls):
                continue
            key = _call_key if drop is None else _call_key_d
            tl, ti = self.locus_case_table(l, ms, tuple(sorted(calls, key=key)),
                                           *(drop or ()))
            o = self.offsets[l]
            lr[ci, o:o + len(tl)] = tl
            inc[ci, o:o + len(tl)] = ti
            typed[ci, l] = True

    def locus_case_table(self, l: int, missing_sex: str, calls: tuple,
                         query_dropout: float = 0.0, dropin: float = 0.0):
        """``(lr, inconsistent)`` of one locus of a case written with relation words:
        ``calls`` = ((relation, sex, (a, b) allele indices or None[, d]), ...) in
        canonical order (``d``: that relative's dropout probability);
        ``query_dropout``, ``dropin``: the candidate's dropout and every sample's
        drop-in; memoised (:meth:`_memo_table`)."""
        shape = (missing_sex, tuple((c[0], c[1]) for c in calls))
        rel_d = {f"r{k}": float(c[3]) for k, c in enumerate(calls) if len(c) > 3 and c[3]}
        drop = bool(rel_d) or bool(query_dropout) or bool(dropin)
        kw = dict(dropout=float(query_dropout), relative_dropout=rel_d or None,
                  dropin=float(dropin)) if drop else {}

        def compute():
            ped = self._pedigrees.get(shape)
            if ped is None:
                ped = case_pedigree([(f"r{k}", c[0], c[1]) for k, c in enumerate(calls)],
                                    missing_sex=missing_sex)
                self._pedigrees[shape] = ped
            s = self.systems[l]
            labels = {f"r{k}": (s.alleles[c[2][0]], s.alleles[c[2][1]])
                      for k, c in enumerate(calls) if c[2] is not None}
            return case_table(ped, MISSING, labels, s, self.mutation, self.theta, **kw)

        key = (l, missing_sex, calls) + ((float(query_dropout), float(dropin)) if drop else ())
        return self._memo_table(key, compute)

    def _memo_table(self, key, compute):
        """A locus table ``(lr, inconsistent)`` memoised under ``key`` (least recently
        used first out, ``KINSHIP_TABLE_MEMO_MB``, default 256 MB); ``compute()``
        returns a :class:`kinship.tables.LocusTable`."""
        with self._lock:
            hit = self._locus_memo.get(key)
            if hit is not None:
                self._locus_memo.move_to_end(key)
                return hit
        t = compute()
        val = (np.ascontiguousarray(t.lr), np.ascontiguousarray(t.inconsistent, dtype=np.uint8))
        for arr in val:
            arr.setflags(write=False)
        with self._lock:
            if key not in self._locus_memo:
                self._locus_memo[key] = val
                self._locus_memo_bytes += val[0].nbytes + val[1].nbytes
                while self._locus_memo_bytes > _MEMO_LIMIT and self._locus_memo:
                    _, old = self._locus_memo.popitem(last=False)
                    self._locus_memo_bytes -= old[0].nbytes + old[1].nbytes
        return val

    # family pedigrees ----------------------------------------------------------------
    def _compile_pedigree(self, case, ci, lr, inc, typed, drop=None):
        """A case given as a pedigree (``case["case"]``: :class:`kinship.cases.Case`,
        ``case["missing"]``: the missing person the query is compared as), locus by
        locus with the exact pedigree likelihood (:func:`kinship.tables.case_table`;
        the other missing persons stay untyped), memoised by (shape, calls)."""
        fam = case["case"]
        missing = case.get("missing") or fam.missing[0]
        shape = fam.structure_key(missing)
        person = {fam.samples[p]: p for p in fam.typed}
        codes = {person[r[0]]: r[3] for r in case["relatives"] if r[0] in person}
        order = fam.typed
        rd = _rel_drop(case)
        pd = tuple(float(rd.get(fam.samples[p], 0.0)) for p in order)
        kw, dkey = {}, ()
        if drop is not None:
            kw = dict(dropout=drop[0], relative_dropout={p: d for p, d in zip(order, pd) if d} or None,
                      dropin=drop[1])
            dkey = ("dropout", pd, float(drop[0]), float(drop[1]))
        for l in range(len(self.loci)):
            calls = []
            for p in order:
                c = codes.get(p)
                a, b = (int(c[l][0]), int(c[l][1])) if c is not None else (-1, -1)
                calls.append((min(a, b), max(a, b)) if a >= 0 and b >= 0 else None)
            if all(c is None for c in calls):
                continue
            s = self.systems[l]

            def compute(calls=calls, s=s):
                labels = {p: (s.alleles[c[0]], s.alleles[c[1]])
                          for p, c in zip(order, calls) if c is not None}
                return case_table(fam.pedigree, missing, labels, s, self.mutation, self.theta, **kw)

            tl, ti = self._memo_table((l, "pedigree", shape, tuple(calls)) + dkey, compute)
            o = self.offsets[l]
            lr[ci, o:o + len(tl)] = tl
            inc[ci, o:o + len(tl)] = ti
            typed[ci, l] = True

    # couples ------------------------------------------------------------------------
    def _compile_couples(self, cases, rows, lr, inc, typed):
        """Missing child of a typed couple, closed form (mutation and θ), for all
        couple cases ``rows`` at once:

            T[g] = P(M = g | F, Mo) / P_θ(Q = g | the four parental alleles)

        P(M = (x, y) ordered) = tF[x] tM[y], tF = ½(M_male[f1] + M_male[f2]),
        tM = ½(M_female[m1] + M_female[m2]); the denominator draws Q's two alleles
        from the θ pool after the parents' four (Balding–Nichols).  The parents'
        own probability cancels.  A locus where one parent is untyped is that
        parent's duo: at θ = 0 the same formula with the untyped parent's
        transmitted allele distributed as ``p M`` (a founder's allele, then
        mutation), at θ > 0 the parent-child pair table.  Tested against the exact
        pedigree likelihood.
        """
        rows = np.asarray(rows, dtype=np.int64)
        fc = np.stack([np.asarray({r[1]: r for r in cases[i]["relatives"]}["father"][3]) for i in rows])
        mc = np.stack([np.asarray({r[1]: r for r in cases[i]["relatives"]}["mother"][3]) for i in rows])
        th = self.theta
        for l, s in enumerate(self.systems):
            f1, f2 = fc[:, l, 0].astype(np.int64), fc[:, l, 1].astype(np.int64)
            m1, m2 = mc[:, l, 0].astype(np.int64), mc[:, l, 1].astype(np.int64)
            ft = (f1 >= 0) & (f2 >= 0)
            mt = (m1 >= 0) & (m2 >= 0)
            o = self.offsets[l]
            if th > 0:
                for one, sex, x1, x2 in ((ft & ~mt, "male", f1, f2), (mt & ~ft, "female", m1, m2)):
                    if one.any():  # one parent untyped at this locus: that parent's duo
                        W, I = self.pair_tables("parent-child", sex)[l]
                        g = genotype_index(np.minimum(x1[one], x2[one]), np.maximum(x1[one], x2[one]))
                        rr = rows[one]
                        lr[rr, o:o + W.shape[1]] = W[g]
                        inc[rr, o:o + W.shape[1]] = I[g]
                        typed[rr, l] = True
                sel = ft & mt
            else:
                # θ = 0: an untyped parent is a founder whose transmitted allele is
                # p M (drawn from the population, then mutated): the duo in the
                # same closed form, without the pair tables
                sel = ft | mt
            if not sel.any():
                continue
            r = rows[sel]
            f1, f2, m1, m2 = f1[sel], f2[sel], m1[sel], m2[sel]
            if th == 0:
                # the model's constants of the locus, once; each case's transmission
                # rows made in the kernel (the NumPy expressions below, elementwise)
                _couple_fill_theta0(f1, f2, m1, m2, *self._couple_constants(l), r, o, lr, inc)
                typed[r, l] = True
                continue
            ftc, mtc = ft[sel][:, None], mt[sel][:, None]
            A = s.n_alleles
            p = s.freqs
            fM, mM = self._mats[l]
            E = np.eye(A)
            Mm = E if mM is None else mM
            Mf = E if fM is None else fM
            tF = np.where(ftc, 0.5 * (Mm[f1] + Mm[f2]), p @ Mm)     # [n, A]
            tM = np.where(mtc, 0.5 * (Mf[m1] + Mf[m2]), p @ Mf)
            a, b = genotype_pairs(A)
            het = a != b
            tF0 = np.where(ftc, 0.5 * (E[f1] + E[f2]), p)
            tM0 = np.where(mtc, 0.5 * (E[m1] + E[m2]), p)
            if th > 0:
                cnt = E[f1] + E[f2] + E[m1] + E[m2]     # here both parents are typed
                first = (th * cnt + (1 - th) * p) / (1 + 3 * th)
                # second draw: counts include the first draw
                den_ab = first[:, a] * (th * (cnt[:, b] + (a == b)) + (1 - th) * p[b]) / (1 + 4 * th)
                den = np.where(het, 2 * den_ab, den_ab)
            else:
                # θ = 0: the same expression reduces to p_a p_b (x 2 if a != b), the
                # same for every case
                den = np.where(het, 2 * (p[a] * p[b]), p[a] * p[b])[None, :]
            _couple_fill(tF, tM, tF0, tM0, a, b, np.ascontiguousarray(den), r, o, lr, inc)
            typed[r, l] = True

    def _couple_constants(self, l: int) -> tuple:
        """What the couple closed form at θ = 0 takes of locus ``l``, the same for
        every case (built once per model; a race builds the same values twice):
        ``(Mm, Mf, p Mm, p Mf, p, a, b, den)`` -- the male and female mutation
        matrices (the identity without mutation), the transmitted allele of an
        untyped parent (``p M``), the frequencies, the genotypes' alleles and
        the denominator ``p_a p_b`` (x 2 if a != b), ``[1, G]``."""
        cache = self.__dict__.setdefault("_couple_consts", {})
        hit = cache.get(l)
        if hit is None:
            s = self.systems[l]
            p = s.freqs
            fM, mM = self._mats[l]
            E = np.eye(s.n_alleles)
            Mm = E if mM is None else mM
            Mf = E if fM is None else fM
            a, b = genotype_pairs(s.n_alleles)
            het = a != b
            den = np.where(het, 2 * (p[a] * p[b]), p[a] * p[b])[None, :]
            hit = cache[l] = (np.ascontiguousarray(Mm, dtype=np.float64),
                              np.ascontiguousarray(Mf, dtype=np.float64),
                              np.ascontiguousarray(p @ Mm, dtype=np.float64),
                              np.ascontiguousarray(p @ Mf, dtype=np.float64),
                              np.ascontiguousarray(p, dtype=np.float64), a, b,
                              np.ascontiguousarray(den, dtype=np.float64))
        return hit


    def _compile_couples_dropout(self, cases, rows, lr, inc, typed, qd, dc):
        """Missing child of a couple with the dropout model (θ = 0, no silent allele;
        ``docs/dropout.md``), for all couple cases ``rows`` at once.  The parents are
        founders, independent under both hypotheses, so with the child's ordered
        true genotype (x, y)

            T[g] = Σ_{x,y} E_Q[g, x, y] tF[x] tM[y] / Σ_{x,y} E_Q[g, x, y] p_x p_y,

        ``tF = w_F M_male``: the father's transmitted allele, ``w_F[a] ∝ Σ_y p_a p_y
        E_F[call_F, a, y]`` his allele's posterior given his call (his genotype's
        evidence with his dropout; ``p`` when untyped), then mutation; the same for
        the mother.  ``E_Q``: the candidate's evidence with ``qd`` (the observed
        call given the true genotype), ``dc`` every sample's drop-in.  Without
        dropout it is the couple closed form above.  Tested against the exact
        pedigree likelihood with dropout."""
        from .tables import evidence_stack

        rows = np.asarray(rows, dtype=np.int64)
        rel = [{r[1]: r for r in cases[i]["relatives"]} for i in rows]
        dd = [_rel_drop(cases[i]) for i in rows]
        dF = np.array([d.get(r["father"][0], 0.0) for r, d in zip(rel, dd)])
        dM = np.array([d.get(r["mother"][0], 0.0) for r, d in zip(rel, dd)])
        fc = np.stack([np.asarray(r["father"][3]) for r in rel])
        mc = np.stack([np.asarray(r["mother"][3]) for r in rel])
        for l, s in enumerate(self.systems):
            A = s.n_alleles
            p = np.asarray(s.freqs, dtype=np.float64)
            fM, mM = self._mats[l]
            E = np.eye(A)
            Mm = E if mM is None else mM
            Mf = E if fM is None else fM

            def posterior(codes, d):
                """Per case, the transmitted allele's distribution before mutation."""
                a, b = codes[:, l, 0].astype(np.int64), codes[:, l, 1].astype(np.int64)
                t = (a >= 0) & (b >= 0)
                out = np.tile(p, (len(a), 1))
                g = genotype_index(np.minimum(a, b), np.maximum(a, b))
                pp = np.outer(p, p)
                for dv in sorted(set(d[t].tolist())):
                    sel = np.nonzero(t & (d == dv))[0]
                    ES = evidence_stack(s, dv, dc)                 # [G, A, A]
                    w = (ES[g[sel]] * pp[None]).sum(axis=2)        # [n, A]
                    out[sel] = w / w.sum(axis=1, keepdims=True)
                return out, t

            wF, ft = posterior(fc, dF)
            wM, mt = posterior(mc, dM)
            sel = ft | mt
            if not sel.any():
                continue
            r = rows[sel]
            EQ = evidence_stack(s, qd, dc).reshape(-1, A * A)      # [G, A²]
            den = EQ @ np.outer(p, p).ravel()                      # [G]
            tF, tM = wF[sel] @ Mm, wM[sel] @ Mf
            num = np.einsum("nx,ny->nxy", tF, tM).reshape(len(r), -1) @ EQ.T
            num0 = np.einsum("nx,ny->nxy", wF[sel], wM[sel]).reshape(len(r), -1) @ EQ.T
            o = self.offsets[l]
            G = EQ.shape[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                lr[r, o:o + G] = num / den[None, :]
            inc[r, o:o + G] = (num0 == 0.0).astype(np.uint8)
            typed[r, l] = True


@jit(error_model="numpy")   # x / 0 gives inf or nan, as in NumPy (never an exception)
def _couple_fill(tF, tM, tF0, tM0, a, b, den, rows, o, lr, inc):
    """``lr[rows[i], o + g] = num / den`` with ``num = tF[a] tM[b] + tF[b] tM[a]``
    (the second term only for a != b) per case ``i`` and genotype ``g = (a, b)``;
    ``inc`` where the same without mutation (``tF0``, ``tM0``) is 0.  ``den``:
    ``[n, G]``, or ``[1, G]`` shared by every case.  One pass, no temporaries;
    the operations of the NumPy expression, in its order."""
    G = a.shape[0]
    per_case = den.shape[0] > 1
    for i in range(rows.shape[0]):
        ri = rows[i]
        di = i if per_case else 0
        for g in range(G):
            x = a[g]
            y = b[g]
            num = tF[i, x] * tM[i, y]
            num0 = tF0[i, x] * tM0[i, y]
            if x != y:
                num = num + tF[i, y] * tM[i, x]
                num0 = num0 + tF0[i, y] * tM0[i, x]
            else:
                num = num + 0.0
                num0 = num0 + 0.0
            lr[ri, o + g] = num / den[di, g]
            inc[ri, o + g] = 1 if num0 == 0.0 else 0


@jit(error_model="numpy")
def _couple_fill_theta0(f1, f2, m1, m2, Mm, Mf, pMm, pMf, p, a, b, den, rows, o, lr, inc):
    """:func:`_couple_fill` at θ = 0 with each case's transmission rows made here,
    as :meth:`ScoringModel._compile_couples` makes them in NumPy: ``tF = ½(Mm[f1] +
    Mm[f2])`` where the father is typed, else ``p Mm`` (``pMm``); ``tF0`` the same
    without mutation (``½(E[f1] + E[f2])``, else ``p``); the mother's with ``Mf``.
    The same operations on the same values, so the same bits (tested against the
    NumPy form)."""
    A = p.shape[0]
    tF = np.empty(A)
    tM = np.empty(A)
    tF0 = np.empty(A)
    tM0 = np.empty(A)
    G = a.shape[0]
    for i in range(rows.shape[0]):
        ft = f1[i] >= 0 and f2[i] >= 0
        mt = m1[i] >= 0 and m2[i] >= 0
        for x in range(A):
            if ft:
                tF[x] = 0.5 * (Mm[f1[i], x] + Mm[f2[i], x])
                tF0[x] = 0.5 * ((1.0 if f1[i] == x else 0.0) + (1.0 if f2[i] == x else 0.0))
            else:
                tF[x] = pMm[x]
                tF0[x] = p[x]
            if mt:
                tM[x] = 0.5 * (Mf[m1[i], x] + Mf[m2[i], x])
                tM0[x] = 0.5 * ((1.0 if m1[i] == x else 0.0) + (1.0 if m2[i] == x else 0.0))
            else:
                tM[x] = pMf[x]
                tM0[x] = p[x]
        ri = rows[i]
        for g in range(G):
            x = a[g]
            y = b[g]
            num = tF[x] * tM[y]
            num0 = tF0[x] * tM0[y]
            if x != y:
                num = num + tF[y] * tM[x]
                num0 = num0 + tF0[y] * tM0[x]
            else:
                num = num + 0.0
                num0 = num0 + 0.0
            lr[ri, o + g] = num / den[0, g]
            inc[ri, o + g] = 1 if num0 == 0.0 else 0


#: relations of single-relative cases compiled with the case pedigree's table over
#: every genotype of the relative (:meth:`ScoringModel.single_relative_tables`;
#: father and mother alone are duos: the parent-child closed form)
SINGLE_RELATIONS = tuple(w for w in CASE_RELATIONS if w not in ("father", "mother"))

_MEMO_LIMIT = int(float(os.environ.get("KINSHIP_TABLE_MEMO_MB", "256")) * 2**20)


_WORDS: dict = {}


def _canonical(case: dict) -> dict:
    """``case`` with its relatives' relation words in canonical form (aliases such
    as ``grandfather`` resolved: :func:`kinship.cases.normalize_relation`)."""
    rels = case["relatives"]
    if all(r[1] in _WORDS and _WORDS[r[1]] == r[1] for r in rels):
        return case
    out = []
    for r in rels:
        w = _WORDS.get(r[1])
        if w is None:
            w = _WORDS[r[1]] = normalize_relation(r[1])
        out.append((r[0], w) + tuple(r[2:]))
    return dict(case, relatives=out)


def _call_key(c):
    return (c[0], c[1], (-1, -1) if c[2] is None else c[2])


def _call_key_d(c):
    return _call_key(c) + (c[3],)


def _drop_key(ref_dropout, query_dropout, dropin) -> tuple:
    """``(d_R, d_Q, c)`` as floats, or ``()`` when all are 0 (the tables without
    dropout, under their old cache keys)."""
    v = (float(ref_dropout or 0.0), float(query_dropout or 0.0), float(dropin or 0.0))
    for x in v:
        if not 0.0 <= x < 1.0:
            raise ValueError(f"dropout and drop-in probabilities must be in [0, 1), got {x}")
    return v if any(v) else ()


def _per_row(values, n: int) -> np.ndarray:
    """One dropout probability per row from None, a number or a sequence."""
    if values is None:
        return np.zeros(n)
    a = np.asarray(values, dtype=np.float64)
    return np.full(n, float(a)) if a.ndim == 0 else a.reshape(n)


def _rel_drop(case: dict) -> dict:
    """``{ref_id: d}`` of a case's relatives with dropout > 0."""
    return {k: float(v) for k, v in (case.get("dropout") or {}).items() if v}


@dataclass
class Hits:
    """Pairs at or above the threshold: query row, table row, log10 LR and the
    number of inconsistent loci that identity mode skipped."""

    query: np.ndarray
    case: np.ndarray
    log10_lr: np.ndarray
    skipped: np.ndarray
    pairs: int

    def __len__(self):
        return len(self.query)


def packed(tables: CaseTables, max_skip: int = 0):
    """The screening form of ``tables`` (:func:`kinship.kernels.score.pack_tables`),
    built once per table block and ``max_skip`` mode and kept on the block (so
    a block's arrays must not be changed after it has been scored)."""
    from .kernels.score import pack_tables

    key = ("_packed", max_skip > 0)
    cache = tables.__dict__.setdefault("_screen_cache", {})
    if key not in cache:
        cache[key] = pack_tables(tables.log10(), tables.inconsistent, tables.typed, tables.offsets,
                                 skip=max_skip > 0)
    return cache[key]


def score(tables: CaseTables, qg: np.ndarray, threshold: float = 1e4, max_skip: int = 0,
          cap: int = 64, screen: bool = True, device: str = "cpu") -> Hits:
    """All (query, table) pairs with LR >= ``threshold``.

    ``qg``: genotype indices ``int32 [Q, L]`` (:meth:`ScoringModel.genotype_indices`).
    ``max_skip``: identity mode — loci inconsistent without mutation are left out
    of the LR and counted in ``skipped``; a pair with more than ``max_skip`` of
    them is excluded.  Pairs are screened with an exact upper bound
    (:mod:`kinship.kernels.score`) and every survivor is scored exactly, so the
    hits and their values are those of an exhaustive scan (``screen=False``
    scores every pair exactly).  ``device="gpu"`` runs the screen on a CUDA device
    (:mod:`kinship.kernels.gpu`) and the exact scores on the host: the same hits
    and values.
    """
    from ._numba import call_slp
    from .kernels.score import flat_tables, query_columns, score_queries

    qcol = query_columns(qg, tables.offsets)
    vals, inc, base = flat_tables(tables.log10(), tables.inconsistent, len(tables.loci))
    log_t = math.log10(threshold) if threshold > 0 else -math.inf
    Q = qcol.shape[0]
    pk = packed(tables, max_skip)
    exact_tile = pk.exact if screen else np.ones_like(pk.exact)
    thr = pk.thresholds(log_t)
    typed = np.ascontiguousarray(tables.typed, dtype=np.uint8)
    if device == "gpu" and screen:
        return _score_gpu(tables, pk, qcol, (vals, inc, base), typed, log_t, max_skip)
    if device not in ("cpu", "gpu"):
        raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")
    while True:
        out_case = np.empty((Q, cap), dtype=np.int32)
        out_score = np.empty((Q, cap), dtype=np.float64)
        out_nc = np.empty((Q, cap), dtype=np.int32)
        out_ni = np.empty((Q, cap), dtype=np.int32)
        out_n = np.zeros(Q, dtype=np.int32)
        if Q and len(tables):
            call_slp(score_queries, pk.rows, pk.lo, exact_tile, thr, pk.rows8,
                     pk.thresholds8(log_t, int(max_skip), screen), pk.use8.copy(), vals, inc, base, typed, qcol, log_t,
                     int(max_skip), pk.skip, cap, out_case, out_score, out_nc, out_ni, out_n)
        if out_n.size == 0 or out_n.max() <= cap:
            break
        cap = int(out_n.max())
    qi = np.repeat(np.arange(Q, dtype=np.int64), out_n)
    mask = np.arange(cap)[None, :] < out_n[:, None]
    skipped = out_ni[mask] if max_skip > 0 else np.zeros(int(mask.sum()), dtype=np.int32)
    return Hits(qi, out_case[mask].astype(np.int64), out_score[mask], skipped, pairs=Q * len(tables))


def _score_gpu(tables, pk, qcol, flat, typed, log_t, max_skip) -> Hits:
    from .kernels.gpu import screen_candidates
    from .kernels.score import score_candidates

    cq, ct, cm = screen_candidates(pk, qcol, log_t, max_skip)
    ranks = np.zeros(max(qcol.shape[0], len(tables)), dtype=np.int64)
    cap = max(16, 4 * len(cq))
    while True:
        out = [np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap), np.empty(cap, np.int32),
               np.empty(cap, np.int32)]
        n = score_candidates(*flat, typed, qcol, cq, ct, cm, ranks, ranks, False, log_t,
                             int(max_skip), *out)
        if n <= cap:
            break
        cap = n
    q, c, s, _, ni = (a[:n] for a in out)
    order = np.lexsort((c, q))     # the CPU path's order: by query, then table row
    skipped = ni[order] if max_skip > 0 else np.zeros(n, dtype=np.int32)
    return Hits(q[order], c[order], s[order], skipped, pairs=qcol.shape[0] * len(tables))


def score_exhaustive(tables: CaseTables, qg: np.ndarray) -> np.ndarray:
    """log10 LR of every pair ``[Q, C]`` without pruning (tests and baselines)."""
    from .kernels.score import score_all

    out = np.empty((qg.shape[0], len(tables)))
    score_all(np.ascontiguousarray(tables.log10()), tables.offsets.astype(np.int64),
              np.ascontiguousarray(qg, dtype=np.int32), out)
    return out
