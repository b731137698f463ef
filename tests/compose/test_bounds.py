"""Fitted-iteration bounds against the exact tabular ones, and the divergence-term estimators."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from softskills.compose import tabular as T
from softskills.compose.bounds import (
    BoundNets,
    FitConfig,
    FittedBounds,
    GaussianGap,
    MonteCarloGap,
    SoftValueGap,
    bound_statistics,
    enumerated_actions,
    fit_bounds,
    make_estimator,
    range_limits,
)
from softskills.compose.composed import ComposedQ
from softskills.compose.renyi import renyi_half_gaussian
from softskills.compose.slices import policy_skill
from softskills.compose.union import UnionBuffer
from softskills.flows.gaussian import GaussianPolicy
from softskills.flows.realnvp import RealNVPPolicy
from softskills.skills.agent import SACAgent
from softskills.skills.critic import TwinQ
from softskills.skills.sac import SACConfig
from softskills.skills.sql import SQLConfig
from softskills.skills.sql_agent import SQLAgent
from softskills.skills.sql_sampler import SVGDSampler

torch.set_num_threads(1)


def table_critic(q: np.ndarray) -> TwinQ:
    """A TwinQ that is exactly the table ``q[s, a]`` on one-hot ``[s | a]`` inputs (both twins).

    Hidden unit ``(s, a)`` is ``relu(x_s + x_a - 1)``: 1 at that pair, 0 elsewhere; the output
    layer reads ``q[s, a]`` off it.
    """
    S, A = q.shape
    c = TwinQ(1, S, A, hidden=(S * A,))
    w0, b0 = torch.zeros(2, S + A, S * A), torch.full((2, 1, S * A), -1.0)
    for s in range(S):
        for a in range(A):
            w0[:, s, s * A + a] = 1.0
            w0[:, S + a, s * A + a] = 1.0
    w1 = torch.tensor(q, dtype=torch.float32).reshape(1, S * A, 1).repeat(2, 1, 1)
    with torch.no_grad():
        first, last = c.net.layers
        first.weight.copy_(w0)
        first.bias.copy_(b0)
        last.weight.copy_(w1)
        last.bias.zero_()
    return c


class FiniteMDP:
    """A random MDP whose rows of P are multiples of 1/N, so N transitions per (s, a) hold P exactly.

    State ``Z = S`` is absorbing with zero rewards (so ``pi1 = pi2`` and every bound is 0 there).
    The buffer records a transition into Z as ``terminated = 1`` with a *different*, non-absorbing
    next observation (state 0), so only a correct ``(1 - terminated)`` reproduces the tabular answer.
    """

    def __init__(self, seed: int, S: int = 5, A: int = 3, N: int = 8, gamma: float = 0.6, alpha: float = 0.7) -> None:
        rng = np.random.default_rng(seed)
        self.S, self.A, self.gamma, self.alpha = S, A, gamma, alpha
        counts = np.zeros((S + 1, A, S + 1), dtype=int)
        for s in range(S):
            for a in range(A):
                counts[s, a] = rng.multinomial(N, rng.dirichlet(np.ones(S + 1)))
        counts[S, :, S] = N
        self.counts = counts
        self.P = counts / N
        r1, r2 = 2.0 * rng.normal(size=(S + 1, A)), 2.0 * rng.normal(size=(S + 1, A))
        r1[S] = r2[S] = 0.0
        self.Q1 = T.soft_q_iteration(self.P, r1, gamma, alpha)
        self.Q2 = T.soft_q_iteration(self.P, r2, gamma, alpha)
        self.exact = T.composition_bounds(self.P, self.Q1, self.Q2, gamma, alpha)
        assert counts[:S, :, S].sum() > 0  # the terminal path is exercised

    def buffer(self) -> UnionBuffer:
        eye_s, eye_a = torch.eye(self.S + 1), torch.eye(self.A)
        rows: dict[str, list[Tensor]] = {"obs": [], "act": [], "next_obs": [], "terminated": []}
        for s in range(self.S):
            for a in range(self.A):
                for t in range(self.S + 1):
                    for _ in range(self.counts[s, a, t]):
                        rows["obs"].append(eye_s[s])
                        rows["act"].append(eye_a[a])
                        rows["next_obs"].append(eye_s[0] if t == self.S else eye_s[t])
                        rows["terminated"].append(torch.tensor(float(t == self.S)))
        part = {k: torch.stack(v) for k, v in rows.items()}
        part["rew"] = torch.zeros(len(rows["obs"]))
        half = len(rows["obs"]) // 2  # two 'constituent' buffers, as in a composition
        return UnionBuffer([{k: v[:half] for k, v in part.items()}, {k: v[half:] for k, v in part.items()}])

    def pairs(self) -> tuple[Tensor, Tensor]:
        """One-hot ``(s, a)`` for every non-absorbing pair, ``s``-major."""
        eye_s, eye_a = torch.eye(self.S + 1), torch.eye(self.A)
        return eye_s[: self.S].repeat_interleave(self.A, 0), eye_a.repeat(self.S, 1)


def test_fitted_bounds_match_the_tabular_ones() -> None:
    """The key check: C*, D*, D_exact by fitted iteration equal tabular.py's on a one-hot MDP."""
    mdp = FiniteMDP(seed=0)
    # The original's sum (1, 1) at 2 alpha: its normalised form is the theorems' mean at alpha.
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], weights=(1.0, 1.0), alpha=2 * mdp.alpha)
    qn = q.normalised()
    est = SoftValueGap(qn.weights, qn.alpha)
    cands = enumerated_actions(torch.eye(mdp.A))
    buffer = mdp.buffer()
    cfg = FitConfig(iterations=20, steps_per_iteration=100, batch_size=len(buffer), lr=3e-3, hidden=(64, 64))
    fitted = fit_bounds(q, buffer, est, mdp.gamma, cfg, cands)
    obs, act = mdp.pairs()
    got = fitted(obs, act)
    scale = max(float(np.abs(getattr(mdp.exact, k)).max()) for k in ("c_star", "d_star", "d_exact"))
    assert scale > 0.2  # the bounds are far from zero, so the comparison has teeth
    for name in ("c_star", "d_star", "d_exact"):
        exact = getattr(mdp.exact, name)[: mdp.S].reshape(-1)
        np.testing.assert_allclose(got[name].numpy(), exact, atol=2e-3, err_msg=name)
    assert fitted.gradient_steps == 2000 and len(fitted.changes) == 20 and fitted.changes[-1] < 1e-3
    assert fitted.weights == pytest.approx((0.5, 0.5)) and fitted.alpha == pytest.approx(mdp.alpha)

    # Per-transition statistics over the buffer equal the exact values weighted by the visit counts.
    stats = bound_statistics(fitted, q, buffer, est, cands)
    assert stats["num_transitions"] == len(buffer)
    counts = mdp.counts[: mdp.S].sum(-1).reshape(-1).astype(float)
    states = np.repeat(np.arange(mdp.S), mdp.A)

    def mean(x: np.ndarray) -> float:
        return float((counts * x).sum() / counts.sum())

    ex = {k: getattr(mdp.exact, k)[: mdp.S].reshape(-1) for k in ("c_star", "d_star", "d_exact")}
    ex["regret_lower"] = mdp.exact.regret_lower[: mdp.S].reshape(-1)
    ex["regret_upper"] = mdp.exact.regret_upper[: mdp.S].reshape(-1)
    ex["renyi_half"] = mdp.exact.renyi[states]
    ex["gap"] = 0.5 * mdp.alpha * mdp.exact.renyi[states]
    ex["q_sigma"] = mdp.exact.q_sigma[: mdp.S].reshape(-1)
    for k, v in ex.items():
        assert stats[k]["mean"] == pytest.approx(mean(v), abs=2e-3), k
        assert stats[k]["max"] == pytest.approx(float(v.max()), abs=2e-3), k
    # max(0, D_exact - C*) is 0 here, and always: C* >= D_exact by induction (max >= expectation).
    assert stats["regret_lower"]["max"] == pytest.approx(0.0, abs=2e-3)


