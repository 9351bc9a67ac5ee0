"""The Mastodon adapter against mastodon-mock (a real Mastodon REST API on loopback): the shared
contract, a headless session through the CLI judged from the server's state, two instances
read as one hashtag, and injected faults (every post exactly once)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from qasession.clock import ManualClock
from qasession.errors import PlatformError
from qasession.plan import load_plan
from qasession.platforms.mastodon import TOKEN_VAR, MastodonPlatform
from qasession.platforms.mastodon_text import status_text
from qasession.session.loop import LiveSession
from qasession.store import Store
from tests.conftest import ROOT, qa, write_plan
from tests.contract import Harness, check_contract
from tests.support.driving import manual_session, step
from tests.support.mastodon_proxy import MastodonProxy
from tests.support.mastodon_server import MastodonServer


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonServer]:
    with MastodonServer("acme") as started:
        monkeypatch.setenv(TOKEN_VAR, started.token("acme"))
        yield started


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def mastodon_harness(server: MastodonServer, platform: MastodonPlatform) -> Harness:
    reset_at: list[float] = []

    def inject(author: str, text: str) -> str:
        return str(server.post(author, text)["uri"])

    def fail_next(fault: str) -> bool:
        if reset_at:  # the injected 429's window must be over before the next fault
            time.sleep(max(0.0, reset_at.pop() - time.time()) + 0.1)
        timeline = r"^/api/v1/timelines/tag/"
        if fault == "auth":
            server.server.fault(path_regex=timeline, status=401, count=1)
        elif fault == "rate":
            reset = int(time.time()) + 2
            reset_at.append(reset)
            server.server.fault(
                path_regex=timeline,
                type="ratelimit",
                headers={"X-RateLimit-Reset": str(reset)},
                count=1,
            )
        elif fault == "5xx":
            server.server.fault(path="/api/v1/statuses", methods=["POST"], status=503, count=1)
        else:  # the instance answers after the client gave up (a time-out; 3 s: a loaded
            # machine must not turn a normal request into one)
            server.server.fault(
                path="/api/v1/statuses", methods=["POST"], type="latency", delay_ms=4500, count=1
            )
        return True

    return Harness(platform, inject, fail_next, page_size=platform.settings.page_size)


def test_contract_against_mastodon_mock(server: MastodonServer, tmp_path: Path) -> None:
    platform = MastodonPlatform(
        {"instance": server.url, "page_size": 5, "timeout": 3}, home=tmp_path, account="@acme"
    )
    check_contract(mastodon_harness(server, platform))
    platform.close()


def test_doctor_shows_account_instance_limit_and_budget(
    server: MastodonServer, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path / "m.yaml", platform="mastodon", mastodon={"instance": server.url})
    result = qa("doctor", "--json", "-f", str(plan))
    assert result.returncode == 0, result.stderr
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert "signed in as @acme" in checks["account"]["detail"]
    assert "Mastodon 4.6.0" in checks["instance"]["detail"]
    assert checks["character limit"]["detail"].startswith("500")
    assert "rate budget" in checks
    assert server.token("acme") not in result.stdout + result.stderr


def test_missing_token_is_one_line_exit_4(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "m.yaml", platform="mastodon", mastodon={"instance": "http://127.0.0.1:9"}
    )
    result = qa("run", "--headless", "-f", str(plan))
    assert result.returncode == 4
    assert result.stderr.count("\n") == 1 and TOKEN_VAR in result.stderr


# -- a headless session through the CLI ----------------------------------------------------------


def demo_plan(tmp_path: Path, instance: str, start: datetime) -> Path:
    """The demo plan (sessions.yaml), its first session switched to Mastodon."""
    plan = yaml.safe_load((ROOT / "sessions.yaml").read_text(encoding="utf-8"))
    session = plan["sessions"][0]
    session.update(
        platform="mastodon",
        mastodon={"instance": instance},
        timezone="UTC",
        start=start.strftime("%Y-%m-%d %H:%M"),
        quiet_dates=[],
    )
    session.pop("next", None)
    plan["sessions"] = [session]
    path = tmp_path / "sessions.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


def numbers(plan: Path) -> dict[str, str]:
    queue = json.loads(qa("--rehearsal", "queue", "--json", "-f", str(plan)).stdout)
    return {row["post_id"]: str(row["id"]) for row in queue}


def test_headless_session_on_mastodon(server: MastodonServer, tmp_path: Path) -> None:
    start = datetime.now(UTC) + timedelta(minutes=50)
    plan = demo_plan(tmp_path, server.url, start)
    posted = qa("plan", "--post", "--late", "-f", str(plan))
    assert posted.returncode == 0, posted.stderr
    questions = {
        "dot": server.post("maria", "Will you add webhooks? #AskAcme"),
        "reply": server.post("lee", "Where are the API docs? #AskAcme"),
        "quote": server.post("sam", "Is there a free plan? #AskAcme"),
        "dm": server.post("cust", "My order ACME-123456 is late, why? #AskAcme"),
    }
    answers = {
        "dot": "Yes, in Q1.",
        "reply": "At docs.acme.example, all of them.",
        "quote": "Yes: up to three users.",
        "dm": "We'll look at your order.",
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "qasession", "run", "--headless", "-f", str(plan),
         "--start-now", "--speed", "120", "--tail", "1"],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ), cwd=ROOT,
    )  # fmt: skip
    assert run.stdout is not None
    events = []
    for line in run.stdout:
        event = json.loads(line)
        events.append(event)
        if event["event"] == "posted" and event["kind"] == "opening":
            number = numbers(plan)
            for mode, status in questions.items():
                result = qa(
                    "--rehearsal", "answer", number[status["uri"]], answers[mode],
                    "--mode", mode, "-f", str(plan),
                )  # fmt: skip
                assert result.returncode == 0, result.stderr
    assert run.wait(timeout=180) == 0
    kinds = [e["kind"] for e in events if e["event"] == "posted"]
    assert kinds[0] == "opening" and kinds[-2:] == ["closing", "after_party"]

    # judged from what the instance holds
    host = server.statuses("acme")
    texts = [status_text(s) for s in host if s["reblog"] is None]
    assert sum("#AskAcme" in t and ("Tomorrow" in t or "hour" in t or "On " in t) for t in texts)
    assert any(t.startswith("We're live!") for t in texts)
    boost = next(i for i, s in enumerate(host) if s["reblog"] is not None)
    assert str(host[boost]["reblog"]["id"]) == str(questions["dot"]["id"])
    assert status_text(host[boost + 1]) == "@maria Yes, in Q1. #AskAcme"  # the mention leads
    reply = next(s for s in host if s["in_reply_to_id"])
    assert str(reply["in_reply_to_id"]) == str(questions["reply"]["id"])
    # a reply leads with the asker's mention: on Mastodon only a mention notifies
    assert status_text(reply).startswith("@lee At docs.acme.example")
    quote = next(s for s in host if s.get("quote"))
    assert str(quote["quote"]["quoted_status"]["id"]) == str(questions["quote"]["id"])
    direct = [s for s in host if s["visibility"] == "direct"]
    assert [status_text(s) for s in direct] == ["@cust We'll look at your order."]
    assert "@cust we've sent you a direct message. #AskAcme" in texts
    assert not any("ACME-123456" in t for t in texts)  # the private question never echoed
    assert texts[-2].startswith("That's all for today") and "keep posting" in texts[-1]
    assert all(n == 1 for n in Counter(texts).values()), "every post once"
    assert all(s["visibility"] == "public" for s in host if s["visibility"] != "direct")


# -- two instances, one hashtag ------------------------------------------------------------------


def live(
    tmp_path: Path, home: Path, settings: dict[str, Any], clock: ManualClock
) -> tuple[LiveSession, Store, list[dict[str, Any]]]:
    start = clock.now() + timedelta(minutes=1)
    plan = write_plan(
        tmp_path / "live.yaml",
        platform="mastodon",
        start=start.strftime("%Y-%m-%d %H:%M"),
        duration="30m",
        mastodon=settings,
    )
    session = load_plan(plan).get("t")
    platform = MastodonPlatform(session.platform_settings, home=home, clock=clock, account="@acme")
    return manual_session(session, platform, clock, home, tail=timedelta(minutes=1))


def wall_clock() -> ManualClock:
    """A manual clock at the real time (the mock dates its statuses with the real time)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return ManualClock(now)


