"""The scoring model of a run: frequency table, loci, allele systems, mutation, θ.

The engine scores profiles with :class:`kinship.search.ScoringModel`.  Profile
datasets store allele *codes* into their own append-only allele dictionary;
the model's allele system of a locus is the frequency table's alleles plus every
allele of the datasets searched (``extra_alleles``), exactly as
:meth:`formats.ProfileArrays.to_table_indices` builds it.  Queries and references
may come from two datasets with two dictionaries, so the engine re-codes each
dataset by allele *label* into the model's system (:class:`Recoder`) rather
than trusting two code spaces to agree.

:class:`ModelSpec` is the picklable description a worker needs to rebuild the
same :class:`~kinship.search.ScoringModel` (Dask workers rebuild it once and
cache it by :attr:`ModelSpec.key`).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from kinship._numba import jit
from kinship.tables import genotype_indices  # noqa: F401  (engine.model.genotype_indices)

from .errors import InputError

__all__ = ["ModelSpec", "Recoder", "load_frequencies", "resolve_loci", "get_model", "sex_dependent"]


def load_frequencies(job):
    """The job's frequency table and a description of where it came from."""
    import kinship

    from .job import stable_hash

    import formats

    inp = job["inputs"]
    name = inp["frequencies"]
    fmt = inp["frequencies_format"]
    population = inp.get("population")
    p = job.path(name)
    if fmt == "auto":
        if p.is_file():
            try:
                fmt = formats.detect_frequency_format(p)
            except formats.FormatError as e:
                raise InputError(f"inputs.frequencies: {e}") from None
        else:
            fmt = "csv"        # a bundled population
    if population is not None and fmt not in ("strider", "strider-xml"):
        raise InputError(
            f"inputs.population = {population!r}, but the table {name!r} ({fmt}) holds one "
            f"population. Fix: remove inputs.population, or give a stacked table (a STRidER XML "
            f"export, a strvalidator table with a Database column)")
    kw = {}
    maf = job["model"]["min_allele_freq"]
    if maf is not None:
        kw["min_allele_freq"] = dict(maf) if isinstance(maf, Mapping) else float(maf)
    sil = job["model"].get("silent")
    if sil is not None:
        # a number: every locus; a table: those loci (over a .fam file's own silent
        # alleles); 0: no silent allele there
        if isinstance(sil, Mapping):
            kw["silent"] = {k: float(v) for k, v in sil.items()}
        elif float(sil) > 0 or fmt == "fam":
            kw["silent"] = float(sil)
        if fmt != "fam" and isinstance(kw.get("silent"), dict):
            kw["silent"] = {k: v for k, v in kw["silent"].items() if v > 0} or None
        if kw.get("silent") is None:
            kw.pop("silent", None)
    source = {"name": name, "format": fmt}
    if population is not None:
        source["population_asked"] = population
    try:
        if p.exists():
            source["file"] = p.name
            source["file_sha256"] = _sha256(p)
            if population is not None:
                kw["population"] = population
            ft = formats.read_frequencies(p, format=fmt, **kw)
        else:
            stem = Path(name).name
            stem = stem[:-4] if stem.lower().endswith(".csv") else stem
            if fmt == "csv" and stem != name and stem in kinship.populations():
                # "nist1036_all.csv" with no such file: the bundled table of that name
                source["note"] = f"no file {p}; the bundled population {stem!r} was used"
                name = stem
            if fmt != "csv" or any(c in name for c in "/\\") or name.endswith((".csv", ".txt", ".tsv")):
                raise InputError(
                    f"inputs.frequencies: {p} does not exist. Fix: give the path of the frequency "
                    f"file (relative paths are relative to the job file), or the name of a bundled "
                    f"population such as \"nist1036_all\" (kinship.populations() lists them)"
                )
            try:
                ft = kinship.FrequencyTable.load(name, **kw)
            except KeyError as e:
                raise InputError(
                    f"inputs.frequencies = {name!r} is neither a file nor a bundled population: "
                    f"{str(e).strip(chr(39))} Fix: give a path or one of kinship.populations()."
                ) from None
            source["bundled"] = True
    except InputError:
        raise
    except (ValueError, KeyError, OSError) as e:
        fix = ""
        if "silent" in kw and "with the silent allele" in str(e):
            fix = (" Fix: the silent allele's frequency is part of the locus sum: lower "
                   "model.silent (e.g. 0.001), or give a table whose alleles leave room for it")
        raise InputError(f"inputs.frequencies: the table {name!r} cannot be used: {e}{fix}") from None
    source["table_sha256"] = ft.checksum()
    source["population"] = ft.name
    return ft, source


