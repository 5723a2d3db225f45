"""Running one task: :func:`run_task` hands it to its kind (:mod:`engine.taskbase`).

The same function runs in a thread of the in-process executor and on a Dask
worker; the kinds are :func:`engine.score.run_score_task` (the autosomal
modes' pairs), :func:`engine.ylineage.run_y_task` (y-lineage pairs) and
:func:`engine.chance.run_chance_task` (chance-hit exceedance of a block's units).
"""
from __future__ import annotations

from .chance import run_chance_task
from .score import run_score_task
from .taskbase import Task, TaskContext, TaskResult
from .job import Y_MODE
from .ylineage import run_y_task

__all__ = ["run_task"]


def run_task(ctx: TaskContext, task: Task, queries, progress=None) -> TaskResult:
    """Score one task; ``progress(work)`` is called as its work is done (the block's
    compilation, each tile of pairs, each chance unit), adding up to exactly
    ``task.work`` when it returns.  A task of kind ``"chance"`` computes its units'
    chance-hit exceedance instead (:func:`engine.chance.run_chance_task`)."""
    kind = _kind(task)
    if progress is None:
        return kind(ctx, task, queries, None)
    total = task.work
    done = [0]

    def report(n):
        n = min(int(n), total - done[0])
        if n > 0:
            done[0] += n
            progress(n)

    res = kind(ctx, task, queries, report)
    report(total - done[0])
    return res




def _kind(task: Task):
    """The function that runs ``task``: ``f(ctx, task, queries, progress)``."""
    if task.kind == "chance":
        return run_chance_task
    if task.mode == Y_MODE:
        return lambda ctx, t, queries, progress: run_y_task(ctx, t)
    return run_score_task
