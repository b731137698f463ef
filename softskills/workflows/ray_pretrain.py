"""``softskills pretrain --ray``: one Ray task per skill, each writing its skill into the library itself.

Each task trains a K = 1 run (skill k's seed ``seed + k`` and task ``tasks[k]``) and adds it to
the library through :meth:`SkillLibrary.add` (the library's lock file and atomic writes, so
tasks finishing together cannot corrupt it). A task that fails is reported by its skill's name;
the skills of the other tasks are kept. Ray is the optional extra ``[ray]``; Ray pickles the
task's arguments, so only plain JSON (the config as a dict, names, paths) is passed to it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from softskills.library import SkillLibrary
from softskills.skills.config import TrainConfig
from softskills.skills.config_io import config_from_dict, config_to_dict

__all__ = ["RAY_INSTALL", "pretrain_with_ray", "skill_configs", "train_and_add"]

RAY_INSTALL = 'pip install -e ".[ray]"'
"""How to install the ``[ray]`` extra from a checkout."""


def skill_configs(cfg: TrainConfig, names: Sequence[str]) -> list[TrainConfig]:
    """The K = 1 config of each of ``cfg``'s K skills: seed ``seed + k``, task ``tasks[k]``, out ``OUT/<name>``."""
    out = Path(cfg.out).expanduser().absolute()
    return [dataclasses.replace(cfg, skills=1, seed=cfg.seed + k, tasks=(cfg.tasks[k],) if cfg.tasks else (),
                                out=str(out / n), threads=cfg.threads or 1, progress=False)
            for k, n in enumerate(names)]


def train_and_add(config: dict[str, Any], library: str, name: str, tags: list[str], command: str,
                  keep_buffer: bool) -> dict[str, Any]:
    """One Ray task: train the K = 1 run ``config`` and add it to ``library`` as ``name``; its metrics."""
    import torch

    from softskills.skills.trainer import Trainer

    cfg = config_from_dict(config)
    torch.set_num_threads(cfg.threads or 1)
    t0 = time.perf_counter()
    metrics = dict(Trainer(cfg).train())
    wall = time.perf_counter() - t0
    SkillLibrary(library).add(name, cfg.out, tags=tags, command=command, keep_buffer=keep_buffer)
    return {"name": name, "run": cfg.out, **metrics, "train_wall_s": wall}


def _reason(e: BaseException) -> str:
    cause = getattr(e, "cause", None)
    err = cause if isinstance(cause, BaseException) else e
    first = str(err).strip().splitlines()
    return f"{type(err).__name__}: {first[-1] if first else ''}"


def pretrain_with_ray(
    cfg: TrainConfig,
    lib: SkillLibrary,
    names: Sequence[str],
    *,
    tags: Iterable[str] = (),
    command: str = "",
    keep_buffer: bool = True,
    address: str = "",
    num_cpus: int | None = None,
) -> dict[str, Any]:
    """Train ``cfg``'s K skills as K Ray tasks (one CPU each) and add each to ``lib`` as it finishes.

    Args:
        cfg: the batched config; skill k becomes a K = 1 run (see :func:`skill_configs`).
        lib: the library (on a cluster: on a file system every node shares).
        names: the K skills' names.
        tags: tags of every new skill.
        command: the command recorded on each skill.
        keep_buffer: keep each skill's replay buffer.
        address: the Ray cluster to join; empty starts a local Ray (shut down at the end).
        num_cpus: CPUs of a local Ray (``None``: all).

    Returns:
        ``skills`` (added, in order), ``failed`` (``{name: "ErrorType: message"}``), ``per_skill``
        metrics, ``ray`` (address, tasks) and ``wall_s``.

    Raises:
        ValueError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise ValueError(f"softskills pretrain --ray needs Ray, the optional extra [ray]: {RAY_INSTALL}") from None
    configs = skill_configs(cfg, names)
    t0 = time.perf_counter()
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(train_and_add)
        refs = {n: task.remote(config_to_dict(c), str(lib.path), n, list(tags), command, keep_buffer)
                for n, c in zip(names, configs)}
        per_skill: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        for n, ref in refs.items():
            try:
                per_skill[n] = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a failed task is reported by name, the others kept
                failed[n] = _reason(e)
        used = address or "local"
    finally:
        if started:
            ray.shutdown()
    return {"library": str(lib.path), "skills": [n for n in names if n in per_skill], "failed": failed,
            "per_skill": per_skill, "env": cfg.env, "kind": "primitive",
            "ray": {"address": used, "tasks": len(configs)}, "wall_s": time.perf_counter() - t0}
