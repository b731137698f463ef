"""SQL vs SAC-Gaussian vs SAC-Real-NVP on the 2-D MultiGoal task (thesis Figure 3.2): same env, seed, budget.

    python examples/multigoal.py            # full mode: 5000 env steps per method (the README's numbers)
    python examples/multigoal.py --quick    # a smoke run of 200 steps per method (CI, < 60 s)

All three methods train through the shared :class:`~softskills.skills.trainer.Trainer` on
``softskills/MultiGoal-v0`` with its defaults, which are the SQL example's reward
(``c_a = 30``, ``c_d = 1``, ``goal_reward = 10``). The SAC example of the original used another
reward (``c_a = 1``, ``c_d = 0.1``, ``goal_reward = 1``, ``scale_reward = 3``); here all three use
the *same* env and the *same* maximum-entropy objective: rewards scaled by 0.07 and a fixed
temperature ``alpha = 1`` (SAC's automatic temperature is off), so only the policy family and
the learning rule differ. Every method gets the same seed, steps, warm-up (100 uniform steps),
batch (64), one update per step, and (64, 64) networks. SQL hard-copies its target critic every
500 updates (found by a seed sweep); SAC uses its Polyak target (tau = 0.005).

Writes ``OUT/<method>/`` run directories (checkpoints), ``OUT/<method>.png`` (cost contours,
goals, 20 sampled trajectories, and Q contours at three states, via
:func:`softskills.envs.plot_multigoal.plot_multigoal`), prints the distinct goals each method
reaches over 20 sampled (stochastic) evaluation episodes, and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from softskills.envs.plot_multigoal import plot_multigoal
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.skills.sql import SQLConfig
from softskills.skills.trainer import Trainer

ENV = "softskills/MultiGoal-v0"
REWARD_SCALE = 0.07
HIDDEN = (64, 64)
METHODS = ("sql", "sac_gaussian", "sac_realnvp")
EVAL_SEED = 10_000
"""Evaluation episode ``i`` resets with ``EVAL_SEED + seed + i``; torch's RNG is seeded with ``EVAL_SEED + seed``."""


def method_config(method: str, base: TrainConfig) -> TrainConfig:
    """The TrainConfig of one method: ``base`` plus its algorithm, policy and hyperparameters."""
    if method == "sql":
        sql = SQLConfig(reward_scale=REWARD_SCALE, alpha=1.0, kernel_particles=16, hidden=HIDDEN,
                        target_update="hard", target_interval=500)
        return dataclasses.replace(base, algo="sql", sql=sql)
    sac = SACConfig(reward_scale=REWARD_SCALE, init_alpha=1.0, auto_alpha=False, hidden=HIDDEN)
    policy = {"sac_gaussian": "gaussian", "sac_realnvp": "realnvp"}[method]
    return dataclasses.replace(base, algo="sac", policy=policy, sac=sac, flow_embed_hidden=HIDDEN)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="200 steps per method, for CI (< 60 s)")
    p.add_argument("--steps", type=int, default=None, help="env steps per method (default 5000; 200 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=20, help="sampled evaluation episodes per method")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1 is fastest for these tiny networks; 0 keeps torch's default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="runs/multigoal")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    a = p.parse_args()
    steps = a.steps if a.steps is not None else (200 if a.quick else 5000)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    base = TrainConfig(
        env=ENV, steps=steps, seed=a.seed, device=a.device, warmup_steps=100, batch_size=64,
        updates_per_step=1.0, eval_every=0, eval_episodes=5, log_every=500, checkpoint_every=10**9,
        save_buffer=False, threads=a.threads, progress=a.progress, tensorboard=False,
    )
    goals, indices, success, returns, pngs, wall = {}, {}, {}, {}, {}, {}
    for method in METHODS:
        cfg = dataclasses.replace(method_config(method, base), out=str(out / method))
        t0 = time.perf_counter()
        trainer = Trainer(cfg)
        trainer.train()
        png = out / f"{method}.png"
        # Sampled (stochastic) episodes: MultiGoal is about the multimodal policy, not its mean.
        # Seeding here makes them independent of how much randomness training drew, so they
        # can be replayed from the checkpoint (tests/test_example_multigoal.py does).
        torch.manual_seed(EVAL_SEED + a.seed)
        with torch.no_grad():
            stats = plot_multigoal(trainer.agent, png, n_paths=a.episodes, seed=EVAL_SEED + a.seed)
        wall[method] = round(time.perf_counter() - t0, 1)
        goals[method], success[method] = stats["goals_reached"], stats["success_rate"]
        indices[method] = stats["goal_indices"]
        returns[method], pngs[method] = round(stats["mean_return"], 2), str(png)
        print(f"{method:>12}: {stats['goals_reached']} of 4 goals (goals {stats['goal_indices']}), "
              f"{success[method]:.0%} of {a.episodes} sampled episodes end at a goal, "
              f"mean return {stats['mean_return']:.1f}, {wall[method]:.0f} s", flush=True)
    print(json.dumps({"example": "multigoal", "env": ENV, "steps": steps, "seed": a.seed, "episodes": a.episodes,
                      "goals_reached": goals, "goal_indices": indices, "success_rate": success,
                      "mean_return": returns, "pngs": pngs, "wall_s": wall}))


if __name__ == "__main__":
    main()
