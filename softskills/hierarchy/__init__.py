"""Latent-space hierarchies (thesis ch. 7, Algorithm 4): frozen Real-NVP layers stacked in each other's latent space."""

from softskills.hierarchy.adapter import ObsFunction, ObsSlice
from softskills.hierarchy.layer import FrozenLayer
from softskills.hierarchy.paths import PathRecorder, plain_envs
from softskills.hierarchy.policy import HierarchicalPolicy
from softskills.hierarchy.pretrained import load_primitive, pretrained
from softskills.hierarchy.stack import (
    LayerSpec,
    lower_layers,
    resume_stacked,
    run_env_factory,
    run_policy,
    stacked_env_factory,
    stacked_trainer,
    train_stagewise,
)
from softskills.hierarchy.vec import LatentSkillEnvs
from softskills.hierarchy.wrapper import LatentActionWrapper

__all__ = [
    "FrozenLayer",
    "HierarchicalPolicy",
    "LatentActionWrapper",
    "LatentSkillEnvs",
    "LayerSpec",
    "ObsFunction",
    "ObsSlice",
    "PathRecorder",
    "load_primitive",
    "lower_layers",
    "plain_envs",
    "pretrained",
    "resume_stacked",
    "run_env_factory",
    "run_policy",
    "stacked_env_factory",
    "stacked_trainer",
    "train_stagewise",
]
