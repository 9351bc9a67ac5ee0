"""X API v2 tweets as posts: the mapping, and a fast decoder straight from the wire.

`tweet_to_post` maps one tweet already decoded into a dict, degrading on odd input (no
`created_at`: the id's timestamp; no author: "@unknown"; no metrics: 0).

`decode_payload` goes from a response body (search, mentions, lookup) or a line of a twarc2
archive straight to posts. msgspec decodes only the fields a post needs into typed structs and
skips the rest in C, about six times faster than `json.loads` on X's tweets, which carry
entities, author objects and metrics the tool never reads. Anything the structs do not expect
(an id that is a number, a metric of another type) sends the whole body down the tolerant
path, `json.loads` + `tweet_to_post`, and both paths share the mapping (dates included), so
the fast path never changes what comes out. Invalid UTF-8 is replaced, as `requests` does;
invalid JSON raises `json.JSONDecodeError` (a `ValueError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from qasession.platforms.base import Post, PostKind

TWITTER_EPOCH_MS = 1288834974657

# a reply that also quotes is a reply; plain retweets are left out of searches anyway
_REF_KINDS: tuple[tuple[str, PostKind], ...] = (
    ("replied_to", "reply"),
    ("quoted", "quote"),
    ("retweeted", "repost"),
)


def snowflake_time(post_id: str) -> datetime | None:
    """When an X id was made (ids carry their millisecond timestamp in the top bits)."""
    try:
        millis = (int(post_id) >> 22) + TWITTER_EPOCH_MS
    except ValueError:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def _parse_time(value: Any, post_id: str) -> datetime:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    return snowflake_time(post_id) or datetime.fromtimestamp(0, UTC)


def _unescape(text: str) -> str:
    # X escapes exactly these three in post text; anything else is what the author typed
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def is_retweet(tweet: Mapping[str, Any]) -> bool:
    refs = tweet.get("referenced_tweets") or []
    if any(isinstance(r, Mapping) and r.get("type") == "retweeted" for r in refs):
        return True
    # responses without referenced_tweets (fields not asked for) still say "RT @user:"
    return not refs and str(tweet.get("text", "")).startswith("RT @")


def _post(
    post_id: str,
    author: tuple[str, str | None],
    text: str,
    created_at: datetime,
    refs: Iterable[tuple[str, str]],
    counts: tuple[int, int],
    lang: str | None,
) -> Post:
    """A tweet's fields as a `Post`; `author` is (user id, username), `counts` (likes,
    reposts)."""
    author_id, username = author
    likes, reposts = counts
    kind: PostKind = "post"
    ref: str | None = None
    by_type = dict(refs)
    if by_type:
        for ref_type, ref_kind in _REF_KINDS:
            if ref_type in by_type:
                kind, ref = ref_kind, by_type[ref_type]
                break
    return Post(
        id=post_id,
        author="@" + (username or author_id or "unknown"),
        text=_unescape(text),
        created_at=created_at,
        kind=kind,
        ref=ref,
        likes=likes,
        reposts=reposts,
        lang=lang or None,
        url=f"https://x.com/{username or 'i/web'}/status/{post_id}",
        platform="x",
        author_id=author_id or None,
    )


def tweet_to_post(tweet: Mapping[str, Any], users: Mapping[str, str] | None = None) -> Post:
    """One v2 tweet object (with `users`: author id -> username) as a `Post`."""
    post_id = str(tweet["id"])
    author_id = str(tweet.get("author_id") or "")
    username = (users or {}).get(author_id) if author_id else None
    metrics = tweet.get("public_metrics") or {}
    return _post(
        post_id,
        (author_id, username),
        str(tweet.get("text", "")),
        _parse_time(tweet.get("created_at"), post_id),
        (
            (str(r.get("type")), str(r.get("id")))
            for r in tweet.get("referenced_tweets") or []
            if isinstance(r, Mapping)
        ),
        (_count(metrics.get("like_count")), _count(metrics.get("retweet_count"))),
        tweet.get("lang") or None,
    )


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0  # a metric we cannot read is no reason to lose the post


def users_of(payload: Mapping[str, Any]) -> dict[str, str]:
    """Author id -> username, from a response's `includes.users`."""
    includes = payload.get("includes") or {}
    return {
        str(u["id"]): str(u["username"])
        for u in includes.get("users") or []
        if isinstance(u, Mapping) and u.get("id") and u.get("username")
    }


class Payload(NamedTuple):
    """What a response body (or an archive line) holds: its tweets as posts, in the order
    given, the ids of those that are plain retweets, and the page's `meta` links."""

    posts: list[Post]
    retweets: frozenset[str]
    newest_id: str | None = None
    next_token: str | None = None


# -- the fast path: typed structs, unknown fields skipped -----------------------------------------


