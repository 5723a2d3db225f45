"""The tables the on-disk store keeps are computed with one BLAS thread, whoever
asks for them (kinship._blas).

OpenBLAS splitting a product over two threads rounds some of these tables
differently in the last bits (measured on the 23-locus first-cousin and avuncular
pair tables); a table built by a caller running two BLAS threads and read from
the store by a later run would make that run's output depend on who filled the
store.  Checked two ways: during each store-backed builder, every BLAS library
runs one thread (recorded from inside the computation, whatever the caller's
limit), and the builders give the same bits under a caller's limit of 1 and 2.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import kinship
import kinship.likelihood as kl
import kinship.search as ks
from kinship._blas import one_blas_thread
from kinship.consistency import ConsistencyChecker
from kinship.markers import CODIS_CORE_20
from kinship.pedigree import Pedigree, Person

LOCI = list(CODIS_CORE_20) + ["Penta D", "Penta E", "SE33"]


def _blas_threads() -> list:
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


def _two_threads() -> bool:
    """Whether BLAS takes a limit of two threads here (not on a one-core machine)."""
    with threadpool_limits(limits=2, user_api="blas"):
        return bool(_blas_threads()) and set(_blas_threads()) == {2}


needs_two = pytest.mark.skipif(not _two_threads(), reason="BLAS does not run two threads here")


def _model():
    mut = kinship.MutationModel(kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1))
    return ks.ScoringModel(kinship.FrequencyTable.load(), LOCI, mutation=mut, theta=0.0)


# first cousins through a brother and a sister (the spouses untyped)
_PED = Pedigree([Person("G", None, None, "male"), Person("W", None, None, "female"),
                 Person("P1", "G", "W", "male"), Person("P2", "G", "W", "female"),
                 Person("S1", None, None, "female"), Person("S2", None, None, "male"),
                 Person("K1", "P1", "S1", "female"), Person("K2", "S2", "P2", "male")])


def _builders(m):
    return {
        "pair first-cousin": lambda: m.pair_tables("first-cousin", "male"),
        "pair avuncular": lambda: m.pair_tables("avuncular", "female"),
        "single paternal-uncle": lambda: m.single_relative_tables("paternal-uncle", "male"),
        "claimed cousins": lambda: ConsistencyChecker(m).claimed_tables(_PED, "K1", "K2"),
    }


@needs_two
def test_store_backed_builders_run_blas_on_one_thread(monkeypatch):
    seen = []
    real = kl.locus_likelihood

    def spy(*a, **k):
        seen.append(tuple(_blas_threads()))
        return real(*a, **k)

    real_pair = ks.pair_table

    def spy_pair(*a, **k):
        seen.append(tuple(_blas_threads()))
        return real_pair(*a, **k)

    monkeypatch.setattr(kl, "locus_likelihood", spy)
    monkeypatch.setattr(ks, "pair_table", spy_pair)
    with threadpool_limits(limits=2, user_api="blas"):
        for name, build in _builders(_model()).items():
            seen.clear()
            build()
            assert seen, name
            assert set(seen) == {tuple(1 for _ in seen[0])}, (name, set(seen))
        assert set(_blas_threads()) == {2}          # the caller's limit is back


def _bits(tables) -> bytes:
    """The bytes of a list of per-locus tables (arrays, or (W, excluded) pairs)."""
    arrays = [a for t in tables for a in (t if isinstance(t, tuple) else (t,))]
    return b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)


def test_store_backed_tables_are_the_same_bits_under_one_and_two_blas_threads():
    got = {}
    for n in (1, 2):
        with threadpool_limits(limits=n, user_api="blas"):
            for name, build in _builders(_model()).items():
                got.setdefault(name, []).append(_bits(build()))
    for name, (one, two) in got.items():
        assert one == two, name


@needs_two
def test_one_blas_thread_nests_and_restores():
    from kinship._blas import blas_on_one_thread

    with threadpool_limits(limits=2, user_api="blas"):
        assert not blas_on_one_thread()
        with one_blas_thread() as one:
            with one_blas_thread() as inner:
                assert one and inner and set(_blas_threads()) == {1}
            assert set(_blas_threads()) == {1}          # the outer block still holds it
        assert set(_blas_threads()) == {2}


@needs_two
def test_tables_built_with_two_blas_threads_are_not_kept(tmp_path):
    """In a thread other than the main one the limit cannot be set (OpenBLAS ignores
    it there): built with two BLAS threads, the tables serve the process that built
    them and are not written to the store; built with one, they are."""
    from kinship.tablecache import TableStore

    store = TableStore(tmp_path / "tc")
    got = {}

    def build():
        m = _model()
        m.table_store = store
        got["tables"] = m.pair_tables("first-cousin", "male")

    with threadpool_limits(limits=2, user_api="blas"):
        t = threading.Thread(target=build)
        t.start()
        t.join(120)
    assert len(got["tables"]) == len(LOCI)
    assert not list((tmp_path / "tc").rglob("*.tab"))
    with threadpool_limits(limits=2, user_api="blas"):
        build()                                          # the main thread: one BLAS thread
    assert len(list((tmp_path / "tc").rglob("*.tab"))) == 1
    # while the main thread holds the limit (as engine.run does for a whole run), a
    # table built on another thread is built with one BLAS thread and kept
    store2 = TableStore(tmp_path / "tc2")

    def build2():
        m = _model()
        m.table_store = store2
        got["tables2"] = m.pair_tables("first-cousin", "male")

    with threadpool_limits(limits=2, user_api="blas"):
        with one_blas_thread():
            t = threading.Thread(target=build2)
            t.start()
            t.join(120)
    assert len(list((tmp_path / "tc2").rglob("*.tab"))) == 1

