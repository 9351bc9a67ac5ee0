"""A twarc2 JSONL archive (X API v2 pages, one per line) read into the same recap, streaming.

Each line is one API page (`{"data": [tweets], "includes": {"users": [...]}, "__twarc": ...}`)
or, after `twarc2 flatten`, one tweet with its `author` inlined. Lines are read in chunks and
never all kept: memory holds per-author counters, the canonical questions (what the transcript
and the open questions need), the duplicate index and the host's posts, not the posts.

The work is split in two: a *scanner* does everything one post at a time needs (parsing,
counters of the posts that ask nothing, question detection and screening, topics) and hands
over the questions and the host's posts; the *resolver* merges near-duplicate questions
(the first one in file order is canonical), matches answers and makes the recap. A large
archive runs the scanner in a second process, so two cores share the work; a small one, or a
CSV export (rows in file order), runs both in one.

Triage is the live one's, limited for speed: every post is checked for a question; questions
are screened for private data and troll signals. A line carrying our own `__qasession`
annotation (written by `qa recap --format jsonl`) gives the session, the host and the stored
triage instead, so an export read back recaps the same.

Answers are the host's posts: a reply to or quote of a question, or a `.@asker` post (after
a repost of the question, or the asker's latest open question); replies of the host to its own
posts continue a thread. An answer sent only as a direct message is not in an archive.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypedDict, Unpack

import numpy as np
from pydantic_core import from_json

from qasession import triage
from qasession.errors import PlanError, UsageError
from qasession.recap import (
    Answer,
    NextSession,
    PhraseCounter,
    PostRow,
    Recap,
    RecapBuilder,
    SessionInfo,
    parse_time,
    post_url,
    share,
)
from qasession.recap.archive_csv import CsvExport, RowFormatter
from qasession.recap.archive_wire import Author, Metrics, Page, Ref, Tweet, decode_page, ids_of
from qasession.recap.enrich import archive_key_questions, brand_words, enrich_archive
from qasession.recap.masking import Masker
from qasession.recap.phrases import QuestionText, guess_language, phrases_of, tag_language
from qasession.triage.cleaning import strip_entities
from qasession.triage.duplicates import Prepared, prepare, question_tokens
from qasession.triage.questions import is_question_clean
from qasession.triage.trolls import text_signals

META_KEY = "__qasession"
_KINDS = {"retweeted": "repost", "replied_to": "reply", "quoted": "quote"}
_KIND_RANK = {"repost": 3, "reply": 2, "quote": 1}
CHUNK_LINES = 40  # lines (pages of 100 tweets) per unit of work
IN_FLIGHT = 6  # chunks handed to the scanner process ahead of the resolver
PARALLEL_BYTES = 16_000_000  # below this, a second process costs more than it saves


def _loads(line: bytes) -> Any:
    # pydantic's JSON parser (jiter, pydantic is a dependency) reads these lines about twice
    # as fast as `json`
    return from_json(line, cache_strings="keys")


# A question handed to the resolver: (number, id, author, text, created, kind, ref, likes,
# reposts, text hash, screening, mark, prepared); `prepared` is the text made ready for the
# duplicate index (`triage.prepare`), sent the first time the scanner meets the text
Question = tuple[int, str, str, str, str, str, str | None, int, int, int, str, Any, Prepared | None]
# A host post: (ts, id, kind, ref, text, created)
HostPost = tuple[float, str, str, str | None, str, str]
# What a chunk gives the resolver: its questions, the host's posts and, for a CSV export,
# the CSV text of the other posts around the questions (one more segment than questions) and
# the questions' language cells (X's `lang` tag)
Scanned = tuple[list[Question], list[HostPost], list[str], list[str]]


@dataclass(frozen=True, slots=True)
class _Settings:
    """What the scanner needs to know (picklable, for its process)."""

    info: SessionInfo
    patterns: tuple[str, ...] = ()
    blocked_words: frozenset[str] = frozenset()
    csv: bool = False  # a CSV export: rows formatted as posts are read
    masker: Masker | None = None  # the CSV rows' masking (None: private data kept)


class _Failed(Exception):
    """A scanner error carried across processes (PlanError does not pickle its fields)."""

    def __init__(self, message: str, line: int | None, hint: str | None) -> None:
        super().__init__(message, line, hint)
        self.message, self.line, self.hint = message, line, hint


@contextmanager
def _open(path: Path | str) -> Iterator[IO[bytes]]:
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        yield handle
    finally:
        handle.close()


def _info_from(meta: Any, hashtag: str | None) -> SessionInfo | None:
    session = (meta if isinstance(meta, dict) else {}).get("session") or {}
    tag = hashtag or session.get("hashtag")
    if not tag:
        return None

    def when(key: str) -> datetime | None:
        value = session.get(key)
        try:
            return datetime.fromisoformat(value) if value else None
        except (TypeError, ValueError):
            return None

    return SessionInfo(
        id=str(session.get("id") or tag.lstrip("#").lower()),
        hashtag=tag,
        platform=str(session.get("platform") or "x"),
        start=when("start"),
        end=when("end"),
        account=session.get("host"),
        title=session.get("title"),
        timezone=str(session.get("timezone") or "UTC"),
    )


class HashSet:
    """64-bit hashes (`hash(id)`: a collision among a million ids has odds of about 1 in 30
    million) in sorted numpy arrays of about halving sizes, a batch at a time: a chunk's ids are
    looked up and added in C (binary searches, then a merge of sorted runs), where a Python
    set of ints would take about 70 bytes an id and a loop per id. 8 bytes an id (16 while
    two runs merge); a million-post archive keeps a million. Keys only go in."""

    __slots__ = ("runs",)

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []  # sorted, disjoint, each larger than the next

    def __len__(self) -> int:
        return sum(len(run) for run in self.runs)

    def add(self, keys: np.ndarray) -> np.ndarray:
        """Add `keys` (int64); for each, whether it was there before this call (a key twice
        in `keys` and new is False both times)."""
        # the distinct keys, sorted: each run is searched in order, close to the last hit
        distinct, where = np.unique(keys, return_inverse=True)
        known = np.zeros(len(distinct), dtype=bool)
        for run in self.runs:
            at = np.searchsorted(run, distinct)
            inside = at < len(run)
            known[inside] |= run[at[inside]] == distinct[inside]
        new = distinct[~known]
        if len(new):
            runs = self.runs
            runs.append(new)
            # like a binary counter: a run merges into the one before while it is as large,
            # so each key is merged about log2(keys / chunk) times and there are as many runs
            while len(runs) > 1 and len(runs[-2]) <= len(runs[-1]):
                last = runs.pop()
                runs[-1] = np.sort(np.concatenate((runs[-1], last)), kind="stable")
        return known[where]


# --------------------------------------------------------------------------------------------
# The scanner: one post at a time


class _Scanner:
    """Counts what needs no view of other posts and hands over questions and host posts."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        info = settings.info
        # questions are counted as posts here and as questions by the resolver's builder;
        # topics and languages are counted here, where the text is at hand
        self.builder = RecapBuilder(
            info,
            hosts=[info.account] if info.account else [],
            source="archive",
            count_questions=False,
        )
        self.hosts = self.builder.hosts
        self.patterns = triage.compile_patterns(settings.patterns)
        self.blocked_words = settings.blocked_words
        self.handles: dict[str, str] = {}  # author id -> "@username"
        self.skip: set[str] = set()  # ids of the chunk first met in an earlier chunk
        self.met: set[str] = set()  # ids of the chunk met so far
        self.screened: dict[int, str] = {}  # a question's text hash -> its screening flags
        self.guessed: dict[str, str] = {}  # an untagged question's text -> its language
        self.asked: dict[str, bool] = {}  # a text -> whether it asks
        self.counts_questions = True  # a CSV export's scanner leaves question rows alone
        self.cleaned = ("", "")  # the last text `asks` read, through `strip_entities`

    def chunk(self, lines: list[tuple[int, bytes]], skip: set[str]) -> Scanned:
        """The questions, host posts (and CSV segments) of `lines`; the posts whose ids are
        in `skip` were met in an earlier chunk (`_Ids`, whichever process read it) and are
        left out, as are the repeats within the chunk."""
        self.skip = skip
        self.met = set()
        questions: list[Question] = []
        hosts: list[HostPost] = []
        for number, line in lines:
            page = decode_page(line)
            if page is not None:
                self.wire_page(page, number, questions, hosts)
                continue
            try:
                obj = _loads(line)
            except ValueError as exc:
                raise _Failed(
                    f"not a JSON line: {exc}",
                    number,
                    "expected twarc2 JSONL (one API response per line)",
                ) from None
            self.page(obj, number, questions, hosts)
        return questions, hosts, [], []

    def wire_page(
        self, page: Page, number: int, questions: list[Question], hosts: list[HostPost]
    ) -> None:
        """A page the msgspec decoder read (nearly every line of a twarc2 archive)."""
        users = page.includes.users if page.includes is not None else None
        if users:
            handles = self.handles
            for user in users:
                uid, name = user.id, user.username
                if uid is not None and name:
                    uid = uid if type(uid) is str else str(uid)
                    if uid not in handles:
                        handles[uid] = "@" + name.lstrip("@")
        annotation = page.annotation
        marks = annotation.get("triage") if annotation is not None else None
        tweet = self.tweet
        for item in page.data or ():
            tweet(item, marks, number, questions, hosts)

    def page(self, obj: Any, number: int, questions: list[Question], hosts: list[HostPost]) -> None:
        """A line the generic JSON parser read: anything `wire_page` does not take."""
        if not isinstance(obj, dict):
            raise _Failed("a line that is no JSON object", number, None)
        users = (obj.get("includes") or {}).get("users")
        if users:
            handles = self.handles
            for user in users:
                uid = user.get("id")
                if uid is not None and uid not in handles and user.get("username"):
                    handles[str(uid)] = "@" + str(user["username"]).lstrip("@")
        data = obj.get("data")
        annotation = obj.get(META_KEY)
        marks = annotation.get("triage") if isinstance(annotation, dict) else None
        if data is None and "text" in obj and "id" in obj:
            data = [obj]  # a flattened tweet
        elif isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            return
        for tweet in data:
            self.tweet(_tweet_of(tweet, number), marks, number, questions, hosts)

    def tweet(
        self,
        tweet: Tweet,
        marks: dict[str, Any] | None,
        number: int,
        questions: list[Question],
        hosts: list[HostPost],
    ) -> None:
        """One tweet (a million of these: kept lean on purpose)."""
        pid = tweet.id
        if type(pid) is not str:
            pid = str(pid)
        met = self.met
        if pid in met or pid in self.skip:
            return  # an archive collected twice overlaps: a post counts once
        met.add(pid)
        text, created = tweet.text, tweet.created_at
        author_id = tweet.author_id
        author = self.handles.get(author_id) if type(author_id) is str else None
        if author is None:
            author = self._author(tweet.author, author_id)
        refs = tweet.referenced_tweets
        kind, ref = _kind_ref(refs) if refs else ("post", None)
        metrics = tweet.public_metrics
        likes, reposts = (metrics.like_count, metrics.retweet_count) if metrics else (0, 0)

        status, flags = "chatter", ""
        if author.lower() in self.hosts:
            hosts.append((parse_time(created), pid, kind, ref, text, created))
            status = "own"
        elif kind == "repost":
            status = "repost"
        elif marks is not None:
            mark = marks.get(pid)
            if mark and mark[0]:
                self.builder.topics.add(text)
                self._count_language(tweet.lang, text)
                questions.append(
                    (number, pid, author, text, created, kind, ref, likes, reposts, 0, "",
                     mark, None)
                )  # fmt: skip
                self._count_question(pid, author, text, created, kind, ref, likes, reposts,
                                     str(mark[1]), str(mark[2]))  # fmt: skip
                return
            if mark:
                status, flags = str(mark[1]), str(mark[2])
        elif self.asks(text):
            self.builder.topics.add(text)
            raw = hash(text.casefold())
            screened, prepared = self._screen(tweet.lang, text, raw)
            questions.append(
                (number, pid, author, text, created, kind, ref, likes, reposts, raw, screened,
                 None, prepared)
            )  # fmt: skip
            self._count_question(pid, author, text, created, kind, ref, likes, reposts,
                                 "queued", screened)  # fmt: skip
            return
        self.builder.add_post(
            (
                pid,
                author,
                text,
                created,
                kind,
                ref,
                likes,
                reposts,
                None,
                False,
                status,
                flags,
                None,
            )
        )

    def _count_question(  # noqa: PLR0913 - the post's fields, as add_post takes them
        self,
        pid: str,
        author: str,
        text: str,
        created: str,
        kind: str,
        ref: str | None,
        likes: int,
        reposts: int,
        status: str,
        flags: str,
    ) -> None:
        """A question post counted as a post (author, engagement, replies, activity); the
        resolver counts it as a question once it knows whether it is a duplicate."""
        if self.counts_questions:
            self.builder.add_post(
                (pid, author, text, created, kind, ref, likes, reposts, None, True, status,
                 flags, None)
            )  # fmt: skip

    def asks(self, text: str) -> bool:
        """`triage.is_question`, once per distinct text (floods repeat texts word for word);
        the text of a question met for the first time is kept cleaned for `_screen`."""
        asked = self.asked.get(text)
        if asked is None:
            cleaned = strip_entities(text)
            asked = is_question_clean(cleaned)
            if len(self.asked) > 100_000:
                self.asked.clear()
            self.asked[text] = asked
            self.cleaned = (text, cleaned)
        return asked

    def _screen(self, lang: str | None, text: str, raw: int) -> tuple[str, Prepared | None]:
        """A question's screening flags ("sensitive,troll") and, the first time its text is
        met, the text made ready for the duplicate index; counts its language. Floods repeat
        questions word for word: each distinct text (by `raw`, its hash) is screened once."""
        self._count_language(lang, text)
        screened = self.screened.get(raw)
        if screened is not None:
            return screened, None
        last, cleaned = self.cleaned
        if last is not text:
            cleaned = strip_entities(text)
        found = []
        if triage.find_sensitive(text, self.patterns):
            found.append("sensitive")
        if text_signals(text, cleaned, self.blocked_words):  # troll_signals of one post
            found.append("troll")
        screened = ",".join(found)
        if len(self.screened) > 200_000:
            self.screened.clear()
        self.screened[raw] = screened
        return screened, prepare(text, question_tokens(cleaned))

    def _count_language(self, tag: str | None, text: str) -> None:
        """Count a question post in its language: the platform's tag, else a guess from the
        text (each distinct text guessed once), as the store's recap counts. A CSV export
        counts none (it is no recap)."""
        if not self.counts_questions:
            return
        lang = tag_language(tag)
        if lang is None:
            guessed = self.guessed
            lang = guessed.get(text)
            if lang is None:
                lang = guess_language(text)
                if len(guessed) > 100_000:
                    guessed.clear()
                guessed[text] = lang
        languages = self.builder.languages
        languages[lang] = languages.get(lang, 0) + 1

    def _author(self, inline: Author | None, author_id: Any) -> str:
        if inline is not None and inline.username:
            return "@" + inline.username.lstrip("@")
        if author_id is not None:
            return self.handles.get(str(author_id)) or f"@id{author_id}"
        return "@unknown"


