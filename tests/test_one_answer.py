"""One answer whichever path computes it, for every table the library accepts.

A frequency table need not sum exactly to 1 (bundled tables are off by ~1e-10,
accepted tables by up to 0.02, and a case adds absent alleles at the minimum
allele frequency).  The allele system used for computation
(:meth:`kinship.FrequencyTable.locus_alleles`) is scaled to sum to 1, so that

* the general pedigree likelihood (``kinship.likelihood_ratio`` on explicit
  pedigrees, which drops untyped leaves and collapses untyped single-child
  founders -- both exact only for frequencies summing to 1),
* the pair tables (``kinship.tables.pair_table``, every relationship),
* the compiled case tables (``ScoringModel.compile_cases``: the couple and duo
  closed forms, single relatives, generic shapes)

give the same per-locus LR to 1e-12 relative, with and without a stepwise
mutation model and with θ in {0, 0.02}; so do the definition (the independent
brute-force reference, which prunes no untyped person) and, without mutation
and θ, the IBD closed form of the pair tables.  Case tables keep E[LR] = 1 at
θ = 0.  Two duos are derived by hand on a table summing to 0.98.

The comparison is made on the same allele system: where the scoring model adds
an allele absent from the table, only draws in which a typed person carries it
are compared (``likelihood_ratio`` adds exactly the observed absent alleles).
"""
import itertools

import numpy as np
import pytest
from ibd import ibd_closed_form

import kinship
from kinship.cases import MISSING, case_pedigree
from kinship.search import SINGLE_RELATIONS, ScoringModel
from kinship.tables import RELATIONSHIPS, genotype_index, relationship_pedigrees

LOCI = ("L1", "L2")
ALLELES = ["8", "9", "9.3", "10", "11"]
BASE = {"8": 0.125, "9": 0.25, "9.3": 0.0625, "10": 0.3125, "11": 0.25}   # sums to 1
MIN_FREQ = 0.02
EXTRA = {"L1": ["12"], "L2": ["7"]}      # absent from the table: minimum allele frequency
MUT = kinship.MutationModel(
    female=kinship.Stepwise(rate=0.01, rate2=0.001, range=0.3),
    male=kinship.Stepwise(rate=0.03, rate2=0.002, range=0.5),
)
REL = 1e-12


def _table(deviation):
    """Two loci; ``deviation[locus]`` is added to one allele, so the locus sums to
    1 + deviation (to rounding)."""
    d = {}
    for locus, allele in zip(LOCI, ("10", "9")):
        f = dict(BASE)
        f[allele] += deviation[locus]
        d[locus] = f
    return kinship.FrequencyTable.from_dict(d, min_allele_freq=MIN_FREQ)


TABLES = {
    "1+-1e-10": {"L1": 1e-10, "L2": -1e-10},
    "0.99/1.015": {"L1": -0.01, "L2": 0.015},    # accepted (within 0.02 of 1)
}

CONFIGS = [
    pytest.param(tab, extra, mut, theta, id=f"{tab}-{'added' if extra else 'noadd'}-"
                                           f"{'mut' if mut else 'nomut'}-theta{theta}")
    for tab in TABLES for extra in (False, True) for mut in (False, True) for theta in (0.0, 0.02)
]


def _model(tab, extra, mut, theta):
    ft = _table(TABLES[tab])
    return ScoringModel(ft, LOCI, MUT if mut else None, theta, extra_alleles=EXTRA if extra else None)


def test_tables_are_what_the_tests_claim():
    for tab, dev in TABLES.items():
        ft = _table(dev)
        for locus in LOCI:
            raw = sum(ft.alleles(locus).values())
            assert raw == pytest.approx(1 + dev[locus], abs=1e-15)
            assert raw != 1.0
            la = ft.locus_alleles(locus, EXTRA[locus])
            assert la.added == tuple(EXTRA[locus])
            assert la.freqs.sum() == pytest.approx(1.0, abs=1e-15)
            assert la.freqs[la.alleles.index(EXTRA[locus][0])] == MIN_FREQ


