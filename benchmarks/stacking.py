"""Stacked weights with ``baddbmm`` against ``torch.func`` + ``vmap``: which way to batch K networks.

The core keeps K skills' weights as ``(K, in, out)`` tensors and runs one ``baddbmm`` per layer
(:class:`softskills.skills.nn.StackedMLP`). The alternative is K ordinary ``nn.Sequential`` MLPs
stacked with ``torch.func.stack_module_state`` and evaluated with ``vmap(functional_call)``.
This times forward + backward of both on the same (K, B, in) input, alternating rounds.

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

from softskills.skills.nn import StackedMLP

IN, HIDDEN, OUT, BATCH = 23, 256, 2, 256  # a HalfCheetah critic: obs 17 + act 6 -> Q


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
    steps = {"baddbmm": stacked_step(a.skills, x), "vmap": vmap_step(a.skills, x)}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        for _ in range(5):
            step()
    for _ in range(a.rounds):
        for name, step in steps.items():
            t = time.perf_counter()
            for _ in range(a.calls):
                step()
            times[name].append((time.perf_counter() - t) / a.calls)
    ms = {name: 1e3 * statistics.median(v) for name, v in times.items()}
    result = {"skills": a.skills, "threads": a.threads, "baddbmm_ms": ms["baddbmm"], "vmap_ms": ms["vmap"],
              "vmap_over_baddbmm": ms["vmap"] / ms["baddbmm"]}
    if not a.json:
        print(f"K={a.skills}: baddbmm {ms['baddbmm']:.2f} ms, vmap {ms['vmap']:.2f} ms per forward+backward")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
