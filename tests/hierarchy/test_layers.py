"""Latent-space hierarchies: wrapper semantics, the vectorised form, the exported policy, clear errors."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import tests.skills._noss_env  # noqa: F401  (registers test/NoSnapshot-v0: 10-step episodes, obs [pos, t])
from softskills.flows import GaussianPolicy, RealNVPPolicy
from softskills.hierarchy import (
    FrozenLayer,
    HierarchicalPolicy,
    LatentActionWrapper,
    LatentSkillEnvs,
    ObsFunction,
    ObsSlice,
)
from softskills.skills.sql_sampler import SVGDSampler
from softskills.skills.vec import SkillEnvs, make_env

PV = "softskills/PointVelocity-v0"


def flow(obs_dim: int, act_dim: int, squash: bool = True, seed: int = 0, k: int = 1) -> RealNVPPolicy:
    torch.manual_seed(seed)
    p = RealNVPPolicy(k, obs_dim, act_dim, embed_hidden=(16,), st_hidden=(8,), squash=squash,
                      seeds=list(range(seed, seed + k)))
    with torch.no_grad():  # make the maps far from identity, so tests see real transformations
        for q in p.parameters():
            q.mul_(3.0)
    return p


class Recorder(gym.Wrapper):
    """Records the actions the env below receives, and its rewards."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []

    def step(self, action):  # type: ignore[no-untyped-def]
        self.actions.append(np.array(action, dtype=np.float64))
        out = self.env.step(action)
        self.rewards.append(float(out[1]))
        return out


def test_wrapper_maps_h_on_the_current_obs_and_sums_rewards_over_repeat() -> None:
    layer = FrozenLayer(flow(2, 2))
    inner = Recorder(make_env(PV))
    env = LatentActionWrapper(inner, layer, repeat=3)
    assert isinstance(env.action_space, gym.spaces.Box) and np.isinf(env.action_space.high).all()
    obs, _ = env.reset(seed=0)
    h = np.array([0.7, -1.2])
    _, r, _, _, info = env.step(h)
    assert info["substeps"] == 3 and len(inner.actions) == 3
    assert r == pytest.approx(sum(inner.rewards))  # summed, not the last one
    # each sub-step's action is f(h; obs at that sub-step)
    ref = make_env(PV)
    o, _ = ref.reset(seed=0)
    for a in inner.actions:
        np.testing.assert_allclose(a, layer.act(h, o), rtol=1e-6, atol=1e-7)
        o = ref.step(a.astype(np.float32))[0]


def test_wrapper_stops_early_at_the_episode_end() -> None:
    layer = FrozenLayer(flow(2, 1))
    inner = Recorder(make_env("test/NoSnapshot-v0"))
    env = LatentActionWrapper(inner, layer, repeat=4)
    env.reset(seed=1)
    infos = [env.step(np.array([0.3]))[4] for _ in range(2)]  # 8 inner steps
    _, _, term, trunc, info = env.step(np.array([0.3]))  # only 2 left: truncated after 2
    assert [i["substeps"] for i in infos] == [4, 4] and info["substeps"] == 2
    assert trunc and not term and len(inner.actions) == 10


def test_wrapper_stops_early_at_a_termination() -> None:
    """A true termination mid-repeat ends the high-level step there: fewer sub-steps, ``terminated`` set."""
    layer = FrozenLayer(flow(2, 1))
    inner = Recorder(make_env("test/NoSnapshot-v0", terminate_at=6))
    env = LatentActionWrapper(inner, layer, repeat=4)
    env.reset(seed=1)
    first = env.step(np.array([0.3]))
    _, _, term, trunc, info = env.step(np.array([0.3]))  # terminates at inner step 6, 2 sub-steps in
    assert first[4]["substeps"] == 4 and not first[2] and info["substeps"] == 2
    assert term and not trunc and len(inner.actions) == 6


def _skill_envs(k: int, n: int, **kwargs: object) -> SkillEnvs:
    return SkillEnvs([lambda: make_env("test/NoSnapshot-v0", **kwargs)] * k, n)


