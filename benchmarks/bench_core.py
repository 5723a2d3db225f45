"""Core benchmarks (pytest-benchmark): table compilation and the scoring kernels.

Run: ``python -m pytest benchmarks/bench_core.py --benchmark-enable``
(the test suite runs with benchmarks disabled).  Sizes are stated in each
benchmark's ``extra_info``; pairs/s and locus-evaluations/s are printed by
``benchmarks/core_scale.py`` for the README (``--kernel``: the kernel alone
against a git baseline).
"""
import numpy as np
import pytest

import kinship
from kinship.markers import CODIS_CORE_20
from kinship.search import ScoringModel, score, score_exhaustive
from kinship.tables import pair_table

MUT = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                            male=kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))


@pytest.fixture(scope="module")
def model():
    return ScoringModel(kinship.FrequencyTable.load(), CODIS_CORE_20, MUT, 0.0)


def random_codes(sm, n, seed):
    rng = np.random.default_rng(seed)
    c = np.zeros((n, len(sm.loci), 2), dtype=np.int16)
    for l, s in enumerate(sm.systems):
        c[:, l, :] = rng.choice(s.n_alleles, size=(n, 2), p=s.freqs / s.freqs.sum())
    return c


@pytest.mark.parametrize("rel", ["parent-child", "full-sibling", "first-cousin"])
@pytest.mark.parametrize("theta", [0.0, 0.01])
def test_pair_table_compile(benchmark, rel, theta):
    la = kinship.FrequencyTable.load().locus_alleles("D21S11")
    benchmark.extra_info.update(locus="D21S11", n_alleles=la.n_alleles)
    benchmark.pedantic(pair_table, args=(rel, la, MUT, theta), rounds=1, iterations=1)


def test_compile_couples(benchmark, model):
    codes = random_codes(model, 200, 1)
    cases = [{"id": i, "relatives": [("F", "father", "male", codes[2 * i]),
                                     ("M", "mother", "female", codes[2 * i + 1])]} for i in range(100)]
    benchmark.extra_info.update(cases=100, loci=len(model.loci))
    benchmark(model.compile_cases, cases)


def test_compile_generic_grandparents(benchmark, model):
    codes = random_codes(model, 20, 2)
    cases = [{"id": i, "relatives": [("GF", "grandfather", "male", codes[2 * i]),
                                     ("GM", "grandmother", "female", codes[2 * i + 1])]} for i in range(10)]
    benchmark.extra_info.update(cases=10, loci=len(model.loci))
    benchmark.pedantic(model.compile_cases, args=(cases,), rounds=2, iterations=1)


@pytest.fixture(scope="module")
def duo_block(model):
    refs = random_codes(model, 256, 3)
    tab = model.compile_pairwise("parent-child", list(range(256)), refs, ["male"] * 256)
    qg = model.genotype_indices(random_codes(model, 20000, 4))
    score(tab, qg[:10])
    score_exhaustive(tab, qg[:10])
    return tab, qg


def test_kernel_screened_duo(benchmark, duo_block):
    tab, qg = duo_block
    benchmark.extra_info.update(pairs=len(tab) * len(qg), loci=len(tab.loci))
    benchmark(score, tab, qg, 1e4)


@pytest.fixture(scope="module")
def sibling_block(model):
    """Full siblings: no exclusions, every value within about 1 log10 unit of 0
    (the tables the saturating first pass was made for, see README)."""
    refs = random_codes(model, 256, 7)
    tab = model.compile_pairwise("full-sibling", list(range(256)), refs)
    qg = model.genotype_indices(random_codes(model, 20000, 8))
    score(tab, qg[:10])
    return tab, qg


def test_kernel_screened_full_sibling(benchmark, sibling_block):
    tab, qg = sibling_block
    benchmark.extra_info.update(pairs=len(tab) * len(qg), loci=len(tab.loci))
    benchmark(score, tab, qg, 1e4)


@pytest.fixture(scope="module")
def case_block(model):
    """Couples (case tables; the first pass screens every mode alike, see README)."""
    refs = random_codes(model, 512, 5)
    cases = [{"id": i, "relatives": [("F", "father", "male", refs[2 * i]),
                                     ("M", "mother", "female", refs[2 * i + 1])]} for i in range(256)]
    tab = model.compile_cases(cases)
    qg = model.genotype_indices(random_codes(model, 20000, 6))
    score(tab, qg[:10])
    return tab, qg


def test_kernel_screened_case(benchmark, case_block):
    tab, qg = case_block
    benchmark.extra_info.update(pairs=len(tab) * len(qg), loci=len(tab.loci))
    benchmark(score, tab, qg, 1e4)


def test_kernel_unscreened_case(benchmark, case_block):
    """The same scan with both screens off (every pair scored exactly)."""
    tab, qg = case_block
    benchmark.extra_info.update(pairs=len(tab) * len(qg), loci=len(tab.loci))
    benchmark.pedantic(score, args=(tab, qg, 1e4), kwargs={"screen": False}, rounds=1, iterations=1)


def test_kernel_exhaustive_duo(benchmark, duo_block):
    tab, qg = duo_block
    benchmark.extra_info.update(pairs=len(tab) * len(qg), loci=len(tab.loci))
    benchmark(score_exhaustive, tab, qg)


def naive_numpy(log_tab, offsets, qg):
    """The plain NumPy baseline: gather and sum, one query block at a time."""
    cols = offsets[None, :] + np.where(qg < 0, 0, qg)
    vals = log_tab[:, cols]  # [C, Q, L]
    vals = np.where((qg < 0)[None], 0.0, vals)
    return vals.sum(axis=2).T


def test_naive_numpy_duo(benchmark, duo_block):
    tab, qg = duo_block
    lt = tab.log10()
    benchmark.extra_info.update(pairs=len(tab) * 2000, loci=len(tab.loci))
    benchmark(naive_numpy, lt, tab.offsets, qg[:2000])
