"""The test helpers can fail: each check of tests/support/inert.py catches what it names, JSON
is checked decoded, and tests/support/require.py skips or fails as it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.inert import assert_inert, assert_json_inert
from tests.support.require import require

LEFT = [
    ("ESC", "\x1b"),
    ("C0 control", "\x00"),
    ("C0 control", "\x07"),
    ("C0 control", "\r"),
    ("C0 control", "\x0b"),
    ("DEL", "\x7f"),
    ("C1 control", "\x85"),
    ("C1 control", "\x9b"),
    ("bidi control", "\u202e"),
    ("bidi control", "\u2066"),
    ("bidi control", "\u200f"),
    ("bidi control", "\u061c"),
    ("zero-width character", "\u200b"),
    ("zero-width character", "\u2060"),
    ("zero-width character", "\ufeff"),
]


@pytest.mark.parametrize(("check", "char"), LEFT, ids=[repr(c) for _, c in LEFT])
def test_each_check_catches_its_character(check: str, char: str) -> None:
    with pytest.raises(AssertionError, match=f"^{check} "):
        assert_inert(f"a question{char}? #AskAcme")


def test_text_newlines_and_tabs_pass() -> None:
    assert_inert("line one\nline two\tTabbed, é, 中文, 🥁, │ box ─ drawing, [red]literal[/red]")


@pytest.mark.parametrize(("check", "char"), LEFT, ids=[repr(c) for _, c in LEFT])
def test_json_is_checked_decoded(check: str, char: str) -> None:
    document = json.dumps([{"id": "1", "author": {"name": f"evil{char}"}}])  # ASCII: \\uXXXX
    assert char not in document  # a look at the raw text would see nothing
    with pytest.raises(AssertionError, match=rf"^{check} .*\[0\]\['author'\]\['name'\]"):
        assert_json_inert(document)


def test_json_keys_and_lines_are_checked() -> None:
    with pytest.raises(AssertionError, match=r"^bidi control .* the key of"):
        assert_json_inert(json.dumps({"ok": 1, "\u202eevil": 2}))
    lines = json.dumps({"event": "started"}) + "\n" + json.dumps({"text": "\x1b[2J"}) + "\n"
    with pytest.raises(AssertionError, match=r"^ESC .* line 2 \['text'\]"):
        assert_json_inert(lines, lines=True)
    assert_json_inert(json.dumps({"event": "started", "text": "fine\n"}))


def test_json_without_strings_checks_nothing_and_says_so() -> None:
    with pytest.raises(AssertionError, match="nothing was checked"):
        assert_json_inert("[]")


# -- require ----------------------------------------------------------------------------------


def test_require_returns_what_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert require(tmp_path, "a folder") == tmp_path


def test_require_skips_outside_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"missing the recordings: no .*nowhere"):
        require(tmp_path / "nowhere", "the recordings", hint="shared/")


@pytest.mark.parametrize("ci", ["true", "1", "TRUE"])
def test_require_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="with CI=true this fails instead of skipping"):
        require(tmp_path / "nowhere", "the recordings")


def test_require_skips_when_opted_out_even_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("QA_NO_THING", "1")
    with pytest.raises(pytest.skip.Exception, match="QA_NO_THING is set"):
        require(tmp_path / "nowhere", "the thing", opt_out="QA_NO_THING")
    monkeypatch.setenv("QA_NO_THING", "")
    with pytest.raises(pytest.fail.Exception):
        require(tmp_path / "nowhere", "the thing", opt_out="QA_NO_THING")
