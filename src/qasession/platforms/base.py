"""The adapter contract every platform implements: posts, capabilities, calls and errors.

The live loop and the outbox only talk to a `Platform`; they never look at its name. What a
platform can do is declared on the class (`capabilities`), its plan settings are a Pydantic
model (`Settings`, unknown keys refused), and throttling is reported, not slept on: adapters
raise `RateLimited(reset_at)` and expose their remaining budget through `rate_budget()`.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from qasession.clock import Clock, SystemClock
from qasession.errors import TooLong, Unsupported
from qasession.text.length import LengthMethod, count_length, upper_bound

PostKind = Literal["post", "repost", "reply", "quote", "dm"]


@dataclass(slots=True)
class PostRef:
    """What a platform needs to act on one post: its id there, and whatever else it asks for
    (a Bluesky CID and thread root, the id a Mastodon instance gives a post from elsewhere).
    The core stores `extra` and hands it back; only the adapter reads it."""

    platform: str  # the source the post was read from ("local", "x", "mastodon", "local:x")
    id: str
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"platform": self.platform, "id": self.id, "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PostRef:
        return cls(str(data["platform"]), str(data["id"]), dict(data.get("extra") or {}))


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a post: a stable id on the platform (X's user id, a Bluesky DID, a Mastodon
    account URI; the handle where the platform has nothing better) and the display handle."""

    id: str
    handle: str  # with a leading "@": "@alice", "@alice@acme.social", "@alice.bsky.social"


@dataclass(slots=True)
class Post:
    """One post as every adapter returns it. Its text is untrusted."""

    id: str
    author: str  # display handle with a leading "@"
    text: str
    created_at: datetime  # timezone-aware, UTC
    kind: PostKind = "post"
    ref: str | None = None  # the id of the post reposted, replied to or quoted
    likes: int = 0
    reposts: int = 0
    to: str | None = None  # recipient handle of a direct message
    lang: str | None = None
    url: str | None = None
    media: list[str] = field(default_factory=list)
    platform: str = ""  # the source it was read from; set by the adapter
    author_id: str | None = None  # stable id of the author (None: the handle is the id)
    extra: dict[str, str] = field(default_factory=dict)  # see PostRef.extra

    @property
    def post_ref(self) -> PostRef:
        return PostRef(self.platform, self.id, dict(self.extra))

    @property
    def author_ref(self) -> Author:
        return Author(self.author_id or self.author, self.author)

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
            "platform": self.platform,
            "author_id": self.author_id,
        }


