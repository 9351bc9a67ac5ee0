"""The recap in the terminal (`qa recap` without --format): figures, bar charts and tables
drawn with Rich; `--series` and `--post-drafts` tables. The files and texts are made in
`qasession.recap.render`.

Every platform text is untrusted: it is made inert and its Rich markup escaped
(`for_terminal`) before it is printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from qasession.recap import Draft, Recap, Series, duration_text
from qasession.recap.masking import notice
from qasession.recap.render import (
    late_text,
    local_time,
    platform_use,
    plural,
    ranked_contributors,
    waiting_hint,
)
from qasession.text.safe import for_terminal

_BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: float, largest: float, width: int) -> str:
    """A horizontal bar of `width` cells at most, in eighths of a cell."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_BLOCKS[rest] if rest else "")


def _rows_for(during: Sequence[Any], limit: int) -> list[tuple[str, int]]:
    """Activity buckets merged so the chart has at most `limit` rows."""
    if not during:
        return []
    step = max(1, -(-len(during) // limit))
    return [
        (during[i].start, sum(b.posts for b in during[i : i + step]))
        for i in range(0, len(during), step)
    ]


SHORT_TEXT = 160  # characters of a post shown in a terminal table without --wide


def show(recap: Recap, console: Console, *, wide: bool = False) -> None:
    """The recap in the terminal: numbers, then bar charts and tables. Texts wrap in their
    column; `wide` shows them whole (else each is cut at `SHORT_TEXT` characters)."""
    m = recap.meta
    safe = for_terminal
    head = f"[bold]{safe(m.title or m.hashtag)}[/bold]  {safe(m.hashtag)} on {safe(m.platform)}"
    if m.window_start:
        head += (
            f"  {local_time(recap, m.window_start, '%a %Y-%m-%d %H:%M')}"
            f"–{local_time(recap, m.window_end)} {safe(m.timezone)}"
        )
    console.print(head + f"  [dim](session {safe(m.session_id)}, {safe(m.source)})[/dim]")
    if m.masked:
        console.print(f"[dim]{safe(notice(m.masked))}[/dim]")
    console.print(_numbers(recap))
    width = max(10, console.width - 24)
    hint = waiting_hint(recap)
    if hint:
        console.print(f"[yellow]{safe(hint)}[/yellow]")
    else:
        _show_activity(recap, console, width)
    _show_contributors(recap, console, width)
    _show_waits(recap, console, width)
    limit = None if wide else SHORT_TEXT
    _show_posts(recap, console, limit)
    if recap.phrases:
        found = ", ".join(f"{safe(x.phrase)} ({x.count})" for x in recap.phrases)
        console.print(f"[bold]asked about[/bold] {found}")
    elif recap.topics:
        topics = ", ".join(f"{safe(x.phrase)} ({x.count})" for x in recap.topics)
        console.print(f"[bold]topics[/bold] {topics}")
    if len(recap.languages) > 1:
        langs = ", ".join(f"{safe(x.name)} {x.questions}" for x in recap.languages)
        console.print(f"[bold]languages[/bold] {langs}")
    _show_notes(recap, console, limit)
    _show_questions(recap, console, limit)


def _show_waits(recap: Recap, console: Console, width: int) -> None:
    """How long each answered question waited (late answers marked)."""
    if not recap.transcript:
        return
    late = {m.label for m in recap.marks if m.kind == "answer" and m.late}
    table = Table(title="time to answer", show_header=False, show_edge=False, box=None)
    table.add_column(no_wrap=True, max_width=24)
    table.add_column(no_wrap=True, style="green")
    table.add_column(no_wrap=True, justify="right")
    waits = [e.seconds_to_answer or 0.0 for e in recap.transcript[:20]]
    largest = max(waits, default=0.0)
    for number, (entry, wait) in enumerate(zip(recap.transcript, waits, strict=False), 1):
        tag = " (late)" if f"answer {number}" in late else ""
        table.add_row(
            f"{number}. {for_terminal(entry.question.author, 20)}",
            bar(wait, largest, max(5, width - 30)),
            duration_text(wait) + tag,
        )
    console.print(table)


def _show_notes(recap: Recap, console: Console, limit: int | None) -> None:
    if not recap.notes:
        return
    table = Table(title="host's notes", show_edge=False, header_style="bold")
    table.add_column("clock", no_wrap=True, justify="right")
    table.add_column("note", overflow="fold", ratio=1)
    for note in recap.notes:
        table.add_row(for_terminal(note.clock), for_terminal(note.text, limit))
    console.print(table)


def _numbers(recap: Recap) -> Any:
    """The table of figures (a Rich table)."""
    m, q, t, a = recap.meta, recap.questions, recap.time_to_answer, recap.activity
    numbers = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    numbers.add_column(style="bold", no_wrap=True)
    numbers.add_column()
    numbers.add_row("participants", str(recap.participants))
    target = f" (target {m.target})" if m.target else ""
    numbers.add_row(
        "questions",
        f"{q.received} received ({q.merged} merged), {q.answered} answered{target}, "
        f"{q.skipped} skipped, {q.hidden} hidden, {q.open} open, {q.ahead} asked ahead",
    )
    numbers.add_row(
        "time to answer",
        f"median {duration_text(t.median_s)}, p90 {duration_text(t.p90_s)} "
        f"({plural(t.count, 'answer')} live)"
        + (f"; {late_text(t.late_count)}" if t.late_count else ""),
    )
    numbers.add_row(
        "posts",
        f"{m.counts.get('posts', 0)} ({a.before.posts} before, {a.during_posts} during, "
        f"{a.after.posts} after); {a.during_per_minute or 0:g}/min during",
    )
    numbers.add_row(
        "follow-ups", f"{plural(recap.follow_ups.count, 'reply', 'replies')} to our posts"
    )
    mod = recap.moderation
    numbers.add_row(
        "moderation",
        f"{mod.muted} muted, {mod.blocked} blocked, {mod.flagged_sensitive} sensitive, "
        f"{mod.flagged_troll} troll, {mod.hidden} hidden",
    )
    use = platform_use(recap)
    if use is not None:
        numbers.add_row("platform use", for_terminal(use))
    return numbers


def _show_activity(recap: Recap, console: Console, width: int) -> None:
    rows = _rows_for(recap.activity.during, 24)
    if not rows:
        return
    chart = Table(title="activity (posts)", show_header=False, show_edge=False, box=None)
    chart.add_column(no_wrap=True, style="dim")
    chart.add_column(no_wrap=True, style="cyan")
    chart.add_column(no_wrap=True, justify="right")
    chart.add_column(no_wrap=True, style="yellow")
    largest = max(n for _, n in rows)
    step = (
        (datetime.fromisoformat(rows[1][0]) - datetime.fromisoformat(rows[0][0]))
        if len(rows) > 1
        else None
    )
    for i, (start, n) in enumerate(rows):
        last = i == len(rows) - 1  # the closing, at the window's end, shows on the last row
        chart.add_row(
            local_time(recap, start),
            bar(n, largest, width - 24),
            str(n),
            _marks_in(recap, start, None if last else step),
        )
    console.print(chart)


def _marks_in(recap: Recap, start: str, step: Any) -> str:
    """The marks (answers, opening, cues, closing) that fall in one row of the chart."""
    begin = datetime.fromisoformat(start)
    end = begin + step if step is not None else None
    answers, others = 0, []
    for mark in recap.marks:
        at = datetime.fromisoformat(mark.at)
        if at < begin or (end is not None and at >= end):
            continue
        if mark.kind == "answer":
            answers += 1
        else:
            others.append(for_terminal(mark.label, 16))
    if answers:
        others.insert(0, "▼" * min(answers, 5))
    return " ".join(others)


def _show_contributors(recap: Recap, console: Console, width: int) -> None:
    people = ranked_contributors(recap)
    if not people:
        return
    table = Table(
        title="top contributors (questions, then likes + reposts received)",
        show_edge=False,
        header_style="bold",
    )
    table.add_column("who", no_wrap=True, max_width=24)
    table.add_column("questions", justify="right")
    table.add_column("engagement", justify="right")
    table.add_column("likes + reposts", no_wrap=True, style="green")
    largest = max(c.engagement for c in people)
    for c in people:
        table.add_row(
            for_terminal(c.handle, 24),
            str(c.questions),
            str(c.engagement),
            bar(c.engagement, largest, max(5, width - 40)),
        )
    console.print(table)


def _show_posts(recap: Recap, console: Console, limit: int | None) -> None:
    if not recap.top_posts:
        return
    table = Table(title="top posts", show_edge=False, header_style="bold")
    for column in ("likes", "reposts"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("author", no_wrap=True, max_width=20)
    table.add_column("post", overflow="fold", ratio=1)
    for p in recap.top_posts[:5]:
        table.add_row(
            str(p.likes), str(p.reposts), for_terminal(p.author, 20), for_terminal(p.text, limit)
        )
    console.print(table)


def _show_questions(recap: Recap, console: Console, limit: int | None) -> None:
    """The answered questions (a table: the question, then its answer, wrapped), then the
    most engaging open ones."""
    safe = for_terminal
    if recap.transcript:
        table = Table(title="answered", show_edge=False, header_style="bold")
        table.add_column("after", justify="right", no_wrap=True)
        table.add_column("asker", no_wrap=True, max_width=20)
        table.add_column("question → answer", overflow="fold", ratio=1)
        for e in recap.transcript:
            answer = next((x for x in e.answers if x.kind != "dm"), None)
            shown = "(private)" if answer is None else safe(answer.text or "", limit)
            table.add_row(
                duration_text(e.seconds_to_answer),
                safe(e.question.author, 20),
                f"{safe(e.question.text, limit)}\n[dim]→[/dim] {shown}",
            )
        console.print(table)
    if recap.open_questions:
        console.print(f"[bold]open questions[/bold] ({recap.questions.open}), most engaging first:")
        for item in recap.open_questions[:5]:
            console.print(f"  {safe(item.question.author, 20)}: {safe(item.question.text, limit)}")


def show_drafts(drafts: Sequence[Draft], console: Console) -> None:
    table = Table(title="drafts", show_edge=False, header_style="bold")
    table.add_column("key", no_wrap=True)
    table.add_column("length", justify="right", no_wrap=True)
    table.add_column("text")
    for d in drafts:
        table.add_row(for_terminal(d.key), f"{d.length}/{d.max_length}", for_terminal(d.text))
    console.print(table)


def show_series(series: Series, console: Console) -> None:
    table = Table(title="series", show_edge=False, header_style="bold")
    # short headers: the table fits 80 columns
    for column in ("session", "date", "people", "back", "new", "asked", "answered", "growth"):
        table.add_column(column, no_wrap=True, justify="left" if column == "session" else "right")
    for s in series.sessions:
        growth = "–" if s.growth_pct is None else f"{s.growth_pct:+.1f}%"
        table.add_row(
            for_terminal(s.id, 24),
            s.start[:10],
            str(s.participants),
            str(s.returning),
            str(s.new),
            str(s.questions_received),
            str(s.answered),
            growth,
        )
    console.print(table)
    console.print(
        "[dim]people: participants; back: seen in an earlier session of the series; "
        "asked: questions received; growth: participants against the session before[/dim]"
    )
