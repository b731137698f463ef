"""examples/compose_pusher.py --quick: every stage of Table 6.1 runs, and its numbers are those of the saved runs.

The SQL run and then a SAC run write into one OUT (the table gains a column). For each, the JSON
line's env-step counts are checked against the checkpoints themselves, the composed runs against
their own meta (0 env steps, the asked gradient steps, the merged goal), and every reported
distance against a re-evaluation of the saved run directory with the same seed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from softskills.compose.resample import load_resampled
from softskills.skills.evaluate import evaluate
from softskills.skills.factory import default_env_factory
from softskills.skills.loading import load_run
from tests.example_module import load_example

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "compose_pusher.py"
QUICK_STEPS, QUICK_EXTRACT, QUICK_EPISODES = 300, 50, 20  # the example's --quick budget
CONSTITUENT_GOALS = [[-1, None], [0, None], [1, None], [None, -1]]
MERGES = {"bottom-left": (0, [-1, -1]), "bottom-middle": (1, [0, -1]), "bottom-right": (2, [1, -1])}
ROWS = ["push left", "push middle", "push right", "push bottom", "push bottom-left", "merge bottom-left",
        "push bottom-middle", "merge bottom-middle", "push bottom-right", "merge bottom-right"]
KEYS = {"example", "env", "variant", "algo", "policy", "quick", "seed", "extract_seed", "eval_seed", "eval", "episodes",
        "steps", "reward_scale", "resample", "direct_steps", "extract_steps", "constituents", "direct", "merges", "rows", "fit_config", "png",
        "table", "wall_s"}



@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose_pusher") / "out"


def run_example(out: Path, *extra: str) -> tuple[dict, list[str]]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out), *extra], cwd=out.parent,
                          capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    print(f"compose_pusher --quick {' '.join(extra)}: {elapsed:.0f} s")
    return json.loads(lines[-1]), lines[:-1]


def reevaluate(run_dir: str, episodes: int, seed: int, sampled: bool = False, resample: int = 0) -> np.ndarray:
    """Final goal distances ``(K, episodes)`` of a saved run, evaluated here from its checkpoint
    (with ``sampled``, actions drawn after seeding torch with ``seed``, as the example does; with
    ``resample``, a composed run acting from exp(Q_Sigma/alpha) by resampling that many candidates)."""
    agent, cfg, _ = load_run(run_dir)
    if resample:
        agent = load_resampled(run_dir, resample)
        agent.generator = torch.Generator().manual_seed(seed)  # its candidates, sampled or not
    envs = default_env_factory(cfg)(episodes)
    try:
        if sampled:
            torch.manual_seed(seed)
        res = evaluate(agent, envs, seed, deterministic=not sampled)
    finally:
        envs.close()
    return np.array([[info["goal_distance"] for info in row] for row in res.final_infos])


def goals(cfg) -> list[list[float | None]]:  # type: ignore[no-untyped-def]
    return [[None if c is None else float(c) for c in kw["goal"]] for kw in cfg.task_kwargs()]


def assert_same(reported: dict, dist: np.ndarray, what: str) -> None:
    assert reported["episodes"] == dist.size >= 20, what
    assert reported["mean"] == pytest.approx(float(dist.mean()), abs=1e-9), what
    assert reported["std"] == pytest.approx(float(dist.std()), abs=1e-9), what


def check_variant(m: dict, log: list[str], out: Path, variant: str, algo: str) -> None:
    assert set(m) >= KEYS
    assert (m["example"], m["env"], m["variant"], m["algo"], m["quick"]) == (
        "compose_pusher", "softskills/Pusher-v0", variant, algo, True)
    assert (m["steps"], m["direct_steps"], m["extract_steps"]) == (QUICK_STEPS, 2 * QUICK_STEPS, QUICK_EXTRACT)
    assert m["episodes"] == QUICK_EPISODES >= 20
    seed, episodes = m["eval_seed"], m["episodes"]
    assert m["eval"] == ("sampled" if algo == "sql" else "deterministic")  # SQL's sampler has no mode
    sampled = m["eval"] == "sampled"

    # constituents: K = 4 in one run, per-skill tasks, the asked env steps (read from the checkpoint)
    _, cfg, meta = load_run(m["constituents"]["run_dir"])
    assert cfg.skills == 4 and cfg.algo == algo and goals(cfg) == [
        [None if c is None else float(c) for c in g] for g in CONSTITUENT_GOALS]
    assert meta["step"] == m["constituents"]["env_steps_per_skill"] == m["steps"] and meta["buffer"]
    dist = reevaluate(m["constituents"]["run_dir"], episodes, seed, sampled)
    for k, row in enumerate(ROWS[:4]):
        assert_same(m["rows"][row], dist[k], row)

    # direct tasks: K = 3, with 2x the constituent env steps per skill
    _, dcfg, dmeta = load_run(m["direct"]["run_dir"])
    assert dcfg.skills == 3 and dcfg.algo == algo and goals(dcfg) == [[float(c) for c in g] for _, g in MERGES.values()]
    assert dmeta["step"] == m["direct"]["env_steps_per_skill"] == 2 * m["steps"]
    ddist = reevaluate(m["direct"]["run_dir"], episodes, seed, sampled)
    for k, name in enumerate(MERGES):
        assert_same(m["rows"][f"push {name}"], ddist[k], f"push {name}")

    # merges: composed offline (0 env steps) from skills (k, 3), on the merged goal; distances reproduce
    assert set(m["merges"]) == set(MERGES)
    for name, (k, goal) in MERGES.items():
        r = m["merges"][name]
        _, ccfg, cmeta = load_run(r["run_dir"])
        info = cmeta["run_info"]
        assert r["env_steps"] == info["env_steps"] == 0, name
        assert r["gradient_steps"] == info["gradient_steps"] == cmeta["num_updates"] == m["extract_steps"], name
        assert info["skills"] == r["skills"] == [k, 3] and info["composed_from"] == [m["constituents"]["run_dir"]] * 2
        assert info["method"] == ("svgd" if algo == "sql" else "sac")
        assert ccfg.skills == 1 and goals(ccfg) == [[float(c) for c in goal]], name
        assert r["argv"][:2] == ["softskills", "compose"]
        cdist = reevaluate(r["run_dir"], episodes, seed, sampled)
        assert_same(r["final_distance"], cdist[0], name)
        assert m["rows"][f"merge {name}"] == r["final_distance"]
        rs = r["resampled"]  # acting from exp(Q_Sigma/alpha) by resampling: its own row, reproducible
        assert rs["candidates"] == m["resample"] == 500
        rdist = reevaluate(r["run_dir"], episodes, seed, sampled, 500)
        assert_same(rs["final_distance"], rdist[0], f"{name} resampled")
        assert m["rows"][f"merge {name} (pi_Sigma resampled)"] == rs["final_distance"]
        b = r["bounds"]
        assert b["env_steps"] == 0 and b["fit_gradient_steps"] > 0, name
        assert all(np.isfinite(b[key]) for key in ("renyi_half", "c_star", "d_star", "d_exact", "regret_upper"))
        assert (out / variant / f"bounds-{name}.json").exists()
        assert any(line.startswith(f"[{variant}] merge {name}") and "0 env steps" in line for line in log)
    assert m["fit_config"]["iterations"] >= 1 and m["fit_config"]["steps_per_iteration"] >= 1

    png = Path(m["png"])
    assert png == out / variant / "final_positions.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    table = Path(m["table"])
    assert table == out / "table.md"
    lines = table.read_text().splitlines()
    for row in [*ROWS, *(f"merge {name} (pi_Sigma resampled)" for name in MERGES)]:
        hits = [line for line in lines if line.startswith(f"| {row} |")]
        assert len(hits) == 1, row
        want = m["rows"][row]
        assert f"{want['mean']:.2f} ± {want['std']:.2f}" in hits[0], row
    assert any("Fig. 6.2" in line for line in lines)


def test_compose_pusher_quick_sql(out_dir: Path, one_thread: None) -> None:
    m, log = run_example(out_dir)
    check_variant(m, log, out_dir, "sql", "sql")
    text = (out_dir / "table.md").read_text()
    assert "| merge bottom-left |" in text and "0.11 ± 0.05" in text  # the thesis' SQL merge numbers are quoted
    assert "ours (SQL), 300 steps, quick" in text and "ours (SAC), not run" in text


def test_compose_pusher_quick_sac_adds_a_column(out_dir: Path, one_thread: None) -> None:
    """SAC-Gaussian into the same OUT: its own checks, and the table now has both columns."""
    m, log = run_example(out_dir, "--algo", "sac", "--policy", "gaussian")
    check_variant(m, log, out_dir, "sac-gaussian", "sac")
    text = (out_dir / "table.md").read_text()
    assert "ours (SAC, gaussian), 300 steps, quick" in text
    if (out_dir / "sql" / "results.json").exists():  # after the SQL test
        assert "ours (SQL), 300 steps, quick" in text


def test_compose_pusher_reuse_skips_finished_training(out_dir: Path, one_thread: None) -> None:
    """``--reuse`` after a finished SQL run: no training again (the checkpoints are untouched), the same rows."""
    if not (out_dir / "sql" / "results.json").exists():
        run_example(out_dir)
    first = json.loads((out_dir / "sql" / "results.json").read_text())
    ckpts = [Path(first[stage]["run_dir"]) / "checkpoint" for stage in ("constituents", "direct")]
    stamps = [sorted((p.name, p.stat().st_mtime_ns) for p in c.iterdir()) for c in ckpts]
    m, log = run_example(out_dir, "--reuse")
    assert sum(line.startswith("reusing the finished run") for line in log) == 2
    assert [sorted((p.name, p.stat().st_mtime_ns) for p in c.iterdir()) for c in ckpts] == stamps
    assert m["rows"] == first["rows"]  # the reused runs, merges and evaluations give the same numbers
    assert m["constituents"]["wall_s"] == first["constituents"]["wall_s"]  # the recorded training time
    assert sum(line.startswith("reusing the bounds in") for line in log) == 3  # fitted after the checkpoint
    for name in ("bottom-left", "bottom-middle", "bottom-right"):
        assert m["merges"][name]["bounds"] == first["merges"][name]["bounds"], name
    # a different command (here: the FitConfig) fits them again
    m2, log2 = run_example(out_dir, "--reuse", "--fit-iterations", "3")
    assert not any(line.startswith("reusing the bounds in") for line in log2)
    argv = json.loads((out_dir / "sql" / "bounds-bottom-left.argv.json").read_text())
    assert argv[argv.index("--fit.iterations") + 1] == "3"


def _example():  # type: ignore[no-untyped-def]
    """The example as a module (its functions, without running ``main``)."""
    return load_example("compose_pusher")


def test_reuse_continues_an_unfinished_stage(tmp_path: Path, one_thread: None, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A stage killed after a checkpoint (a session that ended) continues from it with ``--reuse``, and the
    recorded wall time adds the killed session's seconds up to that checkpoint; a finished stage continues
    to a larger budget, and a run longer than the budget is not reused."""
    import argparse
    import dataclasses

    from softskills.skills.trainer import Trainer

    ex = _example()
    a = argparse.Namespace(quick=True, steps=None, extract_steps=None, episodes=None, fit_iterations=None,
                           fit_steps=None, algo="sac", policy="gaussian", seed=1, device="cpu", threads=1,
                           progress=False, reward_scale=1.0)
    cfg = dataclasses.replace(ex.train_config(a, ex.budget(a), [[-1, None], [None, -1]], 300, tmp_path / "stage"),
                              checkpoint_every=100)
    env_step = Trainer._env_step

    def killed_at_150(self, logger):  # type: ignore[no-untyped-def]
        if self.step == 150:
            raise KeyboardInterrupt
        return env_step(self, logger)

    monkeypatch.setattr(Trainer, "_env_step", killed_at_150)
    with pytest.raises(KeyboardInterrupt):
        ex.train(cfg)
    monkeypatch.undo()
    wall_file = tmp_path / "stage" / ex.WALL_FILE
    first = json.loads(wall_file.read_text())
    assert first["step"] == 100 and first["wall_s"] > 0  # written with the checkpoint at step 100
    assert ex.saved_step(cfg) == 100 < cfg.steps  # unfinished

    wall_file.write_text(json.dumps({"wall_s": 1000.0, "step": 100}))  # a long first session, to tell the sum
    capsys.readouterr()
    t0 = time.perf_counter()
    res = ex.train(cfg, reuse=True)
    elapsed = time.perf_counter() - t0
    assert "at 100 of 300 env steps" in capsys.readouterr().out
    assert res["env_steps_per_skill"] == 300 and res["updates_per_skill"] == 300 - 100  # 100 warm-up steps
    done = json.loads(wall_file.read_text())
    assert done["step"] == 300 and 1000.0 < done["wall_s"] <= 1000.0 + elapsed and res["wall_s"] == done["wall_s"]
    again = ex.train(cfg, reuse=True)  # now finished: reused, not trained
    assert "reusing the finished run" in capsys.readouterr().out and again["wall_s"] == done["wall_s"]

    longer = ex.train(dataclasses.replace(cfg, steps=400), reuse=True)  # a larger budget continues the run
    assert "at 300 of 400 env steps" in capsys.readouterr().out
    assert longer["env_steps_per_skill"] == 400 and longer["updates_per_skill"] == 400 - 100
    shorter = ex.train(dataclasses.replace(cfg, steps=200), reuse=True)  # a smaller one cannot: trained afresh
    out = capsys.readouterr().out
    assert "resuming" not in out and "reusing the" not in out and "more than the 200 asked for" in out
    assert shorter["env_steps_per_skill"] == 200 and shorter["updates_per_skill"] == 200 - 100