class SearchPage(NamedTuple):
    """One search request's answer: posts oldest first, the cursor to pass next, whether
    more pages are waiting (`more`) before the search is caught up, and what the operator
    should hear about the reading (`warnings`: a source that failed while the others were
    read, one that works again)."""

    posts: list[Post]
    cursor: str | None
    more: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a connected platform can do, and how it counts; the loop, `qa answer`, the
    terminal UI and the plan's lints ask these, never the platform's name."""

    repost: bool = True
    reply: bool = True
    quote: bool = True
    dm: bool = True
    media: bool = True
    max_length: int = 280
    length_method: LengthMethod = "x"
    max_bytes: int | None = None  # a limit in UTF-8 bytes besides max_length (Bluesky: 3000)
    dm_max_length: int = 10_000
    # Replies are only allowed to posts that mention the host (X since 2026-02).
    reply_needs_mention: bool = False
    # A post that starts with "@user" is hidden from most followers (X): answers start with
    # ".@user" instead. Where it is not (Mastodon, Bluesky), the mention leads.
    leading_mention_hidden: bool = True
    # The platform can be asked whether an intent was already sent (outbox reconciliation).
    can_lookup_sent: bool = False
    # Looking up a post's metrics is billed (a paid read): the loop does not refresh them.
    lookups_billed: bool = False
    # Its readers expect hashtags in CamelCase (#AskAcme, not #askacme): screen readers read
    # the words of a CamelCase tag and spell out a run of lower-case letters (Mastodon).
    camelcase_hashtags: bool = False
    # A reply notifies the author of the post it answers by itself (X, Bluesky); where only a
    # mention notifies (Mastodon), a reply that does not name the asker leads with its mention.
    reply_notifies: bool = True
    # A post that mentions the host notifies it where the hashtag search lags (Bluesky):
    # the lints ask announcements to invite a mention of the host.
    mentions_notify: bool = False

    def length(self, text: str) -> int:
        """The length of `text` as this platform counts it."""
        return count_length(text, self.length_method)

    def too_long(self, text: str) -> str | None:
        """Why `text` does not fit ("312 > 280 characters"), or None when it does."""
        over_bytes = (
            self.max_bytes is not None and len(text.encode("utf-8", "replace")) > self.max_bytes
        )
        if not over_bytes and upper_bound(text, self.length_method) <= self.max_length:
            return None  # fits whatever the exact count, which is slow for X's weighting
        size = self.length(text)
        if size > self.max_length:
            return f"{size} > {self.max_length} characters"
        if self.max_bytes is not None and len(text.encode("utf-8", "replace")) > self.max_bytes:
            return f"{len(text.encode('utf-8', 'replace'))} > {self.max_bytes} bytes"
        return None


class SearchLimits(NamedTuple):
    """How reading a hashtag is metered, as the plan's settings give it before connecting
    (for `qa plan`'s estimate of search requests): posts per search request, the search rate
    limit (`rate_calls` per `rate_window` seconds; None when the adapter knows of none),
    search requests per poll (a second endpoint read each time), and the posts the plan
    expects on the hashtag when it says."""

    page_size: int = 100
    rate_calls: int | None = None
    rate_window: float | None = None
    requests_per_poll: int = 1
    expected_posts: int | None = None


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


@runtime_checkable
class Billing(Protocol):
    """What a paid platform adds (X): spend from the counters, a budget, a cost estimate.
    The loop, `qa plan`, the recap and the comms ask `isinstance(adapter, Billing)` (or
    `billing_of(cls)`), never a platform's name."""

    def spend(self) -> float:
        """USD spent so far, from the counters."""
        ...

    def over_budget_ratio(self) -> float | None:
        """Share of the session's budget spent, or None without a budget."""
        ...

    @classmethod
    def estimate_cost(
        cls, settings: dict[str, Any] | None, *, posts_to_create: int, with_url: int = 0
    ) -> dict[str, Any]:
        """What a session should cost before it runs."""
        ...

    @classmethod
    def spend_of(cls, settings: dict[str, Any] | None, counters: dict[str, Any]) -> float:
        """USD that `counters` (stored by an earlier run) cost under `settings`."""
        ...


def billing_of(cls: type[Platform]) -> type[Billing] | None:
    """The adapter class as a `Billing` when it bills, else None."""
    return cls if issubclass(cls, Billing) else None


def http_url(value: str, name: str, example: str) -> str:
    """A settings URL (`name`: the setting, `example`: what to write) without its trailing
    slash; anything but an http(s) URL raises the ValueError a settings model reports."""
    value = value.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{name} must be an http(s) URL, e.g. {example}")
    return value


class NoSettings(BaseModel):
    """A platform with no settings of its own refuses any key under its name."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Media:
    """An image to attach: a file path (or an id the platform gave an upload) and its
    alternative text for screen readers."""

    path: str
    alt: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "alt": self.alt}

    @classmethod
    def from_json(cls, data: Any) -> Media:
        if isinstance(data, str):  # outbox rows written before alt texts
            return cls(data)
        return cls(str(data["path"]), data.get("alt"))


class Platform(abc.ABC):
    """One social platform account, as the tool sees it.

    Every method may raise `AuthError` (credentials refused), `RateLimited` (throttled; retry
    after `reset_at`), `PlatformError` (with `retryable` for 5xx and time-outs) and, for
    writes, `DuplicatePost` (the platform already has this post: treat it as sent),
    `NotFound` and `Unsupported` (a capability the platform does not have).

    `CAPABILITIES` says what the class can do; `capabilities_for(settings)` what it can do
    with a plan's settings before connecting (the lints use it); the instance's
    `capabilities` may be refined once connected (a Mastodon instance's own limit).
    """

    name: ClassVar[str]
    CAPABILITIES: ClassVar[Capabilities]
    Settings: ClassVar[type[BaseModel]] = NoSettings
    # the host's handle when the plan names none (the local platform's "@host")
    DEFAULT_ACCOUNT: ClassVar[str | None] = None
    # the settings `qa init --platform NAME` writes, when the adapter needs some to work
    # (a Mastodon instance): key -> an example value the user replaces
    INIT_SETTINGS: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        *,
        home: Path,
        clock: Clock | None = None,
        account: str | None = None,
        source: str | None = None,
    ) -> None:
        self.settings = self.Settings.model_validate(settings or {})
        self.home = home
        self.clock: Clock = clock or SystemClock()
        self.account = account
        self.source = source or self.name  # what posts read here are tagged with
        self.counters = CallCounters()
        self.capabilities: Capabilities = self.capabilities_for(self.settings)

    @classmethod
    def capabilities_for(cls, settings: BaseModel) -> Capabilities:
        """What this adapter can do with `settings`, before it connects."""
        return cls.CAPABILITIES

    @classmethod
    def search_limits(cls, settings: BaseModel) -> SearchLimits:
        """How searching is metered with `settings` (see `SearchLimits`), before connecting."""
        return SearchLimits()

    @classmethod
    def hashtag_url(cls, settings: BaseModel, hashtag: str) -> str | None:
        """A public page that follows `hashtag` (without "#") on this platform, if any."""
        return None

    @classmethod
    def post_url(cls, settings: BaseModel, author: str, post_id: str) -> str | None:
        """Where a post can be seen when the platform gave no link of its own."""
        return None

    # -- identity and reading -------------------------------------------------------------

    @abc.abstractmethod
    def me(self) -> str:
        """The handle (with "@") of the account the credentials belong to."""

    @abc.abstractmethod
    def search(self, hashtag: str, cursor: str | None = None) -> SearchPage:
        """One request for posts carrying `hashtag` (with "#", any case) newer than `cursor`.

        Posts come oldest first, each read once across pages, without the host's own posts;
        plain reposts may be left out. Pass the returned cursor back to continue; `more` says
        another page is waiting.
        """

    def rate_budget(self) -> RateBudget | None:
        """The search budget left in the current rate window, when the platform says."""
        return None

    def describe(self) -> dict[str, str]:
        """What `qa doctor` shows of the connected platform besides the account and the rate
        budget (an instance's version and character limit, a DID): label -> value."""
        return {
            "length limit": f"{self.capabilities.max_length} ({self.capabilities.length_method})"
        }

    def lookup(self, ids: Sequence[str]) -> list[Post]:
        """Current state (like and repost counts) of posts by id; platforms that cannot do it
        cheaply return nothing."""
        return []

    # -- writing -------------------------------------------------------------------------

    @abc.abstractmethod
    def repost(self, post: PostRef, *, idempotency_key: str | None = None) -> PostRef:
        """Repost `post`; returns the repost. A second repost of one post is refused with
        `DuplicatePost`."""

    @abc.abstractmethod
    def post(
        self,
        text: str,
        *,
        reply_to: PostRef | None = None,
        quote_of: PostRef | None = None,
        media: Sequence[Media] = (),
        idempotency_key: str | None = None,
    ) -> PostRef:
        """Publish a post (or a reply, or a quote); returns it. A text longer than
        `capabilities` allow is refused with `TooLong`."""

    @abc.abstractmethod
    def send_dm(self, to: Author, text: str, *, idempotency_key: str | None = None) -> PostRef:
        """Send a direct message to `to`; returns it."""

    def intent_made(self, idempotency_key: str, at: datetime) -> None:  # noqa: B027
        """The outbox says, before each attempt to send an intent, when that intent was
        written (the same on every retry, in every process). A platform whose records carry
        their own time (Bluesky's `createdAt`) writes that one, so a retry sends the same
        bytes; the others ignore it."""

    def find_sent(self, idempotency_key: str) -> PostRef | None:
        """What this account already sent under `idempotency_key`, if the platform can tell
        (see `capabilities.can_lookup_sent`); None when it was not sent."""
        raise Unsupported(f"{self.name} cannot tell what was sent")

    # -- helpers -------------------------------------------------------------------------

    @property
    def max_length(self) -> int:
        """The longest post this platform accepts, counted by `length()`."""
        return self.capabilities.max_length

    def length(self, text: str) -> int:
        """The length of `text` as this platform counts it."""
        return self.capabilities.length(text)

    def check_length(self, text: str, *, dm: bool = False) -> None:
        """Raise `TooLong` when `text` does not fit (what every adapter does before sending)."""
        if dm:
            if len(text) > self.capabilities.dm_max_length:
                limit = self.capabilities.dm_max_length
                raise TooLong(f"direct message too long: {len(text)} > {limit} characters")
            return
        why = self.capabilities.too_long(text)
        if why is not None:
            raise TooLong(f"post too long for {self.name}: {why}")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""
