"""The planar 3-DoF pusher of the composition experiments (thesis ch. 6, Figure 6.1, Table 6.1).

A Gymnasium port of ``softqlearning/environments/pusher.py`` and its ``models/pusher.xml``
(facts: originals.md §2.3-2.5), with the model written here as our own MJCF string.

* Model: a 3-link arm (links 0.4 m, hinge ranges ``[-2.5, 2.5]``, ``[-2.3213, 2.3]`` twice)
  ending in the fork ``distal_4``, pushing the puck ``object`` (cylinder, radius 0.1, x/y slides
  with damping 0.5). Gravity 0, Euler integrator, timestep 0.01, 20 solver iterations and
  frame_skip 5, so ``dt = 0.05`` s. qpos is ``[3 arm joints | puck x, y | goal x, y]``.
* Action: the three joint torques, clipped to the motors' ``ctrlrange`` ``[-3, 3]``. The
  original saw the torque through rllab's ``normalize()``, so its control cost is on the torque.
* Observation (12-d): ``qpos[0:3], qvel[0:3]``, the subtree COM of ``distal_4`` and of ``object``.
* Reset: arm ``qpos = U(-0.1, 0.1)`` around the rest pose, zero velocities, puck
  ``xy ~ U([0.3, -1.0], [1.0, -0.4])`` rejected while within 0.45 of the corner ``(1, -1)``.
* Reward, on the observation *before* the action (then the simulation steps), as the original:
  ``r = -c_ctrl ||tau||^2 - c_goal ||goal - puck_xy||_mask - c_arm ||arm_xyz - puck_xyz||``.
  A ``None`` goal coordinate means 'any' and drops that axis from the goal distance.
* Never terminates; the registry truncates episodes at 300 steps.

Facts originals.md does not list (base at the origin, rest pose 0.785 / -0.785 / -1.57 rad
between links, joint armature 0.04 and damping 1, geom density 300, friction 0.8, margin 0.002,
condim 1, puck density 1e-5 at z = -0.1, the goal marker a flat cylinder) follow the public
``pusher_2d.xml`` of the same family, which is softqlearning's ``pusher.xml`` plus a floor (§4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

__all__ = [
    "CRADLE_X", "DEFAULT_GOAL", "FRAME_SKIP", "PRONG_END_X", "TORQUE_LIMIT", "PusherEnv", "build_model", "parse_goal",
]

Goal = tuple[float | None, float | None]

FRAME_SKIP = 5
"""MuJoCo steps per env step (originals.md §2.3: ``<numeric name="frame_skip">`` = 5)."""
TORQUE_LIMIT = 3.0
"""Motor ``ctrlrange`` is ``[-3, 3]`` on all three joints (originals.md §2.3)."""
DEFAULT_GOAL: Goal = (0.0, -1.0)
"""The original's default goal (originals.md §2.3); composition evaluates at ``(-1, -1)`` (§2.5)."""

PUCK_LOW = np.array([0.3, -1.0])
PUCK_HIGH = np.array([1.0, -0.4])
REJECT_CORNER = np.array([1.0, -1.0])
REJECT_RADIUS = 0.45
"""Reset resamples the puck while ``||puck - (1, -1)|| <= 0.45`` (originals.md §2.3, the 'hack')."""
ARM_INIT_NOISE = 0.1
CRADLE_X = 0.14
"""The puck centre's x in the fork's frame when it rests against the crossbar between the prongs
(the crossbar capsule's radius 0.04 plus the puck's radius 0.1); pushed this way, the *cradle*."""
PRONG_END_X = 0.24
"""Where the prongs end along the fork's x (their length 0.2 plus the capsule radius 0.04). A puck
pushed while its centre lies beyond this is pushed by a prong's tip, not by the cradle."""

_ARM, _PUCK = slice(0, 3), slice(3, 5)  # qpos[5:7] are the goal marker's slides

