"""Ant envs: Gymnasium API, the MultiDirectionAntEnv reward, the sac maze geometry and goal reward,
and the observation-layout contract the hierarchy relies on (originals.md §1.4–1.6)."""

from __future__ import annotations

import pickle

import gymnasium
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import softskills  # noqa: F401  (registers the ids)
from softskills.envs.ant import (
    ANT_MAZE_OBS_DIM,
    ANT_OBS_DIM,
    CROSS_MAZE_GOALS,
    CROSS_MAZE_WALLS,
    SIMPLE_MAZE_WALLS,
    AntMazeEnv,
    AntVelocityEnv,
)

IDS = ["softskills/AntVelocity-v0", "softskills/AntCrossMaze-v0", "softskills/AntSimpleMaze-v0"]
ZERO = np.zeros(8)

# originals.md §1.6, transcribed as x/y intervals: (x0, x1, y0, y1).
CROSS_INTERVALS = [
    (-2, 4, -3, -2), (-2.5, -1.5, -3, 3), (-2, 4, 2, 3),  # west corridor
    (3, 4, 2, 8), (3, 9, 7, 8), (8, 9, 2, 8),  # north arm
    (8, 14, -3, -2), (13, 14, -3, 3), (8, 14, 2, 3),  # east arm
    (3, 4, -8, -2), (3, 9, -8, -7), (8, 9, -8, -2),  # south arm
]  # fmt: skip
SIMPLE_CENTRE_HALF = [
    (3.5, 2.5, 5.5, 0.5), (8.5, -2.5, 0.5, 5.5), (6, -7.5, 3, 0.5),
    (3.5, -5, 0.5, 3), (1, -2.5, 3, 0.5), (-1.5, 0, 0.5, 3),
]  # fmt: skip


def _fresh_com(env: AntVelocityEnv) -> np.ndarray:
    """The torso subtree COM recomputed from qpos on a separate MjData."""
    data = mujoco.MjData(env.model)
    data.qpos[:] = env.data.qpos
    mujoco.mj_forward(env.model, data)
    return data.subtree_com[env.model.body("torso").id].copy()


def _place(env: AntVelocityEnv, x: float, y: float, z: float = 0.75, vx: float = 0.0) -> None:
    env.reset(seed=0)
    qpos, qvel = env.init_qpos.copy(), np.zeros(env.model.nv)
    qpos[:3] = (x, y, z)
    qvel[0] = vx
    env.set_state(qpos, qvel)


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_and_registration(env_id: str) -> None:
    env = gymnasium.make(env_id)
    assert env.spec is not None and env.spec.max_episode_steps == 1000
    check_env(env.unwrapped, skip_render_check=True)  # rendering needs a display/GL context
    dim = ANT_OBS_DIM if env_id.endswith("AntVelocity-v0") else ANT_MAZE_OBS_DIM
    assert env.observation_space.shape == (dim,)
    assert env.action_space.shape == (8,) and env.unwrapped.dt == pytest.approx(0.05)


def test_velocity_obs_is_ant_v5() -> None:
    """The MjSpec-compiled model and the observation equal Gymnasium's Ant-v5 (no xy)."""
    ours, v5 = AntVelocityEnv(), gymnasium.make("Ant-v5").unwrapped
    obs, _ = ours.reset(seed=3)
    obs5, _ = v5.reset(seed=3)
    np.testing.assert_array_equal(obs, obs5)
    rng = np.random.default_rng(0)
    for _ in range(15):
        a = rng.uniform(-1, 1, 8)
        obs, obs5 = ours.step(a)[0], v5.step(a)[0]
    np.testing.assert_allclose(obs, obs5, atol=1e-12)
    np.testing.assert_array_equal(obs[:13], ours.data.qpos[2:])  # x, y excluded


