"""No recap output shows private data: every detector's examples (and a plan pattern's) are put
in every place a recap shows a text, and every output (terminal, md, html, json, csv, jsonl,
each draft, posted or not, and the recap of an archive) is read back, decoded, and searched
for them. `--include-private` brings them back in the csv and jsonl exports only."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qasession.platforms.base import Post
from qasession.store import OutboxItem, Store
from qasession.store.db import PostRecord
from qasession.triage.private import EXAMPLE_PLAN_PATTERN, EXAMPLES, Example, leaks

START = datetime(2026, 11, 5, 17, 0, tzinfo=UTC)
# The plan's pattern is the detectors' example one, labelled; the next session's title (a plan
# text, shown in the recap and in the teaser draft) carries private data too.
PLAN = f"""\
sessions:
  - id: t
    title: Acme Q&A
    account: "@acme"
    hashtag: "#AskAcme"
    timezone: UTC
    start: {START:%Y-%m-%d %H:%M}
    duration: 60m
    next: t2
    sensitive_patterns:
      - {{pattern: '{EXAMPLE_PLAN_PATTERN}', label: contract number}}
  - id: t2
    title: "Billing hour, or write to billing.team+vip@example.org"
    account: "@acme"
    hashtag: "#AskAcme"
    timezone: UTC
    start: 2027-01-14 17:00
    duration: 60m
