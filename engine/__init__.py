"""engine: the batch kinship search that a lab pipeline or an operator runs every day.

    import engine
    res = engine.run("job.toml")              # or a dict with the same structure
    res.hits                                  # pyarrow Table of ranked hits
    res.manifest                              # software, job, checksums, timings

Modes, the job-file schema, the output layout and the guarantees (screening is
exact, resume and Dask give identical output, incremental equals full) are
documented in ``docs/engine.md``.  Importing this package compiles nothing and
imports no numpy, pyarrow or numba: :mod:`engine.api` (the run) is imported when
one of its names is first used (PEP 562, :mod:`kinship._lazy`), and the numba
kernels are compiled on first use.
"""
from kinship._lazy import lazy_attributes

from .errors import EngineError, InputError, JobError, OutputError, TaskError
from .job import MODES, PAIRWISE_MODES, Job, load_job

__getattr__, __dir__ = lazy_attributes(__name__, {
    "api": ("RESULTS_FORMAT", "RESULTS_VERSION", "RunResult", "run"),
}, globals())

__all__ = [
    "run", "RunResult", "Job", "load_job", "MODES", "PAIRWISE_MODES",
    "EngineError", "JobError", "InputError", "OutputError", "TaskError",
    "RESULTS_FORMAT", "RESULTS_VERSION",
]
