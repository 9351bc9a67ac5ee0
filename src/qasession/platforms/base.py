"""The adapter contract every platform implements: posts, capabilities, calls and errors.

The live loop and the outbox only talk to a `Platform`; they never look at its name. What a
platform can do is declared on the class (`capabilities`), its plan settings are a Pydantic
model (`Settings`, unknown keys refused), and throttling is reported, not slept on: adapters
raise `RateLimited(reset_at)` and expose their remaining budget through `rate_budget()`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from qasession.clock import Clock, SystemClock
from qasession.text.length import LengthMethod, count_length

PostKind = Literal["post", "repost", "reply", "quote", "dm"]


@dataclass(slots=True)
class Post:
    """One post as every adapter returns it. Its text is untrusted."""

    id: str
    author: str  # handle with a leading "@"
    text: str
    created_at: datetime  # timezone-aware, UTC
    kind: PostKind = "post"
    ref: str | None = None  # the post reposted, replied to or quoted
    likes: int = 0
    reposts: int = 0
    to: str | None = None  # recipient handle of a direct message
    lang: str | None = None
    url: str | None = None
    media: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "kind": self.kind,
            "ref": self.ref,
            "likes": self.likes,
            "reposts": self.reposts,
            "to": self.to,
            "lang": self.lang,
            "url": self.url,
            "media": list(self.media),
        }


class SearchPage(NamedTuple):
    """One search request's answer: posts oldest first, the cursor to pass next, and whether
    more pages are waiting (`more`) before the search is caught up."""

    posts: list[Post]
    cursor: str | None
    more: bool = False


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform can do; the loop asks these, never the platform's name."""

    repost: bool = True
    reply: bool = True
    quote: bool = True
    dm: bool = True
    media: bool = True
    max_length: int = 280
    length_method: LengthMethod = "x"
    # Replies are only allowed to posts that mention the host (X since 2026-02).
    reply_needs_mention: bool = False
    # The platform can be asked whether an intent was already sent (outbox reconciliation).
    can_lookup_sent: bool = False
    # Prices per call, in USD, on paid platforms (0 on free ones).
    paid: bool = False


@dataclass(slots=True)
class RateBudget:
    """Remaining calls of the tightest rate window that applies to searching."""

    remaining: int
    limit: int
    reset_at: datetime


@dataclass(slots=True)
class CallCounters:
    """What the adapter did, for the cost estimate and the recap."""

    search_requests: int = 0
    posts_read: int = 0
    posts_created: int = 0
    posts_created_with_url: int = 0
    reposts: int = 0
    dms: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def add(self, stored: dict[str, Any]) -> None:
        """Add counts kept from an earlier process of the same session."""
        for name in self.__dataclass_fields__:
            value = stored.get(name)
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)


class NoSettings(BaseModel):
    """A platform with no settings of its own refuses any key under its name."""

    model_config = ConfigDict(extra="forbid")


class Platform(abc.ABC):
    """One social platform, as the tool sees it.

    Every method may raise `AuthError` (credentials refused), `RateLimited` (throttled; retry
    after `reset_at`), `PlatformError` (with `retryable` for 5xx and time-outs) and, for
    writes, `DuplicatePost` (the platform already has this post: treat it as sent).
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    Settings: ClassVar[type[BaseModel]] = NoSettings

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        *,
        home: Path,
        clock: Clock | None = None,
        account: str | None = None,
    ) -> None:
        self.settings = self.Settings.model_validate(settings or {})
        self.home = home
        self.clock: Clock = clock or SystemClock()
        self.account = account
        self.counters = CallCounters()

    # -- identity and reading -------------------------------------------------------------

    @abc.abstractmethod
    def me(self) -> str:
        """The handle (with "@") of the account the credentials belong to."""

    @abc.abstractmethod
    def search(self, hashtag: str, cursor: str | None = None) -> SearchPage:
        """One request for posts carrying `hashtag` (with "#", any case) newer than `cursor`.

        Posts come oldest first; the host's own posts and plain reposts may be left out.
        Pass the returned cursor back to continue; `more` says another page is waiting.
        """

    def rate_budget(self) -> RateBudget | None:
        """The search budget left in the current rate window, when the platform says."""
        return None

    # -- writing -------------------------------------------------------------------------

    def lookup(self, ids: Sequence[str]) -> list[Post]:
        """Current state (like and repost counts) of posts by id; platforms that cannot do it
        cheaply return nothing."""
        return []

    @abc.abstractmethod
    def repost(self, post_id: str, *, idempotency_key: str | None = None) -> str:
        """Repost `post_id`; returns the repost's id. A second repost of one post is refused
        with `DuplicatePost`."""

    @abc.abstractmethod
    def post(
        self,
        text: str,
        *,
        reply_to: str | None = None,
        quote_of: str | None = None,
        media: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Publish a post (or a reply, or a quote); returns its id."""

    @abc.abstractmethod
    def send_dm(self, handle: str, text: str, *, idempotency_key: str | None = None) -> str:
        """Send a direct message to `handle`; returns its id."""

    def find_sent(self, idempotency_key: str) -> str | None:
        """The id of what this account already sent under `idempotency_key`, if the platform
        can tell (see `capabilities.can_lookup_sent`); None when it was not sent."""
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------

    @property
    def max_length(self) -> int:
        """The longest post this platform accepts, counted by `length()`."""
        return self.capabilities.max_length

    def length(self, text: str) -> int:
        """The length of `text` as this platform counts it."""
        return count_length(text, self.capabilities.length_method)

    # -- cost (paid platforms) -----------------------------------------------------------

    def spend(self) -> float:
        """USD spent so far, from the counters (0 on free platforms)."""
        return 0.0

    def over_budget_ratio(self) -> float | None:
        """Share of the session's budget spent, or None without a budget."""
        return None

    @classmethod
    def estimate_cost(
        cls,
        settings: dict[str, Any] | None,
        *,
        posts_to_create: int,
        with_url: int = 0,
    ) -> dict[str, Any] | None:
        """What a session should cost before it runs (None on free platforms)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""
