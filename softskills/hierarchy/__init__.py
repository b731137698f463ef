"""softskills.hierarchy: planned subpackage (no public API yet)."""

__all__: list[str] = []
