"""Profile datasets: a directory of Parquet shards plus a JSON manifest.

Layout (schema version 1, documented in ``docs/formats.md``)::

    profiles/
      _dataset.json                    manifest: loci, allele dictionary, shard list
      part-00000-1f2e3d4c.parquet      one row per sample
      part-00001-9a8b7c6d.parquet      appended later; old shards are never rewritten

Shard columns: ``sample_id``, ``kind``, ``case_id``, ``relation``, ``sex``, ``kit``
(UTF-8 strings, ``""`` when unknown), then two ``int16`` columns per locus,
``"<locus>:1"`` and ``"<locus>:2"``: codes into the dataset allele dictionary of the
locus, ``-1`` = untyped (both or neither are -1).  The allele dictionary is
append-only, so a code never changes meaning once written; every shard's footer
holds the dictionary as it was when the shard was written (a prefix of the
dataset's), and the schema version and provenance.

Loading is vectorised: each int16 column goes from Arrow to NumPy without a
per-row Python loop (see ``benchmarks/bench_formats.py``).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kinship.markers import AlleleError, LocusError, canonical_locus, normalize_allele

from .errors import (
    CorruptShardError,
    DatasetError,
    DatasetWriteError,
    FormatError,
    DuplicateSampleError,
    MissingLocusError,
    ProfileValidationError,
    SchemaTooNewError,
    SchemaTooOldError,
)
from kinship.cases import ALIASES as RELATION_ALIASES

from .perms import file_mode, make_dir
from .profile import KINDS, RELATIONS, SEXES, Profile, allele_sort_key, validate_profile

__all__ = [
    "SCHEMA_VERSION",
    "MIN_SCHEMA_VERSION",
    "FORMAT_NAME",
    "MANIFEST_NAME",
    "META_COLUMNS",
    "Dataset",
    "ProfileArrays",
    "open_dataset",
    "write_profiles",
    "write_cases",
    "genotype_column_names",
]

log = logging.getLogger(__name__)

#: Version of the shard and manifest layout written by this code.
SCHEMA_VERSION = 1
#: Oldest version this code still reads.
MIN_SCHEMA_VERSION = 1
FORMAT_NAME = "strkin-profiles"
MANIFEST_NAME = "_dataset.json"
LOCK_NAME = "_dataset.lock"
META_COLUMNS = ("sample_id", "kind", "case_id", "relation", "sex", "kit")
_DICT_COLUMNS = ["kind", "case_id", "relation", "sex", "kit"]
#: rows per Parquet row group of a shard (loading one kind skips row groups without it)
ROW_GROUP_ROWS = 256 * 1024
DEFAULT_SHARD_SIZE = 1_000_000
_KEY_FORMAT = b"strkin.format"
_KEY_VERSION = b"strkin.schema_version"
_KEY_LOCI = b"strkin.loci"
_KEY_ALLELES = b"strkin.alleles"
_KEY_PROVENANCE = b"strkin.provenance"
_SHARD_RE = re.compile(r"^part-\d{5,}-[0-9a-f]{8}\.parquet$")


def genotype_column_names(locus: str) -> tuple[str, str]:
    """The two int16 columns that hold a locus: ``("vWA:1", "vWA:2")``."""
    return f"{locus}:1", f"{locus}:2"


def _software_version() -> str:
    try:
        from kinship import __version__

        return __version__
    except Exception:  # pragma: no cover - kinship always importable here
        return "unknown"


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _default_provenance() -> dict:
    return {
        "software": "strkin",
        "version": _software_version(),
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
        "numpy": np.__version__,
        "created": _utcnow(),
    }


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def read_hashed(path, chunk: int = 8 << 20) -> tuple[pa.Buffer, str]:
    """The bytes of ``path`` in memory and their sha256, in one pass over the file
    (each chunk is hashed as it is read): a shard is parsed from this buffer, so
    checking its checksum costs no second read."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        buf = bytearray(size)
        view = memoryview(buf)
        pos = 0
        while pos < size:
            n = fh.readinto(view[pos: pos + chunk])
            if not n:
                break
            h.update(view[pos: pos + n])
            pos += n
        tail = fh.read()              # grew while being read
        if tail:
            buf += tail
            h.update(tail)
            pos += len(tail)
    if pos < size:                    # shrank while being read
        del buf[pos:]
    return pa.py_buffer(buf), h.hexdigest()


# --------------------------------------------------------------------------------------
# In-memory arrays
# --------------------------------------------------------------------------------------
@dataclass
class ProfileArrays:
    """Profiles as dense arrays, the form the engine computes on.

    ``genotypes[i, j, k]`` is the code of allele ``k`` (0 or 1) of profile ``i`` at
    locus ``loci[j]``: an index into ``alleles[loci[j]]``; ``-1`` = untyped (both
    alleles are -1 or neither is).  The two codes of a pair are in no particular
    order.  ``sample_id``, ``kind``, ``case_id``, ``relation``, ``sex`` and ``kit``
    are object arrays of ``str`` (``""`` = not given).
    """

    sample_id: np.ndarray
    kind: np.ndarray
    case_id: np.ndarray
    relation: np.ndarray
    sex: np.ndarray
    kit: np.ndarray
    loci: tuple
    alleles: dict
    genotypes: np.ndarray

    def __len__(self) -> int:
        return int(self.genotypes.shape[0])

    @property
    def n_profiles(self) -> int:
        return len(self)

    @property
    def n_loci(self) -> int:
        return len(self.loci)

    def locus_index(self, locus: str) -> int:
        try:
            return self.loci.index(canonical_locus(locus, extra=self.loci))
        except (LocusError, ValueError):
            raise LocusError(f"locus {locus!r} is not among the loaded loci {self.loci}") from None

    def take(self, index) -> "ProfileArrays":
        """The profiles selected by ``index`` (boolean mask or integer positions)."""
        return ProfileArrays(
            self.sample_id[index], self.kind[index], self.case_id[index],
            self.relation[index], self.sex[index], self.kit[index],
            self.loci, self.alleles, self.genotypes[index],
        )

    def to_table_indices(self, frequencies):
        """Re-code the genotypes as indices into a frequency table's allele system.

        Returns ``(codes, systems)``: ``codes`` is int16 ``[n_profiles, n_loci, 2]``
        with ``codes[i, j, k]`` an index into ``systems[j].alleles`` (``-1`` =
        untyped), and ``systems[j]`` is ``frequencies.locus_alleles(loci[j],
        extra_alleles=alleles[loci[j]])``: the table's alleles plus every dataset
        allele of that locus (absent ones get the table's minimum allele frequency),
        so the result is the same whichever shards were loaded.

        Raises :class:`MissingLocusError` naming the locus when the table lacks a
        locus of these profiles.
        """
        n, L, _ = self.genotypes.shape
        systems, luts = [], []
        for j, locus in enumerate(self.loci):
            try:
                frequencies.resolve_locus(locus)
            except LocusError:
                typed = int(np.count_nonzero(self.genotypes[:, j, 0] >= 0))
                raise MissingLocusError(
                    f"frequency table {getattr(frequencies, 'name', '?')!r} has no locus "
                    f"{locus}, which {typed} of the {len(self)} profiles are typed at. Use a "
                    f"table that covers {locus}, or load the profiles without it "
                    f"(Dataset.load(loci=[...]))."
                ) from None
            la = frequencies.locus_alleles(locus, extra_alleles=self.alleles[locus])
            pos = {a: i for i, a in enumerate(la.alleles)}
            # slot 0 maps code -1 (untyped) to -1; slot c + 1 maps dataset code c
            luts.append(np.array([-1] + [pos[a] for a in self.alleles[locus]], dtype=np.int16))
            systems.append(la)
        out = np.empty((n, L, 2), dtype=np.int16)
        if n == 0 or L == 0:
            return out, systems
        # one gather over a concatenated table, a row block at a time (cache friendly)
        big = np.concatenate(luts)
        starts = np.cumsum([0] + [len(t) for t in luts[:-1]])
        offs = (np.repeat(starts, 2) + 1).astype(np.int32)
        src = np.ascontiguousarray(self.genotypes).reshape(n, 2 * L)
        dst = out.reshape(n, 2 * L)
        for s in range(0, n, _BLOCK):
            dst[s: s + _BLOCK] = big[src[s: s + _BLOCK] + offs]
        return out, systems

    def labels(self, i: int, locus: str) -> tuple[str, str] | None:
        """The allele labels of profile ``i`` at ``locus`` (None if untyped)."""
        j = self.locus_index(locus)
        a, b = self.genotypes[i, j]
        if a < 0:
            return None
        al = self.alleles[self.loci[j]]
        return al[a], al[b]

    def to_profiles(self) -> list[Profile]:
        """Back to :class:`Profile` objects (pairs sorted by repeat number)."""
        out = []
        n, L, _ = self.genotypes.shape
        labels = [self.alleles[l] for l in self.loci]
        g = self.genotypes
        for i in range(n):
            genos = {}
            row = g[i]
            for j in range(L):
                a, b = row[j]
                if a >= 0:
                    pair = (labels[j][a], labels[j][b])
                    genos[self.loci[j]] = tuple(sorted(pair, key=allele_sort_key))
            out.append(Profile(
                str(self.sample_id[i]), genos, str(self.kind[i]), str(self.case_id[i]),
                str(self.relation[i]), str(self.sex[i]), str(self.kit[i]),
            ))
        return out

    @classmethod
    def from_profiles(cls, profiles: Iterable[Profile], loci: Sequence[str] | None = None,
                      extra_loci=()) -> "ProfileArrays":
        """Dense arrays from :class:`Profile` objects (validated and normalised)."""
        ps = [validate_profile(p, extra_loci=extra_loci) for p in profiles]
        if loci is None:
            seen = {l for p in ps for l in p.genotypes}
            loci = sorted(seen, key=str.lower)
        loci = tuple(loci)
        lidx = {l: j for j, l in enumerate(loci)}
        alle: dict[str, dict[str, int]] = {l: {} for l in loci}
        for p in ps:
            for l, pair in p.genotypes.items():
                if l not in lidx:
                    raise ProfileValidationError(
                        f"sample {p.sample_id!r}: locus {l} is not among the requested loci"
                    )
                for a in pair:
                    alle[l].setdefault(a, 0)
        alleles = {}
        for l in loci:
            labs = tuple(sorted(alle[l], key=allele_sort_key))
            alleles[l] = labs
            alle[l] = {a: i for i, a in enumerate(labs)}
        g = np.full((len(ps), len(loci), 2), -1, dtype=np.int16)
        for i, p in enumerate(ps):
            for l, (a, b) in p.genotypes.items():
                d = alle[l]
                j = lidx[l]
                g[i, j, 0] = d[a]
                g[i, j, 1] = d[b]

        def col(name):
            return np.array([getattr(p, name) for p in ps], dtype=object)

        return cls(col("sample_id"), col("kind"), col("case_id"), col("relation"),
                   col("sex"), col("kit"), loci, alleles, g)