def _draw(rng, sm, n):
    """``n`` genotypes (allele-index pairs, sorted) per locus: ``codes[n, L, 2]``.
    Where the model added an allele, one random person carries it, so that the
    allele system of ``likelihood_ratio`` (table + observed alleles) is the model's."""
    codes = np.zeros((n, len(sm.loci), 2), dtype=np.int16)
    for l, s in enumerate(sm.systems):
        codes[:, l, :] = rng.integers(0, s.n_alleles, size=(n, 2))
        for a in s.added:
            codes[rng.integers(n), l, rng.integers(2)] = s.alleles.index(a)
    return np.sort(codes, axis=2)


def _labels(sm, codes):
    return {s.locus: (s.alleles[codes[l, 0]], s.alleles[codes[l, 1]])
            for l, s in enumerate(sm.systems) if codes[l, 0] >= 0}


def _same_system(sm, genotypes, ft):
    """Check that likelihood_ratio will see the model's allele systems."""
    for l, s in enumerate(sm.systems):
        obs = sorted({a for g in genotypes.values() if s.locus in g for a in g[s.locus]})
        la = ft.locus_alleles(s.locus, obs)
        assert la.alleles == s.alleles
        np.testing.assert_array_equal(la.freqs, s.freqs)


def _lr(h1, h2, genotypes, sm):
    _same_system(sm, genotypes, sm.frequencies)
    return kinship.likelihood_ratio(h1, h2, genotypes, sm.frequencies, sm.mutation, sm.theta)


def _close(got, want):
    # nan where both hypotheses are impossible (relatives inconsistent among
    # themselves without mutation): 0/0 on every path
    assert got == pytest.approx(want, rel=REL, abs=0, nan_ok=True), (got, want)


# ---------------------------------------------------------------------------
# pair tables vs likelihood_ratio on the relationship pedigrees
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("tab,extra,mut,theta", CONFIGS)
def test_pair_tables_equal_explicit_pedigrees(tab, extra, mut, theta):
    sm = _model(tab, extra, mut, theta)
    rng = np.random.default_rng(1)
    for rel in RELATIONSHIPS:
        for sex in ("male", "female"):
            R, Q = _draw(rng, sm, 2)
            t = sm.compile_pairwise(rel, ["r"], R[None], [sex])
            qg = sm.genotype_indices(Q[None])[0]
            per = t.per_locus(0, qg)
            g = {"R": _labels(sm, R), "Q": _labels(sm, Q)}
            if rel == "identity":
                # LR = 1 / P(Q = g | R = g) (NRC II 4.10) with the scaled frequencies
                _same_system(sm, g, sm.frequencies)
                for l, s in enumerate(sm.systems):
                    W = sm.pair_tables("identity", sex)[l][0]
                    a, b = R[l]
                    x = W[genotype_index(a, b), genotype_index(a, b)]
                    _close(x, 1.0 / _match_prob(s.freqs[a], s.freqs[b], a == b, theta))
                continue
            h1, h2 = relationship_pedigrees(rel, sex)
            r = _lr(h1.records(), h2.records(), g, sm)
            assert set(per) == set(r.per_locus)
            for locus, v in r.per_locus.items():
                _close(per[locus], v)


def _match_prob(pa, pb, hom, t):
    if hom:
        return (2 * t + (1 - t) * pa) * (3 * t + (1 - t) * pa) / ((1 + t) * (1 + 2 * t))
    return 2 * (t + (1 - t) * pa) * (t + (1 - t) * pb) / ((1 + t) * (1 + 2 * t))


# ---------------------------------------------------------------------------
# case tables (couples, duos, single relatives, generic shapes) vs likelihood_ratio
# on the case pedigree: H1 the candidate is M; H2 M stays untyped in the case and
# the candidate is an unrelated founder (the case convention of kinship.tables)
# ---------------------------------------------------------------------------

def _case_hypotheses(relatives, missing_sex):
    ped = case_pedigree(relatives, missing_sex=missing_sex)
    h1 = ped.records()
    h2 = []
    for r in h1:
        r = dict(r)
        for k in ("id", "father", "mother"):
            if r[k] == MISSING:
                r[k] = "__M_case__"
        h2.append(r)
    h2.append({"id": MISSING, "father": None, "mother": None, "sex": "unknown"})
    return h1, h2


