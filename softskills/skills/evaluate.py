"""Evaluation of K skills, all episodes stepped in lockstep, each skill on its own task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from softskills.skills.vec import SkillEnvs, StepResult

__all__ = ["EvalResult", "evaluate"]


class EvalResult(NamedTuple):
    """Per-episode results, each ``(K, episodes)``.

    Attributes:
        returns: undiscounted episode returns.
        lengths: episode lengths in env steps of ``envs``.
        final_infos: the info dict of each episode's last step, ``final_infos[k][e]``.
    """

    returns: np.ndarray
    lengths: np.ndarray
    final_infos: list[list[dict[str, Any]]]


@torch.no_grad()
def evaluate(
    agent: nn.Module,
    envs: SkillEnvs,
    seed: int,
    device: str | torch.device = "cpu",
    deterministic: bool = True,
    on_step: Callable[[StepResult, np.ndarray], None] | None = None,
) -> EvalResult:
    """Run one episode in each of the ``(K, N)`` envs of ``envs`` (N = the number of episodes).

    Episode ``e`` of every skill is reset with seed ``seed + e``, so skills face the same starts.

    Args:
        agent: acts on observations ``(K, N, obs_dim)``.
        envs: the ``(K, N)`` envs.
        seed: episode ``e`` resets with ``seed + e``.
        device: where the agent's tensors live.
        deterministic: act deterministically, or draw actions.
        on_step: called after every step with its result and the ``(K, N)`` mask of the envs that
            stepped in it (an episode's envs stop stepping once it ends), e.g. to read every
            step's ``infos``; it must not change either.
    """
    k, n = envs.num_skills, envs.num_envs
    obs = envs.reset(np.broadcast_to(seed + np.arange(n), (k, n)))
    returns = np.zeros((k, n))
    lengths = np.zeros((k, n), dtype=np.int64)
    final_infos: list[list[dict[str, Any]]] = [[{} for _ in range(n)] for _ in range(k)]
    alive = np.ones((k, n), dtype=bool)
    while alive.any():
        obs_t = torch.as_tensor(np.where(alive[..., None], obs, 0.0), dtype=torch.float32, device=device)
        act = agent.act(obs_t, deterministic=deterministic).float().cpu().numpy()
        res = envs.step(act, active=alive)
        if on_step is not None:
            on_step(res, alive.copy())
        returns += res.reward
        lengths += alive
        for i, j in zip(*np.nonzero(res.done & alive)):
            final_infos[i][j] = res.infos[i][j]
        obs = np.where(alive[..., None], res.obs, obs)
        alive &= ~res.done
    return EvalResult(returns, lengths, final_infos)
