"""The atproto SDK against the reference network, run by the integration venv's Python (never the
project's): `prove` checks what the Bluesky adapter relies on and prints the answers as JSON;
`post` writes an asker's question; `records` lists an account's records for the assertions.

    python sdk.py prove PDS HOST_HANDLE HOST_PASSWORD ASKER_HANDLE ASKER_PASSWORD
    python sdk.py post PDS HANDLE PASSWORD TEXT
    python sdk.py records PDS DID [DID...]
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from atproto import Client, client_utils, models
from atproto_client.exceptions import AtProtocolError, RequestErrorBase

S32 = "234567abcdefghijklmnopqrstuvwxyz"
# a 1x1 PNG: the blob upload needs real image bytes, not a size
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def tid(micros: int, clock_id: int = 0) -> str:
    """A record key in the TID syntax: 53 bits of microseconds then 10 of clock id, base32."""
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join(S32[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def login(pds: str, handle: str, password: str, patience: float = 5.0) -> Client:
    """The SDK's login, retried while the AppView does not know the new account's profile yet."""
    deadline = time.monotonic() + patience
    while True:
        client = Client(base_url=pds)
        try:
            client.login(handle, password)
            return client
        except AtProtocolError as error:
            if "Profile not found" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Raw:
    """XRPC calls over plain httpx, to read the exact status and error name of a refusal."""

    def __init__(self, pds: str, handle: str, password: str) -> None:
        self.http = httpx.Client(base_url=pds, timeout=30)
        session = self.call(
            "com.atproto.server.createSession", identifier=handle, password=password
        )
        self.did = session["body"]["did"]
        self.http.headers["authorization"] = f"Bearer {session['body']['accessJwt']}"

    def call(self, method: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"/xrpc/{method}", json=body)
        return {"status": response.status_code, "body": response.json()}

    def get(self, method: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(f"/xrpc/{method}", params=params)
        return {"status": response.status_code, "body": response.json()}


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    return {"error": body.get("error"), "message": body.get("message")}


def sdk_error(action: Callable[[], Any]) -> dict[str, Any]:
    """What the SDK raises for a call the server refuses: class, status and the error body."""
    try:
        action()
    except RequestErrorBase as error:
        response = error.response
        content = getattr(response, "content", None)
        return {
            "raised": type(error).__name__,
            "status": getattr(response, "status_code", None),
            "error": getattr(content, "error", None),
            "message": getattr(content, "message", None),
        }
    return {"raised": None}


def post_record(text: str) -> dict[str, Any]:
    return {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def eventually(read: Callable[[], Any], patience: float = 15.0) -> Any:
    """`read()` once the AppView has indexed what it reads (it follows the PDS a moment late)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return read()
        except RequestErrorBase:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def search(client: Client, q: str, uri: str, patience: float = 15.0) -> float | None:
    """Seconds until searchPosts(q) returns `uri`, or None when it never does within patience."""
    started = time.monotonic()
    while time.monotonic() - started < patience:
        found = client.app.bsky.feed.search_posts(params={"q": q, "limit": 25})
        if any(post.uri == uri for post in found.posts):
            return round(time.monotonic() - started, 2)
        time.sleep(0.25)
    return None


