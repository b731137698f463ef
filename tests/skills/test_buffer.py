"""Replay buffer: shapes, wrap-around, terminated vs truncated, one index draw per batch."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from softskills.skills.buffer import ReplayBuffer
from softskills.skills.vec import SkillEnvs


def counted(capacity: int, n: int = 6) -> ReplayBuffer:
    """A one-skill buffer after ``n`` adds of the transition whose every field is ``t`` (t = 0, 1, ...)."""
    buf = ReplayBuffer(1, capacity=capacity, obs_dim=1, act_dim=1)
    for t in range(n):
        v = torch.full((1, 1, 1), float(t))
        buf.add(v, v, v[..., 0], v, torch.zeros(1, 1))
    return buf


def test_add_wraps_and_samples_only_filled_rows() -> None:
    buf = ReplayBuffer(2, capacity=5, obs_dim=1, act_dim=1)
    for t in range(7):
        v = torch.full((2, 1, 1), float(t))
        buf.add(v, v, v[..., 0], v + 0.5, torch.zeros(2, 1))
    assert len(buf) == 5 and buf.ptr == 2
    assert sorted(buf.storage["obs"][0, :, 0].tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    batch = buf.sample(64)
    assert batch.obs.shape == (2, 64, 1) and batch.rew.shape == (2, 64)
    assert torch.all(batch.next_obs == batch.obs + 0.5)
    assert set(batch.obs.flatten().tolist()) <= {2.0, 3.0, 4.0, 5.0, 6.0}


def test_partial_fill_never_samples_empty_slots() -> None:
    buf = ReplayBuffer(1, capacity=100, obs_dim=1, act_dim=1)
    one = torch.ones(1, 3, 1)
    buf.add(one, one, one[..., 0], one, torch.zeros(1, 3))
    assert torch.all(buf.sample(500).obs == 1.0)


def test_wrong_leading_shape_is_refused() -> None:
    buf = ReplayBuffer(2, capacity=4, obs_dim=1, act_dim=1)
    x = torch.zeros(3, 1, 1)
    with pytest.raises(ValueError, match="leading shape"):
        buf.add(x, x, x[..., 0], x, x[..., 0])


def test_truncated_steps_keep_true_final_obs_and_bootstrap() -> None:
    """SkillEnvs' final_obs is the env's own last observation (checked against a plain env run
    side by side), and the returned obs is the next episode's reset observation."""
    envs = SkillEnvs([lambda: gym.make("Pendulum-v1")], num_envs=2)
    plain = [gym.make("Pendulum-v1") for _ in range(2)]
    seeds = np.array([[3, 4]])
    obs = envs.reset(seeds)
    ref = np.stack([e.reset(seed=int(s))[0] for e, s in zip(plain, seeds[0])])
    np.testing.assert_array_equal(obs[0], ref)
    act = np.zeros((1, 2, 1))
    for t in range(200):  # Pendulum is truncated at 200 steps and never terminates
        res = envs.step(act)
        ref = np.stack([e.step(np.zeros(1, dtype=np.float32))[0] for e in plain])
        np.testing.assert_array_equal(res.final_obs[0], ref)
        assert res.done.all() == (t == 199)
    assert not res.terminated.any()
    after_reset = np.stack([e.reset()[0] for e in plain])  # continues each env's own RNG
    np.testing.assert_array_equal(res.obs[0], after_reset)
    assert not np.allclose(res.obs, res.final_obs)
    envs.close()


def test_inactive_envs_are_not_stepped() -> None:
    envs = SkillEnvs([lambda: gym.make("Pendulum-v1")], num_envs=2)
    envs.reset(np.array([[0, 1]]))
    res = envs.step(np.ones((1, 2, 1)), active=np.array([[True, False]]))
    assert envs.envs[0][0].unwrapped.last_u is not None and envs.envs[0][1].unwrapped.last_u is None
    assert np.isnan(res.obs[0, 1]).all() and res.reward[0, 1] == 0.0


