"""Lints: the product's rules for a plan, as warnings (`qa plan --strict` makes them errors).

Every check is linear in what the plan holds (sorted times and bisection for quiet dates and
overlaps), so a plan at the caps lints as fast as it parses.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

from qasession.errors import QAError
from qasession.plan.messages import one_line, suggest
from qasession.plan.resolve import Plan, PlannedItem, Session, timeline
from qasession.plan.texts import human_duration
from qasession.plan.values import localize, shift_days

HASHTAG_MAX = 20
NIGHT_START, NIGHT_END = time(22, 0), time(7, 0)
QUIET_MARGIN = timedelta(hours=48)
_SLACK = timedelta(days=4)  # the margin in whole days, and a daylight-saving hour to spare


class LengthRules(Protocol):
    """How long a post may be on a platform, and how it counts."""

    @property
    def max_length(self) -> int: ...

    def length(self, text: str) -> int: ...

    def too_long(self, text: str) -> str | None:
        """Why `text` can't be posted as one post, or None when it fits."""
        ...


# (platform name, the session's settings of that platform) -> its length rules
CapabilitiesFor = Callable[[str, dict[str, Any] | None], LengthRules | None]


def default_capabilities(name: str, settings: dict[str, Any] | None) -> LengthRules | None:
    """The platform's own rules (`registry.capabilities_for`: a local `max_length` setting
    counts); None when this installation has no such adapter (its lint says so)."""
    from qasession.platforms import registry

    try:
        return registry.capabilities_for(name, settings)
    except QAError:
        return None


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


@dataclass
class _Linter:
    """The warnings of one lint run, and what the checks share."""

    plan: Plan
    now: datetime
    capabilities: CapabilitiesFor
    found: list[Lint] = field(default_factory=list)
    # quiet date and zone -> the window around it (the same dates recur in every session)
    windows: dict[tuple[date, str], tuple[datetime, datetime]] = field(default_factory=dict)

    def warn(self, session: Session, code: str, message: str, line: int | None) -> None:
        self.found.append(Lint(code, session.id, one_line(message), line, str(self.plan.path)))


def lint_plan(
    plan: Plan,
    now: datetime,
    capabilities: CapabilitiesFor | None = None,
) -> list[Lint]:
    """Warnings about `plan` as of `now` (aware), sorted by line. `capabilities(platform,
    settings)` gives the length rules of a platform (default: the platform registry's)."""
    linter = _Linter(plan, now, capabilities or default_capabilities)
    for session in plan.sessions:
        # a session on several platforms is linted on each (its texts and length rules
        # there); what is the same on every platform is said once
        for view in session.views():
            _lint_session(linter, view)
    _lint_overlaps(linter)
    found = list(dict.fromkeys(linter.found))
    return sorted(found, key=lambda lint: (lint.line or 0, lint.code))


def _lint_session(linter: _Linter, session: Session) -> None:
    rules = _rules_of(linter, session)  # the platform's rules, asked once per session
    _lint_hashtag(linter, session, rules)
    _lint_timing(linter, session)
    _lint_announcements(linter, session)
    items = timeline(session)
    _lint_items(linter, session, items, rules)
    _lint_quiet_dates(linter, session, items)
    _lint_next(linter, session)
    _lint_team(linter, session)


def _lint_hashtag(linter: _Linter, session: Session, rules: LengthRules | None) -> None:
    tag, line = session.hashtag, session.line_of("hashtag")
    if len(tag) > HASHTAG_MAX:
        linter.warn(
            session,
            "hashtag-length",
            f"hashtag {tag} is {len(tag)} characters; keep it to {HASHTAG_MAX} or fewer so "
            "people can type it and it leaves room in every post",
            line,
        )
    if not tag.lower().startswith("#ask"):
        linter.warn(
            session,
            "hashtag-ask",
            f"hashtag {tag} does not start with #Ask; #Ask... tags tell people at a glance "
            "that they can ask",
            line,
        )
    if getattr(rules, "camelcase_hashtags", False) and _one_case(tag[1:]):
        linter.warn(
            session,
            "hashtag-case",
            f"hashtag {tag} is all in one case; on {session.platform} write the words of a "
            "tag in CamelCase (#AskAcme) so that screen readers read them as words",
            line,
        )


