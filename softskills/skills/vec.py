"""Gymnasium vector environments for the trainer: validation, action scaling, autoreset, state."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import TimeLimit

__all__ = [
    "check_env_id",
    "make_vec_env",
    "make_env",
    "scale_action",
    "final_observations",
    "get_env_state",
    "set_env_state",
    "space_meta",
]


def check_env_id(env_id: str) -> gym.Env:
    """Make one env, or raise a clear error: unknown id, non-Box or unbounded action space."""
    if env_id.startswith("softskills/"):
        import softskills.envs  # noqa: F401  (registers the namespace)
    try:
        env = gym.make(env_id)
    except gym.error.Error as e:
        raise ValueError(f"unknown or unavailable environment id {env_id!r}: {e}") from e
    _check_spaces(env_id, env)
    return env


def _check_spaces(env_id: str, env: gym.Env) -> None:
    a, o = env.action_space, env.observation_space
    if not isinstance(a, gym.spaces.Box):
        raise ValueError(f"{env_id}: softskills needs a continuous Box action space, got {type(a).__name__}")
    if not (np.all(np.isfinite(a.low)) and np.all(np.isfinite(a.high))):
        raise ValueError(f"{env_id}: the action space must be bounded, got low={a.low}, high={a.high}")
    if not isinstance(o, gym.spaces.Box) or len(o.shape) != 1:
        raise ValueError(f"{env_id}: softskills needs a flat Box observation space, got {o}")


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` with the softskills namespace registered."""
    if env_id.startswith("softskills/"):
        import softskills.envs  # noqa: F401
    return gym.make(env_id, **kwargs)


def make_vec_env(env_id: str, num_envs: int, seed: int) -> SyncVectorEnv:
    """A synchronous vector env in SAME_STEP autoreset mode, reset with ``seed`` (sub-env i gets seed+i).

    SAME_STEP puts the true final observation of an ended episode in ``info["final_obs"]`` and
    returns the reset observation at once, so no transition ever crosses a reset boundary.
    """
    envs = SyncVectorEnv(
        [lambda: make_env(env_id) for _ in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP
    )
    # The trainer's transition bookkeeping is written for SAME_STEP; refuse anything else.
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    _check_spaces(env_id, envs.envs[0])
    envs.reset(seed=seed)
    return envs


def scale_action(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map a policy action in ``[-1, 1]`` to the box ``[low, high]`` (clipped)."""
    return np.clip(low + (action + 1.0) * 0.5 * (high - low), low, high)


def final_observations(next_obs: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
    """The true ``s'`` of each sub-env: the final observation where an episode just ended."""
    real = next_obs.copy()
    if "_final_obs" in infos:
        for i in np.flatnonzero(infos["_final_obs"]):
            real[i] = infos["final_obs"][i]
    return real


def _time_limit(env: gym.Env) -> TimeLimit | None:
    w: Any = env
    while w is not None:
        if isinstance(w, TimeLimit):
            return w
        w = getattr(w, "env", None)
    return None


def get_env_state(env: gym.Env) -> dict[str, Any] | None:
    """A JSON-able snapshot of an env's simulator state, RNG and time-limit counter.

    Supported: MuJoCo envs (qpos, qvel, act, time) and envs whose ``unwrapped.state`` is an
    array (classic control, our MultiGoal). Returns ``None`` for anything else, and a resumed
    run then starts fresh episodes for that env.
    """
    u = env.unwrapped
    state: dict[str, Any] = {"np_random": u.np_random.bit_generator.state}
    tl = _time_limit(env)
    if tl is not None:
        state["elapsed_steps"] = int(tl._elapsed_steps or 0)
    data = getattr(u, "data", None)
    if data is not None and hasattr(data, "qpos"):
        state["mujoco"] = {
            "qpos": data.qpos.tolist(), "qvel": data.qvel.tolist(), "act": data.act.tolist(), "time": float(data.time)
        }
    elif isinstance(getattr(u, "state", None), np.ndarray):
        state["state"] = u.state.tolist()
    else:
        return None
    return state


def set_env_state(env: gym.Env, state: dict[str, Any]) -> None:
    """Restore a snapshot from :func:`get_env_state`."""
    u = env.unwrapped
    u.np_random.bit_generator.state = state["np_random"]
    tl = _time_limit(env)
    if tl is not None and "elapsed_steps" in state:
        tl._elapsed_steps = state["elapsed_steps"]
    if "mujoco" in state:
        import mujoco

        m = state["mujoco"]
        u.data.qpos[:] = m["qpos"]
        u.data.qvel[:] = m["qvel"]
        if len(m["act"]):
            u.data.act[:] = m["act"]
        u.data.time = m["time"]
        mujoco.mj_forward(u.model, u.data)
    else:
        u.state = np.asarray(state["state"], dtype=u.state.dtype)


def space_meta(env: gym.Env) -> dict[str, Any]:
    """Observation and action spaces as JSON (shape, bounds), for checkpoint compatibility checks."""
    o, a = env.observation_space, env.action_space
    return {
        "obs_shape": list(o.shape),
        "act_shape": list(a.shape),
        "act_low": np.asarray(a.low, dtype=float).tolist(),
        "act_high": np.asarray(a.high, dtype=float).tolist(),
    }
