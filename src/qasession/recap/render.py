"""Renderers of the recap into files and texts: Markdown blog draft, offline HTML report, CSV,
twarc2 JSONL, and the helpers they share with the terminal view (`qasession.cli.recap_terminal`).

Every platform text is untrusted: it is made inert (no terminal escapes or controls) and then
escaped for the target (Markdown specials, HTML through Jinja2's autoescape and the SVG
serializer, spreadsheet formulas in CSV).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote
from zoneinfo import ZoneInfo

from qasession import __version__
from qasession.recap import Recap, duration_text
from qasession.recap.masking import notice
from qasession.text.safe import inert

TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZE = 100  # tweets per twarc2 line, like one API page
META_KEY = "__qasession"


# --------------------------------------------------------------------------------------------
# Shared helpers


def _zone(recap: Recap) -> ZoneInfo:
    try:
        return ZoneInfo(recap.meta.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def local_time(recap: Recap, instant: str | None, fmt: str = "%H:%M") -> str:
    """An ISO instant on the session's wall clock."""
    if not instant:
        return "–"
    return datetime.fromisoformat(instant).astimezone(_zone(recap)).strftime(fmt)


def safe_url(url: str | None) -> str | None:
    """An http(s) link with every character that could end or bend the markup encoded; any
    other scheme (javascript:, data:) is dropped."""
    if not url:
        return None
    url = inert(url, single_line=True).strip()
    if not url.lower().startswith(("https://", "http://")):
        return None
    return quote(url, safe=":/?#@!$&*+,;=%-._~")


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def plural(n: int, word: str, many: str | None = None) -> str:
    """`n` and `word`, in the plural (`many`, else `word` + "s") unless `n` is 1."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def late_text(count: int) -> str:
    """ "2 answered after the end": the late answers, which the live figures leave out."""
    return f"{count} answered after the end"


# The platform's call counters in plain words (the stored keys are the adapters' names).
COUNTER_WORDS = {
    "search_requests": "API calls",
    "posts_read": "posts read",
    "posts_created": "posts sent",
    "posts_created_with_url": "posts sent with a link",
    "reposts": "reposts",
    "dms": "direct messages",
    "errors": "platform errors",
}


def platform_use(recap: Recap) -> str | None:
    """ "836 API calls, 52 posts read, 14 posts sent; estimated spend $0.41", or None."""
    cost = recap.cost
    if cost is None:
        return None
    parts = []
    for key, value in (cost.calls or {}).items():
        if not value:
            continue
        words = COUNTER_WORDS.get(key) or inert(str(key), 40, single_line=True).replace("_", " ")
        part = f"{inert(str(value), 20, single_line=True)} {words}"
        if key == "search_requests":
            part += _against_estimate(value, cost.estimated_search_requests)
        parts.append(part)
    text = ", ".join(parts) or "no platform calls"
    if cost.spend_usd is not None:
        text += f"; estimated spend ${cost.spend_usd:.2f}"
    return text


def _against_estimate(made: Any, estimated: int | None) -> str:
    """The words after the search requests made: " (96% of the 380 qa plan estimated)"."""
    if not estimated or not isinstance(made, int | float):
        return ""
    return f" ({made / estimated:.0%} of the {estimated:,} qa plan estimated)"


def generated_text(recap: Recap) -> str:
    """When the recap was made, on the session's wall clock, to the minute."""
    zone = inert(recap.meta.timezone, 40, single_line=True)
    return local_time(recap, recap.meta.generated_at, "%d %B %Y, %H:%M") + f" ({zone})"


def waiting_hint(recap: Recap) -> str | None:
    """What to say instead of an empty chart: before the session, or when it had no post."""
    a, m = recap.activity, recap.meta
    if a.during_posts:
        return None
    ahead = recap.questions.ahead
    early = f" {plural(ahead, 'question')} asked ahead so far." if ahead else ""
    started = m.window_start and m.generated_at and m.generated_at < m.window_start
    if started or not m.counts.get("posts"):
        when = local_time(recap, m.window_start, "%d %B %Y, %H:%M") if m.window_start else "later"
        return (
            f"Nothing to chart yet: the session starts {when}. The recap fills in as posts "
            f"come in (`qa run`).{early}"
        )
    return f"No post during the session window.{early}"


