"""Tiny trained runs for the library tests (a few seconds each on one thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from softskills.hierarchy import ObsSlice, stacked_trainer
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer

__all__ = ["TINY", "train_primitive", "train_stacked"]

TINY: dict[str, Any] = dict(
    steps=60, warmup_steps=30, batch_size=16, buffer_size=1000, sac=SACConfig(hidden=(16,)),
    flow_embed_hidden=(16,), eval_every=0, progress=False, tensorboard=False, threads=1, log_every=1000,
)
"""Settings of every tiny run: 60 env steps, 30 updates, 16-unit networks."""


def train_primitive(out: Path, env: str = "softskills/PointVelocity-v0", **kw: Any) -> Path:
    """Train a tiny primitive run (Real-NVP unless ``policy`` is given) into ``out``; returns ``out``."""
    Trainer(TrainConfig(env=env, out=str(out), **{"policy": "realnvp", **TINY, **kw})).train()
    return out


def train_stacked(out: Path, lower: Path, env: str = "softskills/PointMaze-v0", adapter: ObsSlice | None = None,
                  **kw: Any) -> Path:
    """Train a tiny layer stacked on the run ``lower`` (``repeat=2``; the lower layer sees the
    observation through ``adapter``, by default its first entries) into ``out``; returns ``out``."""
    cfg = TrainConfig(env=env, out=str(out), stack_on=str(lower), **{"policy": "realnvp", "repeat": 2, **TINY, **kw})
    stacked_trainer(cfg, adapter).train()
    return out
