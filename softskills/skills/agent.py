"""The thin stateful SAC agent around the pure losses of :mod:`softskills.skills.sac`."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor, nn

from softskills.skills.agent_common import (
    FusedAdamStep,
    autocast,
    check_precision,
    critic_params_for_losses,
    make_adam,
    optimize,
    rebuild_adam,
    register_targets,
    targets_of,
)
from softskills.skills.critic import TwinQ
from softskills.skills.sac import (
    SACConfig,
    action_log_prior,
    actor_loss,
    alpha_loss,
    critic_loss,
    soft_q_target,
)
from softskills.skills.types import Batch, Policy

__all__ = ["SACAgent"]


class SACAgent(nn.Module):
    """K independent SAC learners that update in one call.

    The update evaluates the critic, actor and temperature losses on the same parameters,
    sums them, runs **one** backward pass and **one** fused Adam step over three parameter
    groups, then moves the twin targets with one ``foreach`` lerp. This is the joint update
    of TorchRL's SAC recipe; the sequential update of SB3 differs only in that its actor sees
    the critic after that step's critic update. The actor loss reads the critic through
    detached weights, so no critic weight gradient is ever computed for it.

    Args:
        policy: any :class:`~softskills.skills.types.Policy` module (Gaussian, Real-NVP, ...).
        critic: the twin critics.
        config: SAC hyperparameters.
        precision: ``"fp32"`` or ``"bf16"`` (autocast of the forward passes; master weights
            and Adam state stay fp32).

    Attributes:
        fast_path: take the cheaper, bitwise-equal route where one exists (default ``True``):
            one ``_fused_adam_`` call over all parameter groups (:class:`FusedAdamStep`) and
            acting without the log-density. ``False`` runs ``optimizer.step()`` per group and
            ``policy.sample`` when acting; the parameters are the same either way
            (``tests/skills/test_fastpath.py``). The trainer sets it from ``TrainConfig.fast_path``.
    """

    def __init__(
        self,
        policy: nn.Module,
        critic: TwinQ,
        config: SACConfig,
        precision: str = "fp32",
    ) -> None:
        super().__init__()
        check_precision(precision)
        if not isinstance(policy, Policy):
            raise TypeError(
                f"SACAgent needs a policy with a tractable density (sample with log pi, log_prob, "
                f"deterministic): GaussianPolicy or RealNVPPolicy. {type(policy).__name__} has no "
                "tractable density (an SVGD sampler belongs to SQLAgent)"
            )
        k = critic.num_skills
        if getattr(policy, "num_skills", k) != k:
            raise ValueError(f"policy has {policy.num_skills} skills but the critic has {k}")
        self.policy, self.critic, self.config, self.precision = policy, critic, config, precision
        self.num_skills, self.act_dim = k, critic.act_dim
        self._critic_params = list(critic.parameters())
        register_targets(self, self._critic_params)
        self.log_alpha = nn.Parameter(
            torch.full((k, 1), math.log(config.init_alpha)), requires_grad=config.auto_alpha
        )
        self.target_entropy = (
            -float(self.act_dim) if config.target_entropy is None else float(config.target_entropy)
        )
        self.optimizer = self._make_optimizer(capturable=False)
        self.fast_path = True
        self._adam_step: FusedAdamStep | None = None
        self._compiled_losses: Any = None
        self.compile_mode: str | None = None
        """``torch.compile``'s ``mode`` for :meth:`compiled_update` (``None``: inductor's default), read at
        the first call only. Under :class:`~softskills.skills.graph.GraphedUpdate` use a mode without
        CUDA graphs of its own (not ``reduce-overhead`` or ``max-autotune``)."""

    @property
    def target_params(self) -> list[Tensor]:
        """The twin target critics' parameters (registered buffers, so ``.to`` moves them)."""
        return targets_of(self, len(self._critic_params))

    def _make_optimizer(self, capturable: bool) -> torch.optim.Adam:
        cfg = self.config
        groups = [
            {"params": self._critic_params, "lr": cfg.q_lr},
            {"params": list(self.policy.parameters()), "lr": cfg.policy_lr},
        ]
        if cfg.auto_alpha:
            groups.append({"params": [self.log_alpha], "lr": cfg.alpha_lr})
        return make_adam(groups, self.log_alpha.device.type, capturable)

    def rebuild_optimizer(self, capturable: bool = False) -> None:
        """Recreate the optimizer after the agent moved devices (state is preserved)."""
        self.optimizer = rebuild_adam(self.optimizer, self._make_optimizer, capturable)

    def _autocast(self) -> AbstractContextManager[Any]:
        return autocast(self.precision, self.log_alpha.device.type)

    def compute_losses(
        self, batch: Batch, noise: Tensor | None = None, next_noise: Tensor | None = None
    ) -> dict[str, Tensor]:
        """All SAC losses on one batch, each of shape ``(K,)`` (plus diagnostics).

        ``noise``/``next_noise`` are the policy's base samples at ``s`` and ``s'``; drawn if ``None``.
        """
        cfg = self.config
        prior = cfg.action_prior
        # log p(a) = 0 for the uniform prior and none: pass None and skip two ops (no bit changes)
        no_prior = prior in ("uniform", "none")
        log_prior = (lambda a: None) if no_prior else (lambda a: action_log_prior(a, prior).float())
        alpha = self.log_alpha.detach().exp()
        with self._autocast():
            with torch.no_grad():
                next_act, next_log_pi = self.policy.sample(batch.next_obs, next_noise)
                next_q = self.critic(batch.next_obs, next_act, self.target_params)
                y = soft_q_target(
                    batch.rew, batch.terminated, next_q.float(), next_log_pi.float(),
                    log_prior(next_act), alpha, cfg.gamma, cfg.reward_scale,
                )
            online, detached = critic_params_for_losses(self._critic_params, self.precision)
            q = self.critic(batch.obs, batch.act, online).float()
            act, log_pi = self.policy.sample(batch.obs, noise)
            q_pi = self.critic(batch.obs, act, detached).float()
            log_pi = log_pi.float()
            losses = {
                "qf_loss": critic_loss(q, y),
                "actor_loss": actor_loss(log_pi, log_prior(act), q_pi, alpha),
                "alpha_loss": alpha_loss(self.log_alpha, log_pi, self.target_entropy),
            }
        losses["alpha"] = alpha.squeeze(-1)
        losses["entropy"] = -log_pi.detach().mean(-1)
        return losses

    def update(
        self, batch: Batch, noise: Tensor | None = None, next_noise: Tensor | None = None
    ) -> dict[str, Tensor]:
        """One gradient step for every skill. Returns detached per-skill losses; no host sync."""
        total, losses = self._total_and_losses(batch, noise, next_noise)
        optimize(self, total)
        with torch.no_grad():
            torch._foreach_lerp_(self.target_params, self._critic_params, self.config.tau)
        return {k: v.detach() for k, v in losses.items()}

    def _total_and_losses(self, batch: Batch, noise: Tensor, next_noise: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """``sum_k (J_Q + J_pi [+ J(alpha)])`` and the per-skill losses (what :meth:`update` minimises)."""
        losses = self.compute_losses(batch, noise, next_noise)
        total = losses["qf_loss"].sum() + losses["actor_loss"].sum()
        if self.config.auto_alpha:
            total = total + losses["alpha_loss"].sum()
        return total, losses

    def compiled_update(self, batch: Batch) -> dict[str, Tensor]:
        """:meth:`update` with the losses and their backward compiled by ``torch.compile``.

        Inductor, ``fullgraph=True``, mode :attr:`compile_mode`; compiled on the first call (tens of seconds on a CPU),
        no recompilation while the batch shape stays the same. The base noise of the policy at
        ``s'`` and at ``s`` is drawn here, outside the graph, in the order :meth:`update` draws
        it, so the random stream is eager's; the result still differs from eager in the last
        bits, because fused kernels sum in another order. A policy's host-side ``validate``
        check (a device sync, which ``fullgraph`` cannot trace) is turned off. The Adam step
        and the target lerp run eagerly, as in :meth:`update`.
        """
        if self._compiled_losses is None:
            if hasattr(self.policy, "validate"):
                self.policy.validate = False
            self._compiled_losses = torch.compile(self._total_and_losses, fullgraph=True, mode=self.compile_mode)
        k, b = batch.obs.shape[0], batch.obs.shape[1]
        dev = batch.obs.device
        next_noise = torch.randn(k, b, self.act_dim, device=dev)
        noise = torch.randn(k, b, self.act_dim, device=dev)
        total, losses = self._compiled_losses(batch, noise, next_noise)
        optimize(self, total)
        with torch.no_grad():
            torch._foreach_lerp_(self.target_params, self._critic_params, self.config.tau)
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """Actions for observations ``(K, N, obs_dim)`` (no gradients).

        A stochastic action is ``policy.sample(obs)[0]``; with :attr:`fast_path` and a policy
        that has ``action`` (Gaussian, Real-NVP) the log-density is not computed (same action).
        """
        if deterministic:
            return self.policy.deterministic(obs)
        if self.fast_path and hasattr(self.policy, "action"):
            return self.policy.action(obs)
        return self.policy.sample(obs)[0]
