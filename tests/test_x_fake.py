"""The loopback X fake speaks enough of X API v2, over real HTTP, to be worth testing against."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from qasession.clock import ManualClock
from tests.support.x_fake import (
    ALREADY_RETWEETED_DETAIL,
    DUPLICATE_DETAIL,
    REPLY_RESTRICTED_DETAIL,
    XFake,
    endpoint_key,
)

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SEARCH = "GET /2/tweets/search/recent"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[XFake]:
    with XFake(username="AcmeHost", clock=clock.now) as server:
        yield server


class Api:
    """A bare HTTP client of the fake: user context (OAuth header) or app-only (bearer)."""

    def __init__(self, fake: XFake, *, app: bool = False) -> None:
        self.fake = fake
        self.session = requests.Session()
        self.auth = (
            "Bearer app-token"
            if app
            else f'OAuth oauth_consumer_key="k", oauth_token="{fake.access_token()}"'
        )

    def __call__(
        self, method: str, path: str, *, auth: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": self.auth if auth is None else auth}
        return self.session.request(
            method, self.fake.url + path, headers=headers, timeout=5, **kwargs
        )


@pytest.fixture
def api(fake: XFake) -> Iterator[Api]:
    client = Api(fake)
    yield client
    client.session.close()


FIELDS = {
    "expansions": "author_id,referenced_tweets.id",
    "tweet.fields": "created_at,public_metrics,conversation_id,referenced_tweets,lang,author_id",
    "user.fields": "username",
}


def search(api: Api, query: str = "#AskAcme -is:retweet -from:AcmeHost", **params: Any) -> Any:
    response = api("GET", "/2/tweets/search/recent", params={"query": query, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_serves_on_loopback_and_records_requests(fake: XFake, api: Api) -> None:
    assert fake.url.startswith("http://127.0.0.1:") and fake.port > 0
    search(api, max_results=10)
    api("GET", "/2/users/me")
    assert [r.endpoint for r in fake.requests] == [SEARCH, "GET /2/users/me"]
    first = fake.requests[0]
    assert (first.method, first.path, first.status, first.auth) == (
        "GET",
        "/2/tweets/search/recent",
        200,
        "user",
    )
    assert first.query == {"query": "#AskAcme -is:retweet -from:AcmeHost", "max_results": "10"}
    assert fake.count(SEARCH) == 1 and fake.count() == 2


def test_endpoint_keys() -> None:
    assert endpoint_key("get", "/2/users/123/mentions") == "GET /2/users/:id/mentions"
    assert endpoint_key("GET", "/2/users/by/username/bob") == "GET /2/users/by/username/:name"
    assert endpoint_key("GET", "/2/tweets") == "GET /2/tweets"
    assert (
        endpoint_key("GET", "/2/dm_conversations/1-2/dm_events")
        == "GET /2/dm_conversations/:id/dm_events"
    )


def test_authentication(fake: XFake, api: Api) -> None:
    assert api("GET", "/2/users/me", auth="").status_code == 401
    assert api("GET", "/2/users/me", auth='OAuth oauth_token="999-x"').status_code == 401
    app = Api(fake, app=True)
    assert app("GET", "/2/users/me").status_code == 403  # user context only
    assert app("GET", "/2/tweets/search/recent", params={"query": "#a"}).status_code == 200
    me = api("GET", "/2/users/me").json()
    assert me == {"data": {"id": fake.host.id, "name": "Q&A host", "username": "AcmeHost"}}
    fake.revoke()
    assert api("GET", "/2/users/me").status_code == 401


def test_search_semantics(fake: XFake, api: Api) -> None:
    question = fake.inject("@alice", "What's next? #AskAcme")
    upper = fake.inject("@bob", "caps #ASKACME too")
    fake.inject("@carol", "", retweet_of=question)
    fake.inject("@AcmeHost", "Welcome to #AskAcme")
    fake.inject("@dave", "#AskAcmeExtra is another tag")
    fake.inject("@erin", "no tag at all")
    fake.inject("@old", "too old #AskAcme", created_at=START - timedelta(days=8))
    body = search(api)
    assert [t["id"] for t in body["data"]] == [upper, question]  # newest first
    assert body["meta"] == {"result_count": 2, "newest_id": upper, "oldest_id": question}
    with_retweets = search(api, "#AskAcme -from:AcmeHost")
    assert len(with_retweets["data"]) == 3
    only_host = search(api, "#AskAcme from:AcmeHost")
    assert [t["text"] for t in only_host["data"]] == ["Welcome to #AskAcme"]
    bad = api("GET", "/2/tweets/search/recent", params={"query": "#a OR #b"})
    assert bad.status_code == 400
    small = api("GET", "/2/tweets/search/recent", params={"query": "#a", "max_results": 5})
    assert small.status_code == 400 and "between 10 and 100" in small.json()["detail"]


def test_fields_and_expansions_only_when_asked(fake: XFake, api: Api) -> None:
    parent = fake.inject("@alice", "Parent <b> & co #AskAcme", likes=4)
    reply = fake.inject("@bob", "reply #AskAcme", reply_to=parent, lang="de")
    bare = search(api)
    assert bare["data"][0] == {
        "id": reply,
        "text": "reply #AskAcme",
        "edit_history_tweet_ids": [reply],
    }
    assert bare["data"][1]["text"] == "Parent &lt;b&gt; &amp; co #AskAcme"  # X escapes these
    assert "includes" not in bare
    full = search(api, **FIELDS)
    first = full["data"][0]
    assert first["referenced_tweets"] == [{"type": "replied_to", "id": parent}]
    assert first["lang"] == "de" and first["conversation_id"] == parent
    assert first["created_at"] == "2026-03-02T15:00:00.000Z"
    assert full["data"][1]["public_metrics"]["like_count"] == 4
    assert full["data"][1]["public_metrics"]["reply_count"] == 1
    users = {u["username"] for u in full["includes"]["users"]}
    assert users == {"alice", "bob"}
    assert [t["id"] for t in full["includes"]["tweets"]] == [parent]


def test_pagination_with_since_id(fake: XFake, api: Api) -> None:
    ids = [fake.inject("@fan", f"q{i} #AskAcme") for i in range(25)]
    first = search(api, max_results=10)
    token = first["meta"]["next_token"]
    second = search(api, max_results=10, next_token=token)
    third = search(api, max_results=10, next_token=second["meta"]["next_token"])
    assert "next_token" not in third["meta"]
    pages = [t["id"] for page in (first, second, third) for t in page["data"]]
    assert pages == list(reversed(ids))
    newer = [fake.inject("@fan", f"new{i} #AskAcme") for i in range(3)]
    latest = search(api, max_results=10, since_id=first["meta"]["newest_id"])
    assert [t["id"] for t in latest["data"]] == list(reversed(newer))
    nothing = search(api, max_results=10, since_id=newer[-1])
    assert nothing == {"meta": {"result_count": 0}}
    assert (
        api(
            "GET", "/2/tweets/search/recent", params={"query": "#a", "next_token": "!!"}
        ).status_code
        == 400
    )


def test_ids_grow_and_carry_their_time(fake: XFake) -> None:
    later = fake.inject("@a", "one", created_at=START)
    earlier = fake.inject("@a", "two", created_at=START - timedelta(hours=1))
    assert int(earlier) > int(later)
    stamp = datetime.fromtimestamp(((int(later) >> 22) + 1288834974657) / 1000, UTC)
    assert stamp == START


def test_rate_windows_and_429(fake: XFake, api: Api, clock: ManualClock) -> None:
    fake.set_limit(SEARCH, limit=2)
    first = api("GET", "/2/tweets/search/recent", params={"query": "#a"})
    assert first.headers["x-rate-limit-limit"] == "2"
    assert first.headers["x-rate-limit-remaining"] == "1"
    reset = int(first.headers["x-rate-limit-reset"])
    assert reset == int((START + timedelta(minutes=15)).timestamp())
    assert "x-app-limit-24hour-limit" not in first.headers
    api("GET", "/2/tweets/search/recent", params={"query": "#a"})
    limited = api("GET", "/2/tweets/search/recent", params={"query": "#a"})
    assert limited.status_code == 429
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert limited.json()["title"] == "Too Many Requests"
    clock.current = START + timedelta(minutes=15)
    assert api("GET", "/2/tweets/search/recent", params={"query": "#a"}).status_code == 200


def test_24_hour_windows_on_posting(fake: XFake, api: Api) -> None:
    created = api("POST", "/2/tweets", json={"text": "hello"})
    assert created.status_code == 201
    for prefix in ("x-rate-limit-", "x-user-limit-24hour-", "x-app-limit-24hour-"):
        assert int(created.headers[prefix + "remaining"]) >= 0
    day = int((START + timedelta(days=1)).timestamp())
    assert int(created.headers["x-user-limit-24hour-reset"]) == day
    fake.set_limit("POST /2/tweets", "user24", limit=1, used=1)
    limited = api("POST", "/2/tweets", json={"text": "again"})
    assert limited.status_code == 429
    assert limited.headers["x-user-limit-24hour-remaining"] == "0"
    assert int(limited.headers["x-rate-limit-remaining"]) > 0
    assert len(fake.host_tweets()) == 1


def test_posting_rules(fake: XFake, api: Api) -> None:
    plain = fake.inject("@alice", "no mention here")
    mention = fake.inject("@bob", "hey @acmehost!")
    own = api("POST", "/2/tweets", json={"text": "ours"}).json()["data"]["id"]
    quoting = fake.inject("@carol", "look", quote_of=own)

    refused = api(
        "POST", "/2/tweets", json={"text": "r1", "reply": {"in_reply_to_tweet_id": plain}}
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == REPLY_RESTRICTED_DETAIL
    for i, target in enumerate((mention, own, quoting)):
        body = {"text": f"reply {i}", "reply": {"in_reply_to_tweet_id": target}}
        assert api("POST", "/2/tweets", json=body).status_code == 201
    duplicate = api("POST", "/2/tweets", json={"text": "ours"})
    assert duplicate.status_code == 403 and duplicate.json()["detail"] == DUPLICATE_DETAIL
    quote = api("POST", "/2/tweets", json={"text": "q", "quote_tweet_id": plain})
    assert fake.tweets[quote.json()["data"]["id"]].quote_of == plain
    assert fake.tweets[plain].quotes == 1
    too_long = api("POST", "/2/tweets", json={"text": "x" * 281})
    assert too_long.status_code == 400

    lenient = XFake(reply_restriction=False)
    lenient_api = Api(lenient.__enter__())
    try:
        target = lenient.inject("@alice", "no mention")
        body = {"text": "hi", "reply": {"in_reply_to_tweet_id": target}}
        assert lenient_api("POST", "/2/tweets", json=body).status_code == 201
    finally:
        lenient.stop()


def test_retweets(fake: XFake, api: Api) -> None:
    target = fake.inject("@alice", "retweet me")
    path = f"/2/users/{fake.host.id}/retweets"
    first = api("POST", path, json={"tweet_id": target})
    assert first.status_code == 200 and first.json() == {"data": {"retweeted": True}}
    second = api("POST", path, json={"tweet_id": target})
    assert second.status_code == 403 and second.json()["detail"] == ALREADY_RETWEETED_DETAIL
    assert fake.tweets[target].retweets == 1
    (retweet,) = [t for t in fake.host_tweets() if t.retweet_of == target]
    assert retweet.text == "RT @alice: retweet me"
    assert api("POST", "/2/users/42/retweets", json={"tweet_id": target}).status_code == 403
    timeline = api(
        "GET", f"/2/users/{fake.host.id}/tweets", params={"tweet.fields": "referenced_tweets"}
    ).json()
    assert timeline["data"][0]["referenced_tweets"] == [{"type": "retweeted", "id": target}]
    no_rts = api("GET", f"/2/users/{fake.host.id}/tweets", params={"exclude": "retweets"})
    assert no_rts.json() == {"meta": {"result_count": 0}}


def test_direct_messages(fake: XFake, api: Api) -> None:
    bob = fake.add_user("bob")
    found = api("GET", "/2/users/by/username/BOB").json()
    assert found["data"]["id"] == bob.id
    missing = api("GET", "/2/users/by/username/nobody")
    assert missing.status_code == 200 and "errors" in missing.json()
    sent = api("POST", f"/2/dm_conversations/with/{bob.id}/messages", json={"text": "hi & bye"})
    assert sent.status_code == 201
    event = sent.json()["data"]["dm_event_id"]
    events = api(
        "GET",
        f"/2/dm_conversations/with/{bob.id}/dm_events",
        params={"dm_event.fields": "sender_id,created_at"},
    ).json()
    assert events["data"] == [
        {
            "id": event,
            "event_type": "MessageCreate",
            "text": "hi &amp; bye",
            "sender_id": fake.host.id,
            "created_at": "2026-03-02T15:00:00.000Z",
        }
    ]
    assert api("POST", "/2/dm_conversations/with/1/messages", json={"text": "x"}).status_code == 400


def test_media_upload(fake: XFake, api: Api) -> None:
    response = api(
        "POST",
        "/2/media/upload",
        files={"media": ("a.png", b"\x89PNG data", "image/png")},
        data={"media_category": "tweet_image"},
    )
    assert response.status_code == 200
    media = response.json()["data"]
    assert media["media_key"] == f"3_{media['id']}" and media["size"] == 9
    assert fake.media[media["id"]]["media_category"] == "tweet_image"
    post = api("POST", "/2/tweets", json={"text": "pic", "media": {"media_ids": [media["id"]]}})
    assert post.status_code == 201
    bad = api("POST", "/2/tweets", json={"text": "pic2", "media": {"media_ids": ["1"]}})
    assert bad.status_code == 400
    assert api("POST", "/2/media/upload", data={"x": "1"}).status_code == 400


def test_lookup_and_mentions(fake: XFake, api: Api) -> None:
    one = fake.inject("@alice", "hello @AcmeHost", likes=2)
    two = fake.inject("@bob", "no mention")
    looked = api(
        "GET", "/2/tweets", params={"ids": f"{one},{two},5", "tweet.fields": "public_metrics"}
    )
    body = looked.json()
    assert [t["id"] for t in body["data"]] == [one, two]
    assert body["errors"][0]["resource_id"] == "5"
    mentions = api("GET", f"/2/users/{fake.host.id}/mentions").json()
    assert [t["id"] for t in mentions["data"]] == [one]
    assert api("GET", "/2/tweets", params={"ids": ",".join(["1"] * 101)}).status_code == 400


def test_fault_injection(fake: XFake, api: Api) -> None:
    fake.fail(503, endpoint="POST /2/tweets", times=2)
    assert api("GET", "/2/users/me").status_code == 200  # other endpoints unaffected
    for _ in range(2):
        assert api("POST", "/2/tweets", json={"text": "a"}).status_code == 503
    assert fake.host_tweets() == []
    fake.fail(500, after=True)  # the write happens, its answer is lost
    assert api("POST", "/2/tweets", json={"text": "b"}).status_code == 500
    assert [t.text for t in fake.host_tweets()] == ["b"]
    assert api("POST", "/2/tweets", json={"text": "c"}).status_code == 201


def test_unknown_route(api: Api) -> None:
    assert api("GET", "/2/spaces").status_code == 404


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_runs_from_a_shell() -> None:
    for _ in range(5):  # another worker may bind the free port before the fake does
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.x_fake",
                "--port",
                str(port),
                "--username",
                "Acme",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        if first:
            break
        process.wait(timeout=10)  # it could not bind: try another port
    try:
        assert f"http://127.0.0.1:{port}" in first and "@Acme" in first
        response = requests.get(
            f"http://127.0.0.1:{port}/2/users/me",
            headers={"Authorization": 'OAuth oauth_token="100001-x"'},
            timeout=5,
        )
        assert json.loads(response.text)["data"]["username"] == "Acme"
    finally:
        process.terminate()
        process.wait(timeout=10)
