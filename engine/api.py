"""``engine.run(job)``: one search run, from a job to ranked hits and a manifest.

The order of work:

1. check the job, load the frequency table, open the datasets, fix the loci and
   the allele systems (:mod:`engine.model`) -- every bad input is reported here,
   before anything is written;
2. load the queries, scan the references (fingerprints, kits, cases);
3. take the output directory's lock, decide between a first run, an
   incremental run (same job, earlier results present) and ``resume``;
4. plan the tasks of each mode (:mod:`engine.plan`), run them (threads or Dask,
   :mod:`engine.execute`), checkpointing each finished task;
5. merge the checkpoints and the still-valid earlier rows (:mod:`engine.merge`),
   write ``hits.parquet``, ``summary.txt``, the run state and ``manifest.json``
   atomically.

A task's checkpoint is named after a hash of everything its output depends on
(model, search settings, mode, the block's units and fingerprints, the query
chunk's), so a restarted run recognises the tasks already done and the merged
output is identical to that of an uninterrupted run.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .alternatives import add_alternatives
from .consistency import check_references, exclude_cases
from .joint import add_joint, same_person
from .partial_chance import partial_chance
from .power import run_phase as run_power
from .chance import (aggregate, annotate, chance_fp, group_label, make_spec, query_dropout_tag,
                     rows_from_table, rows_to_table, sample_mask)
from .dropout import DROPOUT_FILE, Dropout
from .dropout import counts as dropout_counts
from .errors import InputError, JobError, OutputError
from .execute import DaskExecutor, InProcessExecutor, Progress
from .inputs import (FINGERPRINT_VERSION, QuerySet, UnitReader, _add_kit_loci, build_cases, check_kits, load_queries, open_input,
                     query_blocks, scan_references, set_fingerprint, stream_blocks, _strs)
from .compile import prefetch_in_background
from .kernels import warm_up
from .job import PAIRWISE_MODES, Y_MODE, Job, load_job, stable_hash
from .model import ModelSpec, Recoder, get_model, load_frequencies
from .output import (OUR_FILES, STATE, CheckpointSync, RunLock, atomic_write_bytes, atomic_write_json,
                     atomic_write_parquet, checkpoint_ok,
                     clean_results, read_json)
from formats.perms import make_dir

from .merge import merge_hits, search_posteriors
from .plan import PrevState, plan_mode
from .report import summary_text
from .runlog import RUN_LOG, RunLog
from .task import Task, TaskContext, work_of
from .ylineage import combine as combine_y
from .ylineage import load_y_inputs, relation_clashes, y_blocks

__all__ = ["run", "RunResult", "RESULTS_FORMAT", "RESULTS_VERSION"]

log = logging.getLogger("engine")

RESULTS_FORMAT = "strkin-search-results"
RESULTS_VERSION = 1


@dataclass
class RunResult:
    """What :func:`run` returns: the ranked hits, the manifest and where they are."""

    path: Path
    hits: pa.Table
    manifest: dict
    summary: str

    def __repr__(self):
        return f"RunResult({str(self.path)!r}, {self.hits.num_rows} hits)"


def _note_partial(queries, refs, min_loci: int, modes, notes: list) -> None:
    """List the profiles typed at fewer than ``search.min_loci`` loci: no pair of
    theirs can be reported in the autosomal modes."""
    if min_loci <= 1 or not any(m != Y_MODE for m in modes):
        return
    parts = []
    if len(queries):
        n = (queries.codes[:, :, 0] >= 0).sum(axis=1)
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


def _check_theta_cost(cases, refs, model, max_hours: float, notes: list) -> None:
    """θ > 0: refuse up front a case whose exact table cannot be computed, or a job
    whose case tables are estimated to take longer than ``max_hours`` (one core);
    else note the estimate (:func:`engine.inputs.theta_compile_cost`)."""
    from .inputs import theta_compile_cost

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


def _fault(point: str):
    """Fault injection for the tests: ``STRKIN_ENGINE_KILL_AT=<point>`` kills this
    process with SIGKILL at that point (``task-N``: after the N-th checkpoint;
    ``hits``, ``summary``, ``state``, ``manifest``: after writing that output)."""
    if os.environ.get("STRKIN_ENGINE_KILL_AT") == point:  # pragma: no cover - dies
        os.kill(os.getpid(), signal.SIGKILL)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _software() -> dict:
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


def _as_job(job, base_dir=None) -> Job:
    if isinstance(job, Job):
        return job
    if isinstance(job, (str, os.PathLike)):
        return load_job(job)
    if isinstance(job, dict):
        return Job.from_dict(job, base_dir=base_dir)
    raise JobError(f"a job is a path to a TOML file, a dict or an engine.Job, got {type(job).__name__}")


def _shards(ds) -> list:
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


#: least number of typed loci for two profiles with one fingerprint to count as the
#: same person under two ids (identical partial profiles of a few loci can be relatives)
SELF_MIN_LOCI = 8


def _isin_ids(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[i] in b`` for sample ids (a hash lookup in Arrow: sorting a million
    Python strings, as ``np.intersect1d`` did, took seconds)."""
    import pyarrow.compute as pc

    if not len(a) or not len(b):
        return np.zeros(len(a), dtype=bool)
    return pc.is_in(pa.array(a, pa.string()),
                    value_set=pa.array(b, pa.string())).to_numpy(zero_copy_only=False)


