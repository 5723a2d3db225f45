"""The CUDA kernel of :mod:`kinship.kernels.gpu` (imported only when a GPU is
asked for; numba's CUDA simulator needs ``cuda`` as a module global).  Same
arithmetic as :func:`kinship.kernels.score._lanes`; see there and
:mod:`kinship.kernels.score` for why the screen is exact."""
import numpy as np
from numba import cuda

HIGH = np.uint64(0x8000800080008000)


@cuda.jit
def screen(rows, lo, thr, exact, qcol, max_skip, skip, out_q, out_t, out_m, counter):
    q = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    t = cuda.blockIdx.y
    Q = qcol.shape[0]
    L = qcol.shape[1]
    if q >= Q:
        return
    m = np.uint64(0)
    if exact[t] != 0:
        m = np.uint64(0xFFFFFFFF)
    else:
        a0 = np.uint64(0)
        a1 = np.uint64(0)
        a2 = np.uint64(0)
        a3 = np.uint64(0)
        a4 = np.uint64(0)
        a5 = np.uint64(0)
        a6 = np.uint64(0)
        a7 = np.uint64(0)
        n = 0
        for l in range(L):
            j = qcol[q, l]
            if j >= 0:
                n += 1
                r = np.int64(j) * 8
                a0 += rows[t, r]
                a1 += rows[t, r + 1]
                a2 += rows[t, r + 2]
                a3 += rows[t, r + 3]
                a4 += rows[t, r + 4]
                a5 += rows[t, r + 5]
                a6 += rows[t, r + 6]
                a7 += rows[t, r + 7]
        tp = thr[t] - n * lo[t]
        if skip:
            tp += max_skip * lo[t]
        if tp <= 0:
            m = np.uint64(0xFFFFFFFF)
        elif tp <= 32767:
            b = np.uint64(32768 - tp)
            bb = b | (b << np.uint64(16)) | (b << np.uint64(32)) | (b << np.uint64(48))
            w = 0
            for y in ((a0 + bb) & HIGH, (a1 + bb) & HIGH, (a2 + bb) & HIGH, (a3 + bb) & HIGH,
                      (a4 + bb) & HIGH, (a5 + bb) & HIGH, (a6 + bb) & HIGH, (a7 + bb) & HIGH):
                nib = (((y >> np.uint64(15)) & np.uint64(1)) | ((y >> np.uint64(30)) & np.uint64(2))
                       | ((y >> np.uint64(45)) & np.uint64(4)) | ((y >> np.uint64(60)) & np.uint64(8)))
                m |= nib << np.uint64(4 * w)
                w += 1
    if m != 0:
        k = cuda.atomic.add(counter, 0, 1)
        if k < out_q.shape[0]:
            out_q[k] = q
            out_t[k] = t
            out_m[k] = m

