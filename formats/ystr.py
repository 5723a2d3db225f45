"""Y-STR haplotypes in and out: lab exports -> checked haplotypes -> Parquet shards.

The Y side of :mod:`formats`.  It reads the same lab formats as the autosomal
importer (GeneMapper / GeneMapper ID-X genotype tables, the long CSV, CODIS CMF
XML), checks every row against the rules of :mod:`kinship.ystr.haplotypes`, and
stores the result as a **Y haplotype dataset**: a directory of Parquet shards like
a profile dataset, with its own format marker and schema (documented in
``docs/formats.md``, section "Y-STR haplotypes")::

    ydb/
      _dataset.json                    manifest: format "strkin-y-haplotypes", panel, shards
      part-00000-1f2e3d4c.parquet      one row per man
      part-00001-9a8b7c6d.parquet      appended later; old shards are never rewritten

Shard columns: ``sample_id``, ``kind``, ``case_id``, ``relation``, ``sex``, ``kit``
(strings, ``""`` when unknown), then per slot of the shard's panel (one per marker
copy, :meth:`kinship.ystr.YHaplotypes.to_columns`) ``allele.<slot>`` (int16, tenths
of a repeat; -1 untyped, -2 null allele, -3 duplicated) and ``flags.<slot>``
(uint8), and ``extra`` (string: JSON ``{marker: [tenths, ...]}`` of the values of
duplicated markers, ``""`` when none).

API::

    res = formats.import_y_file("y23.txt", format="genemapper", manifest="samples.csv",
                                mode="lenient", rejects_path="y23.rejects.csv")
    formats.write_y_haplotypes("ydb/", res.haplotypes, res.meta, provenance=res.provenance)
    h, meta = formats.open_y_dataset("ydb/").load(kind="reference")
    kinship.ystr.lineage_search(queries, h)

Writing reuses the machinery of :mod:`formats.dataset` (advisory lock, temporary
shard names moved into place with ``os.replace``, atomic manifest, sha256 per
shard, provenance), so the guarantees are the same: append-only, a failed write
leaves the dataset as it was, a ``sample_id`` is unique in a dataset.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kinship.markers import AlleleError, LocusError, canonical_locus, is_amelogenin, normalize_allele
from kinship.ystr.haplotypes import (
    DUPLICATED,
    FLAG_COPIES_ASSUMED_EQUAL,
    MISSING,
    NULL,
    YHaplotypeError,
    YHaplotypes,
)
from kinship.ystr.loci import (
    DYS389I,
    DYS389II,
    YLocusError,
    YPanel,
    get_panel,
    known_y_markers,
    looks_like_y_marker,
    panels,
    resolve_y_marker,
)

from .dataset import (
    DEFAULT_SHARD_SIZE,
    MANIFEST_NAME,
    META_COLUMNS,
    _SHARD_RE,
    _ShardedDataset,
    _check_version,
    _dataset_lock,
    _default_provenance,
    _kind_filter,
    _open_parquet,
    _check_not_in_shards,
    _check_unique_ids,
    _new_shard_names,
    _read_footer,
    _read_shard_columns,
    _remove_stale_temps,
    _require_columns,
    _software_version,
    _strings,
    _utcnow,
    _validate_columns,
    _write_json_atomic,
    _write_shards,
    sha256_file,
)
from .dataset import FORMAT_NAME as _PROFILE_FORMAT
from .errors import (
    CorruptShardError,
    DatasetError,
    InputFormatError,
    InvalidRowError,
    ProfileValidationError,
    Reject,
)
from .importing import _not_in_manifest, _reject_row, allele_fix, write_rejects
from .parsed import Call, Parsed
from .manifest import Manifest, read_manifest
from .profile import RELATIONS, normalize_kind, normalize_relation, normalize_sex

__all__ = [
    "Y_FORMAT_NAME",
    "Y_SCHEMA_VERSION",
    "Y_MIN_SCHEMA_VERSION",
    "Y_FORMATS",
    "YSampleMeta",
    "YImportResult",
    "YDataset",
    "import_y_file",
    "write_y_haplotypes",
    "open_y_dataset",
    "rebuild_y_manifest",
]

#: Format marker of Y haplotype shards and manifests (footer key ``strkin.format``).
Y_FORMAT_NAME = "strkin-y-haplotypes"
#: Version of the Y shard and manifest layout written by this code.
Y_SCHEMA_VERSION = 1
#: Oldest Y schema version this code still reads.
Y_MIN_SCHEMA_VERSION = 1
#: Genotype formats understood by :func:`import_y_file`.
from .names import Y_FORMATS  # noqa: E402  (defined there for the command line)

_KEY_FORMAT = b"strkin.format"
_KEY_VERSION = b"strkin.schema_version"
_KEY_PANEL = b"strkin.y_panel"
_KEY_PROVENANCE = b"strkin.provenance"
_DICT_COLUMNS = ["kind", "case_id", "relation", "sex", "kit"]
_SUFFIX = "abcdefgh"
_MAX_TENTHS = 629
#: Markers that appear in Y kit exports but are not Y-STRs (skipped by default)
DEFAULT_SKIP_LOCI = ("Y indel",)


def allele_column(slot: str) -> str:
    """Shard column of a slot's values: ``"allele.DYS385a"``."""
    return f"allele.{slot}"


def flags_column(slot: str) -> str:
    """Shard column of a slot's flags: ``"flags.DYS385a"``."""
    return f"flags.{slot}"


# --------------------------------------------------------------------------------------
# Sample metadata
# --------------------------------------------------------------------------------------
@dataclass
class YSampleMeta:
    """Per-man metadata, aligned with the rows of a :class:`YHaplotypes`.

    Object arrays of ``str`` (``""`` = not given): ``sample_id`` (equal to the
    haplotypes' ``profile_id``), ``kind`` (``query``/``reference``), ``case_id``,
    ``relation``, ``sex`` (``M`` or ``""``), ``kit``.
    """

    sample_id: np.ndarray
    kind: np.ndarray
    case_id: np.ndarray
    relation: np.ndarray
    sex: np.ndarray
    kit: np.ndarray

    def __len__(self) -> int:
        return int(len(self.sample_id))

    def take(self, index) -> "YSampleMeta":
        return YSampleMeta(*(getattr(self, c)[index] for c in META_COLUMNS))

    def to_dict(self) -> dict:
        return {c: getattr(self, c) for c in META_COLUMNS}

    @classmethod
    def empty(cls) -> "YSampleMeta":
        return cls(*(np.array([], dtype=object) for _ in META_COLUMNS))

    @classmethod
    def concat(cls, parts: Sequence["YSampleMeta"]) -> "YSampleMeta":
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, c) for p in parts]) for c in META_COLUMNS))

    @classmethod
    def build(cls, sample_ids, meta=None, *, kind: str | None = None) -> "YSampleMeta":
        """From ``sample_ids`` and ``meta``: a :class:`YSampleMeta`, a mapping of column
        name to sequence (missing columns are ``""``; ``kind`` defaults to ``kind`` or
        ``"query"``), or None."""
        ids = np.array(list(sample_ids), dtype=object)
        n = len(ids)
        if isinstance(meta, YSampleMeta):
            out = meta
        else:
            meta = dict(meta or {})
            unknown = set(meta) - set(META_COLUMNS)
            if unknown:
                raise ProfileValidationError(
                    f"unknown metadata column(s) {sorted(unknown)}; expected {', '.join(META_COLUMNS)}"
                )
            cols = {}
            for c in META_COLUMNS[1:]:
                if c in meta and meta[c] is not None:
                    v = meta[c]
                    cols[c] = (np.full(n, v, dtype=object) if isinstance(v, str)
                               else np.array(list(v), dtype=object))
                else:
                    cols[c] = np.full(n, (kind or "query") if c == "kind" else "", dtype=object)
            sid = np.array(list(meta["sample_id"]), dtype=object) if "sample_id" in meta else ids
            out = cls(sid, **cols)
        for c in META_COLUMNS:
            if len(getattr(out, c)) != n:
                raise ProfileValidationError(
                    f"metadata column {c} has {len(getattr(out, c))} entries for {n} haplotypes")
        if not all(a == b for a, b in zip(out.sample_id, ids)):
            i = next(i for i, (a, b) in enumerate(zip(out.sample_id, ids)) if a != b)
            raise ProfileValidationError(
                f"metadata sample_id {out.sample_id[i]!r} at position {i} differs from the "
                f"haplotype's profile_id {ids[i]!r}; the metadata must be in haplotype order")
        return out


