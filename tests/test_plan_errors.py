"""Bad plans: a one-line PlanError with file:line:col, the field and a hint; never a traceback."""

from __future__ import annotations

import copy
import re
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qasession.errors import ExitCode, PlanError
from qasession.plan import PlanErrors, lint_plan, load_plan, parse_plan, timeline

PLANS = Path(__file__).parent / "plans"


@pytest.fixture(autouse=True)
def _paris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")


# file -> (line, column, field path or None, words of the message, words of the hint)
BAD: dict[str, tuple[int, int | None, str | None, str, str]] = {
    "bad_yaml_indent.yaml": (3, 6, None, "YAML syntax", "indentation"),
    "bad_tab.yaml": (3, 1, None, "YAML syntax", "spaces, not tabs"),
    "bad_unknown_key.yaml": (
        4,
        5,
        "sessions[0].annoucements",
        "unknown key 'annoucements'",
        "did you mean 'announcements'?",
    ),
    "bad_nested_unknown.yaml": (
        6,
        7,
        "sessions[0].ranking.reposst",
        "unknown key 'reposst'",
        "did you mean 'reposts'?",
    ),
    "bad_top_level_session.yaml": (2, 1, "hashtag", "is a session key", "under `sessions:`"),
    "bad_hashtag_space.yaml": (2, 14, "sessions[0].hashtag", "can't contain spaces", "#AskAcme"),
    "bad_hashtag_punct.yaml": (3, 14, "sessions[0].hashtag", "can't contain '-'", "letters"),
    "bad_timezone.yaml": (
        4,
        15,
        "sessions[0].timezone",
        "unknown time zone 'Europe/Pariss'",
        "did you mean 'Europe/Paris'?",
    ),
    "bad_start.yaml": (3, 12, "sessions[0].start", "can't read 'next thursday", "2026-12-03"),
    "bad_start_date_only.yaml": (4, 12, "sessions[0].start", "needs a time", "2026-12-03 18:00"),
    "bad_duration.yaml": (4, 15, "sessions[0].duration", "as a duration", "1h30m"),
    "bad_regex.yaml": (
        6,
        9,
        "sessions[0].sensitive_patterns[1].pattern",
        "bad regular expression 'CUST-(",
        "brackets",
    ),
    "bad_duplicate_id.yaml": (5, 9, "sessions[1].id", "used twice (also on line 2)", "own `id:`"),
    "bad_duplicate_derived_id.yaml": (
        4,
        5,
        "sessions[1].id",
        "'askacme-2026-12-03' is used twice",
        "own `id:`",
    ),
    "bad_placeholder.yaml": (
        7,
        15,
        "sessions[0].announcements[1].text",
        "unknown placeholder {hashtg}",
        "did you mean {hashtag}?",
    ),
    "bad_unbalanced_brace.yaml": (5, 13, "sessions[0].closing.text", "'}'", "literal braces"),
    "bad_account_placeholder.yaml": (
        4,
        14,
        "sessions[0].opening.text",
        "no account",
        "set account:",
    ),
    "bad_answers_mode.yaml": (
        6,
        13,
        "sessions[0].answers.mode",
        "expected one of dot, reply, quote, dm; got 'dott'",
        "did you mean 'dot'?",
    ),
    "bad_defaults_duration.yaml": (3, 13, "defaults.duration", "'forever'", "45m"),
    "bad_missing_hashtag.yaml": (4, 5, "sessions[1].hashtag", "missing required key", "hashtag:"),
    "bad_dst_gap.yaml": (4, 12, "sessions[0].start", "does not exist in Europe/Paris", "time"),
    "bad_duplicate_key.yaml": (
        5,
        5,
        "sessions[0].start",
        "'start' appears twice (first on line 3)",
        "keep one",
    ),
    "bad_flood_limit.yaml": (
        5,
        20,
        "sessions[0].moderation.flood_limit",
        "expected a whole number",
        "",
    ),
    "bad_at_no_sign.yaml": (
        5,
        13,
        "sessions[0].announcements[0].at",
        "needs a sign",
        "-3d",
    ),
    "bad_impossible_date.yaml": (3, 12, "sessions[0].start", "day is out of range", "value"),
    "bad_platform.yaml": (
        4,
        15,
        "sessions[0].platform",
        "unknown platform 'twitter'; known: local, x, mastodon, bluesky",
        "X/Twitter is 'x'",
    ),
    "bad_platform_settings.yaml": (5, 8, "sessions[0].x", "expected a mapping", ""),
    "bad_sessions_mapping.yaml": (2, 3, "sessions", "expected a list", "'- '"),
    "bad_quiet_date.yaml": (6, 16, "sessions[0].quiet_dates[1].date", "expected a date", ""),
    "bad_handle.yaml": (
        5,
        24,
        "sessions[0].moderation.blocked[1]",
        "'two words' is not a handle",
        "@acme",
    ),
    "bad_string_type.yaml": (4, 12, "sessions[0].title", "expected text, got a list", "quotes"),
    "bad_no_sessions.yaml": (2, 11, "sessions", "no sessions", "hashtag"),
    "bad_top_list.yaml": (1, 1, None, "must be a mapping", "sessions:"),
    "bad_empty.yaml": (1, None, None, "empty", "qa init"),
}


