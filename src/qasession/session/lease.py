"""One live loop per session: a lease in the store with the holder's pid, host and start time.

`qa run` takes the lease before its loop starts and refreshes it (a heartbeat) while it runs;
a second `qa run` of the same session is refused, naming the holder. A lease whose holder is
dead (its process is gone from this host, or its heartbeat stopped) is taken over. Commands
that only read, and `qa answer` (which only writes intents), never need it.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from qasession.errors import SessionBusy
from qasession.store.sessions import LeaseHolder, LeaseTaken

if TYPE_CHECKING:
    from qasession.store import Store

BEAT_EVERY = timedelta(seconds=5)
# a holder on another host whose heartbeat is older than this is dead; on this host the
# process table says, and a live process that stopped beating for this long is stuck
STALE_AFTER = timedelta(seconds=60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _now() -> datetime:
    return datetime.now(UTC)  # leases are wall-clock, whatever speed a rehearsal runs at


class SessionLease:
    """The lease of one session's live loop, held by this process."""

    def __init__(self, session_id: str, *, actor: str | None = None) -> None:
        self.session_id = session_id
        self.me = LeaseHolder(uuid.uuid4().hex, os.getpid(), socket.gethostname(), actor)
        self.taken_over: dict[str, Any] | None = None
        self._last_beat: datetime | None = None

    def is_stale(self, row: dict[str, Any]) -> bool:
        beat = datetime.fromisoformat(row["heartbeat_at"])
        silent = _now() - beat > STALE_AFTER
        if row["host"] == self.me.host:
            return not _alive(int(row["pid"])) or silent
        return silent

    def acquire(self, store: Store) -> None:
        """Take the lease, or raise SessionBusy naming who holds it."""
        previous = store.lease(self.session_id)
        try:
            took_over = store.acquire_lease(
                self.session_id, self.me, _now(), is_stale=self.is_stale
            )
        except LeaseTaken as exc:
            raise SessionBusy(describe_holder(self.session_id, exc.row), hint=_HINT) from None
        self.taken_over = previous if took_over else None
        self._last_beat = _now()

    def beat(self, store: Store) -> None:
        """Refresh the heartbeat (at most every few seconds); raises SessionBusy when another
        run has taken the lease over (this one was thought dead)."""
        now = _now()
        if self._last_beat is not None and now - self._last_beat < BEAT_EVERY:
            return
        self._last_beat = now
        if not store.heartbeat(self.session_id, self.me.holder, now):
            row = store.lease(self.session_id)
            holder = describe_holder(self.session_id, row) if row else "nobody holds it now"
            raise SessionBusy(f"this run lost the session's lease: {holder}", hint=_HINT)

    def release(self, store: Store) -> None:
        store.release_lease(self.session_id, self.me.holder)


_HINT = "one `qa run` per session; stop the other one, or wait: a dead run's lease is taken over"


def describe_holder(session_id: str, row: dict[str, Any]) -> str:
    since = str(row.get("started_at", ""))[:19].replace("T", " ")
    who = f" for {row['actor']}" if row.get("actor") else ""
    return (
        f"session {session_id} is already running: qa run pid {row['pid']} on {row['host']}"
        f"{who}, since {since} UTC"
    )
