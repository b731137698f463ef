"""Replay buffer: shapes, wrap-around, terminated vs truncated, one index draw per batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from softskills.skills.buffer import ReplayBuffer
from softskills.skills.vec import final_observations, make_vec_env


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
    # Pendulum never terminates; it is truncated at 200 steps.
    envs = make_vec_env("Pendulum-v1", 2, seed=0)
    obs = envs.reset(seed=0)[0]
    for t in range(200):
        nxt, _, term, trunc, info = envs.step(np.zeros((2, 1), dtype=np.float32))
        real = final_observations(nxt, info)
        if t < 199:
            assert not trunc.any() and np.array_equal(real, nxt)
        obs = nxt
    assert trunc.all() and not term.any()
    # the final observation differs from the reset observation returned in its place
    assert not np.allclose(real, nxt)
    assert np.allclose(real, info["final_obs"].tolist())
    envs.close()


def test_state_round_trip_into_larger_capacity_keeps_order() -> None:
    buf = ReplayBuffer(1, capacity=4, obs_dim=1, act_dim=1)
    for t in range(6):  # wraps: holds 2, 3, 4, 5 with ptr at 2
        v = torch.full((1, 1, 1), float(t))
        buf.add(v, v, v[..., 0], v, torch.zeros(1, 1))
    big = ReplayBuffer(1, capacity=10, obs_dim=1, act_dim=1)
    big.load_state(buf.state_tensors(), buf.state_meta())
    assert big.storage["obs"][0, :4, 0].tolist() == [2.0, 3.0, 4.0, 5.0]
    assert len(big) == 4 and big.ptr == 4
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(1, capacity=3, obs_dim=1, act_dim=1).load_state(buf.state_tensors(), buf.state_meta())
