"""Plumbing that every agent of the core shares: target-critic buffers, the Adam optimizer, autocast.

SAC and SQL differ only in their losses; these helpers keep everything around the losses
identical between :class:`~softskills.skills.agent.SACAgent` and
:class:`~softskills.skills.sql_agent.SQLAgent`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "FusedAdamStep",
    "autocast",
    "check_precision",
    "critic_params_for_losses",
    "make_adam",
    "optimize",
    "rebuild_adam",
    "register_targets",
    "targets_of",
]


def check_precision(precision: str) -> None:
    """Raise a clear error unless ``precision`` is ``"fp32"`` or ``"bf16"``."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")


def register_targets(module: nn.Module, params: Sequence[Tensor]) -> None:
    """Register detached copies of ``params`` on ``module`` as buffers ``target_0, target_1, ...``.

    Buffers move with ``module.to(...)`` and are saved in its ``state_dict``.
    """
    for i, p in enumerate(params):
        module.register_buffer(f"target_{i}", p.detach().clone())


def targets_of(module: nn.Module, n: int) -> list[Tensor]:
    """The ``n`` target buffers of ``module``, read afresh (``.to()`` replaces buffer tensors)."""
    return [getattr(module, f"target_{i}") for i in range(n)]


def make_adam(groups: list[dict[str, Any]], device_type: str, capturable: bool) -> torch.optim.Adam:
    """One fused Adam over all groups; ``capturable`` (CUDA-graph safe) only on CUDA."""
    fused = device_type in ("cpu", "cuda")
    return torch.optim.Adam(groups, fused=fused, capturable=capturable and device_type == "cuda")


def rebuild_adam(
    old: torch.optim.Optimizer, make: Callable[[bool], torch.optim.Adam], capturable: bool
) -> torch.optim.Adam:
    """A new Adam from ``make(capturable)`` carrying ``old``'s state (after a device move).

    ``load_state_dict`` restores the *saved* groups' ``capturable``/``fused`` flags; the flags
    chosen for the current device are put back afterwards.
    """
    state = old.state_dict()
    new = make(capturable)
    flags = {k: new.param_groups[0][k] for k in ("capturable", "fused")}
    new.load_state_dict(state)
    for group in new.param_groups:
        group.update(flags)
    return new


def autocast(precision: str, device_type: str) -> AbstractContextManager[Any]:
    """bf16 autocast of the forward passes for ``"bf16"``; a no-op for ``"fp32"``."""
    if precision == "bf16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return nullcontext()


def critic_params_for_losses(params: Sequence[Tensor], precision: str) -> tuple[list[Tensor], list[Tensor]]:
    """The online critic's parameters for the critic loss, and the detached ones for the policy's loss.

    With ``"bf16"`` both lists hold the **one** bf16 cast of each parameter that autocast would
    otherwise make twice (it caches the cast of a leaf that requires grad, but not of its
    detached copy). The values are the same casts, and the critic loss' gradient flows back
    through them to the fp32 parameters as through autocast's, so no bit of the update changes;
    what goes is one cast of every critic weight per update, a pass over memory that costs
    what a matmul does at K = 16 on a CPU with bf16 matmuls in hardware (``docs/benchmarks.md``).
    """
    online = [p.to(torch.bfloat16) for p in params] if precision == "bf16" else list(params)
    return online, [p.detach() for p in online]


_SHARED = ("lr", "betas", "eps", "weight_decay", "maximize")


class FusedAdamStep:
    """``optimizer.step()`` with one fused kernel call, and a cheap ``zero_grad``.

    ``torch.optim.Adam(fused=True)`` launches ``_fused_adam_`` once per parameter group (three
    for SAC: critics, policy, ``log alpha``) and pays its Python bookkeeping each time (state
    lookups, device grouping, a ``_foreach_add_`` of the step counters that falls back to a
    per-tensor loop on the CPU). Adam is elementwise, so when the groups share their
    hyperparameters (the default: every learning rate is ``3e-4``) this calls ``_fused_adam_``
    **once** over every parameter, with the same arguments that ``torch.optim.Adam`` passes it
    per group: the result is bitwise that of ``optimizer.step()`` (Kingma & Ba 2015, Alg. 1,
    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``theta <- theta - lr m_hat / (sqrt(v_hat) + eps)``). Groups that differ get one call each.

    It falls back to ``optimizer.step()`` whenever the fast call would not be exact: a
    non-fused, capturable (CUDA graph), AMSGrad, AdamW or differentiable group, a parameter
    without a gradient, or state that does not exist yet (the first step creates it). The state
    stays the optimizer's own, so ``state_dict`` and checkpoints are unchanged.

    Args:
        optimizer: the agent's fused Adam.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.params: list[Tensor] = [p for g in optimizer.param_groups for p in g["params"]]
        first = self.params[0]
        # Adam keeps fused steps as fp32 scalars on the parameters' device; adding a tensor 1
        # skips the conversion of a Python 1 on every call.
        self._one = torch.ones((), dtype=torch.float32, device=first.device)

    def _fast_ok(self) -> bool:
        for g in self.optimizer.param_groups:
            if not g.get("fused") or g.get("capturable") or g.get("amsgrad") or g.get("differentiable") \
                    or g.get("decoupled_weight_decay"):
                return False
        state = self.optimizer.state
        return all(p.grad is not None and "exp_avg" in state.get(p, ()) for p in self.params)

    def zero_grad(self) -> None:
        """``optimizer.zero_grad(set_to_none=True)`` without its per-call bookkeeping."""
        for p in self.params:
            p.grad = None

    def __call__(self) -> None:
        """One Adam step of every parameter (exactly ``optimizer.step()``)."""
        opt = self.optimizer
        if not self._fast_ok():
            opt.step()
            return
        groups = opt.param_groups
        first = groups[0]
        if all(all(g[k] == first[k] for k in _SHARED) for g in groups[1:]):
            calls = [(first, self.params)]
        else:
            calls = [(g, g["params"]) for g in groups]
        state = opt.state
        for g, params in calls:
            st = [state[p] for p in params]
            steps = [s["step"] for s in st]
            for s in steps:  # _foreach_add_(steps, 1), without its per-tensor fallback's scalar conversions
                s.add_(self._one if s.dtype == self._one.dtype and s.device == self._one.device else 1)
            beta1, beta2 = g["betas"]
            torch._fused_adam_(
                params, [p.grad for p in params], [s["exp_avg"] for s in st], [s["exp_avg_sq"] for s in st],
                [], steps, amsgrad=False, lr=g["lr"], beta1=beta1, beta2=beta2,
                weight_decay=g["weight_decay"], eps=g["eps"], maximize=g["maximize"],
                grad_scale=None, found_inf=None,
            )


def optimize(agent: nn.Module, total: Tensor) -> None:
    """``zero_grad``, ``total.backward()``, one Adam step of ``agent.optimizer``.

    With ``agent.fast_path`` the step is :class:`FusedAdamStep` (bitwise the same parameters,
    one kernel call); otherwise ``optimizer.zero_grad(set_to_none=True)`` and
    ``optimizer.step()`` exactly as before. The :class:`FusedAdamStep` is rebuilt when the
    optimizer is (``rebuild_optimizer`` after a device move or for CUDA-graph capture).
    """
    opt = agent.optimizer
    if not getattr(agent, "fast_path", False):
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        return
    step = getattr(agent, "_adam_step", None)
    if step is None or step.optimizer is not opt:
        step = FusedAdamStep(opt)
        agent._adam_step = step
    step.zero_grad()
    total.backward()
    step()