def _tweet_of(tweet: Any, number: int) -> Tweet:
    """A tweet of the generic JSON path as the decoder's `Tweet` (values made strings and
    numbers the way the wire types have them)."""
    pid, text, created = _fields(tweet, number)
    refs = tweet.get("referenced_tweets")
    metrics = tweet.get("public_metrics")
    likes, reposts = _metrics(metrics) if metrics else (0, 0)
    inline = tweet.get("author")
    username = inline.get("username") if isinstance(inline, dict) else None
    return Tweet(
        pid,
        text,
        created,
        tweet.get("author_id"),
        [Ref(str(r.get("type", "")), r.get("id")) for r in refs] if refs else None,
        Metrics(likes, reposts),
        Author(None, str(username)) if username else None,
        lang if isinstance(lang := tweet.get("lang"), str) else None,
    )


def _fields(tweet: Any, number: int) -> tuple[str, str, str]:
    """A tweet's id, text and creation time, as strings."""
    try:
        pid = tweet["id"]
        text = tweet["text"]
        created = tweet["created_at"]
    except (KeyError, TypeError):
        raise _Failed(
            "a tweet without id, text or created_at",
            number,
            "expected twarc2 output (search or timeline)",
        ) from None
    if type(pid) is not str:
        pid = str(pid)
    if type(text) is not str or type(created) is not str:
        text, created = str(text), str(created)
    return pid, text, created


