"""``softskills eval``'s summary of the episodes' last ``info``: which values it keeps and how it averages them."""

from __future__ import annotations

import numpy as np
import pytest

from softskills.cli import _final_info


def test_final_info_keeps_finite_real_scalars_of_every_episode() -> None:
    rows = [
        [{"goal_distance": 0.5, "steps": np.int64(3), "success": True, "puck_xy": np.zeros(2), "goal": "(-1, -1)",
          "nan": float("nan"), "partial": 1.0, "z": np.float32(2.0)},
         {"goal_distance": np.float64(0.1), "steps": 5, "success": False, "puck_xy": np.ones(2), "goal": "(-1, -1)",
          "nan": 1.0, "z": np.array(4.0)}],
        [{"goal_distance": 0.3, "steps": 7, "success": True, "puck_xy": np.zeros(2), "goal": "x", "nan": 0.0,
          "partial": 2.0, "z": 0.0},
         {"goal_distance": 0.7, "steps": 9, "success": True, "puck_xy": np.zeros(2), "goal": "x", "nan": 0.0,
          "partial": 3.0, "z": 6.0}],
    ]
    out = _final_info(rows)
    # booleans, arrays, strings, a key with a NaN and a key one episode lacks are left out
    assert list(out) == ["goal_distance", "steps", "z"]
    d = out["goal_distance"]
    assert d["mean"] == pytest.approx(0.4) and d["std"] == pytest.approx(np.std([0.5, 0.1, 0.3, 0.7]))
    assert (d["min"], d["max"]) == (pytest.approx(0.1), pytest.approx(0.7))
    assert d["per_skill"] == [pytest.approx(0.3), pytest.approx(0.5)]
    assert out["steps"]["per_skill"] == [4.0, 8.0] and out["z"]["max"] == 6.0
    assert _final_info([]) == {} and _final_info([[{"success": True}]]) == {}
