"""What the workflows share: turning command arguments into a ``TrainConfig``, naming K skills, adding a run's K skills."""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from softskills.library import LibraryError, SkillLibrary, SkillRecord, check_name
from softskills.library.split import num_skills, split_run
from softskills.skills.config import TrainConfig

__all__ = ["add_run", "default_name", "skill_names", "train_config"]


def train_config(args: TrainConfig, **overrides: Any) -> TrainConfig:
    """The plain :class:`TrainConfig` part of a command's arguments (a subclass of it), with ``overrides``."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    values.update(overrides)
    return TrainConfig(**values)


def default_name(env: str) -> str:
    """A skill name from an env id: ``softskills/PointVelocity-v0`` -> ``PointVelocity-v0``."""
    base = re.sub(r"[^A-Za-z0-9_.-]", "-", env.rsplit("/", 1)[-1]).strip("-._") or "skill"
    return check_name(base[:60])


def skill_names(name: str, names: Sequence[str], k: int) -> list[str]:
    """The library names of a run's K skills: ``names`` if given (one per skill), ``name`` for K = 1,
    else ``name-0`` .. ``name-(K-1)``.

    Raises:
        LibraryError: a wrong count, an invalid or repeated name.
    """
    if names:
        out = list(names)
        if len(out) != k:
            raise LibraryError(f"got {len(out)} skill name(s) {out} for {k} skill(s); give one name per skill")
    else:
        out = [name] if k == 1 else [f"{name}-{i}" for i in range(k)]
    for n in out:
        check_name(n)
    if len(set(out)) != len(out):
        raise LibraryError(f"skill names must differ, got {out}")
    return out


def check_free(lib: SkillLibrary, names: Iterable[str]) -> None:
    """Refuse, before any training, names the library already has."""
    taken = [n for n in names if n in lib]
    if taken:
        raise LibraryError(f"skill(s) {taken} already exist in library {lib.path}; pick other names "
                           "(--name/--names) or remove them (softskills library rm NAME)")


def add_run(
    lib: SkillLibrary,
    run_dir: str | os.PathLike[str],
    names: Sequence[str],
    *,
    tags: Iterable[str] = (),
    command: str = "",
    keep_buffer: bool = False,
    stacked_on: str | None = None,
) -> list[SkillRecord]:
    """Add each of the K skills of the run ``run_dir`` to ``lib`` under ``names[k]``.

    A K = 1 run is added as it is; skill k of a K-skill run is first split out into a run of its
    own (:func:`~softskills.library.split.split_run`), so every library skill is one policy with
    its own Q-functions (and buffer). The K skills are added in one commit
    (:meth:`~softskills.library.SkillLibrary.add_many`): the library lists all of them or none.

    Raises:
        LibraryError: a wrong number of names, or an add that fails (naming the skill).
    """
    k = num_skills(run_dir)
    if len(names) != k:
        raise LibraryError(f"the run {run_dir} has {k} skill(s) but {len(names)} name(s) were given: {list(names)}")
    kw: dict[str, Any] = dict(tags=list(tags), command=command, keep_buffer=keep_buffer, stacked_on=stacked_on)
    if k == 1:
        return [lib.add(names[0], run_dir, **kw)]
    with tempfile.TemporaryDirectory(prefix="softskills-split-") as tmp:
        entries = [dict(name=n, run_dir=split_run(run_dir, i, Path(tmp) / n), **kw,
                        source=f"{Path(run_dir).expanduser().absolute()}#skill{i}") for i, n in enumerate(names)]
        return lib.add_many(entries)
