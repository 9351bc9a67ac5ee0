"""The Bluesky platform over the atproto SDK: hashtag search, exactly-once records, chat DMs.

Credentials: `BLUESKY_HANDLE` and `BLUESKY_APP_PASSWORD` from the environment; the service
(the PDS or entryway, `https://bsky.social`) from the plan's `bluesky: {service: ...}`.
`createSession` is limited (30 per 5 minutes, a few hundred a day), so the adapter logs in
once and keeps the SDK's session string in `bluesky-session.json` under the home directory
(mode 0600), rewritten whenever the SDK refreshes the tokens (`on_session_change`). A new
process imports it and logs in with the password only when there is none, it belongs to
another account or service, or the server refuses its refresh token.

Reading: `app.bsky.feed.searchPosts`, authenticated, `sort=latest`, `q="#tag"` and `tag=[tag]`
(the reference AppView's local search ignores `tag`; production honours it). There is no
since-id, so the cursor is a small JSON object: `w` the watermark (newest `indexedAt` read, and
`u` the URIs read at that instant), and while a pass pages back, `n` the service's cursor and
`t`/`tu` the watermark the pass will leave. A pass pages newest first until it reaches a post
at or below the watermark (or the service has no more); each page comes back oldest first,
deduplicated by URI, without the host's own posts. A post's time is its `indexedAt` (the
record's `createdAt` is whatever the author's client wrote). Pacing: `rate_budget()` reports
the tighter of the search service's `ratelimit-*` window and the plan's `search_interval`
(one pass per that many seconds, the floor for a service not meant for busy bots). With
`notifications: true` each pass also reads the host's notifications (`listNotifications`,
reasons mention, reply and quote: questions and follow-ups without the tag) down to their
own watermark (`m`/`mu`), at most a week back the first time; a failure there is a warning
on the page, and the hashtag is read all the same.

Writing: every record (post, reply, quote, repost) is written with a record key derived
from its outbox key (`bluesky_text.tid_for`; a repost's key derives from the reposted URI,
so one post is reposted once) through `putRecord` with `"swapRecord": null`: "create only if
that key is free". Its `createdAt` is when the outbox made the intent (`intent_made`), so a
retry after a crash sends the very same bytes: the PDS answers 200 with the same CID and no
commit (nothing posted twice), and anything else under the key 400 `InvalidSwap`. On that
refusal, or a 500 (a PDS that answers a taken key so, or lost its answer), the adapter reads
the record at the key: found, it is the post sent before; not found, the error stands.
`find_sent(key)` is a `getRecord` at that key. Facets for hashtags, mentions (handles
resolved to DIDs) and links go into every post, `.@handle` included. Images are uploaded as
blobs with their alt text (at most 4, 1,000,000 bytes each).

Direct messages go through the chat service (the SDK's chat proxy header):
`getConvoForMembers` then `sendMessage`. A recipient who does not accept messages from the
host raises `RecipientClosed`. The chat service takes no idempotency key: the adapter notes
each attempt in `bluesky-dms.jsonl` before sending, and `find_sent` looks for that text among
the conversation's recent messages from the host.

Limits and errors: 300 graphemes and 3,000 bytes; creating a record costs 3 of the PDS's
5,000 write points an hour (tracked, shown by `qa doctor`, refused locally before the PDS
would); 429 (`RateLimitExceededError`) is `RateLimited` at `ratelimit-reset` on the wall
clock; 401 is `AuthError`; 400 a `PlatformError` with the server's message; 5xx and network
errors are retryable.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from qasession.clock import Clock
from qasession.errors import (
    AuthError,
    DuplicatePost,
    NotFound,
    PlatformError,
    QAError,
    RateLimited,
    RecipientClosed,
)
from qasession.platforms.base import (
    Author,
    Capabilities,
    Media,
    Platform,
    Post,
    PostRef,
    RateBudget,
    SearchPage,
    http_url,
)
from qasession.platforms.bluesky_text import build_facets, tid_for

if TYPE_CHECKING:
    import httpx
    from atproto import Client

DEFAULT_SERVICE = "https://bsky.social"
HANDLE_VAR = "BLUESKY_HANDLE"
PASSWORD_VAR = "BLUESKY_APP_PASSWORD"
SESSION_FILE = "bluesky-session.json"
DM_FILE = "bluesky-dms.jsonl"

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
SEARCH = "app.bsky.feed.searchPosts"
NOTIFICATIONS = "app.bsky.notification.listNotifications"
NOTIFY_REASONS = ("mention", "reply", "quote")
NOTIFY_PAGES = 5
LOOKBACK = timedelta(days=7)  # the first read of the notifications goes back this far
PUT = "com.atproto.repo.putRecord"

MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images#image: maxSize
MAX_IMAGES = 4
LOOKUP_BATCH = 25  # app.bsky.feed.getPosts takes 25 URIs
WRITE_POINTS_PER_HOUR = 5000
CREATE_POINTS = 3
DM_MAX_LENGTH = 1000  # chat.bsky.convo.defs#messageInput: 1000 graphemes
RECENT_MESSAGES = 50
_AUTH_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}
_REFUSED_DM = re.compile(r"recipient|disabled|follow|not accept|blocked", re.IGNORECASE)


class BlueskySettings(BaseModel):
    """Settings under `bluesky:` in the plan."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(
        default=DEFAULT_SERVICE,
        description="the PDS or entryway to log in to",
    )
    page_size: int = Field(default=50, ge=1, le=100, description="posts per search request")
    search_interval: float = Field(
        default=10, ge=0, description="seconds between two search passes at least"
    )
    timeout: float = Field(default=10, gt=0, description="seconds per HTTP request")
    langs: list[str] = Field(default_factory=lambda: ["en"], description="languages of posts")
    notifications: bool = Field(
        default=False,
        description="also read the host's mentions, replies and quotes (questions without the tag)",
    )

    @field_validator("service")
    @classmethod
    def _service_url(cls, value: str) -> str:
        return http_url(value, "service", "https://bsky.social")


