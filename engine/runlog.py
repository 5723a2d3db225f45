"""The run log: ``run.log`` beside the results of every search (``kinship search``,
``kinship demo``, :func:`engine.run`).

An audit trail for the lab: one block per run, appended (never rewritten) across
fresh, incremental and resumed runs of the same results directory, and kept when
``[output] overwrite`` replaces the results.  Each line starts with the UTC time::

    2026-12-05T14:01:02Z  == run 3f2a9c0d17e4 started (fresh)
    2026-12-05T14:01:02Z  user: alice (uid 1000) on lab-01, pid 4242
    2026-12-05T14:01:02Z  command: kinship search job.toml
    2026-12-05T14:01:02Z  software: strkin 0.1.0, python 3.11.2, numpy 1.26.4, ...
    2026-12-05T14:01:02Z  job: /data/jobs/job.toml sha256 5be1...
    2026-12-05T14:01:02Z  input queries: /data/queries (2 shards, 1200 profiles)
    2026-12-05T14:01:02Z    shard-00000.parquet sha256 0c4e...
    2026-12-05T14:01:02Z  frequencies: nist1036_all (bundled), table sha256 9d0a...
    2026-12-05T14:01:02Z  parameters: {"execution": {...}, "model": {...}, ...}
    2026-12-05T14:01:02Z  phase prepare: 0.41 s
    ...
    2026-12-05T14:01:15Z  outcome: completed: 53 hits; 36500 pairs in 11 tasks (0 resumed); 13.3 s

It names files, checksums, settings and counts, never a genotype or a sample's
alleles (the error messages it records follow the same rule).  The file is private
like every result file (:mod:`formats.perms`): ``0600``, ``0640`` with
``STRKIN_SHARE_GROUP=1``.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shlex
import socket
import sys
from pathlib import Path

from formats.perms import file_mode

__all__ = ["RUN_LOG", "RunLog", "set_command"]

RUN_LOG = "run.log"

_COMMAND: list | None = None


def set_command(argv) -> None:
    """The command line to record (the CLI sets ``kinship ARGS``; otherwise the
    Python process's own ``sys.argv``)."""
    global _COMMAND
    _COMMAND = list(argv) if argv is not None else None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user() -> str:
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError, ImportError):   # no passwd entry, no login name
        name = "unknown"
    uid = getattr(os, "getuid", lambda: None)()
    return f"{name}" + (f" (uid {uid})" if uid is not None else "")


class RunLog:
    """Appends one run's lines to ``OUT/run.log``."""

    def __init__(self, out):
        self.path = Path(out) / RUN_LOG
        self.ended = False

    def write(self, *lines: str) -> None:
        stamp = _now()
        data = "".join(f"{stamp}  {ln}\n" for ln in lines).encode("utf-8", "replace")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, file_mode())
        try:
            os.fchmod(fd, file_mode())
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def start(self, run_id: str, kind: str, job, software: dict, inputs: list, frequencies: dict):
        """``inputs``: ``[(name, dataset path, shards)]`` with ``shards`` as
        :func:`engine.provenance.shards` gives them (file, sha256, n_profiles)."""
        cmd = _COMMAND if _COMMAND is not None else ["python"] + sys.argv
        lines = [f"== run {run_id[:12]} started ({kind})",
                 f"user: {_user()} on {socket.gethostname()}, pid {os.getpid()}",
                 f"command: {shlex.join(str(a) for a in cmd)}",
                 "software: " + ", ".join(f"{k} {v}" for k, v in software.items())]
        jf = Path(job.base_dir) / job.source
        if job.source != "<dict>" and jf.is_file():
            from formats.dataset import sha256_file

            lines.append(f"job: {jf.resolve()} sha256 {sha256_file(jf)}")
        else:
            lines.append(f"job: {job.source} (given as a dict; its settings are below)")
        for name, path, shards in inputs:
            n = sum(int(s.get("n_profiles") or 0) for s in shards)
            lines.append(f"input {name}: {path} ({len(shards)} shards, {n} profiles)")
            lines.extend(f"  {s['file']} sha256 {s['sha256']}" for s in shards)
        f = frequencies
        where = "bundled" if f.get("bundled") else (
            f"file {f.get('file')} sha256 {f.get('file_sha256')}" if f.get("file") else f.get("format"))
        lines.append(f"frequencies: {f.get('name')} ({where}), population {f.get('population')}, "
                     f"table sha256 {f.get('table_sha256')}")
        lines.append("parameters: " + json.dumps(job.to_dict(), sort_keys=True, default=str))
        self.write(*lines)

    @staticmethod
    def _phase_lines(timings: dict) -> list:
        return [f"phase {k[:-2] if k.endswith('_s') else k}: {v:.2f} s"
                for k, v in timings.items() if k != "total_s"]

    def phases(self, timings: dict) -> None:
        self.write(*self._phase_lines(timings))

    def completed(self, timings: dict, hits: int, run: dict) -> None:
        # the phases and the outcome in one write (one fsync)
        self.ended = True
        self.write(*self._phase_lines(timings),
                   f"outcome: completed: {hits} hits; {run.get('pairs_total', 0)} pairs in "
                   f"{run.get('tasks', 0)} tasks ({run.get('tasks_resumed', 0)} resumed); "
                   f"{timings.get('total_s', 0):.1f} s")

    @contextlib.contextmanager
    def guard(self, timings: dict):
        """Record the outcome of a run that ends in an exception (then re-raised)."""
        try:
            yield self
        except BaseException as e:
            self.failed(timings, e)
            raise

    def failed(self, timings: dict, error: BaseException) -> None:
        if self.ended:
            return
        self.ended = True
        if isinstance(error, KeyboardInterrupt):
            what = "interrupted (run again with --resume to finish)"
        else:
            msg = str(error).splitlines()[0] if str(error) else ""
            what = f"failed: {type(error).__name__}: {msg[:500]}"
        self.write(*self._phase_lines(timings), f"outcome: {what}")