def test_two_instances_one_question_stored_once_answered_once(
    server: MastodonServer, tmp_path: Path, home: Path
) -> None:
    with MastodonServer("bob") as other:
        asked = other.post("alice", "Does it federate? #AskAcme")
        copy = server.federate(asked, other)  # the same status, as the host's instance has it
        assert copy["uri"] == asked["uri"] and copy["id"] != asked["id"]
        alone = other.post("zoe", "Only here, can you see me? #AskAcme")
        clock = wall_clock()
        loop, store, events = live(
            tmp_path, home, {"instance": server.url, "also_read": [other.url]}, clock
        )
        step(loop, clock, clock.now() + timedelta(minutes=2))
        rows = store.posts("t", where="text = ?", params=("Does it federate? #AskAcme",))
        assert len(rows) == 1, "stored once, whichever instance it came from"
        for question in (asked, alone):
            row = store.posts("t", where="id = ?", params=(question["uri"],))[0]
            store.add_command("t", "answer", {"question_id": row["id"], "text": "Yes!"})
        step(loop, clock, clock.now() + timedelta(minutes=40))
        assert loop.ended
    host = server.statuses("acme")
    boosts = [s for s in host if s["reblog"] is not None]
    assert [str(s["reblog"]["id"]) for s in boosts] == [str(copy["id"])]  # the local copy
    texts = [status_text(s) for s in host if s["reblog"] is None]
    alice = f"@alice@{other.domain} Yes! #AskAcme"
    zoe = f"@zoe@{other.domain} Yes! #AskAcme"
    assert texts.count(alice) == 1 and texts.count(zoe) == 1, texts
    warned = [e["message"] for e in events if e["event"] == "warning"]
    assert any("cannot repost" in m and "cannot resolve" in m for m in warned), warned


