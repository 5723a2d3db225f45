"""Simulated profile datasets with a truth table, at any size, in bounded memory.

The family logic is that of :mod:`kinship.simulate` (the same structures,
transmission, mutation, genotyping-error and dropout rules), vectorised over
blocks of families so that 10^7 profiles take minutes, and written as Parquet
shards in the project's schema with :func:`formats.write_profiles`.

What is simulated
-----------------
* **Families** with a missing child (the *query*; his relatives are the
  *references* of a case), in stated proportions over the structures of
  :data:`STRUCTURES`: ``both-parents``, ``father``, ``mother``,
  ``parent-sibling`` (father and a full sibling), ``grandparents`` (paternal),
  ``siblings`` (two full siblings), ``sibling`` (one), ``half-sibling``
  (paternal).
* **Unrelated queries** (persons related to no case) and **unrelated cases**
  (a single father with no missing child in the data).
* **Founders** are real genotypes (default: the bundled NIST 1036 U.S.
  profiles), each used at most once, in an order shuffled by the seed; when
  they run out (or when the loci are not all typed in them) founders are drawn
  from the frequency table (Hardy–Weinberg, each locus divided by its sum).
* **Transmission**: each parent passes one of its two alleles at random,
  mutated by the parent's sex-specific matrix of the mutation model.
* **Observation**: the dropout model of the scoring (``docs/dropout.md``):
  with ``query_dropout`` / ``reference_dropout`` d each allele *copy* of a query's /
  reference's sample fails to show with probability d, independently (a
  heterozygote a/b is called a/a with probability d(1 - d), a homozygote loses the
  locus with d², a locus where nothing shows is untyped), and with ``dropin`` c
  each allele a of the locus not carried shows with probability c·p_a (a call of
  more than two alleles is not a single-source call: the locus is left untyped).
  ``dropout_rate`` is the older, cruder rule kept for comparison: a heterozygote
  is called as a homozygote of its first (paternal) allele with that
  probability.  With ``error_rate`` each allele is replaced by its neighbour in
  the allele ladder (one step up or down, clipped at the ends).  Every typed
  person is observed this way.

Reproducibility
---------------
Everything is a function of ``seed``: families are made in blocks of
``BLOCK`` families, block ``b`` draws from ``default_rng([seed, 1, b])``, so the
output does not depend on ``shard_size``.  Query and case IDs are scrambled
(an affine permutation drawn from the seed) so that an ID says nothing about
the truth; the truth table is the key.

Truth table
-----------
One row per profile: ``sample_id``, ``kind`` (query/reference), ``case_id``
(for a reference its case; for a planted query the case he is the missing
person of; ``""`` for an unrelated query), ``role`` (``missing`` for a planted
query, ``unrelated`` for an unrelated query, else the reference's role:
``father``, ``mother``, ``sib``, ``sib2``, ``hsib``, ``pgf``, ``pgm``),
``structure`` (the family's structure, ``unrelated``, or ``unrelated-case``)
and ``family`` (family number, -1 for unrelated persons).
"""
from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from kinship.frequencies import SILENT, FrequencyTable
from kinship.mutation import MutationModel
from kinship.simulate import load_nist_genotypes

__all__ = [
    "STRUCTURES",
    "BLOCK",
    "PopulationSimulator",
    "SimulationResult",
    "simulate_dataset",
    "parse_proportions",
    "read_truth",
]

from .names import STRUCTURES  # noqa: E402  (the family structures, by name)

#: founders each family uses (father, mother, and for grandparents the
#: paternal grandparents instead of the father, for a half sibling his mother)
_N_FOUNDERS = {"grandparents": 3, "half-sibling": 3}

#: families per block (the unit of the random streams)
BLOCK = 4096

_TRUTH_COLUMNS = ("sample_id", "kind", "case_id", "role", "structure", "family")
_ROLE_SEX = {"father": "M", "mother": "F", "pgf": "M", "pgm": "F"}


@lru_cache(maxsize=None)
def _normalize(label: str) -> str:
    from kinship.markers import normalize_allele

    return normalize_allele(label)


