"""Reading one value of the plan: zones, date-times, durations, relative times, hashtags,
handles, ids, regular expressions and image paths; and the time arithmetic of the plan's zone.

Each parser raises `invalid(message, hint)`, which the models turn into a file:line error.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic_core import PydanticCustomError

from qasession.plan.limits import MAX_NAME_BYTES, MAX_PATH, MAX_PATTERN, MAX_YEAR, MIN_YEAR
from qasession.plan.messages import clip, describe, invalid, suggest

# --------------------------------------------------------------------------------------------
# Time zones


def valid_zone(name: str) -> bool:
    """Whether `name` is an IANA zone this machine knows."""
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError, TypeError):  # not found, a path, too long, ...
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
    with contextlib.suppress(OSError):
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    candidates.append(str(datetime.now().astimezone().tzinfo or ""))
    for name in candidates:
        if name and valid_zone(name):
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
    return suggest(name, zones) or "use an IANA name like Europe/Paris, America/New_York or UTC"


def check_timezone(value: str) -> str:
    name = value.strip()
    if not valid_zone(name):
        raise invalid(f"unknown time zone '{clip(value)}'", _zone_hint(name))
    return name


# --------------------------------------------------------------------------------------------
# Dates and date-times

_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_DATETIME_HINT = "write it like 2026-12-03 18:00 (in `timezone`), or 2026-12-03T18:00+01:00"
_YEARS = f"years {MIN_YEAR} to {MAX_YEAR}"


def parse_datetime(value: object, what: str) -> datetime:
    """A date-time as YAML gave it (datetime or text); naive means "in the plan's zone"."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        raise invalid(f"{what} needs a time as well as a date", f"write {value.isoformat()} 18:00")
    elif isinstance(value, str):
        text = value.strip()
        if _DATE_ONLY.fullmatch(text):
            raise invalid(f"{what} needs a time as well as a date", f"write {text} 18:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise invalid(
                f"can't read '{clip(value)}' as a date and time", _DATETIME_HINT
            ) from None
    else:
        raise invalid(f"expected a date and time, got {describe(value)}", _DATETIME_HINT)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise invalid(f"year {parsed.year} is out of range ({_YEARS})", _DATETIME_HINT)
    return parsed


def parse_start(value: object) -> datetime:
    return parse_datetime(value, "start")


# --------------------------------------------------------------------------------------------
# Durations

_DURATION_HINT = "write 45m, 1h, 1h30m, 90 (minutes) or 1:30"
_CLOCK = re.compile(r"(\d{1,2}):([0-5]\d)")
_DURATION_UNITS = re.compile(
    r"(?:(?P<h>\d{1,4})\s*h(?:ours?|rs?)?)?\s*"
    r"(?:(?P<m>\d{1,6})\s*(?:m|mins?|minutes?)?)?",
    re.IGNORECASE,
)


def _duration_text(value: str) -> int:
    text = value.strip()
    clock = _CLOCK.fullmatch(text)
    if clock:
        return int(clock.group(1)) * 60 + int(clock.group(2))
    units = _DURATION_UNITS.fullmatch(text)
    if not (text and units and (units.group("h") or units.group("m"))):
        raise invalid(f"can't read '{clip(value)}' as a duration", _DURATION_HINT)
    if units.group("h") is None and not re.search(r"[a-z]", text, re.I):
        return int(units.group("m"))  # a bare number is minutes
    return int(units.group("h") or 0) * 60 + int(units.group("m") or 0)


def _duration_minutes(value: object) -> float:
    if isinstance(value, bool):
        raise invalid(f"expected a duration, got {describe(value)}", _DURATION_HINT)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise invalid(f"can't read {value} as minutes", _DURATION_HINT)
        return int(value)
    if isinstance(value, timedelta):
        return value.total_seconds() / 60
    if isinstance(value, str):
        return _duration_text(value)
    raise invalid(f"expected a duration, got {describe(value)}", _DURATION_HINT)


def parse_duration(value: object) -> timedelta:
    minutes = _duration_minutes(value)
    if minutes <= 0:
        raise invalid("the duration must be more than zero", _DURATION_HINT)
    if minutes > 24 * 60:
        raise invalid(
            f"a duration of {minutes:g} minutes is more than a day",
            "numbers are minutes: " + _DURATION_HINT,
        )
    return timedelta(minutes=minutes)


