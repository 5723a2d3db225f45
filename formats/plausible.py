"""Allele plausibility per locus: the allelic-ladder range of the bundled kits.

An allele far outside every kit's ladder at its locus (``0`` or ``999`` at vWA)
is a typing or export error, not an off-ladder variant.  The range of a locus is
the union of the ladder bins of every bundled kit panel that types it
(``kinship/data/loci/kit_markers.csv``), widened by ``MARGIN`` repeats on each
side (real off-ladder alleles lie just outside the ladder).  Loci of no bundled
kit are not checked.  At import such an allele is refused in strict mode (with
the fix) and imported with a warning in lenient mode.
"""
from __future__ import annotations

import csv
from functools import lru_cache

from kinship.markers import LocusError, allele_value, canonical_locus

__all__ = ["ladder_range", "implausible", "MARGIN"]

#: repeats beyond the ladder still accepted as off-ladder variants
MARGIN = 5.0


@lru_cache(maxsize=1)
def _ranges() -> dict:
    from kinship.markers import _data_path

    out: dict = {}
    with _data_path("loci", "kit_markers.csv").open("r", encoding="utf-8") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            try:
                locus = canonical_locus(row["marker"])
            except LocusError:
                continue
            vals = []
            for a in (row.get("ladder_alleles") or "").split():
                try:
                    vals.append(allele_value(a))
                except ValueError:
                    pass
            if not vals:
                continue
            lo, hi = out.get(locus, (min(vals), max(vals)))
            out[locus] = (min(lo, min(vals)), max(hi, max(vals)))
    return out


def ladder_range(locus: str):
    """``(lowest, highest)`` ladder allele of ``locus`` over the bundled kits, or None."""
    return _ranges().get(locus)


def implausible(locus: str, label: str) -> str | None:
    """The reason ``label`` is implausible at ``locus`` (None if it is plausible or
    the locus is in no bundled kit).  The reason never quotes the allele."""
    r = ladder_range(locus)
    if r is None:
        return None
    try:
        v = allele_value(label)
    except ValueError:
        return None
    lo, hi = r
    if v < max(1.0, lo - MARGIN) or v > hi + MARGIN:
        return (f"allele outside the plausible range at {locus} (the bundled kits' ladders span "
                f"{lo:g}..{hi:g}; accepted {max(1.0, lo - MARGIN):g}..{hi + MARGIN:g})")
    return None
