"""`qa recap`: the recap in the terminal, as files (md, html, json, csv, jsonl), drafts, series."""

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

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
    session_wanted,
)

if TYPE_CHECKING:
    from qasession.cli.common import Context
    from qasession.plan import Plan, Session
    from qasession.recap import Recap
    from qasession.recap.masking import Masker

FORMATS = ("md", "html", "json", "csv", "jsonl", "png")


def register(app: typer.Typer) -> None:
    app.command("recap")(recap)


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """The file to write (`-` or none: stdout); a file is replaced only once fully written."""
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            yield handle
        partial.replace(target)
    except OSError as exc:
        from qasession.errors import UsageError

        partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    say(f"wrote {path}")


def _confirm(question: str) -> bool:
    """Ask on the terminal; no answer (end of input) means no."""
    try:
        return typer.confirm(question, default=False)
    except (typer.Abort, EOFError):
        return False


def recap(
    ctx: typer.Context,
    session_id: SessionArg = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Write the recap as md | html | json | csv | jsonl (twarc2) | png (the "
            "charts, into the folder -o names).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Where to write it (`-`: stdout, the default)."),
    ] = None,
    json: JsonOpt = False,
    from_archive: Annotated[
        Path | None,
        typer.Option(
            "--from-archive",
            help="Recap a twarc2 JSONL archive instead of the stored session.",
            show_default=False,
        ),
    ] = None,
    hashtag: Annotated[
        str | None, typer.Option(help="The archive's hashtag, e.g. '#AskAcme'.")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(help="The host's handle in the archive (whose posts are answers)."),
    ] = None,
    series: Annotated[
        bool, typer.Option("--series", help="Compare the sessions of the series (`next` links).")
    ] = False,
    post_drafts: Annotated[
        bool,
        typer.Option("--post-drafts", help="Post the thank-you, follow-up and teaser drafts."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Post without asking.")] = False,
    include_private: Annotated[
        bool,
        typer.Option(
            "--include-private",
            help="Keep the private data (phone numbers, e-mail addresses...) in a csv or "
            "jsonl export; every other output masks it.",
        ),
    ] = False,
    charts: Annotated[
        Path | None,
        typer.Option(
            "--charts",
            help="Also write the charts as PNG files into this folder (for slides, posts).",
            show_default=False,
        ),
    ] = None,
    cards: Annotated[
        Path | None,
        typer.Option(
            "--cards",
            help="Also write a quote card (PNG, for X, Mastodon and Bluesky) per answered "
            "question into this folder.",
            show_default=False,
        ),
    ] = None,
    wide: Annotated[
        bool,
        typer.Option("--wide", help="Show the posts' texts whole in the terminal tables."),
    ] = False,
    actor: ActorOpt = None,
    analysis: Annotated[
        bool,
        typer.Option(
            "--analysis/--no-analysis",
            help="With --from-archive: the questions' languages and key phrases (--no-analysis "
            "skips them, about 2 s less on a million posts).",
        ),
    ] = True,
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """The recap: who took part, answers, open questions, activity; files and drafts."""
    format = _check(format, json, series, from_archive, post_drafts, include_private)
    if not analysis and from_archive is None:
        from qasession.errors import UsageError

        raise UsageError("--no-analysis is for --from-archive", hint="drop --no-analysis")
    if from_archive is not None:
        plan, session = _plan_session(ctx, file, home, session_id, hashtag)
        source = _Archive(from_archive, hashtag, host, plan, session, analysis)
        _archive(source, format, output, include_private=include_private, wide=wide, charts=charts)
        return
    c = load(ctx, file, home, session_id, writes=post_drafts, actor=actor)
    if series:
        _series(c, format, output)
        return
    from qasession.recap import build_recap

    if c.store.session_row(c.session.id) is None:
        say(f"note: nothing is stored for session {c.session.id} yet (see `qa run`)")
    result = build_recap(c.store, c.session, plan=c.plan)
    if cards is not None:
        _cards(result, cards)
    if charts is not None or format == "png":
        _charts(result, charts, format, output)
        if format == "png":
            return
    if post_drafts:
        _post_drafts(c, result, yes)
    elif format in ("csv", "jsonl"):
        _export(c, result, format, output, include_private=include_private)
    else:
        _write(result, format, output, wide=wide)


def _charts(result: "Recap", folder: Path | None, format: str | None, output: str | None) -> None:
    """The charts as PNG files: into `--charts DIR`, or `-o DIR` with `--format png`."""
    from qasession.errors import UsageError
    from qasession.recap.charts import write_pngs

    if format == "png":
        if output in (None, "-"):
            raise UsageError("--format png writes files", hint="add -o FOLDER")
        folder = Path(str(output))
    assert folder is not None
    try:
        written = write_pngs(result, folder)
    except OSError as exc:
        raise UsageError(f"cannot write the charts into {folder}: {exc.strerror or exc}") from None
    for path in written:
        say(f"wrote {path}")
    if not written:
        say("no chart yet: nothing to draw before the session has posts")


def _cards(result: "Recap", folder: Path) -> None:
    from qasession.errors import UsageError
    from qasession.recap.cards import write_cards

    try:
        written = write_cards(result, folder)
    except OSError as exc:
        raise UsageError(f"cannot write the cards into {folder}: {exc.strerror or exc}") from None
    say(
        f"wrote {len(written)} quote card(s) into {folder}"
        if written
        else "no card: no public answer"
    )


def _check(
    format: str | None,
    json: bool,
    series: bool,
    from_archive: Path | None,
    post_drafts: bool,
    include_private: bool,
) -> str | None:
    """The format asked for, once the options are known to agree."""
    from qasession.errors import UsageError

    if json:
        if format not in (None, "json"):
            raise UsageError("--json and --format disagree", hint="use one of them")
        format = "json"
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown format {format!r}", hint=f"use one of {', '.join(FORMATS)}")
    if series and (from_archive is not None or post_drafts):
        raise UsageError("--series compares stored sessions", hint="drop --from-archive")
    if from_archive is not None and post_drafts:
        raise UsageError(
            "drafts are posted for a stored session", hint="drop --from-archive to post them"
        )
    if include_private and (format not in ("csv", "jsonl") or post_drafts or series):
        raise UsageError(
            "--include-private keeps private data in the csv and jsonl exports only",
            hint="add --format csv (or jsonl), or drop --include-private",
        )
    return format


def _privacy_note(masker: "Masker | None") -> None:
    """One line on stderr: the export keeps the private data, or what it masked."""
    if masker is None:
        say(
            "note: this export keeps private data (--include-private): "
            "share it with the analytics team only"
        )
        return
    if masker.masked:
        from qasession.recap.masking import notice

        say(f"note: {notice(masker.masked, 'this export')} (--include-private keeps it)")


def _export(
    c: "Context", result: "Recap", format: str, output: str | None, *, include_private: bool
) -> None:
    """The csv or jsonl export of the stored session, masked unless `include_private`."""
    from qasession.recap import export_rows
    from qasession.recap import render as recap_render
    from qasession.recap.masking import MaskedRows, Masker, patterns_of

    masker = None if include_private else Masker(patterns_of(c.session))
    rows: Iterable[Mapping[str, Any]] = export_rows(c.store, c.session)
    if masker is not None:
        rows = MaskedRows(rows, masker)
    with _output(output) as handle:
        if format == "csv":
            recap_render.to_csv(rows, handle)
        else:
            recap_render.to_jsonl(rows, result, handle)
    _privacy_note(masker)


def _write(result: "Recap", format: str | None, output: str | None, *, wide: bool = False) -> None:
    from qasession.recap import render as recap_render

    if format is None:
        if output not in (None, "-"):
            from qasession.errors import UsageError

            raise UsageError("-o needs a --format", hint="e.g. --format html -o recap.html")
        from qasession.cli.recap_terminal import show
        from qasession.cli.render import stdout_console

        show(result, stdout_console(), wide=wide)
        from qasession.recap.team import lines

        for line in lines(result.team):  # the team's credits (the team's own names)
            stdout_console().print(line, markup=False, highlight=False)
        if result.by_platform:
            from qasession.cli.render import platform_breakdown

            platform_breakdown(result.by_platform)
        return
    render: Callable[[Recap], str]
    if format == "md":
        render = recap_render.to_markdown
    elif format == "html":
        render = recap_render.to_html
    else:
        import json as json_module

        def render(r: "Recap") -> str:
            return json_module.dumps(r.to_json(), ensure_ascii=True, indent=2) + "\n"

    text = render(result)
    with _output(output) as handle:
        handle.write(text)


@dataclass(frozen=True)
class _Archive:
    """A twarc2 archive to recap, and what the plan (optional) says about it."""

    path: Path
    hashtag: str | None
    host: str | None
    plan: "Plan | None"
    session: "Session | None"
    analysis: bool = True  # the questions' languages and key phrases


def _archive(
    source: _Archive,
    format: str | None,
    output: str | None,
    *,
    include_private: bool,
    wide: bool = False,
    charts: Path | None = None,
) -> None:
    """A recap of a twarc2 archive: the plan is optional (it names the window, the host and
    the sensitive patterns when one of its sessions matches the session id or the hashtag)."""
    from qasession.errors import UsageError
    from qasession.recap import next_session
    from qasession.recap.archive import archive_to_csv, recap_from_archive

    plan, session = source.plan, source.session
    nxt = next_session(plan, session) if plan is not None and session is not None else None
    if format == "jsonl":
        raise UsageError(
            "the archive already is twarc2 JSONL", hint="use --format json, md, html or csv"
        )
    if format == "csv":
        from qasession.recap.archive_csv import CsvExport
        from qasession.recap.masking import Masker, patterns_of

        masker = None if include_private else Masker(patterns_of(session))
        with _output(output) as handle:
            export = CsvExport(handle, masker)
            archive_to_csv(source.path, source.hashtag, session, export, host=source.host)
        _privacy_note(masker)
        return
    result = recap_from_archive(
        source.path,
        source.hashtag,
        session,
        host=source.host,
        next_session=nxt,
        analyse=source.analysis,
    )
    if not result.meta.host:
        say("note: no host known (--host): the host's answers cannot be told apart")
    if charts is not None or format == "png":
        _charts(result, charts, format, output)
        if format == "png":
            return
    _write(result, format, output, wide=wide)


def _plan_session(
    ctx: typer.Context,
    file: Path | None,
    home: Path | None,
    session_id: str | None,
    hashtag: str | None,
) -> "tuple[Plan | None, Session | None]":
    plan_file, _ = resolve(ctx, file, home)
    session_id = session_wanted(session_id)
    if not plan_file.exists():
        if session_id is not None:
            from qasession.errors import UsageError

            raise UsageError(
                f"no plan file {plan_file} to find session {session_id!r} in",
                hint="drop the session id, or pass -f",
            )
        return None, None
    from qasession.plan import load_plan

    plan = load_plan(plan_file)
    if session_id is not None:
        return plan, plan.get(session_id)
    if hashtag:
        for session in plan.sessions:
            if session.hashtag.lower() == hashtag.lower():
                return plan, session
    return plan, None


def _series(c: "Context", format: str | None, output: str | None) -> None:
    from qasession.errors import UsageError
    from qasession.recap import build_series

    found = build_series(c.store, c.plan, c.session)
    if format == "json":
        import json as json_module

        with _output(output) as handle:
            handle.write(json_module.dumps(found.to_json(), ensure_ascii=True, indent=2) + "\n")
        return
    if format is not None:
        raise UsageError("--series prints a table or JSON", hint="use --json")
    from qasession.cli.recap_terminal import show_series
    from qasession.cli.render import stdout_console

    show_series(found, stdout_console())


def _post_drafts(c: "Context", result: "Recap", yes: bool) -> None:
    """Show the drafts, ask, then post each exactly once (a second run posts nothing)."""
    from qasession.cli.recap_terminal import show_drafts
    from qasession.cli.render import stdout_console
    from qasession.recap import drafts_to_post, post_drafts, public_drafts
    from qasession.session.team import require

    require(c.session, c.actor, "post")  # before connecting: a moderator is told at once
    platform = c.platform()
    try:
        drafts, notes = public_drafts(
            result, c.session, max_length=platform.max_length, length=platform.length
        )
        for note in notes:
            say(note)
        if not drafts:
            say("no drafts: nothing to thank for, follow up on or tease")
            return
        done, todo = drafts_to_post(c.store, drafts)
        show_drafts(drafts, stdout_console())
        for draft in done:
            say(f"{draft.key}: already posted")
        if not todo:
            say("every draft is already posted")
            return
        if not yes and not _confirm(f"Post {len(todo)} draft(s) now?"):
            say("nothing posted (answer y, or add --yes to post without asking)")
            return
        posted = post_drafts(c.store, platform, c.session, todo, actor=c.actor)
        for key in posted:
            say(f"{key}: posted")
        left = [d.key for d in todo if d.key not in posted]
        if left:
            from qasession.errors import PlatformError

            raise PlatformError(
                f"{len(left)} draft(s) not posted yet: {', '.join(left)}",
                hint="run `qa recap --post-drafts` again",
            )
    finally:
        platform.close()
