"""Team mode on PostgreSQL only: a moderator's machine losing its connection mid-draft (inside
the answer's transaction, or while idle) and the server itself going down and coming back,
under `qa answer` and under a seat's terminal UI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from qasession.errors import DatabaseUnreachable, ExitCode
from qasession.session.control import AnswerRequest, Control
from qasession.store import Store
from tests.support.pg_server import PgServer, running_server
from tests.test_team import run_qa, team_world


def terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:  # the network drops the seat's link
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_seat_losing_its_connection_mid_draft(
    tmp_path: Path, home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_DATABASE_URL", pg_url)
    w, (q1, q2, _) = team_world(tmp_path, home)
    laptop = Store.open(home)  # sam's machine
    sam = Control(w.session, laptop, actor="sam")
    sam.claim(q1)
    sam.claim(q2)
    (pid,) = laptop.db.execute("SELECT pg_backend_pid()").fetchone()
    execute = laptop.db.execute

    def cut_mid_transaction(sql: str, params: Any = ()) -> Any:
        if laptop.db._in_transaction and sql.startswith(("INSERT", "UPDATE")):
            laptop.db.execute = execute  # once
            terminate(pg_url, pid)  # the answer's transaction is open, half its rows written
        return execute(sql, params)

    laptop.db.execute = cut_mid_transaction
    with pytest.raises(DatabaseUnreachable) as lost:
        sam.answer(q1, AnswerRequest("Settings > Export."))
    assert lost.value.retryable and lost.value.exit_code == ExitCode.UNREACHABLE
    assert "run the same command again" in str(lost.value)
    assert w.store.question_row("t", q1)["status"] == "queued", "nothing half-done"  # type: ignore[index]
    assert not w.store.outbox("t", ["intent"]) and not w.store.commands("t")
    sam.answer(q1, AnswerRequest("Settings > Export."))  # back online: the same command works
    assert w.store.question_row("t", q1)["status"] == "answering"  # type: ignore[index]
    assert len(w.store.commands("t")) == 1, "answered once"
    # sam never comes back for the other one: once the claim is idle, kim answers it
    with w.store.transaction() as db:
        db.execute(
            "UPDATE claims SET touched_at = ?", (w.store.database_now() - timedelta(minutes=5),)
        )
    Control(w.session, w.store, actor="kim").answer(q2, AnswerRequest("Yes, v2."))
    laptop.close()


def test_a_connection_lost_while_idle_comes_back_by_itself(
    tmp_path: Path, home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_DATABASE_URL", pg_url)
    w, (q1, _, _) = team_world(tmp_path, home)
    laptop = Store.open(home)
    (pid,) = laptop.db.execute("SELECT pg_backend_pid()").fetchone()
    terminate(pg_url, pid)  # the laptop slept; the server dropped its idle connection
    Control(w.session, laptop, actor="sam").answer(q1, AnswerRequest("Settings > Export."))
    (new_pid,) = laptop.db.execute("SELECT pg_backend_pid()").fetchone()
    assert new_pid != pid, "a new connection, opened by itself"
    assert w.store.question_row("t", q1)["status"] == "answering"  # type: ignore[index]
    laptop.close()


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of this test's own, to stop and start again (the shared one serves others)."""
    with running_server() as server:
        yield server


def test_qa_answer_with_the_server_down_says_so_in_one_line(
    tmp_path: Path,
    home: Path,
    own_server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = own_server.url(own_server.new_schema())
    monkeypatch.setenv("QA_DATABASE_URL", url)
    w, (q1, _, _) = team_world(tmp_path, home)
    plan = str(tmp_path / "p.yaml")
    own_server.stop()
    code, _, err = run_qa(monkeypatch, capsys, "answer", str(q1), "Settings > Export.",
                            "--as", "sam", "-f", plan)  # fmt: skip
    assert code == ExitCode.UNREACHABLE == 7, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa: error: cannot reach the state database")
    assert "run the same command again" in lines[0] and "Traceback" not in err
    own_server.restart()
    with w.running():  # the session's run is live: it posts the answer
        code, _, err = run_qa(monkeypatch, capsys, "answer", str(q1), "Settings > Export.",
                                "--as", "sam", "-f", plan)  # fmt: skip
    assert code == 0, err
    assert w.store.question_row("t", q1)["status"] == "answering"  # type: ignore[index]


async def test_a_seat_keeps_its_draft_while_the_server_is_down_and_comes_back(
    tmp_path: Path, home: Path, own_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_live import World
    from tests.test_team import TEAM
    from tests.test_team_live import SIZE, queued, seat_app, text_of, until

    monkeypatch.setenv("QA_DATABASE_URL", own_server.url(own_server.new_schema()))
    w = World(tmp_path, home, team=TEAM)
    first, second = queued(w, "@alice", "@bob")
    app = seat_app(tmp_path, w, "sam", "moderator")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.rows) == 2)
        while app.selected_id() != str(first):
            await pilot.press("down")
        await pilot.press("a")  # drafting: claimed
        await pilot.press(*"Settings then Export.")
        own_server.stop()  # the server goes down mid-draft
        await pilot.press("enter")
        assert app.is_running, "the seat stays up"
        assert "out of reach" in text_of(app, "#error") and "kept" in text_of(app, "#error")
        assert app.answer_box.value == "Settings then Export.", "the draft is not lost"
        await pilot.press("enter")  # still down: refused again, still kept
        assert app.answer_box.value == "Settings then Export."
        own_server.restart()
        await pilot.press("enter")  # the same key, once it is back
        await until(pilot, lambda: app.answer_box.value == "")
        assert "out of reach" not in text_of(app, "#error")
        # the seat hears the others again by itself (its listener reconnected)
        other = Store.open(home)
        Control(w.session, other, actor="kim").claim(second)
        await until(pilot, lambda: app.rows.get(str(second), {}).get("claimed_by") == "kim")
        other.close()
    commands = [c for c in w.store.commands("t") if c["kind"] == "answer"]
    assert len(commands) == 1 and commands[0]["actor"] == "sam", "sent once, by sam"
    w.run_until(w.clock.now() + timedelta(minutes=1))
    posted = [p.text for p in w.mine() if "Export" in p.text]
    assert posted == [".@alice Settings then Export. #AskAcme"]
