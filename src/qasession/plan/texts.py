"""The planned posts' texts: the default texts, the placeholders and how they are filled."""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from qasession.plan.messages import clip

PLACEHOLDERS: tuple[str, ...] = (
    "hashtag",
    "title",
    "date",
    "time",
    "end_time",
    "timezone",
    "duration",
    "account",
    "platform",
)

# Default texts, English; every one says the hashtag, the ones before the start say the time.
DEFAULT_TEXTS: dict[str, str] = {
    "ahead": (
        "Save the date: on {date} at {time} ({timezone}) we answer your questions live for "
        "{duration}. Ask yours now with {hashtag} and we'll pick the best ones!"
    ),
    "tomorrow": (
        "Tomorrow at {time} ({timezone}) we answer your questions live for {duration}. "
        "Ask yours now with {hashtag}!"
    ),
    "day": (
        "Today at {time} ({timezone}) we answer your questions live for {duration}. "
        "Send yours now with {hashtag}!"
    ),
    "start": "Starting now: we answer your questions live for {duration}. Ask with {hashtag}!",
    "opening": (
        "We're live! For the next {duration} we answer your questions. Ask with {hashtag} "
        "and we'll answer as many as we can."
    ),
    "closing": (
        "That's all for today: thank you for all your questions! We'll follow up on the ones "
        "we couldn't answer. {hashtag}"
    ),
    "after_party": (
        "The conversation doesn't stop here: keep sharing ideas and questions with each other "
        "on {hashtag}!"
    ),
}

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_FORMATTER = string.Formatter()


class TemplateError(Exception):
    """A text whose placeholders can't be filled; the caller adds where it is."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SessionFacts(NamedTuple):
    """What the placeholders say about a session."""

    hashtag: str
    title: str
    start: datetime
    tz: ZoneInfo
    duration: timedelta
    account: str | None
    platform: str


def human_duration(duration: timedelta) -> str:
    """`45 minutes`, `60 minutes`, `90 minutes`, `3 hours`, `2 hours 30 minutes`: minutes up
    to two hours read best in "for the next 60 minutes"."""
    minutes = round(duration.total_seconds() / 60)
    hours, rest = divmod(minutes, 60)
    if minutes <= 120:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    if rest == 0:
        return f"{hours} hours"
    return f"{hours} hours {rest} minutes"


def placeholder_values(facts: SessionFacts) -> dict[str, str | None]:
    """The values of {hashtag} {title} {date} {time} ... for a session."""
    local = facts.start.astimezone(facts.tz)
    end = (facts.start + facts.duration).astimezone(facts.tz)
    return {
        "hashtag": facts.hashtag,
        "title": facts.title,
        "date": f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}",
        "time": f"{local:%H:%M}",
        "end_time": f"{end:%H:%M}",
        "timezone": local.tzname() or str(facts.tz),
        "duration": human_duration(facts.duration),
        "account": facts.account,  # None: a text that uses it is refused
        "platform": facts.platform,
    }


def _unknown_placeholder(name: str, spec: str, conversion: str | None) -> TemplateError:
    shown = (
        "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    )
    close = difflib.get_close_matches(name, PLACEHOLDERS, n=1, cutoff=0.6)
    known = " ".join("{" + p + "}" for p in PLACEHOLDERS)
    return TemplateError(
        f"unknown placeholder {clip(shown)}",
        (f"did you mean {{{close[0]}}}? " if close else "")
        + f"known: {known}; write {{{{ for a literal {{",
    )


def render(template: str, values: Mapping[str, str | None]) -> str:
    """`template` with its placeholders filled; `{{` writes a literal `{`. Raises
    TemplateError for an unknown placeholder, a stray brace or a value the session lacks."""
    out: list[str] = []
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise TemplateError(
            f"{str(exc).rstrip('.').lower()} in the text", "write {{ and }} for literal braces"
        ) from exc
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name not in values or spec or conversion:
            raise _unknown_placeholder(name, spec or "", conversion)
        value = values[name]
        if value is None:
            raise TemplateError(
                "the text uses {" + name + "} but the session has no " + name,
                f"set {name}: in the session, or remove the placeholder",
            )
        out.append(value)
    return "".join(out)
