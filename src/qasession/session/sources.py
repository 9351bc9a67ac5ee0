"""A session's sources: one platform account each, with what it reads (the hashtag), its own
cursor, counters, rate budget, back-off and outbox lane. One session on one platform is the
case of one source; the loop never assumes there is only one."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from qasession.errors import AuthError, PlatformError, RateLimited
from qasession.platforms.base import Billing, Platform
from qasession.session.outbox import Outbox
from qasession.session.reading import POLL_FLOOR

if TYPE_CHECKING:
    from pathlib import Path

    from qasession.clock import Clock
    from qasession.plan import Session
    from qasession.session.ingest import Ingestor
    from qasession.store import Store
    from qasession.store.db import PostRecord

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as the plan gives it: its name (the outbox lane and the posts' platform tag),
    the adapter that serves it, its settings, the host's account and the hashtag read."""

    name: str
    platform: str
    settings: dict[str, Any] | None
    settings_line: int | None
    account: str | None
    hashtag: str


def sources_of(session: Session) -> list[SourceSpec]:
    """The sources of `session`: one per platform (its one `platform:`, or each of
    `platforms:`), each with that platform's account, hashtag and settings."""
    return [
        SourceSpec(
            name=view.platform,
            platform=view.platform,
            settings=view.platform_settings,
            settings_line=view.platform_settings_line,
            account=view.account,
            hashtag=view.hashtag,
        )
        for view in session.views()
    ]


def create_adapter(spec: SourceSpec, home: Path, plan_file: str, clock: Clock | None) -> Platform:
    """The adapter of one source, as every command builds it (errors in its settings point
    at their line in `plan_file`)."""
    from qasession.platforms import registry

    return registry.create(
        spec.platform,
        spec.settings,
        home=home,
        clock=clock,
        account=spec.account,
        source=spec.name,
        settings_at=(plan_file, spec.settings_line),
    )


def create_adapters(
    session: Session, home: Path, plan_file: str, clock: Clock | None = None
) -> dict[str, Platform]:
    """One adapter per source of `session`, by source name."""
    return {spec.name: create_adapter(spec, home, plan_file, clock) for spec in sources_of(session)}


@dataclass(slots=True)
class Pacing:
    poll_floor: float = POLL_FLOOR  # never poll more often (seconds of the session clock)
    poll_ceiling: float = 60.0
    max_backoff: float = 120.0


