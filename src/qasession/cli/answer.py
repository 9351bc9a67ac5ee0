"""Triage from any shell: `qa queue`, `qa answer`, `qa skip`, `qa pin`, `qa block`.

An answer is a command in the store: the running `qa run` posts it on its next tick (or the
next `qa run` does, if none is running). Once the session is over and no run is active,
`qa answer` sends it itself, exactly once (`qasession.session.late`). Skip, pin and block
only change state: they apply at once.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qasession.cli.common import (
    ActorOpt,
    HomeOpt,
    JsonOpt,
    PlanFileOpt,
    SessionArg,
    load,
    out,
    say,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from qasession.cli.common import Context
    from qasession.session.control import Control
    from qasession.session.late import Posted

SessionOpt = Annotated[
    str | None,
    typer.Option(
        "--session",
        "-s",
        help="Session id (env QA_SESSION; default: the only or the next session).",
    ),
]
QUEUE_PAGE = 20  # what `qa queue` lists on the terminal without --limit
QuestionArg = Annotated[
    str, typer.Argument(help="The question's number (the first column of `qa queue`).")
]


def register(app: typer.Typer) -> None:
    app.command("queue")(queue)
    app.command("answer")(answer)
    app.command("skip")(skip)
    app.command("unskip")(unskip)
    app.command("pin")(pin)
    app.command("block")(block)


def queue(
    ctx: typer.Context,
    session_id: SessionArg = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help=f"Show the top N (default: {QUEUE_PAGE} on the terminal, all with --json)."
        ),
    ] = None,
    json: JsonOpt = False,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """The ranked queue of questions, with flags (sensitive, troll, duplicate, ahead)."""
    from datetime import UTC, datetime

    from qasession.cli import render
    from qasession.session import queue as ranked

    c = load(ctx, file, home, session_id, writes=False)
    now = datetime.now(UTC)
    if json and limit is None:  # the whole queue, streamed: any size in flat memory
        render.stream_json(ranked.iter_queue_rows(c.session, c.store, now))
        return
    page = QUEUE_PAGE if limit is None else limit
    rows = ranked.queue_rows(c.session, c.store, now, limit=page)
    if json:
        render.stream_json(rows)
        return
    more = ranked.count_queued(c.session, c.store) - len(rows)
    render.queue(rows, more=more, platforms=c.session.multi)


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
    follow_up: Annotated[
        bool,
        typer.Option("--follow-up", help="Post a second answer to an answered question."),
    ] = False,
    post_private_data: Annotated[
        bool,
        typer.Option(
            "--post-private-data",
            help="Post the answer even though its own text looks like private data.",
        ),
    ] = False,
    public_without_repost: Annotated[
        bool,
        typer.Option(
            "--answer-publicly-without-repost",
            help="Answer a question that carries private data in public, with a stand-alone "
            "post that never reposts or quotes it.",
        ),
    ] = False,
    take_over: Annotated[
        bool,
        typer.Option("--take-over", help="Answer a question someone else has claimed."),
    ] = False,
    everywhere: Annotated[
        bool,
        typer.Option(
            "--everywhere",
            help="A session on several platforms: also post the answer as a community answer "
            "on the platforms where the question was not asked.",
        ),
    ] = False,
    preview: Annotated[
        bool,
        typer.Option("--preview", help="Show every post it would make, on every platform."),
    ] = False,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Answer a queued question: repost it, then post the answer (see --mode); after the
    session, with no run active, it is posted at once."""
    from qasession.session.control import AnswerRequest, Control

    c = load(ctx, file, home, session_id, actor=actor)
    request = AnswerRequest(
        text,
        mode,
        thread,
        follow_up=follow_up,
        post_private_data=post_private_data,
        public_without_repost=public_without_repost,
        everywhere=everywhere,
    )
    control = Control(c.session, c.store, actor=c.actor)
    if preview:
        from qasession.cli import render

        shown = control.preview(control.question(question_id), request)
        render.answer_preview(shown.steps, shown.notes)
        return
    from qasession.session import late

    over = late.is_over(c.session, c.store)
    if over and not follow_up and _resume_late(c, control, control.question(question_id).number):
        return
    accepted = control.answer(question_id, request, take_over=take_over)
    for note in accepted.notes:
        say(f"note: {note}")
    if accepted.took_over:
        say(f"note: took question {accepted.number} over from {accepted.took_over}")
    out(str(accepted.number))
    if accepted.draft_id is not None:
        say(
            f"draft {accepted.draft_id} for question {accepted.number} waits for approval "
            f"(`qa approve {accepted.draft_id}`; see `qa drafts`)"
        )
        return
    if over and send_late(c, [step.key for step in accepted.steps], accepted.number):
        return
    say(f"answer to question {accepted.number} accepted; `qa run` posts it (now if it is running)")


