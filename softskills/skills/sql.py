"""Soft Q-learning losses as pure functions (thesis ch. 3; haarnoja/softqlearning's ``SQL``).

Every tensor carries a leading skill dimension K and every loss returns one value per skill,
shape ``(K,)``; summing over skills before the backward pass gives every skill its own
gradient because skills share no parameters.

**Where SVGD runs (softlearning issue #143, ``SQLConfig.svgd_space``).** The sampler draws
``a = tanh(u)``, ``u = MLP([s, xi])``, and SVGD should move its particles towards the
energy-based policy ``pi(a|s) ∝ exp(Q(s, a)/alpha)`` on the box ``[-1, 1]^|A|`` (thesis eq. 3.4).

- ``"pre_tanh"`` (the default): the particles are the pre-tanh ``u``, whose target density is
  ``exp(Q(s, tanh u)/alpha) * prod_j (1 - tanh(u_j)^2)`` (the change of variables ``a = tanh u``),
  so ``grad_u log p = (grad_a Q / alpha) * (1 - a^2) - 2 a``. This samples exactly
  ``exp(Q/alpha)`` on the box, and the ``-2a`` term keeps the particles out of tanh's flat tails.
  The kernel compares the ``u``.
- ``"original"``: the particles are the squashed ``a`` and ``log p = Q/alpha + sum log(1 - a^2 + 1e-6)``,
  as the original code did: it added the tanh log-Jacobian to the density of the *squashed*
  actions, so its target is ``exp(Q/alpha) * prod(1 - a^2)``, narrower than the soft policy.
- ``"squashed"``: the particles are the squashed ``a`` with ``log p = Q/alpha`` and no term
  (this package's behaviour until 2026-11-26). The target is right, but SVGD on a box is
  ill-posed: nothing pulls a particle back from the boundary, the kernel's repulsion pushes the
  outer ones out, and once ``tanh`` saturates the gradient through it vanishes. On the pusher
  at alpha = 1 a quarter of the action components ended beyond 0.99 and training barely
  progressed in 100k steps (docs/pusher.md, "Pusher, SQL at 20% of the budget").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "SQLConfig",
    "soft_value_uniform_is",
    "soft_td_target",
    "td_loss",
    "rbf_kernel",
    "svgd_score",
    "svgd_direction",
    "svgd_surrogate",
    "svgd_loss",
]

_LOG2 = math.log(2.0)
_ORIGINAL_EPS = 1e-6  # softqlearning's EPS inside log(1 - a^2 + EPS)
SVGDSpace = Literal["pre_tanh", "original", "squashed"]


@dataclass(frozen=True)
class SQLConfig:
    """Hyperparameters of the SQL update (defaults: softqlearning's MuJoCo examples)."""

    gamma: float = 0.99
    """Discount factor."""
    alpha: float = 1.0
    """Explicit temperature: the policy is ``exp(Q/alpha)``. The original fixed ``alpha = 1`` and
    folded the temperature into ``reward_scale`` (softqlearning issue #5); only the ratio
    ``reward_scale/alpha`` matters, up to the scale of ``Q``."""
    reward_scale: float = 1.0
    """Multiplies rewards in the TD target (the original's temperature knob)."""
    value_particles: int = 16
    """Uniform action samples per next state for the soft value (eq. 3.8)."""
    kernel_particles: int = 16
    """Sampler particles per state for amortised SVGD (32 in the MultiGoal example)."""
    kernel_update_ratio: float = 0.5
    """Fraction of the SVGD particles that are *updated* (index i); the rest are the *fixed*
    particles (index j) that define the empirical SVGD direction (thesis appendix C.1)."""
    target_update: Literal["hard", "polyak"] = "hard"
    """``hard``: copy the critic into the target every ``target_interval`` updates (the original);
    ``polyak``: ``target <- (1 - tau) target + tau online`` every update (softlearning's SQL)."""
    target_interval: int = 1000
    """Updates between hard target copies (softqlearning examples: 1000; class default 1)."""
    tau: float = 5e-3
    """Polyak rate, used only with ``target_update="polyak"``."""
    q_lr: float = 3e-4
    """Adam learning rate of the twin critics."""
    policy_lr: float = 3e-4
    """Adam learning rate of the sampling network."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the critics and of the sampling network. (256, 256) as the SAC core;
    softqlearning's MuJoCo examples used (128, 128)."""
    svgd_space: SVGDSpace = "pre_tanh"
    """Where the SVGD particles live and which density they target (module docstring):
    ``pre_tanh`` samples ``exp(Q/alpha)`` on the action box exactly; ``original`` is
    softqlearning's ``exp(Q/alpha) prod(1 - a^2)``; ``squashed`` is this package's earlier,
    ill-posed variant (kept so that old checkpoints resume as they were trained)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {self.gamma}")
        if self.alpha <= 0.0:
            raise ValueError(f"alpha must be positive, got {self.alpha}")
        if self.reward_scale <= 0.0:
            raise ValueError(f"reward_scale must be positive, got {self.reward_scale}")
        if self.value_particles < 1:
            raise ValueError(f"value_particles must be >= 1, got {self.value_particles}")
        if not 0.0 < self.kernel_update_ratio < 1.0:
            raise ValueError(f"kernel_update_ratio must lie in (0, 1), got {self.kernel_update_ratio}")
        n_upd, n_fix = self.n_updated, self.n_fixed
        if n_upd < 1 or n_fix < 2:
            raise ValueError(
                f"kernel_particles={self.kernel_particles} with ratio {self.kernel_update_ratio} gives "
                f"{n_upd} updated and {n_fix} fixed particles; need >= 1 updated and >= 2 fixed "
                "(the median heuristic divides by log(n_fixed))"
            )
        if self.target_update not in ("hard", "polyak"):
            raise ValueError(f"target_update must be 'hard' or 'polyak', got {self.target_update!r}")
        if self.target_interval < 1:
            raise ValueError(f"target_interval must be >= 1, got {self.target_interval}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must lie in (0, 1], got {self.tau}")
        for name in ("q_lr", "policy_lr"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if len(self.hidden) == 0 or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be non-empty positive widths, got {self.hidden}")
        if self.svgd_space not in ("pre_tanh", "original", "squashed"):
            raise ValueError(f"svgd_space must be 'pre_tanh', 'original' or 'squashed', got {self.svgd_space!r}")

    @property
    def n_updated(self) -> int:
        """Number of updated SVGD particles, ``int(kernel_particles * kernel_update_ratio)``."""
        return int(self.kernel_particles * self.kernel_update_ratio)

    @property
    def n_fixed(self) -> int:
        """Number of fixed SVGD particles, ``kernel_particles - n_updated``."""
        return self.kernel_particles - self.n_updated


def soft_value_uniform_is(q_values: Tensor, alpha: float | Tensor, act_dim: int) -> Tensor:
    """Soft value by uniform importance sampling (thesis eq. 3.8, softqlearning's "Equation 10").

    ``V(s) = alpha * [logsumexp_j Q(s, a_j)/alpha - log M + |A| log 2]`` with ``a_j ~ U[-1, 1]^|A|``:
    the estimate of ``alpha log int exp(Q(s, a)/alpha) da`` over the action box, whose uniform
    density ``2^-|A|`` is the importance weight. The log of a mean is biased low for finite ``M``
    (Jensen); uniform sampling also scales poorly with ``|A|`` (softqlearning issue #8).

    Args:
        q_values: ``Q(s, a_j)`` at M uniform actions, ``(K, B, M)``.
        alpha: temperature, a float or a per-skill tensor ``(K, 1)`` (broadcast against ``(K, B)``).
        act_dim: ``|A|``.

    Returns:
        ``V(s)``, shape ``(K, B)``.
    """
    m = q_values.shape[-1]
    inner = alpha.unsqueeze(-1) if isinstance(alpha, Tensor) else alpha
    return alpha * (torch.logsumexp(q_values / inner, dim=-1) - math.log(m) + act_dim * _LOG2)


def soft_td_target(
    rew: Tensor, terminated: Tensor, next_v: Tensor, gamma: float, reward_scale: float
) -> Tensor:
    """``y = c r + gamma (1 - d) V(s')`` (thesis eq. 3.9); only termination stops the bootstrap.

    Args:
        rew, terminated, next_v: ``(K, B)``.

    Returns:
        ``(K, B)``.
    """
    return reward_scale * rew + gamma * (1.0 - terminated) * next_v


def td_loss(q: Tensor, target: Tensor) -> Tensor:
    """``J_Q = 0.5 E[(Q_j(s, a) - y)^2]`` summed over the twins (thesis eq. 3.9).

    Args:
        q: both twins, ``(K, 2, B)`` (or a single critic ``(K, B)``).
        target: ``y``, ``(K, B)`` (no gradient).

    Returns:
        ``(K,)``.
    """
    if q.dim() == target.dim():
        return 0.5 * (q - target).pow(2).mean(-1)
    return 0.5 * (q - target.unsqueeze(1)).pow(2).mean(-1).sum(-1)


def rbf_kernel(xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
    """Adaptive isotropic Gaussian kernel of softqlearning's ``misc/kernel.py`` (thesis app. C.1).

    ``k(x, y) = exp(-||x - y||^2 / h)`` with the median heuristic
    ``h = median_{j,i} ||x_j - y_i||^2 / log(Kx)``, clamped to ``h >= 1e-3`` and held constant
    (stop-gradient). The median over the ``Kx * Ky`` distances is the lower median, i.e. the
    original's ``top_k(k = Kx Ky // 2 + 1)`` element. (The thesis writes ``d / (2 log(M + 1))``;
    we follow the code.)

    Args:
        xs: ``(..., Kx, D)`` (the fixed particles ``a_j``).
        ys: ``(..., Ky, D)`` (the updated particles ``a_i``).

    Returns:
        ``kappa`` of shape ``(..., Kx, Ky)`` and its gradient with respect to ``xs``,
        ``-2 (x_j - y_i) / h * kappa``, of shape ``(..., Kx, Ky, D)``.
    """
    kx = xs.shape[-2]
    diff = xs.unsqueeze(-2) - ys.unsqueeze(-3)  # (..., Kx, Ky, D)
    dist_sq = diff.pow(2).sum(-1)  # (..., Kx, Ky)
    with torch.no_grad():
        median = dist_sq.flatten(-2).median(dim=-1).values  # lower median, (...)
        h = (median / math.log(kx)).clamp_min(1e-3)
        h = h.unsqueeze(-1).unsqueeze(-1)  # (..., 1, 1)
    kappa = torch.exp(-dist_sq / h)
    grad = -2.0 * diff / h.unsqueeze(-1) * kappa.unsqueeze(-1)
    return kappa, grad


def svgd_score(grad_log_q: Tensor, actions: Tensor, space: SVGDSpace) -> Tensor:
    """``grad log p`` of SVGD's target at the fixed particles, in the particles' own space.

    With ``log q = Q/alpha`` over squashed actions ``a = tanh(u)`` (module docstring):

    - ``pre_tanh``: ``grad_u [log q(tanh u) + sum log(1 - tanh(u)^2)] = grad_a log q * (1 - a^2) - 2 a``;
    - ``original``: ``grad_a [log q(a) + sum log(1 - a^2 + eps)] = grad_a log q - 2 a / (1 - a^2 + eps)``;
    - ``squashed``: ``grad_a log q``.

    Args:
        grad_log_q: ``grad_a Q(s, a) / alpha`` at the fixed particles' actions, ``(..., D)``.
        actions: those actions ``a = tanh(u)``, ``(..., D)``.
        space: ``SQLConfig.svgd_space``.

    Returns:
        ``(..., D)``, the score in ``u`` for ``pre_tanh`` and in ``a`` otherwise.
    """
    if space == "pre_tanh":
        return grad_log_q * (1.0 - actions.pow(2)) - 2.0 * actions
    if space == "original":
        return grad_log_q - 2.0 * actions / (1.0 - actions.pow(2) + _ORIGINAL_EPS)
    return grad_log_q


def svgd_direction(fixed: Tensor, grad_log_p: Tensor, updated: Tensor) -> Tensor:
    """Empirical Stein variational direction (thesis eq. 3.11 and appendix C.1).

    ``Delta a_i = mean_j [k(a_j, a_i) grad log p(a_j) + grad_{a_j} k(a_j, a_i)]``. With
    ``log p = Q/alpha`` this is eq. 3.11 divided by ``alpha`` (same direction).

    Args:
        fixed: fixed particles ``a_j``, ``(..., Kx, D)`` (no gradient).
        grad_log_p: ``grad log p(a_j)``, ``(..., Kx, D)``.
        updated: updated particles ``a_i``, ``(..., Ky, D)`` (only their values are used).

    Returns:
        ``Delta a_i``, ``(..., Ky, D)``, without gradient.
    """
    kappa, grad_kappa = rbf_kernel(fixed.detach(), updated.detach())
    drive = kappa.unsqueeze(-1) * grad_log_p.detach().unsqueeze(-2)  # (..., Kx, Ky, D)
    return (drive + grad_kappa).mean(dim=-3)


def svgd_surrogate(updated: Tensor, direction: Tensor) -> Tensor:
    """The amortised-SVGD surrogate loss whose gradient is ``-E[Delta a . da/dphi]`` (eq. 3.12).

    softqlearning backpropagates ``Delta a`` into the sampler with ``grad_ys`` and *sums* over the
    batch and the particles; we average over both (Adam is nearly scale-invariant). The loss value
    itself carries no meaning; only its gradient does.

    Args:
        updated: updated particles ``a_i = f_phi(xi_i; s)`` with gradient, ``(K, B, Ky, D)``.
        direction: ``Delta a_i`` (treated as a constant), ``(K, B, Ky, D)``.

    Returns:
        ``(K,)``.
    """
    return -(direction.detach() * updated).sum(-1).mean(dim=(-1, -2))


def svgd_loss(
    pre_tanh: Tensor,
    q_fn: Callable[[Tensor], Tensor],
    alpha: float | Tensor,
    n_fixed: int,
    space: SVGDSpace,
) -> Tensor:
    """Amortised SVGD of the sampler towards ``exp(Q/alpha)`` (thesis eq. 3.11-3.12), per skill.

    The first ``n_fixed`` particles define the empirical Stein direction (index j), the rest
    are updated (index i). ``space`` picks the particles (``u`` or ``a = tanh u``) and the score
    (:func:`svgd_score`); the kernel compares the particles of that space.

    Args:
        pre_tanh: the sampler's particles ``u = MLP([s, xi])`` with gradient, ``(K, B, M, D)``.
        q_fn: ``Q(s, a)`` at squashed actions ``(K, B, n_fixed, D)`` -> ``(K, B, n_fixed)``; its
            parameters should be detached (only the sampler learns from this loss).
        alpha: the temperature, broadcastable against ``(K, B, n_fixed, D)``.
        n_fixed: fixed particles.
        space: ``SQLConfig.svgd_space``.

    Returns:
        The surrogate :func:`svgd_surrogate`, ``(K,)``.
    """
    actions = torch.tanh(pre_tanh)
    particles = pre_tanh if space == "pre_tanh" else actions
    fixed, updated = particles.split([n_fixed, particles.shape[2] - n_fixed], dim=2)
    with torch.enable_grad():
        fixed_a = actions[:, :, :n_fixed].detach().requires_grad_(True)
        (grad_q,) = torch.autograd.grad(q_fn(fixed_a).float().sum(), fixed_a)
    score = svgd_score(grad_q.float() / alpha, fixed_a.detach().float(), space)
    direction = svgd_direction(fixed.detach().float(), score, updated.float())
    return svgd_surrogate(updated.float(), direction)
