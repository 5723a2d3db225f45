"""The job: what a search compares, with which model, and where results go.

A job is a TOML file (``kinship search JOB.toml``) or the same structure as a
dict (``engine.run({...})``).  Every key is checked: an unknown key, an unknown
mode or a value of the wrong type is a :class:`~engine.errors.JobError` that
names the key and says how to fix it, before any data is read.  The schema is
documented in ``docs/engine.md``; :data:`SCHEMA` below is its single source.

Relative paths are relative to the job file's directory (or, for a dict, to
``base_dir``, default the current directory).  ``frequencies`` is a path to a
frequency file or the name of a bundled population (``kinship.populations()``).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import JobError

__all__ = ["Job", "load_job", "MODES", "PAIRWISE_MODES", "Y_MODE", "SCHEMA", "parse_mutation"]

#: Pairwise relationships between a query and every reference person.
PAIRWISE_MODES = (
    "identity", "parent-child", "full-sibling", "half-sibling", "grandparent", "avuncular",
    "first-cousin",
)
#: The Y-STR lineage mode (Y haplotype datasets, :mod:`engine.ylineage`).
Y_MODE = "y-lineage"
#: Every mode: ``case`` (the query as the missing person of each case),
#: the pairwise modes, ``duplicates`` (identity among the queries) and
#: ``y-lineage`` (paternal relatives by Y-STR haplotypes).
MODES = ("case",) + PAIRWISE_MODES + ("duplicates", Y_MODE)
#: Y-STR estimators of the haplotype match probability (kinship.ystr.estimators).
Y_ESTIMATORS = ("augmented_count", "clopper_pearson", "kappa", "discrete_laplace")

_REQUIRED = object()

#: section -> key -> (default, description).  ``_REQUIRED`` marks required keys.
SCHEMA: dict[str, dict[str, tuple[Any, str]]] = {
    "inputs": {
        "queries": (None, "profile dataset whose kind=query samples are the queries (required "
                          "unless modes = ['y-lineage'])"),
        "references": (None, "profile dataset whose kind=reference samples are the references "
                             "(required unless modes are only duplicates / y-lineage)"),
        "frequencies": ("nist1036_all", "frequency table: a file, or a bundled population name"),
        "frequencies_format": ("auto", "format of a frequency file: auto (detected), csv, "
                                       "familias, strider, strider-xml, fam"),
        "population": (None, "the population of a stacked frequency table (a STRidER XML "
                             "origin such as \"AUSTRIA\", a strvalidator Database)"),
        "loci": (None, "compare only these loci (default: every locus of the datasets)"),
        "y_queries": (None, "y-lineage: Y haplotype dataset whose kind=query haplotypes are the "
                            "queries"),
        "y_references": (None, "y-lineage: Y haplotype dataset whose kind=reference haplotypes "
                               "are searched"),
        "y_population": (None, "y-lineage: Y haplotype dataset for the match probability "
                               "(default: the Y reference haplotypes)"),
    },
    "model": {
        "theta": (0.0, "Balding-Nichols coancestry coefficient"),
        "mutation": ("none", "\"none\", or {model, rate, rate2, range}, or {female = {...}, male = {...}}"),
        "min_allele_freq": (None, "frequency of alleles absent from the table (number or {locus = number})"),
        "silent": (None, "silent (null) allele frequency: a number for every locus, or "
                         "{locus = number}; default: none, or the silent alleles of a .fam "
                         "frequency file (inputs.frequencies_format = \"fam\"); 0 turns one off"),
        "dropout": (0.0, "allelic dropout probability of every sample (docs/dropout.md): a number "
                         "in [0, 1), \"estimate\" (from each sample's apparent homozygotes), or "
                         "{queries = ..., references = ...}; 0: no dropout"),
        "dropin": (0.0, "drop-in probability of every sample, in [0, 1); 0: no drop-in"),
        "dropout_samples": (None, "CSV file sample_id,dropout: the dropout of those samples "
                                  "(over model.dropout)"),
    },
    "search": {
        "modes": (_REQUIRED, f"list of modes: {', '.join(MODES)}"),
        "threshold": (1e4, "report pairs with LR >= threshold"),
        "top_k": (10, "hits kept per query and mode"),
        "case_top_k": (None, "hits kept per case/reference and mode (default: top_k)"),
        "prior": (0.5, "prior probability that the sought person is among the candidates "
                       "compared (spread evenly over them) for the posterior column"),
        "max_inconsistent": (0, "identity and duplicates: loci that may differ (left out of the LR)"),
        "min_loci": (8, "autosomal modes: a pair compared on fewer loci (typed in both) is not "
                        "reported; profiles typed at fewer loci are listed in the summary"),
        "line": ("paternal", "linking parent of half-sibling, grandparent, avuncular, first-cousin "
                             "pairs: paternal or maternal"),
        "mixed_kits": (False, "allow profiles typed with different kits (loci typed in only one "
                              "profile of a pair are skipped and counted)"),
        "invalid_cases": ("error", "a case whose relatives cannot form one pedigree: error or skip"),
        "inconsistent_cases": ("report", "a case whose typed relatives contradict its pedigree "
                                         "(reference consistency, consistency.parquet): report it, "
                                         "or exclude it from case mode"),
    },
    "y_lineage": {
        "max_mismatches": ("auto", "mismatched loci allowed (\"auto\": from the mutation rates, "
                                   "recall_target for every m in meioses)"),
        "max_steps": ("auto", "summed repeat steps allowed (\"auto\" as max_mismatches)"),
        "recall_target": (0.99, "share of relatives the auto thresholds keep, at every m"),
        "meioses": ([1, 2, 3, 4, 5, 6], "meioses m between the two men for which LR(m) is "
                                        "computed"),
        "prior": (None, "prior weights over meioses for the ranking LR (default: equal)"),
        "estimator": ("augmented_count", f"match probability: {', '.join(Y_ESTIMATORS)}"),
        "min_loci_compared": (10, "least number of Y loci both men typed (a partial haplotype "
                                   "matches many men by chance)"),
        "threshold": (0.0, "report candidates with prior-weighted LR >= this (0: every "
                           "candidate within the mismatch and step limits)"),
        "loci": (None, "compare only these Y markers (default: every marker of the reference "
                       "dataset)"),
        "rates": (None, "mutation rates per marker replacing the shipped ones, {DYS19 = 0.0023}"),
    },
    "report": {
        "chance_method": ("exact", "expected chance hits per mode and per hit: exact (convolution "
                                   "over loci, kinship.chance) or none"),
        "chance_thresholds": ([1e4, 1e6, 1e8, 1e10], "LRs at which the summary states the expected "
                                                     "chance hits (besides search.threshold)"),
        "relationships": ("best", "which hits get the LRs of the alternative relationships: best "
                                  "(each query's first-ranked hit per mode), ranked (every ranked "
                                  "hit) or none"),
        "relationships_max": (200, "at most this many hits per mode get the alternatives (the "
                                   "highest LRs first): a case-mode hit costs about 4 ms"),
        "consistency_ratio": (100.0, "reference consistency: a pair of typed relatives is flagged "
                                     "when another relationship has an LR at least this many "
                                     "times the pedigree's"),
        "identity_lr": (1e10, "reference consistency: identity LR from which two references "
                              "(identical on at least 8 loci) are one person"),
        "joint_exact_max": (200, "one-to-one joint picture: parts with at most this many queries "
                                 "and missing persons get exact alternatives (larger: a bound)"),
        "undisputed_threshold": (None, "one-to-one joint picture: T of dvir's undisputed rule "
                                       "(default: search.threshold)"),
        "chance_partial_max": (200, "hits compared on fewer loci than the panel whose expected "
                                    "chance hits are computed on the loci compared, per mode"),
        "chance_units": (100, "reference units per mode whose tables are evaluated (every unit when "
                              "there are no more; else a deterministic random subset)"),
        "chance_resolution": (0.005, "grid width (log10 units) of the exact method: smaller is "
                                     "tighter and slower"),
        "chance_population": ("hw", "unrelated candidates: hw (Hardy-Weinberg at the table's "
                                    "frequencies) or theta (genotype frequencies with model.theta)"),
        "power": ("none", "case mode: the power of each case's references and the relative to "
                          "sample next (kinship.power, docs/power.md): exact, mc or none"),
        "power_simulations": (2000, "power = \"mc\": simulations per number"),
        "power_database": (None, "database size N of the power table's expected chance hits "
                                 "(default: the number of queries of the run)"),
        "power_suggest_below": (0.99, "rank the next relative for cases whose power is below this"),
        "power_cases": (200, "at most this many case units get a power (by unit id; the rest are "
                             "named in a note)"),
    },
    "output": {
        "path": (_REQUIRED, "results directory"),
        "overwrite": (False, "replace the results of another run in output.path"),
    },
    "execution": {
        "scheduler": (None, "address of a Dask scheduler (tcp://host:port); absent = in-process"),
        "threads": (None, "worker threads in-process (default: every CPU)"),
        "block_size": (256, "cases or references compiled per task"),
        "query_chunk": (262144, "queries per task"),
        "y_block_size": (65536, "y-lineage: reference men per task"),
        "progress": ("auto", "progress bar: auto (on a terminal), true, false"),
        "device": ("cpu", "where pairs are screened: cpu, or gpu (a CUDA device with numba-cuda; "
                          "exact scores on the host, the same results)"),
        "checkpoint_every": (15.0, "seconds of search between two checkpoint files (the tasks "
                                   "finished since, one file and one fsync; a killed run does "
                                   "at most these seconds again on --resume); 0: a file per task"),
        "max_compile_hours": (2.0, "theta > 0: refuse up front a job whose case tables are "
                                   "estimated to take longer to compile (one core)"),
        "memory": ("auto", "memory budget of the run: auto (three quarters of this machine's "
                           "memory) or a size such as \"8GiB\"; block and chunk sizes are chosen "
                           "to fit it, and a run that cannot fit is refused up front "
                           "(engine.memory)"),
        "table_cache": ("auto", "keep the model's pair and single-relative tables on disk between "
                                "runs: auto ($STRKIN_TABLE_CACHE, else ~/.cache/strkin/tables), "
                                "off, or a directory (kinship.tablecache)"),
        "table_cache_size": ("4GiB", "the table store's size: past it the tables least recently "
                                     "used are removed (a size such as \"4GiB\")"),
    },
}

#: the dropout model's keys of [model] (engine/dropout.py)
_DROPOUT_KEYS = ("dropout", "dropin", "dropout_samples")

_MUTATION_MODELS = ("equal", "proportional", "stepwise", "extended-stepwise")
_MUTATION_KEYS = {
    "equal": ("rate",),
    "proportional": ("rate",),
    "stepwise": ("rate", "rate2", "range"),
    "extended-stepwise": ("rate", "rate2", "range"),
}


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def parse_mutation(value, where: str = "model.mutation"):
    """A :class:`kinship.MutationModel` (or None) from a job's ``mutation`` value.

    >>> parse_mutation("none") is None
    True
    >>> parse_mutation({"model": "stepwise", "rate": 0.002, "rate2": 1e-6, "range": 0.1}).male
    Stepwise(rate=0.002, rate2=1e-06, range=0.1)
    """
    import kinship

    if value is None or value is False or (isinstance(value, str) and value.lower() == "none"):
        return None
    if isinstance(value, str):
        raise JobError(
            f"{where} = {value!r}: expected \"none\" or a table such as "
            f"{{model = \"stepwise\", rate = 0.002, rate2 = 1e-6, range = 0.1}}"
        )
    if not isinstance(value, Mapping):
        raise JobError(f"{where}: expected \"none\" or a table, got {type(value).__name__}")
    if "female" in value or "male" in value:
        extra = set(value) - {"female", "male"}
        if extra:
            k = sorted(extra)[0]
            raise JobError(
                f"{where}: unknown key {k!r} beside female/male; give every parameter inside "
                f"female = {{...}} and male = {{...}}"
            )
        if "female" not in value or "male" not in value:
            raise JobError(f"{where}: give both female = {{...}} and male = {{...}} (or one model for both)")
        f = _one_model(value["female"], f"{where}.female")
        m = _one_model(value["male"], f"{where}.male")
        return kinship.MutationModel(female=f, male=m)
    return kinship.MutationModel(_one_model(value, where))


def _familias_mutation(path, src):
    """``model.mutation = {familias = "case.fam"}``: the per-locus female and male
    mutation models of a Familias file (:func:`formats.familias.fam_mutation_model`)."""
    import formats

    try:
        _, _, settings = formats.familias.read_fam(path)
        return settings.mutation_model()
    except FileNotFoundError:
        raise JobError(f"{src}: model.mutation.familias: {path} does not exist") from None
    except (formats.FormatError, ValueError, KeyError) as e:
        raise JobError(f"{src}: model.mutation.familias: {e}") from None


def _one_model(d, where):
    import kinship

    if not isinstance(d, Mapping):
        raise JobError(f"{where}: expected a table such as {{model = \"stepwise\", rate = 0.002}}")
    name = str(d.get("model", "")).lower().replace("_", "-")
    if name not in _MUTATION_MODELS:
        raise JobError(
            f"{where}.model = {d.get('model')!r}: unknown mutation model{_suggest(name, _MUTATION_MODELS)}; "
            f"known models: {', '.join(_MUTATION_MODELS)}"
        )
    allowed = _MUTATION_KEYS[name]
    for k in d:
        if k != "model" and k not in allowed:
            raise JobError(
                f"{where}: unknown key {k!r} for the {name} model{_suggest(k, allowed)}; "
                f"it takes {', '.join(allowed)}"
            )
    if "rate" not in d:
        raise JobError(f"{where}: the {name} model needs a rate, e.g. rate = 0.002")
    for k in allowed:
        if k in d and not _is_number(d[k]):
            raise JobError(f"{where}.{k} must be a number, got {d[k]!r}")
    kw = {k: float(d[k]) for k in allowed if k in d}
    try:
        if name == "equal":
            return kinship.Equal(**kw)
        if name == "proportional":
            return kinship.Proportional(**kw)
        if name == "stepwise":
            return kinship.Stepwise(**kw)
        return kinship.ExtendedStepwise(**kw)
    except ValueError as e:
        raise JobError(f"{where}: {e}") from None


@dataclass
class Job:
    """A validated job.  Build with :func:`load_job` (file) or :meth:`Job.from_dict`."""

    raw: dict
    base_dir: Path
    source: str = "<dict>"
    values: dict = field(default_factory=dict)

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping, base_dir=None, source: str = "<dict>") -> "Job":
        if not isinstance(d, Mapping):
            raise JobError(f"a job must be a table/dict with sections {', '.join(SCHEMA)}")
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        values: dict[str, dict] = {}
        for sec in d:
            if sec not in SCHEMA:
                raise JobError(
                    f"{source}: unknown section [{sec}]{_suggest(sec, SCHEMA)}; a job has the "
                    f"sections {', '.join('[' + s + ']' for s in SCHEMA)}"
                )
            if not isinstance(d[sec], Mapping):
                raise JobError(f"{source}: [{sec}] must be a table of keys, got {type(d[sec]).__name__}")
        for sec, keys in SCHEMA.items():
            given = dict(d.get(sec, {}) or {})
            for k in given:
                if k not in keys:
                    raise JobError(
                        f"{source}: unknown key {sec}.{k}{_suggest(k, keys)}; [{sec}] takes "
                        f"{', '.join(keys)}"
                    )
            out = {}
            for k, (default, _doc) in keys.items():
                if k in given:
                    out[k] = given[k]
                elif default is _REQUIRED:
                    raise JobError(f"{source}: {sec}.{k} is required ({_doc})")
                else:
                    out[k] = default
            values[sec] = out
        job = cls(dict(d), base, source, values)
        job._validate()
        return job

    def _validate(self):
        v = self.values
        src = self.source
        for k in ("queries", "references", "frequencies", "y_queries", "y_references", "y_population"):
            x = v["inputs"][k]
            if x is not None and (not isinstance(x, str) or not x.strip()):
                raise JobError(f"{src}: inputs.{k} must be a path (a string), got {x!r}")
        pop = v["inputs"]["population"]
        if pop is not None and (not isinstance(pop, str) or not pop.strip()):
            raise JobError(f"{src}: inputs.population must be a population name (a string), "
                           f"got {pop!r}")
        from formats.freqio import FREQUENCY_FORMATS

        fmts = ("auto",) + FREQUENCY_FORMATS
        if v["inputs"]["frequencies_format"] not in fmts:
            raise JobError(
                f"{src}: inputs.frequencies_format = {v['inputs']['frequencies_format']!r}: expected "
                f"one of {', '.join(fmts)}"
                f"{_suggest(str(v['inputs']['frequencies_format']), fmts)}"
            )
        loci = v["inputs"]["loci"]
        if loci is not None and (not isinstance(loci, list) or not loci or
                                 not all(isinstance(x, str) for x in loci)):
            raise JobError(f"{src}: inputs.loci must be a non-empty list of locus names, got {loci!r}")
        th = v["model"]["theta"]
        if not _is_number(th) or not (0.0 <= float(th) < 1.0):
            raise JobError(f"{src}: model.theta must be a number in [0, 1), got {th!r}")
        v["model"]["theta"] = float(th)
        mu = v["model"]["mutation"]
        if isinstance(mu, Mapping) and set(mu) == {"familias"}:
            self.mutation = _familias_mutation(self.path(mu["familias"]), src)
        else:
            self.mutation = parse_mutation(mu)
        maf = v["model"]["min_allele_freq"]
        if maf is not None:
            vals = maf.values() if isinstance(maf, Mapping) else [maf]
            if not all(_is_number(x) and 0 < float(x) < 1 for x in vals):
                raise JobError(
                    f"{src}: model.min_allele_freq must be a frequency in (0, 1) or a table "
                    f"{{locus = frequency}}, got {maf!r}"
                )
        sil = v["model"]["silent"]
        if sil is not None:
            vals = sil.values() if isinstance(sil, Mapping) else [sil]
            if not vals or not all(_is_number(x) and 0 <= float(x) < 1 for x in vals):
                raise JobError(
                    f"{src}: model.silent must be a silent-allele frequency in [0, 1) or a table "
                    f"{{locus = frequency}}, got {sil!r}"
                )
        from .dropout import check_setting

        check_setting(v["model"], src)
        modes = v["search"]["modes"]
        if isinstance(modes, str):
            modes = [modes]
        if not isinstance(modes, list) or not modes:
            raise JobError(f"{src}: search.modes must be a non-empty list, e.g. [\"case\", \"parent-child\"]")
        for m in modes:
            if m not in MODES:
                raise JobError(
                    f"{src}: unknown mode {m!r} in search.modes{_suggest(m, MODES)}; modes are "
                    f"{', '.join(MODES)}"
                )
        if len(set(modes)) != len(modes):
            raise JobError(f"{src}: search.modes lists a mode twice: {modes}")
        v["search"]["modes"] = list(modes)
        auto = [m for m in modes if m != Y_MODE]
        if v["inputs"]["queries"] is None and auto:
            raise JobError(f"{src}: inputs.queries is required ({SCHEMA['inputs']['queries'][1]})")
        need_refs = [m for m in auto if m != "duplicates"]
        if v["inputs"]["references"] is None and need_refs:
            raise JobError(
                f"{src}: inputs.references is required for modes "
                f"{', '.join(need_refs)}; give the reference dataset"
            )
        if Y_MODE in modes:
            for k in ("y_queries", "y_references"):
                if v["inputs"][k] is None:
                    raise JobError(
                        f"{src}: inputs.{k} is required for mode y-lineage: give the Y haplotype "
                        f"dataset (a directory made by 'kinship import-y ... --out DIR')"
                    )
        t = v["search"]["threshold"]
        if not _is_number(t) or float(t) <= 0:
            raise JobError(f"{src}: search.threshold must be a positive number (an LR, e.g. 1e4), got {t!r}")
        v["search"]["threshold"] = float(t)
        for k in ("top_k", "case_top_k"):
            x = v["search"][k]
            if x is None:
                continue
            if not isinstance(x, int) or isinstance(x, bool) or x < 1:
                raise JobError(f"{src}: search.{k} must be a positive integer, got {x!r}")
        if v["search"]["case_top_k"] is None:
            v["search"]["case_top_k"] = v["search"]["top_k"]
        p = v["search"]["prior"]
        if not _is_number(p) or not (0.0 < float(p) < 1.0):
            raise JobError(f"{src}: search.prior must be a probability in (0, 1), got {p!r}")
        v["search"]["prior"] = float(p)
        ml = v["search"]["min_loci"]
        if not isinstance(ml, int) or isinstance(ml, bool) or ml < 1:
            raise JobError(f"{src}: search.min_loci must be an integer >= 1, got {ml!r}")
        mi = v["search"]["max_inconsistent"]
        if not isinstance(mi, int) or isinstance(mi, bool) or mi < 0:
            raise JobError(f"{src}: search.max_inconsistent must be an integer >= 0, got {mi!r}")
        if v["search"]["line"] not in ("paternal", "maternal"):
            raise JobError(f"{src}: search.line must be \"paternal\" or \"maternal\", got {v['search']['line']!r}")
        for sec, k in (("search", "mixed_kits"), ("output", "overwrite")):
            if not isinstance(v[sec][k], bool):
                raise JobError(f"{src}: {sec}.{k} must be true or false, got {v[sec][k]!r}")
        if v["search"]["invalid_cases"] not in ("error", "skip"):
            raise JobError(f"{src}: search.invalid_cases must be \"error\" or \"skip\"")
        if v["search"]["inconsistent_cases"] not in ("report", "exclude"):
            raise JobError(f"{src}: search.inconsistent_cases must be \"report\" or \"exclude\", "
                           f"got {v['search']['inconsistent_cases']!r}"
                           f"{_suggest(v['search']['inconsistent_cases'], ('report', 'exclude'))}")
        for k, lo in (("consistency_ratio", 1.0), ("identity_lr", 1.0)):
            x = v["report"][k]
            if not _is_number(x) or float(x) <= lo:
                raise JobError(f"{src}: report.{k} must be a number > {lo:g}, got {x!r}")
            v["report"][k] = float(x)
        jem = v["report"]["joint_exact_max"]
        if not isinstance(jem, int) or isinstance(jem, bool) or jem < 0:
            raise JobError(f"{src}: report.joint_exact_max must be an integer >= 0, got {jem!r}")
        ut = v["report"]["undisputed_threshold"]
        if ut is not None and (not _is_number(ut) or float(ut) <= 1):
            raise JobError(f"{src}: report.undisputed_threshold must be a number > 1 (an LR), "
                           f"got {ut!r}")
        if not isinstance(v["output"]["path"], str) or not v["output"]["path"].strip():
            raise JobError(f"{src}: output.path must be a directory path (a string)")
        sch = v["execution"]["scheduler"]
        if sch is not None and (not isinstance(sch, str) or "://" not in sch and ":" not in sch):
            raise JobError(
                f"{src}: execution.scheduler = {sch!r}: expected a Dask scheduler address such as "
                f"\"tcp://127.0.0.1:8786\" (leave it out to run in-process)"
            )
        if v["report"]["relationships"] not in ("best", "ranked", "none"):
            raise JobError(f"{src}: report.relationships must be \"best\", \"ranked\" or \"none\", "
                           f"got {v['report']['relationships']!r}")
        cpm = v["report"]["chance_partial_max"]
        if not isinstance(cpm, int) or isinstance(cpm, bool) or cpm < 0:
            raise JobError(f"{src}: report.chance_partial_max must be an integer >= 0, got {cpm!r}")
        rm = v["report"]["relationships_max"]
        if not isinstance(rm, int) or isinstance(rm, bool) or rm < 0:
            raise JobError(f"{src}: report.relationships_max must be an integer >= 0, got {rm!r}")
        ce = v["execution"]["checkpoint_every"]
        if not _is_number(ce) or float(ce) < 0:
            raise JobError(f"{src}: execution.checkpoint_every must be a number of seconds >= 0, "
                           f"got {ce!r}")
        mch = v["execution"]["max_compile_hours"]
        if not _is_number(mch) or float(mch) <= 0:
            raise JobError(f"{src}: execution.max_compile_hours must be a number > 0, got {mch!r}")
        for k, lo in (("threads", 1), ("block_size", 1), ("query_chunk", 1), ("y_block_size", 1)):
            x = v["execution"][k]
            if x is None:
                continue
            if not isinstance(x, int) or isinstance(x, bool) or x < lo:
                raise JobError(f"{src}: execution.{k} must be a positive integer, got {x!r}")
        dev = v["execution"]["device"]
        if dev not in ("cpu", "gpu"):
            raise JobError(f"{src}: execution.device must be \"cpu\" or \"gpu\", got {dev!r}")
        if dev == "gpu":
            from kinship.kernels.gpu import available

            if not available():
                raise JobError(
                    f"{src}: execution.device = \"gpu\": no CUDA device is usable here (it needs a "
                    f"GPU, its driver and numba-cuda: pip install \"strkin[gpu]\"); use \"cpu\"")
        mem = v["execution"]["memory"]
        if mem != "auto":
            from .memory import parse_size

            try:
                parse_size(mem)
            except ValueError:
                raise JobError(f"{src}: execution.memory must be \"auto\" or a size such as "
                               f"\"8GiB\", \"512MiB\" or \"16GB\", got {mem!r}") from None
        tc = v["execution"]["table_cache"]
        if not isinstance(tc, str) or not tc:
            raise JobError(f"{src}: execution.table_cache must be \"auto\", \"off\" or a directory, "
                           f"got {tc!r}")
        tcs = v["execution"]["table_cache_size"]
        from .memory import parse_size

        try:
            if isinstance(tcs, bool) or parse_size(tcs) <= 0:
                raise ValueError
        except ValueError:
            raise JobError(f"{src}: execution.table_cache_size must be a size such as \"4GiB\" or "
                           f"\"500MB\", got {tcs!r}") from None
        pr = v["execution"]["progress"]
        if pr not in ("auto", True, False):
            raise JobError(f"{src}: execution.progress must be \"auto\", true or false, got {pr!r}")
        self._validate_report()
        self._validate_y()

    def _validate_y(self):
        y = self.values["y_lineage"]
        src = self.source
        for k in ("max_mismatches", "max_steps"):
            x = y[k]
            if x != "auto" and (not isinstance(x, int) or isinstance(x, bool) or not 0 <= x <= 64):
                raise JobError(f"{src}: y_lineage.{k} must be \"auto\" or an integer in [0, 64], "
                               f"got {x!r}")
        rt = y["recall_target"]
        if not _is_number(rt) or not 0.0 < float(rt) < 1.0:
            raise JobError(f"{src}: y_lineage.recall_target must be a share in (0, 1), e.g. 0.99, "
                           f"got {rt!r}")
        y["recall_target"] = float(rt)
        ms = y["meioses"]
        if (not isinstance(ms, list) or not ms or len(set(ms)) != len(ms)
                or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 30 for m in ms)):
            raise JobError(f"{src}: y_lineage.meioses must be a list of distinct integers in "
                           f"[1, 30], e.g. [1, 2, 3, 4, 5, 6], got {ms!r}")
        pr = y["prior"]
        if pr is not None:
            if (not isinstance(pr, list) or len(pr) != len(ms)
                    or not all(_is_number(w) and float(w) >= 0 for w in pr) or not sum(pr) > 0):
                raise JobError(f"{src}: y_lineage.prior must be one non-negative weight per "
                               f"meioses value ({len(ms)}), not all zero, got {pr!r}")
            y["prior"] = [float(w) for w in pr]
        est = y["estimator"]
        if est not in Y_ESTIMATORS:
            raise JobError(f"{src}: y_lineage.estimator = {est!r}{_suggest(est, Y_ESTIMATORS)}; "
                           f"estimators are {', '.join(Y_ESTIMATORS)}")
        mlc = y["min_loci_compared"]
        if not isinstance(mlc, int) or isinstance(mlc, bool) or not 1 <= mlc <= 64:
            raise JobError(f"{src}: y_lineage.min_loci_compared must be an integer in [1, 64], "
                           f"got {mlc!r}")
        th = y["threshold"]
        if not _is_number(th) or float(th) < 0:
            raise JobError(f"{src}: y_lineage.threshold must be a number >= 0 (an LR), got {th!r}")
        y["threshold"] = float(th)
        loci = y["loci"]
        if loci is not None and (not isinstance(loci, list) or not loci
                                 or not all(isinstance(x, str) for x in loci)):
            raise JobError(f"{src}: y_lineage.loci must be a non-empty list of Y marker names, "
                           f"got {loci!r}")
        rates = y["rates"]
        if rates is not None:
            if not isinstance(rates, Mapping) or not all(
                    _is_number(r) and 0.0 <= float(r) < 0.5 for r in rates.values()):
                raise JobError(f"{src}: y_lineage.rates must be a table of per-meiosis rates in "
                               f"[0, 0.5), e.g. {{DYS19 = 0.0023}}, got {rates!r}")
            y["rates"] = {str(k): float(r) for k, r in rates.items()}

    def _validate_report(self):
        r = self.values["report"]
        src = self.source
        if r["chance_method"] not in ("exact", "none"):
            raise JobError(
                f"{src}: report.chance_method = {r['chance_method']!r}: expected \"exact\" (the "
                f"expected chance hits of every mode, docs/engine.md) or \"none\" (leave them out)"
                f"{_suggest(r['chance_method'], ('exact', 'none'))}"
            )
        ts = r["chance_thresholds"]
        if not isinstance(ts, list) or not all(_is_number(t) and float(t) > 0 for t in ts):
            raise JobError(f"{src}: report.chance_thresholds must be a list of positive LRs, "
                           f"e.g. [1e4, 1e6, 1e8, 1e10], got {ts!r}")
        r["chance_thresholds"] = sorted({float(t) for t in ts})
        u = r["chance_units"]
        if not isinstance(u, int) or isinstance(u, bool) or u < 2:
            raise JobError(f"{src}: report.chance_units must be an integer >= 2 (units per mode "
                           f"whose tables are evaluated), got {u!r}")
        res = r["chance_resolution"]
        if not _is_number(res) or not (1e-6 <= float(res) <= 0.1):
            raise JobError(f"{src}: report.chance_resolution must be a number in [1e-6, 0.1] "
                           f"(log10 units; default 0.005), got {res!r}")
        r["chance_resolution"] = float(res)
        if r["chance_population"] not in ("hw", "theta"):
            raise JobError(f"{src}: report.chance_population must be \"hw\" or \"theta\", got "
                           f"{r['chance_population']!r}")
        if r["power"] not in ("exact", "mc", "none"):
            raise JobError(f"{src}: report.power = {r['power']!r}: expected \"exact\", \"mc\" or "
                           f"\"none\"{_suggest(r['power'], ('exact', 'mc', 'none'))}")
        for k, lo in (("power_simulations", 2), ("power_cases", 1)):
            x = r[k]
            if not isinstance(x, int) or isinstance(x, bool) or x < lo:
                raise JobError(f"{src}: report.{k} must be an integer >= {lo}, got {x!r}")
        db = r["power_database"]
        if db is not None and (not isinstance(db, int) or isinstance(db, bool) or db < 0):
            raise JobError(f"{src}: report.power_database must be an integer >= 0 (profiles in "
                           f"the database), got {db!r}")
        sb = r["power_suggest_below"]
        if not _is_number(sb) or not 0.0 <= float(sb) <= 1.0:
            raise JobError(f"{src}: report.power_suggest_below must be a probability in [0, 1], "
                           f"got {sb!r}")
        r["power_suggest_below"] = float(sb)

    # -- accessors ----------------------------------------------------------------
    def path(self, value) -> Path:
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def modes(self) -> list:
        return list(self.values["search"]["modes"])

    @property
    def output_path(self) -> Path:
        return self.path(self.values["output"]["path"])

    def __getitem__(self, section) -> dict:
        return self.values[section]

    def to_dict(self) -> dict:
        """The normalised job (every key, defaults filled in), JSON-serialisable."""
        return json.loads(json.dumps(self.values, default=str))

    def frequencies_format(self) -> str:
        """The format of ``inputs.frequencies``: the one given, or (``"auto"``) the
        one detected in the file; a bundled population is ``"csv"``."""
        fmt = self.values["inputs"]["frequencies_format"]
        if fmt != "auto":
            return fmt
        p = self.path(self.values["inputs"]["frequencies"])
        if not p.is_file():
            return "csv"
        from formats import FormatError
        from formats.freqio import detect_frequency_format

        try:
            return detect_frequency_format(p)
        except FormatError:
            return "auto"      # the table's loader reports it

    def table_cache(self) -> str:
        """The directory of the on-disk table store (``execution.table_cache``),
        "" when off."""
        tc = self.values["execution"]["table_cache"]
        if tc == "off":
            return ""
        if tc == "auto":
            from kinship.tablecache import default_directory

            return str(default_directory())
        return str(self.path(tc))

    def key_material(self) -> dict:
        """What the results depend on: model, search, report and (resolved) input paths.
        Execution settings and output.overwrite change speed, never results."""
        v = self.to_dict()
        inputs = dict(v["inputs"])
        for k in ("queries", "references"):
            if inputs[k] is not None:
                inputs[k] = str(self.path(inputs[k]).resolve())
        for k in ("y_queries", "y_references", "y_population"):
            if inputs[k] is not None:
                inputs[k] = str(self.path(inputs[k]).resolve())
        # keys added later that are not set leave the key of earlier results unchanged
        # (an incremental run after an upgrade); the table's content is in the job key anyway
        if inputs.get("population") is None:
            inputs.pop("population", None)
        if inputs.get("frequencies_format") == "auto":
            inputs["frequencies_format"] = self.frequencies_format()
        model = dict(v["model"])
        for k in _DROPOUT_KEYS:       # at their defaults: the job key of before
            if model.get(k) == SCHEMA["model"][k][0]:
                model.pop(k, None)
        if model.get("dropout_samples") is not None:
            model["dropout_samples"] = str(self.path(model["dropout_samples"]).resolve())
        out = {"inputs": inputs, "model": model, "search": v["search"], "report": v["report"]}
        if Y_MODE in v["search"]["modes"]:
            out["y_lineage"] = v["y_lineage"]
        return out


def load_job(path) -> Job:
    """Read and validate a TOML job file."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    p = Path(path)
    try:
        text = p.read_bytes()
    except FileNotFoundError:
        raise JobError(f"job file {p} does not exist") from None
    except OSError as e:
        raise JobError(f"job file {p} cannot be read ({e.strerror})") from None
    try:
        d = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise JobError(f"job file {p} is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise JobError(f"job file {p} is not valid TOML: {e}. Fix the line it names.") from None
    return Job.from_dict(d, base_dir=p.resolve().parent, source=p.name)


def stable_hash(obj) -> str:
    """SHA-256 of a JSON-serialisable object (sorted keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
