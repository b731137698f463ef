"""The SAC agent: K stacked skills are exactly K independent SACs; losses match their equations."""

from __future__ import annotations

import pytest
import torch

from softskills.flows.gaussian import GaussianPolicy
from softskills.skills.agent import SACAgent
from softskills.skills.critic import TwinQ
from softskills.skills.sac import SACConfig, action_log_prior, actor_loss, alpha_loss, critic_loss, soft_q_target
from softskills.skills.types import Batch

OBS, ACT, B = 5, 2, 32
CFG = SACConfig(hidden=(32, 32))


def make_agent(seeds: list[int], cfg: SACConfig = CFG) -> SACAgent:
    k = len(seeds)
    return SACAgent(GaussianPolicy(k, OBS, ACT, hidden=cfg.hidden, seeds=seeds),
                    TwinQ(k, OBS, ACT, hidden=cfg.hidden, seeds=seeds), cfg)


def random_batch(k: int, g: torch.Generator) -> Batch:
    return Batch(
        torch.randn(k, B, OBS, generator=g),
        torch.rand(k, B, ACT, generator=g) * 2 - 1,
        torch.randn(k, B, generator=g),
        torch.randn(k, B, OBS, generator=g),
        (torch.rand(k, B, generator=g) < 0.1).float(),
    )


def test_stacked_skills_equal_independent_runs() -> None:
    seeds = [3, 11, 42]
    stacked = make_agent(seeds)
    singles = [make_agent([s]) for s in seeds]
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        batch = random_batch(3, g)
        noise, next_noise = torch.randn(3, B, ACT, generator=g), torch.randn(3, B, ACT, generator=g)
        stacked.update(batch, noise, next_noise)
        for k, single in enumerate(singles):
            sub = Batch(*(t[k : k + 1] for t in batch))
            single.update(sub, noise[k : k + 1], next_noise[k : k + 1])
    sd = stacked.state_dict()
    for k, single in enumerate(singles):
        for name, v in single.state_dict().items():
            full = sd[name]
            # critic tensors stack 2 twins per skill; everything else one slice per skill
            twins = name.startswith(("critic", "target"))
            part = full[2 * k : 2 * k + 2] if twins else full[k : k + 1]
            torch.testing.assert_close(part, v, rtol=1e-5, atol=1e-6, msg=f"skill {k}, {name}")
    # the runs really moved away from the initialisation
    assert not torch.allclose(stacked.log_alpha, torch.zeros_like(stacked.log_alpha))


def test_update_changes_every_parameter_and_targets_lag() -> None:
    agent = make_agent([0, 1])
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    agent.update(random_batch(2, g))
    after = agent.state_dict()
    for name in before:
        assert not torch.equal(before[name], after[name]), f"{name} did not change"
    # target = (1 - tau) * old target + tau * new online parameter
    for i, p in enumerate(agent.critic.parameters()):
        expected = (1 - CFG.tau) * before[f"target_{i}"] + CFG.tau * p.detach()
        torch.testing.assert_close(after[f"target_{i}"], expected)


def test_actor_step_computes_no_critic_weight_gradient() -> None:
    agent = make_agent([0])
    g = torch.Generator().manual_seed(2)
    losses = agent.compute_losses(random_batch(1, g))
    agent.optimizer.zero_grad(set_to_none=True)
    losses["actor_loss"].sum().backward()
    assert all(p.grad is None for p in agent.critic.parameters())
    assert all(p.grad is not None for p in agent.policy.parameters())


def test_soft_q_target_formula() -> None:
    rew = torch.tensor([[1.0, 2.0]])
    term = torch.tensor([[0.0, 1.0]])
    next_q = torch.tensor([[[3.0, 5.0], [4.0, 1.0]]])  # (K=1, twins=2, B=2)
    log_pi = torch.tensor([[-1.0, 0.5]])
    prior = torch.zeros(1, 2)
    alpha = torch.tensor([[0.2]])
    y = soft_q_target(rew, term, next_q, log_pi, prior, alpha, gamma=0.9, reward_scale=2.0)
    # skill 0, sample 0: min(3, 4) = 3; V = 3 - 0.2 * (-1) = 3.2; y = 2*1 + 0.9*3.2
    assert y[0, 0].item() == pytest.approx(2.0 + 0.9 * 3.2)
    # sample 1 is terminated: no bootstrap
    assert y[0, 1].item() == pytest.approx(4.0)
    q = torch.tensor([[[1.0, 0.0], [2.0, 0.0]]])
    target = torch.tensor([[0.0, 0.0]])
    assert critic_loss(q, target).item() == pytest.approx(0.5 * (0.5 + 2.0))


