"""Sessions, their sources (one platform account each, with its cursor and counters) and the
live loop's lease."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qasession.store.engine import Engine, to_iso

SESSION_FIELDS = {"started_at", "ended_at", "clock", "counters", "cursor"}
SOURCE_FIELDS = {"cursor", "counters", "capabilities", "account", "state", "error", "updated_at"}


@dataclass(slots=True)
class LeaseHolder:
    """Who runs (or wants to run) a session's live loop."""

    holder: str  # unique per process
    pid: int
    host: str
    actor: str | None = None


class LeaseTaken(Exception):
    """The lease is held by someone alive; `row` says who."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__(row["holder"])
        self.row = row


class SessionsRepo(Engine):
    # -- sessions --------------------------------------------------------------------------

    def ensure_session(self, session_id: str, hashtag: str, platform: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sessions (id, hashtag, platform) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET hashtag = excluded.hashtag, "
                "platform = excluded.platform",
                (session_id, hashtag, platform),
            )
            db.execute(
                "INSERT INTO sources (session_id, source, platform) VALUES (?, ?, ?) "
                "ON CONFLICT(session_id, source) DO NOTHING",
                (session_id, platform, platform),
            )

    def session_row(self, session_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return dict(row) if row else None

    def set_session_fields(self, session_id: str, **values: Any) -> None:
        unknown = set(values) - SESSION_FIELDS
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self.transaction() as db:
            db.execute(
                f"UPDATE sessions SET {assignments} WHERE id = ?",
                (*values.values(), session_id),
            )
            if "cursor" in values or "counters" in values:
                # the session's own platform is its first source
                mirrored = {k: values[k] for k in ("cursor", "counters") if k in values}
                sets = ", ".join(f"{name} = ?" for name in mirrored)
                db.execute(
                    f"UPDATE sources SET {sets} WHERE session_id = ? AND source = "
                    "(SELECT platform FROM sessions WHERE id = ?)",
                    (*mirrored.values(), session_id, session_id),
                )

    def reset_session(self, session_id: str) -> None:
        """Forget everything stored for `session_id`."""
        with self.transaction() as db:
            for table in ("posts", "outbox", "commands", "moderation", "events", "sources"):
                db.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM leases WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # -- sources ---------------------------------------------------------------------------

    def ensure_source(
        self, session_id: str, source: str, platform: str, account: str | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sources (session_id, source, platform, account) VALUES (?,?,?,?) "
                "ON CONFLICT(session_id, source) DO UPDATE SET platform = excluded.platform, "
                "account = coalesce(excluded.account, sources.account)",
                (session_id, source, platform, account),
            )

    def sources(self, session_id: str) -> list[dict[str, Any]]:
        return [
            dict(row)
            for row in self.db.execute(
                "SELECT * FROM sources WHERE session_id = ? ORDER BY rowid", (session_id,)
            )
        ]

    def source_row(self, session_id: str, source: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT * FROM sources WHERE session_id = ? AND source = ?", (session_id, source)
        ).fetchone()
        return dict(row) if row else None

    def cursor(self, session_id: str, source: str | None = None) -> str | None:
        """The polling cursor of `source` (default: the session's own platform)."""
        if source is None:
            row = self.db.execute(
                "SELECT cursor FROM sources WHERE session_id = ? AND source = "
                "(SELECT platform FROM sessions WHERE id = ?)",
                (session_id, session_id),
            ).fetchone()
        else:
            row = self.db.execute(
                "SELECT cursor FROM sources WHERE session_id = ? AND source = ?",
                (session_id, source),
            ).fetchone()
        return row["cursor"] if row else None

    def set_source_fields(self, session_id: str, source: str, **values: Any) -> None:
        unknown = set(values) - SOURCE_FIELDS
        if unknown:
            raise ValueError(f"unknown source fields: {sorted(unknown)}")
        encoded = {
            k: json.dumps(v) if k in ("counters", "capabilities") and not isinstance(v, str) else v
            for k, v in values.items()
        }
        assignments = ", ".join(f"{name} = ?" for name in encoded)
        with self.transaction() as db:
            db.execute(
                f"UPDATE sources SET {assignments} WHERE session_id = ? AND source = ?",
                (*encoded.values(), session_id, source),
            )

    # -- the live loop's lease -------------------------------------------------------------

    def lease(self, session_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM leases WHERE session_id = ?", (session_id,)).fetchone()
        return dict(row) if row else None

    def acquire_lease(
        self,
        session_id: str,
        me: LeaseHolder,
        now: datetime,
        *,
        is_stale: Callable[[dict[str, Any]], bool],
    ) -> bool:
        """Take the session's lease for `me`; True when it was taken over from a dead holder.
        Raises LeaseTaken when a live holder has it. Checked and taken in one transaction."""
        stamp = to_iso(now)
        with self.transaction() as db:
            row = db.execute("SELECT * FROM leases WHERE session_id = ?", (session_id,)).fetchone()
            if row is not None and row["holder"] != me.holder and not is_stale(dict(row)):
                raise LeaseTaken(dict(row))
            db.execute(
                "INSERT INTO leases (session_id, holder, pid, host, actor, started_at, "
                "heartbeat_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(session_id) DO UPDATE SET "
                "holder = excluded.holder, pid = excluded.pid, host = excluded.host, "
                "actor = excluded.actor, started_at = excluded.started_at, "
                "heartbeat_at = excluded.heartbeat_at",
                (session_id, me.holder, me.pid, me.host, me.actor, stamp, stamp),
            )
        return row is not None and row["holder"] != me.holder

    def heartbeat(self, session_id: str, holder: str, now: datetime) -> bool:
        """Refresh the lease; False when it is no longer ours (taken over)."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE leases SET heartbeat_at = ? WHERE session_id = ? AND holder = ?",
                (to_iso(now), session_id, holder),
            )
        return bool(cur.rowcount == 1)

    def release_lease(self, session_id: str, holder: str) -> None:
        with self.transaction() as db:
            db.execute(
                "DELETE FROM leases WHERE session_id = ? AND holder = ?", (session_id, holder)
            )
