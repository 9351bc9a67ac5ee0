"""`qa outbox`: what is waiting to be sent, and the operator's word on uncertain posts."""

from typing import Annotated

import typer

from qasession.cli.common import ActorOpt, HomeOpt, JsonOpt, PlanFileOpt, load, say

outbox_app = typer.Typer(
    help="The outbox: posts waiting, sent, failed or uncertain; confirm or resend.",
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
)
SessionOpt = Annotated[
    str | None,
    typer.Option(
        "--session",
        "-s",
        help="Session id (env QA_SESSION; default: the only or the next session).",
    ),
]
KeyArg = Annotated[str, typer.Argument(help="The item's key (see `qa outbox`).")]


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")


@outbox_app.callback()
def listing(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option(help="Only this state: intent, sending, sent, failed, uncertain.")
    ] = None,
    json: JsonOpt = False,
    session_id: SessionOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """List the outbox of a session (every post the tool made or will make)."""
    if ctx.invoked_subcommand is not None:
        return
    from qasession.cli import render
    from qasession.errors import UsageError
    from qasession.store.db import OUTBOX_STATES

    if state is not None and state not in OUTBOX_STATES:
        raise UsageError(f"unknown state {state!r}", hint=f"use one of: {', '.join(OUTBOX_STATES)}")

    c = load(ctx, file, home, session_id, writes=False)
    items = c.store.outbox(c.session.id, (state,) if state else None)
    rows = [
        {
            "key": i.key,
            "kind": i.kind,
            "state": i.state,
            "platform_id": i.platform_id,
            "question": i.question_id,
            "text": i.text,
            "error": i.error,
            "sent_at": i.sent_at,
        }
        for i in items
    ]
    if json:
        render.print_json(rows)
    else:
        render.outbox(rows)


@outbox_app.command("confirm")
def confirm(
    ctx: typer.Context,
    key: KeyArg,
    platform_id: Annotated[
        str | None, typer.Option("--id", help="The post's id on the platform, if known.")
    ] = None,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Confirm that an uncertain item was sent (seen on the platform): it is never resent.
    The host's, under the plan's `team:`."""
    from qasession.session.outbox import settle

    c = load(ctx, file, home, session_id, actor=actor)
    settle(c.store, c.session, key, sent=True, platform_id=platform_id, actor=c.actor)
    say(f"{key}: marked sent")


@outbox_app.command("resend")
def resend(
    ctx: typer.Context,
    key: KeyArg,
    session_id: SessionOpt = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Send an uncertain or failed item again (after checking it is not on the platform).
    The host's, under the plan's `team:`."""
    from qasession.session.outbox import settle

    c = load(ctx, file, home, session_id, actor=actor)
    settle(c.store, c.session, key, sent=False, actor=c.actor)
    say(f"{key}: will be sent again by `qa run` (or `qa plan --post` for announcements)")
