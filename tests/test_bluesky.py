"""The Bluesky adapter against the in-process fake XRPC service (tests/support/bluesky_fake.py):
the shared contract, facets, exactly-once record keys, the watermark cursor, rate limits,
direct messages refused, and one login per home."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qasession.clock import ManualClock
from qasession.errors import AuthError, PlatformError, RateLimited, RecipientClosed
from qasession.platforms.base import Author, Media, PostRef
from qasession.platforms.bluesky import SESSION_FILE, BlueskyPlatform
from qasession.platforms.bluesky_text import build_facets, is_tid, tid_for
from tests.contract import Harness, check_contract, drain
from tests.support.bluesky_fake import FakeBluesky
from tests.support.require import require, shared_dir

T0 = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
SEARCH = "app.bsky.feed.searchPosts"
PUT = "com.atproto.repo.putRecord"


def set_credentials(monkeypatch: pytest.MonkeyPatch, fake: FakeBluesky) -> None:
    monkeypatch.setenv("BLUESKY_HANDLE", fake.host.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", fake.host.password)


def adapter(
    fake: FakeBluesky, home: Path, clock: ManualClock | None = None, **settings: object
) -> BlueskyPlatform:
    options = {"service": "https://pds.test", "search_interval": 0, **settings}
    return BlueskyPlatform(options, home=home, clock=clock, transport=fake.transport)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def fake(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> FakeBluesky:
    made = FakeBluesky(clock=clock.now)
    set_credentials(monkeypatch, made)
    return made


def bluesky_harness(fake: FakeBluesky, platform: BlueskyPlatform, clock: ManualClock) -> Harness:
    def inject(author: str, text: str) -> str:
        clock.advance(1)
        return fake.inject(author, text)

    def fail_next(fault: str) -> bool:
        if fault == "auth":
            fake.fail(401)
        elif fault == "rate":
            reset = str(int((clock.wall_now() + timedelta(minutes=5)).timestamp()))
            fake.fail(429, headers={"ratelimit-limit": "3000", "ratelimit-remaining": "0",
                                    "ratelimit-reset": reset})  # fmt: skip
        elif fault == "5xx":
            fake.fail(503)
        else:
            fake.fail(0, timeout=True)
        return True

    fake.account("alice")
    return Harness(
        platform,
        inject,
        fail_next,
        page_size=platform.settings.page_size,
        recipient=Author(fake.account("alice").did, "@alice"),
    )


def test_contract(fake: FakeBluesky, clock: ManualClock, tmp_path: Path) -> None:
    platform = adapter(fake, tmp_path, clock, page_size=10)
    check_contract(bluesky_harness(fake, platform, clock))


# -- facets -------------------------------------------------------------------------------------


def _slices(text: str, facets: list[dict[str, object]]) -> list[tuple[str, str]]:
    raw = text.encode()
    found = []
    for facet in facets:
        index = facet["index"]
        assert isinstance(index, dict)
        feature = facet["features"][0]  # type: ignore[index]
        found.append((raw[index["byteStart"] : index["byteEnd"]].decode(), feature["$type"]))
    return found


def test_facets_match_the_recorded_reply() -> None:
    """The recording's reply: `.@qaasker.test Blue! #liveqa`, mention 1-14, tag 21-28."""
    path = require(
        shared_dir() / "fixtures/atproto/devenv_qa_session.json",
        "the atproto recordings",
        hint="../shared/fixtures/atproto, or set QA_SHARED_DIR",
    )
    interactions = json.loads(path.read_text())["interactions"]
    sent = next(
        i["request"]["body"]["record"]
        for i in interactions
        if i["request"]["body"] and isinstance(i["request"]["body"], dict)
        and i["request"]["body"].get("record", {}).get("facets")
    )  # fmt: skip
    did = sent["facets"][0]["features"][0]["did"]
    ours = build_facets(sent["text"], lambda handle: did if handle == "qaasker.test" else None)
    strip = [{k: v for k, v in f.items() if k != "$type"} for f in sent["facets"]]
    assert [f["index"] for f in ours] == [f["index"] for f in sent["facets"]]
    assert [f["features"] for f in ours] == [f["features"] for f in sent["facets"]]
    assert len(strip) == 2


