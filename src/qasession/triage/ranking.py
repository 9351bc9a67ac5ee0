"""The queue's ranking: one score, defined once as a list of terms (`TERMS`), from which both the
Python ranking and the SQL that pre-selects the top of a large queue are derived."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, NamedTuple

__all__ = [
    "COUNT_COLUMNS",
    "TERMS",
    "QuestionFeatures",
    "Term",
    "Weights",
    "rank",
    "row_scorer",
    "score",
    "scorer",
    "sql_score",
    "sql_tolerance",
]


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each feature adds to a question's score (the plan's `ranking:` section).
    These are the only defaults: a plan without `ranking:` ranks with them. A pinned question
    gets 1000, more than any other term gives in a real session, so it stays on top."""

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


# --------------------------------------------------------------------------------------------
# The score, once
# --------------------------------------------------------------------------------------------


class Term(NamedTuple):
    """One term of the score: the `weight` (a `Weights` field) times what a question has.

    - "count": times a number (`QuestionFeatures.<name>`, the posts column `<name>`);
    - "switch": once when true (`QuestionFeatures.<name>`, the posts column `<name>`);
    - "flag": once when the question carries the flag `<name>`;
    - "age": times the seconds waited since it was asked or since the start, whichever is
      later (the weight is per minute); nothing for a question "from the future"."""

    weight: str
    kind: Literal["count", "switch", "flag", "age"]
    name: str


# Summed in this order, by Python and by SQLite alike (the generated Python adds the counts
# first and groups the flags last, so they stay first and last here).
TERMS: tuple[Term, ...] = (
    Term("likes", "count", "likes"),
    Term("reposts", "count", "reposts"),
    Term("duplicates", "count", "duplicates"),
    Term("age_per_minute", "age", "created_at"),
    Term("first_time", "switch", "first_time"),
    Term("pinned", "switch", "pinned"),
    Term("sensitive", "flag", "sensitive"),
    Term("troll", "flag", "troll"),
)
COUNT_COLUMNS = tuple(t.name for t in TERMS if t.kind == "count")


def _per_unit(term: Term, weights: Weights) -> float:
    """The term's weight per unit it multiplies (the age weight is per minute, ages are in s)."""
    weight: float = getattr(weights, term.weight)
    return weight / 60.0 if term.kind == "age" else weight


def _live_terms(weights: Weights) -> list[tuple[Term, float]]:
    # A term weighted 0 adds 0 to every score: it is left out of the code and of the SQL.
    return [(t, w) for t in TERMS if (w := _per_unit(t, weights)) != 0]


# -- in Python: one function generated per Weights --------------------------------------------

_Keys = list[tuple[float, float, str, int, QuestionFeatures]]
_KeysOf = Callable[[Iterable[QuestionFeatures], float, float], _Keys]
_ScoreOf = Callable[[QuestionFeatures, float, float], float]
# (now_ts, start_ts) -> the score of likes, reposts, duplicates, created (POSIX), first_time,
# pinned, flags
_RowScoreOf = Callable[[float, float], Callable[[int, int, int, float, Any, Any, Any], float]]


def _python_lines(live: list[tuple[Term, float]], q: str = "q.") -> list[str]:
    """The statements that compute `value`, the score of `q`, from `created`, `now_ts` and
    `start_ts`; each weight is the local `w_<weight>`. With `q=""`, each feature is the local
    of its name instead of an attribute of `q` (the row scorer's arguments)."""
    counts = [f"w_{t.weight} * {q}{t.name}" for t, _ in live if t.kind == "count"]
    # Starting from 0.0 changes no sum but turns a -0.0 into 0.0.
    lines = [f"value = {' + '.join(['0.0', *counts])}"]
    for term, _ in live:
        if term.kind == "age":
            lines += [
                "age = now_ts - (created if created > start_ts else start_ts)",
                "if age > 0:",
                f"    value += w_{term.weight} * age",
            ]
        elif term.kind == "switch":
            lines += [f"if {q}{term.name}:", f"    value += w_{term.weight}"]
    flags = [t for t, _ in live if t.kind == "flag"]
    if flags:
        lines += [f"flags = {q}flags", "if flags:"]
        for term in flags:
            lines += [f"    if {term.name!r} in flags:", f"        value += w_{term.weight}"]
    return lines


# the arguments of a row scorer (`row_scorer`), in this order
ROW_FEATURES = ("likes", "reposts", "duplicates", "created", "first_time", "pinned", "flags")


@lru_cache(maxsize=64)
def _compiled(weights: Weights) -> tuple[_ScoreOf, _KeysOf, _RowScoreOf]:
    """The score of one question and the sort keys of many, as Python functions generated
    from TERMS for these weights: the ranking loop runs over the whole queue on every
    refresh, and a call per question and per term would cost several times the arithmetic.
    Both run the same statements, so they give bit-identical scores; so does the third, the
    score of features given one by one (no QuestionFeatures made: a streamed queue)."""
    live = _live_terms(weights)
    body = _python_lines(live)
    weights_in = "".join(f"    w_{t.weight} = weights[{t.weight!r}]\n" for t, _ in live)
    one = "".join(f"        {line}\n" for line in body)
    many = "".join(f"            {line}\n" for line in body)
    by_row = "".join(f"            {line}\n" for line in _python_lines(live, q=""))
    source = (
        "def make(weights):\n"
        f"{weights_in}"
        "    def score_of(q, now_ts, start_ts):\n"
        "        created = q.created_ts\n"
        f"{one}"
        "        return value\n"
        "    def row_scorer(now_ts, start_ts):\n"
        f"        def score_row({', '.join(ROW_FEATURES)}):\n"
        f"{by_row}"
        "            return value\n"
        "        return score_row\n"
        "    def keys_of(questions, now_ts, start_ts):\n"
        "        keyed = []\n"
        "        append = keyed.append\n"
        "        for i, q in enumerate(questions):\n"
        "            created = q.created_ts\n"
        f"{many}"
        "            append((-value, created, q.id, i, q))\n"
        "        return keyed\n"
        "    return score_of, keys_of, row_scorer\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<ranking {weights}>", "exec"), namespace)
    made: tuple[_ScoreOf, _KeysOf, _RowScoreOf] = namespace["make"]({t.weight: w for t, w in live})
    return made


