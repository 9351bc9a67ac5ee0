"""The ranked queue of a session's questions, as plain data (what `qa queue`, the terminal UI
and the loop's events show), with each question's number: the id the host types."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qasession import triage
from qasession.text.safe import inert

if TYPE_CHECKING:
    from qasession.plan import Session
    from qasession.store import Store

EVENT_TEXT_LIMIT = 1000  # event texts are cut (the store keeps the whole post)


def flags_of(row: Any) -> list[str]:
    if not row["flags"]:
        return ["duplicate"] if row["duplicates"] else []
    flags = {f for f in row["flags"].split(",") if f}
    if row["duplicates"]:
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
    if "age" in given:
        given["age_per_minute"] = given.pop("age")
    return triage.Weights.from_mapping(given)


def _key(row: Any) -> str:
    # ties go to the smaller number: zero-padded, so they compare as numbers
    return f"{row['number'] or 0:012d}"


def _features(row: Any) -> triage.QuestionFeatures:
    return triage.QuestionFeatures(
        id=_key(row),
        likes=row["likes"],
        reposts=row["reposts"],
        duplicates=row["duplicates"],
        first_time=bool(row["first_time"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        pinned=bool(row["pinned"]),
        flags=frozenset(f for f in row["flags"].split(",") if f),
    )


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
    order = triage.rank(
        features, weights_for(session), now, limit=limit, session_start=session.start
    )
    return [(score, rows[feature.id]) for score, feature in order]


def queue_rows(
    session: Session, store: Store, now: datetime, limit: int | None = None
) -> list[dict[str, Any]]:
    """The ranked queue: questions only, best first, as plain data (what `qa queue` shows).
    With `limit`, SQLite first narrows the queue to the questions that can make the top."""
    if limit is not None and limit <= 0:
        return []
    if limit is None:
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
    return [
        queue_row(row, score, rank, claims)
        for rank, (score, row) in enumerate(ranked(session, found, now, limit), 1)
    ]


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
) -> Iterator[tuple[float, dict[str, Any]]] | None:
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
    return _settled(slack, rows, triage.scorer(weights, now, session_start))


def _settled(
    slack: float,
    rows: Iterable[dict[str, Any]],
    score_of: Callable[[triage.QuestionFeatures], float],
) -> Iterator[tuple[float, dict[str, Any]]]:
    # (-score, created, key, order read, score, row): the ranking's own order, ties included
    pending: list[tuple[float, float, str, int, float, dict[str, Any]]] = []
    for seq, row in enumerate(rows):
        ceiling = row["_score"] + slack  # no question still to come scores more than this
        while pending and -pending[0][0] > ceiling:
            settled = heapq.heappop(pending)
            yield settled[4], settled[5]
        features = _features(row)
        value = score_of(features)
        heapq.heappush(pending, (-value, features.created_ts, features.id, seq, value, row))
    while pending:
        settled = heapq.heappop(pending)
        yield settled[4], settled[5]


def iter_queue_rows(session: Session, store: Store, now: datetime) -> Iterator[dict[str, Any]]:
    """The whole ranked queue, best first, as `queue_rows(session, store, now)` lists it, but
    one question at a time as it is read from the store (`ranked_stream`): what
    `qa queue --json` writes, in flat memory whatever the size of the queue."""
    stream = ranked_stream(store, session.id, weights_for(session), now, session.start)
    if stream is None:
        yield from queue_rows(session, store, now)
        return
    claims = store.live_claims(session.id)
    for rank, (score, row) in enumerate(stream, 1):
        yield queue_row(row, score, rank, claims)
