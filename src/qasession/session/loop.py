"""The live session loop: `tick()` over an injected clock; events out through a callback.

One tick does, in order: replay the rehearsal crowd (if any), take the operator's commands that
need the loop (close; answers accepted elsewhere are announced), post the planned items that
are due (announcements, opening, closing, after-party), send each source's outbox lane, poll
each source (one request; the next tick follows pagination until caught up), refresh the
metrics of the top questions, and emit time cues. No terminal I/O happens here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from qasession.clock import Clock
from qasession.errors import UsageError
from qasession.plan import timeline
from qasession.platforms.base import Platform
from qasession.session.ingest import Ingestor
from qasession.session.outbox import Outbox
from qasession.session.queue import question_event, queue_rows, weights_for
from qasession.session.reading import POLL_FLOOR, TAIL
from qasession.session.schedule import DEFAULT_GRACE, intents_for, timeline_states
from qasession.session.sources import Pacing, SourceState
from qasession.session.team import hold_for_approval
from qasession.store import Store, to_iso
from qasession.text.safe import inert

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.session.lease import SessionLease
    from qasession.session.rehearsal import Crowd
    from qasession.store.db import PostRecord

__all__ = ["LiveSession", "LiveSettings", "Runner", "planned_key", "queue_rows", "weights_for"]


def planned_key(session: Session, kind: str) -> str:
    """The outbox key of a planned post (on the first platform of a session on several)."""
    suffix = f"@{session.platform_names[0]}" if session.multi else ""
    return f"{session.id}:{kind}{suffix}"


Emit = Callable[[dict[str, Any]], None]
CUES = (("half-time", 0.5), ("10 minutes left", 10), ("5 minutes left", 5))
WAKE_EVERY = 0.1  # real seconds between two looks for the operator's work while waiting
GIVE_UP_AFTER = 8  # failed reads in a row, past the end, before the session ends without them


@dataclass(slots=True)
class LiveSettings:
    poll_floor: float = POLL_FLOOR  # never poll more often (seconds of the session clock)
    poll_ceiling: float = 60.0
    tail: timedelta = TAIL  # keep reading replies after the end
    refresh_every: float = 60.0  # metrics of the top questions
    max_backoff: float = 120.0
    seed: int | None = None

    @property
    def pacing(self) -> Pacing:
        return Pacing(self.poll_floor, self.poll_ceiling, self.max_backoff)


class LiveSession:
    """One live session over its sources (one platform account each). Call `start()` once,
    then `tick()` until `ended`."""

    def __init__(
        self,
        session: Session,
        store: Store,
        platforms: Platform | Mapping[str, Platform],
        clock: Clock,
        emit: Emit | None = None,
        *,
        settings: LiveSettings | None = None,
        crowd: Crowd | None = None,
    ) -> None:
        self.session = session
        self.store = store
        self.clock = clock
        self.emit_callback: Emit = emit or (lambda event: None)
        self.settings = settings or LiveSettings()
        self.crowd = crowd
        adapters = (
            {platforms.source: platforms} if isinstance(platforms, Platform) else dict(platforms)
        )
        seed = self.settings.seed
        views = {view.platform: view for view in session.views()}
        self.sources: dict[str, SourceState] = {
            name: SourceState(
                name=name,
                platform=adapter,
                outbox=Outbox(store, adapter, session.id, clock, self.emit, seed=seed, lane=name),
                hashtag=views.get(name, session).hashtag,
                host=views.get(name, session).account,
                rng=random.Random(seed),
            )
            for name, adapter in adapters.items()
        }
        # several platforms: one failing waits (its lane in order) while the others go on
        self.degradable = len(self.sources) > 1
        for source in self.sources.values():
            source.degradable = self.degradable
            source.outbox.in_order = self.degradable
            source.emit = self.emit
        self.ingestor: Ingestor | None = None
        self.rehearsal = False
        self.lease: SessionLease | None = None  # refreshed every few seconds while it runs
        self.ended = False
        self.closing_requested = False
        self.cues_done: set[str] = set()
        self.last_command = 0
        self._seen_work: tuple[int, int] | None = None

    @property
    def platform(self) -> Platform:
        """The first source's adapter (the only one of a one-platform session)."""
        return next(iter(self.sources.values())).platform

    @property
    def host(self) -> str | None:
        return next(iter(self.sources.values())).host

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
        opening = self.store.outbox_item(planned_key(s, "opening"))
        if self.clock.now() > s.end + self.settings.tail and opening is None:
            raise UsageError(
                f"session {s.id} ended at {s.end.astimezone(s.tz):%Y-%m-%d %H:%M %Z} and was "
                "never run here",
                hint="see `qa recap`, or rehearse it with --start-now",
            )
        row = self.store.session_row(s.id) or {}
        if not row.get("started_at"):
            self.store.set_session_fields(s.id, started_at=to_iso(self.clock.now()))
        budget_events = self.store.events(s.id, "budget")
        for source in self.sources.values():
            source.connect(s, self.store, self.warn)
            source.budget_warned = any(
                e.get("platform", source.name) == source.name for e in budget_events
            )
        self.ingestor = Ingestor(
            s, self.store, self.host, hosts={n: src.host for n, src in self.sources.items()}
        )
        self.cues_done = {e["cue"] for e in self.store.events(s.id, "cue")}
        self.closing_requested = any(e.get("closing_requested") for e in self.store.events(s.id))
        commands = self.store.commands(s.id)
        self.last_command = max((c["id"] for c in commands), default=0)
        self.emit(
            {
                "event": "started",
                "session": s.id,
                "hashtag": s.hashtag,
                "platform": s.platform,
                "platforms": list(self.sources),
                "rehearsal": self.rehearsal,
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
        if self.lease is not None:
            self.lease.beat(self.store)
        now = self.clock.now()
        if self.crowd is not None:
            self.crowd.replay_until(now)
        self._commands()
        next_planned = self._planned(now)
        waits = [next_planned]
        for source in self.sources.values():
            source.send(now, self.warn, self.store, self.session.id)
            if source.post_hold_until is not None:
                waits.append((source.post_hold_until - now).total_seconds())
        waits.append(self._poll(now))
        for source in self.sources.values():
            source.refresh(self.session, self.store, now, self.settings.refresh_every)
        self._save_counters()
        self._cues(now)
        self._check_end(now)
        if self.crowd is not None:
            upcoming = self.crowd.next_time()
            if upcoming is not None:
                waits.append((upcoming - now).total_seconds())
        return max(0.0, min(min(waits), self.settings.poll_ceiling))

    # -- operator commands -----------------------------------------------------------------

    def _commands(self) -> None:
        """Announce answers accepted from any shell since the last tick; carry out the
        commands that need the loop (close; answers queued by an older version)."""
        s = self.session
        for command in self.store.commands(s.id) if self._new_commands() else []:
            if command["id"] <= self.last_command:
                continue
            self.last_command = command["id"]
            if command["kind"] == "answer" and command["state"] == "done":
                args = command["args"]
                self.emit(
                    {
                        "event": "answer_queued",
                        "question": args.get("number"),
                        "op": args.get("op"),
                        "actor": command.get("actor"),
                    }
                )
        for command_id, kind, args in self.store.pending_commands(s.id):
            try:
                result = self._command(kind, args)
            except UsageError as exc:
                self.store.finish_command(command_id, "failed", str(exc))
                self.warn(f"{kind} refused: {exc}", command=command_id)
                continue
            self.store.finish_command(command_id, "done", result)

    def _new_commands(self) -> bool:
        (latest,) = self.store.db.execute(
            "SELECT max(id) FROM commands WHERE session_id = ?", (self.session.id,)
        ).fetchone()
        return bool(latest and latest > self.last_command)

    def _command(self, kind: str, args: dict[str, Any]) -> str:
        from qasession.session.control import AnswerRequest, Control

        s, store = self.session, self.store
        if kind == "close":
            self.closing_requested = True
            store.add_event(s.id, "operator", {"closing_requested": True}, self.clock.now())
            return "closing"
        if kind == "answer":  # written by an older version: accepted through the control API
            row = store.post_row(s.id, str(args.get("question_id")))
            if row is None or row["number"] is None:
                raise UsageError(f"no question {args.get('question_id')!r}")
            request = AnswerRequest(
                args["text"], args.get("mode", "dot"), bool(args.get("thread", False))
            )
            accepted = Control(s, store, actor="(older version)").answer(row["number"], request)
            return accepted.op
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
        intents = hold_for_approval(s, self.store, intents)
        if intents:
            self.store.add_intents(s.id, intents)
        upcoming = [(e.item.at - now).total_seconds() for e in entries if e.state == "pending"]
        return min(upcoming) if upcoming else self.settings.poll_ceiling

    # -- polling ---------------------------------------------------------------------------

    def closed_at(self) -> datetime:
        """The planned end, or when the closing went out if the operator closed early."""
        if self.closing_requested:
            closing = self.store.outbox_item(planned_key(self.session, "closing"))
            if closing is not None and closing.sent_at:
                return min(self.end, datetime.fromisoformat(closing.sent_at))
        return self.end

    def _collecting(self, now: datetime) -> bool:
        """Until the tail after the end (questions asked ahead were collected before)."""
        return now <= self.closed_at() + self.settings.tail

    def _poll(self, now: datetime) -> float:
        assert self.ingestor is not None
        collecting = self._collecting(now)
        remaining = (self.closed_at() - now).total_seconds()
        waits = []
        for source in self.sources.values():
            if not collecting and source.caught_up:
                continue
            # past the tail, a run that restarts still reads what came while it was down
            wait, records = source.poll(
                self.session,
                self.store,
                self.ingestor,
                now,
                self.settings.pacing,
                self.warn,
                remaining,
            )
            waits.append(wait)
            self._announce_questions(source.name, records)
        return min(waits) if waits else self.settings.poll_ceiling

    def counters(self) -> dict[str, Any]:
        """Platform calls so far in this session (all processes, all sources), with spend."""
        total: dict[str, Any] = {}
        for source in self.sources.values():
            for key, value in source.counters().items():
                total[key] = round(total.get(key, 0) + value, 6)
        return total

    def _save_counters(self) -> None:
        import json

        self.store.set_session_fields(self.session.id, counters=json.dumps(self.counters()))
        for source in self.sources.values():
            source.save_counters(self.session, self.store)

    def _announce_questions(self, platform: str, records: list[PostRecord]) -> None:
        s = self.session
        touched: set[tuple[str, str]] = set()
        for record in records:
            if record.status in ("queued", "hidden"):
                touched.add((platform, record.post.id))
            elif record.status == "merged" and record.duplicate_of:
                touched.add((record.duplicate_platform or platform, record.duplicate_of))
        for where, post_id in sorted(touched):
            row = self.store.post_row(s.id, post_id, where)
            if row is not None:
                self.emit(question_event(row))

    # -- time cues and the end -------------------------------------------------------------

    def answers_done(self) -> int:
        """Questions answered (a merged question answered on several platforms counts once)."""
        return len(
            {
                item.op.split("@", 1)[0]
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
        behind = [s for s in self.sources.values() if not s.caught_up]
        if any(source.poll_failures < GIVE_UP_AFTER for source in behind):
            return  # what was posted while no run was reading is read first
        for source in behind:  # a platform still failing after the end: say what is missing
            self.warn(
                f"{source.name} could not be read to the end ({source.failure}): posts made "
                "there since the last read are not in the recap; `qa run` again reads them"
            )
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
            # sleep in slices of a tenth of a real second: a stop request (SIGTERM) is
            # honoured at once, and an answer accepted in another shell goes out at once
            slice_ = WAKE_EVERY * float(getattr(self.clock, "speed", 1.0))
            while wait > 0 and not self.ended and not should_stop():
                step = min(wait, slice_)
                self.clock.sleep(step)
                wait -= step
                if self.lease is not None:
                    self.lease.beat(self.store)  # a lost lease stops the loop at once
                if self.has_new_work():
                    break

    def has_new_work(self) -> bool:
        """Whether an operator acted since the last tick (an answer's steps or a command
        written from any shell): one indexed read, cheap enough to ask ten times a second."""
        (outbox, commands) = self.store.db.execute(
            "SELECT (SELECT max(id) FROM outbox WHERE session_id = ?), "
            "(SELECT max(id) FROM commands WHERE session_id = ?)",
            (self.session.id, self.session.id),
        ).fetchone()
        seen = (outbox or 0, commands or 0)
        if self._seen_work is None:
            self._seen_work = seen
            return False
        if seen != self._seen_work:
            self._seen_work = seen
            return True
        return False


class Runner:
    """Everything `qa run` needs to build a LiveSession in the thread that will run it (SQLite
    connections stay in the thread that opened them)."""

    def __init__(self, plan: Any, session: Session, home: Any) -> None:
        self.plan = plan
        self.session = session
        self.home = home
        self.rehearsal: Any = None
        self.settings = LiveSettings()
        self.lease: SessionLease | None = None
        self.actor: str | None = None  # who runs it (--as); the TUI's commands are theirs

    @property
    def live_session(self) -> Session:
        return self.rehearsal.session if self.rehearsal is not None else self.session

    def platforms(self) -> dict[str, Platform]:
        """One adapter per source of the session."""
        from qasession.session.sources import create_adapters

        clock = self.rehearsal.clock if self.rehearsal is not None else None
        return create_adapters(self.session, self.home, str(self.plan.path), clock)

    def platform(self) -> Platform:
        return next(iter(self.platforms().values()))

    def check(self) -> None:
        """Fail fast (bad settings, missing credentials) before any UI starts."""
        for adapter in self.platforms().values():
            adapter.close()

    def build(self, emit: Emit | None = None) -> LiveSession:
        adapters = self.platforms()
        store = Store.open(self.home)
        crowd = None
        if self.rehearsal is not None:
            self.rehearsal.begin(store, self.home)
            crowd = self.rehearsal.crowd(self.home)
        first = next(iter(adapters.values()))
        live = LiveSession(
            self.live_session,
            store,
            adapters,
            first.clock,
            emit,
            settings=self.settings,
            crowd=crowd,
        )
        live.rehearsal = self.rehearsal is not None
        live.lease = self.lease
        return live

    def hold(
        self,
        store: Store,
        actor: str | None = None,
        *,
        standby: Callable[[str], None] | None = None,
    ) -> dict[str, Any] | None:
        """Take the session's lease (SessionBusy when another run holds it; with `standby`,
        wait for its holder to go, telling `standby` once who holds it), then keep it alive
        from a thread of its own; returns the dead holder's row when this run took it over."""
        from qasession.session.lease import SessionLease

        self.lease = SessionLease(self.live_session.id, actor=actor)
        if standby is None:
            self.lease.acquire(store)
        else:
            self.lease.wait_for(store, standby, lambda: False)
        home = self.home
        self.lease.keep_alive(lambda: Store.open(home))
        return self.lease.taken_over

    def let_go(self, store: Store) -> None:
        if self.lease is not None:
            self.lease.release(store)
