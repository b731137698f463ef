"""Safe, atomic checkpoints: safetensors for tensors, JSON for everything else. Nothing is unpickled.

Layout of ``RUN_DIR/checkpoint/``:

- ``state.safetensors``: agent parameters and targets (``agent/...``), optimizer moments
  (``optim/<i>/<name>``), RNG states (``rng/...``) and trainer tensors (``trainer/...``);
- ``buffer.safetensors`` (optional): the replay buffer;
- ``meta.json``: format version, library version, config, counters, spaces, optimizer
  hyperparameters, and the SHA-256 of every file above (so tampering and truncation are caught).

A save writes a fresh temporary directory and swaps it in with renames, so a crash mid-save
never destroys the previous checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

import softskills

__all__ = [
    "FORMAT_VERSION",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_dir",
    "optimizer_tensors",
    "load_optimizer",
]

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, tampered with, foreign, or from a newer format."""


def checkpoint_dir(path: str | os.PathLike) -> Path:
    """The checkpoint directory for a run directory (or the checkpoint directory itself)."""
    p = Path(path)
    if (p / "meta.json").exists():
        return p
    if (p / "checkpoint" / "meta.json").exists():
        return p / "checkpoint"
    if (p / "checkpoint.old" / "meta.json").exists():  # a crash between the two renames of a save
        return p / "checkpoint.old"
    raise CheckpointError(f"no checkpoint found at {p} (expected {p / 'checkpoint' / 'meta.json'})")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(
    run_dir: str | os.PathLike,
    tensors: dict[str, Tensor],
    meta: dict[str, Any],
    buffer: dict[str, Tensor] | None = None,
) -> Path:
    """Atomically write ``run_dir/checkpoint``; returns its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / "checkpoint"
    tmp = run_dir / f".checkpoint-{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        files = {"state.safetensors": tensors}
        if buffer is not None:
            files["buffer.safetensors"] = buffer
        hashes = {}
        for name, ts in files.items():
            save_file({k: v.detach().cpu().contiguous() for k, v in ts.items()}, str(tmp / name))
            hashes[name] = _sha256(tmp / name)
        full = {"format_version": FORMAT_VERSION, "softskills_version": softskills.__version__, **meta,
                "files": hashes}
        with open(tmp / "meta.json", "w") as f:
            json.dump(full, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        old = run_dir / "checkpoint.old"
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor] | None]:
    """Read and verify a checkpoint: ``(tensors, meta, buffer_or_None)``.

    Raises:
        CheckpointError: missing files, bad JSON, a newer format, or a file whose hash differs.
    """
    d = checkpoint_dir(path)
    try:
        meta = json.loads((d / "meta.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{d / 'meta.json'} is unreadable or not valid JSON: {e}") from e
    if not isinstance(meta, dict) or "format_version" not in meta or "files" not in meta:
        raise CheckpointError(f"{d} is not a softskills checkpoint (meta.json lacks format_version/files)")
    if int(meta["format_version"]) > FORMAT_VERSION:
        raise CheckpointError(
            f"{d} has checkpoint format {meta['format_version']}, newer than this softskills "
            f"({softskills.__version__}) reads ({FORMAT_VERSION}); upgrade softskills"
        )
    loaded: dict[str, dict[str, Tensor]] = {}
    for name, digest in meta["files"].items():
        f = d / name
        if not f.exists():
            raise CheckpointError(f"checkpoint file {f} is missing")
        if _sha256(f) != digest:
            raise CheckpointError(f"checkpoint file {f} does not match its recorded SHA-256: corrupt or tampered with")
        try:
            loaded[name] = load_file(str(f))
        except (SafetensorError, OSError) as e:
            raise CheckpointError(f"checkpoint file {f} is not a valid safetensors file: {e}") from e
    if "state.safetensors" not in loaded:
        raise CheckpointError(f"{d} has no state.safetensors")
    return loaded["state.safetensors"], meta, loaded.get("buffer.safetensors")


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list[dict[str, Any]]]:
    """Split an optimizer state dict into tensors (``optim/<i>/<name>``) and JSON param groups."""
    sd = opt.state_dict()
    tensors = {f"optim/{i}/{name}": v for i, st in sd["state"].items() for name, v in st.items()}
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, groups


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], groups: list[dict[str, Any]]) -> None:
    """Inverse of :func:`optimizer_tensors`."""
    state: dict[int, dict[str, Tensor]] = {}
    for key, v in tensors.items():
        if key.startswith("optim/"):
            _, i, name = key.split("/", 2)
            state.setdefault(int(i), {})[name] = v
    fixed = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in groups]
    try:
        opt.load_state_dict({"state": state, "param_groups": fixed})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"optimizer state does not fit this model: {e}") from e