# --------------------------------------------------------------------------------------
# Panels <-> JSON
# --------------------------------------------------------------------------------------
def _panel_to_json(p: YPanel) -> dict:
    return {"name": p.name, "source": p.source,
            "markers": [[m.name, int(m.copies)] for m in p.markers]}


def _panel_from_json(d, where: str) -> YPanel:
    try:
        name = str(d["name"])
        source = str(d.get("source", ""))
        markers = [(str(m), int(c)) for m, c in d["markers"]]
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptShardError(
            f"{where}: damaged Y panel metadata ({type(e).__name__}: {e}); restore it from a "
            f"backup") from None
    shipped = panels().get(name)
    if shipped is not None and shipped.source == source and \
            [(m.name, m.copies) for m in shipped.markers] == markers:
        return shipped
    cat = set(known_y_markers())
    try:
        return YPanel.custom(name, [m for m, _ in markers],
                             copies={m: c for m, c in markers if m not in cat}, source=source)
    except YLocusError as e:
        raise CorruptShardError(f"{where}: damaged Y panel metadata ({e})") from None


def _merge_panels(ds: YPanel | None, new: YPanel) -> YPanel:
    """The dataset panel after a write of haplotypes on ``new`` (append-only)."""
    if ds is None:
        return new
    have = {m.name: m.copies for m in ds.markers}
    for m in new.markers:
        if m.name in have and have[m.name] != m.copies:
            raise DatasetError(
                f"marker {m.name} has {m.copies} copies in the haplotypes being written but "
                f"{have[m.name]} in the dataset panel {ds.name!r}; a marker keeps its copy "
                f"number in a dataset. Write these haplotypes to another dataset.")
    if all(m.name in have for m in new.markers):
        return ds
    try:
        return ds.union(new, name=f"{ds.name}+{new.name}")
    except YLocusError as e:
        raise DatasetError(f"cannot add panel {new.name!r} to the dataset panel {ds.name!r}: {e}") from None


# --------------------------------------------------------------------------------------
# Versions and footers
# --------------------------------------------------------------------------------------
def _check_y_version(found, where, path) -> int:
    return _check_version(found, where, path, what="Y haplotype", lo=Y_MIN_SCHEMA_VERSION,
                          hi=Y_SCHEMA_VERSION, command="kinship import-y")


@dataclass
class _YShardInfo:
    path: Path
    n_rows: int
    panel: YPanel
    provenance: dict
    schema_version: int


def _y_info(pf: pq.ParquetFile, path: Path) -> _YShardInfo:
    name = path.name
    md, n_rows = _read_footer(pf, path)
    fmt = md.get(_KEY_FORMAT)
    if fmt == _PROFILE_FORMAT.encode():
        raise DatasetError(
            f"{name} is an autosomal profile shard, not a Y haplotype shard; open it with "
            f"formats.open_dataset(), and keep Y haplotypes in their own dataset directory")
    if fmt != Y_FORMAT_NAME.encode():
        raise CorruptShardError(
            f"{name} is a Parquet file but not a strkin Y haplotype shard (no "
            f"'{_KEY_FORMAT.decode()}' = '{Y_FORMAT_NAME}' metadata); import haplotypes with "
            f"'kinship import-y' instead of copying files in")
    v = _check_y_version(md.get(_KEY_VERSION, b"").decode("utf-8", "replace"), f"shard {name}", path)
    try:
        panel_json = json.loads(md[_KEY_PANEL])
        prov = json.loads(md.get(_KEY_PROVENANCE, b"{}"))
    except (KeyError, ValueError, TypeError) as e:
        raise CorruptShardError(
            f"shard {name}: damaged strkin metadata ({type(e).__name__}: {e}); restore it from "
            f"a backup") from None
    return _YShardInfo(path, n_rows, _panel_from_json(panel_json, f"shard {name}"), prov, v)


def read_y_shard_info(path) -> _YShardInfo:
    path = Path(path)
    return _y_info(_open_parquet(path), path)


