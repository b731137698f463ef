"""A stacked skill's whole hierarchy, rebuilt from the library's own copies of its layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from softskills.hierarchy.adapter import adapter_from_spec
from softskills.hierarchy.layer import FrozenLayer, check_invertible
from softskills.hierarchy.policy import HierarchicalPolicy
from softskills.library.errors import LibraryError
from softskills.skills.config import TrainConfig

__all__ = ["LoadedSkill", "stack_policy"]

LoadedSkill = tuple[str, nn.Module, TrainConfig, dict[str, Any]]
"""A skill loaded with ``load_run``: ``(name, agent, config, meta)``."""


def stack_policy(chain: Sequence[LoadedSkill], skill: int = 0) -> HierarchicalPolicy:
    """The :class:`HierarchicalPolicy` of a chain of stacked skills, bottom first.

    It is built as :func:`softskills.hierarchy.run_policy` builds it from run directories: the top
    layer runs its skill ``skill`` on the first ``obs_dim`` entries of the observation; every layer
    below runs the skill (``stack_skill``) and sees the observation slice (``lower_adapter``) that
    the layer above it was trained with. So the outputs are equal bit for bit.

    Raises:
        LibraryError: a layer is not an invertible Real-NVP policy, or the layers do not fit.
    """
    if not chain:
        raise LibraryError("a stacked policy needs at least one layer")
    layers: list[FrozenLayer] = []
    for i, (name, agent, _, _) in enumerate(chain):
        above = chain[i + 1] if i + 1 < len(chain) else None
        try:
            policy = check_invertible(agent.policy, f"skill {name!r}")
            if above is None:
                layers.append(FrozenLayer(policy, None, skill, source=f"skill {name}"))
                continue
            spec = (above[3].get("run_info") or {}).get("lower_adapter")
            adapter = adapter_from_spec(spec) if spec else None
            layers.append(FrozenLayer(policy, adapter, above[2].stack_skill, source=f"skill {name}"))
        except (TypeError, ValueError, KeyError) as e:
            raise LibraryError(f"skill {chain[-1][0]!r}: its layer {name!r} cannot be stacked: {e}") from e
    try:
        return HierarchicalPolicy(layers)
    except ValueError as e:
        raise LibraryError(f"skill {chain[-1][0]!r}: its layers do not fit: {e}") from e