"""
TITLE_PRIVATE = "billing.team+vip@example.org"
ALL = [example for examples in EXAMPLES.values() for example in examples]
GROUP = 10  # examples per session: the recap's top lists hold ten posts
GROUPS = [ALL[i : i + GROUP] for i in range(0, len(ALL), GROUP)]


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def letters(n: int) -> str:
    """An id without digits ("ab"), so no id can be mistaken for shown digits."""
    return "".join(chr(ord("a") + int(d)) for d in str(n))


def fill(store: Store, examples: list[Example]) -> None:
    """Each example as an answered question (with the host's answer echoing the data), an
    open question and its duplicate, a liked post and a reply to our answer."""
    store.ensure_session("t", "#AskAcme", "local")
    records, steps = [], []
    for n, example in enumerate(examples):
        i = letters(n)
        who = f"@asker{i}"
        posts = [
            (Post(f"q{i}", who, example.text, at(n + 1), likes=1), "answered", True, None),
            (Post(f"o{i}", who, "Again: " + example.text, at(n + 2), likes=5), "queued", True,
             None),
            (Post(f"d{i}", "@other" + i, example.text + "!", at(n + 3)), "merged", True, f"o{i}"),
            (Post(f"p{i}", "@fan" + i, example.text + " lol", at(n + 4), likes=40), "chatter",
             False, None),
            (Post(f"f{i}", "@fan" + i, "Re: " + example.text, at(n + 30), kind="reply",
                  ref=f"A{i}"), "chatter", False, None),
        ]  # fmt: skip
        for post, status, question, dup in posts:
            flags = frozenset({"duplicate"} if dup else set())
            records.append(PostRecord(post, status, question, flags=flags, duplicate_of=dup))
        steps.append(
            OutboxItem(
                key=f"t:answer:{i}:0:answer",
                op=f"t:answer:{i}",
                seq=0,
                kind="answer",
                text=f".{who} we have {example.private} on file. #AskAcme",
                question_id=f"q{i}",
            )
        )
    store.save_page("t", records, None, seen_at=at(80))
    for n, item in enumerate(store.add_intents("t", steps)):
        store.mark_sent(item.id, f"A{letters(n)}", at(n + 20))


@pytest.fixture(params=range(len(GROUPS)), ids=[f"examples{i}" for i in range(len(GROUPS))])
def world(request: pytest.FixtureRequest, tmp_path: Path, home: Path) -> tuple[Path, list[str]]:
    examples = GROUPS[request.param]
    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    store = Store.open(home)
    fill(store, examples)
    store.close()
    return plan_path, [e.private for e in examples]


def cli(*args: str) -> Any:
    from qasession.cli import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def strings(data: Any) -> list[str]:
    """Every string of a decoded JSON document, keys included."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (k, *strings(v))]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return []


def decode(fmt: str, text: str) -> str:
    """What a reader of the output sees: escapes undone, markup removed."""
    if fmt == "md":
        return re.sub(r"\\(.)", r"\1", text)
    if fmt == "html":
        # styles and the charts' coordinates (<desc>) are numbers of the page, not texts
        text = re.sub(r"<(style|desc)\b.*?</\1>", " ", text, flags=re.DOTALL)
        return html.unescape(re.sub(r"<[^>]+>", " ", text))
    if fmt == "json":
        return texts(strings(json.loads(text)))
    if fmt == "jsonl":
        return texts(s for line in text.splitlines() for s in strings(json.loads(line)))
    if fmt == "csv":
        return texts(cell for row in csv.reader(io.StringIO(text)) for cell in row)
    return text


# Values of the tool's own: instants ("2026-11-05T17:20:00.000000+00:00") and the user ids
# twarc2 needs (hashes of the handles). Their digits are no text of a post and would read as
# a leak of any four digits in a row.
_OWN_VALUE = re.compile(r"\d+|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def texts(values: Iterable[str]) -> str:
    return "\n".join(v for v in values if not _OWN_VALUE.fullmatch(v))


_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def assert_masked(output: str, privates: list[str], where: str) -> None:
    # when the recap was made ("generated on 2026-12-02T12:57:06.694405+00:00") is no post's
    output = _INSTANT.sub(" ", output)
    for private in privates:
        assert leaks(output, private) == [], f"{where} shows {private!r}"
        assert private not in output, where


# The terminal's figures and activity chart: the tool's own numbers ("p90 18 min (10
# answers)" reads as the digits 9018), no text of a post.
_FIGURES = re.compile(
    r"^ *(participants|questions|time to answer|posts|follow-ups|moderation|platform use)  "
    r"|^ *\d\d:\d\d +[ ▏▎▍▌▋▊▉█]* *\d+ *$"
)


def terminal(text: str) -> str:
    """The terminal recap without its figures, whole as written, compact digits checked."""
    lines = text.splitlines()
    shown = [line for line in lines if not _FIGURES.match(line)]
    assert len(shown) < len(lines)
    return "\n".join(shown)


def outputs(plan_path: Path, tmp_path: Path, *extra: str) -> dict[str, str]:
    """Every format of `qa recap` (the terminal's on stdout), decoded."""
    found = {"terminal": terminal(cli("-f", str(plan_path), "recap", "t", *extra).stdout)}
    for fmt in ("md", "html", "json", "csv", "jsonl"):
        if fmt == "jsonl" and extra:
            continue  # an archive is already jsonl
        target = tmp_path / f"out.{fmt}"
        cli("-f", str(plan_path), "recap", "t", *extra, "--format", fmt, "-o", str(target))
        found[fmt] = decode(fmt, target.read_text(encoding="utf-8"))
    return found


def test_no_output_shows_private_data(world: tuple[Path, list[str]], tmp_path: Path) -> None:
    plan_path, privates = world
    privates = [*privates, TITLE_PRIVATE]
    shown = outputs(plan_path, tmp_path)
    for fmt, text in shown.items():
        assert_masked(text, privates, fmt)
    # every example was somewhere to be masked: each output says so, once
    document = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert "e-mail address" in document["meta"]["masked"]
    for fmt in ("terminal", "md", "html"):
        assert shown[fmt].count("is masked in this recap") == 1, fmt
    assert "[e-mail address removed]" in shown["md"]  # the next session's title, masked
    # the texts are there, masked: a phone keeps its prefix and last two digits
    assert document["transcript"] and document["open_questions"] and document["top_posts"]
    assert document["duplicates"] and document["follow_ups"]["posts"]
    drafts = document["drafts"]
    assert {d["kind"] for d in drafts} == {"thanks", "followup", "teaser", "invite"}
    assert_masked("\n".join(d["text"] for d in drafts), privates, "drafts")


def test_csv_and_jsonl_keep_it_only_when_asked(
    world: tuple[Path, list[str]], tmp_path: Path
) -> None:
    plan_path, privates = world
    for fmt in ("csv", "jsonl"):
        target = tmp_path / f"private.{fmt}"
        result = cli(
            "-f", str(plan_path), "recap", "t", "--format", fmt, "-o", str(target),
            "--include-private",
        )  # fmt: skip
        assert "keeps private data (--include-private)" in result.stderr
        assert result.stderr.count("private data") == 1
        text = decode(fmt, target.read_text(encoding="utf-8"))
        for private in privates:
            assert private in text, (fmt, private)
        masked = cli("-f", str(plan_path), "recap", "t", "--format", fmt)
        assert "is masked in this export" in masked.stderr
        assert_masked(decode(fmt, masked.stdout), privates, fmt)
    # anywhere else the flag is refused, so nobody believes the data is in a recap
    from qasession.errors import UsageError

    with pytest.raises(UsageError, match="csv and jsonl exports only"):
        cli("-f", str(plan_path), "recap", "t", "--format", "md", "--include-private")


def test_an_archive_recap_masks_too(world: tuple[Path, list[str]], tmp_path: Path) -> None:
    plan_path, privates = world
    archive = tmp_path / "archive.jsonl"
    cli(
        "-f", str(plan_path), "recap", "t", "--format", "jsonl", "-o", str(archive),
        "--include-private",
    )  # fmt: skip
    assert any(p in archive.read_text(encoding="utf-8") for p in privates)
    # the plan names the session by its hashtag: its patterns apply to the archive
    shown = outputs(plan_path, tmp_path, "--from-archive", str(archive))
    for fmt, text in shown.items():
        assert_masked(text, privates, f"archive {fmt}")
    document = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert document["meta"]["source"] == "archive:archive.jsonl" and document["meta"]["masked"]
    assert document["transcript"] and document["open_questions"]
    kept = tmp_path / "kept.csv"
    cli(
        "-f", str(plan_path), "recap", "--from-archive", str(archive), "--format", "csv",
        "-o", str(kept), "--include-private",
    )  # fmt: skip
    text = decode("csv", kept.read_text(encoding="utf-8"))
    assert all(p in text for p in privates)


def test_posted_drafts_show_none_of_it(
    world: tuple[Path, list[str]], home: Path, tmp_path: Path
) -> None:
    from qasession.platforms.local import LocalPlatform

    plan_path, privates = world
    result = cli("-f", str(plan_path), "recap", "t", "--post-drafts", "--yes")
    # the teaser names the next session, whose title the recap masked
    assert "t:draft:teaser:1: Private data is masked in this draft." in result.stderr
    posted = [p.text for p in LocalPlatform(home=home).network.timeline()]
    assert len(posted) >= 3 and any(p.startswith("Next session") for p in posted)
    assert_masked("\n".join(posted), [*privates, TITLE_PRIVATE], "posted drafts")
    assert_masked(result.stdout, [*privates, TITLE_PRIVATE], "drafts shown")


def test_every_example_is_in_a_group() -> None:
    assert sum(len(g) for g in GROUPS) == len(ALL) and all(len(g) <= GROUP for g in GROUPS)
    assert {e.private for e in ALL} >= {e.private for e in EXAMPLES["pattern"]}


INVISIBLE = "\u202e\u2066\u200b\u2060\ufeff\x85\x9b\u2028"


def test_jsonl_escapes_invisible_characters(tmp_path: Path, home: Path) -> None:
    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    text = f"Why is{INVISIBLE} this hidden? #AskAcme"
    store = Store.open(home)
    store.ensure_session("t", "#AskAcme", "local")
    asked = PostRecord(Post("qa", "@zed", text, at(3)), "queued", True)
    store.save_page("t", [asked], None, seen_at=at(80))
    store.close()
    for flags in ((), ("--include-private",)):
        raw = cli("-f", str(plan_path), "recap", "t", "--format", "jsonl", *flags).stdout
        assert not set(INVISIBLE) & set(raw), "escaped, never written raw"
        assert "\\u202e" in raw and "\\u0085" in raw
        tweets = [t for line in raw.splitlines() for t in json.loads(line)["data"]]
        assert [t["text"] for t in tweets] == [text]  # read back identically


def test_a_recap_reads_a_read_only_home(tmp_path: Path) -> None:
    from tests.test_bad_homes import as_other_user, need

    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    plan_path.parent.chmod(0o755)
    home = tmp_path / "home"
    store = Store.open(home)
    fill(store, GROUPS[0])
    store.close()
    for path in (*home.iterdir(), home):
        path.chmod(0o555 if path.is_dir() else 0o444)  # read-only, even for its owner
    shown = as_other_user("recap", "t", "--json", "-f", str(plan_path), home=home)
    if "unshare failed" in shown.stderr or "Operation not permitted" in shown.stderr:
        need("a user namespace")  # fails under CI, skips elsewhere
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["questions"]["answered"] == len(GROUPS[0]) and document["meta"]["masked"]
    posting = as_other_user("recap", "t", "--post-drafts", "--yes", "-f", str(plan_path), home=home)
    assert posting.returncode != 0 and "Traceback" not in posting.stderr
