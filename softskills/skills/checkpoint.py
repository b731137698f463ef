"""Crash-safe, tamper-evident checkpoints: safetensors for tensors, JSON for the rest; nothing is unpickled.

Layout of ``RUN_DIR/<name>/`` (``name`` is ``checkpoint`` unless a caller picks another):

- ``state.safetensors``: the caller's tensors (the trainer stores agent parameters ``agent/...``,
  optimizer moments ``optim/<i>/<name>``, RNG states ``rng/...`` and ``trainer/...`` tensors);
- ``buffer.safetensors`` (optional): the replay buffer;
- ``meta.json``: ``format_version``, ``softskills_version``, the caller's JSON meta, and ``files``
  (the SHA-256 of each safetensors file);
- ``manifest.sha256``: one ``sha256sum`` line, ``<hex>  meta.json``, the SHA-256 of meta.json's bytes.

The manifest seals meta.json and meta.json seals the tensor files, so any edited, flipped or
truncated byte in any file is refused with a :class:`CheckpointError` that names the file.

A save writes every file into a fresh ``RUN_DIR/.<name>-<12 hex>.tmp/`` and fsyncs the files and
that directory; then, if ``<name>/`` verifies, it is renamed to ``<name>.old/`` (otherwise it is
discarded and an existing ``<name>.old/`` is kept, as it is then the newest valid checkpoint); the
temporary directory is renamed to ``<name>/`` and finally ``<name>.old/`` is discarded. Every
rename is followed by an fsync of ``RUN_DIR``; discarding renames into a ``.tmp`` name first, and
the next save deletes ``.tmp`` directories left by a killed writer. So at every instant
``<name>/`` or ``<name>.old/`` holds a complete, verified checkpoint, and loading a run directory
picks ``<name>/`` when it verifies and ``<name>.old/`` otherwise. One writer per checkpoint name
at a time; readers may load while it saves.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

import softskills
from softskills.skills.atomic import fsync_dir

__all__ = [
    "FORMAT_VERSION",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_dir",
    "optimizer_tensors",
    "load_optimizer",
]

FORMAT_VERSION = 2
"""On-disk format; 2 added ``manifest.sha256``. Older and newer formats are refused."""

STATE, BUFFER, META, MANIFEST = "state.safetensors", "buffer.safetensors", "meta.json", "manifest.sha256"
_RESERVED = ("format_version", "softskills_version", "files")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_MANIFEST_LINE = re.compile(rb"[0-9a-f]{64}  meta\.json\n")
_HEX = re.compile(r"[0-9a-f]{64}")
_RETRIES = 8  # re-resolutions when a concurrent save swaps the directory being read

T = TypeVar("T")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, tampered with, foreign, or from another format."""


