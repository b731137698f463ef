"""Every example and benchmark runs in its quick mode and ends with one JSON line of metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_script(args: list[str], cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    return json.loads(last)


def test_flow_policy_example_quick(tmp_path: Path) -> None:
    pytest.importorskip("nflows")
    m = run_script([str(ROOT / "examples" / "flow_policy.py"), "--quick", "--out", str(tmp_path / "fp")], tmp_path)
    assert set(m) >= {"gaussian_return", "realnvp_return"}
    assert (tmp_path / "fp" / "curves.png").exists()


def test_sac_update_benchmark_json(tmp_path: Path) -> None:
    m = run_script([str(ROOT / "benchmarks" / "sac_update.py"), "--skills", "2", "--updates", "10", "--rounds", "1",
                    "--no-sb3", "--json"], tmp_path)
    assert m["skills"] == 2 and m["policy"] == "gaussian"
    assert m["per_skill_updates_per_s"] == pytest.approx(2 * m["updates_per_s"])


def test_sac_update_benchmark_compares_policies(tmp_path: Path) -> None:
    m = run_script([str(ROOT / "benchmarks" / "sac_update.py"), "--skills", "2", "--policy", "realnvp",
                    "--compare-policy", "gaussian", "--updates", "5", "--rounds", "2", "--no-sb3", "--json"], tmp_path)
    assert m["policy"] == "realnvp" and m["gaussian_per_skill_updates_per_s"] > 0
    assert m["time_ratio_realnvp_vs_gaussian_paired"] > 0


def test_stacking_benchmark_json(tmp_path: Path) -> None:
    m = run_script([str(ROOT / "benchmarks" / "stacking.py"), "--skills", "2", "--rounds", "1", "--calls", "2",
                    "--json"], tmp_path)
    assert m["skills"] == 2 and m["baddbmm_ms"] > 0 and m["vmap_ms"] > 0
