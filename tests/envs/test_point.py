"""PointVelocity / PointMaze: API, rewards, walls, the layout contract and exploration rates."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from softskills.envs.point import (
    DT,
    MAZE_GOALS,
    MAZE_MAP,
    POINT_MAZE_OBS_DIM,
    POINT_VELOCITY_OBS_DIM,
    SCRIPTED_DIRECTIONS,
    WALLS,
    PointMazeEnv,
    PointVelocityEnv,
    clip_motion,
    held_direction_explorer,
    maze_from_map,
    scripted_explorer,
    success_rate,
    uniform_explorer,
)

VELOCITY_ID = "softskills/PointVelocity-v0"
MAZE_ID = "softskills/PointMaze-v0"


def _at(env_cls: type, pos: tuple[float, float], **kwargs: Any) -> Any:
    env = env_cls(**kwargs)
    env.reset(seed=0)
    env.position = np.asarray(pos, dtype=np.float64)
    env.velocity = np.zeros(2)
    return env


def _act(x: float, y: float) -> np.ndarray:
    return np.array([x, y], dtype=np.float32)


def _inside_any_wall(pos: np.ndarray) -> bool:
    x, y = pos
    inside = (WALLS[:, 0] < x) & (x < WALLS[:, 2]) & (WALLS[:, 1] < y) & (y < WALLS[:, 3])
    return bool(inside.any())


# --- API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env_id,kwargs",
    [
        (VELOCITY_ID, {}),
        (MAZE_ID, {}),
        (MAZE_ID, {"goal": 1}),
        (MAZE_ID, {"goal": 2, "inertia": 0.5}),
    ],
)
def test_check_env_passes(env_id: str, kwargs: dict[str, Any]) -> None:
    check_env(gymnasium.make(env_id, **kwargs).unwrapped, skip_render_check=True)


def test_registration_horizon_and_kwargs() -> None:
    vel = gymnasium.make(VELOCITY_ID)
    maze = gymnasium.make(MAZE_ID, goal=2, goal_reward=5.0)
    assert isinstance(vel.unwrapped, PointVelocityEnv) and isinstance(maze.unwrapped, PointMazeEnv)
    assert vel.spec.max_episode_steps == 200 and maze.spec.max_episode_steps == 200
    np.testing.assert_array_equal(maze.unwrapped.goal_position, [5.0, 0.0])
    assert maze.unwrapped.goal_reward == 5.0
    vel.reset(seed=0)
    for t in range(200):  # the velocity env never terminates; the time limit truncates it
        _, _, terminated, truncated, _ = vel.step(_act(1.0, 0.0))
        assert not terminated and truncated == (t == 199)


@pytest.mark.parametrize("env_cls", [PointVelocityEnv, PointMazeEnv])
def test_reset_is_seeded_and_near_origin(env_cls: type) -> None:
    env = env_cls()
    a, info_a = env.reset(seed=3)
    b, info_b = env.reset(seed=3)
    c, _ = env.reset(seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(info_a["position"], info_b["position"])
    assert not np.array_equal(a, c)
    starts = np.stack([env.reset(seed=i)[1]["position"] for i in range(500)])
    assert np.all(np.abs(starts) < 0.1)
    np.testing.assert_allclose(starts.std(0), 0.01, rtol=0.2)
    # same seed and actions give the same trajectory
    runs = []
    for _ in range(2):
        env.reset(seed=7)
        runs.append([env.step(_act(0.7, -0.3))[0] for _ in range(5)])
    np.testing.assert_array_equal(runs[0], runs[1])


# --- dynamics and the velocity reward (originals.md §1.4) -------------------------------------


@pytest.mark.parametrize(
    "action,velocity,reward",
    [
        ((1.0, 0.0), (1.0, 0.0), 1.0 + 0.05 - 0.005 * 1.0),
        ((0.3, -0.4), (0.3, -0.4), 0.5 + 0.05 - 0.005 * 0.25),  # inside the disk: speed 0.5
        ((1.0, 1.0), (0.5**0.5, 0.5**0.5), 1.0 + 0.05 - 0.005 * 2.0),  # disk-clipped: speed 1
        ((3.0, 0.0), (1.0, 0.0), 1.0 + 0.05 - 0.005 * 1.0),  # box-clipped first
        ((0.0, 0.0), (0.0, 0.0), 0.05),
    ],
)
def test_velocity_reward_hand_computed(action, velocity, reward) -> None:
    env = _at(PointVelocityEnv, (2.0, -3.0))
    obs, r, terminated, truncated, info = env.step(_act(*action))
    np.testing.assert_allclose(obs, velocity, atol=1e-6)
    np.testing.assert_allclose(info["position"], np.array([2.0, -3.0]) + DT * np.array(velocity))
    assert r == pytest.approx(reward)
    assert info["reward_velocity"] == pytest.approx(np.hypot(*velocity))
    assert info["reward_survive"] == 0.05
    assert info["reward_ctrl"] == pytest.approx(reward - np.hypot(*velocity) - 0.05)
    assert not terminated and not truncated


def test_velocity_reward_custom_coefficients_and_speed() -> None:
    env = _at(PointVelocityEnv, (0.0, 0.0), velocity_reward_weight=2.0, survive_reward=0.0,
              ctrl_cost_coeff=0.1, max_speed=3.0)
    obs, r, _, _, _ = env.step(_act(0.0, -1.0))
    np.testing.assert_allclose(obs, [0.0, -3.0])
    assert r == pytest.approx(2.0 * 3.0 - 0.1)


def test_velocity_obs_has_no_position() -> None:
    here, there = _at(PointVelocityEnv, (0.0, 0.0)), _at(PointVelocityEnv, (40.0, -17.0))
    assert here.observation_space.shape == (POINT_VELOCITY_OBS_DIM,)
    for action in [_act(0.2, 0.9), _act(-1.0, 0.1)]:
        a, b = here.step(action), there.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]


def test_inertia_is_a_first_order_lag() -> None:
    env = _at(PointVelocityEnv, (0.0, 0.0), inertia=0.25)  # v' = v / 4 + 3 u / 4
    speeds = [env.step(_act(1.0, 0.0))[0][0] for _ in range(3)]
    np.testing.assert_allclose(speeds, [0.75, 0.9375, 0.984375])
    np.testing.assert_allclose(env.position, [DT * (0.75 + 0.9375 + 0.984375), 0.0])


def test_non_finite_action_is_rejected() -> None:
    env = _at(PointMazeEnv, (0.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0]))


# --- walls ------------------------------------------------------------------------------------


def test_map_geometry() -> None:
    walls, goals = maze_from_map(MAZE_MAP)
    np.testing.assert_array_equal(walls, WALLS)
    np.testing.assert_array_equal(MAZE_GOALS, [[0.0, -2.0], [0.0, 2.0], [5.0, 0.0]])
    si = next(i for i, row in enumerate(MAZE_MAP) if "S" in row)
    sj = MAZE_MAP[si].index("S")
    for i, row in enumerate(MAZE_MAP):
        for j, ch in enumerate(row):
            centre = np.array([j - sj, si - i], dtype=np.float64)
            if ch == "#":
                assert _inside_any_wall(centre), (i, j)
            elif ch != " ":
                assert not _inside_any_wall(centre), (i, j)
    assert not WALLS.flags.writeable
    with pytest.raises(ValueError, match="exactly one 'S'"):
        maze_from_map(("###", "#.#"))


@pytest.mark.parametrize(
    "action,axis,limit,sign",
    [((-1.0, 0.0), 0, -0.5, -1), ((0.0, 1.0), 1, 0.5, 1), ((0.0, -1.0), 1, -0.5, -1)],
)
def test_pushing_into_a_wall_keeps_the_point_out(action, axis, limit, sign) -> None:
    env = _at(PointMazeEnv, (0.0, 0.0))
    for _ in range(100):
        obs, r, terminated, _, info = env.step(_act(*action))
        assert sign * info["position"][axis] < sign * limit  # still on the free side of the face
        assert r == 0.0 and not terminated
    assert info["position"][axis] == pytest.approx(limit, abs=1e-5)  # resting on the face
    assert obs[axis] == 0.0  # the blocked velocity component is zero


def test_point_slides_along_a_wall() -> None:
    env = _at(PointMazeEnv, (0.0, 0.0))
    env.step(_act(0.0, 1.0))
    env.step(_act(0.0, 1.0))
    env.step(_act(0.0, 1.0))  # now pressed against the corridor's north wall
    obs, _, _, _, info = env.step(_act(1.0, 1.0))
    np.testing.assert_allclose(obs[:2], [0.5**0.5, 0.0], atol=1e-5)
    assert info["position"][0] == pytest.approx(DT * 0.5**0.5)


def test_fast_random_motion_never_enters_or_tunnels_through_a_wall() -> None:
    # at max_speed 20 one step is 4 units, more than a wall is thick: only swept checks hold
    env = PointMazeEnv(max_speed=20.0, goal_reward=0.0)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(5000):
        _, _, terminated, _, info = env.step(rng.uniform(-1.0, 1.0, 2))
        assert not _inside_any_wall(info["position"])
        assert env.observation_space.contains(env._obs())
        if terminated:
            env.reset()
    # the point never leaves the 3 corridors: x <= 2.5 unless in the east arm (|y| < 0.5)
    env.reset(seed=1)
    for _ in range(5000):
        _, _, terminated, _, info = env.step(rng.uniform(-1.0, 1.0, 2))
        x, y = info["position"]
        assert -0.5 <= x <= 5.5 and -2.5 <= y <= 2.5
        assert x <= 2.5 or abs(y) <= 0.5  # east of the column: only the east arm
        assert x >= 1.5 or abs(y) <= 0.5 or abs(y) >= 1.5  # west of it: corridor or hooks
        if terminated:
            env.reset()


def test_clip_motion_seams_and_sweeps() -> None:
    touching = np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]])
    # a point exactly on the seam of two touching boxes cannot slip between them
    np.testing.assert_allclose(clip_motion(np.array([1.0, -0.5]), np.array([0.0, 2.0]), touching),
                               [1.0, 0.0], atol=1e-5)
    # a long move is stopped by the first face on its way, not only checked at its end
    np.testing.assert_allclose(clip_motion(np.array([-1.0, 0.5]), np.array([5.0, 0.0]), touching),
                               [0.0, 0.5], atol=1e-5)
    # x is resolved first, then y: the point slides along the face it stopped on
    np.testing.assert_allclose(clip_motion(np.array([-1.0, 0.5]), np.array([3.0, 1.0]), touching),
                               [0.0, 1.5], atol=1e-5)


# --- the sparse goal (originals.md §1.6) --------------------------------------------------------


def test_goal_reward_only_within_radius_and_terminates() -> None:
    env = _at(PointMazeEnv, (0.8, -2.0))  # goal 0 is (0, -2), radius 0.5
    obs, r, terminated, truncated, info = env.step(_act(-1.0, 0.0))  # -> (0.6, -2)
    assert r == 0.0 and not terminated and not truncated
    assert info["success"] is False
    assert info["goal_distance"] == pytest.approx(0.6)
    obs, r, terminated, truncated, info = env.step(_act(-1.0, 0.0))  # -> (0.4, -2)
    assert r == 1000.0 and terminated and not truncated
    assert info["success"] is True
    assert info["goal_distance"] == pytest.approx(0.4)
    np.testing.assert_array_equal(info["goal_position"], [0.0, -2.0])
    np.testing.assert_allclose(obs[POINT_VELOCITY_OBS_DIM:], [0.4, -2.0])


def test_goal_kwargs_are_used() -> None:
    env = _at(PointMazeEnv, (4.0, 0.0), goal=2, goal_reward=7.0, goal_radius=0.3)
    _, r, terminated, _, info = env.step(_act(1.0, 0.0))  # (4.2, 0): 0.8 from (5, 0)
    assert r == 0.0 and not terminated
    for _ in range(2):
        _, r, terminated, _, info = env.step(_act(1.0, 0.0))  # (4.6, 0): 0.4 > 0.3
    assert r == 0.0 and not terminated
    _, r, terminated, _, info = env.step(_act(1.0, 0.0))  # (4.8, 0): 0.2 < 0.3
    assert r == 7.0 and terminated and info["success"]


def test_maze_info_at_reset_and_no_reward_elsewhere() -> None:
    env = PointMazeEnv(goal=1)
    obs, info = env.reset(seed=0)
    assert info["success"] is False
    assert info["goal_distance"] == pytest.approx(np.hypot(*(info["position"] - [0.0, 2.0])))
    rng = np.random.default_rng(1)
    for _ in range(200):
        _, r, terminated, _, info = env.step(rng.uniform(-1.0, 1.0, 2))
        assert r == 0.0 and not terminated and info["success"] is False
        assert info["goal_distance"] >= 0.5


# --- the observation-layout contract ------------------------------------------------------------


def test_maze_obs_starts_with_the_velocity_obs() -> None:
    vel, maze = PointVelocityEnv(), PointMazeEnv()
    assert POINT_MAZE_OBS_DIM == maze.observation_space.shape[0] == POINT_VELOCITY_OBS_DIM + 2
    assert vel.observation_space.shape == (POINT_VELOCITY_OBS_DIM,)
    np.testing.assert_array_equal(maze.observation_space.low[:POINT_VELOCITY_OBS_DIM],
                                  vel.observation_space.low)
    v_obs, _ = vel.reset(seed=5)
    m_obs, m_info = maze.reset(seed=5)
    np.testing.assert_array_equal(m_obs[:POINT_VELOCITY_OBS_DIM], v_obs)
    np.testing.assert_array_equal(m_obs[POINT_VELOCITY_OBS_DIM:], m_info["position"].astype("f4"))
    rng = np.random.default_rng(0)
    for _ in range(6):  # stays inside the start corridor's free space for these steps
        action = rng.uniform(-1.0, 1.0, 2) * np.array([1.0, 0.3])
        v_obs, *_ = vel.step(action)
        m_obs, _, _, _, m_info = maze.step(action)
        np.testing.assert_array_equal(m_obs[:POINT_VELOCITY_OBS_DIM], v_obs)
        np.testing.assert_allclose(m_obs[POINT_VELOCITY_OBS_DIM:], m_info["position"], atol=1e-6)


# --- bad kwargs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env_cls,kwargs,match",
    [
        (PointMazeEnv, {"goal": 3}, "goal must be 0, 1 or 2"),
        (PointMazeEnv, {"goal": -1}, "goal must be 0, 1 or 2"),
        (PointMazeEnv, {"goal": 1.0}, "goal must be an int"),
        (PointMazeEnv, {"goal": True}, "goal must be an int"),
        (PointMazeEnv, {"goal_radius": 0.0}, "goal_radius"),
        (PointMazeEnv, {"goal_radius": 5.0}, "goal_radius"),
        (PointMazeEnv, {"goal_reward": float("inf")}, "goal_reward must be finite"),
        (PointMazeEnv, {"max_speed": 0.0}, "max_speed"),
        (PointVelocityEnv, {"max_speed": float("nan")}, "max_speed"),
        (PointVelocityEnv, {"inertia": 1.0}, "inertia"),
        (PointVelocityEnv, {"inertia": -0.1}, "inertia"),
        (PointVelocityEnv, {"reset_noise_scale": -1.0}, "reset_noise_scale"),
        (PointVelocityEnv, {"ctrl_cost_coeff": -1.0}, "ctrl_cost_coeff"),
        (PointVelocityEnv, {"survive_reward": float("nan")}, "survive_reward"),
        (PointVelocityEnv, {"render_mode": "human"}, "does not render"),
    ],
)
def test_bad_kwargs_raise(env_cls: type, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        env_cls(**kwargs)


def test_bad_explorer_arguments_raise() -> None:
    with pytest.raises(ValueError, match="repeat"):
        held_direction_explorer(np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="episodes"):
        success_rate(PointMazeEnv(), uniform_explorer, 0)


# --- exploration statistics: the reason this maze exists (see the module docstring) --------------


def test_uniform_random_actions_almost_never_reach_the_goal() -> None:
    assert success_rate(PointMazeEnv(goal=0), uniform_explorer, episodes=500, seed=0) <= 0.02


@pytest.mark.parametrize("goal", [0, 2])
def test_held_random_directions_reach_the_goal_often(goal: int) -> None:
    held = lambda g: held_direction_explorer(g, 5)  # noqa: E731
    assert success_rate(PointMazeEnv(goal=goal), held, episodes=300, seed=0) >= 0.05


@pytest.mark.parametrize("goal", [0, 1, 2])
def test_scripted_direction_sequence_solves_each_goal(goal: int) -> None:
    env = gymnasium.make(MAZE_ID, goal=goal)
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        policy = scripted_explorer(goal)
        for t in range(200):
            obs, r, terminated, truncated, info = env.step(policy(obs, t))
            if terminated or truncated:
                break
        assert terminated and info["success"] and r == 1000.0
        assert t + 1 <= 5 * len(SCRIPTED_DIRECTIONS[goal])  # well within the 200-step episode


@pytest.mark.parametrize("env_cls", [PointVelocityEnv, PointMazeEnv])
def test_snapshot_restore_repeats_the_rollout(env_cls: type) -> None:
    """The JSON snapshot (what a checkpoint stores) restores position *and* velocity: with inertia the
    velocity carries into the next steps, so a restore that dropped it would change the rollout."""
    import json

    env = env_cls(inertia=0.5)
    env.reset(seed=0)
    for _ in range(3):
        env.step(_act(0.9, 0.2))
    state = json.loads(json.dumps(env.snapshot()))
    actions = [_act(-0.3, 0.8), _act(0.1, -0.6), _act(0.0, 0.0)]
    ref = [env.step(a)[0] for a in actions]
    other = env_cls(inertia=0.5)
    other.reset(seed=9)
    other.restore(state)
    np.testing.assert_array_equal([other.step(a)[0] for a in actions], ref)
