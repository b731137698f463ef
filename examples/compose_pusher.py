"""Thesis Table 6.1 with zero new samples: compose pusher skills offline and compare with training directly.

    python examples/compose_pusher.py                                  # full mode, SQL (originals.md §2.4-2.5)
    python examples/compose_pusher.py --algo sac --policy realnvp      # the same with SAC (fills its column)
    python examples/compose_pusher.py --quick                          # smoke run of every stage (~2 min)
    python examples/compose_pusher.py --direct-only                    # stage 4 alone, beside the full command
                                                                       # on a second core; its --reuse takes it

Stages, all on ``softskills/Pusher-v0`` (puck-goal distance on the state before the last action,
the original's ``FinalGoalDistance``):

1. **Constituents.** Push left (x = -1), middle (x = 0), right (x = 1) and bottom (y = -1) are
   trained as K = 4 skills of *one* run (one batched update, per-skill tasks; a masked goal axis is
   ``None``) and saved with their replay buffers.
2. **Merges.** Each of bottom-left, bottom-middle and bottom-right is made by ``softskills compose
   RUN RUN --skills k 3`` (the CLI, called in-process) from the saved run alone: Q_Sigma is the mean
   of the two critics (thesis eq. 6.2) and a fresh policy is extracted from the union of the two
   skills' buffers (SQL: SVGD, as the original; SAC: the SAC policy loss with ``--policy``). No
   environment step is taken; the composed task ``(x, -1)`` is the merge of the two goals.
3. **Evaluation.** Every run is reloaded from disk and evaluated (``--eval``: SQL's sampler with sampled
   actions, as the original evaluated it, since its ``xi = 0`` action is not a mode; SAC deterministically) over
   ``--episodes`` episodes; episode ``e`` resets with seed ``--eval-seed + e``. Reported: mean ± std
   (population std) of the final puck-goal distance. Each merge is also evaluated acting from
   ``exp(Q_Sigma/alpha)`` itself (``--resample N``, default 500: ``N`` uniform candidate actions per
   state, one drawn by ``softmax(Q_Sigma/alpha)``, or the best one where SAC acts deterministically), so
   that the composition's error and the extraction's are told apart (rows "(pi_Sigma resampled)").
4. **Direct tasks.** The three 2-D goals are trained as K = 3 skills of one run, with 2x the
   constituent env steps per skill (the samples of its two constituents together).
5. **Bounds.** ``softskills bounds RUN RUN --skills k 3`` fits C*, D* and D_exact (Lemma 5, Theorem 3,
   originals.md §3) on the union buffer; the FitConfig is printed and stored in the JSON.
6. **Figure.** ``OUT/<variant>/final_positions.png``: final puck positions of the two constituents and
   of the merge, one panel per merge (thesis Fig. 6.1).
7. **Table.** ``OUT/table.md``: the thesis rows, a column per variant found under OUT (run the script
   once per algorithm with the same ``--out``: ``sql``, ``sac-gaussian``, ``sac-realnvp``), the thesis'
   SQL and DDPG columns, the extraction's gradient steps and wall time against training the direct
   tasks (thesis Fig. 6.2) and the bounds. The script ends by printing one JSON line.

Full-mode budgets (originals.md §2.4-2.5): seed 1, 500k env steps per constituent skill (so 1M per
direct task), 300-step episodes, reward scale 1, alpha 1, batch 128, (128, 128) networks, lr 3e-4,
K = M = 16 particles, hard target copy every 1000 updates, gamma 0.99, one update per env step,
1000 uniform warm-up steps (not stated by the original); extraction seed 0, 10k gradient steps,
batch 128, M = 16, SVGD ratio 0.5, lr 3e-4; bounds with the default FitConfig (300 iterations of
50 Adam steps, (64, 64), 16 candidate actions, contexts fixed per transition); 100 evaluation episodes (Fig. 6.1 shows 100). SAC uses
the same objective: a fixed temperature alpha = 1, reward scale 1 (so that the constituents share
the temperature the bounds are stated for), Polyak tau 5e-3.
``--quick``: 300 env steps per constituent skill, 100 warm-up, batch 32, (32, 32) networks,
K = M = 8, target copy every 100 updates, 50 extraction steps, FitConfig(2 x 10 steps, (16, 16),
8 candidates), 20 episodes. The numbers of the quick mode mean nothing; it exercises the stages.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from softskills import cli
from softskills.compose.bounds import FitConfig
from softskills.compose.resample import load_resampled
from softskills.skills.config import TrainConfig
from softskills.skills.config_io import RESUMABLE_FIELDS, config_to_dict
from softskills.skills.evaluate import evaluate
from softskills.skills.factory import default_env_factory
from softskills.skills.loading import load_run
from softskills.skills.sac import SACConfig
from softskills.skills.sql import SQLConfig
from softskills.skills.trainer import Trainer
from softskills.skills.vec import StepResult

ENV = "softskills/Pusher-v0"
OnStep = Callable[[StepResult, np.ndarray], None]
CONSTITUENTS: tuple[tuple[str, list[float | None]], ...] = (
    ("left", [-1, None]), ("middle", [0, None]), ("right", [1, None]), ("bottom", [None, -1]),
)
"""Skill k of the constituent run: its name and goal (``None`` = any)."""
BOTTOM = 3
"""The bottom constituent's skill index; each merge composes it with skill 0, 1 or 2."""
MERGES: tuple[tuple[str, int, list[float]], ...] = (
    ("bottom-left", 0, [-1, -1]), ("bottom-middle", 1, [0, -1]), ("bottom-right", 2, [1, -1]),
)
"""Each merge: its name, the x-constituent's skill index, and the composed goal."""
ROWS = ("push left", "push middle", "push right", "push bottom",
        "push bottom-left", "merge bottom-left", "push bottom-middle", "merge bottom-middle",
        "push bottom-right", "merge bottom-right")