def _isin_fp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[i] in b`` for 16-byte fingerprints: the first 8 bytes as integers
    (``np.isin``), the whole 16 bytes checked for the candidates."""
    out = np.zeros(len(a), dtype=bool)
    if not len(a) or not len(b):
        return out
    av = np.ascontiguousarray(a, dtype="S16").view(np.uint64).reshape(-1, 2)
    bv = np.ascontiguousarray(b, dtype="S16").view(np.uint64).reshape(-1, 2)
    idx = np.nonzero(np.isin(av[:, 0], bv[:, 0]))[0]
    if len(idx):
        whole = set(map(tuple, bv.tolist()))
        out[idx] = [tuple(x) in whole for x in av[idx].tolist()]
    return out


def _self_pairs(queries, refs) -> tuple[dict, list]:
    """Queries that are also references: the same sample id, or an identical profile
    (same fingerprint: genotypes and sex, at least ``SELF_MIN_LOCI`` typed loci)
    under another id.  Returns ``({"id": [(q, r)...], "profile": [...]}, notes)``
    with query and reference indices; such pairs are never scored as relatives."""
    out = {"id": [], "profile": []}
    if refs is None or len(queries) == 0 or len(refs) == 0:
        return out, []
    q_ids = np.asarray(queries.ids, dtype=object)
    r_ids = np.asarray(refs.ids, dtype=object)
    in_r = _isin_ids(q_ids, r_ids)
    if in_r.any():
        qi = {str(q_ids[i]): int(i) for i in np.nonzero(in_r)[0]}
        for j in np.nonzero(_isin_ids(r_ids, q_ids[in_r]))[0]:
            out["id"].append((qi[str(r_ids[j])], int(j)))
    typed = (queries.codes[:, :, 0] >= 0).sum(axis=1) if queries.codes.size else \
        np.zeros(len(queries), dtype=int)
    qfp = np.asarray(queries.gfp, dtype="S16")     # genotypes and sex (not the dropout)
    rfp = np.asarray(refs.gfp, dtype="S16")
    qm = (typed >= SELF_MIN_LOCI) & _isin_fp(qfp, rfp)
    if qm.any():
        by_fp: dict = {}
        for i in np.nonzero(qm)[0]:
            by_fp.setdefault(bytes(qfp[i]), []).append(int(i))
        for j in np.nonzero(_isin_fp(rfp, qfp[qm]))[0]:
            for i in by_fp.get(bytes(rfp[j]), []):
                if str(q_ids[i]) != str(r_ids[j]):
                    out["profile"].append((i, int(j)))
    notes = []
    if out["id"]:
        ex = ", ".join(sorted({q_ids[i] for i, _ in out["id"]})[:5])
        notes.append(f"{len(out['id'])} queries are also references under the same sample id "
                     f"({ex}{', ...' if len(out['id']) > 5 else ''}): a sample is never compared "
                     f"with itself; these pairs were not scored in any mode. Fix: give the query "
                     f"and the reference sample different ids if they are different samples")
    if out["profile"]:
        ex = ", ".join(f"{q_ids[i]} = {r_ids[j]}" for i, j in out["profile"][:5])
        notes.append(f"{len(out['profile'])} queries have a profile identical to a reference "
                     f"under another id ({ex}{', ...' if len(out['profile']) > 5 else ''}; "
                     f"at least {SELF_MIN_LOCI} loci): the same person, so these pairs were not "
                     f"scored as relatives (case and kinship modes); identity mode reports them")
    return out, notes


def _self_keys(selfp, queries, refs) -> dict:
    """Per mode, the keys ``query_id \x1f other side`` of the hits to drop."""
    if not selfp or not (selfp["id"] or selfp["profile"]):
        return {}
    q = np.asarray(queries.ids, dtype=object)
    r = np.asarray(refs.ids, dtype=object)
    rc = np.asarray(refs.case_id, dtype=object)
    both = selfp["id"] + selfp["profile"]
    person_all = {f"{q[i]}\x1f{r[j]}" for i, j in both}
    person_id = {f"{q[i]}\x1f{r[j]}" for i, j in selfp["id"]}
    case = {f"{q[i]}\x1f{rc[j]}" for i, j in both if str(rc[j])}
    keys = {m: person_all for m in PAIRWISE_MODES if m != "identity"}
    keys["identity"] = person_id
    keys["case"] = case
    return keys


def _drop_self(table: pa.Table, mode: str, keys: dict) -> pa.Table:
    """``table`` without the rows of pairs in ``keys[mode]`` (see :func:`_self_keys`)."""
    ks = keys.get(mode)
    if not ks or table.num_rows == 0:
        return table
    import pyarrow.compute as pc

    other = table.column("case_id" if mode == "case" else "reference_id")
    joined = pc.binary_join_element_wise(table.column("query_id"), other, "\x1f")
    drop = pc.is_in(joined, value_set=pa.array(sorted(ks), pa.string()))
    return table.filter(pc.invert(drop.fill_null(False) if hasattr(drop, "fill_null") else drop))


def _resolve_loci(job, ft, qds, rds):
    import kinship

    ds_loci = list(dict.fromkeys(list(qds.loci) + (list(rds.loci) if rds is not None else [])))
    wanted = ds_loci
    if job["inputs"]["loci"]:
        wanted = []
        for raw in job["inputs"]["loci"]:
            try:
                c = kinship.canonical_locus(raw, extra=tuple(ds_loci))
            except kinship.LocusError:
                c = raw
            if c not in ds_loci:
                raise InputError(
                    f"inputs.loci names {raw!r}, but no profile of the datasets is typed at it "
                    f"(their loci: {', '.join(ds_loci)}). Fix: correct the locus name or remove it"
                )
            if c not in wanted:
                wanted.append(c)
    missing = [l for l in wanted if l not in ft]
    if missing:
        have = [l for l in wanted if l in ft]
        raise InputError(
            f"frequency table {ft.name!r} has no locus {', '.join(missing)}, which the profiles "
            f"are typed at. Fix: use a frequency table that covers "
            f"{'it' if len(missing) == 1 else 'them'} (inputs.frequencies), or leave "
            f"{'it' if len(missing) == 1 else 'them'} out with [inputs] loci = "
            f"[{', '.join(repr(l) for l in have)}]"
        )
    pairs = sorted(((ft.resolve_locus(l), l) for l in wanted), key=lambda p: p[0].lower())
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _check_output(out: Path, job_key: str, resume: bool, overwrite: bool):
    """What the output directory holds: ("fresh" | "incremental" | "resume", info)."""
    if not out.exists():
        return "fresh", None
    if not out.is_dir():
        raise OutputError(f"output.path {out} exists and is not a directory; give a directory path")
    manifest = read_json(out / "manifest.json")
    runj = read_json(out / STATE / "run.json")
    ours = set(OUR_FILES) | {RUN_LOG}   # the run log is kept across runs (engine.runlog)
    foreign = [p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith(".")]
    if manifest is None and runj is None:
        if foreign:
            raise OutputError(
                f"output.path {out} is not empty ({', '.join(sorted(foreign)[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}) and holds no search results. Fix: give "
                f"an empty or new directory as [output] path"
            )
        return "fresh", None
    for d in (manifest, runj):
        if d is not None and d.get("_unreadable"):
            raise OutputError(
                f"output.path {out}: the run manifest or state is damaged. Fix: give a new [output] "
                f"path, or set [output] overwrite = true to replace these results"
            )
    if runj is not None and runj.get("status") == "running" and \
            not (manifest is not None and manifest.get("run", {}).get("run_id") == runj.get("run_id")):
        if runj.get("job_key") != job_key:
            if overwrite:
                return "overwrite", None
            raise OutputError(
                f"output.path {out} holds an interrupted run of another job (started "
                f"{runj.get('started', '?')} from {runj.get('job_source', '?')}). Fix: give this job "
                f"a new [output] path, or resume that job with 'kinship search THAT_JOB.toml "
                f"--resume', or set [output] overwrite = true to discard it"
            )
        if not resume and overwrite:
            return "overwrite", None
        if not resume:
            raise OutputError(
                f"output.path {out} holds an interrupted run of this job (started "
                f"{runj.get('started', '?')}). Fix: run again with --resume (engine.run(job, "
                f"resume=True)) to finish it, or set [output] overwrite = true to start over"
            )
        return "resume", runj
    if manifest is not None:
        if manifest.get("format") != RESULTS_FORMAT:
            raise OutputError(f"output.path {out}: manifest.json is not a strkin search manifest; "
                              f"give a new [output] path")
        if manifest.get("job_key") != job_key:
            if overwrite:
                return "overwrite", None
            raise OutputError(
                f"output.path {out} holds the results of another run (job "
                f"{manifest.get('job_source', '?')}, finished {manifest.get('run', {}).get('finished', '?')}"
                f"; its model, search settings or inputs differ from this job's). Fix: give this job "
                f"a new [output] path, or set [output] overwrite = true to replace those results"
            )
        return "incremental", manifest
    return "fresh", None


def _read_prev(d: Path) -> PrevState | None:
    try:
        hits = pq.read_table(d / "hits.parquet")
        units_t = pq.read_table(d / "units.parquet")
        counts_t = pq.read_table(d / "counts.parquet")
    except (FileNotFoundError, OSError, pa.ArrowException):
        return None
    units: dict = {}
    for k, i, f in zip(*(units_t.column(c).to_pylist() for c in ("kind", "id", "fp"))):
        units.setdefault(k, {})[i] = f
    counts: dict = {}
    for m, s, i, n in zip(*(counts_t.column(c).to_pylist() for c in ("mode", "side", "id", "n"))):
        counts.setdefault((m, s), {})[i] = n
    chance: dict = {}
    try:
        ct = pq.read_table(d / "chance.parquet")
        fps = ct.column("fp").to_pylist()
        rows = rows_from_table(ct.drop_columns(["fp"]))
        for (key, r), f in zip(rows.items(), _first_fps(ct, fps)):
            chance[key] = (f, r)
    except (FileNotFoundError, OSError, pa.ArrowException, KeyError):
        chance = {}  # results of an earlier version: chance hits are computed again
    meta = units_t.schema.metadata or {}
    fpv = int(meta.get(b"strkin.fingerprint_version", b"1"))
    return PrevState(hits, units, counts, chance, fingerprint_version=fpv)


def _first_fps(t: pa.Table, fps: list) -> list:
    """The fingerprint of each (mode, unit) of a chance-state table, in the order
    :func:`engine.chance.rows_from_table` lists them."""
    seen = {}
    for m, u, f in zip(t.column("mode").to_pylist(), t.column("unit").to_pylist(), fps):
        seen.setdefault((m, u), f)
    return list(seen.values())


def _snapshot(out: Path, dst: Path):
    make_dir(dst)
    for src in (out / "hits.parquet", out / STATE / "units.parquet", out / STATE / "counts.parquet",
                out / STATE / "chance.parquet", out / "manifest.json"):
        if src.exists():
            atomic_write_bytes(dst / src.name, src.read_bytes())


def run(job, *, resume: bool = False, progress=None, base_dir=None) -> RunResult:
    """Run a search job and return its :class:`RunResult`.

    ``job``: a path to a TOML job file, a dict with the same structure, or a
    :class:`~engine.job.Job`.  ``resume``: finish an interrupted run of the same
    job in the same output directory.  ``progress``: override
    ``execution.progress`` (True/False/"auto").  ``base_dir``: directory that
    relative paths of a dict job are relative to (default: the current one).

    BLAS runs single-threaded for the run (restored after): a matrix product
    split over several BLAS threads can round differently from one on a single
    thread, and Dask starts its workers with one BLAS thread, so this is what makes
    an in-process run write the same bytes as a Dask run whatever the core count
    (``tests/engine/test_engine_bytes.py``).  The engine's own task threads are
    the parallelism.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _run(job, resume=resume, progress=progress, base_dir=base_dir)


