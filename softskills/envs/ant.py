"""The Ant environments of the latent-space hierarchy (thesis ch. 7.4; originals.md §1.4–1.6).

The registry's entry points (``softskills.envs.ant:AntVelocityEnv``, ``...:AntCrossMazeEnv``,
``...:AntSimpleMazeEnv``) point here. The pretraining env is in
:mod:`softskills.envs.ant_velocity` and the mazes are in :mod:`softskills.envs.ant_maze`.
"""

from __future__ import annotations

from softskills.envs.ant_maze import (
    ANT_MAZE_OBS_DIM,
    CROSS_MAZE_GOALS,
    CROSS_MAZE_WALLS,
    SIMPLE_MAZE_GOALS,
    SIMPLE_MAZE_WALLS,
    WALL_Z,
    AntCrossMazeEnv,
    AntMazeEnv,
    AntSimpleMazeEnv,
)
from softskills.envs.ant_velocity import ANT_OBS_DIM, HEALTHY_Z_RANGE, AntVelocityEnv

__all__ = [
    "ANT_MAZE_OBS_DIM",
    "ANT_OBS_DIM",
    "CROSS_MAZE_GOALS",
    "CROSS_MAZE_WALLS",
    "HEALTHY_Z_RANGE",
    "SIMPLE_MAZE_GOALS",
    "SIMPLE_MAZE_WALLS",
    "WALL_Z",
    "AntCrossMazeEnv",
    "AntMazeEnv",
    "AntSimpleMazeEnv",
    "AntVelocityEnv",
]
