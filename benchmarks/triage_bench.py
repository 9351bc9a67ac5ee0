"""Micro-benchmark of triage: per-post classify(), DuplicateIndex.add() and rank() figures.

The figures that say how triage scales are ratios to a baseline measured in the same run, so a
loaded or slow machine shifts both sides alike: DuplicateIndex.add() on a grown index against
its first 1,000 adds (target < 3), and find_sensitive() on a long text without seven digits
against one regular-expression pass over the same text (target < 5), and on twice that text
against once (linear: target < 3). The unit tests prove the same by counting, not timing."""

from __future__ import annotations

import gc
import random
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from qasession.platforms.base import Post
from qasession.triage import (
    DuplicateIndex,
    QuestionFeatures,
    Weights,
    classify,
    compile_patterns,
    find_sensitive,
    is_question,
    mask_private,
    rank,
    troll_signals,
)

START = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)

TYPICAL = [
    "@acme How do I reset my password when the app keeps saying my email is unknown? #AskAcme",
    "#AskAcme any plans to bring the dashboard to Android tablets this year, or is it web only",
    "Great session so far, loving the answers from the team! Keep them coming 🔥 #AskAcme",
    "Quand est-ce que la nouvelle version sera disponible en France ? Merci ! #AskAcme",
    "Is there a way to export all my invoices as CSV instead of downloading them one by one",
    "WHY DOES YOUR SUPPORT NEVER ANSWER MY TICKETS #AskAcme this is a joke honestly",
    "My order 48213 has been stuck for a week, can you call me on 06 12 34 56 78 #AskAcme",
    "What's the roadmap for the API v2.3 release? https://example.com/docs?page=2 #AskAcme",
]


def _per_call(fn: Callable[[], object], calls: int) -> float:
    """Best-of-5 mean time per call, in microseconds."""
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - began) / calls * 1e6)
    return min(runs)


def bench_classify() -> None:
    posts = [
        Post(id=str(i), author=f"@user{i}", text=t, created_at=START + timedelta(seconds=i))
        for i, t in enumerate(TYPICAL)
    ]
    patterns = compile_patterns([r"\bACME-\d{6}\b"])
    blocked = frozenset({"scam", "boycott"})
    n = len(posts)
    counter = iter(range(10**9))

    def one() -> None:
        post = posts[next(counter) % n]
        classify(
            post,
            host="@acme",
            start=START,
            extra_patterns=patterns,
            blocked_words=blocked,
            author_recent_count=1,
            flood_limit=5,
        )

    print(f"classify, mix of {n} typical posts: {_per_call(one, 20_000):6.1f} µs/post")
    for text in TYPICAL:
        cost = _per_call(
            lambda t=text: classify(  # type: ignore[misc]
                Post(id="1", author="@u", text=t, created_at=START),
                host="@acme",
                start=START,
                extra_patterns=patterns,
                blocked_words=blocked,
            ),
            5_000,
        )
        print(f"  {cost:6.1f} µs  {text[:70]}")
    text = TYPICAL[0]
    parts = {
        "is_question": _per_call(lambda: is_question(text), 20_000),
        "find_sensitive": _per_call(lambda: find_sensitive(text), 20_000),
        "troll_signals": _per_call(lambda: troll_signals(text, 0, blocked), 20_000),
    }
    print("  parts on post 1: " + ", ".join(f"{k} {v:.1f} µs" for k, v in parts.items()))


WORDS = str.split(
    "password account invoice export dashboard android ios tablet api webhook billing plan "
    "team seat refund shipping order delivery europe canada pricing discount student trial "
    "integration slack calendar sync offline mode dark theme language french german spanish "
    "report chart filter search upload limit storage backup restore security sso login token"
)
TEMPLATES = [
    "How do I {a} my {b} with {c}?",
    "When will {a} support {b} and {c}?",
    "Is there a way to get {a} {b} for {c}",
    "Any plans to add {a} {b} to the {c}?",
    "Why does {a} break my {b} when {c} is on?",
    "Can you explain the {a} {b} {c} limits?",
]


