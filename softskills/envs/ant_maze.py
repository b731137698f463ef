"""The sparse-reward Ant mazes of the LSP hierarchy experiment (thesis ch. 7.4, Figure 7.5).

Port of haarnoja/sac's ``cross_maze_ant_env.py`` / ``simple_maze_ant_env.py`` (originals.md
§1.6) onto the Gymnasium Ant-v5 model. The walls are static boxes added to gymnasium's
``ant.xml`` with ``mujoco.MjSpec`` (see :class:`softskills.envs.ant_velocity.AntCore`), with
``contype = conaffinity = 1`` and ``z ∈ [-0.5, 1.5]``, at sac's coordinates.

Reward, as actually run (§1.6 "maze task config as run", commit ``5f46387``; thesis appendix
C): +``goal_reward`` (1000) when the torso subtree COM is strictly within ``goal_radius`` (2 m)
of the goal, which ends the episode; nothing else (no velocity, control, contact or survive
terms). This is the sparse config of ``5f46387``. Master's ``variants.py`` leaves out
``reward_type`` and so falls back to dense, which does not match the paper. Each goal is its
own env (the original's ``fixed_goal_position``), so the goal is not in the observation.

Unhealthy termination (torso ``qpos[2]`` outside ``[0.2, 1.0]``) is kept, as in the original
(``done = unhealthy or reached``). With a sparse reward a flipped ant can collect nothing, so
ending the episode loses no reward and saves samples. ``terminate_when_unhealthy=False`` turns
it off.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces, utils

from softskills.envs.ant_velocity import ANT_OBS_DIM, FRAME_SKIP, HEALTHY_Z_RANGE, AntCore

__all__ = [
    "ANT_MAZE_OBS_DIM",
    "AntMazeEnv",
    "CROSS_MAZE_GOALS",
    "CROSS_MAZE_WALLS",
    "MAZES",
    "SIMPLE_MAZE_GOALS",
    "SIMPLE_MAZE_WALLS",
    "WALL_Z",
]

ANT_MAZE_OBS_DIM = ANT_OBS_DIM + 2
"""Maze observation: the AntVelocity observation (first :data:`ANT_OBS_DIM`) ‖ subtree-COM xy."""

WALL_Z: tuple[float, float] = (-0.5, 1.5)
"""Vertical extent ``(z_min, z_max)`` of every wall (originals.md §1.6)."""

CROSS_MAZE_WALLS = np.array(
    [
        # west corridor (the ant starts at the origin)
        [1.0, -2.5, 3.0, 0.5],  # wall-0: x [-2, 4], y [-3, -2]
        [-2.0, 0.0, 0.5, 3.0],  # wall-1: x [-2.5, -1.5], y [-3, 3]
        [1.0, 2.5, 3.0, 0.5],  # wall-2: x [-2, 4], y [2, 3]
        # north arm
        [3.5, 5.0, 0.5, 3.0],  # wall-3: x [3, 4], y [2, 8]
        [6.0, 7.5, 3.0, 0.5],  # wall-4: x [3, 9], y [7, 8]
        [8.5, 5.0, 0.5, 3.0],  # wall-5: x [8, 9], y [2, 8]
        # east arm
        [11.0, -2.5, 3.0, 0.5],  # wall-6: x [8, 14], y [-3, -2]
        [13.5, 0.0, 0.5, 3.0],  # wall-7: x [13, 14], y [-3, 3]
        [11.0, 2.5, 3.0, 0.5],  # wall-8: x [8, 14], y [2, 3]
        # south arm
        [3.5, -5.0, 0.5, 3.0],  # wall-9: x [3, 4], y [-8, -2]
        [6.0, -7.5, 3.0, 0.5],  # wall-10: x [3, 9], y [-8, -7]
        [8.5, -5.0, 0.5, 3.0],  # wall-11: x [8, 9], y [-8, -2]
    ],
    dtype=np.float64,
)
"""The 12 cross-maze walls, rows ``(cx, cy, hx, hy)`` = centre and half-size (originals.md §1.6).

