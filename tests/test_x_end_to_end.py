"""The X adapter end to end: the shared contract, the live loop against the loopback fake (in
process on a manual clock, and as a headless rehearsal through the CLI), credentials, costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qasession.clock import ManualClock
from qasession.plan import load_plan
from qasession.platforms.x import XPlatform
from qasession.session.loop import LiveSession, LiveSettings
from qasession.store import Store
from tests.conftest import ROOT, qa, write_plan
from tests.contract import Harness, check_contract
from tests.support.x_fake import XFake
from tests.test_x_adapter import set_credentials

SEARCH = "GET /2/tweets/search/recent"
T0 = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


def x_harness(fake: XFake, platform: XPlatform, clock: ManualClock) -> Harness:
    def inject(author: str, text: str) -> str:
        clock.advance(1)
        return fake.inject(author, text)

    def fail_next(fault: str) -> bool:
        if fault == "auth":
            fake.fail(401)
        elif fault == "rate":
            fake.fail(429)
        elif fault == "5xx":
            fake.fail(503)
        else:
            return False  # a time-out needs a socket that hangs: see test_x_adapter
        return True

    return Harness(platform, inject, fail_next, page_size=platform.settings.max_results)


def test_contract_against_the_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock(T0)
    with XFake(username="acme", clock=clock.now) as fake:
        set_credentials(monkeypatch, fake.access_token())
        platform = XPlatform({"api_base": fake.url, "max_results": 10}, home=tmp_path, clock=clock)
        check_contract(x_harness(fake, platform, clock))


def x_plan(tmp_path: Path, url: str, start: str, **extra: Any) -> Path:
    return write_plan(
        tmp_path / "x.yaml",
        platform="x",
        account="@acme",
        start=start,
        x={"api_base": url, **extra.pop("x", {})},
        **extra,
    )


def test_live_session_on_x(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock(T0 - timedelta(minutes=5))
    with XFake(username="acme", clock=clock.now) as fake:
        set_credentials(monkeypatch, fake.access_token())
        session = load_plan(x_plan(tmp_path, fake.url, "2026-12-03 17:00")).get("t")
        platform = XPlatform(session.platform_settings, home=home, clock=clock, account="@acme")
        store = Store.open(home)
        events: list[dict[str, Any]] = []
        live = LiveSession(
            session,
            store,
            platform,
            clock,
            events.append,
            settings=LiveSettings(seed=1, tail=timedelta(minutes=2)),
        )

        def step_until(moment: datetime) -> None:
            while clock.now() < moment and not live.ended:
                clock.advance(max(live.tick(), 0.5))

        ahead = fake.inject("@maria", "Will you add webhooks? #AskAcme", likes=4)
        for i in range(150):  # more than one page
            fake.inject(f"@fan{i}", f"Question {i} about topic {i * 7}? #AskAcme")
        fake.inject("@acme", "our own post #AskAcme")
        fake.inject("@bob", "RT-able", retweet_of=ahead)
        contract = fake.inject("@cust", "My bill is wrong, contract 4444 5555? #AskAcme")
        step_until(T0 + timedelta(minutes=1))
        store.add_command("t", "answer", {"question_id": ahead, "text": "Yes, in Q1."})
        store.add_command(
            "t", "answer", {"question_id": contract, "text": "Let's look.", "mode": "dm"}
        )
        # the search window runs out: a 429 with its reset, and nothing asked before the reset
        fake.set_limit(SEARCH, "15min", limit=1, used=1)
        limited_at = clock.now()
        step_until(T0 + timedelta(minutes=20))
        step_until(T0 + timedelta(hours=2))
        assert live.ended

        host = [t for t in fake.host_tweets() if t.text != "our own post #AskAcme"]
        texts = [t.text for t in host]
        assert "live" in texts[0].lower()  # the opening first
        retweet = next(i for i, t in enumerate(host) if t.retweet_of == ahead)
        assert host[retweet + 1].text == ".@maria Yes, in Q1. #AskAcme"
        assert [d.text for d in fake.dms] == ["Let's look."]
        assert not any("4444 5555" in t for t in texts)
        assert any("That's all" in t or "thank" in t.lower() for t in texts[-2:])
        assert all(n == 1 for n in Counter(texts).values())

        # reading: no post read twice, no retweets or own posts fetched, minimal pages
        searches = [r for r in fake.requests if r.endpoint == SEARCH and r.status == 200]
        returned = [tweet_id for r in searches for tweet_id in r.returned]
        assert len(returned) == len(set(returned))
        assert all(
            "-is:retweet" in r.query["query"] and "-from:acme" in r.query["query"] for r in searches
        )
        own = {t.id for t in host}
        assert not own & set(returned)
        paged = [r for r in searches if "next_token" in r.query]
        assert len(paged) == 1  # 150+ posts: exactly one more page, followed at once
        limited = [r for r in fake.requests if r.endpoint == SEARCH and r.status == 429]
        assert len(limited) <= 1
        reset = limited_at + timedelta(minutes=15)
        first_after = min(
            r.at
            for r in fake.requests  # type: ignore[type-var]
            if r.endpoint == SEARCH and r.at and r.at > limited_at
        )
        assert first_after >= reset  # no request before the window's reset

        # the counters match the requests actually made
        counters = live.counters()
        assert counters["search_requests"] == len(searches)
        assert counters["posts_read"] == len(returned)
        assert counters["reposts"] == sum(1 for t in host if t.retweet_of)
        assert counters["dms"] == len(fake.dms)
        # ...and the spend is what those requests cost at the settings' prices
        created = fake.count("POST /2/tweets", status=201)
        retweets = fake.count("POST /2/users/:id/retweets", status=200)
        dms = fake.count("POST /2/dm_conversations/with/:id/messages", status=201)
        assert counters["posts_created"] == created
        billed = len(returned) * 0.005 + (created + retweets + dms) * 0.015
        assert counters["spend_usd"] == pytest.approx(billed, abs=1e-4)
        ended = events[-1]
        assert ended["event"] == "ended" and ended["counters"]["posts_read"] == len(returned)


def test_no_credentials_one_line_exit_4(tmp_path: Path) -> None:
    plan = x_plan(tmp_path, "http://127.0.0.1:9", "2026-12-03 17:00")
    result = qa("run", "--headless", "-f", str(plan))
    assert result.returncode == 4
    assert result.stderr.count("\n") == 1
    for name in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"):
        assert name in result.stderr
    doctor = qa("doctor", "-f", str(plan))
    assert doctor.returncode == 4
    assert "credentials" in doctor.stdout and "X_API_KEY" in doctor.stdout


def test_doctor_explains_each_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with XFake(username="acme") as fake:
        set_credentials(monkeypatch, fake.access_token())
        plan = x_plan(tmp_path, fake.url, "2026-12-03 17:00")
        result = qa("doctor", "--json", "-f", str(plan))
        assert result.returncode == 0, result.stderr
        checks = {c["check"]: c for c in json.loads(result.stdout)}
        assert checks["credentials"]["ok"] and "@acme" in checks["account"]["detail"]
        assert "rate budget" in checks
        assert "SECRET" not in result.stdout + result.stderr


def test_plan_estimates_the_cost(tmp_path: Path) -> None:
    plan = x_plan(
        tmp_path,
        "http://127.0.0.1:9",
        "2026-12-03 17:00",
        x={"expected_posts": 2000, "budget_usd": 20},
    )
    data = json.loads(qa("plan", "--json", "-f", str(plan)).stdout)
    cost = data["cost"]
    # 3 announcements + opening + closing + after-party, and 12 answers (repost + post)
    assert cost["posts_created"] == 6 + 2 * 12
    assert cost["posts_read"] == 2000
    assert cost["total_usd"] == pytest.approx(2000 * 0.005 + 30 * 0.015)
    # requests from the pacing: a poll every 5 s from the start to 10 minutes after the end
    # (70 minutes), within X's 300 per 15 minutes at 60% of it
    reading = data["reading"]
    assert cost["search_requests"] == reading["search_requests"] == 70 * 12 + 1
    assert reading["rate_limit"] == {
        "calls": 300, "window_s": 900, "share_at_floor": 0.6, "limited": False
    }  # fmt: skip
    shown = qa("plan", "-f", str(plan)).stdout
    assert "estimated cost" in shown and "$10.45" in shown
    assert "about 841 search requests" in " ".join(shown.split())
    assert "60% of the rate limit (300 per 15 min)" in " ".join(shown.split())


def test_plan_says_when_the_rate_limit_slows_polling(tmp_path: Path) -> None:
    plan = x_plan(
        tmp_path, "http://127.0.0.1:9", "2026-12-03 17:00", x={"rate_limit": 60, "mentions": True}
    )
    reading = json.loads(qa("plan", "--json", "-f", str(plan)).stdout)["reading"]
    assert reading["rate_limit"]["limited"] and reading["rate_limit"]["share_at_floor"] == 3.0
    assert reading["poll_every_s"] == pytest.approx(900 / 59, abs=0.01)
    polls = 70 * 60 // (900 / 59) + 1
    assert reading["polls"] == polls and reading["search_requests"] == 2 * polls  # + mentions
    shown = " ".join(qa("plan", "-f", str(plan)).stdout.split())
    assert "polling slows down to it" in shown


def numbers(plan: Path) -> dict[str, str]:
    """The rehearsal's question numbers by post id (what `qa answer` takes)."""
    queue = json.loads(qa("--rehearsal", "queue", "--json", "-f", str(plan)).stdout)
    return {row["post_id"]: str(row["id"]) for row in queue}


