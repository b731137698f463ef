"""Algorithm 4 (train_stagewise), frozen layers, the CLI's --stack-on, and resuming a stacked run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from softskills.cli import main
from softskills.hierarchy import (
    HierarchicalPolicy,
    LayerSpec,
    resume_stacked,
    run_policy,
    stacked_trainer,
    train_stagewise,
)
from softskills.skills.checkpoint import load_checkpoint
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer
from tests.skills.helpers import assert_same, params

SMALL = dict(progress=False, tensorboard=False, eval_every=0, eval_episodes=1, log_every=50, batch_size=16,
             sac=SACConfig(hidden=(16,)), flow_embed_hidden=(16,), policy="realnvp")


def cfg(out: Path, env: str, steps: int, **kw: object) -> TrainConfig:
    return TrainConfig(env=env, steps=steps, warmup_steps=30, out=str(out), **{**SMALL, **kw})  # type: ignore[arg-type]


def snapshot(run: Path) -> dict[str, torch.Tensor]:
    tensors, _, _ = load_checkpoint(run)
    return {k: v.clone() for k, v in tensors.items() if k.startswith("agent/policy.")}


def test_three_layer_stack_trains_with_algorithm_4(tmp_path: Path) -> None:
    stack = train_stagewise([
        LayerSpec(cfg(tmp_path / "l0", "softskills/PointVelocity-v0", 60)),
        LayerSpec(cfg(tmp_path / "l1", "softskills/PointVelocity-v0", 50, repeat=2)),
        LayerSpec(cfg(tmp_path / "l2", "softskills/PointMaze-v0", 50, repeat=3)),
    ])
    assert isinstance(stack, HierarchicalPolicy) and len(stack.layers) == 3
    _, meta2, _ = load_checkpoint(tmp_path / "l2")
    assert meta2["run_info"]["stacked_on"] == str((tmp_path / "l1").resolve())
    assert meta2["config"]["sac"]["action_prior"] == "normal" and meta2["step"] == 50
    assert len(meta2["run_info"]["lower_layers"]) == 2
    # the exported stack carries every frozen layer exactly as its stage saved it
    for i in range(3):
        saved = snapshot(tmp_path / f"l{i}")
        for k, v in stack.layers[i].policy.state_dict().items():
            assert torch.equal(saved["agent/policy." + k], v), (i, k)
    obs, h = torch.randn(5, 4), torch.randn(5, 2)
    a, _ = stack(h, obs)
    torch.testing.assert_close(stack.inverse(a, obs)[0], h, atol=1e-4, rtol=1e-4)


def test_training_an_upper_layer_leaves_the_lower_run_unchanged(tmp_path: Path) -> None:
    Trainer(cfg(tmp_path / "low", "softskills/PointVelocity-v0", 60)).train()
    before = snapshot(tmp_path / "low")
    trainer = stacked_trainer(cfg(tmp_path / "up", "softskills/PointMaze-v0", 80, stack_on=str(tmp_path / "low"),
                                  repeat=2))
    lower = trainer.envs.layer
    in_memory = {k: v.clone() for k, v in lower.policy.state_dict().items()}
    trainer.train()
    assert trainer.num_updates == 50
    for k, v in lower.policy.state_dict().items():
        assert torch.equal(v, in_memory[k]), k
    after = snapshot(tmp_path / "low")
    assert_same(before, after)


def test_the_upper_layer_holds_each_latent_for_its_repeat(tmp_path: Path) -> None:
    """cfg.repeat reaches the envs the upper layer trains in (not only the run_info that records it)."""
    Trainer(cfg(tmp_path / "low", "softskills/PointVelocity-v0", 40)).train()
    trainer = stacked_trainer(cfg(tmp_path / "up", "softskills/PointMaze-v0", 40, stack_on=str(tmp_path / "low"),
                                  repeat=3))
    envs = trainer.envs
    try:
        k, n = envs.num_skills, envs.num_envs
        envs.reset(np.arange(k * n).reshape(k, n))
        res = envs.step(np.zeros((k, n, envs.act_dim)))
        assert envs.repeat == 3 and all(info["substeps"] == 3 for row in res.infos for info in row)
    finally:
        envs.close()


def test_the_upper_layer_gets_the_normal_prior_unless_it_asks_for_none(tmp_path: Path) -> None:
    """A stacked layer's ``uniform`` prior (the default) becomes ``normal``; ``none``, the ablation, is kept."""
    Trainer(cfg(tmp_path / "low", "softskills/PointVelocity-v0", 40)).train()
    up = dict(stack_on=str(tmp_path / "low"), repeat=2)
    for asked, used in (("uniform", "normal"), ("normal", "normal"), ("none", "none")):
        sac = dataclasses.replace(SMALL["sac"], action_prior=asked)  # type: ignore[arg-type]
        trainer = stacked_trainer(cfg(tmp_path / f"up-{asked}", "softskills/PointMaze-v0", 10, **{**up, "sac": sac}))
        try:
            assert trainer.cfg.sac.action_prior == used and trainer.agent.config.action_prior == used, asked
        finally:
            trainer.envs.close()


