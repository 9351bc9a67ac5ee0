"""The recap of a session: one model, built by one accumulator from the store or an archive.

`build_recap(store, session)` reads the store (posts streamed, never all in memory) and
returns a `Recap`, a tree of dataclasses; `Recap.to_json()` is the `--format json` document.
Renderers (`recap_render`) only render it. `qasession.recap.archive` feeds the same accumulator from
a twarc2 JSONL archive, so both recaps count alike.

Definitions (the JSON keys, stable; `meta.schema` changes when they do):

- `participants`: distinct authors (case-insensitive) of any stored post, reposts included,
  the host excluded.
- `questions`: `received` counts every question post, merged duplicates included; `merged`
  those merged into an earlier question; `canonical` = received - merged. Canonical questions
  split into `answered` (an answer or direct-message step was *sent*), `skipped`, `hidden`
  (moderated authors) and `open` (the rest, including answers queued but never sent), so
  canonical = answered + skipped + hidden + open. `ahead`: received posts flagged `ahead`
  (asked before the start).
- `time_to_answer`: seconds from the question (or the session start, for questions asked
  ahead: their wait before the start is no slowness) to the first sent answer step; `median_s`
  (statistics.median) and `p90_s` (nearest rank); `values_s` in transcript order. These count
  the live answers only (sent before the session's end); `late_count` and `late_values_s` are
  the answers sent after it, apart.
- `activity`: posts per bucket (one minute, wider for very long windows) across the session
  window, all posts counted (host's included); `before` and `after` the window as totals and
  rates.
- `top_contributors`: `by_questions` (question posts) and `by_engagement` (likes + reposts
  received on their own posts), host and muted/blocked authors excluded.
- `top_posts`: posts other than reposts and the host's, by likes + reposts.
- `topics`: recurring key phrases of the questions: phrases of one to three words over
  normalised tokens, English and French stop words removed, counted once per question post,
  each as long as it recurs.
- `duplicates`: clusters of merged questions, largest first.
- `moderation`: muted and blocked authors, posts flagged sensitive or troll, hidden posts.
- `follow_ups`: replies to and quotes of what we posted (store: our sent outbox rows; the
  posts themselves are listed from the store only, an archive gives the counts).
- `transcript`: answered questions with their answers (ids, links; a private answer's text is
  never shown), in answer order. `open_questions`: the most engaging open ones.
- `cost`: platform calls and spend from the session's stored counters (null when none), and
  `estimated_search_requests`, `qa plan`'s estimate of the search requests, to compare.
- `drafts`: thank-you, follow-up (open questions), late (what was answered after the end),
  teaser and invitation (the top contributors, by mention, to the next session) posts, sized
  for the platform; each `key` is its outbox key (posted once).
- `team`: who answered, approved, skipped...; draft-to-approval times (see `recap.team`).
- `meta`: tool, version, schema, generated_at, source, session, hashtag, window, counts, next,
  masked (what was masked), target (the plan's answer target).
- `questions.late`: answered after the session's end; `late_answers`, `invited`, `marks`,
  `languages`, `phrases`, `notes`: see `qasession.recap.parts`.

`meta.schema` is 2 since those were added to schema 1 (nothing was removed or renamed); the
README lists every key.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import qasession
from qasession.recap.parts import KeyPhrase, Language, LateAnswer, Mark, Note

if TYPE_CHECKING:
    from qasession.plan import Plan, Session
    from qasession.platforms.base import Billing
    from qasession.store import Store

SCHEMA = 2  # 2: masked, target, late, team, by_platform and the later parts (README)
TOP = 10  # rows of the top lists
TOP_OPEN = 20
TOP_CLUSTERS = 20
CLUSTER_MEMBERS = 10  # ids kept per duplicate cluster
FOLLOW_UP_POSTS = 50
MAX_BUCKETS = 1440  # an activity chart wider than this gets wider buckets
# what masking leaves in a text: "[contract number removed]", "+33 6 •• •• •• 78"
MASKED_MARK = re.compile(r"\[[^\[\]]* removed\]|••")


# --------------------------------------------------------------------------------------------
# The model


@dataclass(slots=True)
class PostView:
    """A post as the recap shows it. `text` is untrusted: renderers escape it."""

    id: str
    author: str
    text: str
    created_at: str
    kind: str = "post"
    url: str | None = None
    likes: int = 0
    reposts: int = 0


@dataclass(slots=True)
class QuestionCounts:
    received: int = 0
    merged: int = 0
    canonical: int = 0
    answered: int = 0
    skipped: int = 0
    hidden: int = 0
    open: int = 0
    ahead: int = 0
    late: int = 0  # answered after the session's end (`qa answer` once it is over)


@dataclass(slots=True)
class TimeToAnswer:
    count: int = 0
    median_s: float | None = None
    p90_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    values_s: list[float] = field(default_factory=list)
    # answered after the session's end: kept apart, so one answer hours later does not skew
    # the live figures above
    late_count: int = 0
    late_values_s: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Bucket:
    start: str
    posts: int


@dataclass(slots=True)
class Period:
    posts: int = 0
    minutes: float = 0.0
    per_minute: float | None = None
    first: str | None = None
    last: str | None = None


@dataclass(slots=True)
class Activity:
    bucket_seconds: int = 60
    window_start: str | None = None
    window_end: str | None = None
    during: list[Bucket] = field(default_factory=list)
    during_posts: int = 0
    during_per_minute: float | None = None
    peak: Bucket | None = None
    before: Period = field(default_factory=Period)
    after: Period = field(default_factory=Period)


@dataclass(slots=True)
class Contributor:
    handle: str
    questions: int
    posts: int
    engagement: int


@dataclass(slots=True)
class TopContributors:
    by_questions: list[Contributor] = field(default_factory=list)
    by_engagement: list[Contributor] = field(default_factory=list)


@dataclass(slots=True)
class Topic:
    phrase: str
    count: int


@dataclass(slots=True)
class DuplicateCluster:
    question: PostView
    duplicates: int
    members: list[str]


@dataclass(slots=True)
class Moderation:
    muted: int = 0
    blocked: int = 0
    flagged_sensitive: int = 0
    flagged_troll: int = 0
    hidden: int = 0


@dataclass(slots=True)
class FollowUpCount:
    post_id: str
    question_id: str | None
    count: int


@dataclass(slots=True)
class FollowUps:
    count: int = 0
    by_post: list[FollowUpCount] = field(default_factory=list)
    posts: list[PostView] = field(default_factory=list)


@dataclass(slots=True)
class Answer:
    """One sent step of an answer. A private answer (`kind` dm) carries no text."""

    id: str | None
    kind: str
    text: str | None
    sent_at: str
    url: str | None = None


@dataclass(slots=True)
class TranscriptEntry:
    question: PostView
    duplicates: int
    answers: list[Answer]
    seconds_to_answer: float | None


@dataclass(slots=True)
class OpenQuestion:
    question: PostView
    duplicates: int


@dataclass(slots=True)
class Cost:
    platform: str
    paid: bool
    calls: dict[str, Any] | None
    spend_usd: float | None
    # `qa plan`'s estimate of the search requests (session/reading.py), to hold the calls
    # made against; None when the platform cannot say
    estimated_search_requests: int | None = None


@dataclass(slots=True)
class NextSession:
    id: str
    title: str
    hashtag: str
    start: str
    timezone: str
    when: str  # "Thursday 3 December 2026, 18:00" on the plan's wall clock


@dataclass(slots=True)
class Draft:
    key: str
    kind: str  # thanks | followup | late | teaser | invite
    text: str
    length: int
    max_length: int


@dataclass(slots=True)
class Meta:
    session_id: str
    hashtag: str
    platform: str
    title: str | None = None
    host: str | None = None
    timezone: str = "UTC"
    window_start: str | None = None
    window_end: str | None = None
    generated_at: str = ""
    source: str = "store"
    tool: str = "qasession"
    version: str = qasession.__version__
    schema: int = SCHEMA
    counts: dict[str, int] = field(default_factory=dict)
    next: NextSession | None = None
    # what the sensitive detectors found and the recap masks ("phone number", ...)
    masked: list[str] = field(default_factory=list)
    # the plan's answer target ("about a dozen good answers"), when a plan session is known
    target: int | None = None


@dataclass(slots=True)
class Recap:
    meta: Meta
    participants: int
    questions: QuestionCounts
    time_to_answer: TimeToAnswer
    activity: Activity
    top_contributors: TopContributors
    top_posts: list[PostView]
    topics: list[Topic]
    duplicates: list[DuplicateCluster]
    moderation: Moderation
    follow_ups: FollowUps
    transcript: list[TranscriptEntry]
    open_questions: list[OpenQuestion]
    cost: Cost | None = None
    drafts: list[Draft] = field(default_factory=list)
    team: Any = None  # recap.team.TeamCredits from the audit log (store only), or None
    # a session on several platforms: split by platform and combined (recap/platforms.py)
    by_platform: dict[str, Any] | None = None
    # the later parts (qasession.recap.parts): store recaps fill them, archives leave them empty
    marks: list[Mark] = field(default_factory=list)
    languages: list[Language] = field(default_factory=list)
    phrases: list[KeyPhrase] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    late_answers: list[LateAnswer] = field(default_factory=list)
    # who a posted invitation draft already mentions (never invited twice)
    invited: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The whole model as plain JSON data (the `--format json` document)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the recap needs to know of a session; `start`/`end` None: take the data's span."""

    id: str
    hashtag: str
    platform: str = "x"
    start: datetime | None = None
    end: datetime | None = None
    account: str | None = None
    title: str | None = None
    timezone: str = "UTC"


