"""Shard sidecars: one shard's columns in the form the engine loads them, beside the shard.

A profile shard is Parquet: compact, but decoding it (46 ``int16`` columns at 23
loci, the sample ids as strings, the ``kind``/``sex``/``kit`` dictionaries) costs
about 0.7 CPU-seconds per million profiles.  The sidecar
``part-00001-3dc57966.sidecar.arrow`` holds the same shard's

* ``codes``: the dataset allele codes, row-major ``int16 [rows, loci, 2]`` (the
  shard's loci, in the manifest's order; ``-1`` = untyped),
* ``sample_id``: the sample ids (UTF-8),
* ``order``: the rows in sample-id order (``int32``, for the duplicate-id check and
  the queries' ranks),
* ``kind``, ``sex``, ``kit``: ``int32`` indices into the value lists of the header,

as an uncompressed Arrow IPC file that is memory-mapped (no copy, no decoding).
The header (schema metadata ``strkin.sidecar``, JSON) names the shard, the
**sha256 of the shard bytes it was built from**, the row count, the loci, the
shard's allele dictionary, the largest code per locus, and a CRC-32 of the header
and of every column's bytes.

A sidecar is used only when the shard's bytes, hashed at every load as before,
have the sha256 recorded in the dataset manifest *and* in the sidecar, and its
CRC-32 matches: a stale sidecar (the shard replaced) or an altered one is never
used; it is rebuilt from the shard (the load then decodes the Parquet, as without
sidecars) and written again when the directory is writable.  Everything the
shard load checks is still checked: the checksum against the manifest, the row
count, the allele dictionary as a prefix of the manifest's, the codes inside it,
the sample ids unique in the dataset (``order`` is verified, not trusted).

A sidecar is derived personal data (sample ids and genotypes): it is written
with the private file mode (:mod:`formats.perms`), only inside the dataset
directory, and deleting it (``rm DIR/*.sidecar.arrow``) loses nothing: the next
load rebuilds it.  ``STRKIN_SIDECARS=0`` stops strkin writing them.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

try:   # ISA-L's CRC-32: zlib's function (the same values), several times faster
    from isal.isal_zlib import crc32 as _crc32
except ImportError:   # pragma: no cover - isal is a dependency; zlib gives the same values
    from zlib import crc32 as _crc32

from kinship._numba import jit

from .perms import file_mode

log = logging.getLogger(__name__)

__all__ = ["SUFFIX", "VERSION", "ENV", "ShardColumns", "sidecar_path", "writing_enabled",
           "read_sidecar", "write_sidecar"]

SUFFIX = ".sidecar.arrow"
FORMAT = "strkin-shard-sidecar"
#: bump when the layout changes (an older sidecar is then rebuilt, never misread)
VERSION = 1
ENV = "STRKIN_SIDECARS"
_KEY = b"strkin.sidecar"
_TEXT = ("kind", "sex", "kit")


def writing_enabled() -> bool:
    """Whether strkin writes sidecars (``STRKIN_SIDECARS=0``: never; those present
    are still used)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def sidecar_path(shard: Path) -> Path:
    """``part-00001-3dc57966.parquet`` -> ``part-00001-3dc57966.sidecar.arrow``."""
    shard = Path(shard)
    return shard.with_name(shard.name[: -len(".parquet")] + SUFFIX)


@dataclass
class ShardColumns:
    """One shard's rows, all of them (not only one kind): what :mod:`formats.sidecar`
    stores, from the sidecar (memory-mapped) or from the Parquet shard."""

    name: str
    sha256: str
    loci: tuple            # the shard's loci (columns of ``codes``)
    codes: np.ndarray      # int16 [rows, len(loci), 2], dataset codes, -1 untyped
    sample_id: pa.Array    # string
    order: np.ndarray      # int32 [rows]: rows in sample-id order
    values: dict           # "kind"/"sex"/"kit" -> tuple of str
    index: dict            # "kind"/"sex"/"kit" -> int32 [rows] into values
    alleles: dict          # the shard's allele dictionary (its footer)
    max_code: dict         # locus -> largest code (-1: none typed)

    def __len__(self) -> int:
        return len(self.sample_id)

    def text(self, name: str, rows=None) -> np.ndarray:
        """Column ``name`` (kind, sex, kit) as an object array of str."""
        vals = np.array(list(self.values[name]), dtype=object)
        idx = self.index[name] if rows is None else self.index[name][rows]
        return vals[idx]