def _kind_ref(refs: list[Ref]) -> tuple[str, str | None]:
    """What a tweet is (repost, reply, quote) and of which post, from its references."""
    kind, ref, rank = "post", None, 0
    for r in refs:
        k = _KINDS.get(r.type)
        if k is not None and _KIND_RANK[k] > rank:
            kind, ref, rank = k, str(r.id), _KIND_RANK[k]
    return kind, ref


def _metrics(metrics: Any) -> tuple[int, int]:
    """Likes and reposts of a tweet's `public_metrics`."""
    likes = metrics.get("like_count") or 0
    reposts = metrics.get("retweet_count") or 0
    if type(likes) is not int or type(reposts) is not int:
        likes, reposts = int(likes), int(reposts)
    return likes, reposts


# The scanner of a worker process, kept between chunks.
_WORKER: _Scanner | None = None


def _worker_start(settings: _Settings) -> None:
    global _WORKER
    _WORKER = _CsvScanner(settings) if settings.csv else _Scanner(settings)


def _worker_chunk(lines: list[tuple[int, bytes]], skip: set[str]) -> Scanned:
    assert _WORKER is not None
    return _WORKER.chunk(lines, skip)


def _worker_end() -> tuple[RecapBuilder, list[str]]:
    assert _WORKER is not None
    masker = _WORKER.settings.masker
    return _WORKER.builder, masker.masked if masker is not None else []


