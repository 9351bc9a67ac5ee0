"""A plan for one session on several platforms (`platforms:`): per-platform accounts, hashtags
and texts, lints and lengths on each, one-line errors for a bad map; the one-platform form as
before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qasession.errors import ExitCode, PlanError
from qasession.plan import lint_plan, parse_plan, timeline
from tests.conftest import ROOT

NOW = datetime(2026, 11, 1, tzinfo=UTC)
HEAD = (
    "sessions:\n  - hashtag: '#AskAcme'\n    start: 2026-12-03 18:00\n    timezone: Europe/Paris\n"
)


def problems(text: str) -> list[PlanError]:
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    found: list[PlanError] = getattr(info.value, "errors", [info.value])
    assert all(each.exit_code == ExitCode.BAD_PLAN for each in found)
    return found


def test_each_planned_post_once_per_platform_with_its_hashtag_account_and_texts() -> None:
    plan = parse_plan(
        HEAD
        + "    platforms:\n"
        + "      local:x: {account: '@acme'}\n"
        + "      local:bsky:\n"
        + "        account: '@acme.com'\n"
        + "        opening: 'Live on Bluesky: mention {account} or use {hashtag}'\n"
        + "      local:mastodon: {account: '@acme@acme.social', hashtag: '#AskAcmeQA'}\n"
        + "    announcements:\n      - at: -1d\n        text: 'Tomorrow on {hashtag} ({account})'\n"
    )
    session = plan.sessions[0]
    assert session.multi and session.platform_names == ["local:x", "local:bsky", "local:mastodon"]
    items = timeline(session)
    by = {(i.kind, i.platform): i for i in items}
    assert len(items) == 4 * 3  # announcement, opening, closing, after-party on each
    assert len({i.key for i in items}) == len(items)
    assert by["announcement", "local:x"].text == "Tomorrow on #AskAcme (@acme)"
    assert by["announcement", "local:mastodon"].text == "Tomorrow on #AskAcmeQA (@acme@acme.social)"
    assert by["opening", "local:bsky"].text == "Live on Bluesky: mention @acme.com or use #AskAcme"
    assert "#AskAcmeQA" in by["closing", "local:mastodon"].text
    assert by["opening", "local:x"].key == "opening@local:x"


def test_the_one_platform_form_is_unchanged() -> None:
    session = parse_plan(HEAD + "    platform: local\n").sessions[0]
    assert not session.multi and session.platform_names == ["local"]
    assert {i.key for i in timeline(session)} >= {"opening", "closing", "after_party"}
    assert all(i.platform == "" for i in timeline(session))


def test_lints_measure_every_text_on_every_platform() -> None:
    long = "x" * 290 + " {hashtag}"
    plan = parse_plan(
        HEAD
        + "    platforms:\n      local:x: {}\n      local:mastodon: {}\n"
        + f"    opening: '{long}'\n"
    )
    too_long = [lint for lint in lint_plan(plan, NOW) if lint.code == "too-long"]
    assert len(too_long) == 1  # 299 characters: over X's 280, within Mastodon's 500
    assert "local:x" in too_long[0].message


def test_a_per_platform_override_is_linted_where_it_goes() -> None:
    plan = parse_plan(
        HEAD
        + "    platforms:\n      local:x: {}\n      local:mastodon:\n"
        + "        closing: 'Bye, no tag here'\n"
    )
    lints = [lint for lint in lint_plan(plan, NOW) if lint.code == "no-hashtag"]
    assert [lint.message for lint in lints] == ["the closing text does not carry #AskAcme"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("    platforms: [x, bluesky]\n", "expected a mapping of platform names"),
        ("    platforms: {}\n", "expected a mapping of platform names"),
        ("    platforms: {twitterz: {}}\n", "unknown platform 'twitterz'"),
        ("    platform: local\n    platforms: {local:x: {}}\n", "either `platform:`"),
        ("    platforms: {local:x: 3}\n", "expected the local:x settings as a mapping"),
        ("    platforms: {local:x: {acount: '@a'}}\n", "acount"),
        ("    platforms: {local:x: {account: 'not a handle!'}}\n", "is not a handle"),
        ("    platforms: {local:x: {hashtag: 'no tag'}}\n", "hashtag"),
        (
            "    platforms: {local:x: {announcements: {-9d: 'hi {hashtag}'}}}\n",
            "no announcement at -9d",
        ),
        ("    platforms: {local:x: {opening: 'hi {hashtagg}'}}\n", "hashtagg"),
    ],
)
def test_a_bad_platforms_map_is_a_one_line_error_with_its_line(body: str, says: str) -> None:
    found = problems(HEAD + body)
    assert any(says in str(p) for p in found), [str(p) for p in found]
    for problem in found:
        assert "\n" not in str(problem) and problem.line is not None and problem.line >= 5


def test_platform_ranking_weights_are_checked() -> None:
    session = parse_plan(HEAD + "    ranking: {platform: {bluesky: 1.2}}\n").sessions[0]
    assert session.ranking.platform == {"bluesky": 1.2}
    found = problems(HEAD + "    ranking: {platform: {bluesky: -1}}\n")
    assert "must be a number above 0" in str(found[0])


def test_the_example_multi_plan_loads_without_warnings_but_the_ones_it_means() -> None:
    from qasession.plan import load_plan

    plan = load_plan(ROOT / "examples" / "multi" / "sessions.yaml")
    session = plan.sessions[0]
    assert session.platform_names == ["local:x", "local:bsky", "local:mastodon"]
    codes = {lint.code for lint in lint_plan(plan, NOW)}
    assert not codes & {"too-long", "no-hashtag", "no-mention-ask"}
