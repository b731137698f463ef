"""The point-mass hierarchy end to end: Algorithm 4 on PointVelocity -> PointMaze, against flat SAC."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from softskills.hierarchy import run_env_factory, stacked_trainer
from softskills.skills.config import TrainConfig
from softskills.skills.evaluate import evaluate
from softskills.skills.loading import load_run
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer

COMMON = dict(progress=False, tensorboard=False, eval_every=0, eval_episodes=5, log_every=1000, threads=1,
              batch_size=128, seed=0)
NETS = dict(flow_embed_hidden=(64, 64), flow_st_hidden=(16,))
REPEAT = 5


def success(run: Path) -> float:
    """Success rate of 20 sampled episodes (the top latent is drawn from the policy each step; the
    deterministic h = 0 of a direction-symmetric primitive stands still)."""
    agent, cfg, meta = load_run(run)
    torch.manual_seed(0)
    res = evaluate(agent, run_env_factory(cfg, meta.get("run_info"))(20), seed=123, deterministic=False)
    return float(np.mean([[bool(i["success"]) for i in row] for row in res.final_infos]))


@pytest.fixture(autouse=True)
def _restore_threads():  # type: ignore[no-untyped-def]
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.mark.slow
def test_two_layer_hierarchy_solves_the_maze_and_flat_sac_does_not(tmp_path: Path) -> None:
    start = time.perf_counter()
    Trainer(TrainConfig(env="softskills/PointVelocity-v0", policy="realnvp", steps=3000, warmup_steps=500,
                        out=str(tmp_path / "prim"), sac=SACConfig(hidden=(64, 64)), **NETS, **COMMON)).train()
    high = TrainConfig(env="softskills/PointMaze-v0", policy="realnvp", steps=3000, warmup_steps=300,
                       out=str(tmp_path / "high"), stack_on=str(tmp_path / "prim"), repeat=REPEAT,
                       sac=SACConfig(hidden=(64, 64), reward_scale=0.01), **NETS, **COMMON)
    stacked_trainer(high).train()
    # flat SAC: the same env steps (3000 x 5) and the same number of gradient updates
    Trainer(TrainConfig(env="softskills/PointMaze-v0", steps=3000 * REPEAT, warmup_steps=300 * REPEAT,
                        updates_per_step=1.0 / REPEAT, out=str(tmp_path / "flat"),
                        sac=SACConfig(hidden=(64, 64), reward_scale=0.01), **COMMON)).train()
    hier, flat = success(tmp_path / "high"), success(tmp_path / "flat")
    print(f"PointMaze success: hierarchy {hier:.0%}, flat SAC {flat:.0%} ({time.perf_counter() - start:.0f} s)")
    assert hier >= 0.8
    assert flat <= 0.2
