"""The ranked queue of a session's questions, as plain data (what `qa queue`, the terminal UI
and the loop's events show), with each question's number: the id the host types."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qasession import triage
from qasession.text.safe import inert
from qasession.triage.ranking import row_scorer

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.store import Store

EVENT_TEXT_LIMIT = 1000  # event texts are cut (the store keeps the whole post)


def flags_of(row: Any) -> list[str]:
    return _flag_names(row["flags"], row["duplicates"])


def _flag_names(text: str | None, duplicates: int) -> list[str]:
    if not text:
        return ["duplicate"] if duplicates else []
    flags = {f for f in text.split(",") if f}
    if duplicates:
        flags.add("duplicate")
    return sorted(flags)


def question_event(row: Any, score: float | None = None) -> dict[str, Any]:
    """A question as the loop emits it (texts made inert)."""
    return {
        "event": "question",
        "id": row["number"],
        "platform": row["platform"],
        "post_id": row["id"],
        "author": inert(row["author"], single_line=True, max_length=100),
        "text": inert(row["text"], max_length=EVENT_TEXT_LIMIT),
        "status": row["status"],
        "flags": [f for f in row["flags"].split(",") if f],
        "duplicates": row["duplicates"],
        "likes": row["likes"],
        "reposts": row["reposts"],
        "created_at": row["created_at"],
        **({"score": round(score, 2)} if score is not None else {}),
    }


def weights_for(session: Session) -> triage.Weights:
    """The plan's `ranking:` weights (only those the plan sets; `age` is per minute)."""
    given = session.ranking.model_dump(exclude_unset=True)
    given.pop("platform", None)  # a factor per platform, applied by `ranked`
    if "age" in given:
        given["age_per_minute"] = given.pop("age")
    return triage.Weights.from_mapping(given)


def _key(row: Any) -> str:
    # ties go to the smaller number: zero-padded, so they compare as numbers
    return f"{row['number'] or 0:012d}"


