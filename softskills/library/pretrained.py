"""A shipped pretrained primitive (``pretrained:NAME``) as a library skill, so skills stacked on it have a lower node.

The package ships a primitive's *policy* only (``softskills.hierarchy.pretrained``), not its
Q-functions or replay buffer. Its library copy is a primitive skill whose agent holds the shipped
policy weights (verified against the model card by ``pretrained``) and a **zero placeholder
critic**; ``run_info.pretrained`` says so and carries the model card. It can be stacked on and
loaded, but not composed (it has no buffer). Its ``source`` is ``pretrained:NAME``, which is how
:meth:`SkillLibrary.add` finds it for a run trained with ``stack_on="pretrained:NAME"``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gymnasium
import numpy as np
import torch

from softskills.hierarchy.pretrained import pretrained, pretrained_card
from softskills.hierarchy.stack import PRETRAINED_PREFIX
from softskills.library.errors import LibraryError
from softskills.library.library import SkillLibrary
from softskills.library.record import SkillRecord, check_name
from softskills.skills.checkpoint import save_checkpoint
from softskills.skills.config_io import config_from_dict, config_to_dict
from softskills.skills.factory import build_agent

__all__ = ["add_pretrained", "pretrained_skill"]


def pretrained_skill(lib: SkillLibrary, ref: str) -> str | None:
    """The library skill holding the shipped primitive ``ref`` (``pretrained:NAME``), or ``None``."""
    found = [n for n, d in lib.graph().nodes(data=True) if d.get("source") == ref]
    return found[0] if found else None


def add_pretrained(lib: SkillLibrary, ref: str, name: str | None = None) -> SkillRecord:
    """Add the shipped primitive ``ref`` (``pretrained:NAME``) to ``lib`` unless it is there already.

    Args:
        lib: the library.
        ref: ``pretrained:NAME``, e.g. ``pretrained:ant-velocity``.
        name: the skill's name (default ``NAME``).

    Returns:
        The record of the (new or existing) skill.

    Raises:
        LibraryError: not a ``pretrained:`` reference, an unknown primitive, or a name already taken.
    """
    if not ref.startswith(PRETRAINED_PREFIX):
        raise LibraryError(f"{ref!r} is not a shipped primitive: expected {PRETRAINED_PREFIX}NAME")
    have = pretrained_skill(lib, ref)
    if have is not None:
        return lib.get(have)
    short = ref[len(PRETRAINED_PREFIX):]
    name = check_name(name or short)
    try:
        layer, card = pretrained(short), pretrained_card(short)
    except (ValueError, FileNotFoundError) as e:
        raise LibraryError(f"cannot add {ref}: {e}") from e
    cfg = config_from_dict(card["config"])
    env = gymnasium.make(cfg.env)
    try:
        obs_space, act_space = env.observation_space, env.action_space
    finally:
        env.close()
    spaces = {"obs_shape": list(obs_space.shape), "act_shape": list(act_space.shape),
              "act_low": [float(x) for x in act_space.low], "act_high": [float(x) for x in act_space.high]}
    obs_dim, act_dim = int(np.prod(obs_space.shape)), int(np.prod(act_space.shape))
    if (obs_dim, act_dim) != (layer.policy.obs_dim, int(card["latent_dim"])):
        raise LibraryError(f"{ref}: the shipped policy is {layer.policy.obs_dim} -> {card['latent_dim']}, but "
                           f"{cfg.env} has spaces {obs_dim} -> {act_dim}")
    agent = build_agent(cfg, obs_dim, act_dim, squash=True)
    agent.policy.load_state_dict(layer.policy.state_dict())
    tensors = {f"agent/{k}": (torch.zeros_like(v) if k.startswith(("critic.", "target_")) else v.detach().clone())
               for k, v in agent.state_dict().items()}
    meta = {"config": config_to_dict(cfg), "tasks": cfg.task_kwargs(), "spaces": spaces,
            "step": int(card.get("steps", 0)), "num_updates": 0, "last_eval": None,
            "run_info": {"pretrained": {"ref": ref, "critic": "not shipped: zero placeholder", "card": card}}}
    with tempfile.TemporaryDirectory(prefix="softskills-pretrained-") as tmp:
        run = Path(tmp) / short
        save_checkpoint(run, tensors, meta)
        return lib.add(name, run, kind="primitive", tags=["pretrained"], command=f"add_pretrained({ref!r})",
                       source=ref)
