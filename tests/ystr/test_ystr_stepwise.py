"""P(d | m) under the single-step model, checked against independent computations."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinship.ystr import step_probability, step_probability_table


def matrix_power_distribution(m: int, mu: float) -> dict:
    """Slow reference: the m-th power of the one-meiosis transition matrix.

    States are repeat offsets -m-1 .. m+1 (wide enough that the walk started at 0
    never reaches an edge in m steps); row i of T moves to i-1, i, i+1 with
    probabilities mu/2, 1-mu, mu/2.
    """
    R = m + 1
    n = 2 * R + 1
    T = np.zeros((n, n))
    for i in range(n):
        T[i, i] = 1 - mu
        if i > 0:
            T[i, i - 1] = mu / 2
        if i < n - 1:
            T[i, i + 1] = mu / 2
    P = np.linalg.matrix_power(T, m)[R]  # start at offset 0
    return {d: P[d + R] for d in range(-R, R + 1)}


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 6, 10])
@pytest.mark.parametrize("mu", [0.0004, 0.0022, 0.018, 0.3])
def test_closed_form_equals_matrix_power(m, mu):
    ref = matrix_power_distribution(m, mu)
    for d, p in ref.items():
        assert step_probability(d, m, mu) == pytest.approx(p, rel=1e-10, abs=1e-300)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(0, 12), mu=st.floats(0.0, 1.0), d=st.integers(-14, 14))
def test_closed_form_equals_matrix_power_random(m, mu, d):
    if m == 0:
        assert step_probability(d, 0, mu) == (1.0 if d == 0 else 0.0)
        return
    ref = matrix_power_distribution(m, mu)
    assert step_probability(d, m, mu) == pytest.approx(ref.get(d, 0.0), rel=1e-9, abs=1e-15)


def test_hand_values_one_and_two_meioses():
    # derived by hand: one meiosis stays with 1-mu, moves each way with mu/2; two
    # meioses: stay-stay or up-down/down-up for 0; one move for +-1; two moves for +-2
    mu = 0.002
    assert step_probability(0, 1, mu) == pytest.approx(1 - mu)
    assert step_probability(1, 1, mu) == pytest.approx(mu / 2)
    assert step_probability(0, 2, mu) == pytest.approx((1 - mu) ** 2 + mu**2 / 2)
    assert step_probability(-1, 2, mu) == pytest.approx(mu * (1 - mu))
    assert step_probability(2, 2, mu) == pytest.approx(mu**2 / 4)
    assert step_probability(3, 2, mu) == 0.0


@pytest.mark.parametrize("m", [1, 3, 6])
def test_distribution_sums_to_one_and_is_symmetric(m):
    mu = 0.05
    tot = sum(step_probability(d, m, mu) for d in range(-m, m + 1))
    assert tot == pytest.approx(1.0, abs=1e-14)
    for d in range(1, m + 1):
        assert step_probability(d, m, mu) == step_probability(-d, m, mu)


def test_table_matches_scalar():
    mu = np.array([0.001, 0.01, 0.2])
    ms = [1, 2, 6]
    tab = step_probability_table(mu, ms)
    assert tab.shape == (3, 3, 7)
    for s in range(3):
        for j, m in enumerate(ms):
            for d in range(7):
                assert tab[s, j, d] == pytest.approx(step_probability(d, m, mu[s]), rel=1e-12, abs=0)


def test_bad_arguments():
    with pytest.raises(ValueError):
        step_probability(0, -1, 0.1)
    with pytest.raises(ValueError):
        step_probability(0, 2, 1.5)
