"""The X adapter: tweepy's recorded cassettes, hand-made error responses, and the loopback fake.

Fixtures for other test modules (import them, e.g. `from test_x_adapter import x_platform`):
`x_fake` (a started `XFake` on a `ManualClock`), `x_platform` (an `XPlatform` against it, with
fake credentials in the environment) and `x_inject` (adds a crowd post; returns its id).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import yaml
from pydantic import ValidationError

from qasession.clock import ManualClock
from qasession.errors import (
    AuthError,
    DuplicatePost,
    NotFound,
    PlatformError,
    RateLimited,
    ReplyRestricted,
)
from qasession.platforms.base import Post
from qasession.platforms.local import LocalPlatform
from qasession.platforms.x import (
    CREATE,
    SEARCH,
    XPlatform,
    XSettings,
    estimate_cost,
)
from qasession.platforms.x_wire import snowflake_time, tweet_to_post
from tests.support.refs import image, ref, who
from tests.support.require import require, shared_dir
from tests.support.x_fake import XFake

CASSETTES = shared_dir() / "fixtures" / "tweepy"
API = "https://api.twitter.com"
TWEEPY_DEV_ID = "1072250532645998596"  # tweepy's test account, owner of the cassettes
SECRETS = {
    "X_API_KEY": "ck-SECRET-consumer-key-1111",
    "X_API_SECRET": "cs-SECRET-consumer-secret-2222",
    "X_ACCESS_TOKEN_SECRET": "ats-SECRET-token-secret-3333",
}
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

needs_cassettes = pytest.mark.usefixtures("cassettes")


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def cassettes() -> Path:
    return require(
        CASSETTES,
        "tweepy's recorded cassettes",
        hint="shared/ beside the checkout or QA_SHARED_DIR",
    )


def set_credentials(monkeypatch: pytest.MonkeyPatch, access_token: str) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("X_ACCESS_TOKEN", access_token)
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)


@pytest.fixture
def x_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def x_fake(x_clock: ManualClock) -> Iterator[XFake]:
    fake = XFake(username="AcmeHost", clock=x_clock.now)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def x_platform(
    x_fake: XFake, x_clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[XPlatform]:
    set_credentials(monkeypatch, x_fake.access_token("SECRET-access-token-4444"))
    platform = XPlatform({"api_base": x_fake.url}, home=tmp_path / "home", clock=x_clock)
    yield platform
    platform.close()


@pytest.fixture
def x_inject(x_fake: XFake) -> Callable[..., str]:
    def inject(author: str, text: str, **kwargs: Any) -> str:
        return x_fake.inject(author, text, **kwargs)

    return inject


def make_platform(
    tmp_path: Path, clock: ManualClock, fake: XFake | None = None, **settings: Any
) -> XPlatform:
    if fake is not None:
        settings.setdefault("api_base", fake.url)
    return XPlatform(settings, home=tmp_path / "home", clock=clock)


# -- cassette replay ---------------------------------------------------------------------------


def load_cassette(name: str) -> list[dict[str, Any]]:
    """The interactions of a vcrpy cassette: method, url, status, headers, decoded body."""
    raw = yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))
    out = []
    for item in raw["interactions"]:
        response = item["response"]
        body = response["body"]["string"]
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body[:2] == b"\x1f\x8b":  # gzip, as recorded
            body = gzip.decompress(body)
        headers = {
            k: v[0] if isinstance(v, list) else v
            for k, v in response["headers"].items()
            if k.lower().startswith("x-rate-limit") or k.lower().startswith("x-app-limit")
        }
        out.append(
            {
                "method": item["request"]["method"],
                "url": item["request"]["uri"],
                "status": response["status"]["code"],
                "headers": headers,
                "body": body,
            }
        )
    return out


def replay(
    rsps: responses.RequestsMock, name: str, *, only: str | None = None, path: str | None = None
) -> dict[str, Any]:
    """Serve a cassette's interactions, matched on method and path (vcrpy's default, minus
    the query, which the adapter builds its own way). Returns the first one's JSON body."""
    first: dict[str, Any] = {}
    for item in load_cassette(name):
        parts = urlsplit(item["url"])
        if only is not None and not parts.path.endswith(only):
            continue
        url = f"{parts.scheme}://{parts.netloc}{path or parts.path}"
        rsps.add(
            item["method"],
            url,
            body=item["body"],
            status=item["status"],
            headers=item["headers"],
            content_type="application/json",
        )
        first = first or json.loads(item["body"])
    return first


def recorded_at(name: str) -> ManualClock:
    """A clock at the cassette's recording time, so its rate windows are current."""
    raw = yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))
    headers = {k.lower(): v for k, v in raw["interactions"][0]["response"]["headers"].items()}
    moment = datetime.strptime(headers["date"][0], "%a, %d %b %Y %H:%M:%S %Z")
    return ManualClock(moment.replace(tzinfo=UTC))


def local_post_shape(tmp_path: Path) -> tuple[set[str], dict[str, type]]:
    platform = LocalPlatform(home=tmp_path / "local")
    platform.network.add(author="@alice", text="a question #AskUs", created_at=START)
    post = platform.search("#AskUs").posts[0]
    platform.close()
    data = post.to_json()
    return set(data), {k: type(v) for k, v in data.items() if v is not None}