# Our own MJCF. Geometry, limits and physics options per originals.md §2.3. Two contacts that
# cannot act are left out (1.7x faster steps): the table's (its normal is along z,
# which the puck's x/y slides cannot feel) and the palm's with the first link, which overlap at
# the shoulder axis (MuJoCo's parent filter skips world-welded parents; the radial normal has no
# moment about the axis; over 10k random steps observations moved by < 2e-5).
_LINK = '<geom type="capsule" fromto="0 0 0 0.4 0 0" size="0.06"/>'
_XML = f"""
<mujoco model="softskills_pusher">
  <compiler angle="radian" inertiafromgeom="true"/>
  <option timestep="0.01" gravity="0 0 0" iterations="20" integrator="Euler"/>
  <default>
    <joint armature="0.04" damping="1" limited="true"/>
    <geom friction="0.8 0.1 0.1" density="300" margin="0.002" condim="1" contype="1" conaffinity="1"/>
  </default>
  <worldbody>
    <geom name="table" type="plane" pos="0 0.5 -0.15" size="4 4 0.1" contype="0" conaffinity="0"/>
    <body name="palm">
      <geom type="capsule" fromto="0 0 -0.1 0 0 0.1" size="0.12"/>
      <body name="proximal_1" pos="0 0 -0.075" axisangle="0 0 1 0.785">
        <joint name="proximal_j_1" axis="0 0 1" range="-2.5 2.5"/>
        {_LINK}
        <body name="distal_1" pos="0.4 0 0" axisangle="0 0 1 -0.785">
          <joint name="distal_j_1" axis="0 0 1" range="-2.3213 2.3"/>
          {_LINK}
          <body name="distal_2" pos="0.4 0 0" axisangle="0 0 1 -1.57">
            <joint name="distal_j_2" axis="0 0 1" range="-2.3213 2.3"/>
            {_LINK}
            <body name="distal_4" pos="0.4 0 0">
              <geom type="capsule" fromto="0 -0.2 0 0 0.2 0" size="0.04"/>
              <geom type="capsule" fromto="0 -0.2 0 0.2 -0.2 0" size="0.04"/>
              <geom type="capsule" fromto="0 0.2 0 0.2 0.2 0" size="0.04"/>
            </body>
          </body>
        </body>
      </body>
    </body>
    <body name="object" pos="0 0 -0.1">
      <joint name="object_x" type="slide" axis="1 0 0" range="-10.3213 10.3" damping="0.5"/>
      <joint name="object_y" type="slide" axis="0 1 0" range="-10.3213 10.3" damping="0.5"/>
      <geom type="cylinder" size="0.1 0.1" density="0.00001"/>
    </body>
    <body name="goal" pos="{{gx}} {{gy}} -0.145">
      <joint name="goal_x" type="slide" axis="1 0 0" range="-10.3213 10.3" damping="0.5"/>
      <joint name="goal_y" type="slide" axis="0 1 0" range="-10.3213 10.3" damping="0.5"/>
      <geom type="cylinder" size="0.17 0.005" density="0.00001" contype="0" conaffinity="0" rgba="1 0 0 1"/>
    </body>
  </worldbody>
  <contact>
    <exclude body1="palm" body2="proximal_1"/>
  </contact>
  <actuator>
    <motor joint="proximal_j_1" ctrlrange="-3 3" ctrllimited="true"/>
    <motor joint="distal_j_1" ctrlrange="-3 3" ctrllimited="true"/>
    <motor joint="distal_j_2" ctrlrange="-3 3" ctrllimited="true"/>
  </actuator>
</mujoco>
"""


def build_model(goal: Goal = DEFAULT_GOAL) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """Compile the pusher model; ``goal`` only places the (visual) goal marker, ``None`` at 0.

    MuJoCo >= 3 gives a body with only slide joints the contact weight ``1 / mass``, ignoring
    joint armature (``engine_setconst.c``, "simple bodies"). For the original's 6e-8 kg puck
    (density 1e-5, armature 0.04) that makes every contact with it infinitely soft, and the arm
    passes through (Gymnasium #950, mujoco #1495; Gymnasium's Pusher-v5 raised the mass 500x).
    We keep the original masses and instead clear the puck's ``body_simple`` flag and recompute
    the constants, which restores the pre-3.0 weight ``J M^-1 J^T`` (armature included).

    Args:
        goal: a parsed goal (see :func:`parse_goal`).

    Returns:
        ``(model, data)``, with ``mj_forward`` done at ``qpos0``.
    """
    gx, gy = (0.0 if c is None else c for c in goal)
    model = mujoco.MjModel.from_xml_string(_XML.format(gx=gx, gy=gy))
    data = mujoco.MjData(model)
    model.body_simple[model.body("object").id] = 0
    mujoco.mj_setConst(model, data)
    mujoco.mj_forward(model, data)
    return model, data


