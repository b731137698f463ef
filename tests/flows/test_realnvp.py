"""Invariants of the Real-NVP policy (after zuko's ``tests/test_flows.py``)."""

from __future__ import annotations

import pytest
import torch
from nflows.transforms.coupling import AffineCouplingTransform, CouplingTransform
from safetensors.torch import load_file, save_file
from torch import Tensor

from softskills.flows import RealNVPPolicy
from softskills.flows.coupling import SoftClampedAffineCoupling, StackedConditioner, half_mask
from softskills.skills.types import Policy

OBS = 5
SMALL = {"embed_hidden": (16, 16)}


def make(k: int = 2, act: int = 4, dtype: torch.dtype = torch.float64, **kw) -> RealNVPPolicy:
    torch.manual_seed(0)
    return RealNVPPolicy(k, OBS, act, **{**SMALL, **kw}).to(dtype)


def obs_for(k: int, b: int, dtype: torch.dtype = torch.float64) -> Tensor:
    return torch.randn(k, b, OBS, dtype=dtype)


def test_is_a_policy() -> None:
    assert isinstance(make(), Policy)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("act", [1, 4, 5])
@pytest.mark.parametrize("squash", [True, False])
def test_shapes(k: int, act: int, squash: bool) -> None:
    policy = make(k, act, squash=squash)
    obs = obs_for(k, 7)
    a, log_prob = policy.sample(obs)
    assert a.shape == (k, 7, act) and log_prob.shape == (k, 7)
    assert policy.log_prob(obs, a).shape == (k, 7)
    assert policy.deterministic(obs).shape == (k, 7, act)
    u, ld = policy(torch.randn(k, 7, act, dtype=torch.float64), obs)
    assert u.shape == (k, 7, act) and ld.shape == (k, 7)
    h, ld_inv = policy.inverse(u, obs)
    assert h.shape == (k, 7, act) and ld_inv.shape == (k, 7)
    if squash:
        assert a.abs().max() <= 1.0


@pytest.mark.parametrize("act", [1, 4, 5])
def test_invertible(act: int) -> None:
    policy = make(3, act, coupling_layers=3)
    obs = obs_for(3, 11)
    h = torch.randn(3, 11, act, dtype=torch.float64)
    u, ld = policy(h, obs)
    h2, ld_inv = policy.inverse(u, obs)
    torch.testing.assert_close(h2, h, atol=1e-6, rtol=0)
    torch.testing.assert_close(ld_inv, -ld, atol=1e-6, rtol=0)
    u2, _ = policy(policy.inverse(u, obs)[0], obs)
    torch.testing.assert_close(u2, u, atol=1e-6, rtol=0)


