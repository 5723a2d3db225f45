"""Queries that are also references: the same sample, or the same person under
another id.  Such pairs are never scored as relatives (a sample is not its own
relative); identity mode reports the same person under two ids.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .job import PAIRWISE_MODES

__all__ = ["SELF_MIN_LOCI", "isin_ids", "isin_fp", "self_pairs", "self_keys", "drop_self"]


#: least number of typed loci for two profiles with one fingerprint to count as the
#: same person under two ids (identical partial profiles of a few loci can be relatives)
SELF_MIN_LOCI = 8


def isin_ids(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[i] in b`` for sample ids (a hash lookup in Arrow: sorting a million
    Python strings, as ``np.intersect1d`` did, took seconds)."""
    import pyarrow.compute as pc

    if not len(a) or not len(b):
        return np.zeros(len(a), dtype=bool)
    return pc.is_in(_arrow(a), value_set=_arrow(b)).to_numpy(zero_copy_only=False)


def _arrow(ids):
    """Sample ids as Arrow strings (as they are, when they already are)."""
    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        return ids
    return pa.array(np.asarray(ids, dtype=object), pa.string())


def isin_fp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[i] in b`` for 16-byte fingerprints: the first 8 bytes as integers
    (``np.isin``), the whole 16 bytes checked for the candidates."""
    out = np.zeros(len(a), dtype=bool)
    if not len(a) or not len(b):
        return out
    import pyarrow.compute as pc

    av = np.ascontiguousarray(a, dtype="S16").view(np.uint64).reshape(-1, 2)
    bv = np.ascontiguousarray(b, dtype="S16").view(np.uint64).reshape(-1, 2)
    # a hash lookup in Arrow (np.isin sorts the million first words: 4x slower)
    hit = pc.is_in(pa.array(np.ascontiguousarray(av[:, 0])),
                   value_set=pa.array(np.ascontiguousarray(bv[:, 0])))
    idx = np.nonzero(hit.to_numpy(zero_copy_only=False))[0]
    if len(idx):
        whole = set(map(tuple, bv.tolist()))
        out[idx] = [tuple(x) in whole for x in av[idx].tolist()]
    return out


def self_pairs(queries, refs) -> tuple[dict, list]:
    """Queries that are also references: the same sample id, or an identical profile
    (same fingerprint: genotypes and sex, at least ``SELF_MIN_LOCI`` typed loci)
    under another id.  Returns ``({"id": [(q, r)...], "profile": [...]}, notes)``
    with query and reference indices; such pairs are never scored as relatives."""
    out = {"id": [], "profile": []}
    if refs is None or len(queries) == 0 or len(refs) == 0:
        return out, []
    q_arrow = queries.id_array if hasattr(queries, "id_array") else queries.ids
    r_ids = np.asarray(refs.ids, dtype=object)
    in_r = isin_ids(q_arrow, r_ids)
    named: dict = {}             # query index -> id, only for the queries a pair names
    if in_r.any():
        rows = np.nonzero(in_r)[0]
        named.update(zip(rows.tolist(), _ids_at(queries, rows).tolist()))
        qi = {str(named[i]): int(i) for i in rows.tolist()}
        for j in np.nonzero(isin_ids(r_ids, np.array([named[i] for i in rows.tolist()],
                                                      dtype=object)))[0]:
            out["id"].append((qi[str(r_ids[j])], int(j)))
    typed = queries.n_typed
    qfp = np.asarray(queries.gfp, dtype="S16")     # genotypes and sex (not the dropout)
    rfp = np.asarray(refs.gfp, dtype="S16")
    qm = (typed >= SELF_MIN_LOCI) & isin_fp(qfp, rfp)
    if qm.any():
        by_fp: dict = {}
        for i in np.nonzero(qm)[0]:
            by_fp.setdefault(bytes(qfp[i]), []).append(int(i))
        cand = np.nonzero(qm)[0]
        named.update(zip(cand.tolist(), _ids_at(queries, cand).tolist()))
        for j in np.nonzero(isin_fp(rfp, qfp[qm]))[0]:
            for i in by_fp.get(bytes(rfp[j]), []):
                if str(named[i]) != str(r_ids[j]):
                    out["profile"].append((i, int(j)))
    notes = []
    if out["id"]:
        ex = ", ".join(sorted({named[i] for i, _ in out["id"]})[:5])
        notes.append(f"{len(out['id'])} queries are also references under the same sample id "
                     f"({ex}{', ...' if len(out['id']) > 5 else ''}): a sample is never compared "
                     f"with itself; these pairs were not scored in any mode. Fix: give the query "
                     f"and the reference sample different ids if they are different samples")
    if out["profile"]:
        ex = ", ".join(f"{named[i]} = {r_ids[j]}" for i, j in out["profile"][:5])
        notes.append(f"{len(out['profile'])} queries have a profile identical to a reference "
                     f"under another id ({ex}{', ...' if len(out['profile']) > 5 else ''}; "
                     f"at least {SELF_MIN_LOCI} loci): the same person, so these pairs were not "
                     f"scored as relatives (case and kinship modes); identity mode reports them")
    return out, notes


def self_keys(selfp, queries, refs) -> dict:
    """Per mode, the keys ``query_id \x1f other side`` of the hits to drop."""
    if not selfp or not (selfp["id"] or selfp["profile"]):
        return {}
    both = selfp["id"] + selfp["profile"]
    rows = np.array(sorted({i for i, _ in both}), dtype=np.int64)
    q = dict(zip(rows.tolist(), _ids_at(queries, rows).tolist()))
    r = np.asarray(refs.ids, dtype=object)
    rc = np.asarray(refs.case_id, dtype=object)
    person_all = {f"{q[i]}\x1f{r[j]}" for i, j in both}
    person_id = {f"{q[i]}\x1f{r[j]}" for i, j in selfp["id"]}
    case = {f"{q[i]}\x1f{rc[j]}" for i, j in both if str(rc[j])}
    keys = {m: person_all for m in PAIRWISE_MODES if m != "identity"}
    keys["identity"] = person_id
    keys["case"] = case
    return keys


def _ids_at(queries, rows) -> np.ndarray:
    """The ids of query ``rows`` (:meth:`engine.inputs.QuerySet.ids_at`)."""
    if hasattr(queries, "ids_at"):
        return queries.ids_at(rows)
    return np.asarray(queries.ids, dtype=object)[rows]


def drop_self(table: pa.Table, mode: str, keys: dict) -> pa.Table:
    """``table`` without the rows of pairs in ``keys[mode]`` (see :func:`self_keys`)."""
    ks = keys.get(mode)
    if not ks or table.num_rows == 0:
        return table
    import pyarrow.compute as pc

    other = table.column("case_id" if mode == "case" else "reference_id")
    joined = pc.binary_join_element_wise(table.column("query_id"), other, "\x1f")
    drop = pc.is_in(joined, value_set=pa.array(sorted(ks), pa.string()))
    return table.filter(pc.invert(drop.fill_null(False) if hasattr(drop, "fill_null") else drop))