# --------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------
class YDataset(_ShardedDataset):
    """A Y haplotype dataset opened with :func:`open_y_dataset`."""

    def __init__(self, path: Path, manifest: dict, single_file: bool = False):
        super().__init__(path, manifest, single_file)
        self._panel = _panel_from_json(manifest["panel"], f"dataset manifest {self.path}")

    @property
    def panel(self) -> YPanel:
        """The dataset panel: every marker of every shard, in order of first write."""
        return self._panel

    def _shard_info(self, path: Path) -> _YShardInfo:
        return read_y_shard_info(path)

    def _check_info(self, info: _YShardInfo) -> None:
        self._check_shard_panel(info)

    def __repr__(self) -> str:
        return (f"YDataset({str(self.path)!r}, {self.n_profiles} haplotypes, "
                f"{len(self.shards)} shards, panel {self._panel.name!r})")

    # -- loading ------------------------------------------------------------------
    def _target(self, panel) -> YPanel:
        return self._panel if panel is None else get_panel(panel)

    def iter_shards(self, kind: str | Sequence[str] | None = None, panel=None
                    ) -> Iterator[tuple[YHaplotypes, YSampleMeta]]:
        """Yield ``(haplotypes, meta)`` per shard (bounded memory), all on one panel
        (the dataset panel unless ``panel`` is given)."""
        target = self._target(panel)
        kinds = _kind_filter(kind)
        for p in self.shards:
            yield self._load_shard(p, target, kinds)

    def load(self, kind: str | Sequence[str] | None = None, panel=None
             ) -> tuple[YHaplotypes, YSampleMeta]:
        """All haplotypes (optionally only ``kind="query"``/``"reference"``) as one
        :class:`~kinship.ystr.YHaplotypes` on the dataset panel (or on ``panel``: a
        shipped panel name or a :class:`~kinship.ystr.YPanel`; markers typed here but
        not in it are an error), and their :class:`YSampleMeta`."""
        target = self._target(panel)
        kinds = _kind_filter(kind)
        parts = [self._load_shard(p, target, kinds) for p in self.shards]
        if not parts:
            return (YHaplotypes(target, np.full((0, target.n_slots), MISSING, np.int16), []),
                    YSampleMeta.empty())
        if len(parts) == 1:
            return parts[0]
        return (YHaplotypes.concat([h for h, _ in parts]),
                YSampleMeta.concat([m for _, m in parts]))

    def _check_shard_panel(self, info: _YShardInfo) -> None:
        have = {m.name: m.copies for m in self._panel.markers}
        for m in info.panel.markers:
            if have.get(m.name) != m.copies:
                raise CorruptShardError(
                    f"shard {info.path.name}: its panel has marker {m.name} ({m.copies} copies) "
                    f"but the dataset panel in {MANIFEST_NAME} "
                    f"{'has ' + str(have[m.name]) + ' copies' if m.name in have else 'lacks it'}; "
                    f"the manifest or the shard was edited or mixed in from another dataset. "
                    f"Restore both from a backup, or rebuild the manifest with "
                    f"formats.rebuild_y_manifest()")

    def _load_shard_unchecked(self, path: Path, target: YPanel, kinds):
        pf = self._open_verified(path, read_dictionary=_DICT_COLUMNS, page_checksum_verification=True)
        info = _y_info(pf, path)
        self._check_shard_panel(info)
        sp = info.panel
        want = list(META_COLUMNS) + [c for s in sp.slots for c in (allele_column(s), flags_column(s))]
        want.append("extra")
        _require_columns(set(pf.schema_arrow.names), want, path)
        table = _read_shard_columns(pf, path, want)
        if kinds is not None:
            mask = np.isin(_strings(table.column("kind")), list(kinds))
            if not mask.all():
                table = table.filter(pa.array(mask))
        n = table.num_rows
        allele = np.empty((n, sp.n_slots), np.int16)
        flags = np.empty((n, sp.n_slots), np.uint8)
        for s, slot in enumerate(sp.slots):
            allele[:, s] = _numeric(table, allele_column(slot), pa.int16(), path)
            flags[:, s] = _numeric(table, flags_column(slot), pa.uint8(), path)
        extra = {}
        ext = table.column("extra")
        if ext.null_count or ext.type not in (pa.string(), pa.large_string()):
            raise CorruptShardError(f"shard {path.name}: column 'extra' is damaged (type "
                                    f"{ext.type}, {ext.null_count} nulls)")
        nonempty = np.flatnonzero(pc.not_equal(ext, "").to_numpy(zero_copy_only=False))
        for r in nonempty:
            try:
                d = json.loads(ext[int(r)].as_py())
                for m, vals in d.items():
                    extra[(int(r), str(m))] = tuple(int(v) for v in vals)
            except (ValueError, TypeError, AttributeError) as e:
                raise CorruptShardError(
                    f"shard {path.name}: row {int(r)} has a damaged 'extra' value ({e}); restore "
                    f"the shard from a backup") from None
        sid = _strings(table.column("sample_id"))
        try:
            h = YHaplotypes(sp, allele, sid, flags, extra)
        except YHaplotypeError as e:
            raise CorruptShardError(
                f"shard {path.name}: the stored haplotypes break the storage rules ({e}); the "
                f"shard is damaged. Restore it from a backup.") from None
        if target is not sp:
            try:
                h = h.to_panel(target)
            except YHaplotypeError as e:
                raise YHaplotypeError(f"shard {path.name}: {e}") from None
        meta = YSampleMeta(sid, *(_strings(table.column(c)) for c in META_COLUMNS[1:]))
        return h, meta


def _numeric(table: pa.Table, name: str, typ, path) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        raise CorruptShardError(f"shard {Path(path).name}: column {name!r} has nulls; the shard "
                                f"is damaged. Restore it from a backup.")
    if col.type != typ:
        raise CorruptShardError(
            f"shard {Path(path).name}: column {name!r} has type {col.type}, expected {typ}; the "
            f"shard is damaged. Restore it from a backup.")
    return col.to_numpy()


def _read_y_manifest(path: Path) -> dict:
    mpath = path / MANIFEST_NAME
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if any(path.glob("part-*.parquet")):
            raise DatasetError(
                f"{path} has Parquet files but no {MANIFEST_NAME}; the manifest was deleted. "
                f"Rebuild it from the shard footers with formats.rebuild_y_manifest({str(path)!r})"
            ) from None
        raise DatasetError(
            f"{path} is not a Y haplotype dataset (no {MANIFEST_NAME}); create one with "
            f"'kinship import-y ... --out {path}' or formats.write_y_haplotypes()") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptShardError(
            f"{mpath}: the dataset manifest is not valid JSON ({e}); restore it from a backup, "
            f"or rebuild it with formats.rebuild_y_manifest({str(path)!r})") from None
    fmt = m.get("format") if isinstance(m, dict) else None
    if fmt == _PROFILE_FORMAT:
        raise DatasetError(
            f"{path} is an autosomal profile dataset (format {fmt!r}), not a Y haplotype "
            f"dataset; open it with formats.open_dataset(). Keep Y haplotypes in their own "
            f"directory (kinship import-y ... --out OTHER_DIR).")
    if fmt != Y_FORMAT_NAME:
        raise CorruptShardError(
            f"{mpath} is not a strkin Y haplotype dataset manifest (format {fmt!r}); rebuild "
            f"it with formats.rebuild_y_manifest({str(path)!r})")
    _check_y_version(m.get("schema_version"), f"dataset manifest {mpath}", mpath)
    try:
        if not isinstance(m["panel"], dict):
            raise TypeError("panel")
        for s in m["shards"]:
            if not _SHARD_RE.match(str(s["file"])):
                raise ValueError(f"bad shard file name {s['file']!r}")
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptShardError(
            f"{mpath}: damaged dataset manifest ({e}); rebuild it with "
            f"formats.rebuild_y_manifest({str(path)!r})") from None
    return m


def _new_y_manifest(panel: YPanel) -> dict:
    return {
        "format": Y_FORMAT_NAME,
        "schema_version": Y_SCHEMA_VERSION,
        "created": _utcnow(),
        "software": {"name": "strkin", "version": _software_version()},
        "panel": _panel_to_json(panel),
        "shards": [],
    }


def open_y_dataset(path) -> YDataset:
    """Open a Y haplotype dataset directory (or one shard file, read-only).

    Raises :class:`DatasetError` (not a Y dataset; an autosomal dataset is named as
    such), :class:`SchemaTooNewError` / :class:`SchemaTooOldError`, or
    :class:`CorruptShardError` (damaged manifest).  Shards are read by ``load``.
    """
    path = Path(path)
    if path.is_file():
        info = read_y_shard_info(path)
        m = _new_y_manifest(info.panel)
        m["shards"] = [{"file": path.name, "n_profiles": info.n_rows, "provenance": info.provenance}]
        return YDataset(path, m, single_file=True)
    if not path.exists():
        raise DatasetError(f"dataset {path} does not exist")
    return YDataset(path, _read_y_manifest(path))


