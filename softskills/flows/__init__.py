"""Policies: the tanh-Gaussian of SAC and (issue 4) Real-NVP state-conditioned flows."""

from softskills.flows.gaussian import GaussianPolicy

__all__ = ["GaussianPolicy"]
