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


@migration
def m002_platforms_sources_numbers(db: sqlite3.Connection) -> None:
    """Posts, outbox rows and moderation keyed by platform; a cursor per source; question
    numbers; who issued each command; the live loop's lease."""
    _script(
        db,
        """
        CREATE TABLE posts_new (
            session_id TEXT NOT NULL,
            platform TEXT NOT NULL,
            id TEXT NOT NULL,
            number INTEGER,
            author TEXT NOT NULL,
            author_id TEXT,
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
            extra TEXT,
            UNIQUE (session_id, platform, id)
        );
        INSERT INTO posts_new (session_id, platform, id, number, author, text, created_at, kind,
            ref, likes, reposts, lang, url, seen_at, is_question, status, flags, duplicate_of,
            duplicates, pinned, first_time)
        SELECT p.session_id, coalesce(s.platform, 'local'), p.id,
            CASE WHEN p.is_question = 1 THEN row_number() OVER (
                PARTITION BY p.session_id, p.is_question ORDER BY p.created_at, p.rowid) END,
            p.author, p.text, p.created_at, p.kind, p.ref, p.likes, p.reposts, p.lang, p.url,
            p.seen_at, p.is_question, p.status, p.flags, p.duplicate_of, p.duplicates,
            p.pinned, p.first_time
        FROM posts p LEFT JOIN sessions s ON s.id = p.session_id;
        DROP TABLE posts;
        ALTER TABLE posts_new RENAME TO posts;
        CREATE INDEX posts_questions ON posts (session_id, status) WHERE is_question = 1;
        CREATE INDEX posts_ref ON posts (session_id, platform, ref) WHERE ref IS NOT NULL;
        CREATE UNIQUE INDEX posts_number ON posts (session_id, number) WHERE number IS NOT NULL;

        ALTER TABLE outbox ADD COLUMN platform TEXT NOT NULL DEFAULT '';
        ALTER TABLE outbox ADD COLUMN platform_extra TEXT;
        ALTER TABLE outbox ADD COLUMN actor TEXT;
        UPDATE outbox SET platform = coalesce(
            (SELECT platform FROM sessions WHERE sessions.id = outbox.session_id), 'local');

        ALTER TABLE commands ADD COLUMN actor TEXT;

        CREATE TABLE moderation_new (
            session_id TEXT NOT NULL,
            platform TEXT NOT NULL DEFAULT '',
            handle TEXT NOT NULL,
            action TEXT NOT NULL,
            at TEXT NOT NULL,
            actor TEXT,
            PRIMARY KEY (session_id, platform, handle, action)
        );
        INSERT INTO moderation_new (session_id, platform, handle, action, at)
        SELECT session_id, '', handle, action, at FROM moderation;
        DROP TABLE moderation;
        ALTER TABLE moderation_new RENAME TO moderation;

        CREATE TABLE sources (
            session_id TEXT NOT NULL,
            source TEXT NOT NULL,
            platform TEXT NOT NULL,
            account TEXT,
            cursor TEXT,
            counters TEXT,
            capabilities TEXT,
            state TEXT NOT NULL DEFAULT 'ok',
            error TEXT,
            updated_at TEXT,
            PRIMARY KEY (session_id, source)
        );
        INSERT INTO sources (session_id, source, platform, cursor, counters)
        SELECT id, platform, platform, cursor, counters FROM sessions;

        CREATE TABLE leases (
            session_id TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            actor TEXT,
            started_at TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL
        )
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
    try:  # a plain read first: every command opens the store, few need to migrate it
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    except sqlite3.OperationalError:
        done = set()
    if all(name in done for name, _ in MIGRATIONS):
        return []
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
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
