"""Offline policy extraction from a composed Q: no environment interaction (thesis §6.3, Fig. 6.2).

A fresh policy is trained to sample ``pi_Sigma(a|s) ∝ exp(Q_Sigma(s, a)/alpha)`` on the states of
the constituents' replay buffers (a :class:`~softskills.compose.union.UnionBuffer`); the
constituent critics are frozen and nothing is stepped, as in the original's
``examples/pusher_combine.py`` (``train_qf=False``, a ``DummySampler``; originals.md §2.5). Two ways:

* ``"svgd"``: SQL's amortised SVGD sampler (thesis §3.3, eq. 3.11-3.12), the original's method:
  :func:`~softskills.skills.sql.svgd_loss` towards ``exp(Q_Sigma/alpha)``, as
  :class:`~softskills.skills.sql_agent.SQLAgent` trains its sampler, in the base run's
  ``sql.svgd_space`` (pre-tanh for runs trained since 2026-11-26).
* ``"sac"``: the SAC policy step (thesis eq. 5.9), minimising ``E[alpha log pi(a|s) - Q_Sigma(s, a)]``,
  i.e. ``KL(pi || pi_Sigma)`` up to a constant, over a tanh-Gaussian or Real-NVP policy
  (:func:`~softskills.skills.sac.actor_loss`).

The result is a normal K = 1 :class:`~softskills.skills.agent.SACAgent` or
:class:`~softskills.skills.sql_agent.SQLAgent` built by :func:`~softskills.skills.factory.build_agent`
from :attr:`Extraction.config`, so ``evaluate`` and ``load_run`` treat it like a trained run. Its
own ``critic`` is a placeholder with every weight zero (``Q = 0``): the composed Q is
:class:`~softskills.compose.composed.ComposedQ`, saved beside it by
:func:`softskills.compose.runs.save_composed_run`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from softskills.compose.composed import ComposedQ
from softskills.compose.progress import progress_bar
from softskills.compose.union import UnionBuffer
from softskills.skills.agent_common import make_adam
from softskills.skills.config import TrainConfig
from softskills.skills.factory import build_agent
from softskills.skills.sac import action_log_prior, actor_loss
from softskills.skills.sql import SQLConfig, svgd_loss

__all__ = ["ExtractConfig", "Extraction", "extract_policy", "extraction_train_config"]


@dataclass(frozen=True)
class ExtractConfig:
    """Settings of an offline extraction (defaults: the original's ``pusher_combine.py``)."""

    method: Literal["svgd", "sac"] = "svgd"
    """``svgd``: SQL's amortised SVGD sampler; ``sac``: the SAC policy loss."""
    policy: Literal["gaussian", "realnvp"] = "gaussian"
    """Policy family of the ``sac`` method (``svgd`` always trains an SVGD sampler)."""
    steps: int = 10_000
    """Gradient steps (the original: 100 epochs x 100 steps). 0 trains nothing: the policy stays at its
    initialisation, for a composed run that acts by resampling
    (:class:`~softskills.compose.resample.ResampledPolicy`)."""
    batch_size: int = 128
    """States per gradient step, drawn from the union buffer."""
    lr: float = 3e-4
    """Adam learning rate of the policy."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the policy (Gaussian trunk, Real-NVP embedding, or SVGD sampler)."""
    kernel_particles: int = 16
    """``svgd``: particles per state (the original's M = 16)."""
    kernel_update_ratio: float = 0.5
    """``svgd``: fraction of the particles that are updated (the rest are fixed)."""
    seed: int = 0
    """Seed of the policy's initialisation and of every draw (batches, noise)."""
    device: str = "cpu"
    """Torch device."""
    log_every: int = 100
    """Record the loss every this many steps (the only host syncs of the loop)."""

    def __post_init__(self) -> None:
        if self.method not in ("svgd", "sac"):
            raise ValueError(f"method must be 'svgd' or 'sac', got {self.method!r}")
        if self.policy not in ("gaussian", "realnvp"):
            raise ValueError(f"policy must be 'gaussian' or 'realnvp', got {self.policy!r}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        for name in ("batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0.0):
            raise ValueError(f"lr must be positive, got {self.lr}")


@dataclass
class Extraction:
    """An extracted composed skill and what it cost.

    Attributes:
        agent: a K = 1 SAC or SQL agent (``act(obs, deterministic)``, ``num_skills = 1``); its
            critic is a zero placeholder.
        config: the :class:`TrainConfig` that ``build_agent`` rebuilds ``agent`` from.
        gradient_steps: policy gradient steps taken.
        wall_time_s: seconds spent in the extraction loop.
        env_steps: environment steps taken: always 0.
        losses: ``(step, loss)`` every ``log_every`` steps.
    """

    agent: nn.Module
    config: TrainConfig
    gradient_steps: int
    wall_time_s: float
    env_steps: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)


