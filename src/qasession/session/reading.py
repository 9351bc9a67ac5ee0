"""How much reading a session takes: the search requests `qa run` makes at its pacing over
the session, and how close that runs to the platform's rate limit (what `qa plan` shows, and
puts in its JSON for the recap to compare with the counters of the run)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.platforms.base import SearchLimits

POLL_FLOOR = 5.0  # seconds: `qa run` never polls more often (`--poll-floor`)
TAIL = timedelta(minutes=10)  # `qa run` keeps reading this long after the end (`--tail`)


def search_limits_of(session: Session) -> SearchLimits:
    """How the session's platform meters searching with the plan's settings (settings that
    do not validate give the adapter's defaults: they are reported when the platform is
    used)."""
    from pydantic import ValidationError

    from qasession.platforms import registry
    from qasession.platforms.base import SearchLimits

    cls = registry.load_class(session.platform)
    try:
        settings = cls.Settings.model_validate(session.platform_settings or {})
    except ValidationError:
        return SearchLimits()
    return cls.search_limits(settings)


def poll_interval(limits: SearchLimits, poll_floor: float = POLL_FLOOR) -> float:
    """Seconds between polls once the loop has learnt the rate window: the floor, or the
    window spread over its calls but one (the loop keeps one call in hand), when slower."""
    if not limits.rate_calls or not limits.rate_window:
        return poll_floor
    return max(poll_floor, limits.rate_window / max(1, limits.rate_calls - 1))


def estimate_reading(
    session: Session,
    limits: SearchLimits,
    *,
    poll_floor: float = POLL_FLOOR,
    tail: timedelta = TAIL,
) -> dict[str, Any]:
    """The search requests of a run from the start to the end of the tail: one per poll at
    the pacing `qa run` keeps (every `poll_floor` seconds, slower when the rate limit
    forces it), per endpoint read, and more pages when the posts expected outnumber what the
    polls read (`limits.page_size` per request)."""
    seconds = (session.duration + tail).total_seconds()
    interval = poll_interval(limits, poll_floor)
    polls = math.floor(seconds / interval) + 1  # the first one at the start
    pages = math.ceil(limits.expected_posts / limits.page_size) if limits.expected_posts else 0
    rate: dict[str, Any] | None = None
    if limits.rate_calls and limits.rate_window:
        at_floor = limits.rate_window / poll_floor  # polls per window at the floor
        rate = {
            "calls": limits.rate_calls,
            "window_s": limits.rate_window,
            "share_at_floor": round(at_floor / limits.rate_calls, 3),
            "limited": interval > poll_floor,
        }
    return {
        "from": session.start.isoformat(),
        "until": (session.end + tail).isoformat(),
        "poll_floor_s": poll_floor,
        "tail_min": tail.total_seconds() / 60,
        "poll_every_s": round(interval, 2),
        "polls": polls,
        "search_requests": max(polls, pages) * limits.requests_per_poll,
        "rate_limit": rate,
    }


def describe_reading(reading: dict[str, Any]) -> str:
    """One line for the terminal: the requests, the pace, and the rate limit's share."""
    line = (
        f"reading: about {reading['search_requests']:,} search requests (a poll every "
        f"{reading['poll_every_s']:g} s from the start to {reading['tail_min']:g} min after "
        "the end)"
    )
    rate = reading["rate_limit"]
    if rate is None:
        return line
    limit = f"the rate limit ({rate['calls']:,} per {_window(rate['window_s'])})"
    if rate["limited"]:
        return (
            f"{line}; every {reading['poll_floor_s']:g} s would take "
            f"{rate['share_at_floor']:.0%} of {limit}: polling slows down to it"
        )
    return f"{line}; {rate['share_at_floor']:.0%} of {limit}"


def _window(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
