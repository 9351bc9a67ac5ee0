"""Team mode: the plan's team and its roles, claims, approval of drafts, the audit log — each
test on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from qasession.errors import UsageError
from qasession.session.control import AnswerRequest, Control
from qasession.session.team import NotAllowed
from qasession.store import Store
from tests.test_live import T0, World

pytestmark = pytest.mark.usefixtures("engine")
TEAM = [
    {"name": "ana", "role": "host"},
    {"name": "sam", "role": "moderator"},
    {"name": "kim", "role": "moderator"},
    {"name": "lee", "role": ["approver"]},
]


def run_qa(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """`qa ARGS` in this process, through the real entry point's error boundary."""
    from qasession.cli import main

    monkeypatch.setattr(sys, "argv", ["qa", *args])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    code = info.value.code
    return (int(code) if isinstance(code, int) else 1), captured.out, captured.err


def team_world(tmp_path: Path, home: Path, **plan: Any) -> tuple[World, list[int]]:
    """A session run by TEAM with three questions in its queue; their numbers."""
    w = World(tmp_path, home, team=TEAM, **plan)
    ids = [
        w.say("@alice", "How do I export my data? #AskAcme", at=T0),
        w.say("@bob", "Is there an API for reports? #AskAcme", at=T0),
        w.say("@carol", "When does the mobile app ship? #AskAcme", at=T0),
    ]
    w.run_until(T0 + timedelta(minutes=1))
    return w, [w.store.post_row("t", i)["number"] for i in ids]  # type: ignore[index]


def test_the_plan_lists_the_team_and_refuses_a_name_twice(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home, team=TEAM)
    assert [(m.name, m.role) for m in w.session.team][-1] == ("lee", ["approver"])
    from qasession.errors import PlanError
    from qasession.plan import load_plan
    from tests.conftest import write_plan

    bad = write_plan(tmp_path / "bad.yaml", team=[*TEAM, {"name": "Sam", "role": "host"}])
    with pytest.raises(PlanError, match="listed twice"):
        load_plan(bad)
    wrong = write_plan(tmp_path / "wrong.yaml", team=[{"name": "ana", "role": "boss"}])
    with pytest.raises(PlanError, match="team"):
        load_plan(wrong)


def test_roles_decide_who_may_do_what(tmp_path: Path, home: Path) -> None:
    w, (q1, q2, _) = team_world(tmp_path, home)
    with pytest.raises(NotAllowed, match="not on the team"):
        Control(w.session, w.store, actor="mallory").skip(q1)
    with pytest.raises(NotAllowed, match=r"lee \(approver\) may not answer.*ana, sam, kim"):
        Control(w.session, w.store, actor="lee").answer(q1, AnswerRequest("Yes."))
    with pytest.raises(NotAllowed, match="may not close"):
        Control(w.session, w.store, actor="sam").close()
    Control(w.session, w.store, actor="SAM").skip(q2)  # names match whatever their case
    assert w.store.post_row("t", w.store.question_row("t", q2)["id"])["status"] == "skipped"  # type: ignore[index]