def resolve_loci(job, ft, qds, rds):
    """The loci of a run: those of the datasets (or ``inputs.loci``), each resolved
    in the frequency table.  Returns ``(table names, dataset names)``, sorted by
    the table's name; a locus the table lacks is an :class:`InputError`."""
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def sex_dependent(mutation) -> bool:
    """Whether LRs depend on the sex of a transmitting parent (different female and
    male mutation models).  Without mutation, or with one model for both sexes, a
    parent's sex changes nothing, so the engine compiles one table for both."""
    if mutation is None or mutation.is_null:
        return False
    d = mutation.describe()
    if d["female"] != d["male"] or d["female"] == {"model": "custom"}:
        return True
    return any(v["female"] != v["male"] for v in d["per_locus"].values())


def _memoized(mutation):
    """The same mutation model, with its matrices computed once per allele system.

    The core builds the matrices of a locus every time it compiles a case (a
    couple's closed form, a pedigree table); a run compiles thousands of cases
    over the same allele systems, so the engine hands the core a model that
    remembers them (34 ms -> 3 ms per trio on 23 loci).  The matrices are the
    model's own, so no LR changes.
    """
    if mutation is None:
        return None
    return _MemoMutation(mutation)


def _memo_class():
    from kinship.mutation import MutationModel

    class MemoMutation(MutationModel):
        def __init__(self, base):
            self.__dict__.update(base.__dict__)
            self.per_locus = {k: _memoized(v) for k, v in base.per_locus.items()}
            self._memo = {}
            self._memo_lock = threading.Lock()

        def matrices(self, la):
            key = (la.locus, la.alleles, la.freqs.tobytes())
            hit = self._memo.get(key)
            if hit is None:
                hit = MutationModel.matrices(self, la)
                for mtx in hit:
                    if mtx is not None:
                        mtx.setflags(write=False)
                with self._memo_lock:
                    self._memo[key] = hit
            return hit

    return MemoMutation


def _MemoMutation(base):  # noqa: N802 - a lazily defined class
    global _MEMO_CLASS
    if _MEMO_CLASS is None:
        _MEMO_CLASS = _memo_class()
    return _MEMO_CLASS(base)


_MEMO_CLASS = None


@dataclass
class ModelSpec:
    """Everything needed to rebuild the run's ScoringModel on any worker."""

    frequencies: object
    loci: tuple
    mutation: object
    theta: float
    extra_alleles: dict
    key: str = ""
    #: drop-in probability of every sample (docs/dropout.md); the samples' dropout
    #: probabilities are per sample (engine.dropout) and enter the units' fingerprints
    dropin: float = 0.0
    #: directory of the on-disk table store (kinship.tablecache), "" for none;
    #: where tables are kept, never what they are: not part of the key
    table_cache: str = ""
    #: the table store's size in bytes (``execution.table_cache_size``; 0: the default)
    table_cache_size: int = 0

    def __post_init__(self):
        if not self.key:
            from .job import stable_hash

            m = self.build()
            material = {
                "describe": m.describe(),
                "systems": [[s.locus, list(s.alleles), [repr(float(x)) for x in s.freqs]]
                            for s in m.systems],
            }
            if self.dropin:
                material["dropin"] = repr(float(self.dropin))
            self.key = m._strkin_key = stable_hash(material)
            _CACHE[self.key] = m

    def build(self):
        from kinship.search import ScoringModel

        m = ScoringModel(self.frequencies, self.loci, mutation=_memoized(self.mutation),
                         theta=self.theta, extra_alleles=self.extra_alleles)
        if self.table_cache:
            from kinship.tablecache import TableStore

            m.table_store = TableStore(self.table_cache, self.table_cache_size) \
                if self.table_cache_size else TableStore(self.table_cache)
        return m

    @property
    def sex_dependent(self) -> bool:
        return sex_dependent(self.mutation)


_CACHE: dict = {}
_LOCK = threading.Lock()


def get_model(spec: ModelSpec):
    """The ScoringModel of ``spec``, built once per process (its pair tables are
    cached inside it, so every task of a run shares them)."""
    m = _CACHE.get(spec.key)
    if m is None:
        with _LOCK:
            m = _CACHE.get(spec.key)
            if m is None:
                m = spec.build()
                m._strkin_key = spec.key
                _CACHE[spec.key] = m
    return m


