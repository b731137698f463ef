"""Offline composition of trained runs: ``softskills compose`` and ``softskills bounds`` (thesis ch. 6).

:func:`compose_runs` loads the constituents' run directories *with their replay buffers*, builds
``Q_Sigma`` (:class:`~softskills.compose.composed.ComposedQ`) from their critics and the union of
their buffers (:class:`~softskills.compose.union.UnionBuffer`), extracts a policy offline
(:func:`~softskills.compose.extract.extract_policy`; no environment is built or stepped) and
writes a run directory that ``load_run`` and ``softskills eval`` read like any trained run.
:func:`bounds_report` fits the composition bounds on the union buffer
(:mod:`softskills.compose.bounds`) and returns their per-state statistics as JSON.

The composed run directory holds one checkpoint (the safe format of
:mod:`softskills.skills.checkpoint`):

* ``agent/...``: a K = 1 SAC (``--method sac``) or SQL (``--method svgd``) agent whose policy is the
  extracted one; its temperature is the composition's ``alpha``. Its own critic is a **zero
  placeholder** (every weight 0); the composed Q is
* ``composed/<i>/...``: constituent ``i``'s critic reduced to the composed skill (a K = 1 TwinQ);
  :func:`load_composed` rebuilds the :class:`ComposedQ`;
* meta ``config`` (the env and the composed task's env kwargs, e.g. the pusher goal ``(-1, -1)``
  from ``(-1, None)`` and ``(None, -1)``), ``spaces``, and ``run_info`` with ``composed_from``,
  ``skills``, ``weights``, ``alpha``, ``normalised``, ``method``, ``gradient_steps``,
  ``wall_time_s``, ``env_steps`` (0) and ``bounds`` (a :func:`bounds_report`, or ``None``).

There is no optimizer or trainer state: the run is for evaluation, not for ``--resume``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
import tyro
from torch import Tensor, nn

from softskills.compose.bounds import FitConfig, bound_statistics, fit_bounds, make_estimator, uniform_actions
from softskills.compose.composed import ComposedQ
from softskills.compose.extract import ExtractConfig, Extraction, extract_policy
from softskills.compose.union import UnionBuffer
from softskills.skills.checkpoint import CheckpointError, checkpoint_dir, load_checkpoint, save_checkpoint
from softskills.skills.config import TrainConfig
from softskills.skills.config_io import config_to_dict
from softskills.skills.critic import TwinQ
from softskills.skills.loading import load_run

__all__ = [
    "BoundsArgs",
    "ComposeArgs",
    "Constituent",
    "bounds_report",
    "compose_runs",
    "load_composed",
    "load_constituents",
    "run_bounds",
    "run_compose",
    "save_composed_run",
]


# ------------------------------------------------------------------------------------------------
# Loading the constituents
# ------------------------------------------------------------------------------------------------


@dataclass
class Constituent:
    """One skill of one trained run, with its replay buffer (where one was needed and saved).

    Attributes:
        run_dir: where it was loaded from.
        agent: the run's agent (all K skills).
        cfg: the run's config.
        meta: the checkpoint meta.
        skill: which of the run's skills is composed.
        buffer: the checkpoint's buffer tensors (``buffer/<field>``, ``(K, size, ...)``); ``None`` when loaded
            with ``require_buffer=False``.
        alpha: the skill's temperature (SAC: its learned ``exp(log_alpha)``; SQL: ``sql.alpha``).
        gamma: the run's discount.
        task: the skill's env kwargs.
    """

    run_dir: str
    agent: nn.Module
    cfg: TrainConfig
    meta: dict[str, Any]
    skill: int
    buffer: dict[str, Tensor] | None
    alpha: float
    gamma: float
    task: dict[str, Any]


def load_constituents(
    run_dirs: Sequence[str | os.PathLike[str]],
    skills: Sequence[int] | None = None,
    device: str = "cpu",
    require_buffer: bool = True,
) -> list[Constituent]:
    """Load the runs to compose, each with its replay buffer, and check that they fit together.

    ``require_buffer=False`` reads no buffer (every ``buffer`` is ``None``), so runs saved without theirs are
    accepted too: composing Q_Sigma and acting from it by resampling needs only the critics; extracting a
    policy and fitting the bounds need the transitions.

    Raises:
        ValueError: fewer than two constituents; a skill index out of range; a run saved without its
            replay buffer (named) unless ``require_buffer`` is off; runs of different env ids or spaces
            (named); a stacked run.
        CheckpointError: a run directory that holds no valid checkpoint.
    """
    if len(run_dirs) < 2:
        raise ValueError(f"composition needs at least two constituents, got {len(run_dirs)} run(s); to compose "
                         "two skills of one K = 2 run, pass it twice with skills 0 and 1")
    skills = [0] * len(run_dirs) if skills is None else [int(k) for k in skills]
    if len(skills) != len(run_dirs):
        raise ValueError(f"got {len(skills)} skill index(es) for {len(run_dirs)} run(s)")
    out: list[Constituent] = []
    for run_dir, k in zip(run_dirs, skills):
        agent, cfg, meta = load_run(run_dir, device)
        if not 0 <= k < cfg.skills:
            raise ValueError(f"{run_dir}: skill {k} is out of range, the run has {cfg.skills} skill(s)")
        if cfg.stack_on:
            raise ValueError(f"{run_dir} is a stacked (hierarchical) layer; composing stacked layers is not supported")
        buf = None
        if require_buffer:  # otherwise not even read: a pusher run's buffer is hundreds of MB
            _, _, buf = load_checkpoint(run_dir)
            if buf is None or not meta.get("buffer"):
                raise ValueError(f"{run_dir} was saved without its replay buffer (save_buffer=False): extracting a "
                                 "policy and fitting the bounds train on the constituents' transitions; retrain it "
                                 "with save_buffer=True, or compose with --steps 0 (no bounds) and act from "
                                 "exp(Q_Sigma/alpha) with softskills eval RUN --resample N")
        if cfg.algo == "sac":
            alpha, gamma = float(agent.log_alpha.detach()[k].exp()), cfg.sac.gamma
        else:
            alpha, gamma = cfg.sql.alpha, cfg.sql.gamma
        out.append(Constituent(str(run_dir), agent, cfg, meta, k, buf, alpha, gamma, cfg.task_kwargs()[k]))
    first = out[0]
    for c in out[1:]:
        if c.cfg.env != first.cfg.env:
            raise ValueError(f"the runs act in different environments: {first.run_dir} in {first.cfg.env}, "
                             f"{c.run_dir} in {c.cfg.env}; compose skills of one environment")
        if c.meta.get("spaces") != first.meta.get("spaces"):
            raise ValueError(f"the runs have different spaces: {first.run_dir} has {first.meta.get('spaces')}, "
                             f"{c.run_dir} has {c.meta.get('spaces')}")
    return out


def _buffers(parts: Sequence[Constituent]) -> list[dict[str, Tensor]]:
    """The constituents' buffer tensors, for a :class:`UnionBuffer`; they must have been loaded."""
    bufs = [c.buffer for c in parts]
    missing = [c.run_dir for c, b in zip(parts, bufs) if b is None]
    if missing:
        raise ValueError(f"loaded without their replay buffers (require_buffer=False): {missing}")
    return [b for b in bufs if b is not None]


