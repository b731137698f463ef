"""Every local link and figure in the README and docs/ points at a committed file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _local_targets(page: Path) -> list[str]:
    targets = re.findall(r"\]\(([^)\s#]+)", page.read_text())
    return [t for t in targets if not t.startswith(("http://", "https://", "mailto:"))]


def _tracked_files() -> set[str] | None:
    """The files git tracks in this checkout, or ``None`` outside a git checkout."""
    if not (ROOT / ".git").exists():
        return None
    proc = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    tracked = set(proc.stdout.split())
    assert tracked, "git ls-files listed no file in a git checkout"
    return tracked


def test_every_local_link_resolves_to_a_tracked_file() -> None:
    tracked = _tracked_files()
    missing = []
    for page in PAGES:
        for target in _local_targets(page):
            path = (page.parent / target).resolve()
            rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
            if not path.exists() or (tracked is not None and path.is_file() and rel not in tracked):
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert not missing, "links to files that are missing or not committed:\n" + "\n".join(missing)
    if tracked is None:
        pytest.skip("not a git checkout: every link resolves, but whether its file is committed is unchecked")


def test_the_pages_link_their_figures() -> None:
    figures = [t for page in PAGES for t in _local_targets(page) if t.endswith(".png")]
    assert len(figures) >= 20  # the README's and the records' figures are all checked above


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_anchor_names_a_heading() -> None:
    broken = []
    for page in PAGES:
        for target, anchor in re.findall(r"\]\(([^)\s#]*)#([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            dest = (page.parent / target).resolve() if target else page
            headings = re.findall(r"^#+ (.+)$", dest.read_text(), flags=re.MULTILINE)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(f"{page.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken, "anchors that name no heading:\n" + "\n".join(broken)
