"""Export of profiles and results, for other tools and for people who use spreadsheets.

Profile formats (:func:`export_profiles`):

``csv``         long ``sample_id,locus,allele1,allele2`` (both alleles, re-importable)
``wide``        one row per sample: ``sample_id,kind,case_id,relation,sex,kit`` then
                ``<locus> 1``, ``<locus> 2`` (re-importable with ``format="wide"``)
``genemapper``  tab-separated ``Sample Name, Marker, Allele 1, Allele 2`` (homozygote
                written once, as GeneMapper does; amelogenin from ``sex``)
``cmf``         CODIS CMF 3.2 XML (:func:`formats.cmf.write_cmf`)
``familias``    Familias ``.fam`` (:func:`formats.familias.write_fam`)
``manifest``    ``sample_id,kind,case_id,relation,sex,kit``

Results (:func:`write_results_csv`): any table (a Parquet file, a pyarrow Table,
a dict of columns or a list of dicts) to CSV; floats keep every digit
(shortest round-trip ``repr``).

Spreadsheet safety: with ``excel=True`` the file starts with a UTF-8 byte-order
mark (so Excel reads UTF-8) and a text cell starting with ``=``, ``+``, ``-``,
``@``, tab or CR is prefixed with ``'`` so that Excel shows it instead of running it
as a formula (CSV injection).  Numbers are never altered.  Re-importing an
``excel=True`` file gives the prefixed text back, so use the default for files
meant for machines.
"""
from __future__ import annotations

import csv
import math
import os
import sys
import uuid
from pathlib import Path

import numpy as np

from .dataset import Dataset, ProfileArrays, open_dataset
from .profile import Profile

__all__ = ["export_profiles", "write_long_csv", "write_wide", "write_genemapper",
           "write_manifest", "write_results_csv", "PROFILE_FORMATS"]

from .names import PROFILE_FORMATS  # noqa: E402  (defined there for the command line)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _safe(v, excel: bool):
    if excel and isinstance(v, str) and v.startswith(_FORMULA):
        return "'" + v
    return v


class _Out:
    """Open ``path`` (or stdout for ``"-"``) for writing, atomically for files."""

    def __init__(self, path, excel=False, newline=""):
        self.path = path
        self.excel = excel
        self.newline = newline

    def __enter__(self):
        if self.path in ("-", None):
            self.fh = sys.stdout
            self.tmp = None
            return self.fh
        p = os.fspath(self.path)
        d = os.path.dirname(os.path.abspath(p))
        os.makedirs(d, exist_ok=True)
        self.tmp = os.path.join(d, f".{os.path.basename(p)}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        from .perms import file_mode

        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
        os.fchmod(fd, file_mode())
        self.fh = open(fd, "w", encoding="utf-8-sig" if self.excel else "utf-8",
                       newline=self.newline)
        return self.fh

    def __exit__(self, et, ev, tb):
        if self.tmp is None:
            self.fh.flush()
            return False
        try:
            self.fh.close()
        except BaseException:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)
            raise
        if et is None:
            os.replace(self.tmp, os.fspath(self.path))
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)
        return False


def _profiles(src) -> list[Profile]:
    if isinstance(src, ProfileArrays):
        return src.to_profiles()
    if isinstance(src, Dataset):
        return src.load().to_profiles()
    if isinstance(src, (str, os.PathLike)):
        return open_dataset(src).load().to_profiles()
    return list(src)


def _loci_of(profiles) -> list[str]:
    seen = {}
    for p in profiles:
        for l in p.genotypes:
            seen.setdefault(l, None)
    return sorted(seen, key=str.lower)


def write_long_csv(profiles, path, excel: bool = False) -> None:
    with _Out(path, excel) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["sample_id", "locus", "allele1", "allele2"])
        for p in profiles:
            for l, (a, b) in p.genotypes.items():
                w.writerow([_safe(p.sample_id, excel), l, a, b])


def write_wide(profiles, path, excel: bool = False, loci=None) -> None:
    profiles = list(profiles)
    loci = list(loci) if loci is not None else _loci_of(profiles)
    with _Out(path, excel) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["sample_id", "kind", "case_id", "relation", "sex", "kit"]
                   + [f"{l} {k}" for l in loci for k in (1, 2)])
        for p in profiles:
            row = [_safe(x, excel) for x in (p.sample_id, p.kind, p.case_id, p.relation, p.sex, p.kit)]
            for l in loci:
                row.extend(p.genotypes.get(l, ("", "")))
            w.writerow(row)


