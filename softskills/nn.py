"""Stacked networks: K independent MLPs evaluated with one batched matmul.

Every network in the core carries a leading *stack* dimension. A stack of ``n``
linear layers keeps its weights as one ``(n, in, out)`` tensor and evaluates all
of them with a single :func:`torch.baddbmm`, so K skills (or K skills times two
twin critics) cost one kernel per layer instead of K. Adam is elementwise, so one
optimizer over the stacked tensors is exactly K independent Adams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["StackedLinear", "StackedMLP", "full_precision", "init_generators"]


def init_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per stacked member, so member ``k`` is initialised from ``seeds[k]``.

    This makes a K-stacked network initialised with seeds ``(s_0, ..., s_{K-1})`` equal,
    slice by slice, to K single networks initialised with ``s_k``.
    """
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


class StackedLinear(nn.Module):
    """``n`` independent affine maps ``y_i = x_i W_i + b_i`` evaluated in one ``baddbmm``.

    Args:
        n: number of stacked members.
        in_features: input width.
        out_features: output width.
        generators: optional per-member generators for initialisation (length ``n``).
            Each member is initialised like :class:`torch.nn.Linear`:
            ``U(-1/sqrt(in), 1/sqrt(in))`` for weight and bias.
    """

    def __init__(
        self,
        n: int,
        in_features: int,
        out_features: int,
        generators: Sequence[torch.Generator] | None = None,
    ) -> None:
        super().__init__()
        if n < 1 or in_features < 1 or out_features < 1:
            raise ValueError(
                f"StackedLinear needs positive sizes, got n={n}, in={in_features}, out={out_features}"
            )
        self.n, self.in_features, self.out_features = n, in_features, out_features
        self.weight = nn.Parameter(torch.empty(n, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(n, 1, out_features))
        self.reset_parameters(generators)

    @torch.no_grad()
    def reset_parameters(self, generators: Sequence[torch.Generator] | None = None) -> None:
        """Initialise every member like ``nn.Linear`` (optionally from its own generator)."""
        bound = 1.0 / math.sqrt(self.in_features)
        if generators is None:
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)
            return
        if len(generators) != self.n:
            raise ValueError(f"expected {self.n} generators, got {len(generators)}")
        for i, g in enumerate(generators):
            w = torch.rand(self.in_features, self.out_features, generator=g) * 2 * bound - bound
            b = torch.rand(1, self.out_features, generator=g) * 2 * bound - bound
            self.weight[i].copy_(w)
            self.bias[i].copy_(b)

    def forward(self, x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None) -> Tensor:
        """Apply the stacked maps to ``x`` of shape ``(n, B, in)``; returns ``(n, B, out)``.

        ``weight``/``bias`` replace the module's own tensors (target or detached parameters).
        """
        w = self.weight if weight is None else weight
        b = self.bias if bias is None else bias
        return torch.baddbmm(b, x, w)

    def extra_repr(self) -> str:
        return f"n={self.n}, in_features={self.in_features}, out_features={self.out_features}"


class StackedMLP(nn.Module):
    """A stack of ``n`` MLPs ``in -> hidden... -> out`` with a hidden activation.

    ``forward(x, params)`` accepts an explicit flat parameter list
    ``[W_0, b_0, W_1, b_1, ...]`` so the same module evaluates targets (Polyak copies) and
    detached parameters (the actor step must not compute critic weight gradients).

    Args:
        n: number of stacked members.
        in_features: input width.
        hidden: hidden widths.
        out_features: output width.
        activation: hidden nonlinearity (``"relu"`` or ``"tanh"``).
        generators: optional per-member initialisation generators.
    """

    def __init__(
        self,
        n: int,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: str = "relu",
        generators: Sequence[torch.Generator] | None = None,
    ) -> None:
        super().__init__()
        # In place: the baddbmm output is not saved for backward, and relu/tanh save their
        # result, so autograd allows it; it saves one activation-sized allocation per layer.
        acts = {"relu": torch.relu_, "tanh": torch.tanh_}
        if activation not in acts:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(acts)}")
        self.activation_name = activation
        self._act = acts[activation]
        sizes = [in_features, *hidden, out_features]
        self.layers = nn.ModuleList(
            StackedLinear(n, a, b, generators) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.n, self.in_features, self.out_features = n, in_features, out_features

    def forward(self, x: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """Evaluate on ``x`` of shape ``(n, B, in)``; returns ``(n, B, out)``."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if params is None:
                x = layer(x)
            else:
                x = layer(x, params[2 * i], params[2 * i + 1])
            if i < last:
                x = self._act(x)
        return x


def full_precision(x: Tensor) -> Tensor:
    """``x`` in fp32 if it is a half-precision tensor (bf16/fp16 from autocast); fp32/fp64 pass through.

    Policies call it on network outputs so that log-probabilities, tanh corrections and
    coupling log-determinants are never computed in bf16.
    """
    return x if x.dtype in (torch.float32, torch.float64) else x.float()
