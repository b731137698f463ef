"""The training-speed benchmarks run in a tiny mode, do the work they were asked for, and end with one JSON line.

No timing assertions: only counts the scripts measured themselves (the trainer's ``step`` and
update count, SB3's ``num_timesteps`` and ``_n_updates``, the agent's Adam step count) and FLOP
counts checked against an independent hand count.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def run_json(args: list[str], cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"--json should print exactly one line, got {len(lines)}"
    return json.loads(lines[0])


MACHINE_KEYS = {"cpu", "cores", "torch", "avx512_bf16"}
GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
"""Whether ``retain_freed_memory`` can act here (it returns ``False`` without glibc)."""


def test_train_e2e_against_sb3(tmp_path: Path) -> None:
    """Both sides ran exactly the asked env steps and one update per step after the warm-up, and
    the marginal rate is what their own wall times give."""
    pytest.importorskip("stable_baselines3")
    short, long, warmup = 110, 250, 100
    m = run_json([str(BENCH / "train_e2e.py"), "--env", "Pendulum-v1", "--steps", str(short), str(long),
                  "--warmup", str(warmup), "--rounds", "1", "--threads", "1", "--json"], tmp_path)
    assert set(m) >= {"softskills_sps", "sb3_sps", "ratio_vs_sb3_paired", "ratio_vs_sb3_spread", "machine",
                      "softskills_per_skill_sps", "per_skill_ratio_vs_sb3_paired"}
    assert set(m["machine"]) >= MACHINE_KEYS
    assert m["retain_freed_memory"] is GLIBC  # on by default, for the whole process (both libraries)
    assert (m["env"], m["skills"], m["rounds"], m["steps"]) == ("Pendulum-v1", 1, 1, [short, long])
    for side in ("softskills", "sb3"):
        assert m[f"{side}_steps_run"] == m[f"{side}_steps_asked"] == [short, long]
        assert m[f"{side}_updates_run"] == [short - warmup, long - warmup]
        wall = m[f"{side}_wall_s"]
        assert m[f"{side}_sps"] == pytest.approx((long - short) / (wall[1] - wall[0]))
    assert m["ratio_vs_sb3_paired"] == pytest.approx(m["softskills_sps"] / m["sb3_sps"])
    # no files left behind in the working directory (softskills runs go to a temp dir)
    assert not any(tmp_path.iterdir())


def test_train_e2e_skills_realnvp_no_sb3(tmp_path: Path) -> None:
    """K skills step K envs per step: per-skill rate is K x the env-step rate; no SB3 keys without the peer."""
    pytest.importorskip("nflows")
    k, short, long, warmup = 2, 105, 140, 100
    m = run_json([str(BENCH / "train_e2e.py"), "--env", "Pendulum-v1", "--skills", str(k), "--policy", "realnvp",
                  "--steps", str(short), str(long), "--warmup", str(warmup), "--rounds", "2", "--threads", "1",
                  "--no-sb3", "--no-retain-freed-memory", "--json"], tmp_path)
    assert m["retain_freed_memory"] is False
    assert not any(key.startswith("sb3") or "ratio" in key for key in m)
    assert (m["skills"], m["policy"], m["precision"]) == (k, "realnvp", "fp32")
    assert m["softskills_steps_run"] == [short, long] * 2
    assert m["softskills_updates_run"] == [short - warmup, long - warmup] * 2
    assert len(m["softskills_sps_rounds"]) == 2
    assert m["softskills_per_skill_sps"] == pytest.approx(k * m["softskills_sps"])


def _macs_per_sample_gaussian(obs: int, act: int) -> int:
    """The hand count of one SAC update's GEMM multiply-adds per sample and skill (Gaussian policy)."""
    c1, c2, c3 = (obs + act) * 256, 256 * 256, 256  # one critic's layers
    p1, p2, p3 = obs * 256, 256 * 256, 256 * 2 * act  # the policy trunk's layers
    crit, pol = c1 + c2 + c3, p1 + p2 + p3
    target = pol + 2 * crit  # policy(s') and both target critics, forward only
    critic = 2 * crit + 2 * crit + 2 * (c2 + c3)  # forward, weight grads, input grads above layer 1
    policy = pol + pol + (p2 + p3)  # forward, weight grads, input grads above layer 1
    actor_q = 2 * crit + 2 * crit  # forward and input grads down to the action, detached weights
    return target + critic + policy + actor_q