def _header(sc: ShardColumns) -> dict:
    return {"format": FORMAT, "version": VERSION, "shard": sc.name, "shard_sha256": sc.sha256,
            "rows": len(sc), "loci": list(sc.loci),
            "values": {k: list(sc.values[k]) for k in _TEXT},
            "alleles": {k: list(v) for k, v in sc.alleles.items()},
            "max_code": {k: int(v) for k, v in sc.max_code.items()}}


def _crc(header: dict, codes, ids: pa.Array, order, index: dict) -> int:
    """CRC-32 of the header (without its crc) and of every column's bytes."""
    c = _crc32(json.dumps(header, sort_keys=True, ensure_ascii=False).encode())
    c = _crc32(memoryview(np.ascontiguousarray(codes)).cast("B"), c)
    offs, data = _id_buffers(ids)
    width = np.int64 if pa.types.is_large_string(ids.type) else np.int32   # as stored
    c = _crc32(memoryview(np.ascontiguousarray((offs - offs[0]).astype(width))).cast("B"), c)
    if offs[-1] > offs[0]:
        c = _crc32(memoryview(data)[int(offs[0]): int(offs[-1])], c)
    c = _crc32(memoryview(np.ascontiguousarray(order)).cast("B"), c)
    for k in _TEXT:
        c = _crc32(memoryview(np.ascontiguousarray(index[k])).cast("B"), c)
    return c & 0xFFFFFFFF


def write_sidecar(shard: Path, sc: ShardColumns) -> Path | None:
    """Write ``sc`` beside ``shard`` (temporary name, private mode, fsync, atomic
    rename).  Returns its path, or None when it cannot be written (a read-only
    directory, a full disk: the load goes on without it) or writing is off."""
    if not writing_enabled():
        return None
    path = sidecar_path(shard)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        header = _header(sc)
        header["crc32"] = _crc(_header(sc), sc.codes, sc.sample_id, sc.order, sc.index)
        n, L = len(sc), len(sc.loci)
        flat = pa.array(np.ascontiguousarray(sc.codes).reshape(-1), pa.int16())
        codes = (pa.FixedSizeListArray.from_arrays(flat, 2 * L) if L
                 else pa.nulls(n, pa.null()))
        cols = {"codes": codes, "sample_id": sc.sample_id,
                "order": pa.array(sc.order, pa.int32())}
        for k in _TEXT:
            cols[k] = pa.array(sc.index[k], pa.int32())
        table = pa.table(cols).replace_schema_metadata(
            {_KEY: json.dumps(header, ensure_ascii=False).encode()})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
        try:
            os.fchmod(fd, file_mode())
            with os.fdopen(fd, "wb", closefd=False) as fh:
                with pa.ipc.new_file(fh, table.schema) as w:
                    w.write_table(table)
                fh.flush()
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return path
    except (OSError, pa.ArrowException) as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        log.info("no sidecar written for shard %s (%s); loads decode the shard",
                 Path(shard).name, getattr(e, "strerror", None) or type(e).__name__)
        return None


