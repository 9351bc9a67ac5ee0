"""Lints: each of the product's plan rules warns when broken, and a good plan stays quiet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qasession.plan import Lint, lint_plan, load_plan, parse_plan
from qasession.text.length import count_length, upper_bound

PLANS = Path(__file__).parent / "plans"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _paris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")


def session_yaml(extra: str = "", **keys: str) -> str:
    """A good one-session plan with some keys replaced (values are YAML)."""
    fields = {
        "id": "s1",
        "hashtag": "'#AskAcme'",
        "timezone": "Europe/Paris",
        "start": "2026-12-03 18:00",
        "duration": "60m",
    }
    fields.update(keys)
    lines = [f"    {key}: {value}" for key, value in fields.items()]
    lines[0] = "  - " + lines[0].lstrip()
    return "sessions:\n" + "\n".join(lines) + "\n" + extra


def lints(text: str, now: datetime = NOW, **kwargs: object) -> list[Lint]:
    return lint_plan(parse_plan(text), now, **kwargs)  # type: ignore[arg-type]


def codes(text: str, now: datetime = NOW) -> list[str]:
    return [lint.code for lint in lints(text, now)]


def only(text: str, code: str, now: datetime = NOW) -> Lint:
    found = lints(text, now)
    assert [lint.code for lint in found] == [code], [str(x) for x in found]
    return found[0]


def test_demo_plan_is_quiet() -> None:
    assert lint_plan(load_plan(PLANS / "demo.yaml"), NOW) == []


def test_base_plan_is_quiet() -> None:
    assert lints(session_yaml()) == []


def test_lint_str_format() -> None:
    lint = Lint("night", "s1", "too late", 4, "sessions.yaml")
    assert str(lint) == "sessions.yaml:4: warning: [night] too late"
    assert str(Lint("x", None, "m", None, "p.yaml")) == "p.yaml: warning: [x] m"


def test_hashtag_too_long_says_why() -> None:
    lint = only(session_yaml(hashtag="'#AskAcmeAboutEverything'"), "hashtag-length")
    assert "#AskAcmeAboutEverything is 23 characters" in lint.message
    assert "type" in lint.message
    assert lint.line == 3
    assert lint.session_id == "s1"
    assert str(lint).startswith("sessions.yaml:3: warning: [hashtag-length] ")


def test_hashtag_twenty_chars_is_fine() -> None:
    assert codes(session_yaml(hashtag="'#AskAcmeAboutThings'")) == []  # 20 with '#'


def test_hashtag_not_ask() -> None:
    lint = only(session_yaml(hashtag="'#AcmeLive'"), "hashtag-ask")
    assert "#Ask" in lint.message
    assert codes(session_yaml(hashtag="'#askacme'")) == []  # case does not matter


@pytest.mark.parametrize(
    ("duration", "fires"),
    [("25m", True), ("30m", False), ("90", False), ("1h31m", True), ("3h", True)],
)
def test_duration_outside_30_to_90(duration: str, fires: bool) -> None:
    found = codes(session_yaml(duration=duration))
    assert found == (["duration"] if fires else [])


@pytest.mark.parametrize(
    ("start", "fires"),
    [
        ("2026-12-03 22:00", True),
        ("2026-12-03 23:30", True),
        ("2026-12-03 03:00", True),
        ("2026-12-03 06:59", True),
        ("2026-12-03 07:00", False),
        ("2026-12-03 21:59", False),
    ],
)
def test_night_in_the_plans_zone(start: str, fires: bool) -> None:
    text = session_yaml(start=start, duration="30m")
    found = [c for c in codes(text) if c == "night"]
    assert found == (["night"] if fires else [])


def test_night_is_judged_in_the_plans_zone_not_utc() -> None:
    # 23:00 UTC, but 08:00 in Tokyo: fine
    text = session_yaml(timezone="Asia/Tokyo", start="2026-12-04T08:00")
    assert codes(text) == []
    only(session_yaml(start="2026-12-03T23:00+01:00"), "night")


def test_start_in_the_past() -> None:
    lint = only(session_yaml(), "past", now=datetime(2026, 12, 3, 17, 30, tzinfo=UTC))
    assert "started" in lint.message
    lint = only(session_yaml(), "past", now=datetime(2027, 1, 1, tzinfo=UTC))
    assert "ended" in lint.message
    assert lint.line == 5


def test_no_announcement_days_ahead() -> None:
    text = session_yaml(announcements="[{at: -2h}, {at: -23h}]")
    lint = only(text, "no-announcement-ahead")
    assert lint.line == 7
    # -1d on the day summer time ends is 25 hours, and counts
    assert (
        codes(
            session_yaml(start="2026-10-25 18:00", announcements="[{at: -1d}, {at: -1h}]"),
            now=datetime(2026, 10, 1, tzinfo=UTC),
        )
        == []
    )


def test_no_announcement_on_the_day() -> None:
    text = session_yaml(announcements="[{at: -3d}, {at: -1d}]")
    only(text, "no-announcement-on-day")
    # 09:00 for an 01:00 session: the day before, not the day
    text = session_yaml(start="2026-12-03 08:00", announcements="[{at: -3d}, {at: -10h}]")
    only(text, "no-announcement-on-day")


def test_no_announcements_at_all() -> None:
    assert codes(session_yaml(announcements="[]")) == [
        "no-announcement-ahead",
        "no-announcement-on-day",
    ]


def test_no_opening_or_closing_only_when_switched_off() -> None:
    assert codes(session_yaml(opening="false")) == ["no-opening"]
    assert codes(session_yaml(opening="{text: ''}")) == ["no-opening"]
    assert codes(session_yaml(closing="null")) == ["no-closing"]
    assert codes(session_yaml(opening="{image: photo.png}")) == ["image-missing"]


def test_text_without_the_hashtag() -> None:
    text = session_yaml(
        announcements="[{at: -3d, text: 'Ask us on Thursday'}, {at: -1h, text: 'Soon: #askACME!'}]"
    )
    lint = only(text, "no-hashtag")
    assert "announcement -3d" in lint.message
    assert lint.line == 7
    # a longer tag that merely starts with ours does not count
    text = session_yaml(closing="'Bye #AskAcmeLater'")
    lint = only(text, "no-hashtag")
    assert "closing" in lint.message and lint.line == 7


def test_text_too_long_for_the_platform() -> None:
    long = "x" * 275
    text = session_yaml(opening=f"'{long} {{hashtag}}'")
    lint = only(text, "too-long")
    assert "284" in lint.message and "280" in lint.message
    assert "opening" in lint.message and "too long for local" in lint.message
    assert lint.line == 7
    # fine on mastodon (500), too long for bluesky (300) only past 300
    assert codes(session_yaml(platform="mastodon", opening=f"'{long} {{hashtag}}'")) == []
    assert codes(session_yaml(platform="bluesky", opening=f"'{long} {{hashtag}}'")) == []


class Rules:
    """A platform's length rules as the registry gives them (max_length, length, too_long)."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def length(self, text: str) -> int:
        return len(text)

    def too_long(self, text: str) -> str | None:
        return f"{len(text)}/{self.max_length}" if len(text) > self.max_length else None


