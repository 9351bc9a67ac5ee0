"""The Ingestor: triage state across posts, and the text facts it keeps for repeated texts."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qasession import triage
from qasession.plan import Session, parse_plan
from qasession.platforms.base import Post, SearchPage
from qasession.session import ingest
from qasession.session.ingest import Ingestor
from qasession.store import Store

START = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("engine")  # each test on SQLite and on PostgreSQL


@pytest.fixture
def session() -> Session:
    plan = parse_plan(
        "sessions:\n  - {id: s1, hashtag: '#AskAcme', account: '@acme', start: 2026-12-03 18:00,"
        " timezone: Europe/Paris, sensitive_patterns: ['ACME-\\d{6}'],"
        " moderation: {flood_limit: 3}}\n"
    )
    return plan.get("s1")


def make(i: int, author: str, text: str, minutes: float = 1) -> Post:
    return Post(str(100 + i), author, text, START + timedelta(minutes=minutes))


def test_a_repeated_text_is_analysed_once(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = triage.text_facts

    def counting(text: str, **kwargs: object) -> triage.TextFacts:
        calls.append(text)
        return original(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(triage, "text_facts", counting)
    ingestor = Ingestor(session, Store.open(tmp_path), None)
    copied = "Will you ship offline mode? #AskAcme"
    posts = [
        make(1, "@ann", copied),
        make(2, "@bob", copied),
        make(3, "@cid", "ACME-123456 is my contract, why is it late?", minutes=-5),
        make(4, "@dan", copied),
    ]
    records = ingestor.ingest(SearchPage(posts, "104"), START)
    assert calls.count(copied) == 1 and len(calls) == 2
    assert [r.status for r in records] == ["queued", "merged", "queued", "merged"]
    assert records[1].duplicate_of == records[3].duplicate_of == "101"
    assert records[2].flags == {"sensitive", "ahead"}
    assert records[0].flags == frozenset()


def test_kept_facts_still_flag_a_flooding_author(session: Session, tmp_path: Path) -> None:
    ingestor = Ingestor(session, Store.open(tmp_path), "@acme")
    same = "Any news on the EU region? #AskAcme"
    records = [ingestor.triage(make(i, "@eve", same, minutes=1 + i / 10)) for i in range(4)]
    assert ["troll" in r.flags for r in records] == [False, False, True, True]
    other = ingestor.triage(make(9, "@fay", same, minutes=2))
    assert "troll" not in other.flags
    assert ingestor.triage(make(10, "@ACME", same)).status == "own"


def test_the_kept_facts_are_bounded(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "FACTS_KEPT", 3)
    ingestor = Ingestor(session, Store.open(tmp_path), None)
    for i in range(10):
        ingestor.triage(make(i, f"@u{i}", f"Question number {i}? #AskAcme"))
        assert len(ingestor.facts) <= 3
    assert "Question number 9? #AskAcme" in ingestor.facts


def test_flood_counters_of_quiet_authors_are_dropped(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "QUIET_AUTHORS", 50)
    ingestor = Ingestor(session, Store.open(tmp_path), None)
    for page in range(60):  # 60 pages of 30 new authors, one page every 10 seconds
        posts = [
            make(page * 100 + i, f"@p{page}a{i}", f"hi {page} {i}", minutes=page / 6 + i / 1000)
            for i in range(30)
        ]
        posts.append(make(page * 100 + 99, "@regular", "Me again?", minutes=page / 6 + 0.04))
        ingestor.ingest(SearchPage(posts, posts[-1].id), START)
        # at most 7 pages' authors are active in a minute; counters go when twice that is passed
        assert len(ingestor.recent) <= 2 * (7 * 30 + 1) + 31
    assert "@regular" in ingestor.recent
    assert "@p0a0" not in ingestor.recent  # quiet for more than a minute
    regular = [r for r in ingestor.store.posts("s1") if r["author"] == "@regular"]
    assert regular and "troll" in regular[-1]["flags"]  # still seen flooding


def test_dropping_quiet_authors_looks_at_their_latest_post(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # X pages come newest first: an author's last counted post may be their oldest one
    monkeypatch.setattr(ingest, "QUIET_AUTHORS", 3)
    ingestor = Ingestor(session, Store.open(tmp_path), None)
    ingestor.ingest(SearchPage([make(1, "@a", "one", minutes=119 / 60)], "1"), START)
    others = [make(10 + i, f"@o{i}", f"hello {i}", minutes=1.5) for i in range(3)]
    ingestor.ingest(SearchPage([make(2, "@a", "two", minutes=1 / 60), *others], "2"), START)
    assert "@a" in ingestor.recent
    (third,) = ingestor.ingest(SearchPage([make(3, "@a", "three", minutes=125 / 60)], "3"), START)
    assert "troll" in third.flags  # the third post of @a within a minute (flood_limit 3)


def test_a_page_is_stored_whole_in_multi_row_inserts_and_the_rest(tmp_path: Path) -> None:
    from qasession.store.db import _ROWS_PER_INSERT, PostRecord

    store = Store.open(tmp_path)
    store.ensure_session("s1", "#AskAcme", "local")
    records = [PostRecord(make(i, f"@u{i}", f"q {i}?"), "queued", True) for i in range(60)]
    records.insert(10, records[3])  # a post given twice inside one multi-row INSERT
    records.append(records[30])  # and in the rows left over
    assert len(records) > 2 * _ROWS_PER_INSERT and len(records) % _ROWS_PER_INSERT
    assert store.save_page("s1", records, "c1", seen_at=START) == 60
    assert store.save_page("s1", records[:30], "c2", seen_at=START) == 0
    assert store.count_posts("s1") == 60 and store.cursor("s1") == "c2"
    assert [row["id"] for row in store.posts("s1")] == [str(100 + i) for i in range(60)]


def test_a_restart_mid_flood_still_sees_the_flood(session: Session, tmp_path: Path) -> None:
    def page(ingestor: Ingestor, i: int, author: str, seconds: float) -> set[str]:
        post = make(i, author, f"hello again {i}", minutes=seconds / 60)
        (record,) = ingestor.ingest(SearchPage([post], post.id), START)
        return set(record.flags)

    first = Ingestor(session, Store.open(tmp_path), "@acme")
    assert page(first, 1, "@Eve", 0) == page(first, 2, "@eve", 10) == set()
    page(first, 3, "@acme", 15)  # the host's own posts never count
    page(first, 4, "@zed", 5)  # nor other authors' posts
    first.store.close()

    again = Ingestor(session, Store.open(tmp_path), "@acme")
    assert again.recent == {
        "@eve": deque([START, START + timedelta(seconds=10)]),
        "@zed": deque([START + timedelta(seconds=5)]),
    }
    assert page(again, 5, "@EVE", 20) == {"troll"}  # the third post of @eve in a minute
    assert page(again, 6, "@zed", 80) == set()  # @zed's first post was 75 seconds before


def test_a_restart_counts_only_the_last_minute(session: Session, tmp_path: Path) -> None:
    first = Ingestor(session, Store.open(tmp_path), None)
    posts = [make(i, "@eve", f"post {i}", minutes=i) for i in range(5)]  # one a minute
    first.ingest(SearchPage(posts, "104"), START)
    assert Ingestor(session, Store.open(tmp_path), None).recent == {
        "@eve": deque([START + timedelta(minutes=3), START + timedelta(minutes=4)])
    }
