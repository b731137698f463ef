"""softskills.envs.sim_state: a restored Ant repeats its observation and its rollout bit for bit."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import softskills  # noqa: F401  (registers the envs)
from softskills.envs.ant_velocity import ANT_OBS_DIM
from softskills.envs.sim_state import restore_sim_state, save_sim_state


CONTACT = slice(27, ANT_OBS_DIM)
"""The clipped external contact forces ``cfrc_ext`` in the Ant's observation."""


def _rollout(env: gym.Env, actions: np.ndarray) -> np.ndarray:
    return np.stack([env.unwrapped.step(a)[0] for a in actions])


@pytest.mark.parametrize("env_id", ["softskills/AntCrossMaze-v0", "softskills/Pusher-v0"])
def test_restore_repeats_observation_and_rollout(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(200):  # on until the Ant touches down: its observation then holds contact forces
        obs, *_ = env.unwrapped.step(rng.uniform(-1, 1, env.action_space.shape[0]))
        if env_id == "softskills/Pusher-v0" or np.any(obs[CONTACT] != 0):
            break
    assert env_id == "softskills/Pusher-v0" or np.any(obs[CONTACT] != 0)
    state = save_sim_state(env)
    actions = rng.uniform(-1, 1, (10, env.action_space.shape[0]))
    runs = []
    for _ in range(2):
        _rollout(env, rng.uniform(-1, 1, (7, env.action_space.shape[0])))  # wander off: other forces, warm start
        assert np.array_equal(restore_sim_state(env, state), obs)
        runs.append(_rollout(env, actions))
    assert np.array_equal(runs[0], runs[1])
    env.close()


def test_restore_refuses_a_state_of_another_model() -> None:
    ant, pusher = gym.make("softskills/AntCrossMaze-v0"), gym.make("softskills/Pusher-v0")
    ant.reset(seed=0)
    pusher.reset(seed=0)
    with pytest.raises(ValueError, match="the saved state is of another model"):
        restore_sim_state(ant, save_sim_state(pusher))
