"""Gymnasium environments of softskills (ids in :mod:`softskills._registry`, registered on ``import softskills``)."""

from softskills.envs.multigoal import GOALS, MultiGoalEnv, goals_reached

__all__ = ["GOALS", "MultiGoalEnv", "goals_reached"]
