"""Y haplotypes as dense integer arrays, and reading them from lab records.

A :class:`YHaplotypes` is a set of haploid Y-STR profiles laid out on a
:class:`~kinship.ystr.loci.YPanel`: one row per profile, one column (*slot*) per
marker copy.

Storage (``allele``, int16, shape ``(n_profiles, n_slots)``)
-----------------------------------------------------------
* a called allele is stored in **tenths of a repeat**: ``14`` -> 140,
  ``17.2`` -> 172 (microvariants keep their decimal);
* ``MISSING`` (-1): not typed;
* ``NULL`` (-2): a null allele (the marker was typed and gave no product, e.g.
  a deletion), written ``null``/``del``/``deletion`` in the input;
* ``DUPLICATED`` (-3): the marker showed more values than it has copies (a
  duplication, e.g. ``DYS19 = 14,15`` or three values at DYS385); the values are
  kept in ``extra[(row, marker)]`` and the slot is not compared;
* multi-copy markers are stored sorted (``DYS385 = 14,11`` -> ``(110, 140)``);
* ``DYS389II`` is stored raw (see :mod:`kinship.ystr.loci`).

``flags`` (uint8, same shape) records per slot: ``FLAG_MICROVARIANT`` (1),
``FLAG_NULL`` (2), ``FLAG_DUPLICATION`` (4), ``FLAG_COPIES_ASSUMED_EQUAL`` (8:
one value was given for a multi-copy marker and, because the caller asked for
it, read as all copies equal). Nothing is dropped: every call is in ``allele``,
``extra`` or both.

Comparison view
---------------
:meth:`YHaplotypes.comparison_values` is what searches and likelihood ratios
use: the DYS389II column replaced by ``DYS389II - DYS389I`` (``MISSING`` if either
is missing, duplicated or if exactly one is null; ``NULL`` if both are null), and
``DUPLICATED`` slots turned to ``MISSING`` (not compared).
:meth:`YHaplotypes.screen_codes` packs that view into uint8 codes for the
screening kernel: ``4 * repeats + fraction class`` (fraction class 0 for whole
repeats, 1, 2, 3 for ``.1``, ``.2`` and ``.3``-or-more), 254 for a null allele,
255 for not compared. Repeats above 62 cannot be packed and are rejected.

Bad input (each a :class:`YHaplotypeError` naming the sample and the marker,
unless a documented option turns it into a flag):

==============================================  ===================================
input                                           result
==============================================  ===================================
three values at a two-copy marker (DYS385)      flagged duplication (``duplications=
                                                "flag"``, default) or an error
                                                (``duplications="error"``)
two different values at a single-copy marker    the same
one value for a multi-copy marker (``DYS385 =   error (default), or all copies set to
14``)                                           it and ``FLAG_COPIES_ASSUMED_EQUAL``
                                                (``single_value_multicopy="all_copies"``)
unknown Y marker (``DYS3999``)                  error with close spellings
autosomal marker in the record                  skipped (``skip_autosomal=True``)
unknown other field                             error unless in ``ignore_fields``
sample recorded as female (sex or amelogenin X  error
only)
DYS389II not longer than DYS389I                error
off-ladder or malformed allele                  error
==============================================  ===================================
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Mapping, Sequence

import numpy as np

from .loci import (
    DYS389I,
    DYS389II,
    YLocusError,
    YPanel,
    get_panel,
    known_y_markers,
    looks_like_y_marker,
    resolve_y_marker,
)

__all__ = [
    "YHaplotypes",
    "YHaplotypeError",
    "MISSING",
    "NULL",
    "DUPLICATED",
    "FLAG_MICROVARIANT",
    "FLAG_NULL",
    "FLAG_DUPLICATION",
    "FLAG_COPIES_ASSUMED_EQUAL",
    "CODE_MISSING",
    "CODE_NULL",
]

MISSING = -1
NULL = -2
DUPLICATED = -3

FLAG_MICROVARIANT = 1
FLAG_NULL = 2
FLAG_DUPLICATION = 4
FLAG_COPIES_ASSUMED_EQUAL = 8

CODE_MISSING = 255
CODE_NULL = 254
_MAX_TENTHS = 629  # 62.9 repeats: the largest value the uint8 screen code can hold


class YHaplotypeError(ValueError):
    """A Y profile that cannot be read or stored as given."""


_MISSING_TOKENS = {"", "NA", "N/A", "ND", "-", "NAN", "NONE"}
_NULL_TOKENS = {"NULL", "DEL", "DELETION"}
_FEMALE = {"F", "FEMALE", "W", "WOMAN", "XX"}
_SPLIT = re.compile(r"[,;/\s]+|(?<=\d)-(?=\d)")


def _to_tenths(token, where: str) -> int:
    from ..markers import AlleleError, normalize_allele

    try:
        label = normalize_allele(token)
    except AlleleError as e:
        raise YHaplotypeError(f"{where}: {e}") from None
    t = int(round(float(label) * 10))
    if t > _MAX_TENTHS:
        raise YHaplotypeError(f"{where}: allele {label} is above 62.9 repeats, the largest supported")
    return t


def _parse_value(value, where: str) -> list[int]:
    """A cell -> list of tenths / NULL (empty list: not typed)."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        out: list[int] = []
        for v in value:
            out.extend(_parse_value(v, where))
        return out
    if isinstance(value, (bool, np.bool_)):
        raise YHaplotypeError(f"{where}: malformed allele {value!r}")
    if isinstance(value, (int, np.integer, float, np.floating)):
        return [_to_tenths(value.item() if hasattr(value, "item") else value, where)]
    s = str(value).strip()
    if s.upper() in _MISSING_TOKENS:
        return []
    out = []
    for tok in _SPLIT.split(s):
        if tok == "":
            continue
        if tok.upper() in _NULL_TOKENS:
            out.append(NULL)
        elif tok.upper() in _MISSING_TOKENS:
            continue
        else:
            out.append(_to_tenths(tok, where))
    return out