def test_soft_value_gap_is_exact_on_finite_actions_for_any_weights() -> None:
    mdp = FiniteMDP(seed=1)
    w, alpha = (0.3, 0.7), 0.4
    est = SoftValueGap(w, alpha)
    q_i = torch.tensor(np.stack([mdp.Q1, mdp.Q2]), dtype=torch.float64)  # (n, N = states, M = actions)
    cand = torch.eye(mdp.A, dtype=torch.float64).expand(mdp.S + 1, mdp.A, mdp.A)
    v1, v2 = T.soft_value(mdp.Q1, alpha), T.soft_value(mdp.Q2, alpha)
    v_sigma = T.soft_value(w[0] * mdp.Q1 + w[1] * mdp.Q2, alpha)
    np.testing.assert_allclose(est.gap(None, cand, q_i).numpy(), w[0] * v1 + w[1] * v2 - v_sigma, atol=1e-10)
    d = T.renyi_half(T.boltzmann(mdp.Q1, alpha), T.boltzmann(mdp.Q2, alpha))
    np.testing.assert_allclose(est.renyi_half(None, cand, q_i).numpy(), d, atol=1e-10)
    assert bool((est.gap(None, cand, q_i) >= -1e-12).all())
    assert SoftValueGap((0.2, 0.3, 0.5), alpha).renyi_half(None, cand, q_i.repeat(2, 1, 1)[:3]) is None


