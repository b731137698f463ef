"""The ``softskills`` command line: ``train``, ``eval``, ``plot``, ``plot-multigoal``, ``compose``, ``bounds``,
``library``, the library workflows ``pretrain``, ``stack`` (and ``compose --library``), and ``demo``.

Every option is a field of a frozen dataclass with its own docstring, parsed by tyro, so
``softskills train --help`` documents them all.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from softskills.skills.config import TrainConfig

__all__ = ["EvalArgs", "LibraryArgs", "PlotArgs", "PlotMultiGoalArgs", "main"]


@dataclass(frozen=True)
class EvalArgs:
    """Evaluate a trained run with its deterministic policy and print the mean return (and the mean ± std of the
    scalars the env reports at the episodes' last step, such as the pusher's final goal distance)."""

    run_dir: Annotated[str, tyro.conf.Positional]
    """Run directory (or checkpoint directory) written by ``softskills train``."""
    episodes: int = 10
    """Episodes per skill."""
    seed: int = 12345
    """Seed of the first evaluation episode (episode e uses seed + e)."""
    device: str = "cpu"
    """Torch device."""
    stochastic: bool = False
    """Sample actions from the policy instead of the deterministic action."""
    resample: int = 0
    """A composed run only: act from exp(Q_Sigma/alpha) itself by resampling this many uniform candidate
    actions per state, instead of the extracted policy (0: the extracted policy). With --stochastic it
    draws from the candidates; without, it takes the best one."""


@dataclass(frozen=True)
class PlotArgs:
    """Plot the learning curves of one or more runs into a PNG."""

    run_dirs: Annotated[tuple[str, ...], tyro.conf.Positional]
    """Run directories to plot (each one's progress.csv)."""
    out: str = ""
    """Output PNG (default: RUN_DIR/curves.png of the first run)."""
    keys: tuple[str, ...] = ("charts/episodic_return", "eval/return")
    """Scalars to plot, one panel each."""


@dataclass(frozen=True)
class PlotMultiGoalArgs:
    """Draw a MultiGoal run: cost contours, goals, sampled paths and Q contours at three states."""

    run_dir: Annotated[str, tyro.conf.Positional]
    """Run directory of a ``softskills/MultiGoal-v0`` run."""
    out: str = ""
    """Output PNG (default: RUN_DIR/multigoal.png)."""
    paths: int = 20
    """Sampled (stochastic) trajectories to draw; the goals they reach are printed."""
    seed: int = 10_000
    """Seed of the first trajectory (trajectory i uses seed + i)."""
    skill: int = 0
    """Which of the run's K skills to draw."""
    device: str = "cpu"
    """Torch device."""


@dataclass(frozen=True)
class LibraryArgs:
    """Inspect and edit a skill library: ``ls``, ``show NAME``, ``graph``, ``rm NAME``, ``add NAME RUN_DIR``."""

    action: Annotated[Literal["ls", "show", "graph", "rm", "add"], tyro.conf.Positional]
    """What to do."""
    name: Annotated[str, tyro.conf.Positional] = ""
    """The skill (``show``, ``rm``, ``add``)."""
    run_dir: Annotated[str, tyro.conf.Positional] = ""
    """``add``: the trained run directory to copy into the library."""
    library: str = "./skills"
    """The library directory."""
    env: str = ""
    """``ls``: only skills of this env id."""
    kind: str = ""
    """``ls``: only this kind (primitive, stacked, composed)."""
    tag: str = ""
    """``ls``: only skills with this tag; ``add``: unused (see ``tags``)."""
    tags: tuple[str, ...] = ()
    """``add``: tags of the new skill."""
    keep_buffer: bool = False
    """``add``: keep the run's replay buffer (needed to compose the skill later)."""
    out: str = ""
    """``graph``: output PNG (default: LIBRARY/lineage.png)."""
    force: bool = False
    """``rm``: also remove every skill built on it."""


def _library(args: LibraryArgs) -> None:
    from softskills.library import SkillLibrary, render_graph

    if args.action in ("show", "rm", "add") and not args.name:
        raise ValueError(f"softskills library {args.action} needs a skill NAME")
    lib = SkillLibrary(args.library, create=args.action == "add")
    if args.action == "ls":
        names = lib.find(env=args.env or None, kind=args.kind or None, tag=args.tag or None)
        for n in names:
            r = lib.get(n).to_json()
            print(f"{n:24s} {r.get('kind', ''):10s} {r.get('env', '')}")
        print(json.dumps({"library": args.library, "skills": names}))
    elif args.action == "show":
        print(json.dumps({"skill": lib.get(args.name).to_json(), "dependents": lib.dependents(args.name),
                          "lineage": [[a, b, d] for a, b, d in lib.lineage(args.name).edges(data=True)]},
                         default=str))
    elif args.action == "graph":
        out = render_graph(lib, args.out or str(Path(args.library) / "lineage.png"))
        print(json.dumps({"png": str(out)}))
    elif args.action == "rm":
        print(json.dumps({"removed": lib.remove(args.name, force=args.force)}))
    else:
        if not args.run_dir:
            raise ValueError("softskills library add needs NAME and RUN_DIR")
        import shlex

        rec = lib.add(args.name, args.run_dir, tags=args.tags, keep_buffer=args.keep_buffer,
                      command=shlex.join(sys.argv))
        print(json.dumps({"added": rec.to_json()}, default=str))


def _train(cfg: TrainConfig) -> None:
    from softskills.skills.checkpoint import load_checkpoint
    from softskills.skills.config_io import config_from_dict, resume_config
    from softskills.skills.trainer import Trainer

    if cfg.resume:
        # Flags left at their defaults take the checkpoint's values; flags the user set that
        # would change the run are refused by name.
        defaults = TrainConfig()
        explicit = {f.name for f in dataclasses.fields(cfg) if getattr(cfg, f.name) != getattr(defaults, f.name)}
        _, meta, _ = load_checkpoint(cfg.out)
        cfg = resume_config(config_from_dict(meta.get("config")), cfg, explicit)
    if cfg.stack_on:
        from softskills.hierarchy import stacked_trainer
        from softskills.hierarchy.adapter import adapter_from_spec

        spec = (meta.get("run_info") or {}).get("lower_adapter") if cfg.resume else None
        trainer = stacked_trainer(cfg, adapter_from_spec(spec) if spec else None)
    else:
        trainer = Trainer(cfg)
    metrics = trainer.train()
    print(json.dumps({"env": cfg.env, "algo": trainer.cfg.algo, "policy": trainer.cfg.policy, **metrics}))


def _eval(args: EvalArgs) -> None:
    from softskills.hierarchy import run_env_factory
    from softskills.skills.evaluate import evaluate
    from softskills.skills.loading import load_run
    from softskills.skills.vec import space_meta

    agent, cfg, meta = load_run(args.run_dir, args.device)
    if args.resample < 0:
        raise ValueError(f"--resample must be >= 0, got {args.resample}")
    if args.resample:
        import torch

        from softskills.compose.resample import load_resampled

        agent = load_resampled(args.run_dir, args.resample, args.device)
        agent.generator = torch.Generator(device=args.device).manual_seed(args.seed)  # reproducible draws
    elif (info := meta.get("run_info") or {}).get("composed_q") and info.get("gradient_steps") == 0:
        raise ValueError(f"{args.run_dir} was composed with --steps 0, so it has no extracted policy; evaluate it "
                         "with --resample N (N uniform candidate actions per state, drawn by exp(Q_Sigma/alpha))")
    envs = run_env_factory(cfg, meta.get("run_info"))(args.episodes)  # a stacked run evaluates its whole stack
    if space_meta(envs) != meta["spaces"]:
        raise ValueError(f"{args.run_dir} was trained on spaces {meta['spaces']}, but {cfg.env} now has "
                         f"{space_meta(envs)}")
    try:
        res = evaluate(agent, envs, args.seed, args.device, deterministic=not args.stochastic)
        rets = res.returns
    finally:
        envs.close()
    print(f"mean return over {args.episodes} episodes x {cfg.skills} skill(s) on {cfg.env}: {rets.mean():.2f}")
    final = _final_info(res.final_infos)
    if final:
        print("at the episodes' last step (mean ± std over episodes and skills): "
              + ", ".join(f"{k} {v['mean']:.4g} ± {v['std']:.4g}" for k, v in final.items()))
    print(json.dumps({"env": cfg.env, "episodes": args.episodes, "mean_return": float(rets.mean()),
                      "per_skill": rets.mean(1).tolist(), "tasks": cfg.task_kwargs(),
                      "stacked_on": cfg.stack_on or None, "resample": args.resample or None,
                      **_success(res.final_infos), "final_info": final}))


def _final_info(final_infos: list[list[dict]]) -> dict[str, dict[str, object]]:
    """Mean, std (population), min and max over all episodes, and the per-skill means, of every finite real
    scalar that the env's last ``info`` of every episode reports: the pusher's ``goal_distance`` (the
    original's ``FinalGoalDistance{Avg,Std,Min,Max}``) and ``arm_distance``, a maze's ``goal_distance``.
    Booleans (``success``: :func:`_success`), arrays and strings are left out."""
    import numpy as np

    def real(x: object) -> bool:
        if np.ndim(x) != 0:
            return False
        kind = np.asarray(x).dtype.kind  # "b" for booleans: not a real scalar here
        return kind in "iuf" and bool(np.isfinite(float(x)))  # type: ignore[arg-type]

    rows = [info for row in final_infos for info in row]
    if not rows:
        return {}
    out: dict[str, dict[str, object]] = {}
    for key in rows[0]:
        if all(key in info and real(info[key]) for info in rows):
            v = np.array([[float(info[key]) for info in row] for row in final_infos])
            out[key] = {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()),
                        "per_skill": v.mean(1).tolist()}
    return out