def _check_case(sm, relatives, missing_sex, codes, q):
    """``relatives``: [(id, relation, sex)], ``codes``: theirs [k, L, 2]; q: the
    candidate's codes [L, 2]."""
    case = {"id": "c", "missing_sex": missing_sex,
            "relatives": [(rid, rel, sex, c) for (rid, rel, sex), c in zip(relatives, codes)]}
    t = sm.compile_cases([case])
    qg = sm.genotype_indices(q[None])[0]
    per = t.per_locus(0, qg)
    h1, h2 = _case_hypotheses(relatives, missing_sex)
    g = {rid: _labels(sm, c) for (rid, _, _), c in zip(relatives, codes)}
    g[MISSING] = _labels(sm, q)
    r = _lr(h1, h2, g, sm)
    compared = [l for l in r.per_locus if any(l in g[rid] for rid, _, _ in relatives)]
    assert set(per) == set(compared)
    for locus in compared:
        _close(per[locus], r.per_locus[locus])
    return len(compared)


SHAPES = [
    ("couple", [("F", "father", "male"), ("Mo", "mother", "female")], "unknown"),
    ("duo-father", [("F", "father", "male")], "unknown"),
    ("duo-mother", [("Mo", "mother", "female")], "unknown"),
    ("father+full-sibling", [("F", "father", "male"), ("S", "full-sibling", "female")], "unknown"),
    ("grandparents", [("GF", "grandfather", "male"), ("GM", "grandmother", "female")], "unknown"),
] + [(f"single-{rel}", [("R", rel, "unknown")], "male") for rel in SINGLE_RELATIONS]


@pytest.mark.parametrize("tab,extra,mut,theta", CONFIGS)
def test_case_tables_equal_explicit_pedigrees(tab, extra, mut, theta):
    sm = _model(tab, extra, mut, theta)
    rng = np.random.default_rng(2)
    for name, relatives, ms in SHAPES:
        for _ in range(2):
            drawn = _draw(rng, sm, len(relatives) + 1)
            assert _check_case(sm, relatives, ms, drawn[:-1], drawn[-1]) == len(LOCI), name


@pytest.mark.parametrize("tab,extra,mut,theta", CONFIGS)
def test_couple_with_one_parent_untyped_at_a_locus(tab, extra, mut, theta):
    # the couple compiler falls back to the duo at a locus where a parent is untyped
    sm = _model(tab, extra, mut, theta)
    rng = np.random.default_rng(3)
    relatives = [("F", "father", "male"), ("Mo", "mother", "female")]
    for who in (0, 1):
        drawn = _draw(rng, sm, 3)
        drawn[who, 1] = -1           # untyped at L2
        if extra:                    # keep the added allele of L2 observed
            s = sm.systems[1]
            drawn[2, 1, 0] = s.alleles.index(s.added[0])
            drawn[2, 1] = np.sort(drawn[2, 1])
        assert _check_case(sm, relatives, "unknown", drawn[:2], drawn[2]) == 2


# ---------------------------------------------------------------------------
# the general likelihood does not depend on irrelevant untyped persons
# ---------------------------------------------------------------------------

def P(pid, father=None, mother=None, sex="male"):
    return {"id": pid, "father": father, "mother": mother, "sex": sex}


@pytest.mark.parametrize("tab,extra,mut,theta", CONFIGS)
def test_untyped_persons_do_not_change_the_lr(tab, extra, mut, theta):
    sm = _model(tab, extra, mut, theta)
    rng = np.random.default_rng(4)
    af, ch = _draw(rng, sm, 2)
    g = {"AF": _labels(sm, af), "CH": _labels(sm, ch)}
    h2 = [P("AF"), P("CH")]
    plain = [P("AF"), P("MO", sex="female"), P("CH", "AF", "MO")]
    padded = plain + [
        P("X1", "AF", "MO"),                                  # an untyped sibling (a leaf)
        P("W", sex="female"), P("X2", "AF", "W", "female"),   # an untyped half-sibling and her mother
        P("GF"), P("GM", sex="female"), P("U", "GF", "GM"),   # untyped founders and their child
        P("X3", "U", "X2"),                                   # ... whose child is untyped too
    ]
    a = _lr(plain, h2, g, sm)
    b = _lr(padded, h2 + [P("GF"), P("GM", sex="female"), P("U", "GF", "GM")], g, sm)
    for locus in a.per_locus:
        _close(b.per_locus[locus], a.per_locus[locus])