def _empty_arrays(loci, alleles) -> ProfileArrays:
    e = np.array([], dtype=object)
    return ProfileArrays(e, e.copy(), e.copy(), e.copy(), e.copy(), e.copy(), tuple(loci),
                         {l: tuple(alleles[l]) for l in loci},
                         np.full((0, len(loci), 2), -1, dtype=np.int16))


# --------------------------------------------------------------------------------------
# Shard metadata
# --------------------------------------------------------------------------------------
def _check_version(found, where, path, *, what: str = "profile", lo: int = MIN_SCHEMA_VERSION,
                   hi: int = SCHEMA_VERSION, command: str = "kinship import") -> int:
    """Check a schema version read from a footer or manifest (``where`` names it):
    ``lo..hi`` of the ``what`` layout are read; ``command`` re-imports older files."""
    try:
        v = int(found)
    except (TypeError, ValueError):
        raise CorruptShardError(
            f"{where}: schema version {found!r} is not a number; the file is damaged or was "
            f"not written by strkin. Restore it from a backup or re-import its sources."
        ) from None
    if v > hi:
        raise SchemaTooNewError(
            f"{where} uses {what} schema version {v}, newer than the versions this strkin "
            f"{_software_version()} reads ({lo}..{hi}). Upgrade "
            f"strkin (pip install -U strkin) to read it.",
            found=v, supported=(lo, hi), path=path,
        )
    if v < lo:
        raise SchemaTooOldError(
            f"{where} uses {what} schema version {v}, older than the oldest version this "
            f"strkin {_software_version()} reads ({lo}). Re-import the source "
            f"files listed in its provenance with this strkin ({command} ...), or read it "
            f"with the strkin version that wrote it.",
            found=v, supported=(lo, hi), path=path,
        )
    return v


@dataclass
class ShardInfo:
    path: Path
    n_rows: int
    loci: tuple
    alleles: dict
    provenance: dict
    schema_version: int


def _open_parquet(path, source=None, **kw) -> pq.ParquetFile:
    path = Path(path)
    try:
        return pq.ParquetFile(pa.BufferReader(source) if source is not None else path, **kw)
    except FileNotFoundError:
        raise CorruptShardError(
            f"shard {path.name} is missing from {path.parent}; restore it from a backup, or "
            f"remove its entry from {MANIFEST_NAME} to drop its profiles"
        ) from None
    except (pa.ArrowException, OSError, ValueError, KeyError, IndexError) as e:
        raise _unreadable(path, e) from None


def _cut_id(sid) -> str:
    from .errors import excerpt

    return excerpt(sid, 64)


def _unreadable(path: Path, e: Exception) -> CorruptShardError:
    return CorruptShardError(
        f"shard {path.name} in {path.parent} is truncated or corrupt and cannot be read "
        f"({type(e).__name__}: {str(e)[:200]}). Restore it from a backup (the manifest "
        f"records its sha256), or re-import its source files."
    )


def _read_kind_rows(pf: pq.ParquetFile, path: Path, columns, kinds) -> pa.Table:
    """The rows of kind in ``kinds``: the ``kind`` column is read first, and only
    the row groups holding such rows are read in full (queries and references
    imported apart sit in different row groups, so loading the references of a
    dataset that also holds a million queries reads little of it)."""
    mask = np.isin(_strings(_read_shard_columns(pf, path, ["kind"]).column("kind")), list(kinds))
    if mask.all():
        return _read_shard_columns(pf, path, columns)
    sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
    starts = np.cumsum([0] + sizes)
    if starts[-1] != len(mask):
        raise CorruptShardError(f"shard {path.name}: its row groups hold {starts[-1]} rows, its "
                                f"kind column {len(mask)}; restore it from a backup")
    groups = [i for i in range(len(sizes)) if mask[starts[i]:starts[i + 1]].any()]
    if not groups:
        return pa.schema([pf.schema_arrow.field(c) for c in columns]).empty_table()
    try:
        table = pf.read_row_groups(groups, columns=columns, use_threads=True)
    except (pa.ArrowException, OSError, ValueError, KeyError, IndexError) as e:
        raise _unreadable(path, e) from None
    sub = np.concatenate([mask[starts[i]:starts[i + 1]] for i in groups])
    return table if sub.all() else table.filter(pa.array(sub))


def _read_shard_columns(pf: pq.ParquetFile, path: Path, columns) -> pa.Table:
    """Read ``columns`` of an open shard; a damaged file raises :class:`CorruptShardError`."""
    try:
        return pf.read(columns=columns, use_threads=True)
    except (pa.ArrowException, OSError, ValueError, KeyError, IndexError) as e:
        raise _unreadable(path, e) from None


def _require_columns(names, want, path: Path) -> None:
    missing = [c for c in want if c not in names]
    if missing:
        raise CorruptShardError(
            f"shard {path.name}: column {missing[0]!r} is missing; the shard is damaged. "
            f"Restore it from a backup."
        )


def _read_footer(pf: pq.ParquetFile, path: Path) -> tuple[dict, int]:
    """Key-value metadata and row count of an open shard's footer."""
    try:
        return pf.schema_arrow.metadata or {}, pf.metadata.num_rows
    except (pa.ArrowException, OSError, ValueError, KeyError) as e:
        raise CorruptShardError(
            f"shard {path.name} in {path.parent} has a damaged footer ({str(e)[:200]}); restore it "
            f"from a backup"
        ) from None


def _info_from_parquet(pf: pq.ParquetFile, path: Path) -> ShardInfo:
    name = path.name
    md, n_rows = _read_footer(pf, path)
    if md.get(_KEY_FORMAT) != FORMAT_NAME.encode():
        raise CorruptShardError(
            f"{name} is a Parquet file but not a strkin profile shard (no "
            f"'{_KEY_FORMAT.decode()}' metadata); import profiles with 'kinship import' instead "
            f"of copying files in"
        )
    v = _check_version(md.get(_KEY_VERSION, b"").decode("utf-8", "replace"), f"shard {name}", path)
    try:
        loci = tuple(json.loads(md[_KEY_LOCI]))
        alleles = {k: tuple(v) for k, v in json.loads(md[_KEY_ALLELES]).items()}
        prov = json.loads(md.get(_KEY_PROVENANCE, b"{}"))
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise CorruptShardError(
            f"shard {name}: damaged strkin metadata ({e}); restore it from a backup"
        ) from None
    return ShardInfo(path, n_rows, loci, alleles, prov, v)


def read_shard_info(path) -> ShardInfo:
    """Read and check a shard's footer (schema version, loci, allele dictionary)."""
    path = Path(path)
    return _info_from_parquet(_open_parquet(path), path)


def _check_prefix(shard_alleles: Mapping, ds_alleles: Mapping, shard_name: str):
    for locus, labs in shard_alleles.items():
        ds = ds_alleles.get(locus)
        if ds is None or tuple(ds[: len(labs)]) != tuple(labs):
            raise CorruptShardError(
                f"shard {shard_name}: its allele dictionary at locus {locus} disagrees with the "
                f"dataset manifest {MANIFEST_NAME} (codes would be read wrongly). The manifest "
                f"or the shard was edited or mixed in from another dataset; restore both from "
                f"a backup."
            )


