"""From a search page to stored, triaged posts: one transaction per page, cursor included."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from qasession import triage
from qasession.checkpoints import reached as crash_point
from qasession.platforms.base import Platform, Post, SearchPage
from qasession.store import Store
from qasession.store.db import PostRecord
from qasession.text.length import count_length
from qasession.text.safe import valid_text

if TYPE_CHECKING:
    from qasession.plan import Session

FLOOD_WINDOW = timedelta(minutes=1)  # flood_limit counts posts per author per minute
FACTS_KEPT = 4096  # texts whose triage facts are kept for the next post with the same text
QUIET_AUTHORS = 10_000  # flood counters kept before those of authors quiet for a minute go
UNCOUNTED = ("own", "repost")  # statuses of posts that never count towards a flood


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
    count_length("é https://example.com", "x")  # X's weighted count loads its tables once


class Ingestor:
    """Triage state of one session (duplicate index, flood counters, authors seen), rebuilt
    from the store when a process starts, so a restart triages exactly as before."""

    def __init__(
        self,
        session: Session,
        store: Store,
        host: str | None,
        *,
        hosts: dict[str, str | None] | None = None,
    ) -> None:
        self.session = session
        self.store = store
        self.host = host or session.account
        self.host_key = (self.host or "").lstrip("@").casefold() or None
        # the host's account on each platform of a session on several
        self.host_keys = {
            name: (handle or "").lstrip("@").casefold() or None
            for name, handle in (hosts or {}).items()
        }
        self.patterns = triage.compile_patterns(session.sensitive_patterns)
        self.blocked_words = frozenset(w.lower() for w in session.moderation.blocked_words)
        self.flood_limit = session.moderation.flood_limit
        self.duplicates = triage.DuplicateIndex()
        self.recent: dict[str, deque[datetime]] = defaultdict(deque)
        self.askers: set[str] = set()
        self.moderated: set[str] = set()
        self.moderated_on: dict[str, set[str]] = {}  # platform -> handles moderated there
        # Copied questions and floods repeat texts word for word: their text facts are kept
        # (at most FACTS_KEPT texts, forgotten all at once when full) and not computed again.
        self.facts: dict[str, triage.TextFacts] = {}
        self._forget_at = QUIET_AUTHORS
        self.reload()

    def reload(self) -> None:
        """Rebuild the in-memory indexes from what the store holds."""
        store, sid = self.store, self.session.id
        store.ensure_session(sid, self.session.hashtag, self.session.platform)
        self.refresh_moderation()
        for row in store.posts(sid, where="is_question = 1"):
            self.askers.add(_asker_key(row["platform"], row["author_id"], row["author"]))
            if row["duplicate_of"] is None:
                self.duplicates.add(_question_key(row["platform"], row["id"]), row["text"])
        # Flood counters: every post triage counted (not the host's, not plain reposts) in
        # the last minute before the latest one, so a restart mid-flood still sees the flood.
        self.recent.clear()
        for author, moment in store.latest_post_times(sid, FLOOD_WINDOW, skip=UNCOUNTED):
            self.recent[author.lower()].append(moment)

    def refresh_moderation(self) -> None:
        """The plan's muted and blocked authors plus those blocked from any shell (on every
        platform, or on one)."""
        everywhere = self.store.moderation(self.session.id, platform="")
        handles = {
            *self.session.moderation.muted,
            *self.session.moderation.blocked,
            *everywhere.get("blocked", set()),
            *everywhere.get("muted", set()),
        }
        self.moderated = {_handle_key(h) for h in handles}
        self.moderated_on = {}

    def moderate(self, handle: str) -> None:
        self.moderated.add(_handle_key(handle))

    def _is_moderated(self, post: Post) -> bool:
        author = post.author.lower()
        if author in self.moderated:
            return True
        on = self.moderated_on.get(post.platform)
        if on is None:
            stored = self.store.moderation(self.session.id, platform=post.platform)
            on = {_handle_key(h) for hs in stored.values() for h in hs}
            self.moderated_on[post.platform] = on
        return author in on

    def _recent_count(self, author: str, at: datetime) -> int:
        times = self.recent[author]
        times.append(at)
        while times and times[0] < at - FLOOD_WINDOW:
            times.popleft()
        return len(times)

    def _forget_quiet_authors(self) -> None:
        """Drop the flood counters of authors who posted nothing in the last FLOOD_WINDOW (of
        post time): a session with hundreds of thousands of authors keeps only the active
        ones. Checked after a page once there are more than QUIET_AUTHORS, then again each
        time their number doubles."""
        # Posts come out of order (X pages newest first): an author's latest post is the
        # latest of their times, not the last one counted.
        latest = {author: max(times) for author, times in self.recent.items() if times}
        if not latest:
            self.recent.clear()
        else:
            horizon = max(latest.values()) - FLOOD_WINDOW
            active = {a: self.recent[a] for a, moment in latest.items() if moment >= horizon}
            self.recent = defaultdict(deque, active)
        self._forget_at = max(QUIET_AUTHORS, 2 * len(self.recent))

    def text_facts(self, text: str) -> triage.TextFacts:
        facts = self.facts.get(text)
        if facts is None:
            facts = triage.text_facts(
                text, extra_patterns=self.patterns, blocked_words=self.blocked_words
            )
            if len(self.facts) >= FACTS_KEPT:
                self.facts.clear()
            self.facts[text] = facts
        return facts

    def triage(self, post: Post) -> PostRecord:
        """Classify one post (updates the in-memory indexes); `triage.classify` says the same
        of a single post."""
        author = post.author.lower()
        host = self.host_keys.get(post.platform, self.host_key)
        if post.author.lstrip("@").casefold() == host:
            return PostRecord(post, "own")
        if post.kind == "repost":
            return PostRecord(post, "repost")
        facts = self.text_facts(post.text)
        flags = facts.post_flags(
            flood=self._recent_count(author, post.created_at) >= self.flood_limit,
            ahead=post.created_at < self.session.start,
        )
        if not facts.is_question:
            return PostRecord(post, "chatter", flags=flags)
        asker = _asker_key(post.platform, post.author_id, post.author)
        first_time = asker not in self.askers
        self.askers.add(asker)
        if self._is_moderated(post):
            return PostRecord(post, "hidden", True, flags, first_time=first_time)
        key = _question_key(post.platform, post.id)
        canonical = self.duplicates.add(key, post.text, words=facts.words)
        if canonical is not None and canonical != key:
            # the same question, here or on another platform: one entry of the queue
            platform, _, canonical_id = canonical.partition("\x00")
            return PostRecord(
                post,
                "merged",
                True,
                flags | {"duplicate"},
                duplicate_of=canonical_id,
                first_time=first_time,
                duplicate_platform=platform if platform != post.platform else None,
            )
        return PostRecord(post, "queued", True, flags, first_time=first_time)

    def ingest(
        self, page: SearchPage, seen_at: datetime, source: str | None = None
    ) -> list[PostRecord]:
        """Store a page's posts (new ones only) and the cursor of `source` (default: the
        session's platform) in one transaction."""
        source = source or self.session.platform
        self.refresh_moderation()
        known = self.store.known_ids(self.session.id, [p.id for p in page.posts], source)
        records: list[PostRecord] = []
        engagement: set[str] = set()
        batch_ids: set[str] = set()
        for post in page.posts:
            if post.id in known or post.id in batch_ids:
                continue
            batch_ids.add(post.id)
            post.platform = source
            post.text = valid_text(post.text)
            post.author = valid_text(post.author)
            record = self.triage(post)
            if record.status == "repost" and post.ref:
                engagement.add(post.ref)
            records.append(record)
        if len(self.recent) > self._forget_at:
            self._forget_quiet_authors()
        crash_point("before-save")
        self.store.save_page(
            self.session.id,
            records,
            page.cursor,
            engagement=engagement,
            seen_at=seen_at,
            source=source,
        )
        crash_point("after-save")
        return records


