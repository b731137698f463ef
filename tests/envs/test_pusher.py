"""Pusher: Gymnasium API, registration, and the model/reset/reward facts of originals.md §2.3-2.5."""

from __future__ import annotations

import json
import math
from typing import Any

import gymnasium
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import softskills  # noqa: F401  (registers the ids)
from softskills.envs.pusher import CRADLE_X, PRONG_END_X, PusherEnv, parse_goal

ENV_ID = "softskills/Pusher-v0"


def _env_at(
    puck: tuple[float, float],
    puck_vel: tuple[float, float] = (0.0, 0.0),
    arm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    arm_vel: tuple[float, float, float] = (0.0, 0.0, 0.0),
    **kwargs: Any,
) -> PusherEnv:
    env = PusherEnv(**kwargs)
    env.reset(seed=0)
    env.data.qpos[:5] = [*arm, *puck]
    env.data.qvel[:5] = [*arm_vel, *puck_vel]
    mujoco.mj_forward(env.model, env.data)
    return env


def _obs(env: PusherEnv) -> np.ndarray:
    return env._get_obs()


def _hand_reward(obs: np.ndarray, tau: np.ndarray, goal_xy: np.ndarray, c_arm: float) -> float:
    """originals.md §2.3: -0.1 ||tau||^2 - ||goal - puck_xy|| - c_arm ||fork - puck||."""
    fork, puck = obs[6:9], obs[9:12]
    return float(-0.1 * tau @ tau - np.linalg.norm(puck[:2] - goal_xy) - c_arm * np.linalg.norm(fork - puck))


@pytest.mark.filterwarnings("ignore:.*(normalized space|infinity)")  # torque units, like MuJoCo envs
@pytest.mark.parametrize("goal", [(0.0, -1.0), (-1.0, None), (None, -1.0)])
def test_check_env_passes(goal: tuple[float | None, float | None]) -> None:
    check_env(gymnasium.make(ENV_ID, goal=goal).unwrapped, skip_render_check=True)


def test_registration_horizon_and_never_terminates() -> None:
    env = gymnasium.make(ENV_ID)
    assert env.spec is not None and env.spec.max_episode_steps == 300
    assert isinstance(env.unwrapped, PusherEnv)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for t in range(300):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-3, 3, 3).astype(np.float32))
        assert not terminated
        assert truncated == (t == 299)


def test_physics_options_frame_skip_and_dt() -> None:
    env = PusherEnv()
    opt = env.model.opt
    assert opt.timestep == 0.01 and env.frame_skip == 5 and env.dt == pytest.approx(0.05)
    assert opt.integrator == mujoco.mjtIntegrator.mjINT_EULER and opt.iterations == 20
    np.testing.assert_array_equal(opt.gravity, 0.0)
    env.reset(seed=0)
    for k in range(1, 4):
        env.step(np.zeros(3, dtype=np.float32))
        assert env.data.time == pytest.approx(0.05 * k)


def test_model_facts() -> None:
    m = PusherEnv().model
    names = [m.joint(j).name for j in range(m.njnt)]
    assert names == ["proximal_j_1", "distal_j_1", "distal_j_2", "object_x", "object_y", "goal_x", "goal_y"]
    np.testing.assert_allclose(m.jnt_range[:3], [[-2.5, 2.5], [-2.3213, 2.3], [-2.3213, 2.3]])
    np.testing.assert_allclose(m.jnt_axis[3:5], [[1, 0, 0], [0, 1, 0]])  # qpos[3:5] = puck x, y
    np.testing.assert_allclose(m.dof_damping[3:5], 0.5)
    np.testing.assert_allclose(m.actuator_ctrlrange, [[-3, 3]] * 3)
    for link in ("distal_1", "distal_2", "distal_4"):
        np.testing.assert_allclose(m.body(link).pos, [0.4, 0, 0])
    puck_geom = m.geom(m.body("object").geomadr[0])
    assert puck_geom.type == mujoco.mjtGeom.mjGEOM_CYLINDER and puck_geom.size[0] == pytest.approx(0.1)


def test_observation_uses_subtree_coms() -> None:
    # rllab/garage get_body_com is the subtree COM (originals.md §2.3). The fork's COM lies ahead
    # of the distal_4 origin by 2 V_prong 0.1 / (V_bar + 2 V_prong), capsule V = pi r^2 L + 4/3 pi r^3.
    env = _env_at((0.6, -0.7), arm=(0.2, -0.3, 0.4))
    obs = _obs(env)
    def vol(length: float) -> float:
        return math.pi * 0.04**2 * length + 4 / 3 * math.pi * 0.04**3

    ahead = 2 * vol(0.2) * 0.1 / (vol(0.4) + 2 * vol(0.2))
    fork = env.data.body("distal_4")
    np.testing.assert_allclose(obs[6:9], fork.xpos + ahead * fork.xmat.reshape(3, 3)[:, 0], atol=1e-9)
    np.testing.assert_allclose(obs[:3], [0.2, -0.3, 0.4])


