"""``softskills demo --quick``: every stage runs and leaves the library, the PNGs and a summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from softskills.cli import main
from softskills.library import SkillLibrary


def test_demo_quick_leaves_library_pngs_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    threads = torch.get_num_threads()
    out = tmp_path / "demo"
    try:
        main(["demo", "--quick", "--out", str(out), "--no-progress"])
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    res = json.loads(printed.strip().splitlines()[-1])
    assert res["quick"] is True and res["wall_s"] < 120
    lib = SkillLibrary(out / "skills", create=False)
    assert lib.names() == ["point-maze", "point-walk", "push-x", "push-xy", "push-y"]
    assert lib.get("point-maze").stacked_on == "point-walk"
    comp = lib.get("push-xy")
    assert comp.composed_from == {"push-x": 0.5, "push-y": 0.5}
    st = comp.bounds["stats"]
    assert st["c_star"]["max"] > 0  # push-x and push-y differ, so the divergence term and C* are positive
    # the certified regret is finite and positive (D_exact > 0 where the constituents differ); its lower end >= 0
    assert 0.0 < st["regret_upper"]["mean"] < float("inf") and st["regret_lower"]["min"] >= 0.0
    assert lib.verify() == lib.names()
    for name in ("lineage", "maze", "pusher", "curves"):
        png = Path(res["png"][name])
        assert png.parent == out and png.read_bytes()[:4] == b"\x89PNG"
    table = (out / "summary.md").read_text()
    assert "| workflow | skill |" in table and "push-xy" in table and table.split("\n", 2)[2] in printed
    assert json.loads((out / "summary.json").read_text())["compose"]["env_steps"] == 0
    # the summary reports the library's bounds, and the maze's sparse reward makes return = 1000 x success
    rb = res["compose"]["bounds"]
    assert rb["transitions"] == st["num_transitions"] > 0
    assert (rb["c_star_max"], rb["d_star_mean"], rb["d_exact_mean"]) == (
        st["c_star"]["max"], st["d_star"]["mean"], st["d_exact"]["mean"])
    assert res["maze"]["return_mean"] == pytest.approx(1000.0 * res["maze"]["success"])
    # an earlier demo is only replaced on request, and a foreign directory never
    with pytest.raises(SystemExit):
        main(["demo", "--quick", "--out", str(out)])
    assert "--overwrite" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    with pytest.raises(SystemExit):
        main(["demo", "--quick", "--out", str(tmp_path / "mine"), "--overwrite"])
    assert "not a softskills demo" in capsys.readouterr().err and (tmp_path / "mine" / "keep.txt").exists()
