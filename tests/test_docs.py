"""Docs are tested too: every command has help text and appears in the README."""

from __future__ import annotations

import re

import typer
from typer.main import get_command

from qasession.cli import app
from tests.conftest import ROOT, qa


def commands() -> list[tuple[str, typer.models.CommandInfo | object]]:
    root = get_command(app)
    found = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        if sub:
            found.extend((f"{name} {child}", c) for child, c in sub.items())
        else:
            found.append((name, command))
    return found


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [name for name, _ in commands()]
    assert {
        "init",
        "plan",
        "run",
        "queue",
        "answer",
        "skip",
        "pin",
        "block",
        "recap",
        "local post",
        "local like",
        "local timeline",
        "doctor",
    } <= set(names)
    for name, command in commands():
        assert (command.help or "").strip(), f"`qa {name}` has no help text"  # type: ignore[attr-defined]
        assert re.search(rf"`qa {re.escape(name)}\b", readme), f"`qa {name}` missing from README"


def test_help_runs_for_every_command() -> None:
    for name, _ in commands():
        result = qa(*name.split(), "-h")
        assert result.returncode == 0, (name, result.stderr)
        assert "Usage: qa" in result.stdout


def test_changelog_has_unreleased_section() -> None:
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
