"""The store's connection: the SQLite file of a home directory (WAL, a busy timeout on every
connection, short write transactions), or a PostgreSQL server for a team (`store.postgres`,
imported only then); database failures turned into errors that say what to do.

The store writes one SQL for both engines: `?` parameters, `INSERT ... ON CONFLICT`, times as
ISO 8601 text in and out (proper timestamps on PostgreSQL, converted at the edge), and the few
words that differ asked of the connection (`db.dialect`, `db.greatest`, `db.flag_list`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qasession.errors import ConfigError, StoreError
from qasession.store.migrations import MIGRATIONS, apply_migrations

DB_NAME = "qa.db"
BUSY_TIMEOUT_MS = 30_000  # a reader or another writer holds a lock: wait, never fail at once
URL_ENV = "QA_DATABASE_URL"
_SCHEMES = ("postgresql://", "postgres://")
_chosen: list[str | None] = []  # the command line's choice (--db), which beats the environment


class SqliteDatabase(sqlite3.Connection):
    """A sqlite3 connection that answers the few questions the store asks of either engine."""

    dialect = "sqlite"
    greatest = "max"  # the larger of two values (a scalar max() in SQLite)
    # a post's flags joined in name order: read along post_flags' primary key, which sorts them
    flag_list = "group_concat(flag, ',')"

    def begin(self, lanes: Sequence[str] = ()) -> None:
        # one writer at a time, whatever the lane: writers queue here instead of failing later
        self.execute("BEGIN IMMEDIATE")


def use_database(url: str | None) -> None:
    """The database of this process's stores from now on: a PostgreSQL URL, or None for the
    home's SQLite file whatever the environment says (a rehearsal)."""
    if url is not None:
        url = check_url(url)
    _chosen[:] = [url]


def database_url() -> str | None:
    """The PostgreSQL URL the stores of this process use (None: the home's SQLite file): the
    one chosen on the command line, else $QA_DATABASE_URL."""
    if _chosen:
        return _chosen[0]
    value = os.environ.get(URL_ENV, "").strip()
    return check_url(value) if value else None


def check_url(url: str) -> str | None:
    """`url` when it names a PostgreSQL database; None for `sqlite` (the home's file)."""
    if url.strip().lower() in ("", "sqlite"):
        return None
    if not url.startswith(_SCHEMES):
        raise ConfigError(
            f"the database URL {redact(url)!r} is not a postgresql:// URL",
            hint="give --db (or QA_DATABASE_URL) as postgresql://USER@HOST:PORT/DBNAME, "
            "or `sqlite` for the home's own file",
        )
    return url


def redact(url: str) -> str:
    """`url` without its password (in the user part or as a `password=` parameter)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            if ":" in user:
                user = user.split(":", 1)[0] + ":***"
            netloc = f"{user}@{host}"
        query = urlencode(
            [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)], safe="/*"
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return url.split("://", 1)[0] + "://(a URL that cannot be read)"


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
        db = sqlite3.connect(
            path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, factory=SqliteDatabase
        )
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
    db = sqlite3.connect(":memory:", isolation_level=None, factory=SqliteDatabase)
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
    db = sqlite3.connect(
        uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, factory=SqliteDatabase
    )
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


class Engine:
    """One connection and its transactions; every store mixin works through `self.db`: a
    SqliteDatabase, or a `store.postgres.PgDatabase` (the same calls)."""

    path: Path
    db: Any

    @contextmanager
    def transaction(self, *lanes: str) -> Iterator[Any]:
        """One write transaction. SQLite: BEGIN IMMEDIATE, so writers queue instead of failing;
        PostgreSQL: BEGIN and the store's lock, so writers queue just the same. `lanes`
        (`session_lane`, `question_lane`, `ingest_lane`) name what the transaction writes: on
        PostgreSQL, transactions that share no lane run side by side, those sharing one run
        one at a time, and those of no lane alone."""
        try:
            self.db.begin(lanes)
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from None
        try:
            yield self.db
        except sqlite3.Error as exc:
            self._rollback()
            raise explain(exc, self.path) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise explain(exc, self.path) from None
        except StoreError:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # the connection is gone (PostgreSQL) or had nothing open: nothing to undo
        with contextlib.suppress(sqlite3.Error, StoreError):
            self.db.execute("ROLLBACK")

    @staticmethod
    def session_lane(session_id: str) -> str:
        """What a seat's action on the session writes (claims, answers, triage, drafts, the
        audit log and commands), one at a time per session: the ids the loop and the seats
        read on from are handed out and committed in order."""
        return f"session:{session_id}"

    @staticmethod
    def question_lane(session_id: str, post_id: str) -> str:
        """What a claim on one question writes (its claim, a line of the audit log): claims
        on other questions go on beside it; answering it takes this lane too."""
        return f"question:{session_id}:{post_id}"

    @staticmethod
    def ingest_lane(session_id: str) -> str:
        """What the live loop's polling writes: new posts (and their numbers), counts and
        cursors; beside the seats, since neither writes what the other reads in one go."""
        return f"ingest:{session_id}"

    def insert_id(self, db: Any, sql: str, params: Any) -> int:
        """Run an INSERT into a table with an `id` column; the new row's id."""
        if db.dialect == "postgresql":
            return int(db.execute(sql + " RETURNING id", params).fetchone()[0])
        return int(db.execute(sql, params).lastrowid or 0)

    def database_now(self) -> datetime:
        """The database's clock (the server's, for a team on PostgreSQL: every seat agrees)."""
        if self.db.dialect == "postgresql":
            return from_iso(self.db.execute("SELECT statement_timestamp()").fetchone()[0])
        return datetime.now(UTC)
