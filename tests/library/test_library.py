"""The skill library: round trips, lineage, stacked policies bit for bit, relocation, integrity, locks, rendering."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest
import torch

import softskills
from softskills.hierarchy import HierarchicalPolicy, ObsSlice, run_policy
from softskills.library import (
    LibraryError,
    LibraryLockTimeout,
    SkillLibrary,
    bound_summary,
    render_graph,
)
from softskills.library.graph import graph_to_bytes
from softskills.skills.checkpoint import load_checkpoint
from softskills.skills.loading import load_run
from tests.library._runs import train_primitive, train_stacked

BOUNDS = {"stats": {"c_star": {"mean": 0.4, "max": 1.25}, "d_star": {"mean": 0.9}, "d_exact": {"mean": 0.3},
                    "regret_upper": {"mean": 0.3}}, "gamma": 0.99}


@dataclass(frozen=True)
class Runs:
    """The trained run directories shared by this module's tests."""

    prim: Path  # PointVelocity, Real-NVP, K = 2
    prim_b: Path  # PointVelocity, Real-NVP, K = 2, another seed
    high: Path  # PointMaze stacked on skill 1 of prim, which sees obs[2:4]
    top: Path  # PointMaze stacked on high (three layers)
    pend: Path  # Pendulum, Real-NVP (1-D actions), saved without its replay buffer
    comp: Path  # stand-in for a composed run of prim and prim_b (PointVelocity, Gaussian)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("runs")
    prim = train_primitive(d / "prim", skills=2)
    high = train_stacked(d / "high", prim, stack_skill=1, adapter=ObsSlice(2, 4))
    return Runs(prim=prim, prim_b=train_primitive(d / "prim_b", skills=2, seed=1), high=high,
                top=train_stacked(d / "top", high, seed=2), pend=train_primitive(d / "pend", env="Pendulum-v1", save_buffer=False),
                comp=train_primitive(d / "comp", policy="gaussian", seed=3))


def fill(lib: SkillLibrary, runs: Runs) -> SkillLibrary:
    """Add every run: two primitives, a two- and a three-layer stack, a Pendulum skill and a composed one."""
    lib.add("prim", runs.prim, tags=["point", "velocity"], command="softskills train --skills 2")
    lib.add("prim_b", runs.prim_b, tags=["point"], keep_buffer=True)
    lib.add("high", runs.high, command="softskills stack")
    lib.add("top", runs.top, stacked_on="high")
    lib.add("pend", runs.pend, tags=["pendulum"])
    lib.add("comp", runs.comp, composed_from={"prim": 0.25, "prim_b": 0.75}, bounds=BOUNDS)
    return lib


@pytest.fixture
def lib(tmp_path: Path, runs: Runs) -> SkillLibrary:
    return fill(SkillLibrary(tmp_path / "lib"), runs)


def assert_same_stack(a: HierarchicalPolicy, b: HierarchicalPolicy) -> None:
    """Equal outputs bit for bit: forward, inverse and log-probability, on random latents and observations."""
    g = torch.Generator().manual_seed(0)
    h, obs = torch.randn(64, a.latent_dim, generator=g), torch.randn(64, 4, generator=g) * 3
    assert len(a.layers) == len(b.layers)
    for x, y in zip(a(h, obs), b(h, obs)):
        assert torch.equal(x, y)
    act = a(h, obs)[0]
    for x, y in zip(a.inverse(act, obs), b.inverse(act, obs)):
        assert torch.equal(x, y)
    assert torch.equal(a.log_prob(obs, act), b.log_prob(obs, act))


