"""Durable, atomic file-system steps: skill-library writes are built from these, and checkpoints use
``fsync_dir``.

A file is replaced by writing a uniquely named temporary file next to it, fsyncing it, renaming
it over the target (``os.replace`` is atomic on POSIX) and fsyncing the directory, so a reader or
a process killed at any instant sees either the old file or the new one, never a mix. A directory
is discarded by renaming it to a trash name first, so it disappears from its name atomically and a
half-deleted tree is never mistaken for a skill.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

__all__ = ["TMP_SUFFIX", "TRASH_PREFIX", "fsync_dir", "write_atomic", "discard_dir", "is_leftover"]

TMP_SUFFIX = ".tmp"
"""Suffix of temporary files being written (``.<name>-<hex>.tmp``)."""
TRASH_PREFIX = ".trash-"
"""Prefix of directories being deleted."""


def fsync_dir(path: Path) -> None:
    """Make creations, renames and deletions inside ``path`` durable."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data``: temp file, fsync, rename over ``path``, fsync the directory."""
    tmp = path.with_name(f".{path.name}-{uuid.uuid4().hex[:12]}{TMP_SUFFIX}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def discard_dir(path: Path) -> None:
    """Delete the directory ``path``: an atomic rename to a trash name (made durable), then deletion."""
    if not path.exists():
        return
    trash = path.with_name(f"{TRASH_PREFIX}{path.name}-{uuid.uuid4().hex[:12]}")
    os.replace(path, trash)
    fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)


def is_leftover(entry: Path) -> bool:
    """Whether ``entry`` is a temporary file or trash directory left behind by a killed writer."""
    return entry.name.startswith(TRASH_PREFIX) or (entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX))
