"""The Ant cross maze (thesis ch. 7.4, Fig. 7.5): a high level on the shipped primitive vs flat SAC.

    python examples/ant_maze.py                                   # full mode, all methods, goals 0 1 2
    python examples/ant_maze.py --methods hierarchy --env-steps 600000 --resume   # continue one method
    python examples/ant_maze.py --eval-only                       # evaluate and plot the runs in --out
    python examples/ant_maze.py --quick                           # a smoke run for CI (about a minute)
    python examples/ant_maze.py --primitive runs/ant-velocity-fs2 # stack on your own pretrained primitive

The maze is ``softskills/AntCrossMaze-v0``: reward 1000 on coming within 2 m of the goal, which
ends the episode, and nothing else; 1000-step episodes. Goals 0 (south), 1 (north) and 2 (east)
are K = 3 per-skill tasks of one run, so every method trains the three goals in one batched
update. Four methods, each with the same env steps per goal and the same gradient updates:

- ``hierarchy``: a Real-NVP high level stacked on the shipped primitive
  (``stack_on="pretrained:ant-velocity"``) that picks the primitive's latent every 3 env steps
  (``repeat=3``) and explores with its own latent held per episode (``hold_latent``, the
  original's ``policy_fix_h_on_reset``).
- ``hierarchy-resampled``: the same, with the high level's latent drawn afresh every step.
- ``finetune``: the primitive itself, trained further on the maze reward as a flat policy. The
  maze observation has the primitive's 105 features plus the xy position; the two new input
  columns of its first embedding layer start at zero, so training starts from the primitive's
  behaviour exactly. Its Q-functions start fresh.
- ``flat``: flat SAC (Gaussian policy) from scratch.

Settings are the original's 2018 high level (originals.md §1.6): SAC with layer 128, batch 128,
tau 1e-2, lr 3e-4, gamma 0.99, reward scale 3 at a fixed temperature 1 (the original had no
temperature tuning), Real-NVP embedding (128, 128, 16) and s/t units 8, one update per high-level
action (``--updates-per-step`` changes it; ``--gamma`` the discount). Flat and fine-tuned SAC get
as many updates per 3 env steps, so every method takes the same updates. ``--reward-scale`` changes the
scale (at the fixed temperature 1, scale 30 is the same objective as temperature 0.1).
``--primitive`` takes another low level: ``pretrained:NAME`` or a run directory of
``examples/pretrain_locomotion.py``; the maze then steps with the ``frame_skip`` that primitive
was trained with (``--frame-skip 2`` there gives rllab's 0.02 s step). ``--progress-reward W`` adds a
dense term ``W·(d_t − d_{t+1})`` (progress towards the goal) to the sparse reward. It is **not** the
thesis' task; it is there to tell the high level's exploration problem apart from what the primitive
can do. ``--latent-prior none`` drops the high level's N(0, I) action prior from its objective,
leaving only its own entropy: an ablation, not the original's setting. ``--auto-alpha`` tunes every method's
temperature towards an entropy of -dim(action) instead of holding it at 1 (with the prior, the high level's
temperature then weighs its KL divergence from N(0, I)): also an ablation.

One deviation on purpose: episodes do not end when the torso leaves z ∈ [0.2, 1.0]
(``terminate_when_unhealthy=False``; ``--terminate-when-unhealthy`` restores it). The shipped
primitive, trained on Gymnasium's Ant-v5 model rather than rllab's, hops above 1.0 m: with
random held latents, 5 of 6 episodes ended within 164 steps (measured 2026-11-25). With the
high level's N(0, I) action prior each step also costs a KL term, so ending episodes early
would even pay. Without the ceiling, random held latents carried the ant up to 7 m down the
corridor in 1000 steps. The thesis ran 10M env steps per
goal; the default here is far smaller (``--env-steps``). Evaluation: 20 episodes per goal (``--episodes``),
twice. First with sampled actions, as the policy was trained: the hierarchy draws its latent once per
episode and holds it, the flat policies draw every step. Then at the mode, as SB3's
``deterministic=True``: the latent is ``h = 0`` (the hierarchy's high level and the fine-tuned flow
act as ``f(0; s)``) and flat SAC takes its Gaussian's mean. Success is reaching the goal, and the final
distance is the distance to the goal at the episode's end. Writes ``OUT/trajectories.png`` (sampled),
``OUT/trajectories_mode.png`` (mode) and ``OUT/results.json``, and ends with one JSON line whose
``results[method]`` holds the sampled rates and, under ``"mode"``, the mode's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from softskills.envs.ant_maze import CROSS_MAZE_GOALS, CROSS_MAZE_WALLS
from softskills.envs.ant_velocity import FRAME_SKIP
from softskills.hierarchy import (
    FrozenLayer,
    PathRecorder,
    load_primitive,
    resume_stacked,
    run_env_factory,
    stacked_trainer,
)
from softskills.skills.config import TrainConfig
from softskills.skills.evaluate import evaluate
from softskills.skills.loading import load_run
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer

ENV = "softskills/AntCrossMaze-v0"
METHODS = ("hierarchy", "hierarchy-resampled", "finetune", "flat")
REPEAT = 3
"""The original's ``control_interval``: env steps per high-level action (``--repeat`` changes it)."""


