"""The planned posts of a session (announcements, opening, closing, after-party) and their state.

Each planned item is an outbox intent keyed `<session id>:<item key>`, so it is posted exactly
once whichever process (`qa plan --post`, `--watch`, `qa run`) gets there first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from qasession.errors import AuthError, PlatformError, QAError
from qasession.store import OutboxItem, Store

if TYPE_CHECKING:
    from qasession.plan import PlannedItem, Session
    from qasession.platforms.base import Platform
    from qasession.session.ingest import Ingestor
    from qasession.session.outbox import Outbox

DEFAULT_GRACE = timedelta(minutes=30)
STATE_BY_OUTBOX = {
    "sent": "posted",
    "failed": "failed",
    "uncertain": "uncertain",
    "sending": "sending",
    "intent": "due",
    "cancelled": "cancelled",
}


@dataclass(slots=True)
class TimelineEntry:
    item: PlannedItem
    key: str
    state: str  # pending | due | posted | missed | failed | sending | uncertain
    platform_id: str | None
    error: str | None

    def to_json(self, session: Session, length: int, limit: int) -> dict[str, Any]:
        return {
            "key": self.item.key,
            "kind": self.item.kind,
            "platform": self.item.platform or session.platform,
            "at": self.item.at.isoformat(),
            "at_local": self.item.at.astimezone(session.tz).isoformat(),
            "relative": relative(self.item.at, session.start, session.tz),
            "state": self.state,
            "platform_id": self.platform_id,
            "error": self.error,
            "text": self.item.text,
            "image": self.item.image,
            "length": length,
            "max_length": limit,
        }


def outbox_key(session: Session, item: PlannedItem) -> str:
    return f"{session.id}:{item.key}"


def relative(moment: datetime, start: datetime, tz: Any = None) -> str:
    """ "-3d", "-1h30m", "start", "+1h" — when `moment` falls relative to `start`, in wall-clock
    time of `tz` when given (so "-3d" across a summer-time change still reads "-3d")."""
    if tz is not None:
        moment = moment.astimezone(tz).replace(tzinfo=None)
        start = start.astimezone(tz).replace(tzinfo=None)
    delta = moment - start
    if delta == timedelta(0):
        return "start"
    sign = "-" if delta < timedelta(0) else "+"
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = "".join(
        f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value
    )
    return sign + (text or "0m")


def timeline_states(
    session: Session, store: Store, now: datetime, grace: timedelta = DEFAULT_GRACE
) -> list[TimelineEntry]:
    from qasession.plan import timeline

    entries = []
    for item in timeline(session):
        key = outbox_key(session, item)
        row = store.outbox_item(key)
        if row is not None:
            state = STATE_BY_OUTBOX.get(row.state, row.state)
            entries.append(TimelineEntry(item, key, state, row.platform_id, row.error))
            continue
        if item.at > now:
            state = "pending"
        elif now - item.at > grace:
            state = "missed"
        else:
            state = "due"
        entries.append(TimelineEntry(item, key, state, None, None))
    return entries


def intents_for(
    session: Session,
    entries: list[TimelineEntry],
    kinds: tuple[str, ...],
    *,
    late: bool,
) -> list[OutboxItem]:
    """Intents for the due entries of `kinds` (and missed ones when `late`)."""
    wanted = {"due"} | ({"missed"} if late else set())
    return [
        OutboxItem(
            key=entry.key,
            op=entry.key,
            kind=entry.item.kind,
            text=entry.item.text,
            media=[entry.item.image] if entry.item.image else [],
            platform=entry.item.platform,
        )
        for entry in entries
        if entry.item.kind in kinds and entry.state in wanted
    ]


@dataclass(slots=True)
class PostReport:
    posted: list[str]
    missed: list[str]
    failed: list[str]
    waiting_until: datetime | None = None
    # a session on several platforms: why a platform's lane posted nothing (the others went on)
    errors: dict[str, QAError] = field(default_factory=dict)

    def failure(self) -> QAError | None:
        """The error `qa plan --post` ends with when platforms of several failed (the others
        posted): every failing platform named, an `AuthError` (exit 4) when one of them was
        refused its credentials, else a `PlatformError` (exit 5). None: none failed."""
        if not self.errors:
            return None
        message = "posting failed on " + "; ".join(
            f"{name}: {' '.join(exc.message.split())}" for name, exc in self.errors.items()
        )
        hint = "their posts wait: run `qa plan --post` again, nothing is posted twice"
        if any(isinstance(exc, AuthError) for exc in self.errors.values()):
            return AuthError(message, hint)
        return PlatformError(message, hint)


def post_due(
    session: Session,
    store: Store,
    outbox: Outbox | Sequence[Outbox],
    now: datetime,
    *,
    kinds: tuple[str, ...] = ("announcement",),
    grace: timedelta = DEFAULT_GRACE,
    late: bool = False,
) -> PostReport:
    """Post every planned item of `kinds` that is due and not yet posted, exactly once.
    Items due more than `grace` ago are reported as missed and left alone unless `late`.
    With one outbox per platform (a session on several), each lane posts its own items: a
    platform that fails is reported in `errors` and its items wait, the others go on."""
    store.ensure_session(session.id, session.hashtag, session.platform)
    entries = timeline_states(session, store, now, grace)
    from qasession.session.team import hold_for_approval

    intents = hold_for_approval(session, store, intents_for(session, entries, kinds, late=late))
    store.add_intents(session.id, intents)
    keys = {entry.key for entry in entries if entry.item.kind in kinds}
    lanes = [outbox] if not isinstance(outbox, Sequence) else list(outbox)
    posted: list[str] = []
    waiting: list[datetime] = []
    errors: dict[str, QAError] = {}
    for lane in lanes:
        try:
            result = lane.flush(keys)
        except (AuthError, PlatformError) as exc:
            if len(lanes) == 1:
                raise
            errors[lane.lane] = exc
            continue
        posted.extend(item.key for item in result.sent)
        if result.waiting_until is not None:
            waiting.append(result.waiting_until)
        if lane.failing and len(lanes) > 1:
            errors[lane.lane] = PlatformError(lane.failing, retryable=True)
    after = {e.key: e for e in timeline_states(session, store, now, grace)}
    return PostReport(
        posted=posted,
        missed=[k for k in keys if after[k].state == "missed"],
        failed=[k for k in keys if after[k].state in ("failed", "uncertain")],
        waiting_until=min(waiting, default=None),
        errors=errors,
    )


def first_announcement_out(session: Session, store: Store) -> bool:
    """Whether collecting has begun: an announcement (or the opening) has been posted."""
    from qasession.plan import timeline

    for item in timeline(session):
        if item.kind in ("announcement", "opening"):
            row = store.outbox_item(outbox_key(session, item))
            if row is not None and row.state == "sent":
                return True
    return False


def next_due(session: Session, store: Store, now: datetime) -> datetime | None:
    """When the next announcement not yet posted falls due (None: none left)."""
    upcoming = [
        e.item.at
        for e in timeline_states(session, store, now)
        if e.item.kind == "announcement" and e.state == "pending"
    ]
    return min(upcoming) if upcoming else None


@dataclass(slots=True)
class PlanReport:
    """What `qa plan` shows: the session, its timeline with states, lints, cost estimate."""

    session: Session
    entries: list[TimelineEntry]
    lints: list[Any]
    now: datetime
    lengths: list[int]
    max_length: int
    cost: dict[str, Any] | None = None
    tag_activity: dict[str, Any] | None = None
    tag_activities: list[dict[str, Any]] | None = None  # each platform's (several platforms)
    reading: dict[str, Any] | None = None  # the search requests a run makes (reading.py)
    limits: list[int] | None = None  # each entry's platform limit (several platforms)
    costs: dict[str, dict[str, Any]] | None = None  # by platform, the paid ones

    def limit_of(self, index: int) -> int:
        return self.limits[index] if self.limits is not None else self.max_length

    def to_json(self) -> dict[str, Any]:
        s = self.session
        return {
            "session": {
                "id": s.id,
                "title": s.title,
                "platform": s.platform,
                "account": s.account,
                "hashtag": s.hashtag,
                "timezone": s.timezone,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "duration_minutes": int(s.duration.total_seconds() // 60),
            },
            "now": self.now.isoformat(),
            "platforms": s.platform_names,
            "timeline": [
                e.to_json(s, n, self.limit_of(i))
                for i, (e, n) in enumerate(zip(self.entries, self.lengths, strict=True))
            ],
            "lints": [
                {"code": lint.code, "message": lint.message, "line": lint.line}
                for lint in self.lints
            ],
            "cost": self.cost,
            "costs": self.costs,
            "reading": self.reading,
            "tag_activity": self.tag_activity,
            "tag_activities": self.tag_activities,
        }


def plan_report(
    plan: Any,
    session: Session,
    store: Store,
    *,
    grace: timedelta = DEFAULT_GRACE,
    every_session: bool = True,
) -> PlanReport:
    """The timeline of `session` and the lints of the plan: of every session (the default:
    a clash between two sessions must show whichever is displayed), or of `session` only."""
    from datetime import UTC

    from qasession.errors import QAError
    from qasession.plan import Lint, lint_plan
    from qasession.platforms import registry
    from qasession.session.capabilities import capabilities_of
    from qasession.session.reading import estimate_reading, search_limits_of

    now = datetime.now(UTC)
    entries = timeline_states(session, store, now, grace)
    lints = [
        lint
        for lint in lint_plan(plan, now)
        if every_session or lint.session_id in (None, session.id)
    ]
    limit, lengths, limits = 0, [0] * len(entries), None
    costs: dict[str, dict[str, Any]] = {}
    try:
        by_platform = {}
        for view in session.views():
            registry.load_class(view.platform)
            by_platform[view.platform] = capabilities_of(view, store, view.platform)
        capabilities = by_platform[session.platform]
        limit = capabilities.max_length
        rules = [by_platform[e.item.platform or session.platform] for e in entries]
        lengths = [rule.length(e.item.text) for rule, e in zip(rules, entries, strict=True)]
        limits = [rule.max_length for rule in rules] if session.multi else None
        reading = estimate_reading(session, search_limits_of(session))
        for view in session.views():  # the cost covers every paid platform
            view_cost = estimate_cost(view)
            if view_cost is not None:  # as many requests as the pacing makes, not per page
                view_reading = estimate_reading(view, search_limits_of(view))
                view_cost["search_requests"] = view_reading["search_requests"]
                costs[view.platform] = view_cost
        cost = next(iter(costs.values()), None)
    except QAError as exc:
        cost = reading = None
        lints.append(
            Lint(
                "platform-unavailable",
                session.id,
                f"{exc}: `qa plan --post` and `qa run` will refuse this session",
                session.line_of("platform"),
                str(plan.path),
            )
        )
    return PlanReport(
        session,
        entries,
        lints,
        now,
        lengths,
        limit,
        cost,
        reading=reading,
        limits=limits,
        costs=costs if session.multi and costs else None,
    )


def estimate_cost(session: Session) -> dict[str, Any] | None:
    """The session's cost on a paid platform: every planned post, and each answer target as a
    repost plus a post."""
    from qasession.platforms import registry
    from qasession.platforms.base import billing_of
    from qasession.text.length import has_url

    cls = billing_of(registry.load_class(session.platform))
    if cls is None:
        return None
    from qasession.plan import timeline

    planned = timeline(session)
    try:
        return cls.estimate_cost(
            session.platform_settings,
            posts_to_create=len(planned) + 2 * session.answers.target,
            with_url=sum(1 for item in planned if has_url(item.text)),
        )
    except ValueError:
        return None  # bad settings are reported when the platform is used


class AnnouncementRunner:
    """Posts announcements when due (`qa plan --post` once, `--watch` until the start) and,
    once the first one is out, collects the posts already on the hashtag. A session on
    several platforms gets one adapter per platform: each posts its own items (once per
    platform) and collects its own hashtag; one failing leaves the others going."""

    def __init__(
        self,
        session: Session,
        store: Store,
        platform: Platform | Mapping[str, Platform],
        *,
        grace: timedelta = DEFAULT_GRACE,
        late: bool = False,
        say: Any = None,
        clock: Any = None,
    ) -> None:
        from qasession.session.outbox import Outbox

        adapters = dict(platform) if isinstance(platform, Mapping) else {platform.source: platform}
        self.session = session
        self.store = store
        self.platforms = adapters
        self.platform = next(iter(adapters.values()))
        self.grace = grace
        self.late = late
        self.say = say or (lambda message: None)
        self.clock = clock or self.platform.clock
        store.ensure_session(session.id, session.hashtag, session.platform)
        self.views = {view.platform: view for view in session.views()}
        self.outboxes = {
            name: Outbox(store, adapter, session.id, self.clock, self._event, lane=name)
            for name, adapter in adapters.items()
        }
        self.ingestors: dict[str, Ingestor] = {}
        self.last = PostReport([], [], [])  # what the latest run_once did
        several = len(adapters) > 1
        for name, outbox in self.outboxes.items():
            outbox.in_order = several  # a platform down holds its later items, in order
            try:
                outbox.reconcile_all()
                self._ingestor(name)
            except (AuthError, PlatformError) as exc:
                if not several:
                    raise
                self.say(f"warning: {name}: {exc}; its posts wait")

    def _ingestor(self, name: str) -> Ingestor:
        """The triage of `name`'s posts (it asks the platform who the host is, once)."""
        from qasession.session.ingest import Ingestor

        if name not in self.ingestors:
            adapter = self.platforms[name]
            ingestor = Ingestor(self.views.get(name, self.session), self.store, adapter.me())
            self.store.ensure_source(self.session.id, adapter.source, adapter.name, ingestor.host)
            self.ingestors[name] = ingestor
        return self.ingestors[name]

    @property
    def ingestor(self) -> Ingestor:
        return self._ingestor(next(iter(self.platforms)))

    def _event(self, event: dict[str, Any]) -> None:
        if event["event"] == "posted":
            self.say(f"posted {event['key']} (id {event['id']})")
        elif event["event"] == "warning":
            self.say(f"warning: {event['message']}")

    def run_once(self) -> PostReport:
        report = post_due(
            self.session,
            self.store,
            list(self.outboxes.values()),
            self.clock.now(),
            grace=self.grace,
            late=self.late,
        )
        for key in report.missed:
            minutes = int(self.grace.total_seconds() // 60)
            self.say(f"missed {key}: due more than {minutes} minutes ago (post it with --late)")
        if report.waiting_until:
            self.say(f"rate limited until {report.waiting_until:%H:%M:%S} UTC")
        for name, exc in report.errors.items():
            self.say(f"warning: {name} failed: {exc}; its posts wait, the others went on")
        if not report.posted:
            self.say("nothing to post now")
        if first_announcement_out(self.session, self.store):
            self._collect(report)
        self.last = report
        return report

    def _collect(self, report: PostReport) -> None:
        from qasession.session.ingest import collect

        for name, adapter in self.platforms.items():
            if name in report.errors:
                continue
            try:
                new = collect(
                    self._ingestor(name),
                    adapter,
                    self.clock.now,
                    warn=lambda message: self.say(f"warning: {message}"),
                )
            except (AuthError, PlatformError) as exc:
                if len(self.platforms) == 1:
                    raise
                report.errors[name] = exc
                self.say(f"warning: reading {name} failed: {exc}")
                continue
            questions = sum(1 for r in new if r.is_question)
            hashtag = self.views.get(name, self.session).hashtag
            where = f" on {name}" if len(self.platforms) > 1 else ""
            self.say(
                f"collected {len(new)} new post(s) on {hashtag}{where}, {questions} question(s)"
            )

    def watch(self, poll_seconds: float = 60.0) -> None:
        """Until the session starts: post each announcement when due, collect between."""
        self.say(
            f"watching {self.session.id}: announcements are posted when due, until the start "
            f"at {self.session.start.astimezone(self.session.tz):%Y-%m-%d %H:%M %Z}; "
            "Ctrl-C stops safely"
        )
        try:
            while self.clock.now() < self.session.start:
                now = self.clock.now()
                due = next_due(self.session, self.store, now)
                wait = poll_seconds
                if due is not None:
                    wait = max(0.0, min(wait, (due - now).total_seconds()))
                wait = min(wait, max(0.0, (self.session.start - now).total_seconds()))
                self.clock.sleep(wait)
                self.run_once()
        except KeyboardInterrupt:
            self.say("stopped; every announcement is either posted or still pending")
            raise
        self.say("the session starts now: run `qa run` for the live session")


def hashtag_activity(platform: Any, hashtag: str, now: datetime) -> dict[str, Any]:
    """How busy the hashtag already is: one search request (the first page of recent posts),
    with the count and the newest post's age. Someone else's recent use means confusion."""
    page = platform.search(hashtag, None)
    others = [p for p in page.posts if p.author.lower() != (platform.me() or "").lower()]
    newest = max((p.created_at for p in others), default=None)
    return {
        "hashtag": hashtag,
        "platform": platform.source,
        "recent_posts": len(others),
        "more": page.more,
        "authors": len({p.author.lower() for p in others}),
        "newest_minutes_ago": round((now - newest).total_seconds() / 60) if newest else None,
    }


def hashtag_activities(
    session: Session, platforms: Mapping[str, Platform], now: datetime
) -> list[dict[str, Any]]:
    """`hashtag_activity` on each platform of the session, for its own hashtag there; a
    platform that cannot be asked says why (`error`) and the others are still asked."""
    views = {view.platform: view for view in session.views()}
    found = []
    for name, adapter in platforms.items():
        hashtag = views.get(name, session).hashtag
        try:
            found.append(hashtag_activity(adapter, hashtag, now))
        except (AuthError, PlatformError) as exc:
            if len(platforms) == 1:
                raise
            found.append({"hashtag": hashtag, "platform": name, "error": str(exc)})
    return found