def prove_rkeys(raw: Raw) -> dict[str, Any]:
    """createRecord and applyWrites with a record key chosen by the caller, twice each."""
    now = time.time_ns() // 1000
    key = tid(now, 7)
    first = raw.call(
        "com.atproto.repo.createRecord",
        repo=raw.did,
        collection="app.bsky.feed.post",
        rkey=key,
        record=post_record("written with a chosen record key"),
    )
    second = raw.call(
        "com.atproto.repo.createRecord",
        repo=raw.did,
        collection="app.bsky.feed.post",
        rkey=key,
        record=post_record("the same record key again"),
    )
    fetched = raw.get(
        "com.atproto.repo.getRecord", repo=raw.did, collection="app.bsky.feed.post", rkey=key
    )
    missing = raw.get(
        "com.atproto.repo.getRecord",
        repo=raw.did,
        collection="app.bsky.feed.post",
        rkey=tid(now + 1, 8),
    )
    write_key = tid(now + 2, 9)
    write = {
        "$type": "com.atproto.repo.applyWrites#create",
        "collection": "app.bsky.feed.post",
        "rkey": write_key,
        "value": post_record("written by applyWrites with a chosen record key"),
    }
    applied = raw.call("com.atproto.repo.applyWrites", repo=raw.did, writes=[write])
    applied_again = raw.call("com.atproto.repo.applyWrites", repo=raw.did, writes=[write])
    return {
        "rkey": key,
        "create": {"status": first["status"], "uri": first["body"].get("uri")},
        "create_again": {"status": second["status"], **refusal(second["body"])},
        "get_record": {
            "status": fetched["status"],
            "text": fetched["body"].get("value", {}).get("text"),
        },
        "get_record_missing": {"status": missing["status"], **refusal(missing["body"])},
        "apply_writes": {
            "status": applied["status"],
            "uri": (applied["body"].get("results") or [{}])[0].get("uri"),
        },
        "apply_writes_again": {"status": applied_again["status"], **refusal(applied_again["body"])},
        **prove_odd_rkeys(raw, now),
        **prove_put_if_absent(raw, now),
    }


def prove_put_if_absent(raw: Raw, now: int) -> dict[str, Any]:
    """putRecord with `"swapRecord": null`: write only if no record has this key yet."""
    key = tid(now + 3, 10)
    record = post_record("put if absent")

    def put(value: dict[str, Any], **swap: Any) -> dict[str, Any]:
        return raw.call(
            "com.atproto.repo.putRecord",
            repo=raw.did,
            collection="app.bsky.feed.post",
            rkey=key,
            record=value,
            **swap,
        )

    first = put(record, swapRecord=None)
    same = put(record, swapRecord=None)
    other = put(post_record("put if absent, another text"), swapRecord=None)
    overwrite = put(post_record("put without swapRecord"))
    after = raw.get(
        "com.atproto.repo.getRecord", repo=raw.did, collection="app.bsky.feed.post", rkey=key
    )
    return {
        "put_if_absent": {
            "rkey": key,
            "status": first["status"],
            "cid": first["body"].get("cid"),
            "commit": "commit" in first["body"],
            "appview_sees_it": first["status"] == 200 and appview_has(raw, first["body"]["uri"]),
        },
        "put_if_absent_same_record_again": {
            "status": same["status"],
            "cid": same["body"].get("cid"),
            "commit": "commit" in same["body"],
        },
        "put_if_absent_other_record_again": {"status": other["status"], **refusal(other["body"])},
        "put_without_swap_on_existing": {
            "status": overwrite["status"],
            "text_after": after["body"].get("value", {}).get("text"),
        },
    }


def prove_odd_rkeys(raw: Raw, now: int) -> dict[str, Any]:
    """Keys a deterministic derivation might produce: far from now, or not a TID at all."""
    answers: dict[str, Any] = {}
    for name, key in (
        ("rkey_tid_1970", tid(1, 1)),
        ("rkey_tid_far_future", tid(now + 10 * 365 * 86400 * 10**6, 2)),
        ("rkey_not_tid", "qa-answer-1"),
    ):
        answer = raw.call(
            "com.atproto.repo.createRecord",
            repo=raw.did,
            collection="app.bsky.feed.post",
            rkey=key,
            record=post_record(f"record key {key}"),
        )
        answers[name] = {"rkey": key, "status": answer["status"], **refusal(answer["body"])}
        if answer["status"] == 200:
            answers[name]["appview_sees_it"] = appview_has(raw, answer["body"]["uri"])
    return answers


