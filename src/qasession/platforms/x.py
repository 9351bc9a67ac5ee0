"""The X (Twitter) platform, over tweepy's API v2 `Client`, with rate limits and costs reported.

Credentials come from the environment (`X_API_KEY`, `X_API_SECRET`, `X_ACCESS_TOKEN`,
`X_ACCESS_TOKEN_SECRET`, optional `X_BEARER_TOKEN` for app-only reads) and are held as
`SecretStr`: they never appear in a repr, a message or a log record of ours (tweepy's and
oauthlib's DEBUG records, which print request headers, are dropped).

Where requests go (`api_base`): tweepy hardcodes `https://api.twitter.com`, so the adapter
replaces `client.session` with a `requests.Session` subclass whose `prepare_request` rewrites
that prefix to `api_base` *before* OAuth 1.0a signs the request (the signature covers the
URL), whose `send` applies the `timeout` setting, and whose response hook reads the rate-limit
headers of every response (15-minute `x-rate-limit-*`, 24-hour `x-user-limit-24hour-*` and
`x-app-limit-24hour-*`) per endpoint. Tests point `api_base` at `x_fake` on 127.0.0.1.

Rate limits: tweepy's `wait_on_rate_limit` stays off (it sleeps inside the call and ignores the
24-hour windows). A 429 becomes `RateLimited` at the later reset of the exhausted windows, and
once the adapter knows an endpoint's window is exhausted it refuses to call it (raises
`RateLimited` again, without a request) until that reset, as measured by the platform's clock.

Reading: one `search()` is one request per source: recent search for
`#tag -is:retweet -from:<host>` and, with `mentions: true`, the host's mentions (every mention,
with or without the tag). X pages newest first with a `next_token`; the cursor is a small JSON
object holding, per source, `since` (the newest id of the last finished run), `next` (the
pending token) and `top` (the newest id seen in the running pagination). `more` stays true
while a token is pending; posts of one page come oldest first. Posts are deduplicated within a
call, not across calls: the store does that, and a caller that failed to commit must get the
same posts again from the same cursor. tweepy hands back the raw response (`return_type` is
`requests.Response`): bodies with tweets go straight to posts through `x_wire.decode_payload`
(msgspec, only the fields a post needs), the others through `json`.

Writing: `repost` returns the *source* post's id (X's retweet answer carries no id of its own,
and X addresses a retweet by its source, e.g. to undo it). X has no idempotency keys, so
`find_sent(key)` works from what this adapter tried under `key` (kept in memory and appended to
`x-sent.jsonl` under the home directory, so a restarted process can reconcile too) and looks
for it in the host's last 20 posts (posts: same text, whitespace, entities and links
normalized; reposts: a retweet of the same source) or in the last 20 direct messages to the
recipient. Limits: something sent by another tool, longer ago than 20 posts, or edited by X
beyond link shortening is not found (the outbox then re-sends, and X's duplicate-content refusal
still stops a second identical post).

Cost: `counters` count billable calls; `spend()` prices reads at `price_read`, posts at
`price_post` (those with a link at `price_post_url` instead), and reposts and direct messages
as posts (X bills them as created content). `estimate_cost()` does the same before a session.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from qasession.clock import Clock
from qasession.errors import (
    AuthError,
    DuplicatePost,
    NotFound,
    PlatformError,
    QAError,
    RateLimited,
    ReplyRestricted,
)
from qasession.platforms.base import (
    Author,
    Capabilities,
    Media,
    Platform,
    Post,
    PostRef,
    RateBudget,
    SearchLimits,
    SearchPage,
    http_url,
)
from qasession.platforms.x_wire import (
    Payload,
    decode_payload,
    is_retweet,
)
from qasession.text.length import has_url

if TYPE_CHECKING:
    import requests

X_HOST = "https://api.twitter.com"
_Body = TypeVar("_Body")
SENT_FILE = "x-sent.jsonl"
LOOKUP_BATCH = 100  # X's limit of ids per GET /2/tweets
RECENT_OWN = 20  # how many of the host's recent posts `find_sent` looks at
DM_MAX_LENGTH = 10_000

ENV_VARS = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
BEARER_VAR = "X_BEARER_TOKEN"

SEARCH = "GET /2/tweets/search/recent"
MENTIONS = "GET /2/users/:id/mentions"
LOOKUP = "GET /2/tweets"
USER_TWEETS = "GET /2/users/:id/tweets"
ME = "GET /2/users/me"
USER_BY_NAME = "GET /2/users/by/username/:name"
CREATE = "POST /2/tweets"
RETWEET = "POST /2/users/:id/retweets"
DM = "POST /2/dm_conversations/with/:id/messages"
DM_EVENTS = "GET /2/dm_conversations/with/:id/dm_events"
UPLOAD = "POST /2/media/upload"

EXPANSIONS = ["author_id", "referenced_tweets.id"]
TWEET_FIELDS = [
    "created_at",
    "public_metrics",
    "conversation_id",
    "referenced_tweets",
    "lang",
    "author_id",
]
USER_FIELDS = ["username"]

# header prefix -> window name, for the windows X reports on its responses
_WINDOW_HEADERS = {
    "x-rate-limit-": "15min",
    "x-user-limit-24hour-": "user24",
    "x-app-limit-24hour-": "app24",
}
# loggers that print request headers (Authorization, OAuth parameters) at DEBUG
_CHATTY_LOGGERS = ("tweepy.client", "requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849")


class XSettings(BaseModel):
    """Settings under `x:` in the plan."""

    model_config = ConfigDict(extra="forbid")

    api_base: str = Field(default=X_HOST, description="where API requests go (tests: the fake)")
    mentions: bool = Field(default=False, description="also read the host's mentions")
    budget_usd: float | None = Field(default=None, ge=0, description="spending limit of a session")
    price_read: float = Field(default=0.005, ge=0, description="USD per post read")
    price_post: float = Field(default=0.015, ge=0, description="USD per post created")
    price_post_url: float = Field(
        default=0.20, ge=0, description="USD per post created with a link"
    )
    timeout: float = Field(default=10, gt=0, description="seconds per HTTP request")
    max_results: int = Field(default=100, ge=10, le=100, description="posts per search request")
    expected_posts: int = Field(
        default=1000, ge=0, description="posts expected on the hashtag (for the cost estimate)"
    )
    # for the plan's estimate only: `qa run` paces itself on the limits X's headers report
    rate_limit: int = Field(
        default=300, ge=1, description="recent-search requests per rate window (estimate)"
    )
    rate_window: int = Field(default=900, ge=1, description="rate window in seconds (estimate)")

    @field_validator("api_base")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value, "api_base", "https://api.twitter.com")


class XCredentials(BaseModel):
    """The app's and the host account's keys; `SecretStr` keeps them out of reprs."""

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr
    api_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr
    bearer_token: SecretStr | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> XCredentials:
        """Read the credentials; missing ones are one AuthError naming the variables."""
        env = os.environ if environ is None else environ
        values = {name: env.get(name, "").strip() for name in (*ENV_VARS, BEARER_VAR)}
        missing = [name for name in ENV_VARS if not values[name]]
        if missing:
            raise AuthError(
                f"missing X credentials: {', '.join(missing)} (set them in the environment)"
            )
        return cls(
            api_key=SecretStr(values["X_API_KEY"]),
            api_secret=SecretStr(values["X_API_SECRET"]),
            access_token=SecretStr(values["X_ACCESS_TOKEN"]),
            access_token_secret=SecretStr(values["X_ACCESS_TOKEN_SECRET"]),
            bearer_token=SecretStr(values[BEARER_VAR]) if values[BEARER_VAR] else None,
        )

    def secrets(self) -> list[str]:
        values = [self.api_key, self.api_secret, self.access_token, self.access_token_secret]
        if self.bearer_token is not None:
            values.append(self.bearer_token)
        return [v.get_secret_value() for v in values if v.get_secret_value()]


# -- cost --------------------------------------------------------------------------------------


def _as_settings(settings: XSettings | Mapping[str, Any] | None) -> XSettings:
    if isinstance(settings, XSettings):
        return settings
    return XSettings.model_validate(dict(settings or {}))


def estimate_cost(
    settings: XSettings | Mapping[str, Any] | None,
    *,
    expected_posts: int,
    posts_to_create: int,
    with_url: int = 0,
) -> dict[str, Any]:
    """What a session should cost on X's pay-per-use pricing, before it runs.

    `expected_posts` crowd posts read once each, `posts_to_create` posts, reposts and direct
    messages sent, of which `with_url` carry a link (priced at `price_post_url` instead of
    `price_post`). Its `search_requests` is the fewest that can read the posts (one per
    `max_results`); `qa plan` shows the requests the pacing makes instead (session.reading):
    reads are billed per post, so requests change the rate limit's use, not the dollars.
    """
    config = _as_settings(settings)
    expected_posts = max(expected_posts, 0)
    with_url = max(with_url, 0)
    posts_to_create = max(posts_to_create, with_url)
    plain = posts_to_create - with_url
    read_usd = expected_posts * config.price_read
    post_usd = plain * config.price_post
    url_usd = with_url * config.price_post_url
    total = round(read_usd + post_usd + url_usd, 4)
    return {
        "posts_read": expected_posts,
        "search_requests": max(1, math.ceil(expected_posts / config.max_results)),
        "posts_created": posts_to_create,
        "posts_created_with_url": with_url,
        "read_usd": round(read_usd, 4),
        "post_usd": round(post_usd, 4),
        "url_usd": round(url_usd, 4),
        "total_usd": total,
        "budget_usd": config.budget_usd,
        "within_budget": None if config.budget_usd is None else total <= config.budget_usd,
    }


# -- comparing what was sent with what X shows ---------------------------------------------------


def _normalize(text: str) -> str:
    """Text as X gives it back, for comparison: entities decoded, links (which X shortens
    to t.co) replaced by a marker, whitespace collapsed, case kept."""
    text = html.unescape(text)
    text = re.sub(r"https?://\S+", "<link>", text)
    return " ".join(text.split())


def endpoint_key(method: str, path: str) -> str:
    """'GET /2/users/123/mentions' -> 'GET /2/users/:id/mentions' (X limits are per route)."""
    if path.startswith("/2/"):
        rest = re.sub(r"/by/username/[^/]+", "/by/username/:name", path[2:])
        rest = re.sub(r"/\d+(?:-\d+)?(?=/|$)", "/:id", rest)
        path = "/2" + rest
    return f"{method.upper()} {path}"


# -- the cursor ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Source:
    since: str | None = None  # newest id of the last finished run
    next: str | None = None  # pagination token of the running run
    top: str | None = None  # newest id seen in the running run

    def to_json(self) -> dict[str, str]:
        return {
            k: v for k, v in (("since", self.since), ("next", self.next), ("top", self.top)) if v
        }


def _newest(*ids: str | None) -> str | None:
    known = [int(i) for i in ids if i and i.isdigit()]
    return str(max(known)) if known else None


def _load_cursor(cursor: str | None) -> dict[str, _Source]:
    state = {"q": _Source(), "m": _Source()}
    if not cursor:
        return state
    if cursor.isdigit():  # a bare since-id (like the local platform's cursor)
        state["q"].since = cursor
        return state
    try:
        raw = json.loads(cursor)
    except json.JSONDecodeError:
        raise PlatformError(f"not an X search cursor: {cursor[:40]!r}") from None
    for name, source in state.items():
        item = raw.get(name) if isinstance(raw, dict) else None
        if isinstance(item, dict):
            source.since = _str_or_none(item.get("since"))
            source.next = _str_or_none(item.get("next"))
            source.top = _str_or_none(item.get("top"))
    return state


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _dump_cursor(state: Mapping[str, _Source]) -> str | None:
    raw = {name: s.to_json() for name, s in state.items() if s.to_json()}
    return json.dumps(raw, separators=(",", ":"), sort_keys=True) if raw else None


# -- rate windows -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Window:
    limit: int
    remaining: int
    reset_at: datetime


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_DROP_DEBUG = _DropDebug()


def _make_session(
    api_base: str, timeout: float, observe: Callable[[requests.Response], None]
) -> requests.Session:
    """A session for tweepy's client that sends to `api_base`, with a default timeout, and
    shows every response to `observe` (rate-limit headers)."""
    import requests

    class XSession(requests.Session):
        def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
            # rewrite before OAuth 1.0a signs: the signature covers the URL
            url = request.url
            if isinstance(url, str) and url.startswith(X_HOST + "/") and api_base != X_HOST:
                request.url = api_base + url[len(X_HOST) :]
            return super().prepare_request(request)

        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().send(request, **kwargs)

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        observe(response)

    session = XSession()
    session.hooks["response"].append(hook)
    return session


@dataclass(slots=True)
class _Attempt:
    kind: str  # "post" | "repost" | "dm"
    text: str | None = None
    target: str | None = None  # reposted id, or the DM recipient's handle


class XPlatform(Platform):
    """X through tweepy's v2 `Client`; see the module docstring for the choices made."""

    name: ClassVar[str] = "x"
    CAPABILITIES: ClassVar[Capabilities] = Capabilities(
        repost=True,
        reply=True,
        quote=True,
        dm=True,
        media=True,
        max_length=280,
        length_method="x",
        dm_max_length=DM_MAX_LENGTH,
        reply_needs_mention=True,
        can_lookup_sent=True,
        lookups_billed=True,
    )
    Settings: ClassVar[type[BaseModel]] = XSettings
    settings: XSettings

    @classmethod
    def hashtag_url(cls, settings: BaseModel, hashtag: str) -> str | None:
        return f"https://x.com/hashtag/{hashtag}"

    @classmethod
    def post_url(cls, settings: BaseModel, author: str, post_id: str) -> str | None:
        return f"https://x.com/{author.lstrip('@')}/status/{post_id}" if post_id.isdigit() else None

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        *,
        home: Path,
        clock: Clock | None = None,
        account: str | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(settings, home=home, clock=clock, account=account, source=source)
        self.credentials = XCredentials.from_env()
        import requests
        import tweepy

        self._tweepy = tweepy
        self._requests = requests
        for name in _CHATTY_LOGGERS:
            logger = logging.getLogger(name)
            if _DROP_DEBUG not in logger.filters:
                logger.addFilter(_DROP_DEBUG)
        creds = self.credentials
        self._client = tweepy.Client(
            bearer_token=creds.bearer_token.get_secret_value() if creds.bearer_token else None,
            consumer_key=creds.api_key.get_secret_value(),
            consumer_secret=creds.api_secret.get_secret_value(),
            access_token=creds.access_token.get_secret_value(),
            access_token_secret=creds.access_token_secret.get_secret_value(),
            return_type=requests.Response,  # bodies are decoded by x_wire (posts) or json
            wait_on_rate_limit=False,
        )
        self._base_path = re.sub(r"^https?://[^/]+", "", self.settings.api_base)
        self._session = _make_session(self.settings.api_base, self.settings.timeout, self._observe)
        self._client.session = self._session
        # reads go app-only when a bearer token is given, else in the user's context
        self._read_user_auth = creds.bearer_token is None
        self._windows: dict[str, dict[str, _Window]] = {}
        self._blocked: dict[str, datetime] = {}
        self._me: tuple[str, str] | None = None  # (id, username)
        self._user_ids: dict[str, str] = {}
        self._attempts: dict[str, list[_Attempt]] = {}
        self._attempts_loaded = False
        self._confirmed: set[str] = set()  # keys this process saw succeed (already counted)

    def __repr__(self) -> str:
        return f"XPlatform(api_base={self.settings.api_base!r}, account={self.account!r})"

    # -- plumbing ------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        for secret in self.credentials.secrets():
            text = text.replace(secret, "[redacted]")
        return text

    def _observe(self, response: requests.Response) -> None:
        """Remember the rate windows X reports on a response, per endpoint."""
        from urllib.parse import urlsplit

        path = urlsplit(response.url or "").path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        method = response.request.method if response.request is not None else "GET"
        key = endpoint_key(method or "GET", path)
        headers = response.headers
        for prefix, window in _WINDOW_HEADERS.items():
            try:
                limit = int(headers[prefix + "limit"])
                remaining = int(headers[prefix + "remaining"])
                reset = int(headers[prefix + "reset"])
            except (KeyError, ValueError):
                continue
            self._windows.setdefault(key, {})[window] = _Window(
                limit, remaining, datetime.fromtimestamp(reset, UTC)
            )

    def _check_window(self, endpoint: str) -> None:
        """Refuse to call an endpoint whose window is known to be exhausted."""
        now = self.clock.wall_now()  # rate windows are on the wall clock
        resets = [
            w.reset_at
            for w in self._windows.get(endpoint, {}).values()
            if w.remaining <= 0 and w.reset_at > now
        ]
        blocked = self._blocked.get(endpoint)
        if blocked is not None and blocked > now:
            resets.append(blocked)
        if resets:
            raise RateLimited(max(resets), f"X rate limit of {endpoint} exhausted")

    def _reset_after_429(self, endpoint: str) -> datetime:
        now = self.clock.wall_now()
        windows = self._windows.get(endpoint, {})
        exhausted = [w.reset_at for w in windows.values() if w.remaining <= 0]
        if exhausted:
            reset = max(exhausted)
        elif "15min" in windows:
            reset = windows["15min"].reset_at
        else:
            reset = now + timedelta(seconds=60)  # X said 429 without saying until when
        return max(reset, now + timedelta(seconds=1))

    def _call(self, endpoint: str, fn: Callable[[], Any]) -> dict[str, Any]:
        """Run one tweepy call for `endpoint` and return its JSON body as a dict."""
        result = self._call_body(endpoint, fn, lambda response: response.json())
        return result if isinstance(result, dict) else {}

    def _call_posts(self, endpoint: str, fn: Callable[[], Any]) -> Payload:
        """`_call` for endpoints that return tweets, decoded straight into posts."""
        return self._call_body(endpoint, fn, lambda response: decode_payload(response.content))

    def _call_body(
        self,
        endpoint: str,
        fn: Callable[[], Any],
        decode: Callable[[requests.Response], _Body],
    ) -> _Body:
        """Run one tweepy call, translating its failures into our errors, and decode the
        response (a body that is no JSON is a retryable error)."""
        self._check_window(endpoint)
        try:
            response: requests.Response = fn()
        except self._tweepy.HTTPException as exc:
            self.counters.errors += 1
            raise self._http_error(endpoint, exc.response) from None
        except self._requests.RequestException as exc:
            self.counters.errors += 1
            raise self._network_error(endpoint, exc) from None
        try:
            return decode(response)
        except ValueError:
            self.counters.errors += 1
            raise PlatformError(f"X API answered {endpoint} with no JSON", retryable=True) from None

    def _network_error(self, endpoint: str, exc: Exception) -> PlatformError:
        what = "timed out" if isinstance(exc, self._requests.Timeout) else "unreachable"
        detail = self._scrub(" ".join(str(exc).split()))[:200]
        return PlatformError(f"X API {what} ({endpoint}): {detail}", retryable=True)

    def _detail(self, response: requests.Response) -> str:
        """The API's explanation, on one line, without credentials."""
        parts: list[str] = []
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            for error in body.get("errors") or []:
                if isinstance(error, dict):
                    message = error.get("message") or error.get("detail")
                    if message:
                        parts.append(str(message))
                elif isinstance(error, str):
                    parts.append(error)
            if body.get("detail") and str(body["detail"]) not in parts:
                parts.insert(0, str(body["detail"]))
            if not parts and body.get("title"):
                parts.append(str(body["title"]))
        if not parts:
            parts.append((response.text or response.reason or "").strip()[:200])
        text = " ".join(" ".join(parts).split())
        return self._scrub(text)[:300] or "no detail"

    def _http_error(self, endpoint: str, response: requests.Response) -> QAError:
        status = response.status_code
        detail = self._detail(response)
        low = detail.lower()
        if status == 429:
            reset = self._reset_after_429(endpoint)
            self._blocked[endpoint] = reset
            return RateLimited(reset, f"X rate limit reached ({endpoint})")
        if status == 401:
            return AuthError(
                f"X refused the credentials: {detail}",
                hint="check X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET",
            )
        if status == 403:
            if "duplicate" in low:
                return DuplicatePost(f"X refused a duplicate post: {detail}")
            if "already" in low and ("retweet" in low or "repost" in low):
                return DuplicatePost(f"already reposted: {detail}")
            if "reply" in low or "replies" in low:
                return ReplyRestricted(f"X refused the reply: {detail}")
            return PlatformError(f"X API 403 ({endpoint}): {detail}")
        if status == 404:
            return NotFound(f"X API 404 ({endpoint}): {detail}")
        if status >= 500:
            return PlatformError(f"X API {status} ({endpoint}): {detail}", retryable=True)
        return PlatformError(f"X API {status} ({endpoint}): {detail}")

    # -- identity ------------------------------------------------------------------------------

    def _identity(self) -> tuple[str, str]:
        if self._me is None:
            payload = self._call(ME, lambda: self._client.get_me(user_auth=True))
            data = payload.get("data") or {}
            if "id" not in data or "username" not in data:
                raise PlatformError("X did not say whose credentials these are (GET /2/users/me)")
            username = str(data["username"])
            if self.account and self.account.lstrip("@").lower() != username.lower():
                raise AuthError(
                    f"the X credentials belong to @{username}, not {self.account}",
                    hint="set the credentials of the account named in the plan",
                )
            self._me = (str(data["id"]), username)
        return self._me

    def me(self) -> str:
        return "@" + self._identity()[1]

    def _user_id(self, handle: str) -> str:
        name = handle.strip().lstrip("@")
        key = name.lower()
        if key not in self._user_ids:
            payload = self._call(
                USER_BY_NAME,
                lambda: self._client.get_user(username=name, user_auth=self._read_user_auth),
            )
            data = payload.get("data") or {}
            if "id" not in data:
                raise NotFound(f"no X user @{name}")
            self._user_ids[key] = str(data["id"])
        return self._user_ids[key]

    # -- reading -------------------------------------------------------------------------------

    def search(self, hashtag: str, cursor: str | None = None) -> SearchPage:
        tag = hashtag.strip()
        tag = tag if tag.startswith("#") else "#" + tag
        state = _load_cursor(cursor)
        sources = ["q", "m"] if self.settings.mentions else ["q"]
        pending = [s for s in sources if state[s].next]
        rest = [s for s in sources if s not in pending]
        # a running pagination goes first; the other sources wait for its end, unless every
        # pending one is throttled or failing
        groups = [pending, rest] if pending else [rest]
        posts: dict[str, Post] = {}
        fetched = False
        failure: PlatformError | None = None
        for group in groups:
            for name in group:
                try:
                    for post in self._fetch(name, tag, state[name]):
                        posts.setdefault(post.id, post)
                except PlatformError as exc:
                    failure = failure or exc
                    continue
                fetched = True
            if fetched:
                break
        if not fetched and failure is not None:
            raise failure
        ordered = sorted(posts.values(), key=lambda p: int(p.id))
        more = any(state[s].next for s in sources)
        return SearchPage(ordered, _dump_cursor(state), more)

    def _fetch(self, name: str, tag: str, source: _Source) -> list[Post]:
        """One page of one source; advances `source` (the caller's copy of the cursor)."""
        host_id, host = self._identity()
        common: dict[str, Any] = {
            "since_id": source.since,
            "max_results": self.settings.max_results,
            "expansions": EXPANSIONS,
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
            "user_auth": self._read_user_auth,
        }
        if name == "q":
            query = f"{tag} -is:retweet -from:{host}"
            payload = self._call_posts(
                SEARCH,
                lambda: self._client.search_recent_tweets(query, next_token=source.next, **common),
            )
        else:
            payload = self._call_posts(
                MENTIONS,
                lambda: self._client.get_users_mentions(
                    host_id, pagination_token=source.next, **common
                ),
            )
        self.counters.search_requests += 1
        self.counters.posts_read += len(payload.posts)
        newest = _newest(source.top, payload.newest_id, *(p.id for p in payload.posts))
        token = payload.next_token
        if token and payload.posts:
            source.next, source.top = token, newest
        else:
            source.since = _newest(source.since, newest)
            source.next = source.top = None
        own = "@" + host.lower()
        posts = [
            post
            for post in payload.posts
            if post.id not in payload.retweets and post.author.lower() != own
        ]
        for post in posts:
            post.platform = self.source
        return posts

    def rate_budget(self) -> RateBudget | None:
        """The tightest current window of the search endpoints (mentions included when on)."""
        now = self.clock.wall_now()
        endpoints = [SEARCH, MENTIONS] if self.settings.mentions else [SEARCH]
        live = [w for e in endpoints for w in self._windows.get(e, {}).values() if w.reset_at > now]
        if not live:
            return None
        tightest = min(live, key=lambda w: (w.remaining, w.reset_at))
        return RateBudget(tightest.remaining, tightest.limit, tightest.reset_at)

    def lookup(self, ids: Sequence[str]) -> list[Post]:
        """Current metrics of posts, 100 ids per request; every post returned is a read."""
        wanted = list(dict.fromkeys(str(i) for i in ids if str(i).isdigit()))
        found: list[Post] = []
        for start in range(0, len(wanted), LOOKUP_BATCH):
            batch = wanted[start : start + LOOKUP_BATCH]
            payload = self._call_posts(LOOKUP, functools.partial(self._get_tweets, batch))
            self.counters.posts_read += len(payload.posts)
            found.extend(payload.posts)
        for post in found:
            post.platform = self.source
        return found

    def _get_tweets(self, ids: list[str]) -> Any:
        return self._client.get_tweets(
            ids,
            expansions=EXPANSIONS,
            tweet_fields=TWEET_FIELDS,
            user_fields=USER_FIELDS,
            user_auth=self._read_user_auth,
        )

    # -- writing -------------------------------------------------------------------------------

    def upload_media(self, media: Media | str | Path) -> str:
        """Upload an image through v2 `POST /2/media/upload` (OAuth 1.0a user context);
        returns the media id."""
        import mimetypes

        from requests_oauthlib import OAuth1

        file = Path(media.path if isinstance(media, Media) else media)
        if not file.is_file():
            raise PlatformError(f"no image file at {file}")
        self._check_window(UPLOAD)
        creds = self.credentials
        auth = OAuth1(
            creds.api_key.get_secret_value(),
            client_secret=creds.api_secret.get_secret_value(),
            resource_owner_key=creds.access_token.get_secret_value(),
            resource_owner_secret=creds.access_token_secret.get_secret_value(),
        )
        mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        try:
            with file.open("rb") as handle:
                response = self._session.post(
                    X_HOST + "/2/media/upload",
                    files={"media": (file.name, handle, mime)},
                    data={"media_category": "tweet_image"},
                    auth=auth,
                )
        except self._requests.RequestException as exc:
            self.counters.errors += 1
            raise self._network_error(UPLOAD, exc) from None
        if not 200 <= response.status_code < 300:
            self.counters.errors += 1
            raise self._http_error(UPLOAD, response)
        body = response.json()
        data = body.get("data") if isinstance(body, dict) else None
        media_id = (data or {}).get("id") or (body or {}).get("media_id_string")
        if not media_id:
            raise PlatformError("X accepted the upload but returned no media id")
        return str(media_id)

    def post(
        self,
        text: str,
        *,
        reply_to: PostRef | None = None,
        quote_of: PostRef | None = None,
        media: Sequence[Media] = (),
        idempotency_key: str | None = None,
    ) -> PostRef:
        """Post (reply, quote). `media` entries are image paths (uploaded first) or media ids
        already uploaded (all digits)."""
        self.check_length(text)
        media_ids = [
            m.path if m.path.isdigit() and not Path(m.path).is_file() else self.upload_media(m)
            for m in media
        ]
        self._remember(idempotency_key, _Attempt("post", text=text))
        try:
            payload = self._call(
                CREATE,
                lambda: self._client.create_tweet(
                    text=text,
                    in_reply_to_tweet_id=reply_to.id if reply_to else None,
                    quote_tweet_id=quote_of.id if quote_of else None,
                    media_ids=media_ids or None,
                    user_auth=True,
                ),
            )
        except DuplicatePost as exc:
            try:
                existing = self._find_own_post([text])
            except PlatformError:
                existing = None  # still a duplicate; only its id is unknown
            raise DuplicatePost(exc.message, existing_id=existing) from None
        data = payload.get("data") or {}
        if "id" not in data:
            raise PlatformError("X accepted the post but returned no id", retryable=True)
        self._count_post(text)
        self._confirm(idempotency_key)
        return PostRef(self.source, str(data["id"]))

    def _count_post(self, text: str) -> None:
        self.counters.posts_created += 1
        if has_url(text):
            self.counters.posts_created_with_url += 1

    def repost(self, post: PostRef, *, idempotency_key: str | None = None) -> PostRef:
        """Retweet `post`; returns it (X gives a retweet no id of its own)."""
        post_id = post.id
        self._remember(idempotency_key, _Attempt("repost", target=str(post_id)))
        try:
            self._call(RETWEET, lambda: self._client.retweet(post_id, user_auth=True))
        except DuplicatePost as exc:
            raise DuplicatePost(exc.message, existing_id=str(post_id)) from None
        self.counters.reposts += 1
        self._confirm(idempotency_key)
        return PostRef(self.source, str(post_id))

    def send_dm(self, to: Author, text: str, *, idempotency_key: str | None = None) -> PostRef:
        self.check_length(text, dm=True)
        handle = to.handle
        participant = to.id if to.id.isdigit() else self._user_id(handle)
        self._remember(idempotency_key, _Attempt("dm", text=text, target=handle))
        payload = self._call(
            DM,
            lambda: self._client.create_direct_message(
                participant_id=participant, text=text, user_auth=True
            ),
        )
        data = payload.get("data") or {}
        event_id = data.get("dm_event_id")
        if not event_id:
            raise PlatformError("X accepted the message but returned no id", retryable=True)
        self.counters.dms += 1
        self._confirm(idempotency_key)
        return PostRef(self.source, str(event_id))

    # -- reconciliation ------------------------------------------------------------------------

    def _sent_file(self) -> Path:
        return self.home / SENT_FILE

    def _remember(self, key: str | None, attempt: _Attempt) -> None:
        """Note what is about to be sent under `key`, before sending it."""
        if key is None:
            return
        self._load_attempts()
        self._attempts.setdefault(key, []).append(attempt)
        line = json.dumps(
            {"key": key, "kind": attempt.kind, "text": attempt.text, "target": attempt.target},
            ensure_ascii=False,
        )
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            with self._sent_file().open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError:
            pass  # the in-memory record still serves this process

    def _confirm(self, key: str | None) -> None:
        if key is not None:
            self._confirmed.add(key)

    def _load_attempts(self) -> None:
        if self._attempts_loaded:
            return
        self._attempts_loaded = True
        try:
            lines = self._sent_file().read_text(encoding="utf-8").splitlines()
        except OSError:
            return
        for line in lines:
            try:
                raw = json.loads(line)
                attempt = _Attempt(str(raw["kind"]), raw.get("text"), raw.get("target"))
                self._attempts.setdefault(str(raw["key"]), []).append(attempt)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash

    def find_sent(self, idempotency_key: str) -> PostRef | None:
        found = self._find_sent(idempotency_key)
        return PostRef(self.source, found) if found is not None else None

    def _find_sent(self, idempotency_key: str) -> str | None:
        self._load_attempts()
        attempts = self._attempts.get(idempotency_key)
        if not attempts:
            return None
        kind = attempts[-1].kind
        # what is found was billed; count it unless this process already saw it succeed
        uncounted = idempotency_key not in self._confirmed
        if kind == "repost":
            targets = {a.target for a in attempts if a.target}
            found = self._find_own_retweet(targets)
            if found is not None and uncounted:
                self.counters.reposts += 1
        elif kind == "dm":
            target = attempts[-1].target or ""
            texts = [a.text for a in attempts if a.text is not None and a.target == target]
            found = self._find_dm(target, texts)
            if found is not None and uncounted:
                self.counters.dms += 1
        else:
            texts = [a.text for a in attempts if a.text is not None]
            found = self._find_own_post(texts)
            if found is not None and uncounted:
                self._count_post(texts[-1])
        if found is not None:
            self._confirm(idempotency_key)
        return found

    def _own_recent(self) -> list[Mapping[str, Any]]:
        host_id, _ = self._identity()
        payload = self._call(
            USER_TWEETS,
            lambda: self._client.get_users_tweets(
                host_id,
                max_results=RECENT_OWN,
                tweet_fields=["created_at", "referenced_tweets"],
                user_auth=self._read_user_auth,
            ),
        )
        tweets = [t for t in payload.get("data") or [] if isinstance(t, Mapping)]
        self.counters.posts_read += len(tweets)
        return tweets

    def _find_own_post(self, texts: Sequence[str]) -> str | None:
        wanted = {_normalize(t) for t in texts}
        if not wanted:
            return None
        for tweet in self._own_recent():
            if not is_retweet(tweet) and _normalize(str(tweet.get("text", ""))) in wanted:
                return str(tweet["id"])
        return None

    def _find_own_retweet(self, targets: set[str]) -> str | None:
        for tweet in self._own_recent():
            for ref in tweet.get("referenced_tweets") or []:
                if ref.get("type") == "retweeted" and str(ref.get("id")) in targets:
                    return str(ref.get("id"))
        return None

    def _find_dm(self, handle: str, texts: Sequence[str]) -> str | None:
        wanted = {_normalize(t) for t in texts}
        if not wanted or not handle:
            return None
        host_id, _ = self._identity()
        participant = self._user_id(handle)
        payload = self._call(
            DM_EVENTS,
            lambda: self._client.get_direct_message_events(
                participant_id=participant,
                dm_event_fields=["id", "text", "sender_id", "created_at"],
                event_types="MessageCreate",
                max_results=RECENT_OWN,
                user_auth=True,
            ),
        )
        for event in payload.get("data") or []:
            if not isinstance(event, Mapping) or str(event.get("sender_id", host_id)) != host_id:
                continue
            if _normalize(str(event.get("text", ""))) in wanted:
                return str(event["id"])
        return None

    # -- cost ----------------------------------------------------------------------------------

    def spend(self) -> float:
        """USD spent so far by this adapter, from its counters (see the module docstring)."""
        c, s = self.counters, self.settings
        url_posts = min(c.posts_created_with_url, c.posts_created)
        plain = c.posts_created - url_posts + c.reposts + c.dms
        return round(
            c.posts_read * s.price_read + plain * s.price_post + url_posts * s.price_post_url, 6
        )

    @classmethod
    def spend_of(cls, settings: dict[str, Any] | None, counters: dict[str, Any]) -> float:
        """USD that stored `counters` cost at the prices of `settings`."""
        prices = _as_settings(settings)
        posts = int(counters.get("posts_created", 0))
        with_url = min(int(counters.get("posts_created_with_url", 0)), posts)
        plain = posts - with_url + int(counters.get("reposts", 0)) + int(counters.get("dms", 0))
        return round(
            int(counters.get("posts_read", 0)) * prices.price_read
            + plain * prices.price_post
            + with_url * prices.price_post_url,
            6,
        )

    def budget_left(self) -> float | None:
        """USD left of `budget_usd` (negative when over), or None without a budget."""
        if self.settings.budget_usd is None:
            return None
        return round(self.settings.budget_usd - self.spend(), 6)

    def over_budget_ratio(self) -> float | None:
        """Share of the budget spent (0.8: time to warn and slow polling; 1.0: spent), or
        None without a budget."""
        budget = self.settings.budget_usd
        if budget is None:
            return None
        if budget == 0:
            return math.inf if self.spend() > 0 else 0.0
        return self.spend() / budget

    @classmethod
    def search_limits(cls, settings: BaseModel) -> SearchLimits:
        config = settings if isinstance(settings, XSettings) else XSettings()
        return SearchLimits(
            page_size=config.max_results,
            rate_calls=config.rate_limit,
            rate_window=config.rate_window,
            requests_per_poll=2 if config.mentions else 1,  # the mentions too, each poll
            expected_posts=config.expected_posts,
        )

    @classmethod
    def estimate_cost(
        cls,
        settings: dict[str, Any] | None,
        *,
        posts_to_create: int,
        with_url: int = 0,
    ) -> dict[str, Any]:
        """The plan's estimate: `x.expected_posts` read once each, and the posts to create."""
        config = _as_settings(settings)
        return estimate_cost(
            config,
            expected_posts=config.expected_posts,
            posts_to_create=posts_to_create,
            with_url=with_url,
        )

    def close(self) -> None:
        self._session.close()