def _is_female(sex, amel_values) -> bool:
    if sex is not None and not (isinstance(sex, float) and math.isnan(sex)):
        if str(sex).strip().upper() in _FEMALE:
            return True
    if amel_values is not None:
        toks = [t for t in re.split(r"[,;/\s]+", str(amel_values).upper()) if t]
        if toks and all(t == "X" for t in toks):
            return True
    return False


class YHaplotypes:
    """A set of Y haplotypes on one panel (dense int16 arrays; see the module docs).

    Build with :meth:`from_records`, :meth:`from_long` or :meth:`from_arrays`.
    Instances are immutable (the arrays are read-only).
    """

    def __init__(
        self,
        panel: YPanel | str,
        allele,
        profile_id: Sequence | None = None,
        flags=None,
        extra: Mapping | None = None,
    ):
        panel = get_panel(panel)
        a = np.array(allele, dtype=np.int16, copy=True)
        if a.ndim != 2 or a.shape[1] != panel.n_slots:
            raise YHaplotypeError(
                f"allele array must have shape (n_profiles, {panel.n_slots}) for panel "
                f"{panel.name!r}, got {a.shape}"
            )
        n = a.shape[0]
        if profile_id is None:
            ids = np.array([str(i) for i in range(n)], dtype=object)
        else:
            ids = np.array(list(profile_id), dtype=object)
            if ids.shape != (n,):
                raise YHaplotypeError(f"{len(ids)} profile ids for {n} profiles")
        extra = dict(extra or {})
        self.panel = panel
        self.allele = a
        self.profile_id = ids
        self.extra = extra
        self._check_values()
        if flags is None:
            f = np.zeros(a.shape, np.uint8)
        else:
            f = np.array(flags, dtype=np.uint8, copy=True)
            if f.shape != a.shape:
                raise YHaplotypeError(f"flags shape {f.shape} differs from allele shape {a.shape}")
        f |= np.where((a >= 0) & (a % 10 != 0), FLAG_MICROVARIANT, 0).astype(np.uint8)
        f |= np.where(a == NULL, FLAG_NULL, 0).astype(np.uint8)
        f |= np.where(a == DUPLICATED, FLAG_DUPLICATION, 0).astype(np.uint8)
        self.flags = f
        for arr in (self.allele, self.flags, self.profile_id):
            arr.setflags(write=False)
        self._cache: dict = {}

    # -- validation ---------------------------------------------------------------
    def _check_values(self):
        a = self.allele
        bad = (a < DUPLICATED) | (a > _MAX_TENTHS)
        if bad.any():
            i, s = map(int, np.argwhere(bad)[0])
            raise YHaplotypeError(
                f"profile {self.profile_id[i]!r}, slot {self.panel.slots[s]}: value {a[i, s]} is "
                f"not a tenths-of-repeat allele (0..{_MAX_TENTHS}) or a sentinel (-1, -2, -3)"
            )
        dup_rows = {(r, m) for (r, m) in self.extra}
        for marker, sl in self.panel.marker_slices().items():
            block = a[:, sl]
            is_dup = block == DUPLICATED
            if sl.stop - sl.start > 1:
                partial = (is_dup.any(1) & ~is_dup.all(1)) | (
                    (block == MISSING).any(1) & ~(block == MISSING).all(1)
                )
                if partial.any():
                    i = int(np.argmax(partial))
                    raise YHaplotypeError(
                        f"profile {self.profile_id[i]!r}: multi-copy marker {marker} is partly "
                        f"typed {tuple(block[i])}; all copies must be typed, missing or "
                        "duplicated together"
                    )
                typed = block >= NULL
                unsorted = (np.diff(block, axis=1) < 0) & typed[:, 1:] & typed[:, :-1]
                if unsorted.any():
                    i = int(np.argmax(unsorted.any(1)))
                    raise YHaplotypeError(
                        f"profile {self.profile_id[i]!r}: copies of {marker} must be stored "
                        f"sorted, got {tuple(block[i])}"
                    )
            rows = np.flatnonzero(is_dup.any(1))
            for r in rows:
                if (int(r), marker) not in dup_rows:
                    raise YHaplotypeError(
                        f"profile {self.profile_id[r]!r}: {marker} is marked duplicated but "
                        f"extra[({int(r)}, {marker!r})] does not hold its values"
                    )
        for (r, m), vals in self.extra.items():
            sl = self.panel.marker_slices().get(m)
            if sl is None or not (0 <= r < a.shape[0]) or not (a[r, sl] == DUPLICATED).all():
                raise YHaplotypeError(f"extra[({r}, {m!r})] does not match a duplicated slot")
        d = self.panel.dys389_slots()
        if d is not None:
            i1, i2 = d
            both = (a[:, i1] >= 0) & (a[:, i2] >= 0)
            bad = both & (a[:, i2] <= a[:, i1])
            if bad.any():
                r = int(np.argmax(bad))
                raise YHaplotypeError(
                    f"profile {self.profile_id[r]!r}: DYS389II ({a[r, i2] / 10:g}) is not longer "
                    f"than DYS389I ({a[r, i1] / 10:g}). DYS389II contains DYS389I; check for "
                    "swapped columns, or for DYS389II recorded as II-I (store the raw DYS389II)"
                )

    # -- basic protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return self.allele.shape[0]

    @property
    def n_profiles(self) -> int:
        return self.allele.shape[0]

    @property
    def n_slots(self) -> int:
        return self.allele.shape[1]

    def __repr__(self) -> str:
        return f"YHaplotypes({self.n_profiles} profiles, panel {self.panel.name!r}, {self.n_slots} slots)"

    def __getitem__(self, idx) -> "YHaplotypes":
        rows = np.arange(self.n_profiles)[idx]
        rows = np.atleast_1d(rows)
        pos = {int(r): i for i, r in enumerate(rows)}
        extra = {(pos[r], m): v for (r, m), v in self.extra.items() if r in pos}
        return YHaplotypes(self.panel, self.allele[rows], self.profile_id[rows], self.flags[rows], extra)

    @classmethod
    def concat(cls, sets: Sequence["YHaplotypes"]) -> "YHaplotypes":
        sets = list(sets)
        if not sets:
            raise YHaplotypeError("nothing to concatenate")
        p = sets[0].panel
        for s in sets[1:]:
            if s.panel.slots != p.slots:
                raise YHaplotypeError("cannot concatenate haplotype sets on different panels; use to_panel")
        extra, off = {}, 0
        for s in sets:
            for (r, m), v in s.extra.items():
                extra[(r + off, m)] = v
            off += len(s)
        return cls(
            p,
            np.concatenate([s.allele for s in sets]),
            np.concatenate([s.profile_id for s in sets]),
            np.concatenate([s.flags for s in sets]),
            extra,
        )

    def to_panel(self, panel: YPanel | str, drop_typed: bool = False) -> "YHaplotypes":
        """The same profiles laid out on another panel.

        Slots of the new panel that this set lacks are ``MISSING``. Markers typed here
        but absent from the new panel are an error unless ``drop_typed=True``.
        """
        panel = get_panel(panel)
        if panel.slots == self.panel.slots:
            return self
        src = self.panel.marker_slices()
        dst = panel.marker_slices()
        for m in self.panel.markers:
            if m.name in dst:
                if panel.marker(m.name).copies != m.copies:
                    raise YHaplotypeError(f"{m.name}: copy numbers differ between panels")
            elif not drop_typed and (self.allele[:, src[m.name]] != MISSING).any():
                raise YHaplotypeError(
                    f"marker {m.name} is typed here but is not in panel {panel.name!r}; pass "
                    "drop_typed=True to leave it out"
                )
        a = np.full((self.n_profiles, panel.n_slots), MISSING, np.int16)
        f = np.zeros_like(a, dtype=np.uint8)
        for name, sl in dst.items():
            if name in src:
                a[:, sl] = self.allele[:, src[name]]
                f[:, sl] = self.flags[:, src[name]]
        extra = {k: v for k, v in self.extra.items() if k[1] in dst}
        return YHaplotypes(panel, a, self.profile_id, f, extra)

    # -- comparison view ------------------------------------------------------------
    def comparison_values(self) -> np.ndarray:
        """int16 ``(n, S)``: DYS389II as II-I, duplicated slots as ``MISSING`` (cached)."""
        c = self._cache.get("cmp")
        if c is None:
            c = self.allele.copy()
            c[c == DUPLICATED] = MISSING
            d = self.panel.dys389_slots()
            if d is not None:
                i1, i2 = d
                a1, a2 = self.allele[:, i1], self.allele[:, i2]
                seg = np.where((a1 >= 0) & (a2 >= 0), a2 - a1, MISSING)
                seg = np.where((a1 == NULL) & (a2 == NULL), NULL, seg)
                c[:, i2] = seg
            c.setflags(write=False)
            self._cache["cmp"] = c
        return c

    def screen_codes(self) -> np.ndarray:
        """uint8 ``(n, S)`` screening codes of :meth:`comparison_values` (cached)."""
        c = self._cache.get("codes")
        if c is None:
            c = codes_from_values(self.comparison_values())
            c.setflags(write=False)
            self._cache["codes"] = c
        return c

    def typed_mask(self) -> np.ndarray:
        """uint64 per profile: bit ``s`` set where slot ``s`` can be compared (cached)."""
        c = self._cache.get("mask")
        if c is None:
            v = self.comparison_values() != MISSING
            w = (np.uint64(1) << np.arange(self.n_slots, dtype=np.uint64))
            c = (v.astype(np.uint64) * w).sum(axis=1, dtype=np.uint64) if v.size else np.zeros(len(self), np.uint64)
            c.setflags(write=False)
            self._cache["mask"] = c
        return c

    def profile(self, i: int) -> dict:
        """One profile as ``{marker: tuple of labels}`` (raw, as stored)."""
        out = {}
        for m, sl in self.panel.marker_slices().items():
            vals = self.allele[i, sl]
            if (vals == MISSING).all():
                continue
            if (vals == DUPLICATED).all():
                out[m] = tuple(_label(v) for v in self.extra[(i, m)])
            else:
                out[m] = tuple(_label(v) for v in vals)
        return out

    def to_records(self, id_key: str = "sample") -> list[dict]:
        """Records (``{id_key: id, marker: "11,14"}``) that :meth:`from_records` reads back."""
        recs = []
        for i in range(len(self)):
            r = {id_key: self.profile_id[i]}
            for m, vals in self.profile(i).items():
                r[m] = ",".join(vals)
            recs.append(r)
        return recs

    def to_columns(self) -> dict:
        """Column arrays for a columnar store (Parquet shard): ``profile_id``, one int16
        column per slot (raw tenths and sentinels), one uint8 flag column per slot, and
        ``extra`` as a list of ``(row, marker, values)``."""
        cols = {"profile_id": self.profile_id}
        for s, name in enumerate(self.panel.slots):
            cols[f"allele.{name}"] = self.allele[:, s]
            cols[f"flags.{name}"] = self.flags[:, s]
        cols["extra"] = [(r, m, tuple(v)) for (r, m), v in sorted(self.extra.items())]
        return cols

    # -- constructors ---------------------------------------------------------------
    @classmethod
    def from_arrays(cls, panel, allele, profile_id=None, flags=None, extra=None) -> "YHaplotypes":
        """From arrays already in the storage convention (validated)."""
        return cls(panel, allele, profile_id, flags, extra)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping],
        panel: YPanel | str | None = None,
        *,
        id_key: str | None = "sample",
        sex_key: str | None = "sex",
        duplications: str = "flag",
        single_value_multicopy: str = "error",
        skip_autosomal: bool = True,
        extra_markers: str = "error",
        ignore_fields: Iterable[str] = (),
    ) -> "YHaplotypes":
        """Read profiles given as mappings ``{marker: value}``.

        A value is a number, a string (``"14"``, ``"17.2"``, ``"11,14"``,
        ``"11/14"``, ``"null"``; ``""``, ``"NA"`` or ``"-"`` mean not typed) or a list of
        those. Copies of a multi-copy marker may come as one field (``DYS385: "11,14"``)
        or one per copy (``DYS385a: 11, DYS385b: 14``).

        ``panel``: the slot layout; when None, the markers seen, in catalogue order.
        ``duplications``: ``"flag"`` (keep the values in ``extra``, slot not compared)
        or ``"error"``. ``single_value_multicopy``: ``"error"`` or ``"all_copies"``.
        ``extra_markers``: what to do with Y markers that are not in ``panel``
        (``"error"`` or ``"ignore"``). See the module docstring for every case.
        """
        if duplications not in ("flag", "error"):
            raise ValueError("duplications must be 'flag' or 'error'")
        if single_value_multicopy not in ("error", "all_copies"):
            raise ValueError("single_value_multicopy must be 'error' or 'all_copies'")
        if extra_markers not in ("error", "ignore"):
            raise ValueError("extra_markers must be 'error' or 'ignore'")
        from ..markers import LocusError, canonical_locus, is_amelogenin

        ignore = set(ignore_fields)
        panel_obj = get_panel(panel) if panel is not None else None
        declared = panel_obj.extra_markers() if panel_obj is not None else {}
        parsed: list[tuple[object, dict]] = []
        seen_markers: set[str] = set()
        for n, rec in enumerate(records):
            if id_key is not None:
                if id_key not in rec:
                    raise YHaplotypeError(f"record {n} has no {id_key!r} field (pass id_key=None to number profiles)")
                pid = rec[id_key]
            else:
                pid = str(n)
            sex = rec.get(sex_key) if sex_key else None
            amel = None
            by_marker: dict[str, dict] = {}
            for key, value in rec.items():
                if key == id_key or key == sex_key or key in ignore:
                    continue
                if is_amelogenin(key):
                    amel = value
                    continue
                try:
                    marker, copy = resolve_y_marker(key, declared)
                except YLocusError as e:
                    if looks_like_y_marker(key):
                        raise YHaplotypeError(f"profile {pid!r}: {e}") from None
                    try:
                        canonical_locus(key)
                    except LocusError:
                        raise YHaplotypeError(
                            f"profile {pid!r}: field {key!r} is neither a Y-STR marker nor a "
                            "known autosomal locus; list it in ignore_fields if it is metadata"
                        ) from None
                    if skip_autosomal:
                        continue
                    raise YHaplotypeError(f"profile {pid!r}: autosomal locus {key!r} in a Y profile")
                if panel_obj is not None and marker not in panel_obj.marker_names:
                    if extra_markers == "ignore":
                        continue
                    raise YHaplotypeError(
                        f"profile {pid!r}: marker {marker} is not in panel {panel_obj.name!r}; use "
                        "a larger panel (YPanel.union / YPanel.custom) or extra_markers='ignore'"
                    )
                where = f"profile {pid!r}, {key}"
                vals = _parse_value(value, where)
                slot = by_marker.setdefault(marker, {"whole": [], "copies": {}, "where": where})
                if copy is None:
                    slot["whole"].extend(vals)
                else:
                    if copy in slot["copies"] and vals:
                        raise YHaplotypeError(f"{where}: copy given twice")
                    if len(vals) > 1:
                        raise YHaplotypeError(f"{where}: one copy of {marker} has several values {vals}")
                    if vals:
                        slot["copies"][copy] = vals[0]
            n_y = sum(1 for d in by_marker.values() if d["whole"] or d["copies"])
            if _is_female(sex, amel):
                why = f"sex={sex!r}" if sex is not None and str(sex).strip().upper() in _FEMALE else f"amelogenin={amel!r}"
                raise YHaplotypeError(
                    f"profile {pid!r} is recorded as female ({why}) but is given as a Y "
                    f"profile ({n_y} Y markers with calls). Check the sample sheet; a female "
                    "sample has no Y haplotype"
                )
            seen_markers.update(m for m, d in by_marker.items() if d["whole"] or d["copies"])
            parsed.append((pid, by_marker))

        if panel_obj is None:
            order = list(known_y_markers())
            panel_obj = YPanel.custom(
                "inferred", sorted(seen_markers, key=lambda m: order.index(m)) or [], source="inferred from records"
            ) if seen_markers else YPanel("inferred", ())
        n = len(parsed)
        S = panel_obj.n_slots
        allele = np.full((n, S), MISSING, np.int16)
        flags = np.zeros((n, S), np.uint8)
        extra: dict = {}
        slices = panel_obj.marker_slices()
        for i, (pid, by_marker) in enumerate(parsed):
            for marker, d in by_marker.items():
                where = d["where"]
                m = panel_obj.marker(marker)
                if d["whole"] and d["copies"]:
                    raise YHaplotypeError(
                        f"profile {pid!r}: {marker} given both as a whole and per copy"
                    )
                if d["copies"]:
                    if len(d["copies"]) != m.copies:
                        raise YHaplotypeError(
                            f"profile {pid!r}: {marker} has {m.copies} copies but only copies "
                            f"{sorted('abcdefgh'[c] for c in d['copies'])} were given"
                        )
                    vals = [d["copies"][c] for c in range(m.copies)]
                else:
                    vals = d["whole"]
                if not vals:
                    continue
                sl = slices[marker]
                if m.copies == 1:
                    uniq = list(dict.fromkeys(vals))
                    if len(uniq) == 1:
                        allele[i, sl] = uniq[0]  # "14,14" at a single-copy marker: one call
                        continue
                    if duplications == "error":
                        raise YHaplotypeError(
                            f"profile {pid!r}: single-copy marker {marker} has {len(uniq)} values "
                            f"{[_label(v) for v in uniq]} (a duplication?); pass duplications='flag' "
                            "to keep it as a flagged, uncompared duplication"
                        )
                    allele[i, sl] = DUPLICATED
                    extra[(i, marker)] = tuple(sorted(uniq))
                    continue
                if len(vals) == m.copies:
                    allele[i, sl] = sorted(vals)
                elif len(vals) > m.copies:
                    if duplications == "error":
                        raise YHaplotypeError(
                            f"profile {pid!r}: {marker} has {len(vals)} values "
                            f"{[_label(v) for v in vals]} where {m.copies} are expected; pass "
                            "duplications='flag' to keep it as a flagged, uncompared duplication"
                        )
                    allele[i, sl] = DUPLICATED
                    extra[(i, marker)] = tuple(sorted(vals))
                elif len(vals) == 1:
                    if single_value_multicopy == "error":
                        raise YHaplotypeError(
                            f"profile {pid!r}: {marker} has {m.copies} copies but one value "
                            f"{_label(vals[0])!r} was given. If every copy carries it write "
                            f"'{','.join([_label(vals[0])] * m.copies)}'; or pass "
                            "single_value_multicopy='all_copies' to read it so (flagged)"
                        )
                    allele[i, sl] = vals[0]
                    flags[i, sl] |= FLAG_COPIES_ASSUMED_EQUAL
                else:
                    raise YHaplotypeError(
                        f"profile {pid!r}: {marker} has {m.copies} copies but {len(vals)} values "
                        f"{[_label(v) for v in vals]} were given"
                    )
        ids = [p for p, _ in parsed]
        return cls(panel_obj, allele, ids, flags, extra)

    @classmethod
    def from_long(
        cls,
        rows: Iterable[Mapping],
        panel: YPanel | str | None = None,
        *,
        sample_key: str = "sample",
        marker_key: str = "marker",
        allele_keys: Sequence[str] | None = None,
        sex_key: str | None = None,
        **kwargs,
    ) -> "YHaplotypes":
        """Read long rows: one row per (sample, marker) or per (sample, marker copy).

        ``allele_keys`` defaults to every column named ``allele``, ``allele1``,
        ``allele 2``, ... (case-insensitive), in order. Values of one sample and marker
        are pooled over columns and rows. A single-copy marker given the same value
        in two columns (``allele1 = allele2 = 14``, a diploid-style export) is one call.
        Other options as in :meth:`from_records`.
        """
        records: dict[object, dict] = {}
        pat = re.compile(r"^allele\s*\d*$", re.IGNORECASE)
        for n, row in enumerate(rows):
            keys = allele_keys
            if keys is None:
                keys = sorted((k for k in row if pat.match(str(k).strip())), key=_natural)
                if not keys:
                    raise YHaplotypeError(f"row {n}: no allele column (allele, allele1, ...) in {list(row)}")
            try:
                sample = row[sample_key]
                marker = row[marker_key]
            except KeyError as e:
                raise YHaplotypeError(f"row {n}: missing column {e}") from None
            rec = records.setdefault(sample, {"__sample": sample})
            if sex_key is not None and row.get(sex_key) not in (None, ""):
                prev = rec.get("__sex")
                if prev is not None and prev != row[sex_key]:
                    raise YHaplotypeError(f"sample {sample!r}: conflicting sex {prev!r} / {row[sex_key]!r}")
                rec["__sex"] = row[sex_key]
            vals = rec.setdefault(marker, [])
            for k in keys:
                v = row.get(k)
                if v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).strip() != "":
                    vals.append(v)
        return cls.from_records(
            records.values(), panel, id_key="__sample", sex_key="__sex", **kwargs
        )


