"""Crash test: SIGKILL `qa run --headless` at 20 points of a rehearsal and restart each time."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from qasession.platforms.local import LocalNetwork
from qasession.store import Store
from tests.conftest import ROOT, qa

POINTS = ["before-send", "after-send", "before-save", "after-save"]
RUN = [
    sys.executable, "-m", "tests.support.crash",  # qa, with crash points armed
    "run", "--headless", "--simulate", "examples/crowd.yaml", "--speed", "20",
    "--start-now", "--tail", "2", "--seed", "5",
]  # fmt: skip


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        RUN, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
    )


def next_line(proc: subprocess.Popen[bytes], wait: float) -> bytes:
    """The run's next event line (b"" if it died, or printed nothing for `wait` seconds), read
    byte by byte so that communicate() still gets the rest."""
    assert proc.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], wait)
        byte = os.read(proc.stdout.fileno(), 1) if ready else b""
        if not byte:
            break
        line += byte
    return line


def test_sigkill_at_twenty_points(home: Path) -> None:
    # The session runs on the wall clock (at --speed 20, 62 minutes take about 190 s): the 20
    # kills and restarts must all fit in it, also when a loaded machine takes seconds per start.
    rng = random.Random(20261203)
    # the demo session, whatever today's date (once it is past, the plan's next is the default)
    base = {**os.environ, "QA_SESSION": "askacme-dec"}
    issued: dict[str, str] = {}
    kills = 0
    ended = False
    for attempt in range(40):
        if kills == 20:
            break
        env = dict(base)
        if attempt % 2 == 0:  # at a named point: between repost and answer, page and cursor...
            env["QA_CRASH_AT"] = f"{rng.choice(POINTS)}:{rng.randint(1, 3)}"
        proc = start(env)
        # The random moments count from the run's first work (a page stored, a post sent) after
        # `started`: on a loaded machine (the tests run on every core) a start can take seconds,
        # and kills that all fall in it would leave the session with nothing done.
        out = next_line(proc, 60)
        out += next_line(proc, 2)
        try:  # ...or at a random moment of the live loop
            out += proc.communicate(timeout=rng.uniform(0.0, 1.2))[0]
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            out += proc.communicate(timeout=60)[0]
        kills += proc.returncode == -signal.SIGKILL
        ended = ended or b'"event":"ended"' in out
        if len(issued) < 3:
            queue = json.loads(qa("--rehearsal", "queue", "--json", env=base).stdout)
            for row in queue:
                if len(issued) < 3 and row["post_id"] not in issued and not row["flags"]:
                    text = f"Answer number {len(issued) + 1}"
                    answer = qa("--rehearsal", "answer", str(row["id"]), text, env=base)
                    assert answer.returncode == 0, answer.stderr
                    issued[row["post_id"]] = text
        if ended:
            break
    assert kills == 20, f"only {kills} kills before the session ended"
    final = start(dict(base))
    out, _ = final.communicate(timeout=300)
    assert final.returncode == 0 and b'"event":"ended"' in out

    network = LocalNetwork(home / "rehearsal")  # a rehearsal keeps its state apart
    timeline = network.timeline()
    store = Store.open(home / "rehearsal")
    stored = Counter(row["id"] for row in store.posts("askacme-dec"))
    crowd = [p for p in timeline if p.author != "@acme" and p.kind != "dm"]
    not_once = {p.id: stored[p.id] for p in crowd if stored[p.id] != 1}
    assert crowd and not not_once, f"every crowd post stored once, not {not_once}"
    keys = [
        row[0]
        for row in network.db.execute("SELECT client_key FROM posts WHERE client_key IS NOT NULL")
    ]
    assert len(keys) == len(set(keys))
    mine = [p for p in timeline if p.author == "@acme"]
    reposts = Counter(p.ref for p in mine if p.kind == "repost")
    assert set(reposts.values()) <= {1}, "no repost duplicated"
    texts = Counter(p.text for p in mine if p.kind != "repost")
    assert set(texts.values()) == {1}, texts
    assert len(issued) == 3
    for question_id, text in issued.items():
        asker = network.get(question_id).author
        assert texts[f".{asker} {text} #AskAcme"] == 1
        assert reposts[question_id] == 1
    assert any("That's all for today" in t for t in texts)
