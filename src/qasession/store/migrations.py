"""Named, append-only schema migrations of the state database, recorded in `_migrations`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            hashtag TEXT NOT NULL,
            platform TEXT NOT NULL,
            cursor TEXT,
            started_at TEXT,
            ended_at TEXT,
            clock TEXT,
            counters TEXT
        );
        CREATE TABLE posts (
            session_id TEXT NOT NULL,
            id TEXT NOT NULL,
            author TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            ref TEXT,
            likes INTEGER NOT NULL DEFAULT 0,
            reposts INTEGER NOT NULL DEFAULT 0,
            lang TEXT,
            url TEXT,
            seen_at TEXT NOT NULL,
            is_question INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            flags TEXT NOT NULL DEFAULT '',
            duplicate_of TEXT,
            duplicates INTEGER NOT NULL DEFAULT 0,
            pinned INTEGER NOT NULL DEFAULT 0,
            first_time INTEGER NOT NULL DEFAULT 0,
            UNIQUE (session_id, id)
        );
        CREATE INDEX posts_questions ON posts (session_id, status) WHERE is_question = 1;
        CREATE INDEX posts_ref ON posts (session_id, ref) WHERE ref IS NOT NULL;
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            key TEXT NOT NULL UNIQUE,
            op TEXT NOT NULL,
            seq INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL,
            text TEXT,
            reply_to TEXT,
            quote_of TEXT,
            repost_of TEXT,
            dm_to TEXT,
            media TEXT,
            question_id TEXT,
            state TEXT NOT NULL DEFAULT 'intent',
            attempts INTEGER NOT NULL DEFAULT 0,
            platform_id TEXT,
            error TEXT,
            not_before TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX outbox_state ON outbox (session_id, state);
        CREATE INDEX outbox_op ON outbox (op, seq);
        CREATE TABLE commands (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            args TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            result TEXT,
            created_at TEXT NOT NULL,
            done_at TEXT
        );
        CREATE INDEX commands_state ON commands (session_id, state);
        CREATE TABLE moderation (
            session_id TEXT NOT NULL,
            handle TEXT NOT NULL,
            action TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (session_id, handle, action)
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            at TEXT NOT NULL,
            event TEXT NOT NULL,
            data TEXT NOT NULL
        );
        """,
    )


def _script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would commit on its own; statements one by one stay in our transaction
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def apply_migrations(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; returns their names.

    The check happens inside the write transaction, so two processes opening a new database at
    once cannot both apply the same migration.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied = []
    for name, fn in MIGRATIONS:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                db.execute("COMMIT")
                continue
            fn(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))", (name,)
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        applied.append(name)
    return applied