def test_facets_count_utf8_bytes_after_emoji_and_accents() -> None:
    text = "Café 🎉 déjà vu? #AskAcme .@maria.test see https://acme.example/docs."
    facets = build_facets(text, lambda handle: "did:plc:maria" if handle == "maria.test" else None)
    assert _slices(text, facets) == [
        ("#AskAcme", "app.bsky.richtext.facet#tag"),
        ("@maria.test", "app.bsky.richtext.facet#mention"),
        ("https://acme.example/docs", "app.bsky.richtext.facet#link"),
    ]
    tag = facets[0]["index"]
    assert isinstance(tag, dict)
    # "Café " is 6 bytes, "🎉 " 5, "déjà " 7, "vu? " 4: the tag starts at byte 22, which is
    # character 16 (an offset in characters would point inside "vu? ")
    assert tag["byteStart"] == 22 and tag["byteEnd"] == 30
    assert text.index("#AskAcme") == 16


def test_unresolved_mentions_stay_plain_text() -> None:
    assert build_facets(".@nobody.test hi", lambda handle: None) == []


def test_posts_carry_facets_with_dids(fake: FakeBluesky, tmp_path: Path) -> None:
    maria = fake.account("maria.test")
    platform = adapter(fake, tmp_path)
    sent = platform.post(".@maria.test Yes, in Q1. #AskAcme")
    record = fake.records[sent.id].value
    assert _slices(record["text"], record["facets"]) == [
        ("@maria.test", "app.bsky.richtext.facet#mention"),
        ("#AskAcme", "app.bsky.richtext.facet#tag"),
    ]
    assert record["facets"][0]["features"][0]["did"] == maria.did


# -- exactly once ---------------------------------------------------------------------------


def test_record_keys_are_valid_tids_derived_from_the_key() -> None:
    keys = [f"askacme:answer:{i}:1:answer" for i in range(2000)]
    tids = [tid_for(k) for k in keys]
    assert all(is_tid(t) for t in tids)
    assert len(set(tids)) == len(tids)
    assert tids[0] == tid_for(keys[0])


def test_a_lost_answer_is_looked_up_by_its_key(fake: FakeBluesky, tmp_path: Path) -> None:
    """Written, then the answer lost (502): the adapter reads the record at its key."""
    platform = adapter(fake, tmp_path)
    fake.fail(502, PUT, after=True)
    sent = platform.post("The answer #AskAcme", idempotency_key="s:answer:1:1:answer")
    assert [r.uri for r in fake.host_records()] == [sent.id]
    assert sent.extra["cid"] == fake.host_records()[0].cid
    assert platform.counters.posts_created == 1


def test_the_same_intent_written_twice_is_one_post(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock
) -> None:
    """The record's createdAt is the intent's time, so a retry (a new process, the same
    intent) sends the same bytes: putRecord with swapRecord null answers 200, same CID, no
    commit (the reference PDS's answer), and nothing is posted twice."""
    made = datetime(2026, 12, 3, 16, 59, 30, 123456, tzinfo=UTC)
    first = adapter(fake, tmp_path, clock)
    first.intent_made("s:a:1:1:answer", made)
    sent = first.post("The answer #AskAcme", idempotency_key="s:a:1:1:answer")
    (record,) = fake.host_records()
    assert record.value["createdAt"] == "2026-12-03T16:59:30.123456Z"
    clock.advance(90)  # the process died before it stored the URI; a new one retries
    again = adapter(fake, tmp_path, clock)
    again.intent_made("s:a:1:1:answer", made)
    retried = again.post("The answer #AskAcme", idempotency_key="s:a:1:1:answer")
    assert (retried.id, retried.extra["cid"]) == (sent.id, sent.extra["cid"])
    assert [r.uri for r in fake.host_records()] == [sent.id]
    answers = [r for r in fake.requests if r.nsid == PUT]
    assert [r.status for r in answers] == [200, 200]
    assert "commit" in answers[0].body and "commit" not in answers[1].body
    assert again.counters.posts_created == 0
    assert again.find_sent("s:a:1:1:answer") is not None
    assert again.find_sent("s:a:2:1:answer") is None


