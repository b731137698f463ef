"""``SkillLibrary.add_many``: the K skills of one run land in one commit, or none of them does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from softskills.library import LibraryError, SkillLibrary
from softskills.workflows.common import add_run
from tests.library._runs import train_primitive

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_primitive(tmp_path_factory.mktemp("runs") / "prim2", skills=2)


def test_add_run_adds_all_k_skills_in_one_graph_write(run2: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import softskills.library.library as library_module

    lib = SkillLibrary(tmp_path / "lib")
    writes = []
    real = library_module.write_atomic
    monkeypatch.setattr(library_module, "write_atomic", lambda p, b: (writes.append(p), real(p, b)))
    records = add_run(lib, run2, ["a", "b"])
    assert [r.name for r in records] == ["a", "b"] and lib.names() == ["a", "b"]
    assert writes == [lib.graph_path]  # one commit for both skills
    assert lib.verify() == ["a", "b"]  # both load


def test_a_bad_entry_adds_nothing(run2: Path, tmp_path: Path) -> None:
    lib = SkillLibrary(tmp_path / "lib")
    with pytest.raises(LibraryError, match="not a valid checkpoint"):
        lib.add_many([dict(name="good", run_dir=run2), dict(name="bad", run_dir=tmp_path / "nowhere")])
    assert lib.names() == []
    with pytest.raises(LibraryError, match="more than once"):
        lib.add_many([dict(name="same", run_dir=run2), dict(name="same", run_dir=run2)])
    add_run(lib, run2, ["x0", "x1"])
    with pytest.raises(LibraryError, match="already exists"):  # the second entry clashes under the lock
        lib.add_many([dict(name="new", run_dir=run2), dict(name="x1", run_dir=run2)])
    assert lib.names() == ["x0", "x1"]
    assert sorted(p.name for p in lib.skills_dir.iterdir()) == ["new", "x0", "x1"]  # an unlisted leftover...
    lib.add("later", run2)
    assert sorted(p.name for p in lib.skills_dir.iterdir()) == ["later", "x0", "x1"]  # ...deleted by the next writer


def test_writer_sigkilled_before_the_commit_leaves_the_previous_library(run2: Path, tmp_path: Path) -> None:
    """The writer dies by SIGKILL with both skill directories written and the graph not yet replaced."""
    lib_dir = tmp_path / "lib"
    SkillLibrary(lib_dir).add("old", run2)
    before = (lib_dir / "graph.json").read_bytes()
    script = textwrap.dedent(f"""
        import os, signal
        import softskills.library.library as m
        from softskills.library import SkillLibrary
        from softskills.workflows.common import add_run
        m.write_atomic = lambda path, data: os.kill(os.getpid(), signal.SIGKILL)
        add_run(SkillLibrary({str(lib_dir)!r}), {str(run2)!r}, ["k0", "k1"])
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert {"k0", "k1"} <= {p.name for p in (lib_dir / "skills").iterdir()}  # it died after writing both
    lib = SkillLibrary(lib_dir)
    assert (lib_dir / "graph.json").read_bytes() == before
    assert lib.names() == ["old"] and lib.verify() == ["old"]
    add_run(lib, run2, ["k0", "k1"])  # the names are free, and the leftovers are replaced
    assert lib.names() == ["k0", "k1", "old"] and lib.verify() == ["k0", "k1", "old"]


def test_split_run_keeps_skill_ks_seed_task_and_buffer(run2: Path, tmp_path: Path) -> None:
    """Skill ``k`` split out of a K-skill run carries seed ``seed + k`` and row ``k`` of the replay buffer."""
    from softskills.library.split import split_run
    from softskills.skills.checkpoint import load_checkpoint

    _, meta, buf = load_checkpoint(run2)
    assert buf is not None
    for k in range(2):
        _, one_meta, one_buf = load_checkpoint(split_run(run2, k, tmp_path / f"s{k}"))
        assert one_meta["config"]["seed"] == meta["config"]["seed"] + k and one_meta["config"]["skills"] == 1
        assert one_meta["tasks"] == [meta["tasks"][k]] and one_meta["run_info"]["split_from"]["skill"] == k
        assert one_buf is not None and one_buf.keys() == buf.keys()
        assert all(torch.equal(one_buf[name], buf[name][k : k + 1]) for name in buf)
    assert not all(torch.equal(buf[name][0], buf[name][1]) for name in buf)  # the rows differ