def test_normal_prior_enters_the_target_and_the_actor_loss_with_its_sign() -> None:
    """A layer acting in a lower layer's latent uses ``log p(a) = log N(a; 0, I)``: the entropy term
    is ``log pi - log p`` in both the target (eq. 5.3) and the actor loss (eq. 5.9)."""
    a = torch.tensor([[[0.3, -1.2], [2.0, 0.0]]])
    log_p = action_log_prior(a, "normal")
    assert torch.allclose(log_p, torch.distributions.Normal(0.0, 1.0).log_prob(a).sum(-1))
    assert torch.equal(action_log_prior(a, "uniform"), torch.zeros(1, 2))
    rew, term = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])
    next_q = torch.tensor([[[3.0, 5.0], [4.0, 1.0]]])
    log_pi, alpha = torch.tensor([[-1.0, 0.5]]), torch.tensor([[0.2]])
    y = soft_q_target(rew, term, next_q, log_pi, log_p, alpha, gamma=0.9, reward_scale=2.0)
    expected = 2.0 * rew + 0.9 * (torch.tensor([[3.0, 1.0]]) - 0.2 * (log_pi - log_p))
    assert torch.allclose(y, expected)
    q_pi = torch.tensor([[[1.0, 2.0], [0.5, 3.0]]])
    expected_actor = (0.2 * (log_pi - log_p) - torch.tensor([[0.5, 2.0]])).mean(-1)
    assert torch.allclose(actor_loss(log_pi, log_p, q_pi, alpha), expected_actor)


def test_agent_uses_the_configured_prior_and_entropy_target() -> None:
    """The agent's losses with ``action_prior="normal"`` and ``target_entropy=-3`` equal the pure
    functions evaluated by hand on the same noise: prior sign, prior on both ``a`` and ``a'``, target."""
    cfg = SACConfig(hidden=(32, 32), action_prior="normal", target_entropy=-3.0, init_alpha=0.3)
    agent = make_agent([0], cfg)
    g = torch.Generator().manual_seed(3)
    batch = random_batch(1, g)
    noise, next_noise = torch.randn(1, B, ACT, generator=g), torch.randn(1, B, ACT, generator=g)
    losses = agent.compute_losses(batch, noise, next_noise)
    alpha = agent.log_alpha.detach().exp()
    with torch.no_grad():
        next_a, next_log_pi = agent.policy.sample(batch.next_obs, next_noise)
        y = soft_q_target(batch.rew, batch.terminated, agent.critic(batch.next_obs, next_a, agent.target_params),
                          next_log_pi, action_log_prior(next_a, "normal"), alpha, cfg.gamma, cfg.reward_scale)
        act, log_pi = agent.policy.sample(batch.obs, noise)
        q_pi = agent.critic(batch.obs, act)
    assert torch.allclose(losses["qf_loss"], critic_loss(agent.critic(batch.obs, batch.act), y), rtol=1e-5)
    assert torch.allclose(losses["actor_loss"], actor_loss(log_pi, action_log_prior(act, "normal"), q_pi, alpha),
                          rtol=1e-5)
    assert torch.allclose(losses["alpha_loss"], alpha_loss(agent.log_alpha, log_pi, -3.0), rtol=1e-5)
    assert not torch.allclose(losses["alpha_loss"], alpha_loss(agent.log_alpha, log_pi, -float(ACT)), rtol=1e-3)