def gaussian_pair(seed: int = 0) -> tuple[GaussianPolicy, Tensor]:
    torch.manual_seed(seed)
    p = GaussianPolicy(2, 3, 2, hidden=(16,), seeds=[seed, seed + 1])
    return p, torch.randn(6, 3)


def test_gaussian_gap_closed_form() -> None:
    p, obs = gaussian_pair()
    alpha = 0.8
    est = GaussianGap([p, p], [0, 1], (0.5, 0.5), alpha)
    mu, log_std = p._mean_log_std(obs.expand(2, *obs.shape))
    d = renyi_half_gaussian(mu[0], log_std[0].exp(), mu[1], log_std[1].exp())
    torch.testing.assert_close(est.gap(obs, None, None), 0.5 * alpha * d)
    torch.testing.assert_close(est.renyi_half(obs, None, None), d)
    # Identical policies have no gap, whatever the weights.
    same = GaussianGap([p, p], [1, 1], (0.2, 0.8), alpha)
    torch.testing.assert_close(same.gap(obs, None, None), torch.zeros(6), atol=1e-6, rtol=0)


def test_monte_carlo_gap_matches_the_closed_form_for_unequal_weights() -> None:
    p, obs = gaussian_pair(seed=3)
    w, alpha = (0.3, 0.7), 1.3
    exact = GaussianGap([p, p], [0, 1], w, alpha).gap(obs, None, None)
    mc = MonteCarloGap([p, p], [0, 1], w, alpha, samples=20_000, seed=0)
    est = mc.gap(obs, None, None)
    assert bool((exact > 0.02).all())
    torch.testing.assert_close(est, exact, atol=1e-3, rtol=0.05)
    # Equal weights: (alpha/2) D_1/2, and its D_1/2 agrees with the closed form.
    d_exact = GaussianGap([p, p], [0, 1], (0.5, 0.5), alpha).renyi_half(obs, None, None)
    d_mc = MonteCarloGap([p, p], [0, 1], (0.5, 0.5), alpha, samples=20_000).renyi_half(obs, None, None)
    torch.testing.assert_close(d_mc, d_exact, atol=1e-3, rtol=0.05)


