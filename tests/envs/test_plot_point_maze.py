import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Circle, Rectangle  # noqa: E402

from softskills.envs.plot_point_maze import draw_point_maze  # noqa: E402
from softskills.envs.point import MAZE_GOALS, WALLS  # noqa: E402


@pytest.mark.parametrize("goal", [0, 1, 2])
def test_draws_walls_goal_start_and_nonempty_paths(goal):
    fig, ax = plt.subplots()
    paths = [np.array([[0.0, 0.0], [1.0, 0.5]]), np.zeros((0, 2)), np.array([[0.0, 0.0], [-0.5, 2.0], [1.0, 1.0]])]
    draw_point_maze(ax, paths, goal, "t")
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(rects) == len(WALLS)
    assert sorted((r.get_x(), r.get_y(), r.get_x() + r.get_width(), r.get_y() + r.get_height()) for r in rects) == \
        sorted(tuple(map(float, w)) for w in WALLS)
    assert len(circles) == 1 and np.allclose(circles[0].center, MAZE_GOALS[goal]) and circles[0].radius == 0.5
    lines = ax.get_lines()
    assert len(lines) == 3  # two non-empty paths and the start marker
    np.testing.assert_array_equal(lines[1].get_xydata(), paths[2])
    assert tuple(lines[2].get_xydata()[0]) == (0.0, 0.0) and lines[2].get_marker() == "*"
    assert ax.get_title() == "t"
    assert ax.get_xlim() == (WALLS[:, 0].min(), WALLS[:, 2].max())
    assert ax.get_ylim() == (WALLS[:, 1].min(), WALLS[:, 3].max())
    plt.close(fig)


def test_unknown_goal_is_an_index_error():
    fig, ax = plt.subplots()
    with pytest.raises(IndexError):
        draw_point_maze(ax, [], len(MAZE_GOALS), "t")
    plt.close(fig)
