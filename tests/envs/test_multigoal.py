"""MultiGoal: Gymnasium API, registration, and the dynamics/reward facts of softqlearning's env."""

from __future__ import annotations

import importlib

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import softskills.envs
from softskills.envs import GOALS, MultiGoalEnv, goals_reached

ENV_ID = "softskills/MultiGoal-v0"


def _env_at(pos: tuple[float, float], **kwargs: float) -> MultiGoalEnv:
    env = MultiGoalEnv(**kwargs)
    env.reset(seed=0)
    env.state = np.asarray(pos, dtype=np.float64)
    return env


def test_check_env_passes() -> None:
    env = gymnasium.make(ENV_ID)
    check_env(env.unwrapped)


def test_registration_and_horizon() -> None:
    env = gymnasium.make(ENV_ID)
    assert env.spec is not None and env.spec.max_episode_steps == 30
    assert isinstance(env.unwrapped, MultiGoalEnv)
    env.reset(seed=0)
    for t in range(30):
        _, _, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.float32))
        assert not terminated
        assert truncated == (t == 29)


def test_reimport_does_not_reregister() -> None:
    importlib.reload(softskills.envs)  # the guard must not raise on a second registration
    assert ENV_ID in gymnasium.registry


def test_reset_is_seeded_and_near_origin() -> None:
    env = MultiGoalEnv()
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    np.testing.assert_array_equal(a, b)
    starts = np.stack([env.reset(seed=i)[0] for i in range(2000)])
    assert np.all(np.abs(starts.mean(0)) < 0.01)
    np.testing.assert_allclose(starts.std(0), 0.1, rtol=0.1)


def test_step_reward_hand_computed() -> None:
    env = _env_at((0.0, 0.0))
    obs, r, term, trunc, info = env.step(np.array([0.5, -0.25], dtype=np.float32))
    np.testing.assert_allclose(obs, [0.5, -0.25])
    # nearest goal (5, 0): ||s' - g||^2 = 4.5^2 + 0.25^2 = 20.3125; ||a||^2 = 0.3125
    assert r == pytest.approx(-(30.0 * 0.3125 + 20.3125))
    assert not term and not trunc
    assert info["goal_index"] == -1
    assert info["distance"] == pytest.approx(np.sqrt(20.3125))


def test_action_is_clipped_and_cost_uses_clipped_action() -> None:
    env = _env_at((0.0, 0.0))
    obs, r, _, _, _ = env.step(np.array([3.0, -0.0], dtype=np.float32))
    np.testing.assert_allclose(obs, [1.0, 0.0])
    assert r == pytest.approx(-(30.0 * 1.0 + 16.0))


def test_goal_terminates_with_bonus() -> None:
    env = _env_at((0.0, -4.2))
    _, r, term, _, info = env.step(np.array([0.0, -0.5], dtype=np.float32))
    # s' = (0, -4.7): distance 0.3 to goal 3 = (0, -5)
    assert term
    assert info["goal_index"] == 3
    assert r == pytest.approx(-(30.0 * 0.25 + 0.09) + 10.0)


def test_observation_is_clipped_to_box() -> None:
    env = _env_at((6.8, -6.8))
    obs, _, _, _, _ = env.step(np.array([1.0, -1.0], dtype=np.float32))
    np.testing.assert_allclose(obs, [7.0, -7.0])


def test_custom_coefficients_sac_setting() -> None:
    env = _env_at((0.0, 0.0), action_cost_coeff=1.0, distance_cost_coeff=0.1, goal_reward=1.0)
    _, r, _, _, _ = env.step(np.array([1.0, 0.0], dtype=np.float32))
    assert r == pytest.approx(-(1.0 + 0.1 * 16.0))


def test_state_attribute_restores_the_episode() -> None:
    env = MultiGoalEnv()
    env.reset(seed=5)
    env.step(np.array([0.3, 0.7], dtype=np.float32))
    saved, rng = env.state.copy(), env.np_random.bit_generator.state
    a = env.step(np.array([-0.2, 0.4], dtype=np.float32))
    other = MultiGoalEnv()
    other.reset(seed=99)
    other.state, other.np_random.bit_generator.state = saved, rng
    b = other.step(np.array([-0.2, 0.4], dtype=np.float32))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1] and a[2] == b[2]


def test_goals_reached_helper() -> None:
    finals = [[4.5, 0.1], [4.9, -0.2], [0.0, 5.5], [0.0, 0.0], [-3.0, 0.0]]
    assert goals_reached(finals) == {0, 2}
    assert goals_reached(GOALS) == {0, 1, 2, 3}
    assert goals_reached(np.zeros((0, 2))) == set()


class _RandomAgent:
    """A stand-in agent: uniform actions and a quadratic 'critic'."""

    num_skills = 2

    def __init__(self) -> None:
        self.critic = _QuadCritic()
        self._gen = torch.Generator().manual_seed(0)

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        return torch.rand(obs.shape, generator=self._gen) * 2.0 - 1.0


class _QuadCritic(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        q = -self.w * (act - 0.3).pow(2).sum(-1)
        return torch.stack([q, q + 1.0], dim=1)


def test_plot_multigoal_writes_png(tmp_path) -> None:
    from softskills.envs.plot_multigoal import plot_multigoal

    out = tmp_path / "mg.png"
    metrics = plot_multigoal(_RandomAgent(), out, n_paths=5, seed=0, skill=1, grid=10)
    assert out.exists() and out.stat().st_size > 1000
    assert 0 <= metrics["goals_reached"] <= 4
    assert set(metrics) >= {"goals_reached", "goal_indices", "mean_return", "success_rate"}