# ---------------------------------------------------------------------------- small helpers
def _check_name(name: str) -> str:
    """Validate a checkpoint directory name (a plain file name, not ``.old``/``.tmp``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith((".old", ".tmp")):
        raise ValueError(
            f"checkpoint name {name!r} is invalid: use letters, digits, '_', '-' and '.', "
            "not starting with '.' and not ending in '.old' or '.tmp'"
        )
    return name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest(meta_bytes: bytes) -> bytes:
    """The ``manifest.sha256`` content sealing ``meta_bytes`` (``sha256sum -c`` compatible)."""
    return f"{_sha256(meta_bytes)}  {META}\n".encode()


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _tmp_path(run_dir: Path, name: str) -> Path:
    return run_dir / f".{name}-{uuid.uuid4().hex[:12]}.tmp"


def _is_tmp(entry: Path, name: str) -> bool:
    return re.fullmatch(rf"\.{re.escape(name)}-[0-9a-f]{{12}}\.tmp", entry.name) is not None


def _looks_like_checkpoint(path: Path) -> bool:
    return path.is_dir() and ((path / META).exists() or (path / MANIFEST).exists())


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What a concurrent save's renames change: the directory's inode and ctime (None if gone)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


# ---------------------------------------------------------------------------- saving
def _serialize(tensors: dict[str, Tensor], what: str) -> bytes:
    if not isinstance(tensors, dict):
        raise TypeError(f"{what} must be a dict of str to torch.Tensor, got {type(tensors).__name__}")
    for k, v in tensors.items():
        if not isinstance(k, str) or not isinstance(v, Tensor):
            raise TypeError(f"{what} must map str to torch.Tensor; entry {k!r} is {type(v).__name__}")
    return save_safetensors({k: v.detach().cpu().contiguous() for k, v in tensors.items()})


def _meta_bytes(meta: dict[str, Any], hashes: dict[str, str]) -> bytes:
    if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
        raise TypeError("meta must be a dict with str keys")
    full = {"format_version": FORMAT_VERSION, "softskills_version": softskills.__version__,
            **{k: v for k, v in meta.items() if k not in _RESERVED}, "files": hashes}
    try:
        text = json.dumps(full, indent=1)
    except (TypeError, ValueError, RecursionError) as e:
        raise TypeError(f"meta is not JSON-able: {e}") from e
    return (text + "\n").encode()


def _discard(path: Path, run_dir: Path, name: str) -> None:
    """Remove a checkpoint directory: an atomic rename to a ``.tmp`` name, then deletion."""
    if not path.exists():
        return
    trash = _tmp_path(run_dir, name)
    os.replace(path, trash)
    fsync_dir(run_dir)
    shutil.rmtree(trash)


def _is_verified(path: Path) -> bool:
    try:
        _verify(path)
    except CheckpointError:
        return False
    return True


def _swap_in(tmp: Path, run_dir: Path, name: str) -> None:
    """Publish the complete ``tmp`` as ``name`` so that a verified checkpoint exists at every instant."""
    final, old = run_dir / name, run_dir / f"{name}.old"
    if _is_verified(final):
        _discard(old, run_dir, name)  # `final` is verified: the only one that must survive
        os.replace(final, old)  # from here until the next rename, `old` is the verified one
        fsync_dir(run_dir)
    else:
        _discard(final, run_dir, name)  # broken (or absent): `old`, if any, is the newest valid one
    os.replace(tmp, final)
    fsync_dir(run_dir)
    _discard(old, run_dir, name)


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    tensors: dict[str, Tensor],
    meta: dict[str, Any],
    buffer: dict[str, Tensor] | None = None,
    *,
    name: str = "checkpoint",
) -> Path:
    """Write ``run_dir/<name>`` crash-safely (see the module docstring) and return its path.

    Args:
        run_dir: the run directory (created if needed).
        tensors: named tensors for ``state.safetensors`` (copied to CPU).
        meta: JSON-able dict with str keys; ``format_version``, ``softskills_version`` and
            ``files`` are set by this function (values given for them are replaced).
        buffer: optional named tensors for ``buffer.safetensors``.
        name: the checkpoint directory name inside ``run_dir``.

    Returns:
        The checkpoint directory ``run_dir/<name>``.

    Raises:
        ValueError: ``name`` is not a plain directory name.
        TypeError: ``tensors``/``buffer`` are not dicts of str to tensors, or ``meta`` is not JSON-able.
        CheckpointError: ``run_dir/<name>`` or ``run_dir/<name>.old`` exists but is not a checkpoint.
    """
    _check_name(name)
    blobs = {STATE: _serialize(tensors, "tensors")}
    if buffer is not None:
        blobs[BUFFER] = _serialize(buffer, "buffer")
    blobs[META] = _meta_bytes(meta, {f: _sha256(b) for f, b in blobs.items()})
    blobs[MANIFEST] = _manifest(blobs[META])  # written last
    run_dir = Path(run_dir)
    for p in (run_dir / name, run_dir / f"{name}.old"):
        if p.exists() and not _looks_like_checkpoint(p):
            raise CheckpointError(f"refusing to replace {p}: it exists but is not a softskills checkpoint")
    if not run_dir.is_dir():
        run_dir.mkdir(parents=True, exist_ok=True)
        fsync_dir(run_dir.parent)
    for entry in run_dir.iterdir():  # left behind by a writer that was killed
        if _is_tmp(entry, name):
            shutil.rmtree(entry, ignore_errors=True)
    tmp = _tmp_path(run_dir, name)
    tmp.mkdir()
    try:
        for f, data in blobs.items():
            _write_durably(tmp / f, data)
        fsync_dir(tmp)
        _swap_in(tmp, run_dir, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir / name


# ---------------------------------------------------------------------------- loading
def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing") from None
    except OSError as e:
        raise CheckpointError(f"checkpoint file {path} is unreadable: {e}") from e


_INVALID = object()


def _parse_json(data: bytes) -> Any:
    """The parsed JSON, or ``_INVALID``."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _INVALID


