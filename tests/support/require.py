"""What a test needs from outside the checkout (recorded fixtures, a browser): on a developer's
machine, a missing one skips the test and says why; under CI (CI=true) it fails the test, since
there a missing fixture or tool is a broken set-up that would otherwise pass unseen."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from tests.conftest import ROOT


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def shared_dir() -> Path:
    """The project's shared/ folder: beside the checkout, as CI lays it, or $QA_SHARED_DIR."""
    return Path(os.environ.get("QA_SHARED_DIR") or ROOT.parent / "shared")


def require(path: Path, what: str, *, hint: str = "", opt_out: str | None = None) -> Path:
    """`path`, which the calling test (or fixture) needs: skip, or under CI fail, when it does
    not exist. With `opt_out`, the name of an environment variable, a run can go without it on
    purpose: when that variable is set, the test is skipped, in CI too, and says so."""
    if path.exists():
        return path
    if opt_out and os.environ.get(opt_out):
        pytest.skip(f"{what}: not checked, {opt_out} is set")
    unavailable(f"missing {what}: no {path}" + (f" ({hint})" if hint else ""))


def unavailable(message: str) -> NoReturn:
    """Something a test needs is missing (a fixture, a tool, a server): skip, or fail under CI."""
    if in_ci():
        pytest.fail(f"{message}; with CI=true this fails instead of skipping", pytrace=False)
    pytest.skip(message)
