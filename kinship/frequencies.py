"""Allele-frequency tables.

Policy (documented once, used everywhere)
-----------------------------------------
* **The allele system used for computation sums to 1.**  A table is stored and
  reported as given (:meth:`FrequencyTable.alleles`, :meth:`~FrequencyTable.frequency`,
  :meth:`~FrequencyTable.to_csv`, :meth:`~FrequencyTable.checksum`), but every
  likelihood, LR table, mutation matrix and chance/expectation computation reads
  the frequencies of :meth:`FrequencyTable.locus_alleles`, which are scaled so
  that each locus sums to 1 (up to floating-point rounding):

  - alleles absent from the table, added for a case (see below), keep exactly
    their minimum allele frequency ``f_min``;
  - the table's own alleles, with the silent allele if one is set, are
    multiplied by ``(1 - Σ added) / (their sum)``; for a locus without added
    alleles that is simply ``p / Σp``.

  This is the convention of pedtools' ``addAllele(adjust = "previous")``.  The
  reason: every pedigree likelihood marginalises untyped persons (and the
  general likelihood drops untyped leaves and collapses single-child untyped
  founders to one draw) with total mass 1 only if the frequencies sum to 1.
  With a table summing to 0.99 or 1 + 1e-10 the same LR would otherwise depend
  on the path that computes it (the general pedigree likelihood, the pair
  tables, the couple and duo closed forms) and on irrelevant untyped persons.
  pedtools/forrel require tables that sum to 1, and Familias requires the sum
  to round to 1.  The factor applied at a locus is
  :attr:`LocusAlleles.scale`; the values as given are in
  :attr:`LocusAlleles.given_freqs`.
* A locus whose frequencies (with the silent allele, if any) sum further than
  ``sum_tolerance`` (default 0.02) from 1 is an error unless the table is built
  with ``renormalise=True``.  ``renormalise=True`` lifts that check and divides
  each locus by its sum *when the table is built*, so that the stored table
  (what :meth:`~FrequencyTable.alleles`, :meth:`~FrequencyTable.frequency`,
  :meth:`~FrequencyTable.to_csv` and :meth:`~FrequencyTable.checksum` report)
  sums to 1: the listed alleles are scaled to ``1 - silent`` and the silent
  allele keeps its given frequency.  For a table within the tolerance it does
  not change any likelihood when no silent allele is set (the computation
  scales the locus to 1 in either case; results agree to rounding).  With a
  silent allele it does: without ``renormalise`` the silent allele is scaled
  together with the listed alleles, with it the silent frequency is kept as
  given.
* **Alleles absent from the table** (a rare allele seen in a profile) get the
  *minimum allele frequency* of that locus.  The minimum allele frequency is,
  in order of precedence:

  1. ``min_allele_freq`` given by the user (one number, or a dict per locus);
  2. ``5 / (2N)`` when the number of individuals N behind the table is known
     (per locus where the source gives it; NRC II recommendation);
  3. otherwise there is no default and looking the allele up raises
     :class:`MissingAlleleError`, asking for a value.

  The added allele keeps exactly that frequency in the allele system of the
  case; the table's own alleles make room for it (the scaling above), so the
  same table gives slightly different frequencies to its own alleles in a case
  that adds alleles (pedtools ``adjust = "previous"``).  If the added alleles
  alone reach a total of 1 that is an error.

  With ``missing_allele="error"`` an absent allele is always an error.
* **Silent (null) alleles**: ``silent=0.001`` (every locus) or
  ``silent={"D3S1358": 0.001}`` adds a non-amplifying allele ``"silent"`` with that
  frequency.  A homozygous call ``a/a`` is then read as genotype ``a/a`` or
  ``a/silent``; a heterozygous call is unaffected.  The silent allele does not
  mutate and is never the target of a mutation.
* **Unknown loci** (a locus absent from the table) are errors, naming the locus.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Mapping

import numpy as np

from .markers import (
    AlleleError,
    LocusError,
    allele_value,
    canonical_locus,
    is_amelogenin,
    normalize_allele,
)

__all__ = [
    "FrequencyTable",
    "FrequencyError",
    "MissingAlleleError",
    "LocusAlleles",
    "SILENT",
    "populations",
]

SILENT = "silent"
DEFAULT_POPULATION = "nist1036_all"


class FrequencyError(ValueError):
    """A frequency table that cannot be used as it stands."""


class MissingAlleleError(KeyError):
    """An allele absent from the frequency table with no minimum-frequency policy."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _sort_key(label: str):
    if label == SILENT:
        return (1, 0.0, label)
    try:
        return (0, allele_value(label), label)
    except ValueError:
        return (0, math.inf, label)


