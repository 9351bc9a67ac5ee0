"""PostgreSQL's write lanes: the loop's ingest and the seats' claims on different questions
write side by side; writers of one lane (a session's seats, one question's claims) queue; a
transaction of no lane (a migration, a lease) still writes alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qasession.store import Store

pytestmark = pytest.mark.usefixtures("pg_url")


@pytest.fixture
def stores(pg_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("QA_DATABASE_URL", pg_url)
    opened = [Store.open(home) for _ in range(2)]
    opened[0].ensure_session("t", "#AskAcme", "local")
    yield opened
    for store in opened:
        store.close()


def held(store: Store, lanes: tuple[str, ...], release: threading.Event) -> threading.Thread:
    """A transaction of `lanes` on `store`, open until `release` is set."""
    entered = threading.Event()

    def hold() -> None:
        with store.transaction(*lanes):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert entered.wait(10)
    return thread


def finishes(action: Callable[[], Any], within: float) -> tuple[bool, threading.Thread]:
    done = threading.Event()
    thread = threading.Thread(target=lambda: (action(), done.set()), daemon=True)
    thread.start()
    return done.wait(within), thread


@pytest.mark.parametrize(
    ("holding", "acting", "side_by_side"),
    [
        ("ingest", "claim", True),  # the loop stores a page; a seat claims meanwhile
        ("question 1", "claim other", True),  # claims on two questions at once
        ("question 1", "claim", False),  # two claims on one question: one after the other
        ("session", "command", False),  # a session's commands keep their order
        ("none", "claim", False),  # a transaction of no lane writes alone
    ],
)
def test_lanes(stores: list[Store], holding: str, acting: str, side_by_side: bool) -> None:
    first, second = stores
    lanes = {
        "ingest": (first.ingest_lane("t"),),
        "question 1": (first.question_lane("t", "1"),),
        "session": (first.session_lane("t"),),
        "none": (),
    }[holding]
    actions = {
        "claim": lambda: second.claim("t", "local", "1", 1, "sam"),
        "claim other": lambda: second.claim("t", "local", "2", 2, "kim"),
        "command": lambda: second.add_command("t", "skip", {"number": 1}, actor="sam"),
    }
    release = threading.Event()
    holder = held(first, lanes, release)
    began = time.monotonic()
    finished, actor = finishes(actions[acting], within=0.5 if not side_by_side else 5.0)
    try:
        assert finished == side_by_side, f"{acting} while {holding} is held"
        if side_by_side:
            assert time.monotonic() - began < 2.0
    finally:
        release.set()
        holder.join(10)
        actor.join(10)
    assert not actor.is_alive(), "a queued writer goes on once the other commits"