def sac_agent(policy: str = "gaussian", k: int = 1) -> SACAgent:
    pol = (GaussianPolicy(k, 3, 2, hidden=(8,)) if policy == "gaussian"
           else RealNVPPolicy(k, 3, 2, embed_hidden=(8,)))
    return SACAgent(pol, TwinQ(k, 3, 2, hidden=(8,)), SACConfig())


def test_make_estimator_picks_by_constituent_type() -> None:
    g, r = sac_agent(), sac_agent("realnvp")
    sql = SQLAgent(SVGDSampler(1, 3, 2, hidden=(8,)), TwinQ(1, 3, 2, hidden=(8,)), SQLConfig())
    w = (0.5, 0.5)
    assert make_estimator("auto", w, 1.0, [g, g], temperatures=[1.0, 1.0])[0].name == "gaussian"
    assert make_estimator("auto", w, 1.0, [g, r], temperatures=[1.0, 1.0])[0].name == "mc"
    assert make_estimator("auto", w, 1.0, [g, sql], temperatures=[1.0, 1.0])[0].name == "soft_values"
    est, why = make_estimator("auto", w, 0.5, [g, g], temperatures=[1.0, 1.0])
    assert est.name == "soft_values" and "differ" in why  # the policies target another temperature
    assert make_estimator("soft_values", w, 1.0, [g, g])[0].name == "soft_values"
    # no temperatures given: nothing says the policies are exp(Q_i/alpha), so g comes from the Q's
    assert make_estimator("auto", w, 1.0, [g, g])[0].name == "soft_values"
    assert make_estimator("auto", w, 1.0, [g, g], temperatures=[1.0])[0].name == "soft_values"
    with pytest.raises(ValueError, match="Gaussian"):
        make_estimator("gaussian", w, 1.0, [g, r])
    with pytest.raises(ValueError, match="unknown estimator"):
        make_estimator("kde", w, 1.0, [g, g])
    with pytest.raises(ValueError, match="sum to one"):
        SoftValueGap((1.0, 1.0), 1.0)


def test_fit_bounds_refuses_inconsistent_settings() -> None:
    mdp = FiniteMDP(seed=2, S=2, A=2)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], (1.0, 1.0), 1.0)
    buffer = mdp.buffer()
    with pytest.raises(ValueError, match="normalised composition"):
        fit_bounds(q, buffer, SoftValueGap((0.5, 0.5), 1.0), 0.5)  # the normalised alpha is 0.5, not 1
    with pytest.raises(ValueError, match="gamma"):
        fit_bounds(q, buffer, SoftValueGap((0.5, 0.5), 0.5), 1.0)
    with pytest.raises(ValueError, match="positive"):
        FitConfig(iterations=0)
    assert math.isfinite(fit_bounds(q, buffer, SoftValueGap((0.5, 0.5), 0.5), 0.5,
                                    FitConfig(iterations=1, steps_per_iteration=1, batch_size=4, hidden=(4,),
                                              action_samples=3)).changes[0])



def test_a_diverged_fit_raises_instead_of_returning_non_finite_bounds() -> None:
    """Adam at lr 1e30 without the range projection overflows the networks: an error, not NaN bounds."""
    mdp = FiniteMDP(seed=2, S=2, A=2)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], (0.5, 0.5), 1.0)
    cfg = FitConfig(iterations=3, steps_per_iteration=3, batch_size=4, hidden=(4,), action_samples=3, lr=1e30,
                    clip_to_range=False)
    with pytest.raises(FloatingPointError, match="diverged"):
        fit_bounds(q, mdp.buffer(), SoftValueGap((0.5, 0.5), 1.0), 0.5, cfg)

