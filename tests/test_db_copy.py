"""`qa db copy --to URL`: a home's SQLite store carried over to a team's PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from qasession.session.control import AnswerRequest, Control
from qasession.store import Store
from tests.test_live import T0
from tests.test_team import run_qa, team_world


def test_a_sqlite_home_is_copied_into_postgresql(
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    w, (q1, q2, _) = team_world(tmp_path, home)
    w.say("@dave", "Call me on +33 6 12 34 56 78 about my bill? #AskAcme", at=T0)
    Control(w.session, w.store, actor="sam").answer(q1, AnswerRequest("Settings > Export."))
    Control(w.session, w.store, actor="kim").claim(q2)
    w.run_until(T0 + timedelta(minutes=2))
    url = request.getfixturevalue("pg_url")
    code, _, err = run_qa(monkeypatch, capsys, "db", "copy", "--to", url)
    assert code == 0 and "copied into" in err and "posts" in err
    copied = Store.open(home, url=url)
    assert copied.question_row("t", q1)["status"] == "answered"  # type: ignore[index]
    assert [c.actor for c in copied.live_claims("t").values()] == ["kim"]
    assert [e["action"] for e in copied.audit_log("t")] == [
        e["action"] for e in w.store.audit_log("t")
    ]
    assert len(copied.outbox("t")) == len(w.store.outbox("t"))
    flags = {r["id"]: r["flags"] for r in w.store.posts("t")}
    assert "sensitive" in flags.values(), "the private question is flagged"
    assert {r["id"]: r["flags"] for r in copied.posts("t")} == flags, "its flag rows too"
    # the copy goes on where the home left off: new rows get new ids, numbers continue
    monkeypatch.setenv("QA_DATABASE_URL", url)
    Control(w.session, copied, actor="kim").answer(q2, AnswerRequest("Yes, v2."))
    assert len({i.id for i in copied.outbox("t")}) == len(copied.outbox("t"))
    code, _, err = run_qa(monkeypatch, capsys, "db", "copy", "--to", url)
    assert code == 2 and "already holds 1 session" in err
    copied.close()
