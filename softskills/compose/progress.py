"""Progress bars of the offline stages (extraction, bounds): tqdm on stderr (a widget in notebooks), or none."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


def progress_bar(items: Iterable[object], show: bool, desc: str, total: int) -> tqdm:
    """``items`` behind a tqdm progress bar on stderr, disabled (silent) unless ``show``.

    A bar draws no random numbers, so a run with bars gives the same results as one without.
    ``set_postfix`` on a disabled bar does nothing, so callers need no branch.
    """
    return tqdm(items, desc=desc, total=total, disable=not show, file=sys.stderr, dynamic_ncols=True)