def _check_version(d: Path, meta: Any) -> None:
    if not isinstance(meta, dict) or "format_version" not in meta:
        raise CheckpointError(f"{d / META} is not a softskills checkpoint's meta (it has no format_version)")
    v = meta["format_version"]
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise CheckpointError(f"{d / META} has an invalid format_version {v!r} (expected an integer >= 1)")
    if v > FORMAT_VERSION:
        raise CheckpointError(
            f"{d / META} has checkpoint format {v}, newer than the format {FORMAT_VERSION} this softskills "
            f"({softskills.__version__}) reads: upgrade softskills"
        )
    if v < FORMAT_VERSION:
        raise CheckpointError(
            f"{d / META} has checkpoint format {v}, older than the format {FORMAT_VERSION} this softskills "
            f"reads (format {v} has no {MANIFEST}, so it cannot be verified): load it with the softskills "
            "that wrote it, or train again"
        )


def _check_files(d: Path, meta: dict[str, Any]) -> dict[str, str]:
    if not isinstance(meta.get("softskills_version"), str):
        raise CheckpointError(f"{d / META} lacks a softskills_version string")
    files = meta.get("files")
    if not isinstance(files, dict):
        raise CheckpointError(f"{d / META} lacks the 'files' table of SHA-256 hashes")
    for f, digest in files.items():
        if f not in (STATE, BUFFER):
            raise CheckpointError(f"{d / META} lists an unknown file {f!r} (expected {STATE}, {BUFFER})")
        if not isinstance(digest, str) or not _HEX.fullmatch(digest):
            raise CheckpointError(f"{d / META} has an invalid SHA-256 {digest!r} for {f}")
    if STATE not in files:
        raise CheckpointError(f"{d / META} does not list {STATE}")
    return files


def _verify(d: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Check a checkpoint directory's seals: ``(meta, {file: bytes})`` of its safetensors files."""
    if not d.is_dir():
        raise CheckpointError(f"{d} is not a checkpoint directory")
    if not _looks_like_checkpoint(d):
        raise CheckpointError(f"{d} is not a softskills checkpoint (it has no {META} or {MANIFEST})")
    meta_bytes = _read(d / META)
    meta = _parse_json(meta_bytes)
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if isinstance(version, int) and (version > FORMAT_VERSION or not (d / MANIFEST).exists()):
        _check_version(d, meta)  # other formats may seal differently: say so before any seal check
    manifest = _read(d / MANIFEST)
    if manifest != _manifest(meta_bytes):
        if not _MANIFEST_LINE.fullmatch(manifest):
            raise CheckpointError(f"{d / MANIFEST} is malformed (expected one line '<sha256 hex>  {META}')")
        what = " is not valid JSON and" if meta is _INVALID else ""
        raise CheckpointError(
            f"{d / META}{what} does not match the SHA-256 recorded in {d / MANIFEST}: one of them is "
            "corrupt or tampered with"
        )
    if meta is _INVALID:
        raise CheckpointError(f"{d / META} is not valid UTF-8 JSON")
    _check_version(d, meta)
    blobs = {}
    for f, digest in _check_files(d, meta).items():
        blobs[f] = _read(d / f)
        if _sha256(blobs[f]) != digest:
            raise CheckpointError(
                f"checkpoint file {d / f} does not match its SHA-256 in {META}: corrupt or tampered with"
            )
    return meta, blobs


def _load_dir(
    d: Path, required_keys: Iterable[str]
) -> tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor] | None]:
    meta, blobs = _verify(d)
    missing = [k for k in required_keys if k not in meta]
    if missing:
        raise CheckpointError(f"{d / META} lacks the required keys {missing}")
    loaded = {}
    for f, data in blobs.items():
        try:
            loaded[f] = load_safetensors(data)
        except Exception as e:  # noqa: BLE001 - untrusted bytes: the parser fails in several types
            raise CheckpointError(f"checkpoint file {d / f} is not a valid safetensors file: {e}") from e
    return loaded[STATE], meta, loaded.get(BUFFER)