def test_no_prior_drops_the_prior_term_only() -> None:
    """``action_prior="none"`` gives the uniform prior's losses bit for bit on the same agent and noise, and
    differs from ``normal``: it keeps the entropy and removes only ``log p(a)``."""
    g = torch.Generator().manual_seed(4)
    batch = random_batch(1, g)
    noise, next_noise = torch.randn(1, B, ACT, generator=g), torch.randn(1, B, ACT, generator=g)
    losses = {}
    for prior in ("uniform", "none", "normal"):
        cfg = SACConfig(hidden=(32, 32), action_prior=prior, init_alpha=0.3)  # type: ignore[arg-type]
        agent = make_agent([0], cfg)
        losses[prior] = agent.compute_losses(batch, noise, next_noise)
    for key in ("qf_loss", "actor_loss", "alpha_loss"):
        assert torch.equal(losses["none"][key], losses["uniform"][key]), key
    assert not torch.allclose(losses["none"]["actor_loss"], losses["normal"]["actor_loss"])
    a = torch.randn(5, ACT, generator=g)
    assert torch.equal(action_log_prior(a, "none"), torch.zeros(5))


def test_alpha_loss_is_alpha_times_entropy_gap() -> None:
    """J(alpha) = E[alpha * sg(-log pi - H_target)] (thesis eq. 5.20), tested at alpha = 0.2, where it
    differs from softlearning's log_alpha * (...) form (both agree only at log alpha = 0).

    Two skills, entropy estimate -log pi = 5 above / 1 below the target -2 and 3: alpha must fall
    for the first (positive gradient) and rise for the second, and no gradient reaches log pi.
    """
    alpha = torch.tensor([[0.2], [0.5]])
    log_alpha = alpha.log().requires_grad_(True)
    log_pi = torch.tensor([[-5.0, -5.0, -5.0, -5.0], [-1.0, -1.0, -1.0, -1.0]], requires_grad=True)
    target = torch.tensor([-2.0, 3.0])
    losses = torch.stack([alpha_loss(log_alpha[i : i + 1], log_pi[i : i + 1], float(target[i])) for i in range(2)])
    gap = torch.tensor([5.0 + 2.0, 1.0 - 3.0])  # -log pi - target
    # the value and d/d log(alpha) of alpha * gap are both alpha * gap
    torch.testing.assert_close(losses.squeeze(-1), alpha.squeeze(-1) * gap)
    losses.sum().backward()
    torch.testing.assert_close(log_alpha.grad.squeeze(-1), alpha.squeeze(-1) * gap)  # 1.4 and -1.0, not 7 and -2
    assert log_alpha.grad[0].item() > 0 > log_alpha.grad[1].item()
    assert log_pi.grad is None


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="tau"):
        SACConfig(tau=0.0)
    with pytest.raises(ValueError, match="action_prior"):
        SACConfig(action_prior="laplace")  # type: ignore[arg-type]


def test_target_comes_from_the_target_critics_and_alpha_is_a_constant() -> None:
    """``y`` bootstraps from the *target* twins (not the online ones), the default entropy target is
    ``-|A|``, and neither the actor nor the critic loss sends a gradient into ``log alpha``."""
    agent = make_agent([0])
    assert agent.target_entropy == -float(ACT)
    with torch.no_grad():
        agent.target_params[-1].add_(5.0)  # last bias of both target twins: Qbar = Q + 5
    g = torch.Generator().manual_seed(4)
    batch = random_batch(1, g)
    noise, next_noise = torch.randn(1, B, ACT, generator=g), torch.randn(1, B, ACT, generator=g)
    losses = agent.compute_losses(batch, noise, next_noise)
    alpha = agent.log_alpha.detach().exp()
    with torch.no_grad():
        next_a, next_log_pi = agent.policy.sample(batch.next_obs, next_noise)
        q = agent.critic(batch.obs, batch.act)

        def y_from(params: list[torch.Tensor] | None) -> torch.Tensor:
            next_q = agent.critic(batch.next_obs, next_a, params)
            return soft_q_target(batch.rew, batch.terminated, next_q, next_log_pi, None, alpha, CFG.gamma, 1.0)

    assert torch.allclose(losses["qf_loss"], critic_loss(q, y_from(agent.target_params)), rtol=1e-5)
    assert not torch.allclose(losses["qf_loss"], critic_loss(q, y_from(None)), rtol=1e-3)
    agent.optimizer.zero_grad(set_to_none=True)
    (losses["actor_loss"].sum() + losses["qf_loss"].sum()).backward()
    assert agent.log_alpha.grad is None
