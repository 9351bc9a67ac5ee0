"""The Mastodon platform, over Mastodon.py, on the host's instance and others it reads.

The instance comes from the plan (`mastodon: {instance: https://example.social}`), the token
from the environment (`MASTODON_ACCESS_TOKEN`), held as a `SecretStr` and never printed.
Mastodon.py runs with `ratelimit_method="throw"`: it never sleeps; a 429 becomes
`RateLimited(reset_at)` and the loop schedules around it.

Reading is gap-free: each source (the host's hashtag timeline, each `also_read` instance's
public hashtag timeline, optionally the host's mention notifications) keeps its own cursor.
Once caught up, a source is read with `min_id` (the page just above the cursor, oldest
first, followed until a page is not full); `since_id` is never used, since it returns the
*newest* page and skips whatever lies between. The first read takes the newest page and, when
it is full, pages back with `max_id` over the last seven days (`LOOKBACK`) before switching
to `min_id`.

Federation: a status has one canonical `uri` wherever it is read, so a post's id is its URI
and the same question read from two instances is stored once. `Post.extra` keeps the id the
host's instance gives it (`local_id`) when it was read there. Acting on a post the host's
instance has not given an id yet resolves it there first (`search(uri, resolve=True)`); a
post that cannot be resolved raises `PostUnreachable`, and the outbox answers it with a
stand-alone post that mentions the asker, and says why.

Writing: every status carries the outbox key as Mastodon's `Idempotency-Key`, so a post
retried after a crash or a lost answer is not made twice; replies go through
`in_reply_to_id` (not `status_reply`, which adds mentions of its own), quotes through
`quoted_status_id` where the instance has them (Mastodon 4.5 and later), direct messages are
`direct` statuses that start with the recipient's mention (counted in the length). What was
attempted under each key is kept in `mastodon-sent.jsonl` under the home directory, so
`find_sent` can look for it among the account's recent statuses after a restart too.

Rate limits: the `X-RateLimit-*` headers of every response (epoch seconds or an ISO date for
the reset, taken relative to the response's `Date`, so a skewed server clock does not
matter) give `rate_budget()`; an instance known to be exhausted is not asked again before
its reset.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from qasession.clock import Clock
from qasession.errors import (
    AuthError,
    DuplicatePost,
    NotFound,
    PlatformError,
    PostUnreachable,
    QAError,
    RateLimited,
    Unsupported,
)
from qasession.platforms.base import (
    Author,
    Capabilities,
    Media,
    Platform,
    Post,
    PostKind,
    PostRef,
    RateBudget,
    SearchPage,
)
from qasession.platforms.mastodon_text import comparable, status_text
from qasession.text.safe import inert

if TYPE_CHECKING:
    import requests

TOKEN_VAR = "MASTODON_ACCESS_TOKEN"
DEFAULT_MAX_CHARACTERS = 500
LOOKBACK = timedelta(days=7)  # how far back the first read of a hashtag goes
RECENT_OWN = 40  # how many of the account's recent statuses `find_sent` looks at
LOOKUP_BATCH = 20  # ids per GET /api/v1/statuses
LOOKUP_MAX = 40  # posts `lookup` refreshes per call (one call of the rate budget each batch)
SENT_FILE = "mastodon-sent.jsonl"
QUOTES_FROM = (4, 5)  # the first Mastodon version with quote posts
BASE_VERSION = "4.0.0"  # assumed until the instance says (the first with /api/v2/instance)
HOST = "host"
MENTIONS = "mentions"


def _instance_url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("an instance is a URL, e.g. https://mastodon.social")
    url = value.strip().rstrip("/")
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        raise ValueError(f"not an instance URL: {value!r} (e.g. https://mastodon.social)")
    if parts.path or parts.query or parts.fragment:
        raise ValueError(f"an instance URL has no path: {value!r} (e.g. https://mastodon.social)")
    return f"{parts.scheme}://{parts.netloc.lower()}"


class MastodonSettings(BaseModel):
    """Settings under `mastodon:` in the plan."""

    model_config = ConfigDict(extra="forbid")

    instance: str = Field(description="the host account's instance, e.g. https://mastodon.social")
    also_read: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="other instances whose public hashtag timeline is read too (no token)",
    )
    mentions: bool = Field(default=False, description="also read the host's mentions")
    max_characters: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="the instance's limit for `qa plan` (read from the instance when it runs)",
    )
    page_size: int = Field(default=40, ge=1, le=40, description="statuses per request")
    timeout: float = Field(default=10, gt=0, le=300, description="seconds per HTTP request")

    @field_validator("instance", mode="before")
    @classmethod
    def _instance(cls, value: object) -> str:
        return _instance_url(value)

    @field_validator("also_read", mode="before")
    @classmethod
    def _also_read(cls, value: object) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError("a list of instance URLs, e.g. [https://mastodon.social]")
        return list(dict.fromkeys(_instance_url(v) for v in value))

    @model_validator(mode="after")
    def _not_the_host(self) -> MastodonSettings:
        self.also_read = [url for url in self.also_read if url != self.instance]
        return self


def read_token(environ: Mapping[str, str] | None = None) -> SecretStr:
    """The host account's access token; missing: one AuthError naming the variable."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_VAR, "").strip()
    if not token:
        raise AuthError(f"missing Mastodon credentials: {TOKEN_VAR} (set it in the environment)")
    return SecretStr(token)


