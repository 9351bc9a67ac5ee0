"""Shared fixtures: every test gets its own home (QA_HOME) and never touches the real one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.support.pg_server"]  # pg_server, pg_url: a real PostgreSQL


@pytest.fixture(autouse=True)
def qa_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("qa-home")
    monkeypatch.setenv("QA_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("user-home")))
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)  # they would lead back into the real home
    monkeypatch.setenv("QA_WIDTH", "120")
    monkeypatch.delenv("QA_FILE", raising=False)
    monkeypatch.delenv("QA_CRASH_AT", raising=False)
    monkeypatch.delenv("QA_REHEARSAL", raising=False)
    monkeypatch.delenv("QA_ACTOR", raising=False)
    monkeypatch.delenv("QA_SESSION", raising=False)
    monkeypatch.delenv("QA_DATABASE_URL", raising=False)  # a test's store is SQLite unless
    from qasession.store import engine  # it asks for `engine` (below)

    monkeypatch.setattr(engine, "_chosen", [])  # no --db left from an in-process command
    for name in list(os.environ):
        if name.startswith("X_") or name.startswith("MASTODON_") or name.startswith("BLUESKY_"):
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def home(qa_env: Path) -> Path:
    return qa_env


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test runs twice: on the home's SQLite file, and on a PostgreSQL store of its own
    (QA_DATABASE_URL, which every Store it opens, and every `qa` it runs, follows)."""
    if request.param == "postgresql":
        monkeypatch.setenv("QA_DATABASE_URL", request.getfixturevalue("pg_url"))
    return str(request.param)


def write_plan(path: Path, **session: Any) -> Path:
    """A one-session plan; `start` defaults to an hour from now (UTC)."""
    base: dict[str, Any] = {
        "id": "t",
        "title": "Test session",
        "account": "@acme",
        "hashtag": "#AskAcme",
        "timezone": "UTC",
        "start": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "duration": "60m",
    }
    base.update(session)
    path.write_text(yaml.safe_dump({"sessions": [base]}, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan(tmp_path / "sessions.yaml")


def qa(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m qasession ARGS` in a subprocess (the real entry point)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    # crash points are armed by a test double, never by the installed package
    module = "qasession"
    if full_env.get("QA_CRASH_AT"):
        module = "tests.support.crash"
        full_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), full_env.get("PYTHONPATH")])
        )
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        input=input,
    )


@pytest.fixture
def cli() -> Iterator[Any]:
    yield qa