PRIMITIVE = "pretrained:ant-velocity"
"""The shipped primitive (``--primitive`` takes another one, or a run of ``pretrain_locomotion.py``)."""


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The maze's kwargs: the unhealthy-termination switch, the progress term only when it is on, and the
    primitive's ``frame_skip`` only when it is not Ant-v5's default (the maze must step as its env did)."""
    kw: dict[str, Any] = {"terminate_when_unhealthy": args.terminate_when_unhealthy}
    if args.progress_reward:
        kw["progress_reward"] = args.progress_reward
    if args.frame_skip != FRAME_SKIP:
        kw["frame_skip"] = args.frame_skip
    return kw


def primitive_and_frame_skip(spec: str) -> tuple[FrozenLayer, int]:
    """The primitive ``spec`` (``pretrained:NAME`` or a run directory of ``pretrain_locomotion.py``) as a frozen
    layer, and the ``frame_skip`` of the env it was trained on."""
    try:
        layer, kwargs = load_primitive(spec)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"--primitive: {e}") from None
    return layer, int(kwargs.get("frame_skip", FRAME_SKIP))


def config(method: str, args: argparse.Namespace, out: Path) -> TrainConfig:
    """The run of one method (all goals as K skills); budgets in env steps per goal."""
    high = method.startswith("hierarchy")
    steps = args.env_steps // args.repeat if high else args.env_steps
    warmup = args.warmup // args.repeat if high else args.warmup
    if args.quick:
        sac = SACConfig(hidden=(32, 32), tau=1e-2, reward_scale=args.reward_scale, auto_alpha=args.auto_alpha,
                        init_alpha=1.0, gamma=args.gamma)
        nets: dict[str, Any] = dict(flow_embed_hidden=(32, 32), flow_st_hidden=(8,), batch_size=32)
    else:
        sac = SACConfig(hidden=(128, 128), tau=1e-2, reward_scale=args.reward_scale, auto_alpha=args.auto_alpha,
                        init_alpha=1.0, gamma=args.gamma)
        nets = dict(flow_embed_hidden=(128, 128), flow_st_hidden=(8,), batch_size=128)
    if method == "finetune":  # the primitive's own architecture, so its weights fit
        nets.update(flow_embed_hidden=tuple(args.primitive_arch["embed_hidden"]),
                    flow_st_hidden=tuple(args.primitive_arch["st_hidden"]))
    return TrainConfig(
        env=ENV, env_kwargs=env_kwargs(args), tasks=tuple(json.dumps({"goal": g}) for g in args.goals), skills=len(args.goals),
        policy="gaussian" if method == "flat" else "realnvp", steps=steps, warmup_steps=warmup,
        updates_per_step=args.updates_per_step if high else args.updates_per_step / args.repeat, seed=args.seed,
        out=str(out / method), sac=dataclasses.replace(sac, action_prior=args.latent_prior) if high else sac,
        stack_on=args.primitive if high else "", repeat=args.repeat if high else 1,
        hold_latent=method == "hierarchy", eval_every=0, eval_episodes=2, log_every=args.log_every,
        checkpoint_every=args.checkpoint_every, threads=1, progress=args.progress, tensorboard=False,
        overwrite=not args.resume, resume=args.resume, **nets)


def init_from_primitive(trainer: Trainer, primitive: FrozenLayer) -> None:
    """Copy ``primitive`` into every skill of a flat Real-NVP policy on the maze.

    The maze observation is the primitive's observation followed by extra features (the xy
    position); their columns of the first embedding layer are zero, so ``f(h; s)`` is the
    primitive's for every ``h`` and ``s``.
    """
    source = primitive.policy.state_dict()
    target = trainer.agent.policy
    with torch.no_grad():
        for name, value in target.state_dict().items():
            v = source[name]  # one skill: a leading dimension of 1, or none
            if v.shape[1:] == value.shape[1:] or v.shape == value.shape:
                value.copy_(v.expand_as(value))
            elif name == "embed.layers.0.weight":  # (K, in, out): new input rows start at zero
                value.zero_()
                value[:, : v.shape[1]] = v[0]
            else:
                raise ValueError(f"cannot initialise {name} {tuple(value.shape)} from the primitive's {tuple(v.shape)}")


def train(method: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Train (or resume) one method; returns its env steps per goal, updates and wall time."""
    cfg = config(method, args, out)
    t = time.perf_counter()
    if cfg.stack_on:
        if args.resume:
            saved = load_run(cfg.out)[1].stack_on
            if saved != cfg.stack_on:
                raise SystemExit(f"{cfg.out} was stacked on {saved}, not on --primitive {cfg.stack_on}; resume it "
                                 "with its own primitive")
            trainer = resume_stacked(cfg.out, steps=cfg.steps, progress=cfg.progress)
        else:
            trainer = stacked_trainer(cfg)
    else:
        if method == "finetune" and args.resume:
            saved = (load_run(cfg.out)[2].get("run_info") or {}).get("init_from", PRIMITIVE)
            if saved != args.primitive:
                raise SystemExit(f"{cfg.out} was fine-tuned from {saved}, not from --primitive {args.primitive}")
        trainer = Trainer(cfg, run_info={"init_from": args.primitive} if method == "finetune" else None)
        if method == "finetune" and not args.resume:
            init_from_primitive(trainer, primitive_and_frame_skip(args.primitive)[0])
    trainer.train()
    env_steps = trainer.step * (cfg.repeat if cfg.stack_on else 1)
    return {"env_steps_per_goal": env_steps, "updates": trainer.num_updates, "wall_s": time.perf_counter() - t}