# --------------------------------------------------------------------------------------------
# The resolver: duplicates, answers, the recap


class _Resolver:
    def __init__(self, info: SessionInfo, export: CsvExport | None) -> None:
        self.info = info
        # the scanners counted the question posts as posts: here they count as questions
        self.builder = RecapBuilder(
            info,
            hosts=[info.account] if info.account else [],
            source="archive",
            count_topics=False,
        )
        self.export = export
        self.rows = RowFormatter(export.masker) if export is not None else None
        self.index = triage.DuplicateIndex()
        self.exact: dict[int, str] = {}  # hash of a question's raw text -> canonical id
        self.merged_of: dict[str, str] = {}
        self.host_posts: list[HostPost] = []
        self.start_ts = info.start.timestamp() if info.start is not None else None
        # the questions to find key phrases in, once every question is in (None: none)
        self.key_questions: Callable[[], list[QuestionText]] | None = None
        # those questions and, being found by the scanning worker, their phrases
        self.phrases: tuple[list[QuestionText], Future[list[list[str]]]] | None = None

    def take(
        self,
        questions: list[Question],
        hosts: list[HostPost],
        segments: list[str],
        langs: list[str],
    ) -> None:
        """A chunk's questions (in file order) and host posts; for a CSV export, its rows
        written in file order: the other posts' `segments` around the questions', whose
        language cells are `langs`."""
        self.host_posts.extend(hosts)
        builder, rows = self.builder, self.rows
        out: list[str] = []
        for i, (
            _,
            pid,
            author,
            text,
            created,
            kind,
            ref,
            likes,
            reposts,
            raw,
            screened,
            mark,
            prepared,
        ) in enumerate(questions):
            if mark is not None:
                status, flags, dup = str(mark[1]), str(mark[2]), mark[3]
                if dup:
                    self.merged_of[pid] = dup
            else:
                status, flags, dup = self.question(pid, text, created, raw, screened, prepared)
            row = (pid, author, text, created, kind, ref, likes, reposts, None, True, status,
                   flags, dup)  # fmt: skip
            if rows is None:
                builder.add_question(row)
            else:  # a CSV export: the row, and no recap
                rows.add(row, langs[i])
                out.append(segments[i])
                out.append(rows.take())
        if rows is not None and self.export is not None:
            out.append(segments[-1] if segments else "")
            self.export.out.write("".join(out))

    def question(
        self,
        pid: str,
        text: str,
        created: str,
        raw: int,
        screened: str,
        prepared: Prepared | None,
    ) -> tuple[str, str, str | None]:
        """Status, flags and canonical question of a new question post (`prepared`: its text
        made ready for the index by the scanner, None when it was met before)."""
        # copies word for word are found by their hash, without the index's fuzzy matching
        canonical = self.exact.get(raw)
        if canonical is None:
            canonical = self.index.add(pid, text, prepared=prepared) or pid
            self.exact[raw] = canonical
        flags = screened.split(",") if screened else []
        if self.start_ts is not None and self.builder.time_of(created) < self.start_ts:
            flags.append("ahead")
        if canonical == pid:
            return "queued", ",".join(sorted(flags)), None
        flags.append("duplicate")
        self.merged_of[pid] = canonical
        return "merged", ",".join(sorted(flags)), canonical

    def answers(self) -> None:
        """Match the host's posts with the questions they answer (see the module docstring)."""
        builder = self.builder
        host = builder.host()
        platform = self.info.platform
        posts = sorted(self.host_posts)
        matcher = _AnswerMatcher(builder.canonical, self.merged_of, posts)
        for post in posts:
            question = matcher.match(post)
            if question is not None:
                _, pid, _, _, text, created = post
                builder.add_answer(
                    question,
                    Answer(pid, "answer", text, created, post_url(platform, host or "", pid, None)),
                )


