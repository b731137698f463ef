"""``softskills demo``: quick versions of the three workflows into one directory, with measured numbers.

1. **pretrain** a Real-NVP locomotion primitive ``point-walk`` on ``softskills/PointVelocity-v0``;
2. **stack** a high level ``point-maze`` on it, on ``softskills/PointMaze-v0`` (goal 0, sparse
   reward, each latent held ``repeat`` steps), and measure its success over sampled episodes;
3. **pretrain** ``push-x`` and ``push-y`` on ``softskills/Pusher-v0`` as K = 2 skills of one
   batched update (goals ``[-1, None]`` and ``[None, -1]``), kept with their replay buffers;
4. **compose** them offline into ``push-xy`` (goal ``(-1, -1)``, 0 new env steps) with its bounds
   (C*, D*, D_exact) stored on the library node, and measure the final puck-goal distances
   against push-x and push-y on the same goal;
5. write ``lineage.png``, ``maze.png``, ``pusher.png``, ``curves.png``, ``summary.md`` and
   ``summary.json`` into ``OUT`` (the library is ``OUT/skills``), print the summary table and
   end with one JSON line of metrics.

Every stage shows a progress bar. Full budgets took 670 s (11 min) on a 2-core CPU box on one
torch thread; ``--quick`` (CI) runs every stage with tiny budgets in well under 2 minutes, and
its numbers mean nothing.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from softskills.compose.bounds import FitConfig
from softskills.library import SkillLibrary, render_graph
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.workflows.common import add_run
from softskills.workflows.compose import compose_skills
from softskills.workflows.demo_eval import maze_rollouts, plot_maze, plot_pusher, pusher_distances, summary_table
from softskills.workflows.pretrain import train_run
from softskills.workflows.stack import stack_skill

__all__ = ["DEMO_OUT", "DemoArgs", "DemoBudget", "demo_budget", "run_demo"]

DEMO_OUT = "./softskills-demo"
"""The demo's default output directory."""
_MARKER = "softskills-demo.json"
PUSH_TASKS = ({"goal": [-1, None]}, {"goal": [None, -1]})
"""push-x and push-y: the puck to x = -1 (any y), to y = -1 (any x)."""
MAZE_GOAL = 0


@dataclass(frozen=True)
class DemoArgs:
    """Run quick versions of the three workflows (pretrain, stack, compose) into one directory and summarise them."""

    out: str = DEMO_OUT
    """Output directory: the library (``OUT/skills``), the runs, the figures and the summary."""
    quick: bool = False
    """Tiny budgets (CI, under 2 minutes): every stage runs, the numbers mean nothing."""
    seed: int = 0
    """Training seed of every stage."""
    threads: int = 1
    """Torch CPU threads (1 is fastest on a busy 2-core machine)."""
    progress: bool = True
    """Show a progress bar per stage."""
    overwrite: bool = False
    """Replace an earlier demo in OUT (only a directory an earlier ``softskills demo`` wrote)."""


@dataclass(frozen=True)
class DemoBudget:
    """Every size of one demo mode."""

    primitive_steps: int
    """point-walk env steps."""
    high_steps: int
    """point-maze high-level steps (each ``repeat`` env steps)."""
    repeat: int
    """Env steps each high-level latent is held for."""
    push_steps: int
    """Env steps of each of push-x and push-y."""
    push_warmup: int
    """Uniform warm-up steps of the pusher run."""
    push_hidden: tuple[int, ...]
    """Hidden widths of the pusher skills' networks."""
    push_batch: int
    """Replay batch size of the pusher run."""
    extract_steps: int
    """push-xy extraction gradient steps."""
    maze_episodes: int
    """Sampled evaluation episodes of point-maze."""
    push_episodes: int
    """Evaluation episodes of each pusher skill."""
    fit: FitConfig
    """The bounds' fitted iteration: 10 iterations (truncated: at gamma 0.99 the fit reports truncation
    0.904, so the bounds are under-estimates) with fresh draws per batch, as the README's numbers were
    measured (``fixed_contexts=False``)."""


