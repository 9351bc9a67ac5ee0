"""Hostile post texts come out inert in headless events and in every listing (bytes checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qasession.platforms.local import LocalNetwork
from tests.conftest import ROOT, qa, write_plan

HOSTILE = [
    "\x1b[31mred alert\x1b[0m? #AskAcme",
    "Why click \x1b]8;;http://evil.example\x07here\x1b]8;;\x07 #AskAcme",
    "\x1b]52;c;ZWNobyBoYWNrZWQ=\x07clipboard? #AskAcme",
    "\x1b]0;new window title\x07why? #AskAcme",
    "[red]markup[/red] [link=http://evil.example]x[/link] why not? #AskAcme",
    "bidi \u202egnp.exe\u202c trick? #AskAcme",
    "zero\u200bwidth\u200d\u2060joiners? #AskAcme",
    "\x9b31m C1 control? \x85 #AskAcme",
    "Why " + "a" * 10_000 + "? #AskAcme",
]
FORBIDDEN = ["\x1b", "\x9b", "\x85", "\x07", "\u202e", "\u202c", "\u200b", "\u200d", "\u2060"]


def seed(home: Path) -> None:
    network = LocalNetwork(home)
    for i, text in enumerate(HOSTILE):
        network.add(author=f"@evil{i}", text=text, created_at=datetime.now(UTC))


def assert_inert(output: str) -> None:
    for char in FORBIDDEN:
        assert char not in output, f"{char!r} leaked"


def test_headless_events_are_inert(tmp_path: Path, home: Path) -> None:
    seed(home)
    start = datetime.now(UTC) - timedelta(minutes=59, seconds=50)
    plan = write_plan(
        tmp_path / "p.yaml", start=start.strftime("%Y-%m-%d %H:%M:%S"), after_party=False
    )
    result = subprocess.run(
        [sys.executable, "-m", "qasession", "run", "--headless", "-f", str(plan), "--tail", "0",
         "--poll-floor", "1"],
        capture_output=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    raw = result.stdout.decode("ascii")  # ASCII-only JSON: decoding itself proves it
    assert_inert(raw)
    events = [json.loads(line) for line in raw.splitlines()]
    questions = [e for e in events if e["event"] == "question"]
    assert len(questions) == len(HOSTILE)
    for event in questions:
        assert_inert(event["text"])
        assert len(event["text"]) <= 1000
    assert any("[red]markup[/red]" in e["text"] for e in questions)


def test_listings_are_inert(tmp_path: Path, home: Path) -> None:
    seed(home)
    start = datetime.now(UTC) + timedelta(minutes=50)
    plan = write_plan(tmp_path / "p.yaml", start=start.strftime("%Y-%m-%d %H:%M"))
    assert qa("plan", "--post", "-f", str(plan)).returncode == 0  # collects the posts
    for args in (
        ["queue"],
        ["local", "timeline"],
        ["queue", "--json"],
        ["local", "timeline", "--json"],
    ):
        result = qa(*args, "-f", str(plan))
        assert result.returncode == 0, result.stderr
        assert_inert(result.stdout)
        if "--json" not in args:
            assert "[red]markup" in result.stdout  # markup shown literally, not applied