def test_roofline_quick(tmp_path: Path) -> None:
    """FLOPs match the hand count and scale with K; every config ran the updates it timed."""
    m = run_json([str(BENCH / "roofline.py"), "--quick", "--skills", "1", "2", "--policies", "gaussian", "realnvp",
                  "--precisions", "fp32", "--threads", "1", "--json"], tmp_path)
    assert set(m["machine"]) >= MACHINE_KEYS
    assert m["retain_freed_memory"] is GLIBC
    rows = {(r["policy"], r["skills"], r["precision"]): r for r in m["configs"]}
    assert set(rows) == {(p, k, "fp32") for p in ("gaussian", "realnvp") for k in (1, 2)}
    g1 = rows["gaussian", 1, "fp32"]["flops_per_update"]
    assert g1 == 2 * 256 * _macs_per_sample_gaussian(17, 6) == 581_566_464
    # skills share nothing: FLOPs are exactly linear in K
    for pol in ("gaussian", "realnvp"):
        assert rows[pol, 2, "fp32"]["flops_per_update"] == 2 * rows[pol, 1, "fp32"]["flops_per_update"]
    # Real-NVP = the same-shaped trunk + 2 couplings of (3 + 12) -> 12 -> 6:
    # target forward, and forward + weight grads + input grads on the gradient path
    coupling = 2 * (15 * 12 + 12 * 6)
    assert rows["realnvp", 1, "fp32"]["flops_per_update"] - g1 == 2 * 256 * 4 * coupling
    for r in rows.values():
        assert r["updates_run"] == r["updates_timed"] >= 3
        assert r["update_ms"] > 0 and r["gemm_bound_ms"] > 0 and r["share_of_bound"] > 0
        assert r["gemm_bound_gflops"] == pytest.approx(r["flops_per_update"] / r["gemm_bound_ms"] / 1e6)
    assert set(m["gemm_gflops"]) == {f"fp32 K={k} {n} 256x256 fwd" for k in (1, 2) for n in ("critic", "policy")}


def test_roofline_ceiling_against_sb3(tmp_path: Path) -> None:
    """With ``--sb3``: SB3 ran the updates it timed, its FLOPs are ours plus the critics' weight gradients in
    its actor backward, and in every round the ratio and the ceiling are SB3's time over ours and over the
    bound of that same round; the reported values are their medians."""
    pytest.importorskip("stable_baselines3")
    rounds = 3
    m = run_json([str(BENCH / "roofline.py"), "--rounds", str(rounds), "--update-s", "0.05", "--gemm-s", "0.002",
                  "--skills", "1", "2", "--policies", "gaussian", "--precisions", "fp32", "--threads", "1", "--sb3",
                  "--json"], tmp_path)
    sb3 = m["sb3"]
    assert len(sb3["update_ms_rounds"]) == m["rounds"] == rounds
    assert sb3["updates_run"] == 5 + sb3["updates_per_round"] * rounds
    crit = (17 + 6) * 256 + 256 * 256 + 256
    assert sb3["flops_per_update"] == 2 * 256 * (_macs_per_sample_gaussian(17, 6) + 2 * crit)
    for r in m["configs"]:
        k, t_sb3 = r["skills"], sb3["update_ms_rounds"]
        assert r["sb3_update_ms"] == pytest.approx(statistics.median(t_sb3))
        ratios = [k * t_sb3[i] / r["update_ms_rounds"][i] for i in range(rounds)]
        ceilings = [k * t_sb3[i] / r["gemm_bound_ms_rounds"][i] for i in range(rounds)]
        assert r["ratio_vs_sb3_rounds"] == pytest.approx(ratios)
        assert r["ceiling_vs_sb3_rounds"] == pytest.approx(ceilings)
        assert r["ratio_vs_sb3_paired"] == pytest.approx(statistics.median(ratios))
        assert r["ceiling_vs_sb3_paired"] == pytest.approx(statistics.median(ceilings))
        assert r["ceiling_vs_sb3_spread"] == {"min": pytest.approx(min(ceilings)), "max": pytest.approx(max(ceilings))}
        assert r["update_ms"] == pytest.approx(statistics.median(r["update_ms_rounds"]))
        assert r["gemm_bound_ms"] == pytest.approx(statistics.median(r["gemm_bound_ms_rounds"]))
    with pytest.raises(AssertionError, match="--sb3 times SB3 on HalfCheetah-v5"):
        run_json([str(BENCH / "roofline.py"), "--quick", "--sb3", "--obs-dim", "20", "--json"], tmp_path)
