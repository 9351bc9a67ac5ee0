"""The live loop, stepped over a manual clock on the local platform."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qasession.clock import ManualClock
from qasession.plan import Session, load_plan, parse_plan
from qasession.platforms.base import Post
from qasession.platforms.local import LocalNetwork, LocalPlatform
from qasession.session.lease import SessionLease
from qasession.session.loop import LiveSession, LiveSettings, queue_rows, weights_for
from qasession.session.queue import iter_queue_rows
from qasession.store import Store
from qasession.store.db import PostRecord
from tests.conftest import write_plan

T0 = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


def session_for(tmp_path: Path, **extra: Any) -> Session:
    plan = write_plan(tmp_path / "p.yaml", start="2026-12-03 17:00", **extra)
    return load_plan(plan).get("t")


class World:
    def __init__(
        self,
        tmp_path: Path,
        home: Path,
        settings: dict[str, Any] | None = None,
        begin: datetime = T0 - timedelta(minutes=10),
        **plan: Any,
    ) -> None:
        self.session = session_for(tmp_path, **plan)
        self.home = home
        self.clock = ManualClock(begin)
        self.network = LocalNetwork(home)
        self.store = Store.open(home)
        self.platform = LocalPlatform(settings or {}, home=home, clock=self.clock, account="@acme")
        self.events: list[dict[str, Any]] = []
        self.live = LiveSession(
            self.session,
            self.store,
            self.platform,
            self.clock,
            self.events.append,
            settings=LiveSettings(seed=3, tail=timedelta(minutes=5)),
        )

    def say(self, author: str, text: str, at: datetime | None = None, likes: int = 0) -> str:
        return self.network.add(
            author=author, text=text, created_at=at or self.clock.now(), likes=likes
        )

    def run_until(self, moment: datetime, limit: int = 100_000) -> None:
        for _ in range(limit):
            if self.clock.now() >= moment or self.live.ended:
                return
            wait = self.live.tick()
            self.clock.advance(max(wait, 0.5))
        raise AssertionError("the loop did not get there")

    def mine(self) -> list[Any]:
        return [p for p in self.network.timeline() if p.author == "@acme"]

    @contextmanager
    def running(self) -> Iterator[None]:
        """Hold the session's lease as a live `qa run` does: a command then leaves its posts
        to the run, even once the wall clock is past the plan's end (this world's session runs
        on its own clock, of a fixed date)."""
        lease = SessionLease(self.session.id)
        lease.acquire(self.store)
        lease.keep_alive(lambda: Store.open(self.home))
        try:
            yield
        finally:
            lease.release(self.store)


def test_a_whole_session(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home)
    w.say("@early", "Will there be a recording? #AskAcme", at=T0 - timedelta(days=1))
    w.run_until(T0 + timedelta(minutes=1))
    opening = [p for p in w.mine() if p.kind == "post"]
    assert len(opening) == 1 and "live" in opening[0].text.lower()
    assert T0 <= opening[0].created_at <= T0 + timedelta(seconds=10)
    queue = queue_rows(w.session, w.store, w.clock.now())
    assert [q["author"] for q in queue] == ["@early"] and "ahead" in queue[0]["flags"]
    w.run_until(T0 + timedelta(hours=2))
    assert w.live.ended
    kinds = [e["event"] for e in w.events]
    assert kinds[0] == "started" and kinds[-1] == "ended"
    cues = [e["cue"] for e in w.events if e["event"] == "cue"]
    assert cues == ["half-time", "10 minutes left", "5 minutes left"]
    texts = [p.text for p in w.mine()]
    assert len(texts) == 3  # opening, closing, after-party
    closing = w.mine()[1]
    assert T0 + timedelta(hours=1) <= closing.created_at <= T0 + timedelta(hours=1, seconds=10)


def test_pagination_then_floor(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home, {"page_size": 5})
    for i in range(12):
        w.say(f"@u{i}", f"Question {i}? #AskAcme", at=T0 - timedelta(hours=1))
    waits = [w.live.tick() for _ in range(3)]
    assert waits[:2] == [0.0, 0.0]  # following the pages
    assert waits[2] >= 5.0  # caught up: back to the floor
    assert w.platform.counters.search_requests == 3
    assert len(queue_rows(w.session, w.store, w.clock.now())) == 12


def test_pacing_never_hits_the_rate_limit(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home, {"rate_limit": 10, "rate_window": 900})
    w.run_until(T0 + timedelta(minutes=45))
    assert not [e for e in w.events if "rate" in str(e.get("message", ""))]
    assert 10 <= w.platform.counters.search_requests <= 40  # ~10 per 15 minutes


@pytest.mark.parametrize(
    "settings", [{}, {"rate_limit": 30, "rate_window": 900}, {"rate_limit": 200, "rate_window": 60}]
)
def test_the_plan_estimates_the_search_requests_a_run_makes(
    tmp_path: Path, home: Path, settings: dict[str, Any]
) -> None:
    """`qa plan`'s estimate (session.reading) against the counters of a run from the start to
    the end of its tail, at the loop's own pacing: the floor, or the rate limit's."""
    from qasession.session.reading import estimate_reading, search_limits_of

    w = World(tmp_path, home, settings, begin=T0, local=settings)
    w.run_until(T0 + timedelta(hours=2))
    assert w.live.ended
    estimate = estimate_reading(w.session, search_limits_of(w.session), tail=timedelta(minutes=5))
    made = w.platform.counters.search_requests
    assert estimate["search_requests"] == pytest.approx(made, rel=0.1)
    assert (estimate["rate_limit"] is None) == (not settings)
    if settings:
        assert estimate["rate_limit"]["limited"] == (settings["rate_limit"] == 30)


@pytest.mark.parametrize("settings", [{}, {"rate_limit": 30, "rate_window": 900}])
def test_the_recap_holds_the_calls_made_against_the_plans_estimate(
    tmp_path: Path, home: Path, settings: dict[str, Any]
) -> None:
    """The end-of-session counters beside `qa plan`'s estimate: the run's tail is 5 minutes
    where the plan assumes the default 10, so the calls made are about 65/70 of it."""
    from qasession.recap import build_recap
    from qasession.recap.render import platform_use
    from qasession.session.reading import estimate_reading, search_limits_of

    w = World(tmp_path, home, settings, begin=T0, local=settings)
    w.run_until(T0 + timedelta(hours=2))
    assert w.live.ended
    cost = build_recap(w.store, w.session).cost
    assert cost is not None and cost.calls is not None
    estimate = estimate_reading(w.session, search_limits_of(w.session))["search_requests"]
    assert cost.estimated_search_requests == estimate
    made = cost.calls["search_requests"]
    assert made == w.platform.counters.search_requests
    assert made / estimate == pytest.approx(65 / 70, abs=0.05)
    expected = f"{made:,} API calls ({made / estimate:.0%} of the {estimate:,} qa plan estimated)"
    assert (platform_use(build_recap(w.store, w.session)) or "").startswith(expected)


def test_answers_in_each_mode(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home, sensitive_patterns=["ACME-\\d{6}"])
    q1 = w.say("@alice", "How do I export my data? #AskAcme", at=T0)
    q2 = w.say("@bob", "Why is my bill wrong, contract ACME-123456? #AskAcme", at=T0)
    q3 = w.say("@carol", "Is there an API? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(minutes=2))
    w.store.add_command("t", "answer", {"question_id": q1, "text": "Settings > Export."})
    w.store.add_command(
        "t", "answer", {"question_id": q2, "text": "We'll check your bill.", "mode": "dm"}
    )
    w.store.add_command("t", "answer", {"question_id": q3, "text": "Yes, v2.", "mode": "quote"})
    w.run_until(T0 + timedelta(minutes=3))
    mine = w.mine()
    repost = next(i for i, p in enumerate(mine) if p.kind == "repost")
    assert mine[repost].ref == q1
    answer = mine[repost + 1]
    assert answer.text == ".@alice Settings > Export. #AskAcme"
    dm = [p for p in mine if p.kind == "dm"]
    assert len(dm) == 1 and dm[0].to == "@bob"
    public = [p for p in mine if p.kind != "dm"]
    assert not any("ACME-123456" in p.text for p in public)
    assert any(p.text.startswith(".@bob ") for p in public)  # "we've sent you a DM"
    quote = [p for p in mine if p.kind == "quote"]
    assert len(quote) == 1 and quote[0].ref == q3
    statuses = {r["id"]: r["status"] for r in w.store.posts("t")}
    assert statuses[q1] == statuses[q2] == statuses[q3] == "answered"
    assert w.live.answers_done() == 3


def test_fault_injection_completes_exactly_once(tmp_path: Path, home: Path) -> None:
    w = World(tmp_path, home, {"fault_rate": 0.2, "fault_seed": 11})
    crowd = [
        w.say(
            f"@p{i}", f"Question number {i} about topic {i}? #AskAcme", at=T0 - timedelta(minutes=5)
        )
        for i in range(30)
    ]
    w.run_until(T0 + timedelta(minutes=5))
    for i in range(6):
        w.store.add_command("t", "answer", {"question_id": crowd[i], "text": f"Answer {i}"})
    later = [w.say(f"@late{i}", f"Late question {i}? #AskAcme") for i in range(10)]
    w.run_until(T0 + timedelta(hours=3))
    assert w.live.ended
    assert w.platform.counters.errors > 5  # faults really happened
    texts = Counter(p.text for p in w.mine() if p.kind != "repost")
    assert all(n == 1 for n in texts.values()), texts
    reposts = Counter(p.ref for p in w.mine() if p.kind == "repost")
    assert sorted(reposts) == sorted(crowd[:6]) and set(reposts.values()) == {1}
    for i in range(6):
        assert texts[f".@p{i} Answer {i} #AskAcme"] == 1
    stored = Counter(r["id"] for r in w.store.posts("t"))
    assert all(stored[i] == 1 for i in crowd + later)
    assert sum(1 for p in w.mine() if p.kind == "post") == 3 + 6


@pytest.mark.parametrize("blocked", [True, False])
def test_blocked_authors_are_hidden(tmp_path: Path, home: Path, blocked: bool) -> None:
    w = World(tmp_path, home)
    w.say("@troll", "Why is everything bad? #AskAcme", at=T0)
    w.run_until(T0 + timedelta(seconds=30))
    if blocked:
        w.store.add_moderation("t", "@troll", "blocked", w.clock.now())
    w.say("@troll", "And why again? #AskAcme")
    w.run_until(T0 + timedelta(minutes=2))
    authors = [q["author"] for q in queue_rows(w.session, w.store, w.clock.now())]
    assert authors == ([] if blocked else ["@troll", "@troll"])


QUEUE_START = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "ranking",
    [
        {},
        {"likes": 0, "reposts": 0, "duplicates": 0, "first_time": 0, "age": 0},  # all tied
        {"age": -10, "likes": 0.1},
        {"age": 2, "duplicates": 7.5, "pinned": 3},
        {"likes": 1e17, "pinned": -1e17},  # sums that round away the age term
        {"likes": 1e308},  # scores that overflow
    ],
)
def test_the_top_of_the_queue_is_the_top_of_the_whole_queue(
    tmp_path: Path, ranking: dict[str, float]
) -> None:
    plan = parse_plan(
        "sessions:\n  - {id: s1, hashtag: '#AskAcme', start: 2026-12-03 18:00,"
        f" timezone: Europe/Paris, ranking: {ranking or '{}'}}}\n"
    )
    session = plan.get("s1")
    store = Store.open(tmp_path)
    store.ensure_session("s1", "#AskAcme", "local")
    rng = random.Random(7)
    records = []
    for i in range(1500):
        # before the start, during, and a few "from the future" (clock skew)
        minutes = rng.choice([-600, -90, -1, 0, 0, 5, 5.0005, 30, 61, 200]) + rng.random() * 0.01
        post = Post(
            f"q{i:05d}", f"@u{i % 300}", f"question {i}?", QUEUE_START + timedelta(minutes=minutes)
        )
        post.likes, post.reposts = rng.choice([0, 0, 1, 3, 40]), rng.choice([0, 1, 2])
        flags = frozenset(rng.sample(["sensitive", "troll", "ahead"], rng.randrange(3)))
        status = rng.choice(["queued"] * 6 + ["answered", "skipped", "merged"])
        merged = f"q{rng.randrange(max(i, 1)):05d}" if status == "merged" else None
        records.append(PostRecord(post, status, True, flags, merged, rng.random() < 0.4))
    store.save_page("s1", records, "end", seen_at=QUEUE_START)
    for i in rng.sample(range(1500), 40):
        store.set_pinned("s1", f"q{i:05d}", True)
    now = QUEUE_START + timedelta(minutes=45)
    whole = queue_rows(session, store, now)
    assert len(whole) > 600
    for limit in (1, 10, 100, 300, len(whole), len(whole) + 5):
        assert queue_rows(session, store, now, limit=limit) == whole[:limit]
    assert queue_rows(session, store, now, limit=0) == []
    # the streamed queue (`qa queue --json`) is the same queue, row for row
    assert list(iter_queue_rows(session, store, now)) == whole


def queue_store(tmp_path: Path, count: int) -> tuple[Session, Store]:
    session = parse_plan(
        "sessions:\n  - {id: s1, hashtag: '#AskAcme', start: 2026-12-03 18:00,"
        " timezone: Europe/Paris}\n"
    ).get("s1")
    store = Store.open(tmp_path)
    store.ensure_session("s1", "#AskAcme", "local")
    records = []
    for i in range(count):
        post = Post(f"q{i:05d}", "@u", f"q {i}?", QUEUE_START + timedelta(seconds=i))
        post.likes = i % 2
        records.append(PostRecord(post, "queued", True))
    store.save_page("s1", records, "end", seen_at=QUEUE_START)
    return session, store


def test_the_top_of_a_spread_queue_reads_few_rows(tmp_path: Path) -> None:
    session, store = queue_store(tmp_path, 2000)
    now = QUEUE_START + timedelta(hours=1)
    weights = weights_for(session)
    rows = store.top_question_rows(
        "s1", weights, now_ts=now.timestamp(), start_ts=session.start.timestamp(), limit=10
    )
    assert len(rows) < 10 + 64
    assert queue_rows(session, store, now, limit=10) == queue_rows(session, store, now)[:10]


def test_a_date_sqlite_cannot_read_does_not_hide_a_question(tmp_path: Path) -> None:
    session, store = queue_store(tmp_path, 300)
    store.db.execute(
        "UPDATE posts SET likes = 50, created_at = '2026-12-03T17:05:00+0000' WHERE id = 'q00007'"
    )
    now = QUEUE_START + timedelta(hours=1)
    assert queue_rows(session, store, now, limit=1)[0]["post_id"] == "q00007"
    assert queue_rows(session, store, now, limit=10) == queue_rows(session, store, now)[:10]
    assert list(iter_queue_rows(session, store, now)) == queue_rows(session, store, now)
