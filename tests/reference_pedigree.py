"""Slow, obviously-correct reference for single-locus pedigree likelihoods.

This module is the *independent* oracle that the fast implementation in
``kinship/`` is tested against.  It deliberately imports nothing from
``kinship`` and is written for readability, not speed: it is meant for at most
~4 alleles and ~6-8 persons.

The definitions implemented here are documented, with sources, in
``docs/mutation-models.md``.  In short:

Mutation matrices (row = allele of the parent, column = allele transmitted):

* ``ref_equal``        M[i,i] = 1 - rate,  M[i,j] = rate / (n - 1)
* ``ref_proportional`` M = (1 - a) I + a 1 p^T,  a = rate / sum_k p_k (1 - p_k)
* ``ref_stepwise``     pedmut / Familias "stepwise" (rate, rate2, range), with
  microvariant groups defined by the fractional part ``x - floor(x)``
* ``ref_extended_stepwise`` Familias 3 "Extended stepwise" (.fam model code 4).
  By our research this is the *same* matrix as ``ref_stepwise``; it is written a
  second time, in a different shape, so that the two builders check each other.

Likelihood of one pedigree at one locus (``pedigree_likelihood``)::

    L = sum over every ordered genotype (paternal, maternal) of every person of
          P_theta(founder alleles, as ONE Balding-Nichols / Polya urn sequence)
        * prod over non-founders c of
              [1/2 M_male[f_pat, c_pat]   + 1/2 M_male[f_mat, c_pat]]      (father f)
            * [1/2 M_female[m_pat, c_mat] + 1/2 M_female[m_mat, c_mat]]    (mother m)
        * [typed persons: the ordered pair is an ordering of the observed genotype]

where the urn draws, in a fixed order (the order is irrelevant: the urn is
exchangeable), every allele of every founder:

    P(next allele = a | n alleles drawn so far, c of them equal to a)
        = (c * theta + (1 - theta) * p_a) / (1 + (n - 1) * theta)

(Familias' ``systemdata::set_allele``, thoree/Familias src/odds.h.)

A person with only ONE parent given is allowed and follows Familias
(thoree/Familias src/cutset.cpp, ``pers::execute``): the allele from the
missing parent is drawn directly from the founder urn, *without* mutation.
(That is not the same as adding an untyped parent, whose transmitted allele
would pass through the mutation matrix.)

Two summation methods are provided and cross-checked in
``tests/test_reference_selfcheck.py``:

* ``pedigree_likelihood_bruteforce`` - the definition above, literally, with
  ``itertools.product`` over all persons.  This is the reference.
* ``pedigree_likelihood_einsum`` - the *same factors* (built by the same
  formulas, vectorised) summed with ``numpy.einsum``.  Only the order of the
  summation differs; it exists because the brute force sum over 8 persons with 4
  alleles (16**8 terms) is too slow.  It is used automatically above
  ``BRUTEFORCE_MAX_TERMS`` terms.
"""
from __future__ import annotations

import builtins
import itertools
import math
import string
from decimal import Decimal, InvalidOperation

import numpy as np

__all__ = [
    "ref_no_mutation",
    "ref_equal",
    "ref_proportional",
    "ref_stepwise",
    "ref_extended_stepwise",
    "repeat_number",
    "microvariant_group",
    "founder_sequence_probability",
    "pedigree_likelihood",
    "pedigree_likelihood_bruteforce",
    "pedigree_likelihood_einsum",
    "ref_lr",
    "BRUTEFORCE_MAX_TERMS",
]

#: Above this many terms ``pedigree_likelihood(method="auto")`` uses einsum.
BRUTEFORCE_MAX_TERMS = 5_000

#: Refuse to build a founder-urn tensor larger than this (memory guard).
MAX_URN_TENSOR_ENTRIES = 2_000_000


# ---------------------------------------------------------------------------
# Mutation matrices
# ---------------------------------------------------------------------------

def ref_no_mutation(alleles):
    """The identity matrix: an allele is always transmitted unchanged."""
    return np.eye(len(alleles))


def ref_equal(alleles, rate):
    """'Equal' model: stay with prob 1 - rate, else any other allele equally.

    M[i, i] = 1 - rate;  M[i, j] = rate / (n - 1) for j != i.
    With a single allele the matrix is [[1]].
    """
    n = len(alleles)
    if n == 1:
        return np.ones((1, 1))
    M = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            M[i, j] = 1.0 - rate if i == j else rate / (n - 1)
    return M


