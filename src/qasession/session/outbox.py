"""Sending what the outbox holds: intent first, then the call, then the platform's id.

Every outgoing post is an outbox row before it is sent. A row is claimed (`sending`, committed)
right before the platform call and marked `sent` with the id after it. A row left `sending` by a
crash or a lost answer may have been sent: it is reconciled (the platform is asked by the row's
idempotency key) and only re-sent when the platform says it was not. Steps of one operation
(repost, then answer; the parts of a thread) run in order, each exactly once.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from qasession.checkpoints import reached as crash_point
from qasession.clock import Clock
from qasession.errors import (
    AuthError,
    DuplicatePost,
    PlatformError,
    PostUnreachable,
    RateLimited,
    RecipientClosed,
    ReplyRestricted,
)
from qasession.platforms.base import Author, Media, Platform, PostRef
from qasession.store import OutboxItem, Store
from qasession.store.engine import from_iso

if TYPE_CHECKING:
    from qasession.plan import Session

PREVIOUS_STEP = "^"  # reply_to value meaning "the platform id of the previous step"
MAX_BACKOFF = 300.0

Emit = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class FlushResult:
    sent: list[OutboxItem]
    waiting_until: datetime | None = None  # a rate limit holds everything until then


class Outbox:
    """Sends the intents of one session's lane (its items for one source) through that
    source's platform adapter; lanes wait and drain independently."""

    def __init__(
        self,
        store: Store,
        platform: Platform,
        session_id: str,
        clock: Clock,
        emit: Emit | None = None,
        *,
        seed: int | None = None,
        lane: str | None = None,
    ) -> None:
        self.store = store
        self.platform = platform
        self.session_id = session_id
        self.clock = clock
        self.emit: Emit = emit or (lambda event: None)
        self._jitter = random.Random(seed)
        self.lane = lane or platform.source
        # A lane of a session on several platforms sends in order: an item held back by a
        # failing platform holds the ones after it, so the lane drains in order once it is back.
        self.in_order = False
        self.failing: str | None = None  # why the last flush stopped (a platform error)

    # -- reconciliation --------------------------------------------------------------------

    def reconcile(self, item: OutboxItem) -> str:
        """Settle a row left `sending`: returns its new state (sent, intent or uncertain)."""
        if not self.platform.capabilities.can_lookup_sent:
            self.store.mark_state(
                item.id,
                "uncertain",
                "may have been sent: check the platform, then `qa outbox confirm KEY` or "
                "`qa outbox resend KEY`",
            )
            self.emit(
                {
                    "event": "warning",
                    "message": f"cannot tell whether {item.kind} {item.key} was sent",
                    "key": item.key,
                }
            )
            return "uncertain"
        found = self.platform.find_sent(item.key)
        if found is not None:
            self._mark_sent(item, found)
            self._posted(item, found.id, reconciled=True)
            return "sent"
        self.store.mark_state(item.id, "intent", None)
        return "intent"

    def reconcile_all(self) -> None:
        """Settle every row a crash left `sending` (called when a process starts)."""
        for item in self.store.outbox(self.session_id, ("sending",), platform=self.lane):
            try:
                self.reconcile(item)
            except PlatformError:
                continue  # asked again on the next flush

    # -- sending ---------------------------------------------------------------------------

    def flush(self, keys: set[str] | None = None) -> FlushResult:
        """Send every intent that is due and whose earlier steps are done (optionally only
        those whose key is in `keys`). Stops at a rate limit."""
        sent: list[OutboxItem] = []
        self.failing = None
        for _ in range(10):  # a step sent can make the next one of its operation ready
            before = len(sent)
            waiting = self._pass(keys, sent)
            if waiting is not None:
                return FlushResult(sent, waiting)
            if len(sent) == before:
                break
        return FlushResult(sent)

    def _pass(self, keys: set[str] | None, sent: list[OutboxItem]) -> datetime | None:
        now = self.clock.now()
        for item in self.store.outbox(self.session_id, ("intent", "sending"), platform=self.lane):
            if keys is not None and item.key not in keys:
                continue
            if item.not_before is not None and item.not_before > now:
                if self.in_order:
                    self.failing = self.failing or item.error or "waiting to retry"
                    return None
                continue
            if not self._ready(item):
                continue
            try:
                if item.state == "sending" and self.reconcile(item) != "intent":
                    continue
                done = self.send(item)
            except RateLimited as exc:
                return exc.reset_at
            except PlatformError as exc:
                if not self.in_order:
                    raise
                self.failing = str(exc)  # the platform cannot even say what it sent
                return None
            if done is not None:
                sent.append(done)
            elif self.in_order and self.failing:
                return None
        return None

    def _ready(self, item: OutboxItem) -> bool:
        for step in self.store.op_steps(item.op):
            if step.seq >= item.seq:
                break
            if step.state in ("intent", "sending", "uncertain"):
                return False
        return True

    def send(self, item: OutboxItem) -> OutboxItem | None:
        """Send one intent. Returns the sent row, or None when it is left for later (retry,
        failure). Raises RateLimited (after putting the row back) and AuthError."""
        if not self.store.mark_sending(item.id):
            return None  # another process has it
        crash_point("before-send")
        sent: PostRef | None
        try:
            sent = self._call(item)
        except DuplicatePost as exc:
            sent = PostRef(self.lane, exc.existing_id) if exc.existing_id else None
        except RateLimited as exc:
            self.store.mark_state(item.id, "intent", str(exc), exc.reset_at)
            raise
        except PostUnreachable as exc:
            if item.kind == "repost":
                self._skip_unreachable(item, str(exc))
            else:
                self._fall_back_to_dot(item, str(exc), repost=False)
            return None
        except ReplyRestricted as exc:
            self._fall_back_to_dot(item, str(exc))
            return None
        except RecipientClosed as exc:
            self._recipient_closed(item, str(exc))
            return None
        except AuthError:
            self.store.mark_state(item.id, "intent", "credentials refused")
            raise
        except PlatformError as exc:
            if exc.retryable:
                # it may have gone through: stay `sending`, reconcile before any new attempt
                self.failing = str(exc)
                self.store.mark_state(item.id, "sending", str(exc), self._backoff(item))
                self.emit(
                    {"event": "warning", "message": f"{item.kind} delayed: {exc}", "key": item.key}
                )
                return None
            self.store.mark_state(item.id, "failed", str(exc))
            self.emit(
                {"event": "warning", "message": f"{item.kind} failed: {exc}", "key": item.key}
            )
            return None
        crash_point("after-send")
        self._mark_sent(item, sent)
        self._posted(item, sent.id if sent else None)
        return self.store.outbox_item(item.key)

    def _mark_sent(self, item: OutboxItem, sent: PostRef | None) -> None:
        """Mark `item` sent; the last step of an answer marks its question answered."""
        self.store.mark_sent(
            item.id, sent.id if sent else None, self.clock.now(), sent.extra if sent else None
        )
        if item.question_id and item.kind in ("answer", "dm"):
            steps = self.store.op_steps(item.op)
            # a repost that could not be made (cancelled) does not hold the answer back
            if all(step.state in ("sent", "cancelled") for step in steps):
                self.store.set_status(
                    self.session_id,
                    item.question_id,
                    "answered",
                    self.lane,
                    only_from=("answering",),
                )

    def _ref(self, post_id: str) -> PostRef:
        """A post of this lane's platform, with what the store keeps for acting on it."""
        row = self.store.post_row(self.session_id, post_id, self.lane)
        extra = json.loads(row["extra"]) if row is not None and row["extra"] else {}
        return PostRef(self.lane, post_id, extra)

    def _recipient(self, item: OutboxItem) -> Author:
        assert item.dm_to is not None
        if item.question_id:
            row = self.store.post_row(self.session_id, item.question_id, self.lane)
            if row is not None and row["author_id"]:
                return Author(row["author_id"], item.dm_to)
        return Author(item.dm_to, item.dm_to)

    def _call(self, item: OutboxItem) -> PostRef:
        if item.created_at:
            self.platform.intent_made(item.key, from_iso(item.created_at))
        if item.kind == "repost":
            assert item.repost_of is not None
            return self.platform.repost(self._ref(item.repost_of), idempotency_key=item.key)
        if item.kind == "dm":
            assert item.text is not None
            return self.platform.send_dm(self._recipient(item), item.text, idempotency_key=item.key)
        reply_to: PostRef | None = None
        if item.reply_to == PREVIOUS_STEP:
            reply_to = self._previous(item)
        elif item.reply_to:
            reply_to = self._ref(item.reply_to)
        return self.platform.post(
            item.text or "",
            reply_to=reply_to,
            quote_of=self._ref(item.quote_of) if item.quote_of else None,
            media=[Media.from_json(m) for m in item.media],
            idempotency_key=item.key,
        )

    def _previous(self, item: OutboxItem) -> PostRef | None:
        previous = [s for s in self.store.op_steps(item.op) if s.seq < item.seq and s.platform_id]
        if not previous:
            return None
        step = previous[-1]
        assert step.platform_id is not None
        return PostRef(self.lane, step.platform_id, dict(step.platform_extra))

    def _backoff(self, item: OutboxItem) -> datetime:
        delay = min(MAX_BACKOFF, 2.0 ** max(item.attempts, 1))
        return self.clock.now() + timedelta(seconds=delay * self._jitter.uniform(0.5, 1.5))

    def _skip_unreachable(self, item: OutboxItem, reason: str) -> None:
        """A repost of a post the host's account cannot reach (a Mastodon post its instance
        cannot resolve): the operator is told, and the answer goes on without it."""
        self.store.mark_state(item.id, "cancelled", f"cannot repost: {reason}")
        self.emit(
            {
                "event": "warning",
                "message": f"cannot repost this question: {reason}; the answer goes out as a "
                "stand-alone post that mentions the asker",
                "key": item.key,
            }
        )

    def _fall_back_to_dot(self, item: OutboxItem, reason: str, *, repost: bool = True) -> None:
        """The platform refused a reply (X: the asker did not mention us) or cannot reach the
        question (a quote or reply of a post the host's instance cannot resolve): post the
        answer as a stand-alone `.@asker` post, after a repost of the question when it can be
        reposted (never a repost of a question carrying private data), and say so."""
        from qasession.compose import dot_text

        row = None
        if item.question_id:
            row = self.store.post_row(self.session_id, item.question_id, self.lane)
        hidden = self.platform.capabilities.leading_mention_hidden
        text = item.text or ""
        if row is not None:
            text = dot_text(text, row["author"], leading_mention_hidden=hidden)
        private = row is not None and "sensitive" in row["flags"].split(",")
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'intent', text = ?, reply_to = NULL, quote_of = NULL, "
                "error = ? WHERE id = ?",
                (text, f"reply refused ({reason}); posted as a stand-alone answer", item.id),
            )
        if item.question_id and not private and repost:
            self.store.add_intents(
                self.session_id,
                [
                    OutboxItem(
                        key=f"{item.op}:repost",
                        op=item.op,
                        seq=item.seq - 1,
                        kind="repost",
                        repost_of=item.question_id,
                        question_id=item.question_id,
                        platform=self.lane,
                        actor=item.actor,
                    )
                ],
            )
        if not repost:
            message = f"{reason}; answering with a stand-alone post that mentions the asker"
        else:
            message = (
                "the platform refused a reply to this question; answering with "
                + ("a stand-alone post" if private else "a repost and a stand-alone post")
                + " instead"
            )
        self.emit({"event": "warning", "message": message, "key": item.key})

    def _recipient_closed(self, item: OutboxItem, reason: str) -> None:
        """The recipient takes no direct messages from the host: nothing of the answer goes
        out (not the public "check your messages" notice either), the question goes back to
        the queue, and the operator is told."""
        self.store.mark_state(item.id, "failed", reason)
        for step in self.store.op_steps(item.op):
            if step.seq > item.seq and step.state == "intent":
                self.store.mark_state(step.id, "cancelled", "the direct message was refused")
        if item.question_id:
            self.store.set_status(
                self.session_id, item.question_id, "queued", self.lane, only_from=("answering",)
            )
        who = item.dm_to or "the recipient"
        self.emit(
            {
                "event": "warning",
                "message": f"{who} does not accept direct messages from the host: nothing was "
                "sent or posted, and the question is back in the queue (answer it another way)",
                "key": item.key,
                "question": item.question_id,
            }
        )

    def _posted(self, item: OutboxItem, platform_id: str | None, reconciled: bool = False) -> None:
        event: dict[str, Any] = {
            "event": "posted",
            "kind": item.kind,
            "id": platform_id,
            "key": item.key,
        }
        if item.question_id:
            event["question"] = item.question_id
        if reconciled:
            event["reconciled"] = True
        self.store.add_event(self.session_id, "posted", event, self.clock.now())
        self.emit(event)


