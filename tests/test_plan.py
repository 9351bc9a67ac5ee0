"""Loading plans that are right: defaults, time arithmetic, texts, the timeline, `qa init`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from qasession.errors import PlanError, UsageError
from qasession.plan import (
    DEFAULT_TEXTS,
    Plan,
    lint_plan,
    load_plan,
    local_timezone_name,
    parse_plan,
    render_init,
    render_text,
    timeline,
)
from qasession.text.length import count_length
from qasession.triage import Weights

PLANS = Path(__file__).parent / "plans"
PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sessions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _paris(monkeypatch: pytest.MonkeyPatch) -> None:
    # Plans without `timezone` use the machine's zone; make it the same everywhere.
    monkeypatch.setenv("TZ", "Europe/Paris")


# -- the two-line plan ----------------------------------------------------------------------


def test_two_line_plan_is_valid_and_sensible(tmp_path: Path) -> None:
    path = write(tmp_path, 'sessions:\n  - {hashtag: "#AskAcme", start: 2026-12-03 18:00}\n')
    plan = load_plan(path)
    assert plan.path == path
    (session,) = plan.sessions
    assert session.id == "askacme-2026-12-03"
    assert session.title == "#AskAcme live Q&A"
    assert session.platform == "local"
    assert session.account is None
    assert session.hashtag == "#AskAcme"
    assert session.timezone == "Europe/Paris"
    assert session.tz == PARIS
    assert session.start == utc(2026, 12, 3, 17, 0)
    assert session.start.tzinfo is not None
    assert session.duration == timedelta(minutes=60)
    assert session.end == utc(2026, 12, 3, 18, 0)
    assert session.line == 2
    assert [a.offset for a in session.announcements] == ["-3d", "-1d", "-1h"]
    assert [a.key for a in session.announcements] == [
        "announcement:-3d",
        "announcement:-1d",
        "announcement:-1h",
    ]
    assert session.opening is not None and "#AskAcme" in session.opening.text
    assert session.closing is not None and "#AskAcme" in session.closing.text
    assert session.after_party is not None and "#AskAcme" in session.after_party.text
    assert session.answers.mode == "dot"
    assert session.answers.repost_first and session.answers.append_hashtag
    assert session.answers.target == 12
    assert session.moderation.flood_limit == 5
    assert session.ranking.pinned == Weights().pinned  # the ranking's own default
    assert session.sensitive_patterns == []
    assert session.quiet_dates == []
    assert session.crisis_plan is None
    assert session.next is None
    assert session.platform_settings == {}
    assert session.platform_settings_line is None


def test_two_line_plan_default_texts_say_hashtag_date_and_time(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, "sessions: [{hashtag: AskAcme, start: 2026-12-03 18:00}]"))
    ahead, tomorrow, day = plan.sessions[0].announcements
    assert ahead.text == (
        "Save the date: on Thursday 3 December at 18:00 (CET) we answer your questions live "
        "for 60 minutes. Ask yours now with #AskAcme and we'll pick the best ones!"
    )
    assert tomorrow.text.startswith("Tomorrow at 18:00 (CET)")
    assert day.text.startswith("Today at 18:00 (CET)")
    for item in timeline(plan.sessions[0]):
        assert "#AskAcme" in item.text


def test_default_texts_fit_280_weighted_chars_with_a_long_hashtag(tmp_path: Path) -> None:
    plan = load_plan(
        write(
            tmp_path,
            "sessions:\n  - hashtag: '#AskAcmeEngineering2026'\n    start: 2026-12-30 18:00\n"
            "    timezone: America/Argentina/Buenos_Aires\n    duration: 2h30m\n"
            "    title: A rather long title for our question and answer session\n",
        )
    )
    session = plan.sessions[0]
    for name, template in DEFAULT_TEXTS.items():
        text = render_text(template, session)
        assert count_length(text, "x") <= 280, name
        assert "#AskAcmeEngineering2026" in text


# -- the full plan --------------------------------------------------------------------------


def test_full_plan_every_key() -> None:
    plan = load_plan(PLANS / "full.yaml")
    one, two = plan.sessions
    assert one.id == "full-one"
    assert one.title == "Ask our engineers"
    assert one.platform == "x"
    assert one.account == "@acme"
    assert one.hashtag == "#AskAcmeEng"
    assert one.timezone == "Europe/Paris"  # from defaults
    assert one.start == utc(2026, 12, 3, 17, 0)  # "T" form, in the zone
    assert one.duration == timedelta(minutes=45)  # the session wins over defaults
    assert one.line == 14
    # answers: defaults merged key by key with the session's own
    assert one.answers.mode == "quote"
    assert one.answers.target == 10
    assert one.answers.repost_first is False
    assert one.answers.append_hashtag is False
    assert one.answers.dm_notice is False
    assert one.moderation.muted == ["@noisy"]
    assert one.moderation.flood_limit == 3
    assert one.moderation.blocked == ["@troll", "@spam@mastodon.social"]
    assert one.moderation.blocked_words == ["buy now"]
    assert one.ranking.likes == 2.0
    assert one.ranking.age == -0.1
    assert one.ranking.pinned == 50.0
    assert one.ranking.reposts == 2.0  # untouched default
    assert one.sensitive_patterns == [
        (r"CUST-\d{6}", "private data"),
        (r"IBAN\s*\w+", "private data"),
        (r"C-\d{8}", "contract number"),
    ]
    assert [q.date.isoformat() for q in one.quiet_dates] == ["2026-11-20", "2026-10-01"]
    assert one.quiet_dates[0].note == "price change announced"
    assert one.crisis_plan is not None
    assert one.crisis_plan.moderator == "@sam" and one.crisis_plan.complete
    assert one.next == "full-two"
    assert one.platform_settings == {"mentions": True, "timeout": 15}
    assert one.platform_settings_line == 54
    assert one.after_party is None
    assert one.closing is not None and one.closing.text == "Thanks, bye #AskAcmeEng"
    assert one.opening is not None
    assert one.opening.text == "We're live on #AskAcmeEng!"
    assert one.opening.image == "/abs/photo.png"

    first = one.announcements[0]
    assert first.text == (
        "Ask our engineers: Thursday 3 December at 18:00 CET for 45 minutes with @acme. "
        "Use #AskAcmeEng! {braces}"
    )
    assert first.image == str(PLANS / "promo.png")  # relative to the plan file
    absolute = one.announcements[2]
    assert absolute.at == utc(2026, 12, 3, 8, 15)
    assert absolute.offset is None
    assert absolute.key == "announcement:2026-12-03T09:15+01:00"
    assert absolute.text == "Tonight at 18:00, ends 18:45, on x: #AskAcmeEng"
    assert one.announcements[1].at == utc(2026, 12, 2, 15, 0)  # -1d2h
    assert one.announcements[3].at == utc(2026, 12, 3, 16, 50)  # -10m
    assert one.announcements[4].at == one.start  # 0
    assert one.announcements[4].text.startswith("Starting now")

    assert two.timezone == "America/New_York"
    assert two.start == utc(2027, 1, 14, 18, 0)  # the offset wins over the zone
    assert two.duration == timedelta(minutes=90)  # a bare number is minutes
    assert two.answers.mode == "dm"  # session wins
    assert two.answers.target == 10  # default still merged in
    assert two.id == "full-two"
    assert two.after_party is not None
    assert two.after_party.text == "Keep going on #AskAcmeEng"
    assert two.after_party.image == str(PLANS / "party.png")
    assert two.platform_settings == {}


def test_defaults_merge_deep_and_session_lists_replace(tmp_path: Path) -> None:
    plan = load_plan(
        write(
            tmp_path,
            """