"""Table 6.1's rows, in the thesis' order."""
RESAMPLED = "(pi_Sigma resampled)"
"""Suffix of the rows that act from ``exp(Q_Sigma/alpha)`` by resampling (``--resample``), not in the thesis."""
THESIS = {  # Table 6.1 (thesis ch. 6): final cylinder-goal distance, SQL and DDPG columns
    "push left": ("0.13 ± 0.06", "0.20 ± 0.01"), "push middle": ("0.07 ± 0.08", "0.05 ± 0.03"),
    "push right": ("0.10 ± 0.08", "0.10 ± 0.07"), "push bottom": ("0.08 ± 0.07", "0.04 ± 0.02"),
    "push bottom-left": ("0.11 ± 0.11", "0.24 ± 0.01"), "merge bottom-left": ("0.11 ± 0.05", "0.19 ± 0.10"),
    "push bottom-middle": ("0.12 ± 0.09", "0.14 ± 0.03"), "merge bottom-middle": ("0.09 ± 0.09", "0.12 ± 0.02"),
    "push bottom-right": ("0.18 ± 0.17", "0.14 ± 0.06"), "merge bottom-right": ("0.15 ± 0.14", "0.09 ± 0.10"),
}
TABLE_ROWS = (*ROWS, *(f"merge {name} {RESAMPLED}" for name, _, _ in MERGES))
"""The table's rows: the thesis' and, after them, the resampled merges (a dash where not run)."""
VARIANTS = ("sql", "sac-gaussian", "sac-realnvp")
BOUND_KEYS = ("renyi_half", "c_star", "d_star", "d_exact", "regret_upper", "q_sigma")


@dataclasses.dataclass(frozen=True)
class Budget:
    """Every size of one mode (full or quick); see the module docstring."""

    steps: int
    extract_steps: int
    episodes: int
    hidden: tuple[int, ...]
    batch_size: int
    warmup_steps: int
    particles: int
    target_interval: int
    log_every: int
    eval_every: int
    eval_episodes: int
    checkpoint_every: int
    fit: FitConfig


def budget(a: argparse.Namespace) -> Budget:
    """The budget of ``a.quick``, with ``--steps``/``--extract-steps``/``--episodes``/``--fit-*`` applied."""
    if a.quick:
        fit = FitConfig(iterations=2, steps_per_iteration=10, batch_size=64, hidden=(16, 16), action_samples=8,
                        seed=0, device=a.device)
        b = Budget(steps=300, extract_steps=50, episodes=20, hidden=(32, 32), batch_size=32, warmup_steps=100,
                   particles=8, target_interval=100, log_every=100, eval_every=0, eval_episodes=1,
                   checkpoint_every=10**9, fit=fit)
    else:
        b = Budget(steps=500_000, extract_steps=10_000, episodes=100, hidden=(128, 128), batch_size=128,
                   warmup_steps=1000, particles=16, target_interval=1000, log_every=10_000, eval_every=25_000,
                   eval_episodes=5, checkpoint_every=25_000, fit=FitConfig(device=a.device))
    fit = dataclasses.replace(b.fit, **{k: v for k, v in (("iterations", a.fit_iterations),
                                                           ("steps_per_iteration", a.fit_steps)) if v is not None})
    b = dataclasses.replace(b, fit=fit, **{k: v for k, v in (("steps", a.steps), ("extract_steps", a.extract_steps),
                                                             ("episodes", a.episodes)) if v is not None})
    if b.episodes < 20:
        raise SystemExit(f"--episodes must be >= 20 (Table 6.1 needs a spread), got {b.episodes}")
    if b.steps <= b.warmup_steps:
        raise SystemExit(f"--steps must exceed the {b.warmup_steps} warm-up steps, got {b.steps}")
    return b