class _AnswerMatcher:
    """Which question each of the host's posts (in time order) answers: a reply to or quote
    of it, the next part of a thread, or a `.@asker` post after a repost of the question (or
    for the asker's latest open question)."""

    def __init__(
        self, canonical: dict[str, Any], merged_of: dict[str, str], posts: list[HostPost]
    ) -> None:
        self.canonical = canonical
        self.merged_of = merged_of
        askers = {_dot_asker(p[4]) for p in posts if p[2] == "post"} - {None}
        self.by_asker: dict[str, list[tuple[float, str]]] = {}
        if askers:
            for qid, record in canonical.items():
                who = record[1].lower()
                if who in askers:
                    self.by_asker.setdefault(who, []).append((record[0], qid))
            for questions in self.by_asker.values():
                questions.sort()
        self.answer_of: dict[str, str] = {}
        self.pending: dict[str, str] = {}  # asker -> question reposted, waiting for its answer
        self.answered: set[str] = set()

    def canon(self, ref: str | None) -> str | None:
        if ref is None:
            return None
        return ref if ref in self.canonical else self.merged_of.get(ref)

    def match(self, post: HostPost) -> str | None:
        """The question `post` answers, if any (a repost only marks its question pending)."""
        ts, pid, kind, ref, text, _ = post
        question: str | None = None
        if kind == "repost":
            reposted = self.canon(ref)
            if reposted is not None:
                who = self.canonical[reposted][1].lower()
                self.pending.pop(who, None)  # re-inserted last: the most recent repost
                self.pending[who] = reposted
            return None
        if ref is not None and ref in self.answer_of:
            question = self.answer_of[ref]  # the next part of a thread
        elif ref is not None and kind in ("reply", "quote"):
            question = self.canon(ref)
        elif kind == "post":
            asker = _dot_asker(text)
            if asker is not None:
                question = self._dot_answer(asker, ts)
        if question is not None:
            self.answer_of[pid] = question
            self.answered.add(question)
        return question

    def _dot_answer(self, asker: str, ts: float) -> str | None:
        pending = self.pending
        question = pending.pop(asker, None)
        if question is None and pending and asker not in self.by_asker:
            # a repost of a merged duplicate: its asker is not the canonical's
            question = pending.pop(next(reversed(pending)))
        if question is None:
            for asked_at, qid in reversed(self.by_asker.get(asker, [])):
                if asked_at <= ts and qid not in self.answered:
                    return qid
        return question


