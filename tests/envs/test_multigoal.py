"""MultiGoal: Gymnasium API, registration, and the dynamics/reward facts of softqlearning's env."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

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


class _GoalSeekingAgent:
    """A scripted two-skill agent with a known outcome on MultiGoal.

    Skill 1 heads for the goal that lies most in the direction of its current position (so it
    keeps the goal its start points to) and stands still where that goal is ``BLOCKED``; skill 0
    always stands still (so drawing the wrong skill reaches no goal). Its "critic" is a
    quadratic for the Q panels.
    """

    num_skills = 2
    BLOCKED = 1

    def __init__(self) -> None:
        self.critic = _QuadCritic()

    @staticmethod
    def target(pos: np.ndarray) -> np.ndarray:
        """Index of the goal most in the direction of each position ``(..., 2)``."""
        return np.argmax(pos @ GOALS.T, axis=-1)

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        pos = obs.double().numpy()
        goal = self.target(pos)
        act = np.clip(GOALS[goal] - pos, -1.0, 1.0)
        act[0] = 0.0
        act[1][goal[1] == self.BLOCKED] = 0.0
        return torch.as_tensor(act, dtype=torch.float32)


class _QuadCritic(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        q = -self.w * (act - 0.3).pow(2).sum(-1)
        return torch.stack([q, q + 1.0], dim=1)


def _scripted_episode(seed: int) -> tuple[np.ndarray, float]:
    """Final position and return of one episode of skill 1 of ``_GoalSeekingAgent``, stepped by hand."""
    env = MultiGoalEnv()
    pos, _ = env.reset(seed=seed)
    total = 0.0
    for _ in range(30):
        goal = _GoalSeekingAgent.target(pos.astype(np.float64))
        act = np.zeros(2) if goal == _GoalSeekingAgent.BLOCKED else np.clip(GOALS[goal] - pos, -1.0, 1.0)
        pos, r, term, _, _ = env.step(act.astype(np.float32))
        total += r
        if term:
            break
    return pos, total


def test_plot_multigoal_reports_the_scripted_agents_goals(tmp_path) -> None:
    """plot_multigoal's goal count, goal indices, success rate and mean return are those of the
    drawn skill's paths: a scripted agent reaches, from each start, the goal its start points to
    (except a blocked one, where it stays), which this test derives from the seeded resets alone."""
    from softskills.envs.plot_multigoal import plot_multigoal

    n, seed = 12, 0
    starts = np.stack([MultiGoalEnv().reset(seed=seed + i)[0] for i in range(n)]).astype(np.float64)
    pointed = _GoalSeekingAgent.target(starts)
    expected_goals = sorted(set(pointed.tolist()) - {_GoalSeekingAgent.BLOCKED})
    expected_success = float(np.mean(pointed != _GoalSeekingAgent.BLOCKED))
    # The premise of the test: several goals, and some blocked episodes.
    assert len(expected_goals) >= 2 and 0.0 < expected_success < 1.0
    episodes = [_scripted_episode(seed + i) for i in range(n)]
    assert all(np.linalg.norm(pos - GOALS[g]) < 1.0 for (pos, _), g in zip(episodes, pointed)
               if g != _GoalSeekingAgent.BLOCKED)

    out = tmp_path / "mg.png"
    metrics = plot_multigoal(_GoalSeekingAgent(), out, n_paths=n, seed=seed, skill=1, grid=10)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000
    assert metrics["goal_indices"] == expected_goals
    assert metrics["goals_reached"] == len(expected_goals)
    assert metrics["success_rate"] == pytest.approx(expected_success, abs=1e-12)
    assert metrics["mean_return"] == pytest.approx(np.mean([ret for _, ret in episodes]), rel=1e-9)


def test_custom_goal_reward_and_threshold() -> None:
    env = _env_at((0.0, -4.2), goal_reward=3.0, goal_threshold=0.2)
    _, r, term, _, info = env.step(np.array([0.0, -0.5], dtype=np.float32))  # 0.3 from goal 3: outside 0.2
    assert not term and info["goal_index"] == -1 and r == pytest.approx(-(30.0 * 0.25 + 0.09))
    _, r, term, _, info = env.step(np.array([0.0, -0.2], dtype=np.float32))  # 0.1 from it
    assert term and info["goal_index"] == 3 and r == pytest.approx(-(30.0 * 0.04 + 0.01) + 3.0)


def test_cost_is_the_distance_term_of_the_reward() -> None:
    """``cost`` (drawn by plot_multigoal) is c_d times the squared distance to the *nearest* goal."""
    env = MultiGoalEnv(distance_cost_coeff=0.5)
    pos = np.array([[0.0, 0.0], [5.0, 1.0], [-4.0, 0.5], [0.0, -5.0]])
    np.testing.assert_allclose(env.cost(pos), 0.5 * np.array([25.0, 1.0, 1.25, 0.0]))
    env = _env_at((1.0, 2.0))
    _, r, _, _, _ = env.step(np.array([0.5, -0.5], dtype=np.float32))
    assert r == pytest.approx(-(30.0 * 0.5 + float(env.cost(np.array([1.5, 1.5])))))
