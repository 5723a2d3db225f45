"""GPU screening with numba-cuda: the packed screen of :mod:`kinship.kernels.score`
on a CUDA device, exact scores on the host.

Division of work
----------------
The screen is the bulk of a search (every pair); the pairs that pass it are few
(about 1 in 10^5 unrelated pairs at LR 10^4).  So the device runs the screen
only -- the same 16-bit packed tables, the same integer arithmetic, the same
test as the CPU kernel's ``_lanes`` (the CPU's 8-bit first pass, a further upper
bound that only saves CPU time, is not used on the device) -- and sends back, per (query, 32-case tile) with any
lane passing, the query, the tile and the 32-bit lane mask.  The host then
scores those pairs exactly with the CPU kernel's exact pass (float64, loci in
order).  Hence the GPU path returns the very same hits and log10 LRs, bit for
bit, as the CPU path (tested under numba's CUDA simulator, and on a device where
one is lent): the screen's integer sums do not depend on the order of
evaluation, and nothing floating-point is computed on the device.

Layout: one thread per (query, tile); threads of a block share a tile
(``blockIdx.y``) so that they read the same 64-byte rows, which the L1/L2
caches serve; query columns are read from global memory.  Candidate triples
are appended with an atomic counter; when the output buffer is too small the
call is repeated with a larger one.

Worker threads share the device through a lock.  Import of this module never
touches CUDA; :func:`available` says whether a
device (or the simulator, ``NUMBA_ENABLE_CUDASIM=1``) is usable.
"""
from __future__ import annotations

import math
import threading

import numpy as np

__all__ = ["available", "screen_candidates", "GPUError"]

_KERNEL = None
_THREADS = 128
#: one device: the engine's worker threads take turns (their exact scoring, on
#: the host, still runs in parallel)
_DEVICE_LOCK = threading.Lock()


class GPUError(RuntimeError):
    """No usable CUDA device for ``device="gpu"``."""


def available() -> bool:
    """True when numba-cuda finds a device (or runs its simulator)."""
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # numba-cuda missing or its driver failing to load
        return False


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        from ._cuda_screen import screen  # imports numba.cuda: only when a GPU is asked for

        _KERNEL = screen
    return _KERNEL


def screen_candidates(packed, qcol: np.ndarray, log_t: float, max_skip: int = 0, cap: int = 1 << 16):
    """Candidate pairs of ``qcol`` (:func:`kinship.kernels.score.query_columns`)
    against ``packed`` (:class:`kinship.kernels.score.PackedTables`): arrays
    ``(query, tile, lane mask)``, sorted by (query, tile), one row per
    (query, tile) with at least one lane passing the screen.  Raises
    :class:`GPUError` when no device is usable."""
    if not available():
        raise GPUError("device='gpu' needs a CUDA device and numba-cuda (pip install \"strkin[gpu]\"); "
                       "none is usable here -- use device='cpu'")
    from numba import cuda

    kernel = _kernel()
    Q = int(qcol.shape[0])
    T = int(packed.rows.shape[0])
    if Q == 0 or T == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), np.zeros(0, dtype=np.uint64)
    thr = packed.thresholds(float(log_t))
    skip = bool(packed.skip)
    if (max_skip > 0) != skip:
        raise ValueError("tables packed for a different max_skip mode")
    with _DEVICE_LOCK:
        q, t, m = _screen(cuda, kernel, packed, qcol, thr, skip, max_skip, Q, T, cap)
    order = np.lexsort((t, q))       # the atomic append order is not deterministic
    return q[order], t[order], m[order]


def _screen(cuda, kernel, packed, qcol, thr, skip, max_skip, Q, T, cap):
    d_rows = cuda.to_device(np.ascontiguousarray(packed.rows))
    d_lo = cuda.to_device(np.ascontiguousarray(packed.lo))
    d_thr = cuda.to_device(np.ascontiguousarray(thr))
    d_exact = cuda.to_device(np.ascontiguousarray(packed.exact))
    d_q = cuda.to_device(np.ascontiguousarray(qcol))
    grid = (math.ceil(Q / _THREADS), T)
    while True:
        out_q = cuda.device_array(cap, dtype=np.int64)
        out_t = cuda.device_array(cap, dtype=np.int64)
        out_m = cuda.device_array(cap, dtype=np.uint64)
        counter = cuda.to_device(np.zeros(1, dtype=np.int64))
        kernel[grid, _THREADS](d_rows, d_lo, d_thr, d_exact, d_q, int(max_skip), skip,
                               out_q, out_t, out_m, counter)
        n = int(counter.copy_to_host()[0])
        if n <= cap:
            break
        cap = n
    return out_q.copy_to_host()[:n], out_t.copy_to_host()[:n], out_m.copy_to_host()[:n]