def test_every_bad_fixture_is_in_the_table() -> None:
    assert sorted(p.name for p in PLANS.glob("bad_*.yaml")) == sorted(BAD)
    assert len(BAD) >= 15


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_plan(name: str) -> None:
    line, column, field, message, hint = BAD[name]
    path = PLANS / name
    with pytest.raises(PlanError) as info:
        load_plan(path)
    err = info.value
    lines = str(err).split("\n")
    for each in getattr(err, "errors", [err]):  # several mistakes: one line each
        assert "\n" not in str(each) and "\r" not in str(each)
        assert str(each).startswith(f"{path}:")
    text = lines[0]  # the first in file order
    where = f"{path}:{line}:" + (f"{column}:" if column is not None else "")
    assert text.startswith(where + " "), text
    assert err.line == line and err.column == column
    assert err.field == field
    if field:
        assert f" {field}: " in text
    assert message in err.message
    assert hint in (err.hint or "")
    assert err.exit_code == ExitCode.BAD_PLAN


def test_missing_file_says_run_qa_init(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(tmp_path / "sessions.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'sessions.yaml'}: no plan file")
    assert "qa init" in (info.value.hint or "")


def test_directory_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="directory"):
        load_plan(tmp_path)
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"sessions:\n  - hashtag: '#Ask\xe9'\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value).startswith(f"{path}:2:19: invalid UTF-8 byte 0xE9")


def test_unknown_key_in_defaults_points_at_defaults(tmp_path: Path) -> None:
    text = "defaults:\n  platfrom: x\nsessions:\n  - {hashtag: AskA, start: 2026-12-03 18:00}\n"
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    assert str(info.value).startswith("sessions.yaml:2:3: defaults.platfrom: unknown key")
    assert info.value.hint == "did you mean 'platform'?"


def test_every_error_is_reported_sorted_by_line() -> None:
    text = (
        "sessions:\n  - hashtag: AskA\n    start: 2026-12-03 18:00\n"
        "    ranking: {likes: x}\n    duration: never\n    answers: {mode: nope}\n"
    )
    with pytest.raises(PlanErrors) as info:
        parse_plan(text)
    assert info.value.line == 4  # its own fields are the first problem's
    assert [e.line for e in info.value.errors] == [4, 5, 6]
    assert [e.field for e in info.value.errors] == [
        "sessions[0].ranking.likes",
        "sessions[0].duration",
        "sessions[0].answers.mode",
    ]
    assert str(info.value).count("\n") == 2


