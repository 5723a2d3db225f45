"""Bulk scoring kernel: LR(Q, C) = prod_l T[C, l, g_Q,l] as a sum of log10 values.

One kernel serves every mode (duo, couple and any case table, the pairwise
relationships, identity), in :func:`kinship.search.score` and in the engine.

Three passes
------------
0. **First pass, 8 bits, saturating** (an exact upper bound, integer
   arithmetic).  Each case's log10 table is rounded *up* to a grid chosen per
   64-case tile and packed, 64 cases side by side, into one 64-byte row per
   genotype: byte ``k`` is case ``64 t + k`` (:attr:`PackedTables.rows8`).  One
   query against 64 cases is one row load and one *saturating* byte addition
   (``vpaddusb``: each sum stops at 255) per locus, with no branch: a locus the
   query did not type (column -1) reads an extra row ``S + l`` that holds the
   value 0 at locus ``l`` for every case (a select on the column as it is
   read: no per-call copy of the query's columns); four tiles share each read
   of the query's columns.  A (query, 64-case tile) with no lane left is done; otherwise
1. **Second pass, 16 bits** (an exact upper bound on a finer grid).  The same
   for 32 cases a row, four 16-bit fields per word (:attr:`PackedTables.rows`),
   run for each 32-case half that kept a lane; a lane must pass both.  No
   branch per locus here either: an untyped locus reads a row of zeros ``S``
   and the test is offset by the loci the query typed, counted as they are
   read.  A
   tile of 23 loci (CODIS 20, Penta D, Penta E and SE33 with NIST 1036
   alleles: 4,279 genotype rows) is 275 kB in either form, so it stays in L2
   cache while a block of queries streams past it.
2. **Exact score** of every pair that passes both: the float64 sum of
   ``log10 T`` over the loci both typed, in locus order ``0 .. L-1``, the same
   operations as :func:`score_all` and the NumPy baselines.  A pair is reported
   when this exact value reaches the threshold.

Saturation is what makes the first pass work for every mode.  Without it
(the design before, eight fields in a 64-bit word), the fields' sums had to
stay below 128 whatever the query, so a tile's grid was set by the largest
value of every locus (a shared rare allele: 2-3 log10 units a locus) and came
out near 1 log10 unit: parent-child tables passed 31 % of their 64-case
tiles and full siblings (every value within about one log10 unit of 0) 95 %
of the lanes.  With saturating fields only the *test* must fit 8 bits: a sum
that reaches 255 is clamped there and still passes, so large values cost
nothing and each locus needs room only below 0.  On 23 loci at LR 1e4 the
grid is 4.5 units per log10 unit (parent-child, case, identity: floors 2 log10
units deep) to 11.5 (full siblings, whose values never go below log10 1/4),
and a few lanes in 10^5 of unrelated pairs pass, in every mode (measured on
8,192 references, ``benchmarks/README.md``).

Why the first pass never drops a hit.  In a 64-case tile with grid ``s``
(grid units per log10 unit) and per-locus floors ``lo_l <= 0``, the field of
a value ``v`` at locus ``l`` is ``u = min(max(ceil(s v), lo_l) - lo_l, 255)``
(``-inf``, NaN and, for ``max_skip > 0``, inconsistent entries: ``u = 0``;
``+inf``: 255), and a locus either side did not type has the field of the
value 0, ``-lo_l``.  The pass computes, per lane, the saturated sum ``A``:
adding ``x >= 0`` to ``a`` gives ``min(a + x, 255)``, so by induction ``A =
min(sum_l u_l, 255)`` (once 255 is reached it stays).  Let ``E`` be a pair's
exact sum and ``K`` its skipped inconsistent loci (``|K| <= max_skip`` for any
pair that can be a hit).  If some ``u_l`` was clamped at 255 then ``A = 255``.
Otherwise per locus ``u_l >= s v_l - lo_l`` for every locus that enters ``E``
(raising to the floor and rounding up only increase it) and ``u_l = 0 = (-lo_l)
+ lo_l`` for ``l`` in ``K``, so ``sum u >= s E - sum_l lo_l + |K| min_l lo_l >=
s E - sum_l lo_l + max_skip min_l lo_l``.  A hit has ``E >= log_t``, so its
field sum is at least ``tp = floor(s log_t - 1e-6) - sum_l lo_l (+ max_skip
min_l lo_l)`` (:meth:`PackedTables.thresholds8`; the ``1e-6`` grid units
cover the float rounding, as below), and ``A >= min(tp, 255)``.  The test is
``A >= tp``, used only for ``1 <= tp <= 255``: then a hit passes.  For ``tp
<= 0`` every lane passes; for ``tp > 255`` (a threshold too high for the 8
bits on this tile's grid) the pass is not run and the 16-bit pass decides.
The grid is chosen so that the test fits for every threshold up to LR 10^8:
``s`` is the finest of 16, 15.875, .., 0.5 for which ``ceil(8 s) + sum_l d_l
<= 255`` with ``d_l = min(ceil(2 s), ceil(-s m_l))`` (``m_l`` the tile's
lowest value at locus ``l``, ``-inf`` counting as below any floor); then ``lo_l
= -d_l``.  (With very many loci no grid keeps 2 log10 units for each; the
coarsest then gets the floors that fit, down to 0: still an upper bound.)  A
NaN pair (0/0) is never a hit, so its fields do not matter.  A 64-case tile
(or a group of four screened together) whose first pass lets more than a
quarter of the first 64 queries of a call through, per tile on average (a low
threshold), is screened by the 16-bit pass alone for the rest of the call and
in later calls (speed only, never the hits).

The addition is emitted as LLVM IR (``llvm.uadd.sat`` on a ``<64 x i8>``
vector, :func:`_sat_masks8`); LLVM lowers it to one AVX-512BW instruction, two
AVX2 ones or four SSE2 ones, as the CPU has.

Why the 16-bit pass never drops a hit.  Field values are ``u = ceil(s v) - lo``
(``v = log10 T``, ``s`` the tile's scale, ``lo <= 0`` the tile's floor in grid
units; values below ``lo`` are raised to it).  Raising a value and rounding it
up both keep ``sum u`` at or above ``s sum v - n lo`` (``n`` = loci the query
typed), so a pair passes whenever ``s * (exact sum) >= floor(s log_t - 1e-6)``;
the ``1e-6`` grid units of slack are far more than the float rounding of the
products and of the exact sum (about ``1e-13``).  Hence screened and exhaustive
scans return exactly the same pairs and values (tested against
:func:`score_all` and a NumPy scan on random and adversarial tables).  NaN
entries (0/0: never a hit) and ``-inf`` (exclusions) are raised to ``lo``; a
tile with a ``+inf`` entry or values too large for the grid is marked
unscreened and every pair in it is scored exactly.

Identity with ``max_skip > 0``: loci where the genotypes are inconsistent
without mutation are left out of the LR, and a pair with more than
``max_skip`` of them is excluded.  The packed table then gives inconsistent
entries the floor ``lo`` and the test is shifted by ``max_skip * lo``: a pair
with at most ``max_skip`` inconsistent loci and an LR at the threshold still
passes, one with more needs ``(n_inc - max_skip) * |lo|`` grid units more,
about 20 log10 units per extra locus.

Why not the earlier designs.  Branch and bound over loci (drop a pair once its
running sum plus the largest values still to come is below the threshold)
spends a data-dependent branch per locus and prunes late for sibling tables,
which have no exclusions; allele-sharing bitsets (count the loci where a query
shares no allele with a typed relative, 64 queries per word) are exact but
weak under mutation (an excluded locus still has LR ~1e-2 to 1e-3), so 15 % of
unrelated duo pairs survived them.  The packed screen costs the same for every
mode and lets through only pairs within a grid step or so of the threshold.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._numba import jit, thread_count

__all__ = ["LANES", "LANES8", "PackedTables", "pack_tables", "pack_rows", "flat_tables", "row_extremes",
           "query_columns", "score_rows", "score_queries", "score_candidates", "score_all"]

#: cases per packed row: 8 words x 4 fields
LANES = 32
#: cases per row of the 8-bit first pass: 64 bytes, one a case
LANES8 = 64
_WORDS = 8
_FIELD_MAX = 32767          # a field's sum over all loci stays below 2^15
_MAX_SCALE = 64.0           # grid units per log10 unit (1/64 = 0.016 log10)
_FLOOR_SPAN = 12.0          # log10 units kept below 0 before values are raised to the floor
_SLACK = 1e-6               # grid units; see the module docstring
#: the 8-bit grids tried, finest first (grid units per log10 unit): 16 .. 1/2 in steps of 1/8
_SCALES8 = np.arange(128, 3, -1) / 8.0
_DEPTH8 = 2.0               # log10 units kept below 0 in the 8-bit pass (less where a locus needs less)
_RESERVE8 = 8.0             # thresholds up to LR 10^8 fit the 8-bit test (above it the pass is off)
_SAT8 = 255                 # an 8-bit field saturates here
_ALL64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_ALL32 = np.uint64(0xFFFFFFFF)
_ADAPT = 64                 # queries after which a 64-case tile whose first pass lets most
                            # queries through is screened by the 16-bit pass alone


class PackedTables:
    """The screening form of a block of tables (see :func:`pack_tables`)."""

    __slots__ = ("rows", "lo", "scale", "exact", "skip", "rows8", "lo8", "scale8", "loci", "use8")

    def __init__(self, rows, lo, scale, exact, skip, rows8, lo8, scale8, loci):
        self.rows = rows        # uint64 [T, (S + 1) * 8]: row j of tile t at rows[t, 8 j : 8 j + 8]; row S 0
        self.lo = lo            # int64 [T]: the floor, in grid units (<= 0)
        self.scale = scale      # float64 [T]: grid units per log10 unit
        self.exact = exact      # uint8 [T]: 1 = not screenable, score every pair exactly
        self.skip = skip        # packed for max_skip > 0 (inconsistent entries at the floor)
        # the 8-bit first pass (64 cases a row, saturating; see the module docstring)
        self.rows8 = rows8      # uint8 [T8, (S + L) * 64], 64-byte aligned: row j of tile t at
                                # rows8[t, 64 j : 64 j + 64], byte k = case 64 t + k; row S + l:
                                # the value 0 at locus l (the query did not type it)
        self.lo8 = lo8          # int64 [T8, L]: each locus's floor, in 8-bit grid units (<= 0)
        self.scale8 = scale8    # float64 [T8]: 8-bit grid units per log10 unit
        self.loci = loci        # L
        # uint8 [T8]: the first pass's switch per tile, set to 0 by a call that finds it
        # letting too many queries through (speed only, the hits do not depend on it);
        # every caller hands each call a copy (engine.kernels.score_tile,
        # kinship.search.score), so what a call reads never depends on earlier or
        # concurrent calls on this cached object
        self.use8 = np.ones(len(scale8), dtype=np.uint8)

    def thresholds(self, log_t: float) -> np.ndarray:
        """Per tile, the grid threshold ``floor(s log_t - slack)`` (int64); a tile
        that cannot be screened at this threshold is marked in :attr:`exact`."""
        if not math.isfinite(log_t):
            if log_t > 0:   # +inf: nothing can reach it
                return np.full(len(self.lo), np.iinfo(np.int64).max // 4, dtype=np.int64)
            return np.full(len(self.lo), -(np.iinfo(np.int64).max // 4), dtype=np.int64)
        return np.floor(self.scale * log_t - _SLACK).astype(np.int64)

    def thresholds8(self, log_t: float, max_skip: int = 0, screen: bool = True) -> np.ndarray:
        """Per 64-case tile, the test of the 8-bit first pass (int64): a lane passes
        iff its saturated field sum is ``>=`` this value, which is in ``1 .. 255``,
        or ``-1``: every lane passes.  It is ``floor(s log_t - slack) - sum_l lo_l``
        (``+ max_skip min_l lo_l`` for tables packed for ``max_skip > 0``); ``-1``
        where that is ``<= 0`` (every lane passes anyway), ``> 255`` (a threshold
        above the grid's reserve, LR 10^8 at the packing's grid: the pass cannot
        test it), for an infinite threshold, and for every tile when ``screen`` is
        false."""
        T8 = len(self.scale8)
        every = np.full(T8, -1, dtype=np.int64)
        if not screen or not math.isfinite(log_t) or abs(log_t) > 1e6:
            return every
        tp = np.floor(self.scale8 * log_t - _SLACK).astype(np.int64) - self.lo8.sum(axis=1)
        if self.skip:
            tp += int(max_skip) * self.lo8.min(axis=1, initial=0)
        return np.where((tp > 0) & (tp <= _SAT8), tp, every)


def flat_tables(log_tab: np.ndarray, incons: np.ndarray, n_loci: int) -> tuple:
    """``(vals, inc, base)``: a materialised table ``log_tab [C, S]`` of ``n_loci``
    loci (and its ``incons``) in the form the kernels read, ``vals[base[c, l] + j]`` = the value
    of case ``c`` at table column ``j`` of locus ``l``.  Here ``vals`` is the table
    itself, flattened (no copy), and ``base[c, l] = c S``; tables gathered from a
    model's pair tables (:class:`kinship.search.PairRows`) use the same form with
    each ``base[c, l]`` pointing at the model's row of the case's genotype, so a
    block of them is never materialised."""
    log_tab = np.ascontiguousarray(log_tab, dtype=np.float64)
    C, S = log_tab.shape
    base = np.broadcast_to((np.arange(C, dtype=np.int64) * S)[:, None], (C, int(n_loci)))
    return (log_tab.reshape(-1), np.ascontiguousarray(incons, dtype=np.uint8).reshape(-1),
            np.ascontiguousarray(base))


def row_extremes(vals: np.ndarray, inc: np.ndarray, starts: np.ndarray, lens: np.ndarray,
                 skip: bool) -> tuple:
    """Per row ``vals[starts[i] : starts[i] + lens[i]]``: ``(lowest, highest, has
    +inf)`` of the values the packing sees (:func:`_pack`: NaN and, ``skip``, an
    inconsistent entry count as ``-inf``; the highest leaves ``+inf`` out, which
    the third marks).  The screen's tile extremes are reductions of these over
    the tile's cases and loci (:func:`pack_rows`)."""
    starts = np.ascontiguousarray(starts, dtype=np.int64).reshape(-1)
    lens = np.ascontiguousarray(lens, dtype=np.int64).reshape(-1)
    lo = np.empty(len(starts))
    hi = np.empty(len(starts))
    inf = np.empty(len(starts), dtype=np.uint8)
    _row_extremes(vals, inc, starts, lens, bool(skip), lo, hi, inf)
    return lo, hi, inf