class _Metrics(msgspec.Struct, gc=False):
    like_count: int | None = None
    retweet_count: int | None = None


class _Ref(msgspec.Struct, gc=False):
    type: str
    id: str


class _User(msgspec.Struct, gc=False):
    id: str | None = None
    username: str | None = None


class _Tweet(msgspec.Struct, gc=False):
    id: str | None = None
    text: str = ""
    author_id: str | None = None
    created_at: str | None = None  # parsed by _parse_time on both paths, not by msgspec
    lang: str | None = None
    public_metrics: _Metrics | None = None
    referenced_tweets: list[_Ref] | None = None
    author: _User | None = None  # inlined by `twarc2 flatten`


class _Includes(msgspec.Struct, gc=False):
    users: list[_User] | None = None


class _Meta(msgspec.Struct, gc=False):
    newest_id: str | None = None
    next_token: str | None = None


class _Body(_Tweet, gc=False):
    """A response page, or (flattened archive) one tweet at the top level."""

    data: list[_Tweet] | _Tweet | None = None
    includes: _Includes | None = None
    meta: _Meta | None = None


_DECODER = msgspec.json.Decoder(_Body)


def _wire_post(tweet: _Tweet, users: dict[str, str]) -> Post:
    post_id = tweet.id or ""
    author_id = tweet.author_id or ""
    username = users.get(author_id) if author_id else None
    inlined = tweet.author
    if username is None and author_id and inlined is not None and inlined.username:
        users[author_id] = username = inlined.username
    metrics = tweet.public_metrics
    refs = tweet.referenced_tweets
    counts = (
        (metrics.like_count or 0, metrics.retweet_count or 0) if metrics is not None else (0, 0)
    )
    return _post(
        post_id,
        (author_id, username),
        tweet.text,
        _parse_time(tweet.created_at, post_id),
        [(r.type, r.id) for r in refs] if refs else (),
        counts,
        tweet.lang,
    )


def _wire_is_retweet(tweet: _Tweet) -> bool:
    refs = tweet.referenced_tweets
    if refs:
        return any(r.type == "retweeted" for r in refs)
    return tweet.text.startswith("RT @")


def decode_payload(body: bytes | str) -> Payload:
    """The posts of one response body or archive line (see the module docstring)."""
    try:
        wire = _DECODER.decode(body)
    except (UnicodeDecodeError, msgspec.DecodeError):
        # msgspec 0.22 raised UnicodeDecodeError for invalid UTF-8, 0.23 a DecodeError: either
        # way a body that is not valid UTF-8 is read with U+FFFD, and any other is parsed
        # the slow way (which raises a ValueError when it is no JSON at all)
        if isinstance(body, bytes):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return decode_payload(body.decode("utf-8", "replace"))
        return payload_from_json(json.loads(body))
    data = wire.data
    if data is None:
        tweets: list[_Tweet] = [wire] if wire.id is not None else []
    else:
        tweets = data if isinstance(data, list) else [data]
    users: dict[str, str] = {}
    if wire.includes is not None and wire.includes.users:
        users = {u.id: u.username for u in wire.includes.users if u.id and u.username}
    posts: list[Post] = []
    retweets: set[str] = set()
    for tweet in tweets:
        if not tweet.id:
            continue
        posts.append(_wire_post(tweet, users))
        if _wire_is_retweet(tweet):
            retweets.add(tweet.id)
    meta = wire.meta
    if meta is None:
        return Payload(posts, frozenset(retweets))
    return Payload(posts, frozenset(retweets), meta.newest_id or None, meta.next_token or None)


def payload_from_json(raw: Any) -> Payload:
    """`decode_payload` for a body already decoded by `json.loads`: the tolerant path."""
    if not isinstance(raw, Mapping):
        return Payload([], frozenset())
    data = raw.get("data")
    if data is None and "id" in raw:
        data = raw  # a flattened archive line: the tweet itself
    items = data if isinstance(data, list) else [data]
    users = users_of(raw)
    posts: list[Post] = []
    retweets: set[str] = set()
    for tweet in items:
        if not isinstance(tweet, Mapping) or not tweet.get("id"):
            continue
        author = tweet.get("author")
        if isinstance(author, Mapping) and author.get("username") and tweet.get("author_id"):
            users.setdefault(str(tweet["author_id"]), str(author["username"]))
        post = tweet_to_post(tweet, users)
        posts.append(post)
        if is_retweet(tweet):
            retweets.add(post.id)
    meta = raw.get("meta")
    if not isinstance(meta, Mapping):
        return Payload(posts, frozenset(retweets))
    newest, token = meta.get("newest_id"), meta.get("next_token")
    return Payload(
        posts,
        frozenset(retweets),
        str(newest) if newest else None,
        str(token) if token else None,
    )
