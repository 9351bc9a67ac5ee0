"""Team mode's state: claims on questions, drafts waiting for approval, and the audit log
(every action with its actor, role and time), on SQLite and PostgreSQL alike.

Times come from the database's clock (`database_now`: the server's on PostgreSQL), so seats on
machines whose clocks disagree still agree on when a claim went idle."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from qasession.store.engine import Engine, from_iso, to_iso
from qasession.store.outbox import INSERT_INTENT, OutboxItem, intent_values

CLAIM_IDLE = timedelta(minutes=3)  # a claim nobody touched for this long is free again
NOTIFY_CHANNEL = "qasession"  # PostgreSQL: seats LISTEN here for claims, answers, drafts


@dataclass(frozen=True, slots=True)
class Who:
    """Who acts: their name and the role they act under (None: no team, or the tool)."""

    actor: str | None
    role: str | None = None


@dataclass(slots=True)
class NewDraft:
    """What `insert_draft` writes: an answer (or planned post) and its exact preview."""

    kind: str
    key: str
    actor: str
    request: dict[str, Any]
    preview: list[dict[str, Any]]
    platform: str = ""
    post_id: str | None = None
    number: int | None = None


@dataclass(slots=True)
class Claim:
    """Who holds a question, since when, and when they last touched it."""

    actor: str
    claimed_at: str
    touched_at: str
    number: int | None = None


@dataclass(slots=True)
class ClaimResult:
    ok: bool
    holder: Claim | None = None  # the claim in force (ours when ok, the other's when not)
    took_over: Claim | None = None  # the live claim of someone else that we took over
    status: str | None = None  # refused: the question is no longer open (answering, ...)


@dataclass(slots=True)
class Draft:
    """An answer (or a planned post) waiting for an approver."""

    id: int
    session_id: str
    kind: str  # answer | planned
    key: str  # the answer's op, or the planned post's outbox key
    platform: str
    post_id: str | None
    number: int | None
    request: dict[str, Any]
    preview: list[dict[str, Any]]
    state: str  # pending | approved | rejected
    actor: str
    created_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    final_text: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "question": self.number,
            "platform": self.platform,
            "state": self.state,
            "by": self.actor,
            "created_at": self.created_at,
            "text": self.request.get("text"),
            "mode": self.request.get("mode"),
            "preview": self.preview,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "final_text": self.final_text,
            "reason": self.reason,
        }


def _draft(row: Any) -> Draft:
    return Draft(
        id=int(row["id"]),
        session_id=row["session_id"],
        kind=row["kind"],
        key=row["key"],
        platform=row["platform"],
        post_id=row["post_id"],
        number=row["number"],
        request=json.loads(row["request"]),
        preview=json.loads(row["preview"]),
        state=row["state"],
        actor=row["actor"],
        created_at=row["created_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        final_text=row["final_text"],
        reason=row["reason"],
    )


def preview_json(steps: Sequence[OutboxItem]) -> list[dict[str, Any]]:
    """The posts an answer makes, as an approver sees them (what the loop will send)."""
    return [
        {
            "kind": s.kind,
            "text": s.text,
            **{
                k: v for k in ("reply_to", "quote_of", "repost_of", "dm_to") if (v := getattr(s, k))
            },
        }
        for s in steps
    ]


class TeamRepo(Engine):
    # -- the audit log ---------------------------------------------------------------------

    def audit(
        self,
        db: Any,
        session_id: str,
        who: Who,
        action: str,
        *,
        number: int | None = None,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """One line of the audit log, written in the caller's transaction `db` (the action
        and its record commit together, or neither does); tells the other seats."""
        db.execute(
            "INSERT INTO audit (session_id, at, actor, role, action, number, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                to_iso(at or self.database_now()),
                who.actor or "operator",
                who.role,
                action,
                number,
                json.dumps(detail or {}, ensure_ascii=True),
            ),
        )
        self.notify(db, session_id)

    def notify(self, db: Any, session_id: str) -> None:
        """Wake the seats watching the session (PostgreSQL delivers it at commit)."""
        if db.dialect == "postgresql":
            db.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, session_id))

    def record(
        self,
        session_id: str,
        who: Who,
        action: str,
        *,
        number: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.transaction(self.session_lane(session_id)) as db:
            self.audit(db, session_id, who, action, number=number, detail=detail)

    def audit_log(self, session_id: str, after: int = 0) -> list[dict[str, Any]]:
        return [
            {
                "id": row["id"],
                "at": row["at"],
                "actor": row["actor"],
                "role": row["role"],
                "action": row["action"],
                "question": row["number"],
                **json.loads(row["detail"]),
            }
            for row in self.db.execute(
                "SELECT * FROM audit WHERE session_id = ? AND id > ? ORDER BY id",
                (session_id, after),
            )
        ]

    def last_audit_id(self, session_id: str) -> int:
        (found,) = self.db.execute(
            "SELECT max(id) FROM audit WHERE session_id = ?", (session_id,)
        ).fetchone()
        return int(found or 0)

    # -- claims ----------------------------------------------------------------------------

    def _live_claim(
        self, db: Any, session_id: str, platform: str, post_id: str, now: datetime
    ) -> Claim | None:
        row = db.execute(
            "SELECT actor, claimed_at, touched_at, number FROM claims WHERE session_id = ? "
            "AND platform = ? AND post_id = ?",
            (session_id, platform, post_id),
        ).fetchone()
        if row is None or from_iso(row["touched_at"]) < now - CLAIM_IDLE:
            return None
        return Claim(row["actor"], row["claimed_at"], row["touched_at"], row["number"])

    def claim(
        self,
        session_id: str,
        platform: str,
        post_id: str,
        number: int | None,
        actor: str,
        *,
        role: str | None = None,
        take_over: bool = False,
    ) -> ClaimResult:
        """Claim a question for `actor` (or touch their own claim, which keeps it alive).
        Refused while someone else's claim is live, unless `take_over`; refused too when the
        question was answered (or hidden) meanwhile, as seen in this transaction."""
        with self.transaction(self.question_lane(session_id, post_id)) as db:
            found = db.execute(
                "SELECT status FROM posts WHERE session_id = ? AND platform = ? AND id = ?",
                (session_id, platform, post_id),
            ).fetchone()
            if found is not None and found["status"] not in ("queued", "skipped"):
                return ClaimResult(False, status=found["status"])
            now = self.database_now()
            held = self._live_claim(db, session_id, platform, post_id, now)
            if held is not None and held.actor != actor and not take_over:
                return ClaimResult(False, held)
            mine = held is not None and held.actor == actor
            claimed_at = held.claimed_at if mine and held else to_iso(now)
            db.execute(
                "INSERT INTO claims (session_id, platform, post_id, number, actor, claimed_at, "
                "touched_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, platform, "
                "post_id) DO UPDATE SET actor = excluded.actor, claimed_at = "
                "excluded.claimed_at, touched_at = excluded.touched_at",
                (session_id, platform, post_id, number, actor, claimed_at, to_iso(now)),
            )
            took = held if held is not None and not mine else None
            if not mine:
                detail = {"from": took.actor} if took else None
                action = "take_over" if took else "claim"
                who = Who(actor, role)
                self.audit(db, session_id, who, action, number=number, detail=detail, at=now)
        return ClaimResult(True, Claim(actor, claimed_at, to_iso(now), number), took)

    def release(
        self,
        session_id: str,
        platform: str,
        post_id: str,
        actor: str,
        *,
        role: str | None = None,
        number: int | None = None,
    ) -> bool:
        """Give up `actor`'s claim on a question; False when they held none."""
        with self.transaction(self.question_lane(session_id, post_id)) as db:
            cur = db.execute(
                "DELETE FROM claims WHERE session_id = ? AND platform = ? AND post_id = ? "
                "AND actor = ?",
                (session_id, platform, post_id, actor),
            )
            if cur.rowcount:
                self.audit(db, session_id, Who(actor, role), "release", number=number)
        return bool(cur.rowcount)

    def live_claims(self, session_id: str) -> dict[tuple[str, str], Claim]:
        """The claims in force, by (platform, post id)."""
        since = to_iso(self.database_now() - CLAIM_IDLE)
        return {
            (row["platform"], row["post_id"]): Claim(
                row["actor"], row["claimed_at"], row["touched_at"], row["number"]
            )
            for row in self.db.execute(
                "SELECT * FROM claims WHERE session_id = ? AND touched_at >= ?",
                (session_id, since),
            )
        }

    def check_claim(
        self, db: Any, session_id: str, platform: str, post_id: str, actor: str | None
    ) -> Claim | None:
        """Someone else's live claim on the question (in the caller's transaction), or None."""
        held = self._live_claim(db, session_id, platform, post_id, self.database_now())
        return held if held is not None and held.actor != actor else None

    def drop_claim(self, db: Any, session_id: str, platform: str, post_id: str) -> None:
        db.execute(
            "DELETE FROM claims WHERE session_id = ? AND platform = ? AND post_id = ?",
            (session_id, platform, post_id),
        )

    # -- drafts ----------------------------------------------------------------------------

    def insert_draft(self, db: Any, session_id: str, new: NewDraft) -> int:
        return self.insert_id(
            db,
            "INSERT INTO drafts (session_id, kind, key, platform, post_id, number, request, "
            "preview, state, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (
                session_id,
                new.kind,
                new.key,
                new.platform,
                new.post_id,
                new.number,
                json.dumps(new.request, ensure_ascii=True),
                json.dumps(new.preview, ensure_ascii=True),
                new.actor,
                to_iso(self.database_now()),
            ),
        )

    def drafts(self, session_id: str, states: Sequence[str] | None = None) -> list[Draft]:
        sql = "SELECT * FROM drafts WHERE session_id = ?"
        params: list[Any] = [session_id]
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params += list(states)
        return [_draft(row) for row in self.db.execute(sql + " ORDER BY id", params)]

    def draft(self, session_id: str, draft_id: int) -> Draft | None:
        row = self.db.execute(
            "SELECT * FROM drafts WHERE session_id = ? AND id = ?", (session_id, draft_id)
        ).fetchone()
        return _draft(row) if row else None

    def planned_draft(self, session_id: str, key: str) -> Draft | None:
        row = self.db.execute(
            "SELECT * FROM drafts WHERE session_id = ? AND kind = 'planned' AND key = ?",
            (session_id, key),
        ).fetchone()
        return _draft(row) if row else None

    def add_planned_draft(
        self, session_id: str, key: str, preview: list[dict[str, Any]], kind: str
    ) -> None:
        """A planned post due and waiting for approval (once per post, whoever gets there)."""
        with self.transaction() as db:
            if db.execute(
                "SELECT 1 FROM drafts WHERE session_id = ? AND kind = 'planned' AND key = ?",
                (session_id, key),
            ).fetchone():
                return
            request = {"text": preview[0]["text"] if preview else "", "post": kind}
            new = NewDraft("planned", key, "plan", request, preview)
            draft_id = self.insert_draft(db, session_id, new)
            detail = {"draft": draft_id, "post": key}
            self.audit(db, session_id, Who("plan"), "draft", detail=detail)

    def decide_draft(
        self,
        draft: Draft,
        *,
        approved: bool,
        actor: str,
        role: str | None,
        steps: Sequence[OutboxItem] = (),
        final_text: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Approve (its steps enter the outbox, its question moves on to `answering`) or
        reject (the question goes back to the queue) a pending draft, in one transaction.
        False when it was decided meanwhile by someone else."""
        lanes = [self.session_lane(draft.session_id)]
        if draft.post_id:  # its question's claim is dropped with it
            lanes.append(self.question_lane(draft.session_id, draft.post_id))
        with self.transaction(*lanes) as db:
            now = self.database_now()
            cur = db.execute(
                "UPDATE drafts SET state = ?, decided_by = ?, decided_at = ?, final_text = ?, "
                "reason = ? WHERE id = ? AND state = 'pending'",
                (
                    "approved" if approved else "rejected",
                    actor,
                    to_iso(now),
                    final_text,
                    reason,
                    draft.id,
                ),
            )
            if cur.rowcount != 1:
                return False
            if draft.kind == "answer" and draft.post_id is not None:
                status = "answering" if approved else "queued"
                db.execute(
                    "UPDATE posts SET status = ? WHERE session_id = ? AND platform = ? AND "
                    "id = ? AND status = 'drafted'",
                    (status, draft.session_id, draft.platform, draft.post_id),
                )
            if approved and steps:
                db.executemany(
                    INSERT_INTENT,
                    [intent_values(draft.session_id, step, draft.platform) for step in steps],
                )
            detail: dict[str, Any] = {"draft": draft.id, "by": draft.actor}
            if final_text is not None:
                detail["edited"] = True
            if reason:
                detail["why"] = reason
            waited = (now - from_iso(draft.created_at)).total_seconds()
            detail["waited_s"] = round(waited, 1)
            self.audit(
                db,
                draft.session_id,
                Who(actor, role),
                "approve" if approved else "reject",
                number=draft.number,
                detail=detail,
                at=now,
            )
        return True
