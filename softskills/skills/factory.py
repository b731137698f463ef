"""Build the agent and the environments that a :class:`~softskills.skills.config.TrainConfig` names."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from softskills.skills.config import TrainConfig
from softskills.skills.vec import SkillEnvs, make_env

__all__ = ["EnvFactory", "build_agent", "default_env_factory", "skill_seeds"]

EnvFactory = Callable[[int], SkillEnvs]
"""``num_envs -> SkillEnvs``: builds the K x num_envs environments of a run (not yet reset)."""


def skill_seeds(cfg: TrainConfig) -> list[int]:
    """Skill k is seeded with ``seed + k``."""
    return [cfg.seed + k for k in range(cfg.skills)]


def default_env_factory(cfg: TrainConfig) -> EnvFactory:
    """The envs of ``cfg.env``; skill k gets its task's kwargs (``cfg.task_kwargs()[k]``)."""
    fns = [partial(make_env, cfg.env, **kw) for kw in cfg.task_kwargs()]
    return lambda num_envs: SkillEnvs(fns, num_envs, name=cfg.env)


def build_agent(cfg: TrainConfig, obs_dim: int, act_dim: int, squash: bool = True) -> nn.Module:
    """A SAC (or SQL) agent for K = ``cfg.skills`` skills, on the CPU (move it with ``.to``).

    Args:
        cfg: the configuration.
        obs_dim: observation width.
        act_dim: action width.
        squash: tanh-squash the policy's actions into ``[-1, 1]``; ``False`` for an unbounded
            action space (an upper layer acting in a lower layer's latent space).
    """
    seeds = skill_seeds(cfg)
    k = cfg.skills
    if cfg.algo == "sql":
        from softskills.skills.critic import TwinQ
        from softskills.skills.sql_agent import SQLAgent
        from softskills.skills.sql_sampler import SVGDSampler

        if not squash:
            raise ValueError("SQL's sampler acts in [-1, 1] (uniform importance sampling of the soft value); "
                             "an unbounded action space needs SAC with --policy realnvp")
        sql = cfg.sql
        sampler = SVGDSampler(k, obs_dim, act_dim, hidden=sql.hidden, seeds=seeds)
        critic = TwinQ(k, obs_dim, act_dim, hidden=sql.hidden, seeds=seeds)
        return SQLAgent(sampler, critic, sql, precision=cfg.precision)

    from softskills.skills.agent import SACAgent
    from softskills.skills.critic import TwinQ

    if cfg.policy == "gaussian":
        from softskills.flows.gaussian import GaussianPolicy

        policy: nn.Module = GaussianPolicy(k, obs_dim, act_dim, hidden=cfg.sac.hidden, squash=squash, seeds=seeds)
    elif cfg.policy == "realnvp":
        from softskills.flows.realnvp import RealNVPPolicy

        policy = RealNVPPolicy(
            k, obs_dim, act_dim, coupling_layers=cfg.flow_coupling_layers,
            embed_hidden=cfg.flow_embed_hidden, st_hidden=cfg.flow_st_hidden or None,
            scale_clamp=cfg.flow_scale_clamp, squash=squash, seeds=seeds,
        )
    else:
        raise ValueError(f"unknown policy {cfg.policy!r}; choose 'gaussian' or 'realnvp'")
    critic = TwinQ(k, obs_dim, act_dim, hidden=cfg.sac.hidden, seeds=seeds)
    return SACAgent(policy, critic, cfg.sac, precision=cfg.precision)
