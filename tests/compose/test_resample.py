"""ResampledPolicy: draws from exp(Q_Sigma/alpha) by importance resampling, and loads from composed runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from softskills.compose.composed import ComposedQ
from softskills.compose.resample import ResampledPolicy, load_resampled
from softskills.compose.runs import compose_runs
from softskills.skills.checkpoint import CheckpointError
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.skills.trainer import Trainer

torch.set_num_threads(1)


class Toy(nn.Module):
    """A one-action critic: Q(s, a) = beta * a + s, or with ``tilt`` Q(s, a) = beta * s * a.

    Its second twin is ``100 - Q``, larger while Q < 50, so only the min of the twins gives Q.
    """

    num_skills, obs_dim, act_dim = 1, 1, 1

    def __init__(self, beta: float, tilt: bool = False) -> None:
        super().__init__()
        self.beta, self.tilt = beta, tilt

    def forward(self, obs: Tensor, act: Tensor) -> Tensor:  # (K, B, .) -> (K, 2, B)
        s, a = obs[..., 0], act[..., 0]
        q = self.beta * s * a if self.tilt else self.beta * a + s
        return torch.stack([q, 100.0 - q], dim=1)


def boltzmann_mean(beta: float, alpha: float) -> float:
    """Mean of the density ∝ exp(beta * a / alpha) on [-1, 1]: coth(c) - 1/c with c = beta/alpha."""
    c = beta / alpha
    return 1.0 / math.tanh(c) - 1.0 / c


@pytest.mark.parametrize(("beta", "alpha"), [(2.0, 1.0), (2.0, 2.0), (-3.0, 1.5)])
def test_samples_follow_the_boltzmann_policy(beta: float, alpha: float) -> None:
    q = ComposedQ([Toy(beta), Toy(beta)], (0.5, 0.5), alpha)  # Q_Sigma = beta * a + s
    pol = ResampledPolicy(q, candidates=400, generator=torch.Generator().manual_seed(0))
    obs = torch.randn(4, 5000, 1)  # the state shifts Q by a constant: it must not change the draw
    a = pol.act(obs)
    assert a.shape == (4, 5000, 1) and bool((a.abs() <= 1.0).all())
    # 20,000 draws: the standard error of the mean is below 0.005; the finite-N bias is O(1/N)
    assert float(a.mean()) == pytest.approx(boltzmann_mean(beta, alpha), abs=0.02)


def test_each_state_draws_from_its_own_candidates() -> None:
    q = ComposedQ([Toy(2.0, tilt=True), Toy(2.0, tilt=True)], (0.5, 0.5), 1.0)
    pol = ResampledPolicy(q, candidates=300, generator=torch.Generator().manual_seed(4))
    obs = torch.tensor([1.0, -1.0]).repeat(5000).view(10_000, 1)
    a = pol.act(obs)[:, 0]
    want = boltzmann_mean(2.0, 1.0)
    assert float(a[0::2].mean()) == pytest.approx(want, abs=0.03)
    assert float(a[1::2].mean()) == pytest.approx(-want, abs=0.03)
    one = torch.cat([pol.act(torch.ones(1, 1)) for _ in range(2000)])  # one state per call: its own softmax
    assert float(one.mean()) == pytest.approx(want, abs=0.05)
    a64 = pol.act(obs.double())  # any float dtype: cast to the critics'
    assert a64.dtype == torch.float32 and a64.shape == (10_000, 1)


def test_deterministic_takes_the_best_candidate() -> None:
    q = ComposedQ([Toy(1.0), Toy(1.0)], (0.5, 0.5), 100.0)  # nearly uniform when sampled
    pol = ResampledPolicy(q, candidates=500, generator=torch.Generator().manual_seed(1))
    best = pol.act(torch.zeros(200, 1), deterministic=True)
    assert float(best.min()) > 0.95 and float(best.mean()) > 0.99  # the largest of 500 uniform draws
    drawn = pol.act(torch.zeros(2000, 1))
    assert abs(float(drawn.mean())) < 0.05  # alpha 100: close to the uniform proposal


def test_bad_inputs_are_named() -> None:
    q = ComposedQ([Toy(1.0), Toy(1.0)], (0.5, 0.5), 1.0)
    with pytest.raises(ValueError, match="candidates must be >= 1"):
        ResampledPolicy(q, candidates=0)
    with pytest.raises(ValueError, match="2 features"):
        ResampledPolicy(q).act(torch.zeros(3, 2))



def test_load_resampled_refuses_a_normal_prior_and_an_unbounded_space(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusals, on a stand-in for the loaded run (the composed Q, its config and its metadata)."""
    import softskills.compose.resample as resample_module

    q = ComposedQ([Toy(1.0), Toy(1.0)], (0.5, 0.5), 1.0)
    box = {"spaces": {"act_low": [-1.0], "act_high": [1.0]}}

    def run(cfg: TrainConfig, meta: dict) -> None:
        monkeypatch.setattr(resample_module, "load_composed", lambda run_dir, device: (None, q, cfg, meta))

    run(TrainConfig(), box)
    assert load_resampled("run", candidates=7).candidates == 7  # the control: a uniform prior in a box loads
    run(TrainConfig(sac=SACConfig(action_prior="normal")), box)
    with pytest.raises(ValueError, match="action prior 'normal'"):
        load_resampled("run")
    for meta in ({"spaces": {"act_low": [-math.inf], "act_high": [math.inf]}}, {"spaces": {}}, {}):
        run(TrainConfig(), meta)
        with pytest.raises(ValueError, match="unbounded action space"):
            load_resampled("run")

