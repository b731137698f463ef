"""A checkpoint writer for the kill test: a fork server whose children save in a loop until killed.

Run as ``python _checkpoint_writer.py``; it imports torch once, then reads commands on stdin:

- ``start RUN_DIR COUNTER``: fork a child that saves counters COUNTER, COUNTER+1, ... into RUN_DIR
  forever, printing ``rename <n>`` before its n-th rename and ``saved <counter>`` after each save
  returns; the server answers ``pid <pid>``;
- ``reap PID``: wait for that (killed) child, then answer ``reaped <pid> <wait status>``;
- ``quit``: exit.

Forking a warm interpreter keeps each restart in milliseconds. The child announces each rename and
sleeps briefly around it, so that the test can aim some kills between the renames of a swap.
"""

from __future__ import annotations

import itertools
import os
import random
import sys
import time
import traceback
from typing import Any

import torch
from torch import Tensor

from softskills.skills.checkpoint import save_checkpoint

__all__ = ["STATE_NUMEL", "BUFFER_NUMEL", "snapshot", "main"]

STATE_NUMEL = 60_000
"""float32 entries of the state payload (240 kB)."""
BUFFER_NUMEL = 40_000
"""float32 entries of the buffer payload (160 kB)."""


def snapshot(counter: int) -> tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor]]:
    """The ``(tensors, meta, buffer)`` that the writer saves for ``counter``: distinct for every counter."""
    g = torch.Generator().manual_seed(counter)
    tensors = {"counter": torch.tensor([counter]), "payload": torch.randn(STATE_NUMEL, generator=g)}
    buffer = {"buffer/obs": torch.randn(BUFFER_NUMEL, generator=g)}
    return tensors, {"counter": counter, "note": f"save number {counter}"}, buffer


def _say(line: str) -> None:
    """Write ``line`` and its newline to stdout in **one** ``write``, which a pipe keeps whole.

    ``print(..., flush=True)`` is two writes, text and newline, when stdout is unbuffered
    (``PYTHONUNBUFFERED=1``, set on some machines): a child killed between them left a line
    without its newline, the server's next reply was glued onto it, and the test never saw the
    reply and hung.
    """
    os.write(sys.stdout.fileno(), f"{line}\n".encode())


def _announce_renames(rng: random.Random) -> None:
    """Print ``rename <n>`` before the n-th ``os.replace`` of this process and sleep 0-3 ms on both sides.

    Timing only, same semantics: it lets the test aim kills at the instants around a rename.
    """
    replace, count = os.replace, itertools.count(1)

    def announced_replace(src: Any, dst: Any) -> None:
        _say(f"rename {next(count)}")
        time.sleep(rng.uniform(0.0, 0.003))
        replace(src, dst)
        time.sleep(rng.uniform(0.0, 0.003))

    os.replace = announced_replace  # type: ignore[assignment]


def _child(run_dir: str, counter: int) -> None:
    _announce_renames(random.Random(counter))
    while True:
        tensors, meta, buffer = snapshot(counter)
        save_checkpoint(run_dir, tensors, meta, buffer)
        _say(f"saved {counter}")
        counter += 1


def main() -> None:
    """Serve ``start``/``reap``/``quit`` commands from stdin (see the module docstring)."""
    torch.set_num_threads(1)
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "start":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    _child(args[0], int(args[1]))
                except BaseException:
                    traceback.print_exc()
                    sys.stderr.flush()
                finally:
                    os._exit(1)
            _say(f"pid {pid}")
        elif cmd == "reap":
            _, status = os.waitpid(int(args[0]), 0)
            _say(f"reaped {args[0]} {status}")
        elif cmd == "quit":
            return
        else:
            raise ValueError(f"unknown command {cmd!r}")
    print("writer server: stdin closed before 'quit'", file=sys.stderr)


if __name__ == "__main__":
    main()