def rollouts(run: Path, episodes: int, seed: int, mode: bool = False
             ) -> tuple[np.ndarray, np.ndarray, list[list[np.ndarray]]]:
    """Success ``(K, E)``, final goal distance ``(K, E)`` and xy paths of ``episodes`` per goal.

    ``mode=False`` acts as the run was trained: a latent drawn per episode and held (``hold_latent``
    runs), or actions drawn every step. ``mode=True`` acts at the mode of the policy, ``f(0; s)``
    (the Gaussian's mean for flat SAC), so no action is random.
    """
    agent, cfg, meta = load_run(run)
    envs = run_env_factory(cfg, meta.get("run_info"))(episodes)
    torch.manual_seed(seed)
    held = cfg.hold_latent and not mode
    if held:  # act as trained: one latent per episode for each of the E evaluation envs
        agent.policy.hold_latent(num_envs=episodes)
    with PathRecorder(envs, slice(-2, None)) as rec:  # the ant's xy (the observation's last two), every env step
        res = evaluate(agent, envs, seed=seed, deterministic=held or mode)
    success = np.array([[bool(info["success"]) for info in row] for row in res.final_infos])
    dist = np.array([[float(info["goal_distance"]) for info in row] for row in res.final_infos])
    return success, dist, [rec.paths(k) for k in range(cfg.skills)]


