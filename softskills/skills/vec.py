"""K x N Gymnasium environments stepped in lockstep: validation, action scaling, same-step autoreset, state.

The trainer and the evaluator see the environments of K skills through one object,
:class:`SkillEnvs`: a ``(K, N)`` grid of plain Gymnasium envs (skill k may have its own env
kwargs, its *task*), stepped with one ``(K, N, act_dim)`` action array. An episode that ends
is reset in the same step (Gymnasium's SAME_STEP autoreset): ``final_obs`` holds the true last
observation and ``obs`` the first one of the next episode, so no stored transition crosses a
reset. Layers above the core (e.g. latent-space hierarchies) wrap a ``SkillEnvs`` in an object
with the same attributes and methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import TimeLimit

__all__ = [
    "SkillEnvs",
    "StepResult",
    "check_env_id",
    "check_spaces",
    "make_env",
    "scale_action",
    "get_env_state",
    "set_env_state",
    "space_meta",
]


def check_env_id(env_id: str, **kwargs: Any) -> gym.Env:
    """Make one env, or raise a clear error: unknown id, bad kwargs, non-Box or unbounded action space."""
    env = make_env(env_id, **kwargs)
    check_spaces(env_id, env)
    return env


def check_spaces(env_id: str, env: gym.Env, bounded: bool = True) -> None:
    """Raise a clear error unless ``env`` has a flat Box observation and a (bounded) Box action space."""
    a, o = env.action_space, env.observation_space
    if not isinstance(a, gym.spaces.Box):
        raise ValueError(f"{env_id}: softskills needs a continuous Box action space, got {type(a).__name__}")
    if bounded and not (np.all(np.isfinite(a.low)) and np.all(np.isfinite(a.high))):
        raise ValueError(f"{env_id}: the action space must be bounded, got low={a.low}, high={a.high}")
    if not isinstance(o, gym.spaces.Box) or len(o.shape) != 1:
        raise ValueError(f"{env_id}: softskills needs a flat Box observation space, got {o}")


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` with a clear error (the ``softskills/`` ids are registered on ``import softskills``)."""
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.Error as e:
        raise ValueError(f"unknown or unavailable environment id {env_id!r}: {e}") from e
    except TypeError as e:
        raise ValueError(f"{env_id} does not accept the env kwargs {sorted(kwargs)}: {e}") from e


