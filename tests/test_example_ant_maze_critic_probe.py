"""examples/ant_maze_critic_probe.py: a known critic is found out, and a trained run's critic is read right."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from softskills.hierarchy import pretrained, stacked_trainer
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.skills.loading import load_run
from tests.example_module import load_example

ROOT = Path(__file__).resolve().parents[1]


def _example():  # type: ignore[no-untyped-def]
    return load_example("ant_maze_critic_probe")


def test_quick_run_finds_the_oracle() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze_critic_probe.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    assert m["example"] == "ant_maze_critic_probe" and m["quick"]
    assert m["corr"] == pytest.approx(1.0, abs=1e-9) and m["argmax_q_gain"] > 0 and m["spread"] > 0


def test_an_inverted_critic_picks_the_worst_latent() -> None:
    """A critic of minus the progress correlates at -1, and its argmax is the latent that loses most."""
    ex = _example()
    env = ex.maze(pretrained("ant-velocity"), goal=2)
    try:
        res = ex.probe(env, ex.oracle(env, 4, sign=-1.0), None, states=1, latents=6, interval=4, seed=3)
    finally:
        env.close()
    row = res["states"][0]
    assert res["corr"] == pytest.approx(-1.0, abs=1e-9)
    assert row["argmax_q_gain"] == pytest.approx(row["random_min"] - row["random_mean"])
    assert row["argmax_q_gain"] < 0


def test_run_critic_reads_the_asked_skill(tmp_path: Path) -> None:
    """``run_critic`` returns skill k's min-twin Q per latent in order, the goal of skill k and the run's
    env kwargs; a run that is not stacked, or a skill out of range, is refused by name."""
    ex = _example()
    cfg = TrainConfig(env=ex.ENV, tasks=('{"goal": 0}', '{"goal": 2}'), skills=2, policy="realnvp",
                      env_kwargs={"terminate_when_unhealthy": False, "progress_reward": 5.0},
                      stack_on="pretrained:ant-velocity", repeat=2, hold_latent=True, steps=30, warmup_steps=20,
                      batch_size=8, sac=SACConfig(hidden=(8, 8)), flow_embed_hidden=(8, 8), out=str(tmp_path / "hl"),
                      progress=False, tensorboard=False, eval_every=0, eval_episodes=1, threads=1)
    stacked_trainer(cfg).train()
    q, sample, kwargs, goal = ex.run_critic(str(tmp_path / "hl"), 1)
    assert goal == 2 and kwargs == {"terminate_when_unhealthy": False, "progress_reward": 5.0}
    agent, _, _ = load_run(tmp_path / "hl")
    obs = np.random.default_rng(0).standard_normal(107)
    h = np.random.default_rng(1).standard_normal((5, 8))
    values = q(obs, h)
    with torch.no_grad():
        for i in range(5):
            o = torch.as_tensor(obs, dtype=torch.float32).expand(2, 1, -1).contiguous()
            a = torch.as_tensor(h[i], dtype=torch.float32).expand(2, 1, -1).contiguous()
            assert values[i] == pytest.approx(float(agent.critic(o, a).min(dim=1).values[1, 0]), rel=1e-5, abs=1e-5)
    assert sample(obs, 7).shape == (7, 8)
    with pytest.raises(SystemExit, match="--skill must be in 0..1"):
        ex.run_critic(str(tmp_path / "hl"), 2)
    assert ex.primitive_of(str(tmp_path / "hl")).source == "pretrained:ant-velocity"  # the run's own low level
