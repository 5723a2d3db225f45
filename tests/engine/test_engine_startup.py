"""A run's fixed cost, the parts that can be tested (issue 18 item 2).

* ``import engine`` / ``kinship`` / ``formats`` / ``validation`` and the
  ``kinship`` command's parser (``kinship --help``) import none of numba,
  numpy, pyarrow or scipy: the packages' names are loaded on first use (PEP 562,
  :mod:`kinship._lazy`), and still work; the names the parser lists come from
  light modules (``formats.names``, ``validation.names``, ``kinship.structures``).
* The command freezes the garbage collector's heap before the process exits
  (:func:`engine.cli._before_exit`), and only then: a caller passing ``argv``
  keeps its collector.

Each check runs in a fresh interpreter (this test process has imported
everything already)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numba", "numpy", "pyarrow", "scipy", "llvmlite")


def _fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter on this tree; it prints one JSON object."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


_LOADED = f"""
import json, sys
print(json.dumps({{"heavy": sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})}}))
"""


@pytest.mark.parametrize("package", ["engine", "kinship", "formats", "validation"])
def test_import_package_loads_nothing_heavy(package):
    out = _fresh(f"import {package}\n" + _LOADED)
    assert out["heavy"] == []


def test_help_imports_nothing_heavy():
    out = _fresh("""
import io, contextlib, sys
sys.argv = ["kinship", "--help"]
from engine.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    try:
        main()
    except SystemExit as e:
        assert e.code == 0, e.code
assert "search" in buf.getvalue() and "simulate" in buf.getvalue()
""" + _LOADED)
    assert out["heavy"] == []


def test_lazy_names_resolve_to_their_modules():
    import engine
    import engine.api
    import formats
    import formats.dataset
    import kinship
    import kinship.frequencies
    import validation
    import validation.simulate

    assert engine.run is engine.api.run and engine.RunResult is engine.api.RunResult
    assert kinship.FrequencyTable is kinship.frequencies.FrequencyTable
    assert formats.open_dataset is formats.dataset.open_dataset
    assert validation.simulate_dataset is validation.simulate.simulate_dataset
    assert kinship.__version__ and "FrequencyTable" in dir(kinship) and "run" in dir(engine)
    for pkg in (engine, kinship, formats, validation):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, (pkg.__name__, name)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        kinship.no_such_name  # noqa: B018
    from formats import FormatError, write_profiles  # noqa: F401  (the from-import form)


def test_lazy_submodule_attribute_in_fresh_interpreter():
    out = _fresh("""
import json, kinship
print(json.dumps({"ok": callable(kinship.tables.pair_table), "rel": "parent-child" in kinship.tables.RELATIONSHIPS}))
""")
    assert out == {"ok": True, "rel": True}


def test_command_freezes_the_heap_before_exit_and_only_then(tmp_path):
    # the command as the kinship script runs it (main() without argv): frozen
    out = _fresh(f"""
import gc, json, sys
sys.argv = ["kinship", "verify", {str(tmp_path / "missing")!r}]
from engine.cli import main
rc = main()
print(json.dumps({{"rc": rc, "frozen": gc.get_freeze_count()}}))
""")
    assert out["rc"] == 1 and out["frozen"] > 0
    # a caller passing argv keeps its collector
    out = _fresh(f"""
import gc, json
from engine.cli import main
rc = main(["verify", {str(tmp_path / "missing")!r}])
print(json.dumps({{"rc": rc, "frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()[0]}}))
""")
    assert out == {"rc": 1, "frozen": 0, "threshold": 700}


def test_command_collects_garbage_in_larger_batches(tmp_path):
    """The command's process (main() without argv) runs the collector's youngest
    pass every engine.cli.GC_THRESHOLD0 allocations; it still collects."""
    out = _fresh(f"""
import gc, json, sys
sys.argv = ["kinship", "verify", {str(tmp_path / "missing")!r}]
from engine.cli import GC_THRESHOLD0, main
rc = main()
gc.unfreeze()
class Cycle:
    pass
for _ in range(3 * GC_THRESHOLD0):
    a, b = Cycle(), Cycle()
    a.b, b.a = b, a
del a, b
alive = sum(isinstance(o, Cycle) for o in gc.get_objects())
print(json.dumps({{"rc": rc, "threshold": gc.get_threshold()[0], "want": GC_THRESHOLD0,
                   "enabled": gc.isenabled(), "bounded": alive <= 2 * GC_THRESHOLD0}}))
""")
    assert out == {"rc": 1, "threshold": out["want"], "want": 100_000, "enabled": True,
                   "bounded": True}


def test_command_loads_scipy_blas_alone_and_numba_keeps_blas(tmp_path):
    """``kinship search`` lets numba find SciPy's BLAS (``scipy.linalg.cython_blas``,
    loaded alone: :func:`kinship._numba.load_blas_alone`) without importing the rest
    of ``scipy.linalg`` (0.2 s of a small run), and numba's BLAS-backed functions
    still work in that process: ``np.dot`` in a jitted function gives NumPy's
    values, and a later ``import scipy.linalg`` finds the same module."""
    import formats
    from tests.engine.enginelib import simulate

    profs, _ = simulate(n_cases=3, n_unrelated=2, n_unrelated_references=1, seed=5)
    formats.write_profiles(tmp_path / "ds", profs)
    job = tmp_path / "job.toml"
    job.write_text(f"""[inputs]
queries = "ds"
references = "ds"
[search]
modes = ["parent-child"]
[output]
path = "out"
[execution]
progress = false
""")
    out = _fresh(f"""
import json, sys
from engine.cli import main
rc = main(["search", {str(job)!r}, "-q"])
linalg_before = "scipy.linalg" in sys.modules
blas = sys.modules.get("scipy.linalg.cython_blas")
import numpy as np, numba
import numba.np.arraymath as am
f = numba.njit(lambda a, b: np.dot(a, b))
a = np.arange(6.0).reshape(2, 3) / 7
b = np.arange(6.0).reshape(3, 2) / 3
same = bool((f(a, b) == a @ b).all())
import scipy.linalg
from scipy.linalg import cython_blas
print(json.dumps({{"rc": rc, "linalg": linalg_before, "blas": blas is not None,
                   "have_blas": bool(am._HAVE_BLAS), "dot": same, "same_module": cython_blas is blas}}))
""")
    assert out == {"rc": 0, "linalg": False, "blas": True, "have_blas": True, "dot": True,
                   "same_module": True}


def test_library_process_is_left_alone():
    """A library user's process: importing and using the kernels does not preload
    anything of SciPy (numba imports ``scipy.linalg`` its own way)."""
    out = _fresh("""
import json, sys
import numpy as np
from kinship.tables import genotype_indices
genotype_indices(np.array([[0, 1]], dtype=np.int16))
print(json.dumps({"blas_alone": "scipy.linalg.cython_blas" in sys.modules and "scipy.linalg" not in sys.modules}))
""")
    assert out == {"blas_alone": False}