def test_torque_is_clipped_to_the_limits() -> None:
    env = _env_at((0.6, -0.7))
    obs0 = _obs(env)
    _, r, *_ = env.step(np.array([10.0, -10.0, 0.5], dtype=np.float32))
    np.testing.assert_allclose(env.data.ctrl, [3.0, -3.0, 0.5])
    assert r == pytest.approx(_hand_reward(obs0, np.array([3.0, -3.0, 0.5]), np.array([0.0, -1.0]), 0.0))
    clipped = _env_at((0.6, -0.7))
    clipped.step(np.array([3.0, -3.0, 0.5], dtype=np.float32))
    np.testing.assert_array_equal(clipped.data.qpos, env.data.qpos)


def test_reward_is_computed_on_the_pre_action_observation() -> None:
    # The puck and the arm move during the step, so pre- and post-action rewards differ.
    env = _env_at((0.6, -0.7), puck_vel=(1.0, -0.5), arm=(0.3, -0.2, 0.1), arm_vel=(2.0, -1.0, 1.0),
                  arm_distance_cost_coeff=0.5)
    tau = np.array([1.0, -2.0, 0.5])
    obs0 = _obs(env)
    np.testing.assert_allclose(obs0[9:12], [0.6, -0.7, -0.1])  # puck COM = slide qpos at z = -0.1
    obs1, r, _, _, info = env.step(tau.astype(np.float32))
    goal = np.array([0.0, -1.0])
    expected = -0.1 * 5.25 - math.sqrt(0.6**2 + 0.3**2) - 0.5 * np.linalg.norm(obs0[6:9] - obs0[9:12])
    assert r == pytest.approx(expected, abs=1e-9)
    assert r == pytest.approx(_hand_reward(obs0, tau, goal, 0.5), abs=1e-9)
    assert abs(_hand_reward(obs1, tau, goal, 0.5) - r) > 1e-2  # would fail on the post-action obs
    assert info["goal_distance"] == pytest.approx(math.sqrt(0.45))


@pytest.mark.parametrize(
    ("goal", "fixed", "varied", "distance"),
    [((-1.0, None), 0, 1, 0.5), ((None, -1.0), 1, 0, 0.5), ((-1.0, -1.0), 0, 1, None)],
)
def test_none_goal_masks_its_axis(
    goal: tuple[float | None, float | None], fixed: int, varied: int, distance: float | None
) -> None:
    rewards, dists = [], []
    for v in (-0.9, -0.4, 0.3):
        puck = [0.0, 0.0]
        puck[fixed], puck[varied] = -0.5, v
        env = _env_at((puck[0], puck[1]), goal=goal)
        _, r, _, _, info = env.step(np.zeros(3, dtype=np.float32))
        rewards.append(r)
        dists.append(info["goal_distance"])
    if distance is None:  # a full goal does depend on both axes (the test can tell)
        assert len(set(np.round(rewards, 9))) == 3
    else:
        np.testing.assert_allclose(rewards, -distance)
        np.testing.assert_allclose(dists, distance)


def test_reset_respects_box_and_corner_rejection() -> None:
    env = PusherEnv()
    env.reset(seed=0)
    starts = np.stack([env.reset()[0] for _ in range(3000)])
    puck = starts[:, 9:11]
    assert np.all(puck >= [0.3, -1.0]) and np.all(puck <= [1.0, -0.4])
    corner = np.linalg.norm(puck - [1.0, -1.0], axis=1)
    assert corner.min() > 0.45 and corner.min() < 0.47  # the rejected disc's edge is sampled
    assert np.all(np.abs(starts[:, :3]) <= 0.1) and np.abs(starts[:, :3]).max() > 0.09
    np.testing.assert_array_equal(starts[:, 3:6], 0.0)


def test_seeded_reset_is_reproducible() -> None:
    a, b = PusherEnv(), PusherEnv()
    np.testing.assert_array_equal(a.reset(seed=7)[0], b.reset(seed=7)[0])
    assert not np.array_equal(a.reset(seed=7)[0], a.reset(seed=8)[0])
    a.reset(seed=7), b.reset(seed=7)
    for u in np.random.default_rng(1).uniform(-3, 3, (20, 3)).astype(np.float32):
        np.testing.assert_array_equal(a.step(u)[0], b.step(u)[0])


def test_arm_pushes_the_puck() -> None:
    # Guards the armature-aware contact weight of the 6e-8 kg puck (MuJoCo >= 3, see build_model).
    env = _env_at((0.5, -0.95))
    for _ in range(60):
        obs, *_ = env.step(np.array([-3.0, 0.0, 0.0], dtype=np.float32))
    assert np.linalg.norm(obs[9:11] - [0.5, -0.95]) > 0.5