def plot(results: dict[str, dict[str, Any]], paths: dict[str, list[list[np.ndarray]]], goals: list[int],
         out: Path, label: str = "sampled") -> None:
    """One panel per method and goal: the evaluation paths over the maze walls (``label`` names the evaluation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Rectangle

    methods = list(paths)
    fig, axes = plt.subplots(len(goals), len(methods), figsize=(3.6 * len(methods), 3.6 * len(goals)),
                             squeeze=False)
    for c, m in enumerate(methods):
        for r, g in enumerate(goals):
            ax = axes[r][c]
            for cx, cy, hx, hy in CROSS_MAZE_WALLS:
                ax.add_patch(Rectangle((cx - hx, cy - hy), 2 * hx, 2 * hy, color="0.35"))
            ax.add_patch(Circle(tuple(CROSS_MAZE_GOALS[g]), 2.0, color="tab:green", alpha=0.3))
            for p in paths[m][r]:
                if len(p):
                    ax.plot(p[:, 0], p[:, 1], lw=0.7, alpha=0.8)
            ax.plot(0, 0, "k*", ms=8)
            ax.set_title(f"{m}, goal {g} ({label}): {results[m]['success'][r]:.0%}", fontsize=9)
            ax.set_aspect("equal")
            ax.set_xlim(-3, 15)
            ax.set_ylim(-9, 9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--goals", type=int, nargs="+", default=[0, 1, 2], help="maze goals: 0 south, 1 north, 2 east")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--env-steps", type=int, default=300_000, help="env steps per goal for every method")
    p.add_argument("--warmup", type=int, default=10_000, help="random warm-up env steps per goal")
    p.add_argument("--episodes", type=int, default=20, help="evaluation episodes per goal")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/ant_maze")
    p.add_argument("--resume", action="store_true", help="continue the runs in --out to --env-steps")
    p.add_argument("--eval-only", action="store_true", help="only evaluate and plot the runs in --out")
    p.add_argument("--terminate-when-unhealthy", action="store_true",
                   help="end an episode when the torso leaves z in [0.2, 1.0], as the original (off: see above)")
    p.add_argument("--reward-scale", type=float, default=3.0,
                   help="SAC reward scale at the fixed temperature 1 (the original's 3); 30 is temperature 0.1")
    p.add_argument("--progress-reward", type=float, default=0.0,
                   help="weight w of a dense progress term w*(d_t - d_t+1) added to the sparse reward "
                        "(not in the original; 0, the default, is the thesis' sparse task; see the env's docstring)")
    p.add_argument("--repeat", type=int, default=REPEAT,
                   help="env steps per high-level action (the original's control_interval, 3); flat SAC and "
                        "fine-tuning get one update per this many env steps, as many as the high level")
    p.add_argument("--updates-per-step", type=float, default=1.0,
                   help="gradient updates per high-level action (the original: 1); flat SAC and fine-tuning get "
                        "as many per --repeat env steps")
    p.add_argument("--gamma", type=float, default=0.99,
                   help="discount per agent step (the original's 0.99; a high-level step is --repeat env steps)")
    p.add_argument("--primitive", default=PRIMITIVE,
                   help="the low level: pretrained:NAME, or a run directory of examples/pretrain_locomotion.py; the "
                        "maze steps with the frame_skip that the primitive was trained with")
    p.add_argument("--latent-prior", choices=("normal", "none"), default="normal",
                   help="the high level's action prior: the original's N(0, I), or none (an ablation)")
    p.add_argument("--auto-alpha", action="store_true",
                   help="tune every method's temperature towards the entropy -dim(action) (thesis eq. 5.20), starting "
                        "at 1; off, the default, is the original's fixed temperature 1 (an ablation)")
    p.add_argument("--progress", action="store_true", help="a progress bar per run")
    p.add_argument("--quick", action="store_true", help="tiny budgets and nets, for CI")
    args = p.parse_args()
    if any(g not in range(len(CROSS_MAZE_GOALS)) for g in args.goals):
        p.error(f"--goals must be in 0..{len(CROSS_MAZE_GOALS) - 1}, got {args.goals}")
    if args.quick:
        args.env_steps, args.warmup, args.episodes = 300, 150, 2
    args.log_every, args.checkpoint_every = (100, 10_000) if args.quick else (3_000, 9_000)
    if args.repeat < 1:
        p.error(f"--repeat must be at least 1, got {args.repeat}")
    if not (np.isfinite(args.updates_per_step) and args.updates_per_step > 0):
        p.error(f"--updates-per-step must be a finite number > 0, got {args.updates_per_step}")
    if not 0.0 < args.gamma <= 1.0:
        p.error(f"--gamma must lie in (0, 1], got {args.gamma}")
    if not args.reward_scale > 0:
        p.error(f"--reward-scale must be positive, got {args.reward_scale}")
    if not (np.isfinite(args.progress_reward) and args.progress_reward >= 0):
        p.error(f"--progress-reward must be a finite number >= 0, got {args.progress_reward}")
    if args.env_steps <= args.warmup:
        p.error(f"--env-steps ({args.env_steps}) must exceed --warmup ({args.warmup})")
    if not args.primitive.startswith("pretrained:"):
        args.primitive = str(Path(args.primitive).resolve())
    layer, args.frame_skip = primitive_and_frame_skip(args.primitive)
    args.primitive_arch = layer.policy.arch
    torch.set_num_threads(1)
    out = Path(args.out)
    training: dict[str, dict[str, Any]] = {}
    if not args.eval_only:
        for m in args.methods:
            training[m] = train(m, args, out)
            print(f"{m}: {training[m]['env_steps_per_goal']:,} env steps per goal, {training[m]['updates']:,} "
                  f"updates, {training[m]['wall_s']:.0f} s")
    results: dict[str, dict[str, Any]] = {}
    paths: dict[str, list[list[np.ndarray]]] = {}
    mode_paths: dict[str, list[list[np.ndarray]]] = {}
    for m in args.methods:
        run = out / m
        _, cfg, meta = load_run(run)
        success, dist, paths[m] = rollouts(run, args.episodes, seed=12_345)
        mode_success, mode_dist, mode_paths[m] = rollouts(run, args.episodes, seed=12_345, mode=True)
        steps = int(meta["step"]) * (cfg.repeat if cfg.stack_on else 1)
        low = cfg.stack_on or (meta.get("run_info") or {}).get("init_from", "")  # what this run really used
        results[m] = {"success": success.mean(1).tolist(), "final_distance": dist.mean(1).tolist(),
                      "env_steps_per_goal": steps, "primitive": low,
                      "frame_skip": json.loads(cfg.env_kwargs).get("frame_skip", FRAME_SKIP),
                      "mode": {"success": mode_success.mean(1).tolist(), "final_distance": mode_dist.mean(1).tolist()},
                      **({"train": training[m]} if m in training else {})}
        for label, r in (("sampled", results[m]), ("mode", results[m]["mode"])):
            rates = ", ".join(f"goal {g}: {s:.0%} ({d:.1f} m)" for g, s, d in
                              zip(args.goals, r["success"], r["final_distance"]))
            print(f"{m} after {steps:,} env steps per goal, {label}: {rates}")
    out.mkdir(parents=True, exist_ok=True)
    png, png_mode = out / "trajectories.png", out / "trajectories_mode.png"
    plot(results, paths, args.goals, png)
    plot({m: r["mode"] for m, r in results.items()}, mode_paths, args.goals, png_mode, label="mode")
    summary = {"example": "ant_maze", "quick": args.quick, "seed": args.seed, "goals": args.goals,
               "reward_scale": args.reward_scale, "progress_reward": args.progress_reward,
               "episodes": args.episodes, "repeat": args.repeat, "latent_prior": args.latent_prior,
               "auto_alpha": args.auto_alpha,
               "updates_per_step": args.updates_per_step, "gamma": args.gamma, "results": results, "png": str(png),
               "png_mode": str(png_mode)}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
