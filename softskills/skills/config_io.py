"""TrainConfig <-> JSON, and the rules for which settings a resumed run may change."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from softskills.skills.checkpoint import CheckpointError
from softskills.skills.config import TrainConfig

__all__ = ["RESUMABLE_FIELDS", "LEGACY_DEFAULTS", "LEGACY_SQL_DEFAULTS", "config_to_dict", "config_from_dict",
           "resume_config"]

# Settings a resumed run may change: none of them changes the parameters it computes.
RESUMABLE_FIELDS = frozenset({
    "steps", "device", "progress", "threads", "tensorboard", "log_every", "checkpoint_every",
    "eval_every", "eval_episodes", "resume", "overwrite", "out", "fast_path", "retain_freed_memory",
})


# Fields added after checkpoints were first written, with the behaviour of the code before them:
# a checkpoint that lacks one was trained that way and resumes that way (the new defaults differ).
LEGACY_DEFAULTS: dict[str, Any] = {"graph_compile": False}
LEGACY_SQL_DEFAULTS: dict[str, Any] = {"svgd_space": "squashed"}


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """A JSON-able dict of a config."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _build(cls: type, d: dict[str, Any], where: str) -> Any:
    """Rebuild a (possibly nested) frozen dataclass from JSON values, refusing unknown fields."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise CheckpointError(f"{where} has unknown fields {sorted(unknown)} (written by a newer softskills?)")
    kwargs = {}
    for name, v in d.items():
        f = names[name]
        if isinstance(v, dict) and f.default_factory is not dataclasses.MISSING:
            v = _build(type(f.default_factory()), v, f"{where}.{name}")
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[name] = v
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where} is not a valid {cls.__name__}: {e}") from e


def config_from_dict(d: dict[str, Any], **overrides: Any) -> TrainConfig:
    """Inverse of :func:`config_to_dict`, with field overrides.

    A field missing from ``d`` takes its default, except the fields of :data:`LEGACY_DEFAULTS`
    and :data:`LEGACY_SQL_DEFAULTS`, which take the value that reproduces the code that wrote ``d``.

    Raises:
        CheckpointError: unknown fields or invalid values.
    """
    if not isinstance(d, dict):
        raise CheckpointError(f"checkpoint config must be a JSON object, got {type(d).__name__}")
    d = {**LEGACY_DEFAULTS, **d}
    if isinstance(d.get("sql"), dict):
        d["sql"] = {**LEGACY_SQL_DEFAULTS, **d["sql"]}
    return dataclasses.replace(_build(TrainConfig, d, "checkpoint config"), **overrides)


def resume_config(saved: TrainConfig, requested: TrainConfig, explicit: set[str] | None = None) -> TrainConfig:
    """The config of a resumed run: ``saved`` with the resumable settings of ``requested``.

    Args:
        saved: the config stored in the checkpoint.
        requested: what the user asked for.
        explicit: the fields the user set explicitly (the command line's flags). ``None``
            means every field of ``requested`` counts, as for ``Trainer(TrainConfig(resume=True))``.
            With a set, fields left at their default are taken from ``saved``.

    Raises:
        ValueError: a setting that would change the run differs from the checkpoint's (the
            message names every such field), or fewer steps than already done were asked for
            (checked by the trainer, which knows the step count).
    """
    changed = []
    for f in dataclasses.fields(TrainConfig):
        if f.name in RESUMABLE_FIELDS or (explicit is not None and f.name not in explicit):
            continue
        if getattr(saved, f.name) != getattr(requested, f.name):
            changed.append(f"{f.name} ({getattr(saved, f.name)!r} in the checkpoint, {getattr(requested, f.name)!r} asked)")
    if changed:
        raise ValueError(
            "--resume continues a run with its own settings; these would change it: " + "; ".join(changed)
            + f". Only {sorted(RESUMABLE_FIELDS - {'resume', 'overwrite', 'out'})} may change on resume"
        )
    keep = {n: getattr(requested, n) for n in RESUMABLE_FIELDS
            if explicit is None or n in explicit or n in ("resume", "out")}
    keep["overwrite"] = False
    keep["resume"] = True
    return dataclasses.replace(saved, **keep)
