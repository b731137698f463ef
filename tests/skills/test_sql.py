"""Soft Q-learning: pure losses, the SVGD sampler, the stacked agent, and a MultiGoal learning check."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from softskills.skills.critic import TwinQ
from softskills.skills.sql import (
    SQLConfig,
    rbf_kernel,
    soft_td_target,
    soft_value_uniform_is,
    svgd_direction,
    svgd_loss,
    svgd_score,
    svgd_surrogate,
    td_loss,
)
from softskills.skills.sql_agent import SQLAgent
from softskills.skills.sql_sampler import SVGDSampler
from softskills.skills.types import Batch

OBS, ACT = 3, 2


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """The trapezoid rule (np.trapz is gone from NumPy 2.x, np.trapezoid is missing before 2.0)."""
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gamma": 1.5},
        {"alpha": 0.0},
        {"reward_scale": -1.0},
        {"value_particles": 0},
        {"kernel_update_ratio": 1.0},
        {"kernel_particles": 2},  # 1 fixed particle: log(1) = 0 in the median heuristic
        {"target_update": "soft"},
        {"target_interval": 0},
        {"tau": 0.0},
        {"q_lr": 0.0},
        {"hidden": ()},
        {"svgd_space": "tanh"},
    ],
)
def test_config_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SQLConfig(**kwargs)


def test_config_particle_split() -> None:
    cfg = SQLConfig(kernel_particles=32, kernel_update_ratio=0.5)
    assert (cfg.n_fixed, cfg.n_updated) == (16, 16)
    cfg = SQLConfig(kernel_particles=5, kernel_update_ratio=0.5)
    assert (cfg.n_fixed, cfg.n_updated) == (3, 2)  # int(2.5) updated, as the original splits


# ---------------------------------------------------------------- soft value


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_soft_value_of_constant_q_is_exact(alpha: float) -> None:
    # V = alpha log int_{[-1,1]^A} exp(c/alpha) da = c + alpha |A| log 2, for any M.
    q = torch.full((2, 5, 7), 1.5)
    v = soft_value_uniform_is(q, alpha, act_dim=3)
    assert v.shape == (2, 5)
    torch.testing.assert_close(v, torch.full((2, 5), 1.5 + alpha * 3 * math.log(2.0)))


def test_soft_value_matches_quadrature_for_1d_quadratic() -> None:
    alpha, mu, beta = 0.5, 0.3, 2.0
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(1, 1, 200_000, generator=gen, dtype=torch.float64) * 2 - 1
    q = -beta * (a - mu) ** 2
    v = soft_value_uniform_is(q, alpha, act_dim=1)
    grid = np.linspace(-1.0, 1.0, 200_001)
    exact = alpha * np.log(_trapezoid(np.exp(-beta * (grid - mu) ** 2 / alpha), grid))
    assert v.item() == pytest.approx(exact, abs=5e-3)


def test_soft_value_per_skill_alpha_tensor() -> None:
    q = torch.randn(3, 4, 6)
    alpha = torch.tensor([[0.5], [1.0], [2.0]])
    v = soft_value_uniform_is(q, alpha, act_dim=2)
    for k in range(3):
        torch.testing.assert_close(v[k], soft_value_uniform_is(q[k], float(alpha[k]), act_dim=2))


def test_td_target_and_loss_by_hand() -> None:
    rew = torch.tensor([[1.0, 2.0]])
    term = torch.tensor([[0.0, 1.0]])
    next_v = torch.tensor([[10.0, 10.0]])
    y = soft_td_target(rew, term, next_v, gamma=0.9, reward_scale=0.5)
    torch.testing.assert_close(y, torch.tensor([[0.5 + 9.0, 1.0]]))
    q = torch.tensor([[[9.5, 2.0], [8.5, 1.0]]])  # (K=1, twins=2, B=2)
    # twin 0: 0.5 * mean(0, 1) = 0.25; twin 1: 0.5 * mean(1, 0) = 0.25
    torch.testing.assert_close(td_loss(q, y), torch.tensor([0.5]))
    torch.testing.assert_close(td_loss(q[:, 0], y), torch.tensor([0.25]))


# ---------------------------------------------------------------- kernel and SVGD


def test_kernel_median_heuristic_and_original_topk() -> None:
    gen = torch.Generator().manual_seed(1)
    xs, ys = torch.randn(2, 3, 6, 2, generator=gen), torch.randn(2, 3, 4, 2, generator=gen)
    kappa, _ = rbf_kernel(xs, ys)
    d2 = ((xs.unsqueeze(-2) - ys.unsqueeze(-3)) ** 2).sum(-1)
    n = 6 * 4
    # The original's median: the (Kx Ky // 2 + 1)-th largest of the pairwise distances.
    med = torch.topk(d2.flatten(-2), k=n // 2 + 1, dim=-1).values[..., -1]
    h = (med / math.log(6)).clamp_min(1e-3)
    torch.testing.assert_close(kappa, torch.exp(-d2 / h[..., None, None]))


def test_kernel_bandwidth_floor() -> None:
    xs = torch.zeros(1, 4, 2)
    kappa, grad = rbf_kernel(xs, xs[:, :2] + 1e-4)
    # all distances ~2e-8: h clamps to 1e-3, so kappa = exp(-2e-8 / 1e-3)
    torch.testing.assert_close(kappa, torch.full((1, 4, 2), math.exp(-2e-8 / 1e-3)))
    assert grad.shape == (1, 4, 2, 2)


def test_kernel_gradient_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(2)
    xs = torch.randn(5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    ys = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    kappa, grad = rbf_kernel(xs, ys)
    assert grad.shape == (5, 4, 3)
    for i in range(4):
        # kappa[j, i] depends on x_j only (h is a stopped constant)
        (g,) = torch.autograd.grad(kappa[:, i].sum(), xs, retain_graph=True)
        torch.testing.assert_close(grad[:, i], g)


def test_svgd_moves_particles_to_gaussian_target() -> None:
    # 1-D target N(m, s^2): grad log p(a) = -(a - m)/s^2. Plain SVGD iterations (all particles
    # fixed and updated) must move the cloud onto the target's mode and spread.
    m, s = 0.6, 0.3
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(1, 64, 1, generator=gen, dtype=torch.float64) * 0.1 - 1.0
    first = svgd_direction(a, -(a - m) / s**2, a)
    assert first.mean() > 0  # the cloud lies left of the mode: it moves right
    for _ in range(300):
        a = a + 0.02 * svgd_direction(a, -(a - m) / s**2, a)
    assert a.mean().item() == pytest.approx(m, abs=0.03)
    assert a.std().item() == pytest.approx(s, abs=0.06)


@pytest.mark.parametrize("space", ["pre_tanh", "original", "squashed"])
def test_svgd_score_is_the_gradient_of_the_target_log_density(space: str) -> None:
    """``svgd_score`` against autograd of the log-density each space targets (sql.py's docstring)."""
    gen = torch.Generator().manual_seed(0)
    u = (torch.randn(2, 5, 4, 3, generator=gen, dtype=torch.float64) * 1.5).requires_grad_(True)
    w = torch.randn(3, generator=gen, dtype=torch.float64)
    alpha = 0.7

    def log_q(a: torch.Tensor) -> torch.Tensor:  # Q(s, a)/alpha for a made-up smooth Q
        return (torch.sin(a) @ w + (a**2).sum(-1)) / alpha

    a = torch.tanh(u)
    if space == "pre_tanh":  # density of u when tanh(u) ~ exp(Q/alpha) on the box
        (want,) = torch.autograd.grad((log_q(torch.tanh(u)) + torch.log(1 - torch.tanh(u) ** 2).sum(-1)).sum(), u)
    else:
        x = a.detach().requires_grad_(True)
        extra = torch.log(1 - x**2 + 1e-6).sum(-1) if space == "original" else 0.0
        (want,) = torch.autograd.grad((log_q(x) + extra).sum(), x)
    x = a.detach().requires_grad_(True)
    (grad_log_q,) = torch.autograd.grad(log_q(x).sum(), x)
    torch.testing.assert_close(svgd_score(grad_log_q, a.detach(), space), want)  # type: ignore[arg-type]


@pytest.mark.parametrize("space", ["pre_tanh", "original", "squashed"])
def test_svgd_loss_moves_the_updated_particles_of_its_space(space: str) -> None:
    """The gradient of ``svgd_loss`` reaches only the updated particles, and is minus the Stein
    direction built in the space's own coordinates (``u`` for pre-tanh, ``a = tanh u`` otherwise),
    chained through tanh where the particles are the squashed actions."""
    gen = torch.Generator().manual_seed(1)
    u = (torch.randn(2, 3, 6, 2, generator=gen, dtype=torch.float64) * 1.2).requires_grad_(True)
    w = torch.randn(2, generator=gen, dtype=torch.float64)

    def q_fn(a: torch.Tensor) -> torch.Tensor:
        return torch.sin(a) @ w

    loss = svgd_loss(u, q_fn, 0.5, 4, space)  # type: ignore[arg-type]
    (g,) = torch.autograd.grad(loss.sum(), u)
    a = torch.tanh(u.detach())
    x = a[:, :, :4].clone().requires_grad_(True)
    (grad_q,) = torch.autograd.grad(q_fn(x).sum(), x)
    score = svgd_score(grad_q / 0.5, a[:, :, :4], space)  # type: ignore[arg-type]
    parts = u.detach() if space == "pre_tanh" else a
    direction = svgd_direction(parts[:, :, :4], score, parts[:, :, 4:])
    chain = 1.0 if space == "pre_tanh" else 1 - a[:, :, 4:] ** 2
    assert torch.equal(g[:, :, :4], torch.zeros_like(g[:, :, :4]))
    # svgd_loss works in float32 (as under bf16 autocast): float32 tolerances
    torch.testing.assert_close(g[:, :, 4:], (-direction * chain / (3 * 2)).to(g.dtype), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("space", "mean_sq"), [("pre_tanh", 1 / 3), ("original", 0.2)])
def test_amortised_svgd_on_a_flat_q_samples_its_target(space: str, mean_sq: float) -> None:
    """With ``Q = 0`` the soft policy is uniform on the box (``E[a^2] = 1/3`` per component), and the
    original's target ``prod(1 - a^2)`` gives ``E[a^2] = 1/5``. The pre-tanh sampler stays off the
    boundary; the squashed variant (no pull back from it) piles its draws up at ``|a| -> 1``."""
    torch.manual_seed(0)

    def trained(space: str) -> torch.Tensor:
        s = SVGDSampler(1, 2, 3, hidden=(32, 32), seeds=[0])
        opt = torch.optim.Adam(s.parameters(), lr=3e-3)
        obs = torch.zeros(1, 32, 2)
        for _ in range(400):
            loss = svgd_loss(s.sample_pre_tanh(obs, 16), lambda a: 0.0 * a.sum(-1), 1.0, 8, space)  # type: ignore[arg-type]
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            return s.draw(torch.zeros(1, 20_000, 2))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a = trained(space)
        squashed = trained("squashed")
    finally:
        torch.set_num_threads(threads)
    assert a.pow(2).mean().item() == pytest.approx(mean_sq, abs=0.04)
    assert (a.abs() > 0.99).float().mean().item() < 0.01  # uniform: exactly 0.01
    assert (squashed.abs() > 0.99).float().mean().item() > 0.5


def test_svgd_surrogate_gradient_is_minus_direction() -> None:
    upd = torch.randn(2, 3, 4, ACT, requires_grad=True)
    direction = torch.randn(2, 3, 4, ACT)
    loss = svgd_surrogate(upd, direction)
    assert loss.shape == (2,)
    (g,) = torch.autograd.grad(loss.sum(), upd)
    torch.testing.assert_close(g, -direction / 12.0)


# ---------------------------------------------------------------- sampler


def test_sampler_shapes_and_range() -> None:
    s = SVGDSampler(3, OBS, ACT, hidden=(16, 16), seeds=[0, 1, 2])
    obs = torch.randn(3, 5, OBS)
    a = s.draw(obs)
    assert a.shape == (3, 5, ACT)
    p = s.sample_actions(obs, 7)
    assert p.shape == (3, 5, 7, ACT)
    assert p.abs().max() <= 1.0
    det = s.deterministic(obs)
    torch.testing.assert_close(det, s.draw(obs, torch.zeros(3, 5, ACT)))
    with pytest.raises(ValueError):
        s.sample_actions(obs, 7, noise=torch.randn(3, 5, 6, ACT))


def test_sampler_has_no_density_and_sac_refuses_it() -> None:
    """The implicit sampler must not pose as a SAC policy with a fake zero log-probability."""
    from softskills.skills import Policy, SACAgent, SACConfig, TwinQ

    s = SVGDSampler(2, OBS, ACT, hidden=(16,), seeds=[0, 1])
    assert not isinstance(s, Policy)
    assert not hasattr(s, "log_prob") and not hasattr(s, "sample")
    with pytest.raises(TypeError, match="no tractable density"):
        SACAgent(s, TwinQ(2, OBS, ACT, hidden=(16,)), SACConfig())


def test_sampler_seeds_are_per_skill() -> None:
    stacked = SVGDSampler(3, OBS, ACT, hidden=(16,), seeds=[4, 5, 6])
    single = SVGDSampler(1, OBS, ACT, hidden=(16,), seeds=[5])
    for ps, p1 in zip(stacked.parameters(), single.parameters()):
        torch.testing.assert_close(ps[1:2], p1, rtol=0, atol=0)


# ---------------------------------------------------------------- agent


def _agent(k: int, seeds: list[int] | None = None, **cfg) -> SQLAgent:
    cfg.setdefault("hidden", (32, 32))
    cfg.setdefault("kernel_particles", 8)
    cfg.setdefault("value_particles", 6)
    config = SQLConfig(**cfg)
    seeds = list(range(k)) if seeds is None else seeds
    return SQLAgent(
        SVGDSampler(k, OBS, ACT, config.hidden, seeds=seeds),
        TwinQ(k, OBS, ACT, config.hidden, seeds=seeds),
        config,
    )


def _batch(k: int, b: int = 10, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.randn(k, b, OBS, generator=g),
        act=torch.rand(k, b, ACT, generator=g) * 2 - 1,
        rew=torch.randn(k, b, generator=g),
        next_obs=torch.randn(k, b, OBS, generator=g),
        terminated=(torch.rand(k, b, generator=g) < 0.2).float(),
    )


def _noise(agent: SQLAgent, k: int, b: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + seed)
    cfg = agent.config
    noise = torch.randn(k, b, cfg.kernel_particles, ACT, generator=g)
    next_noise = torch.rand(k, b, cfg.value_particles, ACT, generator=g) * 2 - 1
    return noise, next_noise


@pytest.mark.parametrize("k", [1, 3])
def test_update_shapes(k: int) -> None:
    agent = _agent(k)
    assert agent.num_skills == k and agent.act_dim == ACT
    assert isinstance(agent.optimizer, torch.optim.Adam) and len(agent.optimizer.param_groups) == 2
    before = [p.detach().clone() for p in agent.parameters()]
    out = agent.update(_batch(k))
    assert {"qf_loss", "actor_loss", "alpha"} <= set(out)
    for v in out.values():
        assert v.shape == (k,) and not v.requires_grad and torch.isfinite(v).all()
    torch.testing.assert_close(out["alpha"], torch.ones(k))
    assert all(not torch.equal(a, b) for a, b in zip(before, agent.parameters()))
    obs = torch.randn(k, 4, OBS)
    assert agent.act(obs).shape == (k, 4, ACT)
    assert agent.act(obs, deterministic=True).shape == (k, 4, ACT)
    assert int(agent.num_updates) == 1


def test_stacked_equals_single_skill_agents() -> None:
    k, seeds = 3, [10, 11, 12]
    stacked = _agent(k, seeds, alpha=0.7, target_interval=2)
    singles = [_agent(1, [s], alpha=0.7, target_interval=2) for s in seeds]
    for step in range(3):
        batch = _batch(k, seed=step)
        noise, next_noise = _noise(stacked, k, seed=step)
        out = stacked.update(batch, noise, next_noise)
        for i, single in enumerate(singles):
            sub = Batch(*(t[i : i + 1] for t in batch))
            o1 = single.update(sub, noise[i : i + 1], next_noise[i : i + 1])
            for key in ("qf_loss", "actor_loss", "alpha"):
                torch.testing.assert_close(out[key][i : i + 1], o1[key], rtol=1e-5, atol=1e-6)
    for i, single in enumerate(singles):
        for ps, p1 in zip(stacked.policy.parameters(), single.policy.parameters()):
            torch.testing.assert_close(ps[i : i + 1], p1, rtol=1e-5, atol=1e-6)
        for ps, p1 in zip(stacked.critic.parameters(), single.critic.parameters()):
            torch.testing.assert_close(ps[2 * i : 2 * i + 2], p1, rtol=1e-5, atol=1e-6)
        for ts, t1 in zip(stacked.target_params, single.target_params):
            torch.testing.assert_close(ts[2 * i : 2 * i + 2], t1, rtol=1e-5, atol=1e-6)


def test_hard_target_copy_exactly_at_interval() -> None:
    agent = _agent(2, target_interval=3)
    snapshot = [t.clone() for t in agent.target_params]
    for p, t in zip(agent.critic.parameters(), agent.target_params):
        assert torch.equal(p, t)  # targets start as copies
    for n in range(1, 8):
        agent.update(_batch(2, seed=n))
        online = [p.detach() for p in agent.critic.parameters()]
        if n % 3 == 0:
            assert all(torch.equal(t, p) for t, p in zip(agent.target_params, online))
            snapshot = [t.clone() for t in agent.target_params]
        else:
            assert all(torch.equal(t, s) for t, s in zip(agent.target_params, snapshot))
            assert not all(torch.equal(t, p) for t, p in zip(agent.target_params, online))
    assert int(agent.num_updates) == 7


def test_hard_target_between_copies_ignores_a_diverged_critic() -> None:
    agent = _agent(1, target_interval=3)
    before = [t.clone() for t in agent.target_params]
    with torch.no_grad():
        next(agent.critic.parameters()).fill_(math.inf)
    agent._update_target()  # update 1 of 3: no copy, so the target must not see the inf
    assert all(torch.equal(t, b) for t, b in zip(agent.target_params, before))


def test_polyak_target() -> None:
    agent = _agent(1, target_update="polyak", tau=0.1)
    old = [t.clone() for t in agent.target_params]
    agent.update(_batch(1))
    for t, o, p in zip(agent.target_params, old, agent.critic.parameters()):
        torch.testing.assert_close(t, o + 0.1 * (p.detach() - o))


def test_state_dict_round_trip_restores_counter_and_resumes_exactly() -> None:
    def step(agent: SQLAgent, n: int) -> None:
        noise, next_noise = _noise(agent, 2, seed=n)
        agent.update(_batch(2, seed=n), noise, next_noise)

    straight = _agent(2, target_interval=4)
    for n in range(10):
        step(straight, n)

    first = _agent(2, target_interval=4)
    for n in range(5):
        step(first, n)
    state, opt_state = first.state_dict(), first.optimizer.state_dict()
    assert "num_updates" in state and int(state["num_updates"]) == 5

    resumed = _agent(2, seeds=[7, 8], target_interval=4)  # different init: all of it is overwritten
    resumed.load_state_dict(state)
    resumed.optimizer.load_state_dict(opt_state)
    assert int(resumed.num_updates) == 5
    for n in range(5, 10):
        step(resumed, n)
    assert int(resumed.num_updates) == 10
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name


def test_sampler_skill_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError):
        SQLAgent(SVGDSampler(2, OBS, ACT, (8,)), TwinQ(3, OBS, ACT, (8,)), SQLConfig(hidden=(8,)))


