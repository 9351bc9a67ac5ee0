"""Clocks: the real one, and a virtual one that runs N times faster for rehearsals."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the core asks of time: the current instant (UTC, aware) and a way to wait."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Virtual time that starts at `virtual_anchor` when real time is `real_anchor` and then
    runs `speed` times faster. Anchors are stored, so a restarted process resumes the same
    virtual timeline."""

    def __init__(self, virtual_anchor: datetime, real_anchor: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.virtual_anchor = virtual_anchor
        self.real_anchor = real_anchor
        self.speed = speed

    def now(self) -> datetime:
        elapsed = datetime.now(UTC) - self.real_anchor
        return self.virtual_anchor + elapsed * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


class ManualClock:
    """A clock tests move by hand; `sleep` advances it instantly."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