def _weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    w = [float(x) for x in weights]
    if len(w) != n:
        raise ValueError(f"got {len(w)} weight(s) for {n} run(s); give one weight per run")
    if not all(math.isfinite(x) and x > 0.0 for x in w):
        raise ValueError(f"weights must be positive and finite, got {w}")
    return w


def _alpha(alpha: float | None, parts: Sequence[Constituent], weights: Sequence[float], notes: list[str]) -> float:
    """The composition's temperature: given, else the constituents' weighted mean (noted if they differ by > 0.1%)."""
    if alpha is not None:
        if not (math.isfinite(alpha) and alpha > 0.0):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
        return float(alpha)
    temps = [c.alpha for c in parts]
    mean = sum(w * t for w, t in zip(weights, temps)) / sum(weights)
    if not all(math.isclose(t, mean, rel_tol=1e-3) for t in temps):
        notes.append(f"the constituents' temperatures {temps} differ; alpha defaults to their weighted mean {mean:g}")
    return mean


def _merge_value(key: str, values: list[Any]) -> Any:
    """Constituents' values of one env kwarg: equal, or lists merged where the others are None ('any')."""
    if all(v == values[0] for v in values):
        return values[0]
    if all(isinstance(v, list) and len(v) == len(values[0]) for v in values):
        merged = []
        for i in range(len(values[0])):
            given = {json.dumps(v[i]) for v in values if v[i] is not None}
            if len(given) > 1:
                raise ValueError(f"the constituents' {key!r} conflict at index {i}: {values}; pass env_kwargs "
                                 "for the composed task")
            merged.append(json.loads(given.pop()) if given else None)
        return merged
    raise ValueError(f"the constituents' {key!r} differ ({values}) and cannot be merged; pass env_kwargs for the "
                     "composed task")


