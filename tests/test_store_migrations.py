"""A database written by the previous release (schema m001) opens with every post, outbox row
and cursor carried over to the platform-keyed schema."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from qasession.store import Store
from qasession.store.migrations import MIGRATIONS


def old_database(path: Path) -> None:
    """The tables as the previous release left them, with a session in the middle of a run."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    name, m001 = MIGRATIONS[0]
    assert name == "m001_initial"
    db.execute("BEGIN")
    m001(db)
    db.execute("INSERT INTO _migrations VALUES ('m001_initial', datetime('now'))")
    db.execute(
        "INSERT INTO sessions (id, hashtag, platform, cursor, counters) VALUES "
        "('s', '#AskAcme', 'x', '{\"q\": {\"since\": \"105\"}}', '{\"posts_read\": 7}')"
    )
    posts = [
        ("101", "@alice", "How? #AskAcme", "2026-12-03T17:01:00.000000+00:00", 1, "queued", ""),
        ("102", "@bob", "Chatter #AskAcme", "2026-12-03T17:02:00.000000+00:00", 0, "chatter", ""),
        ("103", "@carol", "My phone is 06 12 34 56 78? #AskAcme",
         "2026-12-03T17:03:00.000000+00:00", 1, "answered", "sensitive"),
        ("104", "@dave", "how?? #AskAcme", "2026-12-03T17:04:00.000000+00:00", 1, "merged", ""),
    ]  # fmt: skip
    for pid, author, text, created, question, status, flags in posts:
        db.execute(
            "INSERT INTO posts (session_id, id, author, text, created_at, kind, seen_at, "
            "is_question, status, flags, duplicate_of) VALUES (?,?,?,?,?,'post',?,?,?,?,?)",
            ("s", pid, author, text, created, created, question, status, flags,
             "101" if pid == "104" else None),
        )  # fmt: skip
    db.execute(
        "INSERT INTO outbox (session_id, key, op, seq, kind, text, dm_to, question_id, state, "
        "platform_id, created_at) VALUES ('s', 's:answer:3:0:dm', 's:answer:3', 0, 'dm', "
        "'We will call you', '@carol', '103', 'sent', '9001', '2026-12-03T17:05:00+00:00')"
    )
    db.execute(
        "INSERT INTO moderation (session_id, handle, action, at) VALUES "
        "('s', '@troll', 'blocked', '2026-12-03T17:00:00+00:00')"
    )
    db.execute(
        "INSERT INTO commands (session_id, kind, args, created_at) VALUES "
        "('s', 'skip', '{\"question_id\": \"101\"}', '2026-12-03T17:06:00+00:00')"
    )
    db.execute("COMMIT")
    db.close()


def test_a_database_of_the_previous_release_is_carried_over(tmp_path: Path) -> None:
    path = tmp_path / "qa.db"
    old_database(path)
    store = Store(path)
    rows = store.posts("s")
    assert [r["id"] for r in rows] == ["101", "102", "103", "104"]
    assert {r["platform"] for r in rows} == {"x"}, "posts belong to the session's platform"
    assert [r["number"] for r in rows] == [1, None, 2, 3], "questions numbered in order"
    assert store.question_row("s", 2)["id"] == "103"  # type: ignore[index]
    assert store.post_row("s", "104", "x")["duplicate_of"] == "101"  # type: ignore[index]
    (item,) = store.outbox("s")
    assert item.platform == "x" and item.question_id == "103" and item.platform_id == "9001"
    assert item.state == "sent" and item.dm_to == "@carol"
    assert store.cursor("s") == '{"q": {"since": "105"}}', "the polling cursor survives"
    assert store.cursor("s", "x") == store.cursor("s")
    source = store.source_row("s", "x")
    assert source is not None and json.loads(source["counters"]) == {"posts_read": 7}
    assert store.moderation("s")["blocked"] == {"@troll"}
    assert [c["kind"] for c in store.commands("s")] == ["skip"]
    names = [row[0] for row in store.db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    store.close()
    again = Store(path)  # opening again applies nothing twice
    assert len(again.posts("s")) == 4