def write_genemapper(profiles, path, excel: bool = False) -> None:
    with _Out(path, excel) as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\r\n")
        w.writerow(["Sample Name", "Marker", "Allele 1", "Allele 2"])
        for p in profiles:
            if p.sex in ("M", "F"):
                w.writerow([_safe(p.sample_id, excel), "AMEL", "X", "Y" if p.sex == "M" else ""])
            for l, (a, b) in p.genotypes.items():
                w.writerow([_safe(p.sample_id, excel), l, a, "" if a == b else b])


def write_manifest(profiles, path, excel: bool = False) -> None:
    with _Out(path, excel) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["sample_id", "kind", "case_id", "relation", "sex", "kit"])
        for p in profiles:
            w.writerow([_safe(x, excel) for x in (p.sample_id, p.kind, p.case_id, p.relation, p.sex, p.kit)])


def export_profiles(source, path, format: str = "csv", *, kind=None, excel: bool = False,
                    frequencies=None, **kw) -> None:
    """Export profiles (a dataset path, :class:`Dataset`, :class:`ProfileArrays` or
    list of :class:`Profile`) to ``path`` (``"-"`` = stdout) in ``format``."""
    if isinstance(source, (str, os.PathLike)):
        source = open_dataset(source)
    if isinstance(source, Dataset):
        source = source.load(kind=kind)
    elif kind is not None and isinstance(source, ProfileArrays):
        source = source.take(np.isin(source.kind, [kind] if isinstance(kind, str) else list(kind)))
    profiles = _profiles(source)
    if kind is not None and not isinstance(source, ProfileArrays):
        ks = [kind] if isinstance(kind, str) else list(kind)
        profiles = [p for p in profiles if p.kind in ks]
    fmt = format.lower()
    if fmt in ("csv", "long"):
        write_long_csv(profiles, path, excel)
    elif fmt == "wide":
        write_wide(profiles, path, excel)
    elif fmt == "genemapper":
        write_genemapper(profiles, path, excel)
    elif fmt == "manifest":
        write_manifest(profiles, path, excel)
    elif fmt == "cmf":
        from .cmf import write_cmf

        write_cmf(profiles, path, **kw)
    elif fmt in ("familias", "fam"):
        from .familias import write_fam

        write_fam(profiles, path, frequencies=frequencies, **kw)
    else:
        raise ValueError(f"unknown export format {format!r}: expected one of {', '.join(PROFILE_FORMATS)}")


def _cell(v, excel):
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Inf" if f > 0 else "-Inf"
        return repr(f)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (list, tuple, np.ndarray)):
        return _safe(";".join(str(x) for x in v), excel)
    return _safe(str(v), excel)


def write_results_csv(results, path, excel: bool = True, columns=None) -> None:
    """Write a results table to CSV for spreadsheets (``excel=True`` by default:
    BOM + formula-safe text cells; numbers unchanged, floats with every digit,
    infinite LRs as ``Inf``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(results, (str, os.PathLike)):
        p = Path(results)
        if p.suffix.lower() in (".parquet", ".pq"):
            results = pq.read_table(p)
        elif p.suffix.lower() in (".arrow", ".feather", ".ipc"):
            import pyarrow.feather as feather

            results = feather.read_table(p)
        else:
            raise ValueError(f"{p}: results must be a Parquet or Arrow file")
    if isinstance(results, pa.Table):
        names = results.column_names
        cols = [results.column(n).to_pylist() for n in names]
    elif isinstance(results, dict):
        names = list(results)
        cols = [list(results[n]) for n in names]
    else:
        rows = list(results)
        names = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
        cols = [[r.get(n) for r in rows] for n in names]
    if columns:
        idx = [names.index(c) for c in columns]
        names = [names[i] for i in idx]
        cols = [cols[i] for i in idx]
    n = len(cols[0]) if cols else 0
    with _Out(path, excel) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([_safe(str(x), excel) for x in names])
        for i in range(n):
            w.writerow([_cell(c[i], excel) for c in cols])
