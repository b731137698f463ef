"""What a training checkpoint holds, and how a trainer is put back from it.

``trainer_state`` gathers everything that makes a resumed run repeat a straight run bit for
bit: weights and targets, Adam moments, the torch RNG, the envs' simulator and RNG states,
the current observations and episode counters, and the replay buffer exactly as laid out in
memory (wrapped or not). ``restore_trainer_state`` is its inverse, and refuses a checkpoint
whose spaces or contents do not fit with a :class:`~softskills.skills.checkpoint.CheckpointError`.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from softskills.skills.checkpoint import CheckpointError, load_optimizer, optimizer_tensors
from softskills.skills.config_io import config_to_dict
from softskills.skills.loading import load_agent_state

if TYPE_CHECKING:
    from softskills.skills.config import TrainConfig
    from softskills.skills.trainer import Trainer

__all__ = ["refill_size", "restore_trainer_state", "trainer_state"]

_REQUIRED_META = ("config", "step", "num_updates", "update_debt", "spaces", "optimizer_groups", "env_states")
_REQUIRED_TENSORS = ("rng/torch", "trainer/obs", "trainer/ep_ret", "trainer/ep_len")


def trainer_state(trainer: Trainer) -> tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor] | None]:
    """``(tensors, meta, buffer_or_None)`` of a trainer, ready for ``save_checkpoint``."""
    cfg = trainer.cfg
    tensors: dict[str, Tensor] = {f"agent/{k}": v for k, v in trainer.agent.state_dict().items()}
    opt_t, groups = optimizer_tensors(trainer.agent.optimizer)
    tensors.update(opt_t)
    tensors["rng/torch"] = torch.get_rng_state()
    if trainer.device.type == "cuda":
        tensors["rng/cuda"] = torch.cuda.get_rng_state(trainer.device)
    tensors["trainer/obs"] = torch.as_tensor(trainer.obs)
    tensors["trainer/ep_ret"] = torch.as_tensor(trainer.ep_ret)
    tensors["trainer/ep_len"] = torch.as_tensor(trainer.ep_len)
    if trainer.held_h is not None:
        tensors["trainer/held_h"] = trainer.held_h
    meta = {
        "config": config_to_dict(cfg),
        "tasks": cfg.task_kwargs(),
        "step": trainer.step,
        "num_updates": trainer.num_updates,
        "update_debt": trainer.update_debt,
        "last_eval": None if math.isnan(trainer.last_eval) else trainer.last_eval,
        "spaces": trainer.spaces,
        "optimizer_groups": groups,
        "env_states": trainer.envs.get_states(),
        "buffer": trainer.buffer.state_meta() if cfg.save_buffer else None,
        "run_info": trainer.run_info,
    }
    if trainer.refill:  # saved while refilling after a buffer-less resume: the rest of the refill still holds
        meta["refill"] = trainer.refill
    buf = trainer.buffer.state_tensors() if cfg.save_buffer else None
    return tensors, meta, buf


def refill_size(cfg: TrainConfig, capacity: int) -> int:
    """Transitions per skill to collect before updating after a resume without the replay buffer.

    At least as many as the warm-up put there at the start (``warmup_steps`` env steps of ``num_envs`` envs),
    one batch, and a tenth of the buffer's capacity, but no more than the buffer holds. Updating at once would
    draw whole batches from a handful of transitions. No refill makes such a resume safe, though: the Ant maze
    high level, resumed without its buffer, diverged after refills of 1, 3,333 and 100,000 transitions per
    skill (docs/ant.md). A run that must survive a move keeps its buffer.

    Args:
        cfg: the resumed run's config.
        capacity: the replay buffer's capacity per skill, which depends on the ``steps`` given at resume.

    Returns:
        The number of transitions per skill, between 1 and ``capacity``.
    """
    return max(1, min(max(cfg.warmup_steps * cfg.num_envs, cfg.batch_size, capacity // 10), capacity))


def restore_trainer_state(
    trainer: Trainer, tensors: dict[str, Tensor], meta: dict[str, Any], buf: dict[str, Tensor] | None
) -> None:
    """Put ``trainer`` (freshly built from the checkpoint's config) back into the saved state.

    Envs without a simulator snapshot (e.g. Box2D) cannot continue their episode: they keep the
    fresh episode the trainer just reset, their episode counters restart, and a
    ``RuntimeWarning`` says the resume is not exact. A checkpoint saved without its buffer
    resumes with an empty buffer (also warned). It is then refilled before learning goes on: updates pause
    until the buffer holds :func:`refill_size` transitions per skill, collected with the restored policy, so
    that no update samples its batch from a handful of transitions (this does not make such a resume safe; see
    :func:`refill_size`). A checkpoint saved during the refill carries the target (``meta["refill"]``).
    """
    missing = [k for k in _REQUIRED_META if k not in meta] + [k for k in _REQUIRED_TENSORS if k not in tensors]
    if missing:
        raise CheckpointError(f"checkpoint in {trainer.run_dir} lacks {missing}; it is not a training checkpoint")
    if meta["spaces"] != trainer.spaces:
        raise CheckpointError(f"checkpoint spaces {meta['spaces']} differ from {trainer.cfg.env}'s {trainer.spaces}")
    load_agent_state(trainer.agent, tensors)
    load_optimizer(trainer.agent.optimizer, tensors, meta["optimizer_groups"])
    try:
        torch.set_rng_state(tensors["rng/torch"])
        if "rng/cuda" in tensors and trainer.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng/cuda"], trainer.device)
        step, num_updates, debt = int(meta["step"]), int(meta["num_updates"]), float(meta["update_debt"])
    except (RuntimeError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint in {trainer.run_dir} has invalid counters or RNG state: {e}") from e
    obs = tensors["trainer/obs"].numpy().astype(np.float64)
    ep_ret = tensors["trainer/ep_ret"].numpy().copy()
    ep_len = tensors["trainer/ep_len"].numpy().copy()
    if obs.shape != trainer.obs.shape or ep_ret.shape != trainer.ep_ret.shape or ep_len.shape != trainer.ep_len.shape:
        raise CheckpointError(f"checkpoint in {trainer.run_dir} holds observations of shape {obs.shape}, "
                              f"this run has {trainer.obs.shape}")
    restored = trainer.envs.set_states(meta["env_states"])
    # Where the env could not be restored, keep the fresh episode it was just reset to.
    trainer.obs = np.where(restored[..., None], obs, trainer.obs)
    trainer.envs.current_obs = trainer.obs.copy()
    trainer.ep_ret = np.where(restored, ep_ret, 0.0)
    trainer.ep_len = np.where(restored, ep_len, 0)
    if "trainer/held_h" in tensors:
        held = tensors["trainer/held_h"].to(trainer.device)
        if held.shape != (trainer.cfg.skills, trainer.cfg.num_envs, trainer.act_dim):
            raise CheckpointError(f"checkpoint in {trainer.run_dir} holds latents of shape {tuple(held.shape)}")
        trainer.held_h = held
        if not restored.all():  # an env that starts a fresh episode draws a fresh latent
            fresh = torch.as_tensor(~restored, device=trainer.device).unsqueeze(-1)
            trainer.held_h = torch.where(fresh, torch.randn_like(held), held)
    if not restored.all():
        warnings.warn(f"resume is not exact: {trainer.cfg.env} has no state snapshot, so "
                      f"{int((~restored).sum())} env(s) start a fresh episode", RuntimeWarning, stacklevel=3)
    trainer.step, trainer.num_updates, trainer.update_debt = step, num_updates, debt
    refill = meta.get("refill", 0)
    if not isinstance(refill, int) or isinstance(refill, bool) or refill < 0:
        raise CheckpointError(f"checkpoint in {trainer.run_dir} has an invalid refill target {refill!r}")
    trainer.refill = refill
    trainer.last_eval = math.nan if meta.get("last_eval") is None else float(meta["last_eval"])
    if buf is not None and meta.get("buffer"):
        try:
            exact = trainer.buffer.load_state(buf, meta["buffer"])
        except (KeyError, ValueError, TypeError) as e:
            raise CheckpointError(f"the replay buffer in {trainer.run_dir} does not fit this run: {e}") from e
        if not exact:
            warnings.warn("resume is not exact: the wrapped replay buffer was restored into another "
                          "capacity, in time order", RuntimeWarning, stacklevel=3)
    elif step > 0:
        trainer.refill = refill_size(trainer.cfg, trainer.buffer.capacity)
        warnings.warn(f"resume is not exact: the checkpoint has no replay buffer (saved with save_buffer=False, "
                      f"or copied without it), so training refills an empty buffer with {trainer.refill} "
                      f"transitions per skill from the current policy before it updates again",
                      RuntimeWarning, stacklevel=3)
