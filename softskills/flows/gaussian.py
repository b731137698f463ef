"""The tanh-Gaussian policy of SAC (thesis §5.2), stacked over K skills."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from softskills.flows.tanh import atanh_clamped, tanh_log_det
from softskills.nn import StackedMLP, full_precision, init_generators

__all__ = ["GaussianPolicy"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianPolicy(nn.Module):
    """``a = tanh(mu(s) + sigma(s) * eps)``, ``eps ~ N(0, I)``, for K skills at once.

    Args:
        num_skills: K.
        obs_dim: observation width.
        act_dim: action width.
        hidden: hidden widths of the trunk (default 256, 256).
        squash: apply tanh (actions in ``[-1, 1]``); off for a layer whose actions are a
            lower layer's unbounded latent.
        log_std_bounds: clamp of ``log sigma`` (softlearning uses (-20, 2)).
        seeds: per-skill initialisation seeds, or ``None`` for the global RNG.
    """

    def __init__(
        self,
        num_skills: int,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (256, 256),
        squash: bool = True,
        log_std_bounds: tuple[float, float] = (-20.0, 2.0),
        seeds: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.num_skills, self.obs_dim, self.act_dim = num_skills, obs_dim, act_dim
        self.squash = squash
        self.log_std_min, self.log_std_max = log_std_bounds
        gens = init_generators(seeds) if seeds is not None else None
        self.net = StackedMLP(num_skills, obs_dim, hidden, 2 * act_dim, "relu", gens)

    def _mean_log_std(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        # The trunk may run in bf16 under autocast; everything after it is fp32, so the
        # log-probability and the tanh correction are computed in fp32.
        mean, log_std = full_precision(self.net(obs)).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def sample(self, obs: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reparameterised ``(a, log pi(a|s))``; shapes ``(K, B, A)`` and ``(K, B)``."""
        mean, log_std = self._mean_log_std(obs)
        eps = torch.randn_like(mean) if noise is None else noise.to(mean.dtype)
        u = mean + log_std.exp() * eps
        # log N(u; mu, sigma) = -0.5 eps^2 - log sigma - 0.5 log 2 pi, summed over dims
        log_prob = (-0.5 * eps.pow(2) - log_std - _HALF_LOG_2PI).sum(-1)
        if not self.squash:
            return u, log_prob
        return torch.tanh(u), log_prob - tanh_log_det(u)

    def action(self, obs: Tensor) -> Tensor:
        """A sample ``a = tanh(mu(s) + sigma(s) eps)`` without its log-density (the acting path).

        Draws ``eps`` exactly as :meth:`sample` does, so ``action(obs)`` equals
        ``sample(obs)[0]`` for the same RNG state, at a third fewer ops.
        """
        mean, log_std = self._mean_log_std(obs)
        u = mean + log_std.exp() * torch.randn_like(mean)
        return torch.tanh(u) if self.squash else u

    def log_prob(self, obs: Tensor, act: Tensor) -> Tensor:
        """``log pi(act|obs)``; squashed actions are mapped back with a clamped ``atanh``."""
        mean, log_std = self._mean_log_std(obs)
        u = atanh_clamped(act) if self.squash else act
        eps = (u - mean) * torch.exp(-log_std)
        log_prob = (-0.5 * eps.pow(2) - log_std - _HALF_LOG_2PI).sum(-1)
        return log_prob - tanh_log_det(u) if self.squash else log_prob

    def deterministic(self, obs: Tensor) -> Tensor:
        """The mean action ``tanh(mu(s))`` (or ``mu(s)`` unsquashed)."""
        mean, _ = self._mean_log_std(obs)
        return torch.tanh(mean) if self.squash else mean
