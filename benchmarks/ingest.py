"""Triage and storage of generated posts, against plain `json.loads` of the same lines.

Generates N posts as JSON lines (questions, near-duplicates, chatter, private data, profanity,
shouting, reposts), then times the whole ingest pipeline — parse, triage with every detector
on, store in SQLite in 100-post pages with the cursor — and prints posts per second and the
ratio to the time `json.loads` alone takes over the same lines (targets: ≥ 10,000 posts/s and a
ratio ≥ 0.25). Then times ranking a 10,000-question queue (target < 20 ms).

    python benchmarks/ingest.py [--posts 200000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qasession.plan import parse_plan
from qasession.platforms.base import Post, SearchPage
from qasession.store import Store

TOPICS = [
    "mobile app",
    "API",
    "pricing",
    "offline mode",
    "webhooks",
    "SSO",
    "the roadmap",
    "dark mode",
    "data export",
    "the EU region",
    "student plans",
    "the CLI",
]
OPENERS = [
    "How do I use",
    "When will you ship",
    "Why is",
    "Any plans for",
    "Can you explain",
    "What's the status of",
    "Est-ce que vous prévoyez",
    "Pourquoi",
]
CHATTER = [
    "Great session!",
    "Love this",
    "Following along from Lisbon",
    "So useful, thanks",
    "Here we go 🎉",
]


def generate(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    start = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    lines = []
    for i in range(n):
        roll = rng.random()
        author = f"@user{rng.randrange(n // 4 or 1)}"
        if roll < 0.45:
            text = f"{rng.choice(OPENERS)} {rng.choice(TOPICS)} {rng.randrange(5000)}? #AskAcme"
        elif roll < 0.60:  # near-duplicates of a small set of popular questions
            text = f"{rng.choice(OPENERS)} {rng.choice(TOPICS)}?? #askacme"
        elif roll < 0.63:
            text = f"My contract ACME-{rng.randrange(10**6):06d} is wrong, call +33 6 12 34 56 78?"
        elif roll < 0.65:
            text = "WHY IS THIS SO BAD, WHAT THE HELL #AskAcme"
        elif roll < 0.75:
            text = f"RT {rng.choice(TOPICS)} #AskAcme"
            lines.append(
                json.dumps(
                    {
                        "id": str(i + 1),
                        "author": author,
                        "text": text,
                        "created_at": (start + timedelta(seconds=i)).isoformat(),
                        "kind": "repost",
                        "ref": str(max(1, i - 5)),
                    }
                )
            )
            continue
        else:
            text = f"{rng.choice(CHATTER)} #AskAcme"
        lines.append(
            json.dumps(
                {
                    "id": str(i + 1),
                    "author": author,
                    "text": text,
                    "created_at": (start + timedelta(seconds=i)).isoformat(),
                    "kind": "post",
                    "likes": rng.randrange(20),
                }
            )
        )
    return lines


def to_post(data: dict[str, object]) -> Post:
    return Post(
        id=str(data["id"]),
        author=str(data["author"]),
        text=str(data["text"]),
        created_at=datetime.fromisoformat(str(data["created_at"])),
        kind=data.get("kind", "post"),  # type: ignore[arg-type]
        ref=data.get("ref"),  # type: ignore[arg-type]
        likes=int(data.get("likes", 0)),  # type: ignore[call-overload]
    )


def main() -> None:
    from qasession import triage
    from qasession.ingest import Ingestor
    from qasession.live import queue_rows, weights_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200_000)
    args = parser.parse_args()
    lines = generate(args.posts)
    plan = parse_plan(
        "sessions:\n  - {id: bench, hashtag: '#AskAcme', account: '@acme', start: "
        "2026-12-03 18:00, timezone: Europe/Paris, sensitive_patterns: ['ACME-\\\\d{6}'],"
        " moderation: {blocked_words: [scam]}}\n"
    )
    session = plan.get("bench")

    started = time.perf_counter()
    for line in lines:
        json.loads(line)
    baseline = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder))
        ingestor = Ingestor(session, store, "@acme")
        triage.classify(
            to_post(json.loads(lines[0])),
            host="@acme",
            start=session.start,
            extra_patterns=(),
            blocked_words=set(),
            author_recent_count=1,
        )  # warm
        started = time.perf_counter()
        seen_at = datetime.now(UTC)
        for offset in range(0, len(lines), 100):
            chunk = lines[offset : offset + 100]
            posts = [to_post(json.loads(line)) for line in chunk]
            ingestor.ingest(SearchPage(posts, posts[-1].id), seen_at)
        elapsed = time.perf_counter() - started
        stored = store.count_posts("bench")
        questions = len(store.question_rows("bench"))

        rate = len(lines) / elapsed
        print(
            f"posts               {len(lines):,} ({stored:,} stored, {questions:,} open "
            f"questions after merging duplicates)"
        )
        print(f"json.loads only     {baseline:8.2f} s  ({len(lines) / baseline:,.0f} lines/s)")
        print(
            f"ingest (all on)     {elapsed:8.2f} s  ({rate:,.0f} posts/s; target >= 10,000: "
            f"{'ok' if rate >= 10_000 else 'UNDER TARGET'})"
        )
        ratio = baseline / elapsed
        print(
            f"ratio to json.loads {ratio:8.3f}    (target >= 0.25: "
            f"{'ok' if ratio >= 0.25 else 'UNDER TARGET'})"
        )

        rng = random.Random(2)
        now = session.start + timedelta(minutes=30)
        features = [
            triage.QuestionFeatures(
                id=str(i), likes=rng.randrange(50), reposts=rng.randrange(10),
                duplicates=rng.randrange(5), first_time=rng.random() < 0.5,
                created_at=session.start + timedelta(seconds=rng.randrange(3600)),
                pinned=rng.random() < 0.001, flags=frozenset(),
            )
            for i in range(10_000)
        ]  # fmt: skip
        weights = weights_for(session)
        runs = []
        for _ in range(21):
            t = time.perf_counter()
            triage.rank(features, weights, now, session_start=session.start)
            runs.append(time.perf_counter() - t)
        median = statistics.median(runs) * 1000
        print(
            f"rank 10,000         {median:8.2f} ms (median of 21; target < 20 ms: "
            f"{'ok' if median < 20 else 'OVER TARGET'})"
        )
        t = time.perf_counter()
        rows = queue_rows(session, store, now)
        print(
            f"qa queue (store)    {(time.perf_counter() - t) * 1000:8.2f} ms for "
            f"{len(rows):,} queued questions, read from SQLite and ranked"
        )


if __name__ == "__main__":
    main()
