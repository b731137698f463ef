"""The fast path computes bitwise the same run as the plain path; the compiled update matches eager.

The fast path (``TrainConfig.fast_path``, default on) is one fused Adam call over all parameter
groups, acting without the log-density under ``inference_mode``, one host-to-tensor conversion
per env step into the flat replay storage, and vectorised action scaling. None of it may change a
bit: every comparison here is ``torch.equal``. The compiled update (``TrainConfig.compile``)
reorders floating-point sums, so it is compared with a stated tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from softskills.skills.agent_common import FusedAdamStep
from softskills.skills.buffer import ReplayBuffer
from softskills.skills.config import TrainConfig
from softskills.skills.factory import build_agent
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer
from softskills.skills.vec import SkillEnvs, make_env, scale_action
from tests.skills.helpers import assert_same, params

OBS, ACT, K = 5, 3, 2


def _filled_buffer(k: int = K) -> ReplayBuffer:
    buf = ReplayBuffer(k, 1000, OBS, ACT)
    g = torch.Generator().manual_seed(1)
    x = lambda *s: torch.randn(k, 1000, *s, generator=g)  # noqa: E731
    buf.add(x(OBS), torch.rand(k, 1000, ACT, generator=g) * 2 - 1, x(), x(OBS),
            (torch.rand(k, 1000, generator=g) < 0.1).float())
    return buf


def _agent_after_updates(fast: bool, policy: str, sac: SACConfig, updates: int = 20,
                         compiled: bool = False, squash: bool = True) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """State (weights, targets, alpha, Adam moments and steps) after ``updates`` updates, and the
    stochastic actions taken after each update."""
    torch.manual_seed(0)
    cfg = TrainConfig(skills=K, policy=policy, sac=sac, flow_embed_hidden=(32, 32))
    agent = build_agent(cfg, OBS, ACT, squash=squash)
    agent.fast_path = fast
    buf = _filled_buffer()
    acts = []
    for _ in range(updates):
        batch = buf.sample(64)
        agent.compiled_update(batch) if compiled else agent.update(batch)
        acts.append(agent.act(buf.sample(4).obs))
    state = {f"agent/{k}": v.detach().clone() for k, v in agent.state_dict().items()}
    for i, st in enumerate(agent.optimizer.state.values()):
        state.update({f"adam/{i}/{k}": v.clone() for k, v in st.items()})
    return state, acts


@pytest.mark.parametrize("policy", ["gaussian", "realnvp"])
@pytest.mark.parametrize("lrs", [(3e-4, 3e-4, 3e-4), (1e-3, 3e-4, 1e-2)], ids=["one-call", "per-group"])
def test_fast_update_equals_plain_after_20_updates(policy: str, lrs: tuple[float, float, float]) -> None:
    """Equal learning rates take the single fused call, distinct ones a call per group: both bitwise."""
    sac = SACConfig(hidden=(32, 32), q_lr=lrs[0], policy_lr=lrs[1], alpha_lr=lrs[2])
    plain, plain_acts = _agent_after_updates(False, policy, sac)
    fast, fast_acts = _agent_after_updates(True, policy, sac)
    assert len(fast) > 3 * len(plain) // 4 and any(k.startswith("adam/") for k in fast)
    assert_same(plain, fast)
    for a, b in zip(plain_acts, fast_acts):
        assert torch.equal(a, b)


def test_fused_adam_step_takes_one_call_and_falls_back() -> None:
    """Shared hyperparameters: one ``_fused_adam_`` call for all groups; a capturable group falls back."""
    torch.manual_seed(0)
    agent = build_agent(TrainConfig(skills=1, sac=SACConfig(hidden=(8,))), OBS, ACT)
    buf = _filled_buffer(1)
    agent.update(buf.sample(16))  # creates the Adam state
    calls = []
    real = torch._fused_adam_

    def counting(*args: object, **kwargs: object) -> None:
        calls.append(len(args[0]))  # type: ignore[arg-type]
        real(*args, **kwargs)

    torch._fused_adam_ = counting  # type: ignore[assignment]
    try:
        agent.update(buf.sample(16))
        assert calls == [len(list(agent.parameters()))]
        step = FusedAdamStep(agent.optimizer)
        agent.optimizer.param_groups[1]["capturable"] = True  # not exact any more: fall back
        assert not step._fast_ok()
    finally:
        torch._fused_adam_ = real  # type: ignore[assignment]


def test_buffer_add_rows_equals_add() -> None:
    """Packed rows land in the same fields as five separate tensors, also across the wrap."""
    a, b = ReplayBuffer(2, 5, OBS, ACT), ReplayBuffer(2, 5, OBS, ACT)
    g = torch.Generator().manual_seed(0)
    for _ in range(4):
        obs, act, nxt = torch.randn(2, 2, OBS, generator=g), torch.randn(2, 2, ACT, generator=g), \
            torch.randn(2, 2, OBS, generator=g)
        rew, term = torch.randn(2, 2, generator=g), (torch.rand(2, 2, generator=g) < 0.5).float()
        a.add(obs, act, rew, nxt, term)
        b.add_rows(torch.cat([obs, act, rew[..., None], nxt, term[..., None]], dim=-1))
    assert (a.ptr, a.size) == (b.ptr, b.size) == (3, 5)
    for name in a.storage:
        assert torch.equal(a.storage[name], b.storage[name]), name
    torch.manual_seed(3)
    x = a.sample(7)
    torch.manual_seed(3)
    y = b.sample(7)
    for u, v in zip(x, y):
        assert torch.equal(u, v)
    # one gather for all fields: every sampled row is one whole stored transition of its own skill
    for k in range(2):
        stored = torch.cat([a.storage["obs"][k], a.storage["rew"][k, :, None], a.storage["next_obs"][k]], -1)
        got = torch.cat([x.obs[k], x.rew[k, :, None], x.next_obs[k]], -1)
        assert all((stored == row).all(-1).any() for row in got)


def test_vectorised_action_scaling_equals_per_env() -> None:
    """``SkillEnvs.step`` scales all K x N actions at once; the envs get what env-by-env scaling gave."""
    envs = SkillEnvs([lambda: make_env("Pendulum-v1")] * 2, num_envs=3)
    seen: list[np.ndarray] = []
    for row in envs.envs:
        for e in row:
            step = e.step
            e.step = lambda a, step=step: (seen.append(a.copy()), step(a))[1]  # type: ignore[method-assign]
    envs.reset(np.arange(6).reshape(2, 3))
    act = np.random.default_rng(0).uniform(-1.2, 1.2, (2, 3, 1)).astype(np.float32)
    envs.step(act)
    low, high = envs._low, envs._high
    want = [scale_action(act[k, i], low, high).astype(np.float32) for k in range(2) for i in range(3)]
    assert len(seen) == 6
    for got, w in zip(seen, want):
        assert got.dtype == w.dtype and np.array_equal(got, w)
    envs.close()


@pytest.mark.parametrize("policy", ["gaussian", "realnvp"])
def test_trainer_fast_path_equals_plain_run(tmp_path: Path, policy: str) -> None:
    """A whole short run (warm-up, acting, stepping, storing, updating): same weights, same buffer."""
    def run(fast: bool) -> Trainer:
        cfg = TrainConfig(env="Pendulum-v1", steps=160, warmup_steps=100, batch_size=32, policy=policy,
                          flow_embed_hidden=(32, 32), sac=SACConfig(hidden=(32, 32)), skills=2,
                          eval_every=0, eval_episodes=1, log_every=50, checkpoint_every=10_000,
                          progress=False, tensorboard=False, fast_path=fast, out=str(tmp_path / str(fast)))
        t = Trainer(cfg)
        t.train()
        return t

    plain, fast = run(False), run(True)
    assert (plain.agent.fast_path, fast.agent.fast_path) == (False, True)  # the flag reached the agent
    assert fast.num_updates == plain.num_updates == 60
    assert_same(params(plain), params(fast))
    assert torch.equal(plain.buffer.flat, fast.buffer.flat)


def test_hold_latent_fast_path_equals_plain(tmp_path: Path) -> None:
    """The held-latent act path under inference mode takes the same actions and keeps its latent."""
    def run(fast: bool) -> Trainer:
        cfg = TrainConfig(env="Pendulum-v1", steps=130, warmup_steps=100, batch_size=32, policy="realnvp",
                          hold_latent=True, flow_embed_hidden=(32, 32), sac=SACConfig(hidden=(32, 32)),
                          eval_every=0, eval_episodes=1, log_every=50, checkpoint_every=10_000,
                          progress=False, tensorboard=False, fast_path=fast, out=str(tmp_path / str(fast)))
        t = Trainer(cfg)
        t.train()
        return t

    plain, fast = run(False), run(True)
    assert fast.held_h is not None and not fast.held_h.is_inference()
    assert torch.equal(plain.held_h, fast.held_h)
    assert torch.equal(plain.buffer.storage["act"], fast.buffer.storage["act"])
    assert_same(params(plain), params(fast))


# Measured: the largest |compiled - eager| over every parameter after 20 updates was 3e-8
# (Gaussian, 32-unit nets); the tolerance leaves room for other CPUs' vector widths.
COMPILE_ATOL, COMPILE_RTOL = 1e-5, 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("upper", [False, True], ids=["flat", "upper-layer"])
def test_compiled_update_matches_eager_for_20_updates(monkeypatch: pytest.MonkeyPatch, upper: bool) -> None:
    """``torch.compile`` (inductor, fullgraph) of the losses: no recompiles over 20 updates, and the
    parameters stay within the stated tolerance of eager's (not bitwise: fused sums reorder). Also for
    a hierarchy's upper layer (unsquashed latent actions, normal action prior), which a CUDA run now
    compiles by default."""
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()  # the graph count below is per test, not per session
    monkeypatch.setattr(torch._dynamo.config, "error_on_recompile", True)
    sac = SACConfig(hidden=(32, 32), action_prior="normal" if upper else "uniform")
    eager, eager_acts = _agent_after_updates(True, "gaussian", sac, squash=not upper)
    compiled, compiled_acts = _agent_after_updates(True, "gaussian", sac, compiled=True, squash=not upper)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1  # it did compile, once
    assert eager.keys() == compiled.keys()
    for k in eager:
        torch.testing.assert_close(compiled[k], eager[k], atol=COMPILE_ATOL, rtol=COMPILE_RTOL, msg=k)
    for a, b in zip(eager_acts, compiled_acts):
        torch.testing.assert_close(a, b, atol=COMPILE_ATOL, rtol=COMPILE_RTOL)


def test_uniform_prior_none_is_bitwise_zero_prior() -> None:
    """``log_prior=None`` (the uniform prior's shortcut) gives exactly what a zero log-prior gives."""
    from softskills.skills.sac import actor_loss, soft_q_target

    g = torch.Generator().manual_seed(0)
    r, d = torch.randn(2, 9, generator=g), (torch.rand(2, 9, generator=g) < 0.3).float()
    q, lp, alpha = torch.randn(2, 2, 9, generator=g), torch.randn(2, 9, generator=g), torch.rand(2, 1, generator=g)
    zero = torch.zeros(2, 9)
    assert torch.equal(soft_q_target(r, d, q, lp, None, alpha, 0.99, 2.0),
                       soft_q_target(r, d, q, lp, zero, alpha, 0.99, 2.0))
    assert torch.equal(actor_loss(lp, None, q, alpha), actor_loss(lp, zero, q, alpha))


def test_scale_action_maps_the_unit_box_onto_low_high() -> None:
    """``-1 -> low``, ``1 -> high``, linear in between, clipped outside (the reference of the test above)."""
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 10.0])
    a = np.array([[-1.0, -1.0], [0.0, 0.5], [1.0, 1.0], [1.5, -3.0]])
    want = np.array([[-2.0, 0.0], [0.0, 7.5], [2.0, 10.0], [2.0, 0.0]])
    np.testing.assert_allclose(scale_action(a, low, high), want)