def rebuild_y_manifest(path) -> YDataset:
    """Rebuild ``_dataset.json`` of a Y dataset from its shard footers (name order)."""
    path = Path(path)
    infos = [read_y_shard_info(p) for p in sorted(path.glob("part-*.parquet"))]
    if not infos:
        raise DatasetError(f"{path}: no shards (part-*.parquet) to rebuild a manifest from")
    panel = None
    for info in infos:
        try:
            panel = _merge_panels(panel, info.panel)
        except DatasetError as e:
            raise CorruptShardError(f"shard {info.path.name}: {e}") from None
    m = _new_y_manifest(panel)
    for info in infos:
        m["shards"].append({"file": info.path.name, "n_profiles": info.n_rows,
                            "sha256": sha256_file(info.path), "panel": info.panel.name,
                            "provenance": info.provenance})
    with _dataset_lock(path):
        _write_json_atomic(path / MANIFEST_NAME, m)
    return YDataset(path, m)


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
def write_y_haplotypes(path, haplotypes, meta=None, provenance: Mapping | None = None, *,
                       kind: str | None = None, kit: str | None = None,
                       shard_size: int = DEFAULT_SHARD_SIZE, compression: str = "zstd"
                       ) -> list[Path]:
    """Append Y haplotypes to the dataset at ``path`` (created if needed) as new shards.

    ``haplotypes``: a :class:`~kinship.ystr.YHaplotypes` (its ``profile_id`` are the
    sample IDs), or a :class:`YImportResult` (its haplotypes, meta and provenance).
    ``meta``: a :class:`YSampleMeta` or a mapping ``{column: values}`` with columns
    among ``kind, case_id, relation, sex, kit`` (missing: ``""``; ``kind`` defaults to
    ``kind=`` or ``"query"``).  ``kit`` fills empty kits.  ``provenance`` is merged
    into the provenance stored in each new shard and in the manifest.

    The shards keep the haplotypes' own panel; the dataset panel grows to the union
    of the panels written (append-only, :meth:`YDataset.load` lays every shard out on
    it).  Old shards are never rewritten; a failed write leaves the dataset as it
    was; a ``sample_id`` already in the dataset (or given twice) raises
    :class:`DuplicateSampleError` naming the shards.  Returns the new shard paths.
    """
    if isinstance(haplotypes, YImportResult):
        res = haplotypes
        haplotypes = res.haplotypes
        meta = res.meta if meta is None else meta
        provenance = res.provenance if provenance is None else provenance
    if not isinstance(haplotypes, YHaplotypes):
        raise TypeError(f"haplotypes must be a kinship.ystr.YHaplotypes, got {type(haplotypes).__name__}")
    path = Path(path)
    h = haplotypes
    n = len(h)
    m = YSampleMeta.build(h.profile_id, meta, kind=kind)
    cols = _validate_columns(m)
    if n == 0:
        return []
    if kit:
        cols["kit"] = pc.if_else(pc.equal(cols["kit"], ""), kit, cols["kit"])
    sex = cols["sex"]
    fem = pc.indices_nonzero(pc.equal(sex, "F"))
    if len(fem):
        i = fem[0].as_py()
        raise ProfileValidationError(
            f"sample {cols['sample_id'][i].as_py()!r} is recorded as female (sex 'F') but is "
            f"given a Y haplotype; a female sample has no Y haplotype. Check for a sample swap, "
            f"or correct the sex.")
    sid = cols["sample_id"]
    _check_unique_ids(sid, "haplotypes")
    extra_rows: dict[int, dict] = {}
    for (r, mk), vals in h.extra.items():
        extra_rows.setdefault(int(r), {})[mk] = [int(v) for v in vals]
    extra_col = np.full(n, "", dtype=object)
    for r, d in extra_rows.items():
        extra_col[r] = json.dumps(d, sort_keys=True)
    from .perms import make_dir

    make_dir(path)
    prov = _default_provenance()
    if provenance:
        prov.update(dict(provenance))
    with _dataset_lock(path):
        _remove_stale_temps(path)
        mpath = path / MANIFEST_NAME
        if mpath.exists():
            manifest = _read_y_manifest(path)
        elif any(path.glob("part-*.parquet")):
            raise DatasetError(
                f"{path} has Parquet files but no {MANIFEST_NAME}; rebuild the manifest first "
                f"(formats.rebuild_y_manifest) or write to an empty directory. Nothing was written.")
        else:
            manifest = None
        ds_panel = None if manifest is None else _panel_from_json(manifest["panel"], str(mpath))
        new_panel = _merge_panels(ds_panel, h.panel)
        if manifest is None:
            manifest = _new_y_manifest(new_panel)
        seq0 = len(manifest["shards"])
        step = max(1, int(shard_size))
        names = _new_shard_names(seq0, n, step)
        _check_not_in_shards([path / s["file"] for s in manifest["shards"]], sid, prov, path,
                             names, step, what="Y dataset")
        panel_json = json.dumps(_panel_to_json(h.panel), ensure_ascii=False).encode()
        def columns(start, stop):
            for s, slot in enumerate(h.panel.slots):
                yield (pa.field(allele_column(slot), pa.int16(), nullable=False),
                       pa.array(h.allele[start:stop, s], type=pa.int16()))
                yield (pa.field(flags_column(slot), pa.uint8(), nullable=False),
                       pa.array(h.flags[start:stop, s], type=pa.uint8()))
            yield (pa.field("extra", pa.string(), nullable=False),
                   pa.array(extra_col[start:stop], type=pa.string()))

        footer = {
            _KEY_FORMAT: Y_FORMAT_NAME.encode(),
            _KEY_VERSION: str(Y_SCHEMA_VERSION).encode(),
            _KEY_PANEL: panel_json,
            _KEY_PROVENANCE: json.dumps(prov, ensure_ascii=False, default=str).encode(),
        }
        return _write_shards(path, mpath, manifest, cols, names, n, step, columns, footer, prov,
                             compression, entry_extra={"panel": h.panel.name},
                             manifest_updates={"panel": _panel_to_json(new_panel)})