def ref_proportional(alleles, freqs, rate):
    """'Proportional' model: mutate to j with probability proportional to p_j.

    a = rate / sum_k p_k (1 - p_k)
    M[i, j] = a * p_j            (j != i)
    M[i, i] = 1 - a + a * p_i

    The expected (frequency-weighted) mutation rate sum_i p_i (1 - M[i,i])
    then equals ``rate``, and p is stationary: p M = p.
    """
    n = len(alleles)
    p = [float(x) for x in freqs]
    if n == 1:
        return np.ones((1, 1))
    a = rate / sum(pk * (1.0 - pk) for pk in p)
    M = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            M[i, j] = 1.0 - a + a * p[j] if i == j else a * p[j]
    if (M < 0).any() or (M > 1).any():
        raise ValueError("proportional model undefined for this rate")
    return M


def repeat_number(label):
    """The allele label as an exact decimal number: "9.3" -> Decimal("9.3")."""
    try:
        value = Decimal(str(label).strip())
    except InvalidOperation:
        raise ValueError(f"stepwise models need numeric allele labels, got {label!r}")
    if not value.is_finite():
        raise ValueError(f"stepwise models need numeric allele labels, got {label!r}")
    return value


def microvariant_group(label):
    """The microvariant group of an allele: its fractional part x - floor(x).

    "9" and "10" -> 0 (integer alleles); "9.3" and "10.3" -> 0.3.

    pedmut / Familias use round((x - round(x)) * 10) instead; the two
    definitions give the same partition except for ".5" alleles, which R's
    round-half-to-even splits by the parity of the integer part (9.5 -> -5,
    10.5 -> +5).  Here 9.5 and 10.5 are in the same group.
    """
    x = repeat_number(label)
    return x - x.to_integral_value(rounding="ROUND_FLOOR")


def ref_stepwise(alleles, rate, rate2, range):  # noqa: A002  (name as in pedmut)
    """pedmut's "stepwise" model (= Familias 'Stepwise' with MutationRate2).

    Let G(i) be the microvariant group of allele i (see microvariant_group),
    S(i) = {j != i : G(j) == G(i)} and O(i) = {j : G(j) != G(i)}.

    * j in S(i):  M[i,j] = rate * range**|x_i - x_j| / sum_{k in S(i)} range**|x_i - x_k|
    * j in O(i):  M[i,j] = rate2 / |O(i)|        (spread evenly, whatever the distance)
    * diagonal:   M[i,i] = 1 - (rate if S(i) nonempty) - (rate2 if O(i) nonempty)

    so M[i,i] is 1 - rate - rate2, 1 - rate (no other group) or 1 - rate2 (i is
    alone in its group), exactly as in pedmut:::.stepwise.
    """
    step_range = range
    labels = list(alleles)
    n = len(labels)
    if n == 1:
        return np.ones((1, 1))
    x = [repeat_number(a) for a in labels]
    group = [microvariant_group(a) for a in labels]
    M = np.zeros((n, n))
    for i in _positions(n):
        same = [j for j in _positions(n) if j != i and group[j] == group[i]]
        other = [j for j in _positions(n) if group[j] != group[i]]
        if same:
            weights = {j: float(step_range) ** float(abs(x[i] - x[j])) for j in same}
            total = sum(weights.values())
            for j in same:
                M[i, j] = rate * weights[j] / total
        for j in other:
            M[i, j] = rate2 / len(other)
        M[i, i] = 1.0 - (rate if same else 0.0) - (rate2 if other else 0.0)
    return M


