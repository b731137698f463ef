"""``softskills pretrain``: train K primitives (K seeds or K tasks) in one batched update and add each to a library."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from softskills.library import LibraryError, SkillLibrary
from softskills.skills.config import TrainConfig
from softskills.workflows.common import add_run, check_free, default_name, skill_names, train_config

__all__ = ["PretrainArgs", "run_pretrain"]


@dataclass(frozen=True)
class PretrainArgs(TrainConfig):
    """Pretrain K primitives (K seeds or tasks, one batched update; every ``train`` option) and add each to a library."""

    env: str = "softskills/PointVelocity-v0"
    """Gymnasium environment id of the primitives (a continuous, bounded Box action space)."""
    policy: Literal["gaussian", "realnvp"] = "realnvp"
    """Policy family: ``realnvp`` (invertible: layers can be stacked on it) or ``gaussian``."""
    out: str = ""
    """The run directory (default: ``runs/<name>``)."""
    library: str = "./skills"
    """The skill library the skills are added to (created if missing)."""
    name: str = ""
    """The skill's library name (default: the env id's name); with K > 1, skill k is ``NAME-k``."""
    names: tuple[str, ...] = ()
    """One library name per skill (overrides ``--name``), e.g. ``--names push-x push-y``."""
    tags: tuple[str, ...] = ()
    """Tags of the new skills (``softskills library ls --tag``)."""
    keep_buffer: bool = True
    """Keep each skill's replay buffer in the library (needed to compose it later; ``--no-keep-buffer``
    saves disk)."""
    ray: bool = False
    """Run one Ray task per skill (K runs of K = 1 instead of one batched update); needs the ``[ray]`` extra."""
    address: str = ""
    """With ``--ray``: the Ray cluster to join (e.g. ``auto`` or ``ray://HOST:10001``); empty starts a local Ray.
    On a cluster, ``--library`` and ``--out`` must be on a file system every node shares."""
    ray_cpus: int = 0
    """With ``--ray`` and a local Ray: CPUs it may use (0: all of this machine's)."""


def run_pretrain(args: PretrainArgs, command: str = "") -> dict[str, Any]:
    """Train ``args`` and add its K skills to ``args.library``; returns JSON-able metrics.

    With ``args.ray`` the K skills are trained as K Ray tasks
    (:func:`softskills.workflows.ray_pretrain.pretrain_with_ray`): a failed task is reported by
    name in ``failed`` and the others are kept.

    Raises:
        LibraryError: a bad or taken name, ``stack_on`` given (use ``softskills stack``), or a failed add.
    """
    if args.stack_on:
        raise LibraryError("softskills pretrain trains primitives; to train a layer on a stored skill use "
                           "softskills stack LOWER ...")
    if args.resume:
        raise LibraryError("softskills pretrain does not resume; resume the run with softskills train --resume "
                           "and add it with softskills library add")
    base = args.name or default_name(args.env)
    names = skill_names(base, args.names, args.skills)
    out = args.out or str(Path("runs") / base)
    lib = SkillLibrary(args.library)
    check_free(lib, names)
    cfg = train_config(args, out=out, save_buffer=args.save_buffer or args.keep_buffer)
    command = command or f"softskills pretrain (library {args.library})"
    if args.ray:
        from softskills.workflows.ray_pretrain import pretrain_with_ray

        return pretrain_with_ray(cfg, lib, names, tags=args.tags, command=command, keep_buffer=args.keep_buffer,
                                 address=args.address, num_cpus=args.ray_cpus or None)
    t0 = time.perf_counter()
    metrics = train_run(cfg)
    train_s = time.perf_counter() - t0
    records = add_run(lib, out, names, tags=args.tags, command=command, keep_buffer=args.keep_buffer)
    return {"library": str(lib.path), "skills": [r.name for r in records], "run": out, "env": cfg.env,
            "kind": "primitive", **metrics, "train_wall_s": train_s, "failed": {}}


def train_run(cfg: TrainConfig) -> dict[str, Any]:
    """Train ``cfg`` with the plain :class:`~softskills.skills.trainer.Trainer`; its metrics."""
    from softskills.skills.trainer import Trainer

    return dict(Trainer(cfg).train())
