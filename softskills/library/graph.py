"""The lineage graph: ``graph.json`` (node-link JSON, sealed by a SHA-256) and its integrity rules.

Nodes are skills (attributes: everything of :class:`~softskills.library.record.SkillRecord` but
``name``, ``path``, ``stacked_on`` and ``composed_from``); edges point from a skill to what it was
built from: ``stacked_on`` (an upper layer -> the layer below, with ``stack_skill``, ``repeat`` and
the lower layer's observation ``adapter``) and ``composed_from`` (a composed skill -> each
constituent, with its ``weight``). The graph's own attributes hold the format and ``sha256``, the
digest of the canonical JSON of everything else, so an edited or flipped byte that still parses is
refused too.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import networkx as nx

import softskills
from softskills.library.errors import LibraryError
from softskills.library.record import EDGE_KINDS, KINDS, check_name

__all__ = ["FORMAT", "FORMAT_VERSION", "empty_graph", "graph_to_bytes", "graph_from_bytes", "check_graph"]

FORMAT = "softskills-skill-library"
"""The ``format`` graph attribute of every library's ``graph.json``."""
FORMAT_VERSION = 1
"""The ``format_version`` this softskills reads and writes."""

_NODE_TYPES: dict[str, type | tuple[type, ...]] = {
    "kind": str, "env": str, "env_kwargs": dict, "tasks": list, "algo": str, "policy": str, "num_skills": int,
    "obs_dim": int, "act_dim": int, "spaces": dict, "steps": int, "has_buffer": bool, "last_eval": (int, float, type(None)),
    "tags": list, "command": str, "softskills_version": str, "source": str, "added": str, "uid": str,
}


def empty_graph() -> nx.DiGraph:
    """A library graph with no skills."""
    g = nx.DiGraph()
    g.graph.update(format=FORMAT, format_version=FORMAT_VERSION)
    return g


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _node_link_data(g: nx.DiGraph) -> dict[str, Any]:
    try:
        return nx.node_link_data(g, edges="edges")
    except TypeError:  # networkx < 3.4 names the keyword `link`
        return nx.node_link_data(g, link="edges")


def _node_link_graph(data: dict[str, Any]) -> nx.DiGraph:
    try:
        return nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")
    except TypeError:  # networkx < 3.4
        return nx.node_link_graph(data, directed=True, multigraph=False, link="edges")


