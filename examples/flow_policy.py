"""Gaussian vs Real-NVP policies with SAC on HalfCheetah-v5: same steps, same seeds, one plot.

    python examples/flow_policy.py --jobs 2   # full mode: 100k steps per policy (the README's numbers)
    python examples/flow_policy.py --quick    # a smoke run of a few hundred steps (CI)

Writes ``OUT/{gaussian,realnvp}/`` run directories, ``OUT/curves.png`` with both learning
curves, and ends with one JSON line of the final deterministic evaluation returns (5 episodes
at the last step) and ``realnvp_shortfall_pct``, how far Real-NVP ends below Gaussian in
percent of the Gaussian return (negative: Real-NVP is better). ``--jobs 2`` trains the two
policies at once in two processes with one CPU thread each (about 30 min on 2 cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

from softskills.skills.config import TrainConfig
from softskills.skills.plot import plot_runs
from softskills.skills.trainer import Trainer


POLICIES = ("gaussian", "realnvp")


def train_one(cfg: TrainConfig) -> dict[str, Any]:
    """Train one policy to completion and return its final metrics (runs in a worker with ``--jobs 2``)."""
    t0 = time.perf_counter()
    m = Trainer(cfg).train()
    return {"final_eval_return": m["eval_return"], "wall_s": round(time.perf_counter() - t0, 1), "sps": m["sps"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few hundred steps, for CI")
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="runs/flow_policy")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.add_argument("--st-hidden", type=int, nargs="*", default=None,
                   help="Real-NVP s/t-net hidden widths (default: TrainConfig's, one layer of 64 units; "
                        "no value: one layer of |A| units, the original's)")
    p.add_argument("--jobs", type=int, default=1, choices=(1, 2),
                   help="2 trains both policies at once in two processes, one CPU thread each")
    a = p.parse_args()
    base = TrainConfig(
        env=a.env, steps=a.steps, seed=a.seed, device=a.device, warmup_steps=10_000, eval_every=10_000,
        eval_episodes=5, log_every=1_000, checkpoint_every=50_000, progress=a.progress,
        threads=1 if a.jobs == 2 else 0, flow_st_hidden=TrainConfig.flow_st_hidden if a.st_hidden is None else tuple(a.st_hidden),
    )
    if a.quick:
        base = dataclasses.replace(base, steps=300, warmup_steps=100, eval_every=0, eval_episodes=1,
                                   log_every=100, batch_size=64, save_buffer=False)
    dirs = [Path(a.out) / policy for policy in POLICIES]
    cfgs = [dataclasses.replace(base, policy=policy, out=str(out)) for policy, out in zip(POLICIES, dirs)]
    if a.jobs == 2:
        with mp.get_context("spawn").Pool(2) as pool:
            results = dict(zip(POLICIES, pool.map(train_one, cfgs)))
    else:
        results = {policy: train_one(cfg) for policy, cfg in zip(POLICIES, cfgs)}
    png = plot_runs(dirs, Path(a.out) / "curves.png", keys=("charts/episodic_return", "eval/return"),
                    labels=list(POLICIES))
    g, r = results["gaussian"]["final_eval_return"], results["realnvp"]["final_eval_return"]
    print(json.dumps({"example": "flow_policy", "env": a.env, "steps": base.steps, "seed": a.seed,
                      "gaussian_return": g, "realnvp_return": r,
                      "realnvp_shortfall_pct": 100 * (g - r) / abs(g) if g else None, "png": str(png),
                      "wall_s": {k: v["wall_s"] for k, v in results.items()}}))


if __name__ == "__main__":
    main()
