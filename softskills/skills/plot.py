"""Learning curves from ``progress.csv`` files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from softskills.skills.logger import read_csv

__all__ = ["plot_runs"]


def plot_runs(
    run_dirs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None = None,
    keys: Sequence[str] = ("charts/episodic_return", "eval/return"),
    labels: Sequence[str] | None = None,
) -> Path:
    """One panel per key, one line per run (keys with a ``/skillK`` suffix are drawn per skill)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not run_dirs:
        raise ValueError("plot needs at least one run directory")
    data = []
    for d in run_dirs:
        if not (Path(d) / "progress.csv").exists():
            raise FileNotFoundError(f"{d} has no progress.csv; is it a softskills run directory?")
        data.append(read_csv(d))
    labels = list(labels) if labels is not None else [Path(d).name for d in run_dirs]
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, series in zip(labels, data):
            for name, points in sorted(series.items()):
                if name == key or name.startswith(key + "/skill"):
                    xs, ys = zip(*points)
                    suffix = name[len(key):]
                    ax.plot(xs, ys, label=f"{label}{suffix}", lw=1.2)
        ax.set_title(key)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(out) if out is not None else Path(run_dirs[0]) / "curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