@pytest.mark.parametrize("act", [1, 4])
def test_transform_with_context_is_forward_and_inverse_given_the_embedding(act: int) -> None:
    """One state's embedding, repeated along the batch, gives what the states themselves give."""
    policy = make(2, act)
    obs = obs_for(2, 3).repeat(1, 4, 1)  # 4 copies of 3 states: rows r*3 + n
    ctx = policy.embedding(obs[:, :3]).repeat(1, 4, 1)
    h = torch.randn(2, 12, act, dtype=torch.float64)
    u, ld = policy(h, obs)
    u2, ld2 = policy.transform_with_context(h, ctx)
    torch.testing.assert_close(u2, u, atol=1e-12, rtol=0)
    torch.testing.assert_close(ld2, ld, atol=1e-12, rtol=0)
    h3, ld3 = policy.transform_with_context(u, ctx, inverse=True)
    torch.testing.assert_close(h3, policy.inverse(u, obs)[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(ld3, -ld, atol=1e-6, rtol=0)
    other = policy.embedding(obs_for(2, 12))  # another state's embedding gives another action
    assert float((policy.transform_with_context(h, other)[0] - u).detach().abs().max()) > 1e-3
    with pytest.raises(ValueError, match="expected an embedding of shape"):
        policy.transform_with_context(h, ctx[:, :5])
    with pytest.raises(ValueError, match="expected x of shape"):
        policy.transform_with_context(h[..., :1] if act > 1 else h.repeat(1, 1, 2), ctx)


@pytest.mark.parametrize("act", [1, 4, 5])
def test_logabsdet_matches_autograd_jacobian(act: int) -> None:
    k, b = 2, 3
    policy = make(k, act)
    obs = obs_for(k, b)
    h = torch.randn(k, b, act, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda x: policy(x, obs)[0], h)  # (k,b,A,k,b,A)
    _, ld = policy(h, obs)
    u, _ = policy(h, obs)
    _, ld_inv = policy.inverse(u, obs)
    for i in range(k):
        for j in range(b):
            block = jac[i, j, :, i, j, :]
            _, logabsdet = torch.linalg.slogdet(block)
            torch.testing.assert_close(ld[i, j], logabsdet)
            torch.testing.assert_close(ld_inv[i, j], -logabsdet)
            # samples (and skills) do not interact
            off = jac[i, j].clone()
            off[:, i, j, :] = 0.0
            assert off.abs().max() == 0.0


@pytest.mark.parametrize("act", [1, 4])
@pytest.mark.parametrize("squash", [True, False])
def test_sample_log_prob_equals_log_prob(act: int, squash: bool) -> None:
    policy = make(3, act, squash=squash)
    obs = obs_for(3, 9)
    h = 0.5 * torch.randn(3, 9, act, dtype=torch.float64)
    # atanh_clamped saturates at |u| = atanh(1 - 1e-6) ~ 7.25: stay inside it
    assert policy(h, obs)[0].abs().max() < 7.0
    a, log_prob = policy.sample(obs, h)
    torch.testing.assert_close(policy.log_prob(obs, a), log_prob, atol=1e-6, rtol=1e-6)


def test_log_prob_normalises_in_1d() -> None:
    """A 1-D unsquashed policy's density integrates to one (trapezoid rule)."""
    policy = make(1, 1, squash=False)
    obs = obs_for(1, 1).expand(1, 4001, OBS)
    grid = torch.linspace(-30.0, 30.0, 4001, dtype=torch.float64).view(1, -1, 1)
    density = policy.log_prob(obs, grid).exp()
    assert torch.trapezoid(density[0], grid[0, :, 0]).item() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("act", [1, 4])
def test_gradients_reach_every_parameter(act: int) -> None:
    policy = make(2, act)
    obs = obs_for(2, 8)
    a, log_prob = policy.sample(obs)
    (a.sum() + log_prob.sum() + policy.log_prob(obs, a.detach().clamp(-0.9, 0.9)).sum()).backward()
    for name, p in policy.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name
        assert torch.isfinite(p.grad).all(), name


def test_sample_is_reparameterised() -> None:
    policy = make(1, 4)
    obs = obs_for(1, 5)
    h = torch.randn(1, 5, 4, dtype=torch.float64, requires_grad=True)
    a, _ = policy.sample(obs, h)
    a.sum().backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


def test_seeded_stack_equals_single_skill_policies() -> None:
    seeds = (3, 14, 15)
    stacked = RealNVPPolicy(3, OBS, 4, seeds=seeds, **SMALL).double()
    singles = [RealNVPPolicy(1, OBS, 4, seeds=(s,), **SMALL).double() for s in seeds]
    for name, p in stacked.named_parameters():
        per = p.shape[0] // 3  # 1 for the embedding, 2 (t-net, s-net) for conditioners
        for k, single in enumerate(singles):
            torch.testing.assert_close(
                p[k * per : (k + 1) * per], dict(single.named_parameters())[name], rtol=0, atol=0
            )
    obs, h = obs_for(3, 6), torch.randn(3, 6, 4, dtype=torch.float64)
    a, log_prob = stacked.sample(obs, h)
    for k, single in enumerate(singles):
        a_k, lp_k = single.sample(obs[k : k + 1], h[k : k + 1])
        torch.testing.assert_close(a[k : k + 1], a_k)
        torch.testing.assert_close(log_prob[k : k + 1], lp_k)


def test_seeds_are_distinct_per_skill() -> None:
    policy = RealNVPPolicy(2, OBS, 4, seeds=(0, 1), **SMALL)
    w = policy.embed.layers[0].weight
    assert not torch.equal(w[0], w[1])


def test_save_load_round_trip(tmp_path) -> None:
    policy = RealNVPPolicy(2, OBS, 3, seeds=(0, 1), **SMALL)
    path = tmp_path / "policy.safetensors"
    save_file(policy.state_dict(), str(path))
    other = RealNVPPolicy(2, OBS, 3, seeds=(7, 8), **SMALL)
    other.load_state_dict(load_file(str(path)))
    obs, h = obs_for(2, 5, torch.float32), torch.randn(2, 5, 3)
    for x, y in zip(policy.sample(obs, h), other.sample(obs, h)):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    torch.testing.assert_close(policy.deterministic(obs), other.deterministic(obs), rtol=0, atol=0)


# ----------------------------------------------------------------- coupling layers


def test_half_masks_alternate_like_the_original() -> None:
    # layer 0 ("odd" in haarnoja/sac) transforms x[:D//2]; layer 1 ("even") transforms x[D//2:]
    assert half_mask(6, 0).tolist() == [1, 1, 1, -1, -1, -1]
    assert half_mask(6, 1).tolist() == [-1, -1, -1, 1, 1, 1]
    assert half_mask(5, 0).tolist() == [1, 1, -1, -1, -1]
    assert half_mask(5, 1).tolist() == [-1, -1, 1, 1, 1]
    assert half_mask(1, 0).tolist() == [1] and half_mask(1, 1).tolist() == [1]
    with pytest.raises(ValueError):
        half_mask(0, 0)


def make_coupling(
    act: int = 4, layer: int = 0, scale_clamp: float | None = 5.0, k: int = 2
) -> SoftClampedAffineCoupling:
    mask = half_mask(act, layer)
    d_b = int((mask > 0).sum())
    cond = StackedConditioner(k, act - d_b, 3, d_b, (act,))
    return SoftClampedAffineCoupling(mask, cond, layer, scale_clamp).double()


@pytest.mark.parametrize("layer", [0, 1])
def test_coupling_is_the_original_affine_map(layer: int) -> None:
    """Unclamped: ``y_a = x_a``, ``y_b = x_b exp(s) + t``, log-det ``sum s`` (Real NVP eq. 4-6)."""
    coupling = make_coupling(layer=layer, scale_clamp=None)
    x, ctx = torch.randn(2 * 5, 4, dtype=torch.float64), torch.randn(2 * 5, 3, dtype=torch.float64)
    a, b = (slice(2, 4), slice(0, 2)) if layer == 0 else (slice(0, 2), slice(2, 4))
    params = coupling.transform_net(x[:, a], ctx)
    t, s = params[:, :2], params[:, 2:]
    y, ld = coupling(x, ctx)
    torch.testing.assert_close(y[:, a], x[:, a], rtol=0, atol=0)
    torch.testing.assert_close(y[:, b], x[:, b] * s.exp() + t)
    torch.testing.assert_close(ld, s.sum(-1))


@pytest.mark.parametrize("act", [1, 4, 5])
@pytest.mark.parametrize("layer", [0, 1])
def test_half_split_fast_path_equals_nflows_generic_path(act: int, layer: int) -> None:
    """Our slice/cat split gives exactly nflows' index/scatter ``CouplingTransform`` result."""
    coupling = make_coupling(act, layer)
    x, ctx = torch.randn(2 * 5, act, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    for ours, generic in (
        (coupling.forward, CouplingTransform.forward),
        (coupling.inverse, CouplingTransform.inverse),
    ):
        y, ld = ours(x, ctx)
        y_ref, ld_ref = generic(coupling, x, ctx)
        torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
        torch.testing.assert_close(ld, ld_ref, rtol=0, atol=0)
    with pytest.raises(ValueError, match=f"coupling layer {layer}: expected inputs"):
        coupling(torch.zeros(10, act + 1, dtype=torch.float64), ctx)


def test_checkerboard_masks_fall_back_to_nflows() -> None:
    cond = StackedConditioner(1, 2, 3, 2, (4,)).double()
    coupling = SoftClampedAffineCoupling(torch.tensor([1, -1, 1, -1]), cond).double()
    x, ctx = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    y, ld = coupling(x, ctx)
    torch.testing.assert_close(y[:, 1::2], x[:, 1::2], rtol=0, atol=0)
    x2, ld_inv = coupling.inverse(y, ctx)
    torch.testing.assert_close(x2, x)
    torch.testing.assert_close(ld_inv, -ld)


def test_conditioner_is_two_separate_mlps() -> None:
    """The fused block-diagonal network equals separate t- and s-MLPs (tanh hidden, linear out)."""
    k, b, d_a, e, d_b, hidden = 2, 4, 2, 3, 3, (5, 4)
    cond = StackedConditioner(k, d_a, e, d_b, hidden).double()
    x = torch.randn(k * b, d_a, dtype=torch.float64)
    ctx = torch.randn(k * b, e, dtype=torch.float64)
    out = cond(x, ctx).view(k, b, 2 * d_b)
    sizes = [d_a + e, *hidden, d_b]
    for net in range(2):
        z = torch.cat([x, ctx], -1).view(k, b, -1)
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            rows = slice(0, n_in) if i == 0 else slice(net * n_in, (net + 1) * n_in)
            cols = slice(net * n_out, (net + 1) * n_out)
            z = z @ cond.weight[i][:, rows, cols] + cond.bias[i][:, :, cols]
            z = torch.tanh(z) if i < len(hidden) else z
        torch.testing.assert_close(out[..., net * d_b : (net + 1) * d_b], z)


def test_scale_can_expand_unlike_nflows_default() -> None:
    coupling = make_coupling()
    with torch.no_grad():
        coupling.transform_net.weight[-1].zero_()
        coupling.transform_net.bias[-1].fill_(2.0)  # both t and s outputs = 2
    x, ctx = torch.randn(10, 4, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    params = coupling.transform_net(x[:, 2:], ctx)
    ours, _ = coupling._scale_and_shift(params)
    nflows_default, _ = AffineCouplingTransform._scale_and_shift(coupling, params)
    assert (ours > 1.0).all() and nflows_default.max() <= 1.001
    expected = torch.exp(5.0 * torch.tanh(torch.tensor(2.0 / 5.0, dtype=torch.float64)))
    torch.testing.assert_close(ours, expected.expand_as(ours))
    _, ld = coupling(x, ctx)
    assert (ld > 0).all()  # volume expands


def test_scale_is_soft_clamped() -> None:
    coupling = make_coupling(scale_clamp=2.0)
    params = torch.full((4, 4), 1e4, dtype=torch.float64)
    scale, _ = coupling._scale_and_shift(params)
    assert torch.isfinite(scale).all() and scale.max() <= torch.tensor(2.0).exp() + 1e-12
    with pytest.raises(ValueError, match="scale_clamp"):
        make_coupling(scale_clamp=0.0)


# ------------------------------------------------------------------------- errors


def test_dimension_mismatch_errors() -> None:
    policy = make(2, 4)
    obs = obs_for(2, 3)
    with pytest.raises(ValueError, match=r"obs dimension mismatch.*obs_dim=5.*\(2, 3, 6\)"):
        policy.sample(torch.randn(2, 3, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="obs dimension mismatch"):
        policy.sample(obs_for(3, 3))  # wrong K
    with pytest.raises(ValueError, match="obs dimension mismatch"):
        policy.deterministic(obs[0])
    with pytest.raises(ValueError, match=r"latent dimension mismatch.*\(2, 3, 4\).*\(2, 3, 5\)"):
        policy.sample(obs, torch.randn(2, 3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="action dimension mismatch"):
        policy.log_prob(obs, torch.zeros(2, 3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="action dimension mismatch"):
        policy.inverse(torch.zeros(2, 4, 4, dtype=torch.float64), obs)
    with pytest.raises(ValueError, match="num_skills must be positive"):
        RealNVPPolicy(0, OBS, 4)
    with pytest.raises(ValueError, match="seeds"):
        RealNVPPolicy(2, OBS, 4, seeds=(1,))


def test_non_finite_scale_names_the_coupling_layer() -> None:
    policy = make(2, 4, scale_clamp=None)
    with torch.no_grad():
        policy.couplings[1].transform_net.bias[-1].fill_(1e4)  # exp(1e4) = inf
    obs = obs_for(2, 3)
    with pytest.raises(FloatingPointError, match="coupling layer 1 produced a non-finite scale"):
        policy.sample(obs)
    with pytest.raises(FloatingPointError, match="coupling layer 1"):
        policy.log_prob(obs, torch.zeros(2, 3, 4, dtype=torch.float64))
    policy.validate = False
    assert not policy.validate
    _, log_prob = policy.sample(obs)  # unchecked: the inf goes through
    assert not torch.isfinite(log_prob).all()


def test_nan_parameters_name_the_first_coupling_layer() -> None:
    policy = make(1, 4)
    with torch.no_grad():
        policy.couplings[0].transform_net.weight[0].fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="coupling layer 0"):
        policy.sample(obs_for(1, 2))


# --------------------------------------------------------------------- held latent


def test_deterministic_uses_zero_or_the_held_latent() -> None:
    policy = make(2, 4)
    obs = obs_for(2, 5)
    zero = torch.zeros(2, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(policy.deterministic(obs), torch.tanh(policy(zero, obs)[0]))
    h = torch.randn(2, 1, 4, dtype=torch.float64)
    policy.hold_latent(h)
    expected = torch.tanh(policy(h.expand(2, 5, 4), obs)[0])
    torch.testing.assert_close(policy.deterministic(obs), expected)
    # sample never reads the held latent
    noise = torch.randn(2, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(policy.sample(obs, noise)[0], torch.tanh(policy(noise, obs)[0]))
    policy.release_latent()
    assert policy.held_latent is None
    torch.testing.assert_close(policy.deterministic(obs), torch.tanh(policy(zero, obs)[0]))
    with pytest.raises(ValueError, match="latent dimension mismatch"):
        policy.hold_latent(torch.zeros(2, 1, 3))


def test_reset_latent_redraws_only_finished_episodes() -> None:
    policy = make(2, 4)
    held = policy.reset_latent(torch.ones(2, 3, dtype=torch.bool)).clone()
    assert held.shape == (2, 3, 4) and held.dtype == torch.float64
    done = torch.tensor([[True, False, False], [False, False, True]])
    new = policy.reset_latent(done)
    assert torch.equal(new[~done], held[~done])
    assert not torch.equal(new[done], held[done])
    policy.hold_latent(num_envs=1)
    assert policy.reset_latent(done).shape == (2, 3, 4)  # a shared latent is broadcast first
    with pytest.raises(ValueError, match="mask dimension mismatch"):
        policy.reset_latent(torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="held latent is for 3 envs"):
        policy.deterministic(obs_for(2, 4))
    assert "_held_h" not in policy.state_dict()


# ---------------------------------------------------------------------- integration


def test_one_sac_update_moves_the_flow() -> None:
    from softskills.skills.agent import SACAgent
    from softskills.skills.critic import TwinQ
    from softskills.skills.sac import SACConfig
    from softskills.skills.types import Batch

    k, b, act = 2, 16, 3
    policy = RealNVPPolicy(k, OBS, act, seeds=(0, 1), **SMALL)
    agent = SACAgent(policy, TwinQ(k, OBS, act, hidden=(16, 16), seeds=(0, 1)), SACConfig())
    before = [p.detach().clone() for p in policy.parameters()]
    batch = Batch(
        torch.randn(k, b, OBS), torch.rand(k, b, act) * 2 - 1, torch.randn(k, b),
        torch.randn(k, b, OBS), torch.zeros(k, b),
    )
    losses = agent.update(batch)
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert all(not torch.equal(p0, p) for p0, p in zip(before, policy.parameters()))


def test_conditioner_off_block_weights_are_masked_out_and_get_no_gradient() -> None:
    """The t- and s-nets stay separate: off-block entries of the fused weights change nothing and
    receive zero gradient (the block mask, not the zero initialisation, keeps them apart)."""
    k, b, d_a, e, d_b, hidden = 2, 4, 2, 3, 3, (5, 4)
    cond = StackedConditioner(k, d_a, e, d_b, hidden).double()
    x = torch.randn(k * b, d_a, dtype=torch.float64)
    ctx = torch.randn(k * b, e, dtype=torch.float64)
    before = cond(x, ctx).detach()
    with torch.no_grad():
        for i in range(1, len(cond.weight)):
            off = getattr(cond, f"block_mask_{i}") == 0
            cond.weight[i][:, off] = 7.0
    out = cond(x, ctx)
    torch.testing.assert_close(out, before, rtol=0, atol=0)
    out.pow(2).sum().backward()
    for i in range(1, len(cond.weight)):
        off = getattr(cond, f"block_mask_{i}") == 0
        assert torch.equal(cond.weight[i].grad[:, off], torch.zeros_like(cond.weight[i].grad[:, off]))


def test_class_defaults_are_the_originals() -> None:
    """README: 2 couplings, s/t nets of one tanh layer of |A| units, embedding (256, 256, 2|A|) with ReLU, tanh
    squashing (what ``RealNVPPolicy(K, obs_dim, act_dim)`` builds, not only what it records in ``arch``)."""
    policy = RealNVPPolicy(2, 5, 6)
    assert len(policy.couplings) == 2 and policy.squash
    assert [(lay.in_features, lay.out_features) for lay in policy.embed.layers] == [(5, 256), (256, 256), (256, 12)]
    assert policy.embed.activation_name == "relu"
    for coupling in policy.couplings:
        assert coupling.transform_net.sizes == [3 + 12, 6, 3]  # concat(x_a, embed(s)) -> |A| units -> x_b
    assert policy.arch["st_hidden"] == [6] and policy.arch["embed_hidden"] == [256, 256]


def test_sample_compiles_with_fullgraph() -> None:
    """nflows' transforms do not break ``torch.compile(fullgraph=True)`` (with ``validate=False``: its host-side
    finiteness check would), and the compiled ``sample`` equals eager on the same noise."""
    policy = RealNVPPolicy(2, 4, 3, embed_hidden=(16,), validate=False)
    obs, noise = torch.randn(2, 8, 4), torch.randn(2, 8, 3)
    torch._dynamo.reset()
    act, log_prob = torch.compile(policy.sample, fullgraph=True)(obs, noise)
    with torch.no_grad():
        act_eager, log_prob_eager = policy.sample(obs, noise)
    torch.testing.assert_close(act, act_eager, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(log_prob, log_prob_eager, atol=1e-5, rtol=1e-5)
