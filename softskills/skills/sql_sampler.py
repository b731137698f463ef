"""The amortised SVGD sampling network of soft Q-learning (thesis §3.3), stacked over K skills."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from softskills.nn import StackedMLP, init_generators

__all__ = ["SVGDSampler"]


class SVGDSampler(nn.Module):
    """``a = tanh(MLP([s, xi]))``, ``xi ~ N(0, I_|A|)``: softqlearning's ``StochasticNNPolicy``.

    An implicit policy ``a = f_phi(xi; s)`` (thesis §3.3) trained by amortised SVGD to draw
    samples from ``exp(Q(s, .)/alpha)``. It has **no tractable density**: the map is not
    invertible, which is why the soft value uses uniform importance sampling (softqlearning
    issue #8). The noise is concatenated with the observation at the input layer (the original
    sums two input weight matrices, which is the same affine map).

    Args:
        num_skills: K.
        obs_dim: observation width.
        act_dim: action width (also the noise width).
        hidden: hidden widths (ReLU), default (256, 256).
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
        if seeds is not None and len(seeds) != num_skills:
            raise ValueError(f"expected {num_skills} seeds, got {len(seeds)}")
        self.num_skills, self.obs_dim, self.act_dim = num_skills, obs_dim, act_dim
        gens = init_generators(seeds) if seeds is not None else None
        self.net = StackedMLP(num_skills, obs_dim + act_dim, hidden, act_dim, "relu", gens)

    def pre_tanh(self, obs: Tensor, noise: Tensor) -> Tensor:
        """``u = MLP([s, xi])``: obs ``(K, *N, ds)`` (broadcast) and noise ``(K, *N, da)`` -> ``(K, *N, da)``."""
        lead = noise.shape[:-1]
        obs = obs.expand(*lead, self.obs_dim)
        x = torch.cat([obs, noise], dim=-1).reshape(lead[0], -1, self.obs_dim + self.act_dim)
        return self.net(x).reshape(*lead, self.act_dim)

    def forward(self, obs: Tensor, noise: Tensor) -> Tensor:
        """``a = tanh(MLP([s, xi]))``: obs ``(K, *N, ds)`` (broadcast) and noise ``(K, *N, da)`` -> ``(K, *N, da)``."""
        return torch.tanh(self.pre_tanh(obs, noise))

    def sample_pre_tanh(self, obs: Tensor, n_particles: int, noise: Tensor | None = None) -> Tensor:
        """``n_particles`` pre-tanh particles ``u`` per state for SVGD: obs ``(K, B, ds)`` -> ``(K, B, M, da)``.

        ``noise`` is the base sample ``xi``, ``(K, B, M, da)``, standard normal; drawn if ``None``.
        """
        k, b = obs.shape[0], obs.shape[1]
        if noise is None:
            noise = torch.randn(k, b, n_particles, self.act_dim, device=obs.device, dtype=obs.dtype)
        elif noise.shape[-2] != n_particles:
            raise ValueError(f"noise has {noise.shape[-2]} particles, expected {n_particles}")
        return self.pre_tanh(obs.unsqueeze(2), noise)

    def sample_actions(self, obs: Tensor, n_particles: int, noise: Tensor | None = None) -> Tensor:
        """``n_particles`` actions ``tanh(u)`` per state: obs ``(K, B, ds)`` -> ``(K, B, M, da)`` (as :meth:`sample_pre_tanh`)."""
        return torch.tanh(self.sample_pre_tanh(obs, n_particles, noise))

    def draw(self, obs: Tensor, noise: Tensor | None = None) -> Tensor:
        """One action per state, ``(K, B, da)``; ``noise`` is ``xi`` ``(K, B, da)``, drawn if ``None``.

        There is deliberately no ``sample``/``log_prob``: the sampler is an implicit model with
        no tractable density (softqlearning issue #8), so it does not satisfy the SAC
        :class:`~softskills.skills.types.Policy` interface, and ``SACAgent`` refuses it.
        """
        if noise is None:
            noise = torch.randn(*obs.shape[:-1], self.act_dim, device=obs.device, dtype=obs.dtype)
        return self(obs, noise)

    def deterministic(self, obs: Tensor) -> Tensor:
        """The action at ``xi = 0``, ``(K, B, da)`` (not the mode of the induced distribution)."""
        noise = torch.zeros(*obs.shape[:-1], self.act_dim, device=obs.device, dtype=obs.dtype)
        return self(obs, noise)
