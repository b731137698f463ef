"""Scalars to TensorBoard and CSV with CleanRL's key names (charts/*, losses/*)."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

__all__ = ["Logger", "read_csv"]


class Logger:
    """Writes ``(step, key, value)`` scalars to ``progress.csv`` and to TensorBoard events in ``run_dir``.

    Args:
        run_dir: the run directory.
        tensorboard: also write TensorBoard events (``run_dir/tb``).
        flush_every_s: flush the CSV at most this often, so a running job's ``progress.csv``
            can be read (for example by ``softskills plot``) while it trains.
        keep_until: rows of an existing ``progress.csv`` logged after this step are dropped
            first: ``0`` for a run that starts afresh (``--overwrite``), the checkpoint's step
            for a resumed one (rows a killed run logged after its last checkpoint). ``None``
            keeps every row.
    """

    def __init__(self, run_dir: str | os.PathLike, tensorboard: bool = True, flush_every_s: float = 10.0,
                 keep_until: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.flush_every_s = flush_every_s
        self._last_flush = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "progress.csv"
        if keep_until is not None:
            _trim(path, keep_until)
        new = not path.exists()
        self._file = open(path, "a", newline="")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(["step", "key", "value"])
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tb"))

    def log(self, step: int, scalars: dict[str, float]) -> None:
        """Record scalars at ``step``."""
        for k, v in scalars.items():
            self._csv.writerow([step, k, f"{float(v):.6g}"])
            if self._tb is not None:
                self._tb.add_scalar(k, float(v), step)
        if time.monotonic() - self._last_flush >= self.flush_every_s:
            self.flush()

    def text(self, tag: str, text: str) -> None:
        """A text note in TensorBoard (for example the hyperparameter table)."""
        if self._tb is not None:
            self._tb.add_text(tag, text)

    def flush(self) -> None:
        """Write buffered scalars to disk."""
        self._last_flush = time.monotonic()
        self._file.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _trim(path: Path, keep_until: int) -> None:
    """Drop the rows of ``path`` logged after step ``keep_until`` (and torn lines), atomically."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = []
    for row in rows[1:]:
        try:
            if len(row) == 3 and int(row[0]) <= keep_until:
                kept.append(row)
        except ValueError:
            continue
    if len(kept) == len(rows) - 1:
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "key", "value"])
        w.writerows(kept)
    os.replace(tmp, path)


def read_csv(run_dir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """``progress.csv`` as ``{key: [(step, value), ...]}``."""
    out: dict[str, list[tuple[int, float]]] = {}
    with open(Path(run_dir) / "progress.csv", newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["key"], []).append((int(row["step"]), float(row["value"])))
    return out
