"""softskills.skills.vec.get_env_state / set_env_state: a restored MuJoCo env steps on bit for bit."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import softskills  # noqa: F401  (registers the ids)
from softskills.skills.vec import get_env_state, set_env_state


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "Ant-v5", "softskills/AntVelocity-v0", "softskills/Pusher-v0"])
def test_restored_env_repeats_rewards_and_observations(env_id: str) -> None:
    """The snapshot (through JSON, as in a checkpoint) restores the solver's warm start and the body
    positions ``mj_step`` leaves one substep old: a fresh env set to it takes the same 100 steps."""
    a = gym.make(env_id)
    a.reset(seed=0)
    rng = np.random.default_rng(0)
    dim = a.action_space.shape[0]
    for act in rng.uniform(-1, 1, (200, dim)):
        a.step(act)
    state = json.loads(json.dumps(get_env_state(a)))
    b = gym.make(env_id)
    b.reset(seed=1)
    set_env_state(b, state)
    for act in rng.uniform(-1, 1, (100, dim)):
        oa, ra, *_ = a.step(act)
        ob, rb, *_ = b.step(act)
        assert ra == rb and np.array_equal(oa, ob)
    a.close()
    b.close()


def test_old_snapshot_without_the_integration_state_still_loads() -> None:
    """Checkpoints written before the warm start was saved hold only qpos, qvel, act and time."""
    a = gym.make("HalfCheetah-v5")
    a.reset(seed=0)
    for act in np.random.default_rng(0).uniform(-1, 1, (20, 6)):
        a.step(act)
    d = a.unwrapped.data
    state = get_env_state(a)
    state["mujoco"] = {"qpos": d.qpos.tolist(), "qvel": d.qvel.tolist(), "act": d.act.tolist(), "time": float(d.time)}
    b = gym.make("HalfCheetah-v5")
    b.reset(seed=1)
    set_env_state(b, state)
    assert np.array_equal(a.unwrapped.data.qpos, b.unwrapped.data.qpos)
    assert np.array_equal(a.unwrapped.data.qvel, b.unwrapped.data.qvel)