def send_late(c: "Context", keys: list[str], number: int) -> bool:
    """After the session's end, with no run active: send the answer now (False: a run is
    active and posts it)."""
    posted = _sender(c)(keys)
    if posted is None:
        return False
    _say_sent(c, posted, number)
    return True


def _resume_late(c: "Context", control: "Control", number: int) -> bool:
    """Finish an earlier answer that did not all go out, instead of accepting this one."""
    from qasession.session import late

    resumed = late.resume(control, number, _sender(c))
    if resumed is None:
        return False
    _say_sent(c, resumed.posted, number)
    out(str(number))
    say(
        f"note: question {number} had an answer accepted at {resumed.accepted_at[:19]} UTC "
        "that had not all gone out: it is sent now, and this text was not used (add "
        "--follow-up to post another answer)"
    )
    return True


def _sender(c: "Context") -> "Callable[[list[str]], Posted | None]":
    """Sends outbox keys now through the session's own adapters (None: a run is active)."""
    from qasession.session import late

    def send(keys: list[str]) -> "Posted | None":
        return late.send_answer(c.session, c.store, keys, c.home, str(c.plan.path), actor=c.actor)

    return send


def _say_sent(c: "Context", posted: "Posted", number: int) -> None:
    """Each step sent after the session, then the error for any that did not go out."""
    from qasession.session import late

    for item in posted.sent:
        where = f" on {item.platform}" if c.session.multi else ""
        say(f"question {number}: {item.kind} posted{where} after the session ({item.platform_id})")
    late.check_sent(posted, number)


def _apply(
    ctx: typer.Context,
    kind: str,
    target: str,
    file: Path | None,
    home: Path | None,
    session_id: str | None,
    platform: str = "",
    actor: str | None = None,
) -> None:
    """Skip, pin and block change state only (nothing is posted), so they apply at once; a
    running `qa run` sees them on its next tick."""
    from qasession.session.control import Control

    c = load(ctx, file, home, session_id, actor=actor)
    control = Control(c.session, c.store, actor=c.actor)
    if kind in ("block", "mute"):
        action = "blocked" if kind == "block" else "muted"
        hidden = control.moderate(target, action, platform)
        where = f" on {platform}" if platform else ""
        say(f"{target} {action}{where} in {c.session.id}; {hidden} queued question(s) hidden")
        return
    if kind == "skip":
        done = control.skip(target)
    elif kind == "unskip":
        done = control.unskip(target)
    else:
        done = control.pin(target, kind == "pin")
    say(f"question {done.number}: {kind} done")


def skip(
    ctx: typer.Context,
    question_id: QuestionArg,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Take a question off the queue without answering it (`qa unskip` brings it back)."""
    _apply(ctx, "skip", question_id, file, home, session_id, actor=actor)


def unskip(
    ctx: typer.Context,
    question_id: QuestionArg,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Put a skipped question back in the queue."""
    _apply(ctx, "unskip", question_id, file, home, session_id, actor=actor)


def pin(
    ctx: typer.Context,
    question_id: QuestionArg,
    unpin: Annotated[bool, typer.Option("--unpin", help="Remove the pin.")] = False,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Pin a question to the top of the queue (or --unpin it)."""
    kind = "unpin" if unpin else "pin"
    _apply(ctx, kind, question_id, file, home, session_id, actor=actor)


def block(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="The handle to block, e.g. @troll.")],
    mute: Annotated[bool, typer.Option("--mute", help="Mute instead of block.")] = False,
    platform: Annotated[
        str,
        typer.Option(help="Only on this platform of the session (default: on all of them)."),
    ] = "",
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Block (or --mute) an author: their posts leave the queue and new ones are hidden."""
    handle = handle if handle.startswith("@") else "@" + handle
    kind = "mute" if mute else "block"
    _apply(ctx, kind, handle, file, home, session_id, platform, actor=actor)
