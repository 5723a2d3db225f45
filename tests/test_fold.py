"""The folds of ordered alleles into genotype calls (kinship.tables.fold_calls,
fold_pair) and the pair tables built with them give the same bits as the former
fancy-indexing fold, kept here as the reference (``_old_fold_calls``, copied from
kinship.tables as it was).

Compared with ``==`` (and the sign of zeros: the former fold adds 0.0 to the
homozygous calls, which turns a -0.0 into 0.0) on random arrays whose entries
span many orders of magnitude, so that any change in the order of the additions
shows in the last bits; every memory layout of a [A, A, A, A] joint (the joints
of locus_likelihood are transposed views), with and without a silent allele.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import kinship
from kinship.consistency import ConsistencyChecker
from kinship.frequencies import SILENT
from kinship.likelihood import locus_likelihood
from kinship.pedigree import Pedigree, Person
from kinship.search import ScoringModel
from kinship.tables import (fold_calls, fold_pair, genotype_pairs, pair_table, relationship_pedigrees,
                            unrelated_table)


def _old_fold_calls(J, axis, silent):
    """kinship.tables.fold_calls before the numba kernels (the reference)."""
    A = J.shape[axis]
    X = np.moveaxis(J, (axis, axis + 1), (0, 1))
    rest = X.shape[2:]
    X = X.reshape((A * A,) + rest)
    a, b = genotype_pairs(A)
    out = X[a * A + b] + np.where((a != b).reshape((-1,) + (1,) * len(rest)), X[b * A + a], 0.0)
    if silent is not None:
        hom = (a == b) & (a != silent)
        extra = np.zeros_like(out)
        extra[hom] = X[a[hom] * A + silent] + X[silent * A + a[hom]]
        out = out + extra
    return np.moveaxis(out, 0, axis)


def _old_fold_pair(J, silent):
    return _old_fold_calls(_old_fold_calls(J, 0, silent), 1, silent)


def _same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def _random(rng, shape):
    """Entries over many orders of magnitude (sums round differently in another
    order), with exact zeros and negative zeros."""
    x = rng.random(shape) * 10.0 ** rng.integers(-30, 30, size=shape)
    x[rng.random(shape) < 0.1] = 0.0
    x[rng.random(shape) < 0.1] = -0.0
    return x


def _silents(A):
    return sorted({None, 0, A // 2, A - 1}, key=lambda s: -1 if s is None else s)


@pytest.mark.parametrize("A", [1, 2, 3, 7, 12])
def test_fold_calls_same_bits_as_before(A):
    rng = np.random.default_rng(A)
    G = A * (A + 1) // 2
    for silent in _silents(A):
        # the shapes folded: one person [A, A]; two persons [A, A, A, A] (either
        # pair); one person folded already [G, A, A]; and transposed views
        for shape, axes in (((A, A), (0,)), ((A, A, A, A), (0, 2)), ((G, A, A), (1,)),
                            ((3, A, A, 2), (1,))):
            X = _random(rng, shape)
            for view in (X, X.T, X[::-1]):
                for axis in axes:
                    if view.shape[axis] != A or view.shape[axis + 1] != A:
                        continue
                    got = fold_calls(view, axis, silent)
                    _same_bits(got, _old_fold_calls(view, axis, silent))


@pytest.mark.parametrize("A", [1, 2, 5, 9])
def test_fold_pair_same_bits_as_before_every_layout(A):
    rng = np.random.default_rng(100 + A)
    for silent in _silents(A):
        base = _random(rng, (A,) * 4)
        for perm in itertools.permutations(range(4)):
            # the same joint stored in each order of its axes in memory
            J = np.ascontiguousarray(base.transpose(perm)).transpose(np.argsort(perm))
            assert np.array_equal(J, base)
            _same_bits(fold_pair(J, silent), _old_fold_pair(J, silent))


@pytest.mark.parametrize("silent", [None, 17, 52])
def test_fold_pair_same_bits_as_before_se33_size(silent):
    """53 alleles (SE33 in the NIST table), in the layouts the pair tables' joints
    come in (contiguous, and transposed views with either pair of axes faster)."""
    rng = np.random.default_rng(53 if silent is None else silent)
    base = _random(rng, (53,) * 4)
    for order in ((0, 1, 2, 3), (1, 0, 2, 3), (2, 0, 3, 1), (0, 2, 3, 1), (1, 2, 0, 3)):
        J = np.ascontiguousarray(base.transpose(order)).transpose(np.argsort(order))
        _same_bits(fold_pair(J, silent), _old_fold_pair(J, silent))


def test_fold_pair_rejects_other_shapes():
    with pytest.raises(ValueError):
        fold_pair(np.zeros((3, 3, 3)), None)
    with pytest.raises(ValueError):
        fold_pair(np.zeros((3, 3, 4, 4)), None)


# ---------------------------------------------------------------------------
# pair tables: the former code path, computed here
# ---------------------------------------------------------------------------

MUT = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                            male=kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))


def _old_pair_table(rel, la, mutation, theta, ref_sex, line):
    """kinship.tables.pair_table (no dropout) as it was, with the former fold."""
    fM = mM = None
    if mutation is not None:
        fM, mM = mutation.matrices(la)
    silent = la.alleles.index(SILENT) if la.silent else None
    args = dict(n_alleles=la.n_alleles, freqs=la.freqs, theta=float(theta), silent=silent)
    h1, h2 = relationship_pedigrees(rel, ref_sex, line)
    D = _old_fold_pair(locus_likelihood(h2, {}, free=["R", "Q"], **args), silent)
    if rel == "identity":
        one = Pedigree([Person("R", None, None, ref_sex)])
        N = N0 = np.diag(_old_fold_calls(locus_likelihood(one, {}, free=["R"], **args), 0, silent))
    else:
        N = _old_fold_pair(locus_likelihood(h1, {}, free=["R", "Q"], female_M=fM, male_M=mM, **args),
                           silent)
        N0 = N if fM is None and mM is None else _old_fold_pair(
            locus_likelihood(h1, {}, free=["R", "Q"], **args), silent)
    with np.errstate(divide="ignore", invalid="ignore"):
        return N / D, N0 == 0.0


def _systems(silent):
    ft = kinship.FrequencyTable.load(silent=silent) if silent else kinship.FrequencyTable.load()
    return {l: ft.locus_alleles(l) for l in ("TH01", "D21S11", "D3S1358")}


@pytest.mark.parametrize("silent", [None, {"TH01": 0.002, "D3S1358": 0.001}])
@pytest.mark.parametrize("rel,ref_sex,line", [
    ("identity", "male", "paternal"), ("parent-child", "female", "paternal"),
    ("full-sibling", "male", "paternal"), ("half-sibling", "male", "paternal"),
    ("half-sibling", "male", "maternal"), ("grandparent", "female", "paternal"),
    ("avuncular", "male", "maternal"), ("first-cousin", "male", "paternal")])
def test_pair_tables_same_bits_as_before(rel, ref_sex, line, silent):
    systems = _systems(silent)
    if silent:
        assert systems["TH01"].silent and systems["D3S1358"].silent
    for la in systems.values():
        for mut in (MUT, None):
            W, I = pair_table(rel, la, mut, 0.0, ref_sex=ref_sex, line=line)
            W0, I0 = _old_pair_table(rel, la, mut, 0.0, ref_sex, line)
            _same_bits(W, W0)
            _same_bits(I, I0)


@pytest.mark.parametrize("rel", ["identity", "parent-child", "full-sibling"])
def test_pair_tables_same_bits_as_before_with_theta(rel):
    for la in _systems({"TH01": 0.002}).values():
        for theta in (0.01, 0.03):
            W, I = pair_table(rel, la, MUT, theta)
            W0, I0 = _old_pair_table(rel, la, MUT, theta, "male", "paternal")
            _same_bits(W, W0)
            _same_bits(I, I0)


def test_unrelated_table_kept_per_locus_model():
    """The denominator is built once per (alleles, frequencies, θ) and kept
    read-only; it is the former fold of two free unrelated founders, whatever the
    sex given to them."""
    la = _systems({"TH01": 0.002})["TH01"]
    silent = la.alleles.index(SILENT)
    for theta in (0.0, 0.02):
        D = unrelated_table(la, theta)
        assert unrelated_table(la, theta) is D
        assert not D.flags.writeable
        for sex in ("male", "female"):
            h2 = Pedigree([Person("R", None, None, sex), Person("Q", None, None, "unknown")])
            J = locus_likelihood(h2, {}, la.n_alleles, la.freqs, theta=theta, silent=silent,
                                 free=["R", "Q"])
            _same_bits(D, _old_fold_pair(J, silent))
    assert not np.array_equal(unrelated_table(la, 0.0), unrelated_table(la, 0.02))


# first cousins through a brother and a sister (the spouses untyped)
_PED = Pedigree([Person("G", None, None, "male"), Person("W", None, None, "female"),
                 Person("P1", "G", "W", "male"), Person("P2", "G", "W", "female"),
                 Person("S1", None, None, "female"), Person("S2", None, None, "male"),
                 Person("K1", "P1", "S1", "female"), Person("K2", "S2", "P2", "male")])


def test_consistency_claimed_tables_same_bits_as_before():
    """ConsistencyChecker.claimed_tables (the shared denominator, fold_pair) against
    its former computation."""
    loci = ["TH01", "D21S11", "D3S1358"]
    ft = kinship.FrequencyTable.load(silent={"D3S1358": 0.001})
    model = ScoringModel(ft, loci, MUT, 0.0)
    got = ConsistencyChecker(model).claimed_tables(_PED, "K1", "K2")
    recs = ConsistencyChecker._claimed_key(_PED, "K1", "K2")
    sub = Pedigree([Person(r[0], r[1], r[2], r[3]) for r in recs])
    h2 = Pedigree([Person("A", None, None, "female"), Person("B", None, None, "male")])
    assert any(la.silent for la in model.systems)
    for (W, I), la, (fM, mM) in zip(got, model.systems, model._mats):
        silent = la.alleles.index(SILENT) if la.silent else None
        args = dict(n_alleles=la.n_alleles, freqs=la.freqs, theta=0.0, silent=silent, free=["A", "B"])
        N = _old_fold_pair(locus_likelihood(sub, {}, female_M=fM, male_M=mM, **args), silent)
        D = _old_fold_pair(locus_likelihood(h2, {}, **args), silent)
        N0 = _old_fold_pair(locus_likelihood(sub, {}, **args), silent)
        with np.errstate(divide="ignore", invalid="ignore"):
            _same_bits(W, N / D)
        _same_bits(I, N0 == 0.0)
