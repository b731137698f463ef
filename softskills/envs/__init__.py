"""Gymnasium environments of softskills, registered under the ``softskills/`` namespace on import."""

__all__: list[str] = []