@dataclass(frozen=True)
class LocusAlleles:
    """The allele system of one locus as the likelihood code sees it.

    ``alleles`` are sorted by repeat number (the silent allele, if any, last);
    ``freqs`` are aligned with them and **sum to 1** (to rounding): ``added``
    lists alleles that were not in the table; they have exactly the minimum
    allele frequency.  The table's own alleles (and the silent allele) are the
    table's values times ``scale = (1 - Σ added) / (their sum as given)``
    (pedtools ``addAllele(adjust = "previous")``; see the module doc).
    ``given_freqs`` holds the values as the table gives them (the minimum
    allele frequency for added alleles), aligned with ``alleles``; it is
    ``None`` for a system built directly, meaning ``freqs`` as given.
    Everything that computes a likelihood, an LR table, a mutation matrix or a
    chance probability uses ``freqs``.
    """

    locus: str
    alleles: tuple[str, ...]
    freqs: np.ndarray
    added: tuple[str, ...] = ()
    silent: bool = False
    scale: float = 1.0
    given_freqs: np.ndarray | None = None

    def index(self, allele: str) -> int:
        try:
            return self.alleles.index(allele)
        except ValueError:
            raise MissingAlleleError(
                f"allele {allele!r} is not in the allele system of locus {self.locus}"
            ) from None

    @property
    def n_alleles(self) -> int:
        return len(self.alleles)


