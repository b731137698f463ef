"""``HierarchicalPolicy``: a stack of frozen layers exported as one invertible policy."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from softskills.flows.realnvp import RealNVPPolicy
from softskills.hierarchy.adapter import adapter_from_spec
from softskills.hierarchy.layer import FrozenLayer
from softskills.skills.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["HierarchicalPolicy"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_KIND = "hierarchical_policy"


class HierarchicalPolicy(nn.Module):
    """``a = f_0(f_1(... f_{L-1}(h_top; s) ...; s); s)``: the whole stack as one policy, no wrappers.

    ``layers[0]`` acts on the environment and ``layers[-1]`` is the top. Every layer reads the
    same environment observation through its own adapter. Because each layer is a bijection
    of its input latent, so is the stack: :meth:`inverse` recovers ``h_top`` from an action, and
    the log-determinants add up (thesis ch. 7: the composed policy stays tractable).

    Args:
        layers: the frozen layers, bottom first.

    Raises:
        ValueError: a layer's output dimension differs from the latent dimension of the layer
            below, or an intermediate layer squashes its output.
    """

    def __init__(self, layers: Sequence[FrozenLayer]) -> None:
        super().__init__()
        if not layers:
            raise ValueError("a hierarchical policy needs at least one layer")
        for i in range(1, len(layers)):
            below, above = layers[i - 1], layers[i]
            if above.policy.act_dim != below.latent_dim:
                raise ValueError(f"layer {i} ({above.source}) outputs {above.policy.act_dim} values, but the latent "
                                 f"of layer {i - 1} ({below.source}) has dimension {below.latent_dim}")
            if above.squash:
                raise ValueError(f"layer {i} ({above.source}) squashes its output with tanh, but it acts in the "
                                 "unbounded latent space of the layer below (train it with squash off)")
        self.layers = nn.ModuleList(layers)
        self.latent_dim = layers[-1].latent_dim

    def forward(self, h_top: Tensor, obs: Tensor) -> tuple[Tensor, Tensor]:
        """``(action, log|det d action / d h_top|)`` for ``h_top`` ``(B, d)`` and observations ``(B, D)``."""
        x, total = h_top, torch.zeros(h_top.shape[0], dtype=h_top.dtype, device=h_top.device)
        for layer in reversed(self.layers):
            x, logdet = layer(x, obs)
            total = total + logdet
        return x, total

    def act(self, obs: Tensor, h_top: Tensor) -> Tensor:
        """The action for a given top latent."""
        return self(h_top, obs)[0]

    def inverse(self, action: Tensor, obs: Tensor) -> tuple[Tensor, Tensor]:
        """``(h_top, log|det d h_top / d action|)``: the top latent that produces ``action``."""
        x, total = action, torch.zeros(action.shape[0], dtype=action.dtype, device=action.device)
        for layer in self.layers:
            x, logdet = layer.inverse(x, obs)
            total = total + logdet
        return x, total

    def sample(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """``(a, log pi(a|s))`` with ``h_top ~ N(0, I)``."""
        h = torch.randn(obs.shape[0], self.latent_dim, dtype=obs.dtype, device=obs.device)
        a, logdet = self(h, obs)
        return a, (-0.5 * h.pow(2) - _HALF_LOG_2PI).sum(-1) - logdet

    def log_prob(self, obs: Tensor, action: Tensor) -> Tensor:
        """``log pi(a|s)`` by change of variables through the whole stack."""
        h, logdet = self.inverse(action, obs)
        return (-0.5 * h.pow(2) - _HALF_LOG_2PI).sum(-1) + logdet

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the stack as a safe checkpoint (safetensors + hashed JSON) in ``path/checkpoint``."""
        tensors: dict[str, Tensor] = {}
        layers = []
        for i, layer in enumerate(self.layers):
            tensors.update({f"layer{i}/{k}": v for k, v in layer.policy.state_dict().items()})
            layers.append({**layer.describe(), "arch": layer.policy.arch})
        return save_checkpoint(path, tensors, {"kind": _KIND, "layers": layers})

    @classmethod
    def load(cls, path: str | os.PathLike) -> HierarchicalPolicy:
        """Inverse of :meth:`save` (verifies every hash; never unpickles)."""
        tensors, meta, _ = load_checkpoint(path)
        if meta.get("kind") != _KIND or not isinstance(meta.get("layers"), list):
            raise CheckpointError(f"{path} does not hold a HierarchicalPolicy (kind {meta.get('kind')!r})")
        layers = []
        for i, spec in enumerate(meta["layers"]):
            try:
                arch: dict[str, Any] = dict(spec["arch"])
                policy = RealNVPPolicy(arch.pop("num_skills"), arch.pop("obs_dim"), arch.pop("act_dim"), **arch)
                sd = {k[len(f"layer{i}/"):]: v for k, v in tensors.items() if k.startswith(f"layer{i}/")}
                policy.load_state_dict(sd, strict=True)
                layers.append(FrozenLayer(policy, adapter_from_spec(spec["adapter"]), int(spec["skill"]),
                                          source=str(spec.get("source", ""))))
            except (KeyError, TypeError, ValueError, RuntimeError) as e:
                raise CheckpointError(f"layer {i} of {path} cannot be rebuilt: {e}") from e
        return cls(layers)
