"""Acting from the composed policy itself, with no extracted network: importance resampling.

The composed policy of thesis ch. 6 is ``pi_Sigma(a|s) ∝ exp(Q_Sigma(s, a)/alpha)`` (eq. 6.2 with
the Boltzmann policy of eq. 3.4). The extraction methods of :mod:`softskills.compose.extract`
train a network to draw from it, and every error of that training adds to the composition's own.
:class:`ResampledPolicy` skips the network: at each state it draws ``N`` candidate actions
uniformly from the box ``[-1, 1]^|A|`` and picks one with probability
``softmax_j(Q_Sigma(s, a_j)/alpha)`` (self-normalised importance resampling with a uniform proposal).

Assumptions, and what they cost:

* The actions live on the box ``[-1, 1]^|A|`` (the normalised space of a bounded action space,
  where every squashed policy of this package acts). The uniform proposal covers the whole
  support of ``pi_Sigma``, so the draw converges to ``pi_Sigma`` as ``N`` grows.
* For finite ``N`` the draw is biased towards the proposal, and the bias grows with the action
  dimension (the same uniform importance sampling limits SQL's soft value; softqlearning issue #8).
  It suits low-dimensional actions, such as the pusher's 3 torques; ``N = 500`` is about 8 candidates
  per axis there.
* Each action costs ``N`` evaluations of every constituent critic: cheap for one arm at evaluation
  time, not a replacement for a trained policy on a robot with many joints.

``deterministic=True`` takes the best of the ``N`` candidates, an estimate of the mode of ``pi_Sigma``.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor, nn

from softskills.compose.composed import ComposedQ
from softskills.compose.runs import load_composed

__all__ = ["ResampledPolicy", "load_resampled"]


class ResampledPolicy(nn.Module):
    """``pi_Sigma ∝ exp(Q_Sigma/alpha)`` by resampling ``candidates`` uniform actions per state.

    It acts like an agent of this package (``act``, ``num_skills``, ``act_dim``), so that
    :func:`~softskills.skills.evaluate.evaluate` and ``softskills eval --resample N`` can run it.

    Args:
        q: the composed soft Q-function; its ``alpha`` is the temperature of the draw.
        candidates: uniform candidate actions per state, ``>= 1``.
        generator: optional torch generator for the candidates and the draw (default: torch's global one);
            it may live on another device than the observations (the draws are moved).

    Raises:
        ValueError: ``candidates < 1``.
    """

    def __init__(self, q: ComposedQ, candidates: int = 500, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if int(candidates) < 1:
            raise ValueError(f"candidates must be >= 1, got {candidates}")
        self.q = q
        self.candidates = int(candidates)
        self.generator = generator
        self.num_skills = 1
        self.obs_dim, self.act_dim = q.obs_dim, q.act_dim

    def extra_repr(self) -> str:
        return f"candidates={self.candidates}, alpha={self.q.alpha:g}"

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """One action per state, drawn from ``N`` uniform candidates (thesis eq. 6.2 with eq. 3.4).

        Args:
            obs: observations ``(..., obs_dim)``, any float dtype (cast to the critics').
            deterministic: take ``argmax_j Q_Sigma(s, a_j)`` instead of drawing ``j`` with
                probability ``softmax_j(Q_Sigma(s, a_j)/alpha)``.

        Returns:
            Actions in ``[-1, 1]^|A|``, ``(..., act_dim)``, in the critics' dtype.

        Raises:
            ValueError: the observations' last dimension is not the critics' ``obs_dim``.
        """
        if obs.shape[-1] != self.obs_dim:
            raise ValueError(f"observations have {obs.shape[-1]} features, the composed critics expect {self.obs_dim}")
        dtype = next((p.dtype for p in self.q.parameters()), torch.get_default_dtype())
        lead = obs.shape[:-1]
        flat = obs.reshape(-1, self.obs_dim).to(dtype)
        n, m = flat.shape[0], self.candidates
        gen = self.generator
        draw_on = obs.device if gen is None else gen.device
        u = torch.rand((n, m, self.act_dim), generator=gen, device=draw_on, dtype=dtype).to(obs.device)
        cand = u * 2.0 - 1.0
        q = self.q(flat.unsqueeze(1).expand(n, m, self.obs_dim), cand)  # (n, m): one row per state
        if deterministic:
            pick = q.argmax(dim=-1)
        else:
            probs = torch.softmax(q.float() / self.q.alpha, dim=-1)  # over each state's own candidates
            pick = torch.multinomial(probs.to(draw_on), 1, generator=gen).squeeze(-1).to(obs.device)
        return cand[torch.arange(n, device=obs.device), pick].reshape(*lead, self.act_dim)


def load_resampled(
    run_dir: str | os.PathLike[str], candidates: int = 500, device: str = "cpu"
) -> ResampledPolicy:
    """A :class:`ResampledPolicy` on the :class:`ComposedQ` of a ``softskills compose`` run directory.

    Args:
        run_dir: a run directory written by ``softskills compose``.
        candidates: uniform candidate actions per state.
        device: torch device of the critics.

    Returns:
        The policy; set its ``generator`` for reproducible draws.

    Raises:
        CheckpointError: ``run_dir`` is not a composed run.
        ValueError: the run's action space is unbounded (no box to draw candidates from), its policy has a
            non-uniform action prior (``exp(Q_Sigma/alpha)`` alone is not its target), or ``candidates < 1``.
    """
    _, q, cfg, meta = load_composed(run_dir, device)
    if cfg.algo == "sac" and cfg.sac.action_prior != "uniform":
        raise ValueError(f"{run_dir} has the action prior {cfg.sac.action_prior!r}; resampling draws from "
                         "exp(Q_Sigma/alpha) under a uniform prior only")
    spaces = meta.get("spaces") or {}
    low, high = spaces.get("act_low"), spaces.get("act_high")
    if low is None or high is None or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"{run_dir} acts in an unbounded action space; resampling needs a box to draw candidates "
                         "from (use the extracted policy instead)")
    return ResampledPolicy(q, candidates).to(device)

