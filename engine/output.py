"""The results directory: atomic files, run state, checkpoints.

Layout::

    results/
      hits.parquet          ranked hits (a Parquet dataset of one file); provenance
                            in the key-value metadata under ``strkin.search``
      summary.txt           human-readable summary
      manifest.json         run manifest: software, job, checksums, timings (written last)
      _state/               what incremental runs and ``--resume`` need
        run.json            the run in progress (or the last completed one)
        run.lock            held (flock) while a run writes here
        units.parquet       fingerprints of every unit the results cover
        counts.parquet      pairs at or above the threshold per query / reference unit
        tasks/*.parquet     one checkpoint per finished task (removed after the run;
                            forced to disk in batches, CheckpointSync)
        prev/               earlier results, kept while an incremental run merges them

Every file is written under a temporary name in the same directory, flushed,
``fsync``-ed and moved into place with ``os.replace``, so a reader (or a run
killed at any moment) never sees a half-written file.  Task checkpoints skip the
per-file ``fsync`` and are forced in batches (:class:`CheckpointSync`); the
result files of a run's write phase (hits, summary, run state ...) are forced
together by one :class:`SyncBatch` pass just before the manifest, the run's commit
point, is written (one journal commit instead of one per file).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from formats.dataset import _atomic_write_bytes, _fsync_dir
from formats.perms import file_mode, make_dir

from .errors import OutputError

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_parquet", "PARQUET_COMPRESSION",
           "CheckpointSync", "SyncBatch",
           "checkpoint_ok", "RunLock",
           "OUR_FILES", "STATE", "clean_results"]

STATE = "_state"
#: the dropout probability used for each sample (written when the dropout model is on)
DROPOUT = "dropout.csv"
OUR_FILES = ("hits.parquet", "summary.txt", "manifest.json", DROPOUT,
             "consistency.parquet", "joint.parquet", STATE)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def atomic_write_bytes(path, data: bytes, sync: "SyncBatch | None" = None):
    """``data`` to ``path`` atomically, forced to disk before returning; with ``sync``
    the forcing is left to ``sync.sync()`` (the file is complete and in place)."""
    if sync is None:
        _atomic_write_bytes(Path(path), data)
        return
    path = Path(path)
    tmp = _tmp(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
        with open(fd, "wb") as fh:
            os.fchmod(fh.fileno(), file_mode())
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    sync.add(path)


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())


#: the Parquet codec of the result and state files
PARQUET_COMPRESSION = "zstd"


def atomic_write_parquet(path, table: pa.Table, metadata: dict | None = None, fsync: bool = True,
                         sync: "SyncBatch | None" = None, compression: str = PARQUET_COMPRESSION):
    """``table`` to ``path`` atomically (temporary name, ``os.replace``).  ``fsync``:
    also force the file and its directory to disk before returning; a run's task
    checkpoints pass False and are forced in batches by :class:`CheckpointSync`;
    with ``sync`` the forcing is left to ``sync.sync()``.  ``compression``: the
    Parquet codec (task checkpoints, removed after the run, are written
    uncompressed: zstd took about two thirds of their writing time)."""
    path = Path(path)
    if sync is not None:
        fsync = False
    if metadata:
        md = dict(table.schema.metadata or {})
        md.update({k.encode(): v.encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(md)
    tmp = _tmp(path)
    try:
        pq.write_table(table, tmp, compression=compression, write_page_checksum=True)
        with open(tmp, "rb+") as fh:
            os.fchmod(fh.fileno(), file_mode())
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    if fsync:
        _fsync_dir(path.parent)
    if sync is not None:
        sync.add(path)


class SyncBatch:
    """Files written complete and in place but not yet forced to disk
    (:func:`atomic_write_bytes` / :func:`atomic_write_parquet` with ``sync=``):
    :meth:`sync` forces each file, then each of their directories once.  A run
    calls it before writing its manifest, so the manifest never names a result
    that a power failure could lose."""

    def __init__(self):
        self.pending: list = []

    def add(self, path) -> None:
        self.pending.append(Path(path))

    def sync(self) -> None:
        dirs = []
        for p in self.pending:
            try:
                fd = os.open(p, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if p.parent not in dirs:
                dirs.append(p.parent)
        for d in dirs:
            _fsync_dir(d)
        self.pending.clear()


class CheckpointSync:
    """Forces a run's task checkpoints to disk in batches instead of one ``fsync``
    per task: :meth:`written` records a checkpoint (already complete and in place:
    a killed process loses nothing, the kernel holds the data), and at most every
    ``every`` seconds, and at :meth:`sync`, one pass forces the files written since
    and their directory (a :class:`SyncBatch`).  Only a power failure can lose
    the checkpoints of the last few seconds; :func:`checkpoint_ok` then finds them damaged or missing on
    ``--resume`` and those tasks are done again."""

    def __init__(self, every: float = 10.0):
        import time

        self._clock = time.monotonic
        self.every = float(every)
        self._batch = SyncBatch()
        self.last = self._clock()

    def written(self, path) -> None:
        self._batch.add(path)
        if self._clock() - self.last >= self.every:
            self.sync()

    def sync(self) -> None:
        self._batch.sync()
        self.last = self._clock()


def checkpoint_ok(path, key: str = "strkin.task") -> bool:
    """Whether the task checkpoint ``path`` exists and is whole (its Parquet footer
    reads and holds the task's metadata ``key``).  A damaged one (a power failure
    before its batch was forced to disk) is removed, so that the task runs again."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        md = pq.read_metadata(path).metadata or {}
        if key.encode() in md:
            return True
    except Exception:  # noqa: BLE001 - any unreadable file is a task to do again
        pass
    try:
        path.unlink()
    except OSError:
        pass
    return False


class RunLock:
    """An exclusive advisory lock on ``_state/run.lock`` (released if the process dies)."""

    def __init__(self, out: Path):
        self.path = Path(out) / STATE / "run.lock"
        self.fd = None

    def __enter__(self):
        make_dir(self.path.parent)
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, file_mode())
        try:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - non-POSIX
            pass
        except OSError:
            os.close(self.fd)
            self.fd = None
            raise OutputError(
                f"another search is writing to {self.path.parent.parent} right now; wait for it "
                f"to finish, or give this job another [output] path"
            ) from None
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            with contextlib.suppress(OSError):
                import fcntl

                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def clean_results(out: Path, keep_lock: bool = True):
    """Remove the engine's own files from ``out`` (never anything else)."""
    out = Path(out)
    for name in OUR_FILES:
        p = out / name
        if name == STATE and p.is_dir():
            for q in p.iterdir():
                if keep_lock and q.name == "run.lock":
                    continue
                if q.is_dir():
                    shutil.rmtree(q, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        q.unlink()
        elif p.is_file():
            p.unlink()


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        return {"_unreadable": True}
