"""A preallocated, K-aware replay buffer that lives on the training device."""

from __future__ import annotations

import torch
from torch import Tensor

from softskills.skills.types import Batch

__all__ = ["ReplayBuffer"]

_FIELDS = ("obs", "act", "rew", "next_obs", "terminated")


class ReplayBuffer:
    """Circular storage of ``(s, a, r, s', terminated)`` for K skills.

    Storage is allocated once as ``(K, capacity, ...)`` tensors on ``device``; ``add`` writes the
    N transitions of every skill in one slice copy per field, and ``sample`` draws **one**
    random index tensor per batch, with no NumPy round trip. All skills share the write
    pointer (every skill steps its environments in lockstep) but are sampled independently.

    ``terminated`` is stored apart from truncation: a transition cut by a time limit stores
    its true final observation as ``next_obs`` and ``terminated = 0``, so it bootstraps.

    Args:
        num_skills: K.
        capacity: transitions per skill.
        obs_dim: observation width.
        act_dim: action width.
        device: where the tensors live.
    """

    def __init__(
        self, num_skills: int, capacity: int, obs_dim: int, act_dim: int, device: str | torch.device = "cpu"
    ) -> None:
        if capacity < 1:
            raise ValueError(f"buffer capacity must be positive, got {capacity}")
        self.num_skills, self.capacity = num_skills, capacity
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.device = torch.device(device)
        k, c = num_skills, capacity
        self.storage: dict[str, Tensor] = {
            "obs": torch.zeros(k, c, obs_dim, device=self.device),
            "act": torch.zeros(k, c, act_dim, device=self.device),
            "rew": torch.zeros(k, c, device=self.device),
            "next_obs": torch.zeros(k, c, obs_dim, device=self.device),
            "terminated": torch.zeros(k, c, device=self.device),
        }
        self.ptr = 0
        self.size = 0
        # The fill level as a device scalar, so a graph-captured sampler can read it.
        self.size_t = torch.zeros((), device=self.device)
        self._skill_idx = torch.arange(k, device=self.device).unsqueeze(1)

    def __len__(self) -> int:
        return self.size

    def add(self, obs: Tensor, act: Tensor, rew: Tensor, next_obs: Tensor, terminated: Tensor) -> None:
        """Append N transitions per skill; every argument has leading shape ``(K, N)``."""
        n = obs.shape[1]
        if obs.shape[0] != self.num_skills or n > self.capacity:
            raise ValueError(
                f"expected a leading shape (K={self.num_skills}, N<={self.capacity}), got {tuple(obs.shape[:2])}"
            )
        values = (obs, act, rew, next_obs, terminated)
        end = self.ptr + n
        if end <= self.capacity:
            for name, v in zip(_FIELDS, values):
                self.storage[name][:, self.ptr:end] = v
        else:
            first = self.capacity - self.ptr
            for name, v in zip(_FIELDS, values):
                self.storage[name][:, self.ptr:] = v[:, :first]
                self.storage[name][:, : n - first] = v[:, first:]
        self.ptr = end % self.capacity
        self.size = min(self.size + n, self.capacity)
        self.size_t.fill_(self.size)

    def sample(self, batch_size: int) -> Batch:
        """A uniform batch ``(K, batch_size, ...)``: one random draw of ``K x batch_size`` indices."""
        idx = (torch.rand(self.num_skills, batch_size, device=self.device) * self.size_t).long()
        s = self.storage
        k = self._skill_idx
        return Batch(s["obs"][k, idx], s["act"][k, idx], s["rew"][k, idx], s["next_obs"][k, idx], s["terminated"][k, idx])

    def state_tensors(self) -> dict[str, Tensor]:
        """The filled storage exactly as laid out (``buffer/<field>`` tensors, CPU), for checkpoints."""
        return {f"buffer/{k}": v[:, : self.size].detach().cpu().contiguous() for k, v in self.storage.items()}

    def state_meta(self) -> dict[str, int]:
        """Counters that go with :meth:`state_tensors`."""
        return {"ptr": self.ptr, "size": self.size, "capacity": self.capacity}

    def load_state(self, tensors: dict[str, Tensor], meta: dict[str, int]) -> bool:
        """Restore from :meth:`state_tensors` / :meth:`state_meta`; returns whether it is exact.

        With the same capacity, storage, write pointer and fill level are restored exactly, so
        the same random indices pick the same transitions as in an uninterrupted run, wrapped
        or not. An unwrapped buffer also restores exactly into a larger capacity (a resumed run
        that trains for more steps). A wrapped buffer restored into another capacity is
        rewritten in chronological order, which is not exact (returns ``False``).
        """
        size, ptr, saved_capacity = int(meta["size"]), int(meta["ptr"]), int(meta["capacity"])
        if size > self.capacity:
            raise ValueError(f"checkpoint buffer holds {size} transitions, more than the capacity {self.capacity}")
        if not (0 <= ptr < max(saved_capacity, 1) and 0 <= size <= saved_capacity):
            raise ValueError(f"checkpoint buffer counters are inconsistent: ptr={ptr}, size={size}, "
                             f"capacity={saved_capacity}")
        wrapped = size == saved_capacity and ptr != 0
        exact = saved_capacity == self.capacity or not wrapped
        for name in _FIELDS:
            t = tensors[f"buffer/{name}"]
            if t.shape[0] != self.num_skills or t.shape[1] != size or t.shape[2:] != self.storage[name].shape[2:]:
                raise ValueError(f"buffer field {name!r} has shape {tuple(t.shape)}, which does not fit this buffer")
            if not exact:  # oldest transition first
                t = torch.cat([t[:, ptr:], t[:, :ptr]], dim=1)
            self.storage[name][:, :size] = t.to(self.device)
        self.size = size
        self.ptr = ptr if (exact and wrapped) else size % self.capacity
        self.size_t.fill_(size)
        return exact