def _duplicate_error(dup: str, ids_by_shard, where_dir) -> DuplicateSampleError:
    """The error for sample id ``dup`` held twice in a dataset (``ids_by_shard``:
    ``(shard name, its ids)``, to name the shards that hold it)."""
    holders = [n for n, ids in ids_by_shard if pc.any(pc.equal(ids, dup)).as_py()]
    where = (f"twice in shard {holders[0]}" if len(holders) == 1 else
             f"in shards {', '.join(holders)}")
    return DuplicateSampleError(
        f"sample {_cut_id(dup)!r} appears {where} of {where_dir}: a sample ID must "
        f"be unique in a dataset (a sample compared with itself would be reported as "
        f"its own relative); nothing was read. Fix: remove the duplicate shard's entry "
        f"from {MANIFEST_NAME} (keep a backup) or restore the dataset from a backup, "
        f"or re-import the source files with unique IDs")


# --------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------
class _ShardedDataset:
    """What profile and Y haplotype datasets share: a manifest listing shards."""

    def __init__(self, path: Path, manifest: dict, single_file: bool = False):
        self.path = Path(path)
        self._manifest = manifest
        self._single = single_file

    @property
    def shards(self) -> list[Path]:
        """Shard paths, in write order."""
        if self._single:
            return [self.path]
        return [self.path / s["file"] for s in self._manifest["shards"]]

    @property
    def n_profiles(self) -> int:
        return int(sum(s.get("n_profiles", 0) for s in self._manifest["shards"]))

    @property
    def manifest(self) -> dict:
        return json.loads(json.dumps(self._manifest))

    def provenance(self) -> list[dict]:
        """Provenance of every shard (software, sources and their checksums, time)."""
        return [dict(s.get("provenance", {}), file=s["file"]) for s in self._manifest["shards"]]

    def checksums(self) -> dict:
        """``{shard file name: sha256 of its bytes}``, computed from the files now."""
        return {p.name: sha256_file(p) for p in self.shards}

    def read_checksums(self) -> dict:
        """``{shard file name: sha256}`` of the bytes this object actually read
        (``load``, ``iter_shards``), each checked against the manifest as it was
        read: what a search or an export should cite."""
        return dict(getattr(self, "_read_sums", {}))

    def _recorded(self, name: str) -> dict:
        for s in self._manifest["shards"]:
            if s.get("file") == name:
                return s
        return {}

    def _open_verified(self, path: Path, **kw) -> pq.ParquetFile:
        """Open a shard for reading from its bytes in memory, checking on the way
        (no second pass over the file) that they hash to the sha256 recorded in the
        manifest when the shard was written, that the footer's row count is the
        manifest's, and that its sample IDs are unique in the dataset."""
        try:
            data, sha = read_hashed(path)
        except FileNotFoundError:
            raise CorruptShardError(
                f"shard {path.name} is missing from {path.parent}; restore it from a backup, or "
                f"remove its entry from {MANIFEST_NAME} to drop its profiles"
            ) from None
        except OSError as e:
            raise CorruptShardError(
                f"shard {path.name} in {path.parent} cannot be read ({e.strerror}). Fix: check "
                f"the file's permissions and the disk") from None
        pf = _open_parquet(path, data, **kw)
        self.__dict__.setdefault("_pending", {})[path.name] = (pf, sha)
        return pf

    def _finish_verified(self, path: Path, check_ids: bool = True) -> str | None:
        """After a shard was parsed (its footer, schema version and codes checked, so
        that a damaged shard gets the more specific message): the checksum, the row
        count and (``check_ids``) the uniqueness of its sample IDs; raises before
        anything of the shard is returned.  Returns the sha256 of its bytes."""
        pending = self.__dict__.get("_pending", {}).pop(path.name, None)
        if pending is None:
            return None
        pf, sha = pending
        rec = self._recorded(path.name) if not self._single else {}
        want = rec.get("sha256")
        if want and sha != want:
            raise CorruptShardError(
                f"shard {path.name} in {path.parent} is truncated or corrupt, or was changed "
                f"after it was written: its sha256 {sha[:12]}... differs from the "
                f"{str(want)[:12]}... recorded in {MANIFEST_NAME} (or the manifest was edited); "
                f"nothing was read from it. Restore it from a backup (with {MANIFEST_NAME}), or "
                f"re-import its source files; 'kinship verify {path.parent}' checks every shard")
        n_rec = rec.get("n_profiles")
        try:
            n_rows = pf.metadata.num_rows
        except (pa.ArrowException, OSError, ValueError) as e:
            raise _unreadable(path, e) from None
        if n_rec is not None and int(n_rec) != n_rows:
            raise CorruptShardError(
                f"shard {path.name} in {path.parent} holds {n_rows} rows but {MANIFEST_NAME} "
                f"records {n_rec}: the manifest was edited or belongs to other shards. Fix: "
                f"restore {MANIFEST_NAME} from a backup, or rebuild it from the shard footers "
                f"(formats.rebuild_manifest)")
        if check_ids:
            self._check_ids(pf, path)
        self.__dict__.setdefault("_read_sums", {})[path.name] = sha
        return sha

    def _check_ids(self, pf: pq.ParquetFile, path: Path) -> None:
        """A sample ID is unique in a dataset, checked at load (whatever kind is
        loaded): the IDs of each shard are collected as it is read, and once every
        shard of the dataset has been read (the last one before it is returned) they
        are checked together, by sorting (about 0.1 s per million IDs, once per
        opened dataset)."""
        seen = self.__dict__.setdefault("_ids_by_shard", {})
        if self.__dict__.get("_ids_checked") or path.name in seen:
            return
        sid = _read_shard_columns(pf, path, ["sample_id"]).column("sample_id")
        if pa.types.is_dictionary(sid.type):
            sid = sid.cast(pa.string())
        seen[path.name] = sid
        if len(seen) < len(self.shards):
            return
        names = [p.name for p in self.shards]
        allids = pa.chunked_array([c for n in names for c in seen[n].chunks], type=pa.string())
        if len(allids) > 1:
            srt = allids.take(pc.sort_indices(allids))
            same = pc.equal(srt.slice(1), srt.slice(0, len(srt) - 1))
            if pc.any(same).as_py():
                i = pc.indices_nonzero(same.combine_chunks() if isinstance(same, pa.ChunkedArray)
                                       else same)[0].as_py()
                dup = srt[i].as_py()
                self.__dict__["_ids_by_shard"] = {}
                raise _duplicate_error(dup, [(n, seen[n]) for n in names], path.parent)
        self.__dict__["_ids_checked"] = True
        self.__dict__["_ids_by_shard"] = {}

    # the footer reader and the check of a footer against the manifest
    def _shard_info(self, path: Path):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_info(self, info) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def verify(self) -> None:
        """Check every shard against the sha256 recorded when it was written, and its
        footer; raises :class:`CorruptShardError` naming the first bad shard."""
        for s in self._manifest["shards"]:
            p = self.path / s["file"] if not self._single else self.path
            if not p.exists():
                self._shard_info(p)  # raises "missing"
            got = sha256_file(p)
            self.__dict__.setdefault("_verified_sums", {})[p.name] = got
            if s.get("sha256") and got != s["sha256"]:
                raise CorruptShardError(
                    f"shard {p.name}: sha256 {got[:12]}... differs from the {s['sha256'][:12]}... "
                    f"recorded when it was written; the file was modified or damaged. Restore it "
                    f"from a backup."
                )
            self._check_info(self._shard_info(p))
        # every shard parsed: codes, row counts, unique sample IDs across the dataset
        fresh = type(self)(self.path, self._manifest, self._single)
        for _ in fresh.iter_shards():
            pass

    def sample_ids(self) -> np.ndarray:
        ids = [_read_column(p, "sample_id") for p in self.shards]
        if not ids:
            return np.array([], dtype=object)
        return np.concatenate([c.to_numpy(zero_copy_only=False) for c in ids]).astype(object, copy=False)

    def _load_shard(self, path: Path, target, kinds):
        try:
            out = self._load_shard_unchecked(path, target, kinds)
            self._finish_verified(path)
            return out
        except FormatError:
            self.__dict__.get("_pending", {}).pop(path.name, None)
            raise
        except (pa.ArrowException, ValueError, IndexError, TypeError, KeyError) as e:
            raise CorruptShardError(
                f"shard {path.name} in {path.parent} is damaged ({type(e).__name__}: "
                f"{str(e)[:150]}); restore it from a backup"
            ) from None

    def _load_shard_unchecked(self, path: Path, target, kinds):  # pragma: no cover - abstract
        raise NotImplementedError


