"""Does a held latent steer the primitive? Probe any primitive's directions and their consistency.

    python examples/probe_primitive.py                                          # the shipped primitive
    python examples/probe_primitive.py --primitive runs/ant-velocity-fs2 --steps 500
    python examples/probe_primitive.py --quick                                  # a smoke run for CI

A high level that holds a latent of the primitive (``examples/ant_maze.py``) can steer only if
the latent decides where the ant goes. This probe holds each of 16 fixed latents
(``fixed_latents(8, 16, seed=0)``, as ``pretrain_locomotion.py`` does) for ``--steps`` env steps:

- once each, from the resets seeded 1000 + i, for the spread of directions (``direction_stats``:
  compass sectors hit, circular spread, mean distance), the numbers of the model card;
- ``--repeats`` more times each, from the same starts for every latent (resets seeded 2000 + r), for
  the **direction consistency** (``latent_consistency``): grouped by latent, the mean resultant length
  of each latent's own directions (``within``; 1 means every start went the same way) against the same
  statistic with the directions shuffled (``null``), and a permutation p-value; then the same grouped by
  start (``by_start``: do all latents head the same way from one start?). ``within`` well above
  ``null`` says that the latent (or the start) decides the direction; near ``null``, that it does not;
- on the states it visits acting as trained (a fresh latent every step, 4 episodes of up to 250 steps from
  resets seeded 0-3, every 5th state), the **latent authority** (``latent_authority``): how far the
  latent moves the action, the Jacobian's singular values and log-determinant and the gap between two
  random latents' actions (for the identity flow, ``a = tanh(h)``: log-det -5.81 and gap 2.45 on its own
  visited states; for the shipped primitive -19.05 and 0.91; docs/ant.md). A
  high level above can only steer as far as the latent moves the action.

The env steps with the ``frame_skip`` the primitive was trained with. ``--png`` plots the repeated
paths of the first four latents, one panel each (start moved to the origin). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import numpy as np
import torch

from softskills.hierarchy import load_primitive
from softskills.hierarchy.probe import (
    direction_stats,
    fixed_latents,
    latent_authority,
    latent_consistency,
    latent_rollouts,
    visited_observations,
)

ENV = "softskills/AntVelocity-v0"


def plot(paths: list[np.ndarray], repeats: int, consistency: dict[str, float], out: str, title: str) -> None:
    """The ``repeats`` paths of each of the first four latents, one panel per latent, coloured by start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6), sharex=True, sharey=True)
    for j, ax in enumerate(axes):
        for r in range(repeats):
            q = paths[j * repeats + r]
            ax.plot(q[:, 0] - q[0, 0], q[:, 1] - q[0, 1], lw=1.1, color=plt.cm.viridis(r / max(repeats - 1, 1)))
        ax.plot(0, 0, "k*", ms=9)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.set_title(f"latent {j}: {repeats} starts", fontsize=9)
    c = consistency
    fig.suptitle(f"{title}: direction consistency {c['within']:.2f} within a latent, {c['null']:.2f} shuffled "
                 f"(p = {c['p_value']:.2f})", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with NaN (no latent moved far enough) as ``None``, so that the JSON line is strict JSON."""
    return {k: _finite(v) if isinstance(v, dict) else (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in d.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--primitive", default="pretrained:ant-velocity",
                   help="pretrained:NAME or a run directory of examples/pretrain_locomotion.py")
    p.add_argument("--steps", type=int, default=200, help="env steps each latent is held")
    p.add_argument("--repeats", type=int, default=8, help="starts per latent for the consistency (at least 2)")
    p.add_argument("--quick", action="store_true", help="20 steps and 2 repeats, for CI")
    p.add_argument("--png", default="", help="also plot four latents' repeated paths into this PNG")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    if args.quick:
        args.steps, args.repeats = min(args.steps, 20), 2
    if args.steps < 1:
        p.error(f"--steps must be at least 1, got {args.steps}")
    if args.repeats < 2:
        p.error(f"--repeats must be at least 2, got {args.repeats}")
    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    layer, trained = load_primitive(args.primitive)
    latents = fixed_latents(layer.latent_dim, 16, seed=0)
    spread = direction_stats(latent_rollouts(layer, ENV, latents, steps=args.steps, seed=1000, **trained))
    consistency, paths = latent_consistency(layer, ENV, latents, args.repeats, steps=args.steps, seed=2000, **trained)
    visited = visited_observations(layer, ENV, episodes=2 if args.quick else 4, steps=args.steps if args.quick else 250,
                                   seed=0, **trained)
    authority = latent_authority(layer, visited[::5], seed=0)
    if args.png:
        plot(paths, args.repeats, consistency, args.png, f"{args.primitive}, {args.steps} steps")
    c, st = consistency, consistency["by_start"]
    print(f"{args.primitive}: {spread['sectors_hit']}/8 sectors, spread {spread['circular_spread']:.2f}, mean distance "
          f"{spread['mean_distance']:.2f} m in {args.steps} steps; direction consistency by latent {c['within']:.3f} "
          f"against {c['null']:.3f} shuffled (p = {c['p_value']:.3f}), by start {st['within']:.3f} against "
          f"{st['null']:.3f} (p = {st['p_value']:.3f}); {c['rollouts']} rollouts of {16 * args.repeats} moved "
          f">= 0.5 m; latent authority: log-det {authority['log_det']:.2f}, action gap {authority['action_gap']:.2f}")
    consistency = _finite(consistency)
    print(json.dumps({"example": "probe_primitive", "quick": args.quick, "primitive": args.primitive,
                      "env_kwargs": trained, "steps": args.steps, "spread": spread, "consistency": consistency,
                      "authority": authority, "png": args.png or None,
                      "wall_s": round(time.perf_counter() - t, 1)}))


if __name__ == "__main__":
    main()