def scale_action(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map a policy action in ``[-1, 1]`` to the box ``[low, high]`` (clipped)."""
    return np.clip(low + (action + 1.0) * 0.5 * (high - low), low, high)


class StepResult(NamedTuple):
    """One lockstep step of K x N envs. Arrays have leading shape ``(K, N)``.

    Attributes:
        obs: the next observation to act on (the reset observation where an episode ended).
        final_obs: the true ``s'`` of the transition (the last observation where it ended).
        reward: rewards.
        terminated: true where ``s'`` is terminal (no bootstrap).
        done: terminated or truncated.
        infos: the envs' info dicts, ``infos[k][i]``.
    """

    obs: np.ndarray
    final_obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    done: np.ndarray
    infos: list[list[dict[str, Any]]]


class SkillEnvs:
    """A ``(K, N)`` grid of Gymnasium envs: ``N`` sub-envs for each of K skills.

    Args:
        env_fns: one env constructor per skill (a skill's task is baked into its constructor).
        num_envs: N, sub-envs per skill.
        name: a label for error messages (the env id).

    Raises:
        ValueError: the skills' envs have different observation or action spaces, or the
            spaces are not flat Boxes.
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], num_envs: int, name: str = "env") -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be positive, got {num_envs}")
        self.name = name
        self.envs = [[fn() for _ in range(num_envs)] for fn in env_fns]
        self.num_skills, self.num_envs = len(self.envs), num_envs
        first = self.envs[0][0]
        for k, row in enumerate(self.envs):
            check_spaces(name, row[0], bounded=False)
            if row[0].observation_space != first.observation_space or row[0].action_space != first.action_space:
                raise ValueError(
                    f"{name}: skill {k}'s task has observation/action spaces {row[0].observation_space}, "
                    f"{row[0].action_space}, which differ from skill 0's {first.observation_space}, "
                    f"{first.action_space}; all tasks of one run need identical spaces"
                )
        self.observation_space: gym.spaces.Box = first.observation_space
        self.action_space: gym.spaces.Box = first.action_space
        self.obs_dim = int(np.prod(self.observation_space.shape))
        self.act_dim = int(np.prod(self.action_space.shape))
        low, high = self.action_space.low, self.action_space.high
        self.bounded = bool(np.all(np.isfinite(low)) and np.all(np.isfinite(high)))
        self._low, self._high = low.astype(np.float64), high.astype(np.float64)
        self.current_obs = np.zeros((self.num_skills, num_envs, self.obs_dim))
        """The observation each env would be acted on next (kept by :meth:`reset` and :meth:`step`;
        a resumed trainer sets it to the restored observations)."""

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        """Reset every env, env ``(k, i)`` with ``seeds[k, i]``; returns obs ``(K, N, obs_dim)``."""
        self.current_obs = np.stack([np.stack([np.asarray(e.reset(seed=int(seeds[k, i]))[0], dtype=np.float64)
                                               for i, e in enumerate(row)]) for k, row in enumerate(self.envs)])
        return self.current_obs.copy()

    def reset_one(self, k: int, i: int) -> np.ndarray:
        """Reset env ``(k, i)`` from its own RNG (a fresh episode); returns its observation."""
        return np.asarray(self.envs[k][i].reset()[0], dtype=np.float64)

    def step(self, actions: np.ndarray, active: np.ndarray | None = None) -> StepResult:
        """Step every active env with ``actions`` ``(K, N, act_dim)``, in ``[-1, 1]`` for a bounded
        action space (scaled to the box) or as given for an unbounded one.

        Inactive envs (``active[k, i]`` false) are not stepped: their reward is 0, ``done`` is
        false and their observations are returned as NaN. An env whose episode ends is reset at once.
        """
        k_, n_ = self.num_skills, self.num_envs
        # Every env is written below unless some are inactive, whose rows must read NaN.
        make = np.empty if active is None else (lambda shape: np.full(shape, np.nan))
        obs = make((k_, n_, self.obs_dim))
        final = make((k_, n_, self.obs_dim))
        rew = np.zeros((k_, n_))
        term = np.zeros((k_, n_), dtype=bool)
        done = np.zeros((k_, n_), dtype=bool)
        infos: list[list[dict[str, Any]]] = [[{} for _ in range(n_)] for _ in range(k_)]
        # Scale and cast all K x N actions at once (elementwise: the same values as env by env).
        acts = np.asarray(actions)
        if self.bounded:
            acts = scale_action(acts, self._low, self._high)
        acts = acts.astype(self.action_space.dtype)  # a fresh array: envs may keep their action
        for k, row in enumerate(self.envs):
            for i, env in enumerate(row):
                if active is not None and not active[k, i]:
                    continue
                o, r, te, tr, info = env.step(acts[k, i])
                final[k, i] = o
                rew[k, i], term[k, i], done[k, i], infos[k][i] = r, te, te or tr, info
                obs[k, i] = self.reset_one(k, i) if (te or tr) else o
                self.current_obs[k, i] = obs[k, i]
        return StepResult(obs, final, rew, term, done, infos)

    def get_states(self) -> list[list[dict[str, Any] | None]]:
        """A JSON-able snapshot of every env (``None`` where :func:`get_env_state` has none)."""
        return [[get_env_state(e) for e in row] for row in self.envs]

    def set_states(self, states: list[list[dict[str, Any] | None]]) -> np.ndarray:
        """Restore :meth:`get_states`; returns a ``(K, N)`` mask of the envs that were restored."""
        restored = np.zeros((self.num_skills, self.num_envs), dtype=bool)
        for k, (row, row_states) in enumerate(zip(self.envs, states)):
            for i, (env, st) in enumerate(zip(row, row_states)):
                if st is not None:
                    set_env_state(env, st)
                    restored[k, i] = True
        return restored

    def close(self) -> None:
        """Close every env."""
        for row in self.envs:
            for e in row:
                e.close()


