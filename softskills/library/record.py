"""What the library knows about one skill: its name rules, its kinds, and :class:`SkillRecord`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from softskills.library.errors import LibraryError

__all__ = ["KINDS", "EDGE_KINDS", "SkillRecord", "check_name"]

KINDS = ("primitive", "stacked", "composed")
"""Skill kinds: trained directly, trained in the latent space of another skill, or composed from skills."""
EDGE_KINDS = ("stacked_on", "composed_from")
"""Lineage edge kinds: upper layer -> the layer below it, composed skill -> each constituent."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_name(name: object, what: str = "skill name") -> str:
    """Return ``name`` if it is a safe skill name, else raise a :class:`LibraryError` saying why.

    Safe names are 1-64 characters of letters, digits, ``_``, ``-`` and ``.``, starting with a
    letter or digit (so a name is always one plain directory name: no ``/``, no ``..``, no
    hidden files).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise LibraryError(
            f"invalid {what} {name!r}: use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class SkillRecord:
    """One skill of a library, as its lineage graph records it."""

    name: str
    """The skill's name (its directory is ``<library>/skills/<name>``)."""
    kind: str
    """``primitive``, ``stacked`` or ``composed``."""
    path: Path
    """The skill's run directory inside the library (``load_run`` reads it)."""
    env: str
    """The gymnasium id of the env it acts in (for a stacked skill: the env of its own layer)."""
    env_kwargs: dict[str, Any]
    """That env's keyword arguments (the reward or goal spec shared by its skills)."""
    tasks: list[dict[str, Any]]
    """Per-skill env kwargs (the K skills' reward or goal specs)."""
    algo: str
    """``sac`` or ``sql``."""
    policy: str
    """The policy family (``gaussian`` or ``realnvp``)."""
    num_skills: int
    """K, the skills trained together in the run."""
    obs_dim: int
    """Width of the observation."""
    act_dim: int
    """Width of the action (for a stacked skill: of the latent of the layer below)."""
    spaces: dict[str, Any]
    """``obs_shape``, ``act_shape``, ``act_low``, ``act_high`` as the checkpoint records them."""
    steps: int
    """Env steps the run was trained for."""
    has_buffer: bool
    """Whether the library keeps the run's replay buffer (needed to compose the skill offline)."""
    last_eval: float | None
    """The run's last evaluation return, if it had one."""
    tags: tuple[str, ...]
    """Free-form labels for :meth:`~softskills.library.SkillLibrary.find`."""
    command: str
    """The command that made the skill (as given to ``add``)."""
    softskills_version: str
    """The softskills version that added it to the library."""
    source: str
    """The absolute run directory it was copied from (provenance only; never read again)."""
    added: str
    """When it was added (UTC, ISO 8601)."""
    uid: str
    """A random id written both in the graph and in the skill's checkpoint, tying the two together."""
    stacked_on: str | None = None
    """For a stacked skill: the skill it was trained on, one layer below."""
    composed_from: dict[str, float] = field(default_factory=dict)
    """For a composed skill: its constituents and their weights."""
    bounds: dict[str, Any] | None = None
    """For a composed skill: the composition-bound statistics it was given (C*, D*, D_exact)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (``path`` as a string), e.g. for ``softskills library show``."""
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        d["path"], d["tags"] = str(self.path), list(self.tags)
        return d
