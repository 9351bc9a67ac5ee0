"""What the live UI shows, as plain functions: inert texts, queue cells, the answer preview."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text

from qasession.compose import ANSWER_MODES
from qasession.errors import Hint, QAError, UsageError
from qasession.text.safe import inert

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.session.control import AnswerPlan, AnswerRequest, Target
    from qasession.store import OutboxItem, Store

CELL_TEXT = 90  # the widest the queue's question column gets (details show the rest)
MIN_CELL_TEXT = 12
DETAIL_TEXT = 10_000  # a whole post on any platform we know; longer bodies are cut
FLAG_STYLES = {
    "pinned": "bold cyan",
    "sensitive": "bold red",
    "troll": "bold magenta",
    "duplicate": "yellow",
    "ahead": "green",
}
MODE_HELP = {
    "dot": "repost the question, then a .@asker answer every follower sees",
    "reply": "an open reply to the asker",
    "quote": "quote the question with the answer (for all followers)",
    "dm": "a direct message, and a public notice that one was sent",
}


# The operator's options as this UI offers them: the keys that work in the queue and in the
# answer box alike (the hints of the control API name them through `worded`).
KEY_OPTIONS = {
    "dm": "Ctrl-O until mode dm",
    "thread": "Ctrl-T",
    "follow_up": "`qa answer` from a shell, with its follow-up option,",
    "take_over": "`qa answer` from a shell, with its take-over option,",
    "post_private_data": "Ctrl-F (asks first)",
    "public_without_repost": "Ctrl-R (asks first)",
}


def worded(error: QAError) -> str:
    """A refusal as this UI shows it: the message, then what to do in keys, not CLI flags."""
    hint = error.hint
    if isinstance(hint, Hint):
        hint = hint.worded(KEY_OPTIONS)
    return error.message + (f"\n→ {hint}" if hint else "")


def cut(text: str | None, width: int) -> Text:
    """Untrusted text on one line of at most `width` terminal cells; a longer one ends in "…",
    cut between graphemes (an emoji sequence or an accent is never split)."""
    clean = inert(text or "", single_line=True)
    if cell_len(clean) <= width:
        return Text(clean)
    import regex

    kept: list[str] = []
    room = width - 1  # the "…"
    for grapheme in regex.findall(r"\X", clean):
        size = cell_len(grapheme)
        if size > room:
            break
        kept.append(grapheme)
        room -= size
    return Text("".join(kept).rstrip() + "…")


def plain(text: str | None, max_length: int | None = None, *, single_line: bool = True) -> Text:
    """Untrusted text as a Rich Text: `inert` strips escapes, controls, bidi and zero-width
    characters; a Text is never parsed as markup, so `[red]` stays literal. (`for_terminal`
    also backslash-escapes markup, which only suits strings that will be parsed as markup.)"""
    return Text(inert(text or "", max_length, single_line=single_line))


def next_mode(mode: str) -> str:
    """dot → reply → quote → dm → dot."""
    i = ANSWER_MODES.index(mode) if mode in ANSWER_MODES else -1
    return ANSWER_MODES[(i + 1) % len(ANSWER_MODES)]


def clock_text(now: datetime, start: datetime, end: datetime, ended: bool = False) -> str:
    """Time to the start, time left, or how long ago the end was."""
    if ended:
        return "ended"
    if now < start:
        return f"starts in {_hms((start - now).total_seconds())}"
    if now < end:
        return f"{_hms((end - now).total_seconds())} left"
    return f"over by {_hms((now - end).total_seconds())}"


def _hms(seconds: float) -> str:
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 48:
        return f"{hours // 24}d {hours % 24}h"
    return f"{hours}:{minutes:02d}:{secs:02d}"


def row_flags(row: Mapping[str, Any]) -> list[str]:
    """The flags of a queue row as shown: pinned first, duplicates as their count."""
    flags: list[str] = ["pinned"] if row.get("pinned") else []
    flags += [f for f in row.get("flags", ()) if f not in ("duplicate", "pinned")]
    return flags


def flags_cell(row: Mapping[str, Any]) -> Text:
    cell = Text()
    for flag in row_flags(row):
        if cell:
            cell.append(" ")
        cell.append(flag, style=FLAG_STYLES.get(flag, ""))
    if row.get("duplicates"):
        if cell:
            cell.append(" ")
        cell.append(f"+{row['duplicates']}", style=FLAG_STYLES["duplicate"])
    if row.get("claimed_by"):  # a team's seat is drafting its answer
        if cell:
            cell.append(" ")
        cell.append("✎", style="bold cyan")
        cell.append_text(plain(str(row["claimed_by"]), 12))
    return cell


def queue_cells(row: Mapping[str, Any], text_width: int = CELL_TEXT) -> tuple[Text, ...]:
    """One DataTable row: every cell a Text (a str cell would be parsed as markup). The first
    cell is the question's number, the one the details, the log and `qa answer` use."""
    author = plain(row["author"], 24)
    if "also_on" in row:  # a session on several platforms: where it was asked
        where = "+".join(p.split(":")[-1] for p in [row["platform"], *row["also_on"]])
        author = plain(f"{where} {row['author']}", 36)
    return (
        Text(str(row["id"]), style="bold"),
        Text(f"{row['score']:.1f}"),
        author,
        flags_cell(row),
        Text(str(row["likes"])),
        Text(str(row["reposts"])),
        cut(row["text"], text_width),
    )


