"""One session on X, Mastodon and Bluesky at once, against the X fake, mastodon-mock and the
fake Bluesky service on loopback: `qa plan --post` (each planned post once per platform, once
again on retry), `--check-tag` on each, `--watch`, then the live loop with a crowd that
cross-posts, a merged question answered once on each platform where it was asked, and X
failing for ten minutes mid-session, its lane drained in order afterwards. Judged from what
each server received."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from qasession.clock import ManualClock
from qasession.errors import ExitCode
from qasession.plan import Session, load_plan, timeline
from qasession.platforms import registry
from qasession.platforms.mastodon import TOKEN_VAR
from qasession.platforms.mastodon_text import status_text
from qasession.session import schedule
from qasession.session.control import AnswerRequest, Control
from qasession.session.loop import LiveSession, LiveSettings
from qasession.session.queue import queue_rows
from qasession.store import Store
from tests.conftest import qa
from tests.support.bluesky_fake import FakeBluesky
from tests.support.mastodon_server import MastodonServer
from tests.support.x_fake import XFake
from tests.test_x_adapter import set_credentials

PLATFORMS = ("x", "mastodon", "bluesky")


@dataclass
class Fakes:
    x: XFake
    mastodon: MastodonServer
    bluesky: FakeBluesky
    bluesky_url: str
    clock: ManualClock

    def plan(self, path: Path, start: datetime, **session: Any) -> Path:
        """A plan on the three platforms (times in UTC), each pointed at its server."""
        base: dict[str, Any] = {
            "id": "t",
            "title": "Ask Acme",
            "hashtag": "#AskAcme",
            "timezone": "UTC",
            "start": start.strftime("%Y-%m-%d %H:%M"),
            "duration": "30m",
            "platforms": {
                "x": {"account": "@acme", "api_base": self.x.url, "max_results": 10},
                "mastodon": {
                    "account": "@acme",
                    "instance": self.mastodon.url,
                    "timeout": 3,
                    "opening": "Live on Mastodon too: ask with {hashtag}, {account} answers.",
                },
                "bluesky": {
                    "account": "@acme.bsky.social",
                    "service": self.bluesky_url,
                    "search_interval": 0,
                },
            },
            "announcements": [
                {"at": "-1h", "text": "In one hour: {title} on {hashtag}, ask {account}!"},
                {"at": "-10m", "text": "Ten minutes to go, {hashtag}"},
            ],
        }
        base.update(session)
        path.write_text(yaml.safe_dump({"sessions": [base]}, sort_keys=False), encoding="utf-8")
        return path

    def host_texts(self) -> dict[str, list[str]]:
        """What each server holds from the host: every post's text, oldest first."""
        return {
            "x": [t.text for t in self.x.host_tweets() if t.retweet_of is None],
            "mastodon": [
                status_text(s) for s in self.mastodon.statuses("acme") if s["reblog"] is None
            ],
            "bluesky": [r.value["text"] for r in self.bluesky.host_records()],
        }


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, home: Path) -> Iterator[Fakes]:
    clock = ManualClock(datetime.now(UTC).replace(second=0, microsecond=0))
    bluesky = FakeBluesky(clock=clock.now)
    with (
        XFake(username="acme", clock=clock.now) as x,
        MastodonServer("acme") as mastodon,
        bluesky.serve() as bluesky_url,
    ):
        set_credentials(monkeypatch, x.access_token())
        monkeypatch.setenv(TOKEN_VAR, mastodon.token("acme"))
        monkeypatch.setenv("BLUESKY_HANDLE", bluesky.host.handle)
        monkeypatch.setenv("BLUESKY_APP_PASSWORD", bluesky.host.password)
        yield Fakes(x, mastodon, bluesky, bluesky_url, clock)


def planned_texts(session: Session, kinds: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        name: [i.text for i in timeline(session) if i.platform == name and i.kind in kinds]
        for name in PLATFORMS
    }


# -- qa plan -------------------------------------------------------------------------------------


