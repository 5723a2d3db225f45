"""The GPU screen (kinship.kernels.gpu) gives the CPU path's hits and values.

Run under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, in a subprocess
because the variable must be set before numba.cuda is imported), so it runs in
CI without a GPU; on a machine with a device, ``STRKIN_TEST_REAL_GPU=1`` runs it
on the device instead.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import numpy as np
    import kinship
    from kinship.markers import CODIS_CORE_20
    from kinship.search import ScoringModel, score
    from kinship.kernels import gpu
    assert gpu.available()
    rng = np.random.default_rng(5)
    mut = kinship.MutationModel(kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1))
    # 23 loci with SE33 and the Pentas: table columns beyond 4096 (x 8 words > int16)
    sm = ScoringModel(kinship.FrequencyTable.load(), CODIS_CORE_20 + ("Penta D", "Penta E", "SE33"),
                      mut, 0.0)
    assert sm.size > 4096

    def codes(n):
        c = np.zeros((n, len(sm.loci), 2), dtype=np.int16)
        for l, s in enumerate(sm.systems):
            c[:, l, :] = np.sort(rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum()), axis=1)
        return c

    refs = codes(40)
    kids = refs[:10].copy()
    kids[:, :, 1] = codes(10)[:, :, 1]       # children of the first ten references
    kids.sort(axis=2)
    q = np.concatenate([codes(50), kids, refs[10:14]])
    q[3, 2] = -1                             # an untyped locus
    qg = sm.genotype_indices(q)
    from kinship.kernels.score import lane_masks, query_columns
    from kinship.search import packed
    n = 0
    for rel, skip in (("parent-child", 0), ("full-sibling", 0), ("identity", 1)):
        tab = sm.compile_pairwise(rel, [f"r{i}" for i in range(len(refs))], refs)
        # the device's lane masks equal the CPU kernel's, for every (query, tile)
        pk = packed(tab, skip)
        qcol = query_columns(qg, tab.offsets)
        assert qcol.max() > 4096
        for lt in (-30.0, 0.0, 2.0):
            want = np.zeros((len(qcol), len(pk.lo)), np.uint64)
            lane_masks(pk.rows, pk.lo, pk.exact, pk.thresholds(lt), qcol, skip, pk.skip, want)
            cq, ct, cm = gpu.screen_candidates(pk, qcol, lt, skip)
            got = np.zeros_like(want)
            got[cq, ct] = cm
            assert (got == want).all(), (rel, lt)
            assert len(cq) == int((want != 0).sum())
        for t in (1.0, 10.0, 1e3):
            a = score(tab, qg, t, max_skip=skip)
            b = score(tab, qg, t, max_skip=skip, device="gpu")
            assert a.query.tolist() == b.query.tolist(), (rel, t)
            assert a.case.tolist() == b.case.tolist(), (rel, t)
            assert a.log10_lr.tolist() == b.log10_lr.tolist(), (rel, t)   # bit for bit
            assert a.skipped.tolist() == b.skipped.tolist(), (rel, t)
            n += len(a)
    assert n > 0
    print("OK", n)
''')


def _run(env_extra):
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=900)


def test_gpu_screen_equals_cpu_under_the_cuda_simulator():
    pytest.importorskip("numba.cuda")
    r = _run({"NUMBA_ENABLE_CUDASIM": "1"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert r.stdout.startswith("OK")


@pytest.mark.skipif(os.environ.get("STRKIN_TEST_REAL_GPU") != "1", reason="no GPU requested")
def test_gpu_screen_equals_cpu_on_a_device():
    r = _run({})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]


def test_gpu_unavailable_is_a_clear_error(monkeypatch):
    import numpy as np

    from kinship.kernels import gpu
    from kinship.kernels.score import pack_tables

    monkeypatch.setattr(gpu, "available", lambda: False)
    pk = pack_tables(np.zeros((1, 3)), np.zeros((1, 3), np.uint8), np.ones((1, 1), np.uint8),
                     np.array([0]), False)
    with pytest.raises(gpu.GPUError, match="device='cpu'"):
        gpu.screen_candidates(pk, np.zeros((1, 1), np.int16), 1.0)
