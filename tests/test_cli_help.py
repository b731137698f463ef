"""``softskills train --help`` documents every field of the config dataclasses, with the field's docstring."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap

import pytest

from softskills.cli import main
from softskills.skills.config import TrainConfig
from softskills.skills.sac import SACConfig
from softskills.skills.sql import SQLConfig


def field_docstrings(cls: type) -> dict[str, str]:
    """Each field's docstring, read from the class source (the string literal after its annotation)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = after.value.value
    return docs


def train_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The help text with its box drawing removed and all whitespace collapsed (one column at 80 characters)."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    return " ".join(re.sub("[│╭╮╰╯─]", " ", capsys.readouterr().out).split())


@pytest.mark.parametrize(("cls", "prefix"), [(TrainConfig, ""), (SACConfig, "sac."), (SQLConfig, "sql.")])
def test_train_help_documents_every_field(cls: type, prefix: str, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    text = train_help(capsys, monkeypatch)
    docs = field_docstrings(cls)
    nested = {"sac", "sql"} if cls is TrainConfig else set()
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in nested:
            continue
        assert f.name in docs, f"{cls.__name__}.{f.name} has no docstring"
        flag = f"--{prefix}{f.name.replace('_', '-')}"
        match = re.search(re.escape(flag) + r"[ ,]", text)
        assert match, f"{flag} is missing from `softskills train --help`"
        first_words = " ".join(docs[f.name].split()[:3])
        assert first_words in text[match.start(): match.start() + 400], (flag, first_words)
