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
def test_trainer_on_cuda_with_graph(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The graph's warm-up updates are undone: exactly 300 updates, and a resumed graphed run
    (which captures again) equals a straight graphed run."""
    pytest.importorskip("gymnasium")
    from softskills.skills.trainer import Trainer
    from tests.skills.helpers import assert_same, params

    def cfg(out, steps):  # type: ignore[no-untyped-def]
        return TrainConfig(env="Pendulum-v1", steps=steps, warmup_steps=100, device="cuda", out=str(out),
                           eval_every=0, eval_episodes=1, progress=False, tensorboard=False)

    t = Trainer(cfg(tmp_path / "r", 400))
    m = t.train()
    assert t._graphed is not None and t._graphed.warmup_updates == 0
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