def test_control_characters_are_escaped_in_messages() -> None:
    text = (
        'sessions:\n  - hashtag: AskA\n    start: 2026-12-03 18:00\n    "bad\\nkey\\x1b[31m": 1\n'
    )
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    assert str(info.value).startswith("sessions.yaml:4:5:")
    for each in getattr(info.value, "errors", [info.value]):
        assert "\n" not in str(each) and "\x1b" not in str(each)


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "defaults:\n" + "\n".join("  " + line for line in lines) + "\nsessions: []\n"
    with pytest.raises(PlanError, match="more than"):
        parse_plan(text)


def test_recursive_aliases_neither_hang_nor_crash() -> None:
    text = "sessions:\n  - {hashtag: AskA, start: 2026-12-03 18:00, announcements: &a [*a]}\n"
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    assert info.value.field == "sessions[0].announcements[0]"
    # platform settings are validated by the adapter's own model
    text = "sessions:\n  - {hashtag: AskA, start: 2026-12-03 18:00, x: &d {y: *d}}\n"
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    assert info.value.field == "sessions[0].x.y"


def test_python_tags_are_refused() -> None:
    text = "sessions:\n  - hashtag: !!python/object/apply:os.system [echo hi]\n"
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    assert info.value.line == 2


# -- property tests: whatever the file says, load_plan returns or raises PlanError ----------

VALID: dict[str, Any] = {
    "defaults": {"timezone": "Europe/Paris", "moderation": {"flood_limit": 4}},
    "sessions": [
        {
            "id": "one",
            "hashtag": "#AskAcme",
            "start": "2026-12-03 18:00",
            "duration": "60m",
            "account": "@acme",
            "announcements": [{"at": "-1d", "text": "Ask {hashtag} at {time}"}, {"at": "-1h"}],
            "opening": {"text": "Live! {hashtag}"},
            "closing": {"text": "Bye {hashtag}"},
            "answers": {"mode": "dot", "target": 12},
            "moderation": {"muted": ["@x"], "blocked_words": ["w"]},
            "ranking": {"likes": 1.0},
            "sensitive_patterns": ["CUST-\\d{6}"],
            "quiet_dates": [{"date": "2026-12-01", "note": "n"}],
            "crisis_plan": {"moderator": "@sam", "holding_statement": "h"},
            "next": "two",
            "x": {"mentions": True},
        },
        {"id": "two", "hashtag": "AskAcme", "start": "2027-01-14 18:00"},
    ],
}