def _composed_task(parts: Sequence[Constituent]) -> dict[str, Any]:
    """The env kwargs of the composed task: e.g. goals ``[-1, None]`` and ``[None, -1]`` give ``[-1, -1]``.

    This is the task the composed skill is *evaluated* on (the original evaluated the pusher at
    ``goal=(-1, -1)``, originals.md §2.5); the theorems' composed reward is the mean of the
    constituents' rewards, which for the pusher sums two 1-D distances instead of one 2-D one.
    """
    keys = sorted({k for c in parts for k in c.task})
    missing = [k for k in keys if not all(k in c.task for c in parts)]
    if missing:
        raise ValueError(f"the constituents' env kwargs {missing} are set for some runs only; pass env_kwargs")
    return {k: _merge_value(k, [json.loads(json.dumps(c.task[k])) for c in parts]) for k in keys}


# ------------------------------------------------------------------------------------------------
# Bounds
# ------------------------------------------------------------------------------------------------


def _bounds(parts: Sequence[Constituent], q: ComposedQ, buffer: UnionBuffer, estimator: str,
            config: FitConfig, notes: list[str], progress: bool = False) -> dict[str, Any]:
    gammas = {c.gamma for c in parts}
    if len(gammas) != 1:
        raise ValueError(f"the runs use different discounts {sorted(gammas)}; the bounds need one gamma")
    gamma = gammas.pop()
    if not gamma < 1.0:
        raise ValueError("the bounds need gamma < 1")
    qn = q.normalised()
    temps = [c.alpha for c in parts]
    theorem = all(math.isclose(t, qn.alpha, rel_tol=1e-3) for t in temps)
    if not theorem:
        notes.append(f"the normalised temperature {qn.alpha:g} differs from the constituents' {temps}: the Q_i are "
                     "not optimal soft Q's at that temperature, so the bounds are indicative, not certificates")
    est, why = make_estimator(estimator, qn.weights, qn.alpha, [c.agent for c in parts], [c.skill for c in parts],
                              temps, seed=config.seed)
    fitted = fit_bounds(q, buffer, est, gamma, config, progress=progress)
    cands = uniform_actions(config.action_samples, q.act_dim)
    stats = bound_statistics(fitted, q, buffer, est, cands, seed=config.seed, progress=progress)
    return {
        "gamma": gamma, "estimator": est.name, "estimator_reason": why, "theorem_setting": theorem,
        "fit": {"iterations": config.iterations, "steps_per_iteration": config.steps_per_iteration,
                "gradient_steps": fitted.gradient_steps, "wall_time_s": fitted.wall_time_s,
                "action_samples": config.action_samples, "fixed_contexts": config.fixed_contexts,
                "truncation": fitted.truncation, "last_changes": fitted.changes[-3:],
                "clip_to_range": config.clip_to_range,
                "range_max": None if fitted.ranges is None else
                {"c_star": fitted.ranges[0], "d_exact": fitted.ranges[0], "d_star": fitted.ranges[1]}},
        "stats": stats,
    }


