"""One live loop per session: a lease in the store with the holder's pid, host and start time.

`qa run` takes the lease before its loop starts and refreshes it (a heartbeat, from a thread
of its own with its own connection, so a slow platform call never makes a live run look dead)
while it runs; a second `qa run` of the same session is refused, naming the holder, and
`qa run --standby` waits instead. A lease whose holder is dead (its process is gone from this
host, or its heartbeat stopped for STALE_AFTER: a machine or network gone) is taken over.
Times are the database's clock (the server's on PostgreSQL), so seats on machines whose clocks
differ agree on who is silent. A run that cannot renew its lease for half of STALE_AFTER
stops before a standby may take over: two loops never send at once. Commands that only read,
and `qa answer` (which only writes intents), never need it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from qasession.errors import SessionBusy, StoreError
from qasession.store.sessions import LeaseHolder, LeaseTaken

if TYPE_CHECKING:
    from qasession.store import Store

BEAT_EVERY = timedelta(seconds=2)
# a holder on another host whose heartbeat is older than this is dead; on this host the
# process table says, and a live process that stopped beating for this long is stuck
STALE_AFTER = timedelta(seconds=15)
STANDBY_EVERY = 0.5  # seconds between two looks of a standby at the lease


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
        self._beating: threading.Thread | None = None
        self._stop = threading.Event()
        self._lost: str | None = None  # why the heartbeat thread gave the lease up
        self._renewed = time.monotonic()  # the heartbeat thread's last success

    def is_stale(self, row: dict[str, Any], now: datetime | None = None) -> bool:
        beat = datetime.fromisoformat(row["heartbeat_at"])
        silent = (now or _now()) - beat > STALE_AFTER
        if row["host"] == self.me.host:
            return not _alive(int(row["pid"])) or silent
        return silent

    def acquire(self, store: Store) -> None:
        """Take the lease, or raise SessionBusy naming who holds it."""
        previous = store.lease(self.session_id)
        now = store.database_now()
        try:
            took_over = store.acquire_lease(
                self.session_id, self.me, now, is_stale=lambda row: self.is_stale(row, now)
            )
        except LeaseTaken as exc:
            raise SessionBusy(describe_holder(self.session_id, exc.row), hint=_HINT) from None
        self.taken_over = previous if took_over else None
        self._last_beat = _now()

    def wait_for(
        self, store: Store, notice: Callable[[str], None], should_stop: Callable[[], bool]
    ) -> bool:
        """A standby: take the lease as soon as its holder is gone (`notice` says once who
        holds it meanwhile). False when `should_stop()` came first."""
        told = False
        while not should_stop():
            try:
                self.acquire(store)
                return True
            except SessionBusy as exc:
                if not told:
                    notice(f"standing by: {exc.message}")
                    told = True
            time.sleep(STANDBY_EVERY)
        return False

    def keep_alive(self, open_store: Callable[[], Store]) -> None:
        """Beat from a thread of its own (with its own connection) from now until `release`."""
        self._renewed = time.monotonic()
        self._beating = threading.Thread(
            target=self._beat_forever, args=(open_store,), name="qa-lease", daemon=True
        )
        self._beating.start()

    def _beat_forever(self, open_store: Callable[[], Store]) -> None:
        store: Store | None = None
        while not self._stop.wait(BEAT_EVERY.total_seconds()):
            try:
                store = store or open_store()
                if not store.heartbeat(self.session_id, self.me.holder, store.database_now()):
                    self._lost = "taken over"
                    break
                self._renewed = time.monotonic()
            except StoreError:
                continue  # the database is out of reach: `beat` stops the loop if it lasts
        if store is not None:
            store.close()

    def beat(self, store: Store) -> None:
        """Refresh the heartbeat (at most every few seconds; with `keep_alive`, see how its
        thread fares); raises SessionBusy when another run has taken the lease over (this one
        was thought dead), or when it could not be renewed for half of STALE_AFTER."""
        if self._beating is not None:
            self._check_renewed(store)
            return
        now = _now()
        if self._last_beat is not None and now - self._last_beat < BEAT_EVERY:
            return
        self._last_beat = now
        if not store.heartbeat(self.session_id, self.me.holder, now):
            row = store.lease(self.session_id)
            holder = describe_holder(self.session_id, row) if row else "nobody holds it now"
            raise SessionBusy(f"this run lost the session's lease: {holder}", hint=_HINT)

    def _check_renewed(self, store: Store) -> None:
        silent = time.monotonic() - self._renewed
        if self._lost is None and silent < STALE_AFTER.total_seconds() / 2:
            return
        if self._lost is None:
            raise SessionBusy(
                f"this run could not renew the session's lease for {silent:.0f} s (the "
                "database is out of reach); it stops so that a standby may go on",
                hint="run it again once the database is back; it resumes where it stopped",
            )
        row = store.lease(self.session_id)
        holder = describe_holder(self.session_id, row) if row else "nobody holds it now"
        raise SessionBusy(f"this run lost the session's lease: {holder}", hint=_HINT)

    def release(self, store: Store) -> None:
        self._stop.set()
        if self._beating is not None:
            self._beating.join(timeout=10)
        store.release_lease(self.session_id, self.me.holder)


_HINT = "one `qa run` per session; stop the other one, or wait: a dead run's lease is taken over"


def describe_holder(session_id: str, row: dict[str, Any]) -> str:
    since = str(row.get("started_at", ""))[:19].replace("T", " ")
    who = f" for {row['actor']}" if row.get("actor") else ""
    return (
        f"session {session_id} is already running: qa run pid {row['pid']} on {row['host']}"
        f"{who}, since {since} UTC"
    )
