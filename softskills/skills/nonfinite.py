"""Detect the first non-finite loss on the device, without a host sync per update."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["NonFiniteLossError", "NonFiniteTracker"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint is untouched."""


class NonFiniteTracker:
    """Remembers the first update whose losses were not all finite.

    :meth:`observe` runs a few device kernels after every update (``isfinite`` and
    ``torch.where`` with the update index and env step as kernel scalars), so it never waits
    for the device. :meth:`check` reads the record (one sync) and is called only when the
    trainer logs or saves; it names the exact update, env step, loss and skills.

    Args:
        names: the loss names to watch.
        num_skills: K.
        device: where the losses live.
    """

    def __init__(self, names: tuple[str, ...], num_skills: int, device: torch.device) -> None:
        self.names = names
        self.first_update = torch.full((), -1, dtype=torch.long, device=device)
        self.first_step = torch.full((), -1, dtype=torch.long, device=device)
        self.bad_mask = torch.zeros(len(names), num_skills, dtype=torch.bool, device=device)

    def observe(self, losses: dict[str, Tensor], update: int, step: int) -> None:
        """Record ``(update, step)`` if these are the first non-finite losses seen."""
        bad = ~torch.isfinite(torch.stack([losses[n] for n in self.names]))  # (L, K), one isfinite
        new = bad.any() & (self.first_update < 0)
        self.first_update = torch.where(new, update, self.first_update)
        self.first_step = torch.where(new, step, self.first_step)
        self.bad_mask = torch.where(new, bad, self.bad_mask)

    def check(self, where: str) -> None:
        """Raise :class:`NonFiniteLossError` if a non-finite loss was seen.

        Args:
            where: what is intact, for the message (e.g. the checkpoint path).
        """
        update = int(self.first_update)
        if update < 0:
            return
        mask = self.bad_mask.cpu()
        parts = [f"{n} (skills {torch.nonzero(mask[i]).flatten().tolist()})"
                 for i, n in enumerate(self.names) if bool(mask[i].any())]
        raise NonFiniteLossError(
            f"non-finite {', '.join(parts)} first at update {update} (env step {int(self.first_step)}); "
            f"training stopped, {where} is intact"
        )
