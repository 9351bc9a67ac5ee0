"""The built-in local platform: a small social network in a SQLite file under the home directory.

It needs no account and no network, and is shared between processes (two shells see one
network). It behaves like a real platform: increasing ids, timestamps, reposts (a second repost
of one post is refused), replies, quotes, direct messages, media stored as paths, a length limit
counted like X, search by hashtag (case-insensitive) with a since-id cursor, and optional fault
injection and rate limits so rehearsals and tests meet the errors real platforms return.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypedDict, Unpack

from pydantic import BaseModel, ConfigDict, Field

from qasession.clock import Clock, SystemClock, VirtualClock
from qasession.errors import DuplicatePost, NotFound, PlatformError, RateLimited, StoreError
from qasession.platforms.base import (
    Author,
    Capabilities,
    Media,
    Platform,
    Post,
    PostRef,
    RateBudget,
    SearchLimits,
    SearchPage,
)
from qasession.text.safe import valid_text

NETWORK_FILE = "local-platform.db"
DEFAULT_HOST = "@host"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref INTEGER,
    to_handle TEXT,
    media TEXT,
    likes INTEGER NOT NULL DEFAULT 0,
    reposts INTEGER NOT NULL DEFAULT 0,
    client_key TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS likes (
    post_id INTEGER NOT NULL,
    handle TEXT NOT NULL,
    PRIMARY KEY (post_id, handle)
);
CREATE TABLE IF NOT EXISTS clock (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    virtual_anchor TEXT NOT NULL,
    real_anchor TEXT NOT NULL,
    speed REAL NOT NULL
);
"""


class LocalSettings(BaseModel):
    """Settings under `local:` in the plan."""

    model_config = ConfigDict(extra="forbid")

    max_length: int = Field(280, ge=10, description="length limit, counted like X")
    page_size: int = Field(100, ge=1, le=1000, description="posts per search request")
    fault_rate: float = Field(0.0, ge=0.0, le=0.9, description="share of calls that fail")
    fault_seed: int | None = Field(None, description="seed of the fault injector")
    rate_limit: int = Field(0, ge=0, description="search calls per window (0: unlimited)")
    rate_window: int = Field(900, ge=1, description="rate window in seconds")


def normalize_handle(handle: str) -> str:
    handle = handle.strip()
    return handle if handle.startswith("@") else "@" + handle


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class PostFields(TypedDict, total=False):
    """What a post on the local platform may carry besides its author, text and time."""

    kind: str  # post (the default), repost, reply, quote, dm
    ref: str | None  # the post reposted, replied to or quoted
    to: str | None  # a direct message's recipient
    media: Sequence[str]
    likes: int
    client_key: str | None  # an idempotency key: a second add with it returns the first


def network_file(name: str = "local") -> str:
    """The file of the local network `name`: `local` is the built-in one; each stand-in
    (`local:x`, `local:bsky`) is a network of its own, so posts on one are not seen on another."""
    if name in ("", "local"):
        return NETWORK_FILE
    suffix = re.sub(r"[^A-Za-z0-9_-]+", "-", name.split(":", 1)[-1]).strip("-") or "other"
    return f"local-platform-{suffix}.db"


