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
  ``KINSHIP_SLP=0`` switches it off.  The same compile turns LLVM's *loop*
  vectoriser off: the screen's loop over loci has no branch, and vectorising it
  across loci turns its row loads into gathers (measured 3x slower,
  ``benchmarks/README.md``).
"""
from __future__ import annotations

import os
import threading

import numpy as np

CACHE = os.environ.get("KINSHIP_NUMBA_CACHE", "1") not in ("0", "false", "no")


def jit(*args, parallel: bool = False, **kw):
    import numba

    kw.setdefault("nopython", True)
    kw.setdefault("cache", CACHE)
    kw.setdefault("nogil", True)
    if "fastmath" in kw:
        raise ValueError("fastmath is not allowed in this project")
    return numba.jit(*args, parallel=parallel, **kw)


def load_blas_alone() -> bool:
    """Load SciPy's ``scipy.linalg.cython_blas`` extension by itself, without the rest
    of ``scipy.linalg``; True if it is loaded (now or before).

    numba checks for a BLAS once, the first time it compiles or loads a kernel
    from its cache (``numba.np.arraymath``: ``import scipy.linalg.cython_blas``),
    and that import runs ``scipy.linalg``'s ``__init__`` first, which imports most
    of SciPy's linear algebra and its array-API layer: 0.2 s on this project's
    2-core machine, a fifth of a small run's fixed cost, for a module no kernel
    of this project calls (none uses ``np.dot`` or ``np.linalg``).  The extension
    itself loads in 2 ms and has all numba needs (its ``__pyx_capi__``), so numba's
    BLAS-backed functions work as before: the same module object, registered
    under its own name, found by every later import of it; ``scipy.linalg``
    itself is imported by whoever needs it, as usual (one difference:
    ``scipy.linalg`` imported later has no attribute ``cython_blas`` until it is
    imported by that name again; ``from scipy.linalg import cython_blas`` and
    Cython's and numba's imports of it find the module).

    Called by the ``kinship`` command (:func:`engine.cli._run`) before it loads
    any kernel; a library user's process is left alone.  Does nothing (returns
    False) if the module cannot be found this way: numba then imports it as
    usual.
    """
    import sys

    from ._scipy import extension_alone

    if "scipy.linalg" in sys.modules:
        return "scipy.linalg.cython_blas" in sys.modules
    return extension_alone("scipy.linalg", "cython_blas") is not None


def thread_count() -> int:
    """Threads for the project's own thread pools: ``KINSHIP_NUM_THREADS`` if set,
    else numba's thread count (every CPU unless ``NUMBA_NUM_THREADS`` says otherwise)."""
    import numba

    n = os.environ.get("KINSHIP_NUM_THREADS")
    top = numba.config.NUMBA_NUM_THREADS
    return max(1, min(int(n), top)) if n else top


def set_threads():
    """Cap numba's parallel kernels at ``KINSHIP_NUM_THREADS`` when it is set."""
    if os.environ.get("KINSHIP_NUM_THREADS"):
        import numba

        numba.set_num_threads(thread_count())


SLP = os.environ.get("KINSHIP_SLP", "1") not in ("0", "false", "no")
_SLP_LOCK = threading.Lock()
_SLP_SEEN: set = set()


def _arg_key(a):
    """A cheap key that determines numba's type of ``a`` for the arguments the
    kernels take (arrays and Python scalars); ``None`` when it may not."""
    if isinstance(a, np.ndarray):
        f = a.flags
        return (a.dtype.str, a.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned)
    if type(a) in (bool, int, float):
        return type(a)
    return None


def call_slp(kernel, *args):
    """``kernel(*args)``, compiling it first (for these argument types) with the
    SLP vectoriser on if it has not been compiled or loaded from the cache yet.

    numba's own typing of the arguments costs tens of microseconds per call in
    Python, so the check is keyed on a cheap summary of the arguments (dtype,
    dimensions, layout and flags of arrays; the type of scalars) and numba types
    them only the first time a summary is seen.  (Should a summary ever map to two
    numba signatures, the second is compiled by numba's dispatcher on the call, without
    SLP: the same results, slower.)"""
    if SLP:
        key = (id(kernel),) + tuple(_arg_key(a) for a in args)
        if None in key or key not in _SLP_SEEN:
            sig = tuple(kernel.typeof_pyval(a) for a in args)
            if sig not in kernel.overloads:
                from numba.core import config

                with _SLP_LOCK:
                    if sig not in kernel.overloads:
                        old = config.SLP_VECTORIZE, config.LOOP_VECTORIZE
                        config.SLP_VECTORIZE, config.LOOP_VECTORIZE = 1, 0
                        try:
                            kernel.compile(sig)
                        finally:
                            config.SLP_VECTORIZE, config.LOOP_VECTORIZE = old
            if None not in key:
                _SLP_SEEN.add(key)
    return kernel(*args)
