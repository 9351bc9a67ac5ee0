"""The `qa` command: thin Typer commands over the core; errors rendered once, here.

The command modules do without `from __future__ import annotations`: Typer would evaluate every
string annotation when it builds the app, which doubles the build time of `qa --help`.
Heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from qasession.cli.common import (
    ActorOpt,
    DbOpt,
    GlobalState,
    HomeOpt,
    PlanFileOpt,
    RehearsalOpt,
)

app = typer.Typer(
    name="qa",
    help="Host public question-and-answer sessions (#AskUs) on social platforms.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        from qasession import __version__

        sys.stdout.write(f"qa {__version__}\n")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
    rehearsal: RehearsalOpt = False,
    db: DbOpt = None,
    actor: ActorOpt = None,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version.", callback=_version, is_eager=True),
    ] = False,
) -> None:
    """Global options: the plan file, the home directory and the database for every command."""
    ctx.obj = GlobalState(file=file, home=home, rehearsal=rehearsal, db=db, actor=actor)


def _register() -> None:
    from qasession.cli import answer, db, doctor, local, note, outbox, plan, recap, run, team

    for module in (plan, run, answer, note, team, recap, outbox, db, local, doctor):
        module.register(app)


_register()


def main() -> None:
    """Entry point: runs the app and maps errors to named exit codes without tracebacks."""
    from qasession.errors import ExitCode, QAError

    _lighter_start()
    try:
        args = _checked_args(sys.argv[1:])
        with _only_the_invoked_command(args):
            app(args=args, standalone_mode=False, prog_name="qa")
    except QAError as exc:
        for each in getattr(exc, "errors", None) or [exc]:  # a plan's mistakes: one line each
            _error(str(each))
        sys.exit(int(exc.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _error("interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
    except typer.TyperException as exc:
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            _error(exc.format_message())
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(int(ExitCode.FAILURE))
    except Exception as exc:  # the last line of defence: a bug, still never a traceback
        if os.environ.get("QA_DEBUG"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (rerun with QA_DEBUG=1 and report it)")
        sys.exit(int(ExitCode.FAILURE))
    sys.exit(int(ExitCode.OK))


def _lighter_start() -> None:
    """Start-up costs no command needs (benchmarks/startup.py measures what they cost):
    - Pydantic looks for plugins (the `pydantic` entry points) when it builds its first
      model, which reads the metadata of every installed package; the plan's models are
      qa's own and no plugin is meant to watch them. A value the user set is kept.
    - the garbage collector walks every object imported so far, again and again while the
      command imports its modules: those live as long as the process, so they are frozen out
      of its walks, and the youngest generation is collected every 50,000 allocations
      instead of 700 (what a long `qa run` leaves in cycles is still collected)."""
    import gc

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.freeze()
    gc.set_threshold(50_000)


# the global options that take a value (the callback's), so that their value is not taken for
# the command's name; tests/test_cli_startup.py holds this to the callback's options
GLOBAL_VALUE_OPTIONS = frozenset({"-f", "--file", "--home", "--db", "--as"})


@contextlib.contextmanager
def _only_the_invoked_command(args: list[str]) -> Iterator[None]:
    """The app with only the command `args` names, for the run: Typer turns every registered
    command into a click command on each run (their signatures, type hints and parameter
    types), which costs a one-command run more than the command itself often does. With no
    command named, or one that is not known (click then lists or suggests them all), or help
    asked for the whole CLI, every command stays."""
    name = _command_name(args)
    every = app.registered_commands, app.registered_groups
    commands = [c for c in every[0] if _name_of(c) == name]
    groups = [g for g in every[1] if g.name == name]
    if name is not None and (commands or groups):
        app.registered_commands, app.registered_groups = commands, groups
    try:
        yield
    finally:
        app.registered_commands, app.registered_groups = every


def _name_of(command: typer.models.CommandInfo) -> str | None:
    if command.name:
        return command.name
    callback = command.callback
    return callback.__name__.replace("_", "-") if callback is not None else None


def _command_name(args: list[str]) -> str | None:
    """The first argument that is neither a global option nor its value."""
    value_next = False
    for arg in args:
        if value_next:
            value_next = False
        elif arg in ("--", "-h", "--help"):
            return None
        elif arg.startswith("-"):
            value_next = arg in GLOBAL_VALUE_OPTIONS
        else:
            return arg
    return None


def _checked_args(args: list[str]) -> list[str]:
    """The command line, refused when it is not valid text: bytes that are not UTF-8 reach
    Python as lone surrogates, which can be neither stored nor posted."""
    from qasession.errors import UsageError

    for number, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(
                f"argument {number} is not valid UTF-8 text",
                hint="check the terminal's or the script's encoding",
            ) from None
    return _global_flags_first(args)


def _global_flags_first(args: list[str]) -> list[str]:
    """`--rehearsal` and `--db URL` work anywhere on the command line, like `--home` and
    `--file`: they are moved before the command's name, where the global options read them."""
    end = args.index("--") if "--" in args else len(args)
    first: list[str] = []
    rest: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
        elif i >= end:
            rest.append(arg)
        elif arg == "--rehearsal" or arg.startswith("--db="):
            first.append(arg)
        elif arg == "--db" and i + 1 < end:
            first += [arg, args[i + 1]]
            skip = True
        else:
            rest.append(arg)
    return [*first, *rest]


def _error(message: str) -> None:
    from qasession.text.safe import inert

    sys.stderr.write(f"qa: error: {inert(message, single_line=True)}\n")
    sys.stderr.flush()
