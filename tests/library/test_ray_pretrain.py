"""``softskills pretrain --ray`` on a local 2-CPU Ray: one task per skill; a failed task is named, the others kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from softskills.cli import main
from softskills.library import SkillLibrary

pytest.importorskip("ray")

TINY = ["--steps", "60", "--warmup-steps", "30", "--batch-size", "16", "--buffer-size", "1000", "--sac.hidden", "16",
        "--flow-embed-hidden", "16", "--eval-every", "0", "--eval-episodes", "1", "--no-tensorboard", "--threads", "1",
        "--log-every", "1000"]


def test_ray_pretrain_keeps_good_tasks_and_names_the_failed_one(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    lib = str(tmp_path / "lib")
    # skill "bad" gets an env kwarg PointVelocity does not take: its task fails in gymnasium.make
    argv = ["pretrain", "--ray", "--ray-cpus", "2", "--library", lib, "--skills", "2",
            "--tasks", '{"no_such_kwarg": 1}', "{}", "--names", "bad", "good",
            "--out", str(tmp_path / "runs"), *TINY]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 1
    captured = capsys.readouterr()
    res = json.loads(captured.out.strip().splitlines()[-1])
    assert res["skills"] == ["good"] and list(res["failed"]) == ["bad"]
    assert "no_such_kwarg" in res["failed"]["bad"] and "skill 'bad' failed" in captured.err
    assert res["ray"] == {"address": "local", "tasks": 2}
    library = SkillLibrary(lib)
    assert library.names() == ["good"] and library.verify() == ["good"]
    good = library.get("good")
    assert (good.num_skills, good.has_buffer, good.steps) == (1, True, 60)
    assert good.source == str(tmp_path / "runs" / "good")
    # skill k of a --ray run is the run of seed + k
    assert json.loads((good.path / "checkpoint" / "meta.json").read_text())["config"]["seed"] == 1


def test_ray_pretrain_joins_an_existing_cluster_with_address(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`--address` joins a Ray head started beforehand (`ray start --head`), which outlives the command.

    Ray 2.60 starts a head with token authentication unless ``RAY_AUTH_MODE=disabled``; the head
    here opts out, as a test cannot hand its client the token portably (docs/library.md says how
    to join a head that uses a token)."""
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile

    ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env_args = ["--head", "--port", str(port), "--num-cpus", "2", "--include-dashboard=false",
                "--disable-usage-stats", "--temp-dir", tempfile.mkdtemp(prefix="ss-ray-", dir="/tmp")]
    # (a short --temp-dir: Ray's socket paths under pytest's tmp_path pass the 107-byte AF_UNIX limit)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    started = subprocess.run([ray_bin, "start", *env_args], capture_output=True, text=True, timeout=120, env=env)
    assert started.returncode == 0, started.stderr
    try:
        lib = str(tmp_path / "lib")
        main(["pretrain", "--ray", "--address", f"127.0.0.1:{port}", "--library", lib, "--skills", "2",
              "--names", "a", "b", "--out", str(tmp_path / "runs"), *TINY])
        res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert res["skills"] == ["a", "b"] and res["failed"] == {}
        assert res["ray"] == {"address": f"127.0.0.1:{port}", "tasks": 2}
        assert SkillLibrary(lib).verify() == ["a", "b"]
        import ray

        assert not ray.is_initialized()  # the command left the cluster; the cluster itself keeps running
        status = subprocess.run([ray_bin, "status", "--address", f"127.0.0.1:{port}"], capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stderr
    finally:
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, timeout=120, env=env)