@jit()
def _row_extremes(vals, inc, starts, lens, skip, lo, hi, inf):
    for i in range(starts.shape[0]):
        lo_v = np.inf
        hi_v = -np.inf
        n_inf = 0
        for k in range(starts[i], starts[i] + lens[i]):
            v = vals[k]
            if np.isnan(v) or (skip and inc[k] != 0):
                v = -np.inf
            lo_v = min(lo_v, v)
            n_inf += v == np.inf
            hi_v = max(hi_v, v if v != np.inf else 0.0)
        lo[i] = lo_v
        hi[i] = hi_v
        inf[i] = n_inf > 0


def pack_tables(log_tab: np.ndarray, incons: np.ndarray, typed: np.ndarray, offsets: np.ndarray,
                skip: bool) -> PackedTables:
    """Pack ``log_tab [C, S]`` (log10 LR per case and genotype column) for the screen
    (:func:`pack_rows` of :func:`flat_tables`)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    vals, inc, base = flat_tables(log_tab, incons, len(offsets))
    S = np.shape(log_tab)[1]
    sizes = np.diff(np.append(offsets, S))
    xmin, xmax, xinf = row_extremes(vals, inc, base + offsets[None, :], np.broadcast_to(sizes, base.shape),
                                    skip)
    return pack_rows(vals, inc, base, typed, offsets, S, skip, xmin.reshape(base.shape),
                     xmax.reshape(base.shape), xinf.reshape(base.shape))


def pack_rows(vals: np.ndarray, inc: np.ndarray, base: np.ndarray, typed: np.ndarray, offsets: np.ndarray,
              S: int, skip: bool, xmin: np.ndarray, xmax: np.ndarray, xinf: np.ndarray) -> PackedTables:
    """Pack the tables ``vals[base[c, l] + j]`` (log10 LR of case ``c`` at table
    column ``j`` of locus ``l``, ``S`` columns; :func:`flat_tables`) for the screen.

    ``typed [C, L]``: loci a case did not type are packed as 0 (the exact score
    leaves them out).  ``skip``: pack for identity with ``max_skip > 0``
    (inconsistent entries at the floor).  ``xmin, xmax, xinf [C, L]``: the
    :func:`row_extremes` of each case's row at each locus (for the same
    ``skip``).  Per tile of 32 cases the scale ``s`` is the largest of ``1, 2,
    .., 64`` for which ``L`` fields of span ``[lo, hi]`` fit in 15 bits with ``hi
    = ceil(s max(0, max v))`` and at least ``12 s`` units below 0; a tile with a
    ``+inf`` entry, or values too large for any such grid, is marked
    :attr:`PackedTables.exact`.
    """
    base = np.ascontiguousarray(base, dtype=np.int64)
    C = base.shape[0]
    offsets = np.asarray(offsets, dtype=np.int64)
    L = len(offsets)
    span = _FIELD_MAX // max(1, L)              # grid units one locus may use
    ends = np.append(offsets[1:], S).astype(np.int64)       # locus l: columns offsets[l] .. ends[l] - 1
    T = (C + LANES - 1) // LANES
    rows = np.zeros((T, (S + 1) * _WORDS), dtype=np.uint64)   # row S: zeros (a locus the query lacks)
    lo = np.zeros(T, dtype=np.int64)
    scale = np.ones(T, dtype=np.float64)
    exact = np.zeros(T, dtype=np.uint8)
    T8 = (C + LANES8 - 1) // LANES8
    rows8 = _aligned_zeros((T8, (S + L) * LANES8))
    lo8 = np.zeros((T8, L), dtype=np.int64)
    scale8 = np.ones(T8, dtype=np.float64)
    col_locus = np.repeat(np.arange(L, dtype=np.int64), ends - offsets)
    args = (vals, inc, base, np.ascontiguousarray(typed, dtype=np.uint8), offsets, ends, col_locus,
            np.ascontiguousarray(xmin, dtype=np.float64), np.ascontiguousarray(xmax, dtype=np.float64),
            np.ascontiguousarray(xinf, dtype=np.uint8), bool(skip), span,
            _MAX_SCALE, _FLOOR_SPAN, _SCALES8, _DEPTH8, _RESERVE8)
    outs = (rows.view(np.uint16), lo, scale, exact, rows8, lo8, scale8)

    def run(t0, t1):    # 64-case tiles t0 .. t1 - 1 and their 32-case halves
        _pack(*args, t0, t1, *outs)

    n_threads = min(thread_count(), T8 // 32)
    if n_threads > 1:   # large sets (the core's whole-database tables): tile ranges in threads
        from concurrent.futures import ThreadPoolExecutor

        cuts = np.linspace(0, T8, n_threads + 1).astype(np.int64)
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(lambda i: run(int(cuts[i]), int(cuts[i + 1])), range(n_threads)))
    elif T8:
        run(0, T8)
    return PackedTables(rows, lo, scale, exact, bool(skip), rows8, lo8, scale8, L)


def _aligned_zeros(shape):
    """A zeroed uint8 array whose data start on a 64-byte boundary (one cache line)."""
    n = int(np.prod(shape))
    buf = np.zeros(n + 64, dtype=np.uint8)
    k = (-buf.ctypes.data) % 64
    return buf[k:k + n].reshape(shape)


@jit()
def _pack(vals, inc, base, typed, offsets, ends, col_locus, xmin, xmax, xinf, skip, span, max_scale,
          floor_span, scales, depth, reserve, t0, t1, rows16, lo, scale, exact, rows8, lo8, scale8):
    """64-case tiles ``t0 .. t1 - 1`` of the 8-bit first pass and their two 32-case
    tiles of the 16-bit pass (serial and without the GIL: a block's tables pack in
    milliseconds, and a serial kernel loads from numba's cache in a fraction of
    the time of a parallel one): each tile's extremes reduced from the rows'
    (``xmin``, ``xmax``, ``xinf``: :func:`row_extremes`), then both forms written
    64 columns at a time through a column-major buffer, so that each packed row
    is written whole, by loops over the lanes without branches (vectorised).
    ``rows16``: the 16-bit rows as ``uint16`` (field ``k`` of word ``w`` of a row
    is ``rows16[t, 32 j + 4 w + k]``: little-endian).

    The value packed for case ``c`` and column ``j`` (locus ``l``): 0 where the
    case did not type ``l``; ``-inf`` for NaN and (``skip``) an inconsistent
    entry; else ``vals[base[c, l] + j]``.

    16 bits (per 32-case tile, :func:`pack_rows`): ``s = min(floor(span / (vmax +
    floor_span)), max_scale)`` with ``vmax`` the tile's largest value (at least
    0); a tile with ``+inf`` or ``s < 1`` is marked exact (not packed); else
    ``hi = ceil(s vmax)``, the floor ``lo = hi - span``, and a value ``v``
    packs as ``ceil(s v) - lo`` where that is above 0 (else 0).

    8 bits (per 64-case tile; see the module docstring): the grid ``s`` is the
    finest of ``scales`` for which ``ceil(s reserve) + sum_l d_l <= 255`` with
    ``d_l = min(ceil(s depth), ceil(-s m_l))`` (``m_l <= 0`` the tile's lowest
    value at locus ``l``): every locus keeps ``depth`` log10 units below 0, or
    all it has; if none fits, the coarsest with the floors that fit.  The
    floor of locus ``l`` is ``lo_l = -d_l``; a value ``v`` is packed as
    ``min(max(ceil(s v), lo_l) - lo_l, 255)`` (``-inf``, NaN and skipped
    entries: 0; ``+inf``: 255)."""
    C = base.shape[0]
    L = offsets.shape[0]
    T = lo.shape[0]
    S = rows16.shape[1] // 32 - 1
    vmin = np.zeros(L)
    low = np.zeros(L, dtype=np.int64)
    vmax = np.zeros(2)
    bad = np.zeros(2, dtype=np.bool_)
    s16 = np.zeros(2)
    low16 = np.zeros(2, dtype=np.int64)
    buf = np.empty((64, 64))
    for t8 in range(t0, t1):
        c0 = t8 * 64
        c1 = min(C, c0 + 64)
        vmin[:] = 0.0
        vmax[:] = 0.0
        bad[:] = False
        for c in range(c0, c1):     # the extremes (an untyped locus, the value 0, changes neither)
            h = (c - c0) >> 5
            for l in range(L):
                if typed[c, l] == 0:
                    continue
                vmin[l] = min(vmin[l], xmin[c, l])
                vmax[h] = max(vmax[h], xmax[c, l])
                if xinf[c, l] != 0:
                    bad[h] = True
        # 16 bits: each 32-case half
        for h in range(2):
            t = 2 * t8 + h
            s16[h] = 0.0
            if t >= T:
                continue
            sh16 = math.floor(span / (vmax[h] + floor_span))
            if sh16 > max_scale:
                sh16 = max_scale
            if bad[h] or sh16 < 1:
                exact[t] = 1
                continue
            hi = math.ceil(vmax[h] * sh16)    # >= 0; the largest ceil(s v) of the tile
            low16[h] = hi - span              # <= -12 s < 0
            lo[t] = low16[h]
            scale[t] = sh16
            s16[h] = sh16
        # 8 bits: the grid and the floors
        s = scales[scales.shape[0] - 1]
        d = -1
        for k in range(scales.shape[0]):
            room = _SAT8 - math.ceil(scales[k] * reserve)
            need = 0
            for l in range(L):
                need += _floor_units(scales[k], vmin[l], math.ceil(scales[k] * depth))
            if need <= room:
                s = scales[k]
                d = math.ceil(s * depth)
                break
        if d < 0:                   # many loci: shallower floors, on the coarsest grid
            d = max(0, (_SAT8 - math.ceil(s * reserve)) // max(1, L))
        for l in range(L):
            low[l] = -_floor_units(s, vmin[l], d)
            lo8[t8, l] = low[l]
        scale8[t8] = s
        for l in range(L):          # rows S + l: the value 0 at locus l, every lane
            base8 = (S + l) * 64
            for lane in range(64):
                rows8[t8, base8 + lane] = np.uint8(-low[l])
        # both forms, a band of 64 columns at a time: the band's values, cleaned, are
        # first copied column-major into ``buf`` (in cache; lanes past the last case
        # hold -inf, which packs as 0), then each column's 64 lanes are packed from it
        # with contiguous reads and writes and no branch
        nl = c1 - c0
        for j0 in range(0, S, 64):
            j1 = min(S, j0 + 64)
            la = col_locus[j0]
            lb = col_locus[j1 - 1]
            for c in range(c0, c1):      # locus by locus: a row of the case's table each
                lane = c - c0
                for l in range(la, lb + 1):
                    ja = max(j0, offsets[l])
                    jb = min(j1, ends[l])
                    if typed[c, l] == 0:
                        for j in range(ja, jb):
                            buf[j - j0, lane] = 0.0
                        continue
                    b = base[c, l]
                    if skip:
                        for j in range(ja, jb):
                            v = vals[b + j]
                            if np.isnan(v) or inc[b + j] != 0:
                                v = -np.inf
                            buf[j - j0, lane] = v
                    else:
                        for j in range(ja, jb):
                            v = vals[b + j]
                            buf[j - j0, lane] = -np.inf if np.isnan(v) else v
            for lane in range(nl, 64):
                for j in range(j0, j1):
                    buf[j - j0, lane] = -np.inf
            for j in range(j0, j1):
                lw = np.float64(low[col_locus[j]])
                top = lw + _SAT8
                col = buf[j - j0]
                o8 = j * 64
                for lane in range(64):
                    # min(max(ceil(s v), lo) - lo, 255): -inf gives 0, +inf 255
                    y = min(max(col[lane] * s, lw), top)
                    rows8[t8, o8 + lane] = np.uint8(np.int64(np.ceil(y) - lw))
                for h in range(2):
                    if s16[h] <= 0.0:          # no such tile, or scored exactly
                        continue
                    t = 2 * t8 + h
                    sh = s16[h]
                    l16 = np.float64(low16[h])
                    o16 = j * 32
                    for k in range(32):
                        # ceil(s v) - lo where above 0, else 0 (-inf: 0; no +inf in such a tile)
                        y = max(col[32 * h + k] * sh, l16)
                        rows16[t, o16 + k] = np.uint16(np.int64(np.ceil(y) - l16))


@jit(inline="always")
def _floor_units(s, vmin, d):
    """Grid units locus floor needs below 0 on grid ``s`` for lowest value ``vmin``
    (``<= 0``, may be ``-inf``), at most ``d``."""
    if vmin >= 0.0:
        return 0
    y = -s * vmin
    if y >= d:
        return d
    return min(d, math.ceil(y))


_HIGH = np.uint64(0x8000800080008000)


@jit(inline="always")  # inlined into each kernel, so it is compiled (and vectorised) with it
def _lanes(T, qcol, q, S, thr, lo, max_skip, exact_tile, skip_typed):
    """Bit mask (bit j = lane j = case 32 t + j) of the lanes of the 16-bit tile
    ``T = rows[t]`` whose screening bound for query ``q`` reaches the threshold,
    and the number of rows read.  ``qcol`` (:func:`query_columns`): the query's
    table columns; an untyped locus (-1) reads the row of zeros ``S`` (a select,
    not a branch) and is left out of the count of loci the query typed."""
    L = qcol.shape[1]
    if exact_tile:
        return _ALL32, 0
    a0 = np.uint64(0)
    a1 = np.uint64(0)
    a2 = np.uint64(0)
    a3 = np.uint64(0)
    a4 = np.uint64(0)
    a5 = np.uint64(0)
    a6 = np.uint64(0)
    a7 = np.uint64(0)
    nq = 0
    for l in range(L):
        j = np.int64(qcol[q, l])
        typed_l = j >= 0
        nq += typed_l
        r = np.uint64(j if typed_l else S) << np.uint64(3)
        a0 += T[r]
        a1 += T[r + np.uint64(1)]
        a2 += T[r + np.uint64(2)]
        a3 += T[r + np.uint64(3)]
        a4 += T[r + np.uint64(4)]
        a5 += T[r + np.uint64(5)]
        a6 += T[r + np.uint64(6)]
        a7 += T[r + np.uint64(7)]
    # a lane passes iff its field sum >= tp (grid units, floor offsets included)
    tp = thr - nq * lo
    if skip_typed:
        tp += max_skip * lo
    if tp <= 0:
        return _ALL32, L
    if tp > 32767:
        return np.uint64(0), L
    b = np.uint64(32768 - tp)
    bb = b | (b << np.uint64(16)) | (b << np.uint64(32)) | (b << np.uint64(48))
    y0 = (a0 + bb) & _HIGH
    y1 = (a1 + bb) & _HIGH
    y2 = (a2 + bb) & _HIGH
    y3 = (a3 + bb) & _HIGH
    y4 = (a4 + bb) & _HIGH
    y5 = (a5 + bb) & _HIGH
    y6 = (a6 + bb) & _HIGH
    y7 = (a7 + bb) & _HIGH
    if (y0 | y1 | y2 | y3 | y4 | y5 | y6 | y7) == 0:
        return np.uint64(0), L
    m = np.uint64(0)
    ys = (y0, y1, y2, y3, y4, y5, y6, y7)
    for w in range(8):
        y = ys[w]
        nib = (((y >> np.uint64(15)) & np.uint64(1)) | ((y >> np.uint64(30)) & np.uint64(2))
               | ((y >> np.uint64(45)) & np.uint64(4)) | ((y >> np.uint64(60)) & np.uint64(8)))
        m |= nib << np.uint64(4 * w)
    return m, L


def _sat_masks8(K):
    """An intrinsic ``masks(rows8, t, qrow, S, tp8)``: for each of the ``K`` 64-case
    tiles ``t .. t + K - 1``, the bit mask (bit k = lane k) of the lanes whose
    saturated sum of the rows ``rows8[t + i, 64 j : 64 j + 64]`` over the loci
    ``l`` (``j = qrow[l]``, the query's table column, or ``S + l`` where it is
    -1: the locus is untyped) (8-bit unsigned fields, each addition clamped at
    255) is ``>= tp8[t + i]`` (which must be in ``1 .. 255``); a tuple of ``K``
    uint64.

    Emitted as LLVM IR: each accumulator is one ``<64 x i8>`` vector, each row
    one unaligned 64-byte load and ``llvm.uadd.sat`` (``vpaddusb``: one AVX-512
    instruction or two AVX2 ones), the test one unsigned vector compare whose
    ``<64 x i1>`` result is the mask.  numba has no 64-lane byte vector type nor
    a saturating addition of its own, and LLVM does not find this form in a
    loop over bytes.  ``K > 1`` tiles share each query column read (the rows
    of ``K`` tiles are read in one pass over the loci)."""

    @intrinsic
    def masks(typingctx, rows8, t, qrow, S, tp8):
        sig = types.UniTuple(types.uint64, K)(rows8, t, qrow, S, tp8)

        def codegen(context, builder, signature, args):
            ra = context.make_array(signature.args[0])(context, builder, args[0])
            qa = context.make_array(signature.args[2])(context, builder, args[2])
            ta = context.make_array(signature.args[4])(context, builder, args[4])
            n = builder.extract_value(qa.shape, 0)
            i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
            vec = ir.VectorType(i8, 64)
            add = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec]),
                                                 "llvm.uadd.sat.v64i8")

            def wide(v):     # an integer as i64 (sign-extended where narrower)
                return v if v.type.width == 64 else builder.sext(v, i64)

            t0 = wide(args[1])
            s0 = wide(args[3])
            stride = builder.extract_value(ra.strides, 0)
            data = builder.bitcast(ra.data, i8.as_pointer())
            bases = [builder.gep(data, [builder.mul(builder.add(t0, ir.Constant(i64, k)), stride)])
                     for k in range(K)]
            accs = [cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(K)]
            with cgutils.for_range(builder, n) as loop:
                j = wide(builder.load(builder.gep(qa.data, [loop.index])))
                j = builder.select(builder.icmp_signed("<", j, ir.Constant(i64, 0)),
                                   builder.add(s0, loop.index), j)     # untyped: row S + l
                off = builder.mul(j, ir.Constant(i64, 64))
                for k in range(K):
                    x = builder.load(builder.bitcast(builder.gep(bases[k], [off]), vec.as_pointer()), align=1)
                    builder.store(builder.call(add, [builder.load(accs[k]), x]), accs[k])
            out = []
            for k in range(K):
                tp = builder.load(builder.gep(ta.data, [builder.add(t0, ir.Constant(i64, k))]))
                one = builder.insert_element(ir.Constant(vec, ir.Undefined), builder.trunc(tp, i8),
                                             ir.Constant(i32, 0))
                tps = builder.shuffle_vector(one, ir.Constant(vec, ir.Undefined),
                                             ir.Constant(ir.VectorType(i32, 64), None))
                out.append(builder.bitcast(builder.icmp_unsigned(">=", builder.load(accs[k]), tps), i64))
            return context.make_tuple(builder, signature.return_type, out)

        return sig, codegen

    return masks


#: 64-case tiles the 8-bit pass screens together (sharing the query's column reads)
_K8 = 4                     # (_first_pass_group spells out the 4 masks)
_masks8_1 = _sat_masks8(1)
_masks8_k = _sat_masks8(_K8)


@jit(inline="always")
def _lanes8(rows8, t, qcol, S, q, tp8):
    """Bit mask (bit j = lane j = case 64 t + j) of the lanes of the 8-bit tile
    ``rows8[t]`` whose first-pass bound for query ``q`` reaches ``tp8[t]``
    (:meth:`PackedTables.thresholds8`; ``<= 0``: every lane).  ``qcol[q, l]``:
    the query's table column; an untyped locus (-1) reads row ``S + l`` (the
    value 0 at locus ``l``): a select, no branch per locus."""
    if tp8[t] <= 0:
        return _ALL64
    return _masks8_1(rows8, t, qcol[q], S, tp8)[0]


@jit()
def _lowest(m):
    """Index of the lowest set bit of ``m != 0``."""
    j = 0
    while ((m >> np.uint64(j)) & np.uint64(1)) == 0:
        j += 1
    return j


@jit()
def _exact(vals, inc, base, typed, qcol, q, c, max_skip, log_t):
    """(is a hit, exact log10 LR in locus order, loci compared, loci inconsistent)
    of one pair; with ``max_skip > 0`` a pair with more inconsistent loci is none.
    The value of case ``c`` at table column ``j`` (locus ``l``) is
    ``vals[base[c, l] + j]`` (:func:`flat_tables`)."""
    L = qcol.shape[1]
    s = 0.0
    nc = 0
    ni = 0
    for l in range(L):
        j = qcol[q, l]
        if j < 0 or typed[c, l] == 0:
            continue
        nc += 1
        k = base[c, l] + j
        if inc[k] != 0:
            ni += 1
            if max_skip > 0:
                continue
        s += vals[k]
    hit = s >= log_t and not (max_skip > 0 and ni > max_skip)
    return hit, s, nc, ni


@jit(inline="always")
def _emit(out_q, out_c, out_s, out_nc, out_ni, n, q, c, s, nc, ni):
    """Write hit number ``n`` if the outputs have room; the next hit number."""
    if n < out_q.shape[0]:
        out_q[n] = q
        out_c[n] = c
        out_s[n] = s
        out_nc[n] = nc
        out_ni[n] = ni
    return n + 1


@jit(inline="always")
def _score_lanes(m, c0, q, canonical, q_rank, c_rank, vals, inc, base, typed, qcol, max_skip, log_t,
                 out_q, out_c, out_s, out_nc, out_ni, n):
    """The exact pass over the lanes set in ``m`` (cases ``c0 + lane``) for query
    ``q``: hits written from number ``n`` on.  Returns (the next hit number, pairs
    scored exactly, table values read)."""
    C = base.shape[0]
    scored = 0
    reads = 0
    while m != 0:
        c = c0 + _lowest(m)
        m &= m - np.uint64(1)
        if c >= C:
            break
        if canonical and q_rank[q] <= c_rank[c]:
            continue
        hit, s, nc, ni = _exact(vals, inc, base, typed, qcol, q, c, max_skip, log_t)
        scored += 1
        reads += nc
        if hit:
            n = _emit(out_q, out_c, out_s, out_nc, out_ni, n, q, c, s, nc, ni)
    return n, scored, reads


def query_columns(qg: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``qcol[q, l] = offsets[l] + qg[q, l]`` (-1 where untyped): the table column
    of each query genotype, the kernels' query input; int16 when every column
    fits (``max offset + max genotype index <= 32767``), else int32."""
    qg = np.ascontiguousarray(qg)
    offsets = np.asarray(offsets, dtype=np.int64)
    if qg.ndim != 2 or qg.shape[1] != len(offsets):
        raise ValueError(f"query genotypes {qg.shape} do not match {len(offsets)} loci")
    top = int(offsets.max()) + int(qg.max()) if qg.size else 0
    out = np.empty(qg.shape, dtype=np.int16 if top <= np.iinfo(np.int16).max else np.int32)
    if qg.size:
        _columns(qg, offsets, out)
    return out


