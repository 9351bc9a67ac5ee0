"""`qa run`: the live session, in the terminal UI or headless (one JSON event per line)."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from qasession.cli.common import (
    ActorOpt,
    HomeOpt,
    PlanFileOpt,
    SessionArg,
    load,
    rehearsing,
    say,
)


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    ctx: typer.Context,
    session_id: SessionArg = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="No UI: print one JSON event per line.")
    ] = False,
    simulate: Annotated[
        Path | None,
        typer.Option("--simulate", help="Replay a crowd (YAML script or twarc2 JSONL)."),
    ] = None,
    speed: Annotated[float, typer.Option(help="Run the session clock N times faster.")] = 1.0,
    start_now: Annotated[
        bool, typer.Option("--start-now", help="Shift the session to start now (rehearsal).")
    ] = False,
    poll_floor: Annotated[
        float, typer.Option(help="Never poll more often than this (session seconds).")
    ] = 5.0,
    tail: Annotated[int, typer.Option(help="Minutes to keep reading after the end.")] = 10,
    seed: Annotated[int | None, typer.Option(help="Seed for retry jitter (tests).")] = None,
    standby: Annotated[
        bool,
        typer.Option(
            "--standby",
            help="Wait while another run holds the session; take over when it dies.",
        ),
    ] = False,
    seat: Annotated[
        str | None,
        typer.Option(
            "--seat",
            help="Join a team's session from another seat (moderator, approver, host): the "
            "terminal UI without the live loop, which runs elsewhere.",
            metavar="ROLE",
        ),
    ] = None,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """The live session: opening, polling, ranked queue, answers, time cues, closing."""
    from datetime import timedelta

    from qasession.errors import UsageError
    from qasession.session.loop import LiveSettings, Runner

    if speed <= 0:
        raise UsageError("--speed must be positive")
    if seat is not None:
        _seat(ctx, seat, session_id, actor, file, home)
        return
    rehearsal = simulate is not None or start_now or speed != 1.0 or rehearsing(ctx)
    c = load(ctx, file, home, session_id, rehearsal=rehearsal, actor=actor)
    if not rehearsal:  # a rehearsal is anyone's; the real loop is the host's
        from qasession.session.team import require

        require(c.session, c.actor, "run")
    runner = Runner(c.plan, c.session, c.home)
    runner.actor = c.actor
    if rehearsal:
        from qasession.session.ingest import warm_up
        from qasession.session.rehearsal import prepare

        say(
            f"rehearsal of {c.session.id}: its state is kept apart in {c.home} (the real "
            "session is untouched); add --rehearsal to qa queue, answer, recap... to work on it"
        )
        warm_up()  # before the virtual clock starts
        runner.rehearsal = prepare(
            c.session, c.store, c.home, crowd_file=simulate, speed=speed, start_now=start_now
        )
        for warning in runner.rehearsal.warnings:
            say(f"warning: {warning}")
    runner.settings = LiveSettings(poll_floor=poll_floor, tail=timedelta(minutes=tail), seed=seed)
    runner.check()
    dead = runner.hold(c.store, c.actor, standby=say if standby else None)
    if dead is not None:
        say(f"took the session over from a run that stopped (pid {dead['pid']} on {dead['host']})")
    try:
        if not headless and not sys.stdout.isatty():
            say("stdout is not a terminal: running headless (one JSON event per line)")
            headless = True
        if headless:
            from qasession.headless import run_headless

            run_headless(runner)
        else:
            from qasession.tui.app import run_tui

            run_tui(runner)
    finally:
        runner.let_go(c.store)


def _seat(
    ctx: typer.Context,
    seat: str,
    session_id: str | None,
    actor: str | None,
    file: Path | None,
    home: Path | None,
) -> None:
    """`qa run --seat ROLE`: the terminal UI on the shared session, without the loop."""
    from qasession.errors import UsageError
    from qasession.plan.models import ROLES
    from qasession.session.loop import Runner
    from qasession.session.team import NotAllowed, require, roles_of

    if seat not in ROLES:
        raise UsageError(f"--seat {seat!r} is not a role", hint=f"use one of: {', '.join(ROLES)}")
    c = load(ctx, file, home, session_id, actor=actor)
    require(c.session, c.actor, "view")
    if c.session.team and seat not in roles_of(c.session, c.actor):
        raise NotAllowed(
            f"{c.actor} is not a {seat} of session {c.session.id}",
            hint=f"their roles: {', '.join(roles_of(c.session, c.actor))}",
        )
    if not sys.stdout.isatty():
        raise UsageError("--seat needs a terminal", hint="use qa queue, qa answer, qa drafts...")
    runner = Runner(c.plan, c.session, c.home)
    runner.actor = c.actor
    from qasession.tui.app import run_tui

    run_tui(runner, seat=seat)
