"""Composition bounds by fitted iteration on replay transitions (thesis Lemma 5, Theorem 3; originals.md §3).

The neural counterpart of :mod:`softskills.compose.tabular`, whose conventions it keeps: the bounds
are stated for the *mean* form of the composition, weights ``w_i`` summing to one at temperature
``alpha`` (:meth:`ComposedQ.normalised`; a weighted sum is first divided by its total weight), and
the constituent policies are ``pi_i ∝ exp(Q_i/alpha)`` at that same ``alpha``.

**The divergence term.** With ``V_i = alpha log int exp(Q_i/alpha) da`` and ``V_Sigma`` the soft
value of ``Q_Sigma = sum_i w_i Q_i``,

    ``g(s) = sum_i w_i V_i(s) - V_Sigma(s) = -alpha log int prod_i pi_i(a|s)^{w_i} da >= 0``

(Hoelder). For two constituents with weights (1/2, 1/2) this is ``(alpha/2) D_1/2(pi1||pi2)``, the
key identity of Lemma 5's proof, and the proofs of Lemma 5, Theorem 3 and the exact regret identity
go through unchanged for any normalised weights with ``g`` in place of ``(alpha/2) D_1/2``. So:

* ``C*(s, a) = gamma E_s'[g(s') + max_a' C*(s', a')]`` (Lemma 5 with ``alpha/2``, eq. B.28);
* ``D*(s, a) = gamma E_s' E_{a'~pi_Sigma}[C*(s', a') + D*(s', a')]`` (Theorem 3, eq. B.31);
* ``D_exact(s, a) = gamma E_s'[g(s') + E_{a'~pi_Sigma} D_exact(s', a')]``, ``Q^{pi_Sigma}_C = Q_Sigma - D_exact``;
* regret ``Q*_C - Q^{pi_Sigma}_C`` lies in ``[max(0, D_exact - C*), min(D*, D_exact)]``. In exact
  arithmetic the lower end is always 0: ``C* >= D_exact`` by induction over the iterations (a max
  over ``a'`` dominates the expectation under ``pi_Sigma``), so a positive fitted value only
  measures fitting error; it is reported for completeness.

All are multiplied by ``(1 - terminated)`` at terminal ``s'`` (no continuation); truncated
transitions bootstrap. ``g`` is estimated per state by one of three estimators, chosen by what the
constituents expose (:func:`make_estimator`): the Gaussian closed form (two or more tanh-Gaussian
SAC policies; the shared tanh leaves ``g`` unchanged), Monte Carlo with densities (flows), or soft
values from the Q's alone (SQL samplers; :func:`~softskills.skills.sql.soft_value_uniform_is`).

**Fitted iteration.** ``C*``, ``D*`` and ``D_exact`` are three members of one stacked MLP
(:class:`BoundNets`) trained jointly by fitted iteration: every iteration freezes a copy of the
networks, and ``steps_per_iteration`` Adam steps regress each member on its backup computed with
the frozen copy on union-buffer transitions ``(s, a, s', d)``. At each ``s'`` the candidates
``a'_1..a'_M`` are ``action_samples`` uniform draws from ``[-1, 1]^|A|`` (or an enumerated finite
action set), the max of ``C*`` is taken over them, and ``E_{pi_Sigma}`` is the self-normalised
importance-sampling average with weights ``softmax_j Q_Sigma(s', a'_j)/alpha`` (exact for an
enumerated finite set; consistent as M grows otherwise; the max over M samples is biased low).
The last layer starts at zero, so the iterates start at 0 like :func:`tabular.c_star`'s and a
truncated iteration under-estimates ``C*`` (its iterates grow monotonically to the fixed point):
after n iterations a constant ``g`` has reached ``1 - gamma^n`` of its fixed point, which is why
``gamma = 0.99`` needs hundreds of iterations (``FittedBounds.truncation`` reports ``gamma^n``).
By default (``FitConfig.fixed_contexts``) each transition's candidates, ``pi_Sigma`` weights and
``g(s')`` are drawn once before fitting, so the constituent critics and the divergence estimator
run once per transition instead of once per sampled batch. By default (``FitConfig.clip_to_range``)
the frozen networks' values at ``s'`` are projected onto the ranges the fixed points provably lie in
(:func:`range_limits`: ``0 <= C*, D_exact <= gamma g_max / (1 - gamma)``), which leaves exact
iterates unchanged and caps the over-estimates that a max over actions the buffer never took
feeds back into every later iteration. With a buffer no larger than
``batch_size`` every step uses all transitions, which makes the iteration deterministic (this is
how the tests match the exact tabular answer).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from softskills.compose.composed import ComposedQ
from softskills.compose.progress import progress_bar
from softskills.compose.renyi import renyi_half_gaussian, renyi_half_soft_values
from softskills.compose.slices import policy_skill
from softskills.compose.union import UnionBuffer
from softskills.nn import StackedMLP
from softskills.skills.sql import soft_value_uniform_is

__all__ = [
    "BoundNets",
    "DivergenceEstimator",
    "FitConfig",
    "FittedBounds",
    "GaussianGap",
    "MonteCarloGap",
    "SoftValueGap",
    "bound_statistics",
    "enumerated_actions",
    "fit_bounds",
    "make_estimator",
    "range_limits",
    "uniform_actions",
]

CandidateFn = Callable[[Tensor, torch.Generator], Tensor]
"""``(next_obs (N, ds), generator) -> candidate actions (N, M, da)``."""

BOUND_NAMES = ("c_star", "d_star", "d_exact")


# ------------------------------------------------------------------------------------------------
# Candidate actions
# ------------------------------------------------------------------------------------------------


def uniform_actions(num: int, act_dim: int) -> CandidateFn:
    """``num`` uniform actions in ``[-1, 1]^act_dim`` per state."""
    if num < 1:
        raise ValueError(f"need at least one candidate action, got {num}")

    def draw(obs: Tensor, gen: torch.Generator) -> Tensor:
        u = torch.rand(obs.shape[0], num, act_dim, generator=gen, dtype=obs.dtype)
        return (2.0 * u - 1.0).to(obs.device)

    return draw


def enumerated_actions(actions: Tensor) -> CandidateFn:
    """Every action of a finite set ``(A, da)`` (e.g. one-hot rows) at every state: exact sums over actions."""
    if actions.ndim != 2 or actions.shape[0] == 0:
        raise ValueError(f"actions must have shape (A, da) with A >= 1, got {tuple(actions.shape)}")

    def draw(obs: Tensor, gen: torch.Generator) -> Tensor:
        return actions.to(obs.device, obs.dtype).unsqueeze(0).expand(obs.shape[0], *actions.shape)

    return draw


# ------------------------------------------------------------------------------------------------
# The divergence term g(s) = sum_i w_i V_i - V_Sigma
# ------------------------------------------------------------------------------------------------


class DivergenceEstimator(Protocol):
    """Per-state ``g(s)`` and, for two constituents, ``D_1/2(pi1||pi2)(s)``.

    Every method gets the states ``obs (N, ds)``, candidate actions ``cand (N, M, da)`` and the
    constituents' Q-values there, ``q_i (n, N, M)``; estimators that use the policies ignore the
    last two.
    """

    name: str

    def gap(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor:
        """``g(s) = sum_i w_i V_i(s) - V_Sigma(s)``, shape ``(N,)``."""
        ...

    def renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor | None:
        """``D_1/2(pi1||pi2)(s)`` for two constituents, ``(N,)``; ``None`` otherwise."""
        ...

    def gap_and_renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> tuple[Tensor, Tensor | None]:
        """Both of the above from one evaluation of the policies where the estimator can share it."""
        ...


def _check_normalised(weights: Sequence[float], alpha: float) -> tuple[list[float], float]:
    w = [float(x) for x in weights]
    if not w or not all(math.isfinite(x) and x > 0 for x in w) or abs(sum(w) - 1.0) > 1e-6:
        raise ValueError(f"the bounds need positive weights that sum to one (the mean form), got {list(weights)}")
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
    return w, float(alpha)


@dataclass
class SoftValueGap:
    """``g`` from soft values of the Q's alone (Lemma 5's identity; SQL's uniform importance sampling).

    Each ``V`` is :func:`~softskills.skills.sql.soft_value_uniform_is` over the *same* candidate
    actions, so the importance-sampling constants cancel in ``sum_i w_i V_i - V_Sigma`` and the
    Jensen biases largely do (see :func:`~softskills.compose.renyi.renyi_half_soft_values`). With an
    enumerated finite action set the estimate is exact.
    """

    weights: Sequence[float]
    alpha: float
    name: str = "soft_values"

    def __post_init__(self) -> None:
        self.weights, self.alpha = _check_normalised(self.weights, self.alpha)

    def _v(self, q: Tensor, act_dim: int) -> Tensor:  # Q at the candidates (N, M) -> V (N,)
        return soft_value_uniform_is(q.unsqueeze(0), self.alpha, act_dim)[0]

    def gap(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor:
        da = cand.shape[-1]
        w = torch.tensor(self.weights, dtype=q_i.dtype, device=q_i.device)
        v_i = torch.stack([self._v(q, da) for q in q_i])
        v_sigma = self._v(torch.tensordot(w, q_i, dims=1), da)
        return torch.tensordot(w, v_i, dims=1) - v_sigma

    def renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor | None:
        if q_i.shape[0] != 2:
            return None
        da = cand.shape[-1]
        v1, v2, v_half = self._v(q_i[0], da), self._v(q_i[1], da), self._v(0.5 * (q_i[0] + q_i[1]), da)
        return renyi_half_soft_values(v1, v2, v_half, self.alpha)

    def gap_and_renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.gap(obs, cand, q_i), self.renyi_half(obs, cand, q_i)


def _skill_rows(policy: nn.Module, obs: Tensor) -> Tensor:
    """``obs (N, ds)`` repeated over the policy's K skills: ``(K, N, ds)``."""
    return obs.unsqueeze(0).expand(policy.num_skills, *obs.shape)