class BlueskyCredentials(BaseModel):
    """The host's handle and app password; `SecretStr` keeps the password out of reprs."""

    model_config = ConfigDict(frozen=True)

    handle: str
    password: SecretStr

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BlueskyCredentials:
        env = os.environ if environ is None else environ
        handle = env.get(HANDLE_VAR, "").strip().lstrip("@")
        password = env.get(PASSWORD_VAR, "").strip()
        missing = [name for name, v in ((HANDLE_VAR, handle), (PASSWORD_VAR, password)) if not v]
        if missing:
            raise AuthError(
                f"missing Bluesky credentials: {', '.join(missing)} (set them in the "
                "environment; create an app password in Bluesky's settings)"
            )
        return cls(handle=handle, password=SecretStr(password))


# -- the cursor ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Cursor:
    at: str | None = None  # watermark: newest indexedAt read by a finished pass
    uris: list[str] = field(default_factory=list)  # URIs read at exactly `at`
    next: str | None = None  # the service's cursor of the running pass
    top: str | None = None  # the watermark the running pass will leave
    top_uris: list[str] = field(default_factory=list)
    noted: str | None = None  # newest indexedAt of the notifications read
    noted_uris: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, raw: str | None) -> _Cursor:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError(raw)
            return cls(
                data.get("w"),
                [str(u) for u in data.get("u", [])],
                data.get("n"),
                data.get("t"),
                [str(u) for u in data.get("tu", [])],
                data.get("m"),
                [str(u) for u in data.get("mu", [])],
            )
        except (ValueError, TypeError):
            raise PlatformError(f"not a Bluesky search cursor: {raw[:40]!r}") from None

    def dump(self) -> str | None:
        data = {"w": self.at, "u": self.uris, "n": self.next, "t": self.top, "tu": self.top_uris}
        data.update(m=self.noted, mu=self.noted_uris)
        kept = {k: v for k, v in data.items() if v}
        return json.dumps(kept, separators=(",", ":"), sort_keys=True) if kept else None

    def seen(self, at: str, uri: str) -> bool:
        """Whether a post indexed at `at` was read by a finished pass."""
        return _below(at, uri, self.at, self.uris)


def _below(at: str, uri: str, mark: str | None, uris: list[str]) -> bool:
    """Whether (`at`, `uri`) is at or below the watermark (`mark`, the URIs read at it)."""
    if mark is None:
        return False
    return _ts(at) < _ts(mark) or (_ts(at) == _ts(mark) and uri in uris)


def _raised(at: str, uri: str, mark: str | None, uris: list[str]) -> tuple[str | None, list[str]]:
    """The watermark once (`at`, `uri`) is read."""
    if not at:
        return mark, uris
    if mark is None or _ts(at) > _ts(mark):
        return at, [uri]
    if _ts(at) == _ts(mark) and uri not in uris:
        return mark, [*uris, uri]
    return mark, uris


