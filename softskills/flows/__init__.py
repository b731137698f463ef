"""Policies: the tanh-Gaussian of SAC and Real-NVP state-conditioned flows (LSP)."""

from softskills.flows.gaussian import GaussianPolicy
from softskills.flows.realnvp import RealNVPPolicy

__all__ = ["GaussianPolicy", "RealNVPPolicy"]
