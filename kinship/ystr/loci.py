"""Y-STR loci, their copy numbers, and kit panels (the slot layout of a haplotype).

Vocabulary
----------
*marker*
    A Y-STR as labs name it: ``DYS19``, ``DYS385``, ``DYS389II``, ``YGATAH4``.
*copies*
    How many values a marker has in a normal man. Single-copy markers have one.
    Multi-copy markers (``DYS385``, ``DYF387S1``: 2 copies; ``DYS464``: 4) are
    amplified by one primer pair at two or more places on the chromosome; their
    values form an **unordered** tuple, stored sorted (``DYS385 = (11, 14)``).
*slot*
    One column of the dense haplotype arrays: one per copy. Slot names are the
    marker name for single-copy markers and the marker name plus ``a``, ``b``,
    ``c``, ``d`` for multi-copy markers (``DYS385a``, ``DYS385b``). A kit's
    "number of loci" counts slots: Yfiler Plus has 25 markers and 27 slots.

DYS389
------
``DYS389II`` is a longer amplicon that contains ``DYS389I``. It is *stored raw*
(the value the lab reports), and *compared* as the two segments ``DYS389I`` and
``DYS389II - DYS389I`` (compare slot name ``DYS389II-I``), so that one mutation in
the ``DYS389I`` segment counts once, not twice. A panel with ``DYS389II`` must
also have ``DYS389I``.

Panels
------
:func:`get_panel` returns the slot layout of a kit. Shipped panels:

===================  =======  =====  ===================================================
panel                markers  slots  source of the marker list
===================  =======  =====  ===================================================
``Yfiler``           16       17     AmpFlSTR Yfiler (Mulero et al. 2006, J Forensic Sci
                                     51:64-75)
``PowerPlex Y23``    22       23     ``kinship/data/loci/kit_markers.csv``
                                     (PowerPlexY23_IDX_v1.1, strvalidator kit.txt)
``Yfiler Plus``      25       27     ``kinship/data/loci/kit_markers.csv``
                                     (Yfiler_Plus_Panel_v1, strvalidator kit.txt)
===================  =======  =====  ===================================================

Larger (e.g. Chinese familial-searching) panels differ between vendors and no
machine-readable marker list with a traceable source was available, so none is
shipped: build one with :meth:`YPanel.custom`, naming the markers (any marker of
the catalogue, :func:`known_y_markers`, or new ones with their copy number).
"""
from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

__all__ = [
    "YLocusError",
    "YMarker",
    "YPanel",
    "canonical_y_marker",
    "get_panel",
    "known_y_markers",
    "panels",
    "DYS389I",
    "DYS389II",
    "DYS389_SEGMENT",
]


