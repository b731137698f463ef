"""``softskills pretrain``, ``stack`` and ``compose --library``: CLI round trips into a library (tiny budgets)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from softskills.cli import main
from softskills.hierarchy import HierarchicalPolicy, run_policy
from softskills.library import SkillLibrary
from softskills.skills.checkpoint import load_checkpoint
from softskills.skills.loading import load_run

TINY = ["--steps", "60", "--warmup-steps", "30", "--batch-size", "16", "--buffer-size", "1000", "--sac.hidden", "16",
        "--flow-embed-hidden", "16", "--eval-every", "0", "--eval-episodes", "1", "--no-progress", "--no-tensorboard",
        "--threads", "1", "--log-every", "1000"]
"""Every tiny run: 60 env steps, 30 updates, 16-unit networks."""
FIT = ["--fit.iterations", "1", "--fit.steps-per-iteration", "5", "--fit.batch-size", "32", "--fit.hidden", "8",
       "--fit.action-samples", "4"]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def assert_same_stack(a: HierarchicalPolicy, b: HierarchicalPolicy, obs_dim: int) -> None:
    """Equal outputs bit for bit: forward, inverse and log-probability, on random latents and observations."""
    g = torch.Generator().manual_seed(0)
    h, obs = torch.randn(32, a.latent_dim, generator=g), torch.randn(32, obs_dim, generator=g) * 3
    assert isinstance(a, HierarchicalPolicy) and len(a.layers) == len(b.layers)
    for x, y in zip(a(h, obs), b(h, obs)):
        assert torch.equal(x, y)
    act = a(h, obs)[0]
    for x, y in zip(a.inverse(act, obs), b.inverse(act, obs)):
        assert torch.equal(x, y)
    assert torch.equal(a.log_prob(obs, act), b.log_prob(obs, act))


def test_pretrain_then_stack_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = str(tmp_path / "lib")
    main(["pretrain", "--library", lib, "--name", "walk", "--tags", "point", "--out", str(tmp_path / "walk"), *TINY])
    res = last_json(capsys)
    assert res["skills"] == ["walk"] and res["kind"] == "primitive"
    rec = SkillLibrary(lib).get("walk")
    assert (rec.kind, rec.env, rec.policy, rec.has_buffer, rec.tags) == (
        "primitive", "softskills/PointVelocity-v0", "realnvp", True, ("point",))
    assert rec.command.startswith("softskills pretrain --library")

    main(["stack", "walk", "--library", lib, "--name", "maze", "--env", "softskills/PointMaze-v0", "--repeat", "2",
          "--out", str(tmp_path / "maze"), *TINY])
    res = last_json(capsys)
    assert res["skills"] == ["maze"] and res["stacked_on"] == "walk"
    library = SkillLibrary(lib)
    assert library.get("maze").stacked_on == "walk"
    assert [(u, v, k) for u, v, k in library.lineage("maze").edges(data="kind")] == [("maze", "walk", "stacked_on")]
    # load_policy of the stacked skill is the whole HierarchicalPolicy of the run it came from
    mine = library.load_policy("maze")
    assert_same_stack(mine, run_policy(tmp_path / "maze"), library.get("maze").obs_dim)
    assert [layer.source for layer in mine.layers] == ["skill walk", "skill maze"]
    # names are checked before any training
    with pytest.raises(SystemExit) as e:
        main(["pretrain", "--library", lib, "--name", "walk", "--out", str(tmp_path / "again"), *TINY])
    assert e.value.code == 2 and "'walk'" in capsys.readouterr().err and not (tmp_path / "again").exists()
    with pytest.raises(SystemExit):
        main(["stack", "nope", "--library", lib, "--out", str(tmp_path / "nope"), *TINY])
    assert "'nope'" in capsys.readouterr().err


def test_pretrain_k2_then_compose_stores_the_bounds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib, run = str(tmp_path / "lib"), tmp_path / "push"
    main(["pretrain", "--library", lib, "--env", "softskills/Pusher-v0", "--policy", "gaussian", "--skills", "2",
          "--tasks", '{"goal": [-1, null]}', '{"goal": [null, -1]}', "--names", "push-x", "push-y",
          "--sac.no-auto-alpha", "--sac.init-alpha", "0.5", "--out", str(run), *TINY])
    assert last_json(capsys)["skills"] == ["push-x", "push-y"]
    library = SkillLibrary(lib)
    agent, _, meta = load_run(run)
    obs = torch.randn(2, 8, agent.policy.obs_dim)
    act = torch.rand(2, 8, meta["spaces"]["act_shape"][0]) * 2 - 1
    _, _, run_buf = load_checkpoint(run)
    for k, name in enumerate(("push-x", "push-y")):
        rec = library.get(name)
        assert (rec.num_skills, rec.has_buffer, rec.tasks) == (1, True, [meta["tasks"][k]])
        one = library.load_policy(name)  # skill k of the K = 2 run, as its own skill: same actions and Qs
        assert torch.equal(one.act(obs[k:k + 1], deterministic=True)[0], agent.act(obs, deterministic=True)[k])
        assert torch.equal(one.critic(obs[k:k + 1], act[k:k + 1])[0], agent.critic(obs, act)[k])
        _, _, buf = load_checkpoint(rec.path)
        assert all(torch.equal(buf[f], run_buf[f][k:k + 1]) for f in run_buf)

    main(["compose", "push-x", "push-y", "--library", lib, "--name", "push-xy", "--weights", "1", "3",
          "--method", "sac", "--steps", "5", "--batch-size", "16", *FIT])
    res = last_json(capsys)
    assert res["skill"] == "push-xy" and res["env_steps"] == 0 and res["env_kwargs"] == {"goal": [-1, -1]}
    rec = SkillLibrary(lib).get("push-xy")
    assert rec.kind == "composed" and rec.composed_from == {"push-x": 1.0, "push-y": 3.0}
    stats = rec.bounds["stats"]
    for key in ("c_star", "d_star", "d_exact"):
        assert set(stats[key]) >= {"mean", "std", "min", "max"}
    assert stats["num_transitions"] == 120 and rec.bounds["fit"]["iterations"] == 1
    assert rec.bounds == res["bounds"]
    g = SkillLibrary(lib).graph()
    assert g.edges["push-xy", "push-y"] == {"kind": "composed_from", "weight": 3.0}
    _, cfg, _ = load_run(rec.path)
    assert json.loads(cfg.env_kwargs) == {"goal": [-1, -1]}
    # composing a skill kept without its buffer is refused, naming it
    main(["library", "add", "nobuf", str(tmp_path / "push"), "--library", lib])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["compose", "push-x", "nobuf", "--library", lib, "--name", "bad", "--steps", "5", *FIT])
    assert "'nobuf'" in capsys.readouterr().err and "bad" not in SkillLibrary(lib)


def test_stack_on_the_shipped_ant_primitive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = str(tmp_path / "lib")
    main(["stack", "pretrained:ant-velocity", "--library", lib, "--name", "ant-maze", "--env",
          "softskills/AntSimpleMaze-v0", "--repeat", "2", "--out", str(tmp_path / "ant-maze"), *TINY])
    assert last_json(capsys)["stacked_on"] == "ant-velocity"
    library = SkillLibrary(lib)
    prim = library.get("ant-velocity")
    assert (prim.kind, prim.source, prim.has_buffer) == ("primitive", "pretrained:ant-velocity", False)
    assert library.get("ant-maze").stacked_on == "ant-velocity"
    mine = library.load_policy("ant-maze")
    assert_same_stack(mine, run_policy(tmp_path / "ant-maze"), library.get("ant-maze").obs_dim)
    # a second stack reuses the library's copy of the primitive
    main(["stack", "pretrained:ant-velocity", "--library", lib, "--name", "ant-maze-2", "--env",
          "softskills/AntSimpleMaze-v0", "--repeat", "2", "--steps", "40", "--out", str(tmp_path / "m2"), *TINY[2:]])
    assert sorted(SkillLibrary(lib).names()) == ["ant-maze", "ant-maze-2", "ant-velocity"]


def test_compose_of_run_directories_still_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "push"
    main(["pretrain", "--library", str(tmp_path / "lib"), "--env", "softskills/Pusher-v0", "--policy", "gaussian",
          "--skills", "2", "--tasks", '{"goal": [-1, null]}', '{"goal": [null, -1]}', "--out", str(run), *TINY])
    capsys.readouterr()
    main(["compose", str(run), str(run), "--skills", "0", "1", "--method", "sac", "--steps", "5", "--batch-size", "16",
          "--out", str(tmp_path / "xy"), "--bounds", *FIT])
    res = last_json(capsys)
    assert res["out"] == str(tmp_path / "xy") and res["bounds"]["fit"]["iterations"] == 1