def generated_questions(count: int, seed: int = 7) -> list[str]:
    """Distinct questions: template words plus a made-up product name, so no two match."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        words = {k: rng.choice(WORDS) for k in "abc"}
        name = "".join(rng.choice("bcdfghjklmnpqrstvwz") + rng.choice("aeiou") for _ in range(3))
        out.append(rng.choice(TEMPLATES).format(**words) + f" {name} {i}")
    return out


def verdict(ratio: float, target: float) -> str:
    return f"target < {target:g}: {'ok' if ratio < target else 'OVER TARGET'}"


def bench_duplicates(total: int = 100_000) -> None:
    texts = generated_questions(total)
    index = DuplicateIndex()
    times = []
    gc.disable()  # a collection during one block would say nothing about the index
    try:
        for i, text in enumerate(texts):
            began = time.perf_counter()
            index.add(str(i), text)
            times.append(time.perf_counter() - began)
    finally:
        gc.enable()
    first = statistics.mean(times[:1000]) * 1e6
    last = statistics.mean(times[-1000:]) * 1e6
    overall = statistics.mean(times) * 1e6
    print(
        f"DuplicateIndex.add, {total:,} questions: mean {overall:.1f} µs, first 1,000 "
        f"{first:.1f} µs, last 1,000 {last:.1f} µs; {len(index):,} canonical"
    )
    growth = last / first
    print(f"  last 1,000 / first 1,000: {growth:.2f} ({verdict(growth, 3)})")
    began = time.perf_counter()
    dups = sum(index.add(f"d{i}", texts[i].upper() + " ??") is not None for i in range(10_000))
    per = (time.perf_counter() - began) / 10_000 * 1e6
    print(f"  re-adding 10,000 shouted copies: {per:.1f} µs each, {dups:,} merged")


def bench_precheck() -> None:
    text = "x " * 50_000 + "12 34 56"  # six digits after 100,000 characters: nothing to scan
    longer = "x " * 100_000 + "12 34 56"
    one_pass = re.compile(r"\d{7}")  # fails after one look at every character: the baseline
    assert find_sensitive(text) == [] and one_pass.search(text) is None
    runs: dict[str, list[float]] = {"base": [], "once": [], "twice": []}
    for _ in range(15):  # interleaved, so that a busy moment of the machine hits all three
        for name, fn in (
            ("base", lambda: one_pass.search(text)),
            ("once", lambda: find_sensitive(text)),
            ("twice", lambda: find_sensitive(longer)),
        ):
            began = time.perf_counter()
            for _ in range(5):
                fn()
            runs[name].append((time.perf_counter() - began) / 5 * 1e6)
    base, once, twice = (min(runs[name]) for name in ("base", "once", "twice"))
    print(
        f"find_sensitive, 100,000 characters and six digits: {once:.0f} µs, one regex pass "
        f"{base:.0f} µs"
    )
    print(f"  against one pass: {once / base:.2f} ({verdict(once / base, 5)})")
    print(f"  twice the text against once: {twice / once:.2f} ({verdict(twice / once, 3)})")


def bench_rank(total: int = 10_000) -> None:
    rng = random.Random(3)
    now = START + timedelta(minutes=45)
    questions = [
        QuestionFeatures(
            id=f"q{i}",
            likes=rng.randint(0, 50),
            reposts=rng.randint(0, 10),
            duplicates=rng.randint(0, 3),
            first_time=rng.random() < 0.3,
            created_at=START + timedelta(seconds=rng.randint(-3600, 2700)),
            pinned=rng.random() < 0.001,
            flags=frozenset({"troll"}) if rng.random() < 0.05 else frozenset(),
        )
        for i in range(total)
    ]
    weights = Weights()
    top = _per_call(lambda: rank(questions, weights, now, 20, session_start=START), 20) / 1000
    full = _per_call(lambda: rank(questions, weights, now, session_start=START), 20) / 1000
    print(f"rank, {total:,} questions: top 20 {top:.2f} ms, full sort {full:.2f} ms")


def bench_private() -> None:
    from qasession.triage.private import EXAMPLE_PATTERNS, EXAMPLES, NEAR_MISSES

    texts = [e.text for examples in EXAMPLES.values() for e in examples] + list(NEAR_MISSES)
    n = len(texts)
    counter = iter(range(10**9))

    def found() -> None:
        find_sensitive(texts[next(counter) % n], EXAMPLE_PATTERNS)

    def masked() -> None:
        mask_private(texts[next(counter) % n], EXAMPLE_PATTERNS)

    print(
        f"private data, {n} example posts and near-misses: find_sensitive "
        f"{_per_call(found, 5_000):.1f} µs, mask_private {_per_call(masked, 5_000):.1f} µs"
    )


if __name__ == "__main__":
    bench_classify()
    bench_precheck()
    bench_private()
    bench_duplicates()
    bench_rank()
