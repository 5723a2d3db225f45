"""Markers (loci), allele labels and kits.

Locus names
-----------
Every locus has one canonical name, the spelling used by the bundled frequency
tables (``vWA``, ``TH01``, ``CSF1PO``, ``Penta D``, ``Penta E``,
``D22GATA198B05`` ...).  Labs write the same locus in many ways (``VWA``,
``THO1``, ``CSF1P0``, ``PENTA_E``, ``PentaE``, ``Penta-E``); :func:`canonical_locus`
maps all of them to the canonical name.  The comparison key ignores case, spaces,
``_``, ``-`` and ``.``, and treats the letter ``O`` and the digit ``0`` alike (the
usual typing slip in ``THO1`` / ``CSF1P0``).

Amelogenin (``AMEL``, ``Amelogenin``, ``AM``) is recognised, read for sex by the
importers, and never used as a likelihood-ratio locus: :func:`is_amelogenin`.

Allele labels
-------------
Alleles are strings.  Numeric labels are normalised (``"09"`` -> ``"9"``,
``"10.0"`` -> ``"10"``, ``"9.30"`` -> ``"9.3"``); microvariants carry one decimal
digit (``9.3``, ``13.2``).  Off-ladder labels of the forms ``<8``, ``>27`` and
``OL`` are *recognised* (:func:`is_off_ladder`) but rejected by
:func:`normalize_allele`, because an off-ladder call cannot be compared with
another: re-designate it against the ladder, or drop the locus for that sample.
Everything else (``1O``, ``9..3``, ``-1``, empty) is a :class:`AlleleError`.
"""
from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = [
    "AlleleError",
    "LocusError",
    "canonical_locus",
    "is_amelogenin",
    "normalize_allele",
    "allele_value",
    "is_off_ladder",
    "known_loci",
    "Kit",
    "kits",
    "get_kit",
    "CODIS_CORE_20",
]


class AlleleError(ValueError):
    """An allele label that is not a valid STR allele designation."""


