"""Fixtures for the engine tests (a package-less test directory)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# The editable install may register ``formats``/``engine`` as namespace packages
# (installed before their __init__.py existed); import the checkout's packages.
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)
for _m in [m for m in sys.modules if m.split(".")[0] in ("formats", "engine")]:
    if getattr(sys.modules[_m], "__file__", None) is None:
        del sys.modules[_m]


@pytest.fixture(scope="session")
def nist():
    import kinship

    return kinship.FrequencyTable.load("nist1036_all")


@pytest.fixture(scope="session", autouse=True)
def _table_cache(tmp_path_factory):
    """The engine tests keep the on-disk table store (execution.table_cache =
    "auto") in a directory of their own, not in the user's ~/.cache."""
    import os

    old = os.environ.get("STRKIN_TABLE_CACHE")
    os.environ["STRKIN_TABLE_CACHE"] = str(tmp_path_factory.mktemp("table-cache"))
    yield
    if old is None:
        os.environ.pop("STRKIN_TABLE_CACHE", None)
    else:
        os.environ["STRKIN_TABLE_CACHE"] = old


class DemoRun:
    """The session's one ``kinship demo`` run (:func:`demo_run`): its directory,
    results, stdout, stderr and ``--log-file``.  Read it, never change it: a test
    that writes copies it first (:meth:`copy`)."""

    CASES = 8                       # the demo's families (``--cases``)

    def __init__(self, root: Path, stdout: str, stderr: str):
        self.root = root
        self.dir = root / "demo"
        self.results = self.dir / "results"
        self.log = root / "kinship.log"
        self.stdout = stdout
        self.stderr = stderr

    def copy(self, dest: Path, results: bool = True) -> Path:
        """A private copy of the demo directory at ``dest`` (without ``results/``
        unless ``results``), to run or change; returns ``dest``."""
        import shutil

        shutil.copytree(self.dir, dest, symlinks=True,
                        ignore=None if results else shutil.ignore_patterns("results"))
        return dest


def _tree_state(root: Path) -> dict:
    import hashlib

    return {str(p.relative_to(root)): (p.stat().st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One ``kinship -vv demo --cases 8 --progress off --log-file ...`` for the whole
    session, shared by the tests that only read a demo's output (the demo takes
    about a minute; it used to run once per module).  At the end of the session
    the directory must be exactly as the demo left it: a test that changed it fails
    here, naming the files."""
    import contextlib
    import io

    from engine.cli import main

    root = tmp_path_factory.mktemp("demo-run")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["-vv", "demo", "--out", str(root / "demo"), "--cases", str(DemoRun.CASES),
                   "--progress", "off", "--log-file", str(root / "kinship.log")])
    assert rc == 0, err.getvalue()[-2000:]
    run = DemoRun(root, out.getvalue(), err.getvalue())
    before = _tree_state(root)
    yield run
    after = _tree_state(root)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"a test changed the shared demo directory: {changed[:10]}"