def test_wrapped_state_round_trip_is_exact() -> None:
    """Same capacity: the layout and write pointer survive, so sampling continues identically."""
    buf = counted(4)
    copy = ReplayBuffer(1, capacity=4, obs_dim=1, act_dim=1)
    assert copy.load_state(buf.state_tensors(), buf.state_meta()) is True
    assert copy.ptr == buf.ptr == 2
    for t in range(6, 8):  # later writes overwrite the same (oldest) slots in both
        v = torch.full((1, 1, 1), float(t))
        buf.add(v, v, v[..., 0], v, torch.zeros(1, 1))
        copy.add(v, v, v[..., 0], v, torch.zeros(1, 1))
    torch.manual_seed(0)
    a = buf.sample(32).obs
    torch.manual_seed(0)
    b = copy.sample(32).obs
    assert torch.equal(a, b) and torch.equal(buf.storage["obs"], copy.storage["obs"])


def test_state_round_trip_into_larger_capacity_keeps_order() -> None:
    buf = counted(4)  # wraps: holds 2, 3, 4, 5 with ptr at 2
    big = ReplayBuffer(1, capacity=10, obs_dim=1, act_dim=1)
    assert big.load_state(buf.state_tensors(), buf.state_meta()) is False  # rewritten in time order
    assert big.storage["obs"][0, :4, 0].tolist() == [2.0, 3.0, 4.0, 5.0]
    assert len(big) == 4 and big.ptr == 4
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(1, capacity=3, obs_dim=1, act_dim=1).load_state(buf.state_tensors(), buf.state_meta())


def test_each_skill_samples_its_own_rows() -> None:
    """Skill k's transitions are tagged 100 k + t: a batch of skill k holds only skill k's rows, fields aligned."""
    k, buf = 3, ReplayBuffer(3, capacity=8, obs_dim=1, act_dim=1)
    for t in range(6):
        v = (100.0 * torch.arange(k) + t).view(k, 1, 1)
        buf.add(v, v + 0.25, v[..., 0] + 0.5, v + 0.75, torch.zeros(k, 1))
    batch = buf.sample(200)
    for s in range(k):
        tags = batch.obs[s, :, 0]
        assert bool(((tags >= 100 * s) & (tags < 100 * s + 6)).all()), (s, tags.unique())
    assert torch.equal(batch.act, batch.obs + 0.25) and torch.equal(batch.rew, batch.obs[..., 0] + 0.5)
    assert torch.equal(batch.next_obs, batch.obs + 0.75)


@pytest.mark.parametrize("packed", [False, True], ids=["add", "add_rows"])
def test_a_multi_row_add_that_wraps_writes_both_parts(packed: bool) -> None:
    buf = ReplayBuffer(1, capacity=5, obs_dim=1, act_dim=1)

    def add(ts: range) -> None:
        v = torch.tensor([float(t) for t in ts]).view(1, -1, 1)
        if packed:  # [s | a | r | s' | terminated]
            buf.add_rows(torch.cat([v, v, v, v + 0.5, torch.zeros_like(v)], dim=-1))
        else:
            buf.add(v, v, v[..., 0], v + 0.5, torch.zeros(1, v.shape[1]))

    add(range(0, 3))
    add(range(3, 7))  # 3, 4 fill the end; 5, 6 overwrite the two oldest slots
    assert buf.storage["obs"][0, :, 0].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]
    assert buf.storage["next_obs"][0, :, 0].tolist() == [5.5, 6.5, 2.5, 3.5, 4.5]
    assert len(buf) == 5 and buf.ptr == 2


def test_sampling_right_after_load_state_sees_the_restored_rows() -> None:
    """No add between load_state and sample: the fill level the sampler reads must be restored too."""
    buf = counted(8)
    copy = ReplayBuffer(1, capacity=8, obs_dim=1, act_dim=1)
    copy.load_state(buf.state_tensors(), buf.state_meta())
    torch.manual_seed(0)
    a = buf.sample(64).obs
    torch.manual_seed(0)
    b = copy.sample(64).obs
    assert torch.equal(a, b) and len(set(b.flatten().tolist())) > 1