class Dataset(_ShardedDataset):
    """A profile dataset opened with :func:`open_dataset`."""

    def __init__(self, path: Path, manifest: dict, single_file: bool = False):
        super().__init__(path, manifest, single_file)
        self._loci = tuple(manifest["loci"])
        self._alleles = {l: tuple(manifest["alleles"].get(l, ())) for l in self._loci}

    # -- families -----------------------------------------------------------------
    def cases(self) -> dict:
        """The family pedigrees stored with the dataset: ``{case id:``
        :class:`kinship.cases.Case` ``}`` (written by :func:`write_cases`, from a
        ped file or a Familias ``.fam`` file).  A case of the dataset's references
        that has none is described by its references' relation words."""
        from kinship.cases import Case, CaseError

        out = {}
        for cid, d in sorted((self._manifest.get("cases") or {}).items()):
            try:
                out[cid] = Case.from_dict(d)
            except CaseError as e:
                raise CorruptShardError(f"{self.path / MANIFEST_NAME}: stored case {cid!r} is "
                                        f"damaged ({e}); import its pedigree again") from None
        return out

    def sample_dropout(self) -> dict:
        """The dropout probability stated per sample at import (the samples
        manifest's ``dropout`` column, :func:`write_sample_dropout`):
        ``{sample id: d}``; samples without one are absent."""
        out = {}
        for sid, v in (self._manifest.get("dropout") or {}).items():
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v < 1.0):
                raise CorruptShardError(f"{self.path / MANIFEST_NAME}: the stored dropout of "
                                        f"sample {sid!r} is not a probability; import the "
                                        f"samples manifest again")
            out[str(sid)] = float(v)
        return out

    # -- description -------------------------------------------------------------
    @property
    def loci(self) -> tuple:
        """Canonical names of every locus typed anywhere in the dataset (append order)."""
        return self._loci

    @property
    def alleles(self) -> dict:
        """The dataset allele dictionary: locus -> tuple of labels (append-only)."""
        return dict(self._alleles)

    def _shard_info(self, path: Path) -> ShardInfo:
        return read_shard_info(path)

    def _check_info(self, info: ShardInfo) -> None:
        _check_prefix(info.alleles, self._alleles, info.path.name)

    def __repr__(self) -> str:
        return (f"Dataset({str(self.path)!r}, {self.n_profiles} profiles, "
                f"{len(self.shards)} shards, {len(self._loci)} loci)")

    # -- loading ------------------------------------------------------------------
    def _resolve_loci(self, loci) -> tuple:
        if loci is None:
            return self._loci
        out = []
        for l in loci:
            try:
                c = canonical_locus(l, extra=self._loci)
            except LocusError:
                c = str(l)
            if c not in self._loci:
                raise LocusError(
                    f"locus {l!r} is not in dataset {self.path.name} (its loci: "
                    f"{', '.join(self._loci)})"
                )
            out.append(c)
        return tuple(out)

    def iter_shards(self, kind: str | Sequence[str] | None = None, loci=None) -> Iterator[ProfileArrays]:
        """Yield one :class:`ProfileArrays` per shard (bounded memory), all with the
        same ``loci`` and ``alleles``."""
        loci = self._resolve_loci(loci)
        kinds = _kind_filter(kind)
        for p in self.shards:
            yield self._load_shard(p, loci, kinds)

    def load(self, kind: str | Sequence[str] | None = None, loci=None) -> ProfileArrays:
        """All profiles (optionally only ``kind="query"``/``"reference"``, and only the
        given loci) as one :class:`ProfileArrays`."""
        loci = self._resolve_loci(loci)
        kinds = _kind_filter(kind)
        parts = [self._load_shard(p, loci, kinds) for p in self.shards]
        if not parts:
            return _empty_arrays(loci, self._alleles)
        if len(parts) == 1:
            return parts[0]
        cat = lambda name: np.concatenate([getattr(x, name) for x in parts])  # noqa: E731
        return ProfileArrays(
            cat("sample_id"), cat("kind"), cat("case_id"), cat("relation"), cat("sex"),
            cat("kit"), loci, {l: self._alleles[l] for l in loci}, cat("genotypes"),
        )

    # -- loading the engine's columns (shard sidecars) --------------------------------
    def scan_columns(self, kind: str | Sequence[str] | None = None) -> "ColumnScan":
        """Every shard as :class:`formats.sidecar.ShardColumns` (from its sidecar when
        it has a valid one, else decoded from the Parquet and the sidecar written),
        with the rows of ``kind``: see :class:`ColumnScan`.  Every check of
        :meth:`iter_shards` is made, with the same messages."""
        return ColumnScan(self, _kind_filter(kind))

    def sidecar_status(self) -> dict:
        """What ``kinship verify`` reports of the shard sidecars (:mod:`formats.sidecar`):
        lists of file names under ``"valid"`` (a search uses it: it names the shard's
        current bytes, its CRC-32 matches and it passes the load's checks),
        ``"stale"`` (present but not used: built from other bytes, damaged, or an
        older layout; the next search rebuilds it), ``"missing"`` (a shard without
        one; the next search writes it), ``"orphans"`` (a sidecar whose shard is not
        in the dataset: the ids and genotypes of a removed shard, left behind) and
        ``"open"`` (a sidecar whose file mode lets others than the project's private
        mode, :func:`formats.perms.file_mode`, read it).  Hashes every shard once
        (not again after :meth:`verify`, which keeps the sums it read); reads no
        shard's Parquet.  A single-file dataset has no sidecars."""
        from . import sidecar
        from .perms import file_mode

        out = {k: [] for k in ("valid", "stale", "missing", "orphans", "open")}
        if self._single:
            return out
        names = set()
        for path in self.shards:
            names.add(sidecar.sidecar_path(path).name)
            side = sidecar.sidecar_path(path)
            if not side.exists():
                out["missing"].append(path.name)
                continue
            rec = self._recorded(path.name)
            sha = self.__dict__.get("_verified_sums", {}).get(path.name)   # verify() just read it
            try:
                sha = sha or sha256_file(path)
            except OSError:
                sha = None
            sc = sidecar.read_sidecar(path, sha) if sha and sha == rec.get("sha256") else None
            ok = False
            if sc is not None:
                try:
                    ok = self._check_columns(sc, path, rec) == -1
                except FormatError:
                    ok = False
            out["valid" if ok else "stale"].append(side.name)
        for side in sorted(self.path.glob("*" + sidecar.SUFFIX)):
            if side.name not in names:
                out["orphans"].append(side.name)
        for side in sorted(self.path.glob("*" + sidecar.SUFFIX)):
            with contextlib.suppress(OSError):
                if side.stat().st_mode & 0o777 & ~file_mode():
                    out["open"].append(side.name)
        return out

    def _shard_columns(self, path: Path):
        from . import sidecar

        rec = self._recorded(path.name) if not self._single else {}
        want = rec.get("sha256")
        if want:
            try:
                sha = sha256_file(path)
            except OSError:
                sha = None             # the decode below gives the message
            sc = sidecar.read_sidecar(path, sha) if sha == want else None
            if sc is not None:
                k = self._check_columns(sc, path, rec)
                if k == -1:
                    self.__dict__.setdefault("_read_sums", {})[path.name] = sha
                    return sc
        sc = self._columns_from_parquet(path)
        if want and sc.sha256 == want:
            sidecar.write_sidecar(path, sc)
        return sc

    def _check_columns(self, sc, path: Path, rec: Mapping) -> int:
        """What a shard load checks against the manifest, for a sidecar's columns:
        the row count, the allele dictionary, the codes; then its id order (-1: in
        order; -2: not an order of its rows, the sidecar is not used)."""
        from .sidecar import check_order

        n_rec = rec.get("n_profiles")
        if n_rec is not None and int(n_rec) != len(sc):
            raise CorruptShardError(
                f"shard {path.name} in {path.parent} holds {len(sc)} rows but {MANIFEST_NAME} "
                f"records {n_rec}: the manifest was edited or belongs to other shards. Fix: "
                f"restore {MANIFEST_NAME} from a backup, or rebuild it from the shard footers "
                f"(formats.rebuild_manifest)")
        _check_prefix(sc.alleles, self._alleles, path.name)
        for l in sc.loci:
            if l not in self._alleles or sc.max_code.get(l, -1) >= len(self._alleles[l]):
                hi = sc.max_code.get(l, -1)
                raise CorruptShardError(
                    f"shard {path.name}, locus {l}: allele code {hi} is outside the allele "
                    f"dictionary (0..{len(self._alleles.get(l, ())) - 1}, -1 = untyped); the "
                    f"shard is damaged. Restore it from a backup.")
        k = check_order(sc.sample_id, sc.order)
        if k >= 0:
            raise _duplicate_error(sc.sample_id[int(sc.order[k])].as_py(),
                                   [(path.name, sc.sample_id)], path.parent)
        return k

    def _columns_from_parquet(self, path: Path):
        """A shard's :class:`~formats.sidecar.ShardColumns` decoded from the Parquet,
        with the checks (and messages) of :meth:`_load_shard_unchecked`."""
        from .sidecar import ShardColumns, check_order

        try:
            table, present, g, info, top = self._decode_shard(path, None, None, with_top=True)
            try:
                ids = _string_array(table.column("sample_id"))
                values, index = {}, {}
                for k in ("kind", "sex", "kit"):
                    values[k], index[k] = _text_index(table.column(k))
            except (pa.ArrowException, ValueError, IndexError, TypeError) as e:
                raise CorruptShardError(
                    f"shard {path.name}: damaged text columns ({str(e)[:120]}); restore it from "
                    f"a backup"
                ) from None
            sha = self._finish_verified(path, check_ids=False)
        except FormatError:
            self.__dict__.get("_pending", {}).pop(path.name, None)
            raise
        except (pa.ArrowException, ValueError, IndexError, TypeError, KeyError) as e:
            self.__dict__.get("_pending", {}).pop(path.name, None)
            raise CorruptShardError(
                f"shard {path.name} in {path.parent} is damaged ({type(e).__name__}: "
                f"{str(e)[:150]}); restore it from a backup"
            ) from None
        order = pc.sort_indices(ids).to_numpy().astype(np.int32)
        k = check_order(ids, order)
        if k >= 0:
            raise _duplicate_error(ids[int(order[k])].as_py(), [(path.name, ids)], path.parent)
        return ShardColumns(path.name, sha or "", tuple(present), g, ids, order, values, index,
                            dict(info.alleles), top)

    def _decode_shard(self, path: Path, loci, kinds, with_top: bool = False):
        """Open and check a shard (checksum, footer, allele dictionary, columns) and
        read its metadata columns and the codes of ``loci`` (None: the dataset's loci
        the shard holds) for the rows of ``kinds`` (None: all), each locus's codes
        checked against its allele dictionary.  Returns ``(table, loci, codes int16
        [n, len(loci), 2] (-1 where the shard lacks a locus), footer info, {locus:
        largest code} (only ``with_top``))``."""
        pf = self._open_verified(path, read_dictionary=_DICT_COLUMNS, page_checksum_verification=True)
        info = _info_from_parquet(pf, path)
        _check_prefix(info.alleles, self._alleles, path.name)
        names = set(pf.schema_arrow.names)
        _require_columns(names, META_COLUMNS, path)
        if loci is None:
            loci = tuple(l for l in self._loci if genotype_column_names(l)[0] in names)
        present = [l for l in loci if genotype_column_names(l)[0] in names]
        cols = list(META_COLUMNS) + [c for l in present for c in genotype_column_names(l)]
        if kinds is None:
            table = _read_shard_columns(pf, path, cols)
        else:
            table = _read_kind_rows(pf, path, cols, kinds)
        n = table.num_rows
        g = np.empty((n, len(loci), 2), dtype=np.int16)
        srcs, top = [], {}  # (flat column index, int16 array) for the loci present in this shard
        for j, l in enumerate(loci):
            if l not in present:
                g[:, j, :] = -1
                continue
            c1, c2 = genotype_column_names(l)
            a = _int16(table.column(c1), path, c1)
            b = _int16(table.column(c2), path, c2)
            _check_codes(a, b, len(self._alleles[l]), path.name, l)
            if with_top:
                top[l] = int(max(a.max(), b.max())) if n else -1
            srcs.append((2 * j, a))
            srcs.append((2 * j + 1, b))
        _fill_blocked(g.reshape(n, 2 * len(loci)), srcs)
        return table, tuple(loci), g, info, top

    def _load_shard_unchecked(self, path: Path, loci: tuple, kinds) -> ProfileArrays:
        table, loci, g, _, _ = self._decode_shard(path, loci, kinds)
        try:
            return ProfileArrays(
                sample_id=_strings(table.column("sample_id")),
                kind=_strings(table.column("kind")),
                case_id=_strings(table.column("case_id")),
                relation=_strings(table.column("relation")),
                sex=_strings(table.column("sex")),
                kit=_strings(table.column("kit")),
                loci=loci,
                alleles={l: self._alleles[l] for l in loci},
                genotypes=g,
            )
        except (pa.ArrowException, ValueError, IndexError, TypeError) as e:
            raise CorruptShardError(
                f"shard {path.name}: damaged text columns ({str(e)[:120]}); restore it from "
                f"a backup"
            ) from None