def _one_case(body: str) -> bool:
    """A tag of several letters with no change of case (#askacme, #ASKACME): its words
    cannot be told apart. Short ones (#ask, #faq) read as one word anyway."""
    letters = [c for c in body if c.isalpha()]
    return len(letters) > 5 and (body.lower() == body or body.upper() == body)


def _lint_timing(linter: _Linter, session: Session) -> None:
    start_local = session.local(session.start)
    minutes = session.duration.total_seconds() / 60
    if not 30 <= minutes <= 90:
        linter.warn(
            session,
            "duration",
            f"the session lasts {human_duration(session.duration)}; 30 to 90 minutes works best",
            session.line_of("duration"),
        )
    wall = start_local.time()
    if wall >= NIGHT_START or wall < NIGHT_END:
        linter.warn(
            session,
            "night",
            f"the session starts at {wall:%H:%M} {start_local.tzname()}, at night in "
            f"{session.timezone}; pick a time when your audience is online",
            session.line_of("start"),
        )
    if session.start < linter.now:
        ended = "ended" if session.end <= linter.now else "started"
        linter.warn(
            session,
            "past",
            f"the session {ended} in the past ({start_local:%Y-%m-%d %H:%M} {session.timezone})",
            session.line_of("start"),
        )


def _lint_announcements(linter: _Linter, session: Session) -> None:
    day_before = shift_days(session.start, -1, session.tz)
    start_day = session.local(session.start).date()
    line = session.line_of("announcements")
    if not any(a.at <= day_before for a in session.announcements):
        linter.warn(
            session,
            "no-announcement-ahead",
            "no announcement a day or more before the start; announce days ahead and "
            "collect questions early (e.g. `- at: -3d`)",
            line,
        )
    if not any(
        a.at <= session.start and session.local(a.at).date() == start_day
        for a in session.announcements
    ):
        linter.warn(
            session,
            "no-announcement-on-day",
            "no announcement on the day of the session (e.g. `- at: -1h`)",
            line,
        )
    if session.opening is None:
        linter.warn(
            session,
            "no-opening",
            "no opening post; open with a post (and a photo) saying the session has started",
            session.line_of("opening"),
        )
    if session.closing is None:
        linter.warn(
            session,
            "no-closing",
            "no closing post; end at the announced time with a post that says so",
            session.line_of("closing"),
        )


def _lint_mention_ask(
    linter: _Linter, session: Session, items: list[PlannedItem], rules: LengthRules | None
) -> None:
    """Where a mention notifies the host and the hashtag search lags (the platform's
    `mentions_notify`), some announcement should invite people to mention the host."""
    if not getattr(rules, "mentions_notify", False) or not session.account:
        return
    account = re.compile(re.escape(session.account) + r"(?![\w.-]*\w)", re.IGNORECASE)
    announcements = [item for item in items if item.kind == "announcement"]
    if not announcements or any(account.search(item.text) for item in announcements):
        return
    linter.warn(
        session,
        "no-mention-ask",
        f"no announcement asks people to mention {session.account}; on {session.platform} a "
        'mention notifies the host while the hashtag search can lag (e.g. "Ask with '
        '{hashtag} or mention {account}")',
        session.line_of("announcements"),
    )


def _item_name(item: PlannedItem) -> str:
    if item.kind == "announcement":
        return "announcement " + item.key.split(":", 1)[1]
    return item.kind.replace("_", "-")


def _image_problem(image: str) -> str | None:
    """Why the image can't be posted, or None when it is a file."""
    try:
        if Path(image).is_file():
            return None
    except (OSError, ValueError) as exc:  # a name too long for the system, ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"can't be looked up ({reason.lower()})"
    return "not found"


def _rules_of(linter: _Linter, session: Session) -> LengthRules | None:
    settings = session.platform_settings or None
    try:
        return linter.capabilities(session.platform, settings)
    except QAError:
        return None  # an adapter that can't load: `qa plan` says so in its own lint


