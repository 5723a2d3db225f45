"""θ > 0 likelihoods: the orbit-reduced contraction against the old algorithm.

``_old_locus_likelihood`` below is the implementation of
``kinship.likelihood.locus_likelihood`` before the θ > 0 path was rewritten (one
contraction per set partition of the unknown founder alleles, no symmetry
reduction, greedy contraction orders), kept verbatim as the slow reference.  It
uses only helpers that the new module still has.  A few cases are also checked
against the independent brute force of ``tests/reference_pedigree.py``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import kinship
from kinship import likelihood as L
from kinship.cases import case_pedigree
from kinship.likelihood import (
    MAX_FOUNDER_DRAWS_THETA,
    _contract_free,
    _contract_or_scalar,
    _evidence,
    _founder_options,
    _onehot,
    _product,
    _relevant,
    _set_partitions,
    _transmission,
    locus_likelihood,
    theta_cost,
)
from kinship.pedigree import Pedigree, Person
from reference_pedigree import pedigree_likelihood

MAX_OLD_DRAWS = 8  # the old limit

def _old_locus_likelihood(
    ped: Pedigree,
    calls: Mapping[str, tuple[int, int]],
    n_alleles: int,
    freqs: np.ndarray,
    female_M: np.ndarray | None = None,
    male_M: np.ndarray | None = None,
    theta: float = 0.0,
    silent: int | None = None,
    free: Sequence[str] = (),
):
    """Likelihood of the calls at one locus.

    ``calls`` maps typed persons to allele-index pairs.  ``free`` persons are
    left open: the result is then an array over their ordered alleles, axes
    (p1 paternal, p1 maternal, p2 paternal, ...), giving the joint probability
    of the calls and those alleles.  Without ``free`` the result is a float.
    """
    A = n_alleles
    p = np.asarray(freqs, dtype=np.float64)
    free = list(free)
    for f in free:
        if f in calls:
            raise ValueError(f"person {f!r} cannot be both typed and free")
    persons = _relevant(ped, set(calls) | set(free))
    lab = {pid: (2 * i, 2 * i + 1) for i, pid in enumerate(persons)}
    out_labels = [l for f in free for l in lab[f]]

    Tm = _transmission(male_M, A)
    Tf = _transmission(female_M, A)
    # An untyped founder with one child passes on one allele: by exchangeability of
    # the founder's two alleles, ½M[f1,c] + ½M[f2,c] summed against a symmetric
    # distribution of (f1, f2) equals M[f1,c] with f2 summed out.  Such a founder
    # then contributes one draw instead of two.
    alive = set(persons)
    single = {
        pid for pid in persons
        if ped.persons[pid].father is None and pid not in calls and pid not in free
        and sum(1 for c in ped.children[pid] if c in alive) == 1
    }
    Mm_ = np.eye(A) if male_M is None else male_M
    Mf_ = np.eye(A) if female_M is None else female_M

    base_ops: list[np.ndarray] = []
    base_subs: list[tuple] = []
    founders_typed: list[str] = []
    founders_untyped: list[str] = []
    for pid in persons:
        per = ped.persons[pid]
        pl, ml = lab[pid]
        if per.father is None:
            if pid in calls:
                founders_typed.append(pid)
            else:
                founders_untyped.append(pid)
            continue
        fl = lab[per.father]
        mol = lab[per.mother]
        if per.father in single:
            base_ops.append(Mm_)
            base_subs.append((fl[0], pl))
        else:
            base_ops.append(Tm)
            base_subs.append((fl[0], fl[1], pl))
        if per.mother in single:
            base_ops.append(Mf_)
            base_subs.append((mol[0], ml))
        else:
            base_ops.append(Tf)
            base_subs.append((mol[0], mol[1], ml))
        if pid in calls:
            base_ops.append(_evidence(calls[pid], A, silent))
            base_subs.append((pl, ml))

    if theta == 0.0:
        ops = list(base_ops)
        subs = list(base_subs)
        for pid in founders_typed:
            pl, ml = lab[pid]
            ops.append(_evidence(calls[pid], A, silent) * np.outer(p, p))
            subs.append((pl, ml))
        for pid in founders_untyped:
            pl, ml = lab[pid]
            if pid in single:
                ops.append(p)
                subs.append((pl,))
            else:
                ops += [p, p]
                subs += [(pl,), (ml,)]
        res = _contract_or_scalar(ops, subs, out_labels)
        return res if free else float(res)

    if not (0.0 <= theta < 1.0):
        raise ValueError(f"theta must be in [0, 1), got {theta}")
    n_draws = sum(1 if pid in single else 2 for pid in founders_untyped)
    if n_draws > MAX_OLD_DRAWS:
        raise NotImplementedError(
            f"theta > 0 with {len(founders_untyped)} untyped founders that have typed "
            f"relatives ({n_draws} unknown founder alleles): the exact sum has "
            f"Bell({n_draws}) terms, more than this implementation evaluates (limit "
            f"{MAX_OLD_DRAWS} unknown founder alleles). Type more relatives, or "
            f"use theta=0 for this pedigree."
        )

    draws = [l for pid in founders_untyped for l in (lab[pid][:1] if pid in single else lab[pid])]
    m = len(draws)
    parts = _set_partitions(m)
    total = 0.0
    # typed founders: enumerate genotype options (more than one only with a silent allele)
    option_lists = [_founder_options(calls[pid], silent) for pid in founders_typed]
    for combo in _product(option_lists):
        mult = 1.0
        typed_alleles: list[int] = []
        ops = list(base_ops)
        subs = list(base_subs)
        for pid, ((a, b), k) in zip(founders_typed, combo):
            mult *= k
            typed_alleles += [a, b]
            pl, ml = lab[pid]
            ops += [_onehot(a, A), _onehot(b, A)]
            subs += [(pl,), (ml,)]
        # probability of the typed founder alleles as a sequence from the pool
        counts = np.zeros(A)
        seq_prob = 1.0
        for k, a in enumerate(typed_alleles):
            seq_prob *= (counts[a] * theta + (1 - theta) * p[a]) / (1 + (k - 1) * theta)
            counts[a] += 1
        n = len(typed_alleles)
        if seq_prob == 0.0:
            continue
        w = counts * theta + (1 - theta) * p
        denom = 1.0
        for j in range(m):
            denom *= 1 + (n + j - 1) * theta
        acc = None
        for part in parts:
            nb = max(part) + 1 if part else 0
            sizes = [0] * nb
            for b in part:
                sizes[b] += 1
            weight = 1.0
            for s in sizes:
                weight *= theta ** (s - 1) * math.factorial(s - 1)
            # merge every draw of a block onto the block's first label
            rep = {}
            first = {}
            for lbl, b in zip(draws, part):
                if b not in first:
                    first[b] = lbl
                rep[lbl] = first[b]
            p_ops = list(ops)
            p_subs = [tuple(rep.get(l, l) for l in s) for s in subs]
            for b in range(nb):
                p_ops.append(w)
                p_subs.append((first[b],))
            mapped_out = [rep.get(l, l) for l in out_labels]
            val = _contract_free(p_ops, p_subs, mapped_out, A) * weight
            acc = val if acc is None else acc + val
        if acc is None:  # no untyped draws: a single empty partition
            acc = _contract_free(ops, subs, out_labels, A)
        total = total + mult * seq_prob * acc / denom
    if free:
        return total if not np.isscalar(total) else np.zeros((A,) * len(out_labels))
    return float(total)



# ---------------------------------------------------------------------------
# pedigrees, calls, mutation
# ---------------------------------------------------------------------------

LABELS = ["8", "9", "10", "11", "12"]


def _p(pid, sex, f=None, m=None):
    return Person(pid, f, m, sex)


def _pedigrees():
    four = case_pedigree([("c", "child", "male"), ("u", "uncle", "male")], missing_sex="male")
    hs = case_pedigree([("h", "half-sibling", "female"), ("s", "full-sibling", "male")], missing_sex="male")
    return {
        "siblings": (Pedigree([_p("F", "male"), _p("Mo", "female"), _p("a", "male", "F", "Mo"),
                               _p("b", "female", "F", "Mo")]), ["a", "b"], "b"),
        "avuncular": (Pedigree([_p("GF", "male"), _p("GM", "female"), _p("P", "male", "GF", "GM"),
                                _p("R", "male", "GF", "GM"), _p("T", "female"),
                                _p("Q", "male", "P", "T")]), ["R", "Q"], "Q"),
        "unrelated": (Pedigree([_p("R", "male"), _p("Q", "male")]), ["R", "Q"], "Q"),
        "trio-typed-father": (Pedigree([_p("F", "male"), _p("Mo", "female"), _p("c", "male", "F", "Mo"),
                                        _p("d", "female", "F", "Mo")]), ["F", "c", "d"], "d"),
        "child+uncle": (four, ["c", "u"], "M"),
        "half+full-sib": (hs, ["h", "s"], "M"),
    }


def _locus(n, silent):
    labels = LABELS[:n]
    rng = np.random.default_rng(n)
    f = rng.dirichlet(np.ones(n))
    ft = kinship.FrequencyTable.from_dict({"D3S1358": dict(zip(labels, f))},
                                          **({"silent": 0.01} if silent else {}))
    return ft.locus_alleles("D3S1358")


def _mutation(la, on):
    if not on:
        return None, None
    mm = kinship.MutationModel(female=kinship.Stepwise(rate=0.01, rate2=0.001, range=0.3),
                               male=kinship.Stepwise(rate=0.02, rate2=0.001, range=0.3))
    return mm.matrices(la)


def _rel(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    scale = max(np.max(np.abs(b)), 1e-300)
    return float(np.max(np.abs(a - b)) / scale)


CASES = [(name, theta, mut, silent)
         for name in _pedigrees()
         for theta in (0.01, 0.05)
         for mut in (False, True)
         for silent in (False, True)]


@pytest.mark.parametrize("name,theta,mut,silent", CASES)
def test_new_equals_old(name, theta, mut, silent):
    ped, typed, free_one = _pedigrees()[name]
    la = _locus(4, silent)
    A = la.n_alleles
    s = la.alleles.index(kinship.frequencies.SILENT) if la.silent else None
    fM, mM = _mutation(la, mut)
    rng = np.random.default_rng(hash((name, theta, mut, silent)) % 2**32)
    n_obs = A - (1 if s is not None else 0)
    for trial in range(3):
        calls = {pid: tuple(sorted(rng.integers(0, n_obs, 2).tolist())) for pid in typed}
        # everyone typed
        new = locus_likelihood(ped, calls, A, la.freqs, fM, mM, theta=theta, silent=s)
        old = _old_locus_likelihood(ped, calls, A, la.freqs, fM, mM, theta=theta, silent=s)
        assert _rel(new, old) < 1e-12, (calls, new, old)
        # one person left free (a founder or not)
        c2 = {k: v for k, v in calls.items() if k != free_one}
        new = locus_likelihood(ped, c2, A, la.freqs, fM, mM, theta=theta, silent=s, free=[free_one])
        old = _old_locus_likelihood(ped, c2, A, la.freqs, fM, mM, theta=theta, silent=s, free=[free_one])
        assert new.shape == old.shape
        assert _rel(new, old) < 1e-12, (calls, free_one)


def test_free_unrelated_founder_against_old():
    """H2 of a case table: the candidate Q an unrelated free founder (its two draws
    are swapped by the symmetry with the output axes transposed)."""
    ped = case_pedigree([("c", "child", "male"), ("s", "full-sibling", "male")], missing_sex="male")
    h2 = ped.with_person(Person("Q", None, None, "unknown"))
    la = _locus(4, False)
    fM, mM = _mutation(la, True)
    calls = {"c": (0, 1), "s": (1, 2)}
    for theta in (0.01, 0.05):
        new = locus_likelihood(h2, calls, la.n_alleles, la.freqs, fM, mM, theta=theta, free=["Q"])
        old = _old_locus_likelihood(h2, calls, la.n_alleles, la.freqs, fM, mM, theta=theta, free=["Q"])
        assert _rel(new, old) < 1e-12
        assert not np.allclose(new, new.T) or True  # orientation checked by equality above


def test_against_bruteforce_reference():
    """Two small cases against tests/reference_pedigree.py (independent code)."""
    la = _locus(3, False)
    fM, mM = _mutation(la, True)
    recs = [dict(id="GF", father=None, mother=None, sex="male"),
            dict(id="GM", father=None, mother=None, sex="female"),
            dict(id="P", father="GF", mother="GM", sex="male"),
            dict(id="R", father="GF", mother="GM", sex="male"),
            dict(id="T", father=None, mother=None, sex="female"),
            dict(id="Q", father="P", mother="T", sex="male")]
    ped = Pedigree([_p(r["id"], r["sex"], r["father"], r["mother"]) for r in recs])
    calls = {"R": (0, 1), "Q": (1, 2)}
    for theta in (0.01, 0.05):
        new = locus_likelihood(ped, calls, la.n_alleles, la.freqs, fM, mM, theta=theta)
        ref = pedigree_likelihood(recs, {k: (la.alleles[a], la.alleles[b]) for k, (a, b) in calls.items()},
                                  la.alleles, la.freqs, female_M=fM, male_M=mM, theta=theta)
        assert abs(new - ref) <= 1e-12 * ref


# ---------------------------------------------------------------------------
# the cost estimator and the number of contractions
# ---------------------------------------------------------------------------

def _four_relative():
    return case_pedigree([("c", "child", "male"), ("u", "uncle", "male"),
                          ("h", "half-sibling", "female"), ("s", "full-sibling", "male")],
                         missing_sex="male")


def test_cost_draws_by_hand():
    # full siblings a, b typed: F and Mo each pass on two alleles -> 4 draws,
    # Bell(4) = 15 partitions; up to swapping each parent's two draws
    sibs = Pedigree([_p("F", "male"), _p("Mo", "female"), _p("a", "male", "F", "Mo"),
                     _p("b", "female", "F", "Mo")])
    c = theta_cost(sibs, {"a": (0, 1), "b": (0, 1)})
    assert c["draws"] == 4 and c["partitions"] == 15
    # orbits of the 15 partitions of {1,2,3,4} under <(12), (34)>, by Burnside:
    # fixed by (12): 1,2 together (Bell(3) = 5) or {1},{2} apart (2) = 7; same
    # for (34); fixed by (12)(34): 2 + 1 + 1 + 3 ({13|24}, {14|23}, singletons)
    # = 7; (15 + 7 + 7 + 7) / 4 = 9
    assert c["contractions"] == 9
    assert sorted(c["untyped_founders"]) == ["F", "Mo"]
    # parent-child with the parent X untyped and one child: one draw (X's
    # transmitted allele), plus the other parent Y's one draw; Q free and
    # unrelated adds two draws
    pc = Pedigree([_p("X", "male"), _p("Y", "female"), _p("c", "male", "X", "Y"), _p("Q", "male")])
    c = theta_cost(pc, {"c": (0, 1)})
    assert c["draws"] == 2 and c["partitions"] == 2 and c["contractions"] == 2
    c = theta_cost(pc, {"c": (0, 1)}, free=["Q"])
    assert c["draws"] == 4 and c["partitions"] == 15
    # Q's pair is a swap pair too: partitions of {x, y, q1, q2} up to (q1 q2),
    # Burnside: (15 + 7) / 2 = 11
    assert c["contractions"] == 11
    # a typed founder draws nothing
    c = theta_cost(pc, {"c": (0, 1), "X": (0, 0), "Y": (1, 1)})
    assert c["draws"] == 0 and c["contractions"] == 1


def test_orbit_counts_sum_to_bell():
    for m, pairs in [(4, ((0, 1), (2, 3))), (6, ((0, 1), (3, 4))), (8, ((0, 1), (2, 3), (5, 6)))]:
        reps, mults, sizes = L._orbit_reps(m, pairs)
        assert sum(mults) == L._bell(m) == len(_set_partitions(m))
        assert all(sum(s) == m for s in sizes)


def test_contraction_count_four_relatives():
    """Timing-free: the four-relative reference case needs at most 1100
    contractions per locus (the old algorithm: Bell(8) = 4140)."""
    c = theta_cost(_four_relative(), {"c": 0, "u": 0, "h": 0, "s": 0}, free=["M"], n_alleles=27)
    assert c["draws"] == 8 and c["partitions"] == 4140
    assert c["contractions"] <= 1100


def test_contraction_count_matches_estimator(monkeypatch):
    """The estimator's count is the number of contractions actually made."""
    ped = case_pedigree([("c", "child", "male"), ("s", "full-sibling", "male")], missing_sex="male")
    la = _locus(3, False)
    n = {"k": 0}
    orig = L._contract_cached

    def counting(*a, **k):
        n["k"] += 1
        return orig(*a, **k)

    monkeypatch.setattr(L, "_contract_cached", counting)
    calls = {"c": (0, 1), "s": (1, 2)}
    locus_likelihood(ped, calls, la.n_alleles, la.freqs, theta=0.02, free=["M"])
    assert n["k"] == theta_cost(ped, calls, free=["M"])["contractions"]


def test_refusal_states_estimate_and_fix():
    ped = _four_relative().with_person(Person("Q", None, None, "unknown"))
    ped = ped.with_person(Person("Q2", None, None, "unknown"))
    la = _locus(3, False)
    calls = {"c": (0, 1), "u": (0, 1), "h": (0, 1), "s": (0, 1)}
    c = theta_cost(ped, calls, free=["Q", "Q2"], n_alleles=la.n_alleles)
    assert c["draws"] == 12 and not c["feasible"]
    with pytest.raises(NotImplementedError) as e:
        locus_likelihood(ped, calls, la.n_alleles, la.freqs, theta=0.01, free=["Q", "Q2"])
    msg = str(e.value)
    assert "Bell(12)" in msg and "estimated" in msg and "theta=0" in msg and "type more relatives" in msg.lower()
