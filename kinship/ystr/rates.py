"""Per-locus Y-STR mutation rates, kept as counts (mutations, meioses) with provenance.

The shipped table (``kinship/data/ystr/ystr_mutation_rates_yhrd_malan.csv``, see
the README beside it) gives, for 27 loci, the father-son mutations observed and
the meioses looked at, as compiled from yhrd.org by the R package *malan*. The
rate of a locus is ``n_mutations / n_meioses`` per meiosis.

Per-slot rates (:meth:`YMutationRates.slot_rates`):

* single-copy marker: its rate;
* multi-copy marker (``DYS385a/b``, ``DYF387S1a/b``): the marker's rate applies to
  each copy (the source lists each copy with the same counts);
* ``DYS389I``: its rate;
* the ``DYS389II`` slot, compared as ``DYS389II - DYS389I``: a *derived* rate.
  Every mutation of the DYS389I segment also changes DYS389II, so the mutations
  left for the II-I segment are ``n_mut(II) - n_mut(I)`` over ``n_meioses(II)``
  meioses (shipped: 59 - 42 = 17 in 14310, 0.00119). Override it under the name
  ``"DYS389II-I"`` when a population study gives it directly.

Overrides (:meth:`YMutationRates.override`) take counts ``(mutations, meioses)``
or a bare rate, per marker, so a laboratory can use its own population's data.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .loci import DYS389_SEGMENT, DYS389I, DYS389II, YPanel, _key, resolve_y_marker

__all__ = ["LocusRate", "YMutationRates", "RateError"]


class RateError(KeyError):
    """A missing or invalid mutation rate."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class LocusRate:
    """Mutation rate of one marker: ``rate`` per meiosis, with counts where known."""

    marker: str
    rate: float
    n_mutations: int | None = None
    n_meioses: int | None = None
    source: str = ""

    def __post_init__(self):
        if not (0.0 <= self.rate < 1.0) or self.rate != self.rate:
            raise RateError(f"mutation rate of {self.marker} must be in [0, 1), got {self.rate!r}")


_SHIPPED = "ystr_mutation_rates_yhrd_malan.csv"