def _resolve(path: Path, name: str, read: Callable[[Path], T]) -> tuple[Path, T]:
    """Apply ``read`` to the checkpoint at ``path``: that directory itself, or the newest valid one of a run."""
    _check_name(name)
    if _looks_like_checkpoint(path):
        return path, read(path)
    primary = path / name
    for attempt in range(_RETRIES):
        candidates = [(d, _identity(d)) for d in (primary, path / f"{name}.old")]
        candidates = [(d, ident) for d, ident in candidates if ident is not None]
        if not candidates:
            if path.is_dir() and attempt + 1 < _RETRIES:
                continue  # a concurrent save may have renamed one between our two looks
            raise CheckpointError(
                f"no checkpoint found at {path} (expected {primary / META} or {path / (name + '.old')})"
            )
        errors: list[CheckpointError] = []
        swapped = False
        for d, ident in candidates:
            try:
                result = read(d)
            except CheckpointError as e:
                swapped = _identity(d) != ident  # a concurrent save renamed it: resolve again
                if swapped:
                    break
                errors.append(e)
                continue
            if errors:
                warnings.warn(f"{errors[0]}; loaded the previous checkpoint {d} instead", RuntimeWarning,
                              stacklevel=3)
            return d, result
        if not swapped:
            raise errors[0] if len(errors) == 1 else CheckpointError(
                f"no valid checkpoint at {path}: " + "; ".join(str(e) for e in errors)
            )
    raise CheckpointError(f"the checkpoint at {path} kept changing while being read ({_RETRIES} attempts)")


def checkpoint_dir(path: str | os.PathLike[str], *, name: str = "checkpoint") -> Path:
    """The verified checkpoint directory that :func:`load_checkpoint` reads for ``path``.

    Args:
        path: a run directory (``<name>/`` is preferred, ``<name>.old/`` is the fallback) or a
            checkpoint directory itself.
        name: the checkpoint directory name inside a run directory.

    Raises:
        CheckpointError: there is no checkpoint, or none that verifies.
    """
    return _resolve(Path(path), name, _verify)[0]


def load_checkpoint(
    path: str | os.PathLike[str], *, name: str = "checkpoint", required_keys: Iterable[str] = ()
) -> tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor] | None]:
    """Read and verify a checkpoint: ``(tensors, meta, buffer_or_None)``.

    Args:
        path: a run directory or a checkpoint directory (as in :func:`checkpoint_dir`).
        name: the checkpoint directory name inside a run directory.
        required_keys: meta keys the caller needs; a missing one is a :class:`CheckpointError`.

    Raises:
        CheckpointError: missing files, a foreign directory, bad JSON, another format version,
            a file whose SHA-256 differs, an invalid safetensors file, or a missing required key.
    """
    keys = tuple(required_keys)
    return _resolve(Path(path), name, lambda d: _load_dir(d, keys))[1]


# ---------------------------------------------------------------------------- optimizers
def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list[dict[str, Any]]]:
    """Split an optimizer state dict into tensors (``optim/<i>/<name>``) and JSON param groups."""
    sd = opt.state_dict()
    tensors = {f"optim/{i}/{name}": v for i, st in sd["state"].items() for name, v in st.items()}
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, groups


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], groups: list[dict[str, Any]]) -> None:
    """Inverse of :func:`optimizer_tensors`.

    Raises:
        CheckpointError: the state or groups do not fit ``opt``.
    """
    state: dict[int, dict[str, Tensor]] = {}
    try:
        for key, v in tensors.items():
            if key.startswith("optim/"):
                _, i, name = key.split("/", 2)
                state.setdefault(int(i), {})[name] = v
        fixed = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in groups]
        opt.load_state_dict({"state": state, "param_groups": fixed})
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"optimizer state does not fit this model: {e}") from e
