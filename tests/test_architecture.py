"""Imports flow one way, bottom to top (the brief's architecture): a module never imports from a layer above it.

Layers: the package root (version, env registration) 0; ``nn`` 1; ``flows`` 2; ``skills`` 3; ``envs`` 4;
``hierarchy`` and ``compose`` 5; ``library`` and ``workflows`` (the skill library and its workflows) 6;
``cli`` 7. Every import counts, also the lazy ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "softskills"
LAYERS = {"": 0, "_registry": 0, "nn": 1, "flows": 2, "skills": 3, "envs": 4, "hierarchy": 5, "compose": 5,
          "library": 6, "workflows": 6, "cli": 7}


def layer_of(module: str) -> int:
    """The layer of a ``softskills`` module path (an unknown top-level part raises, so new ones get a layer)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top not in LAYERS:
        raise KeyError(f"softskills.{top} has no layer in tests/test_architecture.py; give it one")
    return LAYERS[top]


def violations(package: Path) -> list[str]:
    """``"importer (layer) -> imported (layer)"`` for every import of a higher layer under ``package``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        own = layer_of(module)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name == package.name or name.startswith(package.name + "."):
                    other = layer_of(name)
                    if other > own:
                        found.append(f"{module} ({own}) -> {name} ({other})")
    return found


def test_no_module_imports_from_a_layer_above_it() -> None:
    assert violations(PACKAGE) == []


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "softskills"
    (pkg / "skills").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "skills" / "__init__.py").write_text("")
    (pkg / "skills" / "agent.py").write_text("def f():\n    from softskills.compose.bounds import FitConfig\n")
    assert violations(pkg) == ["softskills.skills.agent (3) -> softskills.compose.bounds (5)"]
