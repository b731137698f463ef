"""Offline composition of soft Q-functions with certified bounds (thesis ch. 6 and appendix B.4).

- :mod:`~softskills.compose.tabular`: exact composition and bounds on finite MDPs (numpy float64).
- :mod:`~softskills.compose.renyi`: estimators of the Rényi divergence of order 1/2.
- :class:`ComposedQ`, :class:`UnionBuffer`, :func:`extract_policy`: Q_Sigma of trained critics, a
  batch from the constituents' buffers, and a policy extracted offline (no env steps).
- :func:`fit_bounds`: C*, D*, D_exact by fitted iteration on replay transitions.
- :func:`compose_runs`, :func:`bounds_report`: the same on run directories (``softskills compose``,
  ``softskills bounds``).
- :class:`ResampledPolicy`: act from ``exp(Q_Sigma/alpha)`` itself by importance resampling, with no
  extracted network (``softskills eval RUN --resample N``).
"""

from softskills.compose.bounds import (
    FitConfig,
    FittedBounds,
    GaussianGap,
    MonteCarloGap,
    SoftValueGap,
    bound_statistics,
    fit_bounds,
    make_estimator,
)
from softskills.compose.composed import ComposedQ, twin_q_skill
from softskills.compose.extract import ExtractConfig, Extraction, extract_policy
from softskills.compose.resample import ResampledPolicy, load_resampled
from softskills.compose.runs import BoundsArgs, ComposeArgs, bounds_report, compose_runs, load_composed
from softskills.compose.union import UnionBuffer

__all__ = [
    "BoundsArgs",
    "ComposeArgs",
    "ComposedQ",
    "ExtractConfig",
    "Extraction",
    "FitConfig",
    "FittedBounds",
    "GaussianGap",
    "MonteCarloGap",
    "ResampledPolicy",
    "SoftValueGap",
    "UnionBuffer",
    "bound_statistics",
    "bounds_report",
    "compose_runs",
    "extract_policy",
    "fit_bounds",
    "load_composed",
    "load_resampled",
    "make_estimator",
    "twin_q_skill",
]