def _natural(k):
    d = re.findall(r"\d+", str(k))
    return int(d[0]) if d else -1


def _label(v: int) -> str:
    if v == NULL:
        return "null"
    if v == MISSING:
        return ""
    return f"{v // 10}" if v % 10 == 0 else f"{v // 10}.{v % 10}"


def codes_from_values(cmp: np.ndarray) -> np.ndarray:
    """uint8 screening codes from comparison values (see the module docstring)."""
    cmp = np.asarray(cmp)
    v = np.maximum(cmp, 0).astype(np.int32)
    whole = v // 10
    frac = v % 10
    fc = np.minimum(frac, 3)
    code = (4 * whole + fc).astype(np.int32)
    if (code[cmp >= 0] > 251).any():
        raise YHaplotypeError("an allele above 62.9 repeats cannot be screened")
    code = np.where(cmp == MISSING, CODE_MISSING, code)
    code = np.where(cmp == NULL, CODE_NULL, code)
    return code.astype(np.uint8)


def exact_distance(a: np.ndarray, b: np.ndarray):
    """Mismatches, steps and slots compared between comparison-value rows.

    Per slot both typed: equal -> nothing; otherwise one mismatch and
    ``|whole(a) - whole(b)| + (1 if the decimals differ)`` steps; a null allele
    against a called one: one mismatch, one step. Works on ``(n, S)`` arrays.
    """
    a = np.asarray(a, np.int32)
    b = np.asarray(b, np.int32)
    both = (a != MISSING) & (b != MISSING)
    diff = both & (a != b)
    anynull = (a == NULL) | (b == NULL)
    av, bv = np.maximum(a, 0), np.maximum(b, 0)
    st = np.abs(av // 10 - bv // 10) + ((av % 10) != (bv % 10))
    st = np.where(anynull, 1, st)
    steps = np.where(diff, st, 0)
    return diff.sum(-1), steps.sum(-1), both.sum(-1)