class LocalNetwork:
    """The shared SQLite file behind the local platform (usable without a `Platform`)."""

    def __init__(self, home: Path, name: str = "local") -> None:
        from qasession.store.engine import explain

        self.name = name
        self.path = home / network_file(name)
        try:
            home.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA journal_mode=WAL")
            with self.transaction() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from None
        except OSError as exc:
            raise StoreError(
                f"cannot use the local platform's file {self.path}: {exc.strerror}",
                hint="point --home at a folder you can write",
            ) from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        from qasession.store.engine import explain

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

    def close(self) -> None:
        self.db.close()

    # -- the shared clock ------------------------------------------------------------------

    def clock(self) -> Clock:
        """The network's clock: virtual while a rehearsal runs, else the wall clock."""
        row = self.db.execute("SELECT * FROM clock").fetchone()
        if row is None:
            return SystemClock()
        return VirtualClock(
            datetime.fromisoformat(row["virtual_anchor"]),
            datetime.fromisoformat(row["real_anchor"]),
            row["speed"],
        )

    def set_clock(self, clock: VirtualClock | None) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM clock")
            if clock is not None:
                db.execute(
                    "INSERT INTO clock (one, virtual_anchor, real_anchor, speed) VALUES (1,?,?,?)",
                    (_iso(clock.virtual_anchor), _iso(clock.real_anchor), clock.speed),
                )

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def to_post(row: sqlite3.Row) -> Post:
        return Post(
            id=str(row["id"]),
            author=row["author"],
            text=row["text"],
            created_at=datetime.fromisoformat(row["created_at"]),
            kind=row["kind"],
            ref=str(row["ref"]) if row["ref"] is not None else None,
            likes=row["likes"],
            reposts=row["reposts"],
            to=row["to_handle"],
            media=json.loads(row["media"]) if row["media"] else [],
        )

    def timeline(self) -> list[Post]:
        """Every post, direct messages included, oldest first."""
        return [self.to_post(r) for r in self.db.execute("SELECT * FROM posts ORDER BY id")]

    def get(self, post_id: str) -> Post:
        row = self._row(post_id)
        return self.to_post(row)

    def _row(self, post_id: str) -> sqlite3.Row:
        try:
            number = int(post_id)
        except (TypeError, ValueError):
            raise NotFound(f"no post {post_id!r} on the local platform") from None
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM posts WHERE id = ?", (number,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no post {post_id!r} on the local platform")
        return row

    # -- writing ---------------------------------------------------------------------------

    def add(
        self, *, author: str, text: str, created_at: datetime, **fields: Unpack[PostFields]
    ) -> str:
        """Insert a post and return its id. A `client_key` already used returns the existing
        post's id instead (idempotent writes)."""
        kind, ref, to = fields.get("kind", "post"), fields.get("ref"), fields.get("to")
        media, likes = fields.get("media", ()), fields.get("likes", 0)
        client_key = fields.get("client_key")
        author = normalize_handle(valid_text(author))
        text = valid_text(text)
        with self.transaction() as db:
            if client_key is not None:
                found = db.execute(
                    "SELECT id FROM posts WHERE client_key = ?", (client_key,)
                ).fetchone()
                if found:
                    return str(found["id"])
            ref_number = None
            if ref is not None:
                ref_row = db.execute("SELECT id FROM posts WHERE id = ?", (_as_int(ref),))
                if ref_row.fetchone() is None:
                    raise NotFound(f"no post {ref!r} to refer to")
                ref_number = int(ref)
            if kind == "repost":
                assert ref_number is not None
                already = db.execute(
                    "SELECT id FROM posts WHERE kind = 'repost' AND ref = ? AND lower(author) = ?",
                    (ref_number, author.lower()),
                ).fetchone()
                if already:
                    raise DuplicatePost(
                        f"{author} already reposted {ref}", existing_id=str(already["id"])
                    )
                db.execute("UPDATE posts SET reposts = reposts + 1 WHERE id = ?", (ref_number,))
            cur = db.execute(
                "INSERT INTO posts (author, text, created_at, kind, ref, to_handle, media, likes, "
                "client_key) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    author,
                    text,
                    _iso(created_at),
                    kind,
                    ref_number,
                    normalize_handle(to) if to else None,
                    json.dumps(list(media)) if media else None,
                    likes,
                    client_key,
                ),
            )
            return str(cur.lastrowid)

    def like(self, post_id: str, handle: str) -> int:
        """Add a like from `handle` (once per handle); returns the post's like count."""
        row = self._row(post_id)
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO likes (post_id, handle) VALUES (?, ?)",
                (row["id"], normalize_handle(handle).lower()),
            )
            if cur.rowcount:
                db.execute("UPDATE posts SET likes = likes + 1 WHERE id = ?", (row["id"],))
        return int(self._row(post_id)["likes"])

    def find_key(self, client_key: str) -> str | None:
        row = self.db.execute("SELECT id FROM posts WHERE client_key = ?", (client_key,))
        found = row.fetchone()
        return str(found["id"]) if found else None


