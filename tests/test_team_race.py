"""Three seats claiming and answering the same questions at once, each with a connection of
its own, on SQLite and on PostgreSQL: every question is claimed by one seat, answered once,
by its claimer; the others are told who holds it."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from qasession.errors import UsageError
from qasession.session.control import AnswerRequest, Control
from qasession.store import Store
from tests.test_live import T0, World
from tests.test_team import TEAM

pytestmark = pytest.mark.usefixtures("engine")
SEATS = ("ana", "sam", "kim")


def test_three_seats_claiming_the_same_questions_at_once(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home, team=TEAM)
    ids = [w.say(f"@user{i}", f"Question {i} about billing? #AskAcme", at=T0) for i in range(10)]
    w.run_until(T0 + timedelta(minutes=1))
    numbers = [w.store.post_row("t", i)["number"] for i in ids]  # type: ignore[index]
    start = threading.Barrier(len(SEATS))
    claimed: dict[str, list[int]] = {}
    told: dict[str, dict[int, str]] = {}
    failures: list[BaseException] = []

    def seat(name: str) -> None:
        try:
            store = Store.open(home)
            control = Control(w.session, store, actor=name)
            mine, others = [], {}
            start.wait()
            for number in numbers:  # each claims every question, then answers what it got
                try:
                    control.claim(number)
                    mine.append(number)
                except UsageError as exc:
                    others[number] = exc.message
            for number in mine:
                control.answer(number, AnswerRequest(f"{name} on {number}."))
            claimed[name], told[name] = mine, others
            store.close()
        except BaseException as exc:  # noqa: BLE001 - reported below, with the seat's name
            failures.append(exc)

    threads = [threading.Thread(target=seat, args=(name,)) for name in SEATS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    owners = {n: [name for name in SEATS if n in claimed[name]] for n in numbers}
    assert all(len(who) == 1 for who in owners.values()), f"claimed twice: {owners}"
    for name in SEATS:  # a refused seat was told who holds the question, or that it is done
        for number, message in told[name].items():
            assert (
                f"claimed by {owners[number][0]}" in message
                or f"question {number} is answering; nothing to claim" in message
            ), message
    log = w.store.audit_log("t")
    claims = sorted(r["question"] for r in log if r["action"] == "claim")
    assert claims == sorted(numbers), "one claim per question in the audit log"
    w.run_until(T0 + timedelta(minutes=3))
    posted = [p.text for p in w.mine() if p.text.startswith(".@")]
    assert len(posted) == len(numbers) == len(set(posted)), "each answered once"
    for number, (who,) in owners.items():
        assert sum(f"{who} on {number}." in text for text in posted) == 1