@jit()
def _columns(qg, offsets, out):
    for q in range(qg.shape[0]):
        for l in range(qg.shape[1]):
            g = qg[q, l]
            out[q, l] = -1 if g < 0 else offsets[l] + g


@jit()
def _first_pass_group(rows8, t8, qcol, S, tp8, use8, cand_q, cand_k, cand_m):
    """The first pass of every query against the ``_K8`` tiles ``t8 ..``
    (screened together): the (query, tile offset, lane mask) of each tile with
    a lane left, in query order, written to ``cand_*``; returns (their number,
    the first query left to the 16-bit pass alone: all of them, unless the
    group lets more than a quarter of the first ``_ADAPT`` queries through per
    tile, which switches the group's first pass off).  A function of its own
    (not inlined): its loop is compiled apart from the callers' larger bodies
    (measured about 5 % faster, within the noise of this machine)."""
    Q = qcol.shape[0]
    n = 0
    for q in range(Q):
        if q == _ADAPT and 4 * n > _K8 * _ADAPT:
            for k in range(_K8):
                use8[t8 + k] = 0
            return n, q
        ms = _masks8_k(rows8, t8, qcol[q], S, tp8)
        if (ms[0] | ms[1] | ms[2] | ms[3]) == 0:     # nearly always: no lane left
            continue
        for k in range(_K8):
            if ms[k] != 0:
                cand_q[n] = q
                cand_k[n] = k
                cand_m[n] = ms[k]
                n += 1
    return n, Q


