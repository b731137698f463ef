"""The tanh squashing correction, computed stably on the pre-tanh value."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["tanh_log_det", "atanh_clamped"]

_LOG2 = math.log(2.0)


def tanh_log_det(u: Tensor) -> Tensor:
    """``sum_i log(1 - tanh(u_i)^2)`` in the numerically stable form ``2 (log 2 - u - softplus(-2u))``.

    This is the log-Jacobian of ``a = tanh(u)`` (SAC paper, appendix C, eq. 21); the closed form
    never evaluates ``1 - tanh^2`` and so stays finite for large ``|u|`` where the naive
    ``log(1 - tanh(u)^2 + 1e-6)`` of the original code saturates at ``log 1e-6``.

    Args:
        u: pre-tanh values ``(..., D)``.

    Returns:
        the log-determinant summed over the last dimension, ``(...)``.
    """
    return (2.0 * (_LOG2 - u - F.softplus(-2.0 * u))).sum(-1)


def atanh_clamped(a: Tensor, eps: float = 1e-6) -> Tensor:
    """``atanh(a)`` with ``a`` clamped into ``(-1 + eps, 1 - eps)`` so boundary actions stay finite."""
    # In fp32: 1 - 1e-6 rounds to exactly 1 in bf16/fp16, where atanh would be infinite.
    x = a if a.dtype in (torch.float32, torch.float64) else a.float()
    return torch.atanh(x.clamp(-1.0 + eps, 1.0 - eps)).to(a.dtype)
