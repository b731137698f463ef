"""Probe a locomotion primitive: roll out fixed latents and measure where they take the agent."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from softskills.hierarchy.layer import FrozenLayer
from softskills.hierarchy.wrapper import LatentActionWrapper
from softskills.skills.vec import make_env

__all__ = ["fixed_latents", "latent_rollouts", "direction_stats"]


def fixed_latents(latent_dim: int, n: int = 16, seed: int = 0) -> np.ndarray:
    """``n`` latents ``h ~ N(0, I)`` drawn with a fixed seed, ``(n, latent_dim)``."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim))


def latent_rollouts(layer: FrozenLayer, env_id: str, latents: np.ndarray, steps: int = 200, seed: int = 0,
                    position_key: str = "xy_position", **env_kwargs: object) -> list[np.ndarray]:
    """The xy path of each latent held for a whole episode of up to ``steps`` env steps.

    Each rollout resets ``env_id`` with ``seed + i`` and reads ``info[position_key]`` after every
    step (the start position is read from the reset info when present, else taken as the first step's).
    """
    paths = []
    for i, h in enumerate(latents):
        env = LatentActionWrapper(make_env(env_id, **env_kwargs), layer)
        _, info = env.reset(seed=seed + i)
        path = [np.asarray(info[position_key], dtype=float)] if position_key in info else []
        for _ in range(steps):
            _, _, term, trunc, info = env.step(h)
            path.append(np.asarray(info[position_key], dtype=float))
            if term or trunc:
                break
        env.close()
        paths.append(np.stack(path))
    return paths


def direction_stats(paths: Sequence[np.ndarray], sectors: int = 8, min_distance: float = 0.5) -> dict[str, float]:
    """How the final positions spread over directions.

    Returns the mean final distance and speed per step, the number of distinct compass sectors
    (of ``sectors``) hit by paths that moved at least ``min_distance``, and the circular
    spread ``1 - |mean unit vector|`` of their final directions (0: all the same way; near 1: all around).
    """
    disp = np.stack([p[-1] - p[0] for p in paths])
    dist = np.linalg.norm(disp, axis=1)
    moved = dist >= min_distance
    angles = np.arctan2(disp[moved, 1], disp[moved, 0])
    hit = np.unique(np.floor((angles + math.pi) / (2 * math.pi) * sectors).astype(int) % sectors)
    spread = 1.0 - float(np.linalg.norm(np.stack([np.cos(angles), np.sin(angles)]).mean(1))) if moved.any() else 0.0
    return {"mean_distance": float(dist.mean()), "mean_speed_per_step": float(np.mean([d / max(len(p) - 1, 1)
            for d, p in zip(dist, paths)])), "moved": int(moved.sum()), "sectors_hit": int(len(hit)),
            "circular_spread": spread}