_BLOCK = 8192


def _fill_blocked(flat: np.ndarray, srcs) -> None:
    """``flat[:, k] = src`` for every (k, src), a row block at a time: writing whole
    columns into the row-major [n, 2L] array strides through memory (1 cache line
    per element); blocks of 8192 rows keep the destination in cache (~6x faster)."""
    n = flat.shape[0]
    for s in range(0, n, _BLOCK):
        blk = flat[s: s + _BLOCK]
        for k, src in srcs:
            blk[:, k] = src[s: s + _BLOCK]


def _check_codes(a: np.ndarray, b: np.ndarray, n_al: int, shard: str, locus: str) -> None:
    if a.size == 0:
        return
    lo = min(int(a.min()), int(b.min()))
    hi = max(int(a.max()), int(b.max()))
    if lo < -1 or hi >= n_al:
        raise CorruptShardError(
            f"shard {shard}, locus {locus}: allele code {hi if hi >= n_al else lo} is outside "
            f"the allele dictionary (0..{n_al - 1}, -1 = untyped); the shard is damaged. "
            f"Restore it from a backup."
        )
    if np.any((a < 0) != (b < 0)):
        raise CorruptShardError(
            f"shard {shard}, locus {locus}: a genotype has one allele missing and one present; "
            f"the shard is damaged. Restore it from a backup."
        )


def _kind_filter(kind):
    if kind is None:
        return None
    ks = (kind,) if isinstance(kind, str) else tuple(kind)
    for k in ks:
        if k not in KINDS:
            raise ValueError(f"unknown kind {k!r}: expected one of {', '.join(KINDS)}")
    return ks


def _read_column(path, name) -> pa.ChunkedArray:
    try:
        return pq.read_table(path, columns=[name]).column(name)
    except (pa.ArrowException, OSError, ValueError, KeyError, IndexError) as e:
        raise CorruptShardError(
            f"shard {Path(path).name} is truncated or corrupt and cannot be read "
            f"({type(e).__name__}: {str(e)[:200]}). Restore it from a backup."
        ) from None


def _int16(col: pa.ChunkedArray, path, name) -> np.ndarray:
    if col.null_count:
        raise CorruptShardError(f"shard {Path(path).name}: column {name!r} has nulls; damaged shard")
    if col.type != pa.int16():
        raise CorruptShardError(
            f"shard {Path(path).name}: column {name!r} has type {col.type}, expected int16"
        )
    if col.num_chunks == 1:
        return col.chunk(0).to_numpy()
    return col.to_numpy()


def _strings(col: pa.ChunkedArray) -> np.ndarray:
    """Object array of str from a (dictionary-encoded) string column; nulls -> ""."""
    n = len(col)
    if n == 0:
        return np.array([], dtype=object)
    if pa.types.is_dictionary(col.type):
        out = np.empty(n, dtype=object)
        pos = 0
        for ch in col.chunks:
            d = ch.dictionary.to_numpy(zero_copy_only=False).astype(object)
            d = np.append(d, "")  # index -1 -> "" for nulls
            idx = ch.indices.fill_null(-1).to_numpy().astype(np.int64)
            if len(idx) and (idx.min() < -1 or idx.max() >= len(d) - 1):
                raise ValueError("dictionary index out of range")
            out[pos: pos + len(ch)] = d[idx]
            pos += len(ch)
        return out
    return col.fill_null("").to_numpy(zero_copy_only=False).astype(object, copy=False)


