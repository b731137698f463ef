"""How predictable is a latent's effect? Perturb the primitive's latent, and its actions, from one state.

    python examples/ant_maze_sensitivity.py                  # 6 states, intervals 3, 15 and 45 env steps
    python examples/ant_maze_sensitivity.py --quick          # 1 state, one interval, for CI
    python examples/ant_maze_sensitivity.py --primitive runs/ant-velocity-fs2 --intervals 8 38 113
                                                             # the same time spans at 0.02 s

A diagnostic for ``examples/ant_maze.py``, whose high level picks the shipped primitive's latent
``h`` and holds it for ``--repeat`` env steps. The high level can only learn what a latent does
if nearby latents do nearby things over that interval. At each of ``--states`` states of maze
episodes (state ``i``: reset with seed ``--seed + i``, then ``20 (i + 2)`` env steps with one
random latent held) it saves the whole MuJoCo state, draws one latent ``h ~ N(0, I)`` and holds
it for ``n`` env steps (the *base* rollout), then restores the state and measures how far the
ant's final position moves (``‖Δxy‖``, metres) when

- **closed loop**: ``h`` is replaced by ``h + δ·u`` for ``--directions`` random unit vectors
  ``u``, the primitive acting on the state as usual;
- **open loop**: the base rollout's *actions* are replayed with N(0, δ²) noise added (and clipped
  to the action box), no primitive in the loop, which tells the simulator's own sensitivity apart
  from the primitive's;
- **fresh**: a new latent ``h' ~ N(0, I)``, the scale of the effect a high level can choose between.

The two δ are different scales: the latent moves by exactly ``δ`` once, while the open loop adds
noise of standard deviation ``δ`` to every action component at every step. For each state and
interval the directions and the noise are drawn once and scaled by each ``δ`` (paired across
``δ``), and each state's walk and latent come from their own generator (``(--seed, i)``), so a
state is the same whatever ``--intervals``. ``δ = 0`` replays the base rollout itself, so its
``‖Δxy‖`` must be exactly 0 (the restore is exact); the example checks that. The summary has the
mean and the median over states. It also reports, per state, the share of 200 env steps with ``h``
held after which no part of the ant touches the floor (``airborne``): a hopping gait. For a latent
whose effect is learnable, the closed-loop ``‖Δxy‖`` shrinks with ``δ`` far below the fresh one.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import torch

from softskills.envs.sim_state import restore_sim_state, save_sim_state
from softskills.hierarchy import LatentActionWrapper, load_primitive
from softskills.skills.vec import make_env, scale_action

ENV = "softskills/AntCrossMaze-v0"
DELTAS = (0.0, 1e-6, 1e-4, 1e-2, 1e-1, 1.0)
"""Perturbation sizes: of the latent (closed loop) and of every action component (open loop)."""
AIRBORNE_STEPS = 200
"""Env steps over which :func:`airborne_fraction` counts the steps without floor contact."""


def maze(goal: int = 2, primitive: str = "pretrained:ant-velocity") -> LatentActionWrapper:
    """The maze with the primitive's latent as its action (one env step per action), stepping with the
    ``frame_skip`` the primitive was trained with."""
    layer, trained = load_primitive(primitive)
    skip = {"frame_skip": trained["frame_skip"]} if "frame_skip" in trained else {}
    return LatentActionWrapper(make_env(ENV, goal=goal, terminate_when_unhealthy=False, **skip), layer, repeat=1)


def closed_loop(env: LatentActionWrapper, state: Any, h: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold latent ``h`` for ``n`` env steps from ``state``: the displacement ``(2,)`` and the actions ``(n, A)``."""
    u, box = env.unwrapped, env.env.action_space
    obs = restore_sim_state(env, state)
    x0, acts = u.xy.copy(), []
    for _ in range(n):  # what LatentActionWrapper.step does, one env step at a time
        a = scale_action(env.layer.act(h[None], obs[None])[0], box.low, box.high).astype(box.dtype)
        acts.append(a)
        obs, *_ = u.step(a)
    return u.xy - x0, np.asarray(acts)


def open_loop(env: LatentActionWrapper, state: Any, actions: np.ndarray) -> np.ndarray:
    """Replay ``actions`` from ``state``, no policy in the loop: the displacement ``(2,)``."""
    u = env.unwrapped
    restore_sim_state(env, state)
    x0 = u.xy.copy()
    for a in actions:
        u.step(a)
    return u.xy - x0


def airborne_fraction(env: LatentActionWrapper, state: Any, h: np.ndarray, n: int) -> float:
    """The share of ``n`` env steps, latent ``h`` held from ``state``, after which no geom of the ant touches
    the floor (contacts with the maze walls do not count): how much of the gait is in the air."""
    u, box = env.unwrapped, env.env.action_space
    obs = restore_sim_state(env, state)
    air = 0
    for _ in range(n):
        obs, *_ = u.step(scale_action(env.layer.act(h[None], obs[None])[0], box.low, box.high).astype(box.dtype))
        air += not u.touches_floor()
    return air / n


