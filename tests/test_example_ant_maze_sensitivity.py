"""examples/ant_maze_sensitivity.py: replays are exact, tiny perturbations stay tiny over a short interval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.example_module import load_example

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_prints_its_table_and_json() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ant_maze_sensitivity.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("| env steps | loop |")
    m = json.loads(lines[-1])
    assert m["example"] == "ant_maze_sensitivity" and m["quick"] and list(m["summary"]) == ["3"]
    s = m["summary"]["3"]
    assert s["closed"]["0.0"] == 0.0 and s["open"]["0.0"] == 0.0 and s["base"] > 0.0


def test_perturbations_scale_with_their_size() -> None:
    """Over 3 env steps a 1e-6 change of the latent moves the ant by far less than a fresh latent does, and
    the zero perturbation replays the base rollout exactly (closed and open loop). (Seed 0's state has the ant
    on the ground; at some states it is in mid-hop, and then no latent moves its centre of mass for a few steps.)"""
    ex = load_example("ant_maze_sensitivity")
    env = ex.maze(goal=2)
    try:
        res = ex.sensitivity(env, states=1, intervals=(3,), deltas=(0.0, 1e-6, 1.0), directions=3, seed=0)
    finally:
        env.close()
    s = res["summary"]["3"]
    assert s["closed"]["0.0"] == 0.0 and s["open"]["0.0"] == 0.0
    assert s["closed"]["1e-06"] < 1e-4 < s["fresh"]
    assert s["closed"]["1.0"] > 10 * s["closed"]["1e-06"]
    assert s["open"]["1.0"] > s["open"]["1e-06"]


def test_closed_loop_displacement_is_the_rollouts() -> None:
    """``closed_loop`` returns the displacement of the held latent's rollout, and ``open_loop`` replaying its
    actions reproduces it bit for bit."""
    ex = load_example("ant_maze_sensitivity")
    from softskills.envs.sim_state import save_sim_state

    env = ex.maze(goal=0)
    try:
        env.reset(seed=1)
        state = save_sim_state(env)
        h = np.random.default_rng(0).standard_normal(env.action_space.shape[0])
        disp, acts = ex.closed_loop(env, state, h, 5)
        assert acts.shape == (5, env.env.action_space.shape[0]) and np.linalg.norm(disp) > 0
        np.testing.assert_array_equal(ex.open_loop(env, state, acts), disp)
        other, _ = ex.closed_loop(env, state, -h, 5)
        assert np.linalg.norm(other - disp) > 0
    finally:
        env.close()


def test_closed_loop_is_the_wrappers_rollout() -> None:
    """``closed_loop`` re-reads the state at every env step, as ``LatentActionWrapper`` does: stepping a
    wrapper with ``repeat=n`` from the same state ends at the same position bit for bit."""
    ex = load_example("ant_maze_sensitivity")
    from softskills.envs.sim_state import restore_sim_state, save_sim_state
    from softskills.hierarchy import LatentActionWrapper

    env = ex.maze(goal=1)
    try:
        env.reset(seed=2)
        for _ in range(30):
            env.step(np.ones(env.action_space.shape[0]))
        state = save_sim_state(env)
        h = np.random.default_rng(5).standard_normal(env.action_space.shape[0])
        disp, _ = ex.closed_loop(env, state, h, 12)
        wrapped = LatentActionWrapper(env.env, env.layer, repeat=12)
        wrapped._obs = restore_sim_state(env, state).astype(np.float64)  # as if the wrapper had just observed it
        x0 = env.unwrapped.xy.copy()
        wrapped.step(h)
        np.testing.assert_array_equal(env.unwrapped.xy - x0, disp)
    finally:
        env.close()


def test_airborne_fraction_counts_steps_without_floor_contact() -> None:
    """An ant lifted 2 m above the floor with no velocity is in the air for all of its first 10 env steps
    (about 0.64 s of free fall at 0.05 s per step), and has landed within 40."""
    ex = load_example("ant_maze_sensitivity")
    from softskills.envs.sim_state import save_sim_state

    env = ex.maze(goal=0)
    try:
        env.reset(seed=0)
        u = env.unwrapped
        u.data.qpos[2] += 2.0
        u.data.qvel[:] = 0.0
        high = save_sim_state(env)
        h = np.zeros(env.action_space.shape[0])
        assert ex.airborne_fraction(env, high, h, 10) == 1.0
        assert ex.airborne_fraction(env, high, h, 40) < 1.0
    finally:
        env.close()


def test_maze_steps_like_the_primitive_was_trained(tmp_path: Path) -> None:
    """``--primitive RUN``: the probed maze steps with the run's ``frame_skip`` (here rllab's 0.02 s)."""
    from softskills.skills.config import TrainConfig
    from softskills.skills.sac import SACConfig
    from softskills.skills.trainer import Trainer

    ex = load_example("ant_maze_sensitivity")
    run = tmp_path / "prim"
    Trainer(TrainConfig(env="softskills/AntVelocity-v0", env_kwargs={"frame_skip": 2}, policy="realnvp", steps=25,
                        warmup_steps=20, batch_size=8, sac=SACConfig(hidden=(8, 8)), flow_embed_hidden=(8, 8),
                        flow_st_hidden=(4,), out=str(run), progress=False, tensorboard=False, eval_every=0,
                        eval_episodes=1, threads=1)).train()
    fine, shipped = ex.maze(goal=1, primitive=str(run)), ex.maze(goal=1)
    try:
        assert fine.unwrapped.dt == 0.02 and shipped.unwrapped.dt == 0.05
        assert fine.layer.source == str(run)
    finally:
        fine.close()
        shipped.close()
