"""Offline extraction on a one-step bandit with a known Boltzmann answer, and no environment steps.

``Q_i(s, a) = -(a - m_i)^2 / (2 s_i^2)`` (independent of s), so ``exp(sum_i w_i Q_i / alpha)`` is the
Gaussian with precision ``sum_i w_i / (alpha s_i^2)`` and mean ``sum_i w_i m_i / s_i^2 / sum_i w_i / s_i^2``.
"""

from __future__ import annotations

import math

import gymnasium
import pytest
import torch
from torch import Tensor, nn

from softskills.compose.composed import ComposedQ
from softskills.compose.extract import ExtractConfig, extract_policy
from softskills.compose.union import UnionBuffer
from softskills.skills.agent import SACAgent
from softskills.skills.factory import build_agent
from softskills.skills.sql_agent import SQLAgent
from softskills.skills.vec import SkillEnvs

torch.set_num_threads(1)

M1, S1, M2, S2 = 0.3, 0.15, -0.1, 0.2


class QuadraticTwinQ(nn.Module):
    """A one-skill 'critic' with twins ``Q`` and ``Q + 1``: the composition must read the min, Q."""

    num_skills, obs_dim, act_dim = 1, 2, 1

    def __init__(self, m: float, s: float) -> None:
        super().__init__()
        self.m, self.s = m, s

    def forward(self, obs: Tensor, act: Tensor) -> Tensor:
        q = -((act[..., 0] - self.m) ** 2) / (2 * self.s**2) + 0.0 * obs.sum(-1)
        return torch.stack([q, q + 1.0], dim=1)


def boltzmann(weights: tuple[float, float], alpha: float) -> tuple[float, float]:
    prec = (weights[0] / S1**2 + weights[1] / S2**2) / alpha
    mean = (weights[0] * M1 / S1**2 + weights[1] * M2 / S2**2) / (alpha * prec)
    return mean, 1.0 / math.sqrt(prec)