def assert_like_local(post: Post, tmp_path: Path) -> None:
    keys, types = local_post_shape(tmp_path)
    data = post.to_json()
    assert isinstance(post, Post)
    assert set(data) == keys
    for key in ("id", "author", "text", "created_at", "kind", "likes", "reposts"):
        assert isinstance(data[key], types[key]), key
    assert post.created_at.tzinfo is not None
    assert post.created_at.utcoffset() == timedelta(0)
    assert post.author.startswith("@")


@pytest.fixture
def tweepy_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    set_credentials(monkeypatch, f"{TWEEPY_DEV_ID}-SECRET-access-token-4444")


# -- cassettes ---------------------------------------------------------------------------------


@needs_cassettes
def test_get_me_cassette_is_cached(tweepy_dev: None, tmp_path: Path) -> None:
    with responses.RequestsMock() as rsps:
        replay(rsps, "test_client_get_me.yaml")
        platform = XPlatform(home=tmp_path, clock=recorded_at("test_client_get_me.yaml"))
        assert platform.me() == "@TweepyDev"
        assert platform.me() == "@TweepyDev"
        assert len(rsps.calls) == 1
        assert rsps.calls[0].request.headers["Authorization"].startswith("OAuth ")


@needs_cassettes
@pytest.mark.parametrize(
    "cassette",
    ["test_client_search_recent_tweets.yaml", "test_asyncclient_search_recent_tweets.yaml"],
)
def test_search_cassette_parses_into_posts(tweepy_dev: None, tmp_path: Path, cassette: str) -> None:
    with responses.RequestsMock() as rsps:
        replay(rsps, "test_client_get_me.yaml")
        body = replay(rsps, cassette)
        platform = XPlatform(home=tmp_path / "home", clock=recorded_at(cassette))
        page = platform.search("#Tweepy")
        request = rsps.calls[-1].request
    query = parse_qs(urlsplit(str(request.url)).query)
    assert query["query"] == ["#Tweepy -is:retweet -from:TweepyDev"]
    assert query["max_results"] == ["100"]
    assert query["expansions"] == ["author_id,referenced_tweets.id"]
    assert set(query["tweet.fields"][0].split(",")) == {
        "created_at",
        "public_metrics",
        "conversation_id",
        "referenced_tweets",
        "lang",
        "author_id",
    }
    assert query["user.fields"] == ["username"]
    assert "since_id" not in query and "next_token" not in query

    recorded = body["data"]
    retweets = [t for t in recorded if t["text"].startswith("RT @")]
    assert len(page.posts) == len(recorded) - len(retweets)
    assert [p.id for p in page.posts] == sorted((p.id for p in page.posts), key=int)
    for post in page.posts:
        assert_like_local(post, tmp_path)
        # the recorded posts print their own UTC time: the id's timestamp must agree
        stamp = datetime.strptime(post.text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert abs(post.created_at - stamp) < timedelta(seconds=2)
        assert post.kind == "post" and post.author == "@unknown"
        assert post.url == f"https://x.com/i/web/status/{post.id}"
    # the cassette has a next_token: more pages, cursor remembers it
    assert page.more is True
    cursor = json.loads(page.cursor or "{}")
    assert cursor["q"]["next"] == body["meta"]["next_token"]
    assert cursor["q"]["top"] == body["meta"]["newest_id"]
    assert platform.counters.search_requests == 1
    assert platform.counters.posts_read == len(recorded)
    budget = platform.rate_budget()
    assert budget is not None and budget.limit == 450 and budget.remaining in (448, 449)


@needs_cassettes
def test_mentions_cassette_merges_with_search(tweepy_dev: None, tmp_path: Path) -> None:
    with responses.RequestsMock() as rsps:
        replay(rsps, "test_client_get_me.yaml")
        search = replay(rsps, "test_client_search_recent_tweets.yaml")
        # recorded for @Twitter (783214); served at the path our host's id asks for
        mentions = replay(
            rsps,
            "test_client_get_users_mentions.yaml",
            path=f"/2/users/{TWEEPY_DEV_ID}/mentions",
        )
        clock = recorded_at("test_client_search_recent_tweets.yaml")
        platform = XPlatform({"mentions": True}, home=tmp_path / "home", clock=clock)
        page = platform.search("#Tweepy")
        paths = [urlsplit(c.request.url).path for c in rsps.calls]
    assert paths == ["/2/users/me", "/2/tweets/search/recent", f"/2/users/{TWEEPY_DEV_ID}/mentions"]
    ids = {p.id for p in page.posts}
    assert ids == {t["id"] for t in search["data"]} | {t["id"] for t in mentions["data"]}
    assert len(ids) == len(page.posts)  # deduplicated
    cursor = json.loads(page.cursor or "{}")
    assert cursor["m"]["next"] == mentions["meta"]["next_token"]
    assert page.more is True
    assert platform.counters.search_requests == 2
    for post in page.posts:
        assert_like_local(post, tmp_path)


@needs_cassettes
def test_quote_tweets_and_single_tweet_cassettes_parse(tmp_path: Path) -> None:
    quotes = json.loads(load_cassette("test_client_get_quote_tweets.yaml")[0]["body"])
    single = json.loads(load_cassette("test_client_get_tweet.yaml")[0]["body"])
    posts = [tweet_to_post(t) for t in [*quotes["data"], single["data"]]]
    for post in posts:
        assert_like_local(post, tmp_path)
    assert "🥁" in posts[-1].text  # surrogate pairs in the JSON decode to one emoji
    assert posts[-1].created_at == snowflake_time(posts[-1].id)


@needs_cassettes
def test_create_tweet_cassette(tweepy_dev: None, tmp_path: Path) -> None:
    with responses.RequestsMock() as rsps:
        replay(rsps, "test_client_create_and_delete_tweet.yaml", only="/2/tweets")
        platform = XPlatform(home=tmp_path / "home", clock=ManualClock(START))
        new_id = platform.post("Test Tweet", idempotency_key="k1").id
        sent = json.loads(rsps.calls[0].request.body or b"")
    assert new_id == "1456012973835788293"
    assert sent == {"text": "Test Tweet"}
    assert platform.counters.posts_created == 1
    assert platform.counters.posts_created_with_url == 0


@needs_cassettes
def test_retweet_cassette(tweepy_dev: None, tmp_path: Path) -> None:
    with responses.RequestsMock() as rsps:
        replay(rsps, "test_client_retweet_and_unretweet.yaml", only="/retweets")
        platform = XPlatform(home=tmp_path / "home", clock=ManualClock(START))
        assert platform.repost(ref("1415348607813832708")).id == "1415348607813832708"
        assert urlsplit(rsps.calls[0].request.url).path == f"/2/users/{TWEEPY_DEV_ID}/retweets"
    assert platform.counters.reposts == 1


@needs_cassettes
def test_direct_message_cassette(tweepy_dev: None, tmp_path: Path) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{API}/2/users/by/username/recipient",
            json={"data": {"id": "750362064426721281", "name": "R", "username": "recipient"}},
        )
        replay(
            rsps,
            "test_manage_and_lookup_direct_messages.yaml",
            only="/with/750362064426721281/messages",
        )
        platform = XPlatform(home=tmp_path / "home", clock=ManualClock(START))
        event = platform.send_dm(who("@recipient"), "Testing 1").id
        assert json.loads(rsps.calls[-1].request.body or b"") == {"text": "Testing 1"}
    assert event == "1585800613253812228"
    assert platform.counters.dms == 1


