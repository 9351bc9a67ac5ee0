"""Team mode on PostgreSQL only: a moderator's machine losing its connection mid-draft."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from qasession.errors import StoreError
from qasession.session.control import AnswerRequest, Control
from qasession.store import Store
from tests.test_team import team_world


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
    with psycopg.connect(pg_url, autocommit=True) as admin:  # the network drops sam's link
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreError) as lost:
        sam.answer(q1, AnswerRequest("Settings > Export."))
    assert lost.value.retryable, "the seat is told to try again, nothing half-done"
    assert w.store.question_row("t", q1)["status"] == "queued"  # type: ignore[index]
    assert not w.store.outbox("t", ["intent"])
    sam.answer(q1, AnswerRequest("Settings > Export."))  # back online: the same command works
    assert w.store.question_row("t", q1)["status"] == "answering"  # type: ignore[index]
    # sam never comes back for the other one: once the claim is idle, kim answers it
    with w.store.transaction() as db:
        db.execute(
            "UPDATE claims SET touched_at = ?", (w.store.database_now() - timedelta(minutes=5),)
        )
    Control(w.session, w.store, actor="kim").answer(q2, AnswerRequest("Yes, v2."))
    laptop.close()
