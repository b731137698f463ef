"""Config <-> JSON: round trip, and checkpoints written before a field existed resume as trained."""

from __future__ import annotations

from softskills.skills.config import TrainConfig
from softskills.skills.config_io import LEGACY_DEFAULTS, LEGACY_SQL_DEFAULTS, config_from_dict, config_to_dict
from softskills.skills.sql import SQLConfig


def test_round_trip_keeps_the_current_defaults() -> None:
    cfg = TrainConfig(algo="sql", sql=SQLConfig(svgd_space="original"), graph_compile=True)
    assert config_from_dict(config_to_dict(cfg)) == cfg
    assert config_from_dict(config_to_dict(TrainConfig())) == TrainConfig()


def test_a_config_without_the_newer_fields_loads_with_the_behaviour_that_wrote_it() -> None:
    """A checkpoint from before ``graph_compile`` and ``sql.svgd_space`` ran the eager CUDA graph and
    squashed-space SVGD; it must resume that way, not with today's defaults."""
    d = config_to_dict(TrainConfig(algo="sql"))
    del d["graph_compile"]
    del d["sql"]["svgd_space"]
    old = config_from_dict(d)
    assert old.graph_compile is False and old.sql.svgd_space == "squashed"
    assert TrainConfig().graph_compile is True and SQLConfig().svgd_space == "pre_tanh"
    assert set(LEGACY_DEFAULTS) == {"graph_compile"} and set(LEGACY_SQL_DEFAULTS) == {"svgd_space"}