class CountingGap:
    """A deterministic ``g(s)`` that counts the states it was asked about."""

    name = "counting_test"

    def __init__(self) -> None:
        self.rows = 0

    def gap(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor:
        self.rows += obs.shape[0]
        return 0.1 * (obs * torch.arange(1, obs.shape[-1] + 1)).sum(-1)  # differs between states

    def renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor | None:
        return None

    def gap_and_renyi_half(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.gap(obs, cand, q_i), None


def test_fixed_contexts_estimate_g_once_per_transition_and_fit_the_same() -> None:
    """With fixed contexts (the default) ``g`` is estimated once per transition, not once per batch, and
    with deterministic candidates and ``g`` the fit equals the per-batch one bit for bit."""
    mdp = FiniteMDP(seed=1)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], alpha=mdp.alpha)
    buffer = mdp.buffer()
    cands = enumerated_actions(torch.eye(mdp.A))
    cfg = FitConfig(iterations=3, steps_per_iteration=10, batch_size=16, hidden=(16,))
    assert cfg.batch_size < len(buffer)
    fits, rows = [], []
    for fixed in (True, False):
        counting = CountingGap()
        fits.append(fit_bounds(q, buffer, counting, mdp.gamma, dataclasses.replace(cfg, fixed_contexts=fixed), cands))
        rows.append(counting.rows)
    assert rows[0] == len(buffer)  # once per transition
    assert rows[1] == min(len(buffer), 1024) + 3 * 10 * 16  # the probe batch, then every step's batch
    obs, act = mdp.pairs()
    for name, a, b in zip(("c_star", "d_star", "d_exact"), fits[0](obs, act).values(), fits[1](obs, act).values()):
        assert float(a.abs().max()) > 1e-3, name  # g reached the fit
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)



def test_the_range_projection_grows_with_the_largest_g_seen_over_all_batches() -> None:
    """Per-batch contexts (``fixed_contexts=False``) of one transition each: the projection's ranges come from
    the largest ``g`` of every batch so far, not from the last batch's."""
    mdp = FiniteMDP(seed=1)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], alpha=mdp.alpha)
    seen: list[float] = []

    class Recording(CountingGap):
        def gap(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor:
            g = super().gap(obs, cand, q_i)
            seen.append(float(g.max()))
            return g

    cfg = FitConfig(iterations=2, steps_per_iteration=5, batch_size=1, hidden=(8,), fixed_contexts=False)
    fit = fit_bounds(q, mdp.buffer(), Recording(), mdp.gamma, cfg, enumerated_actions(torch.eye(mdp.A)))
    assert len(seen) == 1 + 2 * 5 and seen[-1] < max(seen)  # the probe batch, then one per step
    assert fit.ranges == pytest.approx(range_limits(max(seen), mdp.gamma), rel=1e-12)

def test_minibatch_fit_with_fixed_contexts_approaches_the_tabular_bounds() -> None:
    """Minibatches (batch < buffer) of fixed contexts: within 0.1 of the exact bounds (values 0.3 to 0.8;
    the whole-buffer fit of the first test is within 2e-3, the rest is minibatch noise), and the reported
    truncation is gamma^iterations."""
    mdp = FiniteMDP(seed=1)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], alpha=mdp.alpha)
    qn = q.normalised()
    cfg = FitConfig(iterations=25, steps_per_iteration=100, batch_size=64, lr=1e-3, hidden=(64, 64))
    fitted = fit_bounds(q, mdp.buffer(), SoftValueGap(qn.weights, qn.alpha), mdp.gamma, cfg,
                        enumerated_actions(torch.eye(mdp.A)))
    assert fitted.truncation == pytest.approx(mdp.gamma ** 25)
    got = fitted(*mdp.pairs())
    for name in ("c_star", "d_star", "d_exact"):
        exact = getattr(mdp.exact, name)[: mdp.S].reshape(-1)
        assert float(np.abs(exact).min()) > 0.25, name
        np.testing.assert_allclose(got[name].numpy(), exact, atol=0.1, err_msg=name)