def test_length_rules_come_from_the_platform_and_its_settings() -> None:
    asked: list[tuple[str, object]] = []

    def capabilities(name: str, settings: dict[str, object] | None) -> Rules:
        asked.append((name, settings))
        return Rules(int((settings or {}).get("max_length", 280)))

    text = session_yaml(opening="'Live now {hashtag}'", local="{max_length: 100}")
    found = lints(text, capabilities=capabilities)
    assert asked == [("local", {"max_length": 100})]
    assert {lint.code for lint in found} == {"too-long"}
    assert len(found) >= 2  # some default texts are longer than 100
    assert all("too long for local: " in lint.message and "/100" in lint.message for lint in found)
    assert lints(session_yaml(), capabilities=capabilities) == []


def test_default_rules_use_the_local_max_length_setting() -> None:
    assert "too-long" in codes(session_yaml(local="{max_length: 100}"))
    assert "too-long" not in codes(session_yaml(local="{max_length: 1000}"))


def test_weighted_length_counts_cjk_double() -> None:
    text = session_yaml(opening="'" + "質" * 135 + " {hashtag}'")  # 270 + 9 = 279 weighted
    assert codes(text) == []
    text = session_yaml(opening="'" + "質" * 140 + " {hashtag}'")
    only(text, "too-long")


