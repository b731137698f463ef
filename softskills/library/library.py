"""``SkillLibrary``: a directory of trained skills plus their lineage graph.

On disk::

    LIBRARY/
      graph.json            the lineage: node-link JSON sealed by a SHA-256 (softskills.library.graph)
      library.lock          flock target serialising writers
      skills/<name>/checkpoint/
                            one safe checkpoint per skill (softskills.skills.checkpoint): the agent
                            tensors and the meta (config, tasks, spaces, step, run_info, library)

``graph.json`` is the source of truth: a skill exists when it is a node of the graph. Every write
takes the exclusive lock, re-reads the graph, and changes the disk so that a process killed at any
instant leaves the previous library: ``add`` writes the skill's directory (crash-safe
``save_checkpoint``), verifies it, and only then replaces ``graph.json`` (temp file, fsync, rename,
fsync of the directory); ``remove`` replaces ``graph.json`` first and deletes directories after.
A killed writer may leave a skill directory that the graph does not list, or temporary files;
the next writer deletes them. Readers that load skill files take the lock shared, so a removal
never deletes a directory under them.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import networkx as nx
from torch import Tensor, nn

import softskills
from softskills.hierarchy.policy import HierarchicalPolicy
from softskills.hierarchy.pretrained import pretrained
from softskills.hierarchy.stack import PRETRAINED_PREFIX
from softskills.library.errors import LibraryError
from softskills.library.graph import check_graph, empty_graph, graph_from_bytes, graph_to_bytes
from softskills.library.ingest import (
    REF_PREFIX,
    library_meta,
    lower_reference,
    node_attrs,
    point_at_paths,
    skill_tensors,
)
from softskills.library.lock import LibraryLock
from softskills.library.record import KINDS, SkillRecord, check_name
from softskills.library.stacking import LoadedSkill, stack_policy
from softskills.library.validate import check_tags, check_weights, infer_kind, same_policy
from softskills.skills.atomic import discard_dir, fsync_dir, is_leftover, write_atomic
from softskills.skills.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from softskills.skills.loading import load_run

__all__ = ["SkillLibrary", "GRAPH_FILE", "LOCK_FILE", "SKILLS_DIR"]

GRAPH_FILE = "graph.json"
"""The lineage graph's file name in a library."""
LOCK_FILE = "library.lock"
"""The lock file's name in a library."""
SKILLS_DIR = "skills"
"""The directory of skill run directories in a library."""


class _Pending(NamedTuple):
    """One skill of :meth:`SkillLibrary.add_many`, checked and loaded, not yet written."""

    name: str
    tensors: dict[str, Tensor]
    meta: dict[str, Any]
    buffer: Any
    attrs: dict[str, Any]
    info: dict[str, Any]
    lower_ref: str
    stacked_on: str | None
    parts: dict[str, float]
    bounds: dict[str, Any] | None