def _train(out: Path, goal: list[float | None]) -> str:
    cfg = TrainConfig(env="softskills/Pusher-v0", steps=200, warmup_steps=100, batch_size=32, eval_every=0,
                      eval_episodes=1, log_every=100, checkpoint_every=10_000, threads=1, progress=False,
                      tensorboard=False, out=str(out), env_kwargs=json.dumps({"goal": goal}),
                      sac=SACConfig(hidden=(32, 32), auto_alpha=False, init_alpha=0.5))
    Trainer(cfg).train()
    return str(out)


def test_load_from_a_composed_run_and_eval_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _train(tmp_path / "x", [-1, None]), _train(tmp_path / "y", [None, -1])
    out = tmp_path / "merged"
    compose_runs([x, y], method="sac", out=out, steps=5, batch_size=32)
    pol = load_resampled(out, candidates=64)
    assert pol.candidates == 64 and pol.q.alpha == pytest.approx(0.5) and pol.act_dim == 3
    obs = torch.randn(1, 7, 12)
    pol.generator = torch.Generator().manual_seed(3)
    a = pol.act(obs)
    assert a.shape == (1, 7, 3) and bool((a.abs() <= 1.0).all())
    # from the same candidates, the best one scores at least as high as the drawn one
    pol.generator = torch.Generator().manual_seed(3)
    best = pol.act(obs, deterministic=True)
    assert not torch.equal(best, a)
    assert bool((pol.q(obs, best) >= pol.q(obs, a) - 1e-6).all())

    import softskills.compose.resample as resample_module
    from softskills.cli import main

    loaded: list[ResampledPolicy] = []

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        loaded.append(load_resampled(*args, **kwargs))
        return loaded[-1]

    monkeypatch.setattr(resample_module, "load_resampled", spy)
    returns = []
    for _ in range(2):
        main(["eval", str(out), "--episodes", "2", "--resample", "16", "--stochastic"])
        printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert printed["resample"] == 16 and printed["tasks"] == [{"goal": [-1, -1]}]
        returns.append(printed["mean_return"])
    assert len(loaded) == 2 and loaded[0].candidates == 16  # the CLI acted with the resampled policy
    assert math.isfinite(returns[0]) and returns[0] == returns[1]  # seeded from --seed: reproducible

    with pytest.raises(CheckpointError, match="not a composed run"):
        load_resampled(x)

    # --steps 0: no policy is extracted; eval refuses to act with the untrained one unless --resample
    bare = tmp_path / "bare"
    m = compose_runs([x, y], method="svgd", out=bare, steps=0, batch_size=32)
    assert m["gradient_steps"] == 0 and m["final_loss"] is None and "--resample" in m["notes"][-1]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["eval", str(bare), "--episodes", "1"])
    assert "composed with --steps 0" in capsys.readouterr().err
    main(["eval", str(bare), "--episodes", "1", "--resample", "8"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["resample"] == 8
    assert len(loaded) == 3 and loaded[-1].candidates == 8
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["eval", str(out), "--resample=-1"])
    assert "--resample must be >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", x, "--resample", "8"])
    assert "not a composed run" in capsys.readouterr().err