@pytest.mark.parametrize("status", [400, 500])
def test_another_record_under_the_key_is_the_one_sent_before(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock, status: int
) -> None:
    """A retry whose bytes differ (no intent time known: another createdAt) is refused,
    400 InvalidSwap (the reference PDS) or 500; the record at the key is the post sent."""
    fake.swap_status = status
    sent = adapter(fake, tmp_path, clock).post("The answer #AskAcme", idempotency_key="s:a:1")
    clock.advance(5)
    retried = adapter(fake, tmp_path, clock).post("The answer #AskAcme", idempotency_key="s:a:1")
    assert retried.id == sent.id and retried.extra["cid"] == sent.extra["cid"]
    assert len(fake.host_records()) == 1
    assert fake.count(PUT, status=status) == 1
    assert fake.count("com.atproto.repo.getRecord") == 1


def test_a_refusal_with_nothing_at_the_key_stands(fake: FakeBluesky, tmp_path: Path) -> None:
    platform = adapter(fake, tmp_path)
    fake.fail(500, PUT)  # refused, nothing written: retryable, and nothing is made up
    with pytest.raises(PlatformError) as failed:
        platform.post("The answer #AskAcme", idempotency_key="s:a:1")
    assert failed.value.retryable and fake.host_records() == []
    assert platform.post("The answer #AskAcme", idempotency_key="s:a:1").id


def test_crash_after_send_in_the_outbox_sends_once(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock
) -> None:
    """An outbox row left `sending` by a crash is reconciled by key, not re-sent."""
    from qasession.session.outbox import Outbox
    from qasession.store import OutboxItem, Store

    store = Store.open(tmp_path)
    store.ensure_session("s", "#AskAcme", "bluesky")
    platform = adapter(fake, tmp_path, clock)
    item = OutboxItem(
        key="s:opening", op="s:opening", seq=0, kind="post", text="We're live! #AskAcme"
    )
    platform.post(item.text or "", idempotency_key=item.key)  # sent, then the process died
    assert len(fake.host_records()) == 1
    store.add_intents("s", [item])
    row = store.outbox_item(item.key)
    assert row is not None and store.mark_sending(row.id)
    outbox = Outbox(store, adapter(fake, tmp_path, clock), "s", clock, lane="bluesky")
    outbox.reconcile_all()
    outbox.flush()
    assert len(fake.host_records()) == 1
    settled = store.outbox_item(item.key)
    assert settled is not None and settled.state == "sent"
    assert settled.platform_id == fake.host_records()[0].uri