def parse_proportions(text: str | Mapping[str, float]) -> dict[str, float]:
    """``"both-parents=0.4,father=0.6"`` (or a dict) -> checked, normalised dict."""
    if isinstance(text, Mapping):
        items = dict(text)
    else:
        items = {}
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            name, _, w = part.partition("=")
            try:
                items[name.strip()] = float(w) if w else 1.0
            except ValueError:
                raise ValueError(f"structure proportion {part!r}: expected NAME=WEIGHT, e.g. father=0.5") from None
    bad = [k for k in items if k not in STRUCTURES]
    if bad:
        raise ValueError(f"unknown family structure {bad[0]!r}; known: {', '.join(STRUCTURES)}")
    w = np.array(list(items.values()), dtype=float)
    if len(w) == 0 or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"structure proportions must be >= 0 and not all 0, got {items}")
    return {k: float(v) / float(w.sum()) for k, v in items.items()}


def _affine_permutation(n: int, rng) -> tuple[int, int]:
    """(a, b) with gcd(a, n) = 1: i -> (a i + b) mod n is a permutation of 0..n-1."""
    if n <= 1:
        return 1, 0
    while True:
        a = int(rng.integers(1, n))
        if math.gcd(a, n) == 1:
            return a, int(rng.integers(0, n))


@dataclass
class _Block:
    """Profiles of one block: meta columns (object arrays), genotypes, truth."""

    sample_id: np.ndarray
    kind: np.ndarray
    case_id: np.ndarray
    relation: np.ndarray
    sex: np.ndarray
    genotypes: np.ndarray
    role: np.ndarray
    structure: np.ndarray
    family: np.ndarray

    def __len__(self):
        return len(self.sample_id)


