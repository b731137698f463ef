"""Stacked weights with ``baddbmm`` against ``torch.func`` + ``vmap``: which way to batch K networks.

The core keeps K skills' weights as ``(K, in, out)`` tensors and runs one ``baddbmm`` per layer
(:class:`softskills.nn.StackedMLP`). The alternative is K ordinary ``nn.Sequential`` MLPs
stacked with ``torch.func.stack_module_state`` and evaluated with ``vmap(functional_call)``.
This times forward + backward of both on the same (K, B, in) input, alternating rounds.

The same question for the Real-NVP flow: nflows' coupling transforms on one flattened
``(K*B, D)`` batch with K-stacked conditioners (what :class:`softskills.flows.RealNVPPolicy`
does) against ``vmap`` over K copies of a plain nflows ``CompositeTransform`` with ordinary
``nn.Linear`` s/t-nets (HalfCheetah sizes: D = 6, embedding width 12, two couplings).

    python benchmarks/stacking.py --skills 16 --json
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from softskills.flows import RealNVPPolicy
from softskills.nn import StackedMLP

IN, HIDDEN, OUT, BATCH = 23, 256, 2, 256  # a HalfCheetah critic: obs 17 + act 6 -> Q
D, EMBED = 6, 12  # HalfCheetah action width and the flow's observation-embedding width (2|A|)
WARMUP = 5  # untimed calls of each contender before the rounds


def counted(step: Callable[[], None], counts: dict[str, int], name: str) -> Callable[[], None]:
    """``step`` that counts its own calls in ``counts[name]``."""

    def call() -> None:
        step()
        counts[name] += 1

    return call


def stacked_step(k: int, x: torch.Tensor) -> Callable[[], None]:
    net = StackedMLP(k, IN, (HIDDEN, HIDDEN), OUT)

    def step() -> None:
        net.zero_grad(set_to_none=True)
        net(x).square().mean().backward()

    return step


def vmap_step(k: int, x: torch.Tensor) -> Callable[[], None]:
    base = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                         nn.Linear(HIDDEN, OUT))
    params, buffers = stack_module_state([copy.deepcopy(base) for _ in range(k)])
    params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    skeleton = copy.deepcopy(base).to("meta")

    def call(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xi: torch.Tensor) -> torch.Tensor:
        return functional_call(skeleton, (p, b), (xi,))

    batched = torch.vmap(call)

    def step() -> None:
        for p in params.values():
            p.grad = None
        batched(params, buffers, x).square().mean().backward()

    return step


class _STNet(nn.Module):
    """One coupling's conditioner for plain nflows: concat(x_a, context) -> tanh(|A|) -> [t | s]."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(in_features + EMBED, D)
        self.out = nn.Linear(D, out_features)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        assert context is not None
        return self.out(torch.tanh(self.hidden(torch.cat([x, context], -1))))


def flow_flat_step(k: int, h: torch.Tensor, ctx: torch.Tensor) -> Callable[[], None]:
    transform = RealNVPPolicy(k, 1, D, validate=False).transform

    def step() -> None:
        transform.zero_grad(set_to_none=True)
        y, logdet = transform(h.reshape(-1, D), ctx.reshape(-1, EMBED))
        (y.square().mean() + logdet.mean()).backward()

    return step


def flow_vmap_step(k: int, h: torch.Tensor, ctx: torch.Tensor) -> Callable[[], None]:
    from nflows.transforms import CompositeTransform
    from nflows.transforms.coupling import AffineCouplingTransform

    half = torch.ones(D)
    half[D // 2:] = -1.0
    base = CompositeTransform([AffineCouplingTransform(half, _STNet), AffineCouplingTransform(-half, _STNet)])
    params, _ = stack_module_state([copy.deepcopy(base) for _ in range(k)])
    params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    # nflows keeps the split as integer index buffers and assigns with them in place
    # (coupling.py l. 95). Stacked and vmapped like the parameters (stack_module_state's
    # recipe), they become batched indices and that assignment fails with a shape mismatch;
    # shared unbatched (in_dims=None) they work.
    buffers = dict(base.named_buffers())

    def call(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], hi: torch.Tensor,
             ci: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return functional_call(base, (p, b), (hi,), {"context": ci})

    batched = torch.vmap(call, in_dims=(0, None, 0, 0))

    def step() -> None:
        for p in params.values():
            p.grad = None
        y, logdet = batched(params, buffers, h, ctx)
        (y.square().mean() + logdet.mean()).backward()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skills", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=50, help="forward+backward calls per round")
    p.add_argument("--json", action="store_true", help="print only the final JSON line")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.skills, BATCH, IN)
    h, ctx = torch.randn(a.skills, BATCH, D), torch.randn(a.skills, BATCH, EMBED)
    steps = {"baddbmm": stacked_step(a.skills, x), "vmap": vmap_step(a.skills, x),
             "flow_flat": flow_flat_step(a.skills, h, ctx), "flow_vmap": flow_vmap_step(a.skills, h, ctx)}
    counts = {name: 0 for name in steps}
    steps = {name: counted(step, counts, name) for name, step in steps.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        for _ in range(WARMUP):
            step()
    for _ in range(a.rounds):
        for name, step in steps.items():
            t = time.perf_counter()
            for _ in range(a.calls):
                step()
            times[name].append((time.perf_counter() - t) / a.calls)
    ms = {name: 1e3 * statistics.median(v) for name, v in times.items()}
    result = {"skills": a.skills, "threads": a.threads, "baddbmm_ms": ms["baddbmm"], "vmap_ms": ms["vmap"],
              "vmap_over_baddbmm": ms["vmap"] / ms["baddbmm"], "flow_flat_ms": ms["flow_flat"],
              "flow_vmap_ms": ms["flow_vmap"], "flow_vmap_over_flat": ms["flow_vmap"] / ms["flow_flat"],
              "rounds": a.rounds, "calls_per_round": a.calls, "warmup_calls": WARMUP, "calls_run": counts}
    if not a.json:
        print(f"K={a.skills} MLP: baddbmm {ms['baddbmm']:.2f} ms, vmap {ms['vmap']:.2f} ms per forward+backward")
        print(f"K={a.skills} flow: flattened batch {ms['flow_flat']:.2f} ms, vmap {ms['flow_vmap']:.2f} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
