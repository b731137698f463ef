"""The latent-space hierarchy on the 2-D point mass: Algorithm 4 end to end, against flat SAC.

    python examples/point_maze.py             # full mode: the README's numbers (a few minutes)
    python examples/point_maze.py --quick     # a smoke run for CI (well under a minute)

1. Pretrain a Real-NVP locomotion primitive on ``softskills/PointVelocity-v0`` (reward: speed in
   any direction; no direction is given, so the latent picks it).
2. Freeze it and stack a high level on ``softskills/PointMaze-v0`` (sparse reward 1000 at the
   goal), acting in the primitive's latent space and holding each latent for ``--repeat`` steps.
3. Train flat SAC on the maze with the same env steps and the same number of gradient updates.
4. Stack a third layer (a second velocity layer in the primitive's latent space, then the maze
   on top) to show that any depth trains with the same SAC.

Success is measured over 20 episodes with *sampled* top-level latents: the deterministic
``h = 0`` of a direction-symmetric primitive barely moves. Writes ``OUT/trajectories.png``
(20 evaluation paths of each method over the walls) and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from softskills.envs.plot_point_maze import draw_point_maze
from softskills.hierarchy import LayerSpec, PathRecorder, run_env_factory, stacked_trainer, train_stagewise
from softskills.skills.config import TrainConfig
from softskills.skills.evaluate import evaluate
from softskills.skills.loading import load_run
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer

NETS = dict(flow_embed_hidden=(64, 64), flow_st_hidden=(16,))


def rollouts(run: Path, episodes: int = 20, seed: int = 123) -> tuple[float, float, list[np.ndarray]]:
    """Success rate, mean final goal distance and the xy paths of ``episodes`` sampled episodes of a run (its
    whole stack)."""
    agent, cfg, meta = load_run(run)
    envs = run_env_factory(cfg, meta.get("run_info"))(episodes)
    torch.manual_seed(0)
    with PathRecorder(envs, slice(2, 4)) as rec:  # the point's xy, at every env step
        res = evaluate(agent, envs, seed=seed, deterministic=False)
    success = float(np.mean([bool(i["success"]) for i in res.final_infos[0]]))
    distance = float(np.mean([float(i["goal_distance"]) for i in res.final_infos[0]]))
    return success, distance, rec.paths(0)


def plot(paths: dict[str, list[np.ndarray]], rates: dict[str, float], goal: int, out: Path) -> None:
    """Trajectories of each method over the maze walls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(paths), figsize=(4.2 * len(paths), 4), squeeze=False)
    for ax, (name, ps) in zip(axes[0], paths.items()):
        draw_point_maze(ax, ps, goal, f"{name}: {rates[name]:.0%} success")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny budgets, for CI")
    p.add_argument("--out", default="runs/point_maze", help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--goal", type=int, default=0, help="maze goal: 0 south, 1 north, 2 east")
    p.add_argument("--repeat", type=int, default=5, help="env steps per high-level latent")
    p.add_argument("--primitive-steps", type=int, default=3000)
    p.add_argument("--high-steps", type=int, default=3000, help="high-level steps (each is --repeat env steps)")
    args = p.parse_args()
    if args.quick:
        args.primitive_steps, args.high_steps = 300, 150
    torch.set_num_threads(1)
    out = Path(args.out)
    r = args.repeat
    common = dict(progress=False, tensorboard=False, eval_every=0, eval_episodes=5, log_every=1000, threads=1,
                  batch_size=128, seed=args.seed, overwrite=True)
    maze = dict(env="softskills/PointMaze-v0", env_kwargs={"goal": args.goal})
    warm_p, warm_h = min(500, args.primitive_steps // 2), min(300, args.high_steps // 2)
    sac = SACConfig(hidden=(64, 64))
    sparse = SACConfig(hidden=(64, 64), reward_scale=0.01)
    times: dict[str, float] = {}

    t = time.perf_counter()
    Trainer(TrainConfig(env="softskills/PointVelocity-v0", policy="realnvp", steps=args.primitive_steps,
                        warmup_steps=warm_p, out=str(out / "primitive"), sac=sac, **NETS, **common)).train()
    times["primitive"] = time.perf_counter() - t

    t = time.perf_counter()
    stacked_trainer(TrainConfig(**maze, policy="realnvp", steps=args.high_steps, warmup_steps=warm_h,
                                out=str(out / "hierarchy"), stack_on=str(out / "primitive"), repeat=r,
                                sac=sparse, **NETS, **common)).train()
    times["hierarchy"] = time.perf_counter() - t

    t = time.perf_counter()
    Trainer(TrainConfig(**maze, steps=args.high_steps * r, warmup_steps=warm_h * r, updates_per_step=1.0 / r,
                        out=str(out / "flat"), sac=sparse, **common)).train()
    times["flat"] = time.perf_counter() - t

    t = time.perf_counter()
    train_stagewise([
        LayerSpec(TrainConfig(env="softskills/PointVelocity-v0", policy="realnvp", steps=args.primitive_steps,
                              warmup_steps=warm_p, out=str(out / "three" / "l0"), sac=sac, **NETS, **common)),
        LayerSpec(TrainConfig(env="softskills/PointVelocity-v0", policy="realnvp", steps=args.primitive_steps // 2,
                              warmup_steps=warm_p // 2, out=str(out / "three" / "l1"), repeat=1, sac=sac,
                              **NETS, **common)),
        LayerSpec(TrainConfig(**maze, policy="realnvp", steps=args.high_steps, warmup_steps=warm_h,
                              out=str(out / "three" / "l2"), repeat=r, sac=sparse, **NETS, **common)),
    ])
    times["three_layers"] = time.perf_counter() - t

    runs = {"hierarchy": out / "hierarchy", "flat SAC": out / "flat", "3-layer stack": out / "three" / "l2"}
    rates, distances, paths = {}, {}, {}
    for name, run in runs.items():
        rates[name], distances[name], paths[name] = rollouts(run)
        print(f"{name}: {rates[name]:.0%} success over 20 sampled episodes, final goal distance "
              f"{distances[name]:.2f}")
    png = out / "trajectories.png"
    plot(paths, rates, args.goal, png)
    print(json.dumps({"example": "point_maze", "quick": args.quick, "seed": args.seed, "goal": args.goal,
                      "repeat": r, "primitive_steps": args.primitive_steps, "high_steps": args.high_steps,
                      "flat_env_steps": args.high_steps * r, "success": rates, "final_distance": distances,
                      "wall_s": {k: round(v, 1) for k, v in times.items()}, "png": str(png)}))


if __name__ == "__main__":
    main()
