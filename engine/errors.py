"""Errors of the search engine.

Every error raised before work starts says what was expected, what was found
and how to fix it, and never quotes a genotype.

::

    EngineError (ValueError)
    ├── JobError            the job file or job dict (unknown key, bad value, unknown mode)
    ├── InputError          an input dataset or frequency table that cannot be used
    │                       (missing path, no queries, locus absent from the table,
    │                       profiles typed with different kits, an invalid case)
    ├── OutputError         the output directory holds another run's results, or an
    │                       interrupted run that needs ``--resume``
    └── TaskError           a task failed while the search ran (names the task)

    Cancelled (KeyboardInterrupt)  a run stopped at a task boundary on request
                            (:func:`engine.execute.cancel_on`): treated as Ctrl-C,
                            the run is finished with ``--resume``
"""
from __future__ import annotations

__all__ = ["EngineError", "JobError", "InputError", "OutputError", "TaskError", "SecurityWarning", "Cancelled",
           "stdout_to_devnull"]


class EngineError(ValueError):
    """Base class of the engine's errors."""


class JobError(EngineError):
    """A job file or job dict that cannot be run as written."""


class InputError(EngineError):
    """An input (profile dataset, frequency table, case) that cannot be searched."""


class OutputError(EngineError):
    """An output directory that this run must not write into as it stands."""


class TaskError(EngineError):
    """A task of the search failed."""


class SecurityWarning(UserWarning):
    """A set-up that exposes profiles (a Dask scheduler reached without TLS on a
    non-loopback address)."""


class Cancelled(KeyboardInterrupt):
    """A run stopped at a task boundary because its cancel event was set
    (:func:`engine.execute.cancel_on`; the worker sets it when its client leaves).
    A ``KeyboardInterrupt``: the run log says "interrupted", ``kinship search``
    exits 130, and the tasks finished before it have their checkpoints, so
    ``--resume`` finishes the run."""


def stdout_to_devnull() -> None:
    """After a ``BrokenPipeError`` (the reader of stdout went away): Python flushes
    stdout at exit and would fail again, so point it at devnull
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
