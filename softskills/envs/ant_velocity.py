"""Gymnasium's Ant-v5 with the "velocity in any direction" reward of LSP pretraining.

Port of haarnoja/sac's ``MultiDirectionAntEnv`` (originals.md §1.4) onto the Gymnasium Ant-v5
model (§1.5, last item): the reward is the planar speed of the ant's centre of mass, whatever
its direction, plus a survive bonus, minus control and contact costs. No direction is given;
maximum entropy spreads the behaviour over all directions (thesis ch. 7.4, appendix D.1).

The module also holds :class:`AntCore`, the one subclass of gymnasium's ``AntEnv`` in
softskills. It compiles the Ant-v5 model through ``mujoco.MjSpec`` (so the maze envs can add
static walls), measures the position as the torso *subtree* centre of mass (rllab's
``get_body_com``, §1.5) and keeps v5's observation, which excludes the xy position.

Coefficient conversion (rllab: dt 0.02 s, ctrlrange ±150 with gear 1; v5: dt 0.05 s,
ctrlrange ±1 with gear 150):

* ``velocity_weight = 1.0``: ``‖v_xy‖`` is a rate (m/s), independent of dt. Here it is the
  subtree-COM displacement over the step divided by ``dt``.
* ``ctrl_cost_weight = 0.5·1e-2 = 5e-3`` on ``‖a‖²``: v5's ``a ∈ [-1, 1]`` with gear 150 is
  the same torque as rllab's ``a/150`` with gear 1, so the normalised action carries over
  exactly.
* ``contact_cost_weight = 0.5·1e-3 = 5e-4`` on ``‖clip(cfrc_ext, -1, 1)‖²``, all bodies (the
  world row is zero). Contact forces in N are dt-independent and mostly saturate the clip.
* ``survive_reward = 0.05``.

The costs and the bonus are kept *per step*, not converted as per-second rates. Converting them
as rates (``coeff/0.02 s · 0.05 s``) scales them by 2.5 but leaves the velocity term alone, so it
would change their weight relative to the speed. The other rate-consistent option scales every
term by 2.5; that keeps the relative weights but changes the reward-to-entropy ratio per step
(the original's ``scale_reward`` / α). Keeping all four coefficients as they are leaves both
unchanged: per step, the original's trade-offs and reward scale hold.

Other differences from rllab, kept from v5: the reset noise (uniform ±0.1 on qpos, N(0, 0.1²)
on qvel; rllab used N(0, 0.01²) on qpos), and the survive bonus is paid only while healthy, so it
is 0 on the terminating step (rllab paid it on that step too).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.ant_v5 import AntEnv

__all__ = ["ANT_OBS_DIM", "AntCore", "AntVelocityEnv", "FRAME_SKIP", "HEALTHY_Z_RANGE", "TORSO"]

ANT_OBS_DIM = 105
"""Ant-v5 observation size: ``qpos[2:]`` (13) ‖ ``qvel`` (14) ‖ clipped ``cfrc_ext[1:]`` (78)."""

HEALTHY_Z_RANGE: tuple[float, float] = (0.2, 1.0)
"""Torso height (``qpos[2]``) range outside which the episode terminates (originals.md §1.4)."""

FRAME_SKIP = 5
"""Ant-v5's physics steps (of 0.01 s) per env step, so ``dt = 0.05 s``; rllab's Ant used ``dt = 0.02 s``."""

TORSO = "torso"
"""Body whose subtree centre of mass is the ant's position (originals.md §1.5)."""


