"""Does a trained Ant-maze high level know what its action does? Probe its critic with the simulator.

    python examples/ant_maze_critic_probe.py runs/ant_maze/hierarchy --skill 2 --interval 15
    python examples/ant_maze_critic_probe.py --quick       # the probe with a known critic, for CI

A diagnostic for ``examples/ant_maze.py``. At ``--states`` states of maze episodes (state ``i``:
reset with seed ``--seed + i``, then ``20 (i + 1)`` env steps with one random latent held), it

1. saves the MuJoCo state and draws ``--latents`` latents ``h ~ N(0, I)`` for the frozen primitive;
2. holds each one for ``--interval`` env steps from the saved state and measures the *progress*,
   the drop of the distance to the goal (what ``--progress-reward`` pays for);
3. evaluates the run's critic, the minimum of its twin Q-functions, on the saved observation and
   each latent, and also samples ``--latents`` actions of the run's own policy and measures theirs.

Per state it reports the spread of the progress, the Pearson correlation between Q and progress,
the progress of the latent with the highest Q, and that of the policy's samples, each against the
mean of the random latents. A critic that has learned what its action does ranks the latents by
their progress (correlation near 1) and its best latent beats a random one. ``--interval`` should be
the run's ``--repeat`` (the env steps of one high-level action). Ends with one JSON line.
``--quick`` probes a *known* critic (``Q = progress`` measured beforehand, so the correlation must be
1) on two small states; it needs no run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np
import torch

from softskills.envs.sim_state import restore_sim_state, save_sim_state
from softskills.hierarchy import FrozenLayer, LatentActionWrapper, lower_layers, pretrained
from softskills.skills.loading import load_run
from softskills.skills.vec import make_env

ENV = "softskills/AntCrossMaze-v0"

QFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``q(obs (d,), latents (n, k)) -> (n,)``: a critic's value of each latent at one observation."""

Sampler = Callable[[np.ndarray, int], np.ndarray]
"""``sample(obs (d,), n) -> (n, k)``: n actions of a policy at one observation."""


def progress_of(env: LatentActionWrapper, state: mujoco.MjData, latents: np.ndarray, interval: int) -> np.ndarray:
    """The drop of the goal distance when each latent is held for ``interval`` env steps from ``state``
    (:func:`~softskills.envs.sim_state.save_sim_state`); ``env`` is left at ``state``."""
    u = env.unwrapped
    out = []
    for h in latents:
        obs = restore_sim_state(env, state)
        start = u.goal_distance()
        for _ in range(interval):
            obs, *_ = u.step(env.layer.act(h[None], obs[None])[0])
        out.append(start - u.goal_distance())
    restore_sim_state(env, state)
    return np.asarray(out)


def maze(layer: FrozenLayer, goal: int, env_kwargs: dict[str, Any] | None = None) -> LatentActionWrapper:
    """The maze with goal ``goal``, its action the primitive's latent (one env step per action)."""
    return LatentActionWrapper(make_env(ENV, goal=goal, **(env_kwargs or {})), layer, repeat=1)


def probe(env: LatentActionWrapper, q: QFunction, sample: Sampler | None, states: int, latents: int,
          interval: int, seed: int) -> dict[str, Any]:
    """Probe critic ``q`` (and policy ``sample``) at ``states`` states of ``env``; see the module docstring.

    ``q`` and ``sample`` are called while ``env`` is at the probed state.
    """
    rng = np.random.default_rng(seed)
    latent_dim = env.action_space.shape[0]
    rows = []
    for i in range(states):
        env.reset(seed=seed + i)
        walk = rng.standard_normal(latent_dim)
        for _ in range(20 * (i + 1)):
            env.step(walk)
        u = env.unwrapped
        state, obs = save_sim_state(env), u._get_obs()
        h = rng.standard_normal((latents, latent_dim))
        prog = progress_of(env, state, h, interval)
        values = np.asarray(q(obs, h), dtype=np.float64)
        row = {"xy": u.xy.tolist(), "random_mean": float(prog.mean()), "random_min": float(prog.min()),
               "random_max": float(prog.max()), "corr": float(np.corrcoef(values, prog)[0, 1]),
               "argmax_q_gain": float(prog[int(np.argmax(values))] - prog.mean())}
        if sample is not None:
            row["policy_gain"] = float(progress_of(env, state, sample(obs, latents), interval).mean()
                                       - prog.mean())
        rows.append(row)
    summary = {k: float(np.mean([r[k] for r in rows])) for k in ("corr", "argmax_q_gain")}
    if sample is not None:
        summary["policy_gain"] = float(np.mean([r["policy_gain"] for r in rows]))
    summary["spread"] = float(np.mean([r["random_max"] - r["random_min"] for r in rows]))
    return {"states": rows, **summary}


