"""Turning a trained run's checkpoint into a library skill: what is kept, and which references are rewritten.

The library copy keeps the agent (policy, Q-functions, temperature: ``agent/...``) and any other
model tensors (e.g. a composed run's ``composed/...`` critics), but not the optimizer, RNG or trainer
state of the run (``optim/``, ``rng/``, ``trainer/``), nor its replay buffer unless asked (offline
composition needs the constituents' buffers). Its meta keeps ``config``, ``tasks``, ``spaces``,
``step``, ``num_updates``, ``last_eval`` and ``run_info`` (and ``buffer`` with the buffer), and adds
``library`` (the skill's name, kind, uid, lineage, tags, command and provenance).

Paths to other runs are replaced by references ``library:<skill>`` (a stacked skill's
``config.stack_on``, ``run_info.stacked_on`` and ``run_info.lower_layers[*].source``; a composed
skill's ``run_info.composed_from``), so nothing in a library points outside it and moving the
library breaks nothing. The originals are kept under ``library.source_refs``.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
from torch import Tensor

from softskills.library.errors import LibraryError

__all__ = ["REF_PREFIX", "DROPPED_PREFIXES", "library_ref", "skill_tensors", "lower_reference", "node_attrs",
           "library_meta", "point_at_paths"]

REF_PREFIX = "library:"
"""Prefix of a reference to another skill of the same library in a library copy's meta."""
DROPPED_PREFIXES = ("optim/", "rng/", "trainer/")
"""Tensor prefixes of training state that a library copy leaves out."""
_KEPT_META = ("config", "tasks", "spaces", "step", "num_updates", "last_eval", "run_info")


def library_ref(name: str) -> str:
    """The reference to skill ``name`` written in place of a run path."""
    return f"{REF_PREFIX}{name}"


def skill_tensors(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The model tensors of a run checkpoint (training state left out)."""
    return {k: v for k, v in tensors.items() if not k.startswith(DROPPED_PREFIXES)}


def lower_reference(meta: dict[str, Any]) -> str:
    """The lower run a stacked run was trained on (``""`` for a run that is not stacked)."""
    run_info = meta.get("run_info") or {}
    ref = run_info.get("stacked_on") or (meta.get("config") or {}).get("stack_on") or ""
    if not isinstance(ref, str):
        raise LibraryError(f"the run's stacked_on reference {ref!r} is not a path")
    return ref


def _finite_or_none(x: Any) -> float | None:
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return None


def node_attrs(meta: dict[str, Any], skill: str) -> dict[str, Any]:
    """The graph attributes of a skill read from its run's checkpoint meta (without tags and provenance).

    Raises:
        LibraryError: the meta lacks ``config`` or ``spaces``, or they are malformed.
    """
    cfg, spaces = meta.get("config"), meta.get("spaces")
    if not isinstance(cfg, dict) or not isinstance(spaces, dict):
        raise LibraryError(f"skill {skill!r}: the run's checkpoint has no config or spaces record")
    try:
        env_kwargs = json.loads(cfg.get("env_kwargs") or "{}")
        obs_dim, act_dim = int(np.prod(spaces["obs_shape"])), int(np.prod(spaces["act_shape"]))
        attrs = {
            "env": str(cfg["env"]), "env_kwargs": env_kwargs, "tasks": list(meta.get("tasks") or []),
            "algo": str(cfg["algo"]), "policy": str(cfg["policy"]), "num_skills": int(cfg.get("skills", 1)),
            "obs_dim": obs_dim, "act_dim": act_dim,
            "spaces": {k: spaces[k] for k in ("obs_shape", "act_shape", "act_low", "act_high")},
            "steps": int(meta.get("step", 0)), "last_eval": _finite_or_none(meta.get("last_eval")),
        }
    except (KeyError, TypeError, ValueError) as e:
        raise LibraryError(f"skill {skill!r}: the run's config or spaces record is malformed ({e})") from e
    if not isinstance(env_kwargs, dict):
        raise LibraryError(f"skill {skill!r}: the run's env_kwargs {cfg.get('env_kwargs')!r} is not a JSON object")
    return attrs


def library_meta(meta: dict[str, Any], library: dict[str, Any], lower_chain: list[str],
                 constituents: list[str], keep_buffer: bool = False) -> dict[str, Any]:
    """The meta of a library copy: the run's model-relevant meta with run paths rewritten, plus ``library``.

    Args:
        meta: the run's checkpoint meta.
        library: the ``library`` section (name, kind, uid, tags, command, ...).
        lower_chain: for a stacked skill, the skills under it, bottom first (its direct lower layer last).
        constituents: for a composed skill, its constituents in the order given.
        keep_buffer: keep the ``buffer`` meta (the buffer tensors are kept with it).
    """
    out = {k: copy.deepcopy(meta[k]) for k in (*_KEPT_META, *(("buffer",) if keep_buffer else ())) if k in meta}
    refs: dict[str, Any] = {}
    cfg, run_info = out.get("config") or {}, out.get("run_info")
    run_info = run_info if isinstance(run_info, dict) else {}
    if lower_chain:
        refs["stack_on"], refs["stacked_on"] = cfg.get("stack_on"), run_info.get("stacked_on")
        cfg["stack_on"] = library_ref(lower_chain[-1])
        if "stacked_on" in run_info:
            run_info["stacked_on"] = library_ref(lower_chain[-1])
        layers = run_info.get("lower_layers")
        if isinstance(layers, list) and len(layers) == len(lower_chain):
            refs["lower_layers"] = [lay.get("source") if isinstance(lay, dict) else None for lay in layers]
            for lay, lower in zip(layers, lower_chain):
                if isinstance(lay, dict):
                    lay["source"] = library_ref(lower)
    parts = run_info.get("composed_from")
    if constituents and isinstance(parts, list) and len(parts) == len(constituents):
        refs["composed_from"] = parts
        run_info["composed_from"] = [library_ref(c) for c in constituents]
    out["library"] = {**library, "source_refs": refs}
    return out


def point_at_paths(meta: dict[str, Any], lower_paths: list[str]) -> None:
    """Make a library copy's lower-layer references absolute paths (``lower_paths``: bottom first)."""
    meta["config"]["stack_on"] = lower_paths[-1]
    run_info = meta.get("run_info")
    if isinstance(run_info, dict):
        if "stacked_on" in run_info:
            run_info["stacked_on"] = lower_paths[-1]
        layers = run_info.get("lower_layers")
        if isinstance(layers, list) and len(layers) == len(lower_paths):
            for lay, p in zip(layers, lower_paths):
                if isinstance(lay, dict):
                    lay["source"] = p