def test_goal_from_json_lists() -> None:
    goal = json.loads(json.dumps((-1, None)))
    assert goal == [-1, None]
    assert PusherEnv(goal=goal).goal == (-1.0, None)
    assert parse_goal([None, -1]) == (None, -1.0)
    assert parse_goal(("any", -1)) == (None, -1.0)  # the original's spelling
    env = gymnasium.make(ENV_ID, goal=goal)
    np.testing.assert_array_equal(env.unwrapped.goal_mask, [True, False])
    assert PusherEnv().goal == (0.0, -1.0)  # the original's default


@pytest.mark.parametrize(
    ("goal", "match"),
    [((-1.0,), "two coordinates"), ((-1.0, -1.0, 0.0), "two coordinates"), ("-1", "two coordinates"),
     (-1.0, "two coordinates"), ((None, None), "masks both axes"), (("x", -1), "goal x"),
     ((-1, math.nan), "finite"), ((True, -1), "goal x")],
)
def test_bad_goal_raises(goal: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PusherEnv(goal=goal)


@pytest.mark.parametrize(
    "kwargs",
    [{"action_cost_coeff": -0.1}, {"goal_distance_cost_coeff": math.inf}, {"arm_distance_cost_coeff": "0.1"},
     {"render_mode": "human"}],
)
def test_bad_kwargs_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        PusherEnv(**kwargs)


def test_info_keys_describe_the_pre_action_state() -> None:
    _, info_reset = PusherEnv(goal=(-1.0, None)).reset(seed=1)
    assert set(info_reset) == {"goal_distance", "arm_distance", "puck_xy", "puck_in_fork"}
    # A moving puck and arm, so that the state before the action differs from the state after it.
    env = _env_at((0.6, -0.7), puck_vel=(1.0, 0.0), arm_vel=(2.0, -1.0, 1.0), goal=(-1.0, None))
    obs0, fork0 = _obs(env), env.puck_in_fork_frame()
    obs1, _, _, _, info = env.step(np.zeros(3, dtype=np.float32))
    assert set(info) == {"goal_distance", "arm_distance", "puck_xy", "puck_in_fork"}
    assert np.linalg.norm(obs1[9:11] - obs0[9:11]) > 1e-3  # the puck did move during the step
    np.testing.assert_array_equal(info["puck_xy"], obs0[9:11])
    np.testing.assert_array_equal(info["puck_in_fork"], fork0)
    assert np.linalg.norm(env.puck_in_fork_frame() - fork0) > 1e-3
    assert info["goal_distance"] == pytest.approx(abs(obs0[9] + 1.0))
    assert info["arm_distance"] == pytest.approx(np.linalg.norm(obs0[6:9] - obs0[9:12]))
    assert info["arm_distance"] != pytest.approx(np.linalg.norm(obs1[6:9] - obs1[9:12]))


def test_compute_reward_is_batched() -> None:
    env = PusherEnv(goal=(None, -1.0), arm_distance_cost_coeff=0.1)
    obs = np.stack([env.reset(seed=s)[0] for s in range(4)])
    act = np.random.default_rng(0).uniform(-4, 4, (4, 3))
    r, info = env.compute_reward(obs, act)
    assert r.shape == (4,) and info["goal_distance"].shape == (4,)
    for i in range(4):
        assert r[i] == pytest.approx(float(env.compute_reward(obs[i], act[i])[0]))
    r_big, _ = env.compute_reward(obs, np.full((4, 3), 10.0))  # clipped to the torque limits
    np.testing.assert_array_equal(r_big, env.compute_reward(obs, np.full((4, 3), 3.0))[0])


def test_observation_follows_the_new_state_after_a_step() -> None:
    env = _env_at((0.6, -0.7), puck_vel=(1.0, -0.5), arm_vel=(2.0, -1.0, 1.0))
    obs, *_ = env.step(np.array([1.0, -1.0, 1.0], dtype=np.float32))
    np.testing.assert_allclose(obs[9:11], env.data.qpos[3:5], atol=1e-12)
    mujoco.mj_forward(env.model, env.data)
    np.testing.assert_allclose(obs, _obs(env), atol=1e-12)


def test_never_terminates_even_at_the_goal() -> None:
    env = _env_at((0.0, -1.0))
    _, r, terminated, truncated, info = env.step(np.zeros(3, dtype=np.float32))
    assert info["goal_distance"] == pytest.approx(0.0) and r == pytest.approx(0.0)
    assert not terminated and not truncated


def test_reach_is_shorter_towards_bottom_left() -> None:
    """The arm's reach is lopsided: within the joint ranges the fork's centre of mass comes no closer than
    0.26 m to (-1, -1), yet within 0.2 m of (1, -1) and onto (0, -1). (The puck, pushed ahead of the fork,
    still reaches (-1, -1): see docs/pusher.md.)"""
    env = PusherEnv()
    env.reset(seed=0)
    m, d = env.model, env.data
    fork = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "distal_4")
    lo, hi = m.jnt_range[:3, 0], m.jnt_range[:3, 1]
    pts = []
    for q in np.random.default_rng(0).uniform(lo, hi, (20_000, 3)):
        d.qpos[:3] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        pts.append(d.subtree_com[fork][:2].copy())
    pts = np.asarray(pts)
    nearest = {g: float(np.linalg.norm(pts - np.array(g), axis=1).min()) for g in ((-1, -1), (1, -1), (0, -1))}
    assert nearest[(-1, -1)] > 0.26
    assert nearest[(1, -1)] < 0.2 and nearest[(0, -1)] < 0.02
    env.close()


