"""The terminal UI of `qa run`, driven with Textual's pilot over a real local-platform world."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.cells import cell_len
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from qasession.errors import UsageError
from qasession.plan import load_plan
from qasession.platforms.local import LocalNetwork
from qasession.session.control import AnswerRequest, Control
from qasession.session.loop import LiveSettings, Runner, queue_rows
from qasession.store import Store
from qasession.tui import app as app_module
from qasession.tui import view
from qasession.tui.app import QAApp, QueueTable
from qasession.tui.screens import CloseScreen, ConfirmScreen, HelpScreen
from tests.conftest import write_plan

SIZE = (120, 40)
HOSTILE = (
    "Why? \x1b[31mred\x1b[0m \x1b]8;;http://evil.example\x07link\x1b]8;;\x07 "
    "[red]x[/red] \u202eevil\u202c zero\u200dwidth\u200b #AskAcme "
)


class World:
    """A live session that started two minutes ago on the local platform, with a crowd."""

    def __init__(self, tmp_path: Path, home: Path, **plan: Any) -> None:
        self.home = home
        self.start = datetime.now(UTC) - timedelta(minutes=2)
        zone = ZoneInfo(plan.get("timezone", "UTC"))
        path = write_plan(
            tmp_path / "sessions.yaml",
            start=self.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            sensitive_patterns=["ACME-\\d{6}"],
            **plan,
        )
        loaded = load_plan(path)
        self.session = loaded.get("t")
        self.runner = Runner(loaded, self.session, home)
        self.runner.settings = LiveSettings(poll_floor=0.2, seed=1, tail=timedelta(minutes=10))
        self.network = LocalNetwork(home)

    def say(self, author: str, text: str, likes: int = 0) -> str:
        return self.network.add(author=author, text=text, created_at=datetime.now(UTC), likes=likes)

    def app(self) -> QAApp:
        return QAApp(self.runner, tick_interval=0.05, refresh_interval=0.5)

    def mine(self) -> list[Any]:
        return [p for p in self.network.timeline() if p.author == "@acme"]

    def store(self) -> Store:
        return Store.open(self.home)


@pytest.fixture
def world(tmp_path: Path, home: Path) -> World:
    w = World(tmp_path, home)
    # chatter first: post ids and question numbers differ, as they do in a real session
    w.say("@zoe", "Looking forward to this #AskAcme")
    w.ids = {  # type: ignore[attr-defined]
        "alice": w.say("@alice", "How do I export my data? #AskAcme", likes=30),
        "bob": w.say("@bob", "Why is my bill wrong, contract ACME-123456? #AskAcme", likes=20),
        "carol": w.say("@carol", "Is there a public API? #AskAcme", likes=10),
        "dave": w.say("@dave", "When is the next release? #AskAcme", likes=5),
    }
    return w


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the UI and the loop thread run until `condition()` holds (bounded in time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the UI")
        await pilot.pause(0.05)


def post_ids(app: QAApp) -> set[str]:
    """The platform ids of the questions in the queue (its keys are question numbers)."""
    return {r["post_id"] for r in app.rows.values()}


def row_of(app: QAApp, post_id: str) -> dict[str, Any]:
    return next(r for r in app.rows.values() if r["post_id"] == post_id)


def number_of(app: QAApp, post_id: str) -> str:
    """The question number (the queue's key) of a post."""
    return str(row_of(app, post_id)["id"])


def shown_posts(app: QAApp) -> list[str]:
    return [app.rows[key]["post_id"] for key in app.shown]


def row_index(app: QAApp, post_id: str) -> int:
    return shown_posts(app).index(post_id)


def selected_post(app: QAApp) -> str | None:
    row = app.selected_row()
    return row["post_id"] if row else None


def text_of(app: QAApp, selector: str) -> str:
    content = app.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def table_text(app: QAApp) -> list[str]:
    table = app.query_one(QueueTable)
    return [" | ".join(cell.plain for cell in table.get_row_at(i)) for i in range(table.row_count)]


async def ready(pilot: Pilot[Any], app: QAApp, questions: int) -> None:
    await until(
        pilot, lambda: len(app.rows) >= questions and app.query_one(QueueTable).row_count > 0
    )


async def select(pilot: Pilot[Any], app: QAApp, post_id: str) -> None:
    """Move the queue's cursor to the question of a post with the arrow keys."""
    table = app.query_one(QueueTable)
    table.focus()
    while table.cursor_row > 0:
        await pilot.press("up")
    for _ in range(table.row_count + 1):
        if selected_post(app) == post_id:
            return
        await pilot.press("down")
    raise AssertionError(f"{post_id} is not in the queue")


async def answer(pilot: Pilot[Any], app: QAApp, post_id: str, text: str, mode: str) -> None:
    await select(pilot, app, post_id)
    await pilot.press("a")
    while app.mode != mode:
        await pilot.press("ctrl+o")
    app.query_one("#answer").value = text  # type: ignore[attr-defined]
    await pilot.press("enter")


# -- the queue -----------------------------------------------------------------------------


async def test_queue_ranks_and_selecting_shows_details(world: World) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        ids = world.ids  # type: ignore[attr-defined]
        assert post_ids(app) == set(ids.values())
        first = app.selected_id()
        assert first == app.shown[0]
        await select(pilot, app, ids["carol"])
        details = text_of(app, "#details")
        assert "@carol" in details and "Is there a public API?" in details
        assert "10 likes" in details
        await select(pilot, app, ids["bob"])
        details = text_of(app, "#details")
        assert "suggest DM" in details
        row = table_text(app)[row_index(app, ids["bob"])]
        assert "sensitive" in row
        status = text_of(app, "#status")
        assert "#AskAcme" in status and "left" in status and "answers 0/12" in status


async def test_duplicates_are_merged_and_shown(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    world.say("@erin", "How do I export my data? #AskAcme")
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await until(pilot, lambda: row_of(app, ids["alice"])["duplicates"] == 1)
        await select(pilot, app, ids["alice"])
        await pilot.pause(0.6)  # the periodic refresh redraws the flags
        assert "+1" in table_text(app)[row_index(app, ids["alice"])]
        assert "merged duplicates (1)" in text_of(app, "#details")
        assert "@erin" in text_of(app, "#details")


class HeldRanking:
    """`queue_rows` for the UI's thread rankings: once `armed`, ranks at once, then holds the
    result until the test lets it go (or fails with `fail`). Calls from the UI thread itself,
    and all calls before `armed` is set, go straight through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: str | None = None) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.returned = threading.Event()
        self.calls = 0
        self.fail = fail
        self.armed = threading.Event()
        monkeypatch.setattr(app_module, "queue_rows", self)

    def __call__(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if threading.current_thread() is threading.main_thread() or not self.armed.is_set():
            return queue_rows(*args, **kwargs)
        self.calls += 1
        if self.fail:
            raise sqlite3.OperationalError(self.fail)
        rows = queue_rows(*args, **kwargs)
        self.started.set()
        self.gate.wait(10)
        self.returned.set()
        return rows


async def test_the_queue_is_ranked_in_a_thread_while_typing_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldRanking(monkeypatch)
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await select(pilot, app, world.ids["alice"])  # type: ignore[attr-defined]
        await pilot.press("a")
        held.armed.set()
        newcomer = world.say("@gina", "Is there a student plan? #AskAcme")
        await until(pilot, held.started.is_set)  # a ranking is held in its thread...
        await pilot.press(*"Yes")  # ...and the answer box still follows the typing
        assert ".@alice Yes #AskAcme" in text_of(app, "#preview")
        assert not held.returned.is_set() and newcomer not in post_ids(app)
        held.gate.set()
        await until(pilot, lambda: newcomer in post_ids(app))


async def test_a_thread_ranking_older_than_a_skip_is_dropped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    held = HeldRanking(monkeypatch)
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        held.armed.set()
        await until(pilot, held.started.is_set)  # ranked with @carol's question still queued
        await select(pilot, app, ids["carol"])
        await pilot.press("s")
        assert ids["carol"] not in post_ids(app)
        held.gate.set()
        await until(pilot, lambda: held.returned.is_set() and not app._ranking)
        await pilot.pause()
        assert ids["carol"] not in post_ids(app) and ids["alice"] in post_ids(app)


async def test_a_failed_thread_ranking_is_logged_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldRanking(monkeypatch, fail="database is locked")
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        held.armed.set()
        await until(pilot, lambda: held.calls >= 3)  # the timer keeps trying
        await pilot.pause(0.1)
        log = [line.text for line in app.log_view.lines]
        assert sum("queue refresh failed" in line for line in log) == 1
        assert any("OperationalError: database is locked" in line for line in log)
        assert len(app.rows) == 4 and app.is_running


# -- answering -----------------------------------------------------------------------------


async def test_preview_and_length_follow_the_typing(world: World) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await select(pilot, app, world.ids["alice"])  # type: ignore[attr-defined]
        await pilot.press("a")
        assert app.focused is app.query_one("#answer")
        # the queue's letter keys are text in the answer box
        await pilot.press("q", "s", "question_mark", "slash", "m")
        assert app.query_one("#answer").value == "qs?/m"  # type: ignore[attr-defined]
        assert app.is_running and app.screen is app.screen_stack[0]
        app.query_one("#answer").value = ""  # type: ignore[attr-defined]
        await pilot.press(*"Yes")
        preview = text_of(app, "#preview")
        assert f"repost of question {number_of(app, world.ids['alice'])}" in preview  # type: ignore[attr-defined]
        assert ".@alice Yes #AskAcme" in preview
        assert "20/280" in text_of(app, "#compose-head")
        assert "mode dot" in text_of(app, "#compose-head")
        await pilot.press("ctrl+o")
        assert "mode reply" in text_of(app, "#compose-head")
        assert "reply to" in text_of(app, "#preview") and "Yes #AskAcme" in text_of(app, "#preview")
        await pilot.press("ctrl+o")
        assert "quote of" in text_of(app, "#preview")
        await pilot.press("ctrl+o")
        preview = text_of(app, "#preview")
        assert "DM to @alice: Yes" in preview and "direct message" in preview
        await pilot.press("ctrl+o")
        assert app.mode == "dot"
        # too long: the count turns red and the preview says why; a thread splits it
        app.query_one("#answer").value = "word " * 80  # type: ignore[attr-defined]
        await pilot.pause()
        assert "limit here is 280" in text_of(app, "#preview")
        await pilot.press("ctrl+t")
        assert app.thread and "(1/2)" in text_of(app, "#preview")
        await pilot.press("escape")
        assert app.focused is app.query_one(QueueTable)


async def test_answers_in_each_mode_reach_the_timeline(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await answer(pilot, app, ids["alice"], "Settings > Export.", "dot")
        await answer(pilot, app, ids["carol"], "Yes, v2 is public.", "reply")
        await answer(pilot, app, ids["dave"], "In March.", "quote")
        await answer(pilot, app, ids["bob"], "We'll check your bill.", "dm")
        store = world.store()
        commands = [c for c in store.commands("t") if c["kind"] == "answer"]
        assert len(commands) == 4

        def sent() -> bool:
            kinds = [p.kind for p in world.mine()]
            return all(k in kinds for k in ("repost", "reply", "quote", "dm")) and (
                app.answers == 4
            )

        await until(pilot, sent)
        mine = world.mine()
        repost = next(i for i, p in enumerate(mine) if p.kind == "repost")
        assert mine[repost].ref == ids["alice"]
        assert mine[repost + 1].text == ".@alice Settings > Export. #AskAcme"
        reply = next(p for p in mine if p.kind == "reply")
        assert reply.ref == ids["carol"] and reply.text == "Yes, v2 is public. #AskAcme"
        quote = next(p for p in mine if p.kind == "quote")
        assert quote.ref == ids["dave"] and quote.text == "In March. #AskAcme"
        dm = next(p for p in mine if p.kind == "dm")
        assert dm.to == "@bob" and dm.text == "We'll check your bill."
        assert not any("ACME-123456" in p.text for p in mine if p.kind != "dm")
        await until(pilot, lambda: not app.rows)  # answered questions leave the queue
        assert "answers 4/12" in text_of(app, "#status")
        log = "\n".join(line.text for line in app.log_view.lines)
        assert "posted repost" in log and ".@alice Settings > Export. #AskAcme" in log
        store.close()


async def test_a_refused_answer_is_shown_not_raised(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await answer(pilot, app, ids["bob"], "We'll look at it.", "dot")
        error = text_of(app, "#error")
        assert "carries private data" in error and "direct message" in error
        assert app.focused is app.query_one("#answer")  # still there to fix it
        await answer(pilot, app, ids["alice"], "Your contract ACME-123456 is fine.", "dot")
        error = text_of(app, "#error")
        assert "looks like private data" in error and "direct message" in error
        store = world.store()
        assert not [c for c in store.commands("t") if c["kind"] == "answer"]
        # forcing asks first; "n" keeps the check
        await pilot.press("ctrl+f")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not app.force
        await pilot.press("ctrl+f")
        await pilot.press("y")
        assert app.force and "ALLOWED: private data" in text_of(app, "#compose-head")
        await pilot.press("enter")
        assert [c for c in store.commands("t") if c["kind"] == "answer"]
        assert not app.force  # for one answer only
        store.close()


async def test_one_answer_per_question_at_a_time(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        app.stop_live_loop()  # hold the loop, so the first answer is still pending
        number = number_of(app, ids["alice"])
        await answer(pilot, app, ids["alice"], "First.", "dot")
        await until(pilot, lambda: ids["alice"] not in post_ids(app))  # being answered: not queued
        with pytest.raises(UsageError, match="already answering"):
            app.control().answer(number, AnswerRequest("Second."))
        store = world.store()
        assert len([c for c in store.commands("t") if c["kind"] == "answer"]) == 1
        store.close()


async def test_answering_without_text_or_question(world: World) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await pilot.press("a", "enter")
        assert "Type the answer first" in text_of(app, "#error")


# -- triage --------------------------------------------------------------------------------


async def test_skip_pin_and_block(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    world.say("@dave", "And will it have dark mode? #AskAcme")
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 5)
        store = world.store()
        await select(pilot, app, ids["carol"])
        await pilot.press("s")
        assert ids["carol"] not in post_ids(app)
        assert store.post_row("t", ids["carol"])["status"] == "skipped"  # type: ignore[index]
        await select(pilot, app, ids["bob"])
        await pilot.press("p")
        assert shown_posts(app)[0] == ids["bob"] and row_of(app, ids["bob"])["pinned"]
        assert "pinned" in table_text(app)[0]
        assert selected_post(app) == ids["bob"]  # the cursor follows the question
        await pilot.press("p")
        assert not row_of(app, ids["bob"])["pinned"]
        await select(pilot, app, ids["dave"])
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert ids["dave"] in post_ids(app)
        await pilot.press("b", "y")
        assert not [r for r in app.rows.values() if r["author"] == "@dave"]
        assert "@dave" in store.moderation("t")["blocked"]
        # what @dave posts next stays out of the queue too
        later = world.say("@dave", "Hello?? #AskAcme")
        world.say("@frank", "Is there a student discount? #AskAcme")
        await until(pilot, lambda: any(r["author"] == "@frank" for r in app.rows.values()))
        assert later not in post_ids(app)
        store.close()


async def test_filter_by_text_author_and_flag(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await pilot.press("slash")
        assert app.focused is app.query_one("#filter")
        await pilot.press(*"export")
        assert shown_posts(app) == [ids["alice"]]
        app.query_one("#filter").value = "@car"  # type: ignore[attr-defined]
        await pilot.pause()
        assert shown_posts(app) == [ids["carol"]]
        app.query_one("#filter").value = "flag:sensitive"  # type: ignore[attr-defined]
        await pilot.pause()
        assert shown_posts(app) == [ids["bob"]]
        await pilot.press("enter")
        assert app.focused is app.query_one(QueueTable)
        assert selected_post(app) == ids["bob"]
        await pilot.press("slash", "escape")
        assert len(app.shown) == 4 and not app.filter_text


def test_filter_words() -> None:
    row = {"author": "@Alice", "text": "Dark mode?", "flags": ["troll"], "duplicates": 2}
    assert view.matches(row, "dark @ali flag:troll flag:duplicate")
    assert view.matches(row, "troll")
    assert not view.matches(row, "flag:sensitive")
    assert not view.matches(row, "@bob")


async def test_help_screen(world: World) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = text_of(app.screen, "#help-keys")  # type: ignore[arg-type]
        for words in ("answer", "skip", "pin", "block", "filter", "mode", "Ctrl-C"):
            assert words in keys
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


# -- Ctrl-C --------------------------------------------------------------------------------


async def test_ctrl_c_cancel_then_post_the_closing(world: World) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await pilot.press("ctrl+c")
        assert isinstance(app.screen, CloseScreen)
        assert "Post the closing now and end?" in text_of(app.screen, "#close-question")  # type: ignore[arg-type]
        await pilot.press("escape")
        assert not isinstance(app.screen, CloseScreen) and app.is_running
        await pilot.press("ctrl+c", "y")
        store = world.store()
        assert [c for c in store.commands("t") if c["kind"] == "close"]
        assert app.closing_requested and app.loop_running

        def closing_sent() -> bool:
            item = store.outbox_item("t:closing")
            return item is not None and item.state == "sent"

        await until(pilot, closing_sent)
        closing = store.outbox_item("t:closing")
        assert closing is not None
        assert any(p.text == closing.text for p in world.mine())
        assert app.is_running and not app.ended  # still reading through the tail
        # a second Ctrl-C offers to quit without waiting for the tail
        await pilot.press("ctrl+c")
        assert isinstance(app.screen, CloseScreen) and app.screen.closing_requested
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
        store.close()


async def test_quit_without_closing_stops_the_loop(world: World) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await pilot.press("ctrl+c", "q")
        await until(pilot, lambda: not app.is_running)
    assert not app.loop_running and not app.ended and app.failure is None
    store = world.store()
    assert not [c for c in store.commands("t") if c["kind"] == "close"]
    assert store.session_row("t")["ended_at"] is None  # type: ignore[index]
    store.close()


# -- untrusted text ------------------------------------------------------------------------


async def test_hostile_text_is_inert(world: World) -> None:
    body = "A" * 10_000
    evil = world.say("@mallory\x1b[2J\u202e", HOSTILE + body + " ?")
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 5)
        await select(pilot, app, evil)
        await pilot.press("a")
        app.query_one("#answer").value = "Thanks"  # type: ignore[attr-defined]
        await pilot.pause()
        cells = table_text(app)[row_index(app, evil)]
        details = text_of(app, "#details")
        preview = text_of(app, "#preview")
        screen = app.export_screenshot()
        for shown in (cells, details, preview, screen):
            assert "\x1b" not in shown and "\x07" not in shown
            for char in ("\u202e", "\u202c", "\u200d", "\u200b"):
                assert char not in shown
            assert "http://evil" not in shown
        assert "[red]x[/red]" in cells and "[red]x[/red]" in details
        assert "\\[red]" not in details  # literal, not backslash-escaped
        assert len(app.query_one(QueueTable).get_row_at(row_index(app, evil))[-1]) <= 90
        assert "red link [red]x[/red] evil zerowidth" in details
        assert "[red]x[/red]" in screen.replace("&#160;", " ")


# -- the loop's end and failures ------------------------------------------------------------


async def test_after_the_closing_and_its_tail_q_just_quits(world: World) -> None:
    world.runner.settings.tail = timedelta(seconds=1)
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await pilot.press("ctrl+c", "y")
        # the loop reports the end (`ended`), then stops (`loop_running`): wait for both
        await until(pilot, lambda: app.ended and not app.loop_running)
        assert "ended" in text_of(app, "#status")
        log = "\n".join(line.text for line in app.log_view.lines)
        assert "posted closing" in log and "session ended" in log
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    assert app.failure is None


async def test_a_loop_failure_stops_the_app(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from qasession.errors import AuthError

    def refuse(emit: Any = None) -> Any:
        raise AuthError("X refused the credentials", hint="check X_BEARER_TOKEN")

    monkeypatch.setattr(world.runner, "build", refuse)
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: not app.is_running)
    assert isinstance(app.failure, AuthError)


def test_run_tui_reports_how_it_stopped(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from qasession.errors import AuthError, Interrupted
    from qasession.tui import app as tui_app

    outcome: dict[str, Any] = {}

    def fake_run(self: QAApp) -> None:
        self.failure = outcome.get("failure")
        self.ended = outcome.get("ended", False)

    monkeypatch.setattr(tui_app.QAApp, "run", fake_run)
    with pytest.raises(Interrupted):
        tui_app.run_tui(world.runner)
    outcome["failure"] = AuthError("refused")
    with pytest.raises(AuthError):
        tui_app.run_tui(world.runner)
    outcome.clear()
    outcome["ended"] = True
    tui_app.run_tui(world.runner)


# -- as a first-time host sees it ------------------------------------------------------------

FLAG = re.compile(r"(?<!\w)--[a-z]")  # a command-line option: `--mode`, `--force`, ...
STAMP = re.compile(r"\d\d:\d\d:\d\d ")


def log_text(app: QAApp) -> str:
    return "\n".join(line.text for line in app.log_view.lines)


async def test_answer_settings_belong_to_one_question(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        # a question carrying private data starts at dm: the control API refuses the others
        await select(pilot, app, ids["bob"])
        assert app.mode == "dm" and text_of(app, "#preview").startswith("mode dm")
        # a DM and a thread chosen for @alice...
        await select(pilot, app, ids["alice"])
        assert app.mode == "dot"
        await pilot.press("a")
        while app.mode != "dm":
            await pilot.press("ctrl+o")
        await pilot.press("ctrl+t")
        assert app.thread and "mode dm" in text_of(app, "#preview")
        await pilot.press("escape")
        # ...are not carried to @carol's question
        await select(pilot, app, ids["carol"])
        assert (app.mode, app.thread) == ("dot", False)
        assert "mode dot" in text_of(app, "#compose-head")
        assert text_of(app, "#preview").startswith("mode dot: repost the question")
        # nor past an answer sent: the next question starts again from the plan's mode
        await answer(pilot, app, ids["carol"], "Yes, v2.", "dm")
        await until(pilot, lambda: ids["carol"] not in post_ids(app))
        await select(pilot, app, ids["dave"])
        await pilot.press("a")
        assert app.mode == "dot" and "mode dot" in text_of(app, "#preview")
        await until(pilot, lambda: any(p.kind == "dm" and p.to == "@carol" for p in world.mine()))


async def test_messages_name_the_keys_not_command_line_options(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        shown: list[str] = []
        await answer(pilot, app, ids["bob"], "We'll look at it.", "dot")
        error = text_of(app, "#error")
        assert "carries private data" in error
        assert "Ctrl-O until mode dm" in error and "Ctrl-R" in error
        shown += [error, text_of(app, "#preview")]
        await answer(pilot, app, ids["alice"], "Your contract ACME-123456 is fine.", "dot")
        error = text_of(app, "#error")
        assert "looks like private data" in error and "Ctrl-F" in error
        shown.append(error)
        app.query_one("#answer").value = "word " * 80  # type: ignore[attr-defined]
        await pilot.pause()
        preview = text_of(app, "#preview")
        assert "limit here is 280" in preview and "Ctrl-T" in preview
        await pilot.press("enter")
        assert "Ctrl-T" in text_of(app, "#error")
        shown += [preview, text_of(app, "#error"), text_of(app, "#compose-head")]
        # answered from another shell while typing here
        await pilot.press("escape")
        await select(pilot, app, ids["carol"])
        await pilot.press("a", *"Again.")
        other = world.store()
        number = int(number_of(app, ids["carol"]))
        Control(world.session, other).answer(number, AnswerRequest("From a shell."))
        await pilot.press("enter")
        shown.append(text_of(app, "#error"))
        assert "already" in shown[-1] and "follow-up" in shown[-1]
        await pilot.press("ctrl+f")
        shown.append(text_of(app.screen, "#confirm-question"))  # type: ignore[arg-type]
        await pilot.press("n", "escape", "question_mark")
        shown.append(text_of(app.screen, "#help-keys"))  # type: ignore[arg-type]
        await pilot.press("escape")
        shown.append(log_text(app))
        for text in shown:
            assert not FLAG.search(text), text
        other.close()


async def test_one_question_number_in_queue_details_log_and_qa_queue(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        store = world.store()
        numbers = {
            r["post_id"]: str(r["id"]) for r in queue_rows(world.session, store, world.start)
        }
        assert numbers[ids["carol"]] != ids["carol"]  # a number, not the platform's id
        await select(pilot, app, ids["carol"])
        number = numbers[ids["carol"]]
        first_cell = table_text(app)[row_index(app, ids["carol"])].split(" | ")[0]
        assert first_cell == number  # the queue's # column
        assert text_of(app, "#details").startswith(f"Question {number} by @carol")
        assert f"→ {number} @carol" in text_of(app, "#compose-head")
        await pilot.press("p")
        assert f"pinned {number}" in log_text(app)
        await select(pilot, app, ids["carol"])
        await pilot.press("a")
        app.query_one("#answer").value = "Yes."  # type: ignore[attr-defined]
        await pilot.pause()
        assert f"repost of question {number}" in text_of(app, "#preview")
        await pilot.press("enter")
        await until(pilot, lambda: f"(question {number})" in log_text(app))
        assert f"answer to {number} queued" in log_text(app)
        store.close()


async def test_log_times_are_in_the_plans_zone_and_say_so(tmp_path: Path, home: Path) -> None:
    world = World(tmp_path, home, timezone="Asia/Kolkata")  # UTC+05:30, no summer time
    world.say("@alice", "How do I export my data? #AskAcme")
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 1)
        await until(pilot, lambda: "session t on local" in log_text(app))
        now = datetime.now(ZoneInfo("Asia/Kolkata"))
        first = app.log_view.lines[0].text
        stamp = datetime.strptime(first[:8], "%H:%M:%S").replace(
            year=now.year, month=now.month, day=now.day, tzinfo=now.tzinfo
        )
        assert first[9:13] == "IST " and abs((now - stamp).total_seconds()) < 120
        stamped = [line.text for line in app.log_view.lines if STAMP.match(line.text)]
        assert len(stamped) >= 2 and all(line[9:13] == "IST " for line in stamped)
        assert "IST" in text_of(app, "#status")


async def test_unskip_brings_back_the_last_skipped_and_a_pinned_skip_asks(world: World) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        store = world.store()
        await select(pilot, app, ids["carol"])
        carol = number_of(app, ids["carol"])
        await pilot.press("s")
        assert ids["carol"] not in post_ids(app)
        # skipped from another shell, after @carol's: the first to come back
        dave = int(number_of(app, ids["dave"]))
        Control(world.session, store).skip(dave)
        await pilot.press("u")
        assert ids["dave"] in post_ids(app) and selected_post(app) == ids["dave"]
        assert ids["carol"] not in post_ids(app)
        await pilot.press("u")
        assert ids["carol"] in post_ids(app) and selected_post(app) == ids["carol"]
        assert store.post_row("t", ids["carol"])["status"] == "queued"  # type: ignore[index]
        assert f"unskipped {carol}" in log_text(app)
        await pilot.press("u")  # nothing left to bring back: nothing changes
        assert len(app.rows) == 4
        # a pinned question asks before it is skipped
        await select(pilot, app, ids["bob"])
        await pilot.press("p", "s")
        assert isinstance(app.screen, ConfirmScreen)
        assert "is pinned" in text_of(app.screen, "#confirm-question")  # type: ignore[arg-type]
        await pilot.press("n")
        assert ids["bob"] in post_ids(app)
        await pilot.press("s", "y")
        assert ids["bob"] not in post_ids(app)
        assert store.post_row("t", ids["bob"])["status"] == "skipped"  # type: ignore[index]
        store.close()


def test_cut_keeps_graphemes_whole_and_ends_in_an_ellipsis() -> None:
    import regex

    # flags (two code points each), accents as combining marks, skin tones, wide characters
    text = "Qu'en pense\u0301-t-on 🇫🇷🇩🇪 👍🏽 東京 " * 6
    graphemes = regex.findall(r"\X", text)
    assert len(graphemes) < len(text)  # the example has graphemes of several code points
    for width in range(5, 60):
        out = view.cut(text, width).plain
        assert out.endswith("…") and cell_len(out) <= width
        kept = regex.findall(r"\X", out[:-1])
        assert kept == graphemes[: len(kept)], width  # whole graphemes only
    assert view.cut("short", 10).plain == "short"


async def test_long_texts_end_in_an_ellipsis_and_home_end_move_rows(world: World) -> None:
    long = world.say("@lena", "Why " + "does this take so long " * 12 + "? #AskAcme", likes=1)
    for n in range(6):
        world.say(f"@u{n}", f"Question number {n}, why? #AskAcme")
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 11)
        table = app.query_one(QueueTable)
        cell = table.get_row_at(row_index(app, long))[-1]
        assert cell.plain.endswith("…") and cell.plain.startswith("Why does this take")
        # the whole row fits the table: nothing runs off its right edge
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
        assert table.max_scroll_x == 0
        table.focus()
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 and table.scroll_x == 0
        assert app.selected_id() == app.shown[-1]
        await pilot.press("home")
        assert table.cursor_row == 0 and app.selected_id() == app.shown[0]
        # a narrower terminal fits the column again
        await pilot.resize_terminal(90, 40)
        await pilot.pause()
        assert table.max_scroll_x == 0
        assert table.get_row_at(row_index(app, long))[-1].plain.endswith("…")


@pytest.mark.parametrize("mode", ["dot", "reply", "quote"])
async def test_a_private_question_is_never_offered_in_public(world: World, mode: str) -> None:
    ids = world.ids  # type: ignore[attr-defined]
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        store = world.store()
        await select(pilot, app, ids["bob"])
        await pilot.press("a")
        while app.mode != mode:
            await pilot.press("ctrl+o")
        for typed in ("", "We'll check it."):
            app.query_one("#answer").value = typed  # type: ignore[attr-defined]
            await pilot.pause()
            preview = text_of(app, "#preview")
            for step in ("repost of question", "quote of question", "reply to question"):
                assert step not in preview
            assert "carries private data" in preview and "direct message" in preview
        await pilot.press("enter")
        assert "carries private data" in text_of(app, "#error")
        assert not [c for c in store.commands("t") if c["kind"] == "answer"]
        # the explicit override asks, then answers with a stand-alone post only
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        assert app.public and "PUBLIC: without repost" in text_of(app, "#compose-head")
        preview = text_of(app, "#preview")
        assert "post: .@bob We'll check it. #AskAcme" in preview
        for step in ("repost of question", "quote of question", "reply to question"):
            assert step not in preview
        await pilot.press("enter")
        await until(pilot, lambda: any(p.text.startswith(".@bob") for p in world.mine()))
        mine = world.mine()
        assert not [p for p in mine if p.ref == ids["bob"]]  # no repost, reply or quote of it
        assert not any("ACME-123456" in p.text for p in mine)
        assert not app.public  # for one answer only
        store.close()


async def test_an_answer_from_another_shell_goes_out_at_once(world: World) -> None:
    world.runner.settings.poll_floor = 60.0  # the loop's own next tick is a minute away
    ids = world.ids  # type: ignore[attr-defined]
    app = QAApp(world.runner, tick_interval=60.0, refresh_interval=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 4)
        await until(pilot, lambda: any(p.kind == "post" for p in world.mine()))  # the opening
        await pilot.pause(0.3)  # the loop is waiting now
        other = world.store()
        number = int(number_of(app, ids["alice"]))
        sent = time.monotonic()
        Control(world.session, other).answer(number, AnswerRequest("From a shell."))
        await until(pilot, lambda: any("From a shell." in p.text for p in world.mine()), 5)
        assert time.monotonic() - sent < 1.5
        # and one typed here
        await answer(pilot, app, ids["carol"], "From the TUI.", "dot")
        sent = time.monotonic()
        await until(pilot, lambda: any("From the TUI." in p.text for p in world.mine()), 5)
        assert time.monotonic() - sent < 1.5
        other.close()


def test_the_readme_lists_every_key_of_the_help() -> None:
    from qasession.tui.screens import KEYS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("#### The terminal UI's keys") :]
    section = section[: section.index("\n#")]
    for label, what in KEYS:
        for key in label.split(", ") if what else ():
            assert f"`{key}`" in section, key


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_a_bug_in_the_loop_stops_the_app_and_is_handed_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qasession.session.loop import LiveSession

    def broken(self: LiveSession) -> float:
        raise RuntimeError("a bug")

    monkeypatch.setattr(LiveSession, "tick", broken)
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: not app.is_running)
    # the CLI reports it as an internal error (exit 1), as for any bug
    assert isinstance(app.failure, RuntimeError) and str(app.failure) == "a bug"


async def test_details_show_the_same_question_asked_on_other_platforms(
    tmp_path: Path, home: Path
) -> None:
    """A session on two platforms: the question asked on both is one entry whose details
    list the post from the other platform and what its engagement adds to the score."""
    w = World(
        tmp_path,
        home,
        platforms={"local:x": {"account": "@acme"}, "local:bsky": {"account": "@acme.com"}},
    )
    text = "When will the mobile app support offline mode? #AskAcme"
    now = datetime.now(UTC)
    asked = LocalNetwork(home, "local:x").add(author="@sam", text=text, created_at=now, likes=4)
    LocalNetwork(home, "local:bsky").add(
        author="@sam.bsky.social", text=text, created_at=now + timedelta(seconds=1), likes=6
    )
    app = w.app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, 1)
        await until(pilot, lambda: row_of(app, asked).get("likes_elsewhere") == 6)
        await select(pilot, app, asked)
        details = text_of(app, "#details")
        assert "merged duplicates (1)" in details
        assert "on local:bsky @sam.bsky.social: When will the mobile app" in details
        assert "+ ♥ 6 · ⟳ 0 on local:bsky (counted in the score)" in details
