"""softskills.compose: planned subpackage (no public API yet)."""

__all__: list[str] = []
