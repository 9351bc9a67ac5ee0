"""Hostile post texts come out inert in headless events and in every listing: the text as
shown, and every string of the JSON once decoded."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qasession.platforms.local import LocalNetwork
from tests.conftest import ROOT, qa, write_plan
from tests.support.inert import assert_inert, assert_json_inert

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


def seed(home: Path) -> None:
    network = LocalNetwork(home)
    for i, text in enumerate(HOSTILE):
        network.add(author=f"@evil{i}", text=text, created_at=datetime.now(UTC))


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
    assert_json_inert(raw, lines=True)  # and what it says, every string of every event
    events = [json.loads(line) for line in raw.splitlines()]
    questions = [e for e in events if e["event"] == "question"]
    assert len(questions) == len(HOSTILE)
    for event in questions:
        assert len(event["text"]) <= 1000
    assert any("[red]markup[/red]" in e["text"] for e in questions)


@pytest.fixture
def listing(tmp_path: Path, home: Path) -> Callable[..., str]:
    """Runs a listing command on a home that holds the hostile posts; returns its stdout."""
    seed(home)
    start = datetime.now(UTC) + timedelta(minutes=50)
    plan = write_plan(tmp_path / "p.yaml", start=start.strftime("%Y-%m-%d %H:%M"))
    assert qa("plan", "--post", "-f", str(plan)).returncode == 0  # collects the posts

    def run(*args: str) -> str:
        result = qa(*args, "-f", str(plan))
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


def test_listings_are_inert(listing: Callable[..., str]) -> None:
    for args in (["queue"], ["local", "timeline"]):
        shown = listing(*args)
        assert_inert(shown)
        assert "[red]markup" in shown  # markup shown literally, not applied


# The JSON listings make every text inert too: a script that reads them (`jq -r .[].text`)
# must not get ESC sequences, bidi overrides or zero-width characters back.


@pytest.mark.parametrize(
    "args",
    [
        ["queue", "--json"],
        ["local", "timeline", "--json"],
    ],
    ids=["queue", "local timeline"],
)
def test_json_listings_are_inert_once_decoded(listing: Callable[..., str], args: list[str]) -> None:
    assert_json_inert(listing(*args))
