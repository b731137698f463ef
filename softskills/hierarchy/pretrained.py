"""Primitives: the ones shipped with the package (each with a model card), and any trained run as a frozen layer."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from softskills.hierarchy.layer import FrozenLayer
from softskills.hierarchy.policy import HierarchicalPolicy
from softskills.skills.loading import load_run

__all__ = ["PRETRAINED", "load_primitive", "pretrained", "pretrained_card", "pretrained_dir",
           "pretrained_env_kwargs"]

PRETRAINED: dict[str, str] = {
    "ant-velocity": "softskills/AntVelocity-v0",
    "ant-velocity-4m": "softskills/AntVelocity-v0",
}
"""Shipped primitives: name -> the env they were trained on.

- ``ant-velocity``: 500,000 env steps at Ant-v5's 0.05 s step (frame skip 5).
- ``ant-velocity-4m``: 4,000,000 env steps, the thesis' budget, at rllab's 0.02 s step (frame skip 2; a
  stack on it must step its env the same way, see :func:`pretrained_env_kwargs`).

Each model card (``card.json``) has the command, steps, seed, date, speed and direction probe.
"""


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


def pretrained_env_kwargs(name: str) -> dict[str, Any]:
    """The env kwargs a shipped primitive was trained with (from its model card's config; ``{}``: defaults)."""
    kw = pretrained_card(name)["config"].get("env_kwargs", "{}")
    return json.loads(kw) if isinstance(kw, str) else dict(kw)


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
            of a trained single-skill Real-NVP run that is not itself stacked (e.g. of
            ``examples/pretrain_locomotion.py``).

    Returns:
        The layer, and the training env's kwargs (e.g. ``{"frame_skip": 2}``; ``{}`` for the defaults), so
        that a task built on the primitive can step its env the same way.

    Raises:
        FileNotFoundError: ``spec`` is neither a shipped name nor a readable run directory.
        ValueError: an unknown shipped name, or a run that is stacked or has several skills.
    """
    if spec.startswith("pretrained:"):
        name = spec.removeprefix("pretrained:")
        return pretrained(name), pretrained_env_kwargs(name)
    try:
        agent, cfg, _ = load_run(spec)
    except Exception as e:  # noqa: BLE001 - no run there, or an unreadable one: say which
        raise FileNotFoundError(f"primitive {spec!r} is neither 'pretrained:NAME' nor a readable run directory "
                                f"({type(e).__name__}: {e})") from e
    if cfg.stack_on or cfg.skills != 1:
        raise ValueError(f"primitive {spec!r} must be a single-skill run trained on its own env; it has "
                         f"{cfg.skills} skills and stack_on={cfg.stack_on!r}")
    return FrozenLayer(agent.policy, source=str(spec)), json.loads(cfg.env_kwargs)
