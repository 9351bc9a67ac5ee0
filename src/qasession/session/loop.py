"""The live session loop: `tick()` over an injected clock; events out through a callback.

One tick does, in order: replay the rehearsal crowd (if any), carry out the operator's
commands (answer, skip, pin, block, close — from this process or another shell), post the
planned items that are due (announcements, opening, closing, after-party), send the outbox,
poll the hashtag (one request; the next tick follows pagination until caught up), refresh the
metrics of the top questions, and emit time cues. No terminal I/O happens here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from qasession import triage
from qasession.clock import Clock
from qasession.compose import AnswerSpec, Question, compose_answer
from qasession.errors import AuthError, PlatformError, RateLimited, UsageError
from qasession.plan import timeline
from qasession.platforms.base import Capabilities, Platform
from qasession.session.ingest import Ingestor
from qasession.session.outbox import Outbox
from qasession.session.schedule import DEFAULT_GRACE, intents_for, timeline_states
from qasession.store import OutboxItem, Store, to_iso
from qasession.text.safe import inert

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.session.rehearsal import Crowd

Emit = Callable[[dict[str, Any]], None]
EVENT_TEXT_LIMIT = 1000  # event texts are cut (the store keeps the whole post)
CUES = (("half-time", 0.5), ("10 minutes left", 10), ("5 minutes left", 5))


@dataclass(slots=True)
class LiveSettings:
    poll_floor: float = 5.0  # never poll more often than this (seconds of the session clock)
    poll_ceiling: float = 60.0
    tail: timedelta = timedelta(minutes=10)  # keep reading replies after the end
    refresh_every: float = 60.0  # metrics of the top questions
    max_backoff: float = 120.0
    seed: int | None = None


def question_event(row: Any, score: float | None = None) -> dict[str, Any]:
    flags = [f for f in row["flags"].split(",") if f]
    return {
        "event": "question",
        "id": row["id"],
        "author": inert(row["author"], single_line=True, max_length=100),
        "text": inert(row["text"], max_length=EVENT_TEXT_LIMIT),
        "status": row["status"],
        "flags": flags,
        "duplicates": row["duplicates"],
        "likes": row["likes"],
        "reposts": row["reposts"],
        "created_at": row["created_at"],
        **({"score": round(score, 2)} if score is not None else {}),
    }


def weights_for(session: Session) -> triage.Weights:
    """The plan's `ranking:` weights (only those the plan sets; `age` is per minute)."""
    given = session.ranking.model_dump(exclude_unset=True)
    if "age" in given:
        given["age_per_minute"] = given.pop("age")
    return triage.Weights.from_mapping(given)


