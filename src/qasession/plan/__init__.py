"""The plan file (`sessions.yaml`): Pydantic models, YAML loading with file:line errors, lints."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
import re
import string
import zoneinfo
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from datetime import date as _date
from pathlib import Path
from typing import Annotated, Any, Literal, cast, get_args
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    PlainValidator,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from qasession.errors import PlanError, UsageError
from qasession.text.length import LengthMethod, count_length

PLATFORMS: tuple[str, ...] = ("local", "x", "mastodon", "bluesky")
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
# The best-practice schedule: days ahead (twice, to collect questions early), on the day.
DEFAULT_ANNOUNCEMENTS: tuple[str, ...] = ("-3d", "-1d", "-1h")

DEFAULT_LENGTH_LIMITS: dict[str, tuple[int, str]] = {
    "local": (280, "x"),
    "x": (280, "x"),
    "mastodon": (500, "chars"),
    "bluesky": (300, "graphemes"),
}

# Plans are small; a document that expands (through YAML aliases) beyond this is a mistake or
# an attack ("billion laughs") and would make validation hang.
_MAX_VALUES = 200_000
_MIN_YEAR, _MAX_YEAR = 1970, 2200

_SESSION_KEYS_HINT = (
    "a session's keys go in a list under `sessions:`, e.g. `sessions:` then `  - hashtag: '#AskUs'`"
)


# --------------------------------------------------------------------------------------------
# YAML: a safe loader without YAML 1.1's base-60 numbers, so `duration: 1:30` and
# `start: 18:00` stay text instead of becoming 90 and 1080.


class _PlanLoader(yaml.SafeLoader):
    """SafeLoader minus sexagesimal numbers; construction errors carry the node's mark."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, KeyError) as exc:
            # e.g. `2026-02-30 10:00:00` matches the timestamp pattern but is no date
            shown = f"'{_clip(node.value)}'" if isinstance(node, yaml.ScalarNode) else "a value"
            raise yaml.constructor.ConstructorError(
                None, None, f"can't read {shown}: {exc}", node.start_mark
            ) from exc


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlanLoader.add_implicit_resolver(
    _INT_TAG,
    re.compile(
        r"""^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$""",
        re.X,
    ),
    list("-+0123456789"),
)
_PlanLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

_PathT = tuple[Hashable, ...]


@dataclass(frozen=True, slots=True)
class _Mark:
    """Where a value (and the key that names it) sits in the file; 1-based."""

    line: int
    column: int
    key_line: int
    key_column: int


def _mark_of(value: yaml.Node, key: yaml.Node | None = None) -> _Mark:
    k = key or value
    return _Mark(
        value.start_mark.line + 1,
        value.start_mark.column + 1,
        k.start_mark.line + 1,
        k.start_mark.column + 1,
    )


def _check_duplicate_keys(root: yaml.Node, path: str) -> None:
    """PyYAML keeps the last of two equal keys silently; a plan with `start:` twice is a
    mistake worth a line number. Merge keys (`<<`) are legitimate and skipped."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Hashable, ...]]] = [(root, ())]
    while stack:
        node, where = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            firsts: dict[tuple[str, str], yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    ident = (key.tag, key.value)
                    if ident in firsts:
                        first = firsts[ident]
                        raise PlanError(
                            f"key '{_clip(key.value)}' appears twice "
                            f"(first on line {first.start_mark.line + 1})",
                            path=path,
                            line=key.start_mark.line + 1,
                            column=key.start_mark.column + 1,
                            field=_format_path((*where, key.value)) or None,
                            hint="keep one of them",
                        )
                    firsts[ident] = key
                    stack.append((value, (*where, key.value)))
                else:
                    stack.append((value, where))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                stack.append((item, (*where, index)))


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once aliases are expanded (cycles count once)."""
    memo: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        ident = id(node)
        if ident in memo:
            return memo[ident]
        if ident in in_progress:
            return 1
        in_progress.add(ident)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                total += size(key) + size(value)
                if total > _MAX_VALUES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
                if total > _MAX_VALUES:
                    break
        in_progress.discard(ident)
        memo[ident] = total
        return total

    return size(root)


def _collect_marks(root: yaml.Node) -> dict[_PathT, _Mark]:
    """Map every path of the constructed document to its mark. Run after construction, so
    merge keys are already flattened; a node reached twice (alias) is walked once, and paths
    through the second route fall back to their parent's mark."""
    keys = _PlanLoader("")
    marks: dict[_PathT, _Mark] = {(): _mark_of(root)}
    walked: set[int] = set()
    stack: list[tuple[_PathT, yaml.Node]] = [((), root)]
    while stack:
        where, node = stack.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                try:
                    key = keys.construct_object(key_node, deep=True)
                    hash(key)
                except Exception:  # an unhashable key never reaches here; be safe anyway
                    continue
                sub = (*where, key)
                marks[sub] = _mark_of(value, key_node)
                stack.append((sub, value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                sub = (*where, index)
                marks[sub] = _mark_of(item)
                stack.append((sub, item))
    keys.dispose()
    return marks


def _path_at(root: yaml.Node | None, line: int, column: int) -> str | None:
    """The field path of the node starting at (line, column), 0-based, if any."""
    if root is None:
        return None
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Hashable, ...]]] = [(root, ())]
    while stack:
        node, where = stack.pop()
        if node.start_mark.line == line and node.start_mark.column == column and where:
            return _format_path(where)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.append((value, (*where, name)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*where, i)) for i, item in enumerate(node.value))
    return None


def _yaml_error(
    exc: yaml.YAMLError, text: str, path: str, root: yaml.Node | None = None
) -> PlanError:
    """One line out of PyYAML's multi-line messages, at the problem's position."""
    line = column = None
    where: str | None = None
    hint: str | None = "check the indentation; quote values that contain ': ', ' #', '{' or '['"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
        parts = [p for p in (exc.context, exc.problem) if p]
        message = "; ".join(parts) or "invalid YAML"
        if isinstance(exc, yaml.constructor.ConstructorError):
            # a value YAML could not build (a bad date, an unknown !tag), not a syntax slip
            hint = "check the value; quote it if it is meant as text"
            if exc.problem_mark is not None:
                where = _path_at(root, exc.problem_mark.line, exc.problem_mark.column)
        else:
            message = "YAML syntax: " + message
    elif isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        message = "the file holds a control character YAML refuses"
        hint = "remove it"
    else:
        message = str(exc)
    if "\\t" in message or "tab" in message.lower():
        hint = "indent with spaces, not tabs"
    return PlanError(
        _one_line(message), path=path, line=line, column=column, field=where, hint=hint
    )


# --------------------------------------------------------------------------------------------
# Small helpers


