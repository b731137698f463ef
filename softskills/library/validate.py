"""Checks of what ``SkillLibrary.add`` is given: tags, kind, composition weights, and a lower layer's policy."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from softskills.library.errors import LibraryError
from softskills.library.record import KINDS, check_name

__all__ = ["check_tags", "infer_kind", "check_weights", "same_policy"]


def check_tags(tags: Iterable[str], name: str) -> list[str]:
    """The sorted, deduplicated tags of skill ``name``; each must be a non-empty printable string."""
    if isinstance(tags, str):
        raise LibraryError(f"skill {name!r}: tags must be a list of strings, not the string {tags!r}")
    out = list(tags)
    for t in out:
        if not isinstance(t, str) or not t or not t.isprintable():
            raise LibraryError(f"skill {name!r}: invalid tag {t!r} (tags are non-empty printable strings)")
    return sorted(set(out))


def infer_kind(name: str, kind: str | None, lower_ref: str, composed_from: Mapping[str, float] | None,
               meta: dict[str, Any]) -> str:
    """The kind of skill ``name``: ``stacked`` if its run was trained on a lower run (``lower_ref``),
    ``composed`` if ``composed_from`` is given (required for a composed run), else ``primitive``;
    a ``kind`` given by the caller must agree."""
    composed = composed_from is not None or bool((meta.get("run_info") or {}).get("composed_q"))
    inferred = "stacked" if lower_ref else "composed" if composed else "primitive"
    if kind is not None and kind not in KINDS:
        raise LibraryError(f"skill {name!r}: unknown kind {kind!r} (expected one of {KINDS})")
    if lower_ref and composed_from is not None:
        raise LibraryError(f"skill {name!r}: the run is stacked (on {lower_ref}); it cannot also be composed_from")
    if kind is not None and kind != inferred:
        raise LibraryError(f"skill {name!r}: kind {kind!r} was given, but the run is {inferred}"
                           + (f" (trained stacked on {lower_ref})" if lower_ref else ""))
    if inferred == "composed" and composed_from is None:
        raise LibraryError(f"skill {name!r} is a composed run: pass composed_from={{constituent: weight}}")
    return inferred


def check_weights(name: str, composed_from: Mapping[str, float] | None) -> dict[str, float]:
    """``{constituent: weight}`` of composed skill ``name``: valid names, positive finite weights."""
    if not isinstance(composed_from, Mapping) or not composed_from:
        raise LibraryError(f"composed skill {name!r} needs composed_from, a non-empty dict of constituent -> weight")
    out = {}
    for part, w in composed_from.items():
        check_name(part, f"constituent of skill {name!r}")
        if part == name:
            raise LibraryError(f"composed skill {name!r} cannot be composed from itself")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            raise LibraryError(f"composed skill {name!r}: the weight of {part!r} must be a positive finite "
                               f"number, got {w!r}")
        out[part] = float(w)
    return out


def same_policy(a: dict[str, Tensor], b: dict[str, Tensor]) -> bool:
    """Whether two checkpoints' policy tensors (``agent/policy.*``) are equal bit for bit."""
    pa = {k: v for k, v in a.items() if k.startswith("agent/policy.")}
    pb = {k: v for k, v in b.items() if k.startswith("agent/policy.")}
    return bool(pa) and pa.keys() == pb.keys() and all(
        pa[k].dtype == pb[k].dtype and torch.equal(pa[k], pb[k]) for k in pa)
