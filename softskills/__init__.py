"""softskills: maximum-entropy robot skills (flows, hierarchies, composition) on one SAC/SQL core."""

__version__ = "0.1.0"
__all__ = ["__version__"]