def bounds_report(
    run_dirs: Sequence[str | os.PathLike[str]],
    weights: Sequence[float] | None = None,
    *,
    skills: Sequence[int] | None = None,
    alpha: float | None = None,
    estimator: str = "auto",
    config: FitConfig | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Per-state statistics of the composition bounds over the union of the runs' buffers (JSON-able).

    The bounds are for the normalised composition (weights ``w/sum(w)`` at ``alpha/sum(w)``; see
    :mod:`softskills.compose.bounds`); ``alpha`` defaults to the constituents' common temperature.
    ``stats`` has mean/std/min/max of ``gap``, ``renyi_half`` (two runs), ``c_star``, ``d_star``,
    ``d_exact``, ``regret_lower``, ``regret_upper`` and ``q_sigma`` over the buffer's ``(s, a)``.
    No environment is built; ``env_steps`` is 0. ``progress`` shows the fit's progress bars on stderr.
    """
    config = config or FitConfig(device=device)
    parts = load_constituents(run_dirs, skills, device)
    w = _weights(weights, len(parts))
    notes: list[str] = []
    a = _alpha(alpha, parts, w, notes)
    q = ComposedQ([c.agent.critic for c in parts], w, a, [c.skill for c in parts])
    buffer = UnionBuffer(_buffers(parts), [c.skill for c in parts])
    report = _bounds(parts, q, buffer, estimator, config, notes, progress)
    qn = q.normalised()
    return {
        "runs": [c.run_dir for c in parts], "skills": [c.skill for c in parts], "weights": w, "alpha": a,
        "normalised": {"weights": list(qn.weights), "alpha": qn.alpha},
        "temperatures": [c.alpha for c in parts], **report, "env_steps": 0, "notes": notes,
    }


# ------------------------------------------------------------------------------------------------
# Composition
# ------------------------------------------------------------------------------------------------


def _has_checkpoint(path: Path) -> bool:
    try:
        checkpoint_dir(path)
    except CheckpointError:
        return False
    return True


def save_composed_run(
    out: str | os.PathLike[str], extraction: Extraction, q: ComposedQ, spaces: dict[str, Any],
    run_info: dict[str, Any],
) -> Path:
    """Write the composed run directory (see the module docstring); returns the checkpoint directory."""
    cfg = dataclasses.replace(extraction.config, out=str(out))
    tensors = {f"agent/{k}": v for k, v in extraction.agent.state_dict().items()}
    critics = []
    for i, critic in enumerate(q.critics):
        if not isinstance(critic, TwinQ):
            raise TypeError(f"composed critic #{i} is a {type(critic).__name__}; only TwinQ critics can be saved")
        tensors.update({f"composed/{i}/{k}": v for k, v in critic.state_dict().items()})
        critics.append({"obs_dim": critic.obs_dim, "act_dim": critic.act_dim,
                        "hidden": [layer.out_features for layer in critic.net.layers[:-1]]})
    info = {**run_info, "composed_q": {"weights": list(q.weights), "alpha": q.alpha, "critics": critics}}
    meta = {"config": config_to_dict(cfg), "tasks": cfg.task_kwargs(), "spaces": spaces, "step": 0,
            "num_updates": extraction.gradient_steps, "run_info": info}
    return save_checkpoint(out, tensors, meta)


def load_composed(
    run_dir: str | os.PathLike[str], device: str = "cpu"
) -> tuple[nn.Module, ComposedQ, TrainConfig, dict[str, Any]]:
    """A composed run's agent, its :class:`ComposedQ`, config and meta.

    Raises:
        CheckpointError: not a composed run, or its composed critics do not fit.
    """
    agent, cfg, meta = load_run(run_dir, device)
    spec = (meta.get("run_info") or {}).get("composed_q")
    if not spec:
        raise CheckpointError(f"{run_dir} is not a composed run (its run_info has no composed_q)")
    tensors, _, _ = load_checkpoint(run_dir)
    critics = []
    try:
        for i, c in enumerate(spec["critics"]):
            critic = TwinQ(1, int(c["obs_dim"]), int(c["act_dim"]), hidden=[int(h) for h in c["hidden"]])
            prefix = f"composed/{i}/"
            critic.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
            critics.append(critic)
        q = ComposedQ(critics, spec["weights"], float(spec["alpha"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"the composed critics in {run_dir} do not fit: {e}") from e
    return agent, q.to(device), cfg, meta


def compose_runs(
    run_dirs: Sequence[str | os.PathLike[str]],
    weights: Sequence[float] | None = None,
    method: Literal["svgd", "sac"] = "svgd",
    out: str | os.PathLike[str] = "runs/composed",
    steps: int = 10_000,
    *,
    skills: Sequence[int] | None = None,
    alpha: float | None = None,
    policy: Literal["gaussian", "realnvp"] = "gaussian",
    batch_size: int = 128,
    hidden: Sequence[int] | None = None,
    lr: float = 3e-4,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    bounds: bool = False,
    bounds_config: FitConfig | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Compose trained runs offline and write the composed run to ``out``.

    Args:
        run_dirs: the constituents' run directories (saved with their replay buffers, unless ``steps`` is 0
            and ``bounds`` is off).
        weights: one positive weight per run; ``None`` is the mean (thesis eq. 6.2); ``(1, 1)`` the
            original's sum (the mean at half the temperature).
        method: ``svgd`` (SQL's sampler, the original) or ``sac`` (the SAC policy loss).
        out: the new run directory.
        steps: policy gradient steps; 0 extracts none (act with :class:`~softskills.compose.resample.ResampledPolicy`),
            and then, without ``bounds``, the runs need not hold their replay buffers.
        skills: which skill of each run (default 0 each).
        alpha: temperature of ``exp(Q_Sigma/alpha)``; default the constituents' common one.
        policy: the ``sac`` method's policy family.
        batch_size: states per gradient step.
        hidden: the policy's hidden widths (default: the first run's).
        lr: Adam learning rate.
        seed: seed of the extraction.
        env_kwargs: the composed task's env kwargs (default: the constituents' tasks merged).
        device: torch device.
        overwrite: replace a checkpoint already in ``out``.
        bounds: also fit the bounds (:func:`bounds_report`) and store them in ``run_info``.
        bounds_config: settings of that fit.
        progress: show progress bars of the extraction (and the bounds) on stderr.

    Returns:
        JSON-able metrics: ``out``, ``method``, ``weights``, ``alpha``, ``normalised``,
        ``gradient_steps``, ``wall_time_s``, ``env_steps`` (0), ``final_loss``, the constituents'
        training cost (``constituent_env_steps``, ``constituent_updates``), ``env_kwargs``,
        ``bounds`` and ``notes``.
    """
    out = Path(out)
    if _has_checkpoint(out) and not overwrite:
        raise ValueError(f"{out} already holds a checkpoint; pass overwrite=True (--overwrite) or another out")
    needs_buffers = steps > 0 or bounds  # only the extraction and the bounds read transitions
    parts = load_constituents(run_dirs, skills, device, require_buffer=needs_buffers)
    w = _weights(weights, len(parts))
    notes: list[str] = []
    a = _alpha(alpha, parts, w, notes)
    skill_ids = [c.skill for c in parts]
    q = ComposedQ([c.agent.critic for c in parts], w, a, skill_ids)
    buffer = UnionBuffer(_buffers(parts), skill_ids) if needs_buffers else None
    task = dict(env_kwargs) if env_kwargs is not None else _composed_task(parts)
    first = parts[0].cfg
    hid = tuple(hidden) if hidden is not None else (first.sac.hidden if first.algo == "sac" else first.sql.hidden)
    base = dataclasses.replace(first, env_kwargs=json.dumps(task), tasks=(), skills=1, out=str(out))
    ext = ExtractConfig(method=method, policy=policy, steps=steps, batch_size=batch_size, lr=lr, hidden=hid,
                        seed=seed, device=device)
    spaces = parts[0].meta["spaces"]
    bounded = bool(np.all(np.isfinite(spaces["act_low"])) and np.all(np.isfinite(spaces["act_high"])))
    if steps == 0 and not bounded:
        raise ValueError("steps=0 (--steps 0) leaves a run that can act only by resampling, which needs a bounded "
                         "action space; these runs act in an unbounded one: extract a policy (steps >= 1)")
    extraction = extract_policy(q, buffer, ext, base, squash=bounded, progress=progress)
    if steps == 0:
        notes.append("--steps 0: no policy was extracted; evaluate with softskills eval RUN --resample N")
    report = None
    if bounds:
        assert buffer is not None  # needs_buffers
        report = _bounds(parts, q, buffer, "auto", bounds_config or FitConfig(device=device), notes, progress)
    qn = q.normalised()
    info = {
        "composed_from": [c.run_dir for c in parts], "skills": skill_ids, "weights": w, "alpha": a,
        "normalised": {"weights": list(qn.weights), "alpha": qn.alpha}, "method": method,
        "gradient_steps": extraction.gradient_steps, "wall_time_s": extraction.wall_time_s, "env_steps": 0,
        "bounds": report,
    }
    save_composed_run(out, extraction, q, spaces, info)
    return {
        "out": str(out), **{k: info[k] for k in ("method", "weights", "alpha", "normalised")},
        "gradient_steps": extraction.gradient_steps, "wall_time_s": extraction.wall_time_s, "env_steps": 0,
        "final_loss": extraction.losses[-1][1] if extraction.losses else None,
        "constituent_env_steps": [int(c.meta.get("step", 0)) for c in parts],
        "constituent_updates": [int(c.meta.get("num_updates", 0)) for c in parts],
        "env_kwargs": task, "bounds": report, "notes": notes,
    }


# ------------------------------------------------------------------------------------------------
# Command-line arguments (wired into softskills.cli)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComposeArgs:
    """Compose trained skills offline (thesis ch. 6): Q_Sigma from their critics, a policy from their buffers."""

    run_dirs: Annotated[tuple[str, ...], tyro.conf.Positional]
    """The constituents' run directories (trained with save_buffer=True; with ``--steps 0`` and no ``--bounds``
    their buffers are not needed)."""
    out: str = "runs/composed"
    """The composed run directory (evaluate it with ``softskills eval``)."""
    weights: tuple[float, ...] = ()
    """One positive weight per run; empty: the mean (thesis eq. 6.2). ``1 1`` is the original's sum,
    the mean at half the temperature (a sharper policy)."""
    method: Literal["svgd", "sac"] = "svgd"
    """``svgd``: SQL's amortised sampler (the original); ``sac``: the SAC policy loss."""
    policy: Literal["gaussian", "realnvp"] = "gaussian"
    """Policy family of ``--method sac``."""
    steps: int = 10_000
    """Policy gradient steps (the original: 10k). 0 extracts no policy: evaluate the run with
    ``softskills eval RUN --resample N``, which acts from exp(Q_Sigma/alpha) itself."""
    skills: tuple[int, ...] = ()
    """Which skill of each run; empty: skill 0 of each."""
    alpha: float | None = None
    """Temperature of exp(Q_Sigma/alpha); default: the constituents' common temperature."""
    batch_size: int = 128
    """States per gradient step."""
    lr: float = 3e-4
    """Adam learning rate."""
    seed: int = 0
    """Seed of the extraction."""
    env_kwargs: str = ""
    """The composed task's env kwargs as JSON (default: the constituents' tasks merged)."""
    device: str = "cpu"
    """Torch device."""
    overwrite: bool = False
    """Replace a checkpoint already in ``out``."""
    bounds: bool = False
    """Also fit the composition bounds and store them in the run's meta."""
    progress: bool = True
    """Show progress bars on stderr: the extraction's gradient steps, and the bounds' stages where they are
    fitted (``--bounds``, and always with ``--library``)."""


@dataclass(frozen=True)
class BoundsArgs:
    """Fit the composition bounds (Lemma 5, Theorem 3) on the runs' buffers and print their statistics."""

    run_dirs: Annotated[tuple[str, ...], tyro.conf.Positional]
    """The constituents' run directories (trained with save_buffer=True)."""
    weights: tuple[float, ...] = ()
    """One positive weight per run; empty: the mean. Bounds are for the normalised weights."""
    skills: tuple[int, ...] = ()
    """Which skill of each run; empty: skill 0 of each."""
    alpha: float | None = None
    """Temperature of the weighted sum; default: the constituents' common temperature."""
    estimator: Literal["auto", "gaussian", "mc", "soft_values"] = "auto"
    """Estimator of the per-state divergence term."""
    fit: FitConfig = dataclasses.field(default_factory=FitConfig)
    """Fitted-iteration settings."""
    out: str = ""
    """Also write the report to this JSON file."""
    progress: bool = True
    """Show progress bars on stderr while the contexts, the iterations and the statistics are computed."""


def run_compose(args: ComposeArgs) -> dict[str, Any]:
    """``softskills compose``: :func:`compose_runs` with the CLI's arguments; returns its metrics."""
    kwargs = json.loads(args.env_kwargs) if args.env_kwargs else None
    if kwargs is not None and not isinstance(kwargs, dict):
        raise ValueError(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}")
    return compose_runs(
        list(args.run_dirs), list(args.weights) or None, args.method, args.out, args.steps,
        skills=list(args.skills) or None, alpha=args.alpha, policy=args.policy, batch_size=args.batch_size,
        lr=args.lr, seed=args.seed, env_kwargs=kwargs, device=args.device, overwrite=args.overwrite,
        bounds=args.bounds, progress=args.progress,
    )


def run_bounds(args: BoundsArgs) -> dict[str, Any]:
    """``softskills bounds``: :func:`bounds_report` with the CLI's arguments; returns the report."""
    report = bounds_report(list(args.run_dirs), list(args.weights) or None, skills=list(args.skills) or None,
                           alpha=args.alpha, estimator=args.estimator, config=args.fit, device=args.fit.device,
                           progress=args.progress)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return report
