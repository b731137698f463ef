"""A 2-D point-mass analog of the Ant hierarchy experiments, cheap enough for CPU tests.

Two envs share one dynamics (thesis ch. 7 and appendix D; originals.md §1.4-1.7):

* :class:`PointVelocityEnv` is the pretraining env of the locomotion primitive, with the
  reward of the Ant's "velocity in any direction" (originals.md §1.4):
  ``r = w_v ||v|| + survive - c ||a||^2`` (no contact cost for a point). It gives no
  direction, and the observation is the velocity only, with no position, so the env is
  translation invariant like the Ant primitive.
* :class:`PointMazeEnv` is the same point in a small cross-like maze with walls. Its reward is
  sparse, like the Ant cross maze as it was run (originals.md §1.6): ``goal_reward``
  (1000) within ``goal_radius`` of the goal, which ends the episode, and 0 otherwise.
  Layout contract: the maze observation is ``[PointVelocity observation, x, y]``, so a primitive
  trained on PointVelocity reads ``obs[:POINT_VELOCITY_OBS_DIM]`` (originals.md §1.7: the
  low level gets ``obs[:Ds_low]``).

Dynamics (time step ``DT = 0.2``): the action ``a`` is clipped to ``[-1, 1]^2`` and then to the
unit disk, giving ``u``, so every direction has the same top speed. The velocity is
``v' = inertia v + (1 - inertia) max_speed u``; the default ``inertia = 0`` is pure velocity
control. The displacement ``v' DT`` is resolved x first, then y, and each axis move stops at
the first wall face it would cross, so the point slides along walls and never enters one. On
a blocked axis the velocity becomes the displacement actually made divided by ``DT``.

Maze (:data:`MAZE_MAP`, 1-unit cells, start cell at the origin): a west start corridor leads
east to a junction at x = 2. From there an arm goes north, another south, and a third east.
The north and south arms hook back west. Goals, in the cross maze's order (south, north,
east): 0 ``(0, -2)``, 1 ``(0, 2)``, 2 ``(5, 0)``. Goals 0 and 1 need two turns, and the second
turn reverses x, so no constant action reaches them. Corridors are 1 unit wide and the goal
radius is 0.5, half the corridor width (the cross maze has 4 m corridors and radius 2).

Measured exploration statistics (1000 episodes of 200 steps, seed 0; success rates in %):

    goal  uniform  held R=3  held R=5  held R=10  scripted
    0     0.0      12.1      18.6      22.0       100
    1     0.1      9.2       16.4      21.6       100
    2     0.3      10.8      18.5      26.1       100

"uniform" draws a fresh uniform action every step, which is how flat SAC explores; its
random walk only covers about ``sqrt(T)`` steps of distance. "held R" draws a uniform
direction at full speed and holds it for R steps, like a high level that holds a primitive's
latent. "scripted" is the open-loop direction sequence :data:`SCRIPTED_DIRECTIONS` with
``repeat=5``; it arrives in 28 steps (goals 0 and 1) or 23 steps (goal 2). Reproduce with::

    python -c "from softskills.envs.point import exploration_table; print(exploration_table())"
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "DT",
    "GOAL_NAMES",
    "MAZE_GOALS",
    "MAZE_MAP",
    "POINT_MAZE_OBS_DIM",
    "POINT_VELOCITY_OBS_DIM",
    "SCRIPTED_DIRECTIONS",
    "WALLS",
    "Explorer",
    "PointMazeEnv",
    "PointVelocityEnv",
    "clip_motion",
    "exploration_table",
    "held_direction_explorer",
    "maze_from_map",
    "scripted_explorer",
    "success_rate",
    "uniform_explorer",
]

DT = 0.2
"""Seconds per env step; a step moves the point by ``v DT`` (at most 0.2 at the default speed)."""

POINT_VELOCITY_OBS_DIM = 2
"""PointVelocity observation ``[vx, vy]``; it is also the first block of the maze observation."""

POINT_MAZE_OBS_DIM = POINT_VELOCITY_OBS_DIM + 2
"""PointMaze observation ``[vx, vy, x, y]``."""

MAZE_MAP: tuple[str, ...] = (
    "#####   ",
    "#1..#   ",
    "###.####",
    "#S....2#",
    "###.####",
    "#0..#   ",
    "#####   ",
)
"""The maze on 1-unit cells: ``#`` is a wall, ``S`` the start (the origin), digits are goals."""

_SKIN = 1e-6  # walls are inflated by this much, so touching boxes leave no seam to slide through
_START_HALF_WIDTH = 0.25  # reset noise is clipped to this box, well inside the start cell


