"""The test helpers do what they say: tests/support/require.py skips, or fails under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.require import require


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