class _NoTopics(PhraseCounter):
    def add(self, text: str) -> None:
        return  # a CSV export has no topics


class _RowBuilder(RecapBuilder):
    """In place of the scanner's builder for a CSV export: every post becomes a row, and
    nothing is counted (the export is no recap)."""

    def __init__(self, info: SessionInfo, rows: RowFormatter, hosts: set[str]) -> None:
        super().__init__(info, hosts=hosts, source="archive")
        self.rows = rows
        self.topics = _NoTopics()
        self.lang = "und"  # the language cell of the post being read (set by the scanner)

    def add_post(self, row: PostRow) -> None:
        self.rows.add(row, self.lang)


class _CsvScanner(_Scanner):
    """The scanner of a CSV export: every post it counts is also a row, and the rows between
    two questions make one segment of text (the resolver writes the questions' rows)."""

    def __init__(self, settings: _Settings) -> None:
        super().__init__(settings)
        self.rows = RowFormatter(settings.masker)
        self.row_builder = _RowBuilder(self.builder.info, self.rows, hosts=self.hosts)
        self.builder = self.row_builder
        self.counts_questions = False  # the resolver writes the questions' rows
        self.segments: list[str] = []
        self.langs: list[str] = []  # the language cells of the chunk's questions

    def chunk(self, lines: list[tuple[int, bytes]], skip: set[str]) -> Scanned:
        questions, hosts, _, _ = super().chunk(lines, skip)
        segments, self.segments = self.segments, []
        segments.append(self.rows.take())
        langs, self.langs = self.langs, []
        return questions, hosts, segments, langs

    def tweet(
        self,
        tweet: Tweet,
        marks: dict[str, Any] | None,
        number: int,
        questions: list[Question],
        hosts: list[HostPost],
    ) -> None:
        asked = len(questions)
        lang = self.row_builder.lang = self.rows.lang_cell(tweet.lang)
        super().tweet(tweet, marks, number, questions, hosts)
        if len(questions) > asked:
            self.segments.append(self.rows.take())
            self.langs.append(lang)


def _dot_asker(text: str) -> str | None:
    """`@asker` of a `.@asker answer` post, lower case."""
    if not text.startswith(".@"):
        return None
    handle = text[1:].split(maxsplit=1)[0].rstrip(",:;!?.")
    return handle.lower() if len(handle) > 1 else None


# --------------------------------------------------------------------------------------------
# Reading


class ReadOptions(TypedDict, total=False):
    """How `recap_from_archive` reads: `host`, the host's handle (whose posts are answers);
    `now`, the recap's time; `next_session`, for the teaser; `parallel`, scan in a second
    process (default: for large files, when there is a second core); `analyse`, the
    questions' languages and key phrases (default: on)."""

    host: str | None
    now: datetime | None
    next_session: NextSession | None
    parallel: bool | None
    analyse: bool


def recap_from_archive(
    path: Path | str,
    hashtag: str | None,
    session_like: Any = None,
    **options: Unpack[ReadOptions],
) -> Recap:
    """The recap of a twarc2 JSONL archive (`-` reads stdin). `session_like` (a plan session
    or a `SessionInfo`) gives the window, the host, the platform and the sensitive patterns;
    without it, the archive's own annotation, else the span of its posts. See `ReadOptions`
    for the `options`."""
    resolver, scanned = _read(path, hashtag, session_like, options, None)
    resolver.builder.merge(scanned)
    resolver.answers()
    moderation = getattr(session_like, "moderation", None)
    recap = resolver.builder.finish(
        now=options.get("now"),
        muted=getattr(moderation, "muted", ()) or (),
        blocked=getattr(moderation, "blocked", ()) or (),
        next_session=options.get("next_session"),
    )
    recap.meta.source = f"archive:{Path(str(path)).name}"
    if options.get("analyse", True):
        found = None
        if resolver.phrases is not None:
            chosen, phrases = resolver.phrases
            found = (chosen, phrases.result())
        enrich_archive(recap, resolver.builder, session_like, found=found)
    return share(recap, session_like)