class AntCore(AntEnv):
    """Ant-v5 compiled through ``MjSpec`` with optional static walls; position = torso subtree COM.

    This is the only subclass of gymnasium's ``AntEnv`` in softskills. :class:`AntVelocityEnv`
    and the maze envs derive from it and differ only in the extra geometry and in
    :meth:`_task`, which gives the reward and the termination.

    After each step the kinematics are refreshed (``mj_kinematics`` + ``mj_comPos``), so
    ``data.subtree_com`` is the centre of mass of the returned state; ``mj_step`` alone would
    leave it up to one substep (0.01 s) stale. ``cfrc_ext`` is as v5 leaves it (``mj_rnePostConstraint`` after
    the step, originals.md §1.5), so the first :data:`ANT_OBS_DIM` observation entries are
    exactly Ant-v5's.

    Args:
        walls: static boxes ``(N, 4)`` with rows ``(cx, cy, hx, hy)`` (centre, half-size) and
            vertical extent ``wall_z``, or ``None``.
        wall_z: ``(z_min, z_max)`` of every wall.
        target: ``(x, y, radius)`` of a non-colliding visual sphere (a site), or ``None``.
        healthy_z_range: torso ``qpos[2]`` range of a healthy ant.
        terminate_when_unhealthy: end the episode when unhealthy.
        reset_noise_scale: v5's reset noise scale.
        ctrl_cost_weight: weight of ``‖a‖²`` (``control_cost``).
        contact_cost_weight: weight of ``‖clip(cfrc_ext, -1, 1)‖²`` (``contact_cost``).
        survive_reward: bonus per healthy step (``healthy_reward``).
        frame_skip: physics steps of 0.01 s per env step. Ant-v5's 5 gives 0.05 s; 2 gives rllab's
            0.02 s, the control step of the original primitives (originals.md §1.5).
        render_mode: as in ``MujocoEnv``.
        default_camera_config: as in ``MujocoEnv``.
    """

    def __init__(
        self,
        *,
        walls: np.ndarray | None = None,
        wall_z: tuple[float, float] = (-0.5, 1.5),
        target: tuple[float, float, float] | None = None,
        healthy_z_range: tuple[float, float] = HEALTHY_Z_RANGE,
        terminate_when_unhealthy: bool = True,
        reset_noise_scale: float = 0.1,
        ctrl_cost_weight: float = 0.0,
        contact_cost_weight: float = 0.0,
        survive_reward: float = 0.0,
        frame_skip: int = FRAME_SKIP,
        render_mode: str | None = None,
        default_camera_config: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(frame_skip, bool) or not isinstance(frame_skip, (int, np.integer)) or frame_skip < 1:
            raise ValueError(
                f"frame_skip must be an int >= 1 (physics steps of 0.01 s per env step); got {frame_skip!r}"
            )
        lo, hi = (float(v) for v in healthy_z_range)
        if not lo < hi:
            raise ValueError(
                f"healthy_z_range must be (low, high) with low < high; got {healthy_z_range}"
            )
        if reset_noise_scale < 0.0:
            raise ValueError(f"reset_noise_scale must be non-negative; got {reset_noise_scale}")
        if ctrl_cost_weight < 0.0 or contact_cost_weight < 0.0:
            raise ValueError(
                f"cost weights must be non-negative; got ctrl_cost_weight={ctrl_cost_weight}, "
                f"contact_cost_weight={contact_cost_weight}"
            )
        boxes = np.zeros((0, 4)) if walls is None else np.asarray(walls, dtype=np.float64)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or np.any(boxes[:, 2:] <= 0.0):
            raise ValueError(
                f"walls must be (N, 4) rows (cx, cy, hx, hy) with hx, hy > 0; got {boxes}"
            )
        if not wall_z[0] < wall_z[1]:
            raise ValueError(f"wall_z must be (z_min, z_max) with z_min < z_max; got {wall_z}")
        self._walls = boxes
        self._wall_z = (float(wall_z[0]), float(wall_z[1]))
        self._target = target
        super().__init__(
            xml_file="ant.xml",
            frame_skip=int(frame_skip),
            default_camera_config=default_camera_config or {"distance": 4.0},
            forward_reward_weight=0.0,
            ctrl_cost_weight=float(ctrl_cost_weight),
            contact_cost_weight=float(contact_cost_weight),
            healthy_reward=float(survive_reward),
            terminate_when_unhealthy=bool(terminate_when_unhealthy),
            healthy_z_range=(lo, hi),
            contact_force_range=(-1.0, 1.0),
            reset_noise_scale=float(reset_noise_scale),
            exclude_current_positions_from_observation=True,
            include_cfrc_ext_in_observation=True,
            render_mode=render_mode,
        )
        if self.observation_space.shape != (ANT_OBS_DIM,):
            raise RuntimeError(
                f"Ant-v5 observation is {self.observation_space.shape}, expected ({ANT_OBS_DIM},)"
            )
        self.torso_id = int(self.model.body(TORSO).id)
        self._floor_id = int(self.model.geom("floor").id)

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """Gymnasium's ``ant.xml`` through ``MjSpec``, plus the walls and the target site."""
        spec = mujoco.MjSpec.from_file(self.fullpath)
        z0, z1 = self._wall_z
        for i, (cx, cy, hx, hy) in enumerate(self._walls):
            geom = spec.worldbody.add_geom()
            geom.name = f"wall_{i}"
            geom.type = mujoco.mjtGeom.mjGEOM_BOX
            geom.pos = [cx, cy, 0.5 * (z0 + z1)]
            geom.size = [hx, hy, 0.5 * (z1 - z0)]
            geom.contype = 1
            geom.conaffinity = 1
            geom.condim = 3
            geom.rgba = [0.45, 0.45, 0.55, 1.0]
        if self._target is not None:
            tx, ty, radius = self._target
            site = spec.worldbody.add_site()
            site.name = "target"
            site.type = mujoco.mjtGeom.mjGEOM_SPHERE
            site.pos = [tx, ty, 0.0]
            site.size = [radius, 0.0, 0.0]
            site.rgba = [0.2, 0.8, 0.2, 0.3]
        model = spec.compile()
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        return model, mujoco.MjData(model)

    @property
    def xy(self) -> np.ndarray:
        """The torso subtree centre of mass in the plane (a copy)."""
        return self.data.subtree_com[self.torso_id, :2].copy()

    def touches_floor(self) -> bool:
        """Whether any geom of the ant touched the floor in the last physics step (maze walls do not count)."""
        ncon = self.data.ncon
        return bool(ncon and np.any(self.data.contact.geom[:ncon] == self._floor_id))

    def velocity_obs(self) -> np.ndarray:
        """The Ant-v5 observation (:data:`ANT_OBS_DIM` entries, no xy position)."""
        return AntEnv._get_obs(self)

    def _task(
        self, action: np.ndarray, xy_velocity: np.ndarray
    ) -> tuple[float, bool, dict[str, Any]]:
        """Reward, task termination and extra info of a step; subclasses define it."""
        raise NotImplementedError

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Simulate ``frame_skip`` substeps; velocity = subtree-COM displacement / ``dt``."""
        xy_before = self.xy
        self.do_simulation(action, self.frame_skip)
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        xy_velocity = (self.xy - xy_before) / self.dt
        reward, task_done, info = self._task(np.asarray(action, dtype=np.float64), xy_velocity)
        terminated = bool(task_done or (self._terminate_when_unhealthy and not self.is_healthy))
        info = {**self._xy_info(xy_velocity), **info}
        if self.render_mode == "human":
            self.render()
        return self._get_obs(), float(reward), terminated, False, info

    def _xy_info(self, xy_velocity: np.ndarray) -> dict[str, Any]:
        xy = self.xy
        return {
            "xy_position": xy,
            "xy_velocity": xy_velocity.copy(),
            "x_position": float(xy[0]),
            "y_position": float(xy[1]),
            "x_velocity": float(xy_velocity[0]),
            "y_velocity": float(xy_velocity[1]),
        }

    def _get_reset_info(self) -> dict[str, Any]:
        return self._xy_info(np.zeros(2))


class AntVelocityEnv(AntCore):
    """Ant-v5 rewarded for planar speed in any direction (originals.md §1.4, thesis ch. 7.4).

    ``r = velocity_weight·‖v_xy‖ + survive_reward·1[healthy] − ctrl_cost_weight·‖a‖²
    − contact_cost_weight·‖clip(cfrc_ext, −1, 1)‖² − airborne_cost·1[no floor contact]``, where
    ``v_xy`` is the torso subtree-COM displacement over the step divided by ``dt`` (0.05 s; 0.01 s x
    ``frame_skip``). The episode terminates when the torso height leaves ``healthy_z_range`` (or the
    state is not finite). The module docstring explains the coefficient conversion from rllab.

    Observation: the Ant-v5 observation (:data:`ANT_OBS_DIM`, xy excluded). ``info`` has
    ``xy_position``/``xy_velocity`` (subtree COM, arrays), their scalar ``x_/y_`` parts, and the
    reward terms ``reward_velocity``, ``reward_survive``, ``reward_ctrl``, ``reward_contact``,
    ``reward_airborne``, and ``airborne`` (no floor contact in the step's last physics step).

    Args:
        velocity_weight: weight of ``‖v_xy‖``.
        survive_reward: bonus per healthy step.
        ctrl_cost_weight: weight of ``‖a‖²``.
        contact_cost_weight: weight of the clipped contact forces' squared norm.
        airborne_cost: a cost per step in which no part of the ant touches the floor (default 0, as
            the original). Not the thesis' reward: it discourages the hopping gait that the
            original reward allows (docs/ant.md, "Ant cross maze"), and is recorded in a run's env kwargs.
        healthy_z_range: healthy torso height range.
        terminate_when_unhealthy: end the episode when unhealthy.
        reset_noise_scale: v5's reset noise scale.
        frame_skip: physics steps of 0.01 s per env step (:class:`AntCore`).
        render_mode: as in ``MujocoEnv``.
    """

    def __init__(
        self,
        velocity_weight: float = 1.0,
        survive_reward: float = 0.05,
        ctrl_cost_weight: float = 5e-3,
        contact_cost_weight: float = 5e-4,
        healthy_z_range: tuple[float, float] = HEALTHY_Z_RANGE,
        terminate_when_unhealthy: bool = True,
        reset_noise_scale: float = 0.1,
        frame_skip: int = FRAME_SKIP,
        render_mode: str | None = None,
        airborne_cost: float = 0.0,
    ) -> None:
        self.velocity_weight = float(velocity_weight)
        if not np.isfinite(airborne_cost) or airborne_cost < 0.0:
            raise ValueError(f"airborne_cost must be a finite number >= 0, got {airborne_cost}")
        self.airborne_cost = float(airborne_cost)
        super().__init__(
            healthy_z_range=healthy_z_range,
            terminate_when_unhealthy=terminate_when_unhealthy,
            reset_noise_scale=reset_noise_scale,
            ctrl_cost_weight=ctrl_cost_weight,
            contact_cost_weight=contact_cost_weight,
            survive_reward=survive_reward,
            frame_skip=frame_skip,
            render_mode=render_mode,
        )
        utils.EzPickle.__init__(
            self,
            velocity_weight,
            survive_reward,
            ctrl_cost_weight,
            contact_cost_weight,
            healthy_z_range,
            terminate_when_unhealthy,
            reset_noise_scale,
            frame_skip,
            render_mode,
            airborne_cost,
        )

    def _task(
        self, action: np.ndarray, xy_velocity: np.ndarray
    ) -> tuple[float, bool, dict[str, Any]]:
        velocity = self.velocity_weight * float(np.linalg.norm(xy_velocity))
        survive = float(self.healthy_reward)
        ctrl = float(self.control_cost(action))
        contact = float(self.contact_cost)
        airborne = not self.touches_floor()
        air = self.airborne_cost * airborne
        info = {
            "reward_velocity": velocity,
            "reward_survive": survive,
            "reward_ctrl": -ctrl,
            "reward_contact": -contact,
            "reward_airborne": -air,
            "airborne": airborne,
        }
        return velocity + survive - ctrl - contact - air, False, info
