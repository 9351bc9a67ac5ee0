"""The Store: one SQLite database per home directory (WAL), or a team's PostgreSQL database
(`QA_DATABASE_URL`, `--db`); this module holds the posts repository and puts the Store
together from the repositories of `store/`.

Invariants it carries:
- a post seen is stored once (session, platform, id); the polling cursor of a source is written
  in the same transaction as the posts it covers, so a restart resumes exactly where the last
  commit ended;
- every outgoing item is an outbox row (an *intent*) before it is sent (see `store.outbox`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qasession.platforms.base import Post
from qasession.store.control import ControlRepo
from qasession.store.engine import DB_NAME, connect, database_url, from_iso, to_iso
from qasession.store.outbox import OUTBOX_STATES, OutboxItem, OutboxRepo
from qasession.store.sessions import SessionsRepo

if TYPE_CHECKING:
    from qasession.triage import Weights

__all__ = ["DB_NAME", "OUTBOX_STATES", "OutboxItem", "PostRecord", "Store", "from_iso", "to_iso"]


@dataclass(slots=True)
class PostRecord:
    """A stored post with its triage results."""

    post: Post
    status: str  # queued|answering|answered|skipped|hidden|chatter|own|repost|merged
    is_question: bool = False
    flags: frozenset[str] = frozenset()
    duplicate_of: str | None = None
    first_time: bool = False
    number: int | None = None  # the question's number in the session (what the host types)
    # the platform of `duplicate_of` when it is another than this post's (None: the same)
    duplicate_platform: str | None = None


_INSERT_POSTS = (
    "INSERT INTO posts (session_id, platform, id, number, author, author_id, text, "
    "created_at, kind, ref, likes, reposts, lang, url, seen_at, is_question, status, "
    "duplicate_of, first_time, extra, duplicate_platform) VALUES "
)
_INSERT_FLAGS = (
    "INSERT INTO post_flags (session_id, platform, post_id, flag) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
# a session's questions, merged duplicates left out (the first parameter is the session)
_QUESTIONS = "session_id = ? AND is_question = 1 AND duplicate_of IS NULL"
_QUEUED = f"{_QUESTIONS} AND status = 'queued'"
# the columns a queue listing shows and ranks by (session.queue.queue_row); a post's flags are
# rows of post_flags, selected with `flags_column` after these
LISTED_COLUMNS = (
    "number", "platform", "id", "author", "text", "status", "duplicates", "likes",
    "reposts", "pinned", "created_at", "first_time", "cross_likes", "cross_reposts",
)  # fmt: skip
_LISTED = ", ".join(LISTED_COLUMNS)
# the columns of `scored_question_rows`, in order: its readers take them by position
SCORED_COLUMNS = (*LISTED_COLUMNS, "flags", "_score")
_POST_VALUES = "(" + ",".join("?" * 21) + ")"
_ROWS_PER_INSERT = 20  # 420 bound values: within SQLite's oldest limit (999); 100 = 5 x 20
_IGNORE = " ON CONFLICT DO NOTHING"  # a post already stored is left as it is
_INSERT_MANY_POSTS = _INSERT_POSTS + ",".join([_POST_VALUES] * _ROWS_PER_INSERT) + _IGNORE


def flags_column(db: Any) -> str:
    """A post's flags as the rows read back show them: its `post_flags` rows joined as
    comma-separated text in name order ('' when it has none), an expression over `posts`."""
    return (
        f"coalesce((SELECT {db.flag_list} FROM post_flags f WHERE f.session_id = "
        "posts.session_id AND f.platform = posts.platform AND f.post_id = posts.id), '') AS flags"
    )


def post_columns(db: Any) -> str:
    """Every column of a stored post, its flags included (what `SELECT *` gave before)."""
    return f"posts.*, {flags_column(db)}"


def row_to_post(row: Any) -> Post:
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
        platform=row["platform"],
        author_id=row["author_id"],
        extra=json.loads(row["extra"]) if row["extra"] else {},
    )


def _values(session_id: str, r: PostRecord, seen: str, source: str) -> tuple[Any, ...]:
    post = r.post
    return (
        session_id,
        post.platform or source,
        post.id,
        r.number,
        post.author,
        post.author_id,
        post.text,
        to_iso(post.created_at),
        post.kind,
        post.ref,
        post.likes,
        post.reposts,
        post.lang,
        post.url,
        seen,
        int(r.is_question),
        r.status,
        r.duplicate_of,
        int(r.first_time),
        json.dumps(post.extra) if post.extra else None,
        r.duplicate_platform,
    )


def _number_questions(db: Any, session_id: str, records: Sequence[PostRecord]) -> None:
    """Give each new question the next number of its session (in the writing transaction,
    so two writers never hand out one number twice)."""
    if not any(r.is_question and r.number is None for r in records):
        return
    (latest,) = db.execute(
        "SELECT max(number) FROM posts WHERE session_id = ? AND number IS NOT NULL", (session_id,)
    ).fetchone()
    number = int(latest or 0)
    for r in records:
        if r.is_question and r.number is None:
            number += 1
            r.number = number


def _new_flags(
    db: Any, session_id: str, records: Sequence[PostRecord], source: str
) -> list[tuple[str, str, str, str]]:
    """The `post_flags` rows of the flagged posts among `records` not stored yet (a post
    already stored is left as it is, its flags too; the first of a post met twice counts)."""
    firsts: dict[tuple[str, str], PostRecord] = {}
    for r in records:
        if r.flags:
            firsts.setdefault((r.post.platform or source, r.post.id), r)
    if not firsts:
        return []
    by_platform: dict[str, list[str]] = {}
    for platform, post_id in firsts:
        by_platform.setdefault(platform, []).append(post_id)
    for platform, ids in by_platform.items():  # by the (session, platform, id) index
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for (post_id,) in db.execute(
                f"SELECT id FROM posts WHERE session_id = ? AND platform = ? AND id IN ({marks})",
                (session_id, platform, *chunk),
            ):
                firsts.pop((platform, post_id), None)
    return [
        (session_id, platform, post_id, flag)
        for (platform, post_id), r in firsts.items()
        for flag in sorted(r.flags)
    ]


class Store(SessionsRepo, OutboxRepo, ControlRepo):
    """Session state under one home directory, or in a team's PostgreSQL database (`url`;
    default `engine.database_url()`: --db, else $QA_DATABASE_URL). Safe to open from several
    processes, and machines, at once."""

    def __init__(self, path: Path, *, readonly: bool = False, url: str | None = None) -> None:
        self.path = path
        self.readonly = readonly
        self.url = url if url is not None else database_url()
        if self.url:
            from qasession.store.postgres import connect_pg

            self.db = connect_pg(self.url, readonly=readonly)
        else:
            self.db = connect(path, readonly=readonly)

    @classmethod
    def open(cls, home: Path, *, readonly: bool = False, url: str | None = None) -> Store:
        return cls(home / DB_NAME, readonly=readonly, url=url)

    def close(self) -> None:
        self.db.close()

    # -- posts -----------------------------------------------------------------------------

    def known_ids(
        self, session_id: str, ids: Sequence[str], platform: str | None = None
    ) -> set[str]:
        if not ids:
            return set()
        found: set[str] = set()
        scope = "session_id = ?" + (" AND platform = ?" if platform is not None else "")
        head: tuple[Any, ...] = (session_id,) if platform is None else (session_id, platform)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT id FROM posts WHERE {scope} AND id IN ({marks})", (*head, *chunk)
                )
            )
        return found

    def max_question_number(self, session_id: str) -> int:
        (number,) = self.db.execute(
            "SELECT max(number) FROM posts WHERE session_id = ? AND number IS NOT NULL",
            (session_id,),
        ).fetchone()
        return int(number or 0)

    def save_page(
        self,
        session_id: str,
        records: Sequence[PostRecord],
        cursor: str | None,
        *,
        engagement: Iterable[str] = (),
        seen_at: datetime,
        source: str | None = None,
    ) -> int:
        """Store one search page of `source` and advance its cursor in one transaction.

        `engagement` lists the originals (ids on `source`) whose reposts this page brought:
        their repost count becomes at least the number of reposts stored. Posts already
        stored are left as they are. Returns how many posts were new.
        """
        seen = to_iso(seen_at)
        with self.transaction(self.ingest_lane(session_id)) as db:
            if source is None:
                found = db.execute(
                    "SELECT platform FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
                source = found["platform"] if found else ""
            _number_questions(db, session_id, records)
            flagged = _new_flags(db, session_id, records, source)
            rows = [_values(session_id, r, seen, source) for r in records]
            new = 0
            # Rows go by 20 to one INSERT, a quarter cheaper than executemany's step per row
            # (one SQL text, so one cached statement); the rest go through executemany.
            whole = len(rows) - len(rows) % _ROWS_PER_INSERT
            for start in range(0, whole, _ROWS_PER_INSERT):
                chunk = rows[start : start + _ROWS_PER_INSERT]
                cur = db.execute(_INSERT_MANY_POSTS, [value for row in chunk for value in row])
                new += max(cur.rowcount, 0)
            if whole < len(rows):
                cur = db.executemany(_INSERT_POSTS + _POST_VALUES + _IGNORE, rows[whole:])
                new += max(cur.rowcount, 0)
            if flagged:
                db.executemany(_INSERT_FLAGS, flagged)
            self._count_merged(db, session_id, records, source)
            self._count_reposts(db, session_id, source, engagement)
            if cursor is not None:
                db.execute(
                    "UPDATE sources SET cursor = ? WHERE session_id = ? AND source = ?",
                    (cursor, session_id, source),
                )
        return new

    @staticmethod
    def _count_merged(db: Any, session_id: str, records: Sequence[PostRecord], source: str) -> None:
        merged: dict[tuple[str, str], int] = {}
        across: set[tuple[str, str]] = set()
        for r in records:
            if r.duplicate_of:
                key = (r.duplicate_platform or r.post.platform or source, r.duplicate_of)
                merged[key] = merged.get(key, 0) + 1
                if r.duplicate_platform:
                    across.add(key)
        if merged:
            db.executemany(
                "UPDATE posts SET duplicates = duplicates + ? "
                "WHERE session_id = ? AND platform = ? AND id = ?",
                [(n, session_id, platform, qid) for (platform, qid), n in merged.items()],
            )
        Store._sum_across(db, session_id, across)

    @staticmethod
    def _sum_across(db: Any, session_id: str, questions: Iterable[tuple[str, str]]) -> None:
        """The engagement of the same question on other platforms counts in its rank: each
        (platform, id) question gets the likes and reposts of the posts merged into it from
        there (`cross_likes`, `cross_reposts`)."""
        keys = sorted(set(questions))
        if not keys:
            return
        sums = (
            "(SELECT coalesce(sum(m.{0}), 0) FROM posts m WHERE m.session_id = "
            "posts.session_id AND m.duplicate_platform = posts.platform AND "
            "m.duplicate_of = posts.id)"
        )
        db.executemany(
            f"UPDATE posts SET cross_likes = {sums.format('likes')}, "
            f"cross_reposts = {sums.format('reposts')} "
            "WHERE session_id = ? AND platform = ? AND id = ?",
            [(session_id, platform, qid) for platform, qid in keys],
        )

    @staticmethod
    def _count_reposts(db: Any, session_id: str, source: str, engagement: Iterable[str]) -> None:
        originals = sorted(set(engagement))
        if not originals:
            return
        # a platform's own count may already include the reposts we see: take the larger
        marks = ",".join("?" * len(originals))
        counts = db.execute(
            f"SELECT ref, count(*) FROM posts WHERE session_id = ? AND platform = ? "
            f"AND kind = 'repost' AND ref IN ({marks}) GROUP BY ref",
            (session_id, source, *originals),
        ).fetchall()
        db.executemany(
            f"UPDATE posts SET reposts = {db.greatest}(reposts, ?) "
            "WHERE session_id = ? AND platform = ? AND id = ?",
            [(n, session_id, source, ref) for ref, n in counts],
        )

    def update_metrics(self, session_id: str, posts: Iterable[Post]) -> None:
        """Refresh like and repost counts of stored posts (from a platform lookup); a post
        merged into the same question on another platform passes them on to it."""
        posts = list(posts)
        with self.transaction(self.ingest_lane(session_id)) as db:
            db.executemany(
                f"UPDATE posts SET likes = ?, reposts = {db.greatest}(reposts, ?) "
                "WHERE session_id = ? AND platform = ? AND id = ?",
                [(p.likes, p.reposts, session_id, p.platform, p.id) for p in posts],
            )
            across: set[tuple[str, str]] = set()
            for platform in sorted({p.platform for p in posts}):
                ids = sorted({p.id for p in posts if p.platform == platform})
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk : chunk + 500]
                    marks = ",".join("?" * len(part))
                    across.update(
                        (row[0], row[1])
                        for row in db.execute(
                            "SELECT duplicate_platform, duplicate_of FROM posts "
                            f"WHERE session_id = ? AND platform = ? AND id IN ({marks}) "
                            "AND duplicate_platform IS NOT NULL",
                            (session_id, platform, *part),
                        )
                    )
            self._sum_across(db, session_id, across)

    def posts(self, session_id: str, *, where: str = "", params: Sequence[Any] = ()) -> list[Any]:
        """Stored posts (rows by name and position) oldest first; `where` is extra SQL on the
        posts table, with `?` parameters (the same SQL on SQLite and PostgreSQL)."""
        sql = f"SELECT {post_columns(self.db)} FROM posts WHERE session_id = ?"
        if where:
            sql += f" AND ({where})"
        sql += " ORDER BY created_at, id"
        return list(self.db.execute(sql, (session_id, *params)))

    def iter_posts(self, session_id: str) -> Iterator[Any]:
        yield from self.db.execute(
            f"SELECT {post_columns(self.db)} FROM posts WHERE session_id = ? "
            "ORDER BY created_at, id",
            (session_id,),
        )

    def merged_from(
        self, session_id: str, platform: str, questions: Sequence[tuple[str, str]]
    ) -> list[str]:
        """The ids of `platform`'s posts merged into any of `questions` ((platform, id) of
        the same question asked on another platform of the session)."""
        wanted = {(q_platform, qid) for q_platform, qid in questions if q_platform != platform}
        if not wanted:
            return []
        rows = self.db.execute(
            "SELECT id, duplicate_platform, duplicate_of FROM posts WHERE session_id = ? "
            "AND platform = ? AND duplicate_platform IS NOT NULL ORDER BY id",
            (session_id, platform),
        )
        return [row[0] for row in rows if (row[1], row[2]) in wanted]

    def post_row(self, session_id: str, post_id: str, platform: str | None = None) -> Any:
        """A stored post by its id on `platform` (None: on whichever platform has it)."""
        where, params = self._one(session_id, post_id, platform)
        row: Any = self.db.execute(
            f"SELECT {post_columns(self.db)} FROM posts WHERE {where} ORDER BY rowid LIMIT 1",
            params,
        ).fetchone()
        return row

    def question_row(self, session_id: str, number: int) -> Any:
        """A question by its number in the session (None when there is none)."""
        row: Any = self.db.execute(
            f"SELECT {post_columns(self.db)} FROM posts WHERE session_id = ? AND number = ?",
            (session_id, number),
        ).fetchone()
        return row

    def question_rows(self, session_id: str, statuses: Sequence[str] = ("queued",)) -> list[Any]:
        marks = ",".join("?" * len(statuses))
        return list(
            self.db.execute(
                f"SELECT {post_columns(self.db)} FROM posts "
                f"WHERE {_QUESTIONS} AND status IN ({marks})",
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

    def _score_slack(
        self, session_id: str, weights: Weights, *, now_ts: float, start_ts: float
    ) -> tuple[int, float | None]:
        """How many questions are queued, and how far `sql_score` may be from the exact score
        for them (`triage.ranking.sql_tolerance`); None when SQLite cannot score them all (a
        date it cannot read, or scores that overflow)."""
        from qasession.triage.ranking import COUNT_COLUMNS, sql_tolerance

        maxima = ", ".join(f"max({column})" for column in COUNT_COLUMNS)
        total, undated, *largest = self.db.execute(
            f"SELECT count(*), count(*) - count(julianday(created_at)), {maxima} "
            f"FROM posts WHERE {_QUEUED}",
            (session_id,),
        ).fetchone()
        slack = sql_tolerance(
            weights,
            now_ts=now_ts,
            start_ts=start_ts,
            largest={c: v or 0 for c, v in zip(COUNT_COLUMNS, largest, strict=True)},
        )
        return int(total), None if undated or not math.isfinite(slack) else slack

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
        from qasession.triage.ranking import sql_score

        if self.db.dialect != "sqlite":
            # the score is written in SQLite's SQL (julianday, instr): all of them, ranked
            # exactly by the caller
            return self.question_rows(session_id, ("queued",))
        score, params = sql_score(weights, now_ts=now_ts, start_ts=start_ts)
        total, slack = self._score_slack(session_id, weights, now_ts=now_ts, start_ts=start_ts)
        if total <= limit or slack is None:
            # all of them; or a date SQLite cannot read, or scores that overflow: rank in full
            return self.question_rows(session_id, ("queued",))
        # One scan: the best `limit` and some more. Only when ties run past those (questions
        # asked ahead all count their age from the start) does a second scan fetch every
        # question within the slack of the limit-th.
        extra = 64
        best = self.db.execute(
            f"SELECT {post_columns(self.db)}, {score} AS _score FROM posts WHERE {_QUEUED} "
            "ORDER BY _score DESC LIMIT ?",
            (*params, session_id, limit + extra),
        ).fetchall()
        threshold = best[limit - 1]["_score"] - slack
        if len(best) == limit + extra and best[-1]["_score"] >= threshold:
            return list(
                self.db.execute(
                    f"SELECT {post_columns(self.db)} FROM posts WHERE {_QUEUED} AND {score} >= ?",
                    (session_id, *params, threshold),
                )
            )
        return [row for row in best if row["_score"] >= threshold]

    def scored_question_rows(
        self, session_id: str, weights: Weights, *, now_ts: float, start_ts: float
    ) -> tuple[float, Iterator[Any]] | None:
        """Every queued question, best first by `sql_score` (the row's `_score`), with the
        tolerance within which each exact score lies (see `_score_slack`); None when SQLite
        cannot score them all. Rows come as the iterator is consumed (SQLite's sorter spills
        to disk), with the columns a listing shows, so memory stays flat whatever the size
        of the queue; each a sqlite3.Row (made in C), its columns SCORED_COLUMNS in order."""
        from qasession.triage.ranking import sql_score

        if self.db.dialect != "sqlite":
            return None  # the score is written in SQLite's SQL: the caller ranks in full
        _, slack = self._score_slack(session_id, weights, now_ts=now_ts, start_ts=start_ts)
        if slack is None:
            return None
        score, params = sql_score(weights, now_ts=now_ts, start_ts=start_ts)
        rows = self.db.cursor()
        rows.execute(
            f"SELECT {_LISTED}, {flags_column(self.db)}, {score} AS _score FROM posts "
            f"WHERE {_QUEUED} ORDER BY _score DESC",
            (*params, session_id),
        )
        return slack, rows

    def set_status(
        self,
        session_id: str,
        post_id: str,
        status: str,
        platform: str | None = None,
        *,
        only_from: Sequence[str] | None = None,
    ) -> bool:
        """Set a post's status (only when it is one of `only_from`, if given)."""
        where, params = self._one(session_id, post_id, platform)
        if only_from:
            where += f" AND status IN ({','.join('?' * len(only_from))})"
            params += tuple(only_from)
        with self.transaction(self.session_lane(session_id)) as db:
            cur = db.execute(f"UPDATE posts SET status = ? WHERE {where}", (status, *params))
        return bool(cur.rowcount > 0)

    def set_pinned(
        self, session_id: str, post_id: str, pinned: bool, platform: str | None = None
    ) -> bool:
        where, params = self._one(session_id, post_id, platform)
        with self.transaction(self.session_lane(session_id)) as db:
            cur = db.execute(f"UPDATE posts SET pinned = ? WHERE {where}", (int(pinned), *params))
        return bool(cur.rowcount > 0)

    @staticmethod
    def _one(session_id: str, post_id: str, platform: str | None) -> tuple[str, tuple[Any, ...]]:
        if platform is None:
            return "session_id = ? AND id = ?", (session_id, post_id)
        return "session_id = ? AND platform = ? AND id = ?", (session_id, platform, post_id)

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
        # an empty list is SQLite's extension: PostgreSQL wants the condition left out
        counted = "session_id = ?" + (f" AND status NOT IN ({marks})" if skip else "")
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
