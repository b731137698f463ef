r"""Affine coupling layers for K stacked skills, built on nflows' transforms.

A coupling layer splits the latent into a conditioning half :math:`x_a` and a transformed
half :math:`x_b` and maps (Dinh et al., Real NVP, eq. 4-5; thesis §7.2, eq. 7.3)

.. math:: y_a = x_a, \qquad y_b = x_b \odot \exp(s(x_a, c)) + t(x_a, c),

with log-determinant :math:`\sum_i s_i` (Real NVP eq. 6). ``c`` is the observation embedding.

K skills share one nflows transform: nflows runs on a flattened ``(K*B, D)`` batch, and the
conditioner reshapes it to ``(K, B, .)`` and evaluates all K skills' s- and t-nets with stacked
matmuls. ``torch.vmap`` over nflows is not an option: ``CouplingTransform.forward`` assigns in
place (``outputs[:, self.identity_features, ...] = identity_split``, nflows 0.14
``coupling.py`` l. 95), which vmap rejects.

References:
    Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP. ICLR 2017.
    https://arxiv.org/abs/1605.08803

    Haarnoja, Hartikainen, Abbeel, Levine. Latent Space Policies for Hierarchical
    Reinforcement Learning. ICML 2018. https://arxiv.org/abs/1804.02808
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from nflows.transforms.coupling import AffineCouplingTransform
from torch import Tensor, nn

from softskills.skills.nn import StackedMLP

__all__ = ["StackedConditioner", "SoftClampedAffineCoupling", "half_mask"]


def half_mask(features: int, layer: int) -> Tensor:
    """The nflows mask (``> 0`` = transformed) of coupling layer ``layer`` (0-based).

    Halves, not a checkerboard, with alternating parity as in haarnoja/sac's
    ``RealNVPBijector``: its layer ``i = 1, 2, ...`` has parity ``("even", "odd")[i % 2]``, so
    the first layer (``odd``) transforms ``x[:D//2]`` given ``x[D//2:]`` and the second
    (``even``) transforms ``x[D//2:]`` given ``x[:D//2]``.

    For ``features == 1`` there is no second half: every layer transforms the single feature
    and is conditioned on the observation embedding alone (an elementwise affine map).

    Args:
        features: the latent/action width ``D``.
        layer: the 0-based index of the coupling layer.

    Returns:
        a ``(D,)`` float tensor of ``+1`` (transformed) and ``-1`` (identity) entries.
    """
    if features < 1:
        raise ValueError(f"a coupling layer needs at least one feature, got {features}")
    if features == 1:
        return torch.ones(1)
    half = features // 2
    first_transformed = layer % 2 == 0
    mask = torch.full((features,), -1.0)
    if first_transformed:
        mask[:half] = 1.0
    else:
        mask[half:] = 1.0
    return mask


class StackedConditioner(nn.Module):
    """The s- and t-nets of one coupling layer for K skills, as one stacked MLP of ``2K`` members.

    Each skill ``k`` owns two separate MLPs over ``concat(x_a, c)`` with ``tanh`` hidden layers
    and a linear output (haarnoja/sac ``feedforward_net``): member ``2k`` is the t-net (shift)
    and member ``2k + 1`` is the s-net (log-scale). Running both as one ``2K`` stack costs one
    ``baddbmm`` per layer instead of two.

    ``forward(x, context)`` has nflows' conditioner signature: ``x`` is the identity split of
    the flattened ``(K*B, D_a)`` batch and ``context`` the flattened ``(K*B, E)`` embedding;
    it returns nflows' ``(K*B, 2*D_b)`` layout ``[shift | unconstrained scale]``.

    Args:
        num_skills: K.
        identity_features: ``D_a``, the conditioning width (``0`` for a 1-D latent).
        context_features: ``E``, the embedding width.
        transform_features: ``D_b``, the transformed width.
        hidden: hidden widths of each s/t net.
        generators: optional per-skill initialisation generators (length K); both nets of
            skill ``k`` are drawn from ``generators[k]``.
    """

    def __init__(
        self,
        num_skills: int,
        identity_features: int,
        context_features: int,
        transform_features: int,
        hidden: Sequence[int],
        generators: Sequence[torch.Generator] | None = None,
    ) -> None:
        super().__init__()
        self.num_skills = num_skills
        self.in_features = identity_features + context_features
        self.transform_features = transform_features
        gens = None if generators is None else [g for g in generators for _ in range(2)]
        self.net = StackedMLP(
            2 * num_skills, self.in_features, hidden, transform_features, "tanh", gens
        )

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        """``[t | s]`` of a flattened batch: ``(K*B, D_a)``, ``(K*B, E)`` -> ``(K*B, 2*D_b)``."""
        k, n = self.num_skills, context.shape[0]
        if n % k:
            raise ValueError(f"flattened batch of {n} rows is not a multiple of K={k}")
        b = n // k
        inp = torch.cat([x, context], dim=-1) if x.shape[-1] else context
        inp = inp.view(k, 1, b, self.in_features).expand(k, 2, b, self.in_features)
        out = self.net(inp.reshape(2 * k, b, self.in_features))  # (2K, B, D_b)
        out = out.view(k, 2, b, self.transform_features).transpose(1, 2)  # (K, B, 2, D_b)
        return out.reshape(n, 2 * self.transform_features)


class SoftClampedAffineCoupling(AffineCouplingTransform):
    r"""nflows' affine coupling with an *expanding* scale :math:`\exp(c \tanh(s / c))`.

    nflows 0.14 hard-codes ``scale = sigmoid(s + 2) + 1e-3`` in ``_scale_and_shift``, so every
    coupling can only contract (``scale <= 1.001``); the configurable ``scale_activation`` came
    after the last PyPI release (bayesiains/nflows commit of Dec 2021, see
    ``/work/shared/reference/originals.md`` §7). The original LSP used an unbounded
    :math:`\exp(s)` guarded only by ``tf.check_numerics``. We keep the exponential (so the
    layer can expand as well as contract) and soft-clamp its argument,
    :math:`\log \sigma = c \tanh(s / c)`, so :math:`\sigma \in (e^{-c}, e^c)`: the gradient is
    smooth everywhere, :math:`\approx s` for :math:`|s| \ll c`, and one bad step cannot overflow
    ``exp``. ``scale_clamp=None`` restores the original unbounded :math:`\exp(s)`.

    The forward/inverse maps use :math:`\log \sigma` directly rather than nflows'
    ``log(scale)`` of the exponentiated value.

    Args:
        mask: nflows mask, ``> 0`` for transformed features (see :func:`half_mask`).
        conditioner: the s/t network, called as ``conditioner(x_a, context)``.
        index: this layer's 0-based position in the flow (named in error messages).
        scale_clamp: ``c``; ``None`` for no clamp.
        validate: check that the scale and log-det are finite, raising
            :class:`FloatingPointError` naming this layer. The check reads the result on the
            host (a device sync), so turn it off on GPU hot paths and under CUDA-graph capture.
    """

    def __init__(
        self,
        mask: Tensor,
        conditioner: nn.Module,
        index: int = 0,
        scale_clamp: float | None = 5.0,
        validate: bool = True,
    ) -> None:
        if scale_clamp is not None and scale_clamp <= 0:
            raise ValueError(f"scale_clamp must be positive or None, got {scale_clamp}")

        def create(_in_features: int, out_features: int) -> nn.Module:
            width = getattr(conditioner, "transform_features", None)
            if width is not None and 2 * width != out_features:
                raise ValueError(
                    f"coupling layer {index}: the mask transforms {out_features // 2} features "
                    f"but the conditioner outputs {width}"
                )
            return conditioner

        super().__init__(mask, create)
        self.index = index
        self.scale_clamp = scale_clamp
        self.validate = validate

    def _log_scale_and_shift(self, transform_params: Tensor) -> tuple[Tensor, Tensor]:
        """Split nflows' ``[shift | unconstrained scale]`` layout into ``(log sigma, shift)``."""
        d = self.num_transform_features
        shift, s = transform_params[:, :d], transform_params[:, d:]
        if self.scale_clamp is not None:
            c = self.scale_clamp
            s = c * torch.tanh(s / c)
        return s, shift

    def _scale_and_shift(self, transform_params: Tensor) -> tuple[Tensor, Tensor]:
        """``(exp(c tanh(s / c)), t)``: the override of nflows' contracting ``sigmoid(s + 2)``."""
        log_scale, shift = self._log_scale_and_shift(transform_params)
        return log_scale.exp(), shift

    def _check(self, log_scale: Tensor, scale: Tensor) -> None:
        ok = torch.isfinite(log_scale).all() & (torch.isfinite(scale) & (scale > 0)).all()
        if not bool(ok):
            raise FloatingPointError(
                f"coupling layer {self.index} produced a non-finite scale or log-det "
                f"(scale_clamp={self.scale_clamp}); check the inputs and parameters for "
                "NaN/inf, or bound the scale with scale_clamp"
            )

    def _coupling_transform_forward(
        self, inputs: Tensor, transform_params: Tensor
    ) -> tuple[Tensor, Tensor]:
        log_scale, shift = self._log_scale_and_shift(transform_params)
        scale = log_scale.exp()
        if self.validate:
            self._check(log_scale, scale)
        return inputs * scale + shift, log_scale.sum(-1)

    def _coupling_transform_inverse(
        self, inputs: Tensor, transform_params: Tensor
    ) -> tuple[Tensor, Tensor]:
        log_scale, shift = self._log_scale_and_shift(transform_params)
        inv_scale = torch.exp(-log_scale)
        if self.validate:
            self._check(log_scale, inv_scale)
        return (inputs - shift) * inv_scale, -log_scale.sum(-1)

    def extra_repr(self) -> str:
        return f"index={self.index}, scale_clamp={self.scale_clamp}, validate={self.validate}"