def test_target_params_follow_dtype_and_device_moves() -> None:
    agent = _agent(1).double()
    assert all(t.dtype == torch.float64 for t in agent.target_params)
    assert agent.target_params[0] is agent.target_0
    batch = Batch(*(t.double() for t in _batch(1)))
    out = agent.update(batch)
    assert torch.isfinite(out["qf_loss"]).all()


def test_rebuild_optimizer_keeps_state_and_flags() -> None:
    agent = _agent(1)
    agent.update(_batch(1))
    step_before = [s["step"].clone() for s in agent.optimizer.state.values()]
    agent.rebuild_optimizer(capturable=True)  # no CUDA here: capturable stays off, fused stays on
    assert all(g["capturable"] is False and g["fused"] for g in agent.optimizer.param_groups)
    assert [s["step"] for s in agent.optimizer.state.values()] == step_before
    agent.update(_batch(1))


# ---------------------------------------------------------------- learning check


def test_sql_learns_the_boltzmann_policy_of_a_bandit() -> None:
    """A seeded SQL agent on a one-step bandit (every transition terminal, so ``Q = r``) with
    ``r(a) = -4 (a - 0.4)^2`` on ``[-1, 1]`` learns, in 500 updates, ``Q ~ r`` and a sampler whose
    draws have the mean and spread of ``exp(r(a) / alpha)`` (exact by quadrature).

    Guards the TD target of terminal transitions, the SVGD direction's sign, and the temperature
    in the sampler's target: at ``alpha = 1`` the spread would be about twice as large.
    """
    mu, beta, alpha, batch = 0.4, 4.0, 0.2, 32

    def reward(a: torch.Tensor) -> torch.Tensor:
        return -beta * (a - mu) ** 2

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        # target_interval=1: a target that bootstrapped terminal transitions would chase its own soft value
        cfg = SQLConfig(alpha=alpha, hidden=(16, 16), kernel_particles=16, value_particles=4, q_lr=1e-2,
                        policy_lr=1e-2, target_interval=1)
        agent = SQLAgent(SVGDSampler(1, 1, 1, cfg.hidden, seeds=[0]), TwinQ(1, 1, 1, cfg.hidden, seeds=[0]), cfg)
        gen = torch.Generator().manual_seed(0)
        obs, done = torch.zeros(1, batch, 1), torch.ones(1, batch)
        for n in range(500):
            if n == 300:  # a step decay of both learning rates settles the sampler
                for group in agent.optimizer.param_groups:
                    group["lr"] = 1e-3
            act = torch.rand(1, batch, 1, generator=gen) * 2 - 1
            agent.update(Batch(obs, act, reward(act[..., 0]), obs, done))
        grid = torch.linspace(-1.0, 1.0, 41).view(1, 41, 1)
        with torch.no_grad():
            q = agent.critic(torch.zeros(1, 41, 1), grid).min(dim=1).values[0]
        draws = agent.act(torch.zeros(1, 20_000, 1))[0, :, 0].double()
    finally:
        torch.set_num_threads(threads)

    # reward(grid) spans [-7.8, 0]
    assert (q - reward(grid[0, :, 0])).abs().max().item() < 0.3
    x = np.linspace(-1.0, 1.0, 20_001)
    p = np.exp(-beta * (x - mu) ** 2 / alpha)
    p /= _trapezoid(p, x)
    mean = _trapezoid(x * p, x)
    std = math.sqrt(_trapezoid((x - mean) ** 2 * p, x))  # 0.158
    assert draws.mean().item() == pytest.approx(mean, abs=0.05)
    assert draws.std().item() == pytest.approx(std, abs=0.04)


def test_soft_value_uses_the_min_of_the_target_twins() -> None:
    """``V(s')`` is the uniform-IS soft value of ``min_j Qbar_j`` at the given actions: the *target*
    twins (perturbed here so they differ from the online ones) and their minimum, not the maximum."""
    agent = _agent(1, alpha=0.7)
    with torch.no_grad():
        agent.target_params[-1].add_(torch.tensor([2.0, -3.0]).view(2, 1, 1))  # twins differ by 5
    batch = _batch(1)
    noise, next_noise = _noise(agent, 1)
    out = agent.compute_losses(batch, noise, next_noise)
    m = agent.config.value_particles
    obs = batch.next_obs.unsqueeze(2).expand(1, 10, m, OBS).reshape(1, 10 * m, OBS)
    with torch.no_grad():
        twins = agent.critic(obs, next_noise.reshape(1, 10 * m, ACT), agent.target_params).view(1, 2, 10, m)
    want = soft_value_uniform_is(twins.min(dim=1).values, 0.7, ACT).mean(-1)
    torch.testing.assert_close(out["next_v"], want)
