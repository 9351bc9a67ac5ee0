"""`qa init` and `qa plan` end to end through the real entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import qa, write_plan


def timeline(home: Path) -> list[dict[str, object]]:
    result = qa("local", "timeline", "--json", "--home", str(home))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_init_then_plan(tmp_path: Path) -> None:
    first = qa("init", "--hashtag", "AskDemo", "--start", "2027-03-04 18:00", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    text = (tmp_path / "sessions.yaml").read_text()
    assert "#AskDemo" in text and "2027-03-04 18:00" in text
    again = qa("init", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert qa("init", "--force", cwd=tmp_path).returncode == 0
    shown = qa("plan", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    for item in ("announcement", "opening", "closing", "after-party"):
        assert item in shown.stdout


def test_plan_json_timeline(plan_path: Path) -> None:
    result = qa("plan", "--json", "-f", str(plan_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    kinds = [item["kind"] for item in data["timeline"]]
    assert kinds.count("announcement") == 3
    assert kinds[-3:] == ["opening", "closing", "after_party"]
    assert all(item["length"] <= item["max_length"] for item in data["timeline"])
    assert data["session"]["hashtag"] == "#AskAcme"


def test_post_twice_posts_each_due_announcement_once(tmp_path: Path, home: Path) -> None:
    start = datetime.now(UTC) + timedelta(minutes=50)  # the -1h announcement is due
    plan = write_plan(tmp_path / "p.yaml", start=start.strftime("%Y-%m-%d %H:%M"))
    first = qa("plan", "--post", "-f", str(plan))
    assert first.returncode == 0, first.stderr
    second = qa("plan", "--post", "-f", str(plan))
    assert second.returncode == 0, second.stderr
    posts = timeline(home)
    assert len(posts) == 1
    assert "#AskAcme" in str(posts[0]["text"]) and posts[0]["author"] == "@acme"
    data = json.loads(qa("plan", "--json", "-f", str(plan)).stdout)
    states = {item["key"]: item["state"] for item in data["timeline"]}
    assert states["announcement:-1h"] == "posted"
    assert states["announcement:-3d"] == "missed"


def test_missed_posted_only_with_late(tmp_path: Path, home: Path) -> None:
    start = datetime.now(UTC) + timedelta(hours=10)  # -1d and -3d are long past
    plan = write_plan(tmp_path / "p.yaml", start=start.strftime("%Y-%m-%d %H:%M"))
    result = qa("plan", "--post", "-f", str(plan))
    assert "missed" in result.stderr
    assert timeline(home) == []
    assert qa("plan", "--post", "--late", "-f", str(plan)).returncode == 0
    assert len(timeline(home)) == 2


def test_collects_questions_once_announced(tmp_path: Path, home: Path) -> None:
    start = datetime.now(UTC) + timedelta(minutes=50)
    plan = write_plan(tmp_path / "p.yaml", start=start.strftime("%Y-%m-%d %H:%M"))
    qa("local", "post", "--as", "@early", "Will there be a recording? #AskAcme")
    result = qa("plan", "--post", "-f", str(plan))
    assert "1 question" in result.stderr, result.stderr
    queue = json.loads(qa("queue", "--json", "-f", str(plan)).stdout)
    assert [q["author"] for q in queue] == ["@early"]
    assert "ahead" in queue[0]["flags"]


def test_ics_round_trip_across_dst(tmp_path: Path) -> None:
    from icalendar import Calendar

    plan = write_plan(
        tmp_path / "p.yaml", start="2026-10-25 18:00", timezone="Europe/Paris", duration="45m"
    )
    out = tmp_path / "s.ics"
    result = qa("plan", "--ics", str(out), "-f", str(plan))
    assert result.returncode == 0, result.stderr
    calendar = Calendar.from_ical(out.read_bytes())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    start = events[0].decoded("dtstart")
    assert start.astimezone(UTC) == datetime(2026, 10, 25, 17, 0, tzinfo=UTC)
    assert events[0].decoded("dtend") - start == timedelta(minutes=45)
    assert len(list(events[0].walk("VALARM"))) == 2
    data = json.loads(qa("plan", "--json", "-f", str(plan)).stdout)
    day_before = next(i for i in data["timeline"] if i["key"] == "announcement:-1d")
    assert day_before["at"] == "2026-10-24T16:00:00+00:00"  # 18:00 summer time, the day before


def test_comms_texts(tmp_path: Path, plan_path: Path) -> None:
    folder = tmp_path / "comms"
    assert qa("plan", "--comms", str(folder), "-f", str(plan_path)).returncode == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["t-blog.md", "t-email.txt", "t.ics"]
    assert "#AskAcme" in (folder / "t-blog.md").read_text()
    assert "#AskAcme" in (folder / "t-email.txt").read_text()


def test_strict_turns_lints_into_exit_3(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "p.yaml", hashtag="#AcmeQuestionsAndAnswersLive", duration="3h")
    assert qa("plan", "-f", str(plan)).returncode == 0
    strict = qa("plan", "--strict", "-f", str(plan))
    assert strict.returncode == 3
    assert strict.stderr.count("\n") == 1 and "p.yaml:" in strict.stderr


def test_bad_plan_is_one_line_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sessions:\n  - hashtag: '#AskAcme'\n    start: tomorrow-ish\n")
    result = qa("plan", "-f", str(bad))
    assert result.returncode == 3
    assert result.stderr.startswith(f"qa: error: {bad}:3:")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_watch_killed_between_intent_and_send(tmp_path: Path, home: Path) -> None:
    start = datetime.now(UTC) + timedelta(minutes=50)
    plan = write_plan(tmp_path / "p.yaml", start=start.strftime("%Y-%m-%d %H:%M"))
    env = {"QA_CRASH_AT": "before-send:1"}
    killed = qa("plan", "--watch", "-f", str(plan), env=env)
    assert killed.returncode == -signal.SIGKILL
    assert timeline(home) == []  # the intent was written, nothing sent
    # restarted: the intent is reconciled (not sent) and posted exactly once
    proc = subprocess.Popen(
        [sys.executable, "-m", "qasession", "plan", "--watch", "-f", str(plan)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not timeline(home):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    posts = timeline(home)
    assert len(posts) == 1 and "#AskAcme" in str(posts[0]["text"])
    # killed after sending, before recording the id: reconciled, not posted again
    start2 = datetime.now(UTC) + timedelta(minutes=55)
    plan2 = write_plan(tmp_path / "p2.yaml", id="t2", start=start2.strftime("%Y-%m-%d %H:%M"))
    killed = qa("plan", "--watch", "-f", str(plan2), env={"QA_CRASH_AT": "after-send:1"})
    assert killed.returncode == -signal.SIGKILL
    assert len(timeline(home)) == 2
    assert qa("plan", "--post", "-f", str(plan2)).returncode == 0
    assert len(timeline(home)) == 2
    data = json.loads(qa("plan", "--json", "-f", str(plan2)).stdout)
    assert {i["key"]: i["state"] for i in data["timeline"]}["announcement:-1h"] == "posted"


def test_check_tag_says_whether_the_hashtag_is_busy(plan_path: Path) -> None:
    free = qa("plan", "--check-tag", "--json", "-f", str(plan_path))
    assert free.returncode == 0, free.stderr
    assert "is free" in free.stderr
    assert json.loads(free.stdout)["tag_activity"]["recent_posts"] == 0
    qa("local", "post", "--as", "@someone", "my own #AskAcme thing")
    busy = qa("plan", "--check-tag", "-f", str(plan_path))
    assert "already in use: 1 recent post(s) by 1 author(s)" in busy.stderr


def test_a_platform_not_in_this_version_is_a_lint_not_a_crash(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "m.yaml", platform="mastodon")
    # this version without its Mastodon adapter (a module that cannot be imported)
    without = [
        sys.executable,
        "-c",
        "import sys; sys.modules['qasession.platforms.mastodon'] = None; "
        "from qasession.cli import main; sys.argv[0] = 'qa'; main()",
    ]
    shown = subprocess.run([*without, "plan", "-f", str(plan)], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "[platform-unavailable]" in shown.stderr and "m.yaml:" in shown.stderr
    refused = subprocess.run(
        [*without, "run", "--headless", "-f", str(plan)], capture_output=True, text=True
    )
    assert refused.returncode == 3 and refused.stderr.count("\n") == 1
