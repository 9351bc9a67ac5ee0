"""Hostile or mistaken plan files: every mistake at once, special and huge files, invalid
text, long paths, the calendar's edges and the caps — each a file:line error, exit 3."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qasession.errors import ExitCode, PlanError
from qasession.plan import PlanErrors, lint_plan, load_plan, parse_plan
from qasession.plan.limits import (
    MAX_ANNOUNCEMENTS,
    MAX_ERRORS,
    MAX_LIST,
    MAX_PATTERNS,
    MAX_PLAN_BYTES,
    MAX_QUIET_DATES,
    MAX_SESSIONS,
    MAX_TEXT,
)
from tests.conftest import qa

NOW = datetime(2026, 11, 1, tzinfo=UTC)
HEAD = "sessions:\n  - hashtag: '#AskAcme'\n    start: 2026-12-03 18:00\n"


@pytest.fixture(autouse=True)
def _paris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")


def problems(text: str) -> list[PlanError]:
    """Every error of the plan, in the order reported."""
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    found: list[PlanError] = getattr(info.value, "errors", [info.value])
    for each in found:
        assert "\n" not in str(each) and each.exit_code == ExitCode.BAD_PLAN
    return found


def error(text: str) -> PlanError:
    found = problems(text)
    assert len(found) == 1, [str(e) for e in found]
    return found[0]


def run_qa(
    *args: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """`qa ARGS` in this process, through the same boundary as the real entry point."""
    from qasession.cli import main

    monkeypatch.setattr(sys, "argv", ["qa", *args])
    with pytest.raises(SystemExit) as info:
        main()
    code = info.value.code
    return int(code) if isinstance(code, int) else 1, capsys.readouterr().err


# -- 1. every mistake of the file at once -------------------------------------------------

SEVERAL = """\
defaults:
  duration: forever
sessions:
  - hashtag: '#AskAcme'
    start: 2026-12-03 18:00
    answers: {mode: dott}
    platfrom: x
  - id: two
    hashtag: 'Ask Acme'
    start: next week
    opening: "Hello {acount}"