def assert_same_module(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------------------- round trip
def test_round_trip_of_primitive_stacked_and_composed_skills(lib: SkillLibrary, runs: Runs) -> None:
    again = SkillLibrary(lib.path, create=False)
    assert again.names() == ["comp", "high", "pend", "prim", "prim_b", "top"]
    prim = again.get("prim")
    assert (prim.kind, prim.env, prim.algo, prim.policy, prim.num_skills) == (
        "primitive", "softskills/PointVelocity-v0", "sac", "realnvp", 2)
    assert (prim.obs_dim, prim.act_dim, prim.steps, prim.tags) == (2, 2, 60, ("point", "velocity"))
    assert prim.command == "softskills train --skills 2" and prim.softskills_version == softskills.__version__
    assert prim.spaces["act_shape"] == [2] and len(prim.tasks) == 2 and prim.env_kwargs == {}
    assert prim.source == str(runs.prim.absolute()) and prim.path == lib.path / "skills" / "prim"
    high = again.get("high")
    assert (high.kind, high.stacked_on, high.env, high.obs_dim, high.act_dim) == (
        "stacked", "prim", "softskills/PointMaze-v0", 4, 2)
    assert again.get("top").stacked_on == "high"
    comp = again.get("comp")
    assert (comp.kind, comp.composed_from, comp.bounds) == ("composed", {"prim": 0.25, "prim_b": 0.75}, BOUNDS)
    assert json.loads(json.dumps(comp.to_json()))["bounds"] == BOUNDS

    # each skill holds the model (policy, Q's, temperature) but no optimizer, RNG or buffer
    tensors, meta, buf = load_checkpoint(lib.skill_dir("high"))
    assert buf is None and not [k for k in tensors if k.startswith(("optim/", "rng/", "trainer/"))]
    for prefix in ("agent/policy.", "agent/critic.", "agent/log_alpha"):
        assert any(k.startswith(prefix) for k in tensors), prefix
    assert {"config", "tasks", "spaces", "step", "run_info", "library"} <= meta.keys() and "buffer" not in meta
    assert not high.has_buffer and again.get("prim_b").has_buffer  # kept on request, for offline composition
    _, meta_b, buf_b = load_checkpoint(lib.skill_dir("prim_b"))
    _, run_meta_b, run_buf_b = load_checkpoint(runs.prim_b)
    assert meta_b["buffer"] == run_meta_b["buffer"] and buf_b is not None and run_buf_b is not None
    assert buf_b.keys() == run_buf_b.keys() and all(torch.equal(buf_b[k], run_buf_b[k]) for k in buf_b)
    assert meta["config"]["stack_on"] == meta["run_info"]["stacked_on"] == "library:prim"
    assert meta["library"]["name"] == "high" and meta["library"]["source_refs"]["stack_on"] == str(runs.prim.absolute())
    outside = {k: v for k, v in meta.items() if k != "library"}  # library.source_refs keeps the originals
    assert json.dumps(str(runs.prim)) not in json.dumps(outside)

    # primitive and composed skills load as the run's agent
    assert_same_module(again.load_policy("prim"), load_run(runs.prim)[0])
    assert_same_module(again.load_policy("comp"), load_run(runs.comp)[0])
    assert again.verify() == again.names()


def test_graph_json_is_node_link_with_edge_kinds(lib: SkillLibrary) -> None:
    data = json.loads(lib.graph_path.read_text())
    assert data["directed"] and {n["id"] for n in data["nodes"]} == set(lib.names())
    g = nx.node_link_graph(data, edges="edges")
    assert g.edges["high", "prim"]["kind"] == "stacked_on" and g.edges["high", "prim"]["stack_skill"] == 1
    assert g.edges["comp", "prim_b"] == {"kind": "composed_from", "weight": 0.75}
    assert g.nodes["comp"]["bounds"] == BOUNDS and g.nodes["pend"]["act_dim"] == 1


def test_lineage_and_find(lib: SkillLibrary) -> None:
    top = lib.lineage("top")
    assert set(top.nodes) == {"top", "high", "prim"}
    assert sorted(top.edges(data="kind")) == [("high", "prim", "stacked_on"), ("top", "high", "stacked_on")]
    comp = lib.lineage("comp")
    assert sorted(comp.edges(data="weight")) == [("comp", "prim", 0.25), ("comp", "prim_b", 0.75)]
    assert list(lib.lineage("pend").nodes) == ["pend"]
    assert lib.dependents("prim") == ["comp", "high", "top"] and lib.dependents("top") == []
    assert lib.find(kind="stacked") == ["high", "top"]
    assert lib.find(env="softskills/PointVelocity-v0") == ["comp", "prim", "prim_b"]
    assert lib.find(tag="point") == ["prim", "prim_b"] and lib.find(tag="point", kind="composed") == []
    with pytest.raises(LibraryError, match="unknown skill kind 'layer'"):
        lib.find(kind="layer")
    with pytest.raises(LibraryError, match="skill 'nope' is not in library"):
        lib.lineage("nope")


# ---------------------------------------------------------------------------- stacked policies
def test_load_policy_of_stacked_skills_equals_run_policy_bit_for_bit(lib: SkillLibrary, runs: Runs) -> None:
    for name, run in (("high", runs.high), ("top", runs.top)):
        mine = lib.load_policy(name)
        assert isinstance(mine, HierarchicalPolicy) and len(mine.layers) == {"high": 2, "top": 3}[name]
        assert_same_stack(mine, run_policy(run))
    layers = lib.load_policy("high").layers
    assert [lay.skill for lay in layers] == [1, 0]  # the stack_skill of the lower layer
    assert [lay.adapter for lay in layers] == [ObsSlice(2, 4), ObsSlice(0, 4)]  # and the slice it sees


def test_relocated_library_loads_without_the_original_runs(tmp_path: Path) -> None:
    prim = train_primitive(tmp_path / "runs" / "prim")
    high = train_stacked(tmp_path / "runs" / "high", prim)
    lib = SkillLibrary(tmp_path / "lib")
    lib.add("prim", prim)
    lib.add("high", high)
    expected = run_policy(high)
    shutil.rmtree(tmp_path / "runs")
    os.rename(tmp_path / "lib", tmp_path / "moved")
    moved = SkillLibrary(tmp_path / "moved", create=False)
    assert moved.verify() == ["high", "prim"]
    assert_same_stack(moved.load_policy("high"), expected)


def test_checkout_writes_runs_that_run_policy_reads(lib: SkillLibrary, tmp_path: Path, runs: Runs) -> None:
    out = lib.checkout("top", tmp_path / "out")
    assert out == tmp_path / "out" / "top" and (tmp_path / "out" / "prim").is_dir()
    assert_same_stack(run_policy(out), run_policy(runs.top))
    # a layer trained on a checked-out skill is added back stacked on that skill (found by its uid)
    new = train_stacked(tmp_path / "new", tmp_path / "out" / "high", seed=5)
    assert lib.add("new", new).stacked_on == "high"
    assert_same_stack(lib.load_policy("new"), run_policy(new))


# ---------------------------------------------------------------------------- add: inference and refusals
def test_stacked_on_is_inferred_and_checked(tmp_path: Path, runs: Runs) -> None:
    lib = SkillLibrary(tmp_path / "lib")
    with pytest.raises(LibraryError, match=r"skill 'high' is stacked on the run .*prim, which is not in the library"):
        lib.add("high", runs.high)
    lib.add("prim", runs.prim)
    lib.add("prim_b", runs.prim_b)
    lib.add("pend", runs.pend)
    with pytest.raises(LibraryError, match="whose policy differs from library skill 'prim_b'"):
        lib.add("high", runs.high, stacked_on="prim_b")
    with pytest.raises(LibraryError, match=r"dimension mismatch.*'high' outputs 2 values.*'pend'.*dimension 1"):
        lib.add("high", runs.high, stacked_on="pend")
    with pytest.raises(LibraryError, match="kind 'primitive' was given, but the run is stacked"):
        lib.add("high", runs.high, kind="primitive")
    assert lib.add("high", runs.high).stacked_on == "prim"
    lib.add("prim2", runs.prim)
    with pytest.raises(LibraryError, match=r"was added as \['prim', 'prim2'\]"):
        lib.add("high2", runs.high)
    assert lib.names() == ["high", "pend", "prim", "prim2", "prim_b"]
    assert not [p for p in (lib.path / "skills").iterdir() if p.name not in lib.names()]


def test_composed_skill_refusals(tmp_path: Path, runs: Runs) -> None:
    lib = SkillLibrary(tmp_path / "lib")
    lib.add("prim", runs.prim)
    lib.add("pend", runs.pend)
    with pytest.raises(LibraryError, match=r"composed skill 'comp'.*constituents' spaces differ"):
        lib.add("comp", runs.comp, composed_from={"prim": 1.0, "pend": 1.0})
    with pytest.raises(LibraryError, match="skill 'ghost' is not in library"):
        lib.add("comp", runs.comp, composed_from={"prim": 1.0, "ghost": 1.0})
    for bad in (0.0, -1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(LibraryError, match="the weight of 'prim' must be a positive finite number"):
            lib.add("comp", runs.comp, composed_from={"prim": bad})
    with pytest.raises(LibraryError, match="composed skill 'comp' needs composed_from"):
        lib.add("comp", runs.comp, composed_from={})
    with pytest.raises(LibraryError, match="the run is stacked .* cannot also be composed_from"):
        lib.add("comp", runs.high, composed_from={"prim": 1.0})
    with pytest.raises(LibraryError, match="bounds must be a dict, and only for a composed skill"):
        lib.add("p2", runs.prim, bounds=BOUNDS)
    assert lib.names() == ["pend", "prim"]


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "-dash", "x" * 65, "sp ace", "é", None])
def test_names_are_validated(tmp_path: Path, runs: Runs, name: object) -> None:
    lib = SkillLibrary(tmp_path / "lib")
    with pytest.raises(LibraryError, match=r"invalid skill name"):
        lib.add(name, runs.prim)  # type: ignore[arg-type]
    assert lib.names() == [] and list((lib.path / "skills").iterdir()) == []


