"""The shipped AntVelocity primitive: its card matches its weights, and fixed latents go different ways."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from softskills.hierarchy import pretrained
from softskills.hierarchy.pretrained import pretrained_card, pretrained_dir, pretrained_env_kwargs
from softskills.hierarchy.probe import direction_stats, fixed_latents, latent_rollouts


@pytest.mark.parametrize(("name", "frame_skip", "steps", "min_sectors", "min_return"),
                         [("ant-velocity", None, 200, 4, 110.0), ("ant-velocity-4m", 2, 500, 3, 370.0)])
def test_shipped_primitive_matches_its_card_and_spreads_over_directions(
    name: str, frame_skip: int | None, steps: int, min_sectors: int, min_return: float
) -> None:
    """Each shipped primitive: card and weights agree (spaces, hash, env kwargs); 16 fixed latents held for 10 s
    (200 steps of 0.05 s, 500 of 0.02 s) at the primitive's own frame skip spread over compass sectors; and on its
    own task it scores well above the same network with scrambled weights (the negative control).

    The thresholds (AMD EPYC box, 2026-11-28; 32 episodes from reset seed 1000): the shipped weights, each
    perturbed by about one float32 rounding step to stand in for another CPU's arithmetic, scored 134.6-161.4
    and 445.4-512.0 (6 perturbations each), and four scramblings 68.2-81.2 and 247.2-291.5. The held-latent paths
    are chaotic: over reset seeds 1000-5000 the 500,000-step primitive hit 6-8 sectors, the 4M one 4-6, as its
    rollouts share a drift (docs/ant.md), so it is held to 3.
    """
    import torch

    from softskills.hierarchy.probe import task_return

    try:
        path = pretrained_dir(name)
    except FileNotFoundError:
        pytest.skip(f"no pretrained {name} primitive in this installation")
    card = pretrained_card(name)
    layer = pretrained(name)
    assert card["env"] == "softskills/AntVelocity-v0" and card["name"] == name
    assert (layer.policy.obs_dim, layer.latent_dim) == (card["obs_dim"], card["latent_dim"]) == (105, 8)
    assert hashlib.sha256((path / "checkpoint" / "state.safetensors").read_bytes()).hexdigest() == card["state_sha256"]
    assert card["steps"] > 0 and card["config"]["policy"] == "realnvp" and card["train_env_steps_per_s"] > 0
    kwargs = pretrained_env_kwargs(name)
    assert kwargs == ({} if frame_skip is None else {"frame_skip": frame_skip}) == card.get("env_kwargs", {})
    paths = latent_rollouts(layer, card["env"], fixed_latents(8, 16, seed=0), steps=steps, seed=1000, **kwargs)
    stats = direction_stats(paths)
    assert stats["sectors_hit"] >= min_sectors, stats
    assert task_return(layer, card["env"], episodes=32, steps=steps, seed=1000, **kwargs) >= min_return
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in layer.policy.parameters():
            p.copy_(p.flatten()[torch.randperm(p.numel(), generator=gen)].view_as(p))
    assert task_return(layer, card["env"], episodes=32, steps=steps, seed=1000, **kwargs) < min_return


def test_the_4m_primitive_is_the_thesis_budget_and_refuses_another_frame_skip(tmp_path: Path) -> None:
    """``ant-velocity-4m`` was trained for the thesis' 4M steps at rllab's 0.02 s step; a maze stepping at the
    default 0.05 s cannot stack on it."""
    from softskills.hierarchy import stacked_trainer
    from softskills.skills.config import TrainConfig

    try:
        pretrained_dir("ant-velocity-4m")
    except FileNotFoundError:
        pytest.skip("no pretrained ant-velocity-4m primitive in this installation")
    card = pretrained_card("ant-velocity-4m")
    assert card["steps"] == 4_000_000 and card["config"]["env_kwargs"] == '{"frame_skip": 2}'
    with pytest.raises(ValueError, match="trained with frame_skip=2, but .* frame_skip=5"):
        stacked_trainer(TrainConfig(env="softskills/AntCrossMaze-v0", policy="realnvp", repeat=3, steps=6,
                                    stack_on="pretrained:ant-velocity-4m", out=str(tmp_path / "maze"),
                                    progress=False, tensorboard=False, eval_every=0, threads=1))


def test_unknown_pretrained_name_is_refused() -> None:
    with pytest.raises(ValueError, match="no pretrained primitive 'cheetah'"):
        pretrained("cheetah")


def test_stack_on_the_shipped_primitive(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from softskills.hierarchy import run_policy, stacked_trainer
    from softskills.skills.config import TrainConfig
    from softskills.skills.sac import SACConfig

    cfg = TrainConfig(env="softskills/AntCrossMaze-v0", env_kwargs={"goal": 0}, policy="realnvp",
                      stack_on="pretrained:ant-velocity", repeat=3, hold_latent=True, steps=40,
                      warmup_steps=20, batch_size=16, sac=SACConfig(hidden=(16, 16)), flow_embed_hidden=(16, 16),
                      out=str(tmp_path / "maze"), progress=False, tensorboard=False, eval_every=0,
                      eval_episodes=1, threads=1)
    trainer = stacked_trainer(cfg)
    trainer.train()
    assert trainer.num_updates == 20 and trainer.envs.obs_dim == 107
    policy = run_policy(tmp_path / "maze")
    assert [layer.source for layer in policy.layers] == ["pretrained:ant-velocity", str(tmp_path / "maze")]
    with pytest.raises(ValueError, match="stack_skill must be 0"):
        stacked_trainer(TrainConfig(**{**cfg.__dict__, "stack_skill": 1, "overwrite": True}))


def test_load_primitive_returns_the_layer_and_its_training_env_kwargs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``load_primitive`` takes a shipped name or a run directory; it returns the frozen policy and the env
    kwargs it was trained with (a run at rllab's 0.02 s step says ``frame_skip`` 2); a bad path is named."""
    import torch

    from softskills.hierarchy import FrozenLayer, load_primitive
    from softskills.skills.config import TrainConfig
    from softskills.skills.sac import SACConfig
    from softskills.skills.trainer import Trainer

    layer, kwargs = load_primitive("pretrained:ant-velocity")
    assert kwargs == {} and layer.source == "pretrained:ant-velocity"
    run = tmp_path / "prim"
    Trainer(TrainConfig(env="softskills/AntVelocity-v0", env_kwargs={"frame_skip": 2}, policy="realnvp", steps=25,
                        warmup_steps=20, batch_size=8, sac=SACConfig(hidden=(8, 8)), flow_embed_hidden=(8, 8),
                        flow_st_hidden=(4,), out=str(run), progress=False, tensorboard=False, eval_every=0,
                        eval_episodes=1, threads=1)).train()
    mine, kwargs = load_primitive(str(run))
    assert kwargs == {"frame_skip": 2}
    obs, h = torch.randn(5, 105), torch.randn(5, 8)
    torch.testing.assert_close(mine.act(h.numpy(), obs.numpy()), FrozenLayer.from_run(run).act(h.numpy(), obs.numpy()))
    with pytest.raises(FileNotFoundError, match="neither"):
        load_primitive(str(tmp_path / "missing"))