@pytest.mark.parametrize(("q1", "puck", "fork_origin"), [(-0.785, (1.34, 0.05), (1.2, 0.0)),
                                                         (-0.785 + math.pi / 2, (-0.05, 1.34), (0.0, 1.2))])
def test_puck_in_fork_frame_by_hand(q1: float, puck: tuple[float, float], fork_origin: tuple[float, float]) -> None:
    """The arm straight along +x, then along +y (joints 0.785 and 1.57 undo the rest pose's bends): the fork's
    origin is 1.2 m out and its x axis points away from the base, so a puck 0.14 m further out and 0.05 m to
    the fork's left is at (0.14, 0.05) in the fork's frame, i.e. in the cradle (``CRADLE_X``)."""
    env = _env_at(puck, arm=(q1, 0.785, 1.57))
    fork = env.model.body("distal_4").id
    np.testing.assert_allclose(env.data.xpos[fork][:2], fork_origin, atol=2e-3)
    np.testing.assert_allclose(env.puck_in_fork_frame(), (CRADLE_X, 0.05), atol=2e-3)


def test_the_cradle_cannot_reach_bottom_left_but_a_prong_tip_can() -> None:
    """Within the joint ranges, a puck pushed in the cradle (against the crossbar, ``|y| <= 0.06`` between
    the prongs) gets no closer than 0.17 m to (-1, -1) (0.176 m at the proximal joint's limit, found by a local
    search in docs/pusher.md; sampling only over-estimates a minimum), but within 0.1 m of (1, -1) and onto
    (0, -1); a puck ahead of a prong's tip reaches all three. Why the bottom-left merges stop short."""
    env = PusherEnv()
    env.reset(seed=0)
    m, d = env.model, env.data
    fork = m.body("distal_4").id
    lo, hi = m.jnt_range[:3, 0], m.jnt_range[:3, 1]
    cradle = np.array([[CRADLE_X, y, 0.0] for y in (-0.06, 0.0, 0.06)])
    tips = np.array([[PRONG_END_X + 0.1, y, 0.0] for y in (-0.2, 0.2)])
    pts_cradle, pts_tip = [], []
    for q in np.random.default_rng(0).uniform(lo, hi, (40_000, 3)):
        d.qpos[:3] = q
        mujoco.mj_kinematics(m, d)
        rot, p = d.xmat[fork].reshape(3, 3), d.xpos[fork]
        pts_cradle.append((p + cradle @ rot.T)[:, :2])
        pts_tip.append((p + tips @ rot.T)[:, :2])
    pc, pt = np.concatenate(pts_cradle), np.concatenate(pts_tip)
    near = {g: (float(np.linalg.norm(pc - g, axis=1).min()), float(np.linalg.norm(pt - g, axis=1).min()))
            for g in ((-1, -1), (1, -1), (0, -1))}
    assert near[(-1, -1)][0] > 0.17
    assert near[(1, -1)][0] < 0.1 and near[(0, -1)][0] < 0.02
    assert all(tip < 0.03 for _, tip in near.values()), near
    env.close()


def test_custom_goal_and_arm_coefficients_weight_their_terms() -> None:
    """softlearning #15's push-y shaping (c_goal = c_arm = 0.1) and a custom c_ctrl, by hand."""
    env = _env_at((0.6, -0.7), arm=(0.3, -0.2, 0.1), goal=(None, -1.0), action_cost_coeff=0.2,
                  goal_distance_cost_coeff=0.1, arm_distance_cost_coeff=0.1)
    obs0 = _obs(env)
    tau = np.array([1.0, -2.0, 0.5])
    _, r, _, _, info = env.step(tau.astype(np.float32))
    arm = float(np.linalg.norm(obs0[6:9] - obs0[9:12]))
    assert r == pytest.approx(-(0.2 * 5.25 + 0.1 * 0.3 + 0.1 * arm), abs=1e-9)
    assert info["goal_distance"] == pytest.approx(0.3)