def test_add_refusals(tmp_path: Path, runs: Runs) -> None:
    lib = SkillLibrary(tmp_path / "lib")
    lib.add("prim", runs.prim)
    with pytest.raises(LibraryError, match="skill 'prim' already exists"):
        lib.add("prim", runs.prim_b)
    with pytest.raises(LibraryError, match="cannot add skill 'x': its run .* is not a valid checkpoint"):
        lib.add("x", tmp_path / "nowhere")
    with pytest.raises(LibraryError, match="skill 'x': tags must be a list of strings"):
        lib.add("x", runs.prim, tags="point")
    with pytest.raises(LibraryError, match="skill 'x': invalid tag ''"):
        lib.add("x", runs.prim, tags=[""])
    with pytest.raises(LibraryError, match="skill 'x': unknown kind 'fancy'"):
        lib.add("x", runs.prim, kind="fancy")
    with pytest.raises(LibraryError, match="skill 'x': stacked_on='prim' was given, but the run is primitive"):
        lib.add("x", runs.prim_b, stacked_on="prim")
    with pytest.raises(LibraryError, match="cannot keep the replay buffer of skill 'x'.*save_buffer=False"):
        lib.add("x", runs.pend, keep_buffer=True)
    with pytest.raises(LibraryError, match="skill 'x': its bounds are not JSON-able"):
        lib.add("x", runs.comp, composed_from={"prim": 1.0}, bounds={"c_star": object()})
    assert lib.names() == ["prim"]
    with pytest.raises(LibraryError, match="not a skill library: it has no graph.json"):
        SkillLibrary(tmp_path / "missing", create=False)
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "notes.txt").write_text("mine")
    with pytest.raises(LibraryError, match="has no graph.json but is not empty"):
        SkillLibrary(tmp_path / "occupied")


