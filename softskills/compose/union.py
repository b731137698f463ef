"""Several replay buffers seen as one: the data a composed skill is extracted from (originals.md §2.5).

The original's ``UnionBuffer((b1, b2))`` splits every batch between its buffers in proportion to
their sizes, ``int(p_i B)`` transitions from buffer ``i`` with ``p_i = size_i / sum(size)``, the
remainder from buffer 0, and concatenates the parts. :class:`UnionBuffer` does the same, over
:class:`~softskills.skills.buffer.ReplayBuffer` objects or the buffer tensors of a checkpoint, one
skill of each, and returns batches with a leading skill dimension K = 1 (the composed skill).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import Tensor

from softskills.skills.buffer import ReplayBuffer
from softskills.skills.types import Batch

__all__ = ["UnionBuffer"]

_FIELDS = ("obs", "act", "rew", "next_obs", "terminated")

Source = ReplayBuffer | Mapping[str, Tensor]


def _fields(source: Source, skill: int, where: str) -> dict[str, Tensor]:
    """One skill's filled transitions of a buffer, each ``(size, ...)`` (views, no copy)."""
    if isinstance(source, ReplayBuffer):
        if not 0 <= skill < source.num_skills:
            raise ValueError(f"{where}: skill {skill} is out of range for a buffer of {source.num_skills} skill(s)")
        return {f: source.storage[f][skill, : source.size] for f in _FIELDS}
    if not isinstance(source, Mapping):
        raise TypeError(f"{where}: expected a ReplayBuffer or a dict of buffer tensors, got {type(source).__name__}")
    prefix = "buffer/" if "buffer/obs" in source else ""
    missing = [f for f in _FIELDS if prefix + f not in source]
    if missing:
        raise ValueError(f"{where}: the buffer tensors lack {missing} (expected 'buffer/<field>' or '<field>' keys "
                         f"for {list(_FIELDS)})")
    t = {f: source[prefix + f] for f in _FIELDS}
    if t["obs"].ndim == 3:  # (K, size, ds): a checkpoint's layout
        k = t["obs"].shape[0]
        if not 0 <= skill < k:
            raise ValueError(f"{where}: skill {skill} is out of range for buffer tensors of {k} skill(s)")
        t = {f: v[skill] for f, v in t.items()}
    elif skill != 0:
        raise ValueError(f"{where}: single-skill buffer tensors (size, ...) have only skill 0, got {skill}")
    size = t["obs"].shape[0]
    shapes_ok = (
        t["obs"].ndim == 2 and t["next_obs"].shape == t["obs"].shape and t["act"].ndim == 2
        and t["act"].shape[0] == size and t["rew"].shape == (size,) and t["terminated"].shape == (size,)
    )
    if not shapes_ok:
        raise ValueError(f"{where}: inconsistent buffer shapes {({f: tuple(v.shape) for f, v in t.items()})}")
    return t


class UnionBuffer:
    """The union of one skill's transitions from each of several buffers.

    Args:
        sources: :class:`ReplayBuffer` objects, or dicts of buffer tensors (a checkpoint's
            ``buffer/<field>`` of shape ``(K, size, ...)``, or ``<field>`` of shape ``(size, ...)``).
        skills: the skill to take from each source (default 0 each).
        device: where batches are returned (default: the first source's device).

    Raises:
        ValueError: no sources, an empty source, a skill out of range, or sources whose
            observation or action widths differ.
    """

    def __init__(
        self, sources: Sequence[Source], skills: Sequence[int] | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        if len(sources) == 0:
            raise ValueError("UnionBuffer needs at least one buffer")
        skills = [0] * len(sources) if skills is None else list(skills)
        if len(skills) != len(sources):
            raise ValueError(f"got {len(skills)} skill index(es) for {len(sources)} buffer(s)")
        self.parts = [_fields(s, int(k), f"buffer #{i}") for i, (s, k) in enumerate(zip(sources, skills))]
        dims = [(p["obs"].shape[1], p["act"].shape[1]) for p in self.parts]
        if len(set(dims)) != 1:
            listed = ", ".join(f"#{i}: obs {o}, act {a}" for i, (o, a) in enumerate(dims))
            raise ValueError(f"the buffers hold different spaces ({listed})")
        self.sizes = [int(p["obs"].shape[0]) for p in self.parts]
        empty = [i for i, n in enumerate(self.sizes) if n == 0]
        if empty:
            raise ValueError(f"buffer(s) {empty} hold no transitions")
        self.obs_dim, self.act_dim = dims[0]
        self.device = torch.device(device) if device is not None else self.parts[0]["obs"].device

    def __len__(self) -> int:
        return sum(self.sizes)

    @property
    def proportions(self) -> list[float]:
        """``p_i = size_i / sum(size)``."""
        total = len(self)
        return [n / total for n in self.sizes]

    def split(self, batch_size: int) -> list[int]:
        """Transitions drawn from each buffer: ``int(p_i B)``, the remainder from buffer 0 (the original's rule)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        counts = [int(p * batch_size) for p in self.proportions]
        counts[0] += batch_size - sum(counts)
        return counts

    def _gather(self, index: Sequence[Tensor]) -> Batch:
        fields = {f: torch.cat([p[f][idx.to(p[f].device)] for p, idx in zip(self.parts, index)]) for f in _FIELDS}
        return Batch(*(fields[f].to(self.device).unsqueeze(0) for f in _FIELDS))

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """A batch ``(1, batch_size, ...)``: :meth:`split` counts, uniform with replacement within each buffer.

        ``rew`` and ``terminated`` are each constituent's own (the composed reward is not stored).
        ``generator`` is a CPU generator for reproducible draws.
        """
        return self._gather(self._draw(batch_size, generator))

    def sample_index(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """The transitions :meth:`sample` would draw, as positions in :meth:`all`'s order, ``(batch_size,)``.

        The draws are :meth:`sample`'s, so both consume ``generator`` alike; nothing is gathered.
        """
        offset = 0
        flat = []
        for idx, n in zip(self._draw(batch_size, generator), self.sizes):
            flat.append(idx + offset)
            offset += n
        return torch.cat(flat)

    def _draw(self, batch_size: int, generator: torch.Generator | None) -> list[Tensor]:
        return [torch.randint(n, (c,), generator=generator) for n, c in zip(self.sizes, self.split(batch_size))]

    def all(self) -> Batch:
        """Every transition once, buffers in order: ``(1, len(self), ...)``."""
        return self._gather([torch.arange(n) for n in self.sizes])

    def num_batches(self, chunk_size: int = 8192) -> int:
        """How many batches :meth:`iter_batches` yields (each buffer is chunked on its own)."""
        return sum(-(-n // chunk_size) for n in self.sizes)

    def iter_batches(self, chunk_size: int = 8192) -> Iterator[Batch]:
        """Every transition once, in chunks of at most ``chunk_size``, each ``(1, chunk, ...)``."""
        for i, n in enumerate(self.sizes):
            for start in range(0, n, chunk_size):
                idx = torch.arange(start, min(start + chunk_size, n))
                part = self.parts[i]
                yield Batch(*(part[f][idx.to(part[f].device)].to(self.device).unsqueeze(0) for f in _FIELDS))
