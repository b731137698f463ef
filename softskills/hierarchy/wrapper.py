"""``LatentActionWrapper``: a Gymnasium wrapper that embeds a frozen lower layer in one env."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from softskills.hierarchy.layer import FrozenLayer
from softskills.skills.vec import scale_action

__all__ = ["LatentActionWrapper"]


class LatentActionWrapper(gym.Wrapper):
    """The wrapped env's action is the frozen layer's latent ``h`` (an unbounded ``Box``).

    Each env step maps ``h -> action`` with the frozen layer on the *current* observation
    (through the layer's named adapter) and steps the inner env; ``h`` is held for ``repeat``
    steps, the rewards are summed, and the loop stops early at termination or truncation.
    ``info["substeps"]`` is the number of inner steps taken. A wrapper around a wrapper is a
    deeper hierarchy. The upper layer's SAC should use the ``normal`` action prior.

    For K skills x N envs use :class:`~softskills.hierarchy.vec.LatentSkillEnvs`, which runs the
    layer once per step for all of them.

    Args:
        env: the env below (a bounded Box action space, or another ``LatentActionWrapper``).
        layer: the frozen lower layer.
        repeat: env steps per latent.
    """

    def __init__(self, env: gym.Env, layer: FrozenLayer, repeat: int = 1) -> None:
        super().__init__(env)
        if repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {repeat}")
        a = env.action_space
        if not isinstance(a, gym.spaces.Box) or a.shape != (layer.policy.act_dim,):
            raise ValueError(f"lower layer {layer.source or ''} outputs {layer.policy.act_dim} actions, but the env "
                             f"below has action space {a}")
        self._bounded = bool(np.all(np.isfinite(a.low)) and np.all(np.isfinite(a.high)))
        if layer.squash != self._bounded:
            raise ValueError(f"layer {layer.source or ''} has squash={layer.squash}, but the env below has "
                             f"{'a bounded' if self._bounded else 'an unbounded'} action space")
        layer.adapter.check(int(np.prod(env.observation_space.shape)))
        self.layer, self.repeat = layer, repeat
        self.action_space = gym.spaces.Box(-np.inf, np.inf, (layer.latent_dim,), np.float32)
        self._obs: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._obs = np.asarray(obs, dtype=np.float64)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        h = np.asarray(action, dtype=np.float64)
        total, n = 0.0, 0
        for _ in range(self.repeat):
            a = self.layer.act(h, self._obs)
            if self._bounded:
                a = scale_action(a, self.env.action_space.low, self.env.action_space.high)
            obs, r, terminated, truncated, info = self.env.step(a.astype(self.env.action_space.dtype))
            self._obs = np.asarray(obs, dtype=np.float64)
            total += float(r)
            n += 1
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, {**info, "substeps": n}
