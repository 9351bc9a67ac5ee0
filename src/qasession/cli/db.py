"""`qa db`: the state database itself (copying a home's SQLite store to a team's server)."""

from typing import Annotated

import typer

from qasession.cli.common import HomeOpt, real_home, say

db_app = typer.Typer(
    help="The state database: copy a home's SQLite store to a team's PostgreSQL database.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("copy")
def copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The PostgreSQL database, postgresql://USER@HOST:PORT/NAME.", metavar="URL"
        ),
    ],
    home: HomeOpt = None,
) -> None:
    """Copy this home's SQLite store (every session) into a PostgreSQL database that holds
    none yet; then give every seat that database with --db or QA_DATABASE_URL."""
    from qasession.store.copy import copy_store
    from qasession.store.engine import DB_NAME, check_url, redact

    url = check_url(to)
    if url is None:
        from qasession.errors import UsageError

        raise UsageError("--to must be a postgresql:// URL", hint="the home's SQLite is the source")
    counts = copy_store(real_home(ctx, home) / DB_NAME, url)
    rows = ", ".join(f"{n:,} {table}" for table, n in counts.items() if n)
    say(f"copied into {redact(url)}: {rows or 'nothing (an empty store)'}")