def train_config(a: argparse.Namespace, b: Budget, goals: list[list[float | None]], steps: int,
                 out: Path) -> TrainConfig:
    """One K-skill pusher run: skill k pushes to ``goals[k]``; SQL or SAC per ``a.algo``/``a.policy``."""
    base = TrainConfig(
        env=ENV, skills=len(goals), tasks=tuple(json.dumps({"goal": g}) for g in goals), steps=steps, seed=a.seed,
        out=str(out), device=a.device, warmup_steps=b.warmup_steps, updates_per_step=1.0, batch_size=b.batch_size,
        eval_every=b.eval_every, eval_episodes=b.eval_episodes, log_every=b.log_every,
        checkpoint_every=b.checkpoint_every, save_buffer=True, overwrite=True, threads=a.threads,
        progress=a.progress, tensorboard=False,
    )
    if a.algo == "sql":
        sql = SQLConfig(gamma=0.99, alpha=1.0, reward_scale=a.reward_scale, value_particles=b.particles,
                        kernel_particles=b.particles, kernel_update_ratio=0.5, target_update="hard",
                        target_interval=b.target_interval, q_lr=3e-4, policy_lr=3e-4, hidden=b.hidden)
        return dataclasses.replace(base, algo="sql", sql=sql)
    sac = SACConfig(gamma=0.99, q_lr=3e-4, policy_lr=3e-4, init_alpha=1.0, auto_alpha=False,
                    reward_scale=a.reward_scale, hidden=b.hidden)
    return dataclasses.replace(base, algo="sac", policy=a.policy, sac=sac, flow_embed_hidden=b.hidden)


WALL_FILE = "train_wall.json"
"""Beside a finished run: its training wall time, so that ``--reuse`` can report it."""


def saved_step(cfg: TrainConfig) -> int | None:
    """The env steps of the run saved in ``cfg.out`` if it is ``cfg``'s run, trained up to at most
    ``cfg.steps``: the same config but for the settings a resumed run may change
    (:data:`~softskills.skills.config_io.RESUMABLE_FIELDS`): its total ``steps`` (a finished 100k run
    continues to a 500k budget exactly as a straight run would; nothing in the training depends on the
    total), its ``out`` (a run directory copied elsewhere is the same run), its device, threads and logging.
    ``None`` when there is no readable run of that config there, or it trained beyond ``cfg.steps``; then
    :func:`train` says why it trains afresh."""
    return _reuse_check(cfg)[0]


def _reuse_check(cfg: TrainConfig) -> tuple[int | None, str | None]:
    """``(step, None)`` for a reusable run in ``cfg.out``; ``(None, why)`` when one is there but cannot be
    reused; ``(None, None)`` when there is none."""
    out = Path(cfg.out)
    if not ((out / "checkpoint").exists() or (out / "checkpoint.old").exists()):
        return None, None
    try:
        _, saved, meta = load_run(cfg.out)
    except Exception as e:  # noqa: BLE001 - an unreadable run: train it, and say so
        return None, f"the run there cannot be loaded ({type(e).__name__}: {e})"
    mine = config_to_dict(cfg)
    theirs = config_to_dict(dataclasses.replace(saved, **{f: getattr(cfg, f) for f in RESUMABLE_FIELDS}))
    differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    step = int(meta["step"])
    if differ:
        return None, f"its config differs in {', '.join(differ)}"
    if step > cfg.steps:
        return None, f"it trained {step:,} env steps, more than the {cfg.steps:,} asked for"
    return step, None


