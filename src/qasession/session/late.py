"""Answering after the session: once it is over and no run is active, `qa answer` sends the
answer at once, through the same outbox, exactly once.

The answer is accepted as ever (its steps written as intents with the question moved to
`answering`, in one transaction); then this process takes the session's lease, as a run would,
so no `qa run` starting meanwhile sends or reconciles the same rows, and flushes the answer's
steps on each platform they go to. A step left `sending` by a crash is reconciled (the platform
is asked by its key) before anything is sent again, so running the same `qa answer` again
finishes what a crash interrupted and never posts twice. While a run is active (it holds the
lease), nothing is sent here: the run posts the answer on its next tick, as during the session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from qasession.errors import PlatformError, SessionBusy

if TYPE_CHECKING:
    from pathlib import Path

    from qasession.plan import Session
    from qasession.platforms.base import Platform
    from qasession.session.control import Control
    from qasession.store import OutboxItem, Store

PENDING = ("intent", "sending")


@dataclass(slots=True)
class Posted:
    """What a late answer sent now, and what is still to send (a rate limit, an error)."""

    sent: list[OutboxItem] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # keys still to send
    # keys the platform refused, or that a crash left unknown where sent posts cannot be
    # looked up: the operator settles them (`qa outbox confirm|resend KEY`)
    unsettled: list[str] = field(default_factory=list)
    waiting_until: datetime | None = None


def end_of(session: Session, row: dict[str, object] | None) -> datetime:
    """The session's end: the plan's, or a rehearsal's shifted one (stored with its clock)."""
    start = session.start
    if row and row.get("clock"):
        with suppress(ValueError, KeyError, TypeError):
            start = datetime.fromisoformat(json.loads(str(row["clock"]))["start"])
    return start + session.duration


def is_over(session: Session, store: Store, now: datetime | None = None) -> bool:
    """Whether the session is over: its run declared the end, or its planned end is past."""
    row = store.session_row(session.id)
    if row and row.get("ended_at"):
        return True
    return (now or datetime.now(UTC)) >= end_of(session, row)


def answer_op(session_id: str, number: int) -> str:
    return f"{session_id}:answer:{number}"


def unfinished(store: Store, session_id: str, number: int) -> list[OutboxItem]:
    """The steps of the answers to question `number` (its own op, its follow-ups and its
    steps on other platforms) that are not sent yet."""
    base = answer_op(session_id, number)
    return [
        item
        for item in store.outbox(session_id, PENDING)
        if (op := item.op.split("@", 1)[0]) == base or op.startswith(base + ":f")
    ]


def open_platform(session: Session, home: Path, lane: str, plan_file: str) -> Platform:
    """The adapter of the session's source `lane`, as `qa run` builds it."""
    from qasession.session.sources import create_adapter, sources_of

    specs = sources_of(session)
    spec = next((s for s in specs if s.name == lane), specs[0])
    return create_adapter(spec, home, plan_file, None)


def send_now(
    session: Session,
    store: Store,
    keys: Iterable[str],
    platform_for: Callable[[str], Platform],
    *,
    open_store: Callable[[], Store],
    actor: str | None = None,
) -> Posted | None:
    """Send the outbox items `keys` now, under the session's lease; None (nothing sent) when a
    run holds the lease: that run sends them. A rate limit or a platform error leaves what it
    held back as intents (`Posted.left`): the same command again, or a run, sends them."""
    from qasession.session.lease import SessionLease
    from qasession.session.outbox import Outbox  # only when sending: `qa answer` starts fast

    wanted = set(keys)
    lanes: dict[str, set[str]] = {}
    for key in wanted:
        item = store.outbox_item(key)
        if item is not None and item.state in PENDING:
            lanes.setdefault(item.platform, set()).add(key)
    lease = SessionLease(session.id, actor=actor)
    try:
        lease.acquire(store)
    except SessionBusy:
        return None
    posted = Posted()
    try:
        lease.keep_alive(open_store)  # a slow platform never makes this holder look dead
        for lane, lane_keys in sorted(lanes.items()):
            platform = platform_for(lane)
            try:
                outbox = Outbox(store, platform, session.id, platform.clock, lane=lane)
                result = outbox.flush(lane_keys)
            finally:
                platform.close()
            posted.sent.extend(result.sent)
            if result.waiting_until is not None:
                posted.waiting_until = result.waiting_until
    finally:
        lease.release(store)
    for key in sorted(wanted):
        item = store.outbox_item(key)
        if item is not None and item.state in PENDING:
            posted.left.append(key)
        elif item is not None and item.state in ("uncertain", "failed"):
            posted.unsettled.append(key)
    return posted


def send_answer(
    session: Session,
    store: Store,
    keys: Iterable[str],
    home: Path,
    plan_file: str,
    *,
    actor: str | None = None,
) -> Posted | None:
    """`send_now` through the session's own adapters, built as `qa run` builds them, with a
    store of its own for the lease's keep-alive; None when a run is active (it posts them)."""
    from qasession.store import Store

    return send_now(
        session,
        store,
        keys,
        lambda lane: open_platform(session, home, lane, plan_file),
        open_store=lambda: Store.open(home),
        actor=actor,
    )


def check_sent(posted: Posted, number: int) -> None:
    """Raises `PlatformError` unless every step of the answer to question `number` went out:
    first for the steps only the operator can settle, then for those the same command sends
    when run again."""
    if posted.unsettled:
        raise PlatformError(
            f"question {number}: {', '.join(posted.unsettled)} failed or may have been sent",
            hint="see `qa outbox`, then `qa outbox confirm KEY` or `qa outbox resend KEY`",
        )
    if posted.left:
        raise PlatformError(
            f"question {number}: {len(posted.left)} step(s) of the answer not sent yet "
            f"({', '.join(posted.left)})",
            hint="run the same `qa answer` again later: it sends what is left, once",
        )


@dataclass(frozen=True, slots=True)
class Resumed:
    """An earlier answer to a question, finished after the session instead of a new one."""

    accepted_at: str  # when the earlier answer was accepted (UTC, ISO 8601)
    posted: Posted


def resume(
    control: Control, number: int, send: Callable[[list[str]], Posted | None]
) -> Resumed | None:
    """After the end, an answer accepted earlier whose steps did not all go out (a crash, a
    rate limit) is finished by `send` (reconciled first, so never twice) rather than a second
    answer accepted. None: there is no such answer, or a run is active and sends it."""
    control.allow("answer")  # a team's roles, as ever
    pending = unfinished(control.store, control.session.id, number)
    if not pending:
        return None
    posted = send([item.key for item in pending])
    if posted is None:
        return None
    return Resumed(pending[0].created_at, posted)
