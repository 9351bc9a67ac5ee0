"""`qa note TEXT`: the host jots a note from any shell, stamped with the session clock."""

from typing import Annotated

import typer

from qasession.cli.common import ActorOpt, HomeOpt, PlanFileOpt, load, say

SessionOpt = Annotated[
    str | None,
    typer.Option(
        "--session",
        "-s",
        help="Session id (env QA_SESSION; default: the only or the next session).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("note")(note)


def note(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The note, e.g. 'great question on pricing'.")],
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Jot a note for the recap, stamped with the session clock (never posted)."""
    from qasession.recap import iso, session_info
    from qasession.recap.enrich import clock_of
    from qasession.session.notes import add_note

    c = load(ctx, file, home, session_id, actor=actor)
    stored = add_note(c.store, c.session, text, actor=c.actor)
    start = iso(session_info(c.session, c.store.session_row(c.session.id)).start)
    say(f"note kept at {clock_of(stored['at'], start)} (session clock); `qa recap` shows it")