class PopulationSimulator:
    """Vectorised families, unrelated persons and unrelated cases.

    ``frequencies``: a :class:`kinship.FrequencyTable` (founder draws and the allele
    systems); ``loci``: any loci of the table (e.g. a kit's autosomal loci);
    ``founders``: ``"nist"`` (the bundled NIST 1036 genotypes), ``None`` (always
    draw from the table) or ``{id: {locus: (a, b)}}``; ``mutation``: a
    :class:`kinship.MutationModel` or ``None``.
    """

    def __init__(self, frequencies: FrequencyTable, loci: Sequence[str], mutation: MutationModel | None = None,
                 founders="nist", seed: int = 1, error_rate: float = 0.0, dropout_rate: float = 0.0,
                 query_dropout: float = 0.0, reference_dropout: float = 0.0, dropin: float = 0.0):
        if mutation is not None and not isinstance(mutation, MutationModel):
            mutation = MutationModel(mutation)
        for name, v in (("error_rate", error_rate), ("dropout_rate", dropout_rate)):
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        for name, v in (("query_dropout", query_dropout), ("reference_dropout", reference_dropout),
                        ("dropin", dropin)):
            if not 0.0 <= float(v) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        self.query_dropout = float(query_dropout)
        self.reference_dropout = float(reference_dropout)
        self.dropin = float(dropin)
        self.frequencies = frequencies
        self.loci = tuple(frequencies.resolve_locus(l) for l in loci)
        if len(set(self.loci)) != len(self.loci):
            raise ValueError(f"a locus is listed twice: {list(loci)}")
        self.mutation = mutation
        self.seed = int(seed)
        self.error_rate = float(error_rate)
        self.dropout_rate = float(dropout_rate)
        if isinstance(founders, str):
            if founders != "nist":
                raise ValueError(f"founders must be 'nist', None or a dict of genotypes, got {founders!r}")
            founders = load_nist_genotypes()
        pairs = [[self._find(g, l) for l in self.loci] for g in (founders or {}).values()]
        usable = [row for row in pairs if all(p is not None for p in row)]
        extra = {l: set() for l in self.loci}
        for row in usable:
            for l, p in zip(self.loci, row):
                extra[l].update(p)
        self.labels: list[tuple[str, ...]] = []
        self.cum_p: list[np.ndarray] = []
        self._mut: list[dict] = []
        for l in self.loci:
            s = frequencies.locus_alleles(l, sorted(extra[l]))
            keep = [i for i, a in enumerate(s.alleles) if a != SILENT]
            labels = tuple(s.alleles[i] for i in keep)
            p = s.freqs[keep] / s.freqs[keep].sum()
            self.labels.append(labels)
            self.cum_p.append(np.cumsum(p))
            mats = {}
            if mutation is not None:
                fM, mM = mutation.matrices(s)
                for sex, M in (("F", fM), ("M", mM)):
                    if M is None:
                        continue
                    M = M[np.ix_(keep, keep)]
                    off = M.copy()
                    np.fill_diagonal(off, 0.0)
                    mats[sex] = (1.0 - np.diag(M), np.cumsum(off, axis=1))
            self._mut.append(mats)
        index = [{a: i for i, a in enumerate(lab)} for lab in self.labels]
        pool_arr = np.zeros((len(usable), len(self.loci), 2), dtype=np.int16)
        for k, row in enumerate(usable):
            for j, (a, b) in enumerate(row):
                pool_arr[k, j] = (index[j][a], index[j][b])
        order = np.random.default_rng([self.seed, 0]).permutation(len(usable))
        self.pool = pool_arr[order]

    def _find(self, g: Mapping, locus: str):
        """The pair of genotype dict ``g`` at ``locus`` (keys in any spelling), or None."""
        from kinship.markers import LocusError

        v = g.get(locus)
        if v is None:
            for k in g:
                try:
                    if self.frequencies.resolve_locus(k) == locus:
                        v = g[k]
                        break
                except LocusError:
                    continue
        if v is None:
            return None
        return tuple(_normalize(a) for a in v)

    @property
    def alleles(self) -> dict[str, tuple[str, ...]]:
        return dict(zip(self.loci, self.labels))

    def describe(self) -> dict:
        return {
            "loci": list(self.loci),
            "frequencies": self.frequencies.name,
            "frequencies_sha256": self.frequencies.checksum(),
            "mutation": None if self.mutation is None else self.mutation.describe(),
            "real_founders_available": int(len(self.pool)),
            "error_rate": self.error_rate,
            "dropout_rate": self.dropout_rate,
            "query_dropout": self.query_dropout,
            "reference_dropout": self.reference_dropout,
            "dropin": self.dropin,
            "seed": self.seed,
        }

    # -- persons ------------------------------------------------------------------------
    def _draw_founders(self, n: int, rng) -> np.ndarray:
        out = np.empty((n, len(self.loci), 2), dtype=np.int16)
        for j, cum in enumerate(self.cum_p):
            u = rng.random((n, 2)) * cum[-1]
            out[:, j] = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
        return out

    def founders(self, start: int, n: int, rng) -> np.ndarray:
        """Founders number ``start .. start+n-1`` of the run: real genotypes while
        the shuffled pool lasts, then draws from the table."""
        real = max(0, min(n, len(self.pool) - start))
        out = np.empty((n, len(self.loci), 2), dtype=np.int16)
        if real:
            out[:real] = self.pool[start:start + real]
        if n - real:
            out[real:] = self._draw_founders(n - real, rng)
        return out

    def transmit(self, parent: np.ndarray, sex: str, rng) -> np.ndarray:
        """One allele per (person, locus) passed on by parents of sex ``"M"``/``"F"``."""
        n, L, _ = parent.shape
        pick = rng.integers(0, 2, size=(n, L))
        a = np.where(pick == 0, parent[:, :, 0], parent[:, :, 1]).astype(np.int16)
        for j in range(L):
            m = self._mut[j].get(sex)
            u = rng.random(n)
            if m is None:
                continue
            rate, cum_off = m
            hit = np.nonzero(u < rate[a[:, j]])[0]
            if len(hit):
                rows = cum_off[a[hit, j]]
                v = rng.random(len(hit)) * rows[:, -1]
                a[hit, j] = np.minimum((rows <= v[:, None]).sum(axis=1), rows.shape[1] - 1)
        return a

    def child(self, father: np.ndarray, mother: np.ndarray, rng) -> np.ndarray:
        return np.stack([self.transmit(father, "M", rng), self.transmit(mother, "F", rng)], axis=2)

    def observe(self, g: np.ndarray, rng, dropout: float = 0.0) -> np.ndarray:
        """Genotype calls with dropout and errors (a copy), alleles sorted; ``dropout``:
        the model's per-copy dropout of this sample (with the run's ``dropin``)."""
        g = g.copy()
        n, L, _ = g.shape
        if dropout > 0 or self.dropin > 0:
            g = self._observe_model(g, rng, float(dropout), self.dropin)
        if self.dropout_rate > 0:
            drop = (rng.random((n, L)) < self.dropout_rate) & (g[:, :, 0] != g[:, :, 1])
            g[:, :, 1] = np.where(drop, g[:, :, 0], g[:, :, 1])
        if self.error_rate > 0:
            sizes = np.array([len(lab) for lab in self.labels], dtype=np.int16)
            err = rng.random((n, L, 2)) < self.error_rate
            step = np.where(rng.random((n, L, 2)) < 0.5, 1, -1).astype(np.int16)
            g = np.where(err, np.clip(g + step, 0, (sizes - 1)[None, :, None]), g).astype(np.int16)
        return np.sort(g, axis=2)

    def _observe_model(self, g: np.ndarray, rng, d: float, c: float) -> np.ndarray:
        """The dropout/drop-in model (``docs/dropout.md``) applied to true genotypes:
        each copy drops with ``d``; each allele ``a`` not seen drops in with ``c p_a``;
        nothing seen, or more than two alleles: untyped (``-1``)."""
        n, L, _ = g.shape
        a, b = g[:, :, 0], g[:, :, 1]
        drop = rng.random((n, L, 2)) < d
        hom = a == b
        seen_a = ~drop[:, :, 0] | (hom & ~drop[:, :, 1])
        seen_b = ~drop[:, :, 1] | (hom & ~drop[:, :, 0])
        out = np.empty_like(g)
        out[:, :, 0] = np.where(seen_a, a, np.where(seen_b, b, -1))
        out[:, :, 1] = np.where(seen_b, b, np.where(seen_a, a, -1))
        if c > 0:
            for j, cum in enumerate(self.cum_p):
                p = np.diff(np.r_[0.0, cum]) / cum[-1]
                din = rng.random((n, len(p))) < c * p[None, :]
                for i in np.nonzero(din.any(axis=1))[0]:
                    seen = {int(x) for x in out[i, j] if x >= 0} | set(np.nonzero(din[i])[0].tolist())
                    if len(seen) == 1:
                        x = seen.pop()
                        out[i, j] = (x, x)
                    elif len(seen) == 2:
                        out[i, j] = sorted(seen)
                    else:
                        out[i, j] = (-1, -1)
        return out

    # -- blocks -------------------------------------------------------------------------
    def family_block(self, b: int, first: int, n: int, names: list[str], w: np.ndarray,
                     founder_start: int, case_ids, query_ids) -> tuple[_Block, int]:
        """Families ``first .. first+n-1`` (block ``b``); returns the block and the
        number of founders used."""
        rng = np.random.default_rng([self.seed, 1, b])
        st = rng.choice(len(names), size=n, p=w)
        parts = []
        used = 0
        for k, name in enumerate(names):
            fam = first + np.nonzero(st == k)[0]
            m = len(fam)
            if m == 0:
                continue
            nf = _N_FOUNDERS.get(name, 2)
            F = self.founders(founder_start + used, m * nf, rng).reshape(m, nf, len(self.loci), 2)
            used += m * nf
            if name == "grandparents":
                pgf, pgm, mo = F[:, 0], F[:, 1], F[:, 2]
                fa = self.child(pgf, pgm, rng)
            else:
                fa, mo = F[:, 0], F[:, 1]
            missing = self.child(fa, mo, rng)
            cid = case_ids(fam)
            people = [("missing", "", missing, rng.choice(np.array(["M", "F"], dtype=object), size=m))]
            for role, relation in STRUCTURES[name]:
                if role == "father":
                    g = fa
                elif role == "mother":
                    g = mo
                elif role in ("sib", "sib2"):
                    g = self.child(fa, mo, rng)
                elif role == "hsib":
                    g = self.child(fa, F[:, 2], rng)
                elif role == "pgf":
                    g = pgf
                elif role == "pgm":
                    g = pgm
                else:  # pragma: no cover - STRUCTURES is fixed above
                    raise KeyError(role)
                sex = (np.full(m, _ROLE_SEX[role], dtype=object) if role in _ROLE_SEX
                       else rng.choice(np.array(["M", "F"], dtype=object), size=m))
                people.append((role, relation, g, sex))
            for role, relation, g, sex in people:
                obs = self.observe(g, rng, self.query_dropout if role == "missing"
                                   else self.reference_dropout)
                if role == "missing":
                    sid = query_ids(fam)
                    kind = np.full(m, "query", dtype=object)
                    rel = np.full(m, "", dtype=object)
                else:
                    sid = np.array([f"{c}-{role}" for c in cid], dtype=object)
                    kind = np.full(m, "reference", dtype=object)
                    rel = np.full(m, relation, dtype=object)
                parts.append(_Block(sid, kind, cid, rel, sex, obs,
                                    np.full(m, role, dtype=object), np.full(m, name, dtype=object),
                                    fam.astype(np.int64)))
        # a planted query's case_id is his true case here (for the truth table); the
        # dataset stores queries without one
        return _concat(parts), used

    def single_block(self, b: int, n: int, founder_start: int, kind: str, ids, case_ids=None) -> _Block:
        """Unrelated queries (``kind="query"``) or unrelated one-father cases."""
        stream = 2 if kind == "query" else 3
        rng = np.random.default_rng([self.seed, stream, b])
        g = self.observe(self.founders(founder_start, n, rng), rng,
                         self.query_dropout if kind == "query" else self.reference_dropout)
        if kind == "query":
            sex = rng.choice(np.array(["M", "F"], dtype=object), size=n)
            return _Block(ids, np.full(n, "query", dtype=object), np.full(n, "", dtype=object),
                          np.full(n, "", dtype=object), sex, g, np.full(n, "unrelated", dtype=object),
                          np.full(n, "unrelated", dtype=object), np.full(n, -1, dtype=np.int64))
        sid = np.array([f"{c}-father" for c in case_ids], dtype=object)
        return _Block(sid, np.full(n, "reference", dtype=object), case_ids, np.full(n, "father", dtype=object),
                      np.full(n, "M", dtype=object), g, np.full(n, "father", dtype=object),
                      np.full(n, "unrelated-case", dtype=object), np.full(n, -1, dtype=np.int64))

    def blocks(self, n_cases: int, n_unrelated: int = 0, proportions=None,
               n_unrelated_cases: int = 0) -> Iterator[_Block]:
        """Every block of the run, in order (families, unrelated queries, unrelated
        cases).  Memory: one block at a time."""
        props = parse_proportions(proportions or {"both-parents": 0.4, "father": 0.2, "mother": 0.1,
                                                  "parent-sibling": 0.1, "grandparents": 0.1,
                                                  "siblings": 0.1})
        names = list(props)
        w = np.array([props[k] for k in names])
        n_q = n_cases + n_unrelated
        n_c = n_cases + n_unrelated_cases
        prm = np.random.default_rng([self.seed, 4])
        qa, qb = _affine_permutation(n_q, prm)
        ca, cb = _affine_permutation(n_c, prm)
        qw = max(6, len(str(max(n_q - 1, 0))))
        cw = max(6, len(str(max(n_c - 1, 0))))

        def qids(i):
            return np.array([f"Q{x:0{qw}d}" for x in ((qa * i.astype(np.int64) + qb) % max(n_q, 1)).tolist()],
                            dtype=object)

        def cids(i):
            return np.array([f"C{x:0{cw}d}" for x in ((ca * i.astype(np.int64) + cb) % max(n_c, 1)).tolist()],
                            dtype=object)

        founder = 0
        for b, first in enumerate(range(0, n_cases, BLOCK)):
            n = min(BLOCK, n_cases - first)
            blk, used = self.family_block(b, first, n, names, w, founder, cids, qids)
            founder += used
            yield blk
        for b, first in enumerate(range(0, n_unrelated, BLOCK)):
            n = min(BLOCK, n_unrelated - first)
            yield self.single_block(b, n, founder, "query", qids(n_cases + np.arange(first, first + n)))
            founder += n
        for b, first in enumerate(range(0, n_unrelated_cases, BLOCK)):
            n = min(BLOCK, n_unrelated_cases - first)
            yield self.single_block(b, n, founder, "reference", None,
                                    cids(n_cases + np.arange(first, first + n)))
            founder += n
        self.founders_used = founder


