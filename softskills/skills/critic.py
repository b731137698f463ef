"""Twin soft Q-functions for K skills, stacked as ``2K`` MLPs (thesis §5.2, clipped double Q)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from softskills.nn import StackedMLP, init_generators

__all__ = ["TwinQ"]


class TwinQ(nn.Module):
    """``Q_1, Q_2`` for each of K skills: one stacked MLP of ``2K`` members.

    Member ``2k + j`` is twin ``j`` of skill ``k``. ``forward`` returns ``(K, 2, B)``.

    Args:
        num_skills: K.
        obs_dim: observation width.
        act_dim: action width.
        hidden: hidden widths (default 256, 256).
        seeds: per-skill initialisation seeds (length K), or ``None`` for the global RNG.
    """

    def __init__(
        self,
        num_skills: int,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (256, 256),
        seeds: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.num_skills, self.obs_dim, self.act_dim = num_skills, obs_dim, act_dim
        gens = None
        if seeds is not None:
            # Twin j of skill k is drawn from skill k's generator, so skill slices are seed-exact.
            per_skill = init_generators([s + 7919 for s in seeds])
            gens = [g for g in per_skill for _ in range(2)]
        self.net = StackedMLP(2 * num_skills, obs_dim + act_dim, hidden, 1, "relu", gens)

    def forward(self, obs: Tensor, act: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """``Q_j(s, a)`` for both twins: obs ``(K, B, ds)``, act ``(K, B, da)`` -> ``(K, 2, B)``."""
        k, b = obs.shape[0], obs.shape[1]
        x = torch.cat([obs, act], dim=-1)
        x = x.unsqueeze(1).expand(k, 2, b, x.shape[-1]).reshape(2 * k, b, x.shape[-1])
        return self.net(x, params).view(k, 2, b)