# --------------------------------------------------------------------------------------
# Importing
# --------------------------------------------------------------------------------------
@dataclass
class YImportResult:
    """The outcome of :func:`import_y_file`.

    ``haplotypes`` (:class:`~kinship.ystr.YHaplotypes`) and ``meta``
    (:class:`YSampleMeta`) hold the imported men, in order of first appearance.
    Row counts are rows of the genotype file: always ``n_imported + n_rejected +
    n_skipped == n_read``; ``n_skipped`` counts rows of markers deliberately not
    stored (``skip_loci``, by default the ``Y indel`` of Yfiler Plus; autosomal loci
    with ``skip_autosomal=True``).  ``n_untyped``: no-call rows imported as untyped;
    ``n_duplicate``: exact repeats merged; ``n_flagged``: markers stored as flagged
    duplications (values kept, not compared).
    """

    haplotypes: YHaplotypes
    meta: YSampleMeta
    rejects: list
    n_read: int
    n_imported: int
    n_rejected: int
    n_skipped: int = 0
    format: str = ""
    source: str = ""
    panel: YPanel | None = None
    manifest_read: int = 0
    manifest_used: int = 0
    manifest_rejected: int = 0
    n_untyped: int = 0
    n_duplicate: int = 0
    n_flagged: int = 0
    n_copies_assumed_equal: int = 0
    provenance: dict = field(default_factory=dict)
    rejects_path: str | None = None

    def summary(self) -> str:
        s = (f"{os.path.basename(self.source)}: read {self.n_read} rows, imported "
             f"{self.n_imported}, rejected {self.n_rejected}")
        if self.n_skipped:
            s += f", skipped {self.n_skipped}"
        s += f"; {len(self.haplotypes)} Y haplotypes"
        if self.panel is not None:
            s += f" (panel {self.panel.name!r}, {self.panel.n_slots} slots)"
        extra = []
        if self.n_untyped:
            extra.append(f"{self.n_untyped} no-call rows imported as untyped")
        if self.n_duplicate:
            extra.append(f"{self.n_duplicate} exact repeats merged")
        if self.n_flagged:
            extra.append(f"{self.n_flagged} markers flagged as duplications (kept, not compared)")
        if self.n_copies_assumed_equal:
            extra.append(f"{self.n_copies_assumed_equal} multi-copy markers read from one value "
                         f"(copies assumed equal, flagged)")
        if extra:
            s += "; " + ", ".join(extra)
        if self.manifest_read:
            s += (f". Manifest: read {self.manifest_read} rows, used {self.manifest_used}, "
                  f"rejected {self.manifest_rejected}")
        return s


_MISSING_TOKENS = {"", "NA", "N/A", "ND", "-", "NAN", "NONE"}
_NULL_TOKENS = {"NULL", "DEL", "DELETION"}
_CTRL = re.compile(r"[\x00-\x1f\x7f]")


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", str(name)).upper()


def _label(v: int) -> str:
    if v == NULL:
        return "null"
    return f"{v // 10}" if v % 10 == 0 else f"{v // 10}.{v % 10}"


def _cell_value(cell: str):
    """A cell -> tenths (int) or NULL; raises AlleleError / ValueError (too long)."""
    s = cell.strip()
    if s.upper() in _NULL_TOKENS:
        return NULL
    label = normalize_allele(s)
    t = int(round(float(label) * 10))
    if t > _MAX_TENTHS:
        raise ValueError(label)
    return t


def _amel_sex(cells: list[str]) -> str | None:
    s = {a.strip().upper() for a in cells}
    if not s or not s <= {"X", "Y"} or len(cells) > 2:
        return None
    return "M" if "Y" in s else "F"


def _copy_name(marker: str, copy: int | None) -> str:
    return marker if copy is None else marker + _SUFFIX[copy]


@dataclass
class _Row:
    call: Call
    marker: str
    copy: int | None
    values: tuple


def _infer_panel(markers: set[str]) -> YPanel:
    """The smallest shipped panel holding every marker seen; else the markers in
    catalogue order (panel "inferred")."""
    fits = [p for p in panels().values() if markers <= set(p.marker_names)]
    if fits:
        return min(fits, key=lambda p: p.n_slots)
    order = list(known_y_markers())
    return YPanel.custom("inferred", sorted(markers, key=order.index),
                         source="inferred from the imported markers")


def parse_y_long_csv(path, encoding=None, delimiter=None) -> Parsed:
    """Long CSV ``sample_id,locus,allele1[,allele2,...]`` (one row per sample and
    marker, or per marker copy: ``DYS385a``).  Values past the last header column are
    further values of the row (``S1,DYS385,11,14,15`` with two allele columns is a
    three-value DYS385)."""
    from .table import _SAMPLE_KEYS, _allele_columns, _long_csv_header
    from .textio import first_line, header_key, iter_rows, read_text

    t = read_text(path, encoding, what="Y-STR genotype CSV")
    fname = os.fspath(path)
    head = first_line(t.text)

    def find(h):
        keys = [header_key(x) for x in h]
        si = next((keys.index(k) for k in _SAMPLE_KEYS if k in keys), None)
        li = next((keys.index(k) for k in ("locus", "marker") if k in keys), None)
        ai = _allele_columns(keys)
        if not ai and "allele" in keys:
            ai = [keys.index("allele")]
        return si, li, ai

    def cols_ok(h):
        si, li, ai = find(h)
        return si is not None and li is not None and len(ai) >= 1

    d, header = _long_csv_header(t, head, fname, delimiter, cols_ok)
    si, li, ai = find(header)
    p = Parsed(fname, "csv", t.sha256, t.encoding, single_allele="error", no_call="error")
    rows = iter_rows(t.text, d, fname)
    next(rows)
    for line, row in rows:
        sample = row[si].strip() if si < len(row) else ""
        locus = row[li].strip() if li < len(row) else ""
        alleles = [row[i] if i < len(row) else "" for i in ai] + list(row[len(header):])
        p.calls.append(Call(line, sample, locus, alleles))
    return p


def _detect_y_format(path) -> str:
    from .importing import _detect_format

    try:
        fmt = _detect_format(path)
    except InputFormatError as e:
        raise InputFormatError(e.reason, file=path, line=e.line,
                               fix=f"pass format= (command line: --format), one of "
                                   f"{', '.join(Y_FORMATS)}") from None
    if fmt not in Y_FORMATS:
        raise InputFormatError(
            f"the file looks like the {fmt!r} format, which the Y-STR importer does not read",
            file=path, line=1,
            fix=f"export the Y-STR calls as a GeneMapper genotype table, a long CSV "
                f"(sample_id,locus,allele1,allele2) or CODIS CMF; or pass format= if the "
                f"guess is wrong ({', '.join(Y_FORMATS)})")
    return fmt


