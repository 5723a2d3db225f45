"""The results directory's run state (``_state/``): what a directory holds (a first
run, an incremental one, an interrupted one to resume), the earlier results an
incremental run starts from, and the state a finished run leaves for the next.
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from formats.perms import make_dir

from .chance import rows_from_table
from .errors import OutputError
from .inputs import FINGERPRINT_VERSION, units_table
from .job import PAIRWISE_MODES
from .output import (OUR_FILES, PARQUET_COMPRESSION, STATE, atomic_write_bytes, atomic_write_parquet,
                     read_json)
from .plan import PrevState
from .runlog import RUN_LOG

__all__ = ["RESULTS_FORMAT", "RESULTS_VERSION", "check_output", "read_prev", "snapshot",
           "write_state", "units_parquet", "UnitsAhead", "remove_stale_temps", "os_message"]

RESULTS_FORMAT = "strkin-search-results"
RESULTS_VERSION = 1


def check_output(out: Path, job_key: str, resume: bool, overwrite: bool):
    """What the output directory holds: ("fresh" | "incremental" | "resume", info)."""
    if not out.exists():
        return "fresh", None
    if not out.is_dir():
        raise OutputError(f"output.path {out} exists and is not a directory; give a directory path")
    manifest = read_json(out / "manifest.json")
    runj = read_json(out / STATE / "run.json")
    ours = set(OUR_FILES) | {RUN_LOG}   # the run log is kept across runs (engine.runlog)
    foreign = [p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith(".")]
    if manifest is None and runj is None:
        if foreign:
            raise OutputError(
                f"output.path {out} is not empty ({', '.join(sorted(foreign)[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}) and holds no search results. Fix: give "
                f"an empty or new directory as [output] path"
            )
        return "fresh", None
    for d in (manifest, runj):
        if d is not None and d.get("_unreadable"):
            raise OutputError(
                f"output.path {out}: the run manifest or state is damaged. Fix: give a new [output] "
                f"path, or set [output] overwrite = true to replace these results"
            )
    if runj is not None and runj.get("status") == "running" and \
            not (manifest is not None and manifest.get("run", {}).get("run_id") == runj.get("run_id")):
        if runj.get("job_key") != job_key:
            if overwrite:
                return "overwrite", None
            raise OutputError(
                f"output.path {out} holds an interrupted run of another job (started "
                f"{runj.get('started', '?')} from {runj.get('job_source', '?')}). Fix: give this job "
                f"a new [output] path, or resume that job with 'kinship search THAT_JOB.toml "
                f"--resume', or set [output] overwrite = true to discard it"
            )
        if not resume and overwrite:
            return "overwrite", None
        if not resume:
            raise OutputError(
                f"output.path {out} holds an interrupted run of this job (started "
                f"{runj.get('started', '?')}). Fix: run again with --resume (engine.run(job, "
                f"resume=True)) to finish it, or set [output] overwrite = true to start over"
            )
        return "resume", runj
    if manifest is not None:
        if manifest.get("format") != RESULTS_FORMAT:
            raise OutputError(f"output.path {out}: manifest.json is not a strkin search manifest; "
                              f"give a new [output] path")
        if manifest.get("job_key") != job_key:
            if overwrite:
                return "overwrite", None
            raise OutputError(
                f"output.path {out} holds the results of another run (job "
                f"{manifest.get('job_source', '?')}, finished {manifest.get('run', {}).get('finished', '?')}"
                f"; its model, search settings or inputs differ from this job's). Fix: give this job "
                f"a new [output] path, or set [output] overwrite = true to replace those results"
            )
        return "incremental", manifest
    return "fresh", None


def read_prev(d: Path) -> PrevState | None:
    try:
        hits = pq.read_table(d / "hits.parquet")
        units_t = pq.read_table(d / "units.parquet")
        counts_t = pq.read_table(d / "counts.parquet")
    except (FileNotFoundError, OSError, pa.ArrowException):
        return None
    units: dict = {}
    for k, i, f in zip(*(units_t.column(c).to_pylist() for c in ("kind", "id", "fp"))):
        units.setdefault(k, {})[i] = f
    counts: dict = {}
    for m, s, i, n in zip(*(counts_t.column(c).to_pylist() for c in ("mode", "side", "id", "n"))):
        counts.setdefault((m, s), {})[i] = n
    chance: dict = {}
    try:
        ct = pq.read_table(d / "chance.parquet")
        fps = ct.column("fp").to_pylist()
        rows = rows_from_table(ct.drop_columns(["fp"]))
        for (key, r), f in zip(rows.items(), _first_fps(ct, fps)):
            chance[key] = (f, r)
    except (FileNotFoundError, OSError, pa.ArrowException, KeyError):
        chance = {}  # results of an earlier version: chance hits are computed again
    meta = units_t.schema.metadata or {}
    fpv = int(meta.get(b"strkin.fingerprint_version", b"1"))
    return PrevState(hits, units, counts, chance, fingerprint_version=fpv)


def _first_fps(t: pa.Table, fps: list) -> list:
    """The fingerprint of each (mode, unit) of a chance-state table, in the order
    :func:`engine.chance.rows_from_table` lists them."""
    seen = {}
    for m, u, f in zip(t.column("mode").to_pylist(), t.column("unit").to_pylist(), fps):
        seen.setdefault((m, u), f)
    return list(seen.values())


def snapshot(out: Path, dst: Path):
    make_dir(dst)
    for src in (out / "hits.parquet", out / STATE / "units.parquet", out / STATE / "counts.parquet",
                out / STATE / "chance.parquet", out / "manifest.json"):
        if src.exists():
            atomic_write_bytes(dst / src.name, src.read_bytes())


def remove_stale_temps(out: Path) -> None:
    """Temporary files left by a run that was killed while writing (the lock is held,
    so no other run is writing them)."""
    import contextlib

    for d in (out, out / STATE, out / STATE / "tasks", out / STATE / "prev"):
        if d.is_dir():
            for p in d.glob(".*.tmp-*"):
                with contextlib.suppress(OSError):
                    p.unlink()


def os_message(e: OSError, out: Path) -> str:
    """One line for a failed write to the results directory: what happened, and that
    the state is intact (every file is written atomically; task checkpoints are
    whole or absent)."""
    import errno

    where = f" ({os.path.basename(e.filename)})" if getattr(e, "filename", None) else ""
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied"}.get(e.errno, e.strerror or type(e).__name__)
    if not (out / STATE / "run.json").exists():
        state = "nothing was written"
    else:
        state = ("the results directory is intact: no file is half-written, finished tasks are "
                 "kept")
    fix = {errno.ENOSPC: "free disk space (or set [output] path on another disk), then run "
                         "again with --resume",
           errno.EDQUOT: "free space within the quota, then run again with --resume",
           errno.EROFS: "give an [output] path on a writable file system",
           errno.EACCES: "give an [output] path this user may write to, or fix its permissions",
           errno.EPERM: "give an [output] path this user may write to, or fix its permissions"
           }.get(e.errno, "fix the cause, then run again with --resume")
    return f"cannot write the results to {out}{where}: {what}; {state}. Fix: {fix}"


def units_parquet(queries, refs, cases, modes, yin=None) -> bytes:
    """The bytes of the run state's ``units.parquet``: every unit's kind, id and
    fingerprint (what the next run compares against, :mod:`engine.plan`), encoded
    as :func:`engine.output.atomic_write_parquet` encodes a file.  It depends only
    on the run's inputs: :class:`UnitsAhead` encodes it beside the merge."""
    parts = []

    def add(kind, i, f):
        parts.append(units_table(kind, i, f))     # no Python object per row (engine.inputs)

    add("query", queries.id_array, queries.fp)
    if any(m in PAIRWISE_MODES for m in modes):
        add("person", refs.ids, refs.fp)
    if "case" in modes:
        add("case", cases.ids, cases.fp)
    if yin is not None:
        add("yquery", yin.q_ids, yin.q_fp)
        add("yperson", yin.r_ids, yin.r_fp)
        add("ypopulation", [""], [yin.ctx.key.encode()])
    units = pa.concat_tables(parts).replace_schema_metadata(
        {"strkin.fingerprint_version": str(FINGERPRINT_VERSION)})
    buf = pa.BufferOutputStream()
    # fingerprints are random bytes: stored uncompressed, and no column but the kind
    # gets a dictionary or statistics (nothing reads them; 10^6 queries: 0.25 -> 0.13
    # CPU-s to encode, 2 MB larger)
    pq.write_table(units, buf, compression={"kind": PARQUET_COMPRESSION, "id": PARQUET_COMPRESSION,
                                            "fp": "none"},
                   use_dictionary=["kind"], write_statistics=["kind"], write_page_checksum=True)
    return buf.getvalue().to_pybytes()


