"""examples/ant_maze.py: the quick run trains and evaluates all four methods; fine-tuning starts at the primitive."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from softskills.hierarchy import plain_envs, pretrained, run_policy, stacked_trainer
from softskills.skills.checkpoint import load_checkpoint
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer
from tests.example_module import load_example

ROOT = Path(__file__).resolve().parents[1]


def _example():  # type: ignore[no-untyped-def]
    return load_example("ant_maze")


def _args(**overrides: object) -> argparse.Namespace:
    """The example's parsed arguments for a small full-mode config, with ``overrides``."""
    base: dict[str, object] = dict(env_steps=3000, warmup=300, quick=False, reward_scale=3.0, goals=[0, 2], seed=0,
                                   progress_reward=0.0, repeat=3, updates_per_step=1.0, gamma=0.99,
                                   terminate_when_unhealthy=False, log_every=100,
                                   checkpoint_every=1000, progress=False, resume=False,
                                   primitive_arch={"embed_hidden": [8], "st_hidden": [4]},
                                   primitive="pretrained:ant-velocity", frame_skip=5, latent_prior="normal",
                                   auto_alpha=False)
    return argparse.Namespace(**{**base, **overrides})


def test_ant_maze_example_quick(tmp_path: Path) -> None:
    out = tmp_path / "am"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze.py"), "--quick", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    assert m["example"] == "ant_maze" and m["quick"] and m["goals"] == [0, 1, 2] and m["reward_scale"] == 3.0
    assert set(m["results"]) == {"hierarchy", "hierarchy-resampled", "finetune", "flat"}
    for name, r in m["results"].items():  # same env steps per goal for every method
        assert r["env_steps_per_goal"] == 300, name
        assert len(r["success"]) == len(r["final_distance"]) == 3
        assert all(0.0 < d < 20.0 for d in r["final_distance"]), (name, r)
    # The reported rates are those of the saved runs: evaluate each of them again, in a fresh process
    # like the example's (one torch thread, as its main() sets: on an AMD EPYC box 1 and 2 threads round
    # differently, and the Ant's rollouts amplify it), with the example's own function and seed.
    script = ("import json, sys, torch; torch.set_num_threads(1); sys.path.insert(0, %r); "
              "from tests.example_module import load_example; "
              "ex = load_example('ant_maze'); out = {}\n"
              "for m in ('hierarchy', 'hierarchy-resampled', 'finetune', 'flat'):\n"
              "    s, d, _ = ex.rollouts(ex.Path(%r) / m, %d, seed=12_345)\n"
              "    ms, md, _ = ex.rollouts(ex.Path(%r) / m, %d, seed=12_345, mode=True)\n"
              "    out[m] = [s.mean(1).tolist(), d.mean(1).tolist(), (s == (d < 2.0)).all().item(),\n"
              "              ms.mean(1).tolist(), md.mean(1).tolist()]\n"
              "print(json.dumps(out))") % (str(ROOT), str(out), m["episodes"], str(out), m["episodes"])
    again = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    replayed = json.loads(again.stdout.strip().splitlines()[-1])
    assert set(replayed) == set(m["results"])
    for name, (success, dist, consistent, mode_success, mode_dist) in replayed.items():
        assert success == m["results"][name]["success"] and dist == m["results"][name]["final_distance"], name
        assert consistent, name  # success is exactly "ended within the 2 m goal radius"
        assert m["results"][name]["mode"] == {"success": mode_success, "final_distance": mode_dist}, name
        assert mode_dist != dist, name  # the mode is another policy than the sampled one
    assert Path(m["png"]).read_bytes()[:4] == b"\x89PNG" and Path(m["png_mode"]).read_bytes()[:4] == b"\x89PNG"
    _, meta, _ = load_checkpoint(out / "hierarchy")
    assert meta["config"]["hold_latent"] and not load_checkpoint(out / "hierarchy-resampled")[1]["config"]["hold_latent"]
    assert meta["run_info"]["stacked_on"] == "pretrained:ant-velocity" and meta["config"]["repeat"] == 3
    assert meta["config"]["sac"]["reward_scale"] == 3.0  # the original's scale at temperature 1
    assert [t["goal"] for t in meta["tasks"]] == [0, 1, 2]
    layers = run_policy(out / "hierarchy").layers
    assert layers[0].source == "pretrained:ant-velocity" and len(layers) == 2