The corridors are 4 m wide. The west corridor x ∈ [-1.5, 4], y ∈ [-2, 2] opens into the junction
x ∈ [4, 8], which leads to the north arm (y up to 7), the south arm (y down to -7) and the east
arm (x up to 13).
"""

CROSS_MAZE_GOALS = np.array([[6.0, -6.0], [6.0, 6.0], [12.0, 0.0]], dtype=np.float64)
"""Cross-maze goals (south, north, east arm); the ``goal`` kwarg indexes this array."""

SIMPLE_MAZE_WALLS = np.array(
    [
        [3.5, 2.5, 5.5, 0.5],
        [8.5, -2.5, 0.5, 5.5],
        [6.0, -7.5, 3.0, 0.5],
        [3.5, -5.0, 0.5, 3.0],
        [1.0, -2.5, 3.0, 0.5],
        [-1.5, 0.0, 0.5, 3.0],
    ],
    dtype=np.float64,
)
"""The 6 simple-maze (S-path) walls, rows ``(cx, cy, hx, hy)`` (originals.md §1.6)."""

SIMPLE_MAZE_GOALS = np.array([[6.0, -6.0]], dtype=np.float64)
"""The simple maze's single goal."""

MAZES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "cross": (CROSS_MAZE_WALLS, CROSS_MAZE_GOALS),
    "simple": (SIMPLE_MAZE_WALLS, SIMPLE_MAZE_GOALS),
}
"""The mazes by name: ``(walls, goals)``. ``softskills/AntCrossMaze-v0`` is ``maze="cross"`` and
``softskills/AntSimpleMaze-v0`` is ``maze="simple"``."""