# ---------------------------------------------------------------------------- remove
def test_remove_is_refused_while_depended_upon(lib: SkillLibrary) -> None:
    built_on = r"cannot remove skill 'prim': skills \['comp', 'high', 'top'\] are built on it"
    with pytest.raises(LibraryError, match=built_on):
        lib.remove("prim")
    with pytest.raises(LibraryError, match="cannot remove skill 'high'"):
        lib.remove("high")
    assert lib.remove("top") == ["top"] and not (lib.path / "skills" / "top").exists()
    assert lib.remove("prim", force=True) == ["comp", "high", "prim"]
    assert lib.names() == ["pend", "prim_b"]
    assert sorted(p.name for p in (lib.path / "skills").iterdir()) == ["pend", "prim_b"]
    assert lib.verify() == ["pend", "prim_b"]
    with pytest.raises(LibraryError, match="skill 'prim' is not in library"):
        lib.remove("prim")


def test_the_next_writer_clears_what_a_killed_writer_left(lib: SkillLibrary, runs: Runs) -> None:
    shutil.copytree(lib.skill_dir("prim"), lib.path / "skills" / "half-added")
    (lib.path / "skills" / ".trash-prim-0123456789ab").mkdir()
    (lib.path / ".graph.json-0123456789ab.tmp").write_text("{")
    assert "half-added" not in lib and lib.verify() == lib.names()  # readers ignore them
    lib.add("next", runs.prim_b)
    assert sorted(p.name for p in (lib.path / "skills").iterdir()) == lib.names()
    assert sorted(p.name for p in lib.path.iterdir()) == ["graph.json", "library.lock", "skills"]


