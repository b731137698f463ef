"""Soft actor-critic losses as pure functions (thesis ch. 4-5; softlearning's SAC).

Every loss returns one value per skill, shape ``(K,)``. Summing over skills before the
backward pass gives every skill its own gradient, because skills share no parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "SACConfig",
    "action_log_prior",
    "soft_q_target",
    "critic_loss",
    "actor_loss",
    "alpha_loss",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class SACConfig:
    """Hyperparameters of the SAC update."""

    gamma: float = 0.99
    """Discount factor."""
    tau: float = 5e-3
    """Polyak rate of the twin target critics: ``target <- (1 - tau) target + tau online``."""
    q_lr: float = 3e-4
    """Adam learning rate of the twin critics."""
    policy_lr: float = 3e-4
    """Adam learning rate of the policy."""
    alpha_lr: float = 3e-4
    """Adam learning rate of ``log alpha``."""
    init_alpha: float = 1.0
    """Initial temperature."""
    auto_alpha: bool = True
    """Tune the temperature towards ``target_entropy`` (thesis eq. 5.20)."""
    target_entropy: float | None = None
    """Entropy target; ``None`` means ``-|A|``."""
    reward_scale: float = 1.0
    """Multiplies rewards in the critic target."""
    action_prior: Literal["uniform", "normal", "none"] = "uniform"
    """``uniform`` (log prior 0) or ``normal`` (``log N(a; 0, I)``) for a layer whose actions
    are a lower layer's Gaussian latent (Haarnoja et al. 2018, latent-space hierarchies).
    ``none`` also adds no prior term, for a latent-space layer too: an ablation of ``normal``
    that keeps only the policy's own entropy (an improper flat prior on the unbounded latent)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the critics and of the Gaussian policy's trunk."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must lie in (0, 1], got {self.tau}")
        if self.init_alpha <= 0.0:
            raise ValueError(f"init_alpha must be positive, got {self.init_alpha}")
        for name in ("q_lr", "policy_lr", "alpha_lr"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.action_prior not in ("uniform", "normal", "none"):
            raise ValueError(f"action_prior must be 'uniform', 'normal' or 'none', got {self.action_prior!r}")


def action_log_prior(act: Tensor, kind: str) -> Tensor:
    """``log p(a)`` of the action prior: 0 for ``uniform`` (constant dropped) and ``none``, ``log N(a; 0, I)`` for
    ``normal``."""
    if kind in ("uniform", "none"):
        return torch.zeros(act.shape[:-1], dtype=act.dtype, device=act.device)
    return (-0.5 * act.pow(2) - _HALF_LOG_2PI).sum(-1)


def soft_q_target(
    rew: Tensor,
    terminated: Tensor,
    next_q_target: Tensor,
    next_log_pi: Tensor,
    next_log_prior: Tensor | None,
    alpha: Tensor,
    gamma: float,
    reward_scale: float,
) -> Tensor:
    """Soft Bellman target (thesis eq. 5.3 with clipped double Q, softlearning's SAC).

    ``y = c r + gamma (1 - d) [min_j Qbar_j(s', a') - alpha (log pi(a'|s') - log p(a'))]``,
    ``a' ~ pi(.|s')``. Only ``terminated`` stops the bootstrap; truncation does not.

    Args:
        rew: ``(K, B)``. terminated: ``(K, B)`` in {0, 1}.
        next_q_target: target twins at ``(s', a')``, ``(K, 2, B)``.
        next_log_pi: ``(K, B)``. next_log_prior: ``(K, B)``, or ``None`` for the uniform prior
            (``log p = 0``: the subtraction is skipped, which changes no bit).
        alpha: temperature per skill, ``(K, 1)``.
    """
    entropy_term = next_log_pi if next_log_prior is None else next_log_pi - next_log_prior
    next_v = next_q_target.min(dim=1).values - alpha * entropy_term
    return reward_scale * rew + gamma * (1.0 - terminated) * next_v


def critic_loss(q: Tensor, target: Tensor) -> Tensor:
    """``J_Q = 0.5 E[(Q_j(s,a) - y)^2]`` summed over the twins (thesis eq. 5.5); ``(K,)``."""
    return 0.5 * (q - target.unsqueeze(1)).pow(2).mean(-1).sum(-1)


def actor_loss(log_pi: Tensor, log_prior: Tensor | None, q_pi: Tensor, alpha: Tensor) -> Tensor:
    """``J_pi = E[alpha (log pi(a|s) - log p(a)) - min_j Q_j(s, a)]``, ``a = f(eps; s)`` (thesis eq. 5.9).

    We take the *minimum* of the twins, as the SAC paper does; haarnoja/sac used ``Q1`` alone
    (its issue #14) and softlearning uses the mean. ``q_pi`` must come from detached critic parameters so that
    the actor step computes no critic weight gradients. ``log_prior=None`` is the uniform
    prior (``log p = 0``; the subtraction is skipped, which changes no bit). Returns ``(K,)``.
    """
    entropy_term = log_pi if log_prior is None else log_pi - log_prior
    return (alpha * entropy_term - q_pi.min(dim=1).values).mean(-1)


def alpha_loss(log_alpha: Tensor, log_pi: Tensor, target_entropy: float) -> Tensor:
    """``J(alpha) = E[alpha * sg(-log pi(a|s) - H_target)]`` (thesis eq. 5.20), ``(K,)``.

    The loss multiplies ``alpha`` itself, not ``log alpha``, by the stopped-gradient entropy
    gap, as softlearning settled on (softlearning issues #17 and #37).
    """
    return (log_alpha.exp() * (-log_pi.detach() - target_entropy)).mean(-1)