FIELDS: list[tuple[Any, ...]] = [
    ("defaults",),
    ("sessions",),
    ("sessions", 0),
    ("defaults", "timezone"),
    ("defaults", "moderation"),
    ("defaults", "announcements"),
    *[
        ("sessions", 0, key)
        for key in [
            *("id", "title", "platform", "account", "hashtag", "timezone", "start"),
            *("duration", "announcements", "opening", "closing", "after_party", "answers"),
            *("moderation", "ranking", "sensitive_patterns", "quiet_dates", "crisis_plan"),
            *("next", "x", "local", "mastodon", "bluesky", "unknown"),
        ]
    ],
    ("sessions", 0, "announcements", 0),
    ("sessions", 0, "announcements", 0, "at"),
    ("sessions", 0, "announcements", 0, "text"),
    ("sessions", 0, "announcements", 1, "image"),
    ("sessions", 0, "opening", "text"),
    ("sessions", 0, "opening", "image"),
    ("sessions", 0, "answers", "mode"),
    ("sessions", 0, "answers", "target"),
    ("sessions", 0, "moderation", "muted"),
    ("sessions", 0, "moderation", "flood_limit"),
    ("sessions", 0, "ranking", "likes"),
    ("sessions", 0, "sensitive_patterns", 0),
    ("sessions", 0, "quiet_dates", 0),
    ("sessions", 0, "quiet_dates", 0, "date"),
    ("sessions", 0, "crisis_plan", "moderator"),
    ("sessions", 1, "start"),
    ("sessions", 1, "id"),
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            "0",
            "-3d",
            "+1x",
            "-99999999d",
            "1:30",
            "0:00",
            "{",
            "{hashtag}",
            "{nope}",
            "#",
            "@",
            "Europe/Paris",
            "2026-12-03 18:00",
            "2026-03-29 02:30",
            "9999-12-31 23:59",
            "0001-01-01 00:00",
            "(",
            "[",
            "local",
            "x",
            "dot",
            "1h",
            "90",
        ]
    )
    | st.dates()
    | st.datetimes()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=10) | st.sampled_from(["at", "text", "date"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def _set(document: Any, where: tuple[Any, ...], value: Any) -> None:
    target = document
    for part in where[:-1]:
        if isinstance(target, dict):
            target = target.setdefault(part, {})
        elif isinstance(target, list) and isinstance(part, int) and part < len(target):
            target = target[part]
        else:
            return
    last = where[-1]
    fits = isinstance(target, list) and isinstance(last, int) and last < len(target)
    if isinstance(target, dict) or fits:
        target[last] = value


def _check(text: str) -> None:
    try:
        plan = parse_plan(text)
    except PlanError as err:
        for each in getattr(err, "errors", [err]):
            assert "\n" not in str(each), str(err)
            assert each.message
        return
    now = datetime(2026, 11, 1, tzinfo=UTC)
    lint_plan(plan, now)
    for session in plan.sessions:
        timeline(session)
        session.with_start(now)
        plan.get(session.id)


def _copy(document: Any) -> Any:
    return copy.deepcopy(document)


_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(document: Any, **options: Any) -> str:
    """YAML text of `document` (libyaml's emitter when there is one: the fuzz tests spend
    their time in the plan, not in writing YAML)."""
    return yaml.dump(document, Dumper=_DUMPER, allow_unicode=True, **options)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(FIELDS), value=values)
def test_random_values_in_any_field(where: tuple[Any, ...], value: Any) -> None:
    document = _copy(VALID)
    _set(document, where, value)
    _check(_dump(document))


@settings(max_examples=150, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2000),
            st.integers(min_value=0, max_value=5),
            st.text(alphabet=" \t\n:-#&*!|>'\"{}[],?%@`~\\0123456789abcdz", max_size=4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_random_edits_of_a_valid_file(edits: list[tuple[int, int, str]]) -> None:
    text = _dump(VALID, sort_keys=False)
    for position, removed, inserted in edits:
        position %= len(text) + 1
        text = text[:position] + inserted + text[position + removed :]
    _check(text)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from([*" \n\t:-#&*!|>'\"{}[],?%@ab01<=", "\x00", "é", "\ufeff"]),
        max_size=80,
    )
    | st.text(max_size=80)
)
def test_random_documents(text: str) -> None:
    _check(text)


@settings(max_examples=30, deadline=None)
@given(value=values)
def test_random_document_through_a_file(value: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sessions.yaml"
        path.write_text(_dump(value), encoding="utf-8", errors="surrogateescape")
        try:
            load_plan(path)
        except PlanError as err:
            assert all("\n" not in str(e) for e in getattr(err, "errors", [err]))


def test_the_valid_document_is_valid() -> None:
    plan = parse_plan(yaml.safe_dump(VALID))
    assert [s.id for s in plan.sessions] == ["one", "two"]
    assert plan.sessions[0].quiet_dates[0].date == date(2026, 12, 1)


# -- the calendar's edges: quiet dates, starts and announcements in extreme zones -----------

EDGE_ZONES = ["Pacific/Kiritimati", "Etc/GMT+12", "Etc/GMT-14", "Pacific/Apia", "UTC"]
EDGE_DAYS = [date.min, date.max, date(1969, 12, 31), date(1970, 1, 1), date(2200, 12, 31)]
edge_days = st.sampled_from(EDGE_DAYS) | st.dates()
edge_starts = st.sampled_from(
    [datetime(1970, 1, 1), datetime(2200, 12, 31, 23, 59), datetime.min, datetime.max]
) | st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2210, 12, 31))
edge_offsets = st.sampled_from(["-400d", "+400d", "-57w", "-9600h", "-1d", "0", "+1h"]) | (
    st.datetimes().map(lambda moment: moment.isoformat(sep=" "))
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(EDGE_ZONES),
    start=edge_starts,
    quiet=st.lists(edge_days, max_size=3),
    offsets=st.lists(edge_offsets, max_size=3),
    duration=st.sampled_from(["1", "60m", "1440"]),
)
@example(
    zone="Pacific/Kiritimati",
    start=datetime(1970, 1, 1),
    quiet=[date.min],
    offsets=[],
    duration="60m",
)
@example(
    zone="Etc/GMT+12",
    start=datetime(2200, 12, 31, 23, 59),
    quiet=[date.max],
    offsets=["+400d"],
    duration="1440",
)
@example(
    zone="Etc/GMT-14",
    start=datetime(1970, 1, 1),
    quiet=[date(1970, 1, 1)],
    offsets=["-400d", "0001-01-01 00:00:00"],
    duration="1",
)
def test_the_calendars_edges_never_overflow(
    zone: str, start: datetime, quiet: list[date], offsets: list[str], duration: str
) -> None:
    session = {
        "hashtag": "#AskAcme",
        "timezone": zone,
        "start": start.isoformat(sep=" "),
        "duration": duration,
        "quiet_dates": quiet,
        "announcements": [{"at": at} for at in offsets],
    }
    _check(_dump({"sessions": [session]}))