# ---------------------------------------------------------------------------
# a case table is a proper LR for the population of the allele system:
# sum_g P(g) T[g] = 1 at θ = 0 (docs/validation.md), whatever the table's sum
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("tab", TABLES)
@pytest.mark.parametrize("extra", [False, True])
@pytest.mark.parametrize("mut", [False, True])
def test_case_tables_have_expectation_one(tab, extra, mut):
    from kinship.tables import genotype_pairs

    sm = _model(tab, extra, mut, 0.0)
    rng = np.random.default_rng(7)
    checked = 0
    for name, relatives, ms in SHAPES:
        codes = _draw(rng, sm, len(relatives))
        case = {"id": name, "missing_sex": ms,
                "relatives": [(rid, rel, sex, c) for (rid, rel, sex), c in zip(relatives, codes)]}
        t = sm.compile_cases([case])
        for l, s in enumerate(sm.systems):
            a, b = genotype_pairs(s.n_alleles)
            p = s.freqs
            P = np.where(a != b, 2 * p[a] * p[b], p[a] * p[b])    # Hardy-Weinberg
            T = t.lr[0, sm.offsets[l]:sm.offsets[l] + len(a)]
            if np.isnan(T).any():      # relatives inconsistent among themselves
                continue
            assert float(P @ T) == pytest.approx(1.0, abs=1e-12), (name, s.locus)
            checked += 1
    assert checked >= len(SHAPES)


# ---------------------------------------------------------------------------
# the definition: the sum over every ordered genotype of every person (the
# independent brute-force reference, which prunes nothing) with the scaled
# frequencies; and the IBD closed form of the pair tables
# ---------------------------------------------------------------------------

def _ref_records(records):
    # the reference wants a sex for everyone; Q's is irrelevant (no children)
    return [dict(r, sex=("male" if r["sex"] == "unknown" else r["sex"])) for r in records]


@pytest.mark.parametrize("tab,extra,mut,theta", CONFIGS)
def test_general_likelihood_equals_the_definition(tab, extra, mut, theta):
    from reference_pedigree import ref_lr

    sm = _model(tab, extra, mut, theta)
    rng = np.random.default_rng(6)
    s = sm.systems[0]          # L1 only: the reference is slow
    fM, mM = sm._mats[0]
    for rel in ("parent-child", "full-sibling", "half-sibling", "avuncular"):
        for sex in ("male", "female"):
            R, Q = _draw(rng, sm, 2)
            g = {"R": _labels(sm, R), "Q": _labels(sm, Q)}
            h1, h2 = relationship_pedigrees(rel, sex)
            r = _lr(h1.records(), h2.records(), g, sm)
            gl = {pid: x[s.locus] for pid, x in g.items()}
            _, _, want = ref_lr(_ref_records(h1.records()), _ref_records(h2.records()), gl,
                                list(s.alleles), list(s.freqs), fM, mM, theta)
            _close(r.per_locus[s.locus], want)


@pytest.mark.parametrize("tab", TABLES)
@pytest.mark.parametrize("extra", [False, True])
def test_pair_tables_equal_theibd_closed_form(tab, extra):
    sm = _model(tab, extra, False, 0.0)
    for l, s in enumerate(sm.systems):
        p = dict(zip(s.alleles, s.freqs))
        A = s.n_alleles
        for rel, k in RELATIONSHIPS.items():
            W = sm.pair_tables(rel)[l][0]
            for x, y, u, v in itertools.product(range(A), repeat=4):
                if x > y or u > v:
                    continue
                gr, gq = (s.alleles[x], s.alleles[y]), (s.alleles[u], s.alleles[v])
                _close(W[genotype_index(x, y), genotype_index(u, v)], ibd_closed_form(k, gr, gq, p))


