"""examples/ant_maze_planner.py: the quick run, the corridor distance, and a planner that really steers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from softskills.hierarchy import pretrained
from tests.example_module import load_example

ROOT = Path(__file__).resolve().parents[1]


def _example():  # type: ignore[no-untyped-def]
    return load_example("ant_maze_planner")


def test_quick_run_writes_png_and_json(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze_planner.py"), "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    assert m["example"] == "ant_maze_planner" and m["quick"] and m["goals"] == [1]
    assert len(m["episode_rows"]) == 1 and m["episode_rows"][0]["env_steps"] == 30
    assert (tmp_path / "planner.png").stat().st_size > 1000
    assert json.loads((tmp_path / "planner.json").read_text())["results"] == m["results"]


def test_corridor_distance_goes_through_the_junction() -> None:
    ex = _example()
    south = np.array([6.0, -6.0])
    assert ex.corridor_distance(np.array([7.0, -5.0]), 0) == pytest.approx(np.linalg.norm([1.0, 1.0]))  # own arm
    assert ex.corridor_distance(np.array([5.0, 1.0]), 0) == pytest.approx(np.linalg.norm([1.0, 7.0]))  # junction
    # from the start, the wall between the west corridor and the south arm forces the way via (6, 0)
    assert ex.corridor_distance(np.zeros(2), 0) == pytest.approx(6.0 + 6.0)
    assert ex.corridor_distance(np.zeros(2), 0) > np.linalg.norm(south)
    assert ex.corridor_distance(np.array([6.0, 5.0]), 0) == pytest.approx(5.0 + 6.0)  # from the north arm
    assert [ex.region(np.array(p)) for p in ([0, 0], [6, 0], [6, 5], [6, -5], [10, 0])] == [
        "west", "junction", "north", "south", "east"]


def test_planner_steers_the_primitive_towards_the_goal() -> None:
    """A short planned episode towards the east goal closes most of the corridor distance; the same
    budget with the *worst* candidate chosen every time does not (so the choice is what steers)."""
    ex = _example()
    layer = pretrained("ant-velocity")
    start = ex.corridor_distance(np.zeros(2), 2)
    ep = ex.plan_episode(layer, goal=2, seed=0, candidates=6, horizon=15, execute=15, steps=200)
    moved = start - ex.corridor_distance(ep["path"][-1], 2)
    assert moved > 2.0, ep["final_distance"]

    ex.choose = lambda scores: int(np.argmax(scores))  # the worst lookahead instead
    worst = ex.plan_episode(layer, goal=2, seed=0, candidates=6, horizon=15, execute=15, steps=200)
    assert start - ex.corridor_distance(worst["path"][-1], 2) < moved - 2.0
