"""direction_consistency: a held latent that decides the direction is told apart from one that does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from softskills.hierarchy.probe import direction_consistency


def _disp(angles: np.ndarray, dist: float = 2.0) -> np.ndarray:
    return dist * np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def test_latents_with_their_own_directions_are_consistent() -> None:
    rng = np.random.default_rng(0)
    angles = np.linspace(-math.pi, math.pi, 16, endpoint=False)[:, None] + 0.2 * rng.standard_normal((16, 8))
    c = direction_consistency(_disp(angles), permutations=300)
    assert c["latents"] == 16 and c["rollouts"] == 128
    assert c["within"] > 0.95 and c["null"] < 0.45 and c["p_value"] < 0.01
    # no shuffle reaches `within`: the add-one smoothed p-value is exactly 1 / (1 + permutations), never 0
    assert c["p_value"] == pytest.approx(1.0 / 301.0, rel=1e-12)
    # the pooled directions spread all around, as the latents' own directions do
    assert c["pooled"] < 0.2


def test_directions_that_ignore_the_latent_are_not() -> None:
    rng = np.random.default_rng(1)
    c = direction_consistency(_disp(rng.uniform(-math.pi, math.pi, (16, 8))), permutations=300)
    # about 0.31 for 8 uniform directions, whether or not the labels are shuffled
    assert abs(c["within"] - c["null"]) < 0.08 and 0.2 < c["null"] < 0.42
    assert c["p_value"] > 0.05


def test_one_shared_direction_is_not_credited_to_the_latent() -> None:
    """Every rollout going east is consistent within a latent, but no more than after shuffling."""
    rng = np.random.default_rng(2)
    c = direction_consistency(_disp(0.1 * rng.standard_normal((16, 8))), permutations=300)
    assert c["within"] > 0.95 and c["within"] - c["null"] < 0.01 and c["p_value"] > 0.2


def test_short_rollouts_and_thin_latents_are_left_out() -> None:
    angles = np.array([[0.0, 0.0, 0.0], [math.pi / 2, -math.pi / 2, 0.0], [1.0, 2.0, 3.0]])
    d = _disp(angles)
    d[2, 1:] *= 0.1  # latent 2 moved far enough only once: no direction to compare
    d[1, 2] *= 0.1  # latent 1's third rollout did not move
    c = direction_consistency(d, min_distance=0.5, permutations=50)
    assert c["latents"] == 2 and c["rollouts"] == 5
    assert c["within"] == pytest.approx((1.0 + 0.0) / 2, abs=1e-12)  # latent 1's two went opposite ways


def test_nothing_moved_gives_nan_and_bad_shapes_are_refused() -> None:
    c = direction_consistency(np.zeros((4, 3, 2)))
    assert c["latents"] == 0 and math.isnan(c["within"]) and math.isnan(c["p_value"])
    with pytest.raises(ValueError, match="repeats >= 2"):
        direction_consistency(np.zeros((4, 1, 2)))
    with pytest.raises(ValueError, match="shape"):
        direction_consistency(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="permutations"):
        direction_consistency(np.ones((4, 3, 2)), permutations=0)


def test_latent_consistency_holds_every_latent_from_the_same_starts(
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """Rollout j * repeats + r holds latent j from start r (reset seed ``seed + r``); a fake rollout that goes
    where the latent points is consistent by latent and not by start."""
    import softskills.hierarchy.probe as probe

    calls = []

    def fake_rollouts(layer, env_id, latents, steps, seed, position_key, **kw):  # type: ignore[no-untyped-def]
        calls.append((len(latents), seed, steps, kw))
        rng = np.random.default_rng(seed * 100 + len(calls))
        return [np.stack([np.zeros(2), 2 * h[:2] / np.linalg.norm(h[:2]) + 0.05 * rng.standard_normal(2)])
                for h in latents]

    monkeypatch.setattr(probe, "latent_rollouts", fake_rollouts)
    latents = np.stack([np.cos(np.arange(8) * 0.8), np.sin(np.arange(8) * 0.8)], axis=1)
    c, paths = probe.latent_consistency(None, "env", latents, repeats=4, steps=7, seed=5,  # type: ignore[arg-type]
                                        frame_skip=2)
    assert calls == [(1, 5 + r, 7, {"frame_skip": 2}) for _ in range(8) for r in range(4)]
    assert len(paths) == 32 and np.allclose(paths[4][-1], 2 * latents[1] / np.linalg.norm(latents[1]), atol=0.3)
    assert c["repeats"] == 4 and c["latents"] == 8 and c["within"] > 0.99 and c["p_value"] < 0.01
    s = c["by_start"]
    assert s["latents"] == 4 and s["within"] < 0.3 and s["p_value"] > 0.05  # a start does not set the heading
    with pytest.raises(ValueError, match="repeats must be at least 2"):
        probe.latent_consistency(None, "env", latents, repeats=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2 latents"):
        probe.latent_consistency(None, "env", latents[:1], repeats=4)  # type: ignore[arg-type]


def test_by_start_sees_a_start_that_sets_the_heading(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """If the start alone decides the heading, the by-start statistic says so and the by-latent one does not."""
    import softskills.hierarchy.probe as probe

    def fake_rollouts(layer, env_id, latents, steps, seed, position_key, **kw):  # type: ignore[no-untyped-def]
        ang = seed * 0.8 + 0.05 * np.random.default_rng(int(1000 * latents[0, 0]) % 997).standard_normal()
        return [np.stack([np.zeros(2), 2 * np.array([np.cos(ang), np.sin(ang)])])]

    monkeypatch.setattr(probe, "latent_rollouts", fake_rollouts)
    latents = np.random.default_rng(0).standard_normal((8, 8))
    c, _ = probe.latent_consistency(None, "env", latents, repeats=8, steps=7, seed=0)  # type: ignore[arg-type]
    assert c["by_start"]["within"] > 0.95 and c["by_start"]["p_value"] < 0.01
    assert c["within"] < 0.3 and c["p_value"] > 0.05


def test_task_return_draws_a_fresh_latent_every_step(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``task_return`` acts as the primitive was trained: a new ``h`` each step, episode i reset with seed + i,
    stopped at termination; the mean of the episodes' summed rewards; bad counts are refused."""
    import softskills.hierarchy.probe as probe

    seen: list[tuple[int | None, np.ndarray]] = []

    class FakeEnv:
        def __init__(self, env: object, layer: object) -> None:
            self.t, self.seed = 0, None

        def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict]:
            self.t, self.seed = 0, seed
            return np.zeros(3), {}

        def step(self, h: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
            self.t += 1
            seen.append((self.seed, np.array(h)))
            return np.zeros(3), float(self.seed), self.t == 3 and self.seed == 7, False, {}  # seed 7 ends at 3

        def close(self) -> None:
            pass

    class Layer:
        latent_dim = 4

    monkeypatch.setattr(probe, "LatentActionWrapper", FakeEnv)
    monkeypatch.setattr(probe, "make_env", lambda env_id, **kw: None)
    mean = probe.task_return(Layer(), "env", episodes=2, steps=5, seed=6)  # type: ignore[arg-type]
    assert [s for s, _ in seen] == [6] * 5 + [7] * 3
    assert mean == (6 * 5 + 7 * 3) / 2
    hs = np.stack([h for _, h in seen])
    assert hs.shape == (8, 4) and len(np.unique(hs[:, 0])) == 8  # never held
    with pytest.raises(ValueError, match="episodes and steps must be >= 1"):
        probe.task_return(Layer(), "env", episodes=0)  # type: ignore[arg-type]


def _layer(squash: bool, identity: bool):  # type: ignore[no-untyped-def]
    import torch

    from softskills.flows.realnvp import RealNVPPolicy
    from softskills.hierarchy.layer import FrozenLayer

    torch.manual_seed(0)
    p = RealNVPPolicy(1, 5, 4, embed_hidden=(16,), st_hidden=(8,), squash=squash)
    if identity:  # the s- and t-nets' output layers at zero: f(h; s) = h
        with torch.no_grad():
            for name, v in p.named_parameters():
                if "transform_net" in name and name.endswith(".1"):
                    v.zero_()
    return FrozenLayer(p)


def test_latent_authority_of_the_identity_flow_is_the_tanh_derivative() -> None:
    import torch

    from softskills.hierarchy.probe import latent_authority

    obs = np.random.default_rng(3).standard_normal((64, 5))
    r = latent_authority(_layer(squash=True, identity=True), obs, seed=7)
    gen = torch.Generator().manual_seed(7)  # the latents latent_authority draws
    h1, h2 = torch.randn(64, 4, generator=gen).double(), torch.randn(64, 4, generator=gen).double()
    deriv = 1.0 - torch.tanh(h1) ** 2  # a = tanh(h): a diagonal Jacobian, its singular values |diagonal|
    want = np.median(np.sort(deriv.numpy(), axis=1)[:, ::-1], axis=0)
    np.testing.assert_allclose(r["singular_values"], want, rtol=1e-5)
    assert r["log_det"] == pytest.approx(float(np.median(torch.log(deriv).sum(1).numpy())), rel=1e-4)
    assert r["action_gap"] == pytest.approx(float((torch.tanh(h1) - torch.tanh(h2)).norm(dim=1).mean()), rel=1e-5)
    assert r["saturated"] == pytest.approx(float((torch.tanh(h1).abs() > 0.99).double().mean()))
    # unsquashed, the identity flow's Jacobian is I: every singular value 1, log-det 0, nothing saturates
    r = latent_authority(_layer(squash=False, identity=True), obs, seed=7)
    np.testing.assert_allclose(r["singular_values"], 1.0, rtol=1e-6)
    assert abs(r["log_det"]) < 1e-6 and r["saturated"] == 0.0


def test_latent_authority_matches_an_autograd_jacobian_of_a_random_flow() -> None:
    import torch

    from softskills.hierarchy.probe import latent_authority

    layer = _layer(squash=True, identity=False)
    obs = np.random.default_rng(4).standard_normal((6, 5))
    r = latent_authority(layer, obs, seed=1)
    h1 = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    o = torch.as_tensor(obs, dtype=torch.float32)
    sv = [torch.linalg.svdvals(torch.autograd.functional.jacobian(lambda h: layer(h[None], o[b:b + 1])[0][0],
                                                                   h1[b]).double()).numpy() for b in range(6)]
    np.testing.assert_allclose(r["singular_values"], np.median(np.stack(sv), axis=0), rtol=1e-4)
    with pytest.raises(ValueError, match=r"non-empty \(N, D\) array"):
        latent_authority(layer, np.zeros((0, 5)))


def test_visited_observations_start_at_each_reset_and_repeat_with_the_seed() -> None:
    from softskills.hierarchy import pretrained
    from softskills.hierarchy.probe import visited_observations
    from softskills.skills.vec import make_env

    layer = pretrained("ant-velocity")
    env_id = "softskills/AntVelocity-v0"
    obs = visited_observations(layer, env_id, episodes=2, steps=10, seed=3)
    assert obs.shape == (20, 105) and obs.dtype == np.float64
    for i in (0, 1):  # each episode's first row is its reset observation, seeded seed + i
        env = make_env(env_id)
        np.testing.assert_array_equal(obs[10 * i], np.asarray(env.reset(seed=3 + i)[0], dtype=np.float64))
        env.close()
    assert not np.array_equal(obs[0], obs[1])  # the ant moved: the rows are the successive states
    np.testing.assert_array_equal(obs, visited_observations(layer, env_id, episodes=2, steps=10, seed=3))
    assert not np.array_equal(obs[1:10], visited_observations(layer, env_id, episodes=2, steps=10, seed=5)[1:10])
    with pytest.raises(ValueError, match="episodes and steps must be >= 1"):
        visited_observations(layer, env_id, episodes=0)
