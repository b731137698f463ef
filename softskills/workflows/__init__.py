"""softskills.workflows: the thesis' three workflows as commands that write into a skill library, and the demo.

* :mod:`~softskills.workflows.pretrain`: ``softskills pretrain``, K primitives in one batched update
  (or one Ray task per skill, :mod:`~softskills.workflows.ray_pretrain`), each added as its own skill;
* :mod:`~softskills.workflows.stack`: ``softskills stack``, a new layer on a stored skill (or on a
  shipped primitive, ``pretrained:NAME``), added with its ``stacked_on`` edge;
* :mod:`~softskills.workflows.compose`: ``softskills compose --library``, stored skills composed
  offline, added with ``composed_from`` edges, weights and bounds;
* :mod:`~softskills.workflows.demo`: ``softskills demo``, quick versions of all three.

This package sits above ``softskills.library`` and below ``softskills.cli``.
"""

from softskills.workflows.common import add_run, skill_names, train_config
from softskills.workflows.compose import LibraryComposeArgs, compose_skills, run_compose_command
from softskills.workflows.pretrain import PretrainArgs, run_pretrain
from softskills.workflows.stack import StackArgs, run_stack, stack_skill

__all__ = [
    "LibraryComposeArgs",
    "PretrainArgs",
    "StackArgs",
    "add_run",
    "compose_skills",
    "run_compose_command",
    "run_pretrain",
    "run_stack",
    "skill_names",
    "stack_skill",
    "train_config",
]
