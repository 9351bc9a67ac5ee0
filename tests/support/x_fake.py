"""A loopback fake of the X API v2 endpoints the X adapter uses, for tests and rehearsals.

It is a small stateful server (`http.server`, 127.0.0.1 only, state in memory) that answers
the way X does, as far as the adapter can tell: snowflake ids, `since_id` / `next_token`
pagination (newest first), the `-is:retweet -from:<user>` query operators, only the fields and
expansions asked for (`tweet.fields`, `user.fields`, `includes.users`, `includes.tweets`),
`public_metrics`, HTML-escaped text, 15-minute and 24-hour rate windows with their
`x-rate-limit-*`, `x-user-limit-24hour-*` and `x-app-limit-24hour-*` headers and 429s, the 403s
for duplicate content, replies to posts that did not mention the host, and second retweets,
injected 5xx (before or after the write happens), direct messages and `POST /2/media/upload`.

From Python::

    with XFake(username="AcmeHost") as fake:        # fake.url is the adapter's api_base
        fake.inject("@alice", "What is new? #AskAcme", likes=3)
        fake.count("GET /2/tweets/search/recent")

From a shell: ``python -m tests.support.x_fake --port 8765``.

Every request is recorded (`requests`: method, path, query) so tests can count them. The
authenticated account is the host; like X, the user id is the part of the OAuth 1.0a access
token before its "-", so the adapter's `X_ACCESS_TOKEN` must be ``"<host id>-anything"``.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TWITTER_EPOCH_MS = 1288834974657
SEARCH_WINDOW = timedelta(days=7)  # recent search only sees the last seven days

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
REPLY_RESTRICTED_DETAIL = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise engaged by the author of the post you are replying to."
)
ALREADY_RETWEETED_DETAIL = "You have already retweeted this Post."

# Window kinds and the header prefix X uses for each.
WINDOW_HEADERS = {
    "15min": "x-rate-limit-",
    "user24": "x-user-limit-24hour-",
    "app24": "x-app-limit-24hour-",
}
WINDOW_SECONDS = {"15min": 900, "user24": 86400, "app24": 86400}

# Per-endpoint windows, in the spirit of X's published limits (exact values do not matter).
DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "GET /2/tweets/search/recent": {"15min": 450},
    "GET /2/users/:id/mentions": {"15min": 450},
    "GET /2/users/:id/tweets": {"15min": 900},
    "GET /2/tweets": {"15min": 900},
    "GET /2/users/me": {"15min": 75},
    "GET /2/users/by/username/:name": {"15min": 900},
    "POST /2/tweets": {"15min": 100, "user24": 2400, "app24": 10000},
    "DELETE /2/tweets/:id": {"15min": 50},
    "POST /2/users/:id/retweets": {"15min": 50, "user24": 1000},
    "POST /2/dm_conversations/with/:id/messages": {"15min": 200, "user24": 1000, "app24": 15000},
    "GET /2/dm_conversations/with/:id/dm_events": {"15min": 300},
    "POST /2/media/upload": {"15min": 500, "user24": 2000},
}
FALLBACK_LIMITS = {"15min": 900}

# Endpoints X refuses to app-only (bearer) authentication.
USER_CONTEXT_ONLY = {
    "GET /2/users/me",
    "POST /2/tweets",
    "DELETE /2/tweets/:id",
    "POST /2/users/:id/retweets",
    "POST /2/dm_conversations/with/:id/messages",
    "GET /2/dm_conversations/with/:id/dm_events",
    "POST /2/media/upload",
}


def endpoint_key(method: str, path: str) -> str:
    """'GET /2/users/123/mentions' -> 'GET /2/users/:id/mentions' (rate windows are per route)."""
    if path.startswith("/2/"):
        rest = re.sub(r"/by/username/[^/]+", "/by/username/:name", path[2:])
        rest = re.sub(r"/\d+(?:-\d+)?(?=/|$)", "/:id", rest)
        path = "/2" + rest
    return f"{method.upper()} {path}"


def snowflake(moment: datetime, sequence: int = 0) -> int:
    """An X-style id for `moment` (milliseconds since X's epoch, shifted by 22 bits)."""
    millis = int(moment.timestamp() * 1000) - TWITTER_EPOCH_MS
    return (max(millis, 0) << 22) | (sequence & 0x3FFFFF)


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(slots=True)
class FakeUser:
    id: str
    username: str
    name: str


@dataclass(slots=True)
class FakeTweet:
    id: str
    author_id: str
    text: str
    created_at: datetime
    likes: int = 0
    retweets: int = 0
    replies: int = 0
    quotes: int = 0
    lang: str = "en"
    reply_to: str | None = None
    quote_of: str | None = None
    retweet_of: str | None = None
    conversation_id: str = ""
    in_reply_to_user_id: str | None = None
    media_keys: list[str] = field(default_factory=list)
    deleted: bool = False


@dataclass(slots=True)
class FakeDM:
    id: str
    conversation_id: str
    sender_id: str
    recipient_id: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received. `returned` lists the tweet ids it answered with."""

    method: str
    path: str
    query: dict[str, str]
    endpoint: str
    status: int
    auth: str  # "user" (OAuth 1.0a), "app" (bearer) or "none"
    returned: tuple[str, ...] = ()
    at: datetime | None = None  # the fake's clock when the request arrived


@dataclass(slots=True)
class _Window:
    kind: str
    limit: int
    used: int = 0
    start: datetime | None = None

    @property
    def seconds(self) -> int:
        return WINDOW_SECONDS[self.kind]

    def roll(self, now: datetime) -> None:
        if self.start is None or now >= self.start + timedelta(seconds=self.seconds):
            self.start = now
            self.used = 0

    def reset_at(self, now: datetime) -> datetime:
        return (self.start or now) + timedelta(seconds=self.seconds)


@dataclass(slots=True)
class _Fault:
    status: int
    times: int
    endpoint: str | None
    after: bool


class _Reply(Exception):
    """Raised inside a route to answer with an error status and an X-style problem body."""

    def __init__(self, status: int, detail: str, title: str = "", **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body: dict[str, Any] = {
            "title": title or _TITLES.get(status, "Error"),
            "detail": detail,
            "type": "about:blank",
            "status": status,
            **extra,
        }


_TITLES = {
    400: "Invalid Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found Error",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

Clock = Callable[[], datetime]
Answer = tuple[int, dict[str, str], bytes]


class XFake:
    """The fake X API: state, routes, and the loopback HTTP server that serves them."""

    def __init__(
        self,
        *,
        username: str = "host",
        user_id: str = "100001",
        clock: Clock | None = None,
        reply_restriction: bool = True,
        port: int = 0,
    ) -> None:
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.reply_restriction = reply_restriction
        self.port = port
        self.revoked = False
        self.users: dict[str, FakeUser] = {}
        self.tweets: dict[str, FakeTweet] = {}
        self.dms: list[FakeDM] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._last_id = 0
        self._windows: dict[str, dict[str, _Window]] = {}
        self._faults: list[_Fault] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.host = self.add_user(username, user_id=user_id, name="Q&A host")

    # -- the server --------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port unless one was given); returns the base URL."""
        if self._server is None:
            server = _Server(("127.0.0.1", self.port), _Handler)
            server.fake = self
            self._server = server
            self.port = server.server_address[1]
            # a short poll interval keeps `stop()` quick
            self._thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="x-fake", daemon=True
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> XFake:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests set up ---------------------------------------------------------------------

    def access_token(self, suffix: str = "fake-token") -> str:
        """An OAuth 1.0a access token for the host, shaped like X's ("<user id>-...")."""
        return f"{self.host.id}-{suffix}"

    def add_user(self, username: str, *, user_id: str | None = None, name: str = "") -> FakeUser:
        username = username.lstrip("@")
        with self._lock:
            found = self.user_by_name(username)
            if found is not None:
                return found
            uid = user_id or str(self._next_id(self.clock()))
            user = FakeUser(id=uid, username=username, name=name or username.title())
            self.users[uid] = user
            return user

    def user_by_name(self, username: str) -> FakeUser | None:
        wanted = username.lstrip("@").lower()
        for user in self.users.values():
            if user.username.lower() == wanted:
                return user
        return None

    def inject(
        self,
        author: str,
        text: str,
        *,
        likes: int = 0,
        retweets: int = 0,
        created_at: datetime | None = None,
        lang: str = "en",
        reply_to: str | None = None,
        quote_of: str | None = None,
        retweet_of: str | None = None,
    ) -> str:
        """A crowd tweet by `author` (created as needed); returns its id. Ids grow in the
        order tweets are injected, whatever `created_at` says, like tweets arriving."""
        with self._lock:
            user = self.add_user(author)
            moment = created_at or self.clock()
            tweet_id = str(self._next_id(moment))
            tweet = FakeTweet(
                id=tweet_id,
                author_id=user.id,
                text=text,
                created_at=moment,
                likes=likes,
                retweets=retweets,
                lang=lang,
                reply_to=reply_to,
                quote_of=quote_of,
                retweet_of=retweet_of,
                conversation_id=tweet_id,
            )
            if reply_to is not None:
                parent = self.tweets[reply_to]
                parent.replies += 1
                tweet.conversation_id = parent.conversation_id
                tweet.in_reply_to_user_id = parent.author_id
            if quote_of is not None:
                self.tweets[quote_of].quotes += 1
            if retweet_of is not None:
                original = self.tweets[retweet_of]
                original.retweets += 1
                tweet.text = f"RT @{self.users[original.author_id].username}: {original.text}"
            self.tweets[tweet_id] = tweet
            return tweet_id

    def like(self, tweet_id: str, count: int = 1) -> None:
        with self._lock:
            self.tweets[tweet_id].likes += count

    def set_limit(self, endpoint: str, window: str = "15min", *, limit: int, used: int = 0) -> None:
        """Set one rate window of an endpoint ("GET /2/tweets/search/recent", "15min" |
        "user24" | "app24"); `used` calls already spent in the current window."""
        if window not in WINDOW_SECONDS:
            raise ValueError(f"unknown window {window!r}")
        with self._lock:
            windows = self._windows_for(endpoint)
            current = _Window(window, limit, used, self.clock() if used else None)
            windows[window] = current

    def fail(
        self, status: int = 503, *, times: int = 1, endpoint: str | None = None, after: bool = False
    ) -> None:
        """Answer the next `times` requests (to `endpoint`, or any) with `status`. With
        `after`, the request takes effect first and only its answer is lost."""
        with self._lock:
            self._faults.append(_Fault(status, times, endpoint, after))

    def heal(self) -> None:
        """Drop every fault still armed (the end of an outage)."""
        with self._lock:
            self._faults.clear()

    def revoke(self, revoked: bool = True) -> None:
        """Refuse every credential with 401 (a revoked app)."""
        self.revoked = revoked

    def count(self, endpoint: str | None = None, *, status: int | None = None) -> int:
        """How many requests reached the fake (to `endpoint`, e.g. "GET /2/tweets"), or
        with `status` only those answered with it."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (endpoint is None or r.endpoint == endpoint)
                and (status is None or r.status == status)
            )

    def host_tweets(self) -> list[FakeTweet]:
        """The host's tweets (retweets included), oldest first."""
        return [t for t in self._ordered() if t.author_id == self.host.id and not t.deleted]

    # -- the request handler ----------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one request: (status, headers, JSON body). Thread-safe."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        endpoint = endpoint_key(method, path)
        auth = _auth_kind(headers.get("authorization", ""))
        with self._lock:
            returned: list[str] = []
            status, extra, payload = self._dispatch(
                method, path, query, headers, body, endpoint, auth, returned
            )
            self.requests.append(
                RecordedRequest(
                    method, path, query, endpoint, status, auth, tuple(returned), self.clock()
                )
            )
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return status, extra, data

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        endpoint: str,
        auth: str,
        returned: list[str],
    ) -> tuple[int, dict[str, str], Any]:
        now = self.clock()
        limit_headers: dict[str, str] = {}
        try:
            user = self._authenticate(headers.get("authorization", ""), endpoint)
            limit_headers = self._consume(endpoint, now)
            fault = self._take_fault(endpoint)
            if fault is not None and not fault.after:
                raise _Reply(fault.status, f"{_TITLES.get(fault.status, 'Error')} (injected)")
            status, payload = self._route(method, path, query, headers, body, user, now)
            if fault is not None:
                raise _Reply(fault.status, f"{_TITLES.get(fault.status, 'Error')} (injected)")
            returned.extend(_tweet_ids(payload))
            return status, limit_headers, payload
        except _Reply as reply:
            return reply.status, limit_headers, reply.body
        except _RateLimit as limited:
            return 429, limited.headers, _Reply(429, "Too Many Requests").body

    def _authenticate(self, authorization: str, endpoint: str) -> FakeUser | None:
        kind = _auth_kind(authorization)
        if kind == "none" or self.revoked:
            raise _Reply(401, "Unauthorized")
        if kind == "app":
            if endpoint in USER_CONTEXT_ONLY:
                raise _Reply(
                    403,
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                    "endpoint. Supported authentication types are [OAuth 1.0a User Context, "
                    "OAuth 2.0 User Context].",
                    title="Unsupported Authentication",
                )
            return None
        match = re.search(r'oauth_token="([^"]*)"', authorization)
        token = unquote(match.group(1)) if match else ""
        user = self.users.get(token.partition("-")[0])
        if user is None:
            raise _Reply(401, "Unauthorized")
        return user

    def _consume(self, endpoint: str, now: datetime) -> dict[str, str]:
        windows = self._windows_for(endpoint)
        for window in windows.values():
            window.roll(now)
        exhausted = [w for w in windows.values() if w.used >= w.limit]
        if not exhausted:
            for window in windows.values():
                window.used += 1
        out: dict[str, str] = {}
        for window in windows.values():
            prefix = WINDOW_HEADERS[window.kind]
            out[prefix + "limit"] = str(window.limit)
            out[prefix + "remaining"] = str(max(window.limit - window.used, 0))
            out[prefix + "reset"] = str(math.ceil(window.reset_at(now).timestamp()))
        if exhausted:
            raise _RateLimit(out)
        return out

    def _windows_for(self, endpoint: str) -> dict[str, _Window]:
        if endpoint not in self._windows:
            limits = DEFAULT_LIMITS.get(endpoint, FALLBACK_LIMITS)
            self._windows[endpoint] = {k: _Window(k, v) for k, v in limits.items()}
        return self._windows[endpoint]

    def _take_fault(self, endpoint: str) -> _Fault | None:
        for fault in self._faults:
            if fault.endpoint is None or fault.endpoint == endpoint:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- routes -----------------------------------------------------------------------------

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        user: FakeUser | None,
        now: datetime,
    ) -> tuple[int, Any]:
        for route_method, pattern, name in _ROUTES:
            if route_method != method:
                continue
            match = re.fullmatch(pattern, path)
            if match is None:
                continue
            handler = getattr(self, name)
            result: tuple[int, Any] = handler(
                *match.groups(), query=query, headers=headers, body=body, user=user, now=now
            )
            return result
        raise _Reply(404, "Sorry, that page does not exist")

    def _search(self, *, query: dict[str, str], now: datetime, **_: Any) -> tuple[int, Any]:
        text = query.get("query", "").strip()
        if not text:
            raise _Reply(400, "The `query` query parameter can not be empty")
        match = _compile_query(text, self)
        size = _max_results(query, 10, 100, default=10)
        candidates = [
            t
            for t in self._ordered(newest_first=True)
            if not t.deleted and t.created_at >= now - SEARCH_WINDOW and match(t)
        ]
        return 200, self._page(candidates, query, size, token_param="next_token")

    def _mentions(self, user_id: str, *, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        user = self.users.get(user_id)
        if user is None:
            raise _Reply(404, f"Could not find user with id: [{user_id}].")
        pattern = re.compile(rf"(?<![\w@])@{re.escape(user.username)}(?!\w)", re.IGNORECASE)
        size = _max_results(query, 5, 100, default=10)
        candidates = [
            t for t in self._ordered(newest_first=True) if not t.deleted and pattern.search(t.text)
        ]
        return 200, self._page(candidates, query, size, token_param="pagination_token")

    def _user_tweets(self, user_id: str, *, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        if user_id not in self.users:
            raise _Reply(404, f"Could not find user with id: [{user_id}].")
        exclude = set(filter(None, query.get("exclude", "").split(",")))
        size = _max_results(query, 5, 100, default=10)
        candidates = [
            t
            for t in self._ordered(newest_first=True)
            if t.author_id == user_id
            and not t.deleted
            and not ("retweets" in exclude and t.retweet_of)
            and not ("replies" in exclude and t.reply_to)
        ]
        return 200, self._page(candidates, query, size, token_param="pagination_token")

    def _lookup(self, *, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        ids = [i for i in query.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            raise _Reply(400, "The `ids` query parameter must hold between 1 and 100 ids")
        found = [self.tweets[i] for i in ids if i in self.tweets and not self.tweets[i].deleted]
        payload = self._render_list(found, query)
        missing = [i for i in ids if i not in self.tweets or self.tweets[i].deleted]
        if missing:
            payload["errors"] = [
                {
                    "value": i,
                    "detail": f"Could not find tweet with ids: [{i}].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "ids",
                    "resource_id": i,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
                for i in missing
            ]
        payload.pop("meta", None)
        return 200, payload

    def _me(self, *, user: FakeUser | None, **_: Any) -> tuple[int, Any]:
        assert user is not None
        return 200, {"data": _render_user(user)}

    def _user_by_name(self, username: str, **_: Any) -> tuple[int, Any]:
        user = self.user_by_name(username)
        if user is None:
            return 200, {
                "errors": [
                    {
                        "value": username,
                        "detail": f"Could not find user with username: [{username}].",
                        "title": "Not Found Error",
                        "resource_type": "user",
                        "parameter": "username",
                        "resource_id": username,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            }
        return 200, {"data": _render_user(user)}

    def _create(
        self, *, body: bytes, user: FakeUser | None, now: datetime, **_: Any
    ) -> tuple[int, Any]:
        assert user is not None
        request = _json_body(body)
        text = request.get("text")
        media_ids = (request.get("media") or {}).get("media_ids") or []
        if not text and not media_ids:
            raise _Reply(400, "One of text or media is required")
        text = text or ""
        from qasession.text.length import count_length

        if count_length(text, "x") > 280:
            raise _Reply(400, "Your Tweet text is too long.")
        if any(m not in self.media for m in media_ids):
            raise _Reply(400, "Your media IDs are invalid.")
        reply_to = (request.get("reply") or {}).get("in_reply_to_tweet_id")
        quote_of = request.get("quote_tweet_id")
        if reply_to is not None:
            parent = self.tweets.get(str(reply_to))
            if parent is None or parent.deleted:
                raise _Reply(
                    403, "You attempted to reply to a Tweet that is deleted or not visible to you."
                )
            if self.reply_restriction and not self._engaged(parent, user):
                raise _Reply(403, REPLY_RESTRICTED_DETAIL)
        if quote_of is not None and str(quote_of) not in self.tweets:
            raise _Reply(400, f"Could not find the quoted Tweet [{quote_of}].")
        for mine in self.tweets.values():
            if mine.author_id == user.id and not mine.deleted and mine.text == text:
                raise _Reply(403, DUPLICATE_DETAIL)
        tweet_id = self.inject(
            user.username,
            text,
            created_at=now,
            reply_to=str(reply_to) if reply_to is not None else None,
            quote_of=str(quote_of) if quote_of is not None else None,
        )
        self.tweets[tweet_id].media_keys = [self.media[m]["media_key"] for m in media_ids]
        return 201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}

    def _engaged(self, parent: FakeTweet, host: FakeUser) -> bool:
        """X (2026): an app may reply only to its own posts, posts that mention it, or posts
        that quote one of its posts."""
        if parent.author_id == host.id:
            return True
        mention = re.compile(rf"(?<![\w@])@{re.escape(host.username)}(?!\w)", re.IGNORECASE)
        if mention.search(parent.text):
            return True
        quoted = self.tweets.get(parent.quote_of or "")
        return quoted is not None and quoted.author_id == host.id

    def _delete(self, tweet_id: str, *, user: FakeUser | None, **_: Any) -> tuple[int, Any]:
        tweet = self.tweets.get(tweet_id)
        if tweet is None or user is None or tweet.author_id != user.id:
            raise _Reply(403, "You are not allowed to delete this Tweet.")
        tweet.deleted = True
        return 200, {"data": {"deleted": True}}

    def _retweet(
        self, user_id: str, *, body: bytes, user: FakeUser | None, now: datetime, **_: Any
    ) -> tuple[int, Any]:
        assert user is not None
        if user_id != user.id:
            raise _Reply(403, "You are not permitted to perform this action.")
        tweet_id = str(_json_body(body).get("tweet_id", ""))
        original = self.tweets.get(tweet_id)
        if original is None or original.deleted:
            raise _Reply(400, f"Could not find tweet with id: [{tweet_id}].")
        already = any(
            t.retweet_of == tweet_id and t.author_id == user.id and not t.deleted
            for t in self.tweets.values()
        )
        if already:
            raise _Reply(403, ALREADY_RETWEETED_DETAIL)
        self.inject(user.username, "", created_at=now, retweet_of=tweet_id)
        return 200, {"data": {"retweeted": True}}

    def _send_dm(
        self, participant_id: str, *, body: bytes, user: FakeUser | None, now: datetime, **_: Any
    ) -> tuple[int, Any]:
        assert user is not None
        if participant_id not in self.users:
            raise _Reply(400, f"The participant_id [{participant_id}] is not a valid user.")
        if participant_id == user.id:
            raise _Reply(400, "You cannot send a Direct Message to yourself.")
        text = _json_body(body).get("text")
        if not text:
            raise _Reply(400, "One of text or attachments is required")
        low, high = sorted((int(user.id), int(participant_id)))
        conversation = f"{low}-{high}"
        event = FakeDM(
            id=str(self._next_id(now)),
            conversation_id=conversation,
            sender_id=user.id,
            recipient_id=participant_id,
            text=str(text),
            created_at=now,
        )
        self.dms.append(event)
        return 201, {"data": {"dm_conversation_id": conversation, "dm_event_id": event.id}}

    def _dm_events(
        self, participant_id: str, *, query: dict[str, str], user: FakeUser | None, **_: Any
    ) -> tuple[int, Any]:
        assert user is not None
        fields = _csv(query.get("dm_event.fields"))
        size = _max_results(query, 1, 100, default=100)
        events = [
            e
            for e in reversed(self.dms)
            if {e.sender_id, e.recipient_id} == {user.id, participant_id}
        ][:size]
        data = []
        for event in events:
            item: dict[str, Any] = {
                "id": event.id,
                "event_type": "MessageCreate",
                "text": html.escape(event.text, quote=False),
            }
            if "sender_id" in fields:
                item["sender_id"] = event.sender_id
            if "created_at" in fields:
                item["created_at"] = _iso(event.created_at)
            if "dm_conversation_id" in fields:
                item["dm_conversation_id"] = event.conversation_id
            data.append(item)
        payload: dict[str, Any] = {"meta": {"result_count": len(data)}}
        if data:
            payload["data"] = data
        return 200, payload

    def _upload(
        self, *, headers: dict[str, str], body: bytes, now: datetime, **_: Any
    ) -> tuple[int, Any]:
        content_type = headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise _Reply(400, "media upload expects multipart/form-data")
        fields = _multipart(content_type, body)
        if "media" not in fields:
            raise _Reply(400, "The `media` field is required")
        blob, part_type = fields["media"]
        category = fields.get("media_category", (b"tweet_image", ""))[0].decode()
        media_id = str(self._next_id(now))
        info: dict[str, Any] = {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "size": len(blob),
            "expires_after_secs": 86400,
            "image": {"image_type": part_type or "application/octet-stream"},
        }
        self.media[media_id] = {**info, "media_category": category}
        return 200, {"data": info}

    # -- rendering ---------------------------------------------------------------------------

    def _ordered(self, newest_first: bool = False) -> list[FakeTweet]:
        return sorted(self.tweets.values(), key=lambda t: int(t.id), reverse=newest_first)

    def _page(
        self, candidates: list[FakeTweet], query: dict[str, str], size: int, *, token_param: str
    ) -> dict[str, Any]:
        """One page of `candidates` (newest first) after `since_id`, before the token."""
        since = _int_param(query, "since_id")
        if since is not None:
            candidates = [t for t in candidates if int(t.id) > since]
        token = query.get(token_param)
        if token:
            until = _decode_token(token)
            candidates = [t for t in candidates if int(t.id) < until]
        page = candidates[:size]
        payload = self._render_list(page, query)
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"] = page[0].id
            meta["oldest_id"] = page[-1].id
        if len(candidates) > size:
            meta["next_token"] = _encode_token(int(page[-1].id))
        payload["meta"] = meta
        return payload

    def _render_list(self, tweets: list[FakeTweet], query: dict[str, str]) -> dict[str, Any]:
        fields = _csv(query.get("tweet.fields"))
        expansions = _csv(query.get("expansions"))
        user_fields = _csv(query.get("user.fields"))
        payload: dict[str, Any] = {}
        if tweets:
            payload["data"] = [self._render_tweet(t, fields) for t in tweets]
        includes: dict[str, Any] = {}
        if "author_id" in expansions and tweets:
            seen: dict[str, FakeUser] = {}
            for tweet in tweets:
                seen.setdefault(tweet.author_id, self.users[tweet.author_id])
            includes["users"] = [_render_user(u, user_fields) for u in seen.values()]
        if "referenced_tweets.id" in expansions:
            refs = [
                self.tweets[r]
                for t in tweets
                for r in (t.reply_to, t.quote_of, t.retweet_of)
                if r is not None and r in self.tweets
            ]
            if refs:
                unique = {t.id: t for t in refs}
                includes["tweets"] = [self._render_tweet(t, fields) for t in unique.values()]
        if includes:
            payload["includes"] = includes
        return payload

    def _render_tweet(self, tweet: FakeTweet, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": tweet.id,
            # X escapes &, < and > in text
            "text": html.escape(tweet.text, quote=False),
            "edit_history_tweet_ids": [tweet.id],
        }
        if "created_at" in fields:
            out["created_at"] = _iso(tweet.created_at)
        if "author_id" in fields:
            out["author_id"] = tweet.author_id
        if "conversation_id" in fields:
            out["conversation_id"] = tweet.conversation_id
        if "lang" in fields:
            out["lang"] = tweet.lang
        if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id:
            out["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        if "public_metrics" in fields:
            out["public_metrics"] = {
                "retweet_count": tweet.retweets,
                "reply_count": tweet.replies,
                "like_count": tweet.likes,
                "quote_count": tweet.quotes,
                "bookmark_count": 0,
                "impression_count": 0,
            }
        if "referenced_tweets" in fields:
            refs = [
                {"type": kind, "id": ref}
                for kind, ref in (
                    ("retweeted", tweet.retweet_of),
                    ("quoted", tweet.quote_of),
                    ("replied_to", tweet.reply_to),
                )
                if ref is not None
            ]
            if refs:
                out["referenced_tweets"] = refs
        if "attachments" in fields and tweet.media_keys:
            out["attachments"] = {"media_keys": list(tweet.media_keys)}
        return out

    def _next_id(self, moment: datetime) -> int:
        with self._lock:
            self._last_id = max(self._last_id + 1, snowflake(moment))
            return self._last_id


class _RateLimit(Exception):
    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__("rate limited")
        self.headers = headers


_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", r"/2/tweets/search/recent", "_search"),
    ("GET", r"/2/tweets", "_lookup"),
    ("POST", r"/2/tweets", "_create"),
    ("DELETE", r"/2/tweets/(\d+)", "_delete"),
    ("GET", r"/2/users/me", "_me"),
    ("GET", r"/2/users/by/username/([^/]+)", "_user_by_name"),
    ("GET", r"/2/users/(\d+)/mentions", "_mentions"),
    ("GET", r"/2/users/(\d+)/tweets", "_user_tweets"),
    ("POST", r"/2/users/(\d+)/retweets", "_retweet"),
    ("POST", r"/2/dm_conversations/with/(\d+)/messages", "_send_dm"),
    ("GET", r"/2/dm_conversations/with/(\d+)/dm_events", "_dm_events"),
    ("POST", r"/2/media/upload", "_upload"),
)


# -- query language ---------------------------------------------------------------------------


def _compile_query(text: str, fake: XFake) -> Callable[[FakeTweet], bool]:
    """The subset of X's search operators the adapter uses: terms, #tags, @mentions,
    [-]is:retweet|reply|quote, [-]from:user, lang:xx; all ANDed. Anything else is a 400, so a
    query the fake does not understand fails loudly instead of matching wrongly."""
    tests: list[Callable[[FakeTweet], bool]] = []
    for raw in text.split():
        negate = raw.startswith("-")
        token = raw[1:] if negate else raw
        if not token or token.upper() in {"OR", "AND"} or any(c in token for c in '()"'):
            raise _Reply(400, f"The fake does not support the query operator [{raw}]")
        tests.append(_term(token, fake, negate))
    return lambda tweet: all(test(tweet) for test in tests)


def _term(token: str, fake: XFake, negate: bool) -> Callable[[FakeTweet], bool]:
    test: Callable[[FakeTweet], bool]
    low = token.lower()
    if low == "is:retweet":
        test = lambda t: t.retweet_of is not None  # noqa: E731
    elif low == "is:reply":
        test = lambda t: t.reply_to is not None  # noqa: E731
    elif low == "is:quote":
        test = lambda t: t.quote_of is not None  # noqa: E731
    elif low.startswith("from:"):
        name = low[5:].lstrip("@")
        test = lambda t: fake.users[t.author_id].username.lower() == name  # noqa: E731
    elif low.startswith("lang:"):
        lang = low[5:]
        test = lambda t: t.lang == lang  # noqa: E731
    elif ":" in low:
        raise _Reply(400, f"The fake does not support the query operator [{token}]")
    else:
        # hashtags, mentions and words match whole tokens, case-insensitively, like X
        pattern = re.compile(rf"(?<![\w#@]){re.escape(token)}(?!\w)", re.IGNORECASE)
        test = lambda t: pattern.search(t.text) is not None  # noqa: E731
    if negate:
        return lambda t: not test(t)
    return test


# -- helpers ----------------------------------------------------------------------------------


def _auth_kind(authorization: str) -> str:
    if authorization.startswith("OAuth "):
        return "user"
    if authorization.startswith("Bearer ") and authorization[7:].strip():
        return "app"
    return "none"


def _csv(value: str | None) -> set[str]:
    return {v for v in (value or "").split(",") if v}


def _int_param(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise _Reply(400, f"The `{name}` query parameter value [{value}] is not valid")
    return int(value)


def _max_results(query: dict[str, str], low: int, high: int, *, default: int) -> int:
    value = _int_param(query, "max_results")
    if value is None:
        return default
    if not low <= value <= high:
        raise _Reply(
            400,
            f"The `max_results` query parameter value [{value}] is not between {low} and {high}",
        )
    return value


def _encode_token(until_id: int) -> str:
    return base64.b32encode(str(until_id).encode()).decode().rstrip("=").lower()


def _decode_token(token: str) -> int:
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        return int(base64.b32decode(padded).decode())
    except (ValueError, UnicodeDecodeError):
        raise _Reply(400, f"The pagination token [{token}] is not valid") from None


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except json.JSONDecodeError:
        raise _Reply(400, "The request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise _Reply(400, "The request body must be a JSON object")
    return parsed


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[bytes, str]]:
    """Fields of a multipart/form-data body: name -> (bytes, content type)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        blob = payload if isinstance(payload, bytes) else b""
        fields[name] = (blob, part.get_content_type() if part.get("content-type") else "")
    return fields


def _render_user(user: FakeUser, fields: Iterable[str] = ()) -> dict[str, Any]:
    out = {"id": user.id, "name": user.name, "username": user.username}
    if "protected" in fields:
        out["protected"] = "false"
    return out


def _tweet_ids(payload: Any) -> Iterator[str]:
    if isinstance(payload, dict):
        data = payload.get("data")
        if isinstance(data, list):
            for item in data:
                if isinstance(item, dict) and "edit_history_tweet_ids" in item:
                    yield str(item["id"])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: XFake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.server.fake.handle(self.command, self.path, headers, body)
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `XFake.requests` instead."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.x_fake",
        description="Serve a fake X API v2 on 127.0.0.1 (state in memory) until interrupted.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--username", default="host", help="the host account's username")
    parser.add_argument("--user-id", default="100001", help="the host account's id")
    parser.add_argument(
        "--no-reply-restriction",
        action="store_true",
        help="allow replies to posts that did not mention the host",
    )
    args = parser.parse_args(argv)
    fake = XFake(
        username=args.username,
        user_id=args.user_id,
        port=args.port,
        reply_restriction=not args.no_reply_restriction,
    )
    url = fake.start()
    print(f"fake X API on {url} (host @{fake.host.username}, id {fake.host.id})", flush=True)
    print(f"  plan:  x: {{api_base: {url}}}", flush=True)
    print(
        f"  env:   X_API_KEY=fake-key X_API_SECRET=fake-secret "
        f"X_ACCESS_TOKEN={fake.access_token()} "
        "X_ACCESS_TOKEN_SECRET=fake-token-secret",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