def _concat(parts: list[_Block]) -> _Block:
    names = [f for f in _Block.__dataclass_fields__]
    return _Block(*(np.concatenate([getattr(p, f) for p in parts]) for f in names))


@dataclass
class SimulationResult:
    """What :func:`simulate_dataset` wrote."""

    path: str
    truth: str
    n_profiles: int
    n_queries: int
    n_references: int
    n_cases: int
    n_unrelated: int
    n_unrelated_cases: int
    structures: dict
    real_founders: int
    drawn_founders: int
    shards: list
    seconds: float
    parameters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class _TruthWriter:
    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            self._fh = open(path, "w", newline="", encoding="utf-8")
            self._w = csv.writer(self._fh)
            self._w.writerow(_TRUTH_COLUMNS)
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._schema = pa.schema([(c, pa.string()) for c in _TRUTH_COLUMNS[:-1]] + [("family", pa.int64())])
            self._w = pq.ParquetWriter(path, self._schema, compression="zstd")
        else:
            raise ValueError(f"truth format must be 'csv' or 'parquet', got {fmt!r}")

    def write(self, blk: _Block, case_id: np.ndarray):
        cols = [blk.sample_id, blk.kind, case_id, blk.role, blk.structure, blk.family]
        if self.fmt == "csv":
            self._w.writerows(zip(*[c.tolist() for c in cols]))
        else:
            import pyarrow as pa

            self._w.write_table(pa.Table.from_arrays([pa.array(c.tolist(), type=f.type)
                                                      for c, f in zip(cols, self._schema)], schema=self._schema))

    def close(self):
        if self.fmt == "csv":
            self._fh.close()
        else:
            self._w.close()


