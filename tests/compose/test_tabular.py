"""Exact checks of the composition bounds (thesis Lemma 5, Corollary 1, Theorem 3) on random finite MDPs."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from softskills.compose.tabular import (
    CompositionBounds,
    boltzmann,
    c_star,
    compose,
    composition_bounds,
    d_exact,
    d_star,
    evaluate_policy,
    regret_bracket,
    renyi_half,
    residual_bounds,
    soft_q_iteration,
    soft_value,
)

GAMMAS = (0.5, 0.9, 0.95)
ALPHAS = (0.1, 0.5, 1.0, 2.0)
SEEDS = range(5)
CASES = list(itertools.product(GAMMAS, ALPHAS, SEEDS))  # 60 random MDPs
TOL = 1e-9


def random_mdp(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``P`` with sparse-ish Dirichlet rows and two reward functions on it."""
    rng = np.random.default_rng(seed)
    S, A = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
    return P, rng.uniform(-1.0, 1.0, (S, A)), rng.uniform(-1.0, 1.0, (S, A))


@dataclass(frozen=True)
class Case:
    P: np.ndarray
    R1: np.ndarray
    R2: np.ndarray
    gamma: float
    alpha: float
    Q1: np.ndarray
    Q2: np.ndarray
    QC: np.ndarray  # optimal soft Q of r_C = (r1 + r2)/2
    bounds: CompositionBounds
    Q_pi: np.ndarray  # soft value of pi_Sigma under r_C

    @property
    def RC(self) -> np.ndarray:
        return 0.5 * (self.R1 + self.R2)


@functools.lru_cache(maxsize=None)
def case(gamma: float, alpha: float, seed: int) -> Case:
    P, R1, R2 = random_mdp(1000 * seed + int(100 * gamma) + int(10 * alpha))
    Q1, Q2 = soft_q_iteration(P, R1, gamma, alpha), soft_q_iteration(P, R2, gamma, alpha)
    QC = soft_q_iteration(P, 0.5 * (R1 + R2), gamma, alpha)
    b = composition_bounds(P, Q1, Q2, gamma, alpha)
    Q_pi = evaluate_policy(P, 0.5 * (R1 + R2), b.pi_sigma, gamma, alpha)
    return Case(P, R1, R2, gamma, alpha, Q1, Q2, QC, b, Q_pi)


all_cases = pytest.mark.parametrize(("gamma", "alpha", "seed"), CASES)


# ------------------------------------------------------------------------------------------------
# Solvers
# ------------------------------------------------------------------------------------------------


def test_one_state_soft_q_is_analytic() -> None:
    # One state, two self-looping actions: V = alpha logsumexp(R/alpha)/(1 - gamma).
    P, R, gamma, alpha = np.ones((1, 2, 1)), np.array([[0.3, -1.2]]), 0.9, 0.7
    v = alpha * np.log(np.exp(R / alpha).sum()) / (1.0 - gamma)
    np.testing.assert_allclose(soft_q_iteration(P, R, gamma, alpha), R + gamma * v, rtol=0, atol=1e-11)


@all_cases
def test_soft_q_is_the_fixed_point_and_its_own_policy_value(gamma: float, alpha: float, seed: int) -> None:
    c = case(gamma, alpha, seed)
    backup = c.R1 + gamma * c.P @ soft_value(c.Q1, alpha)
    np.testing.assert_allclose(c.Q1, backup, rtol=0, atol=1e-10)
    # Soft policy evaluation of the optimal Boltzmann policy returns Q* itself.
    q_eval = evaluate_policy(c.P, c.R1, boltzmann(c.Q1, alpha), gamma, alpha)
    np.testing.assert_allclose(q_eval, c.Q1, rtol=0, atol=1e-9)


