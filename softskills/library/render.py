"""``render_graph``: a library's lineage as a PNG, coloured by kind, with each composed skill's bound."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import networkx as nx

from softskills.library.library import SkillLibrary

__all__ = ["KIND_COLOURS", "bound_summary", "render_graph"]

KIND_COLOURS = {"primitive": "#4c72b0", "stacked": "#55a868", "composed": "#dd8452"}
"""Node colour of each skill kind."""
_EDGE_STYLES = {"stacked_on": "solid", "composed_from": "dashed"}


def _stat(bounds: dict[str, Any], key: str, field: str) -> float | None:
    """``bounds[key][field]`` from a bounds report (``stats`` nested or not); a bare number counts as any field."""
    for table in (bounds.get("stats"), bounds):
        if isinstance(table, dict) and key in table:
            v = table[key]
            v = v.get(field) if isinstance(v, dict) else v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
    return None


def bound_summary(bounds: dict[str, Any] | None) -> str:
    """A short label of a composed skill's bounds: ``max C*`` and the mean regret upper bound ``min(D*, D_exact)``.

    The regret bound is ``regret_upper.mean`` when given, otherwise ``min(D*, D_exact)`` of the means.
    Returns ``"no bounds"`` when neither is known.
    """
    if not isinstance(bounds, dict):
        return "no bounds"
    parts = []
    c_max = _stat(bounds, "c_star", "max")
    if c_max is not None:
        parts.append(f"max C* = {c_max:.3g}")
    upper = _stat(bounds, "regret_upper", "mean")
    if upper is None:
        means = [m for m in (_stat(bounds, "d_star", "mean"), _stat(bounds, "d_exact", "mean")) if m is not None]
        upper = min(means) if means else None
    if upper is not None:
        parts.append(f"min(D*, D_exact) = {upper:.3g}")
    return "\n".join(parts) if parts else "no bounds"


def _layers(g: nx.DiGraph) -> dict[str, int]:
    """Height of each skill above the bottom (0 for skills built on nothing)."""
    height: dict[str, int] = {}
    for n in reversed(list(nx.topological_sort(g))):
        height[n] = 1 + max((height[v] for v in g.successors(n)), default=-1)
    return height


def render_graph(library: SkillLibrary, out_png: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Draw the library's lineage to ``out_png``: skills as nodes coloured by kind, built-on skills
    below the skills built on them, ``stacked_on`` edges solid, ``composed_from`` edges dashed
    (labelled with their weight), and each composed skill's bound (:func:`bound_summary`) under it.

    Returns:
        The PNG's path.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    g = library.graph()
    out = Path(out_png)
    height = _layers(g)
    rows: dict[int, list[str]] = {}
    for n in sorted(g.nodes):
        rows.setdefault(height[n], []).append(n)
    pos = {n: (i - (len(row) - 1) / 2, float(h)) for h, row in rows.items() for i, n in enumerate(row)}
    width = max([len(r) for r in rows.values()], default=1)
    fig, ax = plt.subplots(figsize=(max(4.0, 2.2 * width), max(3.0, 1.8 * (len(rows) or 1))))
    try:
        for kind, colour in KIND_COLOURS.items():
            nodes = [n for n, k in g.nodes(data="kind") if k == kind]
            if not nodes:
                continue
            nx.draw_networkx_nodes(g, pos, nodelist=nodes, node_color=colour, node_size=1400, ax=ax, label=kind)
        for kind, style in _EDGE_STYLES.items():
            edges = [(u, v) for u, v, k in g.edges(data="kind") if k == kind]
            nx.draw_networkx_edges(g, pos, edgelist=edges, style=style, ax=ax, arrows=True, node_size=1400)
        nx.draw_networkx_labels(g, pos, font_size=8, ax=ax)
        weights = {(u, v): f"w={d['weight']:g}" for u, v, d in g.edges(data=True) if d["kind"] == "composed_from"}
        nx.draw_networkx_edge_labels(g, pos, edge_labels=weights, font_size=7, ax=ax)
        for n, d in g.nodes(data=True):
            if d["kind"] == "composed":
                x, y = pos[n]
                ax.annotate(bound_summary(d.get("bounds")), (x, y), xytext=(0, -30), textcoords="offset points",
                            ha="center", va="top", fontsize=7,
                            bbox={"boxstyle": "round", "fc": "white", "ec": KIND_COLOURS["composed"]})
        ax.set_title(title or f"skill library {library.path.name} ({g.number_of_nodes()} skills)")
        if g.number_of_nodes():
            ax.legend(loc="upper right", fontsize=7, markerscale=0.4)
        else:
            ax.text(0.5, 0.5, "(no skills)", ha="center", va="center", transform=ax.transAxes)
        ax.margins(0.25)
        ax.axis("off")
        fig.tight_layout()
        tmp = out.with_name(f".{out.name}.tmp.png")
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
    return out


