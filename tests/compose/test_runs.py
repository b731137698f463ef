"""compose_runs / bounds_report end to end on two tiny Pusher runs (push-x and push-y)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import gymnasium
import numpy as np
import pytest
import torch

from softskills.compose.bounds import FitConfig
from softskills.compose.composed import ComposedQ
from softskills.compose.resample import load_resampled
from softskills.compose.runs import (
    BoundsArgs,
    ComposeArgs,
    _alpha,
    _composed_task,
    bounds_report,
    compose_runs,
    load_composed,
    load_constituents,
    run_bounds,
    run_compose,
)
from softskills.skills.agent import SACAgent
from softskills.skills.checkpoint import load_checkpoint, save_checkpoint
from softskills.skills.config import TrainConfig
from softskills.skills.evaluate import evaluate
from softskills.skills.factory import default_env_factory
from softskills.skills.loading import load_run
from softskills.skills.sac import SACConfig
from softskills.skills.sql_agent import SQLAgent
from softskills.skills.trainer import Trainer
from softskills.skills.vec import SkillEnvs

torch.set_num_threads(1)

SMALL_FIT = FitConfig(iterations=3, steps_per_iteration=10, batch_size=64, hidden=(16, 16), action_samples=8)


def train(out: Path, env: str = "softskills/Pusher-v0", steps: int = 300, **kwargs) -> str:  # noqa: ANN003
    cfg = TrainConfig(env=env, steps=steps, warmup_steps=min(100, steps), batch_size=32, eval_every=0,
                      eval_episodes=1, log_every=100, checkpoint_every=10_000, threads=1, progress=False,
                      tensorboard=False, out=str(out), sac=SACConfig(hidden=(32, 32), auto_alpha=False, init_alpha=0.5),
                      **kwargs)
    Trainer(cfg).train()
    return str(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("constituents")
    return {
        "x": train(root / "x", env_kwargs={"goal": [-1, None]}),
        "y": train(root / "y", env_kwargs={"goal": [None, -1]}),
        "root": str(root),
    }


@pytest.fixture
def env_spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"make": 0, "step": 0}
    make, step = gymnasium.make, SkillEnvs.step

    def spy_make(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["make"] += 1
        return make(*args, **kwargs)

    def spy_step(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls["step"] += 1
        return step(self, *args, **kwargs)

    monkeypatch.setattr(gymnasium, "make", spy_make)
    monkeypatch.setattr(SkillEnvs, "step", spy_step)
    return calls


def test_compose_svgd_end_to_end(runs: dict[str, str], tmp_path: Path, env_spy: dict[str, int]) -> None:
    out = tmp_path / "composed"
    m = compose_runs([runs["x"], runs["y"]], method="svgd", out=out, steps=150, batch_size=32)
    assert env_spy == {"make": 0, "step": 0}  # offline: no env was built or stepped
    assert m["env_steps"] == 0 and m["gradient_steps"] == 150 and m["wall_time_s"] > 0
    assert m["env_kwargs"] == {"goal": [-1, -1]}  # push-x and push-y merge into the corner goal
    assert m["weights"] == [0.5, 0.5] and m["alpha"] == pytest.approx(0.5)
    assert m["normalised"] == {"weights": [0.5, 0.5], "alpha": pytest.approx(0.5)}
    assert m["constituent_env_steps"] == [300, 300] and m["constituent_updates"] == [200, 200]
    assert math.isfinite(m["final_loss"]) and m["bounds"] is None and m["notes"] == []
    json.dumps(m)

    agent, cfg, meta = load_run(out)
    assert isinstance(agent, SQLAgent) and agent.num_skills == 1 and cfg.skills == 1
    assert json.loads(cfg.env_kwargs) == {"goal": [-1, -1]} and cfg.env == "softskills/Pusher-v0"
    info = meta["run_info"]
    assert info["composed_from"] == [runs["x"], runs["y"]] and info["env_steps"] == 0
    assert info["method"] == "svgd" and info["gradient_steps"] == 150
    envs = default_env_factory(cfg)(1)
    try:
        res = evaluate(agent, envs, seed=0, deterministic=True)
    finally:
        envs.close()
    assert res.returns.shape == (1, 1) and res.lengths[0, 0] == 300
    assert "goal_distance" in res.final_infos[0][0]

    # The saved composed Q is the constituents' composition.
    _, q, _, _ = load_composed(out)
    a_x, _, _ = load_run(runs["x"])
    a_y, _, _ = load_run(runs["y"])
    direct = ComposedQ([a_x.critic, a_y.critic], (0.5, 0.5), 0.5)
    obs, act = torch.randn(9, 12), torch.rand(9, 3) * 2 - 1
    torch.testing.assert_close(q(obs, act), direct(obs, act))
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        compose_runs([runs["x"], runs["y"]], out=out, steps=1)


def test_compose_sac_sum_and_cli(runs: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sum"
    m = run_compose(ComposeArgs(run_dirs=(runs["x"], runs["y"]), out=str(out), weights=(1.0, 1.0), method="sac",
                                policy="realnvp", steps=50, batch_size=32))
    # The original's sum at the constituents' alpha is the mean at alpha/2.
    assert m["weights"] == [1.0, 1.0] and m["alpha"] == pytest.approx(0.5)
    assert m["normalised"]["alpha"] == pytest.approx(0.25)
    agent, cfg, _ = load_run(out)
    assert isinstance(agent, SACAgent) and cfg.policy == "realnvp"
    assert float(agent.log_alpha.exp()) == pytest.approx(0.5)

    from softskills.cli import main

    main(["eval", str(out), "--episodes", "2"])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["tasks"] == [{"goal": [-1, -1]}] and math.isfinite(printed["mean_return"])
    # the final puck-goal distance (the original's FinalGoalDistance), as evaluating the run directly gives it
    envs = default_env_factory(cfg)(2)
    res = evaluate(agent, envs, 12345, deterministic=True)  # eval's default --seed
    envs.close()
    dist = [float(info["goal_distance"]) for info in res.final_infos[0]]
    assert printed["final_info"]["goal_distance"]["mean"] == pytest.approx(float(np.mean(dist)), abs=1e-12)
    assert printed["final_info"]["goal_distance"]["max"] == pytest.approx(max(dist), abs=1e-12)
    assert "goal" not in printed["final_info"] and "puck_xy" not in printed["final_info"]


def test_bounds_report_end_to_end(runs: dict[str, str], tmp_path: Path, env_spy: dict[str, int]) -> None:
    r = bounds_report([runs["x"], runs["y"]], config=SMALL_FIT)
    assert env_spy == {"make": 0, "step": 0} and r["env_steps"] == 0
    json.dumps(r)
    assert r["estimator"] == "gaussian" and r["theorem_setting"] is True and r["notes"] == []
    assert r["gamma"] == 0.99 and r["normalised"] == {"weights": [0.5, 0.5], "alpha": pytest.approx(0.5)}
    stats = r["stats"]
    assert stats["num_transitions"] == 600
    for k in ("gap", "renyi_half", "c_star", "d_star", "d_exact", "regret_lower", "regret_upper", "q_sigma"):
        assert set(stats[k]) == {"mean", "std", "min", "max"} and all(math.isfinite(v) for v in stats[k].values())
    assert stats["gap"]["min"] >= 0.0  # the closed form is exact, hence non-negative
    assert stats["renyi_half"]["mean"] == pytest.approx(2 * stats["gap"]["mean"] / 0.5, rel=1e-5)
    assert r["fit"]["gradient_steps"] == 30
    # Relations that hold by definition, whatever the fit: the bracket is ordered and below both bounds.
    assert stats["c_star"]["max"] > 0.0  # the two skills differ, so g > 0 and so is its fixed point
    assert stats["regret_lower"]["max"] <= stats["regret_upper"]["max"] + 1e-9
    assert stats["regret_upper"]["mean"] <= min(stats["d_star"]["mean"], stats["d_exact"]["mean"]) + 1e-9
    # q_sigma recomputed independently: the mean of the two runs' min-twin critics over both buffers.
    parts = load_constituents([runs["x"], runs["y"]])
    obs = torch.cat([c.buffer["buffer/obs"][c.skill] for c in parts])
    act = torch.cat([c.buffer["buffer/act"][c.skill] for c in parts])
    with torch.no_grad():
        q_each = [c.agent.critic(obs[None], act[None])[0].min(dim=0).values for c in parts]
    assert stats["q_sigma"]["mean"] == pytest.approx(float((0.5 * q_each[0] + 0.5 * q_each[1]).double().mean()),
                                                     rel=1e-5)

    # A weighted sum: the bounds are for its normalised form at alpha/2, where the constituents'
    # policies are not the Boltzmann policies, so g comes from the Q's and the report says so.
    path = tmp_path / "bounds.json"
    s = run_bounds(BoundsArgs(run_dirs=(runs["x"], runs["y"]), weights=(1.0, 1.0), fit=SMALL_FIT, out=str(path)))
    assert s["estimator"] == "soft_values" and s["theorem_setting"] is False and s["notes"]
    assert s["normalised"]["alpha"] == pytest.approx(0.25)
    assert json.loads(path.read_text())["stats"]["c_star"] == pytest.approx(s["stats"]["c_star"])


def test_bad_runs_are_refused(runs: dict[str, str], tmp_path: Path) -> None:
    x, y = runs["x"], runs["y"]
    for weights, match in (((1.0,), "one weight per run"), ((1.0, 0.0), "positive"), ((1.0, -2.0), "positive"),
                           ((1.0, 1.0, 1.0), "one weight per run")):
        with pytest.raises(ValueError, match=match):
            compose_runs([x, y], weights=weights, out=tmp_path / "w", steps=1)
        with pytest.raises(ValueError, match=match):
            bounds_report([x, y], weights=weights, config=SMALL_FIT)
    with pytest.raises(ValueError, match="at least two"):
        compose_runs([x], out=tmp_path / "one", steps=1)
    with pytest.raises(ValueError, match=rf"{y}: skill 1 is out of range"):
        compose_runs([x, y], skills=[0, 1], out=tmp_path / "k", steps=1)

    nobuf = train(tmp_path / "nobuf", steps=20, env_kwargs={"goal": [None, -1]}, save_buffer=False)
    with pytest.raises(ValueError, match=rf"{nobuf}.*without its replay buffer.*--steps 0"):
        compose_runs([x, nobuf], out=tmp_path / "nb", steps=1)
    with pytest.raises(ValueError, match="without its replay buffer"):
        bounds_report([nobuf, x], config=SMALL_FIT)
    with pytest.raises(ValueError, match="without its replay buffer"):  # --steps 0 --bounds fits on transitions
        compose_runs([x, nobuf], out=tmp_path / "nbb", steps=0, bounds=True, bounds_config=SMALL_FIT)

    pendulum = train(tmp_path / "pendulum", env="Pendulum-v1", steps=20)
    with pytest.raises(ValueError, match="different environments"):
        compose_runs([x, pendulum], out=tmp_path / "p", steps=1)

    # Same env id, different spaces (a checkpoint re-saved with another action box).
    tensors, meta, buf = load_checkpoint(y)
    meta["spaces"] = {**meta["spaces"], "act_high": [2.0, 2.0, 2.0]}
    other = tmp_path / "other_spaces"
    save_checkpoint(other, tensors, meta, buf)
    with pytest.raises(ValueError, match=r"different spaces.*other_spaces"):
        compose_runs([x, str(other)], out=tmp_path / "s", steps=1)
    assert not (tmp_path / "s").exists() and not (tmp_path / "w").exists()  # nothing was written


def test_composed_task_merges_any_coordinates() -> None:
    def part(**task) -> SimpleNamespace:  # noqa: ANN003
        return SimpleNamespace(task=task)

    assert _composed_task([part(goal=[-1, None]), part(goal=[None, -1])]) == {"goal": [-1, -1]}
    same = [part(goal=[-1, None], c=0.1), part(goal=[-1, None], c=0.1)]
    assert _composed_task(same) == {"goal": [-1, None], "c": 0.1}
    with pytest.raises(ValueError, match="conflict"):
        _composed_task([part(goal=[-1, None]), part(goal=[1, -1])])
    with pytest.raises(ValueError, match="cannot be merged"):
        _composed_task([part(g=9.8), part(g=3.7)])
    with pytest.raises(ValueError, match="some runs only"):
        _composed_task([part(goal=[-1, None]), part()])
    np.testing.assert_equal(_composed_task([part(), part()]), {})


def test_default_alpha_is_the_weighted_mean_of_the_constituents_temperatures() -> None:
    """The tiny runs above share alpha 0.5, so only here do the weights and the note matter."""
    parts = [SimpleNamespace(alpha=0.5), SimpleNamespace(alpha=1.0)]
    notes: list[str] = []
    assert _alpha(None, parts, [1.0, 3.0], notes) == pytest.approx((0.5 + 3.0) / 4.0)
    assert len(notes) == 1 and "differ" in notes[0] and "0.875" in notes[0]
    same: list[str] = []
    assert _alpha(None, [SimpleNamespace(alpha=0.5)] * 2, [1.0, 3.0], same) == pytest.approx(0.5) and same == []
    assert _alpha(2.0, parts, [1.0, 3.0], same) == 2.0 and same == []  # given: used as it is
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        _alpha(0.0, parts, [1.0, 1.0], same)


def test_unbounded_constituents_get_an_unsquashed_policy_and_refuse_steps_0(
    runs: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constituents in an unbounded action space (stacked upper layers act in R^d): the extracted policy has no
    tanh, and ``steps=0``, which leaves only resampling from a box, is refused. Here the Pusher runs' recorded
    action box is replaced by an unbounded one."""
    import softskills.compose.runs as runs_module

    real_load, real_extract = runs_module.load_constituents, runs_module.extract_policy
    squashed: list[bool] = []

    def unbounded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        parts = real_load(*args, **kwargs)
        for c in parts:
            n = len(c.meta["spaces"]["act_low"])
            c.meta = {**c.meta, "spaces": {**c.meta["spaces"], "act_low": [-math.inf] * n, "act_high": [math.inf] * n}}
        return parts

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        squashed.append(kwargs["squash"])
        return real_extract(*args, **kwargs)

    monkeypatch.setattr(runs_module, "extract_policy", spy)
    compose_runs([runs["x"], runs["y"]], method="sac", out=tmp_path / "boxed", steps=2, batch_size=32)
    assert squashed == [True]  # the control: the Pusher's own box gives a squashed policy
    monkeypatch.setattr(runs_module, "load_constituents", unbounded)
    with pytest.raises(ValueError, match="needs a bounded action space"):
        compose_runs([runs["x"], runs["y"]], method="svgd", out=tmp_path / "bare", steps=0, batch_size=32)
    compose_runs([runs["x"], runs["y"]], method="sac", out=tmp_path / "free", steps=2, batch_size=32)
    assert squashed == [True, False]