def test_plan_post_once_per_platform_and_once_again_on_retry(fakes: Fakes, tmp_path: Path) -> None:
    """`qa plan --post` with the answer to X's post lost (503 after it was made) and the
    Mastodon instance answering after the client gave up: the first run posts on Bluesky and
    says the others failed (exit 5); the retry finds what was made and doubles nothing."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=50)
    path = fakes.plan(tmp_path / "sessions.yaml", start)
    session = load_plan(path).get("t")
    fakes.x.fail(503, endpoint="POST /2/tweets", after=True)
    fakes.mastodon.server.fault(
        path="/api/v1/statuses", methods=["POST"], type="latency", delay_ms=4500, count=1
    )
    first = qa("plan", "--post", "-f", str(path))
    assert first.returncode == ExitCode.PLATFORM, first.stderr
    assert "posted t:announcement:-1h@bluesky" in first.stderr
    assert "x failed" in first.stderr and "mastodon failed" in first.stderr
    last = first.stderr.strip().splitlines()[-1]  # the one-line error it ends with
    assert last.startswith("qa: error: posting failed on x: X API 503") and "; mastodon: " in last
    assert "run `qa plan --post` again" in last and "Traceback" not in first.stderr
    time.sleep(3.5)  # the failed lanes' back-off
    again = qa("plan", "--post", "--json", "-f", str(path))
    assert again.returncode == 0, again.stderr
    states = {e["key"]: e["state"] for e in json.loads(again.stdout)["timeline"]}
    for name in PLATFORMS:
        assert states[f"announcement:-1h@{name}"] == "posted", states
        assert states[f"announcement:-10m@{name}"] == "pending", states
    held = fakes.host_texts()
    due = planned_texts(session, ("announcement",))
    for name in PLATFORMS:
        first_due = due[name][0]
        assert held[name] == [first_due], (name, held[name])  # once, not twice, not the rest
    assert "ask @acme.bsky.social!" in held["bluesky"][0]
    third = qa("plan", "--post", "-f", str(path))
    assert third.returncode == 0 and "nothing to post now" in third.stderr
    assert fakes.host_texts() == held


def test_check_tag_asks_each_platform_about_its_own_hashtag(fakes: Fakes, tmp_path: Path) -> None:
    fakes.x.inject("@other", "Our own #AskAcme thing, nothing to do with you")
    fakes.bluesky.inject("@someone.test", "Trying #AskAcmeQA here")  # not Bluesky's tag
    start = datetime.now(UTC) + timedelta(days=2)
    path = fakes.plan(tmp_path / "sessions.yaml", start)
    plan = yaml.safe_load(path.read_text(encoding="utf-8"))
    plan["sessions"][0]["platforms"]["mastodon"]["hashtag"] = "#AskAcmeQA"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    fakes.mastodon.post("lee", "Is #AskAcmeQA the right tag?")
    result = qa("plan", "--check-tag", "--json", "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert "#AskAcme is already in use on x: 1 recent post(s) by 1 author(s)" in result.stderr
    assert "#AskAcmeQA is already in use on mastodon" in result.stderr
    assert "#AskAcme is free on bluesky" in result.stderr
    found = {a["platform"]: a for a in json.loads(result.stdout)["tag_activities"]}
    assert {n: found[n]["recent_posts"] for n in PLATFORMS} == {"x": 1, "mastodon": 1, "bluesky": 0}
    assert found["mastodon"]["hashtag"] == "#AskAcmeQA"


def adapters(session: Session, home: Path, clock: ManualClock) -> dict[str, Any]:
    return {
        view.platform: registry.create(
            view.platform,
            view.platform_settings,
            home=home,
            clock=clock,
            account=view.account,
            source=view.platform,
        )
        for view in session.views()
    }


def test_plan_watch_posts_each_announcement_when_due_on_every_platform(
    fakes: Fakes, tmp_path: Path, home: Path
) -> None:
    """`qa plan --watch` (the runner on a manual clock): each announcement goes out on each
    platform at its time, and the questions asked ahead on each are collected."""
    clock = fakes.clock
    start = clock.now() + timedelta(minutes=70)
    session = load_plan(fakes.plan(tmp_path / "sessions.yaml", start)).get("t")
    store = Store.open(home)
    said: list[str] = []
    runner = schedule.AnnouncementRunner(
        session, store, adapters(session, home, clock), say=said.append, clock=clock
    )
    fakes.bluesky.inject("@early.test", "Will there be a recording? #AskAcme")
    fakes.x.inject("@early_x", "Is the API free? #AskAcme")
    runner.watch(poll_seconds=60)
    assert clock.now() >= session.start
    held = fakes.host_texts()
    due = planned_texts(session, ("announcement",))
    for name in PLATFORMS:
        assert held[name] == due[name], name
    for name in ("x", "bluesky"):
        assert any(f"collected 1 new post(s) on #AskAcme on {name}" in s for s in said), said
    asked = {r["platform"]: r["text"] for r in store.posts("t", where="is_question = 1")}
    assert asked == {
        "x": "Is the API free? #AskAcme",
        "bluesky": "Will there be a recording? #AskAcme",
    }


# -- the live session ----------------------------------------------------------------------------

OFFLINE = "When will the mobile app support offline mode? #AskAcme"
ANSWER = "Offline mode ships in the spring release."


def test_one_session_on_the_three_servers(fakes: Fakes, tmp_path: Path, home: Path) -> None:
    clock = fakes.clock
    start = clock.now() + timedelta(minutes=12)
    soon = [
        {"at": "-10m", "text": "Ten minutes to go, {hashtag}"},
        {"at": "-5m", "text": "Five minutes: ask {account} with {hashtag}"},
    ]
    path = fakes.plan(tmp_path / "sessions.yaml", start, announcements=soon)
    session = load_plan(path).get("t")
    store = Store.open(home)
    events: list[dict[str, Any]] = []
    live = LiveSession(
        session,
        store,
        adapters(session, home, clock),
        clock,
        events.append,
        settings=LiveSettings(seed=1, tail=timedelta(minutes=2), refresh_every=30),
    )
    x, mastodon, bluesky = fakes.x, fakes.mastodon, fakes.bluesky

    def until(moment: datetime) -> None:
        while clock.now() < moment and not live.ended:
            clock.advance(max(live.tick(), 0.5))

    until(start + timedelta(minutes=2))
    # the crowd: the same person cross-posting on the three, others on one each
    asked = {
        "x": x.inject("@sam_builds", OFFLINE, likes=21),
        "bluesky": bluesky.inject("@sam.test", OFFLINE, likes=7),
        "mastodon": mastodon.post("sam", OFFLINE)["uri"],
    }
    docs = mastodon.post("lee", "Where are the API docs? #AskAcme")["uri"]
    bluesky.inject("@priya.test", "Is there a student plan? #AskAcme", likes=3)
    x.inject("@olga", "What does a typical day look like for a CTO? #AskAcme", likes=2)
    until(start + timedelta(minutes=4))
    rows = store.posts("t", where="is_question = 1 AND text = ?", params=(OFFLINE,))
    assert sorted(r["platform"] for r in rows) == sorted(PLATFORMS)
    canonical = next(r for r in rows if r["duplicate_of"] is None)
    assert canonical["platform"] == "x"
    # engagement on the merged posts comes after the merge: the rank counts it once refreshed
    status = next(s for s in mastodon.statuses("sam") if s["uri"] == asked["mastodon"])
    for fan in ("fan1", "fan2"):
        mastodon.client(fan).status_favourite(status["id"])
    until(start + timedelta(minutes=6))
    (row,) = [r for r in queue_rows(session, store, clock.now()) if r["post_id"] == asked["x"]]
    assert sorted(row["also_on"]) == ["bluesky", "mastodon"]
    assert (row["likes"], row["likes_elsewhere"]) == (21, 7 + 2)  # Bluesky's and Mastodon's

    # X fails (5xx on every request) from 15 to 25 minutes; the host answers at 16
    until(start + timedelta(minutes=15))
    x.fail(503, times=10**6)
    until(start + timedelta(minutes=16))
    control = Control(session, store, actor="host")
    numbers = {r["post_id"]: r["id"] for r in queue_rows(session, store, clock.now())}
    control.answer(numbers[asked["x"]], AnswerRequest(ANSWER, "dot"))
    control.answer(numbers[docs], AnswerRequest("At docs.acme.example.", "reply"))
    until(start + timedelta(minutes=25))
    x.heal()
    until(start + timedelta(hours=2))
    assert live.ended

    held = fakes.host_texts()
    planned = planned_texts(session, ("announcement", "opening", "closing", "after_party"))
    for name in PLATFORMS:
        counted = Counter(held[name])
        assert all(n == 1 for n in counted.values()), (name, counted)  # nothing twice
        assert all(counted[text] == 1 for text in planned[name]), name  # every planned post
    assert held["mastodon"][2].startswith("Live on Mastodon too")  # its own opening
    # the merged question answered once on each platform where it was asked, each its way
    assert [t for t in held["x"] if ANSWER in t] == [f".@sam_builds {ANSWER} #AskAcme"]
    assert [t for t in held["bluesky"] if ANSWER in t] == [f"@sam.test {ANSWER} #AskAcme"]
    assert [t for t in held["mastodon"] if ANSWER in t] == [f"@sam {ANSWER} #AskAcme"]
    assert [t.retweet_of for t in x.host_tweets() if t.retweet_of] == [asked["x"]]
    reposts = bluesky.host_records("app.bsky.feed.repost")
    assert [r.value["subject"]["uri"] for r in reposts] == [asked["bluesky"]]
    boosts = [s["reblog"]["uri"] for s in mastodon.statuses("acme") if s["reblog"] is not None]
    assert boosts == [asked["mastodon"]]
    replies = [s for s in mastodon.statuses("acme") if s["in_reply_to_id"]]
    assert [status_text(s) for s in replies] == ["@lee At docs.acme.example. #AskAcme"]
    assert not any("docs.acme" in t for t in held["x"] + held["bluesky"])  # not asked there

    # X degraded and back; Mastodon and Bluesky answered during the outage, X after, in order
    degraded = [e["platform"] for e in events if e["event"] == "platform_degraded"]
    recovered = [e["platform"] for e in events if e["event"] == "platform_recovered"]
    assert set(degraded) == {"x"} and recovered[-1:] == ["x"]
    assert x.count(status=503) > 0
    back = start + timedelta(minutes=25)
    answers = {i.platform: i for i in store.outbox("t") if i.kind == "answer"}
    assert datetime.fromisoformat(answers["x"].sent_at or "") >= back
    for name in ("mastodon", "bluesky"):
        assert datetime.fromisoformat(answers[name].sent_at or "") < back, name
    lane = [i for i in store.outbox("t") if i.platform == "x"]
    assert {i.state for i in lane} == {"sent"}
    # the lane drained in the order its posts were asked for: X holds them in that order
    sent = [datetime.fromisoformat(i.sent_at or "") for i in lane]
    assert sent == sorted(sent)
    assert [i.text for i in lane if i.kind != "repost"] == held["x"]

    # the recap: split by platform, X's calls priced (the paid one), the others free
    from qasession.recap import build_recap

    split = build_recap(store, session).by_platform
    assert split is not None
    rows = {r["platform"]: r for r in split["platforms"]}
    assert rows["x"]["spend_usd"] > 0 and rows["x"]["degraded"] >= 1
    assert rows["mastodon"]["spend_usd"] == rows["bluesky"]["spend_usd"] == 0
    assert split["combined"]["spend_usd"] == round(rows["x"]["spend_usd"], 4)
    assert {r["answered"] for r in rows.values()} == {1, 2} and rows["mastodon"]["answered"] == 2
    assert split["combined"]["questions"] == len(queue_rows(session, store, clock.now())) + 2
