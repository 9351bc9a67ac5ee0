"""Live updates between seats: whether another seat (or the loop) acted on a session since we
last looked. PostgreSQL pushes them (LISTEN/NOTIFY: every audited action notifies at commit),
so a seat waits on its own listening connection and never hammers the server; SQLite, one
machine's file, is asked with one cheap indexed read."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from qasession.store.team import NOTIFY_CHANNEL

LISTEN_TIMEOUT = 0.5  # seconds a listener waits before looking at its stop flag again


class Listener:
    """A PostgreSQL connection of its own, in a thread, that sets `event` whenever the
    session is notified. Reconnects after losing the server (the next notification counts)."""

    def __init__(self, url: str, session_id: str) -> None:
        self.url = url
        self.session_id = session_id
        self.event = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="qa-listen", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.event.set()  # (re)connected: what happened meanwhile is unknown
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=LISTEN_TIMEOUT):
                            if note.payload == self.session_id:
                                self.event.set()
            except psycopg.Error:
                self._stop.wait(1.0)  # the server is out of reach: try again shortly

    def close(self) -> None:
        self._stop.set()
        self._thread.join(LISTEN_TIMEOUT * 4)


class SessionWatch:
    """`changed()` is True once after someone acted on the session: a claim, an answer, a
    draft or its approval, a skip... (new questions show at the seats' regular refresh)."""

    def __init__(self, store: Any, session_id: str) -> None:
        self.store = store
        self.session_id = session_id
        self._seen: tuple[int, ...] | None = None
        self.listener: Listener | None = None
        url = getattr(store, "url", None)
        if url:
            self.listener = Listener(url, session_id)
        else:  # what is there now is the baseline: an action right after opening counts
            self._seen = self._marks()

    def _marks(self) -> tuple[int, ...]:
        sid = self.session_id
        row = self.store.db.execute(
            "SELECT (SELECT max(id) FROM audit WHERE session_id = ?), "
            "(SELECT max(id) FROM outbox WHERE session_id = ?)",
            (sid, sid),
        ).fetchone()
        return tuple(int(value or 0) for value in row)

    def changed(self) -> bool:
        if self.listener is not None:
            if not self.listener.event.is_set():
                return False
            self.listener.event.clear()
            return True
        marks = self._marks()
        if self._seen is None:
            self._seen = marks
            return False
        if marks != self._seen:
            self._seen = marks
            return True
        return False

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a change (PostgreSQL: woken by the server)."""
        if self.listener is not None:
            if self.listener.event.wait(timeout):
                self.listener.event.clear()
                return True
            return False
        return self.changed()

    def close(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(RuntimeError):
                self.listener.close()
