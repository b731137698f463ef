"""The shipped AntVelocity primitive: its card matches its weights, and fixed latents go different ways."""

from __future__ import annotations

import hashlib

import pytest

from softskills.hierarchy import pretrained
from softskills.hierarchy.pretrained import pretrained_card, pretrained_dir
from softskills.hierarchy.probe import direction_stats, fixed_latents, latent_rollouts


def test_shipped_primitive_matches_its_card_and_spreads_over_directions() -> None:
    try:
        path = pretrained_dir("ant-velocity")
    except FileNotFoundError:
        pytest.skip("no pretrained ant-velocity primitive in this installation")
    card = pretrained_card("ant-velocity")
    layer = pretrained("ant-velocity")
    assert card["env"] == "softskills/AntVelocity-v0"
    assert (layer.policy.obs_dim, layer.latent_dim) == (card["obs_dim"], card["latent_dim"]) == (105, 8)
    assert hashlib.sha256((path / "checkpoint" / "state.safetensors").read_bytes()).hexdigest() == card["state_sha256"]
    assert card["steps"] > 0 and card["config"]["policy"] == "realnvp"
    paths = latent_rollouts(layer, card["env"], fixed_latents(8, 16, seed=0), steps=200, seed=1000)
    stats = direction_stats(paths)
    assert stats["sectors_hit"] >= 4, stats


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
