"""`fakebook`: a third-party adapter as a plug-in author would write it, over an in-memory
network, registered in tests through the `qasession.platforms` entry point. It is what the
plug-in tests name in a plan, validate and run through the contract test."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from qasession.errors import AuthError, DuplicatePost, NotFound, PlatformError, RateLimited
from qasession.platforms.base import (
    Author,
    Capabilities,
    Media,
    Platform,
    Post,
    PostRef,
    SearchPage,
)


class FakebookSettings(BaseModel):
    """Settings under `fakebook:` in the plan."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(5, ge=1)
    region: Literal["eu", "us"] = "eu"


@dataclass
class Network:
    """The whole fake platform, shared by every adapter of a test."""

    posts: list[Post] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    reposted: set[str] = field(default_factory=set)
    faults: list[str] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, author: str, text: str, **extra: Any) -> str:
        post_id = str(next(self.counter))
        self.posts.append(
            Post(post_id, author, text, datetime.now(UTC), platform="fakebook", **extra)
        )
        return post_id


NETWORK = Network()


class FakebookPlatform(Platform):
    """A plug-in adapter: 100 characters, no quotes, direct messages."""

    name: ClassVar[str] = "fakebook"
    CAPABILITIES: ClassVar[Capabilities] = Capabilities(
        max_length=100, length_method="chars", quote=False, can_lookup_sent=True
    )
    Settings: ClassVar[type[BaseModel]] = FakebookSettings
    settings: FakebookSettings

    def _call(self) -> None:
        if NETWORK.faults:
            fault = NETWORK.faults.pop(0)
            if fault == "auth":
                raise AuthError("fakebook refused the token")
            if fault == "rate":
                raise RateLimited(self.clock.wall_now() + timedelta(seconds=60))
            raise PlatformError(f"fakebook {fault}", retryable=True)

    def me(self) -> str:
        return self.account or "@acme"

    def search(self, hashtag: str, cursor: str | None = None) -> SearchPage:
        self._call()
        after = int(cursor or 0)
        tag = hashtag.lower()
        found = [
            p
            for p in NETWORK.posts
            if int(p.id) > after and tag in p.text.lower() and p.author != self.me()
        ]
        page = found[: self.settings.page]
        last = page[-1].id if page else cursor
        return SearchPage(page, last, len(found) > len(page))

    def _write(self, text: str, key: str | None, **extra: Any) -> PostRef:
        if key is not None and key in NETWORK.keys:
            return PostRef(self.source, NETWORK.keys[key])
        post_id = NETWORK.add(self.me(), text, **extra)
        if key is not None:
            NETWORK.keys[key] = post_id
        return PostRef(self.source, post_id)

    def repost(self, post: PostRef, *, idempotency_key: str | None = None) -> PostRef:
        self._call()
        if post.id in NETWORK.reposted:
            raise DuplicatePost("already reposted", existing_id=post.id)
        if not any(p.id == post.id for p in NETWORK.posts):
            raise NotFound(f"no post {post.id}")
        NETWORK.reposted.add(post.id)
        return self._write("", idempotency_key, kind="repost", ref=post.id)

    def post(
        self,
        text: str,
        *,
        reply_to: PostRef | None = None,
        quote_of: PostRef | None = None,
        media: Sequence[Media] = (),
        idempotency_key: str | None = None,
    ) -> PostRef:
        if quote_of is not None:
            from qasession.errors import Unsupported

            raise Unsupported("fakebook has no quotes")
        self.check_length(text)
        self._call()
        kind = "reply" if reply_to else "post"
        return self._write(text, idempotency_key, kind=kind, ref=reply_to.id if reply_to else None)

    def send_dm(self, to: Author, text: str, *, idempotency_key: str | None = None) -> PostRef:
        self.check_length(text, dm=True)
        self._call()
        return self._write(text, idempotency_key, kind="dm", to=to.handle)

    def find_sent(self, idempotency_key: str) -> PostRef | None:
        found = NETWORK.keys.get(idempotency_key)
        return PostRef(self.source, found) if found else None
