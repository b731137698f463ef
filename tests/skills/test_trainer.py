"""Trainer: determinism, exact resume in every case, refused resumes, NaN stop, per-skill tasks, CLI."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import tests.skills._noss_env  # noqa: F401  (registers test/NoSnapshot-v0)
from softskills.cli import main
from softskills.skills.checkpoint import CheckpointError, load_checkpoint
from softskills.skills.config import TrainConfig
from softskills.skills.config_io import RESUMABLE_FIELDS
from softskills.skills.evaluate import evaluate
from softskills.skills.factory import default_env_factory
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import NonFiniteLossError, Trainer, load_agent
from softskills.skills.vec import SkillEnvs, make_env
from tests.skills.helpers import assert_same, params


def small(out: Path, steps: int = 300, **kw: object) -> TrainConfig:
    base = dict(env="Pendulum-v1", steps=steps, warmup_steps=100, batch_size=32, out=str(out),
                eval_every=0, eval_episodes=1, log_every=50, checkpoint_every=10_000, progress=False,
                tensorboard=False, sac=SACConfig(hidden=(32, 32)))
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_same_seed_same_parameters(tmp_path: Path) -> None:
    a = Trainer(small(tmp_path / "a"))
    a.train()
    b = Trainer(small(tmp_path / "b"))
    b.train()
    assert_same(params(a), params(b))
    c = Trainer(small(tmp_path / "c", seed=1))
    c.train()
    assert not torch.equal(params(a)["log_alpha"], params(c)["log_alpha"])


def test_compiling_pause_is_announced_on_the_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The one-off compilation shows its reason on the bar, once; a run without compile says nothing.
    (The compiled update is swapped for the eager one here: what is tested is the notice.)"""
    t = Trainer(small(tmp_path / "c", steps=150, compile=True, progress=True))
    events: list[str] = []
    notice = t._notice
    t._notice = lambda message: events.append("notice") or notice(message)  # type: ignore[method-assign]
    t.agent.compiled_update = lambda batch: events.append("update") or t.agent.update(batch)  # type: ignore[method-assign]
    t.train()
    err = capsys.readouterr().err
    assert events == ["notice"] + ["update"] * 50  # once, before the first (compiling) update
    assert "compiling the update" in err
    Trainer(small(tmp_path / "e", steps=150, progress=True)).train()
    assert "compiling" not in capsys.readouterr().err