# --------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>!|~&{}])")
_MD_LINE_START = re.compile(r"^([#+\-=>]|\d+[.)])")


def md_escape(text: str | None) -> str:
    """Untrusted text as literal Markdown on one line: no links, images, emphasis, code,
    HTML, tables or headings can come out of it."""
    text = _MD_SPECIAL.sub(r"\\\1", inert(text or "", single_line=True))
    match = _MD_LINE_START.match(text)
    if match:
        token = match.group(1)
        text = (token[:-1] + "\\" + token[-1]) + text[len(token) :]
    return text


def _md_link(label: str, url: str | None) -> str:
    link = safe_url(url)
    return f"[{label}]({link})" if link else ""


def to_markdown(recap: Recap) -> str:
    """A blog-post draft: intro, highlights, the Q&A transcript, open questions, thanks and
    the next session."""
    lines = _md_intro(recap)
    lines += ["## Highlights", ""]
    lines += [f"- {h.rstrip()}" for h in _md_highlights(recap)] + [""]
    lines += _md_platforms(recap)
    lines += ["## Questions and answers", ""]
    lines += _md_transcript(recap)
    lines += ["## Open questions", ""]
    lines += _md_open(recap)
    lines += ["## Thank you", ""]
    handles = [c.handle for c in recap.top_contributors.by_questions]
    for c in recap.top_contributors.by_engagement:
        if c.handle not in handles:
            handles.append(c.handle)
    thanks = "Thank you to everyone who took part"
    if handles:
        thanks += ", and especially " + ", ".join(md_escape(h) for h in handles[:10])
    lines += [thanks + "!", ""]
    nxt = recap.meta.next
    if nxt is not None:
        lines += [
            "## Next session",
            "",
            f"**{md_escape(nxt.title)}**, {md_escape(nxt.when)} ({md_escape(nxt.timezone)}) "
            f"on {md_escape(nxt.hashtag)}. Send your questions ahead!",
            "",
        ]
    lines.append(
        f"<!-- generated by qasession {md_escape(recap.meta.version)} "
        f"on {md_escape(generated_text(recap))} -->"
    )
    return "\n".join(lines) + "\n"


PLATFORM_MARKS = "XBMOPQRS"  # one letter a platform in the text chart, in the plan's order


def platform_bars(split: Mapping[str, Any]) -> list[str]:
    """The activity stacked by platform as lines of text (one a bucket, a letter a post):
    what the terminal and the Markdown recap draw."""
    marks = PLATFORM_MARKS
    rows = split["platforms"]
    step = split["bucket_minutes"]
    lines = []
    for bucket in range(len(split["combined"]["activity"])):
        bar = "".join(marks[i % len(marks)] * r["activity"][bucket] for i, r in enumerate(rows))
        lines.append(f"+{bucket * step:>3}m {bar}")
    return lines