def test_the_outbox_gives_the_record_its_intents_time(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock
) -> None:
    """Sent through the outbox, a post's createdAt is the stored intent's created_at (not
    the moment of the attempt): what makes a retry in another process byte-identical."""
    from qasession.session.outbox import Outbox
    from qasession.store import OutboxItem, Store

    store = Store.open(tmp_path)
    store.ensure_session("s", "#AskAcme", "bluesky")
    (row,) = store.add_intents("s", [OutboxItem(key="s:o", op="s:o", kind="post", text="Hi")])
    Outbox(store, adapter(fake, tmp_path, clock), "s", clock, lane="bluesky").flush()
    (record,) = fake.host_records()
    made = datetime.fromisoformat(row.created_at).astimezone(UTC)
    assert record.value["createdAt"] == made.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_reposts_use_the_strong_ref_once(fake: FakeBluesky, tmp_path: Path) -> None:
    from qasession.errors import DuplicatePost

    question = fake.inject("@maria.test", "Webhooks? #AskAcme")
    platform = adapter(fake, tmp_path)
    (post,) = drain(platform, "#AskAcme", None)[0]
    repost = platform.repost(post.post_ref, idempotency_key="k:repost")
    record = fake.records[repost.id].value
    subject = record["subject"]
    assert (subject["uri"], subject["cid"]) == (question, fake.records[question].cid)
    with pytest.raises(DuplicatePost) as twice:
        platform.repost(post.post_ref, idempotency_key="k2:repost")
    assert twice.value.existing_id == repost.id
    assert len(fake.host_records("app.bsky.feed.repost")) == 1


def test_replies_threads_quotes_and_images(fake: FakeBluesky, tmp_path: Path) -> None:
    root = fake.inject("@maria.test", "Root #AskAcme")
    reply = fake.inject(
        "@lee.test",
        "Follow-up? #AskAcme",
        record={"reply": {"root": {"uri": root, "cid": fake.records[root].cid},
                          "parent": {"uri": root, "cid": fake.records[root].cid}}},
    )  # fmt: skip
    platform = adapter(fake, tmp_path)
    posts = {p.id: p for p in drain(platform, "#AskAcme", None)[0]}
    assert posts[reply].kind == "reply" and posts[reply].ref == root
    first = platform.post("Part 1 #AskAcme", reply_to=posts[reply].post_ref)
    value = fake.records[first.id].value
    assert value["reply"]["root"]["uri"] == root  # the thread's root, not the parent
    assert value["reply"]["parent"]["uri"] == reply
    second = platform.post("Part 2 #AskAcme", reply_to=first)
    assert fake.records[second.id].value["reply"]["root"]["uri"] == root
    quote = platform.post("Quoted #AskAcme", quote_of=posts[root].post_ref)
    embed = fake.records[quote.id].value["embed"]
    assert embed["$type"] == "app.bsky.embed.record" and embed["record"]["uri"] == root
    image = tmp_path / "banner.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 61)
    opening = platform.post("We're live #AskAcme", media=[Media(str(image), "our banner")])
    images = fake.records[opening.id].value["embed"]["images"]
    assert images[0]["alt"] == "our banner"
    assert images[0]["image"]["mimeType"] == "image/png" and images[0]["image"]["size"] == 69
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\0" * 1_000_001)
    with pytest.raises(PlatformError, match="1,000,000 bytes"):
        platform.post("Too big #AskAcme", media=[Media(str(big))])
    assert fake.count("com.atproto.repo.uploadBlob") == 1


def test_too_long_by_graphemes_and_bytes(fake: FakeBluesky, tmp_path: Path) -> None:
    from qasession.errors import TooLong

    platform = adapter(fake, tmp_path)
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    assert platform.length(family * 120) == 120
    with pytest.raises(TooLong, match="bytes"):
        platform.post(family * 121)  # 121 graphemes, 3025 bytes
    assert platform.post("é" * 300).id
    assert fake.count(PUT) == 1


def test_a_400_carries_the_servers_message(fake: FakeBluesky, tmp_path: Path) -> None:
    platform = adapter(fake, tmp_path)
    bad = PostRef("bluesky", "at://did:plc:nobody/app.bsky.feed.post/3aaaaaaaaaaaa", {"cid": "x"})
    with pytest.raises(PlatformError, match="Invalid strong ref") as refused:
        platform.post("Reply #AskAcme", reply_to=bad)
    assert not refused.value.retryable


# -- reading ----------------------------------------------------------------------------------