# -- any text in any text field: refused with a place, or valid where it lands ---------------

# every character, lone surrogates and control characters included
any_text = st.text(st.characters(exclude_categories=()), max_size=20)
_INVALID = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
SMALL: dict[str, Any] = {
    "defaults": {"timezone": "Europe/Paris"},
    "sessions": [
        {
            "hashtag": "#AskAcme",
            "start": "2026-12-03 18:00",
            "title": "t",
            "announcements": [{"at": "-1d", "text": "Ask {hashtag}"}],
            "opening": {"text": "Live {hashtag}", "image": "p.png"},
            "closing": {"text": "Bye {hashtag}"},
            "quiet_dates": [{"date": "2026-12-01", "note": "n"}],
            "crisis_plan": {"moderator": "@sam", "holding_statement": "h"},
            "moderation": {"blocked_words": ["w"]},
            "x": {"api_base": "https://api.x.com"},
        }
    ],
}
TEXT_FIELDS: list[tuple[Any, ...]] = [
    ("sessions", 0, "title"),
    ("sessions", 0, "announcements", 0, "text"),
    ("sessions", 0, "opening", "text"),
    ("sessions", 0, "closing", "text"),
    ("sessions", 0, "opening", "image"),
    ("sessions", 0, "quiet_dates", 0, "note"),
    ("sessions", 0, "crisis_plan", "holding_statement"),
    ("sessions", 0, "moderation", "blocked_words", 0),
    ("sessions", 0, "x", "api_base"),
    ("defaults", "timezone"),
    ("sessions", 0, "unknown key"),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(TEXT_FIELDS), text=any_text, quoted=st.booleans())
@example(where=("sessions", 0, "title"), text="\ud800", quoted=True)
@example(where=("sessions", 0, "closing", "text"), text="bye \x1b[31m", quoted=False)
def test_any_text_is_refused_with_a_place_or_valid(
    where: tuple[Any, ...], text: str, quoted: bool
) -> None:
    document = _copy(SMALL)
    _set(document, where, text)
    # PyYAML's own emitter escapes what UTF-8 can't hold ("\ud800"); libyaml's refuses it
    dumped = yaml.safe_dump(document, allow_unicode=True, default_style='"' if quoted else None)
    try:
        plan = parse_plan(dumped)
    except PlanError as err:
        for each in getattr(err, "errors", [err]):
            assert each.line is not None and "\n" not in str(each), str(err)
        return
    for session in plan.sessions:
        texts = [session.title, *(item.text for item in timeline(session))]
        texts += [q.note for q in session.quiet_dates] + session.moderation.blocked_words
        assert not any(_INVALID.search(t) for t in texts), texts
        lint_plan(plan, datetime(2026, 11, 1, tzinfo=UTC))
        session.with_start(session.start + timedelta(days=1))