def ref_extended_stepwise(alleles, rate, rate2, range):  # noqa: A002
    """Familias 3 "Extended stepwise" (.fam model code 4).

    Familias' own R documentation (FamiliasLocus.Rd) says the R 'Stepwise'
    model with microvariants "is called 'Extended stepwise' in Familias 3.0",
    and pedFamilias::readFam maps code 4 ("step-ext") to pedmut's "stepwise"
    with the file's rate2.  So the matrix is the one of ``ref_stepwise``.

    It is written here a second time as a mixture of three row distributions,
    so that the two builders cross-check each other:

        row_i = stay * e_i + rate * (integer-step distribution) + rate2 * (uniform
                over the alleles of the other microvariant groups)
    """
    step_range = range
    n = len(alleles)
    if n == 1:
        return np.ones((1, 1))
    values = [repeat_number(a) for a in alleles]
    rows = []
    for i, xi in enumerate(values):
        fi = microvariant_group(alleles[i])
        # integer steps: same fractional part, different allele
        step_targets = [j for j in _positions(n)
                        if j != i and microvariant_group(alleles[j]) == fi]
        # fractional steps: a different fractional part
        frac_targets = [j for j in _positions(n)
                        if microvariant_group(alleles[j]) != fi]
        row = np.zeros(n)
        if step_targets:
            w = np.array([step_range ** float(abs(values[j] - xi)) for j in step_targets])
            row[step_targets] += rate * w / w.sum()
        if frac_targets:
            row[frac_targets] += rate2 / len(frac_targets)
        row[i] += 1.0 - row.sum()
        rows.append(row)
    return np.vstack(rows)


def _positions(n):
    """[0, 1, ..., n-1]; the stepwise builders cannot call ``range`` (a parameter there)."""
    return list(builtins.range(n))


# ---------------------------------------------------------------------------
# Pedigree input
# ---------------------------------------------------------------------------

def _check_pedigree(pedigree):
    """Validate and return {id: person dict}.  Raises ValueError on bad input."""
    people = {}
    for person in pedigree:
        pid = person["id"]
        if pid in people:
            raise ValueError(f"duplicate person id {pid!r}")
        if person["sex"] not in ("male", "female"):
            raise ValueError(f"sex of {pid!r} must be 'male' or 'female'")
        people[pid] = person
    for pid, person in people.items():
        father, mother = person.get("father"), person.get("mother")
        if father is not None:
            if father not in people:
                raise ValueError(f"father {father!r} of {pid!r} is not in the pedigree")
            if people[father]["sex"] != "male":
                raise ValueError(f"father {father!r} of {pid!r} is not male")
        if mother is not None:
            if mother not in people:
                raise ValueError(f"mother {mother!r} of {pid!r} is not in the pedigree")
            if people[mother]["sex"] != "female":
                raise ValueError(f"mother {mother!r} of {pid!r} is not female")
    # no cycles: everybody must be reachable by repeatedly removing founders
    placed = set()
    while len(placed) < len(people):
        progress = False
        for pid, person in people.items():
            if pid in placed:
                continue
            parents = [q for q in (person.get("father"), person.get("mother")) if q is not None]
            if all(q in placed for q in parents):
                placed.add(pid)
                progress = True
        if not progress:
            raise ValueError("the pedigree has a cycle")
    return people


def _allowed_ordered_genotypes(pid, genotypes, allele_index):
    """All ordered (paternal, maternal) allele-index pairs person ``pid`` may have.

    Typed person with genotype {a, b}: (a, b) and (b, a) (one pair if a == b).
    Untyped person: every one of the A*A ordered pairs.
    """
    n = len(allele_index)
    if pid not in genotypes:
        return [(i, j) for i in range(n) for j in range(n)]
    a, b = genotypes[pid]
    for label in (a, b):
        if label not in allele_index:
            raise ValueError(f"allele {label!r} of {pid!r} is not in the allele list")
    ia, ib = allele_index[a], allele_index[b]
    return sorted({(ia, ib), (ib, ia)})


def _matrix_or_identity(M, n):
    if M is None:
        return np.eye(n)
    M = np.asarray(M, dtype=float)
    if M.shape != (n, n):
        raise ValueError(f"mutation matrix must be {n}x{n}, got {M.shape}")
    return M


def _urn_draws(pedigree):
    """The founder-urn draws, as (person id, 0 = paternal / 1 = maternal).

    A founder contributes both alleles; a person with one parent missing
    contributes the allele of the missing parent (Familias semantics).
    """
    draws = []
    for person in pedigree:
        if person.get("father") is None:
            draws.append((person["id"], 0))
        if person.get("mother") is None:
            draws.append((person["id"], 1))
    return draws


# ---------------------------------------------------------------------------
# The Balding-Nichols / Polya urn
# ---------------------------------------------------------------------------