# --------------------------------------------------------------------------------------------
# Times of announcements: relative to the start, or absolute


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
_UNSIGNED = re.compile(r"\d+\s*[wdhm]\w*", re.IGNORECASE)
_AT_HINT = "write -3d, -1d, -2h, -10m, -1d2h (before the start) or a date and time"
_MAX_OFFSET = timedelta(days=400)


def _parse_offset(value: str) -> RelativeTime | None:
    text = value.strip()
    if text in ("0", "start"):
        return RelativeTime(sign=1)
    match = _OFFSET.fullmatch(text)
    if not (match and any(match.group(g) for g in "wdhm")):
        if _UNSIGNED.fullmatch(text):
            raise invalid(
                f"'{clip(value)}' needs a sign", f"write -{text} for {text} before the start"
            )
        return None
    offset = RelativeTime(
        sign=-1 if match.group("sign") == "-" else 1,
        days=int(match.group("w") or 0) * 7 + int(match.group("d") or 0),
        hours=int(match.group("h") or 0),
        minutes=int(match.group("m") or 0),
    )
    if timedelta(days=offset.days, hours=offset.hours, minutes=offset.minutes) > _MAX_OFFSET:
        raise invalid(f"'{clip(value)}' is more than a year from the start", _AT_HINT)
    return offset


def parse_at(value: object) -> RelativeTime | datetime:
    """`at:` of an announcement: an offset from the start, or a date and time."""
    if isinstance(value, RelativeTime):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return RelativeTime(sign=1)
    if isinstance(value, str):
        offset = _parse_offset(value)
        if offset is not None:
            return offset
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise invalid(f"'{value}' has no unit", _AT_HINT)
    if not isinstance(value, str | datetime | date):
        raise invalid(f"expected a time, got {describe(value)}", _AT_HINT)
    try:
        return parse_datetime(value, "at")
    except PydanticCustomError as exc:
        if isinstance(value, str) and not re.match(r"\s*\d{4}-", value):
            raise invalid(f"can't read '{clip(value)}' as a time", _AT_HINT) from exc
        raise


class GapError(Exception):
    """A wall time that does not exist in the zone (the clocks skip it)."""


def localize(naive: datetime, tz: ZoneInfo, *, strict: bool = False) -> datetime:
    """A wall time in `tz` as a UTC instant. An ambiguous time (clocks going back) is its
    first occurrence; a skipped one is an error when `strict`, else moved forward."""
    instant = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if strict and instant.astimezone(tz).replace(tzinfo=None) != naive.replace(tzinfo=None):
        raise GapError
    return instant


def to_instant(value: datetime, tz: ZoneInfo, *, strict: bool = False) -> datetime:
    """An aware UTC instant: naive values are wall times in `tz`."""
    if value.tzinfo is None or value.utcoffset() is None:
        return localize(value, tz, strict=strict)
    return value.astimezone(UTC)


