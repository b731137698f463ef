r"""Affine coupling layers for K stacked skills, built on nflows' transforms.

A coupling layer splits the latent into a conditioning half :math:`x_a` and a transformed
half :math:`x_b` and maps (Dinh et al., Real NVP, eq. 4-5; thesis §7.2, eq. 7.3)

.. math:: y_a = x_a, \qquad y_b = x_b \odot \exp(s(x_a, c)) + t(x_a, c),

with log-determinant :math:`\sum_i s_i` (Real NVP eq. 6). ``c`` is the observation embedding.

K skills share one nflows transform: nflows runs on a flattened ``(K*B, D)`` batch, and the
conditioner reshapes it to ``(K, B, .)`` and evaluates all K skills' s- and t-nets with stacked
matmuls. ``torch.vmap`` over K nflows transforms is the alternative, and it is fragile and
slower: ``CouplingTransform.forward`` assigns in place through integer index *buffers*
(``outputs[:, self.identity_features, ...] = identity_split``, nflows 0.14 ``coupling.py``
l. 95). Stacked with ``torch.func.stack_module_state`` like the parameters, those indices
become batched under vmap and the assignment fails with a shape mismatch (torch 2.13); with
the buffers shared (``in_dims=None``) vmap works but took 1.9x (K = 1) and 1.7x (K = 16) the
time of this flattened batch for two couplings, forward + backward, on a 2-core CPU
(``benchmarks/stacking.py``, 2026-11-24).

References:
    Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP. ICLR 2017.
    https://arxiv.org/abs/1605.08803

    Haarnoja, Hartikainen, Abbeel, Levine. Latent Space Policies for Hierarchical
    Reinforcement Learning. ICML 2018. https://arxiv.org/abs/1804.02808
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from nflows.transforms.coupling import AffineCouplingTransform
from torch import Tensor, nn

from softskills.nn import full_precision

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
    r"""The s- and t-nets of one coupling layer for K skills, evaluated as one stacked network.

    Each skill ``k`` owns two separate MLPs over ``concat(x_a, c)`` with ``tanh`` hidden layers
    and a linear output (haarnoja/sac ``feedforward_net``): the t-net (shift) and the s-net
    (log-scale). Both run as *one* K-stacked network: the first layer concatenates the two
    nets' output columns, ``(K, in, 2 H_1)``, and every later layer is block-diagonal,
    ``[[W_t, 0], [0, W_s]]`` (a fixed 0/1 mask keeps the blocks apart, so the nets stay
    separate, exactly; the off-block entries stay zero and get zero gradient). This costs one
    ``baddbmm`` of K members per layer; stacking the nets as
    ``2K`` members instead is measurably slower on CPU, where ``bmm`` pays a fixed cost per
    member, and needs two copies to interleave the outputs.

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
            skill ``k`` are drawn from ``generators[k]``. Each block is initialised like the
            ``nn.Linear`` of a separate net (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``).
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
        if generators is not None and len(generators) != num_skills:
            raise ValueError(f"expected {num_skills} generators, got {len(generators)}")
        self.num_skills = num_skills
        self.in_features = identity_features + context_features
        self.transform_features = transform_features
        self.sizes = [self.in_features, *hidden, transform_features]
        self.weight = nn.ParameterList()
        self.bias = nn.ParameterList()
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            rows = a if i == 0 else 2 * a
            self.weight.append(nn.Parameter(torch.zeros(num_skills, rows, 2 * b)))
            self.bias.append(nn.Parameter(torch.zeros(num_skills, 1, 2 * b)))
            if i > 0:
                mask = torch.zeros(rows, 2 * b)
                mask[:a, :b] = 1.0
                mask[a:, b:] = 1.0
                self.register_buffer(f"block_mask_{i}", mask, persistent=False)
        self.reset_parameters(generators)

    @torch.no_grad()
    def reset_parameters(self, generators: Sequence[torch.Generator] | None = None) -> None:
        """Initialise each net's blocks like separate ``nn.Linear`` layers (t-net, then s-net)."""
        for k in range(self.num_skills):
            g = None if generators is None else generators[k]
            for net in range(2):  # 0: t-net (shift), 1: s-net (log-scale)
                for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
                    bound = 1.0 / math.sqrt(a)
                    rows = slice(0, a) if i == 0 else slice(net * a, (net + 1) * a)
                    cols = slice(net * b, (net + 1) * b)
                    w = torch.rand(a, b, generator=g) * 2 * bound - bound
                    c = torch.rand(1, b, generator=g) * 2 * bound - bound
                    self.weight[i][k, rows, cols] = w
                    self.bias[i][k, :, cols] = c

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        """``[t | s]`` of a flattened batch: ``(K*B, D_a)``, ``(K*B, E)`` -> ``(K*B, 2*D_b)``."""
        k, n = self.num_skills, context.shape[0]
        if n % k:
            raise ValueError(f"flattened batch of {n} rows is not a multiple of K={k}")
        z = torch.cat([x, context], dim=-1) if x.shape[-1] else context
        z = z.view(k, n // k, self.in_features)
        last = len(self.weight) - 1
        for i, (w, b) in enumerate(zip(self.weight, self.bias)):
            if i > 0:
                w = w * getattr(self, f"block_mask_{i}")
            z = torch.baddbmm(b, z, w)
            if i < last:
                z = torch.tanh(z)
        return z.view(n, 2 * self.transform_features)


def _contiguous_halves(identity: Tensor, transform: Tensor) -> str | None:
    """``"transform_first"`` or ``"identity_first"`` if the mask is two ranges, else ``None``."""
    d = identity.numel() + transform.numel()
    for name, first, second in (
        ("transform_first", transform, identity),
        ("identity_first", identity, transform),
    ):
        if torch.equal(torch.cat([first, second]), torch.arange(d)):
            return name
    return None


class SoftClampedAffineCoupling(AffineCouplingTransform):
    r"""nflows' affine coupling with an *expanding* scale :math:`\exp(c \tanh(s / c))`.

    nflows 0.14 hard-codes ``scale = sigmoid(s + 2) + 1e-3`` in ``_scale_and_shift``, so every
    coupling can only contract (``scale <= 1.001``; bayesiains/nflows ``coupling.py`` at tag
    ``v0.14``); the configurable ``scale_activation`` reached nflows' master in Dec 2021, after
    the last PyPI release. The original LSP used an unbounded
    :math:`\exp(s)` guarded only by ``tf.check_numerics``. We keep the exponential (so the
    layer can expand as well as contract) and soft-clamp its argument,
    :math:`\log \sigma = c \tanh(s / c)`, so :math:`\sigma \in (e^{-c}, e^c)`: the gradient is
    smooth everywhere, :math:`\approx s` for :math:`|s| \ll c`, and one bad step cannot overflow
    ``exp``. ``scale_clamp=None`` restores the original unbounded :math:`\exp(s)`.

    The forward/inverse maps use :math:`\log \sigma` directly rather than nflows'
    ``log(scale)`` of the exponentiated value.

    Half-split fast path: nflows' generic ``forward``/``inverse`` gather the two parts with
    index tensors and scatter them back into an ``empty_like`` (two ``index`` and two
    ``index_put_`` per call, and as many in the backward). When the mask's two parts are
    contiguous ranges, as :func:`half_mask` makes them, we slice and concatenate instead; the
    conditioner and the affine map are the same nflows hooks, and the result equals nflows'
    generic path exactly (``tests/flows/test_realnvp.py``). Other masks use nflows' path.

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
        self._d_a, self._d_b = self.num_identity_features, self.num_transform_features
        self._halves = _contiguous_halves(self.identity_features, self.transform_features)

    def _split(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        if inputs.dim() != 2 or inputs.shape[1] != self.features:
            raise ValueError(
                f"coupling layer {self.index}: expected inputs of shape (N, {self.features}), "
                f"got {tuple(inputs.shape)}"
            )
        if self._halves == "transform_first":
            return inputs[:, self._d_b :], inputs[:, : self._d_b]
        return inputs[:, : self._d_a], inputs[:, self._d_a :]

    def _merge(self, identity: Tensor, transformed: Tensor) -> Tensor:
        if self._d_a == 0:
            return transformed
        if self._halves == "transform_first":
            return torch.cat([transformed, identity], dim=1)
        return torch.cat([identity, transformed], dim=1)

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(y, log|det dy/dx|)`` of ``x`` ``(N, D)``: Real NVP eq. 4-6 (see the class notes)."""
        if self._halves is None:
            return super().forward(inputs, context)
        x_a, x_b = self._split(inputs)
        y_b, logabsdet = self._coupling_transform_forward(x_b, self.transform_net(x_a, context))
        return self._merge(x_a, y_b), logabsdet

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(x, log|det dx/dy|)`` of ``y`` ``(N, D)``: the inverse map, log-det ``-sum s``."""
        if self._halves is None:
            return super().inverse(inputs, context)
        y_a, y_b = self._split(inputs)
        x_b, logabsdet = self._coupling_transform_inverse(y_b, self.transform_net(y_a, context))
        return self._merge(y_a, x_b), logabsdet

    def _log_scale_and_shift(self, transform_params: Tensor) -> tuple[Tensor, Tensor]:
        """Split nflows' ``[shift | unconstrained scale]`` layout into ``(log sigma, shift)``."""
        d = self._d_b
        # fp32 even under bf16 autocast: the scale, shift and log-det never round to bf16.
        transform_params = full_precision(transform_params)
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
