"""What a new user stumbled on, kept fixed: lints of every session, clear refusals, labels."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import ROOT, qa


def two_sessions(path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "sessions": [
                    {
                        "id": "a",
                        "hashtag": "#AskAcme",
                        "start": "2027-02-10 12:30",
                        "timezone": "UTC",
                    },
                    {
                        "id": "b",
                        "hashtag": "#AskAcme",
                        "start": "2027-02-10 12:50",
                        "timezone": "UTC",
                    },
                ]
            }
        )
    )
    return path


def test_plan_lints_every_session_by_default(tmp_path: Path) -> None:
    plan = two_sessions(tmp_path / "two.yaml")
    shown = qa("plan", "-f", str(plan))
    assert "[overlap]" in shown.stderr
    assert qa("plan", "--strict", "-f", str(plan)).returncode == 3
    only_a = json.loads(qa("plan", "a", "--json", "-f", str(plan)).stdout)
    assert "overlap" not in {lint["code"] for lint in only_a["lints"]}


def test_relative_times_follow_the_wall_clock_across_summer_time(tmp_path: Path) -> None:
    plan = tmp_path / "dst.yaml"
    plan.write_text(
        "sessions:\n  - {hashtag: '#AskAcme', start: 2027-03-28 18:00, timezone: Europe/Paris}\n"
    )
    data = json.loads(qa("plan", "--json", "-f", str(plan)).stdout)
    assert [i["relative"] for i in data["timeline"][:3]] == ["-3d", "-1d", "-1h"]


def test_version_and_clear_refusals(tmp_path: Path, plan_path: Path) -> None:
    version = qa("--version")
    assert version.returncode == 0 and version.stdout.startswith("qa 0.")
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    home = qa("plan", "--home", str(a_file), "-f", str(plan_path))
    assert home.returncode == 3 and "is a file" in home.stderr
    state = qa("outbox", "--state", "bogus", "-f", str(plan_path))
    assert state.returncode == 2 and "use one of: intent" in state.stderr
    from qasession.platforms import registry

    for name in [n for n in registry.BUILTIN if n not in registry.available()]:
        init = qa("init", "--platform", name, "-f", str(tmp_path / "new.yaml"))
        assert init.returncode == 2 and "not available in this version" in init.stderr
        assert not (tmp_path / "new.yaml").exists()
    init = qa("init", "--platform", "bluesky", "-f", str(tmp_path / "bluesky.yaml"))
    assert init.returncode == 0, init.stderr
    written = (tmp_path / "bluesky.yaml").read_text()
    assert "    bluesky:" in written and '      service: "https://bsky.social"' in written


def test_crowd_without_the_sessions_hashtag_is_reported(tmp_path: Path) -> None:
    plan = tmp_path / "demo.yaml"
    plan.write_text("sessions:\n  - {id: d, hashtag: '#AskDemo', start: 2027-02-10 18:00}\n")
    run = qa(
        "run", "--headless", "--simulate", str(ROOT / "examples" / "crowd.yaml"),
        "--speed", "3000", "--start-now", "--tail", "0", "-f", str(plan),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "no post of" in run.stderr and "#AskDemo" in run.stderr
