"""One ranking definition: the Python score and the store's SQL pre-selection agree."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qasession.plan import parse_plan
from qasession.platforms.base import Post
from qasession.session.loop import queue_rows, weights_for
from qasession.store import Store
from qasession.store.db import PostRecord
from qasession.triage import QuestionFeatures, Weights, rank, score
from qasession.triage.ranking import COUNT_COLUMNS, TERMS, sql_score, sql_tolerance

START = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
FLAGS = ("sensitive", "troll", "ahead")


def test_every_weight_is_one_term_of_the_score() -> None:
    assert sorted(t.weight for t in TERMS) == sorted(f.name for f in dataclasses.fields(Weights))
    assert COUNT_COLUMNS == ("likes", "reposts", "duplicates")
    # counts first and flags last: the order both the Python scorer and the SQL add them in
    kinds = [t.kind for t in TERMS]
    assert kinds == sorted(kinds, key=lambda k: (k != "count", k == "flag"))


def test_the_defaults_are_the_documented_ones() -> None:
    w = Weights()
    assert dataclasses.astuple(w) == (1.0, 2.0, 3.0, 1.0, -0.05, 1000.0, 0.0, -50.0)
    assert Weights.from_mapping({"age": -0.1, "pinned": 5}) == dataclasses.replace(
        w, age_per_minute=-0.1, pinned=5.0
    )


def test_a_plan_without_ranking_keeps_a_pinned_question_on_top(tmp_path: Path) -> None:
    session = parse_plan(
        "sessions:\n  - {id: s1, hashtag: '#AskAcme', start: 2026-12-03 18:00,"
        " timezone: Europe/Paris}\n"
    ).get("s1")
    assert weights_for(session) == Weights()
    store = Store.open(tmp_path)
    store.ensure_session("s1", "#AskAcme", "local")
    popular = Post("popular", "@a", "popular?", START + timedelta(minutes=1))
    popular.likes = 500  # more than the 100 the README once gave a pin, less than 1000
    quiet = Post("quiet", "@b", "quiet?", START + timedelta(minutes=2))
    store.save_page(
        "s1",
        [PostRecord(popular, "queued", True), PostRecord(quiet, "queued", True)],
        "end",
        seen_at=START,
    )
    store.set_pinned("s1", "quiet", True)
    now = START + timedelta(minutes=10)
    queue = queue_rows(session, store, now)
    assert [q["post_id"] for q in queue] == ["quiet", "popular"]
    assert queue[0]["score"] == pytest.approx(1000 - 0.05 * 8)
    assert queue_rows(session, store, now, limit=1)[0]["post_id"] == "quiet"


# -- SQL and Python, property tests -----------------------------------------------------------

WEIGHT = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 2.0, 3.0, -0.05, 1000.0, -50.0, 1e-9]),
    st.floats(min_value=-1e4, max_value=1e4, allow_nan=False),
)
WEIGHTS = st.builds(Weights, *[WEIGHT for _ in dataclasses.fields(Weights)])


@dataclasses.dataclass
class Row:
    id: str
    likes: int
    reposts: int
    duplicates: int
    first_time: bool
    pinned: bool
    flags: frozenset[str]
    created_at: datetime


def rows_from(seed: int, count: int, ties: bool) -> list[Row]:
    """Random questions; with `ties`, few distinct values, so that many scores tie."""
    rng = random.Random(seed)

    def number(top: int) -> int:
        return rng.choice([0, 1, 2]) if ties else rng.randrange(top)

    rows = []
    for i in range(count):
        if ties:
            offset = rng.choice([-3600.0, -60.0, 0.0, 120.0, 120.0, 4000.0])
        else:
            offset = rng.uniform(-7200, 7200)
        rows.append(
            Row(
                id=f"q{i:04d}",
                likes=number(100_000),
                reposts=number(1_000),
                duplicates=number(50),
                first_time=rng.random() < 0.4,
                pinned=rng.random() < 0.1,
                flags=frozenset(f for f in FLAGS if rng.random() < 0.2),
                # microseconds: SQLite reads dates to the millisecond only
                created_at=START + timedelta(seconds=offset, microseconds=rng.randrange(10**6)),
            )
        )
    return rows


def features(row: Row) -> QuestionFeatures:
    return QuestionFeatures(
        row.id,
        row.likes,
        row.reposts,
        row.duplicates,
        row.first_time,
        row.created_at,
        row.pinned,
        row.flags,
    )


def stored_features(row: Any) -> QuestionFeatures:
    """What the live loop makes of a stored row (see `session.loop.queue_rows`)."""
    return QuestionFeatures(
        row["id"],
        row["likes"],
        row["reposts"],
        row["duplicates"],
        bool(row["first_time"]),
        datetime.fromisoformat(row["created_at"]),
        bool(row["pinned"]),
        frozenset(f for f in row["flags"].split(",") if f),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = Store.open(tmp_path_factory.mktemp("ranking"))
    opened.ensure_session("s1", "#AskAcme", "local")
    yield opened
    opened.close()


def fill(store: Store, rows: list[Row]) -> None:
    store.db.execute("DELETE FROM posts")
    store.db.execute("DELETE FROM post_flags")  # a flag is a row of its own
    records = []
    for r in rows:
        post = Post(r.id, "@u", f"{r.id}?", r.created_at)
        post.likes, post.reposts = r.likes, r.reposts
        records.append(PostRecord(post, "queued", True, r.flags, first_time=r.first_time))
    store.save_page("s1", records, "end", seen_at=START)
    with store.transaction() as db:
        db.executemany(
            "UPDATE posts SET duplicates = ?, pinned = ? WHERE session_id = 's1' AND id = ?",
            [(r.duplicates, int(r.pinned), r.id) for r in rows],
        )


TIMES = st.tuples(
    st.floats(min_value=-3 * 3600, max_value=3 * 3600, allow_nan=False),  # now, from START
    st.one_of(st.none(), st.floats(min_value=-3600, max_value=3600, allow_nan=False)),  # start
)


def clock(times: tuple[float, float | None]) -> tuple[datetime, datetime | None]:
    now, start = times
    session_start = None if start is None else START + timedelta(seconds=start)
    return START + timedelta(seconds=now), session_start


@settings(max_examples=150, deadline=None)
@given(
    weights=WEIGHTS,
    seed=st.integers(0, 2**32),
    count=st.integers(1, 60),
    ties=st.booleans(),
    times=TIMES,
)
def test_sql_and_python_give_the_same_scores(
    store: Store,
    weights: Weights,
    seed: int,
    count: int,
    ties: bool,
    times: tuple[float, float | None],
) -> None:
    rows = rows_from(seed, count, ties)
    fill(store, rows)
    now, start = clock(times)
    start_ts = start.timestamp() if start is not None else float("-inf")
    sql, params = sql_score(weights, now_ts=now.timestamp(), start_ts=start_ts)
    from_sql = dict(store.db.execute(f"SELECT id, {sql} FROM posts", params).fetchall())
    largest = {c: max(getattr(r, c) for r in rows) for c in COUNT_COLUMNS}
    tolerance = sql_tolerance(weights, now_ts=now.timestamp(), start_ts=start_ts, largest=largest)
    for row in rows:
        expected = score(features(row), weights, now, session_start=start)
        assert from_sql[row.id] == pytest.approx(expected, abs=tolerance, rel=0), row


@settings(max_examples=150, deadline=None)
@given(
    weights=WEIGHTS,
    seed=st.integers(0, 2**32),
    count=st.integers(1, 200),
    limit=st.integers(1, 40),
    ties=st.booleans(),
    times=TIMES,
)
def test_the_sql_preselection_then_exact_ranking_is_the_full_ranking(
    store: Store,
    weights: Weights,
    seed: int,
    count: int,
    limit: int,
    ties: bool,
    times: tuple[float, float | None],
) -> None:
    rows = rows_from(seed, count, ties)
    fill(store, rows)
    now, start = clock(times)
    start_ts = start.timestamp() if start is not None else float("-inf")
    picked = store.top_question_rows(
        "s1", weights, now_ts=now.timestamp(), start_ts=start_ts, limit=limit
    )
    top = rank(map(stored_features, picked), weights, now, limit, session_start=start)
    full = rank(map(features, rows), weights, now, session_start=start)
    assert [(s, q.id) for s, q in top] == [(s, q.id) for s, q in full[:limit]]


@settings(max_examples=100, deadline=None)
@given(
    weights=WEIGHTS,
    seed=st.integers(0, 2**32),
    count=st.integers(0, 200),
    ties=st.booleans(),
    times=TIMES,
)
def test_the_streamed_queue_is_the_full_ranking(
    store: Store,
    weights: Weights,
    seed: int,
    count: int,
    ties: bool,
    times: tuple[float, float | None],
) -> None:
    """`qa queue --json` reads the queue in SQLite's score order and gives each question out
    once no later one can outrank it: the order is the exact ranking's, ties included."""
    from qasession.session.queue import ranked_stream

    rows = rows_from(seed, count, ties)
    fill(store, rows)
    now, start = clock(times)
    start_ts = start.timestamp() if start is not None else float("-inf")
    streamed = ranked_stream(store, "s1", weights, now, start)
    full = rank(map(features, rows), weights, now, session_start=start)
    if streamed is None:  # scores SQLite cannot hold: the caller ranks in memory
        assert not math.isfinite(
            sql_tolerance(
                weights,
                now_ts=now.timestamp(),
                start_ts=start_ts,
                largest={c: max((getattr(r, c) for r in rows), default=0) for c in COUNT_COLUMNS},
            )
        )
        return
    assert [(value, row["id"]) for value, row in streamed] == [(s, q.id) for s, q in full]


@settings(max_examples=150, deadline=None)
@given(weights=WEIGHTS, seed=st.integers(0, 2**32), ties=st.booleans(), times=TIMES)
def test_the_row_scorer_is_the_score_bit_for_bit(
    weights: Weights, seed: int, ties: bool, times: tuple[float, float | None]
) -> None:
    """What the streamed queue scores each row with (features one by one, a flag-less row's
    flags as None) is `score` exactly: the same float, not one within a tolerance."""
    from qasession.triage.ranking import ROW_FEATURES, row_scorer

    assert ROW_FEATURES == (
        "likes", "reposts", "duplicates", "created", "first_time", "pinned", "flags"
    )  # fmt: skip
    now, start = clock(times)
    by_row = row_scorer(weights, now, start)
    for row in rows_from(seed, 40, ties):
        exact = score(features(row), weights, now, start)
        given = by_row(
            row.likes,
            row.reposts,
            row.duplicates,
            row.created_at.timestamp(),
            int(row.first_time),  # as the store holds them: 0 or 1
            int(row.pinned),
            row.flags or None,
        )
        assert math.copysign(1.0, given) == math.copysign(1.0, exact)
        assert given == exact or (math.isnan(given) and math.isnan(exact))