def parse_goal(goal: Any) -> Goal:
    """Validate a goal: two coordinates, each a finite number or ``None`` ('any').

    Lists are accepted (a JSON round trip turns ``(-1, None)`` into ``[-1, null]``), and so is
    the original's string ``'any'`` for ``None`` (originals.md §2.3).

    Args:
        goal: ``(x, y)``; e.g. push-x ``(-1, None)``, push-y ``(None, -1)``, composed ``(-1, -1)``.

    Returns:
        The goal as a tuple of floats and ``None``.

    Raises:
        ValueError: not a length-2 sequence, a coordinate that is neither ``None``/``'any'`` nor a
            finite number, or both coordinates ``None`` (a goal that masks every axis has no
            goal term at all; use ``goal_distance_cost_coeff=0`` for that instead).
    """
    if isinstance(goal, (str, bytes)) or not isinstance(goal, (Sequence, np.ndarray)) or len(goal) != 2:
        raise ValueError(f"goal must be a sequence (x, y) of two coordinates, got {goal!r}")
    out: list[float | None] = []
    for axis, c in zip("xy", goal):
        if c is None or (isinstance(c, str) and c == "any"):
            out.append(None)
        elif isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, float, np.integer, np.floating)):
            raise ValueError(f"goal {axis} must be a number or None ('any'), got {c!r}")
        elif not math.isfinite(float(c)):
            raise ValueError(f"goal {axis} must be finite, got {c!r}")
        else:
            out.append(float(c))
    if out[0] is None and out[1] is None:
        raise ValueError("goal (None, None) masks both axes; give at least one coordinate")
    return out[0], out[1]


