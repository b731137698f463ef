"""Time the SAC update alone: softskills (K stacked skills) against Stable-Baselines3 in the same run.

Setting (performance.md §8): HalfCheetah-v5 sizes (obs 17, act 6), batch 256, 2x256 MLPs, twin Q,
automatic temperature, one update = sample a batch + all losses + optimizer step + target update.
SB3 is timed through ``SAC.train(gradient_steps=n)`` with its own replay buffer. Rounds alternate
between the contenders so that machine noise hits all of them; each contender is built and warmed
up once. Reported: the median round of each, their ratio, and the median of the per-round ratios
(``*_paired``, the more robust one on a shared machine).

    python benchmarks/sac_update.py --skills 1 --policy gaussian
    python benchmarks/sac_update.py --skills 16 --json

Stable-Baselines3 is a benchmark extra (``pip install -e .[bench]``), never a dependency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from softskills.skills.buffer import ReplayBuffer
from softskills.skills.config import TrainConfig
from softskills.skills.factory import build_agent
from softskills.skills.memory import retain_freed_memory

OBS, ACT, BATCH = 17, 6, 256
WARMUP = 10  # untimed updates before the rounds


def make_softskills(skills: int, policy: str, device: str, precision: str, graph: bool,
                    flow_st_hidden: tuple[int, ...] = TrainConfig.flow_st_hidden, fast_path: bool = True,
                    compile: bool = False, compile_mode: str | None = None) -> tuple[Callable[[], object], torch.nn.Module]:
    """A warmed-up ``step()`` that runs one update of all K skills on a filled replay buffer, and its agent.

    ``fast_path=False`` times the plain route (``TrainConfig.fast_path``); ``compile`` the
    ``torch.compile``d update (``TrainConfig.compile``; its compile time is in the warm-up) with
    ``torch.compile`` mode ``compile_mode``. ``agent.setup_s`` is the time from the filled buffer to
    the first finished update (compilation and, on CUDA, graph capture included).
    """
    cfg = TrainConfig(skills=skills, policy=policy, precision=precision, device=device,
                      flow_st_hidden=flow_st_hidden, fast_path=fast_path, compile=compile)
    agent = build_agent(cfg, OBS, ACT).to(device)
    agent.rebuild_optimizer()
    agent.fast_path = cfg.fast_path
    agent.compile_mode = compile_mode
    buf = ReplayBuffer(skills, 10_000, OBS, ACT, device)
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        x = lambda *s: torch.randn(skills, 1000, *s, generator=g).to(device)  # noqa: E731
        buf.add(x(OBS), torch.rand(skills, 1000, ACT, generator=g).to(device) * 2 - 1, x(), x(OBS),
                torch.zeros(skills, 1000, device=device))
    t_setup = time.perf_counter()
    if device.startswith("cuda") and graph:
        from softskills.skills.graph import GraphedUpdate

        step: Callable[[], object] = GraphedUpdate(agent, buf, BATCH, compile=compile)
    elif compile:
        step = lambda: agent.compiled_update(buf.sample(BATCH))  # noqa: E731
    else:
        step = lambda: agent.update(buf.sample(BATCH))  # noqa: E731
    t = time.perf_counter()
    step()
    agent.first_update_s = time.perf_counter() - t  # includes the compilation with ``compile`` (off the graph)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    agent.setup_s = time.perf_counter() - t_setup
    for _ in range(WARMUP - 1):
        step()
    return step, agent


def optimizer_steps(agent: torch.nn.Module) -> int:
    """Adam steps the agent took so far: its own count of updates, independent of the loops here."""
    return max(int(s["step"]) for s in agent.optimizer.state.values())


def time_steps(step: Callable[[], object], n: int, device: str) -> float:
    """Seconds per call of ``step`` over ``n`` calls (synchronised on CUDA)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return (time.perf_counter() - t) / n


def make_sb3():  # type: ignore[no-untyped-def]
    import gymnasium as gym
    from stable_baselines3 import SAC

    model = SAC("MlpPolicy", gym.make("HalfCheetah-v5"), batch_size=BATCH, learning_starts=10**9,
                device="cpu", verbose=0, seed=0)
    model.learn(2000)  # fills the buffer; learning_starts keeps it from training
    return model


