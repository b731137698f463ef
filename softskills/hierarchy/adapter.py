"""Observation adapters: what part of the environment's observation a lower layer sees.

A frozen lower layer was trained on its own env (e.g. ``AntVelocity``), whose observation is
a prefix or a function of the upper task's observation (e.g. ``AntCrossMaze`` appends the
position). The adapter is explicit and named; no private env attribute is ever read
(originals.md §1.7: the original sliced ``obs[:Ds_low]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ObsAdapter", "ObsSlice", "ObsFunction", "adapter_from_spec"]


@dataclass(frozen=True)
class ObsSlice:
    """``obs[..., start:stop]``: the lower layer sees a contiguous slice of the observation."""

    start: int
    """First index."""
    stop: int
    """One past the last index."""

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop:
            raise ValueError(f"an observation slice needs 0 <= start < stop, got [{self.start}:{self.stop}]")

    @property
    def out_dim(self) -> int:
        """Width of the adapted observation."""
        return self.stop - self.start

    def check(self, obs_dim: int) -> None:
        """Raise a clear error if the slice does not fit an observation of width ``obs_dim``."""
        if self.stop > obs_dim:
            raise ValueError(f"observation adapter {self.name} needs at least {self.stop} observation entries, "
                             f"but the env's observation has {obs_dim}")

    @property
    def name(self) -> str:
        """A readable name, e.g. ``obs[0:2]``."""
        return f"obs[{self.start}:{self.stop}]"

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return obs[..., self.start:self.stop]

    def spec(self) -> dict[str, Any]:
        """JSON description (stored in checkpoints)."""
        return {"kind": "slice", "start": self.start, "stop": self.stop}


@dataclass(frozen=True)
class ObsFunction:
    """Any named function of the observation (cannot be saved to a checkpoint)."""

    fn: Callable[[np.ndarray], np.ndarray]
    """Maps observations ``(..., obs_dim)`` to ``(..., out_dim)``."""
    out_dim: int
    """Width of the adapted observation."""
    name: str = "function"
    """A readable name for error messages."""

    def check(self, obs_dim: int) -> None:
        """Apply the function to a zero observation and check its width."""
        width = np.asarray(self.fn(np.zeros((1, obs_dim)))).shape[-1]
        if width != self.out_dim:
            raise ValueError(f"observation adapter {self.name} returns {width} entries, declared {self.out_dim}")

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(obs))

    def spec(self) -> dict[str, Any]:
        raise ValueError(f"observation adapter {self.name} is a Python function and cannot be stored; "
                         "use an ObsSlice to save or export this layer")


ObsAdapter = ObsSlice | ObsFunction


def adapter_from_spec(spec: dict[str, Any]) -> ObsSlice:
    """Inverse of ``ObsSlice.spec``."""
    if not isinstance(spec, dict) or spec.get("kind") != "slice":
        raise ValueError(f"unknown observation adapter spec {spec!r}")
    return ObsSlice(int(spec["start"]), int(spec["stop"]))