defaults:
  timezone: UTC
  moderation: {muted: ["@a"], blocked_words: [x]}
  announcements: [{at: -2d}]
sessions:
  - hashtag: AskA
    start: 2026-12-03 18:00
  - hashtag: AskB
    start: 2026-12-04 18:00
    moderation: {muted: ["@b"]}
    announcements: [{at: -1h}, {at: -30m}]
""",
        )
    )
    a, b = plan.sessions
    assert a.moderation.muted == ["@a"] and b.moderation.muted == ["@b"]
    assert b.moderation.blocked_words == ["x"]
    assert [x.offset for x in a.announcements] == ["-2d"]
    assert [x.offset for x in b.announcements] == ["-1h", "-30m"]
    assert a.start == utc(2026, 12, 3, 18, 0)


@pytest.mark.parametrize(
    ("written", "minutes"),
    [
        ("45m", 45),
        ("1h", 60),
        ("1h30m", 90),
        ("1h30", 90),
        ("90", 90),
        ("90", 90),
        ("'1:30'", 90),
        ("1:30", 90),  # not YAML 1.1's base-60 integer
        ("0:45", 45),
        ("2 hours", 120),
        ("75 min", 75),
    ],
)
def test_durations(tmp_path: Path, written: str, minutes: int) -> None:
    plan = load_plan(
        write(
            tmp_path, f"sessions: [{{hashtag: AskA, start: 2026-12-03 18:00, duration: {written}}}]"
        )
    )
    assert plan.sessions[0].duration == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-12-03 18:00", utc(2026, 12, 3, 17, 0)),
        ("2026-12-03T18:00", utc(2026, 12, 3, 17, 0)),
        ("'2026-12-03 18:00'", utc(2026, 12, 3, 17, 0)),
        ("2026-12-03 18:00:00", utc(2026, 12, 3, 17, 0)),  # YAML makes this a datetime
        ("2026-12-03T18:00:00+05:00", utc(2026, 12, 3, 13, 0)),
        ("2026-12-03T18:00Z", utc(2026, 12, 3, 18, 0)),
        ("2026-07-03 18:00", utc(2026, 7, 3, 16, 0)),  # summer time
    ],
)
def test_start_forms(tmp_path: Path, written: str, expected: datetime) -> None:
    plan = load_plan(
        write(
            tmp_path,
            f"sessions:\n  - hashtag: AskA\n    timezone: Europe/Paris\n    start: {written}\n",
        )
    )
    assert plan.sessions[0].start == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("-3d", utc(2026, 11, 30, 17, 0)),
        ("-1d", utc(2026, 12, 2, 17, 0)),
        ("-2h", utc(2026, 12, 3, 15, 0)),
        ("-10m", utc(2026, 12, 3, 16, 50)),
        ("-1d2h", utc(2026, 12, 2, 15, 0)),
        ("-1w", utc(2026, 11, 26, 17, 0)),
        ("+15m", utc(2026, 12, 3, 17, 15)),
        ("0", utc(2026, 12, 3, 17, 0)),
        ("2026-12-01 09:00", utc(2026, 12, 1, 8, 0)),
        ("2026-12-01T09:00+00:00", utc(2026, 12, 1, 9, 0)),
        ("2026-12-01 09:00:00", utc(2026, 12, 1, 8, 0)),
    ],
)
def test_announcement_times(tmp_path: Path, at: str, expected: datetime) -> None:
    plan = load_plan(
        write(
            tmp_path,
            "sessions:\n  - hashtag: AskA\n    timezone: Europe/Paris\n"
            f"    start: 2026-12-03 18:00\n    announcements:\n      - at: {at}\n",
        )
    )
    assert plan.sessions[0].announcements[0].at == expected


# -- time zones -----------------------------------------------------------------------------


def test_dst_day_arithmetic_is_wall_clock_and_hours_are_elapsed(tmp_path: Path) -> None:
    # 2026-10-25: summer time ends in Paris (03:00 CEST -> 02:00 CET).
    plan = load_plan(
        write(
            tmp_path,
            """sessions:
  - hashtag: AskA
    timezone: Europe/Paris
    start: 2026-10-25 18:00
    duration: 60m
    announcements:
      - at: -1d
      - at: -24h
      - at: -1d1h