def test_monte_carlo_gap_and_renyi_share_one_set_of_draws() -> None:
    """``gap_and_renyi_half`` equals ``gap`` and ``renyi_half`` each drawn from the same seed, and K-stacked
    policies are evaluated through one-skill copies (same numbers as the stack's skill)."""
    p, obs = gaussian_pair(seed=4)
    both = MonteCarloGap([p, p], [0, 1], (0.5, 0.5), 0.9, samples=64, seed=7).gap_and_renyi_half(obs, None, None)
    gap = MonteCarloGap([p, p], [0, 1], (0.5, 0.5), 0.9, samples=64, seed=7).gap(obs, None, None)
    renyi = MonteCarloGap([p, p], [0, 1], (0.5, 0.5), 0.9, samples=64, seed=7).renyi_half(obs, None, None)
    torch.testing.assert_close(both[0], gap, rtol=0, atol=0)
    torch.testing.assert_close(both[1], renyi, rtol=0, atol=0)
    est = MonteCarloGap([p, p], [0, 1], (0.5, 0.5), 0.9, samples=8)
    assert all(q.num_skills == 1 for q in est.policies) and list(est.skills) == [0, 0]


@pytest.mark.parametrize("kind", ["gaussian", "realnvp"])
def test_monte_carlo_densities_reuse_each_states_part_across_its_draws(kind: str) -> None:
    """The estimator runs each policy's state part (trunk or embedding) once per state and repeats it over the
    draws; its log-densities equal running every policy on the repeated states themselves, draw for draw."""
    torch.manual_seed(0)
    if kind == "gaussian":
        p: nn.Module = GaussianPolicy(2, 3, 2, hidden=(16,), seeds=[0, 1])
    else:
        p = RealNVPPolicy(2, 3, 2, embed_hidden=(16, 16), seeds=[0, 1])
    obs, samples = torch.randn(5, 3), 4
    est = MonteCarloGap([p, p], [0, 1], (0.5, 0.5), 1.0, samples=samples, seed=3)
    rows: list[int] = []  # the rows each policy's state part runs on
    for q in est.policies:
        trunk = q.net if kind == "gaussian" else q.embed
        trunk.register_forward_hook(lambda mod, args, out: rows.append(args[0].shape[1]))
    lp = est._log_probs(obs)  # (n_i, n_k, S, N)
    assert rows == [5, 5]  # once per state and policy, not once per draw (4 x 5 rows)
    gen = torch.Generator().manual_seed(3)
    rep = obs.repeat(samples, 1).unsqueeze(0)  # row r N + n is state n
    singles = [policy_skill(p, 0), policy_skill(p, 1)]
    for i, p_i in enumerate(singles):
        noise = torch.randn(1, samples * 5, 2, generator=gen)
        if kind == "gaussian":
            mean, log_std = p_i._mean_log_std(rep)
            u = mean + log_std.exp() * noise
        else:
            u = p_i(noise, rep)[0]
        for k, p_k in enumerate(singles):
            if kind == "gaussian":
                mean, log_std = p_k._mean_log_std(rep)
                want = torch.distributions.Normal(mean, log_std.exp()).log_prob(u).sum(-1)
            else:
                h, log_det = p_k.inverse(u, rep)
                want = torch.distributions.Normal(0.0, 1.0).log_prob(h).sum(-1) + log_det
            torch.testing.assert_close(lp[i, k].reshape(1, -1), want, atol=1e-5, rtol=1e-5)