@jit(inline="always")
def _second_pass(m8, t8, q, rows, S, thr, lo, exact_tile, max_skip, skip_packed, canonical, q_rank,
                 c_rank, vals, inc, base, typed, qcol, log_t, out_q, out_c, out_s, out_nc, out_ni, n):
    """The 16-bit pass and the exact score for query ``q`` over the lanes ``m8``
    of 64-case tile ``t8`` that passed the first pass (each 32-case half with a
    lane left).  Returns (next hit number, rows and values read, pairs scored)."""
    T = rows.shape[0]
    reads = 0
    exact_pairs = 0
    for h in range(2):
        t = 2 * t8 + h
        mh = (m8 >> np.uint64(32 * h)) & _ALL32
        if t >= T or mh == 0:
            continue
        m, nr = _lanes(rows[t], qcol, q, S, thr[t], lo[t], max_skip, exact_tile[t] != 0, skip_packed)
        reads += nr
        m &= mh
        if m != 0:
            n, ne, nr = _score_lanes(m, 32 * t, q, canonical, q_rank, c_rank, vals, inc, base, typed, qcol,
                                     max_skip, log_t, out_q, out_c, out_s, out_nc, out_ni, n)
            exact_pairs += ne
            reads += nr
    return n, reads, exact_pairs