def text_width(rows: Sequence[Mapping[str, Any]], headers: Sequence[str], room: int) -> int:
    """How wide the question column can be so the whole row fits in `room` cells: what the
    other columns need (their widest cell or header, plus DataTable's padding of one cell on
    each side), the rest for the text, between MIN_CELL_TEXT and CELL_TEXT."""
    widths = [cell_len(h) for h in headers[:-1]]
    for row in rows:
        for i, cell in enumerate(queue_cells(row, MIN_CELL_TEXT)[:-1]):
            widths[i] = max(widths[i], cell.cell_len)
    used = sum(widths) + 2 * len(headers)
    return max(MIN_CELL_TEXT, min(CELL_TEXT, room - used))


def matches(row: Mapping[str, Any], query: str) -> bool:
    """The queue filter: every word must match. `@name` matches authors, `flag:troll` (or
    `flag:pinned`, `flag:duplicate`) flags, any other word the text, the author or a flag."""
    flags = set(row_flags(row)) | ({"duplicate"} if row.get("duplicates") else set())
    author = str(row.get("author", "")).lower()
    text = str(row.get("text", "")).lower()
    for word in query.lower().split():
        if word.startswith("flag:"):
            if word[5:] not in flags:
                return False
        elif word.startswith("@"):
            if word not in author and word[1:] not in author:
                return False
        elif word not in text and word not in author and word not in flags:
            return False
    return True


def details(row: Mapping[str, Any] | None, merged: Sequence[Any] = ()) -> Text:
    """The selected question: who, engagement, merged duplicates, the whole text."""
    if row is None:
        return Text("No question selected. The best questions come first in the queue.")
    out = Text()
    out.append("Question ", style="bold")
    out.append(str(row["id"]), style="bold")
    out.append(" by ")
    out.append_text(plain(row["author"], 100))
    out.append(f"\n♥ {row['likes']} likes · ⟳ {row['reposts']} reposts · score {row['score']}")
    if row.get("likes_elsewhere") or row.get("reposts_elsewhere"):
        out.append(
            f"\n  + ♥ {row['likes_elsewhere']} · ⟳ {row['reposts_elsewhere']} on "
            + ", ".join(str(p) for p in row.get("also_on", ()))
            + " (counted in the score)"
        )
    flags = row_flags(row)
    if flags:
        out.append("\nflags: ")
        out.append_text(flags_cell(row))
    if row.get("claimed_by"):
        out.append("\n✎ claimed by ", style="cyan")
        out.append_text(plain(str(row["claimed_by"]), 40))
    if "sensitive" in row.get("flags", ()):
        out.append(
            "\n⚠ looks like it contains private data: suggest DM (its mode starts at dm) and "
            "never echo the data in public",
            style="bold red",
        )
    if "troll" in row.get("flags", ()):
        out.append("\n⚠ possible troll: don't feed it (s to skip, b to block)", style="magenta")
    out.append("\n\n")
    out.append_text(plain(row["text"], DETAIL_TEXT, single_line=False))
    if merged:
        out.append(f"\n\nmerged duplicates ({len(merged)}):", style="bold")
        for dup in merged[:5]:
            out.append("\n• ")
            if dup["duplicate_platform"]:  # asked on another platform of the session
                out.append(f"on {dup['platform']} ", style="cyan")
            out.append_text(plain(dup["author"], 30))
            out.append(": ")
            out.append_text(plain(dup["text"], 70))
        if len(merged) > 5:
            out.append(f"\n… and {len(merged) - 5} more")
    return out


@dataclass(slots=True)
class Preview:
    """What pressing Enter would post, in which mode, and how long it is on the platform."""

    mode: Text = field(default_factory=Text)
    lines: list[Text] = field(default_factory=list)
    count: int = 0
    limit: int = 0
    parts: int = 0  # the posts of the answer (more than one: a thread)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def over(self) -> bool:
        return self.count > self.limit


def mode_line(request: AnswerRequest) -> Text:
    """The mode in effect, as the preview's first line."""
    out = Text(f"mode {request.mode}", style="bold")
    out.append(f": {MODE_HELP.get(request.mode, '')}")
    if request.thread:
        out.append("; a long answer becomes a numbered thread")
    if request.public_without_repost:
        out.append(
            "\nprivate question answered in public: a stand-alone post, never a repost or a "
            "quote of it",
            style="bold red",
        )
    if request.everywhere:
        out.append("; also a community answer on the other platforms", style="bold")
    return out