def test_range_projection_changes_nothing_when_the_iterates_stay_in_range() -> None:
    """On the one-hot MDP (every candidate a buffer action) the fit with the projection equals the one
    without it bit for bit, and the exact bounds lie inside the reported ranges."""
    mdp = FiniteMDP(seed=0)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], alpha=mdp.alpha)
    qn = q.normalised()
    buffer = mdp.buffer()
    cfg = FitConfig(iterations=10, steps_per_iteration=50, batch_size=len(buffer), lr=3e-3, hidden=(32, 32))
    fits = [fit_bounds(q, buffer, SoftValueGap(qn.weights, qn.alpha), mdp.gamma,
                       dataclasses.replace(cfg, clip_to_range=clip), enumerated_actions(torch.eye(mdp.A)))
            for clip in (True, False)]
    assert fits[1].ranges is None
    c_max, d_max = fits[0].ranges
    g_max, gamma = float(0.5 * mdp.alpha * mdp.exact.renyi[: mdp.S + 1].max()), mdp.gamma  # every s' is a state < S
    assert (c_max, d_max) == pytest.approx((gamma * g_max / (1 - gamma), gamma ** 2 * g_max / (1 - gamma) ** 2), rel=1e-5)
    assert range_limits(g_max, gamma) == pytest.approx((c_max, d_max)) and range_limits(-1.0, gamma) == (0.0, 0.0)
    assert float(mdp.exact.c_star.max()) <= c_max and float(mdp.exact.d_exact.max()) <= c_max
    assert float(mdp.exact.d_star.max()) <= d_max
    for a, b in zip(fits[0].nets.parameters(), fits[1].nets.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_range_projection_caps_maxima_at_actions_the_buffer_never_took() -> None:
    """A candidate far outside the data (30 e_0) makes the ReLU net extrapolate: without the projection
    the max over candidates compounds and C*, D*, D_exact leave their provable ranges; with it the raw
    networks stay inside them (up to the regression's error), and calling the fit clamps to them."""
    mdp = FiniteMDP(seed=0)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], alpha=mdp.alpha)
    qn = q.normalised()
    buffer = mdp.buffer()
    eye = torch.eye(mdp.A)
    far = torch.cat([eye, 30.0 * eye[:1]])

    def with_far_action(obs: Tensor, gen: torch.Generator) -> Tensor:
        return far.unsqueeze(0).expand(obs.shape[0], *far.shape)

    class OneHotGap(SoftValueGap):  # g from the one-hot actions only (the far action has no Q_i meaning)
        def gap(self, obs: Tensor, cand: Tensor, q_i: Tensor) -> Tensor:
            return super().gap(obs, cand[:, : mdp.A], q_i[:, :, : mdp.A])

    cfg = FitConfig(iterations=15, steps_per_iteration=50, batch_size=len(buffer), lr=3e-3, hidden=(32, 32))
    raw, fits = {}, {}
    for clip in (True, False):
        fits[clip] = fit_bounds(q, buffer, OneHotGap(qn.weights, qn.alpha), mdp.gamma,
                                dataclasses.replace(cfg, clip_to_range=clip), with_far_action)
        with torch.no_grad():
            raw[clip] = fits[clip].nets(*mdp.pairs())  # (3, pairs), not clamped
    c_max, d_max = fits[True].ranges
    hi = torch.tensor([c_max, d_max, c_max]).view(3, 1)
    assert bool((raw[False] > 2.0 * hi).any())  # the unprojected fit ran far out of range
    assert bool((raw[True] <= 1.05 * hi).all()) and bool((raw[True] >= -0.05 * hi).all())
    got = fits[True](*mdp.pairs())
    eps = 1e-6  # the clamp's bounds are rounded to float32
    assert float(got["c_star"].max()) <= c_max * (1 + eps) and float(got["d_star"].max()) <= d_max * (1 + eps)
    assert float(got["d_exact"].min()) >= 0.0
    # Calling a fit clamps to its ranges: the out-of-range unprojected networks, given the ranges.
    clamped = dataclasses.replace(fits[False], ranges=(c_max, d_max))(*mdp.pairs())
    torch.testing.assert_close(torch.stack(list(clamped.values())), torch.minimum(raw[False].clamp_min(0.0), hi))


