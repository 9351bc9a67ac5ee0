"""A database written by a previous release opens with everything carried over: every post,
outbox row and cursor from schema m001 to the platform-keyed schema; every post's flags from
comma-separated text to rows of their own (m006), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from qasession.store import Store
from qasession.store.migrations import MIGRATIONS, _script


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
    assert [r["flags"] for r in rows] == ["", "", "sensitive", ""], "flags carried over"
    assert [
        tuple(r) for r in store.db.execute("SELECT platform, post_id, flag FROM post_flags")
    ] == [("x", "103", "sensitive")]
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


def before_flag_rows(db: Any) -> None:
    """A store as the release before m006 left it: flags as comma-separated text."""
    _script(db, "CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at {time} NOT NULL)")
    for name, fn in MIGRATIONS:
        if name == "m006_flag_rows":
            break
        fn(db)
        db.execute(
            "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
            (name, "2026-12-01T10:00:00+00:00"),
        )
    db.execute("INSERT INTO sessions (id, hashtag, platform) VALUES ('s', '#AskAcme', 'local')")
    db.execute("INSERT INTO sources (session_id, source, platform) VALUES ('s', 'local', 'local')")
    posts = [  # id, number, status, flags (as that release wrote them: sorted, comma-joined)
        ("1", 1, "queued", "ahead,troll"),
        ("2", 2, "queued", ""),
        ("3", 3, "answered", "sensitive"),
        ("4", None, "chatter", "sensitive,troll"),
        ("5", 4, "merged", "duplicate"),
    ]
    for pid, number, status, flags in posts:
        db.execute(
            "INSERT INTO posts (session_id, platform, id, number, author, text, created_at, "
            "kind, seen_at, is_question, status, flags, duplicate_of) "
            "VALUES ('s', 'local', ?, ?, '@a', 'Why? #AskAcme', ?, 'post', ?, ?, ?, ?, ?)",
            (pid, number, f"2026-12-03T17:0{pid}:00+00:00", "2026-12-03T17:10:00+00:00",
             int(number is not None), status, flags, "2" if pid == "5" else None),
        )  # fmt: skip


def test_flags_become_rows_on_both_engines(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "qa.db"
    if engine == "sqlite":
        db: Any = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN")
        before_flag_rows(db)
        db.execute("COMMIT")
    else:
        from qasession.store.engine import database_url
        from qasession.store.postgres import PgDatabase

        url = database_url()
        assert url is not None
        db = PgDatabase(url)
        db.begin()
        before_flag_rows(db)
        db.execute("COMMIT")
    db.close()

    store = Store(path)
    flags = {r["id"]: r["flags"] for r in store.posts("s")}
    assert flags == {"1": "ahead,troll", "2": "", "3": "sensitive", "4": "sensitive,troll",
                     "5": "duplicate"}  # fmt: skip
    rows = sorted(tuple(r) for r in store.db.execute("SELECT post_id, flag FROM post_flags"))
    assert rows == [("1", "ahead"), ("1", "troll"), ("3", "sensitive"), ("4", "sensitive"),
                    ("4", "troll"), ("5", "duplicate")]  # fmt: skip
    columns = list(store.db.execute("SELECT * FROM posts WHERE id = '1'").fetchone().keys())
    assert "flags" not in columns, "no text column of flags is left"
    queued = store.question_rows("s")
    assert {r["id"]: r["flags"] for r in queued} == {"1": "ahead,troll", "2": ""}
    store.close()
    again = Store(path)  # opening again applies nothing twice
    assert len(list(again.db.execute("SELECT * FROM post_flags"))) == 6
    again.close()


def test_new_posts_keep_their_flags_as_rows(engine: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from qasession.platforms.base import Post
    from qasession.store.db import PostRecord

    store = Store(tmp_path / "qa.db")
    store.ensure_session("s", "#AskAcme", "local")
    at = datetime(2026, 12, 3, 17, tzinfo=UTC)
    first = [
        PostRecord(Post("1", "@a", "Call 06 12 34 56 78?", at), "queued", True,
                   frozenset({"sensitive", "troll"})),
        PostRecord(Post("2", "@b", "Why?", at), "queued", True),
    ]  # fmt: skip
    assert store.save_page("s", first, "2", seen_at=at) == 2
    # seen again with other flags: a stored post is left as it is, its flags too
    again = [PostRecord(Post("1", "@a", "Call 06 12 34 56 78?", at), "queued", True,
                        frozenset({"ahead"}))]  # fmt: skip
    assert store.save_page("s", again, "2", seen_at=at) == 0
    assert {r["id"]: r["flags"] for r in store.posts("s")} == {"1": "sensitive,troll", "2": ""}
    assert store.post_row("s", "1", "local")["flags"] == "sensitive,troll"  # type: ignore[index]
    store.close()


@pytest.mark.parametrize("weights", [{"troll": -50.0, "sensitive": -5.0}])
def test_the_queue_ranks_by_flag_rows(
    engine: str, tmp_path: Path, weights: dict[str, float]
) -> None:
    """The SQL score (SQLite) and the exact ranking (both) read the flags from their rows."""
    from datetime import UTC, datetime

    from qasession.platforms.base import Post
    from qasession.store.db import PostRecord
    from qasession.triage.ranking import Weights

    store = Store(tmp_path / "qa.db")
    store.ensure_session("s", "#AskAcme", "local")
    at = datetime(2026, 12, 3, 17, tzinfo=UTC)
    records = []
    for n in range(40):
        post = Post(str(n), f"@u{n}", f"Question {n}?", at)
        post.likes = 40 - n  # the first are liked most ...
        flags = frozenset({"troll"}) if n < 3 else frozenset()  # ... and the first three troll
        records.append(PostRecord(post, "queued", True, flags))
    store.save_page("s", records, "40", seen_at=at)
    top = store.top_question_rows(
        "s", Weights.from_mapping(weights), now_ts=at.timestamp(), start_ts=at.timestamp(), limit=5
    )
    ids = {r["id"] for r in top}
    assert {"3", "4", "5", "6", "7"} <= ids, "the best untrolled questions are among the top"
    if engine == "sqlite":  # scored in SQL: the trolls' penalty keeps them out of the top 5
        assert ids == {"3", "4", "5", "6", "7"}
    else:  # every queued question, ranked exactly by the caller from the flags read back
        assert {r["id"]: r["flags"] for r in top if r["flags"]} == dict.fromkeys("012", "troll")
    store.close()
