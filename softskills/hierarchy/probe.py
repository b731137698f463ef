"""Probe a locomotion primitive: roll out fixed latents and measure where they take the agent."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from softskills.hierarchy.layer import FrozenLayer
from softskills.hierarchy.wrapper import LatentActionWrapper
from softskills.skills.vec import make_env

__all__ = ["fixed_latents", "latent_rollouts", "direction_stats", "direction_consistency", "latent_consistency",
           "task_return", "visited_observations", "latent_authority"]


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


def task_return(layer: FrozenLayer, env_id: str, episodes: int = 8, steps: int = 200, seed: int = 0,
                **env_kwargs: object) -> float:
    """The primitive's mean return on its own training task, acting as it was trained.

    Each episode resets ``env_id`` with ``seed + i`` and draws a fresh latent ``h ~ N(0, I)`` every env step
    (the training distribution, unlike :func:`latent_rollouts`, which holds one latent), for at most ``steps``
    steps. A trained primitive scores well above the same network with its weights scrambled, which a
    direction probe alone does not show.

    Args:
        layer: the frozen primitive.
        env_id: its training env, e.g. ``softskills/AntVelocity-v0``.
        episodes: how many episodes to average.
        steps: the most env steps per episode.
        seed: the first episode's reset seed, and the seed of the latents.
        **env_kwargs: the env's kwargs (e.g. ``frame_skip=2``; see ``pretrained_env_kwargs``).

    Returns:
        The mean over episodes of the summed env reward.

    Raises:
        ValueError: ``episodes`` or ``steps`` below 1.
    """
    totals: dict[int, float] = {}  # every episode has at least one step
    for i, _, reward in _fresh_latent_steps(layer, env_id, episodes, steps, seed, env_kwargs):
        totals[i] = totals.get(i, 0.0) + reward
    return float(np.mean(list(totals.values())))


def _fresh_latent_steps(layer: FrozenLayer, env_id: str, episodes: int, steps: int, seed: int,
                        env_kwargs: dict[str, object]) -> Iterator[tuple[int, np.ndarray, float]]:
    """``(episode, observation before the step, reward)`` for every env step of :func:`task_return`'s episodes:
    episode ``i`` reset with ``seed + i``, a fresh latent from ``np.random.default_rng(seed)`` every step, at most
    ``steps`` steps."""
    if episodes < 1 or steps < 1:
        raise ValueError(f"episodes and steps must be >= 1, got {episodes} and {steps}")
    rng = np.random.default_rng(seed)
    for i in range(episodes):
        env = LatentActionWrapper(make_env(env_id, **env_kwargs), layer)
        try:
            obs, _ = env.reset(seed=seed + i)
            for _ in range(steps):
                before = np.asarray(obs, dtype=np.float64).reshape(-1)
                obs, reward, term, trunc, _ = env.step(rng.standard_normal(layer.latent_dim))
                yield i, before, float(reward)
                if term or trunc:
                    break
        finally:
            env.close()


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


def _resultant(angles: np.ndarray) -> float:
    """``|mean unit vector|`` of ``angles``: 1 when all point the same way, near 0 when spread all around."""
    return float(np.hypot(np.cos(angles).mean(), np.sin(angles).mean()))


def direction_consistency(displacements: np.ndarray, min_distance: float = 0.5, permutations: int = 1000,
                          seed: int = 0) -> dict[str, float]:
    """Whether holding a latent decides the direction of travel, from repeated rollouts per latent.

    ``displacements`` has shape ``(L, R, 2)``: the final minus the start position of ``R`` rollouts
    (different starts, e.g. reset seeds) for each of ``L`` latents. Only rollouts that moved at
    least ``min_distance`` count, and only latents with at least two of them.

    * ``within``: the mean over latents of the resultant length of their repeats' directions
      (1: every repeat of a latent went the same way).
    * ``null``: the same statistic after the rollouts' directions are shuffled across latents,
      keeping each latent's count, averaged over ``permutations`` shuffles: what ``within`` is
      when the latent does not matter. With few repeats it is well above 0 (about 0.31 for 8
      uniform directions), so compare ``within`` with ``null``, not with 0.
    * ``p_value``: the share of shuffles whose statistic reaches ``within`` (add-one smoothed).
    * ``pooled``: the resultant length of all counted directions together.

    Args:
        displacements: ``(L, R, 2)`` final displacements.
        min_distance: a rollout that moved less has no direction to speak of.
        permutations: shuffles for ``null`` and ``p_value``.
        seed: the shuffles' random seed.

    Returns:
        ``latents`` and ``rollouts`` (how many counted), ``within``, ``null``, ``p_value`` and ``pooled``;
        the four statistics are NaN when no latent has two rollouts that moved.
    """
    d = np.asarray(displacements, dtype=float)
    if d.ndim != 3 or d.shape[2] != 2 or d.shape[1] < 2:
        raise ValueError(f"displacements must have shape (latents, repeats >= 2, 2); got {d.shape}")
    if permutations < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations}")
    moved = np.linalg.norm(d, axis=2) >= min_distance
    groups = [np.arctan2(d[i, moved[i], 1], d[i, moved[i], 0]) for i in range(d.shape[0]) if moved[i].sum() >= 2]
    nan = float("nan")
    if not groups:
        return {"latents": 0, "rollouts": 0, "within": nan, "null": nan, "p_value": nan, "pooled": nan}
    sizes = [len(g) for g in groups]
    pooled = np.concatenate(groups)
    within = float(np.mean([_resultant(g) for g in groups]))
    rng = np.random.default_rng(seed)
    null = np.empty(permutations)
    for j in range(permutations):
        shuffled = np.split(rng.permutation(pooled), np.cumsum(sizes)[:-1])
        null[j] = np.mean([_resultant(g) for g in shuffled])
    p_value = float((1 + np.sum(null >= within - 1e-12)) / (1 + permutations))
    return {"latents": len(groups), "rollouts": int(len(pooled)), "within": within, "null": float(null.mean()),
            "p_value": p_value, "pooled": _resultant(pooled)}


def latent_consistency(layer: FrozenLayer, env_id: str, latents: np.ndarray, repeats: int, steps: int = 200,
                       seed: int = 2000, position_key: str = "xy_position",
                       **env_kwargs: object) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Hold each latent from the same ``repeats`` starts: does the latent, or the start, decide the heading?

    Rollout ``j * repeats + r`` holds ``latents[j]`` from the reset seeded ``seed + r``, so every latent
    sees the same starts. The final displacements, shape ``(L, repeats, 2)``, go to
    :func:`direction_consistency` twice: grouped by latent (does a latent head the same way from every
    start?) and grouped by start (do all latents head the same way from one start?).

    Args:
        layer: the frozen primitive.
        env_id: the environment (its ``info[position_key]`` is the xy position).
        latents: ``(L, latent_dim)`` latents to hold, at least 2.
        repeats: starts per latent, at least 2.
        steps: env steps each latent is held.
        seed: the first start's reset seed.
        position_key: the ``info`` key of the xy position.
        **env_kwargs: passed to the environment (e.g. its ``frame_skip``).

    Returns:
        The by-latent statistics plus ``repeats`` and ``by_start`` (the by-start statistics), and the
        ``L * repeats`` xy paths in rollout order.
    """
    if repeats < 2:
        raise ValueError(f"repeats must be at least 2 to compare a latent's rollouts, got {repeats}")
    if len(latents) < 2:
        raise ValueError(f"need at least 2 latents to compare them from one start, got {len(latents)}")
    paths = [latent_rollouts(layer, env_id, latents[j:j + 1], steps=steps, seed=seed + r, position_key=position_key,
                             **env_kwargs)[0]
             for j in range(len(latents)) for r in range(repeats)]
    disp = np.stack([p[-1] - p[0] for p in paths]).reshape(len(latents), repeats, 2)
    by_start = direction_consistency(disp.transpose(1, 0, 2))
    return {"repeats": repeats, **direction_consistency(disp), "by_start": by_start}, paths


