"""The committed weights in ``snapshots/`` reproduce the README's numbers when evaluated again.

``snapshots/cpsql-direct`` holds the SQL direct tasks of thesis Table 6.1 at 1M env steps per task. The
README says they beat the thesis' direct rows on all three tasks, on the example's evaluation episodes
(seeds 10,000 + e) and on held-out ones (seeds 20,000 + e). This re-evaluates them with the example's own
``final_distances``, as the README's command does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.example_module import load_example

ROOT = Path(__file__).resolve().parents[1]
SQL_DIRECT = ROOT / "snapshots" / "cpsql-direct"
TASKS = ["push bottom-left", "push bottom-middle", "push bottom-right"]  # the run's skills 0, 1, 2
THESIS_SQL_DIRECT = [0.11, 0.12, 0.18]  # thesis Table 6.1, the direct rows of the SQL column
HELD_OUT = [0.082, 0.031, 0.065]  # README: the same policies on seeds 20,000 + e (2026-11-29)
TOLERANCE = 0.02  # another CPU may round differently and so move some episodes a little


@pytest.mark.parametrize("seed", [10_000, 20_000])
def test_sql_direct_tasks_beat_the_thesis_direct_rows(seed: int, one_thread: None) -> None:
    """Each direct task's mean final puck-goal distance over 100 sampled episodes is below the thesis'
    and matches the number recorded (the example's ``direct_results.json`` for its own seeds)."""
    results = json.loads((SQL_DIRECT / "direct_results.json").read_text())
    assert results["direct"]["env_steps_per_skill"] == 1_000_000 and results["episodes"] == 100
    recorded = [results["rows"][t]["mean"] for t in TASKS] if seed == 10_000 else HELD_OUT
    dist = load_example("compose_pusher").final_distances(SQL_DIRECT, 100, seed, sampled=True)[0]
    assert dist.shape == (3, 100)
    mean = dist.mean(axis=1)
    assert np.all(mean < THESIS_SQL_DIRECT), f"{mean} not below the thesis' {THESIS_SQL_DIRECT}"
    np.testing.assert_allclose(mean, recorded, atol=TOLERANCE)


SAC_CONSTITUENTS = ROOT / "snapshots" / "pusher-sac-realnvp-500k"  # push left / middle / right / bottom


def test_only_the_direct_task_pushes_with_the_prong_tips_where_the_cradle_cannot_reach(
        tmp_path: Path, one_thread: None) -> None:
    """docs/pusher.md, "Why bottom-left's merges stop short": push left and push bottom never push the puck
    beyond 1.25 m from the base; SQL's direct bottom-left policy does, mostly with a prong's tip; the
    bottom-left merge of the SAC constituents (weights 1.5 : 1, from exp(Q_Sigma/alpha)) pushes there far
    less, mostly in the cradle. 50 episodes each (the docs' 100-episode numbers are their own)."""
    from softskills.cli import main as cli_main

    contacts = load_example("pusher_contacts").push_contacts
    cons = contacts(SAC_CONSTITUENTS, 50, 10_000)["skills"]
    assert [s["task"]["goal"] for s in cons] == [[-1, None], [0, None], [1, None], [None, -1]]
    assert cons[0]["all"]["pushes"] > 1000 and cons[3]["all"]["pushes"] > 1000
    assert cons[0]["beyond"]["pushes"] == 0 and cons[3]["beyond"]["pushes"] == 0
    direct = contacts(SQL_DIRECT, 50, 10_000, sampled=True)["skills"][0]
    assert direct["task"]["goal"] == [-1, -1]
    assert direct["beyond"]["pushes"] > 1000 and direct["beyond"]["tip"] > 0.5, direct
    merge = tmp_path / "bl"
    cli_main(["compose", str(SAC_CONSTITUENTS), str(SAC_CONSTITUENTS), "--skills", "0", "3", "--weights", "1.5",
              "1", "--steps", "0", "--out", str(merge), "--no-progress"])
    merged = contacts(merge, 50, 10_000, sampled=True, resample=500)["skills"][0]
    assert merged["final_distance"]["mean"] > 0.15, merged  # short of the thesis' 0.11
    assert merged["beyond"]["pushes"] < direct["beyond"]["pushes"] / 2, (merged, direct)
    assert merged["beyond"]["tip"] < 0.4 and merged["all"]["cradle"] > 0.9, merged


def _puck_starts(episodes: int) -> np.ndarray:
    """The puck's start of episode e (reset seed 10,000 + e); the reset does not depend on the goal."""
    from softskills.envs.pusher import PusherEnv

    env = PusherEnv(goal=(1, -1))
    return np.array([env.reset(seed=10_000 + e)[1]["puck_xy"] for e in range(episodes)])


def _still(puck: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per episode: the puck ended within 1 mm of its start (the policy never moved it)."""
    return np.linalg.norm(puck - starts, axis=1) < 1e-3


def test_the_bottom_right_merge_misses_the_pucks_push_right_misses(tmp_path: Path, one_thread: None) -> None:
    """docs/pusher.md: the bottom-right merge (the sum of the Q's, from exp(Q_Sigma/alpha)) leaves the puck
    where it started only on starts where push right does too, and on the starts push right moves it ends
    below the thesis' 0.15 m. 50 of the docs' 100 episodes."""
    from softskills.cli import main as cli_main

    final_distances = load_example("compose_pusher").final_distances
    starts = _puck_starts(50)
    _, cons_puck, _ = final_distances(SAC_CONSTITUENTS, 50, 10_000)
    merge = tmp_path / "br"
    cli_main(["compose", str(SAC_CONSTITUENTS), str(SAC_CONSTITUENTS), "--skills", "2", "3", "--weights", "1", "1",
              "--steps", "0", "--out", str(merge), "--no-progress"])
    dist, puck, _ = final_distances(merge, 50, 10_000, sampled=True, resample=500)
    right_still = _still(cons_puck[2], starts)
    merge_still = _still(puck[0], starts)
    assert merge_still.sum() >= 5 and not np.any(merge_still & ~right_still), (merge_still, right_still)
    assert dist[0].mean() > 0.15 and dist[0][~right_still].mean() < 0.15, dist


SEED_CONSTITUENTS = {1: SAC_CONSTITUENTS, 2: ROOT / "snapshots" / "pusher-sac-realnvp-500k-seed2",
                     3: ROOT / "snapshots" / "pusher-sac-realnvp-500k-seed3"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_seeds_bottom_middle_merge_beats_the_thesis_and_push_right_is_weak(
        seed: int, tmp_path: Path, one_thread: None) -> None:
    """docs/pusher.md, "Three seeds": with each seed's constituents the bottom-middle merge (the sum of the Q's,
    from exp(Q_Sigma/alpha)) ends below the thesis' 0.09 m; with seeds 2 and 3 push right misses most starts
    (never moving the puck) and ends far above the thesis' 0.10 m. 30 of the docs' 100 episodes."""
    from softskills.cli import main as cli_main

    run = SEED_CONSTITUENTS[seed]
    final_distances = load_example("compose_pusher").final_distances
    if seed != 1:
        dist, puck, _ = final_distances(run, 30, 10_000)
        still = _still(puck[2], _puck_starts(30))
        assert still.sum() >= 15 and dist[2].mean() > 0.25, (still.sum(), dist[2].mean())
    merge = tmp_path / "bm"
    cli_main(["compose", str(run), str(run), "--skills", "1", "3", "--weights", "1", "1", "--steps", "0",
              "--out", str(merge), "--no-progress"])
    dist = final_distances(merge, 30, 10_000, sampled=True, resample=500)[0]
    assert dist[0].mean() < 0.09, dist[0].mean()


RIGHT_WITH_ARM_TERM = {1: (ROOT / "snapshots" / "pusher-sac-realnvp-500k-right-arm01", 0),  # (run, skill)
                       2: (ROOT / "snapshots" / "pusher-sac-realnvp-500k-right-arm01", 1),
                       3: (ROOT / "snapshots" / "pusher-sac-realnvp-500k-right-arm01-seed3", 0)}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_push_right_with_the_arm_term_moves_every_puck_and_its_bottom_right_merge_beats_the_thesis(
        seed: int, tmp_path: Path, one_thread: None) -> None:
    """docs/pusher.md, "Push right with the arm-puck term": push right trained with ``arm_distance_cost_coeff=0.1``
    moves the puck from every start and ends below the thesis' 0.10 m; composed with push bottom of the same seed
    (the sum of the Q's, from exp(Q_Sigma/alpha)) it ends below the thesis' bottom-right 0.15 m, never leaving the
    puck where it started. 30 of the docs' 100 episodes."""
    from softskills.cli import main as cli_main

    final_distances = load_example("compose_pusher").final_distances
    starts = _puck_starts(30)
    run, right = RIGHT_WITH_ARM_TERM[seed]
    dist, puck, tasks = final_distances(run, 30, 10_000)
    assert tasks[right]["goal"] == [1, None] and tasks[right]["arm_distance_cost_coeff"] == 0.1, tasks
    assert not _still(puck[right], starts).any()
    assert dist[right].mean() < 0.06, dist[right].mean()  # docs: 0.040 / 0.039 / 0.018 m on 100 episodes
    merge = tmp_path / "br"
    cli_main(["compose", str(SEED_CONSTITUENTS[seed]), str(run), "--skills", "3", str(right),
              "--weights", "1", "1", "--steps", "0", "--env-kwargs", '{"goal": [1, -1]}', "--out", str(merge),
              "--no-progress"])
    dist, puck, _ = final_distances(merge, 30, 10_000, sampled=True, resample=500)
    assert not _still(puck[0], starts).any()
    assert dist[0].mean() < 0.15, dist[0].mean()  # docs: 0.113 / 0.098 / 0.120 m on 100 episodes


MAZE_SOUTH = ROOT / "snapshots" / "maze-rs30-1375k-1500k"  # the thesis' design, 1,500,000 env steps per goal


def test_the_maze_high_level_solves_the_south_goal_at_the_mode_and_the_other_two_diverged(
        monkeypatch: pytest.MonkeyPatch, one_thread: None) -> None:
    """README: at 1,500,000 env steps per goal the south high level reaches its goal in at least 80% of the
    evaluation episodes at the mode (88 of 100; 17 of these 20 on the AMD EPYC box), while the north and east high
    levels diverged: their latents are hundreds of times the N(0, I) prior's scale and the ant stays at the start.

    The run is stacked on ``snapshots/ant-velocity-reward-scale-30-1375k`` (a path relative to the repository root);
    ``run_env_factory`` checks that primitive's weights against the SHA-256 recorded when the run trained."""
    import torch

    monkeypatch.chdir(ROOT)
    ex = load_example("ant_maze")
    success, dist, _ = ex.rollouts(MAZE_SOUTH, 20, seed=12_345, mode=True)
    assert success.shape == (3, 20)
    assert success[0].mean() >= 0.8, success[0]
    assert not success[1:].any()
    np.testing.assert_allclose(dist[1:].mean(axis=1), [8.49, 12.0], atol=0.1)  # the start's distances: no move
    agent, cfg, meta = ex.load_run(MAZE_SOUTH)  # the high levels' mode latents at the maze's start states
    envs = ex.run_env_factory(cfg, meta.get("run_info"))(8)
    obs = torch.as_tensor(envs.reset(np.broadcast_to(12_345 + np.arange(8), (3, 8))), dtype=torch.float32)
    envs.close()
    with torch.no_grad():
        latent = agent.policy.deterministic(obs).norm(dim=-1).median(dim=1).values
    assert latent[0] < 10 and (latent[1:] > 100).all(), latent
