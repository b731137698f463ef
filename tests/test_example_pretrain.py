"""examples/pretrain_locomotion.py --quick trains, probes 16 latents, exports a loadable primitive."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from softskills.hierarchy import HierarchicalPolicy

ROOT = Path(__file__).resolve().parents[1]


def test_pretrain_locomotion_quick_exports_a_primitive(tmp_path: Path) -> None:
    out, export = tmp_path / "ant", tmp_path / "export"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "pretrain_locomotion.py"), "--quick", "--out",
                           str(out), "--export", "--export-dir", str(export), "--frame-skip", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    assert m["example"] == "pretrain_locomotion" and m["steps"] == 300
    assert Path(m["png"]).read_bytes()[:4] == b"\x89PNG"
    card = json.loads((export / "card.json").read_text())
    assert card["steps"] == 300 and card["probe"]["sectors_hit"] == m["probe"]["sectors_hit"]
    digest = hashlib.sha256((export / "checkpoint" / "state.safetensors").read_bytes()).hexdigest()
    assert card["state_sha256"] == digest
    layer = HierarchicalPolicy.load(export).layers[0]
    assert (layer.policy.obs_dim, layer.latent_dim) == (card["obs_dim"], card["latent_dim"]) == (105, 8)
    # --frame-skip 2 (rllab's 0.02 s step) reached the training env, and the card says so
    assert card["env_kwargs"] == {"frame_skip": 2} and card["config"]["env_kwargs"] == '{"frame_skip": 2}'
    assert card["name"] == "export"
    # --probe-only on a bare copy of the checkpoint (no progress.csv beside it) probes the same primitive
    import shutil

    shutil.copytree(out / "checkpoint", tmp_path / "copy" / "checkpoint")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "pretrain_locomotion.py"), "--quick", "--probe-only",
                           "--out", str(tmp_path / "copy")], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = json.loads(proc.stdout.strip().splitlines()[-1])
    assert again["probe"] == m["probe"] and again["train_env_steps_per_s"] is None
    # without a log, --train-sps records the speed measured elsewhere in the exported card; a bad value is named
    script = [sys.executable, str(ROOT / "examples" / "pretrain_locomotion.py"), "--quick", "--probe-only",
              "--out", str(tmp_path / "copy"), "--export", "--export-dir", str(tmp_path / "shipped")]
    proc = subprocess.run([*script, "--train-sps", "123.5"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "shipped" / "card.json").read_text())["train_env_steps_per_s"] == 123.5
    proc = subprocess.run([*script, "--train-sps", "0"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "--train-sps must be a finite number > 0, got 0.0" in proc.stderr


def test_default_frame_skip_keeps_the_config_of_older_runs() -> None:
    """Without ``--frame-skip`` the config has no env kwargs, as before the flag, so older runs resume."""
    import argparse

    from tests.example_module import load_example

    ex = load_example("pretrain_locomotion")
    base = dict(quick=False, steps=1000, out="x", seed=0, threads=1, resume=False, airborne_cost=0.0, auto_alpha=False,
                reward_scale=10.0)
    assert ex.config(argparse.Namespace(**base, frame_skip=5)).env_kwargs == "{}"  # what the shipped card records
    assert ex.config(argparse.Namespace(**base, frame_skip=2)).env_kwargs == '{"frame_skip": 2}'
    air = ex.config(argparse.Namespace(**{**base, "airborne_cost": 0.2}, frame_skip=5))
    assert json.loads(air.env_kwargs) == {"airborne_cost": 0.2}


def test_the_primitive_trains_at_the_original_fixed_temperature_unless_asked_to_tune_it() -> None:
    """The 2018 SAC had no temperature tuning: temperature 1 on the reward scaled by 10 (originals.md §1.3)."""
    import argparse

    from tests.example_module import load_example

    ex = load_example("pretrain_locomotion")
    base = dict(steps=1000, out="x", seed=0, threads=1, resume=False, airborne_cost=0.0, frame_skip=5)
    for quick in (False, True):
        fixed = ex.config(argparse.Namespace(**base, quick=quick, auto_alpha=False, reward_scale=10.0)).sac
        assert (fixed.auto_alpha, fixed.init_alpha, fixed.reward_scale) == (False, 1.0, 10.0)
        tuned = ex.config(argparse.Namespace(**base, quick=quick, auto_alpha=True, reward_scale=30.0)).sac
        assert tuned.auto_alpha is True and tuned.reward_scale == 30.0
    # a bad scale is named
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "pretrain_locomotion.py"), "--reward-scale", "0"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "--reward-scale must be a finite number > 0, got 0.0" in proc.stderr
