"""`qa queue` at any size: the terminal page and the streamed `--json` listing of a store
holding 88,000 open questions, against the Typer floor and a store of a tenth of that.

Builds the store with the store API (pages of 1,000 questions: likes, reposts, merged
duplicates, first-time askers, a tenth asked ahead of the start, some flagged), then runs the
real `qa` command in alternating rounds and prints, for each listing, the median wall time
and the peak memory (its VmHWM, read from /proc while it runs: Linux only), as ratios: time
to the bare Typer floor (`--help`) and memory to the same listing on the small store (flat
memory: about 1).
Targets at 88,000 questions: `qa queue` (the default page) < 1 s, `qa queue --json` < 2 s.
It also checks that the streamed listing holds every queued question once, in rank order.

    python benchmarks/queue_listing.py [--questions 88000] [--runs 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qasession.platforms.base import Post
from qasession.store import PostRecord, Store

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QA_SHARED_DIR") or ROOT.parent / "shared")
FLOOR = SHARED / "bench" / "typer_floor.py"
TARGETS = {"queue": 1.0, "queue --json": 2.0}  # seconds, at 88,000 questions
TOPICS = ["the API", "pricing", "offline mode", "webhooks", "SSO", "the roadmap", "dark mode"]


def build_store(home: Path, questions: int, start: datetime, seed: int = 1) -> float:
    """`questions` open questions of session `bench`, written 1,000 to a transaction."""
    rng = random.Random(seed)
    store = Store.open(home)
    store.ensure_session("bench", "#AskAcme", "local")
    began = time.perf_counter()
    for offset in range(0, questions, 1000):
        records = []
        for i in range(offset, min(questions, offset + 1000)):
            ahead = rng.random() < 0.1  # asked ahead: all age from the start (ties)
            created = (
                start - timedelta(hours=rng.random() * 48)
                if ahead
                else start + timedelta(seconds=rng.random() * 1800)
            )
            post = Post(
                id=str(10**9 + i),
                author=f"@user{rng.randrange(questions // 3 + 1)}",
                text=f"How do I use {rng.choice(TOPICS)} with plan {rng.randrange(10**4)}? "
                "#AskAcme",
                created_at=created,
                likes=rng.randrange(20),
                reposts=rng.randrange(4),
                platform="local",
            )
            roll = rng.random()
            flags = frozenset({"sensitive"} if roll < 0.02 else {"troll"} if roll < 0.04 else ())
            records.append(
                PostRecord(
                    post, "queued", is_question=True, flags=flags, first_time=rng.random() < 0.5
                )
            )
        store.save_page("bench", records, None, seen_at=start)
    store.db.execute(
        "UPDATE posts SET duplicates = abs(random()) % 4 WHERE session_id = 'bench' "
        "AND abs(random()) % 5 = 0"
    )
    store.db.commit()
    store.close()
    return time.perf_counter() - began


def _peak_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM: its own, from exec on; the rusage of
    a child also counts the parent it was forked from)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """Wall seconds, peak resident MB and stdout of one run."""
    began = time.perf_counter()
    peak = 0.0
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=env)
        while child.poll() is None:
            peak = max(peak, _peak_mb(child.pid) or 0.0)
            time.sleep(0.002)
        elapsed = time.perf_counter() - began
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed with {child.returncode}")
        out.seek(0)
        return elapsed, peak, out.read()


def check_stream(listing: bytes, questions: int) -> None:
    rows = json.loads(listing)
    assert len(rows) == questions, f"{len(rows)} rows streamed, {questions} queued"
    assert len({row["id"] for row in rows}) == questions, "a question streamed twice"
    assert [row["rank"] for row in rows] == list(range(1, questions + 1))
    scores = [row["score"] for row in rows]
    assert all(a >= b for a, b in itertools.pairwise(scores)), "not in rank order"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=88_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not FLOOR.exists():
        raise SystemExit(f"the floor app is missing: {FLOOR} (set QA_SHARED_DIR)")
    folder = Path(tempfile.mkdtemp(prefix="qa-queue-bench-"))
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    plan = folder / "sessions.yaml"
    plan.write_text(
        "sessions:\n  - {id: bench, account: '@acme', hashtag: '#AskAcme', timezone: UTC, "
        f"start: '{start:%Y-%m-%d %H:%M}', duration: 60m}}\n",
        encoding="utf-8",
    )
    small = max(1, args.questions // 10)
    homes = {"large": folder / "large", "small": folder / "small"}
    built = build_store(homes["large"], args.questions, start)
    build_store(homes["small"], small, start)
    print(f"store               {args.questions:,} open questions written in {built:.1f} s")

    env = {**os.environ, "QA_FILE": str(plan)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled modules cached, as on a user's machine
    qa = [sys.executable, "-m", "qasession"]
    listings = {"queue": ["queue"], "queue --limit 20": ["queue", "--limit", "20"]}
    listings["queue --json"] = ["queue", "--json"]
    cases = [("floor", "large", [sys.executable, str(FLOOR), "--help"])]
    for size in ("large", "small"):
        cases += [(name, size, [*qa, *argv]) for name, argv in listings.items()]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for round_number in range(args.runs + 1):  # the first round warms the caches
        for name, size, command in cases:
            elapsed, peak, out = timed(command, {**env, "QA_HOME": str(homes[size])})
            if round_number == 0 and name == "queue --json":
                check_stream(out, args.questions if size == "large" else small)
            elif round_number > 0:
                results.setdefault((name, size), []).append((elapsed, peak))

    def median(name: str, size: str, index: int) -> float:
        return statistics.median(r[index] for r in results[(name, size)])

    floor = median("floor", "large", 0)
    print(f"typer floor --help  {floor * 1000:8.1f} ms  {median('floor', 'large', 1):6.1f} MB")
    for name in listings:
        took, peak = median(name, "large", 0), median(name, "large", 1)
        target = TARGETS.get(name)
        verdict = "" if target is None else (
            f"; target < {target:g} s: {'ok' if took < target else 'OVER TARGET'}"
        )  # fmt: skip
        print(
            f"qa {name:<17}{took * 1000:8.1f} ms  {peak:6.1f} MB  ratio {took / floor:5.2f} to "
            f"the floor, memory {peak / median(name, 'small', 1):.2f} of {small:,} "
            f"questions{verdict}"
        )
    print(f"(medians of {args.runs} rounds; the streamed listing checked: every question once, "
          "in rank order)")  # fmt: skip


if __name__ == "__main__":
    main()
