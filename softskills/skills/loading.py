"""Load a trained agent (weights only) from a run directory."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from torch import Tensor, nn

from softskills.skills.checkpoint import CheckpointError, load_checkpoint
from softskills.skills.config import TrainConfig
from softskills.skills.config_io import config_from_dict
from softskills.skills.factory import build_agent

__all__ = ["load_agent", "load_agent_state", "load_run"]


def load_agent_state(agent: nn.Module, tensors: dict[str, Tensor]) -> None:
    """Load ``agent/...`` tensors into an agent, with a clear error when they do not fit."""
    sd = {k[len("agent/"):]: v for k, v in tensors.items() if k.startswith("agent/")}
    try:
        agent.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint weights do not fit this model: {e}") from e


def load_run(run_dir: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, TrainConfig, dict[str, Any]]:
    """The trained agent of a run directory, its config and its checkpoint meta (no optimizer, no buffer).

    The agent is built from the spaces recorded in the checkpoint, so a run whose env is a
    wrapper (for example a stacked layer's latent-action env) loads without rebuilding that env.
    """
    tensors, meta, _ = load_checkpoint(run_dir)
    cfg = config_from_dict(meta.get("config"))
    spaces = meta.get("spaces")
    try:
        obs_dim, act_dim = int(np.prod(spaces["obs_shape"])), int(np.prod(spaces["act_shape"]))
        bounded = bool(np.all(np.isfinite(spaces["act_low"])) and np.all(np.isfinite(spaces["act_high"])))
    except (TypeError, KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint in {run_dir} has no valid spaces record: {e}") from e
    agent = build_agent(cfg, obs_dim, act_dim, squash=bounded)
    load_agent_state(agent, tensors)
    return agent.to(device), cfg, meta


def load_agent(run_dir: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, TrainConfig]:
    """The trained agent of a run directory and its config (no optimizer, no buffer)."""
    agent, cfg, _ = load_run(run_dir, device)
    return agent, cfg
