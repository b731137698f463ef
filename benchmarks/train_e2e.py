"""End-to-end training speed: softskills ``Trainer.train()`` against Stable-Baselines3 ``SAC.learn()``.

Both sides run the same setting in the same process: one env per skill, batch 256, 2x256 MLPs,
twin Q, automatic temperature, one gradient update per env step, ``--warmup`` random steps before
learning (SB3 ``learning_starts``), no evaluation, no TensorBoard, no progress bar, and the same
torch thread count. softskills may train K skills (``--skills``) while SB3 trains one.

The figure reported is the **marginal** rate: every round trains each side twice, for a short
and a long run (``--steps SHORT LONG``), and ``(LONG - SHORT) / (t_LONG - t_SHORT)`` env steps/s
is what a step costs once construction, warm-up and the run's fixed end costs (softskills always
writes a final checkpoint and runs one final evaluation episode per skill) have cancelled.
Rounds alternate which side starts, so machine noise hits both; the paired ratio is the median
over rounds of the per-round ratios (robust on a shared machine) and its spread is the min/max.

    python benchmarks/train_e2e.py                        # HalfCheetah-v5, K = 1, fp32
    python benchmarks/train_e2e.py --env Ant-v5 --rounds 3
    python benchmarks/train_e2e.py --skills 16 --steps 1500 3000 --rounds 2 --json

Stable-Baselines3 is a benchmark extra (``pip install -e .[bench]``), never a dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from softskills.skills.config import TrainConfig
from softskills.skills.memory import retain_freed_memory
from softskills.skills.trainer import Trainer

from bench_machine import machine_info  # benchmarks/bench_machine.py, beside this script

BATCH = 256
HIDDEN = (256, 256)


def run_softskills(a: argparse.Namespace, steps: int, out: Path, fast_path: bool = True) -> dict[str, Any]:
    """Train softskills for ``steps`` env steps per skill; wall time of construction + ``train()``."""
    cfg = TrainConfig(
        env=a.env, skills=a.skills, policy=a.policy, precision=a.precision, steps=steps, seed=a.seed,
        num_envs=1, warmup_steps=a.warmup, updates_per_step=1.0, batch_size=BATCH, buffer_size=steps,
        eval_every=0, eval_episodes=1, checkpoint_every=steps, save_buffer=False, tensorboard=False,
        progress=False, threads=a.threads, out=str(out), overwrite=True, fast_path=fast_path, compile=a.compile,
        retain_freed_memory=not a.no_retain_freed_memory,
    )
    assert cfg.sac.hidden == HIDDEN and cfg.sac.auto_alpha
    t = time.perf_counter()
    trainer = Trainer(cfg)
    metrics = trainer.train()
    wall = time.perf_counter() - t
    trainer.envs.close()
    # Counted by the trainer itself: env steps per skill, and gradient updates of all K skills.
    return {"wall_s": wall, "steps": int(trainer.step), "updates": int(trainer.num_updates),
            "steps_reported": int(metrics["step"])}


def run_sb3(a: argparse.Namespace, steps: int) -> dict[str, Any]:
    """Train SB3 SAC for ``steps`` env steps; wall time of construction + ``learn()``."""
    import gymnasium as gym
    from stable_baselines3 import SAC

    t = time.perf_counter()
    model = SAC("MlpPolicy", gym.make(a.env), batch_size=BATCH, learning_starts=a.warmup, buffer_size=steps,
                train_freq=1, gradient_steps=1, ent_coef="auto", policy_kwargs={"net_arch": list(HIDDEN)},
                device="cpu", verbose=0, seed=a.seed)
    model.learn(total_timesteps=steps, progress_bar=False)
    wall = time.perf_counter() - t
    model.env.close()
    # SB3's own counters: env steps taken and gradient steps run.
    return {"wall_s": wall, "steps": int(model.num_timesteps), "updates": int(model._n_updates)}


def marginal(short: dict[str, Any], long: dict[str, Any]) -> float:
    """Env steps/s between the short and the long run (start-up and fixed end costs cancel).

    Not clamped: a non-positive value means noise swamped the difference (lengthen ``--steps``).
    """
    dt = long["wall_s"] - short["wall_s"]
    return (long["steps"] - short["steps"]) / dt if dt else float("inf")


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, nargs=2, default=[2000, 5000], metavar=("SHORT", "LONG"),
                   help="env steps of the short and the long run (per skill)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--skills", type=int, default=1, help="K skills trained by softskills (SB3 trains one)")
    p.add_argument("--policy", default="gaussian", choices=["gaussian", "realnvp"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads on both sides")
    p.add_argument("--warmup", type=int, default=1000, help="random-action steps before learning (both sides)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-sb3", action="store_true", help="skip the Stable-Baselines3 peer")
    p.add_argument("--no-fast-path", action="store_true", help="softskills on its plain route (fast_path=False)")
    p.add_argument("--compile", action="store_true", help="softskills with the torch.compile'd update")
    p.add_argument("--compare-plain", action="store_true",
                   help="also run softskills with fast_path=False every round and report the speed-up")
    p.add_argument("--no-retain-freed-memory", action="store_true",
                   help="leave glibc's malloc settings alone (default: softskills.skills.memory.retain_freed_memory, "
                        "the trainer's default, set once for the whole process and so for both libraries)")
    p.add_argument("--json", action="store_true", help="print only the final JSON line")
    a = p.parse_args()
    short, long = a.steps
    if not 0 < short < long:
        p.error(f"--steps needs 0 < SHORT < LONG, got {short} {long}")
    if a.rounds < 1:
        p.error("--rounds must be positive")
    torch.set_num_threads(a.threads)
    retained = False if a.no_retain_freed_memory else retain_freed_memory()
    machine = machine_info()
    say = (lambda *x: None) if a.json else print  # noqa: E731
    sb3 = not a.no_sb3
    if sb3:
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            say("stable-baselines3 is not installed (pip install -e .[bench]); skipping the peer")
            sb3 = False
    ours_runs: list[dict[str, Any]] = []
    sb3_runs: list[dict[str, Any]] = []
    ours_sps: list[float] = []
    sb3_sps: list[float] = []
    plain_sps: list[float] = []
    with tempfile.TemporaryDirectory(prefix="softskills-e2e-") as tmp:
        for r in range(a.rounds):
            sides = ["ours", "sb3"] + (["plain"] if a.compare_plain else [])
            if r % 2:  # alternate which side runs first
                sides = sides[::-1]
            jobs = [(side, n) for n in (short, long) for side in sides]
            got: dict[tuple[str, int], dict[str, Any]] = {}
            for side, n in jobs:
                if side == "sb3" and not sb3:
                    continue
                if side == "sb3":
                    res = run_sb3(a, n)
                else:
                    res = run_softskills(a, n, Path(tmp) / f"run{n}", fast_path=side == "ours" and not a.no_fast_path)
                res["asked"] = n
                got[side, n] = res
                if side != "plain":
                    (ours_runs if side == "ours" else sb3_runs).append(res)
            ours_sps.append(marginal(got["ours", short], got["ours", long]))
            if a.compare_plain:
                plain_sps.append(marginal(got["plain", short], got["plain", long]))
            line = f"round {r + 1}/{a.rounds}: softskills {ours_sps[-1]:.1f} env steps/s"
            if sb3:
                sb3_sps.append(marginal(got["sb3", short], got["sb3", long]))
                line += f", SB3 {sb3_sps[-1]:.1f} env steps/s, ratio {ours_sps[-1] / sb3_sps[-1]:.2f}x"
            if a.compare_plain:
                line += f", plain route {plain_sps[-1]:.1f} env steps/s"
            say(line)
    if min(ours_sps + sb3_sps + plain_sps) <= 0:
        say("warning: a long run was not slower than its short run; the marginal rates are noise "
            "(use longer --steps)")
    k = a.skills
    result: dict[str, Any] = {
        "env": a.env, "skills": k, "policy": a.policy, "precision": a.precision, "threads": a.threads,
        "retain_freed_memory": retained,
        "steps": [short, long], "rounds": a.rounds, "warmup_steps": a.warmup, "batch_size": BATCH,
        "softskills_sps": statistics.median(ours_sps),
        "softskills_per_skill_sps": k * statistics.median(ours_sps),
        "softskills_sps_rounds": ours_sps,
        "softskills_steps_run": [x["steps"] for x in ours_runs],
        "softskills_updates_run": [x["updates"] for x in ours_runs],
        "softskills_steps_asked": [x["asked"] for x in ours_runs],
        "softskills_wall_s": [x["wall_s"] for x in ours_runs],
        "machine": {**machine, "loadavg_1min_at_end": round(os.getloadavg()[0], 2)},
        "fast_path": not a.no_fast_path, "compile": a.compile,
    }
    if a.compare_plain:
        result.update({"plain_sps": statistics.median(plain_sps), "plain_sps_rounds": plain_sps,
                       "speedup_vs_plain_paired": statistics.median(o / p_ for o, p_ in zip(ours_sps, plain_sps)),
                       "speedup_vs_plain_rounds": [o / p_ for o, p_ in zip(ours_sps, plain_sps)]})
    if sb3:
        ratios = [o / s for o, s in zip(ours_sps, sb3_sps)]
        result.update({
            "sb3_sps": statistics.median(sb3_sps),
            "sb3_sps_rounds": sb3_sps,
            "sb3_steps_run": [x["steps"] for x in sb3_runs],
            "sb3_updates_run": [x["updates"] for x in sb3_runs],
            "sb3_steps_asked": [x["asked"] for x in sb3_runs],
            "sb3_wall_s": [x["wall_s"] for x in sb3_runs],
            "ratio_vs_sb3_paired": statistics.median(ratios),
            "ratio_vs_sb3_spread": spread(ratios),
            "per_skill_ratio_vs_sb3_paired": k * statistics.median(ratios),
        })
    if not a.json:
        m = result["machine"]
        print(f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, AVX512_BF16: {m['avx512_bf16']}")
        print(f"softskills {a.env} K={k} {a.policy} {a.precision}: {result['softskills_sps']:.1f} env steps/s "
              f"(marginal, {short}->{long} steps), {result['softskills_per_skill_sps']:.1f} skill-steps/s; "
              f"rounds {spread(ours_sps)}")
        if sb3:
            print(f"SB3 SAC.learn(): {result['sb3_sps']:.1f} env steps/s; rounds {spread(sb3_sps)}")
            s = result["ratio_vs_sb3_spread"]
            print(f"paired ratio (env steps/s): {result['ratio_vs_sb3_paired']:.2f}x "
                  f"[{s['min']:.2f}, {s['max']:.2f}]; per skill {result['per_skill_ratio_vs_sb3_paired']:.2f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