def _one_line(text: str) -> str:
    """Control characters (newlines, escapes) escaped so an error stays one safe line."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def _clip(value: object, width: int = 40) -> str:
    text = _one_line(str(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def _describe(value: object) -> str:
    """A user-facing name for what YAML made of a value."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a yes/no value)"
    if isinstance(value, int | float):
        return f"a number ({_clip(value)})"
    if isinstance(value, str):
        return f"text ('{_clip(value)}')"
    if isinstance(value, datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, dict):
        return "a mapping (key: value)"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _format_path(parts: Iterable[Hashable]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += ("." if out else "") + _clip(part)
    return out


def _suggest(word: object, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{found[0]}'?" if found else None


def _has_path(data: Any, where: _PathT) -> bool:
    for part in where:
        if isinstance(data, dict):
            try:
                if part not in data:
                    return False
            except TypeError:
                return False
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and not isinstance(part, bool):
            if not 0 <= part < len(data):
                return False
            data = data[part]
        else:
            return False
    return True


def _deep_merge(base: Any, over: Any) -> Any:
    """`defaults` under a session: mappings merge key by key (session wins), the rest is
    replaced whole (a session's list of announcements replaces the default list)."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return over


def _invalid(message: str, hint: str | None = None) -> PydanticCustomError:
    """A validation error whose message and hint reach the PlanError as written."""
    return PydanticCustomError("plan", "{message}", {"message": message, "hint": hint})


# --------------------------------------------------------------------------------------------
# Time: zones, date-times, durations and offsets


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for paths, ...
        return False
    return True


def local_timezone_name() -> str:
    """The machine's IANA zone name, for plans that give no `timezone`.

    `tzlocal` is not available, so: `$TZ`, then the target of /etc/localtime, then
    /etc/timezone, then the abbreviation Python reports (valid for a few, like "UTC" or
    "CET"); "UTC" when none names a known zone.
    """
    candidates: list[str] = []
    env = os.environ.get("TZ")
    if env:
        candidates.append(env.lstrip(":"))
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    candidates.append(str(datetime.now().astimezone().tzinfo or ""))
    for name in candidates:
        if name and _valid_zone(name):
            return name
    return "UTC"


def _zone_hint(name: str) -> str:
    zones = zoneinfo.available_timezones()
    by_lower = {z.lower(): z for z in zones}
    lowered = name.strip().lower()
    if lowered in by_lower:
        return f"did you mean '{by_lower[lowered]}'? (names are case-sensitive)"
    for zone in sorted(zones):
        if zone.lower().rsplit("/", 1)[-1] == lowered.replace(" ", "_"):
            return f"did you mean '{zone}'?"
    close = _suggest(name, zones)
    return close or "use an IANA name like Europe/Paris, America/New_York or UTC"


def _check_timezone(value: str) -> str:
    name = value.strip()
    if not _valid_zone(name):
        raise _invalid(f"unknown time zone '{_clip(value)}'", _zone_hint(name))
    return name


_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_DATETIME_HINT = "write it like 2026-12-03 18:00 (in `timezone`), or 2026-12-03T18:00+01:00"


def _parse_datetime(value: object, what: str) -> datetime:
    """A date-time as YAML gave it (datetime or text); naive means "in the plan's zone"."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        raise _invalid(
            f"{what} needs a time as well as a date",
            f"write {value.isoformat()} 18:00",
        )
    elif isinstance(value, str):
        text = value.strip()
        if _DATE_ONLY.fullmatch(text):
            raise _invalid(f"{what} needs a time as well as a date", f"write {text} 18:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _invalid(
                f"can't read '{_clip(value)}' as a date and time", _DATETIME_HINT
            ) from None
    else:
        raise _invalid(f"expected a date and time, got {_describe(value)}", _DATETIME_HINT)
    if not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        raise _invalid(f"year {parsed.year} is out of range", _DATETIME_HINT)
    return parsed


def _parse_start(value: object) -> datetime:
    return _parse_datetime(value, "start")


_DURATION_HINT = "write 45m, 1h, 1h30m, 90 (minutes) or 1:30"
_DURATION_UNITS = re.compile(
    r"(?:(?P<h>\d{1,4})\s*h(?:ours?|rs?)?)?\s*"
    r"(?:(?P<m>\d{1,6})\s*(?:m|mins?|minutes?)?)?",
    re.IGNORECASE,
)


def _parse_duration(value: object) -> timedelta:
    minutes: float
    if isinstance(value, bool):
        raise _invalid(f"expected a duration, got {_describe(value)}", _DURATION_HINT)
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise _invalid(f"can't read {value} as minutes", _DURATION_HINT)
        minutes = int(value)
    elif isinstance(value, timedelta):
        minutes = value.total_seconds() / 60
    elif isinstance(value, str):
        text = value.strip()
        clock = re.fullmatch(r"(\d{1,2}):([0-5]\d)", text)
        units = _DURATION_UNITS.fullmatch(text)
        if clock:
            minutes = int(clock.group(1)) * 60 + int(clock.group(2))
        elif text and units and (units.group("h") or units.group("m")):
            if units.group("h") is None and not re.search(r"[a-z]", text, re.I):
                minutes = int(units.group("m"))  # a bare number is minutes
            else:
                minutes = int(units.group("h") or 0) * 60 + int(units.group("m") or 0)
        else:
            raise _invalid(f"can't read '{_clip(value)}' as a duration", _DURATION_HINT)
    else:
        raise _invalid(f"expected a duration, got {_describe(value)}", _DURATION_HINT)
    if minutes <= 0:
        raise _invalid("the duration must be more than zero", _DURATION_HINT)
    if minutes > 24 * 60:
        raise _invalid(
            f"a duration of {minutes:g} minutes is more than a day",
            "numbers are minutes: " + _DURATION_HINT,
        )
    return timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class RelativeTime:
    """An offset from the session's start: days are calendar days in the plan's zone (same
    wall time), hours and minutes are elapsed time."""

    sign: int
    days: int = 0
    hours: int = 0
    minutes: int = 0

    @property
    def spec(self) -> str:
        """The canonical form, e.g. "-1d2h" or "0"; stable, so usable in keys."""
        if not (self.days or self.hours or self.minutes):
            return "0"
        parts = "".join(
            f"{n}{unit}"
            for n, unit in ((self.days, "d"), (self.hours, "h"), (self.minutes, "m"))
            if n
        )
        return ("-" if self.sign < 0 else "+") + parts


_OFFSET = re.compile(
    r"(?P<sign>[+-])\s*(?:(?P<w>\d{1,3})\s*w)?\s*(?:(?P<d>\d{1,4})\s*d)?\s*"
    r"(?:(?P<h>\d{1,5})\s*h)?\s*(?:(?P<m>\d{1,6})\s*m(?:in)?)?",
    re.IGNORECASE,
)
_AT_HINT = "write -3d, -1d, -2h, -10m, -1d2h (before the start) or a date and time"


def _parse_at(value: object) -> RelativeTime | datetime:
    if isinstance(value, RelativeTime):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return RelativeTime(sign=1)
    if isinstance(value, str):
        text = value.strip()
        if text in ("0", "start"):
            return RelativeTime(sign=1)
        match = _OFFSET.fullmatch(text)
        if match and any(match.group(g) for g in "wdhm"):
            offset = RelativeTime(
                sign=-1 if match.group("sign") == "-" else 1,
                days=int(match.group("w") or 0) * 7 + int(match.group("d") or 0),
                hours=int(match.group("h") or 0),
                minutes=int(match.group("m") or 0),
            )
            total = timedelta(days=offset.days, hours=offset.hours, minutes=offset.minutes)
            if total > timedelta(days=400):
                raise _invalid(f"'{_clip(value)}' is more than a year from the start", _AT_HINT)
            return offset
        if re.fullmatch(r"\d+\s*[wdhm]\w*", text, re.IGNORECASE):
            raise _invalid(
                f"'{_clip(value)}' needs a sign", f"write -{text} for {text} before the start"
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _invalid(f"'{value}' has no unit", _AT_HINT)
    if isinstance(value, str | datetime | date):
        try:
            return _parse_datetime(value, "at")
        except PydanticCustomError as exc:
            if isinstance(value, str) and not re.match(r"\s*\d{4}-", value):
                raise _invalid(f"can't read '{_clip(value)}' as a time", _AT_HINT) from exc
            raise
    raise _invalid(f"expected a time, got {_describe(value)}", _AT_HINT)


class _GapError(Exception):
    """A wall time that does not exist in the zone (the clocks skip it)."""


def _localize(naive: datetime, tz: ZoneInfo, *, strict: bool = False) -> datetime:
    """A wall time in `tz` as a UTC instant. An ambiguous time (clocks going back) is its
    first occurrence; a skipped one is an error when `strict`, else moved forward."""
    instant = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if strict and instant.astimezone(tz).replace(tzinfo=None) != naive.replace(tzinfo=None):
        raise _GapError
    return instant


def _to_instant(value: datetime, tz: ZoneInfo, *, strict: bool = False) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        return _localize(value, tz, strict=strict)
    return value.astimezone(UTC)


def _shift_days(instant: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Same wall time `days` calendar days away, in `tz` (what "-1d" means)."""
    wall = instant.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    return _localize(wall, tz)


def _resolve_at(at: RelativeTime | datetime, start: datetime, tz: ZoneInfo) -> datetime:
    if isinstance(at, datetime):
        return _to_instant(at, tz)
    moved = _shift_days(start, at.sign * at.days, tz) if at.days else start
    return moved + at.sign * timedelta(hours=at.hours, minutes=at.minutes)


# --------------------------------------------------------------------------------------------
# Field validators


_HASHTAG_BODY = r"[\p{L}\p{M}\p{N}_]+"


def normalize_hashtag(value: str) -> str:
    """`AskAcme` or `#AskAcme` -> `#AskAcme`; raises ValueError (with a fix) when it can't be
    a hashtag: letters, digits and `_` only, and at least one letter."""
    import regex

    tag = value.strip()
    if not tag.startswith("#"):
        tag = "#" + tag
    body = tag[1:]
    if not body:
        raise ValueError("the hashtag is empty|write a tag like #AskAcme")
    if any(ch.isspace() for ch in body):
        joined = "".join(body.split())
        raise ValueError(f"a hashtag can't contain spaces|write #{_clip(joined)}")
    if not regex.fullmatch(_HASHTAG_BODY, body):
        bad = next(ch for ch in body if not regex.fullmatch(_HASHTAG_BODY, ch))
        raise ValueError(f"a hashtag can't contain '{_clip(bad)}'|use letters, digits and _ only")
    if not regex.search(r"[\p{L}]", body):
        raise ValueError("a hashtag needs at least one letter|e.g. #AskAcme2026")
    return tag


def _parse_hashtag(value: object) -> str:
    if not isinstance(value, str):
        raise _invalid(
            f"expected a hashtag, got {_describe(value)}", "write it in quotes: '#AskAcme'"
        )
    try:
        return normalize_hashtag(value)
    except ValueError as exc:
        message, _, hint = str(exc).partition("|")
        raise _invalid(message, hint or None) from exc


_HANDLE = re.compile(r"@?[\w.\-]+(?:@[\w.\-]+)?")


def normalize_handle(value: str) -> str:
    """`acme` -> `@acme`; also `@user@instance.social` (Mastodon), `@alice.bsky.social`."""
    text = value.strip()
    if not _HANDLE.fullmatch(text):
        raise _invalid(f"'{_clip(value)}' is not a handle", "write it like '@acme'")
    return text if text.startswith("@") else "@" + text


def _check_handle(value: str) -> str:
    return normalize_handle(value)


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        hint = "check its brackets and escapes"
        if "escape" in exc.msg:
            hint = "inside double quotes write \\\\ for \\; or use single quotes"
        raise _invalid(f"bad regular expression '{_clip(value)}': {exc.msg}", hint) from exc
    except (RecursionError, OverflowError, ValueError) as exc:
        raise _invalid(f"bad regular expression '{_clip(value)}'", str(exc)) from exc
    return value


_ID = re.compile(r"[^\W_][\w.\-]{0,63}")


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise _invalid(
            f"'{_clip(value)}' can't be a session id",
            "use letters, digits, '-', '_' and '.', like askacme-dec",
        )
    return value


def _post_shorthand(value: object) -> object:
    """`opening: "text"` means {text: ...}; `false`/null/"" means no such post."""
    if value is None or value is False or value == "":
        return None
    if value is True:
        return {}
    if isinstance(value, str):
        return {"text": value}
    return value


def _quiet_shorthand(value: object) -> object:
    if isinstance(value, date | str):
        return {"date": value}
    return value


Handle = Annotated[str, AfterValidator(_check_handle)]


# --------------------------------------------------------------------------------------------
# Models of the file (what the user wrote); unknown keys refused everywhere


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class AnswerSettings(_Strict):
    """How answers go out: `dot` (a ".@user" post), `reply`, `quote` or `dm`."""

    mode: Literal["dot", "reply", "quote", "dm"] = "dot"
    repost_first: bool = True
    append_hashtag: bool = True
    target: int = Field(default=12, ge=1, le=10_000)
    # When an answer goes out in private, tell the asker publicly that it did.
    dm_notice: bool = True


class ModerationSettings(_Strict):
    """Who and what is kept out of the queue."""

    muted: list[Handle] = Field(default_factory=list)
    blocked: list[Handle] = Field(default_factory=list)
    blocked_words: list[str] = Field(default_factory=list)
    # Posts per minute from one author beyond which they are flagged as flooding.
    flood_limit: int = Field(default=5, ge=1, le=10_000)


class RankingWeights(_Strict):
    """Weights of the queue's score; `age` is per minute a question has been waiting."""

    likes: FiniteFloat = 1.0
    reposts: FiniteFloat = 2.0
    duplicates: FiniteFloat = 3.0
    first_time: FiniteFloat = 1.0
    age: FiniteFloat = -0.05
    pinned: FiniteFloat = 100.0


class QuietDate(_Strict):
    """A day to keep clear (an announcement, an incident), with why."""

    date: _date
    note: str = ""


class CrisisPlan(_Strict):
    """Who moderates if a session turns hostile, and what to post first."""

    moderator: Handle | None = None
    holding_statement: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.moderator and self.holding_statement and self.holding_statement.strip())


class PostSpec(_Strict):
    """A planned post as written: text (default when absent) and an optional image."""

    text: str | None = None
    image: str | None = None


class AnnouncementSpec(_Strict):
    at: Annotated[RelativeTime | datetime, PlainValidator(_parse_at)]
    text: str | None = None
    image: str | None = None


PostField = Annotated[PostSpec | None, BeforeValidator(_post_shorthand)]


class SessionSpec(_Strict):
    """One session as written in the file (after `defaults` are merged in)."""

    id: Annotated[str, AfterValidator(_check_id)] | None = None
    title: str | None = None
    platform: Literal["local", "x", "mastodon", "bluesky"] = "local"
    account: Handle | None = None
    hashtag: Annotated[str, PlainValidator(_parse_hashtag)]
    timezone: Annotated[str, AfterValidator(_check_timezone)] | None = None
    start: Annotated[datetime, PlainValidator(_parse_start)]
    duration: Annotated[timedelta, PlainValidator(_parse_duration)] = timedelta(minutes=60)
    announcements: list[AnnouncementSpec] | None = None
    opening: PostField = Field(default_factory=PostSpec)
    closing: PostField = Field(default_factory=PostSpec)
    after_party: PostField = Field(default_factory=PostSpec)
    answers: AnswerSettings = Field(default_factory=AnswerSettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    ranking: RankingWeights = Field(default_factory=RankingWeights)
    sensitive_patterns: list[Annotated[str, AfterValidator(_check_regex)]] = Field(
        default_factory=list
    )
    quiet_dates: list[Annotated[QuietDate, BeforeValidator(_quiet_shorthand)]] = Field(
        default_factory=list
    )
    crisis_plan: CrisisPlan | None = None
    next: str | None = None
    local: dict[str, Any] | None = None
    x: dict[str, Any] | None = None
    mastodon: dict[str, Any] | None = None
    bluesky: dict[str, Any] | None = None


_FIELD_HINTS: dict[str, str] = {
    "hashtag": "e.g. hashtag: '#AskAcme'",
    "start": "e.g. start: 2026-12-03 18:00",
    "at": "e.g. at: -1d",
    "date": "e.g. date: 2026-12-01",
}


def _model_keys_at(loc: tuple[Hashable, ...]) -> list[str] | None:
    """The keys allowed where `loc` points (for "did you mean")."""
    model: type[BaseModel] = SessionSpec
    for part in loc:
        if not isinstance(part, str):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        sub = _find_model(info.annotation)
        if sub is None:
            return None
        model = sub
    return list(model.model_fields)


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _explain(err: ErrorDetails) -> tuple[str, str | None, bool]:
    """(message, hint, points at the key rather than the value) for one Pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    loc = tuple(err["loc"])
    name = loc[-1] if loc else ""
    if kind == "plan":
        return str(ctx.get("message")), cast("str | None", ctx.get("hint")), False
    if kind == "extra_forbidden":
        allowed = _model_keys_at(loc[:-1]) or []
        hint = _suggest(name, allowed)
        if hint is None and allowed:
            hint = "known keys: " + ", ".join(allowed)
        return f"unknown key '{_clip(name)}'", hint, True
    if kind == "invalid_key":
        return f"a key must be text, got {_describe(value)}", None, True
    if kind == "missing":
        return f"missing required key '{_clip(name)}'", _FIELD_HINTS.get(str(name)), False
    if kind in ("model_type", "dict_type", "model_attributes_type", "dataclass_type"):
        return f"expected a mapping (key: value lines), got {_describe(value)}", None, False
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return (
            f"expected a list, got {_describe(value)}",
            "write [a, b] or one '- item' per line",
            False,
        )
    if kind.startswith("string_") and kind != "string_type":
        return err["msg"][0].lower() + err["msg"][1:], None, False
    if kind == "string_type":
        return f"expected text, got {_describe(value)}", "put it in quotes", False
    if kind.startswith("bool"):
        return f"expected true or false, got {_describe(value)}", None, False
    if kind.startswith("int"):
        return f"expected a whole number, got {_describe(value)}", None, False
    if kind == "finite_number":
        return f"expected a finite number, got {_describe(value)}", None, False
    if kind.startswith("float"):
        return f"expected a number, got {_describe(value)}", None, False
    if kind.startswith("date"):
        return f"expected a date, got {_describe(value)}", "write it like 2026-12-01", False
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        got = f"'{_clip(value)}'" if isinstance(value, str) else _describe(value)
        hint = _suggest(value, choices) if isinstance(value, str) else None
        if isinstance(value, str) and value.strip().lower() == "twitter":
            hint = "X/Twitter is 'x'"
        return f"expected one of {', '.join(choices)}; got {got}", hint, False
    message = err["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:], None, False


# --------------------------------------------------------------------------------------------
# The resolved plan: what the rest of the tool reads


@dataclass(frozen=True, slots=True)
class PlannedPost:
    """The opening, closing or after-party post: rendered text, image path, and template."""

    text: str
    image: str | None
    template: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Announcement:
    """One announcement: when (UTC), the rendered text, and a key stable across loads."""

    at: datetime
    text: str
    image: str | None
    key: str
    template: str = field(repr=False)
    offset: str | None = None  # the relative spec ("-3d"), None when an absolute time


PlannedKind = Literal["announcement", "opening", "closing", "after_party"]


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """A post of the timeline; `key` is its idempotency key in the outbox."""

    key: str
    kind: PlannedKind
    at: datetime
    text: str
    image: str | None


class _Source:
    """Where each value of the file sits, and how a path inside one session maps to it (a
    value missing from the session but present in `defaults` points at `defaults`)."""

    def __init__(self, path: str, marks: dict[_PathT, _Mark], raw: Any, defaults: Any) -> None:
        self.path = path
        self.marks = marks
        self.raw = raw
        self.defaults = defaults

    def mark(self, where: _PathT) -> tuple[_PathT, _Mark]:
        while where not in self.marks:
            where = where[:-1]
        return where, self.marks[where]

    def locate(self, index: int, rel: _PathT) -> tuple[_PathT, _PathT, _Mark]:
        """(absolute path of the value, how far it was found, its mark)."""
        own: Any = self.raw["sessions"][index] if isinstance(self.raw, dict) else None
        sub = tuple(rel)
        while True:
            if _has_path(own, sub):
                found = ("sessions", index, *sub)
                break
            if sub and _has_path(self.defaults, sub):
                found = ("defaults", *sub)
                break
            sub = sub[:-1]
        _, mark = self.mark(found)
        return found, sub, mark

    def error(
        self,
        index: int,
        rel: _PathT,
        message: str,
        hint: str | None = None,
        *,
        at_key: bool = False,
    ) -> PlanError:
        found, sub, mark = self.locate(index, rel)
        # A missing key is named in full, at its parent's line.
        label = found + tuple(rel[len(sub) :])
        return PlanError(
            _one_line(message),
            path=self.path,
            line=mark.key_line if at_key else mark.line,
            column=mark.key_column if at_key else mark.column,
            field=_format_path(label) or None,
            hint=_one_line(hint) if hint else None,
        )


@dataclass(frozen=True)
class Session:
    """One session, resolved: instants are aware UTC datetimes (compare them with any clock;
    show them with `local()`), texts are rendered, defaults applied."""

    id: str
    title: str
    platform: str
    account: str | None
    hashtag: str
    timezone: str
    start: datetime
    duration: timedelta
    announcements: list[Announcement]
    opening: PlannedPost | None
    closing: PlannedPost | None
    after_party: PlannedPost | None
    answers: AnswerSettings
    moderation: ModerationSettings
    ranking: RankingWeights
    sensitive_patterns: list[str]
    quiet_dates: list[QuietDate]
    crisis_plan: CrisisPlan | None
    next: str | None
    platform_settings: dict[str, Any]
    line: int
    platform_settings_line: int | None = None
    index: int = 0
    _source: _Source | None = field(default=None, repr=False, compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def local(self, instant: datetime) -> datetime:
        """`instant` on the plan's wall clock."""
        return instant.astimezone(self.tz)

    def line_of(self, *where: Hashable) -> int | None:
        """The file line of a key of this session (e.g. "announcements", 0, "at"), falling
        back to the nearest enclosing key, then to the session's own line."""
        if self._source is None:
            return self.line
        return self._source.locate(self.index, tuple(where))[2].line

    def settings_error(self, exc: ValidationError) -> PlanError:
        """An adapter's validation error of `platform_settings`, pointing into the file."""
        err = min(exc.errors(), key=lambda e: self.line_of(self.platform, *e["loc"]) or 0)
        message, hint, at_key = _explain(err)
        where = (self.platform, *err["loc"])
        if self._source is None:
            return PlanError(message, line=self.platform_settings_line, hint=hint)
        return self._source.error(self.index, where, message, hint, at_key=at_key)

    def with_start(self, new_start: datetime) -> Session:
        """A copy that starts at `new_start` (naive: in the plan's zone), everything planned
        moved by the same delta and re-rendered (rehearsals with --start-now)."""
        start = _to_instant(new_start, self.tz)
        delta = start - self.start
        shifted = dataclasses.replace(self, start=start)
        values = placeholders(shifted)

        def post(item: PlannedPost | None) -> PlannedPost | None:
            if item is None:
                return None
            return dataclasses.replace(item, text=_render(item.template, values))

        return dataclasses.replace(
            shifted,
            announcements=[
                dataclasses.replace(a, at=a.at + delta, text=_render(a.template, values))
                for a in self.announcements
            ],
            opening=post(self.opening),
            closing=post(self.closing),
            after_party=post(self.after_party),
        )


@dataclass(frozen=True)
class Plan:
    """The sessions of one plan file, in file order."""

    path: Path
    sessions: list[Session]

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sessions]

    def get(self, session_id: str | None = None, now: datetime | None = None) -> Session:
        """The session `session_id`; without one, the only session, else the first one not
        yet ended by `now` (the last one when all have ended, so recaps find it)."""
        if session_id is None:
            if len(self.sessions) == 1:
                return self.sessions[0]
            moment = now or datetime.now(UTC)
            upcoming = [s for s in self.sessions if s.end > moment]
            if upcoming:
                return min(upcoming, key=lambda s: s.start)
            return max(self.sessions, key=lambda s: s.start)
        for session in self.sessions:
            if session.id == session_id:
                return session
        known = ", ".join(self.ids)
        maybe = _suggest(session_id, self.ids)
        raise UsageError(
            f"no session '{_clip(session_id)}' in {self.path}",
            hint=(maybe + " " if maybe else "") + f"known sessions: {known}",
        )


# --------------------------------------------------------------------------------------------
# Texts

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


class _TemplateError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


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


def _context(
    *,
    hashtag: str,
    title: str,
    start: datetime,
    tz: ZoneInfo,
    duration: timedelta,
    account: str | None,
    platform: str,
) -> dict[str, str | None]:
    local = start.astimezone(tz)
    end = (start + duration).astimezone(tz)
    return {
        "hashtag": hashtag,
        "title": title,
        "date": f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}",
        "time": f"{local:%H:%M}",
        "end_time": f"{end:%H:%M}",
        "timezone": local.tzname() or str(tz),
        "duration": human_duration(duration),
        "account": account,  # None: a text that uses it is refused
        "platform": platform,
    }


def placeholders(session: Session) -> dict[str, str | None]:
    """The values of {hashtag} {title} {date} {time} ... for `session`."""
    return _context(
        hashtag=session.hashtag,
        title=session.title,
        start=session.start,
        tz=session.tz,
        duration=session.duration,
        account=session.account,
        platform=session.platform,
    )


def _render(template: str, values: Mapping[str, str | None]) -> str:
    out: list[str] = []
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise _TemplateError(
            f"{str(exc).rstrip('.').lower()} in the text", "write {{ and }} for literal braces"
        ) from exc
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name not in values or spec or conversion:
            shown = (
                "{"
                + name
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            close = difflib.get_close_matches(name, PLACEHOLDERS, n=1, cutoff=0.6)
            known = " ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise _TemplateError(
                f"unknown placeholder {_clip(shown)}",
                (f"did you mean {{{close[0]}}}? " if close else "")
                + f"known: {known}; write {{{{ for a literal {{",
            )
        value = values[name]
        if value is None:
            raise _TemplateError(
                "the text uses {" + name + "} but the session has no " + name,
                f"set {name}: in the session, or remove the placeholder",
            )
        out.append(value)
    return "".join(out)


def render_text(template: str, session: Session) -> str:
    """Fill the placeholders of `template` for `session`; `{{` writes a literal `{`."""
    try:
        return _render(template, placeholders(session))
    except _TemplateError as exc:
        where = session._source.path if session._source else "sessions.yaml"
        raise PlanError(exc.message, path=where, hint=exc.hint) from exc


# --------------------------------------------------------------------------------------------
# Loading


def load_plan(path: Path) -> Plan:
    """Read and validate a plan file. Every problem is a one-line `PlanError` with the file,
    line, column, field path and a hint; nothing else escapes."""
    shown = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise PlanError(
            "no plan file", path=shown, hint="run `qa init` to write one, or pass -f PATH"
        ) from None
    except IsADirectoryError:
        raise PlanError("this is a directory, not a plan file", path=shown) from None
    except OSError as exc:
        raise PlanError(f"can't read the plan: {exc.strerror or exc}", path=shown) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanError(
            "the file is not UTF-8 text", path=shown, line=line, hint="save it as UTF-8"
        ) from None
    return parse_plan(text, Path(path))


def parse_plan(text: str, path: Path = Path("sessions.yaml")) -> Plan:
    """`load_plan` on text already read; `path` names the file in errors and anchors
    relative image paths."""
    shown = str(path)
    try:
        return _parse(text, path)
    except PlanError:
        raise
    except RecursionError:
        raise PlanError("the plan is nested too deeply", path=shown, line=1) from None
    except Exception as exc:  # the promise is "never a traceback"
        raise PlanError(
            f"can't read the plan ({type(exc).__name__}: {_clip(exc, 80)})", path=shown, line=1
        ) from None


def _parse(text: str, path: Path) -> Plan:
    shown = str(path)
    loader = _PlanLoader(text)
    root: yaml.Node | None = None
    try:
        root = loader.get_single_node()
        if root is None:
            raise PlanError(
                "the plan file is empty",
                path=shown,
                line=1,
                hint="run `qa init` for a commented plan to start from",
            )
        _check_duplicate_keys(root, shown)
        if _expanded_size(root) > _MAX_VALUES:
            raise PlanError(
                f"the plan holds more than {_MAX_VALUES} values once aliases are expanded",
                path=shown,
                line=1,
            )
        document = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, shown, root) from None
    finally:
        loader.dispose()
    marks = _collect_marks(root)

    def top_error(
        where: _PathT, message: str, hint: str | None = None, key: bool = False
    ) -> PlanError:
        _, mark = _Source(shown, marks, document, None).mark(where)
        return PlanError(
            message,
            path=shown,
            line=mark.key_line if key else mark.line,
            column=mark.key_column if key else mark.column,
            field=_format_path(where) or None,
            hint=hint,
        )

    if not isinstance(document, dict):
        raise top_error(
            (),
            f"the plan must be a mapping with a `sessions:` list, got {_describe(document)}",
            "start the file with `sessions:`",
        )
    for key in document:
        if key in ("sessions", "defaults"):
            continue
        if key in SessionSpec.model_fields:
            raise top_error(
                (key,),
                f"'{_clip(key)}' is a session key, not a top-level one",
                _SESSION_KEYS_HINT,
                key=True,
            )
        hint = (
            _suggest(key, ("sessions", "defaults"))
            or "the top level holds `sessions:` and `defaults:`"
        )
        raise top_error((key,), f"unknown key '{_clip(key)}'", hint, key=True)
    if "sessions" not in document:
        raise top_error((), "missing `sessions:`", _SESSION_KEYS_HINT)
    defaults = document.get("defaults")
    if defaults is None:
        defaults = {}
    elif not isinstance(defaults, dict):
        raise top_error(
            ("defaults",),
            f"expected a mapping of session keys, got {_describe(defaults)}",
            "e.g. defaults: {platform: local, timezone: Europe/Paris}",
        )
    sessions = document["sessions"]
    if isinstance(sessions, dict):
        raise top_error(
            ("sessions",),
            "expected a list of sessions, got a mapping",
            "put '- ' before the first key of each session",
        )
    if not isinstance(sessions, list):
        raise top_error(("sessions",), f"expected a list of sessions, got {_describe(sessions)}")
    if not sessions:
        raise top_error(
            ("sessions",), "the plan has no sessions", "add one: `- hashtag: '#AskUs'` and `start:`"
        )
    source = _Source(shown, marks, document, defaults)
    resolved: list[Session] = []
    for index, raw in enumerate(sessions):
        resolved.append(_resolve_session(index, raw, defaults, source, path))
    _check_unique_ids(resolved, source)
    return Plan(path=path, sessions=resolved)