def archive_to_csv(
    path: Path | str,
    hashtag: str | None,
    session_like: Any,
    export: CsvExport,
    **options: Unpack[ReadOptions],
) -> None:
    """The CSV export of a twarc2 JSONL archive into `export`: every post a row, in file
    order, with the triage a recap gives it (question, status, flags, duplicate of). Read as
    `recap_from_archive` reads (same arguments), without making the recap."""
    _read(path, hashtag, session_like, options, export)


def _read(
    path: Path | str,
    hashtag: str | None,
    session_like: Any,
    options: ReadOptions,
    export: CsvExport | None,
) -> tuple[_Resolver, RecapBuilder]:
    """The resolver, and what the scanners accumulated, of the archive at `path`."""
    host = options.get("host")
    given = _given_info(session_like, hashtag, host)
    with _open(path) as stream:
        lines = _numbered(stream)
        first = next(lines, None)
        annotation = _annotation(first[1]) if first is not None else None
        info = _merge_info(given, _info_from(annotation, hashtag), host)
        if info is None:
            if first is None:
                raise UsageError("the archive is empty and names no hashtag", hint="--hashtag")
            raise UsageError("which hashtag is this archive about?", hint="pass --hashtag '#AskUs'")
        resolver = _Resolver(info, export)
        if export is None and options.get("analyse", True):
            resolver.key_questions = lambda: archive_key_questions(resolver.builder, session_like)
        parallel = options.get("parallel")
        if parallel is None:
            parallel = (os.cpu_count() or 1) > 1 and _size(path) > PARALLEL_BYTES
        # a forked worker starts at once, with the modules loaded
        parallel = parallel and _can_fork()
        chunks = _chunks(_chain([first] if first is not None else [], lines))
        try:
            settings = _settings(info, session_like, export)
            return resolver, _scan(settings, chunks, resolver, parallel=parallel)
        except _Failed as exc:
            raise PlanError(exc.message, path=str(path), line=exc.line, hint=exc.hint) from None


def _settings(info: SessionInfo, session_like: Any, export: CsvExport | None) -> _Settings:
    moderation = getattr(session_like, "moderation", None)
    return _Settings(
        info,
        tuple(getattr(session_like, "sensitive_patterns", ()) or ()),
        frozenset(w.lower() for w in getattr(moderation, "blocked_words", ()) or ()),
        csv=export is not None,
        masker=export.masker if export is not None else None,
    )


def _scan(
    settings: _Settings,
    chunks: Iterator[list[tuple[int, bytes]]],
    resolver: _Resolver,
    *,
    parallel: bool,
) -> RecapBuilder:
    """What the scanners accumulated."""
    if not parallel:
        return _scan_here(settings, chunks, resolver)
    return _scan_parallel(settings, chunks, resolver)


def _scan_here(
    settings: _Settings, chunks: Iterator[list[tuple[int, bytes]]], resolver: _Resolver
) -> RecapBuilder:
    scanner = _CsvScanner(settings) if settings.csv else _Scanner(settings)
    ids = _Ids()
    for chunk in chunks:
        resolver.take(*scanner.chunk(chunk, ids.repeated(chunk)))
    return scanner.builder


