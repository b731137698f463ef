"""examples/point_maze.py --quick runs the whole hierarchy pipeline and ends with one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from softskills.hierarchy import run_policy
from softskills.skills.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def test_point_maze_example_quick(tmp_path: Path) -> None:
    out = tmp_path / "pm"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "point_maze.py"), "--quick", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    m = json.loads(lines[-1])
    assert m["example"] == "point_maze" and m["quick"] and m["flat_env_steps"] == m["high_steps"] * m["repeat"]
    assert set(m["success"]) == {"hierarchy", "flat SAC", "3-layer stack"}
    for name, rate in m["success"].items():  # the printed lines and the JSON agree
        assert f"{name}: {rate:.0%} success" in proc.stdout
    # and they are the saved runs' rates: evaluate each run again in a fresh process, one torch thread as the
    # example's main() sets, with the example's own function and defaults
    runs = {"hierarchy": "hierarchy", "flat SAC": "flat", "3-layer stack": "three/l2"}
    script = ("import json, sys, torch; torch.set_num_threads(1); sys.path.insert(0, %r); "
              "from tests.example_module import load_example; ex = load_example('point_maze'); "
              "print(json.dumps({k: ex.rollouts(ex.Path(%r) / v)[:2] for k, v in %r.items()}))") % (
                  str(ROOT), str(out), runs)
    again = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    replayed = json.loads(again.stdout.strip().splitlines()[-1])
    assert replayed == {k: [m["success"][k], m["final_distance"][k]] for k in runs}
    assert Path(m["png"]).read_bytes()[:4] == b"\x89PNG"
    _, meta, _ = load_checkpoint(out / "hierarchy")
    assert meta["run_info"]["stacked_on"] == str((out / "primitive").resolve())
    assert meta["step"] == m["high_steps"]
    assert len(run_policy(out / "three" / "l2").layers) == 3
