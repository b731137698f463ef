"""Invariants of the tanh-Gaussian policy and of the tanh correction."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor
from torch.distributions import Independent, Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

from softskills.flows import GaussianPolicy
from softskills.flows.tanh import atanh_clamped, tanh_log_det
from softskills.skills.types import Policy

OBS = 5
SMALL = {"hidden": (16, 16)}


def make(k: int = 2, act: int = 3, **kw) -> GaussianPolicy:
    torch.manual_seed(0)
    return GaussianPolicy(k, OBS, act, **{**SMALL, **kw}).double()


def obs_for(k: int, b: int) -> Tensor:
    return torch.randn(k, b, OBS, dtype=torch.float64)


def test_is_a_policy() -> None:
    assert isinstance(make(), Policy)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("act", [1, 4])
@pytest.mark.parametrize("squash", [True, False])
def test_shapes(k: int, act: int, squash: bool) -> None:
    policy = make(k, act, squash=squash)
    obs = obs_for(k, 7)
    a, log_prob = policy.sample(obs)
    assert a.shape == (k, 7, act) and log_prob.shape == (k, 7)
    assert policy.log_prob(obs, a).shape == (k, 7)
    assert policy.deterministic(obs).shape == (k, 7, act)


@pytest.mark.parametrize("squash", [True, False])
def test_sample_log_prob_equals_log_prob(squash: bool) -> None:
    policy = make(3, 4, squash=squash)
    obs = obs_for(3, 9)
    a, log_prob = policy.sample(obs)
    torch.testing.assert_close(policy.log_prob(obs, a), log_prob, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("squash", [True, False])
def test_log_prob_matches_torch_distributions(squash: bool) -> None:
    policy = make(2, 3, squash=squash)
    obs = obs_for(2, 6)
    a, log_prob = policy.sample(obs)
    mean, log_std = policy._mean_log_std(obs)
    dist = Independent(Normal(mean, log_std.exp()), 1)
    if squash:
        dist = TransformedDistribution(dist, [TanhTransform()])
    torch.testing.assert_close(dist.log_prob(a), log_prob, atol=1e-6, rtol=1e-6)


def test_gradients_reach_every_parameter() -> None:
    policy = make(2, 3)
    obs = obs_for(2, 8)
    a, log_prob = policy.sample(obs)
    (a.sum() + log_prob.sum()).backward()
    for name, p in policy.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_seeded_stack_equals_single_skill_policies() -> None:
    seeds = (3, 14, 15)
    stacked = GaussianPolicy(3, OBS, 4, seeds=seeds, **SMALL).double()
    singles = [GaussianPolicy(1, OBS, 4, seeds=(s,), **SMALL).double() for s in seeds]
    for name, p in stacked.named_parameters():
        for k, single in enumerate(singles):
            torch.testing.assert_close(
                p[k : k + 1], dict(single.named_parameters())[name], rtol=0, atol=0
            )
    obs, eps = obs_for(3, 6), torch.randn(3, 6, 4, dtype=torch.float64)
    a, log_prob = stacked.sample(obs, eps)
    for k, single in enumerate(singles):
        a_k, lp_k = single.sample(obs[k : k + 1], eps[k : k + 1])
        torch.testing.assert_close(a[k : k + 1], a_k)
        torch.testing.assert_close(log_prob[k : k + 1], lp_k)


def test_save_load_round_trip(tmp_path) -> None:
    policy = GaussianPolicy(2, OBS, 3, seeds=(0, 1), **SMALL)
    path = tmp_path / "policy.safetensors"
    save_file(policy.state_dict(), str(path))
    other = GaussianPolicy(2, OBS, 3, seeds=(7, 8), **SMALL)
    other.load_state_dict(load_file(str(path)))
    obs, eps = torch.randn(2, 5, OBS), torch.randn(2, 5, 3)
    for x, y in zip(policy.sample(obs, eps), other.sample(obs, eps)):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_tanh_log_det_equals_naive_form_for_moderate_values() -> None:
    u = torch.linspace(-4.0, 4.0, 101, dtype=torch.float64).view(-1, 1)
    naive = torch.log(1.0 - torch.tanh(u).pow(2)).sum(-1)
    torch.testing.assert_close(tanh_log_det(u), naive)


def test_tanh_log_det_stays_finite_for_large_values() -> None:
    u = torch.tensor([[-100.0], [-30.0], [30.0], [100.0]])
    out = tanh_log_det(u)
    assert torch.isfinite(out).all()
    # log(1 - tanh(u)^2) -> 2 (log 2 - |u|) as |u| -> inf; the naive form is -inf there
    torch.testing.assert_close(out, 2.0 * (torch.log(torch.tensor(2.0)) - u.abs().squeeze(-1)))
    assert not torch.isfinite(torch.log(1.0 - torch.tanh(u).pow(2))).all()


def test_atanh_clamped_is_finite_at_the_boundary() -> None:
    a = torch.tensor([-1.0, 0.0, 1.0])
    assert torch.isfinite(atanh_clamped(a)).all()


def test_atanh_clamped_stays_finite_in_half_precision() -> None:
    from softskills.flows.tanh import atanh_clamped

    for dtype in (torch.bfloat16, torch.float16, torch.float32, torch.float64):
        edge = torch.tensor([-1.0, 1.0], dtype=dtype)
        out = atanh_clamped(edge)
        assert out.dtype == dtype and torch.isfinite(out).all(), dtype
    x = torch.tensor([0.3], dtype=torch.float64)
    assert atanh_clamped(x).item() == torch.atanh(x).item()


def test_log_std_is_clamped_into_its_bounds() -> None:
    """``log sigma`` outside ``log_std_bounds`` is clamped, in the sample and in its log-density."""
    policy = make(1, 1, squash=False, log_std_bounds=(-1.0, 0.5))
    obs = obs_for(1, 3)
    last = policy.net.layers[-1]
    for raw, clamped in ((5.0, 0.5), (-5.0, -1.0)):
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.tensor([0.3, raw], dtype=torch.float64).view(1, 1, 2))
        eps = torch.ones(1, 3, 1, dtype=torch.float64)
        a, log_prob = policy.sample(obs, eps)
        sigma = torch.tensor(clamped, dtype=torch.float64).exp()
        torch.testing.assert_close(a, 0.3 + sigma * eps)
        want = torch.distributions.Normal(0.3, sigma).log_prob(a).sum(-1)
        torch.testing.assert_close(log_prob, want)


@pytest.mark.parametrize("squash", [True, False])
def test_deterministic_is_the_zero_noise_sample(squash: bool) -> None:
    """The mean action ``tanh(mu(s))`` (``mu(s)`` unsquashed): the sample at ``eps = 0``."""
    policy = make(2, 3, squash=squash)
    obs = obs_for(2, 6)
    mean, _ = policy._mean_log_std(obs)
    torch.testing.assert_close(policy.deterministic(obs), torch.tanh(mean) if squash else mean)
    zero = torch.zeros(2, 6, 3, dtype=torch.float64)
    torch.testing.assert_close(policy.deterministic(obs), policy.sample(obs, zero)[0])
