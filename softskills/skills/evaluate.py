"""Deterministic evaluation of K skills, all episodes stepped in lockstep."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from softskills.skills.vec import make_env, scale_action

__all__ = ["evaluate"]


@torch.no_grad()
def evaluate(
    agent: nn.Module,
    env_id: str,
    episodes: int,
    seed: int,
    device: str | torch.device = "cpu",
    deterministic: bool = True,
) -> np.ndarray:
    """Run ``episodes`` episodes for each of the agent's K skills; returns returns ``(K, episodes)``.

    Episode ``e`` of every skill is reset with seed ``seed + e``, so skills face the same starts.
    """
    k = agent.num_skills
    envs = [[make_env(env_id) for _ in range(episodes)] for _ in range(k)]
    low, high = envs[0][0].action_space.low, envs[0][0].action_space.high
    obs = np.stack([np.stack([e.reset(seed=seed + j)[0] for j, e in enumerate(row)]) for row in envs])
    returns = np.zeros((k, episodes))
    alive = np.ones((k, episodes), dtype=bool)
    while alive.any():
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
        act = agent.act(obs_t, deterministic=deterministic).cpu().numpy()
        for i in range(k):
            for j in range(episodes):
                if not alive[i, j]:
                    continue
                o, r, term, trunc, _ = envs[i][j].step(scale_action(act[i, j], low, high))
                obs[i, j] = o
                returns[i, j] += r
                alive[i, j] = not (term or trunc)
    for row in envs:
        for e in row:
            e.close()
    return returns
