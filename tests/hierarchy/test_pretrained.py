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
