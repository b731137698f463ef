"""Progress bars of the offline stages (extraction, bounds): tqdm on stderr, or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

__all__ = ["progress_bar"]

T = TypeVar("T")


def progress_bar(items: Iterable[T], show: bool, desc: str, total: int) -> Iterable[T]:
    """``items`` behind a tqdm progress bar on stderr when ``show``; else ``items`` themselves.

    A bar draws no random numbers, so a run with bars gives the same results as one without.
    """
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, dynamic_ncols=True)
