"""How errors name things: values as YAML made them, field paths, close matches; one line each."""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable
from datetime import date, datetime

from pydantic_core import PydanticCustomError

PathT = tuple[Hashable, ...]


def one_line(text: str) -> str:
    """Control characters (newlines, escapes) escaped so an error stays one safe line."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def clip(value: object, width: int = 40) -> str:
    """`value` as one line of at most `width` characters (an ellipsis when cut)."""
    text = one_line(str(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(value: object) -> str:
    """A user-facing name for what YAML made of a value."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a yes/no value)"
    if isinstance(value, int | float):
        return f"a number ({clip(value)})"
    if isinstance(value, str):
        return f"text ('{clip(value)}')"
    if isinstance(value, date):
        kind = "a date and time" if isinstance(value, datetime) else "a date"
        return f"{kind} ({value.isoformat()})"
    if isinstance(value, dict):
        return "a mapping (key: value)"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def format_path(parts: Iterable[Hashable]) -> str:
    """`("sessions", 0, "start")` -> `sessions[0].start`."""
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += ("." if out else "") + clip(part)
    return out


def suggest(word: object, choices: Iterable[str]) -> str | None:
    """ "did you mean 'x'?" for the closest of `choices`, if one is close enough."""
    found = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{found[0]}'?" if found else None


def invalid(message: str, hint: str | None = None) -> PydanticCustomError:
    """A validation error whose message and hint reach the PlanError as written."""
    return PydanticCustomError("plan", "{message}", {"message": message, "hint": hint})
