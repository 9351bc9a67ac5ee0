"""The recap: every number of a scripted session, the exports, the archive round trip, drafts
posted once, and the series comparison."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qasession.errors import UsageError
from qasession.plan import load_plan
from qasession.platforms.base import Post
from qasession.recap import SessionInfo, build_recap, build_series, export_rows
from qasession.recap.archive import recap_from_archive
from qasession.recap.render import to_csv, to_jsonl, to_markdown
from qasession.store import OutboxItem, Store
from qasession.store.db import PostRecord

START = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
HOSTILE_SCRIPT = "<script>alert(1)</script> when does dark mode ship? #AskAcme"
HOSTILE_LINK = "[click](http://evil) what about dark mode pricing? #AskAcme"
HOSTILE_FORMULA = "=cmd|' /C calc'!A0 why is it so bad? #AskAcme"
HOSTILE_ANSI = "\x1b[31mred\x1b[0m Can I get a refund for order 123? #AskAcme"
HOSTILE_IMG = '<img src=x onerror="alert(2)"> Any news on the API? #AskAcme'

PLAN = """\
sessions:
  - id: t
    title: "Acme Q&A <b>live</b>"
    account: "@acme"
    hashtag: "#AskAcme"
    timezone: UTC
    start: 2026-12-03 17:00
    duration: 60m
    next: t2
  - id: t2
    title: Acme Q&A, part two
    account: "@acme"
    hashtag: "#AskAcme"
    timezone: UTC
    start: 2027-01-14 17:00
    duration: 60m
