"""Numba kernels of the Y-STR lineage screen (imported lazily by :mod:`.search`).

Only jitted functions live here; the public API is :func:`kinship.ystr.screen`.
Project numba defaults come from :mod:`kinship._numba`: nopython, no fastmath,
``nogil`` (the driver runs query tiles on threads), on-disk cache unless
``KINSHIP_NUMBA_CACHE=0``.

Kernel shape (see ``docs/ystr.md``, "Screening kernel")
-------------------------------------------------------
The database is stored in blocks of ``B`` profiles, slot-major within a block:
``blocks[b, s, r]`` is the uint8 code of slot ``s`` of profile ``b*B + r``. For
each block and each group of 4 queries the kernel counts mismatches of the 4
queries against all ``B`` profiles at once, one slot at a time. That inner loop
is a plain loop over ``r`` on uint8 arrays, which LLVM turns into SIMD compares
(32 profiles per instruction with AVX2); in blocks where every profile typed the
slot (``block_missing`` false) the "untyped" mask is skipped. Slots are ordered
most-diverse first;
after ``prefix`` slots, and then every ``check_every`` slots, a group whose 4
queries all exceed ``max_mismatches`` against every profile of the block stops
early (mismatch counts only grow, so this never loses a hit). Survivors get the
exact step count and the number of slots compared in a scalar loop.
"""
from __future__ import annotations

import numpy as np

from .._numba import jit as _jit


@_jit
def _min_u8(a):
    m = np.uint8(255)
    for i in range(a.shape[0]):
        v = a[i]
        if v < m:
            m = v
    return m


@_jit
def screen_tile(
    qcodes,        # (nq_pad, S) uint8, nq_pad % 4 == 0, padded rows all 255
    nq,            # real number of queries in the tile
    blocks,        # (n_blocks, S, B) uint8
    block_missing, # (n_blocks, S) bool: some profile of the block lacks the slot
    n_refs,        # real number of database profiles (the rest of the last block is padding)
    max_mm,
    max_steps,
    min_compared,
    prefix,
    check_every,
    out_q, out_r, out_mm, out_st, out_nc,
):
    nblk = blocks.shape[0]
    S = blocks.shape[1]
    B = blocks.shape[2]
    nq_pad = qcodes.shape[0]
    cap = out_q.shape[0]
    K = np.uint8(max_mm)
    acc = np.zeros((4, B), np.uint8)
    nhit = 0
    for bi in range(nblk):
        blk = blocks[bi]
        base = bi * B
        for q0 in range(0, nq_pad, 4):
            m0 = acc[0]
            m1 = acc[1]
            m2 = acc[2]
            m3 = acc[3]
            for r in range(B):
                m0[r] = 0
                m1[r] = 0
                m2[r] = 0
                m3[r] = 0
            alive = True
            for s in range(S):
                if s >= prefix and (s - prefix) % check_every == 0:
                    if (_min_u8(m0) > K and _min_u8(m1) > K
                            and _min_u8(m2) > K and _min_u8(m3) > K):
                        alive = False
                        break
                a0 = qcodes[q0, s]
                a1 = qcodes[q0 + 1, s]
                a2 = qcodes[q0 + 2, s]
                a3 = qcodes[q0 + 3, s]
                col = blk[s]
                if a0 != 255 and a1 != 255 and a2 != 255 and a3 != 255 and not block_missing[bi, s]:
                    for r in range(B):
                        b = col[r]
                        m0[r] += b != a0
                        m1[r] += b != a1
                        m2[r] += b != a2
                        m3[r] += b != a3
                elif a0 != 255 and a1 != 255 and a2 != 255 and a3 != 255:
                    for r in range(B):
                        b = col[r]
                        ok = b != 255
                        m0[r] += (b != a0) & ok
                        m1[r] += (b != a1) & ok
                        m2[r] += (b != a2) & ok
                        m3[r] += (b != a3) & ok
                else:
                    v0 = a0 != 255
                    v1 = a1 != 255
                    v2 = a2 != 255
                    v3 = a3 != 255
                    for r in range(B):
                        b = col[r]
                        ok = b != 255
                        m0[r] += (b != a0) & ok & v0
                        m1[r] += (b != a1) & ok & v1
                        m2[r] += (b != a2) & ok & v2
                        m3[r] += (b != a3) & ok & v3
            if not alive:
                continue
            for k in range(4):
                qi = q0 + k
                if qi >= nq:
                    break
                mk = acc[k]
                if _min_u8(mk) > K:
                    continue
                for r in range(B):
                    if mk[r] > K:
                        continue
                    ri = base + r
                    if ri >= n_refs:
                        continue
                    st = 0
                    nc = 0
                    for s in range(S):
                        a = qcodes[qi, s]
                        b = blk[s, r]
                        if a == 255 or b == 255:
                            continue
                        nc += 1
                        if a != b:
                            if a == 254 or b == 254:
                                st += 1
                            else:
                                d = np.int32(a >> 2) - np.int32(b >> 2)
                                if d < 0:
                                    d = -d
                                st += d
                                if (a & 3) != (b & 3):
                                    st += 1
                    if st <= max_steps and nc >= min_compared:
                        if nhit < cap:
                            out_q[nhit] = qi
                            out_r[nhit] = ri
                            out_mm[nhit] = mk[r]
                            out_st[nhit] = st
                            out_nc[nhit] = nc
                        nhit += 1
    return nhit

