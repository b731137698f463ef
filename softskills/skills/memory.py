"""Keep freed memory in the process, so that large short-lived tensors do not fault their pages in anew.

PyTorch's CPU allocator hands every tensor to ``malloc`` and back. An update at K = 16 allocates
and frees dozens of activation-sized blocks of 2-8 MiB each. glibc serves a block that size with
a fresh ``mmap`` (or from a heap top that it trims back to the OS as soon as more than twice the
block is free), so each new tensor's pages are faulted in again: 2,435-3,458 minor page faults
per K = 16 bf16 update on the 2-core CPU box of 2026-11-27, against 8.6-17.2 after
:func:`retain_freed_memory`, and 319.9 against 378.6 updates/s per skill (``docs/benchmarks.md``,
"On the AMX box").

:func:`retain_freed_memory` sets three of glibc's ``mallopt`` parameters once for the process:
blocks below ``mmap_threshold`` come from the heap, up to ``trim_threshold`` of free heap stays
mapped, and the heap grows by ``top_pad`` at a time. It changes no result, only where memory
comes from. The trainer calls it unless ``TrainConfig.retain_freed_memory`` is off; on a system
without glibc (macOS, musl) it does nothing and says so by returning ``False``.
"""

from __future__ import annotations

import ctypes
import platform
import sys

__all__ = ["retain_freed_memory"]

# glibc's malloc.h parameter numbers for mallopt
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MIB = 1 << 20


def retain_freed_memory(mmap_threshold: int = 32 * _MIB, trim_threshold: int = 256 * _MIB,
                        top_pad: int = 64 * _MIB) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD``, ``M_TRIM_THRESHOLD`` and ``M_TOP_PAD`` for this process.

    Args:
        mmap_threshold: blocks smaller than this come from the heap, not from ``mmap``.
        trim_threshold: free memory at the heap top that glibc keeps mapped.
        top_pad: extra memory requested whenever the heap grows.

    Returns:
        ``True`` if glibc accepted all three settings; ``False`` on a system without glibc.

    Raises:
        ValueError: a setting is negative, or glibc refused it.
    """
    for name, value in (("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold), ("top_pad", top_pad)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 bytes, got {value}")
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    for name, param, value in (("mmap_threshold", _M_MMAP_THRESHOLD, mmap_threshold),
                               ("trim_threshold", _M_TRIM_THRESHOLD, trim_threshold),
                               ("top_pad", _M_TOP_PAD, top_pad)):
        if mallopt(param, min(value, 2**31 - 1)) != 1:
            raise ValueError(f"glibc's mallopt refused {name}={value}")
    return True
