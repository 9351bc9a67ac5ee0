"""The Rich side of the CLI: tables, JSON emitters and safe text for everything it prints."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from qasession.text.safe import for_terminal, inert

if TYPE_CHECKING:
    from qasession.session.schedule import PlanReport


def stdout_console() -> Console:
    width = int(os.environ["QA_WIDTH"]) if os.environ.get("QA_WIDTH") else None
    return Console(file=sys.stdout, highlight=False, width=width, emoji=False)


def inert_data(data: Any) -> Any:
    """`data` with every string made inert (no terminal escapes, controls, bidi or zero-width
    characters): a script reading a listing (`jq -r .[].text`) gets nothing a post smuggled."""
    if isinstance(data, str):
        return inert(data)
    if isinstance(data, dict):
        return {inert_data(k): inert_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [inert_data(v) for v in data]
    return data


_COMPACT = (",", ":")


def _plain(data: Any) -> bool:
    """Whether `data` holds only what both encoders write alike: strings, ints, booleans,
    None, finite floats, and lists and string-keyed dicts of those (msgspec writes an
    infinity as null, json as Infinity; a date as ISO 8601, `default=str` with a space).
    A loop, not all(): it runs for every row of a listing."""
    kind = type(data)
    if kind is dict:
        for key, value in data.items():
            if type(key) is not str or not _plain_value(value):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain_value(value) for value in data)
    return _plain_value(data)


def _plain_value(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    return (kind is dict or kind is list or kind is tuple) and _plain(value)


@functools.cache
def _msgspec() -> tuple[Callable[[Any], bytes], tuple[type[Exception], ...]]:
    """msgspec's JSON encoder and what it raises on a value it cannot write (imported by the
    listings that stream only, not by every command)."""
    import msgspec

    return msgspec.json.Encoder().encode, (TypeError, OverflowError, msgspec.EncodeError)


def inert_json(data: Any) -> str:
    """`json.dumps(inert_data(data))` on one line, compact, ASCII only. ASCII-only JSON
    escapes every character that is not printable ASCII (and only those, besides `"` and
    `\\`): a row whose UTF-8 JSON (msgspec: a tenth of json's time) is ASCII without a
    backslash held no string that `inert` would change, so most rows of a listing are
    dumped once, without walking them."""
    if _plain(data):
        encode, refused = _msgspec()
        try:
            fast = encode(data)
        except refused:
            pass  # an int past 64 bits...: as json writes it
        else:
            if fast.isascii() and b"\\" not in fast:
                return fast.decode("ascii")
    return json.dumps(inert_data(data), ensure_ascii=True, separators=_COMPACT, default=str)


def print_json(data: Any) -> None:
    text = json.dumps(inert_data(data), ensure_ascii=True, indent=2, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def stream_json(rows: Iterable[Any]) -> None:
    """A JSON array written as `rows` yields them, one element to a line: a listing of any
    size in flat memory, its first rows out at once (and each line one row for a reader
    that splits them)."""
    write = sys.stdout.write
    first = True
    for row in rows:
        write(("[\n" if first else ",\n") + inert_json(row))
        first = False
    write("[]\n" if first else "\n]\n")
    sys.stdout.flush()


def print_jsonl(rows: Iterable[Any]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps(inert_data(row), ensure_ascii=True, default=str) + "\n")
    sys.stdout.flush()


def safe(text: str | None, limit: int | None = None) -> str:
    return for_terminal(text or "", max_length=limit)


STATE_STYLE = {
    "posted": "green",
    "pending": "dim",
    "due": "yellow",
    "missed": "red",
    "failed": "red",
    "uncertain": "magenta",
    "sending": "yellow",
}


def plan_report(report: PlanReport) -> None:
    s = report.session
    console = stdout_console()
    local = s.start.astimezone(s.tz)
    where = ", ".join(s.platform_names)
    console.print(
        f"[bold]{safe(s.title)}[/bold]  {safe(s.hashtag)} on {where}  "
        f"{local:%a %Y-%m-%d %H:%M} {safe(s.timezone)}, "
        f"{int(s.duration.total_seconds() // 60)} min  [dim](id {safe(s.id)})[/dim]"
    )
    table = Table(show_edge=False, header_style="bold")
    for column, width in (("when", 6), ("at", 12), ("item", 12), ("state", 7), ("length", 7)):
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column("text", no_wrap=True)
    room = max(10, console.width - 66)
    from qasession.session.schedule import relative

    for i, (entry, length) in enumerate(zip(report.entries, report.lengths, strict=True)):
        at = entry.item.at.astimezone(s.tz)
        style = STATE_STYLE.get(entry.state, "")
        limit = report.limit_of(i)
        over = length > limit
        item = entry.item.kind.replace("_", "-")
        table.add_row(
            relative(entry.item.at, s.start, s.tz),
            f"{at:%d %b %H:%M}",
            f"{item} {entry.item.platform}" if entry.item.platform else item,
            f"[{style}]{entry.state}[/{style}]" if style else entry.state,
            f"[red]{length}/{limit}[/red]" if over else f"{length}/{limit}",
            safe(entry.item.text, room),
        )
    console.print(table)
    costs = report.costs or ({s.platform: report.cost} if report.cost else {})
    for platform, c in costs.items():
        console.print(
            f"estimated cost on {platform}: [bold]${c['total_usd']:.2f}[/bold] "
            f"({c['posts_read']} posts read ${c['read_usd']:.2f}, {c['posts_created']} posts "
            f"created ${c['post_usd'] + c['url_usd']:.2f})"
            + (f", budget ${c['budget_usd']:.2f}" if c.get("budget_usd") is not None else "")
        )
    if report.reading is not None:
        from qasession.session.reading import describe_reading

        console.print(describe_reading(report.reading), highlight=False)
    if not report.lints:
        console.print("[green]no lint warnings[/green]")


def timeline(posts: Sequence[Any]) -> None:
    table = Table(show_edge=False, header_style="bold")
    for column in ("id", "at (UTC)", "kind", "author", "ref"):
        table.add_column(column, no_wrap=True)
    table.add_column("text", no_wrap=True)
    console = stdout_console()
    room = max(20, console.width - 58)
    for p in posts:
        kind = p.kind if p.kind != "dm" else f"dm→{safe(p.to)}"
        table.add_row(
            p.id,
            f"{p.created_at:%m-%d %H:%M}",
            kind,
            safe(p.author),
            p.ref or "",
            safe(p.text, room),
        )
    console.print(table)


def queue(rows: Sequence[dict[str, Any]], more: int = 0, *, platforms: bool = False) -> None:
    """A page of the ranked queue; `more` questions are left out of it (said on stderr).
    With `platforms` (a session on several), each question says where it was asked."""
    table = Table(show_edge=False, header_style="bold")
    # "#" is the question's number, what `qa answer`, `qa skip` and the terminal UI take
    claimed = any(row.get("claimed_by") for row in rows)  # a team's seats: who holds what
    columns: tuple[str, ...] = ("#", "rank", "score", "author", "likes", "dup", "flags")
    if platforms:
        columns = ("#", "rank", "score", "platform", "author", "likes", "dup", "flags")
    for column in columns:
        table.add_column(column, no_wrap=True)
    if claimed:
        table.add_column("claimed by", no_wrap=True)
    table.add_column("question", no_wrap=True)
    console = stdout_console()
    room = max(20, console.width - (78 if platforms else 62) - (14 if claimed else 0))
    for rank, row in enumerate(rows, 1):
        flags = ",".join(row["flags"])
        where = [safe(", ".join([row["platform"], *row.get("also_on", [])]), 30)]
        cells = [
            str(row["id"]),
            str(row.get("rank", rank)),
            f"{row['score']:.1f}",
            *(where if platforms else []),
            safe(row["author"]),
            str(row["likes"]),
            f"+{row['duplicates']}" if row["duplicates"] else "",
            f"[yellow]{flags}[/yellow]" if flags else "",
        ]
        if claimed:
            cells.append(safe(row.get("claimed_by") or "", 12))
        table.add_row(*cells, safe(row["text"], room))
    console.print(table)
    if not rows and not more:
        console.print("[dim]the queue is empty[/dim]")
    if more:
        sys.stderr.write(f"{more:,} more, use --limit or --json\n")
        sys.stderr.flush()


def checks(results: Sequence[Any]) -> None:
    table = Table(show_edge=False, header_style="bold")
    for column in ("platform", "check", "status", "detail"):
        table.add_column(column)
    for check in results:
        mark = "[green]ok[/green]" if check.ok else "[red]FAIL[/red]"
        table.add_row(check.platform, check.name, mark, safe(check.detail))
    stdout_console().print(table)


def outbox(rows: Sequence[dict[str, Any]]) -> None:
    table = Table(show_edge=False, header_style="bold")
    for column in ("key", "kind", "state", "id"):
        table.add_column(column, no_wrap=True)
    table.add_column("text / error", no_wrap=True)
    console = stdout_console()
    room = max(16, console.width - 64)
    for row in rows:
        style = STATE_STYLE.get(
            {"sent": "posted", "intent": "pending"}.get(row["state"], row["state"]), ""
        )
        state = f"[{style}]{row['state']}[/{style}]" if style else row["state"]
        detail = row["error"] if row["state"] in ("failed", "uncertain") else row["text"]
        if row["kind"] == "repost" and not detail:
            detail = f"repost of {row['question']}"
        key = row["key"].split(":", 1)[-1]  # the session is the same on every row
        table.add_row(
            safe(key, 24), row["kind"], state, safe(row["platform_id"]), safe(detail, room)
        )
    console.print(table)
    if not rows:
        console.print("[dim]the outbox is empty[/dim]")


def drafts(rows: Sequence[dict[str, Any]]) -> None:
    """Drafts, each with the exact posts it makes once approved (its preview)."""
    console = stdout_console()
    for row in rows:
        what = f"question {row['question']}" if row["question"] is not None else row["key"]
        when = str(row["created_at"])[:19].replace("T", " ")
        head = f"[bold]draft {row['id']}[/bold] · {safe(what)} · by {safe(row['by'])} · {when} UTC"
        state = row["state"]
        if state != "pending":
            head += f" · {state} by {safe(row['decided_by'])}"
            if row.get("reason"):
                head += f": {safe(row['reason'])}"
        console.print(head)
        for step in row["preview"]:
            if step["kind"] == "repost":
                console.print(f"  repost of {safe(step.get('repost_of'))}")
                continue
            target = step.get("dm_to") or step.get("reply_to") or step.get("quote_of")
            how = f" ({safe(target)})" if target and target != "^" else ""
            console.print(f"  {step['kind']}{how}: {safe(step['text'])}")
        if row.get("final_text"):
            console.print(f"  [yellow]approved as:[/yellow] {safe(row['final_text'])}")
    if not rows:
        console.print("[dim]no draft waits for approval[/dim]")


def audit_log(rows: Sequence[dict[str, Any]], tz: Any) -> None:
    """The audit log, oldest first, times in the plan's zone."""
    from datetime import datetime

    table = Table(show_edge=False, header_style="bold")
    for column in ("time", "who", "role", "action", "#"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail", no_wrap=True)
    console = stdout_console()
    room = max(16, console.width - 60)
    plain = ("id", "at", "actor", "role", "action", "question")
    for row in rows:
        at = datetime.fromisoformat(row["at"]).astimezone(tz).strftime("%H:%M:%S %Z")
        detail = ", ".join(f"{k}={v}" for k, v in row.items() if k not in plain and v is not None)
        table.add_row(
            at,
            safe(row["actor"], 16),
            safe(row["role"] or ""),
            row["action"],
            "" if row["question"] is None else str(row["question"]),
            safe(detail, room),
        )
    console.print(table)
    if not rows:
        console.print("[dim]nothing done yet[/dim]")


def answer_preview(steps: Sequence[Any], notes: Sequence[str]) -> None:
    """What an answer would post, step by step, with the platform each goes out on."""
    console = stdout_console()
    table = Table(show_edge=False, header_style="bold")
    for column in ("platform", "step", "text"):
        table.add_column(column, no_wrap=column != "text")
    for step in steps:
        what = step.kind
        if step.repost_of:
            what += f" of {step.repost_of}"
        elif step.quote_of:
            what += f" quoting {step.quote_of}"
        elif step.reply_to:
            what += " reply"
        elif step.dm_to:
            what += f" to {safe(step.dm_to, 40)}"
        table.add_row(safe(step.platform or "-", 20), what, safe(step.text or "", 400))
    console.print(table)
    for note in notes:
        console.print(f"note: {safe(note, 300)}", highlight=False)


def platform_breakdown(data: dict[str, Any]) -> None:
    """The recap of a session on several platforms, by platform and combined, with its
    activity stacked by platform (one letter per platform, each bucket of minutes a row)."""
    console = stdout_console()
    table = Table(title="by platform", show_edge=False, header_style="bold")
    columns = ("platform", "people", "posts", "questions", "answered", "community", "median")
    rows = [*data["platforms"], {"platform": "combined", **data["combined"]}]
    paid = any(row.get("spend_usd") for row in rows)  # free platforms only: no spend column
    for column in (*columns, *(("spend",) if paid else ())):
        table.add_column(column, no_wrap=True)
    for row in rows:
        wait = row.get("median_minutes_to_answer")
        cells = [
            safe(row["platform"], 24),
            str(row["participants"]),
            str(row["posts"]),
            str(row["questions"]),
            str(row["answered"]),
            str(row["community_answers"]),
            f"{wait:.0f} min" if isinstance(wait, int | float) else "",
        ]
        table.add_row(*cells, *((f"${row['spend_usd']:.2f}",) if paid else ()))
    console.print(table)
    from qasession.recap.render import PLATFORM_MARKS, platform_bars

    legend = ", ".join(
        f"{PLATFORM_MARKS[i % len(PLATFORM_MARKS)]} {safe(r['platform'], 24)}"
        for i, r in enumerate(data["platforms"])
    )
    console.print(f"activity by platform ({legend}):", highlight=False)
    for line in platform_bars(data):
        console.print(f"  {line}", highlight=False)
