"""examples/ant_latent_model.py: its model scores a learnable latent effect high and a random one near 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.example_module import EXAMPLES, load_example

sys.path.insert(0, str(EXAMPLES))  # the example imports its sibling ant_maze_sensitivity
ex = load_example("ant_latent_model")


def _data(learnable: bool, states: int = 1500, j: int = 8, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    obs = rng.standard_normal((states, 6)).astype(np.float32)
    lat = rng.standard_normal((states, j, 8)).astype(np.float32)
    momentum = 0.1 * obs[:, None, :2] * 5  # the same for every latent of a state: not the latent's part
    if learnable:  # the latent turns the ant by an angle that depends on the state
        c, s = np.cos(obs[:, 0]), np.sin(obs[:, 0])
        effect = 0.02 * np.stack([c[:, None] * lat[..., 0] - s[:, None] * lat[..., 1],
                                  s[:, None] * lat[..., 0] + c[:, None] * lat[..., 1]], -1)
    else:
        effect = 0.02 * rng.standard_normal((states, j, 2))
    return obs, lat, (momentum + effect).astype(np.float32), np.arange(states) // 50


def test_a_learnable_latent_effect_scores_high() -> None:
    scores = ex.fit(*_data(True), epochs=20, width=64, seed=0)
    last = scores[-1]
    assert [s["epoch"] for s in scores] == [10, 20]
    assert last["r2_latent_part_test"] > 0.8 and last["greedy_share"] > 0.8


def test_a_random_latent_effect_scores_near_zero() -> None:
    last = ex.fit(*_data(False), epochs=20, width=64, seed=0)[-1]
    assert last["r2_latent_part_test"] < 0.05 and abs(last["greedy_share"]) < 0.2
    # the training states are fitted better than the held-out ones: the test scores held-out states
    assert last["r2_latent_part_train"] > last["r2_latent_part_test"]


def test_quick_run_ends_with_its_json_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "ant_latent_model.py"), "--quick"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    assert m["example"] == "ant_latent_model" and m["interval"] == 3 and m["states"] == 24
    assert m["latent_part_std_m"][0] > 0 and len(m["scores"]) == 1


@pytest.mark.parametrize("flag", ["--latents", "--interval"])
def test_bad_sizes_are_refused(tmp_path: Path, flag: str) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "ant_latent_model.py"), flag, "1" if flag == "--latents"
                           else "0"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and f"{flag} must be at least" in proc.stderr


def test_the_split_holds_out_whole_episodes() -> None:
    """A model that memorises each episode scores high only if held-out states share episodes with training
    ones: here the latent effect is random per episode (the same for every state in it), so a by-state split
    would score it learnable and the by-episode split does not."""
    rng = np.random.default_rng(3)
    states, j = 1500, 8
    episode = np.arange(states) // 50
    obs = np.concatenate([rng.standard_normal((states, 5)), np.eye(30)[episode]], 1).astype(np.float32)
    lat = rng.standard_normal((states, j, 8)).astype(np.float32)
    turn = rng.uniform(-np.pi, np.pi, episode.max() + 1)[episode]  # one random mapping per episode
    c, s = np.cos(turn), np.sin(turn)
    effect = 0.02 * np.stack([c[:, None] * lat[..., 0] - s[:, None] * lat[..., 1],
                              s[:, None] * lat[..., 0] + c[:, None] * lat[..., 1]], -1)
    last = ex.fit(obs, lat, effect.astype(np.float32), episode, epochs=20, width=64, seed=0)[-1]
    assert last["r2_latent_part_train"] > 0.5 and last["r2_latent_part_test"] < 0.3
    with pytest.raises(ValueError, match="at least 2 episodes"):
        ex.fit(obs, lat, effect.astype(np.float32), np.zeros(states, dtype=int), epochs=1, width=8, seed=0)
