"""The plan and the rest of the tool: `platform:` against the registry (plug-ins included),
each adapter's settings validated by its own model; the ranking's weights; sensitive patterns."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qasession import triage
from qasession.errors import ExitCode, PlanError
from qasession.plan import lint_plan, parse_plan, ranking_defaults, render_init
from qasession.session.loop import weights_for
from tests.conftest import ROOT

NOW = datetime(2026, 11, 1, tzinfo=UTC)
HEAD = "sessions:\n  - hashtag: '#AskAcme'\n    start: 2026-12-03 18:00\n"


@pytest.fixture(autouse=True)
def _paris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")


def problems(text: str) -> list[PlanError]:
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    found: list[PlanError] = getattr(info.value, "errors", [info.value])
    assert all(each.exit_code == ExitCode.BAD_PLAN for each in found)
    return found


# -- a third-party adapter, registered through the entry point ---------------------------


@pytest.fixture
def fakebook(monkeypatch: pytest.MonkeyPatch) -> None:
    """`fakebook` registered under the `qasession.platforms` entry point, as an installed
    package would register it."""
    real = importlib.metadata.entry_points
    point = importlib.metadata.EntryPoint(
        name="fakebook",
        value="tests.support.fakebook:FakebookPlatform",
        group="qasession.platforms",
    )

    def entry_points(**selection: Any) -> Sequence[importlib.metadata.EntryPoint]:
        found = list(real(**selection))
        if selection.get("group") == "qasession.platforms":
            found.append(point)
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_an_unknown_platform_lists_the_known_ones() -> None:
    (err,) = problems(HEAD + "    platform: mastodn\n")
    assert (err.line, err.column, err.field) == (4, 15, "sessions[0].platform")
    assert err.message == "unknown platform 'mastodn'; known: local, x, mastodon, bluesky"
    assert err.hint == "did you mean 'mastodon'?"
    (err,) = problems(HEAD + "    platform: X\n")
    assert err.hint == "names are lowercase: 'x'"


@pytest.mark.usefixtures("fakebook")
def test_a_plugin_adapter_can_be_named_and_its_settings_validated() -> None:
    plan = parse_plan(HEAD + "    platform: fakebook\n    fakebook: {page: 3, region: us}\n")
    session = plan.sessions[0]
    assert session.platform == "fakebook"
    assert session.platform_settings == {"page": 3, "region": "us"}
    assert session.platform_settings_line == 5
    # its declared length limit (100, counted in characters) is what the lints use
    found = [lint for lint in lint_plan(plan, NOW) if lint.code == "too-long"]
    assert found and all("too long for fakebook" in lint.message for lint in found)


@pytest.mark.usefixtures("fakebook")
def test_a_plugin_adapter_passes_the_contract_through_the_registry(tmp_path: Path) -> None:
    from qasession.platforms import registry
    from tests.contract import Harness, check_contract
    from tests.support import fakebook

    assert "fakebook" in registry.names()
    adapter = registry.create("fakebook", {"page": 4}, home=tmp_path, account="@acme")
    assert adapter.capabilities.max_length == 100 and not adapter.capabilities.quote

    def fail_next(fault: str) -> bool:
        fakebook.NETWORK.faults.append(fault)
        return True

    check_contract(
        Harness(adapter, lambda a, t: fakebook.NETWORK.add(a, t), fail_next, page_size=4)
    )


@pytest.mark.usefixtures("fakebook")
def test_a_plugins_bad_settings_are_file_line_errors() -> None:
    found = problems(
        HEAD + "    platform: fakebook\n    fakebook:\n      page: 0\n      colour: red\n"
    )
    assert [(e.line, e.field) for e in found] == [
        (6, "sessions[0].fakebook.page"),
        (7, "sessions[0].fakebook.colour"),
    ]
    assert found[0].message == "expected a number of at least 1, got a number (0)"
    assert found[1].message == "unknown key 'colour'" and "page, region" in (found[1].hint or "")


@pytest.mark.usefixtures("fakebook")
def test_a_plugins_section_is_allowed_under_its_own_name_only() -> None:
    plan = parse_plan(HEAD + "    fakebook: {page: 2}\n")  # set up for later, still local
    assert plan.sessions[0].platform == "local"
    (err,) = problems(HEAD + "    fakebok: {page: 2}\n")
    assert err.message == "unknown key 'fakebok'" and err.hint == "did you mean 'fakebook'?"


def test_without_the_plugin_its_section_is_an_unknown_key() -> None:
    (err,) = problems(HEAD + "    fakebook: {page: 2}\n")
    assert err.field == "sessions[0].fakebook" and err.message == "unknown key 'fakebook'"
    (err,) = problems(HEAD + "    platform: fakebook\n")
    assert err.message.startswith("unknown platform 'fakebook'; known: local, x")


@pytest.mark.usefixtures("fakebook")
def test_qa_plan_shows_a_plugin_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from qasession.cli import main

    start = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%d 18:00")
    path = tmp_path / "sessions.yaml"
    path.write_text(
        f"sessions:\n  - {{hashtag: '#AskAcme', start: {start}, platform: fakebook}}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys, "argv", ["qa", "plan", "--json", "-f", str(path)])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr()
    assert info.value.code == 0, out.err
    assert '"max_length": 100' in out.out and '"too-long"' in out.out


def test_builtin_settings_are_validated_by_each_adapter() -> None:
    found = problems(
        "defaults:\n  x: {timeout: -1}\nsessions:\n"
        "  - {hashtag: '#AskAcme', start: 2026-12-03 18:00, local: {max_length: 5}}\n"
        "  - {hashtag: '#AskAcme', start: 2026-12-04 18:00, x: {mentions: maybe}}\n"
    )
    assert [(e.line, e.field) for e in found] == [
        (2, "defaults.x.timeout"),
        (4, "sessions[0].local.max_length"),
        (5, "sessions[1].x.mentions"),
    ]


def test_settings_sections_must_be_mappings() -> None:
    (err,) = problems(HEAD + "    platform: x\n    x: basic\n")
    assert (err.line, err.column, err.field) == (5, 8, "sessions[0].x")
    assert err.message == "expected a mapping (key: value lines), got text ('basic')"


def test_render_init_knows_the_registered_platforms() -> None:
    assert "platform: x" in render_init(platform="x", now=NOW)
    with pytest.raises(Exception, match="unknown platform 'twitter'"):
        render_init(platform="twitter", now=NOW)


# -- ranking: one set of weights ----------------------------------------------------------


def readme_ranking() -> dict[str, float]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^\s*ranking: \{([^}]*)\}", readme, re.MULTILINE)
    assert match, "the README's plan section shows `ranking: {...}`"
    pairs = (item.split(":") for item in match.group(1).split(","))
    return {name.strip(): float(value) for name, value in pairs}


def test_the_readme_shows_every_weight_with_the_rankings_defaults() -> None:
    weights = triage.Weights()
    assert readme_ranking() == ranking_defaults()
    assert ranking_defaults()["age"] == weights.age_per_minute
    assert ranking_defaults()["pinned"] == weights.pinned


def test_a_plan_without_ranking_ranks_a_pinned_question_with_the_documented_weight() -> None:
    session = parse_plan(HEAD).sessions[0]
    weights = weights_for(session)
    assert weights == triage.Weights() == session.ranking.weights()
    asked = datetime(2026, 12, 3, 17, 5, tzinfo=UTC)
    plain = triage.QuestionFeatures("1", 0, 0, 0, False, asked)
    pinned = triage.QuestionFeatures("2", 0, 0, 0, False, asked, pinned=True)
    now = asked + timedelta(minutes=10)
    gain = triage.score(pinned, weights, now) - triage.score(plain, weights, now)
    assert gain == readme_ranking()["pinned"]
    assert [q.id for _, q in triage.rank([plain, pinned], weights, now)] == ["2", "1"]


def test_ranking_accepts_every_weight_the_ranking_uses() -> None:
    text = HEAD + "    ranking: {pinned: 50, sensitive: -5, troll: -100, age_per_minute: -0.2}\n"
    session = parse_plan(text).sessions[0]
    weights = weights_for(session)
    assert (weights.pinned, weights.sensitive, weights.troll) == (50, -5, -100)
    assert weights.age_per_minute == -0.2 and weights.likes == triage.Weights().likes
    (err,) = problems(HEAD + "    ranking: {age: -1, age_per_minute: -1}\n")
    assert err.message == "'age' and 'age_per_minute' are the same weight"
    (err,) = problems(HEAD + "    ranking: {pined: 5}\n")
    assert err.hint == "did you mean 'pinned'?"


def test_the_init_template_shows_every_weight_with_its_default() -> None:
    text = render_init(now=NOW)
    for name, value in ranking_defaults().items():
        assert re.search(rf"^      {name}: {value:g}\b", text, re.MULTILINE), name
    assert parse_plan(text).sessions[0].ranking.weights() == triage.Weights()


# -- sensitive patterns, with what they find ---------------------------------------------


def test_sensitive_patterns_take_a_regex_or_a_regex_with_its_label() -> None:
    text = HEAD + (
        "    sensitive_patterns:\n"
        "      - 'CUST-\\d{6}'\n"
        "      - {pattern: 'C-\\d{8}', label: contract number}\n"
    )
    session = parse_plan(text).sessions[0]
    assert session.sensitive_patterns == [
        (r"CUST-\d{6}", "private data"),
        (r"C-\d{8}", "contract number"),
    ]
    assert session.sensitive_patterns[1].label == "contract number"
    patterns = triage.compile_patterns(session.sensitive_patterns)
    masked, changed = triage.mask_private("My contract is C-12345678, help", patterns)
    assert changed and masked == "My contract is [contract number removed], help"


def test_bad_sensitive_patterns() -> None:
    found = problems(
        HEAD + "    sensitive_patterns:\n"
        "      - {pattern: 'C-(', label: x}\n"
        "      - {label: contract}\n"
        "      - {pattern: 'a', label: ''}\n"
        "      - {pattern: 'a', labl: x}\n"
    )
    assert [(e.line, e.field) for e in found] == [
        (5, "sessions[0].sensitive_patterns[0].pattern"),
        (6, "sessions[0].sensitive_patterns[1].pattern"),
        (7, "sessions[0].sensitive_patterns[2].label"),
        (8, "sessions[0].sensitive_patterns[3].labl"),
    ]
    assert "bad regular expression" in found[0].message
    assert found[1].message == "missing required key 'pattern'"
    assert "1 to 60 characters" in found[2].message
    assert found[3].hint == "did you mean 'label'?"


def test_the_init_template_shows_a_labelled_pattern() -> None:
    assert "label: contract number" in render_init(now=NOW)
