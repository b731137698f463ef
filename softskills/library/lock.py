"""``library.lock``: an ``fcntl.flock`` lock that serialises writers (and keeps readers off half-done removals)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from softskills.library.errors import LibraryError, LibraryLockTimeout

__all__ = ["LibraryLock"]

_POLL_S = 0.01


class LibraryLock:
    """A context manager holding ``flock`` on a lock file, exclusively (writers) or shared (readers).

    The kernel releases the lock when its holder exits or is killed, so a crashed writer never
    leaves the library locked. Each ``with`` opens the file afresh: locks are per open file, so
    two ``LibraryLock`` objects exclude each other even within one process.

    Args:
        path: the lock file (created if missing).
        exclusive: an exclusive (write) lock; otherwise a shared (read) lock.
        timeout: seconds to wait for the lock before raising :class:`LibraryLockTimeout`.
    """

    def __init__(self, path: Path, *, exclusive: bool = True, timeout: float = 30.0) -> None:
        if not timeout >= 0:
            raise LibraryError(f"lock timeout must be >= 0 seconds, got {timeout!r}")
        self.path, self.exclusive, self.timeout = path, exclusive, timeout
        self._fd: int | None = None

    def __enter__(self) -> LibraryLock:
        if self._fd is not None:
            raise LibraryError(f"{self.path} is already held by this LibraryLock (it is not re-entrant)")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        op = (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, op)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    mode = "write" if self.exclusive else "read"
                    raise LibraryLockTimeout(
                        f"could not take the {mode} lock {self.path} within {self.timeout:g} s: another process "
                        "is writing this skill library (wait for it, or pass a longer lock_timeout)"
                    ) from None
                time.sleep(_POLL_S)
            except BaseException:
                os.close(fd)
                raise
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
