"""Against the reference Bluesky network (`./dev integration bluesky`): first what the adapter
relies on, through the atproto SDK alone; then a headless session of the demo plan switched to
`platform: bluesky`, answered with `qa answer`, checked from the records the PDS holds."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, qa
from tests.integration.bluesky_network import Cache, Network, bluesky_network, log_tails, sdk

HOST, ASKERS = "acmehq.test", ["alice.test", "bob.test", "carol.test", "dave.test"]
MENTIONER = "erin.test"  # asks by mentioning the host, without the tag (notifications)
MENTION_QUESTION = f"@{HOST} will the CLI get a --json flag?"
PROBE = ["probehost.test", "probeasker.test"]  # accounts of their own: the session's stay clean
TAG = "#AskAcme"
QUESTIONS = {
    "alice.test": f"Will you add webhooks to the API? {TAG}",
    "bob.test": f"Is an offline mode planned for the app? {TAG}",
    "carol.test": f"When does the mobile app get dark mode? {TAG}",
    "dave.test": f"How does sync work under the hood, in detail? {TAG}",
}
# accented letters and an emoji before the tag and the mention: byte offsets are not characters
ANSWER = "Oui, très bientôt 🚀 in Q1"
LONG_ANSWER = " ".join(
    f"Part {n}: changes are stored as signed commits, merged on every device, and replayed."
    for n in range(1, 7)
)
# a 1x1 PNG for the opening's picture
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f00f0004850180848a98"
    "210000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def cache() -> Cache:
    cache = Cache.from_env()
    if missing := cache.missing():
        pytest.fail(f"not installed: {missing[0]} (run ./dev integration bluesky)", pytrace=False)
    return cache


@pytest.fixture(scope="module")
def network(cache: Cache, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    workdir = tmp_path_factory.mktemp("bluesky-network")
    try:
        with bluesky_network(cache, workdir, [HOST, *ASKERS, MENTIONER, *PROBE]) as running:
            yield running
    except BaseException:
        sys.stderr.write(log_tails(workdir) + "\n")
        raise


def test_the_sdk_against_the_network(cache: Cache, network: Network) -> None:
    host, asker = (network.accounts[handle] for handle in PROBE)
    found = sdk(
        cache, "prove", network.pds, host["handle"], host["app_password"],
        asker["handle"], asker["app_password"],
    )  # fmt: skip
    out = ROOT / "artifacts" / "integration"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bluesky-sdk.json").write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")

    assert found["search_found_after_s"] is not None, "searchPosts(q=#tag) never found the post"
    assert found["reply_root"] == found["reply_parent"] == found["question_uri"]
    assert found["quote_embed"] == found["question_uri"]
    assert "/app.bsky.feed.repost/" in found["repost_uri"]
    assert found["blob_mime"] == "image/png" and found["image_post_uri"]
    too_long = found["post_301_graphemes"]
    assert too_long["status"] == 400 and "grapheme" in too_long["message"]
    # a caller-chosen TID record key: accepted, readable by that key, refused the second time
    assert found["create"]["status"] == 200 and found["create"]["uri"].endswith(found["rkey"])
    assert found["get_record"] == {"status": 200, "text": "written with a chosen record key"}
    assert found["create_again"]["status"] >= 400
    assert found["get_record_missing"]["error"] == "RecordNotFound"
    assert found["apply_writes"]["status"] == 200 and found["apply_writes_again"]["status"] >= 400
    assert found["rkey_not_tid"]["status"] == 400
    assert found["put_if_absent"]["status"] == 200
    assert found["put_if_absent_same_record_again"]["cid"] == found["put_if_absent"]["cid"]
    assert found["put_if_absent_other_record_again"]["error"] == "InvalidSwap"


def session_plan(tmp_path: Path, network: Network) -> Path:
    """The demo plan's first session, on this network, with a picture in the opening."""
    demo = yaml.safe_load((ROOT / "sessions.yaml").read_text(encoding="utf-8"))
    session = dict(demo["sessions"][0])
    session.pop("next", None)
    image = tmp_path / "opening.png"
    image.write_bytes(PNG)
    session.update(
        platform="bluesky",
        account=f"@{HOST}",
        bluesky={"service": network.pds, "notifications": True},
        duration="15m",
        opening={**session["opening"], "image": str(image)},
    )
    plan = tmp_path / "sessions.yaml"
    plan.write_text(yaml.safe_dump({"sessions": [session]}, sort_keys=False), encoding="utf-8")
    return plan


