"""`qa init`: the commented plan to start from, valid as written and quiet under the lints."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic_core import PydanticCustomError

from qasession.errors import UsageError
from qasession.plan.adapters import platform_names
from qasession.plan.messages import clip, suggest
from qasession.plan.models import ranking_defaults
from qasession.plan.texts import DEFAULT_TEXTS
from qasession.plan.values import SESSION_ID, local_timezone_name, normalize_hashtag, parse_datetime

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
      approval: false     # team mode: answers wait as drafts until an approver approves them
      approve_planned: false   # ... and so do announcements, the opening and the closing

    moderation:
      muted: []           # handles whose posts stay out of the queue, e.g. ["@troll"]
      blocked: []         # handles blocked on the platform
      blocked_words: []   # posts with these words stay out of the queue
      flood_limit: 5      # posts per minute from one author before they count as a flood

    ranking:              # weights of the queue's score (the best questions first)
$ranking
    # Extra regular expressions of private data (customer numbers...): such questions are
    # flagged, answered in private and never echoed; shared texts say "[LABEL removed]"
    # instead. A pattern alone, or with a label. Single quotes keep backslashes.
    sensitive_patterns: []   # e.g. ['CUST-\\d{6}', {pattern: 'C-\\d{8}', label: contract number}]

    # Days to keep clear (a price change, an incident): sessions and announcements within
    # 48 hours of one are flagged.
    quiet_dates: []       # e.g. [{date: 2026-12-01, note: "price change announced"}]
    # crisis_plan:        # who moderates, and what to post first, if it turns hostile
    #   moderator: "@sam"
    #   holding_statement: "We hear you. We'll answer the main concerns in a post today."

    # next: askus-next    # the id of the next session of the series, teased at the end

    # team:               # who runs it from several seats (`--as NAME`, or the login name);
    #   - {name: ana, role: host}          # runs `qa run`, answers, approves, closes
    #   - {name: sam, role: moderator}     # triages, claims and drafts answers
    #   - {name: lee, role: [approver]}    # approves or rejects drafts

    # Platform settings go under the platform's name (local, x, mastodon, bluesky);
    # `qa doctor` checks them. Credentials never go in this file: use environment variables.
$platform_settings"""
)


_RANKING_NOTES: dict[str, str] = {
    "duplicates": "per other asker of the same question",
    "first_time": "someone who has not asked before",
    "age": "per minute the question has been waiting",
    "pinned": "a question you pinned",
    "sensitive": "a question carrying private data",
    "troll": "a post that looks like trolling",
}


def _ranking_lines() -> str:
    """Every weight of the ranking with its default, as the ranking itself defines them."""
    lines = []
    for name, value in ranking_defaults().items():
        line = f"      {name}: {value:g}"
        note = _RANKING_NOTES.get(name)
        if note:
            line += " " * max(1, 26 - len(line)) + "# " + note
        lines.append(line)
    return "\n".join(lines) + "\n"


def _next_default_start(now: datetime, tz: ZoneInfo) -> datetime:
    """18:00 on the first weekday at least four days away, so the default -3d announcement is
    still ahead when the plan is written."""
    day = now.astimezone(tz).date() + timedelta(days=4)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(18, 0))


def _init_hashtag(hashtag: str | None) -> str:
    try:
        return normalize_hashtag(hashtag if hashtag is not None else "#AskUs")
    except ValueError as exc:
        message, _, hint = str(exc).partition("|")
        raise UsageError(f"bad hashtag: {message}", hint=hint or None) from None


def _init_platform(platform: str | None) -> str:
    if platform is None:
        return "local"
    known = platform_names()
    if platform not in known:
        maybe = suggest(platform, known)
        raise UsageError(
            f"unknown platform '{clip(platform)}'",
            hint=(maybe + " " if maybe else "") + "known: " + ", ".join(known),
        )
    return platform


def _init_start(start: str | None, now: datetime | None, tz: ZoneInfo) -> datetime:
    if start is None:
        return _next_default_start(now or datetime.now(UTC), tz)
    try:
        parsed = parse_datetime(start, "start")
    except PydanticCustomError as exc:
        ctx = exc.context or {}
        raise UsageError(f"bad start: {ctx.get('message')}", hint=ctx.get("hint")) from None
    return parsed if parsed.tzinfo is None else parsed.astimezone(tz).replace(tzinfo=None)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _column(key: str, value: str) -> str:
    # pad so the comments line up with those of the fixed lines
    return value + " " * max(1, 26 - len(f"    {key}: {value}"))


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
    tag = _init_hashtag(hashtag)
    platform = _init_platform(platform)
    wall = _init_start(start, now, ZoneInfo(tzname))
    session_id = f"{tag[1:].lower()}-{wall.date().isoformat()}"
    if not SESSION_ID.fullmatch(session_id):
        session_id = f"session-{wall.date().isoformat()}"
    return INIT_TEMPLATE.substitute(
        id=_column("id", session_id),
        id_bare=session_id,
        title=_column("title", _quote(f"{tag} live Q&A")),
        platform=_column("platform", platform),
        platform_bare=platform,
        hashtag=_column("hashtag", _quote(tag)),
        timezone=_column("timezone", tzname),
        timezone_bare=tzname,
        start=_column("start", f"{wall:%Y-%m-%d %H:%M}"),
        ranking=_ranking_lines(),
        platform_settings=_platform_settings(platform),
        **{name: _quote(DEFAULT_TEXTS[name]) for name in _TEXT_NAMES},
    )


def _platform_settings(platform: str) -> str:
    """The platform's settings section: the keys its adapter needs to work (a Mastodon
    instance), with example values to replace; else a commented, empty one."""
    from qasession.platforms import registry

    cls = registry.adapter_class(platform)
    needed = getattr(cls, "INIT_SETTINGS", None) or {}
    if not needed:
        return f"    # {platform}: {{}}\n"
    lines = [f"    {platform}:                # replace the example values with your own"]
    lines += [f"      {key}: {_quote(str(value))}" for key, value in needed.items()]
    return "\n".join(lines) + "\n"


_TEXT_NAMES = ("ahead", "tomorrow", "day", "opening", "closing", "after_party")