@dataclass
class GaussianGap:
    """``g`` in closed form for diagonal (tanh-)Gaussian policies, any number and any normalised weights.

    Per action dimension, with precisions ``l_i = 1/sigma_i^2``, ``L = sum_i w_i l_i`` and
    ``m = sum_i w_i l_i mu_i / L``: ``-log int prod_i N(mu_i, sigma_i^2)^{w_i} =
    (1/2) log L + sum_i w_i log sigma_i + (1/2) sum_i w_i l_i (mu_i - m)^2``, summed over dimensions and
    times ``alpha``. For (1/2, 1/2) it is ``(alpha/2)`` :func:`renyi_half_gaussian`. The shared tanh
    squash leaves it unchanged, so the pre-squash ``mu, sigma`` give the exact value.
    """

    policies: Sequence[nn.Module]
    skills: Sequence[int]
    weights: Sequence[float]
    alpha: float
    name: str = "gaussian"

    def __post_init__(self) -> None:
        self.weights, self.alpha = _check_normalised(self.weights, self.alpha)
        if not len(self.policies) == len(self.skills) == len(self.weights):
            raise ValueError("GaussianGap needs one policy, skill and weight per constituent")
        # Only skill k of each K-skill policy is needed: evaluate a one-skill copy, not all K.
        self.policies = [policy_skill(p, k) for p, k in zip(self.policies, self.skills)]
        self.skills = [0] * len(self.policies)

    def _params(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        mus, log_stds = [], []
        for p, k in zip(self.policies, self.skills):
            mu, log_std = p._mean_log_std(_skill_rows(p, obs))  # the policy's own pre-squash parameters
            mus.append(mu[k])
            log_stds.append(log_std[k])
        return torch.stack(mus), torch.stack(log_stds)  # (n, N, da)

    def gap(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor:
        mu, log_std = self._params(obs)
        w = torch.tensor(self.weights, dtype=mu.dtype, device=mu.device).view(-1, 1, 1)
        prec = torch.exp(-2.0 * log_std)
        total = (w * prec).sum(0)
        m = (w * prec * mu).sum(0) / total
        per_dim = 0.5 * torch.log(total) + (w * log_std).sum(0) + 0.5 * (w * prec * (mu - m).square()).sum(0)
        return self.alpha * per_dim.sum(-1)

    def renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor | None:
        if len(self.policies) != 2:
            return None
        mu, log_std = self._params(obs)
        return renyi_half_gaussian(mu[0], log_std[0].exp(), mu[1], log_std[1].exp())

    def gap_and_renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.gap(obs, cand, q_i), self.renyi_half(obs, cand, q_i)


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _normal_log_prob(x: Tensor) -> Tensor:
    return (-0.5 * x.square() - _HALF_LOG_2PI).sum(-1)


def _state_part(policy: nn.Module, obs: Tensor, repeats: int) -> tuple[Tensor, ...]:
    """What a Gaussian or Real-NVP policy computes from the state alone, once per state of ``obs`` ``(K, N, ds)``
    and then repeated ``repeats`` times along the batch (row ``r N + n`` is state ``n``): ``(mean, log_std)``
    of a Gaussian, the embedding of a flow, each ``(K, repeats N, .)``. It is most of a policy's cost."""
    from softskills.flows.gaussian import GaussianPolicy
    from softskills.flows.realnvp import RealNVPPolicy

    if isinstance(policy, GaussianPolicy):
        parts: tuple[Tensor, ...] = policy._mean_log_std(obs)
    elif isinstance(policy, RealNVPPolicy):
        parts = (policy.embedding(obs),)
    else:
        raise TypeError(f"no pre-squash density for {type(policy).__name__}")
    return tuple(x.unsqueeze(1).expand(x.shape[0], repeats, *x.shape[1:])
                 .reshape(x.shape[0], repeats * x.shape[1], x.shape[-1]) for x in parts)


def _raw_sample(policy: nn.Module, state: tuple[Tensor, ...], noise: Tensor) -> tuple[Tensor, Tensor]:
    """A pre-squash sample ``u`` and ``log p(u|s)`` of a Gaussian or Real-NVP policy, ``(K, B, .)``, from the
    rows' :func:`_state_part`."""
    from softskills.flows.gaussian import GaussianPolicy

    if isinstance(policy, GaussianPolicy):
        mean, log_std = state
        return mean + log_std.exp() * noise, _normal_log_prob(noise) - log_std.sum(-1)
    u, log_det = policy.transform_with_context(noise, state[0])
    return u, _normal_log_prob(noise) - log_det


def _raw_log_prob(policy: nn.Module, state: tuple[Tensor, ...], u: Tensor) -> Tensor:
    """``log p(u|s)`` of a pre-squash action under a Gaussian or Real-NVP policy, from the rows' :func:`_state_part`."""
    from softskills.flows.gaussian import GaussianPolicy

    if isinstance(policy, GaussianPolicy):
        mean, log_std = state
        return _normal_log_prob((u - mean) * torch.exp(-log_std)) - log_std.sum(-1)
    h, log_det = policy.transform_with_context(u, state[0], inverse=True)
    return _normal_log_prob(h) + log_det


@dataclass
class MonteCarloGap:
    """``g`` by Monte Carlo from policy densities (flows, tanh-Gaussians), with a mixture proposal.

    ``int prod_i pi_i^{w_i} da`` is estimated by importance sampling from the mixture
    ``sum_i w_i pi_i`` (``samples`` draws from *each* ``pi_i``, weighted by ``w_i``). By the weighted
    AM-GM inequality the importance weights ``prod_i pi_i^{w_i} / sum_i w_i pi_i`` are at most 1, so
    the estimate has finite variance for any weights; sampling from ``pi_1`` alone, as
    :func:`~softskills.compose.renyi.renyi_half_mc` does, has unbounded weights ``(pi_2/pi_1)^{w_2}``
    whenever ``pi_2`` has heavier tails, and converged visibly slower in the tests. ``-log`` of the
    mean biases ``g`` upward (Jensen), consistently as ``samples`` grows. ``renyi_half`` uses the
    same draws with the integrand ``sqrt(pi_1 pi_2)``.

    Gaussian and Real-NVP policies that share their squash are compared in the *pre-tanh* space
    (the tanh Jacobian cancels in every ratio): in the squashed space a sample that saturates to
    ``+-1`` in float32 would be mapped back by a clamped ``atanh`` to the wrong pre-squash value.
    Other policies use ``sample``/``log_prob`` on squashed actions.
    """

    policies: Sequence[nn.Module]
    skills: Sequence[int]
    weights: Sequence[float]
    alpha: float
    samples: int = 64
    seed: int = 0
    name: str = "mc"
    generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.weights, self.alpha = _check_normalised(self.weights, self.alpha)
        if not len(self.policies) == len(self.skills) == len(self.weights):
            raise ValueError("MonteCarloGap needs one policy, skill and weight per constituent")
        if self.samples < 1:
            raise ValueError(f"samples must be positive, got {self.samples}")
        self.generator = torch.Generator().manual_seed(self.seed)
        # Only skill k of each K-skill policy is needed: a one-skill copy costs 1/K of the stack.
        if self._raw_space():  # Gaussian and Real-NVP policies (others are evaluated whole)
            self.policies = [policy_skill(p, k) for p, k in zip(self.policies, self.skills)]
            self.skills = [0] * len(self.policies)

    def _raw_space(self) -> bool:
        from softskills.flows.gaussian import GaussianPolicy
        from softskills.flows.realnvp import RealNVPPolicy

        return (all(isinstance(p, (GaussianPolicy, RealNVPPolicy)) for p in self.policies)
                and len({bool(p.squash) for p in self.policies}) == 1)

    def _log_probs(self, obs: Tensor) -> Tensor:
        """``log pi_k(a|s)`` of every policy k at ``samples`` draws from every policy i: ``(n_i, n_k, S, N)``."""
        raw = self._raw_space()
        rep = obs.unsqueeze(0).expand(self.samples, *obs.shape).reshape(-1, obs.shape[-1])  # (S N, ds)
        # In the pre-squash space each policy's state part (its costly embedding or trunk) runs once per state.
        states = [_state_part(p, _skill_rows(p, obs), self.samples) for p in self.policies] if raw else []
        rows = []
        for i, (p_i, k_i) in enumerate(zip(self.policies, self.skills)):
            noise = torch.randn(p_i.num_skills, rep.shape[0], p_i.act_dim, generator=self.generator, dtype=obs.dtype)
            noise = noise.to(obs.device)
            act = (_raw_sample(p_i, states[i], noise) if raw else type(p_i).sample(p_i, _skill_rows(p_i, rep), noise))
            act = act[0][k_i]
            cols = []
            for j, (p, k) in enumerate(zip(self.policies, self.skills)):
                acts = act.unsqueeze(0).expand(p.num_skills, *act.shape)
                lp = _raw_log_prob(p, states[j], acts) if raw else p.log_prob(_skill_rows(p, rep), acts)
                cols.append(lp[k])
            rows.append(torch.stack(cols))
        return torch.stack(rows).view(len(rows), len(rows), self.samples, obs.shape[0])

    def _log_integral(self, lp: Tensor, powers: Sequence[float]) -> Tensor:
        """``log int prod_k pi_k^{powers_k}`` from the mixture draws ``lp`` ``(n_i, n_k, S, N)``: ``(N,)``."""
        log_w = torch.log(torch.tensor(self.weights, dtype=lp.dtype, device=lp.device))
        pw = torch.tensor(list(powers), dtype=lp.dtype, device=lp.device).view(1, -1, 1, 1)
        log_mix = torch.logsumexp(log_w.view(1, -1, 1, 1) + lp, dim=1)  # (n_i, S, N)
        log_f = (pw * lp).sum(1) - log_mix
        terms = log_w.view(-1, 1, 1) - math.log(self.samples) + log_f
        return torch.logsumexp(terms.flatten(0, 1), dim=0)

    def gap(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor:
        return -self.alpha * self._log_integral(self._log_probs(obs), self.weights)

    def renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor | None:
        if len(self.policies) != 2:
            return None
        return -2.0 * self._log_integral(self._log_probs(obs), (0.5, 0.5))

    def gap_and_renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> tuple[Tensor, Tensor | None]:
        """``g`` and ``D_1/2`` from the same draws (one set of flow evaluations instead of two)."""
        lp = self._log_probs(obs)
        gap = -self.alpha * self._log_integral(lp, self.weights)
        if len(self.policies) != 2:
            return gap, None
        return gap, -2.0 * self._log_integral(lp, (0.5, 0.5))


def make_estimator(
    kind: str,
    weights: Sequence[float],
    alpha: float,
    agents: Sequence[nn.Module] | None = None,
    skills: Sequence[int] | None = None,
    temperatures: Sequence[float] | None = None,
    mc_samples: int = 64,
    seed: int = 0,
) -> tuple[DivergenceEstimator, str]:
    """Pick the estimator of ``g``: ``(estimator, why)``.

    ``"auto"`` uses the constituent policies only when they target the composition's temperature
    (every ``temperatures[i]`` within 0.1% of ``alpha``; the policies approximate
    ``exp(Q_i/alpha_i)``, not ``exp(Q_i/alpha)``): the Gaussian closed form when every policy is a
    :class:`~softskills.flows.gaussian.GaussianPolicy`, Monte Carlo when every one has a density
    (Gaussian or Real-NVP), and soft values from the Q's otherwise (SQL samplers, other temperatures).
    """
    from softskills.flows.gaussian import GaussianPolicy
    from softskills.flows.realnvp import RealNVPPolicy

    policies = [a.policy for a in agents] if agents is not None else []
    skills = list(skills) if skills is not None else [0] * len(policies)
    if kind == "soft_values":
        return SoftValueGap(weights, alpha), "requested"
    if kind == "auto":
        if not policies:
            return SoftValueGap(weights, alpha), "no constituent policies given"
        temps = list(temperatures) if temperatures is not None else []
        if len(temps) != len(policies) or any(abs(t - alpha) > 1e-3 * alpha for t in temps):
            return SoftValueGap(weights, alpha), (
                f"the constituent temperatures {temps} differ from the composition's alpha {alpha:g}: their "
                "policies are not exp(Q_i/alpha), so g comes from the Q's")
        if all(isinstance(p, GaussianPolicy) for p in policies):
            kind = "gaussian"
        elif all(isinstance(p, (GaussianPolicy, RealNVPPolicy)) for p in policies):
            kind = "mc"
        else:
            return SoftValueGap(weights, alpha), "a constituent has no tractable density (an SVGD sampler)"
        why = "auto"
    else:
        why = "requested"
    if kind == "gaussian":
        if not all(isinstance(p, GaussianPolicy) for p in policies) or not policies:
            raise ValueError("the gaussian estimator needs every constituent to be a Gaussian-policy SAC run")
        return GaussianGap(policies, skills, weights, alpha), why
    if kind == "mc":
        if not policies or not all(hasattr(p, "log_prob") and hasattr(p, "sample") for p in policies):
            raise ValueError("the mc estimator needs every constituent policy to have a density (SAC runs)")
        return MonteCarloGap(policies, skills, weights, alpha, samples=mc_samples, seed=seed), why
    raise ValueError(f"unknown estimator {kind!r}; choose 'auto', 'gaussian', 'mc' or 'soft_values'")


# ------------------------------------------------------------------------------------------------
# Fitted iteration
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitConfig:
    """Settings of the fitted iteration of :func:`fit_bounds`.

    The defaults finish a merge of two 30,000-transition buffers in minutes on one CPU core and
    leave ``gamma ** iterations`` (0.049 at ``gamma = 0.99``) of a constant ``g``'s fixed point
    unreached (reported as ``truncation``).
    """

    iterations: int = 300
    """Frozen-target iterations (each is one application of the backups). After n of them a bound
    still lacks about gamma**n of its fixed point (the iterates grow towards it from 0)."""
    steps_per_iteration: int = 50
    """Adam steps of the regression in each iteration (the networks are warm-started)."""
    batch_size: int = 256
    """Transitions per step; a buffer no larger than this is used whole."""
    lr: float = 1e-3
    """Adam learning rate."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of each of the three networks."""
    action_samples: int = 16
    """Uniform candidate actions a' per next state (max for C*, importance sampling for pi_Sigma)."""
    fixed_contexts: bool = True
    """Draw each transition's candidates, pi_Sigma weights and g(s') once, before fitting (fitted
    iteration on a fixed sample; memory about N x action_samples x (|A| + 1) floats), instead of
    afresh for every batch (costlier whenever the fit draws more transitions than the buffer holds)."""
    clip_to_range: bool = True
    """Project the bootstrapped values of every backup onto the range the fixed points provably lie
    in: ``C*`` and ``D_exact`` in ``[0, gamma g_max / (1 - gamma)]``, ``D*`` in
    ``[0, gamma / (1 - gamma)]`` times that, with ``g_max`` the largest ``g(s')`` of the transitions
    drawn so far (of all of them with fixed contexts). The exact iterates never leave these ranges,
    so in exact arithmetic the projection changes nothing; in a fit it stops over-estimates at
    actions the buffer never took (the max over candidates) from compounding past them."""
    seed: int = 0
    """Seed of the networks and of every draw."""
    device: str = "cpu"
    """Torch device."""

    def __post_init__(self) -> None:
        for name in ("iterations", "steps_per_iteration", "batch_size", "action_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be positive, got {self.lr}")


class BoundNets(nn.Module):
    """``C*``, ``D*`` and ``D_exact`` as the three members of one stacked MLP on ``[s, a]``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], seed: int = 0) -> None:
        super().__init__()
        gens = [torch.Generator().manual_seed(seed + 104_729 * i) for i in range(3)]
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.net = StackedMLP(3, obs_dim + act_dim, hidden, 1, "relu", gens)
        with torch.no_grad():  # start at 0, like the tabular iterations
            self.net.layers[-1].weight.zero_()
            self.net.layers[-1].bias.zero_()

    def forward(self, obs: Tensor, act: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """``(..., ds)``, ``(..., da)`` (leading shapes broadcast) -> ``(3, ...)``: C*, D*, D_exact."""
        lead = torch.broadcast_shapes(obs.shape[:-1], act.shape[:-1])
        x = torch.cat([obs.expand(*lead, self.obs_dim), act.expand(*lead, self.act_dim)], -1)
        x = x.reshape(1, -1, self.obs_dim + self.act_dim)
        return self.net(x.expand(3, -1, -1), params).reshape(3, *lead)


@dataclass
class _Context:
    """Everything of a batch that the iterations do not change."""

    obs: Tensor
    act: Tensor
    next_obs: Tensor
    cont: Tensor  # gamma (1 - terminated), (N,)
    cand: Tensor  # (N, M, da)
    pi: Tensor  # self-normalised pi_Sigma weights over the candidates, (N, M)
    gap: Tensor  # g(s'), (N,)

    def take(self, index: Tensor) -> _Context:
        """The transitions at ``index`` (positions along the first dimension)."""
        index = index.to(self.obs.device)
        return _Context(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def cat(parts: Sequence[_Context]) -> _Context:
        """The contexts one after the other."""
        return _Context(*(torch.cat([getattr(p, f.name) for p in parts]) for f in fields(_Context)))


@dataclass
class FittedBounds:
    """The fitted ``C*``, ``D*``, ``D_exact`` and how they were obtained.

    Attributes:
        nets: the three networks (call ``nets(obs, act)`` -> ``(3, ...)``).
        weights: the normalised weights the bounds are for.
        alpha: the normalised temperature.
        gamma: the discount.
        estimator: the name of the ``g`` estimator.
        gradient_steps: Adam steps taken.
        wall_time_s: seconds of fitting.
        changes: per iteration, the largest change of the three networks on a fixed probe batch
            (all transitions of a small buffer, else 1024 sampled ones): the convergence diagnostic.
        truncation: ``gamma ** iterations``, the fraction of a constant ``g``'s fixed point that
            the iterates still lack (0 for a converged fit; the bounds are under-estimates by
            about this fraction).
        ranges: ``(c_max, d_max)``, the upper ends of the ranges ``[0, c_max]`` of ``C*`` and
            ``D_exact`` and ``[0, d_max]`` of ``D*`` (see ``FitConfig.clip_to_range``), or ``None``
            without the projection. Calling the fit clamps its values to them.
    """

    nets: BoundNets
    weights: tuple[float, ...]
    alpha: float
    gamma: float
    estimator: str
    gradient_steps: int
    wall_time_s: float
    changes: list[float]
    truncation: float = 0.0
    ranges: tuple[float, float] | None = None

    def __call__(self, obs: Tensor, act: Tensor) -> dict[str, Tensor]:
        """``{"c_star", "d_star", "d_exact"}`` at ``(obs, act)`` (clamped to :attr:`ranges` if set)."""
        with torch.no_grad():
            out = self.nets(obs, act)
            if self.ranges is not None:
                out = _project(out, *self.ranges)
        return dict(zip(BOUND_NAMES, out))


def range_limits(gap_max: float, gamma: float) -> tuple[float, float]:
    """``(c_max, d_max)``: ``C*, D_exact <= gamma g_max / (1 - gamma) = c_max`` and ``D* <= gamma c_max / (1 - gamma)``.

    By induction over the iterations from 0: if ``C <= c_max`` then ``gamma (g + max C) <= gamma
    (g_max + c_max) = c_max``; ``D_exact`` averages where ``C*`` maximises, so the same bound holds; and
    ``gamma (C* + D) <= gamma (c_max + d_max) = d_max``. All three are ``>= 0`` because ``g >= 0``.
    """
    c_max = gamma * max(gap_max, 0.0) / (1.0 - gamma)
    return c_max, gamma * c_max / (1.0 - gamma)


def _project(values: Tensor, c_max: float, d_max: float) -> Tensor:
    """``(3, ...)`` values of C*, D*, D_exact clamped to ``[0, c_max]``, ``[0, d_max]``, ``[0, c_max]``."""
    hi = torch.tensor([c_max, d_max, c_max], dtype=values.dtype, device=values.device)
    return torch.minimum(values.clamp_min(0.0), hi.view(3, *([1] * (values.ndim - 1))))


def _context(
    batch_obs: Tensor, batch_act: Tensor, next_obs: Tensor, terminated: Tensor, q: ComposedQ,
    estimator: DivergenceEstimator, candidates: CandidateFn, gamma: float, gen: torch.Generator,
) -> _Context:
    with torch.no_grad():
        cand = candidates(next_obs, gen)
        q_i = q.constituents(next_obs.unsqueeze(1), cand)  # (n, N, M)
        pi = torch.softmax(q.combine(q_i) / q.alpha, dim=-1)
        gap = estimator.gap(next_obs, cand, q_i)
    return _Context(batch_obs, batch_act, next_obs, gamma * (1.0 - terminated), cand, pi, gap)


def _targets(ctx: _Context, nets: BoundNets, params: Sequence[Tensor],
             ranges: tuple[float, float] | None = None) -> Tensor:
    """The three backups at the context's transitions, with the frozen ``params``: ``(3, N)``.

    With ``ranges`` the frozen networks' values at ``s'`` are first projected onto them (``_project``).
    """
    with torch.no_grad():
        prev = nets(ctx.next_obs.unsqueeze(1), ctx.cand, params)  # (3, N, M)
        if ranges is not None:
            prev = _project(prev, *ranges)
        c_next = prev[0].max(dim=-1).values
        d_next = (ctx.pi * (prev[0] + prev[1])).sum(-1)
        e_next = (ctx.pi * prev[2]).sum(-1)
        return ctx.cont * torch.stack([ctx.gap + c_next, d_next, ctx.gap + e_next])


def fit_bounds(
    q: ComposedQ,
    buffer: UnionBuffer,
    estimator: DivergenceEstimator,
    gamma: float,
    config: FitConfig = FitConfig(),
    candidates: CandidateFn | None = None,
    progress: bool = False,
) -> FittedBounds:
    """Fit ``C*``, ``D*``, ``D_exact`` of the normalised composition by fitted iteration.

    Args:
        q: the composed Q; the bounds are for its mean form :meth:`ComposedQ.normalised`
            (``estimator`` must use the same normalised weights and temperature).
        buffer: the transitions (the union of the constituents' buffers).
        estimator: the estimator of ``g(s')`` (see :func:`make_estimator`).
        gamma: the constituents' discount, in ``[0, 1)``.
        config: iterations, steps and sizes.
        candidates: candidate actions per next state (default: ``config.action_samples`` uniform).
        progress: show progress bars on stderr (the contexts of the transitions, then the iterations
            with the largest change of the last one); they draw no random numbers.

    Returns:
        A :class:`FittedBounds`.
    """
    if not (0.0 <= gamma < 1.0):
        raise ValueError(f"gamma must lie in [0, 1), got {gamma}")
    device = torch.device(config.device)
    qn = q.normalised().to(device)
    w_est = getattr(estimator, "weights", qn.weights)
    if not all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(w_est, qn.weights)) or not math.isclose(
            getattr(estimator, "alpha", qn.alpha), qn.alpha, rel_tol=1e-6):
        raise ValueError(f"the estimator's weights/alpha ({list(w_est)}, {getattr(estimator, 'alpha', None)}) "
                         f"differ from the normalised composition's ({list(qn.weights)}, {qn.alpha})")
    candidates = candidates or uniform_actions(config.action_samples, q.act_dim)
    gen = torch.Generator().manual_seed(config.seed)
    nets = BoundNets(q.obs_dim, q.act_dim, config.hidden, config.seed).to(device)
    opt = torch.optim.Adam(nets.parameters(), lr=config.lr)

    gap_max = [0.0]  # the largest g(s') drawn so far: the projection's range grows with it

    def context(batch: Any) -> _Context:
        o, a, no, d = (x[0].to(device) for x in (batch.obs, batch.act, batch.next_obs, batch.terminated))
        ctx = _context(o, a, no, d, qn, estimator, candidates, gamma, gen)
        if config.clip_to_range:
            gap_max[0] = max(gap_max[0], float(ctx.gap.max()))
        return ctx

    def ranges() -> tuple[float, float] | None:
        return range_limits(gap_max[0], gamma) if config.clip_to_range else None

    t0 = time.perf_counter()
    whole = config.batch_size >= len(buffer)
    fixed = None  # every transition's context, in buffer.all() order
    if whole:
        fixed = context(buffer.all())
    elif config.fixed_contexts:
        batches = progress_bar(buffer.iter_batches(4096), progress, "bounds: contexts", buffer.num_batches(4096))
        fixed = _Context.cat([context(b) for b in batches])

    def sampled(n: int) -> _Context:
        if fixed is None:
            return context(buffer.sample(n, gen))
        return fixed.take(buffer.sample_index(n, gen))

    probe = fixed if whole else sampled(min(len(buffer), 1024))
    changes: list[float] = []
    with torch.no_grad():
        last = nets(probe.obs, probe.act)
    iterations = progress_bar(range(config.iterations), progress, "bounds: fitting", config.iterations)
    for _ in iterations:
        frozen = [p.detach().clone() for p in nets.parameters()]
        y_whole = _targets(fixed, nets, frozen, ranges()) if whole else None
        for _ in range(config.steps_per_iteration):
            ctx = fixed if whole else sampled(config.batch_size)
            y = y_whole if whole else _targets(ctx, nets, frozen, ranges())
            loss = 0.5 * (nets(ctx.obs, ctx.act) - y).square().mean(-1).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            now = nets(probe.obs, probe.act)
        changes.append(float((now - last).abs().max()))
        last = now
        iterations.set_postfix(change=f"{changes[-1]:.3g}")
    if not bool(torch.isfinite(last).all()):
        raise FloatingPointError("the fitted bounds diverged (non-finite values)")
    return FittedBounds(nets=nets, weights=tuple(qn.weights), alpha=qn.alpha, gamma=gamma,
                        estimator=estimator.name, gradient_steps=config.iterations * config.steps_per_iteration,
                        wall_time_s=time.perf_counter() - t0, changes=changes,
                        truncation=gamma ** config.iterations, ranges=ranges())


# ------------------------------------------------------------------------------------------------
# Per-state statistics over a buffer
# ------------------------------------------------------------------------------------------------


def _stats(x: Tensor) -> dict[str, float]:
    x = x.double()
    return {"mean": float(x.mean()), "std": float(x.std(unbiased=False)), "min": float(x.min()),
            "max": float(x.max())}


def bound_statistics(
    fitted: FittedBounds,
    q: ComposedQ,
    buffer: UnionBuffer,
    estimator: DivergenceEstimator,
    candidates: CandidateFn | None = None,
    chunk_size: int = 4096,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Mean, std, min and max over every buffer transition ``(s, a)`` of the bounds (JSON-able).

    Keys: ``gap`` (``g(s)``), ``renyi_half`` (``D_1/2(pi1||pi2)(s)``, two constituents only),
    ``c_star``, ``d_star``, ``d_exact`` (at the buffer's ``(s, a)``), ``regret_lower``
    (``max(0, D_exact - C*)``), ``regret_upper`` (``min(D*, D_exact)``) and ``q_sigma`` (the
    normalised ``Q_Sigma``, for scale); plus ``num_transitions``. ``progress`` shows a bar on stderr.
    """
    device = next(fitted.nets.parameters()).device
    qn = q.normalised().to(device)
    candidates = candidates or uniform_actions(32, q.act_dim)
    gen = torch.Generator().manual_seed(seed)
    cols: dict[str, list[Tensor]] = {}
    with torch.no_grad():
        batches = progress_bar(buffer.iter_batches(chunk_size), progress, "bounds: statistics",
                               buffer.num_batches(chunk_size))
        for batch in batches:
            obs, act = batch.obs[0].to(device), batch.act[0].to(device)
            cand = candidates(obs, gen)
            q_i = qn.constituents(obs.unsqueeze(1), cand)
            vals = fitted(obs, act)
            vals["gap"], d = estimator.gap_and_renyi_half(obs, cand, q_i)
            if d is not None:
                vals["renyi_half"] = d
            vals["regret_lower"] = (vals["d_exact"] - vals["c_star"]).clamp_min(0.0)
            vals["regret_upper"] = torch.minimum(vals["d_star"], vals["d_exact"])
            vals["q_sigma"] = qn(obs, act)
            for k, v in vals.items():
                cols.setdefault(k, []).append(v.cpu())
    order = ["gap", "renyi_half", *BOUND_NAMES, "regret_lower", "regret_upper", "q_sigma"]
    out: dict[str, Any] = {k: _stats(torch.cat(cols[k])) for k in order if k in cols}
    out["num_transitions"] = len(buffer)
    return out