def demo_budget(quick: bool) -> DemoBudget:
    """The full budget (670 s measured on a 2-core CPU box, README) or the quick one (CI)."""
    if quick:
        return DemoBudget(primitive_steps=300, high_steps=150, repeat=5, push_steps=300, push_warmup=100,
                          push_hidden=(32, 32), push_batch=64, extract_steps=50, maze_episodes=5, push_episodes=3,
                          fit=FitConfig(iterations=2, steps_per_iteration=10, batch_size=64, hidden=(16, 16),
                                        action_samples=8, fixed_contexts=False))
    return DemoBudget(primitive_steps=3000, high_steps=3000, repeat=5, push_steps=40_000, push_warmup=1000,
                      push_hidden=(128, 128), push_batch=256, extract_steps=3000, maze_episodes=20, push_episodes=20,
                      fit=FitConfig(iterations=10, steps_per_iteration=100, batch_size=256, hidden=(64, 64),
                                    action_samples=16, fixed_contexts=False))


def _prepare(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / _MARKER).exists():
            raise ValueError(f"{out} exists and is not a softskills demo directory; pick another --out")
        if not overwrite:
            raise ValueError(f"{out} holds an earlier demo; pass --overwrite to replace it, or another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / _MARKER).write_text(json.dumps({"written_by": "softskills demo"}) + "\n")


def _stage(i: int, title: str) -> None:
    print(f"\n[demo {i}/5] {title}", file=sys.stderr, flush=True)


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, file=sys.stderr)


def _stats(x: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(x)), "std": float(np.std(x)), "episodes": int(x.size)}


