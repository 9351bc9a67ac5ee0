"""Answer latency: from `qa answer` in one shell to the repost and the answer on the local
platform, while `qa run --headless` runs the session in another (issue target: median < 0.5 s).

The baseline, measured in the same run, is `qa --version`: the cost of starting a `qa` process
at all. The figure that matters is the latency; the ratio says how much of it is more than
starting the `qa answer` process itself.

    python benchmarks/latency.py [--answers 9]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.5


def qa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qasession", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip


def host_posts(home: Path) -> int:
    db = sqlite3.connect(home / "local-platform.db")
    try:
        (count,) = db.execute("SELECT count(*) FROM posts WHERE author = '@acme'").fetchone()
    finally:
        db.close()
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=9)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="qa-latency-"))
    plan = home / "sessions.yaml"
    start = datetime.now(UTC) - timedelta(minutes=1)
    plan.write_text(
        "sessions:\n  - {id: bench, account: '@acme', hashtag: '#AskAcme', timezone: UTC, "
        f"start: '{start:%Y-%m-%d %H:%M}', duration: 60m, after_party: false}}\n",
        encoding="utf-8",
    )
    # as on a user's machine: compiled modules are cached (some CI images switch that off)
    env = {**os.environ, "QA_HOME": str(home), "QA_FILE": str(plan)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for i in range(args.answers):
        qa("local", "post", "--as", f"@fan{i}", f"Question number {i}? #AskAcme", env=env)
    run = subprocess.Popen(
        [sys.executable, "-m", "qasession", "run", "--headless", "--poll-floor", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        assert run.stdout is not None
        select.select([run.stdout], [], [], 60)
        queue: list[dict[str, object]] = []
        while len(queue) < args.answers:
            time.sleep(0.2)
            queue = json.loads(qa("queue", "--json", env=env).stdout)
        time.sleep(2)  # the opening is out; the loop waits for its next poll
        latencies, commands, floors = [], [], []
        for row in queue[: args.answers]:
            before = host_posts(home)
            began = time.perf_counter()
            qa("answer", str(row["id"]), "Here is how.", env=env)
            commands.append(time.perf_counter() - began)
            while host_posts(home) < before + 2:  # the repost and the answer
                time.sleep(0.005)
            latencies.append(time.perf_counter() - began)
            floor_began = time.perf_counter()
            qa("--version", env=env)
            floors.append(time.perf_counter() - floor_began)
            time.sleep(0.5)
    finally:
        run.terminate()
        run.wait(timeout=30)
    latency, command, floor = (statistics.median(v) for v in (latencies, commands, floors))
    print(f"qa answer -> both posts sent   median {latency * 1000:7.1f} ms over {len(latencies)}")
    print(f"qa answer (the command)        median {command * 1000:7.1f} ms")
    print(f"qa --version (baseline)        median {floor * 1000:7.1f} ms")
    print(f"latency / baseline             {latency / floor:.2f}")
    verdict = "ok" if latency < TARGET else "OVER TARGET"
    print(f"target: median latency < {TARGET * 1000:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
