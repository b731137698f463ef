"""Typed containers shared by the losses, the buffer and the policies."""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from torch import Tensor

__all__ = ["Batch", "Policy"]


class Batch(NamedTuple):
    """A replay batch for K skills. Every field has leading shape ``(K, B)``.

    Attributes:
        obs: observations ``s``, ``(K, B, obs_dim)``.
        act: actions ``a`` in the policy's space (``[-1, 1]`` for squashed policies), ``(K, B, act_dim)``.
        rew: rewards ``r``, ``(K, B)``.
        next_obs: the true next observations ``s'`` (the final observation at truncation), ``(K, B, obs_dim)``.
        terminated: 1.0 where ``s'`` is terminal (no bootstrap), else 0.0, ``(K, B)``.
            Truncation is *not* termination: truncated steps bootstrap.
    """

    obs: Tensor
    act: Tensor
    rew: Tensor
    next_obs: Tensor
    terminated: Tensor


@runtime_checkable
class Policy(Protocol):
    """What the SAC loss needs from a policy, and nothing else.

    All methods take observations of shape ``(K, B, obs_dim)`` and return actions of shape
    ``(K, B, act_dim)`` and log-densities of shape ``(K, B)``.
    """

    num_skills: int
    obs_dim: int
    act_dim: int

    def sample(self, obs: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reparameterised sample ``a = f(noise; s)`` with ``log pi(a|s)``.

        ``noise`` is the base sample (``(K, B, act_dim)``, standard normal); drawn if ``None``.
        """
        ...

    def log_prob(self, obs: Tensor, act: Tensor) -> Tensor:
        """``log pi(act|obs)`` of given actions."""
        ...

    def deterministic(self, obs: Tensor) -> Tensor:
        """The deterministic (evaluation) action."""
        ...
