"""The dropout probability of every sample of a run (``docs/dropout.md``).

Every autosomal mode scores with the qualitative dropout/drop-in model of the
core (Haned, Slooten & Gill 2012; :func:`kinship.likelihood.evidence_matrix`):
each sample has its own dropout probability ``d`` (one allele copy fails to
show), every sample the run's drop-in probability ``c``.  Where ``d`` comes
from, the first that applies:

1. ``[model] dropout_samples``: a CSV file ``sample_id,dropout`` stating ``d``
   per sample (a lab's validated value per sample, kit or quantity);
2. the value stated for the sample when it was imported (the samples manifest's
   ``dropout`` column, stored with the dataset: ``Dataset.sample_dropout``);
3. ``[model] dropout``: one value for every sample, or a table
   ``{queries = ..., references = ...}`` per dataset; a value is a number in
   [0, 1) or ``"estimate"``: ``d`` from the sample's own share of apparent
   homozygotes (:func:`kinship.likelihood.estimate_dropout`, on the model's
   allele systems), rounded to the nearest multiple of :data:`ESTIMATE_STEP`
   (the estimate moves by about 0.03 per extra homozygote at 20 loci, so a finer
   value means nothing, and fewer distinct values mean fewer tables).

The default is ``d = 0`` and ``c = 0``: exactly the results without the model.
The ``d`` used is recorded per sample (``dropout.csv`` in the results) and the
LR of a hit is exact for it: the tables are compiled with the references' ``d``
and folded over the query's true genotype with the query's ``d``; queries with
different ``d`` are scored against different tables (one per distinct value,
no binning beyond the estimate's rounding).
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError, JobError

__all__ = ["ESTIMATE_STEP", "ESTIMATE_MAX", "check_setting", "Dropout", "estimate_codes", "read_sample_file",
           "DROPOUT_FILE", "run_note", "samples_csv"]

#: the grid of estimated dropout probabilities
ESTIMATE_STEP = 0.05
#: the highest estimated dropout probability (:func:`estimate_codes`)
ESTIMATE_MAX = 0.5
#: the per-sample record in the results directory
from .output import DROPOUT as DROPOUT_FILE  # noqa: E402


def _value_ok(v) -> bool:
    if v == "estimate":
        return True
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
            and 0.0 <= float(v) < 1.0)


def check_setting(model: dict, src: str) -> None:
    """Check (and normalise in place) ``model.dropout``, ``model.dropin`` and
    ``model.dropout_samples`` of a job; a :class:`JobError` naming the key."""
    d = model.get("dropout")
    if isinstance(d, dict):
        extra = set(d) - {"queries", "references"}
        if extra:
            raise JobError(f"{src}: model.dropout: unknown key {sorted(extra)[0]!r}; the table takes "
                           f"queries and references, e.g. {{queries = 0.05, references = 0}}")
        for k, v in d.items():
            if not _value_ok(v):
                raise JobError(f"{src}: model.dropout.{k} must be a probability in [0, 1) or "
                               f"\"estimate\", got {v!r}")
        model["dropout"] = {k: (v if v == "estimate" else float(v)) for k, v in d.items()}
    elif not _value_ok(d):
        raise JobError(f"{src}: model.dropout must be a probability in [0, 1), \"estimate\", or a "
                       f"table {{queries = ..., references = ...}}, got {d!r}")
    elif d != "estimate":
        model["dropout"] = float(d)
    c = model.get("dropin")
    if not (isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(float(c))
            and 0.0 <= float(c) < 1.0):
        raise JobError(f"{src}: model.dropin must be a probability in [0, 1) (e.g. 0.05), got {c!r}")
    model["dropin"] = float(c)
    f = model.get("dropout_samples")
    if f is not None and (not isinstance(f, str) or not f.strip()):
        raise JobError(f"{src}: model.dropout_samples must be the path of a CSV file "
                       f"sample_id,dropout, got {f!r}")


def read_sample_file(path: Path) -> dict:
    """``{sample_id: d}`` from a CSV file with the columns ``sample_id`` and
    ``dropout`` (other columns ignored).  Errors name the file, line and sample."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"model.dropout_samples: {path} does not exist. Fix: give the path of a "
                         f"CSV file with the columns sample_id,dropout (relative paths are "
                         f"relative to the job file)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"model.dropout_samples: {path} cannot be read as UTF-8 text ({e})") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    keys = [h.strip().lower() for h in (header or [])]
    if "sample_id" not in keys or "dropout" not in keys:
        raise InputError(f"{path}, line 1: the header must name the columns sample_id and dropout "
                         f"(found {', '.join(keys[:6]) or 'nothing'})")
    si, di = keys.index("sample_id"), keys.index("dropout")
    out: dict = {}
    for n, row in enumerate(rows, start=2):
        if not any(x.strip() for x in row):
            continue
        sid = row[si].strip() if si < len(row) else ""
        raw = row[di].strip() if di < len(row) else ""
        if not sid:
            raise InputError(f"{path}, line {n}: empty sample_id. Fix: fill it in or delete the row")
        try:
            v = float(raw)
        except ValueError:
            v = float("nan")
        if not (math.isfinite(v) and 0.0 <= v < 1.0):
            raise InputError(f"{path}, line {n}, sample {sid}: dropout must be a probability in "
                             f"[0, 1), got {raw!r}")
        if sid in out and out[sid] != v:
            raise InputError(f"{path}, line {n}, sample {sid}: listed twice with different dropout")
        out[sid] = v
    return out