def test_steps_0_composes_runs_saved_without_their_buffers(runs: dict[str, str], tmp_path: Path) -> None:
    """Q_Sigma and acting from it by resampling need only the critics: with ``steps=0`` a run saved without
    its replay buffer composes into the same Q_Sigma as the run with it."""
    x, y = runs["x"], runs["y"]
    tensors, meta, _ = load_checkpoint(y)
    y_bare = tmp_path / "y_bare"
    save_checkpoint(y_bare, tensors, {**meta, "buffer": None}, None)
    assert load_checkpoint(y_bare)[2] is None
    m = compose_runs([x, y_bare], weights=(1.5, 1.0), out=tmp_path / "bare", steps=0)
    assert m["gradient_steps"] == 0 and m["env_steps"] == 0 and m["bounds"] is None
    compose_runs([x, y], weights=(1.5, 1.0), out=tmp_path / "full", steps=0)
    bare, full = load_resampled(tmp_path / "bare", 16), load_resampled(tmp_path / "full", 16)
    g = torch.Generator().manual_seed(0)
    obs, act = torch.randn(64, bare.obs_dim, generator=g), torch.rand(64, bare.act_dim, generator=g) * 2 - 1
    assert torch.equal(bare.q(obs, act), full.q(obs, act))
    assert bare.q.weights == (1.5, 1.0)
    for pol in (bare, full):
        pol.generator = torch.Generator().manual_seed(1)
    assert torch.equal(bare.act(obs), full.act(obs))
