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
        tasks/*.parquet     checkpoints of finished tasks, several tasks a file, written
                            every ``execution.checkpoint_every`` seconds (Checkpoints;
                            removed after the run)
        prev/               earlier results, kept while an incremental run merges them

Every file is written under a temporary name in the same directory, flushed,
``fsync``-ed and moved into place with ``os.replace``, so a reader (or a run
killed at any moment) never sees a half-written file.  Task checkpoints are
written in batches, one file and one ``fsync`` for the tasks finished in the
last ``execution.checkpoint_every`` seconds (:class:`Checkpoints`); the
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
           "Checkpoints", "SyncBatch",
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
    also force the file and its directory to disk before returning; with ``sync``
    the forcing is left to ``sync.sync()``.  ``compression``: the Parquet codec
    (task checkpoints, removed after the run, are written uncompressed: zstd took
    about two thirds of their writing time)."""
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


#: the key of a checkpoint file's metadata (its tasks' keys, in row order)
CHECKPOINT_KEY = "strkin.tasks"
#: the columns of a checkpoint file: one row per task, its result table in Arrow's
#: IPC stream format (no pickle: only Arrow data is ever read back)
_CHECKPOINT_SCHEMA = pa.schema([pa.field("key", pa.string(), nullable=False),
                                pa.field("meta", pa.string(), nullable=False),
                                pa.field("table", pa.large_binary(), nullable=False)])


class Checkpoints:
    """A run's task checkpoints (``_state/tasks``), written in batches.

    :meth:`add` keeps a finished task's result (its table, and its metadata: a
    dict of JSON values, read back equal); once ``every`` seconds have passed
    since the last batch (0: at every task), the results kept are written as one
    file (one row per task: its key, its metadata and its table in Arrow's IPC
    format; the keys also in the file's metadata), atomically and forced to disk
    with one ``fsync``.  :meth:`write` writes what is kept now: the run calls it
    when the search stops early (cancelled, a task failed, interrupted), so that
    ``--resume`` finds every task done; a run that completes does not (its
    results are merged from memory, and the checkpoints are removed with the
    run).  A process killed outright loses at most the tasks of the last
    ``every`` seconds, which ``--resume`` does again.  :meth:`done` lists the
    tasks of the files an interrupted run left (a damaged file, cut short by a
    power failure, is removed: its tasks are done again), :meth:`load` reads one
    back."""

    def __init__(self, tasks_dir, every: float = 15.0):
        import time

        self.dir = Path(tasks_dir)
        self.every = float(every)
        self._clock = time.monotonic
        self.last = self._clock()
        self.pending: list = []
        self.files = 0
        self._where: dict = {}
        self._read: dict = {}

    def add(self, key: str, table: pa.Table, meta: dict) -> None:
        self.pending.append((key, table, meta))
        if self._clock() - self.last >= self.every:
            self.write()

    def write(self) -> None:
        self.last = self._clock()
        if not self.pending:
            return
        blobs = []
        for _, t, _ in self.pending:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, t.schema) as w:
                w.write_table(t)
            blobs.append(sink.getvalue().to_pybytes())
        keys = [k for k, _, _ in self.pending]
        metas = [json.dumps(m, sort_keys=True) for _, _, m in self.pending]
        table = pa.table([pa.array(keys, pa.string()), pa.array(metas, pa.string()),
                          pa.array(blobs, pa.large_binary())], schema=_CHECKPOINT_SCHEMA)
        self.files += 1
        atomic_write_parquet(self.dir / f"{keys[0][:24]}-{len(keys)}.parquet", table,
                             {CHECKPOINT_KEY: json.dumps(keys)}, compression="none")
        self.pending = []

    def done(self) -> dict:
        """``{task key: file}`` of the whole checkpoint files in the directory."""
        out = {}
        if self.dir.is_dir():
            for p in sorted(self.dir.glob("*.parquet")):
                if checkpoint_ok(p, CHECKPOINT_KEY):
                    for k in json.loads(pq.read_metadata(p).metadata[CHECKPOINT_KEY.encode()]):
                        out[k] = p
        self._where = out
        return out

    def load(self, key: str) -> tuple:
        """``(table, metadata dict)`` of a task of :meth:`done`."""
        p = self._where[key]
        rows = self._read.get(p)
        if rows is None:
            t = pq.read_table(p)
            blobs = t.column("table").combine_chunks()
            rows = self._read[p] = {k: (m, blobs[i]) for i, (k, m) in
                                    enumerate(zip(t.column("key").to_pylist(), t.column("meta").to_pylist()))}
        meta, blob = rows[key]
        return pa.ipc.open_stream(blob.as_buffer()).read_all(), json.loads(meta)


def checkpoint_ok(path, key: str = CHECKPOINT_KEY) -> bool:
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
