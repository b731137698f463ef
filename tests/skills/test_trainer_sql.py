"""The shared Trainer with ``algo="sql"``: MultiGoal learning, exact resume, agent round trip, CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from softskills.skills.checkpoint import load_checkpoint
from softskills.cli import main
from softskills.skills.config import TrainConfig
from softskills.skills.sql import SQLConfig
from softskills.skills.sql_agent import SQLAgent
from softskills.skills.trainer import Trainer, load_agent
from tests.skills.helpers import assert_same, params

ENV = "softskills/MultiGoal-v0"


@pytest.fixture(autouse=True)
def _restore_threads():  # type: ignore[no-untyped-def]
    """``threads=1`` (fast for these tiny nets, and immune to oversubscribed cores) is process-wide."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def small(out: Path, steps: int = 300, **kw: object) -> TrainConfig:
    base = dict(env=ENV, algo="sql", steps=steps, warmup_steps=100, batch_size=32, out=str(out),
                eval_every=0, eval_episodes=1, log_every=50, checkpoint_every=10_000, progress=False,
                tensorboard=False, threads=1, sql=SQLConfig(hidden=(32, 32), kernel_particles=8, value_particles=8,
                                                 target_interval=50))
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_trainer_builds_sql_agent_and_is_deterministic(tmp_path: Path) -> None:
    a = Trainer(small(tmp_path / "a", steps=200))
    assert isinstance(a.agent, SQLAgent)
    m = a.train()
    assert m["step"] == 200 and m["updates"] == 100
    assert int(a.agent.num_updates) == 100
    b = Trainer(small(tmp_path / "b", steps=200))
    b.train()
    assert_same(params(a), params(b))
    c = Trainer(small(tmp_path / "c", steps=200, seed=1))
    c.train()
    assert not torch.equal(params(a)["policy.net.layers.0.weight"], params(c)["policy.net.layers.0.weight"])
    progress = (tmp_path / "a" / "progress.csv").read_text()
    assert "losses/qf_loss" in progress and "losses/actor_loss" in progress


@pytest.mark.parametrize("skills", [1, 2])
def test_sql_resume_equals_straight_run(tmp_path: Path, skills: int) -> None:
    # target_interval=50 puts hard target copies on both sides of the checkpoint (update 130).
    straight = Trainer(small(tmp_path / "s", steps=420, skills=skills))
    straight.train()
    first = Trainer(small(tmp_path / "r", steps=230, skills=skills))
    first.train()
    assert (first.ep_len > 0).all(), "the checkpoint should fall mid-episode"
    _, meta, buf = load_checkpoint(tmp_path / "r")
    assert meta["config"]["algo"] == "sql" and buf is not None
    resumed = Trainer.resume(tmp_path / "r", steps=420)
    assert isinstance(resumed.agent, SQLAgent)
    assert resumed.step == 230 and resumed.num_updates == 130
    np.testing.assert_array_equal(resumed.ep_len, first.ep_len)
    resumed.train()
    assert resumed.num_updates == straight.num_updates == 320
    assert int(resumed.agent.num_updates) == 320
    assert_same(params(straight), params(resumed))


def test_sql_load_agent_round_trip(tmp_path: Path) -> None:
    t = Trainer(small(tmp_path / "run", steps=250, skills=2))
    t.train()
    agent, cfg = load_agent(tmp_path / "run")
    assert isinstance(agent, SQLAgent) and cfg.algo == "sql" and cfg.sql == t.cfg.sql
    assert_same({k: v for k, v in agent.state_dict().items()}, params(t))
    obs = torch.randn(2, 7, 2) * 3
    assert torch.equal(agent.act(obs, deterministic=True), t.agent.act(obs, deterministic=True))
    torch.manual_seed(5)
    sampled = agent.act(obs)
    torch.manual_seed(5)
    assert torch.equal(sampled, t.agent.act(obs))