def test_no_team_means_one_host_who_may_do_everything(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home)
    q = w.say("@alice", "How do I export my data? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(minutes=1))
    number = w.store.post_row("t", q)["number"]  # type: ignore[index]
    control = Control(w.session, w.store, actor="whoever")
    control.claim(number)
    accepted = control.answer(number, AnswerRequest("Settings > Export."))
    assert accepted.draft_id is None and w.store.outbox("t", ["intent"])


def test_a_claim_holds_until_taken_over_or_idle(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w, (q1, q2, _) = team_world(tmp_path, home)
    plan = str(tmp_path / "p.yaml")
    code, _, err = run_qa(monkeypatch, capsys, "claim", str(q1), "--as", "sam", "-f", plan)
    assert code == 0 and "claimed by sam" in err
    code, out, _ = run_qa(monkeypatch, capsys, "queue", "--json", "-f", plan)
    claimed = {row["id"]: row["claimed_by"] for row in json.loads(out)}
    assert claimed == {q1: "sam", q2: None, q2 + 1: None}, "every seat sees who holds what"
    code, _, err = run_qa(
        monkeypatch, capsys, "answer", str(q1), "Mine.", "--as", "kim", "-f", plan
    )
    assert code == 2 and f"question {q1} is claimed by sam" in err and "--take-over" in err
    assert "Traceback" not in err
    code, _, err = run_qa(monkeypatch, capsys, "claim", str(q1), "--as", "kim", "-f", plan)
    assert code == 2 and "claimed by sam" in err
    code, _, err = run_qa(
        monkeypatch, capsys, "answer", str(q1), "Mine.", "--as", "kim", "--take-over", "-f", plan
    )
    assert code == 0 and "took question" in err and "from sam" in err
    log = w.store.audit_log("t")
    assert [(e["actor"], e["action"]) for e in log if e["question"] == q1] == [
        ("sam", "claim"),
        ("kim", "take_over"),
        ("kim", "answer"),
    ]
    assert next(e for e in log if e["action"] == "take_over")["from"] == "sam"
    # an idle claim lapses: nobody needs to take it over
    Control(w.session, w.store, actor="sam").claim(q2)
    with w.store.transaction() as db:
        old = w.store.database_now() - timedelta(minutes=10)
        db.execute("UPDATE claims SET touched_at = ?", (old.isoformat(),))
    assert w.store.live_claims("t") == {}
    Control(w.session, w.store, actor="kim").answer(q2, AnswerRequest("Yes, v2."))
    w.run_until(T0 + timedelta(minutes=2))
    texts = sorted(p.text for p in w.mine() if p.text.startswith(".@"))
    assert texts == [".@alice Mine. #AskAcme", ".@bob Yes, v2. #AskAcme"]


def test_approval_end_to_end(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w, (q1, q2, _) = team_world(tmp_path, home, answers={"approval": True})
    plan = str(tmp_path / "p.yaml")
    code, _, err = run_qa(
        monkeypatch, capsys, "answer", str(q1), "Settings > Export.", "--as", "sam", "-f", plan
    )
    assert code == 0 and "waits for approval" in err
    w.run_until(T0 + timedelta(minutes=2))
    assert not [p for p in w.mine() if p.text.startswith(".@")], "nothing goes out unapproved"
    assert not [i for i in w.store.outbox("t") if i.kind in ("repost", "answer")]
    code, out, _ = run_qa(monkeypatch, capsys, "queue", "--json", "-f", plan)
    assert q1 not in [row["id"] for row in json.loads(out)], "a drafted question left the queue"
    code, _, err = run_qa(
        monkeypatch, capsys, "answer", str(q1), "Me too.", "--as", "kim", "-f", plan
    )
    assert code == 2 and "draft by sam waiting for approval" in err
    code, out, _ = run_qa(monkeypatch, capsys, "drafts", "--json", "--as", "lee", "-f", plan)
    (draft,) = json.loads(out)
    assert draft["by"] == "sam" and draft["question"] == q1
    assert [s["kind"] for s in draft["preview"]] == ["repost", "answer"]
    assert draft["preview"][1]["text"] == ".@alice Settings > Export. #AskAcme"
    code, out, _ = run_qa(monkeypatch, capsys, "drafts", "--as", "lee", "-f", plan)
    assert ".@alice Settings > Export. #AskAcme" in out and "repost of" in out
    code, _, err = run_qa(
        monkeypatch, capsys, "approve", str(draft["id"]), "--as", "sam", "-f", plan
    )
    assert code == 4 and "may not approve" in err
    code, _, err = run_qa(
        monkeypatch, capsys, "approve", str(draft["id"]), "--text", "Settings, then Export.",
        "--as", "lee", "-f", plan,
    )  # fmt: skip
    assert code == 0 and "approved (edited)" in err
    code, _, err = run_qa(
        monkeypatch, capsys, "approve", str(draft["id"]), "--as", "ana", "-f", plan
    )
    assert code == 2 and "already approved by lee" in err
    w.run_until(T0 + timedelta(minutes=3))
    answers = [p.text for p in w.mine() if p.text.startswith(".@")]
    assert answers == [".@alice Settings, then Export. #AskAcme"], "posted once, as approved"
    assert len([p for p in w.mine() if p.kind == "repost"]) == 1
    # a rejection sends the question back to the queue with the reason
    Control(w.session, w.store, actor="kim").answer(q2, AnswerRequest("No idea."))
    (pending,) = w.store.drafts("t", ["pending"])
    code, _, err = run_qa(monkeypatch, capsys, "reject", str(pending.id), "--as", "lee", "-f", plan)
    assert code == 2 and "--why" in err
    code, _, err = run_qa(
        monkeypatch, capsys, "reject", str(pending.id), "--why", "Say when instead.",
        "--as", "ana", "-f", plan,
    )  # fmt: skip
    assert code == 0 and "back in the queue" in err
    assert w.store.question_row("t", q2)["status"] == "queued"  # type: ignore[index]
    (rejected,) = w.store.drafts("t", ["rejected"])
    assert rejected.reason == "Say when instead." and rejected.decided_by == "ana"
    Control(w.session, w.store, actor="kim").answer(q2, AnswerRequest("In March."))
    code, out, _ = run_qa(monkeypatch, capsys, "log", "--json", "--as", "lee", "-f", plan)
    actions = [(e["actor"], e["role"], e["action"], e["question"]) for e in json.loads(out)]
    assert actions == [
        ("sam", "moderator", "draft", q1),
        ("lee", "approver", "approve", q1),
        ("kim", "moderator", "draft", q2),
        ("ana", "host", "reject", q2),
        ("kim", "moderator", "draft", q2),
    ]
    assert all(e["at"] for e in json.loads(out))


def test_an_authors_own_draft_is_approved_by_someone_else(tmp_path: Path, home: Path) -> None:
    w, (q1, _, _) = team_world(tmp_path, home, answers={"approval": True})
    accepted = Control(w.session, w.store, actor="ana").answer(q1, AnswerRequest("Yes."))
    assert accepted.draft_id is not None
    with pytest.raises(NotAllowed, match="ana's own"):
        Control(w.session, w.store, actor="ana").approve(accepted.draft_id)
    Control(w.session, w.store, actor="lee").approve(accepted.draft_id)


def test_alone_with_approval_the_host_approves_their_own_drafts(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home, answers={"approval": True})
    q = w.say("@alice", "How do I export my data? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(minutes=1))
    number = w.store.post_row("t", q)["number"]  # type: ignore[index]
    control = Control(w.session, w.store, actor="host")
    draft_id = control.answer(number, AnswerRequest("Settings.")).draft_id
    assert draft_id is not None
    control.approve(draft_id)
    w.run_until(T0 + timedelta(minutes=2))
    assert [p.text for p in w.mine() if p.text.startswith(".@")] == [".@alice Settings. #AskAcme"]


def test_three_seats_answering_and_claiming_at_once(tmp_path: Path, home: Path) -> None:
    """Three seats, each with its own connection, race over the same questions: every
    question is answered exactly once, and a live claim is never answered over."""
    w = World(tmp_path, home, team=TEAM)
    ids = [w.say(f"@user{i}", f"Question {i} about exports? #AskAcme", at=T0) for i in range(12)]
    w.run_until(T0 + timedelta(minutes=1))
    numbers = [w.store.post_row("t", i)["number"] for i in ids]  # type: ignore[index]
    held = numbers[:3]
    Control(w.session, w.store, actor="kim").claim(held[0])
    Control(w.session, w.store, actor="kim").claim(held[1])
    Control(w.session, w.store, actor="kim").claim(held[2])
    start = threading.Barrier(3)
    results: dict[str, list[tuple[int, str]]] = {}

    def seat(name: str) -> None:
        store = Store.open(home)
        control = Control(w.session, store, actor=name)
        done: list[tuple[int, str]] = []
        start.wait()
        for number in numbers:
            try:
                control.answer(number, AnswerRequest(f"{name} answers {number}."))
                done.append((number, "answered"))
            except UsageError as exc:
                done.append((number, "claimed" if "claimed by kim" in exc.message else "taken"))
        results[name] = done
        store.close()

    seats = [threading.Thread(target=seat, args=(n,)) for n in ("ana", "sam", "kim")]
    for t in seats:
        t.start()
    for t in seats:
        t.join(60)
    answered = [n for name in results for n, what in results[name] if what == "answered"]
    assert sorted(answered) == sorted(numbers), "each question answered exactly once"
    for number in held:
        (who,) = [name for name in results if (number, "answered") in results[name]]
        assert who == "kim", "a claimed question is answered by its claimer only"
    w.run_until(T0 + timedelta(minutes=3))
    posted = [p.text for p in w.mine() if p.text.startswith(".@")]
    assert len(posted) == len(numbers) == len(set(posted))


def test_only_the_host_runs_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import write_plan

    plan = str(write_plan(tmp_path / "p.yaml", team=TEAM))
    code, _, err = run_qa(monkeypatch, capsys, "run", "--headless", "--as", "sam", "-f", plan)
    assert code == 4 and "sam (moderator) may not run the live loop" in err and "ask ana" in err
    code, _, err = run_qa(monkeypatch, capsys, "--as", "zed", "log", "-f", plan)
    assert code == 4 and "zed is not on the team" in err
    monkeypatch.setenv("QA_ACTOR", "lee")
    code, out, err = run_qa(monkeypatch, capsys, "log", "--json", "-f", plan)
    assert code == 0 and json.loads(out) == []


def test_the_recap_credits_the_team(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w, (q1, q2, q3) = team_world(tmp_path, home, answers={"approval": True})
    sam, kim = Control(w.session, w.store, actor="sam"), Control(w.session, w.store, actor="kim")
    first = sam.answer(q1, AnswerRequest("Settings > Export.")).draft_id
    second = kim.answer(q2, AnswerRequest("Yes, v2.")).draft_id
    assert first is not None and second is not None
    with w.store.transaction() as db:  # the first draft waited two minutes for its approver
        early = w.store.database_now() - timedelta(minutes=2)
        db.execute("UPDATE drafts SET created_at = ? WHERE id = ?", (early.isoformat(), first))
    Control(w.session, w.store, actor="lee").approve(first)
    Control(w.session, w.store, actor="ana").reject(second, "Not yet public.")
    kim.skip(q3)
    w.run_until(T0 + timedelta(minutes=3))
    plan = str(tmp_path / "p.yaml")
    code, out, _ = run_qa(monkeypatch, capsys, "recap", "--format", "json", "-f", plan)
    team = json.loads(out)["team"]
    by_name = {m["name"]: m for m in team["members"]}
    assert by_name["sam"]["answered"] == 1 and by_name["sam"]["drafted"] == 1
    assert by_name["lee"]["approved"] == 1 and by_name["lee"]["roles"] == ["approver"]
    assert by_name["ana"]["rejected"] == 1
    assert by_name["kim"]["skipped"] == 1 and by_name["kim"]["answered"] == 0
    assert team["members"][0]["name"] == "sam", "the most answers first"
    assert team["approval"]["count"] == 1 and 115 <= team["approval"]["median_s"] <= 200
    code, out, _ = run_qa(monkeypatch, capsys, "recap", "-f", plan)
    assert code == 0 and "sam (moderator): 1 answered, 1 drafted" in out
    assert "draft to approval: median" in out


def test_planned_posts_wait_for_approval_too(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home, team=TEAM, answers={"approve_planned": True})
    w.run_until(T0 + timedelta(minutes=2))
    assert w.mine() == [], "the opening waits for its approval"
    drafts = {d.key: d for d in Control(w.session, w.store, actor="lee").drafts()}
    assert {"t:opening", "t:closing", "t:after_party"} <= set(drafts)
    assert drafts["t:opening"].preview[0]["text"] == w.session.opening.text  # type: ignore[union-attr]
    lee = Control(w.session, w.store, actor="lee")
    lee.approve(drafts["t:opening"].id, "We're live! Ask away with #AskAcme")
    lee.reject(drafts["t:after_party"].id, "No after-party this time.")
    lee.approve(drafts["t:closing"].id)
    w.run_until(T0 + timedelta(hours=2))
    texts = [p.text for p in w.mine()]
    assert texts == ["We're live! Ask away with #AskAcme", w.session.closing.text]  # type: ignore[union-attr]
    assert w.live.ended


def test_the_lint_asks_for_a_host_and_an_approver(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from qasession.plan import lint_plan, load_plan
    from tests.conftest import write_plan

    path = write_plan(
        tmp_path / "p.yaml",
        team=[{"name": "sam", "role": "moderator"}],
        answers={"approval": True},
    )
    codes = {lint.code for lint in lint_plan(load_plan(path), datetime.now(UTC))}
    assert {"team-no-host", "approval-no-approver"} <= codes
    fine = write_plan(tmp_path / "fine.yaml", team=TEAM, answers={"approval": True})
    codes = {lint.code for lint in lint_plan(load_plan(fine), datetime.now(UTC))}
    assert not codes & {"team-no-host", "approval-no-approver"}


def test_only_the_host_posts_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import write_plan

    plan = str(write_plan(tmp_path / "p.yaml", team=TEAM))
    code, _, err = run_qa(monkeypatch, capsys, "plan", "--post", "--as", "kim", "-f", plan)
    assert code == 4 and "kim (moderator) may not run the live loop or post" in err
    code, _, err = run_qa(monkeypatch, capsys, "--as", "ana", "plan", "--post", "-f", plan)
    assert code == 0, err
