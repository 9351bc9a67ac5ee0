"""The local platform: the adapter contract, sharing between processes, limits and faults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qasession.clock import ManualClock
from qasession.errors import DuplicatePost, NotFound, PlatformError, RateLimited, Unsupported
from qasession.platforms.base import Author, PostRef
from qasession.platforms.local import LocalNetwork, LocalPlatform
from tests.contract import Harness, check_contract, drain
from tests.support.refs import ref, who


def make(home: Path, **settings: object) -> LocalPlatform:
    return LocalPlatform(dict(settings), home=home, account="@acme")


def local_harness(platform: LocalPlatform) -> Harness:
    """The local platform under the contract: faults are made by replacing its call guard
    for one call (the platform's own fault injection is random, for rehearsals)."""
    network = LocalNetwork(platform.home)
    guard = platform._before_call

    def inject(author: str, text: str) -> str:
        return network.add(author=author, text=text, created_at=datetime.now(UTC))

    def fail_next(fault: str) -> bool:
        if fault == "auth":
            return False  # no credentials on the local platform

        def failing(*, search: bool = False) -> None:
            platform._before_call = guard  # type: ignore[method-assign]
            if fault == "rate":
                raise RateLimited(platform.clock.wall_now() + timedelta(seconds=30))
            raise PlatformError(f"{fault} (injected)", retryable=True)

        platform._before_call = failing  # type: ignore[method-assign]
        return True

    return Harness(platform, inject, fail_next, page_size=platform.settings.page_size)


def test_contract(home: Path) -> None:
    check_contract(local_harness(make(home, page_size=7)))


class Boasting(LocalPlatform):
    """Says it has no quotes, and quotes anyway: the contract must catch it."""

    CAPABILITIES = replace(LocalPlatform.CAPABILITIES, quote=False)


class Failing(LocalPlatform):
    """Says it sends direct messages, and cannot."""

    def send_dm(self, to: Author, text: str, *, idempotency_key: str | None = None) -> PostRef:
        raise Unsupported("no direct messages here")


class ForgetfulCounter(LocalPlatform):
    """Counts every text as shorter than it is: posts past the limit are not refused."""

    def length(self, text: str) -> int:
        return min(len(text), self.capabilities.max_length)

    def check_length(self, text: str, *, dm: bool = False) -> None:
        return None


@pytest.mark.parametrize("liar", [Boasting, Failing, ForgetfulCounter])
def test_the_contract_catches_an_adapter_that_declares_what_it_does_not_do(
    home: Path, liar: type[LocalPlatform]
) -> None:
    platform = liar({"page_size": 7}, home=home, account="@acme")
    with pytest.raises((AssertionError, pytest.fail.Exception, Unsupported)):
        check_contract(local_harness(platform))


def test_two_connections_see_one_network(home: Path) -> None:
    a, b = LocalNetwork(home), LocalNetwork(home)
    post_id = a.add(author="alice", text="hi #AskAcme", created_at=datetime.now(UTC))
    assert b.get(post_id).author == "@alice"
    assert [p.id for p in b.timeline()] == [post_id]


def test_search_pages_and_cursor(home: Path) -> None:
    network = LocalNetwork(home)
    for i in range(25):
        network.add(author=f"@u{i}", text=f"q{i}? #AskAcme", created_at=datetime.now(UTC))
    platform = make(home, page_size=10)
    page = platform.search("#AskAcme")
    assert len(page.posts) == 10 and page.more
    posts, cursor = drain(platform, "#AskAcme", page.cursor)
    assert len(posts) == 15
    assert platform.counters.search_requests == 3
    assert cursor == "25"


def test_hashtag_must_match_whole_tag(home: Path) -> None:
    network = LocalNetwork(home)
    network.add(author="@a", text="#AskAcmeLater is different", created_at=datetime.now(UTC))
    keep = network.add(author="@b", text="yes #ASKACME!", created_at=datetime.now(UTC))
    assert [p.id for p in make(home).search("#AskAcme").posts] == [keep]


def test_direct_messages_are_not_searchable(home: Path) -> None:
    platform = make(home)
    platform.send_dm(who("@alice"), "secret #AskAcme")
    assert platform.search("#AskAcme").posts == []
    assert LocalNetwork(home).timeline()[0].kind == "dm"


def test_repost_counts_and_refusal(home: Path) -> None:
    network = LocalNetwork(home)
    original = network.add(author="@a", text="q? #AskAcme", created_at=datetime.now(UTC))
    platform = make(home)
    repost_id = platform.repost(ref(original))
    assert network.get(original).reposts == 1
    with pytest.raises(DuplicatePost) as exc:
        platform.repost(ref(original))
    assert exc.value.existing_id == repost_id.id
    with pytest.raises(NotFound):
        platform.repost(ref("9999"))


def test_length_limit_counts_like_x(home: Path) -> None:
    platform = make(home, max_length=20)
    with pytest.raises(PlatformError, match="too long"):
        platform.post("x" * 21)
    assert platform.post("日本語" * 3)  # 3 CJK characters count 2 each: 18
    with pytest.raises(PlatformError):
        platform.post("日本語" * 4)  # 24


def test_idempotency_key_and_find_sent(home: Path) -> None:
    platform = make(home)
    first = platform.post("hello", idempotency_key="k1")
    assert platform.post("hello", idempotency_key="k1") == first
    assert platform.find_sent("k1") == first
    assert platform.find_sent("k2") is None


def test_likes_once_per_handle(home: Path) -> None:
    network = LocalNetwork(home)
    post_id = network.add(author="@a", text="q", created_at=datetime.now(UTC))
    assert network.like(post_id, "@b") == 1
    assert network.like(post_id, "@b") == 1
    assert network.like(post_id, "@c") == 2


def test_rate_limit_budget(home: Path) -> None:
    clock = ManualClock(datetime(2026, 12, 3, 17, 0, tzinfo=UTC))
    platform = LocalPlatform({"rate_limit": 3, "rate_window": 60}, home=home, clock=clock)
    for _ in range(3):
        platform.search("#AskAcme")
    budget = platform.rate_budget()
    assert budget is not None and budget.remaining == 0
    with pytest.raises(RateLimited) as exc:
        platform.search("#AskAcme")
    assert exc.value.reset_at == clock.now() + timedelta(seconds=60)
    clock.advance(61)
    platform.search("#AskAcme")


def test_fault_injection_is_seeded(home: Path) -> None:
    def failures(seed: int) -> list[str]:
        platform = LocalPlatform({"fault_rate": 0.5, "fault_seed": seed}, home=home)
        seen = []
        for _ in range(20):
            try:
                platform.search("#AskAcme")
                seen.append("ok")
            except RateLimited:
                seen.append("429")
                platform._blocked_until = None
            except PlatformError:
                seen.append("err")
        return seen

    assert failures(7) == failures(7)
    assert {"ok", "429", "err"} <= set(failures(7) + failures(8))


def test_shared_virtual_clock(home: Path) -> None:
    from qasession.clock import VirtualClock

    network = LocalNetwork(home)
    start = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    network.set_clock(VirtualClock(start, datetime.now(UTC), 60))
    other = LocalNetwork(home).clock().now()
    assert start <= other < start + timedelta(minutes=5)
    network.set_clock(None)
    assert abs(LocalNetwork(home).clock().now() - datetime.now(UTC)) < timedelta(seconds=5)
