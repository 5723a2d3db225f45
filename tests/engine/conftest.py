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
