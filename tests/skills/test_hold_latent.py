"""Exploration with a per-episode latent (``hold_latent``, the original's ``fix_h_on_reset``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from softskills.flows.tanh import atanh_clamped
from softskills.skills.trainer import Trainer
from tests.skills.helpers import assert_same, params
from tests.skills.test_trainer import small

NETS = dict(policy="realnvp", flow_embed_hidden=(32, 32), hold_latent=True)


def recovered_latents(trainer: Trainer) -> torch.Tensor:
    """The latent behind every stored action: ``h = f^{-1}(atanh(a); s)``, shape ``(K, T, A)``."""
    n = len(trainer.buffer)
    obs, act = trainer.buffer.storage["obs"][:, :n], trainer.buffer.storage["act"][:, :n]
    with torch.no_grad():
        h, _ = trainer.agent.policy.inverse(atanh_clamped(act), obs)
    return h


def test_latent_is_held_within_an_episode_and_redrawn_at_its_end(tmp_path: Path) -> None:
    # MultiGoal: 2-D actions, episodes of at most 30 steps. No updates, so the policy is fixed
    # and the latent behind each stored action can be recovered by inverting the flow.
    t = Trainer(small(tmp_path / "r", env="softskills/MultiGoal-v0", steps=200, warmup_steps=50,
                      updates_per_step=0.0, num_envs=2, **NETS))
    dones = []
    step = t.envs.step

    def recording_step(actions, active=None):  # type: ignore[no-untyped-def]
        res = step(actions, active)
        dones.append(res.done.copy())
        return res

    t.envs.step = recording_step  # type: ignore[method-assign]
    t.train()
    done = np.array(dones)[:, 0]  # (200, 2)
    # The stored actions interleave the two sub-envs per step: (K, 2 * 200, A) -> (200, 2, A).
    h = recovered_latents(t)[0].view(200, 2, -1)
    # atanh cannot recover a saturated action (tanh(u) == 1 in fp32): compare the others only.
    ok = (t.buffer.storage["act"][0].view(200, 2, -1).abs().amax(-1) < 0.999).numpy()
    episodes = 0
    for j in range(2):
        ends = [50 - 1, *[i for i in np.nonzero(done[:, j])[0] if i >= 50]]
        means = []
        for a, b in zip(ends[:-1], ends[1:]):
            rows = [i for i in range(a + 1, b + 1) if ok[i, j]]
            if len(rows) < 3:
                continue
            hs = h[rows, j]
            torch.testing.assert_close(hs, hs[:1].expand_as(hs), atol=1e-3, rtol=0)
            means.append(hs.mean(0))
            episodes += 1
        # consecutive episodes have different latents
        assert all((m1 - m0).abs().max() > 1e-2 for m0, m1 in zip(means[:-1], means[1:]))
    assert episodes >= 6
    assert (t.held_h[0, 0] - t.held_h[0, 1]).abs().min() > 1e-3  # one latent per sub-env


def test_without_hold_latent_every_step_draws_a_fresh_latent(tmp_path: Path) -> None:
    t = Trainer(small(tmp_path / "r", env="softskills/MultiGoal-v0", steps=80, warmup_steps=50,
                      updates_per_step=0.0, **{**NETS, "hold_latent": False}))
    t.train()
    h = recovered_latents(t)[0, 50:80]
    assert (h[1:] - h[:-1]).abs().max(-1).values.min() > 1e-3


def test_resume_with_held_latents_equals_straight_run(tmp_path: Path) -> None:
    straight = Trainer(small(tmp_path / "s", steps=400, **NETS))
    straight.train()
    first = Trainer(small(tmp_path / "r", steps=250, **NETS))  # stops mid-episode
    first.train()
    resumed = Trainer.resume(tmp_path / "r", steps=400)
    assert resumed.held_h is not None and torch.equal(resumed.held_h, first.held_h)
    resumed.train()
    assert_same(params(straight), params(resumed))
    assert torch.equal(straight.held_h, resumed.held_h)


def test_hold_latent_needs_an_invertible_policy(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hold_latent needs an invertible policy"):
        Trainer(small(tmp_path / "r", hold_latent=True))


def test_the_losses_draw_fresh_latents_not_the_held_ones(tmp_path: Path) -> None:
    """With ``hold_latent`` only exploration holds ``h``: every ``policy.sample`` of an update (at ``s`` and ``s'``)
    uses a fresh latent per batch row, recovered by inverting the flow as it was at that call."""
    t = Trainer(small(tmp_path / "r", steps=130, warmup_steps=100, **NETS))
    latents: list[torch.Tensor] = []
    sample = t.agent.policy.sample

    def spy(obs, *args, **kwargs):  # type: ignore[no-untyped-def]
        act, log_pi = sample(obs, *args, **kwargs)
        with torch.no_grad():
            latents.append(t.agent.policy.inverse(atanh_clamped(act.detach()), obs)[0])
        return act, log_pi

    t.agent.policy.sample = spy  # type: ignore[method-assign]
    t.train()
    assert t.num_updates == 30 and len(latents) >= 2 * 30
    for h in latents:  # (K, B, A): the rows spread like N(0, I), not one latent repeated
        assert h.shape[1] == 32 and h.std(dim=1).min() > 0.5