def _success(final_infos: list[list[dict]]) -> dict[str, object]:
    """``success_rate`` per skill, for envs whose info reports ``success`` (mazes, goals)."""
    if not all("success" in info for row in final_infos for info in row):
        return {}
    rates = [float(sum(bool(i["success"]) for i in row) / len(row)) for row in final_infos]
    return {"success_rate": float(sum(rates) / len(rates)), "success_rate_per_skill": rates}


def _plot(args: PlotArgs) -> None:
    from softskills.skills.plot import plot_runs

    path = plot_runs(list(args.run_dirs), args.out or None, args.keys)
    print(json.dumps({"png": str(path)}))


def _plot_multigoal(args: PlotMultiGoalArgs) -> None:
    import torch

    from softskills.envs.plot_multigoal import plot_multigoal
    from softskills.skills.loading import load_agent

    agent, cfg = load_agent(args.run_dir, args.device)
    if cfg.env != "softskills/MultiGoal-v0":
        raise ValueError(f"plot-multigoal needs a softskills/MultiGoal-v0 run, but {args.run_dir} trained on {cfg.env}")
    if not 0 <= args.skill < cfg.skills:
        raise ValueError(f"--skill {args.skill} is out of range: the run has {cfg.skills} skill(s)")
    out = args.out or str(Path(args.run_dir) / "multigoal.png")
    with torch.no_grad():
        stats = plot_multigoal(agent, out, n_paths=args.paths, seed=args.seed, skill=args.skill)
    print(f"{stats['goals_reached']} of 4 goals reached over {args.paths} sampled paths; wrote {out}")
    print(json.dumps({"png": out, **stats}))