@jit(inline="always")
def _pass16(t, q0, q1, rows, S, thr, lo, exact_tile, max_skip, skip_packed, canonical, q_rank, c_rank,
            vals, inc, base, typed, qcol, log_t, out_q, out_c, out_s, out_nc, out_ni, n):
    """The 16-bit pass alone (then the exact score) for queries ``q0 .. q1 - 1``
    against 32-case tile ``t``.  Returns as :func:`_second_pass`."""
    Tt = rows[t]
    tt = thr[t]
    lt = lo[t]
    et = exact_tile[t] != 0
    reads = 0
    exact_pairs = 0
    for q in range(q0, q1):
        m, nr = _lanes(Tt, qcol, q, S, tt, lt, max_skip, et, skip_packed)
        reads += nr
        if m != 0:
            n, ne, nr = _score_lanes(m, 32 * t, q, canonical, q_rank, c_rank, vals, inc, base, typed, qcol,
                                     max_skip, log_t, out_q, out_c, out_s, out_nc, out_ni, n)
            exact_pairs += ne
            reads += nr
    return n, reads, exact_pairs


@jit()
def score_rows(rows, lo, exact_tile, thr, rows8, tp8, use8, vals, inc, base, typed, qcol, q_rank, c_rank,
               canonical, log_t, max_skip, skip_packed, out_q, out_c, out_s, out_nc, out_ni, stats):
    """Every query of ``qcol`` (:func:`query_columns`) against every case (serial;
    releases the GIL).

    For each 64-case tile and query: the 8-bit first pass (``rows8``, ``tp8`` =
    :meth:`PackedTables.thresholds8`, ``use8`` = :attr:`PackedTables.use8`;
    groups of four tiles whose first pass is on are screened together), then
    for each 32-case half with a lane left the 16-bit pass (``rows``,
    ``thr``), then the exact score of the lanes that passed both; where the
    first pass is off (``tp8 <= 0``: the threshold is out of its range; or it
    lets more than a quarter of the first 64 queries through) the 16-bit pass
    alone, 32-case tile by tile.
    Writes hits ``(q, c, log10 LR, compared, inconsistent)`` to the ``out_*``
    arrays up to their length (in an order that depends on which passes ran:
    callers sort them) and returns the number of hits (call again with larger
    arrays when it exceeds them).  ``canonical``: only pairs with ``q_rank[q] >
    c_rank[c]``.  ``stats[0]`` += packed rows read (both passes) plus exact
    lookups, ``stats[1]`` += pairs scored exactly."""
    T = rows.shape[0]
    T8 = rows8.shape[0]
    Q = qcol.shape[0]
    L = qcol.shape[1]
    S = rows.shape[1] // _WORDS - 1
    cand_q = np.empty(_K8 * Q, dtype=np.int64)       # first-pass survivors of a group of tiles
    cand_k = np.empty(_K8 * Q, dtype=np.int64)
    cand_m = np.empty(_K8 * Q, dtype=np.uint64)
    n = 0
    reads = 0
    exact_pairs = 0
    t8 = 0
    while t8 < T8:
        g = min(_K8, T8 - t8)
        group = g == _K8             # K tiles with an active first pass: screened together
        for k in range(g):
            if tp8[t8 + k] <= 0 or use8[t8 + k] == 0:
                group = False
        if group:
            nc, rest = _first_pass_group(rows8, t8, qcol, S, tp8, use8, cand_q, cand_k, cand_m)
            for i in range(nc):
                n, nr, ne = _second_pass(cand_m[i], t8 + cand_k[i], cand_q[i], rows, S, thr, lo, exact_tile,
                                         max_skip, skip_packed, canonical, q_rank, c_rank, vals, inc, base,
                                         typed, qcol, log_t, out_q, out_c, out_s, out_nc, out_ni, n)
                reads += nr
                exact_pairs += ne
            reads += _K8 * L * rest
            for t in range(2 * t8, min(T, 2 * (t8 + g))):
                n, nr, ne = _pass16(t, rest, Q, rows, S, thr, lo, exact_tile, max_skip, skip_packed,
                                    canonical, q_rank, c_rank, vals, inc, base, typed, qcol, log_t, out_q,
                                    out_c, out_s, out_nc, out_ni, n)
                reads += nr
                exact_pairs += ne
        else:
            for t1 in range(t8, t8 + g):
                rest = 0
                if tp8[t1] > 0 and use8[t1] != 0:
                    rest = Q
                    passed = 0
                    for q in range(Q):
                        if q == _ADAPT and 4 * passed > _ADAPT:
                            rest = q
                            use8[t1] = 0
                            break
                        m8 = _lanes8(rows8, t1, qcol, S, q, tp8)
                        reads += L
                        if m8 != 0:
                            passed += 1
                            n, nr, ne = _second_pass(m8, t1, q, rows, S, thr, lo, exact_tile, max_skip,
                                                     skip_packed, canonical, q_rank, c_rank, vals, inc, base,
                                                     typed, qcol, log_t, out_q, out_c, out_s, out_nc, out_ni,
                                                     n)
                            reads += nr
                            exact_pairs += ne
                for t in range(2 * t1, min(T, 2 * t1 + 2)):
                    n, nr, ne = _pass16(t, rest, Q, rows, S, thr, lo, exact_tile, max_skip, skip_packed,
                                        canonical, q_rank, c_rank, vals, inc, base, typed, qcol, log_t, out_q,
                                        out_c, out_s, out_nc, out_ni, n)
                    reads += nr
                    exact_pairs += ne
        t8 += g
    stats[0] += reads
    stats[1] += exact_pairs
    return n


