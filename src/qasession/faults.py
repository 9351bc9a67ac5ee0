"""Crash points for the crash tests: `QA_CRASH_AT=name:N` kills the process (SIGKILL) the Nth
time it passes the point `name`. Unset in normal use, where a point costs one dict lookup."""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}
_target = os.environ.get("QA_CRASH_AT", "")


def crash_point(name: str) -> None:
    if not _target:
        return
    point, _, nth = _target.partition(":")
    if point != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