def test_overlapping_sessions() -> None:
    text = session_yaml() + (
        "  - id: s2\n    hashtag: '#AskAcme'\n    timezone: Europe/London\n"
        "    start: 2026-12-03 17:30\n"
    )
    lint = only(text, "overlap")
    assert lint.session_id == "s2"
    assert "'s2' overlaps session 's1'" in lint.message
    assert lint.line == 7
    back_to_back = session_yaml() + (
        "  - {id: s2, hashtag: '#AskAcme', timezone: Europe/Paris, start: 2026-12-03 19:00}\n"
    )
    assert codes(back_to_back) == []


def test_quiet_date_near_the_session_asks_for_a_crisis_plan() -> None:
    text = session_yaml(quiet_dates="[{date: 2026-12-01, note: price rise}]")
    lint = only(text, "quiet-date")
    assert "the session" in lint.message
    assert "2026-12-01 (price rise)" in lint.message
    assert "crisis_plan" in lint.message and "holding_statement" in lint.message
    assert lint.line == 7
    with_plan = text.replace(
        "    quiet_dates:",
        "    crisis_plan: {moderator: '@sam', holding_statement: 'We hear you.'}\n    quiet_dates:",
    )
    lint = only(with_plan, "quiet-date")
    assert "crisis_plan" not in lint.message


def test_quiet_date_near_an_announcement_only() -> None:
    # the session (Dec 3) is more than 48 hours after Nov 29, its -3d announcement is not
    text = session_yaml(quiet_dates="[2026-11-29]")
    lint = only(text, "quiet-date")
    assert "announcement -3d" in lint.message and "the session" not in lint.message
    assert codes(session_yaml(quiet_dates="[2026-11-20, 2026-12-10]")) == []


def test_quiet_dates_in_defaults_apply_to_every_session() -> None:
    text = "defaults:\n  quiet_dates: [2026-12-04]\n" + session_yaml()
    lint = only(text, "quiet-date")
    assert lint.line == 2


def test_next_names_an_unknown_session() -> None:
    lint = only(session_yaml(next="s2"), "next-unknown")
    assert "'s2'" in lint.message and lint.line == 7
    lint = only(session_yaml(next="s1"), "next-unknown")
    assert "same session" in lint.message


def test_image_missing(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    path = tmp_path / "sessions.yaml"
    path.write_text(session_yaml(opening="{image: photo.png}"), encoding="utf-8")
    assert lint_plan(load_plan(path), NOW) == []
    path.write_text(session_yaml(opening="{image: nope.png}"), encoding="utf-8")
    found = lint_plan(load_plan(path), NOW)
    assert [lint.code for lint in found] == ["image-missing"]
    assert str(found[0]).startswith(f"{path}:7: warning: [image-missing]")


def test_lints_are_sorted_by_line() -> None:
    text = session_yaml(hashtag="'#AcmeLive'", duration="10m", start="2026-12-03 23:00")
    found = lints(text)
    assert [lint.line for lint in found] == sorted(lint.line or 0 for lint in found)
    assert {lint.code for lint in found} == {"hashtag-ask", "duration", "night"}


_PIECES = [
    "a",
    "Z",
    " ",
    ".",
    "。",
    "://",
    "http",
    "x.com",
    "t.co/x",
    "日本",
    "é",
    "👩‍👧",
    "ﬁ",
    "שּׁ",
]


@settings(max_examples=100, deadline=None)
@given(
    text=st.lists(st.sampled_from(_PIECES), max_size=40).map("".join) | st.text(max_size=40),
    method=st.sampled_from(["x", "chars", "graphemes"]),
)
def test_the_quick_length_bound_never_undercounts(text: str, method: str) -> None:
    # the length lint skips the exact (slow) count below this bound: it must be an upper one
    assert upper_bound(text, method) >= count_length(text, method)  # type: ignore[arg-type]
