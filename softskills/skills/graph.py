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
    stream first, as graph capture requires (lazy Adam state, cuBLAS workspaces). They are not
    real updates: the parameters, buffers, Adam state and CUDA RNG are saved before them and
    copied back in place afterwards (Adam state that did not exist yet is zeroed, which is
    what a fresh Adam starts from), so a graphed run does exactly as many updates as an eager
    one, and :attr:`warmup_updates` is 0. Policies with a host-side validation switch (``validate``) have it
    turned off, because a validity check would need a host sync.

    With ``compile`` the graph captures :meth:`SACAgent.compiled_update` instead: the losses and
    their backward as ``torch.compile`` (inductor) kernels, which fuse the elementwise tails and
    so launch fewer kernels per replay. The compilation happens in the first warm-up update.

    Args:
        agent: an agent with ``update``, ``optimizer`` and ``rebuild_optimizer``.
        buffer: the replay buffer on the same CUDA device.
        batch_size: per-skill batch size.
        warmup: eager updates before capture.
        compile: capture the compiled update (an agent with ``compiled_update``: SAC).
    """

    def __init__(self, agent: nn.Module, buffer: ReplayBuffer, batch_size: int, warmup: int = 3,
                 compile: bool = False) -> None:
        if buffer.device.type != "cuda":
            raise ValueError("GraphedUpdate needs the buffer and agent on a CUDA device")
        if compile and not hasattr(agent, "compiled_update"):
            raise ValueError(f"compile needs an agent with compiled_update (SAC), got {type(agent).__name__}")
        update = agent.compiled_update if compile else agent.update
        policy = getattr(agent, "policy", None)
        if policy is not None and hasattr(policy, "validate"):
            policy.validate = False
        agent.rebuild_optimizer(capturable=True)
        self.agent, self.buffer, self.batch_size = agent, buffer, batch_size
        self.compiled = compile
        """Whether the graph holds the compiled update."""
        saved_tensors = [t.detach().clone() for t in agent.state_dict().values()]
        saved_opt = {id(p): {k: v.clone() for k, v in st.items() if torch.is_tensor(v)}
                     for p, st in agent.optimizer.state.items()}
        saved_rng = torch.cuda.get_rng_state(buffer.device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                update(buffer.sample(batch_size))
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():  # undo the warm-up in place: the graph must keep these tensors
            for t, s in zip(agent.state_dict().values(), saved_tensors):
                t.copy_(s)
            for p, st in agent.optimizer.state.items():
                before = saved_opt.get(id(p), {})
                for k, v in st.items():
                    if torch.is_tensor(v):
                        v.copy_(before[k]) if k in before else v.zero_()
        torch.cuda.set_rng_state(saved_rng, buffer.device)
        self.warmup_updates = 0
        self.graph = torch.cuda.CUDAGraph()
        agent.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.losses: dict[str, Tensor] = update(buffer.sample(batch_size))

    def __call__(self) -> dict[str, Tensor]:
        """Replay one captured update; returns the static loss tensors (valid until the next replay)."""
        self.graph.replay()
        return self.losses