def extraction_train_config(q: ComposedQ, ext: ExtractConfig, base: TrainConfig | None = None) -> TrainConfig:
    """The run config of the extracted skill: ``base``'s env settings with one skill and the policy of ``ext``.

    The temperature of the saved agent is ``q.alpha`` (SAC: ``init_alpha`` with ``auto_alpha``
    off; SQL: ``sql.alpha``), so the run records the policy it targets. ``steps`` holds the
    gradient steps, or 1 where none were taken (a config's steps are positive; the run's meta
    records the true count in ``num_updates`` and ``run_info.gradient_steps``); the run took no env steps.
    """
    base = base or TrainConfig()
    sac = dataclasses.replace(base.sac, hidden=tuple(ext.hidden), init_alpha=q.alpha, auto_alpha=False,
                              policy_lr=ext.lr)
    sql = dataclasses.replace(base.sql, hidden=tuple(ext.hidden), alpha=q.alpha, policy_lr=ext.lr,
                              kernel_particles=ext.kernel_particles, kernel_update_ratio=ext.kernel_update_ratio)
    return dataclasses.replace(
        base, algo="sql" if ext.method == "svgd" else "sac", policy=ext.policy, skills=1, tasks=(),
        steps=max(ext.steps, 1), seed=ext.seed, device=ext.device, batch_size=ext.batch_size, sac=sac, sql=sql,
        flow_embed_hidden=tuple(ext.hidden), resume=False, overwrite=False, save_buffer=False,
        stack_on="", stack_skill=0, repeat=1,
    )


def _zero_critic(agent: nn.Module) -> None:
    with torch.no_grad():
        for p in [*agent.critic.parameters(), *agent.target_params]:
            p.zero_()


def extract_policy(
    q: ComposedQ,
    buffer: UnionBuffer | None,
    ext: ExtractConfig = ExtractConfig(),
    base: TrainConfig | None = None,
    squash: bool = True,
    progress: bool = False,
) -> Extraction:
    """Train a fresh policy towards ``exp(Q_Sigma/alpha)`` on union-buffer states only.

    Args:
        q: the composed Q (its ``alpha`` is the target temperature).
        buffer: the states to train on (only ``obs`` is read); ``None`` only with ``ext.steps == 0``.
        ext: method, steps and sizes.
        base: the run config whose env settings the extracted run keeps (e.g. a constituent's).
        squash: tanh-squashed actions in ``[-1, 1]`` (``False``: an unbounded latent action space,
            ``sac`` only).
        progress: show a progress bar of the gradient steps on stderr (with the last logged loss).

    Returns:
        An :class:`Extraction`; ``env_steps`` is 0: no environment is constructed or stepped.
    """
    if buffer is None:
        if ext.steps > 0:
            raise ValueError(f"extracting a policy ({ext.steps} steps) trains on buffer states; got no buffer")
    elif (buffer.obs_dim, buffer.act_dim) != (q.obs_dim, q.act_dim):
        raise ValueError(f"the buffer's spaces (obs {buffer.obs_dim}, act {buffer.act_dim}) differ from the "
                         f"composed Q's (obs {q.obs_dim}, act {q.act_dim})")
    cfg = extraction_train_config(q, ext, base)
    device = torch.device(ext.device)
    agent = build_agent(cfg, q.obs_dim, q.act_dim, squash=squash).to(device)
    _zero_critic(agent)
    q = q.to(device)
    policy = agent.policy
    opt = make_adam([{"params": list(policy.parameters()), "lr": ext.lr}], device.type, capturable=False)
    gen = torch.Generator().manual_seed(ext.seed)
    alpha = torch.full((1, 1), q.alpha, device=device)
    prior = cfg.sac.action_prior
    sql: SQLConfig = cfg.sql
    da = q.act_dim
    losses: list[tuple[int, float]] = []

    def step_sac(obs: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(1, obs.shape[1], da, generator=gen).to(device)
        act, log_pi = policy.sample(obs, noise)
        q_pi = q(obs, act).unsqueeze(1)  # (1, 1, B): actor_loss takes the min over this one "twin"
        return actor_loss(log_pi, action_log_prior(act, prior), q_pi, alpha).sum()

    def step_svgd(obs: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(1, obs.shape[1], sql.kernel_particles, da, generator=gen).to(device)
        pre = policy.sample_pre_tanh(obs, sql.kernel_particles, noise)
        # log_density is Q_Sigma/alpha already, hence alpha 1 here (sql.svgd_loss)
        return svgd_loss(pre, lambda a: q.log_density(obs.unsqueeze(2), a), 1.0, sql.n_fixed,
                         sql.svgd_space).sum()

    step_fn = step_svgd if ext.method == "svgd" else step_sac
    t0 = time.perf_counter()
    steps = progress_bar(range(1, ext.steps + 1), progress, f"extraction ({ext.method})", ext.steps)
    for step in steps:
        obs = buffer.sample(ext.batch_size, gen).obs.to(device)  # type: ignore[union-attr]  # steps > 0: a buffer
        loss = step_fn(obs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % ext.log_every == 0 or step == ext.steps:
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"the extraction loss became {value} at step {step}")
            losses.append((step, value))
            steps.set_postfix(loss=f"{value:.4g}")
    wall = time.perf_counter() - t0
    return Extraction(agent=agent, config=cfg, gradient_steps=ext.steps, wall_time_s=wall, env_steps=0,
                      losses=losses)