def assemble_y(parsed: Parsed, *, manifest: Manifest | None = None, mode: str = "strict",
               panel=None, duplications: str = "flag", single_value_multicopy: str = "error",
               skip_loci: Iterable[str] = DEFAULT_SKIP_LOCI, skip_autosomal: bool = False,
               default_kind: str = "query", kit: str = ""):
    """Check Y rows, pool them per sample and marker, join the manifest.

    Returns ``(haplotypes, meta, rejects, stats)``; in strict mode raises
    :class:`InvalidRowError` for the first problem."""
    file = parsed.file
    panel_obj = get_panel(panel) if panel is not None else None
    declared = panel_obj.extra_markers() if panel_obj is not None else {}
    skip_keys = {_key(s) for s in skip_loci}
    rejected: dict[object, tuple[int, Reject]] = {}
    for i, r in enumerate(parsed.rejects):
        rejected[("structural", i)] = (1, r)
    skipped: dict[object, Call] = {}
    untyped: dict[object, Call] = {}
    by_sample: dict[str, list[Call]] = {}
    rows: dict[str, dict[str, list[_Row]]] = {}       # sample -> marker -> rows
    amel: dict[str, list] = {}                        # sample -> [(key, sex)]
    by_key = {}

    def reject(c, reason, fix, value="", locus=None, phase=1):
        _reject_row(rejected, file, c, reason, fix, value, locus=locus, phase=phase)

    # -- phase 1: each row on its own ---------------------------------------------------
    for c in parsed.calls:
        c.sample = (c.sample or "").strip()
        by_key[c.key] = c
        by_sample.setdefault(c.sample, []).append(c)
        if not c.sample:
            reject(c, "empty sample name", "fill in the sample name, or delete the row")
            continue
        if _CTRL.search(c.sample):
            reject(c, "the sample name contains a control character",
                   "remove tabs/newlines from the sample name")
            continue
        raw = (c.locus or "").strip()
        if not raw:
            reject(c, "empty marker name", "fill in the marker name, or delete the row", locus="")
            continue
        cells = [a.strip() for a in c.alleles]
        cells = ["" if a.upper() in _MISSING_TOKENS else a for a in cells]
        while cells and cells[-1] == "":
            cells.pop()
        if is_amelogenin(raw):
            c.locus = "AMEL"
            if "" in cells:
                reject(c, "empty allele before a called one",
                       "move the alleles into the first allele columns")
                continue
            if not cells:
                untyped[c.key] = c
                continue
            sex = _amel_sex(cells)
            if sex is None:
                bad = next((a for a in cells if a.upper() not in ("X", "Y")), cells[-1])
                reject(c, "amelogenin alleles must be X and/or Y (at most two)",
                       "correct the amelogenin call, or delete the row", value=bad)
                continue
            amel.setdefault(c.sample, []).append((c.key, sex))
            continue
        if _key(raw) in skip_keys:
            skipped[c.key] = c
            continue
        try:
            marker, copy = resolve_y_marker(raw, declared)
        except YLocusError as e:
            if looks_like_y_marker(raw):
                reason = str(e).split(" Known markers")[0].strip().rstrip(".")
                reject(c, reason.replace(". Did you mean", "; did you mean"),
                       "correct the marker name; a real marker missing from the catalogue "
                       "(kinship.ystr.known_y_markers()) needs a panel that declares it: "
                       "panel=YPanel.custom(name, markers, copies={'DYS999': 1})",
                       value=raw, locus=raw)
                continue
            try:
                auto = canonical_locus(raw)
            except LocusError:
                reject(c, f"unknown locus {raw!r}: neither a Y-STR marker nor a known autosomal "
                          f"locus", "correct the marker name, or delete the row",
                       value=raw, locus=raw)
                continue
            if skip_autosomal:
                skipped[c.key] = c
                continue
            reject(c, f"autosomal locus {auto} in a Y-STR import",
                   "import autosomal loci with 'kinship import' (formats.import_file), or pass "
                   "skip_autosomal=True (command line: --skip-autosomal) to skip them here",
                   value=raw, locus=auto)
            continue
        c.locus = _copy_name(marker, copy)
        if panel_obj is not None and marker not in panel_obj.marker_names:
            reject(c, f"marker {marker} is not in panel {panel_obj.name!r}",
                   "import with a panel that has it (panel=None infers one; YPanel.union / "
                   "YPanel.custom build larger ones), or delete the row", value=raw)
            continue
        if "" in cells:
            reject(c, "empty allele: an allele column is empty before a called allele",
                   "move the alleles into the first allele columns, or fill in the missing "
                   "allele")
            continue
        if not cells:
            if parsed.no_call == "untyped":
                untyped[c.key] = c
            else:
                reject(c, "no allele given (empty allele)",
                       "write the value(s), or delete the row to leave the marker untyped")
            continue
        vals = []
        bad = None
        for a in cells:
            try:
                vals.append(_cell_value(a))
            except AlleleError as e:
                bad = (str(e), allele_fix(a), a)
                break
            except ValueError as e:
                bad = (f"allele {e} is above 62.9 repeats, the largest supported",
                       "check the call (a size in base pairs instead of a repeat number?)", a)
                break
        if bad:
            reject(c, bad[0], bad[1], value=bad[2])
            continue
        if copy is not None and len(vals) != 1:
            reject(c, f"{len(vals)} values for the single copy {c.locus} of {marker}",
                   f"give one value per copy row, or give {marker} as one row with all its "
                   f"values", value=cells[1])
            continue
        rows.setdefault(c.sample, {}).setdefault(marker, []).append(_Row(c, marker, copy, tuple(vals)))

    # -- panel ---------------------------------------------------------------------------
    if panel_obj is None:
        seen = {m for ms in rows.values() for m in ms}
        panel_obj = _infer_panel(seen) if seen else YPanel("inferred", (), "no markers imported")
    # -- phase 2: pool rows per sample and marker ---------------------------------------
    n_duplicate = 0
    outcome: dict[str, dict[str, tuple]] = {}   # sample -> marker -> (values, flags, extra, rows)
    for sample, markers in rows.items():
        for marker, rs in markers.items():
            m = panel_obj.marker(marker)
            whole = [r for r in rs if r.copy is None]
            per = [r for r in rs if r.copy is not None]
            lines = ", ".join(str(x) for x in sorted({r.call.line for r in rs}))

            def rej_all(reason, fix, value=""):
                for r in rs:
                    reject(r.call, reason, fix, value, locus=marker)

            if whole and per:
                rej_all(f"{marker} is given both as one row and per copy (lines {lines})",
                        f"keep either the {marker} row or the per-copy rows "
                        f"({', '.join(m.slots)})")
                continue
            if whole:
                distinct = {tuple(sorted(r.values)) for r in whole}
                if len(distinct) > 1:
                    rej_all(f"lines {lines} give different values for this sample and marker",
                            "keep the correct row and delete the others (if these are "
                            "different samples, give them different names)")
                    continue
                n_duplicate += len(whole) - 1
                vals = list(whole[0].values)
            else:
                got: dict[int, set] = {}
                for r in per:
                    got.setdefault(r.copy, set()).add(r.values[0])
                if any(len(v) > 1 for v in got.values()):
                    rej_all(f"lines {lines} give different values for one copy of {marker}",
                            "keep the correct row and delete the others")
                    continue
                n_duplicate += len(per) - len(got)
                if len(got) != m.copies:
                    have = ", ".join(_copy_name(marker, k) for k in sorted(got))
                    want = ", ".join(m.slots)
                    rej_all(f"only {have} of the {m.copies}-copy marker {marker} is given "
                            f"(copies {want})",
                            f"add the missing copy row(s), or give {marker} as one row with "
                            f"its {m.copies} values; delete the rows to leave {marker} untyped")
                    continue
                vals = [next(iter(got[k])) for k in range(m.copies)]
            if m.copies == 1:
                uniq = list(dict.fromkeys(vals))
                if len(uniq) == 1:
                    outcome.setdefault(sample, {})[marker] = ([uniq[0]], 0, None, rs)
                    continue
                if duplications == "error":
                    rej_all(f"single-copy marker {marker} has {len(uniq)} different values "
                            f"(a duplication, or a mixture?)",
                            "check the call; to keep it as a flagged duplication (stored, not "
                            "compared) pass duplications='flag' (command line: --duplications "
                            "flag); or delete the row to leave the marker untyped",
                            value=_label(uniq[1]))
                    continue
                outcome.setdefault(sample, {})[marker] = (None, 0, tuple(sorted(uniq)), rs)
                continue
            if len(vals) == m.copies:
                outcome.setdefault(sample, {})[marker] = (sorted(vals), 0, None, rs)
            elif len(vals) > m.copies:
                if duplications == "error":
                    rej_all(f"{marker} has {len(vals)} values where {m.copies} are expected "
                            f"(a duplication, or a mixture?)",
                            "check the call; to keep it as a flagged duplication (stored, not "
                            "compared) pass duplications='flag' (command line: --duplications "
                            "flag); or delete the row to leave the marker untyped",
                            value=_label(sorted(vals)[m.copies]))
                    continue
                outcome.setdefault(sample, {})[marker] = (None, 0, tuple(sorted(vals)), rs)
            elif len(vals) == 1:
                if single_value_multicopy == "error":
                    lab = _label(vals[0])
                    rej_all(f"{marker} has {m.copies} copies but one value was given, without "
                            f"saying that the copies are equal",
                            f"if every copy carries it write it {m.copies} times (e.g. "
                            f"{','.join([lab] * m.copies)}); if your export writes equal copies "
                            f"once (one peak), pass single_value_multicopy='all_copies' (command "
                            f"line: --single-value-multicopy all-copies) to read it so (flagged)",
                            value=lab)
                    continue
                outcome.setdefault(sample, {})[marker] = (
                    [vals[0]] * m.copies, FLAG_COPIES_ASSUMED_EQUAL, None, rs)
            else:
                rej_all(f"{marker} has {m.copies} copies but {len(vals)} values were given",
                        f"give all {m.copies} values, or delete the row(s) to leave {marker} "
                        f"untyped", value=_label(vals[-1]))

    # -- phase 3: samples ----------------------------------------------------------------
    ids: list[str] = []
    metas: list[tuple] = []
    kept: list[dict] = []
    made: set[str] = set()
    for sample, calls in by_sample.items():
        if not sample:
            continue
        live = [c for c in calls if c.key not in rejected and c.key not in skipped]
        if not live:
            continue
        entry = None
        if manifest is not None:
            entry = manifest.entries.get(sample)
            if entry is None:
                reason, fix = _not_in_manifest(manifest, sample)
                for c in live:
                    reject(c, reason, fix)
                continue
        n_y = len(outcome.get(sample, {}))
        msex = entry.sex if entry is not None else ""
        amel_entries = amel.get(sample, [])
        amel_sexes = {s for _, s in amel_entries}
        if len(amel_sexes) > 1:
            for k, _ in amel_entries:
                reject(by_key[k], "the amelogenin rows of this sample disagree",
                       "keep the correct row and delete the others")
            amel_sexes = set()
        amel_sex = next(iter(amel_sexes)) if amel_sexes else ""
        if msex == "F":
            for c in live:
                reject(c, f"sample is recorded as female in the manifest "
                          f"{os.path.basename(manifest.file)} (line {entry.line}) but has "
                          f"Y-STR rows; a female sample has no Y haplotype",
                       "check for a sample swap; correct the sex in the manifest, or remove the "
                       "sample's rows from the genotype file")
            continue
        if amel_sex == "F" and msex == "M":
            for k, _ in amel_entries:
                reject(by_key[k], "amelogenin shows X only (female) but the manifest says male",
                       "check for a sample swap; an AMELY deletion can hide Y in a male: if so, "
                       "delete the amelogenin row")
        elif amel_sex == "F":
            amel_line = by_key[amel_entries[0][0]].line
            for c in live:
                reject(c, f"amelogenin (line {amel_line}) shows X only (female) but the sample "
                          f"has {'Y-STR calls' if n_y else 'Y-STR rows'}; a female sample has no "
                          f"Y haplotype",
                       "check for a sample swap; if the man has an AMELY deletion, record sex M "
                       "for the sample in a manifest (--manifest)")
            continue
        # DYS389II must be longer than DYS389I
        out = outcome.get(sample, {})
        d1, d2 = out.get(DYS389I), out.get(DYS389II)
        if d1 is not None and d2 is not None and d1[0] is not None and d2[0] is not None \
                and d1[0][0] >= 0 and d2[0][0] >= 0 and d2[0][0] <= d1[0][0]:
            l1 = ", ".join(str(r.call.line) for r in d1[3])
            l2 = ", ".join(str(r.call.line) for r in d2[3])
            for r in d2[3] + d1[3]:
                reject(r.call, f"DYS389II (line {l2}) is not longer than DYS389I (line {l1}); "
                               f"DYS389II contains DYS389I",
                       "check for swapped DYS389I/DYS389II rows, or for DYS389II recorded as "
                       "II-I (store the raw DYS389II); or delete both rows",
                       value=_label(d2[0][0]), locus=r.marker)
            del out[DYS389I], out[DYS389II]
        hints = dict(parsed.hints.get(sample, {}))
        meta = {"kind": hints.get("kind") or default_kind, "case_id": hints.get("case_id", ""),
                "relation": hints.get("relation", ""), "sex": hints.get("sex", ""),
                "kit": hints.get("kit", "") or kit}
        if entry is not None:
            meta.update(kind=entry.kind, case_id=entry.case_id, relation=entry.relation)
            if entry.kit:
                meta["kit"] = entry.kit
        if msex:
            meta["sex"] = msex
        elif amel_sex == "M":
            meta["sex"] = "M"
        live = [c for c in calls if c.key not in rejected and c.key not in skipped]
        try:
            k_ = normalize_kind(meta["kind"])
            rel = normalize_relation(meta["relation"])
            sex = normalize_sex(meta["sex"])
            if k_ == "query" and rel:
                raise ValueError(f"a query has no relation (got {rel!r})")
            if k_ == "reference" and not meta["case_id"]:
                raise ValueError("a reference needs a case_id")
        except ValueError as e:
            for c in live:
                reject(c, f"sample metadata: {e}",
                       "give kind, case_id and relation for this sample in a manifest "
                       f"(--manifest); relations: {', '.join(RELATIONS)}", locus="")
            continue
        if sex == "F":  # e.g. a sex hint of the file itself
            for c in live:
                reject(c, "sample is recorded as female but has Y-STR rows",
                       "check for a sample swap, or correct the sex")
            continue
        if not live:
            continue
        ids.append(sample)
        metas.append((k_, meta["case_id"], rel, sex, str(meta["kit"] or "")))
        kept.append({mk: o for mk, o in out.items()
                     if any(r.call.key not in rejected for r in o[3])})
        made.add(sample)

    n = len(ids)
    S = panel_obj.n_slots
    allele = np.full((n, S), MISSING, np.int16)
    flags = np.zeros((n, S), np.uint8)
    extra = {}
    slices = panel_obj.marker_slices()
    for i, out in enumerate(kept):
        for mk, (vals, fl, ext, _) in out.items():
            sl = slices[mk]
            if ext is not None:
                allele[i, sl] = DUPLICATED
                extra[(i, mk)] = ext
            else:
                allele[i, sl] = vals
                flags[i, sl] |= fl
    h = YHaplotypes(panel_obj, allele, ids, flags, extra)
    meta_arr = YSampleMeta(np.array(ids, dtype=object),
                           *(np.array([m[j] for m in metas], dtype=object) for j in range(5)))

    rejects = [r for _, r in sorted(rejected.values(), key=lambda t: (t[0], t[1].line or 0))]
    man_rejects: list[Reject] = []
    if manifest is not None:
        man_rejects = list(manifest.rejects)
        for sid, e in manifest.entries.items():
            if sid in made:
                continue
            if sid in by_sample:
                reason = ("no Y-STR row of this sample could be imported (its rows were rejected "
                          "or skipped)")
                fix = "fix the sample's rejected genotype rows"
            else:
                reason = (f"sample is in the manifest but not in the genotype file "
                          f"{os.path.basename(file)}")
                fix = "add its genotypes to the genotype file, or remove it from the manifest"
            man_rejects.append(Reject(manifest.file, e.line, sid, "", reason, fix))
    n_rejected = len(rejected)
    stats = {
        "n_read": parsed.n_rows,
        "n_rejected": n_rejected,
        "n_skipped": len(skipped),
        "n_imported": parsed.n_rows - n_rejected - len(skipped),
        "n_untyped": sum(1 for k in untyped if k not in rejected),
        "n_duplicate": n_duplicate,
        "n_flagged": sum(1 for o in kept for v in o.values() if v[2] is not None),
        "n_copies_assumed_equal": sum(1 for o in kept for v in o.values()
                                      if v[1] & FLAG_COPIES_ASSUMED_EQUAL),
        "skipped_loci": sorted({(c.locus or "").strip() for c in skipped.values()}),
        "manifest_rejects": man_rejects,
    }
    if mode == "strict":
        early = list(manifest.rejects) if manifest is not None else []
        late = man_rejects[len(early):]
        ordered = early + rejects + late
        if ordered:
            raise InvalidRowError.from_reject(ordered[0])
    return h, meta_arr, rejects, stats


