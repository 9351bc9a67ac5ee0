"""Team mode under load: seats issuing commands against one session while the loop's ingest
writes a burst of questions, on PostgreSQL with ten seats, against SQLite with one seat (the
baseline, measured in the same run).

Each run: a session with 200 questions already queued; an ingest thread stores a burst of
`--burst` questions (default 5,000) in 100-post pages, as the live loop does; `--seats` seat
threads (each its own connection and actor) claim, release, skip and unskip questions of the
queue as fast as they can; meanwhile a probe seat claims a question every 50 ms and an observer
seat (its own connection, `store.watch.SessionWatch`: LISTEN/NOTIFY on PostgreSQL, a read
every 0.2 s on SQLite as the terminal UI does) waits until it sees that claim. Printed:
command latency (p50/p95 of a seat's claim), view latency (p50/p95 from the probe's claim to
the observer seeing it), ingest throughput (questions/s), and the ratios of PostgreSQL with
ten seats over SQLite with one (target: view p95 under 1 s, the issue's "within a second").

    python benchmarks/team.py [--burst 5000] [--seats 10] [--probes 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support.pg_server

from qasession.errors import UsageError
from qasession.plan import parse_plan
from qasession.platforms.base import Post
from qasession.session.control import Control
from qasession.store import PostRecord, Store
from qasession.store.watch import SessionWatch

POOL = 200  # questions queued before the burst, which the seats work on
PROBED = 50  # the last of them, which only the probe claims (a seat's claim would refuse it)
WATCH_EVERY = 0.2  # the terminal UI's look at other seats on SQLite (tui.app.WATCH_EVERY)


def plan_of(seats: int) -> Any:
    team = [{"name": "host", "role": "host"}, {"name": "probe", "role": "moderator"}] + [
        {"name": f"seat{i}", "role": "moderator"} for i in range(seats + 2)
    ]
    start = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    text = (
        "sessions:\n  - id: t\n    hashtag: '#AskAcme'\n    timezone: UTC\n"
        f"    start: {start}\n    team:\n"
        + "".join(f"      - {{name: {m['name']}, role: {m['role']}}}\n" for m in team)
    )
    return parse_plan(text).get("t")


def records(start: int, count: int) -> list[PostRecord]:
    now = datetime.now(UTC)
    return [
        PostRecord(
            Post(
                id=str(start + i),
                author=f"@user{(start + i) % 997}",
                text=f"Question {start + i}: when does feature {start + i} ship? #AskAcme",
                created_at=now,
                platform="local",
            ),
            "queued",
            is_question=True,
        )
        for i in range(count)
    ]


def ingest(home: Path, first: int, total: int) -> float:
    store = Store.open(home)  # the loop's own connection (SQLite's belong to their thread)
    began = time.perf_counter()
    for page in range(0, total, 100):
        store.save_page("t", records(first + page, min(100, total - page)), str(first + page),
                        seen_at=datetime.now(UTC), source="local")  # fmt: skip
    rate = total / (time.perf_counter() - began)
    store.close()
    return rate


def seat_work(home: Path, session: Any, name: str, stop: threading.Event, out: list[float]) -> None:
    store = Store.open(home)
    control = Control(session, store, actor=name)
    n = int(name.removeprefix("seat")) if name.startswith("seat") else 0
    i = 0
    while not stop.is_set():
        number = 1 + (n * 17 + i) % (POOL - PROBED)  # the probe's questions are its own
        i += 1
        began = time.perf_counter()
        try:
            control.claim(number)
            out.append(time.perf_counter() - began)
            control.release(number)
            if i % 5 == 0:
                control.skip(number)
                control.unskip(number)
        except UsageError:  # a question claimed or skipped by another seat meanwhile
            pass
    store.close()


def probe(home: Path, session: Any, probes: int, sqlite: bool) -> list[float]:
    """Claim, then time until another connection's watch shows that claim."""
    writer, reader = Store.open(home), Store.open(home)
    control = Control(session, writer, actor="probe")
    watch = SessionWatch(reader, "t")
    if not sqlite:
        watch.wait(5.0)  # connected
    times = []
    try:
        for k in range(probes):
            number = POOL - (k % PROBED)
            watch.changed()
            began = time.perf_counter()
            control.claim(number)
            while True:
                seen = (
                    watch.wait(1.0) if not sqlite else (time.sleep(WATCH_EVERY) or watch.changed())
                )
                if seen and any(c.actor == "probe" and c.number == number
                                for c in reader.live_claims("t").values()):  # fmt: skip
                    break
                if time.perf_counter() - began > 10:
                    break
            times.append(time.perf_counter() - began)
            control.release(number)
            time.sleep(0.05)
    finally:
        watch.close()
        writer.close()
        reader.close()
    return times


def run(home: Path, url: str | None, seats: int, burst: int, probes: int) -> dict[str, float]:
    if url:
        os.environ["QA_DATABASE_URL"] = url
    else:
        os.environ.pop("QA_DATABASE_URL", None)
    session = plan_of(seats)
    store = Store.open(home)
    store.ensure_session("t", "#AskAcme", "local")
    store.close()
    ingest(home, 1, POOL)
    stop = threading.Event()
    latencies: list[float] = []
    threads = [
        threading.Thread(target=seat_work, args=(home, session, f"seat{i}", stop, latencies))
        for i in range(seats)
    ]
    for t in threads:
        t.start()
    rate: list[float] = []
    ingester = threading.Thread(target=lambda: rate.append(ingest(home, POOL + 1, burst)))
    ingester.start()
    view = probe(home, session, probes, sqlite=url is None)
    ingester.join()
    stop.set()
    for t in threads:
        t.join()
    q = statistics.quantiles
    return {
        "command_p50": statistics.median(latencies),
        "command_p95": q(latencies, n=20)[-1],
        "view_p50": statistics.median(view),
        "view_p95": q(view, n=20)[-1],
        "ingest": rate[0],
        "commands": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--seats", type=int, default=10)
    parser.add_argument("--probes", type=int, default=40)
    args = parser.parse_args()
    from tests.support.pg_server import running_server

    with tempfile.TemporaryDirectory() as tmp:
        base = run(Path(tmp) / "sqlite", None, 1, args.burst, args.probes)
        with running_server() as server:
            team = run(Path(tmp) / "pg", server.url(server.new_schema()), args.seats,
                       args.burst, args.probes)  # fmt: skip
    for name, r in (("sqlite, 1 seat", base), (f"postgresql, {args.seats} seats", team)):
        print(
            f"{name:>22}: command p50 {r['command_p50'] * 1000:6.1f} ms  p95 "
            f"{r['command_p95'] * 1000:6.1f} ms | view p50 {r['view_p50'] * 1000:6.1f} ms  p95 "
            f"{r['view_p95'] * 1000:6.1f} ms | ingest {r['ingest']:8,.0f} questions/s "
            f"({r['commands']:,.0f} commands)"
        )
    print(
        f"ratios (postgresql/{args.seats} seats over sqlite/1 seat): ingest "
        f"{team['ingest'] / base['ingest']:.2f}, view p95 "
        f"{team['view_p95'] / base['view_p95']:.2f}, command p95 "
        f"{team['command_p95'] / base['command_p95']:.2f}; view p95 under 1 s: "
        f"{'yes' if team['view_p95'] < 1 else 'NO'}"
    )


if __name__ == "__main__":
    main()