def _run(job, *, resume: bool, progress, base_dir) -> RunResult:
    t_start = time.perf_counter()
    timings = {}
    started = _now()
    job = _as_job(job, base_dir)
    v = job.values
    modes = job.modes
    search = v["search"]

    # -- 1. model and inputs (errors before any work) ---------------------------------
    t0 = time.perf_counter()
    ft, fsrc = load_frequencies(job)
    auto_modes = [m for m in modes if m != Y_MODE]
    in_process = not v["execution"]["scheduler"]
    if in_process and auto_modes:
        warm_up()     # load the scoring kernels while the job's inputs are opened and read
    qds = open_input(job, "queries") if auto_modes else None
    need_refs = any(m not in ("duplicates", Y_MODE) for m in modes)
    rds = None
    if need_refs:
        same = job.path(v["inputs"]["references"]).resolve() == job.path(v["inputs"]["queries"]).resolve()
        rds = qds if same else open_input(job, "references")
    loci, ds_names, extra = [], [], {}
    if qds is not None:
        loci, ds_names = _resolve_loci(job, ft, qds, rds)
    for l, d in zip(loci, ds_names):
        labs = set(qds.alleles.get(d, ()))
        if rds is not None:
            labs |= set(rds.alleles.get(d, ()))
        extra[l] = sorted(labs)
    drop = Dropout(job)
    for ds in {id(x): x for x in (qds, rds) if x is not None}.values():
        if hasattr(ds, "sample_dropout"):
            drop.add_stated(ds.sample_dropout())
    try:
        spec = ModelSpec(ft, tuple(loci), job.mutation, v["model"]["theta"], extra,
                         dropin=drop.dropin, table_cache=job.table_cache())
    except (KeyError, ValueError) as e:
        raise InputError(f"the model cannot be built from the frequency table and the profiles: {e}. "
                         f"Fix: set [model] min_allele_freq for alleles absent from the table") from None
    model = get_model(spec)

    def drop_of(which):
        # the run's per-sample dropout (engine.dropout); None: the model is off
        if not drop.active:
            return None
        return lambda ids, codes: drop.of(which, ids, codes, model.systems)

    yin = load_y_inputs(job) if Y_MODE in modes else None
    job_key = stable_hash({"job": job.key_material(), "frequencies": ft.checksum(),
                           "results_version": RESULTS_VERSION})
    out = job.output_path
    state_kind, _ = _check_output(out, job_key, resume, v["output"]["overwrite"])
    kit_loci: dict = {}
    refs = cases = checks = None
    notes = list(yin.notes) if yin is not None else []
    if yin is None and any(v["inputs"][k] for k in ("y_queries", "y_references", "y_population")):
        notes.append("inputs.y_queries / y_references are given but search.modes has no y-lineage: "
                     "the Y haplotypes were not searched")
    if need_refs:
        refs = scan_references(rds, Recoder(rds, loci, model.systems, ds_names), kit_loci,
                               dropout=drop_of("references"))
        if len(refs) == 0:
            raise InputError(
                f"inputs.references: dataset {rds.path} has no reference profiles (kind=reference). "
                f"Fix: import the relatives with kind 'reference', case_id and relation, or point "
                f"inputs.references at the dataset that holds them"
            )
    if "case" in modes:
        cases = build_cases(refs, search["invalid_cases"], rds.cases())
        checks, cases = _consistency(job, model, refs, cases, rds, loci, ds_names, notes, timings)
        _check_theta_cost(cases, refs, model, v["execution"]["max_compile_hours"], notes)
    if in_process and auto_modes:
        # the model's tables for these references, built while the queries load
        prefetch_in_background(model, spec.sex_dependent, modes, search["line"], refs, cases)
    if qds is not None:
        queries = load_queries(qds, Recoder(qds, loci, model.systems, ds_names),
                               dropout=drop_of("queries"))
    else:
        queries = _no_queries()
    _add_kit_loci(kit_loci, queries.kit, queries.codes)
    check_kits(kit_loci, loci, search["mixed_kits"])
    selfp, self_notes = _self_pairs(queries, refs) if need_refs and qds is not None else ({}, [])
    notes.extend(self_notes)
    for n in self_notes:
        log.warning("%s", n)
    if yin is not None and refs is not None:
        yin.auto_relation = {str(i): (str(c), str(r))
                             for i, c, r in zip(refs.ids, refs.case_id, refs.relation)}
        clash = relation_clashes(yin.relation_of(), yin.auto_relation)
        if clash:
            notes.append(f"y-lineage: {len(clash)} reference men have another case or relation in "
                         f"the autosomal references than in the Y references "
                         f"({', '.join(clash[:5])}{', ...' if len(clash) > 5 else ''}); their Y "
                         f"hits are not combined with autosomal evidence. Fix: correct the "
                         f"samples manifest of one of the datasets")
    _note_partial(queries, refs, search["min_loci"], modes, notes)
    if drop.active and qds is not None:
        notes.append(_dropout_note(drop, queries, refs))
        known = set(np.asarray(queries.ids, dtype=object).astype(str).tolist())
        if refs is not None:
            known |= set(np.asarray(refs.ids, dtype=object).astype(str).tolist())
        unknown = sorted(set(drop.per_sample) - known)
        if unknown:
            notes.append(f"model.dropout_samples: {len(unknown)} samples of the file are in no "
                         f"dataset of this run ({', '.join(unknown[:5])}"
                         f"{', ...' if len(unknown) > 5 else ''}); their values were not used")
    if "case" in modes:
        notes.extend(cases.notes)
        if len(cases) == 0:
            notes.append("case mode: no reference has a relation that places it on a case pedigree")
        n_child = int(cases.needs_sex.sum())
        n_unknown = int(np.count_nonzero(queries.sex == ""))
        if n_child and n_unknown and spec.sex_dependent:
            notes.append(f"case mode: {n_unknown} queries of unknown sex are not compared with the "
                         f"{n_child} cases that have a 'child' reference (the missing person's sex "
                         f"decides whether M is the child's father or mother, and the female and "
                         f"male mutation models differ)")
    ex = v["execution"]
    executor = DaskExecutor(ex["scheduler"]) if ex["scheduler"] else InProcessExecutor(ex["threads"])
    executor.start()
    timings["prepare_s"] = time.perf_counter() - t0
    log.info("phase prepare: %.2f s", timings["prepare_s"])
    if checks is not None:
        log.info("reference consistency: %d cases checked in %.1f s, %d inconsistent",
                 len(checks.checks), timings["consistency_s"], checks.counts()["inconsistent"])
    log.info("search %s: %d queries, %d reference persons, %d cases, %d loci, modes %s",
             job.source, len(queries), len(refs) if refs is not None else 0,
             len(cases) if cases is not None else 0, len(loci), ", ".join(modes))
    if yin is not None:
        log.info("y-lineage: %d query men, %d reference men, %d loci", len(yin.q_ids),
                 len(yin.r_ids), len(yin.ctx.panel.compare_slots))

    # -- 2. output directory, plan -----------------------------------------------------
    try:
        return _run_locked(job, job_key, spec, model, queries, refs, cases, qds, rds, ds_names,
                           loci, ft, fsrc, out, resume, progress, notes, timings, executor,
                           started, t_start, yin, _self_keys(selfp, queries, refs), drop,
                           checks)
    except OSError as e:
        raise OutputError(_os_message(e, out)) from None
    finally:
        executor.close()


