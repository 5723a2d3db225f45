"""``engine.run(job)``: one search run, from a job to ranked hits and a manifest.

A run is a :class:`Run` object whose phases read in the order the data flows;
each phase reads what the ones before it set on the object and sets its own
(the attributes are listed in the class docstring):

1. :meth:`Run.prepare`: check the job, load the frequency table, open the
   datasets, fix the loci and the allele systems (:mod:`engine.model`), load the
   queries and scan the references (fingerprints, kits, cases), check the
   references' consistency (:mod:`engine.consistency`) -- every bad input is
   reported here, before anything is written;
2. :meth:`Run.open_output`: under the output directory's lock, decide between
   a first run, an incremental run (same job, earlier results present) and
   ``resume`` (:mod:`engine.state`), and start the run log;
3. :meth:`Run.plan`: the tasks of each mode (:mod:`engine.plan`): which pairs
   are new, the query chunks, the units whose chance values are computed, and
   the work the progress bar counts;
4. :meth:`Run.execute`: run the tasks (threads or Dask, :mod:`engine.execute`;
   each task's kind in :mod:`engine.taskbase`), checkpointing each finished
   task;
5. :meth:`Run.merge`: merge this run's task results, the checkpoints of an
   interrupted run and the still-valid earlier rows (:mod:`engine.merge`); add
   posteriors, chance expectations, alternatives, Y evidence, the joint picture
   and the power of each case;
6. :meth:`Run.write`: ``hits.parquet``, ``summary.txt``, the run state and
   ``manifest.json``, each written atomically.

A task's checkpoint is named after a hash of everything its output depends on
(model, search settings, mode, the block's units and fingerprints, the query
chunk's), so a restarted run recognises the tasks already done and the merged
output is identical to that of an uninterrupted run.
"""
from __future__ import annotations

import json
import logging
import gc
import os
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from formats.perms import make_dir

from .alternatives import add_alternatives
from .chance import annotate, chance_fp, make_spec, mode_chances, query_dropout_tag, rows_from_table, \
    sample_mask
from .compile import keep_budget, kept_block, prefetch_in_background, table_sexes
from .consistency import check_references, exclude_cases
from .dropout import DROPOUT_FILE, Dropout, run_note, samples_csv
from .dropout import counts as dropout_counts
from .errors import InputError, JobError, OutputError
from .execute import DaskExecutor, InProcessExecutor, Progress
from .memory import describe as describe_memory
from .memory import CACHE_BLOCKS, parse_size, plan_run as plan_memory
from .inputs import (FINGERPRINT_VERSION, QuerySet, UnitReader, _add_kit_loci, build_cases, check_kits, count_kind,
                     merge_kit_loci,
                     load_queries,
                     open_input, query_blocks, scan_references, set_fingerprint, stream_blocks)
from .job import Y_MODE, Job, load_job, stable_hash
from .joint import add_joint, same_person
from .kernels import warm_up
from .merge import merge_hits, search_posteriors
from .model import ModelSpec, Recoder, get_model, load_frequencies, resolve_loci
from .output import STATE, Checkpoints, RunLock, SyncBatch, atomic_write_bytes, \
    atomic_write_json, atomic_write_parquet, clean_results
from .partial_chance import partial_chance
from .plan import plan_mode
from .power import run_phase as run_power
from .provenance import clean_json, now, shards, software
from .report import summary_text
from .runlog import RunLog
from .selfpairs import drop_self, self_keys, self_pairs
from .state import RESULTS_FORMAT, RESULTS_VERSION, check_output, os_message, read_prev, \
    UnitsAhead, remove_stale_temps, snapshot, write_state
from .taskbase import Task, TaskContext, work_of
from .ylineage import combine as combine_y
from .ylineage import load_y_inputs, relation_clashes, y_blocks

__all__ = ["run", "Run", "RunResult", "RESULTS_FORMAT", "RESULTS_VERSION"]

log = logging.getLogger("engine")


@dataclass
class RunResult:
    """What :func:`run` returns: the ranked hits, the manifest and where they are."""

    path: Path
    hits: pa.Table
    manifest: dict
    summary: str

    def __repr__(self):
        return f"RunResult({str(self.path)!r}, {self.hits.num_rows} hits)"


def run(job, *, resume: bool = False, progress=None, base_dir=None) -> RunResult:
    """Run a search job and return its :class:`RunResult`.

    ``job``: a path to a TOML job file, a dict with the same structure, or a
    :class:`~engine.job.Job`.  ``resume``: finish an interrupted run of the same
    job in the same output directory.  ``progress``: override
    ``execution.progress`` (True/False/"auto").  ``base_dir``: directory that
    relative paths of a dict job are relative to (default: the current one).

    BLAS runs single-threaded for the run (restored after; set from the main
    thread, :func:`kinship._blas.one_blas_thread`): a matrix product
    split over several BLAS threads can round differently from one on a single
    thread, and Dask starts its workers with one BLAS thread, so this is what makes
    an in-process run write the same bytes as a Dask run whatever the core count
    (``tests/engine/test_engine_bytes.py``).  The engine's own task threads are
    the parallelism.
    """
    from kinship._blas import one_blas_thread

    with one_blas_thread():
        return Run(_as_job(job, base_dir), resume=resume, progress=progress).run()


def _as_job(job, base_dir=None) -> Job:
    if isinstance(job, Job):
        return job
    if isinstance(job, (str, os.PathLike)):
        return load_job(job)
    if isinstance(job, dict):
        return Job.from_dict(job, base_dir=base_dir)
    raise JobError(f"a job is a path to a TOML file, a dict or an engine.Job, got {type(job).__name__}")


def _fault(point: str, before=None):
    """Fault injection for the tests: ``STRKIN_ENGINE_KILL_AT=<point>`` kills this
    process with SIGKILL at that point (``task-N``: after the N-th task's result,
    once ``before()`` has written the checkpoints kept; ``hits``, ``summary``,
    ``state``, ``manifest``: after writing that output)."""
    if os.environ.get("STRKIN_ENGINE_KILL_AT") == point:  # pragma: no cover - dies
        if before is not None:
            before()
        os.kill(os.getpid(), signal.SIGKILL)


def _no_queries() -> QuerySet:
    """The (empty) autosomal query set of a job whose only mode is y-lineage."""
    return QuerySet(np.zeros(0, dtype=object), np.zeros(0, dtype=object), np.zeros(0, dtype=object),
                    np.zeros((0, 0, 2), dtype=np.int16), np.zeros((0, 0), dtype=np.int32),
                    np.zeros(0, dtype="S16"))


