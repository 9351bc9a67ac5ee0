"""The adapter contract, one test body every platform adapter runs (local, x, mastodon, bluesky,
and any plug-in): what an adapter declares it can do, it does; what it declares it cannot, it
refuses with `Unsupported`; lengths are refused at the limit; writes are idempotent; errors
map to the typed ones; reading pages until caught up, each page oldest first, without the
host's posts.

Each adapter's tests give a `Harness`: the adapter under test plus the few things only the
platform's fake can do (put someone else's post on it, make the next call fail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pytest

from qasession.errors import (
    AuthError,
    DuplicatePost,
    PlatformError,
    RateLimited,
    ReplyRestricted,
    TooLong,
    Unsupported,
)
from qasession.platforms.base import Author, Platform, Post, PostRef

Fault = Literal["auth", "rate", "5xx", "timeout"]


@dataclass
class Harness:
    """An adapter under test and its platform's controls.

    - `inject(author, text)` puts a post from someone else on the platform; returns its id as
      the adapter's search will give it;
    - `fail_next(fault)` makes the adapter's next call fail that way (or returns False when
      the fake cannot);
    - `page_size` is how many posts one search request returns at most (the contract injects
      more to check pagination);
    - `recipient` is someone who accepts direct messages.
    """

    platform: Platform
    inject: Callable[[str, str], str]
    fail_next: Callable[[Fault], bool]
    page_size: int
    recipient: Author = field(default_factory=lambda: Author("@alice", "@alice"))


def drain(platform: Platform, hashtag: str, cursor: str | None) -> tuple[list[Post], str | None]:
    """Read until caught up (at most 50 requests), as the loop does."""
    posts: list[Post] = []
    for _ in range(50):
        page = platform.search(hashtag, cursor)
        posts.extend(page.posts)
        cursor = page.cursor
        if not page.more:
            return posts, cursor
    raise AssertionError("the search never said it was caught up")


def check_contract(h: Harness) -> None:
    """Every clause of the contract, in the order a session meets them."""
    me = check_identity(h)
    cursor = check_reading(h, me)
    first, third = check_paging(h, me, cursor)
    check_lengths(h)
    check_capabilities(h, first, third)
    check_idempotency(h)
    check_errors(h)


def check_identity(h: Harness) -> str:
    me = h.platform.me()
    assert me.startswith("@"), f"me() must give a handle with @, not {me!r}"
    return me


def check_reading(h: Harness, me: str) -> str | None:
    platform = h.platform
    first = h.inject("@alice", "How do I start? #AskAcme")
    h.inject("@bob", "unrelated post #Other")
    second = h.inject("@carol", "lower case tag works? #askacme")
    posts, cursor = drain(platform, "#AskAcme", None)
    ids = [p.id for p in posts]
    assert first in ids and second in ids, "the hashtag is found in any case"
    assert ids.index(first) < ids.index(second), "posts come oldest first"
    assert len(ids) == len(set(ids)), "each post once"
    assert all("#askacme" in p.text.lower() for p in posts)
    for post in posts:
        assert post.platform == platform.source, "posts carry the source they were read from"
        assert isinstance(post.created_at, datetime) and post.created_at.tzinfo is not None
        assert post.likes >= 0 and post.reposts >= 0
    alice = next(p for p in posts if p.id == first)
    assert alice.author == "@alice" and alice.kind == "post"
    own = h.platform.post("our own post #AskAcme")
    newer, cursor = drain(platform, "#AskAcme", cursor)
    assert own.id not in [p.id for p in newer], "the host's own posts are left out"
    assert all(p.author.lower() != me.lower() for p in newer)
    return cursor


def check_paging(h: Harness, me: str, cursor: str | None) -> tuple[str, str]:
    """More posts than a page: every one read once, oldest first, then caught up."""
    platform = h.platform
    injected = [h.inject(f"@fan{i}", f"Question {i}? #AskAcme") for i in range(h.page_size + 3)]
    pages: list[list[Post]] = []
    for _ in range(50):
        page = platform.search("#AskAcme", cursor)
        pages.append(page.posts)
        cursor = page.cursor
        if not page.more:
            break
    assert len(pages) > 1, "more posts than a page take more than one request"
    for posts in pages:  # X pages back in time: each page is in order, not the pass
        times = [(p.created_at, int(p.id) if p.id.isdigit() else 0) for p in posts]
        assert times == sorted(times), "a page comes oldest first"
    got = [p.id for posts in pages for p in posts]
    assert sorted(got) == sorted(injected) and len(got) == len(set(got)), "every post once"
    again, _ = drain(platform, "#AskAcme", cursor)
    assert again == [], "caught up: nothing new"
    return injected[0], injected[1]


def check_lengths(h: Harness) -> None:
    caps = h.platform.capabilities
    fits = "a" * caps.max_length
    assert h.platform.length(fits) == caps.max_length
    with pytest.raises(TooLong):
        h.platform.post(fits + "a")
    assert h.platform.post(fits), "a post of exactly the limit goes out"


def _raises_unsupported(call: Callable[[], object], what: str) -> None:
    with pytest.raises(Unsupported):
        call()
        raise AssertionError(f"declares no {what}, but did it")


def check_capabilities(h: Harness, question: str, other: str) -> None:
    """Each declared capability works; each one declared missing raises Unsupported."""
    platform, caps = h.platform, h.platform.capabilities
    q = PostRef(platform.source, question)
    if caps.repost:
        assert platform.repost(q).id
        with pytest.raises(DuplicatePost):
            platform.repost(q)
    else:
        _raises_unsupported(lambda: platform.repost(q), "repost")
    target = PostRef(platform.source, other)
    if caps.reply:
        if caps.reply_needs_mention:
            with pytest.raises(ReplyRestricted):  # the asker did not mention the host
                platform.post("An answer #AskAcme", reply_to=target)
            mentioned = h.inject("@dave", f"{platform.me()} does this mention you? #AskAcme")
            target = PostRef(platform.source, mentioned)
        reply = platform.post("An answer #AskAcme", reply_to=target)
        assert reply.id and reply.platform == platform.source
    else:
        _raises_unsupported(lambda: platform.post("An answer", reply_to=target), "reply")
    if caps.quote:
        assert platform.post("Quoted #AskAcme", quote_of=q).id
    else:
        _raises_unsupported(lambda: platform.post("Quoted", quote_of=q), "quote")
    if caps.dm:
        assert platform.send_dm(h.recipient, "Hello privately").id
    else:
        _raises_unsupported(lambda: platform.send_dm(h.recipient, "Hello"), "direct message")


def check_idempotency(h: Harness) -> None:
    """A retried write under the same key never posts twice; a platform that says it can be
    asked what was sent answers by key."""
    platform = h.platform
    key = f"contract:{datetime.now(UTC).timestamp()}"
    sent = platform.post("Idempotent #AskAcme", idempotency_key=key)
    if platform.capabilities.can_lookup_sent:
        found = platform.find_sent(key)
        assert found is not None and found.id == sent.id, "find_sent knows what was sent"
        assert platform.find_sent(key + ":never") is None
    else:
        with pytest.raises(Unsupported):
            platform.find_sent(key)
    try:
        again = platform.post("Idempotent #AskAcme", idempotency_key=key)
    except DuplicatePost:
        return  # refused as a duplicate: counts as sent
    assert again.id == sent.id, "the same key gives the same post, not a second one"


def check_errors(h: Harness) -> None:
    """The platform's failures arrive as the typed errors the loop schedules around."""
    platform = h.platform
    if h.fail_next("auth"):
        with pytest.raises(AuthError):
            platform.search("#AskAcme", None)
    if h.fail_next("rate"):
        with pytest.raises(RateLimited) as limited:
            platform.search("#AskAcme", None)
        reset = limited.value.reset_at
        assert reset.tzinfo is not None and reset > platform.clock.wall_now()
    for fault in ("5xx", "timeout"):
        if h.fail_next(fault):  # type: ignore[arg-type]
            with pytest.raises(PlatformError) as failed:
                platform.post(f"after a {fault} #AskAcme")
            assert failed.value.retryable, f"a {fault} is retryable"