def _start_ts(session_start: datetime | None) -> float:
    return session_start.timestamp() if session_start is not None else float("-inf")


def score(
    q: QuestionFeatures, weights: Weights, now: datetime, session_start: datetime | None = None
) -> float:
    """The question's score: engagement, duplicates, a first-time bonus, pinning and flags,
    minus a slow decay with age. Age counts from the session start for questions asked
    ahead, so pre-collected questions are not buried."""
    return _compiled(weights)[0](q, now.timestamp(), _start_ts(session_start))


def scorer(
    weights: Weights, now: datetime, session_start: datetime | None = None
) -> Callable[[QuestionFeatures], float]:
    """`score(q, weights, now, session_start)` as a function of `q` alone, for questions
    scored one at a time (a streamed queue): the generated code and the times looked up once."""
    score_of = _compiled(weights)[0]
    now_ts, start_ts = now.timestamp(), _start_ts(session_start)
    return lambda q: score_of(q, now_ts, start_ts)


def row_scorer(
    weights: Weights, now: datetime, session_start: datetime | None = None
) -> Callable[[int, int, int, float, Any, Any, Any], float]:
    """`scorer` for features given one by one, in the order of ROW_FEATURES (`created` as
    a POSIX timestamp, `flags` a set of flag names or anything false for none): the same
    score, bit for bit, without a QuestionFeatures per question."""
    return _compiled(weights)[2](now.timestamp(), _start_ts(session_start))


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
    keyed = _compiled(weights)[1](questions, now.timestamp(), _start_ts(session_start))
    if limit is not None:
        best = heapq.nsmallest(limit, keyed) if limit > 0 else []
    else:
        keyed.sort()
        best = keyed
    return [(-item[0], item[4]) for item in best]


# -- in SQL: the same terms over the store's posts table --------------------------------------

# created_at is ISO 8601 text; SQLite reads it to the millisecond.
_SQL_CREATED = "((julianday(created_at) - 2440587.5) * 86400.0)"
# a question's flag is a row of post_flags (one per flag), found by its primary key
_SQL_FLAG = (
    "SELECT 1 FROM post_flags f WHERE f.session_id = posts.session_id "
    "AND f.platform = posts.platform AND f.post_id = posts.id"
)
# SQLite takes no infinite start; this is earlier than any date it can read.
_SQL_NO_START = -1e18


def sql_score(weights: Weights, *, now_ts: float, start_ts: float) -> tuple[str, tuple[float, ...]]:
    """The score as an SQL expression over the columns of the store's `posts` table (likes,
    reposts, duplicates, first_time, pinned, created_at as ISO 8601 text; flags as rows of
    `post_flags`) with its `?` parameters: the same terms as `score`, summed in the same
    order, to SQLite's precision (dates to the millisecond). A date SQLite cannot read makes
    the expression NULL."""
    parts = ["0.0"]
    params: list[float] = []
    for term, weight in _live_terms(weights):
        if term.kind == "count":
            parts.append(f"? * {term.name}")
            params.append(weight)
        elif term.kind == "switch":
            parts.append(f"CASE WHEN {term.name} THEN ? ELSE 0 END")
            params.append(weight)
        elif term.kind == "flag":
            flagged = f"{_SQL_FLAG} AND f.flag = '{term.name}'"
            parts.append(f"CASE WHEN EXISTS ({flagged}) THEN ? ELSE 0 END")
            params.append(weight)
        else:
            parts.append(f"? * max(0.0, ? - max({_SQL_CREATED}, ?))")
            params += [weight, now_ts, max(start_ts, _SQL_NO_START)]
    return f"({' + '.join(parts)})", tuple(params)


def sql_tolerance(
    weights: Weights, *, now_ts: float, start_ts: float, largest: Mapping[str, float]
) -> float:
    """How far `sql_score` may be from `score` for questions whose COUNT_COLUMNS are at most
    `largest[column]`: SQLite rounds its sums and dates differently (a few ulps of the largest
    score, a millisecond of age). Infinite when the scores may overflow."""
    magnitude = 0.0
    age = 0.0
    for term, weight in _live_terms(weights):
        if term.kind == "count":
            magnitude += abs(weight) * largest.get(term.name, 0.0)
        elif term.kind == "age":
            age = abs(weight)
            magnitude += age * 2 * max(abs(now_ts), abs(max(start_ts, _SQL_NO_START)))
        else:
            magnitude += abs(weight)
    return age * 0.01 + magnitude * 1e-14
