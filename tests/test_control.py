"""The one control API: exactly one answer per question, private questions never reposted or
quoted, who issued each command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from qasession.errors import UsageError
from qasession.session.control import AnswerRequest, Control
from tests.conftest import ROOT
from tests.test_live import T0, World

PHONE = "+33 6 12 34 56 78"
pytestmark = pytest.mark.usefixtures("engine")  # each test on SQLite and on PostgreSQL


def test_two_answers_at_the_same_moment_post_once(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home)
    q = w.say("@alice", "How do I export my data? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(minutes=1))
    number = w.store.post_row("t", q)["number"]  # type: ignore[index]
    plan = str(tmp_path / "p.yaml")
    command = [sys.executable, "-m", "qasession", "answer", str(number)]
    with w.running():  # the session's run is live: it posts what the shells accept
        shells = [
            subprocess.Popen(
                [*command, f"Answer from shell {i}", "-f", plan],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "QA_ACTOR": f"seat{i}"},
                cwd=ROOT,
            )
            for i in (1, 2)
        ]
        results = [(s.wait(timeout=60), s.stderr.read() if s.stderr else "") for s in shells]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert f"question {number} is already answering" in refused
    assert "seat1" in refused or "seat2" in refused, "the refusal names who answered first"
    assert "--follow-up" in refused and "Traceback" not in refused
    w.run_until(T0 + timedelta(minutes=2))
    answers = [p for p in w.mine() if p.text.startswith(".@alice")]
    assert len(answers) == 1
    assert w.store.post_row("t", q)["status"] == "answered"  # type: ignore[index]
    actors = [c["actor"] for c in w.store.commands("t") if c["kind"] == "answer"]
    assert len(actors) == 1 and actors[0] in ("seat1", "seat2")


def test_a_follow_up_is_asked_for_explicitly(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home)
    q = w.say("@alice", "Is there an API? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(minutes=1))
    number = w.store.post_row("t", q)["number"]  # type: ignore[index]
    control = Control(w.session, w.store, actor="host")
    control.answer(number, AnswerRequest("Yes, v2."))
    w.run_until(T0 + timedelta(minutes=2))
    with pytest.raises(UsageError, match="already answered"):
        control.answer(number, AnswerRequest("And v3 too."))
    control.answer(number, AnswerRequest("And v3 too.", follow_up=True))
    w.run_until(T0 + timedelta(minutes=3))
    texts = [p.text for p in w.mine() if p.text.startswith(".@alice")]
    assert texts == [".@alice Yes, v2. #AskAcme", ".@alice And v3 too. #AskAcme"]
    reposts = [p for p in w.mine() if p.kind == "repost"]
    assert len(reposts) == 1, "the platform refuses a second repost; the follow-up goes on"


@pytest.mark.parametrize("mode", ["dot", "reply", "quote", "dm"])
def test_a_private_question_is_never_reposted_or_quoted(
    tmp_path: Path, home: Path, mode: str
) -> None:
    w = World(tmp_path, home, sensitive_patterns=["ACME-\\d{6}"])
    q = w.say("@bob", f"Call me on {PHONE}, contract ACME-123456? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(minutes=1))
    number = w.store.post_row("t", q)["number"]  # type: ignore[index]
    control = Control(w.session, w.store)
    if mode != "dm":
        with pytest.raises(UsageError, match="carries private data") as refused:
            control.answer(number, AnswerRequest("We'll call you back.", mode))
        assert "direct message" in str(refused.value)
        # the operator can only go public on purpose, and then nothing shows the question
        control.answer(
            number, AnswerRequest("We'll call you back.", mode, public_without_repost=True)
        )
    else:
        control.answer(number, AnswerRequest("We'll call you back.", mode))
    w.run_until(T0 + timedelta(minutes=2))
    public = [p for p in w.mine() if p.kind != "dm"]
    assert not [p for p in public if p.ref == q], "no repost, reply or quote of the question"
    assert not any("12 34 56" in p.text or "ACME-123456" in p.text for p in public)
    if mode == "dm":
        assert [p.to for p in w.mine() if p.kind == "dm"] == ["@bob"]
    assert w.store.post_row("t", q)["status"] == "answered"  # type: ignore[index]


def test_answers_with_terminal_controls_are_refused(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home)
    q = w.say("@alice", "Is there an API? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(minutes=1))
    number = w.store.post_row("t", q)["number"]  # type: ignore[index]
    control = Control(w.session, w.store)
    for text in ("Yes \x1b[31mred", "Yes \u202eevil", "Yes\x85"):
        with pytest.raises(UsageError, match="control characters"):
            control.answer(number, AnswerRequest(text))
    control.answer(number, AnswerRequest("Yes 👩‍💻 and مرحبا\u200f"))  # joiners and marks stay


def test_skip_and_unskip(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home)
    q = w.say("@alice", "Is there an API? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(minutes=1))
    number = w.store.post_row("t", q)["number"]  # type: ignore[index]
    control = Control(w.session, w.store, actor="sam")
    control.skip(number)
    with pytest.raises(UsageError, match="only queued"):
        control.skip(number)
    control.unskip(f"#{number}")
    assert w.store.post_row("t", q)["status"] == "queued"  # type: ignore[index]
    assert [(c["kind"], c["actor"]) for c in w.store.commands("t")] == [
        ("skip", "sam"),
        ("unskip", "sam"),
    ]
    with pytest.raises(UsageError, match="no question"):
        control.skip("9999")