def test_a_stack_must_step_at_its_primitives_frame_skip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A high level on a primitive trained at frame_skip 2 is refused on a maze at the default 5 (and the
    reverse for the shipped primitive), with a message naming both; the matching maze is accepted."""
    import json

    from softskills.hierarchy import load_primitive, stacked_trainer
    from softskills.skills.config import TrainConfig
    from softskills.skills.sac import SACConfig
    from softskills.skills.trainer import Trainer

    run = tmp_path / "prim"
    small = dict(policy="realnvp", warmup_steps=4, batch_size=4, sac=SACConfig(hidden=(8, 8)), flow_embed_hidden=(8, 8),
                 flow_st_hidden=(4,), progress=False, tensorboard=False, eval_every=0, eval_episodes=1, threads=1)
    Trainer(TrainConfig(env="softskills/AntVelocity-v0", env_kwargs={"frame_skip": 2}, steps=6, out=str(run),
                        **small)).train()
    maze = dict(env="softskills/AntCrossMaze-v0", repeat=3, steps=6, **small)
    with pytest.raises(ValueError, match="trained with frame_skip=2, but .* frame_skip=5"):
        stacked_trainer(TrainConfig(stack_on=str(run), out=str(tmp_path / "a"), **maze))
    with pytest.raises(ValueError, match="trained with frame_skip=5, but .* frame_skip=2"):
        stacked_trainer(TrainConfig(stack_on="pretrained:ant-velocity", env_kwargs={"frame_skip": 2},
                                    out=str(tmp_path / "b"), **maze))
    ok = stacked_trainer(TrainConfig(stack_on=str(run), env_kwargs={"frame_skip": 2}, out=str(tmp_path / "c"), **maze))
    assert json.loads(ok.cfg.env_kwargs) == {"frame_skip": 2}
    ok.train()
    with pytest.raises(ValueError, match="single-skill run trained on its own env"):
        load_primitive(str(tmp_path / "c"))  # a stacked run is not a primitive


def test_a_shipped_cards_env_kwargs_are_read(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The env kwargs of a shipped primitive come from its model card's config (here patched to frame_skip 2)."""
    import importlib

    mod = importlib.import_module("softskills.hierarchy.pretrained")  # the module, not the function it exports
    stack = importlib.import_module("softskills.hierarchy.stack")

    card = mod.pretrained_card("ant-velocity")
    patched = {**card, "config": {**card["config"], "env_kwargs": '{"frame_skip": 2}'}}
    monkeypatch.setattr(mod, "pretrained_card", lambda name: patched)  # the one place the card is read
    assert mod.load_primitive("pretrained:ant-velocity")[1] == {"frame_skip": 2}
    assert stack.bottom_env_kwargs("pretrained:ant-velocity") == {"frame_skip": 2}