def _interleave(lists: list):
    """The items of ``lists`` round robin: the first of each, then the second, ..."""
    n = max((len(x) for x in lists), default=0)
    for i in range(n):
        for x in lists:
            if i < len(x):
                yield x[i]


def _query_chunks(ids, fps, rows: np.ndarray, size: int, rank=None, threads: int = 1) -> list:
    """``(rows, fingerprint of the chunk)`` of each chunk of ``size`` queries; the
    chunks fingerprinted ``threads`` at a time (Arrow's take and BLAKE2b release the
    GIL: 10^7 queries, 0.6 s of hashing on one core)."""
    def one(a):
        r = rows[a:a + size]
        sub = ids.take(pa.array(r)) if isinstance(ids, pa.Array) else ids[r]
        return r, set_fingerprint(sub, fps[r], None if rank is None else rank[r])

    starts = range(0, len(rows), size)
    if threads <= 1 or len(starts) < 2:
        return [one(a) for a in starts]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(threads, len(starts)), thread_name_prefix="strkin-plan") as pool:
        return list(pool.map(one, starts))


#: the units whose chance values are computed are cut into (at most) this many tasks
CHANCE_TASKS = 8


class Run:
    """One search run, phase by phase (the module docstring gives the order).

    Set by :meth:`prepare` (the job's model and inputs): ``ft``/``fsrc`` (the
    frequency table and its provenance), ``qds``/``rds`` (the query and reference
    datasets), ``loci``/``ds_names`` (the loci as the table and the datasets name
    them), ``drop`` (the dropout of each sample, :class:`engine.dropout.Dropout`),
    ``spec``/``model`` (:class:`engine.model.ModelSpec` and its compiled model),
    ``yin`` (the y-lineage inputs or None), ``job_key``, ``queries``, ``refs``,
    ``cases``, ``checks`` (reference consistency), ``self_keys`` (pairs of a
    sample with itself, :mod:`engine.selfpairs`), ``notes`` (for the summary and
    manifest), ``memory`` (the memory plan, :mod:`engine.memory`: the manifest's
    ``run.memory``), ``executor``.

    Set by :meth:`open_output` (the results directory, under its lock):
    ``state_kind`` ("fresh", "incremental", "resume"), ``run_kind`` (as the
    run log words it), ``run_id``, ``prev`` (the earlier results an incremental run
    starts from, :class:`engine.plan.PrevState`), ``prev_model_key``, ``rlog``,
    ``run_notes`` (about this run, not the results: manifest only).

    Set by :meth:`plan`: ``plans`` (one :class:`engine.plan.ModePlan` per mode),
    ``units``/``qsets`` (each mode's reference units and queries), ``cspec``
    (chance settings), ``sampled``/``need``/``chance_rows`` (the units whose chance
    values are sampled, still to be computed, already known), ``chunks`` (the
    query chunks), ``ctx`` (the tasks' :class:`engine.taskbase.TaskContext`),
    ``total_work``.

    Set by :meth:`execute`: ``keys`` (every task of the run, in plan order),
    ``done_here`` (the results of the tasks this process ran), ``resumed``.

    Set by :meth:`merge`: ``hits``, ``counts`` (pairs above the threshold per
    query and unit), ``info`` (the manifest's run section), ``chance``,
    ``chance_state``, ``power``, ``joint_table``/``joint``.
    """

    def __init__(self, job: Job, *, resume: bool = False, progress=None):
        self.job = job
        self.values = job.values
        self.modes = job.modes
        self.resume = resume
        self.progress = progress
        self.timings: dict = {}
        self.t_start = time.perf_counter()
        self.started = now()
        self.out = job.output_path

    # -- the whole run ------------------------------------------------------------------
    def run(self) -> RunResult:
        """Every phase in order; a failed write to the results directory is one
        :class:`OutputError` line (:func:`engine.state.os_message`)."""
        self.prepare()
        # the inputs, model and cases live through the run: left out of the cyclic
        # garbage collector's full passes until the end (about 0.06 s of collections
        # in a 10^6-query case run)
        gc.freeze()
        try:
            make_dir(self.out)
            with RunLock(self.out):
                self.open_output()
                with self.rlog.guard(self.timings):
                    self.mark_running()
                    self.plan()
                    self.execute()
                    self.merge()
                    return self.write()
        except OSError as e:
            raise OutputError(os_message(e, self.out)) from None
        finally:
            gc.unfreeze()
            self.executor.close()

    # -- 1. model and inputs (errors before any work) ------------------------------------
    def prepare(self) -> None:
        job, v, modes = self.job, self.values, self.modes
        search = v["search"]
        t0 = time.perf_counter()
        ft, fsrc = load_frequencies(job)
        self.ft, self.fsrc = ft, fsrc
        auto_modes = [m for m in modes if m != Y_MODE]
        in_process = not v["execution"]["scheduler"]
        if in_process and auto_modes:
            warm_up()     # load the scoring kernels while the job's inputs are opened and read
        qds = open_input(job, "queries") if auto_modes else None
        need_refs = any(m not in ("duplicates", Y_MODE) for m in modes)
        rds = None
        if need_refs:
            same = job.path(v["inputs"]["references"]).resolve() == \
                job.path(v["inputs"]["queries"]).resolve()
            rds = qds if same else open_input(job, "references")
        self.qds, self.rds = qds, rds
        loci, ds_names, extra = [], [], {}
        if qds is not None:
            loci, ds_names = resolve_loci(job, ft, qds, rds)
        for l, d in zip(loci, ds_names):
            labs = set(qds.alleles.get(d, ()))
            if rds is not None:
                labs |= set(rds.alleles.get(d, ()))
            extra[l] = sorted(labs)
        self.loci, self.ds_names = loci, ds_names
        drop = Dropout(job)
        for ds in {id(x): x for x in (qds, rds) if x is not None}.values():
            if hasattr(ds, "sample_dropout"):
                drop.add_stated(ds.sample_dropout())
        self.drop = drop
        try:
            spec = ModelSpec(ft, tuple(loci), job.mutation, v["model"]["theta"], extra,
                             dropin=drop.dropin, table_cache=job.table_cache(),
                             table_cache_size=parse_size(v["execution"]["table_cache_size"]))
        except (KeyError, ValueError) as e:
            raise InputError(f"the model cannot be built from the frequency table and the profiles: "
                             f"{e}. Fix: set [model] min_allele_freq for alleles absent from the "
                             f"table") from None
        self.spec = spec
        self.model = model = get_model(spec)

        yin = load_y_inputs(job) if Y_MODE in modes else None
        self.yin = yin
        self.job_key = stable_hash({"job": job.key_material(), "frequencies": ft.checksum(),
                                    "results_version": RESULTS_VERSION})
        check_output(self.out, self.job_key, self.resume, v["output"]["overwrite"])
        kit_loci: dict = {}
        refs = cases = checks = None
        notes = list(yin.notes) if yin is not None else []
        self.notes = notes
        if yin is None and any(v["inputs"][k] for k in ("y_queries", "y_references", "y_population")):
            notes.append("inputs.y_queries / y_references are given but search.modes has no "
                         "y-lineage: the Y haplotypes were not searched")
        if need_refs:
            refs = scan_references(rds, Recoder(rds, loci, model.systems, ds_names), kit_loci,
                                   dropout=self._dropout_of("references"))
            if len(refs) == 0:
                raise InputError(
                    f"inputs.references: dataset {rds.path} has no reference profiles "
                    f"(kind=reference). Fix: import the relatives with kind 'reference', case_id "
                    f"and relation, or point inputs.references at the dataset that holds them"
                )
        self.refs = refs
        if "case" in modes:
            cases = build_cases(refs, search["invalid_cases"], rds.cases())
        # the memory budget: settings that fit it, or a refusal before the queries are read
        mem = None
        if auto_modes:
            q_count = count_kind(qds, "query") if qds is not None else (0, 0)
            mem = plan_memory(job, q_count, refs, cases, model, drop.active,
                              drop.values_bound("queries") if drop.active else 1,
                              len(table_sexes(refs.sex)) if refs is not None and spec.sex_dependent
                              else 1, keep_budget())
        self.memory = describe_memory(mem) if mem is not None else None
        if mem is not None and mem.get("note"):
            notes.append(mem["note"])
            log.warning("%s", mem["note"])
        if "case" in modes:
            max_hours = v["execution"]["max_compile_hours"]
            if search["inconsistent_cases"] == "exclude":
                # the cases left after the consistency check are the ones compiled
                checks, cases = self._consistency(cases)
                self._check_theta_cost(cases, max_hours)
            else:
                # refused before the consistency check, which builds θ tables of its own
                self._check_theta_cost(cases, max_hours)
                checks, cases = self._consistency(cases)
        self.cases, self.checks = cases, checks
        if in_process and auto_modes:
            # the model's tables for these references, built while the queries load
            prefetch_in_background(model, spec.sex_dependent, modes, search["line"], refs, cases,
                                   not drop.active)
        if qds is not None:
            queries = load_queries(qds, Recoder(qds, loci, model.systems, ds_names),
                                   dropout=self._dropout_of("queries"),
                                   threads=v["execution"]["threads"] or None)
        else:
            queries = _no_queries()
        self.queries = queries
        if queries.kit_loci is not None:      # found while the shards were read
            merge_kit_loci(kit_loci, queries.kit_loci)
        else:
            _add_kit_loci(kit_loci, queries.kit, queries.codes)
        check_kits(kit_loci, loci, search["mixed_kits"])
        selfp, self_notes = self_pairs(queries, refs) if need_refs and qds is not None else ({}, [])
        notes.extend(self_notes)
        for n in self_notes:
            log.warning("%s", n)
        self.self_keys = self_keys(selfp, queries, refs)
        if yin is not None and refs is not None:
            yin.auto_relation = {str(i): (str(c), str(r))
                                 for i, c, r in zip(refs.ids, refs.case_id, refs.relation)}
            clash = relation_clashes(yin.relation_of(), yin.auto_relation)
            if clash:
                notes.append(f"y-lineage: {len(clash)} reference men have another case or relation "
                             f"in the autosomal references than in the Y references "
                             f"({', '.join(clash[:5])}{', ...' if len(clash) > 5 else ''}); their Y "
                             f"hits are not combined with autosomal evidence. Fix: correct the "
                             f"samples manifest of one of the datasets")
        self._note_partial(search["min_loci"])
        if drop.active and qds is not None:
            notes.append(run_note(drop, queries, refs))
            stated = sorted(drop.per_sample)
            unknown = set(stated) - set(queries.rows_of(stated))   # no str per query
            if refs is not None:
                unknown -= set(np.asarray(refs.ids, dtype=object).astype(str).tolist())
            unknown = sorted(unknown)
            if unknown:
                notes.append(f"model.dropout_samples: {len(unknown)} samples of the file are in no "
                             f"dataset of this run ({', '.join(unknown[:5])}"
                             f"{', ...' if len(unknown) > 5 else ''}); their values were not used")
        if "case" in modes:
            notes.extend(cases.notes)
            if len(cases) == 0:
                notes.append("case mode: no reference has a relation that places it on a case "
                             "pedigree")
            n_child = int(cases.needs_sex.sum())
            n_unknown = int(np.count_nonzero(queries.sex == ""))
            if n_child and n_unknown and spec.sex_dependent:
                notes.append(f"case mode: {n_unknown} queries of unknown sex are not compared with "
                             f"the {n_child} cases that have a 'child' reference (the missing "
                             f"person's sex decides whether M is the child's father or mother, and "
                             f"the female and male mutation models differ)")
        ex = v["execution"]
        self.executor = DaskExecutor(ex["scheduler"]) if ex["scheduler"] else \
            InProcessExecutor(ex["threads"], mem["chosen"]["in_flight"] if mem is not None else None)
        self.executor.start()
        self.timings["prepare_s"] = time.perf_counter() - t0
        log.info("phase prepare: %.2f s", self.timings["prepare_s"])
        if checks is not None:
            log.info("reference consistency: %d cases checked in %.1f s, %d inconsistent",
                     len(checks.checks), self.timings["consistency_s"],
                     checks.counts()["inconsistent"])
        log.info("search %s: %d queries, %d reference persons, %d cases, %d loci, modes %s",
                 job.source, len(queries), len(refs) if refs is not None else 0,
                 len(cases) if cases is not None else 0, len(loci), ", ".join(modes))
        if yin is not None:
            log.info("y-lineage: %d query men, %d reference men, %d loci", len(yin.q_ids),
                     len(yin.r_ids), len(yin.ctx.panel.compare_slots))

    def _dropout_of(self, which):
        """The per-sample dropout of ``which`` ("queries", "references") as the
        readers take it; None: the dropout model is off (:mod:`engine.dropout`)."""
        if not self.drop.active:
            return None
        drop, systems = self.drop, self.model.systems
        return lambda ids, codes: drop.of(which, ids, codes, systems)

    def _consistency(self, cases):
        """Reference consistency of every case (:mod:`engine.consistency`), before any
        task; with ``search.inconsistent_cases = "exclude"`` the inconsistent cases
        are left out of case mode.  Returns ``(result, cases)``."""
        v = self.values
        rds = self.rds
        t0 = time.perf_counter()
        res = check_references(self.model, self.refs, cases, rds,
                               Recoder(rds, self.loci, self.model.systems, self.ds_names),
                               v["report"]["consistency_ratio"], v["report"]["identity_lr"])
        res.setting = v["search"]["inconsistent_cases"]
        bad = sorted(c for c, k in res.checks.items() if k.status == "inconsistent")
        if bad and res.setting == "exclude":
            res.excluded = bad
            cases = exclude_cases(cases, set(bad))
            self.notes.append(
                f"reference consistency: {len(bad)} inconsistent cases left out of case mode "
                f"({', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''}; "
                f"search.inconsistent_cases = \"exclude\"; see consistency.parquet)")
        elif bad:
            self.notes.append(
                f"reference consistency: {len(bad)} cases have references that contradict their "
                f"pedigree ({', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''}); they were "
                f"searched: check them before trusting their hits (consistency.parquet)")
        self.timings["consistency_s"] = time.perf_counter() - t0
        return res, cases

    def _note_partial(self, min_loci: int) -> None:
        """List the profiles typed at fewer than ``search.min_loci`` loci: no pair of
        theirs can be reported in the autosomal modes."""
        queries, refs, modes, notes = self.queries, self.refs, self.modes, self.notes
        if min_loci <= 1 or not any(m != Y_MODE for m in modes):
            return
        parts = []
        if len(queries):
            n = queries.n_typed
            low = np.nonzero(n < min_loci)[0]
            if len(low):
                ex = ", ".join(str(queries.ids[i]) for i in low[:5])
                parts.append(f"{len(low)} queries ({ex}{', ...' if len(low) > 5 else ''})")
        if refs is not None and refs.n_typed is not None and len(refs):
            low = np.nonzero(refs.n_typed < min_loci)[0]
            if len(low):
                ex = ", ".join(str(refs.ids[i]) for i in low[:5])
                parts.append(f"{len(low)} reference persons ({ex}{', ...' if len(low) > 5 else ''})")
        if parts:
            notes.append(f"search.min_loci = {min_loci}: {' and '.join(parts)} are typed at fewer loci; "
                         f"no pair of theirs is reported in the autosomal modes (a pair is reported "
                         f"only when compared on at least {min_loci} loci)")

    def _check_theta_cost(self, cases, max_hours: float) -> None:
        """θ > 0: refuse up front a case whose exact table cannot be computed, or a job
        whose case tables are estimated to take longer than ``max_hours`` (one core);
        else note the estimate (:func:`engine.inputs.theta_compile_cost`)."""
        from .inputs import theta_compile_cost

        refs, model, notes = self.refs, self.model, self.notes

        cost = theta_compile_cost(cases, refs, model)
        if not cost["cases"]:
            return
        fix = ("Fix: search with model.theta = 0 and re-check the hits with theta (kinship export "
               "RESULTS --query Q --format familias, or kinship.likelihood_ratio), type more relatives "
               "of the family, or leave such cases out (search.invalid_cases = \"skip\" after "
               "correcting the data)")
        if cost["infeasible"]:
            uid, draws, secs = cost["infeasible"][0]
            raise InputError(
                f"case {uid!r} cannot be compiled exactly at theta = {model.theta:g}: {draws} unknown "
                f"founder alleles (about {secs:.3g} s per locus estimated; "
                f"{len(cost['infeasible'])} such cases). {fix}")
        hours = cost["seconds"] / 3600.0
        uid, secs, draws = cost["worst"]
        if hours > max_hours:
            raise InputError(
                f"compiling the {cost['cases']} case tables at theta = {model.theta:g} is estimated at "
                f"{hours:.3g} hours on one core (the slowest, case {uid!r}: {secs:.3g} s per locus), more "
                f"than execution.max_compile_hours = {max_hours:g}. {fix}, or raise "
                f"execution.max_compile_hours")
        notes.append(f"case mode: {cost['cases']} case tables compiled by the exact theta expansion, "
                     f"estimated {cost['seconds']:.3g} s on one core (slowest: case {uid!r}, "
                     f"{secs:.3g} s per locus)")

    # -- 2. the results directory (under its lock) -----------------------------------------
    def open_output(self) -> None:
        out, v = self.out, self.values
        self.run_notes = []
        remove_stale_temps(out)
        state_kind, info = check_output(out, self.job_key, self.resume, v["output"]["overwrite"])
        self.state_dir = out / STATE
        self.prev_dir = self.state_dir / "prev"
        self.tasks_dir = self.state_dir / "tasks"
        self.run_kind = state_kind
        if state_kind == "overwrite":
            clean_results(out)
            state_kind = "fresh"
        if state_kind == "resume":
            self.run_id = info["run_id"]
            prev = read_prev(self.prev_dir) if info.get("previous") else None
            if info.get("previous") and prev is None:
                raise OutputError(f"{out}: the interrupted run's copy of the earlier results is "
                                  f"missing; set [output] overwrite = true to start over")
            prev_model_key = info.get("prev_model_key")
        else:
            self.run_id = uuid.uuid4().hex
            if self.tasks_dir.exists():
                shutil.rmtree(self.tasks_dir)
            prev = None
            prev_model_key = None
            if state_kind == "incremental":
                prev_model_key = info.get("model_key")
                snapshot(out, self.prev_dir)
                prev = read_prev(self.prev_dir)
            elif self.prev_dir.exists():
                shutil.rmtree(self.prev_dir)
        self.state_kind = state_kind
        if prev is not None and prev.fingerprint_version != FINGERPRINT_VERSION:
            self.run_notes.append("the earlier results were written by a version of strkin that "
                                  "fingerprints profiles differently: every pair was compared again")
            prev = None
        if prev is not None and prev_model_key != self.spec.key:
            self.run_notes.append("the model's allele systems or loci changed since the last run "
                                  "(new alleles or loci in the datasets): every pair was compared "
                                  "again")
            prev = None
        self.prev, self.prev_model_key = prev, prev_model_key
        self.rlog = RunLog(out)
        logged = [(k, d.path, shards(d)) for k, d in (("queries", self.qds), ("references", self.rds))
                  if d is not None]
        if self.yin is not None:
            logged += [(k, d.path, shards(d)) for k, d in self.yin.datasets.items()]
        self.rlog.start(self.run_id, self.run_kind, self.job, software(), logged, self.fsrc)
        log.info("run %s (%s): results in %s; run log %s", self.run_id[:12], self.run_kind, out,
                 self.rlog.path)

    def mark_running(self) -> None:
        """The run state says "running" (what --resume finds if the run is killed)."""
        make_dir(self.tasks_dir)
        atomic_write_json(self.state_dir / "run.json", {
            "status": "running", "run_id": self.run_id, "job_key": self.job_key,
            "model_key": self.spec.key, "job_source": self.job.source, "started": self.started,
            "previous": self.prev is not None, "prev_model_key": self.prev_model_key,
        })

    # -- 3. the tasks of each mode ---------------------------------------------------------
    def plan(self) -> None:
        v, modes, queries, prev, yin = self.values, self.modes, self.queries, self.prev, self.yin
        # the chance values of a unit depend on the dropout of the queries compared with it
        self.qd_tag = qd_tag = query_dropout_tag(queries)
        search = v["search"]
        ex = v["execution"]
        self.cspec = cspec = make_spec(search, v["report"])
        self.ctx = TaskContext(self.spec, search["threshold"], search["top_k"], search["case_top_k"],
                               search["max_inconsistent"], search["line"], chance=cspec,
                               y=yin.ctx if yin is not None else None, device=ex["device"],
                               exclude=self.self_keys or None, min_loci=search["min_loci"],
                               ref_sexes=table_sexes(self.refs.sex) if self.refs is not None else None)
        t0 = time.perf_counter()
        plans = []
        units = {}        # mode -> (kind, ids, fps) of its reference units
        qsets = {}        # mode -> (ids, fps) of its queries
        for mode in modes:
            # a fresh plan needs only the ids' count and fingerprint: the Arrow ids
            q_ids, q_fp, q_kind, m_prev = (queries.ids if prev is not None else queries.id_array,
                                           queries.fp, "query", prev)
            if mode == "case":
                r_ids, r_fp, kind = self.cases.ids, self.cases.fp, "case"
            elif mode == "duplicates":
                r_ids, r_fp, kind = queries.ids, queries.fp, "query"
            elif mode == Y_MODE:
                r_ids, r_fp, kind = yin.r_ids, yin.r_fp, "yperson"
                q_ids, q_fp, q_kind = yin.q_ids, yin.q_fp, "yquery"
                if prev is not None and bytes(prev.units.get("ypopulation", {}).get("", b"")) != \
                        yin.ctx.key.encode():
                    m_prev = None
                    self.run_notes.append(
                        "y-lineage: the population sample of the match probability or a Y setting "
                        "changed since the last run: every y-lineage pair was compared again")
            else:
                r_ids, r_fp, kind = self.refs.ids, self.refs.fp, "person"
            units[mode] = (kind, r_ids, r_fp)
            qsets[mode] = (q_ids, q_fp)
            plans.append(plan_mode(mode, q_ids, q_fp, r_ids, r_fp, kind, m_prev,
                                   search["top_k"], search["case_top_k"], q_kind=q_kind))
        self.plans, self.units, self.qsets = plans, units, qsets
        # chance hits: the sampled units of each mode, and those whose values must be computed
        sampled, need, chance_rows = {}, {}, {}
        if cspec is not None:
            for p in plans:
                if p.mode == Y_MODE:
                    continue
                kind, r_ids, r_fp = units[p.mode]
                smask = sample_mask(kind, r_ids, cspec.units)
                nmask = smask.copy()
                if prev is not None:
                    for i in np.nonzero(smask)[0]:
                        c = prev.chance.get((p.mode, str(r_ids[i])))
                        if c is not None and bytes(c[0]) == chance_fp(r_fp[i], qd_tag):
                            chance_rows[(p.mode, str(r_ids[i]))] = c[1]
                            nmask[i] = False
                sampled[p.mode], need[p.mode] = smask, nmask
        self.sampled, self.need, self.chance_rows = sampled, need, chance_rows
        chunks = {}
        whole = {}      # the chunks of every query, made once per query set (modes share theirs)
        threads = 1 if ex["scheduler"] else int(ex["threads"] or os.cpu_count() or 1)
        for p in plans:
            q_ids, q_fp = qsets[p.mode]
            q_sub_rows = np.nonzero(p.q_sub)[0]
            rank = None if p.mode == Y_MODE else queries.rank
            key = (id(q_ids), id(q_fp), id(rank))
            if key not in whole:
                whole[key] = _query_chunks(q_ids, q_fp, np.arange(len(q_ids), dtype=np.int64),
                                           ex["query_chunk"], rank, threads)
            # a fresh run re-scores every query: its chunks are the same (10^7 queries: 0.5 s
            # of fingerprints once instead of twice)
            sub = whole[key] if len(q_sub_rows) == len(q_ids) else \
                _query_chunks(q_ids, q_fp, q_sub_rows, ex["query_chunk"], rank, threads)
            chunks[p.mode] = [whole[key], sub]
        self.chunks = chunks
        # the bar's total: the work of every task the stream yields (engine.taskbase.work_of),
        # blocks cut as the block readers cut them; a block's tables are compiled by its first task
        total = 0
        compiled = set()
        for p in plans:
            sels, chance_si = self._selections(p)
            sizes = self._block_sizes(p, sels, chance_si)
            ids = units[p.mode][1]
            for si, sel in enumerate(sels):
                u = np.nonzero(sel)[0]
                size = sizes[si]
                for a in range(0, len(u), size):
                    bu = u[a:a + size]
                    n_q = [0] if si == chance_si else [len(r) for r, _ in chunks[p.mode][si]]
                    for i, nq in enumerate(n_q):
                        first = i == 0 and (p.mode, tuple(map(str, ids[bu]))) not in compiled
                        compiled.add((p.mode, tuple(map(str, ids[bu]))))
                        total += work_of(p.mode, "chance" if si == chance_si else "score", len(bu),
                                         nq, first)
        self.total_work = total
        self.timings["plan_s"] = time.perf_counter() - t0
        log.info("phase plan: %.2f s", self.timings["plan_s"])
        for p in plans:
            log.info("mode %s: %s; %d reference units and %d queries to score against everything",
                     p.mode, "incremental" if p.stats.get("incremental") else "full",
                     int(p.r_sub.sum()), int(p.q_sub.sum()))

    def _selections(self, p):
        """The reference-unit selections of a mode's plan: the new or changed units
        (against every query), the unchanged ones (against the new queries), and
        the units whose chance values are to be computed; and the index of the
        last in that list (None when there are none)."""
        sels = [p.r_sub] + ([~p.r_sub] if p.q_sub.any() else [])
        chance_si = None
        if p.mode in self.need and self.need[p.mode].any():
            chance_si = len(sels)
            sels.append(self.need[p.mode])
        return sels, chance_si

    def _block_sizes(self, p, sels, chance_si) -> list:
        """The block size of each selection of :meth:`_selections`: the job's, and
        for the units whose chance values are computed (about 0.3 s of one core
        per hundred units at 23 loci, in one task per block) eighths of them, so
        they spread over the threads instead of ending the search in one task
        while the other threads wait.  The sizes do not depend on the threads or
        the scheduler: the run's tasks are the same whichever way it runs."""
        ex = self.values["execution"]
        size = ex["y_block_size"] if p.mode == Y_MODE else ex["block_size"]
        sizes = [size] * len(sels)
        if chance_si is not None:
            n = int(np.count_nonzero(sels[chance_si]))
            sizes[chance_si] = max(1, min(size, -(-n // CHANCE_TASKS)))
        return sizes

    # -- 4. run the tasks ------------------------------------------------------------------
    def execute(self) -> None:
        ex = self.values["execution"]
        queries, tasks_dir, yin = self.queries, self.tasks_dir, self.yin
        recoder = Recoder(self.rds, self.loci, self.model.systems, self.ds_names) \
            if self.rds is not None else None
        self.recoder = recoder
        self.keys = keys = []
        resumed = [0]
        written = [0]
        compiled = set()
        bar = Progress(self.total_work, ex["progress"] if self.progress is None else self.progress)
        no_rows = np.zeros(0, dtype=np.int64)
        # the tasks an interrupted run finished (engine.output.Checkpoints); this run's
        # are kept in memory and written in batches
        self.checkpoints = ckpt = Checkpoints(tasks_dir, ex["checkpoint_every"])
        done_before = ckpt.done() if self.state_kind == "resume" else {}

        def first_of(mode, block) -> bool:
            k = (mode, tuple(map(str, block.unit_ids)))
            new = k not in compiled
            compiled.add(k)
            return new

        def block_tasks(p, si, block, chance_si) -> list:
            """The tasks of one block, in query-chunk order (those done by an earlier,
            interrupted run counted on the bar and left out)."""
            out = []

            def add(key, kind, task):
                keys.append((p.mode, key, kind))
                if key in done_before:
                    resumed[0] += 1
                    bar(task.work)
                else:
                    out.append(task)

            if si == chance_si:
                key = stable_hash([self.job_key, self.spec.key, p.mode, "chance", block.key]
                                  + ([self.qd_tag] if self.qd_tag else []))[:40]
                add(key, "chance", Task(key, p.mode, block, no_rows, kind="chance",
                                        compiles=first_of(p.mode, block)))
                return out
            for ci, (rows, cfp) in enumerate(self.chunks[p.mode][si]):
                parts = [self.job_key, self.spec.key, p.mode, block.key, cfp]
                if p.mode == Y_MODE:
                    parts.append(yin.ctx.key)
                key = stable_hash(parts)[:40]
                add(key, "score", Task(key, p.mode, block, rows,
                                       compiles=ci == 0 and first_of(p.mode, block)))
            return out

        # in-process, the tasks of `window` blocks are interleaved (chunk 0 of each block,
        # then chunk 1, ...): each thread starts on a block of its own and compiles its
        # tables while the others score, instead of waiting for the one block's tables.
        # The order of tasks does not change the output (engine.merge sorts everything).
        # At most half the per-process block cache (engine.memory.CACHE_BLOCKS), a block
        # taking one entry per distinct query dropout (engine.score): the next window's
        # blocks are compiled while the last chunks of this one still run, and a block
        # evicted before its last chunk would be compiled again for each chunk.
        qd = getattr(queries, "dropout", None)
        n_drop = len(np.unique(np.asarray(qd, dtype=np.float64))) if qd is not None and len(qd) else 1
        window = 1 if ex["scheduler"] else max(1, min(int(ex["threads"] or os.cpu_count() or 1),
                                                      CACHE_BLOCKS // (2 * max(1, n_drop))))

        # in-process, blocks whose tables this process keeps (a warm worker's
        # --keep-tables) are taken from it: when all of a mode's are, the references'
        # genotypes are not read again (engine.inputs.stream_blocks)
        drops = np.unique(np.asarray(qd, dtype=np.float64)).tolist() \
            if qd is not None and len(qd) else [0.0]

        def kept_of(mode, chance_si):
            if ex["scheduler"] or chance_si is not None:
                return None                 # chance tasks read the genotypes
            return lambda key: kept_block(self.ctx, mode, key, drops)

        def task_stream():
            for p in self.plans:
                sels, chance_si = self._selections(p)
                sizes = self._block_sizes(p, sels, chance_si)
                if p.mode == "duplicates":
                    blocks = query_blocks(queries, sels, sizes)
                elif p.mode == Y_MODE:
                    blocks = y_blocks(yin, sels, ex["y_block_size"])
                elif p.mode == "case":
                    blocks = stream_blocks(self.rds, recoder, self.refs, "cases", sels,
                                           sizes, self.cases, kept_of(p.mode, chance_si))
                else:
                    blocks = stream_blocks(self.rds, recoder, self.refs, "persons", sels,
                                           sizes, kept=kept_of(p.mode, chance_si))
                pending = []
                for si, block in blocks:
                    pending.append(block_tasks(p, si, block, chance_si))
                    if len(pending) == window:
                        yield from _interleave(pending)
                        pending = []
                yield from _interleave(pending)

        # this run's task results are merged from memory; their checkpoints are for
        # --resume only, written in batches (engine.output.Checkpoints)
        self.done_here = done_here = {}

        def on_result(task, res):
            # what the merge reads back from a checkpoint: JSON values (the counts' keys
            # are strings, engine.taskbase.count_keys)
            meta = {"query_counts": res.query_counts, "ref_counts": res.ref_counts,
                    "stats": res.stats, "mode": res.mode, "kind": task.kind}
            table = res.table.replace_schema_metadata(None)
            ckpt.add(task.key, table, meta)
            done_here[task.key] = (table, meta)
            written[0] += 1
            log.debug("task %s done: %s %s, %d units x %d queries, %d rows", task.key[:12],
                      task.mode, task.kind, len(task.block), len(task.query_rows),
                      res.table.num_rows)
            _fault(f"task-{written[0]}", ckpt.write)

        t0 = time.perf_counter()
        try:
            self.executor.run(task_stream(), self.ctx, queries, on_result, bar)
        except BaseException:
            # stopped early (cancelled, a task failed, interrupted): the tasks done are
            # written, for --resume
            ckpt.write()
            raise
        finally:
            bar.close()
        self.resumed = resumed[0]
        self.timings["search_s"] = time.perf_counter() - t0
        log.info("phase search: %.2f s", self.timings["search_s"])

    # -- 5. merge --------------------------------------------------------------------------
    def merge(self) -> None:
        v, modes, queries, plans = self.values, self.modes, self.queries, self.plans
        search = v["search"]
        notes = self.run_notes     # notes of the phases after the search: the manifest's
        t0 = time.perf_counter()
        # the run state's units file depends on the inputs only: encoded on another
        # thread while this one merges (engine.state.UnitsAhead)
        self.units_ahead = UnitsAhead(queries, self.refs, self.cases, modes, self.yin)
        sk = self.self_keys or {}
        tables = [drop_self(p.kept, p.mode, sk) for p in plans
                  if p.kept is not None and p.kept.num_rows]
        counts = {}
        for p in plans:
            for side in ("query", "ref"):
                counts[(p.mode, side)] = dict(p.base_counts.get(side, {}))
        stats = {m: {"pairs": 0, "pairs_scored": 0, "locus_lookups": 0, "pairs_not_compared_sex": 0,
                     "tasks": 0} for m in modes}
        n_chance_new = {m: 0 for m in modes}
        chance_rows = self.chance_rows
        for mode, key, kind in self.keys:
            got = self.done_here.pop(key, None)
            if got is None:       # done by an earlier, interrupted run (--resume)
                t, meta = self.checkpoints.load(key)
            else:
                t, meta = got
            if kind == "chance":
                new = rows_from_table(t)
                chance_rows.update(new)
                n_chance_new[mode] += len(new)
                continue
            tables.append(drop_self(t, mode, sk))
            for side, name in (("query", "query_counts"), ("ref", "ref_counts")):
                c = counts[(mode, side)]
                for k, n in meta[name].items():
                    c[k] = c.get(k, 0) + n
            st = stats[mode]
            st["tasks"] += 1
            for k in ("pairs", "pairs_scored", "locus_lookups", "pairs_not_compared_sex"):
                st[k] += int(meta["stats"].get(k, 0))
        hits = merge_hits(tables, search["top_k"], search["case_top_k"], search["prior"])
        units = self.units
        n_cand = {m: (len(units[m][1]) - 1 if m == "duplicates" else len(units[m][1]))
                  for m in modes if m in units}
        hits = search_posteriors(hits, n_cand, search["prior"], search["threshold"], search["top_k"])
        chance, chance_state = {}, None
        if self.cspec is not None:
            chance, chance_state = mode_chances(self.cspec, plans, units, self.sampled, chance_rows,
                                                queries, self.cases, self.spec, search, notes,
                                                self.qd_tag)
            for m in modes:
                if m == Y_MODE:
                    continue
                stats[m]["chance_units_computed"] = n_chance_new[m]
                stats[m]["chance_units_reused"] = int(self.sampled[m].sum()) - n_chance_new[m]
        hits = annotate(hits, chance)
        reader = UnitReader(self.rds, self.recoder, self.refs, self.cases)
        ex = v["execution"]
        hits = partial_chance(hits, chance, self.spec, queries, reader, len(self.loci), notes,
                              v["report"]["chance_partial_max"], search["line"],
                              threads=(ex["threads"] or os.cpu_count() or 1)
                              if not ex["scheduler"] else 1)
        hits = add_alternatives(hits, self.spec, queries, reader, search["line"], notes,
                                which=v["report"]["relationships"],
                                max_hits=v["report"]["relationships_max"])
        if self.yin is not None:
            hits = combine_y(hits, self.yin.relation_of(), search["line"], self.yin.auto_relation)
        self.joint_table = self.joint = None
        if "case" in modes:
            rep = v["report"]
            tj = time.perf_counter()
            hits, self.joint_table, self.joint = add_joint(
                hits, rep["undisputed_threshold"] or search["threshold"], rep["joint_exact_max"],
                same_person(hits))
            self.timings["joint_s"] = time.perf_counter() - tj
        self.timings["merge_s"] = time.perf_counter() - t0
        self.power = None
        if "case" in modes:
            t0 = time.perf_counter()
            ex = v["execution"]
            self.power = run_power(v["report"], search, self.model, reader, self.cases, len(queries),
                                   notes, threads=(ex["threads"] or os.cpu_count() or 1)
                                   if not ex["scheduler"] else 1)
            if self.power is not None:
                self.timings["power_s"] = time.perf_counter() - t0
        log.info("phase merge: %.2f s", self.timings["merge_s"])
        log.info("%d tasks (%d resumed), %d hits, search %.1f s", len(self.keys), self.resumed,
                 hits.num_rows, self.timings["search_s"])
        for m, st in stats.items():
            if st["pairs_not_compared_sex"]:
                notes.append(f"{m}: {st['pairs_not_compared_sex']} query-case pairs not compared: "
                             f"the case has a 'child' reference (the missing person's sex decides "
                             f"the pedigree) and the query's sex is unknown")
        info = {
            "tasks": len(self.keys), "tasks_resumed": self.resumed,
            "executor": self.executor.describe(),
            "modes": {p.mode: dict(stats[p.mode], **p.stats) for p in plans},
            "pairs_total": int(sum(s["pairs"] for s in stats.values())),
            "loci": len(self.loci),
        }
        if self.memory is not None:
            info["memory"] = self.memory
        st = self.timings.get("search_s", 0) or 1e-9
        info["pairs_per_s"] = round(info["pairs_total"] / st, 1)
        self.hits, self.counts, self.info = hits, counts, info
        self.chance, self.chance_state = chance, chance_state

    # -- 6. outputs ------------------------------------------------------------------------
    def write(self) -> RunResult:
        v, out, modes, spec = self.values, self.out, self.modes, self.spec
        queries, refs, cases, checks, yin = self.queries, self.refs, self.cases, self.checks, self.yin
        qds, rds, hits, drop = self.qds, self.rds, self.hits, self.drop
        queries.release_genotypes()    # what follows needs ids and fingerprints (engine.memory)
        search = v["search"]
        job, job_key = self.job, self.job_key
        chance_json = {m: clean_json(ch.to_dict()) for m, ch in self.chance.items()}
        t0 = time.perf_counter()
        prov = {
            "format": RESULTS_FORMAT, "format_version": RESULTS_VERSION,
            "software": {"name": "strkin", "version": software()["strkin"]},
            "job": job.key_material(), "job_key": job_key, "model_key": spec.key,
            "model": self.model.describe(),
            "inputs": {"queries": shards(qds) if qds is not None else None,
                       "references": shards(rds) if rds is not None else None,
                       "frequencies": self.fsrc},
            "chance_hits": chance_json,
        }
        if yin is not None:
            for k, d in yin.datasets.items():
                prov["inputs"][k] = shards(d)
            prov["y_lineage"] = yin.info
        batch = SyncBatch()   # the result files forced to disk in one pass (engine.output)
        drop_info = None
        if drop.active:
            # the dropout used for each sample: dropout.csv, and its counts per value
            atomic_write_bytes(out / DROPOUT_FILE, samples_csv(queries, refs), sync=batch)
            drop_info = dict(drop.describe(), file=DROPOUT_FILE,
                             queries=dropout_counts(queries.dropout),
                             references=dropout_counts(refs.dropout) if refs is not None else {})
            prov["dropout"] = drop_info
        atomic_write_parquet(out / "hits.parquet", hits,
                             {"strkin.search": json.dumps(prov, sort_keys=True, default=str)},
                             sync=batch)
        _fault("hits")
        extra_out = {}
        for name, tab in (("consistency", checks.table if checks is not None else None),
                          ("joint", self.joint_table)):
            path = out / f"{name}.parquet"
            if tab is None:
                if path.exists():
                    path.unlink()
                continue
            atomic_write_parquet(path, tab, {"strkin.search": json.dumps(prov, sort_keys=True,
                                                                         default=str)}, sync=batch)
            extra_out[name] = path
        n_refs = len(refs) if refs is not None else 0
        n_cases = len(cases) if cases is not None else \
            len(set(refs.case_id)) if refs is not None else 0
        sinfo = {
            "version": prov["software"]["version"],
            "frequencies": f"{self.ft.name} ({self.fsrc['name']})",
            "theta": spec.theta,
            "mutation": "none" if spec.mutation is None else json.dumps(spec.mutation.describe()),
            "loci": list(self.loci), "n_queries": len(queries), "n_references": n_refs,
            "n_cases": n_cases,
            "search": search, "modes": modes, "notes": sorted(set(self.notes)),
            "chance": self.chance, "chance_method": v["report"]["chance_method"],
            "y_lineage": yin.info if yin is not None else None,
            "power": self.power,
            "consistency": checks, "joint_table": self.joint_table,
            "joint": self.joint,
        }
        summary = summary_text(hits, sinfo)
        atomic_write_bytes(out / "summary.txt", summary.encode("utf-8"), sync=batch)
        _fault("summary")
        write_state(self.state_dir, queries, refs, cases, modes, self.counts, self.chance_state, yin,
                    sync=batch, units=self.units_ahead)
        _fault("state")
        batch.sync()          # every result file on disk before the manifest names it
        self.timings["write_s"] = time.perf_counter() - t0
        log.info("phase write: %.2f s", self.timings["write_s"])
        self.timings["total_s"] = time.perf_counter() - self.t_start
        from formats.dataset import sha256_file

        manifest = {
            "format": RESULTS_FORMAT, "format_version": RESULTS_VERSION,
            "software": software(),
            "job_source": job.source, "job": job.to_dict(), "job_key": job_key,
            "model_key": spec.key, "model": self.model.describe(),
            "inputs": {
                "queries": None if qds is None else {
                    "path": str(qds.path), "n_queries": len(queries), "shards": shards(qds)},
                "references": None if rds is None else {
                    "path": str(rds.path), "n_references": n_refs,
                    "n_cases": n_cases, "shards": shards(rds)},
                "frequencies": self.fsrc,
                **({} if yin is None else {
                    k: {"path": str(d.path), "n_haplotypes": d.n_profiles, "panel": d.panel.name,
                        "shards": shards(d)} for k, d in yin.datasets.items()}),
            },
            **({} if yin is None else {"y_lineage": yin.info}),
            "outputs": {
                "hits": {"file": "hits.parquet", "rows": hits.num_rows,
                         "sha256": sha256_file(out / "hits.parquet")},
                "summary": {"file": "summary.txt", "sha256": sha256_file(out / "summary.txt")},
                **{k: {"file": p.name, "sha256": sha256_file(p)} for k, p in extra_out.items()},
            },
            **({} if checks is None else {"consistency": checks.counts()}),
            **({} if self.joint is None else {"joint": self.joint}),
            "chance_hits": chance_json,
            **({} if self.power is None else {"power": self.power}),
            **({} if drop_info is None else {"dropout": dict(
                drop_info, sha256=sha256_file(out / DROPOUT_FILE))}),
            "run": dict(self.info, run_id=self.run_id, started=self.started, finished=now(),
                        timings_s={k: round(x, 4) for k, x in self.timings.items()},
                        notes=sorted(set(self.notes)) + self.run_notes,
                        resumed=self.state_kind == "resume"),
        }
        atomic_write_json(out / "manifest.json", manifest)
        _fault("manifest")
        self.rlog.completed(self.timings, hits.num_rows, manifest["run"])
        atomic_write_json(self.state_dir / "run.json", {
            "status": "complete", "run_id": self.run_id, "job_key": job_key,
            "model_key": spec.key, "job_source": job.source, "started": self.started,
            "finished": manifest["run"]["finished"],
        })
        shutil.rmtree(self.tasks_dir, ignore_errors=True)
        shutil.rmtree(self.prev_dir, ignore_errors=True)
        return RunResult(out, hits, manifest, summary)