class SkillLibrary:
    """A directory of skills (safe checkpoints) and their lineage graph (see the module docstring).

    Args:
        path: the library directory. It is created, with an empty graph, if it does not exist
            (or is an empty directory) and ``create`` is true.
        create: create a missing library; otherwise a missing one is an error.
        lock_timeout: seconds to wait for another process's lock before a :class:`LibraryLockTimeout`.

    Raises:
        LibraryError: ``path`` is not a library (or cannot be made one), or its graph is corrupt
            or inconsistent (the message names the skill).
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, lock_timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser().absolute()
        self.lock_timeout = float(lock_timeout)
        if not self.graph_path.exists():
            self._create(create)
        self.graph()  # refuse a corrupt or inconsistent library when it is opened

    # ------------------------------------------------------------------ paths and locks
    @property
    def graph_path(self) -> Path:
        """``graph.json``."""
        return self.path / GRAPH_FILE

    @property
    def skills_dir(self) -> Path:
        """The directory holding one run directory per skill."""
        return self.path / SKILLS_DIR

    def skill_dir(self, name: str) -> Path:
        """The run directory of skill ``name`` (``load_run`` reads it; its lower layers are library references)."""
        return self.skills_dir / check_name(name)

    def lock(self, *, exclusive: bool = True) -> LibraryLock:
        """The library's lock (a context manager): exclusive for writers, shared for readers."""
        return LibraryLock(self.path / LOCK_FILE, exclusive=exclusive, timeout=self.lock_timeout)

    def _create(self, create: bool) -> None:
        if not create:
            raise LibraryError(f"{self.path} is not a skill library: it has no {GRAPH_FILE}")
        if self.path.exists() and not self.path.is_dir():
            raise LibraryError(f"cannot create a skill library at {self.path}: it is a file")
        if not self.path.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            fsync_dir(self.path.parent)
        with self.lock():
            if self.graph_path.exists():
                return  # another process created it meanwhile
            stray = [e.name for e in self.path.iterdir()
                     if e.name not in (LOCK_FILE, SKILLS_DIR) and not is_leftover(e)]
            if self.skills_dir.is_dir():
                stray += [f"{SKILLS_DIR}/{e.name}" for e in self.skills_dir.iterdir() if not is_leftover(e)]
            if stray:
                raise LibraryError(f"{self.path} has no {GRAPH_FILE} but is not empty ({sorted(stray)[:5]}): "
                                   f"either its {GRAPH_FILE} was lost or it is not a skill library; "
                                   "refusing to create one there")
            self.skills_dir.mkdir(exist_ok=True)
            write_atomic(self.graph_path, graph_to_bytes(empty_graph()))

    # ------------------------------------------------------------------ reading the graph
    def _read_graph(self) -> nx.DiGraph:
        try:
            raw = self.graph_path.read_bytes()
        except FileNotFoundError:
            raise LibraryError(f"skill library {self.path} is missing its {GRAPH_FILE}") from None
        except OSError as e:
            raise LibraryError(f"{self.graph_path} is unreadable: {e}") from e
        g = graph_from_bytes(raw, self.graph_path)
        check_graph(g, f"library {self.path}")
        return g

    def graph(self) -> nx.DiGraph:
        """The lineage graph as it is on disk now (verified; a copy the caller may change)."""
        return self._read_graph()

    def names(self) -> list[str]:
        """The skills' names, sorted."""
        return sorted(self._read_graph().nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._read_graph()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return self._read_graph().number_of_nodes()

    def _node(self, g: nx.DiGraph, name: str) -> dict[str, Any]:
        check_name(name)
        if name not in g:
            raise LibraryError(f"skill {name!r} is not in library {self.path} (it has {sorted(g.nodes)[:20]})")
        return g.nodes[name]

    def _record(self, g: nx.DiGraph, name: str) -> SkillRecord:
        node = self._node(g, name)
        stacked = [v for _, v, k in g.out_edges(name, data="kind") if k == "stacked_on"]
        parts = {v: float(d["weight"]) for _, v, d in g.out_edges(name, data=True) if d["kind"] == "composed_from"}
        fields = {k: node[k] for k in SkillRecord.__dataclass_fields__ if k in node}
        fields.update(name=name, path=self.skills_dir / name, tags=tuple(node["tags"]),
                      stacked_on=stacked[0] if stacked else None, composed_from=parts, bounds=node.get("bounds"))
        return SkillRecord(**fields)

    def _check_files(self, name: str) -> Path:
        path = self.skills_dir / name
        if not (path / "checkpoint").is_dir():
            raise LibraryError(f"skill {name!r} is listed in library {self.path} but its files are missing "
                               f"({path / 'checkpoint'} does not exist)")
        return path

    def get(self, name: str) -> SkillRecord:
        """The record of skill ``name`` (its files must exist; :meth:`verify` also checks their content).

        Raises:
            LibraryError: no such skill, or its directory is missing.
        """
        with self.lock(exclusive=False):
            g = self._read_graph()
            record = self._record(g, name)
            self._check_files(name)
        return record

    def records(self) -> list[SkillRecord]:
        """Every skill's record, sorted by name."""
        g = self._read_graph()
        return [self._record(g, n) for n in sorted(g.nodes)]

    def find(self, env: str | None = None, kind: str | None = None, tag: str | None = None) -> list[str]:
        """Names of the skills matching every given filter, sorted.

        Args:
            env: the env id (e.g. ``softskills/PointMaze-v0``).
            kind: ``primitive``, ``stacked`` or ``composed``.
            tag: one of the skill's tags.
        """
        if kind is not None and kind not in KINDS:
            raise LibraryError(f"unknown skill kind {kind!r}: expected one of {KINDS}")
        g = self._read_graph()
        return sorted(n for n, d in g.nodes(data=True)
                      if (env is None or d["env"] == env) and (kind is None or d["kind"] == kind)
                      and (tag is None or tag in d["tags"]))

    def lineage(self, name: str) -> nx.DiGraph:
        """Skill ``name`` and everything it was built from, transitively, as a graph.

        Edges point from a skill to what it was built from and carry ``kind`` (``stacked_on`` or
        ``composed_from``; the latter with ``weight``): ``for u, v, kind in lineage.edges(data="kind")``.
        """
        g = self._read_graph()
        self._node(g, name)
        return g.subgraph({name} | nx.descendants(g, name)).copy()

    def dependents(self, name: str) -> list[str]:
        """The skills built on ``name``, transitively (those a forced :meth:`remove` also removes)."""
        g = self._read_graph()
        self._node(g, name)
        return sorted(nx.ancestors(g, name))

    def _chain(self, g: nx.DiGraph, name: str) -> list[str]:
        """``name`` and the skills it is stacked on, bottom first."""
        chain = [name]
        while True:
            below = [v for _, v, k in g.out_edges(chain[-1], data="kind") if k == "stacked_on"]
            if not below:
                return chain[::-1]
            chain.append(below[0])

    # ------------------------------------------------------------------ loading
    def _load_skill(self, g: nx.DiGraph, name: str, device: str) -> LoadedSkill:
        path = self._check_files(name)
        try:
            agent, cfg, meta = load_run(path, device)
        except CheckpointError as e:
            raise LibraryError(f"skill {name!r} in library {self.path} is corrupt: {e}") from e
        stamp = meta.get("library") if isinstance(meta.get("library"), dict) else {}
        if stamp.get("name") != name or stamp.get("uid") != g.nodes[name]["uid"]:
            raise LibraryError(f"skill {name!r} in library {self.path}: its directory holds another skill "
                               f"({stamp.get('name')!r}, uid {stamp.get('uid')!r}) than the graph lists "
                               f"(uid {g.nodes[name]['uid']!r})")
        return name, agent, cfg, meta

    def load_policy(self, name: str, device: str = "cpu", skill: int = 0) -> nn.Module | HierarchicalPolicy:
        """A ready-to-run policy of skill ``name``.

        A stacked skill gives the whole :class:`HierarchicalPolicy` from its bottom layer to it
        (equal to ``run_policy`` on the original run); a primitive or composed skill gives its
        agent as ``load_run`` builds it (``agent.policy`` is the policy, ``agent.act`` acts).

        Args:
            name: the skill.
            device: torch device.
            skill: for a stacked skill, which of the top layer's K skills runs.

        Raises:
            LibraryError: no such skill, missing or corrupt files, or layers that do not fit.
        """
        with self.lock(exclusive=False):
            g = self._read_graph()
            if self._node(g, name)["kind"] != "stacked":
                return self._load_skill(g, name, device)[1]
            return stack_policy([self._load_skill(g, n, device) for n in self._chain(g, name)], skill)

    def verify(self, name: str | None = None) -> list[str]:
        """Load and check every skill (or ``name`` and its lineage); returns the names checked.

        Raises:
            LibraryError: naming the first skill whose files are missing, corrupt or do not match the graph.
        """
        with self.lock(exclusive=False):
            g = self._read_graph()
            names = sorted(g.nodes) if name is None else sorted(self.lineage(name).nodes)
            for n in names:
                self._load_skill(g, n, "cpu")
        return names

    def checkout(self, name: str, out_dir: str | os.PathLike[str]) -> Path:
        """Write skill ``name`` (and the layers under a stacked one) as ordinary run directories.

        ``out_dir/<skill>`` is written for each (with its replay buffer if the library kept it); the
        lower-layer references become absolute paths to those copies, so ``run_policy``,
        ``stacked_trainer(stack_on=...)`` and ``softskills eval`` work on them. A run trained on a checkout can be added back (its ``stacked_on`` is found).

        Returns:
            ``out_dir/<name>``.
        """
        out = Path(out_dir).expanduser().absolute()
        with self.lock(exclusive=False):
            g = self._read_graph()
            chain = self._chain(g, name) if self._node(g, name)["kind"] == "stacked" else [name]
            for i, n in enumerate(chain):
                self._check_files(n)
                try:
                    tensors, meta, buffer = load_checkpoint(self.skills_dir / n)
                except CheckpointError as e:
                    raise LibraryError(f"skill {n!r} in library {self.path} is corrupt: {e}") from e
                if i > 0:
                    point_at_paths(meta, [str(out / c) for c in chain[:i]])
                try:
                    save_checkpoint(out / n, tensors, meta, buffer)
                except CheckpointError as e:
                    raise LibraryError(f"cannot check out skill {n!r} to {out / n}: {e}") from e
        return out / name

    # ------------------------------------------------------------------ writing
    def _collect_leftovers(self, g: nx.DiGraph) -> None:
        """Delete what killed writers left: temporary files, trash, and skill directories the graph does not list."""
        for entry in self.path.iterdir():
            if is_leftover(entry) and entry.is_file():
                entry.unlink(missing_ok=True)
        for entry in self.skills_dir.iterdir():
            if is_leftover(entry):
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_dir() and entry.name not in g:
                discard_dir(entry)

    def add(
        self,
        name: str,
        run_dir: str | os.PathLike[str],
        *,
        kind: str | None = None,
        tags: Iterable[str] = (),
        command: str = "",
        stacked_on: str | None = None,
        composed_from: Mapping[str, float] | None = None,
        bounds: Mapping[str, Any] | None = None,
        keep_buffer: bool = False,
        source: str | None = None,
    ) -> SkillRecord:
        """Copy the trained run ``run_dir`` into the library as skill ``name`` (verified on the way in).

        Args:
            name: the new skill's name (letters, digits, ``_``, ``-``, ``.``).
            run_dir: a trained run directory (or checkpoint directory).
            kind: ``primitive``, ``stacked`` or ``composed``; inferred if ``None`` (stacked if the run
                was trained with ``stack_on``, composed if ``composed_from`` is given).
            tags: labels for :meth:`find`.
            command: the command that made the skill (recorded).
            stacked_on: for a stacked run, the library skill it was trained on; inferred if ``None``
                (a skill added from, or checked out to, the run's ``stacked_on`` directory). When the
                lower run is still on disk, its policy must equal that skill's bit for bit.
            composed_from: for a composed skill, ``{constituent skill: weight}``.
            bounds: for a composed skill, its bound statistics (default: the run's ``run_info.bounds``).
            keep_buffer: also keep the run's replay buffer (``softskills compose`` trains on the
                constituents' buffers); a run saved without one is an error.
            source: the provenance recorded as ``source`` (default: ``run_dir`` made absolute), e.g.
                ``pretrained:ant-velocity`` for a shipped primitive (see ``softskills.library.pretrained``).

        Returns:
            The new skill's record.

        Raises:
            LibraryError: an invalid name, kind, tag or weight; a name already taken; a corrupt run;
                an unknown or mismatched lower layer or constituent; a dimension mismatch.
        """
        return self.add_many([dict(name=name, run_dir=run_dir, kind=kind, tags=tags, command=command,
                                   stacked_on=stacked_on, composed_from=composed_from, bounds=bounds,
                                   keep_buffer=keep_buffer, source=source)])[0]

    def add_many(self, entries: Sequence[Mapping[str, Any]]) -> list[SkillRecord]:
        """Add several skills in one commit: afterwards the library lists all of them or none.

        Each entry holds :meth:`add`'s arguments (``name`` and ``run_dir``, and any of its keyword
        arguments). Every skill is checked and its directory written first; ``graph.json`` is
        replaced once, at the end, so a writer killed at any moment leaves the previous library (the
        directories it wrote are unlisted leftovers that the next writer deletes). An entry may be
        stacked on, or composed from, an earlier entry of the same call.

        Raises:
            LibraryError: as :meth:`add`, for any entry (naming its skill), or a name given twice;
                nothing is added then.
        """
        names = [e.get("name") for e in entries]
        twice = sorted({n for n in names if names.count(n) > 1}, key=str)
        if twice:
            raise LibraryError(f"skill name(s) {twice} given more than once")
        prepared = [self._prepare(**e) for e in entries]
        with self.lock():
            g = self._read_graph()
            self._collect_leftovers(g)
            new = g.copy()
            for item in prepared:
                self._stage(new, item)
            write_atomic(self.graph_path, graph_to_bytes(new))  # the commit point
        return [self._record(new, item.name) for item in prepared]

    def _prepare(
        self,
        name: str,
        run_dir: str | os.PathLike[str],
        *,
        kind: str | None = None,
        tags: Iterable[str] = (),
        command: str = "",
        stacked_on: str | None = None,
        composed_from: Mapping[str, float] | None = None,
        bounds: Mapping[str, Any] | None = None,
        keep_buffer: bool = False,
        source: str | None = None,
    ) -> _Pending:
        """Check one skill's arguments and load its run (no lock needed: nothing is written)."""
        check_name(name)
        tag_list = check_tags(tags, name)
        if not isinstance(command, str):
            raise LibraryError(f"skill {name!r}: command must be a string, got {type(command).__name__}")
        try:
            tensors, meta, buffer = load_checkpoint(run_dir)
        except CheckpointError as e:
            raise LibraryError(f"cannot add skill {name!r}: its run {run_dir} is not a valid checkpoint: {e}") from e
        if keep_buffer and buffer is None:
            raise LibraryError(f"cannot keep the replay buffer of skill {name!r}: its run {run_dir} was saved "
                               "without one (save_buffer=False)")
        lower_ref = lower_reference(meta)
        kind = infer_kind(name, kind, lower_ref, composed_from, meta)
        parts = check_weights(name, composed_from) if kind == "composed" else {}
        if bounds is None and kind == "composed":
            bounds = (meta.get("run_info") or {}).get("bounds")
        if bounds is not None and (kind != "composed" or not isinstance(bounds, Mapping)):
            raise LibraryError(f"skill {name!r}: bounds must be a dict, and only for a composed skill")
        try:
            json.dumps(bounds)
        except (TypeError, ValueError) as e:
            raise LibraryError(f"skill {name!r}: its bounds are not JSON-able: {e}") from None
        if stacked_on is not None and kind != "stacked":
            raise LibraryError(f"skill {name!r}: stacked_on={stacked_on!r} was given, but the run is {kind} "
                               "(it was not trained with stack_on)")
        info = {"kind": kind, "has_buffer": bool(keep_buffer), "tags": tag_list, "command": command,
                "softskills_version": softskills.__version__,
                "source": source or str(Path(run_dir).expanduser().absolute()), "uid": uuid.uuid4().hex,
                "added": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        return _Pending(name, tensors, meta, buffer if keep_buffer else None, node_attrs(meta, name), info,
                        lower_ref, stacked_on, parts, dict(bounds) if bounds else None)

    def _stage(self, new: nx.DiGraph, item: _Pending) -> None:
        """Under the lock: add ``item`` to the graph ``new`` and write its verified directory."""
        name, meta = item.name, item.meta
        if name in new:
            raise LibraryError(f"skill {name!r} already exists in library {self.path}; remove it first")
        before = new.copy()
        chain: list[str] = []
        lower_tensors: dict[str, Tensor] | None = None
        if item.info["kind"] == "stacked":
            lower, lower_tensors = self._resolve_lower(before, name, item.lower_ref, item.stacked_on)
            chain = self._chain(before, lower)
            cfg = meta["config"]
            new.add_edge(name, lower, kind="stacked_on", stack_skill=cfg.get("stack_skill", 0),
                         repeat=cfg.get("repeat", 1), adapter=(meta.get("run_info") or {}).get("lower_adapter"))
        for part, weight in item.parts.items():
            self._node(before, part)
            new.add_edge(name, part, kind="composed_from", weight=weight)
        new.add_node(name, **item.attrs, **item.info,
                     **({"bounds": item.bounds} if item.info["kind"] == "composed" else {}))
        check_graph(new, f"library {self.path}")  # kinds, cycles, dimensions along the new edges
        if lower_tensors is not None:
            self._check_same_lower(name, item.lower_ref, chain[-1], lower_tensors)
        lib = {"name": name, **item.info, "stacked_on": chain[-1] if chain else None,
               "composed_from": item.parts, "bounds": new.nodes[name].get("bounds")}
        save_checkpoint(self.skills_dir / name, skill_tensors(item.tensors),
                        library_meta(meta, lib, chain, list(item.parts), item.buffer is not None), item.buffer)
        self._load_skill(new, name, "cpu")  # the copy loads and is the one the graph will list

    def _resolve_lower(self, g: nx.DiGraph, name: str, lower_ref: str, stacked_on: str | None
                       ) -> tuple[str, dict[str, Tensor] | None]:
        """The library skill a stacked run was trained on (see :meth:`add`), and the lower run's
        tensors when that run is still on disk."""
        lower_tensors: dict[str, Tensor] | None = None
        lower_uid = None
        if lower_ref.startswith(PRETRAINED_PREFIX):  # a shipped primitive: added with source=lower_ref
            try:
                layer = pretrained(lower_ref[len(PRETRAINED_PREFIX):])
            except (ValueError, FileNotFoundError) as e:
                raise LibraryError(f"skill {name!r} is stacked on {lower_ref}, which cannot be loaded: {e}") from e
            lower_tensors = {f"agent/policy.{k}": v for k, v in layer.policy.state_dict().items()}
        elif not lower_ref.startswith(REF_PREFIX):
            try:
                lower_tensors, lower_meta, _ = load_checkpoint(lower_ref)
                lower_uid = (lower_meta.get("library") or {}).get("uid")
            except CheckpointError:
                pass
        if stacked_on is None:
            source = str(Path(lower_ref).expanduser().absolute())
            found = [n for n, d in g.nodes(data=True) if lower_uid is not None and d["uid"] == lower_uid]
            found = found or [n for n, d in g.nodes(data=True) if d["source"] in (source, lower_ref)]
            if len(found) != 1:
                why = "is not in the library; add it first" if not found else f"was added as {sorted(found)}"
                raise LibraryError(f"skill {name!r} is stacked on the run {lower_ref}, which {why} "
                                   "(or pass stacked_on=<skill>)")
            stacked_on = found[0]
        check_name(stacked_on, f"stacked_on of skill {name!r}")
        self._node(g, stacked_on)
        return stacked_on, lower_tensors

    def _check_same_lower(self, name: str, lower_ref: str, lower: str, lower_tensors: dict[str, Tensor]) -> None:
        """Refuse to stack ``name`` on library skill ``lower`` unless its policy is the lower run's, bit for bit."""
        try:
            mine, _, _ = load_checkpoint(self._check_files(lower))
        except CheckpointError as e:
            raise LibraryError(f"skill {lower!r} in library {self.path} is corrupt: {e}") from e
        if not same_policy(lower_tensors, mine):
            raise LibraryError(f"skill {name!r} was trained on the run {lower_ref}, whose policy differs from "
                               f"library skill {lower!r}: it cannot be stacked on it")

    def remove(self, name: str, force: bool = False) -> list[str]:
        """Remove skill ``name``; returns the names removed.

        Refused while other skills are built on it (stacked on it or composed from it), unless
        ``force``, which removes those too (transitively): a library never lists a skill whose
        lineage is incomplete. The graph is written first, the directories deleted after.

        Raises:
            LibraryError: no such skill, or skills depend on it and ``force`` is false.
        """
        with self.lock():
            g = self._read_graph()
            self._node(g, name)
            deps = nx.ancestors(g, name)
            if deps and not force:
                raise LibraryError(f"cannot remove skill {name!r}: skills {sorted(deps)} are built on it "
                                   "(remove them first, or force=True to remove them too)")
            doomed = sorted({name} | deps)
            new = g.copy()
            new.remove_nodes_from(doomed)
            write_atomic(self.graph_path, graph_to_bytes(new))  # the commit point
            for n in doomed:
                discard_dir(self.skills_dir / n)
        return doomed

    def __repr__(self) -> str:
        return f"SkillLibrary({str(self.path)!r})"
