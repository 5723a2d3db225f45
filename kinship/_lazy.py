"""Package attributes loaded on first use (PEP 562, https://peps.python.org/pep-0562/).

``import engine``, ``import kinship``, ``import formats`` and ``import
validation`` import none of their heavy modules (numpy, pyarrow, numba, scipy):
each package names, per submodule, the public names that submodule defines, and
:func:`lazy_attributes` gives the package the module ``__getattr__`` that imports
the submodule when one of its names is first read (``engine.run``,
``kinship.FrequencyTable``, ``from formats import open_dataset``), and the
``__dir__`` that lists them.  A submodule not imported yet is also an attribute
(``import kinship; kinship.tables.pair_table``).  This keeps the ``kinship``
command's start cheap (``kinship --help`` imports no numpy) and lets a command
load only what it uses; ``tests/engine/test_engine_startup.py`` checks it."""
from __future__ import annotations

import importlib
from importlib.util import find_spec

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, table: dict, namespace: dict):
    """``(__getattr__, __dir__)`` for the package ``package`` whose globals are
    ``namespace``: ``table`` maps a submodule's name (relative) to the names it
    exports through the package."""
    where = {name: mod for mod, names in table.items() for name in names}

    def __getattr__(name: str):
        mod = where.get(name)
        if mod is None:
            if not name.startswith("_") and find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f".{name}", package)
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{mod}", package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
