"""A tiny env with no simulator snapshot (its state is not ``unwrapped.state`` and it has no MuJoCo data).

Observation ``[position, time]``; episodes are truncated after 10 steps. ``dim`` changes the
observation size, to test tasks whose spaces differ; ``terminate_at`` ends every episode with a
true termination at that step instead.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class NoSnapshotEnv(gym.Env):
    def __init__(self, dim: int = 2, terminate_at: int | None = None) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.dim, self.terminate_at = dim, terminate_at
        self._pos = 0.0
        self._t = 0

    def _obs(self) -> np.ndarray:
        o = np.zeros(self.dim)
        o[0], o[1] = self._pos, self._t
        return o

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
        super().reset(seed=seed)
        self._pos, self._t = float(self.np_random.uniform(-1, 1)), 0
        return self._obs(), {}

    def step(self, action):  # type: ignore[no-untyped-def]
        self._pos += float(action[0])
        self._t += 1
        terminated = self.terminate_at is not None and self._t >= self.terminate_at
        return self._obs(), -abs(self._pos), terminated, self._t >= 10, {}


if "test/NoSnapshot-v0" not in gym.registry:
    gym.register("test/NoSnapshot-v0", entry_point=NoSnapshotEnv)
