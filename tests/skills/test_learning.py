"""Learning tests: seeded, small budgets, real outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from softskills.skills.config import TrainConfig
from softskills.skills.trainer import Trainer


@pytest.mark.slow
def test_sac_gaussian_solves_pendulum(tmp_path: Path) -> None:
    # The bar is >= -250 within 15k env steps; 8k steps reach it with margin (about -125
    # at 5k steps in a 15k-step CLI run, seed 0), which keeps the suite short on 2 cores.
    cfg = TrainConfig(env="Pendulum-v1", steps=8000, warmup_steps=1000, seed=0, out=str(tmp_path / "p"),
                      eval_every=0, eval_episodes=10, progress=False, tensorboard=False, threads=1)
    metrics = Trainer(cfg).train()
    assert metrics["eval_return"] >= -250, metrics


@pytest.mark.slow
def test_sac_realnvp_solves_pendulum(tmp_path: Path) -> None:
    # Issue 4's bar: >= -250 within 15k env steps. Seed 0 evaluated -154 at 4k, -123 at 6k and
    # -122 at 8k steps (2026-11-24, CPU box); 6k steps keeps the test short with a wide margin.
    cfg = TrainConfig(env="Pendulum-v1", policy="realnvp", steps=6000, warmup_steps=1000, seed=0,
                      out=str(tmp_path / "p"), eval_every=0, eval_episodes=10, progress=False,
                      tensorboard=False, threads=1)
    metrics = Trainer(cfg).train()
    assert metrics["eval_return"] >= -250, metrics
