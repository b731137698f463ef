"""One skill of a K-skill run as a run of its own (K = 1), so that each of K skills trained in one
batched update becomes its own library skill.

The K skills of a run are stacked along the leading dimension of every agent tensor: member
``k`` of a ``(K, ...)`` tensor, members ``m k .. m k + m - 1`` of an ``(m K, ...)`` one (the
twin critics: member ``2k + j`` is twin ``j`` of skill ``k``); tensors that do not scale with K
(e.g. a flow's feature masks) are shared. :func:`split_run` slices them by comparing the run's
shapes with a freshly built K = 1 agent's, and then checks the result: the split agent's critic,
deterministic actions and temperature must equal the run's skill ``k`` exactly, or nothing is
written. The replay buffer (``(K, size, ...)``) is sliced the same way.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from softskills.library.errors import LibraryError
from softskills.skills.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from softskills.skills.config_io import config_from_dict, config_to_dict
from softskills.skills.factory import build_agent
from softskills.skills.loading import load_agent_state

__all__ = ["num_skills", "split_run"]

_KEPT_META = ("spaces", "step", "num_updates", "run_info")


def num_skills(run_dir: str | os.PathLike[str]) -> int:
    """K, the skills a run trained together (from its checkpoint's config)."""
    try:
        _, meta, _ = load_checkpoint(run_dir)
        return int(config_from_dict(meta.get("config")).skills)
    except (CheckpointError, TypeError, ValueError) as e:
        raise LibraryError(f"{run_dir} is not a valid run: {e}") from e


def _slice(key: str, src: Tensor, like: Tensor, k: int, n: int) -> Tensor:
    if src.shape == like.shape and (src.dim() == 0 or src.shape[0] != n * like.shape[0]):
        return src.clone()
    if src.dim() > 0 and like.dim() > 0 and src.shape[0] == n * like.shape[0] and src.shape[1:] == like.shape[1:]:
        m = like.shape[0]
        return src[m * k: m * (k + 1)].clone()
    raise LibraryError(f"cannot split tensor {key!r} of shape {tuple(src.shape)} into one of {n} skills "
                       f"(a K = 1 agent has shape {tuple(like.shape)})")


def _check_same(run: nn.Module, one: nn.Module, k: int, obs_dim: int, act_dim: int, where: str) -> None:
    """Skill ``k`` of ``run`` and the K = 1 ``one`` agree exactly on Q, deterministic actions and temperature."""
    n = int(run.critic.num_skills)
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(n, 8, obs_dim, generator=gen)
    act = torch.rand(n, 8, act_dim, generator=gen) * 2 - 1
    with torch.no_grad():
        pairs = [(run.critic(obs, act)[k], one.critic(obs[k:k + 1], act[k:k + 1])[0], "Q"),
                 (run.act(obs, deterministic=True)[k], one.act(obs[k:k + 1], deterministic=True)[0], "action")]
        if hasattr(run, "log_alpha"):
            pairs.append((run.log_alpha[k], one.log_alpha[0], "temperature"))
    for a, b, what in pairs:
        if not torch.equal(a, b):
            raise LibraryError(f"splitting skill {k} out of {where} changed its {what} (max difference "
                               f"{float((a - b).abs().max()):.3g}); this agent's layout cannot be split")


def split_run(run_dir: str | os.PathLike[str], skill: int, out: str | os.PathLike[str]) -> Path:
    """Write skill ``skill`` of the K-skill run ``run_dir`` as a K = 1 run directory ``out``.

    The new run keeps the agent (not the optimizer, RNG or trainer state, so it cannot be
    resumed), the replay buffer if the run saved one, the spaces, step counts and ``run_info``
    (plus ``run_info.split_from``: the run, the skill and K). Its config has ``skills = 1``,
    the skill's own task and seed ``seed + skill`` (the seed skill ``skill`` was trained with).

    Returns:
        ``out``.

    Raises:
        LibraryError: not a valid run, ``skill`` out of range, or an agent whose tensors cannot be
            split exactly (checked on the critic, the actions and the temperature).
    """
    try:
        tensors, meta, buffer = load_checkpoint(run_dir)
        cfg = config_from_dict(meta.get("config"))
    except (CheckpointError, TypeError, ValueError) as e:
        raise LibraryError(f"{run_dir} is not a valid run: {e}") from e
    n = cfg.skills
    if not 0 <= skill < n:
        raise LibraryError(f"skill {skill} is out of range: the run {run_dir} has {n} skill(s)")
    if any(not k.startswith(("agent/", "optim/", "rng/", "trainer/")) for k in tensors):
        raise LibraryError(f"{run_dir} holds more than a trained agent (e.g. a composed run); it cannot be split")
    spaces = meta["spaces"]
    obs_dim, act_dim = int(np.prod(spaces["obs_shape"])), int(np.prod(spaces["act_shape"]))
    bounded = bool(np.all(np.isfinite(spaces["act_low"])) and np.all(np.isfinite(spaces["act_high"])))
    tasks = list(meta.get("tasks") or cfg.task_kwargs())
    one_cfg = dataclasses.replace(cfg, skills=1, tasks=(cfg.tasks[skill],) if cfg.tasks else (),
                                  seed=cfg.seed + skill, out=str(out), resume=False)
    run_agent = build_agent(cfg, obs_dim, act_dim, squash=bounded)
    load_agent_state(run_agent, tensors)
    one = build_agent(one_cfg, obs_dim, act_dim, squash=bounded)
    like = one.state_dict()
    agent = {k[len("agent/"):]: v for k, v in tensors.items() if k.startswith("agent/")}
    extra = sorted(set(agent) - set(like))
    if extra:
        raise LibraryError(f"cannot split {run_dir}: its agent has tensors a K = 1 agent lacks: {extra[:5]}")
    split = {f"agent/{key}": _slice(key, agent[key], like[key], skill, n) for key in like}
    load_agent_state(one, split)
    _check_same(run_agent, one, skill, obs_dim, act_dim, str(run_dir))
    run_info = dict(meta.get("run_info") or {})
    run_info["split_from"] = {"run": str(Path(run_dir).expanduser().absolute()), "skill": skill, "num_skills": n,
                              "run_last_eval_mean": meta.get("last_eval")}
    new_meta: dict[str, Any] = {k: meta[k] for k in _KEPT_META if k in meta}
    new_meta.update(config=config_to_dict(one_cfg), tasks=[tasks[skill]], run_info=run_info, last_eval=None)
    new_buffer = None
    if buffer is not None and meta.get("buffer"):
        new_buffer = {k: v[skill:skill + 1].clone() for k, v in buffer.items()}
        new_meta["buffer"] = meta["buffer"]
    try:
        save_checkpoint(out, split, new_meta, new_buffer)
    except CheckpointError as e:
        raise LibraryError(f"cannot write skill {skill} of {run_dir} to {out}: {e}") from e
    return Path(out)