def test_cli_train_and_eval_sql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``train``/``eval``/``plot-multigoal`` on an SQL run; the figure's goal statistics are those
    of the saved agent's paths, replayed here from the checkpoint with the same seeds."""
    from softskills.envs import GOALS
    from softskills.envs.plot_multigoal import rollout_multigoal

    out = tmp_path / "cli"
    main(["train", "--env", ENV, "--algo", "sql", "--steps", "200", "--warmup-steps", "100", "--batch-size", "32",
          "--out", str(out), "--no-progress", "--eval-episodes", "1", "--log-every", "100",
          "--sql.hidden", "32", "32", "--sql.kernel-particles", "8", "--threads", "1"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["algo"] == "sql" and line["step"] == 200 and line["updates"] == 100
    main(["eval", str(out), "--episodes", "2", "--stochastic"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["env"] == ENV and np.isfinite(res["mean_return"])
    torch.manual_seed(7)  # the sampled paths draw from torch's global RNG
    main(["plot-multigoal", str(out), "--paths", "10", "--seed", "3"])
    fig = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert fig["png"] == str(out / "multigoal.png")
    assert (out / "multigoal.png").read_bytes()[:4] == b"\x89PNG"
    agent, _ = load_agent(out)
    torch.manual_seed(7)
    with torch.no_grad():
        paths, returns = rollout_multigoal(agent, n_paths=10, seed=3)
    dist = np.linalg.norm(np.stack([p[-1] for p in paths])[:, None] - GOALS, axis=-1)  # (paths, goals)
    at_goal = dist.min(axis=1) < 1.0
    reached = sorted({int(g) for g in dist.argmin(axis=1)[at_goal]})
    assert fig["goal_indices"] == reached and fig["goals_reached"] == len(reached)
    assert fig["success_rate"] == pytest.approx(float(at_goal.mean()), abs=1e-12)
    assert fig["mean_return"] == pytest.approx(float(np.mean(returns)), rel=1e-9)


def test_cli_plot_multigoal_refuses_other_envs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pend"
    main(["train", "--env", "Pendulum-v1", "--steps", "120", "--warmup-steps", "100", "--batch-size", "16",
          "--out", str(out), "--no-progress", "--eval-episodes", "1", "--sac.hidden", "8", "8", "--no-save-buffer"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["plot-multigoal", str(out)])
    assert e.value.code == 2 and "needs a softskills/MultiGoal-v0 run" in capsys.readouterr().err


# Settings found by seed sweeps: the previous engineer's 40-seed sweep of its own loop, and a
# sweep of this Trainer config (see the report in examples/multigoal.py's docstring).
LEARN_SQL = SQLConfig(
    reward_scale=0.07, alpha=1.0, kernel_particles=16, hidden=(64, 64), target_update="hard", target_interval=500
)


@pytest.mark.slow
def test_trainer_sql_learns_multigoal(tmp_path: Path) -> None:
    from softskills.envs import GOALS, goals_reached
    from softskills.envs.plot_multigoal import rollout_multigoal

    start = time.perf_counter()
    cfg = TrainConfig(env=ENV, algo="sql", steps=3000, seed=0, warmup_steps=100, batch_size=64,
                      out=str(tmp_path / "run"), eval_every=0, eval_episodes=1, log_every=1000,
                      checkpoint_every=10_000, save_buffer=False, threads=1, progress=False,
                      tensorboard=False, sql=LEARN_SQL)
    trainer = Trainer(cfg)
    trainer.train()
    paths, returns = rollout_multigoal(trainer.agent, n_paths=20, seed=10_000)  # sampled actions
    finals = np.stack([p[-1] for p in paths])
    reached = goals_reached(finals)
    hits = int((np.linalg.norm(finals[:, None] - GOALS, axis=-1).min(-1) < 1.0).sum())
    print(f"Trainer SQL MultiGoal: goals={sorted(reached)} hits={hits}/20 "
          f"mean return={np.mean(returns):.1f} in {time.perf_counter() - start:.0f}s")
    assert len(reached) >= 3
    assert hits >= 10
