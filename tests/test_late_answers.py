"""Answering after the session: `qa answer` posts at once when the session is over and no run
is active (exactly once, whatever a crash interrupts), hands the answer to a running loop
otherwise, and the recap counts and lists the late answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qasession.clock import ManualClock
from qasession.plan import load_plan
from qasession.platforms.local import LocalNetwork, LocalPlatform
from qasession.recap import build_recap
from qasession.session.loop import LiveSession, LiveSettings
from qasession.store import Store
from tests.conftest import write_plan

ANSWER = "Yes, next month."


class Ended:
    """A session that ran on the local platform and ended a while ago (real time), with
    three open questions: a plain one, one with a phone number, one more."""

    def __init__(self, tmp_path: Path, home: Path, ago: timedelta = timedelta(hours=3)) -> None:
        self.home = home
        self.start = (datetime.now(UTC) - ago).replace(second=0, microsecond=0)
        self.plan_path = write_plan(
            tmp_path / "sessions.yaml", start=self.start.strftime("%Y-%m-%d %H:%M")
        )
        self.session = load_plan(self.plan_path).get("t")
        self.network = LocalNetwork(home)
        self.store = Store.open(home)
        at = self.start + timedelta(minutes=5)
        self.network.add(author="@alice", text="Is offline mode coming? #AskAcme", created_at=at)
        self.network.add(
            author="@bob", text="Call me on +33 6 12 34 56 78 about billing? #AskAcme", created_at=at
        )
        self.network.add(author="@carol", text="Any EU data centre? #AskAcme", created_at=at)

    def run(self, until: timedelta | None = None) -> LiveSession:
        """The live loop over a manual clock from before the start (to the end, or `until`
        after the start)."""
        clock = ManualClock(self.start - timedelta(minutes=10))
        platform = LocalPlatform({}, home=self.home, clock=clock, account="@acme")
        live = LiveSession(
            self.session,
            self.store,
            platform,
            clock,
            settings=LiveSettings(seed=3, tail=timedelta(minutes=5)),
        )
        for _ in range(100_000):
            if live.ended or (until is not None and clock.now() >= self.start + until):
                break
            clock.advance(max(live.tick(), 0.5))
        return live

    def mine(self) -> list[Any]:
        return [p for p in self.network.timeline() if p.author == "@acme"]

    def number_of(self, author: str) -> int:
        rows = self.store.posts("t", where="is_question = 1 AND author = ?", params=(author,))
        return int(rows[0]["number"])


@pytest.fixture
def ended(tmp_path: Path, home: Path) -> Ended:
    world = Ended(tmp_path, home)
    assert world.run().ended
    return world


def test_an_answer_after_the_end_is_posted_at_once_and_counted_late(
    ended: Ended, cli: Any
) -> None:
    before = len(ended.mine())
    number = ended.number_of("@alice")
    result = cli("-f", str(ended.plan_path), "answer", str(number), ANSWER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(number)
    assert "posted" in result.stderr and "after the session" in result.stderr
    new = ended.mine()[before:]
    assert [p.kind for p in new] == ["repost", "post"]
    assert new[1].text.startswith(".@alice") and ANSWER in new[1].text and "#AskAcme" in new[1].text
    assert ended.store.question_row("t", number)["status"] == "answered"
    assert ended.store.lease("t") is None  # the lease taken to send is given back

    again = cli("-f", str(ended.plan_path), "answer", str(number), "Once more")
    assert again.returncode == 2 and "already answered" in again.stderr
    assert len(ended.mine()) == before + 2

    recap = build_recap(ended.store, ended.session, plan=load_plan(ended.plan_path))
    assert recap.questions.answered == 1 and recap.questions.late == 1
    assert [m.label for m in recap.marks if m.kind == "answer" and m.late] == ["answer 1"]
    assert [(a.number, a.author) for a in recap.late_answers] == [(number, "@alice")]


@pytest.mark.parametrize("point", ["before-send:1", "after-send:1", "after-send:2"])
def test_a_crash_while_posting_late_is_finished_by_the_same_command_never_doubled(
    ended: Ended, cli: Any, point: str
) -> None:
    before = len(ended.mine())
    number = ended.number_of("@alice")
    args = ("-f", str(ended.plan_path), "answer", str(number), ANSWER)
    crashed = cli(*args, env={"QA_CRASH_AT": point})
    assert crashed.returncode != 0  # killed
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert "had an answer accepted" in again.stderr
    new = ended.mine()[before:]
    assert [p.kind for p in new] == ["repost", "post"], [p.text for p in new]
    assert ended.store.question_row("t", number)["status"] == "answered"
    third = cli(*args)
    assert third.returncode == 2 and len(ended.mine()) == before + 2


def test_while_a_run_is_active_the_answer_is_left_to_it(ended: Ended, cli: Any) -> None:
    from qasession.session.lease import SessionLease

    lease = SessionLease("t", actor="the other run")
    lease.acquire(ended.store)  # a live run after the end (its tail, or a restart)
    before = len(ended.mine())
    number = ended.number_of("@carol")
    result = cli("-f", str(ended.plan_path), "answer", str(number), ANSWER)
    assert result.returncode == 0, result.stderr
    assert "`qa run` posts it" in result.stderr
    assert len(ended.mine()) == before
    assert ended.store.question_row("t", number)["status"] == "answering"
    lease.release(ended.store)


def test_during_the_session_without_a_run_the_answer_waits(
    tmp_path: Path, home: Path, cli: Any
) -> None:
    world = Ended(tmp_path, home, ago=timedelta(minutes=20))  # the session is on
    world.run(until=timedelta(minutes=10))  # a run that stopped
    before = len(world.mine())
    result = cli("-f", str(world.plan_path), "answer", str(world.number_of("@alice")), ANSWER)
    assert result.returncode == 0, result.stderr
    assert "`qa run` posts it" in result.stderr
    assert len(world.mine()) == before


def test_a_private_question_answered_late_never_shows_its_data(ended: Ended, cli: Any) -> None:
    number = ended.number_of("@bob")
    result = cli(
        "-f", str(ended.plan_path), "answer", str(number), "We will call you.",
        "--answer-publicly-without-repost",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    posted = ended.mine()[-1]
    assert "12 34 56" not in posted.text and "We will call you." in posted.text
    assert not [p for p in ended.mine() if p.kind == "repost"]
    recap = build_recap(ended.store, ended.session, plan=load_plan(ended.plan_path))
    assert recap.questions.late == 1
    assert all("12 34 56" not in d.text for d in recap.drafts)