@jit(parallel=True)
def score_queries(rows, lo, exact_tile, thr, rows8, tp8, use8, vals, inc, base, typed, qcol, log_t, max_skip,
                  skip_packed, cap, out_case, out_score, out_nc, out_ni, out_n):
    """Every query against every case, queries in parallel blocks, the passes of
    :func:`score_rows`; hits of query ``q`` in ``out_*[q, :out_n[q]]`` (cases in
    order; ``out_n[q]`` may exceed ``cap``: call again with a larger one)."""
    Q = qcol.shape[0]
    C = base.shape[0]
    T = rows.shape[0]
    T8 = rows8.shape[0]
    S = rows.shape[1] // _WORDS - 1
    B = 2048
    nb = (Q + B - 1) // B
    for bi in prange(nb):
        q0 = bi * B
        q1 = min(Q, q0 + B)
        for q in range(q0, q1):
            out_n[q] = 0
        cand_q = np.empty(_K8 * (q1 - q0), dtype=np.int64)
        cand_k = np.empty(_K8 * (q1 - q0), dtype=np.int64)
        cand_m = np.empty(_K8 * (q1 - q0), dtype=np.uint64)
        t8 = 0
        while t8 < T8:
            g = min(_K8, T8 - t8)
            group = g == _K8
            for k in range(g):
                if tp8[t8 + k] <= 0 or use8[t8 + k] == 0:
                    group = False
            if group:                # as in score_rows: 4 tiles screened together
                nc, r = _first_pass_group(rows8, t8, qcol[q0:q1], S, tp8, use8, cand_q, cand_k, cand_m)
                for i in range(nc):
                    _second_pass_hits(cand_m[i], t8 + cand_k[i], q0 + cand_q[i], C, rows, S, thr, lo,
                                      exact_tile, max_skip, skip_packed, vals, inc, base, typed, qcol, log_t,
                                      cap, out_case, out_score, out_nc, out_ni, out_n)
                rest = q0 + r
                for t in range(2 * t8, min(T, 2 * (t8 + g))):
                    for q in range(rest, q1):
                        m, nr = _lanes(rows[t], qcol, q, S, thr[t], lo[t], max_skip, exact_tile[t] != 0,
                                       skip_packed)
                        _query_hits(m, 32 * t, q, C, vals, inc, base, typed, qcol, max_skip, log_t,
                                    cap, out_case, out_score, out_nc, out_ni, out_n)
                t8 += g
                continue
            for t1 in range(t8, t8 + g):
                rest = q0
                if tp8[t1] > 0 and use8[t1] != 0:
                    rest = q1
                    passed = 0
                    for q in range(q0, q1):
                        if q - q0 == _ADAPT and 4 * passed > _ADAPT:
                            rest = q
                            use8[t1] = 0
                            break
                        m8 = _lanes8(rows8, t1, qcol, S, q, tp8)
                        if m8 == 0:
                            continue
                        passed += 1
                        _second_pass_hits(m8, t1, q, C, rows, S, thr, lo, exact_tile, max_skip, skip_packed,
                                          vals, inc, base, typed, qcol, log_t, cap, out_case, out_score, out_nc,
                                          out_ni, out_n)
                for t in range(2 * t1, min(T, 2 * t1 + 2)):
                    for q in range(rest, q1):
                        m, nr = _lanes(rows[t], qcol, q, S, thr[t], lo[t], max_skip, exact_tile[t] != 0,
                                       skip_packed)
                        _query_hits(m, 32 * t, q, C, vals, inc, base, typed, qcol, max_skip, log_t,
                                    cap, out_case, out_score, out_nc, out_ni, out_n)
            t8 += g


