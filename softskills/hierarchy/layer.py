"""A frozen, invertible layer of a latent-space hierarchy (thesis ch. 7, Algorithm 4)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from softskills.flows.realnvp import RealNVPPolicy
from softskills.flows.tanh import atanh_clamped, tanh_log_det
from softskills.hierarchy.adapter import ObsAdapter, ObsSlice
from softskills.skills.loading import load_run

__all__ = ["FrozenLayer", "check_invertible"]


def check_invertible(policy: nn.Module, where: str) -> RealNVPPolicy:
    """Return ``policy`` if it can be stacked on, else raise naming the kinds that can."""
    if not isinstance(policy, RealNVPPolicy):
        raise TypeError(
            f"{where}: a {type(policy).__name__} cannot be a lower layer, because a layer must be an "
            "invertible map from latent to action; only RealNVPPolicy layers (SAC with --policy realnvp) "
            "can be stacked on (a GaussianPolicy or an SQL SVGDSampler is not invertible)"
        )
    return policy


class FrozenLayer(nn.Module):
    """One trained Real-NVP skill, frozen: ``action = f(h; adapter(obs))`` (squashed if the layer was).

    Its parameters never receive gradients (``requires_grad=False``) and it stays in eval
    mode, so training the layers above leaves it bit for bit unchanged.

    Args:
        policy: a trained :class:`RealNVPPolicy` (any K; one skill is used).
        adapter: the part of the observation it was trained on (default: all of it).
        skill: which of the policy's K skills this layer is.
        source: where it came from (a run directory), for provenance and error messages.
    """

    def __init__(self, policy: nn.Module, adapter: ObsAdapter | None = None, skill: int = 0,
                 source: str = "") -> None:
        super().__init__()
        policy = check_invertible(policy, source or "lower layer")
        if not 0 <= skill < policy.num_skills:
            raise ValueError(f"skill {skill} is out of range: {source or 'the policy'} has {policy.num_skills} skill(s)")
        self.policy = policy
        self.adapter = adapter if adapter is not None else ObsSlice(0, policy.obs_dim)
        if self.adapter.out_dim != policy.obs_dim:
            raise ValueError(
                f"observation adapter {self.adapter.name} gives {self.adapter.out_dim} entries, but the layer "
                f"{source or ''} was trained on observations of width {policy.obs_dim}"
            )
        self.skill, self.source = skill, source
        self.latent_dim = policy.act_dim
        self.squash = policy.squash
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, adapter: ObsAdapter | None = None, skill: int = 0) -> FrozenLayer:
        """The policy of a trained run directory as a frozen layer."""
        agent, _, _ = load_run(run_dir)
        return cls(agent.policy, adapter, skill, source=str(run_dir))

    def train(self, mode: bool = True) -> FrozenLayer:  # noqa: D102  (frozen: always eval)
        return super().train(False)

    def _obs(self, obs: Tensor) -> Tensor:
        """``(B, obs_dim_env)`` -> the layer's ``(1, B, obs_dim)`` input, for its skill."""
        o = self.adapter(obs) if isinstance(self.adapter, ObsSlice) else torch.as_tensor(
            self.adapter(obs.detach().cpu().numpy()), dtype=obs.dtype, device=obs.device)
        return o.unsqueeze(0).expand(self.policy.num_skills, -1, -1)

    def forward(self, h: Tensor, obs: Tensor) -> tuple[Tensor, Tensor]:
        """``(action, log|det d action / d h|)`` for latents ``h`` ``(B, d)`` and env observations ``(B, D)``.

        The action is ``tanh(f(h; s))`` for a squashed layer (the tanh log-det included) and
        ``f(h; s)`` otherwise.
        """
        k = self.policy.num_skills
        hk = h.unsqueeze(0).expand(k, -1, -1)
        raw, logdet = self.policy.forward(hk, self._obs(obs))
        raw, logdet = raw[self.skill], logdet[self.skill]
        if not self.squash:
            return raw, logdet
        return torch.tanh(raw), logdet + tanh_log_det(raw)

    def inverse(self, action: Tensor, obs: Tensor) -> tuple[Tensor, Tensor]:
        """``(h, log|det dh / d action|)``: the latent that produces ``action`` at ``obs``."""
        raw = atanh_clamped(action) if self.squash else action
        k = self.policy.num_skills
        h, logdet = self.policy.inverse(raw.unsqueeze(0).expand(k, -1, -1), self._obs(obs))
        h, logdet = h[self.skill], logdet[self.skill]
        return (h, logdet - tanh_log_det(raw)) if self.squash else (h, logdet)

    @torch.no_grad()
    def act(self, h: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """NumPy convenience: actions for latents ``(..., d)`` at observations ``(..., D)`` (one batched forward)."""
        lead = h.shape[:-1]
        w = next(self.policy.parameters())
        h_t = torch.as_tensor(h.reshape(-1, self.latent_dim), dtype=w.dtype, device=w.device)
        o_t = torch.as_tensor(obs.reshape(-1, obs.shape[-1]), dtype=w.dtype, device=w.device)
        return self(h_t, o_t)[0].cpu().numpy().astype(np.float64).reshape(*lead, -1)

    def weights_sha256(self) -> str:
        """SHA-256 of the policy's weights: every tensor of its ``state_dict`` (all K skills), with its
        name, dtype and shape, in name order. Two layers act the same iff their hashes agree (save for
        a collision), whatever file or run directory they were loaded from."""
        digest = hashlib.sha256()
        for name, value in sorted(self.policy.state_dict().items()):
            t = value.detach().cpu().contiguous()
            digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        """JSON provenance: source, skill, adapter, dimensions and the weights' SHA-256."""
        return {"source": self.source, "skill": self.skill, "adapter": self.adapter.spec(),
                "obs_dim": self.policy.obs_dim, "latent_dim": self.latent_dim, "squash": self.squash,
                "weights_sha256": self.weights_sha256()}