def _consistency(job, model, refs, cases, rds, loci, ds_names, notes, timings):
    """Reference consistency of every case (:mod:`engine.consistency`), before any
    task; with ``search.inconsistent_cases = "exclude"`` the inconsistent cases are
    left out of case mode.  Returns ``(result, cases)``."""
    v = job.values
    t0 = time.perf_counter()
    res = check_references(model, refs, cases, rds, Recoder(rds, loci, model.systems, ds_names),
                           v["report"]["consistency_ratio"], v["report"]["identity_lr"],
                           v["execution"]["block_size"])
    res.setting = v["search"]["inconsistent_cases"]
    bad = sorted(c for c, k in res.checks.items() if k.status == "inconsistent")
    if bad and res.setting == "exclude":
        res.excluded = bad
        cases = exclude_cases(cases, set(bad))
        notes.append(f"reference consistency: {len(bad)} inconsistent cases left out of case mode "
                     f"({', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''}; "
                     f"search.inconsistent_cases = \"exclude\"; see consistency.parquet)")
    elif bad:
        notes.append(f"reference consistency: {len(bad)} cases have references that contradict "
                     f"their pedigree ({', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''}); "
                     f"they were searched: check them before trusting their hits "
                     f"(consistency.parquet)")
    timings["consistency_s"] = time.perf_counter() - t0
    return res, cases


def _os_message(e: OSError, out: Path) -> str:
    """One line for a failed write to the results directory: what happened, and that
    the state is intact (every file is written atomically; task checkpoints are
    whole or absent)."""
    import errno

    where = f" ({os.path.basename(e.filename)})" if getattr(e, "filename", None) else ""
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied"}.get(e.errno, e.strerror or type(e).__name__)
    if not (out / STATE / "run.json").exists():
        state = "nothing was written"
    else:
        state = ("the results directory is intact: no file is half-written, finished tasks are "
                 "kept")
    fix = {errno.ENOSPC: "free disk space (or set [output] path on another disk), then run "
                         "again with --resume",
           errno.EDQUOT: "free space within the quota, then run again with --resume",
           errno.EROFS: "give an [output] path on a writable file system",
           errno.EACCES: "give an [output] path this user may write to, or fix its permissions",
           errno.EPERM: "give an [output] path this user may write to, or fix its permissions"
           }.get(e.errno, "fix the cause, then run again with --resume")
    return f"cannot write the results to {out}{where}: {what}; {state}. Fix: {fix}"


def _no_queries() -> QuerySet:
    """The (empty) autosomal query set of a job whose only mode is y-lineage."""
    return QuerySet(np.zeros(0, dtype=object), np.zeros(0, dtype=object), np.zeros(0, dtype=object),
                    np.zeros((0, 0, 2), dtype=np.int16), np.zeros((0, 0), dtype=np.int32),
                    np.zeros(0, dtype="S16"))


def _y_shards(ds) -> list:
    return _shards(ds)


def _remove_stale_temps(out: Path) -> None:
    """Temporary files left by a run that was killed while writing (the lock is held,
    so no other run is writing them)."""
    import contextlib

    for d in (out, out / STATE, out / STATE / "tasks", out / STATE / "prev"):
        if d.is_dir():
            for p in d.glob(".*.tmp-*"):
                with contextlib.suppress(OSError):
                    p.unlink()


