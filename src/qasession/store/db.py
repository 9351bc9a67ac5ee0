"""The Store: one SQLite database per home directory (WAL), the only module that writes SQL.

Invariants it carries:
- a post seen is stored once (primary key); the polling cursor is written in the same
  transaction as the posts it covers, so a restart resumes exactly where the last commit ended;
- every outgoing item is an outbox row (an *intent*) before it is sent, is marked `sending`
  (committed) right before the platform call and `sent` with the platform's id after it;
  a row found `sending` after a crash may have been sent and is reconciled, never re-sent blindly.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qasession.platforms.base import Post
from qasession.store.migrations import apply_migrations

if TYPE_CHECKING:
    from qasession.triage import Weights

DB_NAME = "qa.db"
OUTBOX_STATES = ("intent", "sending", "sent", "failed", "uncertain", "cancelled")


def to_iso(moment: datetime) -> str:
    """A sortable UTC ISO-8601 text for `moment` (always the same width)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(slots=True)
class OutboxItem:
    """One outgoing post, repost or direct message, as an intent."""

    key: str  # idempotency key, unique across the store
    kind: str  # announcement|opening|closing|after_party|repost|answer|dm|notice|draft|thread
    text: str | None = None
    op: str = ""  # the operation it belongs to (answer N); steps run in `seq` order
    seq: int = 0
    reply_to: str | None = None
    quote_of: str | None = None
    repost_of: str | None = None
    dm_to: str | None = None
    media: list[str] = field(default_factory=list)
    question_id: str | None = None
    not_before: datetime | None = None
    # filled when read back
    id: int = 0
    session_id: str = ""
    state: str = "intent"
    attempts: int = 0
    platform_id: str | None = None
    error: str | None = None
    created_at: str = ""
    sent_at: str | None = None


@dataclass(slots=True)
class PostRecord:
    """A stored post with its triage results."""

    post: Post
    status: str  # queued|answered|skipped|hidden|chatter|own|repost|merged
    is_question: bool = False
    flags: frozenset[str] = frozenset()
    duplicate_of: str | None = None
    first_time: bool = False


_INSERT_POSTS = (
    "INSERT OR IGNORE INTO posts (session_id, id, author, text, created_at, kind, ref, likes, "
    "reposts, lang, url, seen_at, is_question, status, flags, duplicate_of, first_time) VALUES "
)
# a session's questions, merged duplicates left out (the first parameter is the session)
_QUESTIONS = "session_id = ? AND is_question = 1 AND duplicate_of IS NULL"
_POST_VALUES = "(" + ",".join("?" * 17) + ")"
_ROWS_PER_INSERT = 25  # 425 bound values: within SQLite's oldest limit (999); 100 = 4 x 25
_INSERT_MANY_POSTS = _INSERT_POSTS + ",".join([_POST_VALUES] * _ROWS_PER_INSERT)

_OUTBOX_COLUMNS = (
    "id, session_id, key, op, seq, kind, text, reply_to, quote_of, repost_of, dm_to, media, "
    "question_id, state, attempts, platform_id, error, not_before, created_at, sent_at"
)


def _outbox_row(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        session_id=row["session_id"],
        key=row["key"],
        op=row["op"],
        seq=row["seq"],
        kind=row["kind"],
        text=row["text"],
        reply_to=row["reply_to"],
        quote_of=row["quote_of"],
        repost_of=row["repost_of"],
        dm_to=row["dm_to"],
        media=json.loads(row["media"]) if row["media"] else [],
        question_id=row["question_id"],
        state=row["state"],
        attempts=row["attempts"],
        platform_id=row["platform_id"],
        error=row["error"],
        not_before=from_iso(row["not_before"]) if row["not_before"] else None,
        created_at=row["created_at"],
        sent_at=row["sent_at"],
    )


def row_to_post(row: sqlite3.Row) -> Post:
    return Post(
        id=row["id"],
        author=row["author"],
        text=row["text"],
        created_at=from_iso(row["created_at"]),
        kind=row["kind"],
        ref=row["ref"],
        likes=row["likes"],
        reposts=row["reposts"],
        lang=row["lang"],
        url=row["url"],
    )