def read_sidecar(shard: Path, sha256: str) -> ShardColumns | None:
    """The sidecar of ``shard`` if it was built from the bytes with this ``sha256``
    and is intact (its CRC-32), memory-mapped; None if it is missing, stale,
    altered or unreadable (then the shard is decoded and the sidecar rebuilt)."""
    path = sidecar_path(shard)
    try:
        src = pa.memory_map(str(path), "r")
    except (OSError, pa.ArrowException):
        return None
    try:
        reader = pa.ipc.open_file(src)
        header = json.loads((reader.schema.metadata or {})[_KEY])
        if (header.get("format") != FORMAT or header.get("version") != VERSION
                or header.get("shard") != Path(shard).name
                or header.get("shard_sha256") != sha256):
            return None
        table = reader.read_all()
        if table.num_rows != header["rows"] or len(table.column("order").chunks) > 1:
            return None
        n, L = table.num_rows, len(header["loci"])
        col = table.column("codes")
        if L:
            arr = col.chunk(0) if col.num_chunks else pa.array([], pa.list_(pa.int16(), 2 * L))
            codes = arr.flatten().to_numpy().reshape(n, L, 2) if n else np.empty((0, L, 2), np.int16)
        else:
            codes = np.empty((n, 0, 2), dtype=np.int16)
        ids = table.column("sample_id").combine_chunks()
        order = table.column("order").to_numpy()
        index = {k: table.column(k).to_numpy() for k in _TEXT}
        crc = header.pop("crc32")
        if ids.null_count or _crc(header, codes, ids, order, index) != crc:
            log.warning("the sidecar %s does not match its checksum; it is rebuilt from the shard",
                        path.name)
            return None
        values = {k: tuple(header["values"][k]) for k in _TEXT}
        for k in _TEXT:
            idx = index[k]
            if n and (idx.min() < 0 or idx.max() >= len(values[k])):
                return None
        return ShardColumns(header["shard"], sha256, tuple(header["loci"]), codes, ids, order,
                            values, index, {k: tuple(v) for k, v in header["alleles"].items()},
                            {k: int(v) for k, v in header["max_code"].items()})
    except (OSError, pa.ArrowException, KeyError, ValueError, TypeError, AttributeError):
        return None


