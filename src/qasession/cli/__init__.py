"""The `qa` command: thin Typer commands over the core; errors rendered once, here.

The command modules do without `from __future__ import annotations`: Typer would evaluate every
string annotation when it builds the app, which doubles the build time of `qa --help`.
Heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
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

    try:
        app(args=_checked_args(sys.argv[1:]), standalone_mode=False, prog_name="qa")
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
