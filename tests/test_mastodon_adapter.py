"""The Mastodon adapter against recordings of a real Mastodon 4.5+ server (Mastodon.py's own
cassettes, replayed with vcrpy), and its pure parts: settings, HTML, lengths, rate headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import vcr
import yaml
from pydantic import ValidationError

from qasession.clock import ManualClock
from qasession.errors import AuthError, NotFound, PlatformError, TooLong
from qasession.platforms.base import Author, Media, PostRef
from qasession.platforms.mastodon import (
    TOKEN_VAR,
    MastodonPlatform,
    MastodonSettings,
    parse_reset,
)
from qasession.platforms.mastodon_text import html_to_text, status_text
from qasession.text.length import count_length, upper_bound
from tests.support.require import require, shared_dir

CASSETTES = shared_dir() / "fixtures" / "mastodon"
RECORDED = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)  # when the cassettes were recorded
INSTANCE = "http://localhost:3000"
CONNECT = [("test_verify_credentials.yaml", 0), ("test_hashtag_tl.yaml", 1)]  # who, instance


@pytest.fixture
def cassettes() -> Path:
    return require(
        CASSETTES,
        "Mastodon.py's recorded cassettes",
        hint="shared/ beside the checkout or QA_SHARED_DIR",
    )


def interactions(name: str) -> list[dict[str, Any]]:
    raw = yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))
    items: list[dict[str, Any]] = raw["interactions"]
    return items


class Replay:
    """A cassette made of chosen interactions of the recordings, served in order by vcrpy
    (record mode "none": a request nothing recorded answers fails the test), and every
    request the adapter made, as sent."""

    def __init__(self, tmp_path: Path, parts: list[tuple[str, int]], *, query: bool = False):
        chosen = [interactions(name)[index] for name, index in parts]
        self.path = tmp_path / "replay.yaml"
        self.path.write_text(
            yaml.safe_dump({"interactions": chosen, "version": 1}), encoding="utf-8"
        )
        self.sent: list[requests.PreparedRequest] = []
        self.match_on = ["method", "path", *(["query"] if query else [])]

    def __enter__(self) -> Replay:
        original = requests.Session.send
        sent = self.sent

        def send(session: requests.Session, request: Any, **kwargs: Any) -> Any:
            sent.append(request)
            return original(session, request, **kwargs)

        self._patch = pytest.MonkeyPatch()
        self._patch.setattr(requests.Session, "send", send)
        self._context = vcr.use_cassette(str(self.path), record_mode="none", match_on=self.match_on)
        self.cassette = self._context.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)
        self._patch.undo()

    def index(self, part: str) -> int:
        """The index of the last request whose URL holds `part`."""
        return max(i for i, r in enumerate(self.sent) if part in (r.url or ""))

    def body(self, index: int) -> dict[str, list[str]]:
        raw = self.sent[index].body or b""
        return parse_qs(raw.decode() if isinstance(raw, bytes) else raw)

    def query(self, index: int) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.sent[index].url or "").query)

    @property
    def all_played(self) -> bool:
        return bool(self.cassette.all_played)


def with_status_get(name: str, index: int, status_id: str) -> dict[str, Any]:
    """A GET of a recorded status, answered with the body the server gave when it was made
    (the recordings have no GET of it; the adapter reads it before boosting)."""
    made = interactions(name)[index]
    return {
        "request": {**made["request"], "method": "GET", "body": None,
                    "uri": f"{INSTANCE}/api/v1/statuses/{status_id}"},
        "response": made["response"],
    }  # fmt: skip


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_VAR, "SECRET-mastodon-token-1234")
    return "SECRET-mastodon-token-1234"


def make(tmp_path: Path, **settings: Any) -> MastodonPlatform:
    return MastodonPlatform(
        {"instance": INSTANCE, **settings}, home=tmp_path / "home", clock=ManualClock(RECORDED)
    )


# -- recordings: reading -------------------------------------------------------------------------


@pytest.mark.usefixtures("cassettes", "token")
def test_hashtag_timeline_recording(tmp_path: Path) -> None:
    with Replay(tmp_path, [*CONNECT, ("test_hashtag_tl.yaml", 2)]) as replay:
        platform = make(tmp_path)
        assert platform.me() == "@mastodonpy_test"
        page = platform.search("#hoot")
        assert replay.all_played
    (post,) = page.posts
    assert (
        post.id == "http://localhost:3000/ap/users/117020566092212359/statuses/117020593741189701"
    )
    assert post.author == "@mastodonpy_test_2"
    assert post.author_id == "http://localhost:3000/ap/users/117020566092212359"
    assert post.text == "#hoot (hashtag toot)"  # the HTML link and span gone, the tag kept
    assert post.created_at == datetime(2026, 8, 1, 13, 55, 55, 867000, tzinfo=UTC)
    assert post.kind == "post" and post.platform == "mastodon"
    assert post.extra["local_id"] == "117020593741189701"
    assert post.url == "http://localhost:3000/@mastodonpy_test_2/117020593741189701"
    assert json.loads(page.cursor or "")["host"]["since"] == "117020593741189701"
    assert not page.more
    timeline = replay.query(replay.index("/timelines/tag/"))
    assert "since_id" not in timeline and timeline["limit"] == ["40"]
    # the instance's own limit and version, read at connect
    assert platform.capabilities.max_length == 500 and platform.capabilities.quote
    assert "4.6.4" in platform.describe()["instance"]
    # X-RateLimit-Reset is an ISO date there, taken relative to the response's Date
    budget = platform.rate_budget()
    assert budget is not None and (budget.remaining, budget.limit) == (299, 300)
    assert RECORDED < budget.reset_at <= RECORDED + timedelta(minutes=5)


@pytest.mark.usefixtures("cassettes", "token")
def test_paging_back_then_forward_recording(tmp_path: Path) -> None:
    """30 statuses on a tag, pages of 10: the first read pages back with max_id until caught
    up, then reads forward with min_id; the requests are those a real client made."""
    tag = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
    parts = [*CONNECT] + [("test_pagination_iterator.yaml", i) for i in (31, 32, 33, 34, 35)]
    with Replay(tmp_path, parts, query=True) as replay:
        platform = make(tmp_path, page_size=10)
        pages, cursor = [], None
        for _ in range(5):
            page = platform.search("#" + tag, cursor)
            pages.append(page)
            cursor = page.cursor
            if not page.more:
                break
        after = platform.search("#" + tag, cursor)
        assert replay.all_played
    assert [len(p.posts) for p in pages] == [10, 10, 10, 0]
    texts = [p.text for page in pages for p in page.posts]
    assert len(set(texts)) == 30
    for page in pages:  # each page oldest first
        assert [p.created_at for p in page.posts] == sorted(p.created_at for p in page.posts)
    numbers = [int(t.split()[2].rstrip("!")) for t in texts]
    assert numbers == [*range(20, 30), *range(10, 20), *range(0, 10)]
    assert after.posts == [] and not after.more
    assert "min_id" in replay.query(len(replay.sent) - 1)
    assert not any("since_id" in replay.query(i) for i in range(len(replay.sent)))


@pytest.mark.usefixtures("cassettes", "token")
def test_mentions_recording(tmp_path: Path) -> None:
    parts = [*CONNECT, ("test_hashtag_tl.yaml", 2), ("test_notifications_mentions_only.yaml", 1)]
    with Replay(tmp_path, parts) as replay:
        platform = make(tmp_path, mentions=True)
        page = platform.search("#hoot")
        assert replay.all_played
    assert replay.query(replay.index("/notifications"))["types[]"] == ["mention"]
    by = {p.author: p for p in page.posts}
    assert set(by) == {"@mastodonpy_test_2", "@admin"}
    assert by["@admin"].text == "@mastodonpy_test hello!"
    state = json.loads(page.cursor or "")
    assert state["mentions"]["since"] == "21" and state["host"]["since"]


# -- recordings: writing -------------------------------------------------------------------------


@pytest.mark.usefixtures("cassettes", "token")
def test_boost_recording(tmp_path: Path) -> None:
    original = "117020586019094258"
    cassette = interactions("test_status_reblog_unreblog.yaml")
    path = tmp_path / "boost.yaml"
    chosen = [interactions(n)[i] for n, i in CONNECT]
    chosen += [with_status_get("test_status_reblog_unreblog.yaml", 0, original), cassette[1]]
    path.write_text(yaml.safe_dump({"interactions": chosen, "version": 1}), encoding="utf-8")
    with vcr.use_cassette(str(path), record_mode="none", match_on=["method", "path"]) as cass:
        platform = make(tmp_path)
        made = platform.repost(PostRef("mastodon", "uri-of-it", {"local_id": original}))
        assert cass.all_played
    assert made.extra["local_id"] == "117020586027094262"  # the boost's own status
    assert platform.counters.reposts == 1


@pytest.mark.usefixtures("cassettes", "token")
def test_public_post_carries_the_idempotency_key(tmp_path: Path) -> None:
    with Replay(tmp_path, [*CONNECT, ("test_status_post[None-public].yaml", 0)]) as replay:
        platform = make(tmp_path)
        made = platform.post("Toot!", idempotency_key="askacme:answer:1:1:answer")
        assert replay.all_played
    request = replay.sent[-1]
    assert request.headers["Idempotency-Key"] == "askacme:answer:1:1:answer"
    assert replay.body(-1)["status"] == ["Toot!"]
    assert replay.body(-1)["visibility"] == ["public"]
    assert made.extra["local_id"] == "117020585924712638"
    assert made.id.endswith("/117020585924712638")
    assert "SECRET" not in repr(platform)


@pytest.mark.usefixtures("cassettes", "token")
def test_reply_goes_through_in_reply_to_id_without_added_mentions(tmp_path: Path) -> None:
    with Replay(tmp_path, [*CONNECT, ("test_id_hook_in_reply_to.yaml", 1)]) as replay:
        platform = make(tmp_path)
        question = PostRef("mastodon", "https://x/1", {"local_id": "117020574386452629"})
        made = platform.post("Reply!", reply_to=question)
        assert replay.all_played
    body = replay.body(-1)
    assert body["in_reply_to_id"] == ["117020574386452629"]
    assert body["status"] == ["Reply!"]  # status_reply would have put mentions in front
    assert made.extra["local_id"] == "117020574393907247"


@pytest.mark.usefixtures("cassettes", "token")
def test_quote_recording(tmp_path: Path) -> None:
    with Replay(tmp_path, [*CONNECT, ("test_status_post_with_quote.yaml", 1)]) as replay:
        platform = make(tmp_path)
        quoted = PostRef("mastodon", "https://x/2", {"local_id": "117020582917124092"})
        made = platform.post("yoooooooo", quote_of=quoted)
        assert replay.all_played
    assert replay.body(-1)["quoted_status_id"] == ["117020582917124092"]
    assert made.extra["local_id"] == "117020582925004921"


@pytest.mark.usefixtures("cassettes", "token")
def test_direct_message_is_a_direct_status_that_mentions_the_recipient(tmp_path: Path) -> None:
    with Replay(tmp_path, [*CONNECT, ("test_conversations.yaml", 1)]) as replay:
        platform = make(tmp_path)
        made = platform.send_dm(Author("x", "@admin"), "ilu bby ;3", idempotency_key="dm:1")
        assert replay.all_played
    body = replay.body(-1)
    assert body["status"] == ["@admin ilu bby ;3"]
    assert body["visibility"] == ["direct"]
    assert replay.sent[-1].headers["Idempotency-Key"] == "dm:1"
    assert made.extra["local_id"] == "117020593780198542"
    assert platform.counters.dms == 1


@pytest.mark.usefixtures("token")
def test_direct_message_mention_counts_in_the_length(tmp_path: Path) -> None:
    platform = make(tmp_path)
    platform._me = {"id": "1", "acct": "acme", "uri": "u"}  # connected, without a server
    who = Author("x", "@someone@far.example")
    fits = "a" * (500 - len("@someone "))  # the remote mention counts as @someone
    with pytest.raises(TooLong, match="501 > 500"):
        platform.send_dm(who, fits + "a")


@pytest.mark.usefixtures("cassettes", "token")
def test_image_with_alt_text(tmp_path: Path) -> None:
    image = tmp_path / "team.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    parts = [*CONNECT, ("test_media_post_file.yaml", 0), ("test_status_post[None-public].yaml", 0)]
    with Replay(tmp_path, parts) as replay:
        platform = make(tmp_path)
        platform.post("We're live", media=[Media(str(image), "The team at their desks")])
        assert replay.all_played
    upload = replay.sent[-2].body
    assert b'name="description"' in upload and b"The team at their desks" in upload
    assert replay.body(-1)["media_ids[]"] == ["117020576894251992"]


@pytest.mark.usefixtures("cassettes", "token")
def test_404_and_422_recordings(tmp_path: Path) -> None:
    missing = Replay(tmp_path, [*CONNECT, ("test_status_missing.yaml", 0)])
    with missing, pytest.raises(NotFound):
        make(tmp_path).repost(PostRef("mastodon", "0"))
    empty = Replay(tmp_path, [*CONNECT, ("test_status_empty.yaml", 0)])
    with empty, pytest.raises(PlatformError) as refused:
        make(tmp_path).post("")
    error = refused.value
    assert not error.retryable and not isinstance(error, NotFound)
    assert "refused the post" in str(error)
    assert "バリデーションに失敗しました" in str(error) and "\n" not in str(error)


# -- settings, credentials, text, lengths --------------------------------------------------------


def test_missing_token_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(AuthError) as missing:
        MastodonPlatform({"instance": INSTANCE}, home=tmp_path)
    assert TOKEN_VAR in str(missing.value) and missing.value.exit_code == 4


def test_settings() -> None:
    parsed = MastodonSettings.model_validate(
        {"instance": "Example.Social/", "also_read": ["https://example.social", "fosstodon.org"]}
    )
    assert parsed.instance == "https://example.social"
    assert parsed.also_read == ["https://fosstodon.org"]  # the host's own instance left out
    for bad in ({}, {"instance": "ftp://x"}, {"instance": "https://x/path"}, {"instance": 3}):
        with pytest.raises(ValidationError):
            MastodonSettings.model_validate(bad)
    with pytest.raises(ValidationError):
        MastodonSettings.model_validate({"instance": "https://x", "token": "no"})
    caps = MastodonPlatform.capabilities_for(
        MastodonSettings.model_validate({"instance": "https://x", "max_characters": 1000})
    )
    assert caps.max_length == 1000 and not caps.leading_mention_hidden


def test_html_becomes_plain_text() -> None:
    content = (
        '<p>Hi <span class="h-card"><a href="https://far.example/@bob" class="u-url mention">'
        '@<span>bob</span></a></span>, see <a href="https://example.com/a/long/path">'
        '<span class="invisible">https://</span><span class="ellipsis">example.com/a/lo</span>'
        '<span class="invisible">ng/path</span></a> &amp; '
        '<a href="https://x/tags/AskAcme" class="mention hashtag">#<span>AskAcme</span></a>?'
        "<br />line two</p><p>para <script>alert(1)</script><b>two</b></p>"
    )
    mentions = [{"url": "https://far.example/@bob", "acct": "bob@far.example"}]
    text = html_to_text(content, mentions)
    assert text == (
        "Hi @bob@far.example, see https://example.com/a/long/path & #AskAcme?\nline two\n\npara two"
    )
    # what the author typed stays their text (escaped markup is not markup)
    assert html_to_text("<p>&lt;script&gt;x&lt;/script&gt;</p>") == "<script>x</script>"
    assert html_to_text("<p><img src=x onerror=alert(1)>ok</p>") == "ok"
    assert status_text({"content": "<p>body?</p>", "spoiler_text": "CW"}) == "CW\n\nbody?"


def test_mastodon_length() -> None:
    assert (
        count_length("see https://example.com/a/very/long/link/indeed.", "mastodon") == 4 + 23 + 1
    )
    assert count_length("@alice@example.social hi", "mastodon") == len("@alice hi")
    assert count_length("e\u0301" * 10, "mastodon") == 10  # graphemes, not code points
    assert count_length("👩‍👩‍👧", "mastodon") == 1
    for text in ("https://a.b", "x" * 600, "@a@b.cd https://x.y/z e\u0301", "日本語 http://t.co"):
        assert upper_bound(text, "mastodon") >= count_length(text, "mastodon")


def test_rate_limit_reset_epoch_or_iso() -> None:
    now = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    assert parse_reset("1796230800", None, now) == datetime.fromtimestamp(1796230800, UTC)
    iso = parse_reset("2026-08-01T15:00:00.5Z", "Sat, 01 Aug 2026 14:55:00 GMT", now)
    assert iso == now + timedelta(minutes=5, seconds=0.5)  # relative to the server's Date
    assert parse_reset("soon", None, now) is None


@pytest.fixture
def offline(tmp_path: Path, token: str) -> Iterator[MastodonPlatform]:
    platform = make(tmp_path)
    yield platform
    platform.close()


def test_secrets_never_show(offline: MastodonPlatform) -> None:
    assert "SECRET" not in repr(offline) and "SECRET" not in repr(offline.settings)


# -- the plan: lints and `qa init` ---------------------------------------------------------------


def test_lints_know_mastodon() -> None:
    from tests.test_plan_lints import codes, session_yaml

    mastodon = {"platform": "mastodon"}
    assert "hashtag-case" in codes(session_yaml(hashtag="'#askacme'", **mastodon))
    assert "hashtag-case" in codes(session_yaml(hashtag="'#ASKACME'", **mastodon))
    assert "hashtag-case" not in codes(session_yaml(**mastodon))  # #AskAcme
    assert "hashtag-case" not in codes(session_yaml(hashtag="'#askacme'"))  # not asked on local
    long = "x" * 490
    opening = f"'{long} {{hashtag}}'"  # 499 with the tag: fits 500
    assert "too-long" not in codes(session_yaml(opening=opening, **mastodon))
    longer = f"'{long}xx {{hashtag}}'"
    assert "too-long" in codes(session_yaml(opening=longer, **mastodon))
    link = f"'{long} https://example.com/a/very/long/path/indeed/more {{hashtag}}'"
    assert "too-long" in codes(session_yaml(opening=link, **mastodon))  # 490 + 1 + 23 + ...
    bigger = "    mastodon: {instance: 'https://big.example', max_characters: 1000}\n"
    assert "too-long" not in codes(session_yaml(bigger, opening=longer, **mastodon))


def test_init_writes_a_mastodon_plan_that_works(tmp_path: Path) -> None:
    from qasession.plan import load_plan
    from qasession.plan.template import render_init

    text = render_init(
        "AskAcme", "2027-02-03 12:00", "mastodon", now=datetime(2027, 1, 1, tzinfo=UTC)
    )
    path = tmp_path / "sessions.yaml"
    path.write_text(text, encoding="utf-8")
    session = load_plan(path).sessions[0]
    assert session.platform == "mastodon"
    assert session.platform_settings == {"instance": "https://mastodon.social"}
    settings = MastodonSettings.model_validate(session.platform_settings)
    assert settings.instance == "https://mastodon.social"


def test_a_reply_on_mastodon_names_the_asker_so_it_notifies() -> None:
    # On Mastodon only a mention notifies: a reply that does not name the asker leads with it;
    # one that does is left as written; where a reply notifies by itself it is left alone.
    from qasession.compose import AnswerSpec, Question, compose_answer
    from qasession.platforms.base import Capabilities

    caps = MastodonPlatform.CAPABILITIES
    question = Question("q1", "@alice@other.example", "Is there a free tier? #AskAcme")

    def reply_text(text: str, capabilities: Any = caps) -> str:
        spec = AnswerSpec("s:answer:1", question, text, "reply")
        steps, _ = compose_answer(spec, hashtag="#AskAcme", host="@acme", capabilities=capabilities)
        (answer,) = steps
        assert answer.reply_to == "q1"
        return str(answer.text)

    assert reply_text("Yes, up to 3 seats.") == "@alice@other.example Yes, up to 3 seats. #AskAcme"
    named = "Thanks @alice@other.example: yes, up to 3 seats."
    assert reply_text(named) == named + " #AskAcme"
    # a longer handle that starts the same is not the asker
    assert reply_text("cc @alice@other.example.net yes").startswith("@alice@other.example cc")
    notifying = Capabilities(max_length=500, length_method="chars", leading_mention_hidden=False)
    assert reply_text("Yes, up to 3 seats.", notifying) == "Yes, up to 3 seats. #AskAcme"
