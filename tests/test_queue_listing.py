"""`qa queue`: the terminal listing shows a page and says how many more there are; `--json`
streams the whole ranked queue (the same rows as the ranking in memory, valid JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qasession.cli.render import inert_data, inert_json
from qasession.plan import load_plan
from qasession.platforms.base import Post
from qasession.session.queue import queue_rows
from qasession.store import PostRecord, Store
from tests.conftest import qa, write_plan

HOSTILE = [
    "Why \x1b[31mred\x1b[0m? \u202eevil",  # an escape sequence, a bidi override
    'Is "quoted" fine?',  # JSON escapes quotes and backslashes, which inert keeps
    "A back\\slash and a tab\there?",
    "Zero\u200bwidth and été?",
]


def fill(home: Path, plan: Path, count: int) -> None:
    """`count` queued questions: some asked ahead (all age from the start: ties), some
    hostile, a few flagged; every tenth question answered (not in the queue)."""
    session = load_plan(plan).get(None)
    store = Store.open(home)
    store.ensure_session(session.id, session.hashtag, session.platform)
    records = []
    for i in range(count + count // 9):
        created = session.start + (
            -timedelta(hours=1 + i % 3) if i % 4 == 0 else timedelta(seconds=37 * i)
        )
        text = HOSTILE[i % len(HOSTILE)] if i % 5 == 1 else f"Question {i:03d}?"
        post = Post(f"p{i}", f"@user{i % 7}", text, created, likes=i % 3, reposts=i % 2)
        flags = frozenset({"troll"} if i % 11 == 3 else ())
        status = "answered" if i % 10 == 9 else "queued"
        records.append(PostRecord(post, status, True, flags, first_time=i % 2 == 0))
    store.save_page(session.id, records, None, seen_at=session.start)
    store.close()


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    start = datetime.now(UTC) - timedelta(minutes=20)
    return write_plan(tmp_path / "p.yaml", start=start.strftime("%Y-%m-%d %H:%M"))


def queued(home: Path) -> int:
    store = Store.open(home)
    try:
        return store.count_questions("t", ("queued",))
    finally:
        store.close()


def listed(stdout: str) -> list[str]:
    """The question numbers of a terminal listing's rows."""
    return [line.split()[0] for line in stdout.splitlines() if line.split()[:1] != ["#"]][1:]


def test_the_terminal_listing_shows_a_page_and_how_many_more(home: Path, plan: Path) -> None:
    fill(home, plan, 30)
    total = queued(home)
    assert total == 30
    shown = qa("queue", "-f", str(plan))
    assert shown.returncode == 0, shown.stderr
    assert len(listed(shown.stdout)) == 20
    assert f"{total - 20} more, use --limit or --json" in shown.stderr
    assert "more" not in shown.stdout  # data on stdout, the hint on stderr

    three = qa("queue", "--limit", "3", "-f", str(plan))
    assert listed(three.stdout) == listed(shown.stdout)[:3]
    assert f"{total - 3} more, use --limit or --json" in three.stderr

    every = qa("queue", "--limit", str(total + 5), "-f", str(plan))
    assert len(listed(every.stdout)) == total
    assert "more" not in every.stderr


def test_the_json_listing_is_the_whole_ranked_queue(home: Path, plan: Path) -> None:
    fill(home, plan, 60)
    streamed = qa("queue", "--json", "-f", str(plan))
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.isascii()
    rows = json.loads(streamed.stdout)
    # as the in-memory ranking lists it (every string inert), at the moment of that run:
    # the ages move on between the two, which shifts every score alike and no order
    store = Store.open(home)
    expected = inert_data(queue_rows(load_plan(plan).get(None), store, datetime.now(UTC)))
    store.close()

    def without_scores(listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k != "score"} for row in listing]

    assert len(rows) == queued(home) == 60
    assert without_scores(rows) == without_scores(expected)
    assert [row["rank"] for row in rows] == list(range(1, len(rows) + 1))
    texts = "".join(row["text"] for row in rows)
    assert "\x1b" not in texts and "\u202e" not in texts and "\u200b" not in texts
    assert 'Is "quoted" fine?' in texts and "été" in texts  # real text stays
    # one question to a line, inside one array
    lines = streamed.stdout.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == len(rows) + 2

    top = qa("queue", "--json", "--limit", "5", "-f", str(plan))
    assert without_scores(json.loads(top.stdout)) == without_scores(rows[:5])


def test_an_empty_queue(home: Path, plan: Path) -> None:
    fill(home, plan, 0)
    assert json.loads(qa("queue", "--json", "-f", str(plan)).stdout) == []
    shown = qa("queue", "-f", str(plan))
    assert "the queue is empty" in shown.stdout
    assert "more" not in shown.stderr


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.text(),
            st.integers(),
            st.floats(allow_nan=False),
            st.booleans(),
            st.none(),
            st.lists(st.text(max_size=12), max_size=3),
        ),
        max_size=6,
    )
)
def test_a_row_dumped_once_is_what_inert_data_gives(row: dict[str, Any]) -> None:
    """The fast path of the streamed listing (a row whose JSON needs no escape is dumped
    as it is) gives what making every string inert first gives."""
    text = inert_json(row)
    assert "\n" not in text and text.isascii()
    assert json.loads(text) == json.loads(json.dumps(inert_data(row)))


def test_numbering_new_questions_reads_the_index_not_the_table(tmp_path: Path) -> None:
    """Each page of new questions asks for the session's last number: from the index, or
    ingest slows down as the store grows (a scan of every post, every page)."""
    store = Store.open(tmp_path)
    store.ensure_session("s", "#AskAcme", "local")
    sent: list[str] = []
    store.db.set_trace_callback(sent.append)
    post = Post("1", "@a", "Why?", datetime.now(UTC))
    store.save_page("s", [PostRecord(post, "queued", True)], None, seen_at=datetime.now(UTC))
    store.db.set_trace_callback(None)
    asked = [sql for sql in sent if "max(number)" in sql]
    assert asked
    for sql in asked:
        plan = " ".join(row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "posts_number" in plan and "SCAN posts" not in plan, plan
    store.close()