def _check_unique_ids(sessions: list[Session], source: _Source) -> None:
    first: dict[str, Session] = {}
    for session in sessions:
        if session.id in first:
            raise source.error(
                session.index,
                ("id",),
                f"session id '{session.id}' is used twice (also on line {first[session.id].line})",
                "give each session its own `id:`",
            )
        first[session.id] = session


def _resolve_session(
    index: int, raw: Any, defaults: dict[Any, Any], source: _Source, path: Path
) -> Session:
    merged = _deep_merge(defaults, raw) if isinstance(raw, dict) else raw
    try:
        spec = SessionSpec.model_validate(merged)
    except ValidationError as exc:
        candidates = []
        for err in exc.errors():
            message, hint, at_key = _explain(err)
            candidates.append(source.error(index, tuple(err["loc"]), message, hint, at_key=at_key))
        # Report the first problem in file order, so fixing top-down works.
        raise min(candidates, key=lambda e: (e.line or 0, e.column or 0)) from None

    def fail(where: _PathT, message: str, hint: str | None = None) -> PlanError:
        return source.error(index, where, message, hint)

    tzname = spec.timezone or local_timezone_name()
    tz = ZoneInfo(tzname)
    try:
        start = _to_instant(spec.start, tz, strict=True)
    except _GapError:
        raise fail(
            ("start",),
            f"{spec.start:%Y-%m-%d %H:%M} does not exist in {tzname} (the clocks skip it)",
            "pick a time outside the daylight-saving change",
        ) from None
    hashtag = spec.hashtag
    title = spec.title if spec.title is not None else f"{hashtag} live Q&A"
    session_id = spec.id or f"{hashtag[1:].lower()}-{start.astimezone(tz).date().isoformat()}"
    if not _ID.fullmatch(session_id):
        session_id = f"session-{start.astimezone(tz).date().isoformat()}"
    values = _context(
        hashtag=hashtag,
        title=title,
        start=start,
        tz=tz,
        duration=spec.duration,
        account=spec.account,
        platform=spec.platform,
    )
    base_dir = path.parent

    def image_path(image: str | None) -> str | None:
        if image is None:
            return None
        candidate = Path(image).expanduser()
        return str(candidate if candidate.is_absolute() else base_dir / candidate)

    def render(template: str, where: _PathT) -> str:
        try:
            return _render(template, values)
        except _TemplateError as exc:
            raise fail(where, exc.message, exc.hint) from None

    if spec.announcements is None:
        own = raw if isinstance(raw, dict) else {}
        explicit_none = "announcements" in own or "announcements" in defaults
        specs = (
            []
            if explicit_none
            else [AnnouncementSpec(at=_parse_at(at)) for at in DEFAULT_ANNOUNCEMENTS]
        )
    else:
        specs = spec.announcements
    start_day = start.astimezone(tz).date()
    announcements: list[Announcement] = []
    used_keys: dict[str, int] = {}
    for i, item in enumerate(specs):
        at = _resolve_at(item.at, start, tz)
        if isinstance(item.at, RelativeTime):
            offset: str | None = item.at.spec
            base_key = f"announcement:{offset}"
        else:
            offset = None
            base_key = f"announcement:{at.astimezone(tz).isoformat(timespec='minutes')}"
        used_keys[base_key] = used_keys.get(base_key, 0) + 1
        key = base_key if used_keys[base_key] == 1 else f"{base_key}~{used_keys[base_key]}"
        if item.text is not None:
            if not item.text.strip():
                raise fail(
                    ("announcements", i, "text"),
                    "the text is empty",
                    "remove `text:` for the default text",
                )
            template = item.text
        elif at >= start:
            template = DEFAULT_TEXTS["start"]
        elif at.astimezone(tz).date() == start_day:
            template = DEFAULT_TEXTS["day"]
        elif at.astimezone(tz).date() == start_day - timedelta(days=1):
            template = DEFAULT_TEXTS["tomorrow"]
        else:
            template = DEFAULT_TEXTS["ahead"]
        announcements.append(
            Announcement(
                at=at,
                text=render(template, ("announcements", i, "text")),
                image=image_path(item.image),
                key=key,
                template=template,
                offset=offset,
            )
        )

    def planned(item: PostSpec | None, name: str) -> PlannedPost | None:
        if item is None:
            return None
        if item.text is not None and not item.text.strip():
            return None  # `text: ""` switches the post off, like `false`
        template = item.text if item.text is not None else DEFAULT_TEXTS[name]
        return PlannedPost(
            text=render(template, (name, "text")), image=image_path(item.image), template=template
        )

    settings = getattr(spec, spec.platform)
    settings_line = None
    if settings is not None:
        settings_line = source.locate(index, (spec.platform,))[2].key_line
    return Session(
        id=session_id,
        title=title,
        platform=spec.platform,
        account=spec.account,
        hashtag=hashtag,
        timezone=tzname,
        start=start,
        duration=spec.duration,
        announcements=announcements,
        opening=planned(spec.opening, "opening"),
        closing=planned(spec.closing, "closing"),
        after_party=planned(spec.after_party, "after_party"),
        answers=spec.answers,
        moderation=spec.moderation,
        ranking=spec.ranking,
        sensitive_patterns=list(spec.sensitive_patterns),
        quiet_dates=list(spec.quiet_dates),
        crisis_plan=spec.crisis_plan,
        next=spec.next,
        platform_settings=dict(settings or {}),
        line=source.locate(index, ())[2].line,
        platform_settings_line=settings_line,
        index=index,
        _source=source,
    )


