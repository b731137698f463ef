"""progress.csv holds one run's history: a fresh run drops an earlier run's rows, a resume drops rows past its checkpoint."""

from __future__ import annotations

from pathlib import Path

from softskills.skills.logger import read_csv
from softskills.skills.trainer import Trainer
from tests.skills.test_trainer import small


def _steps(run: Path) -> list[int]:
    return [s for s, _ in read_csv(run)["charts/SPS"]]


def test_overwrite_starts_a_fresh_progress_csv(tmp_path: Path) -> None:
    run = tmp_path / "r"
    Trainer(small(run, steps=200, log_every=50)).train()
    Trainer(small(run, steps=150, log_every=50, overwrite=True)).train()
    assert _steps(run) == [50, 100, 150]


def test_resume_drops_rows_logged_after_the_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "r"
    Trainer(small(run, steps=200, log_every=50)).train()
    with open(run / "progress.csv", "a") as f:  # a killed run logged past its last checkpoint
        f.write("250,charts/SPS,1.0\n260,charts/SP")
    Trainer.resume(run, steps=300).train()
    assert _steps(run) == [50, 100, 150, 200, 250, 300]
    assert read_csv(run)["charts/SPS"][4][1] != 1.0
