"""One compiled module of SciPy, loaded by itself.

Importing a SciPy submodule runs its package's ``__init__`` first, and some of
those import most of SciPy: ``scipy.linalg`` (0.2 s on this project's 2-core
machine) and ``scipy.optimize`` (0.25-0.45 s).  Two of the project's needs are
one compiled (extension) module each:

* numba's check for a BLAS at its first use (``import scipy.linalg.cython_blas``,
  :func:`kinship._numba.load_blas_alone`);
* the joint picture's assignment (``scipy.optimize.linear_sum_assignment``, which
  ``scipy.optimize`` itself takes from its extension ``_lsap``:
  :func:`kinship.joint.best_assignment`).

:func:`extension_alone` loads such a module from SciPy's own directory with the
import system's own loader and registers it under its full name, so every later
import of it, by SciPy's package ``__init__`` included, finds this same module
object; the function is SciPy's, unchanged.  If SciPy's layout differs (the file
is not there, or loading it fails), it returns None and the caller imports the
public name as usual.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys


def extension_alone(package: str, name: str):
    """The extension module ``package.name`` (e.g. ``"scipy.linalg"``,
    ``"cython_blas"``), from ``sys.modules`` or loaded by itself without running
    ``package``'s ``__init__``; None if it cannot be found or loaded this way."""
    full = f"{package}.{name}"
    if full in sys.modules:
        return sys.modules[full]
    if package in sys.modules:          # the package is there: import the usual way
        return None
    try:
        top, *rest = package.split(".")
        spec = importlib.util.find_spec(top)
        if spec is None or not spec.submodule_search_locations:
            return None
        for where in spec.submodule_search_locations:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = os.path.join(where, *rest, name + suffix)
                if os.path.isfile(path):
                    mod_spec = importlib.util.spec_from_file_location(full, path)
                    module = importlib.util.module_from_spec(mod_spec)
                    sys.modules[full] = module
                    try:
                        mod_spec.loader.exec_module(module)
                    except BaseException:
                        sys.modules.pop(full, None)
                        raise
                    return module
        return None
    except Exception:   # any surprise in SciPy's layout: the caller imports it its own way
        return None