# --------------------------------------------------------------------------------------------
# Timeline


_KIND_ORDER: dict[str, int] = {"announcement": 0, "opening": 1, "closing": 2, "after_party": 3}


def timeline(session: Session) -> list[PlannedItem]:
    """Everything the plan posts for `session`, by time: announcements, the opening at the
    start, the closing at the end, the after-party line a minute later."""
    items = [
        PlannedItem(a.key, "announcement", a.at, a.text, a.image) for a in session.announcements
    ]
    posts: tuple[tuple[PlannedKind, PlannedPost | None, datetime], ...] = (
        ("opening", session.opening, session.start),
        ("closing", session.closing, session.end),
        ("after_party", session.after_party, session.end + timedelta(minutes=1)),
    )
    for kind, post, at in posts:
        if post is not None:
            items.append(PlannedItem(kind, kind, at, post.text, post.image))
    return sorted(items, key=lambda item: (item.at, _KIND_ORDER[item.kind]))


# --------------------------------------------------------------------------------------------
# Lints: the product's rules, as warnings


@dataclass(frozen=True, slots=True)
class Lint:
    """One warning about the plan."""

    code: str
    session_id: str | None
    message: str
    line: int | None
    path: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: warning: [{self.code}] {self.message}"


HASHTAG_MAX = 20
NIGHT_START, NIGHT_END = time(22, 0), time(7, 0)
QUIET_MARGIN = timedelta(hours=48)