def write_wall(path: Path, wall_s: float, step: int) -> None:
    """Write the wall-time sidecar atomically (a kill mid-write leaves the previous one)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"wall_s": wall_s, "step": step}) + "\n")
    os.replace(tmp, path)


def train(cfg: TrainConfig, reuse: bool = False) -> dict[str, Any]:
    """Train ``cfg`` (or, with ``reuse``, take the finished run of the same config in ``cfg.out``, or continue
    an unfinished one from its last checkpoint); returns its env steps and updates per skill (read back from
    the checkpoint) and training wall time (summed over the sessions that trained it, when each of them
    finished or checkpointed: ``WALL_FILE`` keeps the seconds up to the last checkpoint)."""
    wall_file = Path(cfg.out) / WALL_FILE
    step, why = _reuse_check(cfg) if reuse else (None, None)
    if why is not None:
        print(f"not reusing {cfg.out}: {why}; training it afresh", flush=True)
    if step is not None and step >= cfg.steps:
        wall = json.loads(wall_file.read_text())["wall_s"] if wall_file.exists() else float("nan")
        print(f"reusing the finished run {cfg.out} (trained in {wall:.0f} s)", flush=True)
    else:
        before = 0.0
        if step is not None:  # an unfinished run of this config: continue it (exact: the buffer is saved)
            before = json.loads(wall_file.read_text())["wall_s"] if wall_file.exists() else float("nan")
            print(f"resuming {cfg.out} at {step:,} of {cfg.steps:,} env steps", flush=True)
            cfg = dataclasses.replace(cfg, resume=True, overwrite=False)
        t0 = time.perf_counter()
        trainer = Trainer(cfg)
        save = trainer.save

        def save_and_time() -> Path:  # the wall time up to each checkpoint survives a kill
            path = save()
            write_wall(wall_file, before + time.perf_counter() - t0, trainer.step)
            return path

        trainer.save = save_and_time  # type: ignore[method-assign]
        trainer.train()
        wall = before + time.perf_counter() - t0
        write_wall(wall_file, wall, cfg.steps)
    _, _, meta = load_run(cfg.out)
    return {"run_dir": cfg.out, "skills": cfg.skills, "tasks": cfg.task_kwargs(),
            "env_steps_per_skill": int(meta["step"]), "updates_per_skill": int(meta["num_updates"]),
            "wall_s": wall}


def final_distances(run_dir: str | Path, episodes: int, seed: int, sampled: bool = False,
                    resample: int = 0, on_step: OnStep | None = None) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Reload ``run_dir`` and evaluate every skill on its own task: final goal distances ``(K, E)``,
    final puck positions ``(K, E, 2)`` and the tasks (episode e seeded ``seed + e``). The policy acts
    deterministically, or with ``sampled`` draws its actions (torch seeded with ``seed`` first).
    ``resample > 0`` (a composed run only) acts from ``exp(Q_Sigma/alpha)`` by resampling that many
    uniform candidates per state instead of the extracted policy (deterministic: the best candidate).
    ``on_step`` is passed to ``evaluate`` (it sees every step)."""
    agent, cfg, _ = load_run(run_dir)
    if resample:
        agent = load_resampled(run_dir, resample)
        agent.generator = torch.Generator().manual_seed(seed)  # its candidates, sampled or not
    envs = default_env_factory(cfg)(episodes)
    try:
        if sampled:
            torch.manual_seed(seed)
        res = evaluate(agent, envs, seed, deterministic=not sampled, on_step=on_step)
    finally:
        envs.close()
    dist = np.array([[float(info["goal_distance"]) for info in row] for row in res.final_infos])
    puck = np.array([[np.asarray(info["puck_xy"], dtype=np.float64) for info in row] for row in res.final_infos])
    return dist, puck, cfg.task_kwargs()


def summary(d: np.ndarray) -> dict[str, Any]:
    return {"mean": float(d.mean()), "std": float(d.std()), "episodes": int(d.size)}