def estimate_codes(codes: np.ndarray, systems) -> np.ndarray:
    """:func:`kinship.likelihood.estimate_dropout` of every profile of ``codes``
    (``[n, L, 2]`` model allele codes, ``-1`` untyped) with the model's allele
    systems, vectorised, *unrounded*."""
    from kinship.frequencies import SILENT

    L = len(systems)
    h = np.empty(L)
    for l, s in enumerate(systems):
        p = np.asarray(s.freqs, dtype=np.float64)
        if s.silent:
            si = s.alleles.index(SILENT)
            ps, q = p[si], np.delete(p, si)
            h[l] = (float(np.sum(q * q)) + 2.0 * ps * float(np.sum(q))) / (1.0 - ps * ps)
        else:
            h[l] = float(np.sum(p * p))
    codes = np.asarray(codes)
    typed = (codes[:, :, 0] >= 0) & (codes[:, :, 1] >= 0)
    hom = typed & (codes[:, :, 0] == codes[:, :, 1])
    H = hom.sum(axis=1).astype(np.float64)
    hs = (typed * h[None, :]).sum(axis=1)
    het = (typed * (1.0 - h[None, :])).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(het > 0, (H - hs) / het, 0.0)
        d = np.where(u < 1.0, u / (2.0 - u), 1.0)
    d = np.where(u <= 0.0, 0.0, d)
    return np.clip(d, 0.0, ESTIMATE_MAX)


def _round(d: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(d) / ESTIMATE_STEP) * ESTIMATE_STEP