def _time_limit(env: gym.Env) -> TimeLimit | None:
    w: Any = env
    while w is not None:
        if isinstance(w, TimeLimit):
            return w
        w = getattr(w, "env", None)
    return None


def get_env_state(env: gym.Env) -> dict[str, Any] | None:
    """A JSON-able snapshot of an env's simulator state, RNG and time-limit counter.

    Supported: MuJoCo envs (MuJoCo's whole integration state, which includes the solver's warm start,
    and the body positions ``xpos`` / ``xipos`` as ``mj_step`` left them, one substep old, since
    Ant-v5 and Humanoid-v5 read them as the position before the next step; so a restored env steps
    on bit for bit), envs with public ``snapshot()`` /
    ``restore(state)`` methods (the point-mass envs), and envs whose ``unwrapped.state`` is an
    array (classic control, MultiGoal). Returns ``None`` for anything
    else (e.g. Box2D); a resumed run then starts a fresh episode in that env.
    """
    u = env.unwrapped
    state: dict[str, Any] = {"np_random": u.np_random.bit_generator.state}
    tl = _time_limit(env)
    if tl is not None:
        state["elapsed_steps"] = int(tl._elapsed_steps or 0)
    data = getattr(u, "data", None)
    if data is not None and hasattr(data, "qpos"):
        import mujoco

        full = np.empty(mujoco.mj_stateSize(u.model, mujoco.mjtState.mjSTATE_INTEGRATION))
        mujoco.mj_getState(u.model, data, full, mujoco.mjtState.mjSTATE_INTEGRATION)
        state["mujoco"] = {
            "integration": full.tolist(),  # qpos, qvel, act, time, the solver's warm start, ...: an exact resume
            # mj_step leaves the body positions of the substep before; Ant-v5 (xpos) and Humanoid-v5 (xipos)
            # read them as the position before the next step, so they are restored as they were
            "xpos": data.xpos.tolist(), "xipos": data.xipos.tolist(),
        }
    elif callable(getattr(u, "snapshot", None)) and callable(getattr(u, "restore", None)):
        state["snapshot"] = u.snapshot()
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
        if "integration" in m:  # the whole integration state, warm start included
            full = np.asarray(m["integration"], dtype=np.float64)
            mujoco.mj_setState(u.model, u.data, full, mujoco.mjtState.mjSTATE_INTEGRATION)
        else:  # a checkpoint of an earlier version (qpos, qvel, act, time): close, but not bit-exact
            u.data.qpos[:] = m["qpos"]
            u.data.qvel[:] = m["qvel"]
            if len(m["act"]):
                u.data.act[:] = m["act"]
            u.data.time = m["time"]
        mujoco.mj_forward(u.model, u.data)
        if "xpos" in m:
            u.data.xpos[:] = m["xpos"]
            u.data.xipos[:] = m["xipos"]
    elif "snapshot" in state:
        u.restore(state["snapshot"])
    else:
        u.state = np.asarray(state["state"], dtype=u.state.dtype)


def space_meta(space_env: Any) -> dict[str, Any]:
    """Observation and action spaces as JSON (shape, bounds), for checkpoint compatibility checks."""
    o, a = space_env.observation_space, space_env.action_space
    return {
        "obs_shape": list(o.shape),
        "act_shape": list(a.shape),
        "act_low": np.asarray(a.low, dtype=float).tolist(),
        "act_high": np.asarray(a.high, dtype=float).tolist(),
    }
