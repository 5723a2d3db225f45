"""Reading the inputs of a run: queries, reference persons and cases.

* Queries are loaded once (``int16`` codes and ``int32`` genotype indices,
  ``[Q, L]``: 92 MB per million queries) and tiled by the tasks.
* References are read twice, one shard at a time (bounded memory):

  1. :func:`scan_references` keeps, per reference person, only its ids, sex,
     kit, a 16-byte fingerprint of its genotypes and where it is (shard, row),
     and groups persons into cases by ``case_id``;
  2. :func:`stream_blocks` reads the shards again and yields blocks of
     reference units (persons for the pairwise modes, whole cases for ``case``
     mode) as soon as every row of the block has been read.  A case may have
     relatives in several shards (a relative added later); blocks are filled in
     the order of the shard holding each case's last relative, so at any time
     only cases that are still incomplete are held.

Fingerprints identify what was compared: an incremental run compares again
exactly the units whose fingerprint is new or changed (see :mod:`engine.plan`).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from kinship._numba import jit

from .errors import InputError
from .model import Recoder, genotype_indices

__all__ = ["open_input", "QuerySet", "RefPersons", "Cases", "load_queries", "scan_references",
           "RefBlock", "stream_blocks", "fingerprints", "SEX_WORD", "UnitReader", "count_kind",
           "units_table"]

SEX_WORD = {"M": "male", "F": "female", "": "unknown"}

#: relations that place a reference on a case pedigree (``self`` is a direct
#: sample of the missing person: identity mode, not a pedigree): the vocabulary
#: of :mod:`kinship.cases`
from kinship.cases import CASE_RELATIONS  # noqa: E402


def open_input(job, which: str, y: bool = False):
    """Open ``inputs.<which>`` as a profile dataset (``y``: a Y haplotype dataset),
    with a clear error if it cannot be."""
    import formats

    p = job.path(job["inputs"][which])
    what, command = ("Y haplotype", "import-y") if y else ("profile", "import")
    if not p.exists():
        raise InputError(
            f"inputs.{which}: {p} does not exist. Fix: give the path of a {what} dataset "
            f"(a directory made by 'kinship {command} ... --out DIR'); relative paths are relative "
            f"to the job file"
        )
    opener, errors = ((formats.open_y_dataset, formats.FormatError) if y
                      else (formats.open_dataset, formats.DatasetError))
    try:
        return opener(p)
    except errors as e:
        raise InputError(f"inputs.{which}: {e}") from None


#: version of the profile fingerprints below; kept in the run state, so that state
#: written with another version is recognised (its units are then all re-scored)
FINGERPRINT_VERSION = 2


def fingerprints(codes: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """16-byte fingerprint of each profile's sex and genotypes (model codes), S16.

    Two independent 64-bit hash chains over the row (splitmix64 finaliser as the
    mixing step; the sex enters as the first word, from a BLAKE2b digest of its
    text): a change of the profile changes the fingerprint except with
    probability about 2^-128.  Fingerprints only detect changes of the same unit
    between runs (they are never compared across units)."""
    n = codes.shape[0]
    flat = np.ascontiguousarray(codes).reshape(n, int(np.prod(codes.shape[1:])))
    words = _as_words(flat.view(np.uint8).reshape(n, flat.shape[1] * flat.itemsize))
    sex = np.asarray(sex, dtype=object).reshape(-1)
    first = np.zeros(n, dtype=np.uint64)
    values = list(set(sex.tolist()))    # a few distinct values
    for v, w in zip(values, sex_words(values)):
        first[sex == v] = w
    out = np.empty((n, 2), dtype=np.uint64)
    if n:
        _hash_rows(words, first, out)
    return out.view("S16").reshape(n)


def typed_counts(codes: np.ndarray) -> np.ndarray:
    """The loci each profile typed (``codes[i, l, 0] >= 0``, model codes
    ``[n, L, 2]``), int32: the one count behind ``search.min_loci``, the self-pair
    rule and the notes on partial profiles."""
    codes = np.ascontiguousarray(codes)
    out = np.zeros(codes.shape[0], dtype=np.int32)
    if codes.size:
        _typed_counts(codes, out)
    return out


@jit()
def _typed_counts(codes, out):
    for i in range(codes.shape[0]):
        n = 0
        for l in range(codes.shape[1]):
            if codes[i, l, 0] >= 0:
                n += 1
        out[i] = n


@jit()
def _typed_by_group(codes, group, out):
    """``out[g, l]`` = 1 when a profile of group ``g`` typed locus ``l`` (rows with
    ``group < 0`` are left out)."""
    for i in range(codes.shape[0]):
        g = group[i]
        if g < 0:
            continue
        for l in range(codes.shape[1]):
            if codes[i, l, 0] >= 0:
                out[g, l] = 1


def _as_words(b: np.ndarray) -> np.ndarray:
    """Rows of bytes as rows of little-endian uint64 words (zero-padded), plus the
    byte length as the last word."""
    n, k = b.shape
    w = (k + 7) // 8
    buf = np.zeros((n, 8 * w + 8), dtype=np.uint8)
    buf[:, :k] = b
    buf[:, 8 * w:] = np.frombuffer(np.uint64(k).tobytes(), dtype=np.uint8)
    return buf.view("<u8")


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@jit()
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


_SEED1 = np.uint64(0x243F6A8885A308D3)
_SEED2 = np.uint64(0x13198A2E03707344)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xD6E8FEB86659FD93)


@jit()
def _chains(first):
    """The two hash chains of :func:`fingerprints` started from a row's first word."""
    return _mix(first ^ _SEED1), _mix(first ^ _SEED2)


@jit()
def _absorb(h1, h2, w):
    """The two chains after one more word ``w``."""
    return _mix((h1 ^ w) + _K1), _mix((h2 + w) ^ _K2)


@jit()
def _hash_rows(words, first, out):
    for i in range(words.shape[0]):
        h1, h2 = _chains(first[i])
        for j in range(words.shape[1]):
            h1, h2 = _absorb(h1, h2, words[i, j])
        out[i, 0] = h1
        out[i, 1] = h2


def sex_words(values) -> np.ndarray:
    """The first word of :func:`fingerprints` for each sex value (uint64)."""
    return np.array([int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(),
                                    "little") for v in values] or [0], dtype=np.uint64)


