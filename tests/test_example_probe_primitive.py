"""examples/probe_primitive.py --quick probes the shipped primitive and ends with its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "examples" / "probe_primitive.py")


def test_probe_primitive_quick(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, SCRIPT, "--quick", "--png", "p.png"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    assert m["example"] == "probe_primitive" and m["steps"] == 20 and m["primitive"] == "pretrained:ant-velocity"
    c = m["consistency"]
    assert c["repeats"] == 2 and set(c) >= {"within", "null", "p_value", "pooled", "latents", "by_start"}
    json.loads(proc.stdout.strip().splitlines()[-1], parse_constant=lambda x: pytest.fail(f"non-JSON {x}"))
    assert m["spread"]["mean_distance"] > 0
    a = m["authority"]  # the latent's Jacobian on visited states: 8 singular values, largest first
    assert len(a["singular_values"]) == 8 and a["singular_values"] == sorted(a["singular_values"], reverse=True)
    assert 0 < a["singular_values"][-1] and a["action_gap"] > 0 and np.isfinite(a["log_det"])
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG" and m["png"] == "p.png"


def test_probe_primitive_refuses_a_single_repeat(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, SCRIPT, "--repeats", "1"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 2 and "--repeats must be at least 2" in proc.stderr


def test_nan_statistics_become_null_in_the_json_line() -> None:
    """With no latent that moved far enough the statistics are NaN; the JSON line carries them as null."""
    from tests.example_module import load_example

    ex = load_example("probe_primitive")
    nan = float("nan")
    out = ex._finite({"within": nan, "repeats": 2, "by_start": {"null": nan, "latents": 0}})
    assert out == {"within": None, "repeats": 2, "by_start": {"null": None, "latents": 0}}
    json.dumps(out, allow_nan=False)
