"""CUDA-graph capture of the whole update: batch sampling, losses, backward, Adam, target lerp.

Once captured, one ``replay()`` launches the entire update with no host synchronisation
and no Python per kernel; the returned losses are static device tensors that the trainer
reads only when it logs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from softskills.skills.buffer import ReplayBuffer

__all__ = ["GraphedUpdate"]


class GraphedUpdate:
    """Capture ``agent.update(buffer.sample(batch_size))`` in a :class:`torch.cuda.CUDAGraph`.

    The optimizer is rebuilt as capturable (state kept). ``warmup`` eager updates run on a side
    stream first, as graph capture requires; they are real updates and are counted in
    :attr:`warmup_updates`. Policies with a host-side validation switch (``validate``) have it
    turned off, because a validity check would need a host sync.

    Args:
        agent: an agent with ``update``, ``optimizer`` and ``rebuild_optimizer``.
        buffer: the replay buffer on the same CUDA device.
        batch_size: per-skill batch size.
        warmup: eager updates before capture.
    """

    def __init__(self, agent: nn.Module, buffer: ReplayBuffer, batch_size: int, warmup: int = 3) -> None:
        if buffer.device.type != "cuda":
            raise ValueError("GraphedUpdate needs the buffer and agent on a CUDA device")
        policy = getattr(agent, "policy", None)
        if policy is not None and hasattr(policy, "validate"):
            policy.validate = False
        agent.rebuild_optimizer(capturable=True)
        self.agent, self.buffer, self.batch_size = agent, buffer, batch_size
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                agent.update(buffer.sample(batch_size))
        torch.cuda.current_stream().wait_stream(side)
        self.warmup_updates = warmup
        self.graph = torch.cuda.CUDAGraph()
        agent.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.losses: dict[str, Tensor] = agent.update(buffer.sample(batch_size))

    def __call__(self) -> dict[str, Tensor]:
        """Replay one captured update; returns the static loss tensors (valid until the next replay)."""
        self.graph.replay()
        return self.losses