def founder_sequence_probability(allele_sequence, freqs, theta):
    """P_theta of drawing this exact sequence of allele indices from the urn.

    P(next = a | n drawn, c of them a) = (c*theta + (1-theta)*p_a) / (1 + (n-1)*theta)
    With theta = 0 this is just the product of the frequencies.
    """
    prob = 1.0
    drawn = []
    for a in allele_sequence:
        n = len(drawn)
        c = drawn.count(a)
        prob *= (c * theta + (1.0 - theta) * freqs[a]) / (1.0 + (n - 1) * theta)
        drawn.append(a)
    return prob


def _transmission(parent_pair, child_allele, M):
    """P(parent with ordered genotype parent_pair transmits child_allele) under M."""
    return 0.5 * M[parent_pair[0], child_allele] + 0.5 * M[parent_pair[1], child_allele]


# ---------------------------------------------------------------------------
# Likelihood: brute force (the definition)
# ---------------------------------------------------------------------------

def pedigree_likelihood_bruteforce(pedigree, genotypes, alleles, freqs,
                                   female_M=None, male_M=None, theta=0.0):
    """Sum over every ordered genotype of every person (itertools.product)."""
    people = _check_pedigree(pedigree)
    alleles = list(alleles)
    allele_index = {a: i for i, a in enumerate(alleles)}
    p = [float(x) for x in freqs]
    n = len(alleles)
    Mf = _matrix_or_identity(female_M, n)
    Mm = _matrix_or_identity(male_M, n)
    for pid in genotypes:
        if pid not in people:
            raise ValueError(f"typed person {pid!r} is not in the pedigree")

    ids = [person["id"] for person in pedigree]
    domains = [_allowed_ordered_genotypes(pid, genotypes, allele_index) for pid in ids]
    draws = _urn_draws(pedigree)

    total = 0.0
    for assignment in itertools.product(*domains):
        g = dict(zip(ids, assignment))
        urn_sequence = [g[pid][side] for pid, side in draws]
        prob = founder_sequence_probability(urn_sequence, p, theta)
        for pid in ids:
            father, mother = people[pid].get("father"), people[pid].get("mother")
            if father is not None:
                prob *= _transmission(g[father], g[pid][0], Mm)   # father: male model
            if mother is not None:
                prob *= _transmission(g[mother], g[pid][1], Mf)   # mother: female model
        total += prob
    return float(total)


# ---------------------------------------------------------------------------
# Likelihood: the same factors, summed with einsum
# ---------------------------------------------------------------------------

def _urn_tensor(draw_domains, freqs, theta):
    """Urn probability for every combination of the draws' domain entries.

    draw_domains: list, one entry per person taking part in the urn, of
    (list of ordered pairs, list of sides drawn).  Returns an array with one
    axis per such person.  Same formula as founder_sequence_probability,
    applied column by column to all sequences at once.
    """
    shape = [len(dom) for dom, _ in draw_domains]
    size = int(np.prod(shape)) if shape else 1
    if size > MAX_URN_TENSOR_ENTRIES:
        raise ValueError(f"founder urn tensor too large ({size} entries)")
    combos = np.indices(shape).reshape(len(shape), -1).T          # (size, persons)
    columns = []
    for axis, (dom, sides) in enumerate(draw_domains):
        dom_arr = np.array(dom, dtype=int)                          # (|dom|, 2)
        for side in sides:
            columns.append(dom_arr[combos[:, axis], side])
    seqs = np.stack(columns, axis=1) if columns else np.zeros((size, 0), dtype=int)
    p = np.asarray(freqs, dtype=float)
    prob = np.ones(size)
    for k in range(seqs.shape[1]):
        a = seqs[:, k]
        c = (seqs[:, :k] == a[:, None]).sum(axis=1)
        prob *= (c * theta + (1.0 - theta) * p[a]) / (1.0 + (k - 1) * theta)
    return prob.reshape(shape)


def _transmission_matrix(parent_dom, child_dom, side, M):
    """T[parent state, child state] = P(parent transmits the child's allele on ``side``)."""
    par = np.array(parent_dom, dtype=int)
    child_allele = np.array(child_dom, dtype=int)[:, side]
    return 0.5 * M[par[:, 0][:, None], child_allele[None, :]] + \
        0.5 * M[par[:, 1][:, None], child_allele[None, :]]