def shift_days(instant: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Same wall time `days` calendar days away, in `tz` (what "-1d" means)."""
    wall = instant.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    return localize(wall, tz)


def resolve_at(at: RelativeTime | datetime, start: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of an announcement's `at:` for a session starting at `start`."""
    if isinstance(at, datetime):
        return to_instant(at, tz)
    moved = shift_days(start, at.sign * at.days, tz) if at.days else start
    return moved + at.sign * timedelta(hours=at.hours, minutes=at.minutes)


# --------------------------------------------------------------------------------------------
# Hashtags, handles, ids, patterns, paths

_HASHTAG_BODY = r"[\p{L}\p{M}\p{N}_]+"
# The same test for an ASCII tag (ASCII letters are its only \p{L}, digits its only \p{N}, and
# it has no \p{M}), without importing `regex` (a tenth of `qa plan`'s start-up)
_ASCII_HASHTAG_BODY = re.compile(r"[A-Za-z0-9_]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def normalize_hashtag(value: str) -> str:
    """`AskAcme` or `#AskAcme` -> `#AskAcme`; raises ValueError (with a fix) when it can't be
    a hashtag: letters, digits and `_` only, and at least one letter."""
    tag = value.strip()
    if not tag.startswith("#"):
        tag = "#" + tag
    body = tag[1:]
    if not body:
        raise ValueError("the hashtag is empty|write a tag like #AskAcme")
    if any(ch.isspace() for ch in body):
        joined = "".join(body.split())
        raise ValueError(f"a hashtag can't contain spaces|write #{clip(joined)}")
    if body.isascii():
        fits, letter = _ASCII_HASHTAG_BODY.fullmatch, _ASCII_LETTER.search
    else:
        import regex

        fits = functools.partial(regex.fullmatch, _HASHTAG_BODY)
        letter = functools.partial(regex.search, r"[\p{L}]")
    if not fits(body):
        bad = next(ch for ch in body if not fits(ch))
        raise ValueError(f"a hashtag can't contain '{clip(bad)}'|use letters, digits and _ only")
    if not letter(body):
        raise ValueError("a hashtag needs at least one letter|e.g. #AskAcme2026")
    return tag


def parse_hashtag(value: object) -> str:
    if not isinstance(value, str):
        raise invalid(
            f"expected a hashtag, got {describe(value)}", "write it in quotes: '#AskAcme'"
        )
    try:
        return normalize_hashtag(value)
    except ValueError as exc:
        message, _, hint = str(exc).partition("|")
        raise invalid(message, hint or None) from exc


_HANDLE = re.compile(r"@?[\w.\-]+(?:@[\w.\-]+)?")


def normalize_handle(value: str) -> str:
    """`acme` -> `@acme`; also `@user@instance.social` (Mastodon), `@alice.bsky.social`."""
    text = value.strip()
    if len(text) > 320 or not _HANDLE.fullmatch(text):
        raise invalid(f"'{clip(value)}' is not a handle", "write it like '@acme'")
    return text if text.startswith("@") else "@" + text


def check_regex(value: str) -> str:
    if len(value) > MAX_PATTERN:
        raise invalid(
            f"the regular expression is {len(value):,} characters long",
            f"keep it to {MAX_PATTERN:,} or fewer",
        )
    try:
        re.compile(value)
    except re.error as exc:
        hint = "check its brackets and escapes"
        if "escape" in exc.msg:
            hint = "inside double quotes write \\\\ for \\; or use single quotes"
        raise invalid(f"bad regular expression '{clip(value)}': {exc.msg}", hint) from exc
    except (RecursionError, OverflowError, ValueError) as exc:
        raise invalid(f"bad regular expression '{clip(value)}'", str(exc)) from exc
    return value


SESSION_ID = re.compile(r"[^\W_][\w.\-]{0,63}")


def check_id(value: str) -> str:
    if not SESSION_ID.fullmatch(value):
        raise invalid(
            f"'{clip(value)}' can't be a session id",
            "use letters, digits, '-', '_' and '.', like askacme-dec",
        )
    return value


def check_image_path(value: str) -> str:
    """An image path the system can look up: not empty, not too long, each name at most
    255 bytes (longer ones make every file call fail with "file name too long")."""
    if not value.strip():
        raise invalid("the image path is empty", "remove `image:` or name a file")
    if len(value) > MAX_PATH:
        raise invalid(
            f"the image path is {len(value):,} characters long; at most {MAX_PATH:,} are allowed",
            "name a shorter path",
        )
    for part in re.split(r"[/\\]", value):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise invalid(
                f"the image path has a name of more than {MAX_NAME_BYTES} bytes ('{clip(part)}')",
                "file systems refuse such names; rename the file",
            )
    return value


def image_path(image: str | None, base_dir: Path) -> str | None:
    """Where an image is: `~` expanded (left as is for an unknown user), relative paths from
    the plan file's folder."""
    if image is None:
        return None
    candidate = Path(os.path.expanduser(image))
    return str(candidate if candidate.is_absolute() else base_dir / candidate)


def post_shorthand(value: object) -> object:
    """`opening: "text"` means {text: ...}; `false`/null/"" means no such post."""
    if value is None or value is False or value == "":
        return None
    if value is True:
        return {}
    if isinstance(value, str):
        return {"text": value}
    return value


def quiet_shorthands(value: object) -> object:
    """`- 2026-12-01` in `quiet_dates` means {date: 2026-12-01} (one call for the list)."""
    if isinstance(value, list):
        return [{"date": item} if isinstance(item, date | str) else item for item in value]
    return value


def pattern_shorthand(value: object) -> object:
    """`- 'CUST-\\d{6}'` means {pattern: 'CUST-\\d{6}'} (found things called private data)."""
    if isinstance(value, str):
        return {"pattern": value}
    return value