def test_a_post_only_another_instance_has_is_resolved_then_boosted(
    server: MastodonServer, tmp_path: Path, home: Path, stack: ExitStack
) -> None:
    """A question read only on an `also_read` instance: before acting, the adapter resolves
    it on the host's instance (search with resolve=true; the proxy federates it as a real
    instance would) and boosts the local copy by its local id; the answer mentions the
    asker at their instance. Nothing falls back to "cannot resolve"."""
    with MastodonServer("bob") as other:
        proxy = stack.enter_context(MastodonProxy(server))
        proxy.resolves(other)
        asked = other.post("alice", "Seen only over there? #AskAcme")
        clock = wall_clock()
        settings = {"instance": proxy.url, "also_read": [other.url]}
        loop, store, events = live(tmp_path, home, settings, clock)
        step(loop, clock, clock.now() + timedelta(minutes=2))
        (row,) = store.posts("t", where="id = ?", params=(asked["uri"],))
        store.add_command("t", "answer", {"question_id": row["id"], "text": "Yes, resolved!"})
        step(loop, clock, clock.now() + timedelta(minutes=40))
        assert loop.ended
    assert proxy.resolved == [asked["uri"]]
    host = server.statuses("acme")
    (boost,) = [s for s in host if s["reblog"] is not None]
    assert boost["reblog"]["uri"] == asked["uri"]
    assert str(boost["reblog"]["id"]) != str(asked["id"])  # the host's own id for it
    texts = [status_text(s) for s in host if s["reblog"] is None]
    assert texts.count(f"@alice@{other.domain} Yes, resolved! #AskAcme") == 1, texts
    warned = [e["message"] for e in events if e["event"] == "warning"]
    assert not any("resolve" in m for m in warned), warned


def unused_url() -> str:
    """A loopback address nothing listens on: an instance that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_a_failing_instance_is_reported_and_the_others_go_on(
    server: MastodonServer, tmp_path: Path, home: Path
) -> None:
    """An `also_read` instance that is down, and one that fails once: each makes one warning
    event (not one per poll), and one that works again says so; the posts of the others
    are read meanwhile, and the failed one's once it answers."""
    with MastodonServer("bob") as other:
        server.post("lee", "Asked on the host's instance #AskAcme")
        other.post("alice", "Asked on the other one #AskAcme")
        other.server.fault(path_regex=r"^/api/v1/timelines/tag/", status=503, count=1)
        dead = unused_url()
        clock = wall_clock()
        settings = {"instance": server.url, "also_read": [other.url, dead], "timeout": 5}
        loop, store, events = live(tmp_path, home, settings, clock)
        step(loop, clock, clock.now() + timedelta(minutes=4))
        texts = {row["text"] for row in store.posts("t")}
    assert {"Asked on the host's instance #AskAcme", "Asked on the other one #AskAcme"} <= texts
    warned = [e["message"] for e in events if e["event"] == "warning"]
    down = urlsplit(dead).netloc
    assert len([m for m in warned if f"reading {down} failed" in m]) == 1, warned
    failed_once = [m for m in warned if f"reading {other.domain} failed" in m]
    assert len(failed_once) == 1 and "503" in failed_once[0], warned
    assert warned.count(f"reading {other.domain} works again") == 1, warned
    assert all(e.get("platform") == "mastodon" for e in events if e["event"] == "warning")


