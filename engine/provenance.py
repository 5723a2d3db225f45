"""Provenance every result file records: the software's versions, the input
shards as read (with their checksums), the time, and strict JSON values.
"""
from __future__ import annotations

import datetime as _dt
import platform

import numpy as np
import pyarrow as pa

__all__ = ["now", "software", "shards", "clean_json"]


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def software() -> dict:
    import numba

    from kinship import __version__

    out = {"strkin": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "numba": numba.__version__, "pyarrow": pa.__version__}
    from importlib.metadata import PackageNotFoundError, version

    for name in ("dask", "distributed"):   # their versions, without importing them (~1 s)
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            pass
    return out


def shards(ds) -> list:
    """The input shards as this run read them: each shard's sha256 is the one of the
    bytes actually read (checked against the dataset manifest while reading), never
    a value copied from the manifest."""
    m = ds.manifest
    read = ds.read_checksums() if hasattr(ds, "read_checksums") else {}
    out = []
    for s, p in zip(m["shards"], ds.shards):
        sha = read.get(s["file"])
        if not sha:
            from formats.dataset import sha256_file

            sha = sha256_file(p)
        out.append({"file": s["file"], "sha256": sha, "n_profiles": s.get("n_profiles")})
    return out


def clean_json(x):
    """NaN and infinities as null (strict JSON)."""
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    if isinstance(x, dict):
        return {k: clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_json(v) for v in x]
    return x
