"""Trainer: determinism, exact resume, refused checkpoints, NaN stop, CLI outputs."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from softskills.skills.checkpoint import CheckpointError, load_checkpoint
from softskills.skills.cli import main
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import NonFiniteLossError, Trainer, load_agent
from tests.skills.helpers import assert_same, params


def small(out: Path, steps: int = 300, **kw: object) -> TrainConfig:
    base = dict(env="Pendulum-v1", steps=steps, warmup_steps=100, batch_size=32, out=str(out),
                eval_every=0, eval_episodes=1, log_every=50, checkpoint_every=10_000, progress=False,
                tensorboard=False, sac=SACConfig(hidden=(32, 32)))
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_same_seed_same_parameters(tmp_path: Path) -> None:
    a = Trainer(small(tmp_path / "a"))
    a.train()
    b = Trainer(small(tmp_path / "b"))
    b.train()
    assert_same(params(a), params(b))
    c = Trainer(small(tmp_path / "c", seed=1))
    c.train()
    assert not torch.equal(params(a)["log_alpha"], params(c)["log_alpha"])


@pytest.mark.parametrize("policy", ["gaussian", "realnvp"])
@pytest.mark.parametrize("skills", [1, 2])
def test_resume_equals_straight_run(tmp_path: Path, skills: int, policy: str) -> None:
    kw = dict(skills=skills, policy=policy, flow_embed_hidden=(32, 32))
    straight = Trainer(small(tmp_path / "s", steps=400, **kw))
    straight.train()
    first = Trainer(small(tmp_path / "r", steps=250, **kw))  # stops mid-episode (200-step episodes)
    first.train()
    resumed = Trainer.resume(tmp_path / "r", steps=400)
    assert resumed.step == 250
    resumed.train()
    assert resumed.num_updates == straight.num_updates
    assert_same(params(straight), params(resumed))


def test_checkpoint_round_trip_and_atomic_layout(tmp_path: Path) -> None:
    t = Trainer(small(tmp_path / "run"))
    t.train()
    tensors, meta, buf = load_checkpoint(tmp_path / "run")
    assert meta["step"] == 300 and meta["format_version"] == 1
    assert buf is not None and buf["buffer/obs"].shape == (1, 300, 3)
    assert not list((tmp_path / "run").glob(".checkpoint-*"))  # no temp dirs left behind
    agent, cfg = load_agent(tmp_path / "run")
    obs = torch.randn(1, 4, 3)
    torch.testing.assert_close(agent.act(obs, deterministic=True), t.agent.act(obs, deterministic=True))


def test_tampered_foreign_newer_and_missing_checkpoints_are_refused(tmp_path: Path) -> None:
    Trainer(small(tmp_path / "run", steps=150)).train()
    ck = tmp_path / "run" / "checkpoint"

    bad = tmp_path / "tampered"
    shutil.copytree(ck, bad)
    data = bytearray((bad / "state.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (bad / "state.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(bad)

    newer = tmp_path / "newer"
    shutil.copytree(ck, newer)
    meta = json.loads((newer / "meta.json").read_text())
    meta["format_version"] = 99
    (newer / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(newer)

    missing = tmp_path / "missing"
    shutil.copytree(ck, missing)
    (missing / "buffer.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(missing)

    corrupt = tmp_path / "corrupt"
    shutil.copytree(ck, corrupt)
    (corrupt / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_checkpoint(corrupt)

    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nowhere")

    # foreign: a checkpoint whose spaces belong to another environment
    foreign = tmp_path / "foreign"
    shutil.copytree(tmp_path / "run", foreign)
    meta = json.loads((foreign / "checkpoint" / "meta.json").read_text())
    meta["spaces"]["obs_shape"] = [17]
    (foreign / "checkpoint" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="spaces"):
        Trainer.resume(foreign)
    with pytest.raises(CheckpointError, match="spaces"):
        load_agent(foreign)


def test_non_finite_loss_stops_with_step_and_keeps_last_checkpoint(tmp_path: Path) -> None:
    t = Trainer(small(tmp_path / "run", steps=200, checkpoint_every=150, log_every=25))
    original = t.agent.update
    calls = {"n": 0}

    def poisoned(batch, *a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if t.step > 160:  # after the checkpoint at step 150
            batch = batch._replace(rew=batch.rew * math.nan)
        return original(batch, *a, **kw)

    t.agent.update = poisoned  # type: ignore[method-assign]
    with pytest.raises(NonFiniteLossError, match=r"qf_loss at step 175"):
        t.train()
    _, meta, _ = load_checkpoint(tmp_path / "run")
    assert meta["step"] == 150


def test_cli_train_eval_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p"
    main(["train", "--env", "Pendulum-v1", "--steps", "300", "--warmup-steps", "100", "--batch-size", "32",
          "--out", str(out), "--no-progress", "--eval-episodes", "1", "--log-every", "100",
          "--sac.hidden", "32", "32"])
    assert (out / "checkpoint" / "meta.json").exists()
    assert "losses/qf_loss" in (out / "progress.csv").read_text()
    assert list((out / "tb").glob("events.out.tfevents.*"))
    capsys.readouterr()
    main(["eval", str(out), "--episodes", "2"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(line)["mean_return"] < 0
    main(["plot", str(out)])
    assert (out / "curves.png").stat().st_size > 1000


def test_cli_train_realnvp_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nvp"
    main(["train", "--env", "Pendulum-v1", "--policy", "realnvp", "--skills", "2", "--steps", "250",
          "--warmup-steps", "100", "--batch-size", "32", "--out", str(out), "--no-progress", "--eval-episodes", "1",
          "--log-every", "100", "--sac.hidden", "32", "32", "--flow-embed-hidden", "32", "32",
          "--flow-st-hidden", "5", "--flow-scale-clamp", "3.0"])
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert meta["config"]["policy"] == "realnvp" and meta["config"]["skills"] == 2
    agent, cfg = load_agent(out)
    assert type(agent.policy).__name__ == "RealNVPPolicy" and cfg.flow_embed_hidden == (32, 32)
    assert cfg.flow_st_hidden == (5,) and cfg.flow_scale_clamp == 3.0
    assert all(c.scale_clamp == 3.0 and c.transform_net.sizes[1] == 5 for c in agent.policy.couplings)
    capsys.readouterr()
    main(["eval", str(out), "--episodes", "1"])
    assert math.isfinite(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["mean_return"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--env", "NoSuchEnv-v9"], "unknown or unavailable environment"),
        (["train", "--env", "CartPole-v1"], "continuous Box action space"),
        (["eval", "/nonexistent/run"], "no checkpoint"),
    ],
)
def test_cli_bad_input_clear_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_non_positive_steps_refused() -> None:
    with pytest.raises(ValueError, match="steps must be positive"):
        TrainConfig(steps=0)
