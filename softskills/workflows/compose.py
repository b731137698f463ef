"""``softskills compose`` on stored skills: compose library skills offline and add the result with its bounds.

``softskills compose RUN RUN ...`` (run directories) works as before; with ``--library DIR`` the
positional arguments are skill names: each constituent is checked out of the library with its
replay buffer, :func:`~softskills.compose.runs.compose_runs` extracts the composed policy (no env
step) and fits the bounds (C*, D*, D_exact statistics), and the composed run is added to the
library with a ``composed_from`` edge (and weight) to each constituent and the bounds on its node.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from softskills.compose.bounds import FitConfig
from softskills.compose.runs import ComposeArgs, compose_runs
from softskills.library import LibraryError, SkillLibrary, check_name

__all__ = ["LibraryComposeArgs", "compose_skills", "run_compose_command"]


@dataclass(frozen=True)
class LibraryComposeArgs(ComposeArgs):
    """Compose run directories, or with ``--library`` stored skills (bounds stored on the node), offline (thesis ch. 6)."""

    run_dirs: Annotated[tuple[str, ...], tyro.conf.Positional]
    """The constituents: run directories (trained with save_buffer=True; with ``--steps 0`` and no ``--bounds``
    their buffers are not needed), or with ``--library`` skill names (added with their replay buffers)."""
    library: str = ""
    """Compose skills of this library (the positional arguments are skill names) and add the result to it."""
    name: str = ""
    """With ``--library``: the composed skill's name (default: the constituents' names joined by ``_``)."""
    tags: tuple[str, ...] = ()
    """With ``--library``: tags of the composed skill."""
    fit: FitConfig = dataclasses.field(default_factory=FitConfig)
    """Settings of the bounds' fitted iteration (with ``--bounds``, and always with ``--library``)."""


def compose_skills(
    lib: SkillLibrary,
    skills: Sequence[str],
    name: str,
    weights: Sequence[float] | None = None,
    *,
    method: Literal["svgd", "sac"] = "svgd",
    steps: int = 10_000,
    fit: FitConfig | None = None,
    tags: Iterable[str] = (),
    command: str = "",
    out: str | None = None,
    **compose_kwargs: Any,
) -> dict[str, Any]:
    """Compose library ``skills`` offline into the new library skill ``name``, with its bounds.

    Args:
        lib: the library.
        skills: two or more constituents (primitive or composed skills added with ``keep_buffer``).
        name: the composed skill's name.
        weights: one positive weight per constituent (default: the mean).
        method: ``svgd`` or ``sac`` extraction.
        steps: extraction gradient steps.
        fit: the bounds' fitted-iteration settings (default ``FitConfig()``).
        tags: tags of the composed skill.
        command: the command recorded on it.
        out: where to keep the composed run directory (default: a temporary one, deleted after).
        **compose_kwargs: further keywords of :func:`~softskills.compose.runs.compose_runs`
            (``alpha``, ``policy``, ``batch_size``, ``hidden``, ``lr``, ``seed``, ``env_kwargs``, ``device``,
            ``progress``).

    Returns:
        ``compose_runs``'s metrics plus ``library``, ``skill``, ``composed_from`` (name -> weight).

    Raises:
        LibraryError: fewer than two or repeated constituents, an unknown one, one without its buffer
            or stacked, or a name already taken.
    """
    check_name(name)
    parts = list(skills)
    if len(parts) < 2 or len(set(parts)) != len(parts):
        raise LibraryError(f"composition needs two or more different skills, got {parts}")
    if name in lib:
        raise LibraryError(f"skill {name!r} already exists in library {lib.path}; pick another --name")
    for p in parts:
        rec = lib.get(p)
        if rec.kind == "stacked":
            raise LibraryError(f"skill {p!r} is stacked (hierarchical); composing stacked skills is not supported")
        if not rec.has_buffer:
            raise LibraryError(f"skill {p!r} was added without its replay buffer; offline composition trains on the "
                               "constituents' transitions: add it again with keep_buffer (softskills pretrain keeps "
                               "it by default; softskills library add --keep-buffer)")
    with tempfile.TemporaryDirectory(prefix="softskills-compose-") as tmp:
        runs = [str(lib.checkout(p, Path(tmp) / "parts")) for p in parts]
        target = Path(out) if out else Path(tmp) / name
        res = compose_runs(runs, list(weights) if weights else None, method, target, steps, skills=[0] * len(parts),
                           bounds=True, bounds_config=fit or FitConfig(device=compose_kwargs.get("device", "cpu")),
                           overwrite=out is not None, **compose_kwargs)
        composed_from = dict(zip(parts, res["weights"]))
        lib.add(name, target, composed_from=composed_from, bounds=res["bounds"], tags=tags,
                command=command or f"softskills compose {' '.join(parts)} --library {lib.path} --name {name}")
    res.update(library=str(lib.path), skill=name, composed_from=composed_from, out=str(out) if out else None)
    return res


def run_compose_command(args: ComposeArgs, command: str = "") -> dict[str, Any]:
    """``softskills compose``: run directories (as before) or, with ``--library``, library skills."""
    kwargs = json.loads(args.env_kwargs) if args.env_kwargs else None
    if kwargs is not None and not isinstance(kwargs, dict):
        raise ValueError(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}")
    library = getattr(args, "library", "")
    fit = getattr(args, "fit", None)
    fit = dataclasses.replace(fit, device=args.device) if fit is not None and fit.device != args.device else fit
    common = dict(alpha=args.alpha, policy=args.policy, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                  env_kwargs=kwargs, device=args.device, progress=args.progress)
    if not library:
        return compose_runs(list(args.run_dirs), list(args.weights) or None, args.method, args.out, args.steps,
                            skills=list(args.skills) or None, overwrite=args.overwrite, bounds=args.bounds,
                            bounds_config=fit, **common)
    if args.skills:
        raise LibraryError("--skills picks a skill of a run directory; library skills are single skills "
                           "(softskills pretrain adds skill k of a K-skill run as its own skill)")
    lib = SkillLibrary(library, create=False)
    name = args.name or "_".join(args.run_dirs)[:64]
    out = args.out if args.out != ComposeArgs.__dataclass_fields__["out"].default else None
    return compose_skills(lib, list(args.run_dirs), name, list(args.weights) or None, method=args.method,
                          steps=args.steps, fit=fit, tags=getattr(args, "tags", ()), command=command, out=out,
                          **common)