# --------------------------------------------------------------------------------------------
# Small helpers


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _iso_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def parse_time(text: str) -> float:
    """POSIX seconds of an ISO-8601 instant ("Z" or an offset; naive means UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def bare(handle: str) -> str:
    return handle[1:] if handle.startswith("@") else handle


def post_url(
    platform: str,
    author: str,
    post_id: str,
    url: str | None,
    settings: dict[str, Any] | None = None,
) -> str | None:
    """Where a post can be seen: the platform's own link, or X's status address (None when
    the platform's settings it needs, a Mastodon instance, are not known)."""
    if url:
        return url
    from pydantic import ValidationError

    from qasession.platforms.registry import adapter_class, default_settings

    cls = adapter_class(platform)
    if cls is None:
        return None
    try:
        return cls.post_url(default_settings(cls, settings), author, post_id)
    except ValidationError:
        return None


def nearest_rank(sorted_values: list[float], share: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


# --------------------------------------------------------------------------------------------
# Recurring sub-topics: a small n-gram counter over normalised tokens

_STOP_TEXT = """
    a about above after again against all also am an and any anyone are aren as at be
    because been before being below between both but by can cannot could couldn did didn do
    does doesn doing don down during each even ever every few for from further get gets
    getting give go going gonna got had hasn have haven having he her here hers herself him
    himself his how i if in into is isn it its itself just know let like make many may me
    might more most much must my myself need new no nor not now of off on once one only or
    other our ours ourselves out over own please plans question questions quick really same
    see she should shouldn so some still such sure than thank thanks that the their theirs
    them themselves then there these they thing things this those through thx to too under
    until up upon us use using very via want was wasn way we were weren what whats when
    where whether which while who whom why will with won would wouldn yes yet you your yours
    yourself yourselves ask asking answer anybody someone something anything everyone
    everything hello hey guys team folks today time tell think year years day days lot lots
    etc ive youre theyre dont cant wont alors après au aucun aussi autre autres avant avec
    avez avoir bonjour ça car ce ceci cela celle celles celui ces cet cette chaque chez
    comme comment dans de depuis des donc du elle elles en encore entre est et été être eux
    fait faire faut il ils je juste la le les leur leurs lui mais merci même mes moi mon ne
    ni nos notre nous ont ou où par pas peu peut peuvent peux plus pour pourquoi pouvez
    quand que quel quelle quelles quels qui quoi sa sans se ses si son sont sur ta tes toi
    ton tous tout toute toutes très tu un une vos votre vous vers voilà salut svp stp prévu
    prévue prévus est-ce va vont allez sera seront serait avez-vous pouvez-vous qu quelqu
    chose choses bien
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_ENTITIES = re.compile(r"https?://\S+|www\.\S+|[.]?@[\w.-]+|[#＃]\w+")
_WORDS = re.compile(r"[^\W\d_]+")


def phrase_tokens(text: str) -> list[str | None]:
    """The words of `text` as topic tokens; None stands where a stop word broke the run, so
    a two-word phrase never spans one."""
    # apostrophes ("l'offre", "it’s") are no letters: findall splits words there already
    words = _WORDS.findall(_ENTITIES.sub(" ", text).lower())
    return [w if len(w) >= 3 and w not in STOP_WORDS else None for w in words]


class PhraseCounter:
    """Counts phrases of one to three words, once per text. Above `limit` distinct phrases
    the rarest (seen once, then twice...) are dropped, so memory stays bounded however many
    questions come in; a phrase that recurs survives (lossy counting, good enough for tops)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.counts: Counter[str] = Counter()  # its update() counts an iterable in C
        self.limit = limit
        self.floor = 0  # counts at or below this may have been dropped
        self._cache: dict[int, frozenset[str]] = {}

    def merge(self, other: PhraseCounter) -> None:
        counts = self.counts
        counts.update(other.counts)  # adds the counts
        self.floor = max(self.floor, other.floor)
        if len(counts) > self.limit:
            self._prune()

    def __getstate__(self) -> dict[str, Any]:
        return {"counts": self.counts, "limit": self.limit, "floor": self.floor}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = {}

    def add(self, text: str) -> None:
        # floods repeat texts word for word: each distinct text is tokenised once
        key = hash(text)
        phrases = self._cache.get(key)
        if phrases is None:
            if len(self._cache) > 5_000:
                self._cache.clear()
            phrases = self._cache[key] = self.phrases(text)
        self.count(phrases)

    def count(self, phrases: Iterable[str]) -> None:
        counts = self.counts
        counts.update(phrases)
        if len(counts) > self.limit:
            self._prune()

    @staticmethod
    def phrases(text: str) -> frozenset[str]:
        """The phrases of one text (each counted once per text)."""
        seen: set[str] = set()
        two: str | None = None  # the last two words, while unbroken
        one: str | None = None
        for token in phrase_tokens(text):
            if token is None:
                one = two = None
                continue
            seen.add(token)
            if one is not None:
                if two is not None:
                    seen.add(two + " " + token)
                two = one + " " + token
                seen.add(two)
            one = token
        return frozenset(seen)

    def _prune(self) -> None:
        while len(self.counts) > self.limit // 2:
            self.floor += 1
            self.counts = Counter({p: c for p, c in self.counts.items() if c > self.floor})

    def top(self, n: int = TOP, minimum: int = 2) -> list[Topic]:
        """The `n` most recurring phrases seen at least `minimum` times, each as long as it
        recurs: a phrase is left out when a longer one holding it accounts for two thirds of
        its uses ("mode" in "dark mode", "mode coming" in "dark mode coming")."""
        candidates = {p: c for p, c in self.counts.items() if c >= minimum}
        covered: dict[str, int] = {}  # phrase -> count of the most frequent longer holder
        for phrase, count in candidates.items():
            words = phrase.split()
            for size in range(1, len(words)):
                for start in range(len(words) - size + 1):
                    part = " ".join(words[start : start + size])
                    if covered.get(part, 0) < count:
                        covered[part] = count
        kept = [(p, c) for p, c in candidates.items() if covered.get(p, 0) * 3 < c * 2]
        kept.sort(key=lambda x: (-x[1], -x[0].count(" "), x[0]))
        return [Topic(p, c) for p, c in kept[:n]]


# --------------------------------------------------------------------------------------------
# The accumulator both sources feed

# A canonical question while accumulating: (ts, author, text, likes, reposts, status, url).
_Question = tuple[float, str, str, int, int, str, str | None]
# A post as the builder takes it: (id, author, text, created_at, kind, ref, likes, reposts,
# url, is_question, status, flags, duplicate_of); `flags` is comma-separated.
PostRow = tuple[
    str, str, str, str, str, str | None, int, int, str | None, bool, str, str, str | None
]


class RecapBuilder:
    """Accumulates posts one at a time (compact per-author counters, bounded heaps) and makes
    the `Recap` at the end. Not thread-safe; one per recap."""

    def __init__(
        self,
        info: SessionInfo,
        *,
        hosts: Iterable[str] = (),
        own_ids: set[str] | None = None,
        source: str = "store",
        count_topics: bool = True,
        count_questions: bool = True,
    ) -> None:
        self.info = info
        self.source = source
        self.hosts = {h.lower() if h.startswith("@") else "@" + h.lower() for h in hosts}
        # The ids of what we posted, when known up front (store); None: learnt from the data.
        self.own_known = own_ids is not None
        self.own_ids: set[str] = set(own_ids or ())
        self.own_urls: dict[str, str] = {}
        self.own_authors: dict[str, int] = {}
        self.start_ts = info.start.timestamp() if info.start is not None else None
        self.end_ts = info.end.timestamp() if info.end is not None else None
        # anchor of the activity buckets: the window start, so buckets align with it
        self.anchor = self.start_ts if self.start_ts is not None else 0.0
        self.buckets: dict[int, int] = {}
        self.start_edge = self.start_ts if self.start_ts is not None else -math.inf
        self.end_edge = self.end_ts if self.end_ts is not None else math.inf
        self.first_ts = math.inf  # of any post; inf while there is none
        self.last_ts = -math.inf
        self._minutes: dict[str, float] = {}
        self.count_topics = count_topics
        # False: a question post is counted like any post (its author, engagement, replies),
        # and as a question (received, merged, canonical) by another builder's add_question:
        # an archive's scanners read the posts, its resolver decides on duplicates
        self.count_questions = count_questions
        self.before = [0, math.inf, -math.inf]  # posts, first, last
        self.after = [0, math.inf, -math.inf]
        self.kinds: dict[str, int] = {}
        self.posts = 0
        self.own = 0
        self.authors: dict[str, list[Any]] = {}  # lower handle -> [posts, questions, eng, handle]
        self.top_posts: list[tuple[int, float, int, PostView]] = []
        self.seq = 0
        self.questions = QuestionCounts()
        self.canonical: dict[str, _Question] = {}
        self.clusters: dict[str, list[Any]] = {}  # canonical id -> [count, member ids]
        self.topics = PhraseCounter()
        # question posts by language (an archive's scanners count them; the store's recap
        # reads them from the store)
        self.languages: dict[str, int] = {}
        self.flag_sensitive = 0
        self.flag_troll = 0
        self.hidden = 0
        self.reply_refs: dict[str, int] = {}
        self.follow_posts: list[PostView] = []
        self.answers: dict[str, list[tuple[float, Answer]]] = {}
        self.answer_of: dict[str, str] = {}  # our post id -> the question it answers

    # -- feeding ---------------------------------------------------------------------------

    def is_host(self, author: str) -> bool:
        return author.lower() in self.hosts

    def time_of(self, text: str) -> float:
        """`parse_time`, with a fast path for the two UTC formats met by the million (X's
        `...:SS.mmmZ`, the store's `...:SS.ffffff+00:00`): one parse per minute, cached."""
        if len(text) >= 19 and text[16] == ":" and (text[-1] == "Z" or text[-6:] == "+00:00"):
            minutes = self._minutes
            minute = minutes.get(text[:16])
            if minute is None:
                if len(minutes) > 100_000:
                    minutes.clear()
                minute = datetime.fromisoformat(text[:16] + "+00:00").timestamp()
                minutes[text[:16]] = minute
            try:
                return minute + float(text[17:-1] if text[-1] == "Z" else text[17:-6])
            except ValueError:
                pass
        return parse_time(text)

    def add_post(self, row: PostRow) -> None:
        """One stored (or archived) post with its triage (see `PostRow`). Called once per
        post of a million-post archive: kept lean on purpose, rare cases in helpers."""
        (
            post_id,
            author,
            _,
            created_at,
            kind,
            ref,
            likes,
            reposts,
            url,
            is_question,
            status,
            flags,
        ) = row[:12]
        ts = self.time_of(created_at)
        self._count(ts, kind)
        key = author.lower()
        if status == "own" or key in self.hosts:
            self._add_own(post_id, author, url)
            return
        stats = self.authors.get(key)
        if stats is None:
            stats = self.authors[key] = [0, 0, 0, author]
        stats[0] += 1
        if flags or status == "hidden":
            self._add_flags(flags, status)
        if kind == "repost":
            return
        engagement = likes + reposts
        if engagement > 0:
            stats[2] += engagement
            self._add_top(engagement, ts, row)
        if ref is not None and kind != "post":
            self._add_reply(ref, ts, row)
        if is_question:
            stats[1] += 1
            if self.count_questions:
                self._add_question(ts, row)

    def add_question(self, row: PostRow) -> None:
        """A question post counted as a question only (received, merged, canonical): the
        rest of it was counted by the `add_post` of a builder that does not count questions."""
        self._add_question(self.time_of(row[3]), row)

    def _count(self, ts: float, kind: str) -> None:
        """The post in the counts by kind, the span and the activity buckets."""
        self.posts += 1
        kinds = self.kinds
        kinds[kind] = kinds.get(kind, 0) + 1
        if ts < self.first_ts:
            self.first_ts = ts
        if ts > self.last_ts:
            self.last_ts = ts
        bucket = int((ts - self.anchor) // 60)
        buckets = self.buckets
        buckets[bucket] = buckets.get(bucket, 0) + 1
        if ts < self.start_edge:
            _period_add(self.before, ts)
        elif ts >= self.end_edge:
            _period_add(self.after, ts)

    def _add_own(self, post_id: str, author: str, url: str | None) -> None:
        self.own += 1
        self.own_authors[author] = self.own_authors.get(author, 0) + 1
        if not self.own_known:
            self.own_ids.add(post_id)
        if url:
            self.own_urls[post_id] = url

    def _add_flags(self, flags: str, status: str) -> None:
        if "sensitive" in flags:
            self.flag_sensitive += 1
        if "troll" in flags:
            self.flag_troll += 1
        if status == "hidden":
            self.hidden += 1

    @staticmethod
    def _view(ts: float, row: PostRow) -> PostView:
        post_id, author, text, _, kind, _, likes, reposts, url = row[:9]
        return PostView(post_id, author, text, _iso_ts(ts), kind, url, likes, reposts)

    def _add_top(self, engagement: int, ts: float, row: PostRow) -> None:
        self.seq += 1
        heap = self.top_posts
        if len(heap) < TOP or (engagement, -ts, -self.seq) > heap[0][:3]:
            item = (engagement, -ts, -self.seq, self._view(ts, row))
            if len(heap) < TOP:
                heapq.heappush(heap, item)
            else:
                heapq.heapreplace(heap, item)

    def _add_reply(self, ref: str, ts: float, row: PostRow) -> None:
        if not self.own_known:
            self.reply_refs[ref] = self.reply_refs.get(ref, 0) + 1
        elif ref in self.own_ids:
            # listed only when our ids are known up front (the store): in an archive the
            # reply and our post may be read in different processes
            self.reply_refs[ref] = self.reply_refs.get(ref, 0) + 1
            if len(self.follow_posts) < FOLLOW_UP_POSTS:
                self.follow_posts.append(self._view(ts, row))

    def _add_question(self, ts: float, row: PostRow) -> None:
        post_id, author, text, _, _, _, likes, reposts, url, _, status, flags, duplicate_of = row
        q = self.questions
        q.received += 1
        if flags and "ahead" in flags:
            q.ahead += 1
        if self.count_topics:
            self.topics.add(text)
        if duplicate_of:
            q.merged += 1
            cluster = self.clusters.get(duplicate_of)
            if cluster is None:
                cluster = self.clusters[duplicate_of] = [0, []]
            cluster[0] += 1
            if len(cluster[1]) < CLUSTER_MEMBERS:
                cluster[1].append(post_id)
            return
        self.canonical[post_id] = (ts, author, text, likes, reposts, status, url)

    def merge(self, other: RecapBuilder) -> None:
        """Add what `other` accumulated (same session, same window) to this builder: the
        archive reader splits posts between processes and joins the halves here."""
        self.posts += other.posts
        for kind, n in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + n
        self.first_ts = min(self.first_ts, other.first_ts)
        self.last_ts = max(self.last_ts, other.last_ts)
        for bucket, n in other.buckets.items():
            self.buckets[bucket] = self.buckets.get(bucket, 0) + n
        for period, extra in ((self.before, other.before), (self.after, other.after)):
            period[0] += extra[0]
            period[1] = min(period[1], extra[1])
            period[2] = max(period[2], extra[2])
        self.own += other.own
        for author, n in other.own_authors.items():
            self.own_authors[author] = self.own_authors.get(author, 0) + n
        self.own_ids |= other.own_ids
        self.own_urls.update(other.own_urls)
        for key, counts in other.authors.items():
            stats = self.authors.get(key)
            if stats is None:
                self.authors[key] = counts
            else:
                stats[0] += counts[0]
                stats[1] += counts[1]
                stats[2] += counts[2]
        both = self.top_posts + other.top_posts
        self.top_posts = heapq.nlargest(TOP, both, key=lambda item: item[:3])
        heapq.heapify(self.top_posts)
        q, theirs_q = self.questions, other.questions
        q.received += theirs_q.received
        q.merged += theirs_q.merged
        q.ahead += theirs_q.ahead
        self.canonical.update(other.canonical)
        for qid, (count, members) in other.clusters.items():
            cluster = self.clusters.setdefault(qid, [0, []])
            cluster[0] += count
            cluster[1].extend(members[: CLUSTER_MEMBERS - len(cluster[1])])
        self.topics.merge(other.topics)
        for lang, n in other.languages.items():
            self.languages[lang] = self.languages.get(lang, 0) + n
        self.flag_sensitive += other.flag_sensitive
        self.flag_troll += other.flag_troll
        self.hidden += other.hidden
        for ref, n in other.reply_refs.items():
            self.reply_refs[ref] = self.reply_refs.get(ref, 0) + n
        room = FOLLOW_UP_POSTS - len(self.follow_posts)
        self.follow_posts.extend(other.follow_posts[: max(0, room)])
        for qid, steps in other.answers.items():
            self.answers.setdefault(qid, []).extend(steps)
        self.answer_of.update(other.answer_of)

    def add_answer(self, question_id: str, answer: Answer) -> None:
        """A sent step answering `question_id` (a canonical question)."""
        if question_id not in self.canonical:
            return
        self.answers.setdefault(question_id, []).append((parse_time(answer.sent_at), answer))
        if answer.id:
            self.answer_of[answer.id] = question_id

    # -- the result ------------------------------------------------------------------------

    def host(self) -> str | None:
        if self.info.account:
            return self.info.account
        if self.own_authors:
            return max(self.own_authors.items(), key=lambda item: (item[1], item[0]))[0]
        return None

    def participant_keys(self) -> set[str]:
        return set(self.authors)

    def finish(
        self,
        *,
        now: datetime | None = None,
        muted: Iterable[str] = (),
        blocked: Iterable[str] = (),
        cost: Cost | None = None,
        next_session: NextSession | None = None,
    ) -> Recap:
        muted_set = {_handle_key(h) for h in muted}
        blocked_set = {_handle_key(h) for h in blocked}
        first = self.first_ts if self.posts else None
        start_ts = self.start_ts if self.start_ts is not None else first
        end_ts = self.end_ts
        if end_ts is None and self.posts:
            end_ts = self.last_ts + 1
        q = self.questions
        q.canonical = q.received - q.merged
        transcript, open_ids = self._answered_and_open(start_ts)
        first_answers = {qid: min(s[0] for s in st) for qid, st in self.answers.items() if st}
        return Recap(
            meta=self._meta(start_ts, end_ts, now, next_session),
            participants=len(self.authors),
            questions=q,
            time_to_answer=_time_to_answer(transcript, first_answers, self.end_ts),
            activity=self._activity(start_ts, end_ts),
            top_contributors=self._top_contributors(muted_set | blocked_set),
            top_posts=self._top_posts(),
            topics=self.topics.top(),
            duplicates=self._clusters(),
            moderation=Moderation(
                muted=len(muted_set),
                blocked=len(blocked_set),
                flagged_sensitive=self.flag_sensitive,
                flagged_troll=self.flag_troll,
                hidden=self.hidden,
            ),
            follow_ups=self._follow_ups(),
            transcript=transcript,
            open_questions=[
                OpenQuestion(self._question_view(qid), self._duplicates_of(qid)) for qid in open_ids
            ],
            cost=cost,
        )

    def _duplicates_of(self, qid: str) -> int:
        return self.clusters[qid][0] if qid in self.clusters else 0

    def _question_view(self, qid: str) -> PostView:
        """A canonical question as the recap shows it, with its link."""
        record = self.canonical.get(qid)
        if record is None:
            return PostView(qid, "", "", "", "post")
        ts, author, text, likes, reposts, _, url = record
        link = post_url(self.info.platform, author, qid, url)
        return PostView(qid, author, text, _iso_ts(ts), "post", link, likes, reposts)

    def _answered_and_open(self, start_ts: float | None) -> tuple[list[TranscriptEntry], list[str]]:
        """The transcript in answer order, and the most engaging open questions' ids; counts
        the answered, skipped, hidden and open questions on the way."""
        q = self.questions
        transcript: list[tuple[float, TranscriptEntry]] = []
        open_heap: list[tuple[int, float, str]] = []
        for qid, (ts, _, _, likes, reposts, status, _) in self.canonical.items():
            steps = self.answers.get(qid)
            dups = self._duplicates_of(qid)
            if steps:
                q.answered += 1
                steps.sort(key=lambda s: s[0])
                answered_at = steps[0][0]
                clock_from = max(ts, start_ts) if start_ts is not None else ts
                wait = max(0.0, answered_at - clock_from)
                entry = TranscriptEntry(self._question_view(qid), dups, [s[1] for s in steps], wait)
                transcript.append((answered_at, entry))
            elif status == "skipped":
                q.skipped += 1
            elif status == "hidden":
                q.hidden += 1
            else:
                q.open += 1
                item = (likes + reposts + dups, -ts, qid)
                if len(open_heap) < TOP_OPEN:
                    heapq.heappush(open_heap, item)
                elif item > open_heap[0]:
                    heapq.heapreplace(open_heap, item)
        transcript.sort(key=lambda t: (t[0], t[1].question.id))
        return [t[1] for t in transcript], [qid for _, _, qid in sorted(open_heap, reverse=True)]

    def _clusters(self) -> list[DuplicateCluster]:
        biggest = heapq.nlargest(TOP_CLUSTERS, self.clusters.items(), key=lambda c: c[1][0])
        return [
            DuplicateCluster(self._question_view(qid), count, list(members))
            for qid, (count, members) in biggest
        ]

    def _top_contributors(self, moderated: set[str]) -> TopContributors:
        eligible = [s for k, s in self.authors.items() if k not in moderated]
        by_questions = heapq.nsmallest(
            TOP, (s for s in eligible if s[1] > 0), key=lambda s: (-s[1], -s[2], s[3].lower())
        )
        by_engagement = heapq.nsmallest(
            TOP, (s for s in eligible if s[2] > 0), key=lambda s: (-s[2], -s[1], s[3].lower())
        )
        return TopContributors(
            [Contributor(s[3], s[1], s[0], s[2]) for s in by_questions],
            [Contributor(s[3], s[1], s[0], s[2]) for s in by_engagement],
        )

    def _top_posts(self) -> list[PostView]:
        top_posts = [item[3] for item in sorted(self.top_posts, reverse=True)]
        for view in top_posts:
            view.url = post_url(self.info.platform, view.author, view.id, view.url)
        return top_posts

    def _follow_ups(self) -> FollowUps:
        follow = FollowUps()
        counts = [(self.reply_refs.get(pid, 0), pid) for pid in self.own_ids]
        counts = sorted((c for c in counts if c[0]), key=lambda c: (-c[0], c[1]))
        follow.count = sum(c for c, _ in counts)
        follow.by_post = [FollowUpCount(pid, self.answer_of.get(pid), c) for c, pid in counts]
        follow.posts = self.follow_posts
        return follow

    def _meta(
        self,
        start_ts: float | None,
        end_ts: float | None,
        now: datetime | None,
        next_session: NextSession | None,
    ) -> Meta:
        info = self.info
        return Meta(
            session_id=info.id,
            hashtag=info.hashtag,
            platform=info.platform,
            title=info.title,
            host=self.host(),
            timezone=info.timezone,
            window_start=_iso_ts(start_ts) if start_ts is not None else None,
            window_end=_iso_ts(end_ts) if end_ts is not None else None,
            generated_at=(now or datetime.now(UTC)).astimezone(UTC).isoformat(),
            source=self.source,
            counts={
                "posts": self.posts,
                "originals": self.kinds.get("post", 0),
                "reposts": self.kinds.get("repost", 0),
                "replies": self.kinds.get("reply", 0),
                "quotes": self.kinds.get("quote", 0),
                "own": self.own,
                "questions": self.questions.received,
                "authors": len(self.authors),
            },
            next=next_session,
        )

    def _activity(self, start_ts: float | None, end_ts: float | None) -> Activity:
        activity = Activity()
        if start_ts is None or end_ts is None:
            return activity
        activity.window_start, activity.window_end = _iso_ts(start_ts), _iso_ts(end_ts)
        first = int((start_ts - self.anchor) // 60)
        minutes = max(1, math.ceil((end_ts - start_ts) / 60))
        width = max(1, math.ceil(minutes / MAX_BUCKETS))
        activity.bucket_seconds = 60 * width
        during = []
        for i in range(0, minutes, width):
            n = sum(self.buckets.get(first + i + j, 0) for j in range(min(width, minutes - i)))
            during.append(Bucket(_iso_ts(self.anchor + 60 * (first + i)), n))
        activity.during = during
        # exact, whatever the buckets' alignment: every post is before, during or after
        total = self.posts - int(self.before[0]) - int(self.after[0])
        activity.during_posts = total
        activity.during_per_minute = round(total / ((end_ts - start_ts) / 60), 3)
        if during:
            activity.peak = max(during, key=lambda b: b.posts)
        activity.before = _period(self.before, start_ts, before=True)
        activity.after = _period(self.after, end_ts, before=False)
        return activity


def _time_to_answer(
    transcript: list[TranscriptEntry], answered_at: dict[str, float], end_ts: float | None
) -> TimeToAnswer:
    """The live waits' figures (first answer before `end_ts`) and the late ones apart."""
    waits: list[float] = []
    late: list[float] = []
    for e in transcript:
        at = answered_at.get(e.question.id)
        after_end = end_ts is not None and at is not None and at >= end_ts
        (late if after_end else waits).append(e.seconds_to_answer or 0.0)
    tta = TimeToAnswer(count=len(waits), late_count=len(late), late_values_s=late)
    if waits:
        ordered = sorted(waits)
        tta.median_s = float(statistics.median(ordered))
        tta.p90_s = nearest_rank(ordered, 0.9)
        tta.min_s, tta.max_s = ordered[0], ordered[-1]
        tta.values_s = waits
    return tta


def _period_add(period: list[Any], ts: float) -> None:
    period[0] += 1
    period[1] = min(period[1], ts)
    period[2] = max(period[2], ts)


def _period(period: list[Any], edge: float, *, before: bool) -> Period:
    posts, first, last = period
    if not posts:
        return Period()
    span = (edge - first) if before else (last - edge)
    minutes = max(1.0, span / 60)
    return Period(
        posts, round(minutes, 3), round(posts / minutes, 3), _iso_ts(first), _iso_ts(last)
    )


def _handle_key(handle: str) -> str:
    handle = handle.strip().lower()
    return handle if handle.startswith("@") else "@" + handle


# --------------------------------------------------------------------------------------------
# From the store


def session_info(session: Session, row: dict[str, Any] | None = None) -> SessionInfo:
    """The recap's view of a plan session; a rehearsal's shifted start (stored with its clock)
    wins over the plan's, since that is when its posts came."""
    start = session.start
    if row and row.get("clock"):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            start = datetime.fromisoformat(json.loads(row["clock"])["start"])
    return SessionInfo(
        id=session.id,
        hashtag=session.hashtag,
        platform=session.platform,
        start=start,
        end=start + session.duration,
        account=session.account,
        title=session.title,
        timezone=session.timezone,
    )


def next_session(plan: Plan | None, session: Session) -> NextSession | None:
    """The session `session.next` names, when the plan has it."""
    if plan is None or not session.next:
        return None
    found = next((s for s in plan.sessions if s.id == session.next), None)
    if found is None:
        return None
    local = found.start.astimezone(found.tz)
    return NextSession(
        id=found.id,
        title=found.title,
        hashtag=found.hashtag,
        start=found.start.astimezone(UTC).isoformat(),
        timezone=found.timezone,
        when=f"{local:%A} {local.day} {local:%B %Y, %H:%M}",
    )


def _recap_and_authors(
    store: Store, session: Session, *, now: datetime | None, plan: Plan | None
) -> tuple[Recap, set[str]]:
    sid = session.id
    row = store.session_row(sid)
    info = session_info(session, row)
    sent = [item for item in store.outbox(sid, ("sent",))]
    from qasession.recap.platforms import qualify

    # several platforms: ids are told apart by platform (two platforms may give the same id)
    q = qualify if getattr(session, "multi", False) else _as_is
    own_ids = {q(item.platform, item.platform_id) for item in sent if item.platform_id}
    # each platform's own account is the host there (several platforms: not the first's)
    accounts = _host_accounts(session)
    builder = RecapBuilder(info, hosts=list(dict.fromkeys(accounts.values())), own_ids=own_ids)
    for r in store.iter_posts(sid):
        _feed(builder, r, q)
    host = builder.host() or _default_account(info.platform)
    if host:
        # what we sent that the search never brought back is activity on the hashtag too
        for sent_row in sent_rows(store, sid, host, accounts):
            _feed(builder, sent_row, q)
    host = builder.host()
    for item in sent:
        if not item.question_id or item.kind not in ("answer", "dm") or not item.sent_at:
            continue
        question_id = q(item.platform, item.question_id)
        if question_id not in builder.canonical:
            # an answer to a merged duplicate answers its canonical question
            merged = store.post_row(sid, item.question_id, item.platform or None)
            if merged is None or not merged["duplicate_of"]:
                continue
            question_id = q(
                merged["duplicate_platform"] or merged["platform"], merged["duplicate_of"]
            )
        private = item.kind == "dm"
        pid = q(item.platform, item.platform_id)
        builder.add_answer(
            question_id,
            Answer(
                id=None if private else pid,
                kind=item.kind,
                text=None if private else item.text,
                sent_at=item.sent_at,
                url=None
                if private or not pid
                else builder.own_urls.get(pid)
                or _sent_url(item, accounts.get(item.platform) or host, session),
            ),
        )
    moderation = store.moderation(sid)
    plan_moderation = getattr(session, "moderation", None)
    muted = set(moderation.get("muted", set()))
    blocked = set(moderation.get("blocked", set()))
    if plan_moderation is not None:
        muted |= {_handle_key(h) for h in plan_moderation.muted}
        blocked |= {_handle_key(h) for h in plan_moderation.blocked}
    recap = builder.finish(
        now=now,
        muted=muted,
        blocked=blocked,
        cost=_cost(row, session),
        next_session=next_session(plan, session),
    )
    answers = getattr(session, "answers", None)
    recap.meta.target = getattr(answers, "target", None)
    from qasession.recap.enrich import enrich

    enrich(store, session, recap)
    share(recap, session)
    from qasession.recap.team import team_credits

    recap.team = team_credits(store, session)
    return recap, builder.participant_keys()


def build_recap(
    store: Store, session: Session, *, now: datetime | None = None, plan: Plan | None = None
) -> Recap:
    """The recap of `session` from what the store holds (reads only). `plan` lets the recap
    name the next session (`session.next`)."""
    from qasession.recap.platforms import platform_breakdown

    recap = _recap_and_authors(store, session, now=now, plan=plan)[0]
    recap.by_platform = platform_breakdown(store, session)
    return recap


def _cost(row: dict[str, Any] | None, session: Session) -> Cost | None:
    """Calls and spend from the counters the live run stored; X's spend is priced from them
    with the session's X settings when the counters do not carry it."""
    if not row or not row.get("counters"):
        return None
    try:
        calls = json.loads(row["counters"])
    except ValueError:
        return None
    if not isinstance(calls, dict):
        return None
    billing = _billing(session.platform)
    paid = billing is not None
    spend = calls.get("spend_usd", calls.get("total_usd"))
    if spend is None and billing is not None:
        try:
            spend = billing.spend_of(session.platform_settings, calls)
        except (ValueError, TypeError):
            spend = None
    return Cost(
        platform=session.platform,
        paid=paid,
        calls={k: v for k, v in calls.items() if k not in ("spend_usd", "total_usd")},
        spend_usd=float(spend) if spend is not None else None,
        estimated_search_requests=_estimated_search_requests(session),
    )


def _estimated_search_requests(session: Session) -> int | None:
    """The search requests `qa plan` estimates for the session (every platform's), at the
    pacing `qa run` keeps by default."""
    from qasession.errors import QAError
    from qasession.session.reading import estimate_reading, search_limits_of

    try:
        return sum(
            int(estimate_reading(view, search_limits_of(view))["search_requests"])
            for view in session.views()
        )
    except (QAError, AttributeError):
        return None  # a platform not installed, or a session without a plan's timing


def _default_account(platform: str) -> str | None:
    from qasession.platforms.registry import adapter_class

    cls = adapter_class(platform)
    return cls.DEFAULT_ACCOUNT if cls is not None else None


def _billing(platform: str) -> type[Billing] | None:
    """The adapter class of `platform` when it bills (asked, never guessed from the name)."""
    from qasession.errors import QAError
    from qasession.platforms.base import billing_of
    from qasession.platforms.registry import load_class

    try:
        return billing_of(load_class(platform))
    except QAError:
        return None


# --------------------------------------------------------------------------------------------
# Drafts


def make_drafts(recap: Recap, *, max_length: int, length: Callable[[str], int]) -> list[Draft]:
    """Thank-you post(s) mentioning the top contributors, a follow-up for open questions, a
    follow-up listing the questions answered after the end (those not listed yet), a teaser
    of the next session and invitations to it (those not invited yet), each fitting
    `max_length` as `length` counts."""
    from qasession.compose import ensure_hashtag, late_texts, thanks_texts

    meta = recap.meta
    sid, tag = meta.session_id, meta.hashtag
    drafts: list[Draft] = []

    def add(kind: str, number: int | str, text: str) -> None:
        drafts.append(Draft(f"{sid}:draft:{kind}:{number}", kind, text, length(text), max_length))

    handles: list[str] = []
    for c in (*recap.top_contributors.by_questions, *recap.top_contributors.by_engagement):
        if c.handle not in handles:
            handles.append(c.handle)
    asked = asked_by(recap)
    for i, text in enumerate(thanks_texts(handles[:TOP], tag, max_length, length, asked), 1):
        add("thanks", i, text)

    open_count = recap.questions.open
    if open_count:
        # "1 of your question" read wrong: the count and its noun agree in every wording
        some = "one of your questions" if open_count == 1 else f"{open_count} of your questions"
        still = "1 question is" if open_count == 1 else f"{open_count} questions are"
        for text in (
            f"We couldn't answer {some} live: thank you for asking! "
            f"We'll follow up here. Still wondering about something? Ask with {tag}.",
            f"{still} still open: we'll follow up. Keep asking with {tag}!",
        ):
            if length(text) <= max_length:
                add("followup", 1, text)
                break

    late = [(a.number, a.author, a.text) for a in recap.late_answers if not (a.private or a.listed)]
    for numbers, text in late_texts(late, tag, max_length, length):
        # keyed by the questions it lists: posted once, and a later one lists only newer ones
        add("late", "-".join(str(n) for n in numbers), text)

    nxt = meta.next
    if nxt is not None:
        for title in (nxt.title, ""):
            named = f" {title}" if title else ""
            text = ensure_hashtag(
                f"Next session{named}: {nxt.when} ({nxt.timezone}). "
                f"Send your questions with {nxt.hashtag}!",
                tag,
            )
            if length(text) <= max_length:
                add("teaser", 1, text)
                break
        _add_invitations(recap, nxt, handles, add, max_length, length)
    return drafts


def asked_by(recap: Recap) -> dict[str, int]:
    """Questions asked by each top contributor's handle (the drafts' "question(s)")."""
    asked = {c.handle: c.questions for c in recap.top_contributors.by_engagement}
    asked.update({c.handle: c.questions for c in recap.top_contributors.by_questions})
    return asked


def _add_invitations(
    recap: Recap,
    nxt: NextSession,
    handles: list[str],
    add: Callable[[str, int | str, str], None],
    max_length: int,
    length: Callable[[str], int],
) -> None:
    """Invitations to the next session by mention of the top contributors (the host never,
    nor a muted or blocked author: the contributor lists leave them out), grouped to fit;
    each keyed by the handles it mentions, so a person is invited once."""
    from qasession.compose import invitation_texts

    hosts = {_handle_key(recap.meta.host)} if recap.meta.host else set()
    invited = {_handle_key(h) for h in recap.invited}
    guests = [h for h in handles[:TOP] if _handle_key(h) not in hosts | invited]
    named = f" {nxt.title}" if nxt.title else ""
    wordings = [
        f"join us for the next session{named}, {nxt.when} ({nxt.timezone}), with {nxt.hashtag}!",
        f"join us for the next session, {nxt.when} ({nxt.timezone}), with {nxt.hashtag}!",
        f"join us next time with {nxt.hashtag}!",
    ]
    made = invitation_texts(
        guests, recap.meta.hashtag, wordings, max_length, length, asked_by(recap)
    )
    for group, text in made:
        add("invite", "+".join(_handle_key(h).lstrip("@") for h in group), text)


def public_drafts(
    recap: Recap, session_like: Any, *, max_length: int, length: Callable[[str], int]
) -> tuple[list[Draft], list[str]]:
    """The drafts to post publicly, sized for the platform, and what to tell the operator
    about them. They are made from the masked recap and masked once more (a plan text may
    hold private data); a draft whose masked text no longer fits is left out."""
    from qasession.recap.masking import mask_drafts, notice, patterns_of

    drafts = make_drafts(recap, max_length=max_length, length=length)
    changed = mask_drafts(drafts, patterns_of(session_like))
    notes = []
    kept = []
    for draft in drafts:
        draft.length = length(draft.text)
        if draft.key in changed and draft.length > max_length:
            notes.append(f"{draft.key}: left out (it held private data)")
            continue
        if draft.key in changed or MASKED_MARK.search(draft.text):
            # masked here, or made of a text the recap masked (the next session's title)
            notes.append(f"{draft.key}: {notice(changed.get(draft.key, ()), 'this draft')}")
        kept.append(draft)
    return kept, notes


def share(recap: Recap, session_like: Any) -> Recap:
    """Make `recap` fit to share: its texts masked with the detectors and the session's
    `sensitive_patterns`, then its drafts made from the masked recap (and masked too)."""
    from qasession.recap.masking import mask_drafts, mask_recap, patterns_of

    patterns = patterns_of(session_like)
    mask_recap(recap, patterns)
    recap.drafts = default_drafts(recap)
    found = [label for labels in mask_drafts(recap.drafts, patterns).values() for label in labels]
    recap.meta.masked = list(dict.fromkeys([*recap.meta.masked, *found]))
    return recap


def default_drafts(recap: Recap) -> list[Draft]:
    """Drafts sized with the platform's default limit (the CLI re-sizes them with the
    configured adapter before posting)."""
    from qasession.errors import QAError
    from qasession.platforms.base import Capabilities
    from qasession.platforms.registry import capabilities_for

    try:
        capabilities = capabilities_for(recap.meta.platform)
    except QAError:  # an unknown platform in an archive: X's rules, the likeliest source
        capabilities = Capabilities()
    return make_drafts(recap, max_length=capabilities.max_length, length=capabilities.length)


# --------------------------------------------------------------------------------------------
# Exports and series


def _as_is(platform: str | None, post_id: Any) -> Any:
    return post_id


def _feed(builder: RecapBuilder, r: Any, q: Any = _as_is) -> None:
    columns = r.keys()  # a sqlite Row or a dict
    platform = r["platform"] if "platform" in columns else None
    merged_from = r["duplicate_platform"] if "duplicate_platform" in columns else None
    builder.add_post((
        q(platform, r["id"]), r["author"], r["text"], r["created_at"], r["kind"],
        q(platform, r["ref"]), r["likes"], r["reposts"], r["url"], bool(r["is_question"]),
        r["status"], r["flags"], q(merged_from or platform, r["duplicate_of"]),
    ))  # fmt: skip


def _host_accounts(session: Any) -> dict[str, str]:
    """The host's account on each platform of the session (by the posts' platform tag)."""
    views = session.views() if hasattr(session, "views") else [session]
    return {
        getattr(view, "platform", "") or "": view.account
        for view in views
        if getattr(view, "account", None)
    }


def _sent_url(item: Any, host: str | None, session: Any) -> str | None:
    """Where a post we sent can be seen, on the platform it went out on (with its settings)."""
    if not host or not item.platform_id:
        return None
    name = item.platform or session.platform
    views = session.views() if hasattr(session, "views") else [session]
    view = next((v for v in views if v.platform == name), session)
    settings = getattr(view, "platform_settings", None)
    return post_url(name, host, item.platform_id, None, settings)


def sent_rows(
    store: Store, session_id: str, host: str, accounts: Mapping[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """What we sent that the search never brought back (answers, reposts, posts, drafts;
    never a direct message: it is private), as rows of the host's posts: by the host's
    account on the platform it went out on (`accounts`), else `host`."""
    sent = store.outbox(session_id, ("sent",))
    by_op: dict[str, list[Any]] = {}
    for item in sent:
        by_op.setdefault(item.op, []).append(item)
    for item in sent:
        pid = item.platform_id
        if not pid or item.kind == "dm" or not item.sent_at:
            continue
        if store.post_row(session_id, pid, item.platform or None) is not None:
            continue
        ref = item.repost_of or item.quote_of or item.reply_to
        if ref == "^":
            earlier = [s for s in by_op[item.op] if s.seq < item.seq and s.platform_id]
            ref = earlier[-1].platform_id if earlier else None
        if item.kind == "repost":
            kind = "repost"
        elif item.quote_of:
            kind = "quote"
        else:
            kind = "reply" if ref else "post"
        text = item.text or ""
        if kind == "repost" and ref:
            original = store.post_row(session_id, ref, item.platform or None)
            text = original["text"] if original else ""
        yield {
            "session_id": session_id, "id": pid,
            "author": (accounts or {}).get(item.platform) or host, "text": text,
            "created_at": item.sent_at, "kind": kind, "ref": ref, "likes": 0, "reposts": 0,
            "lang": None, "url": None, "seen_at": item.sent_at, "is_question": 0,
            "status": "own", "flags": "", "duplicate_of": None, "duplicates": 0, "pinned": 0,
            "first_time": 0, "platform": item.platform,
        }  # fmt: skip


def export_rows(store: Store, session: Session | SessionInfo) -> Iterator[dict[str, Any]]:
    """Every post of the session as a dict of the posts table's columns (streamed), then what
    we sent that the search never brought back (see `sent_rows`)."""
    sid = session.id
    for r in store.iter_posts(sid):
        yield dict(r)
    host = session.account
    if not host:
        own = store.posts(sid, where="status = 'own'")
        host = own[0]["author"] if own else _default_account(session.platform)
    if host:
        yield from sent_rows(store, sid, host, _host_accounts(session))


@dataclass(slots=True)
class SeriesEntry:
    id: str
    title: str
    start: str
    hashtag: str
    participants: int
    questions_received: int
    answered: int
    returning: int
    new: int
    growth_pct: float | None


@dataclass(slots=True)
class Series:
    sessions: list[SeriesEntry]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def series_of(plan: Plan, session: Session) -> list[Session]:
    """The sessions linked to `session` by `next`, first to last (a cycle stops the walk)."""
    by_id = {s.id: s for s in plan.sessions}
    previous = {s.next: s.id for s in plan.sessions if s.next}
    first = session
    seen = {first.id}
    while first.id in previous and previous[first.id] not in seen:
        first = by_id[previous[first.id]]
        seen.add(first.id)
    chain = [first]
    seen = {first.id}
    while chain[-1].next in by_id and chain[-1].next not in seen:
        chain.append(by_id[str(chain[-1].next)])
        seen.add(chain[-1].id)
    return chain


def build_series(
    store: Store, plan: Plan, session: Session, *, now: datetime | None = None
) -> Series:
    """Per session of the series: participants, questions, answers, returning participants
    (seen in an earlier session of the series) and growth of participants in % of the
    previous session's."""
    entries: list[SeriesEntry] = []
    seen: set[str] = set()
    previous: int | None = None
    for s in series_of(plan, session):
        recap, authors = _recap_and_authors(store, s, now=now, plan=plan)
        returning = len(authors & seen)
        growth = round((recap.participants - previous) / previous * 100, 1) if previous else None
        entries.append(
            SeriesEntry(
                id=s.id,
                title=s.title,
                start=s.start.astimezone(UTC).isoformat(),
                hashtag=s.hashtag,
                participants=recap.participants,
                questions_received=recap.questions.received,
                answered=recap.questions.answered,
                returning=returning,
                new=recap.participants - returning,
                growth_pct=growth,
            )
        )
        seen |= authors
        previous = recap.participants
    return Series(entries)


def window_of(recap: Recap) -> tuple[datetime | None, datetime | None]:
    start, end = recap.meta.window_start, recap.meta.window_end
    return (
        datetime.fromisoformat(start) if start else None,
        datetime.fromisoformat(end) if end else None,
    )


def duration_text(seconds: float | None) -> str:
    """ "42 s", "3 min 5 s", "1 h 02 min" for humans; "–" for none."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min"


__all__ = [
    "Activity",
    "Answer",
    "Recap",
    "RecapBuilder",
    "Series",
    "SessionInfo",
    "build_recap",
    "build_series",
    "export_rows",
    "make_drafts",
]


def drafts_to_post(store: Store, drafts: list[Draft]) -> tuple[list[Draft], list[Draft]]:
    """(already posted, still to post): a draft is posted once, whatever runs it again."""
    done = [d for d in drafts if (item := store.outbox_item(d.key)) and item.state == "sent"]
    posted = {d.key for d in done}
    return done, [d for d in drafts if d.key not in posted]


def post_drafts(
    store: Store, platform: Any, session: Session, todo: list[Draft], *, actor: str | None = None
) -> list[str]:
    """Post `todo` through the outbox (intent first, keys `<session>:draft:<kind>:<n>`) for
    `actor` (default: who is at the keyboard), the host's under the plan's `team:`
    (NotAllowed); returns the keys posted (or found posted: a crash after the send). What a
    rate limit or an error held back stays an intent. The audit log keeps who posted which."""
    from qasession.session.outbox import Outbox
    from qasession.session.team import default_actor, require
    from qasession.store import OutboxItem
    from qasession.store.team import Who

    actor = actor or default_actor()
    role = require(session, actor, "post")
    store.ensure_session(session.id, session.hashtag, session.platform)
    store.add_intents(
        session.id, [OutboxItem(key=d.key, kind="draft", text=d.text, actor=actor) for d in todo]
    )
    outbox = Outbox(store, platform, session.id, platform.clock)
    outbox.reconcile_all()  # a draft a crash left `sending` is looked up, never sent again
    outbox.flush({d.key for d in todo})
    posted = [d.key for d in todo if (item := store.outbox_item(d.key)) and item.state == "sent"]
    if posted:
        store.record(session.id, Who(actor, role), "drafts posted", detail={"keys": posted})
    return posted
