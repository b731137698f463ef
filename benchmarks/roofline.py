"""How close is one SAC update to this machine's GEMM roofline?

Three measurements, alternated in rounds so that machine noise hits them alike:

1. **GEMM throughput** (GFLOP/s) of every matrix product one update runs, at its exact shape and
   layout: the stacked ``baddbmm`` forward ``x @ W`` of each layer, and the two ``bmm`` of its
   backward as autograd issues them (weight gradient ``x^T @ g``, input gradient ``g @ W^T``),
   in fp32 and in bf16.
2. The **FLOPs of one update**, counted from the networks' shapes (2·m·n·k per GEMM; see
   :func:`update_gemms` for every term).
3. The **actual update time**: ``agent.update(buffer.sample(256))`` of a ``SACAgent`` built like
   the trainer builds it, on a filled ``ReplayBuffer`` (the approach of ``sac_update.py``).

The GEMM-only bound of an update is ``sum_i FLOPs_i / throughput_i`` over its GEMMs: the time it
would take if it did nothing but its matrix products, each at the speed this machine reaches at
that shape. Reported: ``share = bound / update time`` (1.0 = at the roofline; the rest is
elementwise ops, optimizer, sampling, dispatch). Every round gives one share; the median and the
spread over rounds are printed.

    python benchmarks/roofline.py                              # K = 1 and 16, Gaussian and Real-NVP, fp32 and bf16
    python benchmarks/roofline.py --skills 16 --policies gaussian --precisions fp32 --json
    python benchmarks/roofline.py --quick                      # a smoke run (seconds)
    python benchmarks/roofline.py --skills 1 --precisions fp32 --sb3 --json   # with the ceiling vs SB3

With ``--sb3``, Stable-Baselines3's ``SAC.train()`` (HalfCheetah-v5 sizes) is timed in the same rounds,
and every config also reports its ratio vs SB3 per skill now (``K * t_SB3 / t_update``) and at its
GEMM-only bound (``K * t_SB3 / bound``): the **ceiling**, the ratio an update that ran only these GEMMs,
each as fast as this machine runs it alone, would reach. Both are paired by round (the medians of the
per-round values, so the median ratio over the median share need not equal the median ceiling).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from softskills.skills.buffer import ReplayBuffer
from softskills.skills.config import TrainConfig
from softskills.skills.factory import build_agent
from softskills.skills.memory import retain_freed_memory

from bench_machine import machine_info  # benchmarks/bench_machine.py, beside this script

BATCH = 256
HIDDEN = 256
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


# ----------------------------------------------------------------------------- FLOP count

@dataclass(frozen=True)
class Gemm:
    """One batched matrix product of the update: ``n`` members of ``(rows x fan_in) @ (fan_in x fan_out)``.

    ``op`` says which product and so which layout it runs in: ``fwd`` is the layer's
    ``baddbmm(b, x, W)``, ``wgrad`` the weight gradient ``x^T @ g`` (``(n, fan_in, rows) @ (n, rows,
    fan_out)``), ``igrad`` the input gradient ``g @ W^T`` (``(n, rows, fan_out) @ (n, fan_out, fan_in)``).
    All three cost ``2 * n * rows * fan_in * fan_out`` FLOPs.
    """

    what: str
    op: str
    n: int
    rows: int
    fan_in: int
    fan_out: int

    @property
    def flops(self) -> int:
        return 2 * self.n * self.rows * self.fan_in * self.fan_out

    @property
    def shape_key(self) -> tuple[str, int, int, int, int]:
        return (self.op, self.n, self.rows, self.fan_in, self.fan_out)


def mlp_pass(what: str, n: int, sizes: Sequence[int], rows: int, *, backward: bool, weight_grad: bool,
             input_grad: bool) -> list[Gemm]:
    """The GEMMs of one pass through an ``n``-stacked MLP with layer widths ``sizes``.

    Forward: one ``fwd`` per layer. If gradients flow back through the pass (``backward``):
    a ``wgrad`` per layer when the weights are trainable here (``weight_grad``), an ``igrad`` per
    layer except the first, and the first layer's ``igrad`` only when the network's input itself
    needs a gradient (``input_grad``; autograd skips it for data such as observations).
    """
    layers = list(zip(sizes[:-1], sizes[1:]))
    out = [Gemm(f"{what} L{i + 1}", "fwd", n, rows, a, b) for i, (a, b) in enumerate(layers)]
    if backward:
        if weight_grad:
            out += [Gemm(f"{what} L{i + 1}", "wgrad", n, rows, a, b) for i, (a, b) in enumerate(layers)]
        out += [Gemm(f"{what} L{i + 1}", "igrad", n, rows, a, b) for i, (a, b) in enumerate(layers)
                if i > 0 or input_grad]
    return out


def policy_pass(what: str, policy: str, k: int, obs: int, act: int, *, backward: bool) -> list[Gemm]:
    """The GEMMs of one ``policy.sample`` of K skills (``backward``: gradients flow to its weights).

    Gaussian: trunk ``obs -> 256 -> 256 -> 2|A|`` (mean and log-std), K members.
    Real-NVP: the same-shaped observation embedding ``obs -> 256 -> 256 -> 2|A|``, then per
    coupling one stacked conditioner (s- and t-net side by side) ``(D_a + 2|A|) -> 2H -> 2 D_b``
    with ``H = |A|`` (one hidden layer of |A| units, the original's, which :class:`UpdateBench`
    builds), ``D_b`` the transformed half and ``D_a = |A| - D_b``; its second layer is
    block-diagonal but runs as one full GEMM (counted as run). The conditioner's input includes
    the embedding, which needs a gradient, so its first layer's ``igrad`` is counted on the
    gradient path.
    """
    hid = (HIDDEN, HIDDEN)
    if policy == "gaussian":
        return mlp_pass(f"{what} trunk", k, (obs, *hid, 2 * act), BATCH, backward=backward, weight_grad=backward,
                        input_grad=False)
    gemms = mlp_pass(f"{what} embed", k, (obs, *hid, 2 * act), BATCH, backward=backward, weight_grad=backward,
                     input_grad=False)
    for i in range(2):  # TrainConfig.flow_coupling_layers default
        half = act // 2
        d_b = (half if i % 2 == 0 else act - half) if act > 1 else 1
        d_a = act - d_b if act > 1 else 0
        gemms += mlp_pass(f"{what} coupling{i + 1}", k, (d_a + 2 * act, 2 * act, 2 * d_b), BATCH,
                          backward=backward, weight_grad=backward, input_grad=True)
    return gemms


def update_gemms(policy: str, k: int, obs: int, act: int) -> list[Gemm]:
    """Every GEMM of one ``SACAgent.update`` of K skills (batch 256, 2x256 MLPs, twin Q), in order.

    1. target: ``policy.sample(s')`` under ``no_grad`` (forward only), then the 2K target critics
       ``(obs+act) -> 256 -> 256 -> 1`` on ``(s', a')`` (forward only);
    2. critic loss: the 2K online critics on ``(s, a)``: forward, weight gradients of all layers,
       input gradients of layers 2 and 3 (``(s, a)`` is data);
    3. actor: ``policy.sample(s)``: forward, weight gradients, input gradients but none into ``s``;
    4. actor loss: the 2K critics at ``(s, pi(s))`` through **detached** weights: forward and the
       input gradients of all three layers (down to the action), no weight gradients.
    The temperature loss reuses ``log pi`` (no GEMM). ``Q`` has 2K members because the twins are
    stacked with the skills.
    """
    critic = (obs + act, HIDDEN, HIDDEN, 1)
    return [
        *policy_pass("target policy(s')", policy, k, obs, act, backward=False),
        *mlp_pass("target critic(s',a')", 2 * k, critic, BATCH, backward=False, weight_grad=False, input_grad=False),
        *mlp_pass("critic(s,a)", 2 * k, critic, BATCH, backward=True, weight_grad=True, input_grad=False),
        *policy_pass("policy(s)", policy, k, obs, act, backward=True),
        *mlp_pass("critic(s,pi(s)) detached", 2 * k, critic, BATCH, backward=True, weight_grad=False,
                  input_grad=True),
    ]


def sb3_gemms(obs: int, act: int) -> list[Gemm]:
    """The GEMMs of one Stable-Baselines3 ``SAC.train()`` step: those of :func:`update_gemms` at K = 1
    (Gaussian) plus the twin critics' weight gradients in the actor's backward. SB3 leaves the critics
    trainable while the actor loss backpropagates through them, so autograd computes those gradients,
    and the next critic ``zero_grad`` discards them."""
    critic = (obs + act, HIDDEN, HIDDEN, 1)
    wasted = [g for g in mlp_pass("critic(s,pi(s)) weights", 2, critic, BATCH, backward=True, weight_grad=True,
                                  input_grad=True) if g.op == "wgrad"]
    return [*update_gemms("gaussian", 1, obs, act), *wasted]


# ----------------------------------------------------------------------------- timing

def gemm_call(g: Gemm, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """A call that runs ``g`` once, with the layout autograd uses for it."""
    gen = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=gen).to(dtype)  # noqa: E731
    n, m, a, b = g.n, g.rows, g.fan_in, g.fan_out
    if g.op == "fwd":
        x, w, bias = r(n, m, a), r(n, a, b), r(n, 1, b)
        return lambda: torch.baddbmm(bias, x, w)
    if g.op == "wgrad":  # d(x @ W)/dW: x^T @ grad, x stored (n, rows, in)
        x, grad = r(n, m, a), r(n, m, b)
        return lambda: torch.bmm(x.transpose(1, 2), grad)
    grad, w = r(n, m, b), r(n, a, b)  # igrad: grad @ W^T, W stored (n, in, out)
    return lambda: torch.bmm(grad, w.transpose(1, 2))


def time_calls(call: Callable[[], object], min_s: float, min_calls: int = 3) -> tuple[float, int]:
    """Seconds per call (at least ``min_calls`` calls and ``min_s`` seconds), and the calls made."""
    call()
    n, t0 = 0, time.perf_counter()
    while True:
        call()
        n += 1
        dt = time.perf_counter() - t0
        if n >= min_calls and dt >= min_s:
            return dt / n, n


class UpdateBench:
    """A warmed-up ``agent.update(buffer.sample(256))`` of K skills on a filled replay buffer.

    Real-NVP is built with the s/t-nets that :func:`policy_pass` counts, one layer of |A| units
    (``flow_st_hidden=()``, the original's), not ``TrainConfig``'s 64-unit default, so that the timed
    update and its GEMM bound are of the same network.
    """

    def __init__(self, policy: str, k: int, precision: str, obs: int, act: int) -> None:
        cfg = TrainConfig(skills=k, policy=policy, precision=precision, batch_size=BATCH, flow_st_hidden=())
        self.agent = build_agent(cfg, obs, act)
        self.agent.rebuild_optimizer()
        self.buffer = ReplayBuffer(k, 5000, obs, act)
        g = torch.Generator().manual_seed(0)
        for _ in range(5):
            self.buffer.add(torch.randn(k, 1000, obs, generator=g), torch.rand(k, 1000, act, generator=g) * 2 - 1,
                            torch.randn(k, 1000, generator=g), torch.randn(k, 1000, obs, generator=g),
                            torch.zeros(k, 1000))
        for _ in range(3):
            self.step()

    def step(self) -> None:
        self.agent.update(self.buffer.sample(BATCH))

    def optimizer_steps(self) -> int:
        """Adam steps taken so far (the agent's own count of updates)."""
        return max(int(s["step"]) for s in self.agent.optimizer.state.values())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skills", type=int, nargs="+", default=[1, 16])
    p.add_argument("--policies", nargs="+", default=["gaussian", "realnvp"], choices=["gaussian", "realnvp"])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES))
    p.add_argument("--obs-dim", type=int, default=17, help="observation width (HalfCheetah-v5: 17)")
    p.add_argument("--act-dim", type=int, default=6, help="action width (HalfCheetah-v5: 6)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--update-s", type=float, default=1.0, help="seconds of updates per config per round")
    p.add_argument("--gemm-s", type=float, default=0.02, help="seconds per GEMM shape per round")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, short timings")
    p.add_argument("--no-retain-freed-memory", action="store_true",
                   help="leave glibc's malloc settings alone (default: retain_freed_memory, as the trainer does)")
    p.add_argument("--sb3", action="store_true",
                   help="also time Stable-Baselines3's SAC.train() in the same rounds and report each config's "
                        "ratio vs SB3 now and at its GEMM-only bound (needs pip install -e .[bench])")
    p.add_argument("--json", action="store_true", help="print only the final JSON line")
    a = p.parse_args()
    if a.sb3 and (a.obs_dim, a.act_dim) != (17, 6):
        p.error(f"--sb3 times SB3 on HalfCheetah-v5 (obs 17, act 6); got --obs-dim {a.obs_dim} --act-dim {a.act_dim}")
    if a.quick:
        a.rounds, a.update_s, a.gemm_s = 1, 0.05, 0.002
    torch.set_num_threads(a.threads)
    retained = False if a.no_retain_freed_memory else retain_freed_memory()
    machine = machine_info()
    say = (lambda *x: None) if a.json else print  # noqa: E731
    obs, act = a.obs_dim, a.act_dim
    configs = [(pol, k, prec) for k in a.skills for pol in a.policies for prec in a.precisions]
    plans = {(pol, k): update_gemms(pol, k, obs, act) for pol, k, _ in configs}
    shapes = sorted({g.shape_key for plan in plans.values() for g in plan})
    by_key = {g.shape_key: g for plan in plans.values() for g in plan}
    precs = sorted({prec for *_, prec in configs}, key=list(DTYPES).index)
    calls = {(key, prec): gemm_call(by_key[key], DTYPES[prec]) for key in shapes for prec in precs}
    benches = {c: UpdateBench(c[0], c[1], c[2], obs, act) for c in configs}
    sb3, sb3_n = None, 0
    sb3_s: list[float] = []  # seconds per SB3 update, one entry per round
    if a.sb3:
        from sac_update import make_sb3, time_sb3  # benchmarks/sac_update.py, beside this script

        sb3 = make_sb3()
        sb3_n = max(3, round(a.update_s / time_sb3(sb3, 5)))  # as many updates as a.update_s holds
    start_steps = {c: b.optimizer_steps() for c, b in benches.items()}
    updates_timed = {c: 0 for c in configs}
    gemm_s: dict[tuple[Any, str], list[float]] = {kp: [] for kp in calls}
    update_s: dict[tuple[str, int, str], list[float]] = {c: [] for c in configs}
    for r in range(a.rounds):
        for (key, prec), call in calls.items():
            gemm_s[key, prec].append(time_calls(call, a.gemm_s)[0])
        for c, bench in benches.items():
            t, n = time_calls(bench.step, a.update_s, min_calls=2)
            update_s[c].append(t)
            updates_timed[c] += n + 1  # time_calls runs one untimed call first
        if sb3 is not None:
            sb3_s.append(time_sb3(sb3, sb3_n))
        say(f"round {r + 1}/{a.rounds} done")

    def bound(plan: list[Gemm], prec: str, r: int) -> float:
        """Seconds of round ``r``: every GEMM's FLOPs over the throughput measured at its shape in that round."""
        total = 0.0
        for g in plan:
            throughput = by_key[g.shape_key].flops / gemm_s[g.shape_key, prec][r]
            total += g.flops / throughput
        return total

    rows = []
    for c in configs:
        pol, k, prec = c
        plan = plans[pol, k]
        flops = sum(g.flops for g in plan)
        shares = [bound(plan, prec, r) / update_s[c][r] for r in range(a.rounds)]
        t_upd = statistics.median(update_s[c])
        t_bound = statistics.median(bound(plan, prec, r) for r in range(a.rounds))
        rows.append({
            "policy": pol, "skills": k, "precision": prec, "gemms_per_update": len(plan),
            "flops_per_update": flops, "update_ms": 1e3 * t_upd, "update_gflops": flops / t_upd / 1e9,
            "gemm_bound_ms": 1e3 * t_bound, "gemm_bound_gflops": flops / t_bound / 1e9,
            "share_of_bound": statistics.median(shares),
            "share_spread": {"min": min(shares), "max": max(shares)},
            "updates_run": benches[c].optimizer_steps() - start_steps[c], "updates_timed": updates_timed[c],
            "update_ms_rounds": [1e3 * t for t in update_s[c]],
            "gemm_bound_ms_rounds": [1e3 * bound(plan, prec, r) for r in range(a.rounds)],
        })
        if sb3_s:  # per skill, as sac_update.py: K skills per update against SB3's one; paired by round
            ratios = [k * sb3_s[r] / update_s[c][r] for r in range(a.rounds)]
            ceilings = [k * sb3_s[r] / bound(plan, prec, r) for r in range(a.rounds)]
            rows[-1].update({
                "sb3_update_ms": 1e3 * statistics.median(sb3_s),
                "ratio_vs_sb3_paired": statistics.median(ratios), "ratio_vs_sb3_rounds": ratios,
                "ceiling_vs_sb3_paired": statistics.median(ceilings), "ceiling_vs_sb3_rounds": ceilings,
                "ceiling_vs_sb3_spread": {"min": min(ceilings), "max": max(ceilings)},
            })
    # The headline GEMM rates: forward of the 256x256 hidden layers, critic (2K members) and policy (K).
    gemm_rates = {}
    for prec in precs:
        for k in a.skills:
            for label, n in (("critic", 2 * k), ("policy", k)):
                key = ("fwd", n, BATCH, HIDDEN, HIDDEN)
                if (key, prec) in gemm_s:
                    gemm_rates[f"{prec} K={k} {label} 256x256 fwd"] = (
                        by_key[key].flops / statistics.median(gemm_s[key, prec]) / 1e9)
    per_shape = {f"{prec} {op} n={n} {m}x{fi}->{fo}": by_key[(op, n, m, fi, fo)].flops
                 / statistics.median(gemm_s[(op, n, m, fi, fo), prec]) / 1e9
                 for (op, n, m, fi, fo), prec in calls}
    result = {
        "obs_dim": obs, "act_dim": act, "batch_size": BATCH, "threads": a.threads, "rounds": a.rounds,
        "retain_freed_memory": retained,
        "configs": rows, "gemm_gflops": gemm_rates, "gemm_gflops_per_shape": per_shape,
        "sb3": None if sb3 is None else {"updates_per_round": sb3_n, "update_ms_rounds": [1e3 * t for t in sb3_s],
                                         "updates_run": sb3._n_updates,  # SB3's own count, the 5 calibration ones too
                                         "flops_per_update": sum(g.flops for g in sb3_gemms(obs, act))},
        "machine": {**machine, "loadavg_1min_at_end": round(os.getloadavg()[0], 2)},
    }
    if not a.json:
        m = result["machine"]
        print(f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, AVX512_BF16: {m['avx512_bf16']}, "
              f"{a.threads} threads")
        for name, v in gemm_rates.items():
            print(f"  GEMM {name}: {v:.1f} GFLOP/s")
        print(f"{'policy':9} {'K':>3} {'prec':5} {'MFLOP':>8} {'update ms':>10} {'GFLOP/s':>8} "
              f"{'bound ms':>9} {'share':>6}  spread")
        for row in rows:
            s = row["share_spread"]
            print(f"{row['policy']:9} {row['skills']:>3} {row['precision']:5} {row['flops_per_update'] / 1e6:8.1f} "
                  f"{row['update_ms']:10.2f} {row['update_gflops']:8.1f} {row['gemm_bound_ms']:9.2f} "
                  f"{row['share_of_bound']:6.2f}  [{s['min']:.2f}, {s['max']:.2f}]")
            if "ceiling_vs_sb3_paired" in row:
                print(f"{'':9} vs SB3 ({row['sb3_update_ms']:.2f} ms/update): {row['ratio_vs_sb3_paired']:.2f}x "
                      f"per skill now, {row['ceiling_vs_sb3_paired']:.2f}x at the GEMM-only bound")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
