"""Plumbing that every agent of the core shares: target-critic buffers, the Adam optimizer, autocast.

SAC and SQL differ only in their losses; these helpers keep everything around the losses
identical between :class:`~softskills.skills.agent.SACAgent` and
:class:`~softskills.skills.sql_agent.SQLAgent`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["autocast", "check_precision", "make_adam", "rebuild_adam", "register_targets", "targets_of"]


def check_precision(precision: str) -> None:
    """Raise a clear error unless ``precision`` is ``"fp32"`` or ``"bf16"``."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")


def register_targets(module: nn.Module, params: Sequence[Tensor]) -> None:
    """Register detached copies of ``params`` on ``module`` as buffers ``target_0, target_1, ...``.

    Buffers move with ``module.to(...)`` and are saved in its ``state_dict``.
    """
    for i, p in enumerate(params):
        module.register_buffer(f"target_{i}", p.detach().clone())


def targets_of(module: nn.Module, n: int) -> list[Tensor]:
    """The ``n`` target buffers of ``module``, read afresh (``.to()`` replaces buffer tensors)."""
    return [getattr(module, f"target_{i}") for i in range(n)]


def make_adam(groups: list[dict[str, Any]], device_type: str, capturable: bool) -> torch.optim.Adam:
    """One fused Adam over all groups; ``capturable`` (CUDA-graph safe) only on CUDA."""
    fused = device_type in ("cpu", "cuda")
    return torch.optim.Adam(groups, fused=fused, capturable=capturable and device_type == "cuda")


def rebuild_adam(
    old: torch.optim.Optimizer, make: Callable[[bool], torch.optim.Adam], capturable: bool
) -> torch.optim.Adam:
    """A new Adam from ``make(capturable)`` carrying ``old``'s state (after a device move).

    ``load_state_dict`` restores the *saved* groups' ``capturable``/``fused`` flags; the flags
    chosen for the current device are put back afterwards.
    """
    state = old.state_dict()
    new = make(capturable)
    flags = {k: new.param_groups[0][k] for k in ("capturable", "fused")}
    new.load_state_dict(state)
    for group in new.param_groups:
        group.update(flags)
    return new


def autocast(precision: str, device_type: str) -> AbstractContextManager[Any]:
    """bf16 autocast of the forward passes for ``"bf16"``; a no-op for ``"fp32"``."""
    if precision == "bf16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return nullcontext()