@dataclass(slots=True)
class Composer:
    """What an answer would post, by the control API's rules (the platform's capabilities as
    the loop last saw them, the private-data rules)."""

    session: Session
    store: Store | None = None

    @classmethod
    def for_session(cls, session: Session, store: Store | None = None) -> Composer:
        return cls(session, store)

    def plan(self, target: Target, request: AnswerRequest) -> AnswerPlan:
        from qasession.session.capabilities import capabilities_of, host_of
        from qasession.session.control import Control, plan_answer

        if self.session.multi and self.store is not None:  # every post on every platform
            return Control(self.session, self.store).preview(target, request)
        platform = target.platform
        return plan_answer(
            self.session,
            target,
            request,
            op="preview",
            capabilities=capabilities_of(self.session, self.store, platform),
            host=host_of(self.session, self.store, platform),
        )

    def refusal(self, target: Target, request: AnswerRequest) -> UsageError | None:
        """Why the control API refuses this mode on this question whatever the text (a
        question carrying private data, in public), or None."""
        from qasession.session.control import private_refusal

        return private_refusal(self.session, target, request)

    def default_mode(self, target: Target | None) -> str:
        """The plan's answer mode, or dm where the control API refuses it for the question."""
        from qasession.session.control import AnswerRequest

        mode = self.session.answers.mode
        if target is not None and self.refusal(target, AnswerRequest("", mode)) is not None:
            return "dm"
        return mode

    def preview(self, target: Target | None, request: AnswerRequest) -> Preview:
        from qasession.session.capabilities import capabilities_of

        if target is None:
            return Preview(error="select a question in the queue first (a or Enter on a row)")
        capabilities = capabilities_of(self.session, self.store, target.platform)
        result = Preview(mode=mode_line(request), limit=capabilities.max_length)
        refused = self.refusal(target, request)
        if refused is not None:
            result.error = worded(refused)
            return result
        if not request.text.strip():
            return result
        try:
            # planned as a thread first: the count is shown even when it is too long
            whole = self.plan(target, replace(request, thread=True))
            public = [s.text for s in whole.steps if s.kind == "answer" and s.text]
            result.count = max((capabilities.length(t) for t in public), default=0)
            result.parts = len(public)
            if result.parts > 1 and not request.thread:
                result.error = (
                    f"the answer is too long for one post: the limit here is {result.limit}\n"
                    f"→ shorten it, or Ctrl-T posts it as a numbered thread of {result.parts}"
                )
                return result
            planned = self.plan(target, request)
        except UsageError as exc:
            result.error = worded(exc)
            return result
        result.notes = planned.notes
        result.lines = [describe_step(step, target.number) for step in planned.steps]
        if self.session.multi:  # each post says the platform it goes out on
            result.lines = [
                Text(f"on {step.platform}: ", style="dim") + line
                for step, line in zip(planned.steps, result.lines, strict=True)
            ]
        return result


def describe_step(step: OutboxItem, number: int) -> Text:
    """One outbox step in words: repost of 12, reply to 12: …, DM to @bob: …"""
    out = Text()
    if step.kind == "repost":
        out.append(f"repost of question {number}", style="bold")
        return out
    if step.kind == "dm":
        out.append("DM to ", style="bold")
        out.append_text(plain(step.dm_to, 40))
        out.append(": ", style="bold")
    elif step.reply_to == "^":
        out.append("then, in the thread: ", style="bold")
    elif step.reply_to:
        out.append(f"reply to question {number}: ", style="bold")
    elif step.quote_of:
        out.append(f"quote of question {number}: ", style="bold")
    else:
        out.append("post: ", style="bold")
    out.append_text(plain(step.text, 600))
    return out


def drafts_text(drafts: Sequence[Mapping[str, Any]], chosen: int) -> Text:
    """The approval panel: each draft with the exact posts it makes (texts made inert)."""
    out = Text()
    if not drafts:
        return Text("No draft waits for approval.", style="dim")
    for i, d in enumerate(drafts):
        mark = "▶ " if i == chosen else "  "
        what = f"question {d['question']}" if d.get("question") is not None else str(d["key"])
        out.append(f"{mark}draft {d['id']} · ", style="bold" if i == chosen else "")
        out.append_text(plain(what, 60))
        out.append(" · by ")
        out.append_text(plain(str(d["by"]), 40))
        for step in d["preview"]:
            out.append("\n    ")
            if step["kind"] == "repost":
                out.append("repost of the question", style="dim")
                continue
            out.append(f"{step['kind']}: ", style="cyan")
            out.append_text(plain(str(step.get("text") or ""), DETAIL_TEXT, single_line=False))
        out.append("\n")
    return out