def sensitivity(env: LatentActionWrapper, states: int, intervals: tuple[int, ...], deltas: tuple[float, ...],
                directions: int, seed: int) -> dict[str, Any]:
    """Mean ``‖Δxy‖`` per interval and perturbation size over ``states`` states; see the module docstring."""
    dim = env.action_space.shape[0]
    lo, hi = env.env.action_space.low, env.env.action_space.high
    res: dict[str, Any] = {str(n): {"closed": {str(d): [] for d in deltas}, "open": {str(d): [] for d in deltas},
                                    "fresh": [], "base": []} for n in intervals}
    airborne = []
    for i in range(states):
        rng = np.random.default_rng([seed, i])  # state i is the same whatever the intervals and sizes
        env.reset(seed=seed + i)
        walk = rng.standard_normal(dim)
        for _ in range(20 * (i + 2)):
            env.step(walk)
        state = save_sim_state(env)
        h = rng.standard_normal(dim)
        airborne.append(airborne_fraction(env, state, h, AIRBORNE_STEPS))
        for n in intervals:
            r = res[str(n)]
            base, acts = closed_loop(env, state, h, n)
            r["base"].append(float(np.linalg.norm(base)))
            dirs = rng.standard_normal((directions, dim))  # drawn once, scaled by every delta (paired)
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            noise = rng.standard_normal((directions, *acts.shape))
            for d in deltas:
                r["closed"][str(d)].append(float(np.mean(
                    [np.linalg.norm(closed_loop(env, state, h + d * v, n)[0] - base) for v in dirs])))
                r["open"][str(d)].append(float(np.mean(
                    [np.linalg.norm(open_loop(env, state, np.clip(acts + d * z, lo, hi)) - base) for z in noise])))
            r["fresh"].append(float(np.mean(
                [np.linalg.norm(closed_loop(env, state, rng.standard_normal(dim), n)[0] - base)
                 for _ in range(directions)])))
    summary = {n: {"base": float(np.mean(r["base"])), "fresh": float(np.mean(r["fresh"])),
                   "closed": {d: float(np.mean(v)) for d, v in r["closed"].items()},
                   "open": {d: float(np.mean(v)) for d, v in r["open"].items()},
                   "median": {"fresh": float(np.median(r["fresh"])),
                              "closed": {d: float(np.median(v)) for d, v in r["closed"].items()}}}
               for n, r in res.items()}
    return {"summary": summary, "per_state": res, "airborne": airborne}


def table(summary: dict[str, Any], deltas: tuple[float, ...]) -> str:
    """The summary as a Markdown table: per interval, the closed loop's mean and median over states and the
    open loop's mean."""
    head = "| env steps | loop | " + " | ".join(f"δ = {d:g}" for d in deltas) + " | fresh latent | base ‖Δxy‖ |"
    lines = [head, "|" + "---|" * (len(deltas) + 4)]
    for n, s in summary.items():
        for loop in ("closed", "closed, median", "open"):
            vals = s["median"]["closed"] if loop == "closed, median" else s[loop]
            cells = " | ".join(f"{vals[str(d)]:.4f}" for d in deltas)
            fresh = {"closed": f"{s['fresh']:.3f}", "closed, median": f"{s['median']['fresh']:.3f}"}.get(loop, "")
            lines.append(f"| {n} | {loop} | {cells} | {fresh} | {s['base']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--states", type=int, default=6, help="maze states probed")
    p.add_argument("--intervals", type=int, nargs="+", default=[3, 15, 45], help="env steps each latent is held")
    p.add_argument("--directions", type=int, default=8, help="perturbations per state and size")
    p.add_argument("--goal", type=int, default=2, choices=(0, 1, 2))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--primitive", default="pretrained:ant-velocity",
                   help="pretrained:NAME or a run directory of examples/pretrain_locomotion.py")
    p.add_argument("--quick", action="store_true", help="1 state, 3 env steps, 2 directions, for CI")
    a = p.parse_args()
    for name in ("states", "directions"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(a, name)}")
    if min(a.intervals) < 1:
        p.error(f"--intervals must all be at least 1, got {a.intervals}")
    a.intervals = sorted(set(a.intervals))
    if a.quick:
        a.states, a.intervals, a.directions = 1, [3], 2
    torch.set_num_threads(1)
    env = maze(a.goal, a.primitive)
    try:
        res = sensitivity(env, a.states, tuple(a.intervals), DELTAS, a.directions, a.seed)
    finally:
        env.close()
    for n, s in res["summary"].items():
        if s["closed"]["0.0"] != 0.0 or s["open"]["0.0"] != 0.0:
            raise SystemExit(f"replaying the base rollout moved the ant ({s['closed']['0.0']}, {s['open']['0.0']} m "
                             f"after {n} steps): the simulator restore is not exact")
    print(table(res["summary"], DELTAS))
    shares = " ".join(f"{x:.2f}" for x in res["airborne"])
    print(f"airborne share of {AIRBORNE_STEPS} env steps per state: {shares}")
    print(json.dumps({"example": "ant_maze_sensitivity", "quick": a.quick, "states": a.states,
                      "directions": a.directions, "goal": a.goal, "seed": a.seed, "primitive": a.primitive,
                      "dt": env.unwrapped.dt, "deltas": list(DELTAS),
                      **res}))


if __name__ == "__main__":
    main()
