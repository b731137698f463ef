"""The shared SAC/SQL core: losses, stacked networks, replay buffer, agent, trainer, checkpoints."""

from softskills.skills.agent import SACAgent
from softskills.skills.critic import TwinQ
from softskills.nn import StackedLinear, StackedMLP
from softskills.skills.sac import SACConfig
from softskills.skills.types import Batch, Policy

__all__ = ["Batch", "Policy", "SACAgent", "SACConfig", "StackedLinear", "StackedMLP", "TwinQ"]