@pytest.mark.parametrize("terminate_at", [None, 5])
def test_vectorised_form_matches_single_wrappers_with_one_forward_per_substep(terminate_at: int | None) -> None:
    """Truncations (10-step episodes) and, with ``terminate_at`` 5, terminations two sub-steps into a repeat."""
    layer = FrozenLayer(flow(2, 1, seed=3))
    calls = {"n": 0}
    original = layer.policy.forward

    def counted(*a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return original(*a, **kw)

    layer.policy.forward = counted  # type: ignore[method-assign]
    k, n, repeat = 2, 3, 3
    vec = LatentSkillEnvs(_skill_envs(k, n, terminate_at=terminate_at), layer, repeat)
    seeds = np.arange(k * n).reshape(k, n)
    obs = vec.reset(seeds)
    singles = [[LatentActionWrapper(make_env("test/NoSnapshot-v0", terminate_at=terminate_at), layer, repeat)
                for _ in range(n)] for _ in range(k)]
    ref = np.stack([np.stack([singles[i][j].reset(seed=int(seeds[i, j]))[0] for j in range(n)]) for i in range(k)])
    np.testing.assert_array_equal(obs, ref)
    rng = np.random.default_rng(0)
    terminations = 0
    for _ in range(5):  # 15 inner steps: crosses the 10-step episode end with an early stop
        h = rng.standard_normal((k, n, 1))
        before = calls["n"]
        res = vec.step(h)
        assert calls["n"] - before <= repeat  # one batched forward per sub-step for all K x N envs
        for i in range(k):
            for j in range(n):
                o, r, te, tr, info = singles[i][j].step(h[i, j])
                assert res.reward[i, j] == pytest.approx(r) and res.done[i, j] == (te or tr)
                assert res.terminated[i, j] == te  # a truncation is not a termination (it bootstraps)
                assert res.infos[i][j]["substeps"] == info["substeps"]
                np.testing.assert_allclose(res.final_obs[i, j], o)
                terminations += te
                if te or tr:
                    singles[i][j].reset()
    assert terminations == (0 if terminate_at is None else 2 * k * n)  # 3 + 2 sub-steps per episode


def test_stack_of_three_exports_one_invertible_policy_equal_to_the_wrapped_rollout() -> None:
    """act(obs, h_top) equals the action the wrapped rollout sends to the env for the same top latent."""
    l0 = FrozenLayer(flow(2, 2, seed=1), ObsSlice(0, 2))
    l1 = FrozenLayer(flow(4, 2, squash=False, seed=2), ObsSlice(0, 4))
    top = FrozenLayer(flow(4, 2, squash=False, seed=4), ObsSlice(0, 4))
    stack = HierarchicalPolicy([l0, l1, top])
    inner = Recorder(make_env("softskills/PointMaze-v0"))
    env = LatentActionWrapper(LatentActionWrapper(inner, l0), l1)
    obs, _ = env.reset(seed=5)
    rng = np.random.default_rng(1)
    for _ in range(6):
        h_top = rng.standard_normal(2)
        o = torch.as_tensor(obs, dtype=torch.float32)[None]
        a_export = stack.act(o, torch.as_tensor(h_top, dtype=torch.float32)[None])[0].numpy()
        h1 = top.act(h_top, obs)  # the top layer's output is the latent of the wrapped env
        obs, *_ = env.step(h1)
        np.testing.assert_allclose(inner.actions[-1], a_export, rtol=1e-5, atol=1e-6)


def test_inverse_and_log_det_against_autograd_jacobian() -> None:
    l0 = FrozenLayer(flow(3, 3, seed=1).double(), ObsSlice(0, 3))
    l1 = FrozenLayer(flow(5, 3, squash=False, seed=2).double(), ObsSlice(0, 5))
    l2 = FrozenLayer(flow(5, 3, squash=False, seed=3).double(), ObsSlice(0, 5))
    stack = HierarchicalPolicy([l0, l1, l2])
    obs = torch.randn(4, 5, dtype=torch.float64)
    h = 0.5 * torch.randn(4, 3, dtype=torch.float64)
    a, logdet = stack(h, obs)
    h_back, inv_logdet = stack.inverse(a, obs)
    torch.testing.assert_close(h_back, h, atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(inv_logdet, -logdet)
    for b in range(4):
        jac = torch.autograd.functional.jacobian(lambda x: stack(x[None], obs[b:b + 1])[0][0], h[b])
        torch.testing.assert_close(logdet[b], torch.linalg.slogdet(jac).logabsdet, atol=1e-8, rtol=1e-8)
    # log pi by change of variables integrates the same density as sampling gives
    lp = stack.log_prob(obs, a)
    ref = (-0.5 * h.pow(2) - 0.5 * np.log(2 * np.pi)).sum(-1) - logdet
    torch.testing.assert_close(lp, ref)


def test_sample_returns_the_log_prob_of_the_action_it_draws() -> None:
    """``sample``'s log-density is that of the whole stack (the change of variables subtracts the log-det)."""
    stack = HierarchicalPolicy([FrozenLayer(flow(4, 2, squash=False, seed=1).double(), ObsSlice(0, 4)),
                                FrozenLayer(flow(4, 2, squash=False, seed=2).double(), ObsSlice(0, 4))])
    obs = torch.randn(6, 4, dtype=torch.float64)
    torch.manual_seed(0)
    a, lp = stack.sample(obs)
    torch.manual_seed(0)
    h = torch.randn(6, 2, dtype=torch.float64)  # the top latents sample drew
    _, logdet = stack(h, obs)
    assert float(logdet.abs().min()) > 1e-3  # the sign of the log-det matters here
    torch.testing.assert_close(lp, (-0.5 * h.pow(2) - 0.5 * np.log(2 * np.pi)).sum(-1) - logdet)
    torch.testing.assert_close(lp, stack.log_prob(obs, a))


def test_frozen_layer_acts_with_its_own_skill_on_its_own_slice() -> None:
    """A K = 2 policy used as skill 1 on obs[2:4]: the layer computes exactly that member on that slice."""
    policy = flow(2, 2, squash=False, seed=5, k=2)  # unsquashed: no tanh saturation in the inverse
    layer = FrozenLayer(policy, ObsSlice(2, 4), skill=1)
    obs, h = torch.randn(6, 5), 0.5 * torch.randn(6, 2)
    a, _ = layer(h, obs)
    raw, _ = policy.forward(h.expand(2, -1, -1), obs[:, 2:4].expand(2, -1, -1))
    torch.testing.assert_close(a, raw[1])
    assert not torch.allclose(raw[0], raw[1], atol=1e-3)  # skill 0 would act differently
    assert not torch.allclose(a, FrozenLayer(policy, ObsSlice(0, 2), skill=1)(h, obs)[0], atol=1e-3)
    torch.testing.assert_close(layer.inverse(a, obs)[0], h, atol=1e-4, rtol=1e-4)


def test_wrapper_scales_the_layer_action_to_the_env_box() -> None:
    """Pendulum's torque box is [-2, 2]: the squashed layer's action in [-1, 1] is scaled onto it."""
    layer = FrozenLayer(flow(3, 1, seed=6))
    inner = Recorder(gym.make("Pendulum-v1"))
    env = LatentActionWrapper(inner, layer)
    obs, _ = env.reset(seed=0)
    for h in (np.array([0.8]), np.array([-1.3])):
        want = 2.0 * layer.act(h, np.asarray(obs, dtype=np.float64))
        obs, *_ = env.step(h)
        np.testing.assert_allclose(inner.actions[-1], want, rtol=1e-6, atol=1e-6)
    assert np.abs(np.concatenate(inner.actions)).max() > 1.0  # outside [-1, 1]: the scaling is visible


def test_hierarchical_policy_save_load_round_trip(tmp_path: Path) -> None:
    stack = HierarchicalPolicy([FrozenLayer(flow(2, 2, seed=1)), FrozenLayer(flow(4, 2, squash=False, seed=2),
                                                                            ObsSlice(0, 4))])
    stack.save(tmp_path / "stack")
    back = HierarchicalPolicy.load(tmp_path / "stack")
    obs, h = torch.randn(7, 4), torch.randn(7, 2)
    torch.testing.assert_close(back(h, obs)[0], stack(h, obs)[0], rtol=0, atol=0)
    bad = HierarchicalPolicy([FrozenLayer(flow(2, 2), ObsFunction(lambda o: o[..., :2], 2, "first two"))])
    with pytest.raises(ValueError, match="cannot be stored"):
        bad.save(tmp_path / "bad")


def test_frozen_layer_has_no_trainable_parameters() -> None:
    layer = FrozenLayer(flow(2, 2))
    layer.train()
    assert not layer.training and not any(p.requires_grad for p in layer.parameters())


def test_clear_errors() -> None:
    with pytest.raises(TypeError, match="only RealNVPPolicy layers"):
        FrozenLayer(GaussianPolicy(1, 2, 2, hidden=(8,)))
    with pytest.raises(TypeError, match="only RealNVPPolicy layers"):
        FrozenLayer(SVGDSampler(1, 2, 2, hidden=(8,)))
    with pytest.raises(ValueError, match="gives 3 entries, but the layer .*width 2"):
        FrozenLayer(flow(2, 2), ObsSlice(0, 3))
    with pytest.raises(ValueError, match="outputs 3 values, but the latent of layer 0"):
        HierarchicalPolicy([FrozenLayer(flow(2, 2)), FrozenLayer(flow(2, 3, squash=False))])
    with pytest.raises(ValueError, match="squashes its output"):
        HierarchicalPolicy([FrozenLayer(flow(2, 2)), FrozenLayer(flow(2, 2))])
    # a lower layer trained on 4-d observations cannot read the 2-d PointVelocity observation
    with pytest.raises(ValueError, match=r"needs at least 4 observation entries, but the env's observation has 2"):
        LatentSkillEnvs(SkillEnvs([lambda: make_env(PV)], 1), FrozenLayer(flow(4, 2), ObsSlice(0, 4)))
    with pytest.raises(ValueError, match="outputs 3 actions, but the env below takes 2"):
        LatentSkillEnvs(SkillEnvs([lambda: make_env(PV)], 1), FrozenLayer(flow(2, 3)))
    with pytest.raises(ValueError, match="outputs 3 actions"):
        LatentActionWrapper(make_env(PV), FrozenLayer(flow(2, 3)))
