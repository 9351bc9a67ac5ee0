"""The outbox rule: intent before send, id after; reconciled after a crash, never re-sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qasession.clock import ManualClock
from qasession.compose import AnswerSpec, Question, compose_answer
from qasession.errors import PlatformError, RateLimited, ReplyRestricted
from qasession.platforms.base import Capabilities
from qasession.platforms.local import LocalNetwork, LocalPlatform
from qasession.session.outbox import Outbox
from qasession.store import OutboxItem, Store
from tests.support.refs import ref

T0 = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("engine")  # each test on SQLite and on PostgreSQL


@pytest.fixture
def world(home: Path) -> tuple[Store, LocalPlatform, ManualClock, LocalNetwork]:
    clock = ManualClock(T0)
    store = Store.open(home)
    store.ensure_session("s", "#AskAcme", "local")
    platform = LocalPlatform({}, home=home, clock=clock, account="@acme")
    return store, platform, clock, LocalNetwork(home)


def answer_steps(question_id: str, mode: str = "dot", op: str = "s:answer:1") -> list[OutboxItem]:
    steps, _ = compose_answer(
        AnswerSpec(op, Question(question_id, "@alice", "How? #AskAcme"), "Like this", mode),
        hashtag="#AskAcme",
        host="@acme",
        capabilities=Capabilities(max_length=280, length_method="chars"),
    )
    return steps


def test_repost_then_answer_once(
    world: tuple[Store, LocalPlatform, ManualClock, LocalNetwork],
) -> None:
    store, platform, clock, network = world
    q = network.add(author="@alice", text="How? #AskAcme", created_at=T0)
    store.add_intents("s", answer_steps(q))
    outbox = Outbox(store, platform, "s", clock)
    sent = outbox.flush().sent
    assert [i.kind for i in sent] == ["repost", "answer"]
    assert outbox.flush().sent == []
    store.add_intents("s", answer_steps(q))  # the same op again: nothing new
    assert outbox.flush().sent == []
    mine = [p for p in network.timeline() if p.author == "@acme"]
    assert [p.kind for p in mine] == ["repost", "post"]
    assert mine[0].ref == q
    assert mine[1].text == ".@alice Like this #AskAcme"


def test_crash_after_send_is_reconciled_not_resent(
    world: tuple[Store, LocalPlatform, ManualClock, LocalNetwork],
) -> None:
    store, platform, clock, network = world
    q = network.add(author="@alice", text="How? #AskAcme", created_at=T0)
    repost, _answer = store.add_intents("s", answer_steps(q))
    # a crash after the repost went out but before it was marked sent
    assert store.mark_sending(repost.id)
    platform.repost(ref(q), idempotency_key=repost.key)
    fresh = Outbox(store, platform, "s", clock)
    fresh.reconcile_all()
    assert store.outbox_item(repost.key).state == "sent"  # type: ignore[union-attr]
    fresh.flush()
    kinds = [p.kind for p in network.timeline() if p.author == "@acme"]
    assert kinds == ["repost", "post"]


def test_crash_before_send_sends_once(
    world: tuple[Store, LocalPlatform, ManualClock, LocalNetwork],
) -> None:
    store, platform, clock, network = world
    item = store.add_intents("s", [OutboxItem(key="s:opening", kind="opening", text="Live!")])[0]
    assert store.mark_sending(item.id)  # claimed, then the process died before the call
    outbox = Outbox(store, platform, "s", clock)
    outbox.reconcile_all()
    assert store.outbox_item("s:opening").state == "intent"  # type: ignore[union-attr]
    assert len(outbox.flush().sent) == 1
    assert [p.text for p in network.timeline()] == ["Live!"]


def test_rate_limit_puts_back_and_waits(
    world: tuple[Store, LocalPlatform, ManualClock, LocalNetwork],
) -> None:
    store, platform, clock, _network = world
    store.add_intents("s", [OutboxItem(key="s:a", kind="opening", text="A")])
    calls = []

    def limited(*args: object, **kwargs: object) -> str:
        calls.append(1)
        raise RateLimited(clock.now() + timedelta(seconds=30))

    original = platform.post
    platform.post = limited  # type: ignore[method-assign]
    result = Outbox(store, platform, "s", clock).flush()
    assert result.waiting_until == T0 + timedelta(seconds=30)
    assert store.outbox_item("s:a").state == "intent"  # type: ignore[union-attr]
    platform.post = original  # type: ignore[method-assign]
    assert Outbox(store, platform, "s", clock).flush().sent == []  # not before the reset
    clock.advance(31)
    assert len(Outbox(store, platform, "s", clock).flush().sent) == 1
    assert len(calls) == 1


def test_lost_answer_is_reconciled(
    world: tuple[Store, LocalPlatform, ManualClock, LocalNetwork],
) -> None:
    store, platform, clock, network = world
    store.add_intents("s", [OutboxItem(key="s:a", kind="opening", text="A")])
    original = platform.post

    def sent_but_timed_out(text: str, **kwargs: object) -> str:
        original(text, **kwargs)  # type: ignore[arg-type]
        raise PlatformError("timed out", retryable=True)

    platform.post = sent_but_timed_out  # type: ignore[method-assign]
    outbox = Outbox(store, platform, "s", clock, seed=1)
    assert outbox.flush().sent == []
    assert store.outbox_item("s:a").state == "sending"  # type: ignore[union-attr]
    clock.advance(600)
    outbox.flush()
    assert store.outbox_item("s:a").state == "sent"  # type: ignore[union-attr]
    assert [p.text for p in network.timeline()] == ["A"]


def test_permanent_failure_is_reported(
    world: tuple[Store, LocalPlatform, ManualClock, LocalNetwork],
) -> None:
    store, platform, clock, _network = world
    events: list[dict[str, object]] = []
    store.add_intents("s", [OutboxItem(key="s:a", kind="opening", text="x" * 400)])
    Outbox(store, platform, "s", clock, events.append).flush()
    row = store.outbox_item("s:a")
    assert row is not None and row.state == "failed" and "too long" in (row.error or "")
    assert events and events[0]["event"] == "warning"


def test_reply_restricted_falls_back_to_dot(
    world: tuple[Store, LocalPlatform, ManualClock, LocalNetwork],
) -> None:
    store, platform, clock, network = world
    q = network.add(author="@alice", text="How? #AskAcme", created_at=T0)
    store.save_page("s", [], None, seen_at=T0)
    from qasession.platforms.base import Post
    from qasession.store.db import PostRecord

    store.save_page(
        "s", [PostRecord(Post(q, "@alice", "How? #AskAcme", T0), "queued", True)], None, seen_at=T0
    )
    store.add_intents("s", answer_steps(q, mode="reply"))
    original = platform.post

    def restricted(text: str, **kwargs: object) -> str:
        if kwargs.get("reply_to"):
            raise ReplyRestricted("replies to this post are limited")
        return original(text, **kwargs)  # type: ignore[arg-type]

    platform.post = restricted  # type: ignore[method-assign]
    events: list[dict[str, object]] = []
    outbox = Outbox(store, platform, "s", clock, events.append)
    outbox.flush()
    outbox.flush()
    mine = [p for p in network.timeline() if p.author == "@acme"]
    assert [p.kind for p in mine] == ["repost", "post"]
    assert mine[1].text.startswith(".@alice ")
    assert any(e["event"] == "warning" for e in events)


def test_platform_that_cannot_be_asked_waits_for_the_operator(
    world: tuple[Store, LocalPlatform, ManualClock, LocalNetwork], tmp_path: Path
) -> None:
    from dataclasses import replace

    from qasession.session.outbox import settle
    from tests.conftest import qa, write_plan

    store, platform, clock, network = world
    blind = LocalPlatform({}, home=platform.home, clock=clock, account="@acme")
    blind.capabilities = replace(LocalPlatform.CAPABILITIES, can_lookup_sent=False)
    item = store.add_intents("s", [OutboxItem(key="s:opening", kind="opening", text="Live!")])[0]
    assert store.mark_sending(item.id)  # a crash, somewhere around the call
    events: list[dict[str, object]] = []
    outbox = Outbox(store, blind, "s", clock, events.append)
    outbox.reconcile_all()
    assert store.outbox_item("s:opening").state == "uncertain"  # type: ignore[union-attr]
    assert outbox.flush().sent == []  # never resent on a guess
    assert network.timeline() == []
    assert "qa outbox confirm" in str(store.outbox_item("s:opening").error)  # type: ignore[union-attr]

    plan = write_plan(tmp_path / "p.yaml", id="s")
    listed = qa("outbox", "--json", "--state", "uncertain", "-f", str(plan))
    assert [row["key"] for row in __import__("json").loads(listed.stdout)] == ["s:opening"]
    resent = qa("outbox", "resend", "s:opening", "-f", str(plan))
    assert resent.returncode == 0, resent.stderr
    assert len(Outbox(store, blind, "s", clock).flush().sent) == 1
    assert [p.text for p in network.timeline()] == ["Live!"]
    again = qa("outbox", "confirm", "s:opening", "-f", str(plan))
    assert again.returncode == 2 and "only uncertain or failed" in again.stderr

    other = store.add_intents("s", [OutboxItem(key="s:closing", kind="closing", text="Bye")])[0]
    store.mark_state(other.id, "uncertain")
    from qasession.plan import load_plan

    settle(store, load_plan(plan).get("s"), "s:closing", sent=True, platform_id="99")
    assert store.outbox_item("s:closing").platform_id == "99"  # type: ignore[union-attr]
    assert Outbox(store, blind, "s", clock).flush().sent == []
