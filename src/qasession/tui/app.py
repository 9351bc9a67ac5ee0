"""`qa run` in a terminal: the ranked queue, the answer box with its preview, and the log."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, ParamSpec, TypeVar

from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, RichLog, Static

from qasession.clock import Clock, SystemClock
from qasession.errors import Interrupted, QAError, StoreError, UsageError
from qasession.session.control import AnswerRequest, Control, Target
from qasession.session.loop import WAKE_EVERY
from qasession.session.queue import queue_rows
from qasession.session.team import NotAllowed
from qasession.store import Store
from qasession.store.watch import SessionWatch
from qasession.tui import view
from qasession.tui.screens import CloseScreen, ConfirmScreen, DraftsScreen, HelpScreen

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.session.loop import LiveSession, Runner
    from qasession.store import OutboxItem

P = ParamSpec("P")
R = TypeVar("R")


def outage_safe(
    method: Callable[Concatenate[QAApp, P], R],
) -> Callable[Concatenate[QAApp, P], R | None]:
    """An operator's action that a lost database connection (a team's server down, the
    network gone) must not end: the UI says so in one line and stays up, with what the
    operator typed kept; the same key works again once the server is back."""

    def safe(app: QAApp, /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return method(app, *args, **kwargs)
        except StoreError as exc:
            if not exc.retryable:
                raise
            app.database_lost(exc)
            return None

    update_wrapper(safe, method)  # its name and docstring (the help lists actions by them)
    return safe


QUEUE_LIMIT = 300  # rows shown; the queue beyond that is never where the next answer is
LOG_LINE = 120
WATCH_EVERY = 0.2  # seconds between two looks for other seats' actions (a cheap read)
CLAIM_TOUCH = 30.0  # seconds between two touches of one's claim while typing
COLUMNS = ("#", "score", "author", "flags", "♥", "⟳", "question")
# What a live loop or a ranking can meet and the host can act on: credentials refused, a lease
# held elsewhere, a platform that stays down (QAError), the database or the disk (sqlite3,
# OSError). They stop the loop with a one-line error; anything else is a bug, re-raised.
EXPECTED = (QAError, sqlite3.Error, OSError)


class LoopReady(Message):
    """The loop thread has built its LiveSession; `clock` is the session clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock


class LoopEvent(Message):
    """One event of the live loop (started, question, posted, cue, warning, ...)."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class LoopTicked(Message):
    """After each tick: the answers posted so far and whether the session has ended."""

    def __init__(self, answers: int, ended: bool) -> None:
        super().__init__()
        self.answers = answers
        self.ended = ended


class LoopFailed(Message):
    """The loop stopped on an error it cannot ride out (credentials refused, a bug)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class QueueRanked(Message):
    """The queue as ranked off the UI thread, or why that failed. `generation` tells a result
    that a later ranking has made stale."""

    def __init__(
        self, generation: int, rows: list[dict[str, Any]] | None, error: str | None = None
    ) -> None:
        super().__init__()
        self.generation = generation
        self.rows = rows
        self.error = error


class QueueTable(DataTable[Text]):
    """The ranked queue; its keys act on the highlighted question."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "app.answer", "Answer"),
        Binding("m,ctrl+o", "app.cycle_mode", "Mode"),
        Binding("t,ctrl+t", "app.toggle_thread", "Thread"),
        Binding("f,ctrl+f", "app.toggle_force", "Allow private data", show=False),
        Binding("r,ctrl+r", "app.toggle_public", "Public without repost", show=False),
        Binding("e,ctrl+e", "app.toggle_everywhere", "Everywhere", show=False),
        Binding("s", "app.skip", "Skip"),
        Binding("u", "app.unskip", "Unskip"),
        Binding("p", "app.pin", "Pin"),
        Binding("b", "app.block", "Block"),
        Binding("n", "app.note", "Note"),
        # the first and the last question, not the first and last column
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]

    class Resized(Message):
        """The table's width changed: the question column is fitted again."""

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized())