@jit(inline="always")
def _second_pass_hits(m8, t8, q, C, rows, S, thr, lo, exact_tile, max_skip, skip_packed, vals, inc, base,
                      typed, qcol, log_t, cap, out_case, out_score, out_nc, out_ni, out_n):
    """:func:`_second_pass` for :func:`score_queries` (hits per query)."""
    T = rows.shape[0]
    for h in range(2):
        t = 2 * t8 + h
        mh = (m8 >> np.uint64(32 * h)) & _ALL32
        if t >= T or mh == 0:
            continue
        m, nr = _lanes(rows[t], qcol, q, S, thr[t], lo[t], max_skip, exact_tile[t] != 0, skip_packed)
        _query_hits(m & mh, 32 * t, q, C, vals, inc, base, typed, qcol, max_skip, log_t, cap, out_case,
                    out_score, out_nc, out_ni, out_n)


@jit(inline="always")
def _query_hits(m, c0, q, C, vals, inc, base, typed, qcol, max_skip, log_t, cap, out_case, out_score,
                out_nc, out_ni, out_n):
    """The exact pass of :func:`score_queries` over the lanes of ``m``."""
    while m != 0:
        c = c0 + _lowest(m)
        m &= m - np.uint64(1)
        if c >= C:
            break
        hit, s, nc, ni = _exact(vals, inc, base, typed, qcol, q, c, max_skip, log_t)
        if hit:
            k = out_n[q]
            if k < cap:
                out_case[q, k] = c
                out_score[q, k] = s
                out_nc[q, k] = nc
                out_ni[q, k] = ni
            out_n[q] = k + 1


