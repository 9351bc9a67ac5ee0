"""The SQLite connection of a home directory: WAL, a busy timeout on every connection, short
write transactions, and database failures turned into errors that say what to do."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from qasession.errors import StoreError
from qasession.store.migrations import MIGRATIONS, apply_migrations

DB_NAME = "qa.db"
BUSY_TIMEOUT_MS = 30_000  # a reader or another writer holds a lock: wait, never fail at once


def to_iso(moment: datetime) -> str:
    """A sortable UTC ISO-8601 text for `moment` (always the same width)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def explain(exc: sqlite3.Error, path: Path) -> StoreError:
    """A database failure as one line that says what is wrong and what to do."""
    message = str(exc).lower()
    if "not a database" in message or "malformed" in message or "corrupt" in message:
        return StoreError(
            f"the state database {path} is corrupt (it is left as it is)",
            hint="move it aside to start afresh, or restore it from a backup",
        )
    if "readonly" in message or "read-only" in message:
        return StoreError(
            f"the state database {path} cannot be written (read-only home or file)",
            hint="point --home at a folder you can write, or fix its permissions",
        )
    if any(word in message for word in ("disk is full", "disk full", "no space", "disk i/o")):
        return StoreError(
            f"the disk holding {path} is full; nothing collected so far is lost",
            hint="free some space and run the command again",
        )
    if "locked" in message or "busy" in message:
        return StoreError(
            f"the state database {path} stayed locked by another process",
            hint="run the command again; see `qa run` holding the session",
            retryable=True,
        )
    if "unable to open" in message:
        return StoreError(
            f"cannot open the state database {path}",
            hint="check that the home folder exists and can be written",
        )
    return StoreError(f"the state database {path} failed: {exc}")


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the state database at `path` with its migrations applied.

    `readonly` opens an existing file without writing (a read-only home works for the
    commands that only read); a missing file then gives an empty in-memory database."""
    try:
        if readonly:
            return _connect_readonly(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        apply_migrations(db)
        return db
    except sqlite3.Error as exc:
        raise explain(exc, path) from None
    except PermissionError:
        raise StoreError(
            f"cannot create the state database in {path.parent} (permission denied)",
            hint="point --home at a folder you can write",
        ) from None


def _empty() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.row_factory = sqlite3.Row
    apply_migrations(db)
    return db


def _connect_readonly(path: Path) -> sqlite3.Connection:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    except OSError as exc:  # a folder on the way that cannot be entered: say so
        raise StoreError(
            f"cannot read the state database {path}: {exc.strerror}",
            hint="check the permissions of the home folder",
        ) from None
    if size == 0:
        return _empty()  # nothing stored yet: an empty store to read
    try:
        db = _open_uri(f"file:{path}?mode=ro")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # WAL needs its shared-memory file; a read-only folder has none: read the file as is
        db = _open_uri(f"file:{path}?immutable=1")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "_migrations" not in tables:
        db.close()
        return _empty()  # created, never written (a full disk, an interrupted first run)
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    if any(name not in applied for name, _ in MIGRATIONS):
        raise StoreError(
            f"the state database {path} was written by an older version and cannot be "
            "upgraded read-only",
            hint="run any command once with write access to the home folder",
        )
    return db


def _open_uri(uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


class Engine:
    """One connection and its transactions; every store mixin works through `self.db`."""

    path: Path
    db: sqlite3.Connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE, so writers queue instead of failing)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from None
        try:
            yield self.db
        except sqlite3.Error as exc:
            self.db.execute("ROLLBACK")
            raise explain(exc, self.path) from None
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self.db.execute("ROLLBACK")
            raise explain(exc, self.path) from None