def queue_rows(
    session: Session, store: Store, now: datetime, limit: int | None = None
) -> list[dict[str, Any]]:
    """The ranked queue: questions only, best first, as plain data (what `qa queue` shows).
    With `limit`, SQLite first narrows the queue to the questions that can make the top."""
    weights = weights_for(session)
    if limit is not None and limit <= 0:
        return []
    if limit is None:
        found = store.question_rows(session.id, ("queued",))
    else:
        found = store.top_question_rows(
            session.id,
            weights,
            now_ts=now.timestamp(),
            start_ts=session.start.timestamp(),
            limit=limit,
        )
    rows = {row["id"]: row for row in found}
    features = [
        triage.QuestionFeatures(
            id=row["id"],
            likes=row["likes"],
            reposts=row["reposts"],
            duplicates=row["duplicates"],
            first_time=bool(row["first_time"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            pinned=bool(row["pinned"]),
            flags=frozenset(f for f in row["flags"].split(",") if f),
        )
        for row in rows.values()
    ]
    ranked = triage.rank(features, weights, now, limit=limit, session_start=session.start)
    result = []
    for score, feature in ranked:
        row = rows[feature.id]
        flags = sorted(feature.flags | ({"duplicate"} if row["duplicates"] else set()))
        result.append(
            {
                "id": row["id"],
                "author": row["author"],
                "text": row["text"],
                "score": round(score, 2),
                "status": row["status"],
                "flags": flags,
                "duplicates": row["duplicates"],
                "likes": row["likes"],
                "reposts": row["reposts"],
                "pinned": bool(row["pinned"]),
                "created_at": row["created_at"],
            }
        )
    return result


def validate_answer(
    session: Session,
    store: Store,
    platform_name: str,
    question_id: str,
    text: str,
    mode: str,
    *,
    thread: bool = False,
    force: bool = False,
) -> list[str]:
    """Check an answer before it is queued (the question exists, the text fits or is
    threaded, no private data unless forced). Returns notes; raises UsageError."""
    from qasession.platforms import registry
    from qasession.text.length import count_length, has_url

    row = store.post_row(session.id, question_id)
    if row is None:
        raise UsageError(
            f"no question {question_id!r} in session {session.id}",
            hint="see `qa queue` for the ids",
        )
    if row["status"] == "answered":
        raise UsageError(f"question {question_id} is already answered")
    if not force:
        patterns = triage.compile_patterns(session.sensitive_patterns)
        findings = triage.find_sensitive(text, patterns)
        if findings and mode != "dm":
            kinds = ", ".join(sorted({f.kind for f in findings}))
            raise UsageError(
                f"the answer contains what looks like private data ({kinds})",
                hint="answer with --mode dm, remove it, or add --force",
            )
    limit, method = registry.length_limit(platform_name)
    cls = registry.load_class(platform_name)
    _, notes = answer_steps(
        session,
        question_of(row),
        text,
        mode,
        thread,
        op="check",
        host=session.account,
        max_length=limit,
        length=lambda t: count_length(t, method),  # type: ignore[arg-type]
        capabilities=cls.capabilities,
    )
    if cls.capabilities.paid and has_url(text):
        notes.append(
            f"this answer contains a link: {platform_name} bills a post with a link at a much "
            "higher price (see the platform's price_post_url setting)"
        )
    return notes


def answer_steps(
    session: Session,
    question: Question,
    text: str,
    mode: str,
    thread: bool,
    *,
    op: str,
    host: str | None,
    max_length: int,
    length: Callable[[str], int],
    capabilities: Capabilities,
) -> tuple[list[OutboxItem], list[str]]:
    """The outbox steps (and notes) of one answer under the session's answer settings — what
    `qa answer` checks, the loop queues and the terminal UI previews."""
    answers = session.answers
    spec = AnswerSpec(
        op=op,
        question=question,
        text=text,
        mode=mode,
        thread=thread,
        repost_first=answers.repost_first,
        append_hashtag=answers.append_hashtag,
        dm_notice=answers.dm_notice,
    )
    return compose_answer(
        spec,
        hashtag=session.hashtag,
        host=host,
        max_length=max_length,
        length=length,
        reply_needs_mention=capabilities.reply_needs_mention,
        can_dm=capabilities.dm,
        can_quote=capabilities.quote,
        can_reply=capabilities.reply,
    )


def question_of(row: Any) -> Question:
    return Question(row["id"], row["author"], row["text"])


class LiveSession:
    """One live session over one platform. Call `start()` once, then `tick()` until `ended`."""

    def __init__(
        self,
        session: Session,
        store: Store,
        platform: Platform,
        clock: Clock,
        emit: Emit | None = None,
        *,
        settings: LiveSettings | None = None,
        crowd: Crowd | None = None,
    ) -> None:
        self.session = session
        self.store = store
        self.platform = platform
        self.clock = clock
        self.emit_callback: Emit = emit or (lambda event: None)
        self.settings = settings or LiveSettings()
        self.crowd = crowd
        self.outbox = Outbox(store, platform, session.id, clock, self.emit, seed=self.settings.seed)
        self._jitter = random.Random(self.settings.seed)
        self.host = session.account
        self.ingestor: Ingestor | None = None
        self.next_poll: datetime | None = None
        self.next_refresh: datetime | None = None
        self.post_hold_until: datetime | None = None
        self.poll_failures = 0
        self.ended = False
        self.closing_requested = False
        self.cues_done: set[str] = set()
        self.budget_warned = False

    # -- events ----------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        event.setdefault("at", to_iso(self.clock.now()))
        self.emit_callback(event)

    def warn(self, message: str, **extra: Any) -> None:
        self.emit({"event": "warning", "message": inert(message, single_line=True), **extra})

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Reconcile what a crash left half-sent and rebuild triage state from the store."""
        s = self.session
        self.store.ensure_session(s.id, s.hashtag, s.platform)
        opening = self.store.outbox_item(f"{s.id}:opening")
        if self.clock.now() > s.end + self.settings.tail and opening is None:
            raise UsageError(
                f"session {s.id} ended at {s.end.astimezone(s.tz):%Y-%m-%d %H:%M %Z} and was "
                "never run here",
                hint="see `qa recap`, or rehearse it with --start-now",
            )
        row = self.store.session_row(s.id) or {}
        if not row.get("started_at"):
            self.store.set_session_fields(s.id, started_at=to_iso(self.clock.now()))
        try:
            self.host = self.platform.me() or self.host
        except PlatformError as exc:
            self.warn(f"could not ask the platform who we are: {exc}")
        if row.get("counters"):
            import json

            self.platform.counters.add(json.loads(row["counters"]))
        self.budget_warned = bool(self.store.events(s.id, "budget"))
        self.outbox.reconcile_all()
        self.ingestor = Ingestor(s, self.store, self.host)
        self.cues_done = {e["cue"] for e in self.store.events(s.id, "cue")}
        self.closing_requested = any(e.get("closing_requested") for e in self.store.events(s.id))
        self.emit(
            {
                "event": "started",
                "session": s.id,
                "hashtag": s.hashtag,
                "platform": s.platform,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "target": s.answers.target,
            }
        )

    @property
    def end(self) -> datetime:
        return self.session.end

    def tick(self) -> float:
        """One step of the session; returns how long to wait (session-clock seconds)."""
        if self.ingestor is None:
            self.start()
        now = self.clock.now()
        if self.crowd is not None:
            self.crowd.replay_until(now)
        self._commands()
        next_planned = self._planned(now)
        self._send()
        waits = [self._poll(now)]
        self._refresh(now)
        self._cues(now)
        self._check_end(now)
        if self.post_hold_until is not None:
            waits.append((self.post_hold_until - now).total_seconds())
        waits.append(next_planned)
        if self.crowd is not None:
            upcoming = self.crowd.next_time()
            if upcoming is not None:
                waits.append((upcoming - now).total_seconds())
        return max(0.0, min(min(waits), self.settings.poll_ceiling))

    # -- operator commands -----------------------------------------------------------------

    def _commands(self) -> None:
        assert self.ingestor is not None
        s = self.session
        for command_id, kind, args in self.store.pending_commands(s.id):
            try:
                result = self._command(command_id, kind, args)
            except UsageError as exc:
                self.store.finish_command(command_id, "failed", str(exc))
                self.warn(f"{kind} refused: {exc}", command=command_id)
                continue
            self.store.finish_command(command_id, "done", result)

    def _command(self, command_id: int, kind: str, args: dict[str, Any]) -> str:
        assert self.ingestor is not None
        s, store = self.session, self.store
        now = self.clock.now()
        if kind == "answer":
            row = store.post_row(s.id, args["question_id"])
            if row is None:
                raise UsageError(f"no question {args['question_id']}")
            op = f"{s.id}:answer:{command_id}"
            steps, notes = answer_steps(
                s,
                question_of(row),
                args["text"],
                args.get("mode", "dot"),
                args.get("thread", False),
                op=op,
                host=self.host,
                max_length=self.platform.max_length,
                length=self.platform.length,
                capabilities=self.platform.capabilities,
            )
            for note in notes:
                self.warn(note, question=row["id"])
            store.add_intents(s.id, steps)
            store.set_status(s.id, row["id"], "answered")
            self.emit({"event": "answer_queued", "question": row["id"], "op": op})
            return op
        if kind in ("skip", "unskip"):
            status = "skipped" if kind == "skip" else "queued"
            if not store.set_status(s.id, args["question_id"], status):
                raise UsageError(f"no question {args['question_id']}")
            return status
        if kind in ("pin", "unpin"):
            if not store.set_pinned(s.id, args["question_id"], kind == "pin"):
                raise UsageError(f"no question {args['question_id']}")
            return kind
        if kind in ("block", "mute"):
            action = "blocked" if kind == "block" else "muted"
            store.add_moderation(s.id, args["handle"], action, now)
            self.ingestor.moderate(args["handle"])
            return action
        if kind == "close":
            self.closing_requested = True
            store.add_event(s.id, "operator", {"closing_requested": True}, now)
            return "closing"
        raise UsageError(f"unknown command {kind!r}")

    # -- planned posts ---------------------------------------------------------------------

    def _planned(self, now: datetime) -> float:
        """Queue the planned posts that are due; returns the seconds until the next one."""
        s = self.session
        entries = timeline_states(s, self.store, now, DEFAULT_GRACE)
        if self.closing_requested:
            for entry in entries:
                if entry.item.kind in ("closing", "after_party") and entry.state == "pending":
                    entry.state = "due"
        # announcements only within their grace window; the opening, closing and after-party
        # go out even late: the session is happening
        intents = intents_for(s, entries, ("announcement",), late=False)
        if now < s.end:
            intents += intents_for(s, entries, ("opening",), late=True)
        if not self.ended:
            intents += intents_for(s, entries, ("closing", "after_party"), late=True)
        if intents:
            self.store.add_intents(s.id, intents)
        upcoming = [(e.item.at - now).total_seconds() for e in entries if e.state == "pending"]
        return min(upcoming) if upcoming else self.settings.poll_ceiling

    def _send(self) -> None:
        now = self.clock.now()
        if self.post_hold_until is not None and now < self.post_hold_until:
            return
        try:
            result = self.outbox.flush()
        except AuthError:
            raise
        self.post_hold_until = result.waiting_until
        if result.waiting_until is not None:
            self.warn(
                f"posting paused by a rate limit until {result.waiting_until:%H:%M:%S} UTC",
                until=result.waiting_until.isoformat(),
            )

    # -- polling ---------------------------------------------------------------------------

    def closed_at(self) -> datetime:
        """The planned end, or when the closing went out if the operator closed early."""
        if self.closing_requested:
            closing = self.store.outbox_item(f"{self.session.id}:closing")
            if closing is not None and closing.sent_at:
                return min(self.end, datetime.fromisoformat(closing.sent_at))
        return self.end

    def _collecting(self, now: datetime) -> bool:
        """Until the tail after the end (questions asked ahead were collected before)."""
        return now <= self.closed_at() + self.settings.tail

    def _poll(self, now: datetime) -> float:
        assert self.ingestor is not None
        if not self._collecting(now):
            return self.settings.poll_ceiling
        if self.next_poll is not None and now < self.next_poll:
            return (self.next_poll - now).total_seconds()
        s = self.session
        spent = self.platform.over_budget_ratio()
        if spent is not None and spent >= 1.0:
            if not self.store.events(s.id, "budget_spent"):
                self.store.add_event(s.id, "budget_spent", {"ratio": spent}, now)
                self.warn(
                    f"the {s.platform} budget is spent (${self.platform.spend():.2f}): reading "
                    "stops; answers and the closing still go out",
                    counters=self.counters(),
                )
            return self.settings.poll_ceiling
        try:
            page = self.platform.search(s.hashtag, self.store.cursor(s.id))
        except RateLimited as exc:
            self.next_poll = exc.reset_at + timedelta(seconds=self._jitter.uniform(0.5, 3.0))
            self.warn(f"reading paused: {exc}", until=self.next_poll.isoformat())
            return (self.next_poll - now).total_seconds()
        except AuthError:
            raise
        except PlatformError as exc:
            self.poll_failures += 1
            backoff = self.settings.poll_floor * 2.0 ** min(self.poll_failures, 8)
            delay = min(self.settings.max_backoff, backoff) * self._jitter.uniform(0.5, 1.5)
            self.next_poll = now + timedelta(seconds=delay)
            self.warn(f"reading failed, retrying in {delay:.0f}s: {exc}")
            return delay
        self.poll_failures = 0
        records = self.ingestor.ingest(page, now)
        self._save_counters()
        self._announce_questions(records)
        if page.more:
            self.next_poll = now  # follow pagination on the next tick
            return 0.0
        delay = self._poll_interval(now)
        self.next_poll = now + timedelta(seconds=delay)
        return delay

    def counters(self) -> dict[str, Any]:
        """Platform calls so far in this session (all processes), with the spend."""
        return {**self.platform.counters.as_dict(), "spend_usd": round(self.platform.spend(), 4)}

    def _save_counters(self) -> None:
        import json

        self.store.set_session_fields(self.session.id, counters=json.dumps(self.counters()))

    def _poll_interval(self, now: datetime) -> float:
        """As often as the remaining rate budget (and money budget) allows, never under the
        floor."""
        floor = self.settings.poll_floor
        interval = floor
        budget = self.platform.rate_budget()
        if budget is not None:
            left = (budget.reset_at - now).total_seconds()
            spare = budget.remaining - 1  # keep one call in hand for the closing read
            interval = max(floor, left + 1.0) if spare <= 0 else max(floor, left / spare)
        spent = self.platform.over_budget_ratio()
        if spent is not None:
            if spent >= 0.8 and not self.budget_warned:
                self.budget_warned = True
                self.store.add_event(self.session.id, "budget", {"ratio": spent}, now)
                self.warn(
                    f"{spent:.0%} of the {self.session.platform} budget spent "
                    f"(${self.platform.spend():.2f}); "
                    "polling slows down to stay within it",
                    counters=self.counters(),
                )
            if 0.8 <= spent < 1.0:
                # spread what is left of the budget over what is left of the session
                spend = self.platform.spend()
                left_usd = spend / spent - spend if spent > 0 else 0.0
                per_poll = spend / max(1, self.platform.counters.search_requests)
                polls = max(1.0, left_usd / per_poll) if per_poll > 0 else 1.0
                remaining = max(0.0, (self.closed_at() - now).total_seconds())
                interval = max(interval, min(self.settings.poll_ceiling, remaining / polls))
        return interval

    def _announce_questions(self, records: list[Any]) -> None:
        s = self.session
        touched: set[str] = set()
        for record in records:
            if record.status in ("queued", "hidden"):
                touched.add(record.post.id)
            elif record.status == "merged" and record.duplicate_of:
                touched.add(record.duplicate_of)
        for post_id in touched:
            row = self.store.post_row(s.id, post_id)
            if row is not None:
                self.emit(question_event(row))

    def _refresh(self, now: datetime) -> None:
        """Fresh like and repost counts for the top of the queue; never on a paid platform,
        where each post looked up is billed as a read."""
        if self.platform.capabilities.paid:
            return
        if self.next_refresh is not None and now < self.next_refresh:
            return
        self.next_refresh = now + timedelta(seconds=self.settings.refresh_every)
        top = [r["id"] for r in queue_rows(self.session, self.store, now, limit=100)]
        if not top:
            return
        try:
            fresh = self.platform.lookup(top)
        except PlatformError:
            return  # metrics can wait for the next refresh
        if fresh:
            self.store.update_metrics(self.session.id, fresh)

    # -- time cues and the end -------------------------------------------------------------

    def answers_done(self) -> int:
        return len(
            {
                item.op
                for item in self.store.outbox(self.session.id, ("sent",))
                if item.question_id and item.kind in ("answer", "dm")
            }
        )

    def _cues(self, now: datetime) -> None:
        s = self.session
        for name, value in CUES:
            if name in self.cues_done:
                continue
            if isinstance(value, float):
                at = s.start + s.duration * value
            else:
                at = s.end - timedelta(minutes=value)
                if at <= s.start:
                    continue
            if now >= at and now < s.end:
                self.cues_done.add(name)
                event = {
                    "event": "cue",
                    "cue": name,
                    "answers": self.answers_done(),
                    "target": s.answers.target,
                    "queued": self.store.count_questions(s.id),
                    "counters": self.counters(),
                }
                self.store.add_event(s.id, "cue", {"cue": name}, now)
                self.emit(event)

    def _check_end(self, now: datetime) -> None:
        s = self.session
        if self.ended or now < self.closed_at() + self.settings.tail:
            return
        if not self.closing_requested and any(
            item.kind == "after_party" and now < item.at for item in timeline(s)
        ):
            return  # the after-party line still has to go out
        if self.store.outbox(s.id, ("intent", "sending")):
            return  # something is still to be sent (or reconciled)
        self.ended = True
        self.store.set_session_fields(s.id, ended_at=to_iso(now))
        self.emit(
            {
                "event": "ended",
                "session": s.id,
                "answers": self.answers_done(),
                "target": s.answers.target,
                "posts": self.store.count_posts(s.id),
                "counters": self.counters(),
            }
        )
        self._save_counters()

    # -- running ---------------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Tick until the session has ended (or `should_stop()`), sleeping on the clock."""
        if self.ingestor is None:
            self.start()
        while not self.ended and not should_stop():
            wait = max(self.tick(), 0.05)
            # sleep in slices, so a stop request (SIGTERM) is honoured within a second
            while wait > 0 and not self.ended and not should_stop():
                self.clock.sleep(min(wait, 1.0))
                wait -= 1.0


class Runner:
    """Everything `qa run` needs to build a LiveSession in the thread that will run it (SQLite
    connections stay in the thread that opened them)."""

    def __init__(self, plan: Any, session: Session, home: Any) -> None:
        self.plan = plan
        self.session = session
        self.home = home
        self.rehearsal: Any = None
        self.settings = LiveSettings()

    @property
    def live_session(self) -> Session:
        return self.rehearsal.session if self.rehearsal is not None else self.session

    def platform(self) -> Platform:
        from qasession.platforms import registry

        s = self.session
        return registry.create(
            s.platform,
            s.platform_settings,
            home=self.home,
            clock=self.rehearsal.clock if self.rehearsal is not None else None,
            account=s.account,
            plan_path=str(self.plan.path),
            settings_line=s.platform_settings_line,
        )

    def check(self) -> None:
        """Fail fast (bad settings, missing credentials) before any UI starts."""
        self.platform().close()

    def build(self, emit: Emit | None = None) -> LiveSession:
        platform = self.platform()
        crowd = self.rehearsal.crowd(self.home) if self.rehearsal is not None else None
        return LiveSession(
            self.live_session,
            Store.open(self.home),
            platform,
            platform.clock,
            emit,
            settings=self.settings,
            crowd=crowd,
        )
