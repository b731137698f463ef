"""softskills: maximum-entropy robot skills (flows, hierarchies, composition) on one SAC/SQL core."""

from softskills._registry import register_all as _register_all

__version__ = "0.1.0"
__all__ = ["__version__"]

_register_all()
