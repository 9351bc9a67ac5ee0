"""Two loops on one session in a team's PostgreSQL database: the holder is killed (SIGKILL)
with an answer on its way, the standby takes over within seconds and finishes the session;
every post goes out once, none is lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qasession.plan import load_plan
from qasession.platforms.local import LocalNetwork
from qasession.session.control import Control
from qasession.store import Store
from tests.conftest import ROOT, qa, write_plan

Event = dict[str, Any]


class Loop:
    """`qa run --headless` in the background, its events and messages collected as they come."""

    def __init__(self, plan: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qasession", "run", "--headless", "--poll-floor", "1",
             "--tail", "0", "-f", str(plan), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
            cwd=ROOT,
        )  # fmt: skip
        self.events: list[Event] = []
        self.messages: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for stream, sink in ((self.proc.stdout, self.events), (self.proc.stderr, self.messages)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _read(stream: Any, sink: list[Any]) -> None:
        for line in stream:
            sink.append(json.loads(line) if line.startswith("{") else line.strip())

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline or (self.proc.poll() is not None and not check()):
                self.proc.kill()
                raise AssertionError(f"{what}: not seen; events {self.events}; {self.messages}")
            time.sleep(0.05)

    def posted(self, kind: str) -> bool:
        return any(e["event"] == "posted" and e["kind"] == kind for e in list(self.events))


def queued(plan: Path) -> dict[str, int]:
    """Question text -> its number, as any seat lists the queue."""
    listed = qa("queue", "--json", "-f", str(plan))
    assert listed.returncode == 0, listed.stderr
    return {q["text"]: q["id"] for q in json.loads(listed.stdout)}


def answer(plan: Path, number: int, text: str) -> None:
    result = qa("answer", str(number), text, "-f", str(plan), env={"QA_ACTOR": "seat"})
    assert result.returncode == 0, result.stderr


def wait_queued(plan: Path, text: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = queued(plan)
        if text in found:
            return found[text]
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never queued")


class LeaseWatch:
    """Who holds the session's lease, looked at every 20 ms from a connection of its own."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.samples: list[int | str | None] = []  # holders' pids, and marks
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        store = Store.open(Path(os.environ["QA_HOME"]))
        try:
            while not self._stop.wait(0.02):
                lease = store.lease(self.session_id)
                self.samples.append(None if lease is None else int(lease["pid"]))
        finally:
            store.close()

    def mark(self, name: str) -> None:
        self.samples.append(name)

    def holders(self) -> list[int]:
        """The holders in turn (one entry per holding)."""
        turns: list[int] = []
        for pid in self.samples:
            if isinstance(pid, int) and (not turns or turns[-1] != pid):
                turns.append(pid)
        return turns

    def pids_before(self, mark: str) -> set[int]:
        return {p for p in self.samples[: self.samples.index(mark)] if isinstance(p, int)}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_standby_finishes_a_session_whose_holder_was_killed(
    pg_url: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setenv("QA_DATABASE_URL", pg_url)
    start = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")  # started this minute
    plan = write_plan(tmp_path / "sessions.yaml", start=start, duration="60m")
    network = LocalNetwork(home)
    texts = [f"What about feature {n}? #AskAcme" for n in range(1, 4)]
    for n, text in enumerate(texts):
        network.add(author=f"@asker{n + 1}", text=text, created_at=datetime.now(UTC))
    holder = Loop(plan)
    standby: Loop | None = None
    seen = LeaseWatch(load_plan(plan).get(None).id)
    try:
        holder.wait("the holder's opening", lambda: holder.posted("opening"))
        standby = Loop(plan, "--standby")
        waiting = standby
        waiting.wait("standing by", lambda: any("standing by" in m for m in waiting.messages))
        numbers = {text: wait_queued(plan, text) for text in texts}
        answer(plan, numbers[texts[0]], "Shipped last week.")
        holder.wait("the first answer", lambda: holder.posted("answer"))
        answer(plan, numbers[texts[1]], "Next month.")
        time.sleep(random.Random(seed).uniform(0, 0.6))  # anywhere in the second answer
        holder.proc.send_signal(signal.SIGKILL)
        holder.proc.wait(timeout=30)
        killed_at = time.monotonic()
        seen.mark("killed")
        waiting.wait("the take-over", lambda: any(e["event"] == "started" for e in waiting.events))
        assert time.monotonic() - killed_at < 10, "the standby took over within seconds"
        assert any(f"pid {holder.proc.pid}" in m for m in waiting.messages), waiting.messages
        network.add(author="@late", text="One more? #AskAcme", created_at=datetime.now(UTC))
        answer(plan, numbers[texts[2]], "Yes.")
        answer(plan, wait_queued(plan, "One more? #AskAcme"), "Sure.")
        session = load_plan(plan).get(None)
        Control(session, Store.open(home), actor="host").close()
        assert waiting.proc.wait(timeout=90) == 0, waiting.messages
    finally:
        seen.close()
        for loop in (holder, standby):
            if loop is not None and loop.proc.poll() is None:
                loop.proc.kill()
    assert any(e["event"] == "ended" for e in waiting.events)
    holders = seen.holders()
    assert holders == [holder.proc.pid, waiting.proc.pid], f"the lease went {holders}"
    assert waiting.proc.pid not in seen.pids_before("killed"), "never held by two at once"
    mine = [p for p in network.timeline() if p.author == "@acme"]
    words = [p.text for p in mine if p.kind != "repost"]
    assert len(words) == len(set(words)), f"a post went out twice: {words}"
    for said in ("Shipped last week.", "Next month.", "Yes.", "Sure."):
        assert sum(said in w for w in words) == 1, f"{said!r} not posted exactly once: {words}"
    reposted = [p.ref for p in mine if p.kind == "repost"]
    assert len(reposted) == len(set(reposted)) == 4, "each question reposted once"
    opening, closing = session.opening, session.closing
    assert opening is not None and closing is not None
    assert sum(w.startswith(opening.text[:20]) for w in words) == 1, "one opening"
    store = Store.open(home)
    assert store.lease(session.id) is None, "the standby let the session go at the end"
    assert not store.outbox(session.id, ("intent", "sending", "uncertain", "failed"))
    stored = [r["text"] for r in store.posts(session.id)]
    assert sorted(stored) == sorted([*texts, "One more? #AskAcme"]), "every question, once"
