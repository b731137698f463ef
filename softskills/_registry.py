"""Gymnasium ids of the ``softskills/`` namespace, registered by entry-point *strings* only.

Registration imports no environment module: ``gymnasium.make`` imports the entry point the
first time an id is made. So every layer of the package can make ``softskills/...`` envs by
id, and no layer below ``softskills.envs`` has to import it.
"""

from __future__ import annotations

import gymnasium

__all__ = ["ENV_IDS", "register_all"]

# id -> (entry point, max_episode_steps, default kwargs)
ENV_IDS: dict[str, tuple[str, int, dict[str, str]]] = {
    "softskills/MultiGoal-v0": ("softskills.envs.multigoal:MultiGoalEnv", 30, {}),
    "softskills/PointVelocity-v0": ("softskills.envs.point:PointVelocityEnv", 200, {}),
    "softskills/PointMaze-v0": ("softskills.envs.point:PointMazeEnv", 200, {}),
    "softskills/AntVelocity-v0": ("softskills.envs.ant:AntVelocityEnv", 1000, {}),
    "softskills/AntCrossMaze-v0": ("softskills.envs.ant:AntMazeEnv", 1000, {"maze": "cross"}),
    "softskills/AntSimpleMaze-v0": ("softskills.envs.ant:AntMazeEnv", 1000, {"maze": "simple"}),
    "softskills/Pusher-v0": ("softskills.envs.pusher:PusherEnv", 300, {}),
}


def register_all() -> None:
    """Register every id of :data:`ENV_IDS` that is not registered yet (idempotent)."""
    for env_id, (entry_point, max_steps, kwargs) in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point, max_episode_steps=max_steps, kwargs=dict(kwargs))
