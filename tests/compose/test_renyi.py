"""The three D_1/2 estimators agree with each other and with the exact tabular divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor
from torch.distributions import Categorical, Normal

from softskills.compose.renyi import renyi_half_gaussian, renyi_half_mc, renyi_half_soft_values
from softskills.compose.tabular import boltzmann, renyi_half
from softskills.skills.sql import soft_value_uniform_is

F64 = torch.float64


def gaussians(seed: int, batch: int, dim: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu1, mu2 = torch.randn(batch, dim, generator=g, dtype=F64), torch.randn(batch, dim, generator=g, dtype=F64)
    std1 = torch.exp(0.5 * torch.randn(batch, dim, generator=g, dtype=F64))
    std2 = torch.exp(0.5 * torch.randn(batch, dim, generator=g, dtype=F64))
    return mu1, std1, mu2, std2


def test_gaussian_known_values() -> None:
    mu, std = torch.tensor([[0.0, 1.0]], dtype=F64), torch.tensor([[0.5, 2.0]], dtype=F64)
    np.testing.assert_allclose(renyi_half_gaussian(mu, std, mu, std).numpy(), [0.0])
    # Equal variances: D_1/2 = |mu1 - mu2|^2 / (4 s^2).
    d = renyi_half_gaussian(mu, std, mu + torch.tensor([[1.0, 3.0]], dtype=F64), std)
    np.testing.assert_allclose(d.numpy(), [1.0 / (4 * 0.25) + 9.0 / (4 * 4.0)], rtol=1e-12)
    # Equal means: D_1/2 = log((s1^2 + s2^2) / (2 s1 s2)).
    one = torch.ones(1, 1, dtype=F64)
    d = renyi_half_gaussian(0 * one, one, 0 * one, 3 * one)
    np.testing.assert_allclose(d.numpy(), [math.log(10.0 / 6.0)], rtol=1e-12)
    mu1, std1, mu2, std2 = gaussians(0, 50, 3)
    d12, d21 = renyi_half_gaussian(mu1, std1, mu2, std2), renyi_half_gaussian(mu2, std2, mu1, std1)
    torch.testing.assert_close(d12, d21)
    assert bool((d12 > 0).all())


def test_gaussian_matches_monte_carlo_within_error() -> None:
    mu1, std1, mu2, std2 = gaussians(1, 6, 2)
    mu2 = mu1 + 0.5 * (mu2 - mu1)  # moderate divergences, so that 100k samples resolve them
    k = 100_000
    torch.manual_seed(0)
    p1, p2 = Normal(mu1, std1), Normal(mu2, std2)
    a = p1.sample((k,))  # [K, B, Da], drawn from pi1
    est = renyi_half_mc(p1.log_prob(a).sum(-1), p2.log_prob(a).sum(-1), dim=0)
    exact = renyi_half_gaussian(mu1, std1, mu2, std2)
    bc = torch.exp(-0.5 * exact)
    sigma = 2.0 * torch.sqrt((1.0 - bc**2) / (k * bc**2))  # delta-method std of the estimate
    assert bool(((est - exact).abs() <= 5.0 * sigma + 1e-6).all()), (est, exact, sigma)
    assert bool((sigma < 0.1).all())  # the check has teeth


def quadratic_q(a: Tensor, m: float, s: float, c: float, alpha: float) -> Tensor:
    """``Q(a) = -alpha (a - m)^2 / (2 s^2) + c``: its Boltzmann policy is N(m, s^2) on the real line."""
    return -alpha * (a - m) ** 2 / (2.0 * s**2) + c


@pytest.mark.parametrize("alpha", [0.1, 1.0, 3.0])
def test_soft_values_of_quadratic_q_give_gaussian_divergence(alpha: float) -> None:
    # V = alpha log int exp(Q/alpha) da by a fine Riemann sum (spectrally accurate for Gaussians).
    a = torch.linspace(-40.0, 40.0, 400_001, dtype=F64)
    da = float(a[1] - a[0])
    (m1, s1, c1), (m2, s2, c2) = (0.7, 0.5, 1.3), (-1.1, 2.0, -0.4)
    q1, q2 = quadratic_q(a, m1, s1, c1, alpha), quadratic_q(a, m2, s2, c2, alpha)

    def v(q: Tensor) -> Tensor:
        return alpha * (torch.logsumexp(q / alpha, dim=-1) + math.log(da))

    est = renyi_half_soft_values(v(q1), v(q2), v(0.5 * (q1 + q2)), alpha)
    t = lambda x: torch.tensor([[x]], dtype=F64)  # noqa: E731
    exact = renyi_half_gaussian(t(m1), t(s1), t(m2), t(s2))[0]
    torch.testing.assert_close(est, exact, rtol=1e-9, atol=1e-9)


def test_discrete_soft_values_and_mc_match_tabular() -> None:
    rng = np.random.default_rng(0)
    alpha = 0.7
    q1, q2 = rng.normal(0.0, 1.0, (8, 5)), rng.normal(0.0, 1.0, (8, 5))
    exact = renyi_half(boltzmann(q1, alpha), boltzmann(q2, alpha))
    t1, t2 = torch.from_numpy(q1), torch.from_numpy(q2)

    def v(q: Tensor) -> Tensor:
        return alpha * torch.logsumexp(q / alpha, dim=-1)

    est = renyi_half_soft_values(v(t1), v(t2), v(0.5 * (t1 + t2)), alpha)
    np.testing.assert_allclose(est.numpy(), exact, rtol=1e-12, atol=1e-12)

    torch.manual_seed(0)
    k = 100_000
    p1, p2 = Categorical(logits=t1 / alpha), Categorical(logits=t2 / alpha)
    a = p1.sample((k,))  # [K, S] from pi1
    mc = renyi_half_mc(p1.log_prob(a), p2.log_prob(a), dim=0).numpy()
    bc = np.exp(-0.5 * exact)
    sigma = 2.0 * np.sqrt((1.0 - bc**2) / (k * bc**2))
    assert np.all(np.abs(mc - exact) <= 5.0 * sigma + 1e-6)
    # Exact enumeration "with densities": E_{a~pi1} sqrt(pi2/pi1) as a weighted sum.
    pi1, pi2 = boltzmann(q1, alpha), boltzmann(q2, alpha)
    np.testing.assert_allclose(-2.0 * np.log((pi1 * np.sqrt(pi2 / pi1)).sum(-1)), exact, rtol=1e-12)


def test_uniform_importance_sampled_soft_values_on_the_action_box() -> None:
    # SQL recipe (originals.md §3): each V by uniform IS on [-1, 1] with shared actions, then
    # D_1/2 = (V1 + V2 - 2 V_Sigma)/alpha; the reference is a fine quadrature over [-1, 1].
    alpha = 0.5
    grid = torch.linspace(-1.0, 1.0, 200_001, dtype=F64)
    w = torch.full_like(grid, float(grid[1] - grid[0]))
    w[0] = w[-1] = 0.5 * w[0]  # trapezoid weights
    torch.manual_seed(0)
    uniform = 2.0 * torch.rand(20_000, dtype=F64) - 1.0
    (m1, s1), (m2, s2) = (0.4, 0.3), (-0.5, 0.5)

    def qs(a: Tensor) -> tuple[Tensor, Tensor]:
        return quadratic_q(a, m1, s1, 0.0, alpha), quadratic_q(a, m2, s2, 0.0, alpha)

    def v_quad(q: Tensor) -> Tensor:
        return alpha * torch.logsumexp(q / alpha + torch.log(w), dim=-1)

    def v_is(q: Tensor) -> Tensor:
        return soft_value_uniform_is(q, alpha, act_dim=1)

    (g1, g2), (u1, u2) = qs(grid), qs(uniform)
    ref = renyi_half_soft_values(v_quad(g1), v_quad(g2), v_quad(0.5 * (g1 + g2)), alpha)
    est = renyi_half_soft_values(v_is(u1), v_is(u2), v_is(0.5 * (u1 + u2)), alpha)
    assert 0.5 < float(ref) and abs(float(est) - float(ref)) < 0.05


def test_bad_input_raises() -> None:
    x = torch.ones(3, 2, dtype=F64)
    with pytest.raises(ValueError, match="share a shape"):
        renyi_half_gaussian(x, x, x, x[:, :1])
    with pytest.raises(ValueError, match="std1 and std2 must be > 0"):
        renyi_half_gaussian(x, x, x, -x)
    with pytest.raises(ValueError, match="share a shape"):
        renyi_half_mc(x, x[:1])
    with pytest.raises(ValueError, match="share a shape"):
        renyi_half_soft_values(x, x, x[:1], 1.0)
    with pytest.raises(ValueError, match="alpha"):
        renyi_half_soft_values(x, x, x, 0.0)