def _version(text: str) -> tuple[int, int]:
    found = re.match(r"(\d+)\.(\d+)", text or "")
    return (int(found[1]), int(found[2])) if found else (0, 0)


def _id_key(value: str) -> tuple[int, str]:
    """Mastodon ids are numbers written as strings: order them as numbers."""
    return (len(value), value) if value.isdigit() else (0, value)


def _newest(*ids: str | None) -> str | None:
    known = [i for i in ids if i]
    return max(known, key=_id_key) if known else None


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return datetime.fromtimestamp(0, UTC)


def parse_reset(value: str, server_date: str | None, now: datetime) -> datetime | None:
    """`X-RateLimit-Reset` (epoch seconds, or an ISO date as Mastodon sends it) on our wall
    clock: relative to the response's `Date` when there is one."""
    value = value.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", value):
            reset = datetime.fromtimestamp(float(value), UTC)
        else:
            reset = _utc(value)
    except (ValueError, OverflowError, OSError):
        return None
    if server_date:
        try:
            said = parsedate_to_datetime(server_date)
        except (TypeError, ValueError):
            return reset
        if said.tzinfo is None:
            said = said.replace(tzinfo=UTC)
        return now + (reset - said)
    return reset


# -- reading ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Cursor:
    """Where one source stands: `since` (newest id read once caught up), or a backward fill
    in progress: `back` (the `max_id` of its next page) and `top` (the newest id it saw)."""

    since: str | None = None
    back: str | None = None
    top: str | None = None

    def to_json(self) -> dict[str, str]:
        return {
            k: v for k, v in (("since", self.since), ("back", self.back), ("top", self.top)) if v
        }


def _load_cursor(cursor: str | None) -> dict[str, _Cursor]:
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)
    except json.JSONDecodeError:
        raise PlatformError(f"not a Mastodon search cursor: {cursor[:40]!r}") from None
    state: dict[str, _Cursor] = {}
    if isinstance(raw, dict):
        for name, item in raw.items():
            if isinstance(item, dict):
                state[str(name)] = _Cursor(
                    *(str(item[k]) if item.get(k) else None for k in ("since", "back", "top"))
                )
    return state


def _dump_cursor(state: Mapping[str, _Cursor]) -> str | None:
    raw = {name: c.to_json() for name, c in state.items() if c.to_json()}
    return json.dumps(raw, separators=(",", ":"), sort_keys=True) if raw else None


@dataclass(slots=True)
class _Item:
    """One entry of a page: its id in the listing, when, and the status it carries."""

    id: str
    created_at: datetime
    status: Mapping[str, Any] | None


@dataclass(slots=True)
class _Window:
    limit: int
    remaining: int
    reset_at: datetime


@dataclass(slots=True)
class _Instance:
    """One instance the adapter talks to: the host's (with the token) or one it only reads."""

    url: str
    client: Any
    session: requests.Session
    is_host: bool
    domain: str = ""
    window: _Window | None = None
    blocked_until: datetime | None = None
    failure: str | None = None

    @property
    def name(self) -> str:
        return self.domain or urlsplit(self.url).netloc


