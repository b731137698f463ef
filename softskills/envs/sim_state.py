"""Exact save and restore of a MuJoCo env's simulator data, for lookahead planners and probes."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

__all__ = ["save_sim_state", "restore_sim_state"]


def save_sim_state(env: Any) -> mujoco.MjData:
    """A copy of the whole ``MjData`` of ``env.unwrapped``.

    ``qpos`` and ``qvel`` alone (Gymnasium's ``set_state``) do not make a rollout repeat: the
    solver's warm start is missing, and so are the contact forces ``cfrc_ext`` in the Ant's
    observation, which Ant-v5 computes after the step from the step's own constraint forces, so
    that no ``mj_forward`` at the restored state gives them back. A copy of the data has all of it.
    """
    u = env.unwrapped
    snapshot = mujoco.MjData(u.model)
    mujoco.mj_copyData(snapshot, u.model, u.data)
    return snapshot


def restore_sim_state(env: Any, state: mujoco.MjData) -> np.ndarray:
    """Restore :func:`save_sim_state` and return the env's observation there.

    The env's own bookkeeping (time limit, RNG) is not touched.
    """
    u = env.unwrapped
    if not isinstance(state, mujoco.MjData):
        raise TypeError(f"expected the MjData of save_sim_state, got {type(state).__name__}")
    sizes = lambda d: (d.qpos.size, d.qvel.size, d.act.size, d.xpos.shape[0])  # noqa: E731
    if sizes(state) != sizes(u.data):
        raise ValueError(f"the saved state is of another model: (nq, nv, na, nbody) {sizes(state)} against "
                         f"this env's {sizes(u.data)}")
    mujoco.mj_copyData(u.data, u.model, state)
    return u._get_obs()