def test_progress_bar_before_the_first_episode_ends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before any episode has ended or any evaluation has run, the bar says ``n/a`` (no ``nan``, and no
    RuntimeWarning from averaging nothing); afterwards it shows the mean of the skills' last returns."""
    t = Trainer(small(tmp_path, steps=150, progress=True, skills=2))
    bar = SimpleNamespace(postfix={})
    bar.set_postfix = lambda **kw: bar.postfix.update(kw)
    logger = SimpleNamespace(log=lambda step, scalars: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t._log(logger, bar, 12.0)
    assert bar.postfix == {"sps": "12", "ret": "n/a", "eval": "n/a"}
    t.last_returns, t.last_eval = [-3.0, math.nan], 5.25
    t._log(logger, bar, 12.0)
    assert bar.postfix == {"sps": "12", "ret": "-3.0", "eval": "5.2"}
    t.last_returns = [-3.0, -1.0]
    t._log(logger, bar, 12.0)
    assert bar.postfix["ret"] == "-2.0"


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("terminate_at", [None, 7])
def test_stored_terminated_flag_is_termination_not_truncation(
    tmp_path: Path, fast_path: bool, terminate_at: int | None
) -> None:
    """Truncated steps (the 10-step limit) must bootstrap, so their stored flag is 0; a true
    termination (every ``terminate_at`` steps) is stored as 1, at exactly those rows."""
    tasks = (json.dumps({"terminate_at": terminate_at}),)
    t = Trainer(small(tmp_path, steps=40, warmup_steps=30, env="test/NoSnapshot-v0", tasks=tasks,
                      fast_path=fast_path))
    t.train()
    stored = t.buffer.storage["terminated"][0, :40].flatten()
    rows = np.arange(40)
    period = 10 if terminate_at is None else terminate_at
    expected = np.zeros(40) if terminate_at is None else ((rows + 1) % period == 0).astype(float)
    np.testing.assert_array_equal(stored.numpy(), expected)
    # the episode ends are where the env said: the next row starts a new episode at time 1
    time_next = t.buffer.storage["next_obs"][0, :40, 1].numpy()
    np.testing.assert_array_equal(time_next, rows % period + 1)


@pytest.mark.parametrize("policy", ["gaussian", "realnvp"])
@pytest.mark.parametrize("skills", [1, 2])
def test_resume_equals_straight_run(tmp_path: Path, skills: int, policy: str) -> None:
    kw = dict(skills=skills, policy=policy, flow_embed_hidden=(32, 32))
    straight = Trainer(small(tmp_path / "s", steps=400, **kw))
    straight.train()
    first = Trainer(small(tmp_path / "r", steps=250, **kw))  # stops mid-episode (200-step episodes)
    first.train()
    resumed = Trainer.resume(tmp_path / "r", steps=400)
    assert resumed.step == 250
    resumed.train()
    assert resumed.num_updates == straight.num_updates
    assert_same(params(straight), params(resumed))


def test_resume_is_exact_on_a_mujoco_env(tmp_path: Path) -> None:
    """Ant-v5 resumes bit for bit: the checkpoint restores the solver's warm start and the body positions
    that ``mj_step`` leaves one substep old, which Ant-v5 reads as its position before the next step (its
    x velocity); ``tests/skills/test_env_state.py`` checks the env snapshot alone on more envs."""
    kw = dict(env="Ant-v5", warmup_steps=40, batch_size=8, sac=SACConfig(hidden=(8, 8)), save_buffer=True,
              buffer_size=1000)
    straight = Trainer(small(tmp_path / "s", steps=150, **kw))
    straight.train()
    first = Trainer(small(tmp_path / "r", steps=100, **kw))
    first.train()
    resumed = Trainer.resume(tmp_path / "r", steps=150)
    resumed.train()
    assert torch.equal(straight.buffer.storage["rew"], resumed.buffer.storage["rew"])
    assert torch.equal(straight.buffer.storage["obs"], resumed.buffer.storage["obs"])
    assert_same(params(straight), params(resumed))


@pytest.mark.parametrize("num_envs", [1, 2])
def test_resume_is_exact_after_the_buffer_wraps(tmp_path: Path, num_envs: int) -> None:
    """buffer_size=150: the buffer has wrapped at step 250; the resumed run must sample the same
    transitions as the straight run (fails if loading rotates the buffer and resets ptr)."""
    kw = dict(buffer_size=150, num_envs=num_envs)
    straight = Trainer(small(tmp_path / "s", steps=400, **kw))
    straight.train()
    first = Trainer(small(tmp_path / "r", steps=250, **kw))
    first.train()
    assert first.buffer.size == 150 and first.buffer.ptr != 0
    resumed = Trainer.resume(tmp_path / "r", steps=400)
    resumed.train()
    assert_same(params(straight), params(resumed))
    assert torch.equal(straight.buffer.storage["obs"], resumed.buffer.storage["obs"])


def test_trainer_with_resume_true_resumes_and_never_overwrites(tmp_path: Path) -> None:
    straight = Trainer(small(tmp_path / "s", steps=300))
    straight.train()
    Trainer(small(tmp_path / "r", steps=200)).train()
    resumed = Trainer(small(tmp_path / "r", steps=300, resume=True))
    assert resumed.step == 200
    resumed.train()
    assert_same(params(straight), params(resumed))
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        Trainer(small(tmp_path / "r", steps=300))
    fresh = Trainer(small(tmp_path / "r", steps=300, overwrite=True))
    assert fresh.step == 0
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Trainer(small(tmp_path / "nothing", resume=True))


def test_resume_accepts_every_resumable_setting_and_stays_exact(tmp_path: Path) -> None:
    """Every setting the README lets a resume change is accepted, and changing them all leaves the parameters
    equal to a straight run's (they only change logging, evaluation, checkpointing and speed)."""
    straight = Trainer(small(tmp_path / "s", steps=300))
    straight.train()
    Trainer(small(tmp_path / "r", steps=200)).train()
    changed = dict(threads=1, log_every=7, checkpoint_every=60, eval_every=0, eval_episodes=3, tensorboard=True,
                   progress=False, fast_path=not straight.cfg.fast_path,
                   retain_freed_memory=not straight.cfg.retain_freed_memory, device="cpu")
    assert set(changed) | {"steps", "resume", "overwrite", "out"} == RESUMABLE_FIELDS
    resumed = Trainer.resume(tmp_path / "r", steps=300, **changed)
    assert resumed.step == 200 and all(getattr(resumed.cfg, k) == v for k, v in changed.items())
    resumed.train()
    assert_same(params(straight), params(resumed))


def test_resume_refuses_changes_and_fewer_steps(tmp_path: Path) -> None:
    Trainer(small(tmp_path / "r", steps=200)).train()
    with pytest.raises(ValueError, match=r"seed .*batch_size"):
        Trainer(small(tmp_path / "r", steps=300, resume=True, batch_size=64, seed=3))
    with pytest.raises(ValueError, match="already trained 200 steps"):
        Trainer.resume(tmp_path / "r", steps=100)
    with pytest.raises(ValueError, match="may change on resume"):
        Trainer.resume(tmp_path / "r", steps=300, sac=SACConfig(hidden=(32, 32), tau=0.5))


def _record_buffer_sizes(trainer: Trainer) -> list[int]:
    """Wrap ``trainer._update`` so that each update records how many transitions its batch was drawn from."""
    sizes: list[int] = []
    update = trainer._update

    def recording() -> dict[str, torch.Tensor]:
        sizes.append(len(trainer.buffer))
        return update()

    trainer._update = recording  # type: ignore[method-assign]
    return sizes


def test_resume_without_buffer_refills_it_before_updating(tmp_path: Path) -> None:
    """A buffer-less resume collects warmup_steps transitions with the restored policy before it updates
    again, so no batch is drawn from a few transitions (that made a resumed Ant maze high level diverge)."""
    Trainer(small(tmp_path / "r", steps=200, save_buffer=False)).train()  # warm-up 100, updates at 101-200
    with pytest.warns(RuntimeWarning, match="no replay buffer.*refills an empty buffer with 100 transitions"):
        resumed = Trainer.resume(tmp_path / "r", steps=400)
    assert len(resumed.buffer) == 0 and resumed.refill == 100
    sizes = _record_buffer_sizes(resumed)
    resumed.train()
    assert resumed.step == 400 and len(resumed.buffer) == 200 and resumed.refill == 0
    assert resumed.num_updates == 100 + 101  # steps 300-400: the first once the buffer holds 100 again
    assert sizes[0] == 100 and sizes == list(range(100, 201))


def test_a_checkpoint_saved_while_refilling_keeps_the_refill(tmp_path: Path) -> None:
    """A run with save_buffer=True resumed from a copy of its checkpoint without the buffer (as the snapshots
    of long runs are kept) saves, mid-refill, a partial buffer and the refill target; resuming that checkpoint
    goes on refilling instead of updating on the partial buffer."""
    from softskills.skills.checkpoint import load_checkpoint, save_checkpoint

    Trainer(small(tmp_path / "r", steps=200)).train()
    tensors, meta, _ = load_checkpoint(tmp_path / "r")
    meta = {k: v for k, v in meta.items() if k != "files"}
    save_checkpoint(tmp_path / "bare", tensors, {**meta, "buffer": None})  # the weights without the buffer
    with pytest.warns(RuntimeWarning, match="refills an empty buffer with 100 transitions"):
        part = Trainer.resume(tmp_path / "bare", steps=250)
    part.train()  # saves at 250 with 50 transitions and 50 still to collect
    assert part.num_updates == 100 and len(part.buffer) == 50
    assert load_checkpoint(tmp_path / "bare")[1]["refill"] == 100
    again = Trainer.resume(tmp_path / "bare", steps=400)  # the partial buffer is restored: no warning needed
    assert again.refill == 100 and len(again.buffer) == 50
    sizes = _record_buffer_sizes(again)
    again.train()
    assert sizes[0] == 100 and again.num_updates == 100 + 101
    assert "refill" not in load_checkpoint(tmp_path / "bare")[1]  # done: the final checkpoint has none


def test_resume_of_env_without_snapshot_starts_a_fresh_episode(tmp_path: Path) -> None:
    """No transition may cross episodes: time in next_obs is always time in obs + 1."""
    kw = dict(env="test/NoSnapshot-v0", warmup_steps=10, batch_size=8)
    Trainer(small(tmp_path / "r", steps=25, **kw)).train()  # stops at t = 5 of an episode
    with pytest.warns(RuntimeWarning, match="no state snapshot"):
        resumed = Trainer.resume(tmp_path / "r", steps=40)
    assert resumed.ep_len[0, 0] == 0 and resumed.obs[0, 0, 1] == 0.0
    resumed.train()
    s = resumed.buffer.storage
    t_obs, t_next = s["obs"][0, :40, 1], s["next_obs"][0, :40, 1]
    assert torch.equal(t_next, t_obs + 1)


def test_first_non_finite_update_is_named_exactly(tmp_path: Path) -> None:
    """log_every=25 reads the record at step 175; the message must name update 60 at env step 161."""
    t = Trainer(small(tmp_path / "run", steps=200, checkpoint_every=150, log_every=25))
    original = t.agent.update

    def poisoned(batch, *a, **kw):  # type: ignore[no-untyped-def]
        if t.step > 160:  # after the checkpoint at step 150
            batch = batch._replace(rew=batch.rew * math.nan)
        return original(batch, *a, **kw)

    t.agent.update = poisoned  # type: ignore[method-assign]
    with pytest.raises(NonFiniteLossError, match=r"qf_loss \(skills \[0\]\).* first at update 60 \(env step 161\)"):
        t.train()
    _, meta, _ = load_checkpoint(tmp_path / "run")
    assert meta["step"] == 150


def test_fractional_updates_target_entropy_and_normal_prior(tmp_path: Path) -> None:
    t = Trainer(small(tmp_path / "f", steps=200, updates_per_step=0.5,
                      sac=SACConfig(hidden=(32, 32), target_entropy=-3.0, action_prior="normal")))
    t.train()
    assert t.num_updates == 50
    assert t.agent.target_entropy == -3.0 and t.agent.config.action_prior == "normal"


def test_num_envs_fills_the_buffer_per_sub_env(tmp_path: Path) -> None:
    t = Trainer(small(tmp_path / "n", steps=150, num_envs=3))
    t.train()
    assert len(t.buffer) == 450 and t.num_updates == 50
    obs = t.buffer.storage["obs"][0, :3]
    assert not torch.equal(obs[0], obs[1])  # the sub-envs are seeded apart


def test_per_skill_tasks(tmp_path: Path) -> None:
    cfg = small(tmp_path / "t", steps=120, skills=2, tasks=({"g": 10.0}, '{"g": 2.0}'))
    assert cfg.tasks == ('{"g": 10.0}', '{"g": 2.0}')
    t = Trainer(cfg)
    assert [row[0].unwrapped.g for row in t.envs.envs] == [10.0, 2.0]
    t.train()
    _, meta, _ = load_checkpoint(tmp_path / "t")
    assert meta["tasks"] == [{"g": 10.0}, {"g": 2.0}]
    envs = default_env_factory(load_agent(tmp_path / "t")[1])(2)  # what eval builds
    assert [row[0].unwrapped.g for row in envs.envs] == [10.0, 2.0]
    with pytest.raises(ValueError, match="2 entries but skills is 3"):
        small(tmp_path / "x", skills=3, tasks=({"g": 1.0}, {"g": 2.0}))
    with pytest.raises(ValueError, match="JSON object"):
        small(tmp_path / "x", skills=1, tasks=("[1, 2]",))


def test_tasks_are_merged_over_env_kwargs(tmp_path: Path) -> None:
    """Each skill's env gets ``env_kwargs`` updated by its task: a task's key wins, the others are inherited."""
    cfg = small(tmp_path / "t", env="test/NoSnapshot-v0", skills=2, env_kwargs={"terminate_at": 5, "dim": 3},
                tasks=({"dim": 3}, {"terminate_at": 7}))
    assert cfg.task_kwargs() == [{"terminate_at": 5, "dim": 3}, {"terminate_at": 7, "dim": 3}]
    t = Trainer(cfg)
    try:
        assert [(row[0].unwrapped.terminate_at, row[0].unwrapped.dim) for row in t.envs.envs] == [(5, 3), (7, 3)]
    finally:
        t.envs.close()


def test_tasks_with_different_spaces_are_refused() -> None:
    fns = [lambda: make_env("test/NoSnapshot-v0", dim=2), lambda: make_env("test/NoSnapshot-v0", dim=3)]
    with pytest.raises(ValueError, match="skill 1's task .* differ from skill 0"):
        SkillEnvs(fns, 1, name="test/NoSnapshot-v0")


def test_resume_with_other_spaces_is_refused(tmp_path: Path) -> None:
    Trainer(small(tmp_path / "run", steps=150)).train()
    other = lambda n: SkillEnvs([lambda: make_env("MountainCarContinuous-v0")], n)  # noqa: E731
    with pytest.raises(CheckpointError, match="spaces"):
        Trainer.resume(tmp_path / "run", env_factory=other, steps=200)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    t = Trainer(small(tmp_path / "run"))
    t.train()
    tensors, meta, buf = load_checkpoint(tmp_path / "run")
    assert meta["step"] == 300
    assert buf is not None and buf["buffer/obs"].shape == (1, 300, 3)
    agent, cfg = load_agent(tmp_path / "run")
    obs = torch.randn(1, 4, 3)
    torch.testing.assert_close(agent.act(obs, deterministic=True), t.agent.act(obs, deterministic=True))


def test_cli_train_eval_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "p"
    main(["train", "--env", "Pendulum-v1", "--steps", "300", "--warmup-steps", "100", "--batch-size", "32",
          "--out", str(out), "--no-progress", "--eval-episodes", "1", "--log-every", "100", "--eval-every", "200",
          "--sac.hidden", "32", "32"])
    assert (out / "checkpoint" / "meta.json").exists()
    csv_keys = {line.split(",")[1] for line in (out / "progress.csv").read_text().splitlines()[1:]}
    readme_keys = {"charts/episodic_return", "charts/SPS", "losses/qf_loss", "losses/actor_loss", "losses/alpha",
                   "eval/return"}
    assert readme_keys <= csv_keys
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    assert set(events.Tags()["scalars"]) == csv_keys  # the same scalars as progress.csv
    capsys.readouterr()
    main(["eval", str(out), "--episodes", "2", "--seed", "7"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    agent, cfg = load_agent(out)
    expect = evaluate(agent, default_env_factory(cfg)(2), seed=7).returns
    assert line["mean_return"] == pytest.approx(float(expect.mean()), rel=1e-6)
    main(["plot", str(out)])
    assert (out / "curves.png").stat().st_size > 1000
    shutil.copytree(out, tmp_path / "q")
    import matplotlib.axes

    labels: list[str] = []
    plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda self, *a, **kw: (labels.append(kw.get("label", "")), plot(self, *a, **kw))[1])
    capsys.readouterr()
    main(["plot", str(out), str(tmp_path / "q"), "--out", str(tmp_path / "both.png")])
    assert json.loads(capsys.readouterr().out)["png"] == str(tmp_path / "both.png")
    assert (tmp_path / "both.png").stat().st_size > 1000 and set(labels) == {"p", "q"}


def test_cli_resume_keeps_settings_and_refuses_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    common = ["--out", str(out), "--no-progress", "--eval-every", "0", "--eval-episodes", "1"]
    main(["train", "--env", "Pendulum-v1", "--steps", "150", "--warmup-steps", "100", "--batch-size", "16",
          "--sac.hidden", "16", "16", *common])
    capsys.readouterr()
    main(["train", "--resume", "--steps", "180", *common])  # batch 16 and hidden 16 come from the checkpoint
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["step"] == 180 and line["updates"] == 80
    _, meta, _ = load_checkpoint(out)
    assert meta["config"]["batch_size"] == 16 and meta["config"]["sac"]["hidden"] == [16, 16]
    with pytest.raises(SystemExit) as e:
        main(["train", "--resume", "--steps", "200", "--batch-size", "64", "--sac.tau", "0.1", *common])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "batch_size" in err and "sac" in err
    with pytest.raises(SystemExit):
        main(["train", "--resume", "--steps", "100", *common])
    assert "already trained 180 steps" in capsys.readouterr().err


def test_cli_train_realnvp_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nvp"
    main(["train", "--env", "Pendulum-v1", "--policy", "realnvp", "--skills", "2", "--steps", "250",
          "--warmup-steps", "100", "--batch-size", "32", "--out", str(out), "--no-progress", "--eval-episodes", "1",
          "--log-every", "100", "--sac.hidden", "32", "32", "--flow-embed-hidden", "32", "32",
          "--flow-st-hidden", "5", "--flow-scale-clamp", "3.0"])
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert meta["config"]["policy"] == "realnvp" and meta["config"]["skills"] == 2
    agent, cfg = load_agent(out)
    assert type(agent.policy).__name__ == "RealNVPPolicy" and cfg.flow_embed_hidden == (32, 32)
    assert cfg.flow_st_hidden == (5,) and cfg.flow_scale_clamp == 3.0
    assert all(c.scale_clamp == 3.0 and c.transform_net.sizes[1] == 5 for c in agent.policy.couplings)
    capsys.readouterr()
    main(["eval", str(out), "--episodes", "2", "--seed", "3"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expect = evaluate(agent, default_env_factory(cfg)(2), seed=3).returns  # both skills, 2 episodes each
    assert line["mean_return"] == pytest.approx(float(expect.mean()), rel=1e-6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--env", "NoSuchEnv-v9"], "unknown or unavailable environment"),
        (["train", "--env", "CartPole-v1"], "continuous Box action space"),
        (["train", "--env", "Pendulum-v1", "--env-kwargs", "{not json"], "env_kwargs must be a JSON object"),
        (["train", "--env", "Pendulum-v1", "--env-kwargs", '{"gravity": 3}'], "does not accept the env kwargs"),
        (["eval", "/nonexistent/run"], "no checkpoint"),
    ],
)
def test_cli_bad_input_clear_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                   tmp_path: Path) -> None:
    if argv[0] == "train":
        argv = [*argv, "--out", str(tmp_path / "x"), "--steps", "5", "--no-progress"]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_non_positive_steps_refused() -> None:
    with pytest.raises(ValueError, match="steps must be positive"):
        TrainConfig(steps=0)


def test_evaluate_seeds_each_episode_and_stops_each_at_its_own_end() -> None:
    """Episode ``e`` of every skill starts from ``seed + e``; returns and lengths stop where each ends."""
    from tests.skills._noss_env import NoSnapshotEnv

    class Still:  # action 0: the position stays at its start x0, so the return is -|x0| per step
        def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
            return torch.zeros(obs.shape[0], obs.shape[1], 1)

    envs = SkillEnvs([lambda: NoSnapshotEnv(terminate_at=3), NoSnapshotEnv], num_envs=2)
    res = evaluate(Still(), envs, seed=5)  # type: ignore[arg-type]
    envs.close()
    x0 = np.array([abs(NoSnapshotEnv().reset(seed=5 + e)[0][0]) for e in range(2)])
    assert x0[0] != x0[1]
    np.testing.assert_array_equal(res.lengths, [[3, 3], [10, 10]])
    np.testing.assert_allclose(res.returns, -np.stack([3 * x0, 10 * x0]))


def test_evaluate_on_step_sees_every_step_of_the_envs_that_stepped() -> None:
    """``on_step`` gets each step's result with the mask of the envs that stepped: summed over the calls,
    the mask gives the episode lengths, and the masked rewards the returns."""
    from tests.skills._noss_env import NoSnapshotEnv

    class Still:
        def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
            return torch.zeros(obs.shape[0], obs.shape[1], 1)

    masks, rewards = [], []

    def on_step(res, active: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        masks.append(active)
        rewards.append(np.where(active, res.reward, 0.0))

    envs = SkillEnvs([lambda: NoSnapshotEnv(terminate_at=3), NoSnapshotEnv], num_envs=2)
    res = evaluate(Still(), envs, seed=5, on_step=on_step)  # type: ignore[arg-type]
    envs.close()
    assert len(masks) == 10
    np.testing.assert_array_equal(np.sum(masks, axis=0), res.lengths)
    np.testing.assert_allclose(np.sum(rewards, axis=0), res.returns)


def test_logged_episode_return_and_length_are_each_episodes_own(tmp_path: Path) -> None:
    """``charts/episodic_return`` is the sum of one episode's stored rewards (reset between episodes)."""
    from softskills.skills.logger import read_csv

    t = Trainer(small(tmp_path, steps=30, warmup_steps=30, env="test/NoSnapshot-v0"))
    t.train()
    rew = t.buffer.storage["rew"][0, :30].double().numpy()
    logged = read_csv(tmp_path)
    assert [s for s, _ in logged["charts/episodic_return"]] == [10, 20, 30]
    want = rew.reshape(3, 10).sum(1)
    np.testing.assert_allclose([v for _, v in logged["charts/episodic_return"]], want, rtol=1e-5)
    assert [v for _, v in logged["charts/episodic_length"]] == [10.0, 10.0, 10.0]


def test_non_finite_tracker_keeps_the_first_record_only() -> None:
    """Later, wider blow-ups do not overwrite the first bad update, its env step, losses or skills."""
    from softskills.skills.nonfinite import NonFiniteTracker

    tracker = NonFiniteTracker(("qf_loss", "actor_loss"), 3, torch.device("cpu"))
    ok = torch.zeros(3)
    tracker.observe({"qf_loss": ok, "actor_loss": ok}, update=2, step=20)
    tracker.check("nothing")  # all finite: no error
    tracker.observe({"qf_loss": torch.tensor([0.0, math.nan, 0.0]), "actor_loss": ok}, update=3, step=30)
    tracker.observe({"qf_loss": torch.full((3,), math.inf), "actor_loss": torch.full((3,), math.nan)}, 4, 40)
    with pytest.raises(NonFiniteLossError) as e:
        tracker.check("the checkpoint")
    assert str(e.value).startswith("non-finite qf_loss (skills [1]) first at update 3 (env step 30);")


def test_refill_size_is_sized_by_the_buffer() -> None:
    """The refill after a buffer-less resume: the warm-up's transitions, one batch, or a tenth of the buffer,
    whichever is largest, never more than the buffer holds; a corrupt refill target in a checkpoint is refused."""
    from softskills.skills.run_state import refill_size

    def cfg(**kw: object) -> TrainConfig:
        return small(Path("unused"), **kw)

    assert refill_size(cfg(warmup_steps=3333, batch_size=128), 1_000_000) == 100_000  # the Ant maze run
    assert refill_size(cfg(warmup_steps=100, batch_size=32), 400) == 100  # the warm-up's
    assert refill_size(cfg(warmup_steps=10, batch_size=64), 400) == 64  # one batch
    assert refill_size(cfg(warmup_steps=100, batch_size=32), 50) == 50  # all the buffer holds
    assert refill_size(cfg(warmup_steps=100, batch_size=32, num_envs=4), 40_000) == 4000  # a tenth


def test_a_corrupt_refill_target_is_refused(tmp_path: Path) -> None:
    from softskills.skills.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    Trainer(small(tmp_path / "r", steps=150)).train()
    tensors, meta, buf = load_checkpoint(tmp_path / "r")
    meta = {k: v for k, v in meta.items() if k != "files"}
    save_checkpoint(tmp_path / "r", tensors, {**meta, "refill": -3}, buf)
    with pytest.raises(CheckpointError, match="invalid refill target -3"):
        Trainer.resume(tmp_path / "r", steps=200)


def test_losses_are_logged_per_skill_as_well_as_their_mean(tmp_path: Path) -> None:
    """With K > 1, every loss key also has a ``/skillK`` row per skill, whose mean is the plain key's value
    (a maze run's divergence showed only as the mean of three skills before)."""
    import csv

    Trainer(small(tmp_path / "k2", steps=250, skills=2, tasks=({"g": 10.0}, {"g": 2.0}))).train()
    rows: dict[tuple[int, str], float] = {(int(r["step"]), r["key"]): float(r["value"])
                                          for r in csv.DictReader(open(tmp_path / "k2" / "progress.csv"))}
    logged = sorted({s for s, k in rows if k == "losses/qf_loss"})
    assert logged
    for step in logged:
        for key in ("losses/qf_loss", "losses/actor_loss", "losses/entropy", "losses/alpha"):
            per_skill = [rows[(step, f"{key}/skill{i}")] for i in range(2)]
            assert sum(per_skill) / 2 == pytest.approx(rows[(step, key)], rel=1e-5, abs=1e-6), (step, key)
        assert rows[(step, "losses/qf_loss/skill0")] != rows[(step, "losses/qf_loss/skill1")]
    Trainer(small(tmp_path / "k1", steps=250)).train()
    assert not any("/skill" in r["key"] for r in csv.DictReader(open(tmp_path / "k1" / "progress.csv")))
