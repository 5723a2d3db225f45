"""An on-disk store of a model's compiled per-locus tables, so that a run does not
rebuild the pair and single-relative tables an earlier run of the same model
already built (at θ = 0 about half a second for 23 loci; at θ > 0 minutes).

What a stored table depends on is all in its key (:func:`table_key`): the format
version, the software version, a digest of the source files of the code that
computes tables, the kind of table and its parameters (relationship, sex, line,
dropout), and per locus the allele system (labels and frequencies as bytes), the
mutation matrices (as bytes) and θ.  Anything that could change a value changes
the key; an entry is never updated in place, so a stale entry cannot be read.

Files are NumPy ``.npz`` archives read with ``allow_pickle=False`` (no code in a
data file), written to a temporary name and renamed (a killed run leaves no half
file), private (``0600`` in a ``0700`` directory: the tables hold no genotypes,
but the directory is the user's own).  Each archive holds a SHA-256 of its
arrays; an entry whose checksum, count or shapes do not match is removed,
logged and rebuilt, never used.  Tables contain no genotypes or sample data.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

#: bump when the archive layout changes
FORMAT = 1

#: the modules whose code computes the tables (their source is part of every key)
_SOURCES = ("likelihood.py", "tables.py", "mutation.py", "frequencies.py", "pedigree.py",
            "search.py", "cases.py", "tablecache.py")
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


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class TableStore:
    """Per-locus table lists on disk under ``directory`` (created ``0700``)."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npz"

    def load(self, key: str, shapes: Sequence[tuple]) -> list | None:
        """The stored list of ``(W, I)`` per locus, or None when absent or not
        valid (a bad entry is logged and ignored).  ``shapes``: the expected
        ``W`` shape per locus."""
        p = self._path(key)
        try:
            with np.load(p, allow_pickle=False) as z:
                n = int(z["n"])
                arrays = [z[f"a{i}"] for i in range(2 * n)]
                stored = str(z["sha256"])
        except FileNotFoundError:
            return None
        except Exception as e:  # a damaged or foreign file: rebuild, never use
            log.warning("table cache: removing unreadable entry %s (%s)", p, type(e).__name__)
            _remove(p)
            return None
        ok = (n == len(shapes) and stored == _digest(arrays)
              and all(arrays[2 * i].shape == tuple(shapes[i]) and arrays[2 * i].dtype == np.float64
                      and arrays[2 * i + 1].shape == tuple(shapes[i])
                      for i in range(n)))
        if not ok:
            log.warning("table cache: removing entry %s (checksum or shapes do not match)", p)
            _remove(p)
            return None
        out = []
        for i in range(n):
            W, I = arrays[2 * i], arrays[2 * i + 1].astype(np.uint8, copy=False)
            W.setflags(write=False)
            I.setflags(write=False)
            out.append((W, I))
        return out

    def save(self, key: str, tables: Sequence[tuple]) -> None:
        """Store ``tables`` (``[(W, I), ...]``) under ``key``; an error is logged
        and the run goes on without the cache."""
        p = self._path(key)
        if p.exists():
            return
        arrays = []
        for W, I in tables:
            arrays.append(np.ascontiguousarray(W, dtype=np.float64))
            arrays.append(np.ascontiguousarray(I, dtype=np.uint8))
        try:
            for d in (self.directory, p.parent):
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".npz")
            try:
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, n=np.int64(len(tables)), sha256=np.str_(_digest(arrays)),
                             **{f"a{i}": a for i, a in enumerate(arrays)})
                os.chmod(tmp, 0o600)
                os.replace(tmp, p)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError as e:
            log.warning("table cache: could not write %s (%s); going on without it", p, e.strerror or e)
