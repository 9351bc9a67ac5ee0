"""Parsing and linting a plan at the caps, against parsing the demo plan in the same run.

A plan may hold 100 sessions of 50 announcements and 1,000 quiet dates each, in at most 1 MB
(see the README's plan section). This builds one at every cap, with distinct texts, and
prints the best of several rounds of: parsing the demo plan (`sessions.yaml`), parsing the
plan at the caps, and linting it; then the ratio of the plan at the caps (parse + lint) to
the demo plan's parse. Parsing and linting are linear in what the plan holds: the capped plan
has about 330 times the demo's YAML values, and 100,000 quiet dates once `defaults` apply to
every session, so a ratio of a few hundred is what linear looks like (about 440 on an idle
machine here: 0.5 s to parse, 0.06 s to lint).

    python benchmarks/plan.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from qasession.plan import lint_plan, load_plan
from qasession.plan.limits import MAX_ANNOUNCEMENTS, MAX_PLAN_BYTES, MAX_QUIET_DATES, MAX_SESSIONS

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "sessions.yaml"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def plan_at_the_caps() -> str:
    """Every session at the caps; the quiet dates in `defaults`, so every session has them."""
    first_day = date(2027, 1, 4)
    lines = ["defaults:", "  timezone: Europe/Paris", "  account: '@acme'", "  quiet_dates:"]
    for i in range(MAX_QUIET_DATES):
        day = first_day + timedelta(days=i)
        lines.append(f"    - {{date: {day.isoformat()}, note: 'quiet {i}'}}")
    lines.append("sessions:")
    for s in range(MAX_SESSIONS):
        start = datetime(2027, 1, 4, 18, 0) + timedelta(days=7 * s)
        lines += [
            f"  - id: s{s}",
            f"    hashtag: '#AskAcme{s}'",
            f"    start: {start:%Y-%m-%d %H:%M}",
            "    announcements:",
        ]
        for a in range(MAX_ANNOUNCEMENTS):
            lines.append(f"      - {{at: -{a + 1}h, text: 'Ask {{title}} with {{hashtag}}, {a}'}}")
    text = "\n".join(lines) + "\n"
    assert len(text.encode()) <= MAX_PLAN_BYTES, len(text.encode())
    return text


def best(rounds: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        capped = Path(folder) / "capped.yaml"
        capped.write_text(plan_at_the_caps(), encoding="utf-8")
        load_plan(DEMO)  # imports and caches warm for both
        demo = best(args.rounds * 3, lambda: load_plan(DEMO))
        parse = best(args.rounds, lambda: load_plan(capped))
        plan = load_plan(capped)
        lint = best(args.rounds, lambda: lint_plan(plan, NOW))
        size = capped.stat().st_size
    items = sum(len(s.announcements) for s in plan.sessions)
    print(f"demo plan (sessions.yaml)   parse {demo * 1000:8.1f} ms")
    print(
        f"plan at the caps            parse {parse * 1000:8.1f} ms, lint {lint * 1000:8.1f} ms"
        f"  ({len(plan.sessions)} sessions, {items} announcements, {size:,} bytes)"
    )
    print(f"ratio (caps parse + lint) / demo parse: {(parse + lint) / demo:.0f}")


if __name__ == "__main__":
    main()