def test_reuse_accepts_a_copied_run_and_names_a_mismatch(tmp_path: Path, one_thread: None,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A run directory copied to a new ``--out`` (to continue it to a larger budget beside the original) is
    the same run, so ``--reuse`` continues it; a run whose config differs is trained afresh, and the message
    names the differing field instead of silently starting over."""
    import argparse
    import dataclasses
    import shutil

    from softskills.skills.loading import load_run

    ex = _example()
    a = argparse.Namespace(quick=True, steps=None, extract_steps=None, episodes=None, fit_iterations=None,
                           fit_steps=None, algo="sac", policy="gaussian", seed=1, device="cpu", threads=1,
                           progress=False, reward_scale=1.0)
    cfg = ex.train_config(a, ex.budget(a), [[-1, None]], 150, tmp_path / "a")
    ex.train(cfg)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    moved = dataclasses.replace(cfg, out=str(tmp_path / "b"), steps=200)
    assert ex.saved_step(moved) == 150
    capsys.readouterr()
    res = ex.train(moved, reuse=True)
    assert "resuming" in capsys.readouterr().out and res["env_steps_per_skill"] == 200
    assert load_run(tmp_path / "a")[2]["step"] == 150  # the copy was continued, the original left alone
    assert ex.saved_step(dataclasses.replace(moved, device="cpu:0", eval_every=7)) == 200  # resumable fields

    (tmp_path / "b" / "checkpoint" / "meta.json").write_text("{ truncated")
    assert ex.saved_step(moved) is None
    ex.train(dataclasses.replace(moved, steps=160), reuse=True)
    assert "cannot be loaded" in capsys.readouterr().out

    other = dataclasses.replace(cfg, out=str(tmp_path / "a"), batch_size=cfg.batch_size + 1, steps=200)
    assert ex.saved_step(other) is None
    ex.train(other, reuse=True)
    assert "not reusing" in (out := capsys.readouterr().out) and "differs in batch_size" in out


@pytest.mark.parametrize("algo", ["sql", "sac"])
def test_reward_scale_reaches_both_algorithms(tmp_path: Path, algo: str) -> None:
    """``--reward-scale`` sets the constituents' (and direct tasks') reward scale at the fixed alpha 1."""
    import argparse

    ex = _example()
    a = argparse.Namespace(quick=True, steps=None, extract_steps=None, episodes=None, fit_iterations=None,
                           fit_steps=None, algo=algo, policy="realnvp", seed=1, device="cpu", threads=1,
                           progress=False, reward_scale=0.25)
    cfg = ex.train_config(a, ex.budget(a), [[-1, None]], 300, tmp_path / "run")
    algo_cfg = cfg.sql if algo == "sql" else cfg.sac
    assert algo_cfg.reward_scale == 0.25
    assert (algo_cfg.alpha if algo == "sql" else algo_cfg.init_alpha) == 1.0


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf"])
def test_bad_reward_scale_is_refused(tmp_path: Path, bad: str) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--reward-scale", bad, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--reward-scale must be a finite number > 0" in proc.stderr


def test_merge_weights_reach_compose_and_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--merge-weights 1 1`` (the original's sum) is passed as ``--weights`` to both ``softskills compose`` and
    ``softskills bounds``; without it neither gets weights (the mean)."""
    import argparse

    ex = _example()
    seen: list[list[str]] = []
    monkeypatch.setattr(ex, "cli_json", lambda argv: seen.append(argv) or {"stats": {}})
    for weights in (None, [1.0, 1.0]):
        a = argparse.Namespace(quick=True, steps=None, extract_steps=None, episodes=None, fit_iterations=None,
                               fit_steps=None, algo="sql", policy="gaussian", device="cpu", extract_seed=0,
                               merge_weights=weights, progress=False)
        b = ex.budget(a)
        ex.compose_merge(a, b, "RUN", 0, tmp_path / "merge")
        ex.fit_bounds(a, b, "RUN", 0, tmp_path / "bounds.json")
    plain, summed = seen[:2], seen[2:]
    assert all("--weights" not in argv for argv in plain)
    for argv in summed:
        i = argv.index("--weights")
        assert argv[i + 1: i + 3] == ["1.0", "1.0"] and argv[0] in ("compose", "bounds")
    assert [argv[0] for argv in summed] == ["compose", "bounds"]
    assert [argv[-1] for argv in seen] == ["--no-progress"] * 4  # compose and bounds: quiet unless --progress
    a = argparse.Namespace(**{**vars(a), "progress": True})
    ex.compose_merge(a, b, "RUN", 0, tmp_path / "merge")
    ex.fit_bounds(a, b, "RUN", 0, tmp_path / "bounds2.json")
    assert [argv[-1] for argv in seen[4:]] == ["--progress"] * 2


