"""A preallocated, K-aware replay buffer that lives on the training device."""

from __future__ import annotations

import torch
from torch import Tensor

from softskills.skills.types import Batch

__all__ = ["ReplayBuffer"]

_FIELDS = ("obs", "act", "rew", "next_obs", "terminated")


class ReplayBuffer:
    """Circular storage of ``(s, a, r, s', terminated)`` for K skills.

    Storage is allocated once as **one** flat ``(K, capacity, W)`` tensor on ``device``, a row
    per transition laid out as ``[s | a | r | s' | terminated]`` (``W = 2 obs_dim + act_dim + 2``);
    :attr:`storage` holds a view of it per field. ``add`` writes the N transitions of every skill
    in one slice copy per field (:meth:`add_rows`: one copy for all fields), and ``sample`` draws
    **one** random index tensor per batch and gathers all five fields with **one** indexing op
    (then splits the rows into views), with no NumPy round trip. All skills share the write
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
        widths = (obs_dim, act_dim, 1, obs_dim, 1)
        self.row_width = sum(widths)
        """``W``: the floats of one stored transition."""
        self.flat = torch.zeros(k, c, self.row_width, device=self.device)
        """All fields in one ``(K, capacity, W)`` tensor; :attr:`storage` views slices of it."""
        self.slices: dict[str, slice] = {}
        """The column range of every field in a row."""
        lo = 0
        for name, w in zip(_FIELDS, widths):
            self.slices[name] = slice(lo, lo + w)
            lo += w
        self.storage: dict[str, Tensor] = {name: self._field(self.flat, name) for name in _FIELDS}
        self.ptr = 0
        self.size = 0
        # The fill level as a device scalar, so a graph-captured sampler can read it.
        self.size_t = torch.zeros((), device=self.device)
        # Row offset of skill k in the (K * capacity, W) view of the flat storage.
        self._row_offset = (torch.arange(k, device=self.device) * c).unsqueeze(1)

    def __len__(self) -> int:
        return self.size

    def _field(self, rows: Tensor, name: str) -> Tensor:
        """The view of field ``name`` in ``rows`` ``(..., W)``; scalar fields drop their column."""
        v = rows[..., self.slices[name]]
        return v.squeeze(-1) if name in ("rew", "terminated") else v

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
        self._advance(n)

    def add_rows(self, rows: Tensor) -> None:
        """Append N packed transitions per skill, ``rows`` ``(K, N, W)`` laid out as :attr:`slices`.

        One copy for all five fields: the trainer packs a step's ``(s, a, r, s', terminated)``
        into one float32 array on the host and converts it once (same values as :meth:`add`).
        """
        n = rows.shape[1]
        if rows.dim() != 3 or rows.shape[0] != self.num_skills or n > self.capacity or rows.shape[2] != self.row_width:
            raise ValueError(f"expected rows of shape (K={self.num_skills}, N<={self.capacity}, W={self.row_width}), "
                             f"got {tuple(rows.shape)}")
        end = self.ptr + n
        if end <= self.capacity:
            self.flat[:, self.ptr:end] = rows
        else:
            first = self.capacity - self.ptr
            self.flat[:, self.ptr:] = rows[:, :first]
            self.flat[:, : n - first] = rows[:, first:]
        self._advance(n)

    def _advance(self, n: int) -> None:
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self.size_t.fill_(self.size)

    def sample(self, batch_size: int) -> Batch:
        """A uniform batch ``(K, batch_size, ...)``: one random draw of ``K x batch_size`` indices."""
        idx = (torch.rand(self.num_skills, batch_size, device=self.device) * self.size_t).long()
        # One index_select of K x B rows for all five fields (3x faster than advanced indexing at K = 16).
        flat_idx = (idx + self._row_offset).view(-1)
        rows = self.flat.view(-1, self.row_width).index_select(0, flat_idx).view(self.num_skills, batch_size, -1)
        return Batch(*(self._field(rows, name) for name in _FIELDS))

    def state_tensors(self) -> dict[str, Tensor]:
        """The filled storage exactly as laid out (``buffer/<field>`` tensors, CPU), for checkpoints."""
        # clone: the fields are views of one tensor, and safetensors refuses tensors sharing memory
        return {f"buffer/{k}": v[:, : self.size].detach().cpu().clone(memory_format=torch.contiguous_format)
                for k, v in self.storage.items()}

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
