"""The adapter contract, as one test body every platform adapter runs (local, x via its fake)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from qasession.errors import DuplicatePost, ReplyRestricted
from qasession.platforms.base import Platform, Post
from tests.support.refs import ref, who

# inject(author, text) -> id: puts a post from someone else on the platform
Inject = Callable[[str, str], str]


def drain(platform: Platform, hashtag: str, cursor: str | None) -> tuple[list[Post], str | None]:
    posts: list[Post] = []
    for _ in range(50):
        page = platform.search(hashtag, cursor)
        posts.extend(page.posts)
        cursor = page.cursor
        if not page.more:
            break
    return posts, cursor


def check_contract(platform: Platform, inject: Inject) -> None:
    me = platform.me()
    assert me.startswith("@")

    first = inject("@alice", "How do I start? #AskAcme")
    inject("@bob", "unrelated post #Other")
    second = inject("@carol", "lower case tag works? #askacme")
    posts, cursor = drain(platform, "#AskAcme", None)
    ids = [p.id for p in posts]
    assert first in ids and second in ids
    assert all("#askacme" in p.text.lower() for p in posts)
    by_id = {p.id: p for p in posts}
    alice = by_id[first]
    assert alice.author == "@alice"
    assert isinstance(alice.created_at, datetime) and alice.created_at.tzinfo is not None
    assert alice.kind == "post" and alice.likes >= 0 and alice.reposts >= 0

    # the cursor returns only what is newer
    third = inject("@dave", f"Newer question for {me}? #AskAcme")
    newer, cursor = drain(platform, "#AskAcme", cursor)
    assert [p.id for p in newer if p.author != me] == [third]
    again, _ = drain(platform, "#AskAcme", cursor)
    assert [p for p in again if p.author != me] == []

    # writing: repost once, then refused; a post, a reply, a quote, a DM
    platform.repost(ref(first))
    with pytest.raises(DuplicatePost):
        platform.repost(ref(first))
    assert platform.post("Hello #AskAcme")
    assert platform.post("An answer #AskAcme", reply_to=ref(third))
    if platform.capabilities.reply_needs_mention:
        with pytest.raises(ReplyRestricted):
            platform.post("An answer #AskAcme", reply_to=ref(first))
    assert platform.post("Quoted #AskAcme", quote_of=ref(third))
    assert platform.send_dm(who("@alice"), "Hello privately")
