"""Crash safety and concurrency of the skill library: SIGKILLed writers and two writers at once."""

from __future__ import annotations

import hashlib
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from softskills.library import SkillLibrary
from tests.library._library_writer import MAX_SKILLS
from tests.library._runs import train_primitive, train_stacked

WRITER = Path(__file__).with_name("_library_writer.py")
ROOT = Path(__file__).resolve().parents[2]
KILLS = 24


@dataclass
class Server:
    """The fork server of ``_library_writer.py`` and a thread reading its output into a queue."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[str]
    stderr: Path

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, seen: list[str], timeout: float = 30.0) -> str:
        """Collect lines into ``seen`` until one starts with ``prefix``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} from the writer ({self.states()}); lines {seen[-5:]}; stderr:\n"
                                     f"{self.stderr.read_text()}") from None
            seen.append(line)
            if line.startswith(prefix):
                return line

    def states(self) -> str:
        """The scheduler state and wait channel of the server and its children (for a hang's error message)."""
        pids = [self.proc.pid]
        try:
            pids += [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        except OSError:
            pass
        out = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
                out.append(f"{pid}: {state} in {Path(f'/proc/{pid}/wchan').read_text() or '-'}")
            except OSError:
                out.append(f"{pid}: gone")
        return ", ".join(out)

    def collect(self, seconds: float, seen: list[str]) -> None:
        """Collect lines into ``seen`` for ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                seen.append(self.lines.get(timeout=left))
            except queue.Empty:
                return

    def reap(self, pid: int, seen: list[str]) -> int:
        """Wait for child ``pid``; every line it printed is in ``seen`` afterwards. Returns its wait status."""
        self.send(f"reap {pid}")
        while True:
            line = self.expect("reaped", seen)
            if line.split()[1] == str(pid):
                return int(line.split()[2])


@dataclass(frozen=True)
class Runs:
    prim: Path
    high: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("runs")
    prim = train_primitive(d / "prim")
    high = train_stacked(d / "high", prim)
    torch.set_num_threads(n)
    return Runs(prim, high)


@pytest.fixture(scope="module")
def server(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    stderr = tmp_path_factory.mktemp("writer") / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(stderr, "w") as err:
        proc = subprocess.Popen([sys.executable, str(WRITER), str(runs.prim)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1, env=env)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    watchdog = threading.Timer(120, proc.kill)  # a hung writer fails the tests instead of blocking them
    watchdog.start()
    srv = Server(proc, lines, stderr)
    try:
        srv.expect("ready", [], timeout=180)  # importing torch on a loaded 2-core box can take a minute
        yield srv
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            srv.send("quit")
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def leftovers(lib_dir: Path, listed: set[str]) -> list[str]:
    """What a killed writer left: temporary files, trash, and skill directories the graph does not list."""
    top = [p.name for p in lib_dir.iterdir() if p.name.startswith(".")]
    skills = [p.name for p in (lib_dir / "skills").iterdir() if p.name not in listed]
    return top + skills


def test_sigkill_at_random_moments_leaves_a_valid_library(server: Server, runs: Runs, tmp_path: Path) -> None:
    start = time.monotonic()
    lib_dir = tmp_path / "lib"
    written = {hashlib.sha256((SkillLibrary(lib_dir).graph_path).read_bytes()).hexdigest()}
    rng = random.Random(0)
    sizes, dirty, graph_writes, stacked = [], 0, 0, 0
    for k in range(KILLS):
        seen: list[str] = []
        server.send(f"churn {lib_dir} {runs.prim} {runs.high} {k}")
        pid = int(server.expect("pid", seen).split()[1])
        if k % 2:  # aim at a rename: in save_checkpoint's swap, the graph's, or a removal's
            target = rng.randint(1, 14)
            while sum(line.startswith("rename") for line in seen) < target:
                server.expect("rename", seen)
        else:
            server.collect(rng.uniform(0.02, 0.5), seen)
        os.kill(pid, signal.SIGKILL)
        status = server.reap(pid, seen)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
            f"writer {k} ended on its own (status {status}):\n{server.stderr.read_text()}")
        announced = [line.split()[1] for line in seen if line.startswith("graph ")]
        written.update(announced)
        graph_writes += len(announced)

        lib = SkillLibrary(lib_dir, create=False)  # opens: graph.json parses, is sealed and consistent
        on_disk = hashlib.sha256(lib.graph_path.read_bytes()).hexdigest()
        assert on_disk in written, f"kill {k}: graph.json is not one of the graphs that were written"
        names = lib.names()
        dirty += bool(leftovers(lib_dir, set(names)))
        stacked += bool(lib.find(kind="stacked"))
        for name in names:  # every listed skill loads (stacked ones as a whole hierarchy)
            policy = lib.load_policy(name)
            assert policy is not None
        assert lib.verify() == names
        assert len(names) <= MAX_SKILLS
        sizes.append(len(names))
    lib = SkillLibrary(lib_dir)
    lib.add("last", runs.prim)  # the next writer clears what the killed ones left
    assert leftovers(lib_dir, set(lib.names())) == []
    elapsed = time.monotonic() - start
    print(f"library kill test: {KILLS} kills in {elapsed:.1f}s, {graph_writes} graph writes, "
          f"{dirty} kills left leftovers, {stacked} libraries held stacked skills, sizes {sizes}")
    assert graph_writes >= 2 * KILLS  # the writers did real work between kills
    assert dirty >= 3  # some kills landed mid-write (a skill directory written but not yet listed, or a temp file)
    assert len(set(sizes)) >= 3 and stacked >= 3  # adds, removals and stacked skills were all exercised


def test_two_concurrent_writers_lose_nothing(server: Server, runs: Runs, tmp_path: Path) -> None:
    start = time.monotonic()
    n = 6
    lib = SkillLibrary(tmp_path / "lib")
    seen: list[str] = []
    server.send(f"adds {lib.path} {runs.prim} a {n}")
    server.send(f"adds {lib.path} {runs.prim} b {n}")
    pids = [int(server.expect("pid", seen).split()[1]) for _ in range(2)]
    statuses = [server.reap(pid, seen) for pid in pids]
    assert statuses == [0, 0], f"a writer failed:\n{server.stderr.read_text()}"
    expected = sorted(f"{p}{i}" for p in "ab" for i in range(n))
    assert lib.names() == expected
    assert lib.verify() == expected
    assert leftovers(lib.path, set(expected)) == []
    print(f"library concurrency test: 2 x {n} adds in {time.monotonic() - start:.1f}s")