def _carries(text: str, hashtag: str) -> bool:
    return re.search(re.escape(hashtag) + r"(?!\w)", text, re.IGNORECASE) is not None


def _item_line(session: Session, item: PlannedItem) -> int | None:
    if item.kind == "announcement":
        for i, announcement in enumerate(session.announcements):
            if announcement.key == item.key:
                return session.line_of("announcements", i)
    return session.line_of(item.kind)


def _item_name(item: PlannedItem) -> str:
    if item.kind == "announcement":
        return "announcement " + item.key.split(":", 1)[1]
    return item.kind.replace("_", "-")


def lint_plan(
    plan: Plan,
    now: datetime,
    length_limits: Callable[[str], tuple[int, str]] | None = None,
) -> list[Lint]:
    """Warnings about `plan` as of `now` (aware), sorted by line. `length_limits(platform)`
    gives (max length, counting method); the default knows the four built-in platforms."""
    limits = length_limits or (lambda name: DEFAULT_LENGTH_LIMITS.get(name, (280, "x")))
    shown = str(plan.path)
    out: list[Lint] = []
    for session in plan.sessions:

        def warn(code: str, message: str, line: int | None, s: Session = session) -> None:
            out.append(Lint(code, s.id, _one_line(message), line, shown))

        _lint_session(session, plan, now, limits, warn)
    _lint_overlaps(plan, out)
    return sorted(out, key=lambda lint: (lint.line or 0, lint.code))


