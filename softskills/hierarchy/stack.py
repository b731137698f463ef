"""Stacking layers: the envs of a stacked run, its trainer, and thesis Algorithm 4 (stagewise training)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from softskills.envs.ant_velocity import FRAME_SKIP
from softskills.hierarchy.adapter import ObsAdapter, ObsSlice, adapter_from_spec
from softskills.hierarchy.layer import FrozenLayer, check_invertible
from softskills.hierarchy.policy import HierarchicalPolicy
from softskills.hierarchy.pretrained import pretrained, pretrained_env_kwargs
from softskills.hierarchy.vec import LatentSkillEnvs
from softskills.skills.config import TrainConfig
from softskills.skills.factory import EnvFactory, default_env_factory
from softskills.skills.loading import load_run
from softskills.skills.trainer import Trainer

__all__ = ["PRETRAINED_PREFIX", "LayerSpec", "bottom_env_kwargs", "check_frame_skip", "check_lower_layers",
           "lower_layers", "stacked_env_factory", "stacked_trainer", "resume_stacked", "train_stagewise", "run_policy",
           "run_env_factory"]


PRETRAINED_PREFIX = "pretrained:"
"""``stack_on="pretrained:ant-velocity"`` stacks on a primitive shipped with the package."""


def _run_layer(run_dir: str | os.PathLike, skill: int, adapter: ObsAdapter | None) -> tuple[FrozenLayer, TrainConfig]:
    agent, cfg, meta = load_run(run_dir)
    policy = check_invertible(agent.policy, f"run {run_dir}")
    layer = FrozenLayer(policy, adapter or ObsSlice(0, policy.obs_dim), skill, source=str(run_dir))
    return layer, cfg


def lower_layers(stack_on: str | os.PathLike, skill: int = 0, adapter: ObsAdapter | None = None
                 ) -> tuple[list[FrozenLayer], list[int]]:
    """The frozen layers under a new layer stacked on run ``stack_on`` (or on a shipped primitive,
    ``"pretrained:NAME"``, see :func:`~softskills.hierarchy.pretrained.pretrained`), bottom first, and the
    ``repeat`` each of them was driven with by the layer above it (the last one is missing:
    it is the new layer's own ``repeat``)."""
    name = str(stack_on)
    if name.startswith(PRETRAINED_PREFIX):
        if skill != 0:
            raise ValueError(f"{name} has one skill; stack_skill must be 0, got {skill}")
        layer = pretrained(name[len(PRETRAINED_PREFIX):])
        if adapter is not None:
            layer = FrozenLayer(layer.policy, adapter, 0, source=layer.source)
        return [layer], []
    layer, cfg = _run_layer(stack_on, skill, adapter)
    if not cfg.stack_on:
        return [layer], []
    _, _, meta = load_run(stack_on)
    spec = (meta.get("run_info") or {}).get("lower_adapter")
    below, repeats = lower_layers(cfg.stack_on, cfg.stack_skill, adapter_from_spec(spec) if spec else None)
    return below + [layer], repeats + [cfg.repeat]


def bottom_env_kwargs(stack_on: str | os.PathLike) -> dict[str, Any]:
    """The env kwargs that the bottom layer of the stack under ``stack_on`` was trained with."""
    name = str(stack_on)
    if name.startswith(PRETRAINED_PREFIX):
        return pretrained_env_kwargs(name[len(PRETRAINED_PREFIX):])
    _, cfg, _ = load_run(stack_on)
    return bottom_env_kwargs(cfg.stack_on) if cfg.stack_on else json.loads(cfg.env_kwargs)


def check_frame_skip(cfg: TrainConfig) -> None:
    """Refuse a stack whose env would step at another control step than its bottom layer was trained at.

    The Ant envs take ``frame_skip`` (physics steps per env step); a primitive trained at one step
    and driven at another acts on dynamics it never saw. Envs without the kwarg are not checked.
    """
    below, mine = bottom_env_kwargs(cfg.stack_on), json.loads(cfg.env_kwargs)
    if "frame_skip" in below or "frame_skip" in mine:
        low, high = below.get("frame_skip", FRAME_SKIP), mine.get("frame_skip", FRAME_SKIP)
        if low != high:
            raise ValueError(f"the bottom layer under {cfg.stack_on} was trained with frame_skip={low}, but "
                             f"{cfg.env} would step with frame_skip={high}; set env_kwargs "
                             f'{{"frame_skip": {low}}} so that it acts at its own control step')


def check_lower_layers(run: str | os.PathLike, run_info: dict[str, Any] | None, layers: Sequence[FrozenLayer]) -> None:
    """Refuse to resume or evaluate a stacked run on lower layers whose weights changed since it trained.

    A stacked run records each lower layer's ``weights_sha256`` (:meth:`FrozenLayer.describe`). A
    primitive's run directory can go on training after a layer was stacked on it; the layer above
    learned to drive the old weights, so resuming or evaluating it on the new ones is another
    experiment. Runs saved before the hashes were recorded are not checked.

    Args:
        run: the stacked run's directory (for the message).
        run_info: its checkpoint's ``run_info``.
        layers: the lower layers as loaded now, bottom first.

    Raises:
        ValueError: a recorded hash differs from the loaded layer's, or the number of layers differs.
    """
    recorded = (run_info or {}).get("lower_layers") or []
    if recorded and len(recorded) != len(layers):
        raise ValueError(f"{run} was stacked on {len(recorded)} layers, but {len(layers)} load now")
    for i, (rec, layer) in enumerate(zip(recorded, layers)):
        want = rec.get("weights_sha256")
        if want is None:
            continue
        have = layer.weights_sha256()
        if have != want:
            raise ValueError(
                f"{run} was trained on lower layer {i} from {rec.get('source')} with weights sha256 {want[:12]}..., "
                f"but {layer.source} now holds weights {have[:12]}... (trained further or replaced); use the "
                "weights it was trained on (e.g. a copy of that checkpoint) or start a new run")


def stacked_env_factory(cfg: TrainConfig, layers: Sequence[FrozenLayer], repeats: Sequence[int]) -> EnvFactory:
    """``cfg``'s envs (with its tasks) wrapped by ``layers`` (bottom first) with the given repeats."""
    if len(repeats) != len(layers):
        raise ValueError(f"need one repeat per layer: {len(layers)} layers, {len(repeats)} repeats")
    base = default_env_factory(cfg)

    def make(num_envs: int) -> Any:
        envs: Any = base(num_envs)
        for layer, r in zip(layers, repeats):
            envs = LatentSkillEnvs(envs, layer, r)
        return envs

    return make


def stacked_trainer(cfg: TrainConfig, adapter: ObsAdapter | None = None) -> Trainer:
    """A :class:`Trainer` for a new layer on the run ``cfg.stack_on`` (or resuming one, with ``cfg.resume``).

    The new layer acts in the latent space of ``cfg.stack_on``'s skill ``cfg.stack_skill``,
    holding each latent for ``cfg.repeat`` env steps of ``cfg.env`` (with its tasks: each layer
    has its own env or reward). It must be a Real-NVP policy (so the stack stays invertible),
    is trained unsquashed, and uses the ``normal`` action prior (its actions are the lower
    layer's N(0, I) latents); a ``uniform`` prior in ``cfg`` is replaced, while ``none`` (no prior
    term, an ablation) is kept.

    Args:
        cfg: the new layer's config; ``stack_on`` must name a trained Real-NVP run.
        adapter: the part of ``cfg.env``'s observation the lower layer sees (default: the first
            ``obs_dim`` entries, the layout contract of the softskills envs).
    """
    if not cfg.stack_on:
        raise ValueError("stacked_trainer needs cfg.stack_on, the run directory of the lower layer")
    if cfg.algo != "sac" or cfg.policy != "realnvp":
        raise ValueError(f"a stacked layer must be SAC with a Real-NVP policy (to stay invertible), got "
                         f"algo={cfg.algo!r}, policy={cfg.policy!r}")
    if cfg.sac.action_prior == "uniform":
        cfg = dataclasses.replace(cfg, sac=dataclasses.replace(cfg.sac, action_prior="normal"))
    stack_on = cfg.stack_on if cfg.stack_on.startswith(PRETRAINED_PREFIX) else str(Path(cfg.stack_on).resolve())
    cfg = dataclasses.replace(cfg, stack_on=stack_on)
    check_frame_skip(cfg)
    layers, repeats = lower_layers(stack_on, cfg.stack_skill, adapter)
    run_info = {"stacked_on": stack_on, "stack_skill": cfg.stack_skill, "repeat": cfg.repeat,
                "lower_adapter": layers[-1].adapter.spec(), "lower_layers": [lay.describe() for lay in layers]}
    trainer = Trainer(cfg, env_factory=stacked_env_factory(cfg, layers, [*repeats, cfg.repeat]), run_info=run_info)
    if cfg.resume:
        try:
            check_lower_layers(cfg.out, trainer.resumed_run_info, layers)
        except ValueError:
            trainer.envs.close()
            raise
    return trainer


def resume_stacked(run_dir: str | os.PathLike, **overrides: Any) -> Trainer:
    """Continue a stacked run (``overrides`` as in :meth:`Trainer.resume`)."""
    _, cfg, meta = load_run(run_dir)
    spec = (meta.get("run_info") or {}).get("lower_adapter")
    cfg = dataclasses.replace(cfg, out=str(run_dir), resume=True, overwrite=False, **overrides)
    return stacked_trainer(cfg, adapter_from_spec(spec) if spec else None)


def run_env_factory(cfg: TrainConfig, run_info: dict[str, Any] | None) -> EnvFactory:
    """The envs a trained run acts in: its own env, wrapped by its lower layers if it is stacked."""
    if not cfg.stack_on:
        return default_env_factory(cfg)
    spec = (run_info or {}).get("lower_adapter")
    layers, repeats = lower_layers(cfg.stack_on, cfg.stack_skill, adapter_from_spec(spec) if spec else None)
    check_lower_layers(cfg.out, run_info, layers)
    return stacked_env_factory(cfg, layers, [*repeats, cfg.repeat])


def run_policy(run_dir: str | os.PathLike, skill: int = 0) -> HierarchicalPolicy:
    """The whole stack under (and including) a trained run as one :class:`HierarchicalPolicy`."""
    _, cfg, meta = load_run(run_dir)
    if cfg.stack_on:
        spec = (meta.get("run_info") or {}).get("lower_adapter")
        below, _ = lower_layers(cfg.stack_on, cfg.stack_skill, adapter_from_spec(spec) if spec else None)
        check_lower_layers(run_dir, meta.get("run_info"), below)
    else:
        below = []
    top, _ = _run_layer(run_dir, skill, None)
    return HierarchicalPolicy([*below, top])


@dataclass(frozen=True)
class LayerSpec:
    """One layer of :func:`train_stagewise`."""

    config: TrainConfig
    """Its training config: its own env (or task/reward), budget and output directory. For every
    layer but the first, ``repeat`` is its control interval."""
    adapter: ObsAdapter | None = None
    """For every layer but the first: what the layer below sees of this layer's env observation
    (default: the first ``obs_dim`` entries)."""


def train_stagewise(layers: Sequence[LayerSpec]) -> HierarchicalPolicy:
    """Thesis Algorithm 4: train layer 0 on its env, freeze it, embed it in the next layer's env,
    train layer 1 in its latent space, and so on; returns the stack as one policy.

    Every layer is a Real-NVP SAC run in its own directory; layer i > 0 records that it is
    stacked on layer i - 1, so ``softskills eval`` runs the whole stack from the top run.
    """
    if not layers:
        raise ValueError("train_stagewise needs at least one layer")
    first = layers[0].config
    if first.policy != "realnvp" or first.algo != "sac":
        raise ValueError("layer 0 must be SAC with a Real-NVP policy, so that layers can be stacked on it")
    Trainer(first).train()
    below = first.out
    for spec in layers[1:]:
        cfg = dataclasses.replace(spec.config, stack_on=below, stack_skill=0)
        stacked_trainer(cfg, spec.adapter).train()
        below = cfg.out
    return run_policy(below)