class AntMazeEnv(AntCore):
    """Ant-v5 in a walled maze with a sparse goal reward (originals.md §1.6).

    ``r = goal_reward·1[‖xy − g‖ < goal_radius]``, where xy is the torso subtree COM.
    Reaching the goal terminates the episode, and so does an unhealthy torso height unless
    ``terminate_when_unhealthy=False``. The horizon (1000 steps) comes from the registration's
    ``max_episode_steps``.

    Observation (:data:`ANT_MAZE_OBS_DIM`): the :class:`AntVelocityEnv` observation first, the
    same features in the same order, then the subtree-COM ``(x, y)``. A primitive trained on
    AntVelocity therefore reads ``obs[:ANT_OBS_DIM]``. ``info`` has ``success`` (within the
    radius this step), ``goal_distance``, ``goal_position``, and AntVelocity's ``xy_position``
    / ``xy_velocity`` keys.

    Args:
        maze: ``"cross"`` (:data:`CROSS_MAZE_WALLS`; ``goal`` 0, 1, 2 = (6, −6), (6, 6), (12, 0)) or
            ``"simple"`` (the S-shaped :data:`SIMPLE_MAZE_WALLS`, with its one goal (6, −6)); see :data:`MAZES`.
        goal: index into the maze's goals.
        goal_reward: reward on reaching the goal.
        goal_radius: the goal is reached strictly inside this distance.
        progress_reward: weight ``w`` of an optional dense term ``w·(d_t − d_{t+1})``, the
            progress towards the goal in this step (``d`` the distance of the torso subtree COM
            to the goal). 0, the default, is the original's sparse task. Not in the original:
            it is the potential-based shaping of Ng et al. (1999) with ``Φ = −w·d`` and no
            discount, so over an episode it sums to ``w·(d_0 − d_T)`` and cannot be farmed by
            circling. With γ < 1 it does not leave the optimal policy exactly unchanged.
        terminate_when_unhealthy: end the episode when the torso height is outside
            ``healthy_z_range``.
        healthy_z_range: healthy torso height range.
        reset_noise_scale: v5's reset noise scale.
        frame_skip: physics steps of 0.01 s per env step (``AntCore``); must match the primitive's.
        render_mode: as in ``MujocoEnv``.
    """

    def __init__(
        self,
        maze: str = "cross",
        goal: int = 0,
        goal_reward: float = 1000.0,
        goal_radius: float = 2.0,
        progress_reward: float = 0.0,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = HEALTHY_Z_RANGE,
        reset_noise_scale: float = 0.1,
        frame_skip: int = FRAME_SKIP,
        render_mode: str | None = None,
    ) -> None:
        if maze not in MAZES:
            raise ValueError(f"maze must be one of {sorted(MAZES)}; got {maze!r}")
        walls, goals = MAZES[maze]
        self.maze = maze
        is_int = isinstance(goal, (int, np.integer)) and not isinstance(goal, bool)
        if not is_int or not 0 <= goal < len(goals):
            raise ValueError(
                f"goal must be an int index in [0, {len(goals)}) into the goals "
                f"{goals.tolist()}; got {goal!r}"
            )
        if goal_radius <= 0.0:
            raise ValueError(f"goal_radius must be positive; got {goal_radius}")
        if not np.isfinite(progress_reward) or progress_reward < 0.0:
            raise ValueError(f"progress_reward must be a finite number >= 0; got {progress_reward!r}")
        self.progress_reward = float(progress_reward)
        self.goal_index = int(goal)
        self.goal_position = goals[self.goal_index].copy()
        self.goal_reward = float(goal_reward)
        self.goal_radius = float(goal_radius)
        self.walls = np.asarray(walls, dtype=np.float64).copy()
        low = (self.walls[:, :2] - self.walls[:, 2:]).min(0)
        high = (self.walls[:, :2] + self.walls[:, 2:]).max(0)
        lookat = np.append((low + high) / 2.0, 0.0)  # top-down view of the whole maze
        camera = {"distance": 25.0, "elevation": -90.0, "lookat": lookat}
        super().__init__(
            walls=self.walls,
            wall_z=WALL_Z,
            target=(float(self.goal_position[0]), float(self.goal_position[1]), self.goal_radius),
            healthy_z_range=healthy_z_range,
            terminate_when_unhealthy=terminate_when_unhealthy,
            reset_noise_scale=reset_noise_scale,
            frame_skip=frame_skip,
            render_mode=render_mode,
            default_camera_config=camera,
        )
        self.observation_space = spaces.Box(-np.inf, np.inf, (ANT_MAZE_OBS_DIM,), np.float64)
        utils.EzPickle.__init__(
            self, maze, goal, goal_reward, goal_radius, progress_reward, terminate_when_unhealthy, healthy_z_range,
            reset_noise_scale, frame_skip, render_mode,
        )  # fmt: skip

    def _get_obs(self) -> np.ndarray:
        """The layout contract: AntVelocity's observation first, then the subtree-COM xy."""
        return np.concatenate((self.velocity_obs(), self.xy))

    def goal_distance(self) -> float:
        """Distance from the torso subtree COM to the goal."""
        return float(np.linalg.norm(self.xy - self.goal_position))

    def _goal_info(self) -> dict[str, Any]:
        dist = self.goal_distance()
        return {
            "success": dist < self.goal_radius,
            "goal_distance": dist,
            "goal_position": self.goal_position.copy(),
        }

    def _task(
        self, action: np.ndarray, xy_velocity: np.ndarray
    ) -> tuple[float, bool, dict[str, Any]]:
        info = self._goal_info()
        reward = self.goal_reward if info["success"] else 0.0
        if self.progress_reward:
            before = float(np.linalg.norm(self.xy - xy_velocity * self.dt - self.goal_position))
            info["progress"] = before - info["goal_distance"]
            reward += self.progress_reward * info["progress"]
        return reward, bool(info["success"]), info

    def _get_reset_info(self) -> dict[str, Any]:
        return {**super()._get_reset_info(), **self._goal_info()}
