"""From a search page to stored, triaged posts: one transaction per page, cursor included."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from qasession import triage
from qasession.faults import crash_point
from qasession.platforms.base import Platform, Post, SearchPage
from qasession.store import Store
from qasession.store.db import PostRecord

if TYPE_CHECKING:
    from qasession.plan import Session

FLOOD_WINDOW = timedelta(minutes=1)  # flood_limit counts posts per author per minute


def warm_up() -> None:
    """Load the detectors' lazy parts (word lists, phone metadata) before a clock starts, so a
    fast rehearsal does not lose its first virtual minutes to imports."""
    from datetime import UTC

    sample = Post("0", "@a", "Why call +33 6 12 34 56 78 or a@b.example? #x", datetime.now(UTC))
    triage.classify(
        sample,
        host=None,
        start=sample.created_at,
        extra_patterns=(),
        blocked_words=set(),
        author_recent_count=1,
    )
    triage.DuplicateIndex().add("0", sample.text)


def same_handle(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return a.lstrip("@").lower() == b.lstrip("@").lower()


class Ingestor:
    """Triage state of one session (duplicate index, flood counters, authors seen), rebuilt
    from the store when a process starts, so a restart triages exactly as before."""

    def __init__(self, session: Session, store: Store, host: str | None) -> None:
        self.session = session
        self.store = store
        self.host = host or session.account
        self.patterns = triage.compile_patterns(session.sensitive_patterns)
        self.blocked_words = frozenset(w.lower() for w in session.moderation.blocked_words)
        self.flood_limit = session.moderation.flood_limit
        self.duplicates = triage.DuplicateIndex()
        self.recent: dict[str, deque[datetime]] = defaultdict(deque)
        self.askers: set[str] = set()
        self.moderated: set[str] = set()
        self.reload()

    def reload(self) -> None:
        """Rebuild the in-memory indexes from what the store holds."""
        store, sid = self.store, self.session.id
        store.ensure_session(sid, self.session.hashtag, self.session.platform)
        self.refresh_moderation()
        for row in store.posts(sid, where="is_question = 1"):
            self.askers.add(row["author"].lower())
            if row["duplicate_of"] is None:
                self.duplicates.add(row["id"], row["text"])

    def refresh_moderation(self) -> None:
        """The plan's muted and blocked authors plus those blocked from any shell."""
        stored = self.store.moderation(self.session.id)
        handles = {
            *self.session.moderation.muted,
            *self.session.moderation.blocked,
            *stored.get("blocked", set()),
            *stored.get("muted", set()),
        }
        self.moderated = {(h if h.startswith("@") else "@" + h).lower() for h in handles}

    def moderate(self, handle: str) -> None:
        self.moderated.add((handle if handle.startswith("@") else "@" + handle).lower())

    def _recent_count(self, author: str, at: datetime) -> int:
        times = self.recent[author]
        times.append(at)
        while times and times[0] < at - FLOOD_WINDOW:
            times.popleft()
        return len(times)

    def triage(self, post: Post) -> PostRecord:
        """Classify one post (updates the in-memory indexes)."""
        author = post.author.lower()
        if same_handle(post.author, self.host):
            return PostRecord(post, "own")
        if post.kind == "repost":
            return PostRecord(post, "repost")
        result = triage.classify(
            post,
            host=self.host,
            start=self.session.start,
            extra_patterns=self.patterns,
            blocked_words=self.blocked_words,
            author_recent_count=self._recent_count(author, post.created_at),
            flood_limit=self.flood_limit,
        )
        if result.ignore:
            return PostRecord(post, result.reason or "chatter")
        if not result.is_question:
            return PostRecord(post, "chatter", flags=result.flags)
        first_time = author not in self.askers
        self.askers.add(author)
        if author in self.moderated:
            return PostRecord(post, "hidden", True, result.flags, first_time=first_time)
        canonical = self.duplicates.add(post.id, post.text)
        if canonical is not None and canonical != post.id:
            return PostRecord(
                post,
                "merged",
                True,
                result.flags | {"duplicate"},
                duplicate_of=canonical,
                first_time=first_time,
            )
        return PostRecord(post, "queued", True, result.flags, first_time=first_time)

    def ingest(self, page: SearchPage, seen_at: datetime) -> list[PostRecord]:
        """Store a page's posts (new ones only) and its cursor in one transaction."""
        self.refresh_moderation()
        known = self.store.known_ids(self.session.id, [p.id for p in page.posts])
        records: list[PostRecord] = []
        engagement: set[str] = set()
        batch_ids: set[str] = set()
        for post in page.posts:
            if post.id in known or post.id in batch_ids:
                continue
            batch_ids.add(post.id)
            record = self.triage(post)
            if record.status == "repost" and post.ref:
                engagement.add(post.ref)
            records.append(record)
        crash_point("before-save")
        self.store.save_page(
            self.session.id,
            records,
            page.cursor,
            engagement=engagement,
            seen_at=seen_at,
        )
        crash_point("after-save")
        return records


def collect(
    ingestor: Ingestor,
    platform: Platform,
    now: Callable[[], datetime],
    *,
    max_requests: int = 50,
) -> list[PostRecord]:
    """Read the hashtag until caught up (at most `max_requests` requests): what `qa plan --post`
    does to gather questions asked ahead."""
    session = ingestor.session
    new: list[PostRecord] = []
    for _ in range(max_requests):
        cursor = ingestor.store.cursor(session.id)
        page = platform.search(session.hashtag, cursor)
        new.extend(ingestor.ingest(page, now()))
        if not page.more:
            break
    return new
