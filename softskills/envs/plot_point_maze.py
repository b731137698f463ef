"""Drawing the point-mass maze: its walls, the goal region and trajectories on one matplotlib axis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from softskills.envs.point import MAZE_GOALS, WALLS

__all__ = ["draw_point_maze"]


def draw_point_maze(ax: Any, paths: Sequence[np.ndarray], goal: int, title: str) -> None:
    """Draw the maze walls, goal ``goal``'s region (radius 0.5), the start and ``paths`` on ``ax``.

    Args:
        ax: a matplotlib ``Axes``.
        paths: xy trajectories, each ``(T, 2)``; empty ones are skipped.
        goal: index into ``MAZE_GOALS`` (0 south, 1 north, 2 east).
        title: the axis title.

    Raises:
        IndexError: ``goal`` is not an index of ``MAZE_GOALS``.
    """
    from matplotlib.patches import Circle, Rectangle

    centre = MAZE_GOALS[goal]
    for x0, y0, x1, y1 in WALLS:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, color="0.35"))
    ax.add_patch(Circle(centre, 0.5, color="tab:green", alpha=0.3))
    for p in paths:
        if len(p):
            ax.plot(p[:, 0], p[:, 1], lw=0.8, alpha=0.8)
    ax.plot(0, 0, "k*", ms=10)
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_xlim(WALLS[:, 0].min(), WALLS[:, 2].max())
    ax.set_ylim(WALLS[:, 1].min(), WALLS[:, 3].max())
