"""Project-wide numba settings, in one place.

* ``nopython`` always; never ``fastmath`` (it may reorder floating-point sums
  and change LRs in the last bits, and treats inf/nan as impossible, which
  breaks the exclusion semantics).
* On-disk caching of compiled kernels is on by default; set
  ``KINSHIP_NUMBA_CACHE=0`` to switch it off (e.g. read-only installs).
* ``KINSHIP_NUM_THREADS`` caps the threads used by parallel kernels.
"""
from __future__ import annotations

import os

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
