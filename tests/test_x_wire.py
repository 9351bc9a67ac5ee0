"""The fast decoder of X's tweets (msgspec) against the tolerant one (json + tweet_to_post)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qasession.platforms.x_wire import (
    Payload,
    decode_payload,
    payload_from_json,
    snowflake_time,
)

IDS = st.integers(min_value=1, max_value=2**63 - 1).map(str)
TIMES = st.sampled_from(
    [
        "2026-12-03T17:00:00.000Z",
        "2026-12-03T17:00:00Z",
        "2026-12-03T18:30:15.250+01:30",
        "2026-10-25T00:59:59.999-05:00",
        "2024-01-01T00:00:00z",
        "2026-12-03T17:00:00.1234567Z",
        "2026-12-03T23:59:59.9999996Z",
        "2026-12-03 17:00:00",
        "not a date",
        "",
    ]
)
METRIC = st.one_of(
    st.integers(min_value=0, max_value=10**9), st.none(), st.just(2.0), st.just("abc")
)
TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["RT @bob: hello", "a &lt;b&gt; &amp; c?", "Why? #AskAcme", "&amp;lt;"]),
)


@st.composite
def tweets(draw: st.DrawFn) -> dict[str, Any]:
    tweet: dict[str, Any] = {"id": draw(st.one_of(IDS, IDS.map(int), st.just("")))}
    if draw(st.booleans()):
        tweet["text"] = draw(TEXT)
    if draw(st.booleans()):
        tweet["author_id"] = draw(st.sampled_from(["10", "11", "12", ""]))
    if draw(st.booleans()):
        tweet["created_at"] = draw(TIMES)
    if draw(st.booleans()):
        tweet["lang"] = draw(st.sampled_from(["en", "fr", "", None]))
    if draw(st.booleans()):
        tweet["public_metrics"] = {"like_count": draw(METRIC), "retweet_count": draw(METRIC)}
    if draw(st.booleans()):
        kinds = st.sampled_from(["replied_to", "quoted", "retweeted", "other"])
        tweet["referenced_tweets"] = draw(
            st.lists(st.fixed_dictionaries({"type": kinds, "id": IDS}), max_size=3)
        )
    if draw(st.booleans()):
        tweet["author"] = {"id": "10", "username": draw(st.sampled_from(["alice", "", "bob"]))}
    tweet["entities"] = {"hashtags": [{"start": 0, "end": 8, "tag": "AskAcme"}]}  # not read
    return tweet


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    shape = draw(st.sampled_from(["page", "flat", "single", "odd"]))
    if shape == "flat":
        return draw(tweets())
    if shape == "single":
        return {"data": draw(tweets())}
    if shape == "odd":
        return draw(st.sampled_from([[], {}, {"data": None}, {"meta": {}}, "text", 3]))
    users = [
        {"id": i, "username": name}
        for i, name in draw(
            st.lists(st.tuples(st.sampled_from(["10", "11"]), st.sampled_from(["x", "y"])))
        )
    ]
    return {
        "data": draw(st.lists(tweets(), max_size=4)),
        "includes": {"users": users},
        "meta": {"newest_id": draw(st.one_of(IDS, st.just(""))), "next_token": "t1"},
    }


@settings(max_examples=400, deadline=None)
@given(bodies())
def test_fast_and_tolerant_paths_agree(body: Any) -> None:
    raw = json.dumps(body)
    assert decode_payload(raw) == payload_from_json(json.loads(raw))
    assert decode_payload(raw.encode()) == decode_payload(raw)


def test_a_search_page() -> None:
    body = {
        "data": [
            {
                "id": "1865000000000000002",
                "text": "RT @acme: hi",
                "author_id": "11",
                "referenced_tweets": [{"type": "retweeted", "id": "1865000000000000001"}],
                "created_at": "2026-12-03T17:00:02.000Z",
            },
            {
                "id": "1865000000000000003",
                "text": "How do I export &amp; import? #AskAcme",
                "author_id": "10",
                "created_at": "2026-12-03T18:00:03.500+01:00",
                "public_metrics": {"like_count": 4, "retweet_count": 1, "reply_count": 9},
                "lang": "en",
            },
        ],
        "includes": {"users": [{"id": "10", "username": "alice"}, {"id": "11", "name": "?"}]},
        "meta": {"newest_id": "1865000000000000003", "next_token": "b26v89c19zqg8o3f"},
        "__twarc": {"version": "2.14.0"},
    }
    payload = decode_payload(json.dumps(body).encode())
    assert isinstance(payload, Payload)
    retweet, question = payload.posts
    assert payload.retweets == {retweet.id}
    assert (retweet.kind, retweet.ref, retweet.author) == ("repost", "1865000000000000001", "@11")
    assert question.author == "@alice"
    assert question.text == "How do I export & import? #AskAcme"
    assert question.created_at == datetime(2026, 12, 3, 17, 0, 3, 500000, tzinfo=UTC)
    assert (question.likes, question.reposts, question.lang) == (4, 1, "en")
    assert question.url == "https://x.com/alice/status/1865000000000000003"
    assert (payload.newest_id, payload.next_token) == ("1865000000000000003", "b26v89c19zqg8o3f")


def test_odd_values_take_the_tolerant_path() -> None:
    # an id given as a number and a date that is no date: msgspec refuses, json maps
    payload = decode_payload(b'{"id": 1865000000000000005, "text": "hi", "created_at": "soon"}')
    (post,) = payload.posts
    assert post.id == "1865000000000000005"
    assert post.created_at == snowflake_time(post.id)
    assert post.author == "@unknown"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    (post,) = decode_payload(
        b'{"id": "9", "text": "caf\xe9?", "public_metrics": {"like_count": "x"}}'
    ).posts
    assert post.text == "caf\ufffd?" and post.likes == 0


def test_invalid_json_raises_a_value_error() -> None:
    with pytest.raises(ValueError):
        decode_payload(b'{"data": [')