# -- hand-made responses -------------------------------------------------------------------------

ME_BODY = {"data": {"id": "100001", "name": "Acme", "username": "AcmeHost"}}


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[XPlatform, Any]]:
    set_credentials(monkeypatch, "100001-SECRET-access-token-4444")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{API}/2/users/me", json=ME_BODY)
        platform = XPlatform(home=tmp_path / "home", clock=ManualClock(START))
        yield platform, rsps


def search_body(*tweets: dict[str, Any], next_token: str | None = None) -> dict[str, Any]:
    users = {t["author_id"]: t.pop("_username") for t in tweets if "_username" in t}
    body: dict[str, Any] = {"meta": {"result_count": len(tweets)}}
    if tweets:
        body["data"] = list(tweets)
        body["includes"] = {
            "users": [{"id": k, "name": v.title(), "username": v} for k, v in users.items()]
        }
        body["meta"]["newest_id"] = max((t["id"] for t in tweets), key=int)
        body["meta"]["oldest_id"] = min((t["id"] for t in tweets), key=int)
    if next_token:
        body["meta"]["next_token"] = next_token
    return body


def tweet(tweet_id: str, user: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": tweet_id,
        "text": text,
        "author_id": f"{abs(hash(user)) % 10**9}",
        "_username": user,
        "created_at": "2026-03-02T14:59:58.000Z",
        "edit_history_tweet_ids": [tweet_id],
        "lang": "en",
        "conversation_id": tweet_id,
        "public_metrics": {"retweet_count": 2, "reply_count": 0, "like_count": 7, "quote_count": 0},
        **extra,
    }


