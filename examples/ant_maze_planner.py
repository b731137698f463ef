"""Can the primitive solve the Ant cross maze at all? Steer it with a planner that uses the simulator.

    python examples/ant_maze_planner.py                  # 3 goals x 5 episodes (about 5 min per goal on a CPU)
    python examples/ant_maze_planner.py --quick          # one short episode, for CI

A diagnostic, not a learning method. ``examples/ant_maze.py`` asks SAC to learn a high level on the
shipped primitive from the sparse maze reward; when that fails, this script tells the two possible
causes apart: a primitive that cannot carry the ant to the goals, or a high level that does not learn
to steer it. Here nothing is learned. Every ``--execute`` env steps the planner

1. saves the MuJoCo state (the whole ``MjData``, so that the lookahead of the chosen latent is exactly
   what the episode then does);
2. rolls out the current latent and ``--candidates`` fresh ones ``h ~ N(0, I)``, each held for
   ``--horizon`` env steps through the frozen primitive ``a = f(h; s)``, from the saved state;
3. restores the state and holds the latent whose rollout ended nearest the goal by the path through
   the corridors (via the junction centre (6, 0) unless the ant is already in the junction or the
   goal's arm) for the next ``--execute`` env steps in the real episode.

The lookahead uses the true simulator, which a learner never has, so success here is an upper
bound on what a high level over this primitive could do, not a result of the method. The maze is
``softskills/AntCrossMaze-v0`` as ``examples/ant_maze.py`` runs it (sparse reward, 1000-step episodes,
``terminate_when_unhealthy=False``). Writes ``OUT/planner.png`` and ``OUT/planner.json`` and ends
with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from softskills.envs.ant_maze import CROSS_MAZE_GOALS
from softskills.envs.sim_state import restore_sim_state, save_sim_state
from softskills.hierarchy import FrozenLayer, LatentActionWrapper, load_primitive
from softskills.skills.vec import make_env

ENV = "softskills/AntCrossMaze-v0"
JUNCTION = np.array([6.0, 0.0])
ARMS = ("south", "north", "east")


def region(xy: np.ndarray) -> str:
    """Which part of the cross maze ``xy`` lies in: west corridor, junction, or one of the arms."""
    x, y = float(xy[0]), float(xy[1])
    if x < 4.0:
        return "west"
    if x > 8.0:
        return "east"
    return "north" if y > 2.0 else "south" if y < -2.0 else "junction"


def corridor_distance(xy: np.ndarray, goal: int) -> float:
    """Distance to goal ``goal`` along the corridors: straight from the junction or the goal's own arm,
    else through the junction centre."""
    g = CROSS_MAZE_GOALS[goal]
    if region(xy) in ("junction", ARMS[goal]):
        return float(np.linalg.norm(xy - g))
    return float(np.linalg.norm(xy - JUNCTION) + np.linalg.norm(JUNCTION - g))


def choose(scores: list[float]) -> int:
    """The candidate whose lookahead ended nearest the goal."""
    return int(np.argmin(scores))


def plan_episode(layer: FrozenLayer, goal: int, seed: int, candidates: int, horizon: int, execute: int,
                 steps: int, env_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """One planned episode; returns its success, env steps, final and closest goal distance and xy path.
    ``env_kwargs`` (e.g. the primitive's ``frame_skip``) go to the maze."""
    env = LatentActionWrapper(make_env(ENV, goal=goal, terminate_when_unhealthy=False, **(env_kwargs or {})), layer)
    base = env.unwrapped
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    path = [np.asarray(info["xy_position"], dtype=float)]
    h = rng.standard_normal(layer.latent_dim)
    t, closest, done = 0, float(info["goal_distance"]), False
    d_low = layer.policy.obs_dim
    while t < steps and not done:
        snapshot = save_sim_state(env)
        options = [h, *rng.standard_normal((candidates, layer.latent_dim))]
        scores = []
        for c in options:  # lookahead in the simulator itself, from the saved state
            obs = restore_sim_state(env, snapshot)
            for _ in range(horizon):
                obs, _, _, _, look = base.step(layer.act(c[None], obs[None, :d_low])[0])
            scores.append(corridor_distance(np.asarray(look["xy_position"]), goal))
        restore_sim_state(env, snapshot)
        h = options[choose(scores)]
        for _ in range(min(execute, steps - t)):
            _, _, term, trunc, info = env.step(h)
            t += 1
            path.append(np.asarray(info["xy_position"], dtype=float))
            closest = min(closest, float(info["goal_distance"]))
            if term or trunc:
                done = True
                break
    env.close()
    return {"goal": goal, "seed": seed, "success": bool(info["success"]), "env_steps": t,
            "final_distance": float(info["goal_distance"]), "closest_distance": closest, "path": np.stack(path)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--goals", type=int, nargs="+", default=[0, 1, 2], help="maze goals: 0 south, 1 north, 2 east")
    p.add_argument("--episodes", type=int, default=5, help="planned episodes per goal")
    p.add_argument("--candidates", type=int, default=24, help="fresh latents tried at each decision")
    p.add_argument("--horizon", type=int, default=30, help="env steps of each lookahead rollout")
    p.add_argument("--execute", type=int, default=15, help="env steps the chosen latent is held")
    p.add_argument("--steps", type=int, default=1000, help="env steps per episode (the maze's 1000)")
    p.add_argument("--primitive", default="pretrained:ant-velocity",
                   help="the frozen layer: pretrained:NAME or a run directory")
    p.add_argument("--seed", type=int, default=0, help="episode e of every goal uses seed + e")
    p.add_argument("--out", default="runs/ant_maze_planner")
    p.add_argument("--quick", action="store_true", help="one short episode with few candidates, for CI")
    a = p.parse_args()
    if a.quick:
        a.goals, a.episodes, a.candidates, a.horizon, a.execute, a.steps = [1], 1, 3, 6, 6, 30
    if any(g not in range(len(CROSS_MAZE_GOALS)) for g in a.goals):
        p.error(f"--goals must be in 0..{len(CROSS_MAZE_GOALS) - 1}, got {a.goals}")
    for name in ("episodes", "candidates", "horizon", "execute", "steps"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(a, name)}")
    torch.set_num_threads(1)
    try:
        layer, trained = load_primitive(a.primitive)
    except (FileNotFoundError, ValueError) as e:
        p.error(f"--primitive: {e}")
    skip = {"frame_skip": trained["frame_skip"]} if "frame_skip" in trained else {}  # step as it was trained
    t0 = time.perf_counter()
    episodes = [plan_episode(layer, g, a.seed + e, a.candidates, a.horizon, a.execute, a.steps, skip)
                for g in a.goals for e in range(a.episodes)]
    wall = time.perf_counter() - t0
    per_goal = {g: [e for e in episodes if e["goal"] == g] for g in a.goals}
    results = {"planner": {
        "success": [float(np.mean([e["success"] for e in es])) for es in per_goal.values()],
        "final_distance": [float(np.mean([e["final_distance"] for e in es])) for es in per_goal.values()],
        "env_steps_to_goal": [[e["env_steps"] for e in es if e["success"]] for es in per_goal.values()],
    }}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ant_maze import plot  # the same maze drawing as the learning example

    png = out / "planner.png"
    plot(results, {"planner": [[e["path"] for e in es] for es in per_goal.values()]}, a.goals, png)
    for g, s, d, n in zip(a.goals, *results["planner"].values()):
        print(f"goal {g}: {s:.0%} reached, final distance {d:.2f} m, env steps to the goal {n}")
    summary = {"example": "ant_maze_planner", "quick": a.quick, "primitive": a.primitive, "goals": a.goals,
               "episodes": a.episodes, "candidates": a.candidates, "horizon": a.horizon, "execute": a.execute,
               "steps": a.steps, "seed": a.seed, "results": results, "wall_s": wall, "png": str(png),
               "episode_rows": [{k: v for k, v in e.items() if k != "path"} for e in episodes]}
    (out / "planner.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