def run_demo(args: DemoArgs) -> dict[str, Any]:
    """Run the demo (see the module docstring); returns the metrics (also in ``OUT/summary.json``)."""
    import torch

    torch.set_num_threads(max(1, args.threads))
    b = demo_budget(args.quick)
    out = Path(args.out).expanduser().absolute()
    _prepare(out, args.overwrite)
    lib = SkillLibrary(out / "skills")
    runs = out / "runs"
    t_all = time.perf_counter()
    common: dict[str, Any] = dict(seed=args.seed, threads=max(1, args.threads), progress=args.progress,
                                  tensorboard=False, eval_every=0, log_every=1000, overwrite=True)
    nets = dict(flow_embed_hidden=(64, 64), flow_st_hidden=(16,))

    _stage(1, "pretrain point-walk: a Real-NVP locomotion primitive on softskills/PointVelocity-v0")
    t = time.perf_counter()
    walk = TrainConfig(env="softskills/PointVelocity-v0", policy="realnvp", steps=b.primitive_steps,
                       warmup_steps=min(500, b.primitive_steps // 2), batch_size=128, eval_episodes=5,
                       out=str(runs / "point-walk"), sac=SACConfig(hidden=(64, 64)), **nets, **common)
    walk_metrics = train_run(walk)
    add_run(lib, walk.out, ["point-walk"], tags=["demo", "point"], command="softskills demo: pretrain")
    walk_s = time.perf_counter() - t

    _stage(2, "stack point-maze on point-walk: a high level on softskills/PointMaze-v0 (goal 0)")
    t = time.perf_counter()
    maze = TrainConfig(env="softskills/PointMaze-v0", env_kwargs={"goal": MAZE_GOAL}, policy="realnvp",
                       steps=b.high_steps, warmup_steps=min(300, b.high_steps // 2), batch_size=128,
                       eval_episodes=5, repeat=b.repeat, out=str(runs / "point-maze"),
                       sac=SACConfig(hidden=(64, 64), reward_scale=0.01), **nets, **common)
    stack_skill(lib, "point-walk", maze, ["point-maze"], tags=["demo", "point"], command="softskills demo: stack")
    stack_s = time.perf_counter() - t
    with _bar(1, "evaluate point-maze (from the library)", args.progress) as bar:
        checked = lib.checkout("point-maze", runs / "checkout")
        success, returns, paths = maze_rollouts(checked, b.maze_episodes, seed=123)
        bar.update()
    maze_png = plot_maze(paths, success, MAZE_GOAL, out / "maze.png")

    _stage(3, "pretrain push-x and push-y: K = 2 skills of one batched update on softskills/Pusher-v0")
    t = time.perf_counter()
    push = TrainConfig(env="softskills/Pusher-v0", skills=2, tasks=PUSH_TASKS, steps=b.push_steps,
                       warmup_steps=b.push_warmup, batch_size=b.push_batch, eval_episodes=2, out=str(runs / "push"),
                       sac=SACConfig(hidden=b.push_hidden), **common)
    train_run(push)
    add_run(lib, push.out, ["push-x", "push-y"], tags=["demo", "pusher"], keep_buffer=True,
            command="softskills demo: pretrain --skills 2")
    push_s = time.perf_counter() - t
    dists, pucks = {}, {}
    with _bar(2, "evaluate push-x, push-y", args.progress) as bar:
        for name in ("push-x", "push-y"):
            d, pucks[name] = pusher_distances(lib.skill_dir(name), b.push_episodes, seed=10_000)
            dists[name] = _stats(d)
            bar.update()

    _stage(4, "compose push-xy offline from push-x and push-y, with its bounds")
    t = time.perf_counter()
    with _bar(1, "compose push-xy (extraction + bounds, 0 env steps)", args.progress) as bar:
        comp = compose_skills(lib, ["push-x", "push-y"], "push-xy", method="sac", steps=b.extract_steps,
                              fit=b.fit, tags=["demo", "pusher"], command="softskills demo: compose",
                              batch_size=128, seed=args.seed)
        bar.update()
    compose_s = time.perf_counter() - t
    goal = comp["env_kwargs"]
    base: dict[str, dict[str, float]] = {}
    with _bar(3, "evaluate push-xy and its constituents on (-1, -1)", args.progress) as bar:
        d, pucks["push-xy"] = pusher_distances(lib.skill_dir("push-xy"), b.push_episodes, seed=10_000)
        bar.update()
        for name in ("push-x", "push-y"):
            base[name] = _stats(pusher_distances(lib.skill_dir(name), b.push_episodes, 10_000, task=goal)[0])
            bar.update()
    push_png = plot_pusher(pucks, out / "pusher.png")

    _stage(5, "lineage, figures and summary")
    with _bar(2, "lineage.png, curves.png", args.progress) as bar:
        lineage = render_graph(lib, out / "lineage.png")
        bar.update()
        from softskills.skills.plot import plot_runs

        curves = plot_runs([walk.out, maze.out, push.out], out / "curves.png", labels=["point-walk", "point-maze",
                                                                                         "push (K = 2)"])
        bar.update()
    stats = comp["bounds"]["stats"]
    bounds = {"c_star_max": stats["c_star"]["max"], "c_star_mean": stats["c_star"]["mean"],
              "d_star_mean": stats["d_star"]["mean"], "d_exact_mean": stats["d_exact"]["mean"],
              "regret_upper_mean": stats["regret_upper"]["mean"], "transitions": int(stats["num_transitions"]),
              "estimator": comp["bounds"]["estimator"], "theorem_setting": comp["bounds"]["theorem_setting"]}
    result: dict[str, Any] = {
        "demo": "softskills", "quick": args.quick, "seed": args.seed, "threads": max(1, args.threads),
        "out": str(out), "library": str(lib.path), "skills": lib.names(), "budget": {**asdict(b), "fit": asdict(b.fit)},
        "maze": {"success": success, "episodes": int(len(returns)), "return_mean": float(np.mean(returns)),
                 "primitive_eval_return": float(walk_metrics.get("eval_return") or float("nan")),
                 "primitive_wall_s": walk_s, "stack_wall_s": stack_s},
        "pusher": {**dists, "wall_s": push_s},
        "compose": {"distance": _stats(d), "baseline": base, "goal": goal, "gradient_steps": comp["gradient_steps"],
                    "env_steps": comp["env_steps"], "extract_wall_s": comp["wall_time_s"],
                    "bounds_wall_s": comp["bounds"]["fit"]["wall_time_s"], "wall_s": compose_s, "bounds": bounds},
        "png": {"lineage": str(lineage), "maze": str(maze_png), "pusher": str(push_png), "curves": str(curves)},
    }
    result["wall_s"] = time.perf_counter() - t_all
    table = summary_table(result)
    (out / "summary.md").write_text(f"# softskills demo\n\n{table}\n")
    (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
    result["summary"] = str(out / "summary.md")
    print("\n" + table, flush=True)
    return result