def test_finetune_starts_exactly_at_the_primitive(tmp_path: Path) -> None:
    ex = _example()
    prim = pretrained("ant-velocity").policy
    arch = prim.arch
    cfg = TrainConfig(env=ex.ENV, tasks=('{"goal": 0}', '{"goal": 2}'), skills=2, policy="realnvp", steps=10,
                      flow_embed_hidden=tuple(arch["embed_hidden"]), flow_st_hidden=tuple(arch["st_hidden"]),
                      out=str(tmp_path / "ft"), progress=False, tensorboard=False, threads=1)
    trainer = Trainer(cfg)
    ex.init_from_primitive(trainer, pretrained("ant-velocity"))
    torch.manual_seed(0)
    obs = torch.randn(2, 7, 107)
    h = torch.randn(2, 7, 8)
    with torch.no_grad():
        ours, _ = trainer.agent.policy.forward(h, obs)
        theirs = torch.cat([prim.forward(h[i:i + 1], obs[i:i + 1, :, :105])[0] for i in range(2)])
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_reward_scale_reaches_every_method_and_bad_values_are_refused() -> None:
    ex = _example()
    args = _args(reward_scale=30.0)
    for method in ex.METHODS:
        assert ex.config(method, args, Path("unused")).sac.reward_scale == 30.0, method
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze.py"), "--reward-scale", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--reward-scale must be positive" in proc.stderr


def test_latent_prior_reaches_the_high_level_only() -> None:
    ex = _example()
    for prior in ("normal", "none"):
        args = _args(latent_prior=prior)
        for method in ex.METHODS:
            expected = prior if method.startswith("hierarchy") else "uniform"
            assert ex.config(method, args, Path("unused")).sac.action_prior == expected, (prior, method)


def test_auto_alpha_reaches_every_method() -> None:
    ex = _example()
    for auto in (False, True):
        for method in ex.METHODS:
            sac = ex.config(method, _args(auto_alpha=auto), Path("unused")).sac
            assert sac.auto_alpha is auto and sac.init_alpha == 1.0 and sac.target_entropy is None, (auto, method)


def test_progress_reward_reaches_the_env_of_every_method_and_bad_values_are_refused() -> None:
    ex = _example()
    import gymnasium

    args = _args()
    for method in ex.METHODS:  # off: the env kwargs of the sparse runs stay as they were
        assert json.loads(ex.config(method, args, Path("unused")).env_kwargs) == {"terminate_when_unhealthy": False}
    args.progress_reward = 50.0
    for method in ex.METHODS:
        cfg = ex.config(method, args, Path("unused"))
        assert json.loads(cfg.env_kwargs) == {"terminate_when_unhealthy": False, "progress_reward": 50.0}, method
    env = gymnasium.make(ex.ENV, goal=0, **json.loads(cfg.env_kwargs))
    assert env.unwrapped.progress_reward == 50.0
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze.py"), "--progress-reward", "-1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--progress-reward must be a finite number >= 0" in proc.stderr


def test_repeat_sets_the_control_interval_and_keeps_the_budget_in_env_steps() -> None:
    ex = _example()
    args = _args(repeat=15)
    for method in ("hierarchy", "hierarchy-resampled"):
        cfg = ex.config(method, args, Path("unused"))
        assert (cfg.repeat, cfg.steps, cfg.warmup_steps, cfg.updates_per_step) == (15, 200, 20, 1.0), method
    for method in ("flat", "finetune"):  # as many updates as the high level: one per 15 env steps
        cfg = ex.config(method, args, Path("unused"))
        assert (cfg.repeat, cfg.steps, cfg.warmup_steps, cfg.updates_per_step) == (1, 3000, 300, 1 / 15), method
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze.py"), "--repeat", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--repeat must be at least 1" in proc.stderr


def test_updates_per_step_gives_every_method_the_same_updates() -> None:
    ex = _example()
    args = _args(repeat=15, updates_per_step=4.0)
    for method in ("hierarchy", "hierarchy-resampled"):  # 4 per high-level action: 800 in 200 actions
        cfg = ex.config(method, args, Path("unused"))
        assert cfg.updates_per_step * (cfg.steps - cfg.warmup_steps) == 4.0 * 180, method
    for method in ("flat", "finetune"):  # 4 per 15 env steps: the same 720 after warm-up
        cfg = ex.config(method, args, Path("unused"))
        assert cfg.updates_per_step * (cfg.steps - cfg.warmup_steps) == pytest.approx(4.0 * 180), method
    for bad in ("0", "-1", "nan"):
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze.py"), "--updates-per-step", bad],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "--updates-per-step must be a finite number > 0" in proc.stderr, bad


