"""The worked values in the kinship.ystr docstrings are doctests; run them here."""
import doctest
import importlib

import pytest

MODULES = ["loci", "stepwise", "lineage", "estimators", "screen", "thresholds", "haplotypes"]


@pytest.mark.parametrize("name", MODULES)
def test_docstrings(name):
    mod = importlib.import_module(f"kinship.ystr.{name}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0
