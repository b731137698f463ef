"""The demo's measurements and figures: maze success and paths, pusher final distances, the summary table."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from softskills.hierarchy import PathRecorder, run_env_factory
from softskills.skills.evaluate import evaluate
from softskills.skills.factory import default_env_factory
from softskills.skills.loading import load_run

__all__ = ["maze_rollouts", "plot_maze", "plot_pusher", "pusher_distances", "summary_table"]


def maze_rollouts(run: str | os.PathLike[str], episodes: int, seed: int) -> tuple[float, np.ndarray, list[np.ndarray]]:
    """Success rate, returns and xy paths of ``episodes`` sampled episodes of a stacked maze run (its whole stack).

    Top-level latents are *sampled* (torch seeded to ``seed``): the deterministic ``h = 0`` of a
    direction-symmetric primitive barely moves.
    """
    agent, cfg, meta = load_run(run)
    envs = run_env_factory(cfg, meta.get("run_info"))(episodes)
    torch.manual_seed(seed)
    try:
        with PathRecorder(envs, slice(2, 4)) as rec:  # the point's xy, at every env step
            res = evaluate(agent, envs, seed=seed, deterministic=False)
    finally:
        envs.close()
    success = float(np.mean([bool(i["success"]) for i in res.final_infos[0]]))
    return success, res.returns[0], rec.paths(0)


def pusher_distances(run: str | os.PathLike[str], episodes: int, seed: int, task: dict[str, Any] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Final puck-goal distances ``(E,)`` and final puck positions ``(E, 2)`` of a K = 1 pusher run's
    deterministic policy, on its own task or on ``task`` (episode e reset with seed ``seed + e``)."""
    agent, cfg, _ = load_run(run)
    if task is not None:
        cfg = dataclasses.replace(cfg, env_kwargs=json.dumps(task), tasks=())
    envs = default_env_factory(cfg)(episodes)
    try:
        res = evaluate(agent, envs, seed)
    finally:
        envs.close()
    dist = np.array([float(i["goal_distance"]) for i in res.final_infos[0]])
    puck = np.array([np.asarray(i["puck_xy"], dtype=np.float64) for i in res.final_infos[0]])
    return dist, puck


def plot_maze(paths: list[np.ndarray], success: float, goal: int, out: Path) -> Path:
    """The maze walls, the goal and the evaluation paths of the stacked skill."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from softskills.envs.plot_point_maze import draw_point_maze

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    draw_point_maze(ax, paths, goal, f"point-maze (stacked on point-walk): {success:.0%} success")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_pusher(pucks: dict[str, np.ndarray], out: Path) -> Path:
    """Final puck positions of push-x, push-y and the composed push-xy, with the goal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.6))
    ax.axvline(-1.0, color="tab:blue", ls="--", lw=1)
    ax.axhline(-1.0, color="tab:orange", ls="--", lw=1)
    colours = {"push-x": "tab:blue", "push-y": "tab:orange", "push-xy": "tab:green"}
    for name, p in pucks.items():
        ax.scatter(p[:, 0], p[:, 1], s=14, color=colours.get(name), label=name)
    ax.plot(-1, -1, marker="*", ms=14, color="k", ls="none", label="push-xy goal (-1, -1)")
    ax.set_xlabel("puck x")
    ax.set_ylabel("puck y")
    ax.set_title("final puck positions (push-xy: 0 new env steps)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _ms(x: dict[str, float]) -> str:
    return f"{x['mean']:.2f} ± {x['std']:.2f}"


def summary_table(r: dict[str, Any]) -> str:
    """The demo's summary as a markdown table (every number measured in this run)."""
    m, p, c = r["maze"], r["pusher"], r["compose"]
    b = c["bounds"]
    rows = [
        ("pretrain", "point-walk", f"PointVelocity-v0, Real-NVP, {r['budget']['primitive_steps']:,} env steps",
         f"eval return {m['primitive_eval_return']:.1f}", m["primitive_wall_s"]),
        ("stack", "point-maze", f"PointMaze-v0 goal 0 on point-walk, {r['budget']['high_steps']:,} high-level steps "
         f"x repeat {r['budget']['repeat']}", f"success {m['success']:.0%} ({m['episodes']} sampled episodes), "
         f"return {m['return_mean']:.0f}", m["stack_wall_s"]),
        ("pretrain K=2", "push-x, push-y", f"Pusher-v0, goals x=-1 / y=-1, one batched update, "
         f"{r['budget']['push_steps']:,} env steps each", f"final distance {_ms(p['push-x'])} / {_ms(p['push-y'])}",
         p["wall_s"]),
        ("compose", "push-xy", f"mean of the two Qs, {c['gradient_steps']:,} extraction steps, 0 env steps",
         f"distance to (-1, -1): push-xy {_ms(c['distance'])}; push-x {_ms(c['baseline']['push-x'])}, "
         f"push-y {_ms(c['baseline']['push-y'])}", c["extract_wall_s"]),
        ("bounds", "push-xy", f"fitted C*, D*, D_exact over {b['transitions']:,} buffer transitions",
         f"C* max {b['c_star_max']:.3g}, D* mean {b['d_star_mean']:.3g}, D_exact mean {b['d_exact_mean']:.3g}",
         c["bounds_wall_s"]),
    ]
    lines = ["| workflow | skill | what | measured | wall s |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {n} | {w} | {v} | {t:.0f} |" for a, n, w, v, t in rows]
    lines.append(f"| all | | {'quick' if r['quick'] else 'full'} demo, {r['threads']} torch thread(s) | | "
                 f"{r['wall_s']:.0f} |")
    return "\n".join(lines)