def oracle(env: LatentActionWrapper, interval: int, sign: float = 1.0) -> QFunction:
    """A critic that knows the answer: ``sign`` x the progress of each latent from ``env``'s current state."""
    def q(obs: np.ndarray, h: np.ndarray) -> np.ndarray:
        return sign * progress_of(env, save_sim_state(env), h, interval)
    return q


def run_critic(run: str, skill: int) -> tuple[QFunction, Sampler, dict[str, Any], int]:
    """The critic and policy of skill ``skill`` of a trained stacked run, its env kwargs and goal."""
    agent, cfg, _ = load_run(run)
    if not cfg.stack_on:
        raise SystemExit(f"{run} is not a stacked run (its config has no stack_on): probe a hierarchy run")
    if not 0 <= skill < cfg.skills:
        raise SystemExit(f"--skill must be in 0..{cfg.skills - 1} for {run}, got {skill}")
    k_ = cfg.skills

    def q(obs: np.ndarray, h: np.ndarray) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32).expand(k_, len(h), -1).contiguous()
        a = torch.as_tensor(h, dtype=torch.float32).expand(k_, -1, -1).contiguous()
        with torch.no_grad():
            return agent.critic(o, a).min(dim=1).values[skill].numpy()

    def sample(obs: np.ndarray, n: int) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32).expand(k_, n, -1).contiguous()
        with torch.no_grad():
            a, _ = agent.policy.sample(o)
        return a[skill].double().numpy()

    kwargs = cfg.task_kwargs()[skill]  # the run's env kwargs with this skill's task merged in
    goal = int(kwargs.pop("goal"))
    return q, sample, kwargs, goal


def primitive_of(run: str) -> FrozenLayer:
    """The frozen layer right under the high level of a two-level run (``stack_on``: shipped or a run)."""
    _, cfg, _ = load_run(run)
    layers, _ = lower_layers(cfg.stack_on, cfg.stack_skill)
    if len(layers) != 1:
        raise SystemExit(f"{run} sits on a stack of {len(layers)} layers; the probe takes a high level on one "
                         "primitive")
    return layers[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", nargs="?", help="a hierarchy run directory of examples/ant_maze.py")
    p.add_argument("--skill", type=int, default=0, help="which skill (goal) of the run")
    p.add_argument("--interval", type=int, default=15, help="env steps per latent (the run's --repeat)")
    p.add_argument("--states", type=int, default=6)
    p.add_argument("--latents", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="probe a known critic on 2 states, for CI")
    a = p.parse_args()
    for name in ("interval", "states", "latents"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(a, name)}")
    torch.set_num_threads(1)
    if a.quick:
        layer = pretrained("ant-velocity")  # a critic that knows the answer: the probe must find correlation 1
        a.states, a.latents, a.interval = 2, 8, 5
        env = maze(layer, goal=2)
        try:
            res = probe(env, oracle(env, a.interval), None, a.states, a.latents, a.interval, a.seed)
        finally:
            env.close()
        out = {"example": "ant_maze_critic_probe", "quick": True, **{k: v for k, v in res.items() if k != "states"}}
    else:
        if not a.run:
            p.error("give a run directory (or --quick)")
        q_fn, sample, env_kwargs, goal = run_critic(a.run, a.skill)
        env = maze(primitive_of(a.run), goal, env_kwargs)  # the run's own primitive, in its own env (frame_skip)
        try:
            res = probe(env, q_fn, sample, a.states, a.latents, a.interval, a.seed)
        finally:
            env.close()
        for i, r in enumerate(res["states"]):
            print(f"state {i} at ({r['xy'][0]:.1f}, {r['xy'][1]:.1f}): progress of random latents "
                  f"{r['random_min']:.2f} .. {r['random_max']:.2f} m (mean {r['random_mean']:.2f}); "
                  f"corr(Q, progress) {r['corr']:.2f}; argmax-Q gain {r['argmax_q_gain']:+.2f} m; "
                  f"policy gain {r['policy_gain']:+.2f} m")
        out = {"example": "ant_maze_critic_probe", "quick": False, "run": a.run, "skill": a.skill, "goal": goal,
               "interval": a.interval, "latents": a.latents, "seed": a.seed,
               **{k: v for k, v in res.items() if k != "states"}, "per_state": res["states"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
