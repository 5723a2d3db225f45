"""BLAS on one thread for the tables the on-disk store keeps.

A matrix product that OpenBLAS splits over several threads can round
differently in the last bits from the same product on one thread (measured: the
first-cousin and avuncular pair tables of 23 loci differ in last digits between
one and two BLAS threads).  The on-disk table store (:mod:`kinship.tablecache`)
keys a table by everything that decides its values, but a thread count is not a
value of the model: a table built by a caller running two BLAS threads and read
by a later run would make that run's output depend on who filled the store.  So:

* the store-backed builders compute under :func:`one_blas_thread`, and
* a table is saved to the store only when BLAS ran one thread
  (:func:`blas_on_one_thread`); otherwise it is used by the process that built it
  and not kept.

OpenBLAS takes a thread limit set from the main thread for the whole process and
ignores one set from any other thread (measured with threadpoolctl 3.8 and the
OpenBLAS of NumPy's wheels): :func:`one_blas_thread` therefore acts in the main
thread only.  The engine holds it for its whole run from the main thread
(:func:`engine.run`), so its background and task threads build with one BLAS
thread and their tables are kept.  (Checking the libraries' thread counts from
another thread is not enough on its own: a BLAS loaded after the limit was set,
such as SciPy's own OpenBLAS, which numba's first use imports, keeps its threads
but computes no table.)
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

__all__ = ["one_blas_thread", "blas_on_one_thread"]

_STATE = {"depth": 0, "limiter": None}


def _controller():
    """The BLAS libraries loaded now (found afresh: 0.4 ms; a library loaded later,
    such as SciPy's own OpenBLAS, is found too)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def one_blas_thread():
    """In the main thread: run the body with every loaded BLAS library limited to
    one thread, the previous limits restored after (re-entrant).  In another
    thread: nothing (BLAS would ignore the limit; see the module docstring).
    Yields whether BLAS runs one thread in the body (:func:`blas_on_one_thread`):
    what decides whether the tables built there may be kept."""
    if threading.current_thread() is not threading.main_thread():
        # the main thread holding the limit (an engine run: engine.run) limits the
        # BLAS that NumPy loaded on import for every thread
        yield _STATE["depth"] > 0 or blas_on_one_thread()
        return
    if _STATE["depth"] == 0:
        _STATE["limiter"] = _controller().limit(limits=1, user_api="blas")
    _STATE["depth"] += 1
    try:
        yield True
    finally:
        _STATE["depth"] -= 1
        if _STATE["depth"] == 0:
            _STATE["limiter"].restore_original_limits()
            _STATE["limiter"] = None


def blas_on_one_thread() -> bool:
    """Whether every loaded BLAS library runs one thread now (True when none is
    loaded)."""
    return all(lib.num_threads == 1 for lib in _controller().select(user_api="blas").lib_controllers)