def _workflow(args: object, argv: list[str] | None) -> None:
    """``pretrain``, ``stack``, ``compose`` and ``demo``: print their JSON line (``pretrain --ray``: exit 1 if a task failed)."""
    import shlex

    from softskills.workflows import LibraryComposeArgs, PretrainArgs, StackArgs, run_compose_command, run_pretrain
    from softskills.workflows import run_stack
    from softskills.workflows.demo import run_demo

    command = shlex.join(["softskills", *(sys.argv[1:] if argv is None else argv)])
    if isinstance(args, PretrainArgs):
        res = run_pretrain(args, command)
    elif isinstance(args, StackArgs):
        res = run_stack(args, command)
    elif isinstance(args, LibraryComposeArgs):
        res = run_compose_command(args, command)
    else:
        res = run_demo(args)  # type: ignore[arg-type]
    print(json.dumps(res, default=str))
    if res.get("failed"):
        for name, why in res["failed"].items():
            print(f"softskills: error: skill {name!r} failed: {why}", file=sys.stderr)
        print(f"softskills: kept {res.get('skills')}; failed {sorted(res['failed'])}", file=sys.stderr)
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``softskills`` console script."""
    from softskills.library import LibraryError
    from softskills.skills.checkpoint import CheckpointError

    from softskills.compose.runs import BoundsArgs, run_bounds
    from softskills.workflows import LibraryComposeArgs, PretrainArgs, StackArgs
    from softskills.workflows.demo import DemoArgs

    cmds = {"train": TrainConfig, "eval": EvalArgs, "plot": PlotArgs, "plot-multigoal": PlotMultiGoalArgs,
            "compose": LibraryComposeArgs, "bounds": BoundsArgs, "library": LibraryArgs, "pretrain": PretrainArgs,
            "stack": StackArgs, "demo": DemoArgs}
    try:
        args = tyro.extras.subcommand_cli_from_dict(
            cmds, args=argv, prog="softskills",
            description="softskills: maximum-entropy skills on one SAC/SQL core.",
        )
        if isinstance(args, (PretrainArgs, StackArgs, LibraryComposeArgs, DemoArgs)):
            _workflow(args, argv)
        elif isinstance(args, TrainConfig):
            _train(args)
        elif isinstance(args, EvalArgs):
            _eval(args)
        elif isinstance(args, PlotMultiGoalArgs):
            _plot_multigoal(args)
        elif isinstance(args, BoundsArgs):
            print(json.dumps(run_bounds(args)))
        elif isinstance(args, LibraryArgs):
            _library(args)
        else:
            _plot(args)
    except (ValueError, CheckpointError, FloatingPointError, FileNotFoundError, LibraryError) as e:
        print(f"softskills: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