def settle(
    store: Store,
    session: Session,
    key: str,
    *,
    sent: bool,
    platform_id: str | None = None,
    actor: str | None = None,
) -> OutboxItem:
    """The operator's word on an item: it was sent (never send it again), or it was not and
    may be sent again. Only uncertain, failed or `sending` items can be settled, and only by
    the host (NotAllowed under the plan's `team:`); the audit log keeps who did."""
    from datetime import UTC

    from qasession.errors import UsageError
    from qasession.session.team import default_actor, require
    from qasession.store.team import Who

    actor = actor or default_actor()
    role = require(session, actor, "post")
    session_id = session.id

    item = store.outbox_item(key)
    if item is None or item.session_id != session_id:
        raise UsageError(f"no outbox item {key!r} in session {session_id}", hint="see `qa outbox`")
    if item.state not in ("uncertain", "failed", "sending"):
        raise UsageError(f"{key} is {item.state}; only uncertain or failed items can be settled")
    if sent:
        store.mark_sent(item.id, platform_id, datetime.now(UTC))
    else:
        store.mark_state(item.id, "intent")
    detail = {"key": key, "platform_id": platform_id} if sent else {"key": key}
    store.record(
        session_id,
        Who(actor, role),
        "outbox confirmed" if sent else "outbox resent",
        detail=detail,
    )
    settled = store.outbox_item(key)
    assert settled is not None
    return settled