def appview_has(raw: Raw, uri: str, patience: float = 5.0) -> bool:
    """Whether the AppView (through the PDS's proxy) serves the post within `patience` s."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        found = raw.get("app.bsky.feed.getPosts", uris=uri)
        if found["status"] == 200 and found["body"].get("posts"):
            return True
        time.sleep(0.25)
    return False


def prove_sdk_duplicate(client: Client) -> dict[str, Any]:
    """The same second create through the SDK: which exception an adapter gets to catch."""
    key = tid(time.time_ns() // 1000, 11)
    record = models.AppBskyFeedPost.Record(
        text="sdk chosen key", created_at=client.get_current_time_iso()
    )

    def create() -> Any:
        return client.com.atproto.repo.create_record(
            models.ComAtprotoRepoCreateRecord.Data(
                repo=client.me.did, collection="app.bsky.feed.post", rkey=key, record=record
            )
        )

    create()
    put_key = tid(time.time_ns() // 1000, 12)

    def put(text: str) -> Any:
        body = {
            "repo": client.me.did,
            "collection": "app.bsky.feed.post",
            "rkey": put_key,
            "record": post_record(text),
            "swapRecord": None,  # the SDK's models drop None: send the JSON body as it is
        }
        return client.invoke_procedure(
            "com.atproto.repo.putRecord",
            content=json.dumps(body).encode(),
            input_encoding="application/json",
            output_encoding="application/json",
        )

    return {
        "sdk_create_again": sdk_error(create),
        "sdk_put_if_absent": {"status": put("sdk put if absent").status_code},
        "sdk_put_if_absent_other_record_again": sdk_error(lambda: put("another text")),
    }


def prove_posts(host: Client, asker: Client, tag: str) -> dict[str, Any]:
    """Hashtag search, repost, reply, quote, image and the length limit."""
    question = asker.send_post(
        client_utils.TextBuilder().text("Will it scale? ").tag(f"#{tag}", tag)
    )
    found_after = search(host, f"#{tag}", question.uri)
    repost = host.repost(question.uri, question.cid)
    strong = models.create_strong_ref(question)
    reply = host.send_post(
        "It does.",
        reply_to=models.AppBskyFeedPost.ReplyRef(root=strong, parent=strong),
    )
    quote = host.send_post("Good question.", embed=models.AppBskyEmbedRecord.Main(record=strong))
    blob = host.upload_blob(PNG)
    image = host.send_image("We are live", image=PNG, image_alt="the opening picture")
    too_long = sdk_error(lambda: host.send_post("é" * 301))
    thread = eventually(lambda: host.get_post_thread(reply.uri))
    return {
        "search_found_after_s": found_after,
        "repost_uri": repost.uri,
        "reply_root": thread.thread.post.record.reply.root.uri,
        "reply_parent": thread.thread.post.record.reply.parent.uri,
        "question_uri": question.uri,
        "quote_embed": eventually(
            lambda: host.get_posts([quote.uri]).posts[0]
        ).record.embed.record.uri,
        "blob_mime": blob.blob.mime_type,
        "image_post_uri": image.uri,
        "post_301_graphemes": too_long,
    }


def prove(
    pds: str, host_handle: str, host_password: str, asker_handle: str, asker_password: str
) -> None:
    started = time.monotonic()
    host = login(pds, host_handle, host_password)
    asker = login(pds, asker_handle, asker_password)
    answers: dict[str, Any] = {
        "login_s": round(time.monotonic() - started, 2),
        "base_url_after_login": host._base_url,
    }
    answers.update(prove_posts(host, asker, f"Probe{os.getpid()}"))
    answers.update(prove_rkeys(Raw(pds, host_handle, host_password)))
    answers.update(prove_sdk_duplicate(host))
    print(json.dumps(answers))


def post(pds: str, handle: str, password: str, text: str) -> None:
    """A question as a person writes it: the SDK detects the tags, mentions and links."""
    client = login(pds, handle, password)
    sent = client.send_post(text, facets=client.detect_facets(text))
    print(json.dumps({"uri": sent.uri, "cid": sent.cid}))


def records(pds: str, *dids: str) -> None:
    """Every post and repost of each account, as stored in its repo (the PDS's own view)."""
    http = httpx.Client(base_url=pds, timeout=30)
    out: dict[str, Any] = {}
    for did in dids:
        for collection in ("app.bsky.feed.post", "app.bsky.feed.repost"):
            listed = http.get(
                "/xrpc/com.atproto.repo.listRecords",
                params={"repo": did, "collection": collection, "limit": 100},
            )
            listed.raise_for_status()
            out.setdefault(did, {})[collection] = listed.json()["records"]
    print(json.dumps(out))


COMMANDS: dict[str, Callable[..., None]] = {"prove": prove, "post": post, "records": records}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
