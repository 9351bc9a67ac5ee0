"""`qa NAME` builds only the command it runs (Typer would build every one on each run): the
same command, the same help and errors, and the whole CLI whenever no single command is named."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from qasession import cli
from tests.conftest import qa


def test_the_global_value_options_are_the_callbacks() -> None:
    """A value of a global option (`-f plan`) is never taken for the command's name."""
    group = typer.main.get_command(cli.app)
    taking_values = {
        opt
        for param in group.params
        if param.param_type_name == "option" and not getattr(param, "is_flag", False)
        for opt in (*param.opts, *param.secondary_opts)
    }
    assert taking_values == cli.GLOBAL_VALUE_OPTIONS


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["queue", "--json"], "queue"),
        (["-f", "queue", "plan"], "plan"),  # a plan file named "queue"
        (["--home", "/tmp/h", "--rehearsal", "answer", "1", "Yes"], "answer"),
        (["--file=p.yaml", "local", "post"], "local"),
        (["--db", "postgresql://u@h/db"], None),
        (["--help", "plan"], None),  # the whole CLI's help
        (["--", "plan"], None),
        ([], None),
    ],
)
def test_the_command_is_found_past_the_global_options(args: list[str], name: str | None) -> None:
    assert cli._command_name(args) == name


def every_name() -> list[str]:
    group: Any = typer.main.get_command(cli.app)  # Typer's own click group
    return sorted(group.commands)


def test_each_command_alone_has_the_help_it_has_among_all() -> None:
    runner = CliRunner()
    names = every_name()
    assert {"plan", "queue", "answer", "recap", "db", "local"} <= set(names)
    for name in names:
        whole = runner.invoke(cli.app, [name, "--help"])
        with cli._only_the_invoked_command([name, "--help"]):
            assert every_name() == [name]
            alone = runner.invoke(cli.app, [name, "--help"])
        assert whole.exit_code == alone.exit_code == 0, (name, alone.output)
        assert alone.output == whole.output
    assert every_name() == names  # the app is whole again after each run


def test_an_unknown_command_is_still_told_what_exists() -> None:
    wrong = qa("plna")
    assert wrong.returncode == 2
    assert "Did you mean 'plan'?" in wrong.stderr
    listing = qa("--help")
    assert listing.returncode == 0
    for name in ("plan", "queue", "answer", "recap", "doctor"):
        assert name in listing.stdout