def test_since_id_polling_with_includes_users(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    first = search_body(
        tweet("1900000000000000003", "alice", "Q &amp; A: when? #AskAcme"),
        tweet(
            "1900000000000000002",
            "bob",
            "@carol agreed #AskAcme",
            referenced_tweets=[{"type": "replied_to", "id": "1899999999999999999"}],
        ),
        tweet(
            "1900000000000000001",
            "carol",
            "this! #AskAcme",
            referenced_tweets=[{"type": "quoted", "id": "1899999999999999998"}],
        ),
    )
    rsps.get(f"{API}/2/tweets/search/recent", json=first)
    rsps.get(f"{API}/2/tweets/search/recent", json={"meta": {"result_count": 0}})
    page = platform.search("AskAcme")
    assert [p.id for p in page.posts] == [
        "1900000000000000001",
        "1900000000000000002",
        "1900000000000000003",
    ]
    quote, reply, plain = page.posts
    assert (plain.author, plain.text, plain.kind, plain.likes, plain.reposts, plain.lang) == (
        "@alice",
        "Q & A: when? #AskAcme",
        "post",
        7,
        2,
        "en",
    )
    assert plain.created_at == datetime(2026, 3, 2, 14, 59, 58, tzinfo=UTC)
    assert plain.url == "https://x.com/alice/status/1900000000000000003"
    assert (reply.kind, reply.ref, reply.author) == ("reply", "1899999999999999999", "@bob")
    assert (quote.kind, quote.ref) == ("quote", "1899999999999999998")
    assert page.more is False
    assert json.loads(page.cursor or "") == {"q": {"since": "1900000000000000003"}}

    again = platform.search("#AskAcme", page.cursor)
    query = parse_qs(urlsplit(rsps.calls[-1].request.url).query)
    assert query["since_id"] == ["1900000000000000003"]
    assert again.posts == [] and again.more is False
    assert again.cursor == page.cursor
    assert platform.counters.search_requests == 2


def test_plain_since_id_cursor_is_accepted(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    rsps.get(f"{API}/2/tweets/search/recent", json={"meta": {"result_count": 0}})
    page = platform.search("#AskAcme", "1900000000000000000")
    assert parse_qs(urlsplit(rsps.calls[-1].request.url).query)["since_id"] == [
        "1900000000000000000"
    ]
    assert json.loads(page.cursor or "") == {"q": {"since": "1900000000000000000"}}


def limit_headers(now: datetime, *, short: int, day: int, day_prefix: str) -> dict[str, str]:
    return {
        "x-rate-limit-limit": "450",
        "x-rate-limit-remaining": str(short),
        "x-rate-limit-reset": str(int((now + timedelta(minutes=9)).timestamp())),
        f"{day_prefix}limit": "10000",
        f"{day_prefix}remaining": str(day),
        f"{day_prefix}reset": str(int((now + timedelta(hours=20)).timestamp())),
    }


@pytest.mark.parametrize("day_prefix", ["x-app-limit-24hour-", "x-user-limit-24hour-"])
def test_429_with_both_windows_waits_for_the_later_reset(
    acme: tuple[XPlatform, Any], day_prefix: str
) -> None:
    platform, rsps = acme
    headers = limit_headers(START, short=0, day=0, day_prefix=day_prefix)
    rsps.get(
        f"{API}/2/tweets/search/recent",
        status=429,
        json={"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429},
        headers=headers,
    )
    platform.me()
    with pytest.raises(RateLimited) as caught:
        platform.search("#AskAcme")
    assert caught.value.reset_at == START + timedelta(hours=20)
    assert caught.value.retryable
    calls = len(rsps.calls)
    # known exhausted: no request before the reset, even after the 15-minute one
    platform.clock.advance(15 * 60)  # type: ignore[attr-defined]
    with pytest.raises(RateLimited) as again:
        platform.search("#AskAcme")
    assert again.value.reset_at == START + timedelta(hours=20)
    assert len(rsps.calls) == calls
    assert platform.counters.errors == 1


def test_429_of_the_short_window_only(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    headers = limit_headers(START, short=0, day=5000, day_prefix="x-app-limit-24hour-")
    rsps.get(f"{API}/2/tweets/search/recent", status=429, json={}, headers=headers)
    rsps.get(f"{API}/2/tweets/search/recent", json={"meta": {"result_count": 0}})
    with pytest.raises(RateLimited) as caught:
        platform.search("#AskAcme")
    assert caught.value.reset_at == START + timedelta(minutes=9)
    budget = platform.rate_budget()
    assert budget is not None and budget.remaining == 0 and budget.limit == 450
    platform.clock.advance(9 * 60)  # type: ignore[attr-defined]
    assert platform.search("#AskAcme").posts == []


def test_429_without_headers_still_backs_off(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    rsps.post(f"{API}/2/tweets", status=429, json={"title": "Too Many Requests"})
    with pytest.raises(RateLimited) as caught:
        platform.post("hello")
    assert caught.value.reset_at > START
    calls = len(rsps.calls)
    with pytest.raises(RateLimited):
        platform.post("hello again")
    assert len(rsps.calls) == calls


def forbidden(detail: str) -> dict[str, Any]:
    return {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}


def test_duplicate_403_is_duplicate_post_with_the_existing_id(
    acme: tuple[XPlatform, Any],
) -> None:
    platform, rsps = acme
    rsps.post(
        f"{API}/2/tweets",
        status=403,
        json=forbidden("You are not allowed to create a Tweet with duplicate content."),
    )
    rsps.get(
        f"{API}/2/users/100001/tweets",
        json={
            "data": [
                {"id": "1900000000000000009", "text": "Other   thing"},
                {"id": "1900000000000000008", "text": "Thanks  &amp; see you https://t.co/x"},
            ]
        },
    )
    with pytest.raises(DuplicatePost) as caught:
        platform.post("Thanks & see you https://example.com/recap")
    assert caught.value.existing_id == "1900000000000000008"
    assert platform.counters.posts_created == 0


@pytest.mark.parametrize(
    "detail",
    [
        "Reply to this conversation is not allowed because you have not been mentioned or "
        "otherwise engaged by the author of the post you are replying to.",
        "You are not allowed to reply to this post.",
        "Replies to this post are restricted.",
    ],
)
def test_reply_restriction_403(acme: tuple[XPlatform, Any], detail: str) -> None:
    platform, rsps = acme
    rsps.post(f"{API}/2/tweets", status=403, json=forbidden(detail))
    with pytest.raises(ReplyRestricted):
        platform.post("An answer", reply_to=ref("1900000000000000001"))
    body = json.loads(rsps.calls[-1].request.body)
    assert body["reply"] == {"in_reply_to_tweet_id": "1900000000000000001"}


def test_second_retweet_403_is_duplicate(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    rsps.post(
        f"{API}/2/users/100001/retweets",
        status=403,
        json=forbidden("You have already retweeted this Post."),
    )
    with pytest.raises(DuplicatePost) as caught:
        platform.repost(ref("1900000000000000001"))
    assert caught.value.existing_id == "1900000000000000001"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retryable(acme: tuple[XPlatform, Any], status: int) -> None:
    platform, rsps = acme
    rsps.post(f"{API}/2/tweets", status=status, json={"title": "Service Unavailable"})
    with pytest.raises(PlatformError) as caught:
        platform.post("hello")
    assert caught.value.retryable
    assert str(status) in str(caught.value)


@pytest.mark.parametrize(
    ("error", "word"),
    [
        (requests.ConnectionError("connection refused"), "unreachable"),
        (requests.Timeout(), "timed"),
    ],
)
def test_network_errors_are_retryable(
    acme: tuple[XPlatform, Any], error: Exception, word: str
) -> None:
    platform, rsps = acme
    rsps.post(f"{API}/2/tweets", body=error)
    with pytest.raises(PlatformError) as caught:
        platform.post("hello")
    assert caught.value.retryable and word in str(caught.value)


def test_other_4xx_is_final_and_single_line(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    token = "100001-SECRET-access-token-4444"
    rsps.post(
        f"{API}/2/tweets",
        status=400,
        json={
            "errors": [{"message": f"The text field\nis invalid for {token}"}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
        },
    )
    with pytest.raises(PlatformError) as caught:
        platform.post("hello")
    message = str(caught.value)
    assert not caught.value.retryable
    assert "\n" not in message and "400" in message and "invalid" in message
    assert token not in message and "[redacted]" in message


def test_404_is_not_found(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    rsps.post(f"{API}/2/users/100001/retweets", status=404, json={"title": "Not Found"})
    with pytest.raises(NotFound):
        platform.repost(ref("1"))


def test_401_is_auth_error(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    rsps.get(
        f"{API}/2/tweets/search/recent",
        status=401,
        json={"title": "Unauthorized", "detail": "Unauthorized", "status": 401},
    )
    with pytest.raises(AuthError) as caught:
        platform.search("#AskAcme")
    assert "refused" in str(caught.value)


def test_unknown_dm_recipient(acme: tuple[XPlatform, Any]) -> None:
    platform, rsps = acme
    rsps.get(
        f"{API}/2/users/by/username/nobody",
        json={"errors": [{"detail": "Could not find user with username: [nobody]."}]},
    )
    with pytest.raises(NotFound):
        platform.send_dm(who("@nobody"), "hi")


# -- credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing",
    [("X_API_KEY",), ("X_API_KEY", "X_ACCESS_TOKEN"), ("X_API_SECRET", "X_ACCESS_TOKEN_SECRET")],
)
def test_missing_credentials_name_the_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, missing: tuple[str, ...]
) -> None:
    set_credentials(monkeypatch, "100001-SECRET-access-token-4444")
    for name in missing:
        monkeypatch.delenv(name)
    with pytest.raises(AuthError) as caught:
        XPlatform(home=tmp_path)
    message = str(caught.value)
    assert message == (f"missing X credentials: {', '.join(missing)} (set them in the environment)")
    assert "\n" not in message
    for value in [*SECRETS.values(), "100001-SECRET-access-token-4444"]:
        assert value not in message


def test_secrets_never_show(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    set_credentials(monkeypatch, "100001-SECRET-access-token-4444")
    monkeypatch.setenv("X_BEARER_TOKEN", "bearer-SECRET-5555")
    secrets = [*SECRETS.values(), "100001-SECRET-access-token-4444", "bearer-SECRET-5555"]
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/2/users/me", json=ME_BODY)
        rsps.get(f"{API}/2/tweets/search/recent", status=401, json={"title": "Unauthorized"})
        rsps.post(f"{API}/2/tweets", status=503, body="upstream bearer-SECRET-5555 failed")
        platform = XPlatform(home=tmp_path, clock=ManualClock(START))
        for call in (lambda: platform.search("#AskAcme"), lambda: platform.post("hi")):
            try:
                call()
            except (AuthError, PlatformError) as exc:
                messages.append(f"{exc!s} {exc!r}")
        assert rsps.calls[1].request.headers["Authorization"] == "Bearer bearer-SECRET-5555"
    shown = " ".join(
        [
            *messages,
            repr(platform),
            str(platform),
            repr(platform.credentials),
            str(platform.credentials),
            repr(platform.settings),
            caplog.text,
        ]
    )
    assert len(messages) == 2
    for value in secrets:
        assert value not in shown


def test_account_must_match_the_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_credentials(monkeypatch, "100001-x")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/2/users/me", json=ME_BODY)
        platform = XPlatform(home=tmp_path, account="@SomeoneElse")
        with pytest.raises(AuthError, match="@AcmeHost"):
            platform.me()


# -- settings and cost ---------------------------------------------------------------------------


def test_settings_refuse_unknown_keys_and_bad_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_credentials(monkeypatch, "100001-x")
    with pytest.raises(ValidationError):
        XPlatform({"api_bse": "http://127.0.0.1:1"}, home=tmp_path)
    with pytest.raises(ValidationError):
        XSettings(max_results=500)
    with pytest.raises(ValidationError):
        XSettings(api_base="ftp://nowhere")
    assert XSettings(api_base="http://127.0.0.1:9/").api_base == "http://127.0.0.1:9"


def test_estimate_cost() -> None:
    cost = estimate_cost({"budget_usd": 5}, expected_posts=1000, posts_to_create=30, with_url=2)
    assert cost["posts_read"] == 1000
    assert cost["search_requests"] == 10
    assert cost["read_usd"] == pytest.approx(5.0)
    assert cost["post_usd"] == pytest.approx(28 * 0.015)
    assert cost["url_usd"] == pytest.approx(0.4)
    assert cost["total_usd"] == pytest.approx(5.0 + 0.42 + 0.4)
    assert cost["within_budget"] is False
    assert estimate_cost(None, expected_posts=0, posts_to_create=0)["within_budget"] is None


def test_spend_and_budget(x_platform: XPlatform, x_inject: Callable[..., str]) -> None:
    platform = x_platform
    platform.settings.budget_usd = 1.0
    question = x_inject("@alice", "what about @AcmeHost pricing? #AskAcme")
    for i in range(9):
        x_inject(f"@u{i}", f"question {i} #AskAcme")
    assert len(platform.search("#AskAcme").posts) == 10
    platform.repost(ref(question))
    answer = "Good question, see https://acme.example/pricing #AskAcme"
    platform.post(answer, reply_to=ref(question))
    platform.post(".@alice the short answer is yes #AskAcme")
    platform.send_dm(who("@alice"), "Let's talk in private")
    c = platform.counters
    assert (c.posts_read, c.posts_created, c.posts_created_with_url, c.reposts, c.dms) == (
        10,
        2,
        1,
        1,
        1,
    )
    expected = 10 * 0.005 + 3 * 0.015 + 0.20
    assert platform.spend() == pytest.approx(expected)
    assert platform.budget_left() == pytest.approx(1.0 - expected)
    assert platform.over_budget_ratio() == pytest.approx(expected)
    platform.settings.budget_usd = None
    assert platform.budget_left() is None and platform.over_budget_ratio() is None


# -- against the loopback fake -------------------------------------------------------------------


def poll_until_caught_up(platform: XPlatform, cursor: str | None) -> tuple[list[Post], str | None]:
    posts: list[Post] = []
    while True:
        page = platform.search("#AskAcme", cursor)
        posts.extend(page.posts)
        cursor = page.cursor
        if not page.more:
            return posts, cursor


def test_polling_makes_the_minimum_number_of_search_requests(
    x_platform: XPlatform, x_fake: XFake, x_clock: ManualClock
) -> None:
    crowd = [
        x_fake.inject(f"@fan{i % 40}", f"Question number {i}? #AskAcme", likes=i % 7)
        for i in range(250)
    ]
    noise = [x_fake.inject("@carol", "", retweet_of=crowd[i]) for i in range(0, 60, 2)]
    noise += [x_fake.inject("@AcmeHost", f"Answer {i} #AskAcme") for i in range(10)]
    x_fake.inject("@dave", "off topic, no tag")

    posts, cursor = poll_until_caught_up(x_platform, None)
    assert x_fake.count(SEARCH) == 3  # 100 + 100 + 50
    assert sorted(p.id for p in posts) == sorted(crowd)
    assert all(p.author != "@AcmeHost" and p.kind != "repost" for p in posts)
    fetched = {i for r in x_fake.requests if r.endpoint == SEARCH for i in r.returned}
    assert not fetched & set(noise)  # never fetched, not just filtered
    assert x_platform.counters.posts_read == 250

    x_clock.advance(30)
    again, cursor = poll_until_caught_up(x_platform, cursor)
    assert again == [] and x_fake.count(SEARCH) == 4

    late = [x_fake.inject("@erin", f"Late question {i} #askacme") for i in range(5)]
    x_clock.advance(30)
    newer, cursor = poll_until_caught_up(x_platform, cursor)
    assert [p.id for p in newer] == late
    assert x_fake.count(SEARCH) == 5
    assert x_platform.counters.search_requests == 5
    assert x_fake.count("GET /2/users/me") == 1
    queries = {r.query["query"] for r in x_fake.requests if r.endpoint == SEARCH}
    assert queries == {"#AskAcme -is:retweet -from:AcmeHost"}


def test_posts_arriving_during_pagination_are_not_lost(
    x_platform: XPlatform, x_fake: XFake
) -> None:
    first = [x_fake.inject("@fan", f"early {i} #AskAcme") for i in range(150)]
    page = x_platform.search("#AskAcme")
    assert page.more and len(page.posts) == 100
    arriving = [x_fake.inject("@fan", f"meanwhile {i} #AskAcme") for i in range(20)]
    rest, cursor = poll_until_caught_up(x_platform, page.cursor)
    assert len(rest) == 50
    latest, _ = poll_until_caught_up(x_platform, cursor)
    seen = [p.id for p in [*page.posts, *rest, *latest]]
    assert sorted(seen) == sorted(first + arriving)
    assert len(seen) == len(set(seen))


def test_exactly_full_pages(x_platform: XPlatform, x_fake: XFake) -> None:
    for i in range(200):
        x_fake.inject("@fan", f"q{i} #AskAcme")
    posts, _ = poll_until_caught_up(x_platform, None)
    assert len(posts) == 200 and x_fake.count(SEARCH) == 2


def test_no_request_after_the_window_is_exhausted(
    x_platform: XPlatform, x_fake: XFake, x_clock: ManualClock
) -> None:
    x_fake.set_limit(SEARCH, limit=2)
    x_fake.inject("@fan", "q #AskAcme")
    cursor = x_platform.search("#AskAcme").cursor
    x_clock.advance(10)
    cursor = x_platform.search("#AskAcme", cursor).cursor
    budget = x_platform.rate_budget()
    assert budget is not None and budget.remaining == 0 and budget.limit == 2
    for _ in range(3):
        with pytest.raises(RateLimited) as caught:
            x_platform.search("#AskAcme", cursor)
        x_clock.advance(60)
    assert x_fake.count(SEARCH) == 2  # the adapter knew: nothing was sent
    assert caught.value.reset_at == START + timedelta(minutes=15)
    x_clock.current = caught.value.reset_at
    x_fake.inject("@fan", "later #AskAcme")
    assert len(x_platform.search("#AskAcme", cursor).posts) == 1
    assert x_fake.count(SEARCH) == 3


def test_no_request_after_a_429_before_its_reset(
    x_platform: XPlatform, x_fake: XFake, x_clock: ManualClock
) -> None:
    x_platform.me()
    # another app burnt the day's quota: X answers 429 with the 24-hour window exhausted
    x_fake.set_limit(SEARCH, "app24", limit=100, used=100)
    with pytest.raises(RateLimited) as caught:
        x_platform.search("#AskAcme")
    assert x_fake.count(SEARCH, status=429) == 1
    day_reset = START + timedelta(days=1)
    assert caught.value.reset_at == day_reset
    for minutes in (1, 16, 60 * 23):
        x_clock.current = START + timedelta(minutes=minutes)
        with pytest.raises(RateLimited):
            x_platform.search("#AskAcme")
    assert x_fake.count(SEARCH) == 1
    x_clock.current = day_reset
    assert x_platform.search("#AskAcme").posts == []
    assert x_fake.count(SEARCH) == 2


def test_injected_5xx_then_recovery(x_platform: XPlatform, x_fake: XFake) -> None:
    x_fake.inject("@fan", "q #AskAcme")
    x_platform.me()
    x_fake.fail(503, endpoint=SEARCH)
    with pytest.raises(PlatformError) as caught:
        x_platform.search("#AskAcme")
    assert caught.value.retryable
    assert len(x_platform.search("#AskAcme").posts) == 1


def test_lost_answer_is_reconciled_by_find_sent(
    x_platform: XPlatform, x_fake: XFake, x_clock: ManualClock, tmp_path: Path
) -> None:
    question = x_fake.inject("@alice", "@AcmeHost will it ship? #AskAcme")
    x_fake.fail(503, endpoint=CREATE, after=True)
    text = "It ships  in May &  June <3 https://acme.example/ship #AskAcme"
    with pytest.raises(PlatformError) as caught:
        x_platform.post(text, reply_to=ref(question), idempotency_key="op1:answer")
    assert caught.value.retryable
    sent = [t for t in x_fake.host_tweets() if t.reply_to == question]
    assert len(sent) == 1
    assert x_platform.find_sent("op1:answer") == ref(sent[0].id, "x")
    assert x_platform.counters.posts_created == 1
    assert x_platform.counters.posts_created_with_url == 1
    assert x_platform.find_sent("never-tried") is None

    # a restarted process (same home) can still reconcile
    restarted = make_platform(tmp_path, x_clock, x_fake)
    # when X cannot be asked, find_sent says so rather than "not sent"
    x_fake.fail(503, endpoint="GET /2/users/:id/tweets")
    with pytest.raises(PlatformError) as unsure:
        restarted.find_sent("op1:answer")
    assert unsure.value.retryable
    assert restarted.find_sent("op1:answer") == ref(sent[0].id, "x")
    restarted.close()


def test_find_sent_when_nothing_was_sent(x_platform: XPlatform, x_fake: XFake) -> None:
    x_fake.fail(503, endpoint=CREATE)
    with pytest.raises(PlatformError):
        x_platform.post("An answer #AskAcme", idempotency_key="op2:answer")
    assert x_platform.find_sent("op2:answer") is None
    assert x_platform.post("An answer #AskAcme", idempotency_key="op2:answer")


def test_lost_repost_and_dm_are_reconciled(x_platform: XPlatform, x_fake: XFake) -> None:
    question = x_fake.inject("@bob", "my account number is 123 #AskAcme")
    x_fake.fail(503, endpoint="POST /2/users/:id/retweets", after=True)
    with pytest.raises(PlatformError):
        x_platform.repost(ref(question), idempotency_key="op3:repost")
    assert x_platform.find_sent("op3:repost") == ref(question, "x")
    with pytest.raises(DuplicatePost):
        x_platform.repost(ref(question), idempotency_key="op3:repost")

    x_fake.fail(503, endpoint="POST /2/dm_conversations/with/:id/messages", after=True)
    with pytest.raises(PlatformError):
        x_platform.send_dm(who("@bob"), "Please DM us  your details", idempotency_key="op3:dm")
    assert x_platform.find_sent("op3:dm") == ref(x_fake.dms[-1].id, "x")
    assert x_platform.counters.reposts == 1 and x_platform.counters.dms == 1


def test_reply_restriction_and_duplicates_against_the_fake(
    x_platform: XPlatform, x_fake: XFake
) -> None:
    plain = x_fake.inject("@alice", "When is the launch? #AskAcme")
    mentioning = x_fake.inject("@bob", "@acmehost when is the launch? #AskAcme")
    with pytest.raises(ReplyRestricted):
        x_platform.post("In May!", reply_to=ref(plain))
    assert x_platform.post("In May!", reply_to=ref(mentioning))
    with pytest.raises(DuplicatePost) as caught:
        x_platform.post("In May!")
    assert caught.value.existing_id == x_fake.host_tweets()[-1].id
    assert x_platform.counters.posts_created == 1


def test_mentions_source(
    x_fake: XFake, x_clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_credentials(monkeypatch, x_fake.access_token())
    platform = make_platform(tmp_path, x_clock, x_fake, mentions=True, max_results=10)
    tagged = x_fake.inject("@alice", "a tagged question #AskAcme")
    both = x_fake.inject("@bob", "@AcmeHost a question with both #AskAcme")
    untagged = x_fake.inject("@carol", "@AcmeHost forgot the tag?")
    x_fake.inject("@AcmeHost", "@AcmeHost talking to myself")
    page = platform.search("#AskAcme")
    assert [p.id for p in page.posts] == [tagged, both, untagged]
    assert x_fake.count(SEARCH) == 1 and x_fake.count("GET /2/users/:id/mentions") == 1
    cursor = json.loads(page.cursor or "")
    assert set(cursor) == {"q", "m"}

    # a pagination run of the mentions only asks the mentions until it ends
    many = [x_fake.inject("@fan", f"@AcmeHost hello {i}") for i in range(15)]
    first = platform.search("#AskAcme", page.cursor)
    assert first.more
    second = platform.search("#AskAcme", first.cursor)
    assert not second.more
    assert sorted(p.id for p in [*first.posts, *second.posts]) == many
    assert x_fake.count(SEARCH) == 2 and x_fake.count("GET /2/users/:id/mentions") == 3

    # a throttled mentions endpoint does not stop the hashtag
    x_fake.set_limit("GET /2/users/:id/mentions", limit=1, used=1)
    late = x_fake.inject("@dave", "late #AskAcme")
    page = platform.search("#AskAcme", second.cursor)
    assert [p.id for p in page.posts] == [late]
    platform.close()


def test_bearer_token_reads_app_only(
    x_fake: XFake, x_clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_credentials(monkeypatch, x_fake.access_token())
    monkeypatch.setenv("X_BEARER_TOKEN", "bearer-SECRET-5555")
    platform = make_platform(tmp_path, x_clock, x_fake)
    x_fake.inject("@alice", "q #AskAcme")
    assert len(platform.search("#AskAcme").posts) == 1
    platform.post("hello #AskAcme")
    auth = {r.endpoint: r.auth for r in x_fake.requests}
    assert auth[SEARCH] == "app"
    assert auth["GET /2/users/me"] == "user" and auth[CREATE] == "user"


def test_revoked_credentials(x_platform: XPlatform, x_fake: XFake) -> None:
    x_fake.revoke()
    with pytest.raises(AuthError):
        x_platform.me()


def test_image_upload(x_platform: XPlatform, x_fake: XFake, tmp_path: Path) -> None:
    photo = tmp_path / "opening.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n fake image")
    new_id = x_platform.post("We are live! #AskAcme", media=[image(photo)]).id
    assert x_fake.count("POST /2/media/upload") == 1
    (media_id,) = x_fake.media
    assert x_fake.media[media_id]["size"] == photo.stat().st_size
    assert x_fake.media[media_id]["image"]["image_type"] == "image/png"
    assert x_fake.tweets[new_id].media_keys == [f"3_{media_id}"]
    upload = next(r for r in x_fake.requests if r.endpoint == "POST /2/media/upload")
    assert upload.auth == "user"
    with pytest.raises(PlatformError):
        x_platform.post("missing image", media=[image(tmp_path / "nope.png")])


def test_lookup_batches_and_counts_reads(x_platform: XPlatform, x_fake: XFake) -> None:
    ids = [x_fake.inject(f"@fan{i}", f"q{i} #AskAcme") for i in range(150)]
    x_fake.like(ids[0], 12)
    posts = x_platform.lookup([*ids, "1"])
    assert len(posts) == 150
    assert posts[0].likes == 12 and posts[0].author == "@fan0"
    assert x_fake.count("GET /2/tweets") == 2
    assert x_platform.counters.posts_read == 150
    assert x_platform.lookup([]) == []


def test_post_too_long_is_refused_before_calling(x_platform: XPlatform, x_fake: XFake) -> None:
    with pytest.raises(PlatformError, match="too long"):
        x_platform.post("x" * 281)
    assert x_fake.count(CREATE) == 0


def test_fixture_contract_basics(
    x_platform: XPlatform, x_inject: Callable[..., str], x_fake: XFake
) -> None:
    """What the lead's shared contract test will ask of any platform."""
    assert x_platform.me() == "@AcmeHost"
    question = x_inject("@alice", "@AcmeHost Is it #AskAcme time?", likes=3)
    page = x_platform.search("#askacme")
    assert [p.id for p in page.posts] == [question]
    assert page.posts[0].likes == 3
    assert x_platform.repost(ref(question)).id == question
    with pytest.raises(DuplicatePost):
        x_platform.repost(ref(question))
    reply = x_platform.post("Yes!", reply_to=ref(question)).id
    quote = x_platform.post("Everyone: yes!", quote_of=ref(question)).id
    assert x_fake.tweets[reply].reply_to == question
    assert x_fake.tweets[quote].quote_of == question
    assert x_platform.send_dm(who("@alice"), "hello")
    assert x_platform.capabilities.reply_needs_mention
    assert x_platform.capabilities.can_lookup_sent
    assert x_platform.length("é" * 10) == 10