def pedigree_likelihood_einsum(pedigree, genotypes, alleles, freqs,
                               female_M=None, male_M=None, theta=0.0):
    """The brute-force sum, with the same factors, contracted by numpy.einsum."""
    people = _check_pedigree(pedigree)
    alleles = list(alleles)
    allele_index = {a: i for i, a in enumerate(alleles)}
    n = len(alleles)
    Mf = _matrix_or_identity(female_M, n)
    Mm = _matrix_or_identity(male_M, n)
    for pid in genotypes:
        if pid not in people:
            raise ValueError(f"typed person {pid!r} is not in the pedigree")

    ids = [person["id"] for person in pedigree]
    letters = string.ascii_letters
    if len(ids) > len(letters):
        raise ValueError("too many persons for the einsum reference")
    letter = {pid: letters[k] for k, pid in enumerate(ids)}
    domain = {pid: _allowed_ordered_genotypes(pid, genotypes, allele_index) for pid in ids}

    operands, subscripts = [], []
    # one factor for the whole founder urn (all draws, jointly)
    draws = _urn_draws(pedigree)
    urn_people = []
    for pid, side in draws:
        if not urn_people or urn_people[-1][0] != pid:
            urn_people.append((pid, []))
        urn_people[-1][1].append(side)
    operands.append(_urn_tensor([(domain[pid], sides) for pid, sides in urn_people],
                                freqs, theta))
    subscripts.append("".join(letter[pid] for pid, _ in urn_people))
    # one factor per transmission
    for pid in ids:
        father, mother = people[pid].get("father"), people[pid].get("mother")
        if father is not None:
            operands.append(_transmission_matrix(domain[father], domain[pid], 0, Mm))
            subscripts.append(letter[father] + letter[pid])
        if mother is not None:
            operands.append(_transmission_matrix(domain[mother], domain[pid], 1, Mf))
            subscripts.append(letter[mother] + letter[pid])
    # persons that appear in no factor (impossible: everyone is drawn or has a parent)
    expression = ",".join(subscripts) + "->"
    return float(np.einsum(expression, *operands, optimize="greedy"))


def _number_of_terms(pedigree, genotypes, alleles):
    allele_index = {a: i for i, a in enumerate(alleles)}
    return math.prod(len(_allowed_ordered_genotypes(person["id"], genotypes, allele_index))
                     for person in pedigree)


def pedigree_likelihood(pedigree, genotypes, alleles, freqs,
                        female_M=None, male_M=None, theta=0.0, method="auto"):
    """Likelihood of one pedigree at one locus.

    pedigree: list of {"id", "father", "mother", "sex"} ("male"/"female").
    genotypes: {person id: (allele, allele)} for the typed persons (unordered).
    alleles, freqs: the allele labels and their frequencies (same order).
    female_M / male_M: mutation matrices for transmissions from mothers /
    fathers, indexed like ``alleles``; None means no mutation.
    theta: Balding-Nichols theta, applied jointly to all founders.
    method: "bruteforce", "einsum" or "auto" (brute force when it is small).
    """
    if method == "auto":
        terms = _number_of_terms(pedigree, genotypes, list(alleles))
        method = "bruteforce" if terms <= BRUTEFORCE_MAX_TERMS else "einsum"
    if method == "bruteforce":
        return pedigree_likelihood_bruteforce(pedigree, genotypes, alleles, freqs,
                                              female_M, male_M, theta)
    if method == "einsum":
        return pedigree_likelihood_einsum(pedigree, genotypes, alleles, freqs,
                                          female_M, male_M, theta)
    raise ValueError(f"unknown method {method!r}")


def ref_lr(h1, h2, genotypes, alleles, freqs, female_M=None, male_M=None, theta=0.0,
           method="auto"):
    """(L1, L2, L1/L2) for two hypotheses; 0/0 -> nan, x/0 -> inf.

    Every typed person must appear in both hypotheses; untyped persons may
    appear in one only.  Under each hypothesis all its founders are drawn from
    one urn (theta applies jointly, also to 'unrelated' persons).
    """
    ids1 = {person["id"] for person in h1}
    ids2 = {person["id"] for person in h2}
    for pid in genotypes:
        if pid not in ids1 or pid not in ids2:
            raise ValueError(f"typed person {pid!r} must appear in both hypotheses")
    L1 = pedigree_likelihood(h1, genotypes, alleles, freqs, female_M, male_M, theta, method)
    L2 = pedigree_likelihood(h2, genotypes, alleles, freqs, female_M, male_M, theta, method)
    if L2 == 0.0:
        ratio = math.nan if L1 == 0.0 else math.inf
    else:
        ratio = L1 / L2
    return L1, L2, ratio
