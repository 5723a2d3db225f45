"""Executors: run the task function in-process (threads) or on Dask distributed.

Both take the same stream of :class:`~engine.task.Task` objects, call
:func:`engine.task.run_task` for each, and hand every result to ``on_result``
in the calling thread, which writes the task's checkpoint.  At most
``2 x workers`` tasks are in flight, so the reference blocks that the task
stream reads from disk stay bounded in memory.

* In-process (default): a thread pool of ``execution.threads`` threads (default:
  every CPU).  The kernels release the GIL, so scoring runs in parallel; table
  compilation is NumPy and partly parallel.
* Dask: ``execution.scheduler = "tcp://host:port"`` connects a
  ``distributed.Client``; the queries and the run context are scattered to the
  workers once, and each task ships only its block of references.  Workers need
  strkin installed (the same version) but no access to the input files.  No
  network connection is opened unless a scheduler address is given.
"""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from .errors import TaskError
from .task import run_task

__all__ = ["InProcessExecutor", "DaskExecutor", "Progress"]


def _describe(task) -> str:
    ids = task.block.unit_ids
    return (f"task {task.mode} block [{ids[0]} .. {ids[-1]}] ({len(ids)} units) x "
            f"{len(task.query_rows)} queries")


class Progress:
    """A progress bar with pairs/s and ETA on a terminal (tqdm), silent otherwise."""

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
            self.bar = tqdm(total=total, unit="pair", unit_scale=True, desc=desc,
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
    def __init__(self, threads: int | None = None):
        self.threads = int(threads or os.cpu_count() or 1)

    def describe(self) -> dict:
        return {"executor": "in-process", "threads": self.threads}

    def start(self):
        pass

    def close(self):
        pass

    def run(self, tasks, ctx, queries, on_result, progress=None):
        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="strkin")
        inflight = {}
        try:
            for task in tasks:
                while len(inflight) >= 2 * self.threads:
                    self._drain(inflight, on_result, FIRST_COMPLETED)
                inflight[pool.submit(run_task, ctx, task, queries, progress)] = task
            while inflight:
                self._drain(inflight, on_result, FIRST_COMPLETED)
        except BaseException:
            for f in inflight:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

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


def _probe(address: str, timeout: float = 5.0):
    """Fail fast (connection refused, unknown host) before Dask's 30 s connect timeout."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(address if "://" in address else "tcp://" + address)
    if u.scheme not in ("tcp", "tls") or not u.hostname or not u.port:
        return
    socket.create_connection((u.hostname, u.port), timeout=timeout).close()


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
        from distributed import Client

        if self.client is not None:
            return
        try:
            _probe(self.address)
            self.client = Client(self.address, timeout="30s", set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise TaskError(
                f"cannot connect to the Dask scheduler at {self.address} ({e}). Fix: start it "
                f"(dask scheduler; dask worker {self.address}), or remove [execution] scheduler "
                f"to run in-process"
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
            exhausted = False

            def submit_more():
                nonlocal exhausted, ac
                new = []
                while not exhausted and len(inflight) < 2 * n_workers:
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
                    progress(task.n_pairs)
                on_result(task, res)
                submit_more()
        except BaseException:
            self.close()
            raise
