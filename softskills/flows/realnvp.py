r"""The Real-NVP latent space policy (LSP) of Haarnoja et al. (ICML 2018), stacked over K skills.

An action is an invertible, observation-conditioned function of a Gaussian latent
(thesis §7.2, eq. 7.2; ICML 2018 eq. 4):

.. math:: h \sim \mathcal N(0, I), \qquad u = f(h; s), \qquad a = \tanh(u),

so that, by the change of variables (Real NVP eq. 3; SAC appendix C, eq. 21),

.. math::
    \log \pi(a|s) = \log \mathcal N(h; 0, I)
        - \log\left|\det \frac{\partial f}{\partial h}\right| - \sum_i \log(1 - \tanh^2 u_i).

``f`` is a chain of affine coupling layers (:mod:`softskills.flows.coupling`) conditioned on an
MLP embedding of the observation. Because ``f`` is a bijection, a higher layer of a hierarchy
can act in this layer's latent space ``h`` (thesis §7.3).

Direction convention: ``forward`` is latent -> action, as in the original ``RealNVPBijector``
(``out = x * exp(s) + t`` going *towards* the action). We use nflows' transforms as plain
bijections, not its ``Flow`` class, whose convention is data -> noise; so here nflows'
``transform.forward`` *is* latent -> action and ``transform.inverse`` is action -> latent.
Sampling (the SAC hot path) therefore only ever runs the forward direction.

References:
    Haarnoja, Hartikainen, Abbeel, Levine. Latent Space Policies for Hierarchical
    Reinforcement Learning. ICML 2018. https://arxiv.org/abs/1804.02808

    Haarnoja. Acquiring Diverse Robot Skills via Maximum Entropy Deep Reinforcement
    Learning. PhD thesis, UC Berkeley, 2018, ch. 7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from nflows.transforms import CompositeTransform
from torch import Tensor, nn

from softskills.flows.coupling import SoftClampedAffineCoupling, StackedConditioner, half_mask
from softskills.flows.tanh import atanh_clamped, tanh_log_det
from softskills.nn import StackedMLP, init_generators

__all__ = ["RealNVPPolicy"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _std_normal_log_prob(h: Tensor) -> Tensor:
    """``log N(h; 0, I)`` summed over the last dimension."""
    return (-0.5 * h.pow(2) - _HALF_LOG_2PI).sum(-1)


class RealNVPPolicy(nn.Module):
    r"""A state-conditioned Real-NVP flow policy for K skills (a :class:`.Policy`).

    Architecture (haarnoja/sac ``sac/policies/latent_space_policy.py`` and
    ``sac/distributions/real_nvp_bijector.py``): an observation embedding ``(M, M, 2|A|)``
    with ReLU hidden layers and a linear output; ``coupling_layers`` affine couplings over
    half splits with alternating parity; per coupling, separate s- and t-nets over
    ``concat(x_a, embedding)`` with ``tanh`` hidden layers and linear outputs. The scale is
    :math:`\exp(c \tanh(s/c))` (see
    :class:`~softskills.flows.coupling.SoftClampedAffineCoupling` for why nflows' default is
    replaced).

    Deliberate differences from the original: the soft-clamped scale (above); the exact, stable
    tanh correction :func:`~softskills.flows.tanh.tanh_log_det` instead of
    ``log(1 - tanh^2 + 1e-6)``; ``nn.Linear``-style uniform initialisation instead of Xavier
    weights with ``N(0, 1)`` biases; no MAP-over-100-candidates in :meth:`deterministic`.

    With ``act_dim == 1`` a half split would leave one side empty, so every coupling is an
    elementwise affine map of the single latent conditioned on the embedding only (a chain of
    such maps is still one state-dependent affine map, i.e. a state-dependent Gaussian before
    the tanh).

    Holding the latent (the original's ``_fixed_h`` and ``fix_h_on_reset``): after
    :meth:`hold_latent`, :meth:`deterministic` returns ``f(h_held; s)`` instead of ``f(0; s)``.
    For per-episode latents (temporally correlated exploration, as the original high-level maze
    policy), call ``hold_latent(num_envs=N)`` once and ``reset_latent(done)`` after every env
    step; act with ``deterministic``. :meth:`sample` never reads the held latent, so the SAC
    losses always see fresh noise.

    Args:
        num_skills: K.
        obs_dim: observation width.
        act_dim: action (and latent) width ``|A|``.
        coupling_layers: number of coupling layers (2 in the original).
        st_hidden: hidden widths of every s- and t-net; ``None`` means ``(act_dim,)``, the
            original's one layer of ``|A|`` units.
        embed_hidden: hidden widths ``(M, M)`` of the observation embedding.
        squash: apply ``tanh`` (actions in ``[-1, 1]``); turn it off for a layer whose action
            is a lower layer's unbounded latent.
        scale_clamp: soft bound ``c`` of the log-scale; ``None`` for the original's unbounded
            ``exp(s)``.
        seeds: per-skill initialisation seeds (length K), or ``None`` for the global RNG. A
            K-stacked policy with seeds ``(s_0, ..., s_{K-1})`` equals K single-skill policies
            with seed ``s_k``, slice by slice.
        validate: raise :class:`FloatingPointError` naming the coupling layer when a scale or
            log-det is non-finite. The check syncs with the device; turn it off (constructor or
            the :attr:`validate` property) on GPU hot paths and under CUDA-graph capture.
    """

    def __init__(
        self,
        num_skills: int,
        obs_dim: int,
        act_dim: int,
        *,
        coupling_layers: int = 2,
        st_hidden: Sequence[int] | None = None,
        embed_hidden: Sequence[int] = (256, 256),
        squash: bool = True,
        scale_clamp: float | None = 5.0,
        seeds: Sequence[int] | None = None,
        validate: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_skills", num_skills),
            ("obs_dim", obs_dim),
            ("act_dim", act_dim),
            ("coupling_layers", coupling_layers),
        ):
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if seeds is not None and len(seeds) != num_skills:
            raise ValueError(f"expected {num_skills} seeds (one per skill), got {len(seeds)}")
        self.num_skills, self.obs_dim, self.act_dim = num_skills, obs_dim, act_dim
        self.squash = squash
        st_hidden = (act_dim,) if st_hidden is None else tuple(st_hidden)
        self.arch: dict[str, object] = {
            "num_skills": num_skills, "obs_dim": obs_dim, "act_dim": act_dim,
            "coupling_layers": coupling_layers, "st_hidden": list(st_hidden),
            "embed_hidden": list(embed_hidden), "squash": squash, "scale_clamp": scale_clamp,
        }
        """The constructor arguments (JSON), so a saved layer can be rebuilt without its config."""
        embed_dim = 2 * act_dim
        gens = init_generators(seeds) if seeds is not None else None
        # Construction order (embedding, then couplings in order) fixes each skill's draws.
        self.embed = StackedMLP(num_skills, obs_dim, embed_hidden, embed_dim, "relu", gens)
        couplings = []
        for i in range(coupling_layers):
            mask = half_mask(act_dim, i)
            transformed = int((mask > 0).sum())
            conditioner = StackedConditioner(
                num_skills, act_dim - transformed, embed_dim, transformed, st_hidden, gens
            )
            couplings.append(
                SoftClampedAffineCoupling(mask, conditioner, i, scale_clamp, validate)
            )
        self.transform = CompositeTransform(couplings)
        self.register_buffer("_held_h", None, persistent=False)

    # ------------------------------------------------------------------ checks

    @property
    def couplings(self) -> list[SoftClampedAffineCoupling]:
        """The coupling layers in forward (latent -> action) order."""
        return [m for m in self.transform.modules() if isinstance(m, SoftClampedAffineCoupling)]

    @property
    def validate(self) -> bool:
        """Whether the couplings check for non-finite scales (a device sync per layer)."""
        return all(c.validate for c in self.couplings)

    @validate.setter
    def validate(self, value: bool) -> None:
        for c in self.couplings:
            c.validate = bool(value)

    def _check_obs(self, obs: Tensor) -> None:
        if obs.dim() != 3 or obs.shape[0] != self.num_skills or obs.shape[-1] != self.obs_dim:
            raise ValueError(
                f"obs dimension mismatch: expected (K={self.num_skills}, B, "
                f"obs_dim={self.obs_dim}), got {tuple(obs.shape)}"
            )

    def _check_acts(self, x: Tensor, obs: Tensor, what: str) -> None:
        expected = (self.num_skills, obs.shape[1], self.act_dim)
        if tuple(x.shape) != expected:
            raise ValueError(
                f"{what} dimension mismatch: expected (K, B, act_dim) = {expected}, "
                f"got {tuple(x.shape)}"
            )

    # --------------------------------------------------------------- bijection

    def embedding(self, obs: Tensor) -> Tensor:
        """The observation embedding (the couplings' context), ``(K, B, 2*act_dim)``."""
        self._check_obs(obs)
        return self.embed(obs)

    def _run(self, x: Tensor, obs: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        return self.transform_with_context(x, self.embedding(obs), inverse)

    def transform_with_context(self, x: Tensor, ctx: Tensor, inverse: bool = False) -> tuple[Tensor, Tensor]:
        """:meth:`forward` (or :meth:`inverse`) given the states' :meth:`embedding` ``ctx`` instead of the states.

        The embedding is most of a flow's cost, so a caller that pushes many latents or actions through one
        state computes it once per state and repeats it along the batch (e.g. Monte Carlo densities).

        Args:
            x: latents (or pre-squash actions with ``inverse``), ``(K, B, act_dim)``.
            ctx: the embedding of each row's state, ``(K, B, 2*act_dim)``.
            inverse: run ``f^{-1}`` instead of ``f``.

        Returns:
            ``(y, log|det|)`` with shapes ``(K, B, act_dim)`` and ``(K, B)``.
        """
        if x.dim() != 3 or x.shape[-1] != self.act_dim:
            raise ValueError(f"expected x of shape (K, B, {self.act_dim}), got {tuple(x.shape)}")
        k, b, d = x.shape
        if ctx.shape != (k, b, 2 * self.act_dim):
            raise ValueError(f"expected an embedding of shape {(k, b, 2 * self.act_dim)} for x of shape "
                             f"{tuple(x.shape)}, got {tuple(ctx.shape)}")
        run = self.transform.inverse if inverse else self.transform.forward
        y, logabsdet = run(x.reshape(k * b, d), ctx.reshape(k * b, ctx.shape[-1]))
        return y.view(k, b, d), logabsdet.view(k, b)

    def forward(self, h: Tensor, obs: Tensor) -> tuple[Tensor, Tensor]:
        r"""Latent -> pre-squash action: ``(u = f(h; s), log|det df/dh|)``, ``(K, B, .)``."""
        self._check_obs(obs)
        self._check_acts(h, obs, "latent")
        return self._run(h, obs, inverse=False)

    def inverse(self, raw_action: Tensor, obs: Tensor) -> tuple[Tensor, Tensor]:
        r"""Pre-squash action -> latent: ``(h = f^{-1}(u; s), log|det df^{-1}/du|)``."""
        self._check_obs(obs)
        self._check_acts(raw_action, obs, "action")
        return self._run(raw_action, obs, inverse=True)

    # ------------------------------------------------------------------ policy

    def sample(self, obs: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reparameterised ``(a, log pi(a|s))``; shapes ``(K, B, A)`` and ``(K, B)``.

        ``noise`` is the latent ``h ~ N(0, I)``, ``(K, B, act_dim)``; drawn if ``None``. The held
        latent (:meth:`hold_latent`) is never used here.
        """
        self._check_obs(obs)
        h = noise
        if h is None:
            h = torch.randn(
                obs.shape[0], obs.shape[1], self.act_dim, dtype=obs.dtype, device=obs.device
            )
        raw, logabsdet = self.forward(h, obs)
        log_prob = _std_normal_log_prob(h) - logabsdet
        if not self.squash:
            return raw, log_prob
        return torch.tanh(raw), log_prob - tanh_log_det(raw)

    def action(self, obs: Tensor) -> Tensor:
        """A sample ``a = tanh(f(h; s))``, ``h ~ N(0, I)``, without its log-density (the acting path).

        Draws ``h`` exactly as :meth:`sample` does, so ``action(obs)`` equals ``sample(obs)[0]``
        for the same RNG state; the base log-density and the tanh correction are skipped.
        """
        self._check_obs(obs)
        h = torch.randn(obs.shape[0], obs.shape[1], self.act_dim, dtype=obs.dtype, device=obs.device)
        raw, _ = self.forward(h, obs)
        return torch.tanh(raw) if self.squash else raw

    def log_prob(self, obs: Tensor, act: Tensor) -> Tensor:
        """``log pi(act|obs)``; squashed actions are mapped back with a clamped ``atanh``."""
        self._check_obs(obs)
        self._check_acts(act, obs, "action")
        raw = atanh_clamped(act) if self.squash else act
        h, logabsdet = self._run(raw, obs, inverse=True)
        log_prob = _std_normal_log_prob(h) + logabsdet
        return log_prob - tanh_log_det(raw) if self.squash else log_prob

    def deterministic(self, obs: Tensor) -> Tensor:
        """``tanh(f(h; s))`` with ``h`` the held latent, or ``h = 0`` (the mode of the base)."""
        self._check_obs(obs)
        k, b = obs.shape[0], obs.shape[1]
        held = self._held_h
        if held is None:
            h = obs.new_zeros(k, b, self.act_dim)
        elif held.shape[1] in (1, b):
            h = held.expand(k, b, self.act_dim).to(obs.dtype)
        else:
            raise ValueError(
                f"the held latent is for {held.shape[1]} envs but obs has a batch of {b}"
            )
        raw, _ = self._run(h, obs, inverse=False)
        return torch.tanh(raw) if self.squash else raw

    # ------------------------------------------------------------- held latent

    @property
    def held_latent(self) -> Tensor | None:
        """The held latent ``(K, N, act_dim)`` (``N = 1`` broadcasts over the batch), if any."""
        return self._held_h

    def _draw(self, n: int) -> Tensor:
        w = self.embed.layers[0].weight
        return torch.randn(self.num_skills, n, self.act_dim, dtype=w.dtype, device=w.device)

    def hold_latent(self, h: Tensor | None = None, num_envs: int = 1) -> Tensor:
        """Hold ``h`` for :meth:`deterministic` (the original's ``_fixed_h``); returns it.

        Args:
            h: the latent ``(K, N, act_dim)``; ``None`` draws one from ``N(0, I)`` of shape
                ``(K, num_envs, act_dim)``.
            num_envs: ``N`` when drawing.
        """
        if h is None:
            h = self._draw(num_envs)
        elif h.dim() != 3 or h.shape[0] != self.num_skills or h.shape[-1] != self.act_dim:
            raise ValueError(
                f"latent dimension mismatch: expected (K={self.num_skills}, N, "
                f"act_dim={self.act_dim}), got {tuple(h.shape)}"
            )
        self._held_h = h.detach().clone()
        return self._held_h

    def release_latent(self) -> None:
        """Stop holding a latent: :meth:`deterministic` goes back to ``h = 0``."""
        self._held_h = None

    def reset_latent(self, mask: Tensor | None = None) -> Tensor:
        """Redraw the held latent where ``mask`` (``(K, N)`` bool, e.g. ``done``) is true.

        The per-episode option (``fix_h_on_reset`` of the original): call after every env step
        with the episodes that ended. ``mask=None`` redraws everything; with no latent held, a
        full ``(K, N, act_dim)`` latent is drawn.
        """
        held = self._held_h
        if mask is None:
            return self.hold_latent(num_envs=1 if held is None else held.shape[1])
        if mask.dim() != 2 or mask.shape[0] != self.num_skills:
            raise ValueError(
                f"mask dimension mismatch: expected (K={self.num_skills}, N), "
                f"got {tuple(mask.shape)}"
            )
        n = mask.shape[1]
        if held is None:
            return self.hold_latent(num_envs=n)
        if held.shape[1] not in (1, n):
            raise ValueError(f"the held latent is for {held.shape[1]} envs but mask has {n}")
        held = held.expand(self.num_skills, n, self.act_dim)
        fresh = self._draw(n)
        self._held_h = torch.where(mask.to(torch.bool).unsqueeze(-1), fresh, held)
        return self._held_h

    def extra_repr(self) -> str:
        return (
            f"num_skills={self.num_skills}, obs_dim={self.obs_dim}, act_dim={self.act_dim}, "
            f"squash={self.squash}"
        )