def _as_int(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound(f"no post {value!r} on the local platform") from None


class LocalPlatform(Platform):
    """The adapter over `LocalNetwork`; the default platform and the main test double."""

    name: ClassVar[str] = "local"
    CAPABILITIES: ClassVar[Capabilities] = Capabilities(
        repost=True,
        reply=True,
        quote=True,
        dm=True,
        media=True,
        max_length=280,
        length_method="x",
        can_lookup_sent=True,
    )
    Settings: ClassVar[type[BaseModel]] = LocalSettings
    settings: LocalSettings
    DEFAULT_ACCOUNT: ClassVar[str | None] = DEFAULT_HOST

    @classmethod
    def capabilities_for(cls, settings: BaseModel) -> Capabilities:
        assert isinstance(settings, LocalSettings)
        return replace(cls.CAPABILITIES, max_length=settings.max_length)

    @classmethod
    def search_limits(cls, settings: BaseModel) -> SearchLimits:
        assert isinstance(settings, LocalSettings)
        limited = settings.rate_limit > 0
        return SearchLimits(
            page_size=settings.page_size,
            rate_calls=settings.rate_limit if limited else None,
            rate_window=settings.rate_window if limited else None,
        )

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        *,
        home: Path,
        clock: Clock | None = None,
        account: str | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(settings, home=home, clock=clock, account=account, source=source)
        self.network = LocalNetwork(home, self.name)
        if clock is None:
            self.clock = self.network.clock()
        self._handle = normalize_handle(account) if account else DEFAULT_HOST
        self._faults = random.Random(self.settings.fault_seed)
        self._calls: deque[datetime] = deque()
        self._blocked_until: datetime | None = None

    # -- fault injection and rate limits ---------------------------------------------------

    def _before_call(self, *, search: bool = False) -> None:
        now = self.clock.wall_now()  # rate windows are on the wall clock
        if self._blocked_until is not None and now < self._blocked_until:
            raise RateLimited(self._blocked_until)
        if search and self.settings.rate_limit:
            window = timedelta(seconds=self.settings.rate_window)
            while self._calls and self._calls[0] <= now - window:
                self._calls.popleft()
            if len(self._calls) >= self.settings.rate_limit:
                self._blocked_until = self._calls[0] + window
                raise RateLimited(self._blocked_until)
            self._calls.append(now)
        if self.settings.fault_rate and self._faults.random() < self.settings.fault_rate:
            self.counters.errors += 1
            fault = self._faults.choice(("rate", "5xx", "timeout"))
            if fault == "rate":
                self._blocked_until = now + timedelta(seconds=self._faults.uniform(2, 20))
                raise RateLimited(self._blocked_until, "429 Too Many Requests (injected)")
            if fault == "5xx":
                raise PlatformError("503 Service Unavailable (injected)", retryable=True)
            raise PlatformError("timed out (injected)", retryable=True)

    def _lost_response(self) -> None:
        """With faults on, sometimes the write happens but its answer is lost (a time-out
        after the fact): the outbox must reconcile rather than send again."""
        if self.settings.fault_rate and self._faults.random() < self.settings.fault_rate / 2:
            self.counters.errors += 1
            raise PlatformError("timed out after sending (injected)", retryable=True)

    def rate_budget(self) -> RateBudget | None:
        if not self.settings.rate_limit:
            return None
        now = self.clock.wall_now()
        window = timedelta(seconds=self.settings.rate_window)
        recent = [t for t in self._calls if t > now - window]
        reset = (recent[0] + window) if recent else now + window
        return RateBudget(
            remaining=self.settings.rate_limit - len(recent),
            limit=self.settings.rate_limit,
            reset_at=reset,
        )

    # -- the contract ----------------------------------------------------------------------

    def me(self) -> str:
        return self._handle

    def search(self, hashtag: str, cursor: str | None = None) -> SearchPage:
        self._before_call(search=True)
        tag = hashtag if hashtag.startswith("#") else "#" + hashtag
        after = int(cursor) if cursor else 0
        size = self.settings.page_size
        rows = list(
            self.network.db.execute(
                "SELECT * FROM posts WHERE id > ? ORDER BY id LIMIT ?", (after, size + 1)
            )
        )
        more = len(rows) > size
        rows = rows[:size]
        pattern = re.compile(re.escape(tag) + r"(?![\w])", re.IGNORECASE)
        me = self._handle.lower()
        posts = [
            self._tag(LocalNetwork.to_post(r))
            for r in rows
            if r["kind"] != "dm" and pattern.search(r["text"]) and r["author"].lower() != me
        ]
        self.counters.search_requests += 1
        self.counters.posts_read += len(posts)
        next_cursor = str(rows[-1]["id"]) if rows else cursor
        return SearchPage(posts, next_cursor, more)

    def _tag(self, post: Post) -> Post:
        post.platform = self.source
        return post

    def _ref(self, post_id: str) -> PostRef:
        return PostRef(self.source, post_id)

    def lookup(self, ids: Sequence[str]) -> list[Post]:
        posts = []
        for post_id in ids:
            try:
                posts.append(self._tag(self.network.get(post_id)))
            except NotFound:
                continue
        return posts

    def repost(self, post: PostRef, *, idempotency_key: str | None = None) -> PostRef:
        self._before_call()
        original = self.network.get(post.id)
        new_id = self.network.add(
            author=self._handle,
            text=original.text,
            created_at=self.clock.now(),
            kind="repost",
            ref=post.id,
            client_key=idempotency_key,
        )
        self.counters.reposts += 1
        self._lost_response()
        return self._ref(new_id)

    def post(
        self,
        text: str,
        *,
        reply_to: PostRef | None = None,
        quote_of: PostRef | None = None,
        media: Sequence[Media] = (),
        idempotency_key: str | None = None,
    ) -> PostRef:
        self.check_length(text)
        self._before_call()
        kind = "reply" if reply_to else "quote" if quote_of else "post"
        target = reply_to or quote_of
        new_id = self.network.add(
            author=self._handle,
            text=text,
            created_at=self.clock.now(),
            kind=kind,
            ref=target.id if target else None,
            media=[m.path for m in media],
            client_key=idempotency_key,
        )
        self.counters.posts_created += 1
        self._lost_response()
        return self._ref(new_id)

    def send_dm(self, to: Author, text: str, *, idempotency_key: str | None = None) -> PostRef:
        self.check_length(text, dm=True)
        self._before_call()
        new_id = self.network.add(
            author=self._handle,
            text=text,
            created_at=self.clock.now(),
            kind="dm",
            to=to.handle,
            client_key=idempotency_key,
        )
        self.counters.dms += 1
        self._lost_response()
        return self._ref(new_id)

    def find_sent(self, idempotency_key: str) -> PostRef | None:
        found = self.network.find_key(idempotency_key)
        return self._ref(found) if found is not None else None

    def close(self) -> None:
        self.network.close()


_STAND_INS: dict[str, type[LocalPlatform]] = {}


def stand_in(name: str, target: type[Platform]) -> type[LocalPlatform]:
    """The local platform `name` (`local:x`) standing in for `target` in rehearsals: a network
    of its own, the target's capabilities and length rule (what the loop, the composer and
    the lints see), and what a local network can do besides (say what it sent; free reads).
    A `max_length` under `local:x:` in the plan still overrides the limit."""
    made = _STAND_INS.get(name)
    if made is not None:
        return made
    capabilities = replace(target.CAPABILITIES, can_lookup_sent=True, lookups_billed=False)

    class StandIn(LocalPlatform):
        CAPABILITIES: ClassVar[Capabilities] = capabilities
        STANDS_FOR: ClassVar[str] = target.name

        @classmethod
        def capabilities_for(cls, settings: BaseModel) -> Capabilities:
            assert isinstance(settings, LocalSettings)
            if "max_length" in settings.model_fields_set:
                return replace(cls.CAPABILITIES, max_length=settings.max_length)
            return cls.CAPABILITIES

    StandIn.name = name
    StandIn.__name__ = StandIn.__qualname__ = f"LocalStandIn_{target.name}"
    _STAND_INS[name] = StandIn
    return StandIn