def test_bad_merge_weights_are_refused(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--merge-weights", "1", "0", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--merge-weights must be two finite numbers > 0" in proc.stderr


def test_direct_only_trains_the_direct_tasks_alone_for_a_later_reuse(tmp_path: Path, one_thread: None) -> None:
    """``--direct-only`` trains and evaluates the K = 3 direct tasks and nothing else; the full command with
    ``--reuse`` then takes that run as its step 4 instead of training it again."""
    out = tmp_path / "cp"
    out.mkdir()
    m, log = run_example(out, "--direct-only")
    assert m["direct_only"] and set(m["rows"]) == {f"push {name}" for name in MERGES}
    assert not (out / "sql" / "constituents").exists() and not (out / "table.md").exists()
    _, dcfg, dmeta = load_run(m["direct"]["run_dir"])
    assert dcfg.skills == 3 and dmeta["step"] == m["direct_steps"] == 600
    ddist = reevaluate(m["direct"]["run_dir"], m["episodes"], m["eval_seed"], m["eval"] == "sampled")
    for k, name in enumerate(MERGES):
        assert_same(m["rows"][f"push {name}"], ddist[k], f"push {name}")
    assert json.loads((out / "sql" / "direct_results.json").read_text())["rows"] == m["rows"]
    stamp = sorted((p.name, p.stat().st_mtime_ns) for p in (Path(m["direct"]["run_dir"]) / "checkpoint").iterdir())
    full, log = run_example(out, "--reuse")
    assert sum(line.startswith("reusing the finished run") for line in log) == 1  # the direct tasks only
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (Path(m["direct"]["run_dir"]) / "checkpoint").iterdir()) \
        == stamp
    for name in MERGES:
        assert full["rows"][f"push {name}"] == m["rows"][f"push {name}"]


def test_a_second_process_waits_for_the_direct_tasks_lock(tmp_path: Path) -> None:
    """While another process holds ``direct.lock`` (a ``--direct-only`` run still training), the command waits
    instead of training the same run beside it, and goes on once the lock is released."""
    import fcntl
    import os

    out = tmp_path / "cp"
    (out / "sql").mkdir(parents=True)
    fd = os.open(out / "sql" / "direct.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, str(SCRIPT), "--quick", "--direct-only", "--out", str(out)],
                                cwd=tmp_path, stdout=f, stderr=subprocess.STDOUT, env={**os.environ,
                                                                                       "OMP_NUM_THREADS": "1"})
        try:
            deadline = time.monotonic() + 120
            while "waiting for the process that holds" not in log.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()[-2000:]
                time.sleep(0.5)
            assert "waiting for the process that holds" in log.read_text()
            time.sleep(2)
            assert proc.poll() is None and not (out / "sql" / "direct" / "checkpoint").exists()  # nothing trained
        finally:
            os.close(fd)  # release: the waiting process goes on
        assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    m = json.loads(log.read_text().strip().splitlines()[-1])
    assert m["direct_only"] and (out / "sql" / "direct" / "checkpoint").exists()