@dataclass(frozen=True)
class YMutationRates:
    """Mutation rates per Y marker (canonical names; ``"DYS389II-I"`` optional)."""

    rates: Mapping[str, LocusRate]
    source: str = ""
    _derived: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))

    # -- constructors -----------------------------------------------------------
    @classmethod
    def load(cls) -> "YMutationRates":
        """The shipped yhrd.org/malan counts."""
        return _load_shipped()

    @classmethod
    def from_csv(cls, path, source: str | None = None) -> "YMutationRates":
        """Read a CSV with columns ``marker`` and either ``n_mutations,n_meioses`` or
        ``rate`` (``#`` comment lines skipped). Copy rows ``X a``/``X b`` of a
        multi-copy marker must agree and are merged into ``X``."""
        with open(path, "r", encoding="utf-8") as fh:
            return cls._from_lines(fh, source or str(path))

    @classmethod
    def _from_lines(cls, fh, source: str) -> "YMutationRates":
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        out: dict[str, LocusRate] = {}
        for row in rows:
            name = row["marker"].strip()
            if _key(name) in (_key(DYS389_SEGMENT), "DYS389B"):
                marker = DYS389_SEGMENT
            else:
                marker, _copy = resolve_y_marker(name)
            nm, nn = row.get("n_mutations"), row.get("n_meioses")
            if nm not in (None, "") and nn not in (None, ""):
                nm, nn = int(nm), int(nn)
                if nn <= 0 or nm < 0 or nm > nn:
                    raise RateError(f"{name}: invalid counts {nm} mutations in {nn} meioses")
                lr = LocusRate(marker, nm / nn, nm, nn, row.get("source", "") or source)
            else:
                r = row.get("rate") or row.get("rate_paternal") or row.get("rate_average")
                if r in (None, ""):
                    raise RateError(f"{name}: no counts and no rate in {source}")
                lr = LocusRate(marker, float(r), None, None, row.get("source", "") or source)
            prev = out.get(marker)
            if prev is not None and (prev.rate, prev.n_mutations, prev.n_meioses) != (
                lr.rate, lr.n_mutations, lr.n_meioses
            ):
                raise RateError(
                    f"{marker}: copies listed with different counts ({prev} vs {lr}); a "
                    "multi-copy marker has one rate for all of its copies"
                )
            out[marker] = lr
        return cls(out, source)

    def override(self, rates: Mapping[str, object], source: str = "override") -> "YMutationRates":
        """A copy with some markers replaced (or added).

        Values are ``(n_mutations, n_meioses)`` or a rate, e.g.
        ``rates.override({"DYS19": (40, 16000), "DYS999": 0.004})``.
        """
        new = dict(self.rates)
        for name, v in rates.items():
            if _key(name) in (_key(DYS389_SEGMENT), "DYS389B"):
                marker = DYS389_SEGMENT
            else:
                try:
                    marker, copy = resolve_y_marker(name)
                except KeyError:
                    marker, copy = str(name).upper(), None  # a user-declared marker
                if copy is not None:
                    raise RateError(
                        f"{name!r} names one copy of {marker}; give the rate for the marker "
                        f"{marker!r} (all copies share it)"
                    )
            if isinstance(v, LocusRate):
                new[marker] = LocusRate(marker, v.rate, v.n_mutations, v.n_meioses, v.source)
            elif isinstance(v, (tuple, list)) and len(v) == 2:
                nm, nn = int(v[0]), int(v[1])
                if nn <= 0 or nm < 0 or nm > nn:
                    raise RateError(f"{name}: invalid counts {nm} mutations in {nn} meioses")
                new[marker] = LocusRate(marker, nm / nn, nm, nn, source)
            else:
                new[marker] = LocusRate(marker, float(v), None, None, source)
        return YMutationRates(new, f"{self.source}; {source}")

    # -- lookups ----------------------------------------------------------------
    def rate(self, marker: str) -> float:
        """Per-meiosis rate of a marker (``"DYS389II-I"`` gives the derived segment rate)."""
        return self.locus_rate(marker).rate

    def locus_rate(self, marker: str) -> LocusRate:
        if marker in self.rates:
            return self.rates[marker]
        if marker == DYS389_SEGMENT:
            return self._dys389_segment()
        raise RateError(
            f"no mutation rate for {marker}. Shipped rates cover {sorted(self.rates)}; "
            f"add one with rates.override({{{marker!r}: (n_mutations, n_meioses)}})"
        )

    def _dys389_segment(self) -> LocusRate:
        if DYS389_SEGMENT in self._derived:
            return self._derived[DYS389_SEGMENT]
        try:
            r1, r2 = self.rates[DYS389I], self.rates[DYS389II]
        except KeyError:
            raise RateError(
                "the DYS389II-I segment rate is derived from DYS389I and DYS389II, and "
                "one of them has no rate; override 'DYS389II-I' directly"
            ) from None
        if r1.n_mutations is not None and r2.n_mutations is not None:
            nm = r2.n_mutations - r1.n_mutations
            if nm < 0:
                raise RateError(
                    f"DYS389II has fewer mutations ({r2.n_mutations}) than DYS389I "
                    f"({r1.n_mutations}); cannot derive the II-I segment rate: override "
                    "'DYS389II-I'"
                )
            lr = LocusRate(
                DYS389_SEGMENT, nm / r2.n_meioses, nm, r2.n_meioses,
                f"derived: n_mut(DYS389II) - n_mut(DYS389I) over n_meioses(DYS389II) ({r2.source})",
            )
        else:
            d = r2.rate - r1.rate
            if d < 0:
                raise RateError("DYS389II rate below DYS389I rate; override 'DYS389II-I'")
            lr = LocusRate(DYS389_SEGMENT, d, None, None, "derived: rate(DYS389II) - rate(DYS389I)")
        self._derived[DYS389_SEGMENT] = lr
        return lr

    def slot_rates(self, panel: YPanel) -> np.ndarray:
        """Per-slot rates (float64, panel slot order) used by the lineage LR."""
        out = np.empty(panel.n_slots)
        i = 0
        for m in panel.markers:
            name = DYS389_SEGMENT if m.name == DYS389II else m.name
            r = self.rate(name)
            out[i:i + m.copies] = r
            i += m.copies
        return out

    def table(self) -> list[dict]:
        """Rows ``marker, rate, n_mutations, n_meioses, source`` (for reports)."""
        rows = [vars(v).copy() for v in self.rates.values()]
        if DYS389_SEGMENT not in self.rates:
            try:
                rows.append(vars(self._dys389_segment()).copy())
            except RateError:
                pass
        return rows


@lru_cache(maxsize=1)
def _load_shipped() -> YMutationRates:
    f = resources.files("kinship").joinpath("data", "ystr", _SHIPPED)
    with f.open("r", encoding="utf-8") as fh:
        return YMutationRates._from_lines(
            fh, "yhrd.org via R package malan (ystr_markers) @7c58e462af18e21bd093fc79c6eca803ebec2692"
        )
