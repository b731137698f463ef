"""Every example and benchmark runs in its quick mode and ends with one JSON line of metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_benchmarks_speed import GLIBC

ROOT = Path(__file__).resolve().parents[1]


def run_script(args: list[str], cwd: Path) -> dict:
    """Run a script; return its last stdout line as JSON, with the run's wall time as ``_wall_s``."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    return {**json.loads(last), "_wall_s": wall}


def test_flow_policy_example_quick(tmp_path: Path) -> None:
    pytest.importorskip("nflows")
    m = run_script([str(ROOT / "examples" / "flow_policy.py"), "--quick", "--out", str(tmp_path / "fp")], tmp_path)
    assert set(m) >= {"gaussian_return", "realnvp_return"}
    assert (tmp_path / "fp" / "curves.png").exists()
    # The returns are the two saved policies' own: evaluate them again the way the trainer's final
    # evaluation does, in a fresh process like the example's (same default torch threads).
    script = ("import json; from softskills.skills.evaluate import evaluate; "
              "from softskills.skills.factory import default_env_factory; "
              "from softskills.skills.trainer import load_agent\nout = {}\n"
              "for pol in ('gaussian', 'realnvp'):\n"
              "    agent, cfg = load_agent(%r + '/' + pol)\n"
              "    out[pol] = float(evaluate(agent, default_env_factory(cfg)(cfg.eval_episodes), "
              "seed=10_000 + cfg.seed).returns.mean())\n"
              "print(json.dumps(out))") % str(tmp_path / "fp")
    again = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    rets = json.loads(again.stdout.strip().splitlines()[-1])
    assert m["gaussian_return"] == pytest.approx(rets["gaussian"], rel=1e-6)
    assert m["realnvp_return"] == pytest.approx(rets["realnvp"], rel=1e-6)
    assert m["gaussian_return"] != m["realnvp_return"]


SAC_KEYS = {"skills", "policy", "device", "precision", "threads", "updates_per_s", "per_skill_updates_per_s",
            "rounds", "updates_per_round", "warmup_updates", "optimizer_steps"}


def test_sac_update_benchmark_json(tmp_path: Path) -> None:
    """The benchmark ran the requested updates (the agent's own Adam step count says so) and the
    time its rate implies for them fits in the process's wall time."""
    updates, rounds = 20, 2
    m = run_script([str(ROOT / "benchmarks" / "sac_update.py"), "--skills", "2", "--updates", str(updates),
                    "--rounds", str(rounds), "--no-sb3", "--json"], tmp_path)
    assert set(m) >= SAC_KEYS and not any(k.startswith("sb3") for k in m)
    assert m["skills"] == 2 and m["policy"] == "gaussian"
    assert m["retain_freed_memory"] is GLIBC  # on by default
    assert (m["rounds"], m["updates_per_round"]) == (rounds, updates)
    assert m["optimizer_steps"] == m["warmup_updates"] + rounds * updates
    # with 2 rounds the median round is their mean: rounds * updates / rate is the timed span
    assert 0 < rounds * updates / m["updates_per_s"] < m["_wall_s"]


def test_sac_update_benchmark_compares_policies(tmp_path: Path) -> None:
    """With --compare-policy both agents run every round (each one's own step count) and the ratios are reported."""
    updates, rounds = 5, 2
    m = run_script([str(ROOT / "benchmarks" / "sac_update.py"), "--skills", "2", "--policy", "realnvp",
                    "--compare-policy", "gaussian", "--updates", str(updates), "--rounds", str(rounds), "--no-sb3",
                    "--json"], tmp_path)
    assert set(m) >= SAC_KEYS | {"gaussian_per_skill_updates_per_s", "gaussian_optimizer_steps",
                                 "time_ratio_realnvp_vs_gaussian", "time_ratio_realnvp_vs_gaussian_paired"}
    assert m["policy"] == "realnvp"
    assert m["optimizer_steps"] == m["gaussian_optimizer_steps"] == m["warmup_updates"] + rounds * updates
    assert m["time_ratio_realnvp_vs_gaussian_paired"] > 0
    timed = rounds * updates * (1 / m["updates_per_s"] + m["skills"] / m["gaussian_per_skill_updates_per_s"])
    assert 0 < timed < m["_wall_s"]


def test_stacking_benchmark_json(tmp_path: Path) -> None:
    """Every contender ran the warm-up plus rounds x calls (its own call count), and the time its
    per-call figure implies for them fits in the process's wall time."""
    calls, rounds = 10, 2
    m = run_script([str(ROOT / "benchmarks" / "stacking.py"), "--skills", "2", "--rounds", str(rounds),
                    "--calls", str(calls), "--json"], tmp_path)
    contenders = ("baddbmm", "vmap", "flow_flat", "flow_vmap")
    assert set(m) >= {"skills", "threads", "vmap_over_baddbmm", "flow_vmap_over_flat", "calls_run",
                      *(f"{c}_ms" for c in contenders)}
    assert m["skills"] == 2 and (m["rounds"], m["calls_per_round"]) == (rounds, calls)
    assert m["calls_run"] == {c: m["warmup_calls"] + rounds * calls for c in contenders}
    timed = sum(rounds * calls * m[f"{c}_ms"] / 1e3 for c in contenders)
    assert all(m[f"{c}_ms"] > 0 for c in contenders) and timed < m["_wall_s"]
