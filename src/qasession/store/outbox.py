"""The outbox table: every outgoing post, repost or message is an intent before it is sent,
`sending` (committed) right before the call and `sent` with the platform's id after it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qasession.store.engine import Engine, from_iso, to_iso

OUTBOX_STATES = ("intent", "sending", "sent", "failed", "uncertain", "cancelled")


@dataclass(slots=True)
class OutboxItem:
    """One outgoing post, repost or direct message, as an intent."""

    key: str  # idempotency key, unique across the store
    kind: str  # announcement|opening|closing|after_party|repost|answer|dm|notice|draft|thread
    text: str | None = None
    op: str = ""  # the operation it belongs to (answer N); steps run in `seq` order
    seq: int = 0
    reply_to: str | None = None  # a post id on `platform`, or "^" (the previous step's post)
    quote_of: str | None = None
    repost_of: str | None = None
    dm_to: str | None = None  # the recipient's handle
    media: list[Any] = field(default_factory=list)  # Media.to_json() entries (or paths)
    question_id: str | None = None  # the post id (on `platform`) of the question answered
    not_before: datetime | None = None
    platform: str = ""  # the source (outbox lane) it goes out through; "" = the session's
    actor: str | None = None  # who asked for it (the operator's name)
    # filled when read back
    id: int = 0
    session_id: str = ""
    state: str = "intent"
    attempts: int = 0
    platform_id: str | None = None
    platform_extra: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    created_at: str = ""
    sent_at: str | None = None


_COLUMNS = (
    "id, session_id, key, op, seq, kind, text, reply_to, quote_of, repost_of, dm_to, media, "
    "question_id, state, attempts, platform_id, error, not_before, created_at, sent_at, "
    "platform, platform_extra, actor"
)


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        session_id=row["session_id"],
        key=row["key"],
        op=row["op"],
        seq=row["seq"],
        kind=row["kind"],
        text=row["text"],
        reply_to=row["reply_to"],
        quote_of=row["quote_of"],
        repost_of=row["repost_of"],
        dm_to=row["dm_to"],
        media=json.loads(row["media"]) if row["media"] else [],
        question_id=row["question_id"],
        state=row["state"],
        attempts=row["attempts"],
        platform_id=row["platform_id"],
        platform_extra=json.loads(row["platform_extra"]) if row["platform_extra"] else {},
        error=row["error"],
        not_before=from_iso(row["not_before"]) if row["not_before"] else None,
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        platform=row["platform"],
        actor=row["actor"],
    )


def intent_values(session_id: str, item: OutboxItem, default_platform: str) -> tuple[Any, ...]:
    return (
        session_id,
        item.key,
        item.op or item.key,
        item.seq,
        item.kind,
        item.text,
        item.reply_to,
        item.quote_of,
        item.repost_of,
        item.dm_to,
        json.dumps(item.media) if item.media else None,
        item.question_id,
        to_iso(item.not_before) if item.not_before else None,
        to_iso(datetime.now(UTC)),
        item.platform or default_platform,
        item.actor,
    )


INSERT_INTENT = (
    "INSERT INTO outbox (session_id, key, op, seq, kind, text, reply_to, quote_of, "
    "repost_of, dm_to, media, question_id, not_before, created_at, platform, actor) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
)


class OutboxRepo(Engine):
    def _session_platform(self, db: Any, session_id: str) -> str:
        row = db.execute("SELECT platform FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return str(row["platform"]) if row else ""

    def add_intents(self, session_id: str, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        """Write intents (one transaction); an item whose key exists is left as it is.
        Returns the stored rows for the given keys."""
        with self.transaction() as db:
            lane = self._session_platform(db, session_id)
            db.executemany(INSERT_INTENT, [intent_values(session_id, i, lane) for i in items])
        return [item for i in items if (item := self.outbox_item(i.key)) is not None]

    def outbox_item(self, key: str) -> OutboxItem | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE key = ?", (key,))
        found = row.fetchone()
        return _item(found) if found else None

    def outbox(
        self,
        session_id: str | None = None,
        states: Sequence[str] | None = None,
        *,
        platform: str | None = None,
    ) -> list[OutboxItem]:
        sql = f"SELECT {_COLUMNS} FROM outbox WHERE 1=1"
        params: list[Any] = []
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(states)
        if platform is not None:
            sql += " AND platform = ?"
            params.append(platform)
        sql += " ORDER BY id"
        return [_item(r) for r in self.db.execute(sql, params)]

    def op_steps(self, op: str) -> list[OutboxItem]:
        return [
            _item(r)
            for r in self.db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE op = ? ORDER BY seq", (op,)
            )
        ]

    def mark_sending(self, item_id: int) -> bool:
        """Claim an intent for sending; False when another process claimed or sent it."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1 "
                "WHERE id = ? AND state = 'intent'",
                (item_id,),
            )
        return bool(cur.rowcount == 1)

    def mark_sent(
        self,
        item_id: int,
        platform_id: str | None,
        at: datetime,
        extra: dict[str, str] | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'sent', platform_id = ?, platform_extra = ?, "
                "sent_at = ?, error = NULL WHERE id = ?",
                (platform_id, json.dumps(extra) if extra else None, to_iso(at), item_id),
            )

    def mark_state(
        self,
        item_id: int,
        state: str,
        error: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        if state not in OUTBOX_STATES:
            raise ValueError(state)
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = ?, error = ?, not_before = ? WHERE id = ?",
                (state, error, to_iso(not_before) if not_before else None, item_id),
            )
