"""The store on a PostgreSQL server (team mode), through psycopg 3: a connection that takes the
calls the store makes of a sqlite3 one, so the same store code and migrations run on both.

Imported only for a postgresql:// URL: one person's SQLite commands never load the driver.
What it does at the edge, and nowhere else:
- `?` parameters become psycopg's `%s` (and a literal `%` becomes `%%`), once per SQL text;
- rows read back are indexed by position and by name like sqlite3.Row; a timestamp comes back
  as the store's ISO 8601 text (`engine.to_iso`), the hidden `rowid` column is left out;
- a write transaction takes the store's advisory lock, so writers queue as they do on
  SQLite's BEGIN IMMEDIATE, and every invariant the store keeps there (question numbers, one
  answer, one lease holder) holds here the same way; a transaction of lanes (a session's
  seats, one question's claims, the session's ingest) shares that lock and takes its lanes'
  own, in one order, so seats and the loop's polling write side by side while each lane
  keeps its writers in order;
- a connection found broken is opened again before the next transaction or read (never in the
  middle of one: the transaction fails and its caller retries); a read or a BEGIN that finds
  the connection lost on its way (the server restarted, the network dropped it) is tried once
  more on a new one, so a seat comes back by itself when the server does;
- errors become StoreError with the URL shown without its password. The password comes from
  the URL, PGPASSWORD or ~/.pgpass (libpq reads them); it is never printed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Dumper

from qasession.errors import DatabaseUnreachable, StoreError
from qasession.store.engine import redact, to_iso
from qasession.store.migrations import apply_migrations

LOCK_KEY = 0x71617365  # "qase": the store's write lock (pg_advisory_xact_lock)
LANE_SPACE = 0x716C  # "ql": the first key of a lane's lock (its name's hash is the second)
CONNECT_TIMEOUT = 10  # seconds


class Row:
    """A row read back: by position (`row[0]`, unpacking) and by name (`row["id"]`,
    `dict(row)`), as sqlite3.Row."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: tuple[Any, ...], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return self._values == other._values and self._index == other._index
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _plain(value: Any) -> Any:
    return to_iso(value) if isinstance(value, datetime) else value


def _rows(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = [column.name for column in cursor.description or ()]
    keep = [i for i, name in enumerate(names) if name != "rowid"]
    index = {names[i]: position for position, i in enumerate(keep)}

    def make(values: Sequence[Any]) -> Row:
        return Row(tuple(_plain(values[i]) for i in keep), index)

    return make


class _BoolAsInteger(Dumper):
    """Flags are INTEGER columns on both engines; Python's True goes in as 1, as in SQLite."""

    oid = psycopg.postgres.types["int4"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def lane_key(lane: str) -> int:
    """A lane's name as the second (int4) key of its advisory lock: the same on every seat."""
    digest = hashlib.blake2b(lane.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """The store's SQL with psycopg's placeholders: `?` outside quotes becomes `%s`, `%` `%%`."""
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


def explain(exc: psycopg.Error, shown: str, secret: str | None) -> StoreError:
    """A server's failure as one line naming the database (without its password)."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if secret:
        text = text.replace(secret, "***")
    if "password" in text.lower() or isinstance(exc, pg_errors.InvalidAuthorizationSpecification):
        return StoreError(
            f"the database server refused the login for {shown}: {text}",
            hint="put the password in PGPASSWORD or ~/.pgpass (never in a shared file)",
        )
    if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return StoreError(f"the state database {shown} was busy: {text}", retryable=True)
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnreachable(
            f"cannot reach the state database {shown}: {text}",
            hint="nothing was changed: run the same command again once the server answers; "
            "check that it runs and that --db (or QA_DATABASE_URL) names it",
        )
    if isinstance(exc, pg_errors.DiskFull):
        return StoreError(f"the database server of {shown} is out of disk space: {text}")
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return StoreError(
            f"the database user of {shown} may not do this: {text}",
            hint="the store needs to create and write its tables in that database",
        )
    return StoreError(f"the state database {shown} failed: {text}")


def _password(url: str) -> str | None:
    from urllib.parse import parse_qs, unquote, urlsplit

    try:
        parts = urlsplit(url)
        found = parts.password or parse_qs(parts.query).get("password", [None])[0]
    except ValueError:
        return None
    return unquote(found) if found else None


class PgDatabase:
    """A PostgreSQL connection with the calls the store makes of its SQLite one."""

    dialect = "postgresql"
    greatest = "greatest"
    flag_list = "string_agg(flag, ',' ORDER BY flag)"

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = redact(url)
        self._secret = _password(url)
        self._in_transaction = False
        self._conn = self._connect()

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                row_factory=_rows,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="qasession",
            )
            conn.adapters.register_dumper(bool, _BoolAsInteger)
            conn.execute("SET TIME ZONE 'UTC'")
        except psycopg.Error as exc:
            raise explain(exc, self.shown, self._secret) from None
        return conn

    def _usable(self) -> psycopg.Connection[Row]:
        if (self._conn.closed or self._conn.broken) and not self._in_transaction:
            self._conn = self._connect()  # the network came back (or the server restarted)
        return self._conn

    def begin(self, lanes: Sequence[str] = ()) -> None:
        self._in_transaction = False
        self.execute("BEGIN")
        self._in_transaction = True
        if not lanes:
            self.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY,))
            return
        self.execute("SELECT pg_advisory_xact_lock_shared(?)", (LOCK_KEY,))
        for key in sorted({lane_key(lane) for lane in lanes}):  # one order: no deadlock
            self.execute("SELECT pg_advisory_xact_lock(?, ?)", (LANE_SPACE, key))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Row]:
        if sql in ("COMMIT", "ROLLBACK"):
            self._in_transaction = False
        conn = self._usable()
        try:
            return conn.execute(translate(sql), params)
        except psycopg.OperationalError as exc:
            if not (conn.broken and self._may_retry(sql)):
                raise explain(exc, self.shown, self._secret) from None
        except psycopg.Error as exc:
            raise explain(exc, self.shown, self._secret) from None
        # the connection was lost before this statement did anything: once more, on a new one
        try:
            return self._usable().execute(translate(sql), params)
        except psycopg.Error as exc:
            raise explain(exc, self.shown, self._secret) from None

    def _may_retry(self, sql: str) -> bool:
        """Whether `sql` may run again after the connection broke under it: a BEGIN, or a
        read outside a transaction (a write may have been done before the answer was lost)."""
        if self._in_transaction:
            return False
        head = sql.lstrip()[:6].upper()
        return head == "BEGIN" or (head == "SELECT" and "pg_" not in sql)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Row]:
        cursor = self._usable().cursor()
        try:
            cursor.executemany(translate(sql), rows)
        except psycopg.Error as exc:
            raise explain(exc, self.shown, self._secret) from None
        return cursor

    def close(self) -> None:
        self._conn.close()


def connect_pg(url: str, *, readonly: bool = False) -> PgDatabase:
    """A connection to the PostgreSQL database at `url` with the store's migrations applied
    (`readonly`: applied all the same, since a shared server is never a read-only home)."""
    db = PgDatabase(url)
    try:
        apply_migrations(db)
    except BaseException:
        db.close()
        raise
    return db
