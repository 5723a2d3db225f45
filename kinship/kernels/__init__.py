"""Numba kernels (imported lazily by kinship.search; importing kinship compiles nothing)."""
