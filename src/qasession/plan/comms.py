"""Off-platform texts for a session: the calendar (.ics), a blog announcement, an e-mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from qasession import __version__

if TYPE_CHECKING:
    from qasession.plan import Session

REMINDERS = (timedelta(days=1), timedelta(minutes=15))


def session_url(session: Session) -> str | None:
    """A link to follow the hashtag on the platform, where it has a public one."""
    from qasession.platforms.registry import adapter_class, default_settings

    cls = adapter_class(session.platform)
    if cls is None:
        return None
    settings = default_settings(cls, session.platform_settings)
    return cls.hashtag_url(settings, session.hashtag.lstrip("#"))


def build_calendar(session: Session) -> bytes:
    """An RFC 5545 calendar with the session as one event and two reminders, made with the
    `icalendar` library (escaping, folding and time zones done right)."""
    from icalendar import Alarm, Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", f"-//qasession//qasession {__version__}//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"{session.id}@qasession")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", session.start.astimezone(UTC))
    event.add("dtend", session.end.astimezone(UTC))
    event.add("summary", f"{session.title} ({session.hashtag})")
    description = f"Live Q&A on {session.platform}: ask your questions with {session.hashtag}."
    url = session_url(session)
    if url:
        event.add("url", url)
        description += f"\n{url}"
    event.add("description", description)
    event.add("location", session.hashtag)
    for before in REMINDERS:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{session.title} starts soon ({session.hashtag})")
        alarm.add("trigger", -before)
        event.add_component(alarm)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def write_ics(session: Session, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build_calendar(session))
    return path


def _when(session: Session) -> str:
    local = session.start.astimezone(session.tz)
    minutes = int(session.duration.total_seconds() // 60)
    return f"{local:%A %d %B %Y} at {local:%H:%M} ({session.timezone}), for {minutes} minutes"


def blog_text(session: Session) -> str:
    url = session_url(session)
    follow = f" Follow along at <{url}>." if url else ""
    return (
        f"# {session.title}: ask us anything with {session.hashtag}\n\n"
        f"We are holding a live question-and-answer session on {session.platform} "
        f"on {_when(session)}.\n\n"
        f"Post your question with **{session.hashtag}** any time from now: we collect "
        f"questions ahead and answer as many as we can live.{follow}\n\n"
        "Please keep personal details (customer or contract numbers, addresses, phone numbers) "
        "out of public posts: we will invite you to a direct message when needed.\n\n"
        f"*Add it to your calendar: {session.id}.ics*\n"
    )


def email_text(session: Session) -> str:
    return (
        f"Subject: {session.title} — live Q&A with {session.hashtag}\n\n"
        "Hello,\n\n"
        f"We are answering your questions live on {session.platform} on {_when(session)}.\n"
        f"Ask yours with {session.hashtag}, starting now; we answer as many as we can.\n\n"
        "Please tell your colleagues and anyone who might have a question.\n\n"
        "See you there!\n"
    )


def write_comms(session: Session, folder: Path) -> list[Path]:
    """Write `<id>-blog.md`, `<id>-email.txt` and `<id>.ics` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    blog = folder / f"{session.id}-blog.md"
    blog.write_text(blog_text(session), encoding="utf-8")
    email = folder / f"{session.id}-email.txt"
    email.write_text(email_text(session), encoding="utf-8")
    return [blog, email, write_ics(session, folder / f"{session.id}.ics")]