class LocusError(KeyError):
    """An unknown or unusable locus name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


AMELOGENIN = "AMEL"
_AMEL_KEYS = {"AMEL", "AMELOGENIN", "AM", "AMELX", "AMELY"}

# Aliases beyond what the normalised key already unifies (case, separators, O/0).
_EXTRA_ALIASES = {
    "FIBRA": "FGA",
    "FIBRA(FGA)": "FGA",
    "D22GATA": "D22GATA198B05",
    "D22": "D22GATA198B05",
    "PENTAB": "Penta_B",
    "F13A1": "F13A01",
    "FESFPS": "FESFPS",
    "FES": "FESFPS",
}

#: The 20 CODIS core loci (FBI, 2017).
CODIS_CORE_20 = (
    "CSF1PO", "D10S1248", "D12S391", "D13S317", "D16S539", "D18S51", "D19S433",
    "D1S1656", "D21S11", "D22S1045", "D2S1338", "D2S441", "D3S1358", "D5S818",
    "D7S820", "D8S1179", "FGA", "TH01", "TPOX", "vWA",
)


_SEPARATORS = re.compile(r"[\s_\-.]")


def _key(name) -> str:
    return _key_of(str(name))


@lru_cache(maxsize=4096)
def _key_of(name: str) -> str:
    # cached: a run compares each of its loci with every locus of its frequency
    # table (canonical_locus with ``extra``), a few thousand calls
    return _SEPARATORS.sub("", name).upper().replace("O", "0")


def _data_path(*parts: str):
    return resources.files("kinship").joinpath("data", *parts)


#: the first field of each line that is not a comment (a bundled table's row)
_FIRST_FIELDS = re.compile(r"^(?!#)([^,\n]+)", re.MULTILINE)
#: a line, not a comment, with a quote (read with the csv module)
_QUOTED_ROW = re.compile(r'^(?!#)[^\n]*"', re.MULTILINE)


@lru_cache(maxsize=1)
def known_loci() -> tuple[str, ...]:
    """Canonical names of every locus in the bundled frequency tables and kits."""
    names: set[str] = set()
    freq_root = _data_path("frequencies")
    for entry in _iter_csv_files(freq_root):
        # the first field of every row after the header, comment lines skipped: one
        # regular-expression scan per file (the bundled tables have about 38,000
        # rows; a run pays this once), the csv module where a row has a quote
        text = entry.read_text(encoding="utf-8")
        if _QUOTED_ROW.search(text):
            rows = csv.reader(ln for ln in text.splitlines() if not ln.startswith("#"))
            next(rows, None)
            names.update(row[0] for row in rows if row)
        else:
            names.update(_FIRST_FIELDS.findall(text)[1:])
    with _data_path("loci", "kit_markers.csv").open("r", encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for row in rows:
            names.add(row["marker"])
    # one spelling per locus: where sources differ (``Penta C`` in the NIST
    # tables, ``Penta_C`` in pop.STR) the spelling without an underscore wins
    canon: dict[str, str] = {}
    for n in sorted(names, key=lambda x: ("_" in x, x)):
        canon.setdefault(_key(n), n)
    return tuple(sorted(canon.values()))


def _iter_csv_files(root):
    for entry in root.iterdir():
        if entry.is_dir():
            yield from _iter_csv_files(entry)
        elif entry.name.endswith(".csv") and entry.name != "INDEX.csv":
            yield entry


@lru_cache(maxsize=1)
def _alias_map() -> dict[str, str]:
    m: dict[str, str] = {}
    # where two spellings of one locus occur (``Penta C`` and ``Penta_C`` in
    # different source tables) the spelling without an underscore is canonical
    for n in sorted(known_loci(), key=lambda x: ("_" in x, x)):
        m.setdefault(_key(n), n)
    for alias, canon in _EXTRA_ALIASES.items():
        m.setdefault(_key(alias), canon)
    return m


_AMEL_NORM = frozenset(_key(k) for k in _AMEL_KEYS)


def is_amelogenin(name: str) -> bool:
    """True for any spelling of amelogenin (read for sex, never an LR locus)."""
    return _key(name) in _AMEL_NORM


def canonical_locus(name: str, extra: tuple[str, ...] | list[str] | None = None) -> str:
    """Return the canonical spelling of a locus name.

    ``extra`` lists further canonical names to accept (for instance the loci of a
    user's own frequency table).  Amelogenin returns ``"AMEL"``.

    >>> canonical_locus("VWA"), canonical_locus("THO1"), canonical_locus("PENTA_E")
    ('vWA', 'TH01', 'Penta E')
    >>> canonical_locus("CSF1P0"), canonical_locus("penta d")
    ('CSF1PO', 'Penta D')
    """
    if name is None or str(name).strip() == "":
        raise LocusError("empty locus name")
    if is_amelogenin(name):
        return AMELOGENIN
    k = _key(name)
    if extra:
        for e in extra:
            if _key(e) == k:
                return _alias_map().get(k, e)
    m = _alias_map()
    if k in m:
        return m[k]
    close = difflib.get_close_matches(str(name), list(known_loci()) + list(extra or ()), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise LocusError(
        f"unknown locus {name!r}{hint or '.'} Known loci are those of the bundled frequency "
        f"tables and kits (kinship.markers.known_loci()); loci of a user frequency table "
        f"are accepted when that table is used."
    )


_NUMERIC = re.compile(r"^\d{1,3}(\.\d{1,2})?$")
_OFF_LADDER = re.compile(r"^(OL|<\s*\d+(\.\d)?|>\s*\d+(\.\d)?)$", re.IGNORECASE)


def is_off_ladder(label: str) -> bool:
    """True for off-ladder designations (``OL``, ``<8``, ``>27``)."""
    return bool(_OFF_LADDER.match(str(label).strip()))


def normalize_allele(label) -> str:
    """Normalise an STR allele label to its canonical string.

    >>> [normalize_allele(x) for x in ("9.3", "09", "10.0", 13.2, "13.20", 7)]
    ['9.3', '9', '10', '13.2', '13.2', '7']

    Raises :class:`AlleleError` for malformed labels, with the reason:

    >>> normalize_allele("1O")
    Traceback (most recent call last):
    ...
    kinship.markers.AlleleError: malformed allele '1O': expected a repeat number such as '15' or a microvariant such as '9.3'
    """
    if label is None:
        raise AlleleError("empty allele")
    if isinstance(label, bool):
        raise AlleleError(f"malformed allele {label!r}")
    if isinstance(label, int):
        s = str(label)
    elif isinstance(label, float):
        if label != label:  # NaN
            raise AlleleError("empty allele (NaN)")
        if abs(label * 10 - round(label * 10)) > 1e-6:
            raise AlleleError(
                f"malformed allele {label!r}: microvariants have one decimal digit (e.g. '9.3')"
            )
        s = repr(round(label, 1))
    else:
        s = str(label).strip()
    if s == "":
        raise AlleleError("empty allele")
    if is_off_ladder(s):
        raise AlleleError(
            f"off-ladder allele {s!r}: it cannot be compared with other profiles; "
            "re-designate it against the allelic ladder or leave the locus untyped"
        )
    if s.startswith("-"):
        raise AlleleError(f"malformed allele {s!r}: repeat numbers cannot be negative")
    if not _NUMERIC.match(s):
        raise AlleleError(
            f"malformed allele {s!r}: expected a repeat number such as '15' or a "
            "microvariant such as '9.3'"
        )
    whole, _, frac = s.partition(".")
    whole = str(int(whole))
    frac = frac.rstrip("0")
    if len(frac) > 1:
        raise AlleleError(
            f"malformed allele {s!r}: microvariants have one decimal digit (e.g. '9.3')"
        )
    return f"{whole}.{frac}" if frac else whole


def allele_value(label: str) -> float:
    """Numeric value of a normalised allele label (``'9.3'`` -> 9.3)."""
    return float(label)


@dataclass(frozen=True)
class Kit:
    """A marker list (kit panel) with the allelic-ladder alleles of each marker."""

    panel: str
    name: str
    loci: tuple[str, ...]
    ladder: dict
    source: str

    @property
    def autosomal_loci(self) -> tuple[str, ...]:
        return tuple(l for l in self.loci if not l.startswith("DY") and l != "YGATAH4")


@lru_cache(maxsize=1)
def kits() -> dict[str, Kit]:
    """Bundled kits, keyed by panel name (from ``kinship/data/loci/kit_markers.csv``)."""
    by_panel: dict[str, dict] = {}
    with _data_path("loci", "kit_markers.csv").open("r", encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for row in rows:
            d = by_panel.setdefault(
                row["kit_panel"],
                {"name": row["kit_name"], "loci": [], "ladder": {}, "source": row["source"]},
            )
            d["loci"].append(row["marker"])
            d["ladder"][row["marker"]] = tuple(row["ladder_alleles"].split())
    return {
        p: Kit(p, d["name"], tuple(d["loci"]), d["ladder"], d["source"])
        for p, d in by_panel.items()
    }


def get_kit(name: str) -> Kit:
    """Look a kit up by panel name or kit name (case-insensitive, unique prefix)."""
    ks = kits()
    low = name.lower()
    for p, k in ks.items():
        if p.lower() == low or k.name.lower() == low:
            return k
    hits = [k for p, k in ks.items() if p.lower().startswith(low) or k.name.lower().startswith(low)]
    if len(hits) == 1:
        return hits[0]
    raise KeyError(
        f"unknown kit {name!r}; known kit panels: {', '.join(sorted(ks))}"
        if not hits
        else f"kit name {name!r} is ambiguous: {', '.join(k.panel for k in hits)}"
    )