def _md_platforms(recap: Recap) -> list[str]:
    """A session on several platforms: each platform's numbers, combined, and the activity
    stacked by platform."""
    split = recap.by_platform
    if not split:
        return []
    lines = ["## By platform", ""]
    lines += [
        "| platform | people | posts | questions | answered | community answers | "
        "median wait | cost |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in [*split["platforms"], {"platform": "combined", **split["combined"]}]:
        wait = row.get("median_minutes_to_answer")
        lines.append(
            f"| {md_escape(row['platform'])} | {row['participants']} | {row['posts']} | "
            f"{row['questions']} | {row['answered']} | {row['community_answers']} | "
            f"{f'{wait:g} min' if isinstance(wait, int | float) else ''} | "
            f"${row['spend_usd']:.2f} |"
        )
    legend = ", ".join(
        f"{PLATFORM_MARKS[i % len(PLATFORM_MARKS)]} {md_escape(r['platform'])}"
        for i, r in enumerate(split["platforms"])
    )
    lines += ["", f"Activity by platform, posts per {split['bucket_minutes']} minutes ({legend}):"]
    return [*lines, "", "```", *platform_bars(split), "```", ""]


def _md_intro(recap: Recap) -> list[str]:
    m, q, t = recap.meta, recap.questions, recap.time_to_answer
    tag = md_escape(m.hashtag)
    day = local_time(recap, m.window_start, "%A %d %B %Y")
    lines = [f"# {md_escape(m.title or m.hashtag)}: the recap", ""]
    span = (
        f"{local_time(recap, m.window_start)}–{local_time(recap, m.window_end)} "
        f"({md_escape(m.timezone)})"
    )
    lines += [f"*{md_escape(day)}, {span}, on {tag}*", ""]
    if m.masked:
        lines += [f"*{md_escape(notice(m.masked))}*", ""]
    intro = (
        f"{plural(recap.participants, 'person', 'people')} took part in our Q&A on {tag} "
        f"and asked {plural(q.received, 'question')}"
    )
    if q.merged:
        intro += f" ({q.merged} of them asked again by someone else)"
    live = q.answered - t.late_count
    if q.received and not live and not t.late_count:
        intro += ". None was answered live" if q.received > 1 else ". It was not answered live"
    elif live:
        answered = "it" if q.received == 1 else f"{live} of them"
        intro += f". We answered {answered} live"
        if t.median_s is not None:
            intro += f", in a median of {duration_text(t.median_s)}"
    if t.late_count:  # apart: the median above counts the live answers only
        intro += f"{', and' if live else '. We answered'} "
        intro += f"{plural(t.late_count, 'question')} after the end"
    return [*lines, intro + ".", ""]


def _md_highlights(recap: Recap) -> list[str]:
    m, q, t = recap.meta, recap.questions, recap.time_to_answer
    highlights = [
        f"**{plural(recap.participants, 'participant')}**, "
        f"{plural(m.counts.get('posts', 0), 'post')} on the hashtag",
        f"**Questions:** {q.received} received, {q.answered} answered, {q.skipped} skipped, "
        f"{q.open} open, {q.ahead} asked ahead",
    ]
    if t.count:
        highlights.append(
            f"**Time to answer:** median {duration_text(t.median_s)}, "
            f"90% within {duration_text(t.p90_s)}"
            + (f"; {late_text(t.late_count)}" if t.late_count else "")
        )
    elif t.late_count:
        highlights.append(f"**Time to answer:** {late_text(t.late_count)}")
    peak = recap.activity.peak
    if peak is not None and peak.posts:
        highlights.append(
            f"**Busiest minute:** {local_time(recap, peak.start)} with {plural(peak.posts, 'post')}"
        )
    contributors = recap.top_contributors.by_questions[:5]
    if contributors:
        names = ", ".join(
            f"{md_escape(c.handle)} ({plural(c.questions, 'question')})" for c in contributors
        )
        highlights.append(f"**Most curious:** {names}")
    if recap.topics:
        topics = ", ".join(f"{md_escape(x.phrase)} ({x.count})" for x in recap.topics[:8])
        highlights.append(f"**Recurring topics:** {topics}")
    if recap.top_posts:
        best = recap.top_posts[0]
        highlights.append(
            f"**Most engaging post:** “{md_escape(best.text)}” by {md_escape(best.author)} "
            f"({plural(best.likes, 'like')}, {plural(best.reposts, 'repost')}) "
            + _md_link("see it", best.url)
        )
    return highlights


def _md_transcript(recap: Recap) -> list[str]:
    if not recap.transcript:
        return ["No question was answered during this session.", ""]
    lines: list[str] = []
    for number, entry in enumerate(recap.transcript, 1):
        question = entry.question
        asked = f"### {number}. {md_escape(question.author)} asked"
        if entry.duplicates:
            asked += f" (and {plural(entry.duplicates, 'other')})"
        lines += [asked, "", f"> {md_escape(question.text)}"]
        link = _md_link("the question", question.url)
        if link:
            lines += [">", f"> {link}"]
        lines.append("")
        private = any(answer.kind == "dm" for answer in entry.answers)
        for answer in entry.answers:
            if private and answer.kind != "dm":
                continue  # the public "we've sent you a direct message" line says nothing more
            if answer.kind == "dm":
                lines.append("**Answer:** sent in a private message.")
            else:
                link = _md_link("(link)", answer.url)
                lines.append(f"**Answer:** {md_escape(answer.text)} {link}".rstrip())
            lines.append("")
    return lines


def _md_open(recap: Recap) -> list[str]:
    q = recap.questions
    if not q.open:
        return ["Every question got an answer. Thank you!", ""]
    lines = [
        f"We couldn't answer {plural(q.open, 'question')} live; we'll follow up on "
        f"{md_escape(recap.meta.hashtag)}. The most popular ones:",
        "",
    ]
    for item in recap.open_questions:
        question = item.question
        line = f"- {md_escape(question.author)}: {md_escape(question.text)}"
        if item.duplicates:
            line += f" (+{item.duplicates})"
        link = _md_link("link", question.url)
        lines.append(f"{line} {link}".rstrip())
    more = q.open - len(recap.open_questions)
    if more > 0:
        lines.append(f"- …and {more} more.")
    lines.append("")
    return lines


# --------------------------------------------------------------------------------------------
# HTML


def charts(recap: Recap) -> dict[str, str]:
    """Inline SVG charts (see `qasession.recap.charts`): activity, time to answer,
    contributors, languages, for those the recap has data for."""
    from qasession.recap.charts import svgs

    return svgs(recap)


def to_html(recap: Recap) -> str:
    """One self-contained page (inline CSS and SVG, no script, nothing fetched)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["text"] = lambda value: inert(_str(value))
    env.filters["line"] = lambda value, limit=None: inert(_str(value), limit, single_line=True)
    env.filters["url"] = safe_url
    env.filters["local"] = lambda value, fmt="%H:%M": local_time(recap, value, fmt)
    env.filters["duration"] = duration_text
    env.filters["plural"] = plural
    from qasession.recap.charts import NAMES

    drawn = charts(recap)
    svgs = {name: Markup(drawn.get(name, "")) for name in NAMES}
    template = env.get_template("recap.html.j2")
    masked = notice(recap.meta.masked) if recap.meta.masked else None
    return template.render(
        r=recap,
        charts=svgs,
        version=__version__,
        masked=masked,
        hint=waiting_hint(recap),
        platform_use=platform_use(recap),
        generated=generated_text(recap),
    )


# --------------------------------------------------------------------------------------------
# CSV

CSV_COLUMNS = (
    "id",
    "created_at",
    "author",
    "kind",
    "ref",
    "text",
    "likes",
    "reposts",
    "lang",
    "url",
    "is_question",
    "status",
    "flags",
    "duplicate_of",
    "duplicates",
    "pinned",
    "first_time",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = inert(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


def to_csv(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """One row per post with its flags and status; returns the number of rows."""
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in CSV_COLUMNS])
        count += 1
    return count


class CsvSink:
    """A row callback writing CSV (for archives, streamed while they are read)."""

    def __init__(self, out: TextIO) -> None:
        self.writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self.writer.writerow(CSV_COLUMNS)
        self.count = 0

    def __call__(self, row: Mapping[str, Any]) -> None:
        self.writer.writerow([csv_cell(row.get(column)) for column in CSV_COLUMNS])
        self.count += 1


# --------------------------------------------------------------------------------------------
# twarc2 JSONL

_TYPES = {"repost": "retweeted", "reply": "replied_to", "quote": "quoted"}


def user_id(handle: str) -> str:
    """A stable numeric id for a handle (archives need one; platforms other than X have
    none): the first 7 bytes of its SHA-1."""
    key = handle.lower().lstrip("@").encode("utf-8")
    return str(int.from_bytes(hashlib.sha1(key).digest()[:7], "big"))


def twarc_time(text: str) -> str:
    """`2026-12-03T17:00:00.000Z`, X's format."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _tweet(row: Mapping[str, Any]) -> dict[str, Any]:
    tweet: dict[str, Any] = {
        "id": str(row["id"]),
        "text": row["text"],
        "author_id": user_id(row["author"]),
        "created_at": twarc_time(row["created_at"]),
        "public_metrics": {
            "retweet_count": int(row.get("reposts") or 0),
            "reply_count": 0,
            "like_count": int(row.get("likes") or 0),
            "quote_count": 0,
        },
        "lang": row.get("lang") or "und",
    }
    kind = row.get("kind") or "post"
    if row.get("ref") and kind in _TYPES:
        tweet["referenced_tweets"] = [{"type": _TYPES[kind], "id": str(row["ref"])}]
        if kind == "reply":
            tweet["conversation_id"] = str(row["ref"])
    return tweet


# Characters a JSON line keeps as \\uXXXX escapes (readers decode them to the same text):
# C1 controls and DEL, direction marks and overrides, zero-width and other invisible format
# characters, line and paragraph separators, and lone surrogates.
_INVISIBLE = re.compile(
    "[\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    "\ufff9-\ufffb\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_line(data: Any) -> str:
    """`data` as one line of JSON, UTF-8 text kept readable, invisible and control
    characters escaped (see `_INVISIBLE`): a terminal or editor showing the file is not
    bent by them, and `json.loads` gives back the same strings."""
    return _INVISIBLE.sub(_escape, json.dumps(data, ensure_ascii=False))


def to_jsonl(rows: Iterable[Mapping[str, Any]], recap: Recap, out: TextIO) -> int:
    """twarc2 JSONL: one line per page of up to 100 tweets, with `includes.users` and
    `__twarc`, as `twarc2 search` writes it (twarc's tools read it). Each line also carries
    `__qasession` (the session and the stored triage) so `--from-archive` recaps it alike;
    other tools ignore that key. Returns the number of tweets."""
    m = recap.meta
    twarc = {
        "url": f"qasession:{m.session_id}",
        "version": f"qasession {__version__}",
        "retrieved_at": twarc_time(m.generated_at or datetime.now(UTC).isoformat()),
    }
    session = {
        "id": m.session_id,
        "hashtag": m.hashtag,
        "platform": m.platform,
        "host": m.host,
        "title": m.title,
        "timezone": m.timezone,
        "start": m.window_start,
        "end": m.window_end,
    }
    count = 0
    page: list[Mapping[str, Any]] = []

    def flush() -> None:
        tweets, users, marks = [], {}, {}
        for row in page:
            tweet = _tweet(row)
            tweets.append(tweet)
            users[tweet["author_id"]] = {
                "id": tweet["author_id"],
                "username": str(row["author"]).lstrip("@"),
                "name": str(row["author"]).lstrip("@"),
            }
            flags = row.get("flags") or ""
            status = row.get("status") or "chatter"
            if row.get("is_question") or flags or status in ("hidden", "skipped"):
                marks[tweet["id"]] = [
                    int(bool(row.get("is_question"))),
                    status,
                    flags,
                    row.get("duplicate_of"),
                ]
        line = {
            "data": tweets,
            "includes": {"users": list(users.values())},
            "meta": {"result_count": len(tweets)},
            "__twarc": twarc,
            META_KEY: {"v": 1, "session": session, "triage": marks},
        }
        out.write(json_line(line) + "\n")

    for row in rows:
        page.append(row)
        count += 1
        if len(page) == PAGE_SIZE:
            flush()
            page = []
    if page:
        flush()
    return count


def ranked_contributors(recap: Recap, limit: int = 10) -> list[Any]:
    """Who asked most, ties broken by the likes and reposts they received (the builder's
    order); when nobody asked a question, who received the most engagement."""
    people = list(recap.top_contributors.by_questions or recap.top_contributors.by_engagement)
    people.sort(key=lambda c: (-c.questions, -c.engagement, c.handle.lower()))
    return people[:limit]
