"""Helpers shared by the trainer tests: snapshot an agent's state and compare two snapshots exactly."""

from __future__ import annotations

import torch

from softskills.skills.trainer import Trainer

__all__ = ["assert_same", "params"]


def params(trainer: Trainer) -> dict[str, torch.Tensor]:
    """A detached copy of the trainer's agent state (weights, targets, temperatures, counters)."""
    return {k: v.detach().clone() for k, v in trainer.agent.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Bitwise equality of two snapshots, naming the first differing entry."""
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