class PusherEnv(gym.Env[np.ndarray, np.ndarray]):
    """Push the puck to a goal point or line; the original's ``PusherEnv`` (originals.md §2.3).

    ``info`` (from :meth:`reset` and :meth:`step`) holds ``goal_distance`` (masked, as in the
    reward), ``arm_distance`` (fork subtree COM to puck COM, 3-D), ``puck_xy`` and
    ``puck_in_fork`` (see :meth:`puck_in_fork_frame`), all measured on the state the reward was
    computed on, i.e. *before* the action. The last step's
    ``goal_distance`` is therefore the original's ``FinalGoalDistance`` of Table 6.1 (taken from
    ``env_infos[-1]``, originals.md §2.5); the post-action puck is ``obs[9:11]``.

    The simulator state is the public ``model``/``data`` pair; call ``mujoco.mj_forward`` after
    editing ``data.qpos``/``data.qvel`` so the observation (subtree COMs) follows.

    Args:
        goal: ``(x, y)`` with ``None`` for 'any' (see :func:`parse_goal`); default ``(0, -1)``.
        action_cost_coeff: ``c_ctrl`` on ``||tau||^2`` of the clipped torque (original 0.1).
        goal_distance_cost_coeff: ``c_goal`` on the masked puck-goal distance (original 1.0).
        arm_distance_cost_coeff: ``c_arm`` on the fork-puck distance (original 0). softlearning
            issue #15: push-y only learned with arm-object shaping, ``c_arm = 0.1`` together with
            ``c_goal = 0.1``.
        render_mode: unsupported (``None`` only).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        goal: Sequence[float | str | None] = DEFAULT_GOAL,
        action_cost_coeff: float = 0.1,
        goal_distance_cost_coeff: float = 1.0,
        arm_distance_cost_coeff: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"PusherEnv does not render; got render_mode={render_mode!r}")
        self.goal: Goal = parse_goal(goal)
        coeffs = {
            "action_cost_coeff": action_cost_coeff,
            "goal_distance_cost_coeff": goal_distance_cost_coeff,
            "arm_distance_cost_coeff": arm_distance_cost_coeff,
        }
        for name, v in coeffs.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= float(v) < math.inf):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        self.action_cost_coeff = float(action_cost_coeff)
        self.goal_distance_cost_coeff = float(goal_distance_cost_coeff)
        self.arm_distance_cost_coeff = float(arm_distance_cost_coeff)
        self.render_mode = render_mode
        self.goal_mask = np.array([c is not None for c in self.goal])
        self._goal_xy = np.array([c for c in self.goal if c is not None], dtype=np.float64)
        self.model, self.data = build_model(self.goal)
        self.frame_skip = FRAME_SKIP
        self._fork = self.model.body("distal_4").id
        self._puck = self.model.body("object").id
        self.action_space = spaces.Box(-TORQUE_LIMIT, TORQUE_LIMIT, shape=(3,), dtype=np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(12,), dtype=np.float64)

    @property
    def dt(self) -> float:
        """Seconds per env step: ``timestep * frame_skip = 0.01 * 5`` (originals.md §2.3)."""
        return float(self.model.opt.timestep) * self.frame_skip

    def _get_obs(self) -> np.ndarray:
        d = self.data
        return np.concatenate(
            [d.qpos[_ARM], d.qvel[_ARM], d.subtree_com[self._fork], d.subtree_com[self._puck]]
        )

    def compute_reward(self, obs: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The original's ``compute_reward`` (originals.md §2.3), batched over leading axes.

        Args:
            obs: observations ``(..., 12)``; ``step`` passes the pre-action one.
            action: torques ``(..., 3)``; clipped to ``[-3, 3]`` first.

        Returns:
            ``(reward, info)`` with ``goal_distance``, ``arm_distance`` and ``puck_xy``.
        """
        obs = np.asarray(obs, dtype=np.float64)
        tau = np.clip(np.asarray(action, dtype=np.float64), -TORQUE_LIMIT, TORQUE_LIMIT)
        arm, puck = obs[..., 6:9], obs[..., 9:12]
        goal_err = puck[..., :2][..., self.goal_mask] - self._goal_xy
        goal_dist = np.sqrt((goal_err * goal_err).sum(-1))
        arm_dist = np.sqrt(((arm - puck) ** 2).sum(-1))
        reward = -(
            self.action_cost_coeff * (tau * tau).sum(-1)
            + self.goal_distance_cost_coeff * goal_dist
            + self.arm_distance_cost_coeff * arm_dist
        )
        return reward, {"goal_distance": goal_dist, "arm_distance": arm_dist, "puck_xy": puck[..., :2].copy()}

    def puck_in_fork_frame(self) -> np.ndarray:
        """The puck centre's ``(x, y)`` in the fork's (``distal_4``'s) frame, at the current state.

        The fork's x axis runs along the last link, away from the arm; its origin is the crossbar's
        centre, and the prongs run along x at ``y = -0.2`` and ``0.2``. A puck in the cradle sits
        near ``(CRADLE_X, 0)``; one pushed by a prong's tip has ``x > PRONG_END_X``.
        """
        d = self.data
        rot = d.xmat[self._fork].reshape(3, 3)
        offset = d.xpos[self._puck] - d.xpos[self._fork]
        return (rot.T @ offset)[:2].copy()

    def _reward_info(self, obs: np.ndarray, tau: np.ndarray) -> tuple[float, dict[str, Any]]:
        # Called with the observation of the state ``data`` holds, so the fork-frame puck matches it.
        reward, info = self.compute_reward(obs, tau)
        dists = {k: float(info[k]) for k in ("goal_distance", "arm_distance")}
        return float(reward), {**dists, "puck_xy": info["puck_xy"], "puck_in_fork": self.puck_in_fork_frame()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Arm at rest pose + ``U(-0.1, 0.1)``; puck uniform in its box minus the corner (§2.3)."""
        super().reset(seed=seed)
        rng = self.np_random
        mujoco.mj_resetData(self.model, self.data)
        qpos = self.model.qpos0.copy()  # goal slides stay at their initial 0
        qpos[_ARM] += rng.uniform(-ARM_INIT_NOISE, ARM_INIT_NOISE, size=3)
        while True:
            puck = rng.uniform(PUCK_LOW, PUCK_HIGH)
            if np.linalg.norm(puck - REJECT_CORNER) > REJECT_RADIUS:
                break
        qpos[_PUCK] = puck
        self.data.qpos[:] = qpos
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)
        obs = self._get_obs()
        return obs, self._reward_info(obs, np.zeros(3))[1]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Reward and info on the current (pre-action) observation, then ``frame_skip`` steps."""
        tau = np.clip(np.asarray(action, dtype=np.float64).reshape(3), -TORQUE_LIMIT, TORQUE_LIMIT)
        reward, info = self._reward_info(self._get_obs(), tau)  # pre-action, as the original
        self.data.ctrl[:] = tau
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        # mj_step leaves subtree_com at the pre-integration state: refresh the positions.
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        return self._get_obs(), reward, False, False, info
