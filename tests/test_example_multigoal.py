"""examples/multigoal.py --quick trains SQL, SAC-Gaussian and SAC-Real-NVP and ends with one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from softskills.envs import GOALS
from softskills.envs.plot_multigoal import rollout_multigoal
from softskills.skills.loading import load_agent

ROOT = Path(__file__).resolve().parents[1]
METHODS = {"sql", "sac_gaussian", "sac_realnvp"}
EVAL_SEED = 10_000  # examples/multigoal.py: episode i resets with EVAL_SEED + seed + i, torch RNG seeded so



def replay_evaluation(run_dir: Path, episodes: int, seed: int) -> tuple[list[int], float, float]:
    """Goal indices, success rate and mean return of the example's evaluation, replayed from the checkpoint.

    Computed here from the final positions, without ``goals_reached`` or ``plot_multigoal``.
    """
    agent, _ = load_agent(run_dir)
    torch.manual_seed(EVAL_SEED + seed)
    with torch.no_grad():
        paths, returns = rollout_multigoal(agent, n_paths=episodes, seed=EVAL_SEED + seed)
    finals = np.stack([p[-1] for p in paths])
    dist = np.linalg.norm(finals[:, None, :] - GOALS[None, :, :], axis=-1)  # (episodes, 4)
    at_goal = dist.min(axis=1) < 1.0
    indices = sorted({int(g) for g in dist.argmin(axis=1)[at_goal]})
    return indices, float(at_goal.mean()), float(np.mean(returns))


def test_multigoal_example_quick(tmp_path: Path, one_thread: None) -> None:
    """The JSON's goals and success rates are those of the saved policies: replaying each
    checkpoint's evaluation (same seeds) gives exactly the same goal set, success rate and return."""
    out = tmp_path / "mg"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "multigoal.py"), "--quick", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    m = json.loads(lines[-1])
    assert m["example"] == "multigoal" and m["env"] == "softskills/MultiGoal-v0"
    assert m["steps"] == 200 and m["seed"] == 0 and m["episodes"] == 20
    assert set(m["goals_reached"]) == METHODS == set(m["pngs"]) == set(m["success_rate"]) == set(m["goal_indices"])
    for method in METHODS:
        indices, success, mean_return = replay_evaluation(out / method, m["episodes"], m["seed"])
        assert m["goal_indices"][method] == indices, method
        assert m["goals_reached"][method] == len(indices), method
        assert m["success_rate"][method] == pytest.approx(success, abs=1e-12), method
        assert m["mean_return"][method] == pytest.approx(mean_return, abs=0.006), method
        png = Path(m["pngs"][method])
        assert png == out / f"{method}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        summary = [line for line in lines[:-1] if line.strip().startswith(f"{method}:")]
        assert len(summary) == 1 and f"{len(indices)} of 4 goals (goals {indices})" in summary[0]
    print(f"multigoal --quick: {elapsed:.0f} s")
    assert elapsed < 240  # the budget is < 60 s on 2 idle cores; loose here for loaded CI machines
