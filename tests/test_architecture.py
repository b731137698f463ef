"""Imports flow one way, bottom to top (the brief's architecture): a module never imports from a layer above it;
and no class is three levels of our own classes deep.

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


def subclass_depth(cls: type, own: set[type]) -> int:
    """The longest chain of ``own`` classes ending at ``cls`` (a class with no own base has depth 1)."""
    return 1 + max((subclass_depth(b, own) for b in cls.__bases__ if b in own), default=0)


def deep_classes(modules: list[str], limit: int = 2) -> list[str]:
    """``"module.Class (depth)"`` for every class defined in ``modules`` that is more than ``limit`` of
    their own classes deep ("never subclass three levels deep"; bases from other packages do not count)."""
    import importlib
    import inspect

    own = {c for m in modules for _, c in inspect.getmembers(importlib.import_module(m), inspect.isclass)
           if c.__module__ == m}
    return sorted(f"{c.__module__}.{c.__qualname__} ({d})" for c in own if (d := subclass_depth(c, own)) > limit)


def test_no_class_subclasses_three_levels_deep() -> None:
    import pkgutil

    import softskills

    modules = [m.name for m in pkgutil.walk_packages(softskills.__path__, "softskills.")]
    assert len(modules) > 50
    assert deep_classes(modules) == []


def test_the_depth_check_finds_a_deep_chain(tmp_path: Path) -> None:
    import sys

    (tmp_path / "deep_chain_mod.py").write_text(
        "class A(Exception): ...\nclass B(A): ...\nclass C(B): ...\nclass D(A): ...\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert deep_classes(["deep_chain_mod"]) == ["deep_chain_mod.C (3)"]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("deep_chain_mod", None)
