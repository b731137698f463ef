"""The Real-NVP s/t width default, settled on HalfCheetah-v5 over 5 seeds (README), and its escape hatch."""

from __future__ import annotations

import pytest
import tyro

from softskills.skills.config import TrainConfig
from softskills.skills.factory import build_agent


def test_realnvp_st_nets_default_to_64_units() -> None:
    agent = build_agent(TrainConfig(policy="realnvp", flow_embed_hidden=(8,)), 5, 3)
    assert agent.policy.arch["st_hidden"] == [64]


def test_empty_st_hidden_means_the_originals_act_dim_units() -> None:
    cfg = tyro.cli(TrainConfig, args=["--policy", "realnvp", "--flow-st-hidden"])
    assert cfg.flow_st_hidden == ()
    agent = build_agent(cfg, 5, 3)
    assert agent.policy.arch["st_hidden"] == [3]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"resume": True, "overwrite": True}, "exclude each other"),
    ({"flow_coupling_layers": 0}, "flow_coupling_layers must be positive"),
    ({"flow_embed_hidden": (8, 0)}, "positive widths"),
    ({"flow_st_hidden": (0,)}, "positive widths"),
    ({"flow_scale_clamp": 0.0}, "flow_scale_clamp must be positive"),
    ({"compile": True, "algo": "sql"}, "compile applies to SAC"),
    ({"updates_per_step": -0.5}, "updates_per_step must be non-negative"),
    ({"stack_skill": -1}, "stack_skill must be non-negative"),
    ({"warmup_steps": -1}, "warmup_steps must be non-negative"),
    ({"batch_size": 0}, "batch_size must be positive"),
])
def test_train_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)
    TrainConfig(**{k: v for k, v in kwargs.items() if k in ("resume", "compile")})  # each half alone is fine