def collect(
    ingestor: Ingestor,
    platform: Platform,
    now: Callable[[], datetime],
    *,
    max_requests: int = 50,
    warn: Callable[[str], None] | None = None,
) -> list[PostRecord]:
    """Read the hashtag until caught up (at most `max_requests` requests): what `qa plan --post`
    does to gather questions asked ahead. The pages' warnings (a source that failed while the
    others were read, one that works again) go to `warn`, as the live loop's go to its events."""
    session = ingestor.session
    source = platform.source
    new: list[PostRecord] = []
    for _ in range(max_requests):
        cursor = ingestor.store.cursor(session.id, source)
        page = platform.search(session.hashtag, cursor)
        for message in page.warnings:
            if warn is not None:
                warn(message)
        new.extend(ingestor.ingest(page, now(), source))
        if not page.more:
            break
    return new


def _handle_key(handle: str) -> str:
    handle = handle.strip()
    return (handle if handle.startswith("@") else "@" + handle).lower()


def _question_key(platform: str, post_id: str) -> str:
    """A question's key in the duplicate index: its id on its platform (ids of two platforms
    may be equal)."""
    return f"{platform}\x00{post_id}"


def _asker_key(platform: str, author_id: str | None, author: str) -> str:
    return f"{platform}\x00{author_id or author.lower()}"
