"""The Ant environments of the latent-space hierarchy (thesis ch. 7.4; originals.md §1.4–1.6).

The registry's entry points (``softskills.envs.ant:AntVelocityEnv`` and ``...:AntMazeEnv``, the latter
with ``maze="cross"`` or ``maze="simple"``) point here. The pretraining env is in
:mod:`softskills.envs.ant_velocity` and the mazes are in :mod:`softskills.envs.ant_maze`.
"""

from __future__ import annotations

from softskills.envs.ant_maze import (
    ANT_MAZE_OBS_DIM,
    CROSS_MAZE_GOALS,
    CROSS_MAZE_WALLS,
    SIMPLE_MAZE_GOALS,
    SIMPLE_MAZE_WALLS,
    MAZES,
    WALL_Z,
    AntMazeEnv,
)
from softskills.envs.ant_velocity import ANT_OBS_DIM, HEALTHY_Z_RANGE, AntVelocityEnv

__all__ = [
    "ANT_MAZE_OBS_DIM",
    "ANT_OBS_DIM",
    "CROSS_MAZE_GOALS",
    "CROSS_MAZE_WALLS",
    "HEALTHY_Z_RANGE",
    "MAZES",
    "SIMPLE_MAZE_GOALS",
    "SIMPLE_MAZE_WALLS",
    "WALL_Z",
    "AntMazeEnv",
    "AntVelocityEnv",
]