def _ts(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- rate windows -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Window:
    limit: int
    remaining: int
    reset_at: datetime


def _window(headers: Mapping[str, Any]) -> _Window | None:
    try:
        return _Window(
            int(headers["ratelimit-limit"]),
            int(headers["ratelimit-remaining"]),
            datetime.fromtimestamp(int(headers["ratelimit-reset"]), UTC),
        )
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


class BlueskyPlatform(Platform):
    """Bluesky through the atproto SDK; see the module docstring for the choices made."""

    name: ClassVar[str] = "bluesky"
    INIT_SETTINGS: ClassVar[dict[str, Any]] = {"service": DEFAULT_SERVICE}
    CAPABILITIES: ClassVar[Capabilities] = Capabilities(
        repost=True,
        reply=True,
        quote=True,
        dm=True,
        media=True,
        max_length=300,
        length_method="graphemes",
        max_bytes=3000,
        dm_max_length=DM_MAX_LENGTH,
        leading_mention_hidden=False,
        can_lookup_sent=True,
        mentions_notify=True,
    )
    Settings: ClassVar[type[BaseModel]] = BlueskySettings
    settings: BlueskySettings

    @classmethod
    def hashtag_url(cls, settings: BaseModel, hashtag: str) -> str | None:
        return f"https://bsky.app/hashtag/{hashtag}"

    @classmethod
    def post_url(cls, settings: BaseModel, author: str, post_id: str) -> str | None:
        if not post_id.startswith("at://") or f"/{POST}/" not in post_id:
            return None
        return f"https://bsky.app/profile/{author.lstrip('@')}/post/{_rkey(post_id)}"

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        *,
        home: Path,
        clock: Clock | None = None,
        account: str | None = None,
        source: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(settings, home=home, clock=clock, account=account, source=source)
        self.credentials = BlueskyCredentials.from_env()
        self._transport = transport  # tests: the in-process fake service
        self._client: Client | None = None
        self._chat_client: Client | None = None
        self._logged_in = False  # this process called createSession
        self._dids: dict[str, str] = {}  # handle (lowercase) -> DID
        self._search_window: _Window | None = None
        self._write_window: _Window | None = None
        self._blocked: dict[str, datetime] = {}
        self._writes: deque[datetime] = deque()  # when this process created records
        self._last_pass: datetime | None = None
        self._last_stamp: datetime | None = None
        self._intent_at: dict[str, datetime] = {}  # outbox key -> when the intent was made
        self._notify_failure: str | None = None

    def __repr__(self) -> str:
        return f"BlueskyPlatform(service={self.settings.service!r}, account={self.account!r})"

    # -- the session ---------------------------------------------------------------------------

    def _session_file(self) -> Path:
        return self.home / SESSION_FILE

    def _load_session(self) -> str | None:
        """The stored session string, when it is this account's on this service and its
        refresh token has not expired."""
        try:
            data = json.loads(self._session_file().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("service") != self.settings.service:
            return None
        if str(data.get("handle", "")).lower() != self.credentials.handle.lower():
            return None
        session = data.get("session")
        if not isinstance(session, str) or session.count(":::") < 3:
            return None
        from atproto_client.client.session import Session
        from atproto_core.exceptions import AtProtocolError

        try:
            exp = Session.decode(session).refresh_jwt_payload.exp
        except (AtProtocolError, ValueError):  # a corrupt token: log in again
            return None
        if exp is not None and datetime.fromtimestamp(exp, UTC) <= datetime.now(UTC):
            return None
        return session

    def _save_session(self, session_string: str) -> None:
        """Write the session string (tokens: mode 0600, replaced atomically)."""
        payload = {
            "handle": self.credentials.handle,
            "service": self.settings.service,
            "session": session_string,
        }
        target = self._session_file()
        temporary = target.with_name(target.name + ".tmp")
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                json.dump(payload, out)
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except OSError:
            pass  # a read-only home: this process keeps its session in memory

    def _new_client(self) -> Client:
        from atproto import Client
        from atproto_client.client.session import SessionEvent
        from atproto_client.request import Request

        options: dict[str, Any] = {"timeout": self.settings.timeout}
        if self._transport is not None:
            options["transport"] = self._transport
        client = Client(base_url=self.settings.service, request=Request(**options))

        def changed(event: SessionEvent, session: Any) -> None:
            if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
                self._save_session(session.export())

        client.on_session_change(changed)
        return client

    def _connected(self) -> Client:
        """The logged-in client: the stored session imported, or one createSession."""
        if self._client is None:
            client = self._new_client()
            stored = self._load_session()
            if stored is not None:
                client.login(session_string=stored, fetch_bsky_profile=False)
            else:
                self._create_session(client)
            self._client = client
        return self._client

    def _create_session(self, client: Client) -> None:
        from atproto_client import exceptions

        creds = self.credentials
        try:
            client.login(creds.handle, creds.password.get_secret_value(), fetch_bsky_profile=False)
        except exceptions.AtProtocolError as exc:
            raise self._error("createSession", exc) from None
        self._logged_in = True

    def _identity(self) -> tuple[str, str]:
        client = self._connected()
        session = client._session  # the SDK keeps the DID and handle there
        assert session is not None
        did, handle = session.did, session.handle
        self._dids[handle.lower()] = did
        if self.account and self.account.lstrip("@").lower() != handle.lower():
            raise AuthError(
                f"the Bluesky credentials belong to @{handle}, not {self.account}",
                hint=f"set {HANDLE_VAR} to the account named in the plan",
            )
        return did, handle

    def me(self) -> str:
        return "@" + self._identity()[1]

    def describe(self) -> dict[str, str]:
        did, handle = self._identity()
        params = self._models().AppBskyActorGetProfile.Params(actor=did)
        profile = self._query("app.bsky.actor.getProfile", params)  # the session works
        used = self._points_used()
        return {
            "DID": did,
            "handle": "@" + (_str(profile.get("handle")) or handle),
            "service": self.settings.service,
            "length limit": "300 graphemes and 3000 bytes",
            "write points": f"{used} of {WRITE_POINTS_PER_HOUR} used this hour by this process",
        }

    # -- calls ---------------------------------------------------------------------------------

    @staticmethod
    def _models() -> Any:
        from atproto import models

        return models

    def _invoke(self, nsid: str, call: Callable[[Client], Any]) -> dict[str, Any]:
        """Run one XRPC call; a refused session is renewed once (createSession), throttling
        and failures become our errors."""
        from atproto_client import exceptions

        self._check_window(nsid)
        client = self._connected()
        for attempt in range(2):
            try:
                response = call(client)
                break
            except exceptions.AtProtocolError as exc:
                if attempt == 0 and self._session_refused(exc) and not self._logged_in:
                    self._create_session(client)
                    continue
                self.counters.errors += 1
                raise self._error(nsid, exc) from None
        self._observe(nsid, response.headers or {})
        content = response.content
        return content if isinstance(content, dict) else {}

    def _query(self, nsid: str, params: Any, *, chat: bool = False) -> dict[str, Any]:
        def call(client: Client) -> Any:
            return self._for(client, chat).invoke_query(nsid, params=params)

        return self._invoke(nsid, call)

    def _procedure(
        self, nsid: str, data: Any, *, chat: bool = False, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        def call(client: Client) -> Any:
            target = self._for(client, chat)
            if headers:
                return target.invoke_procedure(nsid, data=data, headers=headers)
            return target.invoke_procedure(nsid, data=data, input_encoding="application/json")

        return self._invoke(nsid, call)

    def _for(self, client: Client, chat: bool) -> Client:
        if not chat:
            return client
        if self._chat_client is None:
            self._chat_client = client.with_bsky_chat_proxy()
        return self._chat_client

    @staticmethod
    def _xrpc_error(exc: Exception) -> tuple[int | None, str, str, Mapping[str, Any]]:
        """(status, error name, message, headers) of an SDK error."""
        response = getattr(exc, "response", None)
        if response is None:
            return None, "", "", {}
        content = response.content
        name = _str(getattr(content, "error", None))
        message = _str(getattr(content, "message", None))
        if isinstance(content, dict):
            name, message = _str(content.get("error")), _str(content.get("message"))
        elif isinstance(content, bytes) and not name:
            message = content.decode("utf-8", "replace")[:200]
        return response.status_code, name, message, response.headers or {}

    def _session_refused(self, exc: Exception) -> bool:
        status, name, _, _ = self._xrpc_error(exc)
        return status in (400, 401) and name in _AUTH_ERRORS

    def _error(self, nsid: str, exc: Exception) -> QAError:
        from atproto_client import exceptions

        status, name, message, headers = self._xrpc_error(exc)
        detail = " ".join(f"{name}: {message}".strip(": ").split())[:300] or type(exc).__name__
        detail = detail.replace(self.credentials.password.get_secret_value(), "[redacted]")
        if isinstance(exc, exceptions.RateLimitExceededError) or status == 429:
            return self._limited(nsid, headers)
        if status is None:
            what = "timed out" if isinstance(exc, exceptions.InvokeTimeoutError) else "unreachable"
            if isinstance(exc, exceptions.NetworkError):
                return PlatformError(f"Bluesky {what} ({nsid})", retryable=True)
            return PlatformError(f"Bluesky answered {nsid} oddly: {detail}", retryable=True)
        if status == 401 or (status == 400 and name in _AUTH_ERRORS):
            return AuthError(
                f"Bluesky refused the login: {detail}",
                hint=f"check {HANDLE_VAR} and {PASSWORD_VAR} (an app password)",
            )
        if status == 403:
            return AuthError(
                f"Bluesky refused {nsid}: {detail}",
                hint="an app password needs direct-message access for DMs",
            )
        if status >= 500:
            return PlatformError(f"Bluesky {status} ({nsid}): {detail}", retryable=True)
        if name in ("RecordNotFound", "NotFound") or status == 404:
            return NotFound(f"Bluesky {status} ({nsid}): {detail}")
        return PlatformError(f"Bluesky refused {nsid} ({status}): {detail}")

    def _limited(self, nsid: str, headers: Mapping[str, Any]) -> RateLimited:
        now = self.clock.wall_now()
        window = _window(headers)
        reset = window.reset_at if window is not None else now + timedelta(seconds=60)
        reset = max(reset, now + timedelta(seconds=1))
        self._blocked[nsid] = reset
        return RateLimited(reset, f"Bluesky rate limit reached ({nsid})")

    def _observe(self, nsid: str, headers: Mapping[str, Any]) -> None:
        window = _window(headers)
        if window is None:
            return
        if nsid == SEARCH:
            self._search_window = window
        elif nsid == PUT:
            self._write_window = window

    def _check_window(self, nsid: str) -> None:
        now = self.clock.wall_now()
        blocked = self._blocked.get(nsid)
        if blocked is not None and blocked > now:
            raise RateLimited(blocked, f"Bluesky rate limit of {nsid} reached")
        window = self._search_window if nsid == SEARCH else None
        if nsid == PUT:
            window = self._write_window
        if window is not None and window.remaining <= 0 and window.reset_at > now:
            raise RateLimited(window.reset_at, f"Bluesky rate limit of {nsid} exhausted")

    def _points_used(self) -> int:
        hour_ago = self.clock.wall_now() - timedelta(hours=1)
        while self._writes and self._writes[0] <= hour_ago:
            self._writes.popleft()
        return CREATE_POINTS * len(self._writes)

    def _spend_points(self) -> None:
        """Refuse a write that would go past the hour's write points."""
        if self._points_used() + CREATE_POINTS > WRITE_POINTS_PER_HOUR:
            reset = self._writes[0] + timedelta(hours=1)
            raise RateLimited(reset, "Bluesky's 5000 write points of the hour are spent")
        self._writes.append(self.clock.wall_now())

    # -- reading -------------------------------------------------------------------------------

    def search(self, hashtag: str, cursor: str | None = None) -> SearchPage:
        tag = hashtag.strip().lstrip("#")
        state = _Cursor.load(cursor)
        did, _ = self._identity()
        params = self._models().AppBskyFeedSearchPosts.Params(
            q=f"#{tag}", tag=[tag], sort="latest", limit=self.settings.page_size, cursor=state.next
        )
        body = self._query(SEARCH, params)
        if state.next is None:
            self._last_pass = self.clock.wall_now()
        self.counters.search_requests += 1
        views = [v for v in body.get("posts") or [] if isinstance(v, dict)]
        self.counters.posts_read += len(views)
        fresh: dict[str, Post] = {}
        reached = False
        for view in views:
            post = self._post(view)
            if post is None:
                continue
            indexed = _str(view.get("indexedAt"))
            if state.seen(indexed, post.id):
                reached = True
                break
            self._raise_top(state, indexed, post.id)
            if post.author_id != did:
                fresh.setdefault(post.id, post)
        warnings: list[str] = []
        if self.settings.notifications and state.next is None:  # once per pass, at its start
            for post in self._notified(state, did, warnings):
                fresh.setdefault(post.id, post)
        next_cursor = _str(body.get("cursor")) or None
        if reached or not next_cursor or not views:
            if state.top is not None:
                state.at, state.uris = state.top, state.top_uris
            state.next, state.top, state.top_uris = None, None, []
        else:
            state.next = next_cursor
        posts = sorted(fresh.values(), key=lambda p: (p.created_at, p.id))
        return SearchPage(posts, state.dump(), state.next is not None, tuple(warnings))

    @staticmethod
    def _raise_top(state: _Cursor, indexed: str, uri: str) -> None:
        state.top, state.top_uris = _raised(indexed, uri, state.top, state.top_uris)

    def _notified(self, state: _Cursor, did: str, warnings: list[str]) -> list[Post]:
        """The host's mentions, replies and quotes indexed since the last read (newest
        first, paging back until one already read, at most `NOTIFY_PAGES` pages or
        `LOOKBACK`). A failure is a warning: the hashtag is read all the same."""
        horizon = self.clock.wall_now() - LOOKBACK
        mark, uris = state.noted, list(state.noted_uris)
        found: list[Post] = []
        cursor: str | None = None
        try:
            for _ in range(NOTIFY_PAGES):
                params = self._models().AppBskyNotificationListNotifications.Params(
                    limit=self.settings.page_size, reasons=list(NOTIFY_REASONS), cursor=cursor
                )
                body = self._query(NOTIFICATIONS, params)
                notes = [n for n in body.get("notifications") or [] if isinstance(n, dict)]
                self.counters.posts_read += len(notes)
                reached = False
                for note in notes:
                    indexed, uri = _str(note.get("indexedAt")), _str(note.get("uri"))
                    if (
                        _below(indexed, uri, state.noted, state.noted_uris)
                        or _ts(indexed) < horizon
                    ):
                        reached = True
                        break
                    mark, uris = _raised(indexed, uri, mark, uris)
                    post = self._post(note) if note.get("reason") in NOTIFY_REASONS else None
                    if post is not None and post.author_id != did:
                        found.append(post)
                cursor = _str(body.get("cursor")) or None
                # the AppView filters a page by reason after reading it: a page may come back
                # empty with more behind it, so only the cursor says when to stop
                if reached or not cursor:
                    break
        except PlatformError as exc:
            if isinstance(exc, AuthError):
                raise
            if self._notify_failure != str(exc):
                warnings.append(f"reading the host's Bluesky notifications failed: {exc}")
            self._notify_failure = str(exc)
            return []
        if self._notify_failure is not None:
            warnings.append("reading the host's Bluesky notifications works again")
        self._notify_failure = None
        state.noted, state.noted_uris = mark, uris
        return found

    def _post(self, view: Mapping[str, Any]) -> Post | None:
        """One post view as a Post (None when it lacks what a post needs)."""
        uri, cid = _str(view.get("uri")), _str(view.get("cid"))
        author = view.get("author") if isinstance(view.get("author"), dict) else {}
        record = view.get("record") if isinstance(view.get("record"), dict) else {}
        assert isinstance(author, dict) and isinstance(record, dict)
        did, handle = _str(author.get("did")), _str(author.get("handle"))
        if not uri.startswith("at://") or not cid or not did or not handle:
            return None
        self._dids.setdefault(handle.lower(), did)
        extra = {"cid": cid}
        kind, ref = "post", None
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else None
        if reply:
            parent, root = reply.get("parent") or {}, reply.get("root") or {}
            kind, ref = "reply", _str(parent.get("uri")) or None
            extra.update(root_uri=_str(root.get("uri")), root_cid=_str(root.get("cid")))
        embedded = _quoted(record.get("embed"))
        if embedded and kind == "post":
            kind, ref = "quote", embedded
        indexed = _ts(_str(view.get("indexedAt")) or _str(record.get("createdAt")))
        langs = record.get("langs")
        return Post(
            id=uri,
            author="@" + handle,
            text=_str(record.get("text")),
            created_at=indexed,
            kind=kind,  # type: ignore[arg-type]
            ref=ref,
            likes=_count(view.get("likeCount")),
            reposts=_count(view.get("repostCount")),
            lang=_str(langs[0]) if isinstance(langs, list) and langs else None,
            url=self.post_url(self.settings, "@" + handle, uri),
            platform=self.source,
            author_id=did,
            extra=extra,
        )

    def rate_budget(self) -> RateBudget | None:
        """The search window the service reports, or, tighter, one pass per
        `search_interval` seconds."""
        now = self.clock.wall_now()
        budgets = []
        window = self._search_window
        if window is not None and window.reset_at > now:
            budgets.append(RateBudget(window.remaining, window.limit, window.reset_at))
        interval = self.settings.search_interval
        if self._last_pass is not None and interval > 0:
            next_pass = self._last_pass + timedelta(seconds=interval)
            if next_pass > now:
                # one call in hand is what the loop keeps back: it waits for the reset
                budgets.append(RateBudget(1, 1, next_pass - timedelta(seconds=1)))
        if not budgets:
            return None
        return min(budgets, key=lambda b: (b.remaining, -b.reset_at.timestamp()))

    def lookup(self, ids: Sequence[str]) -> list[Post]:
        """Current like and repost counts, 25 posts per request."""
        wanted = list(dict.fromkeys(i for i in ids if i.startswith("at://")))
        found: list[Post] = []
        for start in range(0, len(wanted), LOOKUP_BATCH):
            params = self._models().AppBskyFeedGetPosts.Params(
                uris=wanted[start : start + LOOKUP_BATCH]
            )
            body = self._query("app.bsky.feed.getPosts", params)
            views = [v for v in body.get("posts") or [] if isinstance(v, dict)]
            found.extend(p for p in map(self._post, views) if p is not None)
        return found

    def _resolve(self, handle: str) -> str | None:
        """The DID of `handle`, or None when it does not resolve."""
        key = handle.lstrip("@").lower()
        if key not in self._dids:
            params = self._models().ComAtprotoIdentityResolveHandle.Params(handle=key)
            try:
                body = self._query("com.atproto.identity.resolveHandle", params)
            except (NotFound, PlatformError) as exc:
                if isinstance(exc, RateLimited) or exc.retryable:
                    raise
                return None
            did = _str(body.get("did"))
            if not did.startswith("did:"):
                return None
            self._dids[key] = did
        return self._dids[key]

    # -- writing -------------------------------------------------------------------------------

    def _strong_ref(self, post: PostRef) -> dict[str, str]:
        """URI and CID of `post` (its CID asked for when the store had none)."""
        cid = post.extra.get("cid")
        if not cid:
            found = self.lookup([post.id])
            if not found:
                raise NotFound(f"no Bluesky post {post.id}")
            cid = found[0].extra["cid"]
        return {"uri": post.id, "cid": cid}

    def _write(self, collection: str, rkey: str, record: dict[str, Any]) -> tuple[str, str, str]:
        """Write `record` at `rkey` only if that key is free (`putRecord` with
        `"swapRecord": null`); returns (uri, cid, outcome): "created", "same" (this record
        was there already: a retry of this write) or "other" (another record holds the key).
        The same record again answers 200 without a commit; another one 400 `InvalidSwap`;
        a PDS may answer a taken key, or lose its answer, with 500: then the record at the
        key is read (the refusal stands when there is none)."""
        did, _ = self._identity()
        self._spend_points()
        body = {
            "repo": did,
            "collection": collection,
            "rkey": rkey,
            "record": record,
            "swapRecord": None,  # "only if absent"; the SDK's models would drop the None
        }
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

        def call(client: Client) -> Any:
            return client.invoke_procedure(
                PUT,
                content=content,
                input_encoding="application/json",
                output_encoding="application/json",
            )

        try:
            answer = self._invoke(PUT, call)
        except QAError as exc:
            if not isinstance(exc, PlatformError) or isinstance(exc, RateLimited):
                self._writes.pop()
                raise
            existing = self._get_record(collection, rkey)
            if existing is None:
                if not exc.retryable:
                    self._writes.pop()
                raise
            if existing[2] != record:
                return existing[0], existing[1], "other"
            # the same bytes after a lost answer: most likely this very write
            return existing[0], existing[1], "created" if exc.retryable else "same"
        uri, cid = _str(answer.get("uri")), _str(answer.get("cid"))
        if not uri:
            raise PlatformError("Bluesky accepted the record but returned no URI", retryable=True)
        # no commit: the identical record was there already (a no-op)
        return uri, cid, "created" if "commit" in answer else "same"

    def _get_record(self, collection: str, rkey: str) -> tuple[str, str, dict[str, Any]] | None:
        did, _ = self._identity()
        params = self._models().ComAtprotoRepoGetRecord.Params(
            repo=did, collection=collection, rkey=rkey
        )
        try:
            body = self._query("com.atproto.repo.getRecord", params)
        except PlatformError as exc:
            if exc.retryable or isinstance(exc, RateLimited):
                raise
            return None  # RecordNotFound (400) or 404
        value = body.get("value") if isinstance(body.get("value"), dict) else {}
        assert isinstance(value, dict)
        return _str(body.get("uri")), _str(body.get("cid")), value

    def repost(self, post: PostRef, *, idempotency_key: str | None = None) -> PostRef:
        """Repost `post` at a key derived from its URI: a second repost is `DuplicatePost`."""
        subject = self._strong_ref(post)
        record = {
            "$type": REPOST,
            "subject": subject,
            "createdAt": self._created_at(idempotency_key),
        }
        uri, cid, outcome = self._write(REPOST, tid_for("repost:" + post.id), record)
        if outcome == "other":
            raise DuplicatePost(f"already reposted {post.id}", existing_id=uri)
        if outcome == "created":
            self.counters.reposts += 1
        return PostRef(self.source, uri, {"cid": cid})

    def post(
        self,
        text: str,
        *,
        reply_to: PostRef | None = None,
        quote_of: PostRef | None = None,
        media: Sequence[Media] = (),
        idempotency_key: str | None = None,
    ) -> PostRef:
        """Post (a reply, a quote, with images) at the key derived from `idempotency_key`
        (a fresh TID without one)."""
        self.check_length(text)
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": self._created_at(idempotency_key),
            "langs": list(self.settings.langs),
        }
        facets = build_facets(text, self._resolve)
        if facets:
            record["facets"] = facets
        root: dict[str, str] | None = None
        if reply_to is not None:
            parent = self._strong_ref(reply_to)
            root_uri, root_cid = reply_to.extra.get("root_uri"), reply_to.extra.get("root_cid")
            root = {"uri": root_uri, "cid": root_cid} if root_uri and root_cid else parent
            record["reply"] = {"root": root, "parent": parent}
        embed = self._embed(quote_of, media)
        if embed is not None:
            record["embed"] = embed
        key = idempotency_key or "fresh:" + os.urandom(16).hex()  # nothing to retry under
        uri, cid, outcome = self._write(POST, tid_for("post:" + key), record)
        if outcome == "created":
            self.counters.posts_created += 1
        extra = {"cid": cid}
        if root is not None:
            extra.update(root_uri=root["uri"], root_cid=root["cid"])
        return PostRef(self.source, uri, extra)

    def intent_made(self, idempotency_key: str, at: datetime) -> None:
        self._intent_at[idempotency_key] = at

    def _created_at(self, idempotency_key: str | None) -> str:
        """A record's `createdAt`: when its intent was made (what the outbox says, the same
        on every retry, so a retry writes the same bytes), else the wall clock (kept for the
        key, so a retry in this process repeats it)."""
        moment = self._intent_at.get(idempotency_key) if idempotency_key else None
        if moment is None:
            moment = self.clock.wall_now()
            if self._last_stamp is not None and moment <= self._last_stamp:
                moment = self._last_stamp + timedelta(microseconds=1)
            self._last_stamp = moment
            if idempotency_key:
                self._intent_at[idempotency_key] = moment
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _embed(self, quote_of: PostRef | None, media: Sequence[Media]) -> dict[str, Any] | None:
        images = self._images(media) if media else None
        if quote_of is None:
            return images
        quoted = {"$type": "app.bsky.embed.record", "record": self._strong_ref(quote_of)}
        if images is None:
            return quoted
        return {"$type": "app.bsky.embed.recordWithMedia", "record": quoted, "media": images}

    def _images(self, media: Sequence[Media]) -> dict[str, Any]:
        if len(media) > MAX_IMAGES:
            raise PlatformError(f"Bluesky takes at most {MAX_IMAGES} images per post")
        images = []
        for item in media:
            images.append({"alt": item.alt or "", "image": self.upload_image(item.path)})
        return {"$type": "app.bsky.embed.images", "images": images}

    def upload_image(self, path: str | Path) -> dict[str, Any]:
        """Upload an image file as a blob; returns the blob reference. Refuses an image over
        the lexicon's 1,000,000 bytes before sending it."""
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise PlatformError(f"cannot read the image {file}: {exc.strerror}") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise PlatformError(
                f"the image {file.name} is {len(data):,} bytes; Bluesky takes images up to "
                f"{MAX_IMAGE_BYTES:,} bytes",
                hint="shrink it (a JPEG of 2000 px on its longest side usually fits)",
            )
        mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        body = self._procedure("com.atproto.repo.uploadBlob", data, headers={"Content-Type": mime})
        blob = body.get("blob")
        if not isinstance(blob, dict):
            raise PlatformError("Bluesky accepted the image but returned no blob", retryable=True)
        return blob

    # -- direct messages -----------------------------------------------------------------------

    def _dm_file(self) -> Path:
        return self.home / DM_FILE

    def _remember_dm(self, key: str, did: str, text: str) -> None:
        line = json.dumps({"key": key, "did": did, "text": text}, ensure_ascii=False)
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            with self._dm_file().open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError:
            pass

    def _dm_attempt(self, key: str) -> tuple[str, list[str]] | None:
        try:
            lines = self._dm_file().read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        did: str | None = None
        texts: list[str] = []
        for line in lines:
            try:
                raw = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(raw, dict) and raw.get("key") == key:
                did, texts = str(raw.get("did")), [*texts, str(raw.get("text"))]
        return (did, texts) if did else None

    def _convo(self, did: str) -> str:
        params = self._models().ChatBskyConvoGetConvoForMembers.Params(members=[did])
        try:
            body = self._query("chat.bsky.convo.getConvoForMembers", params, chat=True)
        except PlatformError as exc:
            raise self._refused(exc) from None
        convo = body.get("convo") if isinstance(body.get("convo"), dict) else {}
        assert isinstance(convo, dict)
        convo_id = _str(convo.get("id"))
        if not convo_id:
            raise PlatformError("the chat service returned no conversation", retryable=True)
        return convo_id

    @staticmethod
    def _refused(exc: PlatformError) -> PlatformError:
        if exc.retryable or isinstance(exc, AuthError | NotFound):
            return exc
        if _REFUSED_DM.search(exc.message):
            return RecipientClosed(
                f"the recipient does not accept direct messages from the host ({exc.message})",
                hint="answer publicly, or ask them to follow the host or open their messages",
            )
        return exc

    def send_dm(self, to: Author, text: str, *, idempotency_key: str | None = None) -> PostRef:
        self.check_length(text, dm=True)
        did = to.id if to.id.startswith("did:") else self._resolve(to.handle)
        if not did:
            raise NotFound(f"no Bluesky account {to.handle}")
        convo_id = self._convo(did)
        if idempotency_key is not None:
            self._remember_dm(idempotency_key, did, text)
        data = self._models().ChatBskyConvoSendMessage.Data(
            convo_id=convo_id, message={"text": text}
        )
        try:
            body = self._procedure("chat.bsky.convo.sendMessage", data, chat=True)
        except PlatformError as exc:
            raise self._refused(exc) from None
        message_id = _str(body.get("id"))
        if not message_id:
            raise PlatformError("the chat service returned no message id", retryable=True)
        self.counters.dms += 1
        return PostRef(self.source, message_id, {"convo": convo_id})

    def _find_dm(self, did: str, texts: list[str]) -> PostRef | None:
        me, _ = self._identity()
        convo_id = self._convo(did)
        params = self._models().ChatBskyConvoGetMessages.Params(
            convo_id=convo_id, limit=RECENT_MESSAGES
        )
        body = self._query("chat.bsky.convo.getMessages", params, chat=True)
        for message in body.get("messages") or []:
            if not isinstance(message, dict):
                continue
            sender = message.get("sender") if isinstance(message.get("sender"), dict) else {}
            assert isinstance(sender, dict)
            if sender.get("did") == me and message.get("text") in texts:
                return PostRef(self.source, _str(message.get("id")), {"convo": convo_id})
        return None

    # -- reconciliation ------------------------------------------------------------------------

    def find_sent(self, idempotency_key: str) -> PostRef | None:
        """The post at the key derived from `idempotency_key` (a getRecord), or the direct
        message sent under it; None when neither exists."""
        found = self._get_record(POST, tid_for("post:" + idempotency_key))
        if found is not None:
            uri, cid, value = found
            extra = {"cid": cid}
            reply = value.get("reply") if isinstance(value.get("reply"), dict) else None
            if reply and isinstance(reply.get("root"), dict):
                extra.update(root_uri=_str(reply["root"].get("uri")))
                extra.update(root_cid=_str(reply["root"].get("cid")))
            return PostRef(self.source, uri, extra)
        attempt = self._dm_attempt(idempotency_key)
        if attempt is not None:
            return self._find_dm(*attempt)
        return None

    def close(self) -> None:
        for client in (self._chat_client, self._client):
            if client is not None:
                client.request.close()


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _quoted(embed: Any) -> str | None:
    """The URI a post's embed quotes, if any."""
    if not isinstance(embed, dict):
        return None
    kind = embed.get("$type")
    record = embed.get("record")
    if kind == "app.bsky.embed.recordWithMedia" and isinstance(record, dict):
        record = record.get("record")
    if kind in ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia") and isinstance(
        record, dict
    ):
        return _str(record.get("uri")) or None
    return None


__all__ = ["BlueskyPlatform", "BlueskySettings"]