def test_plan_post_reports_a_failing_instance_and_collects_the_others(
    server: MastodonServer, tmp_path: Path
) -> None:
    """`qa plan --post` gathers questions asked ahead from every instance: one that is down is
    reported once on its output (as the live loop's events do), the others are collected."""
    plan = demo_plan(tmp_path, server.url, datetime.now(UTC) + timedelta(minutes=50))
    document = yaml.safe_load(plan.read_text(encoding="utf-8"))
    dead = unused_url()
    document["sessions"][0]["mastodon"].update(also_read=[dead], timeout=5)
    plan.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    server.post("lee", "Will the offline mode come this year? #AskAcme")
    posted = qa("plan", "--post", "--late", "-f", str(plan))
    assert posted.returncode == 0, posted.stderr
    output = posted.stdout + posted.stderr
    down = urlsplit(dead).netloc
    assert output.count(f"warning: reading {down} failed") == 1, output
    assert "1 question(s)" in output, output


# -- faults ----------------------------------------------------------------------------------------


def test_faults_every_post_exactly_once(
    server: MastodonServer, tmp_path: Path, home: Path, stack: ExitStack
) -> None:
    proxy = stack.enter_context(MastodonProxy(server))
    clock = wall_clock()
    loop, store, events = live(tmp_path, home, {"instance": proxy.url, "timeout": 3}, clock)
    questions = [server.post(f"fan{i}", f"Question {i}? #AskAcme") for i in range(3)]
    step(loop, clock, clock.now() + timedelta(minutes=2))
    post = {"path": "/api/v1/statuses", "methods": ["POST"], "count": 1}
    server.server.fault(**post, type="ratelimit")  # a 429 with its reset, 5 minutes on
    server.server.fault(**post, status=503)
    # then a post the instance makes whose answer is lost on the way back (a time-out)
    proxy.drop_answer("POST", "/api/v1/statuses")
    for status in questions:
        row = store.posts("t", where="id = ?", params=(status["uri"],))[0]
        store.add_command(
            "t", "answer", {"question_id": row["id"], "text": f"Answer {row['id'][-4:]}"}
        )
    step(loop, clock, clock.now() + timedelta(minutes=40), pause=0.05)
    assert loop.ended
    host = server.statuses("acme")
    texts = [status_text(s) for s in host if s["reblog"] is None]
    assert all(n == 1 for n in Counter(texts).values()), Counter(texts)
    boosted = Counter(str(s["reblog"]["id"]) for s in host if s["reblog"] is not None)
    assert boosted == Counter(str(q["id"]) for q in questions)
    answered = [t for t in texts if t.startswith("@fan")]
    assert len(answered) == 3
    warned = " ".join(e["message"] for e in events if e["event"] == "warning")
    assert "rate limit" in warned and ("503" in warned or "failed" in warned)
    lost = [str(answer["id"]) for answer in proxy.dropped]
    assert "timed out" in warned and len(lost) == 1
    reconciled = [e for e in events if e["event"] == "posted" and e.get("reconciled")]
    assert [e["id"].rsplit("/", 1)[-1] for e in reconciled] == lost  # found, not sent again


def test_lost_answer_found_among_recent_statuses_after_a_restart(
    server: MastodonServer, tmp_path: Path, stack: ExitStack
) -> None:
    proxy = stack.enter_context(MastodonProxy(server))
    settings = {"instance": proxy.url, "timeout": 3}  # a busy machine answers in time
    first = MastodonPlatform(settings, home=tmp_path)
    first.me()
    proxy.drop_answer("POST", "/api/v1/statuses")
    with pytest.raises(PlatformError) as lost:
        first.post("Lost in transit #AskAcme", idempotency_key="t:answer:9:0:answer")
    assert lost.value.retryable and "timed out" in str(lost.value)
    restarted = MastodonPlatform(settings, home=tmp_path)  # reads mastodon-sent.jsonl
    found = restarted.find_sent("t:answer:9:0:answer")
    made = [s for s in server.statuses("acme") if status_text(s) == "Lost in transit #AskAcme"]
    assert found is not None and len(made) == 1
    assert found.extra["local_id"] == str(made[0]["id"])
    assert restarted.find_sent("t:answer:10:0:answer") is None
