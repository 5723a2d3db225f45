"""Project-wide numba settings, in one place.

* ``nopython`` always; never ``fastmath`` (it may reorder floating-point sums
  and change LRs in the last bits, and treats inf/nan as impossible, which
  breaks the exclusion semantics).
* On-disk caching of compiled kernels is on by default; set
  ``KINSHIP_NUMBA_CACHE=0`` to switch it off (e.g. read-only installs).
* ``KINSHIP_NUM_THREADS`` caps the threads used by parallel kernels.
* :func:`call_slp` compiles a kernel with LLVM's SLP vectoriser on (numba leaves
  it off by default): the screening kernel's eight independent 64-bit additions
  per locus then become two 256-bit vector additions, about 1.4x faster
  (measured, ``benchmarks/README.md``).  Only integer code is affected: the
  vectoriser never reassociates floating-point sums (no fast-math), so results
  are the same bit for bit; the tests compare against exhaustive scans either way.
  ``KINSHIP_SLP=0`` switches it off.
"""
from __future__ import annotations

import os
import threading

CACHE = os.environ.get("KINSHIP_NUMBA_CACHE", "1") not in ("0", "false", "no")


def jit(*args, parallel: bool = False, **kw):
    import numba

    kw.setdefault("nopython", True)
    kw.setdefault("cache", CACHE)
    kw.setdefault("nogil", True)
    if "fastmath" in kw:
        raise ValueError("fastmath is not allowed in this project")
    return numba.jit(*args, parallel=parallel, **kw)


def set_threads():
    n = os.environ.get("KINSHIP_NUM_THREADS")
    if n:
        import numba

        numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


SLP = os.environ.get("KINSHIP_SLP", "1") not in ("0", "false", "no")
_SLP_LOCK = threading.Lock()


def call_slp(kernel, *args):
    """``kernel(*args)``, compiling it first (for these argument types) with the
    SLP vectoriser on if it has not been compiled or loaded from the cache yet."""
    if SLP:
        sig = tuple(kernel.typeof_pyval(a) for a in args)
        if sig not in kernel.overloads:
            from numba.core import config

            with _SLP_LOCK:
                if sig not in kernel.overloads:
                    old = config.SLP_VECTORIZE
                    config.SLP_VECTORIZE = 1
                    try:
                        kernel.compile(sig)
                    finally:
                        config.SLP_VECTORIZE = old
    return kernel(*args)
