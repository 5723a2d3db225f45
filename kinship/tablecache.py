"""An on-disk store of a model's compiled per-locus tables, so that a run does not
rebuild the pair and single-relative tables an earlier run of the same model
already built (at θ = 0 about half a second for 23 loci; at θ > 0 minutes).

What a stored table depends on is all in its key (:func:`table_key`): the format
version, the software version, a digest of the source files of the code that
computes tables, the kind of table and its parameters (relationship, sex, line,
dropout; for the reference-consistency check's claimed-relationship tables of
:mod:`kinship.consistency`, the shape of the pair's connecting pedigree), and per locus the allele system (labels and frequencies as bytes), the
mutation matrices (as bytes) and θ.  Anything that could change a value changes
the key; an entry is never updated in place, so a stale entry cannot be read.

An entry is two files: ``KEY.tab``, the arrays' raw bytes one after the other
(each starting at a multiple of 64 bytes), and ``KEY.json``, what they are
(count, shapes, dtypes, offsets, the file's size and a CRC-32 per array).  No
pickle and no code in either.  Both are written to a temporary name and renamed,
the description last (a killed run leaves no entry that looks whole), private
(``0600`` in a ``0700`` directory: the tables hold no genotypes, but the
directory is the user's own).  Loading maps the data file into memory (no copy
of a 23-locus pair table's 24 MB) and checks each array's CRC-32 against the
description, which reads every byte once; an entry whose checksum, count, size or shapes do not match is
removed, logged and rebuilt, never used.  The CRC-32 is zlib's (the same values
as :func:`zlib.crc32`), computed by ISA-L (``isal``, a dependency; zlib's own
where an older environment lacks it, the same values), about six times faster
than zlib's on this machine (1 ms instead of 6 for a 24 MB table; a small run
checks several such tables).  (Format 1 was one ``.npz`` archive with
a SHA-256: reading it, unzipping with its CRC and hashing cost about 0.1 CPU-s per
table, most of a small run's time; such files are no longer read, and
:meth:`TableStore.prune` removes them.)  Tables contain no genotypes or sample
data.

The store keeps to a size (``max_bytes``, the job's ``execution.table_cache_size``):
each software version and each model has tables of its own, so without a bound it
only grew.  After an entry is written, the entries least recently used (a read
sets the data file's time) are removed until the store fits, never one the
writing store object has used.
"""
from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import tempfile
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

try:   # ISA-L's CRC-32: zlib's function (the same values), several times faster
    from isal.isal_zlib import crc32 as _crc32
except ImportError:   # an environment installed before isal was a dependency: the same values
    from zlib import crc32 as _crc32

log = logging.getLogger(__name__)

#: bump when the entry layout changes
FORMAT = 2

#: the modules whose code computes the tables (their source is part of every key)
_SOURCES = ("likelihood.py", "tables.py", "mutation.py", "frequencies.py", "pedigree.py", "_blas.py",
            "search.py", "cases.py", "consistency.py", "tablecache.py")
_DIGEST: list = []
_DIGEST_LOCK = threading.Lock()


def source_digest() -> str:
    """SHA-256 of the source of the table-computing modules (once per process)."""
    if not _DIGEST:
        with _DIGEST_LOCK:
            if not _DIGEST:
                h = hashlib.sha256()
                here = Path(__file__).resolve().parent
                for name in _SOURCES:
                    h.update(name.encode())
                    h.update((here / name).read_bytes())
                _DIGEST.append(h.hexdigest())
    return _DIGEST[0]