def constant_fit(c: float, d: float, e: float, ranges: tuple[float, float] | None, obs_dim: int,
                 act_dim: int) -> FittedBounds:
    """A fit whose three networks are the constants C* = c, D* = d, D_exact = e everywhere."""
    nets = BoundNets(obs_dim, act_dim, (4,))
    with torch.no_grad():
        nets.net.layers[-1].bias.copy_(torch.tensor([c, d, e]).view(3, 1, 1))
    return FittedBounds(nets=nets, weights=(0.5, 0.5), alpha=0.5, gamma=0.9, estimator="soft_values",
                        gradient_steps=0, wall_time_s=0.0, changes=[], ranges=ranges)


def test_calling_a_fit_clamps_to_both_ends_of_its_ranges() -> None:
    """[0, c_max], [0, d_max], [0, c_max]: values below 0 are raised to 0, values above the range lowered."""
    obs, act = torch.randn(5, 3), torch.randn(5, 2)
    for (c, d, e), want in [((-1.0, -2.0, -3.0), (0.0, 0.0, 0.0)), ((5.0, 5.0, 5.0), (1.0, 2.0, 1.0)),
                            ((0.4, 1.5, 0.7), (0.4, 1.5, 0.7))]:
        got = constant_fit(c, d, e, (1.0, 2.0), 3, 2)(obs, act)
        for name, w in zip(("c_star", "d_star", "d_exact"), want):
            torch.testing.assert_close(got[name], torch.full((5,), w), rtol=0, atol=1e-6, msg=name)
    raw = constant_fit(-1.0, 5.0, -3.0, None, 3, 2)(obs, act)  # no ranges: no clamping
    assert float(raw["c_star"][0]) == pytest.approx(-1.0) and float(raw["d_star"][0]) == pytest.approx(5.0)


def test_bound_statistics_bracket_formulas_on_hand_set_values() -> None:
    """regret_lower = max(0, D_exact - C*) and regret_upper = min(D*, D_exact), with values for which neither
    is trivially 0 (a fitted one is, since C* >= D_exact by theory)."""
    mdp = FiniteMDP(seed=2, S=2, A=2)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], alpha=mdp.alpha)
    qn = q.normalised()
    est = SoftValueGap(qn.weights, qn.alpha)
    cands = enumerated_actions(torch.eye(mdp.A))
    for (c, d, e), lower, upper in [((0.1, 0.5, 0.3), 0.2, 0.3), ((0.6, 0.2, 0.4), 0.0, 0.2)]:
        stats = bound_statistics(constant_fit(c, d, e, None, mdp.S + 1, mdp.A), q, mdp.buffer(), est, cands)
        for k, v in (("c_star", c), ("d_star", d), ("d_exact", e), ("regret_lower", lower), ("regret_upper", upper)):
            assert stats[k]["min"] == pytest.approx(v, abs=1e-6) and stats[k]["max"] == pytest.approx(v, abs=1e-6), k


def test_progress_bars_go_to_stderr_and_change_no_result(capsys: pytest.CaptureFixture[str]) -> None:
    """``progress=True`` shows the contexts, fitting and statistics bars; the fit and its statistics are
    bit for bit those of a quiet run (the bars draw no random numbers)."""
    mdp = FiniteMDP(seed=1)
    q = ComposedQ([table_critic(mdp.Q1), table_critic(mdp.Q2)], alpha=mdp.alpha)
    qn = q.normalised()
    cfg = FitConfig(iterations=3, steps_per_iteration=5, batch_size=16, hidden=(16,))
    results, errs = [], []
    for progress in (False, True):
        est, cands = SoftValueGap(qn.weights, qn.alpha), enumerated_actions(torch.eye(mdp.A))
        fit = fit_bounds(q, mdp.buffer(), est, mdp.gamma, cfg, cands, progress=progress)
        stats = bound_statistics(fit, q, mdp.buffer(), est, cands, progress=progress)
        results.append((fit.changes, stats))
        errs.append(capsys.readouterr().err)
    assert results[0] == results[1]
    assert errs[0] == ""
    for desc in ("bounds: contexts", "bounds: fitting", "bounds: statistics"):
        assert desc in errs[1], desc
    assert "change=" in errs[1]