def cli_json(argv: list[str]) -> dict[str, Any]:
    """Run ``softskills ARGV`` in-process and parse the JSON line it prints."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cli.main(argv)
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def weights_argv(a: argparse.Namespace) -> list[str]:
    """``--weights W_OTHER W_BOTTOM`` for ``softskills compose`` and ``bounds`` (none: the mean, thesis eq. 6.2)."""
    return ["--weights", *map(str, a.merge_weights)] if a.merge_weights else []


def compose_merge(a: argparse.Namespace, b: Budget, run: str, k: int, out: Path) -> dict[str, Any]:
    """``softskills compose RUN RUN --skills k 3``: the merge of skill k with the bottom skill, offline."""
    method = "svgd" if a.algo == "sql" else "sac"
    argv = ["compose", run, run, "--skills", str(k), str(BOTTOM), "--method", method, "--policy", a.policy,
            "--steps", str(b.extract_steps), "--batch-size", str(b.batch_size), "--lr", "3e-4",
            "--seed", str(a.extract_seed), "--device", a.device, *weights_argv(a), "--out", str(out), "--overwrite"]
    t0 = time.perf_counter()
    res = cli_json([*argv, "--progress" if a.progress else "--no-progress"])  # bars change no result
    return {**res, "cli_wall_s": time.perf_counter() - t0, "argv": ["softskills", *argv]}


def fit_bounds(a: argparse.Namespace, b: Budget, run: str, k: int, out: Path, reuse: bool = False) -> dict[str, Any]:
    """``softskills bounds RUN RUN --skills k 3`` with the budget's FitConfig; the report, also written to ``out``.

    The command is stored beside the report (``out`` with suffix ``.argv.json``). With ``reuse``, a report
    made by the same command after the constituents' last checkpoint is read instead of fitted again.
    """
    f = b.fit
    argv = ["bounds", run, run, "--skills", str(k), str(BOTTOM), "--fit.iterations", str(f.iterations),
            "--fit.steps-per-iteration", str(f.steps_per_iteration), "--fit.batch-size", str(f.batch_size),
            "--fit.lr", str(f.lr), "--fit.hidden", *map(str, f.hidden), "--fit.action-samples",
            str(f.action_samples), "--fit.seed", str(f.seed), "--fit.device", f.device, *weights_argv(a),
            "--out", str(out)]
    sidecar = out.with_suffix(".argv.json")
    checkpoint = Path(run) / "checkpoint" / "manifest.sha256"
    if reuse and out.exists() and sidecar.exists() and checkpoint.exists():
        try:
            same = json.loads(sidecar.read_text()) == argv
        except ValueError:
            same = False
        if same and out.stat().st_mtime > checkpoint.stat().st_mtime:
            print(f"reusing the bounds in {out} (the same command, after the constituents' last checkpoint)",
                  flush=True)
            return json.loads(out.read_text())
    report = cli_json([*argv, "--progress" if a.progress else "--no-progress"])  # bars change no result
    tmp = sidecar.with_suffix(".tmp")
    tmp.write_text(json.dumps(argv) + "\n")
    os.replace(tmp, sidecar)
    return report


def plot_final_positions(path: Path, cons_puck: np.ndarray, merge_puck: dict[str, np.ndarray], title: str) -> None:
    """Thesis Fig. 6.1, one panel per merge: the x- and bottom constituents' final puck positions and the merge's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(MERGES), figsize=(5 * len(MERGES), 4.6), squeeze=False)
    for ax, (name, k, goal) in zip(axes[0], MERGES):
        xname, xgoal = CONSTITUENTS[k]
        ax.axvline(xgoal[0], color="tab:blue", ls="--", lw=1)
        ax.axhline(-1.0, color="tab:orange", ls="--", lw=1)
        ax.add_patch(plt.Rectangle((0.3, -1.0), 0.7, 0.6, fill=False, ls=":", color="grey", label="puck start box"))
        ax.scatter(*cons_puck[k].T, s=14, color="tab:blue", label=f"push {xname} (x = {xgoal[0]:g})")
        ax.scatter(*cons_puck[BOTTOM].T, s=14, color="tab:orange", label="push bottom (y = -1)")
        ax.scatter(*merge_puck[name].T, s=14, color="tab:green", label=f"merge {name}")
        ax.plot(*goal, marker="*", ms=14, color="k", ls="none", label=f"goal ({goal[0]:g}, {goal[1]:g})")
        ax.set_title(f"merge {name}")
        ax.set_xlabel("puck x")
        ax.set_ylabel("puck y")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fmt(s: dict[str, Any] | None) -> str:
    return "—" if s is None else f"{s['mean']:.2f} ± {s['std']:.2f}"


