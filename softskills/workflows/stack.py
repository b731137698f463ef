"""``softskills stack``: train a new layer in the latent space of a stored skill and add it with its ``stacked_on`` edge."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from softskills.hierarchy.adapter import ObsAdapter
from softskills.hierarchy.stack import PRETRAINED_PREFIX
from softskills.library import LibraryError, SkillLibrary
from softskills.library.pretrained import add_pretrained
from softskills.skills.config import TrainConfig
from softskills.workflows.common import add_run, check_free, default_name, skill_names, train_config

__all__ = ["StackArgs", "run_stack", "stack_skill"]


@dataclass(frozen=True)
class StackArgs(TrainConfig):
    """Train a new layer on a stored skill or ``pretrained:NAME`` (every ``train`` option) and add it, stacked on it."""

    lower: Annotated[str, tyro.conf.Positional] = ""
    """The skill to stack on: a library skill's name, or a shipped primitive ``pretrained:ant-velocity``
    (added to the library first, as a primitive skill, if it is not there)."""
    env: str = "softskills/PointMaze-v0"
    """Gymnasium environment id of the new layer (its observation starts with what LOWER observes)."""
    policy: Literal["gaussian", "realnvp"] = "realnvp"
    """Policy family of the new layer (a stacked layer must be ``realnvp``, so the stack stays invertible)."""
    out: str = ""
    """The run directory (default: ``runs/<name>``; LOWER is checked out into ``OUT/lower/``)."""
    library: str = "./skills"
    """The skill library holding LOWER; the new skill is added to it."""
    name: str = ""
    """The new skill's name (default: the env id's name); with K > 1, skill k is ``NAME-k``."""
    names: tuple[str, ...] = ()
    """One library name per skill (overrides ``--name``)."""
    tags: tuple[str, ...] = ()
    """Tags of the new skills."""
    keep_buffer: bool = False
    """Keep each new skill's replay buffer in the library."""


def stack_skill(
    lib: SkillLibrary,
    lower: str,
    cfg: TrainConfig,
    names: Sequence[str],
    *,
    tags: Iterable[str] = (),
    command: str = "",
    keep_buffer: bool = False,
    adapter: ObsAdapter | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` as a layer stacked on ``lower`` and add its skills to ``lib`` as ``names``.

    Args:
        lib: the library.
        lower: a skill of ``lib``, or ``pretrained:NAME`` (added as a primitive skill first).
        cfg: the new layer's config (its ``out`` is the run directory; ``stack_on`` is set here).
        names: one new skill name per skill of ``cfg``.
        tags: tags of the new skills.
        command: the command recorded on them.
        keep_buffer: keep their replay buffers.
        adapter: what the lower layer sees of the new env's observation (default: its first entries).

    Returns:
        JSON-able metrics: ``skills``, ``stacked_on``, ``run``, the trainer's metrics and ``train_wall_s``.

    Raises:
        LibraryError: unknown ``lower``, a name taken, or an add that fails (a dimension mismatch names both skills).
    """
    if not lower:
        raise LibraryError("softskills stack needs LOWER, the skill to stack on (a library skill or "
                           f"{PRETRAINED_PREFIX}NAME)")
    check_free(lib, names)
    out = Path(cfg.out)
    if lower.startswith(PRETRAINED_PREFIX):
        below = add_pretrained(lib, lower).name
        stack_on = lower
    else:
        rec = lib.get(lower)
        if rec.policy != "realnvp" or rec.algo != "sac":
            raise LibraryError(f"cannot stack on skill {lower!r}: it is a {rec.algo} {rec.policy} skill, and only a "
                               "SAC Real-NVP skill is invertible")
        below = lower
        stack_on = str(lib.checkout(lower, out / "lower"))
    from softskills.hierarchy import stacked_trainer

    cfg = dataclasses.replace(cfg, stack_on=stack_on)
    t0 = time.perf_counter()
    metrics = dict(stacked_trainer(cfg, adapter).train())
    train_s = time.perf_counter() - t0
    records = add_run(lib, out, names, tags=tags, command=command, keep_buffer=keep_buffer, stacked_on=below)
    return {"library": str(lib.path), "skills": [r.name for r in records], "stacked_on": below, "run": str(out),
            "env": cfg.env, "kind": "stacked", **metrics, "train_wall_s": train_s}


def run_stack(args: StackArgs, command: str = "") -> dict[str, Any]:
    """``softskills stack``: :func:`stack_skill` with the command's arguments."""
    if args.stack_on:
        raise LibraryError("softskills stack takes the lower skill as LOWER (a library skill name), not --stack-on")
    if args.resume:
        raise LibraryError("softskills stack does not resume; resume with softskills train --resume and add the "
                           "run with softskills library add")
    base = args.name or default_name(args.env)
    names = skill_names(base, args.names, args.skills)
    out = args.out or str(Path("runs") / base)
    # a library is created only to hold a shipped primitive; a library skill must be in an existing one
    lib = SkillLibrary(args.library, create=args.lower.startswith(PRETRAINED_PREFIX))
    cfg = train_config(args, out=out, stack_on="")
    return stack_skill(lib, args.lower, cfg, names, tags=args.tags,
                       command=command or f"softskills stack {args.lower} (library {args.library})",
                       keep_buffer=args.keep_buffer)