def test_headless_rehearsal_on_x(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with XFake(username="acme") as fake:
        set_credentials(monkeypatch, fake.access_token())
        start = datetime.now(UTC) + timedelta(hours=2)
        plan = x_plan(tmp_path, fake.url, start.strftime("%Y-%m-%d %H:%M"), duration="30m")
        asker = fake.inject("@maria", "Will you add webhooks? #AskAcme")
        customer = fake.inject("@cust", "Call me on +33 6 12 34 56 78? #AskAcme")
        docs = fake.inject("@lee", "Where are the API docs? #AskAcme")
        run = subprocess.Popen(
            [sys.executable, "-m", "qasession", "run", "--headless", "-f", str(plan),
             "--start-now", "--speed", "60", "--tail", "1"],
            stdout=subprocess.PIPE, text=True, env=dict(os.environ), cwd=ROOT,
        )  # fmt: skip
        assert run.stdout is not None
        answered = False
        events = []
        for line in run.stdout:
            event = json.loads(line)
            events.append(event)
            if event["event"] == "posted" and event["kind"] == "opening" and not answered:
                answered = True
                number = numbers(plan)
                for args in (
                    [number[asker], "Yes, in Q1."],
                    [number[customer], "We'll call you.", "--mode", "dm"],
                ):
                    result = qa("--rehearsal", "answer", *args, "-f", str(plan))
                    assert result.returncode == 0, result.stderr
                    assert "link" not in result.stderr
        assert run.wait(timeout=120) == 0
        docs_number = numbers(plan)[docs]
        linked = qa(
            "answer", docs_number, "See https://acme.example/docs", "-f", str(plan), "--rehearsal"
        )
        assert "contains a link" in linked.stderr  # flagged: X bills it much higher
        kinds = [e["kind"] for e in events if e["event"] == "posted"]
        assert kinds[0] == "opening" and kinds[-2:] == ["closing", "after_party"]
        host = fake.host_tweets()
        retweet = next(i for i, t in enumerate(host) if t.retweet_of == asker)
        assert host[retweet + 1].text == ".@maria Yes, in Q1. #AskAcme"
        assert [d.text for d in fake.dms] == ["We'll call you."]
        assert any(t.text.startswith(".@cust ") for t in host)
        ended = events[-1]
        searches = [r for r in fake.requests if r.endpoint == SEARCH and r.status == 200]
        assert ended["counters"]["search_requests"] == len(searches)
        assert ended["counters"]["posts_read"] == sum(len(r.returned) for r in searches)


def test_budget_warns_at_80_percent_and_slows_polling(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock(T0)
    with XFake(username="acme", clock=clock.now) as fake:
        set_credentials(monkeypatch, fake.access_token())
        plan = x_plan(tmp_path, fake.url, "2026-12-03 17:00", x={"budget_usd": 1.0})
        session = load_plan(plan).get("t")
        platform = XPlatform(session.platform_settings, home=home, clock=clock, account="@acme")
        events: list[dict[str, Any]] = []
        live = LiveSession(
            session, Store.open(home), platform, clock, events.append, settings=LiveSettings(seed=1)
        )
        live.start()
        waits = []
        for minute in range(20):
            for i in range(12):  # 12 posts a minute at $0.005 = $0.06 a minute
                fake.inject(f"@p{minute}x{i}", f"Question {minute} {i}? #AskAcme")
            for _ in range(12):
                wait = live.tick()
                waits.append((platform.over_budget_ratio() or 0.0, wait))
                clock.advance(max(wait, 5.0))
        warnings = [e for e in events if e["event"] == "warning" and "budget" in e["message"]]
        assert len(warnings) == 2
        assert "% of the x budget spent" in warnings[0]["message"]
        assert "budget is spent" in warnings[1]["message"]
        under = [w for ratio, w in waits if ratio < 0.8 and w > 0]
        over = [w for ratio, w in waits if 0.8 <= ratio < 1.0 and w > 0]
        assert under and over and min(over) > max(under)  # slower once past 80%
        # reading stopped at the budget: at most the last poll's posts past it
        assert platform.spend() <= 1.0 + max(12 * 0.005 * 2, 0.1)