def test_velocity_reward_formula() -> None:
    env = AntVelocityEnv()
    env.reset(seed=0)
    for _ in range(15):  # land on the feet
        env.step(ZERO)
    rng = np.random.default_rng(1)
    contacts = []
    for _ in range(10):
        com_before = _fresh_com(env)
        a = rng.uniform(-0.3, 0.3, 8)
        obs, r, terminated, _, info = env.step(a)
        com_after = _fresh_com(env)
        velocity = (com_after[:2] - com_before[:2]) / 0.05
        cfrc = np.clip(env.data.cfrc_ext, -1.0, 1.0)
        contact = 5e-4 * np.sum(cfrc**2)
        contacts.append(contact)
        expected = 1.0 * np.linalg.norm(velocity) + 0.05 - 5e-3 * np.sum(a**2) - contact
        assert not terminated
        assert r == pytest.approx(expected, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(info["xy_velocity"], velocity, atol=1e-9)
        np.testing.assert_allclose(info["xy_position"], com_after[:2], atol=1e-12)
        assert info["reward_contact"] == pytest.approx(-contact)
        np.testing.assert_allclose(obs[-78:], cfrc[1:].ravel())
    assert max(contacts) > 0.0  # cfrc_ext needs mj_rnePostConstraint (originals.md §1.5)


def test_airborne_cost_is_paid_only_without_floor_contact() -> None:
    """``airborne_cost`` (not the thesis' reward): an ant lifted 1 m with no velocity pays it on every step of
    its fall; standing on its feet it pays nothing. The default is 0, the original reward."""
    env = AntVelocityEnv(airborne_cost=0.3, terminate_when_unhealthy=False)
    env.reset(seed=0)
    for _ in range(15):  # land on the feet
        _, _, _, _, info = env.step(ZERO)
    assert info["airborne"] is False and info["reward_airborne"] == 0.0
    standing = np.array([env.step(ZERO)[4]["reward_airborne"] for _ in range(5)])
    assert np.all(standing == 0.0)
    env.data.qpos[2] += 1.0
    env.data.qvel[:] = 0.0
    for _ in range(5):  # 0.25 s of free fall from 1 m: no contact
        _, r, _, _, info = env.step(ZERO)
        assert info["airborne"] is True and info["reward_airborne"] == -0.3
        parts = ("reward_velocity", "reward_survive", "reward_ctrl", "reward_contact", "reward_airborne")
        assert r == pytest.approx(sum(info[k] for k in parts), rel=1e-12)
    plain = AntVelocityEnv()
    plain.reset(seed=0)
    plain.data.qpos[2] += 1.0
    assert plain.step(ZERO)[4]["reward_airborne"] == 0.0
    with pytest.raises(ValueError, match="airborne_cost"):
        AntVelocityEnv(airborne_cost=-0.1)
    # touching a maze wall in the air is still airborne: only the floor counts
    maze = AntMazeEnv(goal=0, terminate_when_unhealthy=False)
    maze.reset(seed=0)
    maze.data.qpos[:3] = (-1.45, 0.0, 1.2)  # against wall 1 (x in [-2.5, -1.5]), 1.2 m up
    maze.data.qvel[:] = 0.0
    maze.step(ZERO)
    assert maze.data.ncon > 0 and not maze.touches_floor()
    again = pickle.loads(pickle.dumps(env))
    assert again.airborne_cost == 0.3


def test_unhealthy_termination() -> None:
    env = AntVelocityEnv()
    for z, healthy in [(0.19, False), (0.21, True), (0.99, True), (1.01, False)]:
        _place(env, 0.0, 0.0, z)
        assert env.is_healthy == healthy, z
    _place(env, 0.0, 0.0, 1.2)
    _, r, terminated, _, info = env.step(ZERO)
    assert terminated and info["reward_survive"] == 0.0
    _place(env, 0.0, 0.0, 0.55)
    assert not env.step(ZERO)[2]
    lenient = AntVelocityEnv(terminate_when_unhealthy=False)
    _place(lenient, 0.0, 0.0, 1.2)
    assert not lenient.step(ZERO)[2]
    maze = AntMazeEnv()  # the maze keeps the original's unhealthy termination
    _place(maze, 0.0, 0.0, 1.2)
    _, r, terminated, _, _ = maze.step(ZERO)
    assert terminated and r == 0.0
    lenient_maze = AntMazeEnv(terminate_when_unhealthy=False)  # what examples/ant_maze.py runs
    _place(lenient_maze, 0.0, 0.0, 1.2)
    _, r, terminated, _, _ = lenient_maze.step(ZERO)
    assert not terminated and r == 0.0


def _walls_of(model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
    boxes = [g for g in range(model.ngeom) if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX]
    assert all(model.geom_contype[g] == 1 and model.geom_conaffinity[g] == 1 for g in boxes)
    assert all(model.geom_bodyid[g] == 0 for g in boxes)  # static
    return model.geom_pos[boxes], model.geom_size[boxes]


def test_cross_maze_walls_exact() -> None:
    pos, size = _walls_of(gymnasium.make("softskills/AntCrossMaze-v0").unwrapped.model)
    expected = np.array(
        [
            [(x0 + x1) / 2, (y0 + y1) / 2, 0.5, (x1 - x0) / 2, (y1 - y0) / 2, 1.0]
            for x0, x1, y0, y1 in CROSS_INTERVALS
        ]
    )
    np.testing.assert_array_equal(np.hstack([pos, size]), expected)
    np.testing.assert_array_equal(CROSS_MAZE_WALLS, expected[:, [0, 1, 3, 4]])
    np.testing.assert_array_equal(CROSS_MAZE_GOALS, [[6, -6], [6, 6], [12, 0]])


def test_simple_maze_walls_exact() -> None:
    pos, size = _walls_of(gymnasium.make("softskills/AntSimpleMaze-v0").unwrapped.model)
    expected = np.array([[cx, cy, 0.5, hx, hy, 1.0] for cx, cy, hx, hy in SIMPLE_CENTRE_HALF])
    np.testing.assert_array_equal(np.hstack([pos, size]), expected)
    np.testing.assert_array_equal(SIMPLE_MAZE_WALLS, expected[:, [0, 1, 3, 4]])


def test_ant_cannot_walk_through_a_wall() -> None:
    """Thrown at 8 m/s towards wall-1 (inner face x = -1.5): blocked; without walls it flies on."""
    xs = {}
    for name, env in [("maze", AntMazeEnv()), ("free", AntVelocityEnv())]:
        _place(env, -0.3, 0.0, vx=-8.0)
        xs[name] = min(env.step(ZERO)[4]["x_position"] for _ in range(30))
    assert xs["maze"] > -1.5
    assert xs["free"] < -2.5


@pytest.mark.parametrize("goal", [0, 1, 2])
def test_goal_reward_only_within_radius(goal: int) -> None:
    env = AntMazeEnv(goal=goal, goal_reward=7.0)
    g = CROSS_MAZE_GOALS[goal]
    np.testing.assert_array_equal(env.goal_position, g)
    for offset in (2.2, 1.8):
        _place(env, g[0] + offset, g[1])
        _, r, terminated, _, info = env.step(ZERO)
        dist = float(np.linalg.norm(_fresh_com(env)[:2] - g))
        assert info["goal_distance"] == pytest.approx(dist)
        assert info["success"] == terminated == (dist < 2.0) == (offset < 2.0)
        assert r == (7.0 if offset < 2.0 else 0.0)


def test_maze_reward_is_sparse() -> None:
    env = gymnasium.make("softskills/AntCrossMaze-v0")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        obs, r, terminated, _, info = env.step(rng.uniform(-1, 1, 8))
        assert r == 0.0 and not terminated and not info["success"]
        # the distance is measured from the torso xy that the observation ends with
        assert info["goal_distance"] == pytest.approx(float(np.linalg.norm(obs[-2:] - info["goal_position"])))


@pytest.mark.parametrize("frame_skip", [5, 2])
def test_progress_reward_is_the_change_in_goal_distance(frame_skip: int) -> None:
    """``progress_reward=w`` adds ``w (d_t - d_{t+1})`` each step (a telescoping sum), and only then, at either
    control step."""
    g = CROSS_MAZE_GOALS[2]
    shaped = AntMazeEnv(goal=2, progress_reward=10.0, frame_skip=frame_skip)
    sparse = AntMazeEnv(goal=2, frame_skip=frame_skip)
    total: dict[AntMazeEnv, float] = {}
    for env in (shaped, sparse):
        _place(env, 8.0, 0.0, vx=3.0)  # moving east, towards the goal (12, 0)
        d0 = float(np.linalg.norm(_fresh_com(env)[:2] - g))
        total[env] = 0.0
        for _ in range(5 * 5 // frame_skip):
            d_before = float(np.linalg.norm(_fresh_com(env)[:2] - g))
            _, r, terminated, _, info = env.step(ZERO)
            d_after = float(np.linalg.norm(_fresh_com(env)[:2] - g))
            assert not terminated
            if env is shaped:
                assert info["progress"] == pytest.approx(d_before - d_after, abs=1e-9)
                assert r == pytest.approx(10.0 * (d_before - d_after), abs=1e-8)
            else:
                assert r == 0.0 and "progress" not in info
            total[env] += r
        assert d_after < d0 - 0.05  # it did move towards the goal
        if env is shaped:
            assert total[env] == pytest.approx(10.0 * (d0 - d_after), abs=1e-7) and total[env] > 0.5
    with pytest.raises(ValueError, match="progress_reward"):
        AntMazeEnv(progress_reward=-1.0)
    with pytest.raises(ValueError, match="progress_reward"):
        AntMazeEnv(progress_reward=float("nan"))
    assert pickle.loads(pickle.dumps(shaped)).progress_reward == 10.0


def test_observation_layout_contract() -> None:
    """maze obs[:ANT_OBS_DIM] == AntVelocity obs for the same state; obs[-2:] is the COM xy."""
    vel, maze = AntVelocityEnv(), AntMazeEnv(goal=1)
    v_obs, _ = vel.reset(seed=5)
    m_obs, _ = maze.reset(seed=5)
    np.testing.assert_array_equal(m_obs[:ANT_OBS_DIM], v_obs)
    rng = np.random.default_rng(2)
    for _ in range(10):
        a = rng.uniform(-1, 1, 8)
        v_obs = vel.step(a)[0]
        m_obs, _, _, _, info = maze.step(a)
    assert np.any(m_obs[-78:] != 0.0)
    np.testing.assert_allclose(m_obs[:ANT_OBS_DIM], v_obs, atol=1e-12)
    np.testing.assert_array_equal(m_obs[ANT_OBS_DIM:], info["xy_position"])
    np.testing.assert_allclose(m_obs[ANT_OBS_DIM:], _fresh_com(maze)[:2], atol=1e-12)


def test_bad_kwargs() -> None:
    for goal in (3, -1, 1.0, True):
        with pytest.raises(ValueError, match="goal"):
            AntMazeEnv(goal=goal)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="goal"):
        gymnasium.make("softskills/AntSimpleMaze-v0", goal=1)
    with pytest.raises(ValueError, match="goal_radius"):
        AntMazeEnv(goal_radius=0.0)
    with pytest.raises(ValueError, match="maze must be one of"):
        AntMazeEnv(maze="spiral")
    with pytest.raises(ValueError, match="healthy_z_range"):
        AntVelocityEnv(healthy_z_range=(1.0, 0.2))
    with pytest.raises(ValueError, match="cost"):
        AntVelocityEnv(ctrl_cost_weight=-1.0)
    for skip in (0, 2.0, True):
        with pytest.raises(ValueError, match="frame_skip"):
            AntVelocityEnv(frame_skip=skip)  # type: ignore[arg-type]


def test_pickle_keeps_kwargs() -> None:
    env = pickle.loads(pickle.dumps(AntMazeEnv(goal=2, goal_reward=5.0)))
    assert isinstance(env, AntMazeEnv) and env.goal_index == 2 and env.goal_reward == 5.0
    vel = pickle.loads(pickle.dumps(AntVelocityEnv(velocity_weight=2.0)))
    assert isinstance(vel, AntVelocityEnv) and vel.velocity_weight == 2.0
    fine = pickle.loads(pickle.dumps(AntVelocityEnv(velocity_weight=2.0, frame_skip=2)))
    assert fine.frame_skip == 2 and fine.velocity_weight == 2.0
    for name in ("cross", "simple"):
        maze = pickle.loads(pickle.dumps(AntMazeEnv(name, goal=0, progress_reward=3.0, frame_skip=2)))
        assert maze.frame_skip == 2 and maze.progress_reward == 3.0 and maze.maze == name


@pytest.mark.parametrize("env_id", ["softskills/AntVelocity-v0", "softskills/AntCrossMaze-v0"])
def test_frame_skip_sets_the_control_step(env_id: str) -> None:
    """``frame_skip=2`` gives rllab's 0.02 s env step (the default stays Ant-v5's 0.05 s): one env step is
    exactly two physics steps of the same action, and the velocity is measured over that step."""
    fine = gymnasium.make(env_id, frame_skip=2).unwrapped
    coarse = gymnasium.make(env_id).unwrapped
    assert fine.dt == pytest.approx(0.02) and coarse.dt == pytest.approx(0.05)
    fine.reset(seed=3)
    coarse.reset(seed=3)
    a = np.full(8, 0.4)
    for _ in range(5):  # five steps of 0.02 s are two steps of 0.05 s (10 physics steps each way)
        *_, info = fine.step(a)
    for _ in range(2):
        coarse.step(a)
    np.testing.assert_allclose(fine.data.qpos, coarse.data.qpos, atol=1e-12)
    before = fine.xy
    *_, info = fine.step(a)
    np.testing.assert_allclose(info["xy_velocity"], (fine.xy - before) / 0.02, atol=1e-9)


def test_custom_velocity_weight_and_goal_radius_are_used() -> None:
    fast = AntVelocityEnv(velocity_weight=2.5)
    _place(fast, 0.0, 0.0, vx=1.0)
    _, r, _, _, info = fast.step(ZERO)
    speed = float(np.linalg.norm(info["xy_velocity"]))
    assert speed > 0.1 and info["reward_velocity"] == pytest.approx(2.5 * speed, rel=1e-12)
    parts = ("reward_velocity", "reward_survive", "reward_ctrl", "reward_contact", "reward_airborne")
    assert r == pytest.approx(sum(info[k] for k in parts), rel=1e-12)
    g = CROSS_MAZE_GOALS[2]
    for radius, offset, reached in ((1.0, 1.5, False), (3.0, 2.5, True)):
        env = AntMazeEnv(goal=2, goal_reward=7.0, goal_radius=radius)
        _place(env, g[0] + offset, g[1])
        _, r, terminated, _, info = env.step(ZERO)
        assert info["success"] == terminated == reached and r == (7.0 if reached else 0.0), (radius, offset)
