"""Plans on Bluesky: `qa init --platform bluesky` writes one that works, and the lints count
300 graphemes and ask announcements to invite a mention of the host (by capabilities)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from qasession.plan import load_plan
from qasession.plan.lints import lint_plan
from qasession.plan.template import render_init
from qasession.platforms.bluesky import BlueskyPlatform
from tests.conftest import qa, write_plan
from tests.support.bluesky_fake import FakeBluesky

NOW = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)


def test_init_writes_a_bluesky_plan_that_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sessions.yaml"
    path.write_text(render_init("#AskAcme", None, "bluesky", now=NOW), encoding="utf-8")
    plan = load_plan(path)
    session = plan.sessions[0]
    assert session.platform == "bluesky"
    assert session.platform_settings == {"service": "https://bsky.social"}
    assert lint_plan(plan, NOW) == []
    fake = FakeBluesky()
    monkeypatch.setenv("BLUESKY_HANDLE", fake.host.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", fake.host.password)
    platform = BlueskyPlatform(
        session.platform_settings, home=tmp_path, account=session.account,
        transport=fake.transport,
    )  # fmt: skip
    assert platform.me() == "@" + fake.host.handle


def _codes(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for lint in lint_plan(load_plan(path), NOW):
        found.setdefault(lint.code, []).append(lint.message)
    return found


def test_texts_over_300_graphemes_are_flagged(tmp_path: Path) -> None:
    family = "👨‍👩‍👧‍👦"  # one grapheme of 25 bytes
    fits = write_plan(
        tmp_path / "fits.yaml", platform="bluesky", opening={"text": family * 100 + " #AskAcme"}
    )
    assert "too-long" not in _codes(fits)  # 109 graphemes, 2,509 bytes
    heavy = write_plan(
        tmp_path / "heavy.yaml", platform="bluesky", opening={"text": family * 120 + " #AskAcme"}
    )
    assert "3009 > 3000 bytes" in _codes(heavy)["too-long"][0]  # only 129 graphemes
    over = write_plan(
        tmp_path / "a.yaml", platform="bluesky", opening={"text": "a" * 300 + " #AskAcme"}
    )
    (message,) = _codes(over)["too-long"]
    assert "309 > 300" in message


def test_announcements_should_invite_a_mention_of_the_host(tmp_path: Path) -> None:
    silent = write_plan(tmp_path / "silent.yaml", platform="bluesky", account="@acme.bsky.social")
    (message,) = _codes(silent)["no-mention-ask"]
    assert "@acme.bsky.social" in message
    invited = write_plan(
        tmp_path / "invited.yaml",
        platform="bluesky",
        account="@acme.bsky.social",
        announcements=[{"at": "-1d", "text": "Tomorrow: ask with {hashtag} or mention {account}"}],
    )
    assert "no-mention-ask" not in _codes(invited)
    local = write_plan(tmp_path / "local.yaml", platform="local", account="@acme")
    assert "no-mention-ask" not in _codes(local)


def test_doctor_shows_did_and_handle_without_credentials_exit_4(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "p.yaml", platform="bluesky", bluesky={"service": "http://127.0.0.1:9"}
    )
    result = qa("doctor", "-f", str(plan))
    assert result.returncode == 4
    assert "BLUESKY_HANDLE" in result.stdout and "BLUESKY_APP_PASSWORD" in result.stdout
    run = qa("run", "--headless", "-f", str(plan))
    assert run.returncode == 4 and run.stderr.count("\n") == 1
    assert "BLUESKY_HANDLE" in run.stderr


def test_doctor_against_the_fake(tmp_path: Path) -> None:
    import json

    fake = FakeBluesky()
    env = {"BLUESKY_HANDLE": fake.host.handle, "BLUESKY_APP_PASSWORD": fake.host.password}
    with fake.serve() as url:
        plan = write_plan(tmp_path / "p.yaml", platform="bluesky", account="@" + fake.host.handle,
                          bluesky={"service": url})  # fmt: skip
        result = qa("doctor", "--json", "-f", str(plan), env=env)
    assert result.returncode == 0, result.stderr
    checks = {c["check"]: c["detail"] for c in json.loads(result.stdout)}
    assert checks["DID"] == fake.host.did
    assert checks["handle"] == "@" + fake.host.handle
    assert fake.host.password not in result.stdout + result.stderr
