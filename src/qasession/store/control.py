"""Operator commands (the audit log of who did what), moderation and session events; the
answer claim that lets exactly one answer through per question."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qasession.store.engine import to_iso
from qasession.store.outbox import INSERT_INTENT, OutboxItem, intent_values
from qasession.store.team import Claim, NewDraft, TeamRepo, Who, preview_json

ANSWERABLE = ("queued", "skipped")  # statuses an answer may move to `answering`


@dataclass(slots=True)
class AnswerClaim:
    """The result of `claim_answer`: the command's id when accepted; else the first answer."""

    accepted: bool
    command_id: int | None = None
    status: str | None = None  # the question's status when refused
    first: dict[str, Any] | None = None  # the earlier answer command (id, actor, created_at)
    claimed: Claim | None = None  # refused: someone else's live claim on the question
    took_over: Claim | None = None  # accepted over someone else's live claim
    draft_id: int | None = None  # under approval: the draft written instead of outbox steps


@dataclass(frozen=True, slots=True)
class AnswerTerms:
    """How an answer is taken: a follow-up on purpose, over someone else's claim, as a draft
    waiting for approval."""

    follow_up: bool = False
    take_over: bool = False
    draft: bool = False


class ControlRepo(TeamRepo):
    # -- commands (the audit log; `close` is also read by the loop) ------------------------

    def add_command(
        self,
        session_id: str,
        kind: str,
        args: dict[str, Any],
        *,
        actor: str | None = None,
        state: str = "pending",
        result: str | None = None,
        role: str | None = None,
    ) -> int:
        now = to_iso(datetime.now(UTC))
        with self.transaction(self.session_lane(session_id)) as db:
            number = args.get("number")
            who = Who(actor, role)
            self.audit(db, session_id, who, kind, number=number, detail=_detail(args))
            command_id = self.insert_id(
                db,
                "INSERT INTO commands (session_id, kind, args, state, result, created_at, "
                "done_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    kind,
                    json.dumps(args),
                    state,
                    result,
                    now,
                    None if state == "pending" else now,
                    actor,
                ),
            )
        return command_id

    def pending_commands(self, session_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        return [
            (row["id"], row["kind"], json.loads(row["args"]))
            for row in self.db.execute(
                "SELECT id, kind, args FROM commands WHERE session_id = ? AND state = 'pending' "
                "ORDER BY id",
                (session_id,),
            )
        ]

    def commands(self, session_id: str) -> list[dict[str, Any]]:
        return [
            {**dict(row), "args": json.loads(row["args"])}
            for row in self.db.execute(
                "SELECT * FROM commands WHERE session_id = ? ORDER BY id", (session_id,)
            )
        ]

    def finish_command(self, command_id: int, state: str, result: str | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE commands SET state = ?, result = ?, done_at = ? WHERE id = ?",
                (state, result, to_iso(datetime.now(UTC)), command_id),
            )

    def claim_answer(
        self,
        session_id: str,
        platform: str,
        post_id: str,
        args: dict[str, Any],
        steps: Sequence[OutboxItem],
        *,
        who: Who,
        terms: AnswerTerms = AnswerTerms(),
    ) -> AnswerClaim:
        """In one transaction: move the question from queued (or skipped) to `answering`,
        write the answer's outbox steps and record the command. A question already being
        answered (or answered, or drafted) is refused with the first answer, unless
        `follow_up`; one claimed by someone else is refused unless `take_over`. With `draft`
        (approval required) the steps wait as a draft and the question becomes `drafted`."""
        now = to_iso(datetime.now(UTC))
        actor, draft = who.actor, terms.draft
        lanes = (self.session_lane(session_id), self.question_lane(session_id, post_id))
        with self.transaction(*lanes) as db:
            row = db.execute(
                "SELECT status, number FROM posts WHERE session_id = ? AND platform = ? AND id = ?",
                (session_id, platform, post_id),
            ).fetchone()
            if row is None:
                return AnswerClaim(False)
            held = self.check_claim(db, session_id, platform, post_id, actor)
            if held is not None and not terms.take_over:
                return AnswerClaim(False, status=row["status"], claimed=held)
            if not terms.follow_up:
                marks = ",".join("?" * len(ANSWERABLE))
                cur = db.execute(
                    f"UPDATE posts SET status = ? WHERE session_id = ? AND "
                    f"platform = ? AND id = ? AND status IN ({marks})",
                    (
                        "drafted" if draft else "answering",
                        session_id,
                        platform,
                        post_id,
                        *ANSWERABLE,
                    ),
                )
                if cur.rowcount != 1:
                    first = self._first_answer(session_id, post_id, platform)
                    return AnswerClaim(False, status=row["status"], first=first)
            command_id = self.insert_id(
                db,
                "INSERT INTO commands (session_id, kind, args, state, result, created_at, "
                "done_at, actor) VALUES (?, 'answer', ?, 'done', ?, ?, ?, ?)",
                (
                    session_id,
                    json.dumps(args),
                    "draft" if draft else args.get("op"),
                    now,
                    now,
                    actor,
                ),
            )
            draft_id = None
            number = row["number"]
            if draft:
                new = NewDraft(
                    "answer",
                    str(args.get("op")),
                    actor or "operator",
                    args,
                    preview_json(steps),
                    platform,
                    post_id,
                    number,
                )
                draft_id = self.insert_draft(db, session_id, new)
            else:
                db.executemany(
                    INSERT_INTENT, [intent_values(session_id, step, platform) for step in steps]
                )
            self.drop_claim(db, session_id, platform, post_id)
            if held is not None:
                taken = {"from": held.actor}
                self.audit(db, session_id, who, "take_over", number=number, detail=taken)
            detail = {"mode": args.get("mode"), "text": args.get("text")}
            if draft_id is not None:
                detail["draft"] = draft_id
            if terms.follow_up:
                detail["follow_up"] = True
            action = "draft" if draft else "answer"
            self.audit(db, session_id, who, action, number=number, detail=detail)
        return AnswerClaim(True, command_id, took_over=held, draft_id=draft_id)

    def _first_answer(self, session_id: str, post_id: str, platform: str) -> dict[str, Any] | None:
        for row in self.db.execute(
            "SELECT id, args, actor, created_at FROM commands WHERE session_id = ? "
            "AND kind = 'answer' AND state = 'done' ORDER BY id",
            (session_id,),
        ):
            args = json.loads(row["args"])
            if args.get("post_id") == post_id and args.get("platform", platform) == platform:
                return {**dict(row), "args": args}
        return None

    # -- moderation ------------------------------------------------------------------------

    def add_moderation(
        self,
        session_id: str,
        handle: str,
        action: str,
        at: datetime,
        *,
        platform: str = "",
        actor: str | None = None,
    ) -> int:
        """Block or mute `handle` (on `platform`; "" on every platform of the session): their
        queued questions are hidden. Returns how many were hidden."""
        key = handle.lower()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO moderation (session_id, platform, handle, action, at, actor) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (session_id, platform, key, action, to_iso(at), actor),
            )
            if action not in ("blocked", "muted"):
                return 0
            where = "session_id = ? AND lower(author) = ? AND status = 'queued'"
            params: tuple[Any, ...] = (session_id, key)
            if platform:
                where += " AND platform = ?"
                params += (platform,)
            cur = db.execute(f"UPDATE posts SET status = 'hidden' WHERE {where}", params)
        return int(cur.rowcount)

    def moderation(self, session_id: str, platform: str | None = None) -> dict[str, set[str]]:
        """Moderated handles by action; with `platform`, those that apply there."""
        result: dict[str, set[str]] = {"blocked": set(), "muted": set()}
        sql = "SELECT handle, action FROM moderation WHERE session_id = ?"
        params: tuple[Any, ...] = (session_id,)
        if platform is not None:
            sql += " AND platform IN ('', ?)"
            params += (platform,)
        for row in self.db.execute(sql, params):
            result.setdefault(row["action"], set()).add(row["handle"])
        return result

    # -- events ----------------------------------------------------------------------------

    def add_event(self, session_id: str, event: str, data: dict[str, Any], at: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (session_id, at, event, data) VALUES (?, ?, ?, ?)",
                (session_id, to_iso(at), event, json.dumps(data)),
            )

    def events(self, session_id: str, event: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT at, event, data FROM events WHERE session_id = ?"
        params: list[Any] = [session_id]
        if event:
            sql += " AND event = ?"
            params.append(event)
        return [
            {"at": row["at"], "event": row["event"], **json.loads(row["data"])}
            for row in self.db.execute(sql + " ORDER BY id", params)
        ]


def _detail(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k != "number"}
