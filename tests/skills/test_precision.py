"""precision="bf16" on the CPU: bf16 matmuls under autocast, fp32 log-probabilities, all three agents train."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from softskills.flows import GaussianPolicy, RealNVPPolicy
from softskills.nn import StackedLinear
from softskills.skills.config import TrainConfig
from softskills.skills.factory import build_agent
from softskills.skills.sac import SACConfig
from softskills.skills.sql import SQLConfig
from softskills.skills.trainer import Trainer

OBS, ACT = 5, 3


@pytest.mark.parametrize("make", [
    lambda: GaussianPolicy(2, OBS, ACT, hidden=(16,)),
    lambda: RealNVPPolicy(2, OBS, ACT, embed_hidden=(16,)),
], ids=["gaussian", "realnvp"])
def test_log_prob_is_fp32_under_bf16_autocast(make) -> None:  # type: ignore[no-untyped-def]
    """The network may run in bf16, but log pi and the tanh correction must come out in fp32,
    and equal the fp32 formula applied to the same (bf16-rounded) network outputs to fp32 precision."""
    policy = make()
    obs = torch.randn(2, 64, OBS)
    noise = torch.randn(2, 64, ACT)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        act, log_prob = policy.sample(obs, noise)
        again = policy.log_prob(obs, act)
    assert log_prob.dtype == torch.float32 and act.dtype == torch.float32
    assert again.dtype == torch.float32
    # the inverse path agrees with the forward path (bf16 networks, fp32 densities)
    ok = act.abs() < 0.99
    torch.testing.assert_close(again[ok.all(-1)], log_prob[ok.all(-1)], atol=0.1, rtol=0.02)


def _train(tmp_path: Path, **kw: object) -> Trainer:
    cfg = TrainConfig(env="Pendulum-v1", steps=160, warmup_steps=100, batch_size=32, out=str(tmp_path),
                      eval_every=0, eval_episodes=1, log_every=40, progress=False, tensorboard=False,
                      precision="bf16", sac=SACConfig(hidden=(32, 32)), flow_embed_hidden=(32, 32),
                      sql=SQLConfig(hidden=(32, 32), kernel_particles=8, value_particles=8), **kw)  # type: ignore[arg-type]
    t = Trainer(cfg)
    before = {k: v.clone() for k, v in t.agent.policy.state_dict().items()}
    t.train()
    assert t.agent.precision == "bf16"
    assert all(torch.isfinite(v).all() and v.dtype == torch.float32 for v in t.losses.values())
    assert any(not torch.equal(before[k], v) for k, v in t.agent.policy.state_dict().items())
    assert all(p.dtype == torch.float32 for p in t.agent.parameters())  # master weights stay fp32
    # and the update's matmuls really run in bf16: every stacked layer's output, in one more update
    dtypes: list[torch.dtype] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
             for m in t.agent.modules() if isinstance(m, StackedLinear)]
    t.agent.update(t.buffer.sample(32))
    for h in hooks:
        h.remove()
    assert dtypes and set(dtypes) == {torch.bfloat16}
    return t


@pytest.mark.parametrize("algo, policy", [("sac", "gaussian"), ("sac", "realnvp"), ("sql", "gaussian")])
def test_bf16_training_runs_for_every_agent(tmp_path: Path, algo: str, policy: str) -> None:
    _train(tmp_path, algo=algo, policy=policy)


def test_sql_agent_honours_bf16() -> None:
    """SQL used to be built in fp32 whatever --precision said (the update's bf16 matmuls are checked
    in ``_train``)."""
    agent = build_agent(TrainConfig(algo="sql", precision="bf16"), OBS, ACT)
    assert agent.precision == "bf16"


def _bf16_state_after_updates(algo: str, policy: str) -> list[torch.Tensor]:
    from softskills.skills.buffer import ReplayBuffer

    torch.manual_seed(0)
    agent = build_agent(TrainConfig(algo=algo, policy=policy, skills=2, precision="bf16",
                                    flow_embed_hidden=(16, 16)), OBS, ACT)
    buf = ReplayBuffer(2, 300, OBS, ACT)
    g = torch.Generator().manual_seed(1)
    buf.add(torch.randn(2, 300, OBS, generator=g), torch.rand(2, 300, ACT, generator=g) * 2 - 1,
            torch.randn(2, 300, generator=g), torch.randn(2, 300, OBS, generator=g), torch.zeros(2, 300))
    for _ in range(8):
        agent.update(buf.sample(32))
    return [t.detach().clone() for t in agent.state_dict().values()]


@pytest.mark.parametrize("algo, policy", [("sac", "gaussian"), ("sac", "realnvp"), ("sql", "gaussian")])
def test_bf16_critic_cast_once_is_bitwise_autocast(monkeypatch: pytest.MonkeyPatch, algo: str, policy: str) -> None:
    """Casting the online critic once for both losses changes no bit against letting autocast cast
    the detached copy a second time (``critic_params_for_losses``)."""
    import softskills.skills.agent as sac_agent
    import softskills.skills.sql_agent as sql_agent

    once = _bf16_state_after_updates(algo, policy)

    def autocast_casts(params, precision):  # type: ignore[no-untyped-def]
        return list(params), [p.detach() for p in params]

    monkeypatch.setattr(sac_agent, "critic_params_for_losses", autocast_casts)
    monkeypatch.setattr(sql_agent, "critic_params_for_losses", autocast_casts)
    twice = _bf16_state_after_updates(algo, policy)
    assert len(once) == len(twice) > 0
    for a, b in zip(once, twice):
        assert torch.equal(a, b)