@dataclass(slots=True)
class SourceState:
    """One source in the live loop: its adapter, its outbox lane, when it polls next."""

    name: str
    platform: Platform
    outbox: Outbox
    hashtag: str
    host: str | None = None
    next_poll: datetime | None = None
    next_refresh: datetime | None = None
    post_hold_until: datetime | None = None
    poll_failures: int = 0
    budget_warned: bool = False
    budget_spent: bool = False
    failure: str | None = None  # why it is degraded (None: healthy)
    caught_up: bool = False  # read until caught up at least once in this process
    rng: random.Random = field(default_factory=random.Random)
    # one of several platforms: a failure (even of its credentials) degrades this source
    # and the session goes on with the others; alone, expired credentials stop the run
    degradable: bool = False
    degraded_since: datetime | None = None
    emit: Emit | None = None

    @property
    def billing(self) -> Billing | None:
        return self.platform if isinstance(self.platform, Billing) else None

    def counters(self) -> dict[str, Any]:
        """Platform calls so far (all processes), with the spend on a paid platform."""
        billing = self.billing
        spend = billing.spend() if billing is not None else 0.0
        return {**self.platform.counters.as_dict(), "spend_usd": round(spend, 4)}

    # -- start -----------------------------------------------------------------------------

    def connect(self, session: Session, store: Store, warn: Callable[[str], None]) -> None:
        """Who we are there and what the connected platform can do (stored, so `qa answer`
        composes with the instance's own limits); counters of earlier processes added."""
        from qasession.session.capabilities import capabilities_json

        store.ensure_source(session.id, self.name, self.platform.name, None)
        try:
            self.host = self.platform.me() or self.host
        except PlatformError as exc:
            warn(f"could not ask {self.name} who we are: {exc}")
        row = store.source_row(session.id, self.name) or {}
        if row.get("counters"):
            self.platform.counters.add(json.loads(row["counters"]))
        store.set_source_fields(
            session.id,
            self.name,
            account=self.host,
            capabilities=capabilities_json(self.platform.capabilities),
        )
        self.outbox.reconcile_all()

    def save_counters(self, session: Session, store: Store) -> None:
        store.set_source_fields(session.id, self.name, counters=self.counters())

    # -- sending ---------------------------------------------------------------------------

    # -- degraded, not down ------------------------------------------------------------------

    def degrade(self, reason: str, now: datetime, store: Store, session_id: str) -> None:
        """Say once that this platform fails (the header and the events show it); the
        others go on."""
        self.failure = reason
        if self.degraded_since is not None:
            return
        self.degraded_since = now
        event = {"event": "platform_degraded", "platform": self.name, "reason": reason}
        store.add_event(session_id, "platform_degraded", dict(event), now)
        store.set_source_fields(session_id, self.name, state="degraded", error=reason[:500])
        if self.emit is not None:
            self.emit(event)

    def recover(self, now: datetime, store: Store, session_id: str) -> None:
        self.failure = None
        if self.degraded_since is None:
            return
        seconds = round((now - self.degraded_since).total_seconds())
        self.degraded_since = None
        event = {"event": "platform_recovered", "platform": self.name, "after_seconds": seconds}
        store.add_event(session_id, "platform_recovered", dict(event), now)
        store.set_source_fields(session_id, self.name, state="ok", error=None)
        if self.emit is not None:
            self.emit(event)

    def send(
        self,
        now: datetime,
        warn: Callable[..., None],
        store: Store | None = None,
        session_id: str = "",
    ) -> None:
        if self.post_hold_until is not None and now < self.post_hold_until:
            return
        try:
            result = self.outbox.flush()
        except AuthError as exc:
            if not self.degradable or store is None:
                raise
            self.post_hold_until = now + timedelta(seconds=60)
            self.degrade(f"credentials refused: {exc}", now, store, session_id)
            return
        if store is not None and self.degradable:
            if self.outbox.failing:
                self.degrade(self.outbox.failing, now, store, session_id)
            elif result.sent and self.failure is not None:
                self.recover(now, store, session_id)
        self.post_hold_until = result.waiting_until
        if result.waiting_until is not None:
            warn(
                f"posting on {self.name} paused by a rate limit until "
                f"{result.waiting_until:%H:%M:%S} UTC",
                until=result.waiting_until.isoformat(),
                platform=self.name,
            )

    # -- reading ---------------------------------------------------------------------------

    def poll(
        self,
        session: Session,
        store: Store,
        ingestor: Ingestor,
        now: datetime,
        pacing: Pacing,
        warn: Callable[..., None],
        remaining: float,
    ) -> tuple[float, list[PostRecord]]:
        """One search request when due; returns (seconds until the next, new records)."""
        if self.next_poll is not None and now < self.next_poll:
            return (self.next_poll - now).total_seconds(), []
        if self._budget_spent(session, store, now, warn):
            return pacing.poll_ceiling, []
        try:
            page = self.platform.search(self.hashtag, store.cursor(session.id, self.name))
        except RateLimited as exc:
            # the platform's window is on the wall clock; the session clock may run faster
            resumes = self.platform.clock.to_session(exc.reset_at)
            self.next_poll = max(now, resumes) + timedelta(seconds=self.rng.uniform(0.5, 3.0))
            warn(f"reading {self.name} paused: {exc}", until=self.next_poll.isoformat())
            return (self.next_poll - now).total_seconds(), []
        except AuthError as exc:
            if not self.degradable:
                raise
            self.poll_failures += 1
            self.next_poll = now + timedelta(seconds=pacing.max_backoff)
            self.degrade(f"credentials refused: {exc}", now, store, session.id)
            return pacing.max_backoff, []
        except PlatformError as exc:
            self.poll_failures += 1
            backoff = pacing.poll_floor * 2.0 ** min(self.poll_failures, 8)
            delay = min(pacing.max_backoff, backoff) * self.rng.uniform(0.5, 1.5)
            self.next_poll = now + timedelta(seconds=delay)
            self.failure = str(exc)
            warn(f"reading {self.name} failed, retrying in {delay:.0f}s: {exc}")
            if self.degradable and self.poll_failures >= 2:
                self.degrade(str(exc), now, store, session.id)
            return delay, []
        self.poll_failures = 0
        if self.degradable:
            self.recover(now, store, session.id)
        self.failure = None
        for message in page.warnings:
            warn(message, platform=self.name)
        records = ingestor.ingest(page, now, self.name)
        self.save_counters(session, store)
        if page.more:
            self.next_poll = now  # follow pagination on the next tick
            return 0.0, records
        self.caught_up = True
        delay = self.interval(session, store, now, pacing, warn, remaining)
        self.next_poll = now + timedelta(seconds=delay)
        return delay, records

    def _budget_spent(
        self, session: Session, store: Store, now: datetime, warn: Callable[..., None]
    ) -> bool:
        billing = self.billing
        spent = billing.over_budget_ratio() if billing is not None else None
        if billing is None or spent is None or spent < 1.0:
            return False
        if not self.budget_spent:
            self.budget_spent = True
            if not any(
                e.get("platform", self.name) == self.name
                for e in store.events(session.id, "budget_spent")
            ):
                store.add_event(
                    session.id, "budget_spent", {"ratio": spent, "platform": self.name}, now
                )
                warn(
                    f"the {self.name} budget is spent (${billing.spend():.2f}): reading "
                    "stops; answers and the closing still go out",
                    counters=self.counters(),
                )
        return True

    def interval(
        self,
        session: Session,
        store: Store,
        now: datetime,
        pacing: Pacing,
        warn: Callable[..., None],
        remaining: float,
    ) -> float:
        """As often as the remaining rate budget (and money budget) allows, never under the
        floor. Rate windows are the platform's: counted on the wall clock."""
        floor = pacing.poll_floor
        interval = floor
        budget = self.platform.rate_budget()
        if budget is not None:
            left = (self.platform.clock.to_session(budget.reset_at) - now).total_seconds()
            spare = budget.remaining - 1  # keep one call in hand for the closing read
            interval = max(floor, left + 1.0) if spare <= 0 else max(floor, left / spare)
        billing = self.billing
        spent = billing.over_budget_ratio() if billing is not None else None
        if billing is None or spent is None:
            return interval
        if spent >= 0.8 and not self.budget_warned:
            self.budget_warned = True
            store.add_event(session.id, "budget", {"ratio": spent, "platform": self.name}, now)
            warn(
                f"{spent:.0%} of the {self.name} budget spent (${billing.spend():.2f}); "
                "polling slows down to stay within it",
                counters=self.counters(),
            )
        if 0.8 <= spent < 1.0:
            # spread what is left of the budget over what is left of the session
            spend = billing.spend()
            left_usd = spend / spent - spend if spent > 0 else 0.0
            per_poll = spend / max(1, self.platform.counters.search_requests)
            polls = max(1.0, left_usd / per_poll) if per_poll > 0 else 1.0
            interval = max(interval, min(pacing.poll_ceiling, max(0.0, remaining) / polls))
        return interval

    def refresh(self, session: Session, store: Store, now: datetime, every: float) -> None:
        """Fresh like and repost counts for the top of the queue; never where each post
        looked up is billed."""
        from qasession.session.queue import queue_rows

        if self.platform.capabilities.lookups_billed:
            return
        if self.next_refresh is not None and now < self.next_refresh:
            return
        self.next_refresh = now + timedelta(seconds=every)
        rows = queue_rows(session, store, now, limit=100)
        top = [r["post_id"] for r in rows if r["platform"] == self.name]
        if session.multi:  # this platform's posts merged into a top question of another
            top += store.merged_from(
                session.id, self.name, [(r["platform"], r["post_id"]) for r in rows]
            )
        if not top:
            return
        try:
            fresh = self.platform.lookup(top)
        except PlatformError:
            return  # metrics can wait for the next refresh
        except AuthError:
            if not self.degradable:
                raise
            return  # reading and posting say it (degraded); metrics wait
        for post in fresh:
            post.platform = self.name
        if fresh:
            store.update_metrics(session.id, fresh)
