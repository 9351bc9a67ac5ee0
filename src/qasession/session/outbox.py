"""Sending what the outbox holds: intent first, then the call, then the platform's id.

Every outgoing post is an outbox row before it is sent. A row is claimed (`sending`, committed)
right before the platform call and marked `sent` with the id after it. A row left `sending` by a
crash or a lost answer may have been sent: it is reconciled (the platform is asked by the row's
idempotency key) and only re-sent when the platform says it was not. Steps of one operation
(repost, then answer; the parts of a thread) run in order, each exactly once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from qasession.clock import Clock
from qasession.errors import (
    AuthError,
    DuplicatePost,
    PlatformError,
    RateLimited,
    ReplyRestricted,
)
from qasession.faults import crash_point
from qasession.platforms.base import Platform
from qasession.store import OutboxItem, Store

PREVIOUS_STEP = "^"  # reply_to value meaning "the platform id of the previous step"
MAX_BACKOFF = 300.0

Emit = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class FlushResult:
    sent: list[OutboxItem]
    waiting_until: datetime | None = None  # a rate limit holds everything until then


class Outbox:
    """Sends the intents of one session through one platform."""

    def __init__(
        self,
        store: Store,
        platform: Platform,
        session_id: str,
        clock: Clock,
        emit: Emit | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.platform = platform
        self.session_id = session_id
        self.clock = clock
        self.emit: Emit = emit or (lambda event: None)
        self._jitter = random.Random(seed)

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
            self.store.mark_sent(item.id, found, self.clock.now())
            self._posted(item, found, reconciled=True)
            return "sent"
        self.store.mark_state(item.id, "intent", None)
        return "intent"

    def reconcile_all(self) -> None:
        """Settle every row a crash left `sending` (called when a process starts)."""
        for item in self.store.outbox(self.session_id, ("sending",)):
            try:
                self.reconcile(item)
            except PlatformError:
                continue  # asked again on the next flush

    # -- sending ---------------------------------------------------------------------------

    def flush(self, keys: set[str] | None = None) -> FlushResult:
        """Send every intent that is due and whose earlier steps are done (optionally only
        those whose key is in `keys`). Stops at a rate limit."""
        sent: list[OutboxItem] = []
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
        for item in self.store.outbox(self.session_id, ("intent", "sending")):
            if keys is not None and item.key not in keys:
                continue
            if item.not_before is not None and item.not_before > now:
                continue
            if not self._ready(item):
                continue
            try:
                if item.state == "sending" and self.reconcile(item) != "intent":
                    continue
                done = self.send(item)
            except RateLimited as exc:
                return exc.reset_at
            if done is not None:
                sent.append(done)
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
        platform_id: str | None
        try:
            platform_id = self._call(item)
        except DuplicatePost as exc:
            platform_id = exc.existing_id
        except RateLimited as exc:
            self.store.mark_state(item.id, "intent", str(exc), exc.reset_at)
            raise
        except ReplyRestricted as exc:
            self._fall_back_to_dot(item, str(exc))
            return None
        except AuthError:
            self.store.mark_state(item.id, "intent", "credentials refused")
            raise
        except PlatformError as exc:
            if exc.retryable:
                # it may have gone through: stay `sending`, reconcile before any new attempt
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
        now = self.clock.now()
        self.store.mark_sent(item.id, platform_id, now)
        self._posted(item, platform_id)
        sent = self.store.outbox_item(item.key)
        return sent

    def _call(self, item: OutboxItem) -> str:
        if item.kind == "repost":
            assert item.repost_of is not None
            return self.platform.repost(item.repost_of, idempotency_key=item.key)
        if item.kind == "dm":
            assert item.dm_to is not None and item.text is not None
            return self.platform.send_dm(item.dm_to, item.text, idempotency_key=item.key)
        reply_to = item.reply_to
        if reply_to == PREVIOUS_STEP:
            reply_to = self._previous_id(item)
        return self.platform.post(
            item.text or "",
            reply_to=reply_to,
            quote_of=item.quote_of,
            media=item.media or None,
            idempotency_key=item.key,
        )

    def _previous_id(self, item: OutboxItem) -> str | None:
        previous = [s for s in self.store.op_steps(item.op) if s.seq < item.seq and s.platform_id]
        return previous[-1].platform_id if previous else None

    def _backoff(self, item: OutboxItem) -> datetime:
        delay = min(MAX_BACKOFF, 2.0 ** max(item.attempts, 1))
        return self.clock.now() + timedelta(seconds=delay * self._jitter.uniform(0.5, 1.5))

    def _fall_back_to_dot(self, item: OutboxItem, reason: str) -> None:
        """The platform refused a reply (X: the asker did not mention us): post the answer as
        a stand-alone `.@asker` post after a repost of the question, and say so."""
        from qasession.compose import dot_text

        asker = None
        if item.question_id:
            row = self.store.post_row(self.session_id, item.question_id)
            asker = row["author"] if row else None
        text = dot_text(item.text or "", asker) if asker else item.text or ""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'intent', text = ?, reply_to = NULL, error = ? "
                "WHERE id = ?",
                (text, f"reply refused ({reason}); posted as a .@ answer", item.id),
            )
        if item.question_id:
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
                    )
                ],
            )
        self.emit(
            {
                "event": "warning",
                "message": "the platform refused a reply to this question; "
                "answering with a repost and a .@ post instead",
                "key": item.key,
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
    store: Store, session_id: str, key: str, *, sent: bool, platform_id: str | None = None
) -> OutboxItem:
    """The operator's word on an item: it was sent (never send it again), or it was not and
    may be sent again. Only uncertain, failed or `sending` items can be settled."""
    from datetime import UTC

    from qasession.errors import UsageError

    item = store.outbox_item(key)
    if item is None or item.session_id != session_id:
        raise UsageError(f"no outbox item {key!r} in session {session_id}", hint="see `qa outbox`")
    if item.state not in ("uncertain", "failed", "sending"):
        raise UsageError(f"{key} is {item.state}; only uncertain or failed items can be settled")
    if sent:
        store.mark_sent(item.id, platform_id, datetime.now(UTC))
    else:
        store.mark_state(item.id, "intent")
    settled = store.outbox_item(key)
    assert settled is not None
    return settled
