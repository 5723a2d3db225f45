"""The pedigree likelihood's contractions run as a plan of NumPy calls
(``kinship.likelihood._plan`` / ``_run_plan``) made once from opt_einsum's
expression: the same pairwise contractions in the same order with the same NumPy
operations as the expression itself, so the same bits.

Every contraction of a varied set of likelihoods (every pairwise relationship
with sex-specific mutation at θ = 0 and θ > 0, a silent allele, dropout, case
pedigrees with grandparents and an uncle, scalar likelihoods of typed pedigrees)
is run both ways and compared byte for byte."""
from __future__ import annotations

import numpy as np
import pytest

import kinship
from kinship import likelihood as L
from kinship.tables import RELATIONSHIPS, pair_table

LOC = "L1"
FREQ = {LOC: {"8": 0.125, "9": 0.25, "9.3": 0.0625, "10": 0.3125, "11": 0.25}}
MUT = kinship.MutationModel(
    female=kinship.Stepwise(rate=0.01, rate2=0.001, range=0.3),
    male=kinship.Stepwise(rate=0.03, rate2=0.002, range=0.5),
)


@pytest.fixture
def compared(monkeypatch):
    """Runs every plan beside opt_einsum's expression it was made from and checks
    the two results are the same bytes; yields the counts of comparisons and of
    step kinds seen."""
    L._PATH_CACHE.clear()
    L._EXPRESSIONS.clear()
    made: dict = {}
    seen = {"runs": 0, "steps": set()}
    plan0, run0 = L._plan, L._run_plan

    def plan(expr, shapes):
        p = plan0(expr, shapes)
        made[id(p)] = (p, expr)
        seen["steps"].update(s[0] for s in p)
        return p

    def run(p, ops):
        got = np.asarray(run0(p, ops))
        want = np.asarray(made[id(p)][1](*ops))
        assert got.shape == want.shape and got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()
        seen["runs"] += 1
        return got

    monkeypatch.setattr(L, "_plan", plan)
    monkeypatch.setattr(L, "_run_plan", run)
    yield seen
    L._PATH_CACHE.clear()
    L._EXPRESSIONS.clear()


@pytest.mark.parametrize("theta", [0.0, 0.02])
def test_pair_tables_same_bits_as_the_expression(compared, theta):
    la = kinship.FrequencyTable.from_dict(FREQ).locus_alleles(LOC)
    for rel in RELATIONSHIPS:
        for sex in ("male", "female"):
            pair_table(rel, la, MUT, theta, ref_sex=sex)
    # dropout on both samples: the evidence folded into the contraction
    pair_table("parent-child", la, MUT, theta, ref_dropout=0.1, query_dropout=0.05, dropin=0.01)
    assert compared["runs"] > 20
    assert compared["steps"] == {0, 1}     # BLAS (tensordot) steps and einsum steps


def test_silent_allele_and_scalar_likelihoods_same_bits(compared):
    la = kinship.FrequencyTable.from_dict({LOC: dict(FREQ[LOC], **{"10": 0.2875})}, silent=0.025).locus_alleles(LOC)
    assert la.silent
    for rel in ("parent-child", "full-sibling", "avuncular"):
        pair_table(rel, la, MUT, 0.0)
    # scalar likelihoods of typed trios, with and without mutation, with θ
    ped = kinship.Pedigree.from_records([
        {"id": "F", "sex": "male"}, {"id": "M", "sex": "female"},
        {"id": "C", "father": "F", "mother": "M", "sex": "male"},
        {"id": "S", "father": "F", "mother": "M", "sex": "female"}])
    f = np.array([0.125, 0.25, 0.0625, 0.3125, 0.25])
    fM, mM = MUT.matrices(kinship.FrequencyTable.from_dict(FREQ).locus_alleles(LOC))
    rng = np.random.default_rng(3)
    for _ in range(30):
        calls = {p: tuple(sorted(rng.integers(0, 5, 2).tolist())) for p in ("F", "C", "S")}
        for theta in (0.0, 0.03):
            L.locus_likelihood(ped, calls, n_alleles=5, freqs=f, female_M=fM, male_M=mM,
                               theta=theta)
        L.locus_likelihood(ped, calls, n_alleles=5, freqs=f, free=["M"])
    assert compared["runs"] > 60


@pytest.mark.parametrize("theta", [0.0, 0.02])
def test_case_tables_same_bits(compared, theta):
    # grandparents and an uncle: the missing person's father untyped (a larger pedigree)
    ft = kinship.FrequencyTable.load()
    sm = kinship.search.ScoringModel(ft, ("D3S1358", "TH01"), MUT, theta)
    rng = np.random.default_rng(5)
    codes = []
    for _ in range(3):
        c = np.empty((len(sm.systems), 2), dtype=np.int64)
        for l, s in enumerate(sm.systems):
            c[l] = np.sort(rng.integers(0, s.n_alleles, 2))
        codes.append(c)
    gf, gm, un = codes
    sm.compile_cases([{"id": "c", "relatives": [("GF", "grandfather", "male", gf),
                                                ("GM", "grandmother", "female", gm),
                                                ("UN", "uncle", "male", un)]}])
    assert compared["runs"] > 0


def test_unchanged_results_through_the_public_api():
    """The likelihood ratio of a paternity trio, by hand at one locus without mutation
    and θ: child 8/9, mother 8/8, alleged father 9/10 -> the father passes 9 with
    probability 1/2, a random man with p(9) = 0.25: LR = 0.5 / 0.25 = 2."""
    h1 = [{"id": "AF", "sex": "male"}, {"id": "MO", "sex": "female"},
          {"id": "CH", "father": "AF", "mother": "MO", "sex": "male"}]
    h2 = [{"id": "AF", "sex": "male"}, {"id": "MO", "sex": "female"}, {"id": "X", "sex": "male"},
          {"id": "CH", "father": "X", "mother": "MO", "sex": "male"}]
    g = {"AF": {LOC: ("9", "10")}, "MO": {LOC: ("8", "8")}, "CH": {LOC: ("8", "9")}}
    r = kinship.likelihood_ratio(h1, h2, g, kinship.FrequencyTable.from_dict(FREQ))
    assert r.total == pytest.approx(2.0, rel=1e-12)
