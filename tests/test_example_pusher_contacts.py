"""examples/pusher_contacts.py: the quick run on the committed constituents, its JSON line, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.example_module import load_example

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "pusher_contacts.py"
CONSTITUENTS = ROOT / "snapshots" / "pusher-sac-realnvp-500k"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_quick_run_reports_every_skill_and_matches_the_examples_distances() -> None:
    proc = run(str(CONSTITUENTS), "--quick")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["example"] == "pusher_contacts" and out["episodes"] == 5 and len(out["skills"]) == 4
    dist = load_example("compose_pusher").final_distances(CONSTITUENTS, 5, 10_000)[0]
    for k, s in enumerate(out["skills"]):
        assert s["final_distance"]["mean"] == pytest.approx(float(dist[k].mean()), abs=1e-12)
        shares = [s["all"][c] for c in ("cradle", "tip", "other")]
        assert s["all"]["pushes"] > 0 and sum(shares) == pytest.approx(1.0)
        assert s["beyond"]["pushes"] <= s["all"]["pushes"]


def test_classify_sorts_by_where_the_puck_sits_in_the_fork() -> None:
    classify = load_example("pusher_contacts").classify
    pts = np.array([[0.14, 0.0], [0.24, 0.19], [0.3, 0.2], [0.34, -0.2], [0.1, 0.3], [-0.2, 0.0]])
    np.testing.assert_array_equal(classify(pts), [0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize(("args", "message"), [
    (["--episodes", "0"], "--episodes must be positive"),
    (["--resample", "-1"], "--resample must be >= 0"),
    (["--radius", "0"], "--radius must be positive"),
])
def test_bad_input_is_refused(args: list[str], message: str) -> None:
    proc = run(str(CONSTITUENTS), *args)
    assert proc.returncode == 2 and message in proc.stderr


def test_a_directory_without_a_run_is_refused(tmp_path: Path) -> None:
    proc = run(str(tmp_path))
    assert proc.returncode == 2 and "not a saved run directory" in proc.stderr