""",
        )
    )
    session = plan.sessions[0]
    assert session.start == utc(2026, 10, 25, 17, 0)
    day, hours, mixed = session.announcements
    assert day.at == utc(2026, 10, 24, 16, 0)  # 18:00 CEST the day before
    assert session.local(day.at).hour == 18
    assert hours.at == utc(2026, 10, 24, 17, 0)  # 24 elapsed hours: 19:00 CEST
    assert mixed.at == utc(2026, 10, 24, 15, 0)
    assert session.end == utc(2026, 10, 25, 18, 0)


def test_dst_spring_forward_day(tmp_path: Path) -> None:
    plan = load_plan(
        write(
            tmp_path,
            "sessions:\n  - {hashtag: AskA, timezone: Europe/Paris, start: 2026-03-29 18:00,"
            " announcements: [{at: -1d}, {at: -3d}]}\n",
        )
    )
    session = plan.sessions[0]
    assert session.start == utc(2026, 3, 29, 16, 0)  # CEST
    assert session.announcements[0].at == utc(2026, 3, 28, 17, 0)  # 18:00 CET
    assert session.announcements[1].at == utc(2026, 3, 26, 17, 0)


def test_ambiguous_time_takes_the_first_occurrence(tmp_path: Path) -> None:
    plan = load_plan(
        write(
            tmp_path, "sessions: [{hashtag: AskA, timezone: Europe/Paris, start: 2026-10-25 02:30}]"
        )
    )
    assert plan.sessions[0].start == utc(2026, 10, 25, 0, 30)  # 02:30 CEST


def test_local_timezone_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert local_timezone_name() == "America/New_York"
    monkeypatch.setenv("TZ", ":Asia/Tokyo")
    assert local_timezone_name() == "Asia/Tokyo"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert local_timezone_name() != "Not/AZone"


def test_timezone_default_is_the_machine_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    plan = load_plan(write(tmp_path, "sessions: [{hashtag: AskA, start: 2026-12-03 18:00}]"))
    assert plan.sessions[0].timezone == "Asia/Tokyo"
    assert plan.sessions[0].start == utc(2026, 12, 3, 9, 0)


# -- texts ----------------------------------------------------------------------------------


def test_render_text_placeholders_and_braces(tmp_path: Path) -> None:
    session = load_plan(PLANS / "full.yaml").sessions[0]
    assert render_text("{hashtag} {{literal}} {time}", session) == "#AskAcmeEng {literal} 18:00"
    assert render_text("{date}, {duration}, {account}", session) == (
        "Thursday 3 December, 45 minutes, @acme"
    )
    with pytest.raises(PlanError, match=r"unknown placeholder \{nope\}"):
        render_text("{nope}", session)
    with pytest.raises(PlanError, match="write \\{\\{ and \\}\\} for literal braces"):
        render_text("a { b", session)
    with pytest.raises(PlanError, match="single '\\}'"):
        render_text("a } b", session)
    with pytest.raises(PlanError, match="unknown placeholder"):
        render_text("{time:%H}", session)


def test_keys_are_stable_across_loads_and_unique(tmp_path: Path) -> None:
    text = (
        "sessions:\n  - hashtag: AskA\n    start: 2026-12-03 18:00\n    announcements:\n"
        "      - {at: -1d}\n      - {at: -1d, text: 'again {hashtag}'}\n      - {at: -1h}\n"
    )
    first = [i.key for i in timeline(parse_plan(text).sessions[0])]
    again = [i.key for i in timeline(load_plan(write(tmp_path, text)).sessions[0])]
    assert first == again
    assert len(set(first)) == len(first)
    assert first == [
        "announcement:-1d",
        "announcement:-1d~2",
        "announcement:-1h",
        "opening",
        "closing",
        "after_party",
    ]


# -- timeline, get, with_start --------------------------------------------------------------


def test_timeline_sorted_with_opening_closing_after_party() -> None:
    session = load_plan(PLANS / "demo.yaml").sessions[0]
    items = timeline(session)
    assert [i.at for i in items] == sorted(i.at for i in items)
    by_key = {i.key: i for i in items}
    assert by_key["opening"].at == session.start and by_key["opening"].kind == "opening"
    assert by_key["closing"].at == session.end and by_key["closing"].kind == "closing"
    assert by_key["after_party"].at == session.end + timedelta(minutes=1)
    assert [i.kind for i in items].count("announcement") == 3


def test_timeline_puts_announcement_at_start_before_opening() -> None:
    text = "sessions: [{hashtag: AskA, start: 2026-12-03 18:00, announcements: [{at: 0}]}]"
    kinds = [i.kind for i in timeline(parse_plan(text).sessions[0])]
    assert kinds[:2] == ["announcement", "opening"]


def test_plan_get() -> None:
    plan = load_plan(PLANS / "demo.yaml")
    assert plan.ids == ["askacme-dec", "askacme-jan"]
    assert plan.get("askacme-jan").title == "Ask Acme's CEO"
    assert plan.get(None, now=utc(2026, 11, 1)).id == "askacme-dec"
    assert plan.get(None, now=utc(2026, 12, 3, 17, 30)).id == "askacme-dec"  # under way
    assert plan.get(None, now=utc(2026, 12, 3, 18, 0)).id == "askacme-jan"  # dec ended
    assert plan.get(None, now=utc(2030, 1, 1)).id == "askacme-jan"  # all over: the last
    with pytest.raises(UsageError) as info:
        plan.get("askacme-feb")
    assert "askacme-dec, askacme-jan" in str(info.value)


def test_plan_get_single_session_ignores_now() -> None:
    plan = parse_plan("sessions: [{hashtag: AskA, start: 2026-12-03 18:00}]")
    assert isinstance(plan, Plan)
    assert plan.get(now=utc(2030, 1, 1)) is plan.sessions[0]


def test_with_start_moves_everything_and_rerenders() -> None:
    session = load_plan(PLANS / "demo.yaml").sessions[0]
    moved = session.with_start(utc(2026, 12, 10, 9, 0))  # 10:00 Paris
    delta = moved.start - session.start
    assert moved.start == utc(2026, 12, 10, 9, 0)
    assert moved.end - moved.start == session.duration
    assert [a.at - delta for a in moved.announcements] == [a.at for a in session.announcements]
    assert [a.key for a in moved.announcements] == [a.key for a in session.announcements]
    assert "at 10:00 (CET)" in moved.announcements[0].text
    assert "Thursday 10 December" in moved.announcements[0].text
    assert session.announcements[0].text != moved.announcements[0].text
    naive = session.with_start(datetime(2026, 12, 10, 10, 0))  # naive: the plan's zone
    assert naive.start == moved.start
    assert session.start == utc(2026, 12, 3, 17, 0)  # the original is untouched


def test_line_of_and_settings_error_point_into_the_file() -> None:
    session = load_plan(PLANS / "full.yaml").sessions[0]
    assert session.line_of("hashtag") == 18
    assert session.line_of("answers", "mode") == 5  # merged from defaults
    assert session.line_of("announcements", 1, "text") == 25  # absent: the item's line

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        mentions: bool
        timeout: int = 10

    Settings.model_validate(session.platform_settings)
    with pytest.raises(ValidationError) as info:
        Settings.model_validate({**session.platform_settings, "timeout": "often"})
    err = session.settings_error(info.value)
    assert str(err).startswith(f"{PLANS / 'full.yaml'}:56:")
    assert err.field == "sessions[0].x.timeout"


# -- qa init --------------------------------------------------------------------------------


def test_render_init_loads_without_lints(tmp_path: Path) -> None:
    now = utc(2026, 11, 4, 10, 0)  # a Wednesday
    text = render_init(now=now)
    plan = load_plan(write(tmp_path, text))
    session = plan.sessions[0]
    assert session.hashtag == "#AskUs"
    assert session.timezone == "Europe/Paris"
    assert session.local(session.start).hour == 18
    assert session.local(session.start).weekday() < 5
    assert session.start - now >= timedelta(days=3)
    assert session.duration == timedelta(minutes=60)
    assert lint_plan(plan, now) == []
    # the template explains its keys
    for key in ("announcements", "quiet_dates", "crisis_plan", "sensitive_patterns", "next"):
        assert key in text


def test_render_init_with_arguments(tmp_path: Path) -> None:
    text = render_init("AskAcme", "2027-02-03 12:00", "mastodon", now=utc(2027, 1, 1))
    session = load_plan(write(tmp_path, text)).sessions[0]
    assert session.hashtag == "#AskAcme"
    assert session.platform == "mastodon"
    assert session.start == utc(2027, 2, 3, 11, 0)
    assert session.id == "askacme-2027-02-03"
    for weekday in range(7):  # whatever today is, the default start is a weekday
        now = utc(2026, 11, 2 + weekday, 12, 0)
        start = load_plan(write(tmp_path, render_init(now=now))).sessions[0].start
        assert start.astimezone(PARIS).weekday() < 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("#Ask Us", None, None), "spaces"),
        ((None, "soon", None), "bad start"),
        ((None, None, "twitter"), "unknown platform"),
    ],
)
def test_render_init_refuses_bad_arguments(
    args: tuple[str | None, str | None, str | None], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        render_init(*args)
