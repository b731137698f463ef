"""Record where the plain envs under a hierarchy go, at every env step (for trajectory plots)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

import numpy as np

from softskills.skills.vec import SkillEnvs, StepResult

__all__ = ["PathRecorder", "plain_envs"]


def plain_envs(envs: Any) -> SkillEnvs:
    """The :class:`SkillEnvs` under any number of latent-action layers (each keeps it as ``.base``)."""
    while hasattr(envs, "base"):
        envs = envs.base
    return envs


class PathRecorder:
    """Records a slice of each plain env's observation after every env step, while in a ``with`` block.

    A high level acts once per ``repeat`` env steps, so its own observations miss the steps between;
    this wraps the plain envs' ``step`` instead. A path holds the observation after each step, not the
    reset observation before the first. Only active envs are recorded, so an evaluation's path
    ``(k, e)`` ends with its episode (the final observation, not the reset that follows). The envs'
    own ``step`` is back when the block ends, also on an exception. A recorder is used for one block
    (entering it again is refused, so two blocks cannot mix their paths).

    Args:
        envs: a :class:`SkillEnvs` or a stack of latent-action layers over one.
        columns: which observation entries to keep, e.g. ``slice(2, 4)`` for the point maze's xy.

    Example:
        >>> with PathRecorder(envs, slice(2, 4)) as rec:  # doctest: +SKIP
        ...     evaluate(agent, envs, seed=0)
        >>> rec.paths(0)[e]  # (steps, 2): episode e of skill 0  # doctest: +SKIP
    """

    def __init__(self, envs: Any, columns: slice) -> None:
        self.base = plain_envs(envs)
        self.columns = columns
        self._steps: list[list[list[np.ndarray]]] = [
            [[] for _ in range(self.base.num_envs)] for _ in range(self.base.num_skills)
        ]
        self._own: Any = None
        self._original: Callable[..., StepResult] = self.base.step
        self._used = False

    def _step(self, actions: np.ndarray, active: np.ndarray | None = None) -> StepResult:
        res = self._original(actions, active)
        for k, row in enumerate(self._steps):
            for i, path in enumerate(row):
                if active is None or active[k, i]:
                    path.append(res.final_obs[k, i, self.columns].copy())
        return res

    def __enter__(self) -> PathRecorder:
        if self._used:
            raise RuntimeError("a PathRecorder records one with-block; make a new one for another")
        self._used = True
        self._own = vars(self.base).get("step")  # an instance's own step, if something set one
        self._original = self.base.step
        self.base.step = self._step  # type: ignore[method-assign]
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._own is None:
            del self.base.step  # back to the class's own method
        else:
            self.base.step = self._own  # type: ignore[method-assign]

    def paths(self, skill: int = 0) -> list[np.ndarray]:
        """Skill ``skill``'s recorded paths, one ``(steps, width)`` array per env."""
        width = len(range(*self.columns.indices(self.base.obs_dim)))
        return [np.array(p).reshape(len(p), width) for p in self._steps[skill]]
