"""The 2-D multi-goal point mass of the soft Q-learning paper (thesis §3.4, Figure 3.2).

A port of ``softqlearning/environments/multigoal.py`` (identical in haarnoja/sac and
softlearning) to Gymnasium: ``s' = s + a`` with ``a`` clipped to ``[-1, 1]^2``, the position
clipped to ``[-7, 7]^2``, four goals at distance 5 from the origin. The reward penalises the
action and the distance to the nearest goal, and pays ``goal_reward`` on arrival, which ends
the episode. The horizon (30) is set by the registration's ``max_episode_steps``, so it is a
truncation, not a termination.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["GOALS", "MultiGoalEnv", "goals_reached"]

GOALS = np.array([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0], [0.0, -5.0]], dtype=np.float64)
"""The four goal positions, in this order (``goal_index`` refers to it)."""

_XY_BOUND = 7.0


def goals_reached(
    final_positions: Iterable[Any], goals: np.ndarray = GOALS, threshold: float = 1.0
) -> set[int]:
    """The distinct goals hit: indices ``g`` with some final position within ``threshold`` of goal ``g``.

    This is the original's ``env:goals_reached`` diagnostic (computed on the last position of
    every evaluation path).

    Args:
        final_positions: positions ``(N, 2)`` (any array-like).
        goals: goal positions ``(G, 2)``.
        threshold: arrival radius.
    """
    pos = np.asarray(final_positions, dtype=np.float64).reshape(-1, 2)
    if pos.shape[0] == 0:
        return set()
    dist = np.linalg.norm(pos[:, None, :] - goals[None, :, :], axis=-1)  # (N, G)
    nearest = dist.argmin(-1)
    hit = dist[np.arange(len(pos)), nearest] < threshold
    return {int(g) for g in nearest[hit]}


class MultiGoalEnv(gym.Env[np.ndarray, np.ndarray]):
    """Point mass with four goals; ``r = -(c_a ||a||^2 + c_d min_g ||s' - g||^2) [+ goal_reward]``.

    Defaults are the SQL example's (and softlearning's): ``c_a = 30``, ``c_d = 1``,
    ``goal_reward = 10``. The SAC example used ``c_a = 1``, ``c_d = 0.1``, ``goal_reward = 1``.

    ``info`` carries ``goal_index`` (the goal reached this step, or -1), ``distance`` (to the
    nearest goal) and ``position``. The exact (float64) position is the public attribute
    ``state``, like classic-control envs, so a checkpoint can save and restore it.

    Args:
        action_cost_coeff: ``c_a``.
        distance_cost_coeff: ``c_d``.
        goal_reward: bonus paid on arrival.
        goal_threshold: arrival radius (the episode terminates inside it).
        init_sigma: standard deviation of the initial position around the origin.
        render_mode: unsupported (``None`` only); draw the policy with
            :func:`softskills.envs.plot_multigoal.plot_multigoal`.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        action_cost_coeff: float = 30.0,
        distance_cost_coeff: float = 1.0,
        goal_reward: float = 10.0,
        goal_threshold: float = 1.0,
        init_sigma: float = 0.1,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"MultiGoalEnv does not render; got render_mode={render_mode!r}")
        if goal_threshold <= 0.0 or init_sigma < 0.0:
            raise ValueError("goal_threshold must be positive and init_sigma non-negative")
        self.action_cost_coeff = float(action_cost_coeff)
        self.distance_cost_coeff = float(distance_cost_coeff)
        self.goal_reward = float(goal_reward)
        self.goal_threshold = float(goal_threshold)
        self.init_sigma = float(init_sigma)
        self.render_mode = render_mode
        self.goals = GOALS.copy()
        self.observation_space = spaces.Box(-_XY_BOUND, _XY_BOUND, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.state = np.zeros(2, dtype=np.float64)

    def _obs(self) -> np.ndarray:
        return self.state.astype(np.float32)

    def _nearest(self, pos: np.ndarray) -> tuple[int, float]:
        dist = np.linalg.norm(self.goals - pos, axis=-1)
        g = int(dist.argmin())
        return g, float(dist[g])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """``s0 ~ N(0, init_sigma^2 I)`` from the env's ``np_random`` (clipped to the box)."""
        super().reset(seed=seed)
        pos = self.np_random.normal(0.0, self.init_sigma, size=2)
        self.state = np.clip(pos, -_XY_BOUND, _XY_BOUND)
        _, dist = self._nearest(self.state)
        return self._obs(), {"goal_index": -1, "distance": dist, "position": self.state.copy()}

    def cost(self, pos: np.ndarray) -> np.ndarray:
        """The position cost ``c_d min_g ||pos - g||^2`` for positions ``(..., 2)``."""
        d2 = ((np.asarray(pos)[..., None, :] - self.goals) ** 2).sum(-1)
        return self.distance_cost_coeff * d2.min(-1)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """``s' = clip(s + clip(a))``; reward on ``s'`` and the clipped ``a``; terminates at a goal."""
        act = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        self.state = np.clip(self.state + act, -_XY_BOUND, _XY_BOUND)
        g, dist = self._nearest(self.state)
        reward = -(self.action_cost_coeff * float(act @ act) + self.distance_cost_coeff * dist**2)
        terminated = dist < self.goal_threshold
        if terminated:
            reward += self.goal_reward
        info = {"goal_index": g if terminated else -1, "distance": dist, "position": self.state.copy()}
        return self._obs(), float(reward), bool(terminated), False, info