def test_evaluate_policy_matches_iterated_backup() -> None:
    P, R, _ = random_mdp(7)
    rng = np.random.default_rng(7)
    pi = rng.dirichlet(np.ones(R.shape[1]), size=R.shape[0])
    pi[0] = np.eye(R.shape[1])[0]  # a deterministic row: 0 log 0 = 0
    gamma, alpha = 0.8, 0.6
    q = evaluate_policy(P, R, pi, gamma, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        neg_ent = np.nan_to_num(pi * np.log(pi)).sum(-1)
    backup = R + gamma * P @ ((pi * q).sum(-1) - alpha * neg_ent)
    np.testing.assert_allclose(q, backup, rtol=0, atol=1e-11)


# ------------------------------------------------------------------------------------------------
# Renyi divergence of order 1/2
# ------------------------------------------------------------------------------------------------


def test_renyi_half_known_values_and_zero_iff_equal() -> None:
    p = np.array([[1.0, 0.0], [0.5, 0.5], [0.2, 0.8], [1.0, 0.0]])
    q = np.array([[0.5, 0.5], [0.5, 0.5], [0.8, 0.2], [0.0, 1.0]])
    bc = 2.0 * np.sqrt(0.16)
    np.testing.assert_allclose(renyi_half(p, q), [np.log(2.0), 0.0, -2.0 * np.log(bc), np.inf])
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet(np.ones(4), size=200), rng.dirichlet(np.ones(4), size=200)
    d = renyi_half(a, b)
    assert np.all(d > 0.0)
    np.testing.assert_allclose(d, renyi_half(b, a), rtol=1e-12)  # symmetric
    np.testing.assert_array_equal(renyi_half(a, a), 0.0)


@all_cases
def test_key_identity_of_lemma5(gamma: float, alpha: float, seed: int) -> None:
    # Proof of Lemma 5: V_Sigma = (V1 + V2)/2 - (alpha/2) D_1/2(pi1 || pi2).
    c = case(gamma, alpha, seed)
    v1, v2, v_sigma = soft_value(c.Q1, alpha), soft_value(c.Q2, alpha), soft_value(c.bounds.q_sigma, alpha)
    np.testing.assert_allclose(v_sigma, 0.5 * (v1 + v2) - 0.5 * alpha * c.bounds.renyi, rtol=0, atol=1e-10)
    assert np.all(c.bounds.renyi >= 0.0)


# ------------------------------------------------------------------------------------------------
# Lemma 5, Corollary 1, Theorem 3, exact identity, regret bracket
# ------------------------------------------------------------------------------------------------


@all_cases
def test_lemma5_and_corollary1(gamma: float, alpha: float, seed: int) -> None:
    c = case(gamma, alpha, seed)
    q_sigma, cs = c.bounds.q_sigma, c.bounds.c_star
    assert np.all(q_sigma >= c.QC - TOL)
    assert np.all(c.QC >= q_sigma - cs - TOL)
    v_sigma, v_c = soft_value(q_sigma, alpha), soft_value(c.QC, alpha)
    assert np.all(v_sigma >= v_c - TOL) and np.all(v_c >= v_sigma - cs.max(-1) - TOL)


@all_cases
def test_theorem3(gamma: float, alpha: float, seed: int) -> None:
    c = case(gamma, alpha, seed)
    assert np.all(c.Q_pi >= c.QC - c.bounds.d_star - TOL)


@all_cases
def test_exact_regret_identity(gamma: float, alpha: float, seed: int) -> None:
    c = case(gamma, alpha, seed)
    np.testing.assert_allclose(c.Q_pi, c.bounds.q_sigma - c.bounds.d_exact, rtol=0, atol=1e-8)


@all_cases
def test_regret_bracket(gamma: float, alpha: float, seed: int) -> None:
    c = case(gamma, alpha, seed)
    lower, upper = regret_bracket(c.P, c.Q1, c.Q2, gamma, alpha)
    regret = c.QC - c.Q_pi
    assert np.all(lower >= 0.0)
    assert np.all(lower <= regret + TOL) and np.all(regret <= upper + TOL)
    # The bracket is the tighter of both upper bounds (neither dominates, see below).
    assert np.all(upper <= c.bounds.d_star) and np.all(upper <= c.bounds.d_exact)


def test_fixed_point_equations_hold() -> None:
    c = case(0.9, 0.5, 3)
    b, P, g, a = c.bounds, c.P, c.gamma, c.alpha
    np.testing.assert_allclose(b.c_star, g * P @ (0.5 * a * b.renyi + b.c_star.max(-1)), atol=1e-10)
    ds_next = g * P @ (b.pi_sigma * (b.c_star + b.d_star)).sum(-1)
    np.testing.assert_allclose(b.d_star, ds_next, atol=1e-10)
    de_next = g * P @ (0.5 * a * b.renyi + (b.pi_sigma * b.d_exact).sum(-1))
    np.testing.assert_allclose(b.d_exact, de_next, atol=1e-10)


def test_one_state_c_star_is_analytic() -> None:
    # One self-looping state: C* = gamma (alpha/2) D_1/2 / (1 - gamma) for every action.
    pi1, pi2 = np.array([[0.9, 0.1]]), np.array([[0.3, 0.7]])
    gamma, alpha = 0.8, 1.5
    expected = gamma * 0.5 * alpha * renyi_half(pi1, pi2)[0] / (1.0 - gamma)
    np.testing.assert_allclose(c_star(np.ones((1, 2, 1)), pi1, pi2, gamma, alpha), expected, atol=1e-11)


# ------------------------------------------------------------------------------------------------
# Tightness: the bounds are not vacuous
# ------------------------------------------------------------------------------------------------


def test_equal_rewards_make_composition_exact() -> None:
    P, R, _ = random_mdp(3)
    gamma, alpha = 0.9, 0.5
    Q = soft_q_iteration(P, R, gamma, alpha)
    b = composition_bounds(P, Q, Q, gamma, alpha)
    for x in (b.renyi, b.c_star, b.d_star, b.d_exact):
        np.testing.assert_array_equal(x, 0.0)
    np.testing.assert_allclose(evaluate_policy(P, R, b.pi_sigma, gamma, alpha), Q, atol=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_half_factor_is_tight_to_first_order_in_gamma(seed: int) -> None:
    # Q_Sigma - Q*_C = gamma P (alpha/2) D_1/2 + O(gamma^2) = C* + O(gamma^2): the proof's 1/2 is sharp,
    # the printed eq. 6.4 (factor 1) is twice as loose, and a factor 1/4 would be wrong.
    P, R1, R2 = random_mdp(seed)
    gamma, alpha = 0.05, 1.0
    Q1, Q2 = soft_q_iteration(P, R1, gamma, alpha), soft_q_iteration(P, R2, gamma, alpha)
    QC = soft_q_iteration(P, 0.5 * (R1 + R2), gamma, alpha)
    b = composition_bounds(P, Q1, Q2, gamma, alpha)
    gap = b.q_sigma - QC
    assert np.max(gap / b.c_star) > 0.95
    pi1, pi2 = boltzmann(Q1, alpha), boltzmann(Q2, alpha)
    loose = c_star(P, pi1, pi2, gamma, 2.0 * alpha)  # the eq. 6.4 constant, alpha D_1/2
    np.testing.assert_allclose(loose, 2.0 * b.c_star, rtol=1e-10)
    too_tight = c_star(P, pi1, pi2, gamma, 0.5 * alpha)  # (alpha/4) D_1/2
    assert np.any(QC < b.q_sigma - too_tight)


def test_neither_d_star_nor_d_exact_dominates() -> None:
    # At gamma = 0.5, D* is O(gamma^2) while D_exact is O(gamma): both orders occur.
    exact_larger = star_larger = 0
    for alpha, seed in itertools.product(ALPHAS, SEEDS):
        b = case(0.5, alpha, seed).bounds
        exact_larger += bool(np.any(b.d_exact > b.d_star))
        star_larger += bool(np.any(b.d_star > b.d_exact))
    assert exact_larger > 0 and star_larger > 0


# ------------------------------------------------------------------------------------------------
# Residual bounds (Adamczyk et al., RLC 2024)
# ------------------------------------------------------------------------------------------------


@all_cases
def test_residual_bounds_bracket_optimal_q(gamma: float, alpha: float, seed: int) -> None:
    c = case(gamma, alpha, seed)
    rng = np.random.default_rng(seed)
    for q in (c.bounds.q_sigma, rng.normal(0.0, 3.0, c.QC.shape)):
        lower, upper = residual_bounds(c.P, c.RC, q, gamma, alpha)
        assert np.all(lower <= c.QC + TOL) and np.all(c.QC <= upper + TOL)
    lower, upper = residual_bounds(c.P, c.RC, c.QC, gamma, alpha)  # tight at the optimum
    np.testing.assert_allclose(lower, c.QC, atol=1e-9)
    np.testing.assert_allclose(upper, c.QC, atol=1e-9)


def test_residual_bounds_are_attained_by_constant_offsets() -> None:
    c = case(0.9, 1.0, 0)
    lower, upper = residual_bounds(c.P, c.RC, c.QC + 2.0, c.gamma, c.alpha)
    np.testing.assert_allclose(lower, c.QC, atol=1e-9)
    np.testing.assert_allclose(upper, c.QC, atol=1e-9)


# ------------------------------------------------------------------------------------------------
# Weights and input validation
# ------------------------------------------------------------------------------------------------


def test_compose_normalises_weights() -> None:
    c = case(0.9, 1.0, 1)
    q_mean, a_eff = compose(c.Q1, c.Q2, (1.0, 1.0), alpha=1.0)  # SumQFunction at alpha = 1
    assert a_eff == 0.5
    np.testing.assert_allclose(q_mean, c.bounds.q_sigma, atol=1e-12)
    np.testing.assert_allclose(boltzmann(q_mean, a_eff), boltzmann(c.Q1 + c.Q2, 1.0), atol=1e-12)
    q_w, a_w = compose(c.Q1, c.Q2, (3.0, 1.0), alpha=2.0)
    np.testing.assert_allclose(boltzmann(q_w, a_w), boltzmann(3.0 * c.Q1 + c.Q2, 2.0), atol=1e-12)
    # The theorem's pi_Sigma for constituents trained at alpha is the sum at 2 alpha.
    np.testing.assert_allclose(boltzmann(c.Q1 + c.Q2, 2.0), c.bounds.pi_sigma, atol=1e-12)


def test_bad_input_raises() -> None:
    c = case(0.9, 1.0, 0)
    P, R, pi = c.P, c.RC, c.bounds.pi_sigma
    with pytest.raises(ValueError, match="gamma"):
        soft_q_iteration(P, R, 1.0, 1.0)
    with pytest.raises(ValueError, match="gamma"):
        d_star(P, R, pi, -0.1)
    with pytest.raises(ValueError, match="alpha"):
        evaluate_policy(P, R, pi, 0.9, 0.0)
    with pytest.raises(ValueError, match="R must have shape"):
        soft_q_iteration(P, R[:, :1], 0.9, 1.0)
    with pytest.raises(ValueError, match="P must have shape"):
        soft_q_iteration(P[:, :, :-1], R, 0.9, 1.0)
    with pytest.raises(ValueError, match="P is not stochastic"):
        soft_q_iteration(2.0 * P, R, 0.9, 1.0)
    with pytest.raises(ValueError, match="pi is not stochastic"):
        evaluate_policy(P, R, 2.0 * pi, 0.9, 1.0)
    with pytest.raises(ValueError, match="pi2 is not stochastic"):
        renyi_half(pi, -pi)
    with pytest.raises(ValueError, match="pi2 must have shape"):
        renyi_half(pi, pi[:-1])
    with pytest.raises(ValueError, match="disjoint"):
        onehot = np.eye(2)[[0]]
        c_star(np.ones((1, 2, 1)), onehot, onehot[:, ::-1], 0.9, 1.0)
    with pytest.raises(ValueError, match="weights"):
        compose(c.Q1, c.Q2, (1.0, -1.0))
    with pytest.raises(ValueError, match="pi_sigma"):
        d_exact(P, pi, pi, pi[:, :1], 0.9, 1.0)


def test_a_backup_that_is_not_a_contraction_is_refused() -> None:
    """The solvers' guard: an expanding backup raises instead of iterating to a meaningless answer."""
    from softskills.compose.tabular import _fixed_point

    with pytest.raises(RuntimeError, match="not a gamma-contraction"):
        _fixed_point(lambda x: 2.0 * x + 1.0, np.zeros(3), 0.5)
    np.testing.assert_allclose(_fixed_point(lambda x: 0.5 * x + 1.0, np.zeros(3), 0.5), 2.0, atol=1e-9)
