"""Stacked layers: seeded members are initialised like ``nn.Linear`` and evaluate as separate layers."""

from __future__ import annotations

import math

import torch

from softskills.nn import StackedLinear, init_generators


def test_seeded_init_is_nn_linear_uniform_and_members_are_separate_layers() -> None:
    """``U(-1/sqrt(in), 1/sqrt(in))`` for weight and bias, with or without seeds; member ``i`` is
    ``x_i @ W_i + b_i``."""
    for gens in (init_generators([0, 1]), None):
        layer = StackedLinear(2, 64, 200, gens)
        bound = 1.0 / math.sqrt(64)
        for p in (layer.weight, layer.bias):
            assert p.abs().max() <= bound and p.abs().max() > 0.97 * bound
        assert abs(layer.weight.mean().item()) < 0.05 * bound  # centred (25600 draws: sd 0.004 bound)
    x = torch.randn(2, 3, 64)
    out = layer(x)
    for i in range(2):
        torch.testing.assert_close(out[i], x[i] @ layer.weight[i] + layer.bias[i, 0])