def _lint_items(
    linter: _Linter, session: Session, items: list[PlannedItem], rules: LengthRules | None
) -> None:
    _lint_mention_ask(linter, session, items, rules)
    carries = re.compile(re.escape(session.hashtag) + r"(?!\w)", re.IGNORECASE)
    lines = {
        a.key: session.line_of("announcements", i) for i, a in enumerate(session.announcements)
    }
    for item in items:
        line = lines.get(item.key) if item.kind == "announcement" else session.line_of(item.kind)
        name = _item_name(item)
        if carries.search(item.text) is None:
            linter.warn(
                session, "no-hashtag", f"the {name} text does not carry {session.hashtag}", line
            )
        reason = rules.too_long(item.text) if rules is not None else None
        if reason is not None:
            linter.warn(
                session,
                "too-long",
                f"the {name} text is too long for {session.platform}: {reason}",
                line,
            )
        problem = _image_problem(item.image) if item.image is not None else None
        if problem is not None:
            linter.warn(
                session, "image-missing", f"image {item.image} of the {name} {problem}", line
            )


def _quiet_window(linter: _Linter, day: date, session: Session) -> tuple[datetime, datetime]:
    key = (day, session.timezone)
    window = linter.windows.get(key)
    if window is None:
        day_start = localize(datetime.combine(day, time(0)), session.tz)
        day_end = shift_days(day_start, 1, session.tz)
        window = (day_start - QUIET_MARGIN, day_end + QUIET_MARGIN)
        linter.windows[key] = window
    return window


def _lint_quiet_dates(linter: _Linter, session: Session, items: list[PlannedItem]) -> None:
    announced = [item for item in items if item.kind == "announcement"]  # sorted by time
    times = [item.at for item in announced]
    calm = session.crisis_plan is not None and session.crisis_plan.complete
    # Only quiet dates within a few days of what the session posts can be near it: the
    # rest (most of a long list) cost one comparison each.
    first = min(times[0], session.start) if times else session.start
    earliest = session.local(first).date() - _SLACK
    latest = session.local(session.end).date() + _SLACK
    for i, quiet in enumerate(session.quiet_dates):
        if not earliest <= quiet.date <= latest:
            continue
        low, high = _quiet_window(linter, quiet.date, session)
        near = ["the session"] if session.start < high and session.end > low else []
        near += [
            _item_name(it) for it in announced[bisect_left(times, low) : bisect_left(times, high)]
        ]
        if not near:
            continue
        note = f" ({quiet.note})" if quiet.note else ""
        message = (
            f"{', '.join(near)} within 48 hours of quiet date {quiet.date.isoformat()}{note}; "
            "bad timing can turn a session into a crisis"
        )
        if not calm:
            message += ": move it, or add a crisis_plan with a moderator and a holding_statement"
        linter.warn(session, "quiet-date", message, session.line_of("quiet_dates", i))


def _lint_next(linter: _Linter, session: Session) -> None:
    if session.next is None:
        return
    line = session.line_of("next")
    if session.next == session.id:
        linter.warn(session, "next-unknown", "`next` names this same session", line)
    elif session.next not in linter.plan.ids:
        maybe = suggest(session.next, linter.plan.ids)
        linter.warn(
            session,
            "next-unknown",
            f"`next` names '{session.next}', which is not a session of this plan"
            + (f"; {maybe}" if maybe else ""),
            line,
        )


def _lint_team(linter: _Linter, session: Session) -> None:
    """A team needs a host (only a host runs the live loop) and, under approval, someone
    who may approve."""
    roles = {role for member in session.team for role in member.role}
    if session.team and "host" not in roles:
        linter.warn(
            session,
            "team-no-host",
            "the team has no host: nobody may run `qa run` (add `role: host` to someone)",
            session.line_of("team"),
        )
    wants = session.answers.approval or session.answers.approve_planned
    if wants and session.team and not roles & {"host", "approver"}:
        linter.warn(
            session,
            "approval-no-approver",
            "answers need approval but nobody on the team may approve (a host or an approver)",
            session.line_of("answers"),
        )


def _lint_overlaps(linter: _Linter) -> None:
    ordered = sorted(linter.plan.sessions, key=lambda s: s.start)
    for i, earlier in enumerate(ordered):
        for later in ordered[i + 1 :]:
            if later.start >= earlier.end:
                break
            local = earlier.local(earlier.start)
            linter.warn(
                later,
                "overlap",
                f"session '{later.id}' overlaps session '{earlier.id}' "
                f"({local:%Y-%m-%d %H:%M}, {human_duration(earlier.duration)})",
                later.line,
            )
