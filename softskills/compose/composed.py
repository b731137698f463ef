"""The composed soft Q-function ``Q_Sigma = sum_i w_i Q_i`` at an explicit temperature (thesis eq. 6.2).

Each constituent ``Q_i`` is a trained twin critic (:class:`~softskills.skills.critic.TwinQ`) of
one skill; its value is the **minimum of its twins**, the clipped double-Q estimate that the SAC
and SQL agents bootstrap from, so ``Q_i`` is the same function the constituent's own policy and
targets were trained against.

Weights and temperatures (originals.md §2.5 and §3). The composed policy is
``pi_Sigma(a|s) ∝ exp(Q_Sigma(s, a)/alpha)``. Multiplying every weight and the temperature by the
same positive number leaves it unchanged, so a sum with weights ``w`` at temperature ``alpha`` is
the *mean* with normalised weights ``w/sum(w)`` at temperature ``alpha/sum(w)``. The thesis'
``Q_Sigma`` (eq. 6.2) is the mean, weights summing to one; the original code
(``SumQFunction``, ``examples/pusher_combine.py``) summed the Q's, weights ``(1, 1)`` at the
constituents' ``alpha``, which is the mean at ``alpha/2``: a *sharper* policy than the theorems'
``pi_Sigma`` (the mean at the constituents' own ``alpha``). The bounds
(:mod:`softskills.compose.bounds`) are always computed in the normalised form,
:meth:`ComposedQ.normalised`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from softskills.skills.critic import TwinQ

__all__ = ["ComposedQ", "twin_q_skill"]


def twin_q_skill(critic: TwinQ, skill: int) -> TwinQ:
    """A single-skill :class:`TwinQ` (K = 1) holding a copy of skill ``skill``'s two twins.

    Member ``2k + j`` of the stacked MLP is twin ``j`` of skill ``k``, so the copy takes the
    slices ``[2k:2k+2]`` of every stacked weight and bias. The result evaluates exactly like
    ``critic(...)[k]``.
    """
    if not 0 <= skill < critic.num_skills:
        raise ValueError(f"skill {skill} is out of range for a critic of {critic.num_skills} skill(s)")
    hidden = [layer.out_features for layer in critic.net.layers[:-1]]
    out = TwinQ(1, critic.obs_dim, critic.act_dim, hidden=hidden)
    with torch.no_grad():
        for dst, src in zip(out.net.parameters(), critic.net.parameters()):
            dst.copy_(src[2 * skill: 2 * skill + 2])
    return out.to(next(critic.parameters()).device, next(critic.parameters()).dtype)


def _check_weights(weights: Sequence[float], n: int) -> list[float]:
    w = [float(x) for x in weights]
    if len(w) != n:
        raise ValueError(f"got {len(w)} weight(s) for {n} constituent(s); give one weight per constituent")
    if not all(math.isfinite(x) and x > 0.0 for x in w):
        raise ValueError(f"weights must be finite and positive, got {list(weights)}")
    return w


class ComposedQ(nn.Module):
    """``Q_Sigma(s, a) = sum_i w_i min_j Q_i^(j)(s, a)`` and its Boltzmann temperature ``alpha``.

    The constituents are copied and frozen (``requires_grad = False``, eval mode), so extracting
    a policy never changes them, and gradients flow only into the actions. A :class:`TwinQ` with
    K > 1 skills is reduced to the chosen skill's twins (:func:`twin_q_skill`), so only that skill
    is evaluated. Any other module with the TwinQ contract (``num_skills``, ``obs_dim``,
    ``act_dim`` and ``critic(obs, act) -> (K, 2, B)`` on ``(K, B, .)`` inputs) is evaluated on
    inputs repeated over its K skills and the chosen skill is read off.

    Args:
        critics: the constituents' twin critics.
        weights: one positive weight per constituent; ``None`` gives the thesis' mean
            (``1/n`` each, eq. 6.2). ``(1, 1)`` is the original's sum.
        alpha: the temperature of ``pi_Sigma ∝ exp(Q_Sigma/alpha)``, > 0.
        skills: the skill index of each constituent in its critic (default 0 each).

    Raises:
        ValueError: no constituents; weights that are not positive or not one per constituent;
            ``alpha <= 0``; a skill index out of range; constituents whose observation or action
            widths differ (the message names them).
    """

    def __init__(
        self,
        critics: Sequence[nn.Module],
        weights: Sequence[float] | None = None,
        alpha: float = 1.0,
        skills: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        n = len(critics)
        if n == 0:
            raise ValueError("ComposedQ needs at least one constituent critic")
        w = _check_weights([1.0 / n] * n if weights is None else weights, n)
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0.0):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
        skills = [0] * n if skills is None else [int(k) for k in skills]
        if len(skills) != n:
            raise ValueError(f"got {len(skills)} skill index(es) for {n} constituent(s)")
        dims = [(int(c.obs_dim), int(c.act_dim)) for c in critics]
        if len(set(dims)) != 1:
            listed = ", ".join(f"#{i}: obs {o}, act {a}" for i, (o, a) in enumerate(dims))
            raise ValueError(f"the constituents' spaces differ ({listed}); compose skills of one environment")
        for i, (c, k) in enumerate(zip(critics, skills)):
            if not 0 <= k < c.num_skills:
                raise ValueError(f"constituent #{i}: skill {k} is out of range for its {c.num_skills} skill(s)")
        members: list[nn.Module] = []
        self._skills: list[int] = []
        for c, k in zip(critics, skills):
            if isinstance(c, TwinQ):
                members.append(twin_q_skill(c, k))
                self._skills.append(0)
            else:
                members.append(copy.deepcopy(c))
                self._skills.append(k)
        self.critics = nn.ModuleList(members)
        self.critics.requires_grad_(False)
        self.critics.eval()
        self.obs_dim, self.act_dim = dims[0]
        self.weights: tuple[float, ...] = tuple(w)
        self.alpha = float(alpha)

    # ------------------------------------------------------------------ weights and temperature
    @property
    def num_constituents(self) -> int:
        """n, the number of composed skills."""
        return len(self.critics)

    @property
    def total_weight(self) -> float:
        """``sum_i w_i``."""
        return float(sum(self.weights))

    @property
    def normalised_weights(self) -> tuple[float, ...]:
        """``w_i / sum(w)``: the weights of the mean form (they sum to one)."""
        t = self.total_weight
        return tuple(x / t for x in self.weights)

    @property
    def normalised_alpha(self) -> float:
        """``alpha / sum(w)``: the temperature of the mean form (same Boltzmann policy)."""
        return self.alpha / self.total_weight

    def normalised(self) -> ComposedQ:
        """The mean form: weights ``w/sum(w)`` at ``alpha/sum(w)``, sharing these constituents.

        It induces the same policy ``pi_Sigma``; its Q is ``Q_Sigma/sum(w)``. The bounds of Lemma 5
        and Theorem 3 are stated for this form.
        """
        out = copy.copy(self)  # shallow: nn.Module attributes (the critics) are shared, not copied
        out._modules = dict(self._modules)
        out.weights = self.normalised_weights
        out.alpha = self.normalised_alpha
        return out

    def extra_repr(self) -> str:
        w = ", ".join(f"{x:g}" for x in self.weights)
        return f"weights=({w}), alpha={self.alpha:g}, obs_dim={self.obs_dim}, act_dim={self.act_dim}"

    # ------------------------------------------------------------------ evaluation
    def _one(self, i: int, x_obs: Tensor, x_act: Tensor) -> Tensor:
        """``min_j Q_i^(j)`` on flat inputs ``(N, ds)``, ``(N, da)`` -> ``(N,)``."""
        critic, k = self.critics[i], self._skills[i]
        kk = critic.num_skills
        q = critic(x_obs.unsqueeze(0).expand(kk, *x_obs.shape), x_act.unsqueeze(0).expand(kk, *x_act.shape))
        return q[k].min(dim=0).values

    def _flat(self, obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor, torch.Size]:
        if obs.shape[-1] != self.obs_dim or act.shape[-1] != self.act_dim:
            raise ValueError(f"expected observations (..., {self.obs_dim}) and actions (..., {self.act_dim}), "
                             f"got {tuple(obs.shape)} and {tuple(act.shape)}")
        lead = torch.broadcast_shapes(obs.shape[:-1], act.shape[:-1])
        o = obs.expand(*lead, self.obs_dim).reshape(-1, self.obs_dim)
        a = act.expand(*lead, self.act_dim).reshape(-1, self.act_dim)
        return o, a, lead

    def constituents(self, obs: Tensor, act: Tensor) -> Tensor:
        """Every ``Q_i(s, a) = min_j Q_i^(j)(s, a)``: ``(..., ds)``, ``(..., da)`` -> ``(n, ...)``.

        The leading shapes of ``obs`` and ``act`` broadcast (e.g. ``(B, 1, ds)`` against
        ``(B, M, da)`` for M actions per state).
        """
        o, a, lead = self._flat(obs, act)
        return torch.stack([self._one(i, o, a) for i in range(len(self.critics))]).reshape(-1, *lead)

    def combine(self, q_i: Tensor) -> Tensor:
        """``sum_i w_i q_i`` of per-constituent values ``(n, ...)`` -> ``(...)``."""
        w = torch.tensor(self.weights, dtype=q_i.dtype, device=q_i.device)
        return torch.tensordot(w, q_i, dims=1)

    def forward(self, obs: Tensor, act: Tensor) -> Tensor:
        """``Q_Sigma(s, a)``: ``(..., ds)``, ``(..., da)`` -> ``(...)`` (leading shapes broadcast)."""
        return self.combine(self.constituents(obs, act))

    def log_density(self, obs: Tensor, act: Tensor) -> Tensor:
        """``Q_Sigma(s, a)/alpha``, the unnormalised log-density of ``pi_Sigma``."""
        return self(obs, act) / self.alpha