"""


def test_every_mistake_is_reported_each_on_its_own_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "sessions.yaml"
    path.write_text(SEVERAL, encoding="utf-8")
    result = qa("plan", "-f", str(path))
    assert result.returncode == ExitCode.BAD_PLAN
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith(f"qa: error: {path}:") for line in lines), lines
    found = [(int(line.split(":")[3]), line) for line in lines]
    assert [n for n, _ in found] == sorted(n for n, _ in found)
    text = result.stderr
    # different fields, different sessions, and a default: all of them
    assert "defaults.duration" in text and "'forever'" in text
    assert "sessions[0].answers.mode" in text
    assert "sessions[0].platfrom: unknown key" in text and "did you mean 'platform'?" in text
    assert "sessions[1].hashtag" in text and "spaces" in text
    assert "sessions[1].start" in text
    assert text.count("defaults.duration") == 1  # said once, not once per session


def test_a_yaml_syntax_error_stops_at_itself() -> None:
    found = problems(HEAD + "    title: [unclosed\n    duration: never\n")
    assert len(found) == 1 and "YAML syntax" in found[0].message


def test_resolution_problems_of_several_texts_are_all_reported() -> None:
    found = problems(
        HEAD
        + "    opening: 'Live {hashtg}'\n    closing: 'Bye {account}'\n"
        + "    announcements: [{at: -1d, text: 'Soon {'}]\n"
    )
    assert [e.field for e in found] == [
        "sessions[0].opening.text",
        "sessions[0].closing.text",
        "sessions[0].announcements[0].text",
    ]


def test_plan_errors_is_a_plan_error_of_its_first_problem() -> None:
    with pytest.raises(PlanErrors) as info:
        parse_plan(SEVERAL)
    err = info.value
    assert isinstance(err, PlanError) and err.exit_code == ExitCode.BAD_PLAN
    assert (
        (err.line, err.field)
        == (err.errors[0].line, err.errors[0].field)
        == (2, "defaults.duration")
    )
    assert str(err).split("\n") == [str(e) for e in err.errors]


def test_a_flood_of_errors_is_cut_and_counted() -> None:
    bad = "".join(f"  - {{hashtag: 'Ask {i}', start: never}}\n" for i in range(MAX_SESSIONS))
    with pytest.raises(PlanErrors) as info:
        parse_plan("sessions:\n" + bad)
    shown = info.value.errors
    assert len(shown) == MAX_ERRORS + 1
    assert shown[-1].message == f"{2 * MAX_SESSIONS - MAX_ERRORS} more problem(s) not shown"


def test_several_errors_through_the_cli_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + "    duration: never\n    answers: {target: 0}\n", encoding="utf-8")
    code, err = run_qa("plan", "-f", str(path), monkeypatch=monkeypatch, capsys=capsys)
    assert code == ExitCode.BAD_PLAN
    assert err.splitlines() == [
        f"qa: error: {path}:4:15: sessions[0].duration: can't read 'never' as a duration"
        " (write 45m, 1h, 1h30m, 90 (minutes) or 1:30)",
        f"qa: error: {path}:5:23: sessions[0].answers.target: expected a number of at least 1,"
        " got a number (0)",
    ]


# -- 5. special files, huge files ---------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    result = qa("plan", "-f", str(fifo), timeout=60)
    assert result.returncode == ExitCode.BAD_PLAN
    assert result.stderr == (
        f"qa: error: {fifo}: the plan must be a regular file, and this is a named pipe (FIFO)"
        " (pass -f with the path of a YAML file)\n"
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_without_reading_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_qa("plan", "-f", "/dev/zero", monkeypatch=monkeypatch, capsys=capsys)
    assert code == ExitCode.BAD_PLAN
    assert "a character device" in err and err.count("\n") == 1


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="this is a directory, not a plan file"):
        load_plan(tmp_path)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as stream:  # sparse: the test reads nothing either
        stream.truncate(50 * MAX_PLAN_BYTES)
    with pytest.raises(PlanError, match=f"larger than {MAX_PLAN_BYTES:,} bytes") as info:
        load_plan(huge)
    assert str(info.value).startswith(f"{huge}: ")


def test_a_file_just_over_the_limit_is_refused_and_one_at_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    body = HEAD.encode() + b"#" * (MAX_PLAN_BYTES - len(HEAD))
    path.write_bytes(body)
    assert load_plan(path).sessions[0].hashtag == "#AskAcme"
    path.write_bytes(body + b"#")
    with pytest.raises(PlanError, match="larger than"):
        load_plan(path)


def test_a_path_the_system_refuses_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="can't read the plan"):
        load_plan(tmp_path / ("x" * 300 + ".yaml"))
    with pytest.raises(PlanError, match="can't read the plan"):
        load_plan(Path("bad\x00name.yaml"))


# -- 6. invalid text ----------------------------------------------------------------------


def test_invalid_utf8_is_refused_at_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEAD.encode() + b"    title: 'Caf\xe9'\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value).startswith(f"{path}:4:16: invalid UTF-8 byte 0xE9")
    path.write_bytes(b"\xef\xbb\xbf" + HEAD.encode())  # a BOM is fine
    assert load_plan(path).sessions[0].hashtag == "#AskAcme"


@pytest.mark.parametrize(
    ("escape", "named"),
    [
        ("\\ud800", "U+D800 (a lone UTF-16 surrogate)"),
        ("\\udfff", "U+DFFF (a lone UTF-16 surrogate)"),
        ("\\e[31m", "U+001B (a control character)"),
        ("\\0", "U+0000 (a control character)"),
        ("\\x85", "U+0085 (a control character)"),
        ("\\r", "U+000D (a control character)"),
    ],
)
def test_escapes_of_invalid_characters_are_refused(escape: str, named: str) -> None:
    err = error(HEAD + f'    opening: "Live {escape} now #AskAcme"\n')
    assert (err.line, err.column, err.field) == (4, 14, "sessions[0].opening")
    assert err.message == f"invalid character {named} in the text"


def test_invalid_characters_in_keys_and_every_value_are_refused() -> None:
    found = problems(
        HEAD
        + '    title: "a\\ud800"\n    "k\\e": 1\n'
        + '    quiet_dates: [{date: 2026-11-20, note: "\\b"}]\n'
    )
    fields = [e.field for e in found if "invalid character" in e.message]
    assert fields == ["sessions[0].title", "sessions[0].k\\x1b", "sessions[0].quiet_dates[0].note"]


def test_tabs_newlines_and_real_text_are_fine() -> None:
    plan = parse_plan(
        HEAD + '    opening: "Live\\tnow\\nwith #AskAcme \\u200d👩\\u200d👧 \\u05d0\\u200f"\n'
    )
    opening = plan.sessions[0].opening
    assert opening is not None and "\t" in opening.text and "\n" in opening.text


def test_a_lone_surrogate_in_text_already_read_is_refused() -> None:
    err = error(HEAD + "    title: caf\ud800\n")
    assert (err.line, err.column) == (4, 15)
    assert err.message == "invalid character U+D800 (a lone UTF-16 surrogate)"


def test_a_control_character_written_in_the_file_is_named() -> None:
    err = error(HEAD + "    title: a\x1bb\n")
    assert str(err).startswith("sessions.yaml:4:13: invalid character U+001B (a control character)")


def test_surrogates_through_the_real_entry_point(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + '    closing: "bye \\udc80 {hashtag}"\n', encoding="utf-8")
    result = qa("plan", "-f", str(path))
    assert result.returncode == ExitCode.BAD_PLAN
    assert result.stderr.startswith(f"qa: error: {path}:4:14: sessions[0].closing: invalid")
    assert result.stderr.count("\n") == 1


# -- 2. image paths -----------------------------------------------------------------------


def test_an_image_name_over_255_bytes_is_a_plan_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + f"    opening: {{image: '{'a' * 300}.png'}}\n", encoding="utf-8")
    code, err = run_qa("plan", "-f", str(path), monkeypatch=monkeypatch, capsys=capsys)
    assert code == ExitCode.BAD_PLAN
    assert err.startswith(f"qa: error: {path}:4:22: sessions[0].opening.image: the image path")
    assert "255 bytes" in err and err.count("\n") == 1


def test_other_bad_image_paths() -> None:
    assert "4,096" in error(HEAD + f"    opening: {{image: '{'a/' * 2100}'}}\n").message
    assert "empty" in error(HEAD + "    opening: {image: ' '}\n").message
    assert "U+0000" in error(HEAD + '    opening: {image: "a\\0b.png"}\n').message


def test_an_image_path_the_system_cant_look_up_is_a_lint() -> None:
    # 3,000 characters, each name under 255 bytes, but 6,000 bytes: longer than PATH_MAX
    deep = "/" + "/".join(["é" * 100] * 30) + ".png"
    plan = parse_plan(HEAD + f"    opening: {{image: '{deep}'}}\n")
    found = [lint for lint in lint_plan(plan, NOW) if lint.code == "image-missing"]
    assert len(found) == 1 and "can't be looked up" in found[0].message


def test_an_unknown_users_home_is_left_as_written() -> None:
    plan = parse_plan(HEAD + "    opening: {image: '~no-such-user-here/team.png'}\n")
    opening = plan.sessions[0].opening
    assert opening is not None and opening.image is not None
    assert opening.image.endswith("~no-such-user-here/team.png")
    assert "image-missing" in [lint.code for lint in lint_plan(plan, NOW)]


# -- 3. the calendar's edges --------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12", "Etc/GMT-14", "UTC"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1969-12-31", "2201-01-01"])
def test_quiet_dates_at_the_calendars_edge(zone: str, day: str) -> None:
    err = error(HEAD + f"    timezone: {zone}\n    quiet_dates: [{day}]\n")
    assert (err.line, err.field) == (5, "sessions[0].quiet_dates[0].date")
    assert "expected a date of" in err.message


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])
@pytest.mark.parametrize(
    ("start", "at"),
    [
        ("1970-01-01 00:00", "-400d"),
        ("2200-12-31 23:59", "+400d"),
        ("2200-12-31 23:59", "+57w"),
        ("1970-01-01 00:00", "1970-01-01T00:00+14:00"),
    ],
)
def test_starts_and_announcements_at_the_edges_lint_without_overflow(
    zone: str, start: str, at: str
) -> None:
    text = (
        f"sessions:\n  - hashtag: '#AskAcme'\n    start: {start}\n    timezone: {zone}\n"
        f"    announcements: [{{at: '{at}'}}]\n    quiet_dates: [1970-01-01, 2200-12-31]\n"
    )
    try:
        plan = parse_plan(text)
    except PlanError as err:
        assert err.line is not None  # refused with a place, never an overflow
        return
    lint_plan(plan, NOW)
    plan.sessions[0].with_start(datetime(2200, 12, 31, 23, 0))


@pytest.mark.parametrize(
    "start",
    ["0001-01-01 00:00", "9999-12-31 23:59", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00+14:00"],
)
def test_starts_beyond_the_years_of_a_plan(start: str) -> None:
    err = error(f"sessions:\n  - hashtag: '#AskAcme'\n    start: {start}\n")
    assert err.line == 3 and err.field == "sessions[0].start"


# -- 4. caps ------------------------------------------------------------------------------


def _items(count: int, item: str) -> str:
    return "[" + ", ".join(item.format(i=i) for i in range(count)) + "]"


@pytest.mark.parametrize(
    ("key", "item", "cap", "words"),
    [
        ("announcements", "{{at: -{i}m}}", MAX_ANNOUNCEMENTS, "announcements"),
        ("quiet_dates", "2026-01-01", MAX_QUIET_DATES, "quiet dates"),
        ("sensitive_patterns", "'X{i}'", MAX_PATTERNS, "sensitive patterns"),
    ],
)
def test_lists_over_their_cap(key: str, item: str, cap: int, words: str) -> None:
    parse_plan(HEAD + f"    {key}: {_items(cap, item)}\n")  # at the cap: fine
    err = error(HEAD + f"    {key}: {_items(cap + 1, item)}\n")
    assert err.field == f"sessions[0].{key}" and err.line == 4
    assert err.message == f"{cap + 1:,} {words}; a plan may hold at most {cap:,}"


def test_moderation_lists_and_texts_over_their_cap() -> None:
    err = error(HEAD + f"    moderation: {{blocked_words: {_items(MAX_LIST + 1, 'w{i}')}}}\n")
    assert err.field == "sessions[0].moderation.blocked_words"
    long = "a" * (MAX_TEXT + 1)
    err = error(HEAD + f"    title: {long}\n")
    assert err.field == "sessions[0].title" and f"at most {MAX_TEXT:,}" in err.message
    assert "1,000 or fewer" in (
        error(HEAD + f"    sensitive_patterns: ['{'a' * 1001}']\n").hint or ""
    )


def test_too_many_sessions() -> None:
    sessions = "".join(
        f"  - {{id: s{i}, hashtag: '#AskAcme', start: 2026-12-03 18:00}}\n"
        for i in range(MAX_SESSIONS + 1)
    )
    with pytest.raises(PlanError) as info:
        parse_plan("sessions:\n" + sessions)
    assert (
        info.value.message == f"{MAX_SESSIONS + 1} sessions; a plan may hold at most {MAX_SESSIONS}"
    )
    assert info.value.line == 2


def test_a_plan_at_every_cap_loads_and_lints() -> None:
    # (every session at every cap at once is benchmarks/plan.py's job)
    quiet = _items(MAX_QUIET_DATES, "{{date: 2027-01-01, note: n{i}}}")
    lines = ["defaults:", f"  quiet_dates: {quiet}", "sessions:"]
    full = _items(MAX_ANNOUNCEMENTS, "{{at: -{i}h}}")
    for s in range(MAX_SESSIONS):
        announcements = full if s == 0 else "[{at: -1d}, {at: -1h}]"
        lines.append(
            f"  - {{id: s{s}, hashtag: '#AskAcme', start: 2027-01-0{1 + s % 9} 18:00,"
            f" announcements: {announcements}}}"
        )
    plan = parse_plan("\n".join(lines) + "\n")
    assert len(plan.sessions) == MAX_SESSIONS
    assert len(plan.sessions[0].announcements) == MAX_ANNOUNCEMENTS
    assert all(len(s.quiet_dates) == MAX_QUIET_DATES for s in plan.sessions)
    codes = {lint.code for lint in lint_plan(plan, NOW)}
    assert {"overlap", "quiet-date"} <= codes


def test_qa_session_picks_the_session_and_the_argument_beats_it(tmp_path: Path) -> None:
    """QA_SESSION names the session a command works on (a rehearsal of a session whose date
    is past needs it: left to choose, a command takes the plan's next one)."""
    import json

    import yaml

    plan = tmp_path / "two.yaml"
    sessions = [
        {"id": sid, "title": sid, "account": "@acme", "hashtag": "#AskAcme", "timezone": "UTC",
         "start": start, "duration": "30m"}
        for sid, start in (("first", "2030-01-01 10:00"), ("second", "2030-02-01 10:00"))
    ]  # fmt: skip
    plan.write_text(yaml.safe_dump({"sessions": sessions}), encoding="utf-8")

    def chosen(*args: str, env: dict[str, str] | None = None) -> str:
        done = qa("-f", str(plan), "plan", *args, "--json", env=env)
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["session"]["id"])

    assert chosen() == "first"  # the next one
    assert chosen(env={"QA_SESSION": "second"}) == "second"
    # the command's own argument beats the environment
    assert chosen("first", env={"QA_SESSION": "second"}) == "first"
