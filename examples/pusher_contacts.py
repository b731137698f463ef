"""How a saved pusher run pushes the puck: with the fork's cradle or with a prong's tip.

    python examples/pusher_contacts.py RUN                      # every skill of RUN, 100 episodes
    python examples/pusher_contacts.py RUN --sampled            # SQL's sampler, as the example evaluates it
    python examples/pusher_contacts.py MERGE --resample 500 --sampled   # a composed run, from exp(Q_Sigma/alpha)
    python examples/pusher_contacts.py RUN --quick              # 5 episodes (CI)

The fork at the end of the arm (``distal_4``) is a crossbar with two prongs. Both constituents of every
merge push the puck in the *cradle*, its centre against the crossbar between the prongs. Within the
joint ranges the cradle cannot bring the puck closer than 0.186 m to the corner (-1, -1)
(``tests/envs/test_pusher.py``), so a policy that gets closer must push with a prong's tip there.

The episodes are those of ``compose_pusher.py``'s evaluation (episode e resets with ``--seed + e``;
``--sampled`` seeds torch with ``--seed`` first), so the final distances printed here equal that
example's. A *push* is an env step in which the puck moved more than ``--moved`` metres; it is put in
the category of where the puck's centre was, in the fork's frame, at the start of the step:

* ``cradle``: between the prongs and no further out than their ends (``x <= PRONG_END_X``, ``|y| < 0.2``);
* ``tip``: beyond the prongs' ends (``x > PRONG_END_X``), pushed by a prong's tip;
* ``other``: anywhere else (beside a prong, behind the crossbar, against a link).

Reported per skill, for all pushes and for the pushes that start with the puck more than ``--radius``
metres (default 1.25) from the arm's base, where the cradle hardly reaches. Ends by printing one JSON line.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compose_pusher import final_distances, summary  # noqa: E402  (the sibling example)

from softskills.envs.pusher import PRONG_END_X  # noqa: E402
from softskills.skills.vec import StepResult  # noqa: E402

__all__ = ["CATEGORIES", "classify", "push_contacts"]

CATEGORIES = ("cradle", "tip", "other")
PRONG_Y = 0.2
"""The prongs run along the fork's x at ``y = -0.2`` and ``0.2``."""


def classify(puck_in_fork: np.ndarray) -> np.ndarray:
    """The category index (into ``CATEGORIES``) of puck centres ``(..., 2)`` in the fork's frame."""
    x, y = puck_in_fork[..., 0], puck_in_fork[..., 1]
    tip = x > PRONG_END_X
    cradle = ~tip & (x > 0.0) & (np.abs(y) < PRONG_Y)
    return np.where(tip, 1, np.where(cradle, 0, 2))


def shares(cat: np.ndarray) -> dict[str, Any]:
    """The number of pushes and the share of each category."""
    n = int(cat.size)
    return {"pushes": n, **{c: (float(np.mean(cat == i)) if n else None) for i, c in enumerate(CATEGORIES)}}


def push_contacts(run_dir: str | Path, episodes: int, seed: int, sampled: bool = False, resample: int = 0,
                  radius: float = 1.25, moved: float = 2e-3) -> dict[str, Any]:
    """Evaluate ``run_dir`` as ``compose_pusher.final_distances`` does and sort every push by contact.

    Args:
        run_dir: a saved pusher run (any K), or a composed one.
        episodes: episodes per skill.
        seed: episode e resets with ``seed + e``.
        sampled: draw actions (torch seeded with ``seed``) instead of acting deterministically.
        resample: act from ``exp(Q_Sigma/alpha)`` with this many candidates (composed runs only).
        radius: also report the pushes that start with the puck farther than this from the base.
        moved: a step is a push when the puck moves more than this (metres).

    Returns:
        ``{"skills": [...], "radius", "moved"}``; per skill its task, its final distances (mean, std),
        ``all`` (pushes and category shares) and ``beyond`` (the same for pushes beyond ``radius``).
    """
    rows: list[tuple[int, float, float, float]] = []  # (skill, x, y, distance from the base)

    def on_step(res: StepResult, active: np.ndarray) -> None:
        for k, i in zip(*np.nonzero(active)):
            info = res.infos[k][i]
            before = np.asarray(info["puck_xy"], dtype=np.float64)
            after = res.final_obs[k, i, 9:11]  # the post-action puck (obs[9:11], the true s')
            if np.linalg.norm(after - before) > moved:
                x, y = np.asarray(info["puck_in_fork"], dtype=np.float64)
                rows.append((int(k), float(x), float(y), float(np.linalg.norm(before))))

    dist, _, tasks = final_distances(run_dir, episodes, seed, sampled=sampled, resample=resample, on_step=on_step)
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    skills = []
    for k, task in enumerate(tasks):
        mine = arr[arr[:, 0] == k]
        cat = classify(mine[:, 1:3])
        skills.append({"skill": k, "task": task, "final_distance": summary(dist[k]), "all": shares(cat),
                       "beyond": shares(cat[mine[:, 3] > radius])})
    return {"skills": skills, "radius": radius, "moved": moved}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a saved pusher run directory (or a composed one)")
    p.add_argument("--episodes", type=int, default=None, help="episodes per skill (100; quick 5)")
    p.add_argument("--seed", type=int, default=10_000, help="episode e resets with this + e")
    p.add_argument("--sampled", action="store_true", help="draw actions instead of acting deterministically")
    p.add_argument("--resample", type=int, default=0, metavar="N",
                   help="act from exp(Q_Sigma/alpha) with N candidates per state (a composed run)")
    p.add_argument("--radius", type=float, default=1.25,
                   help="also count apart the pushes that start farther than this from the base (metres)")
    p.add_argument("--moved", type=float, default=2e-3, help="a step is a push when the puck moves more than this")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--quick", action="store_true", help="5 episodes")
    a = p.parse_args()
    episodes = a.episodes if a.episodes is not None else (5 if a.quick else 100)
    for name, bad in (("--episodes", episodes < 1), ("--radius", not a.radius > 0), ("--moved", not a.moved > 0)):
        if bad:
            p.error(f"{name} must be positive")
    if a.resample < 0:
        p.error("--resample must be >= 0 (0: the run's own policy)")
    if not (Path(a.run) / "checkpoint").is_dir() and not (Path(a.run) / "meta.json").is_file():
        p.error(f"{a.run} is not a saved run directory (no checkpoint/ in it)")
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    res = push_contacts(a.run, episodes, a.seed, sampled=a.sampled, resample=a.resample, radius=a.radius,
                        moved=a.moved)
    for s in res["skills"]:
        d, al, be = s["final_distance"], s["all"], s["beyond"]
        fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        print(f"skill {s['skill']} {s['task']}: final distance {d['mean']:.3f} ± {d['std']:.3f} m; "
              f"{al['pushes']} pushes, cradle {fmt(al['cradle'])} / tip {fmt(al['tip'])} / other {fmt(al['other'])}; "
              f"beyond {a.radius} m: {be['pushes']} pushes, cradle {fmt(be['cradle'])} / tip {fmt(be['tip'])}")
    print(json.dumps({"example": "pusher_contacts", "run": str(a.run), "episodes": episodes, "seed": a.seed,
                      "sampled": a.sampled, "resample": a.resample, **res, "wall_s": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
