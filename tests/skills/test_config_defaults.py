"""The Real-NVP s/t width default, settled on HalfCheetah-v5 over 5 seeds (README), and its escape hatch."""

from __future__ import annotations

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
