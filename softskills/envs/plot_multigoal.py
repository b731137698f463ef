"""The MultiGoal figure of the soft Q-learning paper (thesis Figure 3.2): paths and Q contours.

Left: the position cost ``c_d min_g ||s - g||^2`` as (negated) contours, the goals, and
``n_paths`` trajectories of the stochastic policy. Right: ``min_j Q_j(s, a)`` over the action
square at the observations (-2.5, 0), (0, 0) and (2.5, 2.5), with actions sampled from the
policy at each, as drawn by softqlearning's ``QFPolicyPlotter``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from softskills.envs.multigoal import MultiGoalEnv, goals_reached

__all__ = ["Q_OBSERVATIONS", "plot_multigoal", "rollout_multigoal"]

Q_OBSERVATIONS: tuple[tuple[float, float], ...] = ((-2.5, 0.0), (0.0, 0.0), (2.5, 2.5))
"""Observations at which the Q contours are drawn (the original plotter's)."""


class _Agent(Protocol):
    critic: nn.Module

    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor: ...


def _num_skills(agent: Any) -> int:
    return int(getattr(agent, "num_skills", 1))


def _device(agent: Any) -> torch.device:
    return next(agent.critic.parameters()).device


def _act(agent: _Agent, obs: np.ndarray, skill: int, deterministic: bool = False) -> np.ndarray:
    """Actions of skill ``skill`` for observations ``(N, 2)``: every skill sees the same batch."""
    k = _num_skills(agent)
    x = torch.as_tensor(obs, dtype=torch.float32, device=_device(agent))
    a = agent.act(x.unsqueeze(0).expand(k, *x.shape).contiguous(), deterministic)
    return a[skill].float().cpu().numpy()


def rollout_multigoal(
    agent: _Agent,
    n_paths: int = 20,
    seed: int = 0,
    skill: int = 0,
    deterministic: bool = False,
    env: MultiGoalEnv | None = None,
    horizon: int = 30,
) -> tuple[list[np.ndarray], list[float]]:
    """``n_paths`` episodes of ``skill`` run side by side; returns the paths ``(T_i + 1, 2)`` and returns.

    Episode ``i`` is reset with seed ``seed + i``; a path stops at its goal or after ``horizon`` steps.
    """
    envs = [MultiGoalEnv(**_env_kwargs(env)) for _ in range(n_paths)]
    obs = np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(envs)])
    paths = [[o.copy()] for o in obs]
    rets = [0.0] * n_paths
    alive = list(range(n_paths))
    for _ in range(horizon):
        if not alive:
            break
        acts = _act(agent, obs[alive], skill, deterministic)
        still = []
        for a, i in zip(acts, alive):
            o, r, term, _, _ = envs[i].step(a)
            obs[i] = o
            paths[i].append(o.copy())
            rets[i] += r
            if not term:
                still.append(i)
        alive = still
    return [np.asarray(p) for p in paths], rets


def _env_kwargs(env: MultiGoalEnv | None) -> dict[str, float]:
    if env is None:
        return {}
    return {
        "action_cost_coeff": env.action_cost_coeff,
        "distance_cost_coeff": env.distance_cost_coeff,
        "goal_reward": env.goal_reward,
        "goal_threshold": env.goal_threshold,
        "init_sigma": env.init_sigma,
    }


@torch.no_grad()
def _q_grid(agent: _Agent, obs: tuple[float, float], skill: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``min_j Q_j(obs, a)`` on an ``n x n`` grid over ``[-1, 1]^2``; returns ``(grid_x, q)``."""
    lin = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    ax, ay = np.meshgrid(lin, lin)
    acts = np.stack([ax.ravel(), ay.ravel()], -1)
    k, dev = _num_skills(agent), _device(agent)
    a = torch.as_tensor(acts, device=dev).unsqueeze(0).expand(k, -1, -1).contiguous()
    o = torch.tensor(obs, dtype=torch.float32, device=dev).expand(k, a.shape[1], 2).contiguous()
    q = agent.critic(o, a)  # (K, 2, N)
    return lin, q.min(dim=1).values[skill].float().cpu().numpy().reshape(n, n)


def plot_multigoal(
    agent: _Agent,
    path: str | Path,
    n_paths: int = 20,
    seed: int = 0,
    skill: int = 0,
    n_action_samples: int = 100,
    grid: int = 50,
) -> dict[str, Any]:
    """Write the MultiGoal figure for ``skill`` of ``agent`` to ``path`` (PNG, matplotlib Agg).

    Args:
        agent: anything with ``act(obs (K, N, 2), deterministic) -> (K, N, 2)`` and a twin
            ``critic(obs, act) -> (K, 2, N)`` (SQLAgent, SACAgent).
        path: output file.
        n_paths: sampled (stochastic) trajectories to draw.
        seed: episode ``i`` is reset with ``seed + i``.
        skill: which of the K skills to draw.
        n_action_samples: sampled actions drawn on each Q panel.
        grid: resolution of the Q contours.

    Returns:
        ``{"goals_reached": int, "goal_indices": list[int], "mean_return": float,
        "success_rate": float}`` over the drawn paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env = MultiGoalEnv()
    paths, rets = rollout_multigoal(agent, n_paths, seed, skill)
    finals = [p[-1] for p in paths]
    reached = goals_reached(finals, env.goals, env.goal_threshold)

    fig = plt.figure(figsize=(14, 5))
    ax0 = fig.add_subplot(1, 4, 1)
    lin = np.linspace(-7.0, 7.0, 200)
    xx, yy = np.meshgrid(lin, lin)
    cost = env.cost(np.stack([xx, yy], -1))
    cs = ax0.contour(xx, yy, -cost, levels=20)
    ax0.clabel(cs, inline=True, fontsize=6, fmt="%.0f")
    ax0.plot(env.goals[:, 0], env.goals[:, 1], "ro", markersize=8)
    for p in paths:
        ax0.plot(p[:, 0], p[:, 1], "b-", linewidth=0.8)
        ax0.plot(p[-1, 0], p[-1, 1], "bx", markersize=4)
    ax0.set_xlim(-7, 7)
    ax0.set_ylim(-7, 7)
    ax0.set_aspect("equal")
    ax0.set_title(f"paths (skill {skill}): {len(reached)} goals")

    for j, o in enumerate(Q_OBSERVATIONS):
        ax = fig.add_subplot(1, 4, j + 2)
        alin, q = _q_grid(agent, o, skill, grid)
        cq = ax.contour(alin, alin, q, levels=20)
        ax.clabel(cq, inline=True, fontsize=6, fmt="%.0f")
        samples = _act(agent, np.tile(np.asarray(o, np.float32), (n_action_samples, 1)), skill)
        ax.plot(samples[:, 0], samples[:, 1], "k.", markersize=3)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal")
        ax.set_title(f"Q(s=({o[0]:g}, {o[1]:g}), a)")
        ax.set_xlabel("a_x")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    final_dist = np.linalg.norm(np.stack(finals)[:, None] - env.goals, axis=-1).min(-1)
    return {
        "goals_reached": len(reached),
        "goal_indices": sorted(reached),
        "mean_return": float(np.mean(rets)),
        "success_rate": float(np.mean(final_dist < env.goal_threshold)),
    }
