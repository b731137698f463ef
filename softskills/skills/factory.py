"""Build the agent that a :class:`~softskills.skills.config.TrainConfig` names."""

from __future__ import annotations

from torch import nn

from softskills.skills.config import TrainConfig

__all__ = ["build_agent", "skill_seeds"]


def skill_seeds(cfg: TrainConfig) -> list[int]:
    """Skill k is seeded with ``seed + k``."""
    return [cfg.seed + k for k in range(cfg.skills)]


def build_agent(cfg: TrainConfig, obs_dim: int, act_dim: int) -> nn.Module:
    """A SAC (or SQL) agent for K = ``cfg.skills`` skills, on the CPU (move it with ``.to``)."""
    seeds = skill_seeds(cfg)
    k = cfg.skills
    if cfg.algo == "sql":
        from softskills.skills.critic import TwinQ
        from softskills.skills.sql_agent import SQLAgent
        from softskills.skills.sql_sampler import SVGDSampler

        sql = cfg.sql
        sampler = SVGDSampler(k, obs_dim, act_dim, hidden=sql.hidden, seeds=seeds)
        critic = TwinQ(k, obs_dim, act_dim, hidden=sql.hidden, seeds=seeds)
        return SQLAgent(sampler, critic, sql)

    from softskills.skills.agent import SACAgent
    from softskills.skills.critic import TwinQ

    if cfg.policy == "gaussian":
        from softskills.flows.gaussian import GaussianPolicy

        policy: nn.Module = GaussianPolicy(k, obs_dim, act_dim, hidden=cfg.sac.hidden, seeds=seeds)
    elif cfg.policy == "realnvp":
        from softskills.flows.realnvp import RealNVPPolicy

        policy = RealNVPPolicy(
            k, obs_dim, act_dim, coupling_layers=cfg.flow_coupling_layers,
            embed_hidden=cfg.flow_embed_hidden, st_hidden=cfg.flow_st_hidden or None,
            scale_clamp=cfg.flow_scale_clamp, seeds=seeds,
        )
    else:
        raise ValueError(f"unknown policy {cfg.policy!r}; choose 'gaussian' or 'realnvp'")
    critic = TwinQ(k, obs_dim, act_dim, hidden=cfg.sac.hidden, seeds=seeds)
    return SACAgent(policy, critic, cfg.sac, precision=cfg.precision)
