"""Carry a home's SQLite store over to a team's PostgreSQL database (`qa db copy --to URL`):
every table, row for row, in one transaction on the server, into a database that holds no
session yet; the SQLite file is only read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qasession.errors import UsageError
from qasession.store.engine import connect, redact

# what is copied, parents first; leases are left out (a lease belongs to a running process)
TABLES = (
    "sessions",
    "sources",
    "posts",
    "post_flags",
    "outbox",
    "commands",
    "moderation",
    "events",
    "claims",
    "drafts",
    "audit",
)
WITH_IDS = ("outbox", "commands", "events", "drafts", "audit")  # identity columns to move on


def copy_store(path: Path, url: str) -> dict[str, int]:
    """Copy the SQLite store at `path` into the PostgreSQL database at `url` (migrated first);
    returns the rows copied per table. Refused when the database already holds a session."""
    from qasession.store.postgres import connect_pg

    if not path.exists():
        raise UsageError(f"there is no state database at {path}", hint="check --home")
    source = connect(path, readonly=True)
    target = connect_pg(url)
    try:
        found = target.execute("SELECT count(*) FROM sessions").fetchone()
        held = int(found[0]) if found else 0
        if held:
            raise UsageError(
                f"{redact(url)} already holds {held} session(s): copying would mix two stores",
                hint="copy into a new database (or a new schema: ?options=-csearch_path%3DNAME)",
            )
        counts: dict[str, int] = {}
        target.begin()
        try:
            for table in TABLES:
                counts[table] = _copy_table(source, target, table)
            for table in WITH_IDS:
                target.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
        except BaseException:
            target.execute("ROLLBACK")
            raise
        target.execute("COMMIT")
        return counts
    finally:
        source.close()
        target.close()


def _copy_table(source: Any, target: Any, table: str) -> int:
    cursor = source.execute(f"SELECT * FROM {table} ORDER BY rowid")  # insertion order
    columns = [c[0] for c in cursor.description]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    count = 0
    while rows := cursor.fetchmany(1000):
        target.executemany(sql, [tuple(row) for row in rows])
        count += len(rows)
    return count
