"""Team mode from any seat: `qa claim`, `qa drafts`, `qa approve`, `qa reject`, `qa log`."""

from typing import Annotated

import typer

from qasession.cli.answer import QuestionArg, SessionOpt
from qasession.cli.common import ActorOpt, HomeOpt, JsonOpt, PlanFileOpt, load, out, say

DraftArg = Annotated[
    int, typer.Argument(help="The draft's number (the first column of `qa drafts`).")
]


def register(app: typer.Typer) -> None:
    app.command("claim")(claim)
    app.command("drafts")(drafts)
    app.command("approve")(approve)
    app.command("reject")(reject)
    app.command("log")(log)


def claim(
    ctx: typer.Context,
    question_id: QuestionArg,
    release: Annotated[bool, typer.Option("--release", help="Give up your claim.")] = False,
    take_over: Annotated[
        bool, typer.Option("--take-over", help="Take over someone else's live claim.")
    ] = False,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Claim a question while you draft its answer: the other seats see who holds it; the
    claim lapses after a few idle minutes (claim again to keep it)."""
    from qasession.session.control import Control

    c = load(ctx, file, home, session_id, actor=actor)
    control = Control(c.session, c.store, actor=c.actor)
    if release:
        done = control.release(question_id)
        say(f"question {question_id}: " + ("claim released" if done else "you held no claim"))
        return
    result = control.claim(question_id, take_over=take_over)
    if result.took_over is not None:
        say(f"note: took the claim over from {result.took_over.actor}")
    say(f"question {question_id} claimed by {c.actor}")


def drafts(
    ctx: typer.Context,
    every: Annotated[
        bool, typer.Option("--all", help="Also the approved and rejected ones.")
    ] = False,
    json: JsonOpt = False,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """The drafts waiting for approval, each with the exact posts it will make."""
    from qasession.cli import render
    from qasession.session.control import Control

    c = load(ctx, file, home, session_id, actor=actor, writes=False)
    found = Control(c.session, c.store, actor=c.actor).drafts(() if every else ("pending",))
    if json:
        render.stream_json(d.to_json() for d in found)
        return
    render.drafts([d.to_json() for d in found])


def approve(
    ctx: typer.Context,
    draft_id: DraftArg,
    text: Annotated[
        str | None,
        typer.Option("--text", help="Approve it with this text instead (your edit)."),
    ] = None,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Approve a draft (optionally with an edited --text): it enters the outbox and goes out."""
    from qasession.cli.answer import send_late
    from qasession.session import late
    from qasession.session.control import Control

    c = load(ctx, file, home, session_id, actor=actor)
    draft, steps = Control(c.session, c.store, actor=c.actor).approve(draft_id, text)
    what = f"question {draft.number}" if draft.number is not None else draft.key
    out(str(draft.id))
    edited = " (edited)" if text is not None else ""
    say(f"draft {draft.id} for {what} approved{edited}")
    over = steps and draft.number is not None and late.is_over(c.session, c.store)
    if over and send_late(c, [step.key for step in steps], int(draft.number or 0)):
        return  # after the session, with no run active: posted now
    say("`qa run` posts it (now if it is running)")


def reject(
    ctx: typer.Context,
    draft_id: DraftArg,
    why: Annotated[str, typer.Option("--why", help="Why (its author sees it).")] = "",
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Reject a draft with a reason; its question goes back to the queue."""
    from qasession.session.control import Control

    c = load(ctx, file, home, session_id, actor=actor)
    draft = Control(c.session, c.store, actor=c.actor).reject(draft_id, why)
    back = f"; question {draft.number} is back in the queue" if draft.number is not None else ""
    say(f"draft {draft.id} rejected{back}")


def log(
    ctx: typer.Context,
    json: JsonOpt = False,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """The audit log: every action on the session, with who did it, their role, and when."""
    from qasession.cli import render
    from qasession.session.team import require

    c = load(ctx, file, home, session_id, actor=actor, writes=False)
    require(c.session, c.actor, "view")
    entries = c.store.audit_log(c.session.id)
    if json:
        render.stream_json(entries)
        return
    render.audit_log(entries, c.session.tz)
