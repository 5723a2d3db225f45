"""Executors: run the task function in-process (threads) or on Dask distributed.

Both take the same stream of :class:`~engine.taskbase.Task` objects, call
:func:`engine.task.run_task` for each, and hand every result to ``on_result``
in the calling thread, which writes the task's checkpoint.  At most
``2 x workers`` tasks are in flight (in-process: ``in_flight``, which the memory
plan may lower to one per thread, :mod:`engine.memory`), so the reference blocks
that the task stream reads from disk stay bounded in memory.

* In-process (default): a thread pool of ``execution.threads`` threads (default:
  every CPU).  The kernels release the GIL, so scoring runs in parallel; table
  compilation is NumPy and partly parallel.
* Dask: ``execution.scheduler = "tcp://host:port"`` connects a
  ``distributed.Client``; the queries and the run context are scattered to the
  workers once, and each task ships only its block of references.  Workers need
  strkin installed (the same version) but no access to the input files.  No
  network connection is opened unless a scheduler address is given.

Cancellation: inside :func:`cancel_on` (``with cancel_on(event): engine.run(...)``)
both executors check ``event`` at each task boundary; once it is set they submit
no further task, wait for the tasks in flight and hand their results to
``on_result`` (their checkpoints are written), then raise
:class:`engine.errors.Cancelled`.  The long-lived worker (:mod:`engine.worker`)
cancels a job this way when its client leaves.
"""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import Cancelled, TaskError
from .task import run_task

__all__ = ["InProcessExecutor", "DaskExecutor", "Progress", "security_warning", "cancel_on"]

#: the cancel event of the runs started in this context (thread), if any
_CANCEL: ContextVar = ContextVar("strkin_cancel", default=None)


@contextmanager
def cancel_on(event: threading.Event):
    """Runs started in this thread inside the ``with`` stop at the next task
    boundary once ``event`` is set (the tasks in flight finish and are
    checkpointed; then :class:`engine.errors.Cancelled` is raised)."""
    token = _CANCEL.set(event)
    try:
        yield event
    finally:
        _CANCEL.reset(token)


def _cancelled(event) -> bool:
    return event is not None and event.is_set()


def _raise_cancelled():
    raise Cancelled("the run was cancelled at a task boundary; the tasks done are kept: run it "
                    "again with --resume to finish it")


def _describe(task) -> str:
    ids = task.block.unit_ids
    return (f"task {task.mode} block [{ids[0]} .. {ids[-1]}] ({len(ids)} units) x "
            f"{len(task.query_rows)} queries")


class Progress:
    """A progress bar with work/s and ETA on a terminal (tqdm), silent otherwise.

    It counts work units (:func:`engine.taskbase.work_of`): a pair scored is one, a
    block's table compilation and each chance-hit unit count as the pairs scored in
    the same time, so that the bar reaches its total when every task is done and
    the ETA holds through compile- and chance-heavy tasks.  ``done`` is the work
    reported so far."""

    def __init__(self, total: int, enabled="auto", desc: str = "search"):
        if enabled == "auto":
            enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.bar = None
        self.lock = threading.Lock()
        self.done = 0
        if enabled and total > 0:
            import shutil

            from tqdm import tqdm

            # a terminal that reports width 0 (some ptys) would get an empty bar
            ncols = shutil.get_terminal_size((100, 20)).columns or 100
            self.bar = tqdm(total=total, unit="work", unit_scale=True, desc=desc,
                            file=sys.stderr, smoothing=0.1, ncols=ncols)

    def __call__(self, n: int):
        with self.lock:
            self.done += n
            if self.bar is not None:
                self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class InProcessExecutor:
    def __init__(self, threads: int | None = None, in_flight: int | None = None):
        self.threads = int(threads or os.cpu_count() or 1)
        #: tasks submitted and not yet handed to ``on_result`` (at least one per thread)
        self.in_flight = max(self.threads, int(in_flight or 2 * self.threads))

    def describe(self) -> dict:
        return {"executor": "in-process", "threads": self.threads}

    def start(self):
        pass

    def close(self):
        pass

    def run(self, tasks, ctx, queries, on_result, progress=None):
        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="strkin")
        inflight = {}
        cancel = _CANCEL.get()
        stopped = False
        try:
            for task in tasks:
                while len(inflight) >= self.in_flight:
                    self._drain(inflight, on_result, FIRST_COMPLETED)
                if _cancelled(cancel):
                    stopped = True     # this task and the rest are left for --resume
                    break
                inflight[pool.submit(run_task, ctx, task, queries, progress)] = task
            while inflight:
                self._drain(inflight, on_result, FIRST_COMPLETED)
        except BaseException:
            for f in inflight:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        if stopped:
            _raise_cancelled()

    @staticmethod
    def _drain(inflight, on_result, how):
        done, _ = wait(list(inflight), return_when=how)
        for f in done:
            task = inflight.pop(f)
            try:
                res = f.result()
            except Exception as e:
                raise TaskError(f"{_describe(task)} failed: {type(e).__name__}: {e}") from e
            on_result(task, res)


class NotDaskError(OSError):
    """The address answers, but not as a Dask scheduler."""