def queue_numbers(plan: Path, env: dict[str, str], wanted: int, patience: float = 60) -> dict:
    """The rehearsal's question numbers by text, once `wanted` questions are queued."""
    deadline = time.monotonic() + patience
    while True:
        listed = qa("--rehearsal", "queue", "--json", "-f", str(plan), env=env)
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        if len(rows) >= wanted or time.monotonic() > deadline:
            return {row["text"]: str(row["id"]) for row in rows}
        time.sleep(1)


def answer_all(plan: Path, env: dict[str, str]) -> None:
    numbers = queue_numbers(plan, env, len(QUESTIONS) + 1)
    missing = [text for text in [*QUESTIONS.values(), MENTION_QUESTION] if text not in numbers]
    assert not missing, f"not in the queue: {missing} (queue: {list(numbers)})"
    for handle, args in (
        ("alice.test", [ANSWER]),
        ("bob.test", ["Not this year.", "--mode", "quote"]),
        ("carol.test", ["In the March release.", "--mode", "reply"]),
        ("dave.test", [LONG_ANSWER, "--thread"]),
    ):
        done = qa("--rehearsal", "answer", numbers[QUESTIONS[handle]], *args, "-f", str(plan),
                  env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr


def run_session(plan: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    argv = [sys.executable, "-m", "qasession", "run", "--headless", "--start-now"]
    argv += ["--speed", "15", "--tail", "1", "-f", str(plan)]
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    events: list[dict[str, Any]] = []
    try:
        assert run.stdout is not None
        for line in run.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "posted" and events[-1].get("kind") == "opening":
                answer_all(plan, env)
        assert run.wait(timeout=180) == 0, events[-3:]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
    return events


def check_facets(post: dict[str, Any], handles: dict[str, str]) -> None:
    """Every facet covers exactly its text in UTF-8 bytes, and every tag of the text has one."""
    text = post["text"].encode()
    for facet in post.get("facets", []):
        piece = text[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode()
        for feature in facet["features"]:
            kind = feature["$type"]
            if kind == "app.bsky.richtext.facet#tag":
                assert piece == f"#{feature['tag']}", (piece, feature)
            elif kind == "app.bsky.richtext.facet#mention":
                assert piece == f"@{handles[feature['did']]}", (piece, feature)
            elif kind == "app.bsky.richtext.facet#link":
                assert piece in feature["uri"], (piece, feature)
    tagged = [f for f in post.get("facets", []) if "#tag" in f["features"][0]["$type"]]
    assert len(tagged) == post["text"].count(TAG), post


def check_offsets(post: dict[str, Any], mention: str, did: str) -> None:
    """The exact UTF-8 byte spans of the mention and the tag in `post` (after accented
    letters and an emoji, so characters would be wrong), each with its feature."""
    text = post["text"]
    raw = text.encode()
    at = raw.index(mention.encode())
    tag_at = raw.index(TAG.encode())
    assert len(text[: text.index(TAG)]) < tag_at, "nothing multi-byte before the tag"
    spans = {
        (f["index"]["byteStart"], f["index"]["byteEnd"]): f["features"] for f in post["facets"]
    }
    assert spans[(at, at + len(mention))] == [
        {"$type": "app.bsky.richtext.facet#mention", "did": did}
    ]
    assert spans[(tag_at, tag_at + len(TAG.encode()))] == [
        {"$type": "app.bsky.richtext.facet#tag", "tag": TAG.lstrip("#")}
    ]


def test_headless_session_on_the_network(
    cache: Cache, network: Network, tmp_path: Path, home: Path
) -> None:
    if importlib.util.find_spec("qasession.platforms.bluesky") is None:
        pytest.skip("no Bluesky adapter yet (qasession.platforms.bluesky): the scenario waits")
    questions = {
        handle: sdk(
            cache, "post", network.pds, handle, network.accounts[handle]["app_password"], text
        )
        for handle, text in QUESTIONS.items()
    }
    # no tag: it comes in through the host's notifications (`notifications: true`)
    sdk(cache, "post", network.pds, MENTIONER, network.accounts[MENTIONER]["app_password"],
        MENTION_QUESTION)  # fmt: skip
    plan = session_plan(tmp_path, network)
    env = dict(os.environ, QA_HOME=str(home), BLUESKY_HANDLE=HOST)
    env["BLUESKY_APP_PASSWORD"] = network.accounts[HOST]["app_password"]
    events = run_session(plan, env)
    kinds = [e["kind"] for e in events if e["event"] == "posted"]
    assert kinds[0] == "opening" and "closing" in kinds

    handles = {account["did"]: handle for handle, account in network.accounts.items()}
    host_did = network.accounts[HOST]["did"]
    stored = sdk(cache, "records", network.pds, host_did)[host_did]
    posts = [(r["uri"], r["cid"], r["value"]) for r in stored["app.bsky.feed.post"]]
    reposts = [r["value"]["subject"] for r in stored["app.bsky.feed.repost"]]
    for _, _, post in posts:
        check_facets(post, handles)
    texts = [post["text"] for _, _, post in posts]
    assert len(texts) == len(set(texts)), "a post went out twice"

    alice, bob, carol, dave = (questions[handle] for handle in ASKERS)
    # dot mode: the question reposted (strong reference), then a stand-alone answer. On
    # Bluesky a leading mention is not hidden (Capabilities.leading_mention_hidden=False), so
    # it leads with `@alice.test`, not `.@alice.test`; the mention facet carries her DID
    assert {"uri": alice["uri"], "cid": alice["cid"]} in reposts
    dot = next(post for _, _, post in posts if ANSWER in post["text"])
    assert dot["text"].startswith("@alice.test ") and "reply" not in dot
    check_offsets(dot, "@alice.test", network.accounts["alice.test"]["did"])
    # quote: a record embed of bob's question
    quote = next(post for _, _, post in posts if "Not this year." in post["text"])
    assert quote["embed"]["$type"] == "app.bsky.embed.record"
    assert quote["embed"]["record"] == {"uri": bob["uri"], "cid": bob["cid"]}
    # reply: root and parent are carol's question
    reply = next(post for _, _, post in posts if "In the March release." in post["text"])
    assert reply["reply"]["root"]["uri"] == reply["reply"]["parent"]["uri"] == carol["uri"]
    # thread: every part after the first replies to the one before it, under the same root
    parts = sorted(
        ((uri, cid, post) for uri, cid, post in posts if "changes are stored" in post["text"]),
        key=lambda part: part[2]["createdAt"],
    )
    assert len(parts) >= 2
    for (uri, cid, _), (_, _, after) in itertools.pairwise(parts):
        assert after["reply"]["parent"] == {"uri": uri, "cid": cid}
        assert after["reply"]["root"]["uri"] in (parts[0][0], dave["uri"])
    # the opening carries the plan's picture, uploaded as a blob
    opening = next(post for _, _, post in posts if "We're live" in post["text"])
    image = opening["embed"]["images"][0]
    assert opening["embed"]["$type"] == "app.bsky.embed.images"
    assert image["image"]["mimeType"] == "image/png" and image["image"]["size"] == len(PNG)
    assert any("That's all for today" in text for text in texts)


def probe_records(cache: Cache, network: Network, collection: str, text: str = "") -> list:
    did = network.accounts[PROBE[0]]["did"]
    stored = sdk(cache, "records", network.pds, did)[did][collection]
    return [r for r in stored if text in r["value"].get("text", "")]


def test_the_same_intent_written_twice_is_one_record(
    cache: Cache, network: Network, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the adapter on the real PDS: a retry of one intent (a new process, the same
    intent time) sends the same bytes and gets the same record back; a retry with other bytes
    is refused (InvalidSwap) and finds the record at its key; a repost likewise."""
    from datetime import UTC, datetime

    from qasession.platforms.bluesky import BlueskyPlatform

    monkeypatch.setenv("BLUESKY_HANDLE", PROBE[0])
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", network.accounts[PROBE[0]]["app_password"])
    made = datetime.now(UTC)
    text = f"Written once, whatever happens {TAG}"

    def attempt(key: str, intent_time: datetime | None) -> BlueskyPlatform:
        platform = BlueskyPlatform({"service": network.pds}, home=home, account=f"@{PROBE[0]}")
        if intent_time is not None:
            platform.intent_made(key, intent_time)
        return platform

    first = attempt("it:answer:1", made)
    sent = first.post(text, idempotency_key="it:answer:1")
    again = attempt("it:answer:1", made)
    retried = again.post(text, idempotency_key="it:answer:1")
    assert (retried.id, retried.extra["cid"]) == (sent.id, sent.extra["cid"])
    assert again.counters.posts_created == 0  # the PDS's no-op: 200, no commit
    other = attempt("it:answer:1", None).post(text, idempotency_key="it:answer:1")
    assert other.id == sent.id
    stored = probe_records(cache, network, "app.bsky.feed.post", text)
    assert [r["uri"] for r in stored] == [sent.id]
    assert stored[0]["value"]["createdAt"] == made.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    found = attempt("it:answer:1", None).find_sent("it:answer:1")
    assert found is not None and found.id == sent.id

    repost = attempt("it:repost", made).repost(sent, idempotency_key="it:repost")
    twice = attempt("it:repost", made).repost(sent, idempotency_key="it:repost")
    assert twice.id == repost.id
    subjects = [
        r for r in probe_records(cache, network, "app.bsky.feed.repost")
        if r["value"]["subject"]["uri"] == sent.id
    ]  # fmt: skip
    assert len(subjects) == 1


def test_killed_after_sending_then_run_again_posts_once(
    cache: Cache, network: Network, tmp_path: Path, home: Path
) -> None:
    """`qa plan --post` killed right after the PDS took the announcement (before the store
    kept its URI), then run again: reconciled by its record key, posted once."""
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) + timedelta(minutes=55)  # the -1h announcement is due
    demo = yaml.safe_load((ROOT / "sessions.yaml").read_text(encoding="utf-8"))
    session = dict(demo["sessions"][0], id="crash-test", hashtag="#CrashTest", timezone="UTC")
    session.pop("next", None)
    session.update(
        platform="bluesky",
        account=f"@{PROBE[0]}",
        bluesky={"service": network.pds},
        start=start.strftime("%Y-%m-%d %H:%M"),
    )
    plan = tmp_path / "crash.yaml"
    plan.write_text(yaml.safe_dump({"sessions": [session]}, sort_keys=False), encoding="utf-8")
    env = {"QA_HOME": str(home), "BLUESKY_HANDLE": PROBE[0]}
    env["BLUESKY_APP_PASSWORD"] = network.accounts[PROBE[0]]["app_password"]
    killed = qa("plan", "--post", "-f", str(plan), env={**env, "QA_CRASH_AT": "after-send:1"})
    assert killed.returncode == -9, killed.stderr
    assert len(probe_records(cache, network, "app.bsky.feed.post", "#CrashTest")) == 1
    again = qa("plan", "--post", "-f", str(plan), env=env)
    assert again.returncode == 0, again.stderr
    posts = probe_records(cache, network, "app.bsky.feed.post", "#CrashTest")
    assert len(posts) == 1 and "In one hour" in posts[0]["value"]["text"]
    state = json.loads(qa("plan", "--json", "-f", str(plan), env=env).stdout)
    assert {i["key"]: i["state"] for i in state["timeline"]}["announcement:-1h"] == "posted"