class YLocusError(KeyError):
    """An unknown Y-STR marker name, or a panel that cannot be built."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


DYS389I = "DYS389I"
DYS389II = "DYS389II"
#: Compare-slot name of the DYS389II slot (the II - I segment).
DYS389_SEGMENT = "DYS389II-I"

_COPY_SUFFIX = "abcdefgh"


@dataclass(frozen=True)
class YMarker:
    """A Y-STR marker: canonical name, copy number, spellings accepted."""

    name: str
    copies: int = 1
    aliases: tuple[str, ...] = ()

    @property
    def slots(self) -> tuple[str, ...]:
        if self.copies == 1:
            return (self.name,)
        return tuple(self.name + _COPY_SUFFIX[i] for i in range(self.copies))


# The catalogue: markers of the shipped kits, of the shipped mutation table, and
# further markers in common use with a copy number that is not in doubt.  Order
# matters only for inferred panels (markers are laid out in this order).
_CATALOGUE: tuple[YMarker, ...] = (
    YMarker("DYS19", aliases=("DYS394",)),
    YMarker("DYS385", 2, aliases=("DYS385AB", "DYS385A/B")),
    YMarker(DYS389I, aliases=("DYS3891", "DYS389.1")),
    YMarker(DYS389II, aliases=("DYS3892", "DYS389.2")),
    YMarker("DYS390"),
    YMarker("DYS391"),
    YMarker("DYS392"),
    YMarker("DYS393", aliases=("DYS395",)),
    YMarker("DYS437"),
    YMarker("DYS438"),
    YMarker("DYS439", aliases=("YGATAA4",)),
    YMarker("DYS448"),
    YMarker("DYS456"),
    YMarker("DYS458"),
    YMarker("DYS635", aliases=("YGATAC4",)),
    YMarker("YGATAH4", aliases=("GATAH4", "YGATAH41", "GATAH41")),
    YMarker("DYS449"),
    YMarker("DYS460", aliases=("YGATAA71",)),
    YMarker("DYS481"),
    YMarker("DYS518"),
    YMarker("DYS533"),
    YMarker("DYS549"),
    YMarker("DYS570"),
    YMarker("DYS576"),
    YMarker("DYS627"),
    YMarker("DYS643"),
    YMarker("DYF387S1", 2, aliases=("DYF387S1AB", "DYF387S1A/B")),
    # further single-copy markers used in extended panels
    YMarker("DYS388"),
    YMarker("DYS444"),
    YMarker("DYS447"),
    YMarker("DYS510"),
    YMarker("DYS522"),
    YMarker("DYS531"),
    YMarker("DYS547"),
    YMarker("DYS552"),
    YMarker("DYS557"),
    YMarker("DYS587"),
    YMarker("DYS593"),
    YMarker("DYS596"),
    YMarker("DYS612"),
    YMarker("DYS626"),
    YMarker("DYS645"),
    # further multi-copy markers
    YMarker("DYS459", 2, aliases=("DYS459AB", "DYS459A/B")),
    YMarker("DYS527", 2, aliases=("DYS527AB", "DYS527A/B")),
    YMarker("DYS526", 2, aliases=("DYS526AB", "DYS526A/B")),
    YMarker("YCAII", 2, aliases=("YCAIIAB", "YCAIIA/B", "YCA2")),
    YMarker("DYF404S1", 2, aliases=("DYF404S1AB",)),
    YMarker("DYF399S1", 3, aliases=("DYF399S1ABC",)),
    YMarker("DYS464", 4, aliases=("DYS464ABCD", "DYS464A/B/C/D")),
)


def _key(name: str) -> str:
    """Comparison key: case, spaces, ``_``, ``-`` and ``.`` ignored."""
    k = re.sub(r"[\s_\-.]", "", str(name)).upper()
    return k


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, YMarker]:
    return {m.name: m for m in _CATALOGUE}


def known_y_markers() -> tuple[str, ...]:
    """Canonical names of the catalogued Y-STR markers."""
    return tuple(m.name for m in _CATALOGUE)


def _alias_table(markers: dict[str, YMarker]) -> dict[str, tuple[str, int | None]]:
    """key -> (marker name, copy index or None)."""
    table: dict[str, tuple[str, int | None]] = {}
    for m in markers.values():
        for spelling in (m.name,) + m.aliases:
            table[_key(spelling)] = (m.name, None)
        if m.copies > 1:
            for i in range(m.copies):
                table[_key(m.name + _COPY_SUFFIX[i])] = (m.name, i)
    return table


@lru_cache(maxsize=1)
def _default_aliases():
    return _alias_table(_catalogue())


_Y_NAME = re.compile(r"^(DY[SF]\d|Y[\s_\-.]*GATA|YCA|GATA[\s_\-.]*H4)", re.IGNORECASE)


def looks_like_y_marker(name: str) -> bool:
    """True for names of Y-STR form (``DYS...``, ``DYF...``, ``Y-GATA...``, ``YCA...``)."""
    return bool(_Y_NAME.match(str(name).strip()))


def resolve_y_marker(
    name: str, extra: dict[str, YMarker] | None = None
) -> tuple[str, int | None]:
    """Return ``(canonical marker, copy index or None)`` for a column or row name.

    ``DYS385a`` resolves to ``("DYS385", 0)``; ``DYS385`` and ``DYS385a/b`` to
    ``("DYS385", None)``; ``Y-GATA-H4`` to ``("YGATAH4", None)``.

    >>> resolve_y_marker("DYS385b"), resolve_y_marker("Y-GATA-H4")
    (('DYS385', 1), ('YGATAH4', None))
    """
    if name is None or str(name).strip() == "":
        raise YLocusError("empty Y-STR marker name")
    k = _key(name)
    if extra:
        t = _alias_table(extra)
        if k in t:
            return t[k]
    t = _default_aliases()
    if k in t:
        return t[k]
    close = difflib.get_close_matches(
        str(name).upper(), list(known_y_markers()) + list(extra or ()), n=3
    )
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise YLocusError(
        f"unknown Y-STR marker {name!r}.{hint} Known markers: "
        "kinship.ystr.known_y_markers(); declare a new marker with its copy number "
        "through YPanel.custom(..., copies={'DYS999': 1})."
    )


def canonical_y_marker(name: str) -> str:
    """Canonical spelling of a Y-STR marker (copy suffixes are an error here).

    >>> canonical_y_marker("dys 389 ii"), canonical_y_marker("GATA H4")
    ('DYS389II', 'YGATAH4')
    """
    marker, copy = resolve_y_marker(name)
    if copy is not None:
        raise YLocusError(
            f"{name!r} names one copy of the multi-copy marker {marker}; "
            f"use the marker name {marker!r}"
        )
    return marker


@dataclass(frozen=True)
class YPanel:
    """The slot layout of a set of haplotypes: markers in order, with copy numbers.

    Build one with :func:`get_panel` (a shipped kit), :meth:`custom`, or
    :meth:`union`. ``slots`` names the storage columns (``DYS389II`` holds the raw
    DYS389II value); ``compare_slots`` names what is compared in that column
    (``DYS389II-I`` for the DYS389II slot).
    """

    name: str
    markers: tuple[YMarker, ...]
    source: str = ""
    _index: dict = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self):
        names = [m.name for m in self.markers]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise YLocusError(f"panel {self.name!r}: marker(s) listed twice: {dup}")
        if DYS389II in names and DYS389I not in names:
            raise YLocusError(
                f"panel {self.name!r} has DYS389II but not DYS389I: DYS389II is "
                "compared as DYS389I and DYS389II-DYS389I, so both are needed"
            )
        if len(self.slots) > 64:
            raise YLocusError(
                f"panel {self.name!r} has {len(self.slots)} slots; at most 64 are "
                "supported (typed-slot sets are 64-bit masks)"
            )
        idx = {}
        for m in self.markers:
            for i, s in enumerate(m.slots):
                idx[s] = len(idx)
        object.__setattr__(self, "_index", idx)

    # -- layout -----------------------------------------------------------------
    @property
    def marker_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.markers)

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(s for m in self.markers for s in m.slots)

    @property
    def n_slots(self) -> int:
        return sum(m.copies for m in self.markers)

    @property
    def compare_slots(self) -> tuple[str, ...]:
        return tuple(DYS389_SEGMENT if s == DYS389II else s for s in self.slots)

    def marker(self, name: str) -> YMarker:
        for m in self.markers:
            if m.name == name:
                return m
        raise YLocusError(f"marker {name!r} is not in panel {self.name!r}: {self.marker_names}")

    def slot_index(self, slot: str) -> int:
        try:
            return self._index[slot]
        except KeyError:
            raise YLocusError(f"slot {slot!r} is not in panel {self.name!r}: {self.slots}") from None

    def marker_slices(self) -> dict[str, slice]:
        """Marker name -> slice of its slots."""
        out, i = {}, 0
        for m in self.markers:
            out[m.name] = slice(i, i + m.copies)
            i += m.copies
        return out

    def multicopy_groups(self) -> list[tuple[str, tuple[int, ...]]]:
        """``(marker, slot indices)`` for every multi-copy marker."""
        sl = self.marker_slices()
        return [
            (m.name, tuple(range(sl[m.name].start, sl[m.name].stop)))
            for m in self.markers
            if m.copies > 1
        ]

    def dys389_slots(self) -> tuple[int, int] | None:
        """``(slot of DYS389I, slot of DYS389II)`` or None."""
        if DYS389II not in self._index:
            return None
        return self._index[DYS389I], self._index[DYS389II]

    def extra_markers(self) -> dict[str, YMarker]:
        """Markers of this panel that are not in the catalogue (declared by the user)."""
        cat = _catalogue()
        return {m.name: m for m in self.markers if m.name not in cat}

    # -- constructors -----------------------------------------------------------
    @classmethod
    def custom(
        cls,
        name: str,
        markers,
        copies: dict[str, int] | None = None,
        source: str = "user-defined",
    ) -> "YPanel":
        """A panel from marker names (any spelling of catalogued markers).

        ``copies`` declares markers missing from the catalogue, with their copy
        number (``{"DYS999": 1}``); it cannot change a catalogued marker's copies.

        >>> p = YPanel.custom("mini", ["DYS19", "DYS385ab", "DYS999"], copies={"DYS999": 1})
        >>> p.slots
        ('DYS19', 'DYS385a', 'DYS385b', 'DYS999')
        """
        extra = {}
        cat = _catalogue()
        for k, c in (copies or {}).items():
            if not isinstance(c, int) or isinstance(c, bool) or not 1 <= c <= 8:
                raise YLocusError(f"copies of {k!r} must be an integer 1..8, got {c!r}")
            kk = _key(k)
            hit = _default_aliases().get(kk)
            if hit is not None:
                if cat[hit[0]].copies != c:
                    raise YLocusError(
                        f"{k!r} is the catalogued marker {hit[0]} with {cat[hit[0]].copies} "
                        f"copies; it cannot be redeclared with {c}"
                    )
                continue
            extra[k.upper()] = YMarker(k.upper(), c)
        out = []
        for n in markers:
            if isinstance(n, YMarker):
                out.append(n)
                continue
            m, copy = resolve_y_marker(n, extra)
            if copy is not None:
                raise YLocusError(
                    f"panel {name!r}: {n!r} names one copy of {m}; list the marker {m!r}"
                )
            out.append(extra.get(m) or cat[m])
        return cls(name, tuple(out), source)

    def union(self, other: "YPanel", name: str | None = None) -> "YPanel":
        """Markers of ``self`` followed by those of ``other`` that are not in ``self``."""
        mine = set(self.marker_names)
        for m in other.markers:
            if m.name in mine and self.marker(m.name).copies != m.copies:
                raise YLocusError(f"marker {m.name} has different copy numbers in the two panels")
        ms = self.markers + tuple(m for m in other.markers if m.name not in mine)
        return YPanel(name or f"{self.name}+{other.name}", ms, "union")


def _data_path(*parts):
    return resources.files("kinship").joinpath("data", *parts)


# Yfiler: the 17 loci of the AmpFlSTR Yfiler kit (Mulero JJ et al. 2006, J Forensic
# Sci 51(1):64-75), listed e.g. in Bing L et al. 2013, FSI:Genetics 7(2):e23-e26.
# Every one of them is also in PowerPlex Y23 and Yfiler Plus (checked in the tests
# against kit_markers.csv).
_YFILER = (
    "DYS456", DYS389I, "DYS390", DYS389II, "DYS458", "DYS19", "DYS385", "DYS393",
    "DYS391", "DYS439", "DYS635", "DYS392", "YGATAH4", "DYS437", "DYS438", "DYS448",
)


@lru_cache(maxsize=1)
def panels() -> dict[str, YPanel]:
    """Shipped panels by name (see the module docstring for their sources)."""
    out = {
        "Yfiler": YPanel.custom(
            "Yfiler", _YFILER,
            source="AmpFlSTR Yfiler, Mulero et al. 2006 J Forensic Sci 51:64-75",
        )
    }
    by_kit: dict[str, dict] = {}
    with _data_path("loci", "kit_markers.csv").open("r", encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for row in rows:
            d = by_kit.setdefault(row["kit_panel"], {"name": row["kit_name"], "markers": [], "src": row["source"]})
            d["markers"].append(row["marker"])
    wanted = {"PowerPlexY23_IDX_v1.1": "PowerPlex Y23", "Yfiler_Plus_Panel_v1": "Yfiler Plus"}
    for kit_panel, short in wanted.items():
        d = by_kit[kit_panel]
        out[short] = YPanel.custom(
            short, d["markers"],
            source=f"kinship/data/loci/kit_markers.csv panel {kit_panel} ({d['name']}); {d['src']}",
        )
    return out


def get_panel(name: str | YPanel) -> YPanel:
    """A shipped panel by name (case, spaces and ``-`` ignored): ``"Yfiler Plus"``,
    ``"yfilerplus"``, ``"PowerPlex Y23"``, ``"PPY23"``, ``"Yfiler"``."""
    if isinstance(name, YPanel):
        return name
    ps = panels()
    k = _key(name)
    aliases = {"PPY23": "PowerPlex Y23", "Y23": "PowerPlex Y23", "YFILERPLUS": "Yfiler Plus",
               "YFP": "Yfiler Plus", "YFILER17": "Yfiler"}
    if k in aliases:
        return ps[aliases[k]]
    for n, p in ps.items():
        if _key(n) == k:
            return p
    raise YLocusError(f"unknown Y panel {name!r}; shipped panels: {sorted(ps)}; "
                      "build others with YPanel.custom(name, markers)")
