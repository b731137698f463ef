"""``policy_skill``: one skill of a K-stacked policy as a K = 1 policy that computes the same thing."""

from __future__ import annotations

import pytest
import torch

from softskills.compose.slices import policy_skill
from softskills.flows.gaussian import GaussianPolicy
from softskills.flows.realnvp import RealNVPPolicy

torch.set_num_threads(1)


def policies() -> list[torch.nn.Module]:
    return [RealNVPPolicy(4, 5, 3, embed_hidden=(16, 16), st_hidden=(8,), seeds=[1, 2, 3, 4]),
            GaussianPolicy(3, 5, 2, hidden=(16,), seeds=[5, 6, 7]),
            # non-default squash and log-std bounds: the copy must carry them (they change sample/log_prob,
            # not the deterministic probe policy_skill checks itself)
            GaussianPolicy(3, 5, 2, hidden=(16,), squash=False, log_std_bounds=(-0.2, 0.1), seeds=[8, 9, 10])]


@pytest.mark.parametrize("policy", policies(), ids=["realnvp", "gaussian", "gaussian-unsquashed-bounded"])
def test_one_skill_copy_samples_and_scores_like_the_stack(policy: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    n = policy.num_skills
    obs = torch.randn(9, 5, generator=gen)
    noise = torch.randn(n, 9, policy.act_dim, generator=gen)
    stacked = obs.unsqueeze(0).expand(n, -1, -1)
    a_all, lp_all = policy.sample(stacked, noise)
    for k in range(n):
        one = policy_skill(policy, k)
        assert one.num_skills == 1 and one is not policy
        assert getattr(one, "squash", None) == getattr(policy, "squash", None)
        a, lp = one.sample(obs.unsqueeze(0), noise[k:k + 1])
        # bitwise on the Intel boxes; on an AMD EPYC box MKL's batched GEMM rounds a batch of 1 and a batch
        # of K differently in the last bit (3e-8 seen), so allow that much and no more
        torch.testing.assert_close(a[0], a_all[k], rtol=0, atol=1e-6)
        torch.testing.assert_close(lp[0], lp_all[k].detach(), rtol=0, atol=1e-5)
        torch.testing.assert_close(one.log_prob(obs.unsqueeze(0), a)[0],
                                   policy.log_prob(stacked, a_all)[k].detach(), rtol=0, atol=1e-5)
        assert not any(p.requires_grad for p in one.parameters())
    # Different skills really are different members (the copy does not always take member 0).
    assert not torch.equal(policy_skill(policy, 0).deterministic(obs[None]),
                           policy_skill(policy, n - 1).deterministic(obs[None]))


def test_a_one_skill_policy_is_returned_as_it_is() -> None:
    p = GaussianPolicy(1, 5, 2, hidden=(8,))
    assert policy_skill(p, 0) is p


def test_bad_skills_and_policies_are_refused() -> None:
    p = GaussianPolicy(3, 5, 2, hidden=(8,))
    with pytest.raises(ValueError, match="skill 3 is out of range for a policy of 3"):
        policy_skill(p, 3)
    with pytest.raises(ValueError, match="out of range"):
        policy_skill(p, -1)

    class Other(torch.nn.Module):
        num_skills = 2

    with pytest.raises(TypeError, match="GaussianPolicy and RealNVPPolicy"):
        policy_skill(Other(), 0)


def test_a_copy_that_does_not_reproduce_the_stack_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The self-check has teeth: a slicing bug (here: always member 0) is caught, not returned."""
    import softskills.compose.slices as slices

    def member_zero(name: str, src: torch.Tensor, like: torch.Tensor, k: int, n: int) -> torch.Tensor:
        return src[: like.shape[0]] if src.dim() > 0 and src.shape != like.shape else src

    monkeypatch.setattr(slices, "_member", member_zero)
    p = GaussianPolicy(3, 5, 2, hidden=(16,), seeds=[5, 6, 7])
    assert slices.policy_skill(p, 0).num_skills == 1  # member 0 is right for skill 0
    with pytest.raises(ValueError, match="does not reproduce the stacked policy"):
        slices.policy_skill(p, 2)