class Recoder:
    """Re-code a dataset's allele codes into the model's allele systems, by label.

    ``model_loci[j]`` is spelled as in the frequency table; ``ds_names[j]`` is the
    same locus as the dataset names it (both canonical, so normally equal).
    ``load_loci``: the dataset's names of the model loci it has (pass to
    ``Dataset.load``); :meth:`codes` places them into ``[n, L_model, 2]``
    (``-1`` where the dataset has no such locus).
    """

    def __init__(self, dataset, model_loci: Sequence[str], systems, ds_names: Sequence[str] | None = None):
        self.loci = tuple(model_loci)
        self.systems = systems
        names = tuple(ds_names) if ds_names is not None else self.loci
        have = set(dataset.loci)
        sel = [j for j, d in enumerate(names) if d in have]
        self.load_loci = tuple(names[j] for j in sel)
        self.positions = np.array(sel, dtype=np.int64)
        alleles = dataset.alleles
        self.luts = []
        for j in sel:
            s = systems[j]
            pos = {a: i for i, a in enumerate(s.alleles)}
            try:
                lut = np.array([pos[a] for a in alleles[names[j]]] + [-1], dtype=np.int16)
            except KeyError as e:  # pragma: no cover - systems are built from these alleles
                raise InputError(f"allele {e.args[0]!r} of locus {names[j]} is not in the model's "
                                 f"allele system") from None
            self.luts.append(lut)

    def plan(self, shard_loci: Sequence[str], max_code: Mapping):
        """For the fused load (:func:`engine.inputs.load_queries`), per model code
        column ``j`` (``2 * locus + allele``): the column of a shard's codes that
        holds it (``shard_loci``: the shard's loci, dataset names), and where its LUT
        starts in one concatenated table whose entry 0 of each LUT is -1 (code -1,
        untyped), so that the model code is ``big[off[j] + (code + 1) * mul[j]]``
        (``mul`` 0 and ``off`` at a -1 where the shard lacks the locus).  Returns
        ``(col, off, mul, big)``.  ``max_code``: the shard's largest code per locus
        (checked by the dataset against its allele dictionary, which the LUTs cover:
        raises if not)."""
        J = 2 * len(self.loci)
        col = np.zeros(J, dtype=np.int64)
        off = np.zeros(J, dtype=np.int64)
        mul = np.zeros(J, dtype=np.int64)
        where = {l: c for c, l in enumerate(shard_loci)}
        big, at = [np.full(1, -1, dtype=np.int16)], 1        # entry 0: every absent locus
        for name, pos, lut in zip(self.load_loci, self.positions, self.luts):
            c = where.get(name)
            if c is None:
                continue
            if int(max_code.get(name, -1)) >= len(lut) - 1:
                raise ValueError("allele code outside the dataset's allele list")
            big.append(np.concatenate([lut[-1:], lut[:-1]]))   # -1 first, then codes 0..
            for k in range(2):
                col[2 * pos + k], off[2 * pos + k], mul[2 * pos + k] = 2 * c + k, at, 1
            at += len(lut)
        return col, off, mul, np.concatenate(big)

    def gidx_dtype(self) -> np.dtype:
        """int16 when every genotype index of the model's systems fits (then also every one
        the data holds: :func:`~kinship.tables.genotype_indices` gives int16), else
        int32 (narrowed after the load when the data's fit)."""
        n = max((len(s.alleles) for s in self.systems), default=0)
        return np.dtype(np.int16) if n * (n + 1) // 2 - 1 <= np.iinfo(np.int16).max else np.dtype(np.int32)

    def codes(self, arrays) -> np.ndarray:
        """Model codes ``int16 [n, L, 2]`` from a ProfileArrays loaded with ``load_loci``."""
        if tuple(arrays.loci) != self.load_loci:
            raise ValueError("profiles were loaded with other loci than Recoder.load_loci")
        g = np.ascontiguousarray(arrays.genotypes)
        out = np.full((g.shape[0], len(self.loci), 2), -1, dtype=np.int16)
        if g.size:
            big = np.concatenate(self.luts)       # each LUT ends with -1 (untyped)
            starts = np.cumsum([0] + [len(t) for t in self.luts[:-1]]).astype(np.int64)
            ends = starts + np.array([len(t) for t in self.luts], dtype=np.int64)
            _recode(g, big, starts, ends, self.positions, out)
        return out


@jit()
def _recode(g, big, starts, ends, positions, out):
    """``out[i, positions[j], k] = lut_j[g[i, j, k]]`` with ``lut_j = big[starts[j]:
    ends[j]]``; the code ``-1`` (untyped) gives ``-1``.  The dataset checked its
    codes when it loaded them; any other code is an error, not a guess."""
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            n = ends[j] - starts[j] - 1           # real entries (the last is -1)
            for k in range(2):
                c = g[i, j, k]
                if c == -1:
                    out[i, positions[j], k] = -1
                elif 0 <= c < n:
                    out[i, positions[j], k] = big[starts[j] + c]
                else:
                    raise ValueError("allele code outside the dataset's allele list")