# --------------------------------------------------------------------------------------
# Sample ids in order: the duplicate-id check and the ranks, from each shard's order
# --------------------------------------------------------------------------------------
def _id_buffers(ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(int64 offsets [n + 1], uint8 data)`` of a string array (UTF-8 bytes: their
    order, byte by byte, is the order of Python's ``str``, code point by code point)."""
    if pa.types.is_large_string(ids.type):
        offs = np.frombuffer(ids.buffers()[1], dtype=np.int64, count=len(ids) + 1,
                             offset=8 * ids.offset)
    else:
        offs = np.frombuffer(ids.buffers()[1], dtype=np.int32, count=len(ids) + 1,
                             offset=4 * ids.offset).astype(np.int64)
    data = ids.buffers()[2]
    return offs, (np.frombuffer(data, dtype=np.uint8) if data is not None
                  else np.zeros(0, dtype=np.uint8))


@jit()
def _cmp(offs_a, data_a, i, offs_b, data_b, j):
    """-1, 0, 1: string ``i`` of a against string ``j`` of b, unsigned bytes."""
    pa_, ea = offs_a[i], offs_a[i + 1]
    pb, eb = offs_b[j], offs_b[j + 1]
    while pa_ < ea and pb < eb:
        x, y = data_a[pa_], data_b[pb]
        if x != y:
            return -1 if x < y else 1
        pa_ += 1
        pb += 1
    if pa_ < ea:
        return 1
    if pb < eb:
        return -1
    return 0

@jit()
def _check_order(offs, data, order):
    """-1 if ``order`` is a permutation listing strictly increasing strings; else
    ``k`` with order[k] == order[k + 1] as strings (a duplicate id), or -2 if it
    is not such a permutation (a wrong order: never a duplicate)."""
    n = order.shape[0]
    seen = np.zeros(n, dtype=np.bool_)
    for k in range(n):
        r = order[k]
        if r < 0 or r >= n or seen[r]:
            return -2
        seen[r] = True
    dup = -1
    for k in range(n - 1):
        c = _cmp(offs, data, order[k], offs, data, order[k + 1])
        if c > 0:
            return -2
        if c == 0 and dup < 0:
            dup = k
    return dup

@jit()
def _merge(offs_a, data_a, run_a, offs_b, data_b, run_b, tag_a, tag_b, out_run, out_tag):
    """Merge two runs of rows in id order (``run_a`` rows of a, ``run_b`` rows of
    b; ``tag_*`` carry through).  Returns -1, or the position in ``run_a`` of an
    id that b holds too (a duplicate)."""
    i = j = k = 0
    na, nb = run_a.shape[0], run_b.shape[0]
    while i < na and j < nb:
        c = _cmp(offs_a, data_a, run_a[i], offs_b, data_b, run_b[j])
        if c == 0:
            return i
        if c < 0:
            out_run[k] = run_a[i]
            out_tag[k] = tag_a[i]
            i += 1
        else:
            out_run[k] = run_b[j]
            out_tag[k] = tag_b[j]
            j += 1
        k += 1
    while i < na:
        out_run[k] = run_a[i]
        out_tag[k] = tag_a[i]
        i += 1
        k += 1
    while j < nb:
        out_run[k] = run_b[j]
        out_tag[k] = tag_b[j]
        j += 1
        k += 1
    return -1


def check_order(ids: pa.Array, order: np.ndarray) -> int:
    """-1 if ``order`` lists the rows of ``ids`` in strictly increasing id order;
    ``k`` if ``ids[order[k]] == ids[order[k + 1]]`` (a duplicate id); -2 if
    ``order`` is not an order of these rows."""
    offs, data = _id_buffers(ids)
    if len(order) != len(ids):
        return -2
    return int(_check_order(offs, data, np.ascontiguousarray(order)))


def merged_order(parts: list) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """``parts``: ``(ids, order)`` per shard, each order checked by
    :func:`check_order`.  Returns ``(rows, shard, dup)``: every row of every part in
    id order, numbered part after part (``rows[k]``: row ``rows[k] - (rows of the
    parts before)`` of part ``shard[k]``), and ``dup = (part, row, other part)`` for
    an id that two parts hold (then the order is incomplete)."""
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), None
    bufs = [_id_buffers(p[0]) for p in parts]
    # the merged run refers to one concatenated id buffer (global row numbers)
    base = np.cumsum([0] + [len(p[0]) for p in parts])
    if len(parts) == 1:
        offs_all, data_all = bufs[0]
    else:
        used = [int(o[-1] - o[0]) for o, _ in bufs]
        cum = np.cumsum([0] + used)
        offs_all = np.concatenate([o[:-1] - o[0] + cum[k] for k, (o, _) in enumerate(bufs)]
                                  + [np.array([cum[-1]], dtype=np.int64)])
        data_all = np.concatenate([d[int(o[0]): int(o[-1])] for o, d in bufs])
    run = np.asarray(parts[0][1], dtype=np.int64)
    tag = np.zeros(len(run), dtype=np.int32)
    for s in range(1, len(parts)):
        run_b = np.asarray(parts[s][1], dtype=np.int64) + base[s]
        out_run = np.empty(len(run) + len(run_b), dtype=np.int64)
        out_tag = np.empty(len(out_run), dtype=np.int32)
        at = _merge(offs_all, data_all, run, offs_all, data_all, run_b, tag,
                    np.full(len(run_b), s, dtype=np.int32), out_run, out_tag)
        if at >= 0:
            t = int(tag[at])
            return run, tag, (t, int(run[at] - base[t]), s)
        run, tag = out_run, out_tag
    return run, tag, None


@jit()
def _rank_selected(run, sel, all_selected, out):
    """``out[p]``: the rank, among the selected rows, of the id of selected row ``p``
    (rows numbered part after part; ``run``: every row in id order)."""
    n = sel.shape[0]
    pos = np.empty(n, dtype=np.int64)
    c = 0
    for g in range(n):
        pos[g] = c
        if all_selected or sel[g]:
            c += 1
    c = 0
    for k in range(run.shape[0]):
        g = run[k]
        if all_selected or sel[g]:
            out[pos[g]] = c
            c += 1


def selected_ranks(run, sizes, masks) -> np.ndarray:
    """The ranks in id order of the selected rows (``masks``: per part a bool mask
    of its selected rows, or None for all), from :func:`merged_order`'s ``run``;
    int64, in part order."""
    base = np.cumsum([0] + list(sizes)).astype(np.int64)
    every = all(m is None for m in masks)
    sel = (np.zeros(0, dtype=np.bool_) if every else
           np.concatenate([np.ones(n, np.bool_) if m is None else m for n, m in zip(sizes, masks)]))
    out = np.empty(int(base[-1]) if every else int(np.count_nonzero(sel)), dtype=np.int64)
    if not every:
        _rank_selected(run, sel, False, out)
    else:
        _rank_selected(run, np.zeros(int(base[-1]), np.bool_), True, out)
    return out
