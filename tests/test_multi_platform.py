"""One session on three platforms, rehearsed headless on local stand-ins (local:x, local:bsky,
local:mastodon) with a crowd that cross-posts: every planned post once per platform, one queue,
a merged question answered once on each platform where it was asked (and as a community
answer where it was not), a platform down for ten minutes mid-session losing and doubling
nothing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qasession.clock import ManualClock
from qasession.plan import parse_plan, timeline
from qasession.platforms import registry
from qasession.platforms.local import LocalNetwork
from qasession.session.control import AnswerRequest, Control
from qasession.session.loop import LiveSession, LiveSettings
from qasession.session.queue import queue_rows
from qasession.session.rehearsal import Crowd, load_crowd
from qasession.store import Store
from tests.conftest import ROOT
from tests.support.outage import FakeOutage

PLATFORMS = ("local:x", "local:bsky", "local:mastodon")
PLAN = """
sessions:
  - id: multi
    hashtag: '#AskAcme'
    start: 2026-12-03 18:00
    timezone: Europe/Paris
    duration: 60m
    platforms:
      local:x: {account: '@acme'}
      local:bsky: {account: '@acme.com'}
      local:mastodon: {account: '@acme@acme.social', hashtag: '#AskAcmeQA'}
    announcements:
      - {at: -20m, text: 'Soon on {hashtag}: ask {account}!'}
      - {at: -5m, text: 'Five minutes to go, {hashtag}'}
