"""Library writers for the kill and concurrency tests: a fork server whose children write one library.

Run as ``python _library_writer.py PRIM_RUN``; it imports softskills and loads the run once (so
children start warm), then reads commands on stdin:

- ``churn LIB PRIM HIGH SEED``: fork a child that changes library LIB forever: while it holds fewer
  than 6 skills it adds the run PRIM as a primitive skill, or (one time in three, when a
  primitive is there) the stacked run HIGH on a random primitive; at 6 it force-removes a random
  primitive (and what is built on it). Before every ``graph.json`` write it prints
  ``graph <sha256>`` of the bytes it is about to write, and before every ``os.replace`` of the
  process ``rename``; the server answers ``pid <pid>``;
- ``adds LIB PRIM PREFIX N``: fork a child that adds N skills ``PREFIX0`` ... and exits 0
  (``pid <pid>``);
- ``reap PID``: wait for that child, then answer ``reaped <pid> <wait status>``;
- ``quit``: exit.

Each announcement is one ``write`` system call (a killed child never leaves half a line) followed
by a 0-3 ms sleep (timing only, same semantics), so that the test can aim kills at the moments
around a rename.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

import softskills.library.library as library_module
from softskills.library import SkillLibrary
from softskills.skills.loading import load_run

__all__ = ["MAX_SKILLS", "main"]

MAX_SKILLS = 6
"""The churning writer removes a skill whenever the library holds this many."""


def _say(line: str) -> None:
    """Write one whole line to stdout in a single system call: lines of the server and its children
    never interleave, and a killed child never leaves half a line."""
    os.write(sys.stdout.fileno(), (line + "\n").encode())


def _announce(rng: random.Random) -> None:
    """Print before every graph write (with the bytes' digest) and every rename; sleep 0-3 ms around them."""
    replace, write_atomic = os.replace, library_module.write_atomic
    count = itertools.count(1)

    def announced_replace(src: Any, dst: Any) -> None:
        _say(f"rename {next(count)}")
        time.sleep(rng.uniform(0.0, 0.003))
        replace(src, dst)
        time.sleep(rng.uniform(0.0, 0.003))

    def announced_write(path: Path, data: bytes) -> None:
        if path.name == library_module.GRAPH_FILE:
            _say(f"graph {hashlib.sha256(data).hexdigest()}")
        write_atomic(path, data)

    os.replace = announced_replace  # type: ignore[assignment]
    library_module.write_atomic = announced_write  # type: ignore[assignment]


def _churn(lib_dir: str, prim: str, high: str, seed: int) -> None:
    rng = random.Random(seed)
    _announce(rng)
    lib = SkillLibrary(lib_dir)
    for i in itertools.count():
        g = lib.graph()
        names = sorted(g.nodes)
        prims = [n for n in names if g.nodes[n]["kind"] == "primitive"]
        if len(names) >= MAX_SKILLS:
            lib.remove(rng.choice(prims), force=True)
        elif prims and rng.random() < 1 / 3:
            lib.add(f"h{seed}-{i}", high, stacked_on=rng.choice(prims), tags=["stacked"], command="churn")
        else:
            lib.add(f"p{seed}-{i}", prim, tags=["primitive"], command="churn")


def _adds(lib_dir: str, prim: str, prefix: str, n: int) -> None:
    lib = SkillLibrary(lib_dir)
    for i in range(n):
        lib.add(f"{prefix}{i}", prim, command="concurrent")


def _fork(target: Any, *args: Any) -> int:
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            target(*args)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def main() -> None:
    """Serve the commands of the module docstring from stdin."""
    torch.set_num_threads(1)
    load_run(sys.argv[1])  # warm: every import and lazy initialisation happens once, before forking
    _say("ready")
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "churn":
            _say(f"pid {_fork(_churn, args[0], args[1], args[2], int(args[3]))}")
        elif cmd == "adds":
            _say(f"pid {_fork(_adds, args[0], args[1], args[2], int(args[3]))}")
        elif cmd == "reap":
            _, status = os.waitpid(int(args[0]), 0)
            _say(f"reaped {args[0]} {status}")
        elif cmd == "quit":
            return
        else:
            raise ValueError(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main()