class UnitsAhead:
    """:func:`units_parquet` encoded on a thread of its own, started once the
    inputs are known (the run starts it with the merge, whose work is on the main
    thread: Parquet encoding releases the GIL and runs on the other core);
    :meth:`result` waits for it and raises what it raised."""

    def __init__(self, *args):
        import threading

        self._out = self._err = None
        self._thread = threading.Thread(target=self._run, args=args, daemon=True,
                                        name="strkin-units-state")
        self._thread.start()

    def _run(self, *args):
        try:
            self._out = units_parquet(*args)
        except BaseException as e:    # noqa: BLE001 - raised again by result()
            self._err = e

    def result(self) -> bytes:
        self._thread.join()
        if self._err is not None:
            raise self._err
        return self._out


def write_state(state_dir: Path, queries, refs, cases, modes, counts, chance_state=None, yin=None,
                sync=None, units: UnitsAhead | None = None):
    """The state a finished run leaves for the next (``units.parquet``,
    ``counts.parquet``, ``chance.parquet``); ``units``: its units file encoded
    ahead (:class:`UnitsAhead`), else encoded now."""
    data = units.result() if units is not None else \
        units_parquet(queries, refs, cases, modes, yin)
    atomic_write_bytes(state_dir / "units.parquet", data, sync=sync)
    rows = {"mode": [], "side": [], "id": [], "n": []}
    for (m, side), d in sorted(counts.items()):
        for k in sorted(d):
            if d[k] > 0:
                rows["mode"].append(m)
                rows["side"].append(side)
                rows["id"].append(k)
                rows["n"].append(int(d[k]))
    atomic_write_parquet(state_dir / "counts.parquet", pa.table({
        "mode": pa.array(rows["mode"], pa.string()), "side": pa.array(rows["side"], pa.string()),
        "id": pa.array(rows["id"], pa.string()), "n": pa.array(rows["n"], pa.int64())}), sync=sync)
    if chance_state is not None and chance_state.num_rows:
        atomic_write_parquet(state_dir / "chance.parquet", chance_state, sync=sync)
    elif (state_dir / "chance.parquet").exists():
        (state_dir / "chance.parquet").unlink()