def _probe(address: str, timeout: float = 5.0, greeting: float = 3.0):
    """Fail fast, before Dask's own connect timeout: connection refused or unknown
    host (``OSError``), and a server that is not a Dask scheduler
    (:class:`NotDaskError`).  A Dask scheduler greets a new ``tcp://`` connection at
    once with its handshake frame (8-byte length, 8-byte frame count, a msgpack map
    naming ``compression``); anything else within ``greeting`` seconds (an HTTP
    server such as the dashboard on 8787 says nothing, or something else) is not one.
    Without this check Dask waits for its timeout and then tries to allocate
    whatever length the stranger's first bytes spell."""
    import socket
    import struct
    from urllib.parse import urlsplit

    u = urlsplit(address if "://" in address else "tcp://" + address)
    if u.scheme not in ("tcp", "tls") or not u.hostname or not u.port:
        return
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        if u.scheme != "tcp":
            return                    # TLS: the handshake is Dask's (with its security settings)
        s.settimeout(greeting)
        data = b""
        try:
            while len(data) < 64:
                b = s.recv(64 - len(data))
                if not b:
                    break
                data += b
                if b"compression" in data:
                    break
        except socket.timeout:
            pass
        ok = len(data) >= 16 and struct.unpack("<Q", data[:8])[0] < (1 << 24) and \
            1 <= struct.unpack("<Q", data[8:16])[0] <= 64 and b"compression" in data
        if not ok:
            raise NotDaskError(
                "the server there " + ("said nothing within %g s" % greeting if not data
                                       else "did not answer with a Dask handshake")
                + ": it is not a Dask scheduler (the dashboard port, or another service?)")
    finally:
        s.close()


def _is_loopback(host: str) -> bool:
    import ipaddress
    import socket

    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def security_warning(address: str) -> str | None:
    """The warning for a scheduler reached without TLS on a non-loopback address
    (``None`` when the connection is TLS or stays on this machine): Dask sends the
    queries' and the references' genotypes to the workers (pickled) over that
    connection, unencrypted and unauthenticated."""
    from urllib.parse import urlsplit

    u = urlsplit(address if "://" in address else "tcp://" + address)
    if u.scheme == "tls" or not u.hostname or u.scheme not in ("tcp", ""):
        return None
    if _is_loopback(u.hostname):
        return None
    return (f"[execution] scheduler {address} is reached without TLS on a non-loopback "
            f"address: the profiles (genotypes) travel to the workers unencrypted, and anyone "
            f"who can reach that port can run code on the cluster. Fix: use a tls:// address "
            f"with Dask's security settings (distributed.comm.require-encryption, TLS "
            f"certificates: see docs/engine.md, Data protection), or keep the scheduler on "
            f"127.0.0.1 / a private interface")


class DaskExecutor:
    def __init__(self, address: str):
        self.address = address
        self.client = None

    def describe(self) -> dict:
        info = {"executor": "dask", "scheduler": self.address}
        if self.client is not None:
            try:
                info["workers"] = len(self.client.scheduler_info().get("workers", {}))
            except Exception:  # pragma: no cover
                pass
        return info

    def start(self):
        """Connect to the scheduler (before the run writes anything)."""
        import warnings

        try:
            from distributed import Client
        except ImportError:
            from .errors import InputError

            raise InputError("execution.scheduler is set but Dask is not installed. Fix: pip "
                             "install \"strkin[dask]\" (or remove execution.scheduler to run "
                             "in-process)") from None

        from .errors import SecurityWarning

        if self.client is not None:
            return
        w = security_warning(self.address)
        if w:
            warnings.warn(w, SecurityWarning, stacklevel=2)
        try:
            _probe(self.address)
        except NotDaskError as e:
            raise TaskError(
                f"{self.address} is not a Dask scheduler: {e}. Nothing was written. Fix: give the "
                f"scheduler's address (the 'Scheduler at' line of 'dask scheduler', port 8786 by "
                f"default), or remove [execution] scheduler to run in-process") from None
        except (OSError, TimeoutError) as e:
            raise TaskError(
                f"cannot connect to the Dask scheduler at {self.address} "
                f"({getattr(e, 'strerror', None) or e}). Nothing was written. Fix: start it "
                f"(dask scheduler; dask worker {self.address}), or remove [execution] scheduler "
                f"to run in-process"
            ) from None
        try:
            self.client = Client(self.address, timeout="15s", set_as_default=False)
        except (OSError, TimeoutError, ValueError, MemoryError, TypeError) as e:
            raise TaskError(
                f"cannot connect to the Dask scheduler at {self.address} "
                f"({type(e).__name__}: {str(e)[:160]}). Nothing was written. Fix: check the "
                f"address and, for tls://, Dask's security settings (certificates); or remove "
                f"[execution] scheduler to run in-process"
            ) from None

    def close(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    def run(self, tasks, ctx, queries, on_result, progress=None):
        from distributed import as_completed

        self.start()
        client = self.client
        try:
            n_workers = max(1, sum(w.get("nthreads", 1) for w in
                                   client.scheduler_info().get("workers", {}).values()))
            qf = client.scatter(queries, broadcast=True)
            cf = client.scatter(ctx, broadcast=True)
            ac = None
            inflight = {}
            it = iter(tasks)
            exhausted = stopped = False
            cancel = _CANCEL.get()

            def submit_more():
                nonlocal exhausted, stopped, ac
                new = []
                while not exhausted and len(inflight) < 2 * n_workers:
                    if _cancelled(cancel):
                        exhausted = stopped = True     # the rest are left for --resume
                        break
                    try:
                        t = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    f = client.submit(run_task, cf, t, qf, None, key=f"strkin-{t.key}", pure=False)
                    inflight[f.key] = t
                    new.append(f)
                if new and ac is None:
                    ac = as_completed(new, loop=client.loop)
                elif new:
                    ac.update(new)

            submit_more()
            while inflight:
                f = next(ac)
                task = inflight.pop(f.key)
                try:
                    res = f.result()
                except Exception as e:
                    raise TaskError(f"{_describe(task)} failed on a Dask worker: "
                                    f"{type(e).__name__}: {e}") from e
                finally:
                    f.release()
                if progress is not None:
                    progress(task.work)
                on_result(task, res)
                submit_more()
            if stopped:
                _raise_cancelled()
        except BaseException:
            self.close()
            raise