def _lint_session(
    session: Session,
    plan: Plan,
    now: datetime,
    limits: Callable[[str], tuple[int, str]],
    warn: Callable[[str, str, int | None], None],
) -> None:
    tz = session.tz
    start_local = session.local(session.start)
    tag_line = session.line_of("hashtag")
    if len(session.hashtag) > HASHTAG_MAX:
        warn(
            "hashtag-length",
            f"hashtag {session.hashtag} is {len(session.hashtag)} characters; keep it to "
            f"{HASHTAG_MAX} or fewer so people can type it and it leaves room in every post",
            tag_line,
        )
    if not session.hashtag.lower().startswith("#ask"):
        warn(
            "hashtag-ask",
            f"hashtag {session.hashtag} does not start with #Ask; #Ask... tags tell people "
            "at a glance that they can ask",
            tag_line,
        )
    minutes = session.duration.total_seconds() / 60
    if not 30 <= minutes <= 90:
        warn(
            "duration",
            f"the session lasts {human_duration(session.duration)}; 30 to 90 minutes works best",
            session.line_of("duration"),
        )
    wall = start_local.time()
    if wall >= NIGHT_START or wall < NIGHT_END:
        warn(
            "night",
            f"the session starts at {wall:%H:%M} {start_local.tzname()}, at night in "
            f"{session.timezone}; pick a time when your audience is online",
            session.line_of("start"),
        )
    if session.start < now:
        ended = "ended" if session.end <= now else "started"
        warn(
            "past",
            f"the session {ended} in the past ({start_local:%Y-%m-%d %H:%M} {session.timezone})",
            session.line_of("start"),
        )
    day_before = _shift_days(session.start, -1, tz)
    announcements_line = session.line_of("announcements")
    if not any(a.at <= day_before for a in session.announcements):
        warn(
            "no-announcement-ahead",
            "no announcement a day or more before the start; announce days ahead and "
            "collect questions early (e.g. `- at: -3d`)",
            announcements_line,
        )
    if not any(
        a.at <= session.start and session.local(a.at).date() == start_local.date()
        for a in session.announcements
    ):
        warn(
            "no-announcement-on-day",
            "no announcement on the day of the session (e.g. `- at: -1h`)",
            announcements_line,
        )
    if session.opening is None:
        warn(
            "no-opening",
            "no opening post; open with a post (and a photo) saying the session has started",
            session.line_of("opening"),
        )
    if session.closing is None:
        warn(
            "no-closing",
            "no closing post; end at the announced time with a post that says so",
            session.line_of("closing"),
        )
    max_length, method = limits(session.platform)
    items = timeline(session)
    for item in items:
        line = _item_line(session, item)
        if not _carries(item.text, session.hashtag):
            warn(
                "no-hashtag",
                f"the {_item_name(item)} text does not carry {session.hashtag}",
                line,
            )
        length = count_length(item.text, cast(LengthMethod, method))
        if length > max_length:
            warn(
                "too-long",
                f"the {_item_name(item)} text is {length} characters ({method} count); "
                f"the limit on {session.platform} is {max_length}",
                line,
            )
        if item.image is not None and not Path(item.image).is_file():
            warn("image-missing", f"image {item.image} of the {_item_name(item)} not found", line)
    _lint_quiet_dates(session, items, warn)
    if session.next is not None:
        if session.next == session.id:
            warn("next-unknown", "`next` names this same session", session.line_of("next"))
        elif session.next not in plan.ids:
            maybe = _suggest(session.next, plan.ids)
            warn(
                "next-unknown",
                f"`next` names '{session.next}', which is not a session of this plan"
                + (f"; {maybe}" if maybe else ""),
                session.line_of("next"),
            )


