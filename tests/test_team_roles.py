"""Every command that posts or changes a session checks its actor against the plan's `team:`
(exit 4, nothing changed), on SQLite and on PostgreSQL; what the host does there is in the
audit log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from qasession.session.control import AnswerRequest, Control
from qasession.store import OutboxItem
from tests.test_live import T0
from tests.test_team import TEAM, run_qa, team_world

pytestmark = pytest.mark.usefixtures("engine")

# command -> (its arguments, a team member whose role may not do it, what they are told)
WRITING: dict[str, tuple[tuple[str, ...], str, str]] = {
    "run": (("--headless",), "sam", "may not run the live loop"),
    "plan --post": (("--post",), "kim", "may not run the live loop or post the plan"),
    "plan --watch": (("--watch",), "kim", "may not run the live loop or post the plan"),
    "answer": (("1", "Yes."), "lee", "may not answer questions"),
    "skip": (("1",), "lee", "may not skip, pin or block"),
    "unskip": (("1",), "lee", "may not skip, pin or block"),
    "pin": (("1",), "lee", "may not skip, pin or block"),
    "block": (("@troll",), "lee", "may not skip, pin or block"),
    "claim": (("1",), "lee", "may not claim questions"),
    "approve": (("1",), "sam", "may not approve or reject drafts"),
    "reject": (("1", "--why", "no"), "sam", "may not approve or reject drafts"),
    "note": (("Good one",), "", ""),  # anyone on the team may note
    "outbox confirm": (("t:opening",), "sam", "may not post the recap's drafts or settle"),
    "outbox resend": (("t:opening",), "lee", "may not post the recap's drafts or settle"),
    "recap --post-drafts": (("--post-drafts", "--yes"), "sam", "may not post the recap's"),
}
# the commands that only read a session, or that act on no session of the plan
READING = {
    "init", "plan", "queue", "drafts", "log", "recap", "doctor", "outbox", "db copy",
    "local post", "local like", "local timeline",
}  # fmt: skip


def _argv(command: str, args: tuple[str, ...]) -> list[str]:
    words = [w for w in command.split() if not w.startswith("--")]
    return [*words, *args]


def test_every_command_is_either_checked_or_reads() -> None:
    """A new command must say here whether it writes (and is checked) or only reads."""
    import typer.main

    from qasession.cli import app

    def names(group: object, prefix: str = "") -> set[str]:
        found = set()
        for name, command in getattr(group, "commands", {}).items():
            full = f"{prefix}{name}"
            found.add(full)
            found |= names(command, full + " ")
        return found

    every = names(typer.main.get_command(app))
    groups = {"outbox", "db", "local"}
    written = {c.split(" --")[0] for c in WRITING}
    assert every - groups == (written | READING) - groups


@pytest.mark.parametrize("command", sorted(WRITING))
def test_a_writing_command_refuses_who_is_not_on_the_team(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.conftest import write_plan

    plan = str(write_plan(tmp_path / "p.yaml", team=TEAM))
    args, member, told = WRITING[command]
    argv = _argv(command, args)
    code, _, err = run_qa(monkeypatch, capsys, *argv, "--as", "zed", "-f", plan)
    assert code == 4, err
    assert "zed is not on the team of session t" in err and "Traceback" not in err
    if member:
        code, _, err = run_qa(monkeypatch, capsys, *argv, "--as", member, "-f", plan)
        assert code == 4 and told in err, err
        assert len(err.strip().splitlines()) <= 2, "one line and its hint"


def test_the_host_settles_the_outbox_and_the_log_says_so(
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w, _ = team_world(tmp_path, home)
    plan = str(tmp_path / "p.yaml")
    first, second = w.store.add_intents(
        "t",
        [
            OutboxItem(key="t:x:1", kind="notice", text="A"),
            OutboxItem(key="t:x:2", kind="notice", text="B"),
        ],
    )
    w.store.mark_state(first.id, "uncertain")
    w.store.mark_state(second.id, "failed")
    code, _, err = run_qa(
        monkeypatch, capsys, "outbox", "confirm", "t:x:1", "--as", "sam", "-f", plan
    )
    assert code == 4
    assert w.store.outbox_item("t:x:1").state == "uncertain"  # type: ignore[union-attr]
    code, _, err = run_qa(
        monkeypatch, capsys, "outbox", "confirm", "t:x:1", "--id", "77", "--as", "ana", "-f", plan
    )
    assert code == 0, err
    code, _, err = run_qa(
        monkeypatch, capsys, "--as", "ana", "outbox", "resend", "t:x:2", "-f", plan
    )
    assert code == 0, err
    confirmed, resent = w.store.outbox_item("t:x:1"), w.store.outbox_item("t:x:2")
    assert confirmed is not None and confirmed.state == "sent" and confirmed.platform_id == "77"
    assert resent is not None and resent.state == "intent"
    log = [(r["actor"], r["role"], r["action"]) for r in w.store.audit_log("t")]
    assert ("ana", "host", "outbox confirmed") in log and ("ana", "host", "outbox resent") in log
    assert not any(actor == "sam" for actor, _, action in log if action.startswith("outbox"))


def test_a_note_is_its_authors_and_refused_to_strangers(
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w, _ = team_world(tmp_path, home)
    plan = str(tmp_path / "p.yaml")
    code, _, err = run_qa(monkeypatch, capsys, "note", "Pricing again", "--as", "zed", "-f", plan)
    assert code == 4 and "zed is not on the team" in err
    code, _, err = run_qa(monkeypatch, capsys, "note", "Pricing again", "--as", "sam", "-f", plan)
    assert code == 0, err
    notes = w.store.events("t", "note")
    assert [(n["text"], n["actor"]) for n in notes] == [("Pricing again", "sam")]


def test_only_the_host_posts_the_recap_drafts(
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w, (q1, _, _) = team_world(tmp_path, home)
    Control(w.session, w.store, actor="sam").answer(q1, AnswerRequest("Settings > Export."))
    w.run_until(T0 + timedelta(hours=2))  # answered, closed
    plan = str(tmp_path / "p.yaml")
    before = len(w.network.timeline())
    code, _, err = run_qa(
        monkeypatch, capsys, "recap", "--post-drafts", "--yes", "--as", "sam", "-f", plan
    )
    assert code == 4 and "sam (moderator) may not post the recap's drafts" in err
    assert len(w.network.timeline()) == before, "nothing posted"
    code, _, err = run_qa(
        monkeypatch, capsys, "recap", "--post-drafts", "--yes", "--as", "ana", "-f", plan
    )
    assert code == 0, err
    drafts = [i for i in w.store.outbox("t", ("sent",)) if i.kind == "draft"]
    assert drafts and {i.actor for i in drafts} == {"ana"}
    assert len(w.network.timeline()) == before + len(drafts)
    (posted,) = [r for r in w.store.audit_log("t") if r["action"] == "drafts posted"]
    assert posted["actor"] == "ana" and posted["role"] == "host"
    assert sorted(posted["keys"]) == sorted(i.key for i in drafts)