@jit()
def _encode_rows(codes2, rows, use_rows, col, off, mul, big, sexw, sex_idx,
                 out_codes, out_gidx, out_typed, out_fp, at):
    """One pass over a shard's dataset codes, a block of rows at a time, for the
    load of the queries (:func:`load_queries`).  ``codes2``: the shard's codes as
    ``int16 [rows, 2 * loci]``; ``rows``: the rows to take (all when not
    ``use_rows``); ``col``, ``off``, ``mul``, ``big``: :meth:`engine.model.Recoder.plan`.
    Writes at row ``at + i``: the model codes (``out_codes`` as ``[n, 2 L]``, as
    :meth:`engine.model.Recoder.codes` gives them), the genotype indices
    (:func:`kinship.tables.genotype_indices`), the loci typed (:func:`typed_counts`)
    and the fingerprint (:func:`fingerprints`: the same words and mixing, computed
    for a block of rows side by side).  Returns the largest genotype index (-1:
    none)."""
    n = rows.shape[0] if use_rows else codes2.shape[0]
    J = col.shape[0]
    L = J // 2
    nw = (2 * J + 7) // 8                  # words of a row's 4 L bytes
    same = codes2.shape[1] == J
    for j in range(J):
        if col[j] != j or mul[j] != 1:
            same = False
    B = 256
    h1 = np.empty(B, np.uint64)
    h2 = np.empty(B, np.uint64)
    wd = np.empty(B, np.uint64)
    top = -1
    for b0 in range(0, n, B):
        m = min(B, n - b0)
        for i in range(m):
            r = rows[b0 + i] if use_rows else b0 + i
            o = at + b0 + i
            if same:                 # the shard's columns are the model's (the usual case)
                for j in range(J):
                    out_codes[o, j] = big[off[j] + codes2[r, j] + 1]
            else:                    # big[off[j]] is -1: untyped, or a locus the shard lacks
                for j in range(J):
                    out_codes[o, j] = big[off[j] + (np.int64(codes2[r, col[j]]) + 1) * mul[j]]
            typed = 0
            for l in range(L):
                a = np.int32(out_codes[o, 2 * l])
                b = np.int32(out_codes[o, 2 * l + 1])
                lo = min(a, b)
                hi = max(a, b)
                v = (hi * (hi + 1)) >> 1
                v = v + lo if lo >= 0 else -1
                out_gidx[o, l] = v
                typed += a >= 0
                top = max(top, v)
            out_typed[o] = typed
            h1[i], h2[i] = _chains(sexw[sex_idx[r]])
        for w in range(nw + 1):
            if w < nw:
                for i in range(m):
                    x = np.uint64(0)
                    for q in range(4):
                        p = 4 * w + q
                        if p < J:
                            x |= np.uint64(np.int64(out_codes[at + b0 + i, p]) & 0xFFFF) << np.uint64(16 * q)
                    wd[i] = x
            else:                            # the byte length, the last word
                for i in range(m):
                    wd[i] = np.uint64(2 * J)
            for i in range(m):
                h1[i], h2[i] = _absorb(h1[i], h2[i], wd[i])
        for i in range(m):
            out_fp[at + b0 + i, 0] = h1[i]
            out_fp[at + b0 + i, 1] = h2[i]
    return top


#: rows of a shard below which :func:`_encode_parts` encodes in the calling thread alone
_ENCODE_SPLIT = 65536


