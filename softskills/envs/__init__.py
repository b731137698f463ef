"""Gymnasium environments of softskills, registered under the ``softskills/`` namespace on import."""

import gymnasium

from softskills.envs.multigoal import GOALS, MultiGoalEnv, goals_reached

__all__ = ["GOALS", "MultiGoalEnv", "goals_reached"]

if "softskills/MultiGoal-v0" not in gymnasium.registry:
    gymnasium.register(
        id="softskills/MultiGoal-v0",
        entry_point="softskills.envs.multigoal:MultiGoalEnv",
        max_episode_steps=30,
    )