def maze_from_map(
    rows: tuple[str, ...], cell_size: float = 1.0
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Wall boxes and goal positions of a character map (``S`` at the origin, y pointing up).

    Runs of ``#`` within a row become one box each. Boxes of consecutive rows with the same
    x-extent are then merged.

    Args:
        rows: the map, top row first; it must contain exactly one ``S``.
        cell_size: side length of a cell.

    Returns:
        ``walls`` as a ``(N, 4)`` array of ``[xmin, ymin, xmax, ymax]`` and ``{goal digit: xy}``.
    """
    starts = [(i, j) for i, row in enumerate(rows) for j, ch in enumerate(row) if ch == "S"]
    if len(starts) != 1:
        raise ValueError(f"the map needs exactly one 'S', found {len(starts)}")
    si, sj = starts[0]
    boxes: list[list[float]] = []
    goals: dict[int, np.ndarray] = {}
    for i, row in enumerate(rows):
        y0, y1 = (si - i - 0.5) * cell_size, (si - i + 0.5) * cell_size
        j = 0
        while j < len(row):
            if row[j] == "#":
                k = j
                while k < len(row) and row[k] == "#":
                    k += 1
                boxes.append([(j - sj - 0.5) * cell_size, y0, (k - sj - 0.5) * cell_size, y1])
                j = k
                continue
            if row[j].isdigit():
                goals[int(row[j])] = np.array([(j - sj) * cell_size, (si - i) * cell_size])
            j += 1
    merged: list[list[float]] = []
    for box in boxes:  # rows come top-down: a box may extend the box right above it
        above = [
            m for m in merged if (m[0], m[2]) == (box[0], box[2]) and math.isclose(m[1], box[3])
        ]
        if above:
            above[0][1] = box[1]
        else:
            merged.append(box)
    return np.array(merged, dtype=np.float64), goals


WALLS, _GOALS = maze_from_map(MAZE_MAP)
WALLS.flags.writeable = False
"""Module constant walls ``(N, 4)``, ``[xmin, ymin, xmax, ymax]`` per box (for plots)."""

MAZE_GOALS = np.stack([_GOALS[g] for g in sorted(_GOALS)])
MAZE_GOALS.flags.writeable = False
"""Goal positions ``(3, 2)``: south hook, north hook, east arm (the cross maze's order)."""

GOAL_NAMES: tuple[str, ...] = ("south", "north", "east")
"""Names of the rows of :data:`MAZE_GOALS`."""

_E, _W, _N, _S = (1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)
SCRIPTED_DIRECTIONS: dict[int, np.ndarray] = {
    0: np.array([_E, _E, _S, _S, _W, _W]),
    1: np.array([_E, _E, _N, _N, _W, _W]),
    2: np.array([_E] * 5),
}
"""Per goal, unit directions that reach it when each is held for 5 steps at full speed."""


def clip_motion(position: np.ndarray, displacement: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """Move a point by ``displacement``, x first and then y, each axis stopping at the first wall.

    Each wall is inflated by ``1e-6``. A point that starts outside every (inflated) wall stays
    outside. It ends exactly on a face it hits and can slide along that face later.

    Args:
        position: ``(2,)`` start, outside every wall.
        displacement: ``(2,)`` intended move.
        walls: ``(N, 4)`` boxes ``[xmin, ymin, xmax, ymax]``.

    Returns:
        The new ``(2,)`` position (float64).
    """
    x_boxes, y_boxes = _axis_boxes(walls)
    x, y = float(position[0]), float(position[1])
    x = _clip_axis(x, float(displacement[0]), y, x_boxes)
    y = _clip_axis(y, float(displacement[1]), x, y_boxes)
    return np.array([x, y])


_AxisBoxes = list[tuple[float, float, float, float]]


def _axis_boxes(walls: np.ndarray) -> tuple[_AxisBoxes, _AxisBoxes]:
    """Inflated walls as ``(lo, hi, other_lo, other_hi)`` tuples for the x move and the y move."""
    skin = np.array([-_SKIN, -_SKIN, _SKIN, _SKIN])
    boxes = np.asarray(walls, dtype=np.float64).reshape(-1, 4) + skin
    x_boxes = [(float(b[0]), float(b[2]), float(b[1]), float(b[3])) for b in boxes]
    y_boxes = [(float(b[1]), float(b[3]), float(b[0]), float(b[2])) for b in boxes]
    return x_boxes, y_boxes


def _clip_axis(s: float, ds: float, other: float, boxes: _AxisBoxes) -> float:
    """Move ``s`` by ``ds`` along one axis at the fixed other coordinate, stopping at a wall face.

    Only walls whose extent on the other axis strictly holds ``other`` can block, so a point
    lying on a face slides along it.
    """
    target = s + ds
    if ds > 0.0:
        for lo, _, olo, ohi in boxes:
            if olo < other < ohi and s <= lo < target:
                target = lo
    elif ds < 0.0:
        for _, hi, olo, ohi in boxes:
            if olo < other < ohi and target < hi <= s:
                target = hi
    return target


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


class _PointMassEnv(gym.Env[np.ndarray, np.ndarray]):
    """Shared point dynamics, reset and validation; subclasses define the walls, obs and reward.

    Args:
        max_speed: top speed (units per second), reached for ``||a|| >= 1``.
        inertia: ``v' = inertia v + (1 - inertia) max_speed u``, in ``[0, 1)``; 0 is pure
            velocity control.
        reset_noise_scale: std of the normal noise on the start position and velocity.
        render_mode: unsupported (``None`` only); plot with :data:`WALLS` and ``info["position"]``.
    """

    metadata: dict[str, Any] = {"render_modes": []}
    walls: np.ndarray

    def __init__(
        self,
        max_speed: float = 1.0,
        inertia: float = 0.0,
        reset_noise_scale: float = 0.01,
        render_mode: str | None = None,
    ) -> None:
        name = type(self).__name__
        if render_mode is not None:
            raise ValueError(f"{name} does not render; got render_mode={render_mode!r}")
        if not (math.isfinite(max_speed) and max_speed > 0.0):
            raise ValueError(f"max_speed must be positive and finite, got {max_speed!r}")
        if not 0.0 <= inertia < 1.0:
            raise ValueError(f"inertia must lie in [0, 1), got {inertia!r}")
        if not (math.isfinite(reset_noise_scale) and reset_noise_scale >= 0.0):
            raise ValueError(f"reset_noise_scale must be non-negative, got {reset_noise_scale!r}")
        self.max_speed = float(max_speed)
        self.inertia = float(inertia)
        self.reset_noise_scale = float(reset_noise_scale)
        self.render_mode = render_mode
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.position = np.zeros(2, dtype=np.float64)
        self.velocity = np.zeros(2, dtype=np.float64)
        self._x_boxes, self._y_boxes = _axis_boxes(self.walls)

    def _reset_state(self, seed: int | None) -> None:
        gym.Env.reset(self, seed=seed)
        noise = self.np_random.normal(0.0, self.reset_noise_scale, size=4)
        self.position = np.clip(noise[:2], -_START_HALF_WIDTH, _START_HALF_WIDTH)
        self.velocity = np.clip(noise[2:], -self.max_speed, self.max_speed)

    def _move(self, action: np.ndarray) -> float:
        """Advance the point by one step; returns ``||a||^2`` of the box-clipped action."""
        a = np.asarray(action, dtype=np.float64).reshape(2)
        ax, ay = float(a[0]), float(a[1])
        if not (math.isfinite(ax) and math.isfinite(ay)):
            raise ValueError(f"action must be finite, got {a!r}")
        ax, ay = min(1.0, max(-1.0, ax)), min(1.0, max(-1.0, ay))
        sq = ax * ax + ay * ay
        scale = (1.0 - self.inertia) * self.max_speed / max(1.0, math.sqrt(sq))
        x0, y0 = float(self.position[0]), float(self.position[1])
        vx = self.inertia * float(self.velocity[0]) + scale * ax
        vy = self.inertia * float(self.velocity[1]) + scale * ay
        x = _clip_axis(x0, vx * DT, y0, self._x_boxes)
        y = _clip_axis(y0, vy * DT, x, self._y_boxes)
        # a blocked axis keeps only the displacement made; a free one keeps v exactly, so the
        # velocity (the primitive's observation) does not depend on where the point is
        vmax = self.max_speed
        if x != x0 + vx * DT:
            vx = min(vmax, max(-vmax, (x - x0) / DT))
        if y != y0 + vy * DT:
            vy = min(vmax, max(-vmax, (y - y0) / DT))
        self.velocity = np.array([vx, vy])
        self.position = np.array([x, y])
        return sq

    def snapshot(self) -> dict[str, list[float]]:
        """The simulator state as JSON (position and velocity), for exact resume."""
        return {"position": self.position.tolist(), "velocity": self.velocity.tolist()}

    def restore(self, state: dict[str, list[float]]) -> None:
        """Inverse of :meth:`snapshot`."""
        self.position = np.asarray(state["position"], dtype=np.float64)
        self.velocity = np.asarray(state["velocity"], dtype=np.float64)

    def _velocity_obs(self) -> np.ndarray:
        return self.velocity.astype(np.float32)


class PointVelocityEnv(_PointMassEnv):
    """Open plane; ``r = w_v ||v|| + survive - c ||a||^2``, never terminates (originals.md §1.4).

    The defaults are the Ant's: ``w_v = 1``, survive ``0.05``, ``c = 0.5 * 1e-2`` on the
    normalised action. ``v`` is the velocity after the step. The observation is ``v`` only
    (:data:`POINT_VELOCITY_OBS_DIM`). ``info`` has the reward terms, ``position`` and ``velocity``.

    Args:
        velocity_reward_weight: ``w_v``.
        survive_reward: constant bonus per step.
        ctrl_cost_coeff: ``c``, applied to the ``[-1, 1]``-clipped action.
        **kwargs: dynamics of :class:`_PointMassEnv` (``max_speed``, ``inertia``,
            ``reset_noise_scale``, ``render_mode``).
    """

    walls = np.zeros((0, 4), dtype=np.float64)

    def __init__(
        self,
        velocity_reward_weight: float = 1.0,
        survive_reward: float = 0.05,
        ctrl_cost_coeff: float = 0.5e-2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.velocity_reward_weight = _finite("velocity_reward_weight", velocity_reward_weight)
        self.survive_reward = _finite("survive_reward", survive_reward)
        self.ctrl_cost_coeff = _finite("ctrl_cost_coeff", ctrl_cost_coeff)
        if self.ctrl_cost_coeff < 0.0:
            raise ValueError(f"ctrl_cost_coeff must be non-negative, got {ctrl_cost_coeff!r}")
        high = np.full(POINT_VELOCITY_OBS_DIM, self.max_speed, dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    def _info(self) -> dict[str, Any]:
        return {"position": self.position.copy(), "velocity": self.velocity.copy()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start near the origin: position and velocity ``~ N(0, reset_noise_scale^2)``."""
        self._reset_state(seed)
        return self._velocity_obs(), self._info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move, then pay speed plus survive bonus minus control cost."""
        ctrl = self.ctrl_cost_coeff * self._move(action)
        speed = self.velocity_reward_weight * math.hypot(*self.velocity)
        info = self._info()
        info.update(reward_velocity=speed, reward_survive=self.survive_reward, reward_ctrl=-ctrl)
        return self._velocity_obs(), speed + self.survive_reward - ctrl, False, False, info


class PointMazeEnv(_PointMassEnv):
    """The point in :data:`MAZE_MAP` with a sparse goal reward (originals.md §1.6).

    The reward is ``goal_reward`` within ``goal_radius`` of the goal, which terminates the
    episode, and 0 everywhere else. The observation is ``[vx, vy, x, y]``: the
    PointVelocity observation first, then the position. ``info`` has ``success``,
    ``goal_distance`` (``||xy - goal||``), ``goal_position``, ``position`` and ``velocity``.

    Args:
        goal: index into :data:`MAZE_GOALS` (0 south, 1 north, 2 east).
        goal_reward: sparse reward paid on arrival (1000 in the Ant cross maze).
        goal_radius: arrival radius, half the corridor width by default.
        **kwargs: dynamics of :class:`_PointMassEnv`, which must match the primitive's env.
    """

    walls = WALLS

    def __init__(
        self, goal: int = 0, goal_reward: float = 1000.0, goal_radius: float = 0.5, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(goal, bool) or not isinstance(goal, (int, np.integer)):
            raise ValueError(f"goal must be an int index into MAZE_GOALS, got {goal!r}")
        if not 0 <= goal < len(MAZE_GOALS):
            raise ValueError(f"goal must be 0, 1 or 2 (one of {GOAL_NAMES}), got {goal}")
        self.goal = int(goal)
        self.goal_position = MAZE_GOALS[self.goal].copy()
        self.goal_reward = _finite("goal_reward", goal_reward)
        self.goal_radius = _finite("goal_radius", goal_radius)
        start_gap = math.hypot(*self.goal_position) - math.sqrt(2.0) * _START_HALF_WIDTH
        if not 0.0 < self.goal_radius < start_gap:
            raise ValueError(
                f"goal_radius must lie in (0, {start_gap:.3f}) so the start is outside it, "
                f"got {goal_radius!r}"
            )
        mins, maxs = WALLS[:, :2].min(0), WALLS[:, 2:].max(0)
        vmax = np.full(POINT_VELOCITY_OBS_DIM, self.max_speed)
        self.observation_space = spaces.Box(
            np.concatenate([-vmax, mins]).astype(np.float32),
            np.concatenate([vmax, maxs]).astype(np.float32),
            dtype=np.float32,
        )

    def _obs(self) -> np.ndarray:
        obs = np.empty(POINT_MAZE_OBS_DIM, dtype=np.float32)
        obs[:POINT_VELOCITY_OBS_DIM] = self._velocity_obs()
        obs[POINT_VELOCITY_OBS_DIM:] = self.position
        return obs

    def _info(self, distance: float, success: bool) -> dict[str, Any]:
        return {
            "success": success,
            "goal_distance": distance,
            "goal_position": self.goal_position.copy(),
            "position": self.position.copy(),
            "velocity": self.velocity.copy(),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start near the origin (west end of the start corridor), as :class:`PointVelocityEnv`."""
        self._reset_state(seed)
        return self._obs(), self._info(math.dist(self.position, self.goal_position), False)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move against the walls; pay ``goal_reward`` and terminate within ``goal_radius``."""
        self._move(action)
        distance = math.dist(self.position, self.goal_position)
        success = distance < self.goal_radius
        reward = self.goal_reward if success else 0.0
        return self._obs(), reward, success, False, self._info(distance, success)


Explorer = Callable[[np.ndarray, int], np.ndarray]
"""A scripted policy for one episode: ``(observation, step index) -> action``."""


def uniform_explorer(rng: np.random.Generator) -> Explorer:
    """A fresh uniform action in ``[-1, 1]^2`` every step (flat SAC's exploration)."""
    return lambda obs, t: rng.uniform(-1.0, 1.0, size=2)


def held_direction_explorer(rng: np.random.Generator, repeat: int) -> Explorer:
    """A uniform direction at full speed, redrawn every ``repeat`` steps (a held latent)."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    current = np.zeros(2)

    def act(obs: np.ndarray, t: int) -> np.ndarray:
        if t % repeat == 0:
            angle = rng.uniform(0.0, 2.0 * np.pi)
            current[:] = (np.cos(angle), np.sin(angle))
        return current.copy()

    return act


def scripted_explorer(goal: int, repeat: int = 5) -> Explorer:
    """Open loop: :data:`SCRIPTED_DIRECTIONS` ``[goal]``, each held ``repeat`` steps, then stop."""
    directions = SCRIPTED_DIRECTIONS[goal]

    def act(obs: np.ndarray, t: int) -> np.ndarray:
        k = t // repeat
        return directions[k].copy() if k < len(directions) else np.zeros(2)

    return act


def success_rate(
    env: PointMazeEnv,
    make_explorer: Callable[[np.random.Generator], Explorer],
    episodes: int,
    seed: int = 0,
    max_steps: int = 200,
) -> float:
    """Fraction of ``episodes`` (each at most ``max_steps``) that end with ``info["success"]``.

    Args:
        env: the maze (unwrapped, or wrapped with a time limit of at least ``max_steps``).
        make_explorer: builds the explorer of one episode from the shared generator.
        episodes: number of episodes; episode ``i`` resets with seed ``seed + i``.
        seed: seeds both the resets and the explorers' generator.
        max_steps: episode length (the registered ``max_episode_steps`` is 200).
    """
    if episodes < 1 or max_steps < 1:
        raise ValueError(f"episodes and max_steps must be >= 1, got {episodes} and {max_steps}")
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        policy = make_explorer(rng)
        for t in range(max_steps):
            obs, _, terminated, truncated, info = env.step(policy(obs, t))
            if terminated or truncated:
                break
        hits += bool(info["success"])
    return hits / episodes


def exploration_table(episodes: int = 1000, seed: int = 0) -> str:
    """The success rates (%) of the docstring's table, per goal, for the default maze."""
    lines = ["goal  uniform  held R=3  held R=5  held R=10  scripted"]
    for goal in range(len(MAZE_GOALS)):
        env = PointMazeEnv(goal=goal)
        rates = [success_rate(env, uniform_explorer, episodes, seed)]
        for repeat in (3, 5, 10):
            rates.append(
                success_rate(env, lambda g, r=repeat: held_direction_explorer(g, r), episodes, seed)
            )
        rates.append(success_rate(env, lambda g, k=goal: scripted_explorer(k), episodes, seed))
        lines.append(f"{goal:<4}  " + "  ".join(f"{100 * r:<7.1f}" for r in rates))
    return "\n".join(lines)