def _lint_quiet_dates(
    session: Session,
    items: list[PlannedItem],
    warn: Callable[[str, str, int | None], None],
) -> None:
    tz = session.tz
    for i, quiet in enumerate(session.quiet_dates):
        day_start = _localize(datetime.combine(quiet.date, time(0)), tz)
        day_end = _shift_days(day_start, 1, tz)
        low, high = day_start - QUIET_MARGIN, day_end + QUIET_MARGIN
        near: list[str] = []
        if session.start < high and session.end > low:
            near.append("the session")
        near += [
            _item_name(it) for it in items if it.kind == "announcement" and low <= it.at < high
        ]
        if not near:
            continue
        note = f" ({quiet.note})" if quiet.note else ""
        message = (
            f"{', '.join(near)} within 48 hours of quiet date {quiet.date.isoformat()}{note}; "
            "bad timing can turn a session into a crisis"
        )
        if session.crisis_plan is None or not session.crisis_plan.complete:
            message += ": move it, or add a crisis_plan with a moderator and a holding_statement"
        warn("quiet-date", message, session.line_of("quiet_dates", i))


def _lint_overlaps(plan: Plan, out: list[Lint]) -> None:
    ordered = sorted(plan.sessions, key=lambda s: s.start)
    for i, earlier in enumerate(ordered):
        for later in ordered[i + 1 :]:
            if later.start >= earlier.end:
                break
            local = earlier.local(earlier.start)
            out.append(
                Lint(
                    "overlap",
                    later.id,
                    f"session '{later.id}' overlaps session '{earlier.id}' "
                    f"({local:%Y-%m-%d %H:%M}, {human_duration(earlier.duration)})",
                    later.line,
                    str(plan.path),
                )
            )