def _encode_parts(codes2, rows, col, off, mul, big, sexw, sex_idx, cols, L, at, n,
                  threads: int) -> int:
    """:func:`_encode_rows` of a shard's ``n`` rows (``rows``: the rows taken, None:
    all) into ``cols`` at row ``at``, in up to ``threads`` parts run side by side (the
    kernel releases the GIL; each row is encoded on its own, so the parts write what
    one pass writes).  Returns the largest genotype index (-1: none)."""
    c2 = cols["codes"].reshape(cols["codes"].shape[0], 2 * L)
    use = rows is not None
    no_rows = np.zeros(0, np.int64)

    def part(a, b):
        if use:
            return int(_encode_rows(codes2, rows[a:b], True, col, off, mul, big, sexw, sex_idx,
                                    c2, cols["gidx"], cols["n_typed"], cols["gfp"], at + a))
        return int(_encode_rows(codes2[a:b], no_rows, False, col, off, mul, big, sexw,
                                sex_idx[a:b], c2, cols["gidx"], cols["n_typed"], cols["gfp"],
                                at + a))

    k = min(max(1, int(threads)), -(-n // _ENCODE_SPLIT))
    if k <= 1:
        return part(0, n)
    from concurrent.futures import ThreadPoolExecutor

    cut = [n * i // k for i in range(k + 1)]
    with ThreadPoolExecutor(k - 1, thread_name_prefix="strkin-encode") as pool:
        futs = [pool.submit(part, cut[i], cut[i + 1]) for i in range(1, k)]
        top = part(cut[0], cut[1])
        return max([top] + [f.result() for f in futs])


def _digest(parts) -> bytes:
    """BLAKE2b-128 of the parts (a str UTF-8 encoded), each followed by ``\\x1f``."""
    buf = []
    for p in parts:
        buf.append(p if isinstance(p, bytes) else str(p).encode())
        buf.append(b"\x1f")
    return hashlib.blake2b(b"".join(buf), digest_size=16).digest()


def _hash_units(ids, fps) -> str:
    """BLAKE2b of units *in the given order*: their ids, then their 16-byte
    fingerprints."""
    h = hashlib.blake2b(digest_size=16)
    h.update(_joined(ids))
    h.update(b"\x1e")
    h.update(np.ascontiguousarray(np.asarray(fps, dtype="S16")).tobytes())
    return h.hexdigest()


def _joined(ids) -> bytes:
    """``"\x1f".join(ids)`` as UTF-8; Arrow strings are joined in Arrow (the same
    bytes, no Python string per id)."""
    import pyarrow as pa

    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        import pyarrow.compute as pc

        arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        if len(arr) == 0:
            return b""
        arr = arr.cast(pa.large_string())
        one = pa.LargeListArray.from_arrays(pa.array([0, len(arr)], pa.int64()), arr)
        sep = pa.scalar("\x1f", pa.large_string())
        return pc.binary_join(one, sep)[0].as_buffer().to_pybytes()
    return "\x1f".join(_strs(ids)).encode()


def _strs(ids) -> list:
    """``[str(i) for i in ids]``, fast when they are strings already."""
    lst = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    return lst if set(map(type, lst)) <= {str} else [str(i) for i in lst]


def set_fingerprint(ids, fps, rank=None) -> str:
    """Fingerprint of a set of units (order-independent), hex.  ``rank``: optional
    ranks of the ids in their sorted order (e.g. :attr:`QuerySet.rank`), which
    spares sorting the strings.  ``ids`` may be Arrow strings
    (:attr:`QuerySet.id_array`): the same fingerprint."""
    import pyarrow as pa

    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        order = (np.argsort(np.asarray(rank), kind="stable") if rank is not None else
                 pc_sort(ids))
        return _hash_units(ids.take(pa.array(order)), np.asarray(fps, dtype="S16")[order])
    ids = np.asarray(ids, dtype=object)
    if rank is not None:
        order = np.argsort(np.asarray(rank), kind="stable")
    else:
        order = np.argsort(ids.astype(str), kind="stable") if len(ids) else np.zeros(0, np.int64)
    return _hash_units(ids[order], np.asarray(fps, dtype="S16")[order])


def pc_sort(ids) -> np.ndarray:
    """The order of Arrow string ids (code point order, as ``np.argsort`` of the str)."""
    import pyarrow.compute as pc

    return pc.sort_indices(ids).to_numpy() if len(ids) else np.zeros(0, np.int64)


def units_table(kind: str, ids, fps):
    """The run state's rows of one kind of unit (``units.parquet``: ``kind``, ``id``,
    ``fp``) built from the arrays without a Python object per row (10^7 queries:
    about 50 bytes a row instead of 160).  ``fp`` holds ``bytes(x)`` of each S16
    fingerprint, which drops trailing NUL bytes: the value the plan compares
    against (:func:`engine.plan._status`)."""
    import pyarrow as pa

    if isinstance(ids, (pa.Array, pa.ChunkedArray)):     # QuerySet.id_array
        id_col = ids.cast(pa.string())
        n = len(ids)
    else:
        ids = np.asarray(ids, dtype=object)
        n = len(ids)
        try:
            id_col = pa.array(ids, pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            id_col = pa.array(_strs(ids), pa.string())
    kind_col = pa.repeat(pa.scalar(kind, pa.string()), n)
    if not (isinstance(fps, np.ndarray) and fps.dtype == np.dtype("S16")):
        # other fingerprints (a list of bytes, other widths): one bytes object per row
        f = fps.tolist() if isinstance(fps, np.ndarray) else list(fps)
        return pa.table({"kind": kind_col, "id": id_col, "fp": pa.array(f, pa.binary())})
    raw = np.ascontiguousarray(fps).view(np.uint8).reshape(n, 16)
    # the length of each value without its trailing NUL bytes: 16 but where the last
    # byte is 0 (one fingerprint in 256), found for those rows alone
    short = np.flatnonzero(raw[:, 15] == 0)
    length = np.full(n, 16, dtype=np.int32)
    data = raw.reshape(-1)
    if len(short):
        nz = raw[short] != 0
        length[short] = np.where(nz.any(axis=1), 16 - np.argmax(nz[:, ::-1], axis=1), 0)
        keep = np.ones((n, 16), dtype=bool)
        keep[short] = np.arange(16)[None, :] < length[short][:, None]
        data = data[keep.reshape(-1)]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(length, out=offsets[1:])
    fp = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                 pa.py_buffer(np.ascontiguousarray(data))])
    return pa.table({"kind": kind_col, "id": id_col, "fp": fp})


def _count_from_statistics(md, kind: str) -> int | None:
    """The rows of ``kind`` from a shard's footer alone, when the ``kind`` column's
    statistics settle it (every row group's values all ``kind``, or none: min and
    max, no nulls); else None (the column is read)."""
    n = 0
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        st = next((rg.column(i).statistics for i in range(rg.num_columns)
                   if rg.column(i).path_in_schema == "kind"), None)
        if st is None or not st.has_min_max or st.null_count or st.num_values != rg.num_rows:
            return None
        lo, hi = st.min, st.max
        if lo == hi == kind:
            n += rg.num_rows
        elif not (lo <= kind <= hi):
            continue
        else:
            return None
    return n


_COLUMNS_LOCK = threading.Lock()


@dataclass
class QuerySet:
    """The queries of a run (in dataset order)."""

    ids: np.ndarray
    sex: np.ndarray
    kit: np.ndarray
    codes: np.ndarray
    gidx: np.ndarray
    fp: np.ndarray
    rank: np.ndarray = None  # rank of each id in sorted order (ties broken by id)
    #: dropout probability of each query (engine.dropout; zeros: none)
    dropout: np.ndarray = None
    #: where each query's dropout came from (file, estimate, job)
    dropout_src: np.ndarray = None
    #: fingerprint of genotypes and sex only (identical profiles); ``fp`` adds the dropout
    gfp: np.ndarray = None
    #: loci typed per query (:func:`typed_counts`)
    n_typed: np.ndarray = None
    #: per kit name, the loci its queries typed (as :func:`_add_kit_loci` finds them),
    #: found by :func:`load_queries` from each shard's kit codes; None: from ``kit``
    kit_loci: dict = None

    def __post_init__(self):
        n = len(self)
        if self.dropout is None:
            self.dropout = np.zeros(n)
        if self.n_typed is None:
            self.n_typed = typed_counts(self.codes)
        if self.gfp is None:
            self.gfp = self.fp
        if self.rank is None:
            order = np.argsort(self.ids, kind="stable")
            self.rank = np.empty(n, dtype=np.int64)
            self.rank[order] = np.arange(n)

    def __len__(self):
        a = self.__dict__.get("_id_arrow")
        return len(a) if a is not None else len(self.__dict__["_ids"])

    @property
    def id_array(self):
        """The sample ids as an Arrow string array (no Python object per id)."""
        import pyarrow as pa

        a = self.__dict__.get("_id_arrow")
        if a is None:
            a = self.__dict__["_id_arrow"] = pa.array(_strs(self.__dict__["_ids"]), pa.string())
        return a

    def rows_of(self, ids) -> dict:
        """``{id: row}`` for those of ``ids`` that are queries: one pass of Arrow's
        hash lookup over the ids (a dict of every query id, as the reports built
        for a few hundred hits, took 0.3 s per million queries)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        want = sorted({str(x) for x in ids})
        if not want or len(self) == 0:
            return {}
        hit = pc.is_in(self.id_array, value_set=pa.array(want, pa.string()))
        rows = np.nonzero(hit.to_numpy(zero_copy_only=False))[0]
        return dict(zip(self.ids_at(rows).tolist(), rows.tolist()))

    def ids_at(self, rows) -> np.ndarray:
        """The ids of ``rows`` (integer positions) as an object array of str: what
        hits and messages name, without turning every id into a Python string."""
        obj = self.__dict__.get("_ids")
        if obj is not None:
            return obj[rows]
        import pyarrow as pa

        rows = np.asarray(rows, dtype=np.int64)
        return np.asarray(self.__dict__["_id_arrow"].take(pa.array(rows.reshape(-1)))
                          .to_numpy(zero_copy_only=False), dtype=object).reshape(rows.shape)

    def columns(self, offsets: np.ndarray) -> np.ndarray:
        """The scoring kernel's query input for tables with these locus ``offsets``
        (:func:`kinship.kernels.score.query_columns`), computed once per run and offsets."""
        from kinship.kernels.score import query_columns

        key = np.asarray(offsets, dtype=np.int64).tobytes()
        with _COLUMNS_LOCK:   # computed by one thread; the others wait for it
            cache = self.__dict__.setdefault("_columns", {})
            col = cache.get(key)
            if col is None:
                col = cache[key] = query_columns(self.gidx, offsets)
        return col

    def release_genotypes(self):
        """Drop the genotypes (codes, indices, the kernels' columns) once every pair is
        scored and the hits' values computed: the run state needs only ids and
        fingerprints (10^7 queries at 23 loci: 2.1 GiB fewer while the results are
        written, ``engine.memory``).  Anything that reads them afterwards fails."""
        self.codes = self.gidx = None
        self.__dict__.pop("_columns", None)

    def __getstate__(self):   # Dask ships the queries; the caches are rebuilt where used
        st = {k: v for k, v in self.__dict__.items() if k != "_columns"}
        if st.get("_id_arrow") is not None:
            st["_ids"] = None
        return st


def _get_ids(self) -> np.ndarray:
    """The sample ids as an object array of str, made from the Arrow ids on first
    use (a million Python strings: about 0.1 s; the search itself uses
    :attr:`QuerySet.id_array` and :meth:`QuerySet.ids_at`)."""
    obj = self.__dict__.get("_ids")
    if obj is None:
        obj = self.__dict__["_ids"] = np.asarray(
            self.__dict__["_id_arrow"].to_numpy(zero_copy_only=False), dtype=object)
    return obj


def _set_ids(self, value) -> None:
    import pyarrow as pa

    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        self.__dict__["_id_arrow"], self.__dict__["_ids"] = value, None
    else:
        self.__dict__["_id_arrow"], self.__dict__["_ids"] = None, value


#: ``QuerySet.ids``: given as an object array or as Arrow strings (:func:`load_queries`)
QuerySet.ids = property(_get_ids, _set_ids)


def count_kind(dataset, kind: str) -> tuple[int, int]:
    """``(profiles of kind, most in one shard)`` of a profile dataset, from the
    ``kind`` column alone (for the memory plan, before anything is loaded); a
    shard that cannot be read counts all its rows (its load reports it)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    total = most = 0
    for p in getattr(dataset, "shards", []):
        try:
            pf = pq.ParquetFile(p)
            n = _count_from_statistics(pf.metadata, kind)
            if n is not None:
                total += n
                most = max(most, n)
                continue
            # the one column, from the file already open (pq.read_table would open it
            # again through pyarrow.dataset, an import a small run need not pay)
            col = pf.read(columns=["kind"]).column("kind")
            n = int(pc.sum(pc.equal(col.cast("string") if col.type != "string" else col, kind))
                    .as_py() or 0)
        except Exception:            # noqa: BLE001  (the load gives the real error)
            try:
                n = pq.ParquetFile(p).metadata.num_rows
            except Exception:        # noqa: BLE001
                n = 0
        total += n
        most = max(most, n)
    return total, most


def load_queries(dataset, recoder: Recoder, which: str = "queries", dropout=None,
                 threads: int | None = None) -> QuerySet:
    """The queries of ``dataset``; ``dropout``: ``f(ids, codes) -> (d, source)`` (the
    run's :class:`engine.dropout.Dropout`), or None (no dropout); ``threads``: the
    threads that encode a shard's rows side by side (default:
    :func:`kinship._numba.thread_count`, every CPU unless ``KINSHIP_NUM_THREADS``
    says otherwise; a run passes its ``[execution] threads``).

    The shards are read as columns (:meth:`formats.Dataset.scan_columns`: from each
    shard's sidecar, memory-mapped, when it has a valid one; else decoded from the
    Parquet, and the sidecar written), one shard at a time into arrays allocated
    once: one pass per query (:func:`_encode_rows`) recodes, indexes, counts the
    typed loci and fingerprints, and only the compact per-query arrays are kept
    (about :data:`engine.memory.QUERY_BYTES` bytes per query at 23 loci), so the
    load never holds two copies of the dataset's genotypes (``docs/engine.md``,
    Memory).  The sample ids stay Arrow strings (:attr:`QuerySet.id_array`); their
    ranks come from each shard's id order, merged."""
    import pyarrow as pa

    scan = dataset.scan_columns(kind="query")
    L = len(recoder.loci)
    if threads is None:
        from kinship._numba import thread_count

        threads = thread_count()
    cap = max(int(getattr(dataset, "n_profiles", 0)), 0)
    gdt = recoder.gidx_dtype()
    cols = {"codes": np.empty((cap, L, 2), np.int16), "gidx": np.empty((cap, L), gdt),
            "n_typed": np.empty(cap, np.int32), "gfp": np.empty((cap, 2), np.uint64)}
    ids, sexes, kits, drops, srcs = [], [], [], [], []
    q_kits: dict = {}             # kit -> loci typed, shard by shard
    fp = None
    at = 0
    top = -1
    for sc, rows in scan:
        n = len(sc) if rows is None else len(rows)
        if n == 0:
            continue
        if at + n > cols["codes"].shape[0]:       # more rows than the manifest said
            for k in list(cols):
                grown = np.empty((at + n,) + cols[k].shape[1:], dtype=cols[k].dtype)
                grown[:at] = cols[k][:at]
                cols[k] = grown
            if fp is not None:
                fp = np.concatenate([fp[:at], np.empty((n, 2), np.uint64)])
        col, off, mul, big = recoder.plan(sc.loci, sc.max_code)
        t = _encode_parts(sc.codes.reshape(len(sc), 2 * len(sc.loci)), rows, col, off, mul, big,
                          sex_words(sc.values["sex"]), sc.index["sex"], cols, L, at, n, threads)
        top = max(top, t)
        sid = sc.sample_id if rows is None else sc.sample_id.take(pa.array(rows))
        sex = sc.text("sex", rows)
        ids.append(sid)
        sexes.append(sex)
        kits.append(sc.text("kit", rows))
        _kit_loci_coded(q_kits, sc.values["kit"],
                        sc.index["kit"] if rows is None else sc.index["kit"][rows],
                        cols["codes"][at:at + n])
        part_fp = None
        if dropout is not None:
            from .dropout import fingerprint_sex

            codes = cols["codes"][at:at + n]
            d, src_ = dropout(sid.to_numpy(zero_copy_only=False), codes)
            drops.append(np.asarray(d, dtype=np.float64))
            srcs.append(np.asarray(src_, dtype=object))
            if np.any(d):
                part_fp = fingerprints(codes, fingerprint_sex(sex, d)).view(np.uint64).reshape(n, 2)
        if part_fp is not None and fp is None:   # the first fingerprint the dropout changed
            fp = cols["gfp"].copy()
        if fp is not None:
            fp[at:at + n] = cols["gfp"][at:at + n] if part_fp is None else part_fp
        at += n
        del sc, sid, sex
    if at == 0:
        raise InputError(
            f"inputs.{which}: dataset {dataset.path} has no query profiles (kind=query). Fix: "
            f"import the profiles to search with kind 'query' (samples manifest column kind), "
            f"or point inputs.{which} at the dataset that holds them"
        )

    def cut(x):   # the rows loaded (a copy when most of the allocation is unused)
        return x if len(x) == at else (x[:at].copy() if at < len(x) // 2 else x[:at])

    cols = {k: cut(v) for k, v in cols.items()}
    gidx = cols["gidx"]
    if gidx.dtype != np.int16 and top <= np.iinfo(np.int16).max:
        gidx = gidx.astype(np.int16)           # as kinship.tables.genotype_indices gives
    gfp = cols["gfp"].view("S16").reshape(at)
    fp = gfp if fp is None else cut(fp).view("S16").reshape(at)
    id_array = ids[0] if len(ids) == 1 else _concat_strings(ids)
    return QuerySet(id_array, _cat(sexes), _cat(kits), cols["codes"], gidx, fp,
                    rank=scan.rank(),
                    dropout=np.concatenate(drops) if dropout is not None else None,
                    dropout_src=_cat(srcs) if dropout is not None else None,
                    gfp=gfp, n_typed=cols["n_typed"], kit_loci=q_kits)


def _concat_strings(parts):
    """One string array of ``parts`` (large_string only past 2 GiB of text)."""
    import pyarrow as pa

    try:
        return pa.concat_arrays([x.cast(pa.string()) for x in parts])
    except (pa.ArrowInvalid, pa.ArrowCapacityError):
        return pa.concat_arrays([x.cast(pa.large_string()) for x in parts])


def _cat(parts) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


@dataclass
class RefPersons:
    """Pass 1 over the references: one entry per reference person."""

    ids: np.ndarray
    case_id: np.ndarray
    relation: np.ndarray
    sex: np.ndarray
    kit: np.ndarray
    fp: np.ndarray
    shard: np.ndarray
    row: np.ndarray
    n_shards: int
    kit_loci: dict  # kit -> boolean [L] typed anywhere
    n_typed: np.ndarray = None   # loci typed per person
    dropout: np.ndarray = None   # dropout probability per person (engine.dropout)
    dropout_src: np.ndarray = None
    gfp: np.ndarray = None       # fingerprint of genotypes and sex only

    def __post_init__(self):
        if self.dropout is None:
            self.dropout = np.zeros(len(self.ids))
        if self.gfp is None:
            self.gfp = self.fp

    def __len__(self):
        return len(self.ids)


@dataclass
class Cases:
    """Reference cases of ``case`` mode, ordered for streaming."""

    ids: np.ndarray            # case ids, in block order
    members: list              # per case: person indices (into RefPersons), sorted by id
    fp: np.ndarray             # S16
    last_shard: np.ndarray
    needs_sex: np.ndarray      # bool: a 'child' relative (M's sex decides the pedigree)
    notes: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)  # case id -> reason
    pedigrees: list = field(default_factory=list)  # per unit: kinship.cases.Case, or None (relation words)
    missing: list = field(default_factory=list)    # per unit: the missing person ("" if the only one)
    case_ids: list = field(default_factory=list)   # per unit: the case id
    #: per unit: what kinship.cases.relation_case gave a case of relation words (its
    #: shape's case and sample ids, or the case built in full), None for a pedigree
    relation_cases: list = field(default_factory=list)

    def __len__(self):
        return len(self.ids)


def scan_references(dataset, recoder: Recoder, job_kits: dict | None = None,
                    dropout=None) -> RefPersons:
    """Pass 1: ids, metadata, fingerprints and typed loci per kit (no genotypes kept).
    ``dropout``: as for :func:`load_queries`."""
    ids, case, rel, sex, kit, fps, shard, row, ntyped = [], [], [], [], [], [], [], [], []
    drop, dsrc, gfps = [], [], []
    kit_loci: dict = {} if job_kits is None else job_kits
    n_shards = 0
    for s, arr in enumerate(dataset.iter_shards(kind="reference", loci=recoder.load_loci)):
        n_shards = s + 1
        if len(arr) == 0:
            continue
        codes = recoder.codes(arr)
        sx = arr.sex.astype(object)
        ids.append(arr.sample_id.astype(object))
        case.append(arr.case_id.astype(object))
        rel.append(_canonical_relations(arr.relation))
        sex.append(sx)
        kit.append(arr.kit.astype(object))
        g = fingerprints(codes, sx)
        gfps.append(g)
        if dropout is not None:
            from .dropout import fingerprint_sex

            d, src = dropout(arr.sample_id.astype(object), codes)
            drop.append(d)
            dsrc.append(src)
            g = fingerprints(codes, fingerprint_sex(sx, d)) if np.any(d) else g
        fps.append(g)
        ntyped.append(typed_counts(codes))
        shard.append(np.full(len(arr), s, dtype=np.int32))
        row.append(np.arange(len(arr), dtype=np.int32))
        _add_kit_loci(kit_loci, arr.kit, codes)
    cat = (lambda xs, dt: np.concatenate(xs) if xs else np.array([], dtype=dt))
    return RefPersons(cat(ids, object), cat(case, object), cat(rel, object), cat(sex, object),
                      cat(kit, object), cat(fps, "S16"), cat(shard, np.int32), cat(row, np.int32),
                      n_shards, kit_loci, cat(ntyped, np.int32),
                      dropout=cat(drop, np.float64) if dropout is not None else None,
                      dropout_src=cat(dsrc, object) if dropout is not None else None,
                      gfp=cat(gfps, "S16"))


def _canonical_relations(values) -> np.ndarray:
    """Relation words in canonical form (shards written before the sides were
    explicit hold ``grandfather``: read as ``paternal-grandfather``)."""
    from kinship.cases import normalize_relation

    values = np.asarray(values, dtype=object)
    if len(values) == 0:
        return values
    uniq, inv = np.unique(values.astype(str), return_inverse=True)
    return np.array([normalize_relation(u) for u in uniq], dtype=object)[inv]


def _kit_loci_coded(kit_loci: dict, names, index: np.ndarray, codes: np.ndarray):
    """:func:`_add_kit_loci` of rows whose kit is ``names[index[i]]`` (a shard's kit
    dictionary and codes): the kits present found from the codes, without a string
    per row (10^7 queries: 0.55 s)."""
    names = [str(x) for x in names]
    index = np.asarray(index)
    if not len(index) or not names:
        return
    present = np.flatnonzero(np.bincount(index, minlength=len(names)))
    order = sorted({names[i] for i in present.tolist()} - {""})
    if not order:
        return
    g_of = {k: g for g, k in enumerate(order)}
    lut = np.array([g_of.get(x, -1) for x in names], dtype=np.int32)
    typed = np.zeros((len(order), codes.shape[1]), dtype=np.uint8)
    if codes.size:
        _typed_by_group(np.ascontiguousarray(codes), lut[index], typed)
    for g, k in enumerate(order):
        m = typed[g].astype(bool)
        kit_loci[k] = kit_loci.get(k, np.zeros_like(m)) | m


def merge_kit_loci(kit_loci: dict, more: dict):
    """``kit_loci`` updated with ``more`` (new kits added in name order, as
    :func:`_add_kit_loci` adds them)."""
    for k in sorted(more):
        kit_loci[k] = kit_loci[k] | more[k] if k in kit_loci else more[k]


def _add_kit_loci(kit_loci: dict, kits: np.ndarray, codes: np.ndarray):
    """Per kit name, the loci that any of its profiles typed (kits without a name
    are left out): the rows' kit names coded, then :func:`_kit_loci_coded`."""
    kits = np.asarray(kits, dtype=object)
    raw = set(kits.tolist())
    if len(raw) == 1:                       # one kit for every profile
        names, index = [str(next(iter(raw)))], np.zeros(len(kits), dtype=np.int64)
    else:
        names, index = np.unique(kits.astype(str), return_inverse=True)
    _kit_loci_coded(kit_loci, names, index.reshape(-1), codes)


def check_kits(kit_loci: dict, loci: Sequence[str], mixed_ok: bool):
    """Profiles typed with kits that type different loci are an error unless
    ``search.mixed_kits = true`` (then a pair is compared on the loci both have)."""
    if mixed_ok or len(kit_loci) < 2:
        return
    sets = {k: frozenset(np.asarray(loci)[v]) for k, v in kit_loci.items()}
    if len(set(sets.values())) < 2:
        return
    shared = frozenset.intersection(*sets.values())
    desc = "; ".join(
        f"{k}: {len(v)} loci" + (f", lacks {', '.join(sorted(frozenset.union(*sets.values()) - v))}"
                                 if frozenset.union(*sets.values()) - v else "")
        for k, v in sorted(sets.items()))
    raise InputError(
        f"the profiles were typed with different kits ({desc}); pairs typed with different kits "
        f"are compared on fewer loci and their LRs are not comparable with the others. Fix: set "
        f"[search] mixed_kits = true to compare every pair on the loci both profiles have "
        f"(loci typed in only one are skipped and counted in loci_compared), or restrict "
        f"[inputs] loci to the {len(shared)} loci all kits share: "
        f"[{', '.join(repr(l) for l in sorted(shared, key=str.lower))}]"
    )


def build_cases(refs: RefPersons, invalid: str = "error", pedigrees: dict | None = None) -> Cases:
    """Group reference persons into case units.

    A case with a stored family pedigree (``pedigrees``: ``{case id:``
    :class:`kinship.cases.Case` ``}``, from the references' dataset) is that
    pedigree: its typed persons are the references it links, and each of its
    missing persons is one unit (a query is compared as each of them; the unit id
    is ``"<case>/<missing person>"`` where a family has several).  Every other
    case is described by its references' relation words
    (:func:`kinship.cases.case_from_relations`); ``self`` and relation-less
    references are left out (they are compared in the pairwise modes).  Every
    case is placed on its pedigree now, so that an invalid case is reported before
    any work starts."""
    from kinship.cases import CaseError, relation_case

    pedigrees = dict(pedigrees or {})
    notes = []
    skipped = {}
    with_ped = np.isin(refs.case_id.astype(str), np.array(sorted(pedigrees), dtype=str)) \
        if pedigrees and len(refs) else np.zeros(len(refs), dtype=bool)
    in_case = np.isin(refs.relation, CASE_RELATIONS) | with_ped
    n_self = int(np.count_nonzero((refs.relation == "self") & ~with_ped))
    n_norel = int(np.count_nonzero((refs.relation == "") & ~with_ped))
    if n_self:
        notes.append(f"{n_self} references are direct samples of a missing person (relation 'self'); "
                     f"they are compared in identity mode, not as case relatives")
    if n_norel:
        notes.append(f"{n_norel} references have no relation; they are left out of case mode")
    idx = np.nonzero(in_case)[0]
    empty = Cases(np.array([], dtype=object), [], np.array([], dtype="S16"),
                  np.array([], dtype=np.int32), np.array([], dtype=bool), notes, skipped)
    if len(idx) == 0:
        return empty
    cid = refs.case_id[idx]
    order = np.lexsort((refs.ids[idx].astype(str), cid.astype(str)))
    idx = idx[order]
    cid = cid[order]
    starts = np.r_[0, np.nonzero(cid[1:] != cid[:-1])[0] + 1, len(idx)]
    ids, members, fps, last, needs, fams, missing, case_of = [], [], [], [], [], [], [], []
    rcs = []
    outside = 0
    # each reference's strings and its part of the unit fingerprint, once
    r_ids, r_rel, r_sex = _strs(refs.ids), _strs(refs.relation), _strs(refs.sex)
    r_word = [SEX_WORD.get(x, "unknown") for x in r_sex]
    r_fp = [bytes(x) for x in refs.fp]
    shard_max = np.maximum.reduceat(np.asarray(refs.shard)[idx], starts[:-1]).tolist()
    for a, b, top in zip(starts[:-1].tolist(), starts[1:].tolist(), shard_max):
        m = idx[a:b]
        c = str(cid[a])
        fam = pedigrees.get(c)
        rc = None
        try:
            if fam is not None:
                linked = set(fam.samples.values())
                keep = np.array([str(refs.ids[i]) in linked for i in m], dtype=bool)
                outside += int((~keep).sum())
                m = m[keep]
                fam.check_sexes({str(refs.ids[i]): str(refs.sex[i]) for i in m})
                if len(m) == 0:
                    raise CaseError(f"case {c!r}: no reference of the dataset is linked to a "
                                    f"typed person of its pedigree")
                has_child = False
            else:
                ml = m.tolist()
                rels = [(r_ids[i], r_rel[i], r_word[i]) for i in ml]
                has_child = any(r[1] == "child" for r in rels)
                # placed on its shape's case (raises as case_from_relations would)
                rc = relation_case(c, rels, missing_sex="male" if has_child else "unknown")
        except CaseError as e:
            if invalid == "skip":
                skipped[c] = str(e)
                continue
            raise InputError(
                f"case {c!r} cannot be placed on one pedigree: {e}. Fix: correct the relations "
                f"of its references in the samples manifest (or its pedigree file) and re-import, "
                f"or set [search] invalid_cases = \"skip\" to leave such cases out (they are "
                f"listed in the manifest)"
            ) from None
        base = [c] + [p for i in m.tolist() for p in (r_ids[i], r_rel[i], r_sex[i], r_fp[i])]
        if fam is not None:
            top = int(refs.shard[m].max())
        for x in (fam.missing if fam is not None else ("",)):
            unit = c if fam is None or len(fam.missing) == 1 else f"{c}/{x}"
            ids.append(unit)
            members.append(m)
            fps.append(_digest(base + ([fam.fingerprint(), x] if fam is not None else [])))
            last.append(top)
            needs.append(has_child)
            fams.append(fam)
            missing.append(x if fam is not None and len(fam.missing) > 1 else "")
            case_of.append(c)
            rcs.append(rc)
    if outside:
        notes.append(f"{outside} references of cases with a pedigree are not linked to a person "
                     f"of the pedigree; they are left out of case mode")
    if skipped:
        notes.append(f"{len(skipped)} cases left out: their relatives cannot form one pedigree "
                     f"(invalid_cases = \"skip\")")
    n_multi = sum(1 for f in pedigrees.values() if len(f.missing) > 1)
    if n_multi:
        notes.append(f"{n_multi} families have several missing persons: a query is compared as "
                     f"each of them (reference_id names the missing person)")
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise InputError(f"case unit {dup!r} is both a case id and a case with a missing person of "
                         f"that name; rename the case or the person")
    if not ids:
        return empty
    ids = np.array(ids, dtype=object)
    last = np.array(last, dtype=np.int32)
    o = np.lexsort((ids.astype(str), last))
    return Cases(ids[o], [members[i] for i in o], np.array(fps, dtype="S16")[o], last[o],
                 np.array(needs, dtype=bool)[o], notes, skipped,
                 pedigrees=[fams[i] for i in o], missing=[missing[i] for i in o],
                 case_ids=[case_of[i] for i in o], relation_cases=[rcs[i] for i in o])


def theta_compile_cost(cases: Cases, refs: RefPersons, model) -> dict:
    """Estimated cost of compiling the case tables at θ > 0 (one core), before any
    work: every case that the exact pedigree likelihood compiles (not a couple,
    a single parent or a single relative, which have closed forms or one table
    per relation) costs, per locus, the θ expansion of its pedigree with the
    missing person free and with the unrelated candidate free
    (:func:`kinship.likelihood.theta_cost`, all its relatives typed: the worst
    case).  Returns ``{"seconds": total, "cases": n, "worst": (unit id, seconds per
    locus, draws), "infeasible": [(unit id, draws, seconds per locus), ...]}``."""
    from kinship.cases import case_from_relations
    from kinship.likelihood import theta_cost
    from kinship.pedigree import Person

    out = {"seconds": 0.0, "cases": 0, "worst": None, "infeasible": []}
    if model.theta <= 0 or len(cases) == 0:
        return out
    A = int(max(model.n_alleles)) if len(model.n_alleles) else 20
    L = len(model.loci)
    from kinship.search import SINGLE_RELATIONS

    memo = {}
    for u in range(len(cases)):
        fam = cases.pedigrees[u] if cases.pedigrees else None
        rels = sorted(str(refs.relation[i]) for i in cases.members[u])
        if fam is None:
            if rels in (["father", "mother"], ["father"], ["mother"]) or \
                    (len(rels) == 1 and rels[0] in SINGLE_RELATIONS):
                continue
            ms = "male" if cases.needs_sex[u] else "unknown"
            key = ("words", tuple(rels), ms)
            if key not in memo:
                fam_u = case_from_relations("", [(f"r{k}", w, "") for k, w in enumerate(rels)], ms)
                memo[key] = _one_cost(fam_u, fam_u.missing[0], theta_cost, Person, A)
        else:
            m = cases.missing[u] or fam.missing[0]
            key = ("ped", fam.structure_key(m))
            if key not in memo:
                memo[key] = _one_cost(fam, m, theta_cost, Person, A)
        secs, draws, ok = memo[key]
        out["cases"] += 1
        out["seconds"] += secs * L
        uid = str(cases.ids[u])
        if out["worst"] is None or secs > out["worst"][1]:
            out["worst"] = (uid, secs, draws)
        if not ok:
            out["infeasible"].append((uid, draws, secs))
    return out


def _one_cost(fam, missing, theta_cost, Person, A):
    """(seconds per locus, draws, feasible) of one case's θ > 0 table."""
    calls = {p: None for p in fam.typed}
    num = theta_cost(fam.pedigree, calls, free=[missing], n_alleles=A)
    q = "__candidate__"
    den = theta_cost(fam.pedigree.with_person(Person(q, None, None, "unknown")), calls, free=[q],
                     n_alleles=A)
    return (num["seconds"] + den["seconds"], max(num["draws"], den["draws"]),
            bool(num["feasible"] and den["feasible"]))


@dataclass
class RefBlock:
    """A block of reference units scored together by one task.

    ``kind``: ``"persons"`` (pairwise modes), ``"cases"`` (case mode),
    ``"queries"`` (duplicates mode: the units are queries) or ``"ypersons"``
    (y-lineage: reference men, their haplotypes in ``haplotypes``).  ``unit_ids``
    are the units' ref keys (reference sample id, case id, query id).
    """

    kind: str
    unit_ids: list
    key: str
    case_ids: list = None
    relations: list = None
    sexes: list = None
    codes: np.ndarray = None
    cases: list = None
    query_rows: np.ndarray = None
    haplotypes: object = None
    dropouts: np.ndarray = None   # persons: each reference's dropout probability
    #: the block's compiled tables found kept in this process (engine.compile.kept_block);
    #: then ``codes`` and the cases' genotypes are not read (None)
    tables: dict = None

    def __len__(self):
        return len(self.unit_ids)


def _block_key(kind, ids, fps) -> str:
    """Identifies a block's units *in order* (its tables are compiled in this order,
    and the per-process table cache is keyed by it)."""
    return f"{kind}-" + _hash_units(ids, fps)


def stream_blocks(dataset, recoder: Recoder, refs: RefPersons, kind: str, selections,
                  block_size: int, cases: Cases | None = None, kept=None) -> Iterator[tuple]:
    """Pass 2: yield ``(selection index, RefBlock)`` for every selected unit.

    ``selections``: list of boolean masks over the units (persons, or ``cases``
    in their order); each selection is cut into its own blocks of ``block_size``
    units (one size, or one per selection).  Shards are read one at a time; a
    block is yielded once all its rows have been read.  ``kept(block key)``: the block's compiled tables this process
    keeps, or None (:func:`engine.compile.kept_block`); when every block's are
    kept, no shard is read and the blocks carry their tables instead of genotypes.
    """
    if kind == "persons":
        n_units = len(refs)
        unit_last = refs.shard
        unit_rows = None
    else:
        n_units = len(cases)
        unit_last = cases.last_shard
        unit_rows = cases.members
    # block plan: per selection, consecutive selected units in stream order
    plans = []
    for si, sel in enumerate(selections):
        u = np.nonzero(sel)[0]
        size = _size_of(block_size, si)
        for a in range(0, len(u), size):
            units = u[a:a + size]
            plans.append((int(unit_last[units].max()), si, units))
    plans.sort(key=lambda p: (p[0], p[1], int(p[2][0])))
    if not plans:
        return
    if kept is not None:
        ids_of = refs.ids if kind == "persons" else cases.ids
        fps_of = refs.fp if kind == "persons" else cases.fp
        tables = []
        for _, _, units in plans:
            tables.append(kept(_block_key(kind, [str(ids_of[i]) for i in units], fps_of[units])))
            if tables[-1] is None:
                break
        if all(t is not None for t in tables):
            for (_, si, units), t in zip(plans, tables):
                yield si, _make_block(kind, units, refs, cases, None, t)
            return
    # rows needed: person index -> codes, filled while streaming
    needed = np.zeros(len(refs), dtype=bool)
    for _, _, units in plans:
        if kind == "persons":
            needed[units] = True
        else:
            for u in units:
                needed[unit_rows[u]] = True
    held = _Held(refs.shard, len(refs))
    # remaining uses of each person's row, to free memory after its last block
    uses = np.zeros(len(refs), dtype=np.int32)
    for _, _, units in plans:
        if kind == "persons":
            uses[units] += 1
        else:
            for u in units:
                uses[unit_rows[u]] += 1
    p = 0
    shard_of = refs.shard
    for s, arr in enumerate(dataset.iter_shards(kind="reference", loci=recoder.load_loci)):
        if p >= len(plans):
            break
        rows_here = np.nonzero((shard_of == s) & needed)[0]
        if len(rows_here):
            held.add(s, rows_here, recoder.codes(arr.take(refs.row[rows_here])))
        while p < len(plans) and plans[p][0] <= s:
            _, si, units = plans[p]
            p += 1
            yield si, _make_block(kind, units, refs, cases, held)
            if kind == "persons":
                rows = units
            else:
                rows = np.concatenate([unit_rows[u] for u in units])
            np.subtract.at(uses, rows, 1)      # a person in two cases of the block: twice
            held.release(np.unique(rows[uses[rows] == 0]))


class _Held:
    """The genotypes read of the reference persons still to be used, shard by shard:
    each shard's needed rows as one array (kept until the last of them is used),
    a person's at its position there."""

    def __init__(self, shard_of: np.ndarray, n: int):
        self.shard_of = np.asarray(shard_of)
        self.pos = np.full(n, -1, dtype=np.int64)
        self.codes: dict = {}       # shard -> codes [m, L, 2] of its needed rows
        self.left: dict = {}        # shard -> persons of it not yet released

    def add(self, s: int, rows: np.ndarray, codes: np.ndarray) -> None:
        self.codes[s] = codes
        self.pos[rows] = np.arange(len(rows))
        self.left[s] = len(rows)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.codes[int(self.shard_of[i])][self.pos[i]]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The codes of persons ``rows``, stacked ``[n, L, 2]``."""
        sh = self.shard_of[rows]
        first = self.codes[int(sh[0])]
        if (sh == sh[0]).all():
            return first[self.pos[rows]]
        out = np.empty((len(rows),) + first.shape[1:], dtype=first.dtype)
        for s in np.unique(sh).tolist():
            at = sh == s
            out[at] = self.codes[s][self.pos[rows[at]]]
        return out

    def release(self, rows: np.ndarray) -> None:
        """Persons ``rows`` are used for the last time: a shard none of whose persons
        is left is dropped."""
        if len(rows) == 0:
            return
        shards, counts = np.unique(self.shard_of[rows], return_counts=True)
        for s, k in zip(shards.tolist(), counts.tolist()):
            self.left[s] -= k
            if self.left[s] <= 0:
                self.codes.pop(s, None)


def _make_block(kind, units, refs, cases, held, tables=None) -> RefBlock:
    """A block of ``units``; ``held``: the genotypes read (:class:`_Held`; None: the
    block carries its ``tables`` instead)."""
    if kind == "persons":
        ids = _strs(refs.ids[units])
        codes = held.take(units) if held is not None else None
        return RefBlock("persons", ids, _block_key("persons", ids, refs.fp[units]),
                        case_ids=_strs(refs.case_id[units]), relations=_strs(refs.relation[units]),
                        sexes=_strs(refs.sex[units]), codes=codes,
                        dropouts=np.asarray(refs.dropout, dtype=np.float64)[units], tables=tables)
    out = []
    for u in units:
        rel = [(str(refs.ids[i]), str(refs.relation[i]), SEX_WORD.get(str(refs.sex[i]), "unknown"),
                held[int(i)] if held is not None else None) for i in cases.members[u]]
        fam = cases.pedigrees[u] if cases.pedigrees else None
        x = cases.missing[u] if cases.missing else ""
        out.append({"id": str(cases.ids[u]), "relatives": rel, "needs_sex": bool(cases.needs_sex[u]),
                    "case": fam, "missing": (x or fam.missing[0]) if fam is not None else None,
                    "case_id": cases.case_ids[u] if cases.case_ids else str(cases.ids[u]),
                    "missing_label": x,
                    "dropout": {str(refs.ids[i]): float(refs.dropout[i]) for i in cases.members[u]
                                if refs.dropout[i]}})
    ids = [str(cases.ids[u]) for u in units]
    return RefBlock("cases", ids, _block_key("cases", ids, cases.fp[units]), cases=out, tables=tables)


class UnitReader:
    """The genotypes of a few reference units (the references and cases of a run's
    hits), read from the shards when first asked for and kept, so that the steps
    after the merge (the chance values of partial profiles, the relationship
    alternatives) read a unit once."""

    def __init__(self, dataset, recoder, refs: RefPersons | None, cases: Cases | None):
        self.dataset, self.recoder, self.refs, self.case_units = dataset, recoder, refs, cases
        self._persons: dict = {}     # reference id -> (codes [L, 2], sex code)
        self._cases: dict = {}       # case unit id -> the case dict of a block (RefBlock.cases)

    def persons(self, ids) -> dict:
        self._read(ids, ())
        return {str(i): self._persons[str(i)] for i in ids if str(i) in self._persons}

    def cases(self, ids) -> dict:
        self._read((), ids)
        return {str(i): self._cases[str(i)] for i in ids if str(i) in self._cases}

    def _read(self, person_ids, unit_ids):
        refs, cases = self.refs, self.case_units
        p = sorted({str(i) for i in person_ids} - set(self._persons))
        if p and refs is not None and len(refs):
            want = np.isin(np.asarray(refs.ids, dtype=object).astype(str), p)
            if want.any():
                for _, b in stream_blocks(self.dataset, self.recoder, refs, "persons", [want],
                                          int(want.sum())):
                    for k, u in enumerate(b.unit_ids):
                        self._persons[u] = (b.codes[k], b.sexes[k])
        u = sorted({str(i) for i in unit_ids} - set(self._cases))
        if u and cases is not None and len(cases):
            want = np.isin(np.asarray(cases.ids, dtype=object).astype(str), u)
            if want.any():
                for _, b in stream_blocks(self.dataset, self.recoder, refs, "cases", [want],
                                          int(want.sum()), cases):
                    for cu in b.cases:
                        self._cases[cu["id"]] = cu


def _size_of(block_size, si: int) -> int:
    """The block size of selection ``si``: ``block_size`` is one size for every
    selection or a sequence of one per selection."""
    return int(block_size) if isinstance(block_size, (int, np.integer)) else int(block_size[si])


def query_blocks(queries: QuerySet, selections, block_size) -> Iterator[tuple]:
    """Blocks of queries acting as references (duplicates mode); ``block_size`` as
    :func:`stream_blocks` takes it."""
    for si, sel in enumerate(selections):
        u = np.nonzero(sel)[0]
        size = _size_of(block_size, si)
        for a in range(0, len(u), size):
            rows = u[a:a + size]
            ids = [str(queries.ids[i]) for i in rows]
            yield si, RefBlock("queries", ids, _block_key("queries", ids, queries.fp[rows]),
                               query_rows=rows)