class AnswerInput(Input):
    """The answer box; printable keys are text here, so its own keys use Ctrl."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+o", "app.cycle_mode", "Mode"),
        Binding("ctrl+t", "app.toggle_thread", "Thread"),
        Binding("ctrl+f", "app.toggle_force", "Allow private data"),
        Binding("ctrl+r", "app.toggle_public", "Public without repost", show=False),
        Binding("ctrl+e", "app.toggle_everywhere", "Everywhere", show=False),
        Binding("escape", "app.to_queue", "Queue"),
    ]


class FilterInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.clear_filter", "Clear filter"),
    ]


class QAApp(App[None]):
    """The live session's terminal UI. The loop runs in its own thread (it owns its Store and
    platform); this thread reads the queue and writes commands through its own Store."""

    TITLE = "qa run"
    ENABLE_COMMAND_PALETTE = False  # its theme and screenshot commands only distract live
    CSS = """
    #status { height: 1; background: $primary; color: $text; padding: 0 1; }
    #main { height: 1fr; }
    #left { width: 3fr; }
    #right { width: 2fr; border-left: solid $primary; padding: 0 1; }
    #queue { height: 1fr; }
    #filter { display: none; }
    #filter.active { display: block; }
    #details-box { height: 1fr; }
    #compose-head { height: auto; margin-top: 1; }
    #preview { height: auto; max-height: 10; color: $text-muted; }
    #error { height: auto; color: $error; }
    #log { height: 9; border-top: solid $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "interrupt", "Close/quit", priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("f1", "help", "Help", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("d", "drafts", "Drafts"),
        Binding("q", "interrupt", "Quit"),
    ]

    def __init__(
        self,
        runner: Runner,
        *,
        tick_interval: float = 0.5,
        refresh_interval: float = 3.0,
        start_loop: bool = True,
        handle_signals: bool = False,
        seat: str | None = None,
    ) -> None:
        super().__init__()
        self.runner = runner
        self.seat = seat  # a team's seat (moderator, approver...): this UI runs no loop
        self.session: Session = runner.live_session
        self.tick_interval = tick_interval
        self.refresh_interval = refresh_interval
        self.start_loop = start_loop and seat is None
        self.seats_watch: SessionWatch | None = None  # other seats' actions (a team's session)
        self.handle_signals = handle_signals
        self.composer = view.Composer.for_session(self.session)
        self.clock: Clock = SystemClock()  # until the loop hands over the session clock
        self.store: Store | None = None
        self.rows: dict[str, dict[str, Any]] = {}
        self.shown: list[str] = []
        self.filter_text = ""
        self.target_id: str | None = None  # the question the answer box is answering
        # question -> answer command, until the loop takes it up (or refuses it)
        self.pending: dict[str, int] = {}
        # how the next answer goes out: set for one question at a time (`draft_for`), back to
        # the defaults for the next one, so a DM chosen for one customer never carries over
        self.draft_for: int | None = None
        self.mode: str = self.session.answers.mode
        self.thread = False
        self.force = False
        self.public = False  # a private question answered in public, without repost
        self.everywhere = False  # several platforms: a community answer where not asked
        self.degraded: dict[str, str] = {}  # platforms failing now, and why
        self.answers = 0
        self.ended = False
        self.closing_requested = False
        self.failure: BaseException | None = None
        self.loop_running = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._refresh_scheduled = False
        self._claimed_at = 0.0  # when the question being drafted was last claimed (monotonic)
        # Rankings asked for by the timer and the loop's events run in a thread, one at a time;
        # every ranking started or shown takes the next generation, so a late result is dropped.
        self._generation = 0
        self._ranking = False
        self._rank_again = False
        self._rank_error: str | None = None
        self.database_out: str | None = None  # why the database is out of reach, while it is
        self._drawn_cells: list[tuple[Text, ...]] = []
        # held here rather than queried: loop messages and timers may still arrive while the
        # app shuts down and its widgets are already gone from the DOM
        self.status_line = Static(id="status")
        self.table = QueueTable(id="queue", cursor_type="row", zebra_stripes=True)
        self.filter_box = FilterInput(placeholder="filter: words, @author, flag:troll", id="filter")
        self.details = Static(id="details")
        self.compose_head = Static(id="compose-head")
        self.answer_box = AnswerInput(placeholder="type the answer; Enter sends", id="answer")
        self.preview = Static(id="preview")
        self.error = Static(id="error")
        self.log_view = RichLog(id="log", wrap=True, markup=False, highlight=False, max_lines=2000)

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.status_line
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self.table
                yield self.filter_box
            with Vertical(id="right"):
                with VerticalScroll(id="details-box"):
                    yield self.details
                yield self.compose_head
                yield self.answer_box
                yield self.preview
                yield self.error
        yield self.log_view
        yield Footer()

    def on_mount(self) -> None:
        self.store = Store.open(self.runner.home)
        self.composer = view.Composer.for_session(self.session, self.store)
        table = self.table
        for label in COLUMNS:
            table.add_column(Text(label), key=label)  # (again at every redraw)
        table.focus()
        self.set_interval(1.0, self.update_status)
        self.set_interval(self.refresh_interval, self.refresh_queue_in_background)
        self.refresh_queue()
        self.update_compose()
        self.update_status()
        if self.session.team or self.seat is not None or self.store.url:
            self.seats_watch = SessionWatch(self.store, self.session.id)
            self.set_interval(WATCH_EVERY, self.check_other_seats)
        if self.handle_signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.stop_and_exit)
        if self.start_loop:
            self.start_live_loop()

    def on_unmount(self) -> None:
        self.stop_live_loop()
        if self.seats_watch is not None:
            self.seats_watch.close()
            self.seats_watch = None
        if self.handle_signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        if self.store is not None:
            self.store.close()
            self.store = None

    # -- the loop thread -------------------------------------------------------------------

    def start_live_loop(self) -> None:
        self._stop.clear()
        self.loop_running = True
        self._loop_thread = threading.Thread(
            target=self._run_loop, name="qa-live-loop", daemon=True
        )
        self._loop_thread.start()

    def stop_live_loop(self, timeout: float = 15.0) -> None:
        """Stop between two ticks and wait for it (the loop's own state is already saved)."""
        self._stop.set()
        self._wake.set()
        if self._loop_thread is not None:
            self._loop_thread.join(timeout)
            self._loop_thread = None
        self.loop_running = False

    def wake_loop(self) -> None:
        """Tick now instead of at the end of the wait (a command was just queued)."""
        self._wake.set()

    def _emit(self, event: dict[str, Any]) -> None:
        # post_message is thread-safe and never blocks, so the loop cannot deadlock against
        # a UI that is shutting down (call_from_thread would wait for the UI's answer)
        self.post_message(LoopEvent(dict(event)))

    def _run_loop(self) -> None:
        """The loop thread: build the LiveSession here (its SQLite connections belong to this
        thread), tick, wait for the next tick, stop on the event. A failure goes to the UI,
        which stops and hands it to the CLI (`run_tui`)."""
        try:
            live = self.runner.build(self._emit)
        except EXPECTED as exc:
            self.post_message(LoopFailed(exc))
            return
        except Exception as exc:
            self.post_message(LoopFailed(exc))
            raise
        try:
            self.post_message(LoopReady(live.clock))
            live.start()
            live.has_new_work()  # from here on, the operator's work wakes the loop
            while not self._stop.is_set() and not live.ended:
                wait = live.tick()
                self.post_message(LoopTicked(live.answers_done(), live.ended))
                if live.ended or self._stop.is_set():
                    break
                self._wait(live, self._real_wait(live, wait))
        except EXPECTED as exc:
            self.post_message(LoopFailed(exc))
        except Exception as exc:
            self.post_message(LoopFailed(exc))
            raise
        finally:
            with contextlib.suppress(*EXPECTED):
                live.platform.close()
            with contextlib.suppress(*EXPECTED):
                live.store.close()

    def _wait(self, live: LiveSession, seconds: float) -> None:
        """Sleep until the next tick, looking for the operator's work every WAKE_EVERY real
        seconds as the headless loop does: an answer typed here (`wake_loop`) or accepted from
        another shell (`qa answer`: `LiveSession.has_new_work`) goes out at once."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._wake.wait(min(left, WAKE_EVERY)):
                self._wake.clear()
                live.has_new_work()  # what woke us is seen: no second early tick for it
                return
            if live.has_new_work():
                return

    def _real_wait(self, live: LiveSession, wait: float) -> float:
        # the session clock may run N times faster than the wall (a rehearsal)
        speed = float(getattr(live.clock, "speed", 1.0)) or 1.0
        # (the same floor as LiveSession.run, so a loop that keeps returning 0 cannot spin)
        return min(max(wait, 0.05) / speed, self.tick_interval)

    @on(LoopReady)
    def handle_loop_ready(self, message: LoopReady) -> None:
        self.clock = message.clock
        self.update_status()

    @on(LoopTicked)
    def handle_loop_ticked(self, message: LoopTicked) -> None:
        changed = message.answers != self.answers or message.ended != self.ended
        self.answers = message.answers
        if message.ended:
            self.ended = True
            self.loop_running = False
        if changed:
            self.update_status()

    @on(LoopFailed)
    def handle_loop_failed(self, message: LoopFailed) -> None:
        self.failure = message.error
        self.loop_running = False
        self.exit()

    @on(LoopEvent)
    def handle_loop_event(self, message: LoopEvent) -> None:
        if not self.is_running:
            return  # the loop thread may still report while the widgets are going away
        event = message.event
        kind = event.get("event")
        if kind == "question":
            self.schedule_refresh()
        elif kind == "posted":
            self.log_posted(event)
            self.schedule_refresh()
        elif kind == "warning":
            refused = event.get("command")
            self.pending = {q: c for q, c in self.pending.items() if c != refused}
            self.log_line(Text("warning: ", style="bold yellow") + view.plain(event.get("message")))
        elif kind == "cue":
            line = (
                f"{event.get('cue')}: {event.get('answers')}/{event.get('target')} answered, "
                f"{event.get('queued')} in the queue"
            )
            self.log_line(Text("⏱ " + line, style="bold cyan"))
            self.notify(line, title="time", markup=False)
        elif kind == "platform_degraded":
            name = str(event.get("platform"))
            self.degraded[name] = str(event.get("reason") or "failing")
            why = view.plain(f"{name} is failing, the others go on: {event.get('reason')}")
            self.log_line(Text("⚠ ", style="bold red") + why)
            self.update_status()
        elif kind == "platform_recovered":
            name = str(event.get("platform"))
            self.degraded.pop(name, None)
            self.log_line(Text(f"{name} is back; what waited goes out in order", style="green"))
            self.update_status()
        elif kind == "answer_queued":
            self.pending.pop(str(event.get("question")), None)
            self.log_line(Text(f"answer to {event.get('question')} is going out", style="dim"))
        elif kind == "started":
            s = self.session
            when = f"{s.local(s.start):%a %H:%M} → {s.local(s.end):%H:%M %Z}"
            self.log_line(
                Text(f"session {s.id} on {s.platform}: ", style="bold")
                + view.plain(f"{s.hashtag}, {when}")
            )
        elif kind == "ended":
            self.ended = True
            self.answers = int(event.get("answers", self.answers))
            self.log_line(
                Text(
                    f"session ended: {event.get('answers')}/{event.get('target')} answered, "
                    f"{event.get('posts')} posts read. q quits.",
                    style="bold green",
                )
            )
            self.update_status()
        else:
            self.log_line(view.plain(str(event), LOG_LINE))

    def log_posted(self, event: dict[str, Any]) -> None:
        assert self.store is not None
        item = self.store.outbox_item(str(event.get("key", "")))
        line = Text(f"posted {event.get('kind')} {event.get('id')}", style="green")
        number = self.question_number(item)
        if number is not None:
            line.append(f" (question {number})", style="green")
        if item is not None and item.kind == "dm" and item.dm_to:
            line.append(" to ")
            line.append_text(view.plain(item.dm_to, 40))
        if item is not None and item.text and item.kind != "repost":
            line.append(": ")
            line.append_text(view.plain(item.text, LOG_LINE))
        if event.get("reconciled"):
            line.append(" (reconciled after a restart)", style="dim")
        self.log_line(line)

    def question_number(self, item: OutboxItem | None) -> int | None:
        """The number of the question an outbox step answers (the event names its post)."""
        if item is None or not item.question_id or self.store is None:
            return None
        row = self.store.post_row(self.session.id, item.question_id, item.platform or None)
        return int(row["number"]) if row is not None and row["number"] is not None else None

    def log_line(self, line: Text) -> None:
        # the plan's zone, as in the status line and the session's own times
        stamp = Text(f"{self.session.local(self.clock.now()):%H:%M:%S %Z} ", style="dim")
        self.log_view.write(stamp + line)

    # -- the queue -------------------------------------------------------------------------

    def check_other_seats(self) -> None:
        """Another seat claimed, answered, drafted, approved or skipped: show it now (within
        WATCH_EVERY), not at the next regular refresh."""
        if self.seats_watch is not None and self.is_running:
            try:
                changed = self.seats_watch.changed()
            except QAError:
                return  # the database is out of reach: the regular refresh says so
            if changed:
                self.refresh_queue_in_background()

    def schedule_refresh(self) -> None:
        """Many `question` events arrive together; refresh once for all of them."""
        if not self._refresh_scheduled:
            self._refresh_scheduled = True
            self.set_timer(0.1, self.refresh_queue_in_background)

    @outage_safe
    def refresh_queue(self) -> None:
        """Re-rank the queue from the store and redraw it at once, keeping the highlighted
        question: after the operator's own actions (skip, pin, block), which must show."""
        self._refresh_scheduled = False
        if self.store is None or not self.is_running:
            return  # timers can still fire while the app is shutting down
        self._generation += 1  # a ranking still running in a thread is older than this one
        rows = queue_rows(self.session, self.store, self.clock.now(), limit=QUEUE_LIMIT)
        self.database_back()
        self.show_rows(rows)

    def refresh_queue_in_background(self) -> None:
        """Re-rank in a thread with its own connection (what the timer and the loop's events
        ask for): SQLite works there without holding the interpreter, so with tens of
        thousands of open questions typing and scrolling never wait for the ranking."""
        self._refresh_scheduled = False
        if self.store is None or not self.is_running:
            return
        if self._ranking:
            self._rank_again = True  # once this one is done
            return
        self._ranking = True
        self._generation += 1
        threading.Thread(
            target=self._rank_in_thread,
            args=(self._generation, self.clock.now()),
            name="qa-rank",
            daemon=True,
        ).start()

    def _rank_in_thread(self, generation: int, now: datetime) -> None:
        try:
            store = Store.open(self.runner.home)
            try:
                rows = queue_rows(self.session, store, now, limit=QUEUE_LIMIT)
            finally:
                store.close()
        except EXPECTED as exc:  # shown in the log; the next refresh tries again
            self.post_message(QueueRanked(generation, None, f"{type(exc).__name__}: {exc}"))
            return
        except Exception as exc:  # a bug: shown, and the next refreshes are not held up
            self.post_message(QueueRanked(generation, None, f"{type(exc).__name__}: {exc}"))
            raise
        self.post_message(QueueRanked(generation, rows))

    @on(QueueRanked)
    def handle_queue_ranked(self, message: QueueRanked) -> None:
        self._ranking = False
        if not self.is_running:
            return
        if message.error is not None:
            if message.error != self._rank_error:  # once, not at every refresh
                self.log_line(
                    Text("queue refresh failed: ", style="bold yellow")
                    + view.plain(message.error, LOG_LINE)
                )
            self._rank_error = message.error
        elif message.generation == self._generation and message.rows is not None:
            self._rank_error = None
            self.database_back()
            self.show_rows(message.rows)
        if self._rank_again:
            self._rank_again = False
            self.refresh_queue_in_background()

    def database_lost(self, exc: StoreError) -> None:
        """The database is out of reach: said once in the log, and where the operator looks;
        the seat goes on, and every store call tries to connect again."""
        if self.database_out is None:
            self.log_line(
                Text("database out of reach: ", style="bold red") + view.plain(exc.message, 200)
            )
        self.database_out = exc.message
        kept = " your answer is kept here; Enter sends it again." if self.answer_box.value else ""
        self.show_error(f"The database is out of reach: nothing was changed.{kept}")

    def database_back(self) -> None:
        if self.database_out is not None:
            self.database_out = None
            self.log_line(Text("database back: the queue is up to date", style="bold green"))
            self.show_error(None)

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows = {str(r["id"]): r for r in rows}
        self.redraw_queue()

    def redraw_queue(self) -> None:
        table = self.table
        keep = self.selected_id()
        visible = [r for r in self.rows.values() if view.matches(r, self.filter_text)]
        # the question column fits the table (with room for a scrollbar), so a long text ends
        # in "…" on screen instead of running off its edge
        room = (table.size.width or self.size.width) - 2
        width = view.text_width(visible, COLUMNS, room)
        cells = [view.queue_cells(r, width) for r in visible]
        ids = [str(r["id"]) for r in visible]
        if ids == self.shown and cells == self._drawn_cells:
            self.show_details()
            return
        # the columns too: a DataTable column only ever widens, and the text's must shrink
        table.clear(columns=True)
        for label in COLUMNS:
            table.add_column(Text(label), key=label)
        for row_id, row_cells in zip(ids, cells, strict=True):
            table.add_row(*row_cells, key=row_id)
        self.shown = ids
        self._drawn_cells = cells
        if keep in ids:
            table.move_cursor(row=ids.index(keep), animate=False)
        self.show_details()

    def selected_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(row_key.value) if row_key.value is not None else None

    def selected_row(self) -> dict[str, Any] | None:
        qid = self.selected_id()
        return self.rows.get(qid) if qid else None

    @outage_safe
    def show_details(self) -> None:
        row = self.selected_row()
        merged: list[Any] = []
        if row is not None and row["duplicates"] and self.store is not None:
            # the same question asked on the other platforms of the session too
            merged = self.store.posts(
                self.session.id,
                where="duplicate_of = ? AND coalesce(duplicate_platform, platform) = ?",
                params=(row["post_id"], row["platform"]),
            )
        self.details.update(view.details(row, merged))
        if self.target_id is None:
            self.update_compose()

    @on(QueueTable.Resized)
    def handle_queue_resized(self, message: QueueTable.Resized) -> None:
        if self.is_running:
            self.redraw_queue()

    @on(DataTable.RowHighlighted, "#queue")
    def handle_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.is_running:
            self.show_details()

    @on(DataTable.RowSelected, "#queue")
    def handle_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_answer()

    # -- the answer box --------------------------------------------------------------------

    def control(self) -> Control:
        assert self.store is not None
        return Control(self.session, self.store, actor=self.runner.actor)

    def target_question(self) -> Target | None:
        qid = self.target_id or self.selected_id()
        if qid is None or self.store is None:
            return None
        try:
            return self.control().question(qid)
        except UsageError:
            return None

    def request(self, text: str) -> AnswerRequest:
        return AnswerRequest(
            text,
            self.mode,
            self.thread,
            post_private_data=self.force,
            public_without_repost=self.public,
            everywhere=self.everywhere,
        )

    def follow_question(self, question: Target | None) -> None:
        """The answer settings belong to one question: on another, they start again from the
        defaults (the plan's mode, or dm where the control API refuses it)."""
        number = question.number if question is not None else None
        if number == self.draft_for:
            return
        self.draft_for = number
        self.mode = self.composer.default_mode(question)
        self.thread = self.force = self.public = self.everywhere = False

    @outage_safe
    def update_compose(self) -> None:
        """The head line (question, mode, thread, overrides, length) and the preview."""
        question = self.target_question()
        self.follow_question(question)
        text = self.answer_box.value
        preview = self.composer.preview(question, self.request(text))
        self.compose_head.update(self.compose_head_text(question, preview, bool(text.strip())))
        body = Text()
        if question is not None:
            body.append_text(preview.mode)
        for i, line in enumerate(preview.lines, 1):
            body.append("\n")
            body.append(f"{i}. " if len(preview.lines) > 1 else "")
            body.append_text(line)
        for note in preview.notes:
            body.append("\nnote: ", style="yellow")
            body.append_text(view.plain(note))
        if preview.error:
            body.append(("\n" if body else "") + preview.error, style="red")
        self.preview.update(body)

    def compose_head_text(
        self, question: Target | None, preview: view.Preview, typed: bool
    ) -> Text:
        head = Text()
        if question is not None:
            head.append(f"→ {question.number} ", style="bold")
            head.append_text(view.plain(question.author, 30))
            head.append("  ")
        head.append(f"mode {self.mode}", style="bold reverse")
        head.append("  thread " + ("on" if self.thread else "off"))
        if self.force:
            head.append("  ALLOWED: private data in the answer", style="bold red")
        if self.public:
            head.append("  PUBLIC: without repost", style="bold red")
        if typed and preview.parts > 1:
            head.append(
                f"  {preview.parts} posts", style="bold green" if self.thread else "bold red"
            )
        elif typed and preview.count:
            head.append(
                f"  {preview.count}/{preview.limit}",
                style="bold red" if preview.over else "bold green",
            )
        return head

    def show_error(self, message: str | None) -> None:
        self.error.update(Text(message or ""))

    @on(Input.Changed, "#answer")
    def handle_answer_changed(self, event: Input.Changed) -> None:
        self.show_error(None)
        self.update_compose()
        if self.target_id is not None and time.monotonic() - self._claimed_at > CLAIM_TOUCH:
            self.claim(self.target_id)  # typing keeps the claim alive

    @on(Input.Submitted, "#answer")
    def handle_answer_submitted(self, event: Input.Submitted) -> None:
        self.send_answer()

    @outage_safe
    def send_answer(self) -> bool | None:
        """Check the answer (a refusal is shown here, never raised) and queue it for the loop."""
        assert self.store is not None
        box = self.answer_box
        question = self.target_question()
        text = box.value.strip()
        if question is None:
            self.show_error("Select a question first (a or Enter on a row of the queue).")
            return False
        if not text:
            self.show_error("Type the answer first.")
            return False
        key = str(question.number)
        if key in self.pending:
            self.show_error(f"An answer to {question.number} is already on its way.")
            return False
        preview = self.composer.preview(question, self.request(text))
        if preview.error:
            self.show_error(preview.error)
            return False
        try:
            accepted = self.control().answer(question.number, self.request(text))
        except (UsageError, NotAllowed) as exc:
            self.show_error(view.worded(exc))
            return False
        if accepted.draft_id is not None:  # under approval: nothing for the loop yet
            line = Text(f"draft {accepted.draft_id} for {question.number} waits for approval: ")
            self.log_line(line + view.plain(text, LOG_LINE))
            box.value = ""
            self.target_id = None
            self.draft_for = None
            self.show_error(None)
            self.table.focus()
            self.refresh_queue()
            return True
        self.pending[key] = accepted.command_id
        self.wake_loop()
        line = Text(f"answer to {question.number} queued ({self.mode}): ", style="bold")
        self.log_line(line + view.plain(text, LOG_LINE))
        for note in accepted.notes:
            self.log_line(Text("note: ", style="yellow") + view.plain(note))
        box.value = ""
        self.target_id = None
        self.draft_for = None  # the next question starts from the defaults
        self.show_error(None)
        self.table.focus()
        self.update_compose()
        return True

    # -- actions ---------------------------------------------------------------------------

    def action_answer(self) -> None:
        qid = self.selected_id()
        if qid is None:
            self.notify("The queue is empty.", severity="warning")
            return
        self.target_id = qid
        self.answer_box.focus()
        self.update_compose()
        self.claim(qid)

    @outage_safe
    def claim(self, qid: str) -> None:
        """Claim the question being drafted, so the other seats see who has it; a claim held
        by someone else is shown (answering it then needs a take-over)."""
        if self.store is None or not self.session.team:
            return  # one host alone: nobody to tell
        self._claimed_at = time.monotonic()
        try:
            self.control().claim(qid)
        except (UsageError, NotAllowed) as exc:
            self.show_error(view.worded(exc))

    def action_note(self) -> None:
        from qasession.tui.screens import NoteScreen

        self.push_screen(NoteScreen(), self.keep_note)

    @outage_safe
    def keep_note(self, text: str | None) -> None:
        """Store the host's note at the session clock's now (the loop's clock)."""
        if not text or self.store is None:
            return
        from qasession.session.notes import add_note

        try:
            add_note(self.store, self.session, text, now=self.clock.now(), actor=self.runner.actor)
        except (UsageError, NotAllowed) as exc:
            self.notify(view.worded(exc), severity="warning")
            return
        self.log_line(Text("note kept: ", style="bold") + view.plain(text, LOG_LINE))

    @outage_safe
    def action_to_queue(self) -> None:
        if self.target_id is not None and self.store is not None and self.session.team:
            with contextlib.suppress(UsageError, NotAllowed):
                self.control().release(self.target_id)
        self.target_id = None
        self.table.focus()
        self.update_compose()

    def action_cycle_mode(self) -> None:
        self.mode = view.next_mode(self.mode)
        self.update_compose()

    def action_toggle_thread(self) -> None:
        self.thread = not self.thread
        self.update_compose()

    def action_toggle_force(self) -> None:
        if self.force:
            self.force = False
            self.update_compose()
            return

        def decided(yes: bool | None) -> None:
            self.force = bool(yes)
            self.update_compose()

        question = Text(
            "Allow what looks like private data (a contract or customer number, a phone "
            "number, an address) in this answer?\n\nPosting someone's data in public "
            "cannot be undone. Prefer a direct message (Ctrl-O until mode dm).",
        )
        self.push_screen(ConfirmScreen(question, yes="Allow", no="Keep checking"), decided)

    def action_toggle_everywhere(self) -> None:
        """A session on several platforms: also post the answer as a community answer on the
        platforms where the question was not asked (on/off, this question only)."""
        if not self.session.multi:
            self.notify("This session runs on one platform.", severity="information")
            return
        self.everywhere = not self.everywhere
        self.update_compose()

    def action_toggle_public(self) -> None:
        if self.public:
            self.public = False
            self.update_compose()
            return
        target = self.target_question()
        if target is None or not target.private:
            self.notify(
                "Only a question that carries private data needs this.", severity="information"
            )
            return

        def decided(yes: bool | None) -> None:
            self.public = bool(yes)
            self.update_compose()

        question = Text(
            f"Question {target.number} carries private data. Answer it in public anyway?\n\n"
            "The answer goes out as a stand-alone post: the question is never reposted, "
            "quoted or replied to, so its data is not shown again. A direct message "
            "(Ctrl-O until mode dm) is usually the right answer.",
        )
        self.push_screen(ConfirmScreen(question, yes="Answer in public", no="Cancel"), decided)

    def action_skip(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        if not row["pinned"]:
            self.skip(int(row["id"]))
            return
        number = int(row["id"])

        def decided(yes: bool | None) -> None:
            if yes:
                self.skip(number)

        question = Text(f"Question {number} is pinned. Skip it anyway?\n\n")
        question.append("It leaves the queue; u brings back the last question skipped.")
        self.push_screen(ConfirmScreen(question, yes="Skip", no="Keep it"), decided)

    @outage_safe
    def skip(self, number: int) -> None:
        try:
            self.control().skip(number)
            self.log_line(Text(f"skipped {number} (u brings it back)", style="dim"))
        except UsageError as exc:
            self.log_line(Text(view.worded(exc), style="yellow"))
        if self.target_id == str(number):
            self.target_id = None
        self.refresh_queue()

    @outage_safe
    def action_unskip(self) -> None:
        """Bring back the question skipped last (here or with `qa skip`) that is still
        skipped; pressed again, the one before."""
        assert self.store is not None
        number = self.last_skipped()
        if number is None:
            self.notify("No skipped question to bring back.", severity="information")
            return
        try:
            self.control().unskip(number)
        except UsageError as exc:
            self.log_line(Text(view.worded(exc), style="yellow"))
            return
        self.log_line(Text(f"unskipped {number}: back in the queue", style="dim"))
        self.refresh_queue()
        if str(number) in self.shown:
            self.table.move_cursor(row=self.shown.index(str(number)), animate=False)

    def last_skipped(self) -> int | None:
        assert self.store is not None
        skips = [c for c in self.store.commands(self.session.id) if c["kind"] == "skip"]
        for command in reversed(skips):
            number = command["args"].get("number")
            row = self.store.question_row(self.session.id, int(number)) if number else None
            if row is not None and row["status"] == "skipped":
                return int(number)
        return None

    @outage_safe
    def action_pin(self) -> None:
        assert self.store is not None
        row = self.selected_row()
        if row is None:
            return
        pinned = not row["pinned"]
        self.control().pin(row["id"], pinned)
        self.log_line(Text(f"{'pinned' if pinned else 'unpinned'} {row['id']}", style="dim"))
        self.refresh_queue()

    def action_block(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        handle = str(row["author"])

        def decided(yes: bool | None) -> None:
            if yes:
                self.block(handle)

        question = Text("Block ")
        question.append_text(view.plain(handle, 60))
        question.append(" for this session?\n\nTheir questions leave the queue and new posts ")
        question.append("from them are hidden.")
        self.push_screen(ConfirmScreen(question, yes="Block", no="Cancel"), decided)

    @outage_safe
    def block(self, handle: str) -> None:
        # the store hides the author's queued questions at once; the running loop reloads the
        # moderation list before every page, so new posts are hidden too
        self.control().moderate(handle, "blocked")
        self.log_line(Text("blocked ", style="bold") + view.plain(handle, 60))
        self.refresh_queue()

    def action_filter(self) -> None:
        box = self.filter_box
        box.add_class("active")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.filter_box
        box.value = ""
        box.remove_class("active")
        self.filter_text = ""
        self.redraw_queue()
        self.table.focus()

    @on(Input.Changed, "#filter")
    def handle_filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.redraw_queue()

    @on(Input.Submitted, "#filter")
    def handle_filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.action_clear_filter()
            return
        self.table.focus()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    @outage_safe
    def action_drafts(self) -> None:
        """The approval panel (`d`): approve or reject the drafts waiting."""
        if self.store is None:
            return
        try:
            found = self.control().drafts()
        except NotAllowed as exc:
            self.notify(view.worded(exc), severity="warning")
            return
        self.push_screen(DraftsScreen([d.to_json() for d in found]), self.draft_decided)

    @outage_safe
    def draft_decided(self, decision: tuple[str, int, str] | None) -> None:
        if decision is None:
            return
        what, draft_id, why = decision
        try:
            if what == "approve":
                self.control().approve(draft_id)
                self.wake_loop()
            else:
                self.control().reject(draft_id, why)
        except (UsageError, NotAllowed) as exc:
            self.log_line(Text(view.worded(exc), style="yellow"))
            return
        done = "approved: it goes out now" if what == "approve" else "rejected"
        self.log_line(Text(f"draft {draft_id} {done}", style="bold"))
        self.refresh_queue()

    def action_interrupt(self) -> None:
        """Ctrl-C / q: post the closing now, quit without closing, or go back."""
        if isinstance(self.screen, CloseScreen):
            return
        if self.ended or not self.loop_running or self.seat is not None:
            self.stop_and_exit()
            return
        tail = self.runner.settings.tail.total_seconds() / 60
        self.push_screen(CloseScreen(self.closing_requested, tail), self.close_chosen)

    def close_chosen(self, choice: str | None) -> None:
        if choice == "close":
            self.request_closing()
        elif choice == "quit":
            self.stop_and_exit()

    @outage_safe
    def request_closing(self) -> None:
        self.control().close()
        self.closing_requested = True
        self.wake_loop()
        tail = self.runner.settings.tail.total_seconds() / 60
        self.log_line(
            Text(
                f"closing requested: it goes out now; replies are read for {tail:g} more "
                "minutes, then the session ends",
                style="bold",
            )
        )
        self.update_status()

    def stop_and_exit(self) -> None:
        self.stop_live_loop()
        self.exit()

    # -- the status line -------------------------------------------------------------------

    def update_status(self) -> None:
        if not self.is_running:
            return
        s = self.session
        now = self.clock.now()
        line = Text()
        line.append_text(view.plain(s.title, 40))
        line.append("  ")
        line.append_text(view.plain(s.hashtag, 40))
        line.append("  ")
        line.append(f"{s.local(now):%H:%M %Z} ", style="dim")
        line.append(view.clock_text(now, s.start, s.end, self.ended), style="bold")
        line.append(f"  answers {self.answers}/{s.answers.target}")
        line.append(f"  queue {len(self.rows)}")
        if self.filter_text:
            line.append(f" (filter: {len(self.shown)})")
        if self.closing_requested and not self.ended:
            line.append("  closing…", style="bold")
        if self.seat is not None:
            line.append(f"  seat: {self.seat} ", style="bold")
            line.append_text(view.plain(self.runner.actor or "", 30))
        elif not self.loop_running and not self.ended:
            line.append("  loop stopped", style="bold red")
        for name in s.platform_names:
            failing = name in self.degraded
            line.append(
                f"  {name}" + (" (failing)" if failing else ""),
                style="bold red" if failing else "dim",
            )
        self.status_line.update(line)


def run_tui(runner: Runner, seat: str | None = None) -> None:
    """The terminal UI until the session ends or the host quits. Quitting before the end
    leaves everything saved (exit 130, like an interrupted headless run); an error that
    stopped the loop is raised again here, for the CLI to report. A `seat` runs no loop:
    quitting it is the normal end."""
    app = QAApp(runner, handle_signals=True, seat=seat)
    app.run()
    if app.failure is not None:
        raise app.failure
    if not app.ended and seat is None:
        raise Interrupted("stopped; everything collected is saved, run `qa run` again to resume")
