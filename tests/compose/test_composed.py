"""ComposedQ arithmetic and normalisation; UnionBuffer proportions and inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from softskills.compose.composed import ComposedQ, twin_q_skill
from softskills.compose.union import UnionBuffer
from softskills.skills.buffer import ReplayBuffer
from softskills.skills.critic import TwinQ

torch.set_num_threads(1)


def critic(k: int = 1, obs_dim: int = 3, act_dim: int = 2, seed: int = 0) -> TwinQ:
    return TwinQ(k, obs_dim, act_dim, hidden=(8, 8), seeds=[seed + i for i in range(k)])


def inputs(n: int = 7, obs_dim: int = 3, act_dim: int = 2, seed: int = 1) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, obs_dim, generator=g), torch.rand(n, act_dim, generator=g) * 2 - 1


def min_twin(c: nn.Module, k: int, obs: Tensor, act: Tensor) -> Tensor:
    """Skill k's min over its twins, evaluated the plain way (every skill, then index)."""
    kk = c.num_skills
    return c(obs.expand(kk, *obs.shape), act.expand(kk, *act.shape))[k].min(dim=0).values


# ------------------------------------------------------------------------------------------------ ComposedQ


def test_weighted_sum_of_min_twins_with_skill_indices() -> None:
    c1, c2 = critic(k=3, seed=0), critic(k=2, seed=10)
    obs, act = inputs()
    q = ComposedQ([c1, c2], weights=(0.3, 1.7), alpha=0.5, skills=(2, 1))
    expected = 0.3 * min_twin(c1, 2, obs, act) + 1.7 * min_twin(c2, 1, obs, act)
    torch.testing.assert_close(q(obs, act), expected)
    each = torch.stack([min_twin(c1, 2, obs, act), min_twin(c2, 1, obs, act)])
    torch.testing.assert_close(q.constituents(obs, act), each)
    torch.testing.assert_close(q.log_density(obs, act), expected / 0.5)
    # min, not mean or a single twin: the twins differ, so these differ.
    twins = c1(obs.expand(3, *obs.shape), act.expand(3, *act.shape))[2]
    assert not torch.allclose(twins[0], twins[1])


def test_default_weights_are_the_mean() -> None:
    c1, c2, c3 = critic(seed=0), critic(seed=1), critic(seed=2)
    obs, act = inputs()
    q = ComposedQ([c1, c2, c3], alpha=1.0)
    assert q.weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    torch.testing.assert_close(q(obs, act), sum(min_twin(c, 0, obs, act) for c in (c1, c2, c3)) / 3)


def test_broadcast_leading_shapes() -> None:
    c1, c2 = critic(seed=0), critic(seed=1)
    q = ComposedQ([c1, c2], (1.0, 1.0))
    obs, _ = inputs(n=4)
    act = torch.rand(4, 5, 2) * 2 - 1  # M = 5 actions per state
    out = q(obs.unsqueeze(1), act)
    assert out.shape == (4, 5)
    torch.testing.assert_close(out[2, 3], q(obs[2:3], act[2, 3:4])[0])


def test_twin_q_skill_slice_equals_the_stacked_critic() -> None:
    c = critic(k=3, seed=5)
    obs, act = inputs()
    for k in range(3):
        one = twin_q_skill(c, k)
        assert one.num_skills == 1
        stacked = c(obs.expand(3, *obs.shape), act.expand(3, *act.shape))
        torch.testing.assert_close(one(obs[None], act[None])[0], stacked[k])
    with pytest.raises(ValueError, match="out of range"):
        twin_q_skill(c, 3)


def test_sum_equals_mean_at_scaled_temperature() -> None:
    """A sum with weights w at alpha is the mean with w/sum(w) at alpha/sum(w): same pi_Sigma."""
    c1, c2 = critic(seed=0), critic(seed=1)
    obs, act = inputs()
    s = ComposedQ([c1, c2], weights=(1.0, 3.0), alpha=2.0)
    m = s.normalised()
    assert m.weights == pytest.approx((0.25, 0.75)) and m.alpha == pytest.approx(0.5)
    assert s.total_weight == 4.0 and s.normalised_alpha == pytest.approx(0.5)
    torch.testing.assert_close(m(obs, act), s(obs, act) / 4.0)
    torch.testing.assert_close(m.log_density(obs, act), s.log_density(obs, act))
    # The original's sum (1, 1) at alpha is the thesis' mean at alpha/2: twice the log-density.
    orig, mean = ComposedQ([c1, c2], (1.0, 1.0), alpha=1.0), ComposedQ([c1, c2], (0.5, 0.5), alpha=1.0)
    torch.testing.assert_close(orig.log_density(obs, act), 2.0 * mean.log_density(obs, act))
    torch.testing.assert_close(orig.normalised().log_density(obs, act), orig.log_density(obs, act))
    assert orig.normalised().alpha == pytest.approx(0.5)
    # normalised() shares the constituents and leaves the original as it was.
    assert s.weights == (1.0, 3.0) and s.alpha == 2.0
    assert m.critics[0] is s.critics[0]