"""


def run_session(home: Path, *, outage: str | None = None) -> dict[str, Any]:
    """The session from 25 minutes before its start to its end, the crowd of
    examples/multi/crowd.yaml replayed, the host answering twice mid-session; with `outage`,
    local:bsky fails ("5xx" or "auth") from 15 to 25 minutes after the start."""
    session = parse_plan(PLAN, ROOT / "sessions.yaml").sessions[0]
    clock = ManualClock(session.start - timedelta(minutes=25))
    store = Store.open(home)
    adapters: dict[str, Any] = {
        name: registry.create(
            name, view.platform_settings, home=home, clock=clock, account=view.account, source=name
        )
        for name, view in ((v.platform, v) for v in session.views())
    }
    down = None
    if outage is not None:
        down = FakeOutage(
            adapters["local:bsky"],
            clock.now,
            session.start + timedelta(minutes=15),
            session.start + timedelta(minutes=25),
            auth=outage == "auth",
        )
        adapters["local:bsky"] = down
    networks = {name: LocalNetwork(home, name) for name in PLATFORMS}
    crowd = Crowd(
        load_crowd(ROOT / "examples" / "multi" / "crowd.yaml"), networks, session.start, "t"
    )
    events: list[dict[str, Any]] = []
    live = LiveSession(
        session,
        store,
        adapters,
        clock,
        events.append,
        settings=LiveSettings(seed=1, tail=timedelta(minutes=2)),
        crowd=crowd,
    )
    answered: dict[str, int] = {}
    while not live.ended:
        clock.advance(max(live.tick(), 0.5))
        if "offline" not in answered and clock.now() >= session.start + timedelta(minutes=16):
            answered.update(answer_offline_and_on_call(session, store))
        assert clock.now() < session.end + timedelta(hours=2), "the session never ended"
    return {
        "session": session,
        "store": store,
        "events": events,
        "answered": answered,
        "networks": networks,
        "outage": down,
    }


def answer_offline_and_on_call(session: Any, store: Store) -> dict[str, int]:
    """At 16 minutes (a minute into the outage): the cross-posted offline-mode question
    (X and Bluesky) everywhere, and the on-call one (X and Bluesky) by reply."""
    now = session.start + timedelta(minutes=16)
    rows = {r["text"].split("?")[0]: r for r in queue_rows(session, store, now)}
    offline = rows["When will the mobile app support offline mode"]
    on_call = rows["How do you handle on-call for a team this size without burning people out"]
    control = Control(session, store, actor="host")
    control.answer(
        offline["id"],
        AnswerRequest("Offline mode ships in the spring release.", "dot", everywhere=True),
    )
    control.answer(on_call["id"], AnswerRequest("Small rotations and a quiet week after.", "reply"))
    return {"offline": offline["id"], "on_call": on_call["id"]}


def host_posts(network: LocalNetwork, host: str) -> list[Any]:
    return [p for p in network.timeline() if p.author.lower() == host.lower()]


HOSTS = {"local:x": "@acme", "local:bsky": "@acme.com", "local:mastodon": "@acme@acme.social"}


@pytest.fixture(scope="module", params=[None, "5xx", "auth"])
def result(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_session(tmp_path_factory.mktemp("multi"), outage=request.param)


def test_every_planned_post_goes_out_once_on_each_platform(result: dict[str, Any]) -> None:
    session = result["session"]
    for name in PLATFORMS:
        sent = Counter(p.text for p in host_posts(result["networks"][name], HOSTS[name]))
        planned = [i for i in timeline(session) if i.platform == name]
        assert {i.kind for i in planned} == {"announcement", "opening", "closing", "after_party"}
        for item in planned:
            assert sent[item.text] == 1, (name, item.key)
    mastodon = [i.text for i in timeline(session) if i.platform == "local:mastodon"]
    assert all("#AskAcmeQA" in text for text in mastodon)
    assert "ask @acme.com!" in next(i.text for i in timeline(session) if i.platform == "local:bsky")


def test_one_queue_merges_the_cross_posted_question(result: dict[str, Any]) -> None:
    store, session = result["store"], result["session"]
    rows = store.posts(session.id, where="is_question = 1 AND text LIKE '%offline mode%'")
    assert sorted(r["platform"] for r in rows) == ["local:bsky", "local:x"]
    canonical = next(r for r in rows if r["duplicate_of"] is None)
    merged = next(r for r in rows if r["duplicate_of"] is not None)
    assert merged["duplicate_platform"] == canonical["platform"]
    # its rank counts the engagement on both platforms
    assert canonical["cross_likes"] == merged["likes"] > 0


def test_the_merged_question_is_answered_once_where_it_was_asked(result: dict[str, Any]) -> None:
    networks = result["networks"]
    x = host_posts(networks["local:x"], "@acme")
    bsky = host_posts(networks["local:bsky"], "@acme.com")
    mastodon = host_posts(networks["local:mastodon"], "@acme@acme.social")
    answer = "Offline mode ships in the spring release."
    on_x = [p for p in x if answer in p.text]
    on_bsky = [p for p in bsky if answer in p.text]
    assert len(on_x) == 1 and on_x[0].text.startswith(".@sam_builds ")  # X hides a leading @
    assert len(on_bsky) == 1 and on_bsky[0].text.startswith("@sam.builds.bsky.social ")
    for network, posts in ((networks["local:x"], x), (networks["local:bsky"], bsky)):
        reposts = [p for p in posts if p.kind == "repost" and "offline" in p.text]
        assert len(reposts) == 1 and "offline" in network.get(str(reposts[0].ref)).text
    # where it was not asked: a community answer, without anyone's handle
    on_mastodon = [p for p in mastodon if answer in p.text]
    assert len(on_mastodon) == 1
    assert on_mastodon[0].text == (
        "Q from an X user: When will the mobile app support offline mode? "
        "A: Offline mode ships in the spring release. #AskAcmeQA"
    )
    # the on-call question, answered by reply on both platforms where it was asked, as each
    # allows: X takes no reply to a post that does not mention the host (a repost and a .@
    # post instead), Bluesky does
    on_x = [p for p in x if "Small rotations" in p.text]
    assert len(on_x) == 1 and on_x[0].kind == "post" and on_x[0].text.startswith(".@kofi ")
    on_bsky = [p for p in bsky if "Small rotations" in p.text]
    assert len(on_bsky) == 1 and on_bsky[0].kind == "reply"
    assert "on-call" in networks["local:bsky"].get(str(on_bsky[0].ref)).text
    assert not [p for p in mastodon if "Small rotations" in p.text]  # not asked: no --everywhere


def test_nothing_lost_or_doubled_when_a_platform_fails(result: dict[str, Any]) -> None:
    store, session, events = result["store"], result["session"], result["events"]
    states = Counter(item.state for item in store.outbox(session.id))
    assert set(states) == {"sent"}, states
    for name in PLATFORMS:
        texts = [p.text for p in host_posts(result["networks"][name], HOSTS[name])]
        assert len(texts) == len(set(texts)), name  # nothing posted twice
        sent = [item for item in store.outbox(session.id) if item.platform == name]
        ids = [int(item.platform_id) for item in sent if item.platform_id]
        assert len(ids) == len(sent)
    degraded = [e for e in events if e["event"] == "platform_degraded"]
    recovered = [e for e in events if e["event"] == "platform_recovered"]
    if result["outage"] is None:
        assert not degraded and not recovered
        return
    assert result["outage"].failed_calls > 0
    assert {e["platform"] for e in degraded} == {"local:bsky"}
    assert [e["platform"] for e in recovered][-1] == "local:bsky"
    # the others went on: the X answer went out during the outage, Bluesky's after it
    end_of_outage = session.start + timedelta(minutes=25)
    x_answer = next(
        i for i in store.outbox(session.id) if i.platform == "local:x" and i.kind == "answer"
    )
    bsky_answer = next(
        i for i in store.outbox(session.id) if i.platform == "local:bsky" and i.kind == "answer"
    )
    assert datetime.fromisoformat(x_answer.sent_at or "") < end_of_outage
    assert datetime.fromisoformat(bsky_answer.sent_at or "") >= end_of_outage
    # the Bluesky lane drained in the order its posts were asked for
    lane = [i for i in store.outbox(session.id) if i.platform == "local:bsky"]
    assert [int(i.platform_id or 0) for i in lane] == sorted(int(i.platform_id or 0) for i in lane)


def test_moderation_holds_on_the_platform_it_names(tmp_path: Path) -> None:
    """The same handle on two platforms is two people: blocking @sam on local:x hides their
    questions there, old and new, and leaves @sam on local:bsky in the queue; a block with no
    platform holds on every one."""
    session = parse_plan(PLAN, ROOT / "sessions.yaml").sessions[0]
    clock = ManualClock(session.start)
    home = tmp_path / "home"
    store = Store.open(home)
    adapters = {
        view.platform: registry.create(
            view.platform, view.platform_settings, home=home, clock=clock,
            account=view.account, source=view.platform,
        )
        for view in session.views()
    }  # fmt: skip
    networks = {name: LocalNetwork(home, name) for name in PLATFORMS}
    live = LiveSession(
        session, store, adapters, clock, lambda event: None, settings=LiveSettings(seed=1)
    )

    def ask(platform: str, author: str, text: str) -> None:
        tag = "#AskAcmeQA" if platform == "local:mastodon" else "#AskAcme"
        networks[platform].add(author=author, text=f"{text} {tag}", created_at=clock.now())
        for _ in range(40):  # until every platform was read again
            clock.advance(max(live.tick(), 0.5))

    def askers() -> list[tuple[str, str]]:
        return sorted((r["platform"], r["author"]) for r in queue_rows(session, store, clock.now()))

    ask("local:x", "@sam", "Will webhooks retry failed deliveries?")
    ask("local:bsky", "@sam", "Is there a free tier for students?")
    assert [a for a in askers() if a[1] == "@sam"] == [("local:bsky", "@sam"), ("local:x", "@sam")]
    control = Control(session, store, actor="host")
    assert control.moderate("@sam", "blocked", platform="local:x") == 1
    ask("local:x", "@sam", "And what about EU data residency?")
    ask("local:bsky", "@sam", "Does the app work offline?")
    assert [a for a in askers() if a[1] == "@sam"] == [("local:bsky", "@sam")] * 2
    control.moderate("@lee", "muted")
    ask("local:mastodon", "@lee", "Can I export my data as CSV?")
    ask("local:x", "@lee", "How do I rotate API keys?")
    assert not [a for _, a in askers() if a == "@lee"]


def test_the_plan_post_failure_names_every_failing_platform_auth_first() -> None:
    from qasession.errors import AuthError, ExitCode, PlatformError
    from qasession.session.schedule import PostReport

    assert PostReport(["k"], [], []).failure() is None  # every platform posted
    down = PostReport(
        [], [], [], errors={"x": PlatformError("X API 503:\n  try later", retryable=True)}
    )
    failed = down.failure()
    assert isinstance(failed, PlatformError) and failed.exit_code == ExitCode.PLATFORM
    assert failed.message == "posting failed on x: X API 503: try later"  # on one line
    assert "nothing is posted twice" in (failed.hint or "")
    both = PostReport(
        [],
        [],
        [],
        errors={"x": PlatformError("X API 503"), "bluesky": AuthError("bad app password")},
    )
    refused = both.failure()
    assert isinstance(refused, AuthError) and refused.exit_code == ExitCode.AUTH
    assert refused.message == "posting failed on x: X API 503; bluesky: bad app password"