def _string_array(col: pa.ChunkedArray) -> pa.Array:
    """One string array (nulls -> ""), as :func:`_strings` reads them, without a
    Python object per row."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(pa.string())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise TypeError(f"a text column of type {col.type}")
    col = col.fill_null("") if col.null_count else col
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_large_string(arr.type) and len(arr) and arr.buffers()[1] is not None:
        try:
            arr = arr.cast(pa.string())
        except pa.ArrowInvalid:      # over 2 GiB of text: stays large
            pass
    return arr


def _text_index(col: pa.ChunkedArray) -> tuple[tuple, np.ndarray]:
    """``(values, int32 index per row)`` of a text column (nulls -> "")."""
    arr = _string_array(col)
    enc = pc.dictionary_encode(arr)
    return tuple(enc.dictionary.to_pylist()), enc.indices.to_numpy().astype(np.int32, copy=False)


class ColumnScan:
    """The shards of a dataset as :class:`formats.sidecar.ShardColumns`, with the
    rows of some kinds: iterate for ``(columns, rows)`` per shard (``rows``: int64
    positions of the rows of the kinds, or None for all).  The sample ids of every
    shard are checked unique in the dataset before the last shard is given (from
    each shard's id order, merged); then :meth:`rank` gives the rank of every
    selected row's id in id order (as ``np.argsort`` of the ids as str)."""

    def __init__(self, ds: "Dataset", kinds):
        self.ds, self.kinds = ds, kinds
        self._parts: list = []     # (ids, order) per shard
        self._sel: list = []       # bool mask of the selected rows per shard, or None (all)
        self._merged = None

    def __iter__(self):
        from .sidecar import merged_order

        shards = self.ds.shards
        self._parts, self._sel = [], []
        for k, p in enumerate(shards):
            sc = self.ds._shard_columns(p)
            rows = None
            mask = None
            if self.kinds is not None:
                keep = np.isin(np.array(list(sc.values["kind"]), dtype=object),
                               list(self.kinds))
                mask = keep[sc.index["kind"]] if len(sc) else np.zeros(0, bool)
                if mask.all():
                    mask = None
                else:
                    rows = np.nonzero(mask)[0]
            self._parts.append((sc.sample_id, sc.order))
            self._sel.append(mask)
            if k == len(shards) - 1:
                self._merged = merged_order(self._parts)
                run, tag, dup = self._merged
                if dup is not None:
                    t, row, _ = dup
                    raise _duplicate_error(
                        self._parts[t][0][row].as_py(),
                        [(q.name, ids) for q, (ids, _o) in zip(shards, self._parts)],
                        self.ds.path if not self.ds._single else self.ds.path.parent)
                self.ds.__dict__["_ids_checked"] = True
            yield sc, rows
            del sc

    def rank(self) -> np.ndarray:
        """int64 rank of each selected row's id among the selected rows' ids, in the
        order the shards gave them (call after iterating)."""
        from .sidecar import selected_ranks

        if self._merged is None:
            return np.zeros(0, dtype=np.int64)
        return selected_ranks(self._merged[0], [len(ids) for ids, _ in self._parts], self._sel)


# --------------------------------------------------------------------------------------
# Opening
# --------------------------------------------------------------------------------------
def _read_manifest(path: Path) -> dict:
    mpath = path / MANIFEST_NAME
    try:
        text = mpath.read_text(encoding="utf-8")
        m = json.loads(text)
    except FileNotFoundError:
        shards = sorted(p.name for p in path.glob("*.parquet"))
        if shards:
            raise DatasetError(
                f"{path} has Parquet files but no {MANIFEST_NAME}; the manifest was deleted. "
                f"Rebuild it from the shard footers with formats.rebuild_manifest({str(path)!r})"
            ) from None
        raise DatasetError(
            f"{path} is not a profile dataset (no {MANIFEST_NAME}); create one with "
            f"'kinship import ... --out {path}' or formats.write_profiles()"
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptShardError(
            f"{mpath}: the dataset manifest is not valid JSON ({e}); restore it from a backup, "
            f"or rebuild it with formats.rebuild_manifest({str(path)!r})"
        ) from None
    if not isinstance(m, dict) or m.get("format") != FORMAT_NAME:
        raise CorruptShardError(
            f"{mpath} is not a strkin dataset manifest (format {m.get('format') if isinstance(m, dict) else None!r}); "
            f"rebuild it with formats.rebuild_manifest({str(path)!r})"
        )
    _check_version(m.get("schema_version"), f"dataset manifest {mpath}", mpath)
    try:
        if not isinstance(m["loci"], list) or not isinstance(m["alleles"], dict):
            raise TypeError("loci/alleles")
        for s in m["shards"]:
            if not _SHARD_RE.match(str(s["file"])):
                raise ValueError(f"bad shard file name {s['file']!r}")
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptShardError(
            f"{mpath}: damaged dataset manifest ({e}); rebuild it with "
            f"formats.rebuild_manifest({str(path)!r})"
        ) from None
    return m


def open_dataset(path) -> Dataset:
    """Open a profile dataset directory (or a single shard file, read-only).

    Raises :class:`DatasetError` (not a dataset), :class:`SchemaTooNewError` /
    :class:`SchemaTooOldError` (another schema version), :class:`CorruptShardError`
    (damaged manifest).  Shards themselves are read lazily by ``load``.
    """
    path = Path(path)
    if path.is_file():
        info = read_shard_info(path)
        m = _new_manifest()
        m["loci"] = list(info.loci)
        m["alleles"] = {k: list(v) for k, v in info.alleles.items()}
        m["shards"] = [{"file": path.name, "n_profiles": info.n_rows, "provenance": info.provenance}]
        return Dataset(path, m, single_file=True)
    if not path.exists():
        raise DatasetError(f"dataset {path} does not exist")
    return Dataset(path, _read_manifest(path))


def rebuild_manifest(path) -> Dataset:
    """Rebuild ``_dataset.json`` from the footers of the shards in ``path`` (in name
    order).  Use it when the manifest was lost; it checks that the shard allele
    dictionaries are consistent (each a prefix of the longest)."""
    path = Path(path)
    infos = [read_shard_info(p) for p in sorted(path.glob("part-*.parquet"))]
    if not infos:
        raise DatasetError(f"{path}: no shards (part-*.parquet) to rebuild a manifest from")
    m = _new_manifest()
    alleles: dict[str, list] = {}
    loci: list = []
    for info in infos:
        for l in info.loci:
            if l not in loci:
                loci.append(l)
        for l, labs in info.alleles.items():
            cur = alleles.setdefault(l, [])
            short, long_ = (labs, cur) if len(labs) <= len(cur) else (cur, labs)
            if tuple(long_[: len(short)]) != tuple(short):
                raise CorruptShardError(
                    f"shard {info.path.name}: allele dictionary at {l} is inconsistent with the "
                    f"other shards; these shards do not belong to one dataset"
                )
            alleles[l] = list(long_)
        m["shards"].append({"file": info.path.name, "n_profiles": info.n_rows,
                            "sha256": sha256_file(info.path), "provenance": info.provenance})
    m["loci"] = loci
    m["alleles"] = alleles
    with _dataset_lock(path):
        _write_json_atomic(path / MANIFEST_NAME, m)
    return Dataset(path, m)


def _new_manifest() -> dict:
    return {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "created": _utcnow(),
        "software": {"name": "strkin", "version": _software_version()},
        "loci": [],
        "alleles": {},
        "shards": [],
    }


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
def _fsync_dir(path: Path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name in the same directory, flush,
    ``fsync`` and move it into place with ``os.replace`` (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
        with open(fd, "wb") as fh:
            os.fchmod(fh.fileno(), file_mode())
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _write_json_atomic(path: Path, obj) -> None:
    _atomic_write_bytes(path, (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


@contextlib.contextmanager
def _dataset_lock(path: Path):
    """Serialise writers of one dataset (POSIX advisory lock, released on exit/crash)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    fd = os.open(path / LOCK_NAME, os.O_CREAT | os.O_RDWR, file_mode())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


_BAD_TEXT = r"^\s|\s$|[\x00-\x1f\x7f]"


def _first(mask: pa.Array) -> int | None:
    idx = pc.indices_nonzero(mask)
    return idx[0].as_py() if len(idx) else None


def _text_column(values, name: str, n: int) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        col = values
    else:
        v = np.asarray(values, dtype=object)
        if v.shape != (n,):
            raise ProfileValidationError(f"{name} must have {n} entries, got shape {v.shape}")
        try:
            col = pa.array(v, type=pa.string(), from_pandas=True)
        except (pa.ArrowException, TypeError, UnicodeError) as e:
            raise ProfileValidationError(f"{name}: every entry must be a string ({e})") from None
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if len(col) != n:
        raise ProfileValidationError(f"{name} must have {n} entries, got {len(col)}")
    if col.type != pa.string():
        col = col.cast(pa.string())
    return col.fill_null("")


def _validate_columns(arr: "ProfileArrays") -> dict:
    """Vectorised checks of the metadata columns of a ProfileArrays (same rules as
    :func:`formats.profile.validate_profile`); returns Arrow string arrays."""
    n = len(arr)
    cols = {name: _text_column(getattr(arr, name), name, n) for name in META_COLUMNS}
    sid = cols["sample_id"]

    def fail(mask, msg):
        i = _first(mask)
        if i is not None:
            raise ProfileValidationError(f"sample {sid[i].as_py()!r}: " + msg(i))

    i = _first(pc.equal(pc.utf8_length(sid), 0))
    if i is not None:
        raise ProfileValidationError(f"empty sample_id at position {i}: every profile needs an ID")
    for name in META_COLUMNS:
        fail(pc.match_substring_regex(cols[name], _BAD_TEXT),
             lambda i, name=name: f"{name} {cols[name][i].as_py()!r} has leading/trailing "
                                  f"spaces or a control character; remove them")
    kind = pc.utf8_lower(cols["kind"])
    fail(pc.invert(pc.is_in(kind, value_set=pa.array(KINDS))),
         lambda i: f"unknown kind {cols['kind'][i].as_py()!r}: expected one of {', '.join(KINDS)}")
    rel = cols["relation"]
    # stored words: the vocabulary and its aliases (shards written before the
    # sides were explicit hold 'grandfather', read as 'paternal-grandfather')
    fail(pc.invert(pc.is_in(rel, value_set=pa.array(list(RELATIONS) + list(RELATION_ALIASES) + [""]))),
         lambda i: f"unknown relation {rel[i].as_py()!r}: expected one of {', '.join(RELATIONS)}")
    fail(pc.invert(pc.is_in(cols["sex"], value_set=pa.array(SEXES))),
         lambda i: f"sex must be M, F or '' (got {cols['sex'][i].as_py()!r})")
    fail(pc.and_(pc.equal(kind, "query"), pc.not_equal(rel, "")),
         lambda i: "a query has no relation; set kind='reference'")
    fail(pc.and_(pc.equal(kind, "reference"), pc.equal(cols["case_id"], "")),
         lambda i: "a reference needs a case_id")
    cols["kind"] = kind
    return cols


def _transpose_blocked(flat: np.ndarray) -> np.ndarray:
    """``flat.T`` as a C-contiguous array, copied a row block at a time (cache friendly)."""
    n, k = flat.shape
    out = np.empty((k, n), dtype=np.int16)
    for s in range(0, n, _BLOCK):
        out[:, s: s + _BLOCK] = flat[s: s + _BLOCK].T
    return out


def _validate_genotypes(arr: "ProfileArrays") -> tuple[tuple, dict, np.ndarray]:
    """Check loci, allele labels and codes; returns (loci, alleles, columns) where
    ``columns[2*j + k]`` is allele ``k`` of locus ``j`` for every profile."""
    g = arr.genotypes
    if not isinstance(g, np.ndarray) or g.ndim != 3 or g.shape[1:] != (len(arr.loci), 2):
        raise ProfileValidationError(
            f"genotypes must have shape (n_profiles, {len(arr.loci)}, 2), got "
            f"{getattr(g, 'shape', None)}"
        )
    if g.dtype.kind not in "iu":
        raise ProfileValidationError(f"genotypes must be an integer array, got {g.dtype}")
    flat = np.ascontiguousarray(g.astype(np.int16, copy=False)).reshape(len(g), 2 * len(arr.loci))
    tcols = _transpose_blocked(flat)
    loci, alleles = [], {}
    for j, l_raw in enumerate(arr.loci):
        try:
            l = canonical_locus(l_raw, extra=(l_raw,))
        except LocusError as e:
            raise ProfileValidationError(str(e)) from None
        if l in alleles:
            raise ProfileValidationError(f"locus {l} appears twice in loci")
        labs = tuple(arr.alleles[l_raw])
        for a in labs:
            try:
                ok = normalize_allele(a) == a
            except AlleleError:
                ok = False
            if not ok:
                raise ProfileValidationError(
                    f"locus {l}: allele label {a!r} is not a normalised allele label"
                )
        if len(set(labs)) != len(labs):
            raise ProfileValidationError(f"locus {l}: an allele label is listed twice")
        _check_codes_input(tcols[2 * j], tcols[2 * j + 1], len(labs), l)
        loci.append(l)
        alleles[l] = labs
    return tuple(loci), alleles, tcols


def _check_codes_input(a, b, n_al, locus):
    if a.size == 0:
        return
    lo = min(int(a.min()), int(b.min()))
    hi = max(int(a.max()), int(b.max()))
    if lo < -1 or hi >= n_al:
        raise ProfileValidationError(f"locus {locus}: allele codes outside 0..{n_al - 1} (-1 = untyped)")
    if np.any((a < 0) != (b < 0)):
        raise ProfileValidationError(f"locus {locus}: a genotype has one allele missing and one present")


def _check_unique_ids(sid: pa.Array, what: str) -> None:
    """Raise :class:`DuplicateSampleError` if a sample ID is given twice in ``sid``
    (``what`` names the records being written, e.g. ``"profiles"``)."""
    vc = pc.value_counts(sid)
    dup_mask = pc.greater(vc.field("counts"), 1)
    if pc.any(dup_mask).as_py():
        dup = pc.filter(vc.field("values"), dup_mask)[0].as_py()
        where = pc.indices_nonzero(pc.equal(sid, dup)).to_pylist()[:2]
        raise DuplicateSampleError(
            f"sample {dup!r} appears twice in the {what} being written (positions "
            f"{where[0]} and {where[1]}); a sample ID must be unique in a dataset. Merge or "
            f"rename the two entries."
        )


def _remove_stale_temps(path: Path) -> None:
    """Writers hold the dataset lock, so temporary files found under it were left by a
    writer that was killed: remove them."""
    for stale in (list(path.glob(".part-*.parquet.tmp-*")) + list(path.glob(f".{MANIFEST_NAME}.tmp-*"))
                  + list(path.glob(".part-*.sidecar.arrow.tmp-*"))):
        with contextlib.suppress(OSError):
            stale.unlink()


def _new_shard_names(seq0: int, n: int, step: int) -> list[str]:
    return [f"part-{seq0 + k:05d}-{uuid.uuid4().hex[:8]}.parquet"
            for k in range((n + step - 1) // step)]


def _check_not_in_shards(shard_paths, sid: pa.Array, prov: Mapping, path: Path, names, step: int,
                         what: str = "dataset") -> None:
    """Raise :class:`DuplicateSampleError` if a sample ID of ``sid`` is already in one
    of ``shard_paths`` (naming the old shard, the new shard and the source files)."""
    for sp in shard_paths:
        existing = _read_column(sp, "sample_id")
        hit = pc.is_in(existing, value_set=sid)
        if pc.any(hit).as_py():
            dup = pc.filter(existing, hit)[0].as_py()
            src = ", ".join(str(s.get("file", "?")) for s in prov.get("sources", []) or []
                            if isinstance(s, Mapping))
            where = int(pc.index(sid, dup).as_py())
            raise DuplicateSampleError(
                f"sample {dup!r} is already in shard {sp.name} of {what} {path}; the new "
                f"shard {names[where // step]}{' (from ' + src + ')' if src else ''} would "
                f"hold it again. A sample ID must be unique in a dataset: drop the sample "
                f"from the input, or give the new sample a different ID. Nothing was written."
            )


def _write_shards(path: Path, mpath: Path, manifest: dict, cols: Mapping, names, n: int,
                  step: int, columns, footer: Mapping, prov: Mapping, compression: str,
                  entry_extra: Mapping | None = None,
                  manifest_updates: Mapping | None = None) -> list[Path]:
    """Write rows ``0..n`` as new shards ``names`` (``step`` rows each) of the dataset
    at ``path``, then the manifest; all or nothing.

    Each shard holds the ``META_COLUMNS`` of ``cols`` and the ``(field, array)`` pairs
    that ``columns(start, stop)`` gives, with ``footer`` as key-value metadata; it is
    written under a temporary name, ``fsync``-ed, and moved into place once all are
    written.  ``manifest_updates`` are set in ``manifest`` before the new shard
    entries (``entry_extra`` added to each) are appended and it is replaced
    atomically.  On any failure the new files are removed.  Returns the new shards.
    """
    written: list[Path] = []
    temps: list[Path] = []
    entries = []
    try:
        for k, start in enumerate(range(0, n, step)):
            stop = min(n, start + step)
            name = names[k]
            tmp = path / f".{name}.tmp-{os.getpid()}"
            temps.append(tmp)
            fields = [pa.field(c, pa.string(), nullable=False) for c in META_COLUMNS]
            data = [cols[c].slice(start, stop - start) for c in META_COLUMNS]
            for f, a in columns(start, stop):
                fields.append(f)
                data.append(a)
            table = pa.Table.from_arrays(data, schema=pa.schema(fields, metadata=dict(footer)))
            pq.write_table(table, tmp, compression=compression, write_page_checksum=True,
                           row_group_size=ROW_GROUP_ROWS)
            with open(tmp, "rb+") as fh:
                os.fchmod(fh.fileno(), file_mode())
                os.fsync(fh.fileno())
            entry = {"file": name, "n_profiles": stop - start,
                     "sha256": sha256_file(tmp), "written": _utcnow()}
            entry.update(entry_extra or {})
            entry["provenance"] = prov
            entries.append(entry)
        for tmp, e in zip(temps, entries):
            final = path / e["file"]
            os.replace(tmp, final)
            written.append(final)
        manifest.update(manifest_updates or {})
        manifest["shards"].extend(entries)
        manifest["software"] = {"name": "strkin", "version": _software_version()}
        _write_json_atomic(mpath, manifest)
    except BaseException as e:
        for p in temps + written:
            with contextlib.suppress(OSError):
                p.unlink()
        if isinstance(e, OSError):
            raise DatasetWriteError(os_error_message(e, path)) from None
        raise
    _fsync_dir(path)
    return written


def os_error_message(e: OSError, path) -> str:
    """One line for a failed write to a dataset: what happened, and that nothing of
    this write is left (the dataset is as it was)."""
    import errno

    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied"}.get(e.errno, e.strerror or str(e)[:100] or type(e).__name__)
    fix = {errno.ENOSPC: "free disk space, then import again",
           errno.EROFS: "write the dataset on a writable file system (--out)",
           errno.EACCES: "give a dataset directory this user may write to (--out)",
           errno.EPERM: "give a dataset directory this user may write to (--out)"
           }.get(e.errno, "fix the cause, then import again")
    return (f"cannot write to dataset {path}: {what}; nothing was written and the dataset is as "
            f"it was (new shards removed, manifest unchanged). Fix: {fix}")


def write_profiles(path, profiles, provenance: Mapping | None = None, kit: str | None = None,
                   *, shard_size: int = DEFAULT_SHARD_SIZE, extra_loci=(),
                   compression: str = "zstd") -> list[Path]:
    """Append profiles to the dataset at ``path`` (created if needed) as new shards.

    ``profiles`` is an iterable of :class:`Profile` or a :class:`ProfileArrays`.
    ``provenance`` (e.g. the ``provenance`` of an :class:`ImportResult`) is merged
    into the provenance stored in each new shard's footer and in the manifest.
    ``kit`` fills the kit of profiles that have none.  ``extra_loci`` names loci
    outside :func:`kinship.markers.known_loci` to accept.

    Old shards are never rewritten.  Each shard is written under a temporary name
    and moved into place with ``os.replace``; the manifest is replaced atomically
    last, so a failed write leaves the dataset as it was.  A ``sample_id`` already
    in the dataset, or given twice, raises :class:`DuplicateSampleError` naming the
    shard(s).  Returns the paths of the new shards.
    """
    try:
        return _write_profiles(path, profiles, provenance, kit, shard_size=shard_size,
                               extra_loci=extra_loci, compression=compression)
    except DatasetWriteError:
        raise
    except OSError as e:          # the directory or its lock could not be created
        raise DatasetWriteError(os_error_message(e, path)) from None


def _write_profiles(path, profiles, provenance, kit, *, shard_size, extra_loci, compression):
    path = Path(path)
    if not isinstance(profiles, ProfileArrays):
        profiles = ProfileArrays.from_profiles(list(profiles), extra_loci=extra_loci)
    arr = profiles
    loci_in, alleles_in, tcols = _validate_genotypes(arr)
    cols = _validate_columns(arr)
    n = len(arr)
    if n == 0:
        return []
    if kit:
        cols["kit"] = pc.if_else(pc.equal(cols["kit"], ""), kit, cols["kit"])
    sid = cols["sample_id"]
    _check_unique_ids(sid, "profiles")
    make_dir(path)
    prov = _default_provenance()
    if provenance:
        prov.update(dict(provenance))
    with _dataset_lock(path):
        _remove_stale_temps(path)
        mpath = path / MANIFEST_NAME
        manifest = _read_manifest(path) if mpath.exists() else _new_manifest()
        ds = Dataset(path, manifest)
        seq0 = len(manifest["shards"])
        step = max(1, int(shard_size))
        names = _new_shard_names(seq0, n, step)
        _check_not_in_shards(ds.shards, sid, prov, path, names, step)
        # extend loci and allele dictionary (append-only: existing codes never change)
        loci = list(manifest["loci"])
        alleles = {l: list(v) for l, v in manifest["alleles"].items()}
        geno_cols: dict[str, np.ndarray] = {}
        typed_loci = set()
        for j, l in enumerate(loci_in):
            a0, a1 = tcols[2 * j], tcols[2 * j + 1]
            src_labels = alleles_in[l]
            counts = np.bincount(a0 + 1, minlength=len(src_labels) + 1)
            counts[1:] += np.bincount(a1 + 1, minlength=len(src_labels) + 1)[1:]
            used = np.nonzero(counts[1:])[0]
            if used.size == 0:
                continue
            typed_loci.add(l)
            if l not in loci:
                loci.append(l)
            cur = alleles.setdefault(l, [])
            pos = {a: i for i, a in enumerate(cur)}
            add = sorted((src_labels[u] for u in used if src_labels[u] not in pos), key=allele_sort_key)
            for a in add:
                pos[a] = len(cur)
                cur.append(a)
            if len(cur) > np.iinfo(np.int16).max:
                raise ProfileValidationError(f"locus {l}: more than 32767 distinct alleles")
            lut = np.full(len(src_labels) + 1, -1, dtype=np.int16)
            for u in used:
                lut[u] = pos[src_labels[u]]
            c1, c2 = genotype_column_names(l)
            geno_cols[c1] = lut[a0]
            geno_cols[c2] = lut[a1]
        order = [l for l in loci if l in typed_loci]
        shard_alleles = {l: alleles[l] for l in loci if l in alleles}

        def columns(start, stop):
            for l in order:
                for c in genotype_column_names(l):
                    yield (pa.field(c, pa.int16(), nullable=False),
                           pa.array(geno_cols[c][start:stop], type=pa.int16()))

        footer = {
            _KEY_FORMAT: FORMAT_NAME.encode(),
            _KEY_VERSION: str(SCHEMA_VERSION).encode(),
            _KEY_LOCI: json.dumps(order).encode(),
            _KEY_ALLELES: json.dumps(shard_alleles, ensure_ascii=False).encode(),
            _KEY_PROVENANCE: json.dumps(prov, ensure_ascii=False, default=str).encode(),
        }
        written = _write_shards(path, mpath, manifest, cols, names, n, step, columns, footer,
                                prov, compression,
                                manifest_updates={"loci": loci, "alleles": alleles})
        _write_sidecars(path, written)
        return written


def _write_sidecars(path: Path, shards) -> None:
    """The sidecars of new shards (:mod:`formats.sidecar`), read back from the files
    written; a sidecar that cannot be written is left to the first load."""
    from . import sidecar

    if not sidecar.writing_enabled():
        return
    ds = open_dataset(path)
    for p in shards:
        try:
            sidecar.write_sidecar(p, ds._columns_from_parquet(p))
        except FormatError as e:        # pragma: no cover - the shard was just written
            log.warning("no sidecar for the new shard %s: %s", p.name, str(e)[:200])


def write_sample_dropout(path, values: dict) -> Dataset:
    """Store the dropout probability stated for samples of the dataset at ``path``
    (``{sample id: d}``, 0 <= d < 1; from the samples manifest's ``dropout``
    column) in its manifest (atomic, under the dataset's write lock).  Every sample
    must be in the dataset; a value given again replaces the old one.  A sample's
    genotypes are not touched (its shard checksums stay)."""
    import math

    path = Path(path)
    ds = open_dataset(path)
    values = {str(k): v for k, v in (values or {}).items()}
    if not values:
        return ds
    known = set(str(x) for x in ds.load(loci=()).sample_id)
    for sid, v in values.items():
        if sid not in known:
            raise DatasetError(f"dropout stated for sample {sid!r}, which is not in {path}. Fix: "
                               f"import the sample first")
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and 0.0 <= v < 1.0):
            raise DatasetError(f"sample {sid!r}: dropout must be a probability in [0, 1), got {v!r}")
    with _dataset_lock(path):
        m = _read_manifest(path)
        stored = dict(m.get("dropout") or {})
        stored.update({k: float(v) for k, v in values.items()})
        m["dropout"] = dict(sorted(stored.items()))
        _write_json_atomic(path / MANIFEST_NAME, m)
    return open_dataset(path)


def write_cases(path, cases, replace: bool = True) -> Dataset:
    """Store family pedigrees (:class:`kinship.cases.Case`) with the dataset at
    ``path``, in its manifest (atomic, under the dataset's write lock).

    Each typed person's sample must be a reference of the dataset with the case's
    ``case_id``, and its recorded sex must agree with the pedigree
    (:meth:`kinship.cases.Case.check_sexes`); otherwise :class:`DatasetError` names
    the case and sample and nothing is written.  A case already stored under the
    same id is replaced (``replace=False``: an error)."""
    from kinship.cases import CaseError

    path = Path(path)
    ds = open_dataset(path)
    cases = list(cases)
    if not cases:
        return ds
    arr = ds.load(kind="reference", loci=())
    info = {str(s): (str(c), str(x)) for s, c, x in zip(arr.sample_id, arr.case_id, arr.sex)}
    for case in cases:
        for pid, sid in case.samples.items():
            if sid not in info:
                raise DatasetError(
                    f"case {case.id!r}: person {pid!r} is linked to sample {sid!r}, which is not a "
                    f"reference of {path}. Fix: import the sample (kind 'reference', case_id "
                    f"{case.id!r}) first, or correct the sample column of the pedigree")
            if info[sid][0] != case.id:
                raise DatasetError(
                    f"case {case.id!r}: sample {sid!r} belongs to case {info[sid][0]!r} in the "
                    f"dataset. Fix: correct its case_id in the samples manifest, or the pedigree")
        try:
            case.check_sexes({sid: info[sid][1] for sid in case.samples.values()})
        except CaseError as e:
            raise DatasetError(str(e)) from None
    with _dataset_lock(path):
        m = _read_manifest(path)
        stored = dict(m.get("cases") or {})
        for case in cases:
            if case.id in stored and not replace:
                raise DatasetError(f"case {case.id!r} already has a pedigree in {path}")
            stored[case.id] = case.to_dict()
        m["cases"] = dict(sorted(stored.items()))
        _write_json_atomic(path / MANIFEST_NAME, m)
    return open_dataset(path)
