"""``softskills library ls|show|graph|rm|add`` on a library with a primitive and a stacked skill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from softskills.cli import main
from tests.library._runs import train_primitive, train_stacked


def last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_library_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prim = train_primitive(tmp_path / "prim")
    high = train_stacked(tmp_path / "high", prim)
    lib = str(tmp_path / "lib")
    main(["library", "add", "walk", str(prim), "--library", lib, "--tags", "point"])
    assert last_json(capsys)["added"]["kind"] == "primitive"
    main(["library", "add", "maze", str(high), "--library", lib])
    assert last_json(capsys)["added"]["kind"] == "stacked"
    main(["library", "ls", "--library", lib, "--kind", "stacked"])
    assert last_json(capsys)["skills"] == ["maze"]
    main(["library", "show", "maze", "--library", lib])
    shown = last_json(capsys)
    assert [e[:2] for e in shown["lineage"]] == [["maze", "walk"]] and shown["lineage"][0][2]["kind"] == "stacked_on"
    main(["library", "graph", "--library", lib])
    assert Path(last_json(capsys)["png"]).read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit) as e:
        main(["library", "rm", "walk", "--library", lib])
    assert e.value.code == 2 and "built on it" in capsys.readouterr().err
    main(["library", "rm", "maze", "--library", lib])
    assert last_json(capsys)["removed"] == ["maze"]
    with pytest.raises(SystemExit):
        main(["library", "show", "nope", "--library", lib])
    assert "nope" in capsys.readouterr().err