class FrequencyTable:
    """Per-locus allele frequencies with an explicit policy for absent alleles.

    Build with :meth:`from_dict`, :meth:`from_csv` or :meth:`load` (a bundled
    population; :func:`populations` lists them).
    """

    def __init__(
        self,
        table: Mapping[str, Mapping[str, float]],
        *,
        name: str = "user",
        n: int | None = None,
        n_by_locus: Mapping[str, int] | None = None,
        min_allele_freq: float | Mapping[str, float] | None = None,
        missing_allele: str = "min",
        silent: float | Mapping[str, float] | None = None,
        renormalise: bool = False,
        sum_tolerance: float = 0.02,
        provenance: Mapping[str, str] | None = None,
    ):
        if missing_allele not in ("min", "error"):
            raise ValueError("missing_allele must be 'min' or 'error'")
        self.name = name
        self.n = n
        self.missing_allele = missing_allele
        self.renormalise = renormalise
        self.provenance = dict(provenance or {})
        freqs: dict[str, dict[str, float]] = {}
        for raw_locus, alleles in table.items():
            if is_amelogenin(raw_locus):
                continue
            try:
                locus = canonical_locus(raw_locus)
            except LocusError:
                locus = str(raw_locus).strip()
            if locus in freqs:
                raise FrequencyError(
                    f"frequency table {name!r}: locus {raw_locus!r} appears twice "
                    f"(as {locus!r})"
                )
            d: dict[str, float] = {}
            for raw_allele, p in alleles.items():
                try:
                    a = normalize_allele(raw_allele)
                except AlleleError as e:
                    raise FrequencyError(
                        f"frequency table {name!r}, locus {locus}: {e}"
                    ) from None
                try:
                    p = float(p)
                except (TypeError, ValueError):
                    raise FrequencyError(
                        f"frequency table {name!r}, locus {locus}, allele {a}: "
                        f"frequency {p!r} is not a number"
                    ) from None
                if not (p >= 0.0) or not math.isfinite(p):
                    raise FrequencyError(
                        f"frequency table {name!r}, locus {locus}, allele {a}: "
                        f"frequency {p!r} must be a finite number >= 0"
                    )
                if a in d:
                    raise FrequencyError(
                        f"frequency table {name!r}, locus {locus}: allele {a} listed twice"
                    )
                if p > 0:
                    d[a] = p
            if not d:
                raise FrequencyError(f"frequency table {name!r}, locus {locus}: no alleles")
            freqs[locus] = d
        if not freqs:
            raise FrequencyError(f"frequency table {name!r} has no loci")
        self._freqs = freqs
        self._n_by_locus = {}
        for k, v in (n_by_locus or {}).items():
            try:
                self._n_by_locus[canonical_locus(k, extra=tuple(freqs))] = int(v)
            except LocusError:
                self._n_by_locus[k] = int(v)
        self._min_user = min_allele_freq
        if isinstance(min_allele_freq, Mapping):
            self._min_user = {self.resolve_locus(k): float(v) for k, v in min_allele_freq.items()}
        if silent is None:
            self._silent = {}
        elif isinstance(silent, Mapping):
            self._silent = {self.resolve_locus(k): float(v) for k, v in silent.items()}
        else:
            self._silent = {l: float(silent) for l in freqs}
        for l, s in self._silent.items():
            if not (0.0 <= s < 1.0):
                raise FrequencyError(f"silent allele frequency at {l} must be in [0, 1): {s}")
        # the listed alleles plus the silent allele make up the locus; a sum that
        # is sum_tolerance from 1 in decimal (0.98 at 0.02) is accepted despite
        # binary rounding (hence the 1e-12)
        for locus, d in freqs.items():
            s = sum(d.values())
            sil = self._silent.get(locus, 0.0)
            if renormalise:
                freqs[locus] = {a: p * (1.0 - sil) / s for a, p in d.items()}
            elif abs(math.fsum(d.values()) + sil - 1.0) > sum_tolerance + 1e-12:
                raise FrequencyError(
                    f"frequency table {name!r}, locus {locus}: frequencies sum to {s + sil:.6g}"
                    f"{' with the silent allele' if sil else ''}, more than {sum_tolerance} from 1. "
                    f"Check the table, or pass renormalise=True to divide by the sum."
                )

    # -- constructors -------------------------------------------------------------
    @classmethod
    def from_dict(cls, table: Mapping[str, Mapping[str, float]], **kw) -> "FrequencyTable":
        """Build from ``{locus: {allele: frequency}}``."""
        return cls(table, **kw)

    @classmethod
    def from_csv(cls, path, **kw) -> "FrequencyTable":
        """Read the ``marker,allele,frequency`` CSV format (``# key=value`` header lines).

        The header keys ``n``, ``n_by_marker``, ``n_alleles_by_marker`` and
        ``typed_individuals_by_marker`` give the sample sizes used for the
        default minimum allele frequency 5/(2N).
        """
        if hasattr(path, "read_text"):
            text = path.read_text(encoding="utf-8-sig")
            fname = getattr(path, "name", str(path))
        else:
            with open(path, "r", encoding="utf-8-sig") as fh:
                text = fh.read()
            fname = os.fspath(path)
        return cls._from_text(text, fname, **kw)

    @classmethod
    def from_text(cls, text: str, name: str = "<text>", **kw) -> "FrequencyTable":
        """Parse the ``marker,allele,frequency`` CSV format from a string
        (``name`` is used in error messages and provenance)."""
        return cls._from_text(text, name, **kw)

    @classmethod
    def _from_text(cls, text: str, fname: str, **kw) -> "FrequencyTable":
        meta: dict[str, str] = {}
        body = []
        for line in text.splitlines():
            if line.startswith("#"):
                k, sep, v = line[1:].strip().partition("=")
                if sep:
                    meta[k.strip()] = v.strip()
            elif line.strip():
                body.append(line)
        reader = csv.reader(body)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:3]] != ["marker", "allele", "frequency"]:
            raise FrequencyError(
                f"{fname}: expected the header 'marker,allele,frequency', found "
                f"{_masked(header)!r}: "
                f"not the project's csv format. Fix: read other formats (Familias, STRidER "
                f"tables and XML, .fam) with formats.read_frequencies(path), which detects the "
                f"format"
            )
        table: dict[str, dict[str, float]] = {}
        for lineno, row in enumerate(reader, start=2):
            if len(row) < 3:
                raise FrequencyError(f"{fname}: data row {lineno}: expected 3 fields, got {row!r}")
            table.setdefault(row[0].strip(), {})
            a = row[1].strip()
            if a in table[row[0].strip()]:
                raise FrequencyError(f"{fname}: data row {lineno}: allele {a} of {row[0]} repeated")
            table[row[0].strip()][a] = row[2].strip()
        n = None
        if meta.get("n", "unknown") not in ("", "unknown"):
            try:
                n = int(float(meta["n"]))
            except ValueError:
                n = None
        n_by = _parse_by_marker(meta.get("n_by_marker")) or _parse_by_marker(
            meta.get("typed_individuals_by_marker")
        )
        if not n_by and meta.get("n_alleles_by_marker"):
            n_by = {k: v // 2 for k, v in _parse_by_marker(meta["n_alleles_by_marker"]).items()}
        prov = dict(meta)
        prov["file"] = os.path.basename(fname)
        prov["file_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        kw.setdefault("name", os.path.splitext(os.path.basename(fname))[0])
        kw.setdefault("n", n)
        kw.setdefault("n_by_locus", n_by)
        kw.setdefault("provenance", prov)
        return cls(table, **kw)

    @classmethod
    def load(cls, population: str = DEFAULT_POPULATION, **kw) -> "FrequencyTable":
        """A bundled population table, e.g. ``"nist1036_all"`` (the default),
        ``"fbi2015_caucasian"``, ``"popstr_china_han"``; see :func:`populations`.
        A path to a CSV file is also accepted."""
        if os.path.exists(str(population)):
            return cls.from_csv(population, **kw)
        files = _bundled_files()
        if population not in files:
            import difflib

            close = difflib.get_close_matches(population, list(files), n=3)
            raise KeyError(
                f"unknown population {population!r}"
                + (f"; did you mean {', '.join(close)}?" if close else "")
                + " kinship.populations() lists the bundled tables."
            )
        return cls.from_csv(files[population], **kw)

    # -- queries ------------------------------------------------------------------
    @property
    def loci(self) -> tuple[str, ...]:
        return tuple(self._freqs)

    def resolve_locus(self, name: str) -> str:
        """Canonical name of ``name`` as a locus of this table (LocusError if absent)."""
        if name in self._freqs:
            return name
        try:
            canon = canonical_locus(name, extra=tuple(self._freqs))
        except LocusError:
            canon = None
        if canon is not None and canon in self._freqs:
            return canon
        raise LocusError(
            f"locus {name!r} is not in frequency table {self.name!r} "
            f"(it has {len(self._freqs)} loci: {', '.join(self._freqs)}). Use a table "
            f"that covers this locus, or leave the locus out of the comparison."
        )

    def __contains__(self, locus: str) -> bool:
        try:
            self.resolve_locus(locus)
            return True
        except LocusError:
            return False

    def alleles(self, locus: str) -> dict[str, float]:
        """The table's own alleles and frequencies at ``locus`` as stored (a copy;
        not scaled to sum 1, see :meth:`locus_alleles`)."""
        return dict(self._freqs[self.resolve_locus(locus)])

    def n_for(self, locus: str) -> int | None:
        locus = self.resolve_locus(locus)
        return self._n_by_locus.get(locus, self.n)

    def min_allele_frequency(self, locus: str) -> float | None:
        """The frequency given to alleles absent from the table (see module doc)."""
        locus = self.resolve_locus(locus)
        if isinstance(self._min_user, Mapping):
            if locus in self._min_user:
                return self._min_user[locus]
        elif self._min_user is not None:
            return float(self._min_user)
        n = self.n_for(locus)
        if n:
            return 5.0 / (2.0 * n)
        return None

    def silent_frequency(self, locus: str) -> float:
        return self._silent.get(self.resolve_locus(locus), 0.0)

    def frequency(self, locus: str, allele: str) -> float:
        """Frequency of ``allele`` at ``locus`` as the table gives it (the minimum
        allele frequency for an absent allele).  This is the stored value, not
        the one the likelihood uses where the locus does not sum to 1: that is
        ``locus_alleles(locus, ...).freqs`` (scaled to sum 1, see the module doc)."""
        locus = self.resolve_locus(locus)
        a = normalize_allele(allele) if allele != SILENT else SILENT
        if a == SILENT:
            if locus in self._silent:
                return self._silent[locus]
            raise MissingAlleleError(f"no silent allele frequency set for locus {locus}")
        d = self._freqs[locus]
        if a in d:
            return d[a]
        return self._missing(locus, a)

    def _missing(self, locus: str, allele: str) -> float:
        if self.missing_allele == "error":
            raise MissingAlleleError(
                f"allele {allele} at locus {locus} is not in frequency table {self.name!r} "
                f"(missing_allele='error')"
            )
        m = self.min_allele_frequency(locus)
        if m is None:
            raise MissingAlleleError(
                f"allele {allele} at locus {locus} is not in frequency table {self.name!r}, "
                f"and the table gives no sample size for the default minimum allele "
                f"frequency 5/(2N). Pass min_allele_freq=<value> to the FrequencyTable."
            )
        return m

    def locus_alleles(self, locus: str, extra_alleles=()) -> LocusAlleles:
        """The allele system of ``locus``: the table's alleles plus ``extra_alleles``
        (absent ones get the minimum allele frequency), plus the silent allele
        when one is set.  Sorted by repeat number.

        The frequencies sum to 1: added alleles keep the minimum allele
        frequency, the table's own alleles and the silent allele are scaled by
        ``(1 - Σ added) / (their sum)`` (see :class:`LocusAlleles` and the
        module doc)."""
        locus = self.resolve_locus(locus)
        d = dict(self._freqs[locus])
        added: dict[str, float] = {}
        for a in extra_alleles:
            if a == SILENT:
                continue
            a = normalize_allele(a)
            if a not in d and a not in added:
                added[a] = self._missing(locus, a)
        silent = locus in self._silent
        if silent:
            d[SILENT] = self._silent[locus]
        own_sum = math.fsum(d.values())
        added_sum = math.fsum(added.values())
        if not added_sum < 1.0:
            raise FrequencyError(
                f"frequency table {self.name!r}, locus {locus}: the {len(added)} alleles absent "
                f"from the table ({', '.join(sorted(added, key=_sort_key))}) get the minimum "
                f"allele frequency {self.min_allele_frequency(locus)!r} each, {added_sum:.6g} in "
                f"all, which leaves nothing for the table's own alleles. Use a smaller "
                f"min_allele_freq."
            )
        scale = (1.0 - added_sum) / own_sum
        given = {**d, **added}
        labels = sorted(given, key=_sort_key)
        freqs = np.array([added[a] if a in added else d[a] * scale for a in labels],
                         dtype=np.float64)
        return LocusAlleles(
            locus=locus,
            alleles=tuple(labels),
            freqs=freqs,
            added=tuple(sorted(added, key=_sort_key)),
            silent=silent,
            scale=scale,
            given_freqs=np.array([given[a] for a in labels], dtype=np.float64),
        )

    # -- provenance ---------------------------------------------------------------
    def checksum(self) -> str:
        """SHA-256 of the table's content and policy (independent of dict order)."""
        h = hashlib.sha256()
        for locus in sorted(self._freqs):
            h.update(locus.encode())
            for a in sorted(self._freqs[locus], key=_sort_key):
                h.update(f"|{a}={self._freqs[locus][a]!r}".encode())
            h.update(b"\n")
        h.update(
            repr(
                (
                    self.missing_allele,
                    self._min_user if not isinstance(self._min_user, Mapping) else sorted(self._min_user.items()),
                    sorted(self._silent.items()),
                    self.renormalise,
                    self.n,
                    sorted(self._n_by_locus.items()),
                )
            ).encode()
        )
        return h.hexdigest()

    def to_csv(self) -> str:
        """The table in the ``marker,allele,frequency`` format (round-trips via from_csv)."""
        out = io.StringIO()
        out.write(f"# population={self.name}\n")
        if self.n:
            out.write(f"# n={self.n}\n")
        if self._n_by_locus:
            by = ";".join(f"{k}:{v}" for k, v in self._n_by_locus.items())
            out.write(f"# n_by_marker={by}\n")
        out.write("marker,allele,frequency\n")
        for locus, d in self._freqs.items():
            for a in sorted(d, key=_sort_key):
                out.write(f"{locus},{a},{d[a]!r}\n")
        return out.getvalue()

    def __repr__(self) -> str:
        return f"FrequencyTable({self.name!r}, {len(self._freqs)} loci)"


def _masked(fields) -> list | None:
    """A first line shown in a message, with every field that looks like an allele or a
    number replaced by ``…``: a file that is not a frequency table may start with a
    genotype row, which must not be copied into an error."""
    if fields is None:
        return None
    return ["\u2026" if re.fullmatch(r"\s*[<>]?\d+(\.\d+)?\s*", f) else f[:30] for f in fields[:8]]


def _parse_by_marker(s: str | None) -> dict[str, int]:
    """Parse ``n_by_marker``-style values: ``CSF1PO:1036;D3S1358:1035`` (also with ``,``/``=``)."""
    out: dict[str, int] = {}
    if not s:
        return out
    for part in s.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        k, sep, v = part.replace("=", ":").rpartition(":")
        if not sep:
            continue
        try:
            out[k.strip()] = int(float(v))
        except ValueError:
            continue
    return out


@lru_cache(maxsize=1)
def _bundled_files() -> dict[str, object]:
    root = resources.files("kinship").joinpath("data", "frequencies")
    files = {}

    def walk(d):
        for e in d.iterdir():
            if e.is_dir():
                walk(e)
            elif e.name.endswith(".csv") and e.name != "INDEX.csv":
                files[e.name[:-4]] = e

    walk(root)
    return dict(sorted(files.items()))


def populations() -> list[str]:
    """Names of the bundled population frequency tables (see ``kinship/data/README.md``)."""
    return list(_bundled_files())