def time_sb3(model, n: int) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    model.train(gradient_steps=n, batch_size=BATCH)
    return (time.perf_counter() - t) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skills", type=int, default=1, help="K stacked skills per update")
    p.add_argument("--policy", default="gaussian", choices=["gaussian", "realnvp"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads for both libraries")
    p.add_argument("--updates", type=int, default=0, help="updates per round (default: scaled to K)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--no-graph", action="store_true", help="on CUDA, run the update eagerly")
    p.add_argument("--no-sb3", action="store_true", help="skip the Stable-Baselines3 peer")
    p.add_argument("--flow-st-hidden", type=int, nargs="*", default=None,
                   help="Real-NVP s/t-net hidden widths (default: TrainConfig's, 64 units; "
                        "no value: one layer of |A| units, the original's)")
    p.add_argument("--compare-policy", default="", help="also time this policy and report the ratio")
    p.add_argument("--no-fast-path", action="store_true", help="time the plain route (TrainConfig.fast_path=False)")
    p.add_argument("--compile", action="store_true", help="time the torch.compile'd update (TrainConfig.compile; on CUDA the trainer's default, "
                        "TrainConfig.graph_compile; without it the eager graph is timed)")
    p.add_argument("--compile-mode", default=None,
                   help="torch.compile mode with --compile (e.g. max-autotune-no-cudagraphs; default: inductor's)")
    p.add_argument("--compare-plain", action="store_true",
                   help="also time the plain route (fast_path=False, not compiled) and report the ratio")
    p.add_argument("--no-retain-freed-memory", action="store_true",
                   help="leave glibc's malloc settings alone (default: softskills.skills.memory.retain_freed_memory, "
                        "the trainer's default, set once for the whole process and so for both libraries)")
    p.add_argument("--json", action="store_true", help="print only the final JSON line")
    a = p.parse_args()
    if a.compile_mode and not a.compile:
        p.error("--compile-mode needs --compile")
    torch.set_num_threads(a.threads)
    retained = False if a.no_retain_freed_memory else retain_freed_memory()
    n = a.updates or max(10, 200 // a.skills) if a.device == "cpu" else (a.updates or 500)
    sb3 = None
    if not a.no_sb3:
        try:
            sb3 = make_sb3()
        except ImportError:
            print("stable-baselines3 is not installed (pip install -e .[bench]); skipping the peer")
    st = TrainConfig.flow_st_hidden if a.flow_st_hidden is None else tuple(a.flow_st_hidden)
    fast = not a.no_fast_path
    ours_step, ours_agent = make_softskills(a.skills, a.policy, a.device, a.precision, not a.no_graph, st,
                                            fast, a.compile, a.compile_mode)
    other_step, other_agent = (make_softskills(a.skills, a.compare_policy, a.device, a.precision, not a.no_graph, st,
                                               fast, a.compile, a.compile_mode)
                               if a.compare_policy else (None, None))
    plain_step, _ = (make_softskills(a.skills, a.policy, a.device, a.precision, not a.no_graph, st, False)
                     if a.compare_plain else (None, None))
    ours, peer, other, plain = [], [], [], []
    for _ in range(a.rounds):  # alternate, so that machine noise hits every contender alike
        ours.append(time_steps(ours_step, n, a.device))
        if other_step is not None:
            other.append(time_steps(other_step, n, a.device))
        if plain_step is not None:
            plain.append(time_steps(plain_step, n, a.device))
        if sb3 is not None:
            peer.append(time_sb3(sb3, max(20, min(n, 100))))
    t = statistics.median(ours)
    result = {
        "skills": a.skills,
        "policy": a.policy,
        "device": a.device,
        "precision": a.precision,
        "threads": a.threads,
        "retain_freed_memory": retained,
        "updates_per_s": 1.0 / t,
        "per_skill_updates_per_s": a.skills / t,
        "rounds": a.rounds,
        "updates_per_round": n,
        "warmup_updates": WARMUP,
        "optimizer_steps": optimizer_steps(ours_agent),
        "fast_path": fast,
        "compile": a.compile,
        "compile_mode": a.compile_mode,
        "first_update_s": ours_agent.first_update_s,
        "setup_s": ours_agent.setup_s,
        "updates_per_s_rounds": [1.0 / x for x in ours],
    }
    if plain_step is not None:
        result["plain_updates_per_s"] = 1.0 / statistics.median(plain)
        result["speedup_vs_plain_paired"] = statistics.median(tp / to for to, tp in zip(ours, plain))
        result["speedup_vs_plain_rounds"] = [tp / to for to, tp in zip(ours, plain)]
    if sb3 is not None:
        tp = statistics.median(peer)
        result["sb3_updates_per_s"] = 1.0 / tp
        result["ratio_vs_sb3"] = (a.skills / t) * tp
        # the median over rounds of the per-round ratio: robust to slow phases of a shared machine
        result["ratio_vs_sb3_paired"] = statistics.median(
            a.skills * t_sb3 / t_ours for t_ours, t_sb3 in zip(ours, peer))
        result["ratio_vs_sb3_rounds"] = [a.skills * t_sb3 / t_ours for t_ours, t_sb3 in zip(ours, peer)]
    if a.compare_policy:
        result[f"{a.compare_policy}_per_skill_updates_per_s"] = a.skills / statistics.median(other)
        result[f"{a.compare_policy}_optimizer_steps"] = optimizer_steps(other_agent)
        result[f"time_ratio_{a.policy}_vs_{a.compare_policy}"] = t / statistics.median(other)
        result[f"time_ratio_{a.policy}_vs_{a.compare_policy}_paired"] = statistics.median(
            t_ours / t_other for t_ours, t_other in zip(ours, other))
    if not a.json:
        print(f"softskills {a.policy} K={a.skills} {a.precision} on {a.device}: {t * 1e3:.2f} ms/update, "
              f"{result['per_skill_updates_per_s']:.1f} skill-updates/s")
        if sb3 is not None:
            print(f"SB3 SAC.train(): {result['sb3_updates_per_s']:.1f} updates/s; "
                  f"ratio per skill: {result['ratio_vs_sb3']:.2f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