class Dropout:
    """The run's dropout settings: :meth:`of` gives the ``d`` of samples."""

    def __init__(self, job):
        m = job["model"]
        self.setting = m["dropout"]
        self.dropin = float(m["dropin"])
        self.file = m.get("dropout_samples")
        self.per_sample = read_sample_file(job.path(self.file)) if self.file else {}
        #: values stated per sample in the datasets (:meth:`add_stated`)
        self.stated: dict = {}
        self.file_sha256 = None
        if self.file:
            import hashlib

            self.file_sha256 = hashlib.sha256(job.path(self.file).read_bytes()).hexdigest()

    def add_stated(self, values: dict) -> None:
        """Add the dropout stated per sample at import (``{sample id: d}``, from
        :meth:`formats.Dataset.sample_dropout`); the job's ``dropout_samples`` file
        still comes first."""
        self.stated.update({str(k): float(v) for k, v in (values or {}).items()})

    def value(self, which: str):
        s = self.setting
        return s.get(which, 0.0) if isinstance(s, dict) else s

    @property
    def active(self) -> bool:
        """Whether any sample may have dropout or drop-in (else the run is the one
        without the model, bit for bit)."""
        vals = [self.value("queries"), self.value("references")]
        return bool(self.dropin or any(v == "estimate" or v for v in vals)
                    or any(self.per_sample.values()) or any(self.stated.values()))

    def values_bound(self, which: str) -> int:
        """The most distinct dropout values the samples of ``which`` can have, known
        before they are read (each value its own tables: the memory plan,
        :func:`engine.memory.plan_run`): the job's value, or the estimate's grid
        (multiples of :data:`ESTIMATE_STEP` up to :data:`ESTIMATE_MAX`), and the
        values stated per sample (file, datasets)."""
        v = self.value(which)
        n = (int(round(ESTIMATE_MAX / ESTIMATE_STEP)) + 1) if v == "estimate" else 1
        return n + len(set(self.per_sample.values()) | set(self.stated.values()))

    def of(self, which: str, ids, codes, systems) -> tuple[np.ndarray, np.ndarray]:
        """``(d, source)`` per sample of ``which`` (``"queries"`` or ``"references"``):
        ``d`` float64, ``source`` one of ``file``, ``dataset``, ``estimate``, ``job``."""
        n = len(ids)
        v = self.value(which)
        if v == "estimate":
            d = _round(estimate_codes(codes, systems)) if n else np.zeros(0)
            src = np.full(n, "estimate", dtype=object)
        else:
            d = np.full(n, float(v))
            src = np.full(n, "job", dtype=object)
        if self.stated and n:
            ids_s = np.asarray(ids, dtype=object).astype(str)
            for i, sid in enumerate(ids_s.tolist()):
                v = self.stated.get(sid)
                if v is not None:
                    d[i] = v
                    src[i] = "dataset"
        if self.per_sample and n:
            ids_s = np.asarray(ids, dtype=object).astype(str)
            hit = np.isin(ids_s, np.array(sorted(self.per_sample), dtype=str))
            for i in np.nonzero(hit)[0]:
                d[i] = self.per_sample[ids_s[i]]
                src[i] = "file"
        return d.astype(np.float64), src

    def describe(self) -> dict:
        out = {"dropout": self.setting, "dropin": self.dropin, "estimate_step": ESTIMATE_STEP}
        if self.stated:
            out["stated_in_datasets"] = {"samples": len(self.stated)}
        if self.file:
            out["dropout_samples"] = {"file": str(self.file), "sha256": self.file_sha256,
                                      "samples": len(self.per_sample)}
        return out


def fingerprint_sex(sex: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The text that :func:`engine.inputs.fingerprints` hashes as a profile's first
    word: its sex, and its dropout where it has one (so a changed ``d`` is a
    changed unit for incremental runs; ``d = 0`` leaves the fingerprint as it was)."""
    sex = np.asarray(sex, dtype=object)
    if d is None or not np.any(d):
        return sex
    out = sex.copy()
    for i in np.nonzero(d)[0]:
        out[i] = f"{sex[i]}\x1fdropout={float(d[i])!r}"
    return out


def counts(d: np.ndarray) -> dict:
    """``{d: number of samples}`` (for the manifest)."""
    u, n = np.unique(np.asarray(d, dtype=np.float64), return_counts=True)
    return {repr(float(a)): int(b) for a, b in zip(u, n)}


def run_note(drop, queries, refs) -> str:
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


def samples_csv(queries, refs) -> bytes:
    """``dropout.csv``: ``sample_id,role,dropout,source`` for every query and reference
    (sorted by role and id): the dropout probability each LR of the run used."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")   # quotes an id holding , " CR or LF
    w.writerow(["sample_id", "role", "dropout", "source"])
    for role, s in (("query", queries), ("reference", refs)):
        if s is None or len(s) == 0:
            continue
        src = s.dropout_src if s.dropout_src is not None else np.full(len(s), "job", dtype=object)
        ids = (s.id_array.cast(pa.string()) if hasattr(s, "id_array")   # QuerySet: Arrow already
               else pa.array([str(x) for x in s.ids], pa.string()))
        # sorted by code point, stably (UTF-8 byte order is code point order): Arrow's
        # sort of the strings, not NumPy's of a fixed-width unicode array (~1 s at 2e5)
        order = pc.sort_indices(ids).to_numpy()
        w.writerows(zip(ids.take(order).to_pylist(), [role] * len(order),
                        map(repr, np.asarray(s.dropout, dtype=np.float64)[order].tolist()),
                        np.asarray(src, dtype=object)[order].tolist()))
    return buf.getvalue().encode("utf-8")
