"""The demo plan (sessions.yaml) switched to `platform: bluesky`, run end to end by the live
loop against the fake XRPC service on a manual clock, and judged from the fake's state; then
a headless `qa run` subprocess against the same fake on loopback."""

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
import yaml

from qasession.clock import ManualClock
from qasession.plan import load_plan
from qasession.platforms.bluesky import BlueskyPlatform
from tests.conftest import ROOT, qa
from tests.support.bluesky_fake import FakeBluesky
from tests.support.driving import manual_session, step

T0 = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # the demo plan's 18:00 in Paris
SEARCH = "app.bsky.feed.searchPosts"


def demo_plan_on_bluesky(tmp_path: Path, service: str, **changes: Any) -> Path:
    plan = yaml.safe_load((ROOT / "sessions.yaml").read_text(encoding="utf-8"))
    for session in plan["sessions"]:
        session.update(platform="bluesky", account="@acme.bsky.social")
        session["bluesky"] = {"service": service, "search_interval": 0}
        session.update(changes)
    path = tmp_path / "sessions.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_demo_session_on_bluesky(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock(T0 - timedelta(minutes=5))
    fake = FakeBluesky(clock=clock.now)
    monkeypatch.setenv("BLUESKY_HANDLE", fake.host.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", fake.host.password)
    plan = load_plan(demo_plan_on_bluesky(tmp_path, "https://pds.test"))
    session = plan.get("askacme-dec")
    platform = BlueskyPlatform(
        session.platform_settings,
        home=home,
        clock=clock,
        account=session.account,
        transport=fake.transport,
    )
    live, store, events = manual_session(session, platform, clock, home, tail=timedelta(minutes=2))

    fake.account("closed.test", accepts_dms=False)
    ahead = fake.inject("@maria.test", "Will you add webhooks? #AskAcme", likes=4)
    for i in range(120):  # more than a page of 50
        clock.advance(0.1)
        fake.inject(f"@fan{i}.test", f"Question {i} about topic {i * 7}? #AskAcme")
    contract = fake.inject("@cust.test", "My contract ACME-123456 is wrong, why? #AskAcme")
    closed = fake.inject("@closed.test", "Can you call me on +33 6 12 34 56 78? #AskAcme")
    docs = fake.inject("@lee.test", "Where are the API docs? #AskAcme")
    step(live, clock, T0 + timedelta(minutes=1))
    store.add_command("askacme-dec", "answer", {"question_id": ahead, "text": "Yes, in Q1."})
    store.add_command(
        "askacme-dec", "answer", {"question_id": contract, "text": "Let's look.", "mode": "dm"}
    )
    store.add_command(
        "askacme-dec", "answer", {"question_id": closed, "text": "We'll call.", "mode": "dm"}
    )
    store.add_command(
        "askacme-dec", "answer", {"question_id": docs, "text": "Right here.", "mode": "quote"}
    )
    step(live, clock, T0 + timedelta(minutes=10))
    # the search service throttles: nothing is asked before its reset
    reset = clock.now() + timedelta(minutes=3)
    fake.set_limit(SEARCH, limit=10, remaining=0, reset=reset)
    step(live, clock, T0 + timedelta(hours=2))
    assert live.ended

    posts = fake.host_records()
    texts = [r.value["text"] for r in posts]
    assert "live" in texts[0].lower()  # the opening first
    assert all(n == 1 for n in Counter(texts).values()), "nothing posted twice"
    (repost,) = [r for r in fake.host_records("app.bsky.feed.repost")]
    assert repost.value["subject"]["uri"] == ahead
    answer = next(r for r in posts if "Yes, in Q1." in r.value["text"])
    assert answer.value["text"] == "@maria.test Yes, in Q1. #AskAcme"  # the mention leads
    assert answer.indexed_at > repost.indexed_at
    features = [f["features"][0] for f in answer.value["facets"]]
    assert features[0]["did"] == fake.account("maria.test").did
    assert features[-1]["tag"] == "AskAcme"
    quote = next(r for r in posts if "Right here." in r.value["text"])
    assert quote.value["embed"]["record"]["uri"] == docs
    # every post carries a tag facet for the hashtag, at the right bytes
    for record in posts:
        raw = record.value["text"].encode()
        tags = [f for f in record.value.get("facets", []) if "tag" in f["features"][0]]
        assert tags, record.value["text"]
        index = tags[-1]["index"]
        assert raw[index["byteStart"] : index["byteEnd"]].decode().lower() == "#askacme"
    # direct messages: one sent, one refused without any public trace
    assert [m.text for m in fake.messages] == ["Let's look."]
    assert not any("ACME-123456" in t or "12 34 56 78" in t for t in texts)
    notices = [t for t in texts if t.startswith("@cust.test")]
    assert len(notices) == 1  # "check your messages", for the one who got one
    assert not any(t.startswith("@closed.test") for t in texts)
    refused = [e for e in events if e["event"] == "warning" and "messages" in e["message"]]
    assert refused and refused[0]["question"] == closed
    row = store.post_row("askacme-dec", closed, "bluesky")
    assert row is not None and row["status"] == "queued"
    assert any("That's all" in t for t in texts[-2:])

    # reading: each post stored once, pages followed only while new posts fill them, and
    # nothing asked of the search service between its 429 and the reset
    searches = [r for r in fake.requests if r.nsid == SEARCH and r.status == 200]
    paged = [r for r in searches if "cursor" in r.params]
    assert len(paged) == 2  # the 124 posts asked ahead: 3 pages of 50, once
    stored = store.db.execute(
        "SELECT count(*), count(DISTINCT id) FROM posts WHERE session_id = ?", ("askacme-dec",)
    ).fetchone()
    assert stored[0] == stored[1] >= 124
    limited = [r for r in fake.requests if r.nsid == SEARCH and r.status == 429]
    assert len(limited) == 1
    assert fake.count("com.atproto.server.createSession") == 1
    counters = live.counters()
    assert counters["search_requests"] == len(searches)
    assert counters["reposts"] == 1 and counters["dms"] == 1
    assert counters["posts_created"] == len(posts)


def numbers(plan: Path) -> dict[str, str]:
    queue = json.loads(qa("--rehearsal", "queue", "--json", "-f", str(plan)).stdout)
    return {row["post_id"]: str(row["id"]) for row in queue}


def test_headless_run_on_bluesky(tmp_path: Path, home: Path) -> None:
    """`qa run --headless` in a subprocess against the fake on loopback; answers come from
    `qa answer` in other processes; one login for all of them."""
    fake = FakeBluesky()
    env = {"BLUESKY_HANDLE": fake.host.handle, "BLUESKY_APP_PASSWORD": fake.host.password}
    with fake.serve() as url:
        start = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
        plan = demo_plan_on_bluesky(tmp_path, url, start=start, duration="30m", timezone="UTC")
        asker = fake.inject("@maria.test", "Will you add webhooks? #AskAcme")
        run = subprocess.Popen(
            [sys.executable, "-m", "qasession", "run", "askacme-dec", "--headless", "-f",
             str(plan), "--start-now", "--speed", "60", "--tail", "1"],
            stdout=subprocess.PIPE, text=True, env={**os.environ, **env}, cwd=ROOT,
        )  # fmt: skip
        assert run.stdout is not None
        events = []
        for line in run.stdout:
            event = json.loads(line)
            events.append(event)
            if event["event"] == "posted" and event["kind"] == "opening":
                number = numbers(plan)[asker]
                answer = qa("--rehearsal", "answer", number, "Yes, in Q1.", "-f", str(plan))
                assert answer.returncode == 0, answer.stderr
        assert run.wait(timeout=120) == 0
    kinds = [e["kind"] for e in events if e["event"] == "posted"]
    assert kinds[0] == "opening" and "closing" in kinds
    texts = [r.value["text"] for r in fake.host_records()]
    assert "@maria.test Yes, in Q1. #AskAcme" in texts
    assert fake.host_records("app.bsky.feed.repost")[0].value["subject"]["uri"] == asker
    assert fake.count("com.atproto.server.createSession") == 1