def test_a_crash_at_the_graph_commit_leaves_the_previous_library(lib: SkillLibrary, runs: Runs,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    before, names, replace = lib.graph_path.read_bytes(), lib.names(), os.replace

    def crash(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "graph.json":
            raise OSError("simulated crash at the commit point")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        lib.add("late", runs.prim)
    with pytest.raises(OSError, match="simulated crash"):
        lib.remove("pend")
    monkeypatch.undo()
    assert lib.graph_path.read_bytes() == before and lib.names() == names and lib.verify() == names
    assert sorted(p.name for p in lib.path.iterdir()) == ["graph.json", "library.lock", "skills"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fsynced descriptors")
def test_graph_writes_are_fsynced_before_and_after_the_rename(lib: SkillLibrary, runs: Runs,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def spy_fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def spy_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append(("replace", str(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    for change in (lambda: lib.add("late", runs.prim), lambda: lib.remove("late")):
        events.clear()
        change()
        commit = events.index(("replace", str(lib.graph_path)))
        assert events[commit - 1][0] == "fsync" and events[commit - 1][1].startswith(str(lib.path / ".graph.json-"))
        assert events[commit + 1] == ("fsync", str(lib.path))


# ---------------------------------------------------------------------------- integrity
def rewrite_graph(lib: SkillLibrary, g: nx.DiGraph) -> None:
    """Write a (hand-edited) graph with a valid seal, as a buggy or malicious writer would."""
    lib.graph_path.write_bytes(graph_to_bytes(g))


def test_corrupt_graph_json_is_refused(lib: SkillLibrary) -> None:
    raw = lib.graph_path.read_bytes()
    lib.graph_path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(LibraryError, match=r"graph.json is corrupt: it is not valid UTF-8 JSON"):
        SkillLibrary(lib.path)
    lib.graph_path.write_bytes(raw.replace(b'"steps": 60', b'"steps": 61', 1))
    with pytest.raises(LibraryError, match=r"graph.json is corrupt or was edited by hand: .* sha256"):
        SkillLibrary(lib.path)
    lib.graph_path.write_bytes(b'{"directed": true, "nodes": [], "edges": []}')
    with pytest.raises(LibraryError, match="not a skill library's graph"):
        SkillLibrary(lib.path)
    lib.graph_path.unlink()
    with pytest.raises(LibraryError, match="has no graph.json but is not empty .*its graph.json was lost"):
        SkillLibrary(lib.path)
    lib.graph_path.write_bytes(raw)
    assert SkillLibrary(lib.path).names() == lib.names()


def test_a_cycle_is_refused_naming_the_skill(lib: SkillLibrary) -> None:
    g = lib.graph()
    g.nodes["prim"]["kind"] = "stacked"
    g.add_edge("prim", "top", kind="stacked_on", stack_skill=0, repeat=1, adapter=None)
    rewrite_graph(lib, g)
    with pytest.raises(LibraryError, match=r"has a cycle: .*(prim|high|top) -> .*depends on itself"):
        SkillLibrary(lib.path)


def test_dimension_mismatches_in_the_graph_are_refused(lib: SkillLibrary) -> None:
    good = lib.graph()
    g = good.copy()
    g.nodes["high"]["act_dim"] = 3
    rewrite_graph(lib, g)
    with pytest.raises(LibraryError, match=r"dimension mismatch .*skill 'high' outputs 3 values.*'prim'.* dimension 2"):
        SkillLibrary(lib.path)
    g = good.copy()
    g.edges["high", "prim"]["stack_skill"] = 2
    rewrite_graph(lib, g)
    with pytest.raises(LibraryError, match=r"skill 'high' .* drives skill 2 of 'prim', which has 2 skill\(s\)"):
        lib.names()
    g = good.copy()
    g.nodes["prim_b"]["spaces"] = g.nodes["pend"]["spaces"]
    rewrite_graph(lib, g)
    with pytest.raises(LibraryError, match=r"composed skill 'comp' .*constituents' spaces differ"):
        lib.names()
    g = good.copy()
    g.nodes["top"]["kind"] = "primitive"
    rewrite_graph(lib, g)
    with pytest.raises(LibraryError, match=r"primitive skill 'top' .* must have no lineage edges"):
        lib.names()
    g = good.copy()
    del g.nodes["pend"]["obs_dim"]
    rewrite_graph(lib, g)
    with pytest.raises(LibraryError, match=r"skill 'pend' .* lacks the attribute 'obs_dim'"):
        lib.names()


def test_missing_or_corrupt_skill_files_are_refused_naming_the_skill(lib: SkillLibrary) -> None:
    state = lib.skill_dir("prim_b") / "checkpoint" / "state.safetensors"
    raw = bytearray(state.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    state.write_bytes(bytes(raw))
    with pytest.raises(LibraryError, match=r"skill 'prim_b' in library .* is corrupt: .*state.safetensors"):
        lib.load_policy("prim_b")
    with pytest.raises(LibraryError, match="skill 'prim_b'"):
        lib.verify()
    lib.load_policy("comp")  # a composed skill runs without its constituents' files
    shutil.rmtree(lib.skill_dir("prim"))
    with pytest.raises(LibraryError, match=r"skill 'prim' is listed in library .* but its files are missing"):
        lib.get("prim")
    with pytest.raises(LibraryError, match=r"skill 'prim' is listed .* files are missing"):
        lib.load_policy("top")  # a stacked skill needs every layer below it
    shutil.copytree(lib.skill_dir("pend"), lib.skill_dir("prim"))
    with pytest.raises(LibraryError, match=r"skill 'prim' in library .* holds another skill \('pend'"):
        lib.load_policy("high")


# ---------------------------------------------------------------------------- lock
def test_a_held_lock_times_out_with_a_clear_error(lib: SkillLibrary, runs: Runs) -> None:
    other = SkillLibrary(lib.path, lock_timeout=0.2)
    with lib.lock():
        with pytest.raises(LibraryLockTimeout, match=r"could not take the write lock .*library.lock within 0.2 s"):
            other.add("again", runs.prim)
        with pytest.raises(LibraryLockTimeout, match="could not take the read lock"):
            other.load_policy("prim")
    with lib.lock(exclusive=False):
        other.load_policy("prim")  # readers share the lock
        with pytest.raises(LibraryLockTimeout, match="write lock"):
            other.remove("pend")
    assert other.remove("pend") == ["pend"]


# ---------------------------------------------------------------------------- rendering
def test_render_graph_writes_a_png(lib: SkillLibrary, tmp_path: Path) -> None:
    out = render_graph(lib, tmp_path / "lineage.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert bound_summary(BOUNDS) == "max C* = 1.25\nmin(D*, D_exact) = 0.3"
    assert bound_summary({"c_star": 2.0, "d_star": {"mean": 0.5}, "d_exact": {"mean": 0.7}}) == (
        "max C* = 2\nmin(D*, D_exact) = 0.5")
    assert bound_summary(None) == "no bounds"
    empty = render_graph(SkillLibrary(tmp_path / "empty"), tmp_path / "empty.png")
    assert empty.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_verify_of_one_skill_checks_its_whole_lineage_only(lib: SkillLibrary) -> None:
    assert lib.verify("top") == ["high", "prim", "top"] and lib.verify("pend") == ["pend"]
    shutil.rmtree(lib.skill_dir("prim"))
    with pytest.raises(LibraryError, match=r"skill 'prim' is listed .* files are missing"):
        lib.verify("top")  # a layer below the named skill is gone
    assert lib.verify("pend") == ["pend"]
