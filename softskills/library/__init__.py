"""softskills.library: a directory of trained skills (safe checkpoints) plus their lineage graph.

A :class:`SkillLibrary` holds primitive, stacked and composed skills. Each skill is a verified
copy of a run's checkpoint (policy, Q-functions, temperature; env, tasks, spaces; training stats,
tags and the command that made it); ``graph.json`` records which skill is stacked on or composed
from which. Writes are atomic and serialised by a lock file, so a killed or concurrent writer never
corrupts a library, and a library is self-contained: it can be moved or copied as a directory.
"""

from softskills.library.errors import LibraryError, LibraryLockTimeout
from softskills.library.graph import check_graph
from softskills.library.library import GRAPH_FILE, LOCK_FILE, SKILLS_DIR, SkillLibrary
from softskills.library.pretrained import add_pretrained
from softskills.library.record import EDGE_KINDS, KINDS, SkillRecord, check_name
from softskills.library.render import bound_summary, render_graph
from softskills.library.split import split_run

__all__ = [
    "EDGE_KINDS",
    "GRAPH_FILE",
    "KINDS",
    "LOCK_FILE",
    "SKILLS_DIR",
    "LibraryError",
    "LibraryLockTimeout",
    "SkillLibrary",
    "SkillRecord",
    "add_pretrained",
    "bound_summary",
    "check_graph",
    "check_name",
    "render_graph",
    "split_run",
]
