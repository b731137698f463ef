"""The thin stateful soft Q-learning agent around the pure losses of :mod:`softskills.skills.sql`."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor, nn

from softskills.skills.agent_common import (
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
from softskills.skills.sql import (
    SQLConfig,
    soft_td_target,
    soft_value_uniform_is,
    svgd_loss,
    td_loss,
)
from softskills.skills.sql_sampler import SVGDSampler
from softskills.skills.types import Batch

__all__ = ["SQLAgent"]


class SQLAgent(nn.Module):
    """K independent soft Q-learners (thesis Algorithm 1) that update in one call.

    The public contract is :class:`~softskills.skills.agent.SACAgent`'s, so the shared trainer
    and checkpoints work unchanged: ``policy``, ``critic``, ``config``, ``num_skills``,
    ``act_dim``, ``optimizer``, ``target_params``, ``log_alpha``, ``update``, ``act``,
    ``compute_losses``, ``rebuild_optimizer``.

    One update computes the TD loss of the twin critics against the soft value of the *target*
    twins (the minimum of the twins at each uniform action, as softlearning's SQL does) and
    the amortised-SVGD surrogate of the sampler, whose target is ``exp(Q/alpha)`` with ``Q``
    the minimum of the *online* twins (the original had a single Q), in the space that
    ``SQLConfig.svgd_space`` picks (pre-tanh by default; see :mod:`softskills.skills.sql`). It sums them, runs
    **one** backward pass and **one** fused Adam step over two parameter groups. ``grad_a Q``
    for SVGD comes from the online critic through detached weights (one small
    ``autograd.grad``), so no critic weight gradient is computed for the sampler. Both losses
    read the parameters from before the step, as in the original, where both training ops ran
    in one ``session.run``.

    The target critic is either hard-copied every ``target_interval`` updates (the original)
    or Polyak-averaged. The update counter is the registered buffer ``num_updates``, so
    ``state_dict``/``load_state_dict`` round-trip it and a resumed run matches a straight run
    bit for bit. The hard copy is ``target <- target * (1 - c) + online * c`` with a device
    flag ``c = (num_updates % interval == 0)``, exact for ``c`` in {0, 1}: no host sync and no
    Python branch on device values, so the update stays CUDA-graph capturable.

    Args:
        sampler: the amortised sampling network (``policy`` attribute, as in SACAgent).
        critic: the twin critics.
        config: SQL hyperparameters.
        precision: ``"fp32"`` or ``"bf16"`` (autocast of the forward passes).
    """

    def __init__(
        self,
        sampler: SVGDSampler,
        critic: TwinQ,
        config: SQLConfig,
        precision: str = "fp32",
    ) -> None:
        super().__init__()
        check_precision(precision)
        k = critic.num_skills
        if getattr(sampler, "num_skills", k) != k:
            raise ValueError(f"sampler has {sampler.num_skills} skills but the critic has {k}")
        if getattr(sampler, "act_dim", critic.act_dim) != critic.act_dim:
            raise ValueError(f"sampler act_dim {sampler.act_dim} != critic act_dim {critic.act_dim}")
        self.policy, self.critic, self.config, self.precision = sampler, critic, config, precision
        self.num_skills, self.act_dim = k, critic.act_dim
        self._critic_params = list(critic.parameters())
        register_targets(self, self._critic_params)
        # A fixed temperature kept as a buffer (SACAgent has a log_alpha parameter): it moves with
        # the module and is what ``update`` reports as "alpha".
        self.register_buffer("log_alpha", torch.full((k, 1), math.log(config.alpha)))
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self.optimizer = self._make_optimizer(capturable=False)
        self.fast_path = True
        """One fused Adam call over both parameter groups (bitwise the same step; see
        :func:`~softskills.skills.agent_common.optimize`); the trainer sets it from ``TrainConfig.fast_path``."""

    @property
    def target_params(self) -> list[Tensor]:
        """The target critic's parameters: the buffers ``target_0, target_1, ...``.

        Read from the module on every access, so the list stays valid after ``.to()``/``.double()``,
        which replace buffer tensors (a list cached at construction would go stale).
        """
        return targets_of(self, len(self._critic_params))

    @property
    def sampler(self) -> SVGDSampler:
        """The amortised sampling network (an alias of ``policy``)."""
        return self.policy

    def _make_optimizer(self, capturable: bool) -> torch.optim.Adam:
        cfg = self.config
        groups = [
            {"params": self._critic_params, "lr": cfg.q_lr},
            {"params": list(self.policy.parameters()), "lr": cfg.policy_lr},
        ]
        return make_adam(groups, self.log_alpha.device.type, capturable)

    def rebuild_optimizer(self, capturable: bool = False) -> None:
        """Recreate the optimizer after the agent moved devices (state is preserved)."""
        self.optimizer = rebuild_adam(self.optimizer, self._make_optimizer, capturable)

    def _autocast(self) -> AbstractContextManager[Any]:
        return autocast(self.precision, self.log_alpha.device.type)

    def _q_min(self, obs: Tensor, act: Tensor, params: list[Tensor]) -> Tensor:
        """``min_j Q_j(s, a)`` for obs ``(K, B, ds)`` and particles ``(K, B, M, da)``: ``(K, B, M)``."""
        k, b, m, da = act.shape
        obs_rep = obs.unsqueeze(2).expand(k, b, m, obs.shape[-1]).reshape(k, b * m, obs.shape[-1])
        q = self.critic(obs_rep, act.reshape(k, b * m, da), params)
        return q.min(dim=1).values.view(k, b, m)

    def compute_losses(
        self, batch: Batch, noise: Tensor | None = None, next_noise: Tensor | None = None
    ) -> dict[str, Tensor]:
        """The TD loss and the SVGD surrogate on one batch, each ``(K,)`` (plus diagnostics).

        Args:
            batch: replay batch, leading shape ``(K, B)``.
            noise: the sampler's base samples ``xi`` for the SVGD particles at ``s``,
                ``(K, B, kernel_particles, act_dim)``, standard normal; drawn if ``None``.
                The first ``n_fixed`` particles are the fixed ones (index j), the rest are updated.
            next_noise: the uniform importance-sampling actions at ``s'``,
                ``(K, B, value_particles, act_dim)`` in ``[-1, 1]``; drawn if ``None``.
        """
        cfg = self.config
        k, b = batch.rew.shape
        alpha = self.log_alpha.exp()  # (K, 1)
        obs = batch.obs
        if next_noise is None:
            shape = (k, b, cfg.value_particles, self.act_dim)
            next_noise = torch.rand(shape, device=obs.device, dtype=obs.dtype) * 2.0 - 1.0
        with self._autocast():
            with torch.no_grad():
                next_q = self._q_min(batch.next_obs, next_noise, self.target_params).float()
                next_v = soft_value_uniform_is(next_q, alpha, self.act_dim)
                y = soft_td_target(batch.rew, batch.terminated, next_v, cfg.gamma, cfg.reward_scale)
            online, detached = critic_params_for_losses(self._critic_params, self.precision)
            q = self.critic(obs, batch.act, online).float()

            # SVGD towards exp(Q/alpha) in cfg.svgd_space (sql.py's module docstring); the
            # critic is detached there: only the sampler learns from this loss.
            pre = self.policy.sample_pre_tanh(obs, cfg.kernel_particles, noise)
            actor_loss = svgd_loss(pre, lambda a: self._q_min(obs, a, detached), alpha.unsqueeze(-1).unsqueeze(-1),
                                   cfg.n_fixed, cfg.svgd_space)
            losses = {
                "qf_loss": td_loss(q, y),
                "actor_loss": actor_loss,
            }
        losses["alpha"] = alpha.squeeze(-1)
        losses["q_mean"] = q.detach().mean(dim=(1, 2))
        losses["next_v"] = next_v.mean(-1)
        return losses

    @torch.no_grad()
    def _update_target(self) -> None:
        self.num_updates.add_(1)
        cfg = self.config
        if cfg.target_update == "polyak":
            torch._foreach_lerp_(self.target_params, self._critic_params, cfg.tau)
            return
        # Hard copy every ``target_interval`` updates, gated on the device (no host sync).
        # torch.where, not target * (1 - c) + online * c: 0 * inf would poison the target.
        copy = self.num_updates % cfg.target_interval == 0
        for target, online in zip(self.target_params, self._critic_params):
            target.copy_(torch.where(copy, online, target))

    def update(
        self, batch: Batch, noise: Tensor | None = None, next_noise: Tensor | None = None
    ) -> dict[str, Tensor]:
        """One gradient step for every skill. Returns detached per-skill losses; no host sync.

        ``noise``/``next_noise`` as in :meth:`compute_losses`. After the step the update counter
        grows by one and the target moves (a hard copy when the counter hits a multiple of
        ``target_interval``).
        """
        losses = self.compute_losses(batch, noise, next_noise)
        total = losses["qf_loss"].sum() + losses["actor_loss"].sum()
        optimize(self, total)
        self._update_target()
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """Actions for observations ``(K, N, obs_dim)`` (no gradients); ``deterministic`` uses ``xi = 0``."""
        if deterministic:
            return self.policy.deterministic(obs)
        return self.policy.draw(obs)
