"""Pretrain (or resume) the Real-NVP locomotion primitive on AntVelocity, probe its directions, ship it.

    python examples/pretrain_locomotion.py --steps 4000000            # train (hours to days on a CPU)
    python examples/pretrain_locomotion.py --steps 4000000 --resume   # continue it
    python examples/pretrain_locomotion.py --probe-only --export      # probe the run and ship its weights
    python examples/pretrain_locomotion.py --quick                    # a smoke run for CI

Settings are the original's 2018 low level (originals.md §1.3): SAC with a Real-NVP policy,
layer 128, batch 128, tau 1e-2, reward scale 10, embedding (128, 128, 16), s/t units 8,
10,000 uniform warm-up steps, and a fixed temperature of 1 on the scaled reward (the 2018 SAC had no
temperature tuning, so its policies acted at temperature 1/10 of the raw reward). ``--auto-alpha`` tunes the
temperature towards an entropy of -dim(A) instead; both shipped primitives were trained that way (the 4M-step
run's temperature ended at 0.144 on the reward scaled by 10, a seventh of the original's; docs/ant.md).
``--reward-scale`` changes the scale, and with it the fixed temperature's share of the raw reward.
The probe holds each of 16 fixed latents ``h`` for a 200-step episode and plots the xy paths
(``OUT/directions.png``): a good primitive spreads over all directions. ``--export`` writes the weights and a
model card (``card.json``) into ``softskills/hierarchy/weights/ant-velocity/`` (or ``--export-dir``;
``ant-velocity-4m`` holds the 4M-step primitive at rllab's 0.02 s step), which
``softskills.hierarchy.pretrained`` loads. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from softskills.envs.ant_velocity import FRAME_SKIP
from softskills.hierarchy import HierarchicalPolicy, load_primitive
from softskills.hierarchy.probe import direction_stats, fixed_latents, latent_rollouts
from softskills.skills.atomic import write_atomic
from softskills.skills.checkpoint import load_checkpoint
from softskills.skills.config import TrainConfig
from softskills.skills.logger import read_csv
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer

ENV = "softskills/AntVelocity-v0"
EXPORT = Path(__file__).resolve().parents[1] / "softskills" / "hierarchy" / "weights" / "ant-velocity"


def env_kwargs(args: argparse.Namespace) -> dict[str, float]:
    """AntVelocity's kwargs: ``frame_skip`` and ``airborne_cost`` only where they are not the defaults (so older
    runs still resume)."""
    kw: dict[str, float] = {} if args.frame_skip == FRAME_SKIP else {"frame_skip": args.frame_skip}
    if args.airborne_cost:
        kw["airborne_cost"] = args.airborne_cost
    return kw


def config(args: argparse.Namespace) -> TrainConfig:
    """The 2018 low-level settings (``--quick``: tiny nets and budget)."""
    if args.quick:
        return TrainConfig(env=ENV, env_kwargs=env_kwargs(args), policy="realnvp", steps=args.steps, warmup_steps=100,
                           batch_size=32,
                           sac=SACConfig(hidden=(32, 32), tau=1e-2, reward_scale=args.reward_scale,
                                         auto_alpha=args.auto_alpha),
                           flow_embed_hidden=(32, 32),
                           flow_st_hidden=(8,), out=args.out, seed=args.seed, eval_every=0, eval_episodes=1,
                           progress=False,
                           tensorboard=False, threads=args.threads, overwrite=not args.resume, resume=args.resume)
    return TrainConfig(env=ENV, env_kwargs=env_kwargs(args), policy="realnvp", steps=args.steps, warmup_steps=10_000,
                       batch_size=128,
                       sac=SACConfig(hidden=(128, 128), tau=1e-2, reward_scale=args.reward_scale,
                                     auto_alpha=args.auto_alpha),
                       flow_embed_hidden=(128, 128),
                       flow_st_hidden=(8,), out=args.out, seed=args.seed, eval_every=100_000, eval_episodes=2,
                       checkpoint_every=25_000, log_every=5_000, threads=args.threads, resume=args.resume)


def plot(paths: list[np.ndarray], stats: dict[str, float], out: Path, title: str) -> None:
    """The xy paths of the 16 latents, coloured by latent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for i, p in enumerate(paths):
        ax.plot(p[:, 0] - p[0, 0], p[:, 1] - p[0, 1], lw=1.2, color=plt.cm.hsv(i / len(paths)))
    ax.plot(0, 0, "k*", ms=10)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_title(f"{title}\n{stats['sectors_hit']}/8 sectors, spread {stats['circular_spread']:.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few hundred steps with tiny nets, for CI")
    p.add_argument("--out", default="runs/ant-velocity", help="run directory")
    p.add_argument("--steps", type=int, default=None, help="total env steps (default 4M; 300 with --quick)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--probe-only", action="store_true", help="skip training; probe (and export) the run in --out")
    p.add_argument("--export", action="store_true", help="ship the weights and model card into the package")
    p.add_argument("--export-dir", default=str(EXPORT), help="where --export writes")
    p.add_argument("--probe-steps", type=int, default=200, help="env steps per probe latent")
    p.add_argument("--command", default="", help="the training command to record in the model card")
    p.add_argument("--note", default="", help="a note for the model card (e.g. how the run was resumed)")
    p.add_argument("--train-sps", type=float, default=None,
                   help="the training env steps/s to record in the model card when the run has no progress.csv "
                        "(e.g. a snapshot of its checkpoint); default: the last logged charts/SPS")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--frame-skip", type=int, default=FRAME_SKIP,
                   help="physics steps of 0.01 s per env step: 5 is Ant-v5's 0.05 s (the shipped primitive), "
                        "2 is rllab's 0.02 s (the original primitives'); --resume needs the run's value, the probe "
                        "and the model card use the run's own")
    p.add_argument("--airborne-cost", type=float, default=0.0,
                   help="cost per env step with no part of the ant on the floor (default 0, the original reward; "
                        "a positive value discourages hopping and is not the thesis' setting)")
    p.add_argument("--auto-alpha", action="store_true",
                   help="tune the temperature towards an entropy of -dim(A) (how the shipped primitives were trained) "
                        "instead of the original's fixed temperature 1 on the reward scaled by 10; --resume of a run "
                        "trained with it, such as those of the shipped primitives, needs it too")
    p.add_argument("--reward-scale", type=float, default=10.0,
                   help="the reward scale (default 10, the original's); at the fixed temperature 1 the policy acts at "
                        "temperature 1/scale of the raw reward")
    args = p.parse_args()
    if not (np.isfinite(args.reward_scale) and args.reward_scale > 0):
        p.error(f"--reward-scale must be a finite number > 0, got {args.reward_scale}")
    if args.frame_skip < 1:
        p.error(f"--frame-skip must be at least 1, got {args.frame_skip}")
    if not np.isfinite(args.airborne_cost) or args.airborne_cost < 0:
        p.error(f"--airborne-cost must be a finite number >= 0, got {args.airborne_cost}")
    if args.train_sps is not None and not (np.isfinite(args.train_sps) and args.train_sps > 0):
        p.error(f"--train-sps must be a finite number > 0, got {args.train_sps}")
    if args.steps is None:
        args.steps = 300 if args.quick else 4_000_000
    if args.quick:
        args.probe_steps = min(args.probe_steps, 20)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    train_s = 0.0
    if not args.probe_only:
        t = time.perf_counter()
        Trainer(config(args)).train()
        train_s = time.perf_counter() - t
    layer, trained = load_primitive(str(out))  # the probe steps the env as the run was trained (its frame_skip)
    latents = fixed_latents(layer.latent_dim, 16, seed=0)
    paths = latent_rollouts(layer, ENV, latents, steps=args.probe_steps, seed=1000, **trained)
    stats = direction_stats(paths)
    _, meta, _ = load_checkpoint(out)
    steps = int(meta["step"])
    has_log = (out / "progress.csv").exists()  # a bare copy of a checkpoint has none
    sps_log = read_csv(out).get("charts/SPS") if has_log else None
    sps = sps_log[-1][1] if sps_log else args.train_sps
    png = out / "directions.png"
    plot(paths, stats, png, f"AntVelocity primitive, {steps:,} steps")
    result = {"example": "pretrain_locomotion", "quick": args.quick, "steps": steps, "seed": args.seed,
              "train_wall_s": round(train_s, 1), "train_env_steps_per_s": sps, "probe": stats, "png": str(png)}
    if args.export:
        export = Path(args.export_dir)
        HierarchicalPolicy([layer]).save(export)
        card = {
            "name": export.name, "env": ENV, "env_kwargs": trained, "steps": steps, "seed": int(meta["config"]["seed"]),
            "date": datetime.date.today().isoformat(),
            "command": args.command or "python examples/pretrain_locomotion.py " + " ".join(sys.argv[1:]),
            "note": args.note, "config": meta["config"], "train_env_steps_per_s": sps,
            "probe": {"latents": "fixed_latents(8, 16, seed=0)", "steps": args.probe_steps, **stats},
            "obs_dim": layer.policy.obs_dim, "latent_dim": layer.latent_dim,
            "state_sha256": hashlib.sha256((export / "checkpoint" / "state.safetensors").read_bytes()).hexdigest(),
        }
        write_atomic(export / "card.json", json.dumps(card, indent=1).encode())
        result["exported"] = str(export)
    print(f"{steps:,} steps; probe: {stats['sectors_hit']}/8 sectors, spread {stats['circular_spread']:.2f}, "
          f"mean distance {stats['mean_distance']:.2f} m over {args.probe_steps} steps")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