def visited_observations(layer: FrozenLayer, env_id: str, episodes: int = 4, steps: int = 250, seed: int = 0,
                         **env_kwargs: object) -> np.ndarray:
    """The observations a primitive visits acting as it was trained (a fresh ``h ~ N(0, I)`` every env step).

    Episode ``i`` resets ``env_id`` with ``seed + i`` and runs for at most ``steps`` steps; the latents are
    drawn from ``np.random.default_rng(seed)``. The observation before each step is kept.

    Returns:
        ``(N, obs_dim)`` float64 observations, ``N <= episodes * steps`` (fewer when an episode ends early).

    Raises:
        ValueError: ``episodes`` or ``steps`` below 1.
    """
    return np.stack([obs for _, obs, _ in _fresh_latent_steps(layer, env_id, episodes, steps, seed, env_kwargs)])


def latent_authority(layer: FrozenLayer, observations: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """How far the layer's latent moves its action: the Jacobian ``d a / d h`` at ``h ~ N(0, I)``.

    A layer above acts only through ``h``. If ``a = f(h; s)`` barely changes with ``h`` (a primitive
    trained at a low temperature maps all of N(0, I) to nearly one action), the layer above has little
    to steer with, however well it learns. For the identity flow with a tanh squash, ``a = tanh(h)``,
    the Jacobian is ``diag(1 - tanh(h)^2)``.

    For each observation one latent is drawn; the Jacobian is taken with one backward pass per action
    dimension for all observations at once (each action row depends only on its own latent).

    Args:
        layer: the frozen layer.
        observations: ``(N, D)`` observations of the env it acts in, e.g. visited states.
        seed: the seed of the latents.

    Returns:
        ``singular_values``: the median over observations of each of the Jacobian's singular values,
        largest first; ``log_det``: the median ``log|det d a / d h|``; ``action_gap``: the mean
        ``|a(h1) - a(h2)|`` for two independent latents at the same observation; ``saturated``: the share
        of action entries with ``|a| > 0.99`` (only for a squashed layer, else 0).

    Raises:
        ValueError: ``observations`` is not a non-empty ``(N, D)`` array.
    """
    obs = np.asarray(observations, dtype=np.float64)
    if obs.ndim != 2 or len(obs) == 0:
        raise ValueError(f"observations must be a non-empty (N, D) array, got shape {obs.shape}")
    w = next(layer.policy.parameters())
    gen = torch.Generator().manual_seed(seed)
    n, d = len(obs), layer.latent_dim
    o = torch.as_tensor(obs, dtype=w.dtype, device=w.device)
    h1 = torch.randn(n, d, generator=gen, dtype=w.dtype).to(w.device).requires_grad_(True)
    h2 = torch.randn(n, d, generator=gen, dtype=w.dtype).to(w.device)
    with torch.enable_grad():
        a1, log_det = layer(h1, o)
        rows = [torch.autograd.grad(a1[:, j].sum(), h1, retain_graph=j < d - 1)[0] for j in range(d)]
    jac = torch.stack(rows, dim=1)  # (N, d_action, d_latent): jac[b, j, i] = d a_j / d h_i at observation b
    sv = torch.linalg.svdvals(jac.detach().double()).cpu().numpy()
    with torch.no_grad():
        a2 = layer(h2, o)[0]
    a1 = a1.detach()
    return {"singular_values": np.median(sv, axis=0).tolist(),
            "log_det": float(np.median(log_det.detach().double().cpu().numpy())),
            "action_gap": float((a1 - a2).norm(dim=1).mean()),
            "saturated": float((a1.abs() > 0.99).double().mean()) if layer.squash else 0.0}
