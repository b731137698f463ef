"""The errors of the skill library."""

from __future__ import annotations

__all__ = ["LibraryError", "LibraryLockTimeout"]


class LibraryError(RuntimeError):
    """A library or one of its skills is missing, corrupt, inconsistent, or asked for something invalid.

    The message names the library and, where one is involved, the skill.
    """


class LibraryLockTimeout(LibraryError):
    """Another process held the library's lock for longer than the timeout."""
