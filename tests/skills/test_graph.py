"""The CUDA-graph update (skipped without a GPU): it runs, learns, and never syncs with the host."""

from __future__ import annotations

import pytest
import torch

from softskills.skills.buffer import ReplayBuffer
from softskills.skills.config import TrainConfig
from softskills.skills.factory import build_agent
from softskills.skills.sac import SACConfig

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("policy", ["gaussian", "realnvp"])
@pytest.mark.parametrize("skills", [1, 4])
def test_graphed_update_has_no_host_sync_and_moves_parameters(skills: int, policy: str) -> None:
    from softskills.skills.graph import GraphedUpdate

    torch.manual_seed(0)
    cfg = TrainConfig(skills=skills, policy=policy, sac=SACConfig(hidden=(64, 64)), flow_embed_hidden=(64, 64),
                      device="cuda")
    agent = build_agent(cfg, 5, 2).to("cuda")
    agent.rebuild_optimizer()
    buf = ReplayBuffer(skills, 1000, 5, 2, "cuda")
    obs = torch.randn(skills, 1000, 5, device="cuda")
    act = torch.rand(skills, 1000, 2, device="cuda") * 2 - 1
    # reward = -|a|^2: the critic must learn that, and the policy move towards a = 0
    buf.add(obs, act, -(act**2).sum(-1), torch.randn_like(obs), torch.ones(skills, 1000, device="cuda"))
    step = GraphedUpdate(agent, buf, 128)
    before = [p.detach().clone() for p in agent.parameters()]
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(300):
            losses = step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(not torch.equal(b, p) for b, p in zip(before, agent.parameters()))
    assert torch.isfinite(losses["qf_loss"]).all()
    # the critic fits the reward: the TD loss falls well below the reward variance
    assert float(losses["qf_loss"].max()) < 0.5


@cuda
@pytest.mark.parametrize("graph_compile", [True, False])
def test_trainer_on_cuda_with_graph(tmp_path, graph_compile: bool) -> None:  # type: ignore[no-untyped-def]
    """The graph's warm-up updates are undone: exactly 300 updates, and a resumed graphed run
    (which captures again) equals a straight graphed run, with the compiled update (the default)
    and with the eager one."""
    pytest.importorskip("gymnasium")
    from softskills.skills.trainer import Trainer
    from tests.skills.helpers import assert_same, params

    def cfg(out, steps):  # type: ignore[no-untyped-def]
        return TrainConfig(env="Pendulum-v1", steps=steps, warmup_steps=100, device="cuda", out=str(out),
                           eval_every=0, eval_episodes=1, progress=False, tensorboard=False,
                           graph_compile=graph_compile)

    t = Trainer(cfg(tmp_path / "r", 400))
    m = t.train()
    assert t._graphed is not None and t._graphed.warmup_updates == 0 and t._graphed.compiled is graph_compile
    assert (t.agent._compiled_losses is not None) is graph_compile  # not only the flag: the compiled losses ran
    assert m["updates"] == 300 and int(t.agent.optimizer.state[t.agent.log_alpha]["step"]) == 300
    first = Trainer(cfg(tmp_path / "a", 250))
    first.train()
    resumed = Trainer.resume(tmp_path / "a", steps=400)
    resumed.train()
    assert resumed.num_updates == 300
    assert_same(params(t), params(resumed))


@cuda
def test_graphed_sql_update_has_no_host_sync_and_copies_the_target() -> None:
    from softskills.skills.graph import GraphedUpdate
    from softskills.skills.sql import SQLConfig

    torch.manual_seed(0)
    cfg = TrainConfig(algo="sql", skills=2, device="cuda",
                      sql=SQLConfig(hidden=(32, 32), kernel_particles=8, value_particles=8, target_interval=10))
    agent = build_agent(cfg, 5, 2).to("cuda")
    agent.rebuild_optimizer()
    buf = ReplayBuffer(2, 1000, 5, 2, "cuda")
    obs = torch.randn(2, 1000, 5, device="cuda")
    act = torch.rand(2, 1000, 2, device="cuda") * 2 - 1
    buf.add(obs, act, -(act**2).sum(-1), torch.randn_like(obs), torch.ones(2, 1000, device="cuda"))
    step = GraphedUpdate(agent, buf, 64)  # its 3 eager warm-up updates are undone
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(20):  # updates 1..20: the hard copy happens in the graph at 10 and 20
            losses = step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert int(agent.num_updates) == 20
    assert all(torch.equal(t, p) for t, p in zip(agent.target_params, agent.critic.parameters()))
    assert torch.isfinite(losses["qf_loss"]).all() and torch.isfinite(losses["actor_loss"]).all()


@cuda
@pytest.mark.parametrize(("policy", "upper"), [("gaussian", False), ("realnvp", False), ("gaussian", True)])
def test_graph_of_the_compiled_update_equals_the_eager_graph(policy: str, upper: bool) -> None:
    """``compile=True`` captures the torch.compile'd losses: after 20 replays the parameters equal the
    eager graph's within the compiled update's tolerance (fused kernels sum in another order). ``upper``:
    a hierarchy's upper layer (unsquashed latent actions, normal action prior)."""
    from softskills.skills.graph import GraphedUpdate

    runs, inits = [], []
    for compile in (False, True):
        torch.manual_seed(0)
        sac = SACConfig(hidden=(32, 32), action_prior="normal" if upper else "uniform")
        cfg = TrainConfig(skills=2, policy=policy, sac=sac, flow_embed_hidden=(32, 32), device="cuda", seed=0)
        agent = build_agent(cfg, 5, 2, squash=not upper).to("cuda")
        agent.rebuild_optimizer()
        inits.append([p.detach().clone() for p in agent.parameters()])
        buf = ReplayBuffer(2, 500, 5, 2, "cuda")
        g = torch.Generator().manual_seed(1)
        obs = torch.randn(2, 500, 5, generator=g).cuda()
        act = (torch.rand(2, 500, 2, generator=g) * 2 - 1).cuda()
        buf.add(obs, act, -(act**2).sum(-1), torch.randn(2, 500, 5, generator=g).cuda(), torch.zeros(2, 500).cuda())
        torch.cuda.manual_seed(2)
        step = GraphedUpdate(agent, buf, 64, compile=compile)
        assert (agent._compiled_losses is not None) is compile  # the compiled losses were really captured
        for _ in range(20):
            step()
        torch.cuda.synchronize()
        runs.append([p.detach().clone() for p in agent.parameters()])
    for a, b in zip(*runs):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
    assert all(not torch.equal(p, p0) for p, p0 in zip(runs[1], inits[1]))  # every parameter moved


def test_compiles_graph_default_and_opt_outs() -> None:
    """Which CUDA graphs capture the compiled update (decided on any machine): SAC by default;
    not with ``graph_compile=False`` unless ``compile`` asks; never SQL."""
    from softskills.skills.trainer import compiles_graph

    assert compiles_graph(TrainConfig()) is True
    assert compiles_graph(TrainConfig(graph_compile=False)) is False
    assert compiles_graph(TrainConfig(graph_compile=False, compile=True)) is True
    assert compiles_graph(TrainConfig(algo="sql")) is False
    assert compiles_graph(TrainConfig(algo="sql", graph_compile=False)) is False