def import_y_file(path, format: str = "auto", manifest=None, mode: str = "strict",
                  panel=None, rejects_path=None, *, duplications: str = "flag",
                  single_value_multicopy: str = "error", skip_loci: Iterable[str] = DEFAULT_SKIP_LOCI,
                  skip_autosomal: bool = False, encoding: str | None = None,
                  delimiter: str | None = None, default_kind: str = "query", kit: str = "",
                  sample_column: str | None = None, manifest_encoding: str | None = None
                  ) -> YImportResult:
    """Read a Y-STR genotype file into Y haplotypes.

    ``format``: ``"genemapper"`` (GeneMapper / ID-X genotype table: ``Sample Name``,
    ``Marker``, ``Allele 1..N``; DYS385 with two alleles is its two copies),
    ``"csv"`` (long ``sample_id,locus,allele1[,allele2,...]``), ``"cmf"`` (CODIS CMF
    XML, Y-STR loci) or ``"auto"``.  ``manifest``: samples manifest (kind, case,
    relation, sex).  ``panel``: slot layout (shipped panel name or
    :class:`~kinship.ystr.YPanel`); None infers the smallest shipped panel holding
    every marker seen (else the markers in catalogue order).

    Per :mod:`kinship.ystr.haplotypes`: ``duplications="flag"`` (default) stores more
    values than copies as a flagged, uncompared duplication, ``"error"`` rejects the
    row; ``single_value_multicopy="error"`` (default) rejects one value at a multi-copy
    marker, ``"all_copies"`` reads it as every copy (flagged).  ``skip_loci`` (default
    ``("Y indel",)``) and, with ``skip_autosomal=True``, autosomal loci are counted as
    skipped rather than rejected.

    ``mode="strict"`` raises :class:`InvalidRowError` at the first problem;
    ``"lenient"`` imports the good rows and returns every rejected row (written to
    ``rejects_path`` as CSV when given).  Always ``n_imported + n_rejected + n_skipped
    == n_read``.  File-level problems raise :class:`InputFormatError` in both modes.
    """
    from . import cmf, table

    if mode not in ("strict", "lenient"):
        raise ValueError("mode must be 'strict' or 'lenient'")
    if duplications not in ("flag", "error"):
        raise ValueError("duplications must be 'flag' or 'error'")
    if single_value_multicopy not in ("error", "all_copies"):
        raise ValueError("single_value_multicopy must be 'error' or 'all_copies'")
    fmt = (format or "auto").lower()
    if fmt == "auto":
        fmt = _detect_y_format(path)
    man = read_manifest(manifest, encoding=manifest_encoding) if manifest is not None else None
    if fmt == "genemapper":
        parsed = table.parse_genemapper(path, encoding=encoding, delimiter=delimiter,
                                        sample_column=sample_column)
    elif fmt in ("csv", "long"):
        fmt = "csv"
        parsed = parse_y_long_csv(path, encoding=encoding, delimiter=delimiter)
    elif fmt in ("cmf", "codis"):
        fmt = "cmf"
        parsed = cmf.parse_cmf(path)
    else:
        raise ValueError(f"unknown format {format!r}: expected one of {', '.join(Y_FORMATS)}")
    h, meta, rejects, st = assemble_y(
        parsed, manifest=man, mode=mode, panel=panel, duplications=duplications,
        single_value_multicopy=single_value_multicopy, skip_loci=skip_loci,
        skip_autosomal=skip_autosomal, default_kind=default_kind, kit=kit)
    man_rejects = st["manifest_rejects"]
    n_early = len(man.rejects) if man else 0
    all_rejects = man_rejects[:n_early] + rejects + man_rejects[n_early:]
    m_rej_lines = {r.line for r in man_rejects}
    sources = [{"file": os.path.basename(os.fspath(path)), "sha256": parsed.sha256,
                "format": fmt, "encoding": parsed.encoding, "role": "genotypes"}]
    if man is not None:
        sources.append({"file": os.path.basename(man.file), "sha256": man.sha256,
                        "format": "manifest", "role": "manifest"})
    notes = list(parsed.notes)
    if st["skipped_loci"]:
        notes.append(f"skipped {st['n_skipped']} rows of loci not stored in Y haplotypes: "
                     f"{', '.join(st['skipped_loci'])}")
    res = YImportResult(
        haplotypes=h, meta=meta, rejects=all_rejects, n_read=st["n_read"],
        n_imported=st["n_imported"], n_rejected=st["n_rejected"], n_skipped=st["n_skipped"],
        format=fmt, source=os.fspath(path), panel=h.panel,
        manifest_read=man.n_read if man else 0,
        manifest_used=(man.n_read - len(m_rej_lines)) if man else 0,
        manifest_rejected=len(m_rej_lines) if man else 0,
        n_untyped=st["n_untyped"], n_duplicate=st["n_duplicate"], n_flagged=st["n_flagged"],
        n_copies_assumed_equal=st["n_copies_assumed_equal"],
        provenance={
            "sources": sources,
            "import": {"mode": mode, "imported_at": _utcnow(), "n_read": st["n_read"],
                       "n_imported": st["n_imported"], "n_rejected": st["n_rejected"],
                       "n_skipped": st["n_skipped"], "n_flagged": st["n_flagged"],
                       "panel": h.panel.name, "duplications": duplications,
                       "single_value_multicopy": single_value_multicopy, "notes": notes},
        },
    )
    if rejects_path is not None and mode == "lenient":
        res.rejects_path = write_rejects(all_rejects, rejects_path)
    return res
