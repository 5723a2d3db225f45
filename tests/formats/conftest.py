"""Fixtures for the formats tests (a package-less test directory)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The editable install may register ``formats`` as a namespace package (it was
# installed before formats/__init__.py existed); import the checkout's package.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
for _m in [m for m in sys.modules if m == "formats" or m.startswith("formats.")]:
    if getattr(sys.modules[_m], "__file__", None) is None:
        del sys.modules[_m]

REAL = ROOT.parent / "shared" / "data" / "real-files"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def real():
    if not REAL.exists():
        pytest.skip("shared real-files not available")
    return REAL


@pytest.fixture(scope="session")
def shared_data():
    if not SHARED.exists():
        pytest.skip("shared data not available")
    return SHARED


@pytest.fixture(scope="session")
def nist():
    import kinship

    return kinship.FrequencyTable.load("nist1036_all")
