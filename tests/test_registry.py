"""The ``softskills/`` Gymnasium ids: registered once, by entry-point strings, on ``import softskills``."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium

import softskills  # noqa: F401  (registers the ids)
from softskills._registry import ENV_IDS, register_all


def test_every_id_is_registered_with_its_entry_point_and_horizon() -> None:
    """``import softskills`` registers every id of ENV_IDS as its entry-point string, horizon and kwargs."""
    for env_id, (entry_point, max_steps, kwargs) in ENV_IDS.items():
        spec = gymnasium.registry[env_id]
        assert spec.entry_point == entry_point and spec.max_episode_steps == max_steps, env_id
        assert spec.kwargs == kwargs, env_id
    assert gymnasium.registry["softskills/AntSimpleMaze-v0"].kwargs == {"maze": "simple"}


def test_each_id_builds_its_env_with_the_originals_horizon() -> None:
    """Independently of ENV_IDS: the class each id builds, and the episode lengths of the originals (MultiGoal 30,
    the pusher 300, the Ant envs 1000; originals.md), so a wrong row in the table fails here."""
    expected = {
        "softskills/MultiGoal-v0": ("MultiGoalEnv", 30),
        "softskills/PointVelocity-v0": ("PointVelocityEnv", 200),
        "softskills/PointMaze-v0": ("PointMazeEnv", 200),
        "softskills/AntVelocity-v0": ("AntVelocityEnv", 1000),
        "softskills/AntCrossMaze-v0": ("AntMazeEnv", 1000),
        "softskills/AntSimpleMaze-v0": ("AntMazeEnv", 1000),
        "softskills/Pusher-v0": ("PusherEnv", 300),
    }
    assert set(expected) == {k for k in gymnasium.registry if k.startswith("softskills/")}
    for env_id, (cls, horizon) in expected.items():
        env = gymnasium.make(env_id)
        try:
            assert type(env.unwrapped).__name__ == cls and env.spec.max_episode_steps == horizon, env_id
        finally:
            env.close()
    mazes = {m: gymnasium.make(f"softskills/Ant{m.capitalize()}Maze-v0") for m in ("cross", "simple")}
    try:
        assert {m: e.unwrapped.maze for m, e in mazes.items()} == {"cross": "cross", "simple": "simple"}
    finally:
        for e in mazes.values():
            e.close()


def test_second_registration_does_not_warn() -> None:
    """register_all() again must skip registered ids: Gymnasium only *warns* when an id is
    overridden, so the missing guard shows up as a warning, which is an error here."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_all()
        register_all()


def test_second_registration_keeps_the_spec_objects() -> None:
    """register_all() again leaves every registered EnvSpec in place (no override)."""
    before = {env_id: gymnasium.registry[env_id] for env_id in ENV_IDS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an override would warn; identity is what is checked here
        register_all()
    assert all(gymnasium.registry[env_id] is spec for env_id, spec in before.items())


def test_registration_imports_no_environment_module() -> None:
    """Registration is by strings: ``import softskills`` imports none of softskills.envs (nor MuJoCo)."""
    code = ("import sys, softskills; "
            "print(sorted(m for m in sys.modules if m.startswith(('softskills.envs', 'mujoco'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