def _run_locked(job, job_key, spec, model, queries, refs, cases, qds, rds, ds_names, loci, ft,
                fsrc, out, resume, progress, notes, timings, executor, started, t_start, yin=None,
                self_keys=None, drop=None, checks=None):
    v = job.values
    modes = job.modes
    search = v["search"]
    run_notes: list = []  # about this run, not the results: manifest only
    make_dir(out)
    with RunLock(out):
        _remove_stale_temps(out)
        state_kind, info = _check_output(out, job_key, resume, v["output"]["overwrite"])
        state_dir = out / STATE
        prev_dir = state_dir / "prev"
        tasks_dir = state_dir / "tasks"
        run_kind = state_kind
        if state_kind == "overwrite":
            clean_results(out)
            state_kind = "fresh"
        if state_kind == "resume":
            run_id = info["run_id"]
            prev = _read_prev(prev_dir) if info.get("previous") else None
            if info.get("previous") and prev is None:
                raise OutputError(f"{out}: the interrupted run's copy of the earlier results is "
                                  f"missing; set [output] overwrite = true to start over")
            prev_model_key = info.get("prev_model_key")
        else:
            run_id = uuid.uuid4().hex
            if tasks_dir.exists():
                shutil.rmtree(tasks_dir)
            prev = None
            prev_model_key = None
            if state_kind == "incremental":
                prev_model_key = info.get("model_key")
                _snapshot(out, prev_dir)
                prev = _read_prev(prev_dir)
            elif prev_dir.exists():
                shutil.rmtree(prev_dir)
        if prev is not None and prev.fingerprint_version != FINGERPRINT_VERSION:
            run_notes.append("the earlier results were written by a version of strkin that "
                             "fingerprints profiles differently: every pair was compared again")
            prev = None
        if prev is not None and prev_model_key != spec.key:
            run_notes.append("the model's allele systems or loci changed since the last run (new alleles "
                         "or loci in the datasets): every pair was compared again")
            prev = None
        rlog = RunLog(out)
        logged = [(k, d.path, _shards(d)) for k, d in (("queries", qds), ("references", rds))
                  if d is not None]
        if yin is not None:
            logged += [(k, d.path, _y_shards(d)) for k, d in yin.datasets.items()]
        rlog.start(run_id, run_kind, job, _software(), logged, fsrc)
        log.info("run %s (%s): results in %s; run log %s", run_id[:12], run_kind, out, rlog.path)
        with rlog.guard(timings):
            make_dir(tasks_dir)
            atomic_write_json(state_dir / "run.json", {
                "status": "running", "run_id": run_id, "job_key": job_key, "model_key": spec.key,
                "job_source": job.source, "started": started, "previous": prev is not None,
                "prev_model_key": prev_model_key,
            })
            result = _execute(job, job_key, spec, model, queries, refs, cases, rds, ds_names, loci,
                              prev, out, tasks_dir, progress, run_notes, timings, executor, yin,
                              self_keys, drop)
            hits, run_info = result
            chance_json = {m: _clean_json(ch.to_dict()) for m, ch in run_info["chance"].items()}

            # -- 3. outputs ------------------------------------------------------------------
            t0 = time.perf_counter()
            prov = {
                "format": RESULTS_FORMAT, "format_version": RESULTS_VERSION,
                "software": {"name": "strkin", "version": _software()["strkin"]},
                "job": job.key_material(), "job_key": job_key, "model_key": spec.key,
                "model": model.describe(),
                "inputs": {"queries": _shards(qds) if qds is not None else None,
                           "references": _shards(rds) if rds is not None else None,
                           "frequencies": fsrc},
                "chance_hits": chance_json,
            }
            if yin is not None:
                for k, d in yin.datasets.items():
                    prov["inputs"][k] = _y_shards(d)
                prov["y_lineage"] = yin.info
            drop_info = None
            if drop is not None and drop.active:
                # the dropout used for each sample: dropout.csv, and its counts per value
                atomic_write_bytes(out / DROPOUT_FILE, _dropout_csv(queries, refs))
                drop_info = dict(drop.describe(), file=DROPOUT_FILE,
                                 queries=dropout_counts(queries.dropout),
                                 references=dropout_counts(refs.dropout) if refs is not None else {})
                prov["dropout"] = drop_info
            atomic_write_parquet(out / "hits.parquet", hits,
                                 {"strkin.search": json.dumps(prov, sort_keys=True, default=str)})
            _fault("hits")
            extra_out = {}
            for name, tab in (("consistency", checks.table if checks is not None else None),
                              ("joint", run_info.get("joint_table"))):
                path = out / f"{name}.parquet"
                if tab is None:
                    if path.exists():
                        path.unlink()
                    continue
                atomic_write_parquet(path, tab, {"strkin.search": json.dumps(prov, sort_keys=True,
                                                                             default=str)})
                extra_out[name] = path
            n_refs = len(refs) if refs is not None else 0
            sinfo = {
                "version": prov["software"]["version"], "frequencies": f"{ft.name} ({fsrc['name']})",
                "theta": spec.theta,
                "mutation": "none" if spec.mutation is None else json.dumps(spec.mutation.describe()),
                "loci": list(loci), "n_queries": len(queries), "n_references": n_refs,
                "n_cases": len(cases) if cases is not None else len(set(refs.case_id)) if refs is not None else 0,
                "search": search, "modes": modes, "notes": sorted(set(notes)),
                "chance": run_info["chance"], "chance_method": v["report"]["chance_method"],
                "y_lineage": yin.info if yin is not None else None,
                "power": run_info.get("power"),
                "consistency": checks, "joint_table": run_info.get("joint_table"),
                "joint": run_info.get("joint"),
            }
            summary = summary_text(hits, sinfo)
            atomic_write_bytes(out / "summary.txt", summary.encode("utf-8"))
            _fault("summary")
            _write_state(state_dir, queries, refs, cases, modes, run_info["counts"],
                         run_info["chance_state"], yin)
            _fault("state")
            timings["write_s"] = time.perf_counter() - t0
            log.info("phase write: %.2f s", timings["write_s"])
            timings["total_s"] = time.perf_counter() - t_start
            from formats.dataset import sha256_file

            manifest = {
                "format": RESULTS_FORMAT, "format_version": RESULTS_VERSION,
                "software": _software(),
                "job_source": job.source, "job": job.to_dict(), "job_key": job_key,
                "model_key": spec.key, "model": model.describe(),
                "inputs": {
                    "queries": None if qds is None else {
                        "path": str(qds.path), "n_queries": len(queries), "shards": _shards(qds)},
                    "references": None if rds is None else {
                        "path": str(rds.path), "n_references": n_refs,
                        "n_cases": sinfo["n_cases"], "shards": _shards(rds)},
                    "frequencies": fsrc,
                    **({} if yin is None else {
                        k: {"path": str(d.path), "n_haplotypes": d.n_profiles, "panel": d.panel.name,
                            "shards": _y_shards(d)} for k, d in yin.datasets.items()}),
                },
                **({} if yin is None else {"y_lineage": yin.info}),
                "outputs": {
                    "hits": {"file": "hits.parquet", "rows": hits.num_rows,
                             "sha256": sha256_file(out / "hits.parquet")},
                    "summary": {"file": "summary.txt", "sha256": sha256_file(out / "summary.txt")},
                    **{k: {"file": p.name, "sha256": sha256_file(p)} for k, p in extra_out.items()},
                },
                **({} if checks is None else {"consistency": checks.counts()}),
                **({} if run_info.get("joint") is None else {"joint": run_info["joint"]}),
                "chance_hits": chance_json,
                **({} if run_info.get("power") is None else {"power": run_info["power"]}),
                **({} if drop_info is None else {"dropout": dict(
                    drop_info, sha256=sha256_file(out / DROPOUT_FILE))}),
                "run": dict(run_info["run"], run_id=run_id, started=started, finished=_now(),
                            timings_s={k: round(x, 4) for k, x in timings.items()},
                            notes=sorted(set(notes)) + run_notes, resumed=state_kind == "resume"),
            }
            atomic_write_json(out / "manifest.json", manifest)
            _fault("manifest")
            rlog.completed(timings, hits.num_rows, manifest["run"])
            atomic_write_json(state_dir / "run.json", {
                "status": "complete", "run_id": run_id, "job_key": job_key, "model_key": spec.key,
                "job_source": job.source, "started": started, "finished": manifest["run"]["finished"],
            })
            shutil.rmtree(tasks_dir, ignore_errors=True)
            shutil.rmtree(prev_dir, ignore_errors=True)
    return RunResult(out, hits, manifest, summary)


