"""Pretrained primitives shipped with the package, each with a model card."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from softskills.hierarchy.layer import FrozenLayer
from softskills.hierarchy.policy import HierarchicalPolicy
from softskills.skills.loading import load_run

__all__ = ["PRETRAINED", "load_primitive", "pretrained", "pretrained_card", "pretrained_dir"]

PRETRAINED: dict[str, str] = {"ant-velocity": "softskills/AntVelocity-v0"}
"""Shipped primitives: name -> the env they were trained on."""


def pretrained_dir(name: str) -> Path:
    """Where a shipped primitive lives (``checkpoint/`` and ``card.json``)."""
    if name not in PRETRAINED:
        raise ValueError(f"no pretrained primitive {name!r}; available: {sorted(PRETRAINED)}")
    path = Path(str(resources.files("softskills.hierarchy") / "weights" / name))
    if not (path / "card.json").exists():
        raise FileNotFoundError(f"the pretrained primitive {name!r} is not in this installation ({path})")
    return path


def pretrained_card(name: str) -> dict[str, Any]:
    """The model card of a shipped primitive (command, steps, seed, date, speed, direction spread, spaces, hash)."""
    return json.loads((pretrained_dir(name) / "card.json").read_text())


def pretrained(name: str) -> FrozenLayer:
    """A shipped primitive as a frozen layer, e.g. ``pretrained("ant-velocity")``.

    The weights are verified against their checkpoint hashes and against the model card's
    SHA-256 of ``state.safetensors``.
    """
    path = pretrained_dir(name)
    card = pretrained_card(name)
    digest = hashlib.sha256((path / "checkpoint" / "state.safetensors").read_bytes()).hexdigest()
    if digest != card.get("state_sha256"):
        raise ValueError(f"the weights of {name!r} do not match its model card (sha256 {digest})")
    layer = HierarchicalPolicy.load(path).layers[0]
    layer.source = f"pretrained:{name}"
    return layer


def load_primitive(spec: str) -> tuple[FrozenLayer, dict[str, Any]]:
    """A primitive as a frozen layer, with the env kwargs it was trained with.

    Args:
        spec: ``"pretrained:NAME"`` (a shipped primitive, see :func:`pretrained`) or the run directory
            of a trained Real-NVP run (e.g. of ``examples/pretrain_locomotion.py``).

    Returns:
        The layer, and the training env's kwargs (e.g. ``{"frame_skip": 2}``; ``{}`` for the defaults), so
        that a task built on the primitive can step its env the same way.
    """
    if spec.startswith("pretrained:"):
        name = spec.removeprefix("pretrained:")
        layer, trained = pretrained(name), pretrained_card(name)["config"].get("env_kwargs", "{}")
    else:
        if not (Path(spec) / "checkpoint").exists() and not (Path(spec) / "checkpoint.old").exists():
            raise FileNotFoundError(f"primitive {spec!r} is neither 'pretrained:NAME' nor a run directory with a "
                                    "checkpoint")
        layer, trained = FrozenLayer.from_run(spec), load_run(spec)[1].env_kwargs
    kwargs = json.loads(trained) if isinstance(trained, str) else dict(trained)
    return layer, kwargs