# --------------------------------------------------------------------------------------------
# `qa init`

INIT_TEMPLATE = string.Template(
    """\
# sessions.yaml: the plan of your Q&A sessions. `qa plan` checks it and shows the timeline;
# `qa run` hosts a session. The tool never rewrites this file.
#
# Times are wall-clock times in the session's `timezone`. Texts may use the placeholders
# {hashtag} {title} {date} {time} {end_time} {timezone} {duration} {account} {platform};
# write {{ for a literal {.

# defaults:                # keys here apply to every session below; a session's own keys win
#   timezone: $timezone_bare
#   quiet_dates: []

sessions:
  - id: ${id}# a short name for commands: `qa run $id_bare`
    title: ${title}# shown in the recap, the calendar entry and {title}
    platform: ${platform}# local (built in, for rehearsals), x, mastodon or bluesky
    # account: "@yourhandle"   # the host's account; fills {account}
    hashtag: ${hashtag}# short and specific, best starting with #Ask, at most 20 characters
    timezone: ${timezone}# an IANA time zone name, e.g. Europe/Paris or America/New_York
    start: ${start}# date and time of the start, in `timezone` (or with +01:00)
    duration: 60m         # 30 to 90 minutes works best: 45m, 1h, 1h30m, 90 (minutes), 1:30

    # When to announce the session: relative to the start (-3d, -1d, -2h, -10m, -1d2h; "d"
    # keeps the wall time, h and m are hours and minutes) or a date and time. Announce days
    # ahead to collect questions early, and again on the day.
    announcements:
      - at: -3d
        text: $ahead
      - at: -1d
        text: $tomorrow
      - at: -1h
        text: $day
        # image: announcement.png   # optional picture, path relative to this file

    opening:              # posted at the start: say the session has started
      text: $opening
      # image: team-photo.png       # a photo makes the opening stand out
    closing:              # posted at the end, at the announced time
      text: $closing
    after_party:          # a minute after the end; `after_party: false` for none
      text: $after_party

    answers:
      mode: dot           # dot (a ".@user" post all followers see), reply, quote or dm
      repost_first: true  # repost the question first, so every follower sees what was asked
      append_hashtag: true   # add the hashtag to every answer
      target: 12          # answers to aim for: about a dozen in an hour is a good session
      dm_notice: true     # when answering in private, say publicly that an answer was sent

    moderation:
      muted: []           # handles whose posts stay out of the queue, e.g. ["@troll"]
      blocked: []         # handles blocked on the platform
      blocked_words: []   # posts with these words stay out of the queue
      flood_limit: 5      # posts per minute from one author before they count as a flood

    ranking:              # weights of the queue's score (the best questions first)
      likes: 1.0
      reposts: 2.0
      duplicates: 3.0     # per other asker of the same question
      first_time: 1.0     # someone who has not asked before
      age: -0.05          # per minute the question has been waiting
      pinned: 100.0       # a question you pinned

    # Extra regular expressions of private data (customer numbers...): such questions are
    # flagged, answered in private and never echoed. Single quotes keep backslashes.
    sensitive_patterns: []   # e.g. ['CUST-\\d{6}']

    # Days to keep clear (a price change, an incident): sessions and announcements within
    # 48 hours of one are flagged.
    quiet_dates: []       # e.g. [{date: 2026-12-01, note: "price change announced"}]
    # crisis_plan:        # who moderates, and what to post first, if it turns hostile
    #   moderator: "@sam"
    #   holding_statement: "We hear you. We'll answer the main concerns in a post today."

    # next: askus-next    # the id of the next session of the series, teased at the end

    # Platform settings go under the platform's name (local, x, mastodon, bluesky);
    # `qa doctor` checks them. Credentials never go in this file: use environment variables.
    # $platform_bare: {}
"""
)


def _next_default_start(now: datetime, tz: ZoneInfo) -> datetime:
    """18:00 on the first weekday at least four days away, so the default -3d announcement is
    still ahead when the plan is written."""
    day = now.astimezone(tz).date() + timedelta(days=4)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(18, 0))


def render_init(
    hashtag: str | None = None,
    start: str | None = None,
    platform: str | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """A commented `sessions.yaml` explaining every key, valid as written. Raises
    `UsageError` for a bad hashtag, start or platform."""
    tzname = local_timezone_name()
    tz = ZoneInfo(tzname)
    try:
        tag = normalize_hashtag(hashtag if hashtag is not None else "#AskUs")
    except ValueError as exc:
        message, _, hint = str(exc).partition("|")
        raise UsageError(f"bad hashtag: {message}", hint=hint or None) from None
    if platform is None:
        platform = "local"
    if platform not in PLATFORMS:
        maybe = _suggest(platform, PLATFORMS)
        raise UsageError(
            f"unknown platform '{_clip(platform)}'",
            hint=(maybe + " " if maybe else "") + "known: " + ", ".join(PLATFORMS),
        )
    if start is None:
        wall = _next_default_start(now or datetime.now(UTC), tz)
    else:
        try:
            parsed = _parse_datetime(start, "start")
        except PydanticCustomError as exc:
            ctx = exc.context or {}
            raise UsageError(f"bad start: {ctx.get('message')}", hint=ctx.get("hint")) from None
        wall = parsed if parsed.tzinfo is None else parsed.astimezone(tz).replace(tzinfo=None)
    session_id = f"{tag[1:].lower()}-{wall.date().isoformat()}"
    if not _ID.fullmatch(session_id):
        session_id = f"session-{wall.date().isoformat()}"

    def quote(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    def column(key: str, value: str) -> str:
        # pad so the comments line up with those of the fixed lines
        return value + " " * max(1, 26 - len(f"    {key}: {value}"))

    return INIT_TEMPLATE.substitute(
        id=column("id", session_id),
        id_bare=session_id,
        title=column("title", quote(f"{tag} live Q&A")),
        platform=column("platform", platform),
        platform_bare=platform,
        hashtag=column("hashtag", quote(tag)),
        timezone=column("timezone", tzname),
        timezone_bare=tzname,
        start=column("start", f"{wall:%Y-%m-%d %H:%M}"),
        ahead=quote(DEFAULT_TEXTS["ahead"]),
        tomorrow=quote(DEFAULT_TEXTS["tomorrow"]),
        day=quote(DEFAULT_TEXTS["day"]),
        opening=quote(DEFAULT_TEXTS["opening"]),
        closing=quote(DEFAULT_TEXTS["closing"]),
        after_party=quote(DEFAULT_TEXTS["after_party"]),
    )
