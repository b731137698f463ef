"""Exact composition bounds on finite MDPs (thesis ch. 6, Lemma 5, Theorem 3, appendix B.4).

Everything here is float64 numpy and exact up to linear-algebra round-off, so it doubles as the
ground truth for the neural estimators. Conventions:

* ``P[s, a, s'] = p(s'|s, a)`` has shape ``[S, A, S]``; rewards and Q-tables have shape ``[S, A]``.
* The soft value is ``V(s) = alpha logsumexp_a Q(s, a)/alpha`` and the Boltzmann policy is
  ``pi(a|s) = exp((Q(s, a) - V(s))/alpha)`` (thesis eq. 3.5-3.6 with a sum over actions).
* Composition uses the *mean* ``Q_Sigma = (Q1 + Q2)/2`` and the composed reward ``r_C = (r1 + r2)/2``
  (thesis eq. 6.1-6.2), both at the constituents' temperature ``alpha``. The bounds are stated for
  these normalised weights (1/2, 1/2). The original code summed the Q's (``SumQFunction``); see
  :func:`compose` for how a weighted sum maps to this normalised form.
* ``D_1/2(p||q) = -2 log sum_a sqrt(p(a) q(a))`` is the Renyi divergence of order 1/2, the
  normalisation under which the key identity of the proof of Lemma 5 reads
  ``V_Sigma = (V1 + V2)/2 - (alpha/2) D_1/2(pi1||pi2)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CompositionBounds",
    "boltzmann",
    "c_star",
    "compose",
    "composition_bounds",
    "d_exact",
    "d_star",
    "evaluate_policy",
    "regret_bracket",
    "renyi_half",
    "residual_bounds",
    "soft_q_iteration",
    "soft_value",
]

Array = NDArray[np.float64]

_TOL = 1e-12  # target sup-norm error of the fixed-point iterations, relative to max(1, |x|)
_MAX_ITER = 1_000_000
_ROW_ATOL = 1e-8  # tolerance on "rows of P / pi sum to one"


# ------------------------------------------------------------------------------------------------
# Input checks
# ------------------------------------------------------------------------------------------------


def _check_gamma(gamma: float) -> float:
    if not np.isfinite(gamma) or not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must lie in [0, 1), got {gamma}")
    return float(gamma)


def _check_alpha(alpha: float) -> float:
    if not np.isfinite(alpha) or alpha <= 0.0:
        raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
    return float(alpha)


def _as_transitions(P: ArrayLike) -> Array:
    p = np.asarray(P, dtype=np.float64)
    if p.ndim != 3 or p.shape[0] != p.shape[2] or min(p.shape) == 0:
        raise ValueError(f"P must have shape [S, A, S] with S, A >= 1, got {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0.0):
        raise ValueError("P must be finite and non-negative")
    if not np.allclose(p.sum(axis=-1), 1.0, rtol=0.0, atol=_ROW_ATOL):
        raise ValueError("P is not stochastic: sum over s' of P[s, a, s'] must be 1 for every (s, a)")
    return p


def _as_table(x: ArrayLike, name: str, shape: tuple[int, ...]) -> Array:
    t = np.asarray(x, dtype=np.float64)
    if t.shape != shape:
        raise ValueError(f"{name} must have shape {list(shape)}, got {list(t.shape)}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} must be finite")
    return t


def _as_policy(pi: ArrayLike, name: str, shape: tuple[int, ...]) -> Array:
    p = _as_table(pi, name, shape)
    if np.any(p < 0.0) or not np.allclose(p.sum(axis=-1), 1.0, rtol=0.0, atol=_ROW_ATOL):
        raise ValueError(f"{name} is not stochastic: each row must be >= 0 and sum to 1 over actions")
    return p


def _as_q(Q: ArrayLike, name: str) -> Array:
    q = np.asarray(Q, dtype=np.float64)
    if q.ndim != 2 or min(q.shape) == 0:
        raise ValueError(f"{name} must have shape [S, A], got {list(q.shape)}")
    return _as_table(q, name, q.shape)


# ------------------------------------------------------------------------------------------------
# Solvers
# ------------------------------------------------------------------------------------------------


def _fixed_point(backup: Callable[[Array], Array], x0: Array, gamma: float) -> Array:
    """Iterate a gamma-contraction in sup-norm until its a-posteriori error bound is below _TOL.

    Stopping rule: ``|x_k - x*| <= gamma/(1 - gamma) |x_k - x_{k-1}|``, so we stop when
    ``gamma |x_k - x_{k-1}| <= (1 - gamma) _TOL max(1, |x_k|)``, or when the step is down to a few
    ulps of ``|x_k|`` (further iterations cannot improve a float64 answer). A backup whose steps
    do not shrink by ``gamma`` (up to round-off) is not a contraction and raises RuntimeError.
    """
    x, last_step, eps = x0, np.inf, np.finfo(float).eps
    for _ in range(_MAX_ITER):
        x_new = backup(x)
        step = float(np.max(np.abs(x_new - x)))
        scale = max(1.0, float(np.max(np.abs(x_new))))
        if not step <= gamma * last_step * (1.0 + 1e-6) + 64.0 * eps * scale:
            raise RuntimeError("the backup is not a gamma-contraction: the iteration diverges")
        if gamma * step <= (1.0 - gamma) * _TOL * scale or step <= 8.0 * eps * scale:
            return x_new
        x, last_step = x_new, step
    raise RuntimeError(f"fixed-point iteration did not converge in {_MAX_ITER} steps")


def _policy_transition(P: Array, pi: Array) -> Array:
    """``P_pi[(s, a), (s', a')] = p(s'|s, a) pi(a'|s')`` as an ``[S*A, S*A]`` matrix."""
    S, A, _ = P.shape
    return np.einsum("sat,tb->satb", P, pi).reshape(S * A, S * A)


def _solve_policy(P: Array, pi: Array, gamma: float, rhs: Array) -> Array:
    """Solve ``X = rhs + gamma P_pi X`` exactly, i.e. ``(I - gamma P_pi) X = rhs``."""
    S, A, _ = P.shape
    lhs = np.eye(S * A) - gamma * _policy_transition(P, pi)
    return np.linalg.solve(lhs, rhs.reshape(S * A)).reshape(S, A)


# ------------------------------------------------------------------------------------------------
# Soft RL on finite MDPs
# ------------------------------------------------------------------------------------------------


def _soft_value(q: Array, alpha: float) -> Array:
    m = q.max(axis=-1)
    return m + alpha * np.log(np.sum(np.exp((q - m[:, None]) / alpha), axis=-1))


def soft_value(Q: ArrayLike, alpha: float) -> Array:
    """Soft value ``V(s) = alpha logsumexp_a Q(s, a)/alpha`` (thesis eq. 3.6, finite actions).

    Args:
        Q: soft Q-table ``[S, A]``.
        alpha: temperature > 0.

    Returns:
        ``V``, shape ``[S]``.
    """
    return _soft_value(_as_q(Q, "Q"), _check_alpha(alpha))


def boltzmann(Q: ArrayLike, alpha: float) -> Array:
    """Boltzmann policy ``pi(a|s) = exp((Q(s, a) - V(s))/alpha)`` (thesis eq. 3.5).

    Args:
        Q: soft Q-table ``[S, A]``.
        alpha: temperature > 0.

    Returns:
        ``pi``, shape ``[S, A]``, rows summing to one.
    """
    q, alpha = _as_q(Q, "Q"), _check_alpha(alpha)
    z = np.exp((q - q.max(axis=-1, keepdims=True)) / alpha)
    return z / z.sum(axis=-1, keepdims=True)


def soft_q_iteration(P: ArrayLike, R: ArrayLike, gamma: float, alpha: float) -> Array:
    """Optimal soft Q by soft Bellman iteration ``Q <- R + gamma P V(Q)`` (thesis eq. 3.4/3.8).

    Starts from ``Q = 0`` and stops when the a-posteriori contraction bound guarantees
    ``max |Q - Q*| <= 1e-12 max(1, max |Q|)`` (or the step has reached float64 round-off).

    Args:
        P: transitions ``[S, A, S]``.
        R: rewards ``[S, A]``.
        gamma: discount in ``[0, 1)``.
        alpha: temperature > 0.

    Returns:
        ``Q*``, shape ``[S, A]``.

    Raises:
        ValueError: on bad shapes, a non-stochastic ``P``, ``gamma`` outside ``[0, 1)`` or ``alpha <= 0``.
    """
    p, gamma, alpha = _as_transitions(P), _check_gamma(gamma), _check_alpha(alpha)
    r = _as_table(R, "R", p.shape[:2])

    def backup(q: Array) -> Array:
        return r + gamma * p @ _soft_value(q, alpha)  # soft Bellman optimality backup

    return _fixed_point(backup, np.zeros_like(r), gamma)


def evaluate_policy(P: ArrayLike, R: ArrayLike, pi: ArrayLike, gamma: float, alpha: float) -> Array:
    """Exact soft policy evaluation by one linear solve (thesis eq. 4.2, the B.32 backup).

    Solves ``Q(s,a) = R(s,a) + gamma sum_s' P(s'|s,a) sum_a' pi(a'|s') [Q(s',a') - alpha log pi(a'|s')]``
    (written out: eq. B.32's backup with general ``alpha``), i.e. ``(I - gamma P_pi) Q = R + gamma alpha P H(pi)`` with ``H(pi)(s) = -sum_a pi log pi``
    (``0 log 0 = 0``, so deterministic policies are allowed).

    Args:
        P: transitions ``[S, A, S]``.
        R: rewards ``[S, A]``.
        pi: policy ``[S, A]``, rows summing to one.
        gamma: discount in ``[0, 1)``.
        alpha: temperature > 0.

    Returns:
        ``Q^pi``, shape ``[S, A]``.
    """
    p, gamma, alpha = _as_transitions(P), _check_gamma(gamma), _check_alpha(alpha)
    r = _as_table(R, "R", p.shape[:2])
    pol = _as_policy(pi, "pi", p.shape[:2])
    pi_log_pi = np.where(pol > 0.0, pol * np.log(np.where(pol > 0.0, pol, 1.0)), 0.0)
    entropy = -pi_log_pi.sum(axis=-1)
    return _solve_policy(p, pol, gamma, r + gamma * alpha * p @ entropy)


# ------------------------------------------------------------------------------------------------
# Renyi divergence and the composition bounds
# ------------------------------------------------------------------------------------------------


def renyi_half(pi1: ArrayLike, pi2: ArrayLike) -> Array:
    """Renyi divergence of order 1/2 per state, ``D_1/2 = -2 log sum_a sqrt(pi1 pi2)``.

    This is the normalisation of Lemma 5 (thesis eq. 6.4, proof eq. B.26): with it,
    ``V_Sigma = (V1 + V2)/2 - (alpha/2) D_1/2``. It is symmetric, twice the Bhattacharyya distance,
    zero iff ``pi1(.|s) = pi2(.|s)`` and ``+inf`` for disjoint supports. The Bhattacharyya
    coefficient is divided by ``sqrt(sum pi1 sum pi2)`` (1 up to round-off) and clipped at 1
    (Cauchy-Schwarz), so round-off never gives a negative value and ``D(p||p)`` is exactly 0.

    Args:
        pi1: policy ``[S, A]``.
        pi2: policy ``[S, A]``.

    Returns:
        ``D_1/2(pi1(.|s) || pi2(.|s))``, shape ``[S]``.
    """
    p = _as_q(pi1, "pi1")
    p, q = _as_policy(p, "pi1", p.shape), _as_policy(pi2, "pi2", p.shape)
    norm = np.sqrt(p.sum(axis=-1) * q.sum(axis=-1))  # 1 up to round-off; makes D(p||p) exactly 0
    bc = np.minimum(np.sum(np.sqrt(p * q), axis=-1) / norm, 1.0)  # Bhattacharyya coefficient
    with np.errstate(divide="ignore"):
        return -2.0 * np.log(bc)


def _finite_renyi(pi1: Array, pi2: Array) -> Array:
    d = renyi_half(pi1, pi2)
    if not np.all(np.isfinite(d)):
        bad = np.flatnonzero(~np.isfinite(d)).tolist()
        raise ValueError(f"pi1 and pi2 have disjoint supports at states {bad}: D_1/2 is infinite")
    return d


def c_star(P: ArrayLike, pi1: ArrayLike, pi2: ArrayLike, gamma: float, alpha: float) -> Array:
    """``C*`` of Lemma 5 (eq. B.28): fixed point of the recursion below, with max over ``a'``.

    ``C(s, a) = gamma E_{s'~P(.|s,a)}[(alpha/2) D_1/2(pi1(.|s') || pi2(.|s')) + max_a' C(s', a')]``.
    Gives ``Q_Sigma >= Q*_C >= Q_Sigma - C*`` when ``pi_i`` are the optimal Boltzmann policies.
    The factor ``alpha/2`` is what the proof derives (eq. B.26-B.28, with general ``alpha``);
    eq. 6.4 and B.25 print the recursion without the 1/2 (and with ``alpha = 1``), which is valid
    but twice as loose. Since ``C`` is linear in the divergence term, the looser constant is
    ``c_star(P, pi1, pi2, gamma, 2 * alpha)``. Solved by value iteration (same stopping rule as
    :func:`soft_q_iteration`). Normalised weights (1/2, 1/2) are assumed.

    Args:
        P: transitions ``[S, A, S]``.
        pi1: optimal policy of task 1 at temperature ``alpha``, ``[S, A]``.
        pi2: optimal policy of task 2 at temperature ``alpha``, ``[S, A]``.
        gamma: discount in ``[0, 1)``.
        alpha: temperature > 0.

    Returns:
        ``C*``, shape ``[S, A]``, non-negative.
    """
    p, gamma, alpha = _as_transitions(P), _check_gamma(gamma), _check_alpha(alpha)
    p1, p2 = _as_policy(pi1, "pi1", p.shape[:2]), _as_policy(pi2, "pi2", p.shape[:2])
    div = 0.5 * alpha * _finite_renyi(p1, p2)

    def backup(c: Array) -> Array:
        return gamma * p @ (div + c.max(axis=-1))  # eq. B.28

    return _fixed_point(backup, np.zeros(p.shape[:2]), gamma)


def d_star(P: ArrayLike, C: ArrayLike, pi_sigma: ArrayLike, gamma: float) -> Array:
    """``D*`` of Theorem 3 (eq. B.31, thesis eq. 6.6): fixed point of the recursion below.

    ``D(s, a) = gamma E_{s'~P(.|s,a)} E_{a'~pi_Sigma(.|s')}[C*(s', a') + D(s', a')]``.
    Gives ``Q^{pi_Sigma}_C >= Q*_C - D*``. Solved exactly: ``(I - gamma P_pi) D = gamma P_pi C*``.

    Args:
        P: transitions ``[S, A, S]``.
        C: ``C*`` from :func:`c_star`, ``[S, A]``.
        pi_sigma: composed policy ``boltzmann(Q_Sigma, alpha)``, ``[S, A]``.
        gamma: discount in ``[0, 1)``.

    Returns:
        ``D*``, shape ``[S, A]``.
    """
    p, gamma = _as_transitions(P), _check_gamma(gamma)
    c = _as_table(C, "C", p.shape[:2])
    pol = _as_policy(pi_sigma, "pi_sigma", p.shape[:2])
    return _solve_policy(p, pol, gamma, gamma * (_policy_transition(p, pol) @ c.reshape(-1)))


def d_exact(
    P: ArrayLike, pi1: ArrayLike, pi2: ArrayLike, pi_sigma: ArrayLike, gamma: float, alpha: float
) -> Array:
    """Exact regret term: ``D = gamma E_s'[(alpha/2) D_1/2(s') + E_{a'~pi_Sigma} D(s', a')]``.

    Beyond the thesis (originals.md §3): soft policy evaluation of ``pi_Sigma`` under ``r_C`` gives
    ``Q^{pi_Sigma}_C = Q_Sigma - D_exact`` exactly, when ``Q_i`` are the optimal soft Q's at
    temperature ``alpha``, ``pi_i = boltzmann(Q_i)`` and ``pi_Sigma = boltzmann((Q1 + Q2)/2)``,
    which is the normalised geometric mean ``sqrt(pi1 pi2)``. Derivation: substitute
    ``Q^pi = Q_Sigma - D`` in the B.32 backup and use ``V_Sigma = (V1 + V2)/2 - (alpha/2) D_1/2``.
    Solved exactly: ``(I - gamma P_pi) D = gamma P (alpha/2) D_1/2``.

    Args:
        P: transitions ``[S, A, S]``.
        pi1: optimal policy of task 1, ``[S, A]``.
        pi2: optimal policy of task 2, ``[S, A]``.
        pi_sigma: composed policy, ``[S, A]``.
        gamma: discount in ``[0, 1)``.
        alpha: temperature > 0.

    Returns:
        ``D_exact``, shape ``[S, A]``.
    """
    p, gamma, alpha = _as_transitions(P), _check_gamma(gamma), _check_alpha(alpha)
    p1, p2 = _as_policy(pi1, "pi1", p.shape[:2]), _as_policy(pi2, "pi2", p.shape[:2])
    pol = _as_policy(pi_sigma, "pi_sigma", p.shape[:2])
    div = 0.5 * alpha * _finite_renyi(p1, p2)
    return _solve_policy(p, pol, gamma, gamma * p @ div)


def residual_bounds(
    P: ArrayLike, R: ArrayLike, Q: ArrayLike, gamma: float, alpha: float
) -> tuple[Array, Array]:
    """Double-sided bounds on ``Q*`` from any estimate (Adamczyk et al., RLC 2024).

    With the soft Bellman residual ``delta = R + gamma P V(Q) - Q``,
    ``Q + min(delta)/(1 - gamma) <= Q* <= Q + max(delta)/(1 - gamma)`` everywhere, because the
    soft backup is monotone and shifts constants by ``gamma``. Applied to ``Q_Sigma`` with ``r_C``
    it brackets ``Q*_C`` from the composed Q alone. Here min/max run over all ``(s, a)``, so the
    bounds are certificates; over a replay sample they would only be estimates.

    Args:
        P: transitions ``[S, A, S]``.
        R: rewards ``[S, A]``.
        Q: any estimate ``[S, A]``.
        gamma: discount in ``[0, 1)``.
        alpha: temperature > 0.

    Returns:
        ``(lower, upper)``, each ``[S, A]``.
    """
    p, gamma, alpha = _as_transitions(P), _check_gamma(gamma), _check_alpha(alpha)
    r, q = _as_table(R, "R", p.shape[:2]), _as_table(Q, "Q", p.shape[:2])
    delta = r + gamma * p @ soft_value(q, alpha) - q
    return q + delta.min() / (1.0 - gamma), q + delta.max() / (1.0 - gamma)


# ------------------------------------------------------------------------------------------------
# Composition helpers
# ------------------------------------------------------------------------------------------------


def compose(
    Q1: ArrayLike, Q2: ArrayLike, weights: Sequence[float] = (0.5, 0.5), alpha: float = 1.0
) -> tuple[Array, float]:
    """Normalised form of a weighted sum of soft Q's (thesis eq. 6.2; originals.md §2.5).

    ``w1 Q1 + w2 Q2`` at temperature ``alpha`` and the mean
    ``Q_Sigma = (w1 Q1 + w2 Q2)/(w1 + w2)`` at temperature ``alpha/(w1 + w2)`` give the same
    Boltzmann policy. The original code's ``SumQFunction`` (weights 1, 1 at ``alpha``) is thus the
    mean at ``alpha/2``. The bounds of this module hold for the mean with weights (1/2, 1/2) at
    the *constituents'* temperature: if ``Q_i`` were trained at ``alpha``, compose with
    weights (1, 1) at ``2 alpha`` or (1/2, 1/2) at ``alpha``.

    Args:
        Q1: soft Q-table of task 1, ``[S, A]``.
        Q2: soft Q-table of task 2, same shape.
        weights: non-negative ``(w1, w2)`` with a positive sum.
        alpha: temperature of the weighted sum, > 0.

    Returns:
        ``(Q_Sigma, alpha_eff)``: the normalised mean and its temperature ``alpha/(w1 + w2)``.
    """
    q1 = _as_q(Q1, "Q1")
    q2 = _as_table(Q2, "Q2", q1.shape)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (2,) or not np.all(np.isfinite(w)) or np.any(w < 0.0) or w.sum() <= 0.0:
        raise ValueError(f"weights must be two non-negative numbers with a positive sum, got {weights}")
    alpha = _check_alpha(alpha)
    total = float(w.sum())
    return (w[0] * q1 + w[1] * q2) / total, alpha / total


@dataclass(frozen=True)
class CompositionBounds:
    """All exact composition quantities for two optimal constituents (thesis §6.2, B.4).

    Attributes:
        q_sigma: ``Q_Sigma = (Q1 + Q2)/2``.
        pi_sigma: ``boltzmann(Q_Sigma, alpha)``.
        renyi: ``D_1/2(pi1||pi2)`` per state.
        c_star: Lemma 5, ``Q_Sigma - C* <= Q*_C <= Q_Sigma``.
        d_star: Theorem 3, ``Q^{pi_Sigma}_C >= Q*_C - D*``.
        d_exact: ``Q^{pi_Sigma}_C = Q_Sigma - D_exact``.
    """

    q_sigma: Array
    pi_sigma: Array
    renyi: Array
    c_star: Array
    d_star: Array
    d_exact: Array

    @property
    def regret_lower(self) -> Array:
        """``max(0, D_exact - C*)`` <= ``Q*_C - Q^{pi_Sigma}`` (Lemma 5 + exact identity)."""
        return np.maximum(0.0, self.d_exact - self.c_star)

    @property
    def regret_upper(self) -> Array:
        """``min(D*, D_exact)`` >= ``Q*_C - Q^{pi_Sigma}`` (Theorem 3 and Lemma 5's upper bound)."""
        return np.minimum(self.d_star, self.d_exact)


def composition_bounds(
    P: ArrayLike, Q1: ArrayLike, Q2: ArrayLike, gamma: float, alpha: float
) -> CompositionBounds:
    """``Q_Sigma``, ``pi_Sigma``, ``D_1/2``, ``C*``, ``D*``, ``D_exact`` from ``Q1, Q2`` alone (thesis §6.2).

    ``Q1, Q2`` must be the optimal soft Q's of their rewards on ``P`` at temperature ``alpha``
    for the bounds to be certificates; the composition is the mean (weights 1/2, 1/2).

    Args:
        P: transitions ``[S, A, S]``.
        Q1: optimal soft Q of task 1, ``[S, A]``.
        Q2: optimal soft Q of task 2, ``[S, A]``.
        gamma: discount in ``[0, 1)``.
        alpha: temperature > 0.

    Returns:
        A :class:`CompositionBounds`.
    """
    p = _as_transitions(P)
    q1, q2 = _as_table(Q1, "Q1", p.shape[:2]), _as_table(Q2, "Q2", p.shape[:2])
    pi1, pi2 = boltzmann(q1, alpha), boltzmann(q2, alpha)
    q_sigma, _ = compose(q1, q2, (0.5, 0.5), alpha)
    pi_sigma = boltzmann(q_sigma, alpha)
    c = c_star(p, pi1, pi2, gamma, alpha)
    return CompositionBounds(
        q_sigma=q_sigma,
        pi_sigma=pi_sigma,
        renyi=renyi_half(pi1, pi2),
        c_star=c,
        d_star=d_star(p, c, pi_sigma, gamma),
        d_exact=d_exact(p, pi1, pi2, pi_sigma, gamma, alpha),
    )


def regret_bracket(
    P: ArrayLike, Q1: ArrayLike, Q2: ArrayLike, gamma: float, alpha: float
) -> tuple[Array, Array]:
    """``max(0, D_exact - C*) <= Q*_C - Q^{pi_Sigma}_C <= min(D*, D_exact)`` (originals.md §3).

    Lower: ``regret = Q*_C - Q_Sigma + D_exact >= D_exact - C*`` by Lemma 5, and ``regret >= 0``
    by optimality. Upper: ``Q*_C <= Q_Sigma`` (Lemma 5) gives ``D_exact``; Theorem 3 gives ``D*``.
    Neither ``D*`` nor ``D_exact`` dominates the other.

    Args:
        P: transitions ``[S, A, S]``.
        Q1: optimal soft Q of task 1, ``[S, A]``.
        Q2: optimal soft Q of task 2, ``[S, A]``.
        gamma: discount in ``[0, 1)``.
        alpha: temperature > 0.

    Returns:
        ``(lower, upper)``, each ``[S, A]``.
    """
    b = composition_bounds(P, Q1, Q2, gamma, alpha)
    return b.regret_lower, b.regret_upper
