"""The vectorised latent-action env: K x N envs whose action is a frozen lower layer's latent."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from softskills.hierarchy.layer import FrozenLayer
from softskills.skills.vec import StepResult

__all__ = ["LatentSkillEnvs"]


class LatentSkillEnvs:
    """Embed a frozen layer in a :class:`~softskills.skills.vec.SkillEnvs` (or another ``LatentSkillEnvs``).

    The action of every env is the lower layer's latent ``h`` (an unbounded ``Box``). At every
    env step, the lower layer maps ``h`` to an action on the *current* observation, as the
    original did (originals.md §1.7), with **one** batched forward for all K x N envs. ``h`` is
    held for ``repeat`` env steps (the control interval); the rewards are **summed** over those
    sub-steps (the original kept only the last one), and an env that terminates or is
    truncated stops early. ``infos[k][i]["substeps"]`` is the number of sub-steps taken.

    Wrapping a ``LatentSkillEnvs`` in another one gives a deeper hierarchy: the inner one's
    action space is unbounded, so the outer layer's (unsquashed) output is its latent.

    Args:
        base: the envs below (with ``current_obs``, ``step(actions, active)``, ...).
        layer: the frozen lower layer.
        repeat: env steps per latent (>= 1).
    """

    def __init__(self, base: Any, layer: FrozenLayer, repeat: int = 1) -> None:
        if repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {repeat}")
        if layer.squash != base.bounded:
            kind = "bounded" if base.bounded else "unbounded (a latent space)"
            raise ValueError(f"layer {layer.source or ''} has squash={layer.squash}, but the env below has a "
                             f"{kind} action space")
        if base.act_dim != layer.policy.act_dim:
            raise ValueError(f"lower layer {layer.source or ''} outputs {layer.policy.act_dim} actions, "
                             f"but the env below takes {base.act_dim}")
        layer.adapter.check(base.obs_dim)
        self.base, self.layer, self.repeat = base, layer, repeat
        self.num_skills, self.num_envs = base.num_skills, base.num_envs
        self.observation_space = base.observation_space
        self.action_space = gym.spaces.Box(-np.inf, np.inf, (layer.latent_dim,), np.float32)
        self.obs_dim, self.act_dim = base.obs_dim, layer.latent_dim
        self.bounded = False
        self.name = f"{getattr(base, 'name', 'env')}+latent"

    @property
    def current_obs(self) -> np.ndarray:
        """The observation each env would be acted on next (that of the env below)."""
        return self.base.current_obs

    @current_obs.setter
    def current_obs(self, obs: np.ndarray) -> None:
        self.base.current_obs = obs

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        """Reset every env (see :meth:`SkillEnvs.reset`)."""
        return self.base.reset(seeds)

    def step(self, latents: np.ndarray, active: np.ndarray | None = None) -> StepResult:
        """Hold ``latents`` ``(K, N, d)`` for up to ``repeat`` env steps of every active env."""
        k_, n_ = self.num_skills, self.num_envs
        alive = np.ones((k_, n_), dtype=bool) if active is None else active.copy()
        started = alive.copy()
        obs = self.base.current_obs.copy()
        final = np.full_like(obs, np.nan)
        total = np.zeros((k_, n_))
        term = np.zeros((k_, n_), dtype=bool)
        done = np.zeros((k_, n_), dtype=bool)
        substeps = np.zeros((k_, n_), dtype=np.int64)
        infos: list[list[dict[str, Any]]] = [[{} for _ in range(n_)] for _ in range(k_)]
        for _ in range(self.repeat):
            actions = self.layer.act(latents, obs)  # one batched forward for all K x N envs
            res = self.base.step(actions, active=alive)
            total += np.where(alive, res.reward, 0.0)
            substeps += alive
            ended = res.done & alive
            final[ended] = res.final_obs[ended]
            term |= res.terminated & alive
            done |= ended
            for i, j in zip(*np.nonzero(alive)):
                infos[i][j] = res.infos[i][j]
            obs = np.where(alive[..., None], res.obs, obs)
            alive &= ~res.done
            if not alive.any():
                break
        running = started & ~done
        final[running] = obs[running]
        for i, j in zip(*np.nonzero(started)):
            infos[i][j] = {**infos[i][j], "substeps": int(substeps[i, j])}
        return StepResult(np.where(started[..., None], obs, np.nan), final, total, term, done, infos)

    def get_states(self) -> list[list[dict[str, Any] | None]]:
        """Snapshots of the envs below (the frozen layer has no state)."""
        return self.base.get_states()

    def set_states(self, states: list[list[dict[str, Any] | None]]) -> np.ndarray:
        """Restore :meth:`get_states`."""
        return self.base.set_states(states)

    def close(self) -> None:
        """Close the envs below."""
        self.base.close()