def test_gamma_reaches_every_method() -> None:
    ex = _example()
    for method in ex.METHODS:
        assert ex.config(method, _args(gamma=0.9), Path("unused")).sac.gamma == 0.9, method
    for bad in ("0", "1.5", "nan"):
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze.py"), "--gamma", bad],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "--gamma must lie in (0, 1]" in proc.stderr, bad


def test_primitive_from_a_run_sets_the_maze_frame_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--primitive RUN`` stacks the high level on that run, and the maze steps with the ``frame_skip`` the
    primitive was trained with (here rllab's 2); the shipped primitive keeps Ant-v5's default; a path that
    is not a run is refused by name."""
    ex = _example()
    prim = tmp_path / "prim"
    cfg = TrainConfig(env="softskills/AntVelocity-v0", env_kwargs={"frame_skip": 2}, policy="realnvp", steps=30,
                      warmup_steps=20, batch_size=8, sac=SACConfig(hidden=(8, 8)), flow_embed_hidden=(8, 8),
                      flow_st_hidden=(4,), out=str(prim), progress=False, tensorboard=False, eval_every=0,
                      eval_episodes=1, threads=1)
    Trainer(cfg).train()
    layer, skip = ex.primitive_and_frame_skip(str(prim))
    assert skip == 2 and layer.latent_dim == 8
    assert ex.primitive_and_frame_skip(ex.PRIMITIVE)[1] == 5
    args = _args(primitive=str(prim), frame_skip=skip, primitive_arch=layer.policy.arch)
    high = ex.config("hierarchy", args, tmp_path / "out")
    assert high.stack_on == str(prim) and json.loads(high.env_kwargs)["frame_skip"] == 2
    assert json.loads(ex.config("flat", args, tmp_path / "out").env_kwargs)["frame_skip"] == 2
    assert "frame_skip" not in json.loads(ex.config("hierarchy", _args(), tmp_path / "o2").env_kwargs)
    trainer = stacked_trainer(dataclasses.replace(high, steps=12, warmup_steps=6, batch_size=4,
                                                  flow_embed_hidden=(8, 8), sac=SACConfig(hidden=(8, 8))))
    base = plain_envs(trainer.envs)
    assert base.envs[0][0].unwrapped.dt == pytest.approx(0.02)  # the maze under the high level steps at 0.02 s
    with pytest.raises(SystemExit, match="neither"):
        ex.primitive_and_frame_skip(str(tmp_path / "nothing"))

    # fine-tuning starts from --primitive (not the shipped one), records it, and refuses another on resume
    seen = []
    monkeypatch.setattr(ex, "init_from_primitive", lambda trainer, p: seen.append(p.source))
    ft = _args(primitive=str(prim), frame_skip=2, primitive_arch=layer.policy.arch, env_steps=40, warmup=30,
               goals=[0], checkpoint_every=20)
    ex.train("finetune", ft, tmp_path / "ft")
    assert seen == [str(prim)]
    assert load_checkpoint(tmp_path / "ft" / "finetune")[1]["run_info"]["init_from"] == str(prim)
    with pytest.raises(SystemExit, match="fine-tuned from"):
        ex.train("finetune", _args(primitive=ex.PRIMITIVE, resume=True, env_steps=60, warmup=30, goals=[0],
                                   primitive_arch=layer.policy.arch), tmp_path / "ft")


@pytest.mark.parametrize("method", ["hierarchy", "flat"])
def test_mode_evaluation_draws_no_random_action(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """``rollouts(mode=True)`` acts at ``f(0; s)`` (flat SAC: the mean): another torch seed gives the same paths.

    The sampled evaluation, held latents per episode for the hierarchy and drawn actions for flat SAC, changes
    with it, so the test sees the difference between the two."""
    ex = _example()
    args = _args(env_steps=600, warmup=300, checkpoint_every=100)
    cfg = ex.config(method, args, tmp_path)
    cfg = dataclasses.replace(cfg, flow_embed_hidden=(8,), flow_st_hidden=(4,),
                              sac=dataclasses.replace(cfg.sac, hidden=(8,)), batch_size=16)
    (stacked_trainer(cfg) if method == "hierarchy" else Trainer(cfg)).train()
    run = tmp_path / method
    real_seed = torch.manual_seed

    def paths(mode: bool, shift: int) -> list[list[list[float]]]:
        monkeypatch.setattr(ex.torch, "manual_seed", lambda s: real_seed(s + shift))
        _, _, p = ex.rollouts(run, 2, seed=7, mode=mode)
        return [[q[-1].tolist() for q in goal] for goal in p]

    assert paths(True, 0) == paths(True, 1)
    assert paths(False, 0) != paths(False, 1)