def simulate_dataset(out, n_cases: int, n_unrelated: int = 0, *, proportions=None, n_unrelated_cases: int = 0,
                     loci: Sequence[str] | None = None, kit: str | None = None,
                     frequencies: FrequencyTable | str = "nist1036_all", founders="nist",
                     mutation: MutationModel | None = None, error_rate: float = 0.0,
                     dropout_rate: float = 0.0, seed: int = 1, shard_size: int = 1_000_000,
                     truth=None, truth_format: str | None = None, progress=None,
                     query_dropout: float = 0.0, reference_dropout: float = 0.0,
                     dropin: float = 0.0) -> SimulationResult:
    """Simulate and write a profile dataset and its truth table.

    ``out``: the dataset directory (must not hold a dataset yet);
    ``n_cases`` families (structures drawn with ``proportions``, see
    :func:`parse_proportions`), ``n_unrelated`` unrelated queries,
    ``n_unrelated_cases`` unrelated one-father cases.  Loci: ``loci``, or the
    autosomal loci of ``kit`` that the frequency table has, or all loci of the
    table.  ``truth``: path of the truth table (default ``OUT/_truth.csv``;
    ``.parquet`` writes Parquet).  Memory is bounded by ``shard_size`` profiles.
    ``query_dropout``, ``reference_dropout``, ``dropin``: the dropout model of the
    queries' and the references' samples (see the module doc).
    """
    t0 = time.time()
    out = Path(out)
    if (out / "_dataset.json").exists():
        raise FileExistsError(f"{out} already holds a dataset; simulate into a new directory")
    if isinstance(frequencies, str):
        frequencies = FrequencyTable.load(frequencies)
    loci = resolve_loci(frequencies, loci, kit)
    sim = PopulationSimulator(frequencies, loci, mutation, founders, seed, error_rate, dropout_rate,
                              query_dropout, reference_dropout, dropin)
    truth = Path(truth) if truth else out / "_truth.csv"
    fmt = truth_format or ("parquet" if truth.suffix == ".parquet" else "csv")
    props = parse_proportions(proportions or {"both-parents": 0.4, "father": 0.2, "mother": 0.1,
                                              "parent-sibling": 0.1, "grandparents": 0.1, "siblings": 0.1})
    params = {"n_cases": int(n_cases), "n_unrelated": int(n_unrelated),
              "n_unrelated_cases": int(n_unrelated_cases), "proportions": props,
              "founders": founders if isinstance(founders, str) or founders is None else "user", **sim.describe()}
    import formats

    tw = _TruthWriter(truth, fmt)
    shards: list[str] = []
    counts: dict[str, int] = {}
    buf: list[_Block] = []
    nbuf = 0
    n_prof = n_q = 0

    def flush():
        nonlocal buf, nbuf
        if not buf:
            return
        blk = _concat(buf)
        arr = formats.ProfileArrays(blk.sample_id, blk.kind, np.where(blk.kind == "query", "", blk.case_id),
                                    blk.relation, blk.sex, np.full(len(blk), "", dtype=object),
                                    sim.loci, sim.alleles, blk.genotypes)
        written = formats.write_profiles(out, arr, provenance={"simulation": params}, kit=kit or None,
                                         shard_size=shard_size)
        shards.extend(p.name for p in written)
        buf, nbuf = [], 0

    try:
        for blk in sim.blocks(n_cases, n_unrelated, props, n_unrelated_cases):
            tw.write(blk, blk.case_id)
            miss = blk.role == "missing"
            for s, c in zip(*np.unique(blk.structure[miss], return_counts=True)):
                counts[str(s)] = counts.get(str(s), 0) + int(c)
            n_prof += len(blk)
            n_q += int(np.count_nonzero(blk.kind == "query"))
            buf.append(blk)
            nbuf += len(blk)
            if nbuf >= shard_size:
                flush()
            if progress:
                progress(n_prof)
        flush()
    finally:
        tw.close()
    used = sim.founders_used
    real = min(used, len(sim.pool))
    return SimulationResult(str(out), str(truth), n_prof, n_q, n_prof - n_q, int(n_cases), int(n_unrelated),
                            int(n_unrelated_cases), counts, real, used - real, shards,
                            round(time.time() - t0, 3), params)


def resolve_loci(frequencies: FrequencyTable, loci=None, kit: str | None = None) -> tuple[str, ...]:
    """Loci given, or a kit's loci that the table has (Y-STRs and loci absent from
    the table are left out), or every locus of the table."""
    if loci:
        return tuple(frequencies.resolve_locus(l) for l in loci)
    if kit:
        from kinship.markers import get_kit

        k = get_kit(kit)
        out = tuple(frequencies.resolve_locus(l) for l in k.loci if not l.upper().startswith("DY") and l in frequencies)
        if not out:
            raise ValueError(f"kit {kit!r} has no locus in frequency table {frequencies.name!r}")
        return out
    return tuple(frequencies.loci)


def read_truth(path) -> dict[str, np.ndarray]:
    """The truth table as columns (CSV or Parquet)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(path)
        return {c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names}
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    head, body = rows[0], rows[1:]
    cols = {h: np.array([r[i] for r in body], dtype=object) for i, h in enumerate(head)}
    cols["family"] = cols["family"].astype(np.int64)
    return cols