def test_stacked_resume_equals_straight_run(tmp_path: Path) -> None:
    Trainer(cfg(tmp_path / "low", "softskills/PointVelocity-v0", 60)).train()
    up = dict(stack_on=str(tmp_path / "low"), repeat=2)
    straight = stacked_trainer(cfg(tmp_path / "s", "softskills/PointMaze-v0", 90, **up))
    straight.train()
    stacked_trainer(cfg(tmp_path / "r", "softskills/PointMaze-v0", 55, **up)).train()
    resumed = resume_stacked(tmp_path / "r", steps=90)
    assert resumed.step == 55
    resumed.train()
    assert_same(params(straight), params(resumed))


def test_stacking_on_a_gaussian_run_is_refused(tmp_path: Path) -> None:
    Trainer(cfg(tmp_path / "g", "softskills/PointVelocity-v0", 40, policy="gaussian")).train()
    with pytest.raises(TypeError, match="only RealNVPPolicy layers"):
        stacked_trainer(cfg(tmp_path / "up", "softskills/PointMaze-v0", 40, stack_on=str(tmp_path / "g")))
    with pytest.raises(ValueError, match="needs the latent-action envs"):
        Trainer(cfg(tmp_path / "up2", "softskills/PointMaze-v0", 40, stack_on=str(tmp_path / "g")))


def test_cli_stack_on_and_eval_runs_the_whole_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    low, up = tmp_path / "low", tmp_path / "up"
    common = ["--no-progress", "--eval-every", "0", "--eval-episodes", "1", "--batch-size", "16",
              "--sac.hidden", "16", "--flow-embed-hidden", "16", "--policy", "realnvp", "--warmup-steps", "30"]
    main(["train", "--env", "softskills/PointVelocity-v0", "--steps", "50", "--out", str(low), *common])
    main(["train", "--env", "softskills/PointMaze-v0", "--steps", "50", "--out", str(up), "--stack-on", str(low),
          "--repeat", "3", *common])
    _, meta, _ = load_checkpoint(up)
    assert meta["run_info"]["stacked_on"] == str(low.resolve()) and meta["run_info"]["repeat"] == 3
    assert meta["spaces"]["act_shape"] == [2] and np.isinf(meta["spaces"]["act_high"]).all()
    capsys.readouterr()
    main(["eval", str(up), "--episodes", "2"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["stacked_on"] == str(low.resolve()) and "success_rate" in line
    # the stack as one policy
    policy = run_policy(up)
    assert len(policy.layers) == 2 and policy.layers[0].source == str(low.resolve())
    main(["train", "--resume", "--steps", "60", "--out", str(up), "--no-progress", "--eval-every", "0"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 60
    with pytest.raises(SystemExit):
        main(["train", "--resume", "--steps", "70", "--out", str(up), "--repeat", "5"])
    assert "repeat" in capsys.readouterr().err


def test_a_stacked_run_refuses_a_lower_layer_whose_weights_changed(tmp_path: Path) -> None:
    import shutil

    from softskills.hierarchy import FrozenLayer, run_env_factory
    from softskills.skills.loading import load_run

    low, up = tmp_path / "low", tmp_path / "up"
    Trainer(cfg(low, "softskills/PointVelocity-v0", 60)).train()
    shutil.copytree(low, tmp_path / "low_copy")
    stacked_trainer(cfg(up, "softskills/PointMaze-v0", 40, stack_on=str(low), repeat=2)).train()
    _, ucfg, meta = load_run(up)
    recorded = meta["run_info"]["lower_layers"][0]["weights_sha256"]
    assert recorded == FrozenLayer.from_run(low).weights_sha256()
    run_policy(up), run_env_factory(ucfg, meta["run_info"])(1)  # unchanged weights: fine
    # the primitive's run goes on training after the layer above was stacked on it
    Trainer(dataclasses.replace(cfg(low, "softskills/PointVelocity-v0", 90), resume=True)).train()
    assert FrozenLayer.from_run(low).weights_sha256() != recorded
    for call in (lambda: resume_stacked(up, steps=60), lambda: run_policy(up),
                 lambda: run_env_factory(ucfg, meta["run_info"])):
        with pytest.raises(ValueError, match=r"weights sha256 .* now holds weights .*trained further or replaced"):
            call()
    # the weights it was trained on, back in place: accepted again
    shutil.rmtree(low)
    shutil.copytree(tmp_path / "low_copy", low)
    assert resume_stacked(up, steps=60).step == 40