def graph_to_bytes(g: nx.DiGraph) -> bytes:
    """``graph.json``'s bytes for ``g``: node-link JSON with ``format``, ``softskills_version`` and ``sha256``."""
    g = g.copy()
    g.graph.pop("sha256", None)
    g.graph.update(format=FORMAT, format_version=FORMAT_VERSION, softskills_version=softskills.__version__)
    data = _node_link_data(g)
    data["graph"]["sha256"] = hashlib.sha256(_canonical(data)).hexdigest()
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def graph_from_bytes(raw: bytes, where: Path) -> nx.DiGraph:
    """Parse and verify ``graph.json``'s bytes (``where`` names the file in errors).

    Raises:
        LibraryError: not JSON, not node-link data of a library graph, another format version,
            or a SHA-256 that does not match the content.
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise LibraryError(f"{where} is corrupt: it is not valid UTF-8 JSON ({e})") from None
    attrs = data.get("graph") if isinstance(data, dict) else None
    if not isinstance(attrs, dict) or attrs.get("format") != FORMAT:
        raise LibraryError(f"{where} is corrupt or not a skill library's graph (no format {FORMAT!r})")
    if attrs.get("format_version") != FORMAT_VERSION:
        raise LibraryError(f"{where} has library format {attrs.get('format_version')!r}; this softskills "
                           f"({softskills.__version__}) reads format {FORMAT_VERSION}")
    digest = attrs.pop("sha256", None)
    if digest != hashlib.sha256(_canonical(data)).hexdigest():
        raise LibraryError(f"{where} is corrupt or was edited by hand: its content does not match its sha256")
    attrs["sha256"] = digest
    try:
        g = _node_link_graph(data)
    except (KeyError, TypeError, ValueError, nx.NetworkXError) as e:
        raise LibraryError(f"{where} is corrupt: not a node-link graph ({e})") from None
    if not isinstance(g, nx.DiGraph) or g.is_multigraph():
        raise LibraryError(f"{where} is corrupt: the lineage must be a simple directed graph")
    return g


def _check_node(g: nx.DiGraph, name: Any, where: str) -> None:
    check_name(name, f"skill name in {where}")
    attrs = g.nodes[name]
    for key, typ in _NODE_TYPES.items():
        if key not in attrs:
            raise LibraryError(f"skill {name!r} in {where} lacks the attribute {key!r}")
        if not isinstance(attrs[key], typ) or (typ is int and isinstance(attrs[key], bool)):
            raise LibraryError(f"skill {name!r} in {where} has an invalid {key} {attrs[key]!r}")
    if attrs["kind"] not in KINDS:
        raise LibraryError(f"skill {name!r} in {where} has an unknown kind {attrs['kind']!r} (expected one of {KINDS})")
    kinds = [d.get("kind") for _, _, d in g.out_edges(name, data=True)]
    for k in kinds:
        if k not in EDGE_KINDS:
            raise LibraryError(f"skill {name!r} in {where} has an edge of unknown kind {k!r}")
    expected = {"primitive": "no lineage edges", "stacked": "exactly one stacked_on edge",
                "composed": "one or more composed_from edges"}[attrs["kind"]]
    ok = {"primitive": not kinds, "stacked": kinds == ["stacked_on"],
          "composed": bool(kinds) and set(kinds) == {"composed_from"}}[attrs["kind"]]
    if not ok:
        raise LibraryError(f"{attrs['kind']} skill {name!r} in {where} must have {expected}, has {kinds}")


def _check_stacked(g: nx.DiGraph, upper: str, lower: str, edge: dict[str, Any], where: str) -> None:
    up, low = g.nodes[upper], g.nodes[lower]
    if low["policy"] != "realnvp" or low["algo"] != "sac":
        raise LibraryError(f"skill {upper!r} is stacked on {lower!r}, which is not an invertible SAC Real-NVP "
                           f"skill ({low['algo']} {low['policy']}) in {where}")
    if up["act_dim"] != low["act_dim"]:
        raise LibraryError(f"dimension mismatch in {where}: skill {upper!r} outputs {up['act_dim']} values, but "
                           f"the latent of {lower!r}, the layer it is stacked on, has dimension {low['act_dim']}")
    skill = edge.get("stack_skill")
    if not isinstance(skill, int) or not 0 <= skill < low["num_skills"]:
        raise LibraryError(f"skill {upper!r} in {where} drives skill {skill!r} of {lower!r}, which has "
                           f"{low['num_skills']} skill(s)")
    adapter = edge.get("adapter")
    if adapter is not None:
        try:
            start, stop = int(adapter["start"]), int(adapter["stop"])
        except (KeyError, TypeError, ValueError):
            raise LibraryError(f"skill {upper!r} in {where} has an invalid lower adapter {adapter!r}") from None
        if stop - start != low["obs_dim"] or stop > up["obs_dim"]:
            raise LibraryError(f"dimension mismatch in {where}: skill {upper!r} shows {lower!r} obs[{start}:{stop}] of "
                               f"its {up['obs_dim']}-wide observation, but {lower!r} observes {low['obs_dim']} values")


def _check_composed(g: nx.DiGraph, name: str, where: str) -> None:
    node = g.nodes[name]
    parts = list(g.successors(name))
    for part in parts:
        w = g.edges[name, part].get("weight")
        if not isinstance(w, (int, float)) or isinstance(w, bool) or not math.isfinite(w) or w <= 0:
            raise LibraryError(f"composed skill {name!r} in {where} has an invalid weight {w!r} for {part!r}")
        if g.nodes[part]["spaces"] != g.nodes[parts[0]]["spaces"]:
            raise LibraryError(f"composed skill {name!r} in {where}: its constituents' spaces differ "
                               f"({parts[0]!r}: {g.nodes[parts[0]]['spaces']}, {part!r}: {g.nodes[part]['spaces']})")
    first = g.nodes[parts[0]]
    if (first["obs_dim"], first["act_dim"]) != (node["obs_dim"], node["act_dim"]):
        raise LibraryError(f"dimension mismatch in {where}: composed skill {name!r} has obs/act dims "
                           f"{node['obs_dim']}/{node['act_dim']}, its constituents "
                           f"{first['obs_dim']}/{first['act_dim']}")
    if not isinstance(node.get("bounds"), (dict, type(None))):
        raise LibraryError(f"composed skill {name!r} in {where} has invalid bounds {node.get('bounds')!r}")


def check_graph(g: nx.DiGraph, where: str) -> None:
    """Raise a :class:`LibraryError` naming the skill if ``g`` breaks a rule of the library.

    Rules: valid names and attributes; a primitive skill has no lineage edges, a stacked one
    exactly one ``stacked_on`` edge, a composed one only ``composed_from`` edges; no cycle; along
    ``stacked_on``, the lower skill is an invertible Real-NVP SAC skill whose latent dimension is
    the upper skill's action dimension (and whose observation is what the upper skill shows it);
    along ``composed_from``, positive finite weights and constituents with equal spaces, matching
    the composed skill's dimensions.
    """
    for name in g.nodes:
        _check_node(g, name, where)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = " -> ".join([str(u) for u, _ in cycle] + [str(cycle[0][0])])
        raise LibraryError(f"the lineage in {where} has a cycle: {path} (skill {cycle[0][0]!r} depends on itself)")
    for upper, lower, edge in g.edges(data=True):
        if edge["kind"] == "stacked_on":
            _check_stacked(g, upper, lower, edge, where)
    for name, kind in g.nodes(data="kind"):
        if kind == "composed":
            _check_composed(g, name, where)