class _StepSpy(gymnasium.Wrapper):
    """Counts the steps of an env made while the spy is on."""

    def __init__(self, env: gymnasium.Env, calls: dict[str, int]) -> None:
        super().__init__(env)
        self.calls = calls

    def step(self, action):  # noqa: ANN001, ANN201
        self.calls["step"] += 1
        return self.env.step(action)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count every env construction and step; extraction must leave all at 0."""
    calls = {"make": 0, "step": 0, "reset": 0}
    make, skill_step, skill_reset = gymnasium.make, SkillEnvs.step, SkillEnvs.reset

    def spy_make(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["make"] += 1
        return _StepSpy(make(*args, **kwargs), calls)

    def spy_step(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls["step"] += 1
        return skill_step(self, *args, **kwargs)

    def spy_reset(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls["reset"] += 1
        return skill_reset(self, *args, **kwargs)

    monkeypatch.setattr(gymnasium, "make", spy_make)
    monkeypatch.setattr(SkillEnvs, "step", spy_step)
    monkeypatch.setattr(SkillEnvs, "reset", spy_reset)
    return calls


def bandit_buffer(n: int = 256) -> UnionBuffer:
    g = torch.Generator().manual_seed(0)
    obs = torch.rand(n, 2, generator=g) * 2 - 1
    part = {"obs": obs, "act": torch.zeros(n, 1), "rew": torch.zeros(n), "next_obs": obs, "terminated": torch.zeros(n)}
    return UnionBuffer([part, {k: v[: n // 2] for k, v in part.items()}])


def action_moments(agent: nn.Module) -> tuple[float, float]:
    torch.manual_seed(1)
    a = agent.act(torch.rand(1, 20_000, 2) * 2 - 1)
    return float(a.mean()), float(a.std())


def test_spy_counts_env_use(no_env: dict[str, int]) -> None:
    """The spy has teeth: building and stepping an env is counted."""
    env = gymnasium.make("Pendulum-v1")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert no_env["make"] == 1 and no_env["step"] >= 1


@pytest.mark.parametrize(("weights", "alpha"), [((0.5, 0.5), 1.0), ((1.0, 1.0), 0.5)], ids=["mean", "sum"])
def test_sac_extraction_matches_the_boltzmann_policy(no_env: dict[str, int], weights: tuple, alpha: float) -> None:
    q = ComposedQ([QuadraticTwinQ(M1, S1), QuadraticTwinQ(M2, S2)], weights, alpha)
    ext = ExtractConfig(method="sac", steps=1000, batch_size=64, lr=1e-3, hidden=(32, 32), log_every=250)
    # Unsquashed: the Gaussian family contains the target exactly, so the match can be tight.
    res = extract_policy(q, bandit_buffer(), ext, squash=False)
    mean, std = boltzmann(weights, alpha)
    got_mean, got_std = action_moments(res.agent)
    assert got_mean == pytest.approx(mean, abs=0.015)
    assert got_std == pytest.approx(std, rel=0.06)
    assert isinstance(res.agent, SACAgent) and res.agent.num_skills == 1
    assert res.gradient_steps == 1000 and res.env_steps == 0 and res.wall_time_s > 0
    assert [s for s, _ in res.losses] == [250, 500, 750, 1000]
    assert float(res.agent.log_alpha.exp()) == pytest.approx(alpha)  # the saved agent records its temperature
    assert no_env == {"make": 0, "step": 0, "reset": 0}


@pytest.mark.parametrize(("weights", "alpha"), [((0.5, 0.5), 1.0), ((1.0, 1.0), 0.5)], ids=["mean", "sum"])
def test_svgd_extraction_matches_the_boltzmann_policy(no_env: dict[str, int], weights: tuple, alpha: float) -> None:
    # alpha != 1 in the "sum" case: at alpha = 1, Q and Q/alpha are the same target and a missing 1/alpha is invisible
    q = ComposedQ([QuadraticTwinQ(M1, S1), QuadraticTwinQ(M2, S2)], weights, alpha)
    ext = ExtractConfig(method="svgd", steps=700, batch_size=32, lr=3e-3, hidden=(32, 32))
    res = extract_policy(q, bandit_buffer(), ext)
    mean, std = boltzmann(weights, alpha)
    got_mean, got_std = action_moments(res.agent)
    assert got_mean == pytest.approx(mean, abs=0.015)
    assert got_std == pytest.approx(std, rel=0.1)
    assert isinstance(res.agent, SQLAgent) and res.agent.num_skills == 1
    assert float(res.agent.log_alpha.exp()) == pytest.approx(alpha)
    assert res.env_steps == 0 and no_env == {"make": 0, "step": 0, "reset": 0}
    # The sharper sum form is distinguishable at this accuracy: its std is 1/sqrt(2) of the mean form's.
    if weights == (0.5, 0.5):
        assert abs(got_std - boltzmann((1.0, 1.0), alpha)[1]) > 0.03


def test_extracted_agent_is_what_build_agent_rebuilds() -> None:
    """The saved run's config rebuilds the agent's exact state dict (what load_run needs)."""
    q = ComposedQ([QuadraticTwinQ(M1, S1), QuadraticTwinQ(M2, S2)], (0.5, 0.5), 0.7)
    for method, policy in (("sac", "realnvp"), ("svgd", "gaussian")):
        ext = ExtractConfig(method=method, policy=policy, steps=3, batch_size=8, hidden=(16,))
        res = extract_policy(q, bandit_buffer(), ext)
        rebuilt = build_agent(res.config, 2, 1)
        rebuilt.load_state_dict(res.agent.state_dict(), strict=True)
        assert res.config.skills == 1 and res.config.algo == ("sac" if method == "sac" else "sql")
        assert all(bool((p == 0).all()) for p in res.agent.critic.parameters())  # the placeholder critic
        assert all(bool((p == 0).all()) for p in res.agent.target_params)  # and its target copy
        obs = torch.rand(1, 5, 2)
        torch.testing.assert_close(rebuilt.act(obs, deterministic=True), res.agent.act(obs, deterministic=True))


def test_extraction_refuses_mismatched_buffer_and_bad_settings() -> None:
    q = ComposedQ([QuadraticTwinQ(M1, S1), QuadraticTwinQ(M2, S2)])
    part = {"obs": torch.zeros(4, 3), "act": torch.zeros(4, 1), "rew": torch.zeros(4), "next_obs": torch.zeros(4, 3),
            "terminated": torch.zeros(4)}
    with pytest.raises(ValueError, match="spaces"):
        extract_policy(q, UnionBuffer([part]), ExtractConfig(steps=1))
    with pytest.raises(ValueError, match="1 steps.*got no buffer"):
        extract_policy(q, None, ExtractConfig(steps=1))
    assert extract_policy(q, None, ExtractConfig(steps=0, hidden=(8,))).gradient_steps == 0  # nothing to train on
    with pytest.raises(ValueError, match="method"):
        ExtractConfig(method="ddpg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="steps must be >= 0"):
        ExtractConfig(steps=-1)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        ExtractConfig(batch_size=0)


@pytest.mark.parametrize("method", ["sac", "svgd"])
def test_progress_bar_goes_to_stderr_and_changes_no_result(method: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``progress=True`` shows the gradient steps with the last logged loss; the extracted policy is bit for bit
    the quiet run's."""
    q = ComposedQ([QuadraticTwinQ(M1, S1), QuadraticTwinQ(M2, S2)], (0.5, 0.5), 0.7)
    ext = ExtractConfig(method=method, policy="gaussian", steps=6, batch_size=8, hidden=(16,), log_every=2)
    runs, errs = [], []
    for progress in (False, True):
        runs.append(extract_policy(q, bandit_buffer(), ext, progress=progress))
        errs.append(capsys.readouterr().err)
    assert errs[0] == "" and f"extraction ({method})" in errs[1] and "loss=" in errs[1]
    assert runs[0].losses == runs[1].losses
    for (name, a), (_, b) in zip(runs[0].agent.policy.state_dict().items(), runs[1].agent.policy.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