def write_table(out: Path) -> Path:
    """``OUT/table.md`` from every ``OUT/<variant>/results.json`` present (one column per variant)."""
    found = {v: json.loads((out / v / "results.json").read_text()) for v in VARIANTS
             if (out / v / "results.json").exists()}
    cols = [v for v in VARIANTS if v in found]
    if "sql" not in found:
        cols.insert(0, "sql")
    if not any(v.startswith("sac") for v in found):
        cols.append("sac")

    def header(v: str) -> str:
        r = found.get(v)
        name = "ours (SQL)" if v == "sql" else f"ours (SAC{', ' + v.split('-')[1] if '-' in v else ''})"
        if r is None:
            return f"{name}, not run"
        return f"{name}, {r['steps']:,} steps{', quick' if r['quick'] else ''}"

    lines = ["# Thesis Table 6.1: simulated pushing, final puck-goal distance (mean ± std)", "",
             "| task | " + " | ".join(header(v) for v in cols) + " | thesis SQL | thesis DDPG |",
             "|---" * (len(cols) + 3) + "|"]
    for row in TABLE_ROWS:
        cells = [fmt(found[v]["rows"].get(row)) if v in found else "—" for v in cols]
        thesis = THESIS.get(row, ("—", "—"))
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {thesis[0]} | {thesis[1]} |")
    lines += ["", "Ours: the distance on the state before the last of 300 steps (the original's "
              "FinalGoalDistance); how the policy acted, episodes and seeds per column below. Merges: `softskills compose` of the bottom "
              "skill with the x skill, from the constituents' saved buffers, with **0 new env steps**. Rows marked "
              f"{RESAMPLED} act from exp(Q_Sigma/alpha) itself, by resampling uniform candidate actions (`softskills "
              "eval --resample N`), with no extracted network.", "",
              "## Extraction vs training the direct task (thesis Fig. 6.2)", "",
              "| variant | merge | extraction gradient steps | extraction wall s | new env steps | direct-task updates "
              "per skill | direct env steps per skill | direct wall s (3 tasks batched) |", "|---" * 8 + "|"]
    for v in cols:
        r = found.get(v)
        if r is None:
            continue
        d = r["direct"]
        for name, m in r["merges"].items():
            lines.append(f"| {v} | {name} | {m['gradient_steps']:,} | {m['extract_wall_s']:.1f} | {m['env_steps']} | "
                         f"{d['updates_per_skill']:,} | {d['env_steps_per_skill']:,} | {d['wall_s']:.1f} |")
    lines += ["", "## Composition bounds (normalised Q_Sigma; means over the union buffer)", "",
              "| variant | merge | " + " | ".join(BOUND_KEYS) + " | FitConfig |", "|---" * (len(BOUND_KEYS) + 3) + "|"]
    for v in cols:
        r = found.get(v)
        if r is None:
            continue
        f = r["fit_config"]
        fit = (f"{f['iterations']} x {f['steps_per_iteration']} steps, batch {f['batch_size']}, hidden "
               f"{tuple(f['hidden'])}, {f['action_samples']} candidates")
        for name, m in r["merges"].items():
            vals = " | ".join("—" if m["bounds"].get(k) is None else f"{m['bounds'][k]:.3g}" for k in BOUND_KEYS)
            lines.append(f"| {v} | {name} | {vals} | {fit} |")
    lines += ["", "## Settings", ""]
    for v in cols:
        r = found.get(v)
        if r is not None:
            lines.append(f"- {v}: seed {r['seed']}, {r['steps']:,} env steps per constituent skill (K = 4 in one run), "
                         f"{2 * r['steps']:,} per direct task (K = 3 in one run), {r['extract_steps']:,} extraction "
                         f"steps (seed {r['extract_seed']}), {r['episodes']} evaluation episodes from seed "
                         f"{r['eval_seed']} ({r.get('eval', 'deterministic')} actions)"
                         f"{', quick mode' if r['quick'] else ''}.")
    path = out / "table.md"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def stage_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` while the direct tasks train, so that a ``--direct-only``
    process and the full command never train the same run at once (the second one waits, then reuses the
    finished run). The kernel drops the lock when its holder exits or dies, so none is ever left stale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for the process that holds {path} (another run training the same direct tasks, "
                  "e.g. --direct-only) to finish", flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def train_direct(a: argparse.Namespace, b: Budget, vdir: Path, sampled: bool) -> tuple[dict[str, Any], np.ndarray]:
    """Step 4: train (or, with ``--reuse``, take) the K = 3 direct tasks under :func:`stage_lock`.

    Returns:
        The training summary of :func:`train` and the final distances ``(3, episodes)``.
    """
    with stage_lock(vdir / "direct.lock"):
        direct = train(train_config(a, b, [g for _, _, g in MERGES], 2 * b.steps, vdir / "direct"), a.reuse)
    dist, _, _ = final_distances(direct["run_dir"], b.episodes, a.eval_seed, sampled)
    return direct, dist


def direct_only(a: argparse.Namespace, b: Budget, variant: str, vdir: Path, sampled: bool, t_start: float) -> None:
    """Step 4 alone (``--direct-only``): the direct tasks, evaluated, into ``direct_results.json`` and a JSON line."""
    direct, dist = train_direct(a, b, vdir, sampled)
    rows = {f"push {name}": summary(dist[k]) for k, (name, _, _) in enumerate(MERGES)}
    for name, row in rows.items():
        print(f"[{variant}] {name} (direct): {fmt(row)} over {b.episodes} episodes", flush=True)
    results = {"example": "compose_pusher", "env": ENV, "variant": variant, "direct_only": True, "quick": a.quick,
               "seed": a.seed, "eval_seed": a.eval_seed, "episodes": b.episodes, "direct_steps": 2 * b.steps,
               "eval": "sampled" if sampled else "deterministic", "direct": direct, "rows": rows}
    (vdir / "direct_results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({**results, "wall_s": time.perf_counter() - t_start}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", choices=("sql", "sac"), default="sql", help="SQL (the thesis) or SAC")
    p.add_argument("--policy", choices=("gaussian", "realnvp"), default="gaussian", help="SAC's policy family")
    p.add_argument("--steps", type=int, default=None, help="env steps per constituent skill (default 500k; quick 300)")
    p.add_argument("--extract-steps", type=int, default=None, help="extraction gradient steps (10k; quick 50)")
    p.add_argument("--episodes", type=int, default=None, help="evaluation episodes per skill, >= 20 (100; quick 20)")
    p.add_argument("--eval", choices=["auto", "deterministic", "sampled"], default="auto",
                   help="how the policies act in the evaluation: auto is sampled for SQL (the original evaluated "
                        "the sampler's draws; its xi = 0 action is not a mode) and deterministic for SAC")
    p.add_argument("--seed", type=int, default=1, help="training seed (the original's pretraining: 1)")
    p.add_argument("--extract-seed", type=int, default=0, help="extraction seed (the original's combination: 0)")
    p.add_argument("--eval-seed", type=int, default=10_000, help="episode e of every evaluation resets with this + e")
    p.add_argument("--fit-iterations", type=int, default=None, help="bounds: fitted iterations (300; quick 2)")
    p.add_argument("--fit-steps", type=int, default=None, help="bounds: Adam steps per iteration (50; quick 10)")
    p.add_argument("--merge-weights", type=float, nargs=2, default=None, metavar=("W_OTHER", "W_BOTTOM"),
                   help="weights of each merge's two Q-functions (default: the mean, thesis eq. 6.2); 1 1 is the "
                        "original code's sum, i.e. the mean at half the temperature")
    p.add_argument("--reward-scale", type=float, default=1.0,
                   help="reward scale of the constituents and direct tasks at the fixed alpha 1 (the original: 1); "
                        "a smaller scale is a higher temperature (alpha = 1/scale) and broader skills. "
                        "Use its own --out")
    p.add_argument("--resample", type=int, default=500, metavar="N",
                   help="also evaluate each merge acting from exp(Q_Sigma/alpha) itself, by resampling N uniform "
                        "candidate actions per state (no extracted network; softskills eval --resample); 0: off")
    p.add_argument("--out", default="runs/compose_pusher")
    p.add_argument("--quick", action="store_true", help="tiny budgets that exercise every stage (~2 min)")
    p.add_argument("--reuse", action="store_true",
                   help="skip training the constituents or the direct tasks where OUT already holds that finished "
                        "run (same config), and continue one that a killed session left unfinished from its last "
                        "checkpoint (every 25k steps), or a finished one to a larger --steps; the merges and "
                        "evaluations are computed again, and the bounds unless OUT holds those of the same "
                        "command, made after the constituents' last checkpoint")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.add_argument("--direct-only", action="store_true",
                   help="train and evaluate only the three direct tasks (step 4) and stop: run it beside the full "
                        "command on another core, whose --reuse then takes the finished direct tasks")
    a = p.parse_args()
    if not (np.isfinite(a.reward_scale) and a.reward_scale > 0):
        p.error(f"--reward-scale must be a finite number > 0, got {a.reward_scale}")
    if a.resample < 0:
        p.error(f"--resample must be >= 0, got {a.resample}")
    if a.merge_weights is not None and not all(np.isfinite(w) and w > 0 for w in a.merge_weights):
        p.error(f"--merge-weights must be two finite numbers > 0, got {a.merge_weights}")
    b = budget(a)
    if a.threads:
        torch.set_num_threads(a.threads)
    variant = "sql" if a.algo == "sql" else f"sac-{a.policy}"
    sampled = a.eval == "sampled" or (a.eval == "auto" and a.algo == "sql")
    out = Path(a.out)
    vdir = out / variant
    vdir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    if a.direct_only:
        direct_only(a, b, variant, vdir, sampled, t_start)
        return

    # 1. the four constituents: K = 4 skills in one batched update, saved with their buffers
    cons = train(train_config(a, b, [g for _, g in CONSTITUENTS], b.steps, vdir / "constituents"), a.reuse)
    print(f"[{variant}] constituents: K = 4, {cons['env_steps_per_skill']:,} env steps and "
          f"{cons['updates_per_skill']:,} updates per skill, {cons['wall_s']:.0f} s", flush=True)
    cons_dist, cons_puck, _ = final_distances(cons["run_dir"], b.episodes, a.eval_seed, sampled)

    # 2.-3. merges, offline through `softskills compose`, each evaluated from its saved run directory
    merges: dict[str, dict[str, Any]] = {}
    merge_puck: dict[str, np.ndarray] = {}
    for name, k, goal in MERGES:
        res = compose_merge(a, b, cons["run_dir"], k, vdir / f"merge-{name}")
        dist, puck, tasks = final_distances(res["out"], b.episodes, a.eval_seed, sampled)
        if [float(c) for c in tasks[0]["goal"]] != [float(c) for c in goal]:
            raise RuntimeError(f"merge {name} was composed for goal {tasks[0]['goal']}, expected {goal}")
        merge_puck[name] = puck[0]
        merges[name] = {"run_dir": res["out"], "goal": tasks[0]["goal"], "skills": [k, BOTTOM],
                        "method": res["method"], "env_steps": res["env_steps"],
                        "gradient_steps": res["gradient_steps"], "extract_wall_s": res["wall_time_s"],
                        "compose_cli_wall_s": res["cli_wall_s"], "alpha": res["alpha"], "notes": res["notes"],
                        "final_distance": summary(dist[0]), "argv": res["argv"]}
        print(f"[{variant}] merge {name} (goal {goal}): {fmt(summary(dist[0]))} over {b.episodes} episodes; "
              f"{res['gradient_steps']:,} gradient steps in {res['wall_time_s']:.1f} s, {res['env_steps']} env steps",
              flush=True)
        if a.resample:
            t0 = time.perf_counter()
            rdist, _, _ = final_distances(res["out"], b.episodes, a.eval_seed, sampled, a.resample)
            merges[name]["resampled"] = {"candidates": a.resample, "final_distance": summary(rdist[0]),
                                         "eval_wall_s": time.perf_counter() - t0}
            print(f"[{variant}] merge {name} {RESAMPLED}, {a.resample} candidates: {fmt(summary(rdist[0]))} over "
                  f"{b.episodes} episodes, 0 gradient steps, 0 new env steps", flush=True)

    # 4. the direct tasks: K = 3, with the env steps of their two constituents together
    direct, direct_dist = train_direct(a, b, vdir, sampled)
    print(f"[{variant}] direct tasks: K = 3, {direct['env_steps_per_skill']:,} env steps and "
          f"{direct['updates_per_skill']:,} updates per skill, {direct['wall_s']:.0f} s", flush=True)

    # 5. bounds of each merge
    for name, k, _ in MERGES:
        report = fit_bounds(a, b, cons["run_dir"], k, vdir / f"bounds-{name}.json", reuse=a.reuse)
        st = report["stats"]
        merges[name]["bounds"] = {key: (st[key]["mean"] if key in st else None) for key in BOUND_KEYS}
        merges[name]["bounds"].update(estimator=report["estimator"], theorem_setting=report["theorem_setting"],
                                      fit_gradient_steps=report["fit"]["gradient_steps"],
                                      fit_wall_s=report["fit"]["wall_time_s"], env_steps=report["env_steps"])
        bd = merges[name]["bounds"]
        print(f"[{variant}] bounds {name}: D_1/2 {bd['renyi_half']:.3g}, C* {bd['c_star']:.3g}, "
              f"D* {bd['d_star']:.3g}, D_exact {bd['d_exact']:.3g} ({report['estimator']} estimator)", flush=True)

    # 6. Fig. 6.1
    png = vdir / "final_positions.png"
    plot_final_positions(png, cons_puck, merge_puck,
                         f"{variant}: final puck positions, {b.episodes} episodes each (merges: 0 new env steps)")

    # 7. the table (every variant under OUT), Fig. 6.2's comparison, and the JSON line
    rows: dict[str, dict[str, Any]] = {}
    for k, (cname, _) in enumerate(CONSTITUENTS):
        rows[f"push {cname}"] = summary(cons_dist[k])
    for k, (name, _, _) in enumerate(MERGES):
        rows[f"push {name}"] = summary(direct_dist[k])
        rows[f"merge {name}"] = merges[name]["final_distance"]
        if "resampled" in merges[name]:
            rows[f"merge {name} {RESAMPLED}"] = merges[name]["resampled"]["final_distance"]
    fit = dataclasses.asdict(b.fit)
    results = {
        "example": "compose_pusher", "env": ENV, "variant": variant, "algo": a.algo,
        "policy": a.policy if a.algo == "sac" else "svgd", "quick": a.quick, "seed": a.seed,
        "extract_seed": a.extract_seed, "eval_seed": a.eval_seed, "episodes": b.episodes, "steps": b.steps,
        "eval": "sampled" if sampled else "deterministic",
        "reward_scale": a.reward_scale, "merge_weights": a.merge_weights, "resample": a.resample,
        "direct_steps": 2 * b.steps,
        "extract_steps": b.extract_steps,
        "constituents": cons, "direct": direct,
        "merges": merges, "rows": rows, "fit_config": {**fit, "hidden": list(fit["hidden"])}, "png": str(png),
    }
    (vdir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    table = write_table(out)
    ext_steps = sum(m["gradient_steps"] for m in merges.values())
    ext_wall = sum(m["extract_wall_s"] for m in merges.values())
    print(f"[{variant}] Fig. 6.2: 3 merges extracted with {ext_steps:,} gradient steps in {ext_wall:.1f} s and 0 new "
          f"env steps; the 3 direct tasks took {direct['updates_per_skill']:,} updates per skill and "
          f"{direct['env_steps_per_skill']:,} new env steps per skill in {direct['wall_s']:.1f} s "
          f"({direct['updates_per_skill'] * 3 / max(ext_steps, 1):.1f}x the gradient steps, "
          f"{direct['wall_s'] / max(ext_wall, 1e-9):.1f}x the wall time)", flush=True)
    print(f"[{variant}] wrote {table} and {png}", flush=True)
    print(json.dumps({**results, "table": str(table), "wall_s": time.perf_counter() - t_start}))


if __name__ == "__main__":
    main()
