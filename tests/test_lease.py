"""One live loop per session: a second `qa run` is refused naming the holder; a dead holder's
lease is taken over; reading and answering work while a run holds the session."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qasession.errors import SessionBusy
from qasession.platforms.local import LocalNetwork
from qasession.session.lease import STALE_AFTER, SessionLease
from qasession.store import Store
from tests.conftest import ROOT, qa, write_plan

pytestmark = pytest.mark.usefixtures("engine")  # each test on SQLite and on PostgreSQL


def start_run(plan: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "qasession", "run", "--headless", "-f", str(plan)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        cwd=ROOT,
    )


def first_event(proc: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, object]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the run did not start"
    return json.loads(proc.stdout.readline())  # type: ignore[no-any-return]


@pytest.fixture
def live_plan(tmp_path: Path) -> Path:
    start = datetime.now(UTC) + timedelta(minutes=30)
    return write_plan(tmp_path / "sessions.yaml", start=start.strftime("%Y-%m-%d %H:%M"))


def test_a_second_run_is_refused_and_a_killed_one_is_taken_over(
    live_plan: Path, home: Path
) -> None:
    holder = start_run(live_plan)
    try:
        assert first_event(holder)["event"] == "started"
        second = qa("run", "--headless", "-f", str(live_plan), timeout=60)
        assert second.returncode == 6, second.stderr
        line = second.stderr.strip().splitlines()[-1]
        assert f"qa run pid {holder.pid}" in line and "already running" in line
        assert "Traceback" not in second.stderr
        # reading and answering need no lease
        LocalNetwork(home).add(
            author="@alice", text="How do I export? #AskAcme", created_at=datetime.now(UTC)
        )
        deadline = time.monotonic() + 30
        queue: list[dict[str, object]] = []
        while not queue and time.monotonic() < deadline:
            queue = json.loads(qa("queue", "--json", "-f", str(live_plan)).stdout)
            time.sleep(0.2)
        assert queue, "the holder's loop collected the question"
        answer = qa("answer", str(queue[0]["id"]), "Settings > Export.", "-f", str(live_plan))
        assert answer.returncode == 0, answer.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    taker = start_run(live_plan)
    try:
        assert first_event(taker)["event"] == "started"
        assert taker.stderr is not None
    finally:
        taker.send_signal(signal.SIGTERM)
        _, err = taker.communicate(timeout=60)
    assert "took the session over" in err and str(holder.pid) in err
    assert taker.returncode == 130  # interrupted: state saved
    assert Store.open(home).lease("t") is None, "a run that stops lets the session go"


def test_a_lease_is_taken_only_from_the_dead(home: Path) -> None:
    store = Store.open(home)
    store.ensure_session("s", "#AskAcme", "local")
    first, second = SessionLease("s"), SessionLease("s")
    first.acquire(store)
    with pytest.raises(SessionBusy, match="already running"):
        second.acquire(store)
    # a holder on another machine whose heartbeat stopped is dead after STALE_AFTER
    old = (datetime.now(UTC) - STALE_AFTER - timedelta(seconds=1)).isoformat()
    store.db.execute("UPDATE leases SET host = 'elsewhere', heartbeat_at = ?", (old,))
    second.acquire(store)
    assert second.taken_over is not None and second.taken_over["host"] == "elsewhere"
    first._last_beat = None
    with pytest.raises(SessionBusy, match="lost the session's lease"):
        first.beat(store)
