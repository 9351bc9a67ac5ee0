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
NEXT = """\
- id: t2
  title: Acme Q&A, part two
  account: "@acme"
  hashtag: "#AskAcme2"
  timezone: UTC
  start: {start} 17:00
  duration: 60m
"""


class Ended:
    """A session that ran on the local platform and ended a while ago (real time), with
    three open questions: a plain one, one with a phone number, one more."""

    def __init__(
        self, tmp_path: Path, home: Path, ago: timedelta = timedelta(hours=3), **plan: Any
    ) -> None:
        self.home = home
        self.start = (datetime.now(UTC) - ago).replace(second=0, microsecond=0)
        self.plan_path = write_plan(
            tmp_path / "sessions.yaml",
            start=self.start.strftime("%Y-%m-%d %H:%M"),
            next="t2",
            **plan,
        )
        with self.plan_path.open("a", encoding="utf-8") as plan:  # the series' next session
            plan.write(NEXT.format(start=(self.start + timedelta(days=30)).strftime("%Y-%m-%d")))
        self.session = load_plan(self.plan_path).get("t")
        self.network = LocalNetwork(home)
        self.store = Store.open(home)
        at = self.start + timedelta(minutes=5)
        self.network.add(author="@alice", text="Is offline mode coming? #AskAcme", created_at=at)
        self.network.add(
            author="@bob",
            text="Call me on +33 6 12 34 56 78 about billing? #AskAcme",
            created_at=at,
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
def ended(tmp_path: Path, home: Path, engine: str) -> Ended:
    """On the home's SQLite store and on PostgreSQL (the CLI follows QA_DATABASE_URL)."""
    world = Ended(tmp_path, home)
    assert world.run().ended
    return world


def test_an_answer_after_the_end_is_posted_at_once_and_counted_late(ended: Ended, cli: Any) -> None:
    before = len(ended.mine())
    number = ended.number_of("@alice")
    result = cli("-f", str(ended.plan_path), "answer", "-s", "t", str(number), ANSWER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(number)
    assert "posted" in result.stderr and "after the session" in result.stderr
    new = ended.mine()[before:]
    assert [p.kind for p in new] == ["repost", "post"]
    assert new[1].text.startswith(".@alice") and ANSWER in new[1].text and "#AskAcme" in new[1].text
    assert ended.store.question_row("t", number)["status"] == "answered"
    assert ended.store.lease("t") is None  # the lease taken to send is given back

    again = cli("-f", str(ended.plan_path), "answer", "-s", "t", str(number), "Once more")
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
    args = ("-f", str(ended.plan_path), "answer", "-s", "t", str(number), ANSWER)
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
    result = cli("-f", str(ended.plan_path), "answer", "-s", "t", str(number), ANSWER)
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
    result = cli(
        "-f", str(world.plan_path), "answer", "-s", "t", str(world.number_of("@alice")), ANSWER
    )
    assert result.returncode == 0, result.stderr
    assert "`qa run` posts it" in result.stderr
    assert len(world.mine()) == before


def test_a_private_question_answered_late_never_shows_its_data(ended: Ended, cli: Any) -> None:
    number = ended.number_of("@bob")
    result = cli(
        "-f", str(ended.plan_path), "answer", "-s", "t", str(number), "We will call you.",
        "--answer-publicly-without-repost",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    posted = ended.mine()[-1]
    assert "12 34 56" not in posted.text and "We will call you." in posted.text
    assert not [p for p in ended.mine() if p.kind == "repost"]
    recap = build_recap(ended.store, ended.session, plan=load_plan(ended.plan_path))
    assert recap.questions.late == 1
    assert all("12 34 56" not in d.text for d in recap.drafts)


def drafts_of(ended: Ended) -> list[Any]:
    return build_recap(ended.store, ended.session, plan=load_plan(ended.plan_path)).drafts


def post_drafts(ended: Ended, cli: Any, env: dict[str, str] | None = None) -> Any:
    return cli("-f", str(ended.plan_path), "recap", "t", "--post-drafts", "--yes", env=env)


def test_a_follow_up_lists_the_late_answers_once(ended: Ended, cli: Any) -> None:
    alice, carol = ended.number_of("@alice"), ended.number_of("@carol")
    assert cli("-f", str(ended.plan_path), "answer", "-s", "t", str(alice), ANSWER).returncode == 0
    late = [d for d in drafts_of(ended) if d.kind == "late"]
    assert [d.key for d in late] == [f"t:draft:late:{alice}"]
    assert late[0].text.splitlines() == [
        "Answered after the session, for those who missed it:",
        "- @alice: Is offline mode coming?",
        "#AskAcme",
    ]
    first = post_drafts(ended, cli)
    assert first.returncode == 0, first.stderr
    assert sum(1 for p in ended.mine() if p.text == late[0].text) == 1

    # a later answer: the next follow-up lists only it; what was posted is never posted again
    assert cli("-f", str(ended.plan_path), "answer", "-s", "t", str(carol), ANSWER).returncode == 0
    late = [d for d in drafts_of(ended) if d.kind == "late"]
    assert [d.key for d in late] == [f"t:draft:late:{carol}"] and "@carol" in late[0].text
    before = len(ended.mine())
    second = post_drafts(ended, cli)
    assert second.returncode == 0, second.stderr
    assert [p.text for p in ended.mine()[before:]] == [late[0].text]
    assert len(post_drafts(ended, cli).stdout) and len(ended.mine()) == before + 1
    recap = build_recap(ended.store, ended.session, plan=load_plan(ended.plan_path))
    assert recap.questions.late == 2 and all(a.listed for a in recap.late_answers)


def test_the_late_follow_up_names_a_private_asker_only_and_skips_direct_messages(
    ended: Ended, cli: Any
) -> None:
    bob, carol = ended.number_of("@bob"), ended.number_of("@carol")
    public = cli(
        "-f", str(ended.plan_path), "answer", "-s", "t", str(bob), "We will call you.",
        "--answer-publicly-without-repost",
    )  # fmt: skip
    assert public.returncode == 0, public.stderr
    dm = cli(
        "-f",
        str(ended.plan_path),
        "answer",
        "-s",
        "t",
        str(carol),
        "Yes, in Frankfurt.",
        "--mode",
        "dm",
    )
    assert dm.returncode == 0, dm.stderr
    late = [d for d in drafts_of(ended) if d.kind == "late"]
    assert [d.text.splitlines()[1] for d in late] == ["- @bob"]
    assert all("12 34" not in d.text and "Frankfurt" not in d.text for d in drafts_of(ended))


def test_invitations_to_the_next_session_once_never_the_host_nor_the_blocked(
    ended: Ended, cli: Any
) -> None:
    blocked = cli("-f", str(ended.plan_path), "block", "@carol", "-s", "t")
    assert blocked.returncode == 0, blocked.stderr
    invites = [d for d in drafts_of(ended) if d.kind == "invite"]
    assert len(invites) == 1
    text = invites[0].text
    assert (
        "@alice" in text and "@bob" in text and "#AskAcme2" in text and "Acme Q&A, part two" in text
    )
    assert "@carol" not in text and "@acme" not in text and not text.startswith("@")
    assert invites[0].key == "t:draft:invite:alice+bob"
    assert post_drafts(ended, cli).returncode == 0
    assert post_drafts(ended, cli).returncode == 0
    assert sum(1 for p in ended.mine() if p.text == text) == 1
    assert not [d for d in drafts_of(ended) if d.kind == "invite"]  # everyone is invited


@pytest.mark.parametrize("point", ["before-send:2", "after-send:2"])
def test_drafts_posted_exactly_once_across_a_crash(ended: Ended, cli: Any, point: str) -> None:
    assert cli(
        "-f", str(ended.plan_path), "answer", "-s", "t", str(ended.number_of("@alice")), ANSWER
    )
    drafts = drafts_of(ended)
    assert {"late", "invite"} <= {d.kind for d in drafts}
    before = len(ended.mine())
    assert post_drafts(ended, cli, env={"QA_CRASH_AT": point}).returncode != 0
    again = post_drafts(ended, cli)
    assert again.returncode == 0, again.stderr
    assert sorted(p.text for p in ended.mine()[before:]) == sorted(d.text for d in drafts)


def test_late_and_invitation_texts_fit_the_platform() -> None:
    from qasession.compose import invitation_texts, late_texts

    items = [(i, f"@asker{i}", f"Question {i}: " + "word " * 40 + "#AskAcme") for i in range(6)]
    posts = late_texts(items, "#AskAcme", 120, len)
    assert len(posts) > 1 and all(len(text) <= 120 for _, text in posts)
    assert [n for numbers, _ in posts for n in numbers] == list(range(6))
    assert all(text.endswith("#AskAcme") and "…" in text for _, text in posts)
    handles = [f"@person{i}" for i in range(12)]
    wordings = ["join us for the long-named next session on Thursday!", "join us!"]
    invites = invitation_texts(handles, "#AskAcme", wordings, 100, len)
    assert all(len(text) <= 100 and len(group) <= 5 for group, text in invites)
    assert [h for group, _ in invites for h in group] == handles


def test_an_answer_approved_after_the_end_is_posted_at_once(
    tmp_path: Path, home: Path, cli: Any
) -> None:
    world = Ended(tmp_path, home, answers={"approval": True})
    assert world.run().ended
    before = len(world.mine())
    number = world.number_of("@alice")
    drafted = cli("-f", str(world.plan_path), "answer", "-s", "t", str(number), ANSWER)
    assert drafted.returncode == 0 and "waits for approval" in drafted.stderr
    assert len(world.mine()) == before
    draft_id = world.store.drafts("t", ("pending",))[0].id
    approved = cli("-f", str(world.plan_path), "approve", "-s", "t", str(draft_id))
    assert approved.returncode == 0, approved.stderr
    assert "after the session" in approved.stderr
    assert [p.kind for p in world.mine()[before:]] == ["repost", "post"]
    assert world.store.question_row("t", number)["status"] == "answered"


def test_where_sent_posts_cannot_be_looked_up_a_half_sent_step_waits_for_the_operator(
    ended: Ended,
) -> None:
    from dataclasses import replace

    from qasession.session import late
    from qasession.session.control import AnswerRequest, Control

    number = ended.number_of("@alice")
    accepted = Control(ended.session, ended.store).answer(number, AnswerRequest(ANSWER))
    repost = ended.store.outbox_item(accepted.steps[0].key)
    assert repost is not None and ended.store.mark_sending(repost.id)  # a crash around the call
    blind = LocalPlatform({}, home=ended.home, account="@acme")
    blind.capabilities = replace(LocalPlatform.CAPABILITIES, can_lookup_sent=False)
    posted = late.send_now(
        ended.session,
        ended.store,
        [step.key for step in accepted.steps],
        lambda lane: blind,
        open_store=lambda: Store.open(ended.home),
    )
    assert posted is not None
    assert posted.unsettled == [repost.key] and posted.sent == []  # never resent on a guess
    assert posted.left == [accepted.steps[1].key]  # the answer waits for its repost
    assert not [p for p in ended.mine() if p.kind == "repost"]


def test_resume_sends_only_what_an_earlier_answer_left_and_nothing_once_it_is_out(
    ended: Ended,
) -> None:
    from qasession.session import late
    from qasession.session.control import AnswerRequest, Control

    control = Control(ended.session, ended.store)
    number = ended.number_of("@alice")
    asked: list[list[str]] = []

    def send(keys: list[str]) -> late.Posted | None:
        asked.append(keys)
        return late.send_answer(ended.session, ended.store, keys, ended.home, str(ended.plan_path))

    assert late.resume(control, number, send) is None  # nothing accepted yet: nothing to resume
    assert asked == []
    accepted = control.answer(number, AnswerRequest(ANSWER))
    other = ended.number_of("@carol")
    control.answer(other, AnswerRequest("Not yet."))  # another question's steps stay put
    before = len(ended.mine())

    resumed = late.resume(control, number, send)
    assert resumed is not None
    assert sorted(asked[0]) == sorted(step.key for step in accepted.steps)
    first = ended.store.outbox_item(accepted.steps[0].key)
    assert first is not None and resumed.accepted_at == first.created_at
    assert [item.kind for item in resumed.posted.sent] == ["repost", "answer"]
    assert not resumed.posted.left and not resumed.posted.unsettled
    assert len(ended.mine()) == before + 2
    assert late.unfinished(ended.store, "t", other)  # carol's answer was not sent
    assert late.resume(control, number, send) is None and len(asked) == 1  # all out


def test_resume_leaves_the_answer_to_an_active_run(ended: Ended) -> None:
    from qasession.session import late
    from qasession.session.control import AnswerRequest, Control

    control = Control(ended.session, ended.store)
    number = ended.number_of("@alice")
    control.answer(number, AnswerRequest(ANSWER))
    assert late.resume(control, number, lambda keys: None) is None  # `send` found a run
    assert late.unfinished(ended.store, "t", number)


def test_resume_checks_the_role_before_sending(tmp_path: Path, home: Path) -> None:
    from qasession.session import late
    from qasession.session.control import Control
    from qasession.session.team import NotAllowed

    world = Ended(
        tmp_path, home, team=[{"name": "ana", "role": "host"}, {"name": "lee", "role": "approver"}]
    )
    sent: list[list[str]] = []
    with pytest.raises(NotAllowed):
        late.resume(Control(world.session, world.store, actor="lee"), 1, lambda k: sent.append(k))
    assert sent == []


def test_check_sent_names_what_the_operator_settles_before_what_a_rerun_sends() -> None:
    from qasession.errors import ExitCode, PlatformError
    from qasession.session import late

    late.check_sent(late.Posted(), 4)  # all out: no error
    with pytest.raises(PlatformError) as left:
        late.check_sent(late.Posted(left=["k2", "k3"]), 4)
    assert left.value.message == "question 4: 2 step(s) of the answer not sent yet (k2, k3)"
    assert "again" in (left.value.hint or "")
    with pytest.raises(PlatformError) as unsettled:
        late.check_sent(late.Posted(left=["k2"], unsettled=["k1"]), 4)
    assert unsettled.value.message == "question 4: k1 failed or may have been sent"
    assert "qa outbox confirm KEY" in (unsettled.value.hint or "")
    assert unsettled.value.exit_code == ExitCode.PLATFORM
