"""Triage from any shell: `qa queue`, `qa answer`, `qa skip`, `qa pin`, `qa block`.

An answer is a command in the store: the running `qa run` posts it on its next tick (or the
next `qa run` does, if none is running). Skip, pin and block only change state: they apply at
once.
"""

from pathlib import Path
from typing import Annotated

import typer

from qasession.cli.common import HomeOpt, JsonOpt, PlanFileOpt, SessionArg, load, out, say

SessionOpt = Annotated[
    str | None,
    typer.Option("--session", "-s", help="Session id (default: the only or the next session)."),
]
QuestionArg = Annotated[str, typer.Argument(help="The question's id (see `qa queue`).")]


def register(app: typer.Typer) -> None:
    app.command("queue")(queue)
    app.command("answer")(answer)
    app.command("skip")(skip)
    app.command("pin")(pin)
    app.command("block")(block)


def queue(
    ctx: typer.Context,
    session_id: SessionArg = None,
    limit: Annotated[int | None, typer.Option(help="Show only the top N.")] = None,
    json: JsonOpt = False,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """The ranked queue of questions, with flags (sensitive, troll, duplicate, ahead)."""
    from datetime import UTC, datetime

    from qasession import render
    from qasession.session.loop import queue_rows

    c = load(ctx, file, home, session_id)
    rows = queue_rows(c.session, c.store, datetime.now(UTC), limit=limit)
    if json:
        render.print_json(rows)
    else:
        render.queue(rows)


def answer(
    ctx: typer.Context,
    question_id: QuestionArg,
    text: Annotated[str, typer.Argument(help="The answer (the hashtag is appended).")],
    mode: Annotated[
        str, typer.Option(help="dot (repost, then .@asker post) | reply | quote | dm.")
    ] = "dot",
    thread: Annotated[
        bool, typer.Option("--thread", help="Split a long answer into a numbered thread.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Post even if the answer looks like private data.")
    ] = False,
    session_id: SessionOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Answer a queued question: repost it, then post the answer (see --mode)."""
    from qasession.session.loop import validate_answer

    c = load(ctx, file, home, session_id)
    notes = validate_answer(
        c.session, c.store, c.session.platform, question_id, text, mode, thread=thread, force=force
    )
    for note in notes:
        say(f"note: {note}")
    command = c.store.add_command(
        c.session.id,
        "answer",
        {"question_id": question_id, "text": text, "mode": mode, "thread": thread},
    )
    out(str(command))
    say(f"answer {command} queued; `qa run` posts it (now if it is running)")


def _apply(
    ctx: typer.Context,
    kind: str,
    target: str,
    file: Path | None,
    home: Path | None,
    session_id: str | None,
) -> None:
    """Skip, pin and block change state only (nothing is posted), so they apply at once; a
    running `qa run` sees them on its next tick."""
    from datetime import UTC, datetime

    from qasession.errors import UsageError

    c = load(ctx, file, home, session_id)
    sid = c.session.id
    if kind in ("block", "mute"):
        c.store.ensure_session(sid, c.session.hashtag, c.session.platform)
        c.store.add_moderation(
            sid, target, "blocked" if kind == "block" else "muted", datetime.now(UTC)
        )
        say(f"{target} {'blocked' if kind == 'block' else 'muted'} in {sid}")
        return
    done = (
        c.store.set_status(sid, target, "skipped")
        if kind == "skip"
        else c.store.set_pinned(sid, target, kind == "pin")
    )
    if not done:
        raise UsageError(
            f"no question {target!r} in session {sid}", hint="see `qa queue` for the ids"
        )
    say(f"{target}: {kind} done")


def skip(
    ctx: typer.Context,
    question_id: QuestionArg,
    session_id: SessionOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Take a question off the queue without answering it."""
    _apply(ctx, "skip", question_id, file, home, session_id)


def pin(
    ctx: typer.Context,
    question_id: QuestionArg,
    unpin: Annotated[bool, typer.Option("--unpin", help="Remove the pin.")] = False,
    session_id: SessionOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Pin a question to the top of the queue (or --unpin it)."""
    _apply(ctx, "unpin" if unpin else "pin", question_id, file, home, session_id)


def block(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="The handle to block, e.g. @troll.")],
    mute: Annotated[bool, typer.Option("--mute", help="Mute instead of block.")] = False,
    session_id: SessionOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Block (or --mute) an author: their posts leave the queue and new ones are hidden."""
    handle = handle if handle.startswith("@") else "@" + handle
    _apply(ctx, "mute" if mute else "block", handle, file, home, session_id)