# ---------------------------------------------------------------------------
# a duo derived by hand on a table that sums to 0.98
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("theta", [0.0, 0.02])
def test_duo_on_a_table_summing_to_098_by_hand(theta):
    # Table at D3S1358: 14: 0.2, 15: 0.3, 16: 0.48 (sum 0.98, accepted).  The
    # allele system scales it to sum 1: q_a = p_a / 0.98, so q14 = 0.2 / 0.98.
    #
    # Father 14/15, child 14/16, no mutation.  Founder alleles are drawn from the
    # Balding-Nichols pool (the k-th draw is a with probability
    # (c_a θ + (1-θ) q_a) / (1 + (k-2) θ)).
    # H1: P(F) x the father passes 14 (1/2) x the untyped mother's allele is 16,
    #     the pool's third draw after the father's 14, 15: (1-θ) q16 / (1 + θ).
    # H2: P(F) x the child's two alleles are the third and fourth draws, in either
    #     order: 2 (θ + (1-θ) q14) / (1 + θ) x (1-θ) q16 / (1 + 2θ).
    # LR = (1 + 2θ) / (4 (θ + (1-θ) q14));  at θ = 0: 0.98 / (4 x 0.2) = 1.225.
    q14 = 0.2 / 0.98
    want = (1 + 2 * theta) / (4 * (theta + (1 - theta) * q14))
    if theta == 0.0:
        assert want == pytest.approx(1.225, rel=1e-15)
    ft = kinship.FrequencyTable.from_dict({"D3S1358": {"14": 0.2, "15": 0.3, "16": 0.48}})
    g = {"AF": {"D3S1358": ("14", "15")}, "CH": {"D3S1358": ("14", "16")}}
    duo_h1 = [P("AF"), P("MO", sex="female"), P("CH", "AF", "MO")]
    r = kinship.likelihood_ratio(duo_h1, [P("AF"), P("CH")], g, ft, theta=theta)
    assert r.total == pytest.approx(want, rel=1e-13)
    # the duo closed form of the scoring model (the parent-child pair table)
    sm = ScoringModel(ft, ["D3S1358"], None, theta)
    F, C = sm.encode([g["AF"], g["CH"]])
    t = sm.compile_cases([{"id": "d", "relatives": [("AF", "father", "male", F)]}])
    got = t.per_locus(0, sm.genotype_indices(C[None])[0])["D3S1358"]
    assert got == pytest.approx(want, rel=1e-13)


def test_duo_with_an_added_allele_by_hand():
    # Table 14: 0.2, 15: 0.3, 16: 0.48 (sum 0.98), minimum allele frequency 0.01.
    # The child carries 13, absent from the table: q13 = 0.01 exactly, and the
    # table's alleles are scaled by (1 - 0.01) / 0.98, so q14 = 0.2 x 0.99 / 0.98.
    # Father 14/15, child 13/14, θ = 0, no mutation: H1 = 1/2 (father passes 14)
    # x q13 (the mother's allele); H2 = 2 q13 q14.  LR = 1 / (4 q14) = 0.98 / 0.792.
    ft = kinship.FrequencyTable.from_dict({"D3S1358": {"14": 0.2, "15": 0.3, "16": 0.48}},
                                          min_allele_freq=0.01)
    want = 0.98 / (4 * 0.2 * 0.99)
    g = {"AF": {"D3S1358": ("14", "15")}, "CH": {"D3S1358": ("13", "14")}}
    duo_h1 = [P("AF"), P("MO", sex="female"), P("CH", "AF", "MO")]
    r = kinship.likelihood_ratio(duo_h1, [P("AF"), P("CH")], g, ft)
    assert r.total == pytest.approx(want, rel=1e-13)
    la = ft.locus_alleles("D3S1358", ["13"])
    assert la.scale == pytest.approx(0.99 / 0.98, rel=1e-15)
    assert la.freqs.tolist()[0] == 0.01
