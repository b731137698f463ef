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