class Store:
    """Session state under one home directory. Safe to open from several processes at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        apply_migrations(self.db)

    @classmethod
    def open(cls, home: Path) -> Store:
        return cls(home / DB_NAME)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE, so writers queue instead of failing)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- sessions --------------------------------------------------------------------------

    def ensure_session(self, session_id: str, hashtag: str, platform: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sessions (id, hashtag, platform) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET hashtag = excluded.hashtag, "
                "platform = excluded.platform",
                (session_id, hashtag, platform),
            )

    def session_row(self, session_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return dict(row) if row else None

    def cursor(self, session_id: str) -> str | None:
        row = self.db.execute("SELECT cursor FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row["cursor"] if row else None

    def set_session_fields(self, session_id: str, **values: Any) -> None:
        allowed = {"started_at", "ended_at", "clock", "counters", "cursor"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self.transaction() as db:
            db.execute(
                f"UPDATE sessions SET {assignments} WHERE id = ?",
                (*values.values(), session_id),
            )

    def reset_session(self, session_id: str) -> None:
        """Forget everything stored for `session_id` (a rehearsal starting over)."""
        with self.transaction() as db:
            for table in ("posts", "outbox", "commands", "moderation", "events"):
                db.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # -- posts -----------------------------------------------------------------------------

    def known_ids(self, session_id: str, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT id FROM posts WHERE session_id = ? AND id IN ({marks})",
                    (session_id, *chunk),
                )
            )
        return found

    def save_page(
        self,
        session_id: str,
        records: Sequence[PostRecord],
        cursor: str | None,
        *,
        engagement: Iterable[str] = (),
        seen_at: datetime,
    ) -> int:
        """Store one search page and advance the cursor in one transaction.

        `engagement` lists the originals whose reposts this page brought: their repost count
        becomes at least the number of reposts stored. Posts already stored are left as they
        are. Returns how many posts were new.
        """
        seen = to_iso(seen_at)
        rows = []
        for r in records:
            post = r.post
            rows.append(
                (
                    session_id,
                    post.id,
                    post.author,
                    post.text,
                    to_iso(post.created_at),
                    post.kind,
                    post.ref,
                    post.likes,
                    post.reposts,
                    post.lang,
                    post.url,
                    seen,
                    r.is_question,
                    r.status,
                    ",".join(sorted(r.flags)) if r.flags else "",
                    r.duplicate_of,
                    r.first_time,
                )
            )
        with self.transaction() as db:
            before = db.total_changes
            # Rows go by 25 to one INSERT, a quarter cheaper than executemany's step per row
            # (one SQL text, so one cached statement); the rest go through executemany.
            whole = len(rows) - len(rows) % _ROWS_PER_INSERT
            for start in range(0, whole, _ROWS_PER_INSERT):
                chunk = rows[start : start + _ROWS_PER_INSERT]
                db.execute(_INSERT_MANY_POSTS, [value for row in chunk for value in row])
            if whole < len(rows):
                db.executemany(_INSERT_POSTS + _POST_VALUES, rows[whole:])
            new = db.total_changes - before
            merged: dict[str, int] = {}
            for r in records:
                if r.duplicate_of:
                    merged[r.duplicate_of] = merged.get(r.duplicate_of, 0) + 1
            if merged:
                db.executemany(
                    "UPDATE posts SET duplicates = duplicates + ? WHERE session_id = ? AND id = ?",
                    [(n, session_id, qid) for qid, n in merged.items()],
                )
            originals = sorted(set(engagement))
            if originals:
                # a platform's own count may already include the reposts we see: take the larger
                marks = ",".join("?" * len(originals))
                counts = db.execute(
                    f"SELECT ref, count(*) FROM posts WHERE session_id = ? AND kind = 'repost' "
                    f"AND ref IN ({marks}) GROUP BY ref",
                    (session_id, *originals),
                ).fetchall()
                db.executemany(
                    "UPDATE posts SET reposts = MAX(reposts, ?) WHERE session_id = ? AND id = ?",
                    [(n, session_id, ref) for ref, n in counts],
                )
            if cursor is not None:
                db.execute("UPDATE sessions SET cursor = ? WHERE id = ?", (cursor, session_id))
        return new

    def update_metrics(self, session_id: str, posts: Iterable[Post]) -> None:
        """Refresh like and repost counts of stored posts (from a platform lookup)."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE posts SET likes = ?, reposts = MAX(reposts, ?) "
                "WHERE session_id = ? AND id = ?",
                [(p.likes, p.reposts, session_id, p.id) for p in posts],
            )

    def posts(self, session_id: str, *, where: str = "", params: Sequence[Any] = ()) -> list[Any]:
        """Stored posts (sqlite3.Row) oldest first; `where` is extra SQL on the posts table."""
        sql = "SELECT * FROM posts WHERE session_id = ?"
        if where:
            sql += f" AND ({where})"
        sql += " ORDER BY created_at, id"
        return list(self.db.execute(sql, (session_id, *params)))

    def iter_posts(self, session_id: str) -> Iterator[sqlite3.Row]:
        yield from self.db.execute(
            "SELECT * FROM posts WHERE session_id = ? ORDER BY created_at, id", (session_id,)
        )

    def post_row(self, session_id: str, post_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM posts WHERE session_id = ? AND id = ?", (session_id, post_id)
        ).fetchone()
        return row

    def question_rows(self, session_id: str, statuses: Sequence[str] = ("queued",)) -> list[Any]:
        marks = ",".join("?" * len(statuses))
        return list(
            self.db.execute(
                f"SELECT * FROM posts WHERE {_QUESTIONS} AND status IN ({marks})",
                (session_id, *statuses),
            )
        )

    def count_questions(self, session_id: str, statuses: Sequence[str] = ("queued",)) -> int:
        marks = ",".join("?" * len(statuses))
        row = self.db.execute(
            f"SELECT count(*) FROM posts WHERE {_QUESTIONS} AND status IN ({marks})",
            (session_id, *statuses),
        ).fetchone()
        return int(row[0])

    def top_question_rows(
        self,
        session_id: str,
        weights: Weights,
        *,
        now_ts: float,
        start_ts: float,
        limit: int,
    ) -> list[Any]:
        """The queued questions that can be among the `limit` best: SQLite scores every one
        (`triage.ranking.sql_score`, the score of `triage.rank` to SQLite's precision) and
        returns all those scoring within its tolerance of the limit-th best. The caller ranks
        these exactly, so a queue of 100,000 questions costs one scan in C rather than 100,000
        rows in Python."""
        from qasession.triage.ranking import COUNT_COLUMNS, sql_score, sql_tolerance

        score, params = sql_score(weights, now_ts=now_ts, start_ts=start_ts)
        where = f"{_QUESTIONS} AND status = 'queued'"
        maxima = ", ".join(f"max({column})" for column in COUNT_COLUMNS)
        total, undated, *largest = self.db.execute(
            f"SELECT count(*), count(*) - count(julianday(created_at)), {maxima} "
            f"FROM posts WHERE {where}",
            (session_id,),
        ).fetchone()
        slack = sql_tolerance(
            weights,
            now_ts=now_ts,
            start_ts=start_ts,
            largest={c: v or 0 for c, v in zip(COUNT_COLUMNS, largest, strict=True)},
        )
        if total <= limit or undated or not math.isfinite(slack):
            # all of them; or a date SQLite cannot read, or scores that overflow: rank in full
            return self.question_rows(session_id, ("queued",))
        # One scan: the best `limit` and some more. Only when ties run past those (questions
        # asked ahead all count their age from the start) does a second scan fetch every
        # question within the slack of the limit-th.
        extra = 64
        best = self.db.execute(
            f"SELECT *, {score} AS _score FROM posts WHERE {where} ORDER BY _score DESC LIMIT ?",
            (*params, session_id, limit + extra),
        ).fetchall()
        threshold = best[limit - 1]["_score"] - slack
        if len(best) == limit + extra and best[-1]["_score"] >= threshold:
            return list(
                self.db.execute(
                    f"SELECT * FROM posts WHERE {where} AND {score} >= ?",
                    (session_id, *params, threshold),
                )
            )
        return [row for row in best if row["_score"] >= threshold]

    def set_status(self, session_id: str, post_id: str, status: str) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE posts SET status = ? WHERE session_id = ? AND id = ?",
                (status, session_id, post_id),
            )
        return cur.rowcount > 0

    def set_pinned(self, session_id: str, post_id: str, pinned: bool) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE posts SET pinned = ? WHERE session_id = ? AND id = ?",
                (int(pinned), session_id, post_id),
            )
        return cur.rowcount > 0

    def count_posts(self, session_id: str) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM posts WHERE session_id = ?", (session_id,)
        ).fetchone()
        return int(row[0])

    def latest_post_times(
        self, session_id: str, window: timedelta, *, skip: Sequence[str] = ()
    ) -> list[tuple[str, datetime]]:
        """(author, created_at) of the posts written in the last `window` before the latest
        one (statuses in `skip` left out), oldest first: what flood counting had in view."""
        marks = ",".join("?" * len(skip))
        counted = f"session_id = ? AND status NOT IN ({marks})"
        (latest,) = self.db.execute(
            f"SELECT max(created_at) FROM posts WHERE {counted}", (session_id, *skip)
        ).fetchone()
        if latest is None:
            return []
        horizon = to_iso(from_iso(latest) - window)
        rows = self.db.execute(
            f"SELECT author, created_at FROM posts WHERE {counted} AND created_at >= ? "
            "ORDER BY created_at",
            (session_id, *skip, horizon),
        )
        return [(author, from_iso(created)) for author, created in rows]

    # -- outbox ----------------------------------------------------------------------------

    def add_intents(self, session_id: str, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        """Write intents (one transaction); an item whose key exists is left as it is.
        Returns the stored rows for the given keys."""
        now = to_iso(datetime.now(UTC))
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO outbox (session_id, key, op, seq, kind, text, reply_to, "
                "quote_of, repost_of, dm_to, media, question_id, not_before, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        session_id,
                        i.key,
                        i.op or i.key,
                        i.seq,
                        i.kind,
                        i.text,
                        i.reply_to,
                        i.quote_of,
                        i.repost_of,
                        i.dm_to,
                        json.dumps(i.media) if i.media else None,
                        i.question_id,
                        to_iso(i.not_before) if i.not_before else None,
                        now,
                    )
                    for i in items
                ],
            )
        return [item for i in items if (item := self.outbox_item(i.key)) is not None]

    def outbox_item(self, key: str) -> OutboxItem | None:
        row = self.db.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE key = ?", (key,))
        found = row.fetchone()
        return _outbox_row(found) if found else None

    def outbox(
        self, session_id: str | None = None, states: Sequence[str] | None = None
    ) -> list[OutboxItem]:
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE 1=1"
        params: list[Any] = []
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(states)
        sql += " ORDER BY id"
        return [_outbox_row(r) for r in self.db.execute(sql, params)]

    def op_steps(self, op: str) -> list[OutboxItem]:
        return [
            _outbox_row(r)
            for r in self.db.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE op = ? ORDER BY seq", (op,)
            )
        ]

    def mark_sending(self, item_id: int) -> bool:
        """Claim an intent for sending; False when another process claimed or sent it."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1 "
                "WHERE id = ? AND state = 'intent'",
                (item_id,),
            )
        return cur.rowcount == 1

    def mark_sent(self, item_id: int, platform_id: str | None, at: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'sent', platform_id = ?, sent_at = ?, error = NULL "
                "WHERE id = ?",
                (platform_id, to_iso(at), item_id),
            )

    def mark_state(
        self,
        item_id: int,
        state: str,
        error: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        if state not in OUTBOX_STATES:
            raise ValueError(state)
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = ?, error = ?, not_before = ? WHERE id = ?",
                (state, error, to_iso(not_before) if not_before else None, item_id),
            )

    # -- commands (from other shells) ------------------------------------------------------

    def add_command(self, session_id: str, kind: str, args: dict[str, Any]) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO commands (session_id, kind, args, created_at) VALUES (?, ?, ?, ?)",
                (session_id, kind, json.dumps(args), to_iso(datetime.now(UTC))),
            )
        return int(cur.lastrowid or 0)

    def pending_commands(self, session_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        return [
            (row["id"], row["kind"], json.loads(row["args"]))
            for row in self.db.execute(
                "SELECT id, kind, args FROM commands WHERE session_id = ? AND state = 'pending' "
                "ORDER BY id",
                (session_id,),
            )
        ]

    def commands(self, session_id: str) -> list[dict[str, Any]]:
        return [
            {**dict(row), "args": json.loads(row["args"])}
            for row in self.db.execute(
                "SELECT * FROM commands WHERE session_id = ? ORDER BY id", (session_id,)
            )
        ]

    def finish_command(self, command_id: int, state: str, result: str | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE commands SET state = ?, result = ?, done_at = ? WHERE id = ?",
                (state, result, to_iso(datetime.now(UTC)), command_id),
            )

    # -- moderation ------------------------------------------------------------------------

    def add_moderation(self, session_id: str, handle: str, action: str, at: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO moderation (session_id, handle, action, at) "
                "VALUES (?, ?, ?, ?)",
                (session_id, handle.lower(), action, to_iso(at)),
            )
            if action in ("blocked", "muted"):
                db.execute(
                    "UPDATE posts SET status = 'hidden' WHERE session_id = ? "
                    "AND lower(author) = ? AND status = 'queued'",
                    (session_id, handle.lower()),
                )

    def moderation(self, session_id: str) -> dict[str, set[str]]:
        result: dict[str, set[str]] = {"blocked": set(), "muted": set()}
        for row in self.db.execute(
            "SELECT handle, action FROM moderation WHERE session_id = ?", (session_id,)
        ):
            result.setdefault(row["action"], set()).add(row["handle"])
        return result

    # -- events ----------------------------------------------------------------------------

    def add_event(self, session_id: str, event: str, data: dict[str, Any], at: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (session_id, at, event, data) VALUES (?, ?, ?, ?)",
                (session_id, to_iso(at), event, json.dumps(data)),
            )

    def events(self, session_id: str, event: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT at, event, data FROM events WHERE session_id = ?"
        params: list[Any] = [session_id]
        if event:
            sql += " AND event = ?"
            params.append(event)
        return [
            {"at": row["at"], "event": row["event"], **json.loads(row["data"])}
            for row in self.db.execute(sql + " ORDER BY id", params)
        ]
