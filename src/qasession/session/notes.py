"""The host's notes: a line jotted during the session ("great question on pricing"), stamped
with the session clock, kept as an event of the session; the recap shows them beside the
numbers. One API for `qa note` (any shell) and the live UI's `n` key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from qasession.errors import UsageError
from qasession.text.safe import inert

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.store import Store

MAX_NOTE = 500  # characters


def session_now(store: Store, session: Session) -> datetime:
    """Now on the session's clock: a running rehearsal's virtual time, else the wall clock."""
    row = store.session_row(session.id)
    if row and row.get("clock") and not row.get("ended_at"):
        from qasession.session.rehearsal import Rehearsal

        try:
            return Rehearsal.from_json(row["clock"]).clock.now()
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            pass
    return datetime.now(UTC)


def add_note(
    store: Store,
    session: Session,
    text: str,
    *,
    now: datetime | None = None,
    actor: str | None = None,
) -> dict[str, str]:
    """Store a note at `now` (default: the session clock) by `actor` (default: who is at
    the keyboard), who must be on the session's team (NotAllowed); returns it as stored."""
    from qasession.session.team import default_actor, require

    if actor is None:
        actor = default_actor()
    require(session, actor, "note")
    clean = " ".join(inert(text, single_line=True).split())
    if not clean:
        raise UsageError("the note is empty", hint='e.g. qa note "great question on pricing"')
    if len(clean) > MAX_NOTE:
        raise UsageError(
            f"the note is {len(clean)} characters long", hint=f"keep it under {MAX_NOTE}"
        )
    at = now or session_now(store, session)
    store.ensure_session(session.id, session.hashtag, session.platform)
    store.add_event(session.id, "note", {"text": clean, "actor": actor}, at)
    return {"at": at.astimezone(UTC).isoformat(), "text": clean, "actor": actor}