def _features(row: Any) -> triage.QuestionFeatures:
    # the likes and reposts of the same question on another platform of the session count
    return triage.QuestionFeatures(
        id=_key(row),
        likes=row["likes"] + _column(row, "cross_likes"),
        reposts=row["reposts"] + _column(row, "cross_reposts"),
        duplicates=row["duplicates"],
        first_time=bool(row["first_time"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        pinned=bool(row["pinned"]),
        flags=frozenset(f for f in row["flags"].split(",") if f),
    )


def _column(row: Any, name: str) -> int:
    try:
        return int(row[name] or 0)
    except (KeyError, IndexError):  # a row of an archive, or of a listing without it
        return 0


def in_python(session: Session) -> bool:
    """Whether the queue is ranked in Python only: the SQL score knows neither the engagement
    merged in from other platforms nor a platform's factor (sessions on several platforms)."""
    return session.multi or bool(platform_factors(session))


def platform_factors(session: Session) -> dict[str, float]:
    """The plan's `ranking: {platform: {...}}`, by source name (a stand-in such as
    `local:bsky` takes the weight of the platform it stands for unless named itself)."""
    from qasession.platforms.registry import base_platform

    given = dict(session.ranking.platform)
    if not given:
        return {}
    factors = {}
    for name in session.platform_names:
        factor = given.get(name, given.get(base_platform(name), 1.0))
        if factor != 1.0:
            factors[name] = factor
    return factors


def _engagement(q: triage.QuestionFeatures, weights: triage.Weights) -> float:
    return weights.likes * q.likes + weights.reposts * q.reposts + weights.duplicates * q.duplicates


Claims = dict[tuple[str, str], Any]  # (platform, post id) -> store.team.Claim


def queue_row(
    row: Any, score: float, rank: int | None = None, claims: Claims | None = None
) -> dict[str, Any]:
    claim = (claims or {}).get((row["platform"], row["id"]))
    return {
        "id": row["number"],
        **({"rank": rank} if rank is not None else {}),
        "platform": row["platform"],
        "post_id": row["id"],
        "author": row["author"],
        "text": row["text"],
        "score": round(score, 2),
        "status": row["status"],
        "flags": flags_of(row),
        "duplicates": row["duplicates"],
        "likes": row["likes"],
        "reposts": row["reposts"],
        "pinned": bool(row["pinned"]),
        "created_at": row["created_at"],
        "claimed_by": claim.actor if claim is not None else None,
    }


def ranked(
    session: Session, found: Sequence[Any], now: datetime, limit: int | None = None
) -> list[tuple[float, Any]]:
    """`found` rows ranked by the plan's weights, best first, as (score, row)."""
    rows = {_key(row): row for row in found}
    features = [_features(row) for row in rows.values()]
    weights = weights_for(session)
    factors = platform_factors(session)
    if factors:  # a platform favoured: its questions' engagement weighs more
        score_of = triage.scorer(weights, now, session.start)
        scored = []
        for feature in features:
            value = score_of(feature)
            factor = factors.get(rows[feature.id]["platform"], 1.0)
            value += (factor - 1.0) * _engagement(feature, weights)
            scored.append((-value, feature.created_ts, feature.id, value))
        scored.sort()
        best = scored if limit is None else scored[:limit]
        return [(value, rows[key]) for _, _, key, value in best]
    order = triage.rank(features, weights, now, limit=limit, session_start=session.start)
    return [(score, rows[feature.id]) for score, feature in order]


def queue_rows(
    session: Session, store: Store, now: datetime, limit: int | None = None
) -> list[dict[str, Any]]:
    """The ranked queue: questions only, best first, as plain data (what `qa queue` shows).
    With `limit`, SQLite first narrows the queue to the questions that can make the top."""
    if limit is not None and limit <= 0:
        return []
    if limit is None or in_python(session):
        found = store.question_rows(session.id, ("queued",))
    else:
        found = store.top_question_rows(
            session.id,
            weights_for(session),
            now_ts=now.timestamp(),
            start_ts=session.start.timestamp(),
            limit=limit,
        )
    claims = store.live_claims(session.id)
    rows = [
        queue_row(row, score, rank, claims)
        for rank, (score, row) in enumerate(ranked(session, found, now, limit), 1)
    ]
    if session.multi:
        add_also_on(session, store, rows)
    return rows


def add_also_on(session: Session, store: Store, rows: list[dict[str, Any]]) -> None:
    """Each question's `also_on`: the other platforms where the same question was asked (the
    posts merged into it from there), for a session on several platforms."""
    elsewhere: dict[tuple[str, str], list[str]] = {}
    for row in store.posts(session.id, where="duplicate_platform IS NOT NULL"):
        found = elsewhere.setdefault((row["duplicate_platform"], row["duplicate_of"]), [])
        if row["platform"] not in found:
            found.append(row["platform"])
    engagement = {
        (row["platform"], row["id"]): (row["cross_likes"], row["cross_reposts"])
        for row in store.posts(session.id, where="cross_likes > 0 OR cross_reposts > 0")
    }
    for row in rows:
        key = (row["platform"], row["post_id"])
        row["also_on"] = elsewhere.get(key, [])
        # what the posts merged from there add to the rank (refreshed while the session runs)
        row["likes_elsewhere"], row["reposts_elsewhere"] = engagement.get(key, (0, 0))


def count_queued(session: Session, store: Store) -> int:
    """How many questions are in the queue (what a page of it leaves out is this minus the
    page)."""
    return store.count_questions(session.id, ("queued",))


def ranked_stream(
    store: Store,
    session_id: str,
    weights: triage.Weights,
    now: datetime,
    session_start: datetime | None,
) -> Iterator[tuple[float, Any]] | None:
    """The session's queued questions as (exact score, row), best first in the ranking's own
    order (ties included), read one at a time: SQLite orders them by its score, and a
    question is given out as soon as none still to come can outrank it (its exact score beats
    the SQL score of the last one read by more than their tolerance). Memory holds only the
    questions not settled yet (ties and near-ties), never the queue. None when SQLite cannot
    score them (a date it cannot read, scores past its range): rank in memory then."""
    start_ts = session_start.timestamp() if session_start is not None else float("-inf")
    scored = store.scored_question_rows(
        session_id, weights, now_ts=now.timestamp(), start_ts=start_ts
    )
    if scored is None:
        return None
    slack, rows = scored
    return _settled(slack, rows, row_scorer(weights, now, session_start))


def _positions(*names: str) -> list[int]:
    """Where `names` are in a row of `store.scored_question_rows`."""
    from qasession.store.db import SCORED_COLUMNS

    return [SCORED_COLUMNS.index(name) for name in names]


def _settled(
    slack: float,
    rows: Iterable[Any],
    score_of: Callable[[int, int, int, float, Any, Any, Any], float],
) -> Iterator[tuple[float, Any]]:
    # (-score, created, key, order read, score, row): the ranking's own order, ties included.
    # Per row only what the score reads, as `_features` reads it, by position (no
    # QuestionFeatures, no lookup by name): the loop runs once per queued question.
    (at_score, at_flags, at_created, at_likes, at_cross_likes, at_reposts, at_cross_reposts,
     at_duplicates, at_first_time, at_pinned, at_number) = _positions(
        "_score", "flags", "created_at", "likes", "cross_likes", "reposts", "cross_reposts",
        "duplicates", "first_time", "pinned", "number",
    )  # fmt: skip
    pending: list[tuple[float, float, str, int, float, Any]] = []
    push, pop = heapq.heappush, heapq.heappop
    parse = datetime.fromisoformat
    for seq, row in enumerate(rows):
        ceiling = row[at_score] + slack  # no question still to come scores more than this
        while pending and -pending[0][0] > ceiling:
            settled = pop(pending)
            yield settled[4], settled[5]
        flags = row[at_flags]
        created = parse(row[at_created]).timestamp()
        value = score_of(
            row[at_likes] + int(row[at_cross_likes] or 0),
            row[at_reposts] + int(row[at_cross_reposts] or 0),
            row[at_duplicates],
            created,
            row[at_first_time],
            row[at_pinned],
            frozenset(f for f in flags.split(",") if f) if flags else None,
        )
        push(pending, (-value, created, f"{row[at_number] or 0:012d}", seq, value, row))
    while pending:
        settled = pop(pending)
        yield settled[4], settled[5]


def _streamed_rows(stream: Iterable[tuple[float, Any]], claims: Claims) -> Iterator[dict[str, Any]]:
    """`queue_row` of each (score, row) of `ranked_stream`, ranked from 1, reading the row by
    position: the same dict (tests/test_live.py holds the two listings equal)."""
    (at_number, at_platform, at_id, at_author, at_text, at_status, at_flags, at_duplicates,
     at_likes, at_reposts, at_pinned, at_created) = _positions(
        "number", "platform", "id", "author", "text", "status", "flags", "duplicates", "likes",
        "reposts", "pinned", "created_at",
    )  # fmt: skip
    for rank, (score, row) in enumerate(stream, 1):
        platform, post_id, flags, duplicates = (
            row[at_platform], row[at_id], row[at_flags], row[at_duplicates]
        )  # fmt: skip
        claim = claims.get((platform, post_id)) if claims else None
        yield {
            "id": row[at_number],
            "rank": rank,
            "platform": platform,
            "post_id": post_id,
            "author": row[at_author],
            "text": row[at_text],
            "score": round(score, 2),
            "status": row[at_status],
            "flags": _flag_names(flags, duplicates),
            "duplicates": duplicates,
            "likes": row[at_likes],
            "reposts": row[at_reposts],
            "pinned": bool(row[at_pinned]),
            "created_at": row[at_created],
            "claimed_by": claim.actor if claim is not None else None,
        }


def iter_queue_rows(session: Session, store: Store, now: datetime) -> Iterator[dict[str, Any]]:
    """The whole ranked queue, best first, as `queue_rows(session, store, now)` lists it, but
    one question at a time as it is read from the store (`ranked_stream`): what
    `qa queue --json` writes, in flat memory whatever the size of the queue."""
    stream = None
    if not in_python(session):
        stream = ranked_stream(store, session.id, weights_for(session), now, session.start)
    if stream is None:
        yield from queue_rows(session, store, now)
        return
    yield from _streamed_rows(stream, store.live_claims(session.id))