def _dropout_note(drop, queries, refs) -> str:
    """The summary's sentence on the dropout model (docs/dropout.md)."""
    def spread(d):
        d = np.asarray(d, dtype=np.float64)
        if len(d) == 0:
            return "none"
        u = np.unique(d)
        return f"{u[0]:g}" if len(u) == 1 else f"{u.min():g} to {u.max():g} ({len(u)} values)"

    refs_d = spread(refs.dropout) if refs is not None else "none"
    return (f"dropout model on (docs/dropout.md): dropout of the queries {spread(queries.dropout)}, "
            f"of the references {refs_d}, drop-in {drop.dropin:g}; the value used for each sample "
            f"is in {DROPOUT_FILE}")


def _dropout_csv(queries, refs) -> bytes:
    """``dropout.csv``: ``sample_id,role,dropout,source`` for every query and reference
    (sorted by role and id): the dropout probability each LR of the run used."""
    lines = ["sample_id,role,dropout,source"]
    for role, s in (("query", queries), ("reference", refs)):
        if s is None or len(s) == 0:
            continue
        src = s.dropout_src if s.dropout_src is not None else np.full(len(s), "job", dtype=object)
        ids = np.asarray(s.ids, dtype=object).astype(str)
        for i in np.argsort(ids, kind="stable"):
            sid = ids[i]
            if any(c in sid for c in ',"\n\r'):
                sid = '"' + sid.replace('"', '""') + '"'
            lines.append(f"{sid},{role},{float(s.dropout[i])!r},{src[i]}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _query_chunks(ids, fps, rows: np.ndarray, size: int, rank=None) -> list:
    out = []
    for a in range(0, len(rows), size):
        r = rows[a:a + size]
        out.append((r, set_fingerprint(ids[r], fps[r], None if rank is None else rank[r])))
    return out


def _execute(job, job_key, spec, model, queries, refs, cases, rds, ds_names, loci, prev, out,
             tasks_dir, progress, notes, timings, executor, yin=None, self_keys=None, drop=None):
    v = job.values
    # the chance values of a unit depend on the dropout of the queries compared with it
    qd_tag = query_dropout_tag(queries)
    search = v["search"]
    ex = v["execution"]
    modes = job.modes
    cspec = make_spec(search, v["report"])
    ctx = TaskContext(spec, search["threshold"], search["top_k"], search["case_top_k"],
                      search["max_inconsistent"], search["line"], chance=cspec,
                      y=yin.ctx if yin is not None else None, device=ex["device"],
                      exclude=self_keys or None, min_loci=search["min_loci"])
    t0 = time.perf_counter()
    plans = []
    units = {}        # mode -> (kind, ids, fps) of its reference units
    qsets = {}        # mode -> (ids, fps) of its queries
    for mode in modes:
        q_ids, q_fp, q_kind, m_prev = queries.ids, queries.fp, "query", prev
        if mode == "case":
            r_ids, r_fp, kind = cases.ids, cases.fp, "case"
        elif mode == "duplicates":
            r_ids, r_fp, kind = queries.ids, queries.fp, "query"
        elif mode == Y_MODE:
            r_ids, r_fp, kind = yin.r_ids, yin.r_fp, "yperson"
            q_ids, q_fp, q_kind = yin.q_ids, yin.q_fp, "yquery"
            if prev is not None and bytes(prev.units.get("ypopulation", {}).get("", b"")) != \
                    yin.ctx.key.encode():
                m_prev = None
                notes.append("y-lineage: the population sample of the match probability or a Y "
                             "setting changed since the last run: every y-lineage pair was "
                             "compared again")
        else:
            r_ids, r_fp, kind = refs.ids, refs.fp, "person"
        units[mode] = (kind, r_ids, r_fp)
        qsets[mode] = (q_ids, q_fp)
        plans.append(plan_mode(mode, q_ids, q_fp, r_ids, r_fp, kind, m_prev,
                               search["top_k"], search["case_top_k"], q_kind=q_kind))
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
    chunks = {}
    for p in plans:
        q_ids, q_fp = qsets[p.mode]
        q_sub_rows = np.nonzero(p.q_sub)[0]
        all_rows = np.arange(len(q_ids), dtype=np.int64)
        rank = None if p.mode == Y_MODE else queries.rank
        chunks[p.mode] = [_query_chunks(q_ids, q_fp, all_rows, ex["query_chunk"], rank),
                          _query_chunks(q_ids, q_fp, q_sub_rows, ex["query_chunk"], rank)]
    recoder = Recoder(rds, loci, model.systems, ds_names) if rds is not None else None
    keys: list = []
    resumed = [0]
    written = [0]

    def selections(p):
        sels = [p.r_sub] + ([~p.r_sub] if p.q_sub.any() else [])
        chance_si = None
        if p.mode in need and need[p.mode].any():
            chance_si = len(sels)
            sels.append(need[p.mode])
        return sels, chance_si

    # the bar's total: the work of every task the stream below yields (engine.task.work_of),
    # blocks cut as the block readers cut them; a block's tables are compiled by its first task
    total = 0
    compiled = set()
    for p in plans:
        sels, chance_si = selections(p)
        size = ex["y_block_size"] if p.mode == Y_MODE else ex["block_size"]
        ids = units[p.mode][1]
        for si, sel in enumerate(sels):
            u = np.nonzero(sel)[0]
            for a in range(0, len(u), size):
                bu = u[a:a + size]
                n_q = [0] if si == chance_si else [len(r) for r, _ in chunks[p.mode][si]]
                for i, nq in enumerate(n_q):
                    first = i == 0 and (p.mode, tuple(map(str, ids[bu]))) not in compiled
                    compiled.add((p.mode, tuple(map(str, ids[bu]))))
                    total += work_of(p.mode, "chance" if si == chance_si else "score", len(bu), nq,
                                     first)
    compiled.clear()
    bar = Progress(total, ex["progress"] if progress is None else progress)
    no_rows = np.zeros(0, dtype=np.int64)

    def first_of(mode, block) -> bool:
        k = (mode, tuple(map(str, block.unit_ids)))
        new = k not in compiled
        compiled.add(k)
        return new

    def task_stream():
        for p in plans:
            sels, chance_si = selections(p)
            if p.mode == "duplicates":
                blocks = query_blocks(queries, sels, ex["block_size"])
            elif p.mode == Y_MODE:
                blocks = y_blocks(yin, sels, ex["y_block_size"])
            elif p.mode == "case":
                blocks = stream_blocks(rds, recoder, refs, "cases", sels, ex["block_size"], cases)
            else:
                blocks = stream_blocks(rds, recoder, refs, "persons", sels, ex["block_size"])
            for si, block in blocks:
                if si == chance_si:
                    key = stable_hash([job_key, spec.key, p.mode, "chance", block.key]
                                      + ([qd_tag] if qd_tag else []))[:40]
                    keys.append((p.mode, key, "chance"))
                    t = Task(key, p.mode, block, no_rows, kind="chance",
                             compiles=first_of(p.mode, block))
                    if checkpoint_ok(tasks_dir / f"{key}.parquet"):
                        resumed[0] += 1
                        bar(t.work)
                        continue
                    yield t
                    continue
                for ci, (rows, cfp) in enumerate(chunks[p.mode][si]):
                    parts = [job_key, spec.key, p.mode, block.key, cfp]
                    if p.mode == Y_MODE:
                        parts.append(yin.ctx.key)
                    key = stable_hash(parts)[:40]
                    keys.append((p.mode, key, "score"))
                    path = tasks_dir / f"{key}.parquet"
                    t = Task(key, p.mode, block, rows, compiles=ci == 0 and first_of(p.mode, block))
                    if checkpoint_ok(path):
                        resumed[0] += 1
                        bar(t.work)
                        continue
                    yield t

    # this run's task results are merged from memory; their checkpoints are for
    # --resume only, forced to disk in batches (engine.output.CheckpointSync)
    done_here: dict = {}
    syncer = CheckpointSync(tasks_dir)

    def on_result(task, res):
        meta = {"query_counts": res.query_counts, "ref_counts": res.ref_counts, "stats": res.stats,
                "mode": res.mode, "kind": task.kind}
        path = tasks_dir / f"{task.key}.parquet"
        text = json.dumps(meta, sort_keys=True)
        atomic_write_parquet(path, res.table, {"strkin.task": text}, fsync=False)
        syncer.written(path)
        # what the merge would read back from the checkpoint (JSON keys are strings)
        done_here[task.key] = (res.table.replace_schema_metadata(None), json.loads(text))
        written[0] += 1
        log.debug("task %s done: %s %s, %d units x %d queries, %d rows", task.key[:12], task.mode,
                  task.kind, len(task.block), len(task.query_rows), res.table.num_rows)
        _fault(f"task-{written[0]}")

    timings["plan_s"] = time.perf_counter() - t0
    log.info("phase plan: %.2f s", timings["plan_s"])
    for p in plans:
        log.info("mode %s: %s; %d reference units and %d queries to score against everything",
                 p.mode, "incremental" if p.stats.get("incremental") else "full",
                 int(p.r_sub.sum()), int(p.q_sub.sum()))
    t0 = time.perf_counter()
    try:
        executor.run(task_stream(), ctx, queries, on_result, bar)
    finally:
        bar.close()
        syncer.sync()
    timings["search_s"] = time.perf_counter() - t0
    log.info("phase search: %.2f s", timings["search_s"])

    # -- merge ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    self_keys = self_keys or {}
    tables = [_drop_self(p.kept, p.mode, self_keys) for p in plans
              if p.kept is not None and p.kept.num_rows]
    counts = {}
    for p in plans:
        for side in ("query", "ref"):
            counts[(p.mode, side)] = dict(p.base_counts.get(side, {}))
    stats = {m: {"pairs": 0, "pairs_scored": 0, "locus_lookups": 0, "pairs_not_compared_sex": 0,
                 "tasks": 0} for m in modes}
    n_chance_new = {m: 0 for m in modes}
    for mode, key, kind in keys:
        got = done_here.pop(key, None)
        if got is None:       # done by an earlier, interrupted run (--resume)
            t = pq.ParquetFile(tasks_dir / f"{key}.parquet").read()
            meta = json.loads(t.schema.metadata[b"strkin.task"])
            t = t.replace_schema_metadata(None)
        else:
            t, meta = got
        if kind == "chance":
            new = rows_from_table(t)
            chance_rows.update(new)
            n_chance_new[mode] += len(new)
            continue
        tables.append(_drop_self(t, mode, self_keys))
        for side, name in (("query", "query_counts"), ("ref", "ref_counts")):
            c = counts[(mode, side)]
            for k, n in meta[name].items():
                c[k] = c.get(k, 0) + n
        st = stats[mode]
        st["tasks"] += 1
        for k in ("pairs", "pairs_scored", "locus_lookups", "pairs_not_compared_sex"):
            st[k] += int(meta["stats"].get(k, 0))
    hits = merge_hits(tables, search["top_k"], search["case_top_k"], search["prior"])
    n_cand = {m: (len(units[m][1]) - 1 if m == "duplicates" else len(units[m][1]))
              for m in modes if m in units}
    hits = search_posteriors(hits, n_cand, search["prior"], search["threshold"], search["top_k"])
    chance, chance_state = {}, None
    if cspec is not None:
        chance, chance_state = _chance(cspec, plans, units, sampled, chance_rows, queries, cases,
                                       spec, search, notes, qd_tag)
        for m in modes:
            if m == Y_MODE:
                continue
            stats[m]["chance_units_computed"] = n_chance_new[m]
            stats[m]["chance_units_reused"] = int(sampled[m].sum()) - n_chance_new[m]
    hits = annotate(hits, chance)
    reader = UnitReader(rds, recoder, refs, cases)
    hits = partial_chance(hits, chance, spec, queries, reader, len(loci), notes,
                          v["report"]["chance_partial_max"], search["line"])
    hits = add_alternatives(hits, spec, queries, reader, search["line"], notes,
                            which=v["report"]["relationships"],
                            max_hits=v["report"]["relationships_max"])
    if yin is not None:
        hits = combine_y(hits, yin.relation_of(), search["line"], yin.auto_relation)
    joint_table = joint_info = None
    if "case" in modes:
        rep = v["report"]
        tj = time.perf_counter()
        hits, joint_table, joint_info = add_joint(
            hits, rep["undisputed_threshold"] or search["threshold"], rep["joint_exact_max"],
            same_person(hits))
        timings["joint_s"] = time.perf_counter() - tj
    timings["merge_s"] = time.perf_counter() - t0
    power = None
    if "case" in modes:
        t0 = time.perf_counter()
        power = run_power(v["report"], search, model, reader, cases, len(queries), notes,
                          threads=(v["execution"]["threads"] or os.cpu_count() or 1)
                          if not v["execution"]["scheduler"] else 1)
        if power is not None:
            timings["power_s"] = time.perf_counter() - t0
    log.info("phase merge: %.2f s", timings["merge_s"])
    log.info("%d tasks (%d resumed), %d hits, search %.1f s", len(keys), resumed[0], hits.num_rows,
             timings["search_s"])
    for m, st in stats.items():
        if st["pairs_not_compared_sex"]:
            notes.append(f"{m}: {st['pairs_not_compared_sex']} query-case pairs not compared: the "
                         f"case has a 'child' reference (the missing person's sex decides the "
                         f"pedigree) and the query's sex is unknown")
    run = {
        "tasks": len(keys), "tasks_resumed": resumed[0], "executor": executor.describe(),
        "modes": {p.mode: dict(stats[p.mode], **p.stats) for p in plans},
        "pairs_total": int(sum(s["pairs"] for s in stats.values())),
        "loci": len(loci),
    }
    st = timings.get("search_s", 0) or 1e-9
    run["pairs_per_s"] = round(run["pairs_total"] / st, 1)
    return hits, {"counts": counts, "run": run, "chance": chance, "chance_state": chance_state,
                  "power": power, "joint_table": joint_table, "joint": joint_info}


def _chance(cspec, plans, units, sampled, chance_rows, queries, cases, spec, search, notes,
            qd_tag=""):
    """Each mode's expected chance hits (:func:`engine.chance.aggregate`) and the
    state table of the per-unit values.  Queries of different dropout are compared
    with different tables: each (sex group, query dropout) group of a unit has its
    own exceedance (:func:`engine.chance.group_label`), weighted by its queries."""
    nq = len(queries)
    qd = np.asarray(queries.dropout, dtype=np.float64)
    dvals = sorted(set(qd.tolist())) or [0.0]
    sex = np.asarray(queries.sex, dtype=object)
    out, keep, fps = {}, {}, {}
    for p in plans:
        if p.mode == Y_MODE:
            continue
        kind, r_ids, r_fp = units[p.mode]
        N = len(r_ids)
        rows = {}
        for i in np.nonzero(sampled[p.mode])[0]:
            u = str(r_ids[i])
            rows[u] = chance_rows[(p.mode, u)]
            keep[(p.mode, u)] = rows[u]
            fps[(p.mode, u)] = chance_fp(r_fp[i], qd_tag)
        n_m = int(np.count_nonzero(sex == "M"))
        n_f = int(np.count_nonzero(sex == "F"))
        weights = {}
        for d in dvals:
            at = qd == d
            n_d = int(at.sum())
            if p.mode == "case":
                weights[group_label("", d)] = n_d
                weights[group_label("M", d)] = int(np.count_nonzero(at & (sex == "M")))
                weights[group_label("F", d)] = int(np.count_nonzero(at & (sex == "F")))
            elif p.mode == "duplicates":
                # each unordered pair once: (n - 1) / 2 per query, spread over the
                # queries' dropout groups in proportion
                weights[group_label("", d)] = ((nq - 1) / 2.0 if n_d == nq else
                                               (nq - 1) / 2.0 * n_d / nq)
            else:
                weights[group_label("", d)] = n_d
        if p.mode == "case":
            split = cases.needs_sex & spec.sex_dependent
            n_split = int(split.sum())
            ncomp = nq * (N - n_split) + (n_m + n_f) * n_split
            words = f"{nq} queries x {N} cases"
            if n_split:
                words += (f" ({n_split} cases with a 'child' reference compared with the "
                          f"{n_m + n_f} queries of known sex)")
            unit_word = "cases"
        elif p.mode == "duplicates":
            ncomp = nq * (nq - 1) / 2.0
            words = f"each of the {nq * (nq - 1) // 2} pairs of {nq} queries once"
            unit_word = "queries"
        else:
            ncomp = nq * N
            words = f"{nq} queries x {N} reference persons"
            unit_word = "reference persons"
        skip = search["max_inconsistent"] if p.mode in ("identity", "duplicates") else 0
        ch = aggregate(cspec, p.mode, r_ids, sampled[p.mode], rows, weights, ncomp, words,
                       unit_word, skip)
        if ch.errors:
            notes.append(f"{p.mode}: chance hits not computed: {len(ch.errors)} tables are not "
                         f"finite likelihood ratios where the population has mass (first: "
                         f"{ch.errors[0][:200]})")
        out[p.mode] = ch
    return out, rows_to_table(keep, fps)


def _clean_json(x):
    """NaN and infinities as null (strict JSON)."""
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean_json(v) for v in x]
    return x