def test_watermark_paging_loses_nothing_and_reads_nothing_twice(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock
) -> None:
    platform = adapter(fake, tmp_path, clock, page_size=5)
    seen: list[str] = []
    cursor = None
    expected: list[str] = []
    for burst in (3, 12, 0, 7):  # more than a page arrives between polls, then nothing
        for _ in range(burst):
            clock.advance(0.5)
            expected.append(
                fake.inject(f"@fan{len(expected)}.test", f"Q {len(expected)}? #AskAcme")
            )
        page = platform.search("#AskAcme", cursor)
        cursor = page.cursor
        seen.extend(p.id for p in page.posts)
        while page.more:
            clock.advance(0.2)  # posts keep arriving while the pass pages back
            expected.append(fake.inject("@late.test", f"late {len(expected)} #AskAcme"))
            page = platform.search("#AskAcme", cursor)
            cursor = page.cursor
            seen.extend(p.id for p in page.posts)
    rest, _ = drain(platform, "#AskAcme", cursor)
    seen.extend(p.id for p in rest)
    assert len(seen) == len(set(seen)), "no post twice"
    assert sorted(seen) == sorted(expected), "none lost"
    searches = [r for r in fake.requests if r.nsid == SEARCH]
    assert all(r.params["q"] == ["#AskAcme"] and r.params["tag"] == ["AskAcme"] for r in searches)
    assert all(r.params["sort"] == ["latest"] for r in searches)
    returned = sum(len(r.body["posts"]) for r in searches)
    assert returned <= len(expected) + 2 * len(searches), "each pass stops at the watermark"


NOTIFY = "app.bsky.notification.listNotifications"


def test_notifications_bring_questions_without_the_tag(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock
) -> None:
    """Opt-in: mentions, replies and quotes of the host come in with the hashtag's posts,
    each once; a like or an unrelated post does not; off, nothing is asked."""
    host = fake.host
    answer = fake.inject(host.handle, "Our answer #AskAcme")
    ref = {"uri": answer, "cid": fake.records[answer].cid}
    mention = f"@{host.handle} does the API have webhooks?"
    asked = {
        fake.inject("@maria.test", mention, record={"facets": build_facets(
            mention, {host.handle: host.did}.get)}),
        fake.inject("@lee.test", "And for the app?", record={"reply": {"root": ref,
                                                                       "parent": ref}}),
        fake.inject("@kim.test", "Same question", record={"embed": {
            "$type": "app.bsky.embed.record", "record": ref}}),
    }  # fmt: skip
    fake.inject("@zed.test", "Unrelated, no tag, no mention")
    off = adapter(fake, tmp_path / "off", clock)
    drain(off, "#AskAcme", None)
    assert fake.count(NOTIFY) == 0
    platform = adapter(fake, tmp_path, clock, notifications=True, page_size=2)
    page = platform.search("#AskAcme", None)
    assert {p.id for p in page.posts} == asked  # two pages of notifications, in one pass
    assert page.warnings == ()
    kinds = {p.author: p.kind for p in page.posts}
    assert kinds == {"@maria.test": "post", "@lee.test": "reply", "@kim.test": "quote"}
    notes = [r for r in fake.requests if r.nsid == NOTIFY]
    assert all(sorted(r.params["reasons"]) == ["mention", "quote", "reply"] for r in notes)
    rest, cursor = drain(platform, "#AskAcme", page.cursor)
    assert rest == []  # nothing twice
    clock.advance(5)
    later = fake.inject("@maria.test", mention + " (asked again)", record={
        "facets": build_facets(mention, {host.handle: host.did}.get)})  # fmt: skip
    assert [p.id for p in drain(platform, "#AskAcme", cursor)[0]] == [later]


