"""`qa init` and `qa plan`: write a plan, then check it, show its timeline and post what is due."""

from pathlib import Path
from typing import Annotated, Any

import typer

from qasession.cli.common import (
    ActorOpt,
    HomeOpt,
    JsonOpt,
    PlanFileOpt,
    SessionArg,
    load,
    resolve,
    say,
)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("plan")(plan)


def init(
    ctx: typer.Context,
    hashtag: Annotated[str | None, typer.Option(help="The session's hashtag.")] = None,
    start: Annotated[
        str | None, typer.Option(help="Start, e.g. '2026-12-03 18:00' (plan's time zone).")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="local | x | mastodon | bluesky.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Write a commented sessions.yaml to start from (refuses to overwrite without --force)."""
    from qasession.errors import UsageError
    from qasession.plan import render_init

    path, _ = resolve(ctx, file, home)
    if platform is not None:
        from qasession.platforms import registry

        if platform not in registry.available():
            raise UsageError(
                f"the {platform} platform is not available in this version",
                hint=f"use one of: {', '.join(registry.available())}",
            )
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="use --force to overwrite it")
    path.write_text(render_init(hashtag, start, platform), encoding="utf-8")
    say(f"wrote {path}; next: `qa plan` to check it")


def plan(
    ctx: typer.Context,
    session_id: SessionArg = None,
    post: Annotated[
        bool, typer.Option("--post", help="Post what is due and not yet posted.")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Stay up and post each announcement when due.")
    ] = False,
    late: Annotated[
        bool, typer.Option("--late", help="Also post announcements past the grace window.")
    ] = False,
    grace: Annotated[int, typer.Option(help="Grace window in minutes for due items.")] = 30,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat lint warnings as errors.")
    ] = False,
    ics: Annotated[
        Path | None, typer.Option("--ics", help="Write the calendar (.ics) here.")
    ] = None,
    comms: Annotated[
        Path | None, typer.Option("--comms", help="Write the blog and e-mail texts in this folder.")
    ] = None,
    check_tag: Annotated[
        bool,
        typer.Option("--check-tag", help="Ask the platform whether the hashtag is already busy."),
    ] = False,
    json: JsonOpt = False,
    actor: ActorOpt = None,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Validate and lint the plan, print the timeline; post, watch, write calendar and texts."""
    from datetime import timedelta

    from qasession.cli import render
    from qasession.errors import PlanError
    from qasession.session import schedule

    c = load(ctx, file, home, session_id, writes=post or watch, actor=actor)
    grace_window = timedelta(minutes=grace)
    every = session_id is None  # `qa plan` lints the whole file; `qa plan ID` one session
    report = schedule.plan_report(
        c.plan, c.session, c.store, grace=grace_window, every_session=every
    )
    if strict and report.lints:
        first = report.lints[0]
        raise PlanError(
            f"{len(report.lints)} lint warning(s), first: [{first.code}] {first.message}",
            path=first.path,
            line=first.line,
            hint="fix them or run without --strict",
        )
    failed = None
    if post or watch:
        from qasession.session.team import require

        require(c.session, c.actor, "run")  # posting the plan is the host's, like the loop
        runner = schedule.AnnouncementRunner(
            c.session, c.store, c.platforms(), grace=grace_window, late=late, say=say
        )
        runner.run_once()
        if watch:
            runner.watch()
        report = schedule.plan_report(
            c.plan, c.session, c.store, grace=grace_window, every_session=every
        )
        failed = runner.last.failure()
    if check_tag:
        _check_tag(report, schedule.hashtag_activities(c.session, c.platforms(), report.now))
    if ics is not None:
        from qasession.plan.comms import write_ics

        write_ics(c.session, ics)
        say(f"wrote {ics}")
    if comms is not None:
        from qasession.plan.comms import write_comms

        for written in write_comms(c.session, comms):
            say(f"wrote {written}")
    if json:
        render.print_json(report.to_json())
    else:
        render.plan_report(report)
        for lint in report.lints:
            say(str(lint))
    if failed is not None:  # a platform of several failed: the others posted, say it at the end
        raise failed


def _check_tag(report: Any, activities: list[dict[str, Any]]) -> None:
    """Say on stderr whether each platform's hashtag is busy; keep it for --json."""
    report.tag_activity = activities[0]
    report.tag_activities = activities if len(activities) > 1 else None
    for activity in activities:
        where = f" on {activity['platform']}" if len(activities) > 1 else ""
        tag = activity["hashtag"]
        if activity.get("error"):
            say(f"warning: could not check {tag}{where}: {activity['error']}")
        elif activity["recent_posts"]:
            say(
                f"warning: {tag} is already in use{where}: {activity['recent_posts']}"
                f"{'+' if activity['more'] else ''} recent post(s) by {activity['authors']} "
                "author(s); consider another hashtag"
            )
        else:
            say(f"{tag} is free{where}: no recent post carries it")