def _write_state(state_dir: Path, queries, refs, cases, modes, counts, chance_state=None, yin=None):
    parts = []

    def add(kind, i, f):
        i = np.asarray(i, dtype=object)
        parts.append(pa.table({
            "kind": pa.array(np.full(len(i), kind, dtype=object), pa.string()),
            "id": pa.array(_strs(i), pa.string()),
            # tolist() of an S16 array gives bytes(x) of each element (no trailing NUL
            # bytes): the value the plan compares against
            "fp": pa.array(f.tolist() if isinstance(f, np.ndarray) else list(f), pa.binary())}))

    add("query", queries.ids, queries.fp)
    if any(m in PAIRWISE_MODES for m in modes):
        add("person", refs.ids, refs.fp)
    if "case" in modes:
        add("case", cases.ids, cases.fp)
    if yin is not None:
        add("yquery", yin.q_ids, yin.q_fp)
        add("yperson", yin.r_ids, yin.r_fp)
        add("ypopulation", [""], [yin.ctx.key.encode()])
    units = pa.concat_tables(parts).replace_schema_metadata(
        {"strkin.fingerprint_version": str(FINGERPRINT_VERSION)})
    atomic_write_parquet(state_dir / "units.parquet", units)
    rows = {"mode": [], "side": [], "id": [], "n": []}
    for (m, side), d in sorted(counts.items()):
        for k in sorted(d):
            if d[k] > 0:
                rows["mode"].append(m)
                rows["side"].append(side)
                rows["id"].append(k)
                rows["n"].append(int(d[k]))
    atomic_write_parquet(state_dir / "counts.parquet", pa.table({
        "mode": pa.array(rows["mode"], pa.string()), "side": pa.array(rows["side"], pa.string()),
        "id": pa.array(rows["id"], pa.string()), "n": pa.array(rows["n"], pa.int64())}))
    if chance_state is not None and chance_state.num_rows:
        atomic_write_parquet(state_dir / "chance.parquet", chance_state)
    elif (state_dir / "chance.parquet").exists():
        (state_dir / "chance.parquet").unlink()
