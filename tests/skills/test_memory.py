"""retain_freed_memory: glibc keeps freed blocks, so fresh large tensors stop faulting pages in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from softskills.skills import memory
from softskills.skills.config import TrainConfig
from softskills.skills.trainer import Trainer

# Six 4 MiB tensors allocated, touched and freed, 40 times over (an update at K = 16 does this
# with its activations). The process first makes glibc serve such blocks with mmap, as it does
# for the first blocks of a fresh process, so that every round faults its pages in anew; then,
# with argument "1", retain_freed_memory() must override that. Prints the minor page faults of
# the last 30 rounds.
_PROBE = """
import ctypes, resource, sys, torch
from softskills.skills.memory import retain_freed_memory
ctypes.CDLL(None).mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD = 1 MiB
if sys.argv[1] == "1":
    assert retain_freed_memory()
def rounds(n):
    for _ in range(n):
        ts = [torch.empty(1 << 20).fill_(1.0) for _ in range(6)]
        del ts
rounds(10)
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(30)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or memory.platform.libc_ver()[0] != "glibc",
                                reason="mallopt is glibc's")


def _faults(retain: bool) -> int:
    out = subprocess.run([sys.executable, "-c", _PROBE, "1" if retain else "0"], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


@glibc_only
def test_retained_memory_stops_the_page_faults() -> None:
    default, retained = _faults(False), _faults(True)
    assert default > 30 * 6 * 1_000  # 1,024 pages per tensor, faulted in every round
    assert retained < 1_000


def test_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="trim_threshold must be >= 0"):
        memory.retain_freed_memory(trim_threshold=-1)


def test_does_nothing_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("", ""))
    assert memory.retain_freed_memory() is False


@pytest.mark.parametrize("on", [True, False])
def test_trainer_applies_the_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, on: bool) -> None:
    import softskills.skills.trainer as trainer_module

    calls: list[int] = []
    monkeypatch.setattr(trainer_module, "retain_freed_memory", lambda: calls.append(1) or True)
    Trainer(TrainConfig(env="Pendulum-v1", steps=10, out=str(tmp_path / "run"), progress=False,
                        tensorboard=False, retain_freed_memory=on))
    assert calls == ([1] if on else [])