def _scan_parallel(
    settings: _Settings, chunks: Iterator[list[tuple[int, bytes]]], resolver: _Resolver
) -> RecapBuilder:
    """Scanning shared by two processes, results taken in file order: a worker takes the
    chunks, and this process, besides resolving, scans the next chunk itself whenever the
    worker has `IN_FLIGHT` chunks still to scan (so neither waits while there is work: the
    worker is never left without a chunk while this one scans). This process reads every
    post's id first (`_Ids`): a post met in an earlier chunk is skipped by whichever process
    scans the later one, so a post counts once, as in one process."""
    import multiprocessing

    here = _CsvScanner(settings) if settings.csv else _Scanner(settings)
    ids = _Ids()
    pool = ProcessPoolExecutor(
        max_workers=1,
        # forked: it starts at once, with the modules loaded
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(settings,),
    )
    try:
        _roomy_pipes(pool)
        pending: deque[Future[Scanned] | Scanned] = deque()
        for chunk in chunks:
            skip = ids.repeated(chunk)
            if sum(1 for item in pending if not _ready(item)) >= IN_FLIGHT:
                # the worker has work queued for longer than this chunk takes here
                pending.append(here.chunk(chunk, skip))
            else:
                pending.append(pool.submit(_worker_chunk, chunk, skip))
            while pending and (len(pending) > 2 * IN_FLIGHT or _ready(pending[0])):
                resolver.take(*_result(pending.popleft()))
        while pending:
            resolver.take(*_result(pending.popleft()))
        ended = pool.submit(_worker_end)
        if resolver.key_questions is not None:
            # every question is in: the worker finds the key phrases while this process
            # makes the recap (the pool is left to end once they are found)
            chosen = resolver.key_questions()
            brand = brand_words(resolver.info.hashtag)
            resolver.phrases = (chosen, pool.submit(phrases_of, chosen, brand))
        builder, masked = ended.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=False)
    if settings.masker is not None:
        for label in masked:
            settings.masker.labels.setdefault(label, None)
    if not settings.csv:
        builder.merge(here.builder)
    return builder


PIPE_BYTES = 1 << 20  # Linux's largest pipe an unprivileged process may ask for


def _roomy_pipes(pool: ProcessPoolExecutor) -> None:
    """Pipes of 1 MiB between this process and the worker (Linux; elsewhere, or when the
    executor is built otherwise, nothing changes). A chunk's result (about 300 KB) then
    fits in the pipe: in a 64 KB one the worker waits for this process to read each piece,
    which takes the GIL from work here, and the worker stood idle a fifth of the time."""
    try:
        import fcntl

        set_size = fcntl.F_SETPIPE_SZ  # Linux only
        ends = (pool._result_queue._writer, pool._call_queue._writer)  # type: ignore[attr-defined]
        for end in ends:
            fcntl.fcntl(end.fileno(), set_size, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        return


class _Ids:
    """The ids of the posts of every chunk read so far, whichever process scans it."""

    def __init__(self) -> None:
        self.seen = HashSet()

    def repeated(self, chunk: list[tuple[int, bytes]]) -> set[str]:
        """The ids of `chunk` already met in an earlier chunk."""
        ids = [pid for _, line in chunk for pid in ids_of(line)]
        known = self.seen.add(np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids)))
        return {ids[i] for i in np.flatnonzero(known)}


def _ready(item: Future[Scanned] | Scanned) -> bool:
    return not isinstance(item, Future) or item.done()


def _result(item: Future[Scanned] | Scanned) -> Scanned:
    return item.result() if isinstance(item, Future) else item


def _numbered(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(stream, 1):
        if line.strip():
            yield number, line


def _chain(
    head: list[tuple[int, bytes]], rest: Iterator[tuple[int, bytes]]
) -> Iterator[tuple[int, bytes]]:
    yield from head
    yield from rest


def _chunks(lines: Iterator[tuple[int, bytes]]) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _annotation(line: bytes) -> Any:
    """Our annotation of the first line, if it has one (the session it came from)."""
    if META_KEY.encode() not in line:
        return None
    try:
        obj = _loads(line)
    except ValueError:
        return None
    return obj.get(META_KEY) if isinstance(obj, dict) else None


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _size(path: Path | str) -> int:
    try:
        return os.stat(path).st_size if str(path) != "-" else 0
    except OSError:
        return 0


def _given_info(session_like: Any, hashtag: str | None, host: str | None) -> SessionInfo | None:
    if session_like is None:
        return None
    if isinstance(session_like, SessionInfo):
        return session_like
    from qasession.recap import session_info

    info = session_info(session_like)
    return SessionInfo(
        id=info.id,
        hashtag=hashtag or info.hashtag,
        platform=info.platform,
        start=info.start,
        end=info.end,
        account=host or info.account,
        title=info.title,
        timezone=info.timezone,
    )


def _merge_info(
    given: SessionInfo | None, annotated: SessionInfo | None, host: str | None
) -> SessionInfo | None:
    """What the caller said wins; the archive's annotation fills the gaps."""
    if given is None:
        base = annotated
    elif annotated is None:
        base = given
    else:
        base = SessionInfo(
            id=given.id,
            hashtag=given.hashtag,
            platform=given.platform,
            start=given.start or annotated.start,
            end=given.end or annotated.end,
            account=given.account or annotated.account,
            title=given.title or annotated.title,
            timezone=given.timezone,
        )
    if base is not None and host:
        base = SessionInfo(
            base.id,
            base.hashtag,
            base.platform,
            base.start,
            base.end,
            host if host.startswith("@") else "@" + host,
            base.title,
            base.timezone,
        )
    return base
