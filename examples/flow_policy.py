"""Gaussian vs Real-NVP policies with SAC on HalfCheetah-v5: same steps, same seeds, one plot.

    python examples/flow_policy.py            # full mode: 100k steps per policy (the README's numbers)
    python examples/flow_policy.py --quick    # a smoke run of a few hundred steps (CI)

Writes ``OUT/{gaussian,realnvp}/`` run directories, ``OUT/curves.png`` with both learning
curves, and ends with one JSON line of the final deterministic evaluation returns.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from softskills.skills.config import TrainConfig
from softskills.skills.plot import plot_runs
from softskills.skills.trainer import Trainer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few hundred steps, for CI")
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="runs/flow_policy")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    a = p.parse_args()
    base = TrainConfig(
        env=a.env, steps=a.steps, seed=a.seed, device=a.device, warmup_steps=10_000, eval_every=10_000,
        eval_episodes=5, log_every=1_000, checkpoint_every=50_000, progress=a.progress, threads=0,
    )
    if a.quick:
        base = dataclasses.replace(base, steps=300, warmup_steps=100, eval_every=0, eval_episodes=1,
                                   log_every=100, batch_size=64, save_buffer=False)
    results, dirs = {}, []
    for policy in ("gaussian", "realnvp"):
        out = Path(a.out) / policy
        t0 = time.perf_counter()
        m = Trainer(dataclasses.replace(base, policy=policy, out=str(out))).train()
        results[policy] = {"final_eval_return": m["eval_return"], "wall_s": time.perf_counter() - t0,
                           "sps": m["sps"]}
        dirs.append(out)
    png = plot_runs(dirs, Path(a.out) / "curves.png", keys=("charts/episodic_return", "eval/return"),
                    labels=["gaussian", "realnvp"])
    g, r = results["gaussian"]["final_eval_return"], results["realnvp"]["final_eval_return"]
    print(json.dumps({"example": "flow_policy", "env": a.env, "steps": base.steps, "seed": a.seed,
                      "gaussian_return": g, "realnvp_return": r,
                      "realnvp_over_gaussian": r / g if g else None, "png": str(png),
                      "wall_s": {k: v["wall_s"] for k, v in results.items()}}))


if __name__ == "__main__":
    main()