@dataclass(slots=True)
class _Attempt:
    kind: str  # "post" | "repost" | "dm"
    text: str | None = None
    target: str | None = None  # the reposted status's local id
    sent: dict[str, str] = field(default_factory=dict)  # the status made, once known


class MastodonPlatform(Platform):
    """A Mastodon account through Mastodon.py; see the module docstring for the choices."""

    name: ClassVar[str] = "mastodon"
    CAPABILITIES: ClassVar[Capabilities] = Capabilities(
        repost=True,
        reply=True,
        quote=True,
        dm=True,
        media=True,
        max_length=DEFAULT_MAX_CHARACTERS,
        length_method="mastodon",
        dm_max_length=DEFAULT_MAX_CHARACTERS,
        leading_mention_hidden=False,
        can_lookup_sent=True,
        camelcase_hashtags=True,
        reply_notifies=False,
    )
    Settings: ClassVar[type[BaseModel]] = MastodonSettings
    INIT_SETTINGS: ClassVar[dict[str, Any]] = {"instance": "https://mastodon.social"}
    settings: MastodonSettings

    @classmethod
    def capabilities_for(cls, settings: BaseModel) -> Capabilities:
        limit = getattr(settings, "max_characters", None) or DEFAULT_MAX_CHARACTERS
        return replace(cls.CAPABILITIES, max_length=limit, dm_max_length=limit)

    @classmethod
    def hashtag_url(cls, settings: BaseModel, hashtag: str) -> str | None:
        instance = getattr(settings, "instance", None)
        return f"{instance}/tags/{hashtag.lstrip('#')}" if instance else None

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
        self._token = read_token()
        import mastodon

        self._sdk = mastodon
        self._host = self._instance(self.settings.instance, self._token.get_secret_value())
        self._others = [self._instance(url, None) for url in self.settings.also_read]
        self._me: dict[str, str] | None = None  # id, acct, uri of the host's account
        self._version = ""
        self._local_ids: dict[str, str] = {}  # status URI -> its id on the host's instance
        self._uris: dict[str, str] = {}  # host-local id -> URI (what replies point at)
        self._attempts: dict[str, list[_Attempt]] = {}
        self._attempts_loaded = False

    def __repr__(self) -> str:
        return f"MastodonPlatform(instance={self.settings.instance!r}, account={self.account!r})"

    def _instance(self, url: str, token: str | None) -> _Instance:
        import requests

        session = requests.Session()
        instance = _Instance(url, None, session, is_host=token is not None)

        def observe(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            self._observe(instance, response)

        session.hooks["response"].append(observe)
        instance.client = self._client(instance, token, BASE_VERSION)
        return instance

    def _client(self, instance: _Instance, token: str | None, version: str) -> Any:
        # The version is given, never looked up by Mastodon.py itself: its own look-up asks
        # the instance again in the middle of other calls (and recurses when that fails).
        return self._sdk.Mastodon(
            api_base_url=instance.url,
            access_token=token,
            ratelimit_method="throw",
            request_timeout=self.settings.timeout,
            session=instance.session,
            mastodon_version=version,
            version_check_mode="created",
            user_agent="qasession",
        )

    # -- plumbing ------------------------------------------------------------------------------

    def _observe(self, instance: _Instance, response: requests.Response) -> None:
        """Remember the rate window an instance reports on a response."""
        headers = response.headers
        try:
            limit = int(headers["X-RateLimit-Limit"])
            remaining = int(headers["X-RateLimit-Remaining"])
        except (KeyError, ValueError):
            return
        now = self.clock.wall_now()
        reset = parse_reset(headers.get("X-RateLimit-Reset", ""), headers.get("Date"), now)
        instance.window = _Window(limit, remaining, reset or now + timedelta(minutes=5))

    def _check_window(self, instance: _Instance) -> None:
        """Refuse to call an instance whose window is known to be exhausted."""
        now = self.clock.wall_now()  # rate windows are on the wall clock
        window = instance.window
        resets = [instance.blocked_until] if instance.blocked_until else []
        if window is not None and window.remaining <= 0:
            resets.append(window.reset_at)
        live = [r for r in resets if r is not None and r > now]
        if live:
            raise RateLimited(max(live), f"{instance.name} rate limit exhausted")

    def _call(self, instance: _Instance, what: str, fn: Callable[[], Any]) -> Any:
        """Run one Mastodon.py call, its failures turned into our errors."""
        sdk = self._sdk
        self._check_window(instance)
        try:
            return fn()
        except sdk.MastodonRatelimitError:
            self.counters.errors += 1
            reset = self._reset_after_429(instance)
            instance.blocked_until = reset
            raise RateLimited(reset, f"{instance.name} rate limit reached ({what})") from None
        except sdk.MastodonNetworkError as exc:
            self.counters.errors += 1
            timed_out = "timed out" in str(exc).lower() or "timeout" in str(exc).lower()
            how = "timed out" if timed_out else "unreachable"
            raise PlatformError(f"{instance.name} {how} ({what})", retryable=True) from None
        except sdk.MastodonAPIError as exc:
            self.counters.errors += 1
            raise self._api_error(instance, what, exc) from None
        except sdk.MastodonError as exc:
            self.counters.errors += 1
            raise PlatformError(f"{instance.name}: {what} failed: {self._detail(exc)}") from None

    def _detail(self, exc: Exception) -> str:
        args = exc.args
        detail = args[3] if len(args) > 3 and args[3] else (args[-1] if args else "")
        text = inert(str(detail), 300, single_line=True)
        return text.replace(self._token.get_secret_value(), "[redacted]") or "no detail"

    def _api_error(self, instance: _Instance, what: str, exc: Exception) -> QAError:
        args = exc.args
        status = args[1] if len(args) > 1 and isinstance(args[1], int) else 0
        detail = self._detail(exc)
        name = instance.name
        if status in (401, 403):
            return AuthError(
                f"{name} refused the access token ({what}: {detail})",
                hint=f"check {TOKEN_VAR} and its scopes (see the README)",
            )
        if status == 404:
            return NotFound(f"{name}: not found ({what}): {detail}")
        if status == 422:
            return PlatformError(f"{name} refused the {what}: {detail}")
        if status == 429:
            return RateLimited(self._reset_after_429(instance), f"{name} rate limit reached")
        if status >= 500:
            return PlatformError(f"{name} failed ({what}, {status}): {detail}", retryable=True)
        return PlatformError(f"{name}: {what} failed ({status}): {detail}")

    def _reset_after_429(self, instance: _Instance) -> datetime:
        now = self.clock.wall_now()
        window = instance.window
        reset = window.reset_at if window is not None else now + timedelta(minutes=5)
        return max(reset, now + timedelta(seconds=1))

    # -- identity ------------------------------------------------------------------------------

    def _connect(self) -> dict[str, str]:
        """Who the token belongs to, and what the instance allows (its version, its
        character limit, quotes); asked once."""
        if self._me is not None:
            return self._me
        host = self._host
        account = self._call(host, "account check", host.client.account_verify_credentials)
        me = {"id": str(account["id"]), "acct": str(account["acct"]), "uri": str(account["uri"])}
        self._check_account(me["acct"])
        info = self._instance_info(host)
        config = info.get("configuration") or {}
        statuses = config.get("statuses") or {}
        limit = statuses.get("max_characters") or info.get("max_toot_chars")
        self._version = str(info.get("version") or "")
        found = re.match(r"\d+\.\d+\.\d+", self._version)
        if found:  # Mastodon.py checks each call against the instance's real version
            host.client = self._client(host, self._token.get_secret_value(), found[0])
        caps = self.capabilities
        if isinstance(limit, int) and limit > 0:
            caps = replace(caps, max_length=limit, dm_max_length=limit)
        self.capabilities = replace(caps, quote=_version(self._version) >= QUOTES_FROM)
        host.domain = str(info.get("domain") or info.get("uri") or urlsplit(host.url).netloc)
        self._me = me
        return me

    def _instance_info(self, instance: _Instance) -> Mapping[str, Any]:
        try:
            info = self._call(instance, "instance", instance.client.instance_v2)
        except NotFound:  # before Mastodon 4.0
            instance.client = self._client(instance, self._token.get_secret_value(), "3.5.0")
            info = self._call(instance, "instance", instance.client.instance_v1)
        return info if isinstance(info, Mapping) else {}

    def _check_account(self, acct: str) -> None:
        if not self.account:
            return
        wanted = self.account.lstrip("@").casefold()
        user, _, domain = wanted.partition("@")
        host_domain = urlsplit(self.settings.instance).netloc.casefold()
        if user != acct.casefold() or (domain and domain not in (host_domain, "")):
            if domain and domain != host_domain and user == acct.casefold():
                return  # the instance's account domain may differ from its web address
            raise AuthError(
                f"{TOKEN_VAR} belongs to @{acct}, not to the plan's account {self.account}",
                hint="use that account's token, or fix `account:` in the plan",
            )

    def me(self) -> str:
        return "@" + self._connect()["acct"]

    def describe(self) -> dict[str, str]:
        self._connect()
        caps = self.capabilities
        shown = {
            "instance": f"{self.settings.instance} (Mastodon {self._version or 'version unknown'})",
            "character limit": f"{caps.max_length} (links count 23, remote mentions their user)",
            "quotes": "yes" if caps.quote else "no (answers in quote mode fall back to dot)",
        }
        if self._others:
            shown["also reads"] = ", ".join(
                i.url + (f" (last read failed: {i.failure})" if i.failure else "")
                for i in self._others
            )
        return shown

    # -- reading -------------------------------------------------------------------------------

    def search(self, hashtag: str, cursor: str | None = None) -> SearchPage:
        """One request per source: the host's hashtag timeline, each `also_read` instance's
        (a failing one is read again next time while the others go on; the page's warnings
        say when one starts failing, or fails otherwise, and when it works again), the
        mentions when asked."""
        me = self._connect()
        tag = hashtag.lstrip("#")
        state = _load_cursor(cursor)
        found: dict[str, Post] = {}
        more = False
        warnings: list[str] = []
        sources: list[tuple[str, _Instance, Callable[..., list[_Item]]]] = [
            (HOST, self._host, self._tag_fetcher(self._host, tag))
        ]
        if self.settings.mentions:
            sources.append((MENTIONS, self._host, self._mention_fetcher()))
        sources += [(i.url, i, self._tag_fetcher(i, tag)) for i in self._others]
        for key, instance, fetch in sources:
            position = state.setdefault(key, _Cursor())
            try:
                items, pending = self._advance(position, fetch)
            except (RateLimited, PlatformError) as exc:
                if instance.is_host:
                    raise
                if instance.failure != str(exc):
                    warnings.append(f"reading {instance.name} failed, the others go on: {exc}")
                instance.failure = str(exc)
                continue
            if instance.failure is not None:
                warnings.append(f"reading {instance.name} works again")
            instance.failure = None
            more = more or pending
            for item in items:
                post = self._to_post(item.status, instance, me)
                if post is not None and post.id not in found:
                    found[post.id] = post
        posts = sorted(found.values(), key=lambda p: (p.created_at, _id_key(p.extra["sort"])))
        for post in posts:
            post.extra.pop("sort", None)
        return SearchPage(posts, _dump_cursor(state), more, tuple(warnings))

    def _tag_fetcher(self, instance: _Instance, tag: str) -> Callable[..., list[_Item]]:
        limit = self.settings.page_size

        def fetch(**bounds: str) -> list[_Item]:
            self.counters.search_requests += 1
            page = self._call(
                instance,
                "hashtag timeline",
                lambda: instance.client.timeline_hashtag(tag, limit=limit, **bounds),
            )
            statuses = [s for s in page or [] if isinstance(s, Mapping)]
            self.counters.posts_read += len(statuses)
            return [_Item(str(s["id"]), _utc(s.get("created_at")), s) for s in statuses]

        return fetch

    def _mention_fetcher(self) -> Callable[..., list[_Item]]:
        host, limit = self._host, self.settings.page_size

        def fetch(**bounds: str) -> list[_Item]:
            self.counters.search_requests += 1
            page = self._call(
                host,
                "mentions",
                lambda: host.client.notifications(types=["mention"], limit=limit, **bounds),
            )
            items = []
            for note in page or []:
                status = note.get("status") if isinstance(note, Mapping) else None
                if not isinstance(status, Mapping):
                    continue
                # a direct or followers-only mention is not a public question
                public = status.get("visibility") in ("public", "unlisted")
                self.counters.posts_read += 1
                items.append(
                    _Item(str(note["id"]), _utc(note.get("created_at")), status if public else None)
                )
            return items

        return fetch

    def _advance(
        self, position: _Cursor, fetch: Callable[..., list[_Item]]
    ) -> tuple[list[_Item], bool]:
        """One page of one source from `position` (updated); returns its items and whether
        another page is waiting."""
        limit = self.settings.page_size
        if position.since is not None and position.back is None:
            items = sorted(fetch(min_id=position.since), key=lambda i: _id_key(i.id))
            position.since = _newest(position.since, *(i.id for i in items))
            return items, len(items) >= limit
        items = fetch(max_id=position.back) if position.back else fetch()
        horizon = self.clock.wall_now() - LOOKBACK
        recent = [i for i in items if i.created_at >= horizon]
        ids = [i.id for i in items]
        if len(items) >= limit and len(recent) == len(items):
            position.top = _newest(position.top, *ids)
            position.back = min(ids, key=_id_key)  # older posts wait below this page
            return recent, True
        position.since = _newest(position.since, position.top, *ids)
        position.back = position.top = None
        return recent, False

    def _handle(self, account: Mapping[str, Any], instance: _Instance) -> str:
        acct = str(account.get("acct") or account.get("username") or "")
        if "@" not in acct and not instance.is_host:
            acct = f"{acct}@{instance.name}"  # a user of that instance, named from ours
        return "@" + acct

    def _is_own(
        self, account: Mapping[str, Any], instance: _Instance, me: Mapping[str, str]
    ) -> bool:
        if str(account.get("uri") or "") == me["uri"]:
            return True
        return instance.is_host and str(account.get("id")) == me["id"]

    def _to_post(
        self, status: Mapping[str, Any] | None, instance: _Instance, me: Mapping[str, str]
    ) -> Post | None:
        """A status as a post (None for the host's own and for what is not public)."""
        if status is None:
            return None
        account = status.get("account") or {}
        if self._is_own(account, instance, me):
            return None
        original = status.get("reblog")
        kind: PostKind = "post"
        ref: str | None = None
        if isinstance(original, Mapping):
            kind, ref = "repost", str(original.get("uri") or "")
            if instance.is_host:
                self._learn(original)
        elif status.get("in_reply_to_id"):
            kind = "reply"
            ref = self._uris.get(str(status["in_reply_to_id"])) if instance.is_host else None
        elif isinstance(status.get("quote"), Mapping):
            quoted = status["quote"].get("quoted_status")
            if isinstance(quoted, Mapping):
                kind, ref = "quote", str(quoted.get("uri") or "")
        uri = str(status.get("uri") or status.get("url") or status["id"])
        extra = {"uri": uri, "sort": str(status["id"]), "instance": instance.name}
        if instance.is_host:
            self._learn(status)
            extra["local_id"] = str(status["id"])
        shown = original if isinstance(original, Mapping) else status
        return Post(
            id=uri,
            author=self._handle(account, instance),
            text=status_text(status) if kind != "repost" else "",
            created_at=_utc(status.get("created_at")),
            kind=kind,
            ref=ref,
            likes=int(shown.get("favourites_count") or 0),
            reposts=int(shown.get("reblogs_count") or 0),
            lang=status.get("language") or None,
            url=status.get("url") or None,
            media=[
                str(m.get("url")) for m in status.get("media_attachments") or [] if m.get("url")
            ],
            platform=self.source,
            author_id=str(account.get("uri") or account.get("url") or "") or None,
            extra=extra,
        )

    def _learn(self, status: Mapping[str, Any]) -> None:
        """Remember a host status's id and URI (what acting on it and replies need)."""
        uri = str(status.get("uri") or "")
        if uri and status.get("id") is not None:
            self._local_ids[uri] = str(status["id"])
            self._uris[str(status["id"])] = uri

    def rate_budget(self) -> RateBudget | None:
        """The tightest current window of the instances read (the host's and the others')."""
        now = self.clock.wall_now()
        windows = [
            i.window
            for i in (self._host, *self._others)
            if i.window is not None and i.window.reset_at > now
        ]
        if not windows:
            return None
        tightest = min(windows, key=lambda w: (w.remaining, w.reset_at))
        return RateBudget(tightest.remaining, tightest.limit, tightest.reset_at)

    def lookup(self, ids: Sequence[str]) -> list[Post]:
        """Current counts of posts the host's instance has ids for (at most LOOKUP_MAX a call:
        each batch is a call of the rate budget)."""
        me = self._connect()
        local = [self._local_ids[i] for i in dict.fromkeys(ids) if i in self._local_ids]
        local = local[:LOOKUP_MAX]
        found: list[Post] = []
        for start in range(0, len(local), LOOKUP_BATCH):
            batch = local[start : start + LOOKUP_BATCH]
            statuses = self._call(self._host, "lookup", functools.partial(self._statuses, batch))
            for status in statuses or []:
                post = self._to_post(status, self._host, me)
                if post is not None:
                    post.extra.pop("sort", None)
                    found.append(post)
        return found

    def _statuses(self, ids: list[str]) -> Any:
        return self._host.client.statuses(ids)

    # -- writing -------------------------------------------------------------------------------

    def _target(self, ref: PostRef) -> str:
        """The id the host's instance gives `ref`: known, or resolved there now."""
        local = ref.extra.get("local_id") or self._local_ids.get(ref.id)
        if local:
            return local
        if ref.id.isdigit():
            return ref.id  # already an id of the host's instance
        uri = ref.extra.get("uri") or ref.id
        host = self._host
        try:
            found = self._call(
                host,
                "resolve",
                lambda: host.client.search_v2(uri, resolve=True, result_type="statuses"),
            )
        except NotFound:
            found = None
        statuses = (found or {}).get("statuses") or [] if isinstance(found, Mapping) else []
        for status in statuses:
            if isinstance(status, Mapping) and uri in (status.get("uri"), status.get("url")):
                self._learn({"uri": uri, "id": status["id"]})
                return str(status["id"])
        raise PostUnreachable(
            f"{host.name} cannot resolve {inert(uri, 200, single_line=True)} (a post from "
            "another instance it does not know)"
        )

    def _sent(self, status: Mapping[str, Any], key: str | None) -> PostRef:
        uri = str(status.get("uri") or status.get("url") or status["id"])
        self._learn({"uri": uri, "id": status["id"]})
        extra = {"local_id": str(status["id"]), "uri": uri}
        if key is not None:
            self._record(key, {"sent": extra})
        return PostRef(self.source, uri, extra)

    def repost(self, post: PostRef, *, idempotency_key: str | None = None) -> PostRef:
        """Boost `post` (publicly); a post already boosted is refused with DuplicatePost."""
        self._connect()
        local = self._target(post)
        host = self._host
        self._remember(idempotency_key, _Attempt("repost", target=local))
        current = self._call(host, "boost", lambda: host.client.status(local))
        if isinstance(current, Mapping) and current.get("reblogged"):
            raise DuplicatePost("already boosted", existing_id=post.id)
        boost = self._call(host, "boost", lambda: host.client.status_reblog(local, "public"))
        self.counters.reposts += 1
        return self._sent(boost, idempotency_key)

    def _upload(self, media: Media) -> str:
        if media.path.isdigit() and not Path(media.path).is_file():
            return media.path  # an id of an upload already made
        file = Path(media.path)
        if not file.is_file():
            raise PlatformError(f"no image file at {file}")
        host = self._host
        mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        uploaded = self._call(
            host,
            "image upload",
            lambda: host.client.media_post(str(file), mime_type=mime, description=media.alt),
        )
        return str(uploaded["id"])

    def post(
        self,
        text: str,
        *,
        reply_to: PostRef | None = None,
        quote_of: PostRef | None = None,
        media: Sequence[Media] = (),
        idempotency_key: str | None = None,
    ) -> PostRef:
        """A public status (a reply, a quote, with images and their alt texts)."""
        self._connect()
        self.check_length(text)
        if quote_of is not None and not self.capabilities.quote:
            raise Unsupported(f"{self._host.name} has no quote posts (Mastodon {self._version})")
        reply_id = self._target(reply_to) if reply_to is not None else None
        quote_id = self._target(quote_of) if quote_of is not None else None
        media_ids = [self._upload(m) for m in media]
        return self._status(
            text,
            idempotency_key,
            _Attempt("post", text=text),
            in_reply_to_id=reply_id,
            quoted_status_id=quote_id,
            media_ids=media_ids or None,
            visibility="public",
        )

    def _status(self, text: str, key: str | None, attempt: _Attempt, **options: Any) -> PostRef:
        host = self._host
        self._remember(key, attempt)
        status = self._call(
            host,
            "direct message" if attempt.kind == "dm" else "post",
            lambda: host.client.status_post(text, idempotency_key=key, **options),
        )
        if attempt.kind == "dm":
            self.counters.dms += 1
        else:
            self.counters.posts_created += 1
        return self._sent(status, key)

    def mention_of(self, to: Author) -> str:
        """How a direct message names its recipient: `@user` or `@user@instance`."""
        handle = to.handle.strip().lstrip(".")
        return handle if handle.startswith("@") else "@" + handle

    def send_dm(self, to: Author, text: str, *, idempotency_key: str | None = None) -> PostRef:
        """A `direct` status that starts with the recipient's mention (which counts in the
        length: a text that fits with it is refused with TooLong)."""
        self._connect()
        mention = self.mention_of(to)
        body = text.strip()
        if not comparable(body).startswith(comparable(mention)):
            body = f"{mention} {body}"
        self.check_length(body)
        return self._status(body, idempotency_key, _Attempt("dm", text=body), visibility="direct")

    # -- reconciliation ------------------------------------------------------------------------

    def _sent_file(self) -> Path:
        return self.home / SENT_FILE

    def _remember(self, key: str | None, attempt: _Attempt) -> None:
        """Note what is about to be sent under `key`, before sending it."""
        if key is None:
            return
        self._load_attempts()
        self._attempts.setdefault(key, []).append(attempt)
        self._record(key, {"kind": attempt.kind, "text": attempt.text, "target": attempt.target})

    def _record(self, key: str, fields: dict[str, Any]) -> None:
        if "sent" in fields:
            for attempt in self._attempts.get(key, []):
                attempt.sent = dict(fields["sent"])
        line = json.dumps({"key": key, **fields}, ensure_ascii=False)
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            with self._sent_file().open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError:
            pass  # the in-memory record still serves this process

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
                key = str(raw["key"])
                if "sent" in raw:
                    for attempt in self._attempts.get(key, []):
                        attempt.sent = {str(k): str(v) for k, v in raw["sent"].items()}
                    continue
                attempt = _Attempt(str(raw["kind"]), raw.get("text"), raw.get("target"))
                self._attempts.setdefault(key, []).append(attempt)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line cut short by a crash

    def find_sent(self, idempotency_key: str) -> PostRef | None:
        """What was sent under `idempotency_key`: known from this adapter's record, or found
        among the account's recent statuses (same text; a boost of the same status)."""
        self._load_attempts()
        attempts = self._attempts.get(idempotency_key)
        if not attempts:
            return None
        done = next((a.sent for a in reversed(attempts) if a.sent), None)
        if done:
            return PostRef(self.source, done["uri"], dict(done))
        me = self._connect()
        host = self._host
        recent = self._call(
            host, "recent posts", lambda: host.client.account_statuses(me["id"], limit=RECENT_OWN)
        )
        for status in recent or []:
            if isinstance(status, Mapping) and self._matches(status, attempts):
                return self._sent(status, idempotency_key)
        return None

    def _matches(self, status: Mapping[str, Any], attempts: Sequence[_Attempt]) -> bool:
        original = status.get("reblog")
        if attempts[-1].kind == "repost":
            targets = {a.target for a in attempts if a.target}
            return isinstance(original, Mapping) and str(original.get("id")) in targets
        if isinstance(original, Mapping):
            return False
        wanted = {comparable(a.text) for a in attempts if a.text is not None}
        if attempts[-1].kind == "dm" and status.get("visibility") != "direct":
            return False
        return comparable(status_text(status)) in wanted

    def close(self) -> None:
        for instance in (self._host, *self._others):
            instance.session.close()