@jit()
def lane_masks(rows, lo, exact_tile, thr, qcol, max_skip, skip_packed, out):
    """``out[q, t]``: the screen's lane mask of query ``q`` and tile ``t`` (the
    reference the GPU screen is tested against)."""
    S = rows.shape[1] // 8 - 1
    for t in range(rows.shape[0]):
        for q in range(qcol.shape[0]):
            m, _ = _lanes(rows[t], qcol, q, S, thr[t], lo[t], max_skip, exact_tile[t] != 0, skip_packed)
            out[q, t] = m


@jit()
def lane_masks8(rows8, tp8, qcol, S, out):
    """``out[q, t8]``: the 8-bit first pass's lane mask of query ``q`` and 64-case
    tile ``t8`` (bit j = case 64 t8 + j; tested on its own against exhaustive
    scores)."""
    for t in range(rows8.shape[0]):
        for q in range(qcol.shape[0]):
            out[q, t] = _lanes8(rows8, t, qcol, S, q, tp8)


@jit()
def score_candidates(vals, inc, base, typed, qcol, cand_q, cand_t, cand_m, q_rank, c_rank, canonical,
                     log_t, max_skip, out_q, out_c, out_s, out_nc, out_ni):
    """The exact pass over screen candidates from elsewhere (the GPU screen):
    ``(cand_q[i], tile cand_t[i], lane mask cand_m[i])``; outputs and return value
    as :func:`score_rows`."""
    n = 0
    for i in range(cand_q.shape[0]):
        n, _, _ = _score_lanes(cand_m[i], cand_t[i] * 32, cand_q[i], canonical, q_rank, c_rank, vals,
                               inc, base, typed, qcol, max_skip, log_t, out_q, out_c, out_s, out_nc,
                               out_ni, n)
    return n


@jit(parallel=True)
def score_all(log_tab, offsets, qg, out):
    """Exhaustive log10 LR of every (query, case) pair (no screening): the plain
    reference the screened kernel is tested against, and a benchmark baseline.
    Loci in order ``0 .. L-1``; a case's untyped loci hold log10 1 = 0."""
    Q = qg.shape[0]
    C = log_tab.shape[0]
    L = offsets.shape[0]
    for q in prange(Q):
        for c in range(C):
            acc = 0.0
            for l in range(L):
                g = qg[q, l]
                if g >= 0:
                    acc += log_tab[c, offsets[l] + g]
            out[q, c] = acc