def test_constituents_are_frozen_copies_and_gradients_reach_actions() -> None:
    c1, c2 = critic(seed=0), critic(seed=1)
    before = [p.detach().clone() for p in c1.parameters()]
    q = ComposedQ([c1, c2])
    assert all(not p.requires_grad for p in q.parameters())
    obs, act = inputs()
    act = act.requires_grad_(True)
    q(obs, act).sum().backward()
    assert act.grad is not None and bool(act.grad.abs().sum() > 0)
    with torch.no_grad():
        for p in c1.parameters():
            p.add_(1.0)  # editing the original does not change the composition
    assert all(torch.equal(a, b) for a, b in zip(q.critics[0].parameters(), before))
    assert all(p.requires_grad for p in c1.parameters())  # the caller's critic is untouched


def test_generic_critic_modules_are_indexed_by_skill() -> None:
    class Affine(nn.Module):
        num_skills, obs_dim, act_dim = 2, 3, 2

        def forward(self, obs: Tensor, act: Tensor) -> Tensor:  # (K, B, .) -> (K, 2, B)
            per_skill = (obs.sum(-1) + act.sum(-1)) * torch.tensor([[1.0], [10.0]])  # skill 1 is 10x skill 0
            return torch.stack([per_skill, per_skill - 1.0], dim=1)

    obs, act = inputs()
    q = ComposedQ([Affine(), Affine()], (1.0, 1.0), skills=(1, 0))
    base = obs.sum(-1) + act.sum(-1)
    torch.testing.assert_close(q(obs, act), (10 * base - 1.0) + (base - 1.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": (1.0, 0.0)}, "positive"),
        ({"weights": (1.0, -1.0)}, "positive"),
        ({"weights": (1.0, float("nan"))}, "positive"),
        ({"weights": (1.0,)}, "one weight per constituent"),
        ({"weights": (1.0, 1.0, 1.0)}, "one weight per constituent"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": -1.0}, "alpha"),
        ({"alpha": math.inf}, "alpha"),
        ({"skills": (0, 1)}, "out of range"),
        ({"skills": (0,)}, "skill index"),
    ],
)
def test_bad_inputs(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ComposedQ([critic(seed=0), critic(seed=1)], **kwargs)


def test_different_spaces_are_refused() -> None:
    with pytest.raises(ValueError, match=r"spaces differ.*#0: obs 3, act 2.*#1: obs 4, act 2"):
        ComposedQ([critic(obs_dim=3), critic(obs_dim=4)])
    with pytest.raises(ValueError, match=r"#1: obs 3, act 1"):
        ComposedQ([critic(act_dim=2), critic(act_dim=1)])
    with pytest.raises(ValueError, match="at least one"):
        ComposedQ([])
    q = ComposedQ([critic(), critic(seed=3)])
    with pytest.raises(ValueError, match="expected observations"):
        q(torch.zeros(2, 4), torch.zeros(2, 2))


# ------------------------------------------------------------------------------------------------ UnionBuffer


def tagged(size: int, tag: float, k: int = 1, obs_dim: int = 3, act_dim: int = 2) -> dict[str, Tensor]:
    """Checkpoint-layout buffer tensors whose obs[..., 0] is the tag and obs[..., 1] the row index."""
    obs = torch.zeros(k, size, obs_dim)
    obs[..., 0] = tag + torch.arange(k).view(k, 1)  # skill j of this buffer is tagged tag + j
    obs[..., 1] = torch.arange(size, dtype=torch.float32)
    return {"buffer/obs": obs, "buffer/act": torch.zeros(k, size, act_dim), "buffer/rew": torch.full((k, size), tag),
            "buffer/next_obs": obs + 0.5, "buffer/terminated": torch.zeros(k, size)}


def test_split_follows_the_original_rule() -> None:
    u = UnionBuffer([tagged(300, 0.0), tagged(100, 10.0), tagged(50, 20.0)])
    assert len(u) == 450 and u.proportions == pytest.approx([2 / 3, 2 / 9, 1 / 9])
    # int(p_i B) from each, the remainder from buffer 0.
    assert u.split(128) == [128 - 28 - 14, 28, 14]
    assert u.split(9) == [6, 2, 1]
    assert u.split(1) == [1, 0, 0]
    with pytest.raises(ValueError, match="positive"):
        u.split(0)


def test_sample_counts_and_uniformity_within_each_buffer() -> None:
    u = UnionBuffer([tagged(300, 0.0), tagged(100, 10.0)])
    g = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(200):
        b = u.sample(100, g)
        assert b.obs.shape == (1, 100, 3) and b.act.shape == (1, 100, 2) and b.rew.shape == (1, 100)
        assert b.next_obs.shape == (1, 100, 3) and b.terminated.shape == (1, 100)
        tags = b.obs[0, :, 0]
        assert int((tags == 0).sum()) == 75 and int((tags == 10).sum()) == 25  # exact split every batch
        torch.testing.assert_close(b.next_obs, b.obs + 0.5)  # fields stay aligned
        torch.testing.assert_close(b.rew[0], tags)
        rows.append(b.obs[0, tags == 10, 1])
    # Within buffer 1, rows are uniform: chi-square over 10 bins of 10 rows (9 dof, 99.9% quantile 27.9).
    counts = torch.bincount((torch.cat(rows) // 10).long(), minlength=10).double()
    chi2 = float(((counts - counts.mean()) ** 2 / counts.mean()).sum())
    assert chi2 < 27.9, counts


def test_sources_skills_and_all() -> None:
    rb = ReplayBuffer(2, 50, 3, 2)
    obs = torch.zeros(2, 20, 3)
    obs[1, :, 0] = 7.0
    rb.add(obs, torch.zeros(2, 20, 2), torch.zeros(2, 20), obs, torch.zeros(2, 20))
    plain = {k.split("/")[1]: v[0] for k, v in tagged(5, 3.0).items()}  # single-skill (size, ...) layout
    u = UnionBuffer([rb, tagged(10, 100.0, k=2), plain], skills=[1, 1, 0])
    assert u.sizes == [20, 10, 5]
    every = u.all()
    assert every.obs.shape == (1, 35, 3)
    assert every.obs[0, :20, 0].eq(7.0).all() and every.obs[0, 20:30, 0].eq(101.0).all()
    assert every.obs[0, 30:, 0].eq(3.0).all()
    chunks = list(u.iter_batches(chunk_size=8))
    torch.testing.assert_close(torch.cat([c.obs for c in chunks], dim=1), every.obs)
    assert len(chunks) == u.num_batches(8) == 3 + 2 + 1  # each buffer chunked on its own
    assert u.num_batches(35) == 3 and u.num_batches(10) == 2 + 1 + 1


def test_sample_index_points_at_the_transitions_sample_draws() -> None:
    u = UnionBuffer([tagged(30, 0.0), tagged(12, 10.0), tagged(7, 20.0)])
    every = u.all()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(5):
        index = u.sample_index(16, g1)
        b = u.sample(16, g2)  # the same draws
        assert index.shape == (16,) and index.dtype == torch.int64
        for f in ("obs", "act", "rew", "next_obs", "terminated"):
            torch.testing.assert_close(getattr(b, f)[0], getattr(every, f)[0][index], rtol=0, atol=0)
    assert int(index.max()) < len(u)


def test_union_buffer_bad_inputs() -> None:
    with pytest.raises(ValueError, match="at least one"):
        UnionBuffer([])
    with pytest.raises(ValueError, match="no transitions"):
        UnionBuffer([tagged(5, 0.0), tagged(0, 1.0)])
    with pytest.raises(ValueError, match="different spaces"):
        UnionBuffer([tagged(5, 0.0), tagged(5, 1.0, obs_dim=4)])
    with pytest.raises(ValueError, match="out of range"):
        UnionBuffer([tagged(5, 0.0)], skills=[1])
    with pytest.raises(ValueError, match="out of range"):
        UnionBuffer([ReplayBuffer(1, 4, 3, 2)], skills=[2])
    with pytest.raises(ValueError, match="lack"):
        UnionBuffer([{"buffer/obs": torch.zeros(1, 3, 3)}])
    with pytest.raises(ValueError, match="skill index"):
        UnionBuffer([tagged(5, 0.0)], skills=[0, 0])
