"""The queue's ranking: the weights of the plan's `ranking:` section and the score."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

__all__ = ["QuestionFeatures", "Weights", "rank", "score"]


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each feature adds to a question's score (the plan's `ranking:` section)."""

    likes: float = 1.0
    reposts: float = 2.0
    duplicates: float = 3.0
    first_time: float = 1.0
    age_per_minute: float = -0.05
    pinned: float = 1000.0
    sensitive: float = 0.0
    troll: float = -50.0

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> Weights:
        """Weights from the plan's `ranking:` mapping (where `age` means `age_per_minute`);
        unknown keys or non-numbers raise ValueError naming them, missing keys keep their
        defaults."""
        if not mapping:
            return cls()
        if "age" in mapping:
            if "age_per_minute" in mapping:
                raise ValueError("ranking: give either 'age' or 'age_per_minute', not both")
            mapping = {("age_per_minute" if k == "age" else k): v for k, v in mapping.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(
                f"unknown ranking weight(s): {', '.join(map(str, unknown))} "
                f"(known: {', '.join(sorted(known))})"
            )
        values: dict[str, float] = {}
        for name, value in mapping.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"ranking weight {name!r} must be a number, not {value!r}")
            values[name] = float(value)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class QuestionFeatures:
    """What ranking knows of a queued question."""

    id: str
    likes: int
    reposts: int
    duplicates: int
    first_time: bool
    created_at: datetime
    pinned: bool = False
    flags: frozenset[str] = frozenset()
    # created_at as a POSIX timestamp, computed once: ranking reads it for every question.
    created_ts: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_ts", self.created_at.timestamp())


def score(
    q: QuestionFeatures, weights: Weights, now: datetime, session_start: datetime | None = None
) -> float:
    """The question's score: engagement, duplicates, a first-time bonus, pinning and flags,
    minus a slow decay with age. Age counts from the session start for questions asked
    ahead, so pre-collected questions are not buried."""
    start_ts = session_start.timestamp() if session_start is not None else float("-inf")
    return _score(q, weights, now.timestamp(), start_ts)


def _score(q: QuestionFeatures, w: Weights, now_ts: float, start_ts: float) -> float:
    # The same arithmetic, in the same order, as rank(): both give bit-identical scores.
    age = now_ts - max(q.created_ts, start_ts)
    value = w.likes * q.likes + w.reposts * q.reposts + w.duplicates * q.duplicates
    if age > 0:
        value += w.age_per_minute / 60.0 * age
    if q.first_time:
        value += w.first_time
    if q.pinned:
        value += w.pinned
    flags = q.flags
    if flags:
        if "sensitive" in flags:
            value += w.sensitive
        if "troll" in flags:
            value += w.troll
    return value


def rank(
    questions: Iterable[QuestionFeatures],
    weights: Weights,
    now: datetime,
    limit: int | None = None,
    *,
    session_start: datetime | None = None,
) -> list[tuple[float, QuestionFeatures]]:
    """Questions with their scores, best first; ties go to the earlier question, then to the
    smaller id. With `limit`, only the top `limit` (a heap, not a full sort)."""
    now_ts = now.timestamp()
    start_ts = session_start.timestamp() if session_start is not None else float("-inf")
    w_likes, w_reposts, w_dups = weights.likes, weights.reposts, weights.duplicates
    w_age = weights.age_per_minute / 60.0
    w_first, w_pinned, w_sensitive, w_troll = (
        weights.first_time,
        weights.pinned,
        weights.sensitive,
        weights.troll,
    )
    # The score is inlined (same arithmetic as _score) because this loop runs over the whole
    # queue on every refresh; a function call per question would double its cost.
    keyed: list[tuple[float, float, str, int, QuestionFeatures]] = []
    append = keyed.append
    for i, q in enumerate(questions):
        created = q.created_ts
        age = now_ts - (created if created > start_ts else start_ts)
        value = w_likes * q.likes + w_reposts * q.reposts + w_dups * q.duplicates
        if age > 0:
            value += w_age * age
        if q.first_time:
            value += w_first
        if q.pinned:
            value += w_pinned
        flags = q.flags
        if flags:
            if "sensitive" in flags:
                value += w_sensitive
            if "troll" in flags:
                value += w_troll
        append((-value, created, q.id, i, q))
    if limit is not None:
        best = heapq.nsmallest(limit, keyed) if limit > 0 else []
    else:
        keyed.sort()
        best = keyed
    return [(-item[0], item[4]) for item in best]