"""


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


@dataclass
class P:
    """One scripted post: what it is and how triage classified it."""

    id: str
    author: str
    minute: float
    text: str
    status: str = "chatter"
    question: bool = False
    flags: tuple[str, ...] = ()
    kind: str = "post"
    ref: str | None = None
    likes: int = 0
    reposts: int = 0
    duplicate_of: str | None = None


# The session, minute by minute (minutes from the 17:00 UTC start; the window is 60 minutes).
# fmt: off
SCRIPT = [
    P("q1", "@alice", -120, "How do I export my invoices as CSV? #AskAcme", "answered", True,
      ("ahead",), likes=5),
    P("c0", "@hank", -30, "Excited for #AskAcme tonight"),
    P("q2", "@bob", 1, "Is dark mode coming to Android? #AskAcme", "answered", True,
      likes=3, reposts=1),
    P("q3", "@carol", 2, "Is dark mode coming to Android? #AskAcme", "merged", True,
      ("duplicate",), duplicate_of="q2"),
    P("q4", "@dave", 3, HOSTILE_SCRIPT, "queued", True, likes=2),
    P("q5", "@erin", 4, HOSTILE_LINK, "queued", True),
    P("q6", "@troll", 5, HOSTILE_FORMULA, "hidden", True, ("troll",)),
    P("q7", "@alice", 6, HOSTILE_ANSI, "queued", True, ("sensitive",)),
    P("c1", "@frank", 7, "Great session so far! #AskAcme", likes=10),
    P("r1", "@gina", 8, "Is dark mode coming to Android? #AskAcme", "repost", kind="repost",
      ref="q2"),
    P("R1", "@acme", 10, "How do I export my invoices as CSV? #AskAcme", "own", kind="repost",
      ref="q1"),
    P("A1", "@acme", 11, ".@alice Settings > Billing > Export. #AskAcme", "own"),
    P("f1", "@bob", 15, "Thanks, that helps! #AskAcme", kind="reply", ref="A1"),
    P("q8", "@ivan", 30, HOSTILE_IMG, "queued", True),
    P("q9", "@judy", 40, "Will there be a meetup in Lyon? #AskAcme", "skipped", True),
    P("c2", "@frank", 70, "Bye everyone #AskAcme"),
]
# fmt: on
NOTICE = ".@bob we've sent you a direct message. #AskAcme"
# Sent by us but not brought back by the search: still activity on the hashtag (the direct
# message D1 is private and never counted).
SENT_ONLY = {"N1": 20.0, "C1": 60.0}


def fill_store(store: Store, session_id: str = "t", script: list[P] = SCRIPT) -> None:
    store.ensure_session(session_id, "#AskAcme", "local")
    records = [
        PostRecord(
            Post(
                id=p.id,
                author=p.author,
                text=p.text,
                created_at=at(p.minute),
                kind=p.kind,
                ref=p.ref,
                likes=p.likes,
                reposts=p.reposts,  # type: ignore[arg-type]
            ),
            p.status,
            is_question=p.question,
            flags=frozenset(p.flags),
            duplicate_of=p.duplicate_of,
        )
        for p in script
    ]
    store.save_page(session_id, records, None, seen_at=at(80))
    # answer 1: repost then a .@alice post; answer 2: a direct message, then the public notice
    steps = [
        OutboxItem(
            key="t:answer:1:0:repost",
            op="t:answer:1",
            seq=0,
            kind="repost",
            repost_of="q1",
            question_id="q1",
        ),
        OutboxItem(
            key="t:answer:1:1:answer",
            op="t:answer:1",
            seq=1,
            kind="answer",
            text=".@alice Settings > Billing > Export. #AskAcme",
            question_id="q1",
        ),
        OutboxItem(
            key="t:answer:2:0:dm",
            op="t:answer:2",
            seq=0,
            kind="dm",
            text="Private: your plan includes it",
            dm_to="@bob",
            question_id="q2",
        ),
        OutboxItem(
            key="t:answer:2:1:answer",
            op="t:answer:2",
            seq=1,
            kind="answer",
            text=NOTICE,
            question_id="q2",
        ),
        OutboxItem(key="t:closing", kind="closing", text="That's all! #AskAcme"),
    ]
    stored = {item.key: item for item in store.add_intents(session_id, steps)}
    store.mark_sent(stored["t:answer:1:0:repost"].id, "R1", at(10))
    store.mark_sent(stored["t:answer:1:1:answer"].id, "A1", at(11))
    store.mark_sent(stored["t:answer:2:0:dm"].id, "D1", at(20))
    store.mark_sent(stored["t:answer:2:1:answer"].id, "N1", at(20))
    store.mark_sent(stored["t:closing"].id, "C1", at(60))
    store.add_moderation(session_id, "@troll", "blocked", at(6))
    store.set_session_fields(
        session_id, counters=json.dumps({"search_requests": 12, "posts_read": 14})
    )


@pytest.fixture
def world(tmp_path: Path, home: Path) -> tuple[Path, Store, Any]:
    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    store = Store.open(home)
    fill_store(store)
    plan = load_plan(plan_path)
    return plan_path, store, plan


def recap_of(world: tuple[Path, Store, Any]) -> Any:
    _, store, plan = world
    return build_recap(store, plan.get("t"), plan=plan, now=at(90))


# --------------------------------------------------------------------------------------------
# Every number, derived from the script


def expected() -> dict[str, Any]:
    """What the script says, computed here, independently of the code under test."""
    crowd = [p for p in SCRIPT if p.author != "@acme"]
    minutes = [p.minute for p in SCRIPT] + list(SENT_ONLY.values())
    questions = [p for p in crowd if p.question]
    canonical = [p for p in questions if not p.duplicate_of]
    answered = {"q1": 11.0, "q2": 20.0}  # minute of the first sent answer step
    waits = sorted(
        (minute - max(0.0, next(p.minute for p in SCRIPT if p.id == q))) * 60
        for q, minute in answered.items()
    )
    return {
        "participants": len({p.author for p in crowd}),
        "received": len(questions),
        "merged": sum(1 for p in questions if p.duplicate_of),
        "canonical": len(canonical),
        "answered": len(answered),
        "skipped": sum(1 for p in canonical if p.status == "skipped"),
        "hidden": sum(1 for p in canonical if p.status == "hidden"),
        "open": sum(1 for p in canonical if p.status == "queued"),
        "ahead": sum(1 for p in questions if "ahead" in p.flags),
        "waits": waits,
        "before": sum(1 for m in minutes if m < 0),
        "after": sum(1 for m in minutes if m >= 60),
        "during": sum(1 for m in minutes if 0 <= m < 60),
    }


def test_every_number(world: tuple[Path, Store, Any]) -> None:
    r = recap_of(world)
    e = expected()
    assert r.participants == e["participants"] == 11
    q = r.questions
    assert (q.received, q.merged, q.canonical) == (e["received"], e["merged"], e["canonical"])
    assert (q.received, q.merged, q.canonical) == (9, 1, 8)
    assert (q.answered, q.skipped, q.hidden, q.open, q.ahead) == (
        e["answered"],
        e["skipped"],
        e["hidden"],
        e["open"],
        e["ahead"],
    )
    assert (q.answered, q.skipped, q.hidden, q.open, q.ahead) == (2, 1, 1, 4, 1)
    assert q.canonical == q.answered + q.skipped + q.hidden + q.open

    # q1 was asked ahead: its clock starts at 17:00, answered 17:11; q2 17:01 -> 17:20
    t = r.time_to_answer
    assert e["waits"] == [660.0, 1140.0]
    assert (t.count, t.median_s, t.p90_s, t.min_s, t.max_s) == (2, 900.0, 1140.0, 660.0, 1140.0)
    assert t.values_s == [660.0, 1140.0]  # transcript order

    a = r.activity
    assert (a.before.posts, a.during_posts, a.after.posts) == (e["before"], e["during"], e["after"])
    assert (a.before.posts, a.during_posts, a.after.posts) == (2, 14, 2)
    assert a.bucket_seconds == 60 and len(a.during) == 60
    assert a.during[1].posts == 1 and a.during[0].posts == 0
    assert sum(b.posts for b in a.during) == 14
    assert a.during_per_minute == round(14 / 60, 3)
    assert a.before.minutes == 120 and a.before.per_minute == round(2 / 120, 3)
    assert a.peak is not None and a.peak.start == at(1).isoformat()
    assert a.window_start == START.isoformat() and a.window_end == at(60).isoformat()

    by_q = [(c.handle, c.questions, c.engagement) for c in r.top_contributors.by_questions]
    # alice asked two; ties by engagement then handle; @troll is blocked, so left out
    assert by_q == [
        ("@alice", 2, 5),
        ("@bob", 1, 4),
        ("@dave", 1, 2),
        ("@carol", 1, 0),
        ("@erin", 1, 0),
        ("@ivan", 1, 0),
        ("@judy", 1, 0),
    ]
    by_e = [(c.handle, c.engagement) for c in r.top_contributors.by_engagement]
    assert by_e == [("@frank", 10), ("@alice", 5), ("@bob", 4), ("@dave", 2)]
    assert [p.id for p in r.top_posts] == ["c1", "q1", "q2", "q4"]

    assert r.topics[0].phrase == "dark mode" and r.topics[0].count == 4  # q2 q3 q4 q5
    assert all(t.phrase not in ("dark", "mode") for t in r.topics)

    assert [(d.question.id, d.duplicates, d.members) for d in r.duplicates] == [("q2", 1, ["q3"])]
    m = r.moderation
    assert (m.muted, m.blocked, m.flagged_sensitive, m.flagged_troll, m.hidden) == (0, 1, 1, 1, 1)

    f = r.follow_ups
    assert f.count == 1
    assert [(x.post_id, x.question_id, x.count) for x in f.by_post] == [("A1", "q1", 1)]
    assert [p.id for p in f.posts] == ["f1"]

    assert [e.question.id for e in r.transcript] == ["q1", "q2"]
    first, second = r.transcript
    assert [(x.id, x.kind, x.text) for x in first.answers] == [
        ("A1", "answer", ".@alice Settings > Billing > Export. #AskAcme")
    ]
    # the private answer is listed without its text; the public notice follows
    assert [(x.id, x.kind, x.text) for x in second.answers] == [
        (None, "dm", None),
        ("N1", "answer", NOTICE),
    ]
    assert second.duplicates == 1 and first.seconds_to_answer == 660.0
    assert [o.question.id for o in r.open_questions] == ["q4", "q5", "q7", "q8"]

    assert r.cost is not None and r.cost.calls == {"search_requests": 12, "posts_read": 14}
    assert (r.cost.paid, r.cost.spend_usd) == (False, None)
    meta = r.meta
    assert (meta.session_id, meta.hashtag, meta.platform, meta.host) == (
        "t",
        "#AskAcme",
        "local",
        "@acme",
    )
    assert meta.counts["posts"] == len(SCRIPT) + len(SENT_ONLY)
    assert meta.counts["own"] == 2 + len(SENT_ONLY)
    assert meta.next is not None and meta.next.id == "t2"
    assert meta.next.when == "Thursday 14 January 2027, 17:00"
    assert meta.generated_at == at(90).isoformat()


def test_x_links_and_spend(tmp_path: Path, home: Path) -> None:
    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN.replace("    next: t2\n", "    next: t2\n    platform: x\n", 1))
    store = Store.open(home)
    script = [P("1001", "@alice", 1, "How do I export? #AskAcme", "answered", True)]
    fill_store(store, "t", script)
    session = load_plan(plan_path).get("t")
    store.set_session_fields(
        "t",
        counters=json.dumps(
            {"posts_read": 100, "posts_created": 2, "posts_created_with_url": 0, "reposts": 1}
        ),
    )
    r = build_recap(store, session)
    # no answer went to this question: it is open, with X's address for it
    assert r.open_questions[0].question.url == "https://x.com/alice/status/1001"
    assert r.cost is not None and r.cost.paid
    # X's default prices: 0.005 per post read, 0.015 per post, repost or message created
    assert r.cost.spend_usd == pytest.approx(100 * 0.005 + 3 * 0.015)


def test_empty_session(tmp_path: Path, home: Path) -> None:
    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(plan_path)
    r = build_recap(Store.open(home), plan.get("t2"), plan=plan)
    assert r.participants == 0 and r.questions.received == 0
    assert r.time_to_answer.median_s is None and r.cost is None
    assert len(r.activity.during) == 60 and r.activity.peak is not None
    from qasession.recap.render import to_html

    for text in (to_markdown(r), json.dumps(r.to_json()), to_html(r)):
        assert text


# --------------------------------------------------------------------------------------------
# Exports


def test_json_keys(world: tuple[Path, Store, Any]) -> None:
    data = json.loads(json.dumps(recap_of(world).to_json()))
    for key in (
        "participants",
        "questions",
        "top_contributors",
        "transcript",
        "time_to_answer",
        "activity",
        "topics",
        "duplicates",
        "moderation",
        "follow_ups",
        "top_posts",
        "cost",
        "meta",
        "open_questions",
        "drafts",
    ):
        assert key in data, key
    assert isinstance(data["participants"], int)
    assert set(data["questions"]) >= {"received", "answered", "skipped", "open", "ahead"}
    assert data["meta"]["tool"] == "qasession" and data["meta"]["version"]
    assert data["meta"]["window_start"] == START.isoformat()


def test_the_readme_documents_every_key_of_the_json_schema(world: tuple[Path, Store, Any]) -> None:
    from qasession.recap import SCHEMA, parts

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("**The JSON recap**", 1)[1].split("Since schema 1", 1)[0]
    assert f"`meta.schema` {SCHEMA}" in section and SCHEMA == 2
    quoted = " ".join(re.findall(r"`([^`]+)`", section))  # the names in backticks
    documented = set(re.findall(r"[a-z_0-9]+", quoted))
    data = json.loads(json.dumps(recap_of(world).to_json()))
    keys = set(data) | set(data["meta"]) | set(data["questions"]) | set(data["activity"])
    keys |= set(data["time_to_answer"])
    keys |= set(data["drafts"][0]) | set(data["transcript"][0]["answers"][0])
    for name in ("LateAnswer", "KeyPhrase", "Mark", "Note", "Language"):
        keys |= set(getattr(parts, name).__slots__)
    assert keys - documented == set()


def test_markdown_escapes_platform_text(world: tuple[Path, Store, Any]) -> None:
    md = to_markdown(recap_of(world))
    assert "<script>" not in md and "\\<script\\>" in md
    assert "[click](http://evil)" not in md and "\\[click\\]\\(http://evil\\)" in md
    assert "\x1b" not in md and "red Can I get a refund" in md
    assert re.search(r"(?<!\\)<img", md) is None and "\\<img src=x" in md
    # the blog structure: intro, highlights, transcript, open questions, thanks, next session
    for heading in (
        "## Highlights",
        "## Questions and answers",
        "## Open questions",
        "## Thank you",
        "## Next session",
    ):
        assert heading in md
    assert "Acme Q\\&A, part two" in md and "Thursday 14 January 2027, 17:00" in md
    assert "sent in a private message" in md and "Private: your plan" not in md
    assert "\\<b\\>live\\</b\\>" in md  # the title is plan text, escaped all the same


def test_csv_one_row_per_post(world: tuple[Path, Store, Any]) -> None:
    _, store, plan = world
    out = io.StringIO()
    count = to_csv(export_rows(store, plan.get("t")), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    # every stored post, plus what we sent that the search never brought back (no DM)
    assert count == len(rows) == len(SCRIPT) + len(SENT_ONLY)
    by_id = {r["id"]: r for r in rows}
    assert "D1" not in by_id and by_id["N1"]["status"] == by_id["C1"]["status"] == "own"
    assert by_id["q6"]["text"] == "'" + HOSTILE_FORMULA
    assert by_id["q6"]["flags"] == "troll" and by_id["q6"]["status"] == "hidden"
    assert by_id["q3"]["duplicate_of"] == "q2"
    assert by_id["q1"]["author"] == "'@alice"  # "@" starts formulas in some spreadsheets
    assert "\x1b" not in out.getvalue()
    assert by_id["q7"]["text"].startswith("red Can I get")


def test_jsonl_is_twarc2(world: tuple[Path, Store, Any]) -> None:
    _, store, plan = world
    recap = recap_of(world)
    out = io.StringIO()
    assert to_jsonl(export_rows(store, plan.get("t")), recap, out) == len(SCRIPT) + len(SENT_ONLY)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    page = json.loads(lines[0])
    assert set(page) >= {"data", "includes", "__twarc"}
    users = {u["id"]: u["username"] for u in page["includes"]["users"]}
    tweets = {t["id"]: t for t in page["data"]}
    q2 = tweets["q2"]
    assert q2["created_at"] == "2026-12-03T17:01:00.000Z"
    assert users[q2["author_id"]] == "bob"
    assert q2["public_metrics"] == {
        "retweet_count": 1,
        "reply_count": 0,
        "like_count": 3,
        "quote_count": 0,
    }
    assert tweets["r1"]["referenced_tweets"] == [{"type": "retweeted", "id": "q2"}]
    assert tweets["f1"]["referenced_tweets"] == [{"type": "replied_to", "id": "A1"}]
    assert users[tweets["N1"]["author_id"]] == "acme"


def test_archive_round_trip(world: tuple[Path, Store, Any], tmp_path: Path) -> None:
    _, store, plan = world
    recap = recap_of(world)
    archive = tmp_path / "t.jsonl"
    with archive.open("w", encoding="utf-8") as out:
        to_jsonl(export_rows(store, plan.get("t")), recap, out)
    back = recap_from_archive(archive, "#AskAcme", None)
    assert back.meta.source == "archive:t.jsonl" and back.meta.host == "@acme"
    assert back.participants == recap.participants
    assert back.questions == recap.questions
    assert back.time_to_answer == recap.time_to_answer
    assert back.activity == recap.activity
    assert back.top_contributors.by_engagement == recap.top_contributors.by_engagement
    assert back.topics == recap.topics
    assert [d.members for d in back.duplicates] == [d.members for d in recap.duplicates]
    assert back.follow_ups.count == recap.follow_ups.count == 1
    assert back.follow_ups.by_post == recap.follow_ups.by_post and back.follow_ups.posts == []
    assert [e.question.id for e in back.transcript] == ["q1", "q2"]
    assert (back.moderation.flagged_sensitive, back.moderation.flagged_troll) == (1, 1)

    # without our annotation the archive is triaged afresh: skipped and hidden cannot be
    # known, so they count as open; the rest is the same
    bare_archive = tmp_path / "bare.jsonl"
    with bare_archive.open("w", encoding="utf-8") as out:
        for line in archive.read_text(encoding="utf-8").splitlines():
            page = json.loads(line)
            del page["__qasession"]
            out.write(json.dumps(page) + "\n")
    info = SessionInfo("t", "#AskAcme", "local", START, at(60), "@acme")
    fresh = recap_from_archive(bare_archive, "#AskAcme", info)
    q = fresh.questions
    assert (q.received, q.merged, q.answered, q.skipped, q.hidden, q.ahead) == (9, 1, 2, 0, 0, 1)
    assert q.open == 9 - 1 - 2
    assert fresh.participants == recap.participants
    assert fresh.time_to_answer.median_s == recap.time_to_answer.median_s
    assert fresh.follow_ups.count == 1


def test_archive_dedupes_ids_and_reads_flattened(tmp_path: Path) -> None:
    tweet = {
        "id": "5",
        "text": "Is it open source? #AskAcme",
        "created_at": "2026-12-03T17:05:00.000Z",
        "author": {"id": "9", "username": "zed"},
        "public_metrics": {"like_count": 4, "retweet_count": 0},
    }
    path = tmp_path / "flat.jsonl"
    path.write_text(json.dumps(tweet) + "\n\n" + json.dumps(tweet) + "\n", encoding="utf-8")
    r = recap_from_archive(path, "#AskAcme", None)
    assert r.participants == 1 and r.questions.received == 1 and r.meta.counts["posts"] == 1
    assert r.top_posts[0].url == "https://x.com/zed/status/5"


# --------------------------------------------------------------------------------------------
# The CLI


def cli(*args: str, input: str | None = None) -> Any:
    from qasession.cli import app

    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def test_cli_formats(
    world: tuple[Path, Store, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_path, _, _ = world
    elsewhere = tmp_path / "elsewhere"  # no sessions.yaml: an archive needs no plan
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("-f", str(plan_path), "recap", "t", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["questions"]["received"] == 9 and data["participants"] == 11

    terminal = cli("-f", str(plan_path), "recap", "t")
    assert terminal.exit_code == 0
    assert "\x1b" not in terminal.stdout and "participants" in terminal.stdout
    assert "█" in terminal.stdout  # the bar charts

    for fmt in ("md", "html", "csv", "jsonl"):
        target = tmp_path / f"recap.{fmt}"
        result = cli("-f", str(plan_path), "recap", "t", "--format", fmt, "-o", str(target))
        assert result.exit_code == 0, result.output
        assert target.stat().st_size > 0
    html = (tmp_path / "recap.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert html.count("<svg") == 3

    archived = cli("recap", "--from-archive", str(tmp_path / "recap.jsonl"), "--json")
    assert archived.exit_code == 0, archived.output
    assert json.loads(archived.stdout)["questions"] == data["questions"]
    with pytest.raises(UsageError):
        cli("-f", str(plan_path), "recap", "t", "--format", "pdf")


def test_drafts_posted_once(world: tuple[Path, Store, Any], home: Path) -> None:
    from qasession.platforms.local import LocalPlatform

    plan_path, store, _ = world
    recap = recap_of(world)
    kinds = [d.kind for d in recap.drafts]
    assert kinds[:3] == ["thanks", "followup", "teaser"] and set(kinds[3:]) == {"invite"}
    assert "@alice" in recap.drafts[0].text and "#AskAcme" in recap.drafts[0].text
    assert "4 of your questions" in recap.drafts[1].text
    assert "Acme Q&A, part two" in recap.drafts[2].text

    declined = cli("-f", str(plan_path), "recap", "t", "--post-drafts", input="n\n")
    assert declined.exit_code == 0
    network = LocalPlatform(home=home).network
    assert network.timeline() == []

    first = cli("-f", str(plan_path), "recap", "t", "--post-drafts", "--yes")
    assert first.exit_code == 0, first.output
    posted = [p.text for p in network.timeline()]
    assert posted == [d.text for d in recap.drafts]
    assert {i.key for i in store.outbox("t", ("sent",)) if i.kind == "draft"} == {
        "t:draft:thanks:1",
        "t:draft:followup:1",
        "t:draft:teaser:1",
        *(d.key for d in recap.drafts if d.kind == "invite"),
    }

    second = cli("-f", str(plan_path), "recap", "t", "--post-drafts", "--yes")
    assert second.exit_code == 0
    assert len(network.timeline()) == len(posted)
    assert "already posted" in second.output


def test_thanks_split_to_fit() -> None:
    from qasession.recap import Contributor, make_drafts

    recap = build_recap_stub([f"@contributor_{i:02d}" for i in range(10)])
    drafts = make_drafts(recap, max_length=100, length=len)
    thanks = [d for d in drafts if d.kind == "thanks"]
    assert len(thanks) > 1 and all(d.length <= 100 for d in thanks)
    assert [d.key for d in thanks] == [f"t:draft:thanks:{i}" for i in range(1, len(thanks) + 1)]
    mentioned = " ".join(d.text for d in thanks)
    assert all(f"@contributor_{i:02d}" in mentioned for i in range(10))
    assert Contributor  # the stub's type


def build_recap_stub(handles: list[str]) -> Any:
    from qasession.recap import Contributor, RecapBuilder

    r = RecapBuilder(SessionInfo("t", "#AskAcme", "local", START, at(60))).finish()
    r.top_contributors.by_questions = [Contributor(h, 1, 1, 0) for h in handles]
    return r


# --------------------------------------------------------------------------------------------
# Series


def test_series(world: tuple[Path, Store, Any]) -> None:
    plan_path, store, plan = world
    second = [
        P("s1", "@alice", 2, "Any update on dark mode? #AskAcme", "queued", True),
        P("s2", "@bob", 3, "Great to be back #AskAcme"),
        P("s3", "@newcomer", 4, "What's new in the API? #AskAcme", "queued", True),
    ]
    shifted = [
        P(p.id, p.author, p.minute + 60 * 24 * 42, p.text, p.status, p.question) for p in second
    ]
    store.ensure_session("t2", "#AskAcme", "local")
    store.save_page(
        "t2",
        [
            PostRecord(
                Post(id=p.id, author=p.author, text=p.text, created_at=at(p.minute)),
                p.status,
                is_question=p.question,
            )
            for p in shifted
        ],
        None,
        seen_at=at(60 * 24 * 42 + 80),
    )
    s = build_series(store, plan, plan.get("t2"))
    rows = [
        (e.id, e.participants, e.questions_received, e.answered, e.returning, e.new, e.growth_pct)
        for e in s.sessions
    ]
    growth = round((3 - 11) / 11 * 100, 1)
    assert rows == [("t", 11, 9, 2, 0, 11, None), ("t2", 3, 2, 0, 2, 1, growth)]
    result = cli("-f", str(plan_path), "recap", "t", "--series", "--json")
    assert result.exit_code == 0, result.output
    assert [x["id"] for x in json.loads(result.stdout)["sessions"]] == ["t", "t2"]
    table = cli("-f", str(plan_path), "recap", "t", "--series")
    assert table.exit_code == 0 and f"{growth:+.1f}%" in table.stdout


# --------------------------------------------------------------------------------------------
# The archive reader's two processes


def _page(tweet_id: str, author: str, minute: float, text: str) -> str:
    moment = at(minute)
    return json.dumps(
        {
            "data": [
                {
                    "id": tweet_id,
                    "text": text,
                    "author_id": f"u-{author}",
                    "created_at": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "public_metrics": {"like_count": 1, "retweet_count": 0},
                }
            ],
            "includes": {"users": [{"id": f"u-{author}", "username": author}]},
        }
    )


def test_parallel_scan_same_recap(
    world: tuple[Path, Store, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qasession.recap.archive as archive

    _, store, plan = world
    recap = recap_of(world)
    path = tmp_path / "t.jsonl"
    with path.open("w", encoding="utf-8") as out:
        to_jsonl(export_rows(store, plan.get("t")), recap, out)
    lines = path.read_text(encoding="utf-8").splitlines()
    # many small pages, so both processes get some
    single = [json.loads(line) for line in lines]
    pages = []
    for page in single:
        for tweet in page["data"]:
            pages.append(json.dumps({**page, "data": [tweet]}))
    path.write_text("\n".join(pages) + "\n", encoding="utf-8")
    monkeypatch.setattr(archive, "CHUNK_LINES", 2)
    alone = recap_from_archive(path, "#AskAcme", None, parallel=False, now=at(90))
    shared = recap_from_archive(path, "#AskAcme", None, parallel=True, now=at(90))
    assert shared.to_json() == alone.to_json()
    assert alone.questions == recap.questions and alone.participants == recap.participants
    # the key phrases the worker found are the ones found in one process
    assert shared.phrases and shared.languages


def test_id_hashes_are_checked_a_batch_at_a_time() -> None:
    import numpy as np

    from qasession.recap.archive import HashSet

    seen = HashSet()
    first = seen.add(np.array([5, 3, 5, 9], dtype=np.int64))
    assert first.tolist() == [False, False, False, False]  # a key twice in one batch: new
    assert len(seen) == 3
    rng = np.random.default_rng(1)
    batches = [rng.integers(-(2**62), 2**62, 500, dtype=np.int64) for _ in range(40)]
    for batch in batches:
        seen.add(batch)
    assert len(seen) == 3 + 20_000
    assert len(seen.runs) <= 16  # runs merge like a binary counter
    assert all(np.all(run[:-1] < run[1:]) for run in seen.runs)  # sorted, no repeats
    again = seen.add(np.concatenate([batches[7][:3], np.array([3, 123], dtype=np.int64)]))
    assert again.tolist() == [True, True, True, True, False]


def test_parallel_scan_drops_posts_met_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qasession.recap.archive as archive

    pages = [_page(str(100 + i), f"fan{i}", i, f"Question number {i}? #AskAcme") for i in range(6)]
    pages[2] = pages[0]  # collected twice: the copy goes to the other process
    path = tmp_path / "twice.jsonl"
    path.write_text("\n".join(pages) + "\n", encoding="utf-8")
    monkeypatch.setattr(archive, "CHUNK_LINES", 1)
    shared = recap_from_archive(path, "#AskAcme", None, parallel=True)
    alone = recap_from_archive(path, "#AskAcme", None, parallel=False)
    assert shared.meta.counts["posts"] == alone.meta.counts["posts"] == 5
    assert shared.questions.received == 5


def test_archive_errors_name_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qasession.recap.archive as archive
    from qasession.errors import PlanError

    pages = [_page(str(100 + i), "fan", i, "hello #AskAcme") for i in range(4)]
    pages[1] = "{not json"
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(pages) + "\n", encoding="utf-8")
    monkeypatch.setattr(archive, "CHUNK_LINES", 1)
    for parallel in (False, True):
        with pytest.raises(PlanError) as caught:
            recap_from_archive(path, "#AskAcme", None, parallel=parallel)
        assert caught.value.line == 2 and str(path) in str(caught.value)
    with pytest.raises(UsageError):
        recap_from_archive(path, None, None)  # which hashtag?


def _csv_of(path: Path, monkeypatch: pytest.MonkeyPatch, *, parallel: bool) -> tuple[str, Any]:
    import qasession.recap.archive as archive
    from qasession.recap.archive import archive_to_csv
    from qasession.recap.archive_csv import CsvExport
    from qasession.recap.masking import Masker

    monkeypatch.setattr(archive, "CHUNK_LINES", 1)
    out = io.StringIO()
    masker = Masker()
    archive_to_csv(path, "#AskAcme", None, CsvExport(out, masker), host="acme", parallel=parallel)
    return out.getvalue(), masker.masked


def test_archive_csv_same_rows_in_one_or_two_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = [_page(str(100 + i), f"fan{i}", i, f"Question number {i}? #AskAcme") for i in range(8)]
    pages[1] = _page("101", "fan1", 1, "Call me on +1 415 555 0132 please #AskAcme")
    pages[3] = pages[0]  # collected twice, met by the other process
    pages[5] = _page("105", "fan5", 5, "=HYPERLINK(1) great #AskAcme")
    flat = json.loads(_page("200", "fan9", 9, "A flattened tweet, no question #AskAcme"))
    pages.append(json.dumps({**flat["data"][0], "author": {"username": "fan9"}, "lang": "de"}))
    tagged = [json.loads(pages[i]) for i in (2, 5)]
    tagged[0]["data"][0]["lang"] = "fr"  # X's tag of a question
    tagged[1]["data"][0]["lang"] = "=1+1"  # a tag is text like any other
    pages[2], pages[5] = (json.dumps(page) for page in tagged)
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(pages) + "\n", encoding="utf-8")

    alone, alone_masked = _csv_of(path, monkeypatch, parallel=False)
    shared, shared_masked = _csv_of(path, monkeypatch, parallel=True)
    assert shared == alone
    assert shared_masked == alone_masked == ["phone number"]
    rows = list(csv.DictReader(io.StringIO(alone)))
    assert [r["id"] for r in rows] == ["100", "101", "102", "104", "105", "106", "107", "200"]
    assert "415" not in alone and rows[1]["is_question"] == "0"
    assert rows[4]["text"].startswith("'=")  # no formula for a spreadsheet to run
    assert rows[0]["author"] == "'@fan0" and rows[-1]["author"] == "'@fan9"
    assert rows[2]["status"] == "queued" and rows[0]["is_question"] == "1"
    # the platform's language tag, "und" without one, as the store's export has it
    assert [r["lang"] for r in rows] == ["und", "und", "fr", "und", "'=1+1", "und", "und", "de"]


def test_archive_lines_of_other_types_read_alike(tmp_path: Path) -> None:
    """A line the fast decoder does not take (numbers as strings, ids as numbers, a page
    holding one tweet) is read by the generic path into the same recap."""
    plain = [_page(str(100 + i), f"fan{i}", i, f"Question number {i}? #AskAcme") for i in range(4)]
    odd = [json.loads(line) for line in plain]
    odd[0]["data"][0]["public_metrics"]["like_count"] = "1"
    odd[1]["data"][0]["id"] = 101
    odd[2]["data"] = odd[2]["data"][0]
    odd[3]["data"][0]["referenced_tweets"] = [{"type": "quoted", "id": 100}]
    plain[3] = json.dumps(odd[3])
    (tmp_path / "plain.jsonl").write_text("\n".join(plain) + "\n", encoding="utf-8")
    (tmp_path / "odd.jsonl").write_text("\n".join(map(json.dumps, odd)) + "\n", encoding="utf-8")
    first = recap_from_archive(tmp_path / "plain.jsonl", "#AskAcme", None, now=at(90))
    second = recap_from_archive(tmp_path / "odd.jsonl", "#AskAcme", None, now=at(90))
    assert first.questions.received == 4
    assert {**first.to_json(), "meta": None} == {**second.to_json(), "meta": None}
