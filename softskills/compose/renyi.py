"""Estimators of the Renyi divergence of order 1/2 between two skills' policies, batched over states.

All three use the convention of Lemma 5 (thesis eq. 6.4, proof eq. B.26) and of
:func:`softskills.compose.tabular.renyi_half`:

    ``D_1/2(pi1 || pi2)(s) = -2 log int sqrt(pi1(a|s) pi2(a|s)) da``,

so that ``V_Sigma = (V1 + V2)/2 - (alpha/2) D_1/2`` for ``pi_i ∝ exp(Q_i/alpha)`` and
``Q_Sigma = (Q1 + Q2)/2``. Pick the estimator by what the policies expose:

* diagonal Gaussians (pre-squash): :func:`renyi_half_gaussian`, exact;
* densities (flows, squashed Gaussians): :func:`renyi_half_mc`, Monte Carlo;
* soft values only (SQL samplers): :func:`renyi_half_soft_values`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["renyi_half_gaussian", "renyi_half_mc", "renyi_half_soft_values"]


def renyi_half_gaussian(mu1: Tensor, std1: Tensor, mu2: Tensor, std2: Tensor) -> Tensor:
    """Closed-form ``D_1/2`` between two diagonal Gaussians (twice the Bhattacharyya distance).

    Per dimension, ``(mu1 - mu2)^2 / (2 (s1^2 + s2^2)) + log((s1^2 + s2^2) / (2 s1 s2))``, summed over
    the last (action) axis. Assumes *unbounded* Gaussian policies: a tanh squash is a shared
    bijection and leaves every f-divergence, hence ``D_1/2``, unchanged, so the pre-squash
    ``mu, std`` of two tanh-Gaussian policies give their exact divergence too.

    Args:
        mu1: means of pi1, ``[..., Da]``.
        std1: standard deviations of pi1 (> 0), same shape.
        mu2: means of pi2, same shape.
        std2: standard deviations of pi2 (> 0), same shape.

    Returns:
        ``D_1/2(pi1 || pi2)``, shape ``[...]``.
    """
    if not mu1.shape == std1.shape == mu2.shape == std2.shape:
        raise ValueError(
            f"mu1, std1, mu2, std2 must share a shape, got {list(mu1.shape)}, {list(std1.shape)}, "
            f"{list(mu2.shape)}, {list(std2.shape)}"
        )
    if mu1.ndim == 0:
        raise ValueError("Gaussian parameters need an action axis [..., Da]")
    if bool((std1 <= 0).any()) or bool((std2 <= 0).any()):
        raise ValueError("std1 and std2 must be > 0")
    var_sum = std1.square() + std2.square()
    per_dim = (mu1 - mu2).square() / (2.0 * var_sum) + torch.log(var_sum / (2.0 * std1 * std2))
    return per_dim.sum(dim=-1)


def renyi_half_mc(log_p1: Tensor, log_p2: Tensor, dim: int = 0) -> Tensor:
    """Monte Carlo ``D_1/2 = -2 log E_{a~pi1} sqrt(pi2(a)/pi1(a))`` from densities (originals.md §3).

    ``log_p1[j]`` and ``log_p2[j]`` are ``log pi1(a_j|s)`` and ``log pi2(a_j|s)`` at samples
    ``a_j ~ pi1(.|s)``: the sampling distribution must be pi1 (draw from pi2 and swap the
    arguments to get the same quantity, since ``D_1/2`` is symmetric). Works for any policy with
    an exact density (flows, tanh-Gaussians with their log-det correction). The inner mean is
    unbiased for the Bhattacharyya coefficient ``BC`` and its relative variance is
    ``(1 - BC^2) / (K BC^2)`` for K samples; the outer ``-2 log`` makes the estimate biased *upward*
    (Jensen) by about ``(1 - BC^2) / (K BC^2)``, consistent as ``K -> inf``. A finite-sample
    estimate can be slightly negative when the policies are close; it is not clipped.

    Args:
        log_p1: ``log pi1(a_j|s)``, samples along ``dim``, e.g. ``[K, B]``.
        log_p2: ``log pi2(a_j|s)`` at the same samples, same shape.
        dim: the sample axis.

    Returns:
        ``D_1/2`` estimate with ``dim`` reduced, e.g. ``[B]``.
    """
    if log_p1.shape != log_p2.shape:
        raise ValueError(
            f"log_p1 and log_p2 must share a shape, got {list(log_p1.shape)} and {list(log_p2.shape)}"
        )
    if log_p1.ndim == 0:
        raise ValueError("log_p1 needs a sample axis")
    k = log_p1.shape[dim]
    return -2.0 * (torch.logsumexp(0.5 * (log_p2 - log_p1), dim=dim) - math.log(k))


def renyi_half_soft_values(v1: Tensor, v2: Tensor, v_sigma: Tensor, alpha: float) -> Tensor:
    """``D_1/2(s) = [V1(s) + V2(s) - 2 V_Sigma(s)] / alpha`` from soft values alone (Lemma 5, eq. B.26).

    Assumes ``pi_i ∝ exp(Q_i/alpha)`` (optimal or at least Boltzmann policies, as SQL's sampler
    targets), ``V_i = alpha log int exp(Q_i/alpha)`` and ``V_Sigma`` the soft value of
    ``Q_Sigma = (Q1 + Q2)/2`` at the same ``alpha``. Needs no densities. With SQL's uniform
    importance-sampling estimate of each V (``softskills.skills.sql.soft_value_uniform_is``), use the
    *same* actions for all three values: each V is biased low by Jensen, and sharing the samples
    makes the biases largely cancel; the sign of the remaining bias is not fixed.

    Args:
        v1: ``V1(s)``, any shape ``[...]``.
        v2: ``V2(s)``, same shape.
        v_sigma: ``V_Sigma(s)``, same shape.
        alpha: temperature > 0 shared by the three values.

    Returns:
        ``D_1/2`` estimate, shape ``[...]``.
    """
    if not v1.shape == v2.shape == v_sigma.shape:
        raise ValueError(
            f"v1, v2, v_sigma must share a shape, got {list(v1.shape)}, {list(v2.shape)}, "
            f"{list(v_sigma.shape)}"
        )
    if not math.isfinite(alpha) or alpha <= 0.0:
        raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
    return (v1 + v2 - 2.0 * v_sigma) / alpha
