"""The recap's wording and its time-to-answer figures: every count agrees with its noun in the
drafts (thank-you, follow-up, late, invitations, teaser) and in the terminal, Markdown and HTML
recaps, for one and for several; answers sent after the end stay out of the live figures
(median, p90) and are shown apart."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from qasession.cli.recap_terminal import show
from qasession.plan import load_plan
from qasession.recap import (
    Contributor,
    NextSession,
    Recap,
    RecapBuilder,
    SessionInfo,
    build_recap,
    make_drafts,
)
from qasession.recap.parts import LateAnswer
from qasession.recap.render import to_html, to_markdown
from qasession.store import OutboxItem, Store
from tests.test_recap import PLAN, START, at, fill_store

LATE_MINUTES = 240  # the late answer goes out three hours after the 60-minute window


def terminal(recap: Recap) -> str:
    out = io.StringIO()
    show(recap, Console(file=out, width=120, color_system=None))
    return out.getvalue()


def stub(
    contributors: Sequence[tuple[str, int]] = (),
    *,
    open_questions: int = 0,
    late: int = 0,
    with_next: bool = False,
) -> Recap:
    r = RecapBuilder(SessionInfo("t", "#AskAcme", "local", START, at(60))).finish()
    r.top_contributors.by_questions = [Contributor(h, n, n, 0) for h, n in contributors]
    r.questions.open = open_questions
    r.late_answers = [
        LateAnswer(i, f"q{i}", f"@late{i}", f"Late question {i}?", at(90).isoformat())
        for i in range(1, late + 1)
    ]
    if with_next:
        r.meta.next = NextSession("t2", "part two", "#AskAcme2", "", "UTC", "Thursday 7 January")
    return r


def drafts(recap: Recap, kind: str) -> list[str]:
    return [d.text for d in make_drafts(recap, max_length=500, length=len) if d.kind == kind]


# --------------------------------------------------------------------------------------------
# Drafts: one and several


def test_follow_up_for_one_open_question_and_for_several() -> None:
    (one,) = drafts(stub(open_questions=1), "followup")
    assert one.startswith("We couldn't answer one of your questions live:")
    assert "1 of your question " not in one
    (three,) = drafts(stub(open_questions=3), "followup")
    assert three.startswith("We couldn't answer 3 of your questions live:")
    assert drafts(stub(), "followup") == []


def test_short_follow_up_agrees_too() -> None:
    # the long wording does not fit 80 characters: the short one is used
    def short(n: int) -> str:
        made = make_drafts(stub(open_questions=n), max_length=80, length=len)
        (text,) = [d.text for d in made if d.kind == "followup"]
        return text

    assert short(1).startswith("1 question is still open:")
    assert short(4).startswith("4 questions are still open:")


def test_thanks_to_one_who_asked_one_question_and_to_several() -> None:
    (one,) = drafts(stub([("@alice", 1)]), "thanks")
    assert one == "Thank you for your question @alice! #AskAcme"
    (two_of_hers,) = drafts(stub([("@alice", 2)]), "thanks")
    assert two_of_hers.startswith("Thank you for your questions @alice!")
    (both,) = drafts(stub([("@alice", 1), ("@bob", 1)]), "thanks")
    assert both.startswith("Thank you for your questions @alice @bob!")


def test_invitation_to_one_and_to_several() -> None:
    (one,) = drafts(stub([("@alice", 1)], with_next=True), "invite")
    assert one.startswith("You asked a great question at #AskAcme, @alice: join us")
    (both,) = drafts(stub([("@alice", 1), ("@bob", 3)], with_next=True), "invite")
    assert both.startswith("You asked great questions at #AskAcme, @alice @bob: join us")


@pytest.mark.parametrize("count", [1, 3])
def test_late_follow_up_lists_each_late_answer(count: int) -> None:
    (text,) = drafts(stub(late=count), "late")
    lines = text.splitlines()
    assert lines[0] == "Answered after the session, for those who missed it:"
    assert lines[1:-1] == [f"- @late{i}: Late question {i}?" for i in range(1, count + 1)]
    assert lines[-1] == "#AskAcme"


def test_teaser_has_no_count_to_disagree() -> None:
    (text,) = drafts(stub(with_next=True), "teaser")
    assert text == (
        "Next session part two: Thursday 7 January (UTC). Send your questions with #AskAcme2!"
        " #AskAcme"
    )


# --------------------------------------------------------------------------------------------
# Recap wording: one and several


def test_recap_wording_for_one_post_and_one_answer() -> None:
    r = stub()
    r.activity.during_posts = 1
    r.time_to_answer.count = 1
    r.moderation.flagged_sensitive = 1
    page = to_html(r)
    assert "1 post during the session" in page and "1 posts" not in page
    assert "1 answer during the session" in page and "1 answers" not in page
    assert "1 post flagged as private data" in page
    assert "(1 answer live)" in terminal(r)
    r.activity.during_posts = r.time_to_answer.count = 2
    page = to_html(r)
    assert "2 posts during the session" in page and "2 answers during the session" in page
    assert "(2 answers live)" in terminal(r)


# --------------------------------------------------------------------------------------------
# Late answers stay out of the live figures


@pytest.fixture
def late_world(tmp_path: Path, home: Path) -> Recap:
    """test_recap's session (two answers live: 11 and 19 minutes) and @ivan's question, asked
    at minute 30, answered three hours after the end."""
    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(plan_path)
    store = Store.open(home)
    fill_store(store)
    item = OutboxItem(
        key="t:answer:3:0:answer",
        op="t:answer:3",
        seq=0,
        kind="answer",
        text=".@ivan Yes. #AskAcme",
        question_id="q8",
    )
    (stored,) = store.add_intents("t", [item])
    store.mark_sent(stored.id, "A3", at(LATE_MINUTES))
    return build_recap(store, plan.get("t"), plan=plan, now=at(LATE_MINUTES + 5))


def test_a_late_answer_does_not_skew_the_live_figures(late_world: Recap) -> None:
    t = late_world.time_to_answer
    assert late_world.questions.answered == 3 and late_world.questions.late == 1
    # the live figures are test_recap's, untouched by the answer 210 minutes late
    assert (t.count, t.median_s, t.p90_s, t.min_s, t.max_s) == (2, 900.0, 1140.0, 660.0, 1140.0)
    assert t.values_s == [660.0, 1140.0]
    assert (t.late_count, t.late_values_s) == (1, [(LATE_MINUTES - 30) * 60.0])
    data: dict[str, Any] = late_world.to_json()["time_to_answer"]
    assert data["late_count"] == 1 and data["late_values_s"] == [12600.0]
    assert data["median_s"] == 900.0


def test_the_late_answers_are_shown_apart(late_world: Recap) -> None:
    text = terminal(late_world)
    assert "median 15 min, p90 19 min (2 answers live); 1 answered after the end" in text
    md = to_markdown(late_world)
    assert "in a median of 15 min, and 1 question after the end." in md
    assert "90% within 19 min; 1 answered after the end" in md
    page = to_html(late_world)
    assert "<b>1</b><span>answered after the end (not in the times above)</span>" in page
    assert '<p class="meta" id="late">1 answered after the end (in orange)' in page
    assert "2 answers during the session; median 15 min" in page


@pytest.mark.parametrize(
    ("received", "answered", "says"),
    [
        (0, 0, "asked 0 questions."),
        (1, 0, "asked 1 question. It was not answered live."),
        (3, 0, "asked 3 questions. None was answered live."),
        (1, 1, "asked 1 question. We answered it live."),
        (3, 2, "asked 3 questions. We answered 2 of them live."),
    ],
)
def test_the_markdown_intro_says_what_was_answered_live(
    received: int, answered: int, says: str
) -> None:
    r = stub()
    r.questions.received = received
    r.questions.answered = answered
    assert says in to_markdown(r)