def test_notifications_page_past_pages_the_reasons_filter_emptied(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock
) -> None:
    """The AppView filters a page by reason after reading it: newer reposts of the host's
    post make the first pages empty, with a cursor; the mention behind them still comes."""
    host = fake.host
    answer = fake.inject(host.handle, "Our answer #AskAcme")
    text = f"@{host.handle} and the CLI?"
    clock.advance(1)
    asked = fake.inject("@maria.test", text, record={"facets": build_facets(
        text, {host.handle: host.did}.get)})  # fmt: skip
    for n in range(4):
        clock.advance(1)
        fake.repost_by(f"@fan{n}.test", answer)
    platform = adapter(fake, tmp_path, clock, notifications=True, page_size=2)
    page = platform.search("#AskAcme", None)
    assert [p.id for p in page.posts] == [asked]
    bodies = [r.body for r in fake.requests if r.nsid == NOTIFY]
    assert bodies[0]["notifications"] == [] and "cursor" in bodies[0]


def test_failing_notifications_are_a_warning_and_the_tag_is_read(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock
) -> None:
    question = fake.inject("@maria.test", "Webhooks? #AskAcme")
    platform = adapter(fake, tmp_path, clock, notifications=True)
    fake.fail(502, NOTIFY)
    page = platform.search("#AskAcme", None)
    assert [p.id for p in page.posts] == [question]
    assert len(page.warnings) == 1 and "notifications failed" in page.warnings[0]
    clock.advance(1)
    again = platform.search("#AskAcme", page.cursor)
    assert again.warnings == ("reading the host's Bluesky notifications works again",)


def test_posts_have_uris_dids_and_engagement(fake: FakeBluesky, tmp_path: Path) -> None:
    uri = fake.inject("@maria.test", "Webhooks? #AskAcme", likes=4, reposts=2)
    platform = adapter(fake, tmp_path)
    (post,) = drain(platform, "#AskAcme", None)[0]
    assert post.id == uri and post.author == "@maria.test"
    assert post.author_id == fake.account("maria.test").did
    assert (post.likes, post.reposts) == (4, 2)
    assert post.extra["cid"] == fake.records[uri].cid
    assert post.url is not None and post.url.startswith("https://bsky.app/profile/maria.test/")
    fake.records[uri].likes = 9
    (fresh,) = platform.lookup([uri])
    assert fresh.likes == 9


def test_429_pauses_until_ratelimit_reset(
    fake: FakeBluesky, tmp_path: Path, clock: ManualClock
) -> None:
    platform = adapter(fake, tmp_path, clock)
    reset = T0 + timedelta(minutes=4)
    fake.set_limit(SEARCH, limit=3, remaining=2, reset=reset)
    platform.search("#AskAcme", None)
    budget = platform.rate_budget()
    assert budget is not None and (budget.remaining, budget.limit) == (1, 3)
    assert budget.reset_at == reset
    platform.search("#AskAcme", None)
    with pytest.raises(RateLimited) as limited:
        platform.search("#AskAcme", None)
    assert limited.value.reset_at == reset
    before = fake.count(SEARCH)
    with pytest.raises(RateLimited):  # known exhausted: not asked again before the reset
        platform.search("#AskAcme", None)
    assert fake.count(SEARCH) == before
    clock.current = reset + timedelta(seconds=1)
    platform.search("#AskAcme", None)
    assert fake.count(SEARCH) == before + 1


def test_search_interval_is_a_floor(fake: FakeBluesky, tmp_path: Path, clock: ManualClock) -> None:
    platform = adapter(fake, tmp_path, clock, search_interval=30)
    assert platform.rate_budget() is None
    platform.search("#AskAcme", None)
    budget = platform.rate_budget()
    assert budget is not None and budget.remaining == 1
    assert budget.reset_at == T0 + timedelta(seconds=29)
    clock.advance(31)
    assert platform.rate_budget() is None


def test_write_points_are_tracked(fake: FakeBluesky, tmp_path: Path, clock: ManualClock) -> None:
    platform = adapter(fake, tmp_path, clock)
    platform.post("one #AskAcme")
    platform.post("two #AskAcme")
    assert platform.describe()["write points"].startswith("6 of 5000")
    platform._writes.extend([clock.wall_now()] * 1664)  # near the hour's cap
    with pytest.raises(RateLimited) as spent:
        platform.post("three #AskAcme")
    assert spent.value.reset_at == T0 + timedelta(hours=1)
    assert len(fake.host_records()) == 2