def test_the_original_fixed_temperature_gives_the_latent_the_authority_the_shipped_primitive_lacks(
    one_thread: None,
) -> None:
    """The shipped primitive was trained with a tuned temperature; the same run at the original's fixed temperature
    (``snapshots/ant-velocity-fixed-temperature``, 500,000 steps) lets its latent move the action far more, but its
    held latents barely walk. Measured with ``examples/probe_primitive.py`` (AMD EPYC box, 2026-11-29): log-det
    -6.90 against -19.05, action gap 2.07 against 0.91, held-latent mean distance 0.29 m against 1.64 m in 200
    steps (docs/ant.md). The run at reward scale 30 (``snapshots/ant-velocity-reward-scale-30``) lies between."""
    from softskills.hierarchy import load_primitive
    from softskills.hierarchy.probe import latent_authority, visited_observations
    from softskills.skills.checkpoint import load_checkpoint

    env = "softskills/AntVelocity-v0"
    snap = Path(__file__).resolve().parents[2] / "snapshots" / "ant-velocity-fixed-temperature"
    fixed, kwargs = load_primitive(str(snap))
    shipped = pretrained("ant-velocity")
    assert kwargs == {} and pretrained_card("ant-velocity")["config"]["sac"]["auto_alpha"] is True
    sac = load_checkpoint(snap)[1]["config"]["sac"]
    assert (sac["auto_alpha"], sac["init_alpha"], sac["reward_scale"]) == (False, 1.0, 10.0)
    scale30, _ = load_primitive(str(snap.parent / "ant-velocity-reward-scale-30"))
    stats = {}
    for name, layer in (("fixed", fixed), ("shipped", shipped), ("scale30", scale30)):
        authority = latent_authority(layer, visited_observations(layer, env, seed=0)[::5], seed=0)
        held = direction_stats(latent_rollouts(layer, env, fixed_latents(8, 16, seed=0), steps=200, seed=1000))
        stats[name] = (authority["log_det"], authority["action_gap"], held["mean_distance"])
    (fixed_det, fixed_gap, fixed_dist), (shipped_det, shipped_gap, shipped_dist) = stats["fixed"], stats["shipped"]
    assert fixed_det > -10.0 > -15.0 > shipped_det, stats
    assert fixed_gap > 1.5 > 1.2 > shipped_gap, stats
    assert fixed_dist < 0.8 < 1.0 < shipped_dist, stats
    # in between, at reward scale 30 (temperature 1/30 of the raw reward): log-det -10.83, held latents 1.73 m
    scale30_det, _, scale30_dist = stats["scale30"]
    assert -9.0 > scale30_det > -14.0 and scale30_dist > 1.0, stats


def test_longer_training_at_reward_scale_30_walks_further_and_narrows_the_directions(one_thread: None) -> None:
    """The reward-scale-30 run continued from 500,000 to 2,000,000 steps (``snapshots/ant-velocity-reward-scale-30``,
    ``-1375k`` and ``-2m``): 16 held latents, 200 steps each from reset seeds 1000 + i, walk further and head
    more alike. Measured (AMD EPYC box, 2026-11-29): mean distance 1.73 / 2.36 / 5.66 m, circular spread 0.517 /
    0.331 / 0.136; from reset seeds 3000 + i: 2.41 / 2.56 / 4.66 m and 0.738 / 0.367 / 0.138 (docs/ant.md). The
    high level on the 1,375,000-step primitive was the first to reach a maze goal in 40% of its evaluation
    episodes."""
    from softskills.hierarchy import load_primitive

    root = Path(__file__).resolve().parents[2] / "snapshots"
    stats = {}
    for name in ("", "-1375k", "-2m"):
        layer, kwargs = load_primitive(str(root / f"ant-velocity-reward-scale-30{name}"))
        assert kwargs == {}
        held = direction_stats(latent_rollouts(layer, "softskills/AntVelocity-v0", fixed_latents(8, 16, seed=0),
                                               steps=200, seed=1000))
        stats[name] = (held["mean_distance"], held["circular_spread"])
    (_, spread_500k), (dist_1375k, spread_1375k), (dist_2m, spread_2m) = stats[""], stats["-1375k"], stats["-2m"]
    assert dist_2m > 4.0 > dist_1375k > 2.0, stats
    assert spread_2m < 0.2 < spread_1375k < 0.45 < spread_500k, stats