def default_directory() -> Path:
    """``$STRKIN_TABLE_CACHE``, else ``$XDG_CACHE_HOME/strkin/tables``, else
    ``~/.cache/strkin/tables``."""
    env = os.environ.get("STRKIN_TABLE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "strkin" / "tables"


def table_key(kind: str, params: Sequence, systems, mats, theta: float) -> str:
    """The key of one list of per-locus tables: ``kind`` (``"pair"``, ``"single"``),
    its ``params`` (reprs are hashed), the allele ``systems``, the (female, male)
    mutation matrices per locus ``mats`` and ``theta``."""
    from . import __version__

    h = hashlib.sha256()

    def put(x):
        b = x if isinstance(x, bytes) else repr(x).encode()
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)

    put(FORMAT)
    put(__version__)
    put(source_digest())
    put(kind)
    put(tuple(params))
    put(float(theta).hex())
    for s, (fM, mM) in zip(systems, mats):
        put(s.locus)
        put(tuple(s.alleles))
        put(bool(s.silent))
        put(np.ascontiguousarray(s.freqs, dtype=np.float64).tobytes())
        for M in (fM, mM):
            put(b"-" if M is None else np.ascontiguousarray(M, dtype=np.float64).tobytes())
    return h.hexdigest()


def _remove(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


_ALIGN = 64


def _crc(buf) -> int:
    """zlib's CRC-32 of ``buf`` (ISA-L's implementation: the same value as
    ``zlib.crc32``, several times faster)."""
    return _crc32(buf) & 0xFFFFFFFF


#: the store's default size: entries least recently used are removed past it (a
#: 23-locus pair table is about 24 MB; a model's tables, with the consistency check's
#: alternatives for both sexes and lines, some hundreds of MB)
DEFAULT_MAX_BYTES = 4 << 30


class TableStore:
    """Per-locus table lists on disk under ``directory`` (created ``0700``), at most
    ``max_bytes`` of them: after an entry is written, the entries least recently
    used (written or read: a read sets the data file's time) are removed until the
    store fits, never one this store object has used (its process's run needs
    them)."""

    def __init__(self, directory, max_bytes: int = DEFAULT_MAX_BYTES):
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self._used: set = set()

    def _paths(self, key: str) -> tuple[Path, Path]:
        d = self.directory / key[:2]
        return d / f"{key}.tab", d / f"{key}.json"

    def load(self, key: str, shapes: Sequence[tuple]) -> list | None:
        """The stored list of ``(W, I)`` per locus (read-only arrays over the
        mapped file), or None when absent or not valid (a bad entry is logged and
        removed).  ``shapes``: the expected ``W`` shape per locus."""
        data, meta = self._paths(key)
        try:
            desc = json.loads(meta.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except Exception as e:  # a damaged or foreign file: rebuild, never use
            log.warning("table cache: removing unreadable entry %s (%s)", meta, type(e).__name__)
            self._remove(key)
            return None
        try:
            arrays = self._map(data, desc, shapes)
        except Exception as e:  # noqa: BLE001 - any mismatch: rebuild, never use
            log.warning("table cache: removing entry %s (%s)", data,
                        e.args[0] if isinstance(e, _Bad) else type(e).__name__)
            self._remove(key)
            return None
        self._used.add(key)
        try:
            os.utime(data)          # least recently used is what the budget removes first
        except OSError:
            pass
        return [(arrays[2 * i], arrays[2 * i + 1]) for i in range(len(shapes))]

    def entries(self, old: list | None = None) -> list:
        """``(last use, bytes, key)`` of every whole entry (its description present);
        ``old``: a list to receive the paths of first-format entries (``.npz``, never
        read)."""
        out = []
        try:
            subdirs = [d for d in os.scandir(self.directory) if d.is_dir()]
        except OSError:
            return out
        for d in subdirs:
            try:
                names = {e.name: e for e in os.scandir(d.path)}
            except OSError:
                continue
            for name in names:
                if name.endswith(".npz") and old is not None:
                    old.append(Path(d.path) / name)
                if not name.endswith(".json") or name.startswith("."):
                    continue
                key = name[:-5]
                tab = names.get(key + ".tab")
                try:
                    st = tab.stat() if tab is not None else None
                    size = names[name].stat().st_size + (st.st_size if st else 0)
                except OSError:
                    continue
                out.append((st.st_mtime if st else 0.0, size, key))
        return out

    def prune(self) -> int:
        """Remove the entries least recently used until the store holds at most
        ``max_bytes`` (those this object used are kept), and every first-format entry
        (``.npz``: never read since format 2); returns the bytes removed."""
        dead: list = []
        entries = self.entries(dead)
        total = sum(e[1] for e in entries)
        removed = 0
        for p in dead:
            try:
                size = p.stat().st_size
                p.unlink()
                removed += size
                total += size
            except OSError:
                pass
        for _, size, key in sorted(entries):
            if total - removed <= self.max_bytes:
                break
            if key in self._used:
                continue
            self._remove(key)
            removed += size
        if removed:
            log.info("table cache: removed %.0f MB of tables not used lately (the store's size: "
                     "%.0f MB of at most %.0f MB)", removed / 1e6, (total - removed) / 1e6,
                     self.max_bytes / 1e6)
        return removed

    @staticmethod
    def _map(data: Path, desc: dict, shapes: Sequence[tuple]) -> list:
        n = len(shapes)
        arrs = desc["arrays"]
        if desc.get("format") != FORMAT or len(arrs) != 2 * n:
            raise _Bad("count or format does not match")
        with open(data, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size != desc["size"]:
                raise _Bad("size does not match")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        out = []
        for j, a in enumerate(arrs):
            want = (tuple(shapes[j // 2]), "<f8" if j % 2 == 0 else "|u1")
            if (tuple(a["shape"]), a["dtype"]) != want:
                raise _Bad("shapes do not match")
            dt = np.dtype(a["dtype"])
            nbytes = int(np.prod(a["shape"], dtype=np.int64)) * dt.itemsize
            off = int(a["offset"])
            if off % _ALIGN or off + nbytes > size:
                raise _Bad("offsets do not match")
            view = memoryview(mm)[off:off + nbytes]
            if _crc(view) != a["crc32"]:
                raise _Bad("checksum does not match")
            x = np.frombuffer(view, dtype=dt).reshape(a["shape"])   # read-only
            out.append(x)
        return out

    def _remove(self, key: str) -> None:
        data, meta = self._paths(key)
        _remove(meta)
        _remove(data)

    def save(self, key: str, tables: Sequence[tuple]) -> None:
        """Store ``tables`` (``[(W, I), ...]``) under ``key``; an error is logged
        and the run goes on without the cache."""
        data, meta = self._paths(key)
        if meta.exists():
            self._used.add(key)
            return
        arrays = []
        for W, I in tables:
            arrays.append(np.ascontiguousarray(W, dtype="<f8"))
            arrays.append(np.ascontiguousarray(I, dtype=np.uint8))
        desc, off = [], 0
        for a in arrays:
            desc.append({"shape": list(a.shape), "dtype": a.dtype.str, "offset": off,
                         "crc32": _crc(memoryview(a).cast("B"))})
            off += -(-a.nbytes // _ALIGN) * _ALIGN
        try:
            for d in (self.directory, data.parent):
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            with _private_tmp(data.parent, ".tab") as (f, tmp):
                for a, dd in zip(arrays, desc):
                    f.seek(dd["offset"])
                    f.write(memoryview(a).cast("B"))
                f.truncate(off)
                f.flush()
                os.replace(tmp, data)
            text = json.dumps({"format": FORMAT, "size": off, "arrays": desc})
            with _private_tmp(data.parent, ".json") as (f, tmp):
                f.write(text.encode("utf-8"))
                f.flush()
                os.replace(tmp, meta)
        except OSError as e:
            log.warning("table cache: could not write %s (%s); going on without it", data,
                        e.strerror or e)
            return
        self._used.add(key)
        self.prune()


class _Bad(Exception):
    pass


class _private_tmp:
    """A new private (0600) temporary file in ``directory``, removed on error
    unless it was renamed."""

    def __init__(self, directory: Path, suffix: str):
        self.directory, self.suffix = directory, suffix

    def __enter__(self):
        fd, self.tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=self.suffix)
        os.fchmod(fd, 0o600)
        self.f = os.fdopen(fd, "wb")
        return self.f, self.tmp

    def __exit__(self, et, ev, tb):
        self.f.close()
        if et is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
        return False