# -- direct messages ---------------------------------------------------------------------------


def test_direct_messages_go_through_the_chat_proxy(fake: FakeBluesky, tmp_path: Path) -> None:
    maria = fake.account("maria.test")
    platform = adapter(fake, tmp_path)
    sent = platform.send_dm(Author(maria.did, "@maria.test"), "Let's look.", idempotency_key="k:dm")
    assert [m.text for m in fake.messages] == ["Let's look."]
    chat = [r for r in fake.requests if r.nsid.startswith("chat.")]
    assert chat and all(r.status == 200 for r in chat)
    found = adapter(fake, tmp_path).find_sent("k:dm")
    assert found is not None and found.id == sent.id


def test_a_recipient_who_refuses_messages_is_a_typed_error(
    fake: FakeBluesky, tmp_path: Path
) -> None:
    closed = fake.account("closed.test", accepts_dms=False)
    platform = adapter(fake, tmp_path)
    with pytest.raises(RecipientClosed, match="does not accept direct messages"):
        platform.send_dm(Author(closed.did, "@closed.test"), "Private answer")
    assert fake.messages == []


# -- the session ------------------------------------------------------------------------------


def test_one_login_per_home(fake: FakeBluesky, tmp_path: Path) -> None:
    first = adapter(fake, tmp_path)
    assert first.me() == "@" + fake.host.handle
    first.search("#AskAcme", None)
    session_file = tmp_path / SESSION_FILE
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert fake.host.password not in session_file.read_text()
    second = adapter(fake, tmp_path)
    second.search("#AskAcme", None)
    second.post("from the second process #AskAcme")
    assert fake.count("com.atproto.server.createSession") == 1


def test_a_rotated_session_is_kept(fake: FakeBluesky, tmp_path: Path) -> None:
    fake.access_ttl = timedelta(minutes=10)  # inside the SDK's 15 minutes: it refreshes
    first = adapter(fake, tmp_path)
    first.me()
    before = json.loads((tmp_path / SESSION_FILE).read_text())["session"]
    first.search("#AskAcme", None)  # refreshes first, and the new tokens are written
    after = json.loads((tmp_path / SESSION_FILE).read_text())["session"]
    assert after != before
    assert fake.count("com.atproto.server.refreshSession") == 1
    fake.access_ttl = timedelta(hours=2)
    adapter(fake, tmp_path).search("#AskAcme", None)  # the rotated refresh token works
    assert fake.count("com.atproto.server.createSession") == 1


def test_a_session_the_server_dropped_logs_in_once(fake: FakeBluesky, tmp_path: Path) -> None:
    adapter(fake, tmp_path).me()
    fake.expire_access_tokens()
    fake.refresh.clear()
    adapter(fake, tmp_path).search("#AskAcme", None)
    assert fake.count("com.atproto.server.createSession") == 2


def test_missing_credentials_name_the_variable(
    fake: FakeBluesky, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BLUESKY_APP_PASSWORD")
    with pytest.raises(AuthError, match="BLUESKY_APP_PASSWORD") as missing:
        adapter(fake, tmp_path)
    assert "BLUESKY_HANDLE" not in str(missing.value)


def test_a_wrong_password_is_an_auth_error(
    fake: FakeBluesky, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "wrong-pass")
    with pytest.raises(AuthError) as refused:
        adapter(fake, tmp_path).me()
    assert "wrong-pass" not in str(refused.value)


def test_describe_shows_did_and_handle(fake: FakeBluesky, tmp_path: Path) -> None:
    shown = adapter(fake, tmp_path).describe()
    assert shown["DID"] == fake.host.did and shown["handle"] == "@" + fake.host.handle
