"""One skill of a K-stacked policy as a policy of its own (K = 1).

A K-skill run evaluates all K members on every call: its networks carry a leading stack
dimension (:mod:`softskills.nn`). An estimator that needs only skill ``k`` would pay K times the
work, which for the Monte Carlo divergence estimator (dozens of flow evaluations per state) is
the difference between minutes and most of an hour. :func:`policy_skill` copies member ``k`` into
a K = 1 policy of the same class and checks that it computes exactly what the stack computes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["policy_skill"]


def _fresh_single(policy: nn.Module) -> nn.Module:
    """A K = 1 policy with ``policy``'s architecture (weights not yet copied)."""
    from softskills.flows.gaussian import GaussianPolicy
    from softskills.flows.realnvp import RealNVPPolicy

    if isinstance(policy, RealNVPPolicy):
        arch = dict(policy.arch)
        arch["num_skills"] = 1
        return RealNVPPolicy(**arch)
    if isinstance(policy, GaussianPolicy):
        hidden = [layer.out_features for layer in policy.net.layers[:-1]]
        return GaussianPolicy(1, policy.obs_dim, policy.act_dim, hidden=hidden, squash=policy.squash,
                              log_std_bounds=(policy.log_std_min, policy.log_std_max))
    raise TypeError(f"policy_skill supports GaussianPolicy and RealNVPPolicy, got {type(policy).__name__}")


def _member(name: str, src: Tensor, like: Tensor, k: int, n: int) -> Tensor:
    """Member ``k`` of a stacked tensor ``src`` shaped like the K = 1 tensor ``like``."""
    if src.dim() > 0 and like.dim() > 0 and src.shape[0] == n * like.shape[0] and src.shape[1:] == like.shape[1:]:
        m = like.shape[0]
        return src[m * k: m * (k + 1)]
    if src.shape == like.shape:  # shared by every skill (e.g. a coupling's feature mask)
        return src
    raise ValueError(f"cannot take skill {k} of tensor {name!r} of shape {tuple(src.shape)} "
                     f"(a one-skill policy has shape {tuple(like.shape)})")


def policy_skill(policy: nn.Module, skill: int) -> nn.Module:
    """A copy of skill ``skill`` of a K-stacked Gaussian or Real-NVP policy, as a K = 1 policy.

    The copy's ``sample``, ``log_prob`` and flow maps equal the stack's ``[skill]`` rows for the
    same base noise (checked here on a random probe: the deterministic actions must match
    exactly). A one-skill policy is returned as it is.

    Raises:
        ValueError: ``skill`` is out of range, or a tensor cannot be sliced.
        TypeError: the policy is neither Gaussian nor Real-NVP.
    """
    n = int(policy.num_skills)
    if not 0 <= skill < n:
        raise ValueError(f"skill {skill} is out of range for a policy of {n} skill(s)")
    if n == 1:
        return policy
    one = _fresh_single(policy)
    ref = next(policy.parameters())
    src = {**dict(policy.named_parameters()), **dict(policy.named_buffers())}
    with torch.no_grad():
        for name, dst in [*one.named_parameters(), *one.named_buffers()]:
            if dst is None or name not in src or src[name] is None:
                continue
            dst.copy_(_member(name, src[name], dst, skill, n))
    one = one.to(ref.device, ref.dtype)
    one.requires_grad_(False)
    gen = torch.Generator().manual_seed(0)
    probe = torch.randn(8, policy.obs_dim, generator=gen, dtype=ref.dtype).to(ref.device)
    with torch.no_grad():
        want = policy.deterministic(probe.unsqueeze(0).expand(n, -1, -1))[skill]
        got = one.deterministic(probe.unsqueeze(0))[0]
    if not torch.equal(want, got):
        raise ValueError(f"the one-skill copy of skill {skill} does not reproduce the stacked policy "
                         f"(largest difference {float((want - got).abs().max()):.3g})")
    return one
